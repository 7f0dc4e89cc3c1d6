"""The serving model's physics against hand calculations: collectives, KV reservation, expert reads, scheduling.

Each expected value is worked out by hand from the published architecture and
the chip's datasheet figures; the tolerances are floating-point ones unless a
test says otherwise.
"""

import math

import numpy as np
import pytest
from scipy import stats

from sim.catalogue import load_catalogue
from sim.models import serving
from sim.models.serving import (
    _Layout,
    accepted_per_step,
    all_gather_seconds,
    all_reduce_seconds,
    all_to_all_seconds,
    busiest_share,
    expert_touched,
    kv_bytes_per_token_layer,
    kv_share,
    routed_parameters,
)

from ..helpers import ROOT

CATALOGUES = ROOT / "priors" / "catalogues"
MODELS = load_catalogue(CATALOGUES, "models")
ACCELERATORS = load_catalogue(CATALOGUES, "accelerators")

#: Efficiencies and overheads at round values, for hand calculations.
ENGINE = dict(bandwidth_utilisation=0.8, gemm_efficiency=0.5, fp4_gemm_efficiency=0.8, grouped_gemm_tokens=100.0,
              attention_efficiency=0.4,
              routing_overhead=1e-7, collective_efficiency=0.8, layer_overhead=5e-5, moe_layer_overhead=3e-5,
              step_overhead=1e-3, request_overhead=5e-6, admission_overhead=3e-4, draft_overhead=7e-4,
              arm_host_slowdown=1.5,
              kv_cache_memory_fraction=0.9, runtime_memory=7.5e9, max_batch=4096.0,
              max_num_tokens=32768.0, prefix_cache_hit_rate=0.0, draft_tokens=0.0, acceptance_rate=0.77,
              model_error=1.0, serving_utilisation=1.0, moe_all_to_all=0.0, synchronised_arrivals=0.0,
              wave_alignment=0.7)
ARCHITECTURE = ("total_params", "layers", "hidden_size", "attention_heads", "kv_heads", "head_dim", "kv_lora_rank",
                "rope_head_dim", "experts", "experts_per_token", "expert_intermediate_size", "moe_layers",
                "windowed_layers", "attention_window", "vocab_size")


def inputs(model, accelerator, *, precision=(1.0, 1.0), tp=1, ep=1, pp=1, adp=0, isl=1000, osl=1000, **engine):
    """The serving model's inputs for a catalogue model on a catalogue accelerator."""
    m, a = MODELS[model], ACCELERATORS[accelerator]
    arch = {k: float(m.get(k, 0.0)) for k in ARCHITECTURE}
    chip = dict(peak_flops=a["peak_flops"], peak_flops_fp8=a.get("peak_flops_fp8", a["peak_flops"]),
                peak_flops_fp4=a.get("peak_flops_fp4", a.get("peak_flops_fp8", a["peak_flops"])),
                accelerator_memory_bytes=a["memory_bytes"], memory_bandwidth=a["memory_bandwidth"],
                interconnect_bandwidth=a["interconnect_bandwidth"], interconnect_latency=a["interconnect_latency"],
                interconnect_switched=float(a["interconnect_switched"]),
                arm_host=float(a.get("arm_host", 0)), chip_power=a["power_w"],
                price_per_chip_hour=a["rent_per_hour"])
    # activations sent to other chips' experts: NVFP4 (4 bits and an 8-bit scale per 16) for 4-bit weights
    dispatch = precision[0] + 1 / 16 if precision[0] < 1 else precision[0]
    return {**arch, **chip, **ENGINE, **engine, "bytes_per_param": precision[0], "kv_bytes_per_value": precision[1],
            "dispatch_bytes_per_value": dispatch, "compute_bytes_per_value": precision[2 if len(precision) > 2 else 0],
            "tensor_parallel": float(tp), "expert_parallel": float(ep), "pipeline_parallel": float(pp),
            "attention_data_parallel": float(adp), "input_tokens": float(isl), "output_tokens": float(osl)}


