"""Experiment files: which model, which priors, how many samples, and scenarios.

An experiment file::

    title = "Cost of LLM-powered search"
    model = "search"
    priors = ["../priors/seed_2023.toml"]   # relative to this file
    samples = 100_000
    seed = 20230201
    sampler = "random"                      # random | lhs | sobol

    [scenarios.baseline]
    description = "The article's assumptions."

    [scenarios.cheaper_api]
    description = "..."
    set = { price_usd_per_mtoken = 2.0 }               # pin a prior to a value
    [scenarios.cheaper_api.priors.hit_rate]            # or replace its distribution
    dist = "uniform"
    low = 0.3
    high = 0.6

A scenario may also name priors ``files`` whose priors replace the
experiment's for that scenario. Overrides apply in the order files,
``priors`` tables, ``set``. Every scenario samples from the same uniforms
(common random numbers), so differences between scenarios carry no extra
sampling noise.

``model`` names one of sim's models or an installed package's, a module
(``"package.module:name"``), a Python file (``{ file = "my_model.py", name =
"agent_task" }``), or is a table of formulas (``[model.outputs.NAME]``, see
:mod:`sim.models.formula`). Each model is checked against the units of the
priors it reads when the experiment is loaded (:func:`sim.units.check_model`).

The module is long because an experiment file has many tables (model, priors, scenarios, sweeps,
correlations, precision, report), each validated here with its own messages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import xarray as xr

from . import _checks as check
from ._files import read_csv, read_toml, record_read, recording_reads
from .catalogue import case_inputs, sweep_inputs
from .errors import ConfigError, Location
from .models import Model, choose, load_reference
from .models.formula import formula_model
from .priors import Prior, load_priors_file, parse_correlations, pinned, priors_hash, read_prior
from .sampling import SAMPLERS, RankCorrelation, rank_correlation

__all__ = ["Scenario", "Experiment", "load_experiment", "experiment_from_table", "with_settings", "with_overrides",
           "as_run", "run_overrides",
           "subject"]

EXPERIMENT_KEYS = ("title", "description", "model", "priors", "samples", "seed", "sampler", "sweep", "correlations",
                   "precision", "report", "scenarios")
PRECISION_KEYS = ("relative", "outputs", "quantiles", "max_samples")
REPORT_KEYS = ("output", "revenue", "select", "periods")
SCENARIO_KEYS = ("description", "files", "priors", "set")


@dataclass(frozen=True)
class Scenario:
    """One named set of priors.

    Attributes
    ----------
    name, description : str
    priors : mapping of str to Prior
        Every prior the model needs, after this scenario's overrides.
    overrides : tuple of str
        Names of the priors this scenario changes from the experiment's.
    """

    name: str
    description: str
    priors: Mapping[str, Prior]
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Precision:
    """An experiment's ``[precision]`` table: run until the Monte Carlo error is this small.

    See :func:`sim.studies.precision.run_to_precision` for the meaning of
    each field; ``outputs`` empty means the model's compared outputs.
    """

    relative: float
    outputs: tuple[str, ...] = ()
    quantiles: tuple[float, ...] = (0.5,)
    max_samples: int = 2**22


def _precision(file: str, table, model: Model) -> Precision:
    if not isinstance(table, dict):
        raise ConfigError(file, "precision", f"must be a table with relative = 0.01 and optional outputs, "
                                             f"quantiles, max_samples; got {table!r}")
    check.keys(table, PRECISION_KEYS, Location(file, "precision"))
    rel = table.get("relative")
    if isinstance(rel, bool) or not isinstance(rel, (int, float)) or not 0 < rel < 1:
        raise ConfigError(file, "precision.relative", f"must be a number in (0, 1), such as 0.01, got {rel!r}")
    outputs = table.get("outputs", [])
    if not isinstance(outputs, list) or any(o not in model.outputs for o in outputs):
        raise ConfigError(file, "precision.outputs", f"must list outputs of model {model.name!r} "
                                                     f"({', '.join(model.outputs)}), got {outputs!r}")
    quantiles = table.get("quantiles", [0.5])
    if not isinstance(quantiles, list) or any(isinstance(q, bool) or not isinstance(q, (int, float))
                                              or not 0 < q < 1 for q in quantiles):
        raise ConfigError(file, "precision.quantiles", f"must be a list of probabilities in (0, 1), got {quantiles!r}")
    max_samples = check.sample_count(table.get("max_samples", 2**22), Location(file, "precision.max_samples"))
    return Precision(float(rel), tuple(outputs), tuple(float(q) for q in quantiles), max_samples)


@dataclass(frozen=True)
class ReportSettings:
    """An experiment's ``[report]`` table: the output the report is about, the cells it shows, and the output it
    draws over the ``period`` dim of a cash flow (``periods``, such as a cumulative cash flow).

    ``select`` maps a dim to the values (as text) whose cells the report's
    per-cell sections show; the dims are checked against the run when the
    report is built.
    """

    output: str | None = None
    select: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    revenue: str | None = None
    periods: str | None = None


def _report(file: str, table, model: Model) -> ReportSettings:
    if not isinstance(table, dict):
        raise ConfigError(file, "report", f"must be a table with optional output and select, got {table!r}")
    check.keys(table, REPORT_KEYS, Location(file, "report"))
    output, revenue, periods = table.get("output"), table.get("revenue"), table.get("periods")
    for k, value in (("output", output), ("revenue", revenue), ("periods", periods)):
        if not model.imported and isinstance(value, str):
            continue  # a Python model not imported: its outputs are not known
        if value is not None and (not isinstance(value, str) or value not in model.outputs):
            raise ConfigError(file, f"report.{k}", f"must be an output of model {model.name!r} "
                                                   f"({', '.join(model.outputs)}), got {value!r}")
    select = table.get("select", {})
    if not isinstance(select, dict):
        raise ConfigError(file, "report.select", f"must be a table of dim = value or [values], got {select!r}")
    chosen = {}
    for dim, value in select.items():
        values = value if isinstance(value, list) else [value]
        if not values or any(isinstance(v, bool) or not isinstance(v, (str, int)) for v in values):
            raise ConfigError(file, f"report.select.{dim}", f"must be a value or a non-empty list of values "
                                                            f"(text or integers), got {value!r}")
        chosen[dim] = tuple(str(v) for v in values)
    return ReportSettings(output, chosen, revenue, periods)


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: use :func:`load_experiment` to make one.

    ``dataclasses.replace(experiment, samples=..., seed=..., sampler=...)``
    gives a variant; :func:`sim.run` accepts the same three as keywords.
    """

    name: str
    path: str
    model: Model
    prior_files: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    samples: int = 10_000
    seed: int = 0
    sampler: str = "random"
    title: str = ""
    description: str = ""
    base_priors: Mapping[str, Prior] = field(default_factory=dict, repr=False)
    sweeps: Mapping[str, xr.DataArray] = field(default_factory=dict, repr=False)
    correlation: RankCorrelation | None = None
    precision: Precision | None = None
    report: ReportSettings = field(default_factory=ReportSettings)
    files: tuple[str, ...] = ()
    set_values: tuple[tuple[str, float], ...] = ()
    only: tuple[str, ...] = ()
    output_dims: Mapping[str, Mapping[str, int]] = field(default_factory=dict, repr=False)

    @property
    def input_units(self) -> dict[str, str]:
        """The unit of each model input: its prior's, or its sweep's."""
        units = {name: prior.unit for name, prior in self.base_priors.items()}
        return units | {name: str(da.attrs.get("units", "")) for name, da in self.sweeps.items()}

    @property
    def scenario_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.scenarios)

    def output_cells(self) -> dict[str, int]:
        """Cells of each output in a run (scenarios times the sizes of its other dims), from the dims the unit
        check's evaluation gave it; a swept dim has the size of the sweep (which a report may have narrowed)."""
        swept = {d: n for da in self.sweeps.values() for d, n in da.sizes.items()}
        cells = {}
        for name, dims in self.output_dims.items():
            n = len(self.scenarios)
            for d, size in dims.items():
                n *= swept.get(d, size)
            cells[name] = n
        return cells

    def priors_hash(self) -> str:
        """SHA-256 over every scenario's resolved priors, the rank correlations, the swept catalogue values
        and, for a model from the user's file or formulas, the model's own digest."""
        pairs = self.correlation.pairs() if self.correlation else {}
        digest = priors_hash({s.name: s.priors for s in self.scenarios}, pairs)
        if not self.sweeps and not self.model.digest:
            return digest
        swept = {name: _content(da) for name, da in sorted(self.sweeps.items())}
        parts = [digest, swept] + ([self.model.digest] if self.model.digest else [])
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _content(da) -> dict:
    """A swept input's values, coordinates and attrs, less where it was read from (``source`` names a folder,
    spelled as the experiment's path was): the priors hash depends on content only."""
    d = da.to_dict(data="list")
    d["attrs"] = {k: v for k, v in d["attrs"].items() if k != "source"}
    return d


