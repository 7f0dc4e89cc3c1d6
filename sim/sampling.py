"""Uniform draws for the priors: plain random, Latin hypercube and scrambled Sobol.

Every sampler produces uniforms in the open interval (0, 1), one row per
prior; priors turn them into values with their ``ppf``. Randomness comes from
one integer seed:

* ``random``: each prior has its own PCG64 stream seeded by
  ``[seed, crc32(name)]``, so adding or removing a prior leaves the others'
  draws unchanged. A slice ``[start, stop)`` is read by advancing the stream,
  so the same sample index always gets the same number, whatever the chunk.
* ``lhs``: a one-dimensional Latin hypercube per prior from that prior's own
  stream (independent permutations per dimension are exactly a Latin
  hypercube design), so the per-prior property holds here too.
* ``sobol``: one scrambled Sobol' sequence over all the given priors (its
  dimensions are the names in the order given); its scrambling is seeded by
  ``[seed, crc32("sobol")]``. A Sobol' design is joint by construction, so
  adding a prior does change the points of the others here.

Rank correlations between priors are imposed on the uniforms by a Gaussian
copula (:class:`RankCorrelation`), sample by sample, so every sampler keeps
working, the marginals are unchanged and chunking still does not matter.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence

from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.stats import qmc

from .errors import ConfigError

__all__ = ["SAMPLERS", "uniforms", "iter_uniforms", "stream", "open_unit", "RankCorrelation", "rank_correlation"]

SAMPLERS = ("random", "lhs", "sobol")

# Guards ppf(0) = -inf and ppf(1) = inf: the draws are pushed inside (0, 1)
# by at most one unit in the last place of a double near 0 and 1.
_TINY = 2.0**-53


def open_unit(u: np.ndarray) -> np.ndarray:
    """``u`` clipped into the open interval (0, 1), in place: the ppf of 0 or 1 would be infinite."""
    return np.clip(u, _TINY, 1.0 - _TINY, out=u)


def stream(seed: int, key: str) -> np.random.PCG64:
    """The bit generator for stream ``key`` of run ``seed``."""
    return np.random.PCG64([seed, zlib.crc32(key.encode("utf-8"))])


def uniforms(names: Sequence[str], n: int, *, seed: int, sampler: str = "random",
             start: int = 0, stop: int | None = None) -> np.ndarray:
    """Draw the uniforms for samples ``start`` to ``stop`` of an ``n``-sample design.

    Parameters
    ----------
    names : sequence of str
        One row per name (the priors to draw).
    n : int
        Size of the whole design (LHS strata and Sobol balance refer to it).
    seed : int
        Non-negative run seed.
    sampler : {"random", "lhs", "sobol"}
    start, stop : int
        The slice of the design to return; the default is all of it. Any
        partition of ``[0, n)`` into slices gives the same numbers as one call.

    Returns
    -------
    ndarray, shape (len(names), stop - start)
        Values in the open interval (0, 1).
    """
    stop = n if stop is None else stop
    if not 0 <= start <= stop <= n:
        raise ValueError(f"need 0 <= start <= stop <= n, got start={start}, stop={stop}, n={n}")
    m = stop - start
    out = np.empty((len(names), m))
    if sampler == "random":
        for row, name in zip(out, names):
            bitgen = stream(seed, name)
            bitgen.advance(start)
            np.random.Generator(bitgen).random(out=row)
    elif sampler == "lhs":
        for row, name in zip(out, names):
            lhs = qmc.LatinHypercube(d=1, rng=np.random.Generator(stream(seed, name)))
            row[:] = lhs.random(n)[start:stop, 0]
    elif sampler == "sobol":
        if names:
            engine = qmc.Sobol(d=len(names), scramble=True, rng=np.random.Generator(stream(seed, "sobol")))
            if start:
                engine.fast_forward(start)
            with warnings.catch_warnings():
                # balance needs n a power of 2: checked once per run by the engine
                warnings.filterwarnings("ignore", message=".*balance properties of Sobol", category=UserWarning)
                out[:] = engine.random(m).T
    else:
        raise ValueError(f"unknown sampler {sampler!r}; valid: {', '.join(SAMPLERS)}")
    return open_unit(out)


def iter_uniforms(names: Sequence[str], n: int, *, seed: int, sampler: str = "random",
                  chunk_size: int = 2**18, start: int = 0, stop: int | None = None):
    """Yield ``(start, stop, u)`` over samples ``start`` to ``stop`` of the design in chunks of ``chunk_size``.

    The numbers equal one :func:`uniforms` call over ``[0, n)``, whatever
    ``chunk_size`` and range. Random and Sobol chunks are drawn as needed; a
    Latin hypercube is drawn whole once (its strata span the design) and sliced.
    """
    stop = n if stop is None else stop
    whole = uniforms(names, n, seed=seed, sampler=sampler) if sampler == "lhs" else None
    for a in range(start, stop, chunk_size):
        b = min(a + chunk_size, stop)
        if whole is not None:
            yield a, b, whole[:, a:b].copy()
        else:
            yield a, b, uniforms(names, n, seed=seed, sampler=sampler, start=a, stop=b)


@dataclass(frozen=True)
class RankCorrelation:
    """Target Spearman rank correlations between named priors.

    Imposed by a Gaussian copula: the uniforms of the correlated priors go to
    standard normals, are mixed by a factor of the normal correlation matrix
    ``2 sin(pi rho_s / 6)`` (whose Spearman correlation is ``rho_s``), and
    return to uniforms. Each sample is transformed on its own, so the
    marginals stay uniform (every prior keeps its distribution) for random,
    LHS and Sobol' uniforms, and chunking does not change the result.
    A Latin hypercube's one-dimensional strata are not kept for correlated
    priors; Iman-Conover would keep them but reorders the whole design at once,
    which would make results depend on the chunk size.

    Attributes
    ----------
    names : tuple of str
        The correlated priors, in the order of the matrix.
    spearman : tuple of tuple of float
        Target rank correlation matrix (symmetric, unit diagonal).
    """

    names: tuple[str, ...]
    spearman: tuple[tuple[float, ...], ...]

    def pairs(self) -> dict[tuple[str, str], float]:
        """The non-zero off-diagonal entries, keyed by sorted name pairs."""
        return {(a, b) if a < b else (b, a): r for i, a in enumerate(self.names) for j, (b, r)
                in enumerate(zip(self.names, self.spearman[i])) if j < i and r != 0.0}

    def normal_factor(self) -> np.ndarray:
        """``L`` with ``L @ L.T`` the copula's normal correlation matrix."""
        normal = 2.0 * np.sin(np.pi * np.asarray(self.spearman) / 6.0)
        w, v = np.linalg.eigh(normal)
        return v * np.sqrt(np.clip(w, 0.0, None))

    def apply(self, u: np.ndarray) -> np.ndarray:
        """Correlate uniforms ``u`` of shape (len(names), m), rows in ``names`` order."""
        z = special.ndtri(u)
        out = special.ndtr(self.normal_factor() @ z)
        return open_unit(out)


def rank_correlation(pairs: dict[tuple[str, str], float], *, file: str,
                     key: str = "correlations") -> RankCorrelation | None:
    """Assemble pairs into a :class:`RankCorrelation`, or None if there are none.

    Raises
    ------
    ConfigError
        If the pairs do not make a valid correlation matrix (one that is not
        positive semi-definite after the copula's transform): no repair is
        made, the message names the priors involved.
    """
    if not pairs:
        return None
    names = tuple(sorted({n for pair in pairs for n in pair}))
    index = {n: i for i, n in enumerate(names)}
    matrix = np.eye(len(names))
    for (a, b), rho in pairs.items():
        matrix[index[a], index[b]] = matrix[index[b], index[a]] = rho
    smallest = float(np.linalg.eigvalsh(2.0 * np.sin(np.pi * matrix / 6.0)).min())
    if smallest < -1e-10:
        raise ConfigError(file, key, f"the rank correlations among {', '.join(names)} are inconsistent (the "
                                     f"matrix is not positive semi-definite: smallest eigenvalue {smallest:.3g}); "
                                     "weaken the largest correlations until they can hold together")
    return RankCorrelation(names, tuple(tuple(float(x) for x in row) for row in matrix))
