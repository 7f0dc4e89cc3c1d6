"""Which assumptions drive an output, from the samples of one run: rank correlation, given-data and target region.

The studies that evaluate the model again (Sobol' indices, tornado and
spider) are in :mod:`sim.studies.sensitivity`.

* :func:`rank_correlation` and :func:`first_order_given` -- from one ordinary
  run (any sampler, correlated priors allowed): Spearman's rank correlation of
  each input with the output, and a first-order index from binned
  conditional means of the output given the input.
* :func:`target_region` -- how each input's distribution differs between
  the samples inside a region of the output (``cost > revenue``) and outside.

Every result is an :class:`xarray.Dataset` with an ``input`` dim (the drawn
priors) and the output's cell dims (``scenario``, ``architecture``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from .. import _checks as check
from .._parallel import cores
from ..errors import SimError
from . import _array
from .summary import output_names

__all__ = ["rank_correlation", "first_order_given", "target_region", "drawn_inputs", "check_output", "default_bins",
           "sort_orders", "sort_order", "centred_ranks"]


def check_output(names: Sequence[str], output: str, what: str = "output") -> str:
    if output not in names:
        raise SimError(f"unknown {what} {output!r}; {check.choices(output, names)}")
    return output


def drawn_inputs(ds: xr.Dataset, dim: str = "sample") -> list[str]:
    """Inputs of a run that vary across samples (the drawn priors)."""
    return [n for n, da in ds.data_vars.items() if da.attrs.get("role") == "input" and dim in da.dims]


def _drawn(ds: xr.Dataset, dim: str) -> list[str]:
    """:func:`drawn_inputs`, refused when there are none (a study of what drives an output needs one)."""
    names = drawn_inputs(ds, dim)
    if not names:
        raise SimError("the run has no drawn inputs (every prior is fixed)")
    return names


# --- from one ordinary run ----------------------------------------------------

def default_bins(n: int) -> int:
    """Bins for the given-data first-order index: 2 sqrt(n), between 10 and 1000.

    Fine bins keep the variation of the conditional mean inside each bin
    small (it matters for heavy-tailed inputs, whose top bin spans decades);
    the noise of the many small bins is corrected for.
    """
    return int(np.clip(round(2.0 * np.sqrt(n)), 10, 1000))


def _first_order_binned(x: np.ndarray, y: np.ndarray, bins: int) -> np.ndarray:
    """Var(E[y | bin of x]) / Var(y) over equal-count bins of x, sample axis last.

    The between-bin variance of the bin means is corrected for its noise,
    (bins - 1) / n times the pooled within-bin variance (one-way ANOVA).
    """
    n = x.shape[-1]
    order = np.argsort(x, axis=-1, kind="stable")
    ys = np.take_along_axis(np.broadcast_to(y, np.broadcast_shapes(x.shape, y.shape)),
                            np.broadcast_to(order, np.broadcast_shapes(x.shape, y.shape)), axis=-1)
    starts = (np.arange(bins) * n) // bins
    counts = np.diff(np.append(starts, n))
    sums = np.add.reduceat(ys, starts, axis=-1)
    means = sums / counts
    total_mean = ys.mean(axis=-1, keepdims=True)
    between = (counts * (means - total_mean) ** 2).sum(axis=-1) / n
    within = (np.add.reduceat(ys**2, starts, axis=-1) - counts * means**2).sum(axis=-1) / (n - bins)
    var = ys.var(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, (between - (bins - 1) / n * within) / np.where(var > 0, var, 1.0), 0.0)


def _one_run(ds: xr.Dataset, output: str, names: list[str], kernel, dim: str, **kwargs) -> xr.DataArray:
    """``kernel(x, y)`` for each input in ``names`` against ``output``, stacked along ``input``."""
    y = ds[output]
    parts = [xr.apply_ufunc(kernel, ds[name], y, input_core_dims=[[dim], [dim]], kwargs=kwargs) for name in names]
    out = xr.concat(parts, dim="input", coords="minimal", compat="override", join="outer")
    return out.assign_coords(input=names).transpose(..., "input")


def sort_orders(ds: xr.Dataset, dim: str = "sample") -> dict[str, xr.DataArray]:
    """Each drawn input's stable argsort along ``dim``: computed once, it serves every rank, target-region and
    EVPPI measure of the same samples (``orders=`` of :func:`centred_ranks`, :func:`target_region` and
    :func:`sim.analysis.decision.evppi`)."""
    names = drawn_inputs(ds, dim)
    with ThreadPoolExecutor(max_workers=max(1, min(len(names), cores()))) as pool:  # numpy sorts without the GIL
        return dict(zip(names, pool.map(lambda name: sort_order(ds[name], dim), names)))


def sort_order(da: xr.DataArray, dim: str = "sample") -> xr.DataArray:
    """``da``'s stable argsort along ``dim`` (see :func:`sort_orders`)."""
    return xr.apply_ufunc(_array.sort_order, da, input_core_dims=[[dim]], output_core_dims=[[dim]])


def centred_ranks(da: xr.DataArray, dim: str = "sample", order: xr.DataArray | None = None) -> xr.DataArray:
    """Ranks along ``dim`` (ties averaged) less their mean: what :func:`rank_correlation` correlates (``order``:
    ``da``'s :func:`sort_orders` entry, if computed already)."""
    if order is None:
        return xr.apply_ufunc(_array.centred_ranks, da, input_core_dims=[[dim]], output_core_dims=[[dim]])
    return xr.apply_ufunc(_array.centred_ranks, da, order, input_core_dims=[[dim], [dim]],
                          output_core_dims=[[dim]])


