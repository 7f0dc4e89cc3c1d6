"""Prior distributions: frozen specs with ``point`` and ``ppf``, read from TOML.

A priors file holds one table per assumption under ``[priors]``::

    [priors.hit_rate]
    dist = "beta"
    ci90 = [0.18, 0.50]        # 5th and 95th percentiles
    point = 0.30               # the value point mode uses
    unit = "fraction"
    source = "Lempel & Moran 2003 ..."

Every prior maps uniforms in (0, 1) to values through :meth:`Prior.ppf`, so
random, Latin hypercube and Sobol sampling share one path. The scipy
distribution behind each prior is the reference; closed forms (uniform,
log-uniform, normal, lognormal) use the same formula on ``scipy.special.ndtri``
without scipy's per-call overhead, and beta-family priors use
:class:`scipy.stats.sampling.NumericalInversePolynomial`, whose inverse is
about 30 times faster than ``scipy.stats.beta.ppf`` at a u-error below 1e-10.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special, stats
from scipy.stats.sampling import NumericalInversePolynomial

from ._files import read_toml
from .errors import ConfigError

__all__ = ["Prior", "DISTRIBUTIONS", "parse_prior", "load_priors", "load_priors_file", "parse_correlations",
           "pinned", "banded", "scaled", "held"]

#: Standard normal quantile at 0.95: a 90 % interval spans mean +- Z90 * sd.
Z90 = float(special.ndtri(0.95))

#: Distribution forms and the parameter sets each accepts (alternatives).
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    "fixed": ((),),
    "uniform": (("low", "high"),),
    "loguniform": (("low", "high"),),
    "normal": (("mean", "sd"), ("ci90",)),
    "lognormal": (("median", "gsd"), ("ci90",)),
    "beta": (("a", "b"), ("mean", "sd"), ("ci90",)),
    "triangular": (("low", "mode", "high"),),
    "pert": (("low", "mode", "high"), ("low", "mode", "high", "lambda")),
    "choice": (("values",), ("values", "weights")),
    "scipy": (("name",), ("name", "params")),
}

#: Keys every prior table may carry besides its parameters.
DESCRIPTIVE_KEYS = ("point", "unit", "source", "note", "long_name")
_CONTINUOUS = {"uniform", "loguniform", "normal", "lognormal", "beta", "triangular", "pert", "scipy"}


# --------------------------------------------------------------------------
# distribution implementations: each has ppf(u), support() and a scipy-like
# frozen reference where one exists


class _Fixed:
    def __init__(self, value: float):
        self.value = value

    def ppf(self, u):
        return np.full(np.shape(u), self.value, dtype=float)

    def support(self):
        return self.value, self.value


class _Choice:
    """A discrete set of values with weights; ppf is the generalised inverse CDF."""

    def __init__(self, values, weights):
        order = np.argsort(values, kind="stable")
        self.values = np.asarray(values, dtype=float)[order]
        w = np.asarray(weights, dtype=float)[order]
        self.probabilities = w / w.sum()
        self.cum = np.cumsum(self.probabilities)
        self.cum[-1] = 1.0

    def ppf(self, u):
        idx = np.searchsorted(self.cum, u, side="left")
        return self.values[np.minimum(idx, len(self.values) - 1)]

    def support(self):
        return float(self.values[0]), float(self.values[-1])


class _Continuous:
    """A scipy frozen distribution, optionally truncated, with a fast ppf."""

    def __init__(self, frozen, fast_ppf=None, truncate=None, support=None):
        self.frozen = frozen
        self.fast = fast_ppf is not None
        self._ppf = fast_ppf if fast_ppf is not None else frozen.ppf
        lo, hi = support or frozen.support()
        if truncate is None:
            self.p_lo, self.p_hi = 0.0, 1.0
            self.bounds = (float(lo), float(hi))
        else:
            self.p_lo, self.p_hi = float(frozen.cdf(truncate[0])), float(frozen.cdf(truncate[1]))
            self.bounds = (max(float(lo), truncate[0]), min(float(hi), truncate[1]))

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        if self.p_lo != 0.0 or self.p_hi != 1.0:
            u = self.p_lo + u * (self.p_hi - self.p_lo)
            return np.clip(self._ppf(u), *self.bounds)
        return self._ppf(u)

    def cdf(self, x):
        p = (self.frozen.cdf(x) - self.p_lo) / (self.p_hi - self.p_lo)
        return np.clip(p, 0.0, 1.0)

    def support(self):
        return self.bounds


@functools.lru_cache(maxsize=512)
def _standard_pinv(a: float, b: float):
    """PINV inverse of the standard beta(a, b) on [0, 1], or None where PINV cannot be built.

    PINV needs a bounded density; beta shapes below 1 have poles at the
    ends. Its domain is the distribution's 1e-13 to 1 - 1e-13 quantiles:
    left to search [0, 1] itself, PINV runs for minutes on some shapes (a
    of 14 with b of 1.8), while the mass given up is below any sample's
    resolution. The set-up (about 30 ms) is cached by shape.
    """
    if a < 1 or b < 1:
        return None
    frozen = stats.beta(a, b)
    domain = (float(frozen.ppf(1e-13)), float(frozen.isf(1e-13)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return NumericalInversePolynomial(frozen, u_resolution=1e-10, center=float(frozen.median()),
                                              domain=domain)
    except (RuntimeWarning, RuntimeError, ValueError):
        return None


def _pinv_ppf(a: float, b: float, loc: float, scale: float):
    """Fast numerical inverse of a beta(a, b, loc, scale) density, or None for scipy's exact (slower) ppf.

    Built on the standard beta and shifted and scaled after: a density in
    raw units far from 0 (a PERT from 1000 to 1000.001) would cost PINV
    seconds and digits.
    """
    gen = _standard_pinv(a, b)
    if gen is None:
        return None
    return lambda u: loc + scale * gen.ppf(u)


# --------------------------------------------------------------------------
# the spec


@dataclass(frozen=True)
class Prior:
    """A named assumption: a distribution, the point value, unit and source.

    Attributes
    ----------
    name : str
        The prior's name, as the model's keyword argument.
    dist : str
        Distribution form, one of :data:`DISTRIBUTIONS`.
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
    file : str
        Where the spec was read (not part of equality).
    built : optional
        The distribution already built from these fields (by
        :func:`parse_prior`); by default it is built here.
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
    file: str = field(default="", compare=False)
    key: str = field(default="", compare=False, repr=False)
    override: bool = field(default=False, compare=False, repr=False)
    impl: Any = field(init=False, compare=False, repr=False)
    built: dataclasses.InitVar[Any] = None

    def __post_init__(self, built):
        # the distribution is derived from the fields, so that dataclasses.replace (which does not pass
        # ``built`` on) never keeps a stale one; parse_prior hands over the one it built to validate the fields
        object.__setattr__(self, "impl", _implementation(self) if built is None else built)

    def __getstate__(self):  # pickled by its fields; the distribution is rebuilt from them
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "impl"}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "impl", _implementation(self))

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
        (``with_params(high=5)`` on a uniform keeps ``low``).

        Raises
        ------
        ConfigError
            If the new parameters are invalid for the form.
        """
        dist = changes.pop("dist", self.dist)
        extra = {k: changes.pop(k) for k in ("point", "truncate") if k in changes}
        table = {"dist": dist, **extra}
        if dist == self.dist:
            old = {k: _thaw(k, v) for k, v in self.params if k not in _TRANSFORMS}
            alone = any(set(changes) == set(alt) for alt in DISTRIBUTIONS.get(dist, ()))
            table.update(changes if alone else {**old, **changes})
        else:
            table.update(changes)
        if "truncate" not in extra and self.truncate is not None and dist == self.dist:
            table["truncate"] = list(self.truncate)
        if dist == "fixed" and "point" not in table:
            raise ConfigError(self.file, self.key or f"priors.{self.name}", "a fixed prior needs point=<value>")
        return parse_prior(self.name, table, file=self.file, key=self.key or f"priors.{self.name}", base=self)

    def ppf(self, u):
        """Map uniforms ``u`` in [0, 1] to values of this prior (same shape, float64)."""
        return self.impl.ppf(u)

    def support(self) -> tuple[float, float]:
        """Smallest and largest possible values (after truncation)."""
        return self.impl.support()

    def median(self) -> float:
        return float(self.ppf(0.5))

    def interval(self, probability: float = 0.9) -> tuple[float, float]:
        """Equal-tailed interval holding ``probability`` of the prior's mass."""
        tail = (1.0 - probability) / 2.0
        return float(self.ppf(tail)), float(self.ppf(1.0 - tail))

    def spec(self) -> dict:
        """The defining fields as plain data (for hashing and for records)."""
        out = {"dist": self.dist, **dict(self.params), "point": self.point}
        if self.truncate is not None:
            out["truncate"] = list(self.truncate)
        return out

    def table(self) -> dict:
        """The prior's defining keys as a priors file gives them (``dist``, parameters, ``point``, ``truncate``)."""
        return {**self.spec(), **{k: _thaw(k, v) for k, v in self.params}}  # spec's keys, parameters thawed

    def describe(self) -> str:
        """Short text such as ``lognormal(ci90=[20, 125])``."""
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params)
        text = f"{self.dist}({args})" if self.dist != "fixed" else f"fixed({_fmt(self.point)})"
        if self.truncate is not None:
            text += f" truncated to [{_fmt(self.truncate[0])}, {_fmt(self.truncate[1])}]"
        return text


