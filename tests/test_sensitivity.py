"""Sensitivity and decision analysis: analytic references, brute force and the CLI."""

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import sim
from sim.analysis import decision as da
from sim.analysis import sensitivity as sa
from sim.studies import decision as sd
from sim.studies import sensitivity as ss
from sim.studies.sensitivity import _bootstrap
from sim.cli import main as cli_main
from sim.errors import SimError

from .conftest import write


def ishigami(u):
    x = -np.pi + 2 * np.pi * u
    return (np.sin(x[0]) + 7 * np.sin(x[1]) ** 2 + 0.1 * x[2] ** 4 * np.sin(x[0]))[None]


def test_ishigami_indices_within_bootstrap_intervals():
    res = ss.sobol_arrays(ishigami, 3, 2**13, rng=np.random.default_rng(2024), n_resamples=500)
    first, total = [0.3139, 0.4424, 0.0], [0.5576, 0.4424, 0.2437]  # analytic (a = 7, b = 0.1)
    for key, truth in (("first_order", first), ("total_order", total)):
        lo, hi = res[f"{key}_ci"][0].T
        assert np.all((lo <= truth) & (truth <= hi)), (key, res[key], lo, hi)
    # the first-order indices of a model with interactions sum to less than 1; 0.02 covers their estimation error
    assert res["first_order"].sum() <= 1 + 0.02


def test_one_input_one_output_has_indices_of_one():
    """One input explains all the variance (first and total order 1, analytic); scipy's estimator alone fails on a
    single input and output, which sobol_arrays works around."""
    res = ss.sobol_arrays(lambda u: np.exp(u[:1]), 1, 2**12, rng=np.random.default_rng(3), n_resamples=200)
    for key in ("first_order", "total_order"):
        lo, hi = res[f"{key}_ci"][0, 0]
        assert res[key].shape == (1, 1) and lo <= 1.0 <= hi, (key, res[key], lo, hi)


