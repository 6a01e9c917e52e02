"""Ternary (BitNet b1.58) matmul: the numbers the ternary LUT engine must produce, bit for bit.

Operands
    x: int8 activations [M, K] (two's complement, -128 .. 127).
    w: int8 trits [N, K], every element in {-1, 0, +1} (one row per output; Y = X @ W.T).
    y: int32 [M, N], exact: no rounding, no saturation anywhere in the integer path.

The LUT algorithm (what the hardware does, step by step)
    Trit code of one weight: w + 1 (-1 -> 0, 0 -> 1, +1 -> 2), as llama.cpp's TQ2_0.
    Group code of g consecutive weights w[n, j*g + i], i = 0 .. g-1:
        code = sum_i (w[n, j*g + i] + 1) * 3**i          (digit i has weight 3**i: element 0 is the
                                                          least significant base-3 digit)
    so code is in 0 .. 3**g - 1 and the all-zero group has ZERO_CODE(g) = (3**g - 1) // 2
    (every digit 1). When K is not a multiple of g, the last group is padded with zero trits
    (digit 1) and the activations with 0, so the padding adds nothing.
    For activation row m and group j, the table of all signed sums of the g activations is
        table[c] = sum_i (digit_i(c) - 1) * x[m, j*g + i]      (3**g int32 entries)
    and every output n adds table[code[n, j]] to its accumulator. One table read replaces g
    add/sub/skip operations, and the table is shared by all N outputs.
    Sparsity: an output whose group code is ZERO_CODE adds nothing (a skipped lookup); a group
    that is ZERO_CODE for every output is skipped whole: its table is not even built.
    Half table (sign symmetry): digit_i(3**g - 1 - c) = 2 - digit_i(c), so
        table[3**g - 1 - c] == -table[c]
    and only the entries c = 0 .. ZERO_CODE(g) ((3**g + 1) // 2 of them) are stored. A code c is
    folded to (index, negate) = (c, False) if c <= ZERO_CODE(g) else (3**g - 1 - c, True), and the
    read value is negated when the flag is set. (c > ZERO_CODE(g) exactly when the highest-index
    nonzero trit of the group is +1.)

Quantizers (BitNet b1.58, "The Era of 1-bit LLMs"): weights by absmean to trits and one float32
scale per matrix; activations by per-row absmax to int8 in -127 .. 127. Rounding is
round-half-to-even (numpy.rint, as torch.round) everywhere; float arithmetic is IEEE binary32 with
round-to-nearest-even unless a docstring says otherwise.

g is limited to 1 .. 5 so that a group code fits one byte (3**5 = 243 <= 256).
"""
import math

import numpy as np

G_MAX = 5
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


# --- input checks ---------------------------------------------------------------------------------
def _check_array(name: str, a, dtype, ndim: int) -> None:
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy array of dtype {np.dtype(dtype).name}, "
                         f"not {type(a).__name__}")
    if a.dtype != dtype:
        raise ValueError(f"{name} must have dtype {np.dtype(dtype).name}, not {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, not of shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} must not be empty (shape {a.shape})")


def _check_trits(name: str, w, ndim: int = 2) -> None:
    _check_array(name, w, np.int8, ndim)
    bad = (w < -1) | (w > 1)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must hold trits in {{-1, 0, 1}}: {name}{list(idx)} = {int(w[idx])} "
                         f"({int(bad.sum())} bad elements)")


def _check_finite_float32(name: str, a, ndim: int) -> None:
    _check_array(name, a, np.float32, ndim)
    bad = ~np.isfinite(a)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite (no NaN/Inf): {name}{list(idx)} = {a[idx]}")


def _check_g(g) -> None:
    if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or not 1 <= g <= G_MAX:
        raise ValueError(f"g must be an integer in 1 .. {G_MAX} (a group code must fit a byte), not {g!r}")


