"""The command line end to end, and every bad input's one-line message."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sim
from sim.cli import main

from .conftest import ROOT, write


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


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


# --- bad input ---------------------------------------------------------------

GOOD_PRIOR = 'dist = "fixed"\npoint = 1\nunit = "1"\nnote = "n"\n'


def experiment_with(project, priors_text, scenarios="[scenarios.baseline]\n", model="search"):
    write(project / "priors" / "extra.toml", priors_text)
    return write(project / "experiments" / "bad.toml",
                 f'model = "{model}"\npriors = ["../priors/seed_2023.toml", "../priors/extra.toml"]\n{scenarios}')


def assert_bad(capsys, project, args, match):
    code, out, err = cli(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert re.search(match, lines[0]), lines[0]
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("priors_text, match", [
    ("[priors.x\ndist = 1", r"^sim: error: priors/extra\.toml: TOML syntax error: "),
    ("[priors.x]\ndist = \"weibull\"\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"^sim: error: priors/extra\.toml: priors\.x\.dist: unknown distribution 'weibull'; valid: fixed, uniform"),
    ("[priors.x]\ndist = \"normal\"\nmean = 1\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x: a normal prior takes \(mean, sd\) or \(ci90\); got \(mean\)"),
    ("[priors.x]\ndist = \"uniform\"\nlow = 0\nhigh = 2\nmode = 1\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.mode: unknown key for a uniform prior; valid: allow_negative, high, long_name, low"),
    ("[priors.x]\ndist = \"normal\"\nmean = 1\nsd = 0\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.sd: must be > 0, got 0"),
    ("[priors.x]\ndist = \"uniform\"\nlow = 3\nhigh = 2\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.high: must be greater than low \(3\), got 2"),
    ("[priors.x]\ndist = \"normal\"\nci90 = [3, 2]\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.ci90: must be increasing \(low < high\), got \[3, 2\]"),
    ("[priors.x]\ndist = \"lognormal\"\nci90 = [-1, 2]\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.ci90: lognormal bounds must be > 0, got \[-1, 2\]"),
    ("[priors.x]\ndist = \"beta\"\nci90 = [0.2, 1.5]\npoint = 0.5\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.ci90: must be inside \(0, 1\) for a beta prior, got 1\.5"),
    ("[priors.x]\ndist = \"choice\"\nvalues = [1, 2]\nweights = [0, 0]\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.weights: weights must be >= 0 with a positive sum, got \[0, 0\]"),
    ("[priors.x]\ndist = \"fixed\"\npoint = nan\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.point: must be a finite number, got nan"),
    ("[priors.cache_hit_rate]\n" + GOOD_PRIOR,
     r"priors/extra\.toml: priors\.cache_hit_rate: already defined in .*seed_2023\.toml; add override = true "
     r"to replace it here, or override it in a scenario$"),
    ("title = 3\n[priors.x]\n" + GOOD_PRIOR, r"priors/extra\.toml: title: must be a string, got 3"),
    ("[prior.x]\n" + GOOD_PRIOR, r"priors/extra\.toml: prior: unknown top-level key; valid: title, description, "
                                 r"priors"),
])
def test_bad_priors_file(project, capsys, priors_text, match):
    experiment_with(project, priors_text)
    assert_bad(capsys, project, ["run", "experiments/bad.toml", "--samples", "10"], match)
    if "already defined" not in match:  # a clash between files shows only in an experiment
        assert_bad(capsys, project, ["validate", "priors/extra.toml"], match)
    assert_bad(capsys, project, ["validate", "experiments/bad.toml"], match)


@pytest.mark.parametrize("scenarios, match", [
    ("[scenarios.s]\nset = { nonexistent = 1 }\n",
     r"experiments/bad\.toml: scenarios\.s\.set\.nonexistent: no prior named 'nonexistent' to override; "
     r"the model's priors are: prompt_words, "),
    ("[scenarios.s.priors.nonexistent]\ndist = \"fixed\"\npoint = 1\n",
     r"experiments/bad\.toml: scenarios\.s\.priors\.nonexistent: no prior named 'nonexistent' to override"),
    ("[scenarios.s]\nset = { cache_hit_rate = \"high\" }\n",
     r"experiments/bad\.toml: scenarios\.s\.set\.cache_hit_rate: must be a number, got 'high'"),
    ("[scenarios.s.priors.cache_hit_rate]\ndist = \"beta\"\nmean = 0.5\n",
     r"experiments/bad\.toml: scenarios\.s\.priors\.cache_hit_rate: a beta prior takes \(a, b\) or \(mean, sd\) "
     r"or \(ci90\); got \(mean\)"),
    ("[scenarios.s]\nsett = { cache_hit_rate = 0.5 }\n",
     r"experiments/bad\.toml: scenarios\.s\.sett: unknown scenario key; valid: description, files, priors, set"),
    ("[scenarios.\"../up\"]\n", r"experiments/bad\.toml: scenarios\.\.\./up: '\.\./up' is not a valid name"),
    ("samples = 0\n", r"experiments/bad\.toml: samples: must be a positive integer, got 0"),
    ("samples = 1.5\n", r"experiments/bad\.toml: samples: must be a positive integer, got 1\.5"),
    ("seed = -1\n", r"experiments/bad\.toml: seed: must be an integer in \[0, 2\*\*63\), got -1"),
    ("sampler = \"mc\"\n", r"experiments/bad\.toml: sampler: unknown sampler 'mc'; valid: random, lhs, sobol"),
    ("runs = 3\n", r"experiments/bad\.toml: runs: unknown top-level key; valid: title, description, model, priors"),
    ("[scenarios.s]\nfiles = [\"../priors/none.toml\"]\n",
     r"experiments/bad\.toml: scenarios\.s\.files: priors file 'priors/none\.toml' not found"),
])
def test_bad_experiment_file(project, capsys, scenarios, match):
    experiment_with(project, "[priors.x]\n" + GOOD_PRIOR, scenarios)
    assert_bad(capsys, project, ["run", "experiments/bad.toml", "--samples", "10"], match)


def test_unknown_model(project, capsys):
    experiment_with(project, "[priors.x]\n" + GOOD_PRIOR, model="serch")
    assert_bad(capsys, project, ["run", "experiments/bad.toml"],
               r"experiments/bad\.toml: model: unknown model 'serch'; valid: answer_engine, build_vs_rent, "
               r"chat_subscription, inference, inhouse_training, roofline, scaling, search, search_cost_basis, "
               r"training, trajectory, \"package\.module:name\", "
               r"\{ file = \"model\.py\", name = \"\.\.\.\" \}, or formulas under \[model\.outputs\]$")


def test_model_needs_a_prior_no_file_defines(project, capsys):
    write(project / "experiments" / "bad.toml", 'model = "search"\npriors = ["../priors/extra.toml"]\n')
    write(project / "priors" / "extra.toml", "[priors.prompt_words]\n" + GOOD_PRIOR)
    assert_bad(capsys, project, ["run", "experiments/bad.toml"],
               r"experiments/bad\.toml: priors: model 'search' needs prior\(s\) response_words, samples_per_query, "
               r".* that no priors file defines \(priors/extra\.toml\)")


def test_missing_files(project, capsys):
    assert_bad(capsys, project, ["run", "experiments/none.toml"],
               r"^sim: error: experiments/none\.toml: experiment file not found$")
    assert_bad(capsys, project, ["run", "nothing"], r"^sim: error: experiments/nothing\.toml: experiment file not found$")
    write(project / "experiments" / "bad.toml", 'model = "search"\npriors = ["../priors/gone.toml"]\n')
    assert_bad(capsys, project, ["run", "experiments/bad.toml"],
               r"^sim: error: experiments/bad\.toml: priors: priors file 'priors/gone\.toml' "
               r"not found$")
    assert_bad(capsys, project, ["validate", "nowhere.toml"], r"^sim: error: nowhere\.toml: file not found$")


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "ten", ""])
def test_bad_sample_count(project, capsys, value):
    assert_bad(capsys, project, ["run", "--samples", value],
               rf"^sim run: error: argument --samples: must be an integer of at least 2 \(a standard deviation needs "
               rf"two samples\), got '{value}'$")


def test_bad_seed_and_sampler(project, capsys):
    assert_bad(capsys, project, ["run", "--seed", "x"],
               r"^sim run: error: argument --seed: must be an integer in \[0, 2\*\*63\), got 'x'$")
    assert_bad(capsys, project, ["run", "--sampler", "mc"],
               r"^sim run: error: argument --sampler: invalid choice: 'mc' \(choose from 'random', 'lhs', 'sobol'\)$")


def test_failed_run_leaves_earlier_outputs_intact(project, capsys):
    assert cli(capsys, "run", "--samples", "100", "--no-report")[0] == 0
    folder = project / "outputs" / "search_cost"
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    text = (project / "priors" / "seed_2023.toml").read_text().replace("ci90 = [20, 125]", "ci90 = [125, 20]")
    (project / "priors" / "seed_2023.toml").write_text(text)
    code, _, err = cli(capsys, "run", "--samples", "100", "--no-report")
    assert code == 2 and "priors.prompt_words.ci90: must be increasing" in err
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
