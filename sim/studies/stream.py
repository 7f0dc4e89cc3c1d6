"""Streaming runs: samples evaluated in chunks and kept only as mergeable summaries.

Memory does not grow with the number of samples. Per output and cell the
stream keeps the exact count, mean and sum of squared deviations (merged
chunk by chunk with Chan, Golub and LeVeque's update), exact exceedance
counts for the model's comparisons, and a histogram on each side of 0 whose
bins split each octave into equal parts, read from the bits of the floats
(at most ``2 * relative_error`` relative width): a quantile read from it lies
within ``relative_error`` (relative) of an order statistic next to the
quantile's position. The chunks come from the same per-chunk random
streams as :func:`sim.run`, so the result does not depend on the chunk size.
Ranges of samples summarised apart merge into the same result
(:func:`summarize_range`, :func:`merge`): :mod:`.dask` spreads them over a cluster.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy import stats

from ..analysis._array import jeffreys_interval, order_stat_bounds
from ..analysis.summary import (CI_BOUND, DEFAULT_QUANTILES, EXCEEDANCE, INTERVAL, exceedance_name, stat_label,
                                with_quantile_coord)
from ..engine import iter_chunks, provenance
from ..errors import SimError
from ..experiment import Experiment, with_settings

__all__ = ["LogHistogram", "stream_summary", "summarize_range", "merge", "merge_in_order", "ranges", "prepare",
           "check_finite", "labelled_summary", "STREAM_CHUNK"]

_TINY = 1e-300  # |x| below this counts as 0

#: Most memory one output's histograms may take: a bound on how finely a wide range of values can be binned.
MAX_HISTOGRAM_BYTES = 2**30

#: Samples per chunk. On the benchmark machine 2**17 streams 5-10 % faster
#: than 2**16 or 2**18, and the peak memory follows the chunk size.
STREAM_CHUNK = 2**17


class LogHistogram:
    """Counts of values per cell in bins of about equal relative width, each side of 0, grown as values arrive.

    A bin holds the magnitudes whose float64 bits agree above the lowest
    ``52 - k`` bits of the mantissa: each octave ``[2**e, 2**(e+1))`` is
    split into ``2**k`` bins of equal width, so a bin's relative width is at
    most ``2**-k`` and its index is one shift of the float's bits (no
    logarithm). ``k`` is the least for which ``2**-k <= 2 * relative_error``.

    Parameters
    ----------
    cells : int
        Number of independent histograms (rows).
    relative_error : float
        The geometric middle of a bin is within this fraction of every value in it.
    """

    def __init__(self, cells: int, relative_error: float = 1e-3):
        self.cells, self.delta = cells, relative_error
        bits = max(0, math.ceil(-math.log2(2 * relative_error)))  # bins per octave: 2**bits
        if bits > 52:
            raise SimError(f"--relative-error {relative_error:g}: finer than a float64's mantissa can bin")
        self.shift = 52 - bits
        self.zero = np.zeros(cells, dtype=np.int64)
        self.sides = {1: None, -1: None}  # sign -> (lowest bin index, counts of shape (cells, bins))

    def _index(self, magnitude: np.ndarray) -> np.ndarray:
        """Bin index of each positive float64: its bits above the lowest ``shift`` (a new array)."""
        return np.right_shift(np.asarray(magnitude, dtype=np.float64).view(np.int64), self.shift)

    def add(self, x: np.ndarray) -> None:
        """Add the values ``x`` of shape (cells, m)."""
        smallest = x.min()
        if smallest >= _TINY:  # the common case, costs all positive: no masks to gather through
            # the index grows with a positive float, so the extremes' indices bound the chunk's
            self._count(1, self._index(x), None, bounds=self._index([smallest, x.max()]))
            return
        magnitude = np.abs(x)
        self.zero += (magnitude < _TINY).sum(axis=1)
        for sign in (1, -1):
            mask = (x >= _TINY) if sign == 1 else (x <= -_TINY)
            if mask.any():
                # np.nonzero gives the cell of each selected value, in the order x[mask] gives them
                self._count(sign, self._index(magnitude[mask]), np.nonzero(mask)[0])

    def _count(self, sign: int, idx: np.ndarray, rows: np.ndarray | None, bounds=None) -> None:
        """Count bin indices ``idx``: of shape (cells, m) if ``rows`` is None, else flat with the cell of each
        (``bounds``: the lowest and highest index, where the caller knows them)."""
        lo, hi = (int(b) for b in bounds) if bounds is not None else (int(idx.min()), int(idx.max()))
        start, counts = self.sides[sign] or (lo, np.zeros((self.cells, 0), dtype=np.int64))
        new_lo, new_hi = min(start, lo), max(start + counts.shape[1] - 1, hi)
        if 8 * self.cells * (new_hi - new_lo + 1) > MAX_HISTOGRAM_BYTES:
            raise SimError(f"--relative-error {self.delta:g}: the values span {new_hi - new_lo + 1:,} histogram bins "
                           f"per cell ({8 * self.cells * (new_hi - new_lo + 1) / 2**30:.3g} GiB for one output), more "
                           f"than the {MAX_HISTOGRAM_BYTES / 2**30:g} GiB allowed; use a larger --relative-error")
        if (new_lo, new_hi) != (start, start + counts.shape[1] - 1):
            grown = np.zeros((self.cells, new_hi - new_lo + 1), dtype=np.int64)
            grown[:, start - new_lo:start - new_lo + counts.shape[1]] = counts
            start, counts = new_lo, grown
        width = counts.shape[1]
        offsets = np.arange(self.cells) * width - start
        idx += offsets[:, None] if rows is None else offsets[rows]  # idx is the caller's own new array
        counts += np.bincount(idx.ravel(), minlength=self.cells * width).reshape(self.cells, width)
        self.sides[sign] = (start, counts)

    def merged(self, other: "LogHistogram") -> "LogHistogram":
        """A new histogram holding the counts of both (same cells and resolution)."""
        out = LogHistogram(self.cells, self.delta)
        out.zero = self.zero + other.zero
        for sign in (1, -1):
            parts = [p for p in (self.sides[sign], other.sides[sign]) if p is not None]
            if not parts:
                continue
            lo = min(p[0] for p in parts)
            hi = max(p[0] + p[1].shape[1] for p in parts)
            counts = np.zeros((self.cells, hi - lo), dtype=np.int64)
            for start, c in parts:
                counts[:, start - lo:start - lo + c.shape[1]] += c
            out.sides[sign] = (lo, counts)
        return out

    def _middles(self, start: int, count: int) -> np.ndarray:
        """Geometric middles of bins ``start`` to ``start + count - 1`` on one side of 0."""
        edges = np.left_shift(np.arange(start, start + count + 1, dtype=np.int64), self.shift).view(np.float64)
        return np.sqrt(edges[:-1] * edges[1:])

    def _layout(self):
        """Bin values in ascending order and their counts per cell: (values, counts (cells, bins))."""
        values, counts = [], []
        if self.sides[-1] is not None:
            start, c = self.sides[-1]
            mids = -self._middles(start, c.shape[1])
            values.append(mids[::-1])
            counts.append(c[:, ::-1])
        values.append(np.zeros(1))
        counts.append(self.zero[:, None])
        if self.sides[1] is not None:
            start, c = self.sides[1]
            values.append(self._middles(start, c.shape[1]))
            counts.append(c)
        return np.concatenate(values), np.concatenate(counts, axis=1)

    def at_ranks(self, ranks: np.ndarray) -> np.ndarray:
        """Values of the order statistics with 0-based ``ranks`` (cells, k), to the histogram's resolution."""
        values, counts = self._layout()
        cum = np.cumsum(counts, axis=1)
        return np.stack([values[np.searchsorted(cum[c], np.asarray(ranks[c]), side="right")]
                         for c in range(self.cells)])


