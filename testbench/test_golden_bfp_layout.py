"""Unit tests of golden/bfp_layout.py: the BFP accelerator's stream words, checked byte by byte
against hand-built rows, and the output order round trip."""
import struct

import numpy as np
import pytest

from llmaccel.golden import bfp, bfp_layout as L, q4q5
from llmaccel.testbench.bfp_data import random_matmul


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
    with pytest.raises(ValueError, match="row format must be one of q8_0, mxint8, q8_1, q4_0, "
                                         "q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K, q8_K, "
                                         "not 'f16'"):
        L.pack_rows(np.zeros((1, 34), np.uint8), "f16")
    with pytest.raises(ValueError, match="K = 288 must be a multiple of 256 for q4_K"):
        L.row_words(9, "q4_K")
    with pytest.raises(ValueError, match="format must be one of q8_0, mxint8, q4_0, q4_1, q5_0, "
                                         "q5_1, q2_K, q3_K, q4_K, q5_K, q6_K, not 'q8_1'"):
        L.pack_weights(np.zeros((1, 36), np.uint8), "q8_1")
    with pytest.raises(ValueError, match="nibble_order is for 8-bit activation rows"):
        L.pack_rows(np.zeros((1, 18), np.uint8), "q4_0", nibble_order=True)
    with pytest.raises(ValueError, match=r"rows must be uint8 \[R, B \* 34\]"):
        L.pack_rows(np.zeros((1, 33), np.uint8), "q8_0")
    with pytest.raises(ValueError, match="must agree on the blocks per row"):
        L.pack_input(np.zeros((1, 68), np.uint8), np.zeros((1, 34), np.uint8), "q8_0")
    with pytest.raises(ValueError, match="expected 1 result words"):
        L.unpack_output(bytes(16), 1, 2, 4)
    with pytest.raises(ValueError, match="K = 33 must be a positive multiple of 32"):
        L.blocks_of(33)


def test_q4_0_row_layout_by_hand():
    # Three Q4_0 blocks: d = 2.0 * (b + 1), qs bytes 16 b + j.
    blocks = [struct.pack("<e", 2.0 * (b + 1)) + bytes(16 * b + j for j in range(16))
              for b in range(3)]
    raw = np.frombuffer(b"".join(blocks), np.uint8)[None, :].copy()
    out = L.pack_rows(raw, "q4_0")[0].tobytes()
    assert len(out) == L.row_words(3, "q4_0") * 8 == (1 + 6) * 8
    assert out[:8] == struct.pack("<eeeH", 2.0, 4.0, 6.0, 0)
    assert out[8:] == bytes(range(48))


def test_q5_1_row_layout_by_hand():
    # Three Q5_1 blocks: d, m, qh = 0x01020304 * (b + 1), qs 16 b + j: a qh word before each
    # pair of blocks, the last one with its upper half 0.
    blocks = [struct.pack("<eeI", 0.5 + b, -1.0 - b, 0x01020304 * (b + 1)) +
              bytes(16 * b + j for j in range(16)) for b in range(3)]
    raw = np.frombuffer(b"".join(blocks), np.uint8)[None, :].copy()
    out = L.pack_rows(raw, "q5_1")[0].tobytes()
    assert len(out) == L.row_words(3, "q5_1") * 8 == (2 + 2 + 6) * 8
    assert out[:16] == struct.pack("<eeeeeeI", 0.5, -1.0, 1.5, -2.0, 2.5, -3.0, 0)
    assert out[16:24] == struct.pack("<II", 0x01020304, 0x02040608)
    assert out[24:56] == bytes(range(32))
    assert out[56:64] == struct.pack("<II", 0x0306090C, 0)
    assert out[64:] == bytes(range(32, 48))


def test_q8_1_activations_in_nibble_order():
    rng = np.random.default_rng(3)
    x = q4q5.quantize_q8_1(rng.standard_normal((2, 64)).astype(np.float32))
    out = L.pack_activations(x, "q4_1")
    assert out.shape == (2, L.row_words(2, "q8_1") * 8) == (2, (1 + 8) * 8)
    blk = x.reshape(2, 2, 36)
    assert (out[:, :8] == blk[:, :, :4].reshape(2, 8)).all()          # d, s of both blocks
    qs = out[:, 8:].reshape(2, 2, 4, 8)
    for word, values in enumerate((0, 16, 8, 24)):
        assert (qs[:, :, word] == blk[:, :, 4 + values:4 + values + 8]).all()
    # Q8_0 weights take their activations in stored order
    x0 = bfp.quantize_q8_0(rng.standard_normal((1, 32)).astype(np.float32))
    assert L.pack_activations(x0, "q8_0").tobytes() == x0[0, :2].tobytes() + bytes(6) + \
        x0[0, 2:].tobytes()


