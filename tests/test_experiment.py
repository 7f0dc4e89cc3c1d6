"""Experiment files (sim.experiment): loading, scenarios and their overrides, settings, names and the run's own
overrides read back."""

import json
import re

import numpy as np
import pytest
from scipy import stats

import sim
from sim.cli import main
from sim.errors import ConfigError

from .helpers import ROOT, one_line_error, write


def test_scenario_values_are_checked_like_priors(project, capsys):
    text = (project / "experiments" / "search_cost.toml").read_text()
    (project / "experiments" / "search_cost.toml").write_text(
        text.replace("set = { api_price_per_1k_tokens = 0.002 }", "set = { cache_hit_rate = 1.5 }"))
    err = one_line_error(capsys, ["validate", "experiments/search_cost.toml"])
    assert "scenarios.gpt35_turbo_2023.set.cache_hit_rate: unit 'fraction' needs values in [0, 1]" in err
    (project / "experiments" / "search_cost.toml").write_text(
        text.replace("set = { api_price_per_1k_tokens = 0.002 }", "set = { api_price_per_1k_tokens = -0.002 }"))
    assert "cannot be negative" in one_line_error(capsys, ["validate", "experiments/search_cost.toml"])


@pytest.mark.parametrize("header, key", [
    ('[scenarios."../escape"]', r"scenarios\.\.\./escape: '\.\./escape' is not a valid name"),
    ('[scenarios."/etc"]', r"scenarios\./etc: '/etc' is not a valid name"),
    ('[scenarios."a/b"]', r"scenarios\.a/b: 'a/b' is not a valid name"),
    ('[scenarios.".."]', r"scenarios\.\.\.: '\.\.' is not a valid name"),
])
def test_names_that_would_write_outside_outputs_are_refused(project, capsys, header, key):
    write(project / "experiments" / "bad.toml", f'model = "search"\npriors = ["../priors/seed_2023.toml"]\n{header}\n'
                                                'description = "x"\n')
    assert re.search(key, one_line_error(capsys, ["run", "experiments/bad.toml", "--samples", "10"]))
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("filename", ["..toml", ".hidden.toml", "sp ace.toml"])
def test_experiment_file_names_must_be_safe_folder_names(project, capsys, filename):
    (project / "experiments" / filename).write_text((project / "experiments" / "search_cost.toml").read_text())
    assert "is not a valid name" in one_line_error(capsys, ["run", f"experiments/{filename}", "--samples", "10"])
    assert not (project / "outputs").exists()


AGENT = str(ROOT / "experiments" / "agent_task.toml")


def test_set_changes_only_the_pinned_prior():
    exp = sim.load_experiment(AGENT)
    base = sim.run(exp, samples=4000, seed=2)
    pinned = sim.run(sim.with_overrides(exp, set_values={"cache_hit_rate": 0.5}), samples=4000, seed=2)
    # per-prior random streams: every other prior draws the same values
    np.testing.assert_array_equal(base["calls_per_task"].values, pinned["calls_per_task"].values)
    cost = (pinned["input_tokens_per_task"] * pinned["price_input_usd_per_mtoken"]
            * ((1 - 0.5) * pinned["cache_write_price_ratio"] + 0.5 * pinned["cached_input_price_ratio"]) / 1e6)
    np.testing.assert_allclose(pinned["input_cost_per_task"].values, cost.transpose(*pinned["input_cost_per_task"].dims).values,
                               rtol=1e-15)


def test_scenario_runs_one_scenario_with_the_same_numbers(tmp_path, capsys):
    exp = sim.load_experiment(AGENT)
    full = sim.run(exp, samples=3000, seed=4)
    one = sim.run(sim.with_overrides(exp, scenarios=["small_model"]), samples=3000, seed=4)
    assert list(one["scenario"].values) == ["small_model"]
    # the random sampler's streams are per prior: the one scenario is the full run's slice
    np.testing.assert_array_equal(one["cost_per_task"].sel(scenario="small_model").values,
                                  full["cost_per_task"].sel(scenario="small_model").values)
    assert main(["run", AGENT, "--samples", "500", "--scenario", "small_model", "--no-report", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "agent_task" / "inputs" / "record.json").read_text())
    assert record["command"].endswith("--scenario small_model --out " + str(tmp_path))
    capsys.readouterr()


