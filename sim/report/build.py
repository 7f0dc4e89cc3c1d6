"""The scenario report of a run: what an output costs, against what it earns, how sure, and why.

:func:`build_report` turns a run (its samples, or a streamed run's summary
alone) into a :class:`~.document.Document`; :func:`write_report` writes it
as ``report.html``, ``report.md``, ``figures/`` and ``tables/``. Every
number in the report comes from the run's labelled summary or from the
analysis functions on the same samples.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..analysis import decision as da
from ..analysis import sensitivity as sa
from ..analysis.summary import exceedance_name
from ..engine import drawn_priors
from ..errors import SimError
from ..experiment import Experiment, subject
from ..progress import stage
from ..store import reproduce_command
from ..studies import sensitivity as ss
from . import figures as fg
from .document import Absent, Document, Plot, Section, Table, Text, write_document
from .tables import decision_frame, evppi_frame, sensitivity_frame, summarize_run, summary_table

__all__ = ["build_report", "write_report", "verdicts", "verdict", "quantity", "percent", "per_unit", "MAX_PANELS"]

#: Most cells (besides scenarios) the per-cell figures show; the tables show every cell.
MAX_PANELS = 12
#: Samples the report's estimates of shape use (figures of distributions, acceptability, rank correlations,
#: target region, EVPPI): the first this many of a larger run. Headline, tables and decision measures use all.
ESTIMATE_SAMPLES = 200_000
_SCALES = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))


def quantity(value: float, units: str, *, per: bool = True) -> str:
    """A number for prose, to 3 significant digits: ``$0.0634 per query``, ``$4.6 million``, ``3.1e+23 FLOP``.

    ``per=False`` leaves out what a money amount is per (for the second
    number of an interval).
    """
    if not math.isfinite(value):
        return str(value)
    money = units.startswith("USD")
    size = abs(value)
    if 1e6 <= size < 1e15:
        scale, word = next((scale, word) for scale, word in _SCALES if size >= scale)
        text = f"{value / scale:.3g} {word}"
    elif 1000 <= size < 1e6:
        text = f"{value:,.0f}"
    elif 1e-6 <= size < 1000:
        text = np.format_float_positional(value, precision=3, unique=False, fractional=False, trim="-")
    else:
        text = f"{value:.3g}"
    if money:
        unit = units[3:].lstrip("/ ")
        sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
        return f"{sign}${text}" + (f" per {unit}" if unit and per else "")
    return text if units in ("", "1") or not per else f"{text} {units}"


def per_unit(units: str) -> str:
    """``USD/query`` -> ``per query``; ``USD`` -> ``""`` (what an amount in ``units`` is per)."""
    return f"per {units.split('/', 1)[1].strip()}" if "/" in units else ""


def percent(p: float) -> str:
    """A probability as a percentage for prose: one decimal, ``< 0.1 %`` and ``> 99.9 %`` near the ends."""
    if 0 < p < 0.0005:
        return "< 0.1 %"
    if 0.9995 < p < 1:
        return "> 99.9 %"
    return f"{100 * p:.1f} %" if 0 < p < 1 else f"{100 * p:.0f} %"


@dataclasses.dataclass
class _Focus:
    """What the per-cell sections show: the output, its threshold and the cells."""

    output: str
    threshold: str | None
    kept: dict  # dim -> list of values, several cells each
    fixed: dict  # dim -> one value, dropped from the panels
    panels: list[dict]
    notes: list[str]

    def restrict(self, obj):
        """``obj`` narrowed to the report's cells (dims it lacks are skipped)."""
        obj = obj.sel({d: v for d, v in self.kept.items() if d in obj.dims})
        return obj.sel({d: v for d, v in self.fixed.items() if d in obj.dims})

    @property
    def scope(self) -> str:
        return ", ".join(f"{d} = {v}" for d, v in self.fixed.items())


def _labels(ds: xr.Dataset, dim: str) -> list[str]:
    return [str(v) for v in ds[dim].values]


def _focus(experiment: Experiment, ds: xr.Dataset, output: str | None, select, revenue: str | None = None) -> _Focus:
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
            raise SimError(f"{where[dim]}: {output} has no dim {dim!r}; valid: {', '.join(cell_dims) or 'none'}")
        labels = _labels(ds, dim)
        for v in values:
            if v not in labels:
                raise SimError(f"{where[dim]}: {dim} has no value {v!r}; valid: {', '.join(labels)}")
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
    return _Focus(output, threshold, kept, fixed, panels, notes)