def test_vectorised_bootstrap_is_scipys_estimator_on_resampled_rows():
    rng = np.random.default_rng(5)
    d, s, n = 3, 2, 256
    f_A, f_B, f_AB = rng.normal(size=(s, n)), rng.normal(size=(s, n)), rng.normal(size=(d, s, n)) + 0.5
    first, total = _bootstrap(f_A, f_B, f_AB, rng=np.random.default_rng(9), n_resamples=3, max_bytes=2**30)
    idx_rng = np.random.default_rng(9)
    idx = idx_rng.integers(0, n, size=(3, n))
    for k in range(3):
        i = idx[k]
        r = stats.sobol_indices(func={"f_A": f_A[:, i], "f_B": f_B[:, i], "f_AB": f_AB[..., i]}, n=n)
        np.testing.assert_allclose(first[k], r.first_order, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(total[k], r.total_order, rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def search_run(search_experiment):
    return sim.run(search_experiment)


def test_one_run_first_order_agrees_with_sobol(search_experiment, search_run):
    """Within 0.03 on the article's priors (the baseline and gpt-3.5 scenarios).

    market_2026's lognormal price spans 30x in its 90 % interval; there the variance, and so both
    estimates, rest on a few extreme draws and differ by up to 0.04 at these sizes.
    """
    s = ss.sobol(search_experiment, "cost_per_query", n=2**14)
    g = sa.first_order_given(search_run, "cost_per_query")
    cells = {"scenario": ["baseline", "gpt35_turbo_2023"]}
    diff = abs(s["first_order"].sel(cells) - g.sel(cells))
    assert float(diff.max()) < 0.03
    assert s["first_order"].dims == ("scenario", "architecture", "input")
    assert s["first_order_ci"].dims == ("scenario", "architecture", "input", "ci_bound")
    # priors fixed in a scenario explain nothing there
    assert float(abs(s["first_order"].sel(scenario="baseline", input="api_price_per_1k_tokens")).max()) == 0.0
    assert (s["total_order"] >= s["first_order"] - 0.02).all()


def test_sobol_refuses_correlated_priors(project):
    text = (project / "experiments" / "search_cost.toml").read_text()
    path = write(project / "experiments" / "c.toml", text.replace(
        "[scenarios.baseline]", '[correlations]\npairs = [["cache_hit_rate", "provider_gross_margin", 0.5]]\n\n'
                                "[scenarios.baseline]"))
    with pytest.raises(SimError, match=r"Sobol' indices are not defined in the usual sense for correlated priors "
                                       r"\(cache_hit_rate ~ provider_gross_margin\)"):
        ss.sobol(sim.load_experiment(path), "cost_per_query")


def _synthetic(x: dict, y: np.ndarray) -> xr.Dataset:
    ds = xr.Dataset({k: xr.DataArray(v, dims=("sample",), attrs={"role": "input"}) for k, v in x.items()})
    ds["y"] = xr.DataArray(y, dims=("sample",), attrs={"role": "output"})
    return ds


def test_given_data_first_order_on_a_linear_model():
    """y = x1 + 2 x2 with independent uniforms: S1 = 1/5 and 4/5, x3 (unused) 0; sd of the estimates ~0.005."""
    rng = np.random.default_rng(1)
    x = {f"x{i}": rng.random(100_000) for i in (1, 2, 3)}
    ds = _synthetic(x, x["x1"] + 2 * x["x2"])
    g = sa.first_order_given(ds, "y")
    np.testing.assert_allclose(g.values, [0.2, 0.8, 0.0], atol=0.01)
    r = sa.rank_correlation(ds, "y")
    for name in x:
        assert float(r.sel(input=name)) == pytest.approx(stats.spearmanr(x[name], ds["y"])[0], abs=1e-12)


def test_centred_ranks_are_rankdatas_with_or_without_ties():
    """The tie-free fast path and rankdata's average ranks agree exactly: continuous draws, ties (a discrete prior),
    a NaN (rankdata's propagated NaN) and a constant row."""
    from sim.analysis._array import centred_ranks

    rng = np.random.default_rng(7)
    for x in (rng.lognormal(size=(2, 3, 5000)), rng.integers(0, 4, size=(3, 200)).astype(float),
              np.array([[1.0, np.nan, 2.0], [3.0, 3.0, 3.0]]), np.array([2.0])):
        ranks = stats.rankdata(x, axis=-1)
        np.testing.assert_array_equal(centred_ranks(x), ranks - ranks.mean(axis=-1, keepdims=True))


def test_rank_correlation_matches_scipy_on_the_search_run(search_run):
    r = sa.rank_correlation(search_run, "cost_per_query")
    cell = dict(scenario="baseline", architecture="two_stage")
    y = search_run["cost_per_query"].sel(cell)
    for name in ("provider_gross_margin", "section_words", "results_k"):
        assert float(r.sel(**cell, input=name)) == pytest.approx(stats.spearmanr(search_run[name], y)[0], abs=1e-12)


def test_tornado_swings_are_the_equations(search_experiment):
    t = ss.tornado(search_experiment, "cost_per_query", low=0.1, high=0.9)
    base = sim.point(search_experiment)["cost_per_query"]
    margin = search_experiment.base_priors["provider_gross_margin"]
    lo, hi = margin.ppf(np.array([0.1, 0.9]))
    # cost is proportional to (1 - margin): the ends are the point cost rescaled
    expected_low = base * (1 - lo) / (1 - margin.point)
    np.testing.assert_allclose(t["low"].sel(input="provider_gross_margin"), expected_low, rtol=1e-12)
    np.testing.assert_allclose(t["high"].sel(input="provider_gross_margin"), base * (1 - hi) / (1 - margin.point),
                               rtol=1e-12)
    assert t.attrs["order"][0] == "provider_gross_margin"
    np.testing.assert_array_equal(t["swing"].sel(scenario="baseline", input="api_price_per_1k_tokens"), 0.0)
    with pytest.raises(ValueError, match=r"the low percentile must lie in \(0, 1\), got 0"):
        ss.tornado(search_experiment, "cost_per_query", low=0)
    spider = ss.one_at_a_time(search_experiment, "cost_per_query", (0.25, 0.5, 0.75))
    assert spider["value"].dims == ("scenario", "architecture", "input", "percentile")
    # the spider is monotone in a prior that enters monotonically
    v = spider["value"].sel(input="section_words", scenario="baseline", architecture="two_stage").values
    assert np.all(np.diff(v) > 0)


def test_target_region_finds_the_driver():
    rng = np.random.default_rng(4)
    x = {"x1": rng.normal(size=50_000), "x2": rng.normal(size=50_000)}
    ds = _synthetic(x, x["x1"])
    t = sa.target_region(ds, "y", 0.0)
    assert float(t["share"]) == pytest.approx(0.5, abs=0.01)
    assert float(t["ks_distance"].sel(input="x1")) == 1.0  # the region is x1 > 0: no overlap
    # medians of the half-normals, +-0.674, apart by 1.349 sd
    assert float(t["median_shift"].sel(input="x1")) == pytest.approx(2 * stats.norm.ppf(0.75), abs=0.03)
    assert float(t["ks_distance"].sel(input="x2")) < 0.03
    with pytest.raises(SimError, match="unknown threshold variable 'nope'"):
        sa.target_region(ds, "y", "nope")


# --- decisions ------------------------------------------------------------------

def _nested_evppi(rng, n_outer=2000, n_inner=2000):
    """Brute force: EVPPI(t1) = E_t1[max(E[NB | t1], 0)] - max(E[NB], 0), inner expectation by Monte Carlo."""
    t1 = rng.normal(size=n_outer)
    inner = rng.lognormal(0.0, 0.5, size=(n_outer, n_inner))
    nb = np.exp(0.5 * t1)[:, None] * inner - 1.3
    cond = nb.mean(axis=1)
    return np.maximum(cond, 0).mean() - max(cond.mean(), 0.0)


def test_evppi_against_nested_monte_carlo():
    """NB = exp(t1 / 2) * t2 - 1.3 with t1 ~ N(0, 1), t2 ~ LN(0, 0.5), and an input t3 that NB ignores."""
    rng = np.random.default_rng(8)
    n = 100_000
    t1, t2, t3 = rng.normal(size=n), rng.lognormal(0.0, 0.5, size=n), rng.normal(size=n)
    ds = _synthetic({"t1": t1, "t2": t2, "t3": t3}, np.exp(0.5 * t1) * t2)
    ds["r"] = xr.DataArray(np.full(n, 1.3), dims=("sample",), attrs={"role": "output"})
    nb = da.net_benefit(ds, cost="r", revenue="y")
    evppi = da.evppi(ds, nb)
    evpi = float(da.evpi(nb))
    brute = _nested_evppi(np.random.default_rng(9))
    assert float(evppi.sel(input="t1")) == pytest.approx(brute, rel=0.10)
    assert abs(float(evppi.sel(input="t3"))) < 0.02 * evpi  # cannot change the decision
    assert (evppi <= evpi + 1e-12).all()


def test_decide_on_the_search_run(search_run):
    d = da.decide(search_run)
    cell = dict(scenario="baseline", architecture="two_stage")
    cost, revenue = search_run["cost_per_query"].sel(cell), search_run["revenue_per_query"].sel(scenario="baseline")
    nb = revenue - cost
    assert float(d["expected_net_benefit"].sel(cell)) == pytest.approx(float(nb.mean()), rel=1e-12)
    assert float(d["p_profitable"].sel(cell)) == float((nb > 0).mean())
    assert float(d["evpi"].sel(cell)) == pytest.approx(float(np.maximum(nb, 0).mean() - max(float(nb.mean()), 0)))
    assert (d["evppi"] <= d["evpi"] + 1e-12).all() and (d["evppi"] >= -1e-12).all()
    assert (d["evppi_per_year"] <= d["evpi_per_year"] * (1 + 1e-12)).all()
    # gpt-3.5's chatgpt-equivalent answer is profitable in every sample: nothing to learn
    sure = dict(scenario="gpt35_turbo_2023", architecture="chatgpt_equivalent")
    assert float(d["evpi"].sel(sure)) == 0.0 and float(abs(d["evppi"].sel(sure)).max()) < 1e-15
    lo, hi = d["p_profitable_ci"].sel(cell).values
    assert lo < float(d["p_profitable"].sel(cell)) < hi
    acc = da.acceptability(search_run, values=[0.02, 0.05, 0.1])
    np.testing.assert_array_equal(acc.sel(cell).values, [(cost < v).mean() for v in (0.02, 0.05, 0.1)])


def test_goal_seek_matches_the_direct_answer(search_experiment):
    """P(f * cost < revenue) = 0.9 where f is the 10th percentile of revenue / cost (cost is linear in price)."""
    cell = {"scenario": "baseline", "architecture": "two_stage"}
    r = sd.goal_seek(search_experiment, "api_price_per_1k_tokens", 0.9, how="scale", select=cell, samples=20_000)
    ds = sim.run(search_experiment, samples=20_000)
    ratio = ds["revenue_per_query"].sel(scenario="baseline") / ds["cost_per_query"].sel(cell)
    # the statistic is a step function of f with 20,000 steps: f is found between neighbouring order statistics
    lo, hi = np.quantile(ratio, [0.0995, 0.1005])
    assert lo <= r.value <= hi and r.achieved == pytest.approx(0.9, abs=1e-3)
    # a cost is never negative: no margin in [0, 1] gives a mean cost of -1
    none = sd.goal_seek(search_experiment, "provider_gross_margin", -1.0, stat="mean", select=cell, samples=5000)
    assert none.value is None and none.runs == 2
    assert none.message.startswith("no value of provider_gross_margin in [0, 1] reaches mean of cost_per_query = -1")
    with pytest.raises(SimError, match="api_price_per_1k_tokens is fixed at 0.02 in this scenario"):
        sd.goal_seek(search_experiment, "api_price_per_1k_tokens", 0.9, select=cell)


def test_stress_band_is_the_conditional_distribution(search_experiment):
    s = sd.stress(search_experiment, "provider_gross_margin", (0.0, 0.1), samples=20_000)
    margin = search_experiment.base_priors["provider_gross_margin"]
    ds = sim.run(sd.with_prior(search_experiment, "provider_gross_margin",
                               lambda p: sim.priors.banded(p, 0.0, 0.1)), samples=20_000)
    assert float(ds["provider_gross_margin"].max()) <= float(margin.ppf(0.1))
    cell = dict(scenario="baseline", architecture="two_stage")
    assert float(s["cost_per_query"].sel(**cell, case="band", stat="mean")) == pytest.approx(
        float(ds["cost_per_query"].sel(cell).mean()), rel=1e-12)
    # a lower margin raises the provider's cost, so fewer queries pay
    assert s["p_profitable"].sel(**cell, case="band") < s["p_profitable"].sel(**cell, case="all")


# --- command line -----------------------------------------------------------------

def test_sensitivity_and_decide_commands(project, capsys):
    assert cli_main(["run", "--samples", "4000", "--no-report"]) == 0
    assert cli_main(["sensitivity", "--sobol-n", "1024", "--resamples", "50",
                     "--select", "scenario=baseline"]) == 0
    out = capsys.readouterr().out
    folder = project / "outputs" / "search_cost"
    import pandas as pd

    table = pd.read_csv(folder / "sensitivity" / "sensitivity.csv")
    assert set(table["scenario"]) == {"baseline"}
    assert {"rank_correlation", "first_order_given", "first_order", "total_order", "tornado_swing",
            "region_ks_distance"} <= set(table.columns)
    assert "provider_gross_margin" in out
    saved = xr.open_dataset(folder / "sensitivity" / "sensitivity.nc")
    assert "sobol_first_order" in saved and saved.attrs["output"] == "cost_per_query"
    saved.close()
    assert cli_main(["decide", "--select", "architecture=two_stage",
                     "--stress", "provider_gross_margin", "0", "10"]) == 0
    out = capsys.readouterr().out
    decision = pd.read_csv(folder / "decision" / "decision.csv")
    assert set(decision["architecture"]) == {"two_stage"} and "evpi" in decision
    assert "Stress: provider_gross_margin in its 0th to 10th percentiles" in out


@pytest.mark.parametrize("argv, message", [
    (["sensitivity", "--output", "cost"], "--output: unknown output 'cost'; valid: tokens_per_query"),
    (["sensitivity", "--method", "morris"], "--method: unknown method 'morris'; valid: rank, given"),
    (["sensitivity", "--percentiles", "10,100"], "must be a percentile strictly between 0 and 100, got '100'"),
    (["sensitivity", "--percentiles", "90,10"], "--percentiles: the low percentile must be below the high one"),
    (["sensitivity", "--region", "cost_per_query=1"], "--region must be OUTPUT>THRESHOLD or OUTPUT<THRESHOLD"),
    (["sensitivity", "--region", "cost_per_query>>1"], "--region: threshold '>1' is neither a number nor a variable"),
    (["sensitivity", "--sobol-n", "1000"], r"--sobol-n must be a power of 2 \(such as 16384\), got 1000"),
    (["decide", "--cost", "price"], "--cost: unknown output 'price'; valid:"),
    (["decide", "--stress", "mfu", "0", "10"], "--stress: unknown prior 'mfu'; valid: prompt_words"),
    (["decide", "--stress", "cache_hit_rate", "10", "120"], r"--stress: need 0 <= LOW < HIGH <= 100 \(percent\)"),
    (["decide", "--seek", "cache_hit_rate"], "--seek needs --target"),
    (["decide", "--seek", "cache_hit_rate", "--target", "0.5", "--statistic", "mode"], "unknown statistic 'mode'"),
])
def test_bad_analysis_arguments(project, capsys, argv, message):
    import re

    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("argv, message", [
    (["sensitivity", "--select", "scenario=nope"], "--select: scenario has no value 'nope'; valid: baseline"),
    (["sensitivity", "--select", "year=2030"], "--select: no dim 'year' in the run; valid: scenario"),
    (["decide", "--select", "scenario=nope"], "--select: scenario has no value 'nope'; valid: baseline"),
    (["decide", "--samples", "100"], "--samples: sim decide reads the saved run's samples; make the run you want with "
                                     "`sim run experiments/search_cost.toml --samples 100` first"),
])
def test_selection_is_checked_before_any_analysis(project, capsys, argv, message):
    """--select names a cell of the saved run; a bad one is refused before anything is computed or written."""
    assert cli_main(["run", "--samples", "300", "--no-report"]) == 0
    capsys.readouterr()
    before = sorted(p.name for p in (project / "outputs" / "search_cost").iterdir())
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in (project / "outputs" / "search_cost").iterdir()) == before


@pytest.mark.parametrize("command", ["decide", "sensitivity"])
def test_analysis_without_a_saved_run_names_the_command(project, capsys, command):
    assert cli_main([command, "--out", "elsewhere"]) == 2
    err = capsys.readouterr().err
    assert err.strip().endswith("run `sim run experiments/search_cost.toml --out elsewhere` first"), err
    assert not (project / "elsewhere").exists()
