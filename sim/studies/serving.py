"""Serving configurations (``sim serving``): one layout, or a table of cases set against measurements.

Each configuration is a row: a model and an accelerator of the catalogues, a
precision, the layout (tensor, expert and pipeline parallelism, attention data
parallelism) and the request's input and output tokens. The rows become the
cases of an experiment of the ``serving`` model on the serving priors (by
default the calibrated ones), which is run once: every case gets the point
value (priors at their points), the median and the 90 % interval of each
output. Where a row gives a measured throughput, the result says whether the
interval covers it and the ratio of the median to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import _checks as check
from ..engine import point, run
from ..errors import ConfigError
from ..experiment import Experiment, experiment_from_table

__all__ = ["serving", "ServingResult", "check_cases", "MEASURED", "METRICS", "DEFAULT_PRIORS", "LAYOUT"]

#: The column of a measured total output throughput (tokens per second of the whole group), and of a measured
#: speed one user sees.
MEASURED = "measured_output_tokens_per_second"
MEASURED_USER = "measured_tokens_per_second_user"
#: Columns each row needs, and those it may give (with their default).
REQUIRED = ("model", "accelerator", "tensor_parallel", "precision", "input_tokens", "output_tokens")
LAYOUT = {"expert_parallel": 1, "pipeline_parallel": 1, "attention_data_parallel": 0}
OPTIONAL = ("expert_parallel", "pipeline_parallel", "attention_data_parallel", "draft_tokens", "acceptance_rate",
            "prefix_cache_hit_rate", "synchronised_arrivals", "max_batch", "price_per_chip_hour", "case", MEASURED,
            MEASURED_USER)
#: Optional columns that are shares, from 0 to 1.
SHARES = ("acceptance_rate", "prefix_cache_hit_rate", "synchronised_arrivals")
#: The outputs a configuration is described by, in the order they are shown.
METRICS = ("output_tokens_per_second", "output_tokens_per_second_chip", "tokens_per_second_user",
           "time_to_first_token", "cost_per_mtoken_output", "energy_per_mtoken_output")
DEFAULT_PRIORS = "priors/serving_calibrated_2026.toml"
DEFAULT_CONFIGURATION = "priors/serving_configuration.toml"
SEED = 20261204
#: The 90 % interval's quantiles.
LOW, HIGH = 0.05, 0.95


@dataclass(frozen=True)
class ServingResult:
    """What ``sim serving`` computed.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per case: the row's columns, then ``predicted_point``,
        ``predicted_median``, ``predicted_p05`` and ``predicted_p95`` of the
        total output throughput and, where measured, ``ratio`` (median over
        measured) and ``covered`` (the 90 % interval holds the measurement);
        then the median of every other metric.
    metrics : pandas.DataFrame
        Point, median, p05 and p95 of each metric (rows) for each case (a
        column level).
    experiment : Experiment
        The experiment the cases were run as.
    """

    table: pd.DataFrame
    metrics: pd.DataFrame
    experiment: Experiment

    def summary(self) -> dict:
        """Over the measured rows: their number, the share within 1.5x, the geometric mean of predicted over
        measured for dense and MoE models, the share of 90 % intervals covering the measurement."""
        measured = self.table[self.table["ratio"].notna()] if "ratio" in self.table else self.table.iloc[:0]
        if measured.empty:
            return {"rows": 0}
        ratio = measured["ratio"].astype(float)
        out = {"rows": len(measured), "within_1_5x": float(((ratio <= 1.5) & (ratio >= 1 / 1.5)).mean()),
               "covered": float(measured["covered"].astype(bool).mean()),
               "worst": float(np.exp(np.abs(np.log(ratio)).max()))}
        for kind in ("dense", "moe"):
            part = ratio[measured["architecture"] == kind]
            out[f"geomean_{kind}"] = float(np.exp(np.log(part).mean())) if len(part) else math.nan
        return out


def _number(file: str, row: int, column: str, text: str, *, integer: bool = False, low: float = 0.0,
            flag: bool = False, share: bool = False) -> float:
    where = f"row {row}"
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError(file, where, f"{column} must be a number, got {text!r}") from None
    if flag and value not in (0.0, 1.0):
        raise ConfigError(file, where, f"{column} must be 0 or 1, got {text!r}")
    if share and not 0.0 <= value <= 1.0:
        raise ConfigError(file, where, f"{column} must be a share from 0 to 1, got {text!r}")
    if not math.isfinite(value) or value < low or (integer and value != int(value)):
        what = "a whole number" if integer else "a number"
        raise ConfigError(file, where, f"{column} must be {what} of at least {low:g}, got {text!r}")
    return value


def check_cases(rows: list[dict], file: str) -> list[dict]:
    """The rows of a cases table, checked: the columns each needs, numbers where numbers go, a layout that
    divides (expert parallelism within the chips of a stage). Rows are numbered as in a CSV file (the header is
    row 1). Returns the rows with the layout's defaults filled in, as text."""
    if not rows:
        raise ConfigError(file, "", "has no cases")
    known = set(REQUIRED) | set(OPTIONAL)
    unknown = [c for c in rows[0] if c not in known and c != "source" and c != "note"]
    if unknown:
        raise ConfigError(file, unknown[0], f"unknown column; {check.choices(unknown[0], [*REQUIRED, *OPTIONAL, 'source'])}")
    missing = [c for c in REQUIRED if c not in rows[0]]
    if missing:
        raise ConfigError(file, missing[0], f"missing column; every case needs {', '.join(REQUIRED)}")
    out = []
    for i, row in enumerate(rows):
        n = i + 2
        row = {k: str(v).strip() for k, v in row.items()}
        for column, default in LAYOUT.items():
            row.setdefault(column, str(default))
        tp = _number(file, n, "tensor_parallel", row["tensor_parallel"], integer=True, low=1)
        ep = _number(file, n, "expert_parallel", row["expert_parallel"], integer=True, low=1)
        _number(file, n, "pipeline_parallel", row["pipeline_parallel"], integer=True, low=1)
        _number(file, n, "attention_data_parallel", row["attention_data_parallel"], flag=True)
        if tp % ep:
            raise ConfigError(file, f"row {n}", f"expert_parallel ({ep:g}) must divide tensor_parallel ({tp:g}): "
                                                f"the experts are spread over the chips of a stage")
        for column in ("input_tokens", "output_tokens"):
            _number(file, n, column, row[column], low=1)
        for column in (MEASURED, MEASURED_USER):
            if row.get(column):
                _number(file, n, column, row[column], low=1e-9)
        for column in SHARES:
            if row.get(column):
                _number(file, n, column, row[column], share=True)
        out.append(row)
    return out


