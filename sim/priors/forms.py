"""Distribution forms: one builder per form in a registry, and the distributions they build.

Each form (``uniform``, ``lognormal``, ``beta`` ...) is registered with the
parameter sets it accepts and a builder that validates the parameters and
returns a distribution: an object with ``ppf(u)``, ``cdf(x)`` and ``support()``. The
scipy distribution behind each continuous form is the reference; closed forms
(uniform, log-uniform, normal, lognormal) use the same formula on
``scipy.special.ndtri`` without scipy's per-call overhead, and beta-family
forms use :class:`scipy.stats.sampling.NumericalInversePolynomial`, whose
inverse is about 30 times faster than ``scipy.stats.beta.ppf`` at a u-error
below 1e-10.

The module is long because it holds one builder per distribution form (ten), each validating its
parameters with its own messages.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats
from scipy.stats.sampling import NumericalInversePolynomial

from .. import _checks as check
from .._checks import fmt
from ..errors import Location

__all__ = ["Form", "FORMS", "build", "register", "weights", "Fixed", "Choice", "Continuous", "Band", "Scaled", "Z90"]

#: Standard normal quantile at 0.95: a 90 % interval spans mean +- Z90 * sd.
Z90 = float(special.ndtri(0.95))


# --------------------------------------------------------------------------
# distributions: each has ppf(u), cdf(x) and support()


def _affine(y, scale: float, shift: float):
    """``shift + scale * y``, in place where ``y`` is a new array (the same rounding as the expression, without its
    temporaries: the inverse CDFs of a streamed run spend a third of their time allocating)."""
    if not isinstance(y, np.ndarray) or y.ndim == 0:
        return shift + scale * y
    y *= scale
    y += shift
    return y


def _scaled_exp(y, sigma: float, median: float):
    """``median * exp(sigma * y)``, in place where ``y`` is a new array (see :func:`_affine`)."""
    if not isinstance(y, np.ndarray) or y.ndim == 0:
        return median * np.exp(sigma * y)
    y *= sigma
    np.exp(y, out=y)
    y *= median
    return y


class Fixed:
    def __init__(self, value: float):
        self.value = value

    def ppf(self, u):
        return np.full(np.shape(u), self.value, dtype=float)

    def cdf(self, x):
        return (np.asarray(x, dtype=float) >= self.value).astype(float)

    def support(self):
        return self.value, self.value


class Choice:
    """A discrete set of values with weights; ppf is the generalised inverse CDF."""

    def __init__(self, values, weights):
        order = np.argsort(values, kind="stable")
        self.values = np.asarray(values, dtype=float)[order]
        w = np.asarray(weights, dtype=float)[order]
        self.probabilities = w / w.sum()
        self.cum = np.cumsum(self.probabilities)
        self.cum[-1] = 1.0

    def ppf(self, u):
        return self.values.take(np.searchsorted(self.cum, u, side="left"), mode="clip")

    def cdf(self, x):
        idx = np.searchsorted(self.values, np.asarray(x, dtype=float), side="right")
        return np.concatenate([[0.0], self.cum])[idx]

    def support(self):
        return float(self.values[0]), float(self.values[-1])


class Continuous:
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


class Band:
    """The part of a distribution between two of its percentiles (a stress test)."""

    def __init__(self, dist, lo: float, hi: float):
        self.dist, self.lo, self.hi = dist, lo, hi

    def ppf(self, u):
        return self.dist.ppf(self.lo + (self.hi - self.lo) * np.asarray(u, dtype=float))

    def cdf(self, x):
        return np.clip((self.dist.cdf(x) - self.lo) / (self.hi - self.lo), 0.0, 1.0)

    def support(self):
        return float(self.dist.ppf(self.lo)), float(self.dist.ppf(self.hi))


class Scaled:
    """A distribution with every value multiplied by a factor."""

    def __init__(self, dist, factor: float):
        self.dist, self.factor = dist, factor

    def ppf(self, u):
        return self.factor * self.dist.ppf(u)

    def cdf(self, x):
        p = self.dist.cdf(np.asarray(x, dtype=float) / self.factor)
        return p if self.factor > 0 else 1.0 - p

    def support(self):
        lo, hi = (self.factor * v for v in self.dist.support())
        return min(lo, hi), max(lo, hi)


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
    return lambda u: _affine(gen.ppf(u), scale, loc)


# --------------------------------------------------------------------------
# the registry


@dataclass(frozen=True)
class Form:
    """A distribution form: the parameter sets it accepts (alternatives) and its builder.

    ``build(params, at, truncate)`` validates ``params`` (one of the sets, as
    a file gives them) and returns the distribution; ``at`` locates the
    prior's table for messages. A continuous form may be truncated.
    """

    name: str
    parameters: tuple[tuple[str, ...], ...]
    build: Callable
    continuous: bool = True


#: Every form, by name, in the order messages list them.
FORMS: dict[str, Form] = {}


def register(name: str, *parameters: tuple[str, ...], continuous: bool = True):
    """A decorator that registers ``builder`` as form ``name`` taking one of the ``parameters`` sets."""
    def add(builder: Callable) -> Callable:
        FORMS[name] = Form(name, parameters, builder, continuous)
        return builder
    return add


@register("fixed", (), continuous=False)
def _fixed(p, at, truncate):  # a fixed prior's value is its point: see parse_prior
    raise AssertionError("a fixed prior is built from its point")


@register("uniform", ("low", "high"))
def _uniform(p, at, truncate):
    low, high = _bounds(p, at, positive=False)
    return Continuous(stats.uniform(low, high - low), lambda u: low + (high - low) * u, truncate)


@register("loguniform", ("low", "high"))
def _loguniform(p, at, truncate):
    low, high = _bounds(p, at, positive=True)
    log_lo, log_span = math.log(low), math.log(high / low)
    return Continuous(stats.loguniform(low, high), lambda u: np.exp(log_lo + log_span * u), truncate)


def _bounds(p, at: Location, *, positive: bool) -> tuple[float, float]:
    low = check.number(p["low"], at.at("low"), positive=positive)
    high = check.number(p["high"], at.at("high"), positive=positive)
    if not low < high:
        check.fail(at.at("high"), f"must be greater than low ({fmt(low)}), got {fmt(high)}")
    return low, high


@register("normal", ("mean", "sd"), ("ci90",))
def _normal(p, at, truncate):
    if "ci90" in p:
        lo, hi = check.pair(p["ci90"], at.at("ci90"))
        mean, sd = (lo + hi) / 2.0, (hi - lo) / (2.0 * Z90)
    else:
        mean = check.number(p["mean"], at.at("mean"))
        sd = check.number(p["sd"], at.at("sd"), positive=True)
    return Continuous(stats.norm(mean, sd), lambda u: _affine(special.ndtri(u), sd, mean), truncate)


@register("lognormal", ("median", "gsd"), ("ci90",))
def _lognormal(p, at, truncate):
    if "ci90" in p:
        lo, hi = check.pair(p["ci90"], at.at("ci90"))
        if lo <= 0:
            check.fail(at.at("ci90"), f"lognormal bounds must be > 0, got [{fmt(lo)}, {fmt(hi)}]")
        product = lo * hi  # the geometric mean; through the logs where the product overflows
        median = math.sqrt(product) if math.isfinite(product) else math.exp((math.log(lo) + math.log(hi)) / 2.0)
        sigma = math.log(hi / lo) / (2.0 * Z90) if math.isfinite(hi / lo) else (math.log(hi) - math.log(lo)) / (
            2.0 * Z90)
    else:
        median = check.number(p["median"], at.at("median"), positive=True)
        gsd = check.number(p["gsd"], at.at("gsd"))
        if not gsd > 1.0:
            check.fail(at.at("gsd"), f"geometric sd must be > 1, got {fmt(gsd)}")
        sigma = math.log(gsd)
    return Continuous(stats.lognorm(sigma, scale=median), lambda u: _scaled_exp(special.ndtri(u), sigma, median),
                      truncate)


def _in_unit(value, at: Location) -> float:
    value = check.number(value, at)
    if not 0.0 < value < 1.0:
        check.fail(at, f"must be inside (0, 1) for a beta prior, got {fmt(value)}")
    return value


def _fit_beta_ci90(at: Location, lo: float, hi: float) -> tuple[float, float]:
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
        check.fail(at, f"no beta distribution has 5th and 95th percentiles [{fmt(lo)}, {fmt(hi)}]; try a normal or "
                       "pert prior")
    return float(a), float(b)


@register("beta", ("a", "b"), ("mean", "sd"), ("ci90",))
def _beta(p, at, truncate):
    if "ci90" in p:
        lo, hi = check.pair(p["ci90"], at.at("ci90"))
        _in_unit(lo, at.at("ci90"))
        _in_unit(hi, at.at("ci90"))
        a, b = _fit_beta_ci90(at.at("ci90"), lo, hi)
    elif "mean" in p:
        mean = _in_unit(p["mean"], at.at("mean"))
        sd = check.number(p["sd"], at.at("sd"), positive=True)
        if not sd**2 < mean * (1 - mean):
            check.fail(at.at("sd"), f"a beta with mean {fmt(mean)} needs sd < {fmt(math.sqrt(mean * (1 - mean)))}, "
                                    f"got {fmt(sd)}")
        common = mean * (1 - mean) / sd**2 - 1.0
        a, b = mean * common, (1 - mean) * common
    else:
        a = check.number(p["a"], at.at("a"), positive=True)
        b = check.number(p["b"], at.at("b"), positive=True)
    return Continuous(stats.beta(a, b), _pinv_ppf(a, b, 0.0, 1.0), truncate)


def _low_mode_high(p, at: Location, form: str) -> tuple[float, float, float]:
    low, mode, high = (check.number(p[x], at.at(x)) for x in ("low", "mode", "high"))
    if not (low < high and low <= mode <= high):
        check.fail(at, f"{form} needs low <= mode <= high and low < high, got low={fmt(low)}, mode={fmt(mode)}, "
                       f"high={fmt(high)}")
    return low, mode, high


@register("triangular", ("low", "mode", "high"))
def _triangular(p, at, truncate):
    low, mode, high = _low_mode_high(p, at, "triangular")
    return Continuous(stats.triang((mode - low) / (high - low), loc=low, scale=high - low), None, truncate)


@register("pert", ("low", "mode", "high"), ("low", "mode", "high", "lambda"))
def _pert(p, at, truncate):
    low, mode, high = _low_mode_high(p, at, "pert")
    lam = check.number(p.get("lambda", 4.0), at.at("lambda"), positive=True)
    a = 1.0 + lam * (mode - low) / (high - low)
    b = 1.0 + lam * (high - mode) / (high - low)
    return Continuous(stats.beta(a, b, loc=low, scale=high - low), _pinv_ppf(a, b, low, high - low), truncate)


@register("choice", ("values",), ("values", "weights"), continuous=False)
def _choice(p, at, truncate):
    values = p["values"]
    if not isinstance(values, list) or not values:
        check.fail(at.at("values"), f"must be a non-empty list of numbers, got {values!r}")
    values = [check.number(v, at.at("values")) for v in values]
    if len(set(values)) != len(values):
        check.fail(at.at("values"), f"values must be distinct, got {fmt(values)}")
    return Choice(values, weights(p, len(values), "value", at))


def weights(p: dict, n: int, what: str, at: Location) -> list[float]:
    """A table's ``weights``: ``n`` numbers, one per ``what``, none below 0 and their sum above 0 (default: equal)."""
    given = p.get("weights", [1.0] * n)
    if not isinstance(given, list) or len(given) != n:
        check.fail(at.at("weights"), f"must be a list of {n} numbers, one per {what}, got {given!r}")
    given = [check.number(w, at.at("weights")) for w in given]
    if min(given) < 0 or not sum(given) > 0:
        check.fail(at.at("weights"), f"weights must be >= 0 with a positive sum, got {fmt(given)}")
    return given


