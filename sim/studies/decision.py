"""Decision studies that evaluate the model again: stress tests and goal seek.

* :func:`stress` -- a prior held inside a band of its percentiles, against the whole run.
* :func:`goal_seek` -- the value (or scale) of a prior at which a statistic reaches a target.
* :func:`goal_seek_joint` -- the smallest common step of two or three priors at which it does.

Both run the experiment again on its own seed and uniforms (common random
numbers), so their differences are due to the change alone. The measures
read from one run's samples are in :mod:`sim.analysis.decision`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import xarray as xr
from scipy import optimize

from .. import _checks as check
from ..analysis.decision import cost_and_revenue, statistic
from ..analysis.sensitivity import check_output
from ..analysis.summary import output_names, summarize
from ..engine import run
from ..errors import SimError
from ..experiment import Experiment
from ..models import choose
from ..priors import Prior, banded, held, scaled

__all__ = ["with_prior", "stress", "goal_seek", "GoalSeekResult"]


def with_prior(experiment: Experiment, name: str, change: Callable[[Prior], Prior]) -> Experiment:
    """``experiment`` with ``change`` applied to prior ``name`` in every scenario."""
    if name not in experiment.base_priors:
        raise SimError(f"unknown prior {name!r}; {check.choices(name, experiment.base_priors)}")
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
    values : str
        For a goal seek over several priors (:func:`goal_seek_joint`): each
        prior's value or factor at the common step ``value``, as
        ``name=value`` pairs.
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
    values: str = ""


def _seek_statistic(experiment: Experiment, stat: str, output: str | None, cost: str | None, revenue: str | None,
                    select: dict | None) -> tuple[Experiment, Callable[[xr.Dataset], float], str]:
    """What a goal seek measures: the experiment narrowed to the selected scenario, the statistic of a run at the
    selected cell as a number, and its words (``P(revenue > cost)``, ``p90 of cost``)."""
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
        check_output(list(experiment.scenario_names), select["scenario"], "scenario")
        experiment = dataclasses.replace(experiment, scenarios=tuple(s for s in experiment.scenarios
                                                                      if s.name == select["scenario"]))

    def measure(ds: xr.Dataset) -> float:
        v = f_stat(ds)
        try:
            v = v.sel({k: val for k, val in select.items() if k in v.dims and k != "scenario"})
            v = v.isel(scenario=0) if "scenario" in v.dims else v
        except KeyError as exc:
            raise SimError(f"no cell {select}; {exc}") from None
        if v.size != 1:
            raise SimError(f"the statistic has cells along {', '.join(v.dims)}; choose one with --select DIM=VALUE")
        return float(v)

    return experiment, measure, f"{stat} of {output}" if stat != "p_profitable" else f"P({revenue} > {cost})"


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
        raise SimError(f"unknown prior {prior!r}; {check.choices(prior, experiment.base_priors)}")
    experiment, measure, what = _seek_statistic(experiment, stat, output, cost, revenue, select)
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
        try:
            ds = run(with_prior(experiment, prior, change), samples=samples, seed=seed)
        except SimError as exc:  # the equations break at this trial value (a division by zero, say)
            reason = "an output is NaN or infinite there" if "NaN or infinite" in str(exc) else str(exc)
            raise SimError(f"the goal seek did not reach its target in [{lo:.6g}, {hi:.6g}]: at {prior} "
                           f"{'=' if how == 'value' else 'x'} {x:.6g} the model cannot be evaluated ({reason}); "
                           "give --bracket LOW HIGH inside the range where the equations hold") from None
        runs += 1
        return measure(ds)

    f_lo, f_hi = value_at(lo) - target, value_at(hi) - target
    at = (f_lo + target, f_hi + target)
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


#: The most priors a joint goal seek moves together.
MAX_JOINT = 3


def goal_seek_joint(experiment: Experiment, priors: list[str], target: float, *, stat: str = "p_profitable",
                    output: str | None = None, cost: str | None = None, revenue: str | None = None,
                    how: str = "scale", select: dict | None = None, samples: int | None = None,
                    seed: int | None = None, xtol: float = 1e-6) -> GoalSeekResult:
    """The smallest common step of two or three priors at which a statistic reaches ``target``.

    Every prior moves by the same step ``t`` in the direction that brings the
    statistic toward the target (found by moving each alone once): its draws
    scaled by ``exp(t)`` or ``exp(-t)`` (``how="scale"``, ``t`` up to
    ``log 100``), or held at its ``0.5 + t`` or ``0.5 - t`` quantile
    (``"value"``, ``t`` up to 0.499). Each prior is kept inside what its unit
    allows: a fraction's draws are scaled at most until its largest value
    reaches 1. :func:`scipy.optimize.brentq` finds the step where the
    statistic crosses the target, on common random numbers as
    :func:`goal_seek` does; the result's ``value`` is the step and
    ``values`` each prior's factor or value there.
    """
    if how not in ("value", "scale"):
        raise SimError(f"unknown goal-seek mode {how!r}; valid: value, scale")
    priors = list(dict.fromkeys(priors))
    if not 2 <= len(priors) <= MAX_JOINT:
        raise SimError(f"--seek: a joint goal seek moves 2 to {MAX_JOINT} priors, got {len(priors)}")
    for name in priors:
        if name not in experiment.base_priors:
            raise SimError(f"--seek: unknown prior {name!r}; {check.choices(name, experiment.base_priors)}")
    experiment, measure, what = _seek_statistic(experiment, stat, output, cost, revenue, select)
    base = {name: experiment.scenarios[0].priors[name] for name in priors}
    fixed = [name for name, p in base.items() if p.is_fixed and how == "value"]
    if fixed:
        raise SimError(f"--seek: {fixed[0]} is fixed in this scenario, so it has no quantiles to move; scale it")
    top = np.log(100.0) if how == "scale" else 0.499
    runs = 0

    def limit(prior: Prior, factor: float) -> float:
        """A scale factor kept inside the unit's range: a fraction's largest draw stays at most 1."""
        hi = prior.support()[1]
        return min(factor, 1.0 / hi) if prior.unit == "fraction" and hi > 0 and factor > 1 else factor

    def moved(t: float, signs: dict) -> dict:
        if how == "scale":
            return {n: limit(base[n], float(np.exp(signs[n] * t))) for n in priors}
        return {n: float(base[n].ppf(0.5 + signs[n] * t)) for n in priors}

    def value_at(t: float, signs: dict) -> float:
        nonlocal runs
        changed = experiment
        for name, x in moved(t, signs).items():
            changed = with_prior(changed, name, (lambda p, x=x: held(p, x)) if how == "value" else
                                 (lambda p, x=x: scaled(p, x)))
        try:
            ds = run(changed, samples=samples, seed=seed)
        except SimError as exc:
            raise SimError(f"the goal seek stopped at step {t:.6g}: the model cannot be evaluated there "
                           f"({exc})") from None
        runs += 1
        return measure(ds)

    start = value_at(0.0, {n: 1 for n in priors})
    toward = np.sign(target - start) or 1.0
    probe = top / 4
    signs = {}
    for name in priors:  # each alone: which way brings the statistic toward the target (up, else down)
        up = (value_at(probe, {n: (1 if n == name else 0) for n in priors}) - start) * toward
        down = 0.0 if up > 0 else (value_at(probe, {n: (-1 if n == name else 0) for n in priors}) - start) * toward
        signs[name] = -1 if down > 0 else 1
    end = value_at(top, signs)
    mode = "x" if how == "scale" else "="

    def said(t):
        return ", ".join(f"{n} {mode} {x:.6g}" for n, x in moved(t, signs).items())

    if start == target:
        return GoalSeekResult(", ".join(priors), how, stat, target, 0.0, start, (0.0, top), (start, end), runs,
                              f"{what} is {target:g} already", said(0.0))
    if np.sign(start - target) == np.sign(end - target):
        stuck = [n for n, x in moved(top, signs).items() if how == "scale" and x == 1.0]
        hint = (f"; {', '.join(stuck)} cannot be scaled up without leaving [0, 1] (a fraction): --how value moves "
                "it through its quantiles instead") if stuck else ""
        return GoalSeekResult(", ".join(priors), how, stat, target, None, None, (0.0, top), (start, end), runs,
                              f"moving {', '.join(priors)} together does not reach {what} = {target:g}: it runs "
                              f"from {start:.4g} to {end:.4g} ({said(top)}){hint}")
    t = optimize.brentq(lambda v: value_at(v, signs) - target, 0.0, top, xtol=xtol * top, rtol=1e-10)
    achieved = value_at(t, signs)
    return GoalSeekResult(", ".join(priors), how, stat, target, float(t), achieved, (0.0, top), (start, end), runs,
                          f"{what} reaches {target:g} with {said(t)} ({achieved:.4g} there)", said(t))
