"""``sim calibrate`` and ``--posterior``: the posterior written beside the run, warnings and refusals in one line,
and the analyses of the posterior written under ``calibration/``."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.helpers import assert_error, cli, conjugate_project, listing, lognormal_observation, one_line_error, write

SEEN = lognormal_observation(45, 0.3)
FAR = SEEN.replace("seen", "far").replace("value = 45", "value = 5000")


@pytest.fixture
def project(tmp_path, capsys):
    exp = conjugate_project(tmp_path)
    code, _, _ = cli(capsys, "run", exp, "--no-report", "--out", tmp_path / "out")
    assert code == 0
    return tmp_path


def test_calibrate_writes_the_posterior_beside_the_run(project, capsys):
    obs = write(project / "o.toml", SEEN)
    code, out, err = cli(capsys, "calibrate", project / "e.toml", "--observations", obs, "--out", project / "out")
    assert code == 0 and err == ""
    assert "importance sampling of the run's 4,000 samples" in out and "Priors the evidence moved (x)" in out
    folder = project / "out" / "e" / "calibration"
    assert {p.name for p in folder.iterdir()} == {"posterior.nc", "posterior.csv", "observations.csv",
                                                   "observations.nc", "inputs", "run.json"}
    posterior = pd.read_csv(folder / "posterior.csv")
    assert list(posterior.columns[:3]) == ["variable", "kind", "units"]
    for column in ("prior_median", "posterior_mean", "posterior_median", "posterior_p05", "posterior_p95", "ess"):
        assert column in posterior.columns
    assert set(posterior["variable"]) == {"x", "z", "y", "r"}
    assert dict(zip(posterior["variable"], posterior["kind"])) == {"x": "prior", "z": "prior", "y": "output",
                                                                   "r": "output"}
    observations = pd.read_csv(folder / "observations.csv")
    assert observations.loc[0, "observation"] == "seen" and not observations.loc[0, "conflict"]
    record = json.loads((folder / "inputs" / "record.json").read_text())
    assert record["observations"][0]["source"] == str(obs) and len(record["observations"][0]["sha256"]) == 64
    assert (folder / "inputs" / record["observations"][0]["path"]).read_text() == SEEN


def test_a_conflict_is_a_warning_and_strict_refuses_it_in_one_line(project, capsys):
    obs = write(project / "o.toml", FAR)
    code, out, err = cli(capsys, "calibrate", project / "e.toml", "--observations", obs, "--out", project / "out",
                         "--particles", "1000")
    assert code == 0
    (line,) = [w for w in err.splitlines() if "prior-data conflict" in w]
    assert line.startswith("sim: warning: prior-data conflict: far (the figure sits at the prior predictive's 100th")
    before = listing(project / "out")
    message = one_line_error(capsys, ["calibrate", project / "e.toml", "--observations", obs, "--out",
                                      project / "out", "--strict"])
    assert "--strict" in message and "far" in message
    assert listing(project / "out") == before  # nothing written or lost


@pytest.mark.parametrize("text, pattern", [
    (SEEN.replace('output = "y"', 'output = "nope"'), r"o\.toml: observations\.seen\.output: no output 'nope'"),
    (SEEN + '\n[observations.cell]\noutput = "y"\nselect = { scenario = "other" }\nvalue = 4\nlikelihood = "normal"'
            '\nsd = 1\nsource = "s"\n', r"observations\.cell: select: scenario has no value 'other'; valid: baseline"),
    (SEEN.replace('unit = "USD"', 'unit = "hour"'), r"observations\.seen\.unit: 'hour' is not a unit of the kind"),
])
def test_bad_observation_files_are_refused_and_nothing_is_written(project, capsys, text, pattern):
    before = listing(project / "out")
    assert_error(capsys, ["calibrate", project / "e.toml", "--observations", write(project / "o.toml", text),
                          "--out", project / "out"], pattern)
    assert listing(project / "out") == before


def test_the_posterior_through_decide_sensitivity_and_report(project, capsys):
    exp, out = project / "e.toml", project / "out"
    cli(capsys, "calibrate", exp, "--observations", write(project / "o.toml", SEEN), "--out", out)
    code, text, _ = cli(capsys, "decide", exp, "--posterior", "--out", out)
    assert code == 0 and "from the posterior" in text and "effective samples" in text
    code, text, _ = cli(capsys, "sensitivity", exp, "--posterior", "--out", out)
    assert code == 0 and "methods rank, given, target" in text
    assert "skipped tornado, spider, sobol: it evaluates the model again" in text
    code, text, _ = cli(capsys, "report", exp, "--posterior", "--out", out, "--sobol-n", "256")
    assert code == 0
    folder = out / "e" / "calibration"
    for name in ("decision/decision.csv", "sensitivity/sensitivity.csv", "report.html", "report.md",
                 "tables/evidence.csv", "tables/evidence_verdict.csv", "figures/evidence.png", "figures/moved.png"):
        assert (folder / name).is_file(), name
    md = (folder / "report.md").read_text()
    assert "## Evidence" in md and "No tornado or Sobol' indices" in md
    verdict = pd.read_csv(folder / "tables" / "evidence_verdict.csv")
    assert {"p_loss_before", "p_loss_after", "net_benefit_before", "net_benefit_after"} <= set(verdict.columns)
    # the run's own report and analyses are not touched by the posterior's
    assert not (out / "e" / "report.html").exists() and not (out / "e" / "decision").exists()


def test_posterior_refusals(project, capsys):
    exp, out = project / "e.toml", project / "out"
    assert_error(capsys, ["report", exp, "--posterior", "--out", out], r"no calibration of experiment 'e'.*sim calibrate")
    cli(capsys, "calibrate", exp, "--observations", write(project / "o.toml", SEEN), "--out", out)
    assert_error(capsys, ["sensitivity", exp, "--posterior", "--out", out, "--method", "sobol"],
                 r"--method: sobol cannot run on a posterior")
    assert_error(capsys, ["decide", exp, "--posterior", "--out", out, "--stress", "x", "0", "10"],
                 r"--stress cannot run on a posterior")


def test_a_new_run_removes_the_stale_calibration(project, capsys):
    exp, out = project / "e.toml", project / "out"
    cli(capsys, "calibrate", exp, "--observations", write(project / "o.toml", SEEN), "--out", out)
    code, _, err = cli(capsys, "run", exp, "--no-report", "--out", out, "--seed", "4")
    assert code == 0 and "removed" in err and "calibration" in err
    assert not (out / "e" / "calibration").exists()
    assert_error(capsys, ["decide", exp, "--posterior", "--out", out], r"no calibration")


def test_the_arviz_file_opens_in_arviz_with_its_five_groups(project, capsys):
    az = pytest.importorskip("arviz", reason="ArviZ is in the test extras")
    path = project / "calibration.nc"
    code, out, _ = cli(capsys, "calibrate", project / "e.toml", "--observations", write(project / "o.toml", SEEN),
                       "--out", project / "out", "--arviz", path)
    assert code == 0 and str(path) in out
    data = az.from_netcdf(path)
    groups = set(data.groups()) if callable(getattr(data, "groups", None)) else set(data.children)
    assert {"prior", "posterior", "observed_data", "prior_predictive", "posterior_predictive"} <= groups
    posterior = data["posterior"] if not hasattr(data, "posterior") else data.posterior
    assert dict(posterior.sizes)["chain"] == 1 and dict(posterior.sizes)["draw"] == 4000
    table = az.summary(data, var_names=["x", "z"], kind="stats")
    assert table.shape[0] == 2 and float(table.loc["x", "mean"]) > 10  # the observation of 45 = 3 x moved x up
    ess = az.ess(data, var_names=["x"])
    assert float(ess["x"]) > 100


def test_a_bad_arviz_path_is_refused_before_any_work(project, capsys):
    before = listing(project / "out")
    assert_error(capsys, ["calibrate", project / "e.toml", "--observations", write(project / "o.toml", SEEN),
                          "--out", project / "out", "--arviz", project / "nowhere" / "a.nc"],
                 r"--arviz: folder .*nowhere does not exist")
    assert_error(capsys, ["calibrate", project / "e.toml", "--observations", project / "o.toml",
                          "--out", project / "out", "--arviz", project / "a.txt"], r"--arviz: .*must be a file name ending in \.nc")
    assert listing(project / "out") == before
