"""Serving cost and latency from the roofline: compute-bound prefill, bandwidth-bound decode, memory limits.

The article borrowed GPT-3's training MFU (21.3 %) for inference. Here the
utilisation follows from the hardware, the model and the batch. A replica
is ``tensor_parallel`` chips holding one copy of the weights:

* **memory**: the weights (``bytes_per_param`` times all parameters, active
  or not) and the KV cache must fit in the replica's memory. A replica has
  at least ``tensor_parallel_min`` chips, and as many more (a power of two)
  as keep the weights within ``max_weight_memory_share`` of its memory; the
  KV cache may use ``kv_cache_memory_fraction`` of what the weights leave.
  The cache reserves each request's prompt and output, as schedulers do.
  The batch is the requested ``batch_size`` or the largest that fits,
  whichever is smaller; ``memory_fits`` is 0 where not even one request's
  cache fits.
* **prefill** reads a request's prompt in parallel and is compute-bound:
  2N FLOP per prompt token plus attention over the prompt, at ``mfu_prefill``
  of the peak at the weights' precision (bf16 for 16-bit weights, fp8 for
  8-bit, fp4 for 4-bit where the chip has them).
* attention runs at the KV cache's precision (fp8 from an 8-bit cache, bf16
  from a 16-bit one), the linear layers at the weights';
* each **decode step** generates one token for every request in the batch.
  It reads the weights once for the whole batch (for a mixture-of-experts
  model: the shared weights and the experts the batch's tokens are routed
  to, ``1 - (1 - r)^B`` of them for routed fraction r and B tokens) plus
  each request's KV cache, and does 2N FLOP plus attention per token; it
  takes the longer of its memory time and its compute time, plus a fixed
  ``decode_step_overhead`` (kernel launches, scheduling and the all-reduces
  of tensor parallelism).

With in-flight batching, every ``output_tokens`` decode steps each request
in the batch is replaced by a new one whose prefill interrupts decoding, so
a user sees a token every step plus that share of prefill time. Throughput
is given per chip and per replica (``tensor_parallel`` chips); cost counts
the chips' price over the share of provisioned capacity used on average:
capacity is provisioned for the peak, used to ``peak_load_share`` of it
there, and the average load is the peak's ``1 / peak_to_average_ratio``.
Communication between the chips of a replica is not modelled. Revenue is
what an API charges for a request's tokens at list prices, per million of
its output tokens.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ._base import Constant, Output, model
from .compute import INFERENCE_FLOP
from .constants import SECONDS_PER_HOUR, TOKENS_PER_KTOKEN, TOKENS_PER_MTOKEN

#: A decode step generates one token for each request in the batch.
TOKENS_PER_STEP = Constant(1.0, "token")
#: Weight precisions at which a chip's fp8 and bf16 peaks apply (8 and 16 bits).
FP8_BYTES = Constant(1.0, "byte/parameter")
BF16_BYTES = Constant(2.0, "byte/parameter")
ONE_CHIP = Constant(1.0, "chip")
#: An 8-bit KV cache, in the unit of cached values.
FP8_KV = Constant(1.0, "byte/values")


def peak_at_precision(*, bytes_per_param, peak_flops, peak_flops_fp8, peak_flops_fp4, bf16_bytes=BF16_BYTES,
                      fp8_bytes=FP8_BYTES):
    """The chip's dense peak at the weights' precision: bf16 for 2 bytes or more, fp8 for 1, fp4 below."""
    return xr.where(bytes_per_param >= bf16_bytes, peak_flops,
                    xr.where(bytes_per_param >= fp8_bytes, peak_flops_fp8, peak_flops_fp4))


def weight_bytes_read(*, params, total_params, routed_expert_fraction, batch, bytes_per_param):
    """Bytes of weights a decode step reads for ``batch`` tokens.

    Every token uses the ``params`` active parameters; of the rest, the
    experts no token is routed to are not read. With each token routed to a
    share r of the experts, independently, a batch of B tokens touches
    ``d = 1 - (1 - r)^B`` of them, and ``(d - r) / (1 - r)`` of the
    parameters a single token leaves unread. A dense model (r = 0, total
    equal to active) reads all its weights.
    """
    touched = 1.0 - (1.0 - routed_expert_fraction) ** batch
    unread_share = (touched - routed_expert_fraction) / (1.0 - routed_expert_fraction)
    return bytes_per_param * (params + (total_params - params) * unread_share)


def chips_per_replica(*, total_params, bytes_per_param, accelerator_memory_bytes, tensor_parallel_min,
                      max_weight_memory_share, one_chip=ONE_CHIP):
    """At least ``tensor_parallel_min`` chips, and the power of two that keeps the weights within their share."""
    need = bytes_per_param * total_params / (accelerator_memory_bytes * max_weight_memory_share * one_chip)
    return np.maximum(tensor_parallel_min, 2.0 ** np.ceil(np.log2(np.maximum(need, 1.0))) * one_chip)


def max_batch(*, total_params, bytes_per_param, tensor_parallel, accelerator_memory_bytes, kv_cache_memory_fraction,
              kv_bytes_per_token, context_tokens):
    """The most requests whose KV cache fits beside the weights in the replica's memory (0 or less: none fits)."""
    free = tensor_parallel * accelerator_memory_bytes - bytes_per_param * total_params
    return np.floor(kv_cache_memory_fraction * free / (kv_bytes_per_token * context_tokens))


