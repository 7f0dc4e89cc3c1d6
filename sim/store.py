"""The run folder: its layout, writing and loading a run, its record, and what a new run invalidates.

One folder per experiment, ``<out>/<experiment>/``::

    samples.nc        every sample (runs kept in memory; absent for streamed runs)
    summary.nc        the labelled summary (:func:`sim.analysis.summary.summary_dataset`)
    summary.csv       its table view
    run.json          the run's identity (priors hash, seed, sampler, samples, kind) and settings
    inputs/           copies of the input files, their SHA-256 and the commands (``record.json``)
    report.html, report.md, figures/, tables/     the report of this run
    decision/, sensitivity/                        analyses of this run, each with its own run.json
    calibration/      the run conditioned on observations (sim calibrate): posterior.nc, posterior.csv,
                      observations.csv, inputs/ (the observations files), run.json; the posterior's own
                      decision/, sensitivity/ and report, as a run folder holds them

Only this module names these files. It writes what the library returns:
Datasets as NetCDF, tables as CSV at full precision, and a rendered report
(:class:`sim.report.document.Rendered`).

A run is written to a staged folder and swapped in whole (see
:func:`sim._files.staged_folder`). A derived result (``decision/``,
``sensitivity/``, the report) belongs to the run it was made from: a new run
keeps it only when the identities match, and removes it otherwise, saying so.
Analyses read the saved run and are refused, with the command to run, when
there is none or it was made from other priors.

The module is long because the run folder is one contract: writing a run whole, reading it back
checked, holding it against another command, its record of inputs, and what a new run invalidates.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shlex
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ._files import atomic_path, check_beside, name_stem, settle, sha256_file, staged_folder
from .engine import check_memory
from .memory import MEMORY_USE
from .errors import ConfigError, SimError
from .experiment import Experiment, as_run, load_experiment, run_overrides

__all__ = ["run_folder", "what_if_out", "OUT", "holding", "identity", "reproduce_command", "rerun_command",
           "write_run", "writing_run", "PendingRun", "load_run", "summary_table", "load_summary", "write_derived",
           "write_report", "write_new_experiment", "saved_summary", "write_calibration", "load_posterior",
           "analysis_folder", "RECORD", "SAMPLES", "SUMMARY", "SUMMARY_TABLE", "REPORT_HTML", "REPORT_MD", "FIGURES",
           "TABLES", "REPORT_FILES", "DERIVED", "EXPORT", "CALIBRATION", "POSTERIOR", "CHECKS", "load_checks",
           "write_arviz", "check_file_name", "write_new_priors", "write_figure"]

SAMPLES = "samples.nc"
SUMMARY = "summary.nc"
SUMMARY_TABLE = "summary.csv"
RUN = "run.json"
#: The key of ``run.json`` that holds the SHA-256 of each file sim wrote beside it.
DIGESTS = "sha256"
RECORD = "inputs"
REPORT_HTML = "report.html"
REPORT_MD = "report.md"
FIGURES = "figures"
TABLES = "tables"
#: The report's files in a run folder.
REPORT_FILES = (REPORT_HTML, REPORT_MD, FIGURES, TABLES)
CALIBRATION = "calibration"
#: A calibration's posterior run, and its observations' predictive checks (which the report reads).
POSTERIOR = "posterior.nc"
CHECKS = "observations.nc"
#: Folders of analyses of a run, and the command that makes each.
EXPORT = "export"
DERIVED = {"decision": "decide", "sensitivity": "sensitivity", CALIBRATION: "calibrate", EXPORT: "export"}
#: What identifies the numbers of a run: same identity, same numbers.
IDENTITY = ("priors_hash", "seed", "sampler", "samples", "mode")


def run_folder(out: str | os.PathLike, experiment: Experiment) -> Path:
    return Path(out) / experiment.name


#: The output root folder of runs.
OUT = "outputs"


def what_if_out(experiment: Experiment) -> str:
    """The output root of a run of ``experiment``: ``outputs``, or for a run with ``--set`` values, a folder of
    its own beside it (``outputs/set_cache_hit_rate=0.5``), so that a what-if never replaces the main run."""
    if not experiment.set_values:
        return OUT
    return str(Path(OUT) / ("set_" + ",".join(f"{name}={value:.12g}" for name, value in experiment.set_values)))


def _is_dir(path: Path) -> bool:
    """Whether ``path`` is a folder; False where it cannot even be asked (a name too long): the write says why."""
    try:
        return path.is_dir()
    except OSError:
        return False


@contextlib.contextmanager
def _writing(folder: Path, out, *, size: int = 0) -> Iterator[None]:
    """Check where ``folder`` goes before writing it, and turn a failure to write into one line.

    ``--out`` must be a folder (or be creatable as one) and ``folder`` must not
    be a file; ``size`` bytes must fit in the free space there. A failure while
    writing (no space, no permission, a name too long) leaves the earlier
    folder as it was: the staged one is removed.
    """
    settle()  # nothing is written from a saved run whose check has not passed
    root = Path(out)
    try:
        if root.exists() and not root.is_dir():
            raise SimError(f"--out {out}: is a file, not a folder; give a folder (it is made if missing)")
        if folder.exists() and not folder.is_dir():
            raise SimError(f"{folder} is a file, not a run folder; move it away or give another --out")
        existing = next(p for p in (root.resolve(), *root.resolve().parents) if p.exists())
        usage = shutil.disk_usage(existing)
        if size and usage.total and 1.1 * size > usage.free:  # a pseudo filesystem (/proc) has no size to check
            raise SimError(f"--out {out}: writing needs about {size / 2**30:.3g} GiB and {existing} has "
                           f"{usage.free / 2**30:.3g} GiB free; free some space, use fewer samples, or add --stream")
        yield
    except OSError as exc:
        raise SimError(f"--out {out}: cannot write {folder} ({exc.strerror or exc}); nothing was changed there") from None


@contextlib.contextmanager
def holding(out: str | os.PathLike, experiment: Experiment) -> Iterator[None]:
    """Hold ``<out>/<experiment>/`` for one command: another sim that reads or writes it meanwhile is refused.

    The hold is an exclusive ``flock`` on ``<out>/.<experiment>.lock``, a file
    removed when the hold ends (the kernel ends it if the process is killed,
    and the next holder removes the file). ``--out`` is checked as a write
    would check it, and made if missing; made and left empty, it is removed
    again, so a command that fails leaves nothing behind.
    """
    folder = run_folder(out, experiment)
    root = Path(out)
    made = [p for p in (root, *root.parents) if not _is_dir(p)]  # deepest first
    with _writing(folder, out):
        root.mkdir(parents=True, exist_ok=True)
        lock = root / f".{name_stem(folder)}.lock"
        while True:
            try:  # a planted link is not followed, nor anything but a plain file used
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                raise SimError(f"{lock} is a symbolic link; sim does not follow it: remove it, or give another "
                               "--out") from None
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise SimError(f"{lock} is not a plain file; remove it, or give another --out")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise SimError(f"{folder} is in use by another sim (process {owner}); wait for it to finish, or "
                               "give another --out") from None
            try:
                if os.lstat(lock).st_ino == os.fstat(fd).st_ino:
                    break  # else the previous holder removed the file between our open and our lock: again
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)
        for path in made:  # the folders this hold made, where they stayed empty
            with contextlib.suppress(OSError):
                path.rmdir()


def identity(attrs) -> dict:
    """The part of a run's attrs that fixes its numbers (see :data:`IDENTITY`), as plain values.

    Raises
    ------
    SimError
        When its seed or sample count is not a whole number: sim writes them so, so the run was changed.
    """
    for k in ("seed", "samples"):
        value = attrs.get(k)
        if value is not None and (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))):
            raise SimError(f"a saved run's {k} is {value!r}, not a whole number as sim writes it: the run was "
                           "changed after it was made; run the experiment again")
    return {k: (int(attrs[k]) if k in ("seed", "samples") else str(attrs[k])) for k in IDENTITY if k in attrs}


def _out_args(out) -> list[str]:
    return ["--out", str(out)] if Path(out) != Path("outputs") else []


def _run_args(attrs) -> list[str]:
    """The options that give a run's numbers: its settings, its overrides, and how it was summarised."""
    sets, only = run_overrides(attrs)
    args = ["--samples", str(int(attrs["samples"])), "--seed", str(int(attrs["seed"])), "--sampler", str(attrs["sampler"])]
    args += [a for name, value in sets.items() for a in ("--set", f"{name}={value!r}")]
    args += [a for name in only for a in ("--scenario", name)]
    if "stream_relative_error" in attrs:
        args += ["--stream", "--relative-error", f"{float(attrs['stream_relative_error']):g}"]
    return args


