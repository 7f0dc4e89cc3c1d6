"""Priors files (sim.priors.files): what a prior table may hold, and the one-line errors for what it may not."""

import re

import numpy as np
import pytest

from sim.cli import main
from sim.errors import ConfigError
from sim.priors import load_priors

from ..helpers import ROOT, one_line_error, with_prior, write


@pytest.mark.parametrize("table, message", [
    ('dist = "normal"\nmean = 0.02\nsd = 0.01',
     r"priors\.api_price_per_1k_tokens: a quantity in 'USD/1k tokens' cannot be negative, but the normal prior's "
     r"support is \[-inf, inf\]; truncate it at 0, for example truncate = \[0, inf\], or set allow_negative = true"),
    ('dist = "uniform"\nlow = -0.01\nhigh = 0.03',
     r"cannot be negative, but the uniform prior's support is \[-0\.01, 0\.03\]; truncate it at 0"),
    ('dist = "choice"\nvalues = [-0.01, 0.02]',
     r"cannot be negative, but the choice prior's support is \[-0\.01, 0\.02\]; give it nonnegative values"),
])
def test_impossible_values_are_refused_at_validation(project, capsys, table, message):
    path = project / "priors" / "seed_2023.toml"
    text = path.read_text()
    path.write_text(with_prior(text, "api_price_per_1k_tokens",
                               f'{table}\npoint = 0.02\nunit = "USD/1k tokens"\nnote = "n"'))
    assert re.search(message, one_line_error(capsys, ["validate", str(path)]))
    # the fixes the message names are accepted
    for fix in ("truncate = [0, inf]", "allow_negative = true"):
        if "choice" in table and fix.startswith("truncate"):
            continue
        path.write_text(with_prior(text, "api_price_per_1k_tokens",
                                   f'{table}\n{fix}\npoint = 0.02\nunit = "USD/1k tokens"\nnote = "n"'))
        assert main(["validate", str(path)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("name", ["os", "__class__", "rv_continuous", "binom", "poisson", "_lazywhere", "norm.ppf"])
def test_scipy_escape_hatch_takes_only_continuous_distributions(project, capsys, name):
    write(project / "priors" / "extra.toml", f'[priors.x]\ndist = "scipy"\nname = "{name}"\npoint = 1\nunit = "1"\n'
                                             'note = "n"\n')
    err = one_line_error(capsys, ["validate", "priors/extra.toml"])
    assert f"priors.x.name: {name!r} is not a scipy.stats continuous distribution" in err


GOOD_PRIOR = 'dist = "fixed"\npoint = 1\nunit = "1"\nnote = "n"\n'
BAD_PRIORS = [
    ("[priors.x\ndist = 1", r"^priors/extra\.toml: TOML syntax error: "),
    ("[priors.x]\ndist = \"weibull\"\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"^priors/extra\.toml: priors\.x\.dist: unknown distribution 'weibull'; valid: fixed, uniform"),
    ("[priors.x]\ndist = \"normal\"\nmean = 1\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x: a normal prior takes \(mean, sd\) or \(ci90\); got \(mean\)"),
    ("[priors.x]\ndist = \"uniform\"\nlow = 0\nhigh = 2\nmode = 1\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.mode: unknown key for a uniform prior; valid: allow_negative, high, long_name, low"),
    ("[priors.x]\ndist = \"normal\"\nmean = 1\nsd = 0\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.sd: must be > 0, got 0"),
    ("[priors.x]\ndist = \"uniform\"\nlow = 3\nhigh = 2\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.high: must be greater than low \(3\), got 2"),
    ("[priors.x]\ndist = \"normal\"\nci90 = [3, 2]\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.ci90: must be increasing \(low < high\), got \[3, 2\]"),
    ("[priors.x]\ndist = \"lognormal\"\nci90 = [-1, 2]\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.ci90: lognormal bounds must be > 0, got \[-1, 2\]"),
    ("[priors.x]\ndist = \"beta\"\nci90 = [0.2, 1.5]\npoint = 0.5\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.ci90: must be inside \(0, 1\) for a beta prior, got 1\.5"),
    ("[priors.x]\ndist = \"choice\"\nvalues = [1, 2]\nweights = [0, 0]\npoint = 1\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.weights: weights must be >= 0 with a positive sum, got \[0, 0\]"),
    ("[priors.x]\ndist = \"fixed\"\npoint = nan\nunit = \"1\"\nnote = \"n\"\n",
     r"priors/extra\.toml: priors\.x\.point: must be a finite number, got nan"),
    ("title = 3\n[priors.x]\n" + GOOD_PRIOR, r"priors/extra\.toml: title: must be a string, got 3"),
    ("[prior.x]\n" + GOOD_PRIOR, r"priors/extra\.toml: prior: unknown top-level key; did you mean 'priors'\?$"),
    ("[x.y]\n" + GOOD_PRIOR, r"priors/extra\.toml: x: unknown top-level key; valid: title, description, priors"),
]


@pytest.mark.parametrize("priors_text, match", BAD_PRIORS)
def test_bad_priors_file(project, priors_text, match):
    """Each problem of a priors file, one message naming the file and the key."""
    write(project / "priors" / "extra.toml", priors_text)
    with pytest.raises(ConfigError, match=match):
        load_priors("priors/extra.toml")


@pytest.mark.parametrize("line, match", [
    ('dist = "beta"\nci90 = [0.30, 0.55]\npoint = 0.462', None),
    ('dist = "fixed"\npoint = 1.5', r"priors\.mfu_training: unit 'fraction' needs values in \[0, 1\], but the fixed "
                                    r"prior's support is \[1\.5, 1\.5\]; give it values in \[0, 1\]"),
    ('dist = "normal"\nmean = 0.4\nsd = 0.1\npoint = 0.4', r"priors\.mfu_training: unit 'fraction' needs values in "
                                                        r"\[0, 1\], but the normal prior's support is \[-inf, inf\]"),
])
def test_mfu_outside_unit_interval_rejected(project, line, match):
    path = project / "priors" / "compute_2023.toml"
    path.write_text(with_prior(path.read_text(), "mfu_training", f'{line}\nunit = "fraction"\nnote = "n"'))
    if match is None:
        assert load_priors(path)["mfu_training"].unit == "fraction"
    else:
        with pytest.raises(ConfigError, match=match):
            load_priors(path)


def _one_line(text: str, name: str, line: str) -> str:
    """A priors file's ``text`` with the table ``[priors.<name>]`` replaced by ``name = "<line>"`` under a
    ``[priors]`` table at the top (one-line and table forms mixed in one file)."""
    start = text.index(f"[priors.{name}]")
    end = text.index("\n[", start) + 1
    rest = text[:start] + text[end:]
    if "[priors]\n" in rest:
        return rest.replace("[priors]\n", f'[priors]\n{name} = "{line}"\n', 1)
    first = rest.index("[priors.")
    return rest[:first] + f'[priors]\n{name} = "{line}"\n\n' + rest[first:]


def test_a_one_line_prior_draws_the_same_samples_as_its_table(project):
    """``"lognormal 8 to 80 calls/task"`` is the table ``dist = "lognormal", ci90 = [8, 80]`` with its median as
    point: the run's samples are equal to the last bit, and only the point (the median, not the file's 25) moves."""
    import sim

    path = project / "priors" / "agent_task_2026.toml"
    table = sim.run(sim.load_experiment("experiments/agent_task.toml"), samples=2000, seed=5)
    text = _one_line(path.read_text(), "calls_per_task", "lognormal 8 to 80 calls/task")
    path.write_text(_one_line(text, "reasoning_share", "beta 0.1 to 0.7 fraction"))
    priors = load_priors(path)
    assert priors["calls_per_task"].describe() == "lognormal(ci90=[8, 80])"
    assert priors["calls_per_task"].point == pytest.approx((8 * 80) ** 0.5, rel=1e-12)  # a lognormal's median
    assert priors["reasoning_share"].point == priors["reasoning_share"].median()
    line = sim.run(sim.load_experiment("experiments/agent_task.toml"), samples=2000, seed=5)
    for name in table.data_vars:
        assert np.array_equal(table[name].values, line[name].values, equal_nan=True), name


def test_one_line_forms_and_sources(project):
    write(project / "priors" / "extra.toml", '[priors]\nshare = "uniform 0.1 to 0.4 fraction"\n'
                                             'wpt = "fixed 0.75 word/token"\nspan = "loguniform 1e3 to 1_000_000 s"\n'
                                             'gap = "normal -2 to 2 USD"\n\n[sources]\nwpt = "SPEC section 1"\n')
    with pytest.raises(ConfigError, match=r"priors\.gap: a quantity in 'USD' cannot be negative"):
        load_priors("priors/extra.toml")
    path = project / "priors" / "extra.toml"
    path.write_text(path.read_text().replace('gap = "normal -2 to 2 USD"\n', ""))
    priors = load_priors(path)
    assert priors["share"].table() == {"dist": "uniform", "low": 0.1, "high": 0.4, "point": 0.25}
    assert (priors["wpt"].dist, priors["wpt"].point, priors["wpt"].unit) == ("fixed", 0.75, "word/token")
    assert priors["span"].table() == {"dist": "loguniform", "low": 1e3, "high": 1e6, "point": pytest.approx(10 ** 4.5)}
    assert priors["wpt"].source == "SPEC section 1" and priors["share"].source == priors["share"].note == ""


ONE_LINE_ERRORS = [
    ('x = "lognormal 2000 30000 token"', r"priors\.x: 'lognormal 2000 30000 token': a lognormal prior in one line is "
                                         r"lognormal LOW to HIGH UNIT, for example"),
    ('x = "lognorml 1 to 2 s"', r"priors\.x: 'lognorml 1 to 2 s': unknown form 'lognorml'; did you mean 'lognormal'\?$"),
    ('x = "pert 1 to 2 s"', r"priors\.x: 'pert 1 to 2 s': a pert prior has no one-line form; give it as a table"),
    ('x = "fixed 1 to 2 s"', r"priors\.x: 'fixed 1 to 2 s': a fixed prior in one line is fixed VALUE UNIT"),
    ('x = "lognormal 1 to 2"', r"priors\.x: 'lognormal 1 to 2': the unit is missing at the end"),
    ('x = "lognormal 30 to 2 s"', r"priors\.x: 'lognormal 30 to 2 s': must be increasing \(low < high\), got \[30, 2\]$"),
    ('x = "beta 0.2 to 1.5 fraction"', r"priors\.x: 'beta 0.2 to 1.5 fraction': must be inside \(0, 1\)"),
    ('x = "normal 1__0 to 2 s"', r"priors\.x: 'normal 1__0 to 2 s': a number is misspelt"),
    ('x = "2 to 3 s"', r"priors\.x: '2 to 3 s' is not a one-line prior: FORM LOW to HIGH UNIT"),
    ('x = 5', r"priors\.x: must be a table with a 'dist' key or one line such as"),
    ('x = "fixed 1 s"\n[sources]\ny = "a"', r"sources\.y: no prior named 'y' in this file; valid: x$"),
    ('x = "fixed 1 s"\n[sources]\nx = 3', r"sources\.x: must be a string, got 3"),
]


@pytest.mark.parametrize("text, match", ONE_LINE_ERRORS)
def test_a_malformed_one_line_prior_is_one_line(project, capsys, text, match):
    """Each malformed one-line prior: one line naming the file and the prior, quoting what was written."""
    write(project / "priors" / "extra.toml", f"[priors]\n{text}\n")
    err = one_line_error(capsys, ["validate", "priors/extra.toml"])
    assert re.search(r"^sim: error: priors/extra\.toml: " + match, err), err


def test_a_source_given_twice_is_refused(project):
    write(project / "priors" / "extra.toml", f'[priors.x]\n{GOOD_PRIOR}source = "a"\n\n[sources]\nx = "b"\n')
    with pytest.raises(ConfigError, match=r"priors\.x\.source: given here and in \[sources\]; keep one$"):
        load_priors("priors/extra.toml")


def test_a_scenario_changes_a_prior_in_one_line_keeping_its_unit(project):
    import sim

    path = project / "experiments" / "agent_task.toml"
    path.write_text(path.read_text() + '\n[scenarios.many_calls.priors]\ncalls_per_task = "lognormal 40 to 400"\n')
    experiment = sim.load_experiment(path)
    prior = next(s for s in experiment.scenarios if s.name == "many_calls").priors["calls_per_task"]
    assert (prior.describe(), prior.unit) == ("lognormal(ci90=[40, 400])", "calls/task")
    assert prior.source == experiment.base_priors["calls_per_task"].source  # a change keeps the prior's source


def test_the_report_lists_a_prior_without_a_source_as_having_none(project):
    import sim
    from sim.report.build import _priors_table

    path = project / "priors" / "agent_task_2026.toml"
    path.write_text(_one_line(path.read_text(), "calls_per_task", "lognormal 8 to 80 calls/task"))
    table = _priors_table(sim.load_experiment("experiments/agent_task.toml")).query("scenario == 'all'")
    sources = table.set_index("prior")["source"]
    assert sources["calls_per_task"] == "none given"
    assert sources["reasoning_share"].startswith("Reasoning models produced")


def test_the_readme_one_line_example_reads(tmp_path):
    """The README's example of one-line priors is a valid priors file."""
    block = re.search(r"```toml\n(\[priors\]\n.*?\[sources\].*?)```", (ROOT / "README.md").read_text(), re.S)[1]
    priors = load_priors(write(tmp_path / "p.toml", block))
    assert [p.dist for p in priors.values()] == ["lognormal", "uniform", "fixed"]
    assert priors["input_tokens"].source.startswith("figures.md 9b")
