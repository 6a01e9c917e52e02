"""llama.cpp's 32-value weight formats Q4_0, Q4_1, Q5_0, Q5_1, the Q8_1 activations that Q4_1 and
Q5_1 pair with, and their dot products as llama.cpp's scalar reference computes them.

The semantics are those of llama.cpp's `ggml-common.h` (block layouts), `ggml-quants.c`
(`quantize_row_q4_0_ref` .. `quantize_row_q5_1_ref`, `quantize_row_q8_1_ref`, `dequantize_row_*`)
and `ggml-cpu/quants.c` (`ggml_vec_dot_q4_0_q8_0_generic`, `_q4_1_q8_1_`, `_q5_0_q8_0_`,
`_q5_1_q8_1_`), written here from their semantics. As in golden/bfp.py every float step is one IEEE
binary32 operation (numpy float32, round to nearest even, no FMA, no float64), in the order written.

Block layouts (little-endian; d, m, s are IEEE binary16):
    Q4_0  18 bytes: d, qs[16]            value j    = (qs[j] & 15) - 8,  j + 16: (qs[j] >> 4) - 8
    Q4_1  20 bytes: d, m, qs[16]         value j    =  qs[j] & 15,       j + 16:  qs[j] >> 4
    Q5_0  22 bytes: d, qh[4], qs[16]     as Q4_0 plus bit 4 from bit j of the uint32 qh, minus 16
    Q5_1  24 bytes: d, m, qh[4], qs[16]  as Q4_1 plus bit 4 from bit j of qh (no offset)
    Q8_1  36 bytes: d, s, qs[32] int8    s = binary16(float32(sum qs) * d), d as float32 before
                                         rounding to binary16 (quantize_row_q8_1_ref)

Dot products, a = weight row (llama.cpp's x), b = activation row (its y), per block in order,
sumi the exact integer sum of weight value * activation qs:
    Q4_0 x Q8_0:  sumf = sumf + ((float32(sumi) * d_a) * d_b)
    Q5_0 x Q8_0:  sumf = sumf + ((d_a * d_b) * float32(sumi))
    Q4_1 x Q8_1,
    Q5_1 x Q8_1:  sumf = sumf + (((d_a * d_b) * float32(sumi)) + (m_a * s_b))
(|sumi| <= 32 * 31 * 128 < 2**24, so float32(sumi) is exact.) Note the three different orders: C's
`sumi*x.d*y.d` is (sumi * x.d) * y.d. The stored s of a Q8_1 block is used as stored, as llama.cpp
does (it is not recomputed from qs).

Weight quantizers (llama.cpp's _ref, which gguf.quants reproduces byte for byte):
    Q4_0: max = the value of largest |x| (the first one on ties), d = max / -8, id = 1/d (0 if d = 0),
          q = min(15, trunc(x * id + 8.5))
    Q5_0: d = max / -16, q = min(31, trunc(x * id + 16.5))
    Q4_1: d = (max - min) / 15, q = min(15, trunc((x - min) * id + 0.5)), m = min
    Q5_1: d = (max - min) / 31, q = trunc((x - min) * id + 0.5) (ours also clips to 31, where C
          would wrap a uint8 it never reaches for finite input)
Non-finite weights are refused (the C code is undefined there).
"""
import numpy as np

from .bfp import (QK, _check_finite, _check_raw, _check_x, _half_at, _half_bytes, _split_q8_0,
                  quantize_q8_0)

Q4_0_BYTES, Q4_1_BYTES, Q5_0_BYTES, Q5_1_BYTES, Q8_1_BYTES = 18, 20, 22, 24, 36
BLOCK_BYTES = {"q4_0": Q4_0_BYTES, "q4_1": Q4_1_BYTES, "q5_0": Q5_0_BYTES, "q5_1": Q5_1_BYTES,
               "q8_1": Q8_1_BYTES}
WEIGHT_FORMATS = ("q4_0", "q4_1", "q5_0", "q5_1")
ACTIVATION = {"q4_0": "q8_0", "q5_0": "q8_0", "q4_1": "q8_1", "q5_1": "q8_1"}
_BITS = {"q4_0": 4, "q4_1": 4, "q5_0": 5, "q5_1": 5}
_HAS_MIN = {"q4_0": False, "q4_1": True, "q5_0": False, "q5_1": True}
_OFFSET = {"q4_0": 8, "q4_1": 0, "q5_0": 16, "q5_1": 0}


def _check_format(fmt: str) -> None:
    if fmt not in WEIGHT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(WEIGHT_FORMATS)}, not {fmt!r}")


