"""The what-if explorer's page (sim.explorer.page, cards): built in process on a Bokeh Document.

The tests type into the page's inputs as the browser would (a value set on a
Bokeh model runs the same callbacks) and compare what the page shows with
:func:`sim.what_if` and `sim run`.
"""

import html
import re

import pytest
import xarray as xr

import sim
from sim.cli import main

bokeh = pytest.importorskip("bokeh", reason="the explorer needs the explore extra (Bokeh)")
from bokeh.document import Document

from sim.explorer import Explorer
from sim.report.format import percent
from sim.studies.explore import WhatIf

from ..helpers import ROOT

N = 20_000  # as the what-if core's tests: P(cost > revenue) well inside (0, 1) in the two-stage cell
MARGIN = "provider_gross_margin"


def _page(path="experiments/search_cost.toml", samples=N) -> Explorer:
    return Explorer(Document(), sim.load_experiment(path), samples=samples)


def _shown_k(page: Explorer, cell: str) -> int:
    """The count of samples with cost above revenue that the measures table shows for ``cell``."""
    match = re.search(rf"data-cell='{cell}' data-k='(\d+)'", page.measures.text)
    assert match, page.measures.text
    return int(match.group(1))


def k_of_run(summary: xr.Dataset, cell: str, samples: int) -> int:
    name = next(n for n in summary.data_vars if n.startswith("p_") and "_gt_" in n and not n.endswith("_ci"))
    return int(round(float(summary[name].sel(architecture=cell).squeeze()) * samples))


# ---------------------------------------------------------------------------------------------------------------------
# the page, in process


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "experiments").glob("*.toml")))
def test_the_page_builds_for_every_shipped_experiment(name):
    """A card per prior the model draws or fixes, the compared outputs from the roles, a table row per cell."""
    page = _page(ROOT / "experiments" / f"{name}.toml", samples=300)
    assert list(page.cards) == page.what_if.inputs
    assert "update 1:" in page.status.text and page.results is not None
    assert page.roles.text and page.verdict.text and "<table>" in page.measures.text
    cost, revenue = page.pair
    assert page.experiment.model.outputs[cost].role == "cost" or revenue is None
    if revenue:
        assert page.experiment.model.outputs[revenue].role == "revenue"
        assert "P(cost &gt; revenue)" in page.measures.text


def test_a_typed_interval_is_the_what_if_change(project):
    """Typing the margin's 90 % interval shows exactly what WhatIf.change gives (same uniforms, same numbers)."""
    page = _page()
    k_before = _shown_k(page, "two_stage")
    card = page.cards[MARGIN]
    card.inputs["ci90-low"].value = "0.4"
    card.inputs["ci90-high"].value = "0.7"
    assert card.error.text == ""
    assert page.updates == 3 and "(changed)" in card.title.text and "ci90=[0.4, 0.7]" in page.changes.text
    reference = sim.what_if(sim.load_experiment("experiments/search_cost.toml"), samples=N).change(MARGIN, ci90=[0.4, 0.7])
    p = reference.results()["pairs"][page.pair]["p_loss"].sel(architecture="two_stage").item()
    assert _shown_k(page, "two_stage") == round(p * N) > k_before  # a lower margin loses money more often
    assert "5 % <b>0.4</b>" in card.stats.text and "95 % <b>0.7</b>" in card.stats.text  # the fit, to 4 digits


@pytest.mark.parametrize("box, text, message", [
    ("ci90-low", "0.9", "must be increasing (low < high)"),      # low above high (0.85)
    ("ci90-high", "1.2", "must be inside (0, 1) for a beta prior"),  # a fraction outside [0, 1]
    ("ci90-low", "abc", "'abc' is not a number"),                # text in a number field
    ("pin", "1.5", "needs values in [0, 1]"),                    # a pinned fraction outside [0, 1]
    ("point", "2", "lies outside the prior's support [0, 1]"),
    ("other", "dist = ", "not a TOML table body"),
    ("other", "dist = \"normal\", mean = 0.7", "a normal prior takes (mean, sd) or (ci90)"),
])
def test_bad_input_is_answered_beside_its_field_and_changes_nothing(box, text, message):
    page = _page()
    card = page.cards[MARGIN]
    before, updates = page.measures.text, page.updates
    field = {"pin": card.pin, "other": card.other}.get(box) or card.inputs[box]
    field.value = text
    shown = html.unescape(card.error.text)
    assert message in shown and "Traceback" not in shown
    assert shown.endswith("; kept beta(ci90=[0.55, 0.85])")
    assert page.updates == updates and page.measures.text == before and page.what_if.changed == {}
    assert field.value == text  # left as typed, to be corrected
    # the page goes on: a valid change after the bad one is shown
    card.inputs["ci90-low"].value, card.inputs["ci90-high"].value = "0.5", "0.8"
    assert card.error.text == "" and page.updates > updates
    assert page.what_if.priors[MARGIN].describe() == "beta(ci90=[0.5, 0.8])" and page.measures.text != before


