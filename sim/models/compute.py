"""Inference and training cost from first principles (SPEC sections 4 to 7).

A dense decoder-only transformer with N parameters spends about 2N FLOP per
token read or generated and 6N FLOP per training token.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import search
from ._base import Constant, Output, model
from .constants import HOURS_PER_YEAR, ONE_YEAR, SECONDS_PER_HOUR, TOKENS_PER_KTOKEN
from .ownership import energy_per_chip_hour, owned_capital_per_chip_hour

#: Forward pass: 2 FLOP per parameter per token (a multiply and an add).
INFERENCE_FLOP = Constant(2.0, "FLOP/parameter/token")
#: Forward and backward pass: 6 FLOP per parameter per training token.
TRAINING_FLOP = Constant(6.0, "FLOP/parameter/token")


# --- section 4: inference, compute path --------------------------------------

def seconds_per_1k_tokens(*, params, peak_flops, mfu_inference, flop_per_token=INFERENCE_FLOP,
                          tokens_per_ktoken=TOKENS_PER_KTOKEN):
    """Accelerator-seconds to process 1,000 tokens at 2N FLOP per token."""
    return flop_per_token * params * tokens_per_ktoken / (peak_flops * mfu_inference)


def inference_cost_per_1k_tokens(*, params, peak_flops, mfu_inference, price_per_chip_hour,
                                 flop_per_token=INFERENCE_FLOP, tokens_per_ktoken=TOKENS_PER_KTOKEN,
                                 seconds_per_hour=SECONDS_PER_HOUR):
    seconds = seconds_per_1k_tokens(params=params, peak_flops=peak_flops, mfu_inference=mfu_inference,
                                    flop_per_token=flop_per_token, tokens_per_ktoken=tokens_per_ktoken)
    return seconds / seconds_per_hour * price_per_chip_hour


def implied_api_gross_margin(*, inference_cost_per_1k_tokens, api_price_per_1k_tokens):
    return 1.0 - inference_cost_per_1k_tokens / api_price_per_1k_tokens


@model(name="inference",
       description="Inference cost per 1,000 tokens from 2N FLOP per token, peak FLOP/s, MFU and chip price",
       outputs={
           "seconds_per_1k_tokens": Output("chip-seconds/ktoken", "accelerator time per 1,000 tokens"),
           "inference_cost_per_1k_tokens": Output("USD/ktoken", "inference cost per 1,000 tokens", role="cost"),
           "implied_api_gross_margin": Output("1", "API gross margin implied by the compute cost"),
       })
def evaluate_inference(*, params, peak_flops, mfu_inference, price_per_chip_hour, api_price_per_1k_tokens,
                       flop_per_token=INFERENCE_FLOP, tokens_per_ktoken=TOKENS_PER_KTOKEN,
                       seconds_per_hour=SECONDS_PER_HOUR):
    out = {"seconds_per_1k_tokens": seconds_per_1k_tokens(params=params, peak_flops=peak_flops,
                                                          mfu_inference=mfu_inference, flop_per_token=flop_per_token,
                                                          tokens_per_ktoken=tokens_per_ktoken)}
    out["inference_cost_per_1k_tokens"] = out["seconds_per_1k_tokens"] / seconds_per_hour * price_per_chip_hour
    out["implied_api_gross_margin"] = implied_api_gross_margin(
        inference_cost_per_1k_tokens=out["inference_cost_per_1k_tokens"],
        api_price_per_1k_tokens=api_price_per_1k_tokens)
    return out


INFERENCE = evaluate_inference


# --- search with a choice of cost basis --------------------------------------

COST_BASES = ("api_list_price", "compute")


def compute_cost_per_query(*, tokens_per_query, inference_cost_per_1k_tokens, cache_hit_rate,
                           tokens_per_ktoken=TOKENS_PER_KTOKEN):
    """The provider's own compute cost per query: no margin to take out, cached queries free."""
    return tokens_per_query * inference_cost_per_1k_tokens / tokens_per_ktoken * (1.0 - cache_hit_rate)


@model(name="search_cost_basis",
       description="LLM-powered search with cost per query from the API list price and from the compute path",
       uses=search.MODEL,
       outputs={**search.MODEL.outputs,
                "inference_cost_per_1k_tokens": Output("USD/ktoken", "inference cost per 1,000 tokens")})
def evaluate_search_cost_basis(*, params, peak_flops, mfu_inference, price_per_chip_hour,
                               flop_per_token=INFERENCE_FLOP, seconds_per_hour=SECONDS_PER_HOUR, **p):
    k = p["tokens_per_ktoken"]
    out = search.list_price_side(
        **{n: p[n] for n in ("prompt_words", "response_words", "samples_per_query", "results_k", "section_words",
                             "words_per_token", "api_price_per_1k_tokens", "output_input_price_ratio",
                             "answers_per_result", "tokens_per_ktoken")})
    out["inference_cost_per_1k_tokens"] = inference_cost_per_1k_tokens(
        params=params, peak_flops=peak_flops, mfu_inference=mfu_inference, price_per_chip_hour=price_per_chip_hour,
        flop_per_token=flop_per_token, tokens_per_ktoken=k, seconds_per_hour=seconds_per_hour)
    by_list_price = search.cost_per_query(api_cost_per_query=out["api_cost_per_query"],
                                          cache_hit_rate=p["cache_hit_rate"],
                                          provider_gross_margin=p["provider_gross_margin"])
    by_compute = compute_cost_per_query(tokens_per_query=out["tokens_per_query"],
                                        inference_cost_per_1k_tokens=out["inference_cost_per_1k_tokens"],
                                        cache_hit_rate=p["cache_hit_rate"], tokens_per_ktoken=k)
    out["cost_per_query"] = xr.concat([by_list_price, by_compute], dim="cost_basis") \
        .assign_coords(cost_basis=np.array(COST_BASES))
    return search.revenue_side(
        out, **{n: p[n] for n in ("searches_per_month_2012", "internet_penetration_2012", "internet_penetration_2020",
                                  "search_revenue", "optimization_factor", "inhouse_factor", "months_per_year")})