def reproduce_command(attrs, out: str | os.PathLike = "outputs", *, experiment_file: str | None = None) -> str:
    """The ``sim run`` command that makes the run with ``attrs`` again (its samples and its report)."""
    return shlex.join(["sim", "run", experiment_file or attrs["experiment_file"], *_run_args(attrs), *_out_args(out)])


def rerun_command(experiment: Experiment, out: str | os.PathLike = "outputs") -> str:
    """``sim run EXPERIMENT [--out OUT]``: what makes a current run of ``experiment`` under ``out``."""
    return shlex.join(["sim", "run", str(experiment.path), *_out_args(out)])


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write_json(path: Path, value: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def _write_value(path: Path, value) -> None:
    """A Dataset as NetCDF (booleans as bytes: NetCDF has no boolean type), a table as CSV at full precision (it
    round-trips exactly), text as UTF-8, bytes as they are; a function writes the file itself (``value(path)``)."""
    if isinstance(value, xr.Dataset):
        flags = [n for n, v in value.data_vars.items() if v.dtype == bool]
        value.drop_vars(flags).assign({n: value[n].astype("i1") for n in flags}).to_netcdf(path, engine="h5netcdf")
    elif isinstance(value, pd.DataFrame):
        value.to_csv(path, index=False)
    elif isinstance(value, str):
        path.write_text(value, encoding="utf-8")
    elif callable(value):
        value(path)
    else:
        path.write_bytes(value)


def _write_files(stage: Path, files: dict) -> dict[str, str]:
    """Each ``name -> value`` of ``files`` written atomically into ``stage`` (see :func:`_write_value`); returns
    each file's SHA-256, which ``run.json`` records and every read checks (:func:`_verified`)."""
    digests = {}
    for name, value in files.items():
        with atomic_path(stage / name) as tmp:
            _write_value(tmp, value)
            digests[name] = sha256_file(tmp)
    return digests


def _verified(path: Path, again: str) -> Path:
    """``path`` if its SHA-256 is the one its folder's ``run.json`` recorded when sim wrote it (or no digest was
    recorded); else SimError: the file was changed after sim wrote it, and ``again`` makes it anew."""
    recorded = (_read_json(path.parent / RUN) or {}).get(DIGESTS)
    expected = recorded.get(path.name) if isinstance(recorded, dict) else None
    if expected is not None and sha256_file(path) != expected:
        raise SimError(f"{path} was changed after sim wrote it (its SHA-256 is not the one {path.parent / RUN} "
                       f"records); {again} again")
    return path


def _write_report_into(folder: Path, report) -> None:
    """A rendered report (:class:`sim.report.document.Rendered`) into ``folder``: the figures and tables folders
    each staged and swapped in whole, so no figure of an earlier build is left behind, then the two pages."""
    with staged_folder(folder / FIGURES) as stage:
        for name, data in report.figures.items():
            (stage / f"{name}.png").write_bytes(data)
    with staged_folder(folder / TABLES) as stage:
        for name, frame in report.tables.items():
            _write_value(stage / f"{name}.csv", frame)
    _write_files(folder, {REPORT_MD: report.markdown, REPORT_HTML: report.html})


def _describe(run: dict | None) -> str:
    if not run:
        return "an earlier run of unknown identity"
    return (f"the run of {int(run.get('samples', 0)):,} samples, sampler {run.get('sampler')}, seed {run.get('seed')}, "
            f"priors hash {str(run.get('priors_hash', ''))[:12]}")


def _superseded(folder: Path, experiment: Experiment, out, new: dict) -> tuple[list[str], list[str]]:
    """The derived results of the run in ``folder`` that a run of identity ``new`` keeps, and one notice per
    derived result it removes because it no longer matches."""
    keep, notices = [], []
    if not _is_dir(folder):
        return keep, notices
    for name, command in DERIVED.items():
        if not (folder / name).exists():
            continue
        made_from = _read_json(folder / name / RUN)
        if made_from is not None and identity(made_from) == new:
            keep.append(name)
        else:
            notices.append(f"removed {folder / name}: it was made from {_describe(made_from)}, not this one; "
                           f"`sim {command} {experiment.path}{''.join(' ' + a for a in _out_args(out))}"
                           f"{' --observations FILE...' if name == CALIBRATION else ''}` makes it again")
    return keep, notices


class _BlockFailed(Exception):
    """The OSError of a :func:`writing_run` block, carried past the store's own handling of failed writes."""

    def __init__(self, error: OSError):
        super().__init__(error)
        self.error = error


class PendingRun:
    """A run being written by :func:`writing_run`: its samples are on their way to disk; :meth:`finish` gives
    the rest, written when the block ends. ``folder`` and ``notices`` are :func:`write_run`'s answer."""

    def __init__(self, folder: Path, notices: list[str]):
        self.folder, self.notices, self.parts = folder, notices, None

    def finish(self, summary: xr.Dataset, table: pd.DataFrame, report=None) -> None:
        self.parts = summary, table, report


@contextlib.contextmanager
def writing_run(experiment: Experiment, out: str | os.PathLike, samples: xr.Dataset, *,
                size: int = 0) -> Iterator[PendingRun]:
    """Write a run as ``<out>/<experiment>/`` while the block makes its summary: :func:`write_run` with
    ``samples.nc`` written (and synced) in a thread from the start of the block.

    The block calls :meth:`PendingRun.finish` with the summary, the table and
    the report; the staged folder replaces the previous run whole when the
    block ends. If the block raises, or the samples cannot be written, the
    staged folder is removed after the thread is done and the previous run is
    untouched.
    """
    from concurrent.futures import ThreadPoolExecutor

    folder = run_folder(out, experiment)
    new = identity(samples.attrs)
    keep, notices = _superseded(folder, experiment, out, new)
    had_report = _is_dir(folder) and any((folder / name).exists() for name in REPORT_FILES)
    pending = PendingRun(folder, notices)
    try:
        with _writing(folder, out, size=size), staged_folder(folder, keep=keep) as stage, \
                ThreadPoolExecutor(1, thread_name_prefix="sim-write") as pool:
            written = pool.submit(_write_files, stage, {SAMPLES: samples})  # h5py and fsync let the summaries run
            try:
                yield pending
            except BaseException as exc:
                written.exception()  # wait for the thread; its own failure, if any, is not the news
                # the block's OSError is not a failure to write: past _writing, which would call it one
                raise (_BlockFailed(exc) if isinstance(exc, OSError) else exc) from None
            if pending.parts is None:
                raise RuntimeError("writing_run: the block ended without PendingRun.finish")
            summary, table, report = pending.parts
            digests = written.result() | _write_files(stage, {SUMMARY: summary, SUMMARY_TABLE: table})
            _finish_stage(experiment, out, stage, samples.attrs, new, digests, report)
    except _BlockFailed as failed:
        raise failed.error from None
    if report is None and had_report:
        notices.append(_report_removed(experiment, out, folder))


def _report_removed(experiment: Experiment, out, folder: Path) -> str:
    return (f"removed the previous run's report in {folder}; `sim report {experiment.path}"
            f"{''.join(' ' + a for a in _out_args(out))}` builds one for this run")


def _finish_stage(experiment: Experiment, out, stage: Path, attrs, new: dict, digests: dict, report) -> None:
    """The input record, ``run.json`` (with every file's digest) and the report, into a run's staged folder."""
    write_record(experiment, attrs, stage, final=run_folder(out, experiment), out=out)
    _write_json(stage / RUN, {"experiment": experiment.name, **new, "created": attrs["created"],
                              "sim_version": attrs["sim_version"], "command": reproduce_command(attrs, out),
                              DIGESTS: digests})
    if report is not None:
        _write_report_into(stage, report)


def write_run(experiment: Experiment, out: str | os.PathLike, summary: xr.Dataset, table: pd.DataFrame, *,
              samples: xr.Dataset | None = None, report=None, size: int = 0) -> tuple[Path, list[str]]:
    """Write a run as ``<out>/<experiment>/``, replacing the previous run there whole.

    Parameters
    ----------
    summary, table : Dataset, DataFrame
        The run's labelled summary and its table (``summary.nc``, ``summary.csv``).
    samples : Dataset, optional
        The run's samples (``samples.nc``); None for a streamed run.
    report : sim.report.document.Rendered, optional
        The run's report; without it, the previous run's report is removed.
    size : int
        About how many bytes the files take, checked against the free space.

    Returns
    -------
    (Path, list of str)
        The folder, and one notice per derived result of the previous run
        that was removed because it no longer matches.
    """
    if samples is not None:
        with writing_run(experiment, out, samples, size=size) as pending:
            pending.finish(summary, table, report)
        return pending.folder, pending.notices
    folder = run_folder(out, experiment)
    new = identity(summary.attrs)
    keep, notices = _superseded(folder, experiment, out, new)
    if report is None and _is_dir(folder) and any((folder / name).exists() for name in REPORT_FILES):
        notices.append(_report_removed(experiment, out, folder))
    with _writing(folder, out, size=size), staged_folder(folder, keep=keep) as stage:
        digests = _write_files(stage, {SUMMARY: summary, SUMMARY_TABLE: table})
        _finish_stage(experiment, out, stage, summary.attrs, new, digests, report)
    return folder, notices


def _check_identity(path: Path, attrs, experiment: Experiment, out) -> Experiment:
    """``experiment`` as the run with ``attrs`` was made (its ``--set``, ``--scenario``), or SimError if stale."""
    rerun = f"run `{rerun_command(experiment, out)}`"
    identity(attrs)  # its seed and sample count are whole numbers
    if attrs.get("model") != experiment.model.name:
        raise SimError(f"{path} was made by model {attrs.get('model')!r}, but {experiment.path} now uses "
                       f"{experiment.model.name!r}; {rerun} to update it")
    try:
        as_recorded = as_run(experiment, attrs)  # the run's own --set and --scenario
    except (SimError, ValueError):  # an override the experiment no longer takes: the hash check names it
        as_recorded = experiment
    saved, now = str(attrs.get("priors_hash", "")), as_recorded.priors_hash()
    if saved != now:
        raise SimError(f"{path} was made with priors hash {saved[:12] or 'none'}, but the priors of "
                       f"{experiment.path} now hash {now[:12]}; {rerun} to update it")
    return as_recorded


def _open(path: Path, experiment: Experiment, out, again: str | None = None, *, lazy: bool = False) -> xr.Dataset:
    """The saved run at ``path``, its SHA-256 checked against ``run.json``'s record (a changed file is named as
    such, even where it no longer reads). The file is hashed in a thread while it is read (both release the GIL):
    loaded whole, before this returns (0.43 s of hashing and 0.65 s of reading take 0.51 s for a 690 MB run);
    opened lazily, while the caller reads it, the check pending until :func:`sim._files.settle`, which every write
    of the store, every fork and a command's end wait for."""
    rerun = again or f"run `{rerun_command(experiment, out)}`"
    check_beside(lambda: _verified(path, rerun))
    try:
        ds = (xr.open_dataset if lazy else xr.load_dataset)(path, engine="h5netcdf")
    except Exception as exc:  # any failure to read is the same problem for the user
        settle()  # a changed file is named before a read error
        raise SimError(f"{path}: cannot read the saved run ({type(exc).__name__}: {exc}); {rerun} again") from None
    if not lazy:
        settle()
    return ds


def load_summary(experiment: Experiment, out: str | os.PathLike = "outputs") -> tuple[Experiment, xr.Dataset]:
    """The saved run's labelled summary (any run, streamed or not), checked against the experiment's priors.

    Returns
    -------
    (Experiment, Dataset)
        The experiment with the run's own overrides (see
        :func:`sim.experiment.as_run`) and the summary Dataset.
    """
    path = run_folder(out, experiment) / SUMMARY
    if not path.is_file():
        raise SimError(f"no saved run of experiment {experiment.name!r} ({path} does not exist); "
                       f"run `{rerun_command(experiment, out)}` first")
    summary = _open(path, experiment, out)
    return _check_identity(path, summary.attrs, experiment, out), summary


def saved_summary(folder: Path, attrs) -> xr.Dataset | None:
    """The labelled summary saved beside the samples with ``attrs``, if it is there, readable and of that run."""
    path = Path(folder) / SUMMARY
    if path.is_file():
        _verified(path, "run the experiment")
    try:
        summary = xr.load_dataset(path, engine="h5netcdf")
    except Exception:  # missing or unreadable: the caller summarises the samples again
        return None
    return summary if identity(summary.attrs) == identity(attrs) else None


def summary_table(folder: Path) -> pd.DataFrame | None:
    """The summary table (``summary.csv``) in a run folder, if it is there."""
    path = Path(folder) / SUMMARY_TABLE
    return pd.read_csv(path) if path.is_file() else None


def _finite(da: xr.DataArray) -> bool:
    """Whether every value of ``da`` is finite, read a slice of samples at a time (a lazily opened run's output
    is not loaded whole for the check)."""
    step = 2**17
    return all(bool(np.isfinite(da.isel(sample=slice(a, a + step)).values).all())
               for a in range(0, da.sizes["sample"], step))


def load_run(experiment: Experiment, out: str | os.PathLike = "outputs", *,
             command: str = "report", lazy: bool = False) -> tuple[Experiment, xr.Dataset]:
    """The saved run's samples, checked against the experiment's current priors.

    With ``lazy``, the variables are read from the file when first used
    (each then kept in memory), so a command that needs a few of them, or the
    first samples of them, does not load the rest; close the Dataset when done.
    The file's SHA-256 check then runs in a thread while it is read:
    :func:`sim._files.settle` waits for it (every write of the store does first).

    Returns
    -------
    (Experiment, Dataset)
        The experiment with the overrides the run was made with, and the run.

    Raises
    ------
    SimError
        When there is no saved run, it cannot be read, it kept no samples
        (a streamed run), or it was made by another model or other priors: an
        analysis of it would show stale numbers. The message gives the
        command to run, with the same ``--out``.
    """
    folder = run_folder(out, experiment)
    path = folder / SAMPLES
    rerun = f"run `{rerun_command(experiment, out)}`"
    if not path.is_file():
        if (folder / SUMMARY_TABLE).is_file():
            raise SimError(f"the saved run in {folder} was streamed and kept no samples, which sim {command} needs; "
                           f"{rerun} (without --stream) first")
        raise SimError(f"no saved run of experiment {experiment.name!r} ({path} does not exist); {rerun} first")
    samples = (_read_json(folder / RUN) or {}).get("samples")
    if isinstance(samples, int) and samples > 0:
        check_memory(experiment, samples, work=command if command in MEMORY_USE else "report", saved=True)
    ds = _open(path, experiment, out, lazy=lazy)
    if ds.attrs.get("mode") != "monte_carlo" or "samples" not in ds.attrs:
        raise SimError(f"{path} is not a Monte Carlo run of sim; {rerun}")
    recorded = _check_identity(path, ds.attrs, experiment, out)
    for name in experiment.model.outputs:  # sim writes every output, finite: anything else was edited after
        if name not in ds.data_vars or ds[name].sizes.get("sample") != int(ds.attrs["samples"]):
            raise SimError(f"{path} has no output {name} of {int(ds.attrs['samples']):,} samples, which sim writes; "
                           f"it was changed after the run: {rerun} again")
        if not (_finite(ds[name]) if lazy else bool(np.isfinite(ds[name].values).all())):
            raise SimError(f"{path}: output {name} holds NaN or infinite values, which sim never writes; it was "
                           f"changed after the run: {rerun} again")
    return recorded, ds


def analysis_folder(out: str | os.PathLike, experiment: Experiment, posterior: bool = False) -> Path:
    """The folder an analysis of the saved run writes into: the run folder, or for its posterior
    (``sim calibrate``), the calibration folder."""
    folder = run_folder(out, experiment)
    return folder / CALIBRATION if posterior else folder


def write_derived(out: str | os.PathLike, experiment: Experiment, kind: str, files: dict, attrs, *,
                  posterior: bool = False) -> list[Path]:
    """Write an analysis of the saved run of ``experiment`` under ``out`` as ``<run folder>/<kind>/`` (of its
    posterior: ``<run folder>/calibration/<kind>/``), beside that run's other results.

    ``files`` maps file names to tables (CSV) and Datasets (NetCDF). Files
    of other studies of the same run (a stress test beside the decision
    measures) are kept; those of another run are not. The analysis records
    the run's identity in ``run.json``, so that a new run can tell whether it
    still holds.
    """
    folder = analysis_folder(out, experiment, posterior)
    target = folder / kind
    made_from = _read_json(target / RUN)
    same = made_from is not None and identity(made_from) == identity(attrs)
    keep = [p.name for p in target.iterdir() if p.name not in files and p.name != RUN] if same and target.is_dir() else []
    with _writing(target, folder.parent), staged_folder(target, keep=keep) as stage:
        kept = (made_from or {}).get(DIGESTS)
        digests = {k: v for k, v in kept.items() if k in keep} if isinstance(kept, dict) else {}
        digests |= _write_files(stage, files)
        _write_json(stage / RUN, identity(attrs) | {DIGESTS: digests})
    return [target / name for name in files]


# --- the record ------------------------------------------------------------------

def _model_record(experiment: Experiment) -> dict:
    """The model: its name and source; for a user's module, its file and SHA-256 (it is not copied)."""
    import importlib.util

    model = experiment.model
    record = {"name": model.name, "source": model.source}
    if model.digest:
        record["digest"] = model.digest
    if model.origin and model.origin[0] == "module" and model.source != "sim":
        spec = importlib.util.find_spec(model.origin[1].split(":")[0])
        if spec is not None and spec.origin and Path(spec.origin).is_file():
            record |= {"module_file": spec.origin, "module_sha256": sha256_file(spec.origin)}
    return record


def write_record(experiment: Experiment, attrs: dict, stage: str | os.PathLike, *, final: str | os.PathLike,
                 out: str | os.PathLike = "outputs") -> Path:
    """Copy the experiment's input files into ``stage/inputs`` and write ``record.json``.

    Every run folder gets ``inputs/``: a copy of each file the experiment
    read (the experiment, its priors files, catalogues, a Python model file),
    laid out as they were relative to one another so the copied experiment
    runs as it is, and ``inputs/record.json`` with each file's SHA-256 and two
    commands that give the same numbers: one from the project folder, one
    from the copies alone.

    Parameters
    ----------
    attrs : dict
        The run's provenance (a run Dataset's ``attrs``).
    stage : path
        The folder being written (it becomes ``final`` when complete).
    final : path
        Where the folder will live, for the commands in the record.
    out : path
        The output root of the run.
    """
    files = [Path(f) for f in experiment.files]
    root = Path(os.path.commonpath([f.parent for f in files]))
    folder = Path(stage) / RECORD
    entries = []
    for f in files:
        rel = f.relative_to(root)
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, folder / rel)
        entries.append({"path": rel.as_posix(), "source": str(f), "sha256": sha256_file(folder / rel),
                        "bytes": (folder / rel).stat().st_size})
    copied = Path(final) / RECORD / files[0].relative_to(root)
    record = {
        "experiment": experiment.name,
        "sim_version": attrs["sim_version"],
        "priors_hash": attrs["priors_hash"],
        "created": attrs["created"],
        "model": _model_record(experiment),
        "command": reproduce_command(attrs, out),
        "command_from_record": shlex.join(["sim", "run", str(copied), *_run_args(attrs), "--out", "OUT"]),
        "files": entries,
    }
    _write_json(folder / "record.json", record)
    return folder / "record.json"



