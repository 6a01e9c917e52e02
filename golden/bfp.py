"""Block floating point: llama.cpp Q8_0 and OCP MXINT8 blocks, their codecs and dot products.

Every float operation below is one IEEE 754 binary32 operation on numpy float32 values (round to
nearest, ties to even; gradual underflow, no flush to zero; overflow to +-Inf), done in the order
written. There is no float64 intermediate and no fused multiply-add: numpy's float32 multiply and
add ufuncs each round once. Integer dot products are exact (int32; |sum| <= 32 * 128 * 128 = 2**19).

Q8_0 (llama.cpp block_q8_0, QK8_0 = 32 values, 34 bytes per block)
    byte 0..1  : d, IEEE binary16, little-endian
    byte 2..33 : qs[0..31], int8 two's complement
    value[j] = float32(d) * float32(qs[j])  (binary16 -> binary32 is exact, then one multiply)

    quantize_row_q8_0 is llama.cpp's quantize_row_q8_0_ref (which gguf.quants.Q8_0 reproduces):
        amax = max_j |x[j]|                                   (exact)
        d    = amax / 127                                     (binary32 divide)
        id   = 1 / d  if d != 0 else 0                        (binary32 divide)
        qs[j] = roundf(x[j] * id)                             (binary32 multiply, then C roundf:
                                                               nearest integer, ties AWAY from 0)
        stored d = binary16(d)                                (binary32 -> binary16, ties to even;
                                                               > 65519.99 -> Inf, tiny -> subnormal/0)
    Note: qs is computed with the binary32 id, NOT with the binary16 d that is stored, and the
    rounding is roundf (2.5 -> 3, -0.5 -> -1), not numpy's rint. (llama.cpp's SIMD x86 path
    quantize_row_q8_0 differs: id = 127/amax and round-half-even; this module follows _ref.)
    The C reference is undefined when roundf(x * id) is outside int8 (non-finite x, or amax below
    about 127 * 2**-128 ~ 3.7e-37, where d is a float32 subnormal and 1/d overflows or is inexact
    enough to push |q| past 127): those inputs raise ValueError here.

    vec_dot_q8_0(a, b), llama.cpp's reference scalar ggml_vec_dot_q8_0_q8_0, a = weight row
    (src0, llama.cpp's x), b = activation row (src1, llama.cpp's y):
        sumf = +0.0f
        for block i = 0, 1, ..., K/32 - 1 (in this order):
            sumi  = sum_j a.qs[j] * b.qs[j]                    (exact integer)
            scale = float32(a.d) * float32(b.d)                (binary32 multiply: d_w * d_x)
            prod  = float32(sumi) * scale                      (sumi is exact in binary32; multiply)
            sumf  = sumf + prod                                (binary32 add, no FMA with prod)
        result = sumf
    Binary32 multiplication is commutative bit for bit, so d_w * d_x == d_x * d_w; the order is
    fixed anyway as d_w * d_x. Specials follow IEEE: d = 0 gives prod = 0 (+-0) unless the other
    scale is Inf (0 * Inf = NaN); Inf scales give +-Inf (or NaN for sumi = 0); a NaN scale gives
    NaN; subnormal binary16 scales are exact binary32 normals; subnormal binary32 results are kept.
    (C compilers may contract `sumf += sumi*scale` into an FMA under -ffp-contract=fast; this model
    pins the unfused ISO C semantics.)

MXINT8 (OCP Microscaling Formats v1.0, block size 32, 33 bytes per block)
    byte 0     : E8M0 shared scale, unsigned e: X = 2**(e - 127) for e in 0..254; e = 0xFF is NaN
    byte 1..32 : P[0..31], int8 two's complement, with an implicit scale 2**-6 (element P * 2**-6)
    value[j] = P[j] * 2**(e - 133), exact in binary32 for every e in 0..254 (|P| <= 128 has at
    most 8 significant bits, and 2**-133 * P stays at or above the binary32 subnormal quantum) with
    one exception: P = -128 (never produced by quantize_mxint8) at e = 254 is -2**128, which
    overflows to -Inf. e = 0xFF gives NaN for every element.

    quantize_mxint8 (OCP v1.0 section 6.3, emax_elem = 0 for INT8: its largest power of two is 1):
        amax = max_j |x[j]|
        if amax is NaN or Inf:  e = 0xFF, P = 0  (block is NaN)
        elif amax == 0:         e = 0,    P = 0
        else:
            s = floor(log2(amax)) - 0, exactly (from frexp), clamped to [-127, 127]; e = s + 127
            P[j] = clip(rint(x[j] * 2**(6 - s)), -127, 127)   (scaling is exact, see below;
                                                                rint = ties to EVEN; -128 unused)
        x[j] * 2**(6 - s) is exact unless it falls below the binary32 normal range, which only
        happens for |x[j] * 2**(6-s)| < 2**-126, values that round to 0 either way.

    vec_dot_mxint8(a, b):
        sumf = +0.0f
        for block i in order:
            sumi = sum_j a.P[j] * b.P[j]                        (exact integer, |sumi| <= 2**19)
            if a.e == 0xFF or b.e == 0xFF: v = NaN
            else: v = binary32(sumi * 2**(a.e + b.e - 254 - 12)) (the exact real, rounded ONCE:
                  np.ldexp on float32, i.e. C ldexpf: exact when the result is a binary32 normal,
                  rounded to nearest-even into the subnormal range, +-Inf on overflow)
            sumf = sumf + v                                     (binary32 add)
        No float multiplier is needed: v is an exponent shift of an integer.

Shapes: x float32 [K] or [M, K]; raw uint8 [..., K/32 * 34] (Q8_0) or [..., K/32 * 33] (MXINT8).
matmul_*(w_raw [N, Kb], x_raw [M, Kb]) -> float32 [M, N], y[m, n] = vec_dot(w_raw[n], x_raw[m]).
"""
import numpy as np