@pytest.mark.parametrize("prior, box, text, message", [
    # finite as typed, but the equations overflow: sim run would refuse the saved scenario, so the page does
    ("prompt_words", "pin", "1e308", "with this change, output"),
    # a unit typed in the TOML box: the model reads the prior in its own unit, and a saved scenario keeps no other
    (MARGIN, "other", 'dist = "uniform", low = 50, high = 70, unit = "percent"',
     "unit: a what-if keeps provider_gross_margin's unit, 'fraction'; give its values in it, not in 'percent'"),
])
def test_a_change_sim_run_would_refuse_is_refused_beside_its_field(prior, box, text, message):
    page = _page()
    card = page.cards[prior]
    before = page.measures.text
    field = {"pin": card.pin, "other": card.other}[box]
    field.value = text
    shown = html.unescape(card.error.text)
    assert message in shown and "Traceback" not in shown and "inf" not in page.measures.text, shown
    assert page.measures.text == before and page.what_if.changed == {}


def test_a_change_the_model_cannot_evaluate_is_undone_and_the_page_goes_on(monkeypatch, capsys):
    """An unexpected failure after a valid change (here the evaluation raising) is one line beside the field and on
    the server's stderr, and the change is undone; the next change works."""
    page = _page()
    card, updates = page.cards[MARGIN], page.updates

    def broken(*args, **kwargs):
        raise RuntimeError("the model failed")

    monkeypatch.setattr(WhatIf, "results", broken)
    card.inputs["ci90-low"].value = "0.4"
    assert html.unescape(card.error.text) == ("unexpected error: RuntimeError: the model failed; "
                                              "kept beta(ci90=[0.55, 0.85])")
    assert page.what_if.changed == {} and page.updates == updates
    assert capsys.readouterr().err == "sim explore: unexpected error: RuntimeError: the model failed\n"
    monkeypatch.undo()
    card.inputs["ci90-low"].value = "0.45"
    assert card.error.text == "" and page.updates == updates + 1


def test_samples_seed_scenario_and_reset(project):
    page = _page()
    page.cards[MARGIN].pin.value = "0.5"
    page.sample_box.value = "lots"
    assert "samples: must be an integer from 2 to 2,000,000 (a standard deviation needs two samples), got 'lots'" in \
        html.unescape(page.settings_error.text)
    page.sample_box.value = "1"
    assert "from 2 to 2,000,000" in page.settings_error.text
    page.sample_box.value = "5000"
    assert page.settings_error.text == "" and page.what_if.experiment.samples == 5000
    assert list(page.what_if.changed) == [MARGIN]  # the change is kept on the new samples
    page.seed_box.value = "-1"
    assert "seed: must be an integer in [0, 2**63), got '-1'" in html.unescape(page.settings_error.text)
    k = _shown_k(page, "two_stage")
    page.seed_box.value = "7"
    assert page.settings_error.text == "" and page.what_if.experiment.seed == 7
    reference = sim.what_if(sim.load_experiment("experiments/search_cost.toml"), samples=5000, seed=7).pin(MARGIN, 0.5)
    p = reference.results()["pairs"][page.pair]["p_loss"].sel(architecture="two_stage").item()
    assert _shown_k(page, "two_stage") == round(p * 5000) != k  # new random numbers, the same change
    page.scenario.value = "market_2026"
    assert page.what_if.scenario == "market_2026" and page.what_if.changed == {}
    assert "market_2026" in page.status.text
    page.scenario.value = "baseline"
    assert list(page.what_if.changed) == [MARGIN]  # each scenario keeps its own changes
    page._reset_all()
    assert page.what_if.changed == {} and "(changed)" not in page.cards[MARGIN].title.text


def test_two_costs_against_one_revenue_are_chosen_in_the_page(tmp_path):
    """The compared pair comes from the roles: with two costs, a selector chooses which one the verdict, table and
    drivers are about (3 x the price against 2.5 x never pays; 2 x always does)."""
    from ..helpers import write
    from ..models.test_user import TWO_COSTS

    write(tmp_path / "priors.toml", '[priors.usd_per_mtoken]\ndist = "lognormal"\nci90 = [1, 4]\npoint = 2\n'
                                    'unit = "USD/Mtoken"\nnote = "a price"\n')
    page = _page(write(tmp_path / "two.toml", TWO_COSTS), samples=1000)
    assert page.compare.visible and page.compare.options == ["cost_a against income", "cost_b against income"]
    assert "loses money in 0 % of outcomes" in page.verdict.text and "(<code>cost_a</code>, role cost)" in page.roles.text
    page.compare.value = "cost_b against income"
    assert "loses money in 100 % of outcomes" in page.verdict.text and "(<code>cost_b</code>, role cost)" in page.roles.text
    assert "data-k='1000'" in page.measures.text