def write_report(out: str | os.PathLike, experiment: Experiment, report, *, posterior: bool = False) -> Path:
    """Replace the report in the run folder of ``experiment`` under ``out`` (of its posterior: in the calibration
    folder) with ``report`` (:class:`sim.report.document.Rendered`); keep the rest."""
    folder = analysis_folder(out, experiment, posterior)
    with _writing(folder, folder.parent), \
            staged_folder(folder, keep=[p.name for p in folder.iterdir() if p.name not in REPORT_FILES]) as stage:
        _write_report_into(stage, report)
    return folder


def write_calibration(out: str | os.PathLike, experiment: Experiment, files: dict, attrs,
                      observation_files=()) -> list[Path]:
    """Write a calibration of the saved run of ``experiment`` under ``out`` as ``<run folder>/calibration/``,
    replacing an earlier calibration and the analyses of its posterior whole.

    ``files`` maps file names to tables and Datasets (``posterior.nc`` among
    them); ``attrs`` are the run's, whose identity ``run.json`` records; the
    observations files are copied into ``inputs/`` with their SHA-256 in
    ``inputs/record.json``.
    """
    folder = run_folder(out, experiment)
    target = folder / CALIBRATION
    with _writing(target, folder.parent), staged_folder(target) as stage:
        digests = _write_files(stage, files)
        (stage / RECORD).mkdir()
        entries = []
        for i, source in enumerate(observation_files):
            copy = stage / RECORD / f"{i}-{Path(source).name}"
            shutil.copyfile(source, copy)
            entries.append({"path": copy.name, "source": str(source), "sha256": sha256_file(copy)})
        _write_json(stage / RECORD / "record.json", {"run": identity(attrs), "observations": entries})
        _write_json(stage / RUN, identity(attrs) | {DIGESTS: digests})
    return [target / name for name in files]


