"""Property-based tests (hypothesis): distributions, the economics' monotonicity, point mode.

Each test draws its cases from hypothesis with a fixed budget (``max_examples``),
derandomized (the same cases in every run, so CI is repeatable) and with no deadline,
so the time stays bounded on a 2-core machine.
"""

import functools

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.models import get_model
from sim.errors import Location
from sim.priors import parse_prior

from .conftest import ROOT

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
U = np.linspace(0.0005, 0.9995, 401)

positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
spread = st.floats(min_value=1.05, max_value=20.0)


@st.composite
def tables(draw):
    """A valid prior table of a randomly chosen form, with its support."""
    form = draw(st.sampled_from(["fixed", "uniform", "loguniform", "normal", "normal_ci90", "lognormal",
                                 "lognormal_ci90", "beta", "beta_ci90", "triangular", "pert", "choice", "scipy"]))
    if form == "fixed":
        return {"dist": "fixed", "point": draw(st.floats(-1e6, 1e6))}
    if form == "scipy":
        name, params = draw(st.sampled_from([("gamma", ("a",)), ("weibull_min", ("c",)), ("lognorm", ("s",))]))
        shapes = {k: draw(st.floats(0.3, 5.0)) for k in params}
        return {"dist": "scipy", "name": name, "params": {**shapes, "scale": draw(positive)}}
    if form in ("uniform", "loguniform"):
        low = draw(positive)
        return {"dist": form, "low": low, "high": low * draw(spread)}
    if form == "normal":
        return {"dist": "normal", "mean": draw(st.floats(-1e3, 1e3)), "sd": draw(positive)}
    if form == "normal_ci90":
        lo = draw(st.floats(-1e3, 1e3))
        return {"dist": "normal", "ci90": [lo, lo + draw(positive)]}
    if form == "lognormal":
        return {"dist": "lognormal", "median": draw(positive), "gsd": draw(spread)}
    if form == "lognormal_ci90":
        lo = draw(positive)
        return {"dist": "lognormal", "ci90": [lo, lo * draw(spread)]}
    if form == "beta":
        return {"dist": "beta", "a": draw(st.floats(0.5, 50)), "b": draw(st.floats(0.5, 50))}
    if form == "beta_ci90":
        lo = draw(st.floats(0.02, 0.8))
        return {"dist": "beta", "ci90": [lo, draw(st.floats(lo + 0.05, 0.98))]}
    if form in ("triangular", "pert"):
        low = draw(st.floats(-1e3, 1e3))
        high = low + draw(positive)
        return {"dist": form, "low": low, "mode": low + (high - low) * draw(st.floats(0.0, 1.0)), "high": high}
    values = sorted(set(draw(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=6))))
    weights = draw(st.lists(st.floats(0.01, 1.0), min_size=len(values), max_size=len(values)))
    return {"dist": "choice", "values": values, "weights": weights}


# a scenario-style base: the table's point defaults to its median, its unit and note come from here
BASE = parse_prior("x", {"dist": "fixed", "point": 0.0, "unit": "1", "note": "property test", "allow_negative": True},
                   at=Location("property.toml", "priors.x"))


def build(table):
    return parse_prior("x", table, at=Location("property.toml", "priors.x"), base=BASE)


@SETTINGS
@given(tables())
def test_samples_lie_in_the_support_and_ppf_is_monotone(table):
    prior = build(table)
    lo, hi = prior.support()
    x = prior.ppf(U)
    assert np.all(np.isfinite(x))
    # 1e-9 relative: the polynomial inverse of beta and PERT is accurate to a u-error of 1e-10
    slack = 1e-9 * max(1.0, abs(lo), abs(hi))
    assert np.all(x >= lo - slack) and np.all(x <= hi + slack)
    assert np.all(np.diff(x) >= -slack)


@SETTINGS
@given(tables())
def test_fitted_90_percent_intervals_round_trip(table):
    """A prior given by its 90 % interval has that interval; any prior's interval is its 5th and 95th percentiles."""
    prior = build(table)
    lo, hi = prior.interval(0.9)
    if "ci90" in table:
        want = table["ci90"]
        width = want[1] - want[0]
        # 1e-6 of the interval's width: ci90 fits solve for the parameters numerically (beta) or exactly
        assert lo == pytest.approx(want[0], abs=1e-6 * width) and hi == pytest.approx(want[1], abs=1e-6 * width)
    # (1 - 0.9) / 2 is 0.04999999999999999 in floating point: equal to the 5th percentile to 1e-9
    scale = max(1.0, abs(lo), abs(hi))
    assert lo == pytest.approx(float(prior.ppf(0.05)), abs=1e-9 * scale)
    assert hi == pytest.approx(float(prior.ppf(0.95)), abs=1e-9 * scale)


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
