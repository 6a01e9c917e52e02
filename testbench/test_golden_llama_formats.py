"""Unit tests of golden/q4q5.py and golden/kquants.py: the codecs against gguf.quants byte for byte,
every dot product against a scalar transcription of llama.cpp's *_generic C loop (below, on raw
bytes with struct, independent of the modules' vectorised unpacking), the float order pinned (a
reordered sum fails), and the special scales."""
import struct

import numpy as np
import pytest
from gguf.constants import GGMLQuantizationType as QT
from gguf.quants import dequantize as gg_dequantize
from gguf.quants import quantize as gg_quantize

from llmaccel.golden import bfp, kquants, q4q5

SEED = 20261202
F = np.float32


def same_bits(x, y) -> bool:
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    return bool(np.all((x.view(np.uint32) == y.view(np.uint32)) | (np.isnan(x) & np.isnan(y))))


def gg(fmt: str):
    return getattr(QT, fmt.upper())


def h(b: bytes, o: int) -> np.float32:
    return F(struct.unpack_from("<e", b, o)[0])


# --- scalar transcriptions of llama.cpp's generic dot products (C semantics, one op at a time) ----
def ref_q4q5(a: bytes, b: bytes, fmt: str) -> np.float32:
    bpa, bpb = q4q5.BLOCK_BYTES[fmt], 36 if fmt in ("q4_1", "q5_1") else 34
    sumf = F(0)
    with np.errstate(all="ignore"):
        for ib in range(len(a) // bpa):
            x, y = a[ib * bpa:(ib + 1) * bpa], b[ib * bpb:(ib + 1) * bpb]
            xd = h(x, 0)
            yd = h(y, 0)
            at = 4 if fmt in ("q4_1", "q5_1") else 2
            qh = struct.unpack_from("<I", x, at)[0] if fmt in ("q5_0", "q5_1") else 0
            qs = x[at + 4:] if fmt in ("q5_0", "q5_1") else x[at:]
            yq = struct.unpack_from("32b", y, bpb - 32)
            sumi0 = sumi1 = 0
            for j in range(16):
                v0, v1 = qs[j] & 0x0F, qs[j] >> 4
                if fmt in ("q5_0", "q5_1"):
                    v0 |= ((qh >> j) & 1) << 4
                    v1 |= ((qh >> (j + 16)) & 1) << 4
                off = {"q4_0": 8, "q5_0": 16}.get(fmt, 0)
                sumi0 += (v0 - off) * yq[j]
                sumi1 += (v1 - off) * yq[j + 16]
            sumi = F(sumi0 + sumi1)
            if fmt == "q4_0":
                sumf = F(sumf + F(F(sumi * xd) * yd))
            elif fmt == "q5_0":
                sumf = F(sumf + F(F(xd * yd) * sumi))
            else:
                xm, ys = h(x, 2), h(y, 2)
                sumf = F(sumf + F(F(F(xd * yd) * sumi) + F(xm * ys)))
    return sumf


def ref_kquant(a: bytes, b: bytes, fmt: str) -> np.float32:
    bpa = kquants.BLOCK_BYTES[fmt]
    sumf = F(0)
    sums = [F(0)] * 8
    with np.errstate(all="ignore"):
        for i in range(len(a) // bpa):
            x, y = a[i * bpa:(i + 1) * bpa], b[i * 292:(i + 1) * 292]
            yd = F(struct.unpack_from("<f", y, 0)[0])
            q8 = struct.unpack_from("256b", y, 4)
            bsums = struct.unpack_from("<16h", y, 260)
            if fmt == "q2_K":
                sc, q2 = x[0:16], x[16:80]
                summs = sum(bsums[j] * (sc[j] >> 4) for j in range(16))
                dall, dmin = F(yd * h(x, 80)), F(yd * h(x, 82))
                isum, is_, qo, q8o = 0, 0, 0, 0
                for _k in range(2):
                    shift = 0
                    for _j in range(4):
                        for lo in (0, 16):
                            d = sc[is_] & 0xF
                            is_ += 1
                            isum += d * sum(q8[q8o + l] * ((q2[qo + l] >> shift) & 3)
                                            for l in range(lo, lo + 16))
                        shift += 2
                        q8o += 32
                    qo += 32
                sumf = F(sumf + F(F(dall * F(isum)) - F(dmin * F(summs))))
                continue
            aux8 = [0] * 256
            if fmt == "q3_K":
                hm, q3 = x[0:32], x[32:96]
                m, ao, qo = 1, 0, 0
                for _j in range(2):
                    for shift in (0, 2, 4, 6):
                        for l in range(32):
                            aux8[ao + l] = ((q3[qo + l] >> shift) & 3) - (0 if hm[l] & m else 4)
                        ao += 32
                        m <<= 1
                    qo += 32
                aux = list(struct.unpack("<3I", x[96:108])) + [0]
                tmp = aux[2]
                k1, k2 = 0x03030303, 0x0F0F0F0F
                aux[2] = ((aux[0] >> 4) & k2) | (((tmp >> 4) & k1) << 4)
                aux[3] = ((aux[1] >> 4) & k2) | (((tmp >> 6) & k1) << 4)
                aux[0] = (aux[0] & k2) | (((tmp >> 0) & k1) << 4)
                aux[1] = (aux[1] & k2) | (((tmp >> 2) & k1) << 4)
                scales = [s - 32 for s in struct.unpack("16b", struct.pack("<4I", *aux))]
                d = F(h(x, 108) * yd)
                per = 16
            elif fmt in ("q4_K", "q5_K"):
                qs = x[16:144] if fmt == "q4_K" else x[48:176]
                hm = x[16:48] if fmt == "q5_K" else None
                m, ao, qo = 1, 0, 0
                for _j in range(4):
                    for hi in (0, 1):
                        for l in range(32):
                            v = (qs[qo + l] >> (4 * hi)) & 0xF
                            if hm is not None:
                                v += 16 if hm[l] & m else 0
                            aux8[ao + l] = v
                        ao += 32
                        m <<= 1
                    qo += 32
                u = list(struct.unpack("<3I", x[4:16])) + [0]
                k1, k2, k3 = 0x3F3F3F3F, 0x0F0F0F0F, 0x03030303
                u[3] = ((u[2] >> 4) & k2) | (((u[1] >> 6) & k3) << 4)
                uaux = u[1] & k1
                u[1] = (u[2] & k2) | (((u[0] >> 6) & k3) << 4)
                u[2] = uaux
                u[0] &= k1
                by = struct.pack("<4I", *u)
                scales, mins = list(by[0:8]), list(by[8:16])
                sumi = sum(bsums[j] * mins[j // 2] for j in range(16))
                d = F(h(x, 0) * yd)
                per = 32
            else:  # q6_K
                ql, qh = x[0:128], x[128:192]
                ao = lo = hoff = 0
                for _j in range(2):
                    for l in range(32):
                        aux8[ao + l] = ((ql[lo + l] & 0xF) | (((qh[hoff + l] >> 0) & 3) << 4)) - 32
                        aux8[ao + l + 32] = ((ql[lo + l + 32] & 0xF) | (((qh[hoff + l] >> 2) & 3) << 4)) - 32
                        aux8[ao + l + 64] = ((ql[lo + l] >> 4) | (((qh[hoff + l] >> 4) & 3) << 4)) - 32
                        aux8[ao + l + 96] = ((ql[lo + l + 32] >> 4) | (((qh[hoff + l] >> 6) & 3) << 4)) - 32
                    ao += 128
                    lo += 64
                    hoff += 32
                scales = list(struct.unpack("16b", x[192:208]))
                d = F(h(x, 208) * yd)
                per = 16
            aux32 = [0] * 8
            for e in range(256):
                aux32[e % 8] += scales[e // per] * (q8[e] * aux8[e])
            for l in range(8):
                sums[l] = F(sums[l] + F(d * F(aux32[l])))
            if fmt in ("q4_K", "q5_K"):
                dmin = F(h(x, 2) * yd)
                sumf = F(sumf - F(dmin * F(sumi)))
        if fmt != "q2_K":
            for l in range(8):
                sumf = F(sumf + sums[l])
    return sumf


# --- data -----------------------------------------------------------------------------------------
def rand_halves(rng, shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, shape).astype(np.float16)


def random_weight_rows(rng, fmt: str, n: int, blocks: int) -> np.ndarray:
    """Random bytes with finite, moderate binary16 scales (the specials have their own tests)."""
    mod = q4q5 if fmt in q4q5.WEIGHT_FORMATS else kquants
    bpb = mod.BLOCK_BYTES[fmt]
    raw = rng.integers(0, 256, (n, blocks, bpb), dtype=np.uint8)
    spots = {"q4_0": [0], "q4_1": [0, 2], "q5_0": [0], "q5_1": [0, 2], "q2_K": [80, 82],
             "q3_K": [108], "q4_K": [0, 2], "q5_K": [0, 2], "q6_K": [208]}[fmt]
    for at in spots:
        raw[..., at:at + 2] = rand_halves(rng, (n, blocks)).view(np.uint8).reshape(n, blocks, 2)
    return raw.reshape(n, blocks * bpb)


def random_activation_rows(rng, fmt: str, m: int, k: int) -> np.ndarray:
    x = (rng.standard_normal((m, k)) * rng.uniform(0.1, 10, (m, 1))).astype(np.float32)
    if fmt in q4q5.WEIGHT_FORMATS:
        return q4q5.quantize_activations(x, fmt)
    return kquants.quantize_q8_k(x)


def matmul(fmt, w, x):
    return (q4q5 if fmt in q4q5.WEIGHT_FORMATS else kquants).matmul(w, x, fmt)


ALL = list(q4q5.WEIGHT_FORMATS) + list(kquants.WEIGHT_FORMATS)


# --- codecs against gguf --------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", q4q5.WEIGHT_FORMATS)
@pytest.mark.parametrize("scale", [1e-3, 1.0, 3e4])
def test_q4q5_quantize_matches_gguf(fmt, scale):
    rng = np.random.default_rng(SEED)
    print("seed", SEED)
    x = (rng.standard_normal((6, 576)) * scale).astype(np.float32)
    x[0, :32] = 0                                        # a zero block: d = 0, id = 0
    x[1, 40:64] = x[1, 32]                               # ties for the largest |x|
    with np.errstate(all="ignore"):
        ref = gg_quantize(x, gg(fmt))
    assert np.array_equal(q4q5.quantize(x, fmt), ref)


@pytest.mark.parametrize("fmt", ALL)
def test_dequantize_matches_gguf_on_any_bytes(fmt):
    rng = np.random.default_rng(SEED + 1)
    print("seed", SEED + 1)
    mod = q4q5 if fmt in q4q5.WEIGHT_FORMATS else kquants
    raw = rng.integers(0, 256, (5, 3 * mod.BLOCK_BYTES[fmt]), dtype=np.uint8)  # NaN/Inf scales too
    with np.errstate(all="ignore"):
        ref = gg_dequantize(raw, gg(fmt)).reshape(5, -1)
    assert same_bits(mod.dequantize(raw, fmt), ref)
    assert np.array_equal(mod.pack(mod.unpack(raw, fmt), fmt), raw)


@pytest.mark.parametrize("fmt", kquants.WEIGHT_FORMATS)
def test_our_kquant_quantizer_round_trips_through_gguf(fmt):
    rng = np.random.default_rng(SEED + 2)
    print("seed", SEED + 2)
    x = (rng.standard_normal((8, 1024)) * rng.uniform(0.01, 5, (8, 1))).astype(np.float32)
    x[0, :256] = 0                                       # an all-zero super-block
    x[1, 256:512] = np.abs(x[1, 256:512])                # no negative values: min 0
    raw = kquants.quantize(x, fmt)
    with np.errstate(all="ignore"):
        back = gg_dequantize(raw, gg(fmt)).reshape(x.shape)
    assert same_bits(kquants.dequantize(raw, fmt), back)
    assert not back[0, :256].any()
    # relative RMS error against float, per format (one pass; the bound is loose, the figure is
    # reported by make bench beside llama.cpp-style Q4_0 and Q8_0)
    rel = np.sqrt(np.mean((back - x) ** 2)) / np.sqrt(np.mean(x ** 2))
    bound = {"q2_K": 0.40, "q3_K": 0.20, "q4_K": 0.10, "q5_K": 0.05, "q6_K": 0.025}[fmt]
    print(fmt, "relative RMS error", rel)
    assert rel < bound


def test_q8_1_quantizer_by_hand():
    x = np.zeros(64, np.float32)
    x[:32] = np.arange(32, dtype=np.float32) - 10.5      # amax 21.5, ties in x * id
    x[32:] = 1e-3
    raw = q4q5.quantize_q8_1(x)
    assert raw.shape == (72,)
    q8_0 = bfp.quantize_q8_0(x)
    for b in range(2):
        blk, ref = raw[36 * b:36 * (b + 1)].tobytes(), q8_0[34 * b:34 * (b + 1)].tobytes()
        assert blk[0:2] == ref[0:2] and blk[4:] == ref[2:]       # d and qs as Q8_0
        d = F(np.abs(x[32 * b:32 * (b + 1)]).max() / F(127))
        total = sum(struct.unpack("32b", blk[4:]))
        assert blk[2:4] == struct.pack("<e", F(F(total) * d))   # s from the binary32 d
    assert struct.unpack("<e", raw[2:4].tobytes())[0] != 0


def test_q8_k_quantizer_by_hand():
    x = np.zeros(512, np.float32)
    x[256:] = np.linspace(-3, 2, 256, dtype=np.float32)
    x[300] = -3.0                                         # a tie for the largest |x|: the first
    raw = kquants.quantize_q8_k(x)
    f = kquants.unpack_q8_k(raw)
    assert f["d"][0] == 0 and not f["q"][0].any() and not f["bsums"][0].any()   # zero row: d = 0
    iscale = F(F(-127) / F(-3.0))
    assert f["d"][1] == F(F(1) / iscale)                  # a float32, not a binary16
    expect = np.minimum(127, np.rint((iscale * x[256:]).astype(np.float32))).astype(np.int32)
    assert np.array_equal(f["q"][1], expect)
    assert np.array_equal(f["bsums"][1], expect.reshape(16, 16).sum(axis=1))
    assert f["q"][1].min() == -127 and f["q"][1].max() < 127


# --- dot products against the scalar loops --------------------------------------------------------
@pytest.mark.parametrize("fmt", ALL)
def test_matmul_matches_llama_cpp_scalar_loop(fmt):
    rng = np.random.default_rng(SEED + 3)
    print("seed", SEED + 3)
    k = 512 if fmt in kquants.WEIGHT_FORMATS else 576
    per = 256 if fmt in kquants.WEIGHT_FORMATS else 32
    w = random_weight_rows(rng, fmt, 4, k // per)
    x = random_activation_rows(rng, fmt, 3, k)
    y = matmul(fmt, w, x)
    assert y.dtype == np.float32 and y.shape == (3, 4)
    ref = np.array([[ref_q4q5(w[n].tobytes(), x[m].tobytes(), fmt) if per == 32
                     else ref_kquant(w[n].tobytes(), x[m].tobytes(), fmt)
                     for n in range(4)] for m in range(3)], np.float32)
    assert same_bits(y, ref)
    # and on weights quantized from real-valued rows
    xr = rng.standard_normal((2, k)).astype(np.float32)
    wq = (q4q5.quantize(xr, fmt) if per == 32 else kquants.quantize(xr, fmt))
    y = matmul(fmt, wq, x[:1])
    for n in range(2):
        r = ref_q4q5(wq[n].tobytes(), x[0].tobytes(), fmt) if per == 32 else \
            ref_kquant(wq[n].tobytes(), x[0].tobytes(), fmt)
        assert same_bits(y[0, n], r)


def _single_sum_variant(w, x, fmt):
    """The K-quant dot product with ONE running float sum instead of eight by position: the order a
    careless implementation would use. It must differ from the reference somewhere."""
    wf, xf = kquants.unpack(w, fmt), kquants.unpack_q8_k(x)
    ws = wf["q"] * np.repeat(wf["scale"], kquants.SUB[fmt], axis=-1)
    sumf = F(0)
    for i in range(wf["d"].shape[-1]):
        d = F(wf["d"][i] * xf["d"][i])
        sumf = F(sumf + F(d * F(int((ws[i] * xf["q"][i]).sum()))))
        if "min" in wf:
            sumi = int((xf["bsums"][i] * np.repeat(wf["min"][i], 2)).sum())
            sumf = F(sumf - F(F(wf["dmin"][i] * xf["d"][i]) * F(sumi)))
    return sumf


@pytest.mark.parametrize("fmt", ["q3_K", "q4_K", "q5_K", "q6_K"])
def test_eight_partial_sums_are_pinned(fmt):
    rng = np.random.default_rng(SEED + 4)
    print("seed", SEED + 4)
    differ = 0
    for _ in range(40):
        w = random_weight_rows(rng, fmt, 1, 4)[0]
        x = random_activation_rows(rng, fmt, 1, 1024)[0]
        got = kquants.vec_dot(w, x, fmt)
        assert same_bits(got, ref_kquant(w.tobytes(), x.tobytes(), fmt))
        differ += not same_bits(got, _single_sum_variant(w, x, fmt))
    assert differ > 0, "a single running sum gave the same bits every time: the order is unpinned"


def test_q4_0_and_q5_0_multiply_in_different_orders():
    # Q4_0: (sumi * d_w) * d_x; Q5_0: (d_w * d_x) * sumi (d_w * d_x is exact: 11 + 11 bits).
    # Find a block where the roundings differ.
    rng = np.random.default_rng(SEED + 5)
    print("seed", SEED + 5)
    q = np.full((1, 32), 7)                               # every weight value 7
    for _ in range(1000):
        dw, dx = rand_halves(rng, 2, 0.01, 4.0)
        xi = rng.integers(64, 128, 32) * rng.choice([-1, 1])   # |sumi| ~ 2**14: sumi * d_w rounds
        sumi = F(7 * int(xi.sum()))
        q4_order, q5_order = F(F(sumi * F(dw)) * F(dx)), F(F(F(dw) * F(dx)) * sumi)
        if q4_order != q5_order:
            break
    else:
        pytest.fail("no order-sensitive case found")
    xb = np.frombuffer(struct.pack("<e", dx) + xi.astype(np.int8).tobytes(), np.uint8).copy()
    d = np.array([dw], np.float32)
    assert q4q5.vec_dot(q4q5.pack({"d": d, "q": q}, "q4_0"), xb, "q4_0") == q4_order
    assert q4q5.vec_dot(q4q5.pack({"d": d, "q": q}, "q5_0"), xb, "q5_0") == q5_order


# --- special scales ------------------------------------------------------------------------------
SPECIAL_HALVES = [0.0, -0.0, 2.0 ** -24, 6.1e-5, 65504.0, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("fmt", ALL)
@pytest.mark.parametrize("special", SPECIAL_HALVES)
def test_special_weight_scales_follow_the_scalar_loop(fmt, special):
    rng = np.random.default_rng(SEED + 6)
    print("seed", SEED + 6)
    per = 256 if fmt in kquants.WEIGHT_FORMATS else 32
    w = random_weight_rows(rng, fmt, 2, 2)
    scale_at = {"q4_0": 0, "q4_1": 0, "q5_0": 0, "q5_1": 0, "q2_K": 80, "q3_K": 108,
                "q4_K": 0, "q5_K": 0, "q6_K": 208}[fmt]
    min_at = {"q4_1": 2, "q5_1": 2, "q2_K": 82, "q4_K": 2, "q5_K": 2}.get(fmt)
    bpb = (q4q5 if per == 32 else kquants).BLOCK_BYTES[fmt]
    hb = np.frombuffer(struct.pack("<e", special), np.uint8)
    w[0, scale_at:scale_at + 2] = hb                      # row 0: d special in block 0
    if min_at is not None:
        w[1, bpb + min_at:bpb + min_at + 2] = hb          # row 1: dmin / m special in block 1
    x = random_activation_rows(rng, fmt, 2, 2 * per)
    y = matmul(fmt, w, x)
    for m in range(2):
        for n in range(2):
            r = ref_q4q5(w[n].tobytes(), x[m].tobytes(), fmt) if per == 32 else \
                ref_kquant(w[n].tobytes(), x[m].tobytes(), fmt)
            assert same_bits(y[m, n], r), (m, n, y[m, n], r)


@pytest.mark.parametrize("fmt", kquants.WEIGHT_FORMATS)
def test_q8_k_zero_row_gives_zero_or_nan(fmt):
    rng = np.random.default_rng(SEED + 7)
    print("seed", SEED + 7)
    w = random_weight_rows(rng, fmt, 1, 1)
    x = kquants.quantize_q8_k(np.zeros((1, 256), np.float32))
    y = kquants.matmul(w, x, fmt)
    assert same_bits(y[0, 0], ref_kquant(w[0].tobytes(), x[0].tobytes(), fmt))
    assert y[0, 0] == 0                                   # d = 0 and finite weight scales
    w[0, {"q2_K": 80, "q3_K": 108, "q4_K": 0, "q5_K": 0, "q6_K": 208}[fmt] + 1] = 0x7C  # d = Inf
    w[0, {"q2_K": 80, "q3_K": 108, "q4_K": 0, "q5_K": 0, "q6_K": 208}[fmt]] = 0
    assert np.isnan(kquants.matmul(w, x, fmt)[0, 0])      # Inf * 0 = NaN


def test_q4_1_uses_the_stored_s():
    rng = np.random.default_rng(SEED + 8)
    print("seed", SEED + 8)
    w = random_weight_rows(rng, "q4_1", 1, 1)
    x = random_activation_rows(rng, "q4_1", 1, 32)
    x2 = x.copy()
    x2[0, 2:4] = np.frombuffer(struct.pack("<e", 1000.0), np.uint8)  # an inconsistent s
    a, b = q4q5.matmul(w, x, "q4_1")[0, 0], q4q5.matmul(w, x2, "q4_1")[0, 0]
    assert a != b and same_bits(b, ref_q4q5(w[0].tobytes(), x2[0].tobytes(), "q4_1"))


# --- errors -------------------------------------------------------------------------------------
def test_errors_are_clear():
    with pytest.raises(ValueError, match="format must be one of q4_0, q4_1, q5_0, q5_1, not 'q8_0'"):
        q4q5.quantize(np.zeros(32, np.float32), "q8_0")
    with pytest.raises(ValueError, match="format must be one of q2_K, q3_K, q4_K, q5_K, q6_K, not 'q4_0'"):
        kquants.unpack(np.zeros(18, np.uint8), "q4_0")
    with pytest.raises(ValueError, match="must be a positive multiple of 256 for Q8_K"):
        kquants.quantize_q8_k(np.zeros(288, np.float32))
    with pytest.raises(ValueError, match="must be a positive multiple of 256 for q4_K"):
        kquants.quantize(np.zeros(576, np.float32), "q4_K")
    with pytest.raises(ValueError, match="x must be finite for Q4_1"):
        q4q5.quantize(np.full(32, np.nan, np.float32), "q4_1")
    with pytest.raises(ValueError, match="x must be finite for q6_K"):
        kquants.quantize(np.full(256, np.inf, np.float32), "q6_K")
    with pytest.raises(ValueError, match="too small for quantize_row_q4_0_ref"):
        q4q5.quantize(np.full(32, 1e-40, np.float32), "q4_0")
    with pytest.raises(ValueError, match="too small for quantize_row_q8_K_ref"):
        kquants.quantize_q8_k(np.full(256, 1e-44, np.float32))
    with pytest.raises(ValueError, match="shape mismatch: w_raw has 2 super-blocks per row, x_raw has 1"):
        kquants.matmul(np.zeros((1, 168), np.uint8), np.zeros((1, 292), np.uint8), "q2_K")
    with pytest.raises(ValueError, match="shape mismatch: w_raw has 1 blocks per row, x_raw has 2"):
        q4q5.matmul(np.zeros((1, 18), np.uint8), np.zeros((1, 68), np.uint8), "q4_0")
    with pytest.raises(ValueError, match="last dimension 20 must be a positive multiple of 18"):
        q4q5.unpack(np.zeros(20, np.uint8), "q4_0")
    with pytest.raises(ValueError, match=r"q4_K values must be \[..., 256\] within 0..15"):
        kquants.pack({"d": np.ones(1), "dmin": np.ones(1), "scale": np.zeros((1, 8)),
                      "min": np.zeros((1, 8)), "q": np.full((1, 256), 16)}, "q4_K")
