"""The reproducibility record of a run: the exact input files, their hashes, and the commands.

Every run folder gets ``inputs/``: a copy of each file the experiment read
(the experiment, its priors files, catalogues), laid out as they were
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

import xarray as xr

from ._files import atomic_path, sha256_file
from .experiment import Experiment

__all__ = ["write_record", "RECORD"]

RECORD = "inputs"


def _run_args(ds: xr.Dataset) -> list[str]:
    return ["--samples", str(ds.attrs["samples"]), "--seed", str(ds.attrs["seed"]), "--sampler", ds.attrs["sampler"]]


def write_record(experiment: Experiment, ds: xr.Dataset, stage: str | os.PathLike, *, final: str | os.PathLike,
                 out: str | os.PathLike = "outputs") -> Path:
    """Copy the experiment's input files into ``stage/inputs`` and write ``record.json``.

    Parameters
    ----------
    stage : path
        The folder being written (it becomes ``final`` when complete).
    final : path
        Where the folder will live, for the commands in the record.
    out : path
        The output root of the run.
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
        "sim_version": ds.attrs["sim_version"],
        "priors_hash": ds.attrs["priors_hash"],
        "created": ds.attrs["created"],
        "command": shlex.join(["sim", "run", ds.attrs["experiment_file"], *_run_args(ds),
                               *(["--out", str(out)] if Path(out) != Path("outputs") else [])]),
        "command_from_record": shlex.join(["sim", "run", str(copied), *_run_args(ds), "--out", "OUT"]),
        "files": entries,
    }
    with atomic_path(folder / "record.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return folder / "record.json"
