"""Operands and references for the binary32 units (generators/fp32_*.py), shared by the Amaranth
simulator tier (test_fp32_amaranth.py) and the Verilog tier (cocotb_fp32.py).

Operands are uint32 bit patterns (int32 values / int16 exponents for the int converter), drawn as
a mix of plain random bit patterns (mostly ordinary normals) and generated corners, because random
bits almost never hit what goes wrong in a float unit: every exponent class (zero, subnormal,
normal, Inf, NaN) on either side, the subnormal/normal boundary, exact ties in both ranges,
massive cancellation, overflow edges, signed zeros. References: NumPy float32 arithmetic (one
rounding each, gradual underflow) and golden.fp32 for the int converter. NaN results must be
exactly the canonical quiet NaN 0x7FC00000; every other result is compared bit for bit.
"""
import numpy as np

from llmaccel.golden.fp32 import ldexp_f64

QNAN = 0x7FC00000
SIGN = np.uint32(0x80000000)

SPECIALS = np.array([
    0x00000000,             # +0
    0x00000001, 0x00000002, 0x00000003,   # smallest subnormals
    0x00400000,             # half the smallest normal
    0x007FFFFF, 0x007FFFFE,  # largest subnormals
    0x00800000, 0x00800001, 0x00FFFFFF,   # smallest normals
    0x01000000,
    0x33800000,             # 2**-24
    0x34000000,             # 2**-23
    0x3F000000, 0x3F7FFFFF,  # 0.5, just below 1
    0x3F800000, 0x3F800001,  # 1, just above
    0x3FC00000, 0x3FFFFFFF,  # 1.5, just below 2
    0x40000000, 0x40400000,  # 2, 3
    0x4B000000, 0x4B800000,  # 2**23, 2**24
    0x5F000000, 0x1F000000,  # 2**63, 2**-65: products near 1
    0x7E800000, 0x7F000000,  # 2**126, 2**127
    0x7F7FFFFF, 0x7F7FFFFE,  # largest finite
    0x7F800000,             # Inf
    0x7F800001, 0x7FC00000, 0x7FFFFFFF, 0x7FA00000,  # NaNs: signalling and quiet payloads
], dtype=np.uint32)
SPECIALS = np.concatenate([SPECIALS, SPECIALS | SIGN])


def f32(bits: np.ndarray) -> np.ndarray:
    return bits.view(np.float32)


def random_bits(rng, n):
    return rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)


def fraction_patterns(rng, n):
    """23-bit fractions: random, zero, all ones, one bit, a few bits, long runs."""
    kind = rng.integers(0, 6, n)
    rand = random_bits(rng, n) & 0x7FFFFF
    one = np.uint32(1) << rng.integers(0, 23, n).astype(np.uint32)
    few = rand & random_bits(rng, n) & random_bits(rng, n) & random_bits(rng, n)
    run = (np.uint32(0x7FFFFF) >> rng.integers(0, 23, n).astype(np.uint32))
    run = np.where(rng.random(n) < 0.5, run, ~run & np.uint32(0x7FFFFF))
    return np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
                     [rand, np.zeros_like(rand), np.full_like(rand, 0x7FFFFF), one, few],
                     run).astype(np.uint32)


def structured(rng, n, exps=None):
    """Random sign, an exponent field weighted towards the edges (0, 1, 2, 253, 254, 255, and
    around the bias), and a patterned fraction."""
    if exps is None:
        pick = rng.integers(0, 4, n)
        edge = rng.choice(np.array([0, 0, 1, 2, 253, 254, 255, 126, 127, 128]), n)
        exps = np.where(pick == 0, rng.integers(0, 256, n), edge)
        exps = np.where(pick == 1, rng.integers(100, 155, n), exps)
    sign = rng.integers(0, 2, n).astype(np.uint32) << 31
    return sign | (np.asarray(exps).astype(np.uint32) << 23) | fraction_patterns(rng, n)


def with_exponent(bits, exps):
    """`bits` with the exponent field replaced (clipped to 0..255)."""
    exps = np.clip(exps, 0, 255).astype(np.uint32)
    return (bits & np.uint32(0x807FFFFF)) | (exps << 23)


def pairs_of(values):
    a, b = np.meshgrid(values, values)
    return a.ravel(), b.ravel()


def odd_significand(rng, n, max_bits=24):
    bits = rng.integers(1, max_bits + 1, n)
    v = rng.integers(0, 1 << 24, n) | 1
    v = v & ((1 << bits) - 1) | 1
    return v | (1 << (bits - 1)), bits


