"""Units: parsed by pint with the project registry, and every model checked against them."""

import re

import pytest

import sim
from sim.cli import main
from sim.errors import ConfigError
from sim.units import factor, format_units, parse

from .helpers import ROOT, one_line_error, write


@pytest.mark.parametrize("text, same_as", [
    ("USD/Mtoken", "1e-6 USD/token"),        # SI prefixes on a project unit
    ("USD/ktoken", "1e-3 USD/token"),
    ("tokens/query", "token/query"),         # plurals
    ("searches/year", "query/year"),         # a search is a query
    ("USD/chip-hour", "USD/(chip*hour)"),    # a hyphen joins one compound unit
    ("chip-seconds/ktoken", "1e-3 chip*s/token"),
    ("kWh", "3600000 J"),
    ("month/year", "1/12"),
    ("GPU", "chip"),
    ("fraction", "1"),
    ("percent", "0.01"),
    ("bytes/s/chip", "8 bit/s/chip"),
])
def test_parse_knows_the_units_of_llm_economics(text, same_as):
    from sim.units import registry

    reg = registry()
    got, want = reg.Quantity(1.0, parse(text)), reg.Quantity(same_as)
    assert got.dimensionality == want.dimensionality
    # to rounding: each definition is a power of ten or an integer factor
    assert got.to(want.units).magnitude == pytest.approx(want.magnitude, rel=1e-12)


def test_unknown_countable_names_become_units_of_their_own():
    documents = parse("USD/documents")
    assert format_units(documents) == "USD/document"
    assert factor("kdocument", "document") == 1000.0          # prefixes work on a new unit
    assert factor("USD/replies", "USD/reply") == 1.0           # irregular plurals
    assert factor("document", "page") is None                  # two new names are two kinds
    assert factor("EUR", "USD") is None                        # another currency is its own kind


@pytest.mark.parametrize("text", ["USD/(1k tokens)", "USD**", "token + query", "1/(", 3])
def test_unreadable_unit_is_one_line_naming_file_and_key(text):
    with pytest.raises(ConfigError, match=r"^f\.toml: priors\.x\.unit: (.* is not a unit sim can read|.* has a number "
                                          r"inside a unit|a unit must be text)"):
        parse(text, file="f.toml", key="priors.x.unit")


@pytest.mark.parametrize("text, message", [
    ("USD/<img src onerror=alert(1)>", "'<=>' cannot be in a unit"),   # markup: never a unit, never shown as HTML
    ('USD/"query"', "'\"' cannot be in a unit"),
    ("token*" * 5_000 + "token", "a unit of 30,005 characters is too long; a unit is at most 200 characters"),
])
def test_markup_and_overlong_units_are_refused_before_parsing(text, message):
    """A unit holds names, powers and * / ^ ( ) only, in at most 200 characters: hostile text is refused before
    pint reads it (pint's parse time grows faster than the text; 30,000 characters took over a minute)."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(text, file="p.toml", key="priors.x.unit")


def test_every_shipped_experiment_passes_the_unit_check():
    """Loading checks the model on units (sim.units.check_model); every shipped experiment loads."""
    for path in sorted((ROOT / "experiments").glob("*.toml")):
        sim.load_experiment(path)
    sim.load_experiment(ROOT / "examples" / "user_model" / "experiment.toml")


# --- mismatches, each pinned ------------------------------------------------------------------------------------

PRIORS = """
[priors.tokens_per_query]
dist = "fixed"
point = 1000
unit = "tokens/query"
note = "n"

[priors.price_per_ktoken]
dist = "fixed"
point = 0.02
unit = "USD/ktoken"
note = "n"

[priors.price_per_mtoken]
dist = "fixed"
point = 2
unit = "USD/Mtoken"
note = "n"

[priors.searches_per_month]
dist = "fixed"
point = 100
unit = "searches/month"
note = "n"

[priors.share]
dist = "fixed"
point = 0.5
unit = "fraction"
note = "n"

