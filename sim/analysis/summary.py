"""Summaries of Monte Carlo outputs along the ``sample`` dim, with their Monte Carlo error.

Estimates (:func:`summarize`) have a ``stat`` dim; intervals have a
``ci_bound`` dim (``lower``, ``upper``) and their probability in the attrs
(``probability``). The Monte Carlo intervals treat the samples as
independent draws: exact for the ``random`` sampler and conservative for
``lhs`` and ``sobol``, whose errors are smaller.

The array kernels (:mod:`._array`) take numpy arrays with the sample axis
last; the functions here wrap them with :func:`xarray.apply_ufunc`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from .._parallel import cores
from ..models import cost_revenue_pairs
from ._array import hdi, eti, jeffreys_interval, mean_ci, mean_half_width, quantile_ci, quantiles_and_ci

__all__ = ["output_names", "output_roles", "comparisons", "OUTPUT_ROLES", "summarize", "summarize_run", "mc_interval",
           "interval", "exceedance", "exceedance_interval", "jeffreys_interval", "summary_dataset", "exceedances",
           "exceedance_name", "running_estimates", "stat_label", "DEFAULT_QUANTILES", "CI_BOUND", "check_probability"]

DEFAULT_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
CI_BOUND = ["lower", "upper"]


#: ``role`` attrs of a run's outputs: an output with no role in the economics, or its role.
OUTPUT_ROLES = ("output", "cost", "revenue", "volume")


def output_names(ds: xr.Dataset) -> list[str]:
    """Names of the model's outputs in a run (variables whose ``role`` attr is an output role), in order."""
    return [name for name, da in ds.data_vars.items() if da.attrs.get("role") in OUTPUT_ROLES]


def output_roles(ds: xr.Dataset) -> dict[str, str | None]:
    """Each output's role in the economics (``cost``, ``revenue``, ``volume``) or None."""
    return {name: (None if ds[name].attrs["role"] == "output" else ds[name].attrs["role"]) for name in output_names(ds)}


def comparisons(ds: xr.Dataset) -> tuple[tuple[str, str], ...]:
    """(cost, revenue) pairs of a run, from its outputs' roles, as the model's own (every cost against every revenue)."""
    return cost_revenue_pairs(output_roles(ds))


def is_posterior(ds: xr.Dataset) -> bool:
    """Whether run ``ds`` is a posterior (``sim calibrate``): its rows resampled from the weighted run."""
    return "calibration" in ds.attrs


def effective_samples(ds: xr.Dataset) -> float | None:
    """A run's effective number of samples where it is below its count of samples, else None.

    A posterior resampled from weighted samples holds ``effective_samples``
    and its rows (``samples``) in its attrs; its first rows alone (the
    report's estimates read the first 200,000) hold the same share of its
    effective samples.
    """
    n_eff, rows, n = ds.attrs.get("effective_samples"), ds.attrs.get("samples"), ds.sizes.get("sample", 0)
    if n_eff is None:
        return None
    n_eff = float(n_eff) * (n / int(rows) if rows else 1.0)
    return n_eff if n_eff < n else None


def stat_label(q: float) -> str:
    """``0.05 -> "p05"``, ``0.5 -> "p50"``, ``0.025 -> "p2.5"``."""
    return "p" + format(100 * q, "02g")


