"""Serving throughput, latency and cost of a parallel layout, from the model's architecture and the chips.

A serving group is ``tensor_parallel x pipeline_parallel`` chips holding one
copy of the weights. Its scheduler keeps as many requests in flight as their
KV cache allows, and each iteration of the engine (one *step*) advances every
request by one token (more with speculative decoding) while it reads a share
of the new requests' prompts (chunked prefill, in the same batch). Each step
costs, per chip and per pipeline stage:

* **dense layers** (attention projections, dense MLPs, shared experts): a
  roofline per operator, the longer of reading the chip's share
  of their weights at ``bandwidth_utilisation`` of the memory bandwidth and
  computing 2 FLOP per parameter for every token in the step at
  ``gemm_efficiency`` of the peak at the GEMM's input width
  (``compute_bytes_per_value``: the weights' own, or 16-bit where 4-bit
  weights are widened to 16-bit activations, as gpt-oss's MXFP4 experts are
  on Hopper), times ``fp4_gemm_efficiency`` for 4-bit GEMMs (a dense GEMM of fewer rows than
  a tile is bound by its weights' reads, so its empty rows do not count);
* **the vocabulary**: the input embedding and the output head (``vocab_size
  x hidden_size`` each) stay 16-bit (quantizers leave them out); the head is
  read every step and computes logits only for the tokens sampled (each
  decoding request's tokens and a prompt's last), the embedding is held and
  only its rows are looked up;
* **routed experts**: the experts some token of the step is routed to are
  read (``1 - (1 - k/E)^N`` of them for N tokens each choosing k of E), and a
  grouped GEMM runs each touched expert as if it had ``grouped_gemm_tokens``
  more tokens than it has: few tokens per expert run far below the peak (the
  efficiency is ``t / (t + grouped_gemm_tokens)`` for t tokens per expert);
* **attention**: every request's KV cache is read (at the mean context of
  decode) and attention FLOP are done at the KV cache's precision, at
  ``attention_efficiency``; the prompts' attention is a kernel of its own
  (compute-bound), after the decoding requests' (bandwidth-bound);
  grouped-query attention keeps its KV heads on the tensor-parallel chips
  (replicated where the chips outnumber the heads),
  multi-head latent attention (MLA) keeps one latent per token on every chip,
  layers with a window keep at most the window;
* **collectives**: tensor parallelism all-reduces the step's activations
  twice per layer (ring: ``2 (n - 1) / n`` of them over the link, plus a
  latency); attention data parallelism with expert parallelism gathers every
  replica's tokens to every chip (at the precision the experts read them:
  4-bit with its block scales, 8-bit or 16-bit) and reduce-scatters the
  experts' 16-bit outputs back, once per MoE layer (TensorRT-LLM's method
  within a node), or, with ``moe_all_to_all`` 1 (DeepEP, wide expert
  parallelism), dispatches and combines each token's k expert activations
  all-to-all; links run at ``collective_efficiency`` of their bandwidth;
* **overheads**: ``layer_overhead`` per layer (kernel launches and
  synchronisation), ``step_overhead`` per step and ``request_overhead`` per
  request in flight per step (scheduling and sampling on the host), the
  host's share ``arm_host_slowdown`` times longer on an Arm host (Grace).

The scheduler reserves the KV cache of a request's whole sequence (input plus
output) in ``kv_cache_memory_fraction`` of the memory the weights and the
runtime (``runtime_memory`` per chip: the CUDA context, communication
buffers, activations and CUDA graphs, the same whatever the chip's size)
leave, and admits at most ``max_batch``
requests and ``max_num_tokens`` tokens per step on each attention replica.
Replicas of attention data parallelism wait at every MoE layer for the one
reading the most prompts that step; where requests arrive in waves on every
replica at once (``synchronised_arrivals`` 1: a benchmark of fixed lengths
that submits them all together), ``wave_alignment`` of the prompts are read
by every replica in the same steps (the waves drift apart as prompts are
chunked and admitted).
Prefix caching removes the cached share of the prompt from the prefill (not
from the cache). Speculative decoding proposes ``draft_tokens`` tokens per
step (each costing about one more layer), verifies them in the step, and
accepts each with probability ``acceptance_rate``; a drafted token costs a layer's
work and overhead plus ``draft_overhead`` (its own pass's launch and sampling).

Throughput is output tokens per second of the group at full load; cost per
million output tokens charges the group's chips at ``price_per_chip_hour``
over ``serving_utilisation`` of their hours; energy is the chips' power over
the tokens (the facility's overhead is not counted).

The module is long because each physical effect above is a function of its
own, tested against a hand calculation (tests/models/test_serving.py).
"""