def test_save_as_scenario_writes_a_new_file_that_sim_run_reproduces(project, capsys):
    page = _page()
    card = page.cards[MARGIN]
    card.inputs["ci90-low"].value, card.inputs["ci90-high"].value = "0.4", "0.7"
    shown = _shown_k(page, "two_stage")
    page.save_file.value = "../elsewhere.toml"
    page.save_clicked()
    assert "without a folder" in page.saved.text
    for name, message in ((".toml", "'' is not a valid name"), ("..toml", "'.' is not a valid name"),
                          ("e" * 300 + ".toml", "of at most 200 characters")):  # never the staging name or OSError
        page.save_file.value = name
        page.save_clicked()
        said = html.unescape(page.saved.text)
        assert message in said and ".tmp" not in said and "OSError" not in said, said
    assert sorted(p.name for p in (project / "experiments").iterdir() if not p.name.endswith(".toml")) == []
    (project / "experiments" / "taken.toml").write_text("kept\n")
    page.save_file.value = "taken.toml"
    page.save_clicked()
    assert "exists; sim does not replace it" in html.unescape(page.saved.text)
    assert (project / "experiments" / "taken.toml").read_text() == "kept\n"
    page.save_file.value = "lower_margin.toml"
    page.save_clicked()
    command = re.search(r"<code>(sim run [^<]+)</code>", page.saved.text).group(1)
    assert command == f"sim run experiments/lower_margin.toml --scenario what_if --samples {N} --seed 20230201"
    assert main([*command.split()[1:], "--no-report"]) == 0
    capsys.readouterr()
    summary = xr.load_dataset(project / "outputs" / "lower_margin" / "summary.nc")
    assert k_of_run(summary, "two_stage", N) == shown


# ---------------------------------------------------------------------------------------------------------------------
# the server


# ---------------------------------------------------------------------------------------------------------------------
# the served page in headless Chromium



def test_a_cards_bounds_read_low_to_high():
    """A log-uniform prior's fields are low, then high (its parameters are kept high first), then its point."""
    page = _page()
    assert list(page.cards["optimization_factor"].inputs) == ["low", "high", "point"]
    assert [page.cards["optimization_factor"].inputs[k].value for k in ("low", "high")] == ["0.125", "0.5"]


def test_axis_ticks_read_as_short_numbers():
    """The density and every card's histogram label their ticks to six digits in the shortest form (1e+06,
    250000), not as 1.000e+6."""
    from bokeh.models import PrintfTickFormatter

    page = _page()
    axes = [page.density.xaxis[0], *(card.figure.xaxis[0] for card in page.cards.values())]
    assert all(isinstance(a.formatter, PrintfTickFormatter) and a.formatter.format == "%.6g" for a in axes)
    assert ["%.6g" % v for v in (1e6, 250000.0, 0.000125)] == ["1e+06", "250000", "0.000125"]


class _Linked(Document):
    """A document opened through a link: its request's query arguments, as Bokeh's server gives them (bytes)."""

    def __init__(self, query: list[tuple[str, str]]):
        super().__init__()
        arguments: dict = {}
        for key, value in query:
            arguments.setdefault(key, []).append(value.encode())
        self._linked = type("Context", (), {"request": type("Request", (), {"arguments": arguments})()})()

    @property
    def session_context(self):
        return self._linked


def test_a_link_reproduces_the_page_and_a_bad_one_is_said():
    from urllib.parse import parse_qsl

    experiment = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    page = _page()
    page.apply(page.cards["provider_gross_margin"], lambda w: w.change("provider_gross_margin", ci90=[0.4, 0.7]))
    page.apply(page.cards["results_k"], lambda w: w.pin("results_k", 3))
    query = parse_qsl(page.link()[1:])
    assert [k for k, _ in query] == ["scenario", "samples", "seed", "prior.provider_gross_margin", "prior.results_k"]
    opened = Explorer(_Linked(query), experiment, samples=N)
    assert opened.what_if.changed.keys() == page.what_if.changed.keys()
    assert opened.changes.text == page.changes.text and opened.verdict.text == page.verdict.text
    for bad, said in [([("prior.nope", "dist = \"fixed\", point = 1")], "link: prior.nope: no prior 'nope'"),
                      ([("prior.results_k", "dist = ")], "link: prior.results_k: not a TOML table body"),
                      ([("scenario", "basline")], "link: no scenario 'basline'; did you mean 'baseline'?")]:
        shown = Explorer(_Linked(bad), experiment, samples=N)
        assert said in html.unescape(shown.link_error.text) and not shown.what_if.changed


def test_a_change_shows_what_the_experiment_gave_before_it():
    """Each cell's P(cost > revenue) and expected net benefit carry the experiment's own value under them ("was"),
    computed on the same draws; with no change there is nothing to compare."""
    page = _page()
    assert "was " not in page.measures.text
    before = page.what_if.results()["pairs"][("cost_per_query", "revenue_per_query")]
    page.apply(page.cards["provider_gross_margin"], lambda w: w.change("provider_gross_margin", ci90=[0.4, 0.7]))
    cell = {"scenario": "baseline", "architecture": "two_stage"}
    p_was = percent(float(before["p_loss"].sel(cell)))
    assert f"<small class='was'>was {p_was}</small>" in page.measures.text
    page.apply(page.cards["provider_gross_margin"], lambda w: w.reset("provider_gross_margin"))
    assert "was " not in page.measures.text
