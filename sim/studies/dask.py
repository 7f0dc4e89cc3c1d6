"""Streamed summaries on a Dask cluster: ranges of samples summarised on workers and merged here.

:func:`dask_summary` gives :func:`sim.studies.stream.stream_summary`'s
numbers on a cluster; :func:`connect` reaches one (a new local cluster, or a
scheduler at an address, checked first by Dask's own handshake within
:data:`DASK_TIMEOUT`).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from contextlib import contextmanager

import xarray as xr

from ..analysis.summary import DEFAULT_QUANTILES
from ..errors import SimError, SimWarning
from ..experiment import Experiment
from ..progress import bar_disable
from .stream import STREAM_CHUNK, check_finite, labelled_summary, merge_in_order, prepare, ranges, summarize_range

__all__ = ["dask_summary", "local_client", "connect", "check_scheduler", "fixed_mmap_threshold", "WORKER_CONFIG",
           "DASK_TIMEOUT"]

#: Dask configuration for the worker processes sim starts (figures measured
#: on the benchmark machine):
#:
#: - Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_`` in each worker. That stops
#:   glibc from raising its mmap threshold, so every chunk-sized array is a
#:   fresh mmap whose pages fault in anew: half speed (2 million samples in
#:   5.4 s against 2.6 s). Unsetting it keeps glibc's defaults.
#: - The worker's statistical profiler samples the running task every 10 ms
#:   for the dashboard, which sim's cluster does not serve: 7 % more CPU time
#:   (4 million samples: 4.3 s against 4.0 s).
WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                 "distributed.worker.profile.enabled": False}


def dask_summary(experiment: Experiment, client, *, samples: int | None = None, seed: int | None = None,
                 sampler: str | None = None, chunk_size: int = STREAM_CHUNK, relative_error: float = 1e-3,
                 tasks_per_worker: int = 16, quantiles: Sequence[float] = DEFAULT_QUANTILES,
                 probability: float = 0.95, progress: bool = False) -> xr.Dataset:
    """:func:`stream_summary` with ranges of samples summarised on a Dask cluster and merged here.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster to use.
    tasks_per_worker : int
        Ranges per worker: more balance the load (a worker that finishes first
        idles for at most one range), fewer cost less overhead.

    Every range draws its own slice of the same design, so counts and
    histograms equal :func:`stream_summary`'s exactly and the moments to
    floating-point rounding, whatever the cluster.
    """
    from distributed import as_completed
    from tqdm import tqdm

    experiment = prepare(experiment, samples, seed, sampler, flag="--dask")
    n = experiment.samples
    fixed = client.run(fixed_mmap_threshold)  # one answer per worker
    slow = sum(fixed.values())
    if slow:
        warnings.warn(SimWarning(
            f"--dask: {slow} worker(s) run with MALLOC_TRIM_THRESHOLD_ set (Dask's default), which fixes glibc's "
            "mmap threshold and halves their speed; start the workers with MALLOC_MMAP_THRESHOLD_=33554432 set"),
            stacklevel=2)
    # sent once to each worker: unpickling rebuilds the priors' fast inverses (about 0.1 s)
    shared = client.scatter(experiment, broadcast=True, hash=False)  # hash=False: tokenizing it takes seconds
    parts = ranges(n, max(1, len(fixed)) * tasks_per_worker, chunk_size)
    futures = [client.submit(summarize_range, shared, a, b, chunk_size=chunk_size, relative_error=relative_error,
                             pure=False) for a, b in parts]
    position = {future.key: i for i, future in enumerate(futures)}

    def finished():
        for future in as_completed(futures):
            yield position[future.key], future.result()
            future.release()

    with tqdm(total=n, unit="sample", unit_scale=True, delay=2.0, disable=bar_disable(progress),
              file=sys.stderr, desc=experiment.name) as bar:
        acc = merge_in_order(finished(), parts, bar)
    shared.release()
    check_finite(experiment, acc, n)
    return labelled_summary(experiment, acc, n, quantiles, probability, relative_error)


@contextmanager
def local_client(workers: int | None = None, config: dict = WORKER_CONFIG):
    """A client of a new local cluster of ``workers`` single-threaded worker processes (default: one per core).

    ``config`` is the Dask configuration the workers start with
    (:data:`WORKER_CONFIG` unless given). The scheduler's HTTP server (its
    metrics) takes a free port, not 8787: two clusters may run at once.
    """
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(config), LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                               processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client


#: Seconds a connection to a Dask scheduler at an address waits for its handshake.
DASK_TIMEOUT = 5


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def check_scheduler(address: str) -> None:
    """Shake hands with the service at ``address`` the way a Dask client does, within :data:`DASK_TIMEOUT`.

    A Dask client left to itself waits for ever on a service that answers
    nothing (a web server) and reads the first bytes of one that answers
    something else as a frame length (exabytes); the handshake here is
    Dask's own, bounded in time, and any failure is one line.
    """
    import asyncio

    from distributed.comm import connect as dask_connect

    async def handshake():
        comm = await dask_connect(address, timeout=DASK_TIMEOUT)
        await comm.close()

    try:
        asyncio.run(asyncio.wait_for(handshake(), DASK_TIMEOUT + 1))
    except Exception as exc:  # noqa: BLE001 - a refused port, a timeout, a service that is not Dask
        if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
            why = f"no Dask handshake within {DASK_TIMEOUT} s; is it a Dask scheduler?"
        elif isinstance(exc, (OSError, ValueError)) and not isinstance(exc, MemoryError):
            why = _reason(exc)  # refused, unreachable, a malformed address
        else:  # it sent something that is not a Dask handshake (read as a frame of exabytes)
            why = "it answered, but not with a Dask handshake; is it a Dask scheduler?"
        raise SimError(f"--dask: cannot reach a Dask scheduler at {address!r} ({why})") from None


@contextmanager
def connect(address: str = "local"):
    """A client of a Dask cluster for :func:`dask_summary`: a new local one (``"local"``, a worker per core), or
    the scheduler at ``address`` (``tcp://host:8786``), checked first by :func:`check_scheduler`.

    Raises
    ------
    SimError
        When Dask's distributed scheduler is not installed, or the scheduler cannot be reached.
    """
    try:
        from distributed import Client
    except ImportError:
        raise SimError("--dask needs Dask's distributed scheduler: pip install 'distributed>=2024.1'") from None
    if address == "local":
        cluster = local_client()
    else:
        check_scheduler(address)
        try:
            cluster = Client(address, timeout=DASK_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - whatever the far side did, one line naming it
            raise SimError(f"--dask: cannot reach a Dask scheduler at {address!r} ({_reason(exc)})") from None
    with cluster as client:
        yield client


def fixed_mmap_threshold() -> bool:
    """Whether this process's glibc keeps its mmap threshold at 128 KiB (run on each worker by :func:`dask_summary`).

    Setting ``MALLOC_TRIM_THRESHOLD_`` turns off the threshold's growth;
    setting ``MALLOC_MMAP_THRESHOLD_`` as well puts it where it would have grown.
    """
    return "MALLOC_TRIM_THRESHOLD_" in os.environ and "MALLOC_MMAP_THRESHOLD_" not in os.environ
