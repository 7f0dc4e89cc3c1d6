"""Progress on stderr: a line per slow stage, bars for sampling, and nothing on a pipe unless asked.

A stage (:func:`stage`) that is still running after :data:`DELAY` seconds
prints ``sim: <what> ...`` and, when it ends, how long it took; quicker
stages print nothing. Progress shows when stderr is a terminal, or
everywhere after :func:`show` (the command line's ``--progress``), and
never after ``show(False)``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator

__all__ = ["stage", "show", "bar_disable", "DELAY"]

#: Seconds a stage runs before it is announced.
DELAY = 2.0
_SHOW: bool | None = None  # None: when stderr is a terminal


def show(on: bool | None) -> None:
    """Show progress always (True), never (False), or on a terminal only (None)."""
    global _SHOW
    _SHOW = on


def _showing() -> bool:
    return _SHOW if _SHOW is not None else sys.stderr.isatty()


def bar_disable(progress: bool) -> bool | None:
    """tqdm's ``disable`` for a bar a caller asked for (``progress``): None lets tqdm skip it on a pipe."""
    if not progress or _SHOW is False:
        return True
    return False if _SHOW else None


@contextlib.contextmanager
def stage(what: str, *, delay: float = DELAY) -> Iterator[None]:
    """Announce ``what`` on stderr if it takes longer than ``delay`` seconds, then say how long it took."""
    if not _showing():
        yield
        return
    start = time.perf_counter()
    announced = threading.Event()

    def announce():
        announced.set()
        print(f"sim: {what} ...", file=sys.stderr, flush=True)

    timer = threading.Timer(delay, announce)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if announced.is_set():
            print(f"sim: {what}: done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