def rank_correlation(ds: xr.Dataset, output: str, *, dim: str = "sample",
                     input_ranks: dict[str, xr.DataArray] | None = None) -> xr.DataArray:
    """Spearman's rank correlation of each drawn input with ``output``.

    ``input_ranks`` may give some inputs' :func:`centred_ranks`, computed
    before: they stay the same while only the output changes.

    Returns
    -------
    xarray.DataArray
        Dims: the output's cell dims, then ``input``. 0 where the output or
        input is constant.
    """
    check_output(output_names(ds), output)
    given = input_ranks or {}
    names = _drawn(ds, dim)
    x = xr.concat([given[name] if name in given else centred_ranks(ds[name], dim) for name in names], dim="input",
                  coords="minimal", compat="override", join="outer").assign_coords(input=names)
    y = centred_ranks(ds[output], dim)
    # Pearson's correlation of centred ranks, every input at once: sums of products over the samples
    num, den = xr.dot(x, y, dim=dim), np.sqrt(xr.dot(x, x, dim=dim) * xr.dot(y, y, dim=dim))
    out = xr.where(den > 0, num / den.where(den > 0, 1.0), 0.0).transpose(..., "input")
    out.attrs = {"long_name": f"Spearman rank correlation with {output}", "units": "1"}
    return out.rename("rank_correlation")


def first_order_given(ds: xr.Dataset, output: str, *, bins: int | None = None, dim: str = "sample") -> xr.DataArray:
    """First-order index of each drawn input, estimated from one ordinary run.

    The variance of the output's mean within equal-count bins of the input,
    over the output's variance, corrected for the noise of the bin means. It
    needs no special design and holds for correlated inputs (where it is the
    share of variance explained by the input alone, its effects through
    correlated inputs included).

    Parameters
    ----------
    bins : int, optional
        Number of equal-count bins; default :func:`default_bins` of the run's size.
    """
    bins = default_bins(ds.sizes[dim]) if bins is None else bins
    if not 2 <= bins <= ds.sizes[dim] // 2:
        raise SimError(f"bins must be between 2 and half the samples ({ds.sizes[dim] // 2}), got {bins}")
    check_output(output_names(ds), output)
    out = _one_run(ds, output, _drawn(ds, dim), _first_order_binned, dim, bins=bins)
    out.attrs = {"long_name": f"first-order index of {output} from one run (binned conditional means)",
                 "units": "1", "bins": bins}
    return out.rename("first_order_given")


# --- target region -------------------------------------------------------------

def target_region(ds: xr.Dataset, output: str, threshold: str | float, *, above: bool = True,
                  dim: str = "sample", orders: dict[str, xr.DataArray] | None = None) -> xr.Dataset:
    """How each drawn input differs inside the region ``output > threshold`` (or below) from outside
    (``orders``: the inputs' :func:`sort_orders`, if computed already).

    Returns
    -------
    xarray.Dataset
        Dims: the cell dims, then ``input``. ``share`` (P(region)),
        ``median_shift`` (median inside minus median outside, in the input's
        standard deviations; NaN when the region or its complement is empty)
        and ``ks_distance`` (two-sample Kolmogorov-Smirnov statistic between
        the inside and outside distributions, 0 to 1).
    """
    check_output(output_names(ds), output)
    if isinstance(threshold, str):
        check_output(list(ds.data_vars), threshold, "threshold variable")
        bound = ds[threshold]
    else:
        bound = threshold
    region = ds[output] > bound if above else ds[output] < bound
    names = _drawn(ds, dim)

    def kernel(x, inside, order):
        x, inside, order = np.broadcast_arrays(x, inside, order)
        lead = x.shape[:-1]
        rows = [a.reshape(-1, x.shape[-1]) for a in (x, inside, order)]
        res = np.full((len(rows[0]), 2), np.nan)
        for j, (xs, m, o) in enumerate(zip(*rows)):
            if m.all() or not m.any():
                continue
            res[j] = _array.region_shift(xs, m, o)
        return res.reshape(*lead, 2)

    orders = orders or {}
    parts = [xr.apply_ufunc(kernel, ds[name], region,
                            orders[name] if name in orders else sort_order(ds[name], dim),
                            input_core_dims=[[dim], [dim], [dim]], output_core_dims=[["measure"]])
             for name in names]
    both = xr.concat(parts, dim="input", coords="minimal", compat="override", join="outer").assign_coords(input=names)
    label = threshold if isinstance(threshold, str) else format(threshold, "g")
    out = xr.Dataset({"share": region.mean(dim),
                      "median_shift": both.isel(measure=0, drop=True).transpose(..., "input"),
                      "ks_distance": both.isel(measure=1, drop=True).transpose(..., "input")})
    out["median_shift"].attrs = {"units": "sd", "long_name": "median inside minus outside the region, in sd"}
    out["ks_distance"].attrs = {"units": "1", "long_name": "Kolmogorov-Smirnov distance, inside vs outside"}
    out.attrs = {"output": output, "region": f"{output} {'>' if above else '<'} {label}"}
    return out