# --- fields of a block ----------------------------------------------------------------------------
def unpack(raw: np.ndarray, fmt: str) -> dict:
    """uint8 [..., B * bytes] -> {"d": float32 [..., B], "m": float32 [..., B] (Q4_1, Q5_1 only),
    "q": int32 [..., B, 32]} with q the stored values minus the format's offset (Q4_0: -8..7,
    Q5_0: -16..15, Q4_1: 0..15, Q5_1: 0..31)."""
    _check_format(fmt)
    bpb = BLOCK_BYTES[fmt]
    _check_raw(raw, bpb)
    blk = np.ascontiguousarray(raw).reshape(*raw.shape[:-1], -1, bpb)
    out = {"d": _half_at(blk, 0)}
    at = 2
    if _HAS_MIN[fmt]:
        out["m"] = _half_at(blk, 2)
        at = 4
    if _BITS[fmt] == 5:
        qh = np.ascontiguousarray(blk[..., at:at + 4]).view("<u4")[..., 0]
        high = ((qh[..., None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.int32) << 4
        at += 4
    else:
        high = 0
    qs = blk[..., at:at + 16].astype(np.int32)
    low = np.concatenate([qs & 15, qs >> 4], axis=-1)
    out["q"] = (low | high) - _OFFSET[fmt]
    return out


def pack(fields: dict, fmt: str) -> np.ndarray:
    """The inverse of unpack: {"d", "m" (Q4_1/Q5_1), "q"} -> uint8 [..., B * bytes]. d and m are
    float32 values that binary16 holds exactly (unpack's output) or are rounded to binary16."""
    _check_format(fmt)
    q = np.asarray(fields["q"]).astype(np.int64) + _OFFSET[fmt]
    top = (1 << _BITS[fmt]) - 1
    if q.shape[-1] != QK or q.min(initial=0) < 0 or q.max(initial=0) > top:
        raise ValueError(f"{fmt} values must be [..., 32] within {-_OFFSET[fmt]}..{top - _OFFSET[fmt]}")
    q = q.astype(np.uint32)
    parts = [_half_bytes(np.asarray(fields["d"], dtype=np.float32))]
    if _HAS_MIN[fmt]:
        parts.append(_half_bytes(np.asarray(fields["m"], dtype=np.float32)))
    if _BITS[fmt] == 5:
        qh = (((q >> 4) & 1) << np.arange(32, dtype=np.uint32)).sum(axis=-1, dtype=np.uint32)
        parts.append(np.ascontiguousarray(qh.astype("<u4")).view(np.uint8).reshape(*qh.shape, 4))
    parts.append(((q[..., :16] & 15) | ((q[..., 16:] & 15) << 4)).astype(np.uint8))
    blk = np.concatenate(parts, axis=-1)
    return blk.reshape(*blk.shape[:-2], -1)


# --- weights --------------------------------------------------------------------------------------
def quantize(x: np.ndarray, fmt: str) -> np.ndarray:
    """float32 [..., K] -> uint8 [..., K/32 * bytes], llama.cpp's quantize_row_<fmt>_ref."""
    _check_format(fmt)
    _check_x(x)
    _check_finite(x, fmt.upper())
    lead, k = x.shape[:-1], x.shape[-1]
    blk = x.reshape(-1, QK)
    top = np.float32((1 << _BITS[fmt]) - 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        if _HAS_MIN[fmt]:
            mn = blk.min(axis=1)
            d = ((blk.max(axis=1) - mn) / top).astype(np.float32)
            idv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, np.float32(1)),
                           np.float32(0)).astype(np.float32)
            v = ((blk - mn[:, None]) * idv[:, None] + np.float32(0.5)).astype(np.float32)
        else:
            first = np.abs(blk).argmax(axis=1)                  # first of the largest |x|
            mx = blk[np.arange(blk.shape[0]), first]
            d = (mx / np.float32(-(_OFFSET[fmt]))).astype(np.float32)
            idv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, np.float32(1)),
                           np.float32(0)).astype(np.float32)
            v = (blk * idv[:, None] + np.float32(_OFFSET[fmt] + 0.5)).astype(np.float32)
    bad = ~np.isfinite(v).all(axis=1)
    if bad.any():
        b = int(np.argwhere(bad)[0, 0])
        raise ValueError(f"{fmt.upper()} block {b}: d = {d[b]!r} is too small for "
                         f"quantize_row_{fmt}_ref (1/d overflows; C is undefined here)")
    q = np.minimum(np.trunc(v), top).astype(np.int64) - _OFFSET[fmt]
    fields = {"d": d.reshape(*lead, k // QK), "q": q.reshape(*lead, k // QK, QK)}
    if _HAS_MIN[fmt]:
        fields["m"] = mn.reshape(*lead, k // QK)
    return pack(fields, fmt)


def dequantize(raw: np.ndarray, fmt: str) -> np.ndarray:
    """uint8 [..., B * bytes] -> float32 [..., B * 32]: q * d (Q4_0, Q5_0) or q * d + m (Q4_1,
    Q5_1), each one binary32 operation, as dequantize_row_<fmt>."""
    f = unpack(raw, fmt)
    with np.errstate(invalid="ignore", over="ignore"):
        v = f["q"].astype(np.float32) * f["d"][..., None]
        if _HAS_MIN[fmt]:
            v = (v + f["m"][..., None]).astype(np.float32)
    return v.astype(np.float32).reshape(*raw.shape[:-1], -1)


# --- Q8_1 activations -----------------------------------------------------------------------------
def quantize_q8_1(x: np.ndarray) -> np.ndarray:
    """float32 [..., K] -> uint8 [..., K/32 * 36]: quantize_row_q8_1_ref. d and qs exactly as
    Q8_0 (golden/bfp.py: d = amax / 127, qs = roundf(x * (1/d))), then s = binary16(float32(sum
    qs) * d) with the binary32 d, before it is rounded to binary16."""
    q8_0 = quantize_q8_0(x)                                   # checks x; same d and qs as Q8_1
    blk = q8_0.reshape(-1, 34)
    qs = blk[:, 2:].view(np.int8).astype(np.int32)
    amax = np.abs(x.reshape(-1, QK)).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)          # the binary32 d
    with np.errstate(over="ignore"):
        s = (qs.sum(axis=1).astype(np.float32) * d).astype(np.float32)
    out = np.concatenate([blk[:, :2], _half_bytes(s), blk[:, 2:]], axis=1)
    return out.reshape(*x.shape[:-1], x.shape[-1] // QK * Q8_1_BYTES)


def unpack_q8_1(raw: np.ndarray) -> dict:
    """uint8 [..., B * 36] -> {"d", "s": float32 [..., B], "q": int32 [..., B, 32]}."""
    _check_raw(raw, Q8_1_BYTES)
    blk = np.ascontiguousarray(raw).reshape(*raw.shape[:-1], -1, Q8_1_BYTES)
    return {"d": _half_at(blk, 0), "s": _half_at(blk, 2),
            "q": np.ascontiguousarray(blk[..., 4:]).view(np.int8).astype(np.int32)}


def quantize_activations(x: np.ndarray, fmt: str) -> np.ndarray:
    """The activation row a weight format pairs with: Q8_0 for Q4_0/Q5_0, Q8_1 for Q4_1/Q5_1."""
    _check_format(fmt)
    return quantize_q8_1(x) if ACTIVATION[fmt] == "q8_1" else quantize_q8_0(x)


# --- dot products ---------------------------------------------------------------------------------
def matmul(w_raw: np.ndarray, x_raw: np.ndarray, fmt: str) -> np.ndarray:
    """uint8 [N, B * bytes(fmt)] x uint8 [M, B * bytes(activation)] -> float32 [M, N],
    y[m, n] = ggml_vec_dot_<fmt>_<activation>_generic(w_raw[n], x_raw[m]) (module docstring)."""
    _check_format(fmt)
    if not isinstance(w_raw, np.ndarray) or w_raw.ndim != 2:
        raise ValueError(f"w_raw must be 2-D, not of shape {getattr(w_raw, 'shape', None)}")
    if not isinstance(x_raw, np.ndarray) or x_raw.ndim != 2:
        raise ValueError(f"x_raw must be 2-D, not of shape {getattr(x_raw, 'shape', None)}")
    w = unpack(w_raw, fmt)
    if ACTIVATION[fmt] == "q8_1":
        x = unpack_q8_1(x_raw)
    else:
        _check_raw(x_raw, 34)
        d, qs = _split_q8_0(x_raw)
        x = {"d": d, "q": qs.astype(np.int32)}
    nb_w, nb_x = w["d"].shape[-1], x["d"].shape[-1]
    if nb_w != nb_x:
        raise ValueError(f"shape mismatch: w_raw has {nb_w} blocks per row, x_raw has {nb_x}")
    m, n = x["d"].shape[0], w["d"].shape[0]
    sumf = np.zeros((m, n), dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        for i in range(nb_w):
            sumi = (x["q"][:, i, :] @ w["q"][:, i, :].T).astype(np.float32)   # exact
            dw, dx = w["d"][None, :, i], x["d"][:, None, i]
            if fmt == "q4_0":
                prod = (sumi * dw).astype(np.float32) * dx
            elif fmt == "q5_0":
                prod = (dw * dx).astype(np.float32) * sumi
            else:
                prod = ((dw * dx).astype(np.float32) * sumi).astype(np.float32) \
                    + (w["m"][None, :, i] * x["s"][:, None, i]).astype(np.float32)
            sumf = (sumf + prod.astype(np.float32)).astype(np.float32)
    return sumf


def vec_dot(a_raw: np.ndarray, b_raw: np.ndarray, fmt: str) -> np.float32:
    """One weight row a by one activation row b (module docstring)."""
    return np.float32(matmul(a_raw[None, :], b_raw[None, :], fmt)[0, 0])
