"""Finding models: by name (sim's own, or an installed package's entry point), from a module, from a file.

An experiment names its model as

* ``model = "search"``: one of sim's models, or one an installed package
  offers through the entry-point group ``sim.models``;
* ``model = "package.module:name"``: a :class:`~._base.Model` importable
  from the Python path;
* ``model = { file = "my_model.py", name = "agent_task" }``: a Python file,
  relative to the experiment file.

A Python model is code and runs as any import does; formulas
(:mod:`.formula`) are never executed. :func:`user_code` sets, for the code
inside it, whether a Python model an experiment names is imported at all
(``sim validate --no-import`` checks everything else without it) and whether
a model file may be given by an absolute path outside the experiment's folder
(refused unless the user opts in, with ``allow_outside=True`` or
``SIM_ALLOW_OUTSIDE_MODELS=1``).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import importlib
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path

from .. import _checks as check
from ..errors import ConfigError, Location, ModelError, SimError
from ._base import Model

__all__ = ["ENTRY_POINT_GROUP", "get_model", "available", "load_reference", "load_origin", "user_code",
           "OUTSIDE_VARIABLE"]

ENTRY_POINT_GROUP = "sim.models"
#: The environment variable that, set to 1, lets an experiment name a model file outside its own folder.
OUTSIDE_VARIABLE = "SIM_ALLOW_OUTSIDE_MODELS"
_POLICY: contextvars.ContextVar[tuple[bool, bool]] = contextvars.ContextVar("sim_user_code", default=(True, False))


@contextlib.contextmanager
def user_code(*, run: bool = True, allow_outside: bool = False):
    """Inside it, a Python model (a module or a file an experiment names) is imported only if ``run``, and a model
    file given by an absolute path outside the experiment's folder is loaded only if ``allow_outside`` (or
    ``SIM_ALLOW_OUTSIDE_MODELS=1``).

    Without ``run``, such a model loads as a stand-in with no inputs and no outputs, so that everything else an
    experiment holds can be checked without running anyone's code.
    """
    token = _POLICY.set((run, allow_outside))
    try:
        yield
    finally:
        _POLICY.reset(token)


def _unimported(reference: str) -> Model:
    """The stand-in for a Python model that is not to be imported: no inputs, no outputs, nothing to run."""
    return Model(name=reference, description="a Python model, not imported", inputs=(), outputs={},
                 evaluate=lambda **kwargs: {}, origin=("unimported", reference))


_REFERENCE = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")


def _entry_points():
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _builtin() -> dict[str, Model]:
    from . import MODELS

    return MODELS


def _checked(obj, what: str, file: str, key: str) -> Model:
    if not isinstance(obj, Model):
        kind = "a function" if callable(obj) else type(obj).__name__
        raise ConfigError(file, key, f"{what} is {kind}, not a model; declare it with @sim.model(outputs={{...}}) "
                                     "over a function of keyword arguments")
    return obj


_LIBRARY = (str(Path(__file__).resolve().parents[1]), "site-packages", "dist-packages", "importlib",
            str(Path(traceback.__file__).parent))


def _failure(exc: BaseException) -> str:
    """``ZeroDivisionError: division by zero (my_model.py, line 3)``: the innermost frame of the user's code (not
    of sim, the standard library or an installed package, where there is one)."""
    frames = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in frames if not any(part in f.filename for part in _LIBRARY)] or frames
    where = f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}{where}"


def get_model(name: str, *, file: str = "", key: str = "model") -> Model:
    """sim's model called ``name``, or the one an installed package offers under that name."""
    builtin = _builtin()
    if name in builtin:
        return builtin[name]
    points = _entry_points()
    if name in points:
        try:
            obj = points[name].load()
        except Exception as exc:  # noqa: BLE001 - a package's import may fail in any way
            raise ConfigError(file, key, f"the model {name!r} offered by entry point {points[name].value!r} "
                                         f"failed to load: {_failure(exc)}") from None
        found = _checked(obj, f"entry point {points[name].value!r}", file, key)
        return dataclasses.replace(_with_origin(found, ("entry_point", name)), name=name)
    valid = ", ".join(sorted(builtin) + sorted(points))
    raise ConfigError(file, key, f"unknown model {name!r}; valid: {valid}, \"package.module:name\", "
                                 "{ file = \"model.py\", name = \"...\" }, or formulas under [model.outputs]")


def available() -> dict[str, Model]:
    """Every model known by name: sim's own, then those of installed packages (skipping any that fail to load)."""
    found = dict(_builtin())
    for name in sorted(_entry_points()):
        if name not in found:
            try:
                found[name] = get_model(name)
            except SimError:
                continue
    return found


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _with_origin(found: Model, origin: tuple) -> Model:
    """A user's model (not sim's own) with where it was loaded from, its evaluation guarded (:func:`_guarded`)."""
    found = found if found.origin == origin else dataclasses.replace(found, origin=origin)
    if found.source == "sim" or getattr(found.evaluate, "guarded", False):
        return found
    return dataclasses.replace(found, evaluate=_guarded(found))


