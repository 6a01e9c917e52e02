"""IEEE 754 binary32 adder, pipelined: result = a + b, round to nearest, ties to even.

Full IEEE behaviour except NaN payloads: subnormal operands and results (gradual underflow, no
flush to zero; a sum of subnormals is exact), overflow to +-Inf, Inf + (-Inf) = NaN, Inf + x = Inf.
An exact zero sum is +0, except (-0) + (-0) = -0 (round to nearest). Any NaN result is the
canonical quiet NaN 0x7FC00000 (IEEE leaves payloads open; x86 gives 0xFFC00000 for Inf - Inf).

Datapath (the classic single-path adder): the operand of larger magnitude is x, the other y, so
x - y is never negative and needs no negation; y's significand is aligned to x's exponent with a
guard, a round and a sticky bit (three bits are enough for round-to-nearest: a shift of two or
more loses sticky bits but then x - y needs at most a one-bit left shift; cancellation of more
bits only happens for exponent differences of 0 or 1, where the result is exact); the sum is
normalised by one leading-zero count and one left shift, capped at the subnormal scale, then
rounded.

Pipeline (LATENCY = 3; every register loads only when `en` is high; no valid bit). The adder sits
in the accumulation loop of the block-floating-point engine, where every stage costs one more
interleaved partial sum (or idle cycles for short loops), so it has three stages, split where
each is about as deep as the others (at most 14 logic levels, 8 of them carry-chain):
  1. after the magnitude comparison, the swap and the alignment of y (shift and sticky bit; the
     shift follows from the exponents alone, so it runs beside the 31-bit comparison): x's
     significand, the aligned y, x's exponent, the effective operation, the signs and the
     special-case class.
  2. after the 28-bit add or subtract (one carry chain) and its leading-zero count (capped at the
     subnormal scale by a marker bit decoded from the exponent beside the adder): the raw sum and
     the normalising shift.
  3. output register, after the normalising shift, rounding and the specials.
"""
from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fp_formats import INF, QNAN, capped_leading_zeros, place, round_pack, shift_plan

ALIGN = 27      # 24 significand bits + guard, round, sticky
DIFF_MAX = 31   # exponent differences >= 27 shift y entirely into the sticky bit: 5 bits do


