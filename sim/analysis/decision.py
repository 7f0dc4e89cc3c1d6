"""Decision measures for "deploy or not", from the samples of one run.

Net benefit per unit (per query, per task...) is ``revenue - cost``: by
default the outputs whose roles are ``cost`` and ``revenue`` (any other
output may be named). The decision is between deploying (net benefit NB)
and not deploying (0):

* expected net benefit and P(NB > 0), with Monte Carlo intervals;
* the acceptability curve: P(NB > 0) as the revenue varies;
* the break-even revenue;
* the expected value of perfect information, ``EVPI = E[max(NB, 0)] -
  max(E[NB], 0)``, and per prior the partial EVPI, ``EVPPI = E[max(g, 0)] -
  max(E[g], 0)`` with ``g(theta) = E[NB | theta]`` estimated by regression
  on the ordinary sample (Strong, Oakley and Brennan 2014, Med Decis Making
  34(3):311-326): a smoothing spline through the means of NB in
  equal-count bins of theta, smoothed as far as the bin means' noise allows
  (:func:`conditional_mean`), or the exact group means for a prior with few
  distinct values.

Stress tests and goal seek, which run the model again, are in
:mod:`sim.studies.decision`.

The module is long because EVPI, EVPPI's regression and the decision table
that gathers every measure per cell are kept together with their kernels.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import numpy as np
import xarray as xr
from scipy import interpolate

from .._parallel import forked_map
from ..errors import SimError
from ..models import choose
from .sensitivity import check_output, drawn_inputs, sort_order, sort_orders
from . import _array
from .summary import (CI_BOUND, check_probability, effective_samples, exceedance_name, output_names, output_roles,
                      summarize)

__all__ = ["net_benefit", "evpi", "evppi", "acceptability", "decide", "statistic", "cost_and_revenue", "per_year",
           "verdict", "Verdict", "period_measures"]


def cost_and_revenue(roles, cost: str | None = None, revenue: str | None = None, *,
                     flags: tuple[str, str] = ("cost=", "revenue="), what: str = "the run") -> tuple[str, str]:
    """The cost and revenue outputs: those named, else the outputs with roles ``cost`` and ``revenue``.

    ``roles`` maps each output to its role (:func:`~.summary.output_roles`,
    or a model's ``roles()``). Raises :class:`SimError` when an output is
    unknown, when several have a role (naming them), or when none has it:
    without a revenue there is no decision to make.
    """
    c = choose(roles, "cost", cost, flag=flags[0], what=what)
    r = choose(roles, "revenue", revenue, flag=flags[1], what=what)
    if r is None:
        raise SimError(f"{what} has no output with role revenue, so there is no deploy-or-not decision to make "
                       f"(outputs: {', '.join(roles)}); name one with {flags[1]} to compare a cost with it")
    if c is None:
        raise SimError(f"{what} has no output with role cost (outputs: {', '.join(roles)}); name one with {flags[0]}")
    return c, r


def net_benefit(ds: xr.Dataset, *, cost: str | None = None, revenue: str | None = None) -> xr.DataArray:
    """``revenue - cost`` per sample, in the cost's units, with the cells of both.

    ``cost`` and ``revenue`` default to the outputs with those roles.
    """
    cost, revenue = cost_and_revenue(output_roles(ds), cost, revenue)
    nb = (ds[revenue] - ds[cost]).transpose(..., "sample")
    nb.attrs = {"units": ds[cost].attrs.get("units", ""), "long_name": f"{revenue} - {cost}"}
    return nb.rename("net_benefit")


# --- array kernels (sample axis last) ---------------------------------------

def conditional_mean(theta: np.ndarray, y: np.ndarray, *, bins: int = 200,
                     order: np.ndarray | None = None) -> np.ndarray:
    """Regression estimate of E[y | theta] at each sample (1-d arrays of one length).

    A prior with at most ``bins`` distinct values gets its exact group means;
    otherwise a cubic smoothing spline through the means of ``y`` in ``bins``
    equal-count bins of ``theta`` (fewer for small runs, so that each bin
    holds at least 20 samples), each weighted by the inverse of its
    standard error, with the smoothing condition that the weighted squared
    residuals sum to the number of bins (their expected chi-square when the
    spline is the true conditional mean; :func:`scipy.interpolate.make_splrep`),
    evaluated at each ``theta`` within the bins' range. ``order``, if given,
    is ``np.argsort(theta, kind="stable")`` computed already (one prior's
    order serves every cell it is compared in).
    """
    n = theta.size
    order = np.argsort(theta, kind="stable") if order is None else order
    ts, ys = theta[order], y[order]
    values, starts = np.unique(ts, return_index=True)
    fitted = np.empty(n)
    if len(values) <= bins:
        counts = np.diff(np.append(starts, n))
        fitted[order] = np.repeat(np.add.reduceat(ys, starts) / counts, counts)
        return fitted
    bins = max(5, min(bins, n // 20))
    starts = (np.arange(bins) * n) // bins
    counts = np.diff(np.append(starts, n))
    centres = np.add.reduceat(ts, starts) / counts
    means = np.add.reduceat(ys, starts) / counts
    spread = np.add.reduceat((ys - np.repeat(means, counts)) ** 2, starts)
    # bins inside a run of tied values share a centre: merge them
    centres, inverse = np.unique(centres, return_inverse=True)
    weights = np.bincount(inverse, weights=counts)
    means = np.bincount(inverse, weights=means * counts) / weights
    if len(centres) < 5:
        fitted[order] = np.interp(ts, centres, means)
        return fitted
    # standard error of each bin mean, from the pooled within-bin variance
    pooled = spread.sum() / (n - bins)
    if pooled == 0:
        fitted[order] = np.interp(ts, centres, means)
        return fitted
    se = np.sqrt(pooled / weights)
    # x scaled to [0, 1]: raw units (searches per month ~ 1e11) make the knots ill-conditioned
    x0, span = centres[0], centres[-1] - centres[0]
    with warnings.catch_warnings():
        # FITPACK warns when its iterations end with the residual sum near, not at, the target (after 20
        # iterations, or with few noisy bins in a small run, "s too small"); the spline it returns is then
        # its closest approximation, which is what is wanted here
        warnings.filterwarnings("ignore", message=".*maximal number of iterations", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="(?s).*s too small", category=RuntimeWarning)
        spline = interpolate.make_splrep((centres - x0) / span, means, w=1.0 / se, s=len(centres))
    fitted[order] = spline((np.clip(ts, centres[0], centres[-1]) - x0) / span)
    return fitted


def _evppi(theta: np.ndarray, nb: np.ndarray, order: np.ndarray, bins: int) -> np.ndarray:
    # the prior's own rows sorted before they are broadcast to the cells: a prior without the cells' dims once
    theta, nb, order = np.broadcast_arrays(theta, nb, order)
    lead = nb.shape[:-1]
    rows = [a.reshape(-1, a.shape[-1]) for a in (theta, nb, order)]
    out = np.empty(len(rows[1]))
    for j, (t, y, o) in enumerate(zip(*rows)):
        g = conditional_mean(t, y, bins=bins, order=o)
        # against the fitted values' own mean, as Strong et al. do: a fitted curve that stays on one
        # side of 0 then gives exactly 0, whatever the fit's small error in the mean
        out[j] = np.maximum(g, 0.0).mean() - max(g.mean(), 0.0)
    return out.reshape(lead)


# --- labelled -----------------------------------------------------------------


def evpi(nb: xr.DataArray, *, dim: str = "sample") -> xr.DataArray:
    """Expected value of perfect information per cell, in the units of ``nb``."""
    out = xr.apply_ufunc(_array.evpi, nb, input_core_dims=[[dim]])
    out.attrs = {"units": nb.attrs.get("units", ""), "long_name": "expected value of perfect information"}
    return out.rename("evpi")


def evppi(ds: xr.Dataset, nb: xr.DataArray, *, inputs: list[str] | None = None, bins: int = 200,
          dim: str = "sample", orders: dict[str, xr.DataArray] | None = None, jobs: int | None = 1) -> xr.DataArray:
    """Partial EVPI of each drawn input (Strong, Oakley and Brennan's regression method).

    ``orders`` may give inputs' :func:`sim.analysis.sensitivity.sort_orders` of these samples, computed before.
    ``jobs``: forked processes that share the inputs (:func:`sim._parallel.forked_map`; None, one per core),
    for large runs: each input's regressions are Python-bound.

    Returns
    -------
    xarray.DataArray
        Dims: the cell dims of ``nb``, then ``input``; the units of ``nb``.
    """
    names = drawn_inputs(ds, dim)
    if inputs is not None:
        for name in inputs:
            check_output(names, name, "drawn prior")
        names = list(inputs)
    return _evppis(ds, [nb], names, bins, dim, orders, jobs)[0]


def _evppis(ds: xr.Dataset, nbs: list[xr.DataArray], names: list[str], bins: int, dim: str,
            orders: dict[str, xr.DataArray] | None, jobs: int | None) -> list[xr.DataArray]:
    """:func:`evppi` of ``names`` against each net benefit of ``nbs``, every (net benefit, input) regression
    shared among the same forked processes."""
    orders = orders or {}

    def part(i: int) -> xr.DataArray:
        nb, name = nbs[i // len(names)], names[i % len(names)]
        return xr.apply_ufunc(_evppi, ds[name], nb, orders[name] if name in orders else sort_order(ds[name], dim),
                              input_core_dims=[[dim], [dim], [dim]], kwargs={"bins": bins})

    parts = forked_map(part, len(nbs) * len(names), jobs)
    results = []
    for k, nb in enumerate(nbs):
        mine = parts[k * len(names):(k + 1) * len(names)]
        if mine:
            out = xr.concat(mine, dim="input", coords="minimal", compat="override", join="outer")
        else:  # every prior fixed: nothing to learn, an empty ``input`` dim
            out = xr.zeros_like(nb.isel({dim: 0}, drop=True)).expand_dims(input=0)
        out = out.assign_coords(input=names).transpose(..., "input")
        out.attrs = {"units": nb.attrs.get("units", ""), "long_name": "expected value of partial perfect information",
                     "method": "Strong, Oakley and Brennan (2014) regression: smoothing spline through binned means"}
        results.append(out.rename("evppi"))
    return results


def acceptability(ds: xr.Dataset, *, cost: str | None = None, revenue: str | None = None,
                  values: np.ndarray | None = None, points: int = 61, dim: str = "sample") -> xr.DataArray:
    """P(net benefit > 0) if the revenue were each of ``values`` (the acceptability curve).

    Parameters
    ----------
    values : array_like, optional
        Revenues to try (in the cost's units); default ``points`` values
        log-spaced from the cost's 0.5th to its 99.5th percentile over all
        cells.

    Returns
    -------
    xarray.DataArray
        Dims: the cost's cell dims, then ``revenue_value`` (the cost's units).
    """
    cost, revenue = cost_and_revenue(output_roles(ds), cost, revenue)
    c = ds[cost]
    if values is None:
        lo, hi = np.quantile(c.values, [0.005, 0.995])
        lo = lo if lo > 0 else max(hi * 1e-6, np.finfo(float).tiny)
        values = np.geomspace(lo, hi, points) if hi > lo else np.array([lo])
    grid = xr.DataArray(np.asarray(values, dtype=float), dims=("revenue_value",))
    out = xr.apply_ufunc(lambda a, v: (a[..., None, :] < v[:, None]).mean(axis=-1), c, grid,
                         input_core_dims=[[dim], ["revenue_value"]], output_core_dims=[["revenue_value"]])
    out = out.assign_coords(revenue_value=grid.values)
    out["revenue_value"].attrs = {"units": ds[revenue].attrs.get("units", ""),
                                  "long_name": ds[revenue].attrs.get("long_name", revenue)}
    out.attrs = {"units": "1", "long_name": f"P({cost} < {revenue})"}
    return out.rename("p_profitable")


def per_year(nb_units: str, volume_units: str) -> tuple[float, str] | None:
    """How a net benefit per unit times a volume per period becomes money per year.

    Returns ``(factor, units)`` such that ``nb * volume * factor`` is in
    ``units`` (the money unit per year), or None when the product is not money
    per period (a volume in tokens against a benefit per query, say).
    """
    from ..units import format_units, parse, registry

    reg = registry()
    yearly = reg.Quantity(1.0, parse(nb_units) * parse(volume_units) * parse("year"))
    if "[time]" in str(yearly.dimensionality) or "[currency]" not in str(yearly.dimensionality):
        return None
    base = yearly.to_base_units()
    return float(base.magnitude), f"{format_units(base.units)}/year"


def decide(ds: xr.Dataset, *, cost: str | None = None, revenue: str | None = None, volume: str | None | bool = None,
           probability: float = 0.95, bins: int = 200, evppi_samples: int | None = None,
           dim: str = "sample", orders: dict[str, xr.DataArray] | None = None, jobs: int | None = 1) -> xr.Dataset:
    """Decision measures for deploying (net benefit ``revenue - cost``) against not (0).

    Parameters
    ----------
    cost, revenue : str, optional
        Default: the outputs whose roles are ``cost`` and ``revenue``.
    evppi_samples : int, optional
        Estimate EVPPI from the first this many samples only (its regression
        costs a sort per prior and cell); every other measure uses them all.
    orders : dict, optional
        The priors' :func:`sim.analysis.sensitivity.sort_orders` of those
        first samples, if computed already.
    jobs : int or None
        Forked processes that share the EVPPI regressions (None: one per
        core; see :func:`evppi`).
    volume : str, None or False
        An output with a number per period (queries per year, tasks per
        month); the value of information is then also given per year
        (``NB * volume`` per sample, converted with the units). None: the
        output with role ``volume``, if any; False: none.

    Returns
    -------
    xarray.Dataset
        Per cell: ``expected_net_benefit`` and ``p_profitable`` with
        ``..._ci`` (Monte Carlo intervals at ``probability``, dim
        ``ci_bound``), ``deploy`` (expected net benefit > 0), ``evpi``,
        ``breakeven_revenue`` (the expected cost: the revenue per query at
        which the expected net benefit is 0) with its Monte Carlo interval
        ``breakeven_revenue_ci`` and the cost's 90 % interval
        ``breakeven_revenue_range``; per cell and input ``evppi``; with a
        volume, ``evpi_per_year`` and ``evppi_per_year``.
    """
    probability = check_probability(probability)
    roles = output_roles(ds)
    cost, revenue = cost_and_revenue(roles, cost, revenue)
    volume = None if volume is False else choose(roles, "volume", volume, flag="volume=", what="the run")
    nb = net_benefit(ds, cost=cost, revenue=revenue)
    n = ds.sizes[dim]
    n_eff = effective_samples(ds)  # a posterior's intervals are those of its effective samples, not its rows
    core = dict(input_core_dims=[[dim]], output_core_dims=[["ci_bound"]])
    interval_kwargs = {"probability": probability, "n_eff": n_eff}
    out = xr.Dataset()
    out["expected_net_benefit"] = nb.mean(dim)
    out["expected_net_benefit_ci"] = xr.apply_ufunc(_array.mean_ci, nb, kwargs=interval_kwargs, **core)
    wins = (nb > 0).sum(dim)
    out["p_profitable"] = wins / n
    out["p_profitable_ci"] = xr.apply_ufunc(_array.jeffreys_interval, wins, kwargs={"n": n, **interval_kwargs},
                                            output_core_dims=[["ci_bound"]])
    out["deploy"] = out["expected_net_benefit"] > 0
    out["breakeven_revenue"] = ds[cost].mean(dim)
    out["breakeven_revenue_ci"] = xr.apply_ufunc(_array.mean_ci, ds[cost], kwargs=interval_kwargs, **core)
    out["breakeven_revenue_range"] = (ds[cost].quantile([0.05, 0.95], dim=dim).rename(quantile="ci_bound")
                                      .assign_coords(ci_bound=CI_BOUND).transpose(..., "ci_bound"))
    out["evpi"] = evpi(nb, dim=dim)
    units = ds[cost].attrs.get("units", "")
    yearly_units = per_year(units, ds[volume].attrs.get("units", "1")) if volume is not None else None
    nbs = [nb]
    if yearly_units is not None:
        factor, _ = yearly_units
        nbs.append(nb * ds[volume] if factor == 1.0 else nb * ds[volume] * factor)
    first = {dim: slice(0, evppi_samples)}
    shown = ds.isel(first)
    if orders is None:  # each prior sorted once for the EVPPI per query and per year
        orders = sort_orders(shown, dim)
    partial = _evppis(shown, [b.isel(first) for b in nbs], drawn_inputs(ds, dim), bins, dim, orders, jobs)
    out["evppi"] = partial[0]
    if yearly_units is not None:
        out["evpi_per_year"] = evpi(nbs[1], dim=dim)
        out["evppi_per_year"] = partial[1]
    out = out.assign_coords(ci_bound=CI_BOUND)
    for name in ("expected_net_benefit", "expected_net_benefit_ci", "evpi", "evppi", "breakeven_revenue",
                 "breakeven_revenue_ci", "breakeven_revenue_range"):
        out[name].attrs["units"] = units
    for name in ("evpi_per_year", "evppi_per_year"):
        if name in out:
            out[name].attrs["units"] = yearly_units[1]
    for name in ("p_profitable", "p_profitable_ci", "deploy"):  # shares and a choice: no unit of money
        out[name].attrs["units"] = "1"
    out.attrs = {"cost": cost, "revenue": revenue, "volume": volume if yearly_units else "", "probability": probability,
                 "samples": n, "experiment": ds.attrs.get("experiment", ""),
                 "evppi_method": "Strong, Oakley and Brennan (2014) regression; smoothing spline "
                                 f"through {bins} binned means"}
    return out


# --- statistics of a run -------------------------------------------------------

def statistic(kind: str, *, output: str | None = None, cost: str | None = None,
              revenue: str | None = None) -> Callable[[xr.Dataset], xr.DataArray]:
    """A function of a run: ``p_profitable`` (P(revenue > cost)), ``mean``, ``median`` or ``pNN`` of ``output``.

    Names left out are read from the run's roles (``output``: the cost).
    """
    if kind == "p_profitable":
        def p_profitable(ds):
            c, r = cost_and_revenue(output_roles(ds), cost, revenue)
            return (ds[r] > ds[c]).mean("sample")

        return p_profitable

    def name(ds) -> str:
        found = output or choose(output_roles(ds), "cost", cost, what="the run")
        if found is None:
            raise SimError(f"no output has role cost; name the output ({', '.join(output_names(ds))})")
        return found

    if kind == "mean":
        return lambda ds: ds[name(ds)].mean("sample")
    if kind == "median":
        kind = "p50"
    if kind.startswith("p"):
        try:
            q = float(kind[1:]) / 100.0
        except ValueError:
            q = -1.0
        if 0.0 < q < 1.0:
            return lambda ds: ds[name(ds)].quantile(q, dim="sample").drop_vars("quantile")
    raise SimError(f"unknown statistic {kind!r}; valid: p_profitable, mean, median, pNN (a percentile, such as p90)")


# --- the verdict of a cell -------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Verdict:
    """How often deploying loses money in one cell, the expected loss or gain, and what would settle it.

    Attributes
    ----------
    p_loss : float
        P(cost > revenue), with its Monte Carlo interval ``p_loss_ci`` (lower, upper).
    expected_net_benefit : float
        E[revenue - cost], in ``units`` (the cost's).
    settle : tuple of str or None
        The priors worth learning first (largest EVPPI above 0, at most
        ``top``); empty when none would change the decision; None when EVPPI
        is not known (no samples).
    """

    p_loss: float
    p_loss_ci: tuple[float, float]
    expected_net_benefit: float
    units: str
    settle: tuple[str, ...] | None


def verdict(summary: xr.Dataset, output: str, threshold: str, cell: dict, decision: xr.Dataset | None = None,
            top: int = 2) -> Verdict:
    """The verdict of deploying at ``cell``, from a labelled summary and (where the run kept its samples) its
    decision measures.

    The loss probability and its interval are P(``output`` > ``threshold``)
    of the labelled summary (:func:`sim.analysis.summary.summary_dataset`);
    the expected net benefit and the priors worth learning (largest EVPPI)
    come from ``decision`` (:func:`decide`), and the net benefit from the
    summary's means without it.
    """
    def at(ds, name):
        var = ds[name]
        return var.sel({d: v for d, v in cell.items() if d in var.dims})

    var = exceedance_name(output, threshold)
    ci = at(summary, f"{var}_ci")
    if decision is not None:
        enb = float(at(decision, "expected_net_benefit"))
    else:
        enb = float(at(summary, threshold).sel(stat="mean")) - float(at(summary, output).sel(stat="mean"))
    settle = None
    if decision is not None and "evppi" in decision:
        ev = at(decision, "evppi")
        settle = tuple([str(n) for n in ev["input"].values[np.argsort(-ev.values, kind="stable")]
                        if float(ev.sel(input=n)) > 0][:top])
    return Verdict(float(at(summary, var)), (float(ci.sel(ci_bound="lower")), float(ci.sel(ci_bound="upper"))), enb,
                   summary[output].attrs.get("units", ""), settle)


def period_measures(ds: xr.Dataset, cost: str, revenue: str, *, dim: str = "sample") -> xr.Dataset | None:
    """The outputs of a cash flow over periods that sum it up: those of a run with a ``period`` dim that lack it,
    the compared ``cost`` and ``revenue`` aside (a net present value, a payback), each with its mean, 5th, 50th
    and 95th percentiles (:func:`~.summary.summarize`) and the share of samples below 0 (for a net present
    value, P(NPV < 0)). None for a run without a ``period`` dim, or without such outputs."""
    if "period" not in ds.dims:
        return None
    names = [n for n in output_names(ds) if "period" not in ds[n].dims and n not in (cost, revenue)]
    if not names:
        return None
    summary = summarize(ds[names], quantiles=(0.05, 0.5, 0.95), dim=dim).sel(stat=["mean", "p05", "p50", "p95"])
    below = xr.Dataset({n: (ds[n] < 0).mean(dim) for n in names}).expand_dims(stat=["p_below_0"])
    out = xr.concat([summary, below], dim="stat")
    for n in names:
        out[n].attrs = {"units": ds[n].attrs.get("units", ""), "long_name": ds[n].attrs.get("long_name", n)}
    return out
