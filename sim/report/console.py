"""What each command prints: its results as plain-text tables for a terminal.

Each function takes a command's result (and the tables :mod:`.tables`
makes of it) and returns the text to print; the command line prints it. The
rows shown are chosen here: compared outputs first, rows of exact zeros
folded, long tables cut at :data:`MAX_ROWS` unless every row is asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.summary import exceedances
from .format import format_table
from .tables import importance_order, point_frame

__all__ = ["MAX_ROWS", "summary_view", "sensitivity_view", "decision_view", "point_view", "check_view", "models_view",
           "saved_run_source", "calibration_view", "fit_view"]

#: Most rows a console table shows without ``--all``.
MAX_ROWS = 60


def _rows(show_all: bool) -> int | None:
    return None if show_all else MAX_ROWS


def summary_view(table: pd.DataFrame, summary, show_all: bool = False) -> str:
    """The summary table of a run: compared outputs first, estimates without their intervals, rows of exact
    zeros folded, long sweeps cut (``summary.csv`` has every row and interval)."""
    compared = [summary[v].attrs[k] for v in exceedances(summary) for k in ("output", "threshold")]
    shown = table[[c for c in table.columns if not c.endswith(("_ci_lower", "_ci_upper"))
                   and c not in ("se_mean", "sd", "p25", "p75")]]
    shown = shown.rename(columns=lambda c: f"P(> {c[5:]})" if c.startswith("p_gt_") else c)
    return format_table(importance_order(shown, dict.fromkeys(compared)), max_rows=_rows(show_all),
                        more="summary.csv has every row; --all prints them", fold_zeros=not show_all)


def saved_run_source(path: str | Path, attrs, posterior: bool = False) -> str:
    """``from the saved run <path> (<n> samples, sampler <s>, seed <seed>)``: what an analysis was made from; of a
    posterior, its rows and effective samples."""
    if posterior:
        return (f"from the posterior {path} ({int(attrs['samples']):,} rows, {float(attrs['effective_samples']):,.0f} "
                f"effective samples)")
    return (f"from the saved run {path} ({int(attrs['samples']):,} samples, sampler {attrs['sampler']}, "
            f"seed {attrs['seed']})")


def sensitivity_view(experiment, result, files: dict, source: str, show_all: bool = False) -> str:
    """``sim sensitivity``'s report of a :class:`~sim.studies.suite.SensitivityResult`: what was computed and from
    what, its table (largest first within each cell), what was skipped and the notes."""
    opts = result.options
    lines = [f"{experiment.title or experiment.name}: sensitivity of {opts.output} {source}; methods "
             f"{', '.join(result.results)}"]
    if result.evaluations:
        lines.append(f"evaluations of the model beyond the run ({result.drawn} drawn priors, the run's seed): "
                     f"{'; '.join(result.evaluations)}")
    if opts.note:
        lines.append(opts.note)
    if "sensitivity.csv" in files:
        table = files["sensitivity.csv"]
    else:  # the spider alone: its table is the one to show
        spider = files["spider.csv"]
        cells = [c for c in spider.columns if c not in ("percentile", "value")]
        table = spider.assign(value_range=spider.groupby(cells)["value"].transform(lambda v: v.max() - v.min()))
    order = next((c for c in ("tornado_swing", "value_range") if c in table), table.columns[-1])
    cells = [c for c in table.columns if c in result.cells]
    shown = table.assign(_key=table[order].abs()).sort_values([*cells, "_key"], ascending=[True] * len(cells) + [False],
                                                              kind="stable")
    shown = shown.drop(columns=["_key"] + [c for c in shown.columns if c.endswith(("_ci_lower", "_ci_upper"))])
    lines.append(format_table(shown, max_rows=_rows(show_all),
                              more=f"{next(iter(files))} has every row; --all prints them"))
    lines += [f"skipped {note}" for note in opts.skipped]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def decision_view(experiment, result, files: dict, source: str, show_all: bool = False) -> str:
    """``sim decide``'s report of a :class:`~sim.studies.suite.DecisionResult`: the decision measures, the largest
    EVPPI per cell, and the stress test and goal seek when asked for."""
    opts, d, n = result.options, result.measures, result.samples
    table, evppi = files["decision.csv"], files["evppi.csv"]
    title = experiment.title or experiment.name
    lines = [f"{title}: deploy (net benefit {opts.revenue} - {opts.cost}) or not, {source}",
             format_table(table[[c for c in table.columns if not c.endswith(("_ci_lower", "_ci_upper"))]],
                          max_rows=_rows(show_all), more="decision.csv has every row; --all prints them"),
             "\nExpected value of partial perfect information (largest first):",
             format_table(evppi.groupby([c for c in evppi.columns if c in d.dims and c != "input"]).head(5),
                          max_rows=_rows(show_all), more="evppi.csv has every row")]
    if opts.stress:
        prior, lo, hi = opts.stress
        lines += [f"\nStress: {prior} in its {100 * lo:g}th to {100 * hi:g}th percentiles against its whole range "
                  f"({opts.cost}; 2 runs of {n:,} samples, the saved run's seed and sampler):",
                  format_table(files["stress.csv"])]
    if opts.seek:
        r = result.seek
        lines.append(f"\nGoal seek: {r.message} ({r.runs} runs of {n:,} samples, the saved run's seed and sampler)")
    if "periods.csv" in files:
        lines += ["\nThe outputs that sum up the periods (p_below_0: the share of samples below 0, so P(NPV < 0) of a "
                  "net present value):",
                  format_table(files["periods.csv"], max_rows=_rows(show_all), more="periods.csv has every row")]
    return "\n".join(lines)


def point_view(experiment, ds) -> str:
    """``sim point``: every output of point mode, one row per cell."""
    return (f"{experiment.title or experiment.name}: point mode (every prior at its point value)\n"
            + format_table(point_frame(ds)))


def check_view(table: pd.DataFrame) -> str:
    """``sim check``: point mode beside the article's figures, and how many are within their tolerance."""
    shown = table.assign(ok=["ok" if ok else "FAIL" for ok in table["ok"]])
    failed = int((~table["ok"]).sum())
    return f"{format_table(shown)}\n\n{len(table) - failed} of {len(table)} figures reproduced within tolerance"


