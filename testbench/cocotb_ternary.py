"""cocotb tests of the ternary accelerator's emitted Verilog against golden.ternary.matmul.

Run through testbench/runner.py (pytest: testbench/test_ternary_cocotb.py). Environment:
LLMACCEL_PARAMS (block parameters, JSON), LLMACCEL_STALL (stall probability on every stream),
LLMACCEL_SEED, LLMACCEL_RESULT (JSON lines: per matmul shape and cycles), LLMACCEL_JOB (a .npz
with x and w for `llmaccel run`; its result is written to LLMACCEL_OUT).
"""
import json
import os
import random
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from llmaccel.generators.ternary import TernaryAccelerator
from llmaccel.golden.ternary import matmul
from llmaccel.golden.ternary_layout import (pack_acts, pack_weights, shape_plan, unpack_results,
                                            zero_tiles)
from llmaccel.testbench.streams import ClockedLoop, StreamPort, StreamSink, StreamSource, random_pause


class TernaryBench:
    def __init__(self, dut, params, rng, stall):
        self.dut = dut
        self.hw = TernaryAccelerator(**params)
        self.rng = rng
        pause = lambda: random_pause(rng, stall)  # noqa: E731
        self.cmd = StreamSource(StreamPort(dut, "cmd"), pause())
        self.acts = StreamSource(StreamPort(dut, "acts"), pause())
        self.weights = StreamSource(StreamPort(dut, "weights"), pause())
        self.results = StreamSink(StreamPort(dut, "results"), pause(), on_beat=self._result)
        self.loop = ClockedLoop(dut.clk, [self.cmd, self.acts, self.weights, self.results])
        self.got = []
        self.first_input = None
        self.last_output = None
        for src in (self.cmd, self.acts, self.weights):
            src.on_beat = self._input

    def _input(self, cycle, payload):
        if self.first_input is None:
            self.first_input = cycle

    def _result(self, cycle, value):
        a, rows = self.hw.ACC_BITS, self.hw.rows
        ys = []
        for r in range(rows):
            v = value >> (r * a) & ((1 << a) - 1)
            ys.append(v - (1 << a) if v >> (a - 1) else v)
        self.got.append(ys)
        self.last_output = cycle

    def pack_cmd(self, plan):
        value = 0
        for name, field in self.hw.cmd_layout:
            value |= plan[name] << field.offset
        return value

    async def matmul(self, x, w, max_cycles=2_000_000):
        """Run one matmul through the DUT; return (Y, cycles from first input to last output)."""
        hw = self.hw
        m, k = x.shape
        n = w.shape[0]
        self.got, self.first_input, self.last_output = [], None, None
        self.queue(x, w)
        words = -(-n // hw.rows)
        await self.loop.run_until(lambda: len(self.got) == m * words, max_cycles)
        for _ in range(3):  # nothing more may come out
            await self.loop.step()
        y = unpack_results(self.got, m, n, hw.rows)
        return y, self.last_output - self.first_input + 1

    def queue(self, x, w):
        """Queue one matmul's cmd, activation and weight beats (zero tiles skipped)."""
        hw = self.hw
        self.cmd.send(self.pack_cmd(shape_plan(x.shape[0], w.shape[0], x.shape[1], hw.g,
                                               hw.lanes, hw.rows)))
        skip = zero_tiles(w, hw.g, hw.lanes)
        for beat in pack_acts(x, hw.g, hw.lanes, hw.act_bits, skip):
            self.acts.send(beat)
        for beat in pack_weights(w, hw.g, hw.lanes, hw.rows, skip):
            self.weights.send(beat)

    async def reset(self, cycles=3):
        self.dut.rst.value = 1
        for src in (self.cmd, self.acts, self.weights):
            src.clear()
            src.port.valid.value = 0
            src._valid_out = False
        self.results.forget()
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        self.loop.cycle += cycles


def params_from_env():
    return json.loads(os.environ.get("LLMACCEL_PARAMS", "{}"))


async def start(dut, stall=None):
    seed = int(os.environ.get("LLMACCEL_SEED", "1"))
    stall = float(os.environ.get("LLMACCEL_STALL", "0.3")) if stall is None else stall
    dut._log.info(f"seed={seed} stall={stall} params={params_from_env()}")
    bench = TernaryBench(dut, params_from_env(), random.Random(seed), stall)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for src in (bench.cmd, bench.acts, bench.weights):
        src.port.valid.value = 0
    dut.results__ready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    return bench, seed, stall


def report(record):
    path = os.environ.get("LLMACCEL_RESULT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


def random_case(rng: np.random.Generator, hw, sparsity: float, limits=(4, 40, 200)):
    m = int(rng.integers(1, min(hw.m_max, limits[0]) + 1))
    n = int(rng.integers(1, min(hw.params["n_max"], limits[1]) + 1))
    k = int(rng.integers(1, min(hw.params["k_max"], limits[2]) + 1))
    half = 1 << (hw.act_bits - 1)
    x = rng.integers(-half, half, (m, k)).astype(np.int8)
    w = rng.integers(-1, 2, (n, k)).astype(np.int8)
    w[rng.random(w.shape) < sparsity] = 0
    return x, w


async def check(bench, x, w, label):
    y, cycles = await bench.matmul(x, w)
    want = matmul(x, w)
    if not np.array_equal(y, want):
        bad = np.argwhere(y != want)[0]
        raise AssertionError(f"{label}: Y{tuple(bad)} = {y[tuple(bad)]}, golden {want[tuple(bad)]}"
                             f" (M, N, K = {x.shape[0]}, {w.shape[0]}, {x.shape[1]})")
    return cycles


@cocotb.test()
async def random_matmuls(dut):
    """Random shapes (K and N not multiples of the tile), sparsity 0 .. 95%, against golden."""
    bench, seed, stall = await start(dut)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    count = int(os.environ.get("LLMACCEL_CASES", "6"))
    for i, sparsity in enumerate(np.linspace(0.0, 0.95, count)):
        x, w = random_case(rng, bench.hw, float(sparsity))
        cycles = await check(bench, x, w, f"case {i} sparsity {sparsity:.2f}")
        report({"test": "random_matmuls", "seed": seed, "stall": stall, "m": x.shape[0],
                "n": w.shape[0], "k": x.shape[1], "sparsity": round(float(sparsity), 2),
                "cycles": cycles, "loop_cycles": bench.loop.cycle,
                "wall_seconds": round(time.perf_counter() - t0, 3)})


@cocotb.test()
async def special_weights(dut):
    """All-zero, all +1, all -1 weights; activations at -128 and 127; K = k_max with every
    product at the same sign (the accumulator's extreme)."""
    bench, seed, stall = await start(dut)
    hw = bench.hw
    rng = np.random.default_rng(seed)
    k_max = hw.params["k_max"]
    cases = []
    for fill in (0, 1, -1):
        x = rng.integers(-(1 << (hw.act_bits - 1)), 1 << (hw.act_bits - 1),
                         (2, min(k_max, 50))).astype(np.int8)
        cases.append((f"all {fill}", x, np.full((5, x.shape[1]), fill, dtype=np.int8)))
    lo, hi = -(1 << (hw.act_bits - 1)), (1 << (hw.act_bits - 1)) - 1
    for a in (lo, hi):
        x = np.full((1, min(k_max, 64)), a, dtype=np.int8)
        cases.append((f"acts {a}", x, rng.integers(-1, 2, (4, x.shape[1])).astype(np.int8)))
    x = np.full((1, k_max), lo, dtype=np.int8)
    w = np.concatenate([np.ones((1, k_max), np.int8), -np.ones((1, k_max), np.int8)])
    cases.append(("extreme K = k_max", x, w))
    for label, x, w in cases:
        await check(bench, x, w, label)
    y, _ = await bench.matmul(x, w)
    assert y[0, 0] == lo * k_max and y[0, 1] == -lo * k_max
    report({"test": "special_weights", "seed": seed, "stall": stall, "cases": len(cases)})


@cocotb.test()
async def pruned_slices(dut):
    """Whole K-slices of W zero (pruned input channels): those passes are skipped in time, the
    result stays exact, and the cycles drop."""
    bench, seed, stall = await start(dut)
    hw = bench.hw
    rng = np.random.default_rng(seed)
    k = min(hw.params["k_max"], 6 * hw.slice)
    x, w = random_case(rng, hw, 0.3, limits=(2, 12, k))
    x = np.resize(x, (x.shape[0], k)).astype(np.int8)
    w = rng.integers(-1, 2, (w.shape[0], k)).astype(np.int8)
    dense = await check(bench, x, w, "dense")
    passes = -(-k // hw.slice)
    for p in range(0, passes - 1, 2):  # every other slice pruned (the last one never is)
        w[:, p * hw.slice:(p + 1) * hw.slice] = 0
    pruned = await check(bench, x, w, "pruned")
    assert sum(zero_tiles(w, hw.g, hw.lanes)) >= 1
    if stall == 0:
        assert pruned < dense, (pruned, dense)
    report({"test": "pruned_slices", "seed": seed, "stall": stall, "dense_cycles": dense,
            "pruned_cycles": pruned, "passes": passes})


@cocotb.test()
async def reset_mid_matmul(dut):
    """Reset in the middle of a matmul: nothing stale comes out, the next matmul is right."""
    bench, seed, stall = await start(dut)
    rng = np.random.default_rng(seed)
    for trial in range(2):
        x, w = random_case(rng, bench.hw, 0.3)
        bench.queue(x, w)
        for _ in range(int(rng.integers(5, 60))):
            await bench.loop.step()
        await bench.reset(int(rng.integers(1, 4)))
        bench.got = []
        for _ in range(20):
            await bench.loop.step()
        assert not bench.got, "a result came out after the reset"
        x, w = random_case(rng, bench.hw, 0.5)
        await check(bench, x, w, f"after reset {trial}")
    report({"test": "reset_mid_matmul", "seed": seed, "stall": stall})


@cocotb.test()
async def run_job(dut):
    """`llmaccel run ternary`: the job's x and w through the DUT, Y saved (the CLI compares with
    the golden model). Shapes beyond the buffers (m_max, n_max, k_max) are tiled here, on the
    host side: one matmul per (M, N, K) tile, K tiles summed in int64 and checked to fit int32."""
    job = os.environ.get("LLMACCEL_JOB")
    if not job:
        return
    bench, seed, stall = await start(dut, stall=0.0)
    data = np.load(job)
    x, w = data["x"], data["w"]
    hw = bench.hw
    mt, nt, kt = hw.m_max, hw.params["n_max"], hw.params["k_max"]
    y = np.zeros((x.shape[0], w.shape[0]), dtype=np.int64)
    cycles = tiles = 0
    for m0 in range(0, x.shape[0], mt):
        for n0 in range(0, w.shape[0], nt):
            for k0 in range(0, x.shape[1], kt):
                part, c = await bench.matmul(x[m0:m0 + mt, k0:k0 + kt], w[n0:n0 + nt, k0:k0 + kt],
                                             max_cycles=50_000_000)
                y[m0:m0 + mt, n0:n0 + nt] += part
                cycles += c
                tiles += 1
    if np.abs(y).max(initial=0) >= 1 << 31:
        raise ValueError("Y does not fit int32")
    np.save(os.environ["LLMACCEL_OUT"], y.astype(np.int32))
    report({"test": "run_job", "cycles": cycles, "tiles": tiles, "m": int(x.shape[0]),
            "n": int(w.shape[0]), "k": int(x.shape[1])})
