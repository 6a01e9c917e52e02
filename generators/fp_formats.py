"""IEEE 754 binary16/binary32 building blocks shared by the binary32 units (fp32_mul, fp32_add,
fp32_from_int): the canonical NaN, exact binary16 -> binary32 widening, a leading-zero counter,
and the two steps every unit ends with, normalise and round-to-nearest-even.

Why shared: the multiplier, the adder and the int converter all end with "an unsigned integer
significand M and the biased exponent of its top bit -> a correctly rounded binary32", and one
implementation of that (with gradual underflow and overflow to Inf) is one thing to get right.

NaN policy of every unit: any NaN result is the canonical quiet NaN 0x7FC00000, whatever the
operands' payloads or signs (IEEE 754 leaves NaN payloads open; x86 SSE would give 0xFFC00000 for
an invalid operation and propagate payloads otherwise).
"""
from amaranth import Cat, Const, Mux, Signal, Value, signed

QNAN = 0x7FC00000   # canonical quiet NaN: sign 0, exponent all ones, only the quiet bit set
INF = 0x7F800000    # +Inf; -Inf is INF | 1 << 31
FRAC_BITS = 23
EXP_MAX = 255


def leading_zeros(v: Value) -> Value:
    """Leading zeros of the unsigned value `v` (len(v) when v == 0), as a pure expression.

    A tree of log2 levels of 2:1 multiplexers. `v` is padded at the bottom with ones to a power
    of two wider than itself, so no subtree of the padded word is ever all zero where it matters
    and an all-zero `v` counts exactly len(v)."""
    n = len(v)
    size = 2
    while size < n + 1:
        size *= 2
    padded = Cat(Const((1 << (size - n)) - 1, size - n), v)

    def tree(x):
        # (all zero, leading-zero count of x when not all zero), count has log2(len(x)) bits
        if len(x) == 2:
            return ~(x[0] | x[1]), ~x[1]
        half = len(x) // 2
        z_hi, c_hi = tree(x[half:])
        z_lo, c_lo = tree(x[:half])
        return z_hi & z_lo, Mux(z_hi, Cat(c_lo, Const(1, 1)), Cat(c_hi, Const(0, 1)))

    return tree(padded)[1]


def fp16_to_fp32(m, h: Value) -> Value:
    """Exact binary16 -> binary32 widening of the 16-bit value `h`, combinational.

    Normals re-bias the exponent (+112); subnormals (exponent 0, fraction != 0) are normalised
    into binary32 normals (every binary16 value is exact in binary32); +-0 and +-Inf keep their
    sign; any NaN becomes the canonical quiet NaN 0x7FC00000 (the units' NaN policy).

    Returns a pure expression and adds nothing to `m`, so it is safe inside `with m.If(...)`
    blocks (a comb assignment there would be conditional)."""
    h = Value.cast(h)
    sign, e, f = h[15], h[10:15], h[0:10]
    lz = leading_zeros(f)                       # 0..9 for a subnormal's fraction
    # subnormal: f * 2**-24 = 1.xxx * 2**(-15 - lz); drop the leading one by shifting it out
    sub_frac = (f << (lz + 1))[0:10]
    sub_exp = 112 - lz
    zero_or_inf = Cat(Const(0, FRAC_BITS), Mux(e == 0, Const(0, 8), Const(0xFF, 8)), sign)
    normal = Cat(Const(0, 13), f, (e + 112)[0:8], sign)
    subnormal = Cat(Const(0, 13), sub_frac, sub_exp[0:8], sign)
    return Mux(e == 31,
               Mux(f == 0, zero_or_inf, Const(QNAN, 32)),
               Mux(e == 0, Mux(f == 0, zero_or_inf, subnormal), normal))


class Normalised:
    """What `normalise` hands to `round_pack`: the 23 fraction bits after the leading one (or the
    subnormal fraction), the guard bit below them, the sticky OR of everything further down, the
    8-bit exponent field (0 for subnormals and zero) and whether the exponent overflowed."""

    def __init__(self, frac, guard, sticky, field, overflow):
        self.frac, self.guard, self.sticky, self.field, self.overflow = \
            frac, guard, sticky, field, overflow

    def fields(self):
        return [self.frac, self.guard, self.sticky, self.field, self.overflow]