def _narrow(experiment: Experiment, focus: _Focus) -> Experiment:
    """The experiment with its swept catalogues and years cut to the report's cells (fewer evaluations)."""
    wanted = {**focus.kept, **{d: [v] for d, v in focus.fixed.items()}}
    sweeps = {name: da.sel({d: v for d, v in wanted.items() if d in da.dims}) for name, da in experiment.sweeps.items()}
    return dataclasses.replace(experiment, sweeps=sweeps)


def _at(summary: xr.Dataset, name: str, cell: dict) -> xr.DataArray:
    """Variable ``name`` of the labelled summary at ``cell`` (the cell's dims the variable lacks are skipped)."""
    da = summary[name]
    return da.sel({d: v for d, v in cell.items() if d in da.dims})


def _stat(summary: xr.Dataset, name: str, cell: dict, stat: str) -> float:
    return float(_at(summary, name, cell).sel(stat=stat))


def _long_name(ds: xr.Dataset, name: str) -> str:
    return ds[name].attrs.get("long_name") or name.replace("_", " ")


def _amounts(summary, name, cell) -> str:
    """'$0.0531 per query (90 % interval $0.017 to $0.132' for output ``name`` at ``cell``."""
    units, long = summary[name].attrs.get("units", ""), _long_name(summary, name)
    per = not long.endswith(f"per {units[3:].lstrip('/ ')}")  # "cost per query" needs no second "per query"
    at = _at(summary, name, cell)
    return (f"{quantity(float(at.sel(stat='p50')), units, per=per)} (90 % interval "
            f"{quantity(float(at.sel(stat='p05')), units, per=False)} to "
            f"{quantity(float(at.sel(stat='p95')), units, per=False)}")


def _exceeds(summary, out, threshold, cell) -> tuple[float, float, float]:
    """P(out > threshold) at ``cell`` with its Monte Carlo interval, from the labelled summary."""
    var = exceedance_name(out, threshold)
    ci = _at(summary, f"{var}_ci", cell)
    return float(_at(summary, var, cell)), float(ci.sel(ci_bound="lower")), float(ci.sel(ci_bound="upper"))


def _headline(summary, focus: _Focus, scenarios) -> list:
    out, threshold = focus.output, focus.threshold
    n = int(summary.attrs["samples"])
    blocks = []
    for s in scenarios:
        for cell in focus.panels:
            full = {"scenario": s, **cell, **focus.fixed}
            units = summary[out].attrs.get("units", "")
            mean, se = _stat(summary, out, full, "mean"), _stat(summary, out, full, "se_mean")
            text = (f"Median {_long_name(summary, out)} {_amounts(summary, out, full)}; mean "
                    f"{quantity(mean, units, per=False)} ± {quantity(1.96 * se, units, per=False)}, its 95 % Monte "
                    "Carlo error).")
            if threshold:
                p, lo, hi = _exceeds(summary, out, threshold, full)
                share = (f"in none of the {n:,} samples" if p == 0 else
                         f"in every one of the {n:,} samples" if p == 1 else f"in {percent(p)} of samples")
                text += (f" Against it, a median {_long_name(summary, threshold)} of "
                         f"{_amounts(summary, threshold, full)}). The {_long_name(summary, out)} exceeds the "
                         f"{_long_name(summary, threshold)} {share} (95 % Monte Carlo interval {percent(lo)} to "
                         f"{percent(hi)}).")
            lead = ", ".join(str(v) for v in [s, *cell.values()]) + "."
            blocks.append(Text(text, lead=lead))
    return blocks


def _comparison(ds, summary, focus: _Focus, scenarios) -> pd.DataFrame:
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
                p, lo, hi = _exceeds(summary, out, threshold, full)
                row |= {"p_profitable": 1 - p, "p_profitable_ci_lower": 1 - hi, "p_profitable_ci_upper": 1 - lo}
            row["median_change_pct"] = 100 * (r["p50"] / b50 - 1) if b50 else np.nan
            if x is not None:
                diff = x.sel(scenario=s, **cell).values - x.sel(scenario=base, **cell).values
                d05, d50, d95 = np.quantile(diff, [0.05, 0.5, 0.95])
                row |= {"paired_difference_p50": d50, "paired_difference_p05": d05, "paired_difference_p95": d95,
                        f"p_below_{base}": float(np.mean(diff < 0))}
            rows.append(row)
    return pd.DataFrame(rows)


