"""A report as data (sections of text, tables and figures) rendered as HTML and Markdown.

One :class:`Document` gives both renderings, so the two always say the same:
:func:`render` draws its figures as PNG and returns a :class:`Rendered`
report, which the store writes into the run folder. The HTML page is
self-contained (figures embedded as PNG data, styles inline); the Markdown
file links the figures (``figures/<name>.png``) and tables
(``tables/<name>.csv``, at full precision) the store writes beside it.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._parallel import forked_map
from ..store import FIGURES, TABLES
from .format import display, heading

__all__ = ["Text", "Table", "Plot", "Absent", "Section", "Document", "Rendered", "render", "render_html",
           "render_markdown", "png"]


@dataclass
class Text:
    """A paragraph; ``lead`` is shown in bold before it."""

    text: str
    lead: str = ""


@dataclass
class Table:
    """A table shown with numbers to 4 significant digits and written in full as ``tables/<name>.csv``.

    ``highlight`` names a boolean column: its rows are highlighted and the
    column itself is not shown (it stays in the CSV).
    """

    name: str
    frame: pd.DataFrame
    caption: str
    highlight: str | None = None
    units: dict | None = None

    def heading(self, column) -> str:
        """A column's header: its readable name, and its unit where the table gives one."""
        unit = (self.units or {}).get(column)
        return heading(column) + (f" ({unit})" if unit and unit != "1" else "")


@dataclass
class Plot:
    """A figure, written as ``figures/<name>.png``: ``figure`` is the figure, or a function of no arguments that
    makes it (the report's are made where they are drawn, in a forked process: see :func:`render`)."""

    name: str
    figure: object
    caption: str

    def make(self):
        """The figure (made now, if ``figure`` is the function that makes it)."""
        return self.figure() if callable(self.figure) else self.figure


@dataclass
class Absent:
    """What a section does not show, and why."""

    text: str


@dataclass
class Section:
    id: str
    title: str
    blocks: list = field(default_factory=list)


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]


