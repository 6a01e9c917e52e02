"""The binary32 units (generators/fp32_mul.py, fp32_add.py, fp32_from_int.py and the fp16 helper
in fp_formats.py) in Amaranth's own simulator: the fast tier of the Verilog benches in
cocotb_fp32.py. A few thousand corner and random operands per unit (testbench/fp32_vectors.py)
against NumPy float32 (a * b, a + b, ldexp) or the exact rounding of golden/fp32.py, with `en`
dropped on random cycles (garbage on the inputs then, the output must hold and nothing may be
lost). Every test prints its seed; SEED=N reproduces or varies a run.
"""
import re

import numpy as np
import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from llmaccel.generators.fp32_add import Fp32Adder
from llmaccel.generators.fp32_from_int import Fp32FromInt
from llmaccel.generators.fp32_mul import Fp32Multiplier
from llmaccel.generators.fp_formats import QNAN, fp16_to_fp32
from llmaccel.generators.params import ParamError
from llmaccel.golden.fp32 import ldexp_exact
from llmaccel.testbench import fp32_vectors as V
from llmaccel.testbench.runner import seed_for

EN_LOW = 0.2    # share of cycles with `en` low


def run_pipeline(dut, inputs: dict, rng, en_low=EN_LOW):
    """Feed every operand of `inputs` (port name -> array) to the pipelined `dut`, with `en` low
    on random cycles; return the results in operand order. Checks on the way that the output
    holds on every cycle with `en` low and changes only as the pipeline says."""
    n = len(next(iter(inputs.values())))
    lat = dut.LATENCY
    results = []
    held = []

    async def bench(ctx):
        issued = 0          # operands sampled at en-high edges so far
        last = ctx.get(dut.result)
        while len(results) < n:
            en = issued >= n or rng.random() >= en_low
            if en and issued < n:
                for port, values in inputs.items():
                    ctx.set(getattr(dut, port), int(values[issued]))
            else:
                for port in inputs:
                    port_sig = getattr(dut, port)
                    ctx.set(port_sig, int(rng.integers(0, 1 << len(port_sig))))
            ctx.set(dut.en, int(en))
            await ctx.tick()
            out = ctx.get(dut.result)
            if en:
                issued += 1
                if issued >= lat:      # the output register now holds operand issued - lat
                    results.append(out)
            else:
                held.append(out == last)
            last = out

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert all(held), f"output changed on {held.count(False)} cycles with en low"
    assert len(held) > 0 or en_low == 0
    return np.array(results, dtype=np.uint32)


def check(unit, ops, got, want, seed):
    bad = V.mismatches(got, want)
    cov = V.coverage(unit, ops, want)
    print(f"{unit}: seed={seed} ops={len(got)} {cov}")
    assert len(bad) == 0, (f"seed={seed}: {len(bad)} of {len(got)} wrong, first: "
                           + V.describe(unit, ops, got, want, bad[0]))


@pytest.mark.parametrize("unit", ["mul", "add"])
def test_binary_unit_matches_numpy(unit):
    """All pairs of the special values (68 x 68), then random bit patterns and corners."""
    seed = seed_for(f"test_fp32_amaranth::{unit}")
    print(f"seed={seed} (SEED={seed} reproduces it)")
    rng = np.random.default_rng(seed)
    a, b = V.binary_operands(unit, rng, 8000)
    dut = Fp32Multiplier() if unit == "mul" else Fp32Adder()
    got = run_pipeline(dut, {"a": a, "b": b}, rng)
    check(unit, {"a": a, "b": b}, got, V.reference(unit, a, b), seed)


FROM_INT_CONFIGS = [(21, 10), (32, 12), (26, 16), (8, 5), (2, 2), (24, 9)]


