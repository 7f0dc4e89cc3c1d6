"""Units: every prior's and output's ``unit`` parsed by pint, and models checked against them.

The project registry knows time, energy, money, information and the
countable things of LLM economics (tokens, queries, words, FLOP, chips,
parameters...), with SI and binary prefixes on every unit, so ``USD/Mtoken``
is a price per million tokens. A countable name it does not know
(``document``, ``pages``) becomes a unit of its own, not an error.
``chip-hour`` is read as ``(chip*hour)``.

:func:`check_model` evaluates a model once on pint quantities (every input
at its point value, with its unit) and once on plain numbers, and compares
each output with its declared unit: the dimensions must agree, and the
numbers the model computes must be the values in the declared unit (so a
unit conversion written as a bare number, or a sum of the same kind of
quantity in two units, is found). Sampled runs never touch pint.

pint is imported on first use only.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import warnings

import numpy as np

from .errors import ConfigError, ModelError

__all__ = ["registry", "parse", "format_units", "factor", "check_model", "data_of", "DEFINITIONS"]

#: The project registry's definitions, in pint's syntax (name = definition = symbol = aliases).
DEFINITIONS = """
quecto- = 1e-30 = q-
ronto- = 1e-27 = r-
yocto- = 1e-24 = y-
zepto- = 1e-21 = z-
atto- = 1e-18 = a-
femto- = 1e-15 = f-
pico- = 1e-12 = p-
nano- = 1e-9 = n-
micro- = 1e-6 = u- = µ- = μ-
milli- = 1e-3 = m-
centi- = 1e-2 = c-
deci- = 1e-1 = d-
deca- = 1e1 = da-
hecto- = 1e2 = h-
kilo- = 1e3 = k-
mega- = 1e6 = M-
giga- = 1e9 = G-
tera- = 1e12 = T-
peta- = 1e15 = P-
exa- = 1e18 = E-
zetta- = 1e21 = Z-
yotta- = 1e24 = Y-
ronna- = 1e27 = R-
quetta- = 1e30 = Q-
kibi- = 2**10 = Ki-
mebi- = 2**20 = Mi-
gibi- = 2**30 = Gi-
tebi- = 2**40 = Ti-
pebi- = 2**50 = Pi-
fraction = []
percent = 0.01 * fraction = % = pct
second = [time] = s = sec = seconds
minute = 60 * second = min
hour = 60 * minute = h = hr
day = 24 * hour
week = 7 * day
year = 365 * day = _ = yr = years
month = year / 12
joule = [energy] = J
watt = joule / second = W
watt_hour = watt * hour = Wh
USD = [currency] = _ = dollar = US_dollar
bit = [information]
byte = 8 * bit = B = bytes
nat = 1.4426950408889634 * bit
FLOP = [compute] = _ = flop = FLOPs = flops
token = [token] = _ = tok
query = [query] = _ = queries
search = query = _ = searches
word = [word]
request = [request] = _ = sequence = sequences
chip = [chip] = _ = accelerator
GPU = chip
TPU = chip
parameter = [parameter] = _ = param = params
"""

_LOCK = threading.Lock()
_HYPHENATED = re.compile(r"[A-Za-z_%][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{1,}")
#: What a unit's text may hold: names, numbers of powers, ``* / ^ ( ) . - %`` and spaces, at most MAX_UNIT_LENGTH
#: characters (the parser's time grows faster than the text's length).
_UNIT_TEXT = re.compile(r"[A-Za-z0-9_%*/^().\- ]*")
MAX_UNIT_LENGTH = 200
_NUMBERED = re.compile(r"(?<![A-Za-z0-9_.])\d+(\.\d*)?(e[-+]?\d+)?\s*[A-Za-z_]")


@functools.cache
def registry():
    """The project's :class:`pint.UnitRegistry` (built once per process)."""
    import pint

    reg = pint.UnitRegistry(None, on_redefinition="raise")
    for line in DEFINITIONS.strip().splitlines():
        reg.define(line)
    return reg