def check_sampler(value, at: Location) -> str:
    if not isinstance(value, str) or value not in SAMPLERS:
        check.fail(at, f"unknown sampler {value!r}; {check.choices(value, SAMPLERS)}")
    return value


def _files(file: str, key: str, value, base_dir: Path) -> list[Path]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(file, key, f"must be a path or a non-empty list of paths, got {value!r}")
    return [Path(os.path.normpath(base_dir / v)) for v in value]


def _check_compared_units(file: str, model: Model) -> None:
    """Each cost and the revenue it is compared with (by their roles) in one unit: P(cost > revenue) compares
    their numbers as they are, so a cost in USD/task against a revenue in USD/ktask is refused, as is one of
    another kind (USD/query)."""
    for cost, revenue in model.comparisons:
        a, b = model.outputs[cost].units, model.outputs[revenue].units
        if a.replace(" ", "") == b.replace(" ", ""):
            continue  # the same text: no need to parse
        from . import units

        scale = units.factor(a, b)
        if scale is not None and abs(scale - 1.0) <= 1e-9:
            continue
        key = f"model.outputs.{revenue}.units" if model.formula else "model"
        how = ("they are of different kinds" if scale is None
               else f"1 {a} is {scale:.6g} {b}, and sim compares their numbers as they are")
        raise ConfigError(file, key, f"cost {cost} ({a}) is compared with revenue {revenue} ({b}) but {how}; "
                                     f"declare both in one unit")