class Fp32Adder(wiring.Component):
    BLOCK = "fp32_add"
    SUMMARY = "IEEE 754 binary32 adder, RNE, subnormals, 3-stage pipeline"
    PARAMS = ()
    LATENCY = 3

    def __init__(self):
        self.params = {}
        super().__init__({"a": In(32), "b": In(32), "en": In(1), "result": Out(32)})

    def elaborate(self, platform):
        m = Module()
        en = self.en
        a, b = self.a, self.b

        # -- stage 1: classify, compare magnitudes, swap ---------------------------------------
        ea, eb = a[23:31], b[23:31]
        a_nan = (ea == 0xFF) & (a[0:23] != 0)
        b_nan = (eb == 0xFF) & (b[0:23] != 0)
        a_inf = (ea == 0xFF) & (a[0:23] == 0)
        b_inf = (eb == 0xFF) & (b[0:23] == 0)
        # The 31 magnitude bits order like the values (same for every exponent class).
        a_big = Signal()
        m.d.comb += a_big.eq(a[0:31] >= b[0:31])
        ea_eff = Mux(ea == 0, 1, ea)        # a subnormal is scaled like exponent 1
        eb_eff = Mux(eb == 0, 1, eb)
        sig_a = Cat(a[0:23], ea != 0)
        sig_b = Cat(b[0:23], eb != 0)
        # The alignment does not wait for the 31-bit comparison: the shift amount and the operand
        # to shift follow from the exponents alone (the operand with the smaller exponent, b on a
        # tie, where the shift is 0). The comparison only decides, for equal exponents, which
        # unshifted significand is subtracted from which.
        d_ab = Signal(signed(9))
        d_ba = Signal(signed(9))
        m.d.comb += [d_ab.eq(ea_eff - eb_eff), d_ba.eq(eb_eff - ea_eff)]
        b_small = ~d_ab[8]                  # ea_eff >= eb_eff: b has the smaller exponent
        diff = Signal(range(DIFF_MAX + 1))  # |ea_eff - eb_eff|, clamped (>= 27: all sticky)
        m.d.comb += diff.eq(Mux(b_small, Mux(d_ab > DIFF_MAX, DIFF_MAX, d_ab),
                                Mux(d_ba > DIFF_MAX, DIFF_MAX, d_ba)))
        small = Mux(b_small, sig_b, sig_a)
        # aligned: 24 bits, guard, round, sticky; bit j of `small` lands at j + 3 - diff and
        # feeds the sticky bit when that is <= 0 (the mask works beside the shifter)
        shifted = Signal(ALIGN - 1)
        m.d.comb += shifted.eq((Cat(Const(0, 3), small) >> diff)[1:])
        lost = (small & Cat(*[diff > j + 2 for j in range(24)])).any()
        equal_exp = ea_eff == eb_eff
        my_aligned = Mux(equal_exp, Mux(a_big, Cat(Const(0, 3), sig_b), Cat(Const(0, 3), sig_a)),
                         Cat(lost, shifted))

        s1_mx = Signal(24)
        s1_my = Signal(ALIGN)               # y aligned: 24 bits, guard, round, sticky
        s1_ex = Signal(8)                   # x's effective exponent (1..254)
        s1_sub = Signal()
        s1_sign = Signal()                  # sign of a non-zero result: x's
        s1_zero_sign = Signal()             # sign of an exact zero result: -0 only for -0 + -0
        s1_nan = Signal()
        s1_inf = Signal()
        with m.If(en):
            m.d.sync += [
                s1_mx.eq(Mux(a_big, sig_a, sig_b)),
                s1_my.eq(my_aligned),
                s1_ex.eq(Mux(a_big, ea_eff, eb_eff)),
                s1_sub.eq(a[31] ^ b[31]),
                s1_sign.eq(Mux(a_big, a[31], b[31])),
                s1_zero_sign.eq(a[31] & b[31]),
                s1_nan.eq(a_nan | b_nan | (a_inf & b_inf & (a[31] ^ b[31]))),
                # Inf + finite or Inf + Inf of one sign: Inf is the larger magnitude, x's sign
                s1_inf.eq(a_inf | b_inf),
            ]

        # -- stage 2: add or subtract, count the leading zeros ---------------------------------
        # sum bit 26 is x's hidden-bit position (exponent ex), so bit 27 has exponent ex + 1 >= 2:
        # the normaliser never shifts right here (no underflow below the subnormal scale).
        mx_aligned = Cat(Const(0, 3), s1_mx)
        total = Signal(ALIGN + 1)
        # one carry chain for both: x - y = x + ~y + 1 in 28 bits (no mux after two adders)
        m.d.comb += total.eq(mx_aligned + (Cat(s1_my, 0) ^ s1_sub.replicate(ALIGN + 1)) + s1_sub)
        e0 = Signal(9)
        m.d.comb += e0.eq(s1_ex + 1)
        marker, _ = shift_plan(m, e0, ALIGN + 1, underflow=False, prefix="add_plan")
        s2_sum = Signal(ALIGN + 1)
        s2_lz = Signal(range(ALIGN + 2))
        s2_e0 = Signal(9)
        s2_sign = Signal()
        s2_zero_sign = Signal()
        s2_nan = Signal()
        s2_inf = Signal()
        with m.If(en):
            m.d.sync += [
                s2_sum.eq(total),
                s2_lz.eq(capped_leading_zeros(total, marker)),
                s2_e0.eq(e0), s2_sign.eq(s1_sign), s2_zero_sign.eq(s1_zero_sign),
                s2_nan.eq(s1_nan), s2_inf.eq(s1_inf),
            ]

        # -- stage 3: normalise, round, pack ---------------------------------------------------
        nrm = place(m, s2_sum, s2_e0, s2_lz, prefix="add_place")
        mag = round_pack(m, nrm, prefix="add_round")
        exact_zero = s2_sum == 0
        with m.If(en):
            m.d.sync += self.result.eq(
                Mux(s2_nan, QNAN,
                    Cat(Mux(s2_inf, INF, mag), Mux(exact_zero, s2_zero_sign, s2_sign))))
        return m