def _normalise(text: str) -> str:
    """``chip-hour`` -> ``(chip*hour)``: a hyphen joins the names of one compound unit."""
    return _HYPHENATED.sub(lambda m: "(" + m.group().replace("-", "*") + ")", text.strip())


def _singular(name: str) -> str:
    if len(name) > 4 and name.endswith("ies"):
        return name[:-3] + "y"
    if len(name) > 4 and name.endswith(("ches", "shes", "sses", "xes", "zes")):
        return name[:-2]
    if len(name) > 3 and name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _define_countable(reg, name: str) -> None:
    """A new unit for a countable name pint does not know: its own dimension, plural as an alias."""
    singular = _singular(name)
    try:
        reg.parse_units(singular)
        known = True
    except Exception:  # noqa: BLE001 - any failure means the singular is not a unit yet
        known = False
    if known:
        reg.define(f"{name} = {singular}")
    elif singular == name:
        reg.define(f"{name} = [{name}]")
        _COINED.add(f"[{name}]")
    else:
        reg.define(f"{singular} = [{singular}] = _ = {name}")
        _COINED.add(f"[{singular}]")


#: The dimensions of the countable names sim made units of on the fly (a user's "ticket", or a typo's "quer").
_COINED: set[str] = set()


def parse(text, *, file: str = "", key: str = ""):
    """The :class:`pint.Unit` of a unit string (``"1"`` and ``"fraction"`` are dimensionless).

    Raises
    ------
    ConfigError
        Naming ``file`` and ``key`` when pint cannot read the text.
    """
    if not isinstance(text, str):
        raise ConfigError(file, key, f"a unit must be text such as \"USD/Mtoken\", got {text!r}")
    if len(text) > MAX_UNIT_LENGTH:
        raise ConfigError(file, key, f"a unit of {len(text):,} characters is too long; a unit is at most "
                                     f"{MAX_UNIT_LENGTH} characters, such as USD/Mtoken or USD/(chip*hour)")
    if not _UNIT_TEXT.fullmatch(text):
        bad = sorted(set(_UNIT_TEXT.sub("", text)))
        raise ConfigError(file, key, f"{text!r} is not a unit sim can read: {''.join(bad)!r} cannot be in a unit; "
                                     "write names, powers and * / ^ ( ), such as USD/Mtoken or USD/(chip*hour)")
    source = _normalise(text)
    if source in ("", "1"):
        source = "dimensionless"
    if _NUMBERED.search(source):
        raise ConfigError(file, key, f"{text!r} has a number inside a unit; write a prefix instead (USD/ktoken for "
                                     "a price per 1,000 tokens, USD/Mtoken per million)")
    reg = registry()
    for _ in range(20):  # each round defines at least one new name
        try:
            return reg.parse_units(source)
        except Exception as exc:  # noqa: BLE001 - pint raises many types on bad text
            names = getattr(exc, "unit_names", None)
            if not names or not all(isinstance(n, str) and _NAME.fullmatch(n) for n in names):
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise ConfigError(file, key, f"{text!r} is not a unit sim can read ({reason}); write units such as "
                                             "USD/Mtoken, token/query, USD/(chip*hour) or fraction") from None
            with _LOCK:
                for name in names:
                    try:
                        reg.parse_units(name)
                    except Exception:  # noqa: BLE001 - not defined yet (another thread may have)
                        _define_countable(reg, name)
    raise ConfigError(file, key, f"{text!r} names too many units sim does not know")


def _coined_hint(derived, declared, inputs: dict) -> str:
    """A unit name sim made up on the fly (any countable word) close to a name of the other side is likely a typo
    (USD/quer against USD/query): say so, and which inputs bring it in."""
    import difflib

    def coined(unit, other):
        names = [d.strip("[]") for d in other.dimensionality]
        for dim in unit.dimensionality:
            if dim in _COINED and dim not in other.dimensionality:
                close = difflib.get_close_matches(dim.strip("[]"), names, n=1)
                if close:
                    return dim, close[0]
        return None

    found = coined(derived, declared)
    if found:
        dim, close = found
        sources = [f"{n} ({unit})" for n, (_, unit) in inputs.items() if dim in parse(unit).dimensionality]
        return (f"; {dim.strip('[]')!r} is no unit sim knows" + (f", brought in by {', '.join(sources)}"
                                                                  if sources else "") + f": did you mean {close!r}?")
    found = coined(declared, derived)
    return f"; {found[0].strip('[]')!r} in the declared unit is no unit sim knows: did you mean {found[1]!r}?" \
        if found else ""


