"""Each distribution form against scipy's own distribution, and fitting."""

import math

import numpy as np
import pytest
from scipy import stats

from sim.errors import ConfigError, Location
from sim.priors import parse_prior

from ..helpers import one_line_error, with_prior

U = np.linspace(0.001, 0.999, 999)


def prior(**table):
    table.setdefault("unit", "1")
    table.setdefault("note", "test")
    table.setdefault("allow_negative", True)  # these tests are about distributions, not about signs
    return parse_prior("x", table, at=Location("test.toml", "priors.x"))


# ppf of every continuous form agrees with the scipy distribution it stands
# for; the fast paths are closed forms (exact to rounding, rtol 1e-12) or
# PINV with u-resolution 1e-10 (x-error ~ 1e-10 / density, rtol 1e-8 here).
@pytest.mark.parametrize("table, reference, rtol", [
    ({"dist": "uniform", "low": 2, "high": 5, "point": 3}, stats.uniform(2, 3), 1e-12),
    ({"dist": "loguniform", "low": 0.125, "high": 0.5, "point": 0.25}, stats.loguniform(0.125, 0.5), 1e-12),
    ({"dist": "normal", "mean": 3, "sd": 0.5, "point": 3}, stats.norm(3, 0.5), 1e-12),
    ({"dist": "lognormal", "median": 50, "gsd": 1.7, "point": 50}, stats.lognorm(math.log(1.7), scale=50), 1e-12),
    ({"dist": "beta", "a": 3, "b": 7, "point": 0.3}, stats.beta(3, 7), 1e-8),
    ({"dist": "beta", "a": 0.5, "b": 0.8, "point": 0.3}, stats.beta(0.5, 0.8), 1e-12),
    ({"dist": "triangular", "low": 1, "mode": 2, "high": 5, "point": 2}, stats.triang(0.25, loc=1, scale=4), 1e-12),
    ({"dist": "pert", "low": 0.35, "mode": 0.5, "high": 0.7, "point": 0.5},
     stats.beta(1 + 4 * 0.15 / 0.35, 1 + 4 * 0.2 / 0.35, loc=0.35, scale=0.35), 1e-8),
    ({"dist": "scipy", "name": "gamma", "params": {"a": 2.0, "scale": 3.0}, "point": 5}, stats.gamma(2, scale=3), 1e-12),
])
def test_ppf_matches_scipy(table, reference, rtol):
    p = prior(**table)
    np.testing.assert_allclose(p.ppf(U), reference.ppf(U), rtol=rtol)


def test_mean_sd_beta_matches_moments():
    p = prior(dist="beta", mean=0.3, sd=0.1, point=0.3)
    assert p.impl.frozen.mean() == pytest.approx(0.3, rel=1e-12)
    assert p.impl.frozen.std() == pytest.approx(0.1, rel=1e-12)


def test_pert_lambda_changes_spread():
    narrow = prior(dist="pert", low=0, mode=0.5, high=1, point=0.5, **{"lambda": 10})
    wide = prior(dist="pert", low=0, mode=0.5, high=1, point=0.5)
    assert np.diff(narrow.interval())[0] < np.diff(wide.interval())[0]


@pytest.mark.parametrize("table", [
    {"dist": "normal", "ci90": [0.1, 0.4]},
    {"dist": "lognormal", "ci90": [20, 125]},
    {"dist": "lognormal", "ci90": [62.5e9, 160e9]},
    {"dist": "beta", "ci90": [0.18, 0.5]},
    {"dist": "beta", "ci90": [0.32, 0.36]},
    {"dist": "beta", "ci90": [0.01, 0.9]},
])
def test_ci90_round_trip(table):
    """A prior fitted from a 90 % interval gives back its 5th and 95th percentiles."""
    lo, hi = table["ci90"]
    p = prior(**table, point=(lo + hi) / 2)
    # the scipy reference distribution (exact ppf) and the fast ppf both
    np.testing.assert_allclose(p.impl.frozen.ppf([0.05, 0.95]), [lo, hi], rtol=1e-6)
    np.testing.assert_allclose(p.interval(0.9), [lo, hi], rtol=1e-6)


def test_lognormal_ci90_median_is_geometric_mean():
    p = prior(dist="lognormal", ci90=[20, 125], point=50)
    assert p.median() == pytest.approx(50.0, rel=1e-12)


def test_fixed():
    p = prior(dist="fixed", point=0.75)
    assert p.is_fixed
    np.testing.assert_array_equal(p.ppf(U), 0.75)


def test_choice_frequencies_and_quantiles():
    p = prior(dist="choice", values=[10, 3, 5, 8], weights=[0.4, 0.1, 0.2, 0.3], point=10)
    u = (np.arange(100_000) + 0.5) / 100_000  # exact quantile grid
    x = p.ppf(u)
    for value, weight in [(3, 0.1), (5, 0.2), (8, 0.3), (10, 0.4)]:
        assert np.mean(x == value) == pytest.approx(weight, abs=1e-5)
    assert p.median() == 8