@pytest.mark.parametrize("width,exp_bits", FROM_INT_CONFIGS)
def test_from_int_matches_reference(width, exp_bits):
    """value * 2**exp against np.ldexp(np.float32(value), exp) where the cast is exact
    (|value| < 2**24, llama.cpp's ldexpf((float)sumi, e)) and against the exact Fraction rounding
    of golden.fp32 for every operand."""
    seed = seed_for(f"test_fp32_amaranth::from_int[{width}-{exp_bits}]")
    print(f"seed={seed} (SEED={seed} reproduces it)")
    rng = np.random.default_rng(seed)
    value, exp = V.from_int_operands(rng, 3000, width, exp_bits)
    got = run_pipeline(Fp32FromInt(width, exp_bits), {"value": value, "exp": exp}, rng)
    want = np.array([ldexp_exact(int(v), int(e)) for v, e in zip(value, exp)], dtype=np.uint32)
    small = np.abs(value) < 1 << 24
    with np.errstate(all="ignore"):
        numpy_ref = np.ldexp(value[small].astype(np.float32), exp[small]).view(np.uint32)
    # the references agree with each other (and with the float64 route the Verilog tier uses)
    assert np.array_equal(numpy_ref, want[small])
    assert np.array_equal(V.from_int_reference(value, exp), want)
    check("from_int", {"value": value, "exp": exp}, got, want, seed)


def test_from_int_exact_ints():
    """exp = 0 is int -> float: exact below 2**24, rounded once above (ties to even)."""
    values = np.array([0, 1, -1, (1 << 24) - 1, 1 << 24, (1 << 24) + 1, (1 << 24) + 3,
                       (1 << 25) + 2, (1 << 25) + 6, -(1 << 31), (1 << 31) - 1, 16777217,
                       -16777219, 0x7FFFFFC0, 0x7FFFFF80], dtype=np.int64)
    got = run_pipeline(Fp32FromInt(32, 4), {"value": values, "exp": np.zeros_like(values)},
                       np.random.default_rng(0), en_low=0)
    want = values.astype(np.float32).view(np.uint32)   # the C (float) cast rounds to nearest even
    assert [hex(x) for x in got] == [hex(x) for x in want]
    assert got[0] == 0                                  # 0 -> +0


def test_en_low_holds_every_stage():
    """A long stall in the middle of a burst: the operands in flight come out unchanged and in
    order afterwards, and the output holds during the stall."""
    rng = np.random.default_rng(seed_for("test_fp32_amaranth::stall"))
    for dut, ops, want in [
        (Fp32Multiplier(), {"a": np.array([0x3FC00000, 0x00000003, 0x7F7FFFFF, 0xBF800001,
                                           0x00800000], np.uint32),
                            "b": np.array([0x40000000, 0x3F000000, 0x40000000, 0x3F800001,
                                           0x3F7FFFFF], np.uint32)}, "mul"),
        (Fp32Adder(), {"a": np.array([0x3F800000, 0x7F800000, 0x80000000, 0x00000001,
                                      0x3F800001], np.uint32),
                       "b": np.array([0xBF800000, 0xFF800000, 0x80000000, 0x807FFFFF,
                                      0x33800000], np.uint32)}, "add"),
    ]:
        lat = dut.LATENCY
        results, held = [], []

        async def bench(ctx, dut=dut, ops=ops):
            ctx.set(dut.en, 1)
            for i in range(lat):                    # fill the pipeline, nothing out yet
                ctx.set(dut.a, int(ops["a"][i]))
                ctx.set(dut.b, int(ops["b"][i]))
                await ctx.tick()
            results.append(ctx.get(dut.result))
            ctx.set(dut.en, 0)
            for _ in range(50):                     # stall with garbage on the inputs
                ctx.set(dut.a, int(rng.integers(0, 1 << 32)))
                ctx.set(dut.b, int(rng.integers(0, 1 << 32)))
                await ctx.tick()
                held.append(ctx.get(dut.result))
            ctx.set(dut.en, 1)
            for i in range(lat, len(ops["a"]) + lat - 1):
                if i < len(ops["a"]):
                    ctx.set(dut.a, int(ops["a"][i]))
                    ctx.set(dut.b, int(ops["b"][i]))
                await ctx.tick()
                results.append(ctx.get(dut.result))

        sim = Simulator(dut)
        sim.add_clock(1e-8)
        sim.add_testbench(bench)
        sim.run()
        ref = V.reference(want, ops["a"], ops["b"])
        assert held == [results[0]] * 50
        got = np.array(results, np.uint32)
        assert len(V.mismatches(got, ref)) == 0, [hex(x) for x in got]


