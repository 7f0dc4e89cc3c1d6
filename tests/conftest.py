"""Fixtures every test module may use: a copy of the project to run in, the default experiment, a saved run."""

import shutil

import pytest

from .helpers import ROOT, TINY_PNG


@pytest.fixture(autouse=True)
def _no_rasterising(request, monkeypatch):
    """Reports drawn in process make their figures but skip rasterising them (most of a report's time), except in
    tests marked ``figures``, whose subject the figures are."""
    if request.node.get_closest_marker("figures") is None:
        from sim.report import document

        monkeypatch.setattr(document, "png", lambda figure, dpi=100: TINY_PNG)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the project's priors and experiments in a temporary folder (the cwd)."""
    for folder in ("priors", "experiments"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def search_experiment():
    import sim

    return sim.load_experiment(ROOT / "experiments" / "search_cost.toml")


@pytest.fixture(scope="session")
def search_run(search_experiment):
    """The default experiment's run at its own settings (100,000 samples, its seed)."""
    import sim

    return sim.run(search_experiment)


@pytest.fixture
def saved(project, capsys):
    """A saved run of the default experiment (300 samples, no report) in the project copy."""
    from sim.cli import main

    assert main(["run", "--samples", "300", "--no-report"]) == 0
    capsys.readouterr()
    return project / "outputs" / "search_cost"