def test_a_later_priors_file_overrides_only_where_it_says_so(project, capsys):
    write(project / "priors" / "later.toml", '[priors.cache_hit_rate]\ndist = "fixed"\npoint = 0.6\nunit = "fraction"\n'
                                             'override = true\nnote = "A later estimate."\n')
    text = (project / "experiments" / "search_cost.toml").read_text()
    write(project / "experiments" / "later.toml",
          text.replace('priors = ["../priors/seed_2023.toml"]', 'priors = ["../priors/seed_2023.toml", "../priors/later.toml"]'))
    exp = sim.load_experiment("experiments/later.toml")
    assert exp.base_priors["cache_hit_rate"].point == 0.6 and exp.base_priors["cache_hit_rate"].is_fixed
    write(project / "priors" / "later.toml", '[priors.cache_hit_rate]\ndist = "fixed"\npoint = 0.6\nunit = "fraction"\n'
                                             'override = "yes"\nnote = "n"\n')
    err = one_line_error(capsys, ["validate", "experiments/later.toml"])
    assert err.endswith("priors/later.toml: priors.cache_hit_rate.override: must be true or false, got 'yes'")


CORRELATED = """
model = "search"
priors = ["../priors/seed_2023.toml"]
samples = 10000
seed = 11
sampler = "{sampler}"
[correlations]
{body}
"""


def _experiment(project, body, sampler="random", name="corr"):
    path = write(project / "experiments" / f"{name}.toml", CORRELATED.format(body=body, sampler=sampler))
    return sim.load_experiment(path)


@pytest.mark.parametrize("sampler", ["random", "lhs", "sobol"])
def test_rank_correlation_reached_and_marginals_kept(project, sampler):
    body = ('names = ["cache_hit_rate", "provider_gross_margin", "response_words"]\n'
            "matrix = [[1, 0.6, -0.3], [0.6, 1, 0.0], [-0.3, 0.0, 1]]")
    exp = _experiment(project, body, sampler)
    n = 8192 if sampler == "sobol" else 10_000
    ds = sim.run(exp, samples=n)
    # target within 0.02: the sampling sd of Spearman's rho at n = 10,000 is below 0.01
    rho = lambda a, b: stats.spearmanr(ds[a], ds[b])[0]  # noqa: E731
    assert rho("cache_hit_rate", "provider_gross_margin") == pytest.approx(0.6, abs=0.02)
    assert rho("cache_hit_rate", "response_words") == pytest.approx(-0.3, abs=0.02)
    assert rho("provider_gross_margin", "response_words") == pytest.approx(0.0, abs=0.02)
    # marginals unchanged: the draws' percentiles match the prior's (the Kolmogorov-Smirnov distance of
    # 10,000 draws from their own distribution is below 0.017 with probability 0.99)
    for name in ("cache_hit_rate", "provider_gross_margin", "response_words"):
        prior = exp.base_priors[name]
        u = np.linspace(0.01, 0.99, 99)
        values = prior.ppf(u)
        emp = (ds[name].values[:, None] <= values).mean(axis=0)
        assert np.max(np.abs(emp - u)) < 0.017, name
    # an uncorrelated prior keeps exactly its draws
    plain = sim.run(sim.load_experiment(project / "experiments" / "search_cost.toml"), samples=n, seed=11,
                    sampler=sampler)
    if sampler != "sobol":  # Sobol' draws are joint over the drawn priors; the others are per prior
        np.testing.assert_array_equal(ds["section_words"], plain["section_words"])
    assert "cache_hit_rate ~ provider_gross_margin: 0.6" in ds.attrs["rank_correlations"]


def test_correlation_changes_priors_hash_and_chunking_does_not_matter(project):
    exp = _experiment(project, 'pairs = [["cache_hit_rate", "provider_gross_margin", 0.5]]')
    plain = sim.load_experiment(project / "experiments" / "search_cost.toml")
    assert exp.priors_hash() != sim.load_experiment(
        write(project / "experiments" / "plain.toml", CORRELATED.format(body="", sampler="random")
              .replace("[correlations]", ""))).priors_hash()
    a = sim.run(exp, samples=3000)
    b = sim.run(exp, samples=3000, chunk_size=700)
    np.testing.assert_array_equal(a["cost_per_query"], b["cost_per_query"])
    assert plain.correlation is None


