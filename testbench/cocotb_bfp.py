"""cocotb tests of the BFP accelerator's emitted Verilog (block `bfp`) through its AXI interfaces,
driven by cocotbext-axi (AXI-Lite master, AXI-Stream source and sink with pause generators), with
every float32 result compared bit for bit against the golden models (golden/formats.py: every
format of golden/bfp_layout.py's FORMATS; NaN as the canonical quiet NaN).

Run through testbench/runner.py (pytest: testbench/test_bfp_cocotb.py). Environment:
LLMACCEL_PARAMS (block parameters, JSON), LLMACCEL_STALL (pause probability on both streams),
LLMACCEL_SEED, LLMACCEL_RESULT (JSON lines), LLMACCEL_CASES (random matmuls), LLMACCEL_JOB (a .npz
with w, x and fmt for `llmaccel run bfp`; Y goes to LLMACCEL_OUT).
"""
import json
import os
import struct
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamFrame

from llmaccel.generators.bfp import ID_VALUE, REGISTERS
from llmaccel.golden import formats as golden
from llmaccel.golden.bfp_layout import (ACTIVATION, BLOCK_BYTES, FORMATS, K_FORMATS, K_PARTS,
                                        SPLIT_FORMATS, canonical_nan, pack_input, unpack_output)
from llmaccel.host.driver import Accelerator
from llmaccel.host.sim_backend import CocotbBackend
from llmaccel.testbench.bfp_data import F16_CLASSES, random_matmul, random_rows

REG = {r.name: r.offset for r in REGISTERS}
NEW_FORMATS = ("q4_0", "q4_1", "q5_0", "q5_1")


def k_of(x_raw, fmt) -> int:
    """K of activation rows for a matmul on `fmt` weights."""
    return x_raw.shape[1] // BLOCK_BYTES[ACTIVATION[fmt]] * golden.get(fmt).block


def params_from_env() -> dict:
    from llmaccel.generators.bfp import BfpAccelerator
    from llmaccel.generators.params import resolve
    return resolve(BfpAccelerator.PARAMS, json.loads(os.environ.get("LLMACCEL_PARAMS", "{}")))


