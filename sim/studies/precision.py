"""Precision control: draw more samples until the Monte Carlo error is small enough.

:func:`run_to_precision` runs an experiment at a starting sample count and
doubles it until, for every monitored statistic (the mean and chosen
quantiles of chosen outputs, in every cell), the 95 % Monte Carlo interval's
larger half-width is below ``relative`` times the estimate's magnitude, or
the maximum sample count is reached. Each round is an ordinary run of the
experiment with that many samples, so the result equals ``sim.run`` with the
final count and the same seed: reproducible, and the final count is all a
reader needs to recreate it. (The doubling re-evaluates earlier samples; the
total work is under twice that of the final run.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from .. import _checks as check
from ..engine import run
from ..errors import SimError
from ..experiment import Experiment
from ..analysis.summary import check_probability, mc_interval, stat_label, summarize

__all__ = ["run_to_precision", "PrecisionResult", "relative_half_widths"]


@dataclass(frozen=True)
class PrecisionResult:
    """A run made to a precision target, and how it went.

    Attributes
    ----------
    dataset : xarray.Dataset
        The final run (as :func:`sim.run` returns it).
    converged : bool
        Whether every monitored statistic met the target.
    samples : int
        The final sample count.
    history : pandas.DataFrame
        Per round: samples and the worst relative half-width.
    worst : pandas.DataFrame
        The final round's monitored statistics, worst first.
    message : str
    """

    dataset: xr.Dataset
    converged: bool
    samples: int
    history: pd.DataFrame
    worst: pd.DataFrame
    message: str


def relative_half_widths(ds: xr.Dataset, outputs: Sequence[str], quantiles: Sequence[float],
                         probability: float = 0.95) -> pd.DataFrame:
    """For each monitored statistic and cell: estimate, interval and relative half-width.

    The half-width is the larger distance from the estimate to an interval
    bound; relative to ``|estimate|`` (infinite where the estimate is 0 and
    the interval is not).
    """
    sub = ds[list(outputs)].assign_attrs(ds.attrs)
    est = summarize(sub, quantiles=quantiles)
    ci = mc_interval(sub, quantiles=quantiles, probability=probability)
    rows = []
    for name in outputs:
        e = est[name].sel(stat=ci["stat"].values)
        lo, hi = ci[name].sel(ci_bound="lower", drop=True), ci[name].sel(ci_bound="upper", drop=True)
        half = np.maximum(hi - e, e - lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = xr.where(half == 0, 0.0, half / abs(e))
        frame = xr.Dataset({"estimate": e, "lower": lo, "upper": hi, "relative_half_width": rel}).to_dataframe()
        frame = frame.reset_index()
        frame.insert(0, "output", name)
        rows.append(frame[[c for c in frame.columns if c not in ("scenario_description", "ci_bound")]])
    out = pd.concat(rows, ignore_index=True)
    return out.sort_values("relative_half_width", ascending=False, kind="stable").reset_index(drop=True)


def run_to_precision(experiment: Experiment, relative: float | None = None, *, outputs: Sequence[str] | None = None,
                     quantiles: Sequence[float] | None = None, probability: float = 0.95, start: int | None = None,
                     max_samples: int | None = None, seed: int | None = None, sampler: str | None = None,
                     progress: bool = False) -> PrecisionResult:
    """Run ``experiment`` with doubling sample counts until its Monte Carlo error is below ``relative``.

    Every setting left out is the experiment's ``[precision]`` table's, else the default below.

    Parameters
    ----------
    relative : float
        Target relative half-width, in (0, 1).
    outputs : sequence of str, optional
        Outputs to monitor; default the outputs with roles ``cost`` and
        ``revenue`` or, if none, all outputs.
    quantiles : sequence of float, optional
        Quantiles monitored besides the mean; default the median.
    start : int, optional
        First sample count; default 2**13 (a power of 2, which the Sobol'
        sampler needs, as every doubling then is).
    max_samples : int, optional
        Stop here whether or not the target is met; default 2**22.
    """
    table = experiment.precision
    if relative is None and table is None:
        raise SimError(f"{experiment.path}: no precision target; give one (--precision REL) or a [precision] table")
    relative = check_probability(relative if relative is not None else table.relative, "the relative precision")
    probability = check_probability(probability)
    names = list(experiment.model.outputs)
    outputs = outputs or (list(table.outputs) if table and table.outputs else None)
    if outputs is None:
        outputs = experiment.model.with_role("cost") + experiment.model.with_role("revenue") or names
    for name in outputs:
        if name not in names:
            raise SimError(f"--monitor: unknown output {name!r}; {check.choices(name, names)}")
    quantiles = quantiles or (table.quantiles if table else (0.5,))
    max_samples = max_samples or (table.max_samples if table else 2**22)
    quantiles = [check_probability(q, "a monitored quantile") for q in quantiles]
    n = start or 2**13
    if n > max_samples:
        raise SimError(f"the starting sample count {n} exceeds the maximum {max_samples}")
    history = []
    while True:
        ds = run(experiment, samples=n, seed=seed, sampler=sampler, progress=progress)
        table = relative_half_widths(ds, outputs, quantiles, probability)
        worst = float(table["relative_half_width"].iloc[0])
        history.append({"samples": n, "worst_relative_half_width": worst})
        if worst < relative or 2 * n > max_samples:
            break
        n *= 2
    converged = worst < relative
    top = table.iloc[0]
    cell = ", ".join(str(top[c]) for c in table.columns if c not in ("output", "stat", "estimate", "lower", "upper",
                                                                     "relative_half_width"))
    stats = ["mean", *[stat_label(q) for q in quantiles]]
    what = f"{', '.join(stats)} of {', '.join(outputs)}"
    if converged:
        message = (f"precision reached: every monitored statistic ({what}) within {relative:g} relative "
                   f"half-width at {probability:.0%} confidence after {n:,} samples (worst {worst:.3g})")
    else:
        message = (f"precision not reached: maximum of {max_samples:,} samples allowed {n:,}; the worst "
                   f"statistic, {top['stat']} of {top['output']} ({cell}), has relative half-width {worst:.3g} "
                   f"against the target {relative:g}")
    ds.attrs.update({"precision_target": relative, "precision_reached": int(converged)})
    return PrecisionResult(ds, converged, n, pd.DataFrame(history), table, message)
