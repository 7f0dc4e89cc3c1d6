"""What an LLM request costs at the token level, and two 2026 products built on it.

A request reads input tokens, some from the provider's prefix cache, and
writes output tokens, visible and (for the share of requests that reason)
reasoning tokens. Its cost is taken two ways, joined along ``cost_basis``:

* ``api_list_price``: each kind of token at its list price (cached input at
  a discount, output at a multiple of the input price), with the provider's
  gross margin taken out, as the article did for one blended price; where the
  provider charges them, uncached input is written to its cache at a
  surcharge, a prompt beyond a long-context threshold pays a higher tier on
  all its tokens, and requests sent through a batch API get its discount;
* ``compute``: the chip time of the request at its own shape, from the
  serving model (:mod:`.serving`: the served model's architecture on its
  chips and layout, the engine's calibrated efficiencies), its prompt read in
  the steps that decode the batch (a cached prefix is not read again, but its
  cache is), at the price of a chip-hour over the share of provisioned
  capacity used. The same steps give the chips' energy per request.

Models: ``answer_engine`` (an AI answer on a search, against the advertising
revenue it keeps) and ``chat_subscription`` (a subscriber's month of chats
against the subscription price).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from . import revenue, serving
from ._base import Constant, Output, model
from .constants import ONE_YEAR, TOKENS_PER_MTOKEN

COST_BASES = ("api_list_price", "compute")
#: A query is one request to the serving model.
ONE_QUERY = Constant(1.0, "query")


def output_tokens(*, answer_tokens, reasoning_share, reasoning_tokens):
    """Output tokens of an average request: the visible answer plus the expected reasoning."""
    return answer_tokens + reasoning_share * reasoning_tokens


def list_price_cost(*, input_tokens, output_tokens, prefix_cache_hit_rate, cached_input_price_ratio,
                    cache_write_price_ratio, price_input_usd_per_mtoken, output_input_price_ratio, batch_share,
                    batch_discount, long_context_threshold, long_context_input_ratio, long_context_output_ratio,
                    tokens_per_mtoken=TOKENS_PER_MTOKEN):
    """A request's tokens at list prices.

    Uncached input is written to the provider's prefix cache (the next
    request rereads it) at ``cache_write_price_ratio`` of the input price (1
    where writes are not charged), cached input is read at
    ``cached_input_price_ratio``, output costs ``output_input_price_ratio``
    times the input price. A request whose input exceeds
    ``long_context_threshold`` pays the long-context tier on all its input and
    output (``long_context_input_ratio`` and ``long_context_output_ratio`` of
    the ordinary prices), and ``batch_share`` of the requests, sent through a
    batch API, get ``batch_discount`` off.
    """
    long = (input_tokens > long_context_threshold) * 1.0  # 1 where the prompt is in the long-context tier
    billed_input = input_tokens * ((1.0 - prefix_cache_hit_rate) * cache_write_price_ratio
                                   + prefix_cache_hit_rate * cached_input_price_ratio)
    billed = (billed_input * (1.0 + long * (long_context_input_ratio - 1.0))
              + output_tokens * output_input_price_ratio * (1.0 + long * (long_context_output_ratio - 1.0)))
    return billed * price_input_usd_per_mtoken / tokens_per_mtoken * (1.0 - batch_share * batch_discount)


#: The serving model's inputs that a request's shape and the provider's load set, not priors.
SHAPE = ("input_tokens", "output_tokens", "serving_utilisation", "prefix_cache_hit_rate")
#: The serving model as a request's cost reads it: every input but the shape is a prior of the experiment.
SERVED = dataclasses.replace(serving.MODEL, inputs=tuple(n for n in serving.MODEL.inputs if n not in SHAPE))


def compute_cost(*, input_tokens, output_tokens, prefix_cache_hit_rate, peak_load_share, peak_to_average_ratio,
                 tokens_per_mtoken=TOKENS_PER_MTOKEN, one_query=ONE_QUERY, **served):
    """A request's chip cost and energy at its own shape (the serving model), at the used share of capacity."""
    s = serving.MODEL(**{n: served[n] for n in SERVED.inputs}, input_tokens=input_tokens * one_query,
                      output_tokens=output_tokens * one_query,
                      prefix_cache_hit_rate=prefix_cache_hit_rate,
                      serving_utilisation=peak_load_share / peak_to_average_ratio, tokens_per_mtoken=tokens_per_mtoken,
                      **{n: served[n] for n in serving.MODEL.constants if n in served})
    return (s["cost_per_mtoken_output"] * output_tokens / tokens_per_mtoken,
            s["energy_per_mtoken_output"] * output_tokens / tokens_per_mtoken)


