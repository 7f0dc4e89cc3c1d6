"""Reliability and safety: numerical guards, crash-safe output folders, the reproducibility record, input safety."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import sim
from sim._files import sha256_file, staged_folder
from sim.cli import main

from .conftest import ROOT, with_prior, write


def error_line(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("sim: error: "), err
    return err.strip()


# --- numerical guards --------------------------------------------------------------------------------------------

def test_non_finite_output_stops_the_run_naming_the_output_and_the_prior(project, capsys):
    write(project / "experiments" / "nan.toml", '''model = "search"
priors = ["../priors/seed_2023.toml"]
[scenarios.baseline.priors.search_revenue]
dist = "choice"
values = [0, 1e11]
weights = [0.5, 0.5]
point = 1e11
''')
    err = error_line(capsys, ["run", "nan", "--samples", "2000", "--no-report"])
    # revenue 0 makes cost / revenue infinite in about half the samples; search_revenue is the prior to blame
    match = re.fullmatch(r"sim: error: experiments/nan\.toml: output cost_to_revenue_ratio is NaN or infinite in "
                         r"([\d,]+) of 2,000 samples \(first in scenario baseline, architecture chatgpt_equivalent\); "
                         r"in those samples these priors sit at the edge of their range: search_revenue \(0 to 0 there, "
                         r"0 to 1e\+11 in all samples\)\. Check that .*; truncate them if so", err)
    assert match, err
    assert 900 < int(match.group(1).replace(",", "")) < 1100  # Binomial(2000, 0.5): 5 sd either side
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("table, message", [
    ('dist = "normal"\nmean = 0.02\nsd = 0.01',
     r"priors\.api_price_per_1k_tokens: a quantity in 'USD/1k tokens' cannot be negative, but the normal prior's "
     r"support is \[-inf, inf\]; truncate it at 0, for example truncate = \[0, inf\], or set allow_negative = true"),
    ('dist = "uniform"\nlow = -0.01\nhigh = 0.03',
     r"cannot be negative, but the uniform prior's support is \[-0\.01, 0\.03\]; truncate it at 0"),
    ('dist = "choice"\nvalues = [-0.01, 0.02]',
     r"cannot be negative, but the choice prior's support is \[-0\.01, 0\.02\]; give it nonnegative values"),
])
def test_impossible_values_are_refused_at_validation(project, capsys, table, message):
    path = project / "priors" / "seed_2023.toml"
    text = path.read_text()
    path.write_text(with_prior(text, "api_price_per_1k_tokens",
                               f'{table}\npoint = 0.02\nunit = "USD/1k tokens"\nnote = "n"'))
    assert re.search(message, error_line(capsys, ["validate", str(path)]))
    # the fixes the message names are accepted
    for fix in ("truncate = [0, inf]", "allow_negative = true"):
        if "choice" in table and fix.startswith("truncate"):
            continue
        path.write_text(with_prior(text, "api_price_per_1k_tokens",
                                   f'{table}\n{fix}\npoint = 0.02\nunit = "USD/1k tokens"\nnote = "n"'))
        assert main(["validate", str(path)]) == 0, capsys.readouterr().err


def test_scenario_values_are_checked_like_priors(project, capsys):
    text = (project / "experiments" / "search_cost.toml").read_text()
    (project / "experiments" / "search_cost.toml").write_text(
        text.replace("set = { api_price_per_1k_tokens = 0.002 }", "set = { cache_hit_rate = 1.5 }"))
    err = error_line(capsys, ["validate", "experiments/search_cost.toml"])
    assert "scenarios.gpt35_turbo_2023.set.cache_hit_rate: unit 'fraction' needs values in [0, 1]" in err
    (project / "experiments" / "search_cost.toml").write_text(
        text.replace("set = { api_price_per_1k_tokens = 0.002 }", "set = { api_price_per_1k_tokens = -0.002 }"))
    assert "cannot be negative" in error_line(capsys, ["validate", "experiments/search_cost.toml"])


# --- crash-safe output folders -----------------------------------------------------------------------------------

def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_staged_folder_swaps_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out" / "exp"
    with staged_folder(target) as stage:
        (stage / "a.txt").write_text("one")
        (stage / "sub").mkdir()
        (stage / "sub" / "b.txt").write_text("kept")
    assert _snapshot(target) == {Path("a.txt"): b"one", Path("sub/b.txt"): b"kept"}
    with pytest.raises(RuntimeError), staged_folder(target, keep=["sub"]) as stage:
        (stage / "a.txt").write_text("two")
        raise RuntimeError("failed half way")
    assert _snapshot(target) == {Path("a.txt"): b"one", Path("sub/b.txt"): b"kept"}  # untouched
    with staged_folder(target, keep=["sub"]) as stage:
        (stage / "c.txt").write_text("three")
    assert _snapshot(target) == {Path("c.txt"): b"three", Path("sub/b.txt"): b"kept"}
    assert [p.name for p in target.parent.iterdir()] == ["exp"]  # nothing left beside it


def test_a_killed_run_leaves_the_earlier_outputs_intact(project):
    """SIGKILL while the run writes: the earlier complete folder is untouched, and the next run cleans up."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "sim", "run", "--no-report"]
    subprocess.run([*run, "--samples", "1000"], cwd=project, env=env, check=True, capture_output=True)
    folder = project / "outputs" / "search_cost"
    before = _snapshot(folder)
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
    assert _snapshot(folder) == before
    ds = xr.load_dataset(folder / "samples.nc")
    assert ds.attrs["samples"] == 1000 and ds["cost_per_query"].shape[-1] == 1000
    # the next run removes the dead run's staging folder and replaces the outputs whole
    subprocess.run([*run, "--samples", "2000"], cwd=project, env=env, check=True, capture_output=True)
    assert not stage.exists() and [p.name for p in folder.parent.iterdir()] == ["search_cost"]
    assert xr.load_dataset(folder / "samples.nc").attrs["samples"] == 2000


