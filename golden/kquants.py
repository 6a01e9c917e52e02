"""llama.cpp's K-quants Q2_K .. Q6_K (super-blocks of 256 weights), the Q8_K activations they pair
with, and their dot products as llama.cpp's scalar reference computes them.

Semantics from llama.cpp's `ggml-common.h` (layouts), `ggml-quants.c` (`quantize_row_q8_K_ref`,
`dequantize_row_q*_K`) and `ggml-cpu/quants.c` (`ggml_vec_dot_q{2..6}_K_q8_K_generic`), written
here from their semantics. Every float step is one IEEE binary32 operation (numpy float32, round to
nearest even, no FMA, no float64), in the order written; integer sums are exact.

Layouts (little-endian; d and dmin IEEE binary16), element e = 0..255 of the super-block:
    Q2_K  84 bytes: scales[16], qs[64], d, dmin
          q(e) = (qs[32*(e//128) + e%32] >> 2*((e//32)%4)) & 3             (0..3)
          sub-block e//16: scale = scales & 15, min = scales >> 4
    Q3_K 110 bytes: hmask[32], qs[64], scales[12], d
          q(e) = ((qs[32*(e//128) + e%32] >> 2*((e//32)%4)) & 3)
                 - (0 if hmask[e%32] bit (e//32) else 4)                    (-4..3)
          sub-block e//16, 6-bit scale s: low 4 bits in nibble (s//8) of byte s%8, high 2 bits at
          bit 2*(s//4) of byte 8 + s%4; signed scale = that - 32            (-32..31)
    Q4_K 144 bytes: d, dmin, scales[12], qs[128]
          q(e) = nibble ((e//32)%2) of qs[32*(e//64) + e%32]               (0..15)
          sub-block e//32 (0..7): 6-bit scale and min packed as get_scale_min_k4: for j < 4
          scale = b[j] & 63, min = b[j+4] & 63; for j >= 4 scale = (b[j+4] & 15) | (b[j-4] >> 6) << 4,
          min = (b[j+4] >> 4) | (b[j] >> 6) << 4
    Q5_K 176 bytes: d, dmin, scales[12], qh[32], qs[128]
          q(e) = Q4_K's nibble | (qh[e%32] bit (e//32)) << 4                (0..31); scales as Q4_K
    Q6_K 210 bytes: ql[128], qh[64], scales[16] int8, d
          r = e%128, h = e//128: q(e) = (nibble (r//64) of ql[64h + r%64]
                                          | ((qh[32h + r%32] >> 2*(r//32)) & 3) << 4) - 32   (-32..31)
          sub-block e//16: scale = scales[e//16] (signed)
    Q8_K 292 bytes: d (IEEE binary32), qs[256] int8, bsums[16] int16 (sum of each 16 qs)

quantize_row_q8_K_ref (activations): max = the value of the largest |x| (the first on ties); a zero
block stores d = 0 and qs = 0 (and, in our bytes, bsums = 0); else iscale = -127 / max, qs =
min(127, nearest_int(iscale * x)) (nearest_int = round half to even), bsums = the exact sums,
d = 1 / iscale (binary32 divides).

Dot products (a = weight row, b = Q8_K row; per super-block i in order; sumi, aux32 exact ints;
bsums and d taken from b as stored):
    Q2_K: summs = sum_j b.bsums[j] * min_j;  isum = sum_e scale_(e//16) * q(e) * b.qs[e]
          dall = b.d * d_a;  dmin = b.d * dmin_a
          sumf = sumf + ((dall * float32(isum)) - (dmin * float32(summs)))     (one float sum)
    Q3_K, Q6_K: aux32[l] = sum over e with e%8 == l of scale_(sub(e)) * q(e) * b.qs[e]  (l = 0..7)
          d = d_a * b.d;  sums[l] = sums[l] + d * float32(aux32[l])             (eight float sums)
          after the last super-block: sumf = ((0 + sums[0]) + sums[1]) + ... + sums[7]
    Q4_K, Q5_K: aux32 and sums as Q3_K; also sumi = sum_j b.bsums[j] * min_(j//2) and
          dmin = dmin_a * b.d;  sumf = sumf - dmin * float32(sumi)               (per super-block)
          after the last: sumf = ((sumf + sums[0]) + sums[1]) + ... + sums[7]
Every integer here is below 2**24 in magnitude (|aux32| <= 32 * 128 * 32 * 128 = 2**24 for Q6_K),
so each float32(int) is exact.

Our weight quantizers (not llama.cpp's, which search for scales; ours are one pass, documented at
quantize()): the bytes differ from llama.cpp's, the format is the same, and the error against
float is reported beside the gguf round trip (tests, bench).
"""
import numpy as np

