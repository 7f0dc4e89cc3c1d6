"""LLM-powered search: cost per query against revenue per query (SPEC sections 1-3).

Two architectures, joined along the ``architecture`` dim:

* ``chatgpt_equivalent``: the model answers from its weights, with best-of-n
  sampling.
* ``two_stage``: a search engine returns the top K results; the model writes
  one response per result and the best one is shown.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ._base import Constant, Output, model
from .constants import MONTHS_PER_YEAR, TOKENS_PER_KTOKEN

ARCHITECTURES = ("chatgpt_equivalent", "two_stage")

#: The two-stage summariser writes one answer per retrieved result.
ANSWERS_PER_RESULT = Constant(1.0, "answer/result")


# --- section 1: first-order cost at the API list price ---------------------

def words_chatgpt_equivalent(*, prompt_words, response_words, samples_per_query):
    """Words read and written per query when the model answers from its weights."""
    return prompt_words + response_words * samples_per_query


def words_two_stage(*, prompt_words, results_k, section_words, response_words, answers_per_result=ANSWERS_PER_RESULT):
    """Words per query when the model summarises each of the top K results."""
    return prompt_words + results_k * (section_words + response_words * answers_per_result)


def tokens_per_query(*, words, words_per_token):
    return words / words_per_token


def api_cost_per_query(*, tokens_per_query, api_price_per_1k_tokens, output_token_share=0.0,
                       output_input_price_ratio=1.0, tokens_per_ktoken=TOKENS_PER_KTOKEN):
    """List-price cost of a query's tokens, USD: input tokens at the list price, output tokens at
    ``output_input_price_ratio`` times it (the blend is exactly 1 when the two prices are equal)."""
    blend = 1.0 + (output_input_price_ratio - 1.0) * output_token_share
    return tokens_per_query * api_price_per_1k_tokens / tokens_per_ktoken * blend


def cost_per_query(*, api_cost_per_query, cache_hit_rate, provider_gross_margin):
    """The provider's own cloud cost: margin taken out, cached queries free (USD)."""
    return api_cost_per_query * (1.0 - cache_hit_rate) * (1.0 - provider_gross_margin)


# --- section 2: revenue per search query ------------------------------------

def annual_searches(*, searches_per_month_2012, internet_penetration_2012, internet_penetration_2020,
                    months_per_year=MONTHS_PER_YEAR):
    """2012 search volume scaled by the growth of internet penetration, per year."""
    return searches_per_month_2012 * months_per_year * internet_penetration_2020 / internet_penetration_2012


def revenue_per_query(*, search_revenue, annual_searches):
    return search_revenue / annual_searches


def cost_to_revenue_ratio(*, cost_per_query, revenue_per_query):
    return cost_per_query / revenue_per_query


# --- section 3: cost reductions and the share of revenue --------------------

def optimized_cost_per_query(*, cost_per_query, optimization_factor, inhouse_factor):
    """Cost after model optimisation and in-house hardware (USD per query)."""
    return cost_per_query * optimization_factor * inhouse_factor


def optimized_share_of_revenue(*, optimized_cost_per_query, revenue_per_query):
    return optimized_cost_per_query / revenue_per_query


def annual_incremental_cost(*, optimized_cost_per_query, annual_searches):
    """Yearly cost of serving every search with the LLM (USD per year)."""
    return optimized_cost_per_query * annual_searches


def _architectures(chatgpt_equivalent, two_stage):
    return xr.concat([chatgpt_equivalent, two_stage], dim="architecture").assign_coords(
        architecture=np.array(ARCHITECTURES))


def words(*, prompt_words, response_words, samples_per_query, results_k, section_words,
          answers_per_result=ANSWERS_PER_RESULT):
    """Words per query for each architecture, joined along ``architecture``."""
    return _architectures(
        words_chatgpt_equivalent(prompt_words=prompt_words, response_words=response_words,
                                 samples_per_query=samples_per_query),
        words_two_stage(prompt_words=prompt_words, results_k=results_k, section_words=section_words,
                        response_words=response_words, answers_per_result=answers_per_result))


def output_words(*, response_words, samples_per_query, results_k, answers_per_result=ANSWERS_PER_RESULT):
    """Words the model writes per query: every sampled answer, or one answer per retrieved result."""
    return _architectures(response_words * samples_per_query, results_k * response_words * answers_per_result)


def list_price_side(*, prompt_words, response_words, samples_per_query, results_k, section_words, words_per_token,
                    api_price_per_1k_tokens, output_input_price_ratio, answers_per_result=ANSWERS_PER_RESULT,
                    tokens_per_ktoken=TOKENS_PER_KTOKEN):
    """Section 1 up to the list price: tokens per query, the share the model writes, and their cost at list prices."""
    w = words(prompt_words=prompt_words, response_words=response_words, samples_per_query=samples_per_query,
              results_k=results_k, section_words=section_words, answers_per_result=answers_per_result)
    out = {"tokens_per_query": tokens_per_query(words=w, words_per_token=words_per_token)}
    out["output_token_share"] = output_words(response_words=response_words, samples_per_query=samples_per_query,
                                             results_k=results_k, answers_per_result=answers_per_result) / w
    out["api_cost_per_query"] = api_cost_per_query(tokens_per_query=out["tokens_per_query"],
                                                   api_price_per_1k_tokens=api_price_per_1k_tokens,
                                                   output_token_share=out["output_token_share"],
                                                   output_input_price_ratio=output_input_price_ratio,
                                                   tokens_per_ktoken=tokens_per_ktoken)
    return out


