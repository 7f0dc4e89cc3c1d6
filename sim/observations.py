"""Observations: figures seen in the world that a model's outputs or priors should agree with, read from files.

An observations file holds one table per observed figure::

    [observations.reported_cost]
    output = "cost_per_task"            # an output of the experiment's model, or: prior = "<a prior>"
    select = { scenario = "baseline" }  # optional: the cell observed, by any of the run's coordinates
    value = 12
    likelihood = "lognormal"            # normal (sd in the unit), lognormal (sd of the log), interval (low, high)
    sd = 0.3
    unit = "USD/task"                   # converted to the variable's unit where the kind agrees
    source = "where the figure comes from"

An ``interval`` takes ``low``, ``high`` or both ("at least 200": ``low =
200``); with an ``sd`` (of the log, for positive bounds) its edges are soft:
the likelihood is the chance that the value, times a lognormal error of that
sd, lies inside. A sampler can temper a soft edge; a hard one it cannot.

Many observations of one quantity come from a CSV file instead of ``value``
(``csv = "prices.csv"``): one row per observation, a ``value`` column, an
optional ``sd`` column, and a column per coordinate that selects its cell. A
table of other purposes serves too: ``value_column`` names the column that holds
the figure (rows where it is blank are skipped), and ``select_columns`` the
columns that select the cell (the rest are not read).

Each :class:`Observation` gives the log-likelihood of the variable's values
(:meth:`Observation.loglik`); :mod:`sim.studies.calibrate` weighs a run's
samples by it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import special, stats

from . import _checks as check
from ._checks import fmt
from ._files import read_csv, read_toml
from .errors import ConfigError, Location
from .experiment import Experiment

__all__ = ["Observation", "load_observations", "LIKELIHOODS"]

#: Likelihoods and the keys each needs besides the observed value.
LIKELIHOODS = {"normal": ("value", "sd"), "lognormal": ("value", "sd"), "interval": ()}
FIGURE_KEYS = ("value", "sd", "low", "high")
TABLE_KEYS = ("output", "prior", "select", "value", "csv", "value_column", "select_columns", "likelihood", "sd", "low",
              "high", "unit", "source", "note")
FILE_KEYS = ("title", "description", "observations")


@dataclass(frozen=True)
class Observation:
    """One observed figure of an output or a prior, with its likelihood.

    Attributes
    ----------
    name : str
        The observation's name (``reported_cost``; ``prices[3]`` for row 3 of a CSV file).
    variable, kind : str
        What is observed: an output or a prior of the experiment (``kind``).
    select : tuple of (str, str)
        The cell observed: (dim, label as text) pairs.
    likelihood : str
        ``normal``, ``lognormal`` or ``interval``.
    value, sd, low, high : float or None
        In the variable's units (``sd`` of a lognormal is of the log, unitless).
    unit, source : str
        The unit the figure was given in, and where it comes from.
    """

    name: str
    variable: str
    kind: str
    select: tuple[tuple[str, str], ...]
    likelihood: str
    value: float | None
    sd: float | None
    low: float | None
    high: float | None
    unit: str
    source: str
    location: Location = field(default=Location(""), compare=False)

    def loglik(self, x) -> np.ndarray:
        """Log-likelihood of the observation given the variable's values ``x`` (same shape as ``x``)."""
        x = np.asarray(x, dtype=float)
        if self.likelihood == "normal":
            return stats.norm.logpdf(self.value, loc=x, scale=self.sd)
        if self.likelihood == "lognormal":
            return stats.norm.logpdf(math.log(self.value), loc=_log(x), scale=self.sd)
        if self.sd is None:
            return np.where((self.low <= x) & (x <= self.high), 0.0, -np.inf)
        # soft edges: log P(low <= x e^(sd z) <= high) = log (Phi(b) - Phi(a)), z standard normal, in logs throughout
        # (far outside an edge the chance is tiny, not 0: a sampler tempers it)
        log_x = _log(x)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            a = (_log(self.low) - log_x) / self.sd if self.low > 0 else np.full_like(log_x, -np.inf)
            b = (_log(self.high) - log_x) / self.sd if math.isfinite(self.high) else np.full_like(log_x, np.inf)
            upper = a > 0  # both edges above the value: Phi(-a) - Phi(-b) keeps the digits
            hi, lo = np.where(upper, -a, b), np.where(upper, -b, a)
            log_hi = special.log_ndtr(hi)
            inside = log_hi + np.log1p(-np.exp(special.log_ndtr(lo) - log_hi))
        # a value of 0 or below: inside an interval with no lower edge, outside one with a positive lower edge
        return np.where(np.isfinite(log_x), inside, 0.0 if math.isinf(self.low) else -np.inf)

    def draws(self, x, rng: np.random.Generator) -> np.ndarray:
        """Observations drawn from the likelihood around values ``x`` (a predictive distribution's draws)."""
        x = np.asarray(x, dtype=float)
        if self.likelihood == "normal":
            return x + self.sd * rng.standard_normal(x.shape)
        if self.likelihood == "lognormal" or self.sd is not None:
            return x * np.exp(self.sd * rng.standard_normal(x.shape))
        return x  # a hard interval is exact: the figure lies in it or not

    @property
    def observed(self) -> float:
        """The figure as one number: the value, an interval's midpoint, or a one-sided interval's bound."""
        if self.likelihood != "interval":
            return self.value
        if math.isinf(self.low) or math.isinf(self.high):
            return self.high if math.isinf(self.low) else self.low
        return (self.low + self.high) / 2

    def describe(self) -> str:
        """``12 USD/task (lognormal, sd of the log 0.3)``: the figure as given."""
        if self.likelihood == "interval":
            soft = f", edges soft by an sd of the log of {fmt(self.sd)}" if self.sd is not None else ""
            if math.isinf(self.high):
                return f"at least {fmt(self.low)} (interval{soft})"
            if math.isinf(self.low):
                return f"at most {fmt(self.high)} (interval{soft})"
            return f"[{fmt(self.low)}, {fmt(self.high)}] (interval{soft})"
        spread = f"sd of the log {fmt(self.sd)}" if self.likelihood == "lognormal" else f"sd {fmt(self.sd)}"
        return f"{fmt(self.value)} ({self.likelihood}, {spread})"


