"""Run outputs for people: summary tables, CSV and NetCDF files, and the scenario report.

:mod:`.tables` turns results into tables and writes them; :mod:`.build`
assembles the report of a run (:func:`build_report`), :mod:`.figures` draws
its figures and :mod:`.document` renders it as HTML and Markdown.
"""

from .tables import (decision_frame, evppi_frame, format_table, importance_order, merge_frames, merge_results, point_frame,
                     sensitivity_frame, summarize_run, summary_frame, summary_table, write_dataset,
                     write_table)

__all__ = ["summarize_run", "summary_table", "summary_frame", "point_frame", "format_table", "importance_order", "write_table",
           "write_dataset",
           "merge_frames", "merge_results", "sensitivity_frame", "decision_frame", "evppi_frame",
           "build_report", "write_report"]


def __getattr__(name):  # the report pulls in matplotlib: load it only when asked for
    if name in ("build_report", "write_report"):
        from . import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
