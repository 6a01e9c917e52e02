"""Unit tests of golden/bfp.py: Q8_0 against gguf.quants byte for byte, the Q8_0 dot product against
an independent scalar loop and hand-made IEEE corner cases, MXINT8 against exact rationals."""
import struct
from fractions import Fraction

import numpy as np
import pytest
from gguf.constants import GGMLQuantizationType as QT
from gguf.quants import dequantize as gg_dequantize
from gguf.quants import quantize as gg_quantize

from llmaccel.golden import bfp


# --- helpers (independent of golden/bfp.py) --------------------------------------------------------
def f32_round(fr: Fraction) -> np.float32:
    """The exact rational fr rounded once to binary32 (nearest, ties to even, subnormals, +-Inf)."""
    if fr == 0:
        return np.float32(0.0)
    sign, a = (-1 if fr < 0 else 1), abs(fr)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    q = max(e, -126) - 23                  # exponent of one unit in the last place
    scaled = a / Fraction(2) ** q
    n = scaled.numerator // scaled.denominator
    rem = scaled - n
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2):
        n += 1
    if n * Fraction(2) ** q >= Fraction(2) ** 128:
        return np.float32(sign * np.inf)
    return np.float32(sign * float(n) * 2.0 ** q)  # exact in float64, exact in float32


def q8_block(d16: float, qs) -> bytes:
    return struct.pack("<e", d16) + bytes(np.asarray(qs, dtype=np.int8).view(np.uint8))


def q8_row(*blocks) -> np.ndarray:
    return np.frombuffer(b"".join(blocks), dtype=np.uint8).copy()


def scalar_vec_dot_q8_0(a: np.ndarray, b: np.ndarray) -> np.float32:
    """ggml_vec_dot_q8_0_q8_0 written as a scalar loop: Python ints, struct-decoded fp16, np.float32 steps."""
    a, b = bytes(a), bytes(b)
    sumf = np.float32(0.0)
    with np.errstate(all="ignore"):
        for o in range(0, len(a), 34):
            (da,), (db,) = struct.unpack("<e", a[o:o + 2]), struct.unpack("<e", b[o:o + 2])
            qa = struct.unpack("32b", a[o + 2:o + 34])
            qb = struct.unpack("32b", b[o + 2:o + 34])
            sumi = sum(x * y for x, y in zip(qa, qb))
            scale = np.float32(np.float32(da) * np.float32(db))
            prod = np.float32(np.float32(sumi) * scale)
            sumf = np.float32(sumf + prod)
    return sumf


def same_bits(x, y) -> bool:
    """Equal as binary32 (any NaN equals any NaN)."""
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    return bool(np.all((x.view(np.uint32) == y.view(np.uint32)) | (np.isnan(x) & np.isnan(y))))


def gg_q8(x):
    with np.errstate(all="ignore"):  # gguf warns on binary16 overflow and 0 * Inf
        return gg_quantize(x, QT.Q8_0)


def gg_dq8(raw):
    with np.errstate(all="ignore"):
        return gg_dequantize(raw, QT.Q8_0)


