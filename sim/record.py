"""The reproducibility record of a run: the exact input files, their hashes, and the commands.

Every run folder gets ``inputs/``: a copy of each file the experiment read
(the experiment, its priors files, catalogues, a Python model file), laid out as they were
relative to one another so the copied experiment runs as it is, and
``inputs/record.json`` with each file's SHA-256 and two commands that give
the same numbers: one from the project folder, one from the copies alone.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

from ._files import atomic_path, sha256_file
from .experiment import Experiment

__all__ = ["write_record", "RECORD"]

RECORD = "inputs"


def _run_args(attrs: dict) -> list[str]:
    """The options that give a run's samples: its settings, then its overrides (``--set``, ``--scenario``)."""
    return ["--samples", str(attrs["samples"]), "--seed", str(attrs["seed"]), "--sampler", attrs["sampler"],
            *shlex.split(attrs.get("run_args", ""))]


def _model_record(experiment: Experiment) -> dict:
    """The model: its name and source; for a user's module, its file and SHA-256 (it is not copied)."""
    import importlib.util

    model = experiment.model
    record = {"name": model.name, "source": model.source}
    if model.digest:
        record["digest"] = model.digest
    if model.origin and model.origin[0] == "module" and model.source != "sim":
        spec = importlib.util.find_spec(model.origin[1].split(":")[0])
        if spec is not None and spec.origin and Path(spec.origin).is_file():
            record |= {"module_file": spec.origin, "module_sha256": sha256_file(spec.origin)}
    return record


def write_record(experiment: Experiment, attrs: dict, stage: str | os.PathLike, *, final: str | os.PathLike,
                 out: str | os.PathLike = "outputs", extra_args: tuple[str, ...] = ()) -> Path:
    """Copy the experiment's input files into ``stage/inputs`` and write ``record.json``.

    Parameters
    ----------
    attrs : dict
        The run's provenance (a run Dataset's ``attrs``): version, priors
        hash, time, experiment file, samples, seed and sampler.
    stage : path
        The folder being written (it becomes ``final`` when complete).
    final : path
        Where the folder will live, for the commands in the record.
    out : path
        The output root of the run.
    extra_args : tuple of str
        Options the commands need besides the run settings (``--stream``).
    """
    files = [Path(f) for f in experiment.files]
    root = Path(os.path.commonpath([f.parent for f in files]))
    folder = Path(stage) / RECORD
    entries = []
    for f in files:
        rel = f.relative_to(root)
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, folder / rel)
        entries.append({"path": rel.as_posix(), "source": str(f), "sha256": sha256_file(folder / rel),
                        "bytes": (folder / rel).stat().st_size})
    copied = Path(final) / RECORD / files[0].relative_to(root)
    record = {
        "experiment": experiment.name,
        "sim_version": attrs["sim_version"],
        "priors_hash": attrs["priors_hash"],
        "created": attrs["created"],
        "model": _model_record(experiment),
        "command": shlex.join(["sim", "run", attrs["experiment_file"], *_run_args(attrs), *extra_args,
                               *(["--out", str(out)] if Path(out) != Path("outputs") else [])]),
        "command_from_record": shlex.join(["sim", "run", str(copied), *_run_args(attrs), *extra_args,
                                           "--out", "OUT"]),
        "files": entries,
    }
    with atomic_path(folder / "record.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return folder / "record.json"