def report(record):
    path = os.environ.get("LLMACCEL_RESULT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


class BfpBench:
    """The bfp block's AXI ports through the driver's simulation back end (host/sim_backend.py:
    the same AXI-Lite master, stream source and sink, and stall generators)."""

    def __init__(self, dut, params, seed, stall):
        self.dut = dut
        self.params = params
        self.seed = seed
        self.io = CocotbBackend(dut, stall, seed)
        self.axil, self.source, self.sink = self.io.axil, self.io.source, self.io.sink
        self.stall = stall

    def set_stall(self, stall):
        self.stall = stall
        self.io.set_stall(stall, self.seed)

    async def write(self, name, value):
        resp = await self.axil.write(REG[name], struct.pack("<I", value & 0xFFFFFFFF))
        return int(resp.resp)

    async def read(self, name) -> int:
        resp = await self.axil.read(REG[name], 4)
        return struct.unpack("<I", resp.data)[0]

    async def start(self, m, k, n, fmt, sum_in=0):
        for name, value in (("m", m), ("k", k), ("n", n), ("format", FORMATS[fmt]),
                            ("sum_in", sum_in)):
            await self.write(name, value)
        await self.write("ctrl", 1)

    async def matmul(self, w_raw, x_raw, fmt):
        """One matmul through the AXI interfaces, the done flag checked five cycles after the
        last result: (Y float32 [M, N], cycles from CYCLES)."""
        m, n = x_raw.shape[0], w_raw.shape[0]
        k = k_of(x_raw, fmt)
        await self.start(m, k, n, fmt)
        status = await self.read("status")
        assert status & 0b100 == 0, f"start refused: ERROR = {await self.read('error'):#x}"
        data = pack_input(w_raw, x_raw, fmt)
        await self.source.send(AxiStreamFrame(data))
        words = len(data) // 8
        limit = words * 4 + m * n * 8 * (k // 32) + 10_000
        frame = await with_timeout(self.sink.recv(), limit * 10, "ns")
        got = bytes(frame.tdata)
        assert len(got) == 4 * m * n, f"{len(got)} result bytes, expected {4 * m * n}"
        y = unpack_output(got + bytes(-len(got) % 8), m, n, self.params["out_lanes"])
        for _ in range(5):
            await RisingEdge(self.dut.clk)
        status = await self.read("status")
        assert status & 0b011 == 0b010, f"STATUS = {status:#x} after the results, expected done"
        assert self.sink.empty(), "more results than expected"
        return y, await self.read("cycles")


async def start(dut, stall=None):
    seed = int(os.environ.get("LLMACCEL_SEED", "1"))
    stall = float(os.environ.get("LLMACCEL_STALL", "0.3")) if stall is None else stall
    params = params_from_env()
    dut._log.info(f"seed={seed} stall={stall} params={params}")
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    bench = BfpBench(dut, params, seed, stall)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    return bench, seed, stall


def exact(y, want, label):
    """Bit-for-bit comparison (NaN as the canonical quiet NaN)."""
    a, b = canonical_nan(y).view(np.uint32), canonical_nan(want).view(np.uint32)
    if not np.array_equal(a, b):
        i = tuple(np.argwhere(a != b)[0])
        raise AssertionError(f"{label}: Y{i} = {y[i]!r} ({a[i]:#010x}), golden {want[i]!r} "
                             f"({b[i]:#010x}); {np.count_nonzero(a != b)} of {a.size} differ")


# --- data --------------------------------------------------------------------------------------------
def random_shape(rng, params, k_blocks_max=8, n_max=None, fmt="q8_0"):
    """(M, blocks, N): blocks of `fmt` (K-quants: super-blocks, at most 2)."""
    qk = golden.get(fmt).block
    m = int(rng.integers(1, params["m_max"] + 1))
    most = min(params["k_max"] // qk, k_blocks_max if qk == 32 else 2)
    blocks = int(rng.integers(1, most + 1))
    n = int(rng.integers(1, (n_max or 3 * params["out_lanes"] + 2) + 1))
    return m, blocks, n


async def check(bench, w, x, fmt, label):
    y, cycles = await bench.matmul(w, x, fmt)
    exact(y, golden.matmul(w, x, fmt), label)
    return cycles


# --- tests ------------------------------------------------------------------------------------------
@cocotb.test()
async def random_matmuls(dut):
    """Random shapes (N not a multiple of out_lanes), every format in turn, random and extreme
    values, scales of every class, against the golden models bit for bit."""
    bench, seed, stall = await start(dut)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    count = int(os.environ.get("LLMACCEL_CASES", str(len(FORMATS))))
    for i in range(count):
        fmt = list(FORMATS)[i % len(FORMATS)]
        m, blocks, n = random_shape(rng, bench.params, fmt=fmt)
        kind = (i + seed) % 3                    # which formats get extremes turns with the seed
        extremes, specials = kind == 2, (0.0, 0.1, 0.3)[kind]
        w, x = random_matmul(rng, m, n, blocks, fmt, extremes, specials)
        k = k_of(x, fmt)
        cycles = await check(bench, w, x, fmt, f"case {i} {fmt} M={m} K={k} N={n}")
        report({"test": "random_matmuls", "seed": seed, "stall": stall, "format": fmt, "m": m,
                "k": k, "n": n, "cycles": cycles,
                "wall_seconds": round(time.perf_counter() - t0, 3)})


@cocotb.test()
async def scale_classes(dut):
    """Every class of binary16 scale (zero, subnormal, normal, max, Inf, NaN) on each side of a
    Q8_0 product, and E8M0 exponents from 0 to 0xFF (subnormal and overflowing results, NaN) for
    MXINT8: one block per class pair; for Q4_0 .. Q5_1 every class as the weights' d (and
    m) against every class as the activations' d (and Q8_1's s); for Q2_K .. Q6_K every class as
    the weights' d (and dmin) against float32 classes as Q8_K's d."""
    bench, seed, stall = await start(dut)
    rng = np.random.default_rng(seed)
    classes = [vs or [0x2E66, 0xA123, 0x3C00] for vs in F16_CLASSES.values()]
    values = np.array([v for vs in classes for v in vs], np.uint16)
    # X: one row per class value; W: one row per class value; K = 64 (two blocks: the second
    # adds a normal product after the special one).
    blocks = 2
    def rows(ds):
        qs = rng.integers(-128, 128, (len(ds), blocks, 32)).astype(np.int8)
        qs[::3, 0, :] = -128                    # sumi = 2**19 on some rows
        d = np.stack([ds, np.full(len(ds), 0x3C00, np.uint16)], axis=1).astype("<u2")
        return np.concatenate([d.view(np.uint8).reshape(len(ds), blocks, 2), qs.view(np.uint8)],
                              axis=2).reshape(len(ds), -1)
    m_max = bench.params["m_max"]
    w = rows(values)
    for i in range(0, len(values), m_max):
        x = rows(values[i:i + m_max])
        await check(bench, w, x, "q8_0", f"q8_0 scale classes, X rows {i}..")
    exps = np.array([0, 1, 2, 60, 100, 126, 127, 128, 200, 253, 254, 255], np.uint8)
    def mx_rows(es):
        qs = rng.integers(-128, 128, (len(es), blocks, 32)).astype(np.int8)
        qs[::2, 0, :] = -128
        e = np.stack([es, np.full(len(es), 127, np.uint8)], axis=1)
        return np.concatenate([e[:, :, None], qs.view(np.uint8)], axis=2).reshape(len(es), -1)
    w = mx_rows(exps)
    for i in range(0, len(exps), m_max):
        await check(bench, w, mx_rows(exps[i:i + m_max]), "mxint8", f"mxint8 exponents {i}..")
    # Q4_0 .. Q5_1: block 0 of each weight row takes one class value as d (and another as m), of
    # each activation row one as d (and another as s, Q8_1); block 1 stays normal.
    def with_scales(raw, bpb, first, second):
        raw = raw.copy().reshape(len(first), blocks, bpb)
        raw[:, 0, 0:2] = first.astype("<u2").view(np.uint8).reshape(-1, 2)
        if second is not None:
            raw[:, 0, 2:4] = second.astype("<u2").view(np.uint8).reshape(-1, 2)
        return raw.reshape(len(first), -1)
    for fmt in NEW_FORMATS:
        act = ACTIVATION[fmt]
        two = act == "q8_1"
        w, _ = random_matmul(rng, 1, len(values), blocks, fmt)
        w = with_scales(w, BLOCK_BYTES[fmt], values, np.roll(values, 3) if two else None)
        for i in range(0, len(values), m_max):
            xs = values[i:i + m_max]
            x = random_rows(rng, len(xs), blocks, act)
            x = with_scales(x, BLOCK_BYTES[act], xs, np.roll(values, 5)[i:i + m_max] if two
                            else None)
            await check(bench, w, x, fmt, f"{fmt} scale classes, X rows {i}..")
    # Q2_K .. Q6_K: super-block 0 of each weight row takes one class value as d (and another as
    # dmin), of each Q8_K row one float32 class value as d (zero, subnormal, max, Inf, NaN);
    # super-block 1 stays normal.
    f32 = np.array([0.0, -0.0, 1e-45, -1e-40, 1.5e-3, -0.25, 3.4e38, np.inf, -np.inf, np.nan],
                   "<f4")
    kb = 2 if bench.params["k_max"] >= 512 else 1
    for fmt in K_FORMATS:
        lo, hi = K_PARTS[fmt]["slot"]
        w = random_rows(rng, len(values), kb, fmt).reshape(len(values), kb, -1)
        w[:, 0, lo:lo + 2] = values.astype("<u2").view(np.uint8).reshape(-1, 2)
        if hi - lo == 4:
            w[:, 0, lo + 2:hi] = np.roll(values, 3).astype("<u2").view(np.uint8).reshape(-1, 2)
        w = w.reshape(len(values), -1)
        for i in range(0, len(f32), m_max):
            xs = f32[i:i + m_max]
            x = random_rows(rng, len(xs), kb, "q8_K").reshape(len(xs), kb, -1)
            x[:, 0, 0:4] = xs.view(np.uint8).reshape(-1, 4)
            await check(bench, w, x.reshape(len(xs), -1), fmt, f"{fmt} scale classes, X rows {i}..")
    report({"test": "scale_classes", "seed": seed, "stall": stall})


async def driver_matmul(bench, w, x, fmt):
    """Y through the host driver (host/driver.py), which runs M beyond m_max in groups of rows and
    K beyond k_max in parts, each continuing the last one's sums (SUM_IN): (Y, its runs)."""
    acc = await bridge(Accelerator)(bench.io)
    y = await bridge(acc.matmul)(w, x, fmt)
    return y, acc.runs


@cocotb.test()
async def k_split(dut):
    """K above k_max in parts, each starting from the last part's Y (SUM_IN): bit for bit the
    unsplit golden result, every format that splits (SPLIT_FORMATS: not Q3_K..Q6_K, whose
    reference keeps nine sums per row), special scales included."""
    bench, seed, stall = await start(dut)
    rng = np.random.default_rng(seed)
    for fmt in SPLIT_FORMATS:
        kb = bench.params["k_max"] // golden.get(fmt).block
        m, _, n = random_shape(rng, bench.params)
        m, n = min(m, 2), min(n, bench.params["out_lanes"] + 1)  # K is long: few rows
        blocks = 2 * kb + int(rng.integers(1, min(kb, 4) + 1))   # three parts, the last short
        w, x = random_matmul(rng, m, n, blocks, fmt, specials=0.05)
        y, runs = await driver_matmul(bench, w, x, fmt)
        parts = len(runs)
        assert parts == 3
        exact(y, golden.matmul(w, x, fmt), f"{fmt} K = {k_of(x, fmt)} in {parts} parts")
    report({"test": "k_split", "seed": seed, "stall": stall})


@cocotb.test()
async def registers(dut):
    """AXI-Lite: ID and configuration, read back of the shape registers, refused starts with
    their error bits (and no data taken), unmapped addresses answered with SLVERR."""
    bench, seed, stall = await start(dut)
    p = bench.params
    assert await bench.read("id") == ID_VALUE
    assert await bench.read("params") == p["mac_lanes"] | p["out_lanes"] << 8 | p["m_max"] << 16
    assert await bench.read("k_max") == p["k_max"]
    for name, value in (("m", 3), ("k", 96), ("n", 1234), ("format", 1), ("sum_in", 1)):
        await bench.write(name, value)
        assert await bench.read(name) == value
    bad = [((0, 64, 4, "q8_0"), 0b0001), ((p["m_max"] + 1, 64, 4, "q8_0"), 0b0001),
           ((1, 0, 4, "q8_0"), 0b0010), ((1, 48, 4, "q8_0"), 0b0010),
           ((1, p["k_max"] + 32, 4, "q8_0"), 0b0010), ((1, 64, 0, "q8_0"), 0b0100),
           ((1, 64, 1 << 16, "q8_0"), 0b0100),
           ((1, 288, 4, "q4_K"), 0b0010), ((1, 128, 4, "q2_K"), 0b0010),   # K-quants: K % 256
           ((1, p["k_max"] + 256, 4, "q6_K"), 0b0010), ((1, 256, 4, "q3_K", 1), 0b1000),
           ((1, 256, 4, "q4_K", 1), 0b1000), ((1, 256, 4, "q5_K", 1), 0b1000),
           ((1, 256, 4, "q6_K", 1), 0b1000)]                     # SUM_IN: Q3_K..Q6_K don't split
    for (m, k, n, fmt, *sum_in), bits in bad:
        await bench.start(m, k, n, fmt, *sum_in)
        assert await bench.read("status") == 0b100, (m, k, n, fmt)
        assert await bench.read("error") == bits, (m, k, n, fmt, await bench.read("error"))
    await bench.write("sum_in", 0)
    await bench.write("format", len(FORMATS))                  # the first code that is not one
    await bench.write("m", 1)
    await bench.write("k", 32)
    await bench.write("n", 1)
    await bench.write("ctrl", 1)
    assert await bench.read("error") == 0b1000
    assert dut.s_axis_tready.value == 0
    resp = await bench.axil.read(0x80, 4)
    assert int(resp.resp) == 2, "an unmapped read must answer SLVERR"
    assert await bench.write("status", 1) == 2, "a write to a read-only register must answer SLVERR"
    # a good start clears the error, and a matmul runs
    rng = np.random.default_rng(seed)
    x, w = random_rows(rng, 1, 1, "q8_0"), random_rows(rng, 2, 1, "q8_0")
    cycles = await check(bench, w, x, "q8_0", "after refused starts")
    assert await bench.read("error") == 0 and cycles > 0
    report({"test": "registers", "seed": seed, "stall": stall})


@cocotb.test()
async def reset_mid_matmul(dut):
    """Reset in the middle of a matmul (while data streams in, and while results stream out):
    nothing stale comes out and the next matmul is right."""
    bench, seed, stall = await start(dut)
    rng = np.random.default_rng(seed)
    for trial in range(2):
        fmt = ("q5_1", "q2_K")[trial]
        m, blocks, n = random_shape(rng, bench.params, fmt=fmt)
        w, x = random_matmul(rng, m, n, blocks, fmt)
        await bench.start(m, k_of(x, fmt), n, fmt, sum_in=trial)
        await bench.source.send(AxiStreamFrame(pack_input(w, x, fmt)))
        await ClockCycles(dut.clk, int(rng.integers(5, 40 + 20 * trial * blocks * m)))
        dut.rst.value = 1
        await ClockCycles(dut.clk, int(rng.integers(1, 4)))
        dut.rst.value = 0
        bench.source.clear()
        await ClockCycles(dut.clk, 20)
        while not bench.sink.empty():  # a partial frame may have come out before the reset
            bench.sink.recv_nowait()
        assert await bench.read("status") == 0, "reset must leave the accelerator idle"
        fmt = ("q4_K", "q8_0")[trial]
        m, blocks, n = random_shape(rng, bench.params, fmt=fmt)
        w, x = random_matmul(rng, m, n, blocks, fmt)
        await check(bench, w, x, fmt, f"after reset {trial}")
    report({"test": "reset_mid_matmul", "seed": seed, "stall": stall})


@cocotb.test()
async def run_job(dut):
    """`llmaccel run bfp` and the benches: the job's raw w and x through the DUT, Y saved."""
    job = os.environ.get("LLMACCEL_JOB")
    if not job:
        return
    bench, seed, stall = await start(dut, stall=float(os.environ.get("LLMACCEL_STALL", "0")))
    data = np.load(job)
    w, x, fmt = data["w"], data["x"], str(data["fmt"])
    t0 = time.perf_counter()
    y, runs = await driver_matmul(bench, w, x, fmt)
    np.save(os.environ["LLMACCEL_OUT"], y)
    cycles = sum(r.cycles for r in runs)
    report({"test": "run_job", "cycles": cycles, "tiles": len(runs), "m": int(x.shape[0]),
            "n": int(w.shape[0]),
            "k": k_of(x, fmt), "format": fmt,
            "wall_seconds": round(time.perf_counter() - t0, 2)})
