"""IEEE 754 binary16/binary32 building blocks shared by the binary32 units (fp32_mul, fp32_add,
fp32_from_int): the canonical NaN, exact binary16 -> binary32 widening, a leading-zero counter,
and the steps every unit ends with: normalise (shift_plan, capped_leading_zeros, place) and
round to nearest even (round_pack).

Why shared: the multiplier, the adder and the int converter all end with "an unsigned integer
significand M and the biased exponent of its top bit -> a correctly rounded binary32", and one
implementation of that (with gradual underflow and overflow to Inf) is one thing to get right.
Why in pieces: each unit registers between them where its pipeline needs it (the exponent-only
shift_plan one stage ahead of the significand, the count and the shift in one stage or two).

NaN policy of every unit: any NaN result is the canonical quiet NaN 0x7FC00000, whatever the
operands' payloads or signs (IEEE 754 leaves NaN payloads open; x86 SSE would give 0xFFC00000 for
an invalid operation and propagate payloads otherwise).
"""
from amaranth import Cat, Const, Mux, Signal, Value, signed

QNAN = 0x7FC00000   # canonical quiet NaN: sign 0, exponent all ones, only the quiet bit set
INF = 0x7F800000    # +Inf; -Inf is INF | 1 << 31
FRAC_BITS = 23
EXP_MAX = 255
RIGHT_MAX = 25      # right shifts into the subnormal range beyond this only feed the sticky bit


