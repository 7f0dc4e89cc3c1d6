"""Fuzzed command lines: every command with special files, bad output paths and extreme numeric options.

Each case runs ``sim`` in process under a time limit (SIGALRM) and a memory
limit (the address-space limit, ``ulimit -v``, set to what the process maps
plus 3 GiB, which sim's memory guard must read). Every case must either exit
0 with finite outputs or exit 2 with one line on stderr; no case may leave a
traceback or change a file outside its ``--out`` folder, and a case that
exits 2 may change nothing at all. The cases are drawn from a seeded
generator (``FUZZ_SEED``), so a failure names a case that can be replayed.
"""

import contextlib
import os
import random
import re
import resource
import signal
import stat
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sim.cli import main

SEED = int(os.environ.get("FUZZ_SEED", "16"))
SHARDS = 4
CASES_PER_SHARD = 60  # 240 cases in all (the first 60 of each shard of the 80 once run)
TIME_LIMIT = 60  # seconds a case may take; the slowest legitimate case here takes about 10
MEMORY_HEADROOM = 3 * 2**30

# values for numeric options: valid ones and the edges a user or a script can reach
BAD_NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e308", "1e-308", "abc", "", "1e20", "2**70", "0x10", "1_000",
               " 5", "18446744073709551617", "-0", "1e-300"]
SPECIAL = ["/dev/zero", "/dev/urandom", "/dev/null", "fifo.toml", "folder.toml", "missing.toml", "empty.toml",
           "binary.toml", "big.toml", "loop.toml", "", "x" * 300 + ".toml", "/proc/self/status"]
OUTS = ["outputs", "outputs", "outputs", "o2", "notes.md", "/dev/null", "/proc/x", "x" * 300, "nested/new/out",
        "fifo.toml", "", "folder.toml/deeper"]
HUGE = "1000000000000"  # samples: refused by the memory guard in memory
PRIOR = "api_price_per_1k_tokens"  # a prior of the default experiment
SELECTS = ["scenario=baseline", "scenario=nope", "nope=1", "=", "architecture=two_stage", "scenario="]


def _special_files(root: Path) -> None:
    os.mkfifo(root / "fifo.toml")
    (root / "folder.toml").mkdir()
    (root / "empty.toml").write_text("")
    (root / "binary.toml").write_bytes(bytes(range(256)) * 64)
    with open(root / "big.toml", "wb") as fh:  # sparse: 17 MiB over the 16 MiB limit, no disk used
        fh.truncate(17 * 2**20)
    (root / "loop.toml").symlink_to("loop.toml")
    (root / "notes.md").write_text("a file the user keeps\n")


def _number(rng, valid):
    return rng.choice(valid) if rng.random() < 0.6 else rng.choice(BAD_NUMBERS)


