"""Imports go one way: each layer of the package may import the layers above it, never those below.

The layers, from the leaf to the front ends (the README's architecture
paragraph shows the same list)::

    errors, _version, _files, units, progress   shared helpers
    models                                      equations with units and roles (a leaf)
    priors, catalogue                           reading and validating priors
    sampling                                    uniforms through ppf
    experiment                                  the experiment file
    engine                                      draw, evaluate, label
    store                                       the run folder
    analysis                                    Datasets in, Datasets out
    studies                                     designs that evaluate the model again
    report                                      views: tables, figures, documents
    cli, article, explorer                      front ends
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "sim"
LAYERS = [("errors", "_version", "_files", "units", "progress"), ("models",), ("priors", "catalogue"), ("sampling",),
          ("experiment",), ("engine",), ("store",), ("analysis",), ("studies",), ("report",),
          ("cli", "article", "explorer", "__init__", "__main__")]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _component(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path):
    """(line, component) of every import of a sim module in ``path``, at any depth (lazy imports included)."""
    package = path.relative_to(ROOT.parent).with_suffix("").parts[:-1]  # ("sim", "report") for sim/report/x.py
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
            else:
                target = node.module.split(".")
            if target[0] != "sim":
                continue
            if len(target) == 1:  # from . import analysis, engine
                for alias in node.names:
                    yield node.lineno, alias.name
            else:
                yield node.lineno, target[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sim" and len(parts) > 1:
                    yield node.lineno, parts[1]


def test_every_module_has_a_layer():
    components = {_component(p) for p in ROOT.rglob("*.py")}
    assert components <= set(RANK), components - set(RANK)


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_one_way(path):
    me = _component(path)
    upward = [f"{path.relative_to(ROOT.parent)}:{line} imports sim.{target} (layer {RANK[target]}, below "
              f"{me}'s {RANK[me]})" for line, target in _imports(path) if target in RANK and RANK[target] > RANK[me]]
    assert upward == []


def test_analysis_never_runs_the_model_or_writes_files():
    """analysis/ reads Datasets: it imports neither the engine nor the store, and opens no file."""
    for path in (ROOT / "analysis").rglob("*.py"):
        targets = {t for _, t in _imports(path)}
        assert not targets & {"engine", "store", "studies", "report"}, path
        text = path.read_text()
        assert "to_netcdf" not in text and "open(" not in text and "to_csv" not in text, path


def test_studies_write_no_files():
    for path in (ROOT / "studies").rglob("*.py"):
        text = path.read_text()
        assert "to_netcdf" not in text and "to_csv" not in text and "store" not in {t for _, t in _imports(path)}, path