@register("scipy", ("name",), ("name", "params"))
def _scipy(p, at, truncate):
    name = p["name"]
    cls = getattr(stats, name, None) if isinstance(name, str) and not name.startswith("_") else None
    if not isinstance(cls, stats.rv_continuous):
        check.fail(at.at("name"), f"{name!r} is not a scipy.stats continuous distribution (for example 'gamma', "
                                  "'weibull_min', 'lognorm')")
    params = p.get("params", {})
    if not isinstance(params, dict):
        check.fail(at.at("params"), f"must be a table of numbers, got {params!r}")
    valid = [s.strip() for s in (cls.shapes or "").split(",") if s.strip()] + ["loc", "scale"]
    for pk, pv in params.items():
        if pk not in valid:
            check.fail(at.at("params", pk), f"not a parameter of scipy.stats.{name}; {check.choices(pk, valid)}")
        check.number(pv, at.at("params", pk))
    missing = [s for s in valid[:-2] if s not in params]
    if missing:
        check.fail(at.at("params"), f"scipy.stats.{name} needs {', '.join(missing)}")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frozen = cls(**{pk: float(pv) for pk, pv in params.items()})
        ok = np.all(np.isfinite(frozen.ppf([0.05, 0.5, 0.95])))
        support = _drawn_support(frozen) if ok else None
    if not ok:
        check.fail(at.at("params"), f"{fmt(params)} lies outside the domain of scipy.stats.{name}")
    return Continuous(frozen, None, truncate, support)


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