from .bfp import _check_finite, _check_raw, _check_x, _half_at, _half_bytes

QK_K = 256
BLOCK_BYTES = {"q2_K": 84, "q3_K": 110, "q4_K": 144, "q5_K": 176, "q6_K": 210, "q8_K": 292}
WEIGHT_FORMATS = ("q2_K", "q3_K", "q4_K", "q5_K", "q6_K")
SUB = {"q2_K": 16, "q3_K": 16, "q4_K": 32, "q5_K": 32, "q6_K": 16}   # values per sub-block
_HAS_MIN = {"q2_K": True, "q3_K": False, "q4_K": True, "q5_K": True, "q6_K": False}
_Q_RANGE = {"q2_K": (0, 3), "q3_K": (-4, 3), "q4_K": (0, 15), "q5_K": (0, 31), "q6_K": (-32, 31)}
_SCALE_RANGE = {"q2_K": (0, 15), "q3_K": (-32, 31), "q4_K": (0, 63), "q5_K": (0, 63),
                "q6_K": (-128, 127)}

_E = np.arange(QK_K)


def _check_format(fmt: str) -> None:
    if fmt not in WEIGHT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(WEIGHT_FORMATS)}, not {fmt!r}")


def _blocks(raw: np.ndarray, fmt: str) -> np.ndarray:
    _check_raw(raw, BLOCK_BYTES[fmt])
    return np.ascontiguousarray(raw).reshape(*raw.shape[:-1], -1, BLOCK_BYTES[fmt]).astype(np.int32)


