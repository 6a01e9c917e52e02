"""Projected decode speed of llmaccel on the PYNQ-Z1, end to end: pure arithmetic over published
model shapes, the weight formats of golden/, the core's cycle model and a counted host workload; no
simulation.

For each model and weight format (a llama.cpp format, one of llama.cpp's mixes, the shipped
SmolLM2 file, or ternary) and one decode token (M = 1):

- weight bytes per token, as the core's 64-bit input stream carries them (golden/bfp_layout.py
  row_words x 8 per row; ternary beats as golden/top_layout.py packs them);
- whether the model fits the board: every matrix must sit in a DMA-able buffer (pynq.allocate,
  i.e. the CMA region), the host keeps the KV cache, norms and (untied) embeddings in float32 /
  file format in ordinary memory, and Linux with PYNQ needs the rest of the 512 MB;
- the accelerator's tokens/s: min(clock / the cycle model's cycles per token, the input-stream
  bound streams x 8 B x clock / stream bytes, the DDR bound 2.1 GB/s / DMA bytes);
- the host's work per token (norms, RoPE, attention over the KV cache, softmax, SiLU, residuals,
  quantizing activations, embedding row, final norm, argmax) counted in NEON lane-operations and
  bytes, turned into time on one Cortex-A9 core at 650 MHz;
- end to end: today's driver (host/driver.py) is single-threaded and blocking, so a token takes
  host + accelerator time (tokens/s = 1 / that critical path); max(host, accelerator) is what a
  driver overlapping the two could reach, reported as such.

Every outside figure is a named constant below with its source (see also SOURCES, printed into the
report). The cycle function is pluggable: cycles_fn(engine, m, n, k, fmt) -> cycles of one matmul;
the default is llmaccel.perf.cycle_model.top_cycles, which models one input stream today.
"""
from __future__ import annotations

import functools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")            # files only, no display; set before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402

from llmaccel.golden import formats as _formats  # noqa: E402
from llmaccel.golden.bfp_layout import (ACTIVATION, k_multiple, k_refusal,  # noqa: E402
                                        output_words, row_words)
from llmaccel.golden.quant_mix import RECIPES, fallback, tensor_format  # noqa: E402
from llmaccel.golden.smollm2 import GGUF_NAME, stacks  # noqa: E402
from llmaccel.golden.ternary_layout import code_bits  # noqa: E402
from llmaccel.golden.top_layout import (act_beat_bits, beat_words,  # noqa: E402
                                        ternary_result_values)
from llmaccel.perf import cycle_model  # noqa: E402

# ---- the board and the core ---------------------------------------------------------------------
ENGINES = ("bfp", "ternary")
LAYER_PROJECTIONS = ("q", "k", "v", "o", "gate", "up", "down")
CLOCK_HZ = 100e6          # FCLK_CLK0 in constraints/build_bd.tcl (not timing-closed)
WORD_BYTES = 8            # one 64-bit AXI4-Stream word per cycle per input stream
STREAM_BYTES_PER_CYCLE = WORD_BYTES
# The default core (generators/top.py, as the cycle model's TOP_DEFAULTS has it): its input
# streams, and its engines' geometry.
_CORE = cycle_model.TOP_DEFAULTS
DEFAULT_STREAMS = _CORE["bfp"]["streams"]
# PYNQ-Z1 reference manual (Digilent): 512 MB DDR3, 16-bit bus at 525 MHz (1050 MT/s):
# 2 bytes x 1.05e9 transfers/s = 2.1 GB/s peak. The same manual: 650 MHz dual-core Cortex-A9.
DDR_BYTES_PER_S = 2.1e9
DDR_TOTAL_BYTES = 512 * 2 ** 20
CPU_HZ = 650e6
CPU_CORES = 2
# PYNQ's kernel configuration (Xilinx/PYNQ sdbuild/boot/meta-pynq/recipes-kernel/linux/linux-xlnx/
# pynq.cfg): CONFIG_CMA_SIZE_MBYTES=128, and PYNQ's boot arguments (pynq_bootargs.dtsi) carry no
# cma=, so the CMA region is 128 MiB (Xilinx's PYNQ-Z1 CMA notebook: "PYNQ-Z1 kernel has support
# for 128 MB of CMA memory", cma_stats 133,918,720 bytes available).
CMA_DEFAULT_BYTES = 128 * 2 ** 20
# What the Linux kernel itself keeps on a 512 MB Zynq-7000 (a boot log, pulp-platform/pulpino
# issue 324): "Memory: 496192K/524288K available (... 28096K reserved ...)" with "cma: Reserved 16
# MiB": 28,096 KiB - 16,384 KiB = 11,712 KiB outside CMA. A floor only: PYNQ's Ubuntu, Jupyter and
# the Python process need more, and no measured figure for them was found (measure `free -m` on the
# board); the tables report what is left for them.
KERNEL_FLOOR_BYTES = (28096 - 16384) * 1024
PAGE_BYTES = 4096         # pynq.allocate hands out whole pages
DMA_MAX_TRANSFER_BYTES = 2 ** 26   # build_bd.tcl: 26-bit AXI DMA length register (64 MiB)
PEAK_MAC_PER_CYCLE = {"bfp": _CORE["bfp"]["mac_lanes"] * _CORE["bfp"]["out_lanes"],
                      "ternary": (_CORE["ternary"]["lanes"] * _CORE["ternary"]["g"]
                                  * _CORE["ternary"]["rows"])}
TERNARY = {name: _CORE["ternary"][name] for name in ("g", "lanes", "rows")}

# ---- the host: Cortex-A9 NEON -------------------------------------------------------------------
# Xilinx XAPP1206 v1.1 ("Boost Software Performance on Zynq-7000 AP SoC with NEON", Table 3 and
# its text): VMUL / VMLA on Q registers (4 single-precision lanes) issue in 2 cycles, "NEON can do
# four single-precision float multiplications in two cycles". A PEAK issue rate: we apply it to
# every lane-operation (a multiply, an add, a compare or a multiply-accumulate), so host times are
# lower bounds. A measured check: a 1 GHz Cortex-A9 runs 4 GFLOP/s of back-to-back VMLA (2 FLOP
# each) and 2 GFLOP/s of separate VMUL + VADD (gruntthepeon.free.fr, "ARM Cortex-A9 peak flops").
NEON_LANE_OPS_PER_CYCLE = 2
HOST_CORES_USED = 1       # golden/smollm2.forward and host/driver.py run in one thread
HOST_BYTES_PER_S = DDR_BYTES_PER_S   # KV cache reads at the DDR's peak: another lower bound
CONTEXT = 1024            # tokens in the KV cache when the token is decoded (and kept for the fit)
# How many lane-operations one element costs (our count of a NEON implementation, not a figure
# from outside): exp by range reduction and a degree-5 polynomial; 1/x by VRECPE and two
# Newton-Raphson steps (VRECPS + VMUL each).
EXP_OPS = 10
RECIP_OPS = 5
RMS_OPS = 3               # per element: square-accumulate, x * 1/rms, * weight
RMS_VECTOR_OPS = 2 + RECIP_OPS + RECIP_OPS   # per vector: mean, + eps, 1/sqrt (estimate + steps)
ROPE_OPS_PER_PAIR = 6     # 4 multiplies, 2 adds (cos / sin from a precomputed table)
SOFTMAX_OPS = 4 + EXP_OPS  # per score: max, subtract, exp, sum, scale
SILU_GLU_OPS = EXP_OPS + 1 + RECIP_OPS + 2   # g / (1 + exp(-g)) * up
RELU2_GLU_OPS = 3         # max(g, 0)^2 * up (BitNet b1.58 2B4T's squared ReLU)
QUANT_OPS = {"q8_0": 4, "q8_1": 5, "q8_K": 5, "mxint8": 4, "int8": 4}  # |x|, max, * 1/d, round
QUANT_BLOCK = {"q8_0": 32, "q8_1": 32, "q8_K": 256, "mxint8": 32}      # one 1/d per block
TERNARY_OUT_OPS = 2       # int32 -> float, * (activation scale x weight scale)
EMBED_OPS = 2             # per value of the embedding row: int8 -> float, * d

