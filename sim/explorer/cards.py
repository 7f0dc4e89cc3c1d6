"""The explorer's cards, one per prior, and the reading of what is typed into them.

Input is read as numbers, lists of numbers or a TOML inline table; nothing
typed is executed. A bad entry is answered next to its input and changes
nothing.
"""

from __future__ import annotations

import html
import math
import tomllib

import numpy as np

from .. import _checks as check
from ..errors import ConfigError, SimError
from . import MAX_SAMPLES

__all__ = ["Card", "message", "sample_count", "seed", "at", "fmt", "histogram", "tick_formatter", "ERROR_STYLE"]

#: Where a bound goes among a prior's parameter fields: low before mode before high (others keep their order).
_READING_ORDER = {"low": -3, "mode": -2, "high": -1}

ERROR_STYLE = {"color": "#b00020", "font-size": "12px"}


def message(exc: Exception) -> str:
    """One line for an inline message: a file's error without the file (the card names the prior)."""
    if isinstance(exc, ConfigError):
        key = exc.key.rsplit(".", 1)[-1] if exc.key.count(".") >= 2 else ""
        return f"{key}: {exc.message}" if key else exc.message
    return " ".join(str(exc).split())


def _number(text: str, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise SimError(f"{what}: {text.strip()!r} is not a number; type one such as 0.5 or 2e9") from None
    if not math.isfinite(value):
        raise SimError(f"{what}: must be a finite number, got {text.strip()!r}")
    return value


def _numbers(text: str, what: str) -> list[float]:
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise SimError(f"{what}: give numbers separated by commas, such as 1, 2, 3")
    return [_number(p, what) for p in parts]


def _table(text: str) -> dict:
    """``dist = "normal", mean = 1, sd = 0.1`` (a TOML inline table's body) as a dict; TOML is data, never code."""
    body = text.strip().removeprefix("{").removesuffix("}")
    try:
        table = tomllib.loads(f"x = {{{body}}}")["x"]
    except tomllib.TOMLDecodeError as exc:
        raise SimError(f"not a TOML table body ({exc}); write such as dist = \"normal\", mean = 1, sd = 0.1") from None
    if not table:
        raise SimError("empty; write parameters such as dist = \"normal\", mean = 1, sd = 0.1")
    return table


def sample_count(text: str) -> int:
    """The samples box: a sample count up to :data:`MAX_SAMPLES`, checked as ``--samples`` is."""
    try:
        return check.sample_count(check.integer_text(text), high=MAX_SAMPLES, shown=repr(text.strip()))
    except SimError as exc:
        raise SimError(f"samples: {exc}") from None


def seed(text: str) -> int:
    """The seed box, checked as ``--seed`` is."""
    try:
        return check.seed(check.integer_text(text), shown=repr(text.strip()))
    except SimError as exc:
        raise SimError(f"seed: {exc}") from None


def at(da, cell: dict):
    """``da`` at ``cell`` (the cell's dims ``da`` lacks are skipped: revenue has no architecture)."""
    return da.sel({d: v for d, v in cell.items() if d in da.dims})


def fmt(value: float) -> str:
    return f"{value:.4g}"


def histogram(values: np.ndarray, bins: int = 40, span: tuple[float, float] | None = None) -> dict:
    """Quads of a density over the central 99 % of ``values`` (bars at the values of a discrete one)."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"left": [], "right": [], "top": []}
    distinct = np.unique(values[: min(values.size, 10_000)])
    if span is None and distinct.size <= 12 and np.isin(values, distinct).all():
        counts = np.array([np.count_nonzero(values == v) for v in distinct]) / values.size
        gap = np.diff(distinct).min() if distinct.size > 1 else max(abs(distinct[0]), 1.0)
        return {"left": distinct - 0.35 * gap, "right": distinct + 0.35 * gap, "top": counts / (0.7 * gap)}
    lo, hi = span if span is not None else np.quantile(values, [0.005, 0.995])
    if not hi > lo:
        lo, hi = lo - 0.5 * max(abs(lo), 1e-12), hi + 0.5 * max(abs(hi), 1e-12)
    top, edges = np.histogram(values, bins=bins, range=(lo, hi))
    top = top / (values.size * np.diff(edges))  # a density of all the samples, so tails outside the span lower it
    return {"left": edges[:-1], "right": edges[1:], "top": top}


def tick_formatter():
    """Axis ticks as their shortest form to six digits (1e+06, 250000, 0.000125), not bokeh's 1.000e+6."""
    from bokeh.models import PrintfTickFormatter

    return PrintfTickFormatter(format="%.6g")


class Card:
    """One prior: title, percentiles, density, parameter inputs, pin, reset, and an inline message."""

    def __init__(self, explorer, name: str):
        """``explorer``: the page (:class:`~.page.Explorer`) the card belongs to; ``name``: its prior."""
        from bokeh.layouts import column, row
        from bokeh.models import Button, ColumnDataSource, Div, TextInput
        from bokeh.plotting import figure

        self.explorer, self.name = explorer, name
        self.title = Div(width=280)
        self.stats = Div(width=280, css_classes=[f"sim-stats-{name}"])
        self.source = ColumnDataSource({"left": [], "right": [], "top": []})
        self.figure = figure(width=280, height=80, toolbar_location=None, tools="", y_axis_type=None,
                             min_border_left=6, min_border_right=12)
        self.figure.quad(left="left", right="right", top="top", bottom=0, source=self.source, fill_color="#999999",
                         fill_alpha=0.6, line_color=None)
        self.figure.xaxis.major_label_text_font_size = "9px"
        self.figure.xaxis.ticker.desired_num_ticks = 4
        self.figure.xaxis.formatter = tick_formatter()
        self.figure.grid.visible = False
        self.params = column(width=280)
        self.inputs: dict[str, TextInput] = {}
        self.other = TextInput(title="other parameters (TOML)", width=280, css_classes=[f"sim-toml-{name}"],
                               placeholder='dist = "normal", mean = 1, sd = 0.1')
        self.other.on_change("value", lambda attr, old, new: self._typed(self.other, self._other))
        self.pin = TextInput(title="pin to a value", width=180, css_classes=[f"sim-pin-{name}"])
        self.pin.on_change("value", lambda attr, old, new: self._typed(self.pin, self._pin))
        self.reset = Button(label="reset", width=80, css_classes=[f"sim-reset-{name}"])
        self.reset.on_click(lambda: self.explorer.apply(self, lambda w: w.reset(self.name)))
        self.error = Div(width=280, styles=ERROR_STYLE, css_classes=[f"sim-error-{name}"])
        self.layout = column(self.title, self.stats, self.figure, self.params, self.other,
                             row(self.pin, self.reset, styles={"align-items": "flex-end"}), self.error,
                             width=300, styles={"border": "1px solid #d0d0d0", "border-radius": "6px",
                                                "padding": "6px", "background": "#fafafa"})

    # what is shown

    def show(self) -> None:
        """Show the prior as the explorer now has it (percentiles, density, parameter inputs)."""
        what_if = self.explorer.what_if
        prior, values = what_if.priors[self.name], what_if.values(self.name)
        changed = self.name in what_if.changes
        mark = ' <span style="color:#d55e00">(changed)</span>' if changed else ""
        self.title.text = (f"<b>{html.escape(prior.long_name or self.name.replace('_', ' '))}</b>{mark}<br>"
                           f"<code>{html.escape(self.name)}</code> · {html.escape(prior.unit)}")
        if prior.is_fixed:
            self.stats.text = f"fixed at <b>{fmt(prior.point)}</b>"
            # hidden; a bar of no height keeps the plot's ranges defined
            self.source.data = {"left": [prior.point], "right": [prior.point], "top": [0.0]}
        else:
            p5, p50, p95 = (float(v) for v in prior.ppf(np.array([0.05, 0.5, 0.95])))
            self.stats.text = (f"{html.escape(prior.describe())}<br>5 % <b>{fmt(p5)}</b> · 50 % <b>{fmt(p50)}</b> · "
                               f"95 % <b>{fmt(p95)}</b> · point <b>{fmt(prior.point)}</b>")
            self.source.data = histogram(values)
        self.figure.visible = not prior.is_fixed
        self._parameter_inputs(prior)

    def _parameter_inputs(self, prior) -> None:
        from bokeh.layouts import row
        from bokeh.models import TextInput

        fields = {}
        # bounds in reading order (low, mode, high), whatever order the prior keeps its parameters in
        for key, value in sorted(prior.params, key=lambda kv: _READING_ORDER.get(kv[0], 0)):
            if key == "ci90":
                fields["ci90-low"] = ("90 % interval: low", fmt(value[0]))
                fields["ci90-high"] = ("90 % interval: high", fmt(value[1]))
            elif isinstance(value, (int, float)):
                fields[key] = (key, fmt(value))
            elif isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
                fields[key] = (f"{key} (comma-separated)", ", ".join(fmt(v) for v in value))
            # other parameters (a scipy distribution's name and params) change through the TOML input
        if not prior.is_fixed:
            fields["point"] = ("point (the value point mode uses)", fmt(prior.point))
        with self.explorer.quiet():
            if list(fields) != list(self.inputs):
                self.inputs = {}
                for key, (title, _) in fields.items():
                    width = 135 if key.startswith("ci90") else 280
                    box = TextInput(title=title, width=width, css_classes=[f"sim-{key}-{self.name}"])
                    box.on_change("value", lambda attr, old, new, key=key: self._typed(self.inputs[key],
                                                                                        lambda: self._param(key)))
                    self.inputs[key] = box
                boxes = list(self.inputs.values())
                lines = [row(*boxes[:2])] if "ci90-low" in self.inputs else []
                lines += boxes[2:] if lines else boxes
                self.params.children = lines
            for key, (_, text) in fields.items():
                self.inputs[key].value = text
            self.pin.value = ""
            self.other.value = ""

    # what is typed

    def _typed(self, box, read) -> None:
        """Apply the change ``read()`` reads from the boxes (bad text is answered beside the box, as a bad change)."""
        if self.explorer.silent or not box.value.strip():
            return
        self.explorer.apply(self, lambda w: read()(w))

    def _param(self, key: str):
        """The change the parameter ``key``'s box asks for, as a function of the what-if."""
        prior = self.explorer.what_if.priors[self.name]
        if key.startswith("ci90"):
            low = _number(self.inputs["ci90-low"].value, "90 % interval: low")
            high = _number(self.inputs["ci90-high"].value, "90 % interval: high")
            return lambda w: w.change(self.name, ci90=[low, high])
        old = dict(prior.params).get(key)
        text = self.inputs[key].value
        value = _numbers(text, key) if isinstance(old, tuple) else _number(text, key)
        return lambda w: w.change(self.name, **{key: value})

    def _other(self):
        table = _table(self.other.value)
        return lambda w: w.change(self.name, **table)

    def _pin(self):
        value = _number(self.pin.value, "pin")
        return lambda w: w.pin(self.name, value)
