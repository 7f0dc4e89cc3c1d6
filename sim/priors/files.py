"""Priors files: reading and validating their ``[priors.NAME]`` tables (:func:`~.spec.parse_prior`), one-line
priors (:func:`~.oneline.one_line_table`) with their ``[sources]``, ``[correlations]``, and the priors hash."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from .. import _checks as check
from .._checks import fmt
from .._files import read_toml
from ..errors import ConfigError, Location
from .oneline import one_line_table
from .spec import Prior, parse_prior

__all__ = ["load_priors", "load_priors_file", "read_prior", "parse_correlations", "priors_hash", "PRIORS_FILE_KEYS"]

#: Top-level keys of a priors file.
PRIORS_FILE_KEYS = ("title", "description", "priors", "sources", "correlations")


def load_priors(path: str | os.PathLike) -> dict[str, Prior]:
    """Read and validate a priors file.

    Returns
    -------
    dict of str to Prior
        In file order.
    """
    return load_priors_file(path)[0]


def load_priors_file(path: str | os.PathLike) -> tuple[dict[str, Prior], dict[tuple[str, str], float]]:
    """Read and validate a priors file: its priors and its rank correlations.

    Returns
    -------
    priors : dict of str to Prior
        In file order.
    correlations : dict of (str, str) to float
        Spearman rank correlations between pairs of this file's priors
        (see :func:`parse_correlations`); empty if the file has none.
    """
    file = Location(str(path))
    data = read_toml(path, "priors file")
    check.keys(data, PRIORS_FILE_KEYS, file, "top-level key")
    for tk in ("title", "description"):
        if tk in data:
            check.string(data[tk], file.at(tk))
    table = data.get("priors")
    if not isinstance(table, dict) or not table:
        check.fail(file.at("priors"), "missing or empty; define priors as [priors.NAME] tables")
    sources = _sources(data.get("sources", {}), file.at("sources"), table)
    priors = {name: read_prior(name, spec, at=file.at("priors", name), source=sources.get(name))
              for name, spec in table.items()}
    pairs = parse_correlations(data["correlations"], at=file.at("correlations"), priors=priors) \
        if "correlations" in data else {}
    return priors, pairs


def read_prior(name: str, spec: Any, *, at: Location, source: str | None = None, base: Prior | None = None) -> Prior:
    """A prior as a file gives it: a table (:func:`~.spec.parse_prior`) or one line of text
    (:func:`~.oneline.one_line_table`), with ``source`` from the file's ``[sources]`` table if any.

    A one-line prior needs no source: the report then says it has none. A
    problem with the numbers of a one-line prior is reported at its name,
    quoting the line, since the file has no key such as ``ci90`` to point at.
    """
    if not isinstance(spec, str):
        if isinstance(spec, dict) and source is not None:
            if "source" in spec:
                check.fail(at.at("source"), "given here and in [sources]; keep one")
            spec = {**spec, "source": source}
        return parse_prior(name, spec, at=at, base=base)
    try:
        table = one_line_table(spec, at, unit=base.unit if base is not None else None)
        if source is not None:
            table["source"] = source
        return parse_prior(name, table, at=at, base=base, sourced=False)
    except ConfigError as exc:
        if exc.key == at.key:
            raise
        raise at.error(f"{spec!r}: {exc.message}") from None


def _sources(table: Any, at: Location, priors: Mapping) -> dict[str, str]:
    """A ``[sources]`` table: a prior's name to where its value and range come from."""
    if not isinstance(table, dict):
        check.fail(at, f"must be a table of NAME = \"source\", got {table!r}")
    for name, text in table.items():
        if name not in priors:
            check.fail(at.at(name), f"no prior named {name!r} in this file; {check.choices(name, priors)}")
        check.string(text, at.at(name))
    return dict(table)


