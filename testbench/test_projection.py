"""The end-to-end projection (llmaccel/perf/projection.py): shapes, MACs, weight and DMA bytes, the
memory fit, the host's counted work, the bounds and the end-to-end figures against numbers worked
out by hand below, the plots' reproducibility, and every error message. Fake cycle functions
wherever the figure does not depend on the cycle model; no simulation."""
import json

import pytest

from llmaccel.perf import cycle_model as perf_model
from llmaccel.perf import projection as P
from llmaccel.perf.projection import (ENGINES, MODELS, PUBLISHED, head_format, host_work,
                                      layer_format, matmul_plan, memory_fit, model_weights,
                                      plot_projection_cycles, plot_roofline, projection_markdown,
                                      projections, run_projection, token_projection, weight_bytes)

# MACs of one decode token (N x K summed), worked out by hand:
# SmolLM2-135M, per layer: q, o 576*576 = 331,776 each; k, v 192*576 = 110,592 each;
#   gate, up, down 1536*576 = 884,736 each -> 663,552 + 221,184 + 2,654,208 = 3,538,944;
#   x 30 layers = 106,168,320; LM head 49152*576 = 28,311,552 -> 134,479,872.
# SmolLM2-360M, per layer: 2 * 960*960 + 2 * 320*960 + 3 * 2560*960
#   = 1,843,200 + 614,400 + 7,372,800 = 9,830,400; x 32 = 314,572,800;
#   LM head 49152*960 = 47,185,920 -> 361,758,720 (+ (2*32 + 1) * 960 = 62,400 norm weights =
#   361,821,120: the parameter count published for it).
# TinyLlama-1.1B, per layer: 2 * 2048*2048 + 2 * 256*2048 + 3 * 5632*2048
#   = 8,388,608 + 1,048,576 + 34,603,008 = 44,040,192; x 22 = 968,884,224;
#   LM head 32000*2048 = 65,536,000 -> 1,034,420,224.
# BitNet b1.58 0.7B (bitnet_b1_58-large), per layer: 4 * 1536*1536 + 3 * 4096*1536
#   = 9,437,184 + 18,874,368 = 28,311,552; x 24 = 679,477,248; LM head 32002*1536 = 49,155,072
#   -> 728,632,320.
# BitNet b1.58 2B4T, per layer: 2 * 2560*2560 + 2 * 640*2560 + 3 * 6912*2560
#   = 13,107,200 + 3,276,800 + 53,084,160 = 69,468,160; x 30 = 2,084,044,800;
#   LM head 128256*2560 = 328,335,360 -> 2,412,380,160.
MACS = {"SmolLM2-135M": (3_538_944, 28_311_552, 134_479_872),
        "SmolLM2-360M": (9_830_400, 47_185_920, 361_758_720),
        "TinyLlama-1.1B": (44_040_192, 65_536_000, 1_034_420_224),
        "BitNet-b1.58-0.7B": (28_311_552, 49_155_072, 728_632_320),
        "BitNet-b1.58-2B4T": (69_468_160, 328_335_360, 2_412_380_160)}

