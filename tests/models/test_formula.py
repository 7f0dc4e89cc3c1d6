"""Formula models: parsed with ast against a whitelist, compiled to array operations, never run as code."""

import json
import pickle
import re

import numpy as np
import pytest
import xarray as xr

import sim
from sim.models.formula import MAX_DEPTH, MAX_LENGTH

from ..helpers import ROOT, one_line_error, write

PRIORS = """
[priors.a]
dist = "lognormal"
ci90 = [1, 4]
point = 2
unit = "1"
note = "n"

[priors.b]
dist = "uniform"
low = 0.5
high = 3
point = 1
unit = "1"
note = "n"

[priors.steps]
dist = "fixed"
point = 20
unit = "calls/task"
note = "n"
"""


def experiment(project, outputs: dict, constants: str = "", name: str = "f") -> str:
    """An experiment file with formula outputs {name: formula} (units 1, no role) over priors a, b, steps."""
    write(project / "priors" / "f.toml", PRIORS)
    body = "".join(f"\n[model.outputs.{k}]\nformula = {json.dumps(v)}\nunits = \"1\"\n" for k, v in outputs.items())
    write(project / "experiments" / f"{name}.toml",
          f'priors = ["../priors/f.toml"]\nsamples = 64\n{constants}\n{body}')
    return f"experiments/{name}.toml"



def test_agent_task_point_mode_is_the_arithmetic_by_hand():
    exp = sim.load_experiment(ROOT / "experiments" / "agent_task.toml")
    p = sim.point(exp).sel(scenario="subscription")
    calls, first, last, out_per_call, reasoning_share, reasoning_per_call = 25, 8000, 32000, 500, 0.3, 1500
    price_in, ratio, hit, cached, success = 1.25, 8, 0.8, 0.1, 0.65
    input_tokens = calls * (first + last) / 2
    input_cost = input_tokens * price_in * (1 - hit + hit * cached) / 1e6
    output_cost = calls * (out_per_call + reasoning_share * reasoning_per_call) * price_in * ratio / 1e6
    # the formulas do the same operations in the same order, so the numbers agree to rounding
    assert p["input_tokens_per_task"].item() == input_tokens == 500_000
    assert p["input_cost_per_task"].item() == pytest.approx(input_cost, rel=1e-15)
    assert p["cost_per_task"].item() == pytest.approx(input_cost + output_cost, rel=1e-15)
    assert p["cost_per_task"].item() == pytest.approx(0.4125, rel=1e-12)  # $0.175 input + $0.2375 output
    assert p["cost_per_successful_task"].item() == pytest.approx(0.4125 / success, rel=1e-12)
    assert p["revenue_per_task"].item() == pytest.approx(20 / 80, rel=1e-15)
    # without reasoning the output is the visible tokens alone: $0.125
    assert sim.point(exp).sel(scenario="no_reasoning")["output_cost_per_task"].item() == pytest.approx(0.125, rel=1e-12)
    assert exp.model.comparisons == (("cost_per_task", "revenue_per_task"),)
    assert exp.model.with_role("volume") == ["monthly_tasks"]


def test_functions_comparisons_and_output_order(project):
    path = experiment(project, {
        "later": "earlier * 2",   # outputs may use outputs declared after them
        "earlier": "minimum(a, b) + maximum(a, b)",
        "picked": "where(a > b, a, b)",
        "clipped": "clip(a, 1.5, 2.5)",
        "funcs": "exp(log(a)) + sqrt(b ** 2) + ceil(b) - floor(b) + abs(-a) + round(a) + log10(a) + log2(b)",
        "flags": "(a > b) & (b > 1) | (a == 2)",
        "chained": "1 < a < 3",
    })
    exp = sim.load_experiment(path)
    ds = sim.run(exp, samples=4096, seed=3)
    a, b = ds["a"].values, ds["b"].values
    np.testing.assert_array_equal(ds["earlier"].values.ravel(), np.minimum(a, b) + np.maximum(a, b))
    np.testing.assert_array_equal(ds["later"].values.ravel(), (np.minimum(a, b) + np.maximum(a, b)) * 2)
    np.testing.assert_array_equal(ds["picked"].values.ravel(), np.where(a > b, a, b))
    np.testing.assert_array_equal(ds["clipped"].values.ravel(), np.clip(a, 1.5, 2.5))
    expect = (np.exp(np.log(a)) + np.sqrt(b**2) + np.ceil(b) - np.floor(b) + np.abs(-a) + np.round(a) + np.log10(a)
              + np.log2(b))
    np.testing.assert_array_equal(ds["funcs"].values.ravel(), expect)
    # comparisons give 1 or 0, so a mean is a probability
    np.testing.assert_array_equal(ds["flags"].values.ravel(), ((a > b) & (b > 1) | (a == 2)).astype(float))
    np.testing.assert_array_equal(ds["chained"].values.ravel(), ((1 < a) & (a < 3)).astype(float))
    assert list(exp.model.outputs) == ["later", "earlier", "picked", "clipped", "funcs", "flags", "chained"]