def test_a_tensor_parallel_all_reduce_moves_2_n_minus_1_over_n_of_the_message():
    # Llama 3.3 70B on 4 H100: 1,000 tokens of 8,192 bf16 values = 16.384 MB per chip; a ring all-reduce sends
    # and receives 2 (4 - 1) / 4 = 1.5 of it over each 450 GB/s NVLink port at 80 %, after one switch latency
    message = 1000 * 8192 * 2
    assert message == 16_384_000
    seconds = all_reduce_seconds(message_bytes=message, chips=4, link_bandwidth=450e9, latency=10e-6,
                                 efficiency=0.8, switched=1.0)
    assert seconds == pytest.approx(10e-6 + 1.5 * 16.384e6 / 360e9)  # 78.3 us
    # over PCIe (no switch) the ring's 2 (n - 1) = 6 steps each pay the latency
    pcie = all_reduce_seconds(message_bytes=message, chips=4, link_bandwidth=64e9, latency=25e-6,
                              efficiency=0.8, switched=0.0)
    assert pcie == pytest.approx(6 * 25e-6 + 1.5 * 16.384e6 / 51.2e9)
    # one chip has nothing to reduce
    assert all_reduce_seconds(message_bytes=message, chips=1, link_bandwidth=450e9, latency=10e-6, efficiency=0.8,
                              switched=1.0) == 0


def test_an_expert_parallel_all_to_all_sends_n_minus_1_over_n_of_each_tokens_k_copies():
    # Qwen3-30B-A3B, 500 tokens per chip, 8 experts each of 2,048 values: dispatch in fp8 (1 byte) and combine in
    # bf16 (2 bytes), 24.576 MB in all, 12.288 MB per all-to-all; of it 3/4 leaves each of 4 chips
    dispatched = 500 * 8 * 2048 * 3
    assert dispatched == 24_576_000
    one = all_to_all_seconds(message_bytes=dispatched / 2, chips=4, link_bandwidth=900e9, latency=10e-6,
                             efficiency=0.8, switched=1.0)
    assert one == pytest.approx(10e-6 + 0.75 * 12.288e6 / 720e9)
    # inside the model: 48 MoE layers of two such all-to-alls are a step's collectives (attention data parallel,
    # all-to-all kernels chosen)
    p = inputs("qwen3_30b_a3b", "b200", precision=(0.5, 1.0), tp=4, ep=4, adp=1, isl=128, osl=2048, max_batch=125.0,
               collective_efficiency=0.8, interconnect_latency=10e-6, moe_all_to_all=1.0)
    out = serving.MODEL(**p)
    # each chip: 125 decoding requests, and the prompts of the busiest chip (125 / 2,048 arrive per chip per step)
    tokens_per_chip = 125 + 128 * busiest_share(arrivals=125 / 2048, replicas=4)
    per_op = all_to_all_seconds(message_bytes=tokens_per_chip * 8 * 2048 * 1.5, chips=4, link_bandwidth=900e9,
                                latency=10e-6, efficiency=0.8, switched=1.0)
    assert float(out["collective_share"] * out["step_seconds"]) == pytest.approx(48 * 2 * per_op)


def _qwen_rtx4_gathers(tokens):
    """A step's collectives for Qwen3-30B-A3B on 4 RTX PRO 6000 (PCIe at 64 GB/s and 80 %, 25 us a ring step) with
    ``tokens`` on each chip: 48 MoE layers, each gathering them in NVFP4 (0.5625 bytes a value of 2,048) and
    reduce-scattering them in bf16."""
    link = dict(chips=4, link_bandwidth=64e9, latency=25e-6, efficiency=0.8, switched=0.0)
    return 48 * (all_gather_seconds(message_bytes=tokens * 2048 * 0.5625, **link)
                 + all_gather_seconds(message_bytes=tokens * 2048 * 2, **link))


