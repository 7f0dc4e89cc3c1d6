"""Tables at the edge: the labelled results of each command as rows and columns (pandas DataFrames).

Each table is a view of a result: it adds no number. The files each command
writes (:func:`run_files`, :func:`sensitivity_files`, :func:`decision_files`)
are these tables and the results' Datasets, by file name; the store writes
them.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import xarray as xr

from ..analysis.summary import DEFAULT_QUANTILES, exceedances, output_names, summarize_run
from ..store import CHECKS, POSTERIOR

__all__ = ["summary_table", "summary_frame", "point_frame", "importance_order", "merge_frames", "sensitivity_frame",
           "decision_frame", "evppi_frame", "stress_frame", "goal_seek_frame", "spider_frame", "sensitivity_files",
           "decision_files", "posterior_frame", "observations_frame", "stages_frame", "calibration_files"]


def _long(da: xr.DataArray, value: str) -> pd.DataFrame:
    """A DataArray as rows, one column per dim (sorted dims first), plus ``value``."""
    frame = da.to_dataframe(name=value).reset_index()
    return frame[[c for c in frame.columns if c in da.dims or c == value]]


def summary_table(summary: xr.Dataset) -> pd.DataFrame:
    """The labelled summary as a table: one row per output and cell, estimates with their Monte Carlo intervals.

    Columns: ``output``, ``units``, ``scenario``, then the outputs' other
    dims (empty where an output lacks the dim), the statistics (``mean``,
    ``se_mean``, ``sd``, ``p05`` ...), then ``<stat>_ci_lower`` and
    ``<stat>_ci_upper`` for the mean and each quantile, and per comparison of
    a cost with a revenue ``p_gt_<revenue>`` with its interval (filled on the
    rows of the cost). A view of ``summary``: it adds no number.
    """
    stats = [str(s) for s in summary["stat"].values]
    ci_stats = [s for s, q in zip(stats, summary["quantile"].values) if s == "mean" or q == q]
    ci_cols = [f"{s}_ci_{b}" for s in ci_stats for b in ("lower", "upper")]
    rows = []
    for name in output_names(summary):
        da = summary[name].drop_vars("quantile")
        wide = da.to_dataset("stat").to_dataframe().reset_index()
        cells = [d for d in da.dims if d != "stat"]
        wide = wide[[c for c in wide.columns if c in cells or c in stats]]
        # the rows of ``wide`` run over the cells in C order of ``cells``: so do the intervals, transposed alike
        ci = summary[f"{name}_ci"].sel(stat=ci_stats, ci_bound=["lower", "upper"])
        wide[ci_cols] = ci.transpose(*cells, "stat", "ci_bound").values.reshape(-1, len(ci_cols))
        wide.insert(0, "output", name)
        wide.insert(1, "units", summary[name].attrs.get("units", ""))
        rows.append(wide)
    frame = pd.concat(rows, ignore_index=True)
    dims = [c for c in frame.columns if c not in ("output", "units", *stats, *ci_cols)]
    dims = [d for d in ("scenario",) if d in dims] + [d for d in dims if d != "scenario"]
    by_column: dict[str, list[pd.DataFrame]] = {}
    for var in exceedances(summary):
        output, threshold = summary[var].attrs["output"], summary[var].attrs["threshold"]
        col = f"p_gt_{threshold}"
        p = _long(summary[var], col)
        bounds = summary[f"{var}_ci"]
        for bound in ("lower", "upper"):
            p[f"{col}_ci_{bound}"] = _long(bounds.sel(ci_bound=bound, drop=True), "v")["v"].values
        by_column.setdefault(col, []).append(p.assign(output=output))
    p_cols = []
    for col, parts in by_column.items():
        p = pd.concat(parts, ignore_index=True)
        frame = frame.merge(p, on=["output", *[d for d in dims if d in p.columns]], how="left")
        p_cols += [col, f"{col}_ci_lower", f"{col}_ci_upper"]
    return frame[["output", "units", *dims, *stats, *ci_cols, *p_cols]]


def summary_frame(ds: xr.Dataset, *, quantiles=DEFAULT_QUANTILES, probability: float = 0.95) -> pd.DataFrame:
    """:func:`summary_table` of run ``ds``'s labelled summary."""
    return summary_table(summarize_run(ds, quantiles=quantiles, probability=probability))


def point_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Point-mode outputs as rows: output, units, coordinates, value."""
    rows = []
    for name in output_names(ds):
        frame = _long(ds[name], "value")
        frame.insert(0, "output", name)
        frame.insert(1, "units", ds[name].attrs.get("units", ""))
        rows.append(frame)
    frame = pd.concat(rows, ignore_index=True)
    dims = [c for c in frame.columns if c not in ("output", "units", "value")]
    return frame[["output", "units", *dims, "value"]]


def importance_order(table: pd.DataFrame, first=()) -> pd.DataFrame:
    """``table``'s rows with those of the outputs in ``first`` (the compared cost and revenue) ahead, else in order."""
    rank = {name: i for i, name in enumerate(first)}
    key = table["output"].map(lambda name: rank.get(name, len(rank)))
    return table.assign(_key=key.to_numpy()).sort_values("_key", kind="stable").drop(columns="_key")


