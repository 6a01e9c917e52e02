"""Unit tests of golden/bfp_layout.py: the BFP accelerator's stream words, checked byte by byte
against hand-built rows, and the output order round trip."""
import struct

import numpy as np
import pytest

from llmaccel.golden import bfp, bfp_layout as L


def test_q8_0_row_layout_by_hand():
    # Two Q8_0 blocks: d = 1.5 and -0.25, qs 0..31 and -1..-32.
    blocks = [struct.pack("<e", 1.5) + bytes(range(32)),
              struct.pack("<e", -0.25) + bytes((-i - 1) & 0xFF for i in range(32))]
    raw = np.frombuffer(b"".join(blocks), np.uint8)[None, :].copy()
    out = L.pack_rows(raw, "q8_0")[0].tobytes()
    assert len(out) == L.row_words(2) * 8 == (1 + 8) * 8
    assert out[:8] == struct.pack("<e", 1.5) + struct.pack("<e", -0.25) + bytes(4)
    assert out[8:40] == bytes(range(32))
    assert out[40:72] == bytes((-i - 1) & 0xFF for i in range(32))


def test_mxint8_row_layout_by_hand():
    raw = np.zeros((1, 5 * 33), np.uint8)
    for b in range(5):
        raw[0, b * 33] = 120 + b
        raw[0, b * 33 + 1:(b + 1) * 33] = b
    out = L.pack_rows(raw, "mxint8")[0]
    assert len(out) == (2 + 20) * 8
    assert list(out[:16]) == [120, 0, 121, 0, 122, 0, 123, 0, 124, 0, 0, 0, 0, 0, 0, 0]
    assert all((out[16 + 32 * b:16 + 32 * (b + 1)] == b).all() for b in range(5))


def test_input_is_x_then_w():
    rng = np.random.default_rng(5)
    x = bfp.quantize_q8_0(rng.standard_normal((2, 64)).astype(np.float32))
    w = bfp.quantize_q8_0(rng.standard_normal((3, 64)).astype(np.float32))
    data = L.pack_input(w, x, "q8_0")
    rw = L.row_words(2) * 8
    assert len(data) == 5 * rw
    assert data[:rw] == L.pack_rows(x[:1], "q8_0").tobytes()
    assert data[2 * rw:3 * rw] == L.pack_rows(w[:1], "q8_0").tobytes()


@pytest.mark.parametrize("m,n,lanes", [(1, 1, 4), (3, 5, 4), (2, 8, 2), (4, 7, 1), (1, 9, 16)])
def test_output_round_trip(m, n, lanes):
    rng = np.random.default_rng(m * 100 + n)
    y = rng.standard_normal((m, n)).astype(np.float32)
    data = L.pack_output(y, lanes)
    assert len(data) == L.output_words(m, n) * 8
    assert np.array_equal(L.unpack_output(data, m, n, lanes), y)
    order = L.output_order(m, n, lanes)
    assert struct.unpack("<f", data[:4])[0] == y[order[0, 0], order[0, 1]]
    # tile by tile: the first tile's rows for every m before the next tile
    assert [tuple(o) for o in order[:min(lanes, n) * m]] == \
        [(mi, r) for mi in range(m) for r in range(min(lanes, n))]


def test_canonical_nan():
    y = np.array([np.nan, -np.nan, 1.0, -np.inf], np.float32)
    y[1] = np.frombuffer(struct.pack("<I", 0xFFC00001), np.float32)[0]
    bits = L.canonical_nan(y).view(np.uint32)
    assert list(bits) == [0x7FC00000, 0x7FC00000, 0x3F800000, 0xFF800000]


def test_errors():
    with pytest.raises(ValueError, match="format must be one of q8_0, mxint8, not 'q4_0'"):
        L.pack_rows(np.zeros((1, 34), np.uint8), "q4_0")
    with pytest.raises(ValueError, match=r"rows must be uint8 \[R, B \* 34\]"):
        L.pack_rows(np.zeros((1, 33), np.uint8), "q8_0")
    with pytest.raises(ValueError, match="must agree on Kb"):
        L.pack_input(np.zeros((1, 68), np.uint8), np.zeros((1, 34), np.uint8), "q8_0")
    with pytest.raises(ValueError, match="expected 1 result words"):
        L.unpack_output(bytes(16), 1, 2, 4)
    with pytest.raises(ValueError, match="K = 33 must be a positive multiple of 32"):
        L.blocks_of(33)