def _priors_table(experiment: Experiment) -> pd.DataFrame:
    rows = []
    for name, prior in experiment.base_priors.items():
        versions = [("all", prior, False)] + [(s.name, s.priors[name], True) for s in experiment.scenarios
                                              if name in s.overrides]
        for scenario, p, override in versions:
            lo, hi = p.interval(0.9)
            rows.append({"prior": name, "scenario": scenario, "distribution": p.describe(), "point": p.point,
                         "p05": lo, "p95": hi, "unit": p.unit, "source": p.source or p.note, "override": override})
    return pd.DataFrame(rows)


def _metadata(ds: xr.Dataset, out) -> pd.DataFrame:
    a = ds.attrs
    rows = [("experiment file", a["experiment_file"]), ("title", a.get("title", "")),
            ("model", f"{a['model']} ({a.get('model_source', 'sim')})"),
            ("scenarios", ", ".join(_labels(ds, "scenario"))), ("samples", f"{int(a['samples']):,}"),
            ("seed", str(a["seed"])), ("sampler", a["sampler"]),
            ("kept", "summaries only (streamed)" if a.get("mode") == "stream" else "every sample (samples.nc)"), ("priors files", a.get("priors_files", "")),
            ("priors hash (SHA-256)", a["priors_hash"]), ("sim version", a["sim_version"]),
            ("run made", a["created"]),
            ("report built", datetime.now(timezone.utc).isoformat(timespec="seconds")),
            ("reproduce with", reproduce_command(a, out))]
    if a.get("rank_correlations"):
        rows.insert(9, ("rank correlations", a["rank_correlations"]))
    if a.get("overrides"):
        rows.insert(4, ("overrides (--set, every scenario)", a["overrides"]))
    return pd.DataFrame(rows, columns=["item", "value"])


def _cells_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Coordinate columns as text (years and labels alike) so tables read the same in CSV and HTML."""
    return frame.assign(**{c: frame[c].astype(str) for c in frame.columns if frame[c].dtype != float
                           and c not in ("deploy", "override")})


@dataclasses.dataclass
class _Run:
    """What every section reads: the run (None for a streamed run), its labelled summary, and the report's focus."""

    experiment: Experiment
    ds: xr.Dataset | None
    summary: xr.Dataset
    focus: _Focus
    scenarios: list[str]
    colours: dict
    out: Path

    @property
    def streamed(self) -> bool:
        return self.ds is None

    @property
    def view(self) -> xr.Dataset:
        return self.focus.restrict(self.ds)

    @property
    def first(self) -> xr.Dataset:
        """The view's first :data:`ESTIMATE_SAMPLES` samples."""
        return self.view.isel(sample=slice(0, ESTIMATE_SAMPLES))

    @property
    def scope(self) -> str:
        return f" ({self.focus.scope})" if self.focus.scope else ""

    def name(self, name: str) -> str:
        """An output's readable name (its long name)."""
        return _long_name(self.summary, name)

    def title(self, name: str) -> str:
        long = self.name(name)
        return long[0].upper() + long[1:]

    def units(self, name: str) -> str:
        return self.summary[name].attrs.get("units", "")

    def no_samples(self, what: str) -> Absent:
        return Absent(f"{what} need the samples, and this run was streamed (--stream or --dask), which keeps "
                      f"summaries only. `{_memory_command(self.summary.attrs, self.out)}` keeps them.")


def _memory_command(attrs, out) -> str:
    """The command that makes a streamed run again in memory (with its samples)."""
    return reproduce_command({k: v for k, v in attrs.items() if k != "stream_relative_error"}, out)