from __future__ import annotations

import numpy as np

from ._base import Constant, Field, Output, model
from .compute import INFERENCE_FLOP
from .constants import SECONDS_PER_HOUR, TOKENS_PER_MTOKEN
from .roofline import BF16_BYTES, FP8_BYTES, FP8_KV, ONE_CHIP, peak_at_precision

__all__ = ["MODEL", "CATALOGUE", "all_reduce_seconds", "all_to_all_seconds", "all_gather_seconds", "kv_share",
           "kv_bytes_per_token_layer", "layer_tokens", "attention_flop_per_token_pair", "routed_parameters",
           "expert_touched", "busiest_share", "accepted_per_step"]

#: Gate, up and down projections of a gated MLP expert: 3 matrices of hidden x intermediate.
EXPERT_MATRICES = Constant(3.0, "parameter/dim^2")
#: One matrix of vocabulary x hidden: the output head, and the input embedding beside it (untied in every served
#: model of the catalogue).
VOCABULARY_MATRIX = Constant(1.0, "parameter/dim^2")
#: Activations exchanged in 16-bit precision.
ACTIVATION_BYTES = Constant(2.0, "byte/dim/token")
#: Expert dispatch in fp8 and combine in bf16: 1 + 2 bytes per value.
ALL_TO_ALL_BYTES = Constant(3.0, "byte/dim/token")
#: K and V: two cached vectors per KV head; MLA caches one latent (and the rope key) per token.
K_AND_V = Constant(2.0, "values/dim/token")
LATENT = Constant(1.0, "values/dim/token")
#: QK^T and attention times V, 2 FLOP per multiply-add each, per head dimension.
ATTENTION_FLOP = Constant(4.0, "FLOP/dim/token^2")
#: Absorbed MLA: 2 FLOP per query head and latent (with rope) dim for the scores, 2 per latent dim for the values.
MLA_FLOP = Constant(2.0, "FLOP/dim/token^2")
ONE_TOKEN = Constant(1.0, "token")
ONE_REQUEST = Constant(1.0, "request")
#: One activation value per hidden dim per token (what a precision's bytes per value multiply).
VALUE = Constant(1.0, "values/dim/token")
#: Tensor parallelism all-reduces twice per layer (after attention and after the MLP).
ALL_REDUCES_PER_LAYER = Constant(2.0, "1")
#: An expert-parallel MoE layer dispatches and combines: two all-to-alls.
ALL_TO_ALLS_PER_LAYER = Constant(2.0, "1")


def _mla(kv_lora_rank):
    """1 where the model caches a latent per token (multi-head latent attention), else 0."""
    return (kv_lora_rank > 0 * kv_lora_rank) * 1.0


def routed_parameters(*, moe_layers, experts, experts_per_token, hidden_size, expert_intermediate_size,
                      expert_matrices=EXPERT_MATRICES):
    """All routed-expert parameters of the model, and those one token uses."""
    per_expert = expert_matrices * hidden_size * expert_intermediate_size
    return moe_layers * experts * per_expert, moe_layers * experts_per_token * per_expert


def kv_share(*, kv_lora_rank, kv_heads, tensor_parallel, attention_data_parallel, one_chip=ONE_CHIP):
    """Share of a token's KV values that one chip holding it keeps.

    All of them under attention data parallelism (a chip serves its own
    requests) or with MLA (one latent per token, on every chip of the
    group); else its KV heads' share, one head at least (heads are replicated
    where the chips outnumber them).
    """
    mla = _mla(kv_lora_rank)
    gqa = np.maximum(kv_heads / (tensor_parallel / one_chip), 1.0) / kv_heads
    return attention_data_parallel + (1.0 - attention_data_parallel) * (mla + (1.0 - mla) * gqa)