# Weight bytes of SmolLM2-135M per token, as the input stream carries them. Per layer 4,608 rows of
# K = 576 (q 576, k 192, v 192, o 576, gate 1536, up 1536) and 576 rows of K = 1536 (down).
# shipped (Q4_1 layers): K = 576 -> 18 blocks: 9 words of 32-bit scale slots (d, m) + 36 qs words
#   = 45 words (360 B, the file's 18 * 20 bytes); K = 1536 -> 24 + 96 = 120 words (960 B):
#   4,608 * 360 + 576 * 960 = 2,211,840 per layer, x 30 = 66,355,200; the tied Q8_0 head:
#   K = 576 -> 5 scale words + 72 qs words = 77 words (616 B) x 49,152 = 30,277,632
#   -> 96,632,832.
# q8_0: 77 words and 204 words (12 + 192) -> 4,608 * 616 + 576 * 1,632 = 3,778,560 per layer,
#   x 30 = 113,356,800, + the head 30,277,632 -> 143,634,432.
# q4_0: K = 576 -> 5 scale words (16-bit d) + 36 qs = 41 words (328 B); K = 1536 -> 12 + 96 = 108
#   words (864 B): 1,511,424 + 497,664 = 2,009,088 per layer, x 30 = 60,272,640; the head: llama.cpp
#   gives the output tensor Q6_K, which falls back to Q8_0 for K = 576 -> + 30,277,632
#   -> 90,550,272.
# q4_K: K = 576 falls back to Q5_0: 5 scale + 9 qh + 36 qs = 50 words (400 B); K = 1536 stays Q4_K:
#   6 super-blocks, 3 slot words (d, dmin) + 9 mid words (72 scale bytes) + 96 qs = 108 words
#   (864 B): 1,843,200 + 497,664 = 2,340,864 per layer, x 30 = 70,225,920 + 30,277,632
#   -> 100,503,552.
# ternary: a beat = 3 rows x 16 lanes x 5-bit codes (g = 3) = 240 bits -> 4 words (32 bytes);
#   K = 576 -> 12 slices, K = 1536 -> 32; q, o: 12 * 192 = 2,304 beats, k, v: 12 * 64 = 768,
#   gate, up: 12 * 512 = 6,144, down: 32 * 192 = 6,144 -> 24,576 beats = 786,432 bytes;
#   x 30 = 23,592,960; + the Q8_0 LM head 30,277,632 -> 53,870,592.
SMOL_BYTES = {"shipped": 96_632_832, "q8_0": 143_634_432, "q4_0": 90_550_272,
              "q4_K": 100_503_552, "ternary": 53_870_592}


def const_cycles(cycles):
    return lambda engine, m, n, k, fmt: cycles


def test_projection_shapes_smollm2():
    rows = {p["name"]: (p["n"], p["k"], p["count"]) for p in projections("SmolLM2-135M")}
    assert rows == {"q": (576, 576, 30), "k": (192, 576, 30), "v": (192, 576, 30),
                    "o": (576, 576, 30), "gate": (1536, 576, 30), "up": (1536, 576, 30),
                    "down": (576, 1536, 30), "lm_head": (49152, 576, 1)}


def test_projection_shapes_wide_heads():
    # BitNet b1.58 0.7B: 16 heads x 96 = 1536 = hidden; o takes the heads' width as its K.
    rows = {p["name"]: (p["n"], p["k"]) for p in projections("BitNet-b1.58-0.7B")}
    assert rows["q"] == (1536, 1536) and rows["o"] == (1536, 1536) and rows["k"] == (1536, 1536)
    assert rows["lm_head"] == (32002, 1536)


@pytest.mark.parametrize("name", list(MACS))
def test_macs_per_token(name):
    per_layer, head, total = MACS[name]
    rows = projections(name)
    assert sum(p["n"] * p["k"] for p in rows if p["name"] != "lm_head") == per_layer
    assert [p["n"] * p["k"] for p in rows if p["name"] == "lm_head"] == [head]
    weights = model_weights(name)[0]
    assert token_projection(name, weights, const_cycles(1))["macs"] == total


def test_weight_bytes_known_shapes():
    assert weight_bytes("bfp", 576, 576) == 576 * 616            # 354,816
    assert weight_bytes("bfp", 576, 1536) == 576 * 204 * 8       # 940,032
    assert weight_bytes("bfp", 576, 576, fmt="q4_1") == 576 * 360
    # Q6_K, K = 2048: 8 super-blocks: 2 slot words (16-bit d) + 16 mid words (8 x 16 scales) +
    # 64 qh words + 128 ql words = 210 words = 1,680 B, exactly llama.cpp's 8 x 210 bytes.
    assert weight_bytes("bfp", 32000, 2048, fmt="q6_K") == 32000 * 1680
    assert weight_bytes("ternary", 576, 576) == 73_728           # 12 * 192 beats * 32 bytes
    # Neither K nor N divides: ceil(5632 / 48) = 118 slices x ceil(2048 / 3) = 683 beats.
    assert weight_bytes("ternary", 2048, 5632) == 118 * 683 * 32  # 2,579,008
    # g = 4: 7-bit codes, 3 x 16 x 7 = 336 bits -> 6 words; K = 576 -> 9 slices of 64.
    assert weight_bytes("ternary", 576, 576, g=4) == 9 * 192 * 6 * 8  # 82,944


