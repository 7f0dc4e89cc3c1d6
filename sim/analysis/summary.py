"""Summaries of Monte Carlo outputs along the ``sample`` dim."""

from __future__ import annotations

from collections.abc import Sequence

import xarray as xr

__all__ = ["output_names", "summarize", "exceedance", "stat_label"]

DEFAULT_QUANTILES = (0.05, 0.5, 0.95)


def output_names(ds: xr.Dataset) -> list[str]:
    """Names of the variables whose ``role`` attr is ``output``, in order."""
    return [name for name, da in ds.data_vars.items() if da.attrs.get("role") == "output"]


def stat_label(q: float) -> str:
    """``0.05 -> "p05"``, ``0.5 -> "p50"``, ``0.025 -> "p2.5"``."""
    return "p" + format(100 * q, "02g")


def summarize(ds: xr.Dataset, *, quantiles: Sequence[float] = DEFAULT_QUANTILES,
              dim: str = "sample") -> xr.Dataset:
    """Mean, standard deviation and quantiles of every output.

    Parameters
    ----------
    ds : xarray.Dataset
        A run, as returned by :func:`sim.run`.
    quantiles : sequence of float
        Probabilities in (0, 1); labelled ``p05``, ``p50``, ...
    dim : str
        The dim to reduce.

    Returns
    -------
    xarray.Dataset
        One variable per output with a leading ``stat`` dim
        (``mean``, ``sd``, then the quantile labels) and the output's other
        dims. ``sd`` uses ``ddof=1``. NaNs are not skipped: a NaN anywhere in
        an output shows in its summary.
    """
    sub = ds[output_names(ds)]
    mean = sub.mean(dim, skipna=False, keep_attrs=True).expand_dims(stat=["mean"])
    sd = sub.std(dim, ddof=1, skipna=False, keep_attrs=True).expand_dims(stat=["sd"])
    q = sub.quantile(list(quantiles), dim=dim, skipna=False, keep_attrs=True)
    q = q.rename(quantile="stat").assign_coords(stat=[stat_label(p) for p in quantiles])
    out = xr.concat([mean, sd, q], dim="stat", coords="minimal", compat="override", join="outer")
    out.attrs = dict(ds.attrs)
    return out


def exceedance(ds: xr.Dataset, output: str, threshold: str | float, *, dim: str = "sample") -> xr.DataArray:
    """Probability that ``output`` exceeds ``threshold`` (a variable name or a number).

    Both sides are taken from the same sample, so for ``threshold =
    "revenue_per_query"`` this is P(cost > revenue) under the joint
    distribution.
    """
    other = ds[threshold] if isinstance(threshold, str) else threshold
    p = (ds[output] > other).mean(dim)
    label = threshold if isinstance(threshold, str) else format(threshold, "g")
    p.attrs = {"units": "1", "long_name": f"P({output} > {label})"}
    return p.rename(f"p_{output}_gt_{label}")