def build_report(experiment: Experiment, ds: xr.Dataset | None, *, summary: xr.Dataset | None = None,
                 output: str | None = None, select=None, sensitivity: bool = True, sobol_n: int = 2**14,
                 out: str | Path = "outputs", revenue: str | None = None) -> Document:
    """The report of run ``ds`` of ``experiment`` (which must hold the priors the run was made with).

    Parameters
    ----------
    ds : xarray.Dataset or None
        The run's samples; None for a streamed run, whose report is built
        from ``summary`` alone (the sections that need samples say so).
    summary : xarray.Dataset, optional
        The run's labelled summary (:func:`~.tables.summarize_run`); computed
        from ``ds`` when not given.
    output, revenue : str, optional
        The output the report is about and the revenue it is compared with
        (default: see :func:`subject`).
    select : list of (dim, value), optional
        Cells the per-cell sections show (``--select``), besides the
        experiment's ``[report] select``.
    sensitivity : bool
        Compute the sensitivity section (re-evaluates the model for the
        tornado and Sobol' indices).
    sobol_n : int
        Base samples of the Sobol' design, a power of 2.
    out : path
        The output root the run was written to (for the command that reproduces it).
    """
    if summary is None:
        summary = summarize_run(ds)
    scenarios = _labels(summary, "scenario")
    run = _Run(experiment, ds, summary, _focus(experiment, summary, output, select, revenue), scenarios,
               fg.palette(scenarios), Path(out))
    with stage("report: decision measures"):
        decision, decision_section = _decision(run)
    with stage("report: distributions"):
        sections = [_verdict_section(run, decision), _headline_section(run), _distributions(run), decision_section,
                    _scenarios(run)]
    with stage("report: sensitivity (tornado, Sobol', rank correlations, EVPPI)"):
        sections.append(Section("sensitivity", f"Which assumptions drive the {run.name(run.focus.output)}",
                                _sensitivity(run, decision, sobol_n) if sensitivity else
                                [Absent("Sensitivity was not computed for this report (--no-sensitivity); run "
                                        "`sim report` without it, or `sim sensitivity`, for this section.")]))
    if "year" in summary[run.focus.output].dims:
        sections.append(_years(run))
    with stage("report: convergence and assumptions"):
        sections += [_convergence(run, decision), _outputs(run), _assumptions(run), _reproduce(run)]
    subtitle = " ".join(experiment.description.split()) + \
        f" Run of {summary.attrs['created']}, sim {summary.attrs['sim_version']}."
    return Document(title=experiment.title or experiment.name, subtitle=subtitle.strip(), sections=sections)


def _prior_name(experiment: Experiment, name: str) -> str:
    prior = experiment.base_priors.get(name)
    return (prior.long_name if prior is not None and prior.long_name else name.replace("_", " "))


def verdicts(summary: xr.Dataset, focus: _Focus, scenarios, experiment: Experiment,
             decision: xr.Dataset | None = None, top: int = 2) -> list[tuple[dict, str]]:
    """One sentence per decision cell (see :func:`verdict`).

    Returns
    -------
    list of (cell, sentence)
    """
    cells = [{"scenario": s, **panel, **focus.fixed} for s in scenarios for panel in focus.panels]
    return [(cell, verdict(summary, focus.output, focus.threshold, cell, experiment, decision, top)) for cell in cells]


def verdict(summary: xr.Dataset, output: str, threshold: str, cell: dict, experiment: Experiment,
            decision: xr.Dataset | None = None, top: int = 2) -> str:
    """How often deploying loses money at ``cell``, the expected loss or gain, and what would settle it.

    The loss probability and its interval are P(``output`` > ``threshold``)
    of the labelled summary; the expected net benefit and the priors worth
    learning (largest EVPPI) come from ``decision``
    (:func:`sim.analysis.decision.decide`) when the run kept its samples, and
    the net benefit from the summary's means otherwise.
    """
    units = summary[output].attrs.get("units", "")
    p, lo, hi = _exceeds(summary, output, threshold, cell)
    if decision is not None:
        enb = float(_at(decision, "expected_net_benefit", cell))
    else:
        enb = _stat(summary, threshold, cell, "mean") - _stat(summary, output, cell, "mean")
    interval = f" ({percent(lo)} to {percent(hi)})" if percent(lo) != percent(hi) else ""
    odds = ("never loses money" if p == 0 else "loses money in every outcome" if p == 1 else
            f"loses money in {percent(p)} of outcomes{interval}")
    money = quantity(abs(enb), units.split("/")[0], per=False)
    sentence = f"Deploying {odds}; the expected {'loss' if enb < 0 else 'gain'} is {money} {per_unit(units)}".rstrip()
    if decision is not None and "evppi" in decision:
        ev = _at(decision, "evppi", cell)
        order = [str(n) for n in ev["input"].values[np.argsort(-ev.values, kind="stable")]
                 if float(ev.sel(input=n)) > 0][:top]
        if order:
            sentence += "; what would settle it is " + " and ".join(_prior_name(experiment, n) for n in order)
        else:
            sentence += "; no single assumption would change the decision"
    return sentence + "."


