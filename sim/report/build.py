"""The scenario report of a run: what an output costs, against what it earns, how sure, and why.

:func:`build_report` turns the report's content (every number, computed by
:func:`sim.studies.content.report_content`) into a
:class:`~.document.Document` of sections of text, tables and figures; it
computes nothing and never runs the model. :mod:`.document` renders the
document as HTML and Markdown, and the store writes it.

The module is long because it holds every section of the report, each a few dozen lines of prose
and tables around the content's numbers; splitting them would scatter the report's wording.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from functools import partial

import pandas as pd
import xarray as xr

from ..analysis.summary import exceedance_name
from ..store import reproduce_command
from . import figures as fg
from .document import Absent, Document, Plot, Section, Table, Text
from .graph import graph_figure
from .format import per_unit, percent, quantity, verdict_sentence
from .tables import decision_frame, evppi_frame, sensitivity_frame, summary_table

__all__ = ["build_report", "prior_names"]


def _labels(ds: xr.Dataset, dim: str) -> list[str]:
    return [str(v) for v in ds[dim].values]


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


def _headline(summary, focus, scenarios) -> list:
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
                # worded as the verdict words it: the share, then its interval; none or all of the samples said too
                count = f"; none of the {n:,} samples" if p == 0 else f"; every one of the {n:,} samples" \
                    if p == 1 else ""
                text += (f" Against it, a median {_long_name(summary, threshold)} of "
                         f"{_amounts(summary, threshold, full)}). The {_long_name(summary, out)} exceeds the "
                         f"{_long_name(summary, threshold)} in {percent(p)} of samples (95 % Monte Carlo interval "
                         f"{percent(lo)} to {percent(hi)}{count}).")
            lead = ", ".join(str(v) for v in [s, *cell.values()]) + "."
            blocks.append(Text(text, lead=lead))
    return blocks


def _priors_table(experiment) -> pd.DataFrame:
    rows = []
    for name, prior in experiment.base_priors.items():
        versions = [("all", prior, False)] + [(s.name, s.priors[name], True) for s in experiment.scenarios
                                              if name in s.overrides]
        for scenario, p, override in versions:
            lo, hi = p.interval(0.9)
            rows.append({"prior": name, "scenario": scenario, "distribution": p.describe(), "point": p.point,
                         "p05": lo, "p95": hi, "unit": p.unit, "source": p.source or p.note or "none given",
                         "override": override})
    return pd.DataFrame(rows)


def _metadata(ds: xr.Dataset, out) -> pd.DataFrame:
    a = ds.attrs
    rows = [("experiment file", a["experiment_file"]), ("title", a.get("title", "")),
            ("model", f"{a['model']} ({a.get('model_source', 'sim')})"),
            ("scenarios", ", ".join(_labels(ds, "scenario"))), ("samples", f"{int(a['samples']):,}"),
            ("seed", str(a["seed"])), ("sampler", a["sampler"]),
            ("kept", "summaries only (streamed)" if a.get("mode") == "stream" else "every sample (samples.nc)"),
            ("priors files", a.get("priors_files", "")),
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


class _Run:
    """What every section reads: the report's content (its fields, as attributes), the scenarios' colours, and the
    readable names and units of its outputs."""

    def __init__(self, content, colours: dict):
        for f in dataclasses.fields(content):
            setattr(self, f.name, getattr(content, f.name))
        self.streamed = content.streamed
        self.colours = colours

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


def prior_names(experiment) -> dict[str, str]:
    """Each prior's readable name: its long name, or its name with spaces."""
    return {name: prior.long_name or name.replace("_", " ") for name, prior in experiment.base_priors.items()}