def test_formula_model_survives_pickling_and_streams(project):
    """A formula model pickles by its source (how Dask sends it to workers) and gives the same numbers."""
    from sim.studies.stream import stream_summary

    exp = sim.load_experiment(ROOT / "experiments" / "agent_task.toml")
    again = pickle.loads(pickle.dumps(exp))
    a, b = sim.run(exp, samples=2048, seed=1), sim.run(again, samples=2048, seed=1)
    np.testing.assert_array_equal(a["cost_per_task"].values, b["cost_per_task"].values)
    streamed = stream_summary(sim.with_overrides(exp, scenarios=["subscription"]), samples=2048, seed=1)
    mean = float(streamed["cost_per_task"].sel(scenario="subscription", stat="mean"))
    assert mean == pytest.approx(float(a["cost_per_task"].sel(scenario="subscription").mean()), rel=1e-12)


def test_cycle_between_outputs(project, capsys):
    path = experiment(project, {"x": "a + y", "y": "z * 2", "z": "x / 3"})
    assert one_line_error(capsys, ["validate", path]) == \
        f"sim: error: {path}: model.outputs.x.formula: a cycle between outputs: x -> y -> z -> x"


def test_unknown_name_names_its_position_and_the_valid_names(project, capsys):
    path = experiment(project, {"x": "a * stpes"})
    assert one_line_error(capsys, ["validate", path]) == (
        f"sim: error: {path}: model.outputs.x.formula: unknown name 'stpes' at position 5: not a prior of "
        f"priors/f.toml, an output or a constant; valid: a, b, steps, x")


def test_syntax_error_names_its_position(project, capsys):
    path = experiment(project, {"x": "a * (b + "})
    assert one_line_error(capsys, ["validate", path]) == \
        f"sim: error: {path}: model.outputs.x.formula: syntax error at position 5: '(' was never closed"


@pytest.mark.parametrize("table, message", [
    ('[model.outputs.x]\nunits = "1"\n', "model.outputs.x.formula: missing; every output needs a formula and units"),
    ('[model.outputs.x]\nformula = "a"\nunits = "1"\nrole = "profit"\n',
     "model.outputs.x.role: unknown role 'profit'; valid: cost, revenue, volume (or leave it out)"),
    ('[model.outputs.x]\nformula = "a"\nunits = "1"\ncolour = "red"\n',
     "model.outputs.x.colour: unknown key; valid: formula, units, role, long_name"),
    ('[model.outputs.exp]\nformula = "a"\nunits = "1"\n', "model.outputs.exp: 'exp' is a formula function; choose another name"),
    ('[model.outputs.__x]\nformula = "a"\nunits = "1"\n', "model.outputs.__x: '__x' is not a valid name"),
    ('[model]\noutputs = {}\n', "model.outputs: must hold at least one [model.outputs.NAME] table"),
    ('[model.constants]\nk = 3\n[model.outputs.x]\nformula = "a"\nunits = "1"\n',
     "model.constants.k: must be { value = <number>, units = \"...\" }, got 3"),
    ('[model]\nscript = "x"\n[model.outputs.x]\nformula = "a"\nunits = "1"\n',
     "model.script: unknown key for a formula model; valid: name, description, outputs, constants"),
])
def test_bad_formula_tables(project, capsys, table, message):
    write(project / "priors" / "f.toml", PRIORS)
    write(project / "experiments" / "t.toml", 'priors = ["../priors/f.toml"]\n' + table)
    err = one_line_error(capsys, ["run", "experiments/t.toml", "--samples", "10"])
    assert err.startswith(f"sim: error: experiments/t.toml: {message}"), err
    assert not (project / "outputs").exists()


