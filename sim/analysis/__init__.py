"""Analyses of run Datasets: Dataset in, Dataset (or DataArray) out."""

from .summary import exceedance, output_names, summarize

__all__ = ["summarize", "exceedance", "output_names"]
