"""`llmaccel generate`: SmolLM2-135M answering a prompt, every matrix product of every layer and of
the LM head through the simulated core (or the golden models), greedy, token by token.

The prompt goes through the model in one pass (M = its length; the driver splits M beyond the
core's buffers), then one token at a time with a KV cache. Embedding, attention, RMS norms, RoPE,
SiLU and residuals run on the host in float32 NumPy, as on the board's Cortex-A9. Checked and
reported (reports/generate.md and .json): every product bit-exact against the golden models; the
tokens and the logits bit-identical to the `reference` back end's (the golden models in place of
the core); the float32 model's greedy tokens beside them; the cycles of the prompt pass and of each
decode step, split into layer projections and LM head; simulated cycles per second; and the
tokens/s those cycles give on the PYNQ-Z1 at CLOCK_HZ, projections only (host work not counted).
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from llmaccel.golden.quant_mix import RECIPES
from llmaccel.golden.smollm2 import (HEAD, SmolLM2, build_tokenizer, fp32_model_project,
                                     greedy, layer_weights, shipped_rows)
from llmaccel.host.driver import Accelerator
from llmaccel.host.model import ModelProjections
from llmaccel.host.reference import ReferenceAccelerator

CLOCK_HZ = 100e6          # FCLK0 as constraints/build_bd.tcl sets it (not timing-closed)
DDR_BYTES_PER_S = 2.1e9   # the PYNQ-Z1's DDR3 peak (llmaccel/perf/projection.py has its source)
DEFAULT_PROMPT = "The capital of France is"
BACKENDS = ("fast", "cocotb", "reference")
WEIGHTS = ("as-shipped", "q8_0") + RECIPES[1:]     # the --weights choices; the first, the default
ENGINES = ("bfp", "ternary")
BAR = 24


class GenerateError(ValueError):
    """Bad arguments (exit status 2, one line)."""


def _progress(total: int, cycles_of):
    t0 = time.perf_counter()
    tty = sys.stderr.isatty()

    def show(i, token_text, done=None):
        seconds = time.perf_counter() - t0
        cycles = cycles_of()
        rate = f"{cycles / seconds / 1e3:,.0f}k cycles/s" if seconds > 0 and cycles else ""
        filled = BAR * (i + 1) // total
        line = (f"[{'#' * filled}{'.' * (BAR - filled)}] {i + 1}/{total} tokens "
                f"{seconds:6.1f} s {rate:>18} {token_text!r}")
        print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
    return show


def per_token_cycles(records: list[dict], tokens: int) -> list[dict]:
    """Split the calls into forward passes (each ends with the LM head) and sum their cycles."""
    steps, current = [], {"projections": 0, "head": 0, "calls": 0}
    for r in records:
        current["calls"] += 1
        if r["key"] == HEAD:
            current["head"] += r["cycles"]
            steps.append(current)
            current = {"projections": 0, "head": 0, "calls": 0}
        else:
            current["projections"] += r["cycles"]
    for i, s in enumerate(steps):
        s["step"] = "prompt" if i == 0 else f"decode {i}"
        s["cycles"] = s["projections"] + s["head"]
    return steps[:tokens]


def _run_cocotb(prompt_ids, tokens, engine, weights_mix, tok):
    """The job inside a cocotb simulation of the core (Verilator, cocotbext-axi bus models):
    (result, records, module, build seconds, run seconds). Slow: about 15,000 cycles/s."""
    import tempfile
    import threading
    from llmaccel.testbench import runner
    print("building the core's cocotb simulation (Verilator; reused later)...", file=sys.stderr,
          flush=True)
    b = runner.build("top", {}, "verilator")
    with tempfile.TemporaryDirectory() as tmp:
        out, progress = Path(tmp) / "generate.npz", Path(tmp) / "progress"
        show, stop = _progress(tokens, lambda: 0), threading.Event()

        def poll(last=None):
            while not stop.wait(1.0):
                try:
                    done, _, token, _ = progress.read_text().split()
                except (OSError, ValueError):
                    continue
                if done != last:
                    show(int(done) - 1, tok.decode([int(token)]))
                    last = done
        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        t0 = time.perf_counter()
        try:
            run = runner.run(b, "llmaccel.testbench.cocotb_top", "run_generate", seed=1,
                             params={}, tag="generate",
                             env={"LLMACCEL_GENERATE": json.dumps(
                                     {"prompt_ids": prompt_ids, "tokens": tokens,
                                      "engine": engine, "weights": weights_mix}),
                                  "LLMACCEL_OUT": str(out), "LLMACCEL_PROGRESS": str(progress)})
        finally:
            stop.set()
            watcher.join()
        seconds = time.perf_counter() - t0
        if sys.stderr.isatty():
            print(file=sys.stderr)
        if not run.ok or not out.exists():
            raise RuntimeError(f"the cocotb generation failed: see {run.log}\n"
                               + runner.failure_excerpt(run))
        arrays = np.load(out)
        result = {"tokens": [int(t) for t in arrays["tokens"]], "logits": arrays["logits"]}
        records = json.loads(Path(str(out) + ".json").read_text())
    return result, records, b.module, b.seconds, seconds


def run_generate(prompt: str = DEFAULT_PROMPT, tokens: int = 8, engine: str = "bfp",
                 backend: str = "fast", out_dir: Path | None = Path("reports"),
                 model: SmolLM2 | None = None, weights_mix: str | None = None) -> dict:
    """`weights_mix`: one of WEIGHTS for the BFP engine (None: as-shipped); the ternary engine
    takes none."""
    if engine not in ENGINES:
        raise GenerateError(f"--engine must be bfp or ternary, not {engine!r}")
    if weights_mix is not None and weights_mix not in WEIGHTS:
        raise GenerateError(f"--weights must be one of {', '.join(WEIGHTS)}, not {weights_mix!r}")
    if weights_mix is not None and engine != "bfp":
        raise GenerateError("--weights chooses the BFP engine's formats: the ternary engine "
                            "takes absmean-ternarized weights only")
    if engine == "bfp" and weights_mix is None:
        weights_mix = WEIGHTS[0]
    if backend not in BACKENDS:
        raise GenerateError(f"--backend must be {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}, "
                            f"not {backend!r}")
    if not isinstance(tokens, int) or tokens < 1:
        raise GenerateError(f"--tokens must be a positive integer, not {tokens}")
    t_start = time.perf_counter()
    model = model or SmolLM2()
    tok = build_tokenizer(model)
    prompt_ids = tok.encode(prompt).ids
    if not prompt_ids:
        raise GenerateError("the prompt is empty: give some text")
    context = int(model.reader.fields["llama.context_length"].parts[-1][0])
    if len(prompt_ids) + tokens > context:
        raise GenerateError(f"the prompt ({len(prompt_ids)} tokens) and {tokens} new tokens "
                            f"exceed SmolLM2-135M's context of {context} tokens")
    weights = layer_weights(model)
    head_raw, head_type = model.raw_rows("token_embd.weight")
    assert head_type == "Q8_0", head_type
    shipped = shipped_rows(model) if weights_mix == "as-shipped" else None

    # the chosen back end
    build_seconds = 0.0
    if backend == "fast":
        from llmaccel.testbench.fast_build import build_fast
        from llmaccel.host.fast_backend import FastBackend
        print("building the core's fast co-simulation (Verilator; about a minute, reused "
              "later)...", file=sys.stderr, flush=True)
        build = build_fast()
        build_seconds = build.seconds
        sim = FastBackend(build.library)
        sim.reset()
        acc = Accelerator(sim)
        cycles_of = lambda: sim.cycle  # noqa: E731
        module = build.module
    elif backend == "reference":
        acc, sim, module = ReferenceAccelerator(), None, "golden models"
        cycles_of = lambda: 0  # noqa: E731
    if backend == "cocotb":
        result, records, module, build_seconds, run_seconds = _run_cocotb(
            prompt_ids, tokens, engine, weights_mix, tok)
        load_seconds, sim_cycles = 0.0, sum(r["cycles"] for r in records)
    else:
        t_load = time.perf_counter()
        proj = ModelProjections(acc, engine, weights, head_raw, check=backend != "reference",
                                mix=weights_mix, shipped=shipped)
        load_seconds = time.perf_counter() - t_load
        start_cycles = cycles_of()
        show = _progress(tokens, lambda: cycles_of() - start_cycles)
        t_run = time.perf_counter()
        result = greedy(model, prompt_ids, tokens, proj,
                        on_token=lambda i, t: show(i, tok.decode([t])))
        run_seconds = time.perf_counter() - t_run
        if sys.stderr.isatty():
            print(file=sys.stderr)
        sim_cycles = cycles_of() - start_cycles
        records = proj.records

    # the same run on the golden models, and the float32 model
    ref = ModelProjections(ReferenceAccelerator(), engine, weights, head_raw, check=False,
                           mix=weights_mix, shipped=shipped)
    reference = greedy(model, prompt_ids, tokens, ref)
    fp32 = greedy(model, prompt_ids, tokens,
                  fp32_model_project(weights, model.weight("token_embd.weight")))
    same_logits = bool(np.array_equal(result["logits"].view(np.uint32),
                                      reference["logits"].view(np.uint32)))
    checked = [r for r in records if r["bit_exact"] is not None]
    steps = per_token_cycles(records, tokens)
    decode = [s["cycles"] for s in steps[1:]]
    one_pass = records[:next(i for i, r in enumerate(records) if r["key"] == HEAD) + 1]
    formats_used = {}
    for r in one_pass:
        formats_used[r["format"]] = formats_used.get(r["format"], 0) + r["matrices"]
    per_token = float(np.mean(decode)) if decode else float(steps[0]["cycles"])
    report = {
        "prompt": prompt, "prompt_tokens": prompt_ids, "engine": engine, "backend": backend,
        "module": module, "weights": weights_mix, "formats": formats_used,
        "weight_bytes_per_token": (sum(r["weight_bytes"] for r in one_pass)
                                   if engine == "bfp" else None),
        "tokens": result["tokens"], "text": tok.decode(result["tokens"]),
        "reference_tokens": reference["tokens"], "fp32_tokens": fp32["tokens"],
        "fp32_text": tok.decode(fp32["tokens"]),
        "fp32_agreement": sum(a == b for a, b in zip(result["tokens"], fp32["tokens"])),
        "products": len(records), "products_checked": len(checked),
        "bit_exact": all(r["bit_exact"] for r in checked),
        "same_as_reference": result["tokens"] == reference["tokens"] and same_logits,
        "same_logits": same_logits, "steps": steps, "simulated_cycles": int(sim_cycles),
        "run_seconds": run_seconds, "cycles_per_second": sim_cycles / run_seconds if sim_cycles
        else 0.0, "decode_cycles_per_token": per_token,
        "projected_tokens_per_second": CLOCK_HZ / per_token if per_token else 0.0,
        "build_seconds": build_seconds, "load_seconds": load_seconds,
        "total_seconds": time.perf_counter() - t_start,
    }
    text = markdown(report)
    print(text)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "generate.md").write_text(text)
        (out_dir / "generate.json").write_text(json.dumps(report, indent=2) + "\n")
        print(f"written: {out_dir / 'generate.md'}, {out_dir / 'generate.json'}")
    return report


def markdown(r: dict) -> str:
    on = {"fast": f"the simulated core (`{r['module']}`, fast back end: Verilator + C++ bus "
                  "models)",
          "cocotb": f"the simulated core (`{r['module']}`, cocotb back end: Verilator + "
                    "cocotbext-axi)",
          "reference": "the golden models (reference back end: no RTL)"}[r["backend"]]
    rtl = r["backend"] != "reference"
    lines = [
        f"# SmolLM2-135M generating through {'the RTL' if rtl else 'the golden models'}",
        "",
        f"Prompt: \"{r['prompt']}\" ({len(r['prompt_tokens'])} tokens: {r['prompt_tokens']})",
        "",
        f"**Generated ({r['engine']} engine):** {json.dumps(r['text'], ensure_ascii=False)}",
        "",
        f"Tokens: {r['tokens']}",
        "",
        f"Every matrix product of all 30 layers and of the LM head ran on {on}; attention, "
        "norms, RoPE, SiLU and residuals on the host in float32 NumPy; greedy sampling.",
        "",
    ]
    mix = r.get("weights", "q8_0")
    used = ", ".join(f"{n} {f}" for f, n in sorted(r.get("formats", {}).items()))
    if r["engine"] == "bfp" and mix == "q8_0":
        lines.append("- Weights: the file's Q4_1 layers requantized to Q8_0 once at load; the LM "
                     "head is the file's own Q8_0 `token_embd.weight` (tied embeddings), as "
                     "shipped. Activations quantized per call as llama.cpp's "
                     "quantize_row_q8_0_ref.")
    elif r["engine"] == "bfp":
        if mix == "as-shipped":
            what = "the file's own Q4_1 layer rows, as shipped (no requantization)"
        elif mix in ("q4_0", "q4_1", "q5_0", "q5_1"):
            what = (f"every layer tensor requantized to {mix.upper()} once at load by llama.cpp's "
                    f"quantize_row_{mix}_ref (its {mix.upper()} file type without an imatrix)")
        else:
            what = (f"llama.cpp's {mix.upper()} mix (src/llama-quant.cpp's rules, its fallback "
                    "for K not a multiple of 256) quantized from the file's weights by our "
                    "quantizers")
        lines.append(f"- Weights: {what}; the LM head is the file's own Q8_0 `token_embd.weight`, "
                     "as shipped. Activations per call in each format's activation format "
                     "(Q8_0, Q8_1 or Q8_K, as llama.cpp's quantize_row_*_ref).")
    if r["engine"] == "bfp" and r.get("weight_bytes_per_token"):
        lines.append(f"- Tensors per forward pass: {used}; weight bytes read per token: "
                     f"{r['weight_bytes_per_token']:,}.")
    if r["engine"] == "ternary":
        lines.append("- Weights: every layer absmean-ternarized (BitNet b1.58) and packed once at "
                     "load; int8 absmax activations per row. The LM head runs on the BFP engine "
                     "in Q8_0, as BitNet keeps its head at higher precision. **SmolLM2 is not "
                     "ternary-trained: this text is not meaningful.** What the run shows is that "
                     "every ternary product of a whole model is bit-exact, and its cycles.")
    checked = (f"{r['products_checked']} of {r['products']} matmuls checked (q, k, v of a layer "
               "stacked into one, gate and up into one, where they share a format): "
               + ("all bit-exact against the golden models" if r["bit_exact"]
                  else "SOME DIFFER FROM THE GOLDEN MODELS")) if r["products_checked"] else \
        "the reference back end is the golden models themselves (nothing to check)"
    lines += [
        f"- Bit-exact: {checked}.",
        f"- Same as the reference back end: "
        f"{'yes: the same tokens, and the same logits bit for bit' if r['same_as_reference'] else 'NO'}.",
        f"- Float32 model (dequantized weights, float32 products): "
        f"{json.dumps(r['fp32_text'], ensure_ascii=False)} "
        f"{r['fp32_tokens']}; {r['fp32_agreement']} of {len(r['tokens'])} tokens agree.",
        "",
    ]
    if r["simulated_cycles"]:
        lines += ["| step | tokens in | layer projections (cycles) | LM head (cycles) | cycles | "
                  f"ms at {CLOCK_HZ / 1e6:.0f} MHz |", "|---|---|---|---|---|---|"]
        for i, s in enumerate(r["steps"]):
            n_in = len(r["prompt_tokens"]) if i == 0 else 1
            lines.append(f"| {s['step']} | {n_in} | {s['projections']:,} | {s['head']:,} | "
                         f"{s['cycles']:,} | {s['cycles'] / CLOCK_HZ * 1e3:,.1f} |")
        lines += [
            "",
            f"- Decode: {r['decode_cycles_per_token']:,.0f} cycles per token: "
            f"**{r['projected_tokens_per_second']:.2f} tokens/s projected on the PYNQ-Z1 at "
            f"{CLOCK_HZ / 1e6:.0f} MHz**, the core's matrix products only (the host's share of a "
            "token, attention, norms and quantizing on the Cortex-A9, is not counted; projected, "
            "not measured on a board)" + (
                f"; the DDR's peak ({DDR_BYTES_PER_S / 1e9:.1f} GB/s) allows "
                f"{DDR_BYTES_PER_S / r['weight_bytes_per_token']:.2f} tokens/s for these "
                "weight bytes (`make bench`: the end-to-end projection)."
                if r.get("weight_bytes_per_token") else "."),
            f"- Simulation: {r['simulated_cycles']:,} cycles in {r['run_seconds']:.1f} s: "
            f"{r['cycles_per_second']:,.0f} simulated cycles/s on this machine (golden checks "
            "and host work included"
            + ("; the cycles are the core's CYCLES summed over its runs" if r["backend"] == "cocotb"
               else "") + ").",
        ]
    lines += ["", f"Time: {r['total_seconds']:.0f} s in all (build {r['build_seconds']:.0f} s, "
              f"weights prepared in {r['load_seconds']:.1f} s, generation {r['run_seconds']:.0f} s, "
              "then the reference and float32 runs)."]
    return "\n".join(lines) + "\n"