def kv_bytes_per_token_layer(*, kv_heads, head_dim, kv_lora_rank, rope_head_dim, kv_bytes_per_value,
                             k_and_v=K_AND_V, latent=LATENT):
    """Bytes one token of context takes in one layer's cache: K and V per KV head, or MLA's latent and rope key."""
    mla = _mla(kv_lora_rank)
    return kv_bytes_per_value * (mla * latent * (kv_lora_rank + rope_head_dim)
                                 + (1.0 - mla) * k_and_v * kv_heads * head_dim)


def layer_tokens(*, context, layers, windowed_layers, attention_window):
    """Tokens of context summed over the layers: a windowed layer sees at most its window."""
    return (layers - windowed_layers) * context + windowed_layers * np.minimum(context, attention_window)


def attention_flop_per_token_pair(*, attention_heads, head_dim, kv_lora_rank, rope_head_dim, absorbed=1.0,
                                  attention_flop=ATTENTION_FLOP, mla_flop=MLA_FLOP):
    """Attention FLOP one token spends per token of context in one layer (QK^T and attention times V).

    Grouped-query attention: 4 FLOP per query head dimension. MLA decodes
    with its up-projections absorbed (``absorbed`` 1): 2 per head and
    latent-plus-rope dim for the scores, 2 per head and latent dim for the
    values; it reads a prompt without them (``absorbed`` 0), as multi-head
    attention of ``head_dim`` plus the rope dims: 4 per head dim and 2 per
    rope dim.
    """
    mla = _mla(kv_lora_rank)
    latent = mla_flop * (2.0 * kv_lora_rank + rope_head_dim)
    expanded = attention_flop * head_dim + mla_flop * rope_head_dim
    return attention_heads * (mla * (absorbed * latent + (1.0 - absorbed) * expanded)
                              + (1.0 - mla) * attention_flop * head_dim)


def expert_touched(*, tokens, experts, experts_per_token, one_token=ONE_TOKEN):
    """Share of the routed experts that at least one of ``tokens`` tokens is routed to (k of E each, independently)."""
    return 1.0 - (1.0 - experts_per_token / np.maximum(experts, 1.0)) ** (tokens / one_token)


def all_reduce_seconds(*, message_bytes, chips, link_bandwidth, latency, efficiency, switched, one_chip=ONE_CHIP):
    """An all-reduce of ``message_bytes`` on each of ``chips`` chips (the alpha-beta model): ``2 (n - 1) / n`` of
    the message over each link, and a link's latency once where a switch reaches every peer at once (NVLink
    Switch: one-shot kernels), ``2 (n - 1)`` times round a ring where it does not (PCIe). One chip needs none.
    """
    n = chips / one_chip
    steps = switched * np.minimum(n - 1.0, 1.0) + (1.0 - switched) * 2.0 * (n - 1.0)
    return steps * latency + 2.0 * (n - 1.0) / n * message_bytes / (
        link_bandwidth * efficiency * one_chip)


def all_to_all_seconds(*, message_bytes, chips, link_bandwidth, latency, efficiency, switched, one_chip=ONE_CHIP):
    """An all-to-all of ``message_bytes`` from each of ``chips`` chips: ``(n - 1) / n`` of the message leaves the
    chip, after one latency through a switch, or ``n - 1`` exchanges in turn without one."""
    n = chips / one_chip
    steps = switched * np.minimum(n - 1.0, 1.0) + (1.0 - switched) * (n - 1.0)
    return steps * latency + (n - 1.0) / n * message_bytes / (link_bandwidth * efficiency
                                                                                   * one_chip)


def all_gather_seconds(*, message_bytes, chips, link_bandwidth, latency, efficiency, switched,
                       one_chip=ONE_CHIP):
    """An all-gather of ``message_bytes`` from each of ``chips`` chips: each receives the other ``n - 1`` chips'
    messages, after one latency through a switch, or ``n - 1`` steps round a ring without one: the bytes and
    steps of an all-to-all of ``n`` such messages from each chip. A reduce-scatter of ``n`` messages on each chip,
    each chip keeping one reduced, moves the same bytes in the same steps."""
    return all_to_all_seconds(message_bytes=message_bytes * chips / one_chip, chips=chips,
                              link_bandwidth=link_bandwidth, latency=latency, efficiency=efficiency,
                              switched=switched, one_chip=one_chip)


