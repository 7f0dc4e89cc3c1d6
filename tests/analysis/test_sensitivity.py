
import numpy as np
import pytest
from scipy import stats

from sim.analysis import sensitivity as sa
from sim.errors import SimError

from ..helpers import synthetic_run


def test_given_data_first_order_on_a_linear_model():
    """y = x1 + 2 x2 with independent uniforms: S1 = 1/5 and 4/5, x3 (unused) 0; sd of the estimates ~0.005."""
    rng = np.random.default_rng(1)
    x = {f"x{i}": rng.random(100_000) for i in (1, 2, 3)}
    ds = synthetic_run(x, x["x1"] + 2 * x["x2"])
    g = sa.first_order_given(ds, "y")
    np.testing.assert_allclose(g.values, [0.2, 0.8, 0.0], atol=0.01)
    r = sa.rank_correlation(ds, "y")
    for name in x:
        assert float(r.sel(input=name)) == pytest.approx(stats.spearmanr(x[name], ds["y"])[0], abs=1e-12)


def test_centred_ranks_are_rankdatas_with_or_without_ties():
    """The tie-free fast path and rankdata's average ranks agree exactly: continuous draws, ties (a discrete prior),
    a NaN (rankdata's propagated NaN) and a constant row."""
    from sim.analysis._array import centred_ranks

    rng = np.random.default_rng(7)
    for x in (rng.lognormal(size=(2, 3, 5000)), rng.integers(0, 4, size=(3, 200)).astype(float),
              np.array([[1.0, np.nan, 2.0], [3.0, 3.0, 3.0]]), np.array([2.0])):
        ranks = stats.rankdata(x, axis=-1)
        np.testing.assert_array_equal(centred_ranks(x), ranks - ranks.mean(axis=-1, keepdims=True))


def test_rank_correlation_matches_scipy_on_the_search_run(search_run):
    r = sa.rank_correlation(search_run, "cost_per_query")
    cell = dict(scenario="baseline", architecture="two_stage")
    y = search_run["cost_per_query"].sel(cell)
    for name in ("provider_gross_margin", "section_words", "results_k"):
        x = search_run[name]  # a scenario's own prior (market_2026's margin) gives it the scenario dim
        x = x.sel(scenario="baseline") if "scenario" in x.dims else x
        assert float(r.sel(**cell, input=name)) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)


def test_target_region_finds_the_driver():
    rng = np.random.default_rng(4)
    x = {"x1": rng.normal(size=50_000), "x2": rng.normal(size=50_000)}
    ds = synthetic_run(x, x["x1"])
    t = sa.target_region(ds, "y", 0.0)
    assert float(t["share"]) == pytest.approx(0.5, abs=0.01)
    assert float(t["ks_distance"].sel(input="x1")) == 1.0  # the region is x1 > 0: no overlap
    # medians of the half-normals, +-0.674, apart by 1.349 sd
    assert float(t["median_shift"].sel(input="x1")) == pytest.approx(2 * stats.norm.ppf(0.75), abs=0.03)
    assert float(t["ks_distance"].sel(input="x2")) < 0.03
    with pytest.raises(SimError, match="unknown threshold variable 'nope'"):
        sa.target_region(ds, "y", "nope")


@pytest.mark.parametrize("values", ["continuous", "tied"])
def test_region_shift_is_scipys_statistic_and_numpys_medians(values):
    """One sort gives the Kolmogorov-Smirnov statistic of scipy.stats.ks_2samp and the medians of np.median, the
    same numbers (ties, as a choice prior makes them, step the CDFs once per value)."""
    from scipy import stats

    from sim.analysis._array import region_shift

    rng = np.random.default_rng(5)
    for size in (7, 1000, 20_001):
        x = rng.normal(size=size) if values == "continuous" else rng.choice([1.0, 2.0, 3.0, 5.0], size=size)
        inside = rng.random(size) < 0.3 + 0.4 * (x > np.median(x))
        inside[:2] = [True, False]  # neither empty nor full
        shift, ks = region_shift(x, inside)
        assert ks == stats.ks_2samp(x[inside], x[~inside]).statistic
        assert shift == (np.median(x[inside]) - np.median(x[~inside])) / x.std()