HOSTILE = [
    ("__import__('os')", "'__import__' is not a function formulas may call"),
    ("__import__('os').system('touch pwned')", "attribute access (x.y) not allowed"),
    ("().__class__", "attribute access (x.y) not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access (x.y) not allowed"),
    ("a.__class__", "attribute access (x.y) not allowed"),
    ("a.real.imag", "attribute access (x.y) not allowed"),
    ("np.exp(a)", "attribute access (x.y) not allowed"),
    ("open('/etc/passwd')", "'open' is not a function formulas may call"),
    ("eval('1')", "'eval' is not a function formulas may call"),
    ("exec('x = 1')", "'exec' is not a function formulas may call"),
    ("compile('1', 'f', 'eval')", "'compile' is not a function formulas may call"),
    ("globals()", "'globals' is not a function formulas may call"),
    ("getattr(a, 'real')", "'getattr' is not a function formulas may call"),
    ("breakpoint()", "'breakpoint' is not a function formulas may call"),
    ("print(a)", "'print' is not a function formulas may call"),
    ("sum(a)", "'sum' is not a function formulas may call"),
    ("__builtins__", "the name '__builtins__' is not allowed (names with double underscores)"),
    ("__class__ + a", "the name '__class__' is not allowed"),
    ("a[0]", "subscripts (x[i]) not allowed"),
    ("(lambda: 1)()", "is not a function formulas may call"),
    ("lambda: a", "lambda not allowed"),
    ("[x for x in a]", "comprehensions not allowed"),
    ("{k: 1 for k in a}", "comprehensions not allowed"),
    ("(x for x in a)", "comprehensions not allowed"),
    ("{1: 2}", "dicts not allowed"),
    ("(1, 2)", "tuples not allowed"),
    ("[a, b]", "lists not allowed"),
    ("'text'", "str values are not allowed, only numbers"),
    ("b'bytes'", "bytes values are not allowed, only numbers"),
    ("f'{a}'", "strings not allowed"),
    ("True", "bool values are not allowed, only numbers"),
    ("None", "NoneType values are not allowed, only numbers"),
    ("...", "ellipsis values are not allowed, only numbers"),
    ("1j * a", "complex values are not allowed, only numbers"),
    ("a if b else 1", "conditional expressions (use where(condition, a, b)) not allowed"),
    ("(x := a)", "assignments (:=) not allowed"),
    ("a and b", "and/or (use & and | between comparisons, or where) not allowed"),
    ("not a", "the operator not not allowed"),
    ("a % 2", "the operator % not allowed"),
    ("a // 2", "the operator // not allowed"),
    ("a in b", "the operator in not allowed"),
    ("a is b", "the operator is not allowed"),
    ("exp(x=a)", "exp() takes positional arguments only"),
    ("exp(*a)", "starred arguments not allowed"),
    ("exp(a, b)", "exp() takes 1 argument, got 2"),
    ("exp + 1", "exp is a function; call it as exp(...)"),
    ("10 ** 10 ** 10", "this arithmetic on numbers overflows or divides by zero"),
    ("9 ** 9 ** 9 ** 9", "this arithmetic on numbers overflows or divides by zero"),
    ("1 / 0 + a", "this arithmetic on numbers overflows or divides by zero"),
    ("1e999 * a", "the number is not finite"),
    ("1" + "0" * 400 + " * a", "the number overflows"),
    ("import os", "syntax error at position 1"),
    ("a; b", "syntax error"),
    ("a +", "syntax error"),
    ("yield a", "syntax error"),
    ("a + " * 700 + "a", f"characters long; at most {MAX_LENGTH:,}"),
    ("(" * 250 + "a" + ")" * 250, "syntax error"),  # the parser's own limit on nested parentheses
    ("-" * 150 + "a", f"nested more than {MAX_DEPTH} levels deep"),
    ("exp(" * 120 + "a" + ")" * 120, f"nested more than {MAX_DEPTH} levels deep"),
]


