"""The scenario report of a run: what an output costs, against what it earns, how sure, and why.

:func:`load_run` reads a saved run and refuses one made from other priors;
:func:`build_report` turns a run into a :class:`~.document.Document`;
:func:`write_report` writes it as ``report.html``, ``report.md``,
``figures/`` and ``tables/``. Every number in the report comes from the
run's summary table or from the analysis functions on the same samples.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import shlex
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..analysis import decision as da
from ..analysis import sensitivity as sa
from ..errors import SimError
from ..experiment import Experiment, as_run, subject
from . import figures as fg
from .document import Absent, Document, Plot, Section, Table, Text, write_document
from .tables import decision_frame, evppi_frame, sensitivity_frame, summary_frame

__all__ = ["load_run", "build_report", "write_report", "quantity", "percent", "reproduce_command", "per_unit",
           "MAX_PANELS"]

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


def reproduce_command(ds: xr.Dataset, out: str | Path = "outputs") -> str:
    """The command that makes this run (and its report) again."""
    parts = ["sim", "run", ds.attrs["experiment_file"], "--samples", str(ds.attrs["samples"]),
             "--seed", str(ds.attrs["seed"]), "--sampler", ds.attrs["sampler"], *shlex.split(ds.attrs.get("run_args", ""))]
    if Path(out) != Path("outputs"):
        parts += ["--out", str(out)]
    return shlex.join(parts)


def load_run(experiment: Experiment, out: str | Path = "outputs") -> tuple[Experiment, xr.Dataset]:
    """The saved run of ``experiment`` under ``out``, checked against the experiment's current priors.

    Returns
    -------
    (Experiment, Dataset)
        ``experiment`` with the overrides the run was made with (``--set``,
        ``--scenario``, see :func:`sim.experiment.as_run`), and the run.

    Raises
    ------
    SimError
        When there is no saved run, it cannot be read, or it was made by
        another model or other priors (its priors hash differs): a report of
        it would show stale numbers.
    """
    path = Path(out) / experiment.name / "samples.nc"
    rerun = f"run `sim run {experiment.path}`"
    if not path.is_file():
        raise SimError(f"no saved run of experiment {experiment.name!r} ({path} does not exist); {rerun} first")
    try:
        ds = xr.load_dataset(path, engine="h5netcdf")
    except Exception as exc:  # any failure to read is the same problem for the user
        raise SimError(f"{path}: cannot read the saved run ({type(exc).__name__}: {exc}); {rerun} again") from None
    if ds.attrs.get("mode") != "monte_carlo" or "samples" not in ds.attrs:
        raise SimError(f"{path} is not a Monte Carlo run of sim; {rerun}")
    if ds.attrs.get("model") != experiment.model.name:
        raise SimError(f"{path} was made by model {ds.attrs.get('model')!r}, but {experiment.path} now uses "
                       f"{experiment.model.name!r}; {rerun} to update it")
    try:
        as_recorded = as_run(experiment, ds.attrs)  # the run's own --set and --scenario
    except (SimError, ValueError):  # an override the experiment no longer takes: the hash check names it
        as_recorded = experiment
    saved, now = str(ds.attrs.get("priors_hash", "")), as_recorded.priors_hash()
    if saved != now:
        raise SimError(f"{path} was made with priors hash {saved[:12] or 'none'}, but the priors of "
                       f"{experiment.path} now hash {now[:12]}; {rerun} to update it")
    return as_recorded, ds


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
    cell_dims = [d for d in ds[output].dims if d not in ("scenario", "sample")]
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


def _matches(column: pd.Series, value) -> pd.Series:
    """Rows of a summary column equal to a coordinate value (years are read back as floats beside blanks)."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return pd.to_numeric(column, errors="coerce") == float(value)
    return column.astype(str) == str(value)


def _row(summary: pd.DataFrame, output: str, cell: dict) -> pd.Series:
    rows = summary[summary["output"] == output]
    for dim, value in cell.items():
        if dim in rows.columns and rows[dim].notna().any():
            rows = rows[_matches(rows[dim], value)]
    if len(rows) != 1:
        raise AssertionError(f"expected one summary row for {output} at {cell}, found {len(rows)}")
    return rows.iloc[0]