def _fmt(v) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _check_support(file: str, key: str, unit: str, dist: str, lo: float, hi: float, signed: bool) -> None:
    """Refuse a prior whose values could be impossible for its quantity: a fraction outside [0, 1], a negative amount."""
    if unit == "fraction" and not (0.0 <= lo and hi <= 1.0):
        how = "use a beta prior or truncate = [0, 1]" if dist in _CONTINUOUS else "give it values in [0, 1]"
        raise ConfigError(file, key, f"unit 'fraction' needs values in [0, 1], but the {dist} prior's support is "
                                     f"[{_fmt(lo)}, {_fmt(hi)}]; {how}")
    if lo < 0 and not signed:
        how = ("truncate it at 0, for example truncate = [0, inf]" if dist in _CONTINUOUS
               else "give it nonnegative values")
        raise ConfigError(file, key, f"a quantity in {unit!r} cannot be negative, but the {dist} prior's support is "
                                     f"[{_fmt(lo)}, {_fmt(hi)}]; {how}, or set allow_negative = true if it can be "
                                     "negative")


def pinned(prior: Prior, value: float, *, file: str = "", key: str = "") -> Prior:
    """A copy of ``prior`` fixed at ``value`` (a scenario's ``set``)."""
    value = _number(file, key, value)
    _check_support(file, key, prior.unit, "fixed", value, value, prior.allow_negative)
    return dataclasses.replace(prior, dist="fixed", params=(), point=value, truncate=None, file=file or prior.file)