def _load_files(file: str, key: str, paths: list[Path]) -> tuple[dict[str, Prior], dict]:
    merged: dict[str, Prior] = {}
    pairs: dict[tuple[str, str], float] = {}
    for path in paths:
        try:
            found = path.is_file()
        except OSError as exc:  # a name too long for the filesystem, say
            raise ConfigError(file, key, f"cannot open priors file {str(path)!r}: {exc.strerror}") from None
        if not found:
            raise ConfigError(file, key, f"priors file {str(path)!r} not found")
        priors, correlations = load_priors_file(path)
        for name, prior in priors.items():
            if name in merged and not prior.override:
                raise ConfigError(str(path), f"priors.{name}", f"already defined in {merged[name].file}; add "
                                                               "override = true to replace it here, or override it "
                                                               "in a scenario")
            merged[name] = prior
        pairs.update(correlations)
    return merged, pairs


def _scenario(file: str, name: str, table, base: dict[str, Prior], base_dir: Path) -> Scenario:
    key = f"scenarios.{name}"
    check.name(name, Location(file, key))
    if not isinstance(table, dict):
        raise ConfigError(file, key, f"must be a table, got {table!r}")
    check.keys(table, SCENARIO_KEYS, Location(file, key), "scenario key")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(file, f"{key}.description", f"must be a string, got {description!r}")

    priors = dict(base)
    changed: list[str] = []

    def known(k: str, prior_name: str):
        if prior_name not in base:
            raise ConfigError(file, k, f"no prior named {prior_name!r} to override; "
                                       f"{check.choices(prior_name, base)}")

    if "files" in table:
        replaced, pairs = _load_files(file, f"{key}.files", _files(file, f"{key}.files", table["files"], base_dir))
        if pairs:
            raise ConfigError(file, f"{key}.files", "a scenario's priors files may not hold correlations; "
                                                    "give them in the experiment's priors files or [correlations]")
        for prior_name, prior in replaced.items():
            if prior_name in base:
                priors[prior_name] = prior
                changed.append(prior_name)
    overrides = table.get("priors", {})
    if not isinstance(overrides, dict):
        raise ConfigError(file, f"{key}.priors", f"must be a table of prior tables, got {overrides!r}")
    for prior_name, spec in overrides.items():
        k = f"{key}.priors.{prior_name}"
        known(k, prior_name)
        priors[prior_name] = read_prior(prior_name, spec, at=Location(file, k), base=priors[prior_name])
        changed.append(prior_name)
    pins = table.get("set", {})
    if not isinstance(pins, dict):
        raise ConfigError(file, f"{key}.set", f"must be a table of name = value, got {pins!r}")
    for prior_name, value in pins.items():
        k = f"{key}.set.{prior_name}"
        known(k, prior_name)
        if prior_name in overrides:
            raise ConfigError(file, k, "set here and replaced in priors; give one or the other")
        priors[prior_name] = pinned(priors[prior_name], value, at=Location(file, k))
        changed.append(prior_name)
    changed_names = tuple(dict.fromkeys(n for n in changed if priors[n] != base[n]))
    return Scenario(name=name, description=description, priors=priors, overrides=changed_names)