def _merge_moments(a: dict, count: int, mean: np.ndarray, m2: np.ndarray) -> None:
    """Fold ``count`` values with ``mean`` and sum of squared deviations ``m2`` into ``a`` (Chan et al.)."""
    delta, total = mean - a["mean"], a["count"] + count
    a["mean"] = a["mean"] + delta * count / total
    a["m2"] = a["m2"] + m2 + delta**2 * a["count"] * count / total
    a["count"] = total


def summarize_range(experiment: Experiment, start: int, stop: int, *, chunk_size: int = STREAM_CHUNK,
                    relative_error: float = 1e-3, progress: bool = False) -> dict:
    """Mergeable summaries of samples ``start`` to ``stop`` of the experiment's design (see :func:`merge`)."""
    acc: dict[str, dict] = {}
    for a0, b0, _, outputs in iter_chunks(experiment, chunk_size=chunk_size, progress=progress, start=start,
                                          stop=stop):
        m = b0 - a0
        for name in experiment.model.outputs:
            da = outputs[name]
            x = da.values.reshape(-1, m)
            if name not in acc:
                acc[name] = {"dims": [d for d in da.dims if d != "sample"],
                             "coords": {d: list(da[d].values) for d in da.dims if d != "sample"},
                             "count": 0, "mean": np.zeros(len(x)), "m2": np.zeros(len(x)),
                             "bad": np.zeros(len(x), dtype=np.int64),
                             "hist": LogHistogram(len(x), relative_error), "above": {}}
            a = acc[name]
            mean = x.mean(axis=1)
            if not np.isfinite(mean).all():  # a finite mean has no NaN or infinity under it
                a["bad"] += (~np.isfinite(x)).sum(axis=1)
            deviation = x - mean[:, None]
            _merge_moments(a, m, mean, np.einsum("ij,ij->i", deviation, deviation))
            a["hist"].add(x)
        for output, threshold in experiment.model.comparisons:
            if output in outputs and threshold in outputs:
                above = (outputs[output] > outputs[threshold]).transpose(*outputs[output].dims).values
                counts = acc[output]["above"]
                counts[threshold] = counts.get(threshold, 0) + above.reshape(-1, m).sum(axis=1)
    return acc