#: The list price's rules beyond the input price and the output ratio, each a prior of the experiment.
PRICE_RULES = ("cached_input_price_ratio", "cache_write_price_ratio", "batch_share", "batch_discount",
               "long_context_threshold", "long_context_input_ratio", "long_context_output_ratio")


def cost_by_basis(*, input_tokens, output_tokens, provider_gross_margin, prefix_cache_hit_rate,
                  price_input_usd_per_mtoken, output_input_price_ratio, peak_load_share, peak_to_average_ratio,
                  prices, tokens_per_mtoken=TOKENS_PER_MTOKEN, one_query=ONE_QUERY, **served):
    """The provider's cost of a request, along ``cost_basis``; its list price; its chips' energy (``prices``: the
    list price's rules, :data:`PRICE_RULES`)."""
    listed = list_price_cost(input_tokens=input_tokens, output_tokens=output_tokens,
                             prefix_cache_hit_rate=prefix_cache_hit_rate,
                             price_input_usd_per_mtoken=price_input_usd_per_mtoken,
                             output_input_price_ratio=output_input_price_ratio, tokens_per_mtoken=tokens_per_mtoken,
                             **prices)
    computed, energy = compute_cost(input_tokens=input_tokens, output_tokens=output_tokens,
                                    prefix_cache_hit_rate=prefix_cache_hit_rate, peak_load_share=peak_load_share,
                                    peak_to_average_ratio=peak_to_average_ratio, tokens_per_mtoken=tokens_per_mtoken,
                                    one_query=one_query, **served)
    cost = xr.concat([listed * (1.0 - provider_gross_margin), computed], dim="cost_basis")
    return cost.assign_coords(cost_basis=np.array(COST_BASES)), listed, energy


@model(name="answer_engine",
       description="An AI answer on a search: token-level cost (cached input, reasoning) against the advertising "
                   "revenue per query it keeps",
       uses=SERVED,
       outputs={
           "input_tokens_per_query": Output("tokens/query", "input tokens per answered query"),
           "output_tokens_per_query": Output("tokens/query", "output tokens per answered query (reasoning included)"),
           "list_price_per_query": Output("USD/query", "an answer's tokens at list prices"),
           "cost_per_query": Output("USD/query", "cost of an AI answer per search (answers served from cache free)",
                                    role="cost"),
           "revenue_per_query": Output("USD/query", "advertising revenue per search with an AI answer", role="revenue"),
           "energy_per_query": Output("Wh/query", "the serving chips' energy per search (answers served from cache "
                                                 "free; facility overhead not counted)"),
           "annual_searches": Output("searches/year", "searches per year", role="volume"),
           "annual_answer_cost": Output("USD/year", "yearly cost of an AI answer on every search"),
       })
