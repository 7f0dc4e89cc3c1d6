"""The report's content: every number a report of a run shows, computed here and rendered by :mod:`sim.report`.

:func:`report_content` takes a run (its samples, or a streamed run's
summary alone) and returns a :class:`ReportContent`: the cells the per-cell
sections show (:class:`Focus`), the decision measures and the verdict of
each cell, the scenario comparison, the drivers (tornado and Sobol' designs,
which evaluate the model again, and the one-run measures), the convergence
of the estimates, and the samples the figures draw. Nothing here draws or
formats.

The module is long because a report shows many kinds of numbers, each
restricted here to the cells the report shows; computing them in one place
keeps the report's sections free of computation.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import _checks as check
from ..analysis import decision as da
from ..analysis import sensitivity as sa
from ..analysis.summary import exceedance, exceedance_name, is_posterior, running_estimates, summarize_run
from ..engine import drawn_priors
from .graph import ModelGraph, model_graph
from ..errors import SimError
from ..experiment import Experiment, subject
from ..progress import stage
from . import sensitivity as ss

__all__ = ["report_content", "ReportContent", "Focus", "Drivers", "Evidence", "MAX_PANELS", "ESTIMATE_SAMPLES"]

#: Most cells (besides scenarios) the per-cell figures show; the tables show every cell.
MAX_PANELS = 12
#: Samples the report's estimates of shape use (figures of distributions, acceptability, rank correlations,
#: target region, EVPPI): the first this many of a larger run. Headline, tables and decision measures use all.
ESTIMATE_SAMPLES = 200_000
#: Samples from which the report's EVPPI regressions are shared among forked processes (below, starting them
#: costs more than it saves).
FORKED_EVPPI = 50_000


@dataclasses.dataclass
class Focus:
    """What the per-cell sections show: the output, its threshold (the revenue) and the cells.

    ``kept`` maps a dim to the values it shows (several); ``fixed`` a dim to
    its one value (dropped from the panels); ``panels`` lists the cells,
    ``notes`` says what was cut and why.
    """

    output: str
    threshold: str | None
    kept: dict
    fixed: dict
    panels: list[dict]
    notes: list[str]

    def restrict(self, obj):
        """``obj`` narrowed to the report's cells (dims it lacks are skipped)."""
        obj = obj.sel({d: v for d, v in self.kept.items() if d in obj.dims})
        return obj.sel({d: v for d, v in self.fixed.items() if d in obj.dims})

    @property
    def scope(self) -> str:
        return ", ".join(f"{d} = {v}" for d, v in self.fixed.items())


