"""The revenue side: advertising, subscriptions and volume growth, for sim's models and a user's.

Plain functions of keyword arguments, like every equation here: a user's
model may import them (``from sim.models.revenue import ad_revenue_per_query``)
and tag its outputs with the ``revenue`` and ``volume`` roles.
"""

from __future__ import annotations

from .constants import ONE_YEAR


def ad_revenue_per_query(*, ad_revenue_per_ad_query, ad_query_share, ad_cannibalisation):
    """Advertising revenue per query: what a query that shows ads earns, times the share of queries that show them,
    less the share an AI answer takes away (users who read the answer click fewer ads)."""
    return ad_revenue_per_ad_query * ad_query_share * (1.0 - ad_cannibalisation)


def subscription_revenue_per_query(*, subscription_usd_per_month, queries_per_month):
    """A subscription's price spread over the queries its subscriber makes in a month."""
    return subscription_usd_per_month / queries_per_month


def grown_volume(*, base_volume, volume_growth_factor, years_after_base, one_year=ONE_YEAR):
    """A volume (searches per year, say) grown by a yearly factor for some years."""
    return base_volume * volume_growth_factor ** (years_after_base / one_year)