@pytest.mark.parametrize("weights", list(SMOL_BYTES))
def test_smollm2_bytes_per_token(weights):
    assert token_projection("SmolLM2-135M", weights, const_cycles(1))["weight_bytes"] == \
        SMOL_BYTES[weights]


def test_formats_of_tensors():
    # K-quants fall back as llama.cpp's quantizer does for K not a multiple of 256.
    assert layer_format("SmolLM2-135M", "q4_K", "q", 0, 576) == "q5_0"
    assert layer_format("SmolLM2-135M", "q4_K", "down", 0, 1536) == "q4_K"
    assert layer_format("SmolLM2-135M", "shipped", "v", 7, 576) == "q4_1"
    # q4_k_m: attn_v / ffn_down in Q6_K in the layers use_more_bits picks (layer 0 of 22: yes).
    assert layer_format("TinyLlama-1.1B", "q4_k_m", "v", 0, 2048) == "q6_K"
    assert layer_format("TinyLlama-1.1B", "q4_k_m", "q", 0, 2048) == "q4_K"
    # The LM head: llama.cpp's output rule.
    assert head_format("q4_0", 2048) == "q6_K" and head_format("q4_0", 576) == "q8_0"
    assert head_format("q8_0", 2048) == "q8_0" and head_format("ternary", 2560) == "q8_0"
    assert head_format("mxint8", 576) == "mxint8" and head_format("shipped", 576) == "q8_0"
    plan = matmul_plan("TinyLlama-1.1B", "q4_0")
    assert [(p["fmt"], p["matrix_bytes"]) for p in plan if p["name"] == "lm_head"] == \
        [("q6_K", 53_760_000)]


def test_weights_each_model_gets():
    assert model_weights("SmolLM2-135M")[0] == "shipped"
    assert "shipped" not in model_weights("SmolLM2-360M")
    assert {"q8_0", "q4_k_m", "q2_k_s", "q3_K", "ternary"} <= set(model_weights("TinyLlama-1.1B"))
    assert model_weights("BitNet-b1.58-0.7B") == model_weights("BitNet-b1.58-2B4T") == ("ternary",)


def test_shipped_formats_match_the_file():
    from llmaccel.golden.smollm2 import ModelMissing, gguf_path
    try:
        path = gguf_path()
    except ModelMissing as e:
        pytest.skip(str(e))
    import gguf
    reader = gguf.GGUFReader(path)
    kinds = {}
    for t in reader.tensors:
        if t.name.endswith("norm.weight"):
            continue
        kinds.setdefault("head" if t.name == "token_embd.weight" else "layers",
                         set()).add(t.tensor_type.name.lower())
    assert kinds == {"layers": {P.SHIPPED["SmolLM2-135M"]["layers"]},
                     "head": {P.SHIPPED["SmolLM2-135M"]["head"]}}
    # Q4_1 rows carry the file's bytes regrouped, nothing padded (an even number of blocks).
    q = next(t for t in reader.tensors if t.name == "blk.0.attn_q.weight")
    assert weight_bytes("bfp", 576, 576, fmt="q4_1") == int(q.n_bytes)


def test_stream_and_dma_bytes_smollm2_shipped():
    # Weights as the stream carries them: 96,632,832 B. Activation rows (M = 1), Q8_1 for Q4_1
    # weights, one per run: K = 576 -> 9 slot words + 72 qs words = 81 words (648 B), 3 runs a
    # layer (q, k, v stacked; o; gate, up stacked); K = 1536 -> 24 + 192 = 216 words (1,728 B):
    # 3,672 per layer, x 30 = 110,160; the head's Q8_0 row 616 -> activations 110,776; stream =
    # 96,743,608. Results, float32 two to a word: 960 -> 3,840 B (q, k, v), 576 -> 2,304 (o,
    # down), 3072 -> 12,288 (gate, up): 20,736 per layer, x 30 = 622,080; the head 49,152 / 2 * 8
    # = 196,608 -> 818,688; DMA bytes = 97,562,296.
    r = token_projection("SmolLM2-135M", "shipped", const_cycles(1))
    assert r["stream_bytes"] == 96_743_608
    assert r["dma_bytes"] == 97_562_296


