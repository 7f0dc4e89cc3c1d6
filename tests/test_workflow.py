"""One workflow: the saved run is the single source of truth, analysis reads it, and nothing goes silently stale."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sim
from sim.analysis import decision as da
from sim.cli import main

from .helpers import ROOT, listing, one_line_error, with_prior

RUN = ["--samples", "2000", "--no-sensitivity"]  # the report, without its (separately tested) sensitivity section


def _identity(path):
    return {k: v for k, v in json.loads(path.read_text()).items()
            if k in ("priors_hash", "seed", "sampler", "samples", "mode")}


def test_whole_workflow_then_an_edited_prior(project, capsys):
    """run, decide (measures, stress, seek), sensitivity and report; then a prior changes: every derived result
    either matches the new run or is gone, and each removal is said."""
    folder = project / "outputs" / "search_cost"
    assert main(["run", *RUN]) == 0
    assert main(["decide"]) == 0
    assert main(["decide", "--stress", "provider_gross_margin", "0", "10"]) == 0
    assert main(["decide", "--seek", "api_price_per_1k_tokens", "--how", "scale", "--target", "0.9",
                 "--select", "scenario=baseline", "--select", "architecture=two_stage"]) == 0
    assert main(["sensitivity", "--sobol-n", "64", "--method", "rank,tornado,sobol"]) == 0
    assert main(["report", "--no-sensitivity"]) == 0
    capsys.readouterr()
    # the studies of one run live side by side: the seek did not delete the stress test
    assert {"decision.csv", "evppi.csv", "stress.csv", "goal_seek.csv", "decision.nc"} <= \
        {p.name for p in (folder / "decision").iterdir()}
    run = _identity(folder / "run.json")
    for derived in ("decision", "sensitivity"):
        assert _identity(folder / derived / "run.json") == run

    path = project / "priors" / "seed_2023.toml"
    path.write_text(with_prior(path.read_text(), "cache_hit_rate",
                               'dist = "beta"\nci90 = [0.25, 0.55]\npoint = 0.4\nunit = "fraction"\nnote = "an analyst\'s new view"'))
    # analyses of the saved run refuse it now: it was made from other priors
    for command in (["decide"], ["sensitivity"], ["report"]):
        assert main(command) == 2
        assert "run `sim run experiments/search_cost.toml` to update it" in capsys.readouterr().err

    assert main(["run", *RUN]) == 0
    err = capsys.readouterr().err
    notices = [line for line in err.splitlines() if line.startswith("sim: removed")]
    assert len(notices) == 2 and all("not this one" in n for n in notices), err
    assert "`sim decide experiments/search_cost.toml` makes it again" in err
    assert "`sim sensitivity experiments/search_cost.toml` makes it again" in err
    new = _identity(folder / "run.json")
    assert new["priors_hash"] != run["priors_hash"]
    assert not (folder / "decision").exists() and not (folder / "sensitivity").exists()
    # what is left belongs to the new run: samples, summary, record and the report built with it
    for nc in ("samples.nc", "summary.nc"):
        assert xr.open_dataset(folder / nc).attrs["priors_hash"] == new["priors_hash"]
    assert json.loads((folder / "inputs" / "record.json").read_text())["priors_hash"] == new["priors_hash"]
    assert new["priors_hash"] in (folder / "report.html").read_text()
    assert run["priors_hash"] not in "".join(p.read_text(errors="ignore") for p in folder.rglob("*")
                                             if p.is_file() and p.suffix in (".json", ".html", ".md", ".csv"))


def test_a_rerun_with_the_same_identity_keeps_the_analyses(project, capsys):
    assert main(["run", "--samples", "500", "--no-report"]) == 0
    assert main(["decide"]) == 0
    before = (project / "outputs" / "search_cost" / "decision" / "decision.csv").read_bytes()
    assert main(["run", "--samples", "500", "--no-report"]) == 0
    assert "removed" not in capsys.readouterr().err
    assert (project / "outputs" / "search_cost" / "decision" / "decision.csv").read_bytes() == before
    assert main(["run", "--samples", "600", "--no-report"]) == 0  # another run: the analysis is gone
    assert "sim: removed outputs/search_cost/decision" in capsys.readouterr().err
    assert not (project / "outputs" / "search_cost" / "decision").exists()


def test_decide_reads_the_saved_run(project, capsys):
    """After a 4,096-sample Sobol' run, sim decide says so, and its numbers are those of the saved samples."""
    assert main(["run", "--samples", "4096", "--sampler", "sobol", "--no-report"]) == 0
    capsys.readouterr()
    assert main(["decide"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("from the saved run outputs/search_cost/samples.nc (4,096 samples, sampler sobol, "
                          "seed 20230201)"), first
    saved = xr.load_dataset(project / "outputs" / "search_cost" / "samples.nc")
    d = xr.load_dataset(project / "outputs" / "search_cost" / "decision" / "decision.nc")
    assert d.attrs["samples"] == 4096 and d.attrs["sampler"] == "sobol"
    want = da.decide(saved)
    np.testing.assert_array_equal(d["p_profitable"].values, want["p_profitable"].values)  # the same samples
    np.testing.assert_array_equal(d["evppi"].values, want["evppi"].values)


def test_sensitivity_reports_the_evaluations_it_made(project, capsys):
    assert main(["run", "--samples", "1000", "--sampler", "lhs", "--seed", "7", "--no-report"]) == 0
    capsys.readouterr()
    assert main(["sensitivity", "--method", "rank,tornado,sobol", "--sobol-n", "64"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "(1,000 samples, sampler lhs, seed 7)" in out[0]
    d = len(sim.engine.drawn_priors(sim.load_experiment("experiments/search_cost.toml")))
    assert out[1] == (f"evaluations of the model beyond the run ({d} drawn priors, the run's seed): "
                      f"tornado {2 * d + 1}; Sobol' {64 * (d + 2):,}")


def test_sobol_alone_with_correlated_priors_is_one_line(project, capsys):
    """Sobol' indices are not defined for correlated priors: asked for alone, one line says why and nothing is written."""
    (project / "experiments" / "corr.toml").write_text(
        'model = "search"\npriors = ["../priors/seed_2023.toml"]\n'
        '[correlations]\npairs = [["response_words", "section_words", 0.5]]\n')
    assert main(["run", "corr", "--samples", "300", "--no-report"]) == 0
    capsys.readouterr()
    before = sorted(p.name for p in (project / "outputs" / "corr").iterdir())
    assert main(["sensitivity", "corr", "--method", "sobol"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sobol: not defined for correlated priors" in err, err
    assert sorted(p.name for p in (project / "outputs" / "corr").iterdir()) == before


def test_console_tables_fold_zeros_and_cut_long_sweeps(project, capsys):
    """The training sweep has hundreds of rows: the console shows the first 60 and says where the rest are;
    --all prints every one, the same rows as summary.csv."""
    assert main(["run", "training_cost", "--samples", "200", "--no-report"]) == 0
    out = capsys.readouterr().out
    rows = len(pd.read_csv(project / "outputs" / "training_cost" / "summary.csv"))
    assert rows > 60
    assert re.search(r"\((\d+) more row\(s\); summary.csv has every row; --all prints them\)", out)
    assert main(["run", "training_cost", "--samples", "200", "--no-report", "--all"]) == 0
    out = capsys.readouterr().out
    table = out.split("\n\nwrote")[0].splitlines()[2:]  # the title and the header
    assert len(table) == rows and "more row" not in out


def test_progress_is_quiet_on_a_pipe_unless_asked(project, capfd):
    from sim import progress

    with progress.stage("a slow stage", delay=0.0):
        pass
    assert capfd.readouterr().err == ""  # stderr is not a terminal here
    progress.show(True)
    try:
        with progress.stage("a slow stage", delay=0.0):
            import time

            time.sleep(0.05)
    finally:
        progress.show(None)
    err = capfd.readouterr().err.splitlines()
    assert err[0] == "sim: a slow stage ..." and re.fullmatch(r"sim: a slow stage: done in \d+\.\d s", err[1])


@pytest.mark.slow
def test_a_streamed_run_of_four_million_samples_gets_a_report(project, capsys):
    """A streamed run keeps summaries only; its report gives the verdict and headline from them, draws what the
    summaries allow, and says what needs the samples."""
    assert main(["run", "--stream", "--samples", "4000000", "--no-sensitivity"]) == 0
    folder = project / "outputs" / "search_cost"
    assert not (folder / "samples.nc").exists()
    md = (folder / "report.md").read_text()
    summary = xr.load_dataset(folder / "summary.nc")
    assert summary.attrs["samples"] == 4_000_000 and summary.attrs["mode"] == "stream"
    assert "4,000,000 Monte Carlo samples streamed" in md
    assert md.count("need the samples, and this run was streamed") >= 3
    assert "sim run experiments/search_cost.toml --samples 4000000 --seed 20230201 --sampler random" in md
    verdict = md.split('<a id="verdict"></a>')[1].split('<a id="headline"></a>')[0]
    line = next(li for li in verdict.splitlines() if li.startswith("**baseline, two_stage:**"))
    p = float(summary["p_cost_per_query_gt_revenue_per_query"].sel(scenario="baseline", architecture="two_stage"))
    assert f"loses money in {100 * p:.1f} %" in line
    enb = float(summary["revenue_per_query"].sel(scenario="baseline", stat="mean")
                - summary["cost_per_query"].sel(scenario="baseline", architecture="two_stage", stat="mean"))
    assert re.search(rf"expected {'gain' if enb > 0 else 'loss'} is \$([0-9.]+) per query", line)
    assert float(re.search(r"is \$([0-9.]+) per query", line).group(1)) == pytest.approx(abs(enb), rel=0.005)


def test_validate_accepts_the_project_catalogues_and_names_a_bad_entry(project, capsys):
    files = sorted(str(p) for p in (project / "priors" / "catalogues").glob("*.toml"))
    assert main(["validate", *files]) == 0
    out = capsys.readouterr().out
    assert "ok: priors/catalogues/offerings.toml: offerings catalogue, " in out.replace(str(project) + "/", "")
    path = project / "priors" / "catalogues" / "models.toml"
    path.write_text(path.read_text().replace("tokens = ", "tokenz = ", 1))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "models.gpt3.tokenz: unknown field; did you mean 'tokens'?" in err, err


def test_a_stale_run_names_the_out_it_was_written_to(project, capsys):
    assert main(["run", "--samples", "300", "--no-report", "--out", "elsewhere"]) == 0
    path = project / "priors" / "seed_2023.toml"
    path.write_text(with_prior(path.read_text(), "cache_hit_rate",
                               'dist = "beta"\nci90 = [0.25, 0.55]\npoint = 0.4\nunit = "fraction"\nnote = "new"'))
    capsys.readouterr()
    for command in ("decide", "sensitivity", "report"):
        assert main([command, "--out", "elsewhere"]) == 2
        assert capsys.readouterr().err.strip().endswith(
            "run `sim run experiments/search_cost.toml --out elsewhere` to update it")


def test_report_help_gives_valid_examples(project, capsys):
    """The examples in --help are values the default experiment takes."""
    assert main(["report", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    example = re.search(r"such as (\w+)=(\w+)", text).groups()
    assert main(["run", "--samples", "300", "--no-report"]) == 0
    assert main(["report", "--no-sensitivity", "--select", "=".join(example)]) == 0


def test_a_streamed_year_sweep_gets_its_fan_chart_from_the_summary(project, capsys):
    """The fan chart is drawn from the labelled summary's quantiles, so a streamed trajectory has one."""
    assert main(["run", "trajectory", "--stream", "--samples", "5000", "--no-sensitivity"]) == 0
    folder = project / "outputs" / "trajectory"
    assert (folder / "figures" / "fan.png").is_file() and not (folder / "samples.nc").exists()
    md = (folder / "report.md").read_text()
    assert '<a id="years"></a>' in md and "](figures/fan.png)" in md


def test_a_killed_run_leaves_the_earlier_outputs_intact(project):
    """SIGKILL while the run writes: the earlier complete folder is untouched, and the next run cleans up."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "sim", "run", "--no-report"]
    subprocess.run([*run, "--samples", "1000"], cwd=project, env=env, check=True, capture_output=True)
    folder = project / "outputs" / "search_cost"
    before = listing(folder)
    # 400,000 samples: a NetCDF of about 200 MB, long enough to be caught while it is written
    proc = subprocess.Popen([*run, "--samples", "400000"], cwd=project, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    stage = None
    while time.monotonic() < deadline and proc.poll() is None:
        stages = list(folder.parent.glob(".search_cost.*.tmp"))
        if stages and list(stages[0].glob("*samples.nc*")):
            stage = stages[0]
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait()
    assert stage is not None and proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert stage.exists()  # killed mid-write: the half-written folder is still there, beside the old one
    assert listing(folder) == before
    ds = xr.load_dataset(folder / "samples.nc")
    assert ds.attrs["samples"] == 1000 and ds["cost_per_query"].shape[-1] == 1000
    # the next run removes the dead run's staging folder and replaces the outputs whole
    subprocess.run([*run, "--samples", "2000"], cwd=project, env=env, check=True, capture_output=True)
    assert not stage.exists() and [p.name for p in folder.parent.iterdir()] == ["search_cost"]
    assert xr.load_dataset(folder / "samples.nc").attrs["samples"] == 2000


def test_run_keeps_sensitivity_and_decision_outputs(project, capsys):
    assert main(["run", "--samples", "500", "--no-report"]) == 0
    assert main(["decide"]) == 0
    decision = listing(project / "outputs" / "search_cost" / "decision")
    assert main(["run", "--samples", "500", "--no-report"]) == 0
    assert listing(project / "outputs" / "search_cost" / "decision") == decision


def test_every_file_a_run_writes_is_inside_the_output_folder(project, capsys):
    before = {p for p in project.rglob("*")}
    assert main(["run", "--samples", "300", "--out", "results", "--sobol-n", "64"]) == 0
    assert main(["sensitivity", "--out", "results", "--method", "rank"]) == 0
    assert main(["decide", "--out", "results"]) == 0
    assert main(["report", "--out", "results", "--sobol-n", "64"]) == 0
    new = {p for p in project.rglob("*")} - before
    assert new and all(p.is_relative_to(project / "results") for p in new)


@pytest.mark.parametrize("argv, said", [
    (["decide", "--select", "scenario=baselin"], "did you mean 'baseline'?"),
    (["sensitivity", "--samples", "300", "--method", "tornad"], "did you mean 'tornado'?"),
    (["serving", "llama3_70", "h100_sxm", "--samples", "10"], "did you mean 'llama3_70b'?"),
])
def test_a_typed_name_is_answered_with_the_close_one(project, capsys, argv, said):
    """A name within a small edit distance of a valid one is answered with that one, not the whole list."""
    if argv[0] == "decide":
        assert main(["run", "--samples", "300", "--no-report"]) == 0
    err = one_line_error(capsys, argv)
    assert err.endswith(said), err