def _long_name(ds: xr.Dataset, name: str) -> str:
    return ds[name].attrs.get("long_name") or name.replace("_", " ")


def _headline(ds, summary, focus: _Focus, scenarios) -> list:
    out, threshold = focus.output, focus.threshold
    n = int(ds.attrs["samples"])

    def amounts(name, r):
        """'$0.0531 per query (90 % interval $0.017 to $0.132' for output ``name``'s summary row ``r``."""
        units, long = ds[name].attrs.get("units", ""), _long_name(ds, name)
        per = not long.endswith(f"per {units[3:].lstrip('/ ')}")  # "cost per query" needs no second "per query"
        return (f"{quantity(r.p50, units, per=per)} (90 % interval {quantity(r.p05, units, per=False)} to "
                f"{quantity(r.p95, units, per=False)}")

    blocks = []
    for s in scenarios:
        for cell in focus.panels:
            full = {"scenario": s, **cell, **focus.fixed}
            r = _row(summary, out, full)
            units = ds[out].attrs.get("units", "")
            text = (f"Median {_long_name(ds, out)} {amounts(out, r)}; mean {quantity(r['mean'], units, per=False)} "
                    f"± {quantity(1.96 * r.se_mean, units, per=False)}, its 95 % Monte Carlo error).")
            if threshold:
                t = _row(summary, threshold, {k: v for k, v in full.items() if k in ds[threshold].dims})
                col = f"p_gt_{threshold}"
                p, lo, hi = r[col], r[f"{col}_ci_lower"], r[f"{col}_ci_upper"]
                share = (f"in none of the {n:,} samples" if p == 0 else
                         f"in every one of the {n:,} samples" if p == 1 else f"in {percent(p)} of samples")
                text += (f" Against it, a median {_long_name(ds, threshold)} of {amounts(threshold, t)}). "
                         f"The {_long_name(ds, out)} exceeds the {_long_name(ds, threshold)} {share} "
                         f"(95 % Monte Carlo interval {percent(lo)} to {percent(hi)}).")
            lead = ", ".join(str(v) for v in [s, *cell.values()]) + "."
            blocks.append(Text(text, lead=lead))
    return blocks


def _comparison(ds, summary, focus: _Focus, scenarios) -> pd.DataFrame:
    """Per cell and scenario: the output's median and 90 % interval, P(profitable), and the paired change."""
    out, threshold = focus.output, focus.threshold
    base = scenarios[0]
    x = focus.restrict(ds[out])
    rows = []
    for cell in focus.panels:
        b = x.sel(scenario=base, **cell).values
        for s in scenarios:
            r = _row(summary, out, {"scenario": s, **cell, **focus.fixed})
            diff = x.sel(scenario=s, **cell).values - b
            row = {**{d: str(v) for d, v in cell.items()}, "scenario": s, "p05": r.p05, "p50": r.p50, "p95": r.p95}
            if threshold:
                col = f"p_gt_{threshold}"
                row |= {"p_profitable": 1 - r[col], "p_profitable_ci_lower": 1 - r[f"{col}_ci_upper"],
                        "p_profitable_ci_upper": 1 - r[f"{col}_ci_lower"]}
            b50 = _row(summary, out, {"scenario": base, **cell, **focus.fixed}).p50
            d05, d50, d95 = np.quantile(diff, [0.05, 0.5, 0.95])
            row |= {"median_change_pct": 100 * (r.p50 / b50 - 1) if b50 else np.nan,
                    "paired_difference_p50": d50, "paired_difference_p05": d05, "paired_difference_p95": d95,
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
            ("seed", str(a["seed"])), ("sampler", a["sampler"]), ("priors files", a.get("priors_files", "")),
            ("priors hash (SHA-256)", a["priors_hash"]), ("sim version", a["sim_version"]),
            ("run made", a["created"]),
            ("report built", datetime.now(timezone.utc).isoformat(timespec="seconds")),
            ("reproduce with", reproduce_command(ds, out))]
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
    """What every section reads: the run, its summary table, and the report's focus."""

    experiment: Experiment
    ds: xr.Dataset
    focus: _Focus
    summary: pd.DataFrame
    scenarios: list[str]
    colours: dict
    out: Path

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

    def title(self, name: str) -> str:
        long = _long_name(self.ds, name)
        return long[0].upper() + long[1:]

    def units(self, name: str) -> str:
        return self.ds[name].attrs.get("units", "")