# --- index maps (element e -> byte and bit), shared by unpack and pack ----------------------------
_Q2_BYTE = 32 * (_E // 128) + _E % 32            # Q2_K / Q3_K qs
_Q2_SHIFT = 2 * ((_E // 32) % 4)
_HBYTE, _HBIT = _E % 32, _E // 32                # Q3_K hmask, Q5_K qh
_Q4_BYTE = 32 * (_E // 64) + _E % 32             # Q4_K / Q5_K qs
_Q4_SHIFT = 4 * ((_E // 32) % 2)
_R = _E % 128
_Q6_LBYTE = 64 * (_E // 128) + _R % 64           # Q6_K ql
_Q6_LSHIFT = 4 * (_R // 64)
_Q6_HBYTE = 32 * (_E // 128) + _R % 32           # Q6_K qh
_Q6_HSHIFT = 2 * (_R // 32)


def _scales_k4(sc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_K / Q5_K: 12 bytes [..., 12] -> (scale, min) int32 [..., 8] (get_scale_min_k4)."""
    j = np.arange(4)
    lo_s, lo_m = sc[..., j] & 63, sc[..., j + 4] & 63
    hi_s = (sc[..., j + 8] & 15) | ((sc[..., j] >> 6) << 4)
    hi_m = (sc[..., j + 8] >> 4) | ((sc[..., j + 4] >> 6) << 4)
    return np.concatenate([lo_s, hi_s], axis=-1), np.concatenate([lo_m, hi_m], axis=-1)


def _pack_scales_k4(scale: np.ndarray, mn: np.ndarray) -> np.ndarray:
    out = np.zeros((*scale.shape[:-1], 12), dtype=np.int64)
    out[..., 0:4] = (scale[..., :4] & 63) | ((scale[..., 4:] >> 4) << 6)
    out[..., 4:8] = (mn[..., :4] & 63) | ((mn[..., 4:] >> 4) << 6)
    out[..., 8:12] = (scale[..., 4:] & 15) | ((mn[..., 4:] & 15) << 4)
    return out


def _scales_q3(sc: np.ndarray) -> np.ndarray:
    """Q3_K: 12 bytes [..., 12] -> signed scales int32 [..., 16]."""
    s = np.arange(16)
    low = (sc[..., s % 8] >> (4 * (s // 8))) & 15
    high = (sc[..., 8 + s % 4] >> (2 * (s // 4))) & 3
    return (low | (high << 4)) - 32


def _pack_scales_q3(scale: np.ndarray) -> np.ndarray:
    u = scale + 32
    out = np.zeros((*scale.shape[:-1], 12), dtype=np.int64)
    for s in range(16):
        out[..., s % 8] |= (u[..., s] & 15) << (4 * (s // 8))
        out[..., 8 + s % 4] |= ((u[..., s] >> 4) & 3) << (2 * (s // 4))
    return out


def unpack(raw: np.ndarray, fmt: str) -> dict:
    """uint8 [..., B * bytes] -> {"d": float32 [..., B], "dmin": float32 [..., B] (Q2_K, Q4_K,
    Q5_K), "scale": int32 [..., B, subs] (signed where the format is), "min": int32 [..., B, subs]
    (with dmin), "q": int32 [..., B, 256] (the value each weight multiplies, module docstring)}."""
    _check_format(fmt)
    b = _blocks(raw, fmt)
    out = {}
    if fmt == "q2_K":
        sc = b[..., 0:16]
        qs = b[..., 16:80]
        out["d"], out["dmin"] = _half_at(b, 80), _half_at(b, 82)
        out["scale"], out["min"] = sc & 15, sc >> 4
        out["q"] = (qs[..., _Q2_BYTE] >> _Q2_SHIFT) & 3
    elif fmt == "q3_K":
        hm, qs = b[..., 0:32], b[..., 32:96]
        out["d"] = _half_at(b, 108)
        out["scale"] = _scales_q3(b[..., 96:108])
        hbit = (hm[..., _HBYTE] >> _HBIT) & 1
        out["q"] = ((qs[..., _Q2_BYTE] >> _Q2_SHIFT) & 3) - 4 * (1 - hbit)
    elif fmt in ("q4_K", "q5_K"):
        out["d"], out["dmin"] = _half_at(b, 0), _half_at(b, 2)
        out["scale"], out["min"] = _scales_k4(b[..., 4:16])
        qs = b[..., 16:144] if fmt == "q4_K" else b[..., 48:176]
        q = (qs[..., _Q4_BYTE] >> _Q4_SHIFT) & 15
        if fmt == "q5_K":
            q = q | (((b[..., 16:48][..., _HBYTE] >> _HBIT) & 1) << 4)
        out["q"] = q
    else:  # q6_K
        ql, qh, sc = b[..., 0:128], b[..., 128:192], b[..., 192:208]
        out["d"] = _half_at(b, 208)
        out["scale"] = sc.astype(np.uint8).view(np.int8).astype(np.int32)
        out["q"] = ((((ql[..., _Q6_LBYTE] >> _Q6_LSHIFT) & 15)
                     | (((qh[..., _Q6_HBYTE] >> _Q6_HSHIFT) & 3) << 4)) - 32)
    return out


def pack(fields: dict, fmt: str) -> np.ndarray:
    """The inverse of unpack: the fields (d, dmin rounded to binary16) -> uint8 [..., B * bytes]."""
    _check_format(fmt)
    q = np.asarray(fields["q"]).astype(np.int64)
    sc = np.asarray(fields["scale"]).astype(np.int64)
    lo, hi = _Q_RANGE[fmt]
    slo, shi = _SCALE_RANGE[fmt]
    subs = QK_K // SUB[fmt]
    if q.shape[-1] != QK_K or q.min(initial=lo) < lo or q.max(initial=hi) > hi:
        raise ValueError(f"{fmt} values must be [..., 256] within {lo}..{hi}")
    if sc.shape[-1] != subs or sc.min(initial=slo) < slo or sc.max(initial=shi) > shi:
        raise ValueError(f"{fmt} scales must be [..., {subs}] within {slo}..{shi}")
    lead = q.shape[:-1]
    nbytes = BLOCK_BYTES[fmt]
    out = np.zeros((*lead, nbytes), dtype=np.int64)

    def scatter(at: int, byte_of_e, shift_of_e, values, width: int):
        for e in range(QK_K):
            out[..., at + byte_of_e[e]] |= (values[..., e] & ((1 << width) - 1)) << shift_of_e[e]

    if _HAS_MIN[fmt]:
        mn = np.asarray(fields["min"]).astype(np.int64)
        if mn.shape != sc.shape or mn.min(initial=0) < 0 or mn.max(initial=0) > shi:
            raise ValueError(f"{fmt} mins must be [..., {subs}] within 0..{shi}")
    if fmt == "q2_K":
        out[..., 0:16] = sc | (mn << 4)
        scatter(16, _Q2_BYTE, _Q2_SHIFT, q, 2)
        out[..., 80:82] = _half_bytes(fields["d"])
        out[..., 82:84] = _half_bytes(fields["dmin"])
    elif fmt == "q3_K":
        u = q + 4
        scatter(0, _HBYTE, _HBIT, u >> 2, 1)
        scatter(32, _Q2_BYTE, _Q2_SHIFT, u, 2)
        out[..., 96:108] = _pack_scales_q3(sc)
        out[..., 108:110] = _half_bytes(fields["d"])
    elif fmt in ("q4_K", "q5_K"):
        out[..., 0:2] = _half_bytes(fields["d"])
        out[..., 2:4] = _half_bytes(fields["dmin"])
        out[..., 4:16] = _pack_scales_k4(sc, mn)
        if fmt == "q5_K":
            scatter(16, _HBYTE, _HBIT, q >> 4, 1)
        scatter(16 if fmt == "q4_K" else 48, _Q4_BYTE, _Q4_SHIFT, q, 4)
    else:
        u = q + 32
        scatter(0, _Q6_LBYTE, _Q6_LSHIFT, u, 4)
        scatter(128, _Q6_HBYTE, _Q6_HSHIFT, u >> 4, 2)
        out[..., 192:208] = sc & 255
        out[..., 208:210] = _half_bytes(fields["d"])
    out = out.astype(np.uint8)
    return out.reshape(*out.shape[:-2], -1)


def dequantize(raw: np.ndarray, fmt: str) -> np.ndarray:
    """uint8 [..., B * bytes] -> float32 [..., B * 256], as dequantize_row_<fmt>: per sub-block
    dl = d * float32(scale) (and ml = dmin * float32(min)), value = dl * float32(q) (- ml)."""
    f = unpack(raw, fmt)
    sub = SUB[fmt]
    with np.errstate(invalid="ignore", over="ignore"):
        dl = (f["d"][..., None] * f["scale"].astype(np.float32)).astype(np.float32)
        v = (np.repeat(dl, sub, axis=-1) * f["q"].astype(np.float32)).astype(np.float32)
        if _HAS_MIN[fmt]:
            ml = (f["dmin"][..., None] * f["min"].astype(np.float32)).astype(np.float32)
            v = (v - np.repeat(ml, sub, axis=-1)).astype(np.float32)
    return v.reshape(*raw.shape[:-1], -1)


# --- Q8_K activations -----------------------------------------------------------------------------
def _nearest_int(v: np.ndarray) -> np.ndarray:
    """llama.cpp's nearest_int (x + 1.5 * 2**23 in binary32): round half to even for |v| < 2**22."""
    return np.rint(v).astype(np.int64)


def quantize_q8_k(x: np.ndarray) -> np.ndarray:
    """float32 [..., K] -> uint8 [..., K/256 * 292]: quantize_row_q8_K_ref (module docstring)."""
    _check_x(x)
    if x.shape[-1] % QK_K:
        raise ValueError(f"x: K = {x.shape[-1]} must be a positive multiple of {QK_K} for Q8_K")
    _check_finite(x, "Q8_K")
    lead, k = x.shape[:-1], x.shape[-1]
    blk = x.reshape(-1, QK_K)
    first = np.abs(blk).argmax(axis=1)
    mx = blk[np.arange(blk.shape[0]), first]
    zero = mx == 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        iscale = (np.float32(-127) / np.where(zero, np.float32(1), mx)).astype(np.float32)
        v = (iscale[:, None] * blk).astype(np.float32)
        d = (np.float32(1) / iscale).astype(np.float32)
    bad = ~zero & ~(np.abs(v) <= 4194303).all(axis=1)
    if bad.any():
        b = int(np.argwhere(bad)[0, 0])
        raise ValueError(f"Q8_K block {b}: max|x| = {abs(mx[b])!r} is too small for "
                         f"quantize_row_q8_K_ref (-127/max overflows; C is undefined here)")
    q = np.where(zero[:, None], 0, np.minimum(127, _nearest_int(np.where(zero[:, None], 0, v))))
    d = np.where(zero, np.float32(0), d).astype("<f4")
    bsums = q.reshape(-1, 16, 16).sum(axis=2).astype("<i2")
    out = np.concatenate([np.ascontiguousarray(d).view(np.uint8).reshape(-1, 4),
                          q.astype(np.int8).view(np.uint8),
                          np.ascontiguousarray(bsums).view(np.uint8).reshape(-1, 32)], axis=1)
    return out.reshape(*lead, k // QK_K * 292)


def unpack_q8_k(raw: np.ndarray) -> dict:
    """uint8 [..., B * 292] -> {"d": float32 [..., B], "q": int32 [..., B, 256],
    "bsums": int32 [..., B, 16]}."""
    _check_raw(raw, 292)
    blk = np.ascontiguousarray(raw).reshape(*raw.shape[:-1], -1, 292)
    return {"d": np.ascontiguousarray(blk[..., 0:4]).view("<f4")[..., 0].astype(np.float32),
            "q": np.ascontiguousarray(blk[..., 4:260]).view(np.int8).astype(np.int32),
            "bsums": np.ascontiguousarray(blk[..., 260:292]).view("<i2").astype(np.int32)}


# --- dot products ---------------------------------------------------------------------------------
def matmul(w_raw: np.ndarray, x_raw: np.ndarray, fmt: str) -> np.ndarray:
    """uint8 [N, B * bytes(fmt)] x uint8 [M, B * 292] -> float32 [M, N],
    y[m, n] = ggml_vec_dot_<fmt>_q8_K_generic(w_raw[n], x_raw[m]) (module docstring)."""
    _check_format(fmt)
    for name, a in (("w_raw", w_raw), ("x_raw", x_raw)):
        if not isinstance(a, np.ndarray) or a.ndim != 2:
            raise ValueError(f"{name} must be 2-D, not of shape {getattr(a, 'shape', None)}")
    w, x = unpack(w_raw, fmt), unpack_q8_k(x_raw)
    nb = w["d"].shape[-1]
    if nb != x["d"].shape[-1]:
        raise ValueError(f"shape mismatch: w_raw has {nb} super-blocks per row, x_raw has "
                         f"{x['d'].shape[-1]}")
    m, n = x["d"].shape[0], w["d"].shape[0]
    sub = SUB[fmt]
    # the weight value times its sub-block scale, exact: [N, B, 256]
    ws = w["q"].astype(np.int64) * np.repeat(w["scale"].astype(np.int64), sub, axis=-1)
    xq = x["q"].astype(np.int64)
    sumf = np.zeros((m, n), dtype=np.float32)
    sums = np.zeros((m, n, 8), dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        for i in range(nb):
            xd = x["d"][:, None, i]
            if fmt == "q2_K":
                isum = (xq[:, i, :] @ ws[:, i, :].T).astype(np.float32)
                summs = (x["bsums"][:, i, :].astype(np.int64)
                         @ w["min"][:, i, :].astype(np.int64).T).astype(np.float32)
                dall = (xd * w["d"][None, :, i]).astype(np.float32)
                dmin = (xd * w["dmin"][None, :, i]).astype(np.float32)
                step = ((dall * isum).astype(np.float32)
                        - (dmin * summs).astype(np.float32)).astype(np.float32)
                sumf = (sumf + step).astype(np.float32)
                continue
            # aux32[m, n, l] = sum over e = 8 * r + l
            aux32 = np.einsum("mrl,nrl->mnl", xq[:, i, :].reshape(m, 32, 8),
                              ws[:, i, :].reshape(n, 32, 8)).astype(np.float32)
            d = (w["d"][None, :, i] * xd).astype(np.float32)
            sums = (sums + (d[..., None] * aux32).astype(np.float32)).astype(np.float32)
            if _HAS_MIN[fmt]:
                # bsums[j] (16 values each) times the min of sub-block j // 2 (32 values each)
                mins = np.repeat(w["min"][:, i, :].astype(np.int64), 2, axis=-1)
                sumi = (x["bsums"][:, i, :].astype(np.int64) @ mins.T).astype(np.float32)
                dmin = (w["dmin"][None, :, i] * xd).astype(np.float32)
                sumf = (sumf - (dmin * sumi).astype(np.float32)).astype(np.float32)
        if fmt != "q2_K":
            for l in range(8):
                sumf = (sumf + sums[..., l]).astype(np.float32)
    return sumf


def vec_dot(a_raw: np.ndarray, b_raw: np.ndarray, fmt: str) -> np.float32:
    """One weight row a by one Q8_K activation row b (module docstring)."""
    return np.float32(matmul(a_raw[None, :], b_raw[None, :], fmt)[0, 0])


# --- our weight quantizers ------------------------------------------------------------------------
def quantize(x: np.ndarray, fmt: str) -> np.ndarray:
    """float32 [..., K] (K a multiple of 256) -> uint8 [..., K/256 * bytes]. One pass, ours:
    per sub-block the float scale (and, for formats with mins, min = max(0, -min(x))) that maps the
    sub-block onto the value range; the super-block d (dmin) = largest sub-block scale (min) over
    the largest code, rounded to binary16; each sub-block scale (min) code = round(scale / d)
    (round(min / dmin)), clipped; each weight = round((x + dmin * min_code) / (d * scale_code)),
    clipped (rint: ties to even). The steps run in float64 (deterministic, not llama.cpp's float32
    arithmetic): llama.cpp's quantizers search for better scales, and their bytes differ anyway."""
    _check_format(fmt)
    _check_x(x)
    if x.shape[-1] % QK_K:
        raise ValueError(f"x: K = {x.shape[-1]} must be a positive multiple of {QK_K} for {fmt}")
    _check_finite(x, fmt)
    lead, k = x.shape[:-1], x.shape[-1]
    sub = SUB[fmt]
    blk = x.reshape(-1, QK_K // sub, sub).astype(np.float64)
    lo, hi = _Q_RANGE[fmt]
    slo, shi = _SCALE_RANGE[fmt]
    fields = {}
    if _HAS_MIN[fmt]:
        mn = np.maximum(0.0, -blk.min(axis=-1))                      # offset, >= 0
        scale = (blk.max(axis=-1) + mn) / hi                          # per sub-block, >= 0
        d = (scale.max(axis=-1) / shi).astype(np.float16).astype(np.float64)
        dmin = (mn.max(axis=-1) / shi).astype(np.float16).astype(np.float64)
        sc = np.clip(np.rint(np.divide(scale, d[:, None], out=np.zeros_like(scale),
                                       where=d[:, None] > 0)), 0, shi)
        mc = np.clip(np.rint(np.divide(mn, dmin[:, None], out=np.zeros_like(mn),
                                       where=dmin[:, None] > 0)), 0, shi)
        step = d[:, None] * sc
        q = np.divide(blk + (dmin[:, None] * mc)[..., None], step[..., None],
                      out=np.zeros_like(blk), where=step[..., None] > 0)
        fields["dmin"] = dmin.astype(np.float32)
        fields["min"] = mc.astype(np.int64)
    else:
        first = np.abs(blk).argmax(axis=-1)
        mx = np.take_along_axis(blk, first[..., None], axis=-1)[..., 0]
        scale = mx / lo                                              # signed: mx -> code lo
        top = np.abs(scale).max(axis=-1)
        d = (top / shi).astype(np.float16).astype(np.float64)
        sc = np.clip(np.rint(np.divide(scale, d[:, None], out=np.zeros_like(scale),
                                       where=d[:, None] > 0)), slo, shi)
        step = d[:, None] * sc
        q = np.divide(blk, step[..., None], out=np.zeros_like(blk), where=step[..., None] != 0)
    fields["d"] = d.astype(np.float32)
    fields["scale"] = sc.astype(np.int64)
    fields["q"] = np.clip(np.rint(q), lo, hi).astype(np.int64).reshape(-1, QK_K)
    nb = blk.shape[0]
    out = pack({key: v.reshape(nb, *v.shape[1:]) for key, v in fields.items()}, fmt)
    return out.reshape(*lead, k // QK_K * BLOCK_BYTES[fmt])