def test_memory_fit_smollm2_shipped():
    # CMA, whole 4 KiB pages per matrix as the model runs them: q, k, v stacked 345,600 B -> 85
    # pages = 348,160; o 207,360 -> 51 pages = 208,896; gate, up stacked 1,105,920 = 270 pages and
    # down 552,960 = 135 pages exactly: 2,215,936 per layer, x 30 =
    # 66,478,080; the head 30,277,632 = 7,392 pages exactly; one activation buffer (1,728 B ->
    # 4,096) and one result buffer (196,608 B = 48 pages) -> 96,956,416 B, under the 128 MiB
    # default.
    # Host: KV 2 * 30 layers * 3 heads * 64 * 1,024 positions * 4 B = 47,185,920; norms
    # (2 * 30 + 1) * 576 * 4 = 140,544; scratch (49,152 logits + 9 * 1,024 scores + 8 * 1,536) * 4
    # = 282,624 -> 47,609,088. Left: 536,870,912 - 96,956,416 - 47,609,088 = 392,305,408.
    f = memory_fit("SmolLM2-135M", "shipped", context=1024, streams=1)
    assert f["cma_bytes"] == 96_956_416
    assert f["host"] == {"kv_cache": 47_185_920, "norms": 140_544, "embedding": 0,
                         "scratch": 282_624}
    assert f["left_bytes"] == 392_305_408
    assert f["verdict"] == "yes" and f["fits"]


def test_memory_fit_needs_a_larger_cma_or_does_not_fit():
    # TinyLlama in Q2_K (K = 2048 and 5632, multiples of 256: no fallback): rows of 84 words
    # (672 B) and 231 words (1,848 B): 15,872 * 672 + 2,048 * 1,848 = 14,450,688 per layer, x 22 =
    # 317,915,136, + the Q6_K head 53,760,000 = 371,675,136, every matrix a whole number of pages;
    # + a Q8_K activation row of 803 words (2 pages) + 32,000 results (128,000 B -> 32 pages)
    # = 371,814,400 B = 354.6 MiB -> cma=355M.
    f = memory_fit("TinyLlama-1.1B", "q2_K")
    assert f["cma_bytes"] == 371_814_400 and f["verdict"] == "with cma=355M" and f["fits"]
    # BitNet b1.58 2B4T: 467.7 MB of ternary layers + a 348.9 MB Q8_0 head: over 512 MiB alone.
    assert memory_fit("BitNet-b1.58-2B4T", "ternary")["verdict"] == "no"
    # A longer context grows only the host's KV cache: 46,080 bytes a token for SmolLM2-135M.
    a, b = memory_fit("SmolLM2-135M", "shipped", 1024), memory_fit("SmolLM2-135M", "shipped", 2048)
    assert b["host"]["kv_cache"] - a["host"]["kv_cache"] == 1024 * 46_080


def test_dma_transfer_limit_is_flagged():
    # TinyLlama's Q8_0 head: 32,000 rows of 272 words = 69,632,000 B > 64 MiB on one stream; a
    # third of it on each of 3 streams is under.
    one = token_projection("TinyLlama-1.1B", "q8_0", const_cycles(1), streams=1)
    three = token_projection("TinyLlama-1.1B", "q8_0", const_cycles(1))   # the default: 3
    assert [n["kind"] for n in one["notes"]] == ["dma"]
    assert three["notes"] == []


def test_refused_shapes_are_flagged():
    # The default core's K_MAX is 8192: TinyLlama's ffn_down (K = 5632) runs in Q3_K; a model
    # with an FFN of 9216 does not (Q3_K cannot split K), in Q2_K it does (split in parts).
    assert token_projection("TinyLlama-1.1B", "q3_k_s", const_cycles(1))["notes"] == []
    wide = dict(P.MODELS["TinyLlama-1.1B"], name="wide", ffn=9216)
    kinds = [n["kind"] for n in token_projection(wide, "q3_K", const_cycles(1))["notes"]]
    assert kinds == ["kmax"]
    assert token_projection(wide, "q2_K", const_cycles(1))["notes"] == []


