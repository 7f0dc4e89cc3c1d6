"""Calibration against closed forms: a lognormal prior on ``x``, an output ``3 * x`` and a lognormal observation of
the output is the conjugate normal case in logs, whose posterior is known exactly."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from sim.errors import SimError
from sim.experiment import load_experiment
from sim.observations import load_observations
from sim.studies.calibrate import calibrate
from tests.helpers import conjugate_project, lognormal_observation, write


def project(tmp_path, samples: int = 40_000):
    return load_experiment(conjugate_project(tmp_path, samples))


def observation(value: float, sd: float, name: str = "seen") -> str:
    return lognormal_observation(value, sd, name)


def closed_form(value: float, sd: float) -> tuple[float, float]:
    """Mean and sd of log y given the observation: the normal-normal update of log y ~ N(log 30, log 2)."""
    m0, s0 = math.log(30), math.log(2)
    precision = 1 / s0**2 + 1 / sd**2
    return (m0 / s0**2 + math.log(value) / sd**2) / precision, precision**-0.5


def assert_matches(y: np.ndarray, ess: float, value: float, sd: float) -> None:
    """The posterior's median and 90 % interval of y agree with the closed form within Monte Carlo error.

    The tolerance is four standard errors of a quantile of ``ess`` independent draws from the closed-form
    posterior (sqrt(p (1 - p)) / (f(q) sqrt(ess)) in logs): a correct sampler fails it about once in 10,000."""
    mean, sigma = closed_form(value, sd)
    for p in (0.05, 0.5, 0.95):
        q = stats.norm.ppf(p)
        se = math.sqrt(p * (1 - p)) / (stats.norm.pdf(q) / sigma) / math.sqrt(ess)
        assert abs(math.log(np.quantile(y, p)) - (mean + q * sigma)) < 4 * se, p


def test_importance_sampling_matches_the_conjugate_posterior(tmp_path):
    from sim.engine import run

    experiment = project(tmp_path)
    ds = run(experiment)
    obs = load_observations(experiment, write(tmp_path / "o.toml", observation(45, 0.3)))
    result = calibrate(experiment, ds, obs)
    assert result.method == "importance" and result.stages == () and result.evaluations == 0
    y = result.posterior["y"].sel(scenario="baseline").values
    assert_matches(y, result.ess, 45, 0.3)
    # the effective sample size is the weights' (Kish's), between a few per cent and all of the run
    assert 2_000 < result.ess < 40_000 and result.posterior.attrs["effective_samples"] == result.ess
    assert result.khat < 0.7
    # the unrelated prior keeps its distribution: the two-sample KS test does not tell the posterior from the prior
    assert stats.ks_2samp(result.posterior["z"].values, ds["z"].values).pvalue > 1e-3
    assert result.moved == ["x"]
    record = json.loads(result.posterior.attrs["calibration"])
    assert record["method"] == "importance" and record["observations"] == ["seen"]


def test_a_sharp_observation_takes_sequential_monte_carlo_and_matches_its_closed_form(tmp_path):
    from sim.engine import run

    experiment = project(tmp_path, samples=20_000)
    ds = run(experiment)
    obs = load_observations(experiment, write(tmp_path / "o.toml", observation(45, 0.01)))
    result = calibrate(experiment, ds, obs, particles=4_000)
    assert result.method == "smc" and len(result.stages) > 1
    assert result.stages[-1].exponent == 1.0
    assert result.evaluations == sum(s.evaluations for s in result.stages) > 4_000
    y = result.posterior["y"].sel(scenario="baseline").values
    # the sampler reports the last stage's weights' effective size; its moves leave the particles close to
    # independent (over ten seeds the quantiles' errors were within 1.9 of these standard errors)
    assert_matches(y, result.ess, 45, 0.01)
    assert stats.ks_2samp(result.posterior["z"].values, ds["z"].values[:4_000]).pvalue > 1e-3


def test_calibration_is_reproducible(tmp_path):
    from sim.engine import run

    experiment = project(tmp_path, samples=5_000)
    ds = run(experiment)
    obs = load_observations(experiment, write(tmp_path / "o.toml", observation(45, 0.3)))
    a, b = calibrate(experiment, ds, obs), calibrate(experiment, ds, obs)
    assert a.posterior.identical(b.posterior) and a.checks.identical(b.checks)


def test_a_conflicting_observation_is_named_and_strict_refuses_it(tmp_path):
    from sim.engine import run

    experiment = project(tmp_path, samples=5_000)
    ds = run(experiment)
    obs = load_observations(experiment, write(tmp_path / "o.toml", observation(3_000, 0.1, name="far")))
    result = calibrate(experiment, ds, obs, particles=2_000)
    assert result.conflicts == ["far"]
    assert any("prior-data conflict: far" in line for line in result.warnings)
    # the figure sits beyond every prior predictive draw: its PIT is 1
    assert float(result.checks["pit"].sel(observation="far")) == 1.0
    with pytest.raises(SimError, match=r"--strict: .*far"):
        calibrate(experiment, ds, obs, strict=True)


def test_an_observation_no_sample_can_meet_is_refused(tmp_path):
    from sim.engine import run

    experiment = project(tmp_path, samples=1_000)
    ds = run(experiment)
    path = write(tmp_path / "o.toml", '[observations.out]\nprior = "z"\nlikelihood = "interval"\nlow = 5\n'
                                      'high = 6\nunit = "USD"\nsource = "a test"\n')
    with pytest.raises(SimError, match="no sample of the run is consistent"):
        calibrate(experiment, ds, load_observations(experiment, path))


def test_predictive_checks_bracket_the_figure_after_calibration(tmp_path):
    from sim.engine import run

    experiment = project(tmp_path, samples=20_000)
    ds = run(experiment)
    obs = load_observations(experiment, write(tmp_path / "o.toml", observation(45, 0.3)))
    checks = calibrate(experiment, ds, obs).checks.sel(observation="seen")
    # prior predictive of log y: N(log 30, sqrt(log 2 ** 2 + 0.3 ** 2)); its median is 30 within a few per cent
    assert abs(float(checks["prior_p50"]) / 30 - 1) < 0.05
    assert float(checks["posterior_p05"]) < 45 < float(checks["posterior_p95"])
    assert not bool(checks["conflict"])
    spread = math.hypot(math.log(2), 0.3)
    assert abs(float(checks["pit"]) - stats.norm.cdf(math.log(45 / 30) / spread)) < 0.02


def test_posterior_intervals_are_those_of_its_effective_samples(tmp_path):
    from sim.analysis.decision import decide
    from sim.analysis.summary import summarize_run
    from sim.engine import run

    experiment = project(tmp_path, samples=20_000)
    posterior = calibrate(experiment, run(experiment), load_observations(
        experiment, write(tmp_path / "o.toml", observation(45, 0.3)))).posterior
    n, ess = posterior.sizes["sample"], posterior.attrs["effective_samples"]
    rows = posterior.copy()
    del rows.attrs["effective_samples"]  # the same rows taken as independent samples

    def half_width(ds, name="y"):
        ci = summarize_run(ds)[f"{name}_ci"].sel(stat="mean", scenario="baseline").values
        return (ci[1] - ci[0]) / 2

    # the Student-t half-width t(m - 1) sd / sqrt(m) with m the effective samples instead of the rows
    expected = stats.t.ppf(0.975, ess - 1) / stats.t.ppf(0.975, n - 1) * math.sqrt(n / ess)
    assert half_width(posterior) / half_width(rows) == pytest.approx(expected, rel=1e-9)
    # P(profitable): the Jeffreys interval of the same share of ess draws is wider by about sqrt(n / ess)
    wide, narrow = (decide(ds)["p_profitable_ci"].sel(scenario="baseline").values for ds in (posterior, rows))
    assert (wide[1] - wide[0]) / (narrow[1] - narrow[0]) == pytest.approx(math.sqrt(n / ess), rel=0.05)


def test_an_interval_in_the_tail_is_met_by_sequential_monte_carlo(tmp_path):
    """y = 3 x at least 150 (the prior's 99th percentile or so, log 5 / log 2 = 2.3 sd above the median): the
    posterior of log y is the prior's normal truncated below at log 150, whose median is known in closed form. A
    hard edge leaves nothing to temper: the sampler restarts from the particles inside and moves them."""
    from sim.engine import run

    experiment = project(tmp_path, samples=20_000)
    ds = run(experiment)
    path = write(tmp_path / "o.toml", '[observations.floor]\noutput = "y"\nlikelihood = "interval"\nlow = 150\n'
                                      'unit = "USD"\nsource = "a test"\n')
    result = calibrate(experiment, ds, load_observations(experiment, path), particles=10_000)
    assert result.method == "smc"
    y = result.posterior["y"].sel(scenario="baseline").values
    assert y.min() >= 150
    m0, s0 = math.log(30), math.log(2)
    a = (math.log(150) - m0) / s0
    truncated = stats.truncnorm(a, np.inf, loc=m0, scale=s0)
    # four standard errors of the median of ess draws of the truncated normal
    se = 0.5 / truncated.pdf(truncated.median()) / math.sqrt(result.ess)
    assert abs(math.log(np.median(y)) - truncated.median()) < 4 * se


def test_an_interval_no_particle_meets_is_refused_with_what_to_do(tmp_path):
    from sim.engine import run

    experiment = project(tmp_path, samples=2_000)
    ds = run(experiment)
    path = write(tmp_path / "o.toml", '[observations.far]\noutput = "y"\nlikelihood = "interval"\nlow = 3000\n'
                                      'unit = "USD"\nsource = "a test"\n')
    with pytest.raises(SimError, match="no sample of the run is consistent|give the intervals an sd"):
        calibrate(experiment, ds, load_observations(experiment, path))


def test_a_csv_of_observations_selects_each_rows_cell(tmp_path):
    """Rows of a CSV file observe the cell their coordinate columns name; a row naming no cell of the run is
    refused at its row."""
    from sim.engine import run
    from sim.errors import ConfigError

    experiment = project(tmp_path, samples=4_000)
    ds = run(experiment)
    write(tmp_path / "seen.csv", "scenario,value\nbaseline,45\nbaseline,40\n")
    path = write(tmp_path / "o.toml", '[observations.seen]\noutput = "y"\ncsv = "seen.csv"\nlikelihood = "lognormal"\n'
                                      'sd = 0.3\nunit = "USD"\nsource = "a test"\n')
    observations = load_observations(experiment, path)
    assert [o.select for o in observations] == [(("scenario", "baseline"),)] * 2
    assert calibrate(experiment, ds, observations).checks.sizes["observation"] == 2
    write(tmp_path / "seen.csv", "scenario,value\nbaseline,45\nelsewhere,40\n")
    with pytest.raises(ConfigError, match=r"seen\.csv: row 3: select: scenario has no value 'elsewhere'"):
        calibrate(experiment, ds, load_observations(experiment, path))
