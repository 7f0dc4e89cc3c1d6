"""The prior spec: a frozen assumption with ``point``, ``ppf``, unit and source, and the transforms of a study.

A :class:`Prior` is a form (:mod:`.forms`) with its parameters as a file
gives them, the point value, unit and source; :func:`parse_prior` validates
a prior's table into one. Studies transform a prior
without changing its form: :func:`pinned` fixes it (a scenario's ``set``),
:func:`banded` restricts its draws to a band of percentiles (a stress test),
:func:`scaled` multiplies them and :func:`held` holds them at a value (goal
seek); each transform is a field of the spec, so that equal specs draw equal
numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .. import _checks as check
from .._checks import fmt
from ..errors import ConfigError, Location
from . import composite, forms

del composite  # imported for its forms (metalog, mixture), which it registers

__all__ = ["Prior", "parse_prior", "pinned", "banded", "scaled", "held", "thaw", "DESCRIPTIVE_KEYS"]

#: Keys every prior table may carry besides its parameters.
DESCRIPTIVE_KEYS = ("point", "unit", "source", "note", "long_name")


def thaw(key: str, value):
    """A frozen parameter as a file would give it: tuples as lists, ``params`` as a table."""
    if key == "params":
        return {k: thaw(k, v) for k, v in value}
    if key == "components":  # a mixture's: tables of a form and its parameters
        return [{k: thaw(k, v) for k, v in component} for component in value]
    if isinstance(value, tuple):
        return [thaw("", v) for v in value]
    return value


@dataclass(frozen=True)
class Prior:
    """A named assumption: a distribution, the point value, unit and source.

    Attributes
    ----------
    name : str
        The prior's name, as the model's keyword argument.
    dist : str
        Distribution form, one of :data:`~sim.priors.forms.FORMS`.
    params : tuple of (str, value)
        The parameters as written in the file, sorted by key.
    point : float
        The value point mode uses (the article's number).
    unit, source, note, long_name : str
        Description carried into outputs and reports.
    truncate : tuple of float or None
        Bounds the distribution is truncated to.
    allow_negative : bool
        Whether the quantity may be negative; without it a prior whose
        support reaches below 0 is refused.
    band : tuple of float or None
        Draws restricted to the band between these two quantiles (:func:`banded`).
    scale : float or None
        Draws multiplied by this factor (:func:`scaled`).
    held_at : float or None
        Draws held at this value, the prior still drawn (:func:`held`).
    file, key : str
        Where the spec was read (not part of equality).
    built : optional
        The distribution already built from these fields (by
        :func:`~sim.priors.files.parse_prior`); by default it is built here.
    """

    name: str
    dist: str
    params: tuple
    point: float
    unit: str
    source: str = ""
    note: str = ""
    long_name: str = ""
    truncate: tuple | None = None
    allow_negative: bool = False
    band: tuple[float, float] | None = None
    scale: float | None = None
    held_at: float | None = None
    file: str = field(default="", compare=False)
    key: str = field(default="", compare=False, repr=False)
    override: bool = field(default=False, compare=False, repr=False)
    impl: Any = field(init=False, compare=False, repr=False)
    built: dataclasses.InitVar[Any] = None

    def __post_init__(self, built):
        # the distribution is derived from the fields, so that dataclasses.replace (which does not pass
        # ``built`` on) never keeps a stale one; parse_prior hands over the one it built to validate the fields
        object.__setattr__(self, "impl", self._distribution() if built is None else built)

    def __getstate__(self):  # pickled by its fields; the distribution is rebuilt from them
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "impl"}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "impl", self._distribution())

    def _distribution(self):
        """The distribution of the form, parameters and truncation, with the transforms applied."""
        if self.dist == "fixed":
            return forms.Fixed(self.point)
        if self.held_at is not None:
            return forms.Fixed(self.held_at)
        params = {k: thaw(k, v) for k, v in self.params}
        dist = forms.build(self.dist, params, self.truncate, self.location)
        if self.band is not None:
            dist = forms.Band(dist, *self.band)
        if self.scale is not None:
            dist = forms.Scaled(dist, self.scale)
        return dist

    @property
    def location(self) -> Location:
        """Where the prior's table was read."""
        return Location(self.file, self.key or f"priors.{self.name}")

    @property
    def is_fixed(self) -> bool:
        return self.dist == "fixed"

    def with_params(self, **changes) -> Prior:
        """A new prior with some parameters changed; its samples follow the new parameters.

        ``prior.with_params(ci90=[0.4, 0.7])`` keeps the form, unit and
        source; ``dist=`` changes the form, ``point=`` the point value
        (default: the new distribution's median), ``truncate=`` the bounds.
        Given parameters replace the old set where they form one of the
        form's parameter sets on their own, and amend it otherwise
        (``with_params(high=5)`` on a uniform keeps ``low``). Transforms
        (band, scale, held value) are not carried over.

        Raises
        ------
        ConfigError
            If the new parameters are invalid for the form.
        """
        dist = changes.pop("dist", self.dist)
        extra = {k: changes.pop(k) for k in ("point", "truncate") if k in changes}
        table = {"dist": dist, **extra}
        if dist == self.dist:
            old = {k: thaw(k, v) for k, v in self.params}
            form = forms.FORMS.get(dist)
            alone = form is not None and any(set(changes) == set(alt) for alt in form.parameters)
            table.update(changes if alone else {**old, **changes})
        else:
            table.update(changes)
        if "truncate" not in extra and self.truncate is not None and dist == self.dist:
            table["truncate"] = list(self.truncate)
        if dist == "fixed" and "point" not in table:
            raise ConfigError(self.file, self.location.key, "a fixed prior needs point=<value>")
        return parse_prior(self.name, table, at=self.location, base=self)

    def ppf(self, u):
        """Map uniforms ``u`` in [0, 1] to values of this prior (same shape, float64)."""
        return self.impl.ppf(u)

    def cdf(self, x):
        """The probability of a value at or below ``x`` (same shape, float64): where ``x`` sits in this prior."""
        return self.impl.cdf(x)

    def support(self) -> tuple[float, float]:
        """Smallest and largest possible values (after truncation)."""
        return self.impl.support()

    def median(self) -> float:
        return float(self.ppf(0.5))

    def interval(self, probability: float = 0.9) -> tuple[float, float]:
        """Equal-tailed interval holding ``probability`` of the prior's mass."""
        tail = (1.0 - probability) / 2.0
        return float(self.ppf(tail)), float(self.ppf(1.0 - tail))

    def _transforms(self) -> dict:
        """The transforms as a record gives them (the keys they have always had in the priors hash)."""
        out = {}
        if self.band is not None:
            out["percentile_band"] = self.band
        if self.scale is not None:
            out["scaled_by"] = self.scale
        if self.held_at is not None:
            out["held_at"] = self.held_at
        return out

    def spec(self) -> dict:
        """The defining fields as plain data (for hashing and for records)."""
        out = {"dist": self.dist, **dict(self.params), **self._transforms(), "point": self.point}
        if self.truncate is not None:
            out["truncate"] = list(self.truncate)
        return out

    def table(self) -> dict:
        """The prior's defining keys as a priors file gives them (``dist``, parameters, ``point``, ``truncate``)."""
        out = {"dist": self.dist, **{k: thaw(k, v) for k, v in self.params}, "point": self.point}
        if self.truncate is not None:
            out["truncate"] = list(self.truncate)
        return out

    def describe(self) -> str:
        """Short text such as ``lognormal(ci90=[20, 125])``."""
        args = ", ".join(f"{k}={fmt(v)}" for k, v in (*self.params, *self._transforms().items()))
        text = f"{self.dist}({args})" if self.dist != "fixed" else f"fixed({fmt(self.point)})"
        if self.truncate is not None:
            text += f" truncated to [{fmt(self.truncate[0])}, {fmt(self.truncate[1])}]"
        return text


def _check_support(at: Location, unit: str, dist: str, lo: float, hi: float, signed: bool) -> None:
    """Refuse a prior whose values could be impossible for its quantity: a fraction outside [0, 1], a negative
    amount."""
    continuous = forms.FORMS[dist].continuous if dist in forms.FORMS else False
    if unit == "fraction" and not (0.0 <= lo and hi <= 1.0):
        how = "use a beta prior or truncate = [0, 1]" if continuous else "give it values in [0, 1]"
        raise at.error(f"unit 'fraction' needs values in [0, 1], but the {dist} prior's support is "
                       f"[{fmt(lo)}, {fmt(hi)}]; {how}")
    if lo < 0 and not signed:
        how = "truncate it at 0, for example truncate = [0, inf]" if continuous else "give it nonnegative values"
        raise at.error(f"a quantity in {unit!r} cannot be negative, but the {dist} prior's support is "
                       f"[{fmt(lo)}, {fmt(hi)}]; {how}, or set allow_negative = true if it can be negative")


def _freeze(value):
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def parse_prior(name: str, table: Any, *, at: Location, base: Prior | None = None, sourced: bool = True) -> Prior:
    """Validate one prior table and return its frozen :class:`Prior`.

    Parameters
    ----------
    name : str
        The prior's name.
    table : dict
        The TOML table.
    at : Location
        Where the table was read (file and key), for error messages.
    base : Prior, optional
        The prior a scenario overrides: ``unit``, ``source``, ``note`` and
        ``long_name`` default to the base's, and ``point`` to the new
        distribution's median.
    sourced : bool
        Whether the prior must say where it comes from (a ``source`` or a
        ``note``); a one-line prior may go without.

    Raises
    ------
    ConfigError
        If anything in the table is missing, unknown or invalid.
    """
    if not isinstance(table, dict):
        check.fail(at, "must be a table with a 'dist' key or one line such as "
                       f"\"lognormal 2000 to 30000 token/query\", got {table!r}")
    if "dist" not in table:
        check.fail(at.at("dist"), f"missing; valid: {', '.join(forms.FORMS)}")
    dist = table["dist"]
    if not isinstance(dist, str) or dist not in forms.FORMS:
        check.fail(at.at("dist"), f"unknown distribution {dist!r}; {check.choices(dist, forms.FORMS)}")
    form = forms.FORMS[dist]
    param_keys = {x for alt in form.parameters for x in alt}
    allowed = (param_keys | set(DESCRIPTIVE_KEYS) | {"dist", "allow_negative", "override"}
               | ({"truncate"} if form.continuous else set()))
    check.keys(table, allowed, at, f"key for a {dist} prior", listed=sorted(allowed - {"dist"}))
    given = tuple(x for x in sorted(param_keys) if x in table)
    if set(given) not in [set(alt) for alt in form.parameters]:
        options = " or ".join("(" + ", ".join(alt) + ")" for alt in form.parameters)
        check.fail(at, f"a {dist} prior takes {options}; got ({', '.join(given)})")
    params = {x: table[x] for x in given}

    truncate = check.pair(table["truncate"], at.at("truncate"), allow_inf=True) if "truncate" in table else None

    if dist == "fixed":
        if "point" not in table:
            check.fail(at.at("point"), "missing; a fixed prior needs its value as point")
        dist_impl = forms.Fixed(check.number(table["point"], at.at("point")))
    else:
        dist_impl = forms.build(dist, params, truncate, at)

    if "point" in table:
        point = check.number(table["point"], at.at("point"))
    elif base is not None:
        point = float(dist_impl.ppf(0.5))
    else:
        check.fail(at.at("point"), "missing; every prior needs the value point mode uses")
    lo, hi = dist_impl.support()
    if not lo <= point <= hi:
        check.fail(at.at("point"), f"{fmt(point)} lies outside the prior's support [{fmt(lo)}, {fmt(hi)}]")

    text = {}
    for tk in ("unit", "source", "note", "long_name"):
        if tk in table:
            text[tk] = check.string(table[tk], at.at(tk))
        elif base is not None:
            text[tk] = getattr(base, tk)
    if "unit" not in text:
        check.fail(at.at("unit"), "missing; give the unit (for example \"USD\", \"words\", \"fraction\")")
    signed = check.boolean(table.get("allow_negative", base.allow_negative if base is not None else False),
                           at.at("allow_negative"))
    _check_support(at, text["unit"], dist, lo, hi, signed)
    if sourced and not (text.get("source") or text.get("note")):
        check.fail(at, "needs a 'source' or a 'note' saying where the value and range come from")
    override = check.boolean(table.get("override", False), at.at("override"))
    frozen_params = tuple((x, _freeze(params[x])) for x in given)
    return Prior(name=name, dist=dist, params=frozen_params, point=point, truncate=truncate, file=at.file, key=at.key,
                 allow_negative=signed, override=override, built=dist_impl, **text)


def pinned(prior: Prior, value: float, *, at: Location | None = None) -> Prior:
    """A copy of ``prior`` fixed at ``value`` (a scenario's ``set``)."""
    at = at or Location("", "")
    value = check.number(value, at)
    _check_support(at, prior.unit, "fixed", value, value, prior.allow_negative)
    return dataclasses.replace(prior, dist="fixed", params=(), point=value, truncate=None, band=None, scale=None,
                               held_at=None, file=at.file or prior.file)


def banded(prior: Prior, lo: float, hi: float) -> Prior:
    """``prior`` restricted to the band between its ``lo`` and ``hi`` quantiles.

    The band's draws are the prior's values at ``lo + (hi - lo) u``: the
    conditional distribution given that the value lies in the band, drawn
    from the same uniforms (common random numbers with the unrestricted run).
    """
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"need 0 <= lo < hi <= 1, got lo={lo}, hi={hi}")
    if prior.is_fixed:
        return prior
    return dataclasses.replace(prior, band=(lo, hi))


def scaled(prior: Prior, factor: float) -> Prior:
    """``prior`` with every value (and the point) multiplied by ``factor``."""
    return dataclasses.replace(prior, scale=float(factor), point=prior.point * factor)


def held(prior: Prior, value: float) -> Prior:
    """``prior`` held at ``value`` but still drawn, so the other priors' draws stay as they were.

    Unlike :func:`pinned` (a scenario's ``set``), the prior keeps its place in
    the sampler: with the Sobol' sampler, whose design is joint over the
    drawn priors, the other priors then see exactly the same points.
    """
    return dataclasses.replace(prior, held_at=float(value), point=float(value))
