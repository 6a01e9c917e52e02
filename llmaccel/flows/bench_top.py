"""`make bench` for the top-level core: the cycle model (llmaccel/perf/cycle_model.py: top_cycles) against
simulated cycles, projected decode tokens/s on the PYNQ-Z1 (llmaccel/perf/projection.py), the two
plots, and reports/bench.md, which a user reads without the code.

The simulated cycles come from the core's emitted Verilog under Verilator, driven by the host
driver (testbench/cocotb_top.py: run_shapes) on seeded random data, each result checked against
the golden model: SmolLM2-135M's layer runs at M = 1 (decode: its seven projections in four
runs, q, k, v stacked and gate, up stacked as host/model.py runs them) on both engines, and a few
at M = 8 (prefill-like) and beyond the buffers (split by the driver).
"""
import json
import time
from pathlib import Path

import numpy as np

from llmaccel.perf.cycle_model import TOP_DEFAULTS, top_cycles
from llmaccel.perf.projection import (CLOCK_HZ, matmul_plan, plot_projection_cycles,
                                      run_projection)
from llmaccel.host.driver import Accelerator
from llmaccel.host.fast_backend import FastBackend
from llmaccel.testbench import runner
from llmaccel.testbench.backend_calls import shape_runs
from llmaccel.testbench.fast_build import build_fast

# SmolLM2-135M's layer runs (N, K) as host/model.py makes them: {"q,k,v": (960, 576), "o": ...}
LAYER = {p["name"]: (p["n"], p["k"]) for p in matmul_plan("SmolLM2-135M", "q8_0")
         if p["name"] != "lm_head"}
EXTRA = [("bfp", 8, 576, 576), ("bfp", 8, 576, 1536), ("ternary", 8, 576, 576),
         ("ternary", 8, 1536, 576), ("ternary", 8, 576, 1536), ("bfp", 1, 2048, 5632),
         ("ternary", 1, 2048, 5632)]


def shapes() -> list[tuple]:
    """Each distinct shape once."""
    layer = [(engine, 1, n, k) for engine in ("bfp", "ternary") for n, k in LAYER.values()]
    return list(dict.fromkeys(layer + EXTRA))


def simulate(shape_list, sim="verilator") -> tuple[list[dict], float, float]:
    """(records, build seconds, simulation seconds)."""
    b = runner.build("top", {}, sim)
    t0 = time.perf_counter()
    result = runner.run(b, "llmaccel.testbench.cocotb_top", "run_shapes", seed=1, params={},
                        tag="bench", env={"LLMACCEL_SHAPES": json.dumps(shape_list)})
    if not result.ok or len(result.results) != len(shape_list):
        raise RuntimeError(f"the top bench failed: see {result.log}\n"
                           + runner.failure_excerpt(result))
    return result.results, b.seconds, time.perf_counter() - t0


