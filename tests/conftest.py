import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def with_prior(text: str, name: str, body: str) -> str:
    """A priors file's ``text`` with the table ``[priors.<name>]`` (up to the next table) replaced by ``body``."""
    start = text.index(f"[priors.{name}]")
    end = text.index("\n[", start) + 1
    return text[:start] + f"[priors.{name}]\n{body}\n\n" + text[end:]


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


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def one_line_error(capsys, args) -> str:
    """Run ``sim ARGS`` in process; it must fail with exit status 2 and one line on stderr, no traceback."""
    from sim.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()