def _verdict_section(run: _Run, decision) -> Section:
    out, threshold = run.focus.output, run.focus.threshold
    if not threshold:
        return Section("verdict", "Verdict", [Text(
            f"The {run.name(out)} is not compared with a revenue (model {run.experiment.model.name!r} has no output "
            "with role revenue), so there is no deploy-or-not verdict; the headline gives its distribution.")])
    blocks = [Text(sentence, lead=", ".join(str(v) for v in cell.values()) + ":")
              for cell, sentence in verdicts(run.summary, run.focus, run.scenarios, run.experiment, decision)]
    if run.streamed:
        blocks.append(Text("The expected loss or gain is the difference of the streamed means; what would settle "
                           f"the decision (EVPPI) needs the samples: `{_memory_command(run.summary.attrs, run.out)}`."))
    return Section("verdict", "Verdict", blocks)


def _headline_section(run: _Run) -> Section:
    out, threshold = run.focus.output, run.focus.threshold
    a = run.summary.attrs
    kept = " streamed (summaries only)" if run.streamed else ""
    intro = (f"{run.experiment.title or run.experiment.name}: {int(a['samples']):,} Monte Carlo samples{kept} "
             f"({a['sampler']} sampler, seed {a['seed']}), {len(run.scenarios)} scenario(s) evaluated on common "
             f"random numbers. The report is about the {run.name(out)} ({run.units(out)})"
             + (f" against the {run.name(threshold)}" if threshold else "") + ".")
    blocks = [Text(intro)] + [Text(note) for note in run.focus.notes]
    if not run.streamed and int(a["samples"]) > ESTIMATE_SAMPLES:
        blocks.append(Text(f"The figures of distributions and the acceptability curve, the rank correlations, the "
                           f"target region and EVPPI use the first {ESTIMATE_SAMPLES:,} of the {int(a['samples']):,} "
                           "samples; the headline, the tables of quantiles and probabilities, and the decision "
                           "measures use them all."))
    return Section("headline", "Headline", blocks + _headline(run.summary, run.focus, run.scenarios))


def _coincide(view: xr.Dataset | None, name: str | None) -> bool:
    """Whether ``name`` is the same in every scenario (its lines would lie on top of one another)."""
    if view is None or name is None or "scenario" not in view[name].dims or view.sizes["scenario"] < 2:
        return False
    x = view[name].transpose("scenario", ...).values
    return bool((x == x[:1]).all())


def _distributions(run: _Run) -> Section:
    out, threshold = run.focus.output, run.focus.threshold
    title = run.title(out) + (f" against the {run.name(threshold)}" if threshold else "")
    if run.streamed:
        return Section("distributions", title, [run.no_samples("Figures of the distributions")])
    view, panels = run.first, run.focus.panels
    same = _coincide(view, threshold)
    both = f" (solid) and the {run.name(threshold)} (dashed)" if threshold else ""
    note = (f" The {run.name(threshold)} is the same in every scenario, so it is drawn once, in grey."
            if same else "")
    blocks = [Plot("distributions", fg.distributions(view, out, run.colours, panels, threshold=threshold,
                                                     shared_threshold=same),
                   f"Distribution of the {run.name(out)}{both} per scenario{run.scope}.{note}"),
              Plot("exceedance", fg.exceedance_curves(view, out, run.colours, panels, threshold=threshold,
                                                      shared_threshold=same),
                   f"Exceedance curves: the probability that the {run.name(out)}{both.replace(' and ', ' or ')} is "
                   f"above each value{run.scope}.{note}")]
    return Section("distributions", title, blocks)


