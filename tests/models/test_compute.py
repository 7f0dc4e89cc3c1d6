"""Sections 4 to 9: equations by hand, SPEC's tables, roofline limits, catalogues."""


import numpy as np
import pytest
import xarray as xr

import sim
import sim.cli
from sim.catalogue import load_catalogue
from sim.models import compute, roofline, scaling

from ..helpers import ROOT


def point(name):
    ds = sim.point(sim.load_experiment(ROOT / "experiments" / f"{name}.toml"))
    return ds.squeeze("scenario", drop=True) if ds.sizes["scenario"] == 1 else ds


# --- SPEC's tables, copied from ../shared/SPEC.md -----------------------------

@pytest.mark.parametrize("hardware, expected", [("a100_aws_1yr", 0.003515), ("tpu_v4_gcp_ondemand", 0.00534)])
def test_section4_inference_cost(hardware, expected):
    value = float(point("inference_cost")["inference_cost_per_1k_tokens"].sel(hardware=hardware))
    assert abs(value - expected) <= 0.02 * expected


def test_section4_implied_margin():
    value = float(point("inference_cost")["implied_api_gross_margin"].sel(hardware="a100_aws_1yr"))
    assert 0.80 <= value <= 0.85


@pytest.mark.parametrize("model, expected", [("gpt3", 1.398e6), ("gopher", 2.237e6), ("mt_nlg", 3.811e6),
                                             ("chinchilla", 2.610e6), ("palm", 1.1217e7)])
def test_section5_training_cost(model, expected):
    value = float(point("training_cost")["training_cost"].sel(model=model, hardware="tpu_v4_gcp_1yr"))
    assert abs(value - expected) <= 0.01 * expected


def test_section6_training_memory():
    p = point("training_cost")
    assert float(p["training_memory_bytes"].sel(model="gpt3")) == pytest.approx(3.5e12, rel=1e-12)
    # 80 GB H100s: ceil(3.5e12 / 80e9) = 44
    assert float(p["min_accelerators"].sel(model="gpt3", hardware="h100_lambda")) == 44


def test_section7_inhouse():
    cost = point("inhouse_training")["inhouse_cost"]
    v100, h100 = float(cost.sel(scenario="v100_2020")), float(cost.sel(scenario="h100"))
    assert abs(v100 - 744e3) <= 0.15 * 744e3
    assert abs(h100 - 312e3) <= 0.15 * 312e3
    assert 0.50 <= 1 - h100 / v100 <= 0.65


@pytest.mark.parametrize("model, loss, p_term, d_term", [("dense_1t", 1.9750, 0.0338, 0.2511),
                                                         ("gpt3", 2.0023, 0.0611, 0.2511),
                                                         ("chinchilla", 1.9366, 0.0835, 0.1632)])
def test_section9_scaling(model, loss, p_term, d_term):
    p = point("scaling_loss").sel(scenario="hoffmann_2022", model=model)
    assert float(p["loss"]) == pytest.approx(loss, abs=1e-3)
    assert float(p["parameter_term"]) == pytest.approx(p_term, abs=1e-3)
    assert float(p["data_term"]) == pytest.approx(d_term, abs=1e-3)


def test_section9_trillion_params_still_worse_than_chinchilla():
    loss = point("scaling_loss")["loss"].sel(scenario="hoffmann_2022")
    assert float(loss.sel(model="dense_1t")) > float(loss.sel(model="chinchilla"))


# --- equations by hand -------------------------------------------------------

def test_inference_by_hand():
    # 2 * 1e9 * 1000 FLOP / (1e12 FLOP/s * 0.5) = 4 s; 4 / 3600 h * $3.6 = $0.004
    out = compute.evaluate_inference(params=1e9, peak_flops=1e12, mfu_inference=0.5, price_per_chip_hour=3.6,
                                     api_price_per_1k_tokens=0.01)
    assert out["seconds_per_1k_tokens"] == pytest.approx(4.0, rel=1e-14)
    assert out["inference_cost_per_1k_tokens"] == pytest.approx(0.004, rel=1e-14)
    assert out["implied_api_gross_margin"] == pytest.approx(0.6, rel=1e-14)