def merge_frames(arrays: dict[str, xr.DataArray]) -> pd.DataFrame:
    """DataArrays with cell dims as one long table, merged on their shared dims (outer join)."""
    frame = None
    for name, da in arrays.items():
        part = _long(da, name)
        if frame is None:
            frame = part
        else:
            keys = [c for c in part.columns if c in frame.columns and c != name]
            frame = frame.merge(part, on=keys, how="outer") if keys else frame.merge(part, how="cross")
    return frame


def sensitivity_frame(results: dict) -> pd.DataFrame:
    """One row per cell and input with every sensitivity measure computed (the keys of ``results``)."""
    arrays = {}
    if "rank" in results:
        arrays["rank_correlation"] = results["rank"]
    if "given" in results:
        arrays["first_order_given"] = results["given"]
    if "sobol" in results:
        s = results["sobol"]
        arrays["first_order"] = s["first_order"]
        arrays["first_order_ci_lower"] = s["first_order_ci"].sel(ci_bound="lower", drop=True)
        arrays["first_order_ci_upper"] = s["first_order_ci"].sel(ci_bound="upper", drop=True)
        arrays["total_order"] = s["total_order"]
        arrays["total_order_ci_lower"] = s["total_order_ci"].sel(ci_bound="lower", drop=True)
        arrays["total_order_ci_upper"] = s["total_order_ci"].sel(ci_bound="upper", drop=True)
    if "tornado" in results:
        t = results["tornado"]
        arrays.update({"tornado_low": t["low"], "tornado_high": t["high"], "tornado_swing": t["swing"]})
    if "target" in results:
        arrays["region_median_shift"] = results["target"]["median_shift"]
        arrays["region_ks_distance"] = results["target"]["ks_distance"]
    return merge_frames(arrays)


def decision_frame(d: xr.Dataset) -> pd.DataFrame:
    """Per cell: expected net benefit, P(profitable), break-even revenue and EVPI, with intervals."""
    arrays = {}
    for name in ("expected_net_benefit", "p_profitable", "breakeven_revenue"):
        arrays[name] = d[name]
        arrays[f"{name}_ci_lower"] = d[f"{name}_ci"].sel(ci_bound="lower", drop=True)
        arrays[f"{name}_ci_upper"] = d[f"{name}_ci"].sel(ci_bound="upper", drop=True)
    arrays["cost_p05"] = d["breakeven_revenue_range"].sel(ci_bound="lower", drop=True)
    arrays["cost_p95"] = d["breakeven_revenue_range"].sel(ci_bound="upper", drop=True)
    arrays["deploy"] = d["deploy"]
    arrays["evpi"] = d["evpi"]
    if "evpi_per_year" in d:
        arrays["evpi_per_year"] = d["evpi_per_year"]
    return merge_frames(arrays)


def evppi_frame(d: xr.Dataset) -> pd.DataFrame:
    """Per cell and input: EVPPI (per unit and, with a volume, per year), largest first within each cell."""
    arrays = {"evppi": d["evppi"]}
    if "evppi_per_year" in d:
        arrays["evppi_per_year"] = d["evppi_per_year"]
    frame = merge_frames(arrays)
    cells = [c for c in frame.columns if c not in ("input", *arrays)]
    return frame.sort_values([*cells, "evppi"], ascending=[True] * len(cells) + [False], kind="stable")


def stress_frame(stress: xr.Dataset, cost: str) -> pd.DataFrame:
    """A stress test (:func:`sim.studies.decision.stress`): the cost's mean and quantiles and P(profitable), per
    case (``all``, ``band``) and cell."""
    return merge_frames({c: stress[cost].sel(stat=c, drop=True) for c in ("mean", "p05", "p50", "p95")}
                        | {"p_profitable": stress["p_profitable"]})


def goal_seek_frame(result) -> pd.DataFrame:
    """A goal seek (:class:`sim.studies.decision.GoalSeekResult`) as one row, its bracket in two columns each."""
    fields = {k: v for k, v in dataclasses.asdict(result).items() if k not in ("bracket", "at_bracket")}
    return pd.DataFrame([fields | {"bracket_low": result.bracket[0], "bracket_high": result.bracket[1],
                                   "at_bracket_low": result.at_bracket[0], "at_bracket_high": result.at_bracket[1]}])


def spider_frame(spider: xr.Dataset) -> pd.DataFrame:
    """A spider (:func:`sim.studies.sensitivity.one_at_a_time`): the output per input and percentile."""
    return merge_frames({"value": spider["value"]})


