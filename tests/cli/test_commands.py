"""The command line end to end, and every bad input's one-line message."""

import shlex

from ..helpers import ROOT, assert_error, cli

AGENT = str(ROOT / "experiments" / "agent_task.toml")

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sim
from sim.cli import main

from ..helpers import ROOT, one_line_error, write


def test_run_writes_netcdf_and_summary(project, capsys):
    code, out, err = cli(capsys, "run", "--samples", "2000", "--seed", "5", "--no-report")
    assert code == 0, err
    folder = project / "outputs" / "search_cost"
    ds = xr.open_dataset(folder / "samples.nc")
    assert ds.attrs["samples"] == 2000 and ds.attrs["seed"] == 5
    # the saved run is the API's run with the same settings
    again = sim.run(sim.load_experiment("experiments/search_cost.toml"), samples=2000, seed=5)
    np.testing.assert_array_equal(ds["cost_per_query"].values, again["cost_per_query"].values)
    summary = pd.read_csv(folder / "summary.csv")
    stats = ["mean", "se_mean", "sd", "p05", "p25", "p50", "p75", "p95"]
    bounds = [f"{s}_ci_{b}" for s in ["mean", "p05", "p25", "p50", "p75", "p95"] for b in ("lower", "upper")]
    p = ["p_gt_revenue_per_query", "p_gt_revenue_per_query_ci_lower", "p_gt_revenue_per_query_ci_upper"]
    assert list(summary.columns) == ["output", "units", "scenario", "architecture", *stats, *bounds, *p]
    row = summary.query("output == 'cost_per_query' and scenario == 'baseline' and architecture == 'two_stage'")
    cost = again["cost_per_query"].sel(scenario="baseline", architecture="two_stage")
    assert row["p50"].item() == pytest.approx(float(cost.median()), rel=1e-9)
    p = float((cost > again["revenue_per_query"].sel(scenario="baseline")).mean())
    assert row["p_gt_revenue_per_query"].item() == pytest.approx(p, abs=1e-12)
    assert len(summary) == 8 * 3 * 2 + 2 * 3  # eight outputs x 3 scenarios x 2 architectures, two x scenario
    assert "cost_per_query" in out and "wrote outputs/search_cost/samples.nc" in out
    assert not list(folder.glob(".*.tmp"))


def test_run_named_experiment_and_out_dir(project, capsys):
    code, _, err = cli(capsys, "run", "search_cost", "--samples", "64", "--sampler", "sobol", "--out", "elsewhere",
                         "--no-report")
    assert code == 0, err
    assert (project / "elsewhere" / "search_cost" / "samples.nc").exists()
    assert not (project / "outputs").exists()


def test_sobol_note_on_stderr(project, capsys):
    code, _, err = cli(capsys, "run", "--samples", "100", "--sampler", "sobol", "--no-report")
    assert code == 0
    assert err.strip() == "sim: warning: Sobol' balance needs a power of 2 samples; 100 is not (nearest: 128)"


def test_point_and_check(project, capsys):
    code, out, _ = cli(capsys, "point")
    assert code == 0 and "0.06557" in out
    code, out, _ = cli(capsys, "check")
    assert code == 0 and "30 of 30 figures reproduced within tolerance" in out


def test_validate_shipped_files(capsys):
    files = sorted(str(p) for p in (ROOT / "priors").glob("*.toml")) + \
        sorted(str(p) for p in (ROOT / "experiments").glob("*.toml"))
    code, out, err = cli(capsys, "validate", *files)
    assert code == 0, err
    assert out.count("ok: ") == len(files)


