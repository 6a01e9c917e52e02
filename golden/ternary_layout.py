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

from .ternary import build_table, group_codes


def code_bits(g: int) -> int:
    return (3 ** g - 1).bit_length()


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
        sums += build_table(x[lane * g:(lane + 1) * g], g).astype(np.int64)[codes[:, lane]]
    return sums.astype(np.int32)


# --- the accelerator's streams (generators/ternary.py) ----------------------------------------

def shape_plan(m: int, n: int, k: int, g: int, lanes: int, rows: int) -> dict:
    """The `cmd` beat: M, words = ceil(N / rows), passes = ceil(K / (lanes * g))."""
    return {"m": m, "words": -(-n // rows), "passes": -(-k // (lanes * g))}


def zero_tiles(w: np.ndarray, g: int, lanes: int) -> list[bool]:
    """Per pass: is that K-slice of W all zero for every row (pruned input channels)? Such a
    tile is not sent and its pass is skipped in time. The last pass is never skipped (it sends
    the results out)."""
    width = lanes * g
    passes = -(-w.shape[1] // width)
    flags = [not w[:, p * width:(p + 1) * width].any() for p in range(passes)]
    flags[-1] = False
    return flags


def pack_acts(x: np.ndarray, g: int, lanes: int, act_bits: int = 8, skip=None) -> list[int]:
    """X int8 [M, K] -> activation beats in (m, pass) order: `lanes * g` values of act_bits
    two's-complement bits, LSB first (K padded with zeros), then the pass's skip flag."""
    if x.dtype != np.int8 or x.ndim != 2:
        raise ValueError("activations must be a 2-D int8 array")
    lo, hi = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
    if x.size and (x.min() < lo or x.max() > hi):
        raise ValueError(f"activations must fit {act_bits} signed bits ({lo} .. {hi})")
    width = lanes * g
    passes = -(-x.shape[1] // width)
    skip = skip or [False] * passes
    padded = np.zeros((x.shape[0], passes * width), dtype=np.int64)
    padded[:, :x.shape[1]] = x
    mask = (1 << act_bits) - 1
    beats = []
    for row in padded:
        for p in range(passes):
            value = 0
            for i, v in enumerate(row[p * width:(p + 1) * width]):
                value |= (int(v) & mask) << (i * act_bits)
            beats.append(value | int(skip[p]) << (width * act_bits))
    return beats


def pack_weights(w: np.ndarray, g: int, lanes: int, rows: int, skip=None) -> list[int]:
    """Trits W int8 [N, K] -> weight beats (pass-major, then word): word j of pass p holds the
    group codes of rows j*rows .. j*rows + rows - 1 for lanes 0..lanes-1 of the slice, element
    r * lanes + l at bits [(r * lanes + l) * code_bits, ...). Rows past N and groups past K carry
    the zero code. Passes flagged in `skip` (zero_tiles) are left out."""
    n, k = w.shape
    width = lanes * g
    passes, words = -(-k // width), -(-n // rows)
    skip = skip or [False] * passes
    padded = np.zeros((words * rows, passes * width), dtype=np.int8)
    padded[:n, :k] = w
    codes = group_codes(padded, g)  # [words * rows, passes * lanes]
    bits = code_bits(g)
    beats = []
    for p in range(passes):
        if skip[p]:
            continue
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
