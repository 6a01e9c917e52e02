"""host/driver.py without a simulator: its checks of the core's identity and of the caller's
arrays (each a clear error before anything reaches the core), and the register names. The driver
against the real core is testbench/test_top_cocotb.py."""
import re

import numpy as np
import pytest

from llmaccel.generators.params import ParamError
from llmaccel.generators.top import ID_VALUE, REGISTERS, LlmAccelerator
from llmaccel.host.driver import Accelerator, AcceleratorError


class Registers:
    """A register file holding what the default core reads back (no data path: tests that reach
    the stream fail loudly)."""

    def __init__(self, ident=ID_VALUE):
        self.values = {r.offset: 0 for r in REGISTERS}
        by = {r.name: r.offset for r in REGISTERS}
        self.values.update({by["id"]: ident, by["params"]: 8 | 4 << 8 | 8 << 16,
                            by["k_max"]: 4096, by["tern_geometry"]: 3 | 3 << 4 | 16 << 8,
                            by["tern_m_max"]: 8, by["tern_k_max"]: 1536, by["tern_n_max"]: 1536,
                            by["streams"]: 1})

    def read32(self, offset):
        return self.values[offset]

    def write32(self, offset, value):
        self.values[offset] = value

    def stream(self, data, out_bytes):
        raise AssertionError("the driver streamed data it should have refused")


def test_reads_the_geometry():
    acc = Accelerator(Registers())
    assert acc.bfp == {"mac_lanes": 8, "out_lanes": 4, "m_max": 8, "k_max": 4096}
    assert acc.ternary == {"g": 3, "rows": 3, "lanes": 16, "m_max": 8, "k_max": 1536,
                           "n_max": 1536}


def test_wrong_id():
    with pytest.raises(AcceleratorError, match="ID register reads 0xdeadbeef, not 0x4c4d5401"):
        Accelerator(Registers(0xDEADBEEF))


def test_register_names():
    acc = Accelerator(Registers())
    acc.write("m", 3)
    assert acc.read("m") == 3
    with pytest.raises(ValueError, match="no register 'start'; registers: ctrl, status"):
        acc.read("start")


@pytest.mark.parametrize("w,x,message", [
    (np.zeros((2, 34), np.int8), np.zeros((1, 34), np.uint8),
     "weights must be raw q8_0 rows: a non-empty 2-D uint8 array"),
    (np.zeros((2, 35), np.uint8), np.zeros((1, 35), np.uint8),
     "weights: 35 bytes per row is not a whole number of 34-byte q8_0 blocks"),
    (np.zeros((2, 68), np.uint8), np.zeros((1, 34), np.uint8),
     "K disagrees: weights have 64 values per row, activations 32"),
])
def test_q8_0_input_errors(w, x, message):
    """(and the same checks for every format: test_format_input_errors)"""
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Accelerator(Registers()).matmul_q8_0(w, x)