def answer_engine(*, query_tokens, retrieved_tokens, answer_tokens, reasoning_share, reasoning_tokens,
                  answer_cache_hit_rate, ad_revenue_per_ad_query, ad_query_share, ad_cannibalisation,
                  searches_per_year_base, volume_growth_factor, years_after_base, provider_gross_margin,
                  prefix_cache_hit_rate, cached_input_price_ratio, cache_write_price_ratio, batch_share,
                  batch_discount, long_context_threshold, long_context_input_ratio, long_context_output_ratio,
                  price_input_usd_per_mtoken, output_input_price_ratio, peak_load_share, peak_to_average_ratio,
                  tokens_per_mtoken=TOKENS_PER_MTOKEN, one_year=ONE_YEAR, one_query=ONE_QUERY, **served):
    """An AI answer on every search: what it costs per query against the advertising revenue per query."""
    args = locals()
    out = {"input_tokens_per_query": query_tokens + retrieved_tokens,
           "output_tokens_per_query": output_tokens(answer_tokens=answer_tokens, reasoning_share=reasoning_share,
                                                    reasoning_tokens=reasoning_tokens)}
    cost, out["list_price_per_query"], energy = cost_by_basis(
        input_tokens=out["input_tokens_per_query"], output_tokens=out["output_tokens_per_query"],
        provider_gross_margin=provider_gross_margin, prefix_cache_hit_rate=prefix_cache_hit_rate,
        price_input_usd_per_mtoken=price_input_usd_per_mtoken, output_input_price_ratio=output_input_price_ratio,
        peak_load_share=peak_load_share, peak_to_average_ratio=peak_to_average_ratio,
        prices={n: args[n] for n in PRICE_RULES},
        tokens_per_mtoken=tokens_per_mtoken, one_query=one_query, **served)
    out["cost_per_query"] = cost * (1.0 - answer_cache_hit_rate)
    out["energy_per_query"] = energy * (1.0 - answer_cache_hit_rate)
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
       uses=SERVED,
       outputs={
           "input_tokens_per_query": Output("tokens/query", "input tokens per message (conversation so far, files)"),
           "output_tokens_per_query": Output("tokens/query", "output tokens per message (reasoning included)"),
           "cost_per_query": Output("USD/query", "cost of one message"),
           "cost_per_month": Output("USD/month", "cost of a subscriber's month", role="cost"),
           "subscription_per_month": Output("USD/month", "subscription price per month", role="revenue"),
           "revenue_per_query": Output("USD/query", "subscription price per message"),
           "energy_per_month": Output("Wh/month", "the serving chips' energy for a subscriber's month (facility "
                                                  "overhead not counted)"),
       })
def chat_subscription(*, queries_per_month, input_tokens, answer_tokens, reasoning_share, reasoning_tokens,
                      subscription_usd_per_month, provider_gross_margin, prefix_cache_hit_rate,
                      cached_input_price_ratio, cache_write_price_ratio, batch_share, batch_discount,
                      long_context_threshold, long_context_input_ratio, long_context_output_ratio,
                      price_input_usd_per_mtoken, output_input_price_ratio, peak_load_share, peak_to_average_ratio,
                      tokens_per_mtoken=TOKENS_PER_MTOKEN, one_query=ONE_QUERY, **served):
    """A subscriber's month: messages times their token-level cost, against the price."""
    args = locals()
    out = {"input_tokens_per_query": input_tokens,
           "output_tokens_per_query": output_tokens(answer_tokens=answer_tokens, reasoning_share=reasoning_share,
                                                    reasoning_tokens=reasoning_tokens)}
    out["cost_per_query"], _, energy = cost_by_basis(
        input_tokens=input_tokens, output_tokens=out["output_tokens_per_query"],
        provider_gross_margin=provider_gross_margin, prefix_cache_hit_rate=prefix_cache_hit_rate,
        price_input_usd_per_mtoken=price_input_usd_per_mtoken, output_input_price_ratio=output_input_price_ratio,
        peak_load_share=peak_load_share, peak_to_average_ratio=peak_to_average_ratio,
        prices={n: args[n] for n in PRICE_RULES},
        tokens_per_mtoken=tokens_per_mtoken, one_query=one_query, **served)
    out["cost_per_month"] = out["cost_per_query"] * queries_per_month
    out["energy_per_month"] = energy * queries_per_month
    out["subscription_per_month"] = subscription_usd_per_month
    out["revenue_per_query"] = revenue.subscription_revenue_per_query(
        subscription_usd_per_month=subscription_usd_per_month, queries_per_month=queries_per_month)
    return out