def test_attention_data_parallel_experts_gather_every_replicas_tokens_and_reduce_scatter_their_outputs():
    """TensorRT-LLM's method within a node: each chip's tokens, quantized as the experts read them, reach the other
    n - 1 chips (all-gather), and the experts' bf16 outputs go back (reduce-scatter, the same bytes)."""
    # Qwen3-30B-A3B on 4 RTX PRO 6000 (PCIe, no switch), 500 tokens per chip of 2,048 values: NVFP4 is 0.5625 bytes
    # a value (576 kB a chip), bf16 2 bytes (2.048 MB); each chip receives 3 of each, in 3 ring steps of 25 us
    gathered = 500 * 2048 * 0.5625
    assert gathered == 576_000
    one = all_gather_seconds(message_bytes=gathered, chips=4, link_bandwidth=64e9, latency=25e-6, efficiency=0.8,
                             switched=0.0)
    assert one == pytest.approx(3 * 25e-6 + 3 * 576_000 / 51.2e9)
    # through a switch: one latency; one chip gathers nothing
    assert all_gather_seconds(message_bytes=gathered, chips=8, link_bandwidth=900e9, latency=10e-6, efficiency=0.8,
                              switched=1.0) == pytest.approx(10e-6 + 7 * 576_000 / 720e9)
    assert all_gather_seconds(message_bytes=gathered, chips=1, link_bandwidth=900e9, latency=10e-6, efficiency=0.8,
                              switched=1.0) == 0
    # inside the model: 48 MoE layers of a gather and a reduce-scatter are the step's collectives
    p = inputs("qwen3_30b_a3b", "rtx_pro_6000", precision=(0.5, 1.0), tp=4, ep=4, adp=1, isl=128, osl=2048,
               max_batch=125.0, collective_efficiency=0.8)
    assert p["interconnect_bandwidth"] == 64e9 and p["interconnect_latency"] == 25e-6
    out = serving.MODEL(**p)
    tokens = 125 + 128 * busiest_share(arrivals=125 / 2048, replicas=4)
    assert float(out["collective_share"] * out["step_seconds"]) == pytest.approx(_qwen_rtx4_gathers(tokens))


def test_replicas_wait_for_the_busiest_unless_the_requests_arrive_in_waves():
    """Independent arrivals: the replica reading the most prompts sets the step; a benchmark's waves
    (synchronised_arrivals 1) read wave_alignment of the prompts in step, each replica its mean share."""
    p = inputs("qwen3_30b_a3b", "rtx_pro_6000", precision=(0.5, 1.0), tp=4, ep=4, adp=1, isl=128, osl=2048,
               max_batch=125.0, collective_efficiency=0.8)
    mean, busiest = 125 / 2048, busiest_share(arrivals=125 / 2048, replicas=4)
    for sync, alignment, prompts in ((1.0, 1.0, mean), (1.0, 0.7, 0.7 * mean + 0.3 * busiest), (0.0, 1.0, busiest)):
        out = serving.MODEL(**{**p, "synchronised_arrivals": sync, "wave_alignment": alignment})
        assert float(out["collective_share"] * out["step_seconds"]) == pytest.approx(
            _qwen_rtx4_gathers(125 + 128 * prompts))


def _layout(model, accelerator, **kw):
    """The per-chip arithmetic of a configuration, with the model's constants."""
    p = inputs(model, accelerator, **kw)
    constants = {k: v.magnitude if hasattr(v, "magnitude") else v for k, v in serving.MODEL.constants.items()}
    return _Layout({k: np.float64(v) for k, v in p.items()}, constants)


def test_the_prompts_attention_is_a_kernel_of_its_own_after_the_decoding_requests():
    """Llama 3.3 70B on one H200: reading 10 GB of KV cache (bandwidth-bound decode attention) and 1e15 FLOP of a
    prompt's attention (compute-bound, at 0.4 of the 1,979 TFLOP/s fp8 peak: 1.263 s) add up; they do not
    overlap as one roofline."""
    group = _layout("llama33_70b", "h200")
    step = dict(tokens=1.0, sampled=1.0, group_tokens=1.0, requests=1.0, arrivals=0.0)
    base = group.step(cache_bytes=0.0, attention_flop=0.0, prompt_attention_flop=0.0, **step)[0]
    decode = group.step(cache_bytes=10e9, attention_flop=0.0, prompt_attention_flop=0.0, **step)[0] - base
    prompt = group.step(cache_bytes=0.0, attention_flop=0.0, prompt_attention_flop=1e15, **step)[0] - base
    both = group.step(cache_bytes=10e9, attention_flop=0.0, prompt_attention_flop=1e15, **step)[0] - base
    assert decode == pytest.approx(10e9 / (4.8e12 * 0.8))
    assert prompt == pytest.approx(1e15 / (1978.9e12 * 0.4))
    assert both == pytest.approx(decode + prompt)