def _decision(run: _Run) -> tuple[xr.Dataset | None, Section]:
    out, threshold = run.focus.output, run.focus.threshold
    title = "Profitability and break-even"
    if not threshold:
        return None, Section("decision", title, [Absent(
            f"No profitability measures: model {run.experiment.model.name!r} compares the {run.name(out)} with no "
            "revenue, so there is no deploy-or-not decision to measure.")])
    if run.streamed:
        return None, Section("decision", title, [run.no_samples("Break-even, EVPI and the acceptability curve")])
    view = run.view
    per = per_unit(run.units(out))
    decision = da.decide(view, cost=out, revenue=threshold, evppi_samples=ESTIMATE_SAMPLES)
    accept = da.acceptability(run.first, cost=out, revenue=threshold)
    actual = view[threshold].median("sample", keep_attrs=True)
    blocks = [Text(f"Deploying earns the {run.name(threshold)} minus the {run.name(out)}, {per}. P(profitable) is the "
                   f"share of samples where that is positive; break-even is the {run.name(threshold)} at which the "
                   f"expected net benefit is zero (the expected cost); EVPI is what perfect knowledge of every prior "
                   f"would be worth, {per}" + (" and per year" if "evpi_per_year" in decision else "") + "."),
              Plot("acceptability", fg.acceptability_curves(accept, decision["breakeven_revenue"], run.colours,
                                                            run.focus.panels, actual=actual),
                   f"Acceptability curve: P(profitable) if the {run.name(threshold)} were each value; dotted lines "
                   f"mark break-even, solid vertical lines the model's median {run.name(threshold)}{run.scope}."),
              Table("decision", _cells_frame(decision_frame(decision)),
                    f"Decision measures per cell{run.scope}, with 95 % Monte Carlo intervals.")]
    return decision, Section("decision", title, blocks)


def _scenarios(run: _Run) -> Section:
    base = run.scenarios[0]
    if len(run.scenarios) == 1:
        return Section("scenarios", "Scenario comparison", [Absent(
            f"Only one scenario ({base}): there is nothing to compare it with. Add [scenarios.NAME] tables to the "
            "experiment file to compare assumptions.")])
    paired = ("Each scenario against {base}, on the same uniforms (common random numbers): the paired difference is "
              "taken sample by sample, so it carries no extra sampling noise." if not run.streamed else
              "Each scenario against {base}; the paired differences need the samples, which a streamed run does not "
              "keep.").format(base=base)
    blocks = [Text(paired),
              Table("scenarios", _comparison(run.ds, run.summary, run.focus, run.scenarios),
                    f"The {run.name(run.focus.output)} per scenario{run.scope}: quantiles, "
                    + ("P(profitable) with its 95 % interval, " if run.focus.threshold else "")
                    + f"and the change against {base}.")]
    return Section("scenarios", "Scenario comparison", blocks)


def _years(run: _Run) -> Section:
    out, threshold = run.focus.output, run.focus.threshold
    focus = dataclasses.replace(run.focus, fixed={d: v for d, v in run.focus.fixed.items() if d != "year"})
    summary = focus.restrict(run.summary)
    table = summary_table(summary[[out, f"{out}_ci"]])
    cells = [c for c in summary[out].dims if c != "stat"]
    return Section("years", f"{run.title(out)} over the years", [
        Plot("fan", fg.fan_chart(summary, out, run.colours, run.focus.panels, threshold=threshold),
             f"Median {run.name(out)} per year with its 50 % and 90 % intervals"
             + (f"; dashed: median {run.name(threshold)}" if threshold else "") + "."),
        Table("years", _cells_frame(table[[*cells, "p05", "p50", "p95"]]),
              f"The {run.name(out)} per year: median and 90 % interval.")])


def _hinge(run: _Run, decision) -> dict:
    """The cell the decision hinges on: P(profitable) nearest one half (the first panel without a decision)."""
    first = {"scenario": run.scenarios[0], **run.focus.panels[0]}
    if decision is None:
        return first
    cells = [{"scenario": s, **p} for s in run.scenarios for p in run.focus.panels]
    return min(cells, key=lambda c: abs(float(_at(decision, "p_profitable", c)) - 0.5))


def _convergence(run: _Run, decision) -> Section:
    out, threshold = run.focus.output, run.focus.threshold
    if run.streamed:
        return Section("convergence", "Monte Carlo convergence", [run.no_samples("Convergence charts")])
    cell = _hinge(run, decision)
    panel = {d: v for d, v in cell.items() if d != "scenario"}
    where = f" at {fg.panel_label(panel)}" if panel else ""
    colours = {cell["scenario"]: run.colours[cell["scenario"]]}
    view = run.view.sel(scenario=[cell["scenario"]])
    net = (view[threshold] - view[out]).sel(panel).rename("net benefit") if threshold else None
    why = (f"the cell whose decision is closest to a coin toss ({cell['scenario']}{', ' + fg.panel_label(panel) if panel else ''})"
           if decision is not None else f"scenario {cell['scenario']}")
    return Section("convergence", "Monte Carlo convergence", [
        Text(f"How the estimates settle as samples accumulate, in {why}, with their 95 % Monte Carlo intervals. Bands "
             "that are narrow at the right-hand end mean more samples would not change the report's numbers."),
        Plot("convergence", fg.convergence_chart(view[out].sel(panel).rename(out), colours, net=net),
             f"Running mean and 95th percentile of the {run.name(out)}{where}"
             + (", and running P(profitable)" if threshold else "") + ", against the number of samples.")])


