"""Runs: labelled dims, common random numbers, reproducibility, point mode."""

import dataclasses
import hashlib
import json
import re
import warnings

import numpy as np
import pytest
import xarray as xr

import sim
from sim.errors import SimWarning

from .helpers import ROOT, one_line_error, write


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


def test_same_seed_same_numbers():
    """Every output of every shipped experiment, bit for bit, against values recorded with the same seed
    (tests/data/reference_runs.json: 2,000 samples, seed 7): the SHA-256 of each output's array, and its mean and
    median. Recorded once before the models were declared with @model and checked after (the same numbers, bit
    for bit); re-recorded after the 2026 economics changed priors, catalogues and equations on purpose. A change
    that moves these numbers must be meant: re-record with tests/data/record_reference.py and say why."""
    reference = json.loads((ROOT / "tests" / "data" / "reference_runs.json").read_text())
    for path, outputs in reference["experiments"].items():
        ds = sim.run(sim.load_experiment(ROOT / path), samples=reference["samples"], seed=reference["seed"])
        summary = sim.summarize(ds)
        assert set(outputs) == set(sim.analysis.summary.output_names(ds)), path
        for output, ref in outputs.items():
            da = ds[output].transpose("scenario", ..., "sample")
            assert list(da.dims) == ref["dims"], (path, output)
            digest = hashlib.sha256(np.ascontiguousarray(da.values, dtype=np.float64).tobytes()).hexdigest()
            assert digest == ref["sha256"], (path, output)
            first = {d: 0 for d in da.dims if d != "sample"}
            assert float(summary[output].sel(stat="mean").isel(first)) == ref["mean"]
            assert float(summary[output].sel(stat="p50").isel(first)) == ref["p50"]


def test_point_mode_has_the_runs_nan_guard(project, capsys):
    """A catalogue entry that overflows: sim point stops in one line, as sim run does, instead of printing inf."""
    path = project / "priors" / "catalogues" / "models.toml"
    text = path.read_text()
    start = text.index("[models.gpt3]")
    path.write_text(text[:start] + text[start:].replace("active_params = 175e9", "active_params = 1e308", 1))
    for argv, where in ((["point", "training_cost"], "in point mode in 1 cell(s)"),
                        (["run", "training_cost", "--samples", "100", "--no-report"], "in 100 of 100 samples")):
        err = one_line_error(capsys, argv)
        assert f"output training_flops is NaN or infinite {where} (first in scenario baseline, model gpt3)" in err, err
    assert not (project / "outputs").exists()


def test_non_finite_output_stops_the_run_naming_the_output_and_the_prior(project, capsys):
    write(project / "experiments" / "nan.toml", '''model = "search"
priors = ["../priors/seed_2023.toml"]
[scenarios.baseline.priors.search_revenue]
dist = "choice"
values = [0, 1e11]
weights = [0.5, 0.5]
point = 1e11
''')
    err = one_line_error(capsys, ["run", "nan", "--samples", "2000", "--no-report"])
    # revenue 0 makes cost / revenue infinite in about half the samples; search_revenue is the prior to blame
    match = re.fullmatch(r"sim: error: experiments/nan\.toml: output cost_to_revenue_ratio is NaN or infinite in "
                         r"([\d,]+) of 2,000 samples \(first in scenario baseline, architecture chatgpt_equivalent\); "
                         r"in those samples these priors sit at the edge of their range: search_revenue \(0 to 0 there, "
                         r"0 to 1e\+11 in all samples\)\. Check that .*; truncate them if so", err)
    assert match, err
    assert 900 < int(match.group(1).replace(",", "")) < 1100  # Binomial(2000, 0.5): 5 sd either side
    assert not (project / "outputs").exists()


def test_run_bytes_is_what_a_run_stores(search_experiment):
    from sim import engine

    ds = sim.run(search_experiment, samples=1000)
    stored = sum(v.nbytes for v in ds.data_vars.values() if "sample" in v.dims)
    assert engine.run_bytes(search_experiment, 1000) == stored


def test_a_run_too_large_for_memory_is_refused_before_it_starts(project, capsys, monkeypatch):
    from sim import memory

    monkeypatch.setattr(memory, "available_memory", lambda: (2 * 2**30, "available"))
    err = one_line_error(capsys, ["run", "--samples", "10000000", "--no-report"])
    assert re.fullmatch(r"sim: error: experiments/search_cost\.toml: 10,000,000 samples would need about 8\.8 GiB of "
                        r"memory, more than the 2\.0 GiB available; run at most about 2,2\d\d,\d{3} samples, or add --stream "
                        r"to keep only summaries", err), err
    assert not (project / "outputs").exists()


def test_point_mode_equals_the_median_of_a_run_with_every_prior_fixed():
    """With every prior fixed, every sample is point mode, so every quantile is the point value."""
    experiment = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    fixed = {n: sim.priors.pinned(p, p.point) for n, p in experiment.base_priors.items()}
    scenarios = tuple(s.__class__(s.name, s.description, {**s.priors, **{n: sim.priors.pinned(p, p.point)
                                                                        for n, p in s.priors.items()}}, s.overrides)
                      for s in experiment.scenarios)
    import dataclasses

    experiment = dataclasses.replace(experiment, base_priors=fixed, scenarios=scenarios, correlation=None)
    ds, pt = sim.run(experiment, samples=64), sim.point(experiment)
    for name in experiment.model.outputs:
        np.testing.assert_array_equal(ds[name].median("sample").values, pt[name].values)