def busiest_share(*, arrivals, replicas):
    """Prompts the busiest of ``replicas`` attention replicas reads per step, when each gets ``arrivals`` on
    average and a balancing scheduler deals them out whole: ``E[ceil(N / n)]`` for N ~ Poisson(m), m = n a.

    Few arrivals: the busiest replica has one whenever any arrives, ``1 - exp(-m)``; many: the mean plus the
    rounding up, ``a + (n - 1) / (2 n)``, reached as ``1 - exp(-2 m)``. The larger of the two is within a few
    per cent of the sum over N; one replica reads ``a``.
    """
    m = replicas * arrivals
    return np.maximum(1.0 - np.exp(-m), arrivals + (1.0 - 1.0 / replicas) / 2.0 * (1.0 - np.exp(-2.0 * m)))


def accepted_per_step(*, draft_tokens, acceptance_rate, one_token=ONE_TOKEN):
    """Tokens a request gains per step with ``draft_tokens`` drafted, each accepted with ``acceptance_rate`` while
    all before it were: ``(1 - a^(n+1)) / (1 - a)`` (1 without drafting)."""
    n = draft_tokens / one_token
    a = np.minimum(acceptance_rate, 0.999999)
    return (1.0 - a ** (n + 1.0)) / (1.0 - a)