def test_training_by_hand():
    # 6 * 1e9 * 2e9 = 1.2e19 FLOP; / (1e12 * 0.5) / 3600 = 6666.67 h; * $3 = $20,000
    out = compute.evaluate_training(params=1e9, total_params=1e9, tokens=2e9, peak_flops=1e12, mfu_training=0.5,
                                    price_per_chip_hour=3.0, training_bytes_per_param=20,
                                    accelerator_memory_bytes=16e9)
    assert out["training_flops"] == 1.2e19
    assert out["training_chip_hours"] == pytest.approx(1.2e19 / 0.5e12 / 3600, rel=1e-14)
    assert out["training_cost"] == pytest.approx(20_000.0, rel=1e-12)
    assert out["training_memory_bytes"] == 2e10
    assert out["min_accelerators"] == 2.0  # ceil(20 GB / 16 GB)


def test_inhouse_by_hand():
    # 8760 chip-hours on a $8,760 chip over 2 years: half its price; energy 8760 * 0.5 kW * 1.2 * $0.1
    # (the article's accounting: the chip alone, no interest, every hour used)
    out = compute.evaluate_inhouse(params=1e9, tokens=1e9, peak_flops=6e18 / (0.5 * 3600 * 8760), mfu_training=0.5,
                                   chip_price=8760.0, server_multiplier=1.0, networking_markup=0.0,
                                   cost_of_capital=0.0, lifetime_years=2.0, utilisation=1.0, chip_power_kw=0.5,
                                   pue=1.2, electricity_price_per_kwh=0.1)
    assert out["chip_hours"] == pytest.approx(8760.0, rel=1e-12)
    assert out["hardware_cost"] == pytest.approx(4380.0, rel=1e-12)
    assert out["energy_kwh"] == pytest.approx(8760 * 0.6, rel=1e-12)
    assert out["inhouse_cost"] == pytest.approx(4380.0 + 8760 * 0.6 * 0.1, rel=1e-12)


def test_scaling_by_hand():
    out = scaling.evaluate(params=1e8, tokens=1e10, loss_E=1.0, loss_A=100.0, loss_B=1000.0, loss_alpha=0.5,
                           loss_beta=0.5)
    # 100 / 1e4 = 0.01; 1000 / 1e5 = 0.01
    assert out["parameter_term"] == pytest.approx(0.01) and out["data_term"] == pytest.approx(0.01)
    assert out["loss"] == pytest.approx(1.02)


def test_compute_optimal_against_brute_force():
    constants = dict(loss_E=1.69, loss_A=406.4, loss_B=410.7, loss_alpha=0.34, loss_beta=0.28)
    for budget in (1e21, 5.76e23, 1e25):
        n_opt, d_opt = scaling.compute_optimal(budget, **constants)
        assert 6 * n_opt * d_opt == pytest.approx(budget, rel=1e-12)
        grid = np.logspace(np.log10(n_opt) - 2, np.log10(n_opt) + 2, 400_001)  # step 2.3e-5 in log N
        losses = scaling.loss(params=grid, tokens=budget / (6 * grid), **constants)
        best = grid[np.argmin(losses)]
        assert best == pytest.approx(n_opt, rel=1e-4)
        assert scaling.loss(params=n_opt, tokens=d_opt, **constants) <= losses.min() + 1e-12


# --- roofline ----------------------------------------------------------------

ROOF = dict(params=70e9, total_params=70e9, routed_expert_fraction=0.0, bytes_per_param=2.0, kv_bytes_per_value=2.0,
            kv_values_per_token=163840.0, attention_flops_per_context_token=0.0, peak_flops=1e15, peak_flops_fp8=2e15,
            peak_flops_fp4=2e15, memory_bandwidth=3e12, accelerator_memory_bytes=1e13, price_per_chip_hour=3.6,
            tensor_parallel_min=1.0, max_weight_memory_share=0.9, prompt_tokens=1000.0, output_tokens=400.0,
            mfu_prefill=0.6, mfu_decode_max=0.5, bandwidth_utilisation=0.6, kv_cache_memory_fraction=0.9,
            decode_step_overhead=0.0, peak_load_share=1.0, peak_to_average_ratio=1.0, price_input_usd_per_mtoken=1.0,
            output_input_price_ratio=4.0)


def test_roofline_batch_one_is_bandwidth_bound():
    out = roofline.evaluate(batch_size=1.0, **ROOF)
    assert out["decode_memory_bound"] == 1.0 and out["tensor_parallel"] == 1.0
    # each token reads the weights and the KV cache (mean context 1,200 tokens) at 60 % of 3 TB/s
    step = (2.0 * 70e9 + 327680.0 * 1200.0) / (3e12 * 0.6)
    assert out["decode_seconds_per_request"] == pytest.approx(400 * step, rel=1e-12)
    assert out["tokens_per_second_user"] == pytest.approx(1 / (step + 2 * 70e9 * 1000 / (1e15 * 0.6) / 400),
                                                          rel=1e-12)
    # revenue per million output tokens: 1,000 input tokens at $1 and 400 output tokens at $4, over 400
    assert out["revenue_per_mtoken_output"] == pytest.approx((1000 + 400 * 4) / 400, rel=1e-12)