def test_four_bit_gemms_run_at_their_doubled_peak_times_their_own_efficiency():
    """A compute-bound step of Llama 3.3 70B on one B200 (10,000 tokens, its vocabulary left out so that the GEMMs
    are all there is): 2 x 70.6e9 FLOP a token at 0.5 of the 4,500 TFLOP/s fp8 peak in fp8, and at 0.5 x 0.8 of
    the 9,000 TFLOP/s fp4 peak in fp4."""
    step = dict(tokens=10_000.0, sampled=0.0, group_tokens=10_000.0, cache_bytes=0.0, attention_flop=0.0,
                prompt_attention_flop=0.0, requests=0.0, arrivals=0.0)
    zero = dict(layer_overhead=0.0, moe_layer_overhead=0.0, step_overhead=0.0, vocab_size=0.0)
    fp8 = _layout("llama33_70b", "b200", **zero).step(**step)[0]
    fp4 = _layout("llama33_70b", "b200", precision=(0.5, 1.0), **zero).step(**step)[0]
    assert fp8 == pytest.approx(2 * 70.6e9 * 10_000 / (4500e12 * 0.5))
    assert fp4 == pytest.approx(2 * 70.6e9 * 10_000 / (9000e12 * 0.5 * 0.8))


def test_four_bit_weights_widened_to_16_bit_activations_read_4_bits_and_compute_at_the_16_bit_peak():
    """MXFP4 weights with bf16 activations (gpt-oss on Hopper): Llama 3.3 70B on one H200 holds 0.5 byte a weight,
    but the same compute-bound step as above runs at 0.5 of the 989.4 TFLOP/s bf16 peak, with no 4-bit factor;
    a decode step of one token is bound by reading 0.5 byte a weight at 0.8 of 4.8 TB/s."""
    zero = dict(layer_overhead=0.0, moe_layer_overhead=0.0, step_overhead=0.0, request_overhead=0.0, vocab_size=0.0)
    group = _layout("llama33_70b", "h200", precision=(0.5, 2.0, 2.0), **zero)
    assert float(group.weight_bytes()) == pytest.approx(0.5 * 70.6e9)
    step = dict(sampled=0.0, cache_bytes=0.0, attention_flop=0.0, prompt_attention_flop=0.0, requests=0.0,
                arrivals=0.0)
    compute = group.step(tokens=10_000.0, group_tokens=10_000.0, **step)[0]
    assert compute == pytest.approx(2 * 70.6e9 * 10_000 / (989.4e12 * 0.5))
    read = group.step(tokens=1.0, group_tokens=1.0, **step)[0]
    assert read == pytest.approx(0.5 * 70.6e9 / (4.8e12 * 0.8))


def test_the_kv_reservation_holds_input_plus_output_in_what_the_weights_leave():
    # Llama 3.3 70B in fp8 on one H200 (150.7e9 bytes): the runtime keeps 7.5e9, the weights take 72.70e9 (the
    # vocabulary's two 16-bit matrices of 128,256 x 8,192 = 1.0507e9 parameters, the other 68.50e9 at one byte),
    # the cache 90 % of the rest: 63.45e9 bytes; a token is 2 x 80 layers x 8 heads x 128 = 163,840 bytes, a
    # 1,000 + 1,000 token request 327.68 MB: 193 requests fit
    vocabulary = 128_256 * 8192
    weights = (70.6e9 - 2 * vocabulary) * 1 + 2 * vocabulary * 2
    assert weights == pytest.approx(72.70e9, rel=1e-4)
    free = 150.7e9 - 7.5e9 - weights
    assert math.floor(0.9 * free / (163_840 * 2000)) == 193
    out = serving.MODEL(**inputs("llama33_70b", "h200"))
    assert float(out["requests_in_flight"]) == 193
    assert float(out["weight_bytes_per_chip"]) == pytest.approx(weights)
    # a 1,000 + 3,000 token request reserves twice as much: 96 fit
    assert math.floor(0.9 * free / (163_840 * 4000)) == 96
    assert float(serving.MODEL(**inputs("llama33_70b", "h200", osl=3000))["requests_in_flight"]) == 96
    # the runtime's memory is an amount per chip: on an 80 GiB H100 the same 7.5e9 leave 2 x 70.6e9 fp8 weights
    # over two chips 0.9 x (85.9e9 - 7.5e9 - 36.35e9) = 37.84e9 bytes of cache per chip
    out = serving.MODEL(**inputs("llama33_70b", "h100", tp=2))
    per_chip_cache = 0.9 * (85.899e9 - 7.5e9 - weights / 2)
    # tensor parallelism splits each request's cache over the two chips: 163,840 / 2 bytes a token on each
    assert float(out["requests_in_flight"]) == math.floor(per_chip_cache / (163_840 / 2 * 2000))
    # the weights and no room for a cache: 405B at fp8 on one H100 does not fit
    assert float(serving.MODEL(**inputs("llama31_405b", "h100"))["memory_fits"]) == 0


