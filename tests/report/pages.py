"""Reading a built report in tests: its sections and figures, the cells of its HTML tables, the size of a PNG."""

import html.parser
import struct
from pathlib import Path

SECTIONS = ["verdict", "headline", "distributions", "decision", "scenarios", "sensitivity", "convergence", "outputs", "priors",
            "reproduce"]
FIGURES = ["distributions", "exceedance", "acceptability", "tornado", "spider", "sobol", "rank", "scatter", "evppi",
           "convergence", "model_graph", "assumptions"]


class Tables(html.parser.HTMLParser):
    """Cells of every ``<table data-table=...>``, rows marked when highlighted; ids of sections and figures."""

    def __init__(self):
        super().__init__()
        self.tables, self.ids, self.images = {}, [], []
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "table":
            self._table = self.tables.setdefault(a["data-table"], [])
        elif tag == "tr" and self._table is not None:
            self._row = {"highlight": a.get("class") == "highlight", "cells": []}
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(a["src"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = self._row = None


def parse_html(path: Path) -> Tables:
    parser = Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