def test_run_keeps_sensitivity_and_decision_outputs(project, capsys):
    assert main(["run", "--samples", "500", "--no-report"]) == 0
    assert main(["decide"]) == 0
    decision = _snapshot(project / "outputs" / "search_cost" / "decision")
    assert main(["run", "--samples", "500", "--no-report"]) == 0
    assert _snapshot(project / "outputs" / "search_cost" / "decision") == decision


# --- reproducibility record --------------------------------------------------------------------------------------

def test_record_holds_the_inputs_and_reproduces_the_run(project, capsys):
    assert main(["run", "--samples", "3000", "--seed", "11", "--no-report"]) == 0
    folder = project / "outputs" / "search_cost"
    record = json.loads((folder / "inputs" / "record.json").read_text())
    paths = sorted(f["path"] for f in record["files"])
    assert paths == ["experiments/search_cost.toml", "priors/market_2026.toml", "priors/seed_2023.toml"]
    for f in record["files"]:
        copy = folder / "inputs" / f["path"]
        assert copy.read_bytes() == (project / f["path"]).read_bytes()
        assert f["sha256"] == sha256_file(copy) == sha256_file(project / f["path"])
    assert record["command"] == "sim run experiments/search_cost.toml --samples 3000 --seed 11 --sampler random"
    ds = xr.load_dataset(folder / "samples.nc")
    assert record["priors_hash"] == ds.attrs["priors_hash"]
    # the copies alone give the same numbers, bit for bit, after the originals change
    (project / "priors" / "seed_2023.toml").write_text("# gone\n")
    args = record["command_from_record"].split()[1:]
    args[args.index("OUT")] = str(project / "again")
    assert main(args + ["--no-report"]) == 0
    again = xr.load_dataset(project / "again" / "search_cost" / "samples.nc")
    assert set(again.data_vars) == set(ds.data_vars)
    for name in ds.data_vars:
        np.testing.assert_array_equal(again[name].values, ds[name].values)
    assert {k: v for k, v in again.attrs.items() if k not in ("created", "experiment_file", "priors_files")} == \
        {k: v for k, v in ds.attrs.items() if k not in ("created", "experiment_file", "priors_files")}


def test_record_includes_catalogues(project, capsys):
    assert main(["run", "training_cost", "--samples", "50", "--no-report"]) == 0
    record = json.loads((project / "outputs" / "training_cost" / "inputs" / "record.json").read_text())
    assert sorted(f["path"] for f in record["files"]) == [
        "experiments/training_cost.toml", "priors/catalogues/accelerators.toml", "priors/catalogues/models.toml",
        "priors/catalogues/offerings.toml", "priors/compute_2023.toml"]


def test_changing_a_catalogue_makes_the_saved_run_stale(project, capsys):
    assert main(["run", "inference_cost", "--samples", "200", "--no-report"]) == 0
    path = project / "priors" / "catalogues" / "offerings.toml"
    text = path.read_text()
    price = re.search(r"price_per_chip_hour = ([0-9.]+)", text)
    path.write_text(text[:price.start(1)] + str(float(price.group(1)) * 2) + text[price.end(1):])
    assert "was made with priors hash" in error_line(capsys, ["report", "inference_cost"])