@pytest.mark.parametrize("fmt,w,x,message", [
    ("q4_1", np.zeros((2, 20), np.uint8), np.zeros((1, 34), np.uint8),
     "activations: 34 bytes per row is not a whole number of 36-byte q8_1 blocks"),
    ("q5_0", np.zeros((2, 44), np.uint8), np.zeros((1, 34), np.uint8),
     "K disagrees: weights have 64 values per row, activations 32"),
    ("q4_0", np.zeros((2, 19), np.uint8), np.zeros((1, 34), np.uint8),
     "weights: 19 bytes per row is not a whole number of 18-byte q4_0 blocks"),
])
def test_format_input_errors(fmt, w, x, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Accelerator(Registers()).matmul(w, x, fmt)


def test_unknown_formats_and_unsplittable_k_are_refused():
    """An unknown format name; Q3_K..Q6_K with K above K_MAX (their reference keeps nine sums per
    row, so K cannot be split), while Q2_K's K splits; no K-quant on an engine whose K_MAX is
    below a super-block."""
    acc = Accelerator(Registers())
    w, x = np.zeros((2, 144), np.uint8), np.zeros((1, 292), np.uint8)
    with pytest.raises(ValueError, match="^format must be one of q8_0, mxint8, q4_0"):
        acc.matmul(w, x, "f16")
    long = np.zeros((2, 17 * 144), np.uint8)                  # K = 4352 > K_MAX = 4096
    with pytest.raises(ValueError, match=re.escape(
            "K = 4352 is above the engine's K_MAX = 4096, and q4_K's K cannot be split: "
            "llama.cpp's reference keeps nine sums per row and adds them at its end (the "
            "formats that split: q8_0, mxint8, q4_0, q4_1, q5_0, q5_1, q2_K)")):
        acc.pack_bfp(long, "q4_K")
    assert sorted(acc.pack_bfp(np.zeros((2, 17 * 84), np.uint8), "q2_K").parts) == [(0, 0),
                                                                                   (0, 16)]
    small = Registers()
    small.values[next(r.offset for r in REGISTERS if r.name == "k_max")] = 128
    with pytest.raises(ValueError, match=re.escape(
            "the engine's K_MAX = 128 holds no q2_K block of 256 values")):
        Accelerator(small).pack_bfp(np.zeros((2, 84), np.uint8), "q2_K")


@pytest.mark.parametrize("w,x,message", [
    (np.zeros((2, 4), np.int16), np.zeros((1, 4), np.int8),
     "weights must be a non-empty 2-D int8 array of trits"),
    (np.array([[0, 2]], np.int8), np.zeros((1, 2), np.int8),
     "weights must be trits in {-1, 0, +1}: W[0, 1] = 2"),
    (np.zeros((2, 4), np.int8), np.zeros((1, 4), np.float32),
     "activations must be a non-empty 2-D int8 array"),
    (np.zeros((2, 4), np.int8), np.zeros((1, 5), np.int8),
     "K disagrees: weights [N, K] = [2, 4], activations [M, K] = [1, 5]"),
])
def test_ternary_input_errors(w, x, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Accelerator(Registers()).matmul_ternary(w, x)


def test_refused_start_names_the_bad_field():
    class Refusing(Registers):
        def write32(self, offset, value):
            super().write32(offset, value)
            if offset == 0:                                 # CTRL: refuse with "bad K"
                self.values[0x04], self.values[0x08] = 0b100, 0b10

    with pytest.raises(AcceleratorError, match=r"refused ternary M=1 K=4 N=2: bad k \(ERROR = 0x2\)"):
        Accelerator(Refusing()).matmul_ternary(np.zeros((2, 4), np.int8), np.zeros((1, 4), np.int8))


@pytest.mark.parametrize("params,message", [
    ({"bfp_mac_lanes": 3}, "bfp_mac_lanes must be a power of two from 8 to 32, not 3"),
    ({"tern_g": 5}, "tern_g must be an integer from 1 to 4, not 5"),
    ({"act_bits": 4}, "unknown parameter 'act_bits'"),
    ({"streams": 5}, "streams must be an integer from 1 to 4, not 5"),
    ({"bfp_out_lanes": 4}, "bfp_out_lanes must be streams (3) times a power of two, at most 16, "
                           "not 4"),
    ({"streams": 4}, "bfp_out_lanes must be streams (4) times a power of two, at most 16, not 6"),
    ({"tern_lanes": 4}, "streams must be at most the words of the ternary engine's beats (1 per "
                        "weight beat, 2 per activation beat), not 3"),
])
def test_core_parameter_messages(params, message):
    with pytest.raises(ParamError, match=re.escape(message)):
        LlmAccelerator(**params)


def test_drives_the_bfp_block_alone():
    from llmaccel.generators.bfp import ID_VALUE as BFP_ID

    class BfpBlock(Registers):
        def write32(self, offset, value):
            assert offset != 0x30, "the bfp block has no ENGINE register"
            super().write32(offset, value)

    acc = Accelerator(BfpBlock(BFP_ID))
    assert acc.ternary is None and acc.bfp["out_lanes"] == 4
    with pytest.raises(AcceleratorError, match="the bfp block alone: it has no ternary engine"):
        acc.matmul_ternary(np.zeros((2, 4), np.int8), np.zeros((1, 4), np.int8))


class Streams(Registers):
    """The register file, and a stream that records what it was sent and answers zeros, with
    STATUS done afterwards."""

    def __init__(self):
        super().__init__()
        self.sent = []

    def stream(self, data, out_bytes):
        self.sent.append(b"".join(data))
        self.values[{r.name: r.offset for r in REGISTERS}["status"]] = 2
        return bytes(out_bytes)


def test_weights_packed_once_stream_as_the_raw_rows():
    """pack_bfp's parts (K = 4160 > k_max = 4096: two) give the same stream as the raw rows, and
    packed weights are refused for another format or geometry."""
    from llmaccel.golden import q4q5
    rng = np.random.default_rng(4)
    w = q4q5.quantize(rng.standard_normal((3, 4160)).astype(np.float32), "q4_1")
    x = q4q5.quantize_q8_1(rng.standard_normal((2, 4160)).astype(np.float32))
    raw, packed = Streams(), Streams()
    Accelerator(raw).matmul(w, x, "q4_1")
    acc = Accelerator(packed)
    rows = acc.pack_bfp(w, "q4_1")
    assert sorted(rows.parts) == [(0, 0), (0, 128)] and rows.shape == (3, 130)
    acc.matmul(rows, x, "q4_1")
    assert len(raw.sent) == 2 and raw.sent == packed.sent
    with pytest.raises(ValueError, match="^these weights were packed as q4_1, not q5_1$"):
        acc.matmul(rows, x, "q5_1")
    acc.bfp = {**acc.bfp, "k_max": 2048}
    with pytest.raises(ValueError, match="^these weights were packed for another BFP engine "
                                         "geometry$"):
        acc.matmul(rows, x, "q4_1")


class ThreeStreams(Streams):
    """A core with three input streams (6 BFP output lanes): records each run's parts."""

    def __init__(self):
        super().__init__()
        by = {r.name: r.offset for r in REGISTERS}
        self.values.update({by["streams"]: 3, by["params"]: 16 | 6 << 8 | 8 << 16})
        self.parts = []

    def stream(self, data, out_bytes):
        self.parts.append(list(data))
        return super().stream(data, out_bytes)


def test_runs_spread_over_the_streams():
    """The driver reads STREAMS and sends each run's input as the golden layouts spread it: BFP
    weight rows interleaved (the starting sums of a K split per stream), ternary words round
    robin."""
    from llmaccel.golden import q4q5
    from llmaccel.golden.bfp_layout import input_streams
    from llmaccel.golden.top_layout import ternary_input_streams
    rng = np.random.default_rng(5)
    w = q4q5.quantize(rng.standard_normal((7, 4160)).astype(np.float32), "q4_1")
    x = q4q5.quantize_q8_1(rng.standard_normal((1, 4160)).astype(np.float32))
    backend = ThreeStreams()
    acc = Accelerator(backend)
    assert acc.streams == 3
    acc.matmul(w, x, "q4_1")
    wb, xb = 20, 36
    first = input_streams(w[:, :128 * wb], x[:, :128 * xb], "q4_1", 3)
    sums = np.zeros((1, 7), np.float32)          # the first part's Y: the stand-in sends zeros
    second = input_streams(w[:, 128 * wb:], x[:, 128 * xb:], "q4_1", 3, sums, out_lanes=6)
    assert backend.parts == [first, second]
    assert len(first) == 3 and all(first)
    backend.parts.clear()
    xt = rng.integers(-128, 128, (2, 100)).astype(np.int8)
    wt = rng.integers(-1, 2, (5, 100)).astype(np.int8)
    acc.matmul_ternary(wt, xt)
    assert backend.parts == [ternary_input_streams(xt, wt, 3, 16, 3, 3)]
