"""Prior distributions: frozen specs with ``point`` and ``ppf``, read from TOML.

A priors file holds one table per assumption under ``[priors]``::

    [priors.hit_rate]
    dist = "beta"
    ci90 = [0.18, 0.50]        # 5th and 95th percentiles
    point = 0.30               # the value point mode uses
    unit = "fraction"
    source = "Lempel & Moran 2003 ..."

or in one line, the form, the 90 % interval and the unit, the point being
the median, with an optional ``[sources]`` table::

    [priors]
    tokens = "lognormal 2000 to 30000 token/task"

    [sources]
    tokens = "figures.md 9b"

Every prior maps uniforms in (0, 1) to values through :meth:`Prior.ppf`, so
random, Latin hypercube and Sobol sampling share one path. :mod:`.forms`
holds one builder per distribution form in a registry, :mod:`.spec` the
:class:`Prior` spec and the transforms studies make of it, :mod:`.oneline`
the one-line form, :mod:`.files` reading and validating priors files.
"""

from .files import PRIORS_FILE_KEYS, load_priors, load_priors_file, parse_correlations, priors_hash, read_prior
from .forms import FORMS, Form
from .oneline import ONE_LINE_FORMS, one_line_table
from .spec import DESCRIPTIVE_KEYS, Prior, banded, held, parse_prior, pinned, scaled

#: Distribution forms and the parameter sets each accepts (alternatives).
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], ...]] = {name: form.parameters for name, form in FORMS.items()}

__all__ = ["Prior", "Form", "FORMS", "DISTRIBUTIONS", "DESCRIPTIVE_KEYS", "PRIORS_FILE_KEYS", "parse_prior",
           "read_prior", "one_line_table", "ONE_LINE_FORMS",
           "load_priors", "load_priors_file", "parse_correlations", "priors_hash", "pinned", "banded", "scaled", "held"]