def test_correlations_in_a_priors_file(project):
    text = (project / "priors" / "seed_2023.toml").read_text()
    write(project / "priors" / "seed_2023.toml",
          text + '\n[correlations]\npairs = [["prompt_words", "section_words", -0.4], '
                 '["results_k", "section_words", -0.4]]\n')
    exp = sim.load_experiment(project / "experiments" / "search_cost.toml")
    assert exp.correlation.pairs() == {("prompt_words", "section_words"): -0.4, ("results_k", "section_words"): -0.4}
    ds = sim.run(exp, samples=10_000)
    assert stats.spearmanr(ds["prompt_words"], ds["section_words"])[0] == pytest.approx(-0.4, abs=0.02)
    # results_k takes five values: its ties weaken the rank correlation the copula can give (documented)
    assert -0.4 < stats.spearmanr(ds["results_k"], ds["section_words"])[0] < -0.3


@pytest.mark.parametrize("body, message", [
    ('pairs = [["cache_hit_rate", "provider_gross_margin", 1.5]]',
     r"correlations.pairs\[0\]: a rank correlation must lie in \[-1, 1\], got 1.5"),
    ('pairs = [["cache_hit_rate", "no_such_prior", 0.5]]',
     r"correlations.pairs\[0\]: no prior named 'no_such_prior'; valid: prompt_words"),
    ('pairs = [["cache_hit_rate", "cache_hit_rate", 0.5]]', "pairs 'cache_hit_rate' with itself"),
    ('pairs = [["cache_hit_rate", "api_price_per_1k_tokens", 0.5]]',
     "prior 'api_price_per_1k_tokens' is fixed; only drawn priors can be correlated"),
    ('names = ["cache_hit_rate", "provider_gross_margin"]\nmatrix = [[1, 0.5], [0.4, 1]]',
     r"correlations.matrix\[1\]\[0\]: the matrix must be symmetric: \[1\]\[0\] = 0.4 but \[0\]\[1\] = 0.5"),
    ('names = ["cache_hit_rate", "provider_gross_margin"]\nmatrix = [[1, 0.5], [0.5, 0.9]]',
     r"correlations.matrix\[1\]\[1\]: the diagonal must be 1, got 0.9"),
    ('pairs = [["cache_hit_rate", "provider_gross_margin", 0.9], ["cache_hit_rate", "response_words", 0.9], '
     '["provider_gross_margin", "response_words", -0.9]]',
     "correlations: the rank correlations among cache_hit_rate, provider_gross_margin, response_words are "
     r"inconsistent \(the matrix is not positive semi-definite: smallest eigenvalue -0.816\)"),
    ('pairs = [["cache_hit_rate", "provider_gross_margin", "high"]]',
     r"correlations.pairs\[0\]: must be a number, got 'high'"),
])
def test_bad_correlations(project, body, message):
    with pytest.raises(ConfigError, match=message):
        _experiment(project, body)


