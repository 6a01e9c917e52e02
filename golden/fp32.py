"""Exact IEEE 754 binary32 rounding, for checking the binary32 units where NumPy cannot serve.

NumPy's float32 ufuncs are the reference for a * b and a + b (each rounds once, with gradual
underflow, on x86 with the default MXCSR). For value * 2**exp with a wide integer value,
np.ldexp(np.float32(value), exp) would round twice (once in the float32 cast), so this module
rounds the exact rational number once instead: round to nearest, ties to even, subnormals,
overflow to +-Inf. Results are binary32 bit patterns (int).
"""
from fractions import Fraction

import numpy as np

QNAN = 0x7FC00000
INF = 0x7F800000


def round_binary32(x: Fraction, negative_zero: bool = False) -> int:
    """Bits of the binary32 nearest to the rational x (ties to even). A zero x gives +0, or -0
    when `negative_zero`; a non-zero x that rounds to zero keeps its sign."""
    if x == 0:
        return (1 << 31) if negative_zero else 0
    sign = (1 << 31) if x < 0 else 0
    x = abs(x)
    # exponent e with 2**e <= x < 2**(e + 1)
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1
    e = max(e, -126)                       # below: the subnormal quantum 2**-149 is fixed
    quantum = Fraction(2) ** (e - 23)
    q, rest = divmod(x, quantum)           # q integer significand, rest in [0, quantum)
    q = int(q)
    if rest * 2 > quantum or (rest * 2 == quantum and q & 1):
        q += 1
    if q == 1 << 24:                       # rounded up to the next binade
        q >>= 1
        e += 1
    if q < 1 << 23:                        # subnormal (or zero): exponent field 0
        return sign | q
    if e > 127:
        return sign | INF
    return sign | ((e + 127) << 23) | (q - (1 << 23))


def ldexp_exact(value: int, exp: int) -> int:
    """Bits of binary32(value * 2**exp) rounded once; value 0 gives +0."""
    return round_binary32(Fraction(value) * Fraction(2) ** exp)


def ldexp_f64(values: np.ndarray, exps: np.ndarray) -> np.ndarray:
    """Vectorised ldexp_exact for |value| < 2**53, as uint32 bits: float64(value) is exact,
    ldexp in float64 is exact unless it leaves float64's normal range (and then binary32's result
    is +-0 or +-Inf anyway), and the one float64 -> float32 cast rounds once (RNE)."""
    with np.errstate(all="ignore"):
        wide = np.ldexp(values.astype(np.float64), exps.astype(np.int64))
        return wide.astype(np.float32).view(np.uint32)