def revenue_side(out, *, searches_per_month_2012, internet_penetration_2012, internet_penetration_2020,
                 search_revenue, optimization_factor, inhouse_factor, months_per_year=MONTHS_PER_YEAR):
    """Sections 2 and 3, from ``out["cost_per_query"]``; adds to ``out``."""
    out["annual_searches"] = annual_searches(searches_per_month_2012=searches_per_month_2012,
                                             internet_penetration_2012=internet_penetration_2012,
                                             internet_penetration_2020=internet_penetration_2020,
                                             months_per_year=months_per_year)
    out["revenue_per_query"] = revenue_per_query(search_revenue=search_revenue,
                                                 annual_searches=out["annual_searches"])
    out["cost_to_revenue_ratio"] = cost_to_revenue_ratio(cost_per_query=out["cost_per_query"],
                                                         revenue_per_query=out["revenue_per_query"])
    out["optimized_cost_per_query"] = optimized_cost_per_query(cost_per_query=out["cost_per_query"],
                                                               optimization_factor=optimization_factor,
                                                               inhouse_factor=inhouse_factor)
    out["optimized_share_of_revenue"] = optimized_share_of_revenue(
        optimized_cost_per_query=out["optimized_cost_per_query"], revenue_per_query=out["revenue_per_query"])
    out["annual_incremental_cost"] = annual_incremental_cost(
        optimized_cost_per_query=out["optimized_cost_per_query"], annual_searches=out["annual_searches"])
    return out


#: Outputs of sections 2 and 3, shared by the models that build on this one.
REVENUE_OUTPUTS = {
    "annual_searches": Output("searches/year", "search queries per year", role="volume"),
    "revenue_per_query": Output("USD/query", "search revenue per query", role="revenue"),
    "cost_to_revenue_ratio": Output("1", "cost per query / revenue per query"),
    "optimized_cost_per_query": Output("USD/query", "cost per query after optimisation and in-house hardware"),
    "optimized_share_of_revenue": Output("1", "optimized cost per query / revenue per query"),
    "annual_incremental_cost": Output("USD/year", "yearly cost of LLM answers to every search"),
}


@model(name="search", description="LLM-powered search: cost per query at the API list price against revenue per query",
       outputs={
           "tokens_per_query": Output("tokens/query", "tokens read and written per query"),
           "output_token_share": Output("1", "share of a query's tokens that the model writes"),
           "api_cost_per_query": Output("USD/query", "cost per query at the API list price"),
           "cost_per_query": Output("USD/query", "provider's cost per query", role="cost"),
           **REVENUE_OUTPUTS,
       })
def evaluate(*, prompt_words, response_words, samples_per_query, results_k, section_words,
             words_per_token, api_price_per_1k_tokens, output_input_price_ratio, cache_hit_rate,
             provider_gross_margin, searches_per_month_2012, internet_penetration_2012, internet_penetration_2020,
             search_revenue, optimization_factor, inhouse_factor, answers_per_result=ANSWERS_PER_RESULT,
             tokens_per_ktoken=TOKENS_PER_KTOKEN, months_per_year=MONTHS_PER_YEAR):
    """All outputs of sections 1 to 3; inputs are DataArrays that broadcast by name.

    Returns
    -------
    dict of str to xarray.DataArray
        Query-level outputs gain an ``architecture`` dim; revenue-side
        outputs do not depend on it and do not have it.
    """
    out = list_price_side(prompt_words=prompt_words, response_words=response_words,
                          samples_per_query=samples_per_query, results_k=results_k, section_words=section_words,
                          words_per_token=words_per_token, api_price_per_1k_tokens=api_price_per_1k_tokens,
                          output_input_price_ratio=output_input_price_ratio, answers_per_result=answers_per_result,
                          tokens_per_ktoken=tokens_per_ktoken)
    out["cost_per_query"] = cost_per_query(api_cost_per_query=out["api_cost_per_query"],
                                           cache_hit_rate=cache_hit_rate,
                                           provider_gross_margin=provider_gross_margin)
    return revenue_side(out, searches_per_month_2012=searches_per_month_2012,
                        internet_penetration_2012=internet_penetration_2012,
                        internet_penetration_2020=internet_penetration_2020, search_revenue=search_revenue,
                        optimization_factor=optimization_factor, inhouse_factor=inhouse_factor,
                        months_per_year=months_per_year)


MODEL = evaluate