TINY = {"name": "tiny", "layers": 1, "hidden": 64, "ffn": 128, "heads": 2, "kv_heads": 1,
        "head_dim": 32, "vocab": 100}


def test_host_work_by_hand():
    # One layer, hidden 64, FFN 128, 2 heads x 32 (1 KV head), vocab 100, Q8_0, 4 keys:
    #   norms 2 * (3 * 64 + 12) = 408; RoPE 6 * (2 + 1) * 32 / 2 = 288; scores 2 * 4 * 32 + 64
    #   (1/sqrt(d) folded into q) = 320; softmax 2 * 4 * 14 + 2 * 5 = 122; weighted sum 256;
    #   residuals 128; SiLU x up 128 * 18 = 2,304; quantizing to Q8_0 (4 a value, 5 a block of 32):
    #   x1, attention out and x2 64 * 4 + 2 * 5 = 266 each, the FFN's 128 * 4 + 4 * 5 = 532, the
    #   head's input 266 -> 1,596; embedding row 128; final norm 204; argmax 100 -> 5,854.
    #   Bytes: KV read 2 * 32 * 4 * 4 = 1,024, written 256, norms 3 * 64 * 4 = 768, embedding row
    #   (Q8_0) 68, logits 400 -> 2,516.
    w = host_work(TINY, "q8_0", context=4)
    assert w["ops"] == {"norms": 408, "rope": 288, "scores": 320, "softmax": 122,
                        "weighted_sum": 256, "residual": 128, "ffn_act": 2304, "quantize": 1596,
                        "dequantize": 0, "embedding": 128, "final_norm": 204, "argmax": 100}
    assert w["total_ops"] == 5854 and w["total_bytes"] == 2516
    assert w["compute_s"] == pytest.approx(5854 / (2 * 650e6))
    assert w["memory_s"] == pytest.approx(2516 / 2.1e9)
    assert w["seconds"] == w["compute_s"] and w["bound"] == "compute"
    # Ternary: int8 absmax inputs (4 a value, one 1/max a row): 261 + 261 + 261 + 517, the head's
    # Q8_0 266 -> 1,566; scaling the int32 results (2 a value): (64 + 32 + 32 + 64 + 128 + 128 + 64)
    # * 2 = 1,024.
    t = host_work(TINY, "ternary", context=4)
    assert t["ops"]["quantize"] == 1566 and t["ops"]["dequantize"] == 1024
    # Two cores halve the compute time.
    assert host_work(TINY, "q8_0", 4, cores=2)["compute_s"] == pytest.approx(w["compute_s"] / 2)


def test_host_work_smollm2():
    # Per layer: norms 2 * (3 * 576 + 12) = 3,480; RoPE 6 * 12 * 64 / 2 = 2,304; scores 9 * 1,024 *
    # 64 + 576 = 590,400; softmax 9 * 1,024 * 14 + 45 = 129,069; weighted sum 589,824; residuals
    # 1,152; SiLU x up 1,536 * 18 = 27,648; Q8_1 inputs (5 a value, 5 a block): 3 * (2,880 + 90) +
    # 7,680 + 240 = 16,830. x 30, + the head's Q8_0 input 2,394, embedding 1,152, final norm 1,740,
    # argmax 49,152 -> 40,875,648 lane-ops: 31.4 ms at 2 a cycle and 650 MHz; the KV cache
    # (47,185,920 B read) takes 22.5 ms at 2.1 GB/s.
    w = host_work("SmolLM2-135M", "shipped", 1024)
    assert w["total_ops"] == 40_875_648
    assert w["seconds"] == pytest.approx(40_875_648 / 1.3e9)
    assert w["bytes"]["kv_read"] == 47_185_920