def _check_x_w(x, w) -> None:
    _check_array("x", x, np.int8, 2)
    _check_trits("w", w)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"shape mismatch: x is {x.shape} (M, K) but w is {w.shape} (N, K)")


def checked_int32(y: np.ndarray) -> np.ndarray:
    """int64 array -> int32 array of the same values; ValueError if any value is outside int32."""
    y = np.asarray(y, dtype=np.int64)
    if y.size and (y.min() < INT32_MIN or y.max() > INT32_MAX):
        raise ValueError(f"result does not fit int32: range [{int(y.min())}, {int(y.max())}]")
    return y.astype(np.int32)


# --- reference matmul and accumulator width -------------------------------------------------------
def matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Y = X @ W.T, exact. x int8 [M, K], w int8 trits [N, K] -> int32 [M, N].

    Computed in int64 (exact for any K numpy can hold), then checked to fit int32. It always fits
    for K <= 2**23: each product x*w is in [-128, 128] (the only product of magnitude 128 is
    -128 * -1 = +128 or -128 * +1 = -128), so |y| <= 128 * K <= 2**30 < 2**31 - 1. The exact limit is
    K <= 2**24 - 1 (128 * (2**24 - 1) = 2**31 - 128); at K = 2**24 all -128 activations against all
    -1 trits give +2**31, which int32 cannot hold (ValueError). See accumulator_bits().
    """
    _check_x_w(x, w)
    return checked_int32(x.astype(np.int64) @ w.astype(np.int64).T)


def accumulator_bits(k_max: int, act_bits: int = 8) -> int:
    """Smallest two's complement width b that holds every sum of k_max products act * trit, with
    act a signed act_bits-bit integer and trit in {-1, 0, 1}.

    Proof. Let A = 2**(act_bits - 1), so act is in [-A, A - 1]. One product act * trit lies in
    [-A, A]: -A is reached by (-A) * (+1) and +A by (-A) * (-1), and nothing is larger in magnitude.
    A sum of k = k_max products therefore lies in [-k*A, +k*A], and both ends are reached (all acts
    -A with all trits +1, resp. all -1), so a width is enough iff it holds both ends. A signed b-bit
    word holds [-2**(b-1), 2**(b-1) - 1]; the positive end is the binding one, since
    2**(b-1) - 1 >= k*A implies 2**(b-1) >= k*A. So we need 2**(b-1) > P with P = k*A. For P >= 1
    the smallest e with 2**e > P is P.bit_length(), hence
        b = (k_max * 2**(act_bits - 1)).bit_length() + 1.
    Example: k_max = 1, act_bits = 8: P = 128 needs b = 9 (int8 holds -128 but not +128). For
    k_max a power of two this is log2(k_max) + act_bits + 1: +k_max * 128 is exactly the value that
    needs the extra bit. int32 suffices up to k_max = 2**24 - 1 (act_bits = 8).
    """
    for name, v in (("k_max", k_max), ("act_bits", act_bits)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, not {v!r}")
    return (int(k_max) << (int(act_bits) - 1)).bit_length() + 1


# --- BitNet b1.58 quantizers ----------------------------------------------------------------------
def absmean_ternarize(w: np.ndarray) -> tuple[np.ndarray, np.float32]:
    """Absmean ternarization of a float32 matrix [N, K] -> (trits int8 [N, K], scale float32).

    scale: the mean of |w| over the whole matrix, computed as
        s64   = math.fsum(|w|)  (the exact sum of the float32 values, rounded once to binary64),
        m64   = s64 / (N*K)     (binary64 division, round to nearest even),
        scale = float32(m64)    (round to nearest even).
    This does not depend on summation order (a float32 accumulator would: see the tests). BitNet's
    PyTorch reference takes the mean in float32, which can differ from this in the last bit.
    trits = clip(rint(w / scale), -1, 1): w / scale is one IEEE binary32 division per element, rint
    rounds half to even (0.5 -> 0, 1.5 -> 2 -> clipped to 1).
    Zero guard: if scale == 0 (all-zero w, or w so tiny that its mean underflows float32 to 0),
    the trits are all 0 and the scale is float32(0); no division happens. Unlike BitNet's reference
    (which clamps the mean to >= 1e-5), a nonzero scale is never clamped.
    Dequantized weights: trits * scale.
    """
    _check_finite_float32("w", w, 2)
    s64 = math.fsum(np.abs(w).astype(np.float64).ravel().tolist())
    scale = np.float32(s64 / w.size)
    if scale == 0:
        return np.zeros(w.shape, dtype=np.int8), np.float32(0.0)
    q = np.rint(w / scale)  # float32 / float32 -> float32
    return np.clip(q, -1, 1).astype(np.int8), scale


def quantize_acts_absmax(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row absmax quantization of float32 activations [M, K] -> (q int8 [M, K], scale float32 [M]).

    scale[m] = float32(max_k |x[m, k]|) / float32(127)   (binary32 division; the max is exact)
    q[m, k]  = clip(rint(x[m, k] / scale[m]), -127, 127)  (binary32 division, half to even)
    The symmetric range -127 .. 127 never uses -128. The clip only bites when scale[m] is
    subnormal (its relative rounding error is then large); otherwise |x / scale| <= 127 + a few ulp.
    Rows whose scale is 0 (all zero, or max|x| < 127 * 2**-150 so that scale underflows) get
    scale 0 and q 0. Dequantized activations: q * scale[:, None].
    """
    _check_finite_float32("x", x, 2)
    amax = np.abs(x).max(axis=1)
    scale = (amax / np.float32(127)).astype(np.float32)
    nz = scale != 0
    q = np.zeros(x.shape, dtype=np.float32)
    np.divide(x, scale[:, None], out=q, where=nz[:, None])
    q = np.clip(np.rint(q), -127, 127).astype(np.int8)
    return q, scale


