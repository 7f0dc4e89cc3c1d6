"""The report every test module of the report reads: the default experiment run with its report, figures drawn."""

import shutil
from pathlib import Path

import pytest

from sim.cli import main
from sim.report import document

from ..helpers import ROOT

#: The report's rasteriser, kept before any test replaces it (see the top conftest's ``_no_rasterising``).
RASTERISE = document.png



def _project(root: Path) -> Path:
    for folder in ("priors", "experiments"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The default experiment run (20,000 samples) with its report, in a project copy, built once a session with its
    figures rasterised (the browser and figure tests read them). Tests leave it as it is: one that writes a report
    again writes it into a copy."""
    root = _project(tmp_path_factory.mktemp("report"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(document, "png", RASTERISE)
        code = main(["run", str(root / "experiments" / "search_cost.toml"), "--samples", "20000", "--sobol-n", "2048",
                     "--out", str(root / "outputs")])
    assert code == 0
    return root / "outputs" / "search_cost"


@pytest.fixture(scope="session")
def built_posterior(built, tmp_path_factory):
    """The session's run calibrated to one observed figure (the example's searches in 2022), with the posterior's
    report (figures drawn), in a copy of the project: its calibration folder."""
    root = tmp_path_factory.mktemp("posterior")
    shutil.copytree(built.parent.parent, root, dirs_exist_ok=True)
    shutil.copytree(ROOT / "examples", root / "examples", dirs_exist_ok=True)
    observations = root / "examples" / "calibration" / "searches_2022.toml"
    experiment, out = root / "experiments" / "search_cost.toml", root / "outputs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(document, "png", RASTERISE)
        assert main(["calibrate", str(experiment), "--observations", str(observations), "--out", str(out)]) == 0
        assert main(["report", str(experiment), "--posterior", "--sobol-n", "1024", "--out", str(out)]) == 0
    return out / "search_cost" / "calibration"
