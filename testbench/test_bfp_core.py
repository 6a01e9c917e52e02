"""The BFP core (generators/bfp_core.py) in Amaranth's simulator against the golden models
(golden/formats.py): small configurations, every format, random valid/ready stalls on both streams, results compared bit for
bit; and its parameter messages, pinned."""
import random
import re

import numpy as np
import pytest
from amaranth.sim import Simulator

from llmaccel.generators.bfp_core import BfpCore
from llmaccel.generators.params import ParamError
from llmaccel.golden import formats as golden
from llmaccel.golden.bfp_layout import (ACTIVATION, BLOCK_BYTES, FORMATS, SPLIT_FORMATS,
                                        canonical_nan, input_streams, unpack_output)
from llmaccel.testbench.bfp_data import random_matmul
from llmaccel.testbench.runner import seed_for


@pytest.mark.parametrize("params,message", [
    ({"mac_lanes": 4}, "mac_lanes must be a power of two from 8 to 32, not 4"),
    ({"mac_lanes": 12}, "mac_lanes must be a power of two from 8 to 32, not 12"),
    ({"mac_lanes": 64}, "mac_lanes must be a power of two from 8 to 32, not 64"),
    ({"out_lanes": 3}, "out_lanes must be a power of two from 1 to 16, not 3"),
    ({"out_lanes": 32}, "out_lanes must be an integer from 1 to 16, not 32"),
    ({"k_max": 100}, "k_max must be a multiple of 32 from 32 to 16384, not 100"),
    ({"k_max": 0}, "k_max must be a multiple of 32 from 32 to 16384, not 0"),
    ({"m_max": 0}, "m_max must be an integer from 1 to 64, not 0"),
    ({"m_max": 65}, "m_max must be an integer from 1 to 64, not 65"),
    ({"lanes": 4}, "unknown parameter 'lanes'; allowed: mac_lanes, out_lanes, k_max, m_max, "
                   "streams"),
    ({"streams": 0}, "streams must be an integer from 1 to 4, not 0"),
    ({"streams": 5}, "streams must be an integer from 1 to 4, not 5"),
    ({"streams": 3, "out_lanes": 4}, "out_lanes must be streams (3) times a power of two, at "
                                     "most 16, not 4"),
    ({"streams": 3, "out_lanes": 9}, "out_lanes must be streams (3) times a power of two, at "
                                     "most 16, not 9"),
])
def test_parameter_messages(params, message):
    with pytest.raises(ParamError, match=f"^{re.escape(message)}$"):
        BfpCore(**params)


def run_core(params, jobs, seed, stall):
    """jobs: list of (fmt, w_raw, x_raw[, starting sums]). Returns each Y from the output stream.
    Each input stream stalls on its own draws."""
    dut = BfpCore(**params)
    rng = random.Random(seed)
    outputs = []

    async def testbench(ctx):
        for fmt, w, x, *sums in jobs:
            sums = sums[0] if sums else None
            m, n = x.shape[0], w.shape[0]
            blocks = x.shape[1] // BLOCK_BYTES[ACTIVATION[fmt]] * golden.get(fmt).block // 32
            ctx.set(dut.m, m)
            ctx.set(dut.blocks, blocks)
            ctx.set(dut.n, n)
            ctx.set(dut.fmt, FORMATS[fmt])
            ctx.set(dut.sum_in, sums is not None)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            words = [[int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]
                     for data in input_streams(w, x, fmt, dut.streams, sums, dut.ol)]
            got = b""
            at = [0] * dut.streams
            for _ in range(200_000):
                sends = []
                for port, queue, i in zip(dut.data_in, words, at):
                    sends.append(i < len(queue) and rng.random() >= stall)
                    ctx.set(port.valid, sends[-1])
                    if sends[-1]:
                        ctx.set(port.payload, queue[i])
                take = rng.random() >= stall
                ctx.set(dut.results.ready, take)
                _, _, *in_ok, out_ok, out = await ctx.tick().sample(
                    *(port.ready for port in dut.data_in), dut.results.valid,
                    dut.results.payload)
                for j, (send, ok) in enumerate(zip(sends, in_ok)):
                    at[j] += bool(send and ok)
                if take and out_ok:
                    got += int(out.data).to_bytes(8, "little")
                    if out.last:
                        assert out.keep == (0x0F if (m * n) % 2 else 0xFF)
                        break
            else:
                raise AssertionError("no last result word")
            assert at == [len(queue) for queue in words], "input words not taken"
            for port in dut.data_in:
                ctx.set(port.valid, 0)
            ctx.set(dut.results.ready, 0)
            outputs.append(unpack_output(got, m, n, dut.ol))
            assert not ctx.get(dut.busy)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return outputs