def test_the_vocabulary_stays_16_bit_its_head_is_read_every_step_and_computes_only_the_sampled_logits():
    """Llama 3.1 8B in fp8 on one H100: the embedding and the output head are 128,256 x 4,096 = 525.3e6
    parameters each, held at 2 bytes (2.101 GB of the 10.08 GB of weights); a step reads the head (1.051 GB at
    0.8 of 3.35 TB/s: 0.392 ms) but not the embedding, and a step of many tokens computes the head's 2 FLOP a
    parameter only for the tokens it samples (at 0.5 of the 989 TFLOP/s bf16 peak)."""
    vocabulary = 128_256 * 4096
    weights = (8.03e9 - 2 * vocabulary) * 1 + 2 * vocabulary * 2
    out = serving.MODEL(**inputs("llama31_8b", "h100"))
    assert float(out["weight_bytes_per_chip"]) == pytest.approx(weights)
    zero = dict(layer_overhead=0.0, moe_layer_overhead=0.0, step_overhead=0.0, request_overhead=0.0)
    step = dict(group_tokens=1.0, cache_bytes=0.0, attention_flop=0.0, prompt_attention_flop=0.0, requests=0.0,
                arrivals=0.0)
    with_head = _layout("llama31_8b", "h100", **zero).step(tokens=1.0, sampled=1.0, **step)[0]
    without = _layout("llama31_8b", "h100", vocab_size=0.0, **zero).step(tokens=1.0, sampled=1.0, **step)[0]
    # one token: both are bound by their reads; the head adds its 1.051 GB and leaves the other 6.98e9 bytes
    body = 8.03e9 - 2 * vocabulary
    bandwidth = 3.35e12 * 0.8
    assert with_head == pytest.approx((body + 2 * vocabulary) / bandwidth)
    assert without == pytest.approx(8.03e9 / bandwidth)
    # 100,000 tokens of a prompt, one of them sampled: the head is still read-bound; sampling all of them costs
    # 2 x 525.3e6 x 1e5 FLOP at 0.5 x 989.4e12 more (compute-bound)
    group = _layout("llama31_8b", "h100", **zero)
    one = group.step(tokens=1e5, sampled=1.0, **step)[0]
    every = group.step(tokens=1e5, sampled=1e5, **step)[0]
    assert every - one == pytest.approx(2 * vocabulary * 1e5 / (989.4e12 * 0.5) - vocabulary * 2 / bandwidth)


def test_kv_heads_are_replicated_where_tensor_parallel_chips_outnumber_them():
    # 8 KV heads on 16 chips: each holds one head, 1/8 of the cache per token, not 1/16
    assert kv_share(kv_lora_rank=0.0, kv_heads=8.0, tensor_parallel=16.0, attention_data_parallel=0.0) == 1 / 8
    assert kv_share(kv_lora_rank=0.0, kv_heads=8.0, tensor_parallel=4.0, attention_data_parallel=0.0) == 1 / 4
    # MLA's latent is on every chip; attention data parallelism keeps a chip's own requests whole
    assert kv_share(kv_lora_rank=512.0, kv_heads=128.0, tensor_parallel=8.0, attention_data_parallel=0.0) == 1
    assert kv_share(kv_lora_rank=0.0, kv_heads=8.0, tensor_parallel=4.0, attention_data_parallel=1.0) == 1
    # DeepSeek-V3's MLA caches 512 + 64 values per token and layer: 576 bytes in fp8 (Llama 70B: 2,048)
    assert kv_bytes_per_token_layer(kv_heads=128.0, head_dim=128.0, kv_lora_rank=512.0, rope_head_dim=64.0,
                                    kv_bytes_per_value=1.0) == 576
    assert kv_bytes_per_token_layer(kv_heads=8.0, head_dim=128.0, kv_lora_rank=0.0, rope_head_dim=0.0,
                                    kv_bytes_per_value=1.0) == 2048