def _engine_sums(data: bytes, m: int, n: int, blocks: int, fmt: str) -> np.ndarray:
    """What the engine computes from the stream bytes, written from the layout's words alone:
    each row's words split into scale, qh and qs words; a 4- or 5-bit word h of a block unpacked
    into 16 int8 values (low nibbles, then high, bit 4 from qh, minus the offset); the integer
    dot product of every block, int64 [M, N, B]."""
    act = L.ACTIVATION[fmt]
    xw, ww = L.row_words(blocks, act) * 8, L.row_words(blocks, fmt) * 8
    offset = {"q4_0": 8, "q5_0": 16}.get(fmt, 0)

    def values(row: bytes, rfmt: str) -> np.ndarray:
        qs = row[L.scale_words(blocks, rfmt) * 8:]
        if L.QS_BITS[rfmt] == 8:
            return np.frombuffer(qs, np.int8).astype(np.int64).reshape(blocks, 32)
        out = np.zeros((blocks, 32), np.int64)
        at, qh = 0, 0
        for b in range(blocks):
            if L.QS_BITS[rfmt] == 5 and b % 2 == 0:
                qh, at = int.from_bytes(qs[at:at + 8], "little"), at + 8
            bits = qh >> (32 * (b % 2)) if L.QS_BITS[rfmt] == 5 else 0
            for h in range(2):
                word = qs[at:at + 8]
                at += 8
                for i in range(8):
                    lo, hi = 8 * h + i, 16 + 8 * h + i
                    out[b, 16 * h + i] = (word[i] & 15 | (bits >> lo & 1) << 4) - offset
                    out[b, 16 * h + 8 + i] = (word[i] >> 4 | (bits >> hi & 1) << 4) - offset
        return out

    xs = [values(data[i * xw:(i + 1) * xw], act) for i in range(m)]
    ws = [values(data[m * xw + j * ww:m * xw + (j + 1) * ww], fmt) for j in range(n)]
    return np.array([[(x * w).sum(axis=1) for w in ws] for x in xs])


@pytest.mark.parametrize("fmt", [f for f in L.FORMATS if f not in L.K_FORMATS])
def test_engine_view_gives_the_golden_block_sums(fmt):
    """The stream, decoded as the engine does, gives llama.cpp's integer block sums."""
    seed = 11
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    w, x = random_matmul(rng, 2, 3, 5, fmt)
    data = L.pack_input(w, x, fmt)
    got = _engine_sums(data, 2, 3, 5, fmt)
    if fmt in q4q5.WEIGHT_FORMATS:
        wq = q4q5.unpack(w, fmt)["q"]
        xq = (q4q5.unpack_q8_1(x)["q"] if L.ACTIVATION[fmt] == "q8_1"
              else bfp._split_q8_0(x)[1].astype(np.int64))
    else:
        split = bfp._split_q8_0 if fmt == "q8_0" else bfp._split_mxint8
        wq, xq = split(w)[1], split(x)[1]
    want = np.einsum("mbj,nbj->mnb", xq.astype(np.int64), wq.astype(np.int64))
    assert np.array_equal(got, want)


@pytest.mark.parametrize("fmt,blocks,words", [
    ("q8_0", 18, 5 + 72), ("q4_0", 18, 5 + 36), ("q4_1", 18, 9 + 36), ("q5_0", 18, 5 + 9 + 36),
    ("q5_1", 18, 9 + 9 + 36), ("q5_0", 48, 12 + 24 + 96), ("q8_1", 48, 24 + 192)])
def test_rows_carry_llama_cpp_bytes(fmt, blocks, words):
    """A row's words carry its llama.cpp bytes with padding only in the last scale and qh words
    (SmolLM2's K = 576 and 1536): Q4_0 at K = 576 is 324 bytes in 41 words (98.8%)."""
    stored = blocks * L.BLOCK_BYTES[fmt]
    assert L.row_words(blocks, fmt) == words
    assert words * 8 - stored < 8 * (1 + (L.QS_BITS[fmt] == 5))