# --- safety of inputs --------------------------------------------------------------------------------------------

def test_configuration_is_data_only():
    """No code path evaluates or unpickles anything a file holds; formulas are parsed, never run as code.

    The one exception is by design: an experiment may name a Python model (a module or a ``.py`` file), which
    is imported like any code the user chose to run, and only in ``sim/models/user.py``.
    """
    banned = re.compile(r"(?<![.\w])(eval|exec|compile|__import__)\(|\bpickle\b|import_module|spec_from_file_location"
                        r"|exec_module|\bmarshal\b|\bshelve\b|yaml\.load\b|allow_pickle=True")
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in (ROOT / "sim").rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if banned.search(line)]
    user_models = [h for h in hits if h.startswith("sim/models/user.py:")]
    assert [h for h in hits if h not in user_models] == []
    assert len(user_models) == 3  # import_module for "package.module:name"; a .py file's spec and exec_module


@pytest.mark.parametrize("name", ["os", "__class__", "rv_continuous", "binom", "poisson", "_lazywhere", "norm.ppf"])
def test_scipy_escape_hatch_takes_only_continuous_distributions(project, capsys, name):
    write(project / "priors" / "extra.toml", f'[priors.x]\ndist = "scipy"\nname = "{name}"\npoint = 1\nunit = "1"\n'
                                             'note = "n"\n')
    err = error_line(capsys, ["validate", "priors/extra.toml"])
    assert f"priors.x.name: {name!r} is not a scipy.stats continuous distribution" in err


@pytest.mark.parametrize("header, key", [
    ('[scenarios."../escape"]', r"scenarios\.\.\./escape: '\.\./escape' is not a valid name"),
    ('[scenarios."/etc"]', r"scenarios\./etc: '/etc' is not a valid name"),
    ('[scenarios."a/b"]', r"scenarios\.a/b: 'a/b' is not a valid name"),
    ('[scenarios.".."]', r"scenarios\.\.\.: '\.\.' is not a valid name"),
])
def test_names_that_would_write_outside_outputs_are_refused(project, capsys, header, key):
    write(project / "experiments" / "bad.toml", f'model = "search"\npriors = ["../priors/seed_2023.toml"]\n{header}\n'
                                                'description = "x"\n')
    assert re.search(key, error_line(capsys, ["run", "experiments/bad.toml", "--samples", "10"]))
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("filename", ["..toml", ".hidden.toml", "sp ace.toml"])
def test_experiment_file_names_must_be_safe_folder_names(project, capsys, filename):
    (project / "experiments" / filename).write_text((project / "experiments" / "search_cost.toml").read_text())
    assert "is not a valid name" in error_line(capsys, ["run", f"experiments/{filename}", "--samples", "10"])
    assert not (project / "outputs").exists()


def test_every_file_a_run_writes_is_inside_the_output_folder(project, capsys):
    before = {p for p in project.rglob("*")}
    assert main(["run", "--samples", "300", "--out", "results", "--sobol-n", "64"]) == 0
    assert main(["sensitivity", "--out", "results", "--method", "rank"]) == 0
    assert main(["decide", "--out", "results"]) == 0
    assert main(["report", "--out", "results", "--sobol-n", "64"]) == 0
    new = {p for p in project.rglob("*")} - before
    assert new and all(p.is_relative_to(project / "results") for p in new)


# --- memory ------------------------------------------------------------------------------------------------------

def test_run_bytes_is_what_a_run_stores(search_experiment):
    from sim import engine, memory

    ds = sim.run(search_experiment, samples=1000)
    stored = sum(v.nbytes for v in ds.data_vars.values() if "sample" in v.dims)
    assert engine.run_bytes(search_experiment, 1000) == stored


def test_a_run_too_large_for_memory_is_refused_before_it_starts(project, capsys, monkeypatch):
    from sim import engine, memory

    monkeypatch.setattr(memory, "available_memory", lambda: (2 * 2**30, "available"))
    err = error_line(capsys, ["run", "--samples", "10000000", "--no-report"])
    assert re.fullmatch(r"sim: error: experiments/search_cost\.toml: 10,000,000 samples would need about 8\.5 GiB of "
                        r"memory, more than the 2\.0 GiB available; run at most about 2,3\d\d,\d{3} samples, or add --stream "
                        r"to keep only summaries", err), err
    assert not (project / "outputs").exists()