# The wide configurations take a minute or more each in Amaranth's simulator (it evaluates every
# lane's unpackers and products each cycle): make test runs the 3-stream one with stalls, `make
# regress` the rest of them.
WIDE = pytest.mark.slow
CORE_CONFIGS = [
    ({"mac_lanes": 8, "out_lanes": 2, "k_max": 512, "m_max": 3}, ()),
    ({"mac_lanes": 32, "out_lanes": 1, "k_max": 256, "m_max": 2}, (0.0, 0.4)),
    ({"mac_lanes": 16, "out_lanes": 4, "k_max": 256, "m_max": 2}, (0.0, 0.4)),
    ({"mac_lanes": 8, "out_lanes": 1, "k_max": 64, "m_max": 4}, ()),  # no K-quants (K < 256)
    # several input streams: rows interleaved, lanes per chain 2 (6 lanes), a last tile with
    # fewer rows than streams
    ({"mac_lanes": 16, "out_lanes": 6, "k_max": 256, "m_max": 2, "streams": 3}, (0.0,)),
    ({"mac_lanes": 8, "out_lanes": 4, "k_max": 64, "m_max": 3, "streams": 4}, ()),
    # an odd out_lanes: a lane pair on shared DSP48E1s and a lane alone
    ({"mac_lanes": 8, "out_lanes": 3, "k_max": 256, "m_max": 2, "streams": 3}, (0.4,)),
]


@pytest.mark.parametrize("config,stall", [
    pytest.param(config, stall, id=f"{i}-{stall}", marks=[WIDE] if stall in slow else [])
    for i, (config, slow) in enumerate(CORE_CONFIGS) for stall in (0.0, 0.4)])
def test_core_matmuls(config, stall, request):
    seed = seed_for(request.node.name)
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    jobs = []
    streams = config.get("streams", 1)
    shapes = [(1, 2, 3), (config["m_max"], 3, 2),
              (config["m_max"], 1, 4 if streams == 1 else 4 + 2 * streams)]
    for i, fmt in enumerate([*FORMATS, "q8_0"]):        # every format, one after another
        m, blocks, n = shapes[i % len(shapes)]
        qk = golden.get(fmt).block
        if config["k_max"] < qk:
            continue
        blocks = min(blocks if qk == 32 else (blocks + 1) // 2, config["k_max"] // qk)
        jobs.append((fmt, *random_matmul(rng, m, n, blocks, fmt, specials=0.2)))
    for (fmt, w, x), y in zip(jobs, run_core(config, jobs, seed, stall)):
        want = golden.matmul(w, x, fmt)
        a, b = canonical_nan(y).view(np.uint32), canonical_nan(want).view(np.uint32)
        assert np.array_equal(a, b), (fmt, y, want)


@pytest.mark.parametrize("config", [
    {"mac_lanes": 8, "out_lanes": 4, "k_max": 64, "m_max": 3},
    pytest.param({"mac_lanes": 32, "out_lanes": 1, "k_max": 64, "m_max": 2}, marks=WIDE),
    {"mac_lanes": 8, "out_lanes": 2, "k_max": 512, "m_max": 2},   # Q2_K
    {"mac_lanes": 8, "out_lanes": 4, "k_max": 64, "m_max": 2, "streams": 2},  # sums per stream
])
def test_k_split_continues_the_sums(config, request):
    """K = 5 blocks above k_max = 2 blocks in three parts (2, 2, 1), each starting from the last
    part's Y (sum_in): bit for bit the unsplit golden result, NaN and Inf scales included; every
    format that splits (Q2_K: super-blocks of 256, k_max = 512)."""
    seed = seed_for(request.node.name)
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    m, n, blocks = config["m_max"], 6, 5
    cases = [(fmt, *random_matmul(rng, m, n, blocks, fmt, specials=0.2)) for fmt in SPLIT_FORMATS
             if golden.get(fmt).block * 2 == config["k_max"]]
    ys = [np.zeros((m, n), np.float32) for _ in cases]
    # Part by part, every format's part in one simulation (one elaboration per part, not per
    # format and part), each continuing that format's last Y.
    for b0, b1 in ((0, 2), (2, 4), (4, 5)):
        parts = []
        for (fmt, w, x), y in zip(cases, ys):
            wb, xb = BLOCK_BYTES[fmt], BLOCK_BYTES[ACTIVATION[fmt]]
            parts.append((fmt, w[:, b0 * wb:b1 * wb], x[:, b0 * xb:b1 * xb], y))
        ys = run_core(config, parts, seed, 0.3)
    for (fmt, w, x), y in zip(cases, ys):
        want = golden.matmul(w, x, fmt)
        a, b = canonical_nan(y).view(np.uint32), canonical_nan(want).view(np.uint32)
        assert np.array_equal(a, b), (fmt, y, want)