@dataclasses.dataclass(frozen=True)
class Drivers:
    """The sensitivity section's numbers: which priors drive the output.

    ``tornado`` (None on a posterior) and ``sobol`` (None for correlated
    priors and on a posterior) evaluate the model again; ``rank``, ``rank_net_benefit`` (against the revenue minus the
    output) and ``target`` (the output above its revenue) read the run's
    first samples (None for a streamed run, or without a revenue).
    ``panels`` are the cells the charts show. ``spider`` (None on a
    posterior) is the output with each prior at its percentiles in turn.
    """

    panels: list[dict]
    tornado: xr.Dataset | None
    low: float
    high: float
    sobol: xr.Dataset | None
    sobol_n: int
    rank: xr.DataArray | None
    rank_net_benefit: xr.DataArray | None
    target: xr.Dataset | None
    spider: xr.Dataset | None = None


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What the report of a posterior (``sim calibrate``) adds: what the evidence changed.

    ``checks`` holds each observation against its prior and posterior
    predictive (:func:`sim.studies.evidence.predictive_checks`); ``moved``
    the priors whose distribution the evidence moved (Kolmogorov-Smirnov
    distance of at least :data:`sim.studies.evidence.MOVED`), with their
    ``prior`` and ``posterior`` samples at the report's cells (the first
    :attr:`ReportContent.estimate_samples`); ``verdict`` P(cost > revenue)
    (``p_loss``) and the expected net benefit per cell before and after the
    evidence (dim ``evidence``); ``record`` how the posterior was made.
    """

    checks: xr.Dataset
    moved: list[str]
    prior: xr.Dataset
    posterior: xr.Dataset
    verdict: xr.Dataset | None
    record: dict


@dataclasses.dataclass(frozen=True)
class ReportContent:
    """Every number of a run's report (see :func:`report_content`).

    Attributes
    ----------
    experiment : Experiment
        As the run was made.
    summary : xarray.Dataset
        The run's labelled summary (:func:`sim.analysis.summary.summary_dataset`).
    focus : Focus
        The output, its revenue and the cells the per-cell sections show.
    scenarios : list of str
    out : Path
        The output root the run was written to (for the command that reproduces it).
    samples : xarray.Dataset or None
        The focus cells' first :attr:`estimate_samples` samples, which the
        figures of distributions draw; None for a streamed run.
    decision : xarray.Dataset or None
        :func:`sim.analysis.decision.decide` at the focus cells (None without
        a revenue or samples).
    acceptability : xarray.DataArray or None
    revenue_median : xarray.DataArray or None
        The revenue's median per cell, marked on the acceptability curves.
    verdicts : list of (dict, Verdict)
        Per decision cell (every scenario and panel), the verdict's numbers.
    comparison : pandas.DataFrame
        Per cell and scenario: quantiles, P(profitable) and the change against
        the first scenario (paired differences where the samples are kept).
    drivers : Drivers or None
        None when sensitivity was not asked for or every prior is fixed.
    drawn : list of str
        The priors the run draws.
    convergence : (dict, xarray.Dataset) or None
        The cell closest to a coin toss and its running estimates
        (:func:`sim.analysis.summary.running_estimates`).
    shared_threshold : bool
        The revenue is the same in every scenario.
    sensitivity : bool
        Whether sensitivity was asked for.
    estimate_samples : int
    evidence : Evidence or None
        For the report of a posterior: what the evidence changed.
    graph : ModelGraph or None
        Which priors feed which outputs (:func:`~sim.studies.graph.model_graph`).
    """

    experiment: Experiment
    summary: xr.Dataset
    focus: Focus
    scenarios: list[str]
    out: Path
    samples: xr.Dataset | None
    decision: xr.Dataset | None
    acceptability: xr.DataArray | None
    revenue_median: xr.DataArray | None
    verdicts: list
    comparison: pd.DataFrame
    drivers: Drivers | None
    drawn: list[str]
    convergence: tuple[dict, xr.Dataset] | None
    shared_threshold: bool
    sensitivity: bool
    estimate_samples: int = ESTIMATE_SAMPLES
    evidence: Evidence | None = None
    graph: ModelGraph | None = None

    @property
    def streamed(self) -> bool:
        return self.samples is None


def _labels(ds: xr.Dataset, dim: str) -> list[str]:
    return [str(v) for v in ds[dim].values]


def focus_of(experiment: Experiment, ds: xr.Dataset, output: str | None, select, revenue: str | None = None) -> Focus:
    """The report's output, its revenue and its cells: ``--select`` and the experiment's ``[report] select``,
    the final year of a year sweep, and at most :data:`MAX_PANELS` cells besides scenarios."""
    settings = experiment.report
    output, threshold, note = subject(experiment, output, revenue)
    cell_dims = [d for d in ds[output].dims if d not in ("scenario", "sample", "stat")]
    chosen = dict(settings.select)
    where = {d: f"{experiment.path}: report.select.{d}" for d in chosen}
    for dim, value in select or []:
        chosen[dim] = (value,)
        where[dim] = "--select"
    kept, fixed, notes = {}, {}, [note] if note else []
    for dim, values in chosen.items():
        if dim not in cell_dims:
            valid = check.choices(dim, cell_dims) if cell_dims else "valid: none"
            raise SimError(f"{where[dim]}: {output} has no dim {dim!r}; {valid}")
        labels = _labels(ds, dim)
        for v in values:
            if v not in labels:
                raise SimError(f"{where[dim]}: {dim} has no value {v!r}; {check.choices(v, labels)}")
        picked = [ds[dim].values[labels.index(v)] for v in values]
        if len(picked) == 1:
            fixed[dim] = picked[0]
        else:
            kept[dim] = picked
    if "year" in cell_dims and "year" not in chosen:
        fixed["year"] = ds["year"].values[-1]
        notes.append(f"The per-cell sections show the final year, {fixed['year']}; the fan chart shows every year.")
    sizes = {d: len(kept.get(d, ds[d].values)) for d in cell_dims if d not in fixed}
    while math.prod(sizes.values()) > MAX_PANELS:
        dim = max(sizes, key=sizes.get)
        others = math.prod(sizes.values()) // sizes[dim]
        keep = max(1, MAX_PANELS // others)
        values = list(kept.get(dim, ds[dim].values))[:keep]
        notes.append(f"{dim} has {sizes[dim]} values; the per-cell figures show the first {keep} "
                     f"({', '.join(map(str, values))}). Choose others with --select or the experiment's "
                     "[report] select; the tables cover every cell.")
        if keep == 1:
            fixed[dim] = values[0]
            del sizes[dim]
        else:
            kept[dim], sizes[dim] = values, keep
    free = [d for d in cell_dims if d not in fixed]
    grid = [list(kept.get(d, ds[d].values)) for d in free]
    panels = [dict(zip(free, combo)) for combo in itertools.product(*grid)] or [{}]
    return Focus(output, threshold, kept, fixed, panels, notes)


def _narrow(experiment: Experiment, focus: Focus) -> Experiment:
    """The experiment with its swept catalogues and years cut to the report's cells (fewer evaluations)."""
    wanted = {**focus.kept, **{d: [v] for d, v in focus.fixed.items()}}
    sweeps = {name: s.sel({d: v for d, v in wanted.items() if d in s.dims}) for name, s in experiment.sweeps.items()}
    return dataclasses.replace(experiment, sweeps=sweeps)


