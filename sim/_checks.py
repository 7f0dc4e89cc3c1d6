"""Checks of single values read from files, the command line and the explorer, each with one message.

Every check takes the value and where it was read (a
:class:`~sim.errors.Location`: a file and a key), returns the value in its
checked type, and raises :class:`~sim.errors.ConfigError` naming the place,
or a bare :class:`~sim.errors.SimError` where there is no place (``at=None``:
a command-line option, whose parser names it). ``shown`` replaces the value
in the message: text as it was typed (``'-1'``) rather than the number read
from it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from typing import Any

from .errors import ConfigError, Location, SimError

__all__ = ["Percent", "fail", "choices", "number", "pair", "string", "boolean", "keys", "positive_integer", "sample_count", "seed",
           "name", "integer_text", "fmt"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class Percent(float):
    """A number given as a percentage (``--set NAME=35%``): its value is the number of percent (35.0);
    the prior it pins converts it to its own unit, a pure number (0.35 of a fraction, 35 of a %)."""


def fail(at: Location | None, message: str):
    """Raise ``message`` at ``at`` (a ConfigError), or as a bare SimError where there is no place."""
    if at is None:
        raise SimError(message)
    raise ConfigError(at.file, at.key, message)


def choices(given, valid: Collection[str]) -> str:
    """The end of a message about ``given``, which is not one of ``valid``: ``did you mean 'x'?`` where one valid
    name is close to it, else ``valid: a, b, c``."""
    import difflib

    valid = [str(v) for v in valid]
    close = difflib.get_close_matches(str(given), valid, n=1, cutoff=0.75) if isinstance(given, str) else []
    return f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(valid)}"


def fmt(v) -> str:
    """A value for a message: floats to 6 significant digits, lists and tables as written."""
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def number(value, at: Location | None, *, positive: bool = False, allow_inf: bool = False) -> float:
    """A number (not a boolean) as a float: finite unless ``allow_inf``, above 0 if ``positive``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(at, f"must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        fail(at, f"must be a finite number, got {value!r}")
    if positive and value <= 0:
        fail(at, f"must be > 0, got {value!r}")
    return value


def pair(value, at: Location | None, *, allow_inf: bool = False) -> tuple[float, float]:
    """``[low, high]``: two numbers, increasing."""
    if not isinstance(value, list) or len(value) != 2:
        fail(at, f"must be a list of two numbers [low, high], got {value!r}")
    lo = number(value[0], at, allow_inf=allow_inf)
    hi = number(value[1], at, allow_inf=allow_inf)
    if not lo < hi:
        fail(at, f"must be increasing (low < high), got [{fmt(lo)}, {fmt(hi)}]")
    return lo, hi


def string(value, at: Location | None) -> str:
    if not isinstance(value, str):
        fail(at, f"must be a string, got {value!r}")
    return value


def boolean(value, at: Location | None) -> bool:
    if not isinstance(value, bool):
        fail(at, f"must be true or false, got {value!r}")
    return value


def keys(table: Mapping, valid: Collection[str], at: Location, what: str = "key", *,
         listed: Collection[str] | None = None) -> None:
    """Refuse the first key of ``table`` not in ``valid``: ``unknown <what>; valid: ...`` at that key, listing
    ``listed`` (default: ``valid``)."""
    for key in table:
        if key not in valid:
            fail(at.at(key), f"unknown {what}; {choices(key, valid if listed is None else listed)}")


def integer_text(text: str) -> int | str:
    """Typed text as a whole number (``_`` allowed as a separator, as in TOML and Python), or the text unchanged,
    which every integer check refuses."""
    try:
        return int(text.strip().replace("_", ""))
    except ValueError:
        return text


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_integer(value, at: Location | None = None, *, shown: str | None = None) -> int:
    if not _integer(value) or value < 1:
        fail(at, f"must be a positive integer, got {shown or repr(value)}")
    return value


def sample_count(value, at: Location | None = None, *, high: int | None = None, shown: str | None = None) -> int:
    """A number of samples: at least 2 (a standard deviation and its intervals need two), at most ``high``."""
    if not _integer(value) or not 2 <= value <= (high or value):
        bound = f"from 2 to {high:,}" if high else "of at least 2"
        fail(at, f"must be an integer {bound} (a standard deviation needs two samples), got {shown or repr(value)}")
    return value


def seed(value, at: Location | None = None, *, shown: str | None = None) -> int:
    if not _integer(value) or not 0 <= value < 2**63:
        fail(at, f"must be an integer in [0, 2**63), got {shown or repr(value)}")
    return value


def name(value, at: Location | None) -> str:
    """A name safe to use as a folder or label: letters, digits, ``_ . -``, starting with a letter or digit."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        fail(at, f"{value!r} is not a valid name; use letters, digits, '_', '-' and '.', starting with a letter or "
                 "digit")
    return value


def table(value: Any, at: Location, message: str) -> dict:
    """``value`` if it is a table; otherwise ``message`` at ``at``."""
    if not isinstance(value, dict):
        fail(at, message)
    return value
