"""Views of the model's graph (:class:`~sim.studies.graph.ModelGraph`): as text for ``sim models --graph``, and
as a figure, priors on the left and outputs to the right of what they read, each prior coloured by its share of
an output's variance."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

__all__ = ["graph_text", "graph_figure", "columns"]

#: Border colours of outputs with a role (Okabe-Ito vermillion and bluish green), others grey.
ROLE_COLOURS = {"cost": "#d55e00", "revenue": "#009e73"}
_HOW = {"formulas": "edges from the formulas", "evaluation": "edges found by evaluating the model with each prior "
                                                            "moved alone, from each prior to every output it reaches"}


def graph_text(graph) -> str:
    """Each output and what it reads, one line each."""
    kinds = {k: sum(1 for v in graph.inputs.values() if v == k) for k in ("prior", "fixed", "swept")}
    said = ", ".join(f"{n} {k}" for k, n in kinds.items() if n)
    lines = [f"{graph.model}: {len(graph.inputs)} inputs ({said}) -> {len(graph.outputs)} outputs "
             f"({_HOW[graph.how]})"]
    width = max(len(o) for o in graph.outputs)
    for output, role in graph.outputs.items():
        lines.append(f"  {output:<{width}} <- {', '.join(graph.sources(output)) or '(nothing)'}"
                     + (f"  [{role}]" if role else ""))
    unused = [n for n in graph.inputs if not any(s == n for s, _ in graph.edges)]
    if unused:
        lines.append(f"  read by no output: {', '.join(unused)}")
    return "\n".join(lines)


def columns(graph) -> list[list[str]]:
    """The nodes in columns, ordered to cross few edges: the inputs first, then each output one column to the
    right of the furthest thing it reads."""
    depth = {n: 0 for n in graph.inputs}
    pending = dict.fromkeys(graph.outputs)
    while pending:  # the graph is acyclic (formulas are ordered when read), so each pass places at least one
        for output in list(pending):
            sources = graph.sources(output)
            if all(s in depth for s in sources):
                depth[output] = 1 + max((depth[s] for s in sources), default=0)
                del pending[output]
    cols = [[n for n in depth if depth[n] == d] for d in range(max(depth.values()) + 1)]
    cols = [c for c in cols if c]
    position = {n: i / max(len(c) - 1, 1) for c in cols for i, n in enumerate(c)}
    for _ in range(3):  # barycentre ordering: inputs by where their readers sit, outputs by where their sources do
        for i, col in enumerate(cols):
            def centre(n, col_index=i):
                linked = [position[t] for s, t in graph.edges if s == n] if col_index == 0 else \
                    [position[s] for s, t in graph.edges if t == n]
                return np.mean(linked) if linked else position[n]
            col.sort(key=centre)
            position.update({n: j / max(len(col) - 1, 1) for j, n in enumerate(col)})
    return cols


def graph_figure(graph, shares: dict[str, float] | None = None, *, focus: str | None = None,
                 share_label: str = "") -> Figure:
    """The graph drawn: a box per prior and output, an arrow per edge; priors filled by ``shares`` (each prior's
    share of the variance of ``focus``, 0 to 1) where given, outputs bordered by their role."""
    cols = columns(graph)
    rows = max(len(c) for c in cols)
    fig = Figure(figsize=(1.0 + 2.7 * len(cols), max(3.0, 0.3 * rows + 1.2)), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(-0.5, len(cols) - 0.5)
    ax.set_ylim(-0.6, rows - 0.4)
    cmap, norm = colormaps["Blues"], Normalize(0.0, max([*(shares or {}).values(), 1e-12]))
    boxes = {}
    for x, col in enumerate(cols):
        offset = (rows - len(col)) / 2
        for i, name in enumerate(col):
            y = rows - 1 - (offset + i)
            if name in graph.inputs:
                value = (shares or {}).get(name)
                face = "white" if value is None else cmap(0.15 + 0.85 * norm(value))
                text_colour = "white" if value is not None and norm(value) > 0.6 else "black"
                style = dict(boxstyle="round,pad=0.25", fc=face, ec="0.5", lw=0.6,
                             ls="--" if graph.inputs[name] == "fixed" else "-")
            else:
                text_colour = "black"
                style = dict(boxstyle="square,pad=0.3", fc="0.95", ec=ROLE_COLOURS.get(graph.outputs[name], "0.4"),
                             lw=2.0 if name == focus else 1.0)
            boxes[name] = ax.text(x, y, name, ha="center", va="center", fontsize=7.5, color=text_colour, bbox=style,
                                  fontweight="bold" if name == focus else "normal", zorder=3)
    alpha = 0.55 if len(graph.edges) <= 40 else 0.25
    for source, target in graph.edges:
        ax.annotate("", xy=(0.0, 0.5), xycoords=boxes[target], xytext=(1.0, 0.5), textcoords=boxes[source],
                    arrowprops=dict(arrowstyle="-|>", lw=0.6, color="0.35", alpha=alpha, shrinkA=2, shrinkB=2),
                    zorder=1)
    if shares:
        bar = fig.colorbar(_mappable(cmap, norm), ax=ax, shrink=0.5, pad=0.01)
        bar.set_label(share_label, fontsize=8)
        bar.ax.tick_params(labelsize=7)
    ax.set_title(f"{graph.model}: what each output reads ({_HOW[graph.how]})", fontsize=9, wrap=True)
    return fig


def _mappable(cmap, norm):
    """The colour scale the priors are filled from (the colour map's range from 0.15 up, as the boxes use it)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LinearSegmentedColormap

    shown = LinearSegmentedColormap.from_list("share", [cmap(0.15), cmap(1.0)])
    return ScalarMappable(norm=norm, cmap=shown)