def _at(summary: xr.Dataset, name: str, cell: dict) -> xr.DataArray:
    """Variable ``name`` of a summary at ``cell`` (the cell's dims the variable lacks are skipped)."""
    var = summary[name]
    return var.sel({d: v for d, v in cell.items() if d in var.dims})


def _stat(summary: xr.Dataset, name: str, cell: dict, stat: str) -> float:
    return float(_at(summary, name, cell).sel(stat=stat))


def comparison(ds: xr.Dataset | None, summary: xr.Dataset, focus: Focus, scenarios) -> pd.DataFrame:
    """Per cell and scenario: the output's median and 90 % interval, P(profitable), and the paired change.

    The paired differences need the samples: a streamed run (``ds`` None) has the rest alone.
    """
    out, threshold = focus.output, focus.threshold
    base = scenarios[0]
    x = focus.restrict(ds[out]) if ds is not None else None
    rows = []
    for cell in focus.panels:
        b50 = _stat(summary, out, {"scenario": base, **cell, **focus.fixed}, "p50")
        for s in scenarios:
            full = {"scenario": s, **cell, **focus.fixed}
            r = {stat: _stat(summary, out, full, stat) for stat in ("p05", "p50", "p95")}
            row = {**{d: str(v) for d, v in cell.items()}, "scenario": s, **r}
            if threshold:
                var = exceedance_name(out, threshold)
                p, ci = float(_at(summary, var, full)), _at(summary, f"{var}_ci", full)
                lo, hi = float(ci.sel(ci_bound="lower")), float(ci.sel(ci_bound="upper"))
                row |= {"p_profitable": 1 - p, "p_profitable_ci_lower": 1 - hi, "p_profitable_ci_upper": 1 - lo}
            row["median_change_pct"] = 100 * (r["p50"] / b50 - 1) if b50 else np.nan
            if x is not None:
                diff = x.sel(scenario=s, **cell).values - x.sel(scenario=base, **cell).values
                d05, d50, d95 = np.quantile(diff, [0.05, 0.5, 0.95])
                row |= {"paired_difference_p50": d50, "paired_difference_p05": d05, "paired_difference_p95": d95,
                        f"p_below_{base}": float(np.mean(diff < 0))}
            rows.append(row)
    return pd.DataFrame(rows)


