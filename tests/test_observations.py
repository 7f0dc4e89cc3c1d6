"""Observations files: read into likelihoods in the observed variable's units, and refused in one located line."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.errors import ConfigError
from sim.experiment import load_experiment
from sim.observations import load_observations
from tests.helpers import write

PRIORS = """
[priors.x]
dist = "lognormal"
median = 10
gsd = 2
point = 10
unit = "USD/Mtoken"
note = "a prior"

[priors.share]
dist = "beta"
mean = 0.3
sd = 0.1
point = 0.3
unit = "fraction"
note = "a fraction"
"""

EXPERIMENT = """
priors = ["priors.toml"]
samples = 1000
[model.outputs.y]
formula = "3 * x * share"
units = "USD/Mtoken"
role = "cost"
"""

GOOD = """
[observations.seen]
output = "y"
value = {value}
likelihood = "lognormal"
sd = 0.3
unit = "{unit}"
source = "a test"
"""


@pytest.fixture
def experiment(tmp_path):
    write(tmp_path / "priors.toml", PRIORS)
    return load_experiment(write(tmp_path / "e.toml", EXPERIMENT))


def test_a_figure_in_another_unit_of_the_kind_is_converted(experiment, tmp_path):
    (obs,) = load_observations(experiment, write(tmp_path / "o.toml", GOOD.format(value=0.012, unit="USD/ktoken")))
    assert obs.value == pytest.approx(12.0) and obs.sd == 0.3  # the sd of a log has no unit
    assert obs.variable == "y" and obs.kind == "output" and obs.source == "a test"
    # the log-likelihood is the normal density of log 12 around log y
    y = np.array([6.0, 12.0, 24.0])
    assert obs.loglik(y) == pytest.approx(stats.norm.logpdf(math.log(12), np.log(y), 0.3))
    assert obs.loglik(np.array([0.0, -1.0])).tolist() == [-math.inf, -math.inf]


def test_normal_and_interval_likelihoods(experiment, tmp_path):
    path = write(tmp_path / "o.toml", """
[observations.a]
prior = "share"
value = 40
sd = 5
likelihood = "normal"
unit = "percent"
source = "survey"

[observations.b]
output = "y"
likelihood = "interval"
low = 5
high = 20
source = "a range"
""")
    a, b = load_observations(experiment, path)
    assert (a.kind, a.value, a.sd) == ("prior", pytest.approx(0.4), pytest.approx(0.05))
    assert a.loglik(np.array([0.4])) == pytest.approx(stats.norm.logpdf(0.4, 0.4, 0.05))
    assert b.unit == "USD/Mtoken"  # the variable's own unit when none is given
    assert b.loglik(np.array([4.9, 5.0, 20.0, 20.1])).tolist() == [-math.inf, 0.0, 0.0, -math.inf]


def test_one_sided_and_soft_intervals(experiment, tmp_path):
    path = write(tmp_path / "o.toml", """
[observations.floor]
output = "y"
likelihood = "interval"
low = 5
source = "at least 5"