# ---- models -------------------------------------------------------------------------------------
# Shapes from the models' config.json (or the shipped GGUF's metadata); see SOURCES.
MODELS = {
    "SmolLM2-135M": {
        "name": "SmolLM2-135M", "source": "HuggingFaceTB/SmolLM2-135M (the shipped GGUF's "
        "llama.* metadata)", "layers": 30, "hidden": 576, "ffn": 1536, "heads": 9,
        "kv_heads": 3, "head_dim": 64, "vocab": 49152, "tied_embeddings": True,
        "max_context": 8192, "act": "silu", "ternary_trained": False, "sub_norms": False},
    "SmolLM2-360M": {
        "name": "SmolLM2-360M", "source": "HuggingFaceTB/SmolLM2-360M config.json",
        "layers": 32, "hidden": 960, "ffn": 2560, "heads": 15, "kv_heads": 5, "head_dim": 64,
        "vocab": 49152, "tied_embeddings": True, "max_context": 8192, "act": "silu",
        "ternary_trained": False, "sub_norms": False},
    "TinyLlama-1.1B": {
        "name": "TinyLlama-1.1B", "source": "TinyLlama/TinyLlama-1.1B-Chat-v1.0 config.json",
        "layers": 22, "hidden": 2048, "ffn": 5632, "heads": 32, "kv_heads": 4, "head_dim": 64,
        "vocab": 32000, "tied_embeddings": False, "max_context": 2048, "act": "silu",
        "ternary_trained": False, "sub_norms": False},
    "BitNet-b1.58-0.7B": {
        "name": "BitNet-b1.58-0.7B", "source": "1bitLLM/bitnet_b1_58-large config.json",
        "layers": 24, "hidden": 1536, "ffn": 4096, "heads": 16, "kv_heads": 16, "head_dim": 96,
        "vocab": 32002, "tied_embeddings": True, "max_context": 2048, "act": "silu",
        "ternary_trained": True, "sub_norms": False},
    "BitNet-b1.58-2B4T": {
        "name": "BitNet-b1.58-2B4T", "source": "microsoft/bitnet-b1.58-2B-4T config.json",
        "layers": 30, "hidden": 2560, "ffn": 6912, "heads": 20, "kv_heads": 5, "head_dim": 128,
        "vocab": 128256, "tied_embeddings": True, "max_context": 4096, "act": "relu2",
        "ternary_trained": True, "sub_norms": True},
}
# The model files this project ships (golden/smollm2.py): every layer tensor and the tied
# token_embd (the LM head) in these formats (checked against the file in the tests).
SHIPPED = {"SmolLM2-135M": {"layers": "q4_1", "head": "q8_0", "file": GGUF_NAME}}
LAYER_FORMATS = tuple(_formats.FORMATS)                       # q8_0, mxint8, q4_0 .. q6_K
WEIGHTS = ("shipped", *LAYER_FORMATS, *(r for r in RECIPES if r not in LAYER_FORMATS),
           "ternary")


def model_weights(model) -> tuple[str, ...]:
    """The weight choices projected for a model: ternary-trained models only as ternary; the
    shipped file only where the project ships one."""
    m = _model(model)
    if m["ternary_trained"]:
        return ("ternary",)
    return tuple(w for w in WEIGHTS if w != "shipped" or m["name"] in SHIPPED)


# Published measurements on the same board and model (the comparison table).
PUBLISHED = [
    {"work": "SECDA-LLM", "citation": "Haris, Saha, Hu, Cano, \"SECDA-LLM: Designing Efficient "
     "LLM Accelerators for Edge Devices\", arXiv:2408.00462, 2024",
     "model": "TinyLlama-1.1B", "weights": "mixed, mostly Q3_K (~460 MB; MatMul_Q3_K_Q8_K on "
     "the FPGA)", "board": "PYNQ-Z1", "s_per_token": 1.7, "kind": "measured"},
    {"work": "board CPU", "citation": "llama.cpp on the PYNQ-Z1's dual-core Cortex-A9 with NEON, "
     "as SECDA-LLM reports it: 11x slower than SECDA-LLM", "model": "TinyLlama-1.1B",
     "weights": "the same file", "board": "PYNQ-Z1", "s_per_token": 1.7 * 11,
     "kind": "derived: 1.7 s x 11"},
]
for _p in PUBLISHED:
    _p["tokens_per_s"] = 1 / _p["s_per_token"]

SOURCES = {
    "board": "Digilent, PYNQ-Z1 Reference Manual (digilent.com/reference/programmable-logic/"
             "pynq-z1/reference-manual): 650 MHz dual-core Cortex-A9; 512 MB DDR3, 16-bit bus at "
             "525 MHz (1050 MT/s)",
    "cma": "Xilinx/PYNQ sdbuild/boot/meta-pynq/recipes-kernel/linux/linux-xlnx/pynq.cfg: "
           "CONFIG_CMA_SIZE_MBYTES=128; pynq_bootargs.dtsi: no cma= in bootargs; Xilinx/PYNQ "
           "Pynq-Z1/notebooks/examples/contiguous_memory_management.ipynb: \"PYNQ-Z1 kernel has "
           "support for 128 MB of CMA memory\" (133,918,720 bytes available)",
    "cma_arg": "Linux kernel-parameters.txt: cma=nn[MG]@[start[MG][-end[MG]]] \"Sets the size of "
               "kernel global memory area for contiguous memory allocations\"; kernel/dma/"
               "contiguous.c: \"Users, who want to set the size of global CMA area for their "
               "system should use cma= kernel parameter\"; set in the device tree's "
               "chosen/bootargs or U-Boot's bootargs (ikwzm/udmabuf issue 5), or rebuild PYNQ's "
               "kernel with a larger CONFIG_CMA_SIZE_MBYTES (pynq.cfg)",
    "kernel": "pulp-platform/pulpino issue 324, a Zynq-7000 512 MB boot log: \"Memory: "
              "496192K/524288K available (... 28096K reserved ...)\", \"cma: Reserved 16 MiB\"",
    "neon": "Xilinx XAPP1206 v1.1 (2014), \"Boost Software Performance on Zynq-7000 AP SoC with "
            "NEON\": VMUL/VMLA on Q registers in two cycles, four single-precision "
            "multiplications in two cycles (peak)",
    "secda": "Haris et al., arXiv:2408.00462 (2024), abstract: PYNQ-Z1, TinyLlama, 1.7 s/token, "
             "11x over the dual-core Arm NEON CPU; a review of its source (evaluation section): "
             "MatMul_Q3_K_Q8_K, TinyLlama ~460 MB, mixed quantization, predominantly Q3_K",
    "SmolLM2-135M": "the shipped SmolLM2-135M-Instruct.Q4_1.gguf's metadata (llama.context_length "
                    "8192)",
    "SmolLM2-360M": "config.json of HuggingFaceTB/SmolLM2-360M (copies: huggingface.co/unsloth/"
                    "SmolLM2-360M, huggingface.co/assskelad/smollm2-360M-sft_SmallThoughts); "
                    "361,821,120 parameters, which these shapes reproduce",
    "TinyLlama-1.1B": "config.json of TinyLlama/TinyLlama-1.1B-Chat-v1.0 (copies, e.g. "
                      "huggingface.co/devmaid/tinyllama-colorist)",
    "BitNet-b1.58-0.7B": "huggingface.co/1bitLLM/bitnet_b1_58-large config.json",
    "BitNet-b1.58-2B4T": "config.json of microsoft/bitnet-b1.58-2B-4T (copy: huggingface.co/"
                         "Compumacy/Bitnet-B1.58); model card: squared ReLU, subln, vocabulary "
                         "128,256",
}