def _options(command: str, rng: random.Random) -> list[str]:
    """Zero to three options of ``command``, with valid and extreme values."""
    choices = {
        "run": [
            lambda: ["--samples", _number(rng, ["200", "300", "2", "64", HUGE])],
            lambda: ["--seed", _number(rng, ["0", "1", str(2**64), "-1"])],
            lambda: ["--sampler", rng.choice(["random", "sobol", "nope", ""])],
            lambda: ["--chunk-size", _number(rng, ["1", "7", "100", str(10**12)])],
            lambda: ["--set", rng.choice([f"{PRIOR}=0.002", f"{PRIOR}=nan", f"{PRIOR}=inf", f"{PRIOR}=-1",
                                          f"{PRIOR}=1e308", "=1", "nope=1", PRIOR, f"{PRIOR}=abc"])],
            lambda: ["--scenario", rng.choice(["baseline", "nope", ""])],
            lambda: ["--precision", _number(rng, ["0.5", "0.1"]), "--max-samples", _number(rng, ["1000", "4096"])],
            lambda: ["--stream"],
            lambda: ["--stream", "--relative-error", _number(rng, ["0.001", "0.1", "1e-4"])],
            lambda: ["--dask", rng.choice(["", " ", "a b"])],
            lambda: ["--output", rng.choice(["cost_per_query", "nope", ""])],
            lambda: ["--sobol-n", _number(rng, ["64", "3", str(2**40)])],
            lambda: ["--all"],
        ],
        "decide": [
            lambda: ["--cost", rng.choice(["cost_per_query", "nope", ""])],
            lambda: ["--revenue", rng.choice(["revenue_per_query", "cost_per_query", "nope"])],
            lambda: ["--volume", rng.choice(["annual_searches", "nope"])],
            lambda: ["--stress", rng.choice([PRIOR, "nope"]), _number(rng, ["0", "10"]), _number(rng, ["90", "100"])],
            lambda: ["--seek", rng.choice([PRIOR, "nope"]), "--target", _number(rng, ["0.5", "0.9", "0.01"])],
            lambda: ["--statistic", rng.choice(["p_profitable", "mean", "nope", ""])],
            lambda: ["--how", rng.choice(["value", "scale", "x"])],
            lambda: ["--bracket", _number(rng, ["0", "1e-4"]), _number(rng, ["1", "0.1"])],
            lambda: ["--select", rng.choice(SELECTS)],
            lambda: ["--all"],
        ],
        "sensitivity": [
            lambda: ["--method", rng.choice(["rank", "given", "tornado", "spider", "target", "sobol", "nope",
                                             "rank,sobol", "", "rank,rank"])],
            lambda: ["--percentiles", rng.choice(["10,90", "50", "10,20,30", "90,10", "nan,1", "-1,101", "0,100"])],
            lambda: ["--method", "spider", "--spider", rng.choice(["1e-12,50", "0,100", "50", "abc", "10,90,nan"])],
            lambda: ["--method", "target", "--region", rng.choice(["cost_per_query>0.05", "cost_per_query>nan",
                                                                   ">1", "nope>1", "cost_per_query>revenue_per_query",
                                                                   "cost_per_query>1e9", "cost_per_query"])],
            lambda: ["--method", "sobol", "--sobol-n", _number(rng, ["64", "3", str(2**40)])],
            lambda: ["--resamples", _number(rng, ["0", "10", "200"])],
            lambda: ["--select", rng.choice(SELECTS)],
            lambda: ["--output", rng.choice(["cost_per_query", "nope"])],
        ],
        "report": [
            lambda: ["--select", rng.choice(SELECTS)],
            lambda: ["--output", rng.choice(["cost_per_query", "nope"])],
            lambda: ["--revenue", rng.choice(["revenue_per_query", "nope"])],
            lambda: ["--sobol-n", _number(rng, ["64", "3", str(2**40)])],
        ],
        "check": [
            lambda: ["--figures", rng.choice(SPECIAL)],
            lambda: ["--root", rng.choice(["/dev/null", "missing", "folder.toml", "", "/proc"])],
        ],
    }.get(command, [])
    argv = []
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        if choices:
            argv += rng.choice(choices)()
    if command in ("run", "report", "decide", "sensitivity") and rng.random() < 0.4:
        argv += ["--out", rng.choice(OUTS)]
    if command == "run" and rng.random() < 0.98:
        argv.append("--no-report")  # a report costs seconds: a few cases build one
    if command == "report" and rng.random() < 0.8:
        argv.append("--no-sensitivity")
    return argv


COMMANDS = ["run"] * 30 + ["decide"] * 16 + ["sensitivity"] * 16 + ["point"] * 9 + ["validate"] * 12 + \
           ["report"] * 1 + ["models"] * 3 + ["check"] * 2 + ["swap"] * 8  # a report costs seconds: a few


def case(rng: random.Random) -> tuple[list[str], str | None]:
    """One command line, and the catalogue to swap for a special file during it (or None)."""
    command = rng.choice(COMMANDS)
    swap = None
    if command == "swap":  # a catalogue the experiment reads becomes a special file
        command = rng.choice(["run", "validate", "point"])
        swap = rng.choice(["/dev/zero", "/dev/urandom", "fifo.toml", "folder.toml", "big.toml", "loop.toml"])
        experiment = ["inference_cost"]
    elif command in ("models", "check"):
        experiment = []
    elif rng.random() < 0.8:
        experiment = rng.choice([[], ["search_cost"], ["experiments/search_cost.toml"], ["inference_cost"]])
    else:
        experiment = [rng.choice(SPECIAL)]
    if command == "validate" and not experiment:
        experiment = ["experiments/search_cost.toml"]
    argv = [command, *_options(command, rng), *experiment]
    if command == "run" and not any(a == "--samples" for a in argv):
        argv[1:1] = ["--samples", "300"]  # the default 100,000 would cost seconds a case
    if command in ("sensitivity", "report") and not any(a == "--sobol-n" for a in argv):
        argv[1:1] = ["--sobol-n", "64"]  # so would the default Sobol' design of 2**14 base samples
    if "--stream" in argv and HUGE in argv:  # valid, and as long as it asks: days
        argv[argv.index(HUGE)] = "2000"
    return argv, swap


def _snapshot(root: Path) -> dict[str, tuple]:
    seen = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            seen[os.path.relpath(path, root)] = _snapshot_entry(Path(path))
    return seen


def _inside(rel: str, out: Path | None, root: Path) -> bool:
    """Whether ``rel`` lies in the output folder ``out``, or is a folder made on the way to it."""
    if out is None:
        return False
    path = (root / rel).resolve()
    return path == out or out in path.parents or (path in out.parents and path.is_dir())