def models_view(models, units: list[dict] | None = None) -> str:
    """``sim models``: each model's inputs, constants and outputs with their units and roles.

    ``models`` is a list of ``(model, where)``: ``where`` follows the model's
    source (the experiment it was read from, or nothing). ``units`` gives,
    per model, its inputs' units (an experiment's priors and sweeps give
    them; a model alone takes whatever units its priors bring).
    """
    blocks = []
    for (m, where), given in zip(models, units or [None] * len(models)):
        if given:
            inputs = ", ".join(f"{n} ({given[n]})" if given.get(n) not in (None, "") else n for n in m.inputs)
        else:
            inputs = ", ".join(m.inputs) + " (units from the priors)"
        lines = [f"{m.name}: {m.description} [{m.source}]{where}", f"  inputs: {inputs}"]
        if m.constants:
            lines.append("  constants: " + ", ".join(f"{k} = {float(c):g} {c.units}" for k, c in m.constants.items()))
        width = max(len(n) for n in m.outputs)
        for name, out in m.outputs.items():
            role = f"  role: {out.role}" if out.role else ""
            lines.append(f"  {name:<{width}}  {out.units:<20} {out.long_name}{role}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def calibration_view(experiment, result, files: dict, source: str, show_all: bool = False) -> str:
    """``sim calibrate``'s report of a :class:`~sim.studies.calibrate.CalibrationResult`: how the posterior was made,
    each observation against its prior and posterior predictive, and where the priors that moved and the outputs
    stand now (the warnings are printed apart, as warnings)."""
    title = experiment.title or experiment.name
    lines = [f"{title}: calibrated to {len(result.observations)} observation(s) {source}", *result.notes,
             "\nObservations against their prior and posterior predictive (median and 90 % interval):"]
    obs = files["observations.csv"]
    shown = obs[["observation", "variable", "observed", "unit", "prior_p05", "prior_p50", "prior_p95",
                 "posterior_p05", "posterior_p50", "posterior_p95", "pit", "conflict"]]
    lines.append(format_table(shown, max_rows=_rows(show_all), more="observations.csv has every row"))
    table = files["posterior.csv"]
    observed = {o.variable for o in result.observations}
    compared = {name for name, da in result.shift.data_vars.items() if da.attrs.get("role") in ("cost", "revenue")}
    rows = table[table["variable"].isin(set(result.moved) | observed | compared)]
    lines += [f"\nPriors the evidence moved ({', '.join(result.moved) or 'none'}), what was observed, and the cost "
              "and revenue, before and after:",
              format_table(rows.drop(columns=["ess"]), max_rows=_rows(show_all),
                           more="posterior.csv has every row; --all prints them")]
    return "\n".join(lines)


def fit_view(result) -> str:
    """``sim fit``: the candidate families ranked (for data), and the prior as a priors file gives it."""
    lines = []
    if result.fits:
        lines += [f"{len(result.data):,} values; families by AIC (lowest first), with BIC, the Kolmogorov-Smirnov "
                  "distance and the Anderson-Darling test's p-value (small: the family does not fit):",
                  format_table(result.table()), ""]
    return "\n".join(lines + [result.priors_text().rstrip()])


#: How ``sim serving`` names each metric, with its unit.
SERVING_LABELS = {"output_tokens_per_second": "output tokens/s of the group",
                  "output_tokens_per_second_chip": "output tokens/s per chip",
                  "tokens_per_second_user": "tokens/s per user",
                  "time_to_first_token": "time to first token, s",
                  "cost_per_mtoken_output": "USD per million output tokens (full load)",
                  "energy_per_mtoken_output": "Wh per million output tokens (chips)"}


def serving_view(result, priors: str) -> str:
    """``sim serving MODEL ACCELERATOR``: the configuration, then each metric's point, median and 90 % interval."""
    row = result.table.iloc[0]
    experiment = result.experiment
    frame = result.metrics.xs(result.metrics.index.get_level_values("case")[0], level="case")
    frame = frame.rename(index=SERVING_LABELS).rename_axis("metric").reset_index()
    layout = (f"tensor {row['tensor_parallel']}, expert {row['expert_parallel']}, pipeline {row['pipeline_parallel']}"
              + (", attention data parallel" if str(row["attention_data_parallel"]) in ("1", "1.0") else ""))
    head = (f"{row['model']} on {row['chips']:g} x {row['accelerator']} ({layout}), {row['precision']}, "
            f"{float(row['input_tokens']):,.0f} input and {float(row['output_tokens']):,.0f} output tokens per request")
    source = f"serving priors {priors}: {experiment.samples:,} samples, seed {experiment.seed}"
    return "\n".join([head, source, "", format_table(frame)])


def serving_cases_view(result, show_all: bool = False) -> str:
    """``sim serving --cases``: each row's prediction (the worst first where measured), then the summary."""
    table = result.table
    measured = "ratio" in table and table["ratio"].notna().any()
    users = "user_ratio" in table and table["user_ratio"].notna().any()
    if users and not measured:  # a table of speeds one user sees
        columns = {"case": "case", "user_median": "tokens/s per user", "user_p05": "p05", "user_p95": "p95",
                   "measured_tokens_per_second_user": "measured", "user_ratio": "ratio", "user_covered": "covered"}
        ratio = table["user_ratio"]
    else:
        columns = {"case": "case", "predicted_median": "output tokens/s", "predicted_p05": "p05",
                   "predicted_p95": "p95"}
        if measured:
            columns |= {"measured_output_tokens_per_second": "measured", "ratio": "ratio", "covered": "covered"}
        ratio = table["ratio"] if measured else None
    if ratio is not None:
        order = np.abs(np.log(ratio.astype(float))).fillna(-1.0)
        table = table.loc[order.sort_values(ascending=False, kind="stable").index]
    shown = table[list(columns)].rename(columns=columns)
    lines = [format_table(shown, max_rows=None if show_all else 20, more="serving.csv has every row; --all prints "
                                                                         "them")]
    s = result.summary()
    if s["rows"]:
        lines += ["", f"{s['rows']} measured rows: {s['within_1_5x']:.0%} within 1.5x of the measurement (worst "
                      f"{s['worst']:.2f}x); geometric mean of predicted over measured {s['geomean_dense']:.2f} "
                      f"(dense), {s['geomean_moe']:.2f} (mixture of experts); 90 % intervals cover "
                      f"{s['covered']:.0%} of the measurements"]
    return "\n".join(lines)