def test_moe_expert_reads_grow_from_the_active_share_at_batch_1_to_all_experts_at_large_batch():
    # Qwen3-30B-A3B: 48 layers x 128 experts x 3 x 2,048 x 768 = 28.99e9 routed parameters, 8 of 128 per token
    routed, active = routed_parameters(moe_layers=48.0, experts=128.0, experts_per_token=8.0, hidden_size=2048.0,
                                       expert_intermediate_size=768.0)
    assert routed == 48 * 128 * 3 * 2048 * 768 and active == routed / 16
    # one token reads 1/16 of the experts: 0.906 GB of the 14.5 GB in fp4
    assert expert_touched(tokens=1.0, experts=128.0, experts_per_token=8.0) == pytest.approx(1 / 16)
    assert 0.5 * routed * expert_touched(tokens=1.0, experts=128.0, experts_per_token=8.0) == pytest.approx(0.906e9,
                                                                                                         rel=1e-3)
    # 16 tokens: 1 - (15/16)^16 = 64.4 %; 1,000 tokens: all of them (1 - 1e-28)
    assert expert_touched(tokens=16.0, experts=128.0, experts_per_token=8.0) == pytest.approx(1 - (15 / 16) ** 16)
    assert expert_touched(tokens=1000.0, experts=128.0, experts_per_token=8.0) == pytest.approx(1.0)
    # a dense model routes nothing
    assert expert_touched(tokens=1000.0, experts=0.0, experts_per_token=0.0) == 0


def test_the_catalogues_architectures_give_the_published_active_parameters():
    """Active parameters from the configs (all but the unrouted experts) against the model cards' rounded figures
    ("17B", "37B"): within 6 %. gpt-oss's cards leave out the input embedding (201,088 x 2,880 = 0.58B)."""
    for name in ("deepseek_v3", "qwen3_30b_a3b", "qwen3_235b_a22b", "llama4_scout", "llama4_maverick", "kimi_k2",
                 "gpt_oss_120b", "gpt_oss_20b"):
        m = MODELS[name]
        routed, active = routed_parameters(moe_layers=m["moe_layers"], experts=m["experts"],
                                           experts_per_token=m["experts_per_token"], hidden_size=m["hidden_size"],
                                           expert_intermediate_size=m["expert_intermediate_size"])
        derived = m["total_params"] - routed + active - (201_088 * 2880 if name.startswith("gpt_oss") else 0)
        assert derived == pytest.approx(m["active_params"], rel=0.06), name


def test_speculative_decoding_accepts_a_geometric_run_of_drafts():
    assert accepted_per_step(draft_tokens=0.0, acceptance_rate=0.8) == pytest.approx(1.0)
    assert accepted_per_step(draft_tokens=3.0, acceptance_rate=0.8) == pytest.approx(1 + 0.8 + 0.64 + 0.512)
    # NVIDIA's 2.82 tokens per step with 3 drafts is an acceptance of about 0.77 per token
    assert accepted_per_step(draft_tokens=3.0, acceptance_rate=0.77) == pytest.approx(2.82, abs=0.03)


@pytest.mark.parametrize("replicas", [2, 3, 4, 8, 16])
@pytest.mark.parametrize("arrivals", [0.001, 0.01, 0.1, 0.5, 1.0, 2.0, 20.0])
def test_the_busiest_replica_reads_about_the_expected_maximum_of_prompts(replicas, arrivals):
    """E[ceil(N / n)], N ~ Poisson(n a), summed exactly, against the closed form: within 6 % (exact in both limits;
    its worst on this grid, 5.4 %, is at 4 replicas and half a prompt each)."""
    n, m = replicas, replicas * arrivals
    exact = sum(stats.poisson.sf(k * n, m) for k in range(0, int(arrivals + 20 * math.sqrt(arrivals) + 20)))
    assert busiest_share(arrivals=arrivals, replicas=n) == pytest.approx(exact, rel=0.06)
    assert busiest_share(arrivals=arrivals, replicas=1.0) == arrivals  # one replica waits for no other