# ---- checks -------------------------------------------------------------------------------------
def _model(model) -> dict:
    """A model description from its name in MODELS, or a description given as a dict."""
    if isinstance(model, dict):
        return {"tied_embeddings": True, "max_context": CONTEXT, "act": "silu",
                "ternary_trained": False, "sub_norms": False, "source": "given", **model}
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}: choose from {', '.join(MODELS)}")
    return MODELS[model]


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose 'bfp' or 'ternary'")


def _check_weights(m: dict, weights: str) -> str:
    if weights not in WEIGHTS:
        raise ValueError(f"unknown weights {weights!r} for {m['name']}: choose from "
                         f"{', '.join(model_weights(m))}")
    if weights == "shipped" and m["name"] not in SHIPPED:
        files = ", ".join(f"{k} ({v['file']})" for k, v in SHIPPED.items())
        raise ValueError(f"{m['name']} has no shipped file here: 'shipped' is only {files}")
    if m["ternary_trained"] and weights != "ternary":
        raise ValueError(f"{m['name']} is trained ternary: its weights are 'ternary' only, "
                         f"not {weights!r}")
    return weights


def _positive(name: str, value, integer: bool = False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if integer:
        ok = ok and isinstance(value, int)
    if not ok:
        what = "a positive integer" if integer else "positive"
        raise ValueError(f"{name} must be {what}, not {value!r}")
    return value


# ---- shapes and formats -------------------------------------------------------------------------
def projections(model) -> list[dict]:
    """The linear projections of one decode token: per layer q, k, v, o, gate, up, down (count =
    layers), then the LM head once (count = 1; tied or not, it is one [vocab, hidden] matrix)."""
    m = _model(model)
    h, f = m["hidden"], m["ffn"]
    q = m["heads"] * m["head_dim"]
    kv = m["kv_heads"] * m["head_dim"]
    per_layer = [("q", q, h), ("k", kv, h), ("v", kv, h), ("o", h, q),
                 ("gate", f, h), ("up", f, h), ("down", h, f)]
    rows = [{"name": name, "n": n, "k": k, "count": m["layers"]} for name, n, k in per_layer]
    rows.append({"name": "lm_head", "n": m["vocab"], "k": h, "count": 1})
    return rows


def layer_format(model, weights: str, projection: str, layer: int, k: int) -> str:
    """The format of one layer tensor: the shipped file's, a recipe's (golden/quant_mix.py, with
    llama.cpp's fallbacks), one format for every tensor (K-quants falling back as llama.cpp's
    quantizer does for rows not a multiple of 256), or "ternary"."""
    m = _model(model)
    _check_weights(m, weights)
    if weights == "ternary":
        return "ternary"
    if weights == "shipped":
        return SHIPPED[m["name"]]["layers"]
    if weights in RECIPES:
        return tensor_format(weights, projection, layer, m["layers"], k,
                             kv_group=max(1, m["heads"] // m["kv_heads"]))
    return fallback(weights, k)


def head_format(weights: str, k: int, model=None) -> str:
    """The LM head's format: the shipped file's own rows; Q8_0 beside ternary layers (BitNet keeps
    its head at higher precision); MXINT8 with MXINT8 layers; otherwise llama.cpp's rule for the
    output tensor (src/llama-quant.cpp): Q8_0 in a Q8_0 file, else Q6_K, which falls back to Q8_0
    when K is not a multiple of 256."""
    if weights == "shipped":
        name = _model(model)["name"] if model is not None else next(iter(SHIPPED))
        return SHIPPED[name]["head"]
    if weights in ("ternary", "q8_0"):
        return "q8_0"
    if weights == "mxint8":
        return "mxint8"
    if weights not in WEIGHTS:
        raise ValueError(f"unknown weights {weights!r}: choose from {', '.join(WEIGHTS)}")
    return fallback("q6_K", k)


def embedding_format(weights: str, k: int) -> str:
    """An untied token embedding's format (host memory only): the layers' base format (llama.cpp
    keeps token_embd in the file type's default), Q8_0 beside ternary layers."""
    if weights in ("ternary", "shipped"):
        return "q8_0"
    base = {"q4_k_m": "q4_K", "q3_k_s": "q3_K", "q2_k": "q2_K", "q2_k_s": "q2_K"}.get(weights,
                                                                                     weights)
    return fallback(base, k)


def weight_bytes(engine: str, n: int, k: int, g: int = 3, lanes: int = 16, rows: int = 3,
                 fmt: str = "q8_0") -> int:
    """Bytes of one [N, K] weight matrix as the accelerator's 64-bit input stream carries it.

    bfp (`fmt`, default Q8_0): N rows of golden/bfp_layout.row_words 64-bit words (Q8_0: ceil(B/4)
    scale + 4 B qs words, B = K / 32). ternary: ceil(K / (lanes g)) x ceil(N / rows) beats of rows x
    lanes base-3 codes of code_bits(g) bits, each beat padded to whole 64-bit words (4 words at
    the defaults: 240 bits used of 256)."""
    _check_engine(engine)
    if n <= 0 or k <= 0:
        raise ValueError(f"need N, K >= 1: {n=} {k=}")
    if engine == "bfp":
        qk = k_multiple(fmt)
        if k % qk:
            raise ValueError(f"{fmt.upper()} needs K a multiple of {qk}, not {k}")
        return WORD_BYTES * n * row_words(k // 32, fmt)
    words_per_beat = -(-rows * lanes * code_bits(g) // 64)
    beats = -(-k // (lanes * g)) * -(-n // rows)
    return WORD_BYTES * words_per_beat * beats


def activation_bytes(fmt: str, k: int) -> int:
    """Input-stream bytes of one activation row (M = 1) for a matmul on `fmt` weights: the row in
    ACTIVATION[fmt] (Q8_0, Q8_1, Q8_K, MXINT8), or the ternary engine's activation beats."""
    if fmt == "ternary":
        slices = -(-k // (TERNARY["lanes"] * TERNARY["g"]))
        return WORD_BYTES * slices * beat_words(act_beat_bits(TERNARY["g"], TERNARY["lanes"]))
    return WORD_BYTES * row_words(k // 32, ACTIVATION[fmt])


def result_bytes(fmt: str, n: int) -> int:
    """Output-stream bytes of one result row (M = 1): float32 (BFP) or int32 (ternary, N padded to
    whole beats), two to a word."""
    if fmt == "ternary":
        return WORD_BYTES * -(-ternary_result_values(1, n, TERNARY["rows"]) // 2)
    return WORD_BYTES * output_words(1, n)


def matmul_plan(model, weights: str) -> list[dict]:
    """One decode token's matmuls, grouped by (stack, format): name, n, k, count, fmt, engine,
    the member projections and the bytes each moves (weights, activation row in, results out).
    The matrices of a layer that share an input and a format run as one, stacked row-wise
    (golden/smollm2.stacks: q, k, v; gate, up), as host/model.py runs a model: name "q,k,v", N
    the members' sum."""
    m = _model(model)
    _check_weights(m, weights)
    shape = {p["name"]: p for p in projections(m)}
    groups = {}
    for layer in range(m["layers"]):
        fmts = {(layer, name): layer_format(m, weights, name, layer, shape[name]["k"])
                for name in LAYER_PROJECTIONS}
        for keys in stacks(fmts):
            names = tuple(name for _, name in keys)
            group = (names, fmts[keys[0]])
            groups[group] = groups.get(group, 0) + 1
    head = shape["lm_head"]
    groups[(("lm_head",), head_format(weights, head["k"], m))] = 1
    plan = []
    for (names, fmt), count in groups.items():
        n, k = sum(shape[name]["n"] for name in names), shape[names[0]]["k"]
        engine = "ternary" if fmt == "ternary" else "bfp"
        wb = (weight_bytes("ternary", n, k, **TERNARY) if engine == "ternary"
              else weight_bytes("bfp", n, k, fmt=fmt))
        plan.append({"name": ",".join(names), "members": names, "n": n, "k": k,
                     "count": count, "fmt": fmt, "engine": engine, "matrix_bytes": wb,
                     "act_bytes": activation_bytes(fmt, k), "out_bytes": result_bytes(fmt, n)})
    return plan


# ---- memory: does it fit the board? -------------------------------------------------------------
def _pages(nbytes: int) -> int:
    return -(-nbytes // PAGE_BYTES) * PAGE_BYTES


def kv_cache_bytes(model, context: int = CONTEXT) -> int:
    """float32 keys and values of every layer for `context` positions, as the host keeps them
    (golden/smollm2.KVCache)."""
    m = _model(model)
    return 2 * m["layers"] * m["kv_heads"] * m["head_dim"] * context * 4


def memory_fit(model, weights: str, context: int = CONTEXT, streams: int = DEFAULT_STREAMS,
               plan: list[dict] | None = None) -> dict:
    """Bytes the model needs in DDR and whether they fit the PYNQ-Z1.

    CMA (DMA-able, pynq.allocate): every matrix resident in its own buffers (one per input stream,
    whole pages), and one activation and one result buffer for the largest matmul. Host memory:
    the float32 KV cache at `context`, the float32 norm weights, an untied embedding in its file
    format (a tied one is read from the LM head's buffer), and scratch vectors (logits, scores, a
    few work vectors). `left` = what the 512 MB leave for Linux, PYNQ and the Python runtime."""
    m = _model(model)
    _positive("context", context, integer=True)
    _positive("streams", streams, integer=True)
    plan = plan if plan is not None else matmul_plan(m, weights)
    matrices = sum(streams * _pages(-(-p["matrix_bytes"] // streams)) * p["count"] for p in plan)
    io = _pages(max(p["act_bytes"] for p in plan)) + _pages(max(p["out_bytes"] for p in plan))
    cma = matrices + io
    h, f = m["hidden"], m["ffn"]
    norm_vectors = (2 * m["layers"] + 1) * h
    if m["sub_norms"]:
        norm_vectors += m["layers"] * (m["heads"] * m["head_dim"] + f)
    embedding = 0
    if not m["tied_embeddings"]:
        fmt = embedding_format(weights, h)
        embedding = m["vocab"] * h // _formats.get(fmt).block * _formats.get(fmt).bytes
    scratch = (m["vocab"] + m["heads"] * context + 8 * max(h, f)) * 4
    host = {"kv_cache": kv_cache_bytes(m, context), "norms": norm_vectors * 4,
            "embedding": embedding, "scratch": scratch}
    host_total = sum(host.values())
    left = DDR_TOTAL_BYTES - cma - host_total
    largest = max(-(-p["matrix_bytes"] // streams) for p in plan)
    cma_mib = -(-cma // 2 ** 20)
    if left < KERNEL_FLOOR_BYTES:
        verdict, fits = "no", False
    elif cma <= CMA_DEFAULT_BYTES:
        verdict, fits = "yes", True
    else:
        verdict, fits = f"with cma={cma_mib}M", True
    return {"cma_bytes": cma, "cma_matrices": matrices, "cma_io": io, "host": host,
            "host_bytes": host_total, "total_bytes": cma + host_total, "left_bytes": left,
            "cma_mib": cma_mib, "fits": fits, "verdict": verdict,
            "largest_transfer_bytes": largest,
            "over_dma_limit": largest > DMA_MAX_TRANSFER_BYTES}


# ---- the host's work per token ------------------------------------------------------------------
def _quant_ops(act: str, width: int) -> int:
    blocks = -(-width // QUANT_BLOCK.get(act, width))
    return width * QUANT_OPS[act] + blocks * RECIP_OPS


def host_work(model, weights: str, context: int = CONTEXT, cpu_hz: float = CPU_HZ,
              lane_ops_per_cycle: float = NEON_LANE_OPS_PER_CYCLE, cores: int = HOST_CORES_USED,
              bytes_per_s: float = HOST_BYTES_PER_S) -> dict:
    """The host side of one decode token at position `context` (it attends to `context` keys),
    counted in NEON lane-operations (a multiply, add, compare or multiply-accumulate on one float)
    and in bytes moved from DDR, and the time they take on `cores` Cortex-A9 cores: the larger of
    ops / (lane_ops_per_cycle x cpu_hz x cores) and bytes / bytes_per_s, a lower bound (peak issue
    rate, peak DDR bandwidth; no interpreter, driver or cache-miss cost)."""
    m = _model(model)
    _positive("context", context, integer=True)
    _positive("cpu_hz", cpu_hz)
    _positive("cores", cores, integer=True)
    if cores > CPU_CORES:
        raise ValueError(f"the PYNQ-Z1 has {CPU_CORES} Cortex-A9 cores, not {cores}")
    _check_weights(m, weights)
    L, h, f = m["layers"], m["hidden"], m["ffn"]
    H, Hk, d, T, V = m["heads"], m["kv_heads"], m["head_dim"], context, m["vocab"]
    q = H * d
    ops = {}
    norm_vectors = [h, h] + ([q, f] if m["sub_norms"] else [])
    ops["norms"] = L * sum(RMS_OPS * w + RMS_VECTOR_OPS for w in norm_vectors)
    ops["rope"] = L * ROPE_OPS_PER_PAIR * (H + Hk) * d // 2
    ops["scores"] = L * (H * T * d + q)          # q . k for every key; 1/sqrt(d) folded into q
    ops["softmax"] = L * (H * T * SOFTMAX_OPS + H * RECIP_OPS)
    ops["weighted_sum"] = L * H * T * d          # p . v
    ops["residual"] = L * 2 * h
    ops["ffn_act"] = L * f * (RELU2_GLU_OPS if m["act"] == "relu2" else SILU_GLU_OPS)
    # Each projection's input is quantized into its matmul's activation format, once per distinct
    # (input, format) in a layer: q, k, v share the normed x; gate and up share the second one.
    src = {"q": "x1", "k": "x1", "v": "x1", "o": "attn", "gate": "x2", "up": "x2", "down": "ffn"}
    width = {"x1": h, "attn": q, "x2": h, "ffn": f}
    shapes = {p["name"]: p["n"] for p in projections(m)}
    quant = dequant = 0
    for layer in range(L):
        pairs = set()
        for name in LAYER_PROJECTIONS:
            fmt = layer_format(m, weights, name, layer, width[src[name]])
            pairs.add((src[name], "int8" if fmt == "ternary" else ACTIVATION[fmt]))
            if fmt == "ternary":
                dequant += shapes[name] * TERNARY_OUT_OPS
        quant += sum(_quant_ops(act, width[s]) for s, act in pairs)
    quant += _quant_ops(ACTIVATION[head_format(weights, h, m)], h)
    ops["quantize"] = quant
    ops["dequantize"] = dequant
    ops["embedding"] = EMBED_OPS * h
    ops["final_norm"] = RMS_OPS * h + RMS_VECTOR_OPS
    ops["argmax"] = V
    emb = _formats.get(head_format(weights, h, m) if m["tied_embeddings"]
                       else embedding_format(weights, h))
    nbytes = {"kv_read": 2 * L * Hk * d * T * 4, "kv_write": 2 * L * Hk * d * 4,
              "norm_weights": 4 * ((2 * L + 1) * h + (L * (q + f) if m["sub_norms"] else 0)),
              "embedding_row": h // emb.block * emb.bytes, "logits": V * 4}
    total_ops = sum(ops.values())
    total_bytes = sum(nbytes.values())
    compute_s = total_ops / (lane_ops_per_cycle * cpu_hz * cores)
    memory_s = total_bytes / bytes_per_s
    return {"ops": ops, "total_ops": total_ops, "bytes": nbytes, "total_bytes": total_bytes,
            "compute_s": compute_s, "memory_s": memory_s, "seconds": max(compute_s, memory_s),
            "bound": "memory" if memory_s > compute_s else "compute", "cores": cores,
            "context": context}


# ---- the accelerator and the token --------------------------------------------------------------
def top_cycles_fn(engine: str, m: int, n: int, k: int, fmt: str,
                  streams: int = DEFAULT_STREAMS) -> int:
    """The default cycles_fn: llmaccel.perf.cycle_model.top_cycles as the host driver runs the
    core with `streams` input streams (cycle_model.STREAM_CONFIGS: the default core has 3)."""
    if streams not in cycle_model.STREAM_CONFIGS:
        raise ValueError(f"no core with {streams} streams to model: choose from "
                         f"{', '.join(map(str, cycle_model.STREAM_CONFIGS))}")
    params = cycle_model.model_params(engine, cycle_model.STREAM_CONFIGS[streams])
    if engine == "ternary":
        return cycle_model.top_cycles("ternary", m, n, k, params)
    return cycle_model.top_cycles("bfp", m, n, k, params, fmt=fmt)


TOP_CYCLES_STREAMS = DEFAULT_STREAMS   # the input streams of the default core
# One cycles_fn per stream count (the same object each time, so memo keys match across calls).
_TOP_FNS = {s: functools.partial(top_cycles_fn, streams=s) for s in cycle_model.STREAM_CONFIGS}


def _refusals(plan: list[dict]) -> list[str]:
    k_max = cycle_model.TOP_DEFAULTS["bfp"]["k_max"]
    out = []
    for p in plan:
        if p["engine"] == "bfp":
            why = k_refusal(p["fmt"], p["k"], k_max)
            if why:
                out.append(f"{p['name']} ({p['fmt']}, K = {p['k']}): {why}")
    return out


def token_projection(model, weights: str = "q8_0", cycles_fn=None, clock_hz: float = CLOCK_HZ,
                     ddr_bytes_per_s: float = DDR_BYTES_PER_S, *, streams: int = DEFAULT_STREAMS,
                     cycles_streams: int | None = None, context: int = CONTEXT,
                     host_cores: int = HOST_CORES_USED, memo: dict | None = None) -> dict:
    """One decode token of `model` with `weights` (see WEIGHTS; "bfp" is taken as "q8_0").

    `cycles_fn(engine, m, n, k, fmt) -> int`: one matmul's cycles (default top_cycles_fn on the
    core with `streams` streams of cycle_model.STREAM_CONFIGS; `cycles_streams` says how many
    streams a given cycles_fn models, by default `streams`). `memo`: a dict caching cycles_fn's answers across
    calls. Returns the bytes, cycles, bounds, host work, fit and end-to-end figures."""
    m = _model(model)
    weights = "q8_0" if weights == "bfp" else weights
    _check_weights(m, weights)
    _positive("streams", streams, integer=True)
    _positive("clock_hz", clock_hz)
    _positive("ddr_bytes_per_s", ddr_bytes_per_s)
    _positive("context", context, integer=True)
    if cycles_fn is None:
        if streams not in _TOP_FNS:
            raise ValueError(f"no core with {streams} streams to model: choose from "
                             f"{', '.join(map(str, _TOP_FNS))}")
        cycles_fn, modelled = _TOP_FNS[streams], streams
    else:
        modelled = streams if cycles_streams is None else cycles_streams
    memo = {} if memo is None else memo
    plan = matmul_plan(m, weights)
    per = []
    for p in plan:
        # the function itself (not its id, which a later closure could reuse) and what it models
        key = (cycles_fn, modelled, p["engine"], p["n"], p["k"], p["fmt"])
        if key not in memo:
            each = cycles_fn(p["engine"], 1, p["n"], p["k"], p["fmt"])
            if not isinstance(each, int) or isinstance(each, bool) or each <= 0:
                raise ValueError(f"cycles_fn gave {each!r} for {p['engine']} {p['fmt']} "
                                 f"N={p['n']} K={p['k']}: need a positive int")
            memo[key] = each
        c = p["count"]
        per.append(dict(p, macs=p["n"] * p["k"] * c, cycles=memo[key] * c,
                        weight_bytes=p["matrix_bytes"] * c,
                        stream_bytes=(p["matrix_bytes"] + p["act_bytes"]) * c,
                        dma_bytes=(p["matrix_bytes"] + p["act_bytes"] + p["out_bytes"]) * c))
    cycles = sum(p["cycles"] for p in per)
    wbytes = sum(p["weight_bytes"] for p in per)
    sbytes = sum(p["stream_bytes"] for p in per)
    dbytes = sum(p["dma_bytes"] for p in per)
    macs = sum(p["macs"] for p in per)
    bounds = {"cycle model": clock_hz / cycles,
              "stream": streams * STREAM_BYTES_PER_CYCLE * clock_hz / sbytes,
              "DDR": ddr_bytes_per_s / dbytes}
    bound = min(bounds, key=bounds.get)
    accel = bounds[bound]
    host = host_work(m, weights, context, cores=host_cores)
    fit = memory_fit(m, weights, context, streams, plan)
    accel_s = 1 / accel
    serial_s = accel_s + host["seconds"]
    overlap_s = max(accel_s, host["seconds"])
    engine = "ternary" if weights == "ternary" else "bfp"
    notes = []
    if weights == "ternary" and not m["ternary_trained"]:
        notes.append({"kind": "what-if", "text": "not trained ternary: its shapes only"})
    notes += [{"kind": "kmax", "text": why} for why in _refusals(plan)]
    if fit["over_dma_limit"]:
        notes.append({"kind": "dma", "text": f"a matrix of "
                      f"{fit['largest_transfer_bytes'] / 2 ** 20:.1f} MiB per stream: over one "
                      "DMA transfer's 64 MiB (26-bit length)"})
    return {"model": m["name"], "weights": weights, "engine": engine, "projections": per,
            "streams": streams, "cycles_streams": modelled, "clock_hz": clock_hz,
            "ddr_bytes_per_s": ddr_bytes_per_s, "context": context,
            "macs": macs, "cycles": cycles, "weight_bytes": wbytes, "stream_bytes": sbytes,
            "dma_bytes": dbytes, "intensity": macs / wbytes,
            "compute_tokens_per_s": bounds["cycle model"], "stream_tokens_per_s": bounds["stream"],
            "ddr_tokens_per_s": bounds["DDR"], "bound": bound,
            "accel_tokens_per_s": accel, "accel_s_per_token": accel_s,
            "accel_fraction_of_ddr": accel / bounds["DDR"], "mac_per_s": macs * accel,
            "host": host, "host_s_per_token": host["seconds"],
            "e2e_s_per_token": serial_s, "e2e_tokens_per_s": 1 / serial_s,
            "e2e_fraction_of_ddr": (1 / serial_s) / bounds["DDR"],
            "overlapped_tokens_per_s": 1 / overlap_s,
            # Today's PYNQ back end (host/pynq_backend.py) allocates a CMA buffer per transfer and
            # copies the stream into it: at least the stream bytes read and written once more.
            "copy_s_today": 2 * sbytes / ddr_bytes_per_s,
            "fit": fit, "notes": notes}


# ---- plots --------------------------------------------------------------------------------------
FIGSIZE = (7.0, 4.8)
DPI = 120
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*")
SAVE = {"dpi": DPI, "metadata": {"Software": None}}  # no version or date: byte-identical reruns


def _save(fig, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", **SAVE)
    plt.close(fig)


def plot_roofline(points, path, peaks: dict | None = None, clock_hz: float = CLOCK_HZ,
                  ddr_bytes_per_s: float = DDR_BYTES_PER_S,
                  stream_counts=(DEFAULT_STREAMS, 3)) -> None:
    """Roofline of the PYNQ-Z1 to `path` (PNG): compute roofs (peak MAC/cycle x clock, per
    engine), the DDR roof, the input-stream roofs (streams x 64 bit x clock, for each count in
    `stream_counts`), and `points` (dicts with label, intensity = MAC per weight byte, mac_per_s;
    optional group, one marker and legend entry per group, and engine: ternary points hollow)."""
    peaks = PEAK_MAC_PER_CYCLE if peaks is None else peaks
    _positive("clock_hz", clock_hz)
    xs = [p["intensity"] for p in points]
    lo = min([0.1, *xs]) / 2
    hi = max([100.0, *xs]) * 2
    with plt.style.context("default"):   # ignore any local matplotlibrc
        fig, ax = plt.subplots(figsize=FIGSIZE)
        top = max(peaks.values()) * clock_hz
        roofs = [(f"DDR {ddr_bytes_per_s / 1e9:.1f} GB/s", ddr_bytes_per_s, "--")]
        for s in sorted(set(stream_counts)):
            bw = s * STREAM_BYTES_PER_CYCLE * clock_hz
            roofs.append((f"{s} input stream{'s' if s > 1 else ''} x 64 bit x "
                          f"{clock_hz / 1e6:.0f} MHz = {bw / 1e9:.1f} GB/s", bw, ":"))
        for name, bw, style in roofs:
            ridge = min(max(top / bw, lo), hi)   # the diagonal stops at the highest roof
            ax.plot([lo, ridge, hi], [bw * lo, bw * ridge, bw * ridge], style, label=name)
        for name, peak in sorted(peaks.items()):
            ax.plot([lo, hi], [peak * clock_hz] * 2, "-",
                    label=f"{name} peak {peak} MAC/cycle x {clock_hz / 1e6:.0f} MHz")
        groups = list(dict.fromkeys(p.get("group", p["label"]) for p in points))
        shown = set()
        for p in points:
            g = groups.index(p.get("group", p["label"]))
            label = p.get("group", p["label"])
            ax.plot(p["intensity"], p["mac_per_s"], MARKERS[g % len(MARKERS)],
                    color=f"C{(g + 4) % 10}", markersize=7,
                    fillstyle="none" if p.get("engine") == "ternary" else "full",
                    label=None if label in shown else label)
            shown.add(label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xlabel("arithmetic intensity (MAC per weight byte streamed)")
        ax.set_ylabel("attainable MAC/s (accelerator, decode M = 1)")
        ax.set_title("Roofline, PYNQ-Z1 (XC7Z020): filled BFP formats, hollow ternary")
        ax.grid(True, which="major", linewidth=0.3)
        ax.legend(fontsize=6.5, loc="lower right")
        fig.tight_layout()
        _save(fig, path)



def plot_projection_cycles(rows, path) -> None:
    """Grouped bars of one layer's runs to `path` (PNG), in the order given: simulated cycles per
    engine as bars, the cycle model's as markers on them. `rows`: dicts with projection (a
    projection or a stack of them, "q,k,v"), engine, simulated and model (cycles; None where not
    available)."""
    engines = [e for e in ENGINES if any(r["engine"] == e for r in rows)]
    for r in rows:
        _check_engine(r["engine"])
        if not all(p in LAYER_PROJECTIONS for p in str(r["projection"]).split(",")):
            raise ValueError(f"unknown projection {r['projection']!r}: choose from "
                             f"{', '.join(LAYER_PROJECTIONS)} or a comma-separated stack of them")
    names = list(dict.fromkeys(r["projection"] for r in rows))
    by = {(r["projection"], r["engine"]): r for r in rows}
    width = 0.8 / max(len(engines), 1)
    with plt.style.context("default"):
        fig, ax = plt.subplots(figsize=FIGSIZE)
        for j, eng in enumerate(engines):
            xs, sim, mx, model = [], [], [], []
            for i, proj in enumerate(names):
                r = by.get((proj, eng))
                x = i + (j - (len(engines) - 1) / 2) * width
                if r and r.get("simulated") is not None:
                    xs.append(x)
                    sim.append(r["simulated"])
                if r and r.get("model") is not None:
                    mx.append(x)
                    model.append(r["model"])
            ax.bar(xs, sim, width, label=f"{eng}: simulated", color=f"C{j}")
            ax.plot(mx, model, "_", markersize=14, markeredgewidth=2, color="black",
                    label="cycle model" if j == 0 else None)
        ax.set_xticks(range(len(names)), [n.replace(",", ", ") for n in names])
        ax.set_yscale("log")
        ax.set_xlabel("projection (run)")
        ax.set_ylabel("cycles (M = 1)")
        ax.set_title("SmolLM2-135M layer 0, one decode token")
        ax.grid(True, axis="y", which="major", linewidth=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        _save(fig, path)


# ---- report -------------------------------------------------------------------------------------
def _mb(nbytes: float) -> str:
    return f"{nbytes / 1e6:.1f}"


def _fit_cell(fit: dict) -> str:
    left = f"{fit['left_bytes'] / 1e6:.0f} MB left"
    if fit["verdict"] == "no":
        return f"**no** ({fit['total_bytes'] / 1e6:.0f} MB needed)"
    return f"{fit['verdict']}, {left}"


def _marks(r: dict, legend: dict) -> str:
    out = []
    for note in r["notes"]:
        legend.setdefault(note["kind"], len(legend) + 1)
        out.append(legend[note["kind"]])
    return "".join(f" [{i}]" for i in sorted(set(out)))


NOTE_TEXT = {
    "what-if": "ternary on a model not trained ternary: its shapes only, the accuracy would be "
               "lost (the LM head stays Q8_0 on the BFP engine).",
    "kmax": "a matrix with K above the default core's K_MAX = 4096 in a format whose K cannot be "
            "split (Q3_K..Q6_K keep nine sums per row): the default core refuses it; the figures "
            "are for a core generated with K_MAX >= 5632 (the cycle model's split approximates "
            "it).",
    "dma": "a matrix larger than one AXI DMA transfer (64 MiB per stream, 26-bit length): the "
           "driver must split it (it splits N only at 65,535 rows today).",
}


SHORT_NOTE = {"what-if": "a what-if", "kmax": "the default core refuses its K = 5632 rows",
              "dma": "a matrix over one DMA transfer"}


def projection_markdown(results, comparison: list[dict] | None = None) -> str:
    """The projection section of reports/bench.md from token_projection results (one streams
    setting); `comparison`: the same headline rows at other stream counts (optional)."""
    if not results:
        raise ValueError("no results to report")
    r0 = results[0]
    clock, ddr, streams, context = (r0["clock_hz"], r0["ddr_bytes_per_s"], r0["streams"],
                                    r0["context"])
    legend = {}
    lines = [
        f"Decode (M = 1), {streams} input stream{'s' if streams > 1 else ''} at "
        f"{clock / 1e6:.0f} MHz, the token at position {context:,} (it attends to {context:,} "
        "keys; the fit keeps that KV cache). MB = 10^6 bytes.",
        "",
        "| model | weights | weight MB / token | DDR MB: CMA + host | fits the 512 MB "
        "(left for Linux, PYNQ) | accel tok/s | stream bound | DDR bound | accel / DDR | "
        "host ms / token | end-to-end tok/s | e2e / DDR | overlapped tok/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        f = r["fit"]
        lines.append(
            f"| {r['model']} | {r['weights']}{_marks(r, legend)} | {_mb(r['weight_bytes'])} "
            f"| {_mb(f['cma_bytes'])} + {_mb(f['host_bytes'])} | {_fit_cell(f)} "
            f"| {r['accel_tokens_per_s']:.2f} | {r['stream_tokens_per_s']:.2f} "
            f"| {r['ddr_tokens_per_s']:.2f} | {100 * r['accel_fraction_of_ddr']:.0f}% "
            f"| {1e3 * r['host_s_per_token']:.1f} | {r['e2e_tokens_per_s']:.2f} "
            f"| {100 * r['e2e_fraction_of_ddr']:.0f}% | {r['overlapped_tokens_per_s']:.2f} |")
    lines.append("")
    for kind, i in sorted(legend.items(), key=lambda kv: kv[1]):
        lines.append(f"[{i}] {NOTE_TEXT[kind]}")
    by = {(r["model"], r["weights"]): r for r in results}
    lines += ["", "Beside published figures on the same board and model:", "",
              "| work | model, weights | board | s / token | tokens/s | kind |",
              "|---|---|---|---|---|---|"]
    for p in PUBLISHED:
        lines.append(f"| {p['work']} ({p['citation']}) | {p['model']}, {p['weights']} "
                     f"| {p['board']} | {p['s_per_token']:.1f} | {p['tokens_per_s']:.3f} "
                     f"| {p['kind']} |")
    for w in ("q3_k_s", "q2_K", "q2_k_s"):
        r = by.get(("TinyLlama-1.1B", w))
        if r:
            why = ["fits" if r["fit"]["fits"] else "does not fit the board"]
            why += [SHORT_NOTE[k] for k in dict.fromkeys(n["kind"] for n in r["notes"])]
            lines.append(f"| llmaccel, end to end | TinyLlama-1.1B, {w} | PYNQ-Z1 "
                         f"| {r['e2e_s_per_token']:.2f} | {r['e2e_tokens_per_s']:.2f} "
                         f"| projected: {'; '.join(why)} |")
    lines += ["", f"SECDA-LLM: {SOURCES['secda']}. Its TinyLlama file is about 460 MB and ran "
              "under llama.cpp, which by default memory-maps the model file (its pages read on "
              "demand and evictable); here every matrix must be resident in CMA beside the host's "
              "float32 KV cache, so the same weights need more DDR (the rows above)."]
    if comparison:
        lines += ["", "Headline rows at other stream counts (\"e2e at the bound\": end to end "
                  "if the accelerator ran at min(stream, DDR bound), a ceiling, not a "
                  "projection):", "",
                  "| model | weights | streams | cycles from | accel tok/s | stream bound "
                  "| DDR bound | end-to-end tok/s | e2e at the bound |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in comparison:
            ceiling = 1 / (1 / min(r["stream_tokens_per_s"], r["ddr_tokens_per_s"])
                           + r["host_s_per_token"])
            lines.append(f"| {r['model']} | {r['weights']} | {r['streams']} "
                         f"| {r['cycles_streams']}-stream cycle model "
                         f"| {r['accel_tokens_per_s']:.2f} | {r['stream_tokens_per_s']:.2f} "
                         f"| {r['ddr_tokens_per_s']:.2f} | {r['e2e_tokens_per_s']:.2f} "
                         f"| {ceiling:.2f} |")
    mismatch = sorted({(r["streams"], r["cycles_streams"]) for r in [*results, *(comparison or [])]
                       if r["streams"] != r["cycles_streams"]})
    models = list(dict.fromkeys(r["model"] for r in results))
    rc = by.get(("SmolLM2-135M", "shipped"), r0)
    lines += ["", "Models (shapes from their config; KV cache float32 as the host keeps it):", "",
              "| model | layers | hidden | FFN | heads / KV heads x head dim | vocab | tied "
              "| KV MB per 1,024 tokens | source |", "|---|---|---|---|---|---|---|---|---|"]
    for name in models:
        m = _model(name)
        lines.append(f"| {name} | {m['layers']} | {m['hidden']} | {m['ffn']} | {m['heads']} / "
                     f"{m['kv_heads']} x {m['head_dim']} | {m['vocab']:,} "
                     f"| {'yes' if m['tied_embeddings'] else 'no'} "
                     f"| {kv_cache_bytes(m, 1024) / 1e6:.1f} | {SOURCES.get(name, m['source'])} |")
    notes = [
        "",
        "How each column is computed:",
        "- weight MB / token: every matrix once, as the core's 64-bit input stream carries it "
        "(golden/bfp_layout.py row_words x 8 per row; ternary: beats of 3 rows x 16 groups of 3 "
        "trits in 5-bit codes, padded to 4 words). Formats: the layer format with llama.cpp's "
        "fallback for rows not a multiple of 256 (Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, "
        "Q6_K -> Q8_0); recipes (q4_k_m, q3_k_s, q2_k, q2_k_s) per tensor as golden/quant_mix.py; "
        "the LM head by llama.cpp's output rule (Q8_0 in a Q8_0 file, else Q6_K, falling back to "
        "Q8_0); shipped = the SmolLM2 file as it is (Q4_1 layers, Q8_0 tied head); ternary = "
        "every layer on the ternary engine, the head in Q8_0 on the BFP engine.",
        f"- fits: the PYNQ-Z1 has {DDR_TOTAL_BYTES // 2 ** 20} MiB of DDR in all, shared with "
        "Linux. The core reads weights by DMA, so every matrix must sit in a pynq.allocate "
        "buffer, i.e. in the CMA region (whole pages, one buffer per input stream, plus one "
        "activation and one result buffer). PYNQ's kernel reserves "
        f"{CMA_DEFAULT_BYTES // 2 ** 20} MiB of CMA ({SOURCES['cma']}). \"with cma=NNNM\": boot "
        f"with a CMA region of at least NNN MiB ({SOURCES['cma_arg']}). Host memory: the "
        "float32 KV cache at the stated context, float32 norms, an untied embedding in its file "
        "format (a tied one is read from the LM head's buffer), scratch. \"left\" = 512 MiB - "
        "CMA - host: what Linux, PYNQ's Ubuntu, Jupyter and the Python runtime get. No measured "
        "figure for PYNQ's own footprint was found (measure `free -m` on the board); \"no\" "
        "means less than the Linux kernel alone keeps on a 512 MB "
        f"Zynq-7000 ({KERNEL_FLOOR_BYTES // 1024:,} KiB: {SOURCES['kernel']}).",
        "- accel tok/s: min(clock / cycles per token from the cycle model (llmaccel/perf/"
        "cycle_model.py top_cycles; it includes the engine's input stream), the stream bound "
        "(streams x 8 B x clock / input-stream bytes), the DDR bound (2.1 GB/s / the bytes the "
        f"DMAs move: weights, activation rows, results)). Clock {clock / 1e6:.0f} MHz: FCLK_CLK0 "
        f"of constraints/build_bd.tcl, not timing-closed. DDR {ddr / 1e9:.1f} GB/s: the PYNQ-Z1's "
        f"peak ({SOURCES['board']}).",
        "- host ms / token: the host's part (RMSNorm x2 per layer, RoPE on q and k, scores, "
        "softmax and the weighted sum over the KV cache, SiLU x up (BitNet 2B4T: squared ReLU, "
        "and its two extra sub-norms), residual adds, quantizing each projection's input to its "
        "activation format (ternary: int8 absmax, and scaling the int32 results), embedding row, "
        "final norm, argmax over the vocabulary) counted in NEON lane-operations, at "
        f"{NEON_LANE_OPS_PER_CYCLE} per cycle on {HOST_CORES_USED} Cortex-A9 core at "
        f"{CPU_HZ / 1e6:.0f} MHz ({SOURCES['neon']}), or its KV-cache and norm bytes at the DDR "
        "peak, whichever is longer: a lower bound (peak rates, no Python, driver or DMA set-up "
        "time). Today's host code (golden/smollm2.py forward, host/driver.py) runs in one thread "
        "and blocks on each transfer: the second core is idle and host work does not overlap the "
        "accelerator.",
        "- end-to-end tok/s = 1 / (accelerator + host time per token), today's blocking driver; "
        "overlapped tok/s = 1 / max(accelerator, host): what a driver overlapping host work with "
        "the accelerator could reach (host/driver.py does not). accel / DDR and e2e / DDR: those "
        "tokens/s over the DDR bound.",
        "- Not counted: today's PYNQ back end (host/pynq_backend.py) allocates a CMA buffer for "
        "every transfer and copies the stream into it, i.e. every weight byte is read and written "
        f"once more by the CPU per token ({rc['model']} {rc['weights']}: "
        f"{1e3 * rc['copy_s_today']:.0f} ms per token at the DDR's peak); the figures assume "
        "weights allocated once and kept in CMA (and the simulation flows' float32 copies of "
        "every weight, e.g. llmaccel generate's, would not fit the board).",
    ]
    for s, c in mismatch:
        notes.append(f"- With {s} streams the accelerator cycles come from a {c}-stream cycle "
                     "model: the stream bound moves, the cycle count does not.")
    return "\n".join(lines + notes) + "\n"


HEADLINE = (("SmolLM2-135M", "shipped"), ("TinyLlama-1.1B", "q3_k_s"),
            ("TinyLlama-1.1B", "q2_K"), ("BitNet-b1.58-0.7B", "ternary"),
            ("BitNet-b1.58-2B4T", "ternary"))


def best_weights(results, model: str) -> dict | None:
    """The fastest end-to-end row of `model` that fits, not counting ternary what-ifs."""
    rows = [r for r in results if r["model"] == model and r["fit"]["fits"]
            and not (r["weights"] == "ternary" and not _model(model)["ternary_trained"])]
    return max(rows, key=lambda r: r["e2e_tokens_per_s"]) if rows else None


def _layer_formats(r: dict) -> str:
    fmts = list(dict.fromkeys(p["fmt"] for p in r["projections"] if p["name"] != "lm_head"))
    head = next(p["fmt"] for p in r["projections"] if p["name"] == "lm_head")
    return f"layers in {', '.join(fmts)}, LM head {head}"


def headline_lines(results) -> list[str]:
    """Summary bullets for reports/bench.md."""
    by = {(r["model"], r["weights"]): r for r in results}
    out = []

    def one(r, what):
        f = r["fit"]
        if not f["fits"]:
            fit = f"does not fit ({f['total_bytes'] / 1e6:.0f} MB of DDR needed)"
        else:
            how = "in the default CMA" if f["verdict"] == "yes" else f["verdict"]
            fit = (f"fits {how} ({f['total_bytes'] / 1e6:.0f} MB of DDR), leaving "
                   f"{f['left_bytes'] / 1e6:.0f} MB for Linux, PYNQ and Python")
        extra = "".join(f"; {SHORT_NOTE[k]}" for k in dict.fromkeys(n["kind"] for n in r["notes"]))
        bound = {"cycle model": "the cycle model", "stream": "the input stream"}.get(r["bound"],
                                                                                 r["bound"])
        return (f"{what}: accelerator {r['accel_tokens_per_s']:.2f} tok/s (bound by {bound}, "
                f"{100 * r['accel_fraction_of_ddr']:.0f}% of the DDR bound "
                f"{r['ddr_tokens_per_s']:.1f}), host {1e3 * r['host_s_per_token']:.0f} ms/token, "
                f"end to end **{r['e2e_tokens_per_s']:.2f} tok/s** "
                f"({100 * r['e2e_fraction_of_ddr']:.0f}% of the DDR bound); {fit}{extra}")
    r = by.get(("SmolLM2-135M", "shipped"))
    if r:
        out.append("- " + one(r, "SmolLM2-135M as shipped (Q4_1)"))
    b = best_weights(results, "SmolLM2-135M")
    if b and b is not r:
        out.append("- " + one(b, f"SmolLM2-135M at its fastest that fits ({b['weights']}: "
                              f"{_layer_formats(b)})"))
    t = by.get(("TinyLlama-1.1B", "q3_k_s"))
    if t:
        out.append("- " + one(t, "TinyLlama-1.1B in q3_k_s (SECDA-LLM's Q3_K)")
                   + f": {t['e2e_s_per_token']:.2f} s/token against SECDA-LLM's measured "
                   f"{PUBLISHED[0]['s_per_token']} s/token")
    tb = best_weights(results, "TinyLlama-1.1B")
    if tb:
        out.append("- " + one(tb, f"TinyLlama-1.1B at its fastest that fits ({tb['weights']}: "
                              f"{_layer_formats(tb)})"))
    for name in ("BitNet-b1.58-0.7B", "BitNet-b1.58-2B4T"):
        r = by.get((name, "ternary"))
        if r:
            out.append("- " + one(r, f"{name} (ternary)"))
    return out


def run_projection(out_dir: Path, cycles_fn=None, clock_hz: float = CLOCK_HZ,
                   peaks: dict | None = None, *, streams: int = DEFAULT_STREAMS,
                   context: int = CONTEXT, cycles_streams: int | None = None,
                   compare_streams=(1, 3)) -> dict:
    """Every model x its weights at `streams`; the headline rows again at each count in
    `compare_streams`; writes out_dir/roofline.png (each point at its intensity and the
    accelerator's MAC/s). Returns {"results", "comparison", "markdown", "headline",
    "roofline"} (the PNG's name, relative to out_dir); reports/bench.md is assembled by the
    caller."""
    out_dir = Path(out_dir)
    memo = {}
    kw = {"streams": streams, "context": context, "cycles_streams": cycles_streams, "memo": memo}
    results = [token_projection(name, w, cycles_fn, clock_hz, **kw)
               for name in MODELS for w in model_weights(name)]
    comparison = []
    for s in compare_streams:
        if s == streams:
            continue
        for name, w in HEADLINE:
            comparison.append(token_projection(name, w, cycles_fn, clock_hz,
                                               **dict(kw, streams=s)))
    points = [{"label": f"{r['model']} {r['weights']}", "group": r["model"],
               "engine": r["engine"], "intensity": r["intensity"], "mac_per_s": r["mac_per_s"]}
              for r in results]
    plot_roofline(points, out_dir / "roofline.png", peaks, clock_hz,
                  stream_counts=tuple(sorted({streams, *compare_streams})))
    return {"results": results, "comparison": comparison,
            "markdown": projection_markdown(results, comparison),
            "headline": headline_lines(results), "roofline": "roofline.png"}