def dequantize(y: np.ndarray, x_scale: np.ndarray, w_scale) -> np.ndarray:
    """float32 [M, N] from y int32 [M, N], per-row x_scale float32 [M] and w_scale float32 (scalar).

    Order of operations (each step one binary32 operation, round to nearest even):
        c[m]       = x_scale[m] * w_scale
        out[m, n]  = float32(y[m, n]) * c[m]
    float32(y) rounds |y| > 2**24 to nearest even. This is llama.cpp's order
    (sumi * (d_x * d_y)) and costs one multiply per output; it can differ in the last bit from
    (y * x_scale) * w_scale.
    w_scale may be a numpy float32 scalar or a 0-D float32 array.
    """
    _check_array("y", y, np.int32, 2)
    _check_finite_float32("x_scale", x_scale, 1)
    if isinstance(w_scale, np.float32):
        w_scale = np.asarray(w_scale)
    if not isinstance(w_scale, np.ndarray) or w_scale.dtype != np.float32 or w_scale.ndim != 0:
        raise ValueError(f"w_scale must be a numpy float32 scalar, not {w_scale!r}")
    if not np.isfinite(w_scale):
        raise ValueError(f"w_scale must be finite (no NaN/Inf), not {w_scale}")
    if x_scale.shape[0] != y.shape[0]:
        raise ValueError(f"shape mismatch: y is {y.shape} (M, N) but x_scale has {x_scale.shape[0]} rows")
    c = (x_scale * w_scale).astype(np.float32)
    return (y.astype(np.float32) * c[:, None]).astype(np.float32)


# --- the LUT algorithm ----------------------------------------------------------------------------
def zero_code(g: int) -> int:
    """Group code of g zero trits: (3**g - 1) // 2 (every base-3 digit 1)."""
    _check_g(g)
    return (3 ** g - 1) // 2


