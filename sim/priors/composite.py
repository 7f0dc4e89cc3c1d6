"""Two forms for what experts say: a metalog through their quantiles, and a mixture of forms where they disagree.

``metalog``: Keelin's (2016) quantile-parameterised distribution. Given n
quantiles (p_i, x_i) it is the distribution whose quantile function

    M(y) = a1 + a2 L + a3 (y - 1/2) L + a4 (y - 1/2) + a5 (y - 1/2)^2 + a6 (y - 1/2)^2 L + ...,
    L = ln(y / (1 - y)),

passes through every one of them: n terms, the coefficients a linear solve.
A lower bound l takes logs (M describes ln(x - l)), bounds l and u the logit
ln((x - l) / (u - x)). A metalog is valid only where M increases; the builder
checks that on a fine grid and says so when the quantiles allow none.

``mixture``: components of any continuous form with weights; its CDF is the
weighted sum of theirs and its quantile function the inverse of that, by
monotone interpolation on a grid that holds every component's quantiles
(the error in u is below 1e-6, under the Monte Carlo error of any run).

Both are written here rather than taken from a library: the metalog packages
on PyPI (``pymetalog``, ``metalog``) are unmaintained since 2020, and the
other brings JAX; the quantile function is a linear solve of a few terms.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .. import _checks as check
from .._checks import fmt
from ..errors import Location
from . import forms

__all__ = ["Metalog", "Mixture", "metalog_coefficients", "metalog_basis"]

#: Probabilities the grids of the quantile functions run over: dense in logit space, out to 1e-12 in each tail.
_GRID = special.expit(np.linspace(special.logit(1e-12), special.logit(1 - 1e-12), 1 << 15))


def metalog_basis(y: np.ndarray, terms: int) -> np.ndarray:
    """The metalog's basis functions at probabilities ``y``: shape (len(y), terms), in Keelin's order: 1, L, then
    for term k >= 3 (y - 1/2)^m with m = floor((k - 1) / 2), times L for k = 3 and for even k >= 6."""
    y = np.asarray(y, dtype=float)
    logit, centred = np.log(y / (1 - y)), y - 0.5
    columns = [np.ones_like(y), logit]
    for k in range(3, terms + 1):
        power = centred ** ((k - 1) // 2)
        columns.append(power * logit if k == 3 or (k % 2 == 0 and k >= 6) else power)
    return np.stack(columns[:terms], axis=-1)


def metalog_coefficients(p, x, lower: float | None = None, upper: float | None = None) -> np.ndarray:
    """The coefficients of the metalog through quantiles ``(p_i, x_i)``, as many terms as quantiles."""
    z = _transform(np.asarray(x, dtype=float), lower, upper)
    return np.linalg.solve(metalog_basis(np.asarray(p, dtype=float), len(z)), z)


def _transform(x, lower, upper):
    if lower is not None and upper is not None:
        return np.log((x - lower) / (upper - x))
    if lower is not None:
        return np.log(x - lower)
    if upper is not None:
        return -np.log(upper - x)
    return x


def _back(m, lower, upper):
    if lower is not None and upper is not None:
        return lower + (upper - lower) * special.expit(m)
    if lower is not None:
        return lower + np.exp(m)
    if upper is not None:
        return upper - np.exp(-m)
    return m


class Metalog:
    """A metalog distribution: coefficients ``a`` and optional bounds; ``ppf`` in closed form, ``cdf`` by
    interpolating the quantile function's grid."""

    def __init__(self, a: np.ndarray, lower: float | None, upper: float | None):
        self.a, self.lower, self.upper = np.asarray(a, dtype=float), lower, upper
        self._x = self.ppf(_GRID)

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        inner = np.clip(u, 1e-300, 1 - 1e-16)  # the ends map to the bounds (or to the extreme quantiles)
        out = _back(metalog_basis(inner, len(self.a)) @ self.a, self.lower, self.upper)
        if self.lower is not None:
            out = np.where(u <= 0, self.lower, out)
        if self.upper is not None:
            out = np.where(u >= 1, self.upper, out)
        return out

    def cdf(self, x):
        return np.interp(np.asarray(x, dtype=float), self._x, _GRID, left=0.0, right=1.0)

    def support(self):
        return (self.lower if self.lower is not None else float(self._x[0]),
                self.upper if self.upper is not None else float(self._x[-1]))


@forms.register("metalog", ("quantiles",), ("quantiles", "lower"), ("quantiles", "upper"),
                ("quantiles", "lower", "upper"))
