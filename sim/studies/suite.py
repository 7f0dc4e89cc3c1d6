"""The suites of ``sim sensitivity`` and ``sim decide``: every method asked for, checked, computed and labelled.

Each suite comes in two steps: its options, checked against the experiment
before a run is read (:func:`sensitivity_options`, :func:`decision_options`),
then the computation on the saved run (:func:`sensitivity`, :func:`decide`),
which reads the run's samples for the one-run measures and evaluates the
model again, on the run's seed, sampler and sample count, for the designs
(tornado, spider, Sobol', stress test, goal seek). Each returns a result
dataclass of Datasets; tables and files are the report's and the store's.
On a posterior (``sim calibrate``) the designs are left out or refused: they
draw each prior on its own.

The module is long because it holds both suites, each with the options a
command checks before reading a run and the result it labels.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence

import xarray as xr

from .. import _checks as check
from ..analysis import decision as da
from ..analysis import sensitivity as sa
from ..analysis.cells import select as select_cells
from ..analysis.decision import cost_and_revenue
from ..analysis.decision import statistic as statistic_of
from ..analysis.sensitivity import check_output, drawn_inputs
from ..analysis.summary import is_posterior
from ..errors import SimError
from ..experiment import Experiment, subject, with_settings
from ..models import choose
from ..progress import stage
from . import decision as sd
from .decision import GoalSeekResult
from .sensitivity import one_at_a_time, sobol, tornado

__all__ = ["sensitivity", "sensitivity_options", "SensitivityOptions", "SensitivityResult", "Region", "parse_region",
           "merge_results", "check_sobol_n", "METHODS", "SPIDER", "decide", "decision_options", "DecisionOptions",
           "DecisionResult"]


# --- sim sensitivity ----------------------------------------------------------------

#: The methods of :func:`sensitivity`, in the order they are computed and listed.
METHODS = ("rank", "given", "tornado", "spider", "target", "sobol")
#: The methods and decision studies that evaluate the model again, drawing each prior on its own.
DESIGNS = ("tornado", "spider", "sobol")
DESIGN_REASON = ("it evaluates the model again with each prior drawn on its own, while the evidence has made the "
                 "posterior's priors dependent (the one-run measures read the posterior's samples)")
#: Spider percentiles by default.
SPIDER = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


@dataclasses.dataclass(frozen=True)
class Region:
    """A target region: ``output > threshold`` (``above``) or ``<``, the threshold a number or a variable."""

    output: str
    above: bool
    threshold: str | float
    text: str


@dataclasses.dataclass(frozen=True)
class SensitivityOptions:
    """What :func:`sensitivity` computes, checked against the experiment before any run is read.

    Build it with :func:`sensitivity_options`; ``skipped`` says which asked-for methods
    cannot be computed here, and why.
    """

    output: str
    note: str
    methods: tuple[str, ...]
    percentiles: tuple[float, float] = (0.1, 0.9)
    spider: tuple[float, ...] = SPIDER
    region: Region | None = None
    sobol_n: int = 2**14
    resamples: int = 300
    skipped: tuple[str, ...] = ()


def check_sobol_n(n: int) -> int:
    """``n`` if it is a power of 2 (the base samples of a Sobol' design)."""
    if n < 2 or n & (n - 1):
        raise SimError(f"--sobol-n must be a power of 2 (such as 16384), got {n}")
    return n


def parse_region(text: str, experiment: Experiment) -> Region:
    """``OUTPUT>THRESHOLD`` or ``OUTPUT<THRESHOLD``; the threshold a number or a variable of the model."""
    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*([<>])\s*(\S+)\s*", text or "")
    if not match:
        raise SimError(f"--region must be OUTPUT>THRESHOLD or OUTPUT<THRESHOLD, got {text!r}")
    name, op, threshold = match.groups()
    names = list(experiment.model.outputs)
    _flagged("--region", lambda: check_output(names, name))
    try:
        value: str | float = float(threshold)
    except ValueError:
        value = threshold
        if value not in names and value not in experiment.model.inputs:
            raise SimError(f"--region: threshold {value!r} is neither a number nor a variable of the model") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise SimError(f"--region: the threshold must be a finite number or a variable of the model, got {threshold!r}")
    return Region(name, op == ">", value, text)


def _flagged(flag: str, check):
    """``check()``, its SimError led by the option it is about."""
    try:
        return check()
    except SimError as exc:
        raise SimError(f"{flag}: {exc}") from None


def sensitivity_options(experiment: Experiment, *, output: str | None = None, methods: Sequence[str] | None = None,
            percentiles: tuple[float, float] = (0.1, 0.9), spider: Sequence[float] = SPIDER,
            region: str | None = None, sobol_n: int = 2**14, resamples: int = 300,
            posterior: bool = False) -> SensitivityOptions:
    """Check what :func:`sensitivity` is asked for against ``experiment``, before a run is read.

    ``output`` defaults to the model's cost (:func:`sim.experiment.subject`);
    ``methods`` to all of :data:`METHODS`; the target region to the output
    above its revenue. Sobol' indices are skipped for correlated priors (the
    variance cannot be split among dependent inputs), and the target region
    where there is no region. On a posterior (``posterior``) the designs
    that evaluate the model again (tornado, spider, Sobol') are left out:
    they draw the priors apart, which the evidence has made dependent; the
    one-run measures read the posterior's own samples. Asked for by name,
    they are refused.

    Raises
    ------
    SimError
        For an unknown output or method, a ``sobol_n`` that is not a power of
        2, percentiles out of order, a region that cannot be read, or nothing
        left to compute.
    """
    output, threshold, note = subject(experiment, output)
    chosen = list(dict.fromkeys(methods or METHODS))
    for m in chosen:
        if m not in METHODS:
            raise SimError(f"--method: unknown method {m!r}; {check.choices(m, METHODS)}")
    check_sobol_n(sobol_n)
    low, high = percentiles
    if not low < high:
        raise SimError(f"--percentiles: the low percentile must be below the high one, got "
                       f"{100 * low:g},{100 * high:g}")
    region = region or (f"{output}>{threshold}" if threshold else None)
    skipped = []
    if posterior:
        designs = [m for m in chosen if m in DESIGNS]
        if methods and designs:
            raise SimError(f"--method: {', '.join(designs)} cannot run on a posterior: {DESIGN_REASON}; choose from "
                           f"{', '.join(m for m in METHODS if m not in DESIGNS)}")
        chosen = [m for m in chosen if m not in DESIGNS]
        if designs:
            skipped.append(f"{', '.join(designs)}: {DESIGN_REASON}")
    if "sobol" in chosen and experiment.correlation is not None:
        chosen.remove("sobol")
        skipped.append("sobol: not defined for correlated priors (variance cannot be split among dependent "
                       "inputs); see rank and given")
    if "target" in chosen and region is None:
        chosen.remove("target")
        skipped.append("target: no region; give --region OUTPUT>THRESHOLD")
    if not chosen:
        raise SimError(f"--method: nothing to compute for {experiment.path}: " + "; ".join(skipped))
    parsed = parse_region(region, experiment) if "target" in chosen else None
    return SensitivityOptions(output, note, tuple(chosen), (low, high), tuple(spider), parsed, sobol_n, resamples,
                              tuple(skipped))


@dataclasses.dataclass(frozen=True)
class SensitivityResult:
    """What :func:`sensitivity` computed.

    Attributes
    ----------
    options : SensitivityOptions
    results : dict of str to Dataset or DataArray
        By method (``rank``, ``given``: DataArrays; the others Datasets),
        each with an ``input`` dim and the output's cell dims (restricted to
        the selected cells).
    dataset : xarray.Dataset
        Every result as one Dataset, variables prefixed by method, with the
        run's identity in its attrs (``sensitivity.nc``).
    drawn : int
        The number of drawn priors.
    evaluations : tuple of str
        The designs that evaluated the model again, and their sizes.
    notes : tuple of str
        What a reader should know about the results (an empty region).
    cells : tuple of str
        The run's cell dims (``scenario`` and the model's).
    """

    options: SensitivityOptions
    results: dict
    dataset: xr.Dataset
    drawn: int
    evaluations: tuple[str, ...]
    notes: tuple[str, ...]
    cells: tuple[str, ...] = ()

    @property
    def output(self) -> str:
        return self.options.output


def merge_results(results: dict) -> xr.Dataset:
    """Analysis results (DataArrays or Datasets, keyed by method) as one Dataset, variables prefixed by method."""
    parts = []
    for key, value in results.items():
        ds = value.to_dataset() if isinstance(value, xr.DataArray) else value
        parts.append(ds.rename({n: f"{key}_{n}" for n in ds.data_vars if not n.startswith(key)}))
    return xr.merge(parts, compat="override", join="outer", combine_attrs="drop")


def _no_designs_on_posterior(ds: xr.Dataset, designs) -> None:
    if designs and is_posterior(ds):
        raise SimError(f"{', '.join(designs)} cannot run on a posterior: {DESIGN_REASON}")


def sensitivity(experiment: Experiment, ds: xr.Dataset, opts: SensitivityOptions | None = None, *, select=None,
                **kwargs) -> SensitivityResult:
    """Which priors drive an output, by every method asked for: what ``sim sensitivity`` computes.

    The one-run measures (rank correlation, given-data first order, target
    region) read the samples of run ``ds``; the designs that evaluate the
    model again (tornado, spider, Sobol') use the run's seed, sampler and
    sample count.

    Parameters
    ----------
    experiment : Experiment
        The experiment as the run was made (with its own overrides:
        :func:`sim.experiment.as_run`).
    ds : xarray.Dataset
        The run.
    opts : SensitivityOptions, optional
        From :func:`sensitivity_options`; else made from ``kwargs`` (the same keywords).
    select : list of (dim, value), optional
        Cells to restrict the results to (``--select``).
    """
    opts = opts or sensitivity_options(experiment, posterior=is_posterior(ds), **kwargs)
    _no_designs_on_posterior(ds, [m for m in opts.methods if m in DESIGNS])
    select_cells(ds, select)  # checks the selection before any work
    a = ds.attrs
    settled = with_settings(experiment, samples=int(a["samples"]), seed=int(a["seed"]), sampler=a["sampler"])
    output, d = opts.output, len(drawn_inputs(ds))
    results, made, notes = {}, [], []
    if "rank" in opts.methods:
        results["rank"] = sa.rank_correlation(ds, output)
    if "given" in opts.methods:
        results["given"] = sa.first_order_given(ds, output)
    if "tornado" in opts.methods:
        with stage("tornado"):
            results["tornado"] = tornado(settled, output, low=opts.percentiles[0], high=opts.percentiles[1])
        made.append(f"tornado {2 * d + 1}")
    if "spider" in opts.methods:
        with stage("spider"):
            results["spider"] = one_at_a_time(settled, output, opts.spider)
        made.append(f"spider {len(opts.spider) * d + 1}")
    if "target" in opts.methods:
        region = opts.region
        results["target"] = sa.target_region(ds, region.output, region.threshold, above=region.above)
        empty = results["target"]["ks_distance"].isnull().all("input")
        if bool(empty.any()):
            notes.append(f"target: the region {region.text} holds no sample, or every sample, in {int(empty.sum())} "
                         f"of {empty.size} cell(s), so nothing separates it from the rest there (NaN in the table)")
    if "sobol" in opts.methods:
        with stage(f"Sobol' indices ({opts.sobol_n * (d + 2):,} evaluations)"):
            results["sobol"] = sobol(settled, output, n=opts.sobol_n, seed=settled.seed, n_resamples=opts.resamples)
        made.append(f"Sobol' {opts.sobol_n * (d + 2):,}")
    results = {k: select_cells(v, select, "result") for k, v in results.items()}
    merged = merge_results(results)
    merged.attrs = {"experiment": experiment.name, "output": output, "samples": a["samples"], "seed": a["seed"],
                    "sampler": a["sampler"], "priors_hash": a["priors_hash"], "methods": ", ".join(results)}
    return SensitivityResult(opts, results, merged, d, tuple(made), tuple(notes),
                             tuple(dim for dim in ds.dims if dim != "sample"))


# --- sim decide ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DecisionOptions:
    """What :func:`decide` computes, checked against the experiment before any run is read
    (build it with :func:`decision_options`)."""

    cost: str
    revenue: str
    volume: str | None = None
    stress: tuple[str, float, float] | None = None
    seek: str | None = None
    target: float | None = None
    statistic: str = "p_profitable"
    how: str = "value"
    bracket: tuple[float, float] | None = None


def decision_options(experiment: Experiment, *, cost: str | None = None, revenue: str | None = None,
                     volume: str | None = None, stress: tuple[str, float, float] | None = None,
                     seek: str | None = None, target: float | None = None, statistic: str = "p_profitable",
                     how: str = "value", bracket: tuple[float, float] | None = None,
                     posterior: bool = False) -> DecisionOptions:
    """Check what :func:`decide` is asked for against ``experiment``, before a run is read.

    Parameters
    ----------
    cost, revenue, volume : str, optional
        Default: the model's outputs with those roles (a volume only if one has it).
    stress : (str, float, float), optional
        A prior and the band of its percentiles, as fractions (``("margin", 0, 0.1)``).
    seek, target, statistic, how, bracket
        Goal seek: the prior whose value (``how="value"``) or scale
        (``"scale"``) makes ``statistic`` reach ``target``, searched in
        ``bracket`` (see :func:`sim.studies.decision.goal_seek`).

    posterior : bool
        The run is a posterior (``sim calibrate``): the stress test and the
        goal seek, which run the model again on the priors, are refused.

    Raises
    ------
    SimError
        For an unknown output, prior or statistic, a model with no cost or
        revenue, a band out of order, or a seek without a target.
    """
    for flag, given in (("--stress", stress), ("--seek", seek)):
        if posterior and given:
            raise SimError(f"{flag} cannot run on a posterior: {DESIGN_REASON}; run it on the run itself, without "
                           "--posterior")
    if stress is not None and not 0.0 <= stress[1] < stress[2] <= 1.0:
        raise SimError(f"--stress: need 0 <= LOW < HIGH <= 100 (percent), got {100 * stress[1]:g} {100 * stress[2]:g}")
    roles = experiment.model.roles()
    model = f"{experiment.path}: model {experiment.model.name!r}"
    cost, revenue = cost_and_revenue(roles, cost, revenue, flags=("--cost", "--revenue"), what=model)
    volume = choose(roles, "volume", volume, flag="--volume", what=model)
    if seek and target is None:
        raise SimError("--seek needs --target, the value the statistic should reach")
    sought = [n.strip() for n in seek.split(",")] if seek else []
    if len(sought) > sd.MAX_JOINT:
        raise SimError(f"--seek: a goal seek moves at most {sd.MAX_JOINT} priors together, got {len(sought)}")
    if len(sought) > 1 and bracket:
        raise SimError("--bracket: a goal seek over several priors searches their common step; leave --bracket out")
    for flag, prior in (("--stress", stress[0] if stress else None), *(("--seek", n) for n in sought)):
        if prior is not None:
            _flagged(flag, lambda: check_output(list(experiment.base_priors), prior, "prior"))
    if seek:
        statistic_of(statistic)  # checks the name
    return DecisionOptions(cost, revenue, volume, stress, seek, target, statistic, how,
                           tuple(bracket) if bracket else None)


@dataclasses.dataclass(frozen=True)
class DecisionResult:
    """What :func:`decide` computed.

    Attributes
    ----------
    options : DecisionOptions
    measures : xarray.Dataset
        :func:`sim.analysis.decision.decide` of the run at the selected cells,
        with the run's identity in its attrs (``decision.nc``).
    acceptability : xarray.DataArray
        P(profitable) against the revenue (:func:`sim.analysis.decision.acceptability`).
    stress : xarray.Dataset or None
        :func:`sim.studies.decision.stress` of the asked-for band.
    seek : GoalSeekResult or None
    samples : int
        The run's sample count, which each stress and goal-seek run used too.
    periods : xarray.Dataset or None
        For a cash flow over periods (a run with a ``period`` dim): the
        outputs that sum it up (those without the dim, the compared cost and
        revenue aside, such as a net present value or a payback), each with
        its mean, 5th, 50th and 95th percentiles and the share of samples
        below 0 (:func:`sim.analysis.decision.period_measures`).
    """

    options: DecisionOptions
    measures: xr.Dataset
    acceptability: xr.DataArray
    stress: xr.Dataset | None
    seek: GoalSeekResult | None
    samples: int
    periods: xr.Dataset | None = None


def decide(experiment: Experiment, ds: xr.Dataset, opts: DecisionOptions | None = None, *, select=None,
           **kwargs) -> DecisionResult:
    """Deploy or not: what ``sim decide`` computes.

    The decision measures (expected net benefit, P(profitable), break-even,
    EVPI, EVPPI) and the acceptability curve read the samples of run ``ds``;
    the stress test and the goal seek run the model again on the run's seed,
    sampler and sample count.

    Parameters
    ----------
    experiment : Experiment
        The experiment as the run was made (:func:`sim.experiment.as_run`).
    ds : xarray.Dataset
        The run.
    opts : DecisionOptions, optional
        From :func:`decision_options`; else made from ``kwargs`` (the same keywords).
    select : list of (dim, value), optional
        Cells to restrict the results to; the goal seek's cell.
    """
    opts = opts or decision_options(experiment, posterior=is_posterior(ds), **kwargs)
    _no_designs_on_posterior(ds, [flag for flag, given in (("stress", opts.stress), ("seek", opts.seek)) if given])
    select_cells(ds, select)  # checks the selection before any work
    a = ds.attrs
    settled = with_settings(experiment, samples=int(a["samples"]), seed=int(a["seed"]), sampler=a["sampler"])
    cost, revenue = opts.cost, opts.revenue
    measures = select_cells(da.decide(ds, cost=cost, revenue=revenue, volume=opts.volume), select, "result")
    measures.attrs.update({"priors_hash": a["priors_hash"], "seed": a["seed"], "sampler": a["sampler"]})
    accept = select_cells(da.acceptability(ds, cost=cost, revenue=revenue), select, "result")
    stressed = sought = None
    if opts.stress:
        prior, lo, hi = opts.stress
        with stage(f"stress test of {prior}"):
            stressed = select_cells(sd.stress(settled, prior, (lo, hi), cost=cost, revenue=revenue), select, "result")
    if opts.seek:
        with stage(f"goal seek on {opts.seek}"):
            names = [n.strip() for n in opts.seek.split(",")]
            if len(names) > 1:
                sought = sd.goal_seek_joint(settled, names, opts.target, stat=opts.statistic, output=cost, cost=cost,
                                            revenue=revenue, how=opts.how, select=dict(select or []))
            else:
                sought = sd.goal_seek(settled, opts.seek, opts.target, stat=opts.statistic, output=cost, cost=cost,
                                      revenue=revenue, how=opts.how, bracket=opts.bracket, select=dict(select or []))
    periods = da.period_measures(ds, cost, revenue)
    periods = select_cells(periods, select, "result") if periods is not None else None
    return DecisionResult(opts, measures, accept, stressed, sought, int(a["samples"]), periods)
