"""The run folder (sim.store): writing a run whole, reading it back checked, its record, holds and staleness."""

import json
import re

import numpy as np
import pytest
import xarray as xr

import sim
from sim._files import sha256_file
from sim.cli import main

from .helpers import assert_error, listing, one_line_error


def test_the_priors_hash_depends_on_content_not_on_how_the_path_is_spelled(project, capsys):
    """A sweep experiment run by its absolute path, then reported by its bare name, is the same run."""
    assert main(["run", str(project / "experiments" / "training_cost.toml"), "--samples", "200", "--no-report"]) == 0
    assert main(["report", "training_cost", "--no-sensitivity"]) == 0


def test_a_file_where_the_run_folder_goes_is_left_alone(project, capsys):
    (project / "outputs").mkdir()
    (project / "outputs" / "search_cost").write_text("not a run\n")
    err = one_line_error(capsys, ["run", "--samples", "200", "--no-report"])
    assert "outputs/search_cost is a file, not a run folder; move it away or give another --out" in err
    assert (project / "outputs" / "search_cost").read_text() == "not a run\n"
    assert [p.name for p in (project / "outputs").iterdir()] == ["search_cost"]  # no hidden staging folder left


def test_a_long_experiment_name_stages_within_the_name_limit(project, capsys):
    """A 200-character experiment name: its staging folder's name is cut to fit 255 bytes, and the run lands."""
    name = "e" * 200
    (project / "experiments" / f"{name}.toml").write_text((project / "experiments" / "search_cost.toml").read_text())
    assert main(["run", name, "--samples", "200", "--no-report"]) == 0
    assert [p.name for p in (project / "outputs").iterdir()] == [name]


def test_not_enough_disk_space_is_said_before_writing(project, capsys, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 10**6, 10**6))
    err = one_line_error(capsys, ["run", "--samples", "20000", "--no-report"])
    assert "--out outputs: writing needs about 0.0" in err and "GiB free; free some space, use fewer samples, or add " \
                                                              "--stream" in err
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("change", ["value", "nan", "missing"])
def test_a_saved_run_edited_after_the_fact_is_refused(saved, capsys, change):
    """samples.nc edited (one value changed, NaN written, an output dropped): its SHA-256 is no longer the one
    run.json recorded, and sim report, decide and sensitivity say so in one line."""
    import xarray as xr

    path = saved / "samples.nc"
    ds = xr.load_dataset(path)
    if change == "value":
        ds["cost_per_query"][..., 0] = ds["cost_per_query"][..., 0] * 1.01
    elif change == "nan":
        ds["cost_per_query"][..., 0] = float("nan")
    else:
        ds = ds.drop_vars("cost_per_query")
    ds.to_netcdf(path, engine="h5netcdf")
    before = sorted(p.relative_to(saved) for p in saved.rglob("*"))
    # report and export open the run lazily and check it while they read it: nothing is written from it either
    for command in ("report", "decide", "sensitivity", "export"):
        err = one_line_error(capsys, [command])
        assert ("samples.nc was changed after sim wrote it (its SHA-256 is not the one" in err
                and err.endswith("run `sim run experiments/search_cost.toml` again")), err
    assert sorted(p.relative_to(saved) for p in saved.rglob("*")) == before


def test_a_changed_run_that_no_longer_reads_is_named_as_changed(saved, capsys):
    """samples.nc cut short: it is hashed while it is read, and the changed file is what the one line names, not the
    read's failure (decide and sensitivity load it whole; the report opens it lazily)."""
    path = saved / "samples.nc"
    path.write_bytes(path.read_bytes()[:4096])
    for command in ("decide", "sensitivity", "report"):
        err = one_line_error(capsys, [command])
        assert "samples.nc was changed after sim wrote it" in err, (command, err)


def test_an_edited_summary_is_refused(saved, capsys):
    """summary.nc with its mean edited: the report, which reads it for its headline, refuses it in one line."""
    import xarray as xr

    path = saved / "summary.nc"
    summary = xr.load_dataset(path)
    summary["cost_per_query"][...] = summary["cost_per_query"] * 2
    summary.to_netcdf(path, engine="h5netcdf")
    err = one_line_error(capsys, ["report"])
    assert "summary.nc was changed after sim wrote it" in err, err


