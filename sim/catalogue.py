"""Catalogues of accelerators, cloud offerings and language models (data files).

An experiment sweeps catalogue entries as named coordinates::

    [sweep]
    model = ["gpt3", "palm"]        # or "all": entries of models.toml
    hardware = "all"                # entries of offerings.toml
    catalogues = "../priors/catalogues"   # the default, relative to the experiment

A swept coordinate supplies the model inputs that the model binds to
catalogue fields (its declaration, :attr:`sim.models.Model.catalogue`: for
``model`` entries of models.toml such as the active and total parameters,
for ``hardware`` entries of offerings.toml and their accelerators' peak
FLOP/s, memory and price) as DataArrays along that dim, in place of priors
of the same name. A mixture-of-experts entry can only be swept by a model
that reads the ``total_params`` field: a model that does not tell active
from total parameters (a dense scaling fit) says nothing about it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import xarray as xr

from . import _checks as check
from ._files import read_toml
from .errors import ConfigError, Location
from .models import Field

__all__ = ["load_catalogue", "catalogue_kind", "sweep_inputs", "SWEEPS", "CATALOGUE_FILES"]

CATALOGUE_FILES = {"accelerators": "accelerators.toml", "offerings": "offerings.toml", "models": "models.toml",
                   "precisions": "precisions.toml"}

# field: (kind, required); kinds: str, positive, count (0 or more), flag (0 or 1), fraction (0, 1], share [0, 1),
# range
_SCHEMAS = {
    "accelerators": {"name": ("str", True), "peak_flops": ("positive", True), "peak_flops_fp8": ("positive", False),
                     "peak_flops_fp4": ("positive", False), "memory_bytes": ("positive", True),
                     "memory_bandwidth": ("positive", True), "power_w": ("positive", False),
                     "price_usd": ("range", False), "date": ("str", True), "source": ("str", True),
                     "interconnect_bandwidth": ("positive", False), "interconnect_latency": ("positive", False),
                     "interconnect_switched": ("flag", False), "arm_host": ("flag", False),
                     "rent_per_hour": ("positive", False),
                     "serving_source": ("str", False)},
    "offerings": {"accelerator": ("str", True), "provider": ("str", True), "plan": ("str", True),
                  "price_per_chip_hour": ("positive", True), "date": ("str", True), "source": ("str", True),
                  "memory_bytes": ("positive", False), "note": ("str", False)},
    "models": {"name": ("str", True), "active_params": ("positive", True), "total_params": ("positive", False),
               "routed_expert_fraction": ("share", False), "tokens": ("positive", False),
               "kv_values_per_token": ("positive", False), "attention_flops_per_context_token": ("positive", False),
               "hardware": ("str", False), "reported_mfu": ("fraction", False), "chip_hours": ("positive", False),
               "source": ("str", True), "layers": ("positive", False), "hidden_size": ("positive", False),
               "attention_heads": ("positive", False), "kv_heads": ("positive", False), "head_dim": ("positive", False),
               "kv_lora_rank": ("count", False), "rope_head_dim": ("count", False), "experts": ("count", False),
               "experts_per_token": ("count", False), "expert_intermediate_size": ("count", False),
               "moe_layers": ("count", False), "windowed_layers": ("count", False),
               "attention_window": ("count", False), "vocab_size": ("count", False)},
    "precisions": {"name": ("str", True), "bytes_per_param": ("positive", True),
                   "kv_bytes_per_value": ("positive", True), "dispatch_bytes_per_value": ("positive", False),
                   "compute_bytes_per_value": ("positive", False), "source": ("str", True)},
}

#: Where a field is left out: a dense model holds its active parameters and routes nothing; a chip without fp8
#: (fp4) runs 8-bit (4-bit) weights at its next wider precision's peak; activations sent to other chips' experts,
#: and the GEMMs' inputs, are as wide as the weights.
_DEFAULTS = {"total_params": "active_params", "peak_flops_fp8": "peak_flops", "peak_flops_fp4": "peak_flops_fp8",
             "dispatch_bytes_per_value": "bytes_per_param", "compute_bytes_per_value": "bytes_per_param"}
#: Fields an entry without them has none of: no latent attention, no routed experts, no windows, no Arm host, no
#: vocabulary counted apart from the other weights.
_ZERO = ("arm_host", "routed_expert_fraction", "kv_lora_rank", "rope_head_dim", "experts", "experts_per_token",
         "expert_intermediate_size", "moe_layers", "windowed_layers", "attention_window", "vocab_size")
#: The catalogue each swept dim reads its entries from.
SWEEPS = {"model": "models", "hardware": "offerings", "accelerator": "accelerators", "precision": "precisions"}


def _check(file: str, key: str, kind: str, value):
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(file, key, f"must be a string, got {value!r}")
        return value
    if kind == "range":
        ok = isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        if not ok or not 0 < value[0] <= value[1]:
            raise ConfigError(file, key, f"must be [low, high] with 0 < low <= high, got {value!r}")
        return [float(v) for v in value]
    if kind in ("count", "flag"):
        value = check.number(value, Location(file, key))
        if kind == "count" and not value >= 0:
            raise ConfigError(file, key, f"must be 0 or more, got {value!r}")
        if kind == "flag" and value not in (0, 1):
            raise ConfigError(file, key, f"must be 0 or 1, got {value!r}")
        return value
    if kind == "share":
        value = check.number(value, Location(file, key))
        if not 0 <= value < 1:
            raise ConfigError(file, key, f"must be in [0, 1), got {value!r}")
        return value
    value = check.number(value, Location(file, key), positive=True)
    if kind == "fraction" and not value <= 1:
        raise ConfigError(file, key, f"must be in (0, 1], got {value!r}")
    return value


def catalogue_kind(data: dict) -> str | None:
    """Which catalogue a parsed TOML file is (its one table of entries), or None."""
    kinds = set(data) & set(CATALOGUE_FILES)
    return next(iter(kinds)) if len(kinds) == 1 else None


def load_catalogue(folder: str | Path, kind: str, path: str | Path | None = None) -> dict[str, dict]:
    """Read and validate one catalogue (``accelerators``, ``offerings`` or ``models``).

    ``path`` is the file, by default ``folder/<kind>.toml``; offerings name
    accelerators of ``folder``'s accelerators catalogue.
    """
    path = Path(path) if path is not None else Path(folder) / CATALOGUE_FILES[kind]
    file = str(path)
    data = read_toml(path, f"{kind} catalogue")
    table = data.get(kind)
    if set(data) - {kind, "title"} or not isinstance(table, dict) or not table:
        raise ConfigError(file, kind, f"the file must hold [{kind}.NAME] tables and nothing else")
    schema = _SCHEMAS[kind]
    entries = {}
    for name, entry in table.items():
        key = f"{kind}.{name}"
        if not isinstance(entry, dict):
            raise ConfigError(file, key, f"must be a table, got {entry!r}")
        check.keys(entry, schema, Location(file, key), "field")
        for field, (fkind, required) in schema.items():
            if field not in entry:
                if required:
                    raise ConfigError(file, f"{key}.{field}", f"missing; every {kind[:-1]} needs {field}")
                continue
            entry[field] = _check(file, f"{key}.{field}", fkind, entry[field])
        if kind == "models" and entry.get("total_params", entry["active_params"]) < entry["active_params"]:
            raise ConfigError(file, f"{key}.total_params", f"must be at least active_params "
                                                           f"({entry['active_params']:g}), got {entry['total_params']:g}")
        if kind == "models":
            _check_architecture(file, key, entry)
        entries[name] = entry
    if kind == "offerings":
        accelerators = load_catalogue(folder, "accelerators")
        for name, entry in entries.items():
            if entry["accelerator"] not in accelerators:
                raise ConfigError(file, f"offerings.{name}.accelerator",
                                  f"{entry['accelerator']!r} is not in {Path(folder) / CATALOGUE_FILES['accelerators']}; "
                                  f"{check.choices(entry['accelerator'], accelerators)}")
            entry["_accelerator"] = accelerators[entry["accelerator"]]
    return entries


def _check_architecture(file: str, key: str, entry: dict) -> None:
    """A model's experts and layers agree: k of E experts, MoE and windowed layers among the layers."""
    experts, k = entry.get("experts", 0), entry.get("experts_per_token", 0)
    if k > experts:
        raise ConfigError(file, f"{key}.experts_per_token", f"must be at most experts ({experts:g}), got {k:g}")
    for field in ("moe_layers", "windowed_layers"):
        if entry.get(field, 0) > entry.get("layers", math.inf):
            raise ConfigError(file, f"{key}.{field}", f"must be at most layers ({entry['layers']:g}), "
                                                      f"got {entry[field]:g}")
    if experts and not (entry.get("expert_intermediate_size") and entry.get("moe_layers") and k):
        raise ConfigError(file, key, "a model with experts needs experts_per_token, expert_intermediate_size and "
                                     "moe_layers above 0")