def build_report(content) -> Document:
    """The report of a run, as a document of sections, from its content
    (:class:`sim.studies.content.ReportContent`); nothing is computed here."""
    run = _Run(content, fg.palette(content.scenarios))
    summary, experiment = content.summary, content.experiment
    sections = [_verdict_section(run), _headline_section(run)]
    if run.evidence is not None:
        sections.append(_evidence(run))
    sections += [_distributions(run), _decision(run), _scenarios(run)]
    sections.append(Section("sensitivity", f"Which assumptions drive the {run.name(run.focus.output)}",
                            _sensitivity(run)))
    if "year" in summary[run.focus.output].dims:
        sections.append(_years(run))
    periods = experiment.report.periods
    if periods and periods in summary and "period" in summary[periods].dims:
        sections.append(_periods(run, periods))
    sections += [_convergence(run), _outputs(run), _assumptions(run), _reproduce(run)]
    subtitle = " ".join(experiment.description.split()) + \
        f" Run of {summary.attrs['created']}, sim {summary.attrs['sim_version']}."
    return Document(title=experiment.title or experiment.name, subtitle=subtitle.strip(), sections=sections)


def _verdict_section(run: _Run) -> Section:
    out, threshold = run.focus.output, run.focus.threshold
    if not threshold:
        return Section("verdict", "Verdict", [Text(
            f"The {run.name(out)} is not compared with a revenue (model {run.experiment.model.name!r} has no output "
            "with role revenue), so there is no deploy-or-not verdict; the headline gives its distribution.")])
    names = prior_names(run.experiment)
    blocks = [Text(verdict_sentence(v, names), lead=", ".join(str(x) for x in cell.values()) + ":")
              for cell, v in run.verdicts]
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
    if run.evidence is not None:
        intro = (f"{run.experiment.title or run.experiment.name}: the posterior of the priors given "
                 f"{len(run.evidence.checks['observation'])} observed figure(s) (see Evidence), {int(a['samples']):,} "
                 f"rows resampled from a run of {int(run.evidence.record.get('samples_of_run', 0)):,} samples "
                 f"({a['sampler']} sampler, seed {a['seed']}), {len(run.scenarios)} scenario(s) evaluated on common "
                 f"random numbers. The rows are worth {float(a['effective_samples']):,.0f} independent samples, and "
                 f"the Monte Carlo intervals are theirs. The report is about the {run.name(out)} ({run.units(out)})"
                 + (f" against the {run.name(threshold)}" if threshold else "") + ".")
    blocks = [Text(intro)] + [Text(note) for note in run.focus.notes]
    if not run.streamed and int(a["samples"]) > run.estimate_samples:
        blocks.append(Text(f"The figures of distributions and the acceptability curve, the rank correlations, the "
                           f"target region and EVPPI use the first {run.estimate_samples:,} of the "
                           f"{int(a['samples']):,} samples; the headline, the tables of quantiles and probabilities, "
                           "and the decision measures use them all."))
    return Section("headline", "Headline", blocks + _headline(run.summary, run.focus, run.scenarios))


def _distributions(run: _Run) -> Section:
    out, threshold = run.focus.output, run.focus.threshold
    title = run.title(out) + (f" against the {run.name(threshold)}" if threshold else "")
    if run.streamed:
        return Section("distributions", title, [run.no_samples("Figures of the distributions")])
    view, panels, same = run.samples, run.focus.panels, run.shared_threshold
    both = f" (solid) and the {run.name(threshold)} (dashed)" if threshold else ""
    note = (f" The {run.name(threshold)} is the same in every scenario, so it is drawn once, in grey."
            if same else "")
    blocks = [Plot("distributions", partial(fg.distributions, view, out, run.colours, panels, threshold=threshold,
                                                     shared_threshold=same),
                   f"Distribution of the {run.name(out)}{both} per scenario{run.scope}.{note}"),
              Plot("exceedance", partial(fg.exceedance_curves, view, out, run.colours, panels, threshold=threshold,
                                                      shared_threshold=same),
                   f"Exceedance curves: the probability that the {run.name(out)}{both.replace(' and ', ' or ')} is "
                   f"above each value{run.scope}.{note}")]
    return Section("distributions", title, blocks)


