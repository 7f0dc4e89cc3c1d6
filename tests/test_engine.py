"""Runs: labelled dims, common random numbers, reproducibility, point mode."""

import dataclasses
import warnings

import numpy as np
import pytest
import xarray as xr

import sim
from sim.errors import SimWarning

from .conftest import ROOT, write


@pytest.fixture(scope="module")
def exp():
    return sim.load_experiment(ROOT / "experiments" / "search_cost.toml")


@pytest.fixture(scope="module")
def ds(exp):
    return sim.run(exp, samples=4000, seed=1)


def test_dims_and_coords(ds):
    assert ds["cost_per_query"].dims == ("scenario", "architecture", "sample")
    assert ds["revenue_per_query"].dims == ("scenario", "sample")
    assert ds["prompt_words"].dims == ("sample",)           # shared by all scenarios: drawn once
    assert ds["api_price_per_1k_tokens"].dims == ("scenario", "sample")  # changed by scenarios
    assert ds["words_per_token"].dims == ()                            # fixed everywhere
    assert ds["words_per_token"].dims == ()
    assert list(ds.scenario.values) == ["baseline", "gpt35_turbo_2023", "market_2026"]
    assert list(ds.architecture.values) == ["chatgpt_equivalent", "two_stage"]
    assert ds.sizes["sample"] == 4000


def test_labels_and_metadata(ds, exp):
    assert ds["cost_per_query"].attrs["units"] == "USD/query"
    # an output's role is its role in the economics, or "output"; priors are "input"
    assert ds["cost_per_query"].attrs["role"] == "cost"
    assert ds["revenue_per_query"].attrs["role"] == "revenue"
    assert ds["annual_searches"].attrs["role"] == "volume"
    assert ds["tokens_per_query"].attrs["role"] == "output"
    assert ds["cache_hit_rate"].attrs["role"] == "input"
    assert ds["cache_hit_rate"].attrs["units"] == "fraction"
    assert ds["api_price_per_1k_tokens"].attrs["overridden_in"] == "gpt35_turbo_2023, market_2026"
    assert ds.attrs["model"] == "search" and ds.attrs["model_source"] == "sim"
    for key in ("experiment", "seed", "sampler", "samples", "sim_version", "priors_hash", "created"):
        assert key in ds.attrs
    assert ds.attrs["priors_hash"] == exp.priors_hash()
    assert (ds.attrs["seed"], ds.attrs["samples"], ds.attrs["sampler"]) == (1, 4000, "random")


def test_common_random_numbers(ds):
    """Scenarios share draws: a 10x lower price gives exactly 10x lower cost, sample by sample."""
    cost = ds["cost_per_query"]
    np.testing.assert_allclose(cost.sel(scenario="gpt35_turbo_2023"), cost.sel(scenario="baseline") / 10,
                               rtol=1e-13)
    xr.testing.assert_equal(ds["revenue_per_query"].sel(scenario="baseline", drop=True),
                            ds["revenue_per_query"].sel(scenario="gpt35_turbo_2023", drop=True))


def test_inputs_follow_their_priors(ds, exp):
    # median of 4000 draws: its sd is about 1.25 * sigma / sqrt(n) ~ 0.02 in log units for
    # prompt_words; 0.1 relative is 5 sd
    for name in ("prompt_words", "response_words", "section_words", "search_revenue"):
        values = ds[name].sel(scenario="baseline") if "scenario" in ds[name].dims else ds[name]
        assert float(values.median()) == pytest.approx(exp.base_priors[name].median(), rel=0.1)
    assert set(np.unique(ds["results_k"])) == {3.0, 5.0, 8.0, 10.0}


@pytest.mark.parametrize("sampler", ["random", "lhs", "sobol"])
def test_same_seed_same_numbers_any_chunk(exp, sampler):
    a = sim.run(exp, samples=1024, seed=9, sampler=sampler)
    b = sim.run(exp, samples=1024, seed=9, sampler=sampler, chunk_size=100)
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    c = sim.run(exp, samples=1024, seed=10, sampler=sampler)
    assert not np.array_equal(a["cost_per_query"], c["cost_per_query"])


