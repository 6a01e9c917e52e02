"""Projected decode throughput (tokens/s) of the llmaccel engines on the PYNQ-Z1: pure arithmetic
over published model shapes and an analytical cycle model, no simulation.

For one decode token (M = 1) every linear projection streams its whole weight matrix once (the
weights do not fit on chip), so tokens/s = min(compute bound, DDR bound) as in shared/design.md
("Metrics"): the compute bound is clock / cycles per token from the cycle model (which includes the
engine's own 64-bit input stream), the DDR bound is 2.1 GB/s / weight bytes per token. Attention
scores, softmax, norms and the KV cache run on the host's Cortex-A9 and are not counted, so these
are upper bounds for the projections alone.

Two scenarios ("engines"):
- "bfp": every projection, LM head included, as llama.cpp Q8_0 weights and activations.
- "ternary": every layer projection with ternary weights; the LM head stays on the bfp engine in
  Q8_0, as BitNet b1.58 keeps its embedding / output head at higher precision than its layers.
  For SmolLM2 and TinyLlama (not trained ternary) this is a what-if on their shapes only.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")            # files only, no display; set before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402

from llmaccel.golden.ternary_layout import code_bits  # noqa: E402
from llmaccel.perf.cycle_model import bfp_row_words  # noqa: E402

ENGINES = ("bfp", "ternary")
CLOCK_HZ = 100e6        # FCLK_CLK0 in constraints/build_bd.tcl (not timing-closed)
DDR_BYTES_PER_S = 2.1e9  # PYNQ-Z1: 16-bit DDR3 at 1050 MT/s, peak
STREAM_BYTES_PER_CYCLE = 8  # one 64-bit AXI4-Stream word per cycle into the accelerator
# Peak MAC/cycle of each engine at its default parameters: bfp mac_lanes 8 x out_lanes 4
# (BfpCore.peak_macs_per_cycle); ternary lanes 16 x g 3 x rows 3 (one beat per cycle).
PEAK_MAC_PER_CYCLE = {"bfp": 8 * 4, "ternary": 16 * 3 * 3}

# Published configurations (the models' config.json on their Hugging Face model cards):
#   HuggingFaceTB/SmolLM2-135M, TinyLlama/TinyLlama-1.1B-Chat-v1.0,
#   microsoft/bitnet-b1.58-2B-4T.
MODELS = {
    "SmolLM2-135M": {
        "name": "SmolLM2-135M", "source": "HuggingFaceTB/SmolLM2-135M",
        "layers": 30, "hidden": 576, "ffn": 1536, "heads": 9, "kv_heads": 3, "head_dim": 64,
        "vocab": 49152, "tied_embeddings": True},
    "TinyLlama-1.1B": {
        "name": "TinyLlama-1.1B", "source": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        "layers": 22, "hidden": 2048, "ffn": 5632, "heads": 32, "kv_heads": 4, "head_dim": 64,
        "vocab": 32000, "tied_embeddings": False},
    "BitNet-b1.58-2B4T": {
        "name": "BitNet-b1.58-2B4T", "source": "microsoft/bitnet-b1.58-2B-4T",
        "layers": 30, "hidden": 2560, "ffn": 6912, "heads": 20, "kv_heads": 5, "head_dim": 128,
        "vocab": 128256, "tied_embeddings": True},
}

# Published measurement to compare against (cited in the report table).
PUBLISHED = [{
    "work": "SECDA-LLM",
    "citation": ("Haris et al., 2024, \"SECDA-LLM: Designing Efficient LLM Accelerators for "
                 "Edge Devices\""),
    "model": "TinyLlama-1.1B", "board": "PYNQ-Z1",
    "s_per_token": 1.7, "tokens_per_s": 1 / 1.7,
}]


def _model(model) -> dict:
    """A model description from its name in MODELS, or a description given as a dict."""
    if isinstance(model, dict):
        return model
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}: choose from {', '.join(MODELS)}")
    return MODELS[model]


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose 'bfp' or 'ternary'")


def projections(model) -> list[dict]:
    """The linear projections of one decode token: per layer q, k, v, o, gate, up, down (count =
    layers), then the LM head once (count = 1; tied or not, it is one [vocab, hidden] matrix)."""
    m = _model(model)
    h, f = m["hidden"], m["ffn"]
    kv = m["kv_heads"] * m["head_dim"]
    per_layer = [("q", h, h), ("k", kv, h), ("v", kv, h), ("o", h, h),
                 ("gate", f, h), ("up", f, h), ("down", h, f)]
    rows = [{"name": name, "n": n, "k": k, "count": m["layers"]} for name, n, k in per_layer]
    rows.append({"name": "lm_head", "n": m["vocab"], "k": h, "count": 1})
    return rows


def weight_bytes(engine: str, n: int, k: int, g: int = 3, lanes: int = 16,
                 rows: int = 3) -> int:
    """Bytes of one [N, K] weight matrix as the accelerator's 64-bit input stream carries it.

    bfp (Q8_0): N rows of ceil(B/4) + 4 B words, B = K / 32. ternary: ceil(K / (lanes g)) x
    ceil(N / rows) beats of rows x lanes base-3 codes of code_bits(g) bits, each beat padded to
    whole 64-bit words (4 words at the defaults: 240 bits used of 256)."""
    _check_engine(engine)
    if n <= 0 or k <= 0:
        raise ValueError(f"need N, K >= 1: {n=} {k=}")
    if engine == "bfp":
        if k % 32:
            raise ValueError(f"Q8_0 needs K a multiple of 32, not {k}")
        return 8 * n * bfp_row_words(k)
    words_per_beat = -(-rows * lanes * code_bits(g) // 64)
    beats = -(-k // (lanes * g)) * -(-n // rows)
    return 8 * words_per_beat * beats


def token_projection(model, engine: str, cycles_fn=None, clock_hz: float = CLOCK_HZ,
                     ddr_bytes_per_s: float = DDR_BYTES_PER_S) -> dict:
    """Cycles, weight bytes and tokens/s of one decode token of `model` in scenario `engine`.

    `cycles_fn(engine, m, n, k) -> int` gives one matmul's cycles (default:
    llmaccel.perf.cycle_model.top_cycles, imported here so this module loads without it); K or N past
    an engine's on-chip limit is its business. In the ternary scenario the LM head runs on bfp."""
    m = _model(model)
    _check_engine(engine)
    if cycles_fn is None:
        from llmaccel.perf.cycle_model import top_cycles
        cycles_fn = top_cycles
    per = []
    for p in projections(m):
        eng = "bfp" if p["name"] == "lm_head" else engine
        each = cycles_fn(eng, 1, p["n"], p["k"])
        if not isinstance(each, int) or each <= 0:
            raise ValueError(f"cycles_fn gave {each!r} for {eng} N={p['n']} K={p['k']}: "
                             f"need a positive int")
        per.append(dict(p, engine=eng, macs=p["n"] * p["k"] * p["count"],
                        cycles=each * p["count"],
                        weight_bytes=weight_bytes(eng, p["n"], p["k"]) * p["count"]))
    cycles = sum(p["cycles"] for p in per)
    nbytes = sum(p["weight_bytes"] for p in per)
    macs = sum(p["macs"] for p in per)
    compute = clock_hz / cycles
    ddr = ddr_bytes_per_s / nbytes
    tps = min(compute, ddr)
    return {"model": m["name"], "engine": engine, "projections": per,
            "clock_hz": clock_hz, "ddr_bytes_per_s": ddr_bytes_per_s,
            "macs": macs, "cycles": cycles, "weight_bytes": nbytes,
            "intensity": macs / nbytes,
            "compute_tokens_per_s": compute, "ddr_tokens_per_s": ddr,
            "tokens_per_s": tps, "s_per_token": 1 / tps,
            "bound": "DDR" if ddr < compute else "compute",
            "mac_per_s": macs * tps}


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
                  ddr_bytes_per_s: float = DDR_BYTES_PER_S) -> None:
    """Roofline of the PYNQ-Z1 to `path` (PNG): compute roofs (peak MAC/cycle x clock, per
    engine), the DDR roof and the accelerator's 64-bit input-stream roof, and `points` (dicts with
    label, intensity = MAC per weight byte, mac_per_s) as markers named in the legend."""
    peaks = PEAK_MAC_PER_CYCLE if peaks is None else peaks
    stream = STREAM_BYTES_PER_CYCLE * clock_hz
    xs = [p["intensity"] for p in points]
    lo = min([0.1, *xs]) / 2
    hi = max([100.0, *xs]) * 2
    with plt.style.context("default"):   # ignore any local matplotlibrc
        fig, ax = plt.subplots(figsize=FIGSIZE)
        top = max(peaks.values()) * clock_hz
        for name, bw in ((f"DDR {ddr_bytes_per_s / 1e9:.1f} GB/s", ddr_bytes_per_s),
                         (f"input stream 64 bit x {clock_hz / 1e6:.0f} MHz = "
                          f"{stream / 1e9:.1f} GB/s", stream)):
            ridge = min(max(top / bw, lo), hi)   # the diagonal stops at the highest roof
            ax.plot([lo, ridge, hi], [bw * lo, bw * ridge, bw * ridge], "--", label=name)
        for name, peak in sorted(peaks.items()):
            ax.plot([lo, hi], [peak * clock_hz] * 2, "-",
                    label=f"{name} peak {peak} MAC/cycle x {clock_hz / 1e6:.0f} MHz")
        # Points close together (e.g. every model on one engine) would hide each other's text:
        # each gets its own hollow marker and a legend entry instead.
        for i, p in enumerate(points):
            ax.plot(p["intensity"], p["mac_per_s"], MARKERS[i % len(MARKERS)], color="black",
                    fillstyle="none", markersize=9 - i % 4, label=p["label"])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xlabel("arithmetic intensity (MAC per weight byte streamed)")
        ax.set_ylabel("attainable MAC/s")
        ax.set_title("Roofline, PYNQ-Z1 (XC7Z020), decode M = 1")
        ax.grid(True, which="major", linewidth=0.3)
        ax.legend(fontsize=6.5, loc="lower right")
        fig.tight_layout()
        _save(fig, path)