@pytest.mark.parametrize("formula, message", HOSTILE, ids=[f"{i:02d}" for i in range(len(HOSTILE))])
def test_hostile_formula_refused_in_one_line(project, capsys, formula, message):
    path = experiment(project, {"x": formula})
    err = one_line_error(capsys, ["run", path, "--samples", "16"])
    assert err.startswith(f"sim: error: {path}: model.outputs.x.formula: "), err
    assert message in err, err
    assert not (project / "outputs").exists()
    assert not (project / "pwned").exists()


def test_hostile_formula_through_the_command_line_process(project):
    """The same refusal from a real process: exit status 2, one line, no traceback."""
    import subprocess
    import sys

    path = experiment(project, {"x": "__import__('os').system('touch pwned')"})
    result = subprocess.run([sys.executable, "-m", "sim", "run", path, "--samples", "16"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert re.fullmatch(r"sim: error: .*attribute access \(x\.y\) not allowed in a formula at position 1 .*\n",
                        result.stderr)
    assert not (project / "pwned").exists() and not (project / "outputs").exists()


def test_a_formula_of_numbers_only_and_a_constant(project):
    path = experiment(project, {"x": "2 ** 10 / k", "y": "x + a * 0"},
                      constants='[model.constants]\nk = { value = 4, units = "1" }\n')
    ds = sim.run(sim.load_experiment(path), samples=8, seed=1)
    assert isinstance(ds["x"], xr.DataArray) and np.all(ds["x"].values == 256.0)


@pytest.mark.parametrize("outputs, constants, message", [
    ({"x": "a * k", "b": "a + 1"}, "", "priors.b: 'b' is a prior here and an output of model"),
    ({"x": "a * b"}, '[model.constants]\nb = { value = 4, units = "1" }\n',
     "priors.b: 'b' is a prior here and a constant of model"),
])
def test_a_prior_named_as_an_output_or_constant_is_refused(project, capsys, outputs, constants, message):
    """The model's own output or constant would take the prior's place without a word: one line naming the prior."""
    if "k" in outputs["x"]:
        constants = '[model.constants]\nk = { value = 4, units = "1" }\n'
    err = one_line_error(capsys, ["validate", experiment(project, outputs, constants)])
    assert f"priors/f.toml: {message}" in err and "rename the prior or the model's" in err, err


@pytest.mark.parametrize("cost_units, revenue_units, message", [
    ("USD/task", "USD/ktask", "1 USD/task is 1000 USD/ktask, and sim compares their numbers as they are"),
    ("USD/task", "USD/query", "they are of different kinds"),
])
def test_cost_and_revenue_in_different_units_are_refused(project, capsys, cost_units, revenue_units, message):
    """P(cost > revenue) compares numbers: a cost per task against a revenue per thousand tasks (or per query)
    would read 0.755 where the truth is about 1. Refused in one line naming the revenue's units."""
    write(project / "priors" / "f.toml", PRIORS)
    write(project / "experiments" / "cr.toml", f'''priors = ["../priors/f.toml"]
samples = 64

[model.outputs.cost]
formula = "a"
units = "{cost_units}"
role = "cost"

[model.outputs.revenue]
formula = "b"
units = "{revenue_units}"
role = "revenue"
''')
    err = one_line_error(capsys, ["run", "experiments/cr.toml"])
    assert f"experiments/cr.toml: model.outputs.revenue.units: cost cost ({cost_units}) is compared with revenue " \
           f"revenue ({revenue_units}) but {message}; declare both in one unit" in err, err
    assert not (project / "outputs").exists()


def test_a_name_ending_in_a_newline_is_refused(project, capsys):
    """An output named "x\\n" (a quoted TOML key): the whole name must be an identifier, not its first line."""
    experiment(project, {"y": "a * b"})
    write(project / "experiments" / "nl.toml", 'priors = ["../priors/f.toml"]\n\n[model.outputs."x\\n"]\n'
                                               'formula = "a * b"\nunits = "1"\n')
    err = one_line_error(capsys, ["validate", "experiments/nl.toml"])
    assert "experiments/nl.toml: model.outputs.x\n" in err or "'x\\n'" in err, err