def _sweeps(file: str, table, base_dir: Path, model: Model, priors: Mapping[str, Prior]) -> dict[str, xr.DataArray]:
    """Inputs supplied by ``[sweep]``: catalogue entries, a range of years, or a list of a prior's values."""
    if not isinstance(table, dict):
        raise ConfigError(file, "sweep", f"must be a table, got {table!r}")
    folder = Path(os.path.normpath(base_dir / table.get("catalogues", "../priors/catalogues")))
    out: dict[str, xr.DataArray] = {}
    for dim, selection in table.items():
        if dim == "catalogues":
            continue
        if dim == "year":
            out.update(_years(file, selection))
        elif dim == "period":
            out.update(_periods(file, selection))
        elif dim == "case":
            out.update(_cases(file, selection, base_dir, folder, model, priors))
        elif dim in priors and dim in model.inputs and dim not in model.catalogue:
            out.update(_values(file, dim, selection, priors[dim]))
        else:
            out.update(sweep_inputs(file, dim, selection, folder, model.catalogue.get(dim, {})))
    return out


def _cases(file: str, value, base_dir: Path, folder: Path, model: Model, priors: Mapping[str, Prior]):
    """Inputs from a table of cases, one row per case along ``case``: a CSV file, or a list of tables."""
    if isinstance(value, str):
        where = str(Path(os.path.normpath(base_dir / value)))
        rows = read_csv(where, "CSV file of cases")
    elif isinstance(value, list) and value and all(isinstance(r, dict) for r in value) \
            and all(list(r) == list(value[0]) for r in value):
        where, rows = file, [{k: str(v) for k, v in r.items()} for r in value]
    else:
        raise ConfigError(file, "sweep.case", f"must be the path of a CSV file of cases, or a list of tables with the "
                                              f"same keys, got {value!r}")
    return case_inputs(where, "case", rows, folder, model.inputs, model.catalogue,
                       units={n: p.unit for n, p in priors.items()})


def _values(file: str, name: str, value, prior: Prior) -> dict[str, xr.DataArray]:
    """A prior swept through given values along a dim of its own name (a cost-latency or utilisation curve)."""
    key = f"sweep.{name}"
    if not isinstance(value, list) or not value:
        raise ConfigError(file, key, f"must be a non-empty list of values of {name}, got {value!r}")
    values = [pinned(prior, v, at=Location(file, key)).point for v in value]  # each checked like a scenario's set
    if len(set(values)) != len(values):
        raise ConfigError(file, key, f"values must be distinct, got {value!r}")
    attrs = {"units": prior.unit, "role": "input", "long_name": prior.long_name or name.replace("_", " "),
             "source": f"experiment sweep (the prior in {prior.file} is replaced)"}
    labels = value if all(isinstance(v, int) for v in value) else values  # as written: 64, not 64.0
    return {name: xr.DataArray(values, dims=(name,), coords={name: labels}, attrs=attrs)}


def _years(file: str, value) -> dict[str, xr.DataArray]:
    key = "sweep.year"
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                  for v in value)):
        raise ConfigError(file, key, f"must be [first, last], two integer years, got {value!r}")
    first, last = value
    if last < first:
        raise ConfigError(file, key, f"[{first}, {last}] is reversed or empty; give [first, last] with first <= last")
    years = list(range(first, last + 1))
    return {"year": xr.DataArray(years, dims=("year",), coords={"year": years},
                                 attrs={"units": "year", "role": "input", "long_name": "calendar year",
                                        "source": "experiment sweep"})}


#: Units a ``period`` sweep may count in.
PERIOD_UNITS = ("year", "month", "quarter", "week", "day")


