"""Priors from data and from quantiles (sim.priors.fit), and the metalog and mixture forms they use."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.errors import ConfigError, Location, SimError
from sim.priors import parse_prior
from sim.priors.composite import metalog_basis, metalog_coefficients
from sim.priors.fit import fit_data, fit_quantiles

AT = Location("f.toml", "priors.p")


def prior(table: dict):
    return parse_prior("p", {"point": 1.0, "unit": "1", "source": "test", "allow_negative": True, **table}, at=AT)


# --- fitting data ---------------------------------------------------------------------------------------------------


def test_a_gamma_sample_is_recovered_and_ranked_first():
    """3,000 draws of a gamma(2.5, scale 3): the gamma wins on AIC; its shape within 10 % (four standard errors of
    the maximum-likelihood shape, sqrt(1 / (n (trigamma(a) - 1 / a))) = 2.4 %) and the median within 5 % (the
    sample median's standard error is 1.7 %; the fit's is smaller)."""
    true = stats.gamma(2.5, scale=3.0)
    result = fit_data(true.rvs(3000, random_state=11), unit="s", name="latency", gof_samples=19)
    assert result.fits[0].family == "gamma"
    assert result.prior.dist == "scipy" and dict(result.prior.params)["name"] == "gamma"
    assert result.fits[0].params["a"] == pytest.approx(2.5, rel=0.10)
    assert result.prior.median() == pytest.approx(true.median(), rel=0.05)
    assert result.prior.point == pytest.approx(result.prior.median())
    assert result.fits[0].ad_pvalue > 0.01  # the true family is not rejected
    aic = [f.aic for f in result.fits]
    assert aic == sorted(aic) and result.table()["delta_aic"].iloc[0] == 0


def test_a_lognormal_sample_is_recovered_and_ranked_first():
    """3,000 draws of a lognormal (median 4, sigma 0.6): the lognormal wins; its sigma within 5 % (standard error
    sigma / sqrt(2 n), 1.3 %) and median within 5 % (standard error sigma / sqrt(n), 1.1 %)."""
    result = fit_data(stats.lognorm(0.6, scale=4.0).rvs(3000, random_state=12), unit="USD", gof_samples=19)
    assert result.fits[0].family == "lognormal" and result.prior.dist == "lognormal"
    table = dict(result.prior.params)
    assert table["median"] == pytest.approx(4.0, rel=0.05)
    assert math.log(table["gsd"]) == pytest.approx(0.6, rel=0.05)


def test_fractions_are_offered_the_beta_and_the_fit_is_maximum_likelihood():
    x = stats.beta(2, 5).rvs(2000, random_state=3)
    result = fit_data(x, unit="fraction", families=["beta", "normal"], gof_samples=19)
    assert [f.family for f in result.fits] == ["beta", "normal"]
    a, b, _, _ = stats.beta.fit(x, floc=0, fscale=1)  # scipy's own maximum-likelihood estimate
    assert result.fits[0].params == pytest.approx({"a": a, "b": b}, rel=1e-4)
    assert result.fits[0].aic == pytest.approx(4 - 2 * stats.beta(a, b).logpdf(x).sum(), rel=1e-6)


def test_the_source_names_the_data_and_the_fit():
    result = fit_data(stats.norm(5, 1).rvs(500, random_state=1), unit="1", label="d.csv column x", gof_samples=19)
    assert "fit to d.csv column x (n = 500): AIC" in result.source and "Anderson-Darling p" in result.source
    text = result.priors_text()
    assert text.startswith("[priors.fitted]\n") and 'source = "maximum-likelihood' in text


@pytest.mark.parametrize("values, message", [
    (np.ones(20), "every value is 1"),
    (np.arange(5.0), "5 value\\(s\\); a fit needs at least 8"),
])
def test_data_a_fit_cannot_use_is_refused(values, message):
    with pytest.raises(SimError, match=message):
        fit_data(values, unit="1")


def test_a_family_the_support_excludes_is_refused():
    with pytest.raises(SimError, match="--families: lognormal needs positive values"):
        fit_data(np.linspace(-1, 1, 50), unit="1", families=["lognormal"])


# --- quantiles and the metalog ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lower, upper", [(None, None), (0.0, None), (0.0, 100.0)])
def test_the_metalog_passes_through_the_quantiles(lower, upper):
    result = fit_quantiles({0.05: 2.0, 0.5: 5.0, 0.95: 20.0}, unit="USD", lower=lower, upper=upper)
    np.testing.assert_allclose(result.prior.ppf(np.array([0.05, 0.5, 0.95])), [2, 5, 20], rtol=1e-9)
    u = np.linspace(0.001, 0.999, 999)
    np.testing.assert_allclose(result.prior.cdf(result.prior.ppf(u)), u, atol=1e-6)  # the CDF inverts it
    lo, hi = result.prior.support()
    assert (lo, hi)[0] == (lower if lower is not None else lo) and (upper is None or hi == upper)


def test_the_metalog_basis_is_keelins():
    """Keelin (2016): 1, L, (y - 1/2) L, (y - 1/2), (y - 1/2)^2, (y - 1/2)^2 L, (y - 1/2)^3, (y - 1/2)^3 L."""
    y = np.array([0.3])
    L, c = math.log(0.3 / 0.7), 0.3 - 0.5
    expected = [1, L, c * L, c, c**2, c**2 * L, c**3, c**3 * L]
    np.testing.assert_allclose(metalog_basis(y, 8)[0], expected)
    # five quantiles of a logistic(0, 1) (whose quantile function is L) give a2 = 1 and every other term 0
    p = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    np.testing.assert_allclose(metalog_coefficients(p, np.log(p / (1 - p))), [0, 1, 0, 0, 0], atol=1e-12)


def test_quantiles_no_metalog_can_pass_through_are_refused():
    with pytest.raises(SimError, match="--quantiles: .*no valid metalog"):
        fit_quantiles({0.05: 1.0, 0.1: 9.0, 0.9: 9.5, 0.95: 30.0}, unit="1")
    with pytest.raises(SimError, match="--quantiles: values must increase"):
        fit_quantiles({0.05: 3.0, 0.5: 2.0, 0.95: 4.0}, unit="1")


def test_a_metalog_prior_table_is_checked():
    with pytest.raises(ConfigError, match=r"priors\.p\.lower: must be below the smallest value"):
        prior({"dist": "metalog", "quantiles": [[0.1, 1], [0.5, 2], [0.9, 4]], "lower": 1})
    with pytest.raises(ConfigError, match=r"priors\.p\.quantiles: must be three or more"):
        prior({"dist": "metalog", "quantiles": [[0.1, 1], [0.9, 4]]})


# --- the mixture ----------------------------------------------------------------------------------------------------


def test_a_mixtures_cdf_is_the_weighted_sum_and_its_quantiles_invert_it():
    p = prior({"dist": "mixture", "weights": [0.7, 0.3],
               "components": [{"dist": "lognormal", "median": 2, "gsd": 1.5}, {"dist": "uniform", "low": 5, "high": 8}]})

    def exact(x):
        return 0.7 * stats.lognorm(math.log(1.5), scale=2).cdf(x) + 0.3 * stats.uniform(5, 3).cdf(x)

    u = np.linspace(1e-6, 1 - 1e-6, 100_001)
    assert np.abs(exact(p.ppf(u)) - u).max() < 1e-6  # the grid inversion's error in u
    x = np.array([1.0, 3.0, 5.0, 6.5])
    np.testing.assert_allclose(p.cdf(x), exact(x), atol=1e-12)
    assert p.support() == (0.0, math.inf)  # the lognormal component's


def test_a_mixture_survives_a_change_of_weights_and_is_checked():
    p = prior({"dist": "mixture", "components": [{"dist": "normal", "mean": 0, "sd": 1},
                                                 {"dist": "normal", "mean": 10, "sd": 1}]})
    assert p.median() == pytest.approx(5.0, abs=0.01)  # equal weights: half the mass either side of the gap
    q = p.with_params(weights=[3, 1])
    assert q.dist == "mixture"
    assert float(q.cdf(5.0)) == pytest.approx(0.75 * stats.norm.cdf(5) + 0.25 * stats.norm.cdf(-5), abs=1e-12)
    with pytest.raises(ConfigError, match=r"priors\.p\.components\.1\.dist: a component needs a continuous form"):
        prior({"dist": "mixture", "components": [{"dist": "normal", "mean": 0, "sd": 1},
                                                 {"dist": "choice", "values": [1, 2]}]})
    with pytest.raises(ConfigError, match=r"priors\.p\.weights: must be a list of 2 numbers"):
        prior({"dist": "mixture", "weights": [1], "components": [{"dist": "normal", "mean": 0, "sd": 1},
                                                                 {"dist": "normal", "mean": 1, "sd": 1}]})
