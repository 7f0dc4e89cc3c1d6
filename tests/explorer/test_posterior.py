"""The what-if on a posterior (`sim explore --posterior`): its rows are the posterior's, a changed prior keeps the
posterior's ranks of it, and the page and the command run on it."""

import signal

import numpy as np
import pytest

from sim.analysis.summary import exceedance, exceedance_interval
from sim.engine import run
from sim.experiment import load_experiment
from sim.observations import load_observations
from sim.studies.calibrate import calibrate
from sim.studies.explore import what_if

from .. import browser
from ..helpers import cli, conjugate_project, lognormal_observation, write

SEEN = lognormal_observation(45, 0.3)

bokeh = pytest.importorskip("bokeh", reason="the explorer needs the explore extra (Bokeh)")


@pytest.fixture
def calibrated(tmp_path):
    experiment = load_experiment(conjugate_project(tmp_path))
    observations = load_observations(experiment, write(tmp_path / "o.toml", SEEN))
    return experiment, calibrate(experiment, run(experiment), observations).posterior


def test_the_what_if_of_a_posterior_gives_its_rows_back(calibrated):
    experiment, posterior = calibrated
    w = what_if(experiment, samples=3_000, posterior=posterior)
    first = posterior.isel(sample=slice(0, 3_000))
    ds = w.dataset()
    # each prior at the posterior's values (the prior's quantiles of its CDF at them: a round trip of 1e-9 or so)
    for name in ("x", "z"):
        np.testing.assert_allclose(ds[name].values, first[name].values, rtol=1e-9)
    pair = w.results()["pairs"][("y", "r")]
    assert float(pair["p_loss"].squeeze()) == float(exceedance(first, "y", "r").squeeze())
    # its interval is that of the rows' share of the posterior's effective samples, as a posterior's summary is
    expected = exceedance_interval(first, "y", "r", n_eff=posterior.attrs["effective_samples"] * 3_000 / 4_000)
    np.testing.assert_allclose(pair["p_loss_ci"].values, expected.values)


def test_a_changed_prior_keeps_the_posteriors_ranks_of_it(calibrated):
    experiment, posterior = calibrated
    w = what_if(experiment, samples=3_000, posterior=posterior)
    changed = w.change("x", median=20)
    before, after = w.values("x"), changed.values("x")
    assert (np.argsort(before) == np.argsort(after)).all()  # the same order: the posterior's dependence kept
    assert np.allclose(after / before, 2.0)  # a lognormal's median doubled doubles every quantile
    np.testing.assert_array_equal(changed.values("z"), w.values("z"))


def test_the_page_builds_on_a_posterior(calibrated):
    from bokeh.document import Document

    from sim.explorer import Explorer

    experiment, posterior = calibrated
    page = Explorer(Document(), experiment, samples=2_000, posterior=posterior)
    assert "on the posterior of the saved run" in page.header.text and not page.seed_box.visible
    assert page.what_if.experiment.samples == 2_000 and page.results is not None


def test_sim_explore_posterior_serves_and_stops(tmp_path, capsys):
    conjugate_project(tmp_path)
    assert cli(capsys, "run", tmp_path / "e.toml", "--no-report", "--out", tmp_path / "outputs")[0] == 0
    assert cli(capsys, "calibrate", tmp_path / "e.toml", "--observations", write(tmp_path / "o.toml", SEEN),
               "--out", tmp_path / "outputs")[0] == 0
    served = browser.Served(tmp_path, "e.toml", "--posterior", "--samples", "1000")
    code, out, err = served.stop(signal.SIGINT)
    assert served.url.startswith("http://127.0.0.1:")
    assert code == 0 and "sim explore: stopped" in out and "Traceback" not in err, err
