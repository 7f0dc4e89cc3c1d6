"""Unit conversions the models share, each a :class:`~._base.Constant` so that the unit check sees its units.

A user's model may import them (``from sim.models.constants import TOKENS_PER_MTOKEN``).
"""

from __future__ import annotations

from ._base import Constant

__all__ = ["TOKENS_PER_KTOKEN", "TOKENS_PER_MTOKEN", "SECONDS_PER_HOUR", "HOURS_PER_YEAR", "MONTHS_PER_YEAR",
           "ONE_YEAR"]

#: Tokens in the 1,000 that the article's API prices are quoted per.
TOKENS_PER_KTOKEN = Constant(1000.0, "token/ktoken")
#: Tokens in the million that 2026 API prices are quoted per.
TOKENS_PER_MTOKEN = Constant(1e6, "token/Mtoken")
SECONDS_PER_HOUR = Constant(3600.0, "s/hour")
HOURS_PER_YEAR = Constant(8760.0, "hour/year")
MONTHS_PER_YEAR = Constant(12.0, "month/year")
#: A duration in years divided by one year: yearly factors compound once per year elapsed.
ONE_YEAR = Constant(1.0, "year")