def format_units(unit) -> str:
    """Compact text of a pint unit: ``USD*token/ktoken/query``; ``1`` when dimensionless. A ``fraction`` (a pure
    number) is left out: ``USD*fraction/query`` reads ``USD/query``."""
    power = dict(getattr(unit, "_units", {})).get("fraction", 0)
    if power:
        unit = unit / registry().Unit("fraction") ** power
    text = f"{unit:~C}"
    return text or "1"


def factor(from_unit, to_unit) -> float | None:
    """The number that converts a value in ``from_unit`` to ``to_unit`` (texts or pint units), or None if
    they differ in kind."""
    reg = registry()
    a, b = (parse(u) if isinstance(u, str) else u for u in (from_unit, to_unit))
    q = reg.Quantity(1.0, a)
    if q.dimensionality != reg.Quantity(1.0, b).dimensionality:
        return None
    return float(q.to(b).magnitude)


# --------------------------------------------------------------------------
# checking a model


def data_of(value):
    """What a model's output holds: a pint quantity (bare or inside a DataArray) or plain numbers."""
    import pint
    import xarray as xr

    return value.data if isinstance(value, xr.DataArray) and not isinstance(value, pint.Quantity) else value


def _unit_of(value):
    """The pint unit of a model's output value (dimensionless for plain numbers and booleans)."""
    import pint

    data = data_of(value)
    return data.units if isinstance(data, pint.Quantity) else registry().dimensionless


def _magnitude(value, unit) -> np.ndarray:
    import pint

    data = data_of(value)
    if isinstance(data, pint.Quantity):
        return np.asarray(data.to(unit).magnitude, dtype=float)
    return np.asarray(data, dtype=float)


