"""The report's content (sim.studies.content): every number of a report, computed from a run, before any rendering."""

import numpy as np
import pytest

import sim
from sim.analysis import decision as da
from sim.errors import SimError
from sim.studies.content import MAX_PANELS, focus_of

from ..helpers import ROOT


@pytest.fixture(scope="module")
def content(search_experiment):
    ds = sim.run(search_experiment, samples=4000, seed=2)
    return ds, sim.report_content(search_experiment, ds, sobol_n=64)


def test_the_content_is_the_analyses_of_the_run(content):
    """Decision measures, verdicts and the scenario comparison are the analyses of the same samples."""
    ds, c = content
    assert (c.focus.output, c.focus.threshold) == ("cost_per_query", "revenue_per_query")
    assert c.scenarios == ["baseline", "gpt35_turbo_2023", "market_2026"] and not c.streamed
    expected = da.decide(ds, evppi_samples=c.estimate_samples)
    np.testing.assert_array_equal(c.decision["p_profitable"].values, expected["p_profitable"].values)
    assert len(c.verdicts) == 6  # three scenarios by two architectures
    cell, verdict = c.verdicts[0]
    assert verdict == da.verdict(c.summary, "cost_per_query", "revenue_per_query", cell, c.decision)
    row = c.comparison.query("scenario == 'market_2026' and architecture == 'two_stage'")
    at = {"architecture": "two_stage"}
    diff = (ds["cost_per_query"].sel(scenario="market_2026", **at) - ds["cost_per_query"].sel(scenario="baseline", **at))
    assert row["paired_difference_p50"].item() == pytest.approx(float(np.quantile(diff, 0.5)), rel=1e-12)
    assert row["p_below_baseline"].item() == float((diff < 0).mean())


def test_the_drivers_and_the_convergence(content):
    ds, c = content
    drivers = c.drivers
    assert drivers.sobol_n == 64 and (drivers.low, drivers.high) == (0.1, 0.9)
    assert set(drivers.tornado["input"].values) == set(c.drawn) and len(c.drawn) == 15
    assert drivers.rank is not None and drivers.target is not None
    cell, estimates = c.convergence
    # the cell whose decision is closest to a coin toss
    p = {s: float(c.decision["p_profitable"].sel(scenario=s, architecture=a)) for s in c.scenarios
         for a in ("chatgpt_equivalent", "two_stage") if (cell["scenario"], cell["architecture"]) == (s, a)}
    assert len(p) == 1
    others = [abs(float(v) - 0.5) for v in c.decision["p_profitable"].values.ravel()]
    assert abs(next(iter(p.values())) - 0.5) == min(others)
    last = estimates["estimate"].isel(n=-1).sel(stat="mean", scenario=cell["scenario"])
    assert float(last) == pytest.approx(float(ds["cost_per_query"].sel(cell).mean()), rel=1e-12)


def test_without_sensitivity_or_samples_the_content_says_so(search_experiment):
    ds = sim.run(search_experiment, samples=500, seed=1)
    c = sim.report_content(search_experiment, ds, sensitivity=False)
    assert c.drivers is None and c.sensitivity is False and c.drawn
    streamed = sim.stream_summary(search_experiment, samples=2000)
    s = sim.report_content(search_experiment, None, summary=streamed, sensitivity=False)
    assert s.streamed and s.decision is None and s.convergence is None and "paired_difference_p50" not in s.comparison
    assert s.verdicts and all(v.settle is None for _, v in s.verdicts)  # no EVPPI without samples


def test_the_focus_keeps_at_most_a_dozen_panels_and_the_final_year():
    training = sim.load_experiment(ROOT / "experiments" / "training_cost.toml")
    point = sim.point(training)
    focus = focus_of(training, point, None, None)
    assert len(focus.panels) <= MAX_PANELS and focus.notes
    trajectory = sim.load_experiment(ROOT / "experiments" / "trajectory.toml")
    focus = focus_of(trajectory, sim.point(trajectory), None, None)
    assert focus.fixed["year"] == 2030 and "the final year, 2030" in focus.notes[-1]
    with pytest.raises(SimError, match=r"^--select: training_cost has no dim 'year'; valid: model, hardware$"):
        focus_of(training, point, None, [("year", "2030")])


def test_a_lazily_read_run_gives_the_content_of_the_run_in_memory(search_experiment, tmp_path):
    """`sim report` reads the saved run lazily (the outputs it shows whole, the rest in part): every number of the
    content is the one the run in memory gives."""
    import xarray as xr

    from sim import store
    from sim.analysis.summary import summarize_run
    from sim.report import summary_table
    from sim.studies.content import report_content

    ds = sim.run(search_experiment, samples=3000)
    summary = summarize_run(ds)
    store.write_run(search_experiment, tmp_path, summary, summary_table(summary), samples=ds)
    _, lazy = store.load_run(search_experiment, tmp_path, lazy=True)
    with lazy:
        a, b = (report_content(search_experiment, run, summary=summary, sobol_n=64, estimate_samples=1000)
                for run in (ds, lazy))
    xr.testing.assert_identical(a.decision, b.decision)
    xr.testing.assert_identical(a.samples, b.samples)
    xr.testing.assert_identical(a.acceptability, b.acceptability)
    xr.testing.assert_identical(a.revenue_median, b.revenue_median)
    for name in ("rank", "rank_net_benefit", "target", "tornado", "sobol"):
        xr.testing.assert_identical(getattr(a.drivers, name), getattr(b.drivers, name))
    assert a.comparison.equals(b.comparison) and a.convergence[0] == b.convergence[0]
    xr.testing.assert_identical(a.convergence[1], b.convergence[1])
