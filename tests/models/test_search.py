"""The search model's equations against values computed by hand."""

import numpy as np
import pytest
import xarray as xr

from sim.errors import SimError
from sim.models import get_model, search

POINT = dict(prompt_words=50.0, response_words=400.0, samples_per_query=5.0, results_k=10.0,
             section_words=1000.0, words_per_token=0.75, api_price_per_1k_tokens=0.02,
             output_input_price_ratio=1.0, cache_hit_rate=0.3,
             provider_gross_margin=0.75, searches_per_month_2012=100e9, internet_penetration_2012=0.34,
             internet_penetration_2020=0.60, search_revenue=100e9, optimization_factor=0.25, inhouse_factor=0.5)

# by hand, at the article's point values:
#   chatgpt_equivalent: 50 + 400 * 5 = 2050 words;          two_stage: 50 + 10 * (1000 + 400) = 14050 words
#   tokens = words / 0.75;  api cost = tokens * 0.02 / 1000;  cost = api * 0.7 * 0.25
#   annual searches = 100e9 * 12 * 0.60 / 0.34;  revenue = 100e9 / annual
HAND = {
    "tokens_per_query": (2050 / 0.75, 14050 / 0.75),
    "api_cost_per_query": (2050 / 0.75 * 2e-5, 14050 / 0.75 * 2e-5),
    "cost_per_query": (2050 / 0.75 * 2e-5 * 0.175, 14050 / 0.75 * 2e-5 * 0.175),
}
ANNUAL = 100e9 * 12 * 0.60 / 0.34
REVENUE = 100e9 / ANNUAL


def evaluate(**overrides):
    inputs = {k: xr.DataArray(v) for k, v in {**POINT, **overrides}.items()}
    return search.evaluate(**inputs)


def test_point_values_by_hand():
    out = evaluate()
    for name, (chat, two) in HAND.items():
        np.testing.assert_allclose(out[name].sel(architecture="chatgpt_equivalent"), chat, rtol=1e-14)
        np.testing.assert_allclose(out[name].sel(architecture="two_stage"), two, rtol=1e-14)
    assert float(out["annual_searches"]) == pytest.approx(ANNUAL, rel=1e-14)
    assert float(out["revenue_per_query"]) == pytest.approx(REVENUE, rel=1e-14)
    two_cost = HAND["cost_per_query"][1]
    two = out["cost_to_revenue_ratio"].sel(architecture="two_stage")
    assert float(two) == pytest.approx(two_cost / REVENUE, rel=1e-14)
    opt = two_cost * 0.25 * 0.5
    assert float(out["optimized_cost_per_query"].sel(architecture="two_stage")) == pytest.approx(opt, rel=1e-14)
    assert float(out["optimized_share_of_revenue"].sel(architecture="two_stage")) == pytest.approx(
        opt / REVENUE, rel=1e-14)
    assert float(out["annual_incremental_cost"].sel(architecture="two_stage")) == pytest.approx(
        opt * ANNUAL, rel=1e-14)


def test_other_values_by_hand():
    out = evaluate(prompt_words=10.0, response_words=100.0, samples_per_query=2.0, results_k=3.0,
                   section_words=200.0, words_per_token=0.5, cache_hit_rate=0.0, provider_gross_margin=0.0)
    # chatgpt: 10 + 100 * 2 = 210 words -> 420 tokens; two_stage: 10 + 3 * 300 = 910 words -> 1820 tokens
    np.testing.assert_allclose(out["tokens_per_query"], [420.0, 1820.0], rtol=1e-14)
    # no cache hits and no margin: cost equals the list price, 0.02 USD per 1000 tokens
    np.testing.assert_allclose(out["cost_per_query"], [420 * 2e-5, 1820 * 2e-5], rtol=1e-14)
    # output tokens at 8 times the input price: chatgpt writes 200 of its 210 words, two_stage 300 of 910
    out = evaluate(prompt_words=10.0, response_words=100.0, samples_per_query=2.0, results_k=3.0,
                   section_words=200.0, words_per_token=0.5, cache_hit_rate=0.0, provider_gross_margin=0.0,
                   output_input_price_ratio=8.0)
    np.testing.assert_allclose(out["output_token_share"], [200 / 210, 300 / 910], rtol=1e-14)
    np.testing.assert_allclose(out["cost_per_query"], [(20 + 400 * 8) * 2e-5, (1220 + 600 * 8) * 2e-5], rtol=1e-14)


def test_architecture_only_where_it_matters():
    out = evaluate()
    assert out["cost_per_query"].dims == ("architecture",)
    assert list(out["cost_per_query"].architecture.values) == ["chatgpt_equivalent", "two_stage"]
    assert out["revenue_per_query"].dims == ()


def test_broadcasts_by_name():
    n = 5
    out = evaluate(cache_hit_rate=xr.DataArray(np.linspace(0, 0.8, n), dims="sample"),
                   search_revenue=xr.DataArray([100e9, 200e9], dims="scenario"))
    assert set(out["cost_to_revenue_ratio"].dims) == {"architecture", "sample", "scenario"}
    # cost falls linearly with the cache hit rate
    cost = out["cost_per_query"].sel(architecture="two_stage").values
    np.testing.assert_allclose(cost, HAND["cost_per_query"][1] / 0.7 * (1 - np.linspace(0, 0.8, n)), rtol=1e-14)


def test_equations_serve_plain_floats_and_arrays():
    assert search.cost_per_query(api_cost_per_query=1.0, cache_hit_rate=0.5, provider_gross_margin=0.5) == 0.25
    arr = search.tokens_per_query(words=np.array([75.0, 150.0]), words_per_token=0.75)
    np.testing.assert_allclose(arr, [100.0, 200.0])


def test_registry():
    model = get_model("search")
    assert set(model.outputs) == {"tokens_per_query", "output_token_share", "api_cost_per_query", "cost_per_query",
                                  "annual_searches",
                                  "revenue_per_query", "cost_to_revenue_ratio", "optimized_cost_per_query",
                                  "optimized_share_of_revenue", "annual_incremental_cost"}
    assert set(model.inputs) == set(POINT)
    with pytest.raises(SimError, match="^model: unknown model 'nope'; valid: answer_engine, build_vs_rent, "
                                       "chat_subscription, inference, inhouse_training, roofline"):
        get_model("nope")
