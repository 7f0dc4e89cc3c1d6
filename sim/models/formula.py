"""Models written as formulas in an experiment file, for users who do not write Python.

::

    [model]
    name = "agent_task"                      # default: the experiment file's name
    description = "An agentic coding task"

    [model.constants]
    tokens_per_mtoken = { value = 1e6, units = "token/Mtoken" }

    [model.outputs.cost_per_task]
    formula = "calls_per_task * tokens_per_call * price_per_mtoken / tokens_per_mtoken"
    units = "USD/task"
    role = "cost"

A formula may use priors, other outputs (in any order, without cycles),
constants, numbers, ``+ - * / **``, comparisons (``< <= > >= == !=``, giving
1 or 0), ``&`` and ``|`` between comparisons, and the functions in
:data:`FUNCTIONS`. It is parsed with :mod:`ast`, every node checked against
that list, and compiled into a tree of numpy and xarray calls on arrays:
nothing is passed to ``eval`` or ``exec``. Numbers carry no units, so a unit
conversion is a constant with units, checked like any input.

The module is long because it is a small language: parsing, checking every node against an allow
list, resolving names and units, and evaluating, each with its own one-line messages.
"""

from __future__ import annotations

import ast
import hashlib
import json
import operator
import re
import warnings
from collections.abc import Callable

import numpy as np
import xarray as xr

from .. import _checks as check
from ..errors import ConfigError, Location
from ._base import ROLES, Constant, Model, Output

__all__ = ["formula_model", "FUNCTIONS", "MAX_LENGTH", "MAX_DEPTH"]

#: Longest formula accepted, in characters.
MAX_LENGTH = 2000
#: Deepest nesting of operations accepted.
MAX_DEPTH = 100
MODEL_KEYS = ("name", "description", "outputs", "constants")
OUTPUT_KEYS = ("formula", "units", "role", "long_name")
CONSTANT_KEYS = ("value", "units", "note")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _clip(x, low, high):
    return np.minimum(np.maximum(x, low), high)


def _where(condition, x, y):
    return xr.where(condition, x, y)


#: Functions a formula may call, with their number of arguments.
#: The dim of a cash flow's periods (``[sweep] period``), along which ``cumsum`` and ``total`` work.
PERIOD = "period"


def _along_periods(name: str, reduce: Callable) -> Callable:
    def along(x):
        if not isinstance(x, xr.DataArray) or PERIOD not in x.dims:
            raise ValueError(f"works along the {PERIOD} dim ([sweep] {PERIOD} = [first, last]), and its argument has "
                             "none")
        return reduce(x)

    return along


FUNCTIONS: dict[str, tuple[Callable, int]] = {
    "cumsum": (_along_periods("cumsum", lambda x: x.cumsum(PERIOD, skipna=False)), 1),
    "total": (_along_periods("total", lambda x: x.sum(PERIOD, skipna=False)), 1),
    "minimum": (np.minimum, 2), "maximum": (np.maximum, 2), "where": (_where, 3), "clip": (_clip, 3),
    "exp": (np.exp, 1), "log": (np.log, 1), "log10": (np.log10, 1), "log2": (np.log2, 1), "sqrt": (np.sqrt, 1),
    "ceil": (np.ceil, 1), "floor": (np.floor, 1), "abs": (np.abs, 1), "round": (np.round, 1),
}

_BINARY = {ast.Add: (operator.add, "+"), ast.Sub: (operator.sub, "-"), ast.Mult: (operator.mul, "*"),
           ast.Div: (operator.truediv, "/"), ast.Pow: (operator.pow, "**"), ast.BitAnd: (operator.and_, "&"),
           ast.BitOr: (operator.or_, "|")}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
#: Operations whose argument (for ``**``, the exponent) must be a pure number, not one in a unit such as month/year.
_PURE_NUMBERS = {"**", "exp", "log", "log10", "log2"}
#: Operations whose operands must be in the same unit (not merely of the same kind).
_SAME_UNITS = {"+", "-", "<", "<=", ">", ">=", "==", "!=", "minimum", "maximum", "where", "clip"}

