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

from ._files import read_toml
from . import _checks as check
from .errors import ConfigError, Location
from .models import Field

__all__ = ["load_catalogue", "catalogue_kind", "sweep_inputs", "SWEEPS", "CATALOGUE_FILES"]

CATALOGUE_FILES = {"accelerators": "accelerators.toml", "offerings": "offerings.toml", "models": "models.toml"}

# field: (kind, required); kinds: str, positive, fraction (0, 1], range
_SCHEMAS = {
    "accelerators": {"name": ("str", True), "peak_flops": ("positive", True), "peak_flops_fp8": ("positive", False),
                     "peak_flops_fp4": ("positive", False), "memory_bytes": ("positive", True),
                     "memory_bandwidth": ("positive", True), "power_w": ("positive", False),
                     "price_usd": ("range", False), "date": ("str", True), "source": ("str", True)},
    "offerings": {"accelerator": ("str", True), "provider": ("str", True), "plan": ("str", True),
                  "price_per_chip_hour": ("positive", True), "date": ("str", True), "source": ("str", True)},
    "models": {"name": ("str", True), "active_params": ("positive", True), "total_params": ("positive", False),
               "routed_expert_fraction": ("share", False), "tokens": ("positive", True),
               "kv_values_per_token": ("positive", False), "attention_flops_per_context_token": ("positive", False),
               "hardware": ("str", False), "reported_mfu": ("fraction", False), "chip_hours": ("positive", False),
               "source": ("str", True)},
}

#: Where a field is left out: a dense model holds its active parameters and routes nothing; a chip without fp8
#: (fp4) runs 8-bit (4-bit) weights at its next wider precision's peak.
_DEFAULTS = {"total_params": "active_params", "peak_flops_fp8": "peak_flops", "peak_flops_fp4": "peak_flops_fp8"}
#: The catalogue each swept dim reads its entries from.
SWEEPS = {"model": "models", "hardware": "offerings"}


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
        entries[name] = entry
    if kind == "offerings":
        accelerators = load_catalogue(folder, "accelerators")
        for name, entry in entries.items():
            if entry["accelerator"] not in accelerators:
                raise ConfigError(file, f"offerings.{name}.accelerator",
                                  f"{entry['accelerator']!r} is not in {Path(folder) / CATALOGUE_FILES['accelerators']}; "
                                  f"valid: {', '.join(accelerators)}")
            entry["_accelerator"] = accelerators[entry["accelerator"]]
    return entries


def sweep_inputs(file: str, dim: str, selection, folder: Path, binding: Mapping[str, Field]) -> dict[str, xr.DataArray]:
    """DataArrays along ``dim`` for the inputs ``binding`` feeds from the catalogue (the model's declaration
    for this dim, the inputs it needs only)."""
    key = f"sweep.{dim}"
    if dim not in SWEEPS:
        raise ConfigError(file, key, f"unknown sweep; valid: {', '.join(SWEEPS)}")
    entries = load_catalogue(folder, SWEEPS[dim])
    if selection == "all":
        names = list(entries)
    elif isinstance(selection, list) and selection and all(isinstance(s, str) for s in selection):
        names = selection
        for name in names:
            if name not in entries:
                raise ConfigError(file, key, f"{name!r} is not in the {dim} catalogue; valid: {', '.join(entries)}")
        if len(set(names)) != len(names):
            raise ConfigError(file, key, f"names must be distinct, got {names}")
    else:
        raise ConfigError(file, key, f"must be \"all\" or a non-empty list of catalogue names, got {selection!r}")

    def value(entry, field):
        if field in entry:
            return entry[field]
        if "_accelerator" in entry and field in entry["_accelerator"]:
            return entry["_accelerator"][field]
        if field == "routed_expert_fraction":
            return 0.0
        if field in _DEFAULTS:
            return value(entry, _DEFAULTS[field])
        raise ConfigError(file, key, f"{entry['name']!r} has no {field} in the {dim} catalogue, which the model "
                                     f"needs; add it to the entry or choose other entries")

    if dim == "model" and not any(f.field == "total_params" for f in binding.values()):
        moe = [n for n in names if entries[n].get("total_params", entries[n]["active_params"]) > entries[n]["active_params"]]
        if moe:
            raise ConfigError(file, key, f"{', '.join(moe)} {'is a' if len(moe) == 1 else 'are'} mixture-of-experts "
                                         f"model{'s' * (len(moe) > 1)} (active and total parameters differ), but this "
                                         "model does not read total_params, so it treats every model as dense; "
                                         "sweep dense models only")

    if dim == "model":
        extra = {"model_name": (dim, [entries[n]["name"] for n in names])}
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
