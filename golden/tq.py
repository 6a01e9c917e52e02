"""llama.cpp's ternary block formats TQ2_0 and TQ1_0, to and from (trits, d).

Both formats cut each row into blocks of QK = 256 weights; a block stores 256 trits and one
IEEE binary16 scale d (little-endian, last in the block). The weight value is trit * d. This module
packs exactly the bytes of llama.cpp's quantize_row_tq{1,2}_0_ref and gguf.quants (the tests
compare bytes with gguf), but takes the trits and d as given: choosing them (absmean, absmax...) is
the quantizer's business (golden/ternary.py). Trit code: c = trit + 1 (-1 -> 0, 0 -> 1, +1 -> 2).

TQ2_0 (66 bytes per block): qs[64], d.
    Element e (0 .. 255) of the block: half h = e // 128, r = e % 128, shift s = r // 32,
    j = r % 32 -> bits [2s, 2s + 2) of qs[32*h + j]. I.e. byte j of each 32-byte group holds
    elements j, j+32, j+64, j+96 of that 128-element half at shifts 0, 2, 4, 6.
    Code 3 has no meaning (llama.cpp would decode it as +2): unpack raises ValueError.

TQ1_0 (54 bytes per block): qs[48], qh[4], d.
    qs[0:32]:  byte m (0 .. 31) holds elements m + 32*n, n = 0 .. 4
    qs[32:48]: byte 32+m (m = 0 .. 15) holds elements 160 + m + 16*n, n = 0 .. 4
    qh[0:4]:   byte j (0 .. 3) holds elements 240 + j + 4*n, n = 0 .. 3
    In each byte the trit n = 0 is the MOST significant base-3 digit: v = sum_n c_n * 3**(4-n)
    (for qh n runs to 3 only, so its lowest digit is 0: v = sum_n c_n * 3**(4-n), n < 4), and the
    stored byte is the "pow3 scaling trick" b = ceil(v * 256 / 243) = (v * 256 + 242) // 243, a
    fixed-point fraction v / 243 in [0, 1). Decoding digit n multiplies by 3**n modulo 256 (drops
    the digits above n, as a uint8 multiply does) and takes the top trit: c_n = ((b * 3**n) % 256 * 3) >> 8.
    Only 243 of the 256 byte values are canonical (ceil(v*256/243) for some v); the other 13
    (1, 20, 40, 60, 79, 99, 119, 138, 158, 178, 197, 217, 237) still decode under llama.cpp's rule,
    to the trits of a neighbouring canonical byte. For qh only the 81 bytes ceil(3*u*256/243) are
    canonical (llama.cpp ignores qh's fifth digit). unpack_tq1_0(strict=True) raises on a
    non-canonical byte; strict=False decodes any byte as llama.cpp does.

Shapes: trits int8 [N, K] in {-1, 0, 1}; d float16 [N, K // 256]; raw uint8 [N, K // 256 * bytes].
K must be a multiple of 256. d must be finite (NaN/Inf rejected in pack and unpack); any finite
binary16 bit pattern, including -0.0, negative values and subnormals, is kept bit for bit.
"""
import numpy as np

QK = 256
TQ2_0_BYTES = 66
TQ1_0_BYTES = 54
_POW3 = np.array([81, 27, 9, 3, 1], dtype=np.int64)


# --- checks ---------------------------------------------------------------------------------------
def _check_trits_d(trits, d) -> tuple[int, int, int]:
    if not isinstance(trits, np.ndarray) or trits.dtype != np.int8:
        raise ValueError(f"trits must be a numpy int8 array, not {getattr(trits, 'dtype', type(trits))}")
    if trits.ndim != 2:
        raise ValueError(f"trits must be 2-D [N, K], not of shape {trits.shape}")
    n, k = trits.shape
    if k == 0 or k % QK:
        raise ValueError(f"K = {k} must be a positive multiple of {QK} (the TQ block size)")
    bad = (trits < -1) | (trits > 1)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"trits must be in {{-1, 0, 1}}: trits[{r}, {c}] = {int(trits[r, c])}")
    if not isinstance(d, np.ndarray) or d.dtype != np.float16:
        raise ValueError(f"d must be a numpy float16 array, not {getattr(d, 'dtype', type(d))}")
    blocks = k // QK
    if d.shape != (n, blocks):
        raise ValueError(f"shape mismatch: trits {trits.shape} needs d of shape {(n, blocks)}, not {d.shape}")
    _check_d_finite(d)
    return n, k, blocks