def sensitivity_files(result) -> dict:
    """The files of ``sim sensitivity`` (:class:`sim.studies.suite.SensitivityResult`) by name: ``sensitivity.csv``
    (every measure but the spider, one row per cell and input), ``spider.csv`` and ``sensitivity.nc``."""
    files = {}
    if set(result.results) - {"spider"}:
        files["sensitivity.csv"] = sensitivity_frame(result.results)
    if "spider" in result.results:
        files["spider.csv"] = spider_frame(result.results["spider"])
    files["sensitivity.nc"] = result.dataset
    return files


def periods_frame(periods: xr.Dataset) -> pd.DataFrame:
    """The outputs that sum up a cash flow's periods, one row per output and cell: units and statistics."""
    rows = []
    for name, da in periods.data_vars.items():
        frame = da.to_dataset(dim="stat").to_dataframe().reset_index()
        frame = frame[[c for c in frame.columns if c in da.dims or c in da["stat"].values]]
        frame.insert(0, "units", da.attrs.get("units", ""))
        frame.insert(0, "output", name)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def decision_files(result) -> dict:
    """The files of ``sim decide`` (:class:`sim.studies.suite.DecisionResult`) by name: ``decision.csv``,
    ``evppi.csv``, ``acceptability.csv``, with a stress test ``stress.csv``, with a goal seek ``goal_seek.csv``,
    for a cash flow over periods ``periods.csv``, and ``decision.nc``."""
    files = {"decision.csv": decision_frame(result.measures), "evppi.csv": evppi_frame(result.measures),
             "acceptability.csv": merge_frames({"p_profitable": result.acceptability})}
    if result.stress is not None:
        files["stress.csv"] = stress_frame(result.stress, result.options.cost)
    if result.seek is not None:
        files["goal_seek.csv"] = goal_seek_frame(result.seek)
    if getattr(result, "periods", None) is not None:
        files["periods.csv"] = periods_frame(result.periods)
    files["decision.nc"] = result.measures
    return files


def posterior_frame(result) -> pd.DataFrame:
    """Per prior the run draws and per output (and cell): where it stood and where the evidence moved it
    (``posterior.csv``): ``variable``, ``kind`` (prior or output), ``units``, the cells, ``prior_median``,
    ``posterior_mean``, ``posterior_median``, ``posterior_p05``, ``posterior_p95`` and ``ess``."""
    rows = []
    for name, da in result.shift.data_vars.items():
        if da.ndim > 1:
            wide = da.to_dataset("stat").to_dataframe().reset_index()
            wide = wide[[c for c in wide.columns if c in da.dims or c in da["stat"].values]]
        else:  # a prior no scenario changes: one row
            wide = pd.DataFrame([dict(zip(da["stat"].values, da.values))])
        wide.insert(0, "variable", name)
        wide.insert(1, "kind", "prior" if da.attrs.get("role") == "input" else "output")
        wide.insert(2, "units", da.attrs.get("units", ""))
        rows.append(wide)
    frame = pd.concat(rows, ignore_index=True)
    stats = list(result.shift["stat"].values)
    cells = [c for c in frame.columns if c not in ("variable", "kind", "units", *stats)]
    frame["ess"] = result.ess
    return frame[["variable", "kind", "units", *cells, *stats, "ess"]]


def observations_frame(result) -> pd.DataFrame:
    """Per observation (``observations.csv``): the figure, its likelihood and source, its prior and posterior
    predictive median and 90 % interval, its PIT value under the prior predictive and the conflict flag."""
    frame = result.checks.to_dataframe().reset_index()
    by_name = {o.name: o for o in result.observations}
    frame.insert(2, "unit", [by_name[n].unit for n in frame["observation"]])
    frame.insert(3, "likelihood", [by_name[n].describe() for n in frame["observation"]])
    frame["source"] = [by_name[n].source for n in frame["observation"]]
    return frame


def stages_frame(result) -> pd.DataFrame:
    """The sequential Monte Carlo stages, one row each (:class:`sim.studies.calibrate.Stage`)."""
    return pd.DataFrame([dataclasses.asdict(s) for s in result.stages])


def calibration_files(result) -> dict:
    """The files of ``sim calibrate`` (:class:`sim.studies.calibrate.CalibrationResult`) by name: ``posterior.nc``
    (the posterior run), ``posterior.csv``, ``observations.csv``, ``observations.nc`` (the predictive checks, which
    the report reads) and, for the sequential Monte Carlo sampler, ``stages.csv``."""
    files = {POSTERIOR: result.posterior, "posterior.csv": posterior_frame(result),
             "observations.csv": observations_frame(result), CHECKS: result.checks}
    if result.stages:
        files["stages.csv"] = stages_frame(result)
    return files