def test_choice_default_weights_are_equal():
    p = prior(dist="choice", values=[1, 2], point=1)
    assert p.ppf(0.49) == 1 and p.ppf(0.51) == 2


def test_truncation_keeps_values_inside_and_renormalises():
    p = prior(dist="normal", mean=0, sd=1, truncate=[0, math.inf], point=0.5)
    x = p.ppf(U)
    assert x.min() >= 0
    np.testing.assert_allclose(x, stats.halfnorm.ppf(U), rtol=1e-9)
    assert p.support() == (0.0, math.inf)


def test_spec_equality_ignores_the_file():
    a = parse_prior("x", {"dist": "uniform", "low": 0, "high": 1, "point": 0.5, "unit": "1", "note": "n"},
                    at=Location("a.toml", "priors.x"))
    b = parse_prior("x", {"dist": "uniform", "low": 0, "high": 1, "point": 0.5, "unit": "1", "note": "n"},
                    at=Location("b.toml", "priors.x"))
    assert a == b


def test_override_inherits_text_and_defaults_point_to_median():
    base = prior(dist="uniform", low=0, high=1, point=0.2, unit="fraction", source="paper")
    new = parse_prior("x", {"dist": "uniform", "low": 0.2, "high": 0.4}, at=Location("e.toml", "scenarios.s.priors.x"),
                      base=base)
    assert (new.unit, new.source) == ("fraction", "paper")
    assert new.point == pytest.approx(0.3, rel=1e-15)


# --- bad input: one message per problem, naming file and key --------------

@pytest.mark.parametrize("table, match", [
    ({"dist": "gaussian", "mean": 0, "sd": 1}, r"test\.toml: priors\.x\.dist: unknown distribution 'gaussian'; "
                                                r"valid: fixed, uniform, loguniform, normal"),
    ({"mean": 0, "sd": 1}, r"priors\.x\.dist: missing; valid: fixed, uniform"),
    ({"dist": "normal", "mean": 0}, r"priors\.x: a normal prior takes \(mean, sd\) or \(ci90\); got \(mean\)"),
    ({"dist": "normal", "mean": 0, "sd": 1, "scale": 2}, r"priors\.x\.scale: unknown key for a normal prior; valid: "),
    ({"dist": "normal", "mean": 0, "sd": 1, "ci90": [0, 1]}, r"a normal prior takes \(mean, sd\) or \(ci90\); "
                                                            r"got \(ci90, mean, sd\)"),
    ({"dist": "normal", "mean": 0, "sd": 0}, r"priors\.x\.sd: must be > 0, got 0"),
    ({"dist": "normal", "mean": 0, "sd": -1}, r"priors\.x\.sd: must be > 0, got -1"),
    ({"dist": "uniform", "low": 2, "high": 1}, r"priors\.x\.high: must be greater than low \(2\), got 1"),
    ({"dist": "uniform", "low": 1, "high": 1}, r"priors\.x\.high: must be greater than low \(1\), got 1"),
    ({"dist": "normal", "ci90": [5, 1]}, r"priors\.x\.ci90: must be increasing \(low < high\), got \[5, 1\]"),
    ({"dist": "normal", "ci90": [1]}, r"priors\.x\.ci90: must be a list of two numbers \[low, high\]"),
    ({"dist": "lognormal", "ci90": [0, 10]}, r"priors\.x\.ci90: lognormal bounds must be > 0, got \[0, 10\]"),
    ({"dist": "lognormal", "median": -1, "gsd": 2}, r"priors\.x\.median: must be > 0, got -1"),
    ({"dist": "lognormal", "median": 1, "gsd": 0.5}, r"priors\.x\.gsd: geometric sd must be > 1, got 0.5"),
    ({"dist": "loguniform", "low": 0, "high": 1}, r"priors\.x\.low: must be > 0, got 0"),
    ({"dist": "beta", "ci90": [0.5, 1.2]}, r"priors\.x\.ci90: must be inside \(0, 1\) for a beta prior, got 1.2"),
    ({"dist": "beta", "mean": 1.5, "sd": 0.1}, r"priors\.x\.mean: must be inside \(0, 1\) for a beta prior"),
    ({"dist": "beta", "mean": 0.5, "sd": 0.6}, r"priors\.x\.sd: a beta with mean 0.5 needs sd < 0.5, got 0.6"),
    ({"dist": "beta", "a": 0, "b": 1}, r"priors\.x\.a: must be > 0, got 0"),
    ({"dist": "triangular", "low": 0, "mode": 3, "high": 2}, r"triangular needs low <= mode <= high"),
    ({"dist": "pert", "low": 0, "mode": 1, "high": 1, "lambda": -1}, r"priors\.x\.lambda: must be > 0"),
    ({"dist": "choice", "values": [1, 2], "weights": [0, 0]}, r"priors\.x\.weights: weights must be >= 0 with a "
                                                              r"positive sum, got \[0, 0\]"),
    ({"dist": "choice", "values": [1, 2], "weights": [-1, 2]}, r"weights must be >= 0 with a positive sum"),
    ({"dist": "choice", "values": [1, 2], "weights": [1]}, r"priors\.x\.weights: must be a list of 2 numbers"),
    ({"dist": "choice", "values": []}, r"priors\.x\.values: must be a non-empty list of numbers"),
    ({"dist": "choice", "values": [1, 1]}, r"priors\.x\.values: values must be distinct"),
    ({"dist": "choice", "values": [1, 2], "truncate": [0, 1]}, r"priors\.x\.truncate: unknown key for a choice"),
    ({"dist": "normal", "mean": "a", "sd": 1}, r"priors\.x\.mean: must be a number, got 'a'"),
    ({"dist": "normal", "mean": True, "sd": 1}, r"priors\.x\.mean: must be a number, got True"),
    ({"dist": "normal", "mean": math.nan, "sd": 1}, r"priors\.x\.mean: must be a finite number, got nan"),
    ({"dist": "normal", "mean": 0, "sd": 1, "truncate": [5, 3]}, r"priors\.x\.truncate: must be increasing"),
    ({"dist": "uniform", "low": 0, "high": 1, "truncate": [2, 3]}, r"priors\.x\.truncate: \[2, 3\] holds no "
                                                                  r"probability of the uniform distribution"),
    ({"dist": "scipy", "name": "eval"}, r"priors\.x\.name: 'eval' is not a scipy.stats continuous distribution"),
    ({"dist": "scipy", "name": "binom", "params": {"n": 3, "p": 0.5}}, r"'binom' is not a scipy.stats continuous"),
    ({"dist": "scipy", "name": "gamma", "params": {"k": 2}}, r"priors\.x\.params\.k: not a parameter of "
                                                            r"scipy\.stats\.gamma; valid: a, loc, scale"),
    ({"dist": "scipy", "name": "gamma"}, r"priors\.x\.params: scipy\.stats\.gamma needs a"),
    ({"dist": "scipy", "name": "gamma", "params": {"a": -2}}, r"lies outside the domain of scipy\.stats\.gamma"),
])
def test_bad_parameters(table, match):
    table = {"point": 0.5, **table}
    with pytest.raises(ConfigError, match=match):
        prior(**table)