# --- Q8_0 codec ------------------------------------------------------------------------------------
def make_rows(kind, rng, m, k):
    if kind == "normal":
        x = rng.standard_normal((m, k))
    elif kind == "uniform":
        x = rng.uniform(-3, 3, (m, k))
    elif kind == "zeros":
        x = rng.standard_normal((m, k))
        x[:, :32] = 0
        x[0, -32:] = 0
        x[-1, 5::7] = 0
    elif kind == "huge":      # d = amax/127 beyond binary16: stored d = Inf (and 0 * Inf = NaN)
        x = rng.standard_normal((m, k)) * 10.0 ** rng.integers(3, 37, (m, k // 32)).repeat(32, axis=1)
    elif kind == "tiny":      # d underflows binary16 to a subnormal or 0
        x = rng.standard_normal((m, k)) * 10.0 ** -rng.integers(4, 34, (m, k // 32)).repeat(32, axis=1)
    elif kind == "ties":      # x * id lands on n + 1/2: roundf (away from 0) vs rint differ
        x = rng.integers(-126, 126, (m, k)) + 0.5
        x[:, ::32] = 127.0    # amax = 127 -> d = 1, id = 1
    return x.astype(np.float32)


@pytest.mark.parametrize("k", [32, 64, 576, 1536])
@pytest.mark.parametrize("kind", ["normal", "uniform", "zeros", "huge", "tiny", "ties"])
def test_q8_0_codec_matches_gguf(kind, k):
    rng = np.random.default_rng(k * 7 + len(kind))
    x = make_rows(kind, rng, 3, k)
    ref = gg_q8(x)
    raw = bfp.quantize_q8_0(x)
    assert raw.dtype == np.uint8 and raw.shape == (3, k // 32 * 34)
    assert np.array_equal(raw, ref)
    assert np.array_equal(bfp.quantize_row_q8_0(x[1]), ref[1])
    y = bfp.dequantize_q8_0(raw)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert same_bits(y, gg_dq8(ref))


def test_q8_0_hand_block():
    # amax = 127 -> d = 1.0 exactly; q = roundf(x): halves go away from zero
    x = np.zeros(32, np.float32)
    x[:8] = [127, 0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997, -126.5]
    raw = bfp.quantize_row_q8_0(x)
    assert raw[:2].tobytes() == struct.pack("<e", 1.0)
    assert list(raw[2:10].view(np.int8)) == [127, 1, 2, 3, -1, -3, 0, -127]
    # d = 100/127 is not a binary16 value: stored rounded, q still from the binary32 1/d
    x = np.full(32, 100.0, np.float32)
    raw = bfp.quantize_row_q8_0(x)
    assert raw[:2].tobytes() == struct.pack("<e", float(np.float16(np.float32(100) / np.float32(127))))
    assert np.all(raw[2:].view(np.int8) == 127)


def test_q8_0_errors():
    x = np.ones(64, np.float32)
    with pytest.raises(ValueError, match="float32"):
        bfp.quantize_row_q8_0(x.astype(np.float64))
    with pytest.raises(ValueError, match="multiple of 32"):
        bfp.quantize_row_q8_0(x[:40])
    with pytest.raises(ValueError, match="1-D"):
        bfp.quantize_row_q8_0(x.reshape(2, 32))
    for bad in (np.inf, np.nan):
        y = x.copy()
        y[3] = bad
        with pytest.raises(ValueError, match="finite"):
            bfp.quantize_row_q8_0(y)
    with pytest.raises(ValueError, match="too small"):  # 1/d overflows binary32: C is undefined
        bfp.quantize_row_q8_0(np.full(32, 1e-38, np.float32))
    with pytest.raises(ValueError, match="uint8"):
        bfp.dequantize_q8_0(np.zeros(34, np.int8))
    with pytest.raises(ValueError, match="multiple of 34"):
        bfp.dequantize_q8_0(np.zeros(35, np.uint8))
    a = np.zeros(68, np.uint8)
    with pytest.raises(ValueError, match="shape mismatch"):
        bfp.vec_dot_q8_0(a, a[:34])
    with pytest.raises(ValueError, match="2-D"):
        bfp.matmul_q8_0(a, a)
    with pytest.raises(ValueError, match="shape mismatch"):
        bfp.matmul_q8_0(a.reshape(1, 68), np.zeros((2, 34), np.uint8))


# --- Q8_0 dot product -----------------------------------------------------------------------------
def rand_q8_rows(rng, n, blocks):
    raw = rng.integers(0, 256, (n, blocks, 34), dtype=np.uint8)
    d = (rng.standard_normal((n, blocks)) * 2.0 ** rng.integers(-20, 8, (n, blocks))).astype("<f2")
    raw[:, :, :2] = d.view(np.uint8).reshape(n, blocks, 2)
    return raw.reshape(n, blocks * 34)


def test_q8_0_vec_dot_and_matmul_match_scalar_loop():
    rng = np.random.default_rng(1)
    w, x = rand_q8_rows(rng, 5, 18), rand_q8_rows(rng, 3, 18)  # K = 576
    y = bfp.matmul_q8_0(w, x)
    assert y.dtype == np.float32 and y.shape == (3, 5)
    for m in range(3):
        for n in range(5):
            ref = scalar_vec_dot_q8_0(w[n], x[m])
            assert same_bits(y[m, n], ref)
            v = bfp.vec_dot_q8_0(w[n], x[m])
            assert isinstance(v, np.float32) and same_bits(v, ref)
    # quantized real data through gguf too
    xr = rng.standard_normal((2, 1536)).astype(np.float32)
    a, b = gg_q8(xr)
    assert same_bits(bfp.vec_dot_q8_0(a, b), scalar_vec_dot_q8_0(a, b))


ONES = np.ones(32, np.int8)
E0 = np.zeros(32, np.int8)
E0_1 = np.eye(1, 32, dtype=np.int8)[0]  # one 1 then zeros: sumi = 1 against ONES


@pytest.mark.parametrize("da, db, qa, qb, expect", [
    (0.0, 3.0, ONES, ONES, 0.0),                       # d = 0
    (-0.0, 3.0, ONES, ONES, 0.0),                      # -0 * 32 = -0; +0 + -0 = +0
    (2.0 ** -24, 1.0, E0_1, ONES, 2.0 ** -24),         # smallest binary16 subnormal, exact
    (3 * 2.0 ** -24, 2.0 ** -24, E0_1, ONES, 3 * 2.0 ** -48),
    (65504.0, 65504.0, ONES * 127, ONES * 127,         # largest finite: 65504^2 * 516128, rounded once
     float(f32_round(Fraction(65504 ** 2 * 516128)))),
    (np.inf, 1.0, ONES, ONES, np.inf),                 # Inf scale
    (np.inf, -1.0, ONES, ONES, -np.inf),
    (np.inf, 1.0, E0, ONES, np.nan),                   # 0 * Inf
    (np.inf, 0.0, ONES, ONES, np.nan),                 # scale = Inf * 0
    (np.nan, 1.0, ONES, ONES, np.nan),                 # NaN scale
])
def test_q8_0_vec_dot_specials(da, db, qa, qb, expect):
    a, b = q8_row(q8_block(da, qa)), q8_row(q8_block(db, qb))
    got = bfp.vec_dot_q8_0(a, b)
    assert same_bits(got, np.float32(expect)), (got, expect)
    assert same_bits(got, scalar_vec_dot_q8_0(a, b))
    assert same_bits(bfp.vec_dot_q8_0(b, a), got)  # d_w * d_x commutes bit for bit


def test_q8_0_overflow_to_inf_across_blocks():
    # One block cannot overflow binary32 (|result| <= 65504^2 * 2^19 ~ 2.3e15); the sum of blocks can't
    # either in practice, so overflow comes only from Inf scales: Inf + (-Inf) = NaN
    a = q8_row(q8_block(np.inf, ONES), q8_block(-np.inf, ONES))
    b = q8_row(q8_block(1.0, ONES), q8_block(1.0, ONES))
    assert np.isnan(bfp.vec_dot_q8_0(a, b))


def test_q8_0_block_order_is_pinned():
    # block products: +2^24, +1, -2^24. In order: (2^24 + 1) ties to even -> 2^24, then -2^24 -> 0.
    # Reversed: -2^24 + 1 = -16777215 exact, + 2^24 -> 1.
    s16 = np.zeros(32, np.int8)
    s16[0] = 16
    blocks_a = [q8_block(1024.0, s16), q8_block(1.0, E0_1), q8_block(1024.0, -s16)]
    blocks_b = [q8_block(1024.0, ONES), q8_block(1.0, ONES), q8_block(1024.0, ONES)]
    fwd = bfp.vec_dot_q8_0(q8_row(*blocks_a), q8_row(*blocks_b))
    rev = bfp.vec_dot_q8_0(q8_row(*blocks_a[::-1]), q8_row(*blocks_b[::-1]))
    assert fwd == np.float32(0.0) and rev == np.float32(1.0)
    w = np.stack([q8_row(*blocks_a), q8_row(*blocks_a[::-1])])
    x = np.stack([q8_row(*blocks_b), q8_row(*blocks_b[::-1])])
    assert bfp.matmul_q8_0(w, x)[0, 0] == 0.0 and bfp.matmul_q8_0(w, x)[1, 1] == 1.0


def test_q8_0_no_fma():
    # Find two blocks where fma(float(sumi1), scale1, sumf0) differs from the unfused multiply-then-add.
    rng = np.random.default_rng(7)
    for _ in range(2000):
        qa0, qa1 = rng.integers(-127, 128, 32), rng.integers(-127, 128, 32)
        d = rng.uniform(0.01, 4.0, 4).astype(np.float16)
        a = q8_row(q8_block(float(d[0]), qa0), q8_block(float(d[1]), qa1))
        b = q8_row(q8_block(float(d[2]), ONES), q8_block(float(d[3]), ONES))
        sumi0, sumi1 = int(qa0.sum()), int(qa1.sum())
        sumf0 = f32_round(sumi0 * Fraction(float(f32_round(Fraction(float(d[0])) * Fraction(float(d[2]))))))
        scale1 = Fraction(float(f32_round(Fraction(float(d[1])) * Fraction(float(d[3])))))
        unfused = f32_round(Fraction(float(sumf0)) + Fraction(float(f32_round(sumi1 * scale1))))
        fused = f32_round(Fraction(float(sumf0)) + sumi1 * scale1)
        if unfused != fused:
            break
    else:
        pytest.fail("no FMA-sensitive case found")
    got = bfp.vec_dot_q8_0(a, b)
    assert same_bits(got, unfused) and not same_bits(got, fused)


# --- MXINT8 ---------------------------------------------------------------------------------------
def mx_block(e: int, p) -> bytes:
    p = np.zeros(32, np.int8) if p is None else np.asarray(p, np.int8)
    return bytes([e]) + bytes(p.view(np.uint8))


def mx_row(*blocks) -> np.ndarray:
    return np.frombuffer(b"".join(blocks), dtype=np.uint8).copy()


def test_mxint8_dequantize_by_hand():
    p = np.zeros(32, np.int8)
    p[:6] = [64, -64, 1, 127, -128, 0]
    raw = mx_row(mx_block(127, p), mx_block(0, p), mx_block(254, p), mx_block(0xFF, p), mx_block(130, p))
    y = bfp.dequantize_mxint8(raw)
    assert y.dtype == np.float32 and y.shape == (160,)
    for blk, e in enumerate([127, 0, 254, None, 130]):
        seg = y[32 * blk:32 * blk + 6]
        if e is None:
            assert np.isnan(y[32 * blk:32 * blk + 32]).all()
            continue
        expect = [f32_round(v * Fraction(2) ** (e - 133)) for v in [64, -64, 1, 127, -128, 0]]
        assert same_bits(seg, np.array(expect, np.float32))
    assert y[64 + 4] == -np.inf  # -128 * 2^121 = -2^128: the one overflowing encoding
    assert y[0] == 1.0 and y[2] == 2.0 ** -6 and y[32 + 2] == np.float32(2.0 ** -133)  # subnormal, exact


def test_mxint8_quantize_by_hand():
    x = np.zeros((5, 32), np.float32)
    x[0, :4] = [1.0, 1.5, 2.5 / 64, 3.5 / 64]       # amax 1 -> s = 0, e = 127; ties to even: 2.5->2, 3.5->4
    x[1, :2] = [1.999, -0.25]                       # s = 0: 1.999 * 64 = 127.9 -> 128 -> clamped 127
    x[2, :2] = [-6.0, 3.0]                          # amax 6 -> s = 2, e = 129; -6 * 16 = -96
    x[3, 0] = np.nan                                # NaN block -> scale 0xFF
    raw = bfp.quantize_mxint8(x)                    # row 4: all zero -> e = 0, P = 0
    assert raw.shape == (5, 33)
    e, p = raw[:, 0], raw[:, 1:].view(np.int8)
    assert list(e) == [127, 127, 129, 0xFF, 0]
    assert list(p[0, :4]) == [64, 96, 2, 4]
    assert list(p[1, :2]) == [127, -16]
    assert list(p[2, :2]) == [-96, 48]
    assert not p[3:].any()
    with pytest.raises(ValueError, match="float32"):
        bfp.quantize_mxint8(x.astype(np.float16))
    with pytest.raises(ValueError, match="multiple of 32"):
        bfp.quantize_mxint8(x[:, :16])
    with pytest.raises(ValueError, match="multiple of 33"):
        bfp.dequantize_mxint8(np.zeros(34, np.uint8))
    with pytest.raises(ValueError, match="shape mismatch"):
        bfp.vec_dot_mxint8(np.zeros(66, np.uint8), np.zeros(33, np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        bfp.matmul_mxint8(np.zeros((1, 33), np.int16), np.zeros((1, 33), np.uint8))


def test_mxint8_round_trip_error_bound():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 1536)) * 10.0 ** rng.integers(-30, 30, (4, 48)).repeat(32, axis=1)).astype(np.float32)
    y = bfp.dequantize_mxint8(bfp.quantize_mxint8(x))
    blocks = x.reshape(-1, 32)
    amax = np.abs(blocks).max(axis=1, keepdims=True).astype(np.float64)
    quantum = 2.0 ** (np.floor(np.log2(amax)) - 6)  # one step of P; error <= half a step, one at the clamp
    err = np.abs(y.reshape(-1, 32).astype(np.float64) - blocks)
    assert np.all(err <= quantum * 0.5 + (np.abs(blocks) >= amax * (127.5 / 128)) * quantum * 0.5)


def mx_reference(a: np.ndarray, b: np.ndarray) -> np.float32:
    """vec_dot_mxint8 by exact rationals: each block value rounded once, then binary32 adds."""
    a, b = bytes(a), bytes(b)
    sumf = np.float32(0.0)
    for o in range(0, len(a), 33):
        pa, pb = struct.unpack("32b", a[o + 1:o + 33]), struct.unpack("32b", b[o + 1:o + 33])
        sumi = sum(x * y for x, y in zip(pa, pb))
        if 0xFF in (a[o], b[o]):
            v = np.float32(np.nan)
        else:
            v = f32_round(sumi * Fraction(2) ** (a[o] + b[o] - 254 - 12))
        if np.isfinite(sumf) and np.isfinite(v):
            sumf = f32_round(Fraction(float(sumf)) + Fraction(float(v)))
        else:
            with np.errstate(all="ignore"):
                sumf = np.float32(sumf + v)
    return sumf


def test_mxint8_vec_dot_exact_rationals():
    rng = np.random.default_rng(5)
    n, m, nb = 4, 3, 12
    w = rng.integers(0, 256, (n, nb, 33), dtype=np.uint8)
    x = rng.integers(0, 256, (m, nb, 33), dtype=np.uint8)
    # exponents around the interesting ranges: normal, subnormal/underflow (sum ~ 116), overflow (~ 380)
    for arr in (w, x):
        arr[..., 0] = rng.choice([rng.integers(100, 150), 58, 60, 190, 200, 0, 254],
                                 size=arr.shape[:2]).astype(np.uint8)
    w[0, :, 0] = rng.integers(110, 140, nb)
    x[0, :, 0] = rng.integers(110, 140, nb)
    w[1, :, 0] = rng.integers(45, 70, nb)       # block values around the subnormal boundary 2^-126
    x[1, :, 0] = rng.integers(45, 70, nb)
    w, x = w.reshape(n, -1), x.reshape(m, -1)
    y = bfp.matmul_mxint8(w, x)
    assert y.dtype == np.float32 and y.shape == (m, n)
    for i in range(m):
        for j in range(n):
            ref = mx_reference(w[j], x[i])
            assert same_bits(y[i, j], ref), (i, j, y[i, j], ref)
            assert same_bits(bfp.vec_dot_mxint8(w[j], x[i]), ref)
    assert np.isfinite(y[0, 0]) and y[0, 0] != 0
    assert 0 < abs(y[1, 1]) < 2.0 ** -100


def test_mxint8_vec_dot_hand_cases():
    p3 = np.zeros(32, np.int8)
    p3[0] = 3
    one = np.zeros(32, np.int8)
    one[0] = 1
    # 3 * 2^(58 + 58 - 266) = 1.5 * 2^-149: a subnormal tie, rounds to even -> 2^-148
    got = bfp.vec_dot_mxint8(mx_row(mx_block(58, p3)), mx_row(mx_block(58, one)))
    assert same_bits(got, np.float32(2.0 ** -148))
    # scale product exact: 64 * 64 * 2^(127 + 127 - 266) = 1.0
    p64 = np.full(32, 64, np.int8)
    assert bfp.vec_dot_mxint8(mx_row(mx_block(127, p64)), mx_row(mx_block(127, p64))) == np.float32(32.0)
    # overflow to Inf; NaN scale byte gives NaN even with zero elements
    big = np.full(32, 127, np.int8)
    assert bfp.vec_dot_mxint8(mx_row(mx_block(254, big)), mx_row(mx_block(254, big))) == np.inf
    nan = bfp.vec_dot_mxint8(mx_row(mx_block(127, p64), mx_block(0xFF, None)),
                             mx_row(mx_block(127, p64), mx_block(127, None)))
    assert np.isnan(nan)
