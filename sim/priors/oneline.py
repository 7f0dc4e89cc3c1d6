"""One-line priors: ``"lognormal 2000 to 30000 token/query"`` read as the table it stands for.

A small model's priors are quick to write this way (the form, its 90 %
interval or bounds, the unit); :func:`~.files.read_prior` turns the table
into a :class:`~.spec.Prior` as it does a table written out.
"""

from __future__ import annotations

import re

from .. import _checks as check
from ..errors import Location
from . import forms

__all__ = ["one_line_table", "ONE_LINE_FORMS"]

#: The forms a prior can take in one line, and the parameter its two numbers give (``ci90``, or ``low`` and
#: ``high``); ``fixed`` takes one number, its point.
ONE_LINE_FORMS = {"lognormal": "ci90", "normal": "ci90", "beta": "ci90", "uniform": ("low", "high"),
                  "loguniform": ("low", "high"), "fixed": "point"}

_NUMBER = r"[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?"
_ONE_LINE = re.compile(rf"\s*(?P<form>\S+)\s+(?P<low>{_NUMBER})(?:\s+to\s+(?P<high>{_NUMBER}))?"
                       r"(?:\s+(?P<unit>\S.*?))?\s*")


def one_line_table(text: str, at: Location, *, unit: str | None = None) -> dict:
    """The table a one-line prior stands for: ``"lognormal 2000 to 30000 token/query"`` is a lognormal whose 90 %
    interval is [2000, 30000], in ``token/query``, with its median as point.

    Forms: ``lognormal``, ``normal`` and ``beta`` read the two numbers as the
    5th and 95th percentiles (``ci90``); ``uniform`` and ``loguniform`` as
    ``low`` and ``high``; ``"fixed 0.75 word/token"`` is one number, the
    point. The text is matched by a regular expression and its numbers read
    by ``float``: nothing in it is evaluated. ``unit`` is the unit to use
    where the text gives none (a scenario's change of a prior keeps the
    prior's unit); without it the unit is required.

    Raises
    ------
    ConfigError
        At ``at``, quoting the text, if it is not of that shape.
    """
    example = "for example \"lognormal 2000 to 30000 token/query\", \"uniform 0.1 to 0.4 fraction\" or " \
              "\"fixed 0.75 word/token\""
    match = _ONE_LINE.fullmatch(text)
    if match is None:
        check.fail(at, f"{text!r} is not a one-line prior: FORM LOW to HIGH UNIT or fixed VALUE UNIT, {example}")
    form = match["form"]
    if form in forms.FORMS and form not in ONE_LINE_FORMS:
        check.fail(at, f"{text!r}: a {form} prior has no one-line form; give it as a table with dist = \"{form}\" "
                       f"(one-line forms: {', '.join(ONE_LINE_FORMS)})")
    if form not in ONE_LINE_FORMS:
        check.fail(at, f"{text!r}: unknown form {form!r}; {check.choices(form, ONE_LINE_FORMS)}")
    try:
        numbers = [float(match[k]) for k in ("low", "high") if match[k] is not None]
    except ValueError:
        check.fail(at, f"{text!r}: a number is misspelt, {example}")
    if (form == "fixed") != (len(numbers) == 1):
        shape = "fixed VALUE UNIT" if form == "fixed" else f"{form} LOW to HIGH UNIT"
        check.fail(at, f"{text!r}: a {form} prior in one line is {shape}, {example}")
    if match["unit"] is None and unit is None:
        check.fail(at, f"{text!r}: the unit is missing at the end, {example}")
    key = ONE_LINE_FORMS[form]
    params = dict(zip(key, numbers)) if isinstance(key, tuple) else {key: numbers[0] if form == "fixed" else numbers}
    table = {"dist": form, **params, "unit": match["unit"] or unit}
    if form != "fixed":
        table["point"] = float(forms.build(form, params, None, at).ppf(0.5))
    return table
