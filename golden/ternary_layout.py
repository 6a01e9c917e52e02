"""The ternary engine's own weight layout and its per-pass arithmetic (generators/ternary_engine.py).

A group of g trits w_0..w_(g-1) (trit w_i multiplies activation x_i) is stored as its base-3 code
    c = sum_i (w_i + 1) * 3**i        (golden.ternary.group_codes; 0 .. 3**g - 1)
in ceil(log2(3**g)) bits: 2, 4, 5, 7 bits for g = 1..4 (1.67 bits per trit at g = 3; TQ2_0 needs
2). Each lane holds the full signed table of its g activations,
    table[c] = sum_i (digit_i(c) - 1) * x_i,
so a lookup replaces g add/subtract/skip operations and negative entries are stored, not computed:
the adder tree after the lookups only adds. The all-zero group has code (3**g - 1) // 2 and reads 0.
"""
import numpy as np

from .ternary import group_codes


def code_bits(g: int) -> int:
    return (3 ** g - 1).bit_length()


def table(x: np.ndarray, g: int) -> np.ndarray:
    """Full table of one group of activations x (int8 [g]) -> int32 [3**g]."""
    x = np.asarray(x, dtype=np.int64)
    out = np.zeros(3 ** g, dtype=np.int64)
    for c in range(3 ** g):
        for i in range(g):
            out[c] += ((c // 3 ** i) % 3 - 1) * x[i]
    return out.astype(np.int32)


def pass_sums(x: np.ndarray, w: np.ndarray, g: int) -> np.ndarray:
    """One pass of the engine: activations x int8 [L * g] (one K-slice) against weight rows
    w int8 trits [N, L * g] -> int32 [N], through the tables."""
    if x.dtype != np.int8 or w.dtype != np.int8:
        raise ValueError("activations and weights must be int8 arrays")
    lanes = x.shape[0] // g
    if x.shape[0] != lanes * g or w.shape[1] != x.shape[0]:
        raise ValueError(f"a pass needs lanes * g activations and rows of the same length, "
                         f"not {x.shape[0]} and {w.shape[1]}")
    codes = group_codes(w, g).astype(np.int64)
    sums = np.zeros(w.shape[0], dtype=np.int64)
    for lane in range(lanes):
        sums += table(x[lane * g:(lane + 1) * g], g).astype(np.int64)[codes[:, lane]]
    return sums.astype(np.int32)


# --- the accelerator's streams (generators/ternary.py) ----------------------------------------

def shape_plan(m: int, n: int, k: int, g: int, lanes: int, rows: int) -> dict:
    """The `cmd` beat: M, words = ceil(N / rows), passes = ceil(K / (lanes * g))."""
    return {"m": m, "words": -(-n // rows), "passes": -(-k // (lanes * g))}


def pack_acts(x: np.ndarray, g: int, lanes: int) -> list[int]:
    """X int8 [M, K] -> activation beats (m-major, then pass), each `lanes * g` int8 packed LSB
    first as two's complement bytes; K padded with zeros."""
    if x.dtype != np.int8 or x.ndim != 2:
        raise ValueError("activations must be a 2-D int8 array")
    width = lanes * g
    passes = -(-x.shape[1] // width)
    padded = np.zeros((x.shape[0], passes * width), dtype=np.int8)
    padded[:, :x.shape[1]] = x
    beats = []
    for row in padded:
        for p in range(passes):
            chunk = row[p * width:(p + 1) * width].view(np.uint8)
            beats.append(int.from_bytes(chunk.tobytes(), "little"))
    return beats


def pack_weights(w: np.ndarray, g: int, lanes: int, rows: int) -> list[int]:
    """Trits W int8 [N, K] -> weight beats (pass-major, then word): word j of pass p holds the
    group codes of rows j*rows .. j*rows + rows - 1 for lanes 0..lanes-1 of the slice, element
    r * lanes + l at bits [(r * lanes + l) * code_bits, ...). Rows past N and groups past K carry
    the zero code."""
    n, k = w.shape
    width = lanes * g
    passes, words = -(-k // width), -(-n // rows)
    padded = np.zeros((words * rows, passes * width), dtype=np.int8)
    padded[:n, :k] = w
    codes = group_codes(padded, g)  # [words * rows, passes * lanes]
    bits = code_bits(g)
    beats = []
    for p in range(passes):
        for j in range(words):
            block = codes[j * rows:(j + 1) * rows, p * lanes:(p + 1) * lanes].reshape(-1)
            value = 0
            for i, c in enumerate(block):
                value |= int(c) << (i * bits)
            beats.append(value)
    return beats


def unpack_results(beats: list[list[int]], m: int, n: int, rows: int) -> np.ndarray:
    """Result beats (lists of `rows` signed values, m-major) -> int32 [M, N]."""
    words = -(-n // rows)
    if len(beats) != m * words:
        raise ValueError(f"expected {m * words} result beats, got {len(beats)}")
    flat = np.array(beats, dtype=np.int64).reshape(m, words * rows)[:, :n]
    return flat.astype(np.int32)