def _outputs(run: _Run) -> Section:
    # the fixed cells only (the year shown, a --select): every other cell stays, as the caption says
    summary = summary_table(run.summary.sel({d: [v] for d, v in run.focus.fixed.items() if d in run.summary.dims}))
    shown = summary[[c for c in summary.columns if not c.endswith(("_ci_lower", "_ci_upper"))
                     and c not in ("sd", "p25", "p75")]]
    return Section("outputs", "All outputs", [
        Table("summary", _cells_frame(shown), f"Every output{run.scope}: mean with its standard error, and "
                                              "quantiles; summary.csv has every cell with its Monte Carlo intervals.")])


def _assumptions(run: _Run) -> Section:
    drawn = drawn_priors(run.experiment)
    blocks = []
    if drawn:
        blocks.append(Plot("assumptions", fg.prior_densities(run.experiment, drawn, run.colours),
                           "The drawn priors: density of each, its 90 % interval (shaded) and point value (line); "
                           "a scenario's override is drawn in that scenario's colour over the prior used by every "
                           "scenario (grey)."))
    blocks.append(Table("priors", _cells_frame(_priors_table(run.experiment)),
                        "Priors: distribution, point value (the article's), 90 % interval, unit and source. "
                        "Highlighted rows are a scenario's overrides.", highlight="override"))
    if run.experiment.correlation:
        pairs = run.experiment.correlation.pairs()
        blocks.append(Table("correlations", pd.DataFrame([{"prior": a, "with": b, "spearman": r}
                                                          for (a, b), r in pairs.items()]),
                            "Rank correlations imposed between priors (Gaussian copula)."))
    return Section("priors", "Assumptions", blocks)


def _reproduce(run: _Run) -> Section:
    return Section("reproduce", "Reproducing this run", [
        Text("Running the command below from the same folder, with the same files, gives the same samples and so "
             "the same numbers; the priors hash identifies the priors the run was made with."),
        Table("run", _metadata(run.summary, run.out), "Run metadata.")])


