"""The README's "Your own model" section: its commands run and print what it shows; its excerpts are the files."""

import re
import shlex
import shutil

import pytest

from sim.cli import main

from .conftest import ROOT
from .test_units import formula_experiment

README = (ROOT / "README.md").read_text()
SECTION = README[README.index("## Your own model"):README.index("## What the default experiment says")]


def blocks(kind: str) -> list[list[str]]:
    """The section's fenced blocks of ``kind`` as lists of lines."""
    return [b.splitlines() for b in re.findall(rf"```{kind}\n(.*?)```", SECTION, flags=re.S)]


def test_section_has_its_examples():
    assert len(blocks("console")) == 3 and len(blocks("toml")) >= 3 and len(blocks("python")) == 1


@pytest.mark.parametrize("block", blocks("console"), ids=lambda b: b[0][2:40])
def test_readme_console_blocks_are_what_the_commands_print(block, tmp_path, monkeypatch, capsys):
    for folder in ("experiments", "priors", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    formula_experiment(tmp_path, "tokens_per_query * price_per_ktoken", "USD/query")  # the file `sim validate` reads
    command, expected = block[0], [line.rstrip() for line in block[1:] if line != "..."]
    assert command.startswith("$ sim ")
    main(shlex.split(command)[2:])
    printed = [line.rstrip() for line in "\n".join(capsys.readouterr()).splitlines()]
    positions = [printed.index(line) for line in expected]  # every line the README shows was printed ...
    assert positions == sorted(positions)                   # ... in that order


def test_readme_excerpts_are_the_shipped_files():
    def missing(excerpt, path):
        lines = (ROOT / path).read_text().splitlines()
        return [line for line in excerpt if line.strip() not in ("", "...") and line not in lines]

    assert missing(blocks("toml")[0], "experiments/agent_task.toml") == []
    assert missing(blocks("python")[0], "examples/user_model/support_bot.py") == []
    without_comments = [line.split("   #")[0] for line in blocks("toml")[1]]
    assert missing(without_comments, "examples/user_model/experiment.toml") == []