QK = 32
Q8_0_BYTES = 34
MXINT8_BYTES = 33
E8M0_NAN = 0xFF


# --- checks ---------------------------------------------------------------------------------------
def _check_x(x, name="x", ndim=None) -> None:
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        raise ValueError(f"{name} must be a numpy float32 array, not {getattr(x, 'dtype', type(x))}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, not of shape {x.shape}")
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension")
    k = x.shape[-1]
    if k == 0 or k % QK:
        raise ValueError(f"{name}: K = {k} must be a positive multiple of {QK} (the block size)")


def _check_raw(raw, bpb: int, name="raw", ndim=None) -> None:
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8:
        raise ValueError(f"{name} must be a numpy uint8 array, not {getattr(raw, 'dtype', type(raw))}")
    if ndim is not None and raw.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, not of shape {raw.shape}")
    if raw.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension")
    n = raw.shape[-1]
    if n == 0 or n % bpb:
        raise ValueError(f"{name}: last dimension {n} must be a positive multiple of {bpb} bytes (one block)")


def _check_finite(x: np.ndarray, what: str) -> None:
    if not np.isfinite(x).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise ValueError(f"x must be finite for {what}: x{list(idx)} = {x[idx]}")


def _check_pair(a, b, bpb: int, an: str, bn: str, ndim: int) -> None:
    _check_raw(a, bpb, an, ndim)
    _check_raw(b, bpb, bn, ndim)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"shape mismatch: {an} has {a.shape[-1] // bpb} blocks per row, "
                         f"{bn} has {b.shape[-1] // bpb}")


# --- Q8_0 -----------------------------------------------------------------------------------------
def _roundf(v: np.ndarray) -> np.ndarray:
    """C roundf on float32: nearest integer, ties away from zero (all steps exact in binary32)."""
    a = np.abs(v)
    f = np.floor(a)
    r = np.where(a - f >= np.float32(0.5), f + np.float32(1), f)  # a - f is exact
    return np.copysign(r, v).astype(np.float32)


