"""Decision measures for "deploy or not", stress tests and goal seeking.

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

:func:`stress` reruns an experiment with one prior restricted to a band of its
percentiles; :func:`goal_seek` finds the value (or scale factor) of a prior
at which a statistic reaches a target, by runs on common random numbers and
:func:`scipy.optimize.brentq`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import numpy as np
import xarray as xr
from scipy import interpolate, optimize

from ..engine import run
from ..errors import SimError
from ..experiment import Experiment
from ..models import choose
from ..priors import Prior, banded, held, scaled
from .sensitivity import check_output, drawn_inputs
from .summary import CI_BOUND, _mean_ci, check_probability, jeffreys_interval, output_names, output_roles, summarize

__all__ = ["net_benefit", "evpi", "evppi", "acceptability", "decide", "stress", "goal_seek", "GoalSeekResult",
           "with_prior", "statistic", "cost_and_revenue", "per_year"]


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

def _evpi(nb: np.ndarray) -> np.ndarray:
    return np.maximum(nb, 0.0).mean(axis=-1) - np.maximum(nb.mean(axis=-1), 0.0)


def conditional_mean(theta: np.ndarray, y: np.ndarray, *, bins: int = 200) -> np.ndarray:
    """Regression estimate of E[y | theta] at each sample (1-d arrays of one length).

    A prior with at most ``bins`` distinct values gets its exact group means;
    otherwise a cubic smoothing spline through the means of ``y`` in ``bins``
    equal-count bins of ``theta`` (fewer for small runs, so that each bin
    holds at least 20 samples), each weighted by the inverse of its
    standard error, with the smoothing condition that the weighted squared
    residuals sum to the number of bins (their expected chi-square when the
    spline is the true conditional mean; :func:`scipy.interpolate.make_splrep`),
    evaluated at each ``theta`` within the bins' range.
    """
    n = theta.size
    order = np.argsort(theta, kind="stable")
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


def _evppi(theta: np.ndarray, nb: np.ndarray, bins: int) -> np.ndarray:
    theta, nb = np.broadcast_arrays(theta, nb)
    lead = nb.shape[:-1]
    t2, y2 = theta.reshape(-1, theta.shape[-1]), nb.reshape(-1, nb.shape[-1])
    out = np.empty(len(y2))
    for j, (t, y) in enumerate(zip(t2, y2)):
        g = conditional_mean(t, y, bins=bins)
        # against the fitted values' own mean, as Strong et al. do: a fitted curve that stays on one
        # side of 0 then gives exactly 0, whatever the fit's small error in the mean
        out[j] = np.maximum(g, 0.0).mean() - max(g.mean(), 0.0)
    return out.reshape(lead)


# --- labelled -----------------------------------------------------------------

def evpi(nb: xr.DataArray, *, dim: str = "sample") -> xr.DataArray:
    """Expected value of perfect information per cell, in the units of ``nb``."""
    out = xr.apply_ufunc(_evpi, nb, input_core_dims=[[dim]])
    out.attrs = {"units": nb.attrs.get("units", ""), "long_name": "expected value of perfect information"}
    return out.rename("evpi")


def evppi(ds: xr.Dataset, nb: xr.DataArray, *, inputs: list[str] | None = None, bins: int = 200,
          dim: str = "sample") -> xr.DataArray:
    """Partial EVPI of each drawn input (Strong, Oakley and Brennan's regression method).

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
    parts = [xr.apply_ufunc(_evppi, ds[name], nb, input_core_dims=[[dim], [dim]], kwargs={"bins": bins})
             for name in names]
    if parts:
        out = xr.concat(parts, dim="input", coords="minimal", compat="override", join="outer")
    else:  # every prior fixed: nothing to learn, an empty ``input`` dim
        out = xr.zeros_like(nb.isel({dim: 0}, drop=True)).expand_dims(input=0)
    out = out.assign_coords(input=names).transpose(..., "input")
    out.attrs = {"units": nb.attrs.get("units", ""), "long_name": "expected value of partial perfect information",
                 "method": "Strong, Oakley and Brennan (2014) regression: smoothing spline through binned means"}
    return out.rename("evppi")


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
           dim: str = "sample") -> xr.Dataset:
    """Decision measures for deploying (net benefit ``revenue - cost``) against not (0).

    Parameters
    ----------
    cost, revenue : str, optional
        Default: the outputs whose roles are ``cost`` and ``revenue``.
    evppi_samples : int, optional
        Estimate EVPPI from the first this many samples only (its regression
        costs a sort per prior and cell); every other measure uses them all.
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
    core = dict(input_core_dims=[[dim]], output_core_dims=[["ci_bound"]])
    out = xr.Dataset()
    out["expected_net_benefit"] = nb.mean(dim)
    out["expected_net_benefit_ci"] = xr.apply_ufunc(_mean_ci, nb, kwargs={"probability": probability}, **core)
    wins = (nb > 0).sum(dim)
    out["p_profitable"] = wins / n
    out["p_profitable_ci"] = xr.apply_ufunc(jeffreys_interval, wins, kwargs={"n": n, "probability": probability},
                                            output_core_dims=[["ci_bound"]])
    out["deploy"] = out["expected_net_benefit"] > 0
    out["breakeven_revenue"] = ds[cost].mean(dim)
    out["breakeven_revenue_ci"] = xr.apply_ufunc(_mean_ci, ds[cost], kwargs={"probability": probability}, **core)
    out["breakeven_revenue_range"] = (ds[cost].quantile([0.05, 0.95], dim=dim).rename(quantile="ci_bound")
                                      .assign_coords(ci_bound=CI_BOUND).transpose(..., "ci_bound"))
    out["evpi"] = evpi(nb, dim=dim)
    first = {dim: slice(0, evppi_samples)}
    out["evppi"] = evppi(ds.isel(first), nb.isel(first), bins=bins, dim=dim)
    units = ds[cost].attrs.get("units", "")
    yearly_units = per_year(units, ds[volume].attrs.get("units", "1")) if volume is not None else None
    if yearly_units is not None:
        factor, year_units = yearly_units
        yearly = nb * ds[volume] if factor == 1.0 else nb * ds[volume] * factor
        out["evpi_per_year"] = evpi(yearly, dim=dim)
        out["evppi_per_year"] = evppi(ds.isel(first), yearly.isel(first), bins=bins, dim=dim)
    out = out.assign_coords(ci_bound=CI_BOUND)
    for name in ("expected_net_benefit", "expected_net_benefit_ci", "evpi", "evppi", "breakeven_revenue",
                 "breakeven_revenue_ci", "breakeven_revenue_range"):
        out[name].attrs["units"] = units
    for name in ("evpi_per_year", "evppi_per_year"):
        if name in out:
            out[name].attrs["units"] = yearly_units[1]
    out.attrs = {"cost": cost, "revenue": revenue, "volume": volume if yearly_units else "", "probability": probability,
                 "samples": n, "experiment": ds.attrs.get("experiment", ""),
                 "evppi_method": "Strong, Oakley and Brennan (2014) regression; smoothing spline "
                                 f"through {bins} binned means"}
    return out


# --- stress and goal seek -------------------------------------------------------

def with_prior(experiment: Experiment, name: str, change: Callable[[Prior], Prior]) -> Experiment:
    """``experiment`` with ``change`` applied to prior ``name`` in every scenario."""
    if name not in experiment.base_priors:
        raise SimError(f"unknown prior {name!r}; valid: {', '.join(experiment.base_priors)}")
    scenarios = tuple(dataclasses.replace(s, priors={**s.priors, name: change(s.priors[name])})
                      for s in experiment.scenarios)
    return dataclasses.replace(experiment, scenarios=scenarios)


def stress(experiment: Experiment, prior: str, band: tuple[float, float], *, outputs: list[str] | None = None,
           cost: str | None = None, revenue: str | None = None, samples: int | None = None,
           seed: int | None = None) -> xr.Dataset:
    """Summaries of a run with ``prior`` restricted to a band of its percentiles, against the unrestricted run.

    Parameters
    ----------
    band : (float, float)
        Lower and upper percentile as fractions, ``0 <= lo < hi <= 1``
        (``(0, 0.1)``: the prior's lowest decile).

    Returns
    -------
    xarray.Dataset
        The outputs' :func:`sim.summarize` statistics with a ``case`` dim
        (``all``, ``band``), plus ``p_profitable`` per case when the model
        has a cost and a revenue (the roles' outputs unless named). Both runs
        use the same seed and uniforms, so the difference is due to the band
        alone.
    """
    roles = experiment.model.roles()
    cost = choose(roles, "cost", cost, flag="cost=", what=f"model {experiment.model.name!r}")
    revenue = choose(roles, "revenue", revenue, flag="revenue=", what=f"model {experiment.model.name!r}")
    lo, hi = band
    if not (0.0 <= lo < hi <= 1.0):
        raise SimError(f"a percentile band needs 0 <= low < high <= 100 (in percent), got [{100 * lo:g}, {100 * hi:g}]")
    restricted = with_prior(experiment, prior, lambda p: banded(p, lo, hi))
    runs = [run(experiment, samples=samples, seed=seed), run(restricted, samples=samples, seed=seed)]
    names = outputs or output_names(runs[0])
    for name in names:
        check_output(output_names(runs[0]), name)
    parts = []
    for ds in runs:
        s = summarize(ds[names].assign_attrs(ds.attrs))
        if cost is not None and revenue is not None:
            s["p_profitable"] = (ds[revenue] > ds[cost]).mean("sample")
        parts.append(s)
    out = xr.concat(parts, dim="case", coords="minimal", compat="override", join="outer")
    out = out.assign_coords(case=["all", "band"])
    out.attrs = {"experiment": experiment.name, "prior": prior, "band": [lo, hi],
                 "samples": runs[0].attrs["samples"], "seed": runs[0].attrs["seed"]}
    return out


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


@dataclasses.dataclass(frozen=True)
class GoalSeekResult:
    """What :func:`goal_seek` found.

    Attributes
    ----------
    value : float or None
        The prior's value (``how="value"``) or scale factor (``"scale"``) at
        which the statistic reaches the target; None when no value in the
        bracket reaches it.
    achieved : float or None
        The statistic at ``value``.
    bracket : (float, float)
        The range searched; ``at_bracket`` holds the statistic at its ends.
    runs : int
        Simulation runs made.
    message : str
        One sentence saying what happened.
    """

    prior: str
    how: str
    statistic: str
    target: float
    value: float | None
    achieved: float | None
    bracket: tuple[float, float]
    at_bracket: tuple[float, float]
    runs: int
    message: str


def goal_seek(experiment: Experiment, prior: str, target: float, *, stat: str = "p_profitable",
              output: str | None = None, cost: str | None = None, revenue: str | None = None,
              how: str = "value", bracket: tuple[float, float] | None = None, select: dict | None = None,
              samples: int | None = None, seed: int | None = None, xtol: float = 1e-6) -> GoalSeekResult:
    """The value of ``prior`` (or a scale factor on it) at which a statistic reaches ``target``.

    Every trial is a run with the same seed and uniforms (common random
    numbers); the prior is held at the trial value (``how="value"``) or its
    draws are multiplied by the trial factor (``"scale"``), and
    :func:`scipy.optimize.brentq` finds where the statistic crosses the
    target.

    Parameters
    ----------
    select : dict, optional
        The cell whose statistic counts, such as ``{"scenario": "baseline",
        "architecture": "two_stage"}``; needed where the statistic has cells.
    bracket : (float, float), optional
        Where to search. Default for ``"value"``: the prior's support, or its
        0.1th and 99.9th percentiles where the support is unbounded; for
        ``"scale"``: (0.01, 100).
    xtol : float
        Bracket width to stop at, relative to the bracket searched.
    """
    if how not in ("value", "scale"):
        raise SimError(f"unknown goal-seek mode {how!r}; valid: value, scale")
    if prior not in experiment.base_priors:
        raise SimError(f"unknown prior {prior!r}; valid: {', '.join(experiment.base_priors)}")
    roles = experiment.model.roles()
    if stat == "p_profitable":
        cost, revenue = cost_and_revenue(roles, cost, revenue)
    else:
        output = output or choose(roles, "cost", cost, flag="output=", what=f"model {experiment.model.name!r}")
        if output is None:
            raise SimError(f"model {experiment.model.name!r} has no output with role cost; name the output")
        check_output(list(experiment.model.outputs), output)
    f_stat = statistic(stat, output=output, cost=cost, revenue=revenue)
    select = dict(select or {})
    if "scenario" in select:
        names = list(experiment.scenario_names)
        check_output(names, select["scenario"], "scenario")
        experiment = dataclasses.replace(experiment, scenarios=tuple(s for s in experiment.scenarios
                                                                      if s.name == select["scenario"]))
    base = experiment.scenarios[0].priors[prior]
    if bracket is None:
        if how == "scale":
            bracket = (0.01, 100.0)
        else:
            lo, hi = base.support()
            if lo == hi:
                raise SimError(f"{prior} is fixed at {base.point:g} in this scenario, so it has no range to search; "
                               "give a bracket, or scale it instead")
            bracket = (lo if np.isfinite(lo) else float(base.ppf(0.001)),
                       hi if np.isfinite(hi) else float(base.ppf(0.999)))
    lo, hi = map(float, bracket)
    if not lo < hi:
        raise SimError(f"the goal-seek bracket must be increasing, got [{lo:g}, {hi:g}]")
    runs = 0

    def value_at(x: float) -> float:
        nonlocal runs
        change = (lambda p: held(p, x)) if how == "value" else (lambda p: scaled(p, x))
        ds = run(with_prior(experiment, prior, change), samples=samples, seed=seed)
        runs += 1
        v = f_stat(ds)
        try:
            v = v.sel({k: val for k, val in select.items() if k in v.dims and k != "scenario"})
            v = v.isel(scenario=0) if "scenario" in v.dims else v
        except KeyError as exc:
            raise SimError(f"no cell {select}; {exc}") from None
        if v.size != 1:
            raise SimError(f"the statistic has cells along {', '.join(v.dims)}; choose one with --select DIM=VALUE")
        return float(v)

    f_lo, f_hi = value_at(lo) - target, value_at(hi) - target
    at = (f_lo + target, f_hi + target)
    what = f"{stat} of {output}" if stat != "p_profitable" else f"P({revenue} > {cost})"
    if f_lo == 0 or f_hi == 0:
        x = lo if f_lo == 0 else hi
        return GoalSeekResult(prior, how, stat, target, x, target, (lo, hi), at, runs,
                              f"{what} = {target:g} at {prior} {'=' if how == 'value' else 'x'} {x:.6g}")
    if np.sign(f_lo) == np.sign(f_hi):
        return GoalSeekResult(prior, how, stat, target, None, None, (lo, hi), at, runs,
                              f"no {'value' if how == 'value' else 'scale factor'} of {prior} in "
                              f"[{lo:.6g}, {hi:.6g}] reaches {what} = {target:g}: it runs from {at[0]:.4g} "
                              f"to {at[1]:.4g} there")
    x = optimize.brentq(lambda v: value_at(v) - target, lo, hi, xtol=xtol * (hi - lo), rtol=1e-10)
    achieved = value_at(x)
    return GoalSeekResult(prior, how, stat, target, float(x), achieved, (lo, hi), at, runs,
                          f"{what} reaches {target:g} at {prior} {'=' if how == 'value' else 'x'} {x:.6g} "
                          f"({achieved:.4g} there)")
