"""Hardening at the edges (extreme options, empty regions, injected markup): one line, exit 2, nothing written."""

import pytest

import sim

from sim.cli import main

from .conftest import one_line_error, with_prior


@pytest.fixture
def saved(project, capsys):
    assert main(["run", "--samples", "300", "--no-report"]) == 0
    capsys.readouterr()
    return project / "outputs" / "search_cost"


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("argv, message", [
    (["sensitivity", "--percentiles", "50"], "argument --percentiles: must be two percentiles LOW,HIGH in percent, "
                                             "such as 10,90, got '50'"),
    (["sensitivity", "--percentiles", "10,20,30"], "must be two percentiles LOW,HIGH in percent, such as 10,90, "
                                                   "got '10,20,30'"),
    (["sensitivity", "--method", "sobol", "--sobol-n", str(2**40)],
     "--sobol-n 1099511627776: the Sobol' design: its 18,691,697,672,192 model evaluations would need about"),
    (["sensitivity", "--method", "target", "--region", "cost_per_query>inf"],
     "--region: the threshold must be a finite number or a variable of the model, got 'inf'"),
    (["sensitivity", "--method", "target", "--region", "cost_per_query>nan"],
     "--region: the threshold must be a finite number or a variable of the model, got 'nan'"),
    (["decide", "--seek", "cache_hit_rate", "--target", "nan"], "argument --target: must be a finite number, such as "
                                                                "0.9, got 'nan'"),
    (["decide", "--seek", "cache_hit_rate", "--target", "inf"], "argument --target: must be a finite number"),
    (["run", "--samples", "1"], "argument --samples: must be an integer of at least 2 (a standard deviation needs "
                                "two samples), got '1'"),
])
def test_extreme_options_are_one_line_and_write_nothing(saved, capsys, argv, message):
    before = _listing(saved)
    assert message in one_line_error(capsys, argv)
    assert _listing(saved) == before


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


def test_markdown_report_escapes_injected_markup(project, capsys):
    """Markdown viewers render HTML: text from input files cannot open a tag in report.md (the HTML escapes it too)."""
    path = project / "priors" / "seed_2023.toml"
    path.write_text(with_prior(path.read_text(), "cache_hit_rate",
                               'dist = "beta"\nci90 = [0.18, 0.50]\npoint = 0.3\nunit = "fraction"\n'
                               'source = "<script>alert(1)</script> <img src=x onerror=alert(2)> and </td> < 0.5"'))
    assert main(["run", "--samples", "500", "--no-sensitivity"]) == 0
    folder = project / "outputs" / "search_cost"
    md, page = (folder / "report.md").read_text(), (folder / "report.html").read_text()
    for text in (md, page):
        assert "<script" not in text and "<img src=x" not in text and "</td> <" not in text.replace("\n", " ")
    assert "&lt;script>alert(1)&lt;/script>" in md and "&lt;img src=x onerror=alert(2)>" in md
    assert "< 0.5" in md  # a "<" that opens nothing stays as written


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo", "link"])
def test_special_files_are_refused_without_reading(project, capsys, special):
    """A device, a FIFO, or a catalogue symlinked to /dev/zero: refused by name before any read (no hang, no
    MemoryError)."""
    import os

    path = special
    if special == "fifo":
        path = str(project / "experiments" / "fifo.toml")
        os.mkfifo(path)
    elif special == "link":
        catalogue = project / "priors" / "catalogues" / "models.toml"
        catalogue.unlink()
        catalogue.symlink_to("/dev/zero")
        path = str(project / "experiments" / "training_cost.toml")
    err = one_line_error(capsys, ["validate", path] if special != "fifo" else ["run", path])
    assert "is not a regular file (a device, pipe or socket); give a TOML file" in err
    assert not (project / "outputs").exists()