def _experiment(rows: list[dict], file: str, priors: str, configuration: str, catalogues: str, samples: int,
                seed: int) -> Experiment:
    cases = [{k: v for k, v in r.items() if k not in (MEASURED, MEASURED_USER, "source", "note")} for r in rows]
    table = {"title": f"Serving configurations ({file})", "model": "serving",
             "priors": [str(Path(priors).resolve()), str(Path(configuration).resolve())], "samples": samples,
             "seed": seed,
             "sweep": {"case": cases, "catalogues": str(Path(catalogues).resolve())}}
    return experiment_from_table(table, Path(file))  # named after the file of cases, which errors name


def _predicted(table: pd.DataFrame, block: pd.DataFrame, prefix: str, stats: tuple, measured_column: str,
               ratio: str, covered: str) -> None:
    """Columns ``prefix + stat`` of a metric's block in ``table``; where ``measured_column`` gives a measurement,
    the ratio of the median to it and whether the 90 % interval covers it."""
    for stat in stats:
        table[prefix + stat] = block[stat].values
    if measured_column in table:
        measured = pd.to_numeric(table[measured_column], errors="coerce")
        table[ratio] = table[prefix + "median"] / measured
        table[covered] = ((table[prefix + "p05"] <= measured) & (measured <= table[prefix + "p95"])).where(
            measured.notna())


def serving(rows: list[dict], *, file: str = "serving", priors: str = DEFAULT_PRIORS,
            configuration: str = DEFAULT_CONFIGURATION, catalogues: str = "priors/catalogues", samples: int = 2000,
            seed: int = SEED) -> ServingResult:
    """Evaluate serving configurations (``sim serving``).

    Parameters
    ----------
    rows : list of dict
        One configuration each, columns as :data:`REQUIRED` and
        :data:`OPTIONAL` name them (text or numbers); ``file`` names them in
        errors (``row N`` as in a CSV file).
    priors, configuration, catalogues : str
        The serving priors file (the engine's efficiencies), the file of a
        configuration's defaults (what a row leaves out) and the catalogues.
    samples, seed : int
        The Monte Carlo run's size and seed (same seed, same numbers).

    Raises
    ------
    ConfigError
        One line naming the row: an unknown model or accelerator, a layout
        that does not divide, or weights and one request's KV cache that do
        not fit in the chips' memory at the priors' point values.
    """
    rows = check_cases(rows, file)
    experiment = _experiment(rows, file, priors, configuration, catalogues, samples, seed)
    at_point = point(experiment).isel(scenario=0)
    labels = [str(c) for c in at_point["case"].values]
    for i, fits in enumerate(at_point["memory_fits"].values):
        if not fits:
            weights = float(at_point["weight_bytes_per_chip"].values[i]) / 1e9
            memory = float(at_point["accelerator_memory_bytes"].values[i]) / 1e9
            r = rows[i]
            raise ConfigError(file, f"row {i + 2}", f"{r['model']} at {r['precision']} on {r['tensor_parallel']} x "
                                                    f"{r['accelerator']} (pipeline {r['pipeline_parallel']}) does not "
                                                    f"fit: {weights:,.1f} GB of weights per chip of {memory:,.1f} GB "
                                                    f"leave no room for one request's KV cache; use more chips or a "
                                                    f"narrower precision")
    ds = run(experiment).isel(scenario=0)
    blocks = {}
    for metric in METRICS:
        values = ds[metric].transpose("case", "sample").values
        blocks[metric] = pd.DataFrame({"point": at_point[metric].values,
                                       "median": np.median(values, axis=1),
                                       "p05": np.quantile(values, LOW, axis=1),
                                       "p95": np.quantile(values, HIGH, axis=1)}, index=labels)
    metrics = pd.concat(blocks, names=["metric", "case"])
    table = pd.DataFrame(rows)
    if "case" not in table:
        table.insert(0, "case", labels)
    table["architecture"] = np.where(at_point["experts"].values > 0, "moe", "dense")
    _predicted(table, blocks["output_tokens_per_second"], "predicted_", ("point", "median", "p05", "p95"), MEASURED,
               "ratio", "covered")
    _predicted(table, blocks["tokens_per_second_user"], "user_", ("median", "p05", "p95"), MEASURED_USER,
               "user_ratio", "user_covered")
    for metric in METRICS[1:]:
        if metric != "tokens_per_second_user":
            table[f"{metric}_median"] = blocks[metric]["median"].values
    table["chips"] = at_point["chips"].values
    return ServingResult(table=table, metrics=metrics, experiment=experiment)
