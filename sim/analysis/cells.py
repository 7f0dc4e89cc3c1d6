"""Cells of a run: the coordinates besides ``sample`` (scenario, architecture, year ...) and choosing among them."""

from __future__ import annotations

from collections.abc import Iterable

import xarray as xr

from .. import _checks as check
from ..errors import SimError

__all__ = ["select", "cell_dims"]


def cell_dims(ds: xr.Dataset | xr.DataArray) -> list[str]:
    """The dims of ``ds`` that label cells: every dim but ``sample``."""
    return [d for d in ds.dims if d != "sample"]


def select(ds, pairs: Iterable[tuple[str, str]] | None, what: str = "run"):
    """``ds`` restricted to the cells named by ``(dim, value)`` pairs (``--select DIM=VALUE``), values as text.

    Each dim keeps a length-1 axis, so that results keep their cell dims.

    Raises
    ------
    SimError
        For a dim ``ds`` lacks (``what`` says what ``ds`` is, for the message) or a value the dim lacks.
    """
    if not pairs:
        return ds
    chosen = {}
    for dim, value in pairs:
        if dim not in ds.dims or dim == "sample":
            raise SimError(f"--select: no dim {dim!r} in the {what}; {check.choices(dim, cell_dims(ds))}")
        labels = [str(v) for v in ds[dim].values]
        if value not in labels:
            raise SimError(f"--select: {dim} has no value {value!r}; {check.choices(value, labels)}")
        chosen[dim] = [ds[dim].values[labels.index(value)]]
    return ds.sel(chosen)