def merge(left: dict, right: dict) -> dict:
    """The summaries of two ranges of samples as one (counts and histograms exactly, moments to rounding)."""
    out = {}
    for name, a in left.items():
        b = right[name]
        c = {**a, "bad": a["bad"] + b["bad"], "hist": a["hist"].merged(b["hist"]),
             "above": {k: a["above"][k] + b["above"][k] for k in a["above"]}}
        _merge_moments(c, b["count"], b["mean"], b["m2"])
        out[name] = c
    return out


def check_finite(experiment: Experiment, acc: dict, n: int) -> None:
    """Stop a streamed run whose outputs hold NaN or infinite values, in one line."""
    for name, a in acc.items():
        if a["bad"].any():
            raise SimError(f"{experiment.path}: output {name} is NaN or infinite in {int(a['bad'].max()):,} of "
                           f"{n:,} samples; run the same seed in memory (without --stream) with fewer samples to "
                           "see which priors are to blame")


def prepare(experiment, samples, seed, sampler, flag="--stream") -> Experiment:
    """``experiment`` with the given settings, refused where its design cannot be drawn in chunks."""
    experiment = with_settings(experiment, samples=samples, seed=seed, sampler=sampler)
    if experiment.sampler == "lhs":
        raise SimError(f"{flag}: a Latin hypercube spans the whole design and cannot be drawn in chunks; "
                       "use --sampler random or sobol")
    return experiment


