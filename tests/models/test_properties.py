"""Property-based tests (hypothesis) of the models: cost moves the way the economics says.

Each test draws its cases from hypothesis with a fixed budget (``max_examples``),
derandomized (the same cases in every run, so CI is repeatable) and with no deadline,
so the time stays bounded on a 2-core machine.
"""

import functools

import numpy as np
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.models import get_model

from ..helpers import ROOT

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def _search_priors():
    return sim.load_experiment(ROOT / "experiments" / "search_cost.toml").base_priors


def _search_inputs(u: np.ndarray) -> dict:
    """Every search input drawn from its seed_2023 prior at the uniforms ``u`` (one per input)."""
    base = _search_priors()
    return {name: float(base[name].ppf(ui)) for name, ui in zip(base, u)}


def _evaluate(model: str, inputs: dict, name: str, values) -> xr.Dataset:
    """``model``'s outputs at ``inputs`` with ``name`` taking each of ``values`` (dim ``sample``)."""
    arrays = {k: xr.DataArray(np.full(len(values), v), dims="sample") for k, v in inputs.items()}
    arrays[name] = xr.DataArray(np.asarray(values, dtype=float), dims="sample")
    return xr.Dataset(dict(get_model(model).evaluate(**arrays)))


uniforms = st.lists(st.floats(0.01, 0.99), min_size=16, max_size=16).map(np.asarray)


pairs = st.tuples(st.floats(0.001, 0.999), st.floats(0.001, 0.999)).map(sorted)


@SETTINGS
@given(uniforms, pairs, st.sampled_from([("response_words", 1), ("api_price_per_1k_tokens", 1),
                                         ("section_words", 1), ("results_k", 1), ("cache_hit_rate", -1),
                                         ("provider_gross_margin", -1)]))
def test_cost_per_query_moves_the_way_economics_says(u, p, case):
    """Cost per query rises with answer length and price, falls with the cache hit rate and the margin."""
    name, sign = case
    inputs = _search_inputs(u)
    lo, hi = {"response_words": (50, 2000), "api_price_per_1k_tokens": (1e-4, 0.1), "section_words": (100, 5000),
              "results_k": (1, 20), "cache_hit_rate": (0.0, 0.95), "provider_gross_margin": (0.0, 0.95)}[name]
    values = [lo + (hi - lo) * q for q in p]
    cost = _evaluate("search", inputs, name, values)["cost_per_query"].transpose(..., "sample").values
    step = sign * (cost[..., 1] - cost[..., 0])
    assert np.all(step >= -1e-12 * np.abs(cost).max())


@SETTINGS
@given(st.floats(0.05, 0.95), st.floats(0.05, 0.95), st.floats(1e9, 1e12), st.floats(1e10, 1e13), pairs)
def test_compute_costs_move_the_way_economics_says(mfu_a, mfu_b, params, tokens, p):
    """Inference cost falls with MFU; training cost rises with parameters and tokens and falls with MFU."""
    common = {"peak_flops": 312e12, "price_per_chip_hour": 1.5}
    mfu = sorted([mfu_a, mfu_b])
    inference = _evaluate("inference", {**common, "params": params, "api_price_per_1k_tokens": 0.02,
                                        "mfu_inference": 0.2}, "mfu_inference", mfu)
    c = inference["inference_cost_per_1k_tokens"].values
    assert c[1] <= c[0] * (1 + 1e-12)
    training = {**common, "params": params, "total_params": params, "tokens": tokens, "mfu_training": 0.4,
                "training_bytes_per_param": 16.0, "accelerator_memory_bytes": 80e9}
    for name, values, sign in (("params", [params * (1 + q) for q in p], 1), ("tokens", [tokens * (1 + q) for q in p], 1),
                               ("mfu_training", mfu, -1)):
        t = _evaluate("training", training, name, values)["training_cost"].values
        assert sign * (t[1] - t[0]) >= -1e-12 * abs(t).max()