def _check_d_finite(d: np.ndarray) -> None:
    bad = ~np.isfinite(d)
    if bad.any():
        r, b = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"d must be finite (no NaN/Inf): row {r} block {b} has d = {d[r, b]}")


def _check_raw(raw, block_bytes: int, name: str) -> tuple[int, int]:
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8:
        raise ValueError(f"raw must be a numpy uint8 array, not {getattr(raw, 'dtype', type(raw))}")
    if raw.ndim != 2:
        raise ValueError(f"raw must be 2-D [N, bytes], not of shape {raw.shape}")
    if raw.shape[1] == 0 or raw.shape[1] % block_bytes:
        raise ValueError(f"{name} rows must be a positive multiple of {block_bytes} bytes, not {raw.shape[1]}")
    return raw.shape[0], raw.shape[1] // block_bytes


def _d_bytes(d: np.ndarray) -> np.ndarray:
    n, blocks = d.shape
    return np.ascontiguousarray(d.astype("<f2")).view(np.uint8).reshape(n, blocks, 2)


def _d_from_bytes(b: np.ndarray) -> np.ndarray:
    n, blocks, _ = b.shape
    return np.ascontiguousarray(b).view("<f2").reshape(n, blocks).astype(np.float16)


# --- TQ2_0 ----------------------------------------------------------------------------------------
def pack_tq2_0(trits: np.ndarray, d: np.ndarray) -> np.ndarray:
    """int8 trits [N, K] and float16 d [N, K/256] -> uint8 [N, K/256 * 66] in llama.cpp's TQ2_0
    layout (module docstring): per block qs[64] (2-bit codes trit + 1) then d little-endian."""
    n, k, blocks = _check_trits_d(trits, d)
    c = (trits.astype(np.int64) + 1).reshape(n, blocks, 2, 4, 32)  # [.., half, shift, j]
    shifts = (2 * np.arange(4, dtype=np.int64)).reshape(1, 1, 1, 4, 1)
    qs = (c << shifts).sum(axis=3).reshape(n, blocks, 64).astype(np.uint8)
    return np.concatenate([qs, _d_bytes(d)], axis=2).reshape(n, blocks * TQ2_0_BYTES)


