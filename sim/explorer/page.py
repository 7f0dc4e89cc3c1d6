"""The explorer's page: one browser tab's what-if of an experiment, its cards, results and "save as scenario".

One tab is one :class:`Explorer`: the experiment's scenario as a what-if
(:func:`sim.api.what_if`, a value), a card per prior (:mod:`.cards`), and the
results of the model's compared outputs (by their roles): densities of cost
and revenue, P(cost > revenue) with its Monte Carlo interval, the report's
verdict, the expected net benefit, EVPI and the drivers. A change makes a new
what-if, which re-maps one prior's uniforms and re-evaluates the model; "save
as scenario" has the store write the changes into a new experiment file that
``sim run`` reproduces.

The module is long because a page of many widgets wires each one to its callback in one place; the
parsing of what is typed and the cards are in :mod:`.cards`.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import sys
import time
from pathlib import Path

import numpy as np

from .. import _checks as check
from ..analysis.decision import verdict
from ..api import WhatIf, apply_state, check_memory, what_if
from ..errors import Location, SimError
from ..experiment import Experiment, subject
from ..models import cost_revenue_pairs
from ..report.format import per_unit, percent, quantity, verdict_sentence
from ..store import write_new_experiment
from . import DEFAULT_SAMPLES
from .cards import ERROR_STYLE, Card, histogram, message, sample_count, tick_formatter
from .cards import at as at_cell
from .cards import seed as seed_of

__all__ = ["Explorer"]

#: Rows of the measures table (cells); the cell selectors reach the others.
MAX_ROWS = 24
#: The longest name a saved scenario's file may have (a file system takes 255 bytes; its staging copy more).
MAX_FILE_NAME = 200
#: Drivers the bar chart shows.
MAX_DRIVERS = 10
COST_COLOUR, REVENUE_COLOUR = "#d55e00", "#0072b2"  # colour-blind safe (Okabe-Ito), as the report's figures


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

    def __init__(self, doc, experiment: Experiment, *, samples: int = DEFAULT_SAMPLES, seed: int | None = None,
                 posterior=None):
        from bokeh.layouts import column, row
        from bokeh.models import Button, Div, Select, TextInput

        self.doc, self.experiment, self.seed, self.samples = doc, experiment, seed, samples
        self.posterior = posterior
        self.silent, self.updates, self.results = False, 0, None
        self.explorers: dict[str, WhatIf] = {}  # the what-if of each scenario explored so far (values)
        self.unchanged: dict[tuple, dict] = {}  # the results without changes, by scenario, samples and seed
        names = list(experiment.scenario_names)
        self.what_if = self._explorer(names[0])
        roles = {name: out.role for name, out in experiment.model.outputs.items()}
        self.pairs = list(cost_revenue_pairs(roles)) or [(subject(experiment)[0], None)]
        self.pair = self.pairs[0]

        stem = Path(experiment.path).stem
        self.header = Div(width=1220, text=(
            f"<h2 style='margin:0'>{html.escape(experiment.title or stem)}</h2>"
            f"<div style='color:#555'>What-if explorer · <code>{html.escape(str(experiment.path))}</code> · model "
            f"<code>{html.escape(experiment.model.name)}</code> · "
            + ("on the posterior of the saved run (sim calibrate): a change re-maps one prior at the posterior's "
               "ranks of it</div>" if posterior is not None else
               "every change re-maps one prior on the same random numbers (a new seed draws new ones)</div>")))
        self.scenario = Select(title="scenario", value=names[0], options=names, width=200,
                               css_classes=["sim-scenario"])
        self.scenario.on_change("value", lambda attr, old, new: self.guard(self._scenario))
        labels = [f"{cost} against {revenue}" if revenue else cost for cost, revenue in self.pairs]
        self.compare = Select(title="compare", value=labels[0], options=labels, width=320,
                              visible=len(labels) > 1, css_classes=["sim-compare"])
        self.compare.on_change("value", lambda attr, old, new: self.guard(self._compare))
        self.sample_box = TextInput(title="samples", value=str(samples), width=120, css_classes=["sim-samples"])
        self.seed_box = TextInput(title="seed", value=str(self.what_if.experiment.seed), width=120,
                                  css_classes=["sim-seed"], visible=posterior is None)  # a posterior's rows are fixed
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

        self.cards: dict[str, Card] = {}
        self.card_grid = column()
        self.save_file = TextInput(title="file, beside the experiment", value=f"{stem}_what_if.toml", width=300,
                                   css_classes=["sim-save-file"])
        self.save_name = TextInput(title="scenario name", value="what_if", width=160, css_classes=["sim-save-name"])
        self.save_button = Button(label="save as scenario", button_type="primary", width=150,
                                  css_classes=["sim-save"])
        self.save_button.on_click(self.save_clicked)
        self.saved = Div(width=700, css_classes=["sim-saved"])

        self.share = Div(width=600, css_classes=["sim-share"])
        self.link_error = Div(width=600, styles=ERROR_STYLE, css_classes=["sim-link-error"])
        self.guard(self._from_link, self.link_error)  # a shared link's state; a bad link is said, the page as it is
        self._cards()
        self.guard(self.update)
        self._cell_selects()
        self.show()
        layout = column(
            self.header,
            row(self.scenario, self.compare, self.cell_row, self.sample_box, self.seed_box, self.reset_all,
                styles={"align-items": "flex-end"}),
            row(self.settings_error, self.status, self.link_error),
            row(column(self.roles, self.changes, self.share, self.verdict, self.measures, self.density),
                column(self.drivers)),
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
            self.explorers[scenario] = what_if(self.experiment, scenario, samples=self.samples, seed=self.seed,
                                               posterior=self.posterior)
        return self.explorers[scenario]

    @property
    def _draws(self) -> tuple:
        """What the shown numbers are drawn from: scenario, samples and seed (the key of :attr:`unchanged`)."""
        return self.what_if.scenario, self.samples, self.what_if.experiment.seed

    def _use(self, value: WhatIf) -> None:
        """Make ``value`` the what-if shown (and kept for its scenario)."""
        self.what_if = self.explorers[value.scenario] = value

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
            where.text = html.escape(message(exc))
            return False
        except Exception as exc:  # the page stays up: one line here and on the server's stderr
            where.text = html.escape(f"unexpected error: {type(exc).__name__}: {message(exc)}")
            print(f"sim explore: unexpected error: {type(exc).__name__}: {message(exc)}", file=sys.stderr)
            return False
        return True

    def apply(self, card: Card, change) -> None:
        """Make ``change`` (a function from the what-if to a new one) to ``card``'s prior and show its effects; bad
        input leaves everything as it was."""
        before = self.what_if

        def action():
            self._use(change(before))
            try:
                self.update()
            except Exception:
                self._use(before)  # a change the model cannot evaluate is undone
                raise

        if self.guard(action, card.error):
            card.show()
            self.show()
        else:
            card.error.text += html.escape(f"; kept {self.what_if.priors[card.name].describe()}")

    def _from_link(self) -> None:
        """The state a shared link's query gives (:meth:`link`): its scenario, samples, seed and changed priors."""
        request = getattr(getattr(self.doc, "session_context", None), "request", None)
        arguments = getattr(request, "arguments", None) or {}
        pairs = [(k, v.decode("utf-8", "replace")) for k, values in arguments.items() for v in values]
        if not pairs:
            return
        given = dict(pairs)
        if "scenario" in given:
            if given["scenario"] not in self.scenario.options:
                raise SimError(f"link: no scenario {given['scenario']!r}; "
                               f"{check.choices(given['scenario'], self.scenario.options)}")
            with self.quiet():
                self.scenario.value = given["scenario"]
            self._use(self._explorer(given["scenario"]))
        samples = sample_count(given["samples"]) if "samples" in given else self.samples
        seed = seed_of(given["seed"]) if "seed" in given else self.what_if.experiment.seed
        if (samples, seed) != (self.samples, self.what_if.experiment.seed):
            check_memory(self.what_if.experiment, samples, work="decide")
            self._use(self.what_if.resampled(samples, seed))
            self.samples, self.seed = samples, seed
            with self.quiet():
                self.sample_box.value, self.seed_box.value = str(samples), str(seed)
        self._use(apply_state(self.what_if, pairs))

    def link(self) -> str:
        """The query of a link to this page as it is: scenario, samples, seed and each changed prior."""
        from urllib.parse import urlencode

        return "?" + urlencode([("scenario", self.what_if.scenario), ("samples", self.samples),
                                ("seed", self.what_if.experiment.seed), *self.what_if.state()])

    # --- callbacks ----------------------------------------------------------------------------------------------------

    def _scenario(self) -> None:
        self._use(self._explorer(self.scenario.value))
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
        samples, seed = sample_count(self.sample_box.value), seed_of(self.seed_box.value)
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
        self._use(self.what_if.reset())
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
        stem = name.removesuffix(".toml")
        if not name or Path(name).name != name or not name.endswith(".toml") or len(name) > MAX_FILE_NAME:
            raise SimError(f"file: give a file name ending in .toml, without a folder, of at most {MAX_FILE_NAME} "
                           f"characters (it is saved beside {self.experiment.path}), got {name[:60]!r}")
        check.name(stem, Location("file", ""))  # the experiment's name: letters, digits, _ . -, not "" or "."
        path = Path(self.experiment.path).parent / name
        scenario = self.save_name.value.strip()
        write_new_experiment(path, self.what_if.experiment_text(path, scenario))
        command = f"sim run {path} --scenario {scenario} --samples {self.samples} --seed {self.what_if.experiment.seed}"
        self.saved.text = (f"Saved <code>{html.escape(str(path))}</code>. <code>{html.escape(command)}</code> gives "
                           "the numbers shown.")

    # --- results ------------------------------------------------------------------------------------------------------

    def update(self) -> None:
        """Evaluate the model on the current priors (the shown results follow with :meth:`show`)."""
        start = time.perf_counter()
        self.results = self.what_if.results()
        if self.what_if.changes and self._draws not in self.unchanged:  # what the experiment gives, for the deltas
            self.unchanged[self._draws] = self.what_if.reset().results()
        cost, revenue = self.pairs[0]
        if revenue is None:  # no (cost, revenue) pair: the drivers of the cost itself, as often as the results
            self.results["pairs"][(cost, None)] = {"drivers": self.what_if.drivers(self.results["dataset"], cost)}
        self.updates += 1
        self.status.text = (f"update {self.updates}: {self.samples:,} samples of {self.what_if.scenario} in "
                            f"{time.perf_counter() - start:.2f} s")

    def _cards(self) -> None:
        from bokeh.layouts import row

        self.cards = {name: Card(self, name) for name in self.what_if.inputs}
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
        ds, summary = self.results["dataset"], self.results["summary"]
        cost, revenue = self.pair
        scenario = self.what_if.scenario
        cell = {"scenario": scenario, **self._cell()}
        long = {n: ds[n].attrs.get("long_name") or n for n in self.pair if n}
        units = ds[cost].attrs.get("units", "")
        self.roles.text = (f"<b>{html.escape(long[cost])}</b> (<code>{html.escape(cost)}</code>, role cost)" +
                           (f" against <b>{html.escape(long[revenue])}</b> (<code>{html.escape(revenue)}</code>, "
                            "role revenue)"
                            if revenue else " (the model has no output with role revenue)"))
        where = ", ".join(str(v) for d, v in cell.items() if d != "scenario")
        if revenue:
            sentence = verdict_sentence(verdict(summary, cost, revenue, cell))
        else:
            at = at_cell(summary[cost], cell)
            sentence = (f"The {long[cost]} has mean {quantity(float(at.sel(stat='mean')), units)} and 90 % interval "
                        f"{quantity(float(at.sel(stat='p05')), units, per=False)} to "
                        f"{quantity(float(at.sel(stat='p95')), units)}.")
        self.verdict.text = (f"<b>{html.escape(where)}:</b> " if where else "") + html.escape(sentence)
        changed = self.what_if.changes
        self.changes.text = ("Changed: " + "; ".join(f"<code>{html.escape(n)}</code> {html.escape(p.describe())}"
                                                      for n, p in changed.items())
                             if changed else "No prior changed: the experiment's scenario as it is.")
        self.share.text = (f'<a class="sim-share-link" href="{html.escape(self.link(), quote=True)}">link to this '
                           "view</a>: opens the page with these changes, samples and seed")
        self.measures.text = self._measures(cost, revenue)
        self._densities(ds, cost, revenue, cell, long, units)
        self._driver_bars(cost, revenue, cell)

    def _measures(self, cost: str, revenue: str | None) -> str:
        """The table of the cells: P(cost > revenue) with its interval, ENB, EVPI and the mean cost, the chosen cell
        marked. Past :data:`MAX_ROWS` cells, the cells that differ from the chosen one in the last dim alone."""
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
        per = html.escape(per_unit(units))  # a unit is the user's text
        head = "".join(f"<th>{html.escape(d)}</th>" for d in dims)
        if revenue:
            head += (f"<th>P(cost &gt; revenue)</th><th>95 % interval</th><th>expected net benefit {per}</th>"
                     f"<th>EVPI {per}</th>")
        head += f"<th>mean cost {per}</th>"

        def amount(da):
            return html.escape(quantity(float(da), units, per=False))

        pair, rows = self.results["pairs"].get((cost, revenue)), []
        before = self.unchanged[self._draws]["pairs"].get((cost, revenue)) if self.what_if.changes else None

        def was(text):  # the experiment's value before the changes, under the value now
            return f"<br><small class='was'>was {text}</small>" if before is not None else ""

        for cell in cells:
            at = {"scenario": self.what_if.scenario, **cell}
            labels = [str(v) for v in cell.values()]
            tds = "".join(f"<td>{html.escape(v)}</td>" for v in labels)
            if revenue:
                p = float(at_cell(pair["p_loss"], at))
                ci = at_cell(pair["p_loss_ci"], at)
                k = int(round(p * n))
                p_was = percent(float(at_cell(before["p_loss"], at))) if before is not None else ""
                enb_was = amount(at_cell(before["net_benefit"], at)) if before is not None else ""
                tds += (f"<td class='p-loss' data-cell='{html.escape(','.join(labels))}' data-k='{k}'>"
                        f"<b>{percent(p)}</b><br><small>{k:,} of {n:,}</small>{was(p_was)}</td>"
                        f"<td>{percent(float(ci.sel(ci_bound='lower')))} to "
                        f"{percent(float(ci.sel(ci_bound='upper')))}</td>"
                        f"<td>{amount(at_cell(pair['net_benefit'], at))}{was(enb_was)}</td>"
                        f"<td>{amount(at_cell(pair['evpi'], at))}</td>")
            tds += f"<td>{amount(at_cell(summary[cost], at).sel(stat='mean'))}</td>"
            rows.append(f"<tr{' class=chosen' if cell == chosen else ''}>{tds}</tr>")
        more = (f"<div style='color:#555'>{len(cells)} of the {total} cells: those of the chosen "
                f"{', '.join(list(dims)[:-1])}; the selectors above reach every one.</div>"
                if total > len(cells) else "")
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
        fig.xaxis.formatter = tick_formatter()
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
        shown = {"cost": at_cell(ds[cost], cell).values.ravel(),
                 "revenue": at_cell(ds[revenue], cell).values.ravel() if revenue else np.array([])}
        both = np.concatenate(list(shown.values()))
        both = both[np.isfinite(both)]
        span = tuple(np.quantile(both, [0.005, 0.995])) if both.size else (0.0, 1.0)
        for key, values in shown.items():
            self.density_sources[key].data = (histogram(values, bins=60, span=span) if values.size
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
        drivers = at_cell(self.results["pairs"][(cost, revenue)]["drivers"], cell)
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
