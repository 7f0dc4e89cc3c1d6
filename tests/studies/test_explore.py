"""The what-if core (sim.studies.explore): one scenario on uniforms drawn once, changes as values, the numbers of
`sim run`."""

import numpy as np
import pytest
import xarray as xr

import sim
from sim.cli import main
from sim.engine import run
from sim.errors import ConfigError, SimError
from sim.experiment import with_overrides
from sim.store import write_new_experiment
from sim.studies.explore import what_if as make

N = 20_000  # enough for P(cost > revenue) to sit well inside (0, 1) in the two-stage cell


def _samples(ds):
    return {name: da.transpose(*sorted(da.dims)).values for name, da in ds.data_vars.items() if "sample" in da.dims}


def _same(a, b):
    """Every output and drawn input of two runs bit for bit (the scenario's name may differ)."""
    a, b = _samples(a), _samples(b)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_unchanged_it_is_the_run_of_its_scenario(search_experiment):
    what_if = make(search_experiment, "market_2026", samples=N)
    _same(what_if.dataset(), run(with_overrides(search_experiment, scenarios=["market_2026"]), samples=N))


def test_a_changed_interval_is_sim_run_of_that_change_as_a_scenario(project):
    """The margin's 90 % interval moved to [0.4, 0.7]: the scenario table saying so gives the same samples."""
    path = project / "experiments" / "search_cost.toml"
    what_if = make(sim.load_experiment(path), samples=N)
    before = what_if.dataset()
    changed_if = what_if.change("provider_gross_margin", ci90=[0.4, 0.7])
    prior = changed_if.priors["provider_gross_margin"]
    assert list(changed_if.changed) == ["provider_gross_margin"] and what_if.changed == {}  # a value: the old one stays
    path.write_text(path.read_text() + (
        '\n[scenarios.what_if]\ndescription = "baseline with a lower margin"\n\n'
        f'[scenarios.what_if.priors.provider_gross_margin]\ndist = "beta"\nci90 = [0.4, 0.7]\npoint = {prior.point!r}\n'
        'note = "what-if"\n'))
    changed = changed_if.dataset()
    _same(changed, run(with_overrides(sim.load_experiment(path), scenarios=["what_if"]), samples=N))
    # common random numbers: every other prior kept its values, and the margin its uniforms (so its ranks)
    for name in _samples(before):
        if name not in ("provider_gross_margin", *sim.load_experiment(path).model.outputs):
            np.testing.assert_array_equal(before[name].values, changed[name].values)
    np.testing.assert_array_equal(np.argsort(before["provider_gross_margin"].values, kind="stable"),
                                  np.argsort(changed["provider_gross_margin"].values, kind="stable"))


def test_a_pin_is_sim_run_set(project, capsys):
    what_if = make(sim.load_experiment("experiments/search_cost.toml"), "baseline", samples=N)
    shown = what_if.pin("api_price_per_1k_tokens", 0.002).results()
    assert main(["run", "--set", "api_price_per_1k_tokens=0.002", "--scenario", "baseline", "--samples", str(N),
                 "--no-report"]) == 0
    capsys.readouterr()
    saved = xr.load_dataset(project / "outputs" / "set_api_price_per_1k_tokens=0.002" / "search_cost" / "summary.nc")
    (pair, measures), = shown["pairs"].items()
    name = f"p_{pair[0]}_gt_{pair[1]}"
    np.testing.assert_array_equal(measures["p_loss"].values, saved[name].values)
    np.testing.assert_array_equal(measures["p_loss_ci"].values, saved[f"{name}_ci"].values)
    xr.testing.assert_equal(shown["summary"][pair[0]], saved[pair[0]])


