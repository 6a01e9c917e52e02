"""The top-level core's stream layout for the ternary engine (generators/top.py): the engine's
activation and weight beats (golden/ternary_layout.py) carried as 64-bit AXI4-Stream words, and its
int32 results back into Y[M, N]. The BFP engine's layout is golden/bfp_layout.py's, unchanged.

Input: the M x passes activation beats, then the weight beats of the passes not skipped; a beat of
b bits goes as ceil(b / 64) words, little-endian (bit i of the beat is bit i % 64 of word i // 64),
the bits past b zero. A core with several input streams takes them in lock step, one word of each
per cycle: the words of each part (activations, weights) go round robin, word i on stream i %
streams, the part padded with zero words to a whole number of such steps (ternary_input_streams);
the engine ignores the padding. Output: the engine's result beats (per row of X, N padded to a
whole number of beats of ROWS values) as one dense run of int32, two per word, the first in bits
0..31; an odd count leaves the final word half full (its upper half 0).
"""
import numpy as np

from .ternary import group_codes
from .ternary_layout import code_bits, pack_acts, pack_weights, zero_tiles

WORD_BITS = 64


def beat_words(bits: int) -> int:
    return -(-bits // WORD_BITS)


def act_beat_bits(g: int, lanes: int, act_bits: int = 8) -> int:
    """An activation beat: lanes * g values and the skip flag, whole bytes (generators/ternary.py)."""
    return -(-(lanes * g * act_bits + 1) // 8) * 8


def weight_beat_bits(g: int, lanes: int, rows: int) -> int:
    return -(-(rows * lanes * code_bits(g)) // 8) * 8


def beats_to_bytes(beats: list[int], bits: int) -> bytes:
    """Beats of `bits` bits -> their words' bytes (little-endian, each beat padded to whole words)."""
    size = beat_words(bits) * WORD_BITS // 8
    for b in beats:
        if b < 0 or b >> bits:
            raise ValueError(f"a beat does not fit in {bits} bits")
    return b"".join(int(b).to_bytes(size, "little") for b in beats)


def ternary_input_reference(x: np.ndarray, w: np.ndarray, g: int, lanes: int, rows: int,
                            act_bits: int = 8) -> bytes:
    """ternary_input, beat by beat through golden/ternary_layout.py's packers (the definition;
    Python integers, slow): ternary_input must equal it."""
    skip = zero_tiles(w, g, lanes)
    acts = pack_acts(x, g, lanes, act_bits, skip)
    weights = pack_weights(w, g, lanes, rows, skip)
    return (beats_to_bytes(acts, act_beat_bits(g, lanes, act_bits))
            + beats_to_bytes(weights, weight_beat_bits(g, lanes, rows)))


def _pack_fields(fields: np.ndarray, bits: int, beat_bits: int) -> bytes:
    """Rows of unsigned fields [beats, count], each `bits` wide, LSB first from bit 0 of a beat,
    -> the beats as whole 64-bit little-endian words (the bits past the fields zero)."""
    beats, count = fields.shape
    shifts = np.arange(bits, dtype=np.uint64)
    flat = ((fields.astype(np.uint64)[:, :, None] >> shifts) & np.uint64(1)).astype(np.uint8)
    flat = flat.reshape(beats, count * bits)
    padded = np.zeros((beats, beat_words(beat_bits) * WORD_BITS), dtype=np.uint8)
    padded[:, :count * bits] = flat
    return np.packbits(padded, axis=1, bitorder="little").tobytes()


def ternary_weights(w: np.ndarray, g: int, lanes: int, rows: int) -> tuple[bytes, list[bool]]:
    """Trits W int8 [N, K] -> (its weight beats as stream bytes, the skipped passes): what a
    host packs once per weight matrix and streams after each run's activations."""
    if w.dtype != np.int8 or w.ndim != 2:
        raise ValueError("weights must be a 2-D int8 array of trits")
    n, k = w.shape
    width = lanes * g
    passes, words = -(-k // width), -(-n // rows)
    skip = zero_tiles(w, g, lanes)
    padded = np.zeros((words * rows, passes * width), dtype=np.int8)
    padded[:n, :k] = w
    codes = group_codes(padded, g).reshape(words, rows, passes, lanes)
    kept = [p for p in range(passes) if not skip[p]]
    fields = codes[:, :, kept, :].transpose(2, 0, 1, 3).reshape(len(kept) * words, rows * lanes)
    return _pack_fields(fields, code_bits(g), weight_beat_bits(g, lanes, rows)), skip


def ternary_acts(x: np.ndarray, g: int, lanes: int, skip: list[bool], act_bits: int = 8) -> bytes:
    """X int8 [M, K] -> its activation beats as stream bytes (pass p flagged when skip[p])."""
    if x.dtype != np.int8 or x.ndim != 2:
        raise ValueError("activations must be a 2-D int8 array")
    lo, hi = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
    if x.size and (x.min() < lo or x.max() > hi):
        raise ValueError(f"activations must fit {act_bits} signed bits ({lo} .. {hi})")
    m, k = x.shape
    width = lanes * g
    passes = -(-k // width)
    padded = np.zeros((m, passes * width), dtype=np.int64)
    padded[:, :k] = x
    values = (padded & ((1 << act_bits) - 1)).reshape(m * passes, width)
    data = np.frombuffer(_pack_fields(values, act_bits, act_beat_bits(g, lanes, act_bits)),
                         dtype=np.uint8).reshape(m * passes, -1).copy()
    # the pass's skip flag: the bit after the values
    flag_bit = width * act_bits
    flags = np.tile(np.array(skip, dtype=np.uint8), m)
    data[:, flag_bit // 8] |= flags << np.uint8(flag_bit % 8)
    return data.tobytes()


def ternary_input(x: np.ndarray, w: np.ndarray, g: int, lanes: int, rows: int,
                  act_bits: int = 8, weights: tuple[bytes, list[bool]] | None = None) -> bytes:
    """X int8 [M, K] and trits W int8 [N, K] -> the input stream of one ternary matmul (with the
    all-zero K-slices of W flagged and left out, golden/ternary_layout.zero_tiles), vectorized;
    `weights`: ternary_weights(w, ...) packed earlier, to reuse."""
    packed, skip = weights if weights is not None else ternary_weights(w, g, lanes, rows)
    return ternary_acts(x, g, lanes, skip, act_bits) + packed


def split_words(data: bytes, streams: int) -> list[bytes]:
    """Whole 64-bit words -> `streams` streams taken in lock step: word i on stream i % streams,
    zero words added to make a whole number of steps (one word of each stream)."""
    if not isinstance(streams, int) or isinstance(streams, bool) or streams < 1:
        raise ValueError(f"streams must be a positive integer, not {streams!r}")
    if len(data) % 8:
        raise ValueError(f"{len(data)} bytes are not whole 64-bit words")
    words = np.frombuffer(data, dtype="<u8")
    padded = np.zeros(-(-len(words) // streams) * streams, dtype="<u8")
    padded[:len(words)] = words
    return [padded[s::streams].tobytes() for s in range(streams)]


def ternary_input_streams(x: np.ndarray, w: np.ndarray, g: int, lanes: int, rows: int,
                          streams: int, act_bits: int = 8,
                          weights: tuple[bytes, list[bool]] | None = None) -> list[bytes]:
    """ternary_input's two parts, the activation beats and the weight beats, each split over
    `streams` lock-step streams (split_words): what each input stream of the core carries. One
    stream is ternary_input's bytes."""
    packed, skip = weights if weights is not None else ternary_weights(w, g, lanes, rows)
    acts = split_words(ternary_acts(x, g, lanes, skip, act_bits), streams)
    return [a + b for a, b in zip(acts, split_words(packed, streams))]


def ternary_result_values(m: int, n: int, rows: int) -> int:
    """int32 values in the output stream: per row of X, N rounded up to whole beats."""
    return m * -(-n // rows) * rows


def ternary_output(data: bytes, m: int, n: int, rows: int) -> np.ndarray:
    """The output stream's bytes (as an AXI DMA writes them: whole words) -> int32 Y [M, N]."""
    values = ternary_result_values(m, n, rows)
    words = -(-values // 2)
    if len(data) != words * 8:
        raise ValueError(f"expected {words} result words ({values} int32) for M = {m}, N = {n}, "
                         f"got {len(data)} bytes")
    flat = np.frombuffer(data[:values * 4], dtype="<i4")
    return flat.reshape(m, -1)[:, :n].astype(np.int32)