def normalise(m, mant: Value, e0: Value, *, underflow_shift: bool = True,
              prefix: str = "norm") -> Normalised:
    """Place the unsigned significand `mant` (n >= 26 bits) for rounding to binary32.

    `e0` (signed) is the biased binary32 exponent that `mant`'s top bit position carries:
    value = mant * 2**(e0 - 127 - (n - 1)). The leading one is shifted up to the top (at most
    down to exponent 1: below that the result is subnormal, gradual underflow), or, when e0 < 1,
    `mant` is shifted down by 1 - e0 (capped at 25: from there everything is below the guard bit
    and rounds to zero) with the bits shifted out collected into the sticky bit. One shifter does
    both: left by L, or right by R, as a left shift by RMAX + L - R of `mant` placed RMAX bits up.
    `underflow_shift=False` drops the right shift when the caller knows e0 >= 1 (the adder).

    Adds comb statements to `m` (call it outside conditional blocks)."""
    n = len(mant)
    assert n >= 26, "mant needs 24 significand bits, a guard bit and one sticky bit"
    lz = Signal(range(n + 1), name=f"{prefix}_lz")
    m.d.comb += lz.eq(leading_zeros(mant))
    e0 = Value.cast(e0)
    em1 = Signal(signed(len(e0) + 1), name=f"{prefix}_em1")
    m.d.comb += em1.eq(e0 - 1)
    # L: left shift, min(lz, e0 - 1) when e0 >= 1 (no further: exponent 1 is the subnormal scale)
    left = Signal(range(n + 1), name=f"{prefix}_left")
    m.d.comb += left.eq(Mux(em1 < 0, 0, Mux(lz <= em1, lz, em1)))
    if underflow_shift:
        rmax = 25
        right = Signal(range(rmax + 1), name=f"{prefix}_right")
        m.d.comb += right.eq(Mux(em1 >= 0, 0, Mux(-em1 >= rmax, rmax, -em1)))
        shift = Signal(range(rmax + n + 1), name=f"{prefix}_shift")
        m.d.comb += shift.eq(rmax + left - right)
    else:
        rmax = 0
        shift = left
    placed = Signal(rmax + n, name=f"{prefix}_placed")
    m.d.comb += placed.eq(mant << shift)     # bits above rmax + n are zero: left <= lz
    window = placed[rmax:]
    frac = Signal(FRAC_BITS, name=f"{prefix}_frac")
    guard = Signal(name=f"{prefix}_guard")
    sticky = Signal(name=f"{prefix}_sticky")
    field = Signal(8, name=f"{prefix}_field")
    overflow = Signal(name=f"{prefix}_overflow")
    exponent = Signal(signed(len(e0) + 1), name=f"{prefix}_exponent")
    top = window[n - 1]
    m.d.comb += [
        frac.eq(window[n - 24:n - 1]),
        guard.eq(window[n - 25]),
        sticky.eq(placed[:rmax + n - 25].any()),
        exponent.eq(e0 - left),
        # leading one at the top: a normal with exponent e0 - L (>= 1); else subnormal or zero
        field.eq(Mux(top, exponent[0:8], 0)),
        overflow.eq(top & (exponent >= EXP_MAX)),
    ]
    return Normalised(frac, guard, sticky, field, overflow)


def round_pack(m, nrm: Normalised, prefix: str = "round") -> Value:
    """The 31-bit magnitude of the binary32 result, rounded to nearest, ties to even.

    The increment is added to exponent and fraction together: a carry out of the fraction bumps
    the exponent (a subnormal rounding up to the smallest normal, 1.111..1 rounding up to 2.0, the
    largest finite rounding up to Inf, all for free). An exponent already >= 255 is Inf."""
    inc = Signal(name=f"{prefix}_inc")
    mag = Signal(31, name=f"{prefix}_mag")
    m.d.comb += [
        inc.eq(nrm.guard & (nrm.sticky | nrm.frac[0])),
        mag.eq(Mux(nrm.overflow, INF, Cat(nrm.frac, nrm.field) + inc)),
    ]
    return mag
