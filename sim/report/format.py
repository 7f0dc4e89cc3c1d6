"""Text of numbers for people: amounts, probabilities, table cells, plain-text tables and the verdict sentence.

Shared by the report, the console views of each command and the what-if
explorer, so that a number reads the same wherever it is shown. Display
only: files keep full precision.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["quantity", "per_unit", "percent", "verdict_sentence", "display", "number", "heading", "format_table"]

_SCALES = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))


def quantity(value: float, units: str, *, per: bool = True) -> str:
    """A number for prose, to 3 significant digits: ``$0.0634 per query``, ``$4.6 million``, ``3.1e+23 FLOP``.

    ``per=False`` leaves out what a money amount is per (for the second
    number of an interval).
    """
    if not math.isfinite(value):
        return str(value)
    money = units.startswith("USD")
    size = abs(value)
    if 1e6 <= size < 1e15:
        scale, word = next((scale, word) for scale, word in _SCALES if size >= scale)
        text = f"{value / scale:.3g} {word}"
    elif 1000 <= size < 1e6:
        text = f"{value:,.0f}"
    elif 1e-6 <= size < 1000:
        text = np.format_float_positional(value, precision=3, unique=False, fractional=False, trim="-")
    else:
        text = f"{value:.3g}"
    if money:
        unit = units[3:].lstrip("/ ")
        sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
        return f"{sign}${text}" + (f" per {unit}" if unit and per else "")
    return text if units in ("", "1") or not per else f"{text} {units}"


def per_unit(units: str) -> str:
    """``USD/query`` -> ``per query``; ``USD`` -> ``""`` (what an amount in ``units`` is per)."""
    return f"per {units.split('/', 1)[1].strip()}" if "/" in units else ""


def percent(p: float) -> str:
    """A probability as a percentage for prose: one decimal, ``< 0.1 %`` and ``> 99.9 %`` near the ends."""
    if 0 < p < 0.0005:
        return "< 0.1 %"
    if 0.9995 < p < 1:
        return "> 99.9 %"
    return f"{100 * p:.1f} %" if 0 < p < 1 else f"{100 * p:.0f} %"


def verdict_sentence(verdict, names: dict[str, str] | None = None) -> str:
    """The verdict of a cell (:class:`sim.analysis.decision.Verdict`) as one sentence: how often deploying loses
    money, the expected loss or gain and what would settle it (``names`` gives the priors' readable names)."""
    p, (lo, hi), enb, units = verdict.p_loss, verdict.p_loss_ci, verdict.expected_net_benefit, verdict.units
    interval = f" ({percent(lo)} to {percent(hi)})" if percent(lo) != percent(hi) else ""
    # 0 or 100 % of the samples is said with its interval, as every other share: the samples are not every outcome
    odds = f"loses money in {percent(p)} of outcomes{interval}"
    money = quantity(abs(enb), units.split("/")[0], per=False)
    sentence = f"Deploying {odds}; the expected {'loss' if enb < 0 else 'gain'} is {money} {per_unit(units)}".rstrip()
    if verdict.settle is not None:
        if verdict.settle:
            sentence += "; what would settle it is " + " and ".join((names or {}).get(n, n) for n in verdict.settle)
        else:
            sentence += "; no single assumption would change the decision"
    return sentence + "."


def display(value) -> str:
    """A table cell as shown: numbers to 4 significant digits, booleans as yes/no, NaN as blank."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else number(value)
    return "" if value is None else str(value)


def number(value: float) -> str:
    """A number by its magnitude, to 4 significant digits: ``883,300``, ``2,664``, ``0.6008``, ``6.654e-05``;
    thousands separated, scientific notation only below 0.0001 and from 10**15."""
    value = float(value)
    if not np.isfinite(value) or value == 0:
        return f"{value:g}"
    size = abs(value)
    if size < 1e-4 or size >= 1e15:
        return f"{value:.4g}"
    if size >= 1000:
        return f"{float(f'{value:.4g}'):,.0f}"
    return f"{value:.4g}"


def heading(column) -> str:
    """A table column's name as a reader sees it: ``p_profitable_ci_lower`` -> ``p profitable, 95 % low``.

    Display only: the CSV files keep the names that code reads.
    """
    text = str(column)
    for end, word in (("_ci_lower", ", 95 % low"), ("_ci_upper", ", 95 % high")):
        if text.endswith(end):
            text = text[: -len(end)] + word
    return text.replace("_", " ")


def _console_value(v) -> str:
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return ""
        return f"{v:.4g}"
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def format_table(frame: pd.DataFrame, *, max_rows: int | None = None, more: str = "",
                 fold_zeros: bool = False) -> str:
    """Plain-text table, numbers to 4 significant digits (display only).

    Parameters
    ----------
    max_rows : int, optional
        Show at most this many rows, then a line saying how many were left
        out (and ``more``: where they are).
    fold_zeros : bool
        Fold the rows whose numbers are all exactly 0 into one line naming
        their ``output`` (or first column) values.
    """
    notes = []
    numeric = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    if fold_zeros and numeric and len(frame):
        zero = (frame[numeric] == 0).all(axis=1).to_numpy()
        if zero.any() and not zero.all():
            key = "output" if "output" in frame.columns else frame.columns[0]
            names = list(dict.fromkeys(str(v) for v in frame.loc[zero, key]))
            notes.append(f"({int(zero.sum())} row(s) of exact zeros folded: {key} {', '.join(names)})")
            frame = frame.loc[~zero]
    if max_rows is not None and len(frame) > max_rows:
        notes.insert(0, f"({len(frame) - max_rows} more row(s){'; ' + more if more else ''})")
        frame = frame.iloc[:max_rows]
    shown = frame.copy()
    for col in shown.columns:
        shown[col] = [_console_value(v) for v in shown[col]]
    return "\n".join([shown.to_string(index=False), *notes])
