"""Tables and files at the edge: summary frames, text tables, run outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ._files import atomic_path
from .analysis import exceedance, summarize

__all__ = ["summary_frame", "point_frame", "format_table", "write_run"]


def _comparisons(ds: xr.Dataset):
    """(output, threshold) pairs recorded by the model, present in ``ds``."""
    from .models import get_model

    model = get_model(ds.attrs["model"])
    return [(o, t) for o, t in model.comparisons if o in ds and t in ds]


def _long(da: xr.DataArray, value: str) -> pd.DataFrame:
    """A DataArray as rows, one column per dim (sorted dims first), plus ``value``."""
    frame = da.to_dataframe(name=value).reset_index()
    return frame[[c for c in frame.columns if c in da.dims or c == value]]


def summary_frame(ds: xr.Dataset, *, quantiles=(0.05, 0.5, 0.95)) -> pd.DataFrame:
    """One row per output and coordinate cell: mean, sd, quantiles, P(> threshold).

    Columns: ``output``, ``units``, ``scenario``, then the output's other
    dims (``architecture``; empty where an output lacks the dim), the
    statistics, and one ``p_gt_<threshold>`` column per model comparison
    (filled on the rows of the compared output).
    """
    summary = summarize(ds, quantiles=quantiles)
    stats = list(summary["stat"].values)
    rows = []
    for name, da in summary.data_vars.items():
        wide = da.to_dataset("stat").to_dataframe().reset_index()
        wide = wide[[c for c in wide.columns if c in da.dims or c in stats]]
        wide.insert(0, "output", name)
        wide.insert(1, "units", ds[name].attrs.get("units", ""))
        rows.append(wide)
    frame = pd.concat(rows, ignore_index=True)
    dims = [c for c in frame.columns if c not in ("output", "units", *stats)]
    by_column: dict[str, list[pd.DataFrame]] = {}
    for output, threshold in _comparisons(ds):
        col = f"p_gt_{threshold}"
        by_column.setdefault(col, []).append(_long(exceedance(ds, output, threshold), col).assign(output=output))
    for col, parts in by_column.items():
        p = pd.concat(parts, ignore_index=True)
        frame = frame.merge(p, on=["output", *[d for d in dims if d in p.columns]], how="left")
    return frame[["output", "units", *dims, *stats, *by_column]]


def point_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Point-mode outputs as rows: output, units, coordinates, value."""
    rows = []
    for name in [n for n, da in ds.data_vars.items() if da.attrs.get("role") == "output"]:
        frame = _long(ds[name], "value")
        frame.insert(0, "output", name)
        frame.insert(1, "units", ds[name].attrs.get("units", ""))
        rows.append(frame)
    frame = pd.concat(rows, ignore_index=True)
    dims = [c for c in frame.columns if c not in ("output", "units", "value")]
    return frame[["output", "units", *dims, "value"]]


def _format_value(v) -> str:
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return ""
        return f"{v:.4g}"
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def format_table(frame: pd.DataFrame) -> str:
    """Plain-text table, numbers to 4 significant digits (display only)."""
    shown = frame.copy()
    for col in shown.columns:
        shown[col] = [_format_value(v) for v in shown[col]]
    return shown.to_string(index=False)


def write_run(ds: xr.Dataset, folder: str | Path, summary: pd.DataFrame) -> dict[str, Path]:
    """Write ``samples.nc`` and ``summary.csv`` into ``folder``, each atomically.

    Returns
    -------
    dict
        ``{"samples": path, "summary": path}``.
    """
    folder = Path(folder)
    paths = {"samples": folder / "samples.nc", "summary": folder / "summary.csv"}
    with atomic_path(paths["samples"]) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    with atomic_path(paths["summary"]) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.10g")
    return paths