def test_bounds_and_end_to_end():
    # 4 x 30 + 1 = 121 matmuls (q, k, v stacked, gate, up stacked) of 1,000 cycles: 121,000
    # cycles -> 826.4 tokens/s from the cycle model; one stream: 8e8 / 96,743,608 = 8.269
    # tokens/s; DDR 2.1e9 / 97,562,296 = 21.52.
    r = token_projection("SmolLM2-135M", "shipped", const_cycles(1000), streams=1)
    assert r["cycles"] == 121_000
    assert r["compute_tokens_per_s"] == pytest.approx(100e6 / 121_000)
    assert r["stream_tokens_per_s"] == pytest.approx(8e8 / 96_743_608)
    assert r["ddr_tokens_per_s"] == pytest.approx(2.1e9 / 97_562_296)
    assert r["bound"] == "stream" and r["accel_tokens_per_s"] == r["stream_tokens_per_s"]
    host = 40_875_648 / 1.3e9
    assert r["host_s_per_token"] == pytest.approx(host)
    assert r["e2e_s_per_token"] == pytest.approx(96_743_608 / 8e8 + host)
    assert r["e2e_tokens_per_s"] == pytest.approx(1 / (96_743_608 / 8e8 + host))
    assert r["overlapped_tokens_per_s"] == pytest.approx(8e8 / 96_743_608)
    assert r["accel_fraction_of_ddr"] == pytest.approx(r["accel_tokens_per_s"] /
                                                       r["ddr_tokens_per_s"])
    assert r["e2e_fraction_of_ddr"] == pytest.approx(r["e2e_tokens_per_s"] / r["ddr_tokens_per_s"])
    assert r["mac_per_s"] == pytest.approx(134_479_872 * 8e8 / 96_743_608)
    # Three streams: 24.79 tokens/s of stream, so the DDR bound holds.
    r3 = token_projection("SmolLM2-135M", "shipped", const_cycles(1000), streams=3)
    assert r3["stream_tokens_per_s"] == pytest.approx(3 * 8e8 / 96_743_608)
    assert r3["bound"] == "DDR" and r3["cycles_streams"] == 3


def test_cycle_model_bound_when_cycles_are_many():
    r = token_projection("SmolLM2-135M", "ternary", const_cycles(10_000_000), clock_hz=50e6)
    assert r["cycles"] == 1_210_000_000
    assert r["bound"] == "cycle model"
    assert r["accel_tokens_per_s"] == pytest.approx(50e6 / 1_210_000_000)
    # The host's 31.6 ms beside 24.2 s of accelerator: overlapping would hide it.
    assert r["overlapped_tokens_per_s"] == pytest.approx(r["accel_tokens_per_s"])


def test_ternary_scenario_runs_lm_head_on_bfp():
    calls = []

    def record(engine, m, n, k, fmt):
        calls.append((engine, m, n, k, fmt))
        return 7

    r = token_projection("SmolLM2-135M", "ternary", record)
    assert calls[-1] == ("bfp", 1, 49152, 576, "q8_0")
    assert {c[0] for c in calls[:-1]} == {"ternary"} and {c[1] for c in calls} == {1}
    assert {c[4] for c in calls[:-1]} == {"ternary"}
    assert [p["cycles"] for p in r["projections"]] == [7 * 30] * 4 + [7]
    assert [p["name"] for p in r["projections"]] == ["q,k,v", "o", "gate,up", "down", "lm_head"]
    assert r["projections"][-1]["engine"] == "bfp"
    # the layer's 4 runs (q, k, v stacked; o; gate, up stacked; down) + the head, each asked
    # once; a shared memo asks nothing the second time.
    assert len(calls) == 5
    memo = {}
    token_projection("SmolLM2-135M", "ternary", record, memo=memo)
    token_projection("SmolLM2-135M", "ternary", record, memo=memo)
    assert len(calls) == 10


def test_mixes_ask_each_format():
    seen = set()

    def record(engine, m, n, k, fmt):
        seen.add((n, k, fmt))
        return 1

    token_projection("SmolLM2-135M", "q4_k_m", record)
    # K = 576 rows fall back to Q5_0; ffn_down (K = 1536) is Q4_K, or Q6_K where use_more_bits.
    assert {(576, 1536, "q4_K"), (576, 1536, "q6_K"), (576, 576, "q5_0"),
            (49152, 576, "q8_0")} <= seen


