
import numpy as np
import pytest
import xarray as xr

from sim.analysis import decision as da

from ..helpers import synthetic_run


def _nested_evppi(rng, n_outer=2000, n_inner=2000):
    """Brute force: EVPPI(t1) = E_t1[max(E[NB | t1], 0)] - max(E[NB], 0), inner expectation by Monte Carlo."""
    t1 = rng.normal(size=n_outer)
    inner = rng.lognormal(0.0, 0.5, size=(n_outer, n_inner))
    nb = np.exp(0.5 * t1)[:, None] * inner - 1.3
    cond = nb.mean(axis=1)
    return np.maximum(cond, 0).mean() - max(cond.mean(), 0.0)


def test_evppi_against_nested_monte_carlo():
    """NB = exp(t1 / 2) * t2 - 1.3 with t1 ~ N(0, 1), t2 ~ LN(0, 0.5), and an input t3 that NB ignores."""
    rng = np.random.default_rng(8)
    n = 100_000
    t1, t2, t3 = rng.normal(size=n), rng.lognormal(0.0, 0.5, size=n), rng.normal(size=n)
    ds = synthetic_run({"t1": t1, "t2": t2, "t3": t3}, np.exp(0.5 * t1) * t2)
    ds["r"] = xr.DataArray(np.full(n, 1.3), dims=("sample",), attrs={"role": "output"})
    nb = da.net_benefit(ds, cost="r", revenue="y")
    evppi = da.evppi(ds, nb)
    evpi = float(da.evpi(nb))
    brute = _nested_evppi(np.random.default_rng(9))
    assert float(evppi.sel(input="t1")) == pytest.approx(brute, rel=0.10)
    assert abs(float(evppi.sel(input="t3"))) < 0.02 * evpi  # cannot change the decision
    assert (evppi <= evpi + 1e-12).all()


def test_evppi_in_forked_processes_is_evppi_here(search_run):
    """The priors' regressions shared between two forked processes give the numbers of one process, bit for bit."""
    here = da.decide(search_run)
    shared = da.decide(search_run, jobs=2)
    for name in ("evppi", "evppi_per_year"):
        xr.testing.assert_identical(shared[name], here[name])


def test_decide_on_the_search_run(search_run):
    d = da.decide(search_run)
    cell = dict(scenario="baseline", architecture="two_stage")
    cost, revenue = search_run["cost_per_query"].sel(cell), search_run["revenue_per_query"].sel(scenario="baseline")
    nb = revenue - cost
    assert float(d["expected_net_benefit"].sel(cell)) == pytest.approx(float(nb.mean()), rel=1e-12)
    assert float(d["p_profitable"].sel(cell)) == float((nb > 0).mean())
    assert float(d["evpi"].sel(cell)) == pytest.approx(float(np.maximum(nb, 0).mean() - max(float(nb.mean()), 0)))
    assert (d["evppi"] <= d["evpi"] + 1e-12).all() and (d["evppi"] >= -1e-12).all()
    assert (d["evppi_per_year"] <= d["evpi_per_year"] * (1 + 1e-12)).all()
    # gpt-3.5's chatgpt-equivalent answer is profitable in every sample: nothing to learn
    sure = dict(scenario="gpt35_turbo_2023", architecture="chatgpt_equivalent")
    assert float(d["evpi"].sel(sure)) == 0.0 and float(abs(d["evppi"].sel(sure)).max()) < 1e-15
    lo, hi = d["p_profitable_ci"].sel(cell).values
    assert lo < float(d["p_profitable"].sel(cell)) < hi
    acc = da.acceptability(search_run, values=[0.02, 0.05, 0.1])
    np.testing.assert_array_equal(acc.sel(cell).values, [(cost < v).mean() for v in (0.02, 0.05, 0.1)])