def test_throughput_is_the_batch_over_the_step_and_cost_the_chips_over_the_tokens():
    p = inputs("llama33_70b", "h100", tp=2)
    out = serving.MODEL(**p)
    rate = float(out["output_tokens_per_second"])
    assert rate == pytest.approx(float(out["requests_in_flight"]) / float(out["step_seconds"]))
    assert float(out["output_tokens_per_second_chip"]) == pytest.approx(rate / 2)
    assert float(out["cost_per_mtoken_output"]) == pytest.approx(2 * 2.95 / rate * 1e6 / 3600)
    assert float(out["energy_per_mtoken_output"]) == pytest.approx(2 * 700 / rate * 1e6 / 3600)
    # a slower model (model_error 2) halves the rate
    slow = serving.MODEL(**{**p, "model_error": 2.0})
    assert float(slow["output_tokens_per_second"]) == pytest.approx(rate / 2)


def test_a_dense_gemm_pays_for_its_rows_alone_and_an_experts_for_its_empty_tile_rows():
    """Llama 3.1 8B on one H100 at batch 1 (128/128): the step reads 8.03 GB of fp8 weights at 0.8 x 3.35 TB/s
    (3.0 ms) and computes 2 x 8.03e9 FLOP a token at 0.5 x 989 TFLOP/s; grouped_gemm_tokens does not touch the
    dense layers (the step is the same for 100 and 100,000), while for an MoE model it adds compute."""
    dense = inputs("llama31_8b", "h100", isl=128, osl=128, max_batch=1.0)
    steps = [float(serving.MODEL(**{**dense, "grouped_gemm_tokens": g})["step_seconds"]) for g in (100.0, 1e5)]
    assert steps[0] == steps[1]
    moe = inputs("qwen3_30b_a3b", "b200", precision=(0.5, 1.0), isl=128, osl=128, max_batch=1.0)
    slow = [float(serving.MODEL(**{**moe, "grouped_gemm_tokens": g})["step_seconds"]) for g in (100.0, 1e5)]
    # a step at batch 1 passes 2 tokens (one decoded, and 128 prompt tokens spread over 128 steps), which touch
    # 1 - (15/16)^2 of the experts; each touched expert computes 1e5 - 100 more rows: 2 FLOP per parameter of that
    # share of the 29e9 routed parameters at 0.5 x 0.8 x 9,000 TFLOP/s (fp4), 0.195 s
    extra = 2 * (1e5 - 100) * (1 - (15 / 16) ** 2) * 48 * 128 * 3 * 2048 * 768 / (0.5 * 0.8 * 9000e12)
    assert slow[1] - slow[0] == pytest.approx(extra, rel=0.01)


def test_an_arm_host_multiplies_the_hosts_share_of_a_step():
    """The same chip with an Arm host (GB200's Grace): the step's host work (step, request and admission overheads)
    takes arm_host_slowdown times as long, the GPU's work the same."""
    x86 = inputs("qwen3_30b_a3b", "gb200", precision=(0.5, 1.0))
    assert x86["arm_host"] == 1.0  # the catalogue's GB200
    x86["arm_host"] = 0.0
    zero = dict(step_overhead=0.0, request_overhead=0.0, admission_overhead=0.0)
    gpu = float(serving.MODEL(**{**x86, **zero})["step_seconds"])
    host = float(serving.MODEL(**x86)["step_seconds"]) - gpu
    arm = float(serving.MODEL(**{**x86, "arm_host": 1.0})["step_seconds"])
    assert host > 0 and arm == pytest.approx(gpu + 1.5 * host)


def test_arrays_evaluate_every_configuration_at_once():
    a = inputs("llama33_70b", "h200")
    b = inputs("llama33_70b", "h200", isl=5000, osl=500)
    both = {k: np.array([a[k], b[k]]) for k in a}
    out = serving.MODEL(**both)
    assert np.allclose(out["output_tokens_per_second"], [float(serving.MODEL(**a)["output_tokens_per_second"]),
                                                         float(serving.MODEL(**b)["output_tokens_per_second"])])