@pytest.mark.parametrize("change", ["nan", "missing"])
def test_a_run_without_digests_edited_after_the_fact_is_refused(saved, capsys, change):
    """A run whose run.json records no digests (an earlier sim's): NaN, or an output dropped, is still seen."""
    import json

    import xarray as xr

    record = json.loads((saved / "run.json").read_text())
    del record["sha256"]
    (saved / "run.json").write_text(json.dumps(record))
    path = saved / "samples.nc"
    ds = xr.load_dataset(path)
    if change == "nan":
        ds["cost_per_query"][..., 0] = float("nan")
        message = "output cost_per_query holds NaN or infinite values, which sim never writes; it was changed after"
    else:
        ds = ds.drop_vars("cost_per_query")
        message = "has no output cost_per_query of 300 samples, which sim writes; it was changed after the run"
    ds.to_netcdf(path, engine="h5netcdf")
    for command in ("report", "decide", "sensitivity"):
        err = one_line_error(capsys, [command])
        assert message in err and err.endswith("run `sim run experiments/search_cost.toml` again"), err


@pytest.mark.parametrize("seed", ["12.5", "abc"])
def test_a_saved_run_whose_seed_is_not_an_integer_is_refused(saved, capsys, seed):
    """The seed attribute of samples.nc and summary.nc rewritten as text (run.json's digests removed, so the
    attribute itself is what is read): one line, no traceback."""
    import json

    import xarray as xr

    record = json.loads((saved / "run.json").read_text())
    del record["sha256"]
    (saved / "run.json").write_text(json.dumps(record))
    for name in ("samples.nc", "summary.nc"):
        ds = xr.load_dataset(saved / name)
        ds.attrs["seed"] = seed
        ds.to_netcdf(saved / name, engine="h5netcdf")
    for command in ("report", "decide", "sensitivity"):
        err = one_line_error(capsys, [command])
        assert f"a saved run's seed is {seed!r}, not a whole number as sim writes it" in err, err


