"""cocotb tests of the top-level core's emitted Verilog (block `top`) through the host driver
(host/driver.py) and its simulation back end (host/sim_backend.py): the driver's blocking calls run
in a cocotb bridge thread, exactly the code a board runs with the PYNQ back end. Every result is
compared against the golden models: float32 bit for bit (NaN as the canonical quiet NaN) for the
BFP engine, int32 exactly for the ternary engine.

Run through testbench/runner.py (pytest: testbench/test_top_cocotb.py; `llmaccel sim` for the
layer job). Environment: LLMACCEL_PARAMS (block parameters, JSON), LLMACCEL_STALL, LLMACCEL_SEED,
LLMACCEL_RESULT (JSON lines), LLMACCEL_JOB / LLMACCEL_OUT / LLMACCEL_PROGRESS (the layer job).
"""
import json
import os
import time

import cocotb
import numpy as np
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiStreamFrame

from llmaccel.golden import bfp as golden_bfp, formats as golden_formats
from llmaccel.golden.bfp_layout import FORMATS, input_streams, k_multiple
from llmaccel.golden.register_maps import CORE_ID_VALUE as ID_VALUE, ERROR_BITS
from llmaccel.golden.ternary import matmul as golden_ternary
from llmaccel.golden.top_layout import (beat_words, ternary_input_streams, ternary_output,
                                        weight_beat_bits)
from llmaccel.host.driver import Accelerator
from llmaccel.host.sim_backend import CLOCK_NS, CocotbBackend
from llmaccel.testbench.backend_calls import random_ternary, run_calls, shape_runs
from llmaccel.testbench.generate_job import generate_job
from llmaccel.testbench.layer_job import layer_job
from llmaccel.testbench.bfp_data import driver_call, random_matmul, random_rows
from llmaccel.testbench.cocotb_bfp import exact