def test_a_file_over_the_size_limit_is_refused(project, capsys):
    from sim._files import MAX_INPUT_BYTES

    big = project / "priors" / "big.toml"
    big.write_text("# padding\n" * (MAX_INPUT_BYTES // 10 + 1))
    assert "file is larger than 16 MiB; sim's input files are small TOML files" in one_line_error(
        capsys, ["validate", str(big)])


def test_the_priors_hash_depends_on_content_not_on_how_the_path_is_spelled(project, capsys):
    """A sweep experiment run by its absolute path, then reported by its bare name, is the same run."""
    assert main(["run", str(project / "experiments" / "training_cost.toml"), "--samples", "200", "--no-report"]) == 0
    assert main(["report", "training_cost", "--no-sensitivity"]) == 0


def test_point_mode_has_the_runs_nan_guard(project, capsys):
    """A catalogue entry that overflows: sim point stops in one line, as sim run does, instead of printing inf."""
    path = project / "priors" / "catalogues" / "models.toml"
    text = path.read_text()
    start = text.index("[models.gpt3]")
    path.write_text(text[:start] + text[start:].replace("active_params = 175e9", "active_params = 1e308", 1))
    for argv, where in ((["point", "training_cost"], "in point mode in 1 cell(s)"),
                        (["run", "training_cost", "--samples", "100", "--no-report"], "in 100 of 100 samples")):
        err = one_line_error(capsys, argv)
        assert f"output training_flops is NaN or infinite {where} (first in scenario baseline, model gpt3)" in err, err
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("rel", ["1e-300", "1e-9", "1e-12", "0.5"])
def test_relative_error_is_bounded_to_what_the_histogram_represents(project, capsys, rel):
    err = one_line_error(capsys, ["run", "--stream", "--samples", "2000", "--relative-error", rel])
    assert "argument --relative-error: must be a number from 0.0001 to 0.1 (the histogram's bins grow as 1/REL)" in err
    assert not (project / "outputs").exists()


def test_a_histogram_that_would_outgrow_its_memory_says_so():
    """Values spanning 600 decades at a relative error of 1e-6 would need 5 GiB of bins: refused as it grows."""
    import numpy as np

    from sim.errors import SimError
    from sim.studies.stream import LogHistogram

    h = LogHistogram(1, relative_error=1e-6)
    h.add(np.array([[1.0, 2.0]]))
    with pytest.raises(SimError, match=r"--relative-error 1e-06: the values span [0-9,]+ histogram bins per cell "
                                       r"\(5\.\d+ GiB for one output\), more than the 1 GiB allowed"):
        h.add(np.array([[1e-300, 1e300]]))


@pytest.mark.parametrize("out, message", [
    ("README.md", "--out README.md: is a file, not a folder; give a folder (it is made if missing)"),
    ("/dev/null", "--out /dev/null: is a file, not a folder; give a folder (it is made if missing)"),
    ("/proc/x", "--out /proc/x: cannot write /proc/x/search_cost ("),
    ("x" * 300, "cannot write " + "x" * 300 + "/search_cost (File name too long); nothing was changed there"),
    ("", "argument --out: must be a folder, such as outputs, got ''"),  # it wrote the run into the current folder
])
def test_bad_out_is_one_line(project, capsys, out, message):
    (project / "README.md").write_text("a file the user keeps\n")
    err = one_line_error(capsys, ["run", "--samples", "200", "--no-report", "--out", out])
    assert message in err, err
    assert (project / "README.md").read_text() == "a file the user keeps\n"
    assert not (project / "outputs").exists()


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


@pytest.mark.parametrize("change", ["nan", "missing"])
def test_a_saved_run_edited_after_the_fact_is_refused(saved, capsys, change):
    """samples.nc edited to hold NaN, or with an output dropped: sim report, decide and sensitivity say so in one line."""
    import xarray as xr

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


@pytest.mark.parametrize("body, message", [
    # scipy gives vonmises the support [-inf, inf]; it draws in [-pi, pi], here truncated to [0, pi]
    ('dist = "scipy"\nname = "vonmises"\nparams = {kappa = 0}\ntruncate = [0, inf]\npoint = 27500',
     "priors.prompt_words.point: 27500 lies outside the prior's support [0, 3.14159]"),
    # 4 * (high - mode) overflows: the shape parameter b is infinite and every draw is the low value
    ("dist = \"pert\"\nlow = 1\nmode = 2\nhigh = 1e308\npoint = 2",
     "priors.prompt_words: the pert distribution's numbers overflow or leave its domain (its 5th, 50th and 95th "
     "percentiles come out as [1, 1, 1]); give parameters of a smaller magnitude, for example in a larger unit"),
    # high - low overflows to inf
    ("dist = \"uniform\"\nlow = -1e308\nhigh = 1e308\npoint = 0.3\nallow_negative = true",
     "priors.prompt_words: the uniform distribution's numbers overflow or leave its domain (its 5th, 50th and 95th "
     "percentiles come out as [inf, inf, inf])"),
])
def test_a_prior_that_cannot_draw_what_it_says_names_itself(project, capsys, body, message):
    path = project / "priors" / "seed_2023.toml"
    path.write_text(with_prior(path.read_text(), "prompt_words", body + '\nunit = "words/query"\nnote = "edge"'))
    for command in (["validate", "experiments/search_cost.toml"], ["run", "--samples", "100", "--no-report"],
                    ["point"]):
        assert message in one_line_error(capsys, command)
    assert not (project / "outputs").exists()


def _server(answer: bytes | None):
    """A TCP server on 127.0.0.1 that is not a Dask scheduler: it sends ``answer`` on accepting, or nothing."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed by the test
                return
            held.append(conn)
            if answer:
                conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    return listener, f"tcp://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("answer, why", [
    # a web server waits for a request line and answers nothing to Dask's binary handshake
    (None, "no Dask handshake within 1 s; is it a Dask scheduler?"),
    # read as a frame length, these bytes asked for 2.82 EiB
    (b"SSH-2.0-OpenSSH_9.2\r\n" * 4, "it answered, but not with a Dask handshake; is it a Dask scheduler?"),
])
def test_dask_at_a_service_that_is_not_a_scheduler_is_one_line(project, capsys, monkeypatch, answer, why):
    import sim.cli

    monkeypatch.setattr(sim.studies.stream, "DASK_TIMEOUT", 1)
    listener, address = _server(answer)
    try:
        assert one_line_error(capsys, ["run", "--dask", address, "--samples", "1000"]) == (
            f"sim: error: --dask: cannot reach a Dask scheduler at '{address}' ({why})")
    finally:
        listener.close()
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("address", ["", " ", "tcp://127.0.0.1 :8786"])
def test_an_empty_dask_address_is_refused_not_run_in_memory(project, capsys, address):
    assert one_line_error(capsys, ["run", "--dask", address, "--samples", "1000"]) == (
        f"sim run: error: argument --dask: must be a scheduler's address such as tcp://127.0.0.1:8786, or nothing "
        f"for a local cluster, got {address!r}")
    assert not (project / "outputs").exists()


def test_dask_at_a_scheduler_address_passes_the_handshake(project, capsys):
    """The handshake check lets a real scheduler through: a cluster of one in-process worker on 127.0.0.1."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        assert main(["run", "--dask", cluster.scheduler_address, "--samples", "2000", "--no-report"]) == 0
    assert (project / "outputs" / "search_cost" / "summary.csv").exists()


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


def test_a_failed_command_leaves_no_output_folder_behind(project, capsys):
    """The hold makes --out to put its lock in; a command that then fails removes it again."""
    assert "--sobol-n must be a power of 2" in one_line_error(capsys, ["run", "--out", "new/deeper", "--sobol-n", "3"])
    assert not (project / "new").exists()


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_the_memory_guard_reads_the_cgroup_limit(tmp_path, version):
    """A cgroup limit of 6 GiB with 1 GiB in use leaves 5 GiB, the parent's looser limit notwithstanding; the
    container's own root is read where the named path does not exist below it."""
    from sim.memory import cgroup_room

    proc = tmp_path / "cgroup"
    if version == "v2":
        proc.write_text("0::/jobs/sim\n")
        base, limit, usage, none = tmp_path / "fs", "memory.max", "memory.current", "max"
    else:
        proc.write_text("4:memory:/jobs/sim\n3:cpu:/jobs/sim\n")
        base, limit, usage, none = tmp_path / "fs" / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes", \
            str(2**63 - 4096)
    for folder, (lim, use) in {base / "jobs" / "sim": (6 * 2**30, 2**30), base / "jobs": (8 * 2**30, 2**30),
                               base: (none, 3 * 2**30)}.items():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / limit).write_text(f"{lim}\n")
        (folder / usage).write_text(f"{use}\n")
    assert cgroup_room(str(proc), str(tmp_path / "fs")) == 5 * 2**30
    (base / "jobs" / "sim" / limit).write_text(f"{none}\n")
    assert cgroup_room(str(proc), str(tmp_path / "fs")) == 7 * 2**30
    proc.write_text("0::/elsewhere\n" if version == "v2" else "4:memory:/elsewhere\n")  # only the root is there
    assert cgroup_room(str(proc), str(tmp_path / "fs")) is None


def test_the_memory_guard_reads_the_process_limit(project):
    """Under `ulimit -v` 6 GiB, 2e6 samples of training_cost (17 GiB) used to crash with a traceback; now one line
    names the limit and the sample count that fits (650,000 samples ran under that cap: 4.3 GiB peak)."""
    import re
    import resource
    import subprocess
    import sys

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, 6 * 2**30))

    for extra, message in (
            (["--no-report"], r"2,000,000 samples would need about 17\.\d GiB of memory, more than the 5\.\d GiB left "
                              r"under this process's memory limit \(ulimit -v\); run at most about 6\d\d,\d{3} samples, "
                              r"or add --stream to keep only summaries"),
            ([], r"2,000,000 samples with the report would need about 2\d\.\d GiB of memory, more than the 5\.\d GiB "
                 r"left under this process's memory limit \(ulimit -v\); run at most about 4\d\d,\d{3} samples, or add "
                 r"--no-report \(or --stream, to keep only summaries\)")):
        done = subprocess.run([sys.executable, "-m", "sim", "run", "training_cost", "--samples", "2000000", *extra],
                              capture_output=True, text=True, preexec_fn=cap, timeout=120)
        assert done.returncode == 2, done.stderr
        assert re.fullmatch(r"sim: error: experiments/training_cost\.toml: " + message + "\n", done.stderr), done.stderr
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("command", ["report", "decide", "sensitivity"])
def test_an_analysis_of_a_saved_run_too_large_for_memory_is_refused_before_loading(saved, capsys, monkeypatch,
                                                                                  command):
    from sim import engine, memory

    monkeypatch.setattr(memory, "available_memory", lambda: (2**10, "available"))
    factor, extra = memory.MEMORY_USE[command]
    need = factor * engine.run_bytes(sim.load_experiment("experiments/search_cost.toml"), 300) + extra
    before = _listing(saved)
    assert one_line_error(capsys, [command]) == (
        f"sim: error: experiments/search_cost.toml: sim {command} of the saved run of 300 samples would need about "
        f"{need / 2**30:.1f} "
        "GiB of memory, more than the 0.0 GiB available; it can read a run of at most about 0 samples")
    assert _listing(saved) == before


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