def build_report(experiment: Experiment, ds: xr.Dataset, *, output: str | None = None, select=None,
                 sensitivity: bool = True, sobol_n: int = 2**14, out: str | Path = "outputs",
                 revenue: str | None = None) -> Document:
    """The report of run ``ds`` of ``experiment`` (which must hold the priors the run was made with).

    Parameters
    ----------
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
    scenarios = _labels(ds, "scenario")
    run = _Run(experiment, ds, _focus(experiment, ds, output, select, revenue), summary_frame(ds), scenarios,
               fg.palette(scenarios), Path(out))
    decision, decision_section = _decision(run)
    sections = [_headline_section(run), _distributions(run), decision_section, _scenarios(run),
                Section("sensitivity", f"Which assumptions drive the {_long_name(ds, run.focus.output)}",
                        _sensitivity(run, decision, sobol_n) if sensitivity else
                        [Absent("Sensitivity was not computed for this report (--no-sensitivity); run `sim report` "
                                "without it, or `sim sensitivity`, for this section.")])]
    if "year" in ds[run.focus.output].dims:
        sections.append(_years(run))
    sections += [_convergence(run), _outputs(run), _assumptions(run), _reproduce(run)]
    subtitle = " ".join(experiment.description.split()) + \
        f" Run of {ds.attrs['created']}, sim {ds.attrs['sim_version']}."
    return Document(title=experiment.title or experiment.name, subtitle=subtitle.strip(), sections=sections)


def _headline_section(run: _Run) -> Section:
    out, threshold = run.focus.output, run.focus.threshold
    a = run.ds.attrs
    intro = (f"{run.experiment.title or run.experiment.name}: {int(a['samples']):,} Monte Carlo samples "
             f"({a['sampler']} sampler, seed {a['seed']}), {len(run.scenarios)} scenario(s) evaluated on common "
             f"random numbers. The report is about {out} ({run.units(out)})"
             + (f" against {threshold}" if threshold else "") + ".")
    blocks = [Text(intro)] + [Text(note) for note in run.focus.notes]
    if int(a["samples"]) > ESTIMATE_SAMPLES:
        blocks.append(Text(f"The figures of distributions and the acceptability curve, the rank correlations, the "
                           f"target region and EVPPI use the first {ESTIMATE_SAMPLES:,} of the {int(a['samples']):,} "
                           "samples; the headline, the tables of quantiles and probabilities, and the decision "
                           "measures use them all."))
    return Section("headline", "Headline", blocks + _headline(run.ds, run.summary, run.focus, run.scenarios))


def _distributions(run: _Run) -> Section:
    out, threshold, view, panels = run.focus.output, run.focus.threshold, run.first, run.focus.panels
    both = f" (solid) and {threshold} (dashed)" if threshold else ""
    blocks = [Plot("distributions", fg.distributions(view, out, run.colours, panels, threshold=threshold),
                   f"Distribution of {out}{both} per scenario{run.scope}."),
              Plot("exceedance", fg.exceedance_curves(view, out, run.colours, panels, threshold=threshold),
                   f"Exceedance curves: the probability that {out}{both.replace(' and ', ' or ')} is above each "
                   f"value{run.scope}.")]
    title = run.title(out) + (f" against {_long_name(run.ds, threshold)}" if threshold else "")
    return Section("distributions", title, blocks)


def _decision(run: _Run) -> tuple[xr.Dataset | None, Section]:
    out, threshold = run.focus.output, run.focus.threshold
    title = "Profitability and break-even"
    if not threshold:
        return None, Section("decision", title, [Absent(
            f"No profitability measures: model {run.experiment.model.name!r} compares {out} with no revenue, so "
            "there is no deploy-or-not decision to measure.")])
    view = run.view
    per = per_unit(run.units(out))
    decision = da.decide(view, cost=out, revenue=threshold, evppi_samples=ESTIMATE_SAMPLES)
    accept = da.acceptability(run.first, cost=out, revenue=threshold)
    blocks = [Text(f"Deploying earns {threshold} - {out} {per}. P(profitable) is the share of samples where that "
                   f"is positive; break-even is the {_long_name(run.ds, threshold)} at which the expected net benefit "
                   f"is zero (the expected cost); EVPI is what perfect knowledge of every prior would be worth, {per}"
                   + (" and per year" if "evpi_per_year" in decision else "") + "."),
              Plot("acceptability", fg.acceptability_curves(accept, decision["breakeven_revenue"], run.colours,
                                                            run.focus.panels),
                   f"Acceptability curve: P(profitable) if the {_long_name(run.ds, threshold)} were each value; "
                   f"dotted lines mark break-even{run.scope}."),
              Table("decision", _cells_frame(decision_frame(decision)),
                    f"Decision measures per cell{run.scope}, with 95 % Monte Carlo intervals.")]
    return decision, Section("decision", title, blocks)


def _scenarios(run: _Run) -> Section:
    base = run.scenarios[0]
    if len(run.scenarios) == 1:
        return Section("scenarios", "Scenario comparison", [Absent(
            f"Only one scenario ({base}): there is nothing to compare it with. Add [scenarios.NAME] tables to the "
            "experiment file to compare assumptions.")])
    blocks = [Text(f"Each scenario against {base}, on the same uniforms (common random numbers): the paired "
                   "difference is taken sample by sample, so it carries no extra sampling noise."),
              Table("scenarios", _comparison(run.ds, run.summary, run.focus, run.scenarios),
                    f"{run.focus.output} per scenario{run.scope}: quantiles, "
                    + ("P(profitable) with its 95 % interval, " if run.focus.threshold else "")
                    + f"and the change against {base}.")]
    return Section("scenarios", "Scenario comparison", blocks)


def _years(run: _Run) -> Section:
    out, threshold = run.focus.output, run.focus.threshold
    focus = dataclasses.replace(run.focus, fixed={d: v for d, v in run.focus.fixed.items() if d != "year"})
    rows = run.summary[run.summary["output"] == out]
    for dim, value in focus.fixed.items():
        rows = rows[_matches(rows[dim], value)]
    for dim, values in focus.kept.items():
        rows = rows[np.logical_or.reduce([_matches(rows[dim], v) for v in values])]
    cells = [c for c in run.ds[out].dims if c != "sample"]
    return Section("years", f"{run.title(out)} over the years", [
        Plot("fan", fg.fan_chart(focus.restrict(run.ds), out, run.colours, run.focus.panels, threshold=threshold),
             f"Median {out} per year with its 50 % and 90 % intervals"
             + (f"; dashed: median {threshold}" if threshold else "") + "."),
        Table("years", _cells_frame(rows[[*cells, "p05", "p50", "p95"]]),
              f"{out} per year: median and 90 % interval.")])


def _convergence(run: _Run) -> Section:
    out, first = run.focus.output, run.focus.panels[0]
    where = f" at {fg.panel_label(first)}" if first else ""
    return Section("convergence", "Monte Carlo convergence", [
        Text(f"How the estimates of {out}{where} settle as samples accumulate, with their 95 % Monte Carlo "
             "intervals. Bands that are narrow at the right-hand end mean more samples would not change the "
             "report's numbers."),
        Plot("convergence", fg.convergence_chart(run.view[out].sel(first).rename(out), run.colours),
             f"Running mean and 95th percentile of {out}{where} against the number of samples.")])


def _outputs(run: _Run) -> Section:
    summary = run.summary
    keep = np.ones(len(summary), bool)
    for dim, value in run.focus.fixed.items():
        keep &= (_matches(summary[dim], value) | summary[dim].isna()).to_numpy()
    shown = summary.loc[keep, [c for c in summary.columns if not c.endswith(("_ci_lower", "_ci_upper"))
                               and c not in ("sd", "p25", "p75")]]
    return Section("outputs", "All outputs", [
        Table("summary", _cells_frame(shown), f"Every output{run.scope}: mean with its standard error, and "
                                              "quantiles; summary.csv has every cell with its Monte Carlo intervals.")])


def _assumptions(run: _Run) -> Section:
    blocks = [Table("priors", _cells_frame(_priors_table(run.experiment)),
                    "Priors: distribution, point value (the article's), 90 % interval, unit and source. Highlighted "
                    "rows are a scenario's overrides.", highlight="override")]
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
        Table("run", _metadata(run.ds, run.out), "Run metadata.")])


def _sensitivity(run: _Run, decision, sobol_n: int) -> list:
    out, threshold, focus, view = run.focus.output, run.focus.threshold, run.focus, run.first
    if not sa.drawn_inputs(view):
        return [Absent("Every prior is fixed: nothing is uncertain, so nothing drives the spread.")]
    narrow = _narrow(run.experiment, focus)
    panels = [{"scenario": s, **p} for s in run.scenarios for p in focus.panels]
    blocks = []
    if len(panels) > MAX_PANELS:
        panels = panels[:len(focus.panels)]
        blocks.append(Text(f"The charts show scenario {run.scenarios[0]} ({len(focus.panels)} cells); the tables "
                           "cover every scenario."))
    low, high = 0.1, 0.9
    t = focus.restrict(sa.tornado(narrow, out, low=low, high=high))
    blocks += [Plot("tornado", fg.tornado_chart(t, panels, output_label=fg._axis_label(run.ds[out]), low=low,
                                                high=high),
                    f"Tornado: {out} with one prior at its 10th or 90th percentile and every other at its point "
                    f"value; the line is point mode{run.scope}."),
               Table("tornado", _cells_frame(_largest_first(sensitivity_frame({"tornado": t}), "tornado_swing",
                                                            t.dims)),
                     f"One-at-a-time swings of {out} ({run.units(out)}), largest first.")]

    if run.experiment.correlation is not None:
        blocks.append(Absent("No Sobol' indices: the priors are rank-correlated, and variance cannot be split among "
                             "dependent inputs. The rank correlations below hold for correlated priors."))
    else:
        s = focus.restrict(sa.sobol(narrow, out, n=sobol_n, seed=int(run.ds.attrs["seed"])))
        blocks += [Plot("sobol", fg.sobol_chart(s, panels),
                        f"Sobol' indices of {out}: the share of its variance due to each prior alone (first order) "
                        f"and with its interactions (total order), with 95 % bootstrap intervals ({sobol_n:,} base "
                        f"samples){run.scope}."),
                   Table("sobol", _cells_frame(sensitivity_frame({"sobol": s})), f"Sobol' indices of {out}{run.scope}.")]

    r = sa.rank_correlation(view, out)
    blocks += [Plot("rank", fg.rank_heatmap(r, [{"scenario": s, **p} for s in run.scenarios for p in focus.panels]),
                    f"Spearman rank correlation of each prior with {out}, per scenario and cell{run.scope}; priors "
                    "whose correlation is below 0.01 everywhere are left out."),
               Table("rank", _cells_frame(sensitivity_frame({"rank": r})), f"Rank correlations with {out}.")]

    if threshold:
        region = focus.restrict(sa.target_region(view, out, threshold, above=True))
        frame = _largest_first(sensitivity_frame({"target": region}), "region_ks_distance", region.dims, top=5)
        blocks += [Text(f"Target region: the samples where {out} exceeds {threshold}. For each prior, the median "
                        "inside the region minus the median outside, in the prior's standard deviations, and the "
                        "Kolmogorov-Smirnov distance between the two (0: no difference, 1: disjoint)."),
                   Table("target_region", _cells_frame(frame),
                         f"The five priors that most separate {out} > {threshold} from the rest, per cell.")]

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