def test_module_entry_point_and_help(project):
    result = subprocess.run([sys.executable, "-m", "sim", "run", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--samples" in result.stdout
    result = subprocess.run([sys.executable, "-m", "sim", "run", "--samples", "-3"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == ("sim run: error: argument --samples: must be an integer of at least 2 (a standard deviation "
                             "needs two samples), got '-3'\n")


@pytest.mark.parametrize("command", [["--help"], ["run", "nope"], ["report", "nope"], ["run", "--samples", "1"]])
def test_help_and_a_missing_experiment_answer_before_the_numerical_libraries_load(project, command):
    """`sim --help`, a usage error and an experiment file that is not there are answered in a few hundredths of a
    second: without importing numpy, scipy, xarray or pandas (about 1.4 s on the benchmark machine)."""
    code = ("import sys; from sim.cli import main; main(sys.argv[1:]); "
            "print(sorted(m for m in ('numpy', 'scipy', 'xarray', 'pandas') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True)
    assert result.stdout.splitlines()[-1] == "[]", result.stderr


@pytest.mark.parametrize("setting, advised", [(None, False), ("1", True)])
def test_the_command_turns_off_numpys_huge_page_advice_unless_told(setting, advised):
    """The command sets NUMPY_MADVISE_HUGEPAGE=0 before numpy loads (the first touch of a run's memory is cheaper on
    kernels that compact memory for huge pages); a value the user set is kept."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if setting is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = setting
    code = ("from sim.cli import main; main(['--version']); import numpy; "
            "from numpy._core.multiarray import _get_madvise_hugepage; print(_get_madvise_hugepage())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.stdout.splitlines()[-1] == str(advised)


# --- bad input ---------------------------------------------------------------

GOOD_PRIOR = 'dist = "fixed"\npoint = 1\nunit = "1"\nnote = "n"\n'


def experiment_with(project, priors_text, scenarios="[scenarios.baseline]\n", model="search"):
    write(project / "priors" / "extra.toml", priors_text)
    return write(project / "experiments" / "bad.toml",
                 f'model = "{model}"\npriors = ["../priors/seed_2023.toml", "../priors/extra.toml"]\n{scenarios}')


def test_a_bad_file_is_one_line_naming_its_key_and_nothing_is_written(project, capsys):
    """A file's error (sim.priors and sim.experiment test each message) reaches the command line as one line."""
    experiment_with(project, '[priors.x]\ndist = "normal"\nmean = 1\nsd = 0\npoint = 1\nunit = "1"\nnote = "n"\n')
    for argv in (["run", "experiments/bad.toml", "--samples", "10"], ["validate", "priors/extra.toml"],
                 ["validate", "experiments/bad.toml"], ["point", "experiments/bad.toml"]):
        assert one_line_error(capsys, argv) == "sim: error: priors/extra.toml: priors.x.sd: must be > 0, got 0.0"
    assert not (project / "outputs").exists()
    assert one_line_error(capsys, ["run", "nothing"]) == \
        "sim: error: experiments/nothing.toml: experiment file not found"
    assert one_line_error(capsys, ["validate", "nowhere.toml"]) == "sim: error: nowhere.toml: file not found"


def test_failed_run_leaves_earlier_outputs_intact(project, capsys):
    assert cli(capsys, "run", "--samples", "100", "--no-report")[0] == 0
    folder = project / "outputs" / "search_cost"
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    text = (project / "priors" / "seed_2023.toml").read_text().replace("ci90 = [20, 125]", "ci90 = [125, 20]")
    (project / "priors" / "seed_2023.toml").write_text(text)
    code, _, err = cli(capsys, "run", "--samples", "100", "--no-report")
    assert code == 2 and "priors.prompt_words.ci90: must be increasing" in err
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_spider_alone_writes_its_table(saved, capsys):
    """--method spider on its own used to crash on an empty sensitivity table; it writes spider.csv and shows it."""
    assert main(["sensitivity", "--method", "spider", "--spider", "1e-12,50"]) == 0
    out = capsys.readouterr().out
    assert "value_range" in out and "spider.csv" in out
    assert sorted(p.name for p in (saved / "sensitivity").iterdir()) == ["run.json", "sensitivity.nc", "spider.csv"]


def test_an_empty_target_region_is_said(saved, capsys):
    assert main(["sensitivity", "--method", "target", "--region", "cost_per_query>1e9"]) == 0
    assert ("note: target: the region cost_per_query>1e9 holds no sample, or every sample, in 6 of 6 cell(s)"
            in capsys.readouterr().out)


def test_two_samples_run_and_report_without_warnings(project, capsys):
    """Two samples: the report's densities may find no sample inside their range (it said "invalid value")."""
    assert main(["run", "inference_cost", "--samples", "2"]) == 0
    assert capsys.readouterr().err == ""


def test_a_what_if_run_is_written_beside_the_main_run(project, capsys):
    """``--set`` without ``--out`` writes its own folder, said in the first line; the main run stays as it was, and
    every other command reads the what-if with the ``--out`` it names."""
    from ..helpers import listing

    assert main(["run", AGENT, "--samples", "500", "--no-report"]) == 0
    main_run = listing(project / "outputs" / "agent_task")
    capsys.readouterr()
    assert main(["run", AGENT, "--samples", "500", "--no-report", "--set", "cache_hit_rate=35%"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == ("a what-if run (--set cache_hit_rate=0.35): written to outputs/set_cache_hit_rate="
                                   "0.35/agent_task, beside the main run in outputs/agent_task; other commands read it "
                                   "with --out outputs/set_cache_hit_rate=0.35")
    assert err == "" and listing(project / "outputs" / "agent_task") == main_run
    ds = xr.load_dataset(project / "outputs" / "set_cache_hit_rate=0.35" / "agent_task" / "samples.nc")
    assert np.all(ds["cache_hit_rate"].values == 0.35)
    assert main(["decide", AGENT, "--out", "outputs/set_cache_hit_rate=0.35"]) == 0
    assert (project / "outputs" / "set_cache_hit_rate=0.35" / "agent_task" / "decision" / "decision.csv").is_file()


def test_set_pins_a_prior_in_every_scenario_and_is_recorded(tmp_path, capsys):
    out = str(tmp_path)
    assert main(["run", AGENT, "--samples", "2000", "--set", "cache_hit_rate=0.5", "--no-sensitivity", "--out", out]) == 0
    capsys.readouterr()
    folder = tmp_path / "agent_task"
    ds = xr.open_dataset(folder / "samples.nc")
    assert np.all(ds["cache_hit_rate"].values == 0.5)
    assert ds["cache_hit_rate"].attrs["overridden_in"] == ("subscription, no_reasoning, small_model, claude_sonnet, "
                                                           "per_task_price")
    assert ds.attrs["overrides"] == "cache_hit_rate = 0.5"
    record = json.loads((folder / "inputs" / "record.json").read_text())
    assert "--set cache_hit_rate=0.5" in record["command"]
    assert "overrides (--set, every scenario) | cache_hit_rate = 0.5" in (folder / "report.md").read_text()
    # the saved run is not stale for `sim report`: the override is read back from the run
    assert main(["report", AGENT, "--no-sensitivity", "--out", out]) == 0, capsys.readouterr().err
    # the recorded command gives the same samples bit for bit
    again = shlex.split(record["command_from_record"].replace("OUT", str(tmp_path / "again")))
    assert main(again[1:] + ["--no-report"]) == 0
    b = xr.open_dataset(tmp_path / "again" / "agent_task" / "samples.nc")
    np.testing.assert_array_equal(ds["cost_per_task"].values, b["cost_per_task"].values)


@pytest.mark.parametrize("args, message", [
    (["--set", "cache_hit=0.5"], "--set: no prior 'cache_hit' in .*agent_task.toml; did you mean 'cache_hit_rate'\\?$"),
    (["--set", "zzz=0.5"], "--set: no prior 'zzz' in .*agent_task.toml; valid: .*, cache_hit_rate, "),
    (["--set", "cache_hit_rate=1.5"], r"--set: cache_hit_rate: unit 'fraction' needs values in \[0, 1\]"),
    (["--set", "calls_per_task=-3"], "--set: calls_per_task: a quantity in 'calls/task' cannot be negative"),
    (["--set", "cache_hit_rate=high"], r"argument --set: must be PRIOR=NUMBER or PRIOR=PERCENT%, such as a prior's "
                                       r"name = 0.5 or 35%, got 'cache_hit_rate=high'"),
    (["--scenario", "nope"], "--scenario: no scenario 'nope' in .*agent_task.toml; valid: subscription, no_reasoning, "
                             "small_model, claude_sonnet, per_task_price"),
])
def test_bad_overrides_are_one_line(tmp_path, capsys, args, message):

    err = one_line_error(capsys, ["run", AGENT, "--samples", "10", "--out", str(tmp_path), *args])
    assert re.search(message, err), err
    assert not (tmp_path / "agent_task").exists()


def test_sensitivity_and_decide_commands(project, capsys):
    assert main(["run", "--samples", "4000", "--no-report"]) == 0
    assert main(["sensitivity", "--sobol-n", "1024", "--resamples", "50",
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
    assert main(["decide", "--select", "architecture=two_stage",
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

    assert main(argv) == 2
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
    assert main(["run", "--samples", "300", "--no-report"]) == 0
    capsys.readouterr()
    before = sorted(p.name for p in (project / "outputs" / "search_cost").iterdir())
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in (project / "outputs" / "search_cost").iterdir()) == before


@pytest.mark.parametrize("command", ["decide", "sensitivity"])
def test_analysis_without_a_saved_run_names_the_command(project, capsys, command):
    assert main([command, "--out", "elsewhere"]) == 2
    err = capsys.readouterr().err
    assert err.strip().endswith("run `sim run experiments/search_cost.toml --out elsewhere` first"), err
    assert not (project / "elsewhere").exists()


def test_bad_report_arguments(project, capsys):
    assert main(["run", "--samples", "300", "--no-report"]) == 0
    assert_error(capsys, ["report", "--output", "price"], r"^sim: error: --output: unknown output 'price'; valid: ")
    assert_error(capsys, ["report", "--select", "hardware=h100"], r"^sim: error: --select: cost_per_query has no dim "
                                                          r"'hardware'; valid: architecture$")
    assert_error(capsys, ["report", "--select", "architecture=moe"], r"^sim: error: --select: architecture has no value 'moe'; "
                                                            r"valid: chatgpt_equivalent, two_stage$")
    assert_error(capsys, ["report", "--sobol-n", "1000"], r"--sobol-n must be a power of 2")
    text = (project / "experiments" / "search_cost.toml").read_text()
    (project / "experiments" / "search_cost.toml").write_text(text.replace(
        'sampler = "random"', 'sampler = "random"\nreport = { select = { year = 2030 } }'))
    assert_error(capsys, ["report"], r"^sim: error: experiments/search_cost\.toml: report\.select\.year: cost_per_query has "
                            r"no dim 'year'; valid: architecture$")
    (project / "experiments" / "search_cost.toml").write_text(text.replace(
        'sampler = "random"', 'sampler = "random"\nreport = { output = "price" }'))
    assert_error(capsys, ["report"], r"^sim: error: experiments/search_cost\.toml: report\.output: must be an output of model "
                            r"'search'")
    (project / "experiments" / "search_cost.toml").write_text(text.replace(
        'sampler = "random"', 'sampler = "random"\nreport = { output = {} }'))  # a table where a name goes
    assert_error(capsys, ["report"], r"^sim: error: experiments/search_cost\.toml: report\.output: must be an "
                            r"output of model 'search' \(.*\), got \{\}$")
    assert not (project / "outputs" / "search_cost" / "report.html").exists()


def test_set_takes_a_percentage_for_a_pure_number(project, capsys):
    """`--set cache_hit_rate=35%` pins the fraction at 0.35 exactly (the run `--set cache_hit_rate=0.35` makes); a
    percentage of a prior with dimensions is one line."""
    import json

    for out, value in (("pct", "35%"), ("plain", "0.35")):
        assert main(["run", "--samples", "300", "--no-report", "--out", out, "--set", f"cache_hit_rate={value}"]) == 0
    runs = [json.loads((project / out / "search_cost" / "run.json").read_text()) for out in ("pct", "plain")]
    assert "--set cache_hit_rate=0.35 " in runs[0]["command"]
    assert runs[0]["sha256"]["summary.csv"] == runs[1]["sha256"]["summary.csv"]
    capsys.readouterr()
    assert one_line_error(capsys, ["run", "--samples", "300", "--set", "api_price_per_1k_tokens=35%"]) == (
        "sim: error: --set api_price_per_1k_tokens=35%: a percentage is a pure number and api_price_per_1k_tokens "
        "is in USD/ktoken; give its value in USD/ktoken")
    assert "must be PRIOR=NUMBER or PRIOR=PERCENT%" in one_line_error(capsys, ["run", "--set", "cache_hit_rate=x%"])


@pytest.mark.parametrize("argv, samples", [(["gpu_cash_flow"], 50_000), (["gpu_cash_flow", "--samples", "3000"], 3000),
                                           (["search_cost"], 100_000)])
def test_explore_draws_the_experiments_sample_count(project, monkeypatch, argv, samples):
    """The explorer's page shows what the experiment's run shows: its sample count unless --samples says otherwise."""
    import sim.explorer

    asked = {}
    monkeypatch.setattr(sim.explorer, "serve", lambda experiment, **kw: asked.update(kw), raising=False)
    assert main(["explore", *argv]) == 0
    assert asked["samples"] == samples
