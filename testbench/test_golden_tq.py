"""Unit tests of golden/tq.py (llama.cpp TQ2_0 / TQ1_0 blocks), against the gguf package.

gguf.quants quantizes with absmax per 256-value block (d = max|x|, q = round(x / d) + 1), while
BitNet ternarizes with absmean per matrix. So the rows are first ternarized with absmean to trits t
and scale s, and gguf is given W' = t * s: in each block max|W'| = s if the block has a nonzero trit
(else 0), and W' / d is exactly the trit, so gguf must produce exactly pack(t, d) with
d = fp16(s) or 0 per block. The layouts are also pinned by hand-made blocks.
"""
import numpy as np
import pytest
from gguf.constants import GGMLQuantizationType as QT
from gguf.quants import dequantize as gg_dequantize
from gguf.quants import quantize as gg_quantize

from llmaccel.golden import tq
from llmaccel.golden.ternary import absmean_ternarize

FORMATS = {
    "tq2_0": (tq.pack_tq2_0, tq.unpack_tq2_0, QT.TQ2_0, 66),
    "tq1_0": (tq.pack_tq1_0, tq.unpack_tq1_0, QT.TQ1_0, 54),
}


def gguf_case(rng, n, k):
    """Random rows ternarized by absmean, one block forced to zero; returns (t, d, W')."""
    w = rng.standard_normal((n, k)).astype(np.float32)
    w[0, 256:512] = 0  # an all-zero block: gguf gives d = 0 there
    t, s = absmean_ternarize(w)
    wq = t.astype(np.float32) * s
    live = t.reshape(n, k // 256, 256).any(axis=2)
    d = np.where(live, np.float16(s), np.float16(0)).astype(np.float16)
    return t, d, wq


def rand_trits(rng, n, k):
    return rng.integers(-1, 2, size=(n, k)).astype(np.int8)


def rand_finite_d(rng, n, blocks):
    bits = rng.integers(0, 1 << 16, size=(n, blocks), dtype=np.uint16)
    bits[(bits & 0x7C00) == 0x7C00] &= 0xBFFF  # exponent all ones (Inf/NaN) -> clear its top bit
    bits.flat[0] = 0x8000  # -0.0
    bits.flat[-1] = 0x0001  # smallest subnormal
    return bits.view(np.float16)


# --- against gguf ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("k", [512, 1024])
def test_bytes_equal_gguf(fmt, k):
    pack, unpack, qtype, nbytes = FORMATS[fmt]
    rng = np.random.default_rng(k + nbytes)
    t, d, wq = gguf_case(rng, 6, k)
    ours = pack(t, d)
    assert ours.dtype == np.uint8 and ours.shape == (6, k // 256 * nbytes)
    ref = gg_quantize(wq, qtype)
    assert ref.shape == ours.shape
    assert np.array_equal(ours, ref)
    assert d[0, 1] == 0 and ours[0, 2 * nbytes - 2:2 * nbytes].tolist() == [0, 0]
    t2, d2 = unpack(ours)
    assert np.array_equal(t2, t) and np.array_equal(d2.view(np.uint16), d.view(np.uint16))
    deq = gg_dequantize(ours, qtype)
    ours_deq = t2.astype(np.float32) * np.repeat(d2.astype(np.float32), 256, axis=1)
    assert np.array_equal(deq, ours_deq)


@pytest.mark.parametrize("fmt", FORMATS)
def test_random_trits_and_d_against_gguf_dequantize(fmt):
    pack, unpack, qtype, _ = FORMATS[fmt]
    rng = np.random.default_rng(7)
    t, d = rand_trits(rng, 5, 768), rand_finite_d(rng, 5, 3)
    raw = pack(t, d)
    deq = gg_dequantize(raw, qtype)
    assert np.array_equal(deq, t.astype(np.float32) * np.repeat(d.astype(np.float32), 256, axis=1))
    t2, d2 = unpack(raw)
    assert np.array_equal(t2, t) and np.array_equal(d2.view(np.uint16), d.view(np.uint16))


def test_tq2_0_random_raw_round_trip():
    rng = np.random.default_rng(8)
    n, blocks = 4, 3
    codes = rng.integers(0, 3, size=(n, blocks, 64, 4))
    qs = (codes << np.array([0, 2, 4, 6])).sum(axis=3).astype(np.uint8)
    dbytes = rand_finite_d(rng, n, blocks).view(np.uint8).reshape(n, blocks, 2)
    raw = np.concatenate([qs, dbytes], axis=2).reshape(n, blocks * 66)
    t, d = tq.unpack_tq2_0(raw)
    assert np.array_equal(tq.pack_tq2_0(t, d), raw)
    assert np.array_equal(gg_dequantize(raw, QT.TQ2_0),
                          t.astype(np.float32) * np.repeat(d.astype(np.float32), 256, axis=1))


def test_tq1_0_every_byte_decodes_as_gguf():
    # strict=False decodes any qs/qh byte as llama.cpp does (gguf.dequantize is the reference)
    rng = np.random.default_rng(9)
    raw = np.zeros((5, 54), dtype=np.uint8)
    allbytes = np.arange(256, dtype=np.uint8)
    for r in range(5):
        raw[r, :52] = rng.permutation(allbytes)[:52]
    raw[0, :52] = allbytes[:52]
    raw[1, :52] = allbytes[52:104]
    raw[2, :52] = allbytes[104:156]
    raw[3, :52] = allbytes[156:208]
    raw[4, :48] = allbytes[208:256]
    raw[:, 52:] = rand_finite_d(rng, 5, 1).view(np.uint8).reshape(5, 2)
    t, d = tq.unpack_tq1_0(raw, strict=False)
    assert np.array_equal(gg_dequantize(raw, QT.TQ1_0), t.astype(np.float32) * d.astype(np.float32))


def test_tq1_0_canonical_bytes():
    # v = 0 .. 242 -> ceil(v * 256 / 243): 243 distinct bytes that decode back to v's digits
    canon = [(v * 256 + 242) // 243 for v in range(243)]
    assert len(set(canon)) == 243
    assert sorted(set(range(256)) - set(canon)) == [1, 20, 40, 60, 79, 99, 119, 138, 158, 178, 197, 217, 237]
    rng = np.random.default_rng(10)
    raw = np.zeros((3, 2 * 54), dtype=np.uint8)
    for blk in range(2):
        raw[:, blk * 54:blk * 54 + 48] = rng.choice(canon, size=(3, 48))
        raw[:, blk * 54 + 48:blk * 54 + 52] = rng.choice(canon[::3], size=(3, 4))  # fifth digit 0
    raw[:, [52, 106]], raw[:, [53, 107]] = 0x00, 0x3C  # d = 1.0 (0x3C00, little-endian)
    t, d = tq.unpack_tq1_0(raw)
    assert np.array_equal(tq.pack_tq1_0(t, d), raw)
    assert (d == 1.0).all()


@pytest.mark.parametrize("byte_index,value", [(5, 1), (40, 237), (49, 128)])
def test_tq1_0_strict_rejects_non_canonical(byte_index, value):
    raw = tq.pack_tq1_0(np.zeros((2, 512), np.int8), np.ones((2, 2), np.float16))
    raw[1, 54 + byte_index] = value  # 128 in qh is canonical for qs only (fifth digit nonzero)
    part = f"qs\\[{byte_index}\\]" if byte_index < 48 else f"qh\\[{byte_index - 48}\\]"
    with pytest.raises(ValueError, match=f"TQ1_0 row 1 block 1: byte {byte_index} \\({part}\\) = {value}"):
        tq.unpack_tq1_0(raw)
    tq.unpack_tq1_0(raw, strict=False)  # decodes


# --- hand-made layouts ----------------------------------------------------------------------------
def test_tq2_0_layout_by_hand():
    t = np.zeros((1, 256), np.int8)
    d = np.array([[1.0]], np.float16)
    zero = tq.pack_tq2_0(t, d)
    assert zero[0, :64].tolist() == [0x55] * 64 and zero[0, 64:].tolist() == [0x00, 0x3C]
    for e, (byte, shift) in {0: (0, 0), 32: (0, 2), 64: (0, 4), 96: (0, 6),
                             31: (31, 0), 127: (31, 6), 128: (32, 0), 200: (32 + 8, 4)}.items():
        t[0, e] = 1
        raw = tq.pack_tq2_0(t, d)
        expect = [0x55] * 64
        expect[byte] = (0x55 & ~(3 << shift)) | (2 << shift)
        assert raw[0, :64].tolist() == expect, e
        t[0, e] = -1
        assert tq.pack_tq2_0(t, d)[0, byte] == 0x55 & ~(3 << shift), e
        t[0, e] = 0


def test_tq1_0_layout_by_hand():
    t = np.zeros((1, 256), np.int8)
    d = np.array([[-2.0]], np.float16)  # 0xC000
    zero = tq.pack_tq1_0(t, d)
    # qs: v = 121 (all digits 1) -> ceil(121*256/243) = 128; qh: v = 120 -> 127
    assert zero[0].tolist() == [128] * 48 + [127] * 4 + [0x00, 0xC0]
    # element e -> (byte, weight of its digit)
    for e, (byte, weight) in {0: (0, 81), 32: (0, 27), 128: (0, 1), 31: (31, 81), 159: (31, 1),
                              160: (32, 81), 176: (32, 27), 239: (47, 1), 240: (48, 81),
                              244: (48, 27), 252: (48, 3), 255: (51, 3)}.items():
        t[0, e] = 1
        raw = tq.pack_tq1_0(t, d)
        base = 121 if byte < 48 else 120
        v = base + weight
        assert raw[0, byte] == (v * 256 + 242) // 243, e
        others = np.delete(np.arange(52), byte)
        assert (raw[0, others] == zero[0, others]).all(), e
        t[0, e] = 0


# --- errors ---------------------------------------------------------------------------------------
def test_tq2_0_code_3_raises_naming_block():
    raw = tq.pack_tq2_0(np.zeros((2, 768), np.int8), np.zeros((2, 3), np.float16))
    raw[1, 66 * 2 + 33] |= 0b11 << 4  # row 1, block 2, byte 33: element 128 + 64 + 1
    with pytest.raises(ValueError, match=r"TQ2_0 row 1 block 2: byte 33 .* invalid trit code 3 at bits 4..5"):
        tq.unpack_tq2_0(raw)


@pytest.mark.parametrize("fmt", FORMATS)
def test_pack_bad_input(fmt):
    pack = FORMATS[fmt][0]
    ok_t, ok_d = np.zeros((2, 512), np.int8), np.zeros((2, 2), np.float16)
    cases = [
        (np.zeros((2, 300), np.int8), np.zeros((2, 1), np.float16), "K = 300 must be a positive multiple of 256"),
        (ok_t.astype(np.int16), ok_d, "trits must be a numpy int8 array"),
        (np.zeros(512, np.int8), ok_d, "trits must be 2-D"),
        (ok_t, ok_d.astype(np.float32), "d must be a numpy float16 array"),
        (ok_t, np.zeros((2, 3), np.float16), "shape mismatch"),
        (ok_t, np.array([[0, np.nan], [0, 0]], np.float16), "row 0 block 1 has d = nan"),
        (ok_t, np.array([[0, 0], [-np.inf, 0]], np.float16), "row 1 block 0 has d = -inf"),
    ]
    bad_t = ok_t.copy()
    bad_t[1, 300] = 2
    cases.append((bad_t, ok_d, r"trits\[1, 300\] = 2"))
    for t, d, msg in cases:
        with pytest.raises(ValueError, match=msg):
            pack(t, d)


@pytest.mark.parametrize("fmt", FORMATS)
def test_unpack_bad_input(fmt):
    pack, unpack, _, nbytes = FORMATS[fmt]
    with pytest.raises(ValueError, match=f"multiple of {nbytes} bytes"):
        unpack(np.zeros((2, nbytes + 1), np.uint8))
    with pytest.raises(ValueError, match="raw must be a numpy uint8 array"):
        unpack(np.zeros((2, nbytes), np.int8))
    with pytest.raises(ValueError, match="raw must be 2-D"):
        unpack(np.zeros(nbytes, np.uint8))
    raw = pack(np.zeros((1, 512), np.int8), np.zeros((1, 2), np.float16))
    raw[0, 2 * nbytes - 1] = 0x7C  # block 1: d = +Inf (0x7C00)
    with pytest.raises(ValueError, match="row 0 block 1 has d = inf"):
        unpack(raw)