def _coincide(view: xr.Dataset | None, name: str | None) -> bool:
    """Whether ``name`` is the same in every scenario (its lines would lie on top of one another)."""
    if view is None or name is None or "scenario" not in view[name].dims or view.sizes["scenario"] < 2:
        return False
    x = view[name].transpose("scenario", ...).values
    return bool((x == x[:1]).all())


def _hinge(scenarios, focus: Focus, decision) -> dict:
    """The cell the decision hinges on: P(profitable) nearest one half (the first panel without a decision)."""
    first = {"scenario": scenarios[0], **focus.panels[0]}
    if decision is None:
        return first
    cells = [{"scenario": s, **p} for s in scenarios for p in focus.panels]
    return min(cells, key=lambda c: abs(float(_at(decision, "p_profitable", c)) - 0.5))


def _drivers(experiment: Experiment, summary: xr.Dataset, first: xr.Dataset | None, focus: Focus, scenarios,
             sobol_n: int, orders: dict | None = None) -> Drivers:
    out, threshold = focus.output, focus.threshold
    narrow = _narrow(experiment, focus)
    panels = [{"scenario": s, **p} for s in scenarios for p in focus.panels]
    if len(panels) > MAX_PANELS:
        panels = panels[:len(focus.panels)]
    low, high = 0.1, 0.9
    designs = not is_posterior(summary)  # the designs draw each prior on its own: not a posterior's dependent ones
    tornado = focus.restrict(ss.tornado(narrow, out, low=low, high=high)) if designs else None
    spider = focus.restrict(ss.one_at_a_time(narrow, out)) if designs else None
    sobol = None if experiment.correlation is not None or not designs else \
        focus.restrict(ss.sobol(narrow, out, n=sobol_n, seed=int(summary.attrs["seed"])))
    rank = rank_net = target = None
    if first is not None:
        orders = orders or sa.sort_orders(first)
        ranks = {name: sa.centred_ranks(first[name], order=order) for name, order in orders.items()}  # for both
        rank = sa.rank_correlation(first, out, input_ranks=ranks)
        if threshold:
            net = first.assign(net_benefit=(first[threshold] - first[out]).assign_attrs(
                long_name="net benefit", units=summary[out].attrs.get("units", ""), role="output"))
            rank_net = sa.rank_correlation(net, "net_benefit", input_ranks=ranks)
            target = focus.restrict(sa.target_region(first, out, threshold, above=True, orders=orders))
    return Drivers(panels, tornado, low, high, sobol, sobol_n, rank, rank_net, target, spider)


def _evidence(prior: xr.Dataset, posterior: xr.Dataset, checks: xr.Dataset, focus: Focus,
              estimate_samples: int) -> Evidence:
    """What the evidence changed: the priors it moved, with their samples before and after, and the verdict."""
    import json

    from .evidence import moved, shift

    first = {"sample": slice(0, estimate_samples)}
    before, after = focus.restrict(prior).isel(first), focus.restrict(posterior).isel(first)
    drawn = [n for n, da in after.data_vars.items() if da.attrs.get("role") == "input" and "sample" in da.dims]
    changed = moved(shift(before[drawn], after[drawn]))
    verdict = None
    if focus.threshold:
        out, threshold = focus.output, focus.threshold
        parts = [xr.Dataset({"p_loss": exceedance(v, out, threshold),
                             "net_benefit": (v[threshold] - v[out]).mean("sample")})
                 for v in (focus.restrict(prior), focus.restrict(posterior))]
        verdict = xr.concat(parts, dim="evidence").assign_coords(evidence=["before", "after"])
        verdict["net_benefit"].attrs["units"] = posterior[out].attrs.get("units", "")
    return Evidence(checks, changed, before[changed], after[changed], verdict,
                    json.loads(posterior.attrs.get("calibration", "{}")))


