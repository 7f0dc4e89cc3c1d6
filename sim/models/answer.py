"""What an LLM request costs at the token level, and two 2026 products built on it.

A request reads input tokens, some from the provider's prefix cache, and
writes output tokens, visible and (for the share of requests that reason)
reasoning tokens. Its cost is taken two ways, joined along ``cost_basis``:

* ``api_list_price``: each kind of token at its list price (cached input at
  a discount, output at a multiple of the input price), with the provider's
  gross margin taken out, as the article did for one blended price;
* ``compute``: each kind at its own compute cost, from measured serving
  throughput: input at the prefill rate (compute-bound; a cached token skips
  most of it), output and reasoning at the decode rate (bandwidth-bound),
  at the price of a chip-hour over the share of provisioned capacity used.

Models: ``answer_engine`` (an AI answer on a search, against the advertising
revenue it keeps) and ``chat_subscription`` (a subscriber's month of chats
against the subscription price).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import revenue
from ._base import Output, model
from .constants import ONE_YEAR, SECONDS_PER_HOUR, TOKENS_PER_MTOKEN

COST_BASES = ("api_list_price", "compute")


def output_tokens(*, answer_tokens, reasoning_share, reasoning_tokens):
    """Output tokens of an average request: the visible answer plus the expected reasoning."""
    return answer_tokens + reasoning_share * reasoning_tokens


def list_price_cost(*, input_tokens, output_tokens, prefix_cache_hit_rate, cached_input_price_ratio,
                    price_input_usd_per_mtoken, output_input_price_ratio, tokens_per_mtoken=TOKENS_PER_MTOKEN):
    """A request's tokens at list prices: uncached input, cached input at a discount, output at a multiple."""
    billed_input = input_tokens * (1.0 - prefix_cache_hit_rate + prefix_cache_hit_rate * cached_input_price_ratio)
    return (billed_input + output_tokens * output_input_price_ratio) * price_input_usd_per_mtoken / tokens_per_mtoken


def compute_cost(*, input_tokens, output_tokens, prefix_cache_hit_rate, cached_prefill_cost_ratio,
                 prefill_tokens_per_second_chip, decode_tokens_per_second_chip, price_per_chip_hour,
                 serving_utilisation, seconds_per_hour=SECONDS_PER_HOUR):
    """A request's chip time at the prefill and decode rates, at the price of a used chip-hour."""
    prefill = input_tokens * (1.0 - prefix_cache_hit_rate + prefix_cache_hit_rate * cached_prefill_cost_ratio) / (
        prefill_tokens_per_second_chip)
    decode = output_tokens / decode_tokens_per_second_chip
    return (prefill + decode) / seconds_per_hour * price_per_chip_hour / serving_utilisation


def cost_by_basis(*, input_tokens, output_tokens, provider_gross_margin, prefix_cache_hit_rate,
                  cached_input_price_ratio, price_input_usd_per_mtoken, output_input_price_ratio,
                  cached_prefill_cost_ratio, prefill_tokens_per_second_chip, decode_tokens_per_second_chip,
                  price_per_chip_hour, peak_load_share, peak_to_average_ratio, tokens_per_mtoken=TOKENS_PER_MTOKEN,
                  seconds_per_hour=SECONDS_PER_HOUR):
    """The provider's cost of a request, along ``cost_basis``; and its list price."""
    listed = list_price_cost(input_tokens=input_tokens, output_tokens=output_tokens,
                             prefix_cache_hit_rate=prefix_cache_hit_rate,
                             cached_input_price_ratio=cached_input_price_ratio,
                             price_input_usd_per_mtoken=price_input_usd_per_mtoken,
                             output_input_price_ratio=output_input_price_ratio, tokens_per_mtoken=tokens_per_mtoken)
    computed = compute_cost(input_tokens=input_tokens, output_tokens=output_tokens,
                            prefix_cache_hit_rate=prefix_cache_hit_rate,
                            cached_prefill_cost_ratio=cached_prefill_cost_ratio,
                            prefill_tokens_per_second_chip=prefill_tokens_per_second_chip,
                            decode_tokens_per_second_chip=decode_tokens_per_second_chip,
                            price_per_chip_hour=price_per_chip_hour,
                            serving_utilisation=peak_load_share / peak_to_average_ratio,
                            seconds_per_hour=seconds_per_hour)
    cost = xr.concat([listed * (1.0 - provider_gross_margin), computed], dim="cost_basis")
    return cost.assign_coords(cost_basis=np.array(COST_BASES)), listed


@model(name="answer_engine",
       description="An AI answer on a search: token-level cost (cached input, reasoning) against the advertising "
                   "revenue per query it keeps",
       outputs={
           "input_tokens_per_query": Output("tokens/query", "input tokens per answered query"),
           "output_tokens_per_query": Output("tokens/query", "output tokens per answered query (reasoning included)"),
           "list_price_per_query": Output("USD/query", "an answer's tokens at list prices"),
           "cost_per_query": Output("USD/query", "cost of an AI answer per search (answers served from cache free)",
                                    role="cost"),
           "revenue_per_query": Output("USD/query", "advertising revenue per search with an AI answer", role="revenue"),
           "annual_searches": Output("searches/year", "searches per year", role="volume"),
           "annual_answer_cost": Output("USD/year", "yearly cost of an AI answer on every search"),
       })