def _field_value(file: str, key: str, dim: str, entry: dict, field: str):
    """An entry's field, its accelerator's for an offering, or the default where the catalogue gives one."""
    if field in entry:
        return entry[field]
    if "_accelerator" in entry and field in entry["_accelerator"]:
        return entry["_accelerator"][field]
    if field in _ZERO:
        return 0.0
    if field in _DEFAULTS:
        return _field_value(file, key, dim, entry, _DEFAULTS[field])
    raise ConfigError(file, key, f"{entry.get('name', entry.get('accelerator'))!r} has no {field} in the {dim} "
                                 f"catalogue, which the model needs; add it to the entry or choose other entries")


def sweep_inputs(file: str, dim: str, selection, folder: Path, binding: Mapping[str, Field]) -> dict[str, xr.DataArray]:
    """DataArrays along ``dim`` for the inputs ``binding`` feeds from the catalogue (the model's declaration
    for this dim, the inputs it needs only)."""
    key = f"sweep.{dim}"
    if dim not in SWEEPS:
        raise ConfigError(file, key, f"unknown sweep; {check.choices(dim, SWEEPS)}")
    entries = load_catalogue(folder, SWEEPS[dim])
    if selection == "all":
        names = list(entries)
    elif isinstance(selection, list) and selection and all(isinstance(s, str) for s in selection):
        names = selection
        for name in names:
            if name not in entries:
                raise ConfigError(file, key, f"{name!r} is not in the {dim} catalogue; {check.choices(name, entries)}")
        if len(set(names)) != len(names):
            raise ConfigError(file, key, f"names must be distinct, got {names}")
    else:
        raise ConfigError(file, key, f"must be \"all\" or a non-empty list of catalogue names, got {selection!r}")

    def value(entry, field):
        return _field_value(file, key, dim, entry, field)

    if dim == "model" and not any(f.field == "total_params" for f in binding.values()):
        moe = [n for n in names if entries[n].get("total_params", entries[n]["active_params"]) > entries[n]["active_params"]]
        if moe:
            raise ConfigError(file, key, f"{', '.join(moe)} {'is a' if len(moe) == 1 else 'are'} mixture-of-experts "
                                         f"model{'s' * (len(moe) > 1)} (active and total parameters differ), but this "
                                         "model does not read total_params, so it treats every model as dense; "
                                         "sweep dense models only")

    if dim == "model":
        extra = {"model_name": (dim, [entries[n]["name"] for n in names])}
    elif dim in ("accelerator", "precision"):
        extra = {f"{dim}_name": (dim, [entries[n]["name"] for n in names])}
    else:
        extra = {"accelerator": (dim, [entries[n]["accelerator"] for n in names]),
                 "provider": (dim, [entries[n]["provider"] for n in names]),
                 "plan": (dim, [entries[n]["plan"] for n in names])}
    out = {}
    for input_name, fed in binding.items():
        out[input_name] = xr.DataArray([value(entries[n], fed.field) for n in names], dims=(dim,),
                                       coords={dim: names, **extra},
                                       attrs={"units": fed.units, "role": "input",
                                              "long_name": input_name.replace("_", " "),
                                              "source": f"{dim} catalogue ({folder})"})
    return out