def unpack_tq2_0(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, B * 66] TQ2_0 rows -> (int8 trits [N, B*256], float16 d [N, B]).

    ValueError (naming row, block and byte) if any 2-bit code is 3, or if a d is NaN/Inf.
    """
    n, blocks = _check_raw(raw, TQ2_0_BYTES, "TQ2_0")
    b = raw.reshape(n, blocks, TQ2_0_BYTES)
    qs = b[:, :, :64].astype(np.int64).reshape(n, blocks, 2, 1, 32)
    shifts = (2 * np.arange(4, dtype=np.int64)).reshape(1, 1, 1, 4, 1)
    c = (qs >> shifts) & 3  # [n, blocks, half, shift, j]
    if (c == 3).any():
        r, blk, h, s, j = (int(i) for i in np.argwhere(c == 3)[0])
        raise ValueError(f"TQ2_0 row {r} block {blk}: byte {32 * h + j} (value {int(b[r, blk, 32 * h + j]):#04x}) "
                         f"holds the invalid trit code 3 at bits {2 * s}..{2 * s + 1}")
    d = _d_from_bytes(b[:, :, 64:66])
    _check_d_finite(d)
    return (c.reshape(n, blocks * QK) - 1).astype(np.int8), d


# --- TQ1_0 ----------------------------------------------------------------------------------------
def _tq1_values(c: np.ndarray) -> np.ndarray:
    """codes [n, blocks, 256] (0..2, int64) -> base-3 values v [n, blocks, 52] before the pow3 trick."""
    n, blocks, _ = c.shape
    v0 = (c[:, :, :160].reshape(n, blocks, 5, 32) * _POW3.reshape(1, 1, 5, 1)).sum(axis=2)
    v1 = (c[:, :, 160:240].reshape(n, blocks, 5, 16) * _POW3.reshape(1, 1, 5, 1)).sum(axis=2)
    vh = (c[:, :, 240:].reshape(n, blocks, 4, 4) * _POW3[:4].reshape(1, 1, 4, 1)).sum(axis=2)
    return np.concatenate([v0, v1, vh], axis=2)


def _tq1_encode(c: np.ndarray) -> np.ndarray:
    return ((_tq1_values(c) * 256 + 242) // 243).astype(np.uint8)


def _tq1_digit(b: np.ndarray, n: int) -> np.ndarray:
    return (((b * 3 ** n) & 0xFF) * 3) >> 8


def pack_tq1_0(trits: np.ndarray, d: np.ndarray) -> np.ndarray:
    """int8 trits [N, K] and float16 d [N, K/256] -> uint8 [N, K/256 * 54] in llama.cpp's TQ1_0
    layout (module docstring): per block qs[48] and qh[4] (base 3, byte = ceil(v * 256 / 243)),
    then d little-endian."""
    n, k, blocks = _check_trits_d(trits, d)
    c = (trits.astype(np.int64) + 1).reshape(n, blocks, QK)
    return np.concatenate([_tq1_encode(c), _d_bytes(d)], axis=2).reshape(n, blocks * TQ1_0_BYTES)


def unpack_tq1_0(raw: np.ndarray, strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, B * 54] TQ1_0 rows -> (int8 trits [N, B*256], float16 d [N, B]).

    Digits decode as llama.cpp's dequantize_row_tq1_0: c_n = ((b * 3**n) % 256 * 3) >> 8.
    strict=True (default): ValueError, naming row, block and byte, if a byte is not the canonical
    encoding of the trits it decodes to (so pack(unpack(raw)) == raw always holds).
    strict=False: any byte is accepted and decoded as llama.cpp does.
    ValueError if a d is NaN/Inf.
    """
    n, blocks = _check_raw(raw, TQ1_0_BYTES, "TQ1_0")
    b = raw.reshape(n, blocks, TQ1_0_BYTES)
    q = b[:, :, :52].astype(np.int64)
    p0 = np.stack([_tq1_digit(q[:, :, :32], i) for i in range(5)], axis=2).reshape(n, blocks, 160)
    p1 = np.stack([_tq1_digit(q[:, :, 32:48], i) for i in range(5)], axis=2).reshape(n, blocks, 80)
    ph = np.stack([_tq1_digit(q[:, :, 48:52], i) for i in range(4)], axis=2).reshape(n, blocks, 16)
    c = np.concatenate([p0, p1, ph], axis=2)
    if strict:
        bad = _tq1_encode(c) != b[:, :, :52]
        if bad.any():
            r, blk, i = (int(x) for x in np.argwhere(bad)[0])
            part = f"qs[{i}]" if i < 48 else f"qh[{i - 48}]"
            raise ValueError(f"TQ1_0 row {r} block {blk}: byte {i} ({part}) = {int(b[r, blk, i])} is not a "
                             "canonical base-3 encoding (pass strict=False to decode it as llama.cpp does)")
    d = _d_from_bytes(b[:, :, 52:54])
    _check_d_finite(d)
    return (c.reshape(n, blocks * QK) - 1).astype(np.int8), d