def _decision(run: _Run) -> Section:
    out, threshold = run.focus.output, run.focus.threshold
    title = "Profitability and break-even"
    if not threshold:
        return Section("decision", title, [Absent(
            f"No profitability measures: model {run.experiment.model.name!r} compares the {run.name(out)} with no "
            "revenue, so there is no deploy-or-not decision to measure.")])
    if run.streamed:
        return Section("decision", title, [run.no_samples("Break-even, EVPI and the acceptability curve")])
    decision, per = run.decision, per_unit(run.units(out))
    blocks = [Text(f"Deploying earns the {run.name(threshold)} minus the {run.name(out)}, {per}. P(profitable) is the "
                   f"share of samples where that is positive; break-even is the {run.name(threshold)} at which the "
                   f"expected net benefit is zero (the expected cost); EVPI is what perfect knowledge of every prior "
                   f"would be worth, {per}" + (" and per year" if "evpi_per_year" in decision else "") + "."),
              Plot("acceptability", partial(fg.acceptability_curves, run.acceptability, decision["breakeven_revenue"],
                                                            run.colours, run.focus.panels, actual=run.revenue_median),
                   f"Acceptability curve: P(profitable) if the {run.name(threshold)} were each value; dotted lines "
                   f"mark break-even, solid vertical lines the model's median {run.name(threshold)}{run.scope}."),
              Table("decision", _cells_frame(decision_frame(decision)),
                    f"Decision measures per cell{run.scope}, with 95 % Monte Carlo intervals.",
                    units={k: decision[k].attrs.get("units", "") if k in decision else run.units(out)
                           for k in ("expected_net_benefit", "breakeven_revenue", "cost_p05", "cost_p95", "evpi",
                                     "evpi_per_year")})]
    return Section("decision", title, blocks)


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
              Table("scenarios", run.comparison,
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
        Plot("fan", partial(fg.fan_chart, summary, out, run.colours, run.focus.panels, threshold=threshold),
             f"Median {run.name(out)} per year with its 50 % and 90 % intervals"
             + (f"; dashed: median {run.name(threshold)}" if threshold else "") + "."),
        Table("years", _cells_frame(table[[*cells, "p05", "p50", "p95"]]),
              f"The {run.name(out)} per year: median and 90 % interval.")])


def _periods(run: _Run, name: str) -> Section:
    """The output the experiment draws over its periods (``[report] periods``): a fan chart and its table."""
    summary = run.summary.sel({d: [v] for d, v in run.focus.fixed.items() if d in run.summary[name].dims})
    table = summary_table(summary[[name, f"{name}_ci"]])
    cells = [c for c in summary[name].dims if c != "stat"]
    panels = [{d: v for d, v in p.items() if d in summary[name].dims} for p in run.focus.panels]
    panels = list({tuple(p.items()): p for p in panels}.values())
    unit = summary["period"].attrs.get("units", "period")
    return Section("periods", f"{run.title(name)} over the {unit}s", [
        Plot("periods", partial(fg.fan_chart, summary, name, run.colours, panels, dim="period"),
             f"Median {run.name(name)} per {unit} with its 50 % and 90 % intervals; where it crosses 0 the "
             "purchase is paid back."),
        Table("periods", _cells_frame(table[[*cells, "p05", "p50", "p95"]]),
              f"The {run.name(name)} per {unit}: median and 90 % interval.")])


