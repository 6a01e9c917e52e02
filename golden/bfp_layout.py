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
      6     q2_K     q8_K         32: d, dmin / 32: float32 d        (super-blocks, below)
      7     q3_K     q8_K         16: d / 32: float32 d
      8     q4_K     q8_K         32: d, dmin / 32: float32 d
      9     q5_K     q8_K         32: d, dmin / 32: float32 d
     10     q6_K     q8_K         16: d / 32: float32 d

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

K-quant rows (Q2_K..Q6_K weights, Q8_K activations; golden/kquants.py has their bytes) hold
super-blocks of 256 values (K a multiple of 256). A row is
    scale words: each super-block's d (and dmin) as above, in slots of 16 or 32 bits;
    mid words: every super-block's sub-block scales back to back (Q2_K, Q6_K: 16 bytes, 2 words
               each; Q3_K, Q4_K, Q5_K: 12 bytes, so two super-blocks share 3 words), or for Q8_K
               the super-blocks' bsums (16 int16, 4 words each); the last word padded with 0;
    then per super-block its high words and its low words, as stored:
        Q2_K  low: qs[64] (8 words)
        Q3_K  high: hmask[32] (4 words), low: qs[64] (8 words)
        Q4_K  low: qs[128] (16 words)
        Q5_K  high: qh[32] (4 words), low: qs[128] (16 words)
        Q6_K  high: qh[64] (8 words), low: ql[128] (16 words)   (llama.cpp stores ql first)
        Q8_K  low: qs[256] (32 words)