class _Band:
    """The part of a distribution between two of its percentiles (a stress test)."""

    def __init__(self, impl, lo: float, hi: float):
        self.impl, self.lo, self.hi = impl, lo, hi

    def ppf(self, u):
        return self.impl.ppf(self.lo + (self.hi - self.lo) * np.asarray(u, dtype=float))

    def support(self):
        return float(self.impl.ppf(self.lo)), float(self.impl.ppf(self.hi))


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
    return dataclasses.replace(prior, params=prior.params + (("percentile_band", (lo, hi)),))


class _Scaled:
    def __init__(self, impl, factor: float):
        self.impl, self.factor = impl, factor

    def ppf(self, u):
        return self.factor * self.impl.ppf(u)

    def support(self):
        lo, hi = (self.factor * v for v in self.impl.support())
        return min(lo, hi), max(lo, hi)


def scaled(prior: Prior, factor: float) -> Prior:
    """``prior`` with every value (and the point) multiplied by ``factor``."""
    return dataclasses.replace(prior, params=prior.params + (("scaled_by", float(factor)),),
                               point=prior.point * factor)


def held(prior: Prior, value: float) -> Prior:
    """``prior`` held at ``value`` but still drawn, so the other priors' draws stay as they were.

    Unlike :func:`pinned` (a scenario's ``set``), the prior keeps its place in
    the sampler: with the Sobol' sampler, whose design is joint over the
    drawn priors, the other priors then see exactly the same points.
    """
    return dataclasses.replace(prior, params=prior.params + (("held_at", float(value)),), point=float(value))


# --------------------------------------------------------------------------
# parsing and validation