@pytest.mark.parametrize("fmt", [*L.K_FORMATS, "q8_K"])
def test_k_quant_rows_are_the_bytes_regrouped(fmt):
    """Three super-blocks: scale slots, then every super-block's mid bytes back to back, then per
    super-block its high words and its low words; nothing but the last partial words padded."""
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, (2, 3 * L.BLOCK_BYTES[fmt])).astype(np.uint8)
    out = L.pack_rows(raw, fmt)
    assert out.shape[1] == L.row_words(24, fmt) * 8
    parts, blk = L.K_PARTS[fmt], raw.reshape(2, 3, -1)
    sw = L.scale_words(24, fmt) * 8
    lo, hi = parts["slot"]
    slot = hi - lo
    for b in range(3):
        assert (out[:, b * slot:(b + 1) * slot] == blk[:, b, lo:hi]).all()
    assert not out[:, 3 * slot:sw].any()
    mid = np.concatenate([blk[:, b, slice(*parts["mid"])] for b in range(3)], axis=1)
    assert (out[:, sw:sw + mid.shape[1]] == mid).all()
    at = sw + L.mid_words(24, fmt) * 8
    assert not out[:, sw + mid.shape[1]:at].any()
    for b in range(3):
        for part in ("high", "low"):
            data = blk[:, b, slice(*parts[part])]
            assert (out[:, at:at + data.shape[1]] == data).all()
            at += data.shape[1]
    assert at == out.shape[1]
    stored = 3 * L.BLOCK_BYTES[fmt]
    assert out.shape[1] - stored < 16


def test_input_streams_interleave_rows():
    """Several streams: X on stream 0 first, weight row n on stream n % streams; one stream is
    pack_input's bytes."""
    rng = np.random.default_rng(11)
    x = bfp.quantize_q8_0(rng.standard_normal((2, 64)).astype(np.float32))
    w = bfp.quantize_q8_0(rng.standard_normal((7, 64)).astype(np.float32))
    assert L.input_streams(w, x, "q8_0", 1) == [L.pack_input(w, x, "q8_0")]
    rw = L.row_words(2) * 8
    rows = L.pack_rows(w, "q8_0")
    acts = L.pack_rows(x, "q8_0").tobytes()
    out = L.input_streams(w, x, "q8_0", 3)
    assert out[0] == acts + rows[0].tobytes() + rows[3].tobytes() + rows[6].tobytes()
    assert out[1] == rows[1].tobytes() + rows[4].tobytes()
    assert out[2] == rows[2].tobytes() + rows[5].tobytes()
    assert sum(map(len, out)) == len(acts) + 7 * rw


def test_input_streams_with_sums():
    """Each stream carries its own lanes' starting sums before its rows of the tile: lanes
    j * streams + s of stream s, for each m; the sums of lanes past N are 0."""
    rng = np.random.default_rng(12)
    x = bfp.quantize_q8_0(rng.standard_normal((2, 32)).astype(np.float32))
    w = bfp.quantize_q8_0(rng.standard_normal((5, 32)).astype(np.float32))
    sums = np.arange(10, dtype=np.float32).reshape(2, 5) + 0.5
    rows = L.pack_rows(w, "q8_0")
    acts = L.pack_rows(x, "q8_0").tobytes()

    def words(*values):
        return b"".join(struct.pack("<fI", v, 0) if v is not None else bytes(8) for v in values)
    out = L.input_streams(w, x, "q8_0", 2, sums, out_lanes=4)
    # tile 0: rows 0..3, lanes 0, 2 on stream 0 and 1, 3 on stream 1; tile 1: row 4 (lane 0)
    assert out[0] == (acts + words(0.5, 2.5, 5.5, 7.5) + rows[0].tobytes() + rows[2].tobytes()
                      + words(4.5, None, 9.5, None) + rows[4].tobytes())
    assert out[1] == (words(1.5, 3.5, 6.5, 8.5) + rows[1].tobytes() + rows[3].tobytes()
                      + words(None, None, None, None))
    with pytest.raises(ValueError, match=r"out_lanes \(4\) must be a multiple of streams \(3\)"):
        L.input_streams(w, x, "q8_0", 3, sums, out_lanes=4)
    with pytest.raises(ValueError, match="streams must be a positive integer, not 0"):
        L.input_streams(w, x, "q8_0", 0)