def leading_zeros(v: Value) -> Value:
    """Leading zeros of the unsigned value `v` (len(v) when v == 0), as a pure expression.

    A radix-4 tree (radix 2 where the width asks for it): each node takes the count of its first
    non-zero quarter from the top and puts the quarter's index above it. A 4-way priority pick is
    a function of few inputs, so each level is about two LUT6 levels; a radix-2 tree of 2:1
    multiplexers came out almost twice as deep after ABC. `v` is padded at the bottom with ones
    to a power of two wider than itself, so an all-zero `v` counts exactly len(v)."""
    n = len(v)
    size = 2
    while size < n + 1:
        size *= 2
    padded = Cat(Const((1 << (size - n)) - 1, size - n), v)

    def tree(x):
        # (all zero, leading-zero count of x when not all zero, log2(len(x)) bits)
        if len(x) == 1:
            return ~x[0], Const(0, 0)
        k = 4 if len(x) >= 4 and (len(x) // 4) & (len(x) // 4 - 1) == 0 else 2
        part = len(x) // k
        bits = k.bit_length() - 1
        # parts from the top: part i covers x[len - (i + 1) * part : len - i * part]
        kids = [tree(x[len(x) - (i + 1) * part:len(x) - i * part]) for i in range(k)]
        count = Cat(kids[k - 1][1], Const(k - 1, bits))
        for i in reversed(range(k - 1)):
            count = Mux(kids[i][0], count, Cat(kids[i][1], Const(i, bits)))
        zero = kids[0][0]
        for z, _ in kids[1:]:
            zero = zero & z
        return zero, count

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

    def registered(self, m, en, prefix):
        """A copy of these fields in registers that load when `en` is high."""
        regs = [Signal.like(v, name=f"{prefix}_{name}") for v, name in
                zip(self.fields(), ("frac", "guard", "sticky", "field", "overflow"))]
        with m.If(en):
            m.d.sync += [r.eq(v) for r, v in zip(regs, self.fields())]
        return Normalised(*regs)


def shift_plan(m, e0: Value, n: int, *, underflow: bool = True, prefix: str = "plan"):
    """What the normaliser needs from the exponent alone, so a pipeline can work it out one stage
    ahead of the significand and keep it off the significand's path.

    `e0` (signed) is the biased binary32 exponent of bit n - 1 of an n-bit significand M:
    value = M * 2**(e0 - 127 - (n - 1)). Normalising shifts M left by its leading zeros, but by
    no more than e0 - 1 (exponent 1 is the subnormal scale: gradual underflow). Returns
      marker: n bits, one-hot at position n - e0 (or at the top for e0 <= 1, none for e0 > n):
              leading_zeros(M | marker) = min(leading_zeros(M), e0 - 1), the cap costs no adder
              or comparator after the count;
      right:  for e0 < 1, the right shift 1 - e0 into the subnormal range, capped at 25 (from
              there everything is below the guard bit and rounds to zero); None if `underflow`
              is False (the caller knows e0 >= 1).
    Adds comb statements to `m` (call it outside conditional blocks)."""
    e0 = Value.cast(e0)
    marker = Signal(n, name=f"{prefix}_marker")
    m.d.comb += marker.eq(Cat(*[e0 == n - p for p in range(n - 1)], e0 <= 1))
    if not underflow:
        return marker, None
    right = Signal(range(RIGHT_MAX + 1), name=f"{prefix}_right")
    m.d.comb += right.eq(Mux(e0 >= 1, 0, Mux(e0 <= 1 - RIGHT_MAX, RIGHT_MAX, 1 - e0)))
    return marker, right


def capped_leading_zeros(mant: Value, marker: Value) -> Value:
    """The left shift that normalises `mant` without going below exponent 1 (see shift_plan)."""
    return leading_zeros(mant | marker)


def place(m, mant: Value, e0: Value, lz: Value, right: Value | None = None, *,
          prefix: str = "place") -> Normalised:
    """Shift the unsigned significand `mant` (n >= 26 bits) into place for rounding to binary32.

    `lz` is capped_leading_zeros(mant, marker) and `right` the right shift, both from
    shift_plan(e0): the significand is shifted left by lz (nothing is lost) or, when `right` is
    non-zero (then lz is 0), right by `right`, the bits shifted out feeding the sticky bit.
    Adds comb statements to `m` (call it outside conditional blocks)."""
    n = len(mant)
    assert n >= 26, "mant needs 24 significand bits, a guard bit and one sticky bit"
    e0 = Value.cast(e0)
    lz = Value.cast(lz)
    # Only the top 25 bits of the shifted significand are kept (24 significand bits and the guard
    # bit); the sticky bit comes straight from `mant` under a mask decoded from the shift amount,
    # beside the shifter rather than after it.
    window = Signal(25, name=f"{prefix}_window")
    if right is None:
        m.d.comb += window.eq((mant << lz)[n - 25:n])   # lz <= leading zeros: nothing lost
        # mant bit j lands below the guard bit when j + lz < n - 25
        sticky_bits = (mant[:n - 25] & Cat(*[lz < n - 25 - j for j in range(n - 25)])).any()
    else:
        # One shifter for both directions: `mant` placed `base` bits up and shifted left by
        # base + lz or base - right. base is the power of two just above lz's range, so
        # base + lz is lz with a one on top and the amount costs one multiplexer, no adder.
        right = Value.cast(right)
        base = 1 << len(lz)
        assert base > RIGHT_MAX
        amount = Signal(range(base + n + 1), name=f"{prefix}_amount")
        m.d.comb += amount.eq(Mux(right != 0, base - right, Cat(lz, Const(1, 1))))
        guard_at = base + n - 25                         # the guard bit's position
        m.d.comb += window.eq((mant << amount)[guard_at:guard_at + 25])
        # mant bit j lands below the guard bit when j + amount < guard_at
        sticky_bits = (mant & Cat(*[amount < guard_at - j for j in range(n)])).any()
    frac = Signal(FRAC_BITS, name=f"{prefix}_frac")
    guard = Signal(name=f"{prefix}_guard")
    sticky = Signal(name=f"{prefix}_sticky")
    field = Signal(8, name=f"{prefix}_field")
    overflow = Signal(name=f"{prefix}_overflow")
    exponent = Signal(signed(len(e0) + 1), name=f"{prefix}_exponent")
    top = Signal(name=f"{prefix}_top")
    m.d.comb += [
        top.eq(window[24]),
        frac.eq(window[1:24]),
        guard.eq(window[0]),
        sticky.eq(sticky_bits),
        exponent.eq(e0 - lz),
        # leading one at the top: a normal with exponent e0 - lz (>= 1); else subnormal or zero
        # (the right shift always clears the top bit)
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