def test_lhs_run_is_stratified(exp):
    n = 500
    ds = sim.run(exp, samples=n, seed=3, sampler="lhs")
    u = exp.base_priors["prompt_words"].impl.frozen.cdf(ds["prompt_words"].values)
    np.testing.assert_array_equal(np.sort(np.floor(u * n)), np.arange(n))


def test_sobol_warns_when_not_power_of_two(exp):
    with pytest.warns(SimWarning, match="Sobol' balance needs a power of 2 samples; 1000 is not"):
        sim.run(exp, samples=1000, sampler="sobol")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sim.run(exp, samples=1024, sampler="sobol")


def test_point_has_same_variables_without_sample(exp, ds):
    p = sim.point(exp)
    assert set(p.data_vars) == set(ds.data_vars)
    assert "sample" not in p.dims
    assert p["cost_per_query"].dims == ("scenario", "architecture")
    assert float(p["prompt_words"]) == 50.0


def test_point_equals_run_when_every_prior_is_fixed(exp, tmp_path):
    """With every prior pinned to its point value, each sample equals point mode."""
    pins = ", ".join(f"{n} = {p.point!r}" for n, p in exp.base_priors.items())
    path = write(tmp_path / "pinned.toml",
                 f'model = "search"\npriors = ["{ROOT / "priors" / "seed_2023.toml"}"]\n'
                 f'[scenarios.baseline]\nset = {{ {pins} }}\n')
    pinned = sim.load_experiment(path)
    run = sim.run(pinned, samples=50, seed=4)
    point = sim.point(exp).sel(scenario=["baseline"])
    for name in exp.model.outputs:
        np.testing.assert_array_equal(run[name].values, np.broadcast_to(point[name].values[..., None],
                                                                       run[name].shape))


def test_overridden_prior_changes_only_its_scenario(exp):
    base = exp.scenarios[0]
    wide = dataclasses.replace(base, name="wide", priors={
        **base.priors, "cache_hit_rate": sim.priors.pinned(base.priors["cache_hit_rate"], 0.9)},
        overrides=("cache_hit_rate",))
    ds = sim.run(dataclasses.replace(exp, scenarios=(base, wide)), samples=100, seed=2)
    assert ds["cache_hit_rate"].dims == ("scenario", "sample")
    np.testing.assert_array_equal(ds["cache_hit_rate"].sel(scenario="wide"), 0.9)
    np.testing.assert_array_equal(ds["prompt_words"].values, sim.run(exp, samples=100, seed=2)["prompt_words"])


def test_summary_and_exceedance(ds):
    s = sim.summarize(ds)
    assert list(s["stat"].values) == ["mean", "se_mean", "sd", "p05", "p25", "p50", "p75", "p95"]
    cost = ds["cost_per_query"]
    np.testing.assert_allclose(s["cost_per_query"].sel(stat="mean"), cost.mean("sample"), rtol=1e-14)
    np.testing.assert_allclose(s["cost_per_query"].sel(stat="p95"), np.quantile(cost, 0.95, axis=-1), rtol=1e-14)
    np.testing.assert_allclose(s["cost_per_query"].sel(stat="sd"), cost.std("sample", ddof=1), rtol=1e-14)
    np.testing.assert_allclose(s["cost_per_query"].sel(stat="se_mean"),
                               cost.std("sample", ddof=1) / np.sqrt(cost.sizes["sample"]), rtol=1e-14)
    p = sim.exceedance(ds, "cost_per_query", "revenue_per_query")
    expected = (cost > ds["revenue_per_query"]).mean("sample")
    np.testing.assert_array_equal(p, expected)
    assert float(p.sel(scenario="gpt35_turbo_2023", architecture="chatgpt_equivalent")) == 0.0