def _metalog(p, at: Location, truncate):
    pairs = p["quantiles"]
    where = at.at("quantiles")
    if not isinstance(pairs, list) or len(pairs) < 3 or not all(isinstance(q, list) and len(q) == 2 for q in pairs):
        check.fail(where, "must be three or more [probability, value] pairs, such as [[0.05, 2], [0.5, 5], "
                          f"[0.95, 20]], got {pairs!r}")
    probs = [check.number(q[0], where) for q in pairs]
    values = [check.number(q[1], where) for q in pairs]
    order = np.argsort(probs)
    probs, values = np.asarray(probs)[order], np.asarray(values)[order]
    if not (0 < probs[0] and probs[-1] < 1 and np.all(np.diff(probs) > 0)):
        check.fail(where, f"probabilities must be distinct and inside (0, 1), got {fmt(list(probs))}")
    if not np.all(np.diff(values) > 0):
        check.fail(where, f"values must increase with their probabilities, got {fmt(list(values))}")
    if len(probs) > 16:
        check.fail(where, f"at most 16 quantiles (a metalog of more terms is ill-conditioned), got {len(probs)}")
    lower = check.number(p["lower"], at.at("lower")) if "lower" in p else None
    upper = check.number(p["upper"], at.at("upper")) if "upper" in p else None
    if lower is not None and not lower < values[0]:
        check.fail(at.at("lower"), f"must be below the smallest value ({fmt(values[0])}), got {fmt(lower)}")
    if upper is not None and not values[-1] < upper:
        check.fail(at.at("upper"), f"must be above the largest value ({fmt(values[-1])}), got {fmt(upper)}")
    a = metalog_coefficients(probs, values, lower, upper)
    dist = Metalog(a, lower, upper)
    if not np.all(np.diff(dist._x) > 0):
        check.fail(where, f"no valid metalog passes through {fmt([[float(q), float(v)] for q, v in zip(probs, values)])}"
                          ": its quantile function would decrease somewhere; space the quantiles more evenly, give "
                          "bounds, or use fewer quantiles")
    return forms.Continuous(_Frozen(dist), dist.ppf, truncate, dist.support())


class _Frozen:
    """What :class:`~sim.priors.forms.Continuous` reads of a scipy frozen distribution, for forms of our own."""

    def __init__(self, dist):
        self.dist = dist

    def ppf(self, u):
        return self.dist.ppf(u)

    def cdf(self, x):
        return self.dist.cdf(x)

    def support(self):
        return self.dist.support()


class Mixture:
    """Components with weights: the CDF their weighted sum, the quantile function its inverse on a grid."""

    def __init__(self, components, weights):
        self.components, self.weights = components, np.asarray(weights, dtype=float) / np.sum(weights)
        x = np.unique(np.concatenate([np.asarray(c.ppf(_GRID), dtype=float) for c in components]))
        x = x[np.isfinite(x)]
        self._x, self._u = x, np.maximum.accumulate(self.cdf(x))

    def cdf(self, x):
        x = np.asarray(x, dtype=float)
        return sum(w * np.asarray(c.cdf(x), dtype=float) for w, c in zip(self.weights, self.components))

    def ppf(self, u):
        return np.interp(np.asarray(u, dtype=float), self._u, self._x)

    def support(self):
        lows, highs = zip(*(c.support() for c in self.components))
        return min(lows), max(highs)


@forms.register("mixture", ("components",), ("components", "weights"))
def _mixture(p, at: Location, truncate):
    components = p["components"]
    where = at.at("components")
    if not isinstance(components, list) or len(components) < 2 or not all(isinstance(c, dict) for c in components):
        check.fail(where, "must be two or more tables of a form and its parameters, such as [{ dist = \"lognormal\", "
                          "median = 2, gsd = 1.5 }, { dist = \"uniform\", low = 1, high = 4 }]")
    built = []
    for i, table in enumerate(components):
        here = where.at(i)
        name = table.get("dist")
        form = forms.FORMS.get(name) if isinstance(name, str) else None
        if form is None or not form.continuous or name == "mixture":
            valid = [n for n, f in forms.FORMS.items() if f.continuous and n != "mixture"]
            check.fail(here.at("dist"), f"a component needs a continuous form; valid: {', '.join(valid)}, got {name!r}")
        params = {k: v for k, v in table.items() if k != "dist"}
        keys = {x for alt in form.parameters for x in alt}
        check.keys(params, keys, here, f"parameter of a {name} component", listed=sorted(keys))
        if set(params) not in [set(alt) for alt in form.parameters]:
            options = " or ".join("(" + ", ".join(alt) + ")" for alt in form.parameters)
            check.fail(here, f"a {name} component takes {options}; got ({', '.join(sorted(params))})")
        built.append(forms.build(name, params, None, here))
    dist = Mixture(built, forms.weights(p, len(built), "component", at))
    return forms.Continuous(_Frozen(dist), dist.ppf, truncate, dist.support())