def test_a_run_folder_in_use_by_another_sim_is_refused_and_freed_when_it_is_killed(saved, capsys):
    """Another process holds outputs/search_cost (as a running `sim run` does): run, report, decide and sensitivity
    are refused in one line naming it, and nothing changes; killed, it frees the folder for the next run."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, sim, sim.store as s\n"
                               "with s.holding('outputs', sim.load_experiment('experiments/search_cost.toml')):\n"
                               "    print('held', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        before = {p: p.stat().st_mtime_ns for p in saved.rglob("*")}
        for argv in (["run", "--samples", "300", "--no-report"], ["report"], ["decide"], ["sensitivity"]):
            assert one_line_error(capsys, argv) == (
                f"sim: error: outputs/search_cost is in use by another sim (process {holder.pid}); wait for it to "
                "finish, or give another --out")
        assert {p: p.stat().st_mtime_ns for p in saved.rglob("*")} == before
    finally:
        holder.kill()
        holder.communicate()
    assert (saved.parent / ".search_cost.lock").exists()  # left by the killed holder; its lock died with it
    assert main(["run", "--samples", "300", "--no-report"]) == 0
    assert [p.name for p in saved.parent.iterdir()] == ["search_cost"]


@pytest.mark.parametrize("command", ["report", "decide", "sensitivity"])
def test_an_analysis_of_a_saved_run_too_large_for_memory_is_refused_before_loading(saved, capsys, monkeypatch,
                                                                                  command):
    from sim import engine, memory

    monkeypatch.setattr(memory, "available_memory", lambda: (2**10, "available"))
    factor, extra = memory.MEMORY_USE[command]
    need = factor * engine.run_bytes(sim.load_experiment("experiments/search_cost.toml"), 300) + extra
    before = listing(saved)
    assert one_line_error(capsys, [command]) == (
        f"sim: error: experiments/search_cost.toml: sim {command} of the saved run of 300 samples would need about "
        f"{need / 2**30:.1f} "
        "GiB of memory, more than the 0.0 GiB available; it can read a run of at most about 0 samples")
    assert listing(saved) == before


def test_a_full_filesystem_is_one_line_and_keeps_the_earlier_run(project, capsys, tmp_path):
    """On a real 3 MiB filesystem: a run fits; a second, larger one (its report does not fit) fails while writing,
    in one line and exit status 2 (it was an HDF5 traceback and then a segfault), and the first run stays whole."""
    import subprocess
    import sys

    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(small)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a small filesystem needs root")
    try:
        out = small / "o"
        assert main(["run", "--samples", "500", "--no-report", "--out", str(out)]) == 0
        capsys.readouterr()
        before = {p: p.read_bytes() for p in (out / "search_cost").rglob("*") if p.is_file()}
        done = subprocess.run([sys.executable, "-m", "sim", "run", "--samples", "1500", "--out", str(out)],
                              capture_output=True, text=True, timeout=300)
        assert (done.returncode, done.stderr) == (2, f"sim: error: --out {out}: cannot write {out / 'search_cost'} "
                                                     "(No space left on device); nothing was changed there\n")
        assert {p: p.read_bytes() for p in (out / "search_cost").rglob("*") if p.is_file()} == before
        assert [p.name for p in out.iterdir()] == ["search_cost"]  # no staging folder or lock file left
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


def test_record_holds_the_inputs_and_reproduces_the_run(project, capsys):
    assert main(["run", "--samples", "3000", "--seed", "11", "--no-report"]) == 0
    folder = project / "outputs" / "search_cost"
    record = json.loads((folder / "inputs" / "record.json").read_text())
    paths = sorted(f["path"] for f in record["files"])
    assert paths == ["experiments/search_cost.toml", "priors/margin_2026.toml", "priors/market_2026.toml",
                     "priors/seed_2023.toml"]
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
    assert "was made with priors hash" in one_line_error(capsys, ["report", "inference_cost"])


def test_no_run_or_a_stale_run_is_refused(project, capsys):
    assert_error(capsys, ["report"], r"^sim: error: no saved run of experiment 'search_cost' \(outputs/search_cost/samples\.nc "
                            r"does not exist\); run `sim run experiments/search_cost\.toml` first$")
    assert not (project / "outputs").exists()
    assert main(["run", "--samples", "500", "--no-report"]) == 0
    priors = project / "priors" / "seed_2023.toml"
    priors.write_text(priors.read_text().replace("ci90 = [0.55, 0.85]", "ci90 = [0.5, 0.85]"))
    folder = project / "outputs" / "search_cost"
    listing = sorted(p.name for p in folder.iterdir())
    assert_error(capsys, ["report"], r"^sim: error: outputs/search_cost/samples\.nc was made with priors hash [0-9a-f]{12}, "
                            r"but the priors of experiments/search_cost\.toml now hash [0-9a-f]{12}; run "
                            r"`sim run experiments/search_cost\.toml` to update it$")
    assert sorted(p.name for p in folder.iterdir()) == listing  # no report of stale numbers
    (folder / "samples.nc").write_bytes(b"not a netcdf file")
    assert_error(capsys, ["report"], r"^sim: error: outputs/search_cost/samples\.nc was changed after sim wrote it "
                            r"\(its SHA-256 is not the one outputs/search_cost/run\.json records\); run "
                            r"`sim run experiments/search_cost\.toml` again$")
    (folder / "run.json").unlink()  # with no digests recorded, the file is read, and cannot be
    assert_error(capsys, ["report"], r"^sim: error: outputs/search_cost/samples\.nc: cannot read the saved run .*; run "
                            r"`sim run experiments/search_cost\.toml` again$")


# --- the store's functions, on runs made in the test -----------------------------------------------------------


@pytest.fixture(scope="module")
def small(search_experiment):
    """A run of the default experiment (500 samples), its labelled summary and table."""
    from sim.report import summary_table

    ds = sim.run(search_experiment, samples=500, seed=3)
    summary = sim.summarize_run(ds)
    return ds, summary, summary_table(summary)


def test_a_run_written_is_the_run_read(search_experiment, small, tmp_path):
    from sim import store

    ds, summary, table = small
    folder, notices = store.write_run(search_experiment, tmp_path, summary, table, samples=ds, size=ds.nbytes)
    assert folder == tmp_path / "search_cost" and notices == []
    assert sorted(p.name for p in folder.iterdir()) == ["inputs", "run.json", "samples.nc", "summary.csv", "summary.nc"]
    run = json.loads((folder / "run.json").read_text())
    assert {k: run[k] for k in store.IDENTITY} == store.identity(ds.attrs) == {
        "priors_hash": search_experiment.priors_hash(), "seed": 3, "sampler": "random", "samples": 500,
        "mode": "monte_carlo"}
    assert run["command"] == store.reproduce_command(ds.attrs, tmp_path)
    recorded, again = store.load_run(search_experiment, tmp_path)
    xr.testing.assert_identical(again, xr.load_dataset(folder / "samples.nc"))
    for name in ds.data_vars:
        np.testing.assert_array_equal(again[name].values, ds[name].values)
    assert recorded.priors_hash() == search_experiment.priors_hash()
    xr.testing.assert_identical(store.saved_summary(folder, ds.attrs), summary)
    assert store.load_summary(search_experiment, tmp_path)[1].attrs["samples"] == 500


def test_the_reproduce_command_is_made_from_structured_attrs():
    from sim import store

    attrs = {"experiment_file": "experiments/x.toml", "samples": 4096, "seed": 7, "sampler": "sobol",
             "run_overrides": json.dumps({"set": {"cache_hit_rate": 0.5}, "scenarios": ["baseline"]}),
             "stream_relative_error": 0.001}
    assert store.reproduce_command(attrs, "elsewhere") == (
        "sim run experiments/x.toml --samples 4096 --seed 7 --sampler sobol --set cache_hit_rate=0.5 --scenario "
        "baseline --stream --relative-error 0.001 --out elsewhere")
    assert store.reproduce_command({**attrs, "run_overrides": "", "stream_relative_error": 0.01}) == (
        "sim run experiments/x.toml --samples 4096 --seed 7 --sampler sobol --stream --relative-error 0.01")


def test_an_analysis_is_kept_beside_its_run_and_replaced_for_another(search_experiment, small, tmp_path):
    import pandas as pd

    from sim import store

    ds, summary, table = small
    store.write_run(search_experiment, tmp_path, summary, table, samples=ds)
    first = pd.DataFrame({"a": [1.5]})
    store.write_derived(tmp_path, search_experiment, "decision", {"decision.csv": first}, ds.attrs)
    store.write_derived(tmp_path, search_experiment, "decision", {"stress.csv": first}, ds.attrs)
    folder = tmp_path / "search_cost" / "decision"
    assert sorted(p.name for p in folder.iterdir()) == ["decision.csv", "run.json", "stress.csv"]  # one run's studies
    other = {**ds.attrs, "seed": 4}
    store.write_derived(tmp_path, search_experiment, "decision", {"goal_seek.csv": first}, other)
    assert sorted(p.name for p in folder.iterdir()) == ["goal_seek.csv", "run.json"]  # another run's: replaced
    # a new run of another identity removes the analysis, saying so
    again = sim.run(search_experiment, samples=500, seed=5)
    _, notices = store.write_run(search_experiment, tmp_path, sim.summarize_run(again), table, samples=again)
    assert len(notices) == 1 and notices[0].startswith(f"removed {folder}: it was made from the run of 500 samples")
    assert not folder.exists()


def test_a_new_experiment_file_never_replaces_one_and_must_load(project):
    from sim import store

    text = (project / "experiments" / "search_cost.toml").read_text()
    path = store.write_new_experiment(project / "experiments" / "copy.toml", text)
    assert path.read_text() == text
    with pytest.raises(sim.SimError, match="copy.toml exists; sim does not replace it"):
        store.write_new_experiment(path, text + "\n# changed\n")
    assert path.read_text() == text
    with pytest.raises(sim.ConfigError, match=r"experiments/bad\.toml: nope: unknown top-level key"):
        store.write_new_experiment(project / "experiments" / "bad.toml", "nope = 1\n" + text)
    assert sorted(p.name for p in (project / "experiments").iterdir() if "copy" in p.name or "bad" in p.name
                  or "staged" in p.name) == ["copy.toml"]


def test_a_held_folder_is_refused_to_a_second_holder(search_experiment, tmp_path):
    import os

    from sim import store

    with store.holding(tmp_path, search_experiment):
        with pytest.raises(sim.SimError, match=rf"search_cost is in use by another sim \(process {os.getpid()}\)"):
            with store.holding(tmp_path, search_experiment):
                pass
    with store.holding(tmp_path, search_experiment):  # free again once the hold ends
        pass
    assert list(tmp_path.iterdir()) == []  # the lock file goes with the hold


@pytest.mark.parametrize("planted", ["link", "fifo"])
def test_a_planted_lock_file_is_not_followed(saved, tmp_path, capsys, planted):
    """outputs/.search_cost.lock planted as a symbolic link to another file (or as a FIFO): sim decide, sensitivity
    and run refuse it in one line; the link's target keeps its bytes and the run folder is unchanged."""
    import os

    lock = saved.parent / ".search_cost.lock"
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    if planted == "link":
        lock.symlink_to(target)
        message = ("outputs/.search_cost.lock is a symbolic link; sim does not follow it: remove it, or give another "
                   "--out")
    else:
        os.mkfifo(lock)
        message = "outputs/.search_cost.lock is not a plain file; remove it, or give another --out"
    before = listing(saved)
    for command in (["decide", "--out", "outputs"], ["sensitivity"], ["run", "--samples", "300", "--no-report"]):
        assert message in one_line_error(capsys, command)
    assert target.read_text() == "keep me\n"
    assert listing(saved) == before