[priors.tokens_per_quer]
dist = "fixed"
point = 1000
unit = "tokens/quer"
note = "n"
"""


def formula_experiment(project, formula, units, constants=""):
    write(project / "priors" / "u.toml", PRIORS)
    write(project / "experiments" / "u.toml",
          f'priors = ["../priors/u.toml"]\n{constants}\n[model.outputs.out]\nformula = "{formula}"\nunits = "{units}"\n')
    return "experiments/u.toml"


@pytest.mark.parametrize("formula, units, message", [
    # wrong power
    ("tokens_per_query * tokens_per_query * price_per_ktoken / 1000", "USD/query",
     "formula gives USD*token**2/ktoken/query**2, declared USD/query"),
    # an extra unit left over
    ("tokens_per_query * price_per_mtoken", "USD/query",
     "formula gives USD*token/Mtoken/query, not USD/query: 1 USD*token/Mtoken/query is 1e-06 USD/query"),
    # wrong currency
    ("tokens_per_query * price_per_ktoken", "EUR/query", "formula gives USD*token/ktoken/query, declared EUR/query"),
    # a typo in the declared unit: named, with the close name (a pure fraction never shows in the unit)
    ("tokens_per_query * price_per_ktoken / per_k * share", "USD/quer",
     "formula gives USD/query, declared USD/quer; 'quer' in the declared unit is no unit sim knows: did you mean "
     "'query'?"),
    # a typo in a prior's unit: the output that uses it names the prior
    ("searches_per_month / searches_per_month * price_per_ktoken / per_k * tokens_per_quer", "USD/query",
     "formula gives USD/quer, declared USD/query; 'quer' is no unit sim knows, brought in by tokens_per_quer "
     "(tokens/quer): did you mean 'query'?"),
])
def test_unit_mismatch_messages(project, capsys, formula, units, message):
    path = formula_experiment(project, formula, units, '[model.constants]\nper_k = { value = 1000, units = '
                                                       '"token/ktoken" }\n')
    err = one_line_error(capsys, ["validate", path])
    assert err.startswith(f"sim: error: {path}: model.outputs.out: {message}"), err
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("formula, message", [
    ("where(tokens_per_query > 1, price_per_ktoken, price_per_ktoken)",
     "> compares a quantity in token/query and a bare number: give the number in the same unit, as a constant "
     "([model.constants]) or a prior at position 7 ('tokens_per_query > 1')"),
    ("price_per_ktoken * (tokens_per_query & 2)",
     "& combines conditions (comparisons such as a > b), not a quantity in token/query and a bare number"),
    ("price_per_ktoken * (1 & 2)", "& combines conditions (comparisons such as a > b), not numbers at position 21"),
])
def test_comparisons_and_conditions_with_bare_numbers_say_what_they_meet(project, capsys, formula, message):
    """A comparison of a quantity with a bare number, and & or | on anything but conditions: one line in the
    formula's words, not pint's or numpy's."""
    path = formula_experiment(project, formula, "USD/ktoken")
    err = one_line_error(capsys, ["validate", path])
    assert err.startswith(f"sim: error: {path}: model.outputs.out.formula: {message}"), err


def test_missing_per_1000_is_found_and_the_fix_named(project, capsys):
    """A price per 1,000 tokens times tokens, without the conversion: 1000 times too large."""
    path = formula_experiment(project, "tokens_per_query * price_per_ktoken", "USD/query")
    err = one_line_error(capsys, ["run", path, "--samples", "10"])
    assert err == (f"sim: error: {path}: model.outputs.out: formula gives USD*token/ktoken/query, not USD/query: "
                   "1 USD*token/ktoken/query is 0.001 USD/query, so a unit conversion is missing or written as a bare "
                   "number (numbers carry no units); divide by a constant of 1000 token/ktoken instead")
    # the same conversion written as a bare number is still wrong units: numbers carry none
    path = formula_experiment(project, "tokens_per_query * price_per_ktoken / 1000", "USD/query")
    assert "divide by a constant of 1000 token/ktoken" in one_line_error(capsys, ["validate", path])
    # with the conversion as a constant with units, the model passes and computes 0.02 USD per query
    path = formula_experiment(project, "tokens_per_query * price_per_ktoken / per_k", "USD/query",
                              '[model.constants]\nper_k = { value = 1000, units = "token/ktoken" }\n')
    assert main(["validate", path]) == 0
    assert sim.point(sim.load_experiment(path))["out"].item() == pytest.approx(0.02, rel=1e-15)


