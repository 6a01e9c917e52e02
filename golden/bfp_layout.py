"""The BFP accelerator's stream layout: llama.cpp rows as 64-bit stream words, and its float32
results back into Y[M, N]. Pure NumPy; the hardware (generators/bfp_core.py) follows it.

A matmul has one weight format (the FORMAT register); its activations come in the format its dot
product takes (golden/formats.py):

    FORMAT  weights  activations  scale slot (weights / activations)   qh words  qs words per block
      0     q8_0     q8_0         16: d / 16: d                            -         4
      1     mxint8   mxint8       16: E8M0 byte, high byte 0 / same        -         4
      2     q4_0     q8_0         16: d / 16: d                            -         2 / 4
      3     q4_1     q8_1         32: d, m (bits 16..31) / 32: d, s        -         2 / 4
      4     q5_0     q8_0         16: d / 16: d                          yes         2 / 4
      5     q5_1     q8_1         32: d, m / 32: d, s                    yes         2 / 4

Input stream (64-bit words, little-endian: byte i of a word is bits 8i..8i+7), after the matmul was
started with M, K, N and the format: the M rows of X first, then the N rows of W. B = K / 32 blocks
per row; d, m, s are binary16 as llama.cpp stores them. A row is
    scale words: the blocks' scales in slots of 16 or 32 bits (table), 4 or 2 to a word in block
                 order (block 4s or 2s in the low slot of word s); unused slots 0
    then, 8-bit rows (Q8_0, Q8_1, MXINT8): 4 words per block, its 32 qs bytes as stored;
    4-bit rows (Q4_0, Q4_1): 2 words per block, its 16 qs bytes as stored;
    5-bit rows (Q5_0, Q5_1): per pair of blocks one qh word (the first block's uint32 qh in bits
                 0..31, the second's in 32..63, 0 when the row ends on the first) and then the
                 pair's 2 + 2 qs words.
Nothing is padded beyond the last word of the scale words and of a row's last qh word, so a row
is llama.cpp's bytes regrouped into beats that each carry one kind of data (no block straddles a
beat); it is repacked once, when a model is loaded.

Q4_x/Q5_x keep value j in the low nibble of qs[j] and value j + 16 in its high nibble, so weight
word h of a block (qs[8h .. 8h+7]) holds values 8h..8h+7 and 16+8h..16+8h+7. The engine unpacks a
word into those 16 int8 values in that order (the value minus 8 for Q4_0, minus 16 for Q5_0, with
bit 4 from qh for Q5_x), so the activation rows of these formats send each block's four words of
qs in the matching order: values 0-7, 16-23, 8-15, 24-31 (words 0, 2, 1, 3). The integer sum of a
block does not depend on the order of its products.

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

from . import formats as _formats
from .bfp import QK

FORMATS = {"q8_0": 0, "mxint8": 1, "q4_0": 2, "q4_1": 3, "q5_0": 4, "q5_1": 5}  # FORMAT codes
# Every row format of the stream: the weight formats and the activation formats they take.
ROW_FORMATS = ("q8_0", "mxint8", "q8_1", "q4_0", "q4_1", "q5_0", "q5_1")
BLOCK_BYTES = {"q8_0": 34, "mxint8": 33, "q8_1": 36, "q4_0": 18, "q4_1": 20, "q5_0": 22,
               "q5_1": 24}
SCALE_BITS = {"q8_0": 16, "mxint8": 16, "q8_1": 32, "q4_0": 16, "q4_1": 32, "q5_0": 16,
              "q5_1": 32}
QS_BITS = {"q8_0": 8, "mxint8": 8, "q8_1": 8, "q4_0": 4, "q4_1": 4, "q5_0": 5, "q5_1": 5}
ACTIVATION = {f: _formats.get(f).activation for f in FORMATS}
NIBBLE_ORDER = (0, 2, 1, 3)     # activation words of a block for 4- and 5-bit weights
WORD_BYTES = 8
CANONICAL_NAN = 0x7FC00000


def check_format(fmt: str) -> str:
    """A weight format the engine takes (a FORMAT register value)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return fmt


def _check_row_format(fmt: str) -> str:
    if fmt not in ROW_FORMATS:
        raise ValueError(f"row format must be one of {', '.join(ROW_FORMATS)}, not {fmt!r}")
    return fmt


