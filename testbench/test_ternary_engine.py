"""The ternary engine core in Amaranth's simulator against golden/ternary_layout.py: several passes
back to back, random valid/ready stalls on all three streams, every g and buffering."""
import random
import re

import numpy as np
import pytest
from amaranth.sim import Simulator

from llmaccel.generators.params import ParamError
from llmaccel.generators.ternary import TernaryAccelerator
from llmaccel.generators.ternary_engine import TernaryEngine
from llmaccel.golden.ternary import group_codes
from llmaccel.golden.ternary_layout import pass_sums


@pytest.mark.parametrize("params,message", [
    ({"g": 0}, "g must be an integer from 1 to 4, not 0"),
    ({"g": 5}, "g must be an integer from 1 to 4, not 5"),
    ({"lanes": 12}, "lanes must be a power of two from 1 to 256, not 12"),
    ({"rows": 4}, "rows must be an integer from 1 to 3, not 4"),
    ({"act_bits": 1}, "act_bits must be an integer from 2 to 16, not 1"),
    ({"double_buffer": 2}, "double_buffer must be 0 or 1, not 2"),
    ({"lanes_per_builder": 3}, "lanes_per_builder must be a power of two from 1 to 16, not 3"),
    ({"k": 3}, "unknown parameter 'k'; allowed: g, lanes, rows, act_bits, double_buffer, "
               "lanes_per_builder"),
])
def test_parameter_messages(params, message):
    with pytest.raises(ParamError, match=re.escape(message)):
        TernaryEngine(**params)


@pytest.mark.parametrize("params,message", [
    ({"direct_fifo": -1}, "direct_fifo must be an integer from 0 to 512, not -1"),
    ({"direct_fifo": 513}, "direct_fifo must be an integer from 0 to 512, not 513"),
    ({"direct_fifo": 8.0}, "direct_fifo must be an integer from 0 to 512, not 8.0"),
    ({"m_max": 0}, "m_max must be an integer from 1 to 256, not 0"),
    ({"k_max": 0}, "k_max must be an integer from 1 to 1048576, not 0"),
    ({"fifo": 2}, "unknown parameter 'fifo'; allowed: g, rows, lanes, k_max, n_max, m_max, "
                  "act_bits, double_buffer, lanes_per_builder, direct_fifo"),
])
def test_accelerator_parameter_messages(params, message):
    """The accelerator's own parameters (generators/ternary.py) around the engine's."""
    with pytest.raises(ParamError, match=f"^{re.escape(message)}$"):
        TernaryAccelerator(**params)


def test_derived_widths():
    e = TernaryEngine(g=3, lanes=64, rows=3, act_bits=8)
    assert e.entries == 27 and e.index_bits == 5
    assert e.entry_bits == 10          # |sum| <= 3 * 128 = 384
    assert e.sum_bits == 16            # |sum| <= 64 * 3 * 128 = 24576
    assert e.build_cycles == 27 * 4


def run_engine(params, passes, seed, stall):
    """Drive `passes` (list of (x, w)) through the engine with random stalls; return the sums."""
    dut = TernaryEngine(**params)
    g, rows = dut.g, dut.rows
    rng = random.Random(seed)
    got = []
    total = sum(len(w) for _, w in passes) // rows

    async def send(ctx, stream, beats):
        for beat in beats:
            while rng.random() < stall:
                await ctx.tick()
            ctx.set(stream.payload, beat)
            ctx.set(stream.valid, 1)
            await ctx.tick().until(stream.ready)
            ctx.set(stream.valid, 0)

    async def acts(ctx):
        await send(ctx, dut.acts, [[int(v) for v in x] for x, _ in passes])

    async def weights(ctx):
        beats = []
        for _, w in passes:
            codes = group_codes(w, g)
            n = len(w) // rows
            for b in range(n):
                beats.append({"code": [int(v) for v in codes[b * rows:(b + 1) * rows].reshape(-1)],
                              "last": int(b == n - 1)})
        await send(ctx, dut.weights, beats)

    async def sink(ctx):
        while len(got) < total:
            ready = rng.random() >= stall
            ctx.set(dut.sums.ready, ready)
            valid = ctx.get(dut.sums.valid)
            payload = ctx.get(dut.sums.payload)
            await ctx.tick()
            if valid and ready:
                got.append(([int(v) for v in payload.sum], int(payload.last)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(acts)
    sim.add_testbench(weights)
    sim.add_testbench(sink)
    sim.run_until(1e-8 * (200 + 40 * total + 400 * len(passes)))
    return got, dut


CONFIGS = [
    {"g": 1, "lanes": 8, "rows": 3},
    {"g": 2, "lanes": 4, "rows": 2, "double_buffer": 0, "lanes_per_builder": 2},
    {"g": 3, "lanes": 8, "rows": 3},
    {"g": 3, "lanes": 4, "rows": 1, "double_buffer": 0, "lanes_per_builder": 1},
    {"g": 4, "lanes": 2, "rows": 3, "lanes_per_builder": 2},
]


@pytest.mark.parametrize("stall", [0.0, 0.3, 0.7])
@pytest.mark.parametrize("params", CONFIGS, ids=lambda p: "-".join(f"{k}{v}" for k, v in p.items()))
def test_passes_match_golden(params, stall):
    seed = 1000 + CONFIGS.index(params) * 10 + int(stall * 10)
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    e = TernaryEngine(**params)
    width = e.lanes * e.g
    passes = []
    kinds = ["random", "sparse", "zero", "plus", "minus", "extreme"]
    for kind in kinds:
        n = e.rows * int(rng.integers(1, 5))
        x = rng.integers(-128, 128, width).astype(np.int8)
        w = rng.integers(-1, 2, (n, width)).astype(np.int8)
        if kind == "sparse":
            w[rng.random(w.shape) < 0.9] = 0
        elif kind == "zero":
            w[:] = 0
        elif kind == "plus":
            w[:] = 1
        elif kind == "minus":
            w[:] = -1
        elif kind == "extreme":
            x[:] = -128
            w[:] = rng.choice([-1, 1])
        passes.append((x, w))
    got, dut = run_engine(params, passes, seed, stall)
    want = [int(v) for x, w in passes for v in pass_sums(x, w, e.g)]
    lasts = [int(b == len(w) // e.rows - 1) for _, w in passes for b in range(len(w) // e.rows)]
    assert [v for beat, _ in got for v in beat] == want
    assert [last for _, last in got] == lasts


def test_extreme_sum_fits():
    """All activations -128 and all weights of one sign: the largest magnitude a sum can take."""
    params = {"g": 3, "lanes": 8, "rows": 3}
    e = TernaryEngine(**params)
    x = np.full(e.lanes * e.g, -128, dtype=np.int8)
    w = np.concatenate([np.ones((3, 24), np.int8), -np.ones((3, 24), np.int8)])
    got, _ = run_engine(params, [(x, w)], 7, 0.0)
    assert [v for beat, _ in got for v in beat] == [-3072] * 3 + [3072] * 3