SEARCH_COST_BASIS = evaluate_search_cost_basis


# --- sections 5 and 6: training cost in the cloud, and memory ----------------

def training_flops(*, params, tokens, flop_per_token=TRAINING_FLOP):
    return flop_per_token * params * tokens


def training_chip_hours(*, training_flops, peak_flops, mfu_training, seconds_per_hour=SECONDS_PER_HOUR):
    return training_flops / (peak_flops * mfu_training) / seconds_per_hour


def training_memory_bytes(*, total_params, bytes_per_param):
    """fp16 weights and gradients plus fp32 Adam states and master copy, about 20 bytes for each parameter held
    (all of a mixture-of-experts model's, not only those a token uses)."""
    return bytes_per_param * total_params


def min_accelerators(*, training_memory_bytes, accelerator_memory_bytes):
    return np.ceil(training_memory_bytes / accelerator_memory_bytes)


@model(name="training", description="Cloud training cost (6ND FLOP, N the parameters used per token) and the memory "
                                     "a training run needs (all parameters)",
       outputs={
           "training_flops": Output("FLOP", "training compute, 6 N D"),
           "training_chip_hours": Output("chip-hours", "accelerator-hours to train"),
           "training_cost": Output("USD", "cloud training cost", role="cost"),
           "training_memory_bytes": Output("bytes", "memory for weights, gradients and optimizer state"),
           "min_accelerators": Output("chips", "accelerators needed to hold the training state"),
       })
def evaluate_training(*, params, total_params, tokens, peak_flops, mfu_training, price_per_chip_hour,
                      training_bytes_per_param, accelerator_memory_bytes, flop_per_token=TRAINING_FLOP,
                      seconds_per_hour=SECONDS_PER_HOUR):
    out = {"training_flops": training_flops(params=params, tokens=tokens, flop_per_token=flop_per_token)}
    out["training_chip_hours"] = training_chip_hours(training_flops=out["training_flops"], peak_flops=peak_flops,
                                                     mfu_training=mfu_training, seconds_per_hour=seconds_per_hour)
    out["training_cost"] = out["training_chip_hours"] * price_per_chip_hour
    out["training_memory_bytes"] = training_memory_bytes(total_params=total_params,
                                                         bytes_per_param=training_bytes_per_param)
    out["min_accelerators"] = min_accelerators(training_memory_bytes=out["training_memory_bytes"],
                                               accelerator_memory_bytes=accelerator_memory_bytes)
    return out


TRAINING = evaluate_training


# --- section 7: in-house training, hardware amortisation plus energy ---------

def energy_kwh(*, chip_hours, chip_power_kw, pue):
    return chip_hours * chip_power_kw * pue


@model(name="inhouse_training", description="In-house training cost: chips, servers and network repaid over their "
                                             "lifetime for the hours used, plus energy",
       outputs={
           "training_flops": Output("FLOP", "training compute, 6 N D"),
           "chip_hours": Output("chip-hours", "accelerator-hours to train"),
           "owned_cost_per_chip_hour": Output("USD/chip-hour", "cost of an owned chip-hour of use, with energy"),
           "hardware_cost": Output("USD", "purchase of chips, servers and network, repaid for the hours used"),
           "energy_kwh": Output("kWh", "facility energy, chip power times PUE"),
           "energy_cost": Output("USD", "electricity cost"),
           "inhouse_cost": Output("USD", "in-house training cost", role="cost"),
       })
def evaluate_inhouse(*, params, tokens, peak_flops, mfu_training, chip_price, server_multiplier, networking_markup,
                     cost_of_capital, lifetime_years, utilisation, chip_power_kw, pue, electricity_price_per_kwh,
                     flop_per_token=TRAINING_FLOP, seconds_per_hour=SECONDS_PER_HOUR, hours_per_year=HOURS_PER_YEAR,
                     one_year=ONE_YEAR):
    out = {"training_flops": training_flops(params=params, tokens=tokens, flop_per_token=flop_per_token)}
    out["chip_hours"] = training_chip_hours(training_flops=out["training_flops"], peak_flops=peak_flops,
                                            mfu_training=mfu_training, seconds_per_hour=seconds_per_hour)
    capital = owned_capital_per_chip_hour(chip_price=chip_price, server_multiplier=server_multiplier,
                                          networking_markup=networking_markup, cost_of_capital=cost_of_capital,
                                          lifetime_years=lifetime_years, utilisation=utilisation,
                                          hours_per_year=hours_per_year, one_year=one_year)
    out["owned_cost_per_chip_hour"] = capital + energy_per_chip_hour(
        chip_power_kw=chip_power_kw, pue=pue, electricity_price_per_kwh=electricity_price_per_kwh)
    out["hardware_cost"] = out["chip_hours"] * capital
    out["energy_kwh"] = energy_kwh(chip_hours=out["chip_hours"], chip_power_kw=chip_power_kw, pue=pue)
    out["energy_cost"] = out["energy_kwh"] * electricity_price_per_kwh
    out["inhouse_cost"] = out["hardware_cost"] + out["energy_cost"]
    return out


INHOUSE = evaluate_inhouse