def _convergence(run: _Run) -> Section:
    out, threshold = run.focus.output, run.focus.threshold
    if run.streamed:
        return Section("convergence", "Monte Carlo convergence", [run.no_samples("Convergence charts")])
    cell, estimates = run.convergence
    panel = {d: v for d, v in cell.items() if d != "scenario"}
    where = f" at {fg.panel_label(panel)}" if panel else ""
    colours = {cell["scenario"]: run.colours[cell["scenario"]]}
    why = (f"the cell whose decision is closest to a coin toss ({cell['scenario']}"
           f"{', ' + fg.panel_label(panel) if panel else ''})" if run.decision is not None
           else f"scenario {cell['scenario']}")
    return Section("convergence", "Monte Carlo convergence", [
        Text(f"How the estimates settle as samples accumulate, in {why}, with their 95 % Monte Carlo intervals. Bands "
             "that are narrow at the right-hand end mean more samples would not change the report's numbers."),
        Plot("convergence", partial(fg.convergence_chart, estimates, colours),
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


def _graph_shares(run: _Run) -> tuple[dict | None, str]:
    """Each prior's first-order Sobol' index of the focus output in the first panel of the sensitivity charts (the
    share of its variance due to that prior alone), and the caption's words for it; none without Sobol' indices."""
    drivers = run.drivers
    if drivers is None or drivers.sobol is None or not drivers.panels:
        return None, ("Priors are not coloured: the report has no Sobol' indices"
                      + (" (--no-sensitivity)." if not run.sensitivity else "."))
    panel = drivers.panels[0]
    first = drivers.sobol["first_order"].sel({d: v for d, v in panel.items() if d in drivers.sobol.dims})
    shares = {str(k): max(float(v), 0.0) for k, v in zip(first["input"].values, first.values)}
    where = fg.panel_label(panel)
    return shares, (f"Each drawn prior is filled by its first-order Sobol' index of the {run.name(run.focus.output)} "
                    f"({where}): the share of its variance due to that prior alone (see Sensitivity).")


def _assumptions(run: _Run) -> Section:
    drawn = run.drawn
    blocks = []
    if run.graph is not None:
        shares, said = _graph_shares(run)
        how = "from the formulas" if run.graph.how == "formulas" else ("found by evaluating the model with each "
                                                                        "prior moved alone: an arrow from a prior to "
                                                                        "every output it reaches")
        blocks.append(Plot("model_graph", partial(graph_figure, run.graph, shares, focus=run.focus.output,
                                                  share_label="first-order Sobol' index"),
                           f"What each output reads ({how}). Priors on the left (dashed: fixed), outputs to the right "
                           f"of what they read; the cost is bordered in vermillion, the revenue in green. {said}"))
    if drawn:
        blocks.append(Plot("assumptions", partial(fg.prior_densities, run.experiment, drawn, run.colours),
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


def _sensitivity(run: _Run) -> list:
    out, focus, drivers = run.focus.output, run.focus, run.drivers
    if not run.sensitivity:
        return [Absent("Sensitivity was not computed for this report (--no-sensitivity); run `sim report` without it, "
                       "or `sim sensitivity`, for this section.")]
    if not run.drawn:
        return [Absent("Every prior is fixed: nothing is uncertain, so nothing drives the spread.")]
    panels = drivers.panels
    blocks = []
    if len(panels) < len(run.scenarios) * len(focus.panels):
        blocks.append(Text(f"The charts show scenario {run.scenarios[0]} ({len(focus.panels)} cells); the tables "
                           "cover every scenario."))
    if drivers.tornado is None:  # a posterior's
        blocks.append(Absent("No tornado or Sobol' indices: they evaluate the model again with each prior drawn on "
                             "its own, while the evidence has made the posterior's priors dependent. The rank "
                             "correlations, the target region and EVPPI below read the posterior's own samples."))
        return blocks + _sample_drivers(run)
    t, low, high = drivers.tornado, drivers.low, drivers.high
    blocks += [Plot("tornado", partial(fg.tornado_chart, t, panels, output_label=fg.axis_label(run.summary[out]), low=low,
                                                high=high),
                    f"Tornado: the {run.name(out)} with one prior at its 10th or 90th percentile and every other at "
                    f"its point value; the line is point mode{run.scope}."),
               Table("tornado", _cells_frame(_largest_first(sensitivity_frame({"tornado": t}), "tornado_swing",
                                                            t.dims)),
                     f"One-at-a-time swings of the {run.name(out)} ({run.units(out)}), largest first.")]

    if drivers.spider is not None:
        blocks.append(Plot("spider", partial(fg.spider_chart, drivers.spider, panels,
                                             output_label=fg.axis_label(run.summary[out])),
                           f"Spider: the {run.name(out)} as each prior moves through its 5th to 95th percentiles, "
                           f"every other at its point value (the dashed line){run.scope}; the six priors of widest "
                           "range. A steep line is a prior the output is sensitive to; a curved one acts "
                           "non-linearly."))
    if drivers.sobol is None:
        blocks.append(Absent("No Sobol' indices: the priors are rank-correlated, and variance cannot be split among "
                             "dependent inputs. The rank correlations below hold for correlated priors."))
    else:
        s = drivers.sobol
        blocks += [Plot("sobol", partial(fg.sobol_chart, s, panels),
                        f"Sobol' indices of the {run.name(out)}: the share of its variance due to each prior alone "
                        f"(first order) and with its interactions (total order), with 95 % bootstrap intervals "
                        f"({drivers.sobol_n:,} base samples){run.scope}."),
                   Table("sobol", _cells_frame(sensitivity_frame({"sobol": s})),
                         f"Sobol' indices of the {run.name(out)}{run.scope}.")]
    return blocks + _sample_drivers(run)


def _sample_drivers(run: _Run) -> list:
    """The drivers read from the run's samples: rank correlations, the target region and EVPPI."""
    out, threshold, focus, drivers = run.focus.output, run.focus.threshold, run.focus, run.drivers
    panels, blocks = drivers.panels, []
    if run.streamed:
        blocks.append(run.no_samples("Rank correlations, the target region and EVPPI"))
        return blocks
    r = drivers.rank
    blocks += [Plot("rank", partial(fg.rank_heatmap, r, [{"scenario": s, **p} for s in run.scenarios for p in focus.panels]),
                    f"Spearman rank correlation of each prior with the {run.name(out)}, per scenario and "
                    f"cell{run.scope}; priors whose correlation is below 0.01 everywhere are left out."),
               Table("rank", _cells_frame(sensitivity_frame({"rank": r})),
                     f"Rank correlations with the {run.name(out)}.")]

    cell = run.convergence[0] if run.convergence else panels[0]  # the cell closest to a coin toss, where there is one
    ranked = (drivers.rank_net_benefit if threshold else r).sel({d: v for d, v in cell.items() if d in r.dims})
    top = fg.ranked_inputs(ranked, 4)
    if top:
        what = f"the net benefit (the {run.name(threshold)} minus the {run.name(out)})" if threshold else \
            f"the {run.name(out)}"
        hinge = " (the cell whose decision is closest to a coin toss)" if threshold else ""
        shown = min(2000, run.samples.sizes["sample"])
        blocks.append(Plot("scatter", partial(fg.scatter_drivers, run.samples, out, threshold, top, cell),
                           f"Scatter of {what} against the {len(top)} priors most rank-correlated with it, in "
                           f"{fg.panel_label(cell)}{hinge}, first {shown:,} samples"
                           + (": above the line (break-even) deploying gains, below it loses." if threshold else ".")))
    if threshold:
        rn, region = drivers.rank_net_benefit, drivers.target
        blocks += [Text(f"The revenue side: rank correlation of each prior with the net benefit (the "
                        f"{run.name(threshold)} minus the {run.name(out)}), so that priors that drive the revenue "
                        "show as well as those that drive the cost."),
                   Table("rank_net_benefit", _cells_frame(_largest_first(sensitivity_frame({"rank": rn}),
                                                                         "rank_correlation", rn.dims, top=8)),
                         "Rank correlations with the net benefit, largest first (at most eight per cell).")]
        frame = _largest_first(sensitivity_frame({"target": region}), "region_ks_distance", region.dims, top=5)
        blocks += [Text(f"Target region: the samples where the {run.name(out)} exceeds the {run.name(threshold)}. "
                        "For each prior, the median inside the region minus the median outside, in the prior's "
                        "standard deviations, and the Kolmogorov-Smirnov distance between the two (0: no difference, "
                        "1: disjoint)."),
                   Table("target_region", _cells_frame(frame),
                         f"The five priors that most separate {run.name(out)} above {run.name(threshold)} from the "
                         "rest, per cell.")]

    decision = run.decision
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
        blocks += [Plot("evppi", partial(fg.evppi_chart, evppi, informative, units=units),
                        f"Expected value of partial perfect information per prior ({units}){run.scope}."),
                   Table("evppi", _cells_frame(_largest_first(evppi_frame(decision), "evppi", evppi.dims, top=5)),
                         "The five most valuable priors to learn, per cell (cells where every EVPPI is 0 left out).")]
    return blocks


def _evidence(run: _Run) -> Section:
    """What the observed figures changed: each against its prior and posterior predictive, the priors they moved,
    and the verdict before and after."""
    e, out, threshold = run.evidence, run.focus.output, run.focus.threshold
    record = e.record
    how = ("importance sampling of the run's samples (Pareto-smoothed weights)" if record.get("method") == "importance"
           else "sequential Monte Carlo (the likelihood tempered in stages, each resampled and moved by fresh "
                "evaluations of the model)")
    conflicts = [str(n) for n in e.checks["observation"].values[e.checks["conflict"].values]]
    blocks = [Text(f"The priors were conditioned on {len(e.checks['observation'])} observed figure(s) by {how}: an "
                   f"effective sample size of {float(record.get('effective_samples', 0)):,.0f}, Pareto k "
                   f"{float(record.get('pareto_k', float('nan'))):.2f} (above 0.7 the importance weights are not "
                   "trusted and sequential Monte Carlo takes over).")]
    if conflicts:
        blocks.append(Text(f"Prior-data conflict: {', '.join(conflicts)} lie(s) outside the prior predictive 99.9 % "
                           "range. The posterior leans on the observation there; check the figure and its unit, or "
                           "widen the priors it informs.", lead="Warning:"))
    blocks += [Plot("evidence", partial(fg.predictive_chart, e.checks),
                    "Each observed figure (diamond) against the prior predictive (grey) and posterior predictive "
                    "(colour) distributions of what it measures: medians and 90 % intervals."),
               Table("evidence", _observations_frame(e.checks),
                     "Observations: the figure, the prior and posterior predictive median and 90 % interval, its "
                     "PIT value under the prior predictive (the share of prior predictive draws below it) and "
                     "whether it conflicts with the priors.")]
    if e.moved:
        names = prior_names(run.experiment)
        blocks.append(Plot("moved", partial(fg.prior_posterior, e.prior, e.posterior, e.moved),
                           "The priors the evidence moved (Kolmogorov-Smirnov distance of 0.1 or more): "
                           f"{', '.join(names.get(n, n) for n in e.moved)}, before (grey) and after (colour)."))
    else:
        blocks.append(Text("No prior moved by a Kolmogorov-Smirnov distance of 0.1 or more: the figures agree with "
                           "what was assumed, or are too loose to say more."))
    if e.verdict is not None:
        blocks.append(Table("evidence_verdict", _verdict_frame(e.verdict),
                            f"The verdict before and after the evidence: P({run.name(out)} > {run.name(threshold)}) "
                            f"and the expected net benefit ({run.units(out)}) per cell{run.scope}."))
    return Section("evidence", "Evidence", blocks)


def _observations_frame(checks: xr.Dataset) -> pd.DataFrame:
    frame = checks.to_dataframe().reset_index()
    return frame[["observation", "variable", "observed", "prior_p05", "prior_p50", "prior_p95", "posterior_p05",
                  "posterior_p50", "posterior_p95", "pit", "conflict"]]


def _verdict_frame(verdict: xr.Dataset) -> pd.DataFrame:
    """Per cell: P(loss) and the expected net benefit before and after, side by side."""
    arrays = {f"{name}_{when}": verdict[name].sel(evidence=when, drop=True)
              for name in ("p_loss", "net_benefit") for when in ("before", "after")}
    frame = xr.Dataset(arrays).reset_coords(drop=True).to_dataframe().reset_index()
    return frame[[c for c in frame.columns if c != "index"]]


def _largest_first(frame: pd.DataFrame, column: str, dims, top: int | None = None) -> pd.DataFrame:
    """Rows sorted by cell, then by ``|column|`` largest first; at most ``top`` per cell; zero rows dropped."""
    cells = [c for c in frame.columns if c in dims and c != "input"]
    frame = frame[frame[column].abs() > 0]
    order = frame.assign(_key=frame[column].abs()).sort_values([*cells, "_key"], ascending=[True] * len(cells) + [False],
                                                               kind="stable").drop(columns="_key")
    return order.groupby(cells, sort=False).head(top) if top and cells else order.head(top) if top else order