class _Layout:
    """The per-chip arithmetic of one serving group: weights, caches, and the time of a step of given tokens."""

    def __init__(self, p, constants):
        self.p, self.c = p, constants
        c = constants
        tp, pp = p["tensor_parallel"] / c["one_chip"], p["pipeline_parallel"] / c["one_chip"]
        adp = p["attention_data_parallel"]
        self.tp, self.pp, self.adp = tp, pp, adp
        self.replicas = adp * tp + (1.0 - adp)  # attention replicas: each chip under data parallelism, else one
        self.chips_per_replica = pp * (adp + (1.0 - adp) * tp)
        self.routed, self.routed_active = routed_parameters(
            moe_layers=p["moe_layers"], experts=p["experts"], experts_per_token=p["experts_per_token"],
            hidden_size=p["hidden_size"], expert_intermediate_size=p["expert_intermediate_size"],
            expert_matrices=c["expert_matrices"])
        chip = c["one_chip"]
        # the output head and the input embedding stay 16-bit; the rest of the dense weights are quantized
        self.head = c["vocabulary_matrix"] * p["vocab_size"] * p["hidden_size"]
        self.dense = p["total_params"] - self.routed - 2.0 * self.head
        shard = self.chips_per_replica * chip  # dense weights: split by tensor parallelism, else replicated
        self.dense_bytes = p["bytes_per_param"] * self.dense / shard
        self.head_bytes = c["bf16_bytes"] * self.head / shard  # read every step (the embedding: held, not read)
        self.routed_bytes = p["bytes_per_param"] * self.routed / (tp * pp * chip)
        self.kv_token = kv_bytes_per_token_layer(
            kv_heads=p["kv_heads"], head_dim=p["head_dim"], kv_lora_rank=p["kv_lora_rank"],
            rope_head_dim=p["rope_head_dim"], kv_bytes_per_value=p["kv_bytes_per_value"], k_and_v=c["k_and_v"],
            latent=c["latent"]) * kv_share(kv_lora_rank=p["kv_lora_rank"], kv_heads=p["kv_heads"],
                                            tensor_parallel=p["tensor_parallel"], attention_data_parallel=adp,
                                            one_chip=chip) / (pp * chip)
        shape = dict(attention_heads=p["attention_heads"], head_dim=p["head_dim"], kv_lora_rank=p["kv_lora_rank"],
                     rope_head_dim=p["rope_head_dim"], attention_flop=c["attention_flop"], mla_flop=c["mla_flop"])
        self.attention_pair = attention_flop_per_token_pair(**shape)  # decoding
        self.prompt_pair = attention_flop_per_token_pair(**shape, absorbed=0.0)  # reading a prompt
        chip = dict(peak_flops=p["peak_flops"], peak_flops_fp8=p["peak_flops_fp8"], peak_flops_fp4=p["peak_flops_fp4"],
                    bf16_bytes=c["bf16_bytes"], fp8_bytes=c["fp8_bytes"])
        # the GEMMs run at the peak of their inputs' width: the weights', or wider where the activations are
        # (4-bit weights widened to 16-bit on a chip without a mixed-width tensor core)
        width = p["compute_bytes_per_value"] * c["fp8_bytes"] / c["fp8_kv"]  # bytes per value, as per parameter
        self.peak = peak_at_precision(bytes_per_param=width, **chip)
        # block-scaled 4-bit GEMMs reach less of their doubled peak than 8-bit ones
        fp4 = (width < c["fp8_bytes"]) * 1.0
        self.gemm_efficiency = p["gemm_efficiency"] * (1.0 + fp4 * (p["fp4_gemm_efficiency"] - 1.0))
        # attention at the cache's precision: fp8 from an 8-bit cache, bf16 from a 16-bit one
        self.attention_peak = peak_at_precision(bytes_per_param=p["kv_bytes_per_value"] * c["fp8_bytes"] / c["fp8_kv"],
                                                **chip)
        self.bandwidth = p["memory_bandwidth"] * p["bandwidth_utilisation"]
        # the host's work (the engine's loop, each request's scheduling and sampling) is slower on an Arm host
        self.host = 1.0 + p["arm_host"] * (p["arm_host_slowdown"] - 1.0)

    def layer_tokens(self, context):
        p = self.p
        return layer_tokens(context=context, layers=p["layers"], windowed_layers=p["windowed_layers"],
                            attention_window=p["attention_window"])

    def request_cache_bytes(self, context):
        """KV bytes one request of ``context`` tokens keeps on a chip that holds it."""
        return self.kv_token * self.layer_tokens(context)

    def weight_bytes(self):
        return self.dense_bytes + 2.0 * self.head_bytes + self.routed_bytes

    def step(self, *, tokens, sampled, group_tokens, cache_bytes, attention_flop, prompt_attention_flop, requests,
             arrivals):
        """Seconds of one step on one stage.

        ``tokens`` pass through the linear layers of the busiest attention
        replica, ``sampled`` of them through the output head, and
        ``attention_flop`` are its attention's; ``group_tokens``
        reach the experts from every replica; each chip reads ``cache_bytes``
        of KV cache, and ``prompt_attention_flop`` are the prompts' attention
        (a kernel of its own); the host handles ``requests`` in flight and
        ``arrivals`` new ones per replica. Returns the step's seconds and the
        part of them spent in collectives.
        """
        p, c = self.p, self.c
        pp, chips = self.pp, self.tp * self.pp
        per_chip = c["one_chip"]
        dense_flop = c["flop_per_param"] * tokens * self.dense / (
            self.chips_per_replica * per_chip)
        touched = expert_touched(tokens=group_tokens, experts=p["experts"], experts_per_token=p["experts_per_token"],
                                 one_token=c["one_token"])
        # an expert's GEMM of few rows runs as if it had grouped_gemm_tokens more (its tiles are mostly empty)
        routed_flop = c["flop_per_param"] * (group_tokens * self.routed_active + p["grouped_gemm_tokens"] * touched
                                             * self.routed) / (chips * per_chip)
        compute = self.peak * self.gemm_efficiency
        head_flop = c["flop_per_param"] * sampled * self.head / (self.chips_per_replica * per_chip)
        linear = (np.maximum(self.dense_bytes / self.bandwidth, dense_flop / compute)
                  + np.maximum(self.head_bytes / self.bandwidth,
                               head_flop / (p["peak_flops"] * p["gemm_efficiency"]))
                  + np.maximum(self.routed_bytes * touched / self.bandwidth, routed_flop / compute))
        attention_rate = self.chips_per_replica * per_chip * self.attention_peak * p["attention_efficiency"]
        attention = (np.maximum(cache_bytes / self.bandwidth, attention_flop / attention_rate)
                     + prompt_attention_flop / attention_rate)
        link = dict(link_bandwidth=p["interconnect_bandwidth"], latency=p["interconnect_latency"],
                    efficiency=p["collective_efficiency"], switched=p["interconnect_switched"], one_chip=per_chip)
        activations = tokens * p["hidden_size"] * c["activation_bytes"]  # bytes each chip exchanges
        tensor = (1.0 - self.adp) * c["all_reduces_per_layer"] * p["layers"] / pp * all_reduce_seconds(
            message_bytes=activations, chips=p["tensor_parallel"], **link)
        # attention data parallelism: every replica's tokens reach every chip's experts, and their outputs return
        dispatched = activations * p["experts_per_token"] * c["all_to_all_bytes"] / c["activation_bytes"]
        all_to_all = c["all_to_alls_per_layer"] * all_to_all_seconds(
            message_bytes=dispatched / c["all_to_alls_per_layer"], chips=p["expert_parallel"], **link)
        gathered = tokens * p["hidden_size"] * p["dispatch_bytes_per_value"] * c["value"]
        gather = (all_gather_seconds(message_bytes=gathered, chips=p["expert_parallel"], **link)
                  + all_gather_seconds(message_bytes=activations, chips=p["expert_parallel"], **link))
        experts = self.adp * p["moe_layers"] / pp * (p["moe_all_to_all"] * all_to_all
                                                     + (1.0 - p["moe_all_to_all"]) * gather)
        stages = all_to_all_seconds(message_bytes=activations * pp, chips=p["pipeline_parallel"], **link) / pp
        collectives = tensor + experts + stages
        # routing each token: top-k, permuting to the experts and back, the uneven load of the experts
        routing = p["routing_overhead"] * tokens * p["moe_layers"] / (pp * c["one_token"])
        work = linear + attention + collectives + routing
        overhead = ((p["layer_overhead"] * p["layers"] + p["moe_layer_overhead"] * p["moe_layers"]) / pp
                    + self.host * (p["step_overhead"] + (p["request_overhead"] * requests
                                                         + p["admission_overhead"] * arrivals) * self.replicas))
        # each drafted token runs the draft layer (about one layer's work) and its own launch and sampling
        draft = p["draft_tokens"] / c["one_token"] * (work * pp / p["layers"] + p["layer_overhead"]
                                                      + p["draft_overhead"])
        return work + overhead + draft, collectives