def _periods(file: str, value) -> dict[str, xr.DataArray]:
    """``period = [first, last]`` (years) or ``{ first = 0, last = 36, unit = "month" }``: the periods of a cash
    flow, counted from ``first`` (0: now, when an investment is paid), along a dim ``period`` that formulas sum
    and accumulate over (``total``, ``cumsum``)."""
    key = "sweep.period"
    unit = "year"
    if isinstance(value, dict):
        check.keys(value, ("first", "last", "unit"), Location(file, key))
        unit = value.get("unit", unit)
        if unit not in PERIOD_UNITS:
            raise ConfigError(file, f"{key}.unit", f"unknown period unit {unit!r}; {check.choices(unit, PERIOD_UNITS)}")
        value = [value.get("first"), value.get("last")]
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                  and v >= 0 for v in value)):
        raise ConfigError(file, key, f"must be [first, last], two whole numbers of periods from 0, or a table "
                                     f"{{ first = 0, last = 36, unit = \"month\" }}, got {value!r}")
    first, last = value
    if last <= first:
        raise ConfigError(file, key, f"[{first}, {last}] has fewer than two periods; give [first, last] with "
                                     "first < last")
    periods = list(range(first, last + 1))
    return {"period": xr.DataArray(periods, dims=("period",), coords={"period": periods},
                                   attrs={"units": unit, "role": "input", "long_name": f"{unit}s from now",
                                          "source": "experiment sweep"})}


def load_experiment(path: str | os.PathLike) -> Experiment:
    """Read and validate an experiment file and the priors files it names.

    The result's ``files`` lists every file read (the experiment, priors
    files, catalogues), resolved, the experiment first.

    Raises
    ------
    ConfigError
        With the file and key of the first problem found.
    """
    with recording_reads() as files:
        experiment = _load_experiment(Path(path))
    return dataclasses.replace(experiment, files=tuple(map(str, files)))


def _load_experiment(path: Path) -> Experiment:
    return experiment_from_table(read_toml(path, "experiment file"), path)


def experiment_from_table(data: Mapping, path: str | os.PathLike) -> Experiment:
    """An experiment from the table an experiment file holds, read as if from ``path`` (its name is the path's
    stem; files it names are relative to the path's folder). A command that builds an experiment in memory
    (``sim serving``) uses it; errors name ``path``.
    """
    path = Path(path)
    file = str(path)
    check.keys(data, EXPERIMENT_KEYS, Location(file), "top-level key")
    for tk in ("title", "description"):
        if not isinstance(data.get(tk, ""), str):
            raise ConfigError(file, tk, f"must be a string, got {data[tk]!r}")
    if "model" not in data:
        raise ConfigError(file, "model", "missing; name the model to run (a name such as the one `sim models` "
                                         "lists, \"package.module:name\", { file = \"model.py\", name = \"...\" }) "
                                         "or give formulas under [model.outputs.NAME]")
    model, model_files = _model(file, data["model"], path)
    for f in model_files:
        record_read(f)
    _check_compared_units(file, model)
    if "priors" not in data:
        raise ConfigError(file, "priors", "missing; list the priors files, for example [\"../priors/seed_2023.toml\"]")
    prior_paths = _files(file, "priors", data["priors"], path.parent)
    defined, pairs = _load_files(file, "priors", prior_paths)
    for name, prior in defined.items():  # the model's own name would silently take the prior's place
        kind = "constant" if name in model.constants else "output" if name in model.outputs else None
        if kind:
            article = "an" if kind == "output" else "a"
            raise ConfigError(prior.file, f"priors.{name}", f"{name!r} is a prior here and {article} "
                                                            f"{kind} of model {model.name!r}, which would take its "
                                                            f"place unseen; rename the prior or the model's {kind}")
    sweeps = _sweeps(file, data.get("sweep", {}), path.parent, model, defined)
    missing = [n for n in model.inputs if n not in defined and n not in sweeps]
    if missing and model.input_uses:
        output, position = model.input_uses[missing[0]]
        raise ConfigError(file, f"model.outputs.{output}.formula",
                          f"unknown name {missing[0]!r} at position {position}: not a prior of "
                          f"{', '.join(map(str, prior_paths))}, an output or a constant; valid: "
                          f"{', '.join([*defined, *model.outputs, *model.constants])}")
    if missing:
        raise ConfigError(file, "priors", f"model {model.name!r} needs prior(s) {', '.join(missing)} "
                                          f"that no priors file defines ({', '.join(map(str, prior_paths))}); "
                                          f"they define: {', '.join(defined)}")
    # a Python model not imported: every prior may be one of its inputs
    base = {n: defined[n] for n in (model.inputs if model.imported else defined) if n not in sweeps}
    pairs = {pair: rho for pair, rho in pairs.items() if pair[0] in base and pair[1] in base}
    if "correlations" in data:
        for pair, rho in parse_correlations(data["correlations"], at=Location(file, "correlations"),
                                            priors=base).items():
            if pair in pairs and pairs[pair] != rho:
                raise ConfigError(file, "correlations", f"the pair {pair[0]!r}, {pair[1]!r} is already "
                                                        f"correlated at {pairs[pair]:g} in a priors file")
            pairs[pair] = rho
    correlation = rank_correlation(pairs, file=file)

    samples = check.sample_count(data.get("samples", 10_000), Location(file, "samples"))
    seed = check.seed(data.get("seed", 0), Location(file, "seed"))
    sampler = check_sampler(data.get("sampler", "random"), Location(file, "sampler"))

    tables = data.get("scenarios", {"baseline": {"description": "The priors as given."}})
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(file, "scenarios", "must hold at least one [scenarios.NAME] table")
    scenarios = tuple(_scenario(file, name, table, base, path.parent) for name, table in tables.items())

    experiment = Experiment(name=check.name(path.stem, Location(file, "name")), path=file, model=model,
                            prior_files=tuple(str(p) for p in prior_paths), scenarios=scenarios,
                            samples=samples, seed=seed, sampler=sampler, title=data.get("title", ""),
                            description=data.get("description", ""), base_priors=base, sweeps=sweeps,
                            correlation=correlation,
                            precision=_precision(file, data["precision"], model) if "precision" in data else None,
                            report=_report(file, data.get("report", {}), model))
    return dataclasses.replace(experiment, output_dims=check_units(experiment))