def test_results_are_the_analyses_of_the_samples(search_experiment):
    """Net benefit, EVPI and drivers against their definitions on the same samples."""
    from scipy import stats

    shown = make(search_experiment, "baseline", samples=N).results()
    ds = shown["dataset"]
    (pair, measures), = shown["pairs"].items()
    nb = (ds[pair[1]] - ds[pair[0]]).sel(scenario="baseline", architecture="two_stage").values
    cell = dict(scenario="baseline", architecture="two_stage")
    assert float(measures["net_benefit"].sel(cell)) == pytest.approx(nb.mean(), rel=1e-12)
    assert float(measures["evpi"].sel(cell)) == pytest.approx(np.maximum(nb, 0).mean() - max(nb.mean(), 0), rel=1e-9)
    rho = stats.spearmanr(ds["provider_gross_margin"].values, nb).statistic
    assert float(measures["drivers"].sel(cell | {"input": "provider_gross_margin"})) == pytest.approx(rho, abs=1e-12)
    assert 0 < float(measures["p_loss"].sel(cell)) < 1


def test_bad_changes_raise_and_a_reset_gives_the_experiment_back(search_experiment):
    what_if = make(search_experiment, samples=2000)
    before = what_if.dataset()
    with pytest.raises(ConfigError, match=r"priors.provider_gross_margin.ci90"):
        what_if.change("provider_gross_margin", ci90=[0.7, 0.4])  # low above high
    with pytest.raises(ConfigError, match="fraction"):
        what_if.pin("provider_gross_margin", 1.5)  # a fraction outside [0, 1]
    with pytest.raises(SimError, match="no prior 'nope' to change"):
        what_if.change("nope", ci90=[1, 2])
    assert what_if.changed == {}
    xr.testing.assert_equal(what_if.dataset(), before)
    pinned = what_if.pin("provider_gross_margin", 0.5).pin("cache_hit_rate", 0.4)
    assert list(pinned.changed) == ["provider_gross_margin", "cache_hit_rate"]
    assert list(pinned.reset("provider_gross_margin").changed) == ["cache_hit_rate"]
    xr.testing.assert_equal(pinned.reset().dataset(), before)
    # a change back to the experiment's own prior is no change
    assert pinned.use(search_experiment.scenarios[0].priors["cache_hit_rate"]).changed == {
        "provider_gross_margin": pinned.priors["provider_gross_margin"]}


def test_an_unknown_scenario_is_named(search_experiment):
    with pytest.raises(SimError, match="no scenario 'nope' in .*; valid: baseline, gpt35_turbo_2023, market_2026"):
        make(search_experiment, "nope")


@pytest.mark.parametrize("scenario", ["baseline", "market_2026"])
def test_a_saved_scenario_reproduces_what_was_shown(project, capsys, scenario):
    """Changed and pinned priors saved as a scenario of a new experiment file: `sim run` of it gives the numbers
    shown, bit for bit (market_2026 carries its own priors file, which the saved scenario keeps)."""
    what_if = make(sim.load_experiment("experiments/search_cost.toml"), scenario, samples=N)
    what_if = what_if.change("provider_gross_margin", ci90=[0.4, 0.7]).pin("cache_hit_rate", 0.5)
    shown = what_if.results()
    saved = write_new_experiment("experiments/lower_margin.toml",
                                 what_if.experiment_text("experiments/lower_margin.toml", "lower_margin"))
    assert main(["run", str(saved), "--scenario", "lower_margin", "--samples", str(N), "--no-report"]) == 0
    capsys.readouterr()
    summary = xr.load_dataset(project / "outputs" / "lower_margin" / "summary.nc")
    (pair, measures), = shown["pairs"].items()
    np.testing.assert_array_equal(measures["p_loss"].values, summary[f"p_{pair[0]}_gt_{pair[1]}"].values)
    for name in pair:
        np.testing.assert_array_equal(shown["summary"][name].values, summary[name].values)
    # the file is the experiment's, with the scenario appended
    original = (project / "experiments" / "search_cost.toml").read_text()
    assert saved.read_text().startswith(original)


