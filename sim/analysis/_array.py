"""Numerical kernels shared by the analysis and study modules: numpy arrays in, the sample axis last.

The labelled functions (:mod:`.summary`, :mod:`.sensitivity`,
:mod:`.decision`, :mod:`sim.studies.stream`) wrap these with
:func:`xarray.apply_ufunc`; the names are public within the package.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["order_stat_bounds", "quantiles_and_ci", "quantile_ci", "mean_half_width", "mean_ci", "hdi", "eti",
           "jeffreys_interval", "centred_ranks", "evpi", "region_shift", "sort_order"]


def order_stat_bounds(n: int, q: np.ndarray, probability: float) -> tuple[np.ndarray, np.ndarray]:
    """0-based ranks (l, u) with P(x_(l) <= xi_q <= x_(u)) >= probability.

    The number of samples at or below the true q-quantile is Binomial(n, q),
    whatever the distribution; the bounds are its central quantiles.
    """
    tail = (1.0 - probability) / 2.0
    lo = stats.binom.ppf(tail, n, q) - 1
    hi = stats.binom.ppf(1.0 - tail, n, q)
    return np.clip(lo, 0, n - 1).astype(np.intp), np.clip(hi, 0, n - 1).astype(np.intp)


def quantiles_and_ci(a: np.ndarray, q: np.ndarray, probability: float,
                     n_eff: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles ``q`` (numpy's default, linear, method) and their intervals, from one partition of ``a``.

    Returns arrays of shape (..., len(q)) and (..., len(q), 2). The quantiles
    equal :func:`numpy.quantile`'s bit for bit: the same order statistics,
    weights and interpolation. A row holding NaN gives NaN quantiles, as
    ``skipna=False`` does. ``n_eff``: the samples' effective number where it
    is below their count (rows resampled from weighted samples); the
    intervals' ranks are then those of ``n_eff`` independent samples, scaled
    to the rows.
    """
    n = a.shape[-1]
    lo, hi = order_stat_bounds(n, q, probability) if n_eff is None else _scaled_bounds(n, n_eff, q, probability)
    virtual = (n - 1) * np.asarray(q, dtype=float)
    below = np.floor(virtual)
    gamma = virtual - below
    below = below.astype(np.intp)
    above = np.minimum(below + 1, n - 1)
    part = np.partition(a, np.unique(np.concatenate([lo, hi, below, above])), axis=-1)
    x0, x1 = part[..., below], part[..., above]
    diff = x1 - x0  # numpy's _lerp: from the nearer end, so that a constant stays exactly constant
    quantiles = x0 + diff * gamma
    np.subtract(x1, diff * (1 - gamma), out=quantiles, where=np.broadcast_to(gamma >= 0.5, quantiles.shape))
    nan = np.isnan(a).any(axis=-1)
    if nan.any():
        quantiles[nan] = np.nan
    return quantiles, np.stack([part[..., lo], part[..., hi]], axis=-1)


def _scaled_bounds(n: int, n_eff: float, q: np.ndarray, probability: float) -> tuple[np.ndarray, np.ndarray]:
    """Order-statistic bounds of ``n_eff`` effective samples, as ranks among ``n`` rows."""
    m = max(int(n_eff), 2)
    lo, hi = order_stat_bounds(m, q, probability)
    scale = (n - 1) / (m - 1)
    return (np.clip(np.floor(lo * scale), 0, n - 1).astype(np.intp),
            np.clip(np.ceil(hi * scale), 0, n - 1).astype(np.intp))


def quantile_ci(a: np.ndarray, q: np.ndarray, probability: float) -> np.ndarray:
    """Distribution-free intervals of quantiles ``q``: shape (..., len(q), 2)."""
    return quantiles_and_ci(a, q, probability)[1]


def mean_half_width(sd, n: float, probability: float):
    """Half the Student-t interval of a mean of ``n`` samples (at least 2) with standard deviation ``sd``."""
    n = max(float(n), 2.0)
    return stats.t.ppf(0.5 + probability / 2.0, n - 1) * sd / np.sqrt(n)


def mean_ci(a: np.ndarray, probability: float, n_eff: float | None = None) -> np.ndarray:
    """Student-t interval of the mean: shape (..., 2); with ``n_eff``, of that many effective samples."""
    mean = a.mean(axis=-1)
    half = mean_half_width(a.std(axis=-1, ddof=1), a.shape[-1] if n_eff is None else n_eff, probability)
    return np.stack([mean - half, mean + half], axis=-1)