def _model(file: str, value, path: Path) -> tuple[Model, list[Path]]:
    """The model the ``model`` key names or defines, and the Python file it was read from (if any)."""
    if isinstance(value, dict) and "file" not in value:
        return formula_model(value, file=file, default_name=path.stem), []
    return load_reference(value, file=file, base_dir=path.parent)


def check_units(experiment: Experiment) -> dict[str, dict[str, int]]:
    """Every prior's unit readable, each scenario's override in its base prior's unit, and the model's
    outputs in their declared units (:func:`sim.units.check_model`); returns each output's dims, as that
    evaluation gave them (a swept dim of size 1)."""
    from .units import check_model, factor, parse

    file = experiment.path
    for name, prior in experiment.base_priors.items():
        parse(prior.unit, file=prior.file, key=f"{prior.key or 'priors.' + name}.unit")
    for scenario in experiment.scenarios:
        for name in scenario.overrides:
            prior, base = scenario.priors[name], experiment.base_priors[name]
            if prior.unit == base.unit:
                continue
            parse(prior.unit, file=prior.file, key=f"{prior.key or 'priors.' + name}.unit")
            if factor(prior.unit, base.unit) != 1.0:
                raise ConfigError(prior.file, f"{prior.key or 'priors.' + name}.unit",
                                  f"scenario {scenario.name!r} gives {name} in {prior.unit!r}, but the model reads it "
                                  f"in {base.unit!r} ({base.file}); give it in {base.unit!r}")
    inputs = {name: (prior.point, prior.unit) for name, prior in experiment.base_priors.items()}
    for name, da in experiment.sweeps.items():
        # units do not depend on the cell: each sweep's first value, its dim kept (size 1) for models that reduce
        # along it, without the labels every operation would otherwise merge
        first = da.isel({d: slice(0, 1) for d in da.dims})
        inputs[name] = (xr.DataArray(first.values, dims=first.dims), da.attrs.get("units", "1"))
    return check_model(experiment.model, inputs, file=file)


def with_settings(experiment: Experiment, *, samples=None, seed=None, sampler=None) -> Experiment:
    """``experiment`` with the given settings changed (validated like the file's)."""
    changes = {}
    if samples is not None:
        changes["samples"] = check.sample_count(samples, Location("arguments", "samples"))
    if seed is not None:
        changes["seed"] = check.seed(seed, Location("arguments", "seed"))
    if sampler is not None:
        changes["sampler"] = check_sampler(sampler, Location("arguments", "sampler"))
    return dataclasses.replace(experiment, **changes)