#: The catalogue fields that feed the serving model, by swept dim: the model's architecture (models.toml), the
#: chip and its links (accelerators.toml) and the numeric precision (precisions.toml).
CATALOGUE = {
    "model": {"total_params": Field("total_params", "parameters"), "layers": Field("layers", "1"),
              "hidden_size": Field("hidden_size", "dim"), "attention_heads": Field("attention_heads", "1"),
              "kv_heads": Field("kv_heads", "1"), "head_dim": Field("head_dim", "dim"),
              "kv_lora_rank": Field("kv_lora_rank", "dim"), "rope_head_dim": Field("rope_head_dim", "dim"),
              "experts": Field("experts", "1"), "experts_per_token": Field("experts_per_token", "1"),
              "expert_intermediate_size": Field("expert_intermediate_size", "dim"),
              "moe_layers": Field("moe_layers", "1"), "windowed_layers": Field("windowed_layers", "1"),
              "attention_window": Field("attention_window", "tokens"), "vocab_size": Field("vocab_size", "dim")},
    "accelerator": {"peak_flops": Field("peak_flops", "FLOP/s/chip"),
                    "peak_flops_fp8": Field("peak_flops_fp8", "FLOP/s/chip"),
                    "peak_flops_fp4": Field("peak_flops_fp4", "FLOP/s/chip"),
                    "accelerator_memory_bytes": Field("memory_bytes", "bytes/chip"),
                    "memory_bandwidth": Field("memory_bandwidth", "bytes/s/chip"),
                    "interconnect_bandwidth": Field("interconnect_bandwidth", "bytes/s/chip"),
                    "interconnect_latency": Field("interconnect_latency", "s"),
                    "interconnect_switched": Field("interconnect_switched", "1"),
                    "arm_host": Field("arm_host", "1"),
                    "chip_power": Field("power_w", "W/chip"),
                    "price_per_chip_hour": Field("rent_per_hour", "USD/chip-hour")},
    "precision": {"bytes_per_param": Field("bytes_per_param", "bytes/parameter"),
                  "kv_bytes_per_value": Field("kv_bytes_per_value", "bytes/values"),
                  "dispatch_bytes_per_value": Field("dispatch_bytes_per_value", "bytes/values"),
                  "compute_bytes_per_value": Field("compute_bytes_per_value", "bytes/values")},
}


