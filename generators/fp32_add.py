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
in the accumulation loop of the block-floating-point engine, where each stage costs one more
interleaved partial sum, so it has as few stages as keep each one about as deep as the
multiplier's:
  1. after the magnitude comparison and swap: both significands, x's exponent, the clamped
     exponent difference, the effective operation, the signs and the special-case class.
  2. after alignment and the 28-bit add or subtract: the raw sum.
  3. output register, after normalisation, rounding and the specials.
"""
from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fp_formats import INF, QNAN, normalise, round_pack

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
        # both differences at once, then pick: the comparison and the subtractions run in parallel
        d_ab = Signal(signed(9))
        d_ba = Signal(signed(9))
        m.d.comb += [d_ab.eq(ea_eff - eb_eff), d_ba.eq(eb_eff - ea_eff)]
        diff = Mux(a_big, d_ab, d_ba)      # >= 0

        s1_mx = Signal(24)
        s1_my = Signal(24)
        s1_ex = Signal(8)                   # x's effective exponent (1..254)
        s1_diff = Signal(range(DIFF_MAX + 1))
        s1_sub = Signal()
        s1_sign = Signal()                  # sign of a non-zero result: x's
        s1_zero_sign = Signal()             # sign of an exact zero result: -0 only for -0 + -0
        s1_nan = Signal()
        s1_inf = Signal()
        with m.If(en):
            m.d.sync += [
                s1_mx.eq(Mux(a_big, Cat(a[0:23], ea != 0), Cat(b[0:23], eb != 0))),
                s1_my.eq(Mux(a_big, Cat(b[0:23], eb != 0), Cat(a[0:23], ea != 0))),
                s1_ex.eq(Mux(a_big, ea_eff, eb_eff)),
                s1_diff.eq(Mux(diff > DIFF_MAX, DIFF_MAX, diff)),
                s1_sub.eq(a[31] ^ b[31]),
                s1_sign.eq(Mux(a_big, a[31], b[31])),
                s1_zero_sign.eq(a[31] & b[31]),
                s1_nan.eq(a_nan | b_nan | (a_inf & b_inf & (a[31] ^ b[31]))),
                # Inf + finite or Inf + Inf of one sign: Inf is the larger magnitude, x's sign
                s1_inf.eq(a_inf | b_inf),
            ]

        # -- stage 2: align y, add or subtract -------------------------------------------------
        placed_y = Cat(Const(0, DIFF_MAX + 3), s1_my)          # y with room to shift right
        shifted = Signal(len(placed_y))
        m.d.comb += shifted.eq(placed_y >> s1_diff)
        # the aligned y: 24 bits, guard, round, and the sticky OR of everything below (nothing
        # falls off the bottom: y sits DIFF_MAX + 3 bits up)
        low = len(placed_y) - ALIGN + 1
        my_aligned = Cat(shifted[:low].any(), shifted[low:])
        mx_aligned = Cat(Const(0, 3), s1_mx)
        s2_sum = Signal(ALIGN + 1)
        s2_ex = Signal(8)
        s2_sign = Signal()
        s2_zero_sign = Signal()
        s2_nan = Signal()
        s2_inf = Signal()
        with m.If(en):
            m.d.sync += [
                s2_sum.eq(Mux(s1_sub, mx_aligned - my_aligned, mx_aligned + my_aligned)),
                s2_ex.eq(s1_ex), s2_sign.eq(s1_sign), s2_zero_sign.eq(s1_zero_sign),
                s2_nan.eq(s1_nan), s2_inf.eq(s1_inf),
            ]

        # -- stage 3: normalise, round, pack ---------------------------------------------------
        # sum bit 26 is x's hidden-bit position (exponent ex), so bit 27 has exponent ex + 1 >= 2:
        # the normaliser never has to shift right (no underflow below the subnormal scale here).
        nrm = normalise(m, s2_sum, s2_ex + 1, underflow_shift=False, prefix="add_norm")
        mag = round_pack(m, nrm, prefix="add_round")
        exact_zero = s2_sum == 0
        with m.If(en):
            m.d.sync += self.result.eq(
                Mux(s2_nan, QNAN,
                    Cat(Mux(s2_inf, INF, mag), Mux(exact_zero, s2_zero_sign, s2_sign))))
        return m
