"""Unit tests of golden/ternary.py, written against its docstrings.

The LUT engine's model must equal the plain matmul (itself checked against a Python-int loop) for
every g, odd K, sparsity and extreme value; the stats are checked on a case counted by hand; the
quantizers on hand-worked values that pin the rounding (half to even) and the order of operations.
"""
import itertools

import numpy as np
import pytest

from llmaccel.golden import ternary as T


def rand_trits(rng, n, k, sparsity):
    """Trits with P(0) = sparsity, +1 and -1 equally likely otherwise."""
    w = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, k))
    w[rng.random((n, k)) < sparsity] = 0
    return w.astype(np.int8)


def rand_acts(rng, m, k):
    return rng.integers(-128, 128, size=(m, k), dtype=np.int8)


def loop_matmul(x, w):
    return [[sum(int(a) * int(b) for a, b in zip(xr, wr)) for wr in w] for xr in x]


# --- matmul ---------------------------------------------------------------------------------------
def test_matmul_equals_python_loop():
    rng = np.random.default_rng(1)
    x, w = rand_acts(rng, 3, 37), rand_trits(rng, 5, 37, 0.3)
    y = T.matmul(x, w)
    assert y.dtype == np.int32 and y.shape == (3, 5)
    assert y.tolist() == loop_matmul(x, w)


def test_matmul_extremes():
    k = 1000
    x = np.full((2, k), -128, dtype=np.int8)
    x[1] = 127
    w = np.stack([np.ones(k), -np.ones(k)]).astype(np.int8)
    assert T.matmul(x, w).tolist() == [[-128 * k, 128 * k], [127 * k, -127 * k]]


def test_checked_int32():
    assert T.checked_int32(np.array([2**31 - 1, -2**31], dtype=np.int64)).dtype == np.int32
    with pytest.raises(ValueError, match="does not fit int32"):
        T.checked_int32(np.array([2**31], dtype=np.int64))
    with pytest.raises(ValueError, match="does not fit int32"):
        T.checked_int32(np.array([-2**31 - 1], dtype=np.int64))


@pytest.mark.parametrize("x,w,msg", [
    (np.zeros((2, 4), np.int16), np.zeros((3, 4), np.int8), "x must have dtype int8"),
    (np.zeros((2, 4), np.int8), np.zeros((3, 4), np.int32), "w must have dtype int8"),
    ([[1, 2]], np.zeros((3, 2), np.int8), "x must be a numpy array"),
    (np.zeros(4, np.int8), np.zeros((3, 4), np.int8), "x must be 2-D"),
    (np.zeros((2, 4), np.int8), np.zeros((3, 5), np.int8), "shape mismatch"),
    (np.zeros((2, 0), np.int8), np.zeros((3, 0), np.int8), "must not be empty"),
    (np.zeros((2, 4), np.int8), np.array([[0, 1, 2, 0]], np.int8), r"trits in \{-1, 0, 1\}: w\[0, 2\] = 2"),
    (np.zeros((2, 4), np.int8), np.array([[0, -2, 0, 0]], np.int8), r"w\[0, 1\] = -2"),
])
def test_matmul_bad_input(x, w, msg):
    with pytest.raises(ValueError, match=msg):
        T.matmul(x, w)


