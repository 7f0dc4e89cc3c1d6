"""Work shared among forked processes: for steps that are Python-bound (figure layout, many small regressions),
where threads would take turns on the interpreter.

A forked process inherits the work (the function and what it reads) instead
of receiving it pickled; only the results travel back. Where the platform
cannot fork, where one core is all there is, or where a process dies, the
work is done here one item at a time, with the same results.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ._files import settle

__all__ = ["forked_map", "forked_imap", "cores"]

_WORK: list = []  # the function a forked process applies (inherited, never pickled)


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _apply(i: int):
    return _WORK[0](i)


def forked_imap(func: Callable[[int], object], n: int, jobs: int | None = None) -> Iterator:
    """``func(0), ..., func(n - 1)`` in order, as each is ready, the calls shared among ``jobs`` forked processes
    (default: one per core).

    ``func`` and whatever it reads are inherited by the processes; each
    result is pickled back. The results are those of calling ``func`` here;
    if a process dies, the calls not yet answered are made here.
    """
    global _WORK
    jobs = min(n, cores()) if jobs is None else min(n, jobs)
    done = 0
    if jobs > 1 and "fork" in multiprocessing.get_all_start_methods() and not _WORK:  # not from inside a fork
        settle()  # no thread of a saved run's SHA-256 check is running when the process forks
        _WORK = [func]
        try:
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
                for result in pool.map(_apply, range(n)):
                    yield result
                    done += 1
        except BrokenProcessPool:  # a process was killed (out of memory): do the rest here
            pass
        finally:
            _WORK = []
    for i in range(done, n):
        yield func(i)


def forked_map(func: Callable[[int], object], n: int, jobs: int | None = None) -> list:
    """``[func(0), ..., func(n - 1)]``: :func:`forked_imap`'s results as a list."""
    return list(forked_imap(func, n, jobs))