def test_bad_correlation_cli_one_line_nothing_written(project, capsys):
    _experiment(project, 'pairs = [["cache_hit_rate", "provider_gross_margin", 0.5]]')
    write(project / "experiments" / "bad.toml", CORRELATED.format(
        body='pairs = [["cache_hit_rate", "provider_gross_margin", -2]]', sampler="random"))
    code = main(["run", "bad"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("sim: error: experiments/bad.toml: correlations.pairs[0]: a rank correlation must lie")
    assert not (project / "outputs").exists()


GOOD_PRIOR = 'dist = "fixed"\npoint = 1\nunit = "1"\nnote = "n"\n'


def _bad(project, priors_text, scenarios="[scenarios.baseline]\n", model="search"):
    """An experiment ``experiments/bad.toml`` (relative to the project copy, the cwd) with a priors file of its own."""
    write(project / "priors" / "extra.toml", priors_text)
    return write(project / "experiments" / "bad.toml",
                 f'model = "{model}"\npriors = ["../priors/seed_2023.toml", "../priors/extra.toml"]\n{scenarios}'
                 ).relative_to(project)


BAD_EXPERIMENTS = [
    # a name ending in a newline is not a name: the whole text must match, not its first line
    ('[scenarios."s\\n"]\ndescription = "x"\n', r"experiments/bad\.toml: scenarios\.s\n: 's\\n' is not a valid name"),
    # a dotted key inside a scenario is a table of that name: the unknown key is named as the file has it
    ("[scenarios.s]\nset.cache_hit_rate = 0.5\nsett.x = 1\n",
     r"experiments/bad\.toml: scenarios\.s\.sett: unknown scenario key; did you mean 'set'\?$"),
    ("[scenarios.s]\nset = { nonexistent = 1 }\n",
     r"experiments/bad\.toml: scenarios\.s\.set\.nonexistent: no prior named 'nonexistent' to override; "
     r"valid: prompt_words, "),
    ("[scenarios.s.priors.nonexistent]\ndist = \"fixed\"\npoint = 1\n",
     r"experiments/bad\.toml: scenarios\.s\.priors\.nonexistent: no prior named 'nonexistent' to override"),
    ("[scenarios.s]\nset = { cache_hit_rate = \"high\" }\n",
     r"experiments/bad\.toml: scenarios\.s\.set\.cache_hit_rate: must be a number, got 'high'"),
    ("[scenarios.s.priors.cache_hit_rate]\ndist = \"beta\"\nmean = 0.5\n",
     r"experiments/bad\.toml: scenarios\.s\.priors\.cache_hit_rate: a beta prior takes \(a, b\) or \(mean, sd\) "
     r"or \(ci90\); got \(mean\)"),
    ("[scenarios.s]\nsett = { cache_hit_rate = 0.5 }\n",
     r"experiments/bad\.toml: scenarios\.s\.sett: unknown scenario key; did you mean 'set'\?$"),
    ("[scenarios.\"../up\"]\n", r"experiments/bad\.toml: scenarios\.\.\./up: '\.\./up' is not a valid name"),
    ("samples = 0\n", r"experiments/bad\.toml: samples: must be an integer of at least 2 \(a standard deviation needs "
     r"two samples\), got 0"),
    ("samples = 1.5\n", r"experiments/bad\.toml: samples: must be an integer of at least 2 \(a standard deviation "
     r"needs two samples\), got 1\.5"),
    ("seed = -1\n", r"experiments/bad\.toml: seed: must be an integer in \[0, 2\*\*63\), got -1"),
    ("sampler = \"mc\"\n", r"experiments/bad\.toml: sampler: unknown sampler 'mc'; valid: random, lhs, sobol"),
    ("runs = 3\n", r"experiments/bad\.toml: runs: unknown top-level key; valid: title, description, model, priors"),
    ("[scenarios.s]\nfiles = [\"../priors/none.toml\"]\n",
     r"experiments/bad\.toml: scenarios\.s\.files: priors file 'priors/none\.toml' not found"),
]


@pytest.mark.parametrize("scenarios, match", BAD_EXPERIMENTS)
def test_bad_experiment_file(project, scenarios, match):
    with pytest.raises(ConfigError, match=match):
        sim.load_experiment(_bad(project, "[priors.x]\n" + GOOD_PRIOR, scenarios))


def test_a_prior_defined_twice_needs_override(project):
    with pytest.raises(ConfigError, match=r"priors/extra\.toml: priors\.cache_hit_rate: already defined in .*seed_2023"
                                          r"\.toml; add override = true to replace it here, or override it in a "
                                          r"scenario$"):
        sim.load_experiment(_bad(project, "[priors.cache_hit_rate]\n" + GOOD_PRIOR))


def test_unknown_model(project):
    with pytest.raises(ConfigError, match=r"experiments/bad\.toml: model: unknown model 'serch'; valid: answer_engine, "
                                          r"build_vs_rent, chat_subscription, inference, inhouse_training, roofline, "
                                          r"scaling, search, search_cost_basis, serving, training, trajectory, "
                                          r"\"package\.module:name\", \{ file = \"model\.py\", name = \"\.\.\.\" \}, or "
                                          r"formulas under \[model\.outputs\]$"):
        sim.load_experiment(_bad(project, "[priors.x]\n" + GOOD_PRIOR, model="serch"))


def test_model_needs_a_prior_no_file_defines(project):
    write(project / "experiments" / "bad.toml", 'model = "search"\npriors = ["../priors/extra.toml"]\n')
    write(project / "priors" / "extra.toml", "[priors.prompt_words]\n" + GOOD_PRIOR)
    with pytest.raises(ConfigError, match=r"experiments/bad\.toml: priors: model 'search' needs prior\(s\) "
                                          r"response_words, samples_per_query, .* that no priors file defines "
                                          r"\(priors/extra\.toml\)"):
        sim.load_experiment("experiments/bad.toml")


def test_missing_files(project):
    with pytest.raises(ConfigError, match=r"^experiments/none\.toml: experiment file not found$"):
        sim.load_experiment("experiments/none.toml")
    write(project / "experiments" / "bad.toml", 'model = "search"\npriors = ["../priors/gone.toml"]\n')
    with pytest.raises(ConfigError, match=r"^experiments/bad\.toml: priors: priors file 'priors/gone\.toml' not found$"):
        sim.load_experiment("experiments/bad.toml")


@pytest.mark.parametrize("sweep, match", [
    ('[sweep]\nmodel = ["gpt5"]\n', r"experiments/bad\.toml: sweep\.model: 'gpt5' is not in the model catalogue; "
                                    r"did you mean 'gpt3'\?$"),
    ('[sweep]\nmodel = ["llama"]\n', r"experiments/bad\.toml: sweep\.model: 'llama' is not in the model catalogue; "
                                     r"valid: gpt3, gopher"),
    ('[sweep]\nhardware = ["h900"]\n', r"sweep\.hardware: 'h900' is not in the hardware catalogue"),
    ('[sweep]\nhardware = 3\n', r"sweep\.hardware: must be \"all\" or a non-empty list of catalogue names, got 3"),
    ('[sweep]\ngpu = "all"\n', r"sweep\.gpu: unknown sweep; valid: model, hardware"),
    ('[sweep]\nyear = [2030, 2023]\n', r"sweep\.year: \[2030, 2023\] is reversed or empty; give \[first, last\]"),
    ('[sweep]\nyear = [2023]\n', r"sweep\.year: must be \[first, last\], two integer years, got \[2023\]"),
])
def test_bad_sweep(project, sweep, match):
    write(project / "experiments" / "bad.toml",
          'model = "training"\npriors = ["../priors/compute_2023.toml"]\n' + sweep)
    with pytest.raises(ConfigError, match=match):
        sim.load_experiment("experiments/bad.toml")


# --- settings, overrides and what a run records of them -----------------------------------------------------------


def test_a_runs_overrides_are_read_back_as_data(search_experiment):
    """--set and --scenario are recorded as JSON in the run's attrs and read back without parsing text."""
    from sim.experiment import as_run, run_overrides

    changed = sim.with_overrides(search_experiment, set_values={"cache_hit_rate": 0.5}, scenarios=["baseline"])
    attrs = sim.point(changed).attrs
    assert json.loads(attrs["run_overrides"]) == {"set": {"cache_hit_rate": 0.5}, "scenarios": ["baseline"]}
    assert attrs["overrides"] == "cache_hit_rate = 0.5" and attrs["scenarios_run"] == "baseline"  # for people
    assert run_overrides(attrs) == ({"cache_hit_rate": 0.5}, ["baseline"])
    again = as_run(search_experiment, attrs)
    assert again.priors_hash() == changed.priors_hash() and again.scenario_names == ("baseline",)
    assert "run_overrides" not in sim.point(search_experiment).attrs
    assert as_run(search_experiment, {}).priors_hash() == search_experiment.priors_hash()


def test_output_cells_are_known_without_evaluating_the_model():
    """The unit check's evaluation gives each output's dims; a run's cells follow the sweeps, narrowed or not."""
    import dataclasses

    experiment = sim.load_experiment(ROOT / "experiments" / "training_cost.toml")
    cells = experiment.output_cells()
    point = sim.point(experiment)
    assert cells == {name: point[name].size for name in experiment.model.outputs}
    narrow = dataclasses.replace(experiment, sweeps={k: v.isel(model=[0, 1]) if "model" in v.dims else v
                                                      for k, v in experiment.sweeps.items()})
    assert narrow.output_cells()["training_cost"] == cells["training_cost"] * 2 // point.sizes["model"]


def test_settings_are_checked_as_the_file_checks_them(search_experiment):
    from sim.experiment import with_settings

    changed = with_settings(search_experiment, samples=64, seed=5, sampler="sobol")
    assert (changed.samples, changed.seed, changed.sampler) == (64, 5, "sobol")
    with pytest.raises(ConfigError, match=r"^arguments: samples: must be an integer of at least 2"):
        with_settings(search_experiment, samples=1)
    with pytest.raises(ConfigError, match=r"^arguments: sampler: unknown sampler 'mc'; valid: random, lhs, sobol$"):
        with_settings(search_experiment, sampler="mc")


def test_the_subject_of_a_report_comes_from_the_roles(search_experiment):
    from sim.experiment import subject

    assert subject(search_experiment) == ("cost_per_query", "revenue_per_query", "")
    # an output with no role of cost is compared with no revenue, unless one is named
    assert subject(search_experiment, "optimized_cost_per_query")[:2] == ("optimized_cost_per_query", None)
    assert subject(search_experiment, "optimized_cost_per_query", "revenue_per_query")[1] == "revenue_per_query"
    training = sim.load_experiment(ROOT / "experiments" / "training_cost.toml")
    assert subject(training)[:2] == ("training_cost", None)
    with pytest.raises(sim.SimError, match=r"^--output: unknown output 'nope'; valid: "):
        subject(search_experiment, "nope")