def test_default_cycles_fn_is_top_cycles():
    """The default: the cycle model of the core with that many streams (STREAM_CONFIGS)."""
    r = token_projection("SmolLM2-135M", "shipped")
    assert r["streams"] == r["cycles_streams"] == 3
    assert r["cycles"] == sum(perf_model.top_cycles("bfp", 1, p["n"], p["k"], fmt=p["fmt"])
                              * p["count"] for p in matmul_plan("SmolLM2-135M", "shipped"))
    one = token_projection("SmolLM2-135M", "shipped", streams=1)
    params = perf_model.model_params("bfp", perf_model.STREAM_CONFIGS[1])
    assert one["cycles"] == sum(perf_model.top_cycles("bfp", 1, p["n"], p["k"], params, p["fmt"])
                                * p["count"] for p in matmul_plan("SmolLM2-135M", "shipped"))
    with pytest.raises(ValueError, match="no core with 5 streams to model: choose from 1, 2, 3, "
                                         "4"):
        token_projection("SmolLM2-135M", "shipped", streams=5)


def test_bad_input():
    with pytest.raises(ValueError, match="unknown model 'GPT-9': choose from SmolLM2-135M"):
        token_projection("GPT-9", "q8_0", const_cycles(1))
    with pytest.raises(ValueError, match="unknown model 'GPT-9'"):
        projections("GPT-9")
    with pytest.raises(ValueError, match="unknown weights 'q9_0' for SmolLM2-135M: choose from "
                                         "shipped, q8_0"):
        token_projection("SmolLM2-135M", "q9_0", const_cycles(1))
    with pytest.raises(ValueError, match="SmolLM2-360M has no shipped file here: 'shipped' is "
                                         "only SmolLM2-135M"):
        token_projection("SmolLM2-360M", "shipped", const_cycles(1))
    with pytest.raises(ValueError, match="BitNet-b1.58-2B4T is trained ternary: its weights are "
                                         "'ternary' only, not 'q4_0'"):
        token_projection("BitNet-b1.58-2B4T", "q4_0", const_cycles(1))
    with pytest.raises(ValueError, match="streams must be a positive integer, not 0"):
        token_projection("SmolLM2-135M", "q8_0", const_cycles(1), streams=0)
    with pytest.raises(ValueError, match="streams must be a positive integer, not 1.5"):
        token_projection("SmolLM2-135M", "q8_0", const_cycles(1), streams=1.5)
    with pytest.raises(ValueError, match="clock_hz must be positive, not 0"):
        token_projection("SmolLM2-135M", "q8_0", const_cycles(1), clock_hz=0)
    with pytest.raises(ValueError, match="clock_hz must be positive, not -1"):
        plot_roofline([], "unused.png", clock_hz=-1)
    with pytest.raises(ValueError, match="ddr_bytes_per_s must be positive, not -2"):
        token_projection("SmolLM2-135M", "q8_0", const_cycles(1), ddr_bytes_per_s=-2)
    with pytest.raises(ValueError, match="context must be a positive integer, not 0"):
        token_projection("SmolLM2-135M", "q8_0", const_cycles(1), context=0)
    with pytest.raises(ValueError, match="the PYNQ-Z1 has 2 Cortex-A9 cores, not 3"):
        host_work("SmolLM2-135M", "q8_0", cores=3)
    with pytest.raises(ValueError, match="unknown engine 'int4'"):
        weight_bytes("int4", 8, 64)
    with pytest.raises(ValueError, match="Q8_0 needs K a multiple of 32, not 100"):
        weight_bytes("bfp", 8, 100)
    with pytest.raises(ValueError, match="Q4_K needs K a multiple of 256, not 576"):
        weight_bytes("bfp", 8, 576, fmt="q4_K")
    with pytest.raises(ValueError, match="need a positive int"):
        token_projection("SmolLM2-135M", "q8_0", const_cycles(0))
    with pytest.raises(ValueError, match="need a positive int"):
        token_projection("SmolLM2-135M", "q8_0", const_cycles(12.5))
    with pytest.raises(ValueError, match="no results to report"):
        projection_markdown([])
    with pytest.raises(ValueError, match="unknown projection 'qkv'"):
        plot_projection_cycles([{"projection": "qkv", "engine": "bfp", "simulated": 1,
                                 "model": 1}], "unused.png")


