"""The suites of sim sensitivity and sim decide (sim.studies.suite): options checked first, then the analyses of a
saved run, each equal to the analysis or study it composes."""

import dataclasses

import numpy as np
import pytest
import xarray as xr

import sim
from sim.analysis import decision as da
from sim.analysis import sensitivity as sa
from sim.errors import SimError
from sim.studies import decision as sd
from sim.studies import sensitivity as ss
from sim.studies.suite import METHODS, decision_options, sensitivity_options


@pytest.fixture(scope="module")
def small(search_experiment):
    return sim.run(search_experiment, samples=2000, seed=9)


def test_the_command_lines_methods_are_the_suites():
    from sim.cli.parser import SENSITIVITY_METHODS

    assert SENSITIVITY_METHODS == METHODS


def test_options_default_to_the_roles_and_say_what_is_skipped(project):
    experiment = sim.load_experiment("experiments/search_cost.toml")
    opts = sensitivity_options(experiment)
    assert opts.methods == METHODS and opts.output == "cost_per_query" and opts.skipped == ()
    assert (opts.region.output, opts.region.above, opts.region.threshold) == ("cost_per_query", True,
                                                                              "revenue_per_query")
    correlated = dataclasses.replace(experiment, correlation=object())  # any correlation at all
    opts = sensitivity_options(correlated, methods=["rank", "sobol"])
    assert opts.methods == ("rank",) and opts.skipped[0].startswith("sobol: not defined for correlated priors")
    training = sim.load_experiment("experiments/training_cost.toml")
    assert sensitivity_options(training, methods=["rank", "target"]).skipped == (
        "target: no region; give --region OUTPUT>THRESHOLD",)
    with pytest.raises(SimError, match=r"^--method: nothing to compute for experiments/training_cost\.toml: target: "
                                       r"no region"):
        sensitivity_options(training, methods=["target"])


@pytest.mark.parametrize("kwargs, message", [
    ({"methods": ["rank", "nope"]}, "--method: unknown method 'nope'; valid: rank, given, tornado, spider, target, sobol"),
    ({"sobol_n": 1000}, r"--sobol-n must be a power of 2 \(such as 16384\), got 1000"),
    ({"percentiles": (0.9, 0.1)}, "--percentiles: the low percentile must be below the high one, got 90,10"),
    ({"region": "cost_per_query=1"}, "--region must be OUTPUT>THRESHOLD or OUTPUT<THRESHOLD"),
    ({"region": "cost_per_query>margin"}, "--region: threshold 'margin' is neither a number nor a variable"),
    ({"output": "nope"}, "--output: unknown output 'nope'"),
])
def test_bad_sensitivity_options(search_experiment, kwargs, message):
    with pytest.raises(SimError, match=message):
        sensitivity_options(search_experiment, **kwargs)


def test_the_sensitivity_suite_is_its_analyses(search_experiment, small):
    """Each result is the analysis or study it names, on the run or on the run's own settings, and restricted to the
    selected cells."""
    select = [("scenario", "baseline")]
    result = sim.sensitivity(search_experiment, small, methods=["rank", "given", "tornado", "target"], select=select)
    base = {"scenario": ["baseline"]}
    xr.testing.assert_identical(result.results["rank"], sa.rank_correlation(small, "cost_per_query").sel(base))
    xr.testing.assert_identical(result.results["given"], sa.first_order_given(small, "cost_per_query").sel(base))
    xr.testing.assert_identical(result.results["target"], sa.target_region(small, "cost_per_query",
                                                                            "revenue_per_query").sel(base))
    xr.testing.assert_identical(result.results["tornado"], ss.tornado(search_experiment, "cost_per_query").sel(base))
    assert result.cells == ("scenario", "architecture") and result.drawn == 15
    assert result.dataset.attrs["methods"] == "rank, given, tornado, target"
    assert result.dataset.attrs["samples"] == 2000 and set(result.dataset.data_vars) >= {
        "rank_correlation", "given_first_order_given", "tornado_swing", "target_ks_distance"}


def test_decision_options_check_before_a_run_is_read(search_experiment):
    opts = decision_options(search_experiment, stress=("cache_hit_rate", 0.0, 0.1))
    assert (opts.cost, opts.revenue, opts.volume) == ("cost_per_query", "revenue_per_query", "annual_searches")
    with pytest.raises(SimError, match=r"--stress: need 0 <= LOW < HIGH <= 100 \(percent\), got 20 10"):
        decision_options(search_experiment, stress=("cache_hit_rate", 0.2, 0.1))
    with pytest.raises(SimError, match="--stress: unknown prior 'nope'; valid: prompt_words"):
        decision_options(search_experiment, stress=("nope", 0.0, 0.1))
    with pytest.raises(SimError, match="--seek needs --target"):
        decision_options(search_experiment, seek="cache_hit_rate")
    with pytest.raises(SimError, match="unknown statistic 'p999x'"):
        decision_options(search_experiment, seek="cache_hit_rate", target=0.5, statistic="p999x")


def test_the_decision_suite_is_its_analyses(search_experiment, small):
    select = [("scenario", "baseline"), ("architecture", "two_stage")]
    result = sim.decide(search_experiment, small, stress=("cache_hit_rate", 0.0, 0.1), select=select)
    cell = {"scenario": ["baseline"], "architecture": ["two_stage"]}
    expected = da.decide(small).sel(cell)
    for name in ("expected_net_benefit", "p_profitable", "evpi", "evppi", "deploy"):
        xr.testing.assert_equal(result.measures[name], expected[name])
    assert result.measures.attrs["seed"] == 9 and result.measures.attrs["priors_hash"] == small.attrs["priors_hash"]
    xr.testing.assert_equal(result.acceptability, da.acceptability(small).sel(cell))
    stressed = sd.stress(search_experiment, "cache_hit_rate", (0.0, 0.1), samples=2000, seed=9).sel(cell)
    np.testing.assert_array_equal(result.stress["cost_per_query"].values, stressed["cost_per_query"].values)
    assert result.seek is None and result.samples == 2000