class _TimedBackend:
    """The fast back end with the seconds spent inside its calls (the simulation itself, without
    the golden checks and the driver's packing around them)."""

    def __init__(self, backend: FastBackend):
        self.backend, self.seconds = backend, 0.0

    def _timed(self, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.seconds += time.perf_counter() - t0

    def read32(self, offset):
        return self._timed(self.backend.read32, offset)

    def write32(self, offset, value):
        return self._timed(self.backend.write32, offset, value)

    def stream(self, data, out_bytes):
        return self._timed(self.backend.stream, data, out_bytes)


def simulate_fast(shape_list) -> tuple[list[dict], float, float, dict]:
    """The same shapes, seed and data on the fast back end: (records, build s, simulation s,
    {engine: (clock cycles, seconds inside the back end's calls)})."""
    build = build_fast()
    backend = FastBackend(build.library)
    backend.reset()
    timed = _TimedBackend(backend)
    acc = Accelerator(timed)
    inside = {}
    records = []
    t0 = time.perf_counter()
    rng = np.random.default_rng(1)   # one shape at a time, the data of shape_runs(..., seed=1)
    for shape in shape_list:
        c0, s0 = backend.cycle, timed.seconds
        records += shape_runs(acc, [shape], rng=rng)
        cycles, seconds = inside.get(shape[0], (0, 0.0))
        inside[shape[0]] = (cycles + backend.cycle - c0, seconds + timed.seconds - s0)
    return records, build.seconds, time.perf_counter() - t0, inside


def model_table(records) -> tuple[str, float]:
    lines = ["| engine | M | N | K | core runs | simulated cycles | model cycles | error % "
             "| MAC/cycle |", "|---|---|---|---|---|---|---|---|---|"]
    worst = 0.0
    for r in records:
        model = top_cycles(r["engine"], r["m"], r["n"], r["k"])
        err = 100.0 * (model - r["cycles"]) / r["cycles"]
        worst = max(worst, abs(err))
        lines.append(f"| {r['engine']} | {r['m']} | {r['n']} | {r['k']} | {r['runs']} | "
                     f"{r['cycles']:,} | {model:,} | {err:+.2f} | "
                     f"{r['m'] * r['n'] * r['k'] / r['cycles']:.2f} |")
    return "\n".join(lines) + "\n", worst


def _core_text() -> str:
    """The default core's geometry in words, from its parameters."""
    b, t = TOP_DEFAULTS["bfp"], TOP_DEFAULTS["ternary"]
    return (f"{b['streams']} 64-bit AXI4-Stream inputs, one output; the BFP engine with "
            f"{b['mac_lanes']} MAC lanes x {b['out_lanes']} output lanes, the ternary engine "
            f"with {t['lanes']} lanes x {t['g']} trits x {t['rows']} rows")


def run_top_bench(out_dir: Path, sim: str = "verilator") -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shape_list = shapes()
    records, build_s, sim_s = simulate(shape_list, sim)
    fast_records, fast_build_s, fast_s, inside = simulate_fast(shape_list)
    all_inside = (sum(c for c, _ in inside.values()), sum(t for _, t in inside.values()))
    if fast_records != records:
        raise RuntimeError("the fast back end's CYCLES differ from the cocotb back end's: "
                           f"{fast_records} != {records}")
    table, worst = model_table(records)
    by_shape = {(r["engine"], r["m"], r["n"], r["k"]): r["cycles"] for r in records}
    rows = [{"projection": name, "engine": engine, "simulated": by_shape[(engine, 1, n, k)],
             "model": top_cycles(engine, 1, n, k)}
            for engine in ("bfp", "ternary") for name, (n, k) in LAYER.items()]
    plot_projection_cycles(rows, out_dir / "projection_cycles.png")
    proj = run_projection(out_dir)
    layer_cycles = {e: sum(r["simulated"] for r in rows if r["engine"] == e)
                    for e in ("bfp", "ternary")}
    cycles_total = sum(r["cycles"] for r in records)
    text = "\n".join([
        "# llmaccel on the PYNQ-Z1: cycles, model and projected decode speed",
        "",
        "Written by `make bench` (llmaccel/flows/bench_top.py). Everything here is for the default "
        f"`top` core (generators/top.py: {_core_text()}) "
        f"at an assumed {CLOCK_HZ / 1e6:.0f} MHz.",
        "",
        "## Summary",
        "",
        f"- One SmolLM2-135M layer, one decode token (M = 1), all seven projections (in four "
        "runs: q, k, v stacked, o, gate and up stacked, down): "
        f"**{layer_cycles['bfp']:,} cycles on the BFP engine (Q8_0)**, "
        f"**{layer_cycles['ternary']:,} on the ternary engine** (simulated; "
        f"{layer_cycles['bfp'] / CLOCK_HZ * 1e3:.2f} ms and "
        f"{layer_cycles['ternary'] / CLOCK_HZ * 1e3:.2f} ms at 100 MHz).",
        ("- The cycle model matches the simulation exactly, to the cycle, on all "
         f"{len(records)} shapes below." if worst == 0 else
         f"- The cycle model matches the simulation within {worst:.2f}% (the worst of the "
         f"{len(records)} shapes below)."),
        "- Projected decode on the PYNQ-Z1, end to end (accelerator + host, today's blocking "
        "driver; details and sources in the projection section below):",
        *("  " + line for line in proj["headline"]),
        "",
        "## Cycle model against simulation",
        "",
        "llmaccel/perf/cycle_model.py `top_cycles` walks each engine's phases (input stream, table "
        "builds, compute, results) and takes the bound that holds at each step; the constants "
        "are the engines' fixed pipeline latencies. Simulated: the CYCLES registers of the "
        "core's runs (the driver splits shapes beyond the buffers into several runs and sums "
        "them), Verilator, unstalled streams, seeded random data, every result checked "
        "against the golden model.",
        "",
        table,
        "## Simulation speed: the two back ends, side by side",
        "",
        "The same shapes, seed and data through the host driver on both simulation back ends "
        "(one run each, this machine, one core each; the golden checks and the driver's "
        "packing included). Their CYCLES are identical shape by shape (checked here).",
        "",
        "| back end | simulated cycles | seconds | cycles/s | build s (0 when reused) |",
        "|---|---|---|---|---|",
        f"| cocotb (cocotbext-axi, Verilator) | {cycles_total:,} | {sim_s:.1f} | "
        f"{cycles_total / sim_s:,.0f} | {build_s:.0f} |",
        f"| fast (C++ bus models, Verilator) | {cycles_total:,} | {fast_s:.1f} | "
        f"{cycles_total / fast_s:,.0f} | {fast_build_s:.0f} |",
        "",
        f"The fast back end is {sim_s / fast_s:.1f}x faster here, golden checks and packing "
        "included. The simulation alone (the seconds inside the fast back end's calls, the "
        "core's clock cycles they simulated, register accesses included):",
        "",
        "| shapes | clock cycles | seconds | cycles/s |",
        "|---|---|---|---|",
        *[f"| {label} | {c:,} | {t:.2f} | **{c / t:,.0f}** |" for label, (c, t) in
          [*((f"{e} engine", inside[e]) for e in ("bfp", "ternary")), ("all", all_inside)]],
        "",
        "The idle engine is left unevaluated while it provably cannot change (host/fastsim.cpp): "
        "a ternary run costs little more than the glue, a BFP run is the BFP engine's own cost.",
        "",
        "## Cycles per projection",
        "",
        "![cycles per projection](projection_cycles.png)",
        "",
        "SmolLM2-135M layer 0's projections at M = 1, simulated (bars) and modelled. "
        "`make sim` runs the same projections on real weights and activations and checks "
        "every result bit for bit (reports/sim.md).",
        "",
        "## Projected decode speed on the PYNQ-Z1",
        "",
        proj["markdown"].rstrip(),
        "",
        "![roofline](roofline.png)",
        "",
        "## Other reports",
        "",
        "- reports/bench/streams.md: the core with 1, 2, 3 and 4 input streams at M = 1, every "
        "BFP format and the ternary engine on SmolLM2-135M's and TinyLlama-1.1B's shapes: "
        "MAC/cycle against the input-stream bound (written after this page by the same "
        "`make bench`).",
        "- reports/generate.md: SmolLM2-135M generating text through the core (`make sim`).",
        "- reports/synth/fit.md: area of the core against the XC7Z020 and what limits scaling "
        "(`make synth`).",
        "- reports/bench/: per-block benches (the engines alone: lanes sweeps, area, simulator "
        "speed).",
        "",
    ])
    (out_dir / "bench.md").write_text(text)
    (out_dir / "bench.json").write_text(json.dumps({
        "cocotb_cycles_per_second": cycles_total / sim_s,
        "fast_cycles_per_second": cycles_total / fast_s,
        "fast_simulation_cycles_per_second": {
            **{e: c / t for e, (c, t) in inside.items()}, "all": all_inside[0] / all_inside[1]},
        "shapes": records, "model_worst_error_pct": worst, "layer_cycles": layer_cycles,
        "projection": proj["results"]}, indent=2) + "\n")
    print(text)
    return {"records": records, "worst": worst, "layer_cycles": layer_cycles}
