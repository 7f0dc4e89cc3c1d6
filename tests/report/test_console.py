"""What each command prints (sim.report.console): the rows chosen, compared outputs first, long tables cut."""

import sim
from sim.report import summary_table
from sim.report.console import MAX_ROWS, check_view, models_view, saved_run_source, sensitivity_view, summary_view

from ..helpers import ROOT


def test_the_summary_shows_the_compared_outputs_first_without_their_intervals(search_experiment):
    ds = sim.run(search_experiment, samples=500, seed=1)
    summary = sim.summarize_run(ds)
    text = summary_view(summary_table(summary), summary)
    lines = text.splitlines()
    assert lines[0].split()[:6] == ["output", "units", "scenario", "architecture", "mean", "p05"]
    assert "P(> revenue_per_query)" in lines[0] and "_ci_" not in lines[0] and "se_mean" not in lines[0]
    assert [line.split()[0] for line in lines[1:8]] == ["cost_per_query"] * 6 + ["revenue_per_query"]
    assert len(lines) <= MAX_ROWS + 3


def test_the_sensitivity_view_says_what_was_computed_and_from_what(search_experiment):
    from sim.report.tables import sensitivity_files

    ds = sim.run(search_experiment, samples=500, seed=1)
    result = sim.sensitivity(search_experiment, ds, methods=["rank", "tornado"], select=[("scenario", "baseline")])
    source = saved_run_source("outputs/search_cost/samples.nc", ds.attrs)
    assert source == "from the saved run outputs/search_cost/samples.nc (500 samples, sampler random, seed 1)"
    text = sensitivity_view(search_experiment, result, sensitivity_files(result), source)
    lines = text.splitlines()
    assert lines[0].endswith(f"sensitivity of cost_per_query {source}; methods rank, tornado")
    assert lines[1] == "evaluations of the model beyond the run (15 drawn priors, the run's seed): tornado 31"
    swings = [abs(float(line.split()[-1])) for line in lines[3:18]]  # one cell's rows, largest swing first
    assert swings == sorted(swings, reverse=True)


def test_models_and_check_views():
    text = models_view([(sim.models.MODELS["search"], "")])
    assert text.splitlines()[0].startswith("search: ") and "role: cost" in text
    assert text.splitlines()[1].endswith(", inhouse_factor (units from the priors)")  # a model alone has none
    experiment = sim.load_experiment(ROOT / "experiments" / "trajectory.toml")
    inputs = models_view(sim.api.models([experiment]), [experiment.input_units]).splitlines()[1]
    assert inputs.startswith("  inputs: year (year), base_year (year), ")  # a sweep's unit, then the priors'
    assert "prompt_words (words/query)" in inputs and "mfu_base (fraction)" in inputs
    table = sim.check()
    text = check_view(table)
    assert text.endswith("\n\n30 of 30 figures reproduced within tolerance") and " ok" in text