@contextlib.contextmanager
def _limits():
    """SIGALRM after TIME_LIMIT seconds, and an address-space limit of what is mapped now plus 3 GiB."""
    def hang(signum, frame):
        raise TimeoutError(f"over {TIME_LIMIT} s")

    mapped = int(re.search(r"VmSize:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (mapped + MEMORY_HEADROOM, hard))
    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(TIME_LIMIT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_limited(argv: list[str], name: str) -> int:
    """``sim argv`` in process under the time and memory limits; anything it raises fails case ``name``."""
    try:
        with _limits():
            return main(argv)
    except BaseException as exc:  # anything but the project's handled errors is a failure
        pytest.fail(f"{name}: {type(exc).__name__}: {exc}")


def check_outcome(name: str, code: int, out: str, err: str, changed: set) -> None:
    """Case ``name`` exited 0, or 2 with one line on stderr and nothing ``changed``; no traceback either way."""
    assert code in (0, 2), f"{name}: exit status {code}\n{err}"
    assert "Traceback" not in out + err, f"{name}: traceback\n{err}"
    if code == 2:
        lines = [line for line in err.splitlines() if not line.startswith("sim: warning: ")]
        assert len(lines) == 1 and re.match(r"sim( \w+)?: error: ", lines[0]), f"{name}: not one line\n{err}"
        assert not changed, f"{name}: exit 2 but changed {sorted(changed)[:5]}"


def _out_folder(argv: list[str], root: Path) -> Path | None:
    if argv[0] not in ("run", "report", "decide", "sensitivity"):
        return None
    outs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--out"]
    out = outs[-1] if outs else "outputs"
    return (root / out).resolve() if out else None


def _check_outputs(root: Path, out: Path | None, before: dict, case_name: str) -> None:
    """Every summary.nc the case wrote holds finite numbers (its Monte Carlo intervals may be NaN)."""
    if out is None or not out.is_dir():
        return
    for path in out.rglob("summary.nc"):
        rel = os.path.relpath(path, root)
        if before.get(rel) == _snapshot_entry(path):
            continue
        with xr.open_dataset(path) as ds:
            for name, values in ds.data_vars.items():
                if not name.endswith("_ci"):
                    assert np.isfinite(values.values).all(), f"{case_name}: {rel}: {name} is not finite"


def _snapshot_entry(path: Path) -> tuple:
    """A file by its mode, size and time of change; a folder by its mode (what it holds is listed on its own:
    its time changes with the lock file a command makes and removes)."""
    info = os.lstat(path)
    return (info.st_mode,) if stat.S_ISDIR(info.st_mode) else (info.st_mode, info.st_size, info.st_mtime_ns)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_command_survives_fuzzed_arguments(project, capsys, shard):
    _special_files(project)
    assert main(["run", "--samples", "300", "--no-report"]) == 0  # a saved run for report, decide and sensitivity
    capsys.readouterr()
    rng = random.Random(SEED * 100 + shard)
    outcomes = {0: 0, 2: 0}
    catalogue = project / "priors" / "catalogues" / "models.toml"
    original = catalogue.read_bytes()
    for n in range(CASES_PER_SHARD):
        argv, swap = case(rng)
        name = f"shard {shard} case {n}: sim {' '.join(repr(a) if not a or ' ' in a else a for a in argv)}" + (
            f" with {catalogue.relative_to(project)} -> {swap}" if swap else "")
        if swap:
            catalogue.unlink()
            catalogue.symlink_to(swap if swap.startswith("/") else project / swap)
        before = _snapshot(project)
        try:
            code = run_limited(argv, name)
        finally:
            if swap:
                catalogue.unlink()
                catalogue.write_bytes(original)
        out, err = capsys.readouterr()
        after = _snapshot(project)
        if swap:  # the catalogue was put back: its entry and its folder's are not the case's doing
            for snap in (before, after):
                for path in (catalogue, catalogue.parent):
                    snap.pop(str(path.relative_to(project)), None)
        changed = {rel for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel)}
        check_outcome(name, code, out, err, changed)
        if code == 0:
            folder = _out_folder(argv, project)
            outside = sorted(rel for rel in changed if not _inside(rel, folder, project))
            assert not outside, f"{name}: changed files outside its output folder: {outside[:5]}"
            _check_outputs(project, folder, before, name)
        outcomes[code] += 1
    # both outcomes are reached often: the cases test refusals and successes alike
    assert outcomes[0] >= CASES_PER_SHARD // 5 and outcomes[2] >= CASES_PER_SHARD // 3, outcomes