def load_posterior(experiment: Experiment, out: str | os.PathLike = "outputs", *,
                   command: str = "report") -> tuple[Experiment, xr.Dataset]:
    """The saved run's posterior (``sim calibrate``), checked against the saved run and the experiment's priors.

    Raises
    ------
    SimError
        When there is no calibration, or it was made from another run than
        the one saved now, or the run itself is stale (:func:`load_run`).
    """
    folder = run_folder(out, experiment)
    path = folder / CALIBRATION / POSTERIOR
    again = f"`sim calibrate {experiment.path}{''.join(' ' + a for a in _out_args(out))} --observations FILE...`"
    if not path.is_file():
        raise SimError(f"no calibration of experiment {experiment.name!r} ({path} does not exist); run {again} first")
    made_from, run = _read_json(folder / CALIBRATION / RUN), _read_json(folder / RUN)
    if made_from is None or run is None or identity(made_from) != identity(run):
        raise SimError(f"{path} was made from {_describe(made_from)}, not the saved run; run {again} again")
    samples = (made_from or {}).get("samples")
    if isinstance(samples, int) and samples > 0:
        check_memory(experiment, samples, work=command if command in MEMORY_USE else "report", saved=True)
    ds = _open(path, experiment, out, again=f"run {again}")
    return _check_identity(path, ds.attrs, experiment, out), ds


