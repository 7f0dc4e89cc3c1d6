"""The package's layout: imports go one way, no cycles, no private names across modules, thin front ends.

Each layer may import the layers above it, never those below (the README's
architecture paragraph shows the same list, and ``../shared/DESIGN.md`` the
same flow, with ``api`` added between the studies and the views)::

    errors, _version, _files, _checks, units, progress, memory, _parallel   shared helpers
    models          equations with units and roles (a leaf)
    priors          prior specs, their forms and files
    catalogue       catalogues as data
    sampling        uniforms through ppf
    experiment      the experiment file
    observations    observed figures and their likelihoods
    engine          draw, evaluate, label
    store           the run folder
    analysis        Datasets in, Datasets out
    studies         designs that evaluate the model again; the suites of each command
    api             one function per command
    report          views: text, tables, figures, documents
    explorer        the what-if page (a front end)
    cli             the command line (a front end)

Lazy imports (inside functions) count like any other.
"""

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sim"
LAYERS = [("errors", "_version", "_files", "_checks", "units", "progress", "memory", "_parallel"), ("models",), ("priors",),
          ("catalogue",), ("sampling",), ("experiment",), ("observations",), ("engine",), ("store",), ("export",), ("analysis",),
          ("studies",), ("api",), ("report",), ("explorer",), ("cli",), ("__init__", "__main__")]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}
MODULES = sorted(PACKAGE.rglob("*.py"))
#: Libraries of numerical code: the command line imports none of them.
NUMERICAL = {"numpy", "scipy", "xarray", "pandas"}


def _name(path: Path) -> str:
    """``sim.report.build`` for sim/report/build.py; ``sim.report`` for its __init__.py."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _component(module: str) -> str:
    """The layer a module belongs to: ``report`` for sim.report.build, ``__init__`` for sim itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


NAMES = {_name(p) for p in MODULES}


def _resolve(target: str) -> str:
    """The sim module ``target`` names: itself where it is one, else the module that defines the name."""
    while target not in NAMES and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def _imports(path: Path):
    """(line, module, names) of every import of a sim module in ``path``, at any depth (lazy imports included);
    ``names`` are the names taken from it (empty for ``import sim.x``)."""
    here = _name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "sim":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in NAMES:  # from . import analysis: the module itself
                    yield node.lineno, sub, ()
                else:
                    yield node.lineno, _resolve(target), (alias.name,)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sim":
                    yield node.lineno, _resolve(alias.name), ()


def _third_party(path: Path) -> set[str]:
    """The top-level packages outside sim that ``path`` imports."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out - {"sim"}


def test_every_module_has_a_layer():
    components = {_component(_name(p)) for p in MODULES}
    assert components <= set(RANK), components - set(RANK)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_one_way(path):
    me = _component(_name(path))
    upward = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} (layer {RANK[_component(target)]}, below "
              f"{me}'s {RANK[me]})" for line, target, _ in _imports(path)
              if RANK[_component(target)] > RANK[me]]
    assert upward == []


def test_no_import_cycle():
    """No module reaches itself through its imports (a package's own __init__ re-exporting its modules, and a
    module reading its package's constants, are one package, not a cycle)."""
    graph = defaultdict(set)
    for path in MODULES:
        me = _name(path)
        for _, target, _ in _imports(path):
            if target.startswith(me + ".") or me.startswith(target + "."):  # within one package
                continue
            graph[me].add(target)
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(NAMES):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_is_imported_from_another_module(path):
    """A name that starts with an underscore stays in its module: not imported, not read as ``module._name``."""
    me = _name(path)
    found = [f"{line}: {target}.{name}" for line, target, names in _imports(path) for name in names
             if target != me and name.startswith("_") and not name.startswith("__")]
    tree = ast.parse(path.read_text())
    modules = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
               for a in node.names
               if (isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("sim")))
               or a.name.startswith("sim.")}
    found += [f"{node.lineno}: {node.value.id}.{node.attr}" for node in ast.walk(tree)
              if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
              and node.attr.startswith("_") and not node.attr.startswith("__")]
    assert found == []


def test_analysis_never_runs_the_model_or_writes_files():
    """analysis/ reads Datasets: it imports neither the engine nor the store, and opens no file."""
    for path in (PACKAGE / "analysis").rglob("*.py"):
        targets = {_component(t) for _, t, _ in _imports(path)}
        assert not targets & {"engine", "store", "studies", "api", "report"}, path
        text = path.read_text()
        assert "to_netcdf" not in text and "open(" not in text and "to_csv" not in text, path


def test_studies_and_the_library_write_no_files():
    for path in [*(PACKAGE / "studies").rglob("*.py"), PACKAGE / "api.py"]:
        text = path.read_text()
        assert "to_netcdf" not in text and "to_csv" not in text, path
        assert "store" not in {_component(t) for _, t, _ in _imports(path)}, path


def test_the_report_and_the_explorer_never_run_the_model():
    """report/ renders results it is given and explorer/ calls the library: neither imports the studies or the
    engine, which evaluate the model."""
    for path in [*(PACKAGE / "report").rglob("*.py"), *(PACKAGE / "explorer").rglob("*.py")]:
        assert not {_component(t) for _, t, _ in _imports(path)} & {"studies", "engine"}, path


def test_the_command_line_holds_no_numerical_code():
    """cli/ parses, calls the library, has the store write and prints views: it imports no numerical library and
    no part of sim that computes (the library's functions are sim.api's)."""
    for path in (PACKAGE / "cli").rglob("*.py"):
        assert not _third_party(path) & NUMERICAL, path
        computing = {_component(t) for _, t, _ in _imports(path)} & {"analysis", "studies", "engine", "sampling"}
        assert not computing, (path, computing)


def test_only_the_store_names_the_run_folders_files():
    """The files of a run folder are spelled in sim/store.py alone."""
    names = re.compile(r"[\"'](samples\.nc|summary\.nc|summary\.csv|run\.json|report\.html|report\.md|inputs|figures|"
                       r"tables)[\"']")
    spelled = [f"{p.relative_to(PACKAGE)}:{i}" for p in MODULES if p.name != "store.py"
               for i, line in enumerate(p.read_text().splitlines(), 1) if names.search(line)]
    assert spelled == []


def test_long_modules_say_why():
    """A module of over 400 lines says in its docstring why it is long."""
    unsaid = [str(p.relative_to(PACKAGE)) for p in MODULES if len(p.read_text().splitlines()) > 400
              and "long because" not in (ast.get_docstring(ast.parse(p.read_text())) or "")]
    assert unsaid == []


def test_configuration_is_data_only():
    """No code path evaluates or unpickles anything a file holds; formulas are parsed, never run as code.

    The one exception is by design: an experiment may name a Python model (a module or a ``.py`` file), which
    is imported like any code the user chose to run, and only in ``sim/models/user.py``.
    """
    banned = re.compile(r"(?<![.\w])(eval|exec|compile|__import__)\(|\bpickle\b|import_module|spec_from_file_location"
                        r"|exec_module|\bmarshal\b|\bshelve\b|yaml\.load\b|allow_pickle=True")
    hits = [f"{p.relative_to(PACKAGE.parent)}:{i}: {line.strip()}" for p in MODULES
            for i, line in enumerate(p.read_text().splitlines(), 1) if banned.search(line)]
    user_models = [h for h in hits if h.startswith("sim/models/user.py:")]
    assert [h for h in hits if h not in user_models] == []
    assert len(user_models) == 3  # import_module for "package.module:name"; a .py file's spec and exec_module