def check_probability(p: float, what: str = "probability") -> float:
    """``p`` as a float in the open interval (0, 1), or ValueError."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 < p < 1.0:
        raise ValueError(f"{what} must lie in (0, 1), got {p!r}")
    return float(p)


def summarize(ds: xr.Dataset, *, quantiles: Sequence[float] = DEFAULT_QUANTILES,
              dim: str = "sample") -> xr.Dataset:
    """Mean, its standard error, standard deviation and quantiles of every output.

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
        One variable per output with a leading ``stat`` dim (``mean``,
        ``se_mean``, ``sd``, then the quantile labels) and the output's other
        dims. ``sd`` uses ``ddof=1``; ``se_mean = sd / sqrt(n)``. NaNs are not
        skipped: a NaN anywhere in an output shows in its summary.
    """
    for q in quantiles:
        check_probability(q, "a quantile")
    sub = ds[output_names(ds)]
    n = sub.sizes[dim]
    mean = sub.mean(dim, skipna=False, keep_attrs=True)
    sd = sub.std(dim, ddof=1, skipna=False, keep_attrs=True)
    parts = [mean.expand_dims(stat=["mean"]), (sd / np.sqrt(n)).expand_dims(stat=["se_mean"]),
             sd.expand_dims(stat=["sd"])]
    q = sub.quantile(list(quantiles), dim=dim, skipna=False, keep_attrs=True)
    parts.append(q.rename(quantile="stat").assign_coords(stat=[stat_label(p) for p in quantiles]))
    out = xr.concat(parts, dim="stat", coords="minimal", compat="override", join="outer")
    for name in out.data_vars:
        out[name].attrs = dict(ds[name].attrs)
    out.attrs = dict(ds.attrs)
    return out


# --- labelled wrappers -------------------------------------------------------

def _bounds(da: xr.DataArray, func, dim: str, **kwargs) -> xr.DataArray:
    return xr.apply_ufunc(func, da, input_core_dims=[[dim]], output_core_dims=[["ci_bound"]],
                          kwargs=kwargs).assign_coords(ci_bound=CI_BOUND)


def mc_interval(ds: xr.Dataset, *, quantiles: Sequence[float] = DEFAULT_QUANTILES, probability: float = 0.95,
                dim: str = "sample") -> xr.Dataset:
    """Monte Carlo confidence intervals of the mean and quantiles of every output.

    The mean's interval is Student's t with the sample standard deviation;
    each quantile's is distribution-free: the order statistics whose ranks
    bracket the Binomial(n, q) count of samples below the true quantile.

    Returns
    -------
    xarray.Dataset
        One variable per output, dims ``stat`` (``mean`` and the quantile
        labels), ``ci_bound`` and the output's other dims; the interval's
        probability in ``attrs["probability"]``.
    """
    probability = check_probability(probability)
    q = np.asarray([check_probability(p, "a quantile") for p in quantiles])
    labels = ["mean", *[stat_label(p) for p in quantiles]]
    out = xr.Dataset()
    for name in output_names(ds):
        da = ds[name]
        mean = _bounds(da, mean_ci, dim, probability=probability)
        qs = xr.apply_ufunc(quantile_ci, da, input_core_dims=[[dim]], output_core_dims=[["stat", "ci_bound"]],
                            kwargs={"q": q, "probability": probability})
        qs = qs.assign_coords(ci_bound=CI_BOUND)
        both = xr.concat([mean.expand_dims(stat=1), qs], dim="stat").assign_coords(stat=labels)
        out[name] = both.transpose("stat", "ci_bound", ...).assign_attrs(da.attrs)
    out.attrs = {**ds.attrs, "probability": probability,
                 "method": "mean: Student t; quantiles: distribution-free order statistics"}
    return out


def interval(ds: xr.Dataset, probability: float = 0.9, *, kind: str = "eti", dim: str = "sample") -> xr.Dataset:
    """The interval holding ``probability`` of each output's distribution.

    Parameters
    ----------
    kind : {"eti", "hdi"}
        Equal-tailed (between the two tail quantiles) or highest-density (the
        shortest single interval holding ``probability`` of the samples).

    Returns
    -------
    xarray.Dataset
        One variable per output, dims ``ci_bound`` and the output's others.
    """
    probability = check_probability(probability)
    kernels = {"eti": eti, "hdi": hdi}
    if kind not in kernels:
        raise ValueError(f"unknown interval kind {kind!r}; valid: eti, hdi")
    out = xr.Dataset({name: _bounds(ds[name], kernels[kind], dim, probability=probability).assign_attrs(ds[name].attrs)
                      for name in output_names(ds)})
    out.attrs = {**ds.attrs, "probability": probability, "kind": kind}
    return out


def _threshold(ds: xr.Dataset, threshold: str | float):
    return ds[threshold] if isinstance(threshold, str) else threshold


def exceedance(ds: xr.Dataset, output: str, threshold: str | float, *, dim: str = "sample") -> xr.DataArray:
    """Probability that ``output`` exceeds ``threshold`` (a variable name or a number).

    Both sides are taken from the same sample, so for a cost output and a
    revenue ``threshold`` this is P(cost > revenue) under the joint
    distribution.
    """
    p = (ds[output] > _threshold(ds, threshold)).mean(dim)
    label = threshold if isinstance(threshold, str) else format(threshold, "g")
    p.attrs = {"units": "1", "long_name": f"P({output} > {label})"}
    return p.rename(f"p_{output}_gt_{label}")


def exceedance_interval(ds: xr.Dataset, output: str, threshold: str | float, *, probability: float = 0.95,
                        dim: str = "sample", n_eff: float | None = None) -> xr.DataArray:
    """Monte Carlo (Jeffreys) interval of :func:`exceedance`: dims ``ci_bound`` and the cell dims.

    ``n_eff``: the samples' effective number where it is below their count
    (a posterior resampled from weighted samples); the interval is that of
    the same share of ``n_eff`` independent samples.
    """
    probability = check_probability(probability)
    hits = (ds[output] > _threshold(ds, threshold)).sum(dim)
    ci = xr.apply_ufunc(jeffreys_interval, hits, kwargs={"n": ds.sizes[dim], "probability": probability,
                                                         "n_eff": n_eff},
                        output_core_dims=[["ci_bound"]]).assign_coords(ci_bound=CI_BOUND)
    ci.attrs = {"units": "1", "probability": probability, "method": "Jeffreys binomial interval"}
    return ci.transpose("ci_bound", ...)


# --- the labelled summary --------------------------------------------------------

#: ``role`` attrs of a summary's other variables: a probability that a cost exceeds a revenue, and an interval.
EXCEEDANCE, INTERVAL = "exceedance", "interval"


def exceedance_name(output: str, threshold: str) -> str:
    return f"p_{output}_gt_{threshold}"


def summary_dataset(ds: xr.Dataset, comparisons=(), *, quantiles: Sequence[float] = DEFAULT_QUANTILES,
                    probability: float = 0.95) -> xr.Dataset:
    """The labelled summary of a run: every estimate with its Monte Carlo interval, in one Dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        A run (:func:`sim.run`).
    comparisons : sequence of (str, str)
        (cost, revenue) pairs whose P(cost > revenue) to estimate (from the
        outputs' roles, :func:`sim.models.cost_revenue_pairs`).

    Returns
    -------
    xarray.Dataset
        Per output, a variable with dims ``stat`` (``mean``, ``se_mean``,
        ``sd``, then a label per quantile) and the output's cell dims, and
        ``<output>_ci`` with dims ``stat``, ``ci_bound`` and the cells (NaN
        for ``se_mean`` and ``sd``). The ``stat`` dim carries a float
        ``quantile`` coordinate (NaN for the moments). Per comparison,
        ``p_<cost>_gt_<revenue>`` (role ``exceedance``, with ``output`` and
        ``threshold`` in its attrs) and its ``_ci``. Attrs: the run's, plus
        the intervals' ``probability``.
    """
    probability = check_probability(probability)
    q = np.asarray([check_probability(p, "a quantile") for p in quantiles])
    labels = [stat_label(p) for p in q]
    stat = ["mean", "se_mean", "sd", *labels]
    out = xr.Dataset(attrs={**ds.attrs, "probability": probability})
    n_eff = effective_samples(ds)
    names = output_names(ds)

    def quantiles_of(name):
        return xr.apply_ufunc(quantiles_and_ci, ds[name], input_core_dims=[["sample"]],
                              output_core_dims=[["stat"], ["stat", "ci_bound"]],
                              kwargs={"q": q, "probability": probability, "n_eff": n_eff})

    # the partitions are most of a summary's time, and numpy's releases the GIL: one thread per core
    with ThreadPoolExecutor(max_workers=max(1, min(len(names), cores()))) as pool:
        partitioned = dict(zip(names, pool.map(quantiles_of, names)))
    for name in names:
        da = ds[name]
        n = n_eff or da.sizes["sample"]  # the standard error of a posterior is of its effective samples
        mean = da.mean("sample", skipna=False)
        sd = da.std("sample", ddof=1, skipna=False)
        qs, qci = partitioned.pop(name)
        moments = xr.concat([mean, sd / np.sqrt(n), sd], dim="stat")
        out[name] = xr.concat([moments, qs], dim="stat").assign_coords(stat=stat).transpose("stat", ...)
        out[name].attrs = dict(da.attrs)
        half = mean_half_width(sd, n, probability)  # ``mean_ci``'s, from the mean and sd above
        interval_of_mean = (xr.concat([mean - half, mean + half], dim="ci_bound").transpose(..., "ci_bound")
                            .assign_coords(ci_bound=CI_BOUND))
        nan = xr.full_like(interval_of_mean, np.nan)
        out[f"{name}_ci"] = (xr.concat([interval_of_mean, nan, nan, qci.assign_coords(ci_bound=CI_BOUND)], dim="stat")
                             .assign_coords(stat=stat).transpose("stat", "ci_bound", ...)
                             .assign_attrs(role=INTERVAL, of=name))
    for output, threshold in comparisons:
        p = exceedance(ds, output, threshold)
        out[p.name] = p.assign_attrs(role=EXCEEDANCE, output=output, threshold=threshold)
        out[f"{p.name}_ci"] = exceedance_interval(ds, output, threshold, probability=probability,
                                                  n_eff=n_eff).assign_attrs(
            role=INTERVAL, of=p.name)
    return with_quantile_coord(out, quantiles)


def with_quantile_coord(summary: xr.Dataset, quantiles: Sequence[float]) -> xr.Dataset:
    """``summary`` with the float ``quantile`` coordinate on its ``stat`` dim (NaN for the moments)."""
    by_label = {stat_label(q): float(q) for q in quantiles}
    return summary.assign_coords(quantile=("stat", [by_label.get(str(s), np.nan) for s in summary["stat"].values]))


def exceedances(summary: xr.Dataset) -> list[str]:
    """The names of a summary's P(cost > revenue) variables, in order."""
    return [n for n, v in summary.data_vars.items() if v.attrs.get("role") == EXCEEDANCE]


def summarize_run(ds: xr.Dataset, *, quantiles: Sequence[float] = DEFAULT_QUANTILES,
                  probability: float = 0.95) -> xr.Dataset:
    """The labelled summary of run ``ds`` (:func:`summary_dataset`), comparing each cost with each revenue."""
    return summary_dataset(ds, comparisons(ds), quantiles=quantiles, probability=probability)


def running_estimates(da: xr.DataArray, *, points: int = 30, quantile: float = 0.95,
                      net: xr.DataArray | None = None, probability: float = 0.95) -> xr.Dataset:
    """The mean and ``quantile`` of ``da`` (dims ``[scenario,] sample``) from its first n samples, for n rising
    geometrically from 100 to all of them, with their Monte Carlo intervals (:func:`mc_interval`).

    With ``net`` (net benefit, the same dims), also the running P(net > 0) with its Jeffreys interval.

    Returns
    -------
    xarray.Dataset
        ``estimate`` (dims ``n``, ``stat`` = ``mean`` and the quantile's
        label, and ``da``'s others), ``interval`` (with ``ci_bound``), and
        with ``net`` ``p_profitable`` and ``p_profitable_ci``.
    """
    total = da.sizes["sample"]
    ns = np.unique(np.geomspace(min(100, total), total, points).astype(int))
    label = stat_label(quantile)
    ds = xr.Dataset({da.name: da.assign_attrs(role=da.attrs.get("role", "output"))})
    ci = xr.concat([mc_interval(ds.isel(sample=slice(0, n)), quantiles=[quantile], probability=probability)[da.name]
                    for n in ns], dim="n").assign_coords(n=ns)
    est = xr.concat([xr.concat([part.mean("sample"), part.quantile(quantile, "sample").drop_vars("quantile")],
                               dim="stat").assign_coords(stat=["mean", label])
                     for part in (da.isel(sample=slice(0, n)) for n in ns)], dim="n").assign_coords(n=ns)
    out = xr.Dataset({"estimate": est, "interval": ci.transpose("n", "stat", ..., "ci_bound")})
    if net is not None:
        wins = (net > 0).cumsum("sample").isel(sample=ns - 1).rename(sample="n").assign_coords(n=ns)
        out["p_profitable"] = wins / xr.DataArray(ns, dims="n", coords={"n": ns})
        out["p_profitable_ci"] = xr.apply_ufunc(jeffreys_interval, wins, xr.DataArray(ns, dims="n", coords={"n": ns}),
                                                kwargs={"probability": probability}, output_core_dims=[["ci_bound"]]
                                                ).assign_coords(ci_bound=CI_BOUND)
    return out