def load_checks(experiment: Experiment, out: str | os.PathLike = "outputs") -> xr.Dataset:
    """The predictive checks of the saved calibration's observations (read after :func:`load_posterior`)."""
    path = run_folder(out, experiment) / CALIBRATION / CHECKS
    if path.is_file():
        _verified(path, f"run `sim calibrate {experiment.path} --observations FILE...`")
    try:
        checks = xr.load_dataset(path, engine="h5netcdf")
        return checks.assign(conflict=checks["conflict"].astype(bool))  # NetCDF keeps booleans as integers
    except Exception as exc:  # any failure to read is the same problem for the user
        raise SimError(f"{path}: cannot read the calibration's checks ({type(exc).__name__}: {exc}); run "
                       f"`sim calibrate {experiment.path} --observations FILE...` again") from None


def check_file_name(path: str | os.PathLike, suffix: str, flag: str, *, new: bool = False) -> Path:
    """A file's name for ``flag`` (``--arviz``, ``--output``, ``--qq``), checked before any work: its suffix, its
    folder, that it is not a folder, and (``new``) that nothing has the name yet."""
    path = Path(path)
    if path.suffix != suffix:
        raise SimError(f"{flag}: {path} must be a file name ending in {suffix}")
    if not path.parent.is_dir():
        raise SimError(f"{flag}: folder {path.parent} does not exist")
    if path.is_dir():
        raise SimError(f"{flag}: {path} is a folder; give a file name ending in {suffix}")
    if new and path.exists():
        raise SimError(f"{flag}: {path} exists; sim does not replace it: give a new file name")
    return path