def quantize_q8_0(x: np.ndarray) -> np.ndarray:
    """float32 [M, K] (or [K]) -> uint8 [M, K/32*34] (or [K/32*34]), row by row quantize_row_q8_0_ref."""
    _check_x(x)
    _check_finite(x, "Q8_0")
    lead, k = x.shape[:-1], x.shape[-1]
    blk = x.reshape(-1, QK)
    amax = np.abs(blk).max(axis=1)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):  # out-of-range is checked below
        d = (amax / np.float32(127)).astype(np.float32)
        nz = d != 0
        idv = np.where(nz, np.float32(1) / np.where(nz, d, np.float32(1)), np.float32(0)).astype(np.float32)
        q = _roundf(blk * idv[:, None])
    bad = ~(np.abs(q) <= 127)  # also catches NaN / Inf
    if bad.any():
        b = int(np.argwhere(bad.any(axis=1))[0, 0])
        raise ValueError(f"Q8_0 block {b}: max|x| = {amax[b]!r} is too small for quantize_row_q8_0_ref "
                         f"(d = {d[b]!r}, 1/d = {idv[b]!r} gives roundf(x/d) outside int8; C is undefined here)")
    out = np.empty((blk.shape[0], Q8_0_BYTES), dtype=np.uint8)
    out[:, 0:2] = _half_bytes(d)        # d > 65519.99... becomes binary16 Inf, as in C and gguf
    out[:, 2:] = q.astype(np.int8).view(np.uint8)
    return out.reshape(*lead, k // QK * Q8_0_BYTES)


def quantize_row_q8_0(x: np.ndarray) -> np.ndarray:
    """float32 [K] -> uint8 [K/32*34]: llama.cpp quantize_row_q8_0_ref (see the module docstring)."""
    _check_x(x, ndim=1)
    return quantize_q8_0(x)


def _half_at(blk: np.ndarray, at: int) -> np.ndarray:
    """The binary16 at bytes at, at + 1 (little-endian) of each block [..., bytes], as float32
    (exact)."""
    bits = blk[..., at].astype(np.uint16) | (blk[..., at + 1].astype(np.uint16) << np.uint16(8))
    return bits.view(np.float16).astype(np.float32)


def _half_bytes(v) -> np.ndarray:
    """float32 [...] -> uint8 [..., 2]: binary16, little-endian (ties to even; overflow to Inf,
    as C and gguf)."""
    v = np.asarray(v, dtype=np.float32)
    with np.errstate(over="ignore"):
        h = np.ascontiguousarray(v.astype("<f2"))
    return h.view(np.uint8).reshape(*v.shape, 2)


def _split_q8_0(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [..., B*34] -> (d float32 [..., B] exactly from binary16, qs int8 [..., B, 32])."""
    blk = np.ascontiguousarray(raw).reshape(*raw.shape[:-1], -1, Q8_0_BYTES)
    qs = np.ascontiguousarray(blk[..., 2:]).view(np.int8)
    return _half_at(blk, 0), qs


def dequantize_q8_0(raw: np.ndarray) -> np.ndarray:
    """uint8 [..., B*34] -> float32 [..., B*32]: float32(d) * float32(q), one binary32 multiply."""
    _check_raw(raw, Q8_0_BYTES)
    d, qs = _split_q8_0(raw)
    with np.errstate(invalid="ignore", over="ignore"):
        v = qs.astype(np.float32) * d[..., None]
    return v.astype(np.float32).reshape(*raw.shape[:-1], -1)


def matmul_q8_0(w_raw: np.ndarray, x_raw: np.ndarray) -> np.ndarray:
    """uint8 [N, B*34] x uint8 [M, B*34] -> float32 [M, N], y[m, n] = vec_dot_q8_0(w_raw[n], x_raw[m]).

    Vectorised over (m, n); blocks are accumulated one after another in binary32 exactly as the
    scalar loop in the module docstring (scale = d_w * d_x, prod = float32(sumi) * scale, sumf += prod).
    """
    _check_pair(w_raw, x_raw, Q8_0_BYTES, "w_raw", "x_raw", 2)
    dw, qw = _split_q8_0(w_raw)  # [N, B], [N, B, 32]
    dx, qx = _split_q8_0(x_raw)  # [M, B], [M, B, 32]
    qw32, qx32 = qw.astype(np.int32), qx.astype(np.int32)
    m, n, nb = qx.shape[0], qw.shape[0], qw.shape[1]
    sumf = np.zeros((m, n), dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        for i in range(nb):
            sumi = qx32[:, i, :] @ qw32[:, i, :].T               # exact int32 [M, N]
            scale = dw[None, :, i] * dx[:, None, i]              # binary32: d_w * d_x
            prod = sumi.astype(np.float32) * scale               # binary32 multiply
            sumf = (sumf + prod).astype(np.float32)              # binary32 add, block order
    return sumf


def vec_dot_q8_0(a_raw: np.ndarray, b_raw: np.ndarray) -> np.float32:
    """Dot product of two Q8_0 rows (a = weight, b = activation): ggml_vec_dot_q8_0_q8_0 reference."""
    _check_pair(a_raw, b_raw, Q8_0_BYTES, "a_raw", "b_raw", 1)
    return np.float32(matmul_q8_0(a_raw[None, :], b_raw[None, :])[0, 0])


# --- MXINT8 ---------------------------------------------------------------------------------------
def quantize_mxint8(x: np.ndarray) -> np.ndarray:
    """float32 [..., K] -> uint8 [..., K/32*33]: OCP MX v1.0 quantization (module docstring)."""
    _check_x(x)
    lead, k = x.shape[:-1], x.shape[-1]
    blk = x.reshape(-1, QK)
    amax = np.abs(blk).max(axis=1)  # NaN propagates
    special = ~np.isfinite(amax)
    zero = amax == 0
    _, ex = np.frexp(np.where(special | zero, np.float32(1), amax))  # amax = m * 2**ex, m in [0.5, 1)
    s = np.clip(ex.astype(np.int32) - 1, -127, 127)               # floor(log2(amax)) - emax_elem(0)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        scaled = np.ldexp(blk, (6 - s)[:, None])                  # exact (see docstring)
        q = np.clip(np.rint(scaled), -127, 127)
    q = np.where((special | zero)[:, None], np.float32(0), q)
    e = np.where(special, E8M0_NAN, np.where(zero, 0, s + 127)).astype(np.uint8)
    out = np.empty((blk.shape[0], MXINT8_BYTES), dtype=np.uint8)
    out[:, 0] = e
    out[:, 1:] = q.astype(np.int8).view(np.uint8)
    return out.reshape(*lead, k // QK * MXINT8_BYTES)


def _split_mxint8(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [..., B*33] -> (e int32 [..., B], P int8 [..., B, 32])."""
    blk = np.ascontiguousarray(raw).reshape(*raw.shape[:-1], -1, MXINT8_BYTES)
    return blk[..., 0].astype(np.int32), np.ascontiguousarray(blk[..., 1:]).view(np.int8)


def dequantize_mxint8(raw: np.ndarray) -> np.ndarray:
    """uint8 [..., B*33] -> float32 [..., B*32]: P * 2**(e - 133), exact; NaN for e = 0xFF."""
    _check_raw(raw, MXINT8_BYTES)
    e, p = _split_mxint8(raw)
    with np.errstate(over="ignore"):  # e = 0xFF (NaN below) or P = -128 at e = 254 (-Inf)
        v = np.ldexp(p.astype(np.float32), (e - 133)[..., None])
    v = np.where((e == E8M0_NAN)[..., None], np.float32(np.nan), v).astype(np.float32)
    return v.reshape(*raw.shape[:-1], -1)


def matmul_mxint8(w_raw: np.ndarray, x_raw: np.ndarray) -> np.ndarray:
    """uint8 [N, B*33] x uint8 [M, B*33] -> float32 [M, N], y[m, n] = vec_dot_mxint8(w_raw[n], x_raw[m])."""
    _check_pair(w_raw, x_raw, MXINT8_BYTES, "w_raw", "x_raw", 2)
    ew, pw = _split_mxint8(w_raw)
    ex, px = _split_mxint8(x_raw)
    pw32, px32 = pw.astype(np.int32), px.astype(np.int32)
    m, n, nb = px.shape[0], pw.shape[0], pw.shape[1]
    sumf = np.zeros((m, n), dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        for i in range(nb):
            sumi = px32[:, i, :] @ pw32[:, i, :].T               # exact int32 [M, N]
            sh = ew[None, :, i] + ex[:, None, i] - 254 - 12
            v = np.ldexp(sumi.astype(np.float32), sh)            # exact real rounded once
            nan = (ew[None, :, i] == E8M0_NAN) | (ex[:, None, i] == E8M0_NAN)
            v = np.where(nan, np.float32(np.nan), v).astype(np.float32)
            sumf = (sumf + v).astype(np.float32)                 # binary32 add, block order
    return sumf


def vec_dot_mxint8(a_raw: np.ndarray, b_raw: np.ndarray) -> np.float32:
    """Dot product of two MXINT8 rows (module docstring): exact per block, binary32 sum in block order."""
    _check_pair(a_raw, b_raw, MXINT8_BYTES, "a_raw", "b_raw", 1)
    return np.float32(matmul_mxint8(a_raw[None, :], b_raw[None, :])[0, 0])