def build(form: str, params: dict, truncate: tuple[float, float] | None, at: Location):
    """The distribution of ``form`` with ``params`` (validated), truncated if asked.

    A distribution whose numbers overflow (``uniform`` from -1e308 to 1e308,
    a PERT whose shape parameters reach infinity) is refused here, naming the
    prior: its quantiles come out NaN, infinite, or all the same value.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dist = FORMS[form].build(params, at, truncate)
        if truncate is not None and not dist.p_hi - dist.p_lo > 0:
            check.fail(at.at("truncate"), f"[{fmt(truncate[0])}, {fmt(truncate[1])}] holds no probability of the "
                                          f"{form} distribution")
        if isinstance(dist, Continuous):
            _check_draws(dist, form, at)
    return dist


def _check_draws(dist: Continuous, form: str, at: Location) -> None:
    """Refuse a continuous distribution whose draws are not finite, increasing numbers in its support."""
    u = np.array([0.05, 0.5, 0.95])
    q = np.asarray(dist.ppf(u), dtype=float)
    lo, hi = dist.support()
    exact = dist.frozen.ppf(dist.p_lo + u * (dist.p_hi - dist.p_lo)) if dist.fast else q
    spread = q[2] - q[0]
    if (np.all(np.isfinite(q)) and np.all(np.isfinite(exact)) and q[0] < q[2] and not (math.isnan(lo) or math.isnan(hi))
            and np.all(np.abs(q - exact) <= 1e-4 * spread) and lo <= q[0] and q[2] <= hi):
        return
    check.fail(at, f"the {form} distribution's numbers overflow or leave its domain (its 5th, 50th and 95th "
                   f"percentiles come out as {fmt([float(v) for v in q])}); give parameters of a smaller magnitude, "
                   "for example in a larger unit")