# -- fp16 helper ------------------------------------------------------------------------------

class _Widen(Elaboratable):
    """`copies` fp16_to_fp32 side by side, so one simulator step checks several values."""

    def __init__(self, copies):
        self.h = Signal(16 * copies)
        self.f = Signal(32 * copies)
        self.copies = copies

    def elaborate(self, platform):
        m = Module()
        for i in range(self.copies):
            m.d.comb += self.f[32 * i:32 * (i + 1)].eq(fp16_to_fp32(m, self.h[16 * i:16 * (i + 1)]))
        return m


def test_fp16_to_fp32_exhaustive():
    """Every binary16 bit pattern widened exactly like NumPy (float16 -> float32), except that
    every NaN is the canonical quiet NaN."""
    copies = 64
    dut = _Widen(copies)
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    packed = [int.from_bytes(h[i:i + copies].tobytes(), "little") for i in range(0, len(h), copies)]
    got = []

    async def bench(ctx):
        for word in packed:
            ctx.set(dut.h, word)
            got.append(ctx.get(dut.f))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    got = np.frombuffer(b"".join(g.to_bytes(4 * copies, "little") for g in got), np.uint32)
    want = h.view(np.float16).astype(np.float32).view(np.uint32)
    nan = np.isnan(h.view(np.float16))
    assert nan.sum() == 2 * 1023
    assert (got[nan] == QNAN).all()
    bad = np.flatnonzero(got[~nan] != want[~nan])
    assert len(bad) == 0, f"fp16 {h[~nan][bad[0]]:#06x} -> {got[~nan][bad[0]]:#010x}"


# -- interface and parameters -----------------------------------------------------------------

def test_interface():
    """The ports and latencies the accelerator is built against."""
    for cls, lat in ((Fp32Multiplier, 4), (Fp32Adder, 3)):
        dut = cls()
        assert cls.LATENCY == lat
        assert [(len(dut.a), len(dut.b), len(dut.en), len(dut.result))] == [(32, 32, 1, 32)]
    dut = Fp32FromInt()
    assert Fp32FromInt.LATENCY == 3 and dut.LATENCY == 3
    assert (dut.width, dut.exp_bits) == (21, 10)
    assert dut.value.shape().signed and len(dut.value) == 21
    assert dut.exp.shape().signed and len(dut.exp) == 10
    assert len(dut.result) == 32 and len(dut.en) == 1
    dut = Fp32FromInt(width=32, exp_bits=16)
    assert len(dut.value) == 32 and len(dut.exp) == 16


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


@pytest.mark.parametrize("params,message", [
    ({"width": 40}, "width must be an integer from 2 to 32, not 40"),
    ({"width": 1}, "width must be an integer from 2 to 32, not 1"),
    ({"width": 33}, "width must be an integer from 2 to 32, not 33"),
    ({"width": "21"}, "width must be an integer from 2 to 32, not '21'"),
    ({"width": True}, "width must be an integer from 2 to 32, not True"),
    ({"exp_bits": 1}, "exp_bits must be an integer from 2 to 16, not 1"),
    ({"exp_bits": 17}, "exp_bits must be an integer from 2 to 16, not 17"),
    ({"exp_bits": 10.0}, "exp_bits must be an integer from 2 to 16, not 10.0"),
])
def test_from_int_parameter_messages(params, message):
    with pytest.raises(ParamError, match=exact(message)):
        Fp32FromInt(**params)