So a K-quant row too is llama.cpp's bytes regrouped into beats of one kind, padded only in the
last scale and mid words (Q3_K's 110 bytes per super-block, Q2_K's 84: nothing is lost but the
row's last partial words). The engine decodes the sub-block scales as they arrive and unpacks
the low (2- or 4-bit) and high (1- or 2-bit) parts of each value after its buffers.

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

FORMATS = {"q8_0": 0, "mxint8": 1, "q4_0": 2, "q4_1": 3, "q5_0": 4, "q5_1": 5,   # FORMAT codes
           "q2_K": 6, "q3_K": 7, "q4_K": 8, "q5_K": 9, "q6_K": 10}
K_FORMATS = ("q2_K", "q3_K", "q4_K", "q5_K", "q6_K")
# Every row format of the stream: the weight formats and the activation formats they take.
ROW_FORMATS = ("q8_0", "mxint8", "q8_1", "q4_0", "q4_1", "q5_0", "q5_1", *K_FORMATS, "q8_K")
BLOCK_BYTES = {"q8_0": 34, "mxint8": 33, "q8_1": 36, "q4_0": 18, "q4_1": 20, "q5_0": 22,
               "q5_1": 24, "q2_K": 84, "q3_K": 110, "q4_K": 144, "q5_K": 176, "q6_K": 210,
               "q8_K": 292}
SCALE_BITS = {"q8_0": 16, "mxint8": 16, "q8_1": 32, "q4_0": 16, "q4_1": 32, "q5_0": 16,
              "q5_1": 32, "q2_K": 32, "q3_K": 16, "q4_K": 32, "q5_K": 32, "q6_K": 16,
              "q8_K": 32}
QS_BITS = {"q8_0": 8, "mxint8": 8, "q8_1": 8, "q4_0": 4, "q4_1": 4, "q5_0": 5, "q5_1": 5}
QK_K = 256
# The formats whose K a host may split through SUM_IN: the reference keeps one float sum per row
# (Q3_K..Q6_K keep nine: eight by position and sumf, added only at the row's end).
SPLIT_FORMATS = tuple(f for f in FORMATS if f not in ("q3_K", "q4_K", "q5_K", "q6_K"))
ACTIVATION = {f: _formats.get(f).activation for f in FORMATS}
NIBBLE_ORDER = (0, 2, 1, 3)     # activation words of a block for 4- and 5-bit weights
WORD_BYTES = 8
CANONICAL_NAN = 0x7FC00000
# K-quant rows: byte ranges (start, end) of a super-block's scale slot, mid bytes, high and low
# words, as llama.cpp stores the block (golden/kquants.py).
K_PARTS = {
    "q2_K": {"slot": (80, 84), "mid": (0, 16), "high": (0, 0), "low": (16, 80)},
    "q3_K": {"slot": (108, 110), "mid": (96, 108), "high": (0, 32), "low": (32, 96)},
    "q4_K": {"slot": (0, 4), "mid": (4, 16), "high": (0, 0), "low": (16, 144)},
    "q5_K": {"slot": (0, 4), "mid": (4, 16), "high": (16, 48), "low": (48, 176)},
    "q6_K": {"slot": (208, 210), "mid": (192, 208), "high": (128, 192), "low": (0, 128)},
    "q8_K": {"slot": (0, 4), "mid": (260, 292), "high": (0, 0), "low": (4, 260)},
}


def k_part_words(fmt: str, part: str) -> int:
    """Words of a K-quant super-block's high or low part."""
    lo, hi = K_PARTS[fmt][part]
    return (hi - lo) // 8


def mid_bytes(fmt: str) -> int:
    """Bytes of a K-quant super-block's sub-block scales (Q8_K: its bsums)."""
    lo, hi = K_PARTS[fmt]["mid"]
    return hi - lo


def k_multiple(fmt: str) -> int:
    """K of a matmul on `fmt` weights must be a multiple of this (the format's block)."""
    return _formats.get(check_format(fmt)).block


def row_block(fmt: str) -> int:
    """Values per block of a row format (256 for the K-quants and Q8_K, else 32)."""
    return QK_K if _check_row_format(fmt) in K_PARTS else QK


def k_refusal(fmt: str, k: int, k_max: int) -> str | None:
    """Why an engine of this K_MAX cannot take K values per row of `fmt` even in parts (None if
    it can): K_MAX below one block, or K above K_MAX in a format whose K cannot be split."""
    qk = k_multiple(fmt)
    if k_max < qk:
        return f"the engine's K_MAX = {k_max} holds no {fmt} block of {qk} values"
    if k > k_max and fmt not in SPLIT_FORMATS:
        return (f"K = {k} is above the engine's K_MAX = {k_max}, and {fmt}'s K cannot be split: "
                "llama.cpp's reference keeps nine sums per row and adds them at its end (the "
                f"formats that split: {', '.join(SPLIT_FORMATS)})")
    return None


def check_format(fmt: str) -> str:
    """A weight format the engine takes (a FORMAT register value)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return fmt


def _check_row_format(fmt: str) -> str:
    if fmt not in ROW_FORMATS:
        raise ValueError(f"row format must be one of {', '.join(ROW_FORMATS)}, not {fmt!r}")
    return fmt


def _units(blocks: int, fmt: str) -> int:
    """The format's own blocks in a row of `blocks` blocks of 32 values (super-blocks of 256 for
    the K-quants)."""
    if fmt in K_PARTS:
        if blocks % (QK_K // QK):
            raise ValueError(f"K = {QK * blocks} must be a multiple of {QK_K} for {fmt}")
        return blocks // (QK_K // QK)
    return blocks


def scale_words(blocks: int, fmt: str = "q8_0") -> int:
    """Scale words of a row of `fmt` (a row format) of K = 32 * blocks values."""
    per = 64 // SCALE_BITS[_check_row_format(fmt)]
    return -(-_units(blocks, fmt) // per)


def mid_words(blocks: int, fmt: str = "q8_0") -> int:
    """K-quant rows: the words of sub-block scales (weights) or bsums (Q8_K); 0 for the others."""
    if _check_row_format(fmt) not in K_PARTS:
        return 0
    return -(-_units(blocks, fmt) * mid_bytes(fmt) // 8)


def qh_words(blocks: int, fmt: str = "q8_0") -> int:
    """High words of a row: Q5_0/Q5_1's qh words, the K-quants' hmask or qh words."""
    if _check_row_format(fmt) in K_PARTS:
        return _units(blocks, fmt) * k_part_words(fmt, "high")
    return -(-blocks // 2) if QS_BITS[fmt] == 5 else 0


def qs_words(blocks: int, fmt: str = "q8_0") -> int:
    """Low words of a row: the qs words (Q6_K: ql)."""
    if _check_row_format(fmt) in K_PARTS:
        return _units(blocks, fmt) * k_part_words(fmt, "low")
    return blocks * (4 if QS_BITS[fmt] == 8 else 2)


def row_words(blocks: int, fmt: str = "q8_0") -> int:
    """64-bit words of one row of K = 32 * blocks values in row format `fmt`."""
    return (scale_words(blocks, fmt) + mid_words(blocks, fmt) + qh_words(blocks, fmt)
            + qs_words(blocks, fmt))


def _pack_k_rows(blk: np.ndarray, fmt: str) -> np.ndarray:
    """uint8 [R, S, bytes] super-blocks of a K-quant row format -> stream bytes [R, words * 8]."""
    rows, units = blk.shape[:2]
    parts = K_PARTS[fmt]

    def words(a: np.ndarray) -> np.ndarray:
        pad = -a.shape[1] % 8
        return np.concatenate([a, np.zeros((rows, pad), np.uint8)], axis=1) if pad else a

    lo, hi = parts["slot"]
    per = 64 // SCALE_BITS[fmt]
    slots = np.zeros((rows, -(-units // per) * per, hi - lo), np.uint8)
    slots[:, :units] = blk[:, :, lo:hi]
    out = [slots.reshape(rows, -1), words(blk[:, :, slice(*parts["mid"])].reshape(rows, -1))]
    high, low = blk[:, :, slice(*parts["high"])], blk[:, :, slice(*parts["low"])]
    out.append(np.concatenate([high, low], axis=2).reshape(rows, -1))
    return np.concatenate(out, axis=1)


def pack_rows(raw: np.ndarray, fmt: str, nibble_order: bool = False) -> np.ndarray:
    """uint8 [R, B * block bytes] (llama.cpp rows of row format `fmt`) -> uint8
    [R, row_words(B, fmt) * 8] stream bytes. `nibble_order`: an 8-bit row's qs words of each block
    in the order NIBBLE_ORDER (the activations of 4- and 5-bit weights)."""
    _check_row_format(fmt)
    if nibble_order and QS_BITS.get(fmt) != 8:
        raise ValueError("nibble_order is for 8-bit activation rows")
    bpb = BLOCK_BYTES[fmt]
    if raw.dtype != np.uint8 or raw.ndim != 2 or raw.shape[1] == 0 or raw.shape[1] % bpb:
        raise ValueError(f"rows must be uint8 [R, B * {bpb}], not {raw.dtype} {list(raw.shape)}")
    rows, blocks = raw.shape[0], raw.shape[1] // bpb
    blk = raw.reshape(rows, blocks, bpb)
    if fmt in K_PARTS:
        return _pack_k_rows(blk, fmt)
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
    return pack_rows(x_raw, ACTIVATION[fmt], nibble_order=QS_BITS.get(fmt, 8) < 8)


def pack_input(w_raw: np.ndarray, x_raw: np.ndarray, fmt: str, sums: np.ndarray | None = None,
               out_lanes: int | None = None, *, packed_weights: np.ndarray | None = None) -> bytes:
    """The whole input stream of one matmul on `fmt` weights: X's rows (ACTIVATION[fmt]), then
    W's rows. With `sums` (float32 [M, N], the SUM_IN register set), each tile of `out_lanes` rows
    of W is preceded by its starting sums: M * out_lanes words, word m * out_lanes + r holding the
    float32 of sums[m, t * out_lanes + r] in bits 0..31 (0 for lanes past N). `packed_weights`:
    pack_weights(w_raw, fmt), when the caller packed them once already (w_raw is then unused).
    One input stream: input_streams gives the words of each of several."""
    return input_streams(w_raw, x_raw, fmt, 1, sums, out_lanes, packed_weights=packed_weights)[0]


def input_streams(w_raw: np.ndarray, x_raw: np.ndarray, fmt: str, streams: int,
                  sums: np.ndarray | None = None, out_lanes: int | None = None, *,
                  packed_weights: np.ndarray | None = None) -> list[bytes]:
    """pack_input's words spread over `streams` input streams (a core with several; one AXI DMA
    each): weight row n goes on stream n % streams, so a tile's lane L (row t * out_lanes + L)
    comes on stream L % streams, and the streams load `streams` rows of a tile side by side (in
    lock step: word j of each). X's rows go on stream 0 alone, first. With `sums`, stream s
    carries before its rows of tile t the starting sums of its lanes: M * out_lanes / streams
    words, word m * (out_lanes / streams) + j holding sums[m, t * out_lanes + j * streams + s]
    (0 past N). out_lanes must be a multiple of streams; one stream is pack_input's layout."""
    check_format(fmt)
    if not isinstance(streams, int) or isinstance(streams, bool) or streams < 1:
        raise ValueError(f"streams must be a positive integer, not {streams!r}")
    wb, xb = BLOCK_BYTES[fmt], BLOCK_BYTES[ACTIVATION[fmt]]
    if packed_weights is None:
        if w_raw.ndim != 2 or x_raw.ndim != 2 or w_raw.shape[1] * xb != x_raw.shape[1] * wb:
            raise ValueError(f"w_raw [N, Kb] and x_raw [M, Kb] must agree on the blocks per row: "
                             f"{list(w_raw.shape)} ({fmt}) vs {list(x_raw.shape)} "
                             f"({ACTIVATION[fmt]})")
        rows = pack_weights(w_raw, fmt)
    else:
        rows = packed_weights
        blocks = x_raw.shape[1] // xb * (_formats.get(fmt).block // QK)
        if x_raw.ndim != 2 or rows.ndim != 2 or rows.shape[1] != row_words(blocks, fmt) * 8:
            raise ValueError(f"packed weights [N, {row_words(blocks, fmt) * 8}] and x_raw "
                             f"[M, {blocks * xb}] must agree: {list(rows.shape)} vs "
                             f"{list(x_raw.shape)}")
    acts = pack_activations(x_raw, fmt).tobytes()
    out = [[acts]] + [[] for _ in range(streams - 1)]
    if sums is None:
        for s in range(streams):
            out[s].append(rows[s::streams].tobytes())
        return [b"".join(parts) for parts in out]
    m, n = x_raw.shape[0], rows.shape[0]
    if sums.dtype != np.float32 or sums.shape != (m, n):
        raise ValueError(f"sums must be float32 [{m}, {n}], not {sums.dtype} {list(sums.shape)}")
    if not out_lanes:
        raise ValueError("sums need the out_lanes of the configuration")
    if out_lanes % streams:
        raise ValueError(f"out_lanes ({out_lanes}) must be a multiple of streams ({streams})")
    for t in range(0, n, out_lanes):
        words = np.zeros((m, out_lanes, 2), dtype="<u4")
        lanes = min(out_lanes, n - t)
        words[:, :lanes, 0] = sums[:, t:t + lanes].view(np.uint32)
        for s in range(streams):
            out[s].append(words[:, s::streams].tobytes())
            out[s].append(rows[t + s:t + lanes:streams].tobytes())
    return [b"".join(parts) for parts in out]


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
