"""``sim explore``: the what-if explorer, a Bokeh server page over :class:`~sim.studies.explore.WhatIf`.

One browser tab is one :class:`Explorer`: the experiment's scenario on
uniforms drawn once, a card per prior (its density, percentiles and point,
inputs for its parameters, a pin and a reset), and the results of the
model's compared outputs (by their roles): densities of cost and revenue,
P(cost > revenue) with its Monte Carlo interval, the report's verdict, the
expected net benefit, EVPI and the drivers. A change re-maps one prior's
uniforms and re-evaluates the model; "save as scenario" writes the changes
into a new experiment file that ``sim run`` reproduces.

Input is read as numbers, lists of numbers or a TOML inline table; nothing
typed is executed. A bad entry is answered next to its input and changes
nothing.
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import itertools
import math
import socket
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

from .errors import ConfigError, SimError
from .experiment import Experiment, subject
from .models import cost_revenue_pairs
from .studies.explore import WhatIf

__all__ = ["Explorer", "serve", "is_loopback", "DEFAULT_SAMPLES", "MAX_SAMPLES"]

DEFAULT_SAMPLES = 100_000
#: The most samples the page accepts: about 4 s per change on two cores, and some 3 GB for the default experiment.
MAX_SAMPLES = 2_000_000
#: Rows of the measures table (cells); the cell selectors reach the others.
MAX_ROWS = 24
#: Drivers the bar chart shows.
MAX_DRIVERS = 10
COST_COLOUR, REVENUE_COLOUR = "#d55e00", "#0072b2"  # colour-blind safe (Okabe-Ito), as the report's figures
ERROR_STYLE = {"color": "#b00020", "font-size": "12px"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address) resolves to loopback addresses only."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


# --------------------------------------------------------------------------------------------------------------------
# parsing what is typed


def _message(exc: Exception) -> str:
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


def _sample_count(text: str) -> int:
    value = _number(text, "samples")
    if value != int(value) or not 2 <= value <= MAX_SAMPLES:
        raise SimError(f"samples: must be a whole number from 2 to {MAX_SAMPLES:,}, got {text.strip()!r}")
    return int(value)


def _seed(text: str) -> int:
    from argparse import ArgumentTypeError

    from .cli import _integer_from  # the command line's check of a whole number in a range

    try:
        return _integer_from(text.strip(), 0, "must be a whole number from 0 to 2**63 - 1", high=2**63 - 1)
    except ArgumentTypeError as exc:
        raise SimError(f"seed: {exc}") from None


def _at(da, cell: dict):
    """``da`` at ``cell`` (the cell's dims ``da`` lacks are skipped: revenue has no architecture)."""
    return da.sel({d: v for d, v in cell.items() if d in da.dims})


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _histogram(values: np.ndarray, bins: int = 40, span: tuple[float, float] | None = None) -> dict:
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


# --------------------------------------------------------------------------------------------------------------------
# the page


class _Card:
    """One prior: title, percentiles, density, parameter inputs, pin, reset, and an inline message."""

    def __init__(self, explorer: Explorer, name: str):
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
        self.figure.grid.visible = False
        self.params = column(width=280)
        self.inputs: dict[str, TextInput] = {}
        self.other = TextInput(title="other parameters (TOML)", width=280, css_classes=[f"sim-toml-{name}"],
                               placeholder='dist = "normal", mean = 1, sd = 0.1')
        self.other.on_change("value", lambda attr, old, new: self._typed(self.other, self._other))
        self.pin = TextInput(title="pin to a value", width=180, css_classes=[f"sim-pin-{name}"])
        self.pin.on_change("value", lambda attr, old, new: self._typed(self.pin, self._pin))
        self.reset = Button(label="reset", width=80, css_classes=[f"sim-reset-{name}"])
        self.reset.on_click(lambda: self.explorer.apply(self, lambda: self.explorer.what_if.reset(self.name)))
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
        changed = self.name in what_if.changed
        mark = ' <span style="color:#d55e00">(changed)</span>' if changed else ""
        self.title.text = (f"<b>{html.escape(prior.long_name or self.name.replace('_', ' '))}</b>{mark}<br>"
                           f"<code>{html.escape(self.name)}</code> · {html.escape(prior.unit)}")
        if prior.is_fixed:
            self.stats.text = f"fixed at <b>{_fmt(prior.point)}</b>"
            # hidden; a bar of no height keeps the plot's ranges defined
            self.source.data = {"left": [prior.point], "right": [prior.point], "top": [0.0]}
        else:
            p5, p50, p95 = (float(v) for v in prior.ppf(np.array([0.05, 0.5, 0.95])))
            self.stats.text = (f"{html.escape(prior.describe())}<br>5 % <b>{_fmt(p5)}</b> · 50 % <b>{_fmt(p50)}</b> · "
                               f"95 % <b>{_fmt(p95)}</b> · point <b>{_fmt(prior.point)}</b>")
            self.source.data = _histogram(values)
        self.figure.visible = not prior.is_fixed
        self._parameter_inputs(prior)

    def _parameter_inputs(self, prior) -> None:
        from bokeh.layouts import row
        from bokeh.models import TextInput

        fields = {}
        for key, value in prior.params:
            if key == "ci90":
                fields["ci90-low"] = ("90 % interval: low", _fmt(value[0]))
                fields["ci90-high"] = ("90 % interval: high", _fmt(value[1]))
            elif isinstance(value, (int, float)):
                fields[key] = (key, _fmt(value))
            elif isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
                fields[key] = (f"{key} (comma-separated)", ", ".join(_fmt(v) for v in value))
            # other parameters (a scipy distribution's name and params) change through the TOML input
        if not prior.is_fixed:
            fields["point"] = ("point (the value point mode uses)", _fmt(prior.point))
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

    def _typed(self, box, action) -> None:
        if self.explorer.silent or not box.value.strip():
            return
        self.explorer.apply(self, action)

    def _param(self, key: str) -> None:
        prior, what_if = self.explorer.what_if.priors[self.name], self.explorer.what_if
        if key.startswith("ci90"):
            low = _number(self.inputs["ci90-low"].value, "90 % interval: low")
            high = _number(self.inputs["ci90-high"].value, "90 % interval: high")
            what_if.change(self.name, ci90=[low, high])
            return
        old = dict(prior.params).get(key)
        text = self.inputs[key].value
        value = _numbers(text, key) if isinstance(old, tuple) else _number(text, key)
        what_if.change(self.name, **{key: value})

    def _other(self) -> None:
        self.explorer.what_if.change(self.name, **_table(self.other.value))

    def _pin(self) -> None:
        self.explorer.what_if.pin(self.name, _number(self.pin.value, "pin"))


class Explorer:
    """The what-if page of one browser tab: builds the Bokeh layout into ``doc`` and keeps it up to date.

    Parameters
    ----------
    doc : bokeh.document.Document
    experiment : Experiment
    samples : int
        Samples per evaluation (default 100,000).
    seed : int, optional
        Default: the experiment's.
    """

    def __init__(self, doc, experiment: Experiment, *, samples: int = DEFAULT_SAMPLES, seed: int | None = None):
        from bokeh.layouts import column, row
        from bokeh.models import Button, Div, Select, TextInput

        self.doc, self.experiment, self.seed, self.samples = doc, experiment, seed, samples
        self.silent, self.updates, self.results = False, 0, None
        self.explorers: dict[str, WhatIf] = {}
        names = list(experiment.scenario_names)
        self.what_if = self._explorer(names[0])
        roles = {name: out.role for name, out in experiment.model.outputs.items()}
        self.pairs = list(cost_revenue_pairs(roles)) or [(subject(experiment)[0], None)]
        self.pair = self.pairs[0]

        stem = Path(experiment.path).stem
        self.header = Div(width=1220, text=(
            f"<h2 style='margin:0'>{html.escape(experiment.title or stem)}</h2>"
            f"<div style='color:#555'>What-if explorer · <code>{html.escape(str(experiment.path))}</code> · model "
            f"<code>{html.escape(experiment.model.name)}</code> · every change re-maps one prior on the same random "
            "numbers (a new seed draws new ones)</div>"))
        self.scenario = Select(title="scenario", value=names[0], options=names, width=200,
                               css_classes=["sim-scenario"])
        self.scenario.on_change("value", lambda attr, old, new: self.guard(self._scenario))
        labels = [f"{cost} against {revenue}" if revenue else cost for cost, revenue in self.pairs]
        self.compare = Select(title="compare", value=labels[0], options=labels, width=320,
                              visible=len(labels) > 1, css_classes=["sim-compare"])
        self.compare.on_change("value", lambda attr, old, new: self.guard(self._compare))
        self.sample_box = TextInput(title="samples", value=str(samples), width=120, css_classes=["sim-samples"])
        self.seed_box = TextInput(title="seed", value=str(self.what_if.experiment.seed), width=120,
                                  css_classes=["sim-seed"])
        for box in (self.sample_box, self.seed_box):
            box.on_change("value", lambda attr, old, new: self.guard(self._settings, self.settings_error))
        self.settings_error = Div(width=300, styles=ERROR_STYLE, css_classes=["sim-settings-error"])
        self.reset_all = Button(label="reset every prior", width=140, css_classes=["sim-reset-all"])
        self.reset_all.on_click(lambda: self.guard(self._reset_all))
        self.status = Div(width=300, css_classes=["sim-status"], styles={"color": "#555"})
        self.cell_row = row()

        self.roles = Div(width=600)
        self.changes = Div(width=600, css_classes=["sim-changes"], styles={"color": "#555"})
        self.verdict = Div(width=600, css_classes=["sim-verdict"], styles={"font-size": "15px"})
        self.measures = Div(width=600, css_classes=["sim-measures"])
        self.density, self.density_sources = self._density_figure()
        self.drivers, self.driver_source = self._driver_figure()

        self.cards: dict[str, _Card] = {}
        self.card_grid = column()
        self.save_file = TextInput(title="file, beside the experiment", value=f"{stem}_what_if.toml", width=300,
                                   css_classes=["sim-save-file"])
        self.save_name = TextInput(title="scenario name", value="what_if", width=160, css_classes=["sim-save-name"])
        self.save_button = Button(label="save as scenario", button_type="primary", width=150,
                                  css_classes=["sim-save"])
        self.save_button.on_click(self.save_clicked)
        self.saved = Div(width=700, css_classes=["sim-saved"])

        self._cards()
        self.guard(self.update)
        self._cell_selects()
        self.show()
        layout = column(
            self.header,
            row(self.scenario, self.compare, self.cell_row, self.sample_box, self.seed_box, self.reset_all,
                styles={"align-items": "flex-end"}),
            row(self.settings_error, self.status),
            row(column(self.roles, self.changes, self.verdict, self.measures, self.density), column(self.drivers)),
            Div(text="<h3 style='margin:8px 0 0 0'>Assumptions</h3><div style='color:#555'>Type a new value and "
                     "press Enter (or leave the field). A 90 % interval refits the distribution; the TOML field "
                     "takes any parameter of a priors file, such as <code>dist = \"uniform\", low = 0.4, high = "
                     "0.8</code>.</div>", width=1220),
            self.card_grid,
            Div(text="<h3 style='margin:8px 0 0 0'>Save as scenario</h3><div style='color:#555'>Writes a copy of the "
                     "experiment file with the changes as a new scenario; an existing file is never replaced."
                     "</div>", width=1220),
            row(self.save_file, self.save_name, self.save_button, styles={"align-items": "flex-end"}),
            self.saved,
        )
        doc.title = f"sim explore: {stem}"
        doc.add_root(layout)

    # --- state ------------------------------------------------------------------------------------------------------

    def _explorer(self, scenario: str) -> WhatIf:
        if scenario not in self.explorers:
            self.explorers[scenario] = WhatIf(self.experiment, scenario, samples=self.samples, seed=self.seed)
        return self.explorers[scenario]

    @contextlib.contextmanager
    def quiet(self):
        """A context in which setting an input's value does not count as typing."""
        before, self.silent = self.silent, True
        try:
            yield
        finally:
            self.silent = before

    def guard(self, action, where=None) -> bool:
        """Run ``action``; bad input is shown in ``where`` (default: the status line) and changes nothing."""
        where = where if where is not None else self.status
        if where is not self.status:
            where.text = ""
        try:
            action()
        except SimError as exc:
            where.text = html.escape(_message(exc))
            return False
        except Exception as exc:  # the page stays up: one line here and on the server's stderr
            where.text = html.escape(f"unexpected error: {type(exc).__name__}: {_message(exc)}")
            print(f"sim explore: unexpected error: {type(exc).__name__}: {_message(exc)}", file=sys.stderr)
            return False
        return True

    def apply(self, card: _Card, change) -> None:
        """Make a change to ``card``'s prior and show its effects; bad input leaves everything as it was."""
        before = self.what_if.priors[card.name]

        def action():
            change()
            try:
                self.update()
            except Exception:
                self.what_if.use(before)  # a change the model cannot evaluate is undone
                raise

        if self.guard(action, card.error):
            card.show()
            self.show()
        else:
            card.error.text += html.escape(f"; kept {self.what_if.priors[card.name].describe()}")

    # --- callbacks ----------------------------------------------------------------------------------------------------

    def _scenario(self) -> None:
        self.what_if = self._explorer(self.scenario.value)
        self._cards()
        self.update()
        self.show()

    def _compare(self) -> None:
        labels = list(self.compare.options)
        self.pair = self.pairs[labels.index(self.compare.value)]
        self._cell_selects()
        self.show()

    def _settings(self) -> None:
        """New samples or seed: every scenario explored so far drawn again, its changes kept."""
        if self.silent:
            return
        from .engine import check_memory

        samples, seed = _sample_count(self.sample_box.value), _seed(self.seed_box.value)
        if samples == self.samples and seed == self.what_if.experiment.seed:
            return
        check_memory(self.what_if.experiment, samples, work="decide")
        self.explorers = {name: w.resampled(samples, seed) for name, w in self.explorers.items()}
        self.samples, self.seed, self.what_if = samples, seed, self.explorers[self.what_if.scenario]
        for card in self.cards.values():
            card.show()
        self.update()
        self.show()

    def _reset_all(self) -> None:
        self.what_if.reset()
        for card in self.cards.values():
            card.error.text = ""
            card.show()
        self.update()
        self.show()

    def save_clicked(self) -> None:
        """"Save as scenario": the changes as a scenario of a new experiment file beside the experiment."""
        self.guard(self._save, self.saved)

    def _save(self) -> None:
        name = self.save_file.value.strip()
        if not name or Path(name).name != name or not name.endswith(".toml"):
            raise SimError(f"file: give a file name ending in .toml, without a folder (it is saved beside "
                           f"{self.experiment.path}), got {name!r}")
        path = Path(self.experiment.path).parent / name
        scenario = self.save_name.value.strip()
        self.what_if.save(path, scenario)
        command = f"sim run {path} --scenario {scenario} --samples {self.samples} --seed {self.what_if.experiment.seed}"
        self.saved.text = (f"Saved <code>{html.escape(str(path))}</code>. <code>{html.escape(command)}</code> gives "
                           "the numbers shown.")

    # --- results ------------------------------------------------------------------------------------------------------

    def update(self) -> None:
        """Evaluate the model on the current priors (the shown results follow with :meth:`show`)."""
        start = time.perf_counter()
        self.results = self.what_if.results()
        cost, revenue = self.pairs[0]
        if revenue is None:  # no (cost, revenue) pair: the drivers of the cost itself, as often as the results
            self.results["pairs"][(cost, None)] = {"drivers": self.what_if.drivers(self.results["dataset"], cost)}
        self.updates += 1
        self.status.text = (f"update {self.updates}: {self.samples:,} samples of {self.what_if.scenario} in "
                            f"{time.perf_counter() - start:.2f} s")

    def _cards(self) -> None:
        from bokeh.layouts import row

        self.cards = {name: _Card(self, name) for name in self.what_if.inputs}
        for card in self.cards.values():
            card.show()
        layouts = [card.layout for card in self.cards.values()]
        self.card_grid.children = [row(*layouts[i:i + 4]) for i in range(0, len(layouts), 4)]

    def _cell_dims(self) -> dict[str, list]:
        """The cell dims of the compared outputs and their coordinate values (a selector shows them as text)."""
        ds = self.results["dataset"]
        names = [n for n in self.pair if n]
        dims = dict.fromkeys(d for n in names for d in ds[n].dims if d not in ("scenario", "sample"))
        return {d: list(ds[d].values) for d in dims}

    def _cell_selects(self) -> None:
        from bokeh.models import Select

        selects = []
        for dim, values in self._cell_dims().items():
            labels = [str(v) for v in values]
            select = Select(title=dim, value=labels[0], options=labels, width=190, css_classes=[f"sim-cell-{dim}"])
            select.on_change("value", lambda attr, old, new: self.guard(self.show))
            selects.append(select)
        self.cell_row.children = selects

    def _cell(self) -> dict:
        """The chosen cell: each selector's text as its dim's coordinate value."""
        dims = self._cell_dims()
        return {s.title: dims[s.title][s.options.index(s.value)] for s in self.cell_row.children}

    def show(self) -> None:
        """Show the last results at the chosen cell: roles, verdict, measures, densities and drivers."""
        from .report.build import quantity, verdict  # imported with the first page: the server starts sooner
        ds, summary = self.results["dataset"], self.results["summary"]
        cost, revenue = self.pair
        scenario = self.what_if.scenario
        cell = {"scenario": scenario, **self._cell()}
        long = {n: ds[n].attrs.get("long_name") or n for n in self.pair if n}
        units = ds[cost].attrs.get("units", "")
        self.roles.text = (f"<b>{html.escape(long[cost])}</b> (<code>{cost}</code>, role cost)" +
                           (f" against <b>{html.escape(long[revenue])}</b> (<code>{revenue}</code>, role revenue)"
                            if revenue else " (the model has no output with role revenue)"))
        where = ", ".join(str(v) for d, v in cell.items() if d != "scenario")
        if revenue:
            sentence = verdict(summary, cost, revenue, cell, self.what_if.experiment)
        else:
            at = _at(summary[cost], cell)
            sentence = (f"The {long[cost]} has mean {quantity(float(at.sel(stat='mean')), units)} and 90 % interval "
                        f"{quantity(float(at.sel(stat='p05')), units, per=False)} to "
                        f"{quantity(float(at.sel(stat='p95')), units)}.")
        self.verdict.text = (f"<b>{html.escape(where)}:</b> " if where else "") + html.escape(sentence)
        changed = self.what_if.changed
        self.changes.text = ("Changed: " + "; ".join(f"<code>{html.escape(n)}</code> {html.escape(p.describe())}"
                                                      for n, p in changed.items())
                             if changed else "No prior changed: the experiment's scenario as it is.")
        self.measures.text = self._measures(cost, revenue)
        self._densities(ds, cost, revenue, cell, long, units)
        self._driver_bars(cost, revenue, cell)

    def _measures(self, cost: str, revenue: str | None) -> str:
        """The table of the cells: P(cost > revenue) with its interval, ENB, EVPI and the mean cost, the chosen cell
        marked. Past :data:`MAX_ROWS` cells, the cells that differ from the chosen one in the last dim alone."""
        from .report.build import per_unit, percent, quantity

        ds, summary = self.results["dataset"], self.results["summary"]
        dims = self._cell_dims()
        chosen = self._cell()
        cells = [dict(zip(dims, combo)) for combo in itertools.product(*dims.values())] or [{}]
        total = len(cells)
        if total > MAX_ROWS:
            fixed = list(dims)[:-1]
            cells = [c for c in cells if all(c[d] == chosen.get(d) for d in fixed)][:MAX_ROWS]
        n = ds.sizes["sample"]
        units = ds[cost].attrs.get("units", "")
        per = per_unit(units)
        head = "".join(f"<th>{html.escape(d)}</th>" for d in dims)
        if revenue:
            head += (f"<th>P(cost &gt; revenue)</th><th>95 % interval</th><th>expected net benefit {per}</th>"
                     f"<th>EVPI {per}</th>")
        head += f"<th>mean cost {per}</th>"

        def amount(da):
            return quantity(float(da), units, per=False)

        pair, rows = self.results["pairs"].get((cost, revenue)), []
        for cell in cells:
            at = {"scenario": self.what_if.scenario, **cell}
            labels = [str(v) for v in cell.values()]
            tds = "".join(f"<td>{html.escape(v)}</td>" for v in labels)
            if revenue:
                p = float(_at(pair["p_loss"], at))
                ci = _at(pair["p_loss_ci"], at)
                k = int(round(p * n))
                tds += (f"<td class='p-loss' data-cell='{html.escape(','.join(labels))}' data-k='{k}'>"
                        f"<b>{percent(p)}</b><br><small>{k:,} of {n:,}</small></td>"
                        f"<td>{percent(float(ci.sel(ci_bound='lower')))} to "
                        f"{percent(float(ci.sel(ci_bound='upper')))}</td>"
                        f"<td>{amount(_at(pair['net_benefit'], at))}</td><td>{amount(_at(pair['evpi'], at))}</td>")
            tds += f"<td>{amount(_at(summary[cost], at).sel(stat='mean'))}</td>"
            rows.append(f"<tr{' class=chosen' if cell == chosen else ''}>{tds}</tr>")
        more = (f"<div style='color:#555'>{len(cells)} of the {total} cells: those of the chosen "
                f"{', '.join(list(dims)[:-1])}; the selectors above reach every one.</div>" if total > len(cells) else "")
        style = ("<style>.box{max-height:330px;overflow:auto}table{border-collapse:collapse;font-size:13px}"
                 "th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}"
                 "th{background:#f2f2f2;position:sticky;top:0}tr.chosen td{background:#fff3e0}</style>")
        return (f"{style}<div class='box'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
                f"</div>{more}")

    def _density_figure(self):
        from bokeh.models import ColumnDataSource, Legend
        from bokeh.plotting import figure

        fig = figure(width=600, height=260, toolbar_location=None, tools="", y_axis_type=None,
                     title="density of the compared outputs", css_classes=["sim-density"])
        sources = {}
        items = []
        for key, colour in (("cost", COST_COLOUR), ("revenue", REVENUE_COLOUR)):
            sources[key] = ColumnDataSource({"left": [], "right": [], "top": []})
            glyph = fig.quad(left="left", right="right", top="top", bottom=0, source=sources[key], fill_color=colour,
                             fill_alpha=0.35, line_color=colour, line_alpha=0.6)
            items.append((key, [glyph]))
        fig.add_layout(Legend(items=items, location="top_right"))
        fig.grid.visible = False
        return fig, sources

    def _densities(self, ds, cost, revenue, cell, long, units) -> None:
        shown = {"cost": _at(ds[cost], cell).values.ravel(),
                 "revenue": _at(ds[revenue], cell).values.ravel() if revenue else np.array([])}
        both = np.concatenate(list(shown.values()))
        both = both[np.isfinite(both)]
        span = tuple(np.quantile(both, [0.005, 0.995])) if both.size else (0.0, 1.0)
        for key, values in shown.items():
            self.density_sources[key].data = (_histogram(values, bins=60, span=span) if values.size
                                              else {"left": [], "right": [], "top": []})
        legend = self.density.legend[0]
        legend.items[0].label = {"value": long[cost]}
        legend.items[1].label = {"value": long[revenue] if revenue else ""}
        legend.items[1].visible = bool(revenue)
        self.density.xaxis.axis_label = units

    def _driver_figure(self):
        from bokeh.models import ColumnDataSource, FactorRange
        from bokeh.plotting import figure

        source = ColumnDataSource({"name": [], "value": [], "colour": []})
        fig = figure(width=600, height=360, y_range=FactorRange(), x_range=(-1, 1), toolbar_location=None,
                     tools="", title="drivers of the net benefit", css_classes=["sim-drivers"])
        fig.hbar(y="name", right="value", left=0, height=0.7, source=source, fill_color="colour", line_color=None)
        fig.xaxis.axis_label = "Spearman rank correlation"
        fig.ygrid.visible = False
        return fig, source

    def _driver_bars(self, cost, revenue, cell) -> None:
        self.drivers.title.text = ("drivers of the net benefit (revenue - cost)" if revenue else
                                   f"drivers: rank correlation with {cost}")
        drivers = _at(self.results["pairs"][(cost, revenue)]["drivers"], cell)
        values = np.nan_to_num(drivers.values.astype(float))
        order = np.argsort(-np.abs(values), kind="stable")[:MAX_DRIVERS]
        names = []
        for i in order:
            name = str(drivers["input"].values[i])
            label = self.what_if.priors[name].long_name or name
            names.append(label if label not in names else name)
        names, vals = names[::-1], values[order][::-1]  # largest at the top
        self.drivers.y_range.factors = names
        self.drivers.height = 110 + 26 * max(len(names), 1)  # bars of one height however many
        self.driver_source.data = {"name": names, "value": vals,
                                   "colour": [REVENUE_COLOUR if v >= 0 else COST_COLOUR for v in vals]}


# --------------------------------------------------------------------------------------------------------------------
# the server


def serve(experiment: Experiment, *, samples: int = DEFAULT_SAMPLES, seed: int | None = None,
          host: str = "127.0.0.1", port: int = 0, remote: bool = False, open_browser: bool = False,
          say=print) -> None:
    """Serve the explorer of ``experiment`` until SIGINT (Ctrl-C) or SIGTERM.

    It binds ``host`` (default 127.0.0.1, loopback) on ``port`` (default: a
    free one) and says the page's address through ``say``. An address that
    is not loopback is refused unless ``remote`` (the command line's
    ``--host``): the page has no authentication.

    Raises
    ------
    SimError
        If the address is not loopback without ``remote``, or cannot be bound.
    """
    if not remote and not is_loopback(host):
        raise SimError(f"{host} is not a loopback address: the explorer has no authentication, so it binds "
                       "127.0.0.1 unless --host names another address")
    import asyncio
    import signal
    import webbrowser

    from bokeh.application import Application
    from bokeh.application.handlers.function import FunctionHandler
    from bokeh.core.validation import silence
    from bokeh.core.validation.warnings import EMPTY_LAYOUT
    from bokeh.server.server import BaseServer
    from bokeh.server.tornado import BokehTornado
    from tornado.httpserver import HTTPServer
    from tornado.ioloop import IOLoop

    from .engine import check_memory

    if not 2 <= samples <= MAX_SAMPLES:
        raise SimError(f"--samples: the explorer takes 2 to {MAX_SAMPLES:,} samples, got {samples:,}")
    check_memory(experiment, samples, work="decide")
    silence(EMPTY_LAYOUT, True)  # a fixed prior's card has no parameter inputs: an empty column is meant
    WhatIf(experiment, samples=2)  # an experiment the explorer cannot hold is refused before the server starts
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        listening = socket.create_server(address, family=family, backlog=128)  # closed again if it fails
    except (OSError, OverflowError) as exc:
        raise SimError(f"cannot listen on {host} port {port}: {getattr(exc, 'strerror', None) or exc}") from None
    listening.setblocking(False)
    port = listening.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    origins = [f"{shown}:{port}"] + ([f"localhost:{port}", f"127.0.0.1:{port}"] if not remote else [])
    if remote and host in ("0.0.0.0", "::", ""):
        origins = ["*"]  # every address of the machine: its name is not known here
    application = Application(FunctionHandler(lambda doc: Explorer(doc, experiment, samples=samples, seed=seed)))
    loop = IOLoop.current()
    tornado_app = BokehTornado({"/": application}, extra_websocket_origins=origins)
    http = HTTPServer(tornado_app)
    http.add_sockets([listening])
    server = BaseServer(loop, tornado_app, http)
    server.start()
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else '[::1]' if host == '::' else shown}:{port}/"
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.asyncio_loop.add_signal_handler(sig, stop.set)
    say(f"sim explore: {url}  (Ctrl-C stops it)")
    if open_browser:
        webbrowser.open(url)
    try:
        loop.run_sync(stop.wait)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.asyncio_loop.remove_signal_handler(sig)
        server.stop()
        loop.run_sync(http.close_all_connections)
        loop.close(all_fds=True)
        say("sim explore: stopped")