_SYMBOLS = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitXor: "^",
            ast.Not: "not", ast.Invert: "~", ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
_REFUSED = {
    ast.Attribute: "attribute access (x.y)", ast.Subscript: "subscripts (x[i])", ast.Lambda: "lambda",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.List: "lists", ast.Tuple: "tuples", ast.Dict: "dicts", ast.Set: "sets",
    ast.IfExp: "conditional expressions (use where(condition, a, b))", ast.NamedExpr: "assignments (:=)",
    ast.JoinedStr: "strings", ast.FormattedValue: "strings", ast.Starred: "starred arguments",
    ast.BoolOp: "and/or (use & and | between comparisons, or where)", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "slices",
}


class _Where:
    """Where a node sits in the formula, for messages."""

    def __init__(self, file: str, key: str, text: str):
        self.file, self.key, self.text = file, key, text

    def error(self, node, message: str) -> ConfigError:
        col = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", None) or col + 1
        snippet = self.text[col:end] if end - col <= 40 else self.text[col:col + 37] + "..."
        return ConfigError(self.file, self.key, f"{message} at position {col + 1} ({snippet!r})")


def _parse(text, where: _Where) -> ast.Expression:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(where.file, where.key, f"must be a formula such as \"a * b / 1000\", got {text!r}")
    if len(text) > MAX_LENGTH:
        raise ConfigError(where.file, where.key, f"is {len(text):,} characters long; at most {MAX_LENGTH:,}")
    text = text.replace("\r", " ").replace("\n", " ").strip()  # a long formula may span lines: one expression
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning on odd literals: the tree is checked anyway
            tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        reason = (exc.msg or "invalid syntax").split(" (")[0]
        raise ConfigError(where.file, where.key, f"syntax error at position {exc.offset or 1}: {reason}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ConfigError(where.file, where.key, f"nested too deeply to read; at most {MAX_DEPTH} levels") from None
    where.text = text
    return tree


def _check_tree(tree: ast.Expression, where: _Where) -> list[tuple[str, ast.Name]]:
    """Every node checked against the allowed list (iteratively); the names used, in order."""
    names: list[tuple[str, ast.Name]] = []
    stack = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise where.error(node, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise where.error(node, f"{type(node.value).__name__} values are not allowed, only numbers")
            continue
        if isinstance(node, ast.Name):
            if "__" in node.id:
                raise where.error(node, f"the name {node.id!r} is not allowed (names with double underscores)")
            if node.id in FUNCTIONS:
                raise where.error(node, f"{node.id} is a function; call it as {node.id}(...)")
            names.append((node.id, node))
            continue
        children = []
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            children = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            children = [node.operand]
        elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            children = [node.left, *node.comparators]
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                raise where.error(node.func, "attribute access (x.y) not allowed in a formula")
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise where.error(node, f"{called!r} is not a function formulas may call; valid: "
                                        f"{', '.join(FUNCTIONS)}")
            if node.keywords:
                raise where.error(node, f"{node.func.id}() takes positional arguments only")
            arity = FUNCTIONS[node.func.id][1]
            if len(node.args) != arity:
                raise where.error(node, f"{node.func.id}() takes {arity} argument{'s' * (arity > 1)}, "
                                        f"got {len(node.args)}")
            children = list(node.args)
        else:
            if isinstance(node, ast.Compare):
                bad = next(op for op in node.ops if type(op) not in _COMPARE)
                what = f"the operator {_SYMBOLS.get(type(bad), type(bad).__name__)}"
            elif isinstance(node, (ast.BinOp, ast.UnaryOp)):
                what = f"the operator {_SYMBOLS.get(type(node.op), type(node.op).__name__)}"
            else:
                what = _REFUSED.get(type(node), type(node).__name__)
            raise where.error(node, f"{what} not allowed in a formula")
        stack.extend((c, depth + 1) for c in children)
    return names


# --------------------------------------------------------------------------
# compiling a checked tree into closures


def _fold(value, where: _Where, node) -> np.float64:
    with np.errstate(all="raise"):
        try:
            v = np.float64(value)
        except (OverflowError, FloatingPointError):
            raise where.error(node, "the number overflows") from None
    if not np.isfinite(v):
        raise where.error(node, "the number is not finite")
    return v


class _Constant:
    def __init__(self, value):
        self.value = value


def _units_guard(name: str, where: _Where, node, func):
    """``func`` that, on pint quantities, turns unit errors into one line at ``node``."""
    import pint

    from ..units import data_of, factor, format_units

    def guarded(*args):
        if name in _PURE_NUMBERS:  # an exponent, or the argument of exp and log: computed on bare numbers as written
            for a in args[-1:] if name == "**" else args:
                u = data_of(a).units if isinstance(data_of(a), pint.Quantity) else None
                scale = factor(u, "dimensionless") if u is not None else None
                if scale is not None and scale != 1.0:
                    raise where.error(node, f"{name} of a number in {format_units(u)} (1 {format_units(u)} is "
                                            f"{scale:.6g}): the bare number would be used as it is; convert it to a "
                                            "pure number first")
        if name in _SAME_UNITS:
            units = [data_of(a).units for a in args if isinstance(data_of(a), pint.Quantity)]
            for u in units[1:]:
                scale = factor(u, units[0])  # None for units of different kinds: the operation names that below
                if scale is not None and scale != 1.0:
                    raise where.error(node, f"{name} on {format_units(units[0])} and {format_units(u)}: the numbers "
                                            "would be combined as they are; convert one of them first")
        try:
            return func(*args)
        except pint.DimensionalityError:
            shown = [format_units(data_of(a).units) if isinstance(data_of(a), pint.Quantity) else "a number" for a in args]
            what = f"{name} of {' and '.join(shown)}" if name not in ("+", "-", "*", "/", "**") else \
                f"{shown[0]} {name} {shown[-1]}"
            raise where.error(node, f"{what}: the units do not fit") from None
        except (pint.PintError, ValueError, TypeError) as exc:
            described = " and ".join(_described(a) for a in args)
            if name in ("&", "|"):
                raise where.error(node, f"{name} combines conditions (comparisons such as a > b), not "
                                        f"{described}") from None
            if name in _COMPARISONS:
                raise where.error(node, f"{name} compares {described}: give the number in the same unit, as a "
                                        "constant ([model.constants]) or a prior") from None
            raise where.error(node, f"{name}: {' '.join(str(exc).split())}") from None

    return guarded


_COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


def _described(value) -> str:
    """What a formula operand is, for a message: a quantity in its unit, a condition, or a bare number."""
    import pint

    from ..units import data_of, format_units

    data = data_of(value)
    if isinstance(data, pint.Quantity):
        return f"a quantity in {format_units(data.units)}"
    return "a condition" if np.asarray(data).dtype == bool else "a bare number"


def _compile(node, where: _Where, check: bool):
    """A closure ``env -> value`` for ``node``; constant subtrees are folded (and checked) here."""

    def wrap(name, func):
        return _units_guard(name, where, node, func) if check else func

    if isinstance(node, ast.Constant):
        return _Constant(_fold(node.value, where, node))
    if isinstance(node, ast.Name):
        key = node.id
        return lambda env: env[key]
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand, where, check)
        op = _UNARY[type(node.op)]
        if isinstance(operand, _Constant):
            return _Constant(_fold(op(operand.value), where, node))
        f = wrap("-" if isinstance(node.op, ast.USub) else "+", op)
        return lambda env: f(operand(env))
    if isinstance(node, ast.BinOp):
        left = _compile(node.left, where, check)
        right = _compile(node.right, where, check)
        op, symbol = _BINARY[type(node.op)]
        if isinstance(left, _Constant) and isinstance(right, _Constant):
            with np.errstate(all="raise"):
                try:
                    return _Constant(_fold(op(left.value, right.value), where, node))
                except TypeError:  # & and | of two numbers
                    raise where.error(node, f"{symbol} combines conditions (comparisons such as a > b), not "
                                            "numbers") from None
                except (FloatingPointError, ZeroDivisionError, OverflowError):
                    raise where.error(node, "this arithmetic on numbers overflows or divides by zero") from None
        f = wrap(symbol, op)
        lf, rf = _evaluator(left), _evaluator(right)
        return lambda env: f(lf(env), rf(env))
    if isinstance(node, ast.Compare):
        parts = [_evaluator(_compile(n, where, check)) for n in [node.left, *node.comparators]]
        ops = [wrap({ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}[type(o)],
                    _COMPARE[type(o)]) for o in node.ops]

        def compare(env):
            values = [p(env) for p in parts]
            result = ops[0](values[0], values[1])
            for op, a, b in zip(ops[1:], values[1:], values[2:]):
                result = result & op(a, b)
            return result

        return compare
    if isinstance(node, ast.Call):
        name = node.func.id
        args = [_evaluator(_compile(a, where, check)) for a in node.args]
        f = wrap(name, FUNCTIONS[name][0])
        if len(args) == 1:
            (a0,) = args
            return lambda env: f(a0(env))
        return lambda env: f(*(a(env) for a in args))
    raise where.error(node, f"{type(node).__name__} not allowed in a formula")  # unreachable: checked before


def _evaluator(compiled):
    if isinstance(compiled, _Constant):
        value = compiled.value
        return lambda env: value
    return compiled


# --------------------------------------------------------------------------
# the model


def _order(dependencies: dict[str, list[str]], file: str) -> list[str]:
    """Outputs in an order that evaluates each after those it uses (declaration order where free)."""
    order, state = [], {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name):] + [name]
            raise ConfigError(file, f"model.outputs.{cycle[0]}.formula",
                              f"a cycle between outputs: {' -> '.join(cycle)}")
        state[name] = "visiting"
        for dep in dependencies[name]:
            visit(dep, path + [name])
        state[name] = "done"
        order.append(name)

    for name in dependencies:
        visit(name, [])
    return order