# --- accumulator_bits -----------------------------------------------------------------------------
def smallest_signed_width(lo, hi):
    b = 1
    while not (-(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1):
        b += 1
    return b


@pytest.mark.parametrize("act_bits,k", [(a, k) for a in (1, 2, 3) for k in (1, 2, 3)])
def test_accumulator_bits_exhaustive(act_bits, k):
    acts = range(-(1 << (act_bits - 1)), 1 << (act_bits - 1))
    products = sorted({a * t for a in acts for t in (-1, 0, 1)})
    sums = [sum(c) for c in itertools.product(products, repeat=k)]
    assert T.accumulator_bits(k, act_bits) == smallest_signed_width(min(sums), max(sums))


@pytest.mark.parametrize("k", [1, 2, 3, 7, 64, 100, 255, 256, 1000, 4096])
def test_accumulator_bits_extremes(k):
    b = T.accumulator_bits(k)
    x = np.full((1, k), -128, dtype=np.int8)
    w = np.stack([np.ones(k), -np.ones(k)]).astype(np.int8)
    lo, hi = T.matmul(x, w)[0].tolist()
    assert (lo, hi) == (-k * 128, k * 128)
    assert -(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1          # fits b bits
    assert hi > (1 << (b - 2)) - 1                                       # +k*128 needs bit b
    assert lo >= -(1 << (b - 2)) or k & (k - 1)                          # for k = 2**e, -k*128 fits b-1 bits


def test_accumulator_bits_named_values():
    assert T.accumulator_bits(1) == 9
    assert T.accumulator_bits(2) == 10
    assert T.accumulator_bits(3) == 10
    assert T.accumulator_bits(2**23) == 32
    assert T.accumulator_bits(2**24 - 1) == 32
    assert T.accumulator_bits(2**24) == 33
    assert T.accumulator_bits(1536, act_bits=8) == 19
    assert T.accumulator_bits(4, act_bits=4) == 7   # +32 needs 7 bits (6 bits stop at +31)


@pytest.mark.parametrize("args", [(0,), (-1,), (True,), (1.5,), (4, 0)])
def test_accumulator_bits_bad_input(args):
    with pytest.raises(ValueError, match="must be an integer >= 1"):
        T.accumulator_bits(*args)


# --- absmean_ternarize ----------------------------------------------------------------------------
def test_absmean_hand_example():
    w = np.array([[0.5, -1.5, 0.0, 3.0]], dtype=np.float32)  # mean |w| = 1.25
    t, s = T.absmean_ternarize(w)
    assert s.dtype == np.float32 and s == np.float32(1.25)
    assert t.dtype == np.int8 and t.tolist() == [[0, -1, 0, 1]]  # 0.4, -1.2, 0, 2.4


def test_absmean_rounds_half_to_even():
    w = np.array([[0.5, -0.5, 1.5, -1.5, 1.0, -1.0]], dtype=np.float32)  # mean = 1
    t, s = T.absmean_ternarize(w)
    assert s == 1.0
    assert t.tolist() == [[0, 0, 1, -1, 1, -1]]  # half away from zero would give +-1 for +-0.5


def test_absmean_summation_is_exact():
    # exact mean 4194304.75 is a tie in float32 -> 4194305.0 (even); a float32 accumulator
    # would lose the three 1.0s (2**24 + 1 == 2**24 in float32) and give 4194304.0
    w = np.array([[2.0**24, 1.0, 1.0, 1.0]], dtype=np.float32)
    _, s = T.absmean_ternarize(w)
    assert s == np.float32(4194305.0)
    acc = np.float32(0)
    for v in w.ravel():
        acc = np.float32(acc + v)
    assert acc / np.float32(4) == np.float32(4194304.0)


def test_absmean_random_properties():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((16, 300)).astype(np.float32)
    t, s = T.absmean_ternarize(w)
    assert s == np.float32(np.abs(w.astype(np.float64)).mean())
    assert set(np.unique(t).tolist()) == {-1, 0, 1}
    assert np.array_equal(t, np.clip(np.rint(w / s), -1, 1).astype(np.int8))


def test_absmean_all_zero_and_underflow():
    t, s = T.absmean_ternarize(np.zeros((3, 4), dtype=np.float32))
    assert s == 0 and s.dtype == np.float32 and not t.any() and t.dtype == np.int8
    tiny = np.zeros((1, 4), dtype=np.float32)
    tiny[0, 0] = np.float32(1.4e-45)  # smallest subnormal; the mean rounds to 0 in float32
    t, s = T.absmean_ternarize(tiny)
    assert s == 0 and not t.any()


@pytest.mark.parametrize("w,msg", [
    (np.zeros((2, 2), np.float64), "w must have dtype float32"),
    (np.zeros(4, np.float32), "w must be 2-D"),
    (np.array([[1.0, np.nan]], np.float32), "must be finite"),
    (np.array([[np.inf, 1.0]], np.float32), "must be finite"),
])
def test_absmean_bad_input(w, msg):
    with pytest.raises(ValueError, match=msg):
        T.absmean_ternarize(w)


# --- quantize_acts_absmax / dequantize ------------------------------------------------------------
def test_quantize_acts_hand_example():
    x = np.array([[127.0, -63.5, 0.5, 1.5],
                  [0.0, 0.0, 0.0, 0.0],
                  [-254.0, 1.0, 3.0, 5.0]], dtype=np.float32)
    q, s = T.quantize_acts_absmax(x)
    assert s.dtype == np.float32 and s.tolist() == [1.0, 0.0, 2.0]
    assert q.dtype == np.int8
    assert q.tolist() == [[127, -64, 0, 2], [0, 0, 0, 0], [-127, 0, 2, 2]]  # half to even


def test_quantize_acts_random_properties():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((8, 100)) * 10).astype(np.float32)
    q, s = T.quantize_acts_absmax(x)
    assert np.array_equal(s, np.abs(x).max(axis=1) / np.float32(127))
    assert np.abs(q).max() == 127 and q.min() >= -127
    assert (np.abs(q).max(axis=1) == 127).all()
    assert np.array_equal(q, np.rint(x / s[:, None]).astype(np.int8))


def test_quantize_acts_subnormal_scale_is_clipped():
    # x = 317 smallest subnormals: amax / 127 = 2.496 units -> rounds to 2; x / scale = 158.5 -> clip 127
    sub = np.float32(1.4e-45)
    x = np.array([[np.float32(317) * sub]], dtype=np.float32)
    q, s = T.quantize_acts_absmax(x)
    assert s[0] == 2 * sub and q.tolist() == [[127]]


@pytest.mark.parametrize("x,msg", [
    (np.zeros((2, 2), np.float16), "x must have dtype float32"),
    (np.array([[1.0, -np.inf]], np.float32), "must be finite"),
    (np.array([[np.nan]], np.float32), "must be finite"),
])
def test_quantize_acts_bad_input(x, msg):
    with pytest.raises(ValueError, match=msg):
        T.quantize_acts_absmax(x)


def test_dequantize_order_of_multiplications():
    y = np.array([[3]], dtype=np.int32)
    xs = np.array([0.3], dtype=np.float32)
    ws = np.float32(0.01)
    out = T.dequantize(y, xs, ws)
    assert out.dtype == np.float32
    assert out[0, 0] == np.float32(3) * (np.float32(0.3) * np.float32(0.01))
    assert out.view(np.uint32)[0, 0] == 1007908028          # x_scale * w_scale first
    assert (np.float32(3) * np.float32(0.3)) * ws != out[0, 0]  # the other order differs here


def test_dequantize_random_and_end_to_end():
    rng = np.random.default_rng(4)
    xf = rng.standard_normal((4, 64)).astype(np.float32)
    wf = rng.standard_normal((6, 64)).astype(np.float32)
    q, xs = T.quantize_acts_absmax(xf)
    t, ws = T.absmean_ternarize(wf)
    y = T.matmul(q, t)
    out = T.dequantize(y, xs, ws)
    assert np.array_equal(out, y.astype(np.float32) * (xs * ws)[:, None])
    ref = (q.astype(np.float64) * xs[:, None]) @ (t.astype(np.float64) * ws).T
    assert np.allclose(out, ref, rtol=1e-5, atol=1e-6)
    assert np.array_equal(T.dequantize(y, xs, np.asarray(ws)), out)  # 0-D array accepted


@pytest.mark.parametrize("y,xs,ws,msg", [
    (np.zeros((2, 2), np.int64), np.ones(2, np.float32), np.float32(1), "y must have dtype int32"),
    (np.zeros((2, 2), np.int32), np.ones(3, np.float32), np.float32(1), "shape mismatch"),
    (np.zeros((2, 2), np.int32), np.ones(2, np.float64), np.float32(1), "x_scale must have dtype float32"),
    (np.zeros((2, 2), np.int32), np.array([1, np.nan], np.float32), np.float32(1), "must be finite"),
    (np.zeros((2, 2), np.int32), np.ones(2, np.float32), 1.0, "w_scale must be a numpy float32 scalar"),
    (np.zeros((2, 2), np.int32), np.ones(2, np.float32), np.float32(np.inf), "w_scale must be finite"),
])
def test_dequantize_bad_input(y, xs, ws, msg):
    with pytest.raises(ValueError, match=msg):
        T.dequantize(y, xs, ws)


# --- group codes and tables -----------------------------------------------------------------------
def test_zero_code():
    assert [T.zero_code(g) for g in range(1, 6)] == [1, 4, 13, 40, 121]


def test_group_codes_hand_example():
    w = np.array([[-1, 1, 0], [1, 1, 1], [0, 0, -1]], dtype=np.int8)
    codes = T.group_codes(w, 2)  # groups (w0, w1), (w2, pad 0); code = c0 + 3 * c1
    assert codes.dtype == np.uint8
    assert codes.tolist() == [[0 + 3 * 2, 1 + 3 * 1], [8, 2 + 3 * 1], [4, 0 + 3 * 1]]
    assert T.group_codes(w, 3).tolist() == [[0 + 3 * 2 + 9 * 1], [26], [1 + 3 * 1 + 9 * 0]]
    assert T.group_codes(w, 1).tolist() == (w + 1).tolist()


@pytest.mark.parametrize("g", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("k", [1, 5, 16, 37])
def test_group_codes_round_trip(g, k):
    rng = np.random.default_rng(10 * g + k)
    w = rand_trits(rng, 7, k, 0.4)
    codes = T.group_codes(w, g)
    assert codes.shape == (7, -(-k // g))
    assert codes.max() < 3 ** g
    assert np.array_equal(T.ungroup_codes(codes, g, k), w)


def test_ungroup_codes_bad_input():
    with pytest.raises(ValueError, match=r"codes\[0, 1\] = 9 is not a code of 2 trits"):
        T.ungroup_codes(np.array([[0, 9]], np.uint8), 2, 4)
    # k = 3, g = 2: the last code's digit 1 (element 3) is padding and must be 1
    with pytest.raises(ValueError, match="padding trits"):
        T.ungroup_codes(np.array([[4, 1]], np.uint8), 2, 3)
    assert T.ungroup_codes(np.array([[4, 0 + 3]], np.uint8), 2, 3).tolist() == [[0, 0, -1]]
    with pytest.raises(ValueError, match="needs 2 codes per row"):
        T.ungroup_codes(np.array([[4, 4, 4]], np.uint8), 2, 3)
    with pytest.raises(ValueError, match="codes must have dtype uint8"):
        T.ungroup_codes(np.array([[4, 4]], np.int8), 2, 3)
    with pytest.raises(ValueError, match="k must be an integer"):
        T.ungroup_codes(np.array([[4, 4]], np.uint8), 2, 0)


@pytest.mark.parametrize("g", [0, 6, 2.0, True])
def test_bad_g(g):
    w = np.zeros((2, 4), np.int8)
    with pytest.raises(ValueError, match="g must be an integer in 1 .. 5"):
        T.group_codes(w, g)
    with pytest.raises(ValueError, match="g must be an integer in 1 .. 5"):
        T.lut_matmul(np.zeros((1, 4), np.int8), w, g)


def test_build_table_hand_example():
    table = T.build_table(np.array([3, -5], np.int8), 2)
    assert table.dtype == np.int32 and table.shape == (9,)
    # c = d0 + 3*d1, entry (d0 - 1)*3 + (d1 - 1)*(-5)
    assert table.tolist() == [2, 5, 8, -3, 0, 3, -8, -5, -2]


@pytest.mark.parametrize("g", [1, 2, 3, 4, 5])
def test_build_table_brute_force_and_symmetry(g):
    rng = np.random.default_rng(g)
    acts = rng.integers(-128, 128, size=g, dtype=np.int8)
    acts[0] = -128
    table = T.build_table(acts, g)
    for c, trits in enumerate(itertools.product((-1, 0, 1), repeat=g)):
        trits = trits[::-1]  # itertools varies the last element fastest; digit 0 is least significant
        assert table[c] == sum(t * int(a) for t, a in zip(trits, acts))
    assert table[T.zero_code(g)] == 0
    assert np.array_equal(table[::-1], -table)
    half = T.build_half_table(acts, g)
    assert half.shape == ((3 ** g + 1) // 2,) and np.array_equal(half, table[: T.zero_code(g) + 1])
    codes = np.arange(3 ** g, dtype=np.uint8)
    idx, neg = T.fold_codes(codes, g)
    assert idx.max() == T.zero_code(g) and neg.sum() == (3 ** g - 1) // 2
    assert np.array_equal(np.where(neg, -half[idx], half[idx]), table)


def test_build_table_bad_input():
    with pytest.raises(ValueError, match="acts has 3 elements, g = 2"):
        T.build_table(np.zeros(3, np.int8), 2)
    with pytest.raises(ValueError, match="acts must have dtype int8"):
        T.build_table(np.zeros(2, np.int32), 2)
    with pytest.raises(ValueError, match="codes must be < 3"):
        T.fold_codes(np.array([9], np.uint8), 2)


# --- lut_matmul -----------------------------------------------------------------------------------
SPARSITIES = [0.0, 0.33, 0.67, 0.95, 1.0]


@pytest.mark.parametrize("g", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("sparsity", SPARSITIES)
def test_lut_equals_matmul_random(g, sparsity):
    rng = np.random.default_rng(int(100 * g + 1000 * sparsity))
    for _ in range(3):
        m, n = int(rng.integers(1, 5)), int(rng.integers(1, 20))
        k = int(rng.integers(1, 50))
        if k % g == 0 and g > 1:
            k += 1  # K not a multiple of g
        x, w = rand_acts(rng, m, k), rand_trits(rng, n, k, sparsity)
        ref = T.matmul(x, w)
        for fn in (T.lut_matmul, T.lut_matmul_half_table):
            y, st = fn(x, w, g)
            assert y.dtype == np.int32 and np.array_equal(y, ref), (fn.__name__, g, m, n, k)
            groups = -(-k // g)
            assert st["tables_built"] + st["skipped_groups"] == m * groups
            assert st["lookups"] + st["skipped_lookups"] == m * groups * n
            assert st["lookups"] == m * int((T.group_codes(w, g) != T.zero_code(g)).sum())
        if sparsity == 1.0:
            assert st["tables_built"] == 0 and st["lookups"] == 0 and not y.any()


@pytest.mark.parametrize("g", [1, 2, 3, 4])
@pytest.mark.parametrize("fill", [1, -1])
@pytest.mark.parametrize("act", [-128, 127])
def test_lut_extremes(g, fill, act):
    k = 4 * g + 1
    x = np.full((2, k), act, dtype=np.int8)
    x[1, ::2] = -128
    w = np.full((3, k), fill, dtype=np.int8)
    w[2, 1::3] = -fill
    ref = T.matmul(x, w)
    assert ref[0, 0] == fill * act * k
    for fn in (T.lut_matmul, T.lut_matmul_half_table):
        y, st = fn(x, w, g)
        assert np.array_equal(y, ref)
        assert st["skipped_groups"] == 0 and st["skipped_lookups"] == 0


def test_lut_stats_hand_example():
    # g = 2, K = 5 -> groups (0,1), (2,3), (4,pad); N = 3, M = 2
    w = np.array([[1, -1, 0, 0, 0],     # codes: 2+0=2, 4, 1+3=4
                  [0, 0, 0, 0, 1],      #        4,     4, 2+3=5
                  [0, 0, 0, 0, -1]],    #        4,     4, 0+3=3
                 dtype=np.int8)
    x = np.array([[10, 20, 30, 40, 50], [-1, -2, -3, -4, -128]], dtype=np.int8)
    assert T.group_codes(w, 2).tolist() == [[2, 4, 4], [4, 4, 5], [4, 4, 3]]
    y, st = T.lut_matmul(x, w, 2)
    assert y.tolist() == [[-10, 50, -50], [1, -128, 128]]
    # per row: group 0 live (1 lookup), group 1 dead for all (skipped), group 2 live (2 lookups)
    assert st == {"table_entries": 9, "tables_built": 4, "skipped_groups": 2,
                  "lookups": 6, "skipped_lookups": 12}
    y2, st2 = T.lut_matmul_half_table(x, w, 2)
    assert y2.tolist() == y.tolist()
    # codes > 4 are folded and negated: code 5 (output 1, group 2) once per row
    assert st2 == {"table_entries": 5, "tables_built": 4, "skipped_groups": 2,
                   "lookups": 6, "skipped_lookups": 12, "negations": 2}


def test_lut_bad_input():
    with pytest.raises(ValueError, match="shape mismatch"):
        T.lut_matmul(np.zeros((1, 4), np.int8), np.zeros((2, 5), np.int8), 2)
    with pytest.raises(ValueError, match="trits"):
        T.lut_matmul_half_table(np.zeros((1, 2), np.int8), np.array([[3, 0]], np.int8), 2)