def _guarded(found: Model):
    """``found.evaluate``, whose failures are one line each: an exception inside the user's code names its file
    and line; a result that is not a table of the declared outputs is named as what it is."""
    evaluate, where = found.evaluate, f"model {found.name!r} ({found.source})"

    def guarded(**inputs):
        try:
            result = evaluate(**inputs)
        except SimError:
            raise
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's code may fail in any way, exit included
            if type(exc).__module__.split(".")[0] == "pint":  # a unit mismatch: the unit check says which
                raise
            raise ModelError(f"{where} failed while evaluating: {_failure(exc)}") from None
        if not isinstance(result, Mapping):
            raise ModelError(f"{where} returned {type(result).__name__}; a model returns a dict of its outputs by "
                             f"name: {', '.join(found.outputs)}")
        return result

    guarded.guarded = True
    return guarded


def _attribute(module, path: str):
    obj = module
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _models_in(module) -> list[str]:
    return sorted(k for k, v in vars(module).items() if isinstance(v, Model))


def _import_file(path: Path, file: str, key: str, *, check_only: bool = False):
    """Import a Python file as a module of its own (named by its path's hash, so two files never collide); with
    ``check_only``, only check that it is a Python file that exists."""
    try:
        found = path.is_file()
    except OSError as exc:
        raise ConfigError(file, key, f"cannot open model file {str(path)!r}: {exc.strerror}") from None
    if not found:
        raise ConfigError(file, key, f"model file {str(path)!r} not found")
    if path.suffix != ".py":
        raise ConfigError(file, key, f"model file {str(path)!r} must be a Python file ending in .py")
    if check_only:
        return None
    resolved = path.resolve()
    module_name = "sim_user_model_" + hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's file may fail in any way
        del sys.modules[module_name]
        raise ConfigError(file, key, f"model file {str(path)!r} failed to import: {_failure(exc)}") from None
    return module


def load_reference(value, *, file: str, base_dir: Path) -> tuple[Model, list[Path]]:
    """The model an experiment's ``model`` key names (a name, a module path, or a file table).

    Returns
    -------
    (Model, files)
        ``files``: the Python file the model was read from, if any (for the run's record).
    """
    if isinstance(value, str):
        if ":" not in value:
            return get_model(value, file=file), []
        if not _REFERENCE.fullmatch(value):
            raise ConfigError(file, "model", f"{value!r} is not a module reference; write \"package.module:name\"")
        if not _POLICY.get()[0]:
            return _unimported(value), []
        module_name, attr = value.split(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - any import failure is the same problem for the user
            raise ConfigError(file, "model", f"cannot import {module_name!r} for model {value!r}: "
                                             f"{_failure(exc)}") from None
        try:
            obj = _attribute(module, attr)
        except AttributeError:
            raise ConfigError(file, "model", f"module {module_name!r} has no {attr!r}; models in it: "
                                             f"{', '.join(_models_in(module)) or 'none'}") from None
        found = _with_origin(_checked(obj, f"{value!r}", file, "model"), ("module", value))
        source = getattr(module, "__file__", None)
        if found.source != "sim" and source and Path(source).is_file():
            found = dataclasses.replace(found, digest=_sha256(Path(source)))
        return found, []
    if isinstance(value, dict) and "file" in value:
        check.keys(value, ("file", "name"), Location(file, "model"), "key for a model file")
        path, name = value["file"], value.get("name")
        if not isinstance(path, str) or not path:
            raise ConfigError(file, "model.file", f"must be a path to a Python file, got {path!r}")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise ConfigError(file, "model.name", f"must name the model in {path!r} (a Python name), got {name!r}")
        full = Path(base_dir) / path
        run, outside = _POLICY.get()
        far = Path(path).is_absolute() and not Path(os.path.normpath(path)).is_relative_to(
            Path(base_dir).absolute())  # an absolute path elsewhere: code the experiment's folder does not carry
        if far and not (outside or os.environ.get(OUTSIDE_VARIABLE) == "1"):
            raise ConfigError(file, "model.file", f"model file {path!r} is an absolute path outside the experiment's "
                                                  f"folder; sim runs such a file's code only if you opt in: set "
                                                  f"{OUTSIDE_VARIABLE}=1, or give a path relative to the experiment")
        if not run:
            _import_file(full, file, "model.file", check_only=True)
            return _unimported(f"{path}:{name}"), [full]
        module = _import_file(full, file, "model.file")
        if not hasattr(module, name):
            raise ConfigError(file, "model.name", f"{path!r} has no {name!r}; models in it: "
                                                  f"{', '.join(_models_in(module)) or 'none'}")
        obj = _checked(getattr(module, name), f"{name!r} in {path!r}", file, "model.name")
        found = _with_origin(obj, ("file", str(full.resolve()), name))
        return dataclasses.replace(found, digest=_sha256(full)), [full]
    raise ConfigError(file, "model", f"must be a model name, \"package.module:name\", a table "
                                     f"{{ file = \"model.py\", name = \"...\" }}, or formulas under [model.outputs]; "
                                     f"got {value!r}")


def load_origin(origin: tuple) -> Model:
    """The model an ``origin`` tuple describes (see :class:`~._base.Model`), in this process."""
    kind = origin[0]
    if kind == "entry_point" or kind == "sim":
        return get_model(origin[1])
    if kind == "module":
        return load_reference(origin[1], file="", base_dir=Path("."))[0]
    if kind == "file":  # a model the experiment was allowed to load, loaded again in this process
        with user_code(allow_outside=True):
            return load_reference({"file": origin[1], "name": origin[2]}, file="", base_dir=Path("/"))[0]
    if kind == "formula":
        from .formula import formula_model

        return formula_model(origin[2], file=origin[1])
    raise ValueError(f"unknown model origin {origin!r}")
