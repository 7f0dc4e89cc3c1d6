"""Reading TOML input and writing output files atomically."""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import ctypes.util
import hashlib
import json
import math
import os
import re
import shutil
import tomllib
import uuid
from collections.abc import Iterable, Iterator
from glob import escape as glob_escape
from pathlib import Path

from .errors import ConfigError

__all__ = ["read_toml", "read_csv", "toml_value", "toml_key", "atomic_path", "recording_reads", "record_read",
           "staged_folder", "sha256_file", "name_stem", "check_beside", "settle"]

#: Largest input file sim reads (priors, experiments, catalogues): the project's largest is under 100 KiB.
MAX_INPUT_BYTES = 16 * 2**20

_READS: contextvars.ContextVar[list | None] = contextvars.ContextVar("_READS", default=None)


@contextlib.contextmanager
def recording_reads() -> Iterator[list[Path]]:
    """Collect the path of every file :func:`read_toml` reads inside the block (resolved, in order)."""
    files: list[Path] = []
    token = _READS.set(files)
    try:
        yield files
    finally:
        _READS.reset(token)


def record_read(path: str | os.PathLike) -> None:
    """Add ``path`` to the files being recorded (see :func:`recording_reads`), if any are."""
    reads = _READS.get()
    resolved = Path(path).resolve()
    if reads is not None and resolved not in reads:
        reads.append(resolved)


#: Checks running in threads of their own beside the reads they check (see :func:`check_beside`).
_PENDING: list = []