@model(name="serving",
       description="Serving throughput, latency, cost and energy of a parallel layout (tensor, expert, pipeline, "
                   "attention data parallelism) from the model's architecture and the chips",
       catalogue=CATALOGUE,
       outputs={
           "output_tokens_per_second": Output("tokens/s", "output tokens per second of the serving group"),
           "output_tokens_per_second_chip": Output("tokens/s/chip", "output tokens per second per chip"),
           "tokens_per_second_user": Output("tokens/s", "output tokens per second one user sees"),
           "time_to_first_token": Output("s", "time to first token (one request's prefill, no queueing)"),
           "cost_per_mtoken_output": Output("USD/Mtoken", "serving cost per million output tokens (their prompts' "
                                                          "cost included)", role="cost"),
           "energy_per_mtoken_output": Output("Wh/Mtoken", "chip energy per million output tokens (their prompts' "
                                                           "included; facility overhead not counted)"),
           "requests_in_flight": Output("requests", "requests the group serves at once"),
           "memory_fits": Output("1", "1 where the weights and one request's KV cache fit on the chips"),
           "weight_bytes_per_chip": Output("bytes/chip", "weights each chip holds"),
           "step_seconds": Output("s", "wall time of one engine step"),
           "collective_share": Output("1", "share of a step spent in collectives (all-reduce, all-to-all)"),
           "chips": Output("chips", "chips in the serving group"),
       })