def case_inputs(file: str, key: str, rows: list[dict], folder: Path, inputs, binding: Mapping[str, Mapping[str, Field]],
                *, units: Mapping[str, str] | None = None) -> dict[str, xr.DataArray]:
    """DataArrays along ``case`` from a table of cases, one row each (``[sweep] case = "cases.csv"``).

    A column named like a catalogue dim the model binds (``model``,
    ``accelerator``, ``precision``, ``hardware``) names an entry of that
    catalogue in each row and feeds the inputs the binding names; a column
    named like one of the model's ``inputs`` gives its value in each row
    (and wins over a catalogue's); a ``case`` column labels the rows
    (default: their numbers from 1); any other column is kept as a label of
    the rows, a coordinate along ``case``. ``file`` is the table's path,
    named with the row in errors.
    """
    units = dict(units or {})
    labels = [str(r.get("case", "")).strip() or str(i + 1) for i, r in enumerate(rows)]
    if len(set(labels)) != len(labels):
        twice = next(x for x in labels if labels.count(x) > 1)
        raise ConfigError(file, "case", f"the case {twice!r} is given twice; label each row once")
    columns = [c for c in rows[0] if c != "case"]
    coords: dict = {"case": labels}
    out: dict[str, xr.DataArray] = {}
    for column in columns:
        values = [str(r[column]).strip() for r in rows]
        if column in binding and binding[column] and column in SWEEPS:
            entries = load_catalogue(folder, SWEEPS[column])
            for i, name in enumerate(values):
                if name not in entries:
                    raise ConfigError(file, f"row {i + 2}", f"{column} {name!r} is not in the {column} catalogue; "
                                                            f"{check.choices(name, entries)}")
            coords[column] = ("case", values)
            for input_name, fed in binding[column].items():
                data = [_field_value(file, f"row {i + 2}", column, entries[n], fed.field) for i, n in enumerate(values)]
                out.setdefault(input_name, xr.DataArray(data, dims=("case",), attrs={
                    "units": fed.units, "role": "input", "long_name": input_name.replace("_", " "),
                    "source": f"{column} catalogue ({folder}) by the cases in {file}"}))
        elif column in inputs:
            data = []
            for i, text in enumerate(values):
                try:
                    number = float(text)
                except ValueError:
                    raise ConfigError(file, f"row {i + 2}", f"{column} must be a number, got {text!r}") from None
                if not math.isfinite(number):
                    raise ConfigError(file, f"row {i + 2}", f"{column} must be a finite number, got {text!r}")
                data.append(number)
            out[column] = xr.DataArray(data, dims=("case",), attrs={
                "units": units.get(column, ""), "role": "input", "long_name": column.replace("_", " "),
                "source": f"the cases in {file}"})
        else:
            coords[column] = ("case", values)
    for name in list(out):
        out[name] = out[name].assign_coords(coords)
    return out
