"""Inference cost from the roofline: compute-bound prefill, bandwidth-bound decode.

The article borrowed GPT-3's training MFU (21.3 %) for inference. Here the
utilisation follows from the hardware and the batch:

* prefill reads the prompt in parallel and is compute-bound: 2N FLOP per
  prompt token at utilisation ``mfu_prefill``;
* each decode step generates one token for each of ``batch_size`` requests;
  it reads every weight (``bytes_per_param * N`` bytes) once for the whole
  batch plus each request's KV cache, and does 2N FLOP per request. The step
  takes the longer of its memory time and its compute time.

Times are chip-seconds and throughput is per chip: a model too large for one
chip is split over several, and bandwidth, FLOP/s and price then scale
together, so the cost per token is the same (communication is not modelled).
The outputs include the effective MFU, the FLOP actually done over the peak
FLOP paid for, to set beside the article's 21.3 %.
"""

from __future__ import annotations

import numpy as np

from ._base import Constant, Output, model
from .compute import INFERENCE_FLOP, SECONDS_PER_HOUR
from .search import TOKENS_PER_KTOKEN

#: A decode step generates one token for each request in the batch.
TOKENS_PER_REQUEST_STEP = Constant(1.0, "token/request")


def prefill_seconds(*, params, prompt_tokens, peak_flops, mfu_prefill, flop_per_token=INFERENCE_FLOP):
    """Chip-seconds to read one request's prompt."""
    return flop_per_token * params * prompt_tokens / (peak_flops * mfu_prefill)


def decode_step_memory_seconds(*, params, bytes_per_param, batch_size, kv_bytes_per_token, context_tokens,
                               memory_bandwidth, bandwidth_utilisation):
    """Time to stream the weights once and every request's KV cache."""
    bytes_read = bytes_per_param * params + batch_size * kv_bytes_per_token * context_tokens
    return bytes_read / (memory_bandwidth * bandwidth_utilisation)


def decode_step_compute_seconds(*, params, batch_size, peak_flops, mfu_decode_max, flop_per_token=INFERENCE_FLOP,
                                tokens_per_step=TOKENS_PER_REQUEST_STEP):
    return flop_per_token * params * batch_size * tokens_per_step / (peak_flops * mfu_decode_max)


@model(name="roofline",
       description="Inference cost per 1,000 tokens from compute-bound prefill and bandwidth-bound decode",
       outputs={
           "prefill_seconds_per_request": Output("chip-seconds/request", "prefill time per request"),
           "decode_seconds_per_request": Output("chip-seconds/request", "decode time per request (batch share)"),
           "roofline_cost_per_1k_tokens": Output("USD/ktoken", "inference cost per 1,000 tokens, roofline",
                                                 role="cost"),
           "effective_mfu": Output("1", "FLOP done / peak FLOP paid for"),
           "decode_tokens_per_second": Output("tokens/s/chip", "decode throughput per chip"),
           "decode_memory_bound": Output("1", "1 where the decode step is bandwidth-bound (mean: probability)"),
       })
def evaluate(*, params, bytes_per_param, peak_flops, memory_bandwidth, price_per_chip_hour, batch_size,
             prompt_tokens, output_tokens, mfu_prefill, mfu_decode_max, bandwidth_utilisation, kv_bytes_per_token,
             flop_per_token=INFERENCE_FLOP, tokens_per_step=TOKENS_PER_REQUEST_STEP,
             tokens_per_ktoken=TOKENS_PER_KTOKEN, seconds_per_hour=SECONDS_PER_HOUR):
    context = prompt_tokens + output_tokens / 2.0  # mean KV length during decode
    memory = decode_step_memory_seconds(params=params, bytes_per_param=bytes_per_param, batch_size=batch_size,
                                        kv_bytes_per_token=kv_bytes_per_token, context_tokens=context,
                                        memory_bandwidth=memory_bandwidth,
                                        bandwidth_utilisation=bandwidth_utilisation)
    compute = decode_step_compute_seconds(params=params, batch_size=batch_size, peak_flops=peak_flops,
                                          mfu_decode_max=mfu_decode_max, flop_per_token=flop_per_token,
                                          tokens_per_step=tokens_per_step)
    step = np.maximum(memory, compute)
    out = {"prefill_seconds_per_request": prefill_seconds(params=params, prompt_tokens=prompt_tokens,
                                                          peak_flops=peak_flops, mfu_prefill=mfu_prefill,
                                                          flop_per_token=flop_per_token)}
    out["decode_seconds_per_request"] = output_tokens / tokens_per_step * step / batch_size
    chip_seconds = out["prefill_seconds_per_request"] + out["decode_seconds_per_request"]
    tokens = prompt_tokens + output_tokens
    out["roofline_cost_per_1k_tokens"] = (chip_seconds / tokens * tokens_per_ktoken / seconds_per_hour
                                          * price_per_chip_hour)
    out["effective_mfu"] = flop_per_token * params * tokens / (chip_seconds * peak_flops)
    out["decode_tokens_per_second"] = batch_size * tokens_per_step / step
    out["decode_memory_bound"] = (memory > compute) * 1.0
    return out


MODEL = evaluate