def write_arviz(path: str | os.PathLike, tree) -> Path:
    """Write an ArviZ tree of groups (:class:`xarray.DataTree`) as one NetCDF file at ``path``, atomically."""
    path = check_file_name(path, ".nc", "--arviz")
    with atomic_path(path) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf")
    return path


def _write_new(path: str | os.PathLike, text: str, load) -> Path:
    """Write ``text`` as ``path``, a new file: ``load`` of it must pass before it takes the name, and an existing
    file is never replaced (checked again at the moment the name is taken)."""
    path = Path(path)
    if path.exists():
        raise SimError(f"{path} exists; sim does not replace it: give a new file name")
    if not path.parent.is_dir():
        raise SimError(f"{path}: folder {path.parent} does not exist")
    stage = path.parent / f"{path.stem}.{uuid.uuid4().hex}.staged.toml"  # a valid experiment name, to load
    try:
        stage.write_text(text, encoding="utf-8")
        try:
            load(stage)  # what is written must load: checked before it takes the name
        except ConfigError as exc:  # said of the file it would have been
            raise ConfigError(str(path) if exc.file == str(stage) else exc.file, exc.key, exc.message) from None
        os.link(stage, path)  # fails if the name exists: never replaces a file
    except FileExistsError:
        raise SimError(f"{path} exists; sim does not replace it: give a new file name") from None
    finally:
        stage.unlink(missing_ok=True)
    return path


def write_new_experiment(path: str | os.PathLike, text: str) -> Path:
    """Write experiment file ``text`` as ``path``, a new file: it must load (:func:`sim.load_experiment`) before it
    takes the name, and an existing file is never replaced.

    Raises
    ------
    SimError
        When ``path`` exists (checked again at the moment the name is taken).
    ConfigError
        When the text does not load as an experiment.
    """
    return _write_new(path, text, load_experiment)


def write_new_priors(path: str | os.PathLike, text: str) -> Path:
    """Write priors file ``text`` (``sim fit``) as ``path``, a new file that must load as priors first; an existing
    file is never replaced."""
    from .priors import load_priors

    return _write_new(path, text, load_priors)


def write_figure(path: str | os.PathLike, png: bytes) -> Path:
    """Write a figure's PNG bytes as ``path``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(png)
    return Path(path)


def write_serving(out: str | os.PathLike, table: pd.DataFrame) -> Path:
    """``sim serving --cases``: the cases with their predictions, atomically as ``out/serving.csv``."""
    path = Path(out) / "serving.csv"
    with atomic_path(path) as tmp:
        _write_value(tmp, table)
    return path