[observations.soft]
output = "y"
likelihood = "interval"
low = 5
high = 20
sd = 0.2
source = "between 5 and 20, give or take a fifth"
""")
    floor, soft = load_observations(experiment, path)
    assert (floor.low, floor.high, floor.observed) == (5.0, math.inf, 5.0)
    assert floor.describe() == "at least 5 (interval)"
    assert floor.loglik(np.array([4.0, 5.0, 1e9])).tolist() == [-math.inf, 0.0, 0.0]
    # soft edges: P(5 <= y e^(0.2 z) <= 20), z standard normal; the reference, a difference of two CDFs near 1 or
    # near 0, carries an absolute error of a few 1e-17 (computed in logs, the likelihood does not)
    y = np.array([2.0, 5.0, 10.0, 40.0])
    expected = stats.norm.cdf(np.log(20 / y) / 0.2) - stats.norm.cdf(np.log(5 / y) / 0.2)
    np.testing.assert_allclose(np.exp(soft.loglik(y)), expected, rtol=1e-12, atol=1e-16)
    assert soft.observed == 12.5 and "edges soft" in soft.describe()


def test_many_observations_of_one_quantity_from_a_csv_file(experiment, tmp_path):
    write(tmp_path / "data" / "prices.csv", "value,sd\n10,0.2\n14,0.4\n")
    path = write(tmp_path / "data" / "o.toml", '[observations.prices]\noutput = "y"\ncsv = "prices.csv"\n'
                                               'likelihood = "lognormal"\nsource = "price list"\n')
    obs = load_observations(experiment, path)
    assert [(o.name, o.value, o.sd) for o in obs] == [("prices[0]", 10.0, 0.2), ("prices[1]", 14.0, 0.4)]
    assert obs[1].location.key == "row 3"


BAD = [
    ('[observations.a]\noutput = "nope"\nvalue = 1\nlikelihood = "normal"\nsd = 1\nsource = "s"\n',
     r"observations\.a\.output: no output 'nope' .*valid: y"),
    ('[observations.a]\nprior = "nope"\nvalue = 1\nlikelihood = "normal"\nsd = 1\nsource = "s"\n',
     r"observations\.a\.prior: no prior 'nope' .*valid: share, x"),
    ('[observations.a]\noutput = "y"\nvalue = 1\nlikelihood = "normal"\nsd = 1\nunit = "hour"\nsource = "s"\n',
     r"observations\.a\.unit: 'hour' is not a unit of the kind of y's 'USD/Mtoken'"),
    ('[observations.a]\noutput = "y"\nvalue = 1\nlikelihood = "normal"\nsd = 0\nsource = "s"\n',
     r"observations\.a\.sd: .*(positive|above 0|> 0)"),
    ('[observations.a]\noutput = "y"\nvalue = -2\nlikelihood = "lognormal"\nsd = 0.3\nsource = "s"\n',
     r"observations\.a\.value: a lognormal observation needs a value above 0"),
    ('[observations.a]\noutput = "y"\nvalue = 1\nlikelihood = "cauchy"\nsd = 1\nsource = "s"\n',
     r"observations\.a\.likelihood: unknown likelihood 'cauchy'; valid: normal, lognormal, interval"),
    ('[observations.a]\noutput = "y"\nvalue = 1\nlikelihood = "normal"\nsource = "s"\n',
     r"observations\.a\.sd: missing; a normal observation needs value and sd"),
    ('[observations.a]\noutput = "y"\nvalue = 1\nlikelihood = "normal"\nsd = 1\n',
     r"observations\.a: needs a 'source'"),
    ('[observations.a]\noutput = "y"\nlikelihood = "interval"\nlow = 3\nhigh = 2\nsource = "s"\n',
     r"observations\.a\.high: must be above low \(3\), got 2"),
    ('[observations.a]\noutput = "y"\nlikelihood = "interval"\nsource = "s"\n',
     r"observations\.a: an interval needs low, high or both"),
    ('[observations.a]\nprior = "share"\nlikelihood = "interval"\nlow = -1\nhigh = 0.5\nsd = 0.1\nsource = "s"\n',
     r"observations\.a\.sd: soft edges \(sd of the log\) need positive bounds"),
    ('[observations.a]\noutput = "y"\nvalue = 1\nlikelihood = "normal"\nsd = 1\nsource = "s"\nweight = 2\n',
     r"observations\.a.*weight"),
    ('[observations.a]\noutput = "y"\nprior = "x"\nvalue = 1\nlikelihood = "normal"\nsd = 1\nsource = "s"\n',
     r"observations\.a: give what is observed"),
    ('title = "none"\n', r": observations: missing or empty"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_observations_are_refused_with_file_and_key(experiment, tmp_path, text, message):
    import re

    path = write(tmp_path / "o.toml", text)
    with pytest.raises(ConfigError) as info:
        load_observations(experiment, path)
    assert str(path) in str(info.value) and re.search(message, str(info.value)), str(info.value)
    assert "\n" not in str(info.value)


def test_a_csv_file_without_the_value_column_is_refused(experiment, tmp_path):
    write(tmp_path / "p.csv", "price\n10\n")
    path = write(tmp_path / "o.toml", '[observations.p]\noutput = "y"\ncsv = "p.csv"\nlikelihood = "lognormal"\n'
                                      'sd = 0.2\nsource = "s"\n')
    with pytest.raises(ConfigError, match=r"observations\.p\.csv: .*p\.csv needs a value column"):
        load_observations(experiment, path)
    write(tmp_path / "p.csv", "value\nten\n")
    with pytest.raises(ConfigError, match=r"row 2: value must be a number, got 'ten'"):
        load_observations(experiment, path)