def scale_words(blocks: int, fmt: str = "q8_0") -> int:
    """Scale words of a row of `fmt` (a row format)."""
    per = 64 // SCALE_BITS[_check_row_format(fmt)]
    return -(-blocks // per)


def qh_words(blocks: int, fmt: str = "q8_0") -> int:
    return -(-blocks // 2) if QS_BITS[_check_row_format(fmt)] == 5 else 0


def qs_words(blocks: int, fmt: str = "q8_0") -> int:
    return blocks * (4 if QS_BITS[_check_row_format(fmt)] == 8 else 2)


def row_words(blocks: int, fmt: str = "q8_0") -> int:
    """64-bit words of one row of K = 32 * blocks values in row format `fmt`."""
    return scale_words(blocks, fmt) + qh_words(blocks, fmt) + qs_words(blocks, fmt)


def pack_rows(raw: np.ndarray, fmt: str, nibble_order: bool = False) -> np.ndarray:
    """uint8 [R, B * block bytes] (llama.cpp rows of row format `fmt`) -> uint8
    [R, row_words(B, fmt) * 8] stream bytes. `nibble_order`: an 8-bit row's qs words of each block
    in the order NIBBLE_ORDER (the activations of 4- and 5-bit weights)."""
    _check_row_format(fmt)
    if nibble_order and QS_BITS[fmt] != 8:
        raise ValueError("nibble_order is for 8-bit activation rows")
    bpb = BLOCK_BYTES[fmt]
    if raw.dtype != np.uint8 or raw.ndim != 2 or raw.shape[1] == 0 or raw.shape[1] % bpb:
        raise ValueError(f"rows must be uint8 [R, B * {bpb}], not {raw.dtype} {list(raw.shape)}")
    rows, blocks = raw.shape[0], raw.shape[1] // bpb
    blk = raw.reshape(rows, blocks, bpb)
    sbytes = SCALE_BITS[fmt] // 8
    slots = np.zeros((rows, scale_words(blocks, fmt) * 8 // sbytes, sbytes), dtype=np.uint8)
    if fmt == "mxint8":
        slots[:, :blocks, 0] = blk[:, :, 0]           # E8M0 byte, high byte 0
        head = 1
    else:
        slots[:, :blocks, :] = blk[:, :, :sbytes]      # d (and m or s), little-endian as stored
        head = sbytes
    parts = [slots.reshape(rows, -1)]
    if QS_BITS[fmt] == 8:
        qs = blk[:, :, head:]
        if nibble_order:
            qs = qs.reshape(rows, blocks, 4, 8)[:, :, list(NIBBLE_ORDER)]
        parts.append(qs.reshape(rows, -1))
    elif QS_BITS[fmt] == 4:
        parts.append(blk[:, :, head:].reshape(rows, -1))
    else:
        qh = blk[:, :, head:head + 4]
        qs = blk[:, :, head + 4:]
        for p in range(0, blocks, 2):
            pair = min(2, blocks - p)
            word = np.zeros((rows, 8), dtype=np.uint8)
            word[:, :4 * pair] = qh[:, p:p + pair].reshape(rows, -1)
            parts += [word, qs[:, p:p + pair].reshape(rows, -1)]
    return np.concatenate(parts, axis=1)


def pack_weights(w_raw: np.ndarray, fmt: str) -> np.ndarray:
    """Weight rows of `fmt` -> their stream bytes uint8 [N, row_words * 8], once per model."""
    return pack_rows(w_raw, check_format(fmt))


def pack_activations(x_raw: np.ndarray, fmt: str) -> np.ndarray:
    """Activation rows (in ACTIVATION[fmt]) of a matmul on `fmt` weights -> their stream bytes."""
    check_format(fmt)
    return pack_rows(x_raw, ACTIVATION[fmt], nibble_order=QS_BITS[fmt] < 8)


def pack_input(w_raw: np.ndarray, x_raw: np.ndarray, fmt: str, sums: np.ndarray | None = None,
               out_lanes: int | None = None, *, packed_weights: np.ndarray | None = None) -> bytes:
    """The whole input stream of one matmul on `fmt` weights: X's rows (ACTIVATION[fmt]), then
    W's rows. With `sums` (float32 [M, N], the SUM_IN register set), each tile of `out_lanes` rows
    of W is preceded by its starting sums: M * out_lanes words, word m * out_lanes + r holding the
    float32 of sums[m, t * out_lanes + r] in bits 0..31 (0 for lanes past N). `packed_weights`:
    pack_weights(w_raw, fmt), when the caller packed them once already (w_raw is then unused)."""
    check_format(fmt)
    wb, xb = BLOCK_BYTES[fmt], BLOCK_BYTES[ACTIVATION[fmt]]
    if packed_weights is None:
        if w_raw.ndim != 2 or x_raw.ndim != 2 or w_raw.shape[1] * xb != x_raw.shape[1] * wb:
            raise ValueError(f"w_raw [N, Kb] and x_raw [M, Kb] must agree on the blocks per row: "
                             f"{list(w_raw.shape)} ({fmt}) vs {list(x_raw.shape)} "
                             f"({ACTIVATION[fmt]})")
        rows = pack_weights(w_raw, fmt)
    else:
        rows = packed_weights
        blocks = x_raw.shape[1] // xb
        if x_raw.ndim != 2 or rows.ndim != 2 or rows.shape[1] != row_words(blocks, fmt) * 8:
            raise ValueError(f"packed weights [N, {row_words(blocks, fmt) * 8}] and x_raw "
                             f"[M, {blocks * xb}] must agree: {list(rows.shape)} vs "
                             f"{list(x_raw.shape)}")
    acts = pack_activations(x_raw, fmt).tobytes()
    if sums is None:
        return acts + rows.tobytes()
    m, n = x_raw.shape[0], rows.shape[0]
    if sums.dtype != np.float32 or sums.shape != (m, n):
        raise ValueError(f"sums must be float32 [{m}, {n}], not {sums.dtype} {list(sums.shape)}")
    if not out_lanes:
        raise ValueError("sums need the out_lanes of the configuration")
    parts = [acts]
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