def test_markdown_table():
    results = [token_projection(name, w, const_cycles(1000), streams=1) for name in MODELS
               for w in model_weights(name)]
    md = projection_markdown(results)
    # 96.6 MB of weights; 97.0 MB of CMA + 47.6 MB of host memory; 8.27 tokens/s of stream,
    # 21.52 of DDR (38%); 31.4 ms of host work.
    assert ("| SmolLM2-135M | shipped | 96.6 | 97.0 + 47.6 | yes, 392 MB left | 8.27 | 8.27 "
            "| 21.52 | 38% | 31.4 |") in md
    assert "| TinyLlama-1.1B | q2_K | 371.7 | 371.8 + 68.4 | with cma=355M" in md
    assert "| BitNet-b1.58-2B4T | ternary [" in md and "**no** (" in md
    assert PUBLISHED[0]["citation"] in md and "| 1.7 | 0.588 | measured |" in md
    assert "| 18.7 | 0.053 | derived: 1.7 s x 11 |" in md
    assert "| llmaccel, end to end | TinyLlama-1.1B, q3_k_s |" in md
    for text in ("100 MHz", "2.1 GB/s", "Cortex-A9", "650 MHz", "XAPP1206",
                 "CONFIG_CMA_SIZE_MBYTES=128", "cma=", "does not overlap", "one thread",
                 "arXiv:2408.00462"):
        assert text in md, text
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and " MB left" in ln
            or ln.startswith("| ") and "**no**" in ln]
    assert len(rows) == len(results)


def test_markdown_marks_the_one_stream_cycle_model():
    r = token_projection("SmolLM2-135M", "shipped", const_cycles(1000), streams=3,
                         cycles_streams=1)
    md = projection_markdown([r], [r])
    assert "With 3 streams the accelerator cycles come from a 1-stream cycle model" in md
    assert "| SmolLM2-135M | shipped | 3 | 1-stream cycle model |" in md
    same = projection_markdown([token_projection("SmolLM2-135M", "shipped", const_cycles(1000),
                                                 streams=3)])
    assert "cycle model: the stream bound moves" not in same


def _png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert b"matplotlib" not in data.lower()     # no version stamp
    return data


def test_plots_are_reproducible(tmp_path):
    points = [{"label": "a", "intensity": 0.94, "mac_per_s": 7.5e8},
              {"label": "b q8_0", "group": "b", "engine": "bfp", "intensity": 3.6,
               "mac_per_s": 6e9},
              {"label": "b ternary", "group": "b", "engine": "ternary", "intensity": 2.5,
               "mac_per_s": 2e9}]
    rows = [{"projection": p, "engine": e, "simulated": 1000 * (i + 1) * (j + 1),
             "model": 990 * (i + 1) * (j + 1)}
            for i, p in enumerate(("q,k,v", "o", "gate,up", "down"))
            for j, e in enumerate(ENGINES)]
    runs = []
    for name in ("one", "two"):
        plot_roofline(points, tmp_path / name / "roofline.png")
        plot_projection_cycles(rows, tmp_path / name / "cycles.png")
        runs.append((_png(tmp_path / name / "roofline.png"), _png(tmp_path / name / "cycles.png")))
    assert runs[0] == runs[1]


def test_run_projection(tmp_path):
    out = run_projection(tmp_path, const_cycles(1000))
    assert [(r["model"], r["weights"]) for r in out["results"]] == \
        [(name, w) for name in MODELS for w in model_weights(name)]
    assert [(r["model"], r["weights"], r["streams"]) for r in out["comparison"]] == \
        [(m, w, 1) for m, w in P.HEADLINE]
    assert out["roofline"] == "roofline.png"
    _png(tmp_path / "roofline.png")
    assert "SECDA-LLM" in out["markdown"] and "Headline rows at other stream counts" in out[
        "markdown"]
    # 3 streams: the stream bound (24.8 tokens/s) is above the DDR bound, 21.52
    assert out["headline"][0].startswith("- SmolLM2-135M as shipped (Q4_1): accelerator 21.52")
    json.dumps(out["results"])          # bench.json takes them as they are
    again = run_projection(tmp_path / "again", const_cycles(1000))
    assert (tmp_path / "again" / "roofline.png").read_bytes() == \
        (tmp_path / "roofline.png").read_bytes()
    assert again["markdown"] == out["markdown"]
