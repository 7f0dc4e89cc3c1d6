"""A run's samples as a flat table for other tools: CSV, Parquet or a spreadsheet.

One row per sample and cell (scenario, architecture, ...: every labelled
dim of the run), one column per dim and per input and output, headed with
its unit: ``price [USD/task]``. Inputs without a cell dim repeat in
every cell, a fixed prior's value in every row. CSV keeps every float's
shortest round-tripping text (read back, it equals the NetCDF samples);
Parquet keeps the float64 bits; a spreadsheet keeps what Excel keeps (its
numbers are read back to within 1e-15 relative). A spreadsheet holds at most
:data:`XLSX_SAMPLES` samples per cell by default (Excel's sheets stop at
1,048,576 rows), with a sheet saying what the run was and how to make it
again.

Libraries: Parquet through pyarrow (pandas' own Parquet engine, the
reference implementation of the format), spreadsheets through XlsxWriter
(the writer pandas prefers: three times as fast as openpyxl on a run's
samples, at a third of its memory). Both are optional (the ``export``
extra); CSV needs neither.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .errors import SimError

__all__ = ["FORMATS", "XLSX_SAMPLES", "column_name", "variables", "samples_frames", "samples_table", "export_samples"]

#: Export formats and the library each needs (None: pandas alone).
FORMATS = {"csv": None, "parquet": "pyarrow", "xlsx": "xlsxwriter"}

#: Samples per cell a spreadsheet holds unless told otherwise.
XLSX_SAMPLES = 10_000

_XLSX_ROWS = 1_048_575  # rows of an Excel sheet below its header


def column_name(name: str, da: xr.DataArray) -> str:
    """A variable's column header: its name and, where it has one, its unit in brackets."""
    unit = da.attrs.get("units")
    return f"{name} [{unit}]" if unit else name


def variables(ds: xr.Dataset) -> list[str]:
    """The inputs and outputs of a run: its data variables that are drawn samples or fixed values."""
    return [n for n, v in ds.data_vars.items() if "sample" in v.dims or v.ndim == 0]


def samples_frames(ds: xr.Dataset, *, max_samples: int | None = None) -> Iterator[pd.DataFrame]:
    """The run's samples as tables, one per cell, in the order of the cells' labels (see the module).

    Parameters
    ----------
    ds : Dataset
        A run (:func:`sim.run`, or read from ``samples.nc``).
    max_samples : int, optional
        Keep the first this many samples of each cell.
    """
    if "sample" not in ds.dims:
        raise SimError("the run has no samples to export (a point-mode or streamed run keeps none)")
    if max_samples is not None:
        ds = ds.isel(sample=slice(0, max_samples))
    names = variables(ds)
    cells = [d for d in ds.dims if d != "sample"]
    n = ds.sizes["sample"]
    for index in itertools.product(*(range(ds.sizes[d]) for d in cells)):
        cell = ds[names].isel(dict(zip(cells, index)))
        columns = {d: np.repeat(ds[d].values[i], n) for d, i in zip(cells, index)}
        columns["sample"] = ds["sample"].values
        for name in names:
            values = cell[name].values
            columns[column_name(name, ds[name])] = np.broadcast_to(values, (n,)) if values.ndim == 0 else values
        yield pd.DataFrame(columns)


def samples_table(ds: xr.Dataset, *, max_samples: int | None = None) -> pd.DataFrame:
    """The run's samples as one table: every cell's rows (:func:`samples_frames`) one after another."""
    return pd.concat(list(samples_frames(ds, max_samples=max_samples)), ignore_index=True)


def _check_library(fmt: str) -> None:
    """Refuse a format whose library is not installed, in one line saying how to install it."""
    try:
        if fmt == "parquet":
            import pyarrow  # noqa: F401
        elif fmt == "xlsx":
            import xlsxwriter  # noqa: F401
    except ImportError:
        raise SimError(f"--format {fmt} needs the {FORMATS[fmt]} package: pip install {FORMATS[fmt]} (or the "
                       f"project's export extra, pip install -e '.[export]')") from None


