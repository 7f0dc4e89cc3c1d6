"""Inference cost from the roofline: compute-bound prefill, bandwidth-bound decode.

The article borrowed GPT-3's training MFU (21.3 %) for inference. Here the
utilisation follows from the hardware and the batch:

* prefill reads the prompt in parallel and is compute-bound: 2N FLOP per
  prompt token at utilisation ``mfu_prefill``;
* each decode step generates one token for each of ``batch_size`` sequences;
  it reads every weight (``bytes_per_param * N`` bytes) once for the whole
  batch plus each sequence's KV cache, and does 2N FLOP per sequence. The step
  takes the longer of its memory time and its compute time.

A model too large for one chip is split over several; bandwidth, FLOP/s and
price then scale together, so the cost per token is the same (communication is
not modelled). The outputs include the effective MFU, the FLOP actually done
over the peak FLOP paid for, to set beside the article's 21.3 %.
"""

from __future__ import annotations

import numpy as np

from ._base import Model, Output, register


def prefill_seconds(*, params, prompt_tokens, peak_flops, mfu_prefill):
    """Chip-seconds to read one request's prompt."""
    return 2.0 * params * prompt_tokens / (peak_flops * mfu_prefill)


def decode_step_memory_seconds(*, params, bytes_per_param, batch_size, kv_bytes_per_token, context_tokens,
                               memory_bandwidth, bandwidth_utilisation):
    """Time to stream the weights once and every sequence's KV cache."""
    bytes_read = bytes_per_param * params + batch_size * kv_bytes_per_token * context_tokens
    return bytes_read / (memory_bandwidth * bandwidth_utilisation)


def decode_step_compute_seconds(*, params, batch_size, peak_flops, mfu_decode_max):
    return 2.0 * params * batch_size / (peak_flops * mfu_decode_max)


def evaluate(*, params, bytes_per_param, peak_flops, memory_bandwidth, price_per_chip_hour, batch_size,
             prompt_tokens, output_tokens, mfu_prefill, mfu_decode_max, bandwidth_utilisation, kv_bytes_per_token):
    context = prompt_tokens + output_tokens / 2.0  # mean KV length during decode
    memory = decode_step_memory_seconds(params=params, bytes_per_param=bytes_per_param, batch_size=batch_size,
                                        kv_bytes_per_token=kv_bytes_per_token, context_tokens=context,
                                        memory_bandwidth=memory_bandwidth,
                                        bandwidth_utilisation=bandwidth_utilisation)
    compute = decode_step_compute_seconds(params=params, batch_size=batch_size, peak_flops=peak_flops,
                                          mfu_decode_max=mfu_decode_max)
    step = np.maximum(memory, compute)
    out = {"prefill_seconds_per_request": prefill_seconds(params=params, prompt_tokens=prompt_tokens,
                                                          peak_flops=peak_flops, mfu_prefill=mfu_prefill)}
    out["decode_seconds_per_request"] = output_tokens * step / batch_size
    chip_seconds = out["prefill_seconds_per_request"] + out["decode_seconds_per_request"]
    tokens = prompt_tokens + output_tokens
    out["roofline_cost_per_1k_tokens"] = chip_seconds / tokens * 1000.0 / 3600.0 * price_per_chip_hour
    out["effective_mfu"] = 2.0 * params * tokens / (chip_seconds * peak_flops)
    out["decode_tokens_per_second"] = batch_size / step
    out["decode_memory_bound"] = (memory > compute) * 1.0
    return out


MODEL = register(Model(
    name="roofline",
    description="Inference cost per 1,000 tokens from compute-bound prefill and bandwidth-bound decode",
    inputs=("params", "bytes_per_param", "peak_flops", "memory_bandwidth", "price_per_chip_hour", "batch_size",
            "prompt_tokens", "output_tokens", "mfu_prefill", "mfu_decode_max", "bandwidth_utilisation",
            "kv_bytes_per_token"),
    outputs={
        "prefill_seconds_per_request": Output("chip-seconds", "prefill time per request"),
        "decode_seconds_per_request": Output("chip-seconds", "decode time per request (batch share)"),
        "roofline_cost_per_1k_tokens": Output("USD/1k tokens", "inference cost per 1,000 tokens, roofline"),
        "effective_mfu": Output("1", "FLOP done / peak FLOP paid for"),
        "decode_tokens_per_second": Output("tokens/s", "decode throughput of one model replica"),
        "decode_memory_bound": Output("1", "1 where the decode step is bandwidth-bound (mean: probability)"),
    },
    evaluate=evaluate,
))