def test_point_required_and_inside_support():
    with pytest.raises(ConfigError, match=r"priors\.x\.point: missing; every prior needs the value point mode uses"):
        prior(dist="uniform", low=0, high=1)
    with pytest.raises(ConfigError, match=r"priors\.x\.point: 2 lies outside the prior's support \[0, 1\]"):
        prior(dist="uniform", low=0, high=1, point=2)


def test_unit_and_source_required():
    with pytest.raises(ConfigError, match=r"priors\.x\.unit: missing; give the unit"):
        parse_prior("x", {"dist": "fixed", "point": 1, "note": "n"}, at=Location("test.toml", "priors.x"))
    with pytest.raises(ConfigError, match=r"priors\.x: needs a 'source' or a 'note'"):
        parse_prior("x", {"dist": "fixed", "point": 1, "unit": "1"}, at=Location("test.toml", "priors.x"))


@pytest.mark.parametrize("body, message", [
    # scipy gives vonmises the support [-inf, inf]; it draws in [-pi, pi], here truncated to [0, pi]
    ('dist = "scipy"\nname = "vonmises"\nparams = {kappa = 0}\ntruncate = [0, inf]\npoint = 27500',
     "priors.prompt_words.point: 27500 lies outside the prior's support [0, 3.14159]"),
    # 4 * (high - mode) overflows: the shape parameter b is infinite and every draw is the low value
    ("dist = \"pert\"\nlow = 1\nmode = 2\nhigh = 1e308\npoint = 2",
     "priors.prompt_words: the pert distribution's numbers overflow or leave its domain (its 5th, 50th and 95th "
     "percentiles come out as [1, 1, 1]); give parameters of a smaller magnitude, for example in a larger unit"),
    # high - low overflows to inf
    ("dist = \"uniform\"\nlow = -1e308\nhigh = 1e308\npoint = 0.3\nallow_negative = true",
     "priors.prompt_words: the uniform distribution's numbers overflow or leave its domain (its 5th, 50th and 95th "
     "percentiles come out as [inf, inf, inf])"),
])
def test_a_prior_that_cannot_draw_what_it_says_names_itself(project, capsys, body, message):
    path = project / "priors" / "seed_2023.toml"
    path.write_text(with_prior(path.read_text(), "prompt_words", body + '\nunit = "words/query"\nnote = "edge"'))
    for command in (["validate", "experiments/search_cost.toml"], ["run", "--samples", "100", "--no-report"],
                    ["point"]):
        assert message in one_line_error(capsys, command)
    assert not (project / "outputs").exists()