def _number(file, key, value, *, positive=False, allow_inf=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(file, key, f"must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ConfigError(file, key, f"must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(file, key, f"must be > 0, got {value!r}")
    return value


def _pair(file, key, value, *, allow_inf=False) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ConfigError(file, key, f"must be a list of two numbers [low, high], got {value!r}")
    lo = _number(file, key, value[0], allow_inf=allow_inf)
    hi = _number(file, key, value[1], allow_inf=allow_inf)
    if not lo < hi:
        raise ConfigError(file, key, f"must be increasing (low < high), got [{_fmt(lo)}, {_fmt(hi)}]")
    return lo, hi


def _in_unit(file, key, value) -> float:
    value = _number(file, key, value)
    if not 0.0 < value < 1.0:
        raise ConfigError(file, key, f"must be inside (0, 1) for a beta prior, got {_fmt(value)}")
    return value


def _fit_beta_ci90(file, key, lo, hi):
    """Shape parameters of the beta whose 5th and 95th percentiles are lo, hi."""
    m, sd = (lo + hi) / 2.0, (hi - lo) / (2.0 * Z90)
    common = max(m * (1 - m) / sd**2 - 1.0, 0.5)
    x0 = np.log([m * common, (1 - m) * common])

    def equations(log_ab):
        a, b = np.exp(log_ab)
        return [special.betainc(a, b, lo) - 0.05, special.betainc(a, b, hi) - 0.95]

    sol = optimize.root(equations, x0, method="hybr", options={"xtol": 1e-12})
    a, b = np.exp(sol.x)
    q = special.betaincinv(a, b, [0.05, 0.95])
    if not np.allclose(q, [lo, hi], rtol=1e-9, atol=0):  # the solution, checked where it matters
        raise ConfigError(file, key, f"no beta distribution has 5th and 95th percentiles "
                                     f"[{_fmt(lo)}, {_fmt(hi)}]; try a normal or pert prior")
    return float(a), float(b)


def _build(name, dist, p, file, key, truncate):
    """Validate the parameters ``p`` of form ``dist`` and return its implementation."""
    k = lambda param: f"{key}.{param}"  # noqa: E731
    if dist == "uniform" or dist == "loguniform":
        low = _number(file, k("low"), p["low"], positive=(dist == "loguniform"))
        high = _number(file, k("high"), p["high"], positive=(dist == "loguniform"))
        if not low < high:
            raise ConfigError(file, k("high"), f"must be greater than low ({_fmt(low)}), got {_fmt(high)}")
        if dist == "uniform":
            return _Continuous(stats.uniform(low, high - low), lambda u: low + (high - low) * u, truncate)
        log_lo, log_span = math.log(low), math.log(high / low)
        return _Continuous(stats.loguniform(low, high), lambda u: np.exp(log_lo + log_span * u), truncate)
    if dist == "normal":
        if "ci90" in p:
            lo, hi = _pair(file, k("ci90"), p["ci90"])
            mean, sd = (lo + hi) / 2.0, (hi - lo) / (2.0 * Z90)
        else:
            mean = _number(file, k("mean"), p["mean"])
            sd = _number(file, k("sd"), p["sd"], positive=True)
        return _Continuous(stats.norm(mean, sd), lambda u: mean + sd * special.ndtri(u), truncate)
    if dist == "lognormal":
        if "ci90" in p:
            lo, hi = _pair(file, k("ci90"), p["ci90"])
            if lo <= 0:
                raise ConfigError(file, k("ci90"), f"lognormal bounds must be > 0, got [{_fmt(lo)}, {_fmt(hi)}]")
            product = lo * hi  # the geometric mean; through the logs where the product overflows
            median = math.sqrt(product) if math.isfinite(product) else math.exp((math.log(lo) + math.log(hi)) / 2.0)
            sigma = math.log(hi / lo) / (2.0 * Z90) if math.isfinite(hi / lo) else (math.log(hi) - math.log(lo)) / (
                2.0 * Z90)
        else:
            median = _number(file, k("median"), p["median"], positive=True)
            gsd = _number(file, k("gsd"), p["gsd"])
            if not gsd > 1.0:
                raise ConfigError(file, k("gsd"), f"geometric sd must be > 1, got {_fmt(gsd)}")
            sigma = math.log(gsd)
        return _Continuous(stats.lognorm(sigma, scale=median),
                           lambda u: median * np.exp(sigma * special.ndtri(u)), truncate)
    if dist in ("beta", "pert"):
        loc, scale = 0.0, 1.0
        if dist == "pert":
            low, mode, high = (_number(file, k(x), p[x]) for x in ("low", "mode", "high"))
            if not (low < high and low <= mode <= high):
                raise ConfigError(file, key, f"pert needs low <= mode <= high and low < high, "
                                             f"got low={_fmt(low)}, mode={_fmt(mode)}, high={_fmt(high)}")
            lam = _number(file, k("lambda"), p.get("lambda", 4.0), positive=True)
            a = 1.0 + lam * (mode - low) / (high - low)
            b = 1.0 + lam * (high - mode) / (high - low)
            loc, scale = low, high - low
        elif "ci90" in p:
            lo, hi = _pair(file, k("ci90"), p["ci90"])
            _in_unit(file, k("ci90"), lo)
            _in_unit(file, k("ci90"), hi)
            a, b = _fit_beta_ci90(file, k("ci90"), lo, hi)
        elif "mean" in p:
            mean = _in_unit(file, k("mean"), p["mean"])
            sd = _number(file, k("sd"), p["sd"], positive=True)
            if not sd**2 < mean * (1 - mean):
                raise ConfigError(file, k("sd"), f"a beta with mean {_fmt(mean)} needs sd < "
                                                 f"{_fmt(math.sqrt(mean * (1 - mean)))}, got {_fmt(sd)}")
            common = mean * (1 - mean) / sd**2 - 1.0
            a, b = mean * common, (1 - mean) * common
        else:
            a = _number(file, k("a"), p["a"], positive=True)
            b = _number(file, k("b"), p["b"], positive=True)
        frozen = stats.beta(a, b, loc=loc, scale=scale)
        return _Continuous(frozen, _pinv_ppf(a, b, loc, scale), truncate)
    if dist == "triangular":
        low, mode, high = (_number(file, k(x), p[x]) for x in ("low", "mode", "high"))
        if not (low < high and low <= mode <= high):
            raise ConfigError(file, key, f"triangular needs low <= mode <= high and low < high, "
                                         f"got low={_fmt(low)}, mode={_fmt(mode)}, high={_fmt(high)}")
        return _Continuous(stats.triang((mode - low) / (high - low), loc=low, scale=high - low), None, truncate)
    if dist == "choice":
        values = p["values"]
        if not isinstance(values, list) or not values:
            raise ConfigError(file, k("values"), f"must be a non-empty list of numbers, got {values!r}")
        values = [_number(file, k("values"), v) for v in values]
        if len(set(values)) != len(values):
            raise ConfigError(file, k("values"), f"values must be distinct, got {_fmt(values)}")
        weights = p.get("weights", [1.0] * len(values))
        if not isinstance(weights, list) or len(weights) != len(values):
            raise ConfigError(file, k("weights"), f"must be a list of {len(values)} numbers, one per value, "
                                                  f"got {weights!r}")
        weights = [_number(file, k("weights"), w) for w in weights]
        if min(weights) < 0 or not sum(weights) > 0:
            raise ConfigError(file, k("weights"), f"weights must be >= 0 with a positive sum, got {_fmt(weights)}")
        return _Choice(values, weights)
    if dist == "scipy":
        return _build_scipy(p, file, key, truncate)
    raise AssertionError(dist)  # unreachable: forms are checked before


def _build_scipy(p, file, key, truncate):
    name = p["name"]
    cls = getattr(stats, name, None) if isinstance(name, str) and not name.startswith("_") else None
    if not isinstance(cls, stats.rv_continuous):
        raise ConfigError(file, f"{key}.name", f"{name!r} is not a scipy.stats continuous distribution "
                                               f"(for example 'gamma', 'weibull_min', 'lognorm')")
    params = p.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(file, f"{key}.params", f"must be a table of numbers, got {params!r}")
    valid = [s.strip() for s in (cls.shapes or "").split(",") if s.strip()] + ["loc", "scale"]
    for pk, pv in params.items():
        if pk not in valid:
            raise ConfigError(file, f"{key}.params.{pk}", f"not a parameter of scipy.stats.{name}; "
                                                          f"valid: {', '.join(valid)}")
        _number(file, f"{key}.params.{pk}", pv)
    missing = [s for s in valid[:-2] if s not in params]
    if missing:
        raise ConfigError(file, f"{key}.params", f"scipy.stats.{name} needs {', '.join(missing)}")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frozen = cls(**{pk: float(pv) for pk, pv in params.items()})
        ok = np.all(np.isfinite(frozen.ppf([0.05, 0.5, 0.95])))
        support = _drawn_support(frozen) if ok else None
    if not ok:
        raise ConfigError(file, f"{key}.params", f"{_fmt(params)} lies outside the domain of scipy.stats.{name}")
    return _Continuous(frozen, None, truncate, support)


def _drawn_support(frozen) -> tuple[float, float]:
    """The range a scipy distribution draws from: its support, with an infinite end replaced by the quantile
    at 1e-300 where that is finite (scipy gives ``vonmises`` the support [-inf, inf], yet it draws in [-pi, pi])."""
    lo, hi = (float(v) for v in frozen.support())
    inner_lo, inner_hi = (float(v) for v in frozen.ppf([0.05, 0.95]))
    if lo == -math.inf:
        edge = float(frozen.ppf(1e-300))
        lo = edge if math.isfinite(edge) and edge <= inner_lo else lo
    if hi == math.inf:
        edge = float(frozen.isf(1e-300))
        hi = edge if math.isfinite(edge) and edge >= inner_hi else hi
    return lo, hi


def _str(file, key, value) -> str:
    if not isinstance(value, str):
        raise ConfigError(file, key, f"must be a string, got {value!r}")
    return value


def parse_prior(name: str, table: Any, *, file: str, key: str, base: Prior | None = None) -> Prior:
    """Validate one prior table and return its frozen :class:`Prior`.

    Parameters
    ----------
    name : str
        The prior's name.
    table : dict
        The TOML table.
    file, key : str
        Where the table was read, for error messages.
    base : Prior, optional
        The prior a scenario overrides: ``unit``, ``source``, ``note`` and
        ``long_name`` default to the base's, and ``point`` to the new
        distribution's median.

    Raises
    ------
    ConfigError
        If anything in the table is missing, unknown or invalid.
    """
    if not isinstance(table, dict):
        raise ConfigError(file, key, f"must be a table with a 'dist' key, got {table!r}")
    if "dist" not in table:
        raise ConfigError(file, f"{key}.dist", f"missing; valid: {', '.join(DISTRIBUTIONS)}")
    dist = table["dist"]
    if dist not in DISTRIBUTIONS:
        raise ConfigError(file, f"{key}.dist", f"unknown distribution {dist!r}; valid: {', '.join(DISTRIBUTIONS)}")
    alternatives = DISTRIBUTIONS[dist]
    param_keys = {x for alt in alternatives for x in alt}
    allowed = (param_keys | set(DESCRIPTIVE_KEYS) | {"dist", "allow_negative", "override"}
               | ({"truncate"} if dist in _CONTINUOUS else set()))
    for tk in table:
        if tk not in allowed:
            raise ConfigError(file, f"{key}.{tk}", f"unknown key for a {dist} prior; valid: "
                                                   f"{', '.join(sorted(allowed - {'dist'}))}")
    given = tuple(x for x in sorted(param_keys) if x in table)
    if set(given) not in [set(alt) for alt in alternatives]:
        options = " or ".join("(" + ", ".join(alt) + ")" for alt in alternatives)
        raise ConfigError(file, key, f"a {dist} prior takes {options}; got ({', '.join(given)})")
    params = {x: table[x] for x in given}

    truncate = None
    if "truncate" in table:
        truncate = _pair(file, f"{key}.truncate", table["truncate"], allow_inf=True)

    if dist == "fixed":
        if "point" not in table:
            raise ConfigError(file, f"{key}.point", "missing; a fixed prior needs its value as point")
        impl = _Fixed(_number(file, f"{key}.point", table["point"]))
    else:
        impl = _distribution(dist, params, truncate, file, key)

    if "point" in table:
        point = _number(file, f"{key}.point", table["point"])
    elif base is not None:
        point = float(impl.ppf(0.5))
    else:
        raise ConfigError(file, f"{key}.point", "missing; every prior needs the value point mode uses")
    lo, hi = impl.support()
    if not lo <= point <= hi:
        raise ConfigError(file, f"{key}.point", f"{_fmt(point)} lies outside the prior's support "
                                                f"[{_fmt(lo)}, {_fmt(hi)}]")

    text = {}
    for tk in ("unit", "source", "note", "long_name"):
        if tk in table:
            text[tk] = _str(file, f"{key}.{tk}", table[tk])
        elif base is not None:
            text[tk] = getattr(base, tk)
    if "unit" not in text:
        raise ConfigError(file, f"{key}.unit", "missing; give the unit (for example \"USD\", \"words\", \"fraction\")")
    signed = table.get("allow_negative", base.allow_negative if base is not None else False)
    if not isinstance(signed, bool):
        raise ConfigError(file, f"{key}.allow_negative", f"must be true or false, got {signed!r}")
    _check_support(file, key, text["unit"], dist, lo, hi, signed)
    if not (text.get("source") or text.get("note")):
        raise ConfigError(file, key, "needs a 'source' or a 'note' saying where the value and range come from")

    override = table.get("override", False)
    if not isinstance(override, bool):
        raise ConfigError(file, f"{key}.override", f"must be true or false, got {override!r}")
    frozen_params = tuple((x, _freeze(params[x])) for x in given)
    return Prior(name=name, dist=dist, params=frozen_params, point=point, truncate=truncate,
                 file=file, key=key, allow_negative=signed, override=override, built=impl, **text)


def _freeze(value):
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


#: Parameters that restrict, scale or hold a prior's draws (see :func:`banded`, :func:`scaled`, :func:`held`).
_TRANSFORMS = ("percentile_band", "scaled_by", "held_at")


def _thaw(key: str, value):
    """A frozen parameter as a file would give it: tuples as lists, ``params`` as a table."""
    if key == "params":
        return {k: _thaw(k, v) for k, v in value}
    if isinstance(value, tuple):
        return [_thaw("", v) for v in value]
    return value


def _distribution(dist: str, params: dict, truncate, file: str, key: str):
    """The implementation of form ``dist`` with ``params`` (validated), truncated if asked.

    A distribution whose numbers overflow (``uniform`` from -1e308 to 1e308,
    a PERT whose shape parameters reach infinity) is refused here, naming the
    prior: its quantiles come out NaN, infinite, or all the same value.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        impl = _build("", dist, params, file, key, truncate)
        if truncate is not None and not impl.p_hi - impl.p_lo > 0:
            raise ConfigError(file, f"{key}.truncate", f"[{_fmt(truncate[0])}, {_fmt(truncate[1])}] holds "
                                                       f"no probability of the {dist} distribution")
        if isinstance(impl, _Continuous):
            _check_draws(impl, dist, file, key)
    return impl


def _check_draws(impl: "_Continuous", dist: str, file: str, key: str) -> None:
    """Refuse a continuous distribution whose draws are not finite, increasing numbers in its support."""
    u = np.array([0.05, 0.5, 0.95])
    q = np.asarray(impl.ppf(u), dtype=float)
    lo, hi = impl.support()
    exact = impl.frozen.ppf(impl.p_lo + u * (impl.p_hi - impl.p_lo)) if impl.fast else q
    spread = q[2] - q[0]
    if (np.all(np.isfinite(q)) and np.all(np.isfinite(exact)) and q[0] < q[2] and not (math.isnan(lo) or math.isnan(hi))
            and np.all(np.abs(q - exact) <= 1e-4 * spread) and lo <= q[0] and q[2] <= hi):
        return
    raise ConfigError(file, key, f"the {dist} distribution's numbers overflow or leave its domain (its 5th, 50th "
                                 f"and 95th percentiles come out as {_fmt([float(v) for v in q])}); give "
                                 "parameters of a smaller magnitude, for example in a larger unit")


def _implementation(prior: Prior):
    """A prior's distribution, from its form, parameters, truncation and transforms."""
    if prior.dist == "fixed":
        return _Fixed(prior.point)
    base = {k: _thaw(k, v) for k, v in prior.params if k not in _TRANSFORMS}
    impl = _distribution(prior.dist, base, prior.truncate, prior.file, prior.key or f"priors.{prior.name}")
    for k, v in prior.params:
        if k == "percentile_band":
            impl = _Band(impl, *v)
        elif k == "scaled_by":
            impl = _Scaled(impl, v)
        elif k == "held_at":
            impl = _Fixed(v)
    return impl


PRIORS_FILE_KEYS = ("title", "description", "priors", "correlations")


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
    file = str(path)
    data = read_toml(path, "priors file")
    for tk in data:
        if tk not in PRIORS_FILE_KEYS:
            raise ConfigError(file, tk, f"unknown top-level key; valid: {', '.join(PRIORS_FILE_KEYS)}")
    for tk in ("title", "description"):
        if tk in data:
            _str(file, tk, data[tk])
    table = data.get("priors")
    if not isinstance(table, dict) or not table:
        raise ConfigError(file, "priors", "missing or empty; define priors as [priors.NAME] tables")
    priors = {name: parse_prior(name, spec, file=file, key=f"priors.{name}") for name, spec in table.items()}
    pairs = parse_correlations(data["correlations"], file=file, priors=priors) if "correlations" in data else {}
    return priors, pairs


def parse_correlations(table: Any, *, file: str, priors: Mapping[str, Prior],
                       key: str = "correlations") -> dict[tuple[str, str], float]:
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
        raise ConfigError(file, key, "must be a table with pairs = [[name, name, rho], ...] "
                                     "or names = [...] and matrix = [[...], ...]")
    for tk in table:
        if tk not in ("pairs", "names", "matrix"):
            raise ConfigError(file, f"{key}.{tk}", "unknown key; valid: pairs, or names and matrix")
    if "pairs" in table and ("names" in table or "matrix" in table):
        raise ConfigError(file, key, "give pairs, or names and matrix, not both")

    def name_of(k, name):
        if not isinstance(name, str) or name not in priors:
            raise ConfigError(file, k, f"no prior named {name!r}; the priors here are: {', '.join(priors)}")
        if priors[name].is_fixed:
            raise ConfigError(file, k, f"prior {name!r} is fixed; only drawn priors can be correlated")
        return name

    def rho_of(k, value):
        rho = _number(file, k, value)
        if not -1.0 <= rho <= 1.0:
            raise ConfigError(file, k, f"a rank correlation must lie in [-1, 1], got {_fmt(rho)}")
        return rho

    out: dict[tuple[str, str], float] = {}
    if "pairs" in table:
        pairs = table["pairs"]
        if not isinstance(pairs, list) or not pairs:
            raise ConfigError(file, f"{key}.pairs", f"must be a list of [name, name, rho], got {pairs!r}")
        for i, item in enumerate(pairs):
            k = f"{key}.pairs[{i}]"
            if not isinstance(item, list) or len(item) != 3:
                raise ConfigError(file, k, f"must be [name, name, rho], got {item!r}")
            a, b = name_of(k, item[0]), name_of(k, item[1])
            if a == b:
                raise ConfigError(file, k, f"pairs {a!r} with itself; a prior's correlation with itself is 1")
            pair = tuple(sorted((a, b)))
            if pair in out:
                raise ConfigError(file, k, f"the pair {a!r}, {b!r} is given twice")
            out[pair] = rho_of(k, item[2])
        return out
    names, matrix = table.get("names"), table.get("matrix")
    if not isinstance(names, list) or len(names) < 2:
        raise ConfigError(file, f"{key}.names", f"must list at least two prior names, got {names!r}")
    names = [name_of(f"{key}.names", n) for n in names]
    if len(set(names)) != len(names):
        raise ConfigError(file, f"{key}.names", "names a prior more than once")
    d = len(names)
    if not (isinstance(matrix, list) and len(matrix) == d and all(isinstance(r, list) and len(r) == d for r in matrix)):
        raise ConfigError(file, f"{key}.matrix", f"must be a {d} x {d} list of rows, one per name")
    values = [[rho_of(f"{key}.matrix[{i}][{j}]", v) for j, v in enumerate(row)] for i, row in enumerate(matrix)]
    for i in range(d):
        if values[i][i] != 1.0:
            raise ConfigError(file, f"{key}.matrix[{i}][{i}]", f"the diagonal must be 1, got {_fmt(values[i][i])}")
        for j in range(i):
            if values[i][j] != values[j][i]:
                raise ConfigError(file, f"{key}.matrix[{i}][{j}]",
                                  f"the matrix must be symmetric: [{i}][{j}] = {_fmt(values[i][j])} but "
                                  f"[{j}][{i}] = {_fmt(values[j][i])}")
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