def evaluate(*, total_params, layers, hidden_size, attention_heads, kv_heads, head_dim, kv_lora_rank, rope_head_dim,
             experts, experts_per_token, expert_intermediate_size, moe_layers, windowed_layers, attention_window,
             vocab_size,
             peak_flops, peak_flops_fp8, peak_flops_fp4, accelerator_memory_bytes, memory_bandwidth,
             interconnect_bandwidth, interconnect_latency, interconnect_switched, arm_host, chip_power,
             price_per_chip_hour, bytes_per_param, kv_bytes_per_value, dispatch_bytes_per_value,
             compute_bytes_per_value, tensor_parallel,
             expert_parallel, pipeline_parallel, attention_data_parallel, moe_all_to_all, input_tokens, output_tokens,
             prefix_cache_hit_rate, synchronised_arrivals, wave_alignment, draft_tokens, acceptance_rate,
             max_batch, max_num_tokens, kv_cache_memory_fraction, runtime_memory, bandwidth_utilisation,
             gemm_efficiency, fp4_gemm_efficiency, grouped_gemm_tokens, attention_efficiency, routing_overhead,
             collective_efficiency,
             layer_overhead, moe_layer_overhead, step_overhead, request_overhead, admission_overhead, draft_overhead,
             arm_host_slowdown, model_error, serving_utilisation, flop_per_param=INFERENCE_FLOP,
             expert_matrices=EXPERT_MATRICES, vocabulary_matrix=VOCABULARY_MATRIX, activation_bytes=ACTIVATION_BYTES,
             all_to_all_bytes=ALL_TO_ALL_BYTES,
             k_and_v=K_AND_V, latent=LATENT, value=VALUE, attention_flop=ATTENTION_FLOP, mla_flop=MLA_FLOP,
             one_token=ONE_TOKEN,
             one_chip=ONE_CHIP, one_request=ONE_REQUEST, all_reduces_per_layer=ALL_REDUCES_PER_LAYER,
             all_to_alls_per_layer=ALL_TO_ALLS_PER_LAYER, fp8_bytes=FP8_BYTES, bf16_bytes=BF16_BYTES,
             fp8_kv=FP8_KV, tokens_per_mtoken=TOKENS_PER_MTOKEN, seconds_per_hour=SECONDS_PER_HOUR):
    p = dict(locals())
    c = {k: p.pop(k) for k in MODEL.constants}
    group = _Layout(p, c)
    chips = tensor_parallel * pipeline_parallel / one_chip
    # the scheduler reserves each request's whole sequence, in what the weights and the runtime leave
    free = accelerator_memory_bytes - runtime_memory - group.weight_bytes()
    reserved = group.request_cache_bytes(input_tokens + output_tokens + draft_tokens)
    fit = np.floor(kv_cache_memory_fraction * free / reserved) * one_request
    accepted = accepted_per_step(draft_tokens=draft_tokens, acceptance_rate=acceptance_rate, one_token=one_token)
    new_prompt = input_tokens * (1.0 - prefix_cache_hit_rate)  # a cached prefix is not read again
    steps = output_tokens / (accepted * one_token)  # steps a request decodes for
    per_request = (one_token + draft_tokens + new_prompt / steps) / one_request  # tokens per request per step
    batch = np.maximum(np.minimum(np.minimum(fit, max_batch), np.floor(max_num_tokens / per_request / one_request)
                                  * one_request), one_request)
    micro = batch / (pipeline_parallel / one_chip)  # requests per replica in each pipeline stage's step
    context = input_tokens + output_tokens / 2.0  # mean KV length while decoding
    pair = group.attention_pair
    # prompts are read whole in the step they arrive; replicas of attention data parallelism wait for the one with
    # the most of them at every MoE layer, unless the requests arrive in waves on every replica at once (a
    # benchmark of fixed lengths submitting them all together), when each reads its share in the same steps
    arrivals = micro / steps
    aligned = synchronised_arrivals * wave_alignment
    prompts = aligned * arrivals / one_request + (1.0 - aligned) * busiest_share(arrivals=arrivals / one_request,
                                                                                 replicas=group.replicas)
    decode = micro / one_request * (one_token + draft_tokens)
    tokens = decode + new_prompt * prompts
    prompt_attention = group.prompt_pair * new_prompt * group.layer_tokens(input_tokens - new_prompt / 2.0)
    # logits for each decoding request's tokens and for the last token of each prompt read
    step, collectives = group.step(tokens=tokens, sampled=decode + prompts * one_token,
                                   group_tokens=group.replicas * micro * per_request,
                                   cache_bytes=micro / one_request * group.request_cache_bytes(context),
                                   attention_flop=pair * decode * group.layer_tokens(context),
                                   prompt_attention_flop=prompt_attention * prompts, requests=micro, arrivals=arrivals)
    share = collectives / step
    step = step * model_error  # the model's own error, a factor on its time
    stages = pipeline_parallel / one_chip
    rate = group.replicas * batch * accepted * one_token / one_request / (stages * step)
    prefill, _ = group.step(tokens=new_prompt, sampled=one_token, group_tokens=new_prompt, cache_bytes=0.0 * reserved,
                            attention_flop=0.0 * prompt_attention, prompt_attention_flop=prompt_attention,
                            requests=one_request, arrivals=one_request)
    return {"output_tokens_per_second": rate,
            "output_tokens_per_second_chip": rate / chips,
            "tokens_per_second_user": accepted * one_token / (stages * step),
            "time_to_first_token": stages * prefill * model_error,
            "cost_per_mtoken_output": chips * price_per_chip_hour / serving_utilisation / rate * tokens_per_mtoken
                                      / seconds_per_hour,
            "energy_per_mtoken_output": chips * chip_power / rate * tokens_per_mtoken / seconds_per_hour,
            "requests_in_flight": group.replicas * batch,
            "memory_fits": (fit >= one_request) * 1.0,
            "weight_bytes_per_chip": group.weight_bytes(),
            "step_seconds": step,
            "collective_share": share,
            "chips": chips}


MODEL = evaluate