def scaled(values, exps):
    """float32 bits of values * 2**exps where exact (values < 2**24); others replaced by +1."""
    with np.errstate(all="ignore"):
        x = np.ldexp(values.astype(np.float64), exps)
        y = x.astype(np.float32)
    ok = (y.astype(np.float64) == x) & np.isfinite(y) & (y != 0)
    return np.where(ok, y.view(np.uint32), np.uint32(0x3F800000)).astype(np.uint32)


def with_specials(rng, parts, m):
    """`parts` (pairs of operand arrays) and m pairs of specials against random and structured
    operands, either order, joined into two arrays."""
    s = rng.choice(SPECIALS, m)
    o = np.where(rng.random(m) < 0.5, random_bits(rng, m), structured(rng, m))
    swap = rng.random(m) < 0.5
    parts = parts + [(np.where(swap, s, o), np.where(swap, o, s))]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


# -- multiplier ---------------------------------------------------------------------------------

def mul_corners(rng, n):
    """n operand pairs aimed at the multiplier's edges."""
    parts = []
    k = n // 6
    # products aimed at a target (largest finite, the overflow threshold, the smallest normal,
    # the smallest subnormal and half of it): b = target / a, then nudged by -2..2 ulps
    targets = np.array([float(np.finfo(np.float32).max), 2.0 ** 128 - 2.0 ** 103, 2.0 ** -126,
                        2.0 ** -126 - 2.0 ** -150, 2.0 ** -149, 2.0 ** -150, 1.0])
    a = structured(rng, k, exps=rng.integers(1, 255, k)) & ~SIGN
    with np.errstate(all="ignore"):
        b = (rng.choice(targets, k) / f32(a).astype(np.float64)).astype(np.float32)
    b = b.view(np.uint32) + rng.integers(-2, 3, k).astype(np.uint32)
    b = np.where((b >> 23 & 0xFF) == 0xFF, np.uint32(0x3F800000), b)  # stay finite
    signs = rng.integers(0, 2, (2, k)).astype(np.uint32) << 31
    parts.append((a | signs[0], (b & ~SIGN) | signs[1]))
    # random classes with the product's exponent near the subnormal boundary, deep underflow,
    # and the overflow edge: pick a, then b's exponent so that ea + eb - 127 is in range
    a = structured(rng, k)
    target = rng.choice(np.array([-25, -24, -23, -2, -1, 0, 1, 2, 253, 254, 255, 256]), k)
    target = target + rng.integers(-1, 2, k)
    ea = (a >> 23 & 0xFF).astype(np.int64)
    b = with_exponent(structured(rng, k), target - ea + 127)
    parts.append((a, b))
    # exact ties: odd significands whose product has 25 significant bits, and products that
    # are odd multiples of 2**-150 (half the smallest subnormal), at random scales
    p, pb = odd_significand(rng, k, 13)
    q, qb = odd_significand(rng, k, 13)
    prod_bits = np.array([int(x).bit_length() for x in (p * q)])
    ep = rng.integers(-20, 20, k)
    eq_tie = 24 - prod_bits + rng.integers(-140, 128, k) - ep   # normal-range ties
    eq_sub = -150 - ep + rng.integers(-3, 3, k)                 # ties at subnormal quanta
    eq = np.where(rng.random(k) < 0.5, eq_tie, eq_sub)
    parts.append((scaled(p, ep), scaled(q, eq)))
    # subnormal times large normals (products back in the normal range), both orders
    sub = structured(rng, k, exps=np.zeros(k, dtype=np.int64))
    big = structured(rng, k, exps=rng.integers(120, 255, k))
    swap = rng.random(k) < 0.5
    parts.append((np.where(swap, sub, big), np.where(swap, big, sub)))
    # everything structured against everything structured
    parts.append((structured(rng, k), structured(rng, k)))
    return with_specials(rng, parts, n - 5 * k)


# -- adder --------------------------------------------------------------------------------------

