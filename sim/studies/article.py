"""Point mode against the figures the article printed (``sim check``)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pandas as pd

from .._files import read_toml
from ..engine import point
from ..errors import ConfigError
from ..experiment import load_experiment

__all__ = ["FIGURES", "check_figures"]

#: The article's figures, shipped with the package.
FIGURES = resources.files("sim.models") / "article_2023.toml"

_REQUIRED = ("section", "experiment", "scenario", "output", "article", "expected")
_TOLERANCES = ("rtol", "range", "min")


def _tolerance(file, key, fig):
    given = [t for t in _TOLERANCES if t in fig]
    if len(given) != 1:
        raise ConfigError(file, key, f"give exactly one tolerance of {', '.join(_TOLERANCES)}; got {given}")
    kind = given[0]
    value = fig[kind]
    expected = fig["expected"]
    if kind == "rtol":
        return f"±{value:.0%}", lambda x: abs(x - expected) <= value * abs(expected)
    if kind == "range":
        lo, hi = value
        return f"{lo:g} to {hi:g}", lambda x: lo <= x <= hi
    return f"> {value:g}", lambda x: x > value


def _pick(file, key, da, select) -> float:
    try:
        return float(da.sel(select))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(file, key, f"{select} does not pick one value: {exc}") from None


def check_figures(figures: str | os.PathLike | None = None, *, root: str | os.PathLike = ".") -> pd.DataFrame:
    """Evaluate each figure's experiment in point mode and compare.

    Parameters
    ----------
    figures : path, optional
        A figures file; the article's by default.
    root : path
        Folder the figures' experiment paths are relative to (the project).

    Returns
    -------
    pandas.DataFrame
        One row per figure: section, output, selection, the article's text,
        the expected value, tolerance, the point-mode value and ``ok``.
    """
    file = str(figures or FIGURES)
    data = read_toml(figures or FIGURES, "figures file")
    entries = data.get("figure")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(file, "figure", "missing; list figures as [[figure]] tables")
    points = {}
    rows = []
    for i, fig in enumerate(entries):
        key = f"figure[{i}]"
        missing = [k for k in _REQUIRED if k not in fig]
        if missing:
            raise ConfigError(file, key, f"missing {', '.join(missing)}")
        tolerance, ok = _tolerance(file, key, fig)
        exp_path = Path(root) / fig["experiment"]
        if exp_path not in points:
            points[exp_path] = point(load_experiment(exp_path))
        ds = points[exp_path]
        if fig["output"] not in ds:
            raise ConfigError(file, f"{key}.output", f"{fig['output']!r} is not an output of {exp_path}")
        select = {"scenario": fig["scenario"], **fig.get("select", {})}
        value = _pick(file, f"{key}.select", ds[fig["output"]], select)
        if "relative_to" in fig:  # a reduction: 1 - value / value at the reference selection
            value = 1.0 - value / _pick(file, f"{key}.relative_to", ds[fig["output"]],
                                        {**select, **fig["relative_to"]})
        rows.append({
            "section": fig["section"], "output": fig["output"],
            "selection": ", ".join(f"{v}" for v in select.values()),
            "article": fig["article"], "expected": fig["expected"], "tolerance": tolerance,
            "point_mode": value, "ok": bool(ok(value)),
        })
    return pd.DataFrame(rows)
