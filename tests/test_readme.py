"""The README's "Your own model" section: its commands run and print what it shows; its excerpts are the files."""

import re
import shlex
import shutil

import pytest

from sim.cli import main

from .helpers import ROOT
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


@pytest.mark.slow
def test_readme_numbers_of_the_default_experiment_at_its_sample_count(tmp_path, monkeypatch, capsys):
    """The numbers the README quotes for the default experiment (100,000 samples, its seed) are what the commands
    print: the verdict, the decision paragraph and "What the default experiment says", to the digits shown."""
    import pandas as pd

    for folder in ("experiments", "priors"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--no-report"]) == 0
    assert main(["report", "--no-sensitivity"]) == 0
    verdict = next(li for li in (tmp_path / "outputs" / "search_cost" / "report.md").read_text().splitlines()
                   if li.startswith("**baseline, two_stage:**"))
    assert f"  > {verdict}" in README.splitlines()
    capsys.readouterr()
    assert main(["decide", "--select", "scenario=baseline", "--select", "architecture=two_stage"]) == 0
    decision = pd.read_csv(tmp_path / "outputs" / "search_cost" / "decision" / "decision.csv").iloc[0]
    evppi = pd.read_csv(tmp_path / "outputs" / "search_cost" / "decision" / "evppi.csv").iloc[0]
    text = " ".join(README.split())
    assert (f"expected net benefit ${decision.expected_net_benefit:.2g} per query, P(profitable) "
            f"{decision.p_profitable:.2f}, break-even revenue ${decision.breakeven_revenue:.2g} per query") in text
    assert (f"EVPI ${decision.evpi:.3g} per query or ${decision.evpi_per_year / 1e9:.3g} billion per year" in text)
    assert evppi["input"] == "provider_gross_margin" and f"the provider's margin (${evppi.evppi:.2g})" in text
    summary = pd.read_csv(tmp_path / "outputs" / "search_cost" / "summary.csv")
    cost = summary.query("output == 'cost_per_query' and scenario == 'baseline' and architecture == 'two_stage'")
    revenue = summary.query("output == 'revenue_per_query' and scenario == 'baseline'")
    said = (f"costs a median ${cost.p50.item():.2g} per query (90 % interval ${cost.p05.item():.2g} to "
            f"${cost.p95.item():.2g}) against a median revenue of ${revenue.p50.item():.2g} per query, and its cost "
            f"exceeds the revenue in {100 * cost.p_gt_revenue_per_query.item():.0f} % of samples")
    assert said in text, said


def _agrees(shown: str, value: float) -> bool:
    """``value`` rounds to the number ``shown`` at the digits shown."""
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return abs(float(shown) - value) <= 0.5 * 10 ** -decimals + 1e-12


@pytest.mark.slow
def test_readme_sensitivity_table_at_its_sample_count(tmp_path, monkeypatch, capsys):
    """The README's sensitivity table (baseline, two-stage answer, 100,000 samples) is what `sim sensitivity`
    writes, each number to the digits shown."""
    import pandas as pd

    for folder in ("experiments", "priors"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--no-report"]) == 0
    assert main(["sensitivity", "--select", "scenario=baseline", "--select", "architecture=two_stage"]) == 0
    table = pd.read_csv(tmp_path / "outputs" / "search_cost" / "sensitivity" / "sensitivity.csv").set_index("input")
    section = README[README.index("`sim sensitivity` on the default experiment"):]
    section = section[:section.index("\n## ")]  # that section's table, not a later one of as many columns
    rows = re.findall(r"^\| (\w+) \| (\S+) \| (\S+) \| (\S+) \| (\S+) \| (\S+) \|$", section, flags=re.M)
    assert len(rows) == 5
    for prior, *shown in rows:
        values = table.loc[prior, ["rank_correlation", "first_order_given", "first_order", "total_order",
                                   "tornado_swing"]]
        assert all(_agrees(s, v) for s, v in zip(shown, values)), (prior, shown, list(values))