def _sensitivity(run: _Run, decision, sobol_n: int) -> list:
    out, threshold, focus = run.focus.output, run.focus.threshold, run.focus
    if not drawn_priors(run.experiment):
        return [Absent("Every prior is fixed: nothing is uncertain, so nothing drives the spread.")]
    narrow = _narrow(run.experiment, focus)
    panels = [{"scenario": s, **p} for s in run.scenarios for p in focus.panels]
    blocks = []
    if len(panels) > MAX_PANELS:
        panels = panels[:len(focus.panels)]
        blocks.append(Text(f"The charts show scenario {run.scenarios[0]} ({len(focus.panels)} cells); the tables "
                           "cover every scenario."))
    low, high = 0.1, 0.9
    t = focus.restrict(ss.tornado(narrow, out, low=low, high=high))
    blocks += [Plot("tornado", fg.tornado_chart(t, panels, output_label=fg._axis_label(run.summary[out]), low=low,
                                                high=high),
                    f"Tornado: the {run.name(out)} with one prior at its 10th or 90th percentile and every other at "
                    f"its point value; the line is point mode{run.scope}."),
               Table("tornado", _cells_frame(_largest_first(sensitivity_frame({"tornado": t}), "tornado_swing",
                                                            t.dims)),
                     f"One-at-a-time swings of the {run.name(out)} ({run.units(out)}), largest first.")]

    if run.experiment.correlation is not None:
        blocks.append(Absent("No Sobol' indices: the priors are rank-correlated, and variance cannot be split among "
                             "dependent inputs. The rank correlations below hold for correlated priors."))
    else:
        s = focus.restrict(ss.sobol(narrow, out, n=sobol_n, seed=int(run.summary.attrs["seed"])))
        blocks += [Plot("sobol", fg.sobol_chart(s, panels),
                        f"Sobol' indices of the {run.name(out)}: the share of its variance due to each prior alone "
                        f"(first order) and with its interactions (total order), with 95 % bootstrap intervals "
                        f"({sobol_n:,} base samples){run.scope}."),
                   Table("sobol", _cells_frame(sensitivity_frame({"sobol": s})),
                         f"Sobol' indices of the {run.name(out)}{run.scope}.")]

    if run.streamed:
        blocks.append(run.no_samples("Rank correlations, the target region and EVPPI"))
        return blocks
    view = run.first
    r = sa.rank_correlation(view, out)
    blocks += [Plot("rank", fg.rank_heatmap(r, [{"scenario": s, **p} for s in run.scenarios for p in focus.panels]),
                    f"Spearman rank correlation of each prior with the {run.name(out)}, per scenario and "
                    f"cell{run.scope}; priors whose correlation is below 0.01 everywhere are left out."),
               Table("rank", _cells_frame(sensitivity_frame({"rank": r})),
                     f"Rank correlations with the {run.name(out)}.")]

    if threshold:
        net = view.assign(net_benefit=(view[threshold] - view[out]).assign_attrs(
            long_name="net benefit", units=run.units(out), role="output"))
        rn = sa.rank_correlation(net, "net_benefit")
        blocks += [Text(f"The revenue side: rank correlation of each prior with the net benefit (the "
                        f"{run.name(threshold)} minus the {run.name(out)}), so that priors that drive the revenue "
                        "show as well as those that drive the cost."),
                   Table("rank_net_benefit", _cells_frame(_largest_first(sensitivity_frame({"rank": rn}),
                                                                         "rank_correlation", rn.dims, top=8)),
                         "Rank correlations with the net benefit, largest first (at most eight per cell).")]
        region = focus.restrict(sa.target_region(view, out, threshold, above=True))
        frame = _largest_first(sensitivity_frame({"target": region}), "region_ks_distance", region.dims, top=5)
        blocks += [Text(f"Target region: the samples where the {run.name(out)} exceeds the {run.name(threshold)}. "
                        "For each prior, the median inside the region minus the median outside, in the prior's "
                        "standard deviations, and the Kolmogorov-Smirnov distance between the two (0: no difference, "
                        "1: disjoint)."),
                   Table("target_region", _cells_frame(frame),
                         f"The five priors that most separate {run.name(out)} above {run.name(threshold)} from the "
                         "rest, per cell.")]

    if decision is None:
        blocks.append(Absent("No EVPPI ranking: without a revenue to compare with there is no decision to value "
                             "information for."))
        return blocks
    evppi = decision["evppi"]
    blocks.append(Text("EVPPI: what learning one prior exactly would be worth before deciding to deploy, "
                       f"{per_unit(run.units(out))}{' and per year' if 'evppi_per_year' in decision else ''}. A prior "
                       "with a large spread but zero EVPPI does not change the decision."))
    informative = [p for p in panels if float(evppi.sel(p).max()) > 0]
    clear = [fg.panel_label(p) for p in panels if p not in informative]
    if clear:
        blocks.append(Text(f"In {'; '.join(clear)} no prior changes the decision: deploying (or not) is best in nearly "
                           "every sample, so no information is worth buying (EVPPI 0)."))
    if informative:
        units = run.units(out)
        blocks += [Plot("evppi", fg.evppi_chart(evppi, informative, units=units),
                        f"Expected value of partial perfect information per prior ({units}){run.scope}."),
                   Table("evppi", _cells_frame(_largest_first(evppi_frame(decision), "evppi", evppi.dims, top=5)),
                         "The five most valuable priors to learn, per cell (cells where every EVPPI is 0 left out).")]
    return blocks


def _largest_first(frame: pd.DataFrame, column: str, dims, top: int | None = None) -> pd.DataFrame:
    """Rows sorted by cell, then by ``|column|`` largest first; at most ``top`` per cell; zero rows dropped."""
    cells = [c for c in frame.columns if c in dims and c != "input"]
    frame = frame[frame[column].abs() > 0]
    order = frame.assign(_key=frame[column].abs()).sort_values([*cells, "_key"], ascending=[True] * len(cells) + [False],
                                                               kind="stable").drop(columns="_key")
    return order.groupby(cells, sort=False).head(top) if top and cells else order.head(top) if top else order


def write_report(document: Document, folder: str | Path) -> dict[str, Path]:
    """Write the report into ``folder`` (see :func:`~.document.write_document`)."""
    return write_document(document, folder)
