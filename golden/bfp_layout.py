"""The BFP accelerator's stream layout: llama.cpp Q8_0 / MXINT8 rows as 64-bit stream words, and its
float32 results back into Y[M, N]. Pure NumPy; the hardware (generators/bfp_core.py) follows it.

Input stream (64-bit words, little-endian: byte i of a word is bits 8i..8i+7), after the matmul was
started with M, K, N and the format: the M rows of X first, then the N rows of W, each row as
    scale words: ceil(B / 4) words, B = K / 32 blocks; word s holds the scales of blocks 4s .. 4s+3
                 in 16-bit slots (block 4s in bits 0..15): Q8_0 the binary16 d as llama.cpp stores
                 it, MXINT8 the E8M0 byte in the low byte of the slot (high byte 0); unused slots 0
    qs words:    4 B words, block after block, 32 int8 values each, in order
so a row takes ceil(B / 4) + 4 B words: 34 bytes per Q8_0 block as llama.cpp stores them, only
regrouped so that every 64-bit beat carries one kind of data (no block straddles a beat).

Output stream: the float32 results in the order the hardware finishes them: weight rows go through
the engine in tiles of `out_lanes` rows (tile t holds rows t * out_lanes ...), and for each tile,
for each m, the tile's rows in order: y[m, n] for (t, m, n in tile t). Two results per 64-bit word
(the first in bits 0..31); when their count is odd the last word carries one (upper half 0, keep =
0x0F). `last` marks the final word.

NaN: IEEE 754 leaves NaN payloads open and CPUs differ (x86 gives 0xFFC00000 for 0 * Inf, ARM
0x7FC00000); the hardware always returns the quiet NaN 0x7FC00000. `canonical_nan` maps the golden
model's NaNs to it, so results compare bit for bit.
"""
import numpy as np

from .bfp import MXINT8_BYTES, Q8_0_BYTES, QK

FORMATS = {"q8_0": 0, "mxint8": 1}       # the FORMAT register's codes
BLOCK_BYTES = {"q8_0": Q8_0_BYTES, "mxint8": MXINT8_BYTES}
WORD_BYTES = 8
CANONICAL_NAN = 0x7FC00000


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return fmt


def scale_words(blocks: int) -> int:
    return -(-blocks // 4)


def row_words(blocks: int) -> int:
    """64-bit words of one row of K = 32 * blocks values."""
    return scale_words(blocks) + 4 * blocks


def pack_rows(raw: np.ndarray, fmt: str) -> np.ndarray:
    """uint8 [R, B * block bytes] (llama.cpp rows) -> uint8 [R, row_words(B) * 8] stream bytes."""
    check_format(fmt)
    bpb = BLOCK_BYTES[fmt]
    if raw.dtype != np.uint8 or raw.ndim != 2 or raw.shape[1] == 0 or raw.shape[1] % bpb:
        raise ValueError(f"rows must be uint8 [R, B * {bpb}], not {raw.dtype} {list(raw.shape)}")
    rows, blocks = raw.shape[0], raw.shape[1] // bpb
    blk = raw.reshape(rows, blocks, bpb)
    slots = np.zeros((rows, scale_words(blocks) * 4, 2), dtype=np.uint8)
    if fmt == "q8_0":
        slots[:, :blocks, :] = blk[:, :, 0:2]        # binary16 d, little-endian as stored
        qs = blk[:, :, 2:]
    else:
        slots[:, :blocks, 0] = blk[:, :, 0]           # E8M0 byte, high byte 0
        qs = blk[:, :, 1:]
    return np.concatenate([slots.reshape(rows, -1), qs.reshape(rows, -1)], axis=1)


def pack_input(w_raw: np.ndarray, x_raw: np.ndarray, fmt: str, sums: np.ndarray | None = None,
               out_lanes: int | None = None) -> bytes:
    """The whole input stream of one matmul: X's rows, then W's rows. With `sums` (float32
    [M, N], the SUM_IN register set), each tile of `out_lanes` rows of W is preceded by its
    starting sums: M * out_lanes words, word m * out_lanes + r holding the float32 of
    sums[m, t * out_lanes + r] in bits 0..31 (0 for lanes past N)."""
    if w_raw.ndim != 2 or x_raw.ndim != 2 or w_raw.shape[1] != x_raw.shape[1]:
        raise ValueError(f"w_raw [N, Kb] and x_raw [M, Kb] must agree on Kb: "
                         f"{list(w_raw.shape)} vs {list(x_raw.shape)}")
    rows = pack_rows(w_raw, fmt)
    if sums is None:
        return pack_rows(x_raw, fmt).tobytes() + rows.tobytes()
    m, n = x_raw.shape[0], w_raw.shape[0]
    if sums.dtype != np.float32 or sums.shape != (m, n):
        raise ValueError(f"sums must be float32 [{m}, {n}], not {sums.dtype} {list(sums.shape)}")
    if not out_lanes:
        raise ValueError("sums need the out_lanes of the configuration")
    parts = [pack_rows(x_raw, fmt).tobytes()]
    for t in range(0, n, out_lanes):
        words = np.zeros((m, out_lanes, 2), dtype="<u4")
        lanes = min(out_lanes, n - t)
        words[:, :lanes, 0] = sums[:, t:t + lanes].view(np.uint32)
        parts.append(words.tobytes())
        parts.append(rows[t:t + lanes].tobytes())
    return b"".join(parts)


def output_order(m: int, n: int, out_lanes: int) -> np.ndarray:
    """int [M * N, 2]: (m, n) of each result in stream order."""
    order = [(mi, t + r) for t in range(0, n, out_lanes) for mi in range(m)
             for r in range(min(out_lanes, n - t))]
    return np.array(order, dtype=np.int64).reshape(-1, 2)


def output_words(m: int, n: int) -> int:
    return -(-(m * n) // 2)


def canonical_nan(y: np.ndarray) -> np.ndarray:
    """float32 array with every NaN replaced by the quiet NaN 0x7FC00000."""
    bits = np.ascontiguousarray(y, dtype=np.float32).view(np.uint32).copy()
    bits[np.isnan(y)] = CANONICAL_NAN
    return bits.view(np.float32)


def pack_output(y: np.ndarray, out_lanes: int) -> bytes:
    """float32 Y [M, N] -> the output stream's bytes (padded to whole words)."""
    order = output_order(*y.shape, out_lanes)
    flat = canonical_nan(y)[order[:, 0], order[:, 1]]
    if len(flat) % 2:
        flat = np.concatenate([flat, np.zeros(1, np.float32)])
    return flat.astype("<f4").tobytes()


def unpack_output(data: bytes, m: int, n: int, out_lanes: int) -> np.ndarray:
    """The output stream's bytes -> float32 Y [M, N]."""
    if len(data) != output_words(m, n) * WORD_BYTES:
        raise ValueError(f"expected {output_words(m, n)} result words for M = {m}, N = {n}, "
                         f"got {len(data) / WORD_BYTES:g}")
    flat = np.frombuffer(data, dtype="<f4")[:m * n]
    y = np.empty((m, n), dtype=np.float32)
    order = output_order(m, n, out_lanes)
    y[order[:, 0], order[:, 1]] = flat
    return y


def blocks_of(k: int) -> int:
    if k <= 0 or k % QK:
        raise ValueError(f"K = {k} must be a positive multiple of {QK} (the block size)")
    return k // QK
