"""`make bench`'s stream-count table: the core with 1, 2, 3 and 4 64-bit input streams at M = 1
(decode), every BFP format and the ternary engine, on SmolLM2-135M's and TinyLlama-1.1B's
projection shapes, through the host driver on the fast back end (the Verilated core), every result
checked against the golden model. Per run: cycles (the CYCLES registers of the driver's runs),
MAC/cycle against the input-stream bound, and the cycle model's cycles beside them.

The input-stream bound of a run: its input words (X's row and W's rows as golden/bfp_layout.py
and golden/top_layout.py stream them) arriving `streams` words a cycle, each weight one MAC at
M = 1: MAC/cycle <= N K streams / input words. Beside it, the format's own bound streams x 64 /
bits per weight (what llama.cpp's bytes would allow if the stream carried nothing else).

    PATH=<verilator bin>:$PATH .venv/bin/python -m llmaccel.flows.bench_streams [-o reports/bench]
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from llmaccel.golden import formats
from llmaccel.golden.bfp_layout import ACTIVATION, FORMATS, k_refusal, row_words
from llmaccel.golden.ternary import matmul as ternary_matmul
from llmaccel.golden.top_layout import act_beat_bits, beat_words, weight_beat_bits
from llmaccel.host.driver import Accelerator
from llmaccel.perf.cycle_model import STREAM_CONFIGS, model_params, top_cycles
from llmaccel.perf.projection import matmul_plan, projections
from llmaccel.testbench.backend_calls import random_ternary
from llmaccel.testbench.fast_build import open_fast
from llmaccel.testbench.job import bit_exact

SEED = 1
# The runs a decode token makes, per model (name, N, K): its layer's matmuls as host/model.py runs
# them, q, k, v stacked into one and gate, up into one (llmaccel/perf/projection.matmul_plan; one of
# each per layer, the LM head left out: a long run, near the bound at any stream count).
MODELS = ("SmolLM2-135M", "TinyLlama-1.1B")
MODEL_SHAPES = {model: [(p["name"].replace(",", ", "), p["n"], p["k"])
                        for p in matmul_plan(model, "q8_0") if p["name"] != "lm_head"]
                for model in MODELS}
# Not run by the model (k and v are stacked into q, k, v): the smallest projections alone, for a
# user who runs them so; in the table, not in its "lowest".
ALONE_SHAPES = {model: [("k, v alone", p["n"], p["k"]) for p in projections(model)
                        if p["name"] == "k"] for model in MODELS}
# The cores measured, by the label of their row: one per stream count (STREAM_CONFIGS; 3 is the
# default core).
BENCH_CONFIGS = {count: STREAM_CONFIGS[count] for count in (1, 2, 3, 4)}


def runnable(fmt: str, k: int, k_max: int = 4096) -> bool:
    """The core takes K of `fmt` (a multiple of its block; Q3_K..Q6_K within K_MAX)."""
    return k % formats.get(fmt).block == 0 and k_refusal(fmt, k, k_max) is None


def input_words(engine: str, fmt: str, n: int, k: int, top: dict) -> int:
    """64-bit input words of one M = 1 run (all streams together; the driver's K split ignored)."""
    if engine == "bfp":
        return row_words(k // 32, ACTIVATION[fmt]) + n * row_words(k // 32, fmt)
    t = model_params("ternary", top)
    g, lanes, rows = t["g"], t["lanes"], t["rows"]
    passes = -(-k // (lanes * g))
    return passes * (beat_words(act_beat_bits(g, lanes))
                     + -(-n // rows) * beat_words(weight_beat_bits(g, lanes, rows)))


def bounds(engine: str, fmt: str, n: int, k: int, top: dict) -> tuple[float, float]:
    """(input-stream bound, format bound) in MAC/cycle at M = 1."""
    s = model_params(engine, top)["streams"]
    stream = n * k * s / input_words(engine, fmt, n, k, top)
    if engine == "bfp":
        return stream, s * 64 / formats.get(fmt).bits_per_weight
    g = model_params("ternary", top)["g"]
    return stream, s * 64 / (((3 ** g - 1).bit_length()) / g)   # dense base-3 codes


def make_data(model_shapes=None, fmts=None, k_max: int | None = None) -> dict:
    """Seeded weights and activations for every (format, N, K) a core of STREAM_CONFIGS takes
    (K_MAX `k_max`, by default the largest of them), shared by the stream counts."""
    k_max = k_max or max(model_params("bfp", c)["k_max"] for c in BENCH_CONFIGS.values())
    data = {}
    everything = model_shapes or {m: MODEL_SHAPES[m] + ALONE_SHAPES[m] for m in MODELS}
    for model, shapes in everything.items():
        for _, n, k in shapes:
            for fmt in fmts or FORMATS:
                if not runnable(fmt, k, k_max) or (fmt, n, k) in data:
                    continue
                rng = np.random.default_rng([SEED, n, k, FORMATS[fmt]])
                w = formats.quantize_weights(rng.standard_normal((n, k)).astype(np.float32), fmt)
                x = formats.quantize_activations(rng.standard_normal((1, k)).astype(np.float32),
                                                 fmt)
                data[(fmt, n, k)] = (w, x, formats.matmul(w, x, fmt))
            if ("ternary", n, k) not in data:
                rng = np.random.default_rng([SEED, n, k])
                x, w = random_ternary(rng, 1, n, k, sparsity=0.3)
                data[("ternary", n, k)] = (w, x, ternary_matmul(x, w))
    return data


def measure(streams, data: dict, top: dict | None = None) -> tuple[list[dict], dict]:
    """Every run of `data` on the core labelled `streams` (BENCH_CONFIGS): records, and the
    build and simulation seconds."""
    top = top or BENCH_CONFIGS[streams]
    t0 = time.perf_counter()
    acc = Accelerator(open_fast(top))
    t1 = time.perf_counter()
    k_max = model_params("bfp", top)["k_max"]
    out = []
    for (fmt, n, k), (w, x, want) in data.items():
        engine = "ternary" if fmt == "ternary" else "bfp"
        if engine == "bfp" and not runnable(fmt, k, k_max):
            continue                      # refused by this core (the table says so)
        first = len(acc.runs)
        y = acc.matmul_ternary(w, x) if engine == "ternary" else acc.matmul(w, x, fmt)
        ok = np.array_equal(y, want) if engine == "ternary" else bit_exact(y, want)
        if not ok:
            raise RuntimeError(f"{fmt} N = {n} K = {k} on {streams} streams differs from the "
                               "golden model")
        cycles = sum(r.cycles for r in acc.runs[first:])
        stream, own = bounds(engine, fmt, n, k, top)
        achieved = n * k / cycles
        out.append({"streams": streams, "engine": engine, "format": fmt, "n": n, "k": k,
                    "runs": len(acc.runs) - first, "cycles": cycles,
                    "model": top_cycles(engine, 1, n, k, model_params(engine, top),
                                        fmt if engine == "bfp" else "q8_0"),
                    "mac_per_cycle": round(achieved, 2), "stream_bound": round(stream, 2),
                    "pct_of_stream_bound": round(100 * achieved / stream, 1),
                    "format_bound": round(own, 2),
                    "pct_of_format_bound": round(100 * achieved / own, 1)})
    return out, {"build_seconds": round(t1 - t0, 1),
                 "simulation_seconds": round(time.perf_counter() - t1, 1)}


def layer_figures(records: list[dict], model_shapes=None) -> list[dict]:
    """Per stream count, format and model: one layer's runs together (its seven projections in
    four matmuls: MACs over cycles, against the same sum of input words)."""
    by = {(r["streams"], r["format"], r["n"], r["k"]): r for r in records}
    out = []
    for (s, fmt) in dict.fromkeys((r["streams"], r["format"]) for r in records):
        for model, shapes in (model_shapes or MODEL_SHAPES).items():
            rows = [by.get((s, fmt, n, k)) for _, n, k in shapes]
            if any(r is None for r in rows):
                continue
            macs = sum(r["n"] * r["k"] for r in rows)
            cycles = sum(r["cycles"] for r in rows)
            words = sum(r["n"] * r["k"] / r["stream_bound"] for r in rows)
            out.append({"streams": s, "format": fmt, "model": model,
                        "mac_per_cycle": round(macs / cycles, 2),
                        "pct_of_stream_bound": round(100 * words / cycles, 1)})
    return out


def table(records: list[dict], layers: list[dict], model_shapes=None, alone=None) -> str:
    """The markdown table: one row per stream count and format, a column per shape the model
    runs (MAC/cycle and % of the input-stream bound), then each model's layer, the lowest % of
    those, and the shapes run alone (`alone`, not in the lowest)."""
    model_shapes = model_shapes or MODEL_SHAPES
    alone = ALONE_SHAPES if alone is None else alone
    shapes = [(model, name, n, k) for model, sh in model_shapes.items() for name, n, k in sh]
    extra = [(model, name, n, k) for model, sh in alone.items() for name, n, k in sh]
    head = ["streams", "format", "stream bound (MAC/c, long rows)"]
    head += [f"{m.split('-')[0]} {name} {n} x {k}" for m, name, n, k in shapes]
    head += [f"{m.split('-')[0]} layer" for m in model_shapes] + ["lowest"]
    head += [f"{m.split('-')[0]} {name} {n} x {k}" for m, name, n, k in extra]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by = {(r["streams"], r["format"], r["n"], r["k"]): r for r in records}
    lay = {(r["streams"], r["format"], r["model"]): r for r in layers}
    for (s, fmt) in dict.fromkeys((r["streams"], r["format"]) for r in records):
        def cell(n, k):
            r = by.get((s, fmt, n, k))
            if r is None:
                return ("refused" if fmt != "ternary" and k % formats.get(fmt).block == 0
                        else "n/a"), None
            return f"{r['mac_per_cycle']} ({r['pct_of_stream_bound']}%)", r["pct_of_stream_bound"]

        cells = [cell(n, k) for _, _, n, k in shapes]
        pcts = [pct for _, pct in cells if pct is not None]
        cells = [text for text, _ in cells]
        for model in model_shapes:
            r = lay.get((s, fmt, model))
            cells.append(f"{r['mac_per_cycle']} ({r['pct_of_stream_bound']}%)" if r else "")
        cells.append(f"{min(pcts)}%" if pcts else "")
        cells += [cell(n, k)[0] for _, _, n, k in extra]
        longest = max((r for r in records if r["streams"] == s and r["format"] == fmt),
                      key=lambda r: r["k"] * r["n"])
        lines.append(f"| {s} | {fmt} | {longest['stream_bound']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


NOTE = """
M = 1 (decode), seeded random weights (llama.cpp's `_ref` quantizers for the BFP formats, trits
for ternary), every result checked against the golden model (BFP bit for bit). Cycles: the sum of
the CYCLES registers of the driver's runs (a K above the core's K_MAX runs in parts; Q3_K..Q6_K's
K cannot be split: "refused"). Each cell: MAC/cycle (% of the input-stream bound: the run's input
words, X and W as the core takes them, arriving one word per stream per cycle). The shapes are the
runs a decode token makes: host/model.py stacks the matrices of a layer that share an input (q, k
and v; gate and up) into one run, as a fused QKV does, so the smallest runs are SmolLM2's o and
down. "layer": the layer's four runs together; "lowest": the lowest % of the model's runs. The
"k, v alone" columns: those projections run by themselves (the model never does), where the
pipeline's fill and drain and X's load on stream 0 alone weigh most. The configurations
(generators/top.py's parameters):
"""


def run_stream_bench(out: Path, counts=None, model_shapes=None, fmts=None) -> dict:
    data = make_data(model_shapes, fmts)
    records, timing = [], {}
    for s in counts or BENCH_CONFIGS:
        got, timing[s] = measure(s, data)
        records += got
        print(f"# {s}: {timing[s]}", flush=True)
    layers = layer_figures(records, model_shapes)
    text = table(records, layers, model_shapes, {} if model_shapes else None) + NOTE + "".join(
        f"- {s}: {json.dumps(BENCH_CONFIGS[s])}\n" for s in counts or BENCH_CONFIGS)
    off = [r for r in records if r["model"] != r["cycles"]]
    text += (f"\nThe cycle model (llmaccel/perf/cycle_model.py) gives {len(records) - len(off)} "
             f"of the {len(records)} runs' cycles exactly"
             + (f"; the largest difference: {max(abs(r['model'] - r['cycles']) for r in off)} "
                "cycles" if off else "") + ".\n")
    out.mkdir(parents=True, exist_ok=True)
    (out / "streams.json").write_text(json.dumps({"records": records, "layers": layers,
                                                  "timing": timing,
                                                  "configs": {str(k): v for k, v in
                                                              BENCH_CONFIGS.items()}},
                                                 indent=2) + "\n")
    (out / "streams.md").write_text("# Input streams: MAC/cycle at M = 1 against the bound\n\n"
                                    + text)
    print(text, end="")
    return {"records": records, "layers": layers, "markdown": text}


if __name__ == "__main__":
    out = Path(sys.argv[sys.argv.index("-o") + 1]) if "-o" in sys.argv else Path("reports/bench")
    run_stream_bench(out)
    sys.exit(0)