def ranges(n: int, parts: int, chunk_size: int) -> list[tuple[int, int]]:
    """About ``parts`` ranges ``[a, b)`` covering ``n`` samples, each of whole chunks (the last may be shorter)."""
    step = -(-n // max(1, parts))
    step = -(-step // chunk_size) * chunk_size
    return [(a, min(a + step, n)) for a in range(0, n, step)]


def merge_in_order(finished, parts, bar=None) -> dict:
    """The summaries ``(i, summary)`` of ``parts[i]``, arriving in any order, merged in the order of the ranges
    (so the moments' rounding does not depend on which finished first); ``bar`` counts the samples done."""
    acc, done, merged = None, {}, 0
    for i, part in finished:
        done[i] = part
        if bar is not None:
            bar.update(parts[i][1] - parts[i][0])
        while merged in done:
            part = done.pop(merged)
            acc = part if acc is None else merge(acc, part)
            merged += 1
    return acc


def _summarize_in_processes(experiment: Experiment, n: int, jobs: int, chunk_size: int, relative_error: float,
                            progress: bool) -> dict:
    """:func:`summarize_range` of all ``n`` samples, in ranges spread over ``jobs`` forked processes
    (:func:`sim._parallel.forked_imap`: each inherits the experiment with its priors' fast inverses built)."""
    import sys

    from tqdm import tqdm

    from .._parallel import forked_imap
    from ..progress import bar_disable

    parts = ranges(n, 4 * jobs, chunk_size)  # four ranges a process: one finishing first idles for a quarter
    summaries = forked_imap(lambda i: summarize_range(experiment, *parts[i], chunk_size=chunk_size,
                                                      relative_error=relative_error), len(parts), jobs)
    with tqdm(total=n, unit="sample", unit_scale=True, delay=2.0, disable=bar_disable(progress), file=sys.stderr,
              desc=experiment.name) as bar:
        return merge_in_order(enumerate(summaries), parts, bar)


def stream_summary(experiment: Experiment, *, samples: int | None = None, seed: int | None = None,
                   sampler: str | None = None, chunk_size: int = STREAM_CHUNK, relative_error: float = 1e-3,
                   quantiles: Sequence[float] = DEFAULT_QUANTILES, probability: float = 0.95,
                   progress: bool = False, jobs: int = 1) -> xr.Dataset:
    """The labelled summary of :func:`sim.analysis.summary.summary_dataset`, computed in bounded memory.

    Memory is bounded by ``chunk_size`` (a peak of about 0.4 GB at the
    default 2**17 for the default experiment), not by the number of samples. The moments
    and exceedance probabilities equal an in-memory run's to floating-point
    rounding; each quantile, and each bound of a quantile's
    interval, is within ``relative_error`` of an order statistic adjacent to
    its position in the in-memory run.

    With ``jobs`` above 1 the samples are summarised in ranges of whole
    chunks by that many processes and merged: the counts and histograms are
    the single process's exactly, the moments to floating-point rounding.
    """
    experiment = prepare(experiment, samples, seed, sampler)
    n = experiment.samples
    if jobs > 1 and n > chunk_size:
        acc = _summarize_in_processes(experiment, n, jobs, chunk_size, relative_error, progress)
    else:
        acc = summarize_range(experiment, 0, n, chunk_size=chunk_size, relative_error=relative_error,
                              progress=progress)
    check_finite(experiment, acc, n)
    return labelled_summary(experiment, acc, n, quantiles, probability, relative_error)


def _dataset(experiment, acc, n, quantiles, probability) -> xr.Dataset:
    """The accumulated summaries as the labelled summary of :func:`sim.analysis.summary.summary_dataset`
    (its attrs, the run's provenance, are :func:`_summary`'s to add)."""
    q = np.asarray(quantiles, dtype=float)
    labels = [stat_label(p) for p in q]
    stat = ["mean", "se_mean", "sd", *labels]
    t = stats.t.ppf(0.5 + probability / 2.0, n - 1)
    lo_rank, hi_rank = order_stat_bounds(n, q, probability)
    position = q * (n - 1)
    out = xr.Dataset()
    for name, a in acc.items():
        meta = experiment.model.outputs[name]
        cells = len(a["mean"])
        shape = [len(a["coords"][d]) for d in a["dims"]]
        sd = np.sqrt(a["m2"] / (n - 1))
        se = sd / np.sqrt(n)
        # the in-memory quantile interpolates between the order statistics at floor and ceil of q (n - 1)
        below = a["hist"].at_ranks(np.tile(np.floor(position).astype(np.int64), (cells, 1)))
        above = a["hist"].at_ranks(np.tile(np.ceil(position).astype(np.int64), (cells, 1)))
        qs = below + (above - below) * (position - np.floor(position))
        nan = np.full(cells, np.nan)
        est = np.column_stack([a["mean"], se, sd, qs]).T  # (stat, cells)
        ci_mean = np.stack([a["mean"] - t * se, a["mean"] + t * se], axis=-1)
        ci_q = np.stack([a["hist"].at_ranks(np.tile(lo_rank, (cells, 1))),
                         a["hist"].at_ranks(np.tile(hi_rank, (cells, 1)))], axis=-1)  # (cells, quantiles, 2)
        ci = np.concatenate([ci_mean[None], np.stack([np.stack([nan, nan], -1)] * 2), np.moveaxis(ci_q, 1, 0)])
        coords = {d: a["coords"][d] for d in a["dims"]}
        attrs = {"units": meta.units, "long_name": meta.long_name, "role": meta.role or "output"}
        out[name] = xr.DataArray(est.reshape(len(stat), *shape), dims=("stat", *a["dims"]),
                                 coords={"stat": stat, **coords}, attrs=attrs)
        out[f"{name}_ci"] = xr.DataArray(ci.reshape(len(stat), *shape, 2), dims=("stat", *a["dims"], "ci_bound"),
                                         coords={"stat": stat, **coords, "ci_bound": CI_BOUND},
                                         attrs={"role": INTERVAL, "of": name}).transpose("stat", "ci_bound", ...)
        for threshold, count in a["above"].items():
            var = exceedance_name(name, threshold)
            bounds = jeffreys_interval(count, n, probability)
            out[var] = xr.DataArray((count / n).reshape(shape), dims=a["dims"], coords=coords,
                                    attrs={"units": "1", "long_name": f"P({name} > {threshold})", "role": EXCEEDANCE,
                                           "output": name, "threshold": threshold})
            out[f"{var}_ci"] = xr.DataArray(bounds.reshape(*shape, 2), dims=(*a["dims"], "ci_bound"),
                                            coords={**coords, "ci_bound": CI_BOUND},
                                            attrs={"units": "1", "probability": probability, "role": INTERVAL,
                                                   "of": var}).transpose("ci_bound", ...)
    return with_quantile_coord(out, quantiles)


def labelled_summary(experiment, acc, n, quantiles, probability, relative_error) -> xr.Dataset:
    """:func:`_dataset` with the run's provenance in its attrs (a streamed run's identity, and the quantiles'
    relative error, which a command that makes the run again needs)."""
    out = _dataset(experiment, acc, n, quantiles, probability)
    out.attrs = provenance(experiment, "stream") | {"samples": n, "seed": experiment.seed,
                                                    "sampler": experiment.sampler, "probability": probability,
                                                    "stream_relative_error": relative_error}
    return out