LAYER_PROJECTIONS = ("q", "k", "v", "o", "gate", "up", "down")


def plot_projection_cycles(rows, path) -> None:
    """Grouped bars of one layer's seven projections to `path` (PNG): simulated cycles per engine
    as bars, the cycle model's as markers on them. `rows`: dicts with projection, engine,
    simulated and model (cycles; None where not available)."""
    engines = [e for e in ENGINES if any(r["engine"] == e for r in rows)]
    for r in rows:
        _check_engine(r["engine"])
        if r["projection"] not in LAYER_PROJECTIONS:
            raise ValueError(f"unknown projection {r['projection']!r}: choose from "
                             f"{', '.join(LAYER_PROJECTIONS)}")
    by = {(r["projection"], r["engine"]): r for r in rows}
    width = 0.8 / max(len(engines), 1)
    with plt.style.context("default"):
        fig, ax = plt.subplots(figsize=FIGSIZE)
        for j, eng in enumerate(engines):
            xs, sim, mx, model = [], [], [], []
            for i, proj in enumerate(LAYER_PROJECTIONS):
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
        ax.set_xticks(range(len(LAYER_PROJECTIONS)), LAYER_PROJECTIONS)
        ax.set_yscale("log")
        ax.set_xlabel("projection")
        ax.set_ylabel("cycles (M = 1)")
        ax.set_title("SmolLM2-135M layer 0, one decode token")
        ax.grid(True, axis="y", which="major", linewidth=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        _save(fig, path)


# ---- report -------------------------------------------------------------------------------------
def projection_markdown(results) -> str:
    """The projection section of reports/bench.md from token_projection results."""
    if not results:
        raise ValueError("no results to report")
    clock = results[0]["clock_hz"]
    ddr = results[0]["ddr_bytes_per_s"]
    lines = [
        "| model | engine | weight MB / token | Mcycles / token | compute-bound tok/s "
        "| DDR-bound tok/s | projected tok/s | s / token | bound |",
        "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['engine']} | {r['weight_bytes'] / 1e6:.1f} "
            f"| {r['cycles'] / 1e6:.2f} | {r['compute_tokens_per_s']:.2f} "
            f"| {r['ddr_tokens_per_s']:.2f} | {r['tokens_per_s']:.2f} "
            f"| {r['s_per_token']:.3f} | {r['bound']} |")
    for p in PUBLISHED:
        lines.append(f"| {p['model']} | {p['work']} ({p['citation']}), measured on the "
                     f"{p['board']} | | | | | {p['tokens_per_s']:.2f} | {p['s_per_token']:.1f} "
                     f"| published |")
    notes = [
        "",
        "Assumptions:",
        f"- Clock {clock / 1e6:.0f} MHz: the Zynq PS's FCLK_CLK0 in constraints/build_bd.tcl; "
        "not timing-closed.",
        f"- DDR {ddr / 1e9:.1f} GB/s: the PYNQ-Z1's peak (16-bit DDR3 at 1050 MT/s), shared with "
        "the host.",
        "- Decode, M = 1: every weight streams from DDR once per token (they do not fit on chip). "
        "Weight bytes are counted as the 64-bit input stream carries them: Q8_0 rows of "
        "ceil(B/4) + 4 B words (B = K/32); ternary beats of 3 rows x 16 groups of 3 trits "
        "(5-bit codes) padded to 4 words.",
        "- Compute bound = clock / cycles per token from the engines' cycle model "
        "(llmaccel/perf/cycle_model.py, input streams included); tokens/s = min(compute bound, DDR "
        "bound).",
        "- Only the linear projections (q, k, v, o, gate, up, down) and the LM head are counted: "
        "attention scores, softmax, norms and the KV cache run on the host's Cortex-A9 and are "
        "not counted, so these are upper bounds.",
        "- ternary: every layer projection with ternary weights; the LM head stays on the bfp "
        "engine in Q8_0, as BitNet b1.58 keeps its embedding and head at higher precision. For "
        "SmolLM2 and TinyLlama (not trained ternary) it is a what-if on their shapes.",
    ]
    return "\n".join(lines + notes) + "\n"


def run_projection(out_dir: Path, cycles_fn=None, clock_hz: float = CLOCK_HZ,
                   peaks: dict | None = None) -> dict:
    """Every model x engine; writes out_dir/roofline.png (each at its intensity and achieved
    MAC/s). Returns {"results", "markdown", "roofline"} (the PNG's name, relative to out_dir);
    reports/bench.md is assembled by the caller."""
    out_dir = Path(out_dir)
    results = [token_projection(name, eng, cycles_fn, clock_hz)
               for name in MODELS for eng in ENGINES]
    points = [{"label": f"{r['model']} {r['engine']}", "intensity": r["intensity"],
               "mac_per_s": r["mac_per_s"]} for r in results]
    plot_roofline(points, out_dir / "roofline.png", peaks, clock_hz)
    return {"results": results, "markdown": projection_markdown(results),
            "roofline": "roofline.png"}