def png(figure, dpi: int = 100) -> bytes:
    """``figure`` rasterised as PNG bytes (where nearly all of a report's time goes). Its texts are drawn as
    written: a ``$`` in a user's long name is a dollar sign, never the start of matplotlib's mathtext."""
    from matplotlib.text import Text

    for text in figure.findobj(Text):
        text.set_parse_math(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _rasterised(plots: list[Plot], jobs: int | None = None) -> list[bytes]:
    """Each plot's figure made and drawn as PNG bytes in forked processes (:func:`sim._parallel.forked_map`: making
    and drawing figures is Python-bound, text and tick layout), the same bytes as made and drawn here."""
    return forked_map(lambda i: png(plots[i].make()), len(plots), jobs)


def _shown(table: Table) -> pd.DataFrame:
    return table.frame.drop(columns=[table.highlight]) if table.highlight else table.frame


#: Tables longer than this are folded in the HTML report (click to open); figures carry their content.
FOLD_ROWS = 15

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;background:#fff;
line-height:1.5}
main{max-width:1180px;margin:0 auto;padding:1.5rem 2rem 4rem}
header h1{font-size:1.7rem;margin:0 0 .3rem}
.subtitle{color:#4a5566;margin:0 0 1rem}
nav ol{columns:2;font-size:.9rem;padding-left:1.3rem}
section{border-top:1px solid #dde2ea;margin-top:2rem;padding-top:.5rem}
h2{font-size:1.3rem}
table{border-collapse:collapse;font-size:.82rem;margin:.5rem 0 .3rem;display:block;overflow-x:auto;max-width:100%}
th,td{padding:.25rem .45rem;border-bottom:1px solid #e4e8ef;text-align:right;white-space:nowrap}
th{background:#f3f5f9;position:sticky;top:0;white-space:normal;vertical-align:bottom;min-width:3.5rem}
td .ci{display:block;color:#5a6474;font-size:.72rem}
@media (max-width:1000px){main{padding:1rem}table,table tbody,table tr,table td,table caption{display:block;width:auto}
table thead{display:none}table tr{border-bottom:1px solid #c9d0db;padding:.3rem 0}
table td{border:0;text-align:left;white-space:normal;padding:.1rem .3rem;max-width:none}
table td::before{content:attr(data-label) ": ";color:#5a6474}table td .ci{display:inline;margin-left:.4rem}
table td .ci::before{content:"("}table td .ci::after{content:")"}}
td.text,th.text{text-align:left;white-space:normal;max-width:28rem}
tr.highlight td{background:#fff1c2}
caption{caption-side:bottom;text-align:left;color:#4a5566;font-size:.82rem;padding-top:.3rem}
figure{margin:1rem 0}
figure img{max-width:100%;height:auto;border:1px solid #eef0f4}
figcaption{color:#4a5566;font-size:.85rem}
details{margin:.6rem 0}
summary{cursor:pointer;color:#2a4d8f;font-size:.9rem}
.absent{background:#f4f6fa;border-left:4px solid #9aa5b8;padding:.5rem .8rem;color:#3a4456}
code{background:#f3f5f9;padding:.1rem .3rem;border-radius:3px;font-size:.85rem}
"""


def _is_text(column: pd.Series) -> bool:
    """A column of words (left-aligned, wrapped), not of numbers or flags: object or string dtype alike."""
    return not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column))


#: Column endings of a value's 95 % interval, shown in the HTML under the value rather than as columns of their own.
_INTERVAL = ("_ci_lower", "_ci_upper")


def _intervals(columns) -> dict[str, tuple[str, str]]:
    """The columns that have both interval columns beside them: ``p_profitable`` -> its lower and upper."""
    names = set(map(str, columns))
    return {c: (f"{c}{_INTERVAL[0]}", f"{c}{_INTERVAL[1]}") for c in names
            if f"{c}{_INTERVAL[0]}" in names and f"{c}{_INTERVAL[1]}" in names}


def _html_table(table: Table) -> str:
    """The table in HTML: a value's 95 % interval under it in the same cell (the CSV keeps the columns), headers
    that wrap, numbers as :func:`~.format.display` writes them."""
    shown = _shown(table)
    intervals = _intervals(shown.columns)
    folded = {c for pair in intervals.values() for c in pair}
    columns = [c for c in shown.columns if c not in folded]
    text_cols = {c for c in columns if _is_text(shown[c])}

    def head(c):
        label = table.heading(c) + (" (95 % interval)" if c in intervals else "")
        return f'<th class="{"text" if c in text_cols else "num"}" scope="col">{html.escape(label)}</th>'

    def cell(c, row):
        text = html.escape(display(row[c]))
        if c in text_cols:
            text = text.replace("_", "_<wbr>")  # a long name may break after its underscores
        if c in intervals:
            lo, hi = (display(row[k]) for k in intervals[c])
            text += f'<span class="ci">{html.escape(lo)} to {html.escape(hi)}</span>' if lo or hi else ""
        label = html.escape(table.heading(c), quote=True)
        return f'<td class="{"text" if c in text_cols else "num"}" data-label="{label}">{text}</td>'

    rows = []
    marks = table.frame[table.highlight].to_numpy(bool) if table.highlight else np.zeros(len(shown), bool)
    for mark, (_, row) in zip(marks, shown.iterrows()):
        cells = "".join(cell(c, row) for c in columns)
        rows.append(f'<tr class="highlight">{cells}</tr>' if mark else f"<tr>{cells}</tr>")
    head = "".join(head(c) for c in columns)
    return (f'<table data-table="{html.escape(table.name)}"><caption>{html.escape(table.caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def render_html(doc: Document, images: dict[str, bytes]) -> str:
    """The report as one self-contained HTML page (``images``: PNG bytes by figure name)."""
    parts = [f"<header><h1>{html.escape(doc.title)}</h1><p class=\"subtitle\">{html.escape(doc.subtitle)}</p>",
             "<nav><ol>" + "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in doc.sections)
             + "</ol></nav></header>"]
    for section in doc.sections:
        parts.append(f'<section id="{section.id}"><h2>{html.escape(section.title)}</h2>')
        for block in section.blocks:
            if isinstance(block, Text):
                lead = f"<strong>{html.escape(block.lead)}</strong> " if block.lead else ""
                parts.append(f"<p>{lead}{html.escape(block.text)}</p>")
            elif isinstance(block, Table):
                table = _html_table(block)
                if len(block.frame) > FOLD_ROWS:
                    table = (f"<details><summary>{html.escape(block.caption)} ({len(block.frame)} rows; "
                             f"<code>{TABLES}/{html.escape(block.name)}.csv</code>)</summary>{table}</details>")
                parts.append(table)
            elif isinstance(block, Plot):
                data = base64.b64encode(images[block.name]).decode("ascii")
                parts.append(f'<figure id="figure-{block.name}"><img src="data:image/png;base64,{data}" '
                             f'alt="{html.escape(block.caption)}"><figcaption>{html.escape(block.caption)}'
                             "</figcaption></figure>")
            elif isinstance(block, Absent):
                parts.append(f'<p class="absent">{html.escape(block.text)}</p>')
        parts.append("</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(doc.title)}</title><style>{_CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")


_TAG = re.compile(r"<(?=[A-Za-z/!?])")


def _md(text: str) -> str:
    """Text for Markdown, whose viewers render HTML: a ``<`` that would open a tag or comment becomes ``&lt;``.

    A ``<`` before a space or a digit (``< 0.1 %``) opens nothing and stays as it is.
    """
    return _TAG.sub("&lt;", str(text))


def _md_cell(text: str) -> str:
    return _md(text).replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> str:
    shown = _shown(table)
    marks = table.frame[table.highlight].to_numpy(bool) if table.highlight else np.zeros(len(shown), bool)
    lines = ["| " + " | ".join(_md_cell(table.heading(c)) for c in shown.columns) + " |",
             "|" + "|".join("---" if _is_text(shown[c]) else "---:" for c in shown.columns) + "|"]
    for mark, row in zip(marks, shown.itertuples(index=False)):
        cells = [_md_cell(display(v)) for v in row]
        if mark:
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    note = " Rows in bold are a scenario's overrides." if table.highlight else ""
    return "\n".join(lines) + f"\n\n*{_md_cell(table.caption)}{note}* (`{TABLES}/{table.name}.csv`)"


def render_markdown(doc: Document) -> str:
    """The report as Markdown; figures link ``figures/<name>.png``."""
    out = [f"# {_md(doc.title)}", "", _md(doc.subtitle), ""]
    out += [f"{i}. [{_md(s.title)}](#{s.id})" for i, s in enumerate(doc.sections, 1)] + [""]
    for section in doc.sections:
        out += [f'<a id="{section.id}"></a>', "", f"## {_md(section.title)}", ""]
        for block in section.blocks:
            if isinstance(block, Text):
                out.append((f"**{_md(block.lead)}** " if block.lead else "") + _md(block.text))
            elif isinstance(block, Table):
                out.append(_md_table(block))
            elif isinstance(block, Plot):
                out.append(f"![{_md_cell(block.caption)}]({FIGURES}/{block.name}.png)\n\n*{_md(block.caption)}*")
            elif isinstance(block, Absent):
                out.append(f"> {_md(block.text)}")
            out.append("")
    return "\n".join(out)


def _blocks(doc: Document, kind: type):
    return [b for s in doc.sections for b in s.blocks if isinstance(b, kind)]


@dataclass(frozen=True)
class Rendered:
    """A report ready to write: the HTML page, the Markdown text, each figure as PNG bytes and each table, by name."""

    html: str
    markdown: str
    figures: dict[str, bytes]
    tables: dict[str, pd.DataFrame]


def render(doc: Document) -> Rendered:
    """Draw ``doc``'s figures and render it as HTML and Markdown."""
    plots = list(_blocks(doc, Plot))
    images = dict(zip((p.name for p in plots), _rasterised(plots)))
    return Rendered(render_html(doc, images), render_markdown(doc), images,
                    {t.name: t.frame for t in _blocks(doc, Table)})
