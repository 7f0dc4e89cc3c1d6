"""The report every test module of the report reads: the default experiment run with its report, figures drawn."""

import shutil
from pathlib import Path

import pytest

from sim.cli import main

from ..helpers import ROOT


def _project(root: Path) -> Path:
    for folder in ("priors", "experiments"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The default experiment run (20,000 samples) with its report, in a project copy: built once a session, before
    any test's fixtures, so its figures are rasterised (the browser tests read them)."""
    root = _project(tmp_path_factory.mktemp("report"))
    code = main(["run", str(root / "experiments" / "search_cost.toml"), "--samples", "20000", "--sobol-n", "2048",
                 "--out", str(root / "outputs")])
    assert code == 0
    return root / "outputs" / "search_cost"