@model(name="roofline",
       description="Serving cost, throughput and latency from compute-bound prefill, bandwidth-bound decode and "
                   "memory limits",
       outputs={
           "cost_per_1k_tokens": Output("USD/ktoken", "serving cost per 1,000 tokens (prompt and output)"),
           "cost_per_mtoken_output": Output("USD/Mtoken", "serving cost per million output tokens (their prompts' "
                                                          "cost included)", role="cost"),
           "revenue_per_mtoken_output": Output("USD/Mtoken", "list-price revenue per million output tokens (their "
                                                             "prompts' price included)", role="revenue"),
           "tensor_parallel": Output("chips", "chips per replica"),
           "serving_utilisation": Output("1", "share of provisioned capacity used on average"),
           "memory_fits": Output("1", "1 where the weights and one request's KV cache fit in the replica"),
           "max_batch": Output("1", "most concurrent requests whose KV cache fits in the replica"),
           "batch": Output("1", "concurrent requests per decode step (requested, or the most that fit)"),
           "output_tokens_per_second_replica": Output("tokens/s", "output tokens per second of one replica"),
           "output_tokens_per_second_chip": Output("tokens/s/chip", "output tokens per second per chip"),
           "tokens_per_second_user": Output("tokens/s", "output tokens per second one user sees"),
           "time_to_first_token": Output("s", "time to first token (prefill of one request, no queueing)"),
           "prefill_seconds_per_request": Output("chip-seconds", "chip time to read one request's prompt"),
           "decode_seconds_per_request": Output("chip-seconds", "chip time to generate one request's output "
                                                                "(its share of each decode step)"),
           "effective_mfu": Output("1", "FLOP done / peak FLOP paid for at the weights' precision"),
           "decode_memory_bound": Output("1", "1 where the decode step is bandwidth-bound (mean: probability)"),
       })
