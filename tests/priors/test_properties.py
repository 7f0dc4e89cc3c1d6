"""Property-based tests (hypothesis) of the priors: every form draws inside its support, intervals round-trip.

Each test draws its cases from hypothesis with a fixed budget (``max_examples``),
derandomized (the same cases in every run, so CI is repeatable) and with no deadline,
so the time stays bounded on a 2-core machine.
"""


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import Location
from sim.priors import parse_prior

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