def report(record):
    path = os.environ.get("LLMACCEL_RESULT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


async def start(dut, stall=None):
    """Clock, reset and a driver on the simulation back end: (backend, driver, seed, stall)."""
    seed = int(os.environ.get("LLMACCEL_SEED", "1"))
    stall = float(os.environ.get("LLMACCEL_STALL", "0.3")) if stall is None else stall
    dut._log.info(f"seed={seed} stall={stall} params={os.environ.get('LLMACCEL_PARAMS', '{}')}")
    backend = CocotbBackend(dut, stall, seed)
    await backend.reset()
    acc = await bridge(Accelerator)(backend)
    return backend, acc, seed, stall


def same_ints(y, want, label):
    if y.dtype != np.int32 or not np.array_equal(y, want):
        i = tuple(np.argwhere(y != want)[0])
        raise AssertionError(f"{label}: Y{i} = {y[i]}, golden {want[i]}; "
                             f"{np.count_nonzero(y != want)} of {y.size} differ")


@cocotb.test()
async def random_matmuls(dut):
    """Both engines in turn on random shapes, beyond the buffers too (the driver splits M, N and
    K), the BFP formats in turn with special scales, ternary with sparse and skipped K-slices."""
    backend, acc, seed, stall = await start(dut)
    rng = np.random.default_rng(seed)
    bp, tp = acc.bfp, acc.ternary
    slice_ = tp["lanes"] * tp["g"]
    cases = int(os.environ.get("LLMACCEL_CASES", "4"))
    t0, runs = time.perf_counter(), 0
    for i in range(cases):
        fmt, m, n, k = driver_call(rng, bp, i, seed, i == cases - 1)
        w, x = random_matmul(rng, m, n, k // k_multiple(fmt), fmt, specials=0.05)
        y = await bridge(acc.matmul)(w, x, fmt)
        exact(y, golden_formats.matmul(w, x, fmt), f"bfp {fmt} case {i} M={m} N={n} K={k}")

        m = int(rng.integers(1, tp["m_max"] + 2))
        n = int(rng.integers(1, 3 * tp["rows"] + 4))
        k = int(rng.integers(1, min(tp["k_max"], 4 * slice_) + 1))
        if i == cases - 1:    # K and N beyond the maxima
            k, n = tp["k_max"] + int(rng.integers(1, slice_ + 1)), min(tp["n_max"] + 2, 64)
        x, w = random_ternary(rng, m, n, k, sparsity=float(rng.random()), zero_slices=0.3,
                              slice_=slice_)
        y = await bridge(acc.matmul_ternary)(w, x)
        same_ints(y, golden_ternary(x, w), f"ternary case {i} M={m} N={n} K={k}")
    runs = len(acc.runs)
    cycles = sum(r.cycles for r in acc.runs)
    report({"test": "random_matmuls", "seed": seed, "stall": stall, "matmuls": 2 * cases,
            "runs": runs, "cycles": cycles, "wall_seconds": round(time.perf_counter() - t0, 2)})


@cocotb.test()
async def registers(dut):
    """The ID and parameter registers, and every refusal: each bad M, K, N, FORMAT and ENGINE
    sets its ERROR bit and STATUS.error, and the core takes no data; a good start clears them."""
    backend, acc, seed, stall = await start(dut)
    assert await bridge(acc.read)("id") == ID_VALUE
    bp, tp = acc.bfp, acc.ternary
    bad = {
        "bfp": [("m", dict(m=0)), ("m", dict(m=bp["m_max"] + 1)), ("k", dict(k=0)),
                ("k", dict(k=48)), ("k", dict(k=bp["k_max"] + 32)), ("n", dict(n=0)),
                ("n", dict(n=1 << 16)), ("format", dict(format=len(FORMATS)))],
        "ternary": [("m", dict(m=0)), ("m", dict(m=tp["m_max"] + 1)), ("k", dict(k=0)),
                    ("k", dict(k=tp["k_max"] + 1)), ("n", dict(n=0)),
                    ("n", dict(n=tp["n_max"] + 1))],
    }
    good = {"m": 1, "k": 32, "n": 1, "format": 0}

    def refuse(engine, why, change):
        acc.write("engine", {"bfp": 0, "ternary": 1}[engine])
        for name, value in {**good, **change}.items():
            acc.write(name, value)
        acc.write("sum_in", 0)
        acc.write("ctrl", 1)
        status, error = acc.read("status"), acc.read("error")
        assert status == 0b100, f"{engine} {change}: STATUS = {status:#x}, expected error only"
        assert error == 1 << ERROR_BITS[why], f"{engine} {change}: ERROR = {error:#x}"

    for engine, cases in bad.items():
        for why, change in cases:
            await bridge(refuse)(engine, why, change)
            ports = [(getattr(dut, f"s_axis{i}_tvalid"), getattr(dut, f"s_axis{i}_tready"))
                     for i in range(acc.streams)]
            for valid, _ in ports:            # a refused start takes no data
                valid.value = 1
            for _ in range(4):
                await RisingEdge(dut.clk)
                for i, (_, ready) in enumerate(ports):
                    assert not ready.value, f"{engine} {change}: tready {i} after a refusal"
            for valid, _ in ports:
                valid.value = 0
    await bridge(refuse)("bfp", "engine", {"engine": 2})
    # a good start after the refusals clears STATUS.error and ERROR
    rng = np.random.default_rng(seed)
    x, w = random_ternary(rng, 2, 5, 50)
    same_ints(await bridge(acc.matmul_ternary)(w, x), golden_ternary(x, w), "after refusals")
    assert await bridge(acc.read)("error") == 0
    assert await bridge(acc.read)("status") == 0b010
    with_bad = random_rows(rng, 1, 1, "q8_0")
    try:
        await bridge(acc.matmul_q8_0)(with_bad, random_rows(rng, bp["m_max"] + 1, 2, "q8_0"))
    except ValueError as e:
        assert "K disagrees" in str(e)
    else:
        raise AssertionError("the driver took rows of different K")
    report({"test": "registers", "seed": seed})


@cocotb.test()
async def reset_mid_matmul(dut):
    """A reset in the middle of each engine's input stream: the next matmuls are exact."""
    backend, acc, seed, stall = await start(dut)
    rng = np.random.default_rng(seed)
    tp, bp = acc.ternary, acc.bfp
    for engine in ("ternary", "bfp"):
        m = min(2, (bp if engine == "bfp" else tp)["m_max"])
        if engine == "ternary":
            k, n = min(200, tp["k_max"]), min(7, tp["n_max"])
            x, w = random_ternary(rng, m, n, k)
            data = ternary_input_streams(x, w, tp["g"], tp["lanes"], tp["rows"], acc.streams)
            await bridge(acc._start)("ternary", m, k, n)
        else:
            blocks = min(3, bp["k_max"] // 32)
            x, w = random_rows(rng, m, blocks, "q8_0"), random_rows(rng, 7, blocks, "q8_0")
            data = input_streams(w, x, "q8_0", acc.streams)
            await bridge(acc._start)("bfp", m, 32 * blocks, 7, format=0, sum_in=0)
        for source, part in zip(backend.sources, data):   # half of each stream's words
            if len(part) >= 16:
                await source.send(AxiStreamFrame(part[:len(part) // 2 // 8 * 8]))
        await ClockCycles(dut.clk, 100)
        assert await bridge(acc.read)("status") & 1, f"{engine}: not busy mid-matmul"
        await backend.reset()
        assert await bridge(acc.read)("status") == 0, "STATUS after reset"
        x, w = random_ternary(rng, 3, 8, 100)
        same_ints(await bridge(acc.matmul_ternary)(w, x), golden_ternary(x, w),
                  f"ternary after a reset in {engine}")
        x, w = random_rows(rng, 2, 2, "q8_0"), random_rows(rng, 5, 2, "q8_0")
        exact(await bridge(acc.matmul_q8_0)(w, x), golden_bfp.matmul_q8_0(w, x),
                  f"bfp after a reset in {engine}")
    report({"test": "reset_mid_matmul", "seed": seed})


@cocotb.test()
async def extra_words(dut):
    """A host that sends more words than a ternary run needs (on every input stream): the run's
    result is still right, and the words the core took in beyond it (up to a weight beat's
    worth, all it can hold) do not leak into the next run."""
    backend, acc, seed, stall = await start(dut)
    rng = np.random.default_rng(seed)
    tp = acc.ternary
    beat = beat_words(weight_beat_bits(tp["g"], tp["lanes"], tp["rows"]))
    for extra in sorted({1, beat // acc.streams}):     # words per stream, a beat's worth in all
        m, n, k = min(2, tp["m_max"]), min(5, tp["n_max"]), min(70, tp["k_max"])
        x, w = random_ternary(rng, m, n, k)
        await bridge(acc._start)("ternary", m, k, n)
        data = ternary_input_streams(x, w, tp["g"], tp["lanes"], tp["rows"], acc.streams)
        for source, part in zip(backend.sources, data):
            await source.send(AxiStreamFrame(part + bytes(range(8)) * extra))
        frame = await backend.sink.recv()
        got = bytes(frame.tdata) + bytes(-len(frame.tdata) % 8)
        same_ints(ternary_output(got, m, n, tp["rows"]), golden_ternary(x, w),
                  f"the run with {extra} extra words")
        for source in backend.sources:
            source.clear()
        for _ in range(20):
            await RisingEdge(dut.clk)
        x, w = random_ternary(rng, m, n, k)
        same_ints(await bridge(acc.matmul_ternary)(w, x), golden_ternary(x, w),
                  f"the run after {extra} extra words")
    report({"test": "extra_words", "seed": seed})


@cocotb.test()
async def run_layer(dut):
    """The `llmaccel decode` job (make sim): one decode step of SmolLM2-135M's layer
    LLMACCEL_LAYER through the driver, all seven projections on the BFP engine (Q8_0), then on
    the ternary engine (absmean trits); every projection's record to LLMACCEL_OUT (.npz), and
    "done total engine projection seconds" to LLMACCEL_PROGRESS after each."""
    if "LLMACCEL_LAYER" not in os.environ:
        return
    backend, acc, seed, stall = await start(dut, stall=float(os.environ.get("LLMACCEL_STALL", "0")))
    layer = int(os.environ["LLMACCEL_LAYER"])
    t0 = time.perf_counter()
    out = await bridge(layer_job)(acc, layer, os.environ.get("LLMACCEL_PROGRESS"))
    np.savez(os.environ["LLMACCEL_OUT"], **out)
    report({"test": "run_layer", "layer": layer, "seed": seed,
            "cycles": int(sum(r.cycles for r in acc.runs)), "runs": len(acc.runs),
            "wall_seconds": round(time.perf_counter() - t0, 2)})


@cocotb.test()
async def run_generate(dut):
    """`llmaccel generate --backend cocotb`: LLMACCEL_GENERATE (JSON: prompt_ids, tokens, engine,
    weights)
    through the driver, every product checked; tokens and logits to LLMACCEL_OUT (.npz), the
    products' records beside it (.json), progress to LLMACCEL_PROGRESS after each token."""
    if "LLMACCEL_GENERATE" not in os.environ:
        return
    job = json.loads(os.environ["LLMACCEL_GENERATE"])
    backend, acc, seed, stall = await start(dut, stall=0.0)
    record = await bridge(generate_job)(acc, job["prompt_ids"], job["tokens"], job["engine"],
                                        os.environ["LLMACCEL_OUT"],
                                        os.environ.get("LLMACCEL_PROGRESS"), job.get("weights"))
    report({"test": "run_generate", "seed": seed, **record,
            "cycles": int(sum(r.cycles for r in acc.runs)), "runs": len(acc.runs)})


@cocotb.test()
async def run_shapes(dut):
    """Benches: LLMACCEL_SHAPES (JSON list of [engine, M, N, K]) on seeded random data through
    the driver with unstalled streams, each result checked against the golden model; one record
    per shape with the CYCLES summed over the core's runs."""
    shapes = json.loads(os.environ.get("LLMACCEL_SHAPES", "[]"))
    if not shapes:
        return
    backend, acc, seed, stall = await start(dut, stall=0.0)
    for record in await bridge(shape_runs)(acc, shapes, seed):
        report(record)


@cocotb.test()
async def backend_calls(dut):
    """testbench/backend_calls.py's seeded calls on the cocotb back end at LLMACCEL_STALL; one
    record per call (result hash, CYCLES of each run, clock cycles taken), for comparison with
    the fast back end (test_fast_backend.py)."""
    backend, acc, seed, stall = await start(dut, stall=float(os.environ.get("LLMACCEL_STALL",
                                                                            "0")))

    @resume
    async def elapsed():
        return int(get_sim_time("ns")) // CLOCK_NS

    cases = int(os.environ.get("LLMACCEL_CASES", "3"))
    for record in await bridge(run_calls)(acc, elapsed, seed, cases):
        report(record)
