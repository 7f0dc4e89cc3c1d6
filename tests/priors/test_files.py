"""Priors files (sim.priors.files): what a prior table may hold, and the one-line errors for what it may not."""

import re

import pytest

from sim.cli import main
from sim.errors import ConfigError
from sim.priors import load_priors

from ..helpers import one_line_error, with_prior, write


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
