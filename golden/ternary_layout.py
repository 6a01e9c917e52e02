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