def evaluate(*, params, total_params, routed_expert_fraction, bytes_per_param, kv_bytes_per_value, kv_values_per_token,
             attention_flops_per_context_token, peak_flops, peak_flops_fp8, peak_flops_fp4, memory_bandwidth,
             accelerator_memory_bytes, price_per_chip_hour, tensor_parallel_min, max_weight_memory_share, batch_size,
             prompt_tokens, output_tokens, mfu_prefill, mfu_decode_max, bandwidth_utilisation, kv_cache_memory_fraction,
             decode_step_overhead, peak_load_share, peak_to_average_ratio, price_input_usd_per_mtoken,
             output_input_price_ratio, flop_per_token=INFERENCE_FLOP, tokens_per_step=TOKENS_PER_STEP,
             bf16_bytes=BF16_BYTES, fp8_bytes=FP8_BYTES, fp8_kv=FP8_KV, tokens_per_ktoken=TOKENS_PER_KTOKEN,
             tokens_per_mtoken=TOKENS_PER_MTOKEN, seconds_per_hour=SECONDS_PER_HOUR, one_chip=ONE_CHIP):
    peak = peak_at_precision(bytes_per_param=bytes_per_param, peak_flops=peak_flops, peak_flops_fp8=peak_flops_fp8,
                             peak_flops_fp4=peak_flops_fp4, bf16_bytes=bf16_bytes, fp8_bytes=fp8_bytes)
    kv_bytes_per_token = kv_values_per_token * kv_bytes_per_value
    context = prompt_tokens + output_tokens / 2.0  # mean KV length during decode
    tensor_parallel = chips_per_replica(total_params=total_params, bytes_per_param=bytes_per_param,
                                        accelerator_memory_bytes=accelerator_memory_bytes,
                                        tensor_parallel_min=tensor_parallel_min,
                                        max_weight_memory_share=max_weight_memory_share, one_chip=one_chip)
    out = {"tensor_parallel": tensor_parallel,
           "serving_utilisation": peak_load_share / peak_to_average_ratio}
    # the scheduler reserves each request's whole sequence, prompt and output
    out["max_batch"] = max_batch(total_params=total_params, bytes_per_param=bytes_per_param,
                                  tensor_parallel=tensor_parallel, accelerator_memory_bytes=accelerator_memory_bytes,
                                  kv_cache_memory_fraction=kv_cache_memory_fraction,
                                  kv_bytes_per_token=kv_bytes_per_token, context_tokens=prompt_tokens + output_tokens)
    out["memory_fits"] = (out["max_batch"] >= 1.0) * 1.0
    batch = np.maximum(np.minimum(batch_size, out["max_batch"]), 1.0)
    out["batch"] = batch

    # decode: one step for the whole batch, the longer of reading memory and computing
    weights = weight_bytes_read(params=params, total_params=total_params,
                                routed_expert_fraction=routed_expert_fraction, batch=batch,
                                bytes_per_param=bytes_per_param)
    memory_seconds = (weights + batch * kv_bytes_per_token * context) / (
        tensor_parallel * memory_bandwidth * bandwidth_utilisation)
    flop_per_output_token = flop_per_token * params + attention_flops_per_context_token * context
    # attention runs at the KV cache's precision (fp8 from an 8-bit cache, else bf16), not the weights'
    attention_peak = peak_at_precision(bytes_per_param=kv_bytes_per_value * fp8_bytes / fp8_kv, peak_flops=peak_flops,
                                       peak_flops_fp8=peak_flops_fp8, peak_flops_fp4=peak_flops_fp8,
                                       bf16_bytes=bf16_bytes, fp8_bytes=fp8_bytes)
    compute_seconds = batch * tokens_per_step * (flop_per_token * params / peak + attention_flops_per_context_token
                                                 * context / attention_peak) / (tensor_parallel * mfu_decode_max)
    step = np.maximum(memory_seconds, compute_seconds) + decode_step_overhead  # wall time of a decode step

    # prefill of one request: linear layers plus causal attention over the prompt
    prefill_flop = prompt_tokens * (flop_per_token * params + attention_flops_per_context_token * prompt_tokens / 2.0)
    prefill = prompt_tokens * (flop_per_token * params / peak + attention_flops_per_context_token * prompt_tokens
                               / 2.0 / attention_peak) / (tensor_parallel * mfu_prefill)  # wall time
    out["time_to_first_token"] = prefill
    out["prefill_seconds_per_request"] = tensor_parallel * prefill
    steps = output_tokens / tokens_per_step
    out["decode_seconds_per_request"] = tensor_parallel * steps * step / batch
    # per request, the replica spends its prefill and a 1/batch share of its decode steps
    wall_per_request = prefill + steps * step / batch
    out["output_tokens_per_second_replica"] = output_tokens / wall_per_request
    out["output_tokens_per_second_chip"] = out["output_tokens_per_second_replica"] / tensor_parallel
    # a user waits a step per token, plus the prefills of the requests that join the batch meanwhile
    out["tokens_per_second_user"] = tokens_per_step / (step + prefill * batch / steps)
    chip_seconds = out["prefill_seconds_per_request"] + out["decode_seconds_per_request"]
    price = price_per_chip_hour / out["serving_utilisation"]
    out["cost_per_1k_tokens"] = (chip_seconds / (prompt_tokens + output_tokens) * tokens_per_ktoken / seconds_per_hour
                                 * price)
    out["cost_per_mtoken_output"] = chip_seconds / output_tokens * tokens_per_mtoken / seconds_per_hour * price
    out["revenue_per_mtoken_output"] = (prompt_tokens + output_tokens * output_input_price_ratio) / output_tokens * (
        price_input_usd_per_mtoken)
    out["effective_mfu"] = (prefill_flop + output_tokens * flop_per_output_token) / (chip_seconds * peak)
    out["decode_memory_bound"] = (memory_seconds > compute_seconds) * 1.0
    return out


MODEL = evaluate