def _log(x) -> np.ndarray:
    """The log of ``x``, -inf where it is not positive."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)


def _variable(experiment: Experiment, table: dict, at: Location) -> tuple[str, str, str]:
    """(name, kind, unit) of what a table observes: ``output = ...`` or ``prior = ...``."""
    given = [k for k in ("output", "prior") if k in table]
    if len(given) != 1:
        check.fail(at, "give what is observed: output = \"<an output>\" or prior = \"<a prior>\"")
    kind = given[0]
    name = check.string(table[kind], at.at(kind))
    names = list(experiment.model.outputs) if kind == "output" else list(experiment.base_priors)
    if name not in names:
        check.fail(at.at(kind), f"no {kind} {name!r} in experiment {experiment.path}; {check.choices(name, names)}")
    unit = experiment.model.outputs[name].units if kind == "output" else experiment.base_priors[name].unit
    return name, kind, unit


def _select(value, at: Location) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        check.fail(at, f"must be a table of dim = value, such as {{ scenario = \"baseline\" }}, got {value!r}")
    out = []
    for dim, label in value.items():
        if isinstance(label, bool) or not isinstance(label, (str, int)):
            check.fail(at.at(dim), f"must be a coordinate's value (text or an integer), got {label!r}")
        out.append((dim, str(label)))
    return tuple(out)


def _converted(unit: str, variable_unit: str, variable: str, at: Location) -> float:
    """The factor that turns a figure in ``unit`` into the variable's unit; refused for another kind."""
    from .units import factor, parse

    parse(unit, file=at.file, key=at.key)
    scale = factor(unit, variable_unit)
    if scale is None:
        check.fail(at, f"{unit!r} is not a unit of the kind of {variable}'s {variable_unit!r}; give the figure in "
                       f"{variable_unit!r} or a unit of its kind")
    return scale


def _figure(table: dict, likelihood: str, scale: float, at: Location, row: dict | None = None) -> dict:
    """The likelihood's numbers, checked and in the variable's units (``row`` of a CSV file takes precedence)."""
    given = {**table, **(row or {})}
    source = {k: v for k, v in given.items() if not (isinstance(v, float) and math.isnan(v))}  # a blank CSV cell
    out = {"value": None, "sd": None, "low": None, "high": None}
    if likelihood == "interval":
        if source.get("low") is None and source.get("high") is None:
            check.fail(at, "an interval needs low, high or both (\"at least 200\": low = 200)")
        low = check.number(source["low"], at.at("low")) * scale if source.get("low") is not None else -math.inf
        high = check.number(source["high"], at.at("high")) * scale if source.get("high") is not None else math.inf
        if not low < high:
            check.fail(at.at("high"), f"must be above low ({fmt(low)}), got {fmt(high)}")
        if source.get("sd") is not None:
            out["sd"] = check.number(source["sd"], at.at("sd"), positive=True)
            if not (low > 0 or (math.isinf(low) and high > 0)):
                check.fail(at.at("sd"), "soft edges (sd of the log) need positive bounds; leave sd out for a hard "
                                        "interval")
        out["low"], out["high"] = low, high
        return out
    value = check.number(source["value"], at.at("value"))
    sd = check.number(source["sd"], at.at("sd"), positive=True)
    if likelihood == "lognormal" and not value > 0:
        check.fail(at.at("value"), f"a lognormal observation needs a value above 0, got {fmt(value)}")
    out["value"] = value * scale
    out["sd"] = sd if likelihood == "lognormal" else sd * scale  # the sd of the log has no unit
    return out