def hdi(a: np.ndarray, probability: float) -> np.ndarray:
    """Shortest single interval holding ``probability`` of the samples: shape (..., 2)."""
    x = np.sort(a, axis=-1)
    n = x.shape[-1]
    k = min(int(np.ceil(probability * n)), n)
    widths = x[..., k - 1:] - x[..., : n - k + 1]
    start = np.argmin(widths, axis=-1)[..., None]
    return np.concatenate([np.take_along_axis(x, start, -1), np.take_along_axis(x, start + k - 1, -1)], axis=-1)


def eti(a: np.ndarray, probability: float) -> np.ndarray:
    """Equal-tailed interval holding ``probability`` of the samples: shape (..., 2)."""
    tail = (1.0 - probability) / 2.0
    return np.moveaxis(np.quantile(a, [tail, 1.0 - tail], axis=-1), 0, -1)


def jeffreys_interval(successes, n, probability: float = 0.95, n_eff: float | None = None) -> np.ndarray:
    """Jeffreys interval of a binomial proportion: shape (..., 2).

    The Beta(x + 1/2, n - x + 1/2) posterior's central interval, with the
    lower bound 0 when x = 0 and the upper 1 when x = n (Brown, Cai and
    DasGupta 2001 recommend it for its coverage near 0 and 1). ``n_eff``:
    the samples' effective number where it is below their count (rows
    resampled from weighted samples); the interval is then that of the same
    share of ``n_eff`` independent samples.
    """
    x = np.asarray(successes, dtype=float)
    if n_eff is not None:
        x, n = x * (n_eff / n), n_eff
    tail = (1.0 - probability) / 2.0
    lo = np.where(x > 0, stats.beta.ppf(tail, x + 0.5, n - x + 0.5), 0.0)
    hi = np.where(x < n, stats.beta.ppf(1.0 - tail, x + 0.5, n - x + 0.5), 1.0)
    return np.stack([lo, hi], axis=-1)


def sort_order(x: np.ndarray) -> np.ndarray:
    """Stable argsort along the last axis: the order the rank, region and EVPPI measures of a prior share."""
    return np.argsort(x, axis=-1, kind="stable")


def centred_ranks(x: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Ranks along the last axis (ties averaged, as :func:`scipy.stats.rankdata`) less their mean (``order``:
    ``x``'s argsort along it, if computed already)."""
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    order = np.argsort(x, axis=-1) if order is None else np.broadcast_to(order, x.shape)
    ordered = np.take_along_axis(x, order, axis=-1)
    if n and np.isfinite(ordered).all() and (np.diff(ordered, axis=-1) > 0).all():
        # no ties (continuous draws): a value's rank is its place in the order, without rankdata's tie pass
        r = np.empty(x.shape)
        np.put_along_axis(r, order, np.arange(1.0, n + 1), axis=-1)
    else:
        r = stats.rankdata(x, axis=-1)
    return r - r.mean(axis=-1, keepdims=True)


def evpi(nb: np.ndarray) -> np.ndarray:
    """Expected value of perfect information of net benefits ``nb``: E[max(NB, 0)] - max(E[NB], 0)."""
    return np.maximum(nb, 0.0).mean(axis=-1) - np.maximum(nb.mean(axis=-1), 0.0)


#: Sizes up to which ``scipy.stats.ks_2samp`` computes its p-value exactly, and so rounds its statistic.
_KS_EXACT_SIZE = 10_000


def region_shift(x: np.ndarray, inside: np.ndarray, order: np.ndarray | None = None) -> tuple[float, float]:
    """How the values ``x`` inside a region (the mask ``inside``, neither empty nor full) differ from the rest:
    the difference of medians in ``x``'s standard deviations, and the two-sample Kolmogorov-Smirnov statistic.

    Both from one sort of ``x``: the statistic is the largest gap between the two empirical CDFs at the last of
    each run of equal values, with the counts and divisions of ``scipy.stats.ks_2samp``, which gives the same
    number (below 10,000 values on either side it rounds it to a multiple of 1 / lcm(sizes), and so does this).
    ``order`` is ``np.argsort(x, kind="stable")``, if computed already.
    """
    order = np.argsort(x, kind="stable") if order is None else order
    xs, ins = x[order], inside[order]
    within, outside = xs[ins], xs[~ins]
    sd = x.std()
    shift = (np.median(within) - np.median(outside)) / sd if sd > 0 else 0.0
    last = np.append(xs[1:] != xs[:-1], True)  # where each value's run of ties ends: the CDFs' steps
    n1, n2 = len(within), len(outside)
    gap = (np.cumsum(ins)[last] / n1) - (np.cumsum(~ins)[last] / n2)
    d = max(float(np.clip(-gap.min(), 0, 1)), float(gap.max()))
    if max(n1, n2) <= _KS_EXACT_SIZE:
        lcm = n1 // math.gcd(n1, n2) * n2
        d = int(np.round(d * lcm)) * 1.0 / lcm
    return shift, d

