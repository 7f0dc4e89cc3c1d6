"""Analyses of run Datasets: Dataset in, Dataset (or DataArray) out; they never run the model or write files.

:mod:`.summary` (summaries with their Monte Carlo intervals), :mod:`.sensitivity`
(what drives an output, from one run), :mod:`.decision` (deploy or not),
:mod:`.cells` (choosing cells); :mod:`._array` holds the numerical kernels they share.
"""

from .summary import exceedance, output_names, summarize, summarize_run

__all__ = ["summarize", "summarize_run", "exceedance", "output_names"]
