"""The model's graph: declared by formulas, found by evaluation for a Python model, drawn and listed."""

import pytest

import sim
from sim.cli import main
from sim.report.graph import columns, graph_figure, graph_text
from sim.studies.graph import model_graph

from ..helpers import ROOT, cli


@pytest.fixture(scope="module")
def agent():
    return model_graph(sim.load_experiment(ROOT / "experiments" / "agent_task.toml"))


@pytest.fixture(scope="module")
def search(search_experiment):
    return model_graph(search_experiment)


def test_a_formula_models_edges_are_its_formulas(agent):
    """agent_task.toml: ``cost_per_task = input_cost_per_task + output_cost_per_task`` and so on, read by hand."""
    experiment = sim.load_experiment(ROOT / "experiments" / "agent_task.toml")
    assert agent.how == "formulas"
    assert set(agent.inputs) == set(experiment.model.inputs) and list(agent.outputs) == list(experiment.model.outputs)
    assert set(agent.sources("cost_per_task")) == {"input_cost_per_task", "output_cost_per_task"}
    assert set(agent.sources("input_tokens_per_task")) == {"calls_per_task", "input_tokens_first_call",
                                                           "input_tokens_last_call"}
    assert set(agent.sources("input_cost_per_task")) == {"input_tokens_per_task", "price_input_usd_per_mtoken",
                                                         "cache_hit_rate", "cached_input_price_ratio",
                                                         "cache_write_price_ratio"}
    assert set(agent.sources("cost_per_successful_task")) == {"cost_per_task", "success_rate"}
    assert "tokens_per_mtoken" not in {s for s, _ in agent.edges}  # a constant is not a node
    assert agent.outputs["cost_per_task"] == "cost" and agent.outputs["revenue_per_task"] == "revenue"
    assert {s for s, _ in agent.edges} >= set(agent.inputs)  # every prior is read by some formula


def test_a_python_models_edges_are_found_by_moving_each_prior(search, search_experiment):
    """SPEC sections 1 to 3: the cost per query reads the query's words, tokens, the list price, the cache and the
    margin; the revenue per query reads search revenue and the number of searches; neither reads the other's."""
    assert search.how == "evaluation" and set(search.inputs) == set(search_experiment.model.inputs)
    cost = {"prompt_words", "response_words", "samples_per_query", "results_k", "section_words", "words_per_token",
            "api_price_per_1k_tokens", "output_input_price_ratio", "cache_hit_rate", "provider_gross_margin"}
    revenue = {"searches_per_month_2012", "internet_penetration_2012", "internet_penetration_2020", "search_revenue"}
    assert set(search.sources("cost_per_query")) == cost
    assert set(search.sources("revenue_per_query")) == revenue
    assert set(search.sources("annual_searches")) == revenue - {"search_revenue"}
    assert set(search.sources("optimized_cost_per_query")) == cost | {"optimization_factor", "inhouse_factor"}
    assert search.inputs["words_per_token"] == "fixed" and search.inputs["cache_hit_rate"] == "prior"


def test_the_figure_names_every_prior_and_output_and_draws_every_edge(agent, search):
    for graph in (agent, search):
        fig = graph_figure(graph, {n: 0.1 for n in graph.inputs}, focus="cost_per_task", share_label="share")
        ax = fig.axes[0]
        arrows = [t for t in ax.texts if type(t).__name__ == "Annotation"]
        names = [t.get_text() for t in ax.texts if t not in arrows]
        assert sorted(names) == sorted([*graph.inputs, *graph.outputs])  # each once
        assert len(arrows) == len(graph.edges)
    cols = columns(agent)
    depth = {n: i for i, col in enumerate(cols) for n in col}
    assert all(depth[s] < depth[t] for s, t in agent.edges)  # every arrow points right


def test_the_graph_as_text(agent, capsys):
    text = graph_text(agent)
    assert text.splitlines()[0] == "agent_task: 15 inputs (13 prior, 2 fixed) -> 8 outputs (edges from the formulas)"
    assert "  cost_per_task            <- input_cost_per_task, output_cost_per_task  [cost]" in text.splitlines()
    code, out, _ = cli(capsys, "models", ROOT / "experiments" / "agent_task.toml", "--graph")
    assert code == 0 and out.rstrip().endswith(text)


def test_sim_models_draws_the_graph(project, capsys):
    code, out, _ = cli(capsys, "models", "search_cost", "--graph-file", "graph.png")
    assert code == 0 and out.rstrip().endswith("wrote graph.png")
    assert (project / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, said", [
    (["models", "--graph"], "--graph: name the experiment whose model to draw"),
    (["models", "agent_task", "search_cost", "--graph-file", "g.png"], "--graph-file: one experiment's graph per file"),
    (["models", "agent_task", "--graph-file", "g.svg"], "--graph-file: g.svg must be a file name ending in .png"),
])
def test_graph_errors_are_one_line(project, capsys, argv, said):
    code, out, err = cli(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"sim: error: {said}"), err


def test_the_report_draws_the_graph(project, capsys):
    assert main(["run", "agent_task", "--samples", "300", "--no-sensitivity"]) == 0
    md = (project / "outputs" / "agent_task" / "report.md").read_text()
    assert "(figures/model_graph.png)" in md
    assert "Priors are not coloured: the report has no Sobol' indices (--no-sensitivity)." in md


def test_the_readme_shows_what_the_command_prints(capsys, monkeypatch):
    import re

    block = re.search(r"```console\n\$ sim models agent_task --graph\n\.\.\.\n(.*?)```",
                      (ROOT / "README.md").read_text(), re.S)[1]
    monkeypatch.chdir(ROOT)
    code, out, _ = cli(capsys, "models", "agent_task", "--graph")
    assert code == 0 and out.rstrip().endswith(block.rstrip())
