"""golden/fp32.py, the exact binary32 rounding that checks the int converter, against NumPy's
float64 -> float32 cast (one RNE rounding, gradual underflow, overflow to Inf) on float64 values
that exercise every case: ties at every scale, the subnormal range, the overflow threshold."""
from fractions import Fraction

import numpy as np

from llmaccel.golden.fp32 import INF, ldexp_exact, ldexp_f64, round_binary32
from llmaccel.testbench.runner import seed_for


def test_round_binary32_matches_float64_cast():
    seed = seed_for("test_golden_fp32::cast")
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    n = 20000
    # 30-bit significands (ties and near-ties when the low bits are 1000000 or 0111111)
    sig = rng.integers(1 << 29, 1 << 30, n)
    kind = rng.integers(0, 3, n)
    sig = np.where(kind == 0, (sig >> 6 << 6) | 32, sig)          # exact ties at 24 bits
    sig = np.where(kind == 1, (sig >> 6 << 6) | 31, sig)          # just below a tie
    exp = rng.integers(-185, 105, n)                               # value exponent -156 .. 133
    x = np.ldexp(sig.astype(np.float64), exp) * np.where(rng.random(n) < 0.5, -1.0, 1.0)
    with np.errstate(all="ignore"):
        want = x.astype(np.float32).view(np.uint32)
    got = np.array([round_binary32(Fraction(float(v))) for v in x], dtype=np.uint32)
    bad = np.flatnonzero(got != want)
    assert len(bad) == 0, f"seed={seed}: {x[bad[0]]!r} -> {got[bad[0]]:#x}, want {want[bad[0]]:#x}"
    assert ((want & 0x7FFFFFFF) == INF).any() and ((want & 0x7F800000) == 0).any()


def test_ldexp_exact_edges():
    assert ldexp_exact(0, 5) == 0 and ldexp_exact(0, -300) == 0          # 0 -> +0
    assert round_binary32(Fraction(0), negative_zero=True) == 0x80000000
    assert ldexp_exact(1, -149) == 1 and ldexp_exact(1, -150) == 0        # tie to even: 0
    assert ldexp_exact(3, -151) == 1 and ldexp_exact(-3, -150) == 0x80000002
    assert ldexp_exact(-1, -151) == 0x80000000                           # underflow keeps sign
    assert ldexp_exact((1 << 24) - 1, -150) == 0x00800000  # tie, to even: the smallest normal
    assert ldexp_exact((1 << 24) - 1, 104) == 0x7F7FFFFF                  # largest finite
    assert ldexp_exact(1, 128) == INF and ldexp_exact(-1, 128) == INF | 1 << 31
    assert ldexp_exact((1 << 25) - 1, 103) == INF                         # rounds up to Inf
    v = np.array([1, -(1 << 31), 12345, (1 << 52) + 1], np.int64)
    e = np.array([-149, 0, -140, -60], np.int64)
    assert list(ldexp_f64(v, e)) == [ldexp_exact(int(a), int(b)) for a, b in zip(v, e)]