def add_corners(rng, n):
    """n operand pairs aimed at the adder's edges."""
    parts = []
    k = n // 6
    # exponent differences 0..30 and beyond, either order, random signs
    a = structured(rng, k, exps=rng.integers(1, 255, k))
    d = np.where(rng.random(k) < 0.8, rng.integers(0, 31, k), rng.integers(0, 255, k))
    b = with_exponent(structured(rng, k), (a >> 23 & 0xFF).astype(np.int64) - d)
    swap = rng.random(k) < 0.5
    parts.append((np.where(swap, a, b), np.where(swap, b, a)))
    # massive cancellation: b = -(a with its low bits changed), same or adjacent exponent
    a = structured(rng, k)
    flip = random_bits(rng, k) & (np.uint32(0xFFFFFFFF) >> rng.integers(9, 33, k).astype(np.uint32))
    b = (a ^ flip) ^ SIGN
    b = np.where(rng.random(k) < 0.2,
                 with_exponent(b, (b >> 23 & 0xFF).astype(np.int64) + rng.integers(-1, 2, k)), b)
    parts.append((a, b))
    # exact ties: b is an odd multiple of half a's ulp (or of a smaller power), exponents all over
    ea = rng.integers(-149, 128, k)
    p, _ = odd_significand(rng, k, 24)
    a = scaled(p, ea - 23)
    q, qb = odd_significand(rng, k, 4)
    b = scaled(q, ea - 24 - rng.integers(0, 3, k) - qb + 1)
    b = b ^ (rng.integers(0, 2, k).astype(np.uint32) << 31)
    parts.append((a, b))
    # subnormals and the smallest normals, mixed signs
    e = rng.choice(np.array([0, 0, 1, 2]), (2, k))
    parts.append((structured(rng, k, exps=e[0]), structured(rng, k, exps=e[1])))
    # the overflow edge: large exponents, sums that round to the largest finite or Inf (an
    # exponent difference of about 24 puts b at half an ulp of a)
    e = rng.integers(250, 255, (2, k))
    near_half_ulp = rng.random(k) < 0.5
    e[0] = np.where(near_half_ulp, 254, e[0])
    e[1] = np.where(near_half_ulp, 254 - rng.integers(22, 27, k), e[1])
    a = structured(rng, k, exps=e[0]) & ~SIGN
    b = structured(rng, k, exps=e[1]) & ~SIGN
    neg = (rng.random(k) < 0.5).astype(np.uint32) << 31
    parts.append((a | neg, b | neg))
    return with_specials(rng, parts, n - 5 * k)


def binary_operands(unit, rng, n, random_share=0.3):
    """n operand pairs for "mul" or "add": all pairs of SPECIALS first (when n allows), then
    random bit patterns (`random_share`) and the unit's corners, shuffled."""
    sa, sb = pairs_of(SPECIALS)
    sa, sb = sa[:n], sb[:n]
    rest = n - len(sa)
    nr = int(rest * random_share)
    corners = mul_corners if unit == "mul" else add_corners
    ca, cb = corners(rng, rest - nr)
    a = np.concatenate([random_bits(rng, nr), ca])
    b = np.concatenate([random_bits(rng, nr), cb])
    order = rng.permutation(len(a))
    return (np.concatenate([sa, a[order]]).astype(np.uint32),
            np.concatenate([sb, b[order]]).astype(np.uint32))


def reference(unit, a, b):
    with np.errstate(all="ignore"):
        op = np.multiply if unit == "mul" else np.add
        return op(f32(a), f32(b)).view(np.uint32)


# -- int converter ------------------------------------------------------------------------------

def from_int_operands(rng, n, width, exp_bits):
    """n (value, exp) pairs: values of every bit length (extremes, 0, +-1 included) and
    exponents that put the result at the overflow edge, around the smallest normal and
    subnormal, just above zero, at exact ties, and anywhere in the exponent's range."""
    lo_v, hi_v = -(1 << (width - 1)), (1 << (width - 1)) - 1
    lo_e, hi_e = -(1 << (exp_bits - 1)), (1 << (exp_bits - 1)) - 1
    bits = rng.integers(0, width, n)                       # magnitude bit length - 1
    mag = rng.integers(0, 1 << 62, n, dtype=np.int64) >> (62 - bits)
    mag |= np.int64(1) << bits
    kind = rng.integers(0, 8, n)
    # runs of ones (round-up carries) and single top bits (exact powers of two)
    mag = np.where(kind == 0, (np.int64(1) << (bits + 1)) - 1, mag)
    mag = np.where(kind == 1, np.int64(1) << bits, mag)
    value = np.where(rng.random(n) < 0.5, -mag, mag)
    value = np.clip(value, lo_v, hi_v)
    fixed = np.clip(np.array([0, 1, -1, lo_v, hi_v, lo_v + 1, 2, -2], dtype=np.int64), lo_v, hi_v)
    value[:min(n, 64)] = np.resize(fixed, min(n, 64))
    top = np.maximum(np.frexp(np.abs(value).astype(np.float64))[1] - 1, 0)   # exact: < 2**53
    # result exponent (of the top bit) targets: overflow edge 127/128, smallest normal -126,
    # subnormals -149..-127, below -149, and anywhere
    target = rng.choice(np.array([127, 128, 126, -126, -127, -125, -149, -150, -151, -140, -130,
                                  0, 23, 24]), n) + rng.integers(-2, 3, n)
    exp = target - top
    exp = np.where(kind >= 6, rng.integers(lo_e, hi_e + 1, n), exp)
    exp = np.where(kind == 5, rng.choice(np.array([lo_e, hi_e, 0]), n), exp)
    exp = np.clip(exp, lo_e, hi_e)
    return value.astype(np.int64), exp.astype(np.int64)


