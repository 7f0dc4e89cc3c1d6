"""Priors from evidence: a distribution fitted to observed data, or through an expert's quantiles.

:func:`fit_data` fits candidate families to a sample by maximum likelihood
(:func:`scipy.stats.fit`), ranks them by AIC (BIC beside it) and tests each
with the Anderson-Darling statistic (:func:`scipy.stats.goodness_of_fit`,
whose parametric bootstrap refits the family to every simulated sample, so
its p-value allows for the estimated parameters), and gives the
Kolmogorov-Smirnov distance as a plain measure of misfit. The families
offered suit the data's support: every one for data in (0, 1) (beta among
them), the positive families (lognormal, gamma, Weibull, log-logistic) for
positive data, the normal, logistic and Gumbel for any.

:func:`fit_quantiles` makes a ``metalog`` prior through three or more
quantiles (:mod:`sim.priors.composite`).

Each returns a :class:`PriorFit` whose :meth:`~PriorFit.priors_text` is a
priors file of one prior, its ``source`` naming the data, the sample size
and the fit's statistics.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from .. import _checks as check
from .._checks import fmt
from .._files import read_csv, toml_key, toml_value
from ..errors import ConfigError, Location, SimError
from .spec import Prior, parse_prior

__all__ = ["FAMILIES", "FamilyFit", "PriorFit", "fit_data", "fit_quantiles", "read_column"]


@dataclasses.dataclass(frozen=True)
class Family:
    """A candidate family: its scipy distribution, the parameters fixed in the fit, its support, and the prior
    table of a fit."""

    name: str
    dist: stats.rv_continuous
    fixed: dict
    support: str  # "real", "positive" or "fraction"
    table: callable

    def guess(self, x: np.ndarray) -> dict:
        """Starting values: scipy's classical estimates (``rv_continuous.fit``) with the fixed parameters held."""
        held = {f"f{k}" if k in ("loc", "scale") else k: v for k, v in self.fixed.items()}
        names = [*(s for s in (self.dist.shapes or "").split(", ") if s), "loc", "scale"]
        return dict(zip(names, (float(v) for v in self.dist.fit(x, **held))))

    def bounds(self, guess: dict, x: np.ndarray) -> dict:
        """Each parameter's bounds for :func:`scipy.stats.fit`: a factor of 100 either side of its guess (an
        interval of 100 spreads for a location), the fixed ones held."""
        spread = float(np.ptp(x))
        return {k: (v, v) if k in self.fixed else (v - 100 * spread, v + 100 * spread) if k == "loc"
                else (v / 100, v * 100) for k, v in guess.items()}


def _scipy_table(name):
    return lambda p: {"dist": "scipy", "name": name, "params": {k: v for k, v in p.items() if k != "loc" or v}}


#: The candidate families, by the name ``--families`` takes.
FAMILIES = {f.name: f for f in (
    Family("lognormal", stats.lognorm, {"loc": 0.0}, "positive",
           lambda p: {"dist": "lognormal", "median": p["scale"], "gsd": math.exp(p["s"])}),
    Family("gamma", stats.gamma, {"loc": 0.0}, "positive", _scipy_table("gamma")),
    Family("weibull", stats.weibull_min, {"loc": 0.0}, "positive", _scipy_table("weibull_min")),
    Family("loglogistic", stats.fisk, {"loc": 0.0}, "positive", _scipy_table("fisk")),
    Family("beta", stats.beta, {"loc": 0.0, "scale": 1.0}, "fraction", lambda p: {"dist": "beta", "a": p["a"],
                                                                                  "b": p["b"]}),
    Family("normal", stats.norm, {}, "real", lambda p: {"dist": "normal", "mean": p["loc"], "sd": p["scale"]}),
    Family("logistic", stats.logistic, {}, "real", _scipy_table("logistic")),
    Family("gumbel", stats.gumbel_r, {}, "real", _scipy_table("gumbel_r")),
)}


@dataclasses.dataclass(frozen=True)
class FamilyFit:
    """One family fitted: its parameters (scipy's), log-likelihood, AIC, BIC, Kolmogorov-Smirnov distance and
    the Anderson-Darling test's p-value; ``prior`` its priors table."""

    family: str
    params: dict
    loglik: float
    aic: float
    bic: float
    ks: float
    ad_pvalue: float
    prior: dict