def parse_correlations(table: Any, *, at: Location, priors: Mapping[str, Prior]) -> dict[tuple[str, str], float]:
    """Validate a ``[correlations]`` table: Spearman rank correlations between priors.

    Either pairs or a matrix::

        [correlations]
        pairs = [["mfu", "price_per_chip_hour", -0.4]]

        [correlations]
        names = ["a", "b", "c"]
        matrix = [[1.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.0]]

    Returns
    -------
    dict of (str, str) to float
        One entry per correlated pair, names in sorted order; pairs not
        given are uncorrelated. Whether the whole matrix is valid (positive
        semi-definite) is checked when an experiment puts the pairs together.
    """
    if not isinstance(table, dict) or not table:
        check.fail(at, "must be a table with pairs = [[name, name, rho], ...] or names = [...] and matrix = [[...], "
                       "...]")
    check.keys(table, ("pairs", "names", "matrix"), at, "key")
    if "pairs" in table and ("names" in table or "matrix" in table):
        check.fail(at, "give pairs, or names and matrix, not both")

    def name_of(where: Location, name):
        if not isinstance(name, str) or name not in priors:
            check.fail(where, f"no prior named {name!r}; {check.choices(name, priors)}")
        if priors[name].is_fixed:
            check.fail(where, f"prior {name!r} is fixed; only drawn priors can be correlated")
        return name

    def rho_of(where: Location, value):
        rho = check.number(value, where)
        if not -1.0 <= rho <= 1.0:
            check.fail(where, f"a rank correlation must lie in [-1, 1], got {fmt(rho)}")
        return rho

    out: dict[tuple[str, str], float] = {}
    if "pairs" in table:
        pairs = table["pairs"]
        if not isinstance(pairs, list) or not pairs:
            check.fail(at.at("pairs"), f"must be a list of [name, name, rho], got {pairs!r}")
        for i, item in enumerate(pairs):
            where = Location(at.file, f"{at.key}.pairs[{i}]")
            if not isinstance(item, list) or len(item) != 3:
                check.fail(where, f"must be [name, name, rho], got {item!r}")
            a, b = name_of(where, item[0]), name_of(where, item[1])
            if a == b:
                check.fail(where, f"pairs {a!r} with itself; a prior's correlation with itself is 1")
            pair = tuple(sorted((a, b)))
            if pair in out:
                check.fail(where, f"the pair {a!r}, {b!r} is given twice")
            out[pair] = rho_of(where, item[2])
        return out
    names, matrix = table.get("names"), table.get("matrix")
    if not isinstance(names, list) or len(names) < 2:
        check.fail(at.at("names"), f"must list at least two prior names, got {names!r}")
    names = [name_of(at.at("names"), n) for n in names]
    if len(set(names)) != len(names):
        check.fail(at.at("names"), "names a prior more than once")
    d = len(names)
    if not (isinstance(matrix, list) and len(matrix) == d and all(isinstance(r, list) and len(r) == d for r in matrix)):
        check.fail(at.at("matrix"), f"must be a {d} x {d} list of rows, one per name")

    def cell(i, j):
        return Location(at.file, f"{at.key}.matrix[{i}][{j}]")

    values = [[rho_of(cell(i, j), v) for j, v in enumerate(row)] for i, row in enumerate(matrix)]
    for i in range(d):
        if values[i][i] != 1.0:
            check.fail(cell(i, i), f"the diagonal must be 1, got {fmt(values[i][i])}")
        for j in range(i):
            if values[i][j] != values[j][i]:
                check.fail(cell(i, j), f"the matrix must be symmetric: [{i}][{j}] = {fmt(values[i][j])} but "
                                       f"[{j}][{i}] = {fmt(values[j][i])}")
            if values[i][j] != 0.0:
                out[tuple(sorted((names[i], names[j])))] = values[i][j]
    return out


def priors_hash(specs: Mapping[str, Mapping[str, Prior]], correlations: Mapping | None = None) -> str:
    """SHA-256 of the defining fields of priors, keyed by group (scenario) and name,
    and of the rank correlations between them (if any)."""
    canon = {g: {n: p.spec() for n, p in sorted(ps.items())} for g, ps in specs.items()}
    if correlations:
        canon = {"priors": canon, "correlations": sorted([*pair, rho] for pair, rho in correlations.items())}
    return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()