def _rows(path: Path, at: Location, value_column: str = "value") -> list[dict]:
    """A CSV file's rows, the value (``value_column``), ``sd``, ``low`` and ``high`` columns read as numbers."""
    try:
        return read_csv(path, "CSV file of observations", numbers=(value_column, "sd", "low", "high"))
    except ConfigError as exc:  # named at the observation that reads it
        raise at.error(f"{exc.file}{' ' + exc.key if exc.key else ''}: {exc.message}") from None


def _parse(experiment: Experiment, name: str, table, at: Location, folder: Path) -> list[Observation]:
    if not isinstance(table, dict):
        check.fail(at, f"must be a table of the observation's keys, got {table!r}")
    check.keys(table, TABLE_KEYS, at)
    check.name(name, at)
    variable, kind, variable_unit = _variable(experiment, table, at)
    likelihood = table.get("likelihood")
    if likelihood not in LIKELIHOODS:
        check.fail(at.at("likelihood"), f"{'missing' if likelihood is None else f'unknown likelihood {likelihood!r}'}; "
                                        f"{check.choices(likelihood, LIKELIHOODS)}")
    unit = check.string(table.get("unit", variable_unit), at.at("unit"))
    scale = _converted(unit, variable_unit, variable, at.at("unit"))
    source = check.string(table.get("source", ""), at.at("source"))
    if not source and not table.get("note"):
        check.fail(at, "needs a 'source' saying where the figure comes from")
    select = _select(table.get("select", {}), at.at("select"))
    needed = LIKELIHOODS[likelihood]
    common = dict(variable=variable, kind=kind, likelihood=likelihood, unit=unit, source=source)
    if "csv" not in table:
        for key in needed:
            if key not in table:
                check.fail(at.at(key), f"missing; a {likelihood} observation needs {' and '.join(needed)}")
        return [Observation(name=name, select=select, location=at, **common,
                            **_figure(table, likelihood, scale, at))]
    if "value" in table:
        check.fail(at.at("value"), "give the figure as value, or the file of figures as csv, not both")
    path = Path(os.path.normpath(folder / check.string(table["csv"], at.at("csv"))))
    value_column = check.string(table.get("value_column", "value"), at.at("value_column"))
    chosen = table.get("select_columns")
    if chosen is not None and not (isinstance(chosen, list) and all(isinstance(c, str) for c in chosen)):
        check.fail(at.at("select_columns"), f"must be a list of column names, got {chosen!r}")
    renamed = value_column != "value"
    out = []
    for i, row in enumerate(_rows(path, at.at("csv"), value_column)):
        here = Location(str(path), f"row {i + 2}")
        for column in [*([value_column] if renamed else []), *(chosen or [])]:
            if column not in row:
                check.fail(at.at("csv"), f"{path} has no {column} column; its columns: {', '.join(row)}")
        if renamed and math.isnan(row[value_column]):
            continue  # a table of other purposes: this row has no such figure
        labels = {k: v for k, v in row.items()
                  if k not in FIGURE_KEYS and k != value_column and (chosen is None or k in chosen)}
        row = {k: row[k] for k in FIGURE_KEYS if k in row} | ({"value": row[value_column]} if renamed else {})
        cells = dict(select) | labels
        missing = [k for k in needed if k not in row and k not in table]
        if missing:
            check.fail(at.at("csv"), f"{path} needs a {missing[0]} column (or {missing[0]} in the table)")
        out.append(Observation(name=f"{name}[{i}]", select=tuple(cells.items()), location=here, **common,
                               **_figure({k: table[k] for k in FIGURE_KEYS if k in table}, likelihood, scale, here,
                                         row)))
    return out


def load_observations(experiment: Experiment, *paths: str | os.PathLike) -> tuple[Observation, ...]:
    """Read and validate observations files against ``experiment``'s outputs, priors and units.

    Raises
    ------
    ConfigError
        With the file and key of the first problem: an unknown output or
        prior, a unit of another kind, a non-positive sd, a value the
        likelihood cannot take, a missing source.
    """
    out: list[Observation] = []
    for path in paths:
        file = Location(str(path))
        data = read_toml(path, "observations file")
        check.keys(data, FILE_KEYS, file, "top-level key")
        tables = data.get("observations")
        if not isinstance(tables, dict) or not tables:
            check.fail(file.at("observations"), "missing or empty; define observations as [observations.NAME] tables")
        for name, table in tables.items():
            found = _parse(experiment, name, table, file.at("observations", name), Path(path).parent)
            taken = {o.name for o in out} & {o.name for o in found}
            if taken:
                raise ConfigError(str(path), f"observations.{name}", f"{sorted(taken)[0]!r} is observed in two files; "
                                                                     "give each observation its own name")
            out += found
    return tuple(out)