@dataclasses.dataclass(frozen=True)
class PriorFit:
    """A prior fitted to data (``fits``, best first) or through quantiles (``fits`` empty).

    ``prior`` is the chosen prior, validated; ``source`` says where it came from.
    """

    name: str
    unit: str
    prior: Prior
    source: str
    fits: tuple[FamilyFit, ...] = ()
    data: np.ndarray | None = None

    def table(self):
        """The candidate families, best AIC first (a pandas DataFrame)."""
        import pandas as pd

        rows = [{"family": f.family, "parameters": ", ".join(f"{k}={fmt(v)}" for k, v in f.params.items()),
                 "loglik": f.loglik, "aic": f.aic, "delta_aic": f.aic - self.fits[0].aic, "bic": f.bic,
                 "ks_distance": f.ks, "ad_pvalue": f.ad_pvalue} for f in self.fits]
        return pd.DataFrame(rows)

    def qq(self, top: int = 3) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per family of the ``top`` best: its quantiles at the data's plotting positions and the sorted data
        (a QQ plot's points; Hazen's positions (i - 1/2) / n)."""
        x = np.sort(self.data)
        positions = (np.arange(x.size) + 0.5) / x.size
        return {f.family: (np.asarray(FAMILIES[f.family].dist(**{**f.params, **FAMILIES[f.family].fixed}).ppf(
            positions)), x) for f in self.fits[:top]}

    def priors_text(self) -> str:
        """A priors file holding this prior (TOML)."""
        lines = [f"[priors.{self.name}]"]
        for key, value in {**self.prior.table(), "unit": self.unit, "source": self.source}.items():
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
        return "\n".join(lines) + "\n"


def read_column(path: str | Path, column: str) -> np.ndarray:
    """The numbers of ``column`` of a CSV file; blank cells left out, anything else that is not a number refused."""
    rows = read_csv(path, "data file", numbers=(column,))
    if column not in rows[0]:
        raise ConfigError(str(path), column, f"no column {column!r}; {check.choices(column, rows[0])}")
    values = np.array([row[column] for row in rows], dtype=float)
    values = values[~np.isnan(values)]
    if not np.all(np.isfinite(values)):
        raise ConfigError(str(path), column, "holds an infinite value")
    return values


def _support(x: np.ndarray) -> set[str]:
    """The supports the data fit: real always; positive for positive data; fraction for data in (0, 1)."""
    out = {"real"}
    if np.all(x > 0):
        out.add("positive")
        if np.all(x < 1):
            out.add("fraction")
    return out


def _name(text: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in text.strip()).strip("_").lower() or "fitted"
    return name if name[0].isalpha() else f"x_{name}"


def fit_data(values, *, unit: str, name: str | None = None, families=None, label: str = "the data",
             gof_samples: int = 99, seed: int = 0) -> PriorFit:
    """Fit candidate families to ``values`` by maximum likelihood and make a prior of the best by AIC.

    Parameters
    ----------
    values : array_like
        The observations, in ``unit``.
    name : str, optional
        The prior's name (default ``fitted``).
    families : sequence of str, optional
        From :data:`FAMILIES` (default: every one the data's support allows).
    label : str
        What the data are, for the prior's ``source`` (``prices.csv column usd``).
    gof_samples : int
        Parametric-bootstrap samples of the Anderson-Darling test (0: no test).

    Raises
    ------
    SimError
        Fewer than 8 values, all the same, a family unknown or not fit for
        the data's support.
    """
    x = np.asarray(values, dtype=float)
    if x.size < 8:
        raise SimError(f"{label}: {x.size} value(s); a fit needs at least 8")
    if np.ptp(x) == 0:
        raise SimError(f"{label}: every value is {fmt(float(x[0]))}; a fixed prior describes that, not a fit")
    supports = _support(x)
    if families:
        for f in families:
            if f not in FAMILIES:
                raise SimError(f"--families: unknown family {f!r}; {check.choices(f, FAMILIES)}")
            if FAMILIES[f].support not in supports:
                raise SimError(f"--families: {f} needs {FAMILIES[f].support} values; {label} has values from "
                               f"{fmt(float(x.min()))} to {fmt(float(x.max()))}")
    chosen = [FAMILIES[f] for f in (families or FAMILIES) if FAMILIES[f].support in supports]
    fits = sorted((_fit(family, x, gof_samples, seed) for family in chosen), key=lambda f: f.aic)
    best = fits[0]
    others = "; ".join(f"{f.family} dAIC {f.aic - best.aic:.1f}" for f in fits[1:4])
    test = f", Anderson-Darling p = {best.ad_pvalue:.2f} ({gof_samples} bootstrap samples)" if gof_samples else ""
    source = (f"maximum-likelihood {best.family} fit to {label} (n = {x.size:,}): AIC {best.aic:.1f}, BIC "
              f"{best.bic:.1f}, KS distance {best.ks:.3f}{test}" + (f"; next: {others}" if others else ""))
    prior = _prior(name or "fitted", best.prior, unit, source)
    return PriorFit(prior.name, unit, prior, source, tuple(fits), x)


def _local(fun, *, bounds, x0):
    """The likelihood's optimum from the classical estimates (a local, deterministic search)."""
    return optimize.minimize(fun, x0, bounds=bounds, method="L-BFGS-B")


def _fit(family: Family, x: np.ndarray, gof_samples: int, seed: int) -> FamilyFit:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guess = family.guess(x)
        result = stats.fit(family.dist, x, bounds=family.bounds(guess, x), guess=guess, optimizer=_local)
        params = {k: float(v) for k, v in result.params._asdict().items()}
        frozen = family.dist(**params)
        loglik = float(np.sum(frozen.logpdf(x)))
        ks = float(stats.kstest(x, frozen.cdf).statistic)
        ad = float("nan")
        if gof_samples:
            known = {k: v for k, v in family.fixed.items()}
            ad = float(stats.goodness_of_fit(family.dist, x, known_params=known, statistic="ad",
                                             n_mc_samples=gof_samples, rng=seed).pvalue)
    k = len(params) - len(family.fixed)
    free = {k: v for k, v in params.items() if k not in family.fixed}
    return FamilyFit(family.name, free, loglik, 2 * k - 2 * loglik, k * math.log(x.size) - 2 * loglik, ks, ad,
                     family.table(params))


def _prior(name: str, table: dict, unit: str, source: str) -> Prior:
    """The prior of ``table`` (its point the median), validated as a priors file would be."""
    at = Location("the fitted prior", f"priors.{name}")
    check.name(name, at)
    probe = parse_prior(name, {**table, "point": 0.0, "unit": unit, "source": source, "allow_negative": True}, at=at)
    median = float(probe.ppf(0.5))
    full = {**table, "point": median, "unit": unit, "source": source}
    lo, _ = probe.support()
    if lo < 0:
        full["allow_negative"] = True
    return parse_prior(name, full, at=at)


def fit_quantiles(quantiles: dict[float, float], *, unit: str, name: str | None = None, lower: float | None = None,
                  upper: float | None = None, label: str = "an expert's quantiles") -> PriorFit:
    """A ``metalog`` prior through ``quantiles`` (probability -> value, three or more), bounded where asked.

    Raises
    ------
    ConfigError
        When no valid metalog passes through them (its quantile function would
        decrease), or they are out of order.
    """
    pairs = sorted((float(p), float(v)) for p, v in quantiles.items())
    if len(pairs) < 3:
        raise SimError(f"--quantiles: a metalog needs three or more quantiles, got {len(pairs)}")
    table = {"dist": "metalog", "quantiles": [list(q) for q in pairs]}
    if lower is not None:
        table["lower"] = lower
    if upper is not None:
        table["upper"] = upper
    shown = ", ".join(f"{fmt(v)} at {fmt(100 * p)} %" for p, v in pairs)
    source = f"metalog through {label}: {shown}"
    try:
        prior = _prior(name or "elicited", table, unit, source)
    except ConfigError as exc:
        raise SimError(f"--quantiles: {exc.message}") from None
    return PriorFit(prior.name, unit, prior, source)
