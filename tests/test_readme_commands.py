"""Every command the README shows runs: extracted from the README itself, run at small sample counts.

Commands are the ``sim ...`` lines of its fenced blocks and its inline code
spans that are whole commands (synopses with placeholders such as
``EXPERIMENT``, ``[--samples N]`` or ``...`` are left out). Each runs in a
fresh copy of the project; a command that reads a saved run gets one first.
Sample counts are cut to 2,000 (Sobol' designs to 64 base samples; reports are
built by the main job, ``sim run``, and ``sim report`` alone, without their
sensitivity section) so the whole set runs in about a minute; the numbers the README prints are checked at
its own sample counts by the slow tests below and in ``test_readme.py``.
"""

import re
import shlex
import shutil

import pytest

from sim.cli import main

from . import browser
from .helpers import ROOT
from .test_units import formula_experiment

README = (ROOT / "README.md").read_text()
SMALL = 2000
#: Commands the README shows failing, with the exit status it shows (a one-line error).
FAILING = {"sim validate experiments/u.toml": 2, "sim run nope": 2}


def _commands() -> list[str]:
    found = []
    for block in re.findall(r"```\w*\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"^\$ ", "", line.strip())
            if re.match(r"(\.venv/bin/)?sim( |$)", line):
                found.append(line)
    prose = re.sub(r"```.*?```", "", README, flags=re.S)
    for ticks, span in re.findall(r"(`+)(.+?)\1", prose, flags=re.S):
        span = " ".join(span.strip("` ").split())
        span = re.sub(r"^run `|` first$", "", span)  # ``run `sim run ...` first``: a command inside a quote
        if re.match(r"(python -m )?sim( |$)", span):
            found.append(span)
    whole = [c for c in found if not re.search(r"\[|\.\.\.|\b[A-Z][A-Z_]+\b|host:", c)]
    return list(dict.fromkeys(re.sub(r"^(\.venv/bin/|python -m )", "", c) for c in whole))


COMMANDS = _commands()


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 20 and "sim run" in COMMANDS and "sim decide" in COMMANDS


def _small(argv: list[str]) -> list[str]:
    """``argv`` at small sample counts: --samples at most 2,000, Sobol' designs of 64, reports without sensitivity."""
    argv = list(argv)
    if argv[0] == "run" and "--precision" not in argv:
        if "--samples" in argv:
            i = argv.index("--samples") + 1
            argv[i] = str(min(int(argv[i]), SMALL))
        else:
            argv += ["--samples", str(SMALL)]
    if argv[0] == "run" and argv != ["run", "--samples", str(SMALL)]:
        argv += ["--no-report"]  # the report is tested on its own; the main job (bare `sim run`) builds it here
    if argv[0] in ("run", "report") and "--no-report" not in argv:
        argv += ["--no-sensitivity"]  # so is its sensitivity section
    if argv[0] == "sensitivity" and "--sobol-n" not in argv:
        argv += ["--sobol-n", "64"]
    return argv


def _experiment(argv: list[str]) -> str | None:
    positional = [a for a in argv[1:] if not a.startswith("-")]
    first = argv[1] if len(argv) > 1 else ""
    return positional[0] if positional and not first.startswith("-") else None


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs(command, tmp_path, monkeypatch, capsys):
    for folder in ("experiments", "priors", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    formula_experiment(tmp_path, "tokens_per_query * price_per_ktoken", "USD/query")  # what `sim validate` reads
    argv = shlex.split(command)[1:]
    if argv and argv[0] == "explore" and "--posterior" in argv:  # its calibration first
        experiment = _experiment(argv)
        assert main(["run", experiment, "--samples", str(SMALL), "--no-report"]) == 0
        assert main(["calibrate", experiment, "--observations", "examples/calibration/observations.toml"]) == 0
    if argv and argv[0] == "explore":  # a server: started, its address read, stopped with Ctrl-C
        served = browser.Served(tmp_path, *argv[1:], *([] if "--samples" in argv else ["--samples", str(SMALL)]),
                                env={"BROWSER": "true"})  # --open hands the URL to `true`
        code, out, err = served.stop()
        assert served.url.startswith("http://127.0.0.1:") and code == 0 and "Traceback" not in err, err
        return
    if argv and (argv[0] in ("decide", "sensitivity", "report", "calibrate", "export") or "--posterior" in argv):
        experiment = _experiment(argv)  # they read a saved run: make one
        assert main(["run", *([experiment] if experiment else []), "--samples", str(SMALL), "--no-report"]) == 0
        if "--posterior" in argv:  # and its calibration, to the example's figures
            assert main(["calibrate", *([experiment] if experiment else []), "--observations",
                         "examples/calibration/observations.toml"]) == 0
    code = main(_small(argv)) if argv else main([])
    err = capsys.readouterr().err
    if not argv:  # bare `sim`: the usage error
        assert code == 2
    else:
        assert code == FAILING.get(command, 0), err


def _python_blocks(section: str) -> list[str]:
    text = README[README.index(f"## {section}"):]
    text = text[:text.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_python_api_blocks_run(tmp_path, monkeypatch):
    """The README's Python API, one function per command and the pieces below them, runs as shown (in a project
    copy, where `store.write_run` writes)."""
    for folder in ("experiments", "priors", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks("Python API")
    assert len(blocks) == 2
    names: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), names)  # the README's own example code, as a reader runs it
    assert (tmp_path / "outputs" / "search_cost" / "samples.nc").is_file()
    assert names["s"].results["tornado"]["swing"].sizes["input"] == 15
    assert 0 < names["w"].results()["pairs"][("cost_per_query", "revenue_per_query")]["p_loss"] \
        .sel(architecture="two_stage").item() < 1
    assert names["c"].method == "importance" and names["c"].posterior.attrs["effective_samples"] == names["c"].ess
    assert names["f"].prior.ppf(0.5) == pytest.approx(5.0)
