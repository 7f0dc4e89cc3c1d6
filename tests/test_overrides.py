"""Changing an assumption without writing a scenario: --set, --scenario, override = true, Prior.with_params."""

import dataclasses
import json
import shlex

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import sim
from sim.cli import main

from .conftest import ROOT, one_line_error, write

AGENT = str(ROOT / "experiments" / "agent_task.toml")



def test_set_pins_a_prior_in_every_scenario_and_is_recorded(tmp_path, capsys):
    out = str(tmp_path)
    assert main(["run", AGENT, "--samples", "2000", "--set", "cache_hit_rate=0.5", "--no-sensitivity", "--out", out]) == 0
    capsys.readouterr()
    folder = tmp_path / "agent_task"
    ds = xr.open_dataset(folder / "samples.nc")
    assert np.all(ds["cache_hit_rate"].values == 0.5)
    assert ds["cache_hit_rate"].attrs["overridden_in"] == "subscription, no_reasoning, small_model, per_task_price"
    assert ds.attrs["overrides"] == "cache_hit_rate = 0.5"
    record = json.loads((folder / "inputs" / "record.json").read_text())
    assert "--set cache_hit_rate=0.5" in record["command"]
    assert "overrides (--set, every scenario) | cache_hit_rate = 0.5" in (folder / "report.md").read_text()
    # the saved run is not stale for `sim report`: the override is read back from the run
    assert main(["report", AGENT, "--no-sensitivity", "--out", out]) == 0, capsys.readouterr().err
    # the recorded command gives the same samples bit for bit
    again = shlex.split(record["command_from_record"].replace("OUT", str(tmp_path / "again")))
    assert main(again[1:] + ["--no-report"]) == 0
    b = xr.open_dataset(tmp_path / "again" / "agent_task" / "samples.nc")
    np.testing.assert_array_equal(ds["cost_per_task"].values, b["cost_per_task"].values)


def test_set_changes_only_the_pinned_prior():
    exp = sim.load_experiment(AGENT)
    base = sim.run(exp, samples=4000, seed=2)
    pinned = sim.run(sim.with_overrides(exp, set_values={"cache_hit_rate": 0.5}), samples=4000, seed=2)
    # per-prior random streams: every other prior draws the same values
    np.testing.assert_array_equal(base["calls_per_task"].values, pinned["calls_per_task"].values)
    cost = (pinned["input_tokens_per_task"] * pinned["price_input_usd_per_mtoken"]
            * (1 - 0.5 + 0.5 * pinned["cached_input_price_ratio"]) / 1e6)
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


@pytest.mark.parametrize("args, message", [
    (["--set", "cache_hit=0.5"], "--set: no prior 'cache_hit' in .*agent_task.toml; valid: .*, cache_hit_rate, "),
    (["--set", "cache_hit_rate=1.5"], r"--set: cache_hit_rate: unit 'fraction' needs values in \[0, 1\]"),
    (["--set", "calls_per_task=-3"], "--set: calls_per_task: a quantity in 'calls/task' cannot be negative"),
    (["--set", "cache_hit_rate=high"], r"argument --set: must be PRIOR=NUMBER, such as a prior's name = 0.5, got "
                                       r"'cache_hit_rate=high'"),
    (["--scenario", "nope"], "--scenario: no scenario 'nope' in .*agent_task.toml; valid: subscription, no_reasoning, "
                             "small_model, per_task_price"),
])
def test_bad_overrides_are_one_line(tmp_path, capsys, args, message):
    import re

    err = one_line_error(capsys, ["run", AGENT, "--samples", "10", "--out", str(tmp_path), *args])
    assert re.search(message, err), err
    assert not (tmp_path / "agent_task").exists()


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


def test_with_params_gives_a_prior_that_follows_the_new_parameters():
    prior = sim.load_experiment(AGENT).base_priors["cache_hit_rate"]  # beta, ci90 = [0.5, 0.95]
    changed = prior.with_params(ci90=[0.4, 0.7])
    assert changed.dist == "beta" and changed.unit == prior.unit and changed.source == prior.source
    # a beta fitted to its 90 % interval reproduces it (checked to 1e-9 when fitted)
    assert changed.interval(0.9) == pytest.approx((0.4, 0.7), rel=1e-9)
    assert changed.point == pytest.approx(changed.median(), rel=1e-12)  # the point defaults to the new median
    assert prior.interval(0.9) == pytest.approx((0.5, 0.95), rel=1e-9)  # the original is unchanged
    u = np.random.default_rng(0).random(20000)
    # samples follow the new distribution: Kolmogorov-Smirnov against the fitted beta's own CDF
    assert stats.kstest(changed.ppf(u), changed.impl.cdf).pvalue > 0.01
    uniform = prior.with_params(dist="uniform", low=0.2, high=0.4)
    assert uniform.support() == (0.2, 0.4) and uniform.point == pytest.approx(0.3)
    narrower = sim.load_experiment(AGENT).base_priors["output_input_price_ratio"].with_params(high=6)  # keeps low = 4
    assert narrower.support() == (4.0, 6.0)
    with pytest.raises(sim.ConfigError, match=r"priors\.cache_hit_rate\.ci90: must be inside \(0, 1\) for a beta"):
        prior.with_params(ci90=[0.4, 1.7])


def test_dataclasses_replace_does_not_keep_the_old_distribution():
    prior = sim.load_experiment(AGENT).base_priors["output_input_price_ratio"]  # uniform 4 to 8
    replaced = dataclasses.replace(prior, params=(("high", 20.0), ("low", 10.0)), point=15.0)
    assert replaced.support() == (10.0, 20.0)
    assert replaced.ppf(0.5) == 15.0
    with pytest.raises(sim.ConfigError, match=r"high: must be greater than low \(10\), got 5"):
        dataclasses.replace(prior, params=(("high", 5.0), ("low", 10.0)))