def test_saving_never_replaces_a_file_and_stays_beside_the_experiment(project):
    what_if = make(sim.load_experiment("experiments/search_cost.toml"), samples=2000).pin("cache_hit_rate", 0.5)
    (project / "experiments" / "taken.toml").write_text("kept\n")
    with pytest.raises(SimError, match=r"experiments/taken\.toml exists; sim does not replace it"):
        write_new_experiment("experiments/taken.toml", what_if.experiment_text("experiments/taken.toml"))
    assert (project / "experiments" / "taken.toml").read_text() == "kept\n"
    with pytest.raises(SimError, match="save it beside experiments/search_cost.toml"):
        what_if.experiment_text("elsewhere.toml")
    with pytest.raises(SimError, match="has a scenario 'baseline' already"):
        what_if.experiment_text("experiments/new.toml", "baseline")
    with pytest.raises(ConfigError, match="is not a valid name"):
        what_if.experiment_text("experiments/new.toml", "what if\n")
    assert sorted(p.name for p in (project / "experiments").iterdir() if p.name.startswith((".", "new"))) == []


def test_a_saved_scenario_of_a_sobol_experiment_draws_as_the_explorer(project, capsys):
    """The explorer draws with the random sampler (one stream per prior); the saved file says so, so `sim run` of
    it reproduces the shown numbers where the experiment asked for Sobol' points."""
    path = project / "experiments" / "search_cost.toml"
    path.write_text(path.read_text().replace('sampler = "random"', 'sampler = "sobol"'))
    what_if = make(sim.load_experiment(path), samples=4096).change("provider_gross_margin", ci90=[0.4, 0.7])
    shown = what_if.results()
    saved = write_new_experiment("experiments/sobol_what_if.toml",
                                 what_if.experiment_text("experiments/sobol_what_if.toml"))
    assert 'sampler = "random"  # the what-if explorer\'s' in saved.read_text()
    assert main(["run", str(saved), "--scenario", "what_if", "--samples", "4096", "--no-report"]) == 0
    capsys.readouterr()
    summary = xr.load_dataset(project / "outputs" / "sobol_what_if" / "summary.nc")
    (pair, measures), = shown["pairs"].items()
    np.testing.assert_array_equal(measures["p_loss"].values, summary[f"p_{pair[0]}_gt_{pair[1]}"].values)


def test_each_prior_form_is_mapped_once_and_shared(search_experiment):
    """Changes share the draws' uniforms, and each form's values are mapped once: a prior changed and changed back
    gives the very same array, and a resample keeps the changes on new draws."""
    what_if = make(search_experiment, samples=2000)
    first = what_if.values("provider_gross_margin")
    back = what_if.change("provider_gross_margin", ci90=[0.4, 0.7]).reset("provider_gross_margin")
    assert back.values("provider_gross_margin") is first
    changed = what_if.change("provider_gross_margin", ci90=[0.4, 0.7])
    again = changed.resampled(3000, seed=5)
    assert again.changed == changed.changed and again.experiment.samples == 3000 and again.experiment.seed == 5
    assert again.values("provider_gross_margin").shape == (3000,)


def test_the_draws_keep_one_form_per_prior_and_a_few_more(search_experiment):
    """Values and ranks are kept for the forms in use, the least recently used given up: memory stays bounded
    however many changes an explorer session makes."""
    from sim.studies.explore import KEEP

    what_if = make(search_experiment, samples=500)
    what_if.results()
    for i in range(40):
        what_if.change("provider_gross_margin", ci90=[0.40 + i / 1000, 0.7]).results()
    assert len(what_if.draws._kept) <= 2 * (len(what_if.inputs) + KEEP)
    base = search_experiment.scenarios[0].priors["cache_hit_rate"]
    assert ("values", base) in what_if.draws._kept  # a form in use by every evaluation stays


def test_a_saved_scenarios_moved_point_is_written_without_rounding_noise(search_experiment):
    """A changed prior's point is its new median, computed to rounding noise (0.20000000000000007 for a log-uniform
    from 0.1 to 0.4); the saved scenario gives it to 12 significant digits."""
    changed = make(search_experiment, samples=N).change("optimization_factor", low=0.1, high=0.4)
    assert changed.priors["optimization_factor"].point != 0.2  # the noise the file leaves out
    assert "\npoint = 0.2\n" in changed.scenario_table("wider")
    margin = make(search_experiment, samples=N).change("provider_gross_margin", ci90=[0.4, 0.7])
    point = margin.priors["provider_gross_margin"].point
    assert f"\npoint = {float(f'{point:.12g}')!r}\n" in margin.scenario_table("lower")
