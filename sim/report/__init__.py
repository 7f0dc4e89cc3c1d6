"""Views of results for people: console tables, CSV tables, and the scenario report as HTML and Markdown.

:mod:`.format` writes numbers as text (shared with the explorer),
:mod:`.tables` lays results out as tables, :mod:`.console` is what each
command prints, :mod:`.build` makes the report's document from its content
(:func:`sim.studies.content.report_content`), :mod:`.figures` draws its
figures and :mod:`.document` renders it. Nothing here computes a result or
writes a file.
"""

from .format import format_table, per_unit, percent, quantity, verdict_sentence
from .tables import (decision_files, decision_frame, evppi_frame, importance_order, merge_frames, point_frame,
                     sensitivity_files, sensitivity_frame, summary_frame, summary_table)

__all__ = ["summary_table", "summary_frame", "point_frame", "format_table", "importance_order", "merge_frames",
           "sensitivity_frame", "decision_frame", "evppi_frame", "sensitivity_files", "decision_files", "quantity",
           "percent", "per_unit", "verdict_sentence", "build_report", "render"]


def __getattr__(name):  # the report pulls in matplotlib: load it only when asked for
    if name == "build_report":
        from .build import build_report

        return build_report
    if name == "render":
        from .document import render

        return render
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