def _digits(g: int) -> np.ndarray:
    """[3**g, g] int64: digit_i(c) - 1, i.e. the trit vector of each code c."""
    c = np.arange(3 ** g, dtype=np.int64)[:, None]
    return (c // (3 ** np.arange(g, dtype=np.int64))[None, :]) % 3 - 1


def group_codes(w: np.ndarray, g: int) -> np.ndarray:
    """Group codes of int8 trits [N, K] -> uint8 [N, ceil(K/g)].

    codes[n, j] = sum_{i<g} (w[n, j*g + i] + 1) * 3**i, the trits past K taken as 0 (digit 1).
    """
    _check_trits("w", w)
    _check_g(g)
    n, k = w.shape
    groups = -(-k // g)
    padded = np.zeros((n, groups * g), dtype=np.int64)
    padded[:, :k] = w
    digits = (padded + 1).reshape(n, groups, g)
    weights = 3 ** np.arange(g, dtype=np.int64)
    return (digits * weights).sum(axis=2).astype(np.uint8)


def ungroup_codes(codes: np.ndarray, g: int, k: int) -> np.ndarray:
    """Inverse of group_codes: uint8 codes [N, ceil(k/g)] -> int8 trits [N, k].

    ValueError if a code is >= 3**g, or if a padding digit (element index >= k) is not 1 (a zero
    trit): such codes cannot come from group_codes.
    """
    _check_array("codes", codes, np.uint8, 2)
    _check_g(g)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, not {k!r}")
    groups = -(-k // g)
    if codes.shape[1] != groups:
        raise ValueError(f"shape mismatch: k = {k} with g = {g} needs {groups} codes per row, "
                         f"codes is {codes.shape}")
    if (codes >= 3 ** g).any():
        idx = tuple(int(i) for i in np.argwhere(codes >= 3 ** g)[0])
        raise ValueError(f"codes{list(idx)} = {int(codes[idx])} is not a code of {g} trits "
                         f"(must be < {3 ** g})")
    n = codes.shape[0]
    c = codes.astype(np.int64)[:, :, None]
    trits = ((c // (3 ** np.arange(g, dtype=np.int64))) % 3 - 1).reshape(n, groups * g)
    if (trits[:, k:] != 0).any():
        row = int(np.argwhere((trits[:, k:] != 0).any(axis=1))[0, 0])
        raise ValueError(f"codes row {row}: the padding trits of the last group (elements >= {k}) "
                         "must be zero (digit 1)")
    return trits[:, :k].astype(np.int8)


def _table(acts: np.ndarray, g: int) -> np.ndarray:
    return (_digits(g) @ acts.astype(np.int64)).astype(np.int32)


def build_table(acts: np.ndarray, g: int) -> np.ndarray:
    """The table of one group: int8 acts [g] -> int32 [3**g], table[c] = sum_i (digit_i(c) - 1) * acts[i].

    Entries are at most 128 * g in magnitude. table[ZERO_CODE] == 0 and
    table[3**g - 1 - c] == -table[c].
    """
    _check_g(g)
    _check_array("acts", acts, np.int8, 1)
    if acts.shape[0] != g:
        raise ValueError(f"shape mismatch: acts has {acts.shape[0]} elements, g = {g}")
    return _table(acts, g)


def build_half_table(acts: np.ndarray, g: int) -> np.ndarray:
    """The stored half of the table: int8 acts [g] -> int32 [(3**g + 1) // 2], entries c = 0 .. ZERO_CODE(g)
    of build_table (the last one, table[ZERO_CODE], is 0)."""
    return build_table(acts, g)[: zero_code(g) + 1]


def fold_codes(codes: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray]:
    """Index folding for the half table: uint8 codes -> (index uint8, negate bool), same shape.

    index = c and negate = False if c <= ZERO_CODE(g), else index = 3**g - 1 - c and negate = True.
    Then table[c] == (-1 if negate else 1) * half_table[index].
    """
    if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8:
        raise ValueError(f"codes must be a numpy uint8 array, not {getattr(codes, 'dtype', type(codes))}")
    _check_g(g)
    if (codes >= 3 ** g).any():
        raise ValueError(f"codes must be < 3**g = {3 ** g}, found {int(codes.max())}")
    negate = codes > zero_code(g)
    index = np.where(negate, 3 ** g - 1 - codes.astype(np.int64), codes).astype(np.uint8)
    return index, negate


def _lut(x: np.ndarray, w: np.ndarray, g: int, half: bool) -> tuple[np.ndarray, dict]:
    _check_x_w(x, w)
    _check_g(g)
    m_rows, k = x.shape
    n_out = w.shape[0]
    codes = group_codes(w, g)  # [N, J]
    groups = codes.shape[1]
    zc = zero_code(g)
    xp = np.zeros((m_rows, groups * g), dtype=np.int8)  # activations padded with 0
    xp[:, :k] = x
    nonzero = codes != zc  # [N, J]
    live_group = nonzero.any(axis=0)  # [J]
    index, negate = fold_codes(codes, g)
    acc = np.zeros((m_rows, n_out), dtype=np.int64)
    stats = {"table_entries": (3 ** g + 1) // 2 if half else 3 ** g,
             "tables_built": 0, "skipped_groups": 0, "lookups": 0, "skipped_lookups": 0}
    if half:
        stats["negations"] = 0
    for m in range(m_rows):
        for j in range(groups):
            if not live_group[j]:
                stats["skipped_groups"] += 1
                stats["skipped_lookups"] += n_out
                continue
            acts = xp[m, j * g:(j + 1) * g]
            live = nonzero[:, j]
            n_live = int(live.sum())
            if half:
                table = _table(acts, g)[: zc + 1]
                value = table[index[live, j]].astype(np.int64)
                neg = negate[live, j]
                acc[m, live] += np.where(neg, -value, value)
                stats["negations"] += int(neg.sum())
            else:
                table = _table(acts, g)
                acc[m, live] += table[codes[live, j]]
            stats["tables_built"] += 1
            stats["lookups"] += n_live
            stats["skipped_lookups"] += n_out - n_live
    return checked_int32(acc), stats


def lut_matmul(x: np.ndarray, w: np.ndarray, g: int) -> tuple[np.ndarray, dict]:
    """Y = X @ W.T by table lookup, as the engine does it: x int8 [M, K], w trits [N, K] ->
    (y int32 [M, N] == matmul(x, w), stats).

    For m in 0 .. M-1, for group j in 0 .. ceil(K/g)-1: if code[n, j] == ZERO_CODE for every n,
    skip the group (no table); else build the 3**g-entry table of x[m, j*g : j*g+g] (padded with
    0) once, and every output n with code[n, j] != ZERO_CODE adds table[code[n, j]]. Accumulation is
    exact (int64, checked to fit int32 at the end).
    stats (counted over all M * ceil(K/g) row-group steps and N outputs):
        table_entries    entries of one table (3**g)
        tables_built     row-group steps that built a table
        skipped_groups   row-group steps skipped whole (tables_built + skipped_groups = M*ceil(K/g))
        lookups          table reads that were accumulated
        skipped_lookups  outputs that added nothing in a step, whether the group was skipped whole
                         or only their code was ZERO_CODE (lookups + skipped_lookups = M*ceil(K/g)*N)
    """
    return _lut(x, w, g, half=False)


def lut_matmul_half_table(x: np.ndarray, w: np.ndarray, g: int) -> tuple[np.ndarray, dict]:
    """As lut_matmul, with the half table: each built table stores (3**g + 1) // 2 entries
    (build_half_table), each lookup folds its code (fold_codes) and negates the value read when
    the flag is set. Same y. stats as lut_matmul with table_entries = (3**g + 1) // 2, plus
    negations: the accumulated lookups whose value was negated.
    """
    return _lut(x, w, g, half=True)