def _files(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_samples_written_while_the_summaries_are_made_give_the_same_run(search_experiment, small, tmp_path):
    """`sim run` writes samples.nc in a thread while it summarises: the same files, digests and record as
    `write_run` of the finished parts."""
    from sim import store

    ds, summary, table = small
    at_once, _ = store.write_run(search_experiment, tmp_path / "a", summary, table, samples=ds)
    with store.writing_run(search_experiment, tmp_path / "b", ds) as pending:
        pending.finish(summary, table)
    assert pending.folder == tmp_path / "b" / "search_cost" and pending.notices == []
    runs = [json.loads((f / "run.json").read_text()) for f in (at_once, pending.folder)]
    assert runs[0][store.DIGESTS] == runs[1][store.DIGESTS]  # the same bytes
    assert list(runs[1][store.DIGESTS]) == ["samples.nc", "summary.nc", "summary.csv"]


@pytest.mark.parametrize("failing", ["summaries", "samples"])
def test_a_failure_while_the_samples_are_written_keeps_the_earlier_run(saved, capsys, monkeypatch, failing):
    """A summary that fails (here an OSError of its own, not a write) or a samples.nc that cannot be written:
    the earlier run stays whole, no staging folder is left, and the error is the one that happened."""
    from sim import api, store

    before = _files(saved)
    if failing == "summaries":
        def broken(ds):
            raise FileNotFoundError("a font file the summary needed")
        monkeypatch.setattr(api, "summarize_run", broken)
        with pytest.raises(FileNotFoundError, match="a font file"):  # not called a failure to write the run
            main(["run", "--samples", "400", "--no-report"])
    else:
        real = store._write_value

        def full(path, value):
            if isinstance(value, xr.Dataset) and "sample" in value.dims:
                raise OSError(28, "No space left on device")
            real(path, value)
        monkeypatch.setattr(store, "_write_value", full)
        assert main(["run", "--samples", "400", "--no-report"]) == 2
        assert capsys.readouterr().err == (f"sim: error: --out outputs: cannot write {saved.relative_to(saved.parents[1])}"
                                           " (No space left on device); nothing was changed there\n")
    assert _files(saved) == before
    assert [p.name for p in saved.parent.iterdir()] == ["search_cost"]  # no staging folder left, nor the lock


def test_the_finite_check_of_a_lazily_read_run_sees_every_slice(tmp_path):
    """`sim report` reads a run lazily and checks its outputs a slice of samples at a time: a NaN in the last
    slice is seen."""
    from sim import store

    values = np.ones((2, 2**17 + 5))
    values[1, -1] = np.nan
    xr.Dataset({"y": (("cell", "sample"), values)}).to_netcdf(tmp_path / "r.nc", engine="h5netcdf")
    with xr.open_dataset(tmp_path / "r.nc", engine="h5netcdf") as lazy:
        assert not store._finite(lazy["y"])
        assert store._finite(lazy["y"].isel(sample=slice(0, 2**17 + 4)))