def answer_engine(*, query_tokens, retrieved_tokens, answer_tokens, reasoning_share, reasoning_tokens,
                  answer_cache_hit_rate, ad_revenue_per_ad_query, ad_query_share, ad_cannibalisation,
                  searches_per_year_base, volume_growth_factor, years_after_base, provider_gross_margin,
                  prefix_cache_hit_rate, cached_input_price_ratio, price_input_usd_per_mtoken,
                  output_input_price_ratio, cached_prefill_cost_ratio, prefill_tokens_per_second_chip,
                  decode_tokens_per_second_chip, price_per_chip_hour, peak_load_share, peak_to_average_ratio,
                  tokens_per_mtoken=TOKENS_PER_MTOKEN, seconds_per_hour=SECONDS_PER_HOUR,
                  one_year=ONE_YEAR):
    """An AI answer on every search: what it costs per query against the advertising revenue per query."""
    out = {"input_tokens_per_query": query_tokens + retrieved_tokens,
           "output_tokens_per_query": output_tokens(answer_tokens=answer_tokens, reasoning_share=reasoning_share,
                                                    reasoning_tokens=reasoning_tokens)}
    serving = dict(provider_gross_margin=provider_gross_margin, prefix_cache_hit_rate=prefix_cache_hit_rate,
                   cached_input_price_ratio=cached_input_price_ratio,
                   price_input_usd_per_mtoken=price_input_usd_per_mtoken,
                   output_input_price_ratio=output_input_price_ratio, cached_prefill_cost_ratio=cached_prefill_cost_ratio,
                   prefill_tokens_per_second_chip=prefill_tokens_per_second_chip,
                   decode_tokens_per_second_chip=decode_tokens_per_second_chip, price_per_chip_hour=price_per_chip_hour,
                   peak_load_share=peak_load_share, peak_to_average_ratio=peak_to_average_ratio,
                   tokens_per_mtoken=tokens_per_mtoken, seconds_per_hour=seconds_per_hour)
    cost, out["list_price_per_query"] = cost_by_basis(input_tokens=out["input_tokens_per_query"],
                                                      output_tokens=out["output_tokens_per_query"], **serving)
    out["cost_per_query"] = cost * (1.0 - answer_cache_hit_rate)
    out["revenue_per_query"] = revenue.ad_revenue_per_query(ad_revenue_per_ad_query=ad_revenue_per_ad_query,
                                                            ad_query_share=ad_query_share,
                                                            ad_cannibalisation=ad_cannibalisation)
    out["annual_searches"] = revenue.grown_volume(base_volume=searches_per_year_base,
                                                  volume_growth_factor=volume_growth_factor,
                                                  years_after_base=years_after_base, one_year=one_year)
    out["annual_answer_cost"] = out["cost_per_query"] * out["annual_searches"]
    return out


@model(name="chat_subscription",
       description="A subscriber's month of chats: token-level cost against the subscription price",
       outputs={
           "input_tokens_per_query": Output("tokens/query", "input tokens per message (conversation so far, files)"),
           "output_tokens_per_query": Output("tokens/query", "output tokens per message (reasoning included)"),
           "cost_per_query": Output("USD/query", "cost of one message"),
           "cost_per_month": Output("USD/month", "cost of a subscriber's month", role="cost"),
           "subscription_per_month": Output("USD/month", "subscription price per month", role="revenue"),
           "revenue_per_query": Output("USD/query", "subscription price per message"),
       })
def chat_subscription(*, queries_per_month, input_tokens, answer_tokens, reasoning_share, reasoning_tokens,
                      subscription_usd_per_month, provider_gross_margin, prefix_cache_hit_rate,
                      cached_input_price_ratio, price_input_usd_per_mtoken, output_input_price_ratio,
                      cached_prefill_cost_ratio, prefill_tokens_per_second_chip, decode_tokens_per_second_chip,
                      price_per_chip_hour, peak_load_share, peak_to_average_ratio,
                      tokens_per_mtoken=TOKENS_PER_MTOKEN, seconds_per_hour=SECONDS_PER_HOUR):
    """A subscriber's month: messages times their token-level cost, against the price."""
    out = {"input_tokens_per_query": input_tokens,
           "output_tokens_per_query": output_tokens(answer_tokens=answer_tokens, reasoning_share=reasoning_share,
                                                    reasoning_tokens=reasoning_tokens)}
    out["cost_per_query"], _ = cost_by_basis(
        input_tokens=input_tokens, output_tokens=out["output_tokens_per_query"],
        provider_gross_margin=provider_gross_margin, prefix_cache_hit_rate=prefix_cache_hit_rate,
        cached_input_price_ratio=cached_input_price_ratio, price_input_usd_per_mtoken=price_input_usd_per_mtoken,
        output_input_price_ratio=output_input_price_ratio, cached_prefill_cost_ratio=cached_prefill_cost_ratio,
        prefill_tokens_per_second_chip=prefill_tokens_per_second_chip,
        decode_tokens_per_second_chip=decode_tokens_per_second_chip, price_per_chip_hour=price_per_chip_hour,
        peak_load_share=peak_load_share, peak_to_average_ratio=peak_to_average_ratio,
        tokens_per_mtoken=tokens_per_mtoken, seconds_per_hour=seconds_per_hour)
    out["cost_per_month"] = out["cost_per_query"] * queries_per_month
    out["subscription_per_month"] = subscription_usd_per_month
    out["revenue_per_query"] = revenue.subscription_revenue_per_query(
        subscription_usd_per_month=subscription_usd_per_month, queries_per_month=queries_per_month)
    return out
