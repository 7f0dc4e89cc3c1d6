"""The prior spec (sim.priors.spec): new parameters, replaced fields, and the transforms studies make."""

from ..helpers import ROOT

AGENT = str(ROOT / "experiments" / "agent_task.toml")





import dataclasses

import numpy as np
import pytest
from scipy import stats

import sim


def test_with_params_gives_a_prior_that_follows_the_new_parameters():
    prior = sim.load_experiment(AGENT).base_priors["cache_hit_rate"]  # beta, ci90 = [0.5, 0.95]
    changed = prior.with_params(ci90=[0.4, 0.7])
    assert changed.dist == "beta" and changed.unit == prior.unit and changed.source == prior.source
    # a beta fitted to its 90 % interval reproduces it (checked to 1e-9 when fitted)
    assert changed.interval(0.9) == pytest.approx((0.4, 0.7), rel=1e-9)
    assert changed.point == pytest.approx(changed.median(), rel=1e-12)  # the point defaults to the new median
    assert prior.interval(0.9) == pytest.approx((0.5, 0.95), rel=1e-9)  # the original is unchanged
    u = np.random.default_rng(0).random(20000)
    # samples follow the new distribution: Kolmogorov-Smirnov against the fitted beta's own CDF
    assert stats.kstest(changed.ppf(u), changed.impl.cdf).pvalue > 0.01
    uniform = prior.with_params(dist="uniform", low=0.2, high=0.4)
    assert uniform.support() == (0.2, 0.4) and uniform.point == pytest.approx(0.3)
    narrower = sim.load_experiment(AGENT).base_priors["output_input_price_ratio"].with_params(high=6)  # keeps low = 4
    assert narrower.support() == (4.0, 6.0)
    with pytest.raises(sim.ConfigError, match=r"priors\.cache_hit_rate\.ci90: must be inside \(0, 1\) for a beta"):
        prior.with_params(ci90=[0.4, 1.7])


def test_dataclasses_replace_does_not_keep_the_old_distribution():
    prior = sim.load_experiment(AGENT).base_priors["output_input_price_ratio"]  # uniform 4 to 8
    replaced = dataclasses.replace(prior, params=(("high", 20.0), ("low", 10.0)), point=15.0)
    assert replaced.support() == (10.0, 20.0)
    assert replaced.ppf(0.5) == 15.0
    with pytest.raises(sim.ConfigError, match=r"high: must be greater than low \(10\), got 5"):
        dataclasses.replace(prior, params=(("high", 5.0), ("low", 10.0)))