def test_roofline_large_batch_tends_to_compute_bound():
    big = roofline.evaluate(batch_size=1e7, **{**ROOF, "kv_values_per_token": 1e-9})
    assert big["decode_memory_bound"] == 0.0
    # per token: 2N FLOP at mfu_decode_max, exactly, once the weights' read is shared by enough sequences
    assert big["decode_seconds_per_request"] / 400 == pytest.approx(2 * 70e9 / (1e15 * 0.5), rel=1e-12)
    # effective MFU rises with batch toward the compute bound and never exceeds it
    mfus = [roofline.evaluate(batch_size=b, **ROOF)["effective_mfu"] for b in (1, 8, 64, 512, 4096)]
    assert all(np.diff(mfus) >= 0) and mfus[0] < 0.05 and max(mfus) <= 0.6


def test_roofline_vectorised_over_batch():
    batch = xr.DataArray([1.0, 64.0, 1e6], dims="sample")
    out = roofline.evaluate(batch_size=batch, **{**ROOF, "kv_values_per_token": 1e-9})
    assert out["cost_per_1k_tokens"].dims == ("sample",)
    np.testing.assert_array_equal(out["decode_memory_bound"], [1.0, 1.0, 0.0])


# --- runs of the new experiments ------------------------------------------

@pytest.mark.parametrize("name, dims", [
    ("inference_cost", {"hardware"}), ("training_cost", {"model", "hardware"}), ("scaling_loss", {"model"}),
    ("inhouse_training", set()), ("roofline", {"hardware"}), ("search_cost_basis", {"cost_basis", "architecture"}),
    ("trajectory", {"year", "architecture"}),
])
def test_experiment_runs_from_cli(project, capsys, name, dims):
    assert sim.cli.main(["run", name, "--samples", "256", "--no-report"]) == 0
    ds = xr.open_dataset(project / "outputs" / name / "samples.nc")
    out_dims = set().union(*(ds[v].dims for v in ds.data_vars if ds[v].attrs["role"] != "input"))
    assert dims <= out_dims and {"scenario", "sample"} <= out_dims
    for dim in dims:
        assert ds[dim].size > 1
    summary = (project / "outputs" / name / "summary.csv").read_text().splitlines()[0].split(",")
    assert summary[:2] == ["output", "units"] and dims <= set(summary)


def test_training_sweep_has_every_trained_model_it_names_and_every_offering():
    ds = sim.run(sim.load_experiment(ROOT / "experiments" / "training_cost.toml"), samples=100)
    models = load_catalogue(ROOT / "priors" / "catalogues", "models")
    assert ds.sizes["model"] == 13 and all("tokens" in models[m] for m in ds["model"].values)
    assert ds.sizes["hardware"] == len(load_catalogue(ROOT / "priors" / "catalogues", "offerings"))
    assert list(ds["accelerator"].sel(hardware=["a100_aws_1yr", "tpu_v4_gcp_1yr"]).values) == ["a100_40gb", "tpu_v4"]
    assert ds["training_cost"].dims == ("scenario", "model", "hardware", "sample")


def test_trajectory_probability_never_falls():
    ds = sim.run(sim.load_experiment(ROOT / "experiments" / "trajectory.toml"), samples=500, seed=1)
    p = ds["share_below_threshold"].mean("sample")
    assert (p.diff("year") >= 0).all()
    assert list(ds.year.values) == list(range(2023, 2031))


def test_search_cost_basis_compute_path_by_hand():
    p = point("search_cost_basis").sel(architecture="two_stage")
    tokens = 14050 / 0.75
    # compute basis: tokens * inference cost per 1k (A100, AWS 1-year, 21.3 % MFU) * (1 - cache hit rate)
    per_1k = 2 * 175e9 * 1000 / (312e12 * 0.213) / 3600 * 2.4025
    assert float(p["cost_per_query"].sel(cost_basis="compute")) == pytest.approx(tokens / 1000 * per_1k * 0.7,
                                                                                 rel=1e-12)
    assert float(p["cost_per_query"].sel(cost_basis="api_list_price")) == pytest.approx(0.0655667, rel=1e-5)


# --- catalogue bad input -------------------------------------------------------