def with_overrides(experiment: Experiment, *, set_values=None, scenarios=None) -> Experiment:
    """``experiment`` with priors pinned in every scenario (``--set NAME=VALUE``) and/or only some scenarios
    (``--scenario NAME``), both recorded so that the run's record and report show them.

    Raises
    ------
    SimError
        For an unknown prior or scenario, or a value outside the prior's range.
    """
    from .errors import SimError

    changes = {}
    if scenarios:
        names = list(experiment.scenario_names)
        for name in scenarios:
            if name not in names:
                raise SimError(f"--scenario: no scenario {name!r} in {experiment.path}; {check.choices(name, names)}")
        keep = tuple(dict.fromkeys(scenarios))
        changes["scenarios"] = tuple(s for s in experiment.scenarios if s.name in keep)
        changes["only"] = keep
    pins = dict(set_values or {})
    if pins:
        for name in pins:
            if name not in experiment.base_priors:
                raise SimError(f"--set: no prior {name!r} in {experiment.path}; "
                               f"{check.choices(name, experiment.base_priors)}")
        pins = {name: _from_percent(name, v, experiment.base_priors[name].unit) if isinstance(v, check.Percent)
                else v for name, v in pins.items()}
        scenarios_now = changes.get("scenarios", experiment.scenarios)
        changes["scenarios"] = tuple(
            dataclasses.replace(s, priors={**s.priors, **{n: pinned(s.priors[n], v, at=Location("--set", n))
                                                           for n, v in pins.items()}},
                                overrides=tuple(dict.fromkeys([*s.overrides, *pins])))
            for s in scenarios_now)
        changes["set_values"] = tuple(pins.items())
    return dataclasses.replace(experiment, **changes) if changes else experiment


def _from_percent(name: str, value: float, unit: str) -> float:
    """``value`` percent in ``unit``, a pure number (``--set NAME=35%``), or SimError for a prior with dimensions."""
    from .errors import SimError
    from .units import parse, registry

    try:
        whole = float(registry().Quantity(100.0, "percent").to(parse(unit)).magnitude)  # 1 of a fraction, 100 of a %
    except Exception:  # noqa: BLE001 - pint's DimensionalityError, or a unit it cannot read: the same answer
        raise SimError(f"--set {name}={check.fmt(float(value))}%: a percentage is a pure number and {name} is in "
                       f"{unit}; give its value in {unit}") from None
    return float(value) * whole / 100.0  # 35% of a fraction is 0.35 exactly, not 35 * 0.01


def run_overrides(attrs: Mapping) -> tuple[dict[str, float], list[str]]:
    """The overrides a saved run records in its ``attrs`` (``run_overrides``, JSON): its ``--set`` values and
    its ``--scenario`` names."""
    recorded = json.loads(attrs.get("run_overrides") or "{}")
    return dict(recorded.get("set", {})), list(recorded.get("scenarios", []))


def as_run(experiment: Experiment, attrs: Mapping) -> Experiment:
    """``experiment`` with the overrides a saved run records in its ``attrs`` (``--set``, ``--scenario``)."""
    sets, only = run_overrides(attrs)
    return with_overrides(experiment, set_values=sets, scenarios=only)


def subject(experiment: Experiment, output: str | None = None, revenue: str | None = None) -> tuple[str, str | None, str]:
    """What a report is about: ``(output, revenue or None, note)``.

    The output: ``output``, else the experiment's ``[report] output``, else
    the model's output with role ``cost`` (the model's first output, with a
    note saying so, when it has none). The revenue it is compared with:
    ``revenue``, else ``[report] revenue``, else, for a cost, the output with
    role ``revenue``. Several outputs with one role ask for a choice.
    """
    settings, roles = experiment.report, experiment.model.roles()
    model = f"model {experiment.model.name!r}"
    note = ""
    out = choose(roles, "cost", output or settings.output, flag="--output", what=model)
    if out is None:
        out = list(roles)[0]
        note = (f"No output of {model} has the role cost, so the report is about its first output, {out}; choose "
                "another with --output or the experiment's [report] output.")
    given = revenue or settings.revenue
    threshold = choose(roles, "revenue", given, flag="--revenue", what=model) \
        if given or roles[out] == "cost" else None
    return out, threshold, note