def _name(file: str, key: str, name, reserved=FUNCTIONS) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or "__" in name:
        raise ConfigError(file, key, f"{name!r} is not a valid name; use letters, digits and '_', starting with a "
                                     "letter, without double underscores")
    if name in reserved:
        raise ConfigError(file, key, f"{name!r} is a formula function; choose another name")
    return name


def _constants(file: str, table) -> dict[str, Constant]:
    if not isinstance(table, dict):
        raise ConfigError(file, "model.constants", f"must be a table of name = {{ value = ..., units = \"...\" }}, "
                                                   f"got {table!r}")
    out = {}
    for name, spec in table.items():
        key = f"model.constants.{name}"
        _name(file, key, name)
        if not isinstance(spec, dict) or "value" not in spec or "units" not in spec:
            raise ConfigError(file, key, f"must be {{ value = <number>, units = \"...\" }}, got {spec!r}")
        check.keys(spec, CONSTANT_KEYS, Location(file, key))
        value = spec["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(float(value)):
            raise ConfigError(file, f"{key}.value", f"must be a finite number, got {value!r}")
        if not isinstance(spec["units"], str):
            raise ConfigError(file, f"{key}.units", f"must be unit text such as \"token/Mtoken\", got {spec['units']!r}")
        out[name] = Constant(float(value), spec["units"])
    return out


def formula_model(table, *, file: str, default_name: str = "") -> Model:
    """A :class:`~._base.Model` from an experiment's ``[model]`` table of formulas.

    Raises
    ------
    ConfigError
        One line naming the file, the key (``model.outputs.<name>.formula``)
        and, for a formula, the position of the problem.
    """
    if not isinstance(table, dict):
        raise ConfigError(file, "model", f"must be a table with [model.outputs.NAME] formulas, got {table!r}")
    check.keys(table, MODEL_KEYS, Location(file, "model"), "key for a formula model")
    name = table.get("name", default_name)
    _name(file, "model.name", name, reserved=())  # a model may share a function's name
    description = table.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(file, "model.description", f"must be text, got {description!r}")
    constants = _constants(file, table.get("constants", {}))
    outputs_table = table.get("outputs")
    if not isinstance(outputs_table, dict) or not outputs_table:
        raise ConfigError(file, "model.outputs", "must hold at least one [model.outputs.NAME] table with a formula, "
                                                 "units and an optional role")
    outputs: dict[str, Output] = {}
    trees: dict[str, tuple[ast.Expression, _Where]] = {}
    uses: dict[str, list[tuple[str, ast.Name]]] = {}
    for out_name, spec in outputs_table.items():
        key = f"model.outputs.{out_name}"
        _name(file, key, out_name)
        if out_name in constants:
            raise ConfigError(file, key, f"{out_name!r} is also a constant; give outputs and constants distinct names")
        if not isinstance(spec, dict):
            raise ConfigError(file, key, f"must be a table with formula, units and an optional role, got {spec!r}")
        check.keys(spec, OUTPUT_KEYS, Location(file, key))
        for k in ("formula", "units"):
            if k not in spec:
                raise ConfigError(file, f"{key}.{k}", "missing; every output needs a formula and units")
        if not isinstance(spec["units"], str):
            raise ConfigError(file, f"{key}.units", f"must be unit text such as \"USD/task\", got {spec['units']!r}")
        role = spec.get("role")
        if role is not None and role not in ROLES:
            raise ConfigError(file, f"{key}.role", f"unknown role {role!r}; {check.choices(role, ROLES)} (or leave it out)")
        long_name = spec.get("long_name", out_name.replace("_", " "))
        if not isinstance(long_name, str):
            raise ConfigError(file, f"{key}.long_name", f"must be text, got {long_name!r}")
        outputs[out_name] = Output(spec["units"], long_name, role)
        where = _Where(file, f"{key}.formula", spec["formula"] if isinstance(spec["formula"], str) else "")
        tree = _parse(spec["formula"], where)
        uses[out_name] = _check_tree(tree, where)
        trees[out_name] = (tree, where)

    dependencies = {o: list(dict.fromkeys(n for n, _ in uses[o] if n in outputs)) for o in outputs}
    order = _order(dependencies, file)
    first_use: dict[str, tuple[str, ast.Name]] = {}
    for o in outputs:
        for n, node in uses[o]:
            if n not in outputs and n not in constants:
                first_use.setdefault(n, (o, node))
    numeric = {o: _evaluator(_compile(trees[o][0].body, trees[o][1], False)) for o in outputs}
    checked = {o: _evaluator(_compile(trees[o][0].body, trees[o][1], True)) for o in outputs}

    def run(closures, kwargs):
        env = {**constants, **kwargs}
        for o in order:
            value = closures[o](env)
            if not isinstance(value, xr.DataArray):
                value = xr.DataArray(value)
            if value.dtype == bool:
                value = value.astype(float)
            env[o] = value
        return {o: env[o] for o in outputs}

    def evaluate(**kwargs):
        with np.errstate(all="ignore"):
            return run(numeric, kwargs)

    def evaluate_units(**kwargs):
        return run(checked, kwargs)

    full = {**table, "name": name}
    digest = hashlib.sha256(json.dumps(full, sort_keys=True, default=str).encode()).hexdigest()
    return Model(name=name, description=description or f"formulas in {file}", inputs=tuple(first_use),
                 outputs=outputs, evaluate=evaluate, constants=constants, origin=("formula", file, full),
                 digest=digest, formula=True, evaluate_units=evaluate_units,
                 input_uses={n: (o, node.col_offset + 1) for n, (o, node) in first_use.items()},
                 depends={o: tuple(dict.fromkeys(n for n, _ in uses[o] if n not in constants)) for o in outputs})