def _about(ds: xr.Dataset, rows: int, max_samples: int | None) -> pd.DataFrame:
    """What a spreadsheet holds: the run's identity and how many of its samples."""
    from .store import reproduce_command

    a = ds.attrs
    kept = ds.sizes["sample"] if max_samples is None else min(max_samples, ds.sizes["sample"])
    items = [("experiment", a.get("experiment", "")), ("title", a.get("title", "")),
             ("samples in the run", ds.sizes["sample"]), ("samples per cell here", kept),
             ("rows on the samples sheet", rows), ("seed", a.get("seed", "")), ("sampler", a.get("sampler", "")),
             ("priors hash", a.get("priors_hash", "")), ("sim version", a.get("sim_version", "")),
             ("made", a.get("created", "")), ("make it again", reproduce_command(a) if "seed" in a else "")]
    return pd.DataFrame(items, columns=["field", "value"]).astype({"value": str})


def export_samples(ds: xr.Dataset, path: str | os.PathLike, fmt: str | None = None, *,
                   max_samples: int | None = None, summary: pd.DataFrame | None = None) -> Path:
    """Write a run's samples to ``path`` as CSV, Parquet or a spreadsheet (see the module).

    Parameters
    ----------
    ds : Dataset
        The run.
    path : path
        The file to write (not atomically: :mod:`sim.store` writes a run
        folder's exports in its staging folder).
    fmt : {"csv", "parquet", "xlsx"}, optional
        Default: from the file's suffix.
    max_samples : int, optional
        The first this many samples of each cell; a spreadsheet's default is
        :data:`XLSX_SAMPLES`.
    summary : DataFrame, optional
        The run's summary table, a sheet of a spreadsheet.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".")
    if fmt not in FORMATS:
        raise SimError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    _check_library(fmt)
    if fmt == "csv":
        for i, frame in enumerate(samples_frames(ds, max_samples=max_samples)):
            frame.to_csv(path, mode="w" if i == 0 else "a", header=i == 0, index=False)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        try:
            for frame in samples_frames(ds, max_samples=max_samples):  # a row group per cell: memory of one cell
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = writer or pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
    else:
        max_samples = XLSX_SAMPLES if max_samples is None else max_samples
        cells = int(np.prod([ds.sizes[d] for d in ds.dims if d != "sample"]))
        rows = cells * min(max_samples, ds.sizes["sample"])
        if rows > _XLSX_ROWS:
            raise SimError(f"--max-samples: {rows // cells:,} samples of {cells} cells make {rows:,} rows; a "
                           f"spreadsheet holds at most {_XLSX_ROWS:,}: give at most {_XLSX_ROWS // cells:,}, or use "
                           "csv or parquet")
        sheets = {"samples": samples_frames(ds, max_samples=max_samples), "summary": [] if summary is None else
                  [summary], "about": [_about(ds, rows, max_samples)]}
        _workbook(path, sheets)
    return path


def _workbook(path: Path, sheets: dict) -> None:
    """A spreadsheet of one sheet per ``name -> tables`` (one header, the tables' rows one after another), written
    row by row (XlsxWriter's constant-memory mode; pandas' writer costs three times as long, in its per-cell
    formatting). Non-finite numbers become Excel's error values."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "nan_inf_to_errors": True})
    try:
        bold = book.add_format({"bold": True})
        for name, tables in sheets.items():
            sheet, row = None, 1
            for table in tables:
                if sheet is None:
                    sheet = book.add_worksheet(name)
                    sheet.write_row(0, 0, [str(c) for c in table.columns], bold)
                    sheet.freeze_panes(1, 0)
                for values in zip(*(table[c].tolist() for c in table.columns)):
                    sheet.write_row(row, 0, values)
                    row += 1
    finally:
        book.close()
