"""Helpers the test modules share: the project's root, files written in a test's project copy, and the command
line run in process."""

from __future__ import annotations

import base64
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: A 1 x 1 PNG: what a figure becomes where figures are not the subject (see conftest's ``_no_rasterising``).
TINY_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def with_prior(text: str, name: str, body: str) -> str:
    """A priors file's ``text`` with the table ``[priors.<name>]`` (up to the next table) replaced by ``body``."""
    start = text.index(f"[priors.{name}]")
    end = text.index("\n[", start) + 1
    return text[:start] + f"[priors.{name}]\n{body}\n\n" + text[end:]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run ``sim ARGS`` in process: the exit status, stdout and stderr."""
    from sim.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, args) -> str:
    """Run ``sim ARGS`` in process; it must fail with exit status 2 and one line on stderr, no traceback."""
    code, out, err = cli(capsys, *args)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


def listing(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes (to show nothing was changed)."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def synthetic_run(inputs: dict, y):
    """A run of one output ``y`` (role output) from drawn ``inputs`` (role input), each of dim ``sample``."""
    import xarray as xr

    ds = xr.Dataset({k: xr.DataArray(v, dims=("sample",), attrs={"role": "input"}) for k, v in inputs.items()})
    ds["y"] = xr.DataArray(y, dims=("sample",), attrs={"role": "output"})
    return ds


def assert_error(capsys, argv, pattern: str) -> None:
    """``sim ARGV`` fails in one line (exit status 2) that matches the regular expression ``pattern``."""
    import re

    err = one_line_error(capsys, argv)
    assert re.search(pattern, err), err


#: The calibration tests' case: x lognormal (median 10, gsd 2) and z uniform on [1, 2]; y = 3 x (the cost) and
#: r = 20 z (the revenue). A lognormal observation of y is the conjugate normal case in logs.
CONJUGATE_PRIORS = """
[priors.x]
dist = "lognormal"
median = 10
gsd = 2
point = 10
unit = "USD"
note = "the prior the observation informs"

[priors.z]
dist = "uniform"
low = 1
high = 2
point = 1.5
unit = "USD"
note = "a prior nothing observes"
"""

CONJUGATE_EXPERIMENT = """
priors = ["priors.toml"]
samples = {samples}
seed = 3
[model.outputs.y]
formula = "3 * x"
units = "USD"
role = "cost"
[model.outputs.r]
formula = "20 * z"
units = "USD"
role = "revenue"
"""


def conjugate_project(folder: Path, samples: int = 4000) -> Path:
    """The calibration tests' priors and experiment (``e.toml``, ``samples`` samples) written in ``folder``."""
    write(folder / "priors.toml", CONJUGATE_PRIORS)
    return write(folder / "e.toml", CONJUGATE_EXPERIMENT.format(samples=samples))


def lognormal_observation(value: float, sd: float, name: str = "seen", output: str = "y") -> str:
    """An observations file of one lognormal figure of ``output`` in USD."""
    return (f'\n[observations.{name}]\noutput = "{output}"\nvalue = {value}\nlikelihood = "lognormal"\nsd = {sd}\n'
            'unit = "USD"\nsource = "a test"\n')
