"""Reading TOML input and writing output files atomically."""

from __future__ import annotations

import contextlib
import os
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

from .errors import ConfigError

__all__ = ["read_toml", "atomic_path"]


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
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "", f"{what} not found") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "", f"{what} is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read {what}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "", f"not UTF-8 text (byte {exc.start}); TOML files must be UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"TOML syntax error: {exc}") from None
    except RecursionError:
        raise ConfigError(str(path), "", "TOML nesting too deep to read") from None


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