def check_model(model, inputs: dict, *, file: str, key: str = "model") -> dict[str, dict[str, int]]:
    """Evaluate ``model`` on pint quantities and on plain numbers and compare each output with its declared unit.

    Parameters
    ----------
    model : sim.models.Model
    inputs : dict of str to (value, unit)
        Each input's point value (a number, or a DataArray along a swept
        dim) and unit text.
    file, key : str
        Where errors are reported (the experiment file; ``key`` for Python
        models, ``model.outputs.<name>`` for formula models).

    Returns
    -------
    dict of str to dict of str to int
        Each output's dims and their sizes in this evaluation, where a swept
        input has size 1 along its dim: what a run's cells are made of.

    Raises
    ------
    ConfigError
        One line naming the output, the unit the equations give and the
        declared one.
    """
    import pint
    import xarray as xr

    reg = registry()
    units = {name: parse(c.units, file=file, key=f"{key}.constants.{name}" if model.formula else key)
             for name, c in model.constants.items()}
    units |= {name: parse(unit, file=file, key=key) for name, (_, unit) in inputs.items()}
    values = {name: value for name, (value, _) in inputs.items()} | {n: float(c) for n, c in model.constants.items()}
    evaluate_units = model.evaluate_units or model.evaluate

    def both(wrap):
        """The model on quantities and on plain numbers; ``wrap`` makes each input a DataArray, or a bare scalar."""
        quantities = {name: wrap(reg.Quantity(np.asarray(getattr(v, "values", v), dtype=float), units[name]), v)
                      for name, v in values.items()}
        plain = {name: wrap(np.asarray(getattr(v, "values", v), dtype=float), v) for name, v in values.items()}
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # an operation that drops the units (np.asarray of a quantity) would make the check meaningless
            warnings.simplefilter("error", pint.UnitStrippedWarning)
            return evaluate_units(**quantities), model.evaluate(**plain)

    def labelled(x, original):
        return original.copy(data=x) if isinstance(original, xr.DataArray) else xr.DataArray(x)

    def bare(x, original):  # a swept input's first value: units do not depend on the cell
        return x.reshape(-1)[0] if np.ndim(x) else x[()]

    swept = any(isinstance(v, xr.DataArray) and v.ndim for v in values.values())
    try:
        # most models are plain arithmetic, which bare scalars run some 20 times faster than DataArrays; a model
        # that needs xarray (a concat, a reduction along a dim) fails here and runs on labelled inputs below, as
        # does a model with swept inputs, whose outputs' dims are wanted
        if swept:
            raise _Labelled
        got, numbers = both(bare)
    except ConfigError:
        raise
    except Exception:  # noqa: BLE001 - whatever a model does with inputs it expects labelled
        try:
            with xr.set_options(arithmetic_join="exact"):  # the check's inputs share their labels: nothing to align
                got, numbers = both(labelled)
        except ConfigError:
            raise
        except ModelError as exc:
            raise ConfigError(file, key, str(exc)) from None
        except pint.UnitStrippedWarning:
            raise ConfigError(file, key, f"model {model.name!r} drops the units of an input (np.asarray, .values or "
                                         ".magnitude of a quantity), so its units cannot be checked; compute with "
                                         "the inputs as they are given") from None
        except (pint.DimensionalityError, pint.OffsetUnitCalculusError, ValueError, TypeError) as exc:
            reason = " ".join(str(exc).split())
            raise ConfigError(file, key, f"model {model.name!r} cannot be evaluated on the units of its inputs "
                                         f"({reason}); check the units of the priors it reads") from None
    missing = [name for name in model.outputs if name not in got]
    if missing:
        raise ConfigError(file, key, f"model {model.name!r} does not return output(s) {', '.join(missing)} that it "
                                     f"declares; it returns {', '.join(got) or 'nothing'}")
    for name, out in model.outputs.items():
        where = f"model.outputs.{name}" if model.formula else key
        what = "formula" if model.formula else f"model {model.name!r}: output {name}"
        declared = parse(out.units, file=file, key=f"{where}.units" if model.formula else where)
        derived = _unit_of(got[name])
        shown = format_units(derived)
        scale = factor(derived, declared)
        if scale is None:
            raise ConfigError(file, where, f"{what} gives {shown}, declared {out.units}"
                                           f"{_coined_hint(derived, declared, inputs)}")
        if not math.isclose(scale, 1.0, rel_tol=1e-9):
            if scale < 1:
                how = f"divide by a constant of {1 / scale:.6g} {format_units(derived / declared)}"
            else:
                how = f"multiply by a constant of {scale:.6g} {format_units(declared / derived)}"
            raise ConfigError(file, where, f"{what} gives {shown}, not {out.units}: 1 {shown} is {scale:.6g} "
                                           f"{out.units}, so a unit conversion is missing or written as a bare "
                                           f"number (numbers carry no units); {how} instead")
        with np.errstate(all="ignore"):  # point values may overflow: the run's guard names that, not this check
            expect = _magnitude(got[name], declared)
            value = np.asarray(getattr(numbers[name], "values", numbers[name]), dtype=float)
            finite = np.isfinite(value) & np.isfinite(expect)
            differs = not np.allclose(value[finite], expect[finite], rtol=1e-9, atol=0.0) \
                if expect.shape == value.shape else False
        if differs:
            raise ConfigError(file, where, f"{what} adds, compares or picks between quantities of one kind in "
                                           f"different units (such as USD/ktoken and USD/Mtoken): the numbers it "
                                           f"computes are not {out.units}; convert one of them first")
    return {name: dict(numbers[name].sizes) if isinstance(numbers[name], xr.DataArray) else {}
            for name in model.outputs}


class _Labelled(Exception):
    """The model has swept inputs: evaluate it on labelled inputs."""