def check_beside(check) -> None:
    """Run ``check()`` (a saved run's SHA-256 check) in a thread of its own while the caller reads the file;
    :func:`settle` waits for it and raises what it raised."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-check")
    _PENDING.append(pool.submit(check))
    pool.shutdown(wait=False)


def settle() -> None:
    """Wait for the checks :func:`check_beside` started; the first that failed raises its error here. Every write
    of the store, every fork and a command's end wait for them, so nothing is written or forked from a changed
    run, and a command that fails while it reads one names the change rather than its symptom."""
    while _PENDING:
        _PENDING.pop().result()


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_toml(path: str | os.PathLike, what: str = "file") -> dict:
    """Parse a TOML file, turning every failure into a :class:`ConfigError`.

    Parameters
    ----------
    path : path-like
        The file to read.
    what : str
        What the file is meant to be ("priors file", "experiment file"), for
        the message when it does not exist.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise IsADirectoryError
        if path.exists() and not path.is_file():  # a device, a FIFO, a socket: reading it could never end
            raise ConfigError(str(path), "", f"{what} is not a regular file (a device, pipe or socket); "
                                             "give a TOML file")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(str(path), "", f"{what} not found") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "", f"{what} is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read {what}: {exc.strerror}") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise ConfigError(str(path), "", f"{what} is larger than {MAX_INPUT_BYTES // 2**20} MiB; sim's input files "
                                         "are small TOML files")
    record_read(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "", f"not UTF-8 text (byte {exc.start}); TOML files must be UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"TOML syntax error: {exc}") from None
    except RecursionError:
        raise ConfigError(str(path), "", "TOML nesting too deep to read") from None
    try:
        _check_text(str(path), "", data)
    except RecursionError:
        raise ConfigError(str(path), "", "TOML nesting too deep to read") from None
    return data


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def read_csv(path: str | os.PathLike, what: str = "CSV file", *, numbers=()) -> list[dict]:
    """The rows of a CSV file with a header, as dicts; the columns in ``numbers`` read as floats (blank as NaN).

    Raises
    ------
    ConfigError
        Naming the file (and the row and column) of the first problem: a
        file missing, too large or not text, no rows, a row of the wrong
        length, a number that is not one.
    """
    import csv

    path = Path(path)
    try:
        if not path.is_file():
            raise ConfigError(str(path), "", f"{what} not found")
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise ConfigError(str(path), "", f"{what} is larger than {MAX_INPUT_BYTES // 2**20} MiB")
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(str(path), "", f"cannot read {what}: {exc}") from None
    record_read(path)
    if not rows:
        raise ConfigError(str(path), "", f"{what} has no rows below its header")
    for i, row in enumerate(rows):
        if None in row or None in row.values():
            raise ConfigError(str(path), f"row {i + 2}", f"needs one value per column ({', '.join(header)})")
        for column in numbers:
            if column not in row:
                continue
            text = row[column].strip()
            try:
                row[column] = float(text) if text else float("nan")
            except ValueError:
                raise ConfigError(str(path), f"row {i + 2}", f"{column} must be a number, got {text!r}") from None
    return rows


def toml_key(key: str) -> str:
    """``key`` as a TOML key: bare where it can be, quoted otherwise."""
    return key if key and all(c.isalnum() or c in "_-" for c in key) and key.isascii() else toml_value(key)


def toml_value(value) -> str:
    """``value`` (text, number, true/false, list, table) as a TOML value: floats by their shortest round-trip
    text, so that a file read back gives the same numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


def _check_text(file: str, key: str, value) -> None:
    """Refuse control characters (NUL and the like) in keys and strings: outputs cannot carry them."""
    if isinstance(value, str) and _CONTROL.search(value):
        raise ConfigError(file, key, f"contains a control character ({_CONTROL.search(value).group()!r}); "
                                     "use printable text")
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{key}.{k}" if key else k
            if _CONTROL.search(k):
                raise ConfigError(file, sub, "the key contains a control character; use printable text")
            _check_text(file, sub, v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_text(file, f"{key}[{i}]", v)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` on success.

    The temporary file lives in the target's folder, so the final
    :func:`os.replace` is an atomic rename: a reader sees either the old
    complete file or the new complete file, never a partial one. On any
    exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # a fresh name, not a pre-created file: writers create it with the usual permissions
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if ctypes.util.find_library("c") else None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    fn = getattr(_libc, "renameat2", None)
    if fn is None:
        return False
    at_cwd = -100
    if fn(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: the filesystem cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def _link_tree(src: Path, dst: Path) -> None:
    """``src`` (file or folder) at ``dst`` by hard links (no data copied), or by copies where links fail."""
    def link(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=link)
    else:
        link(src, dst)


def name_stem(target: Path) -> str:
    """The target's name as the start of its staging folders' names: cut so that they fit the 255 bytes a
    file name may take (a process id and 32 hex digits follow it)."""
    return os.fsencode(target.name)[:150].decode(errors="ignore")


def _stale_stages(target: Path) -> Iterator[Path]:
    """Staging folders of ``target`` left by processes that no longer run (a killed run)."""
    pattern = re.compile(rf"\.{re.escape(name_stem(target))}\.(\d+)\.[0-9a-f]{{32}}\.tmp")
    for entry in target.parent.glob(f".{glob_escape(name_stem(target))}.*.tmp"):
        match = pattern.fullmatch(entry.name)
        if not match:
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            yield entry
        except PermissionError:  # alive, another user's
            pass


@contextlib.contextmanager
def staged_folder(target: str | os.PathLike, *, keep: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a fresh folder beside ``target``; when the block succeeds it replaces ``target`` whole.

    The entries of ``target`` named in ``keep`` are carried into the new
    folder first (hard links, so even large files cost nothing). Every file
    is synced before the swap, which is one atomic ``renameat2`` exchange on
    Linux (two renames elsewhere): a reader, or a run killed at any moment,
    finds either the old complete folder or the new complete one. On an
    exception the new folder is removed and ``target`` is untouched.
    Staging folders left by killed runs are removed on the next run.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in _stale_stages(target):
        shutil.rmtree(stale, ignore_errors=True)
    stage = target.parent / f".{name_stem(target)}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    stage.mkdir()
    try:
        if target.is_dir():
            for name in keep:
                if (target / name).exists():
                    _link_tree(target / name, stage / name)
        yield stage
        for folder, _, files in os.walk(stage):
            for name in files:
                with open(os.path.join(folder, name), "rb") as fh:
                    os.fsync(fh.fileno())
        if not target.exists():
            os.rename(stage, target)
        elif not _exchange(stage, target):
            old = target.parent / f".{name_stem(target)}.{os.getpid()}.{uuid.uuid4().hex}.old"  # kept if killed here
            os.rename(target, old)
            os.rename(stage, target)
            stage = old
    finally:
        shutil.rmtree(stage, ignore_errors=True)  # the new folder on failure, the old one after a swap
