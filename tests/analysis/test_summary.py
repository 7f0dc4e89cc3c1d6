
import numpy as np
import pytest
import xarray as xr
from scipy import stats

import sim
from sim.analysis.summary import exceedance_interval, interval, jeffreys_interval, mc_interval


def _as_run(values: np.ndarray) -> xr.Dataset:
    da = xr.DataArray(values, dims=("sample",), attrs={"role": "output", "units": "1"})
    return xr.Dataset({"y": da})


def test_interval_coverage_lognormal_product():
    """95 % intervals of the mean and median of a product of lognormals cover the truth in 90-99 % of 200 seeds.

    log Y = log A + log B with A ~ LN(0, 0.5), B ~ LN(0.3, 0.8): Y ~ LN(0.3, sqrt(0.89)), so the median
    is exp(0.3) and the mean exp(0.3 + 0.89 / 2). With 200 seeds the count of covering intervals is
    Binomial(200, 0.95): 90-99 % is about -3.2 to +2.6 standard deviations, so a correct interval fails
    this test with probability below 0.01.
    """
    sigma2 = 0.5**2 + 0.8**2
    true_mean, true_median = np.exp(0.3 + sigma2 / 2), np.exp(0.3)
    covered = np.zeros(2)
    for seed in range(200):
        rng = np.random.default_rng(seed)
        y = rng.lognormal(0.0, 0.5, 4000) * rng.lognormal(0.3, 0.8, 4000)
        ci = mc_interval(_as_run(y), quantiles=(0.5,))["y"]
        covered[0] += ci.sel(stat="mean", ci_bound="lower") <= true_mean <= ci.sel(stat="mean", ci_bound="upper")
        covered[1] += ci.sel(stat="p50", ci_bound="lower") <= true_median <= ci.sel(stat="p50", ci_bound="upper")
    assert np.all((covered / 200 >= 0.90) & (covered / 200 <= 0.99)), covered


def test_exceedance_interval_coverage():
    """The Jeffreys interval of P(Y > t) covers the true probability in 90-99 % of 200 seeds (as above)."""
    p_true = stats.norm.sf(1.5)
    hits = 0
    for seed in range(200):
        ds = _as_run(np.random.default_rng(seed).standard_normal(2000))
        ci = exceedance_interval(ds, "y", 1.5)
        hits += float(ci.sel(ci_bound="lower")) <= p_true <= float(ci.sel(ci_bound="upper"))
    assert 0.90 <= hits / 200 <= 0.99
    assert ci.attrs["probability"] == 0.95


def test_jeffreys_edges():
    lo, hi = jeffreys_interval(np.array([0, 50]), 50).T
    assert lo[0] == 0.0 and hi[1] == 1.0 and 0 < hi[0] < 0.1 and 0.9 < lo[1] < 1


def test_quantile_interval_brackets_the_estimate_and_narrows():
    rng = np.random.default_rng(3)
    widths = []
    for n in (1_000, 100_000):
        ds = _as_run(rng.standard_normal(n))
        ci = mc_interval(ds)["y"]
        est = sim.summarize(ds)["y"]
        for stat in ("p05", "p25", "p50", "p75", "p95"):
            assert ci.sel(stat=stat, ci_bound="lower") <= est.sel(stat=stat) <= ci.sel(stat=stat, ci_bound="upper")
        widths.append(float(ci.sel(stat="p50", ci_bound="upper") - ci.sel(stat="p50", ci_bound="lower")))
    # the width shrinks like 1/sqrt(n): 10x for 100x the samples, within sampling noise
    assert 7 < widths[0] / widths[1] < 14


def test_eti_and_hdi():
    ds = _as_run(np.random.default_rng(0).exponential(1.0, 200_000))
    eti = interval(ds, 0.9)["y"]
    hdi = interval(ds, 0.9, kind="hdi")["y"]
    # exponential: ETI = [-log 0.95, -log 0.05]; HDI = [0, -log 0.1] (the density falls from 0)
    np.testing.assert_allclose(eti, [-np.log(0.95), -np.log(0.05)], rtol=0.02)
    np.testing.assert_allclose(hdi, [0.0, -np.log(0.1)], atol=0.02)
    assert interval(ds, 0.9, kind="hdi").attrs["probability"] == 0.9
    with pytest.raises(ValueError, match="unknown interval kind 'mode'; valid: eti, hdi"):
        interval(ds, kind="mode")
    with pytest.raises(ValueError, match=r"probability must lie in \(0, 1\), got 1.5"):
        interval(ds, 1.5)