def report_content(experiment: Experiment, ds: xr.Dataset | None, *, summary: xr.Dataset | None = None,
                   output: str | None = None, revenue: str | None = None, select=None, sensitivity: bool = True,
                   sobol_n: int = 2**14, out: str | Path = "outputs",
                   estimate_samples: int = ESTIMATE_SAMPLES, prior: xr.Dataset | None = None,
                   checks: xr.Dataset | None = None) -> ReportContent:
    """Every number of the report of run ``ds`` of ``experiment`` (which must hold the priors the run was made with).

    Parameters
    ----------
    ds : xarray.Dataset or None
        The run's samples; None for a streamed run, whose report is built
        from ``summary`` alone (the sections that need samples say so).
    summary : xarray.Dataset, optional
        The run's labelled summary (:func:`sim.analysis.summary.summarize_run`);
        computed from ``ds`` when not given.
    output, revenue : str, optional
        The output the report is about and the revenue it is compared with
        (default: see :func:`sim.experiment.subject`).
    select : list of (dim, value), optional
        Cells the per-cell sections show (``--select``), besides the
        experiment's ``[report] select``.
    sensitivity : bool
        Compute the drivers (evaluates the model again for the tornado and
        Sobol' indices).
    sobol_n : int
        Base samples of the Sobol' design, a power of 2.
    out : path
        The output root the run was written to (for the command that reproduces it).
    estimate_samples : int
        The samples the figures, the acceptability curve, the rank
        correlations, the target region and EVPPI read: the first this many.
    prior, checks : xarray.Dataset, optional
        For the report of a posterior ``ds`` (``sim calibrate``): the run it
        was calibrated from and its observations' predictive checks, which
        the Evidence section shows. The designs that evaluate the model again
        (tornado, Sobol') are left out of a posterior's drivers.
    """
    if summary is None:
        summary = summarize_run(ds)
    scenarios = _labels(summary, "scenario")
    focus = focus_of(experiment, summary, output, select, revenue)
    out_name, threshold = focus.output, focus.threshold
    if ds is not None:  # what is used whole, loaded once (of a lazily opened run, the rest is read in part)
        for name, variable in ds.data_vars.items():
            if name in (out_name, threshold) or variable.attrs.get("role") == "volume":
                variable.load()
    view = focus.restrict(ds) if ds is not None else None
    first = view.isel(sample=slice(0, estimate_samples)).load() if view is not None else None
    decision = accept = actual = None
    # each prior's first samples sorted once: EVPPI, the rank correlations and the target region share the orders
    orders = sa.sort_orders(first) if first is not None else None
    with stage("report: decision measures"):
        if threshold and view is not None:
            decision = da.decide(view, cost=out_name, revenue=threshold, evppi_samples=estimate_samples,
                                 orders=orders, jobs=None if first.sizes["sample"] >= FORKED_EVPPI else 1)
            accept = da.acceptability(first, cost=out_name, revenue=threshold)
            actual = view[threshold].median("sample", keep_attrs=True)
    cells = [{"scenario": s, **panel, **focus.fixed} for s in scenarios for panel in focus.panels]
    verdicts = [(cell, da.verdict(summary, out_name, threshold, cell, decision)) for cell in cells] if threshold else []
    drawn = drawn_priors(experiment)
    drivers = None
    if sensitivity and drawn:
        with stage("report: sensitivity (tornado, Sobol', rank correlations, EVPPI)"):
            drivers = _drivers(experiment, summary, first, focus, scenarios, sobol_n, orders)
    convergence = None
    if view is not None:
        with stage("report: convergence"):
            cell = _hinge(scenarios, focus, decision)
            panel = {d: v for d, v in cell.items() if d != "scenario"}
            at = view.sel(scenario=[cell["scenario"]])
            net = (at[threshold] - at[out_name]).sel(panel).rename("net benefit") if threshold else None
            convergence = (cell, running_estimates(at[out_name].sel(panel).rename(out_name), net=net))
    evidence = None
    if checks is not None and prior is not None and ds is not None:
        with stage("report: evidence"):
            evidence = _evidence(prior, ds, checks, focus, estimate_samples)
    return ReportContent(experiment, summary, focus, scenarios, Path(out), first, decision, accept, actual, verdicts,
                         comparison(ds, summary, focus, scenarios), drivers, drawn, convergence,
                         _coincide(first, threshold), sensitivity, estimate_samples, evidence, model_graph(experiment))