def test_a_bare_12_for_months_per_year_is_found(project, capsys):
    path = formula_experiment(project, "searches_per_month * 12", "searches/year")
    assert "multiply by a constant of 12 month/year instead" in one_line_error(capsys, ["validate", path])


def test_adding_one_kind_in_two_units_is_found_at_its_position(project, capsys):
    path = formula_experiment(project, "price_per_ktoken + price_per_mtoken", "USD/ktoken")
    assert one_line_error(capsys, ["validate", path]) == (
        f"sim: error: {path}: model.outputs.out.formula: + on USD/ktoken and USD/Mtoken: the numbers would be combined "
        "as they are; convert one of them first at position 1 ('price_per_ktoken + price_per_mtoken')")


def test_adding_different_kinds_is_found_at_its_position(project, capsys):
    path = formula_experiment(project, "2 * (tokens_per_query + price_per_ktoken)", "USD/query")
    assert one_line_error(capsys, ["validate", path]) == (
        f"sim: error: {path}: model.outputs.out.formula: token/query + USD/ktoken: the units do not fit at "
        "position 6 ('tokens_per_query + price_per_ktoken')")


def test_python_model_mixing_units_is_found(project, capsys):
    """In a Python model the check compares the numbers it computes with pint's values in the declared units."""
    write(project / "mixed.py", "import sim\n\n"
          "@sim.model(outputs={'out': sim.Output('USD/ktoken', 'sum')})\n"
          "def mixed(*, price_per_ktoken, price_per_mtoken):\n"
          "    return {'out': price_per_ktoken + price_per_mtoken}\n")
    write(project / "priors" / "u.toml", PRIORS)
    write(project / "experiments" / "m.toml",
          'priors = ["../priors/u.toml"]\nmodel = { file = "../mixed.py", name = "mixed" }\n')
    assert one_line_error(capsys, ["validate", "experiments/m.toml"]) == (
        "sim: error: experiments/m.toml: model: model 'mixed': output out adds, compares or picks between quantities "
        "of one kind in different units (such as USD/ktoken and USD/Mtoken): the numbers it computes are not "
        "USD/ktoken; convert one of them first")


def test_scenario_giving_a_prior_in_another_scale_is_refused(project, capsys):
    text = (project / "experiments" / "search_cost.toml").read_text()
    write(project / "experiments" / "scaled.toml", text + """
[scenarios.per_million]
description = "A price per million tokens."
[scenarios.per_million.priors.api_price_per_1k_tokens]
dist = "fixed"
point = 20
unit = "USD/Mtoken"
""")
    err = one_line_error(capsys, ["validate", "experiments/scaled.toml"])
    assert re.fullmatch(r"sim: error: experiments/scaled\.toml: scenarios\.per_million\.priors\.api_price_per_1k_tokens"
                        r"\.unit: scenario 'per_million' gives api_price_per_1k_tokens in 'USD/Mtoken', but the model "
                        r"reads it in 'USD/ktoken' \(.*seed_2023\.toml\); give it in 'USD/ktoken'", err), err


def test_unit_check_runs_on_pint_only_at_load():
    """Sampled runs stay plain numpy: a run's inputs and outputs are float arrays, not pint quantities."""
    exp = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    ds = sim.run(exp, samples=16, seed=1)
    assert all(v.dtype.kind == "f" for v in ds.data_vars.values())