def from_int_reference(value, exp):
    return ldexp_f64(value, exp)


# -- checking -----------------------------------------------------------------------------------

def mismatches(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Indices where `got` is wrong: a NaN reference needs exactly 0x7FC00000, anything else the
    same bits."""
    want_nan = np.isnan(f32(want))
    return np.flatnonzero(np.where(want_nan, got != QNAN, got != want))


def describe(unit, ops, got, want, index):
    """One failing operation, operands and results in hex and as floats."""
    parts = ", ".join(f"{name}={int(v[index]):#x}" if name in ("a", "b")
                      else f"{name}={int(v[index])}" for name, v in ops.items())
    vals = ", ".join(f"{name}={f32(np.array([v[index]], dtype=np.uint32))[0]!r}"
                     for name, v in ops.items() if name in ("a", "b"))
    return (f"{unit}({parts}) [{vals}] = {int(got[index]):#010x}, want {int(want[index]):#010x}"
            f" ({f32(np.array([want[index]], dtype=np.uint32))[0]!r})")


# -- coverage -----------------------------------------------------------------------------------

def _classes(bits):
    e = bits >> 23 & 0xFF
    frac = bits & 0x7FFFFF
    return {"zero": (e == 0) & (frac == 0), "subnormal": (e == 0) & (frac != 0),
            "normal": (e != 0) & (e != 0xFF), "inf": (e == 0xFF) & (frac == 0),
            "nan": (e == 0xFF) & (frac != 0)}


def _ties(exact: np.ndarray) -> np.ndarray:
    """Where the float64 value `exact` lies exactly halfway between two binary32 values."""
    with np.errstate(all="ignore"):
        r = exact.astype(np.float32)
        other = np.nextafter(r, np.where(exact > r.astype(np.float64), np.float32(np.inf),
                                         np.float32(-np.inf)))
        r64, o64 = r.astype(np.float64), other.astype(np.float64)
        return np.isfinite(exact) & (r64 != exact) & np.isfinite(o64) & \
            (exact - r64 == o64 - exact)


def coverage(unit, ops, want) -> dict:
    """How many operations hit each corner: result classes, negative zeros, exact ties (decided
    by RNE), results that round up across the subnormal/normal boundary and overflow, and for the
    adder massive cancellation. Printed by the tests so a weak operand mix shows."""
    cls = _classes(want)
    cov = {f"result_{k}": int(v.sum()) for k, v in cls.items()}
    cov["result_neg_zero"] = int((want == SIGN).sum())
    if unit in ("mul", "add"):
        a, b = ops["a"], ops["b"]
        for name, x in (("a", a), ("b", b)):
            for k, v in _classes(x).items():
                cov[f"{name}_{k}"] = int(v.sum())
        with np.errstate(all="ignore"):
            fa, fb = f32(a).astype(np.float64), f32(b).astype(np.float64)
            exact = fa * fb if unit == "mul" else fa + fb   # exact in float64 where used below
        finite = np.isfinite(fa) & np.isfinite(fb)
        if unit == "add":
            ea = (a >> 23 & 0xFF).astype(np.int64)
            eb = (b >> 23 & 0xFF).astype(np.int64)
            finite &= np.abs(np.maximum(ea, 1) - np.maximum(eb, 1)) <= 29
            ew = (want >> 23 & 0xFF).astype(np.int64)
            cov["massive_cancellation"] = int((finite & (np.maximum(ea, eb) - ew >= 2)
                                               & ((a ^ b) >> 31 == 1)).sum())
            cov["exact_zero_sum"] = int((finite & (exact == 0)).sum())
        cov["ties"] = int((finite & _ties(np.where(finite, exact, 0.0))).sum())
        mag_exact = np.abs(np.where(finite, exact, 0.0))
        cov["round_up_to_min_normal"] = int((finite & (mag_exact < 2.0 ** -126)
                                             & ((want & ~SIGN) == 0x00800000)).sum())
        cov["overflow_to_inf"] = int((finite & (mag_exact >= 2.0 ** 128 - 2.0 ** 103)
                                      & cls["inf"]).sum())
        cov["round_to_max_finite"] = int((finite & ((want & ~SIGN) == 0x7F7FFFFF)
                                          & (mag_exact > float(np.finfo(np.float32).max))).sum())
    else:
        v, e = ops["value"], ops["exp"]
        with np.errstate(all="ignore"):
            exact = np.ldexp(v.astype(np.float64), e.astype(np.int64))
        cov["ties"] = int(_ties(exact).sum())
        cov["underflow_to_zero"] = int(((v != 0) & cls["zero"]).sum())
        cov["overflow_to_inf"] = int(cls["inf"].sum())
    return cov
