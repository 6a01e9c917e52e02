"""IEEE 754 binary32 multiplier, pipelined: result = a * b, round to nearest, ties to even.

Full IEEE behaviour except NaN payloads: subnormal operands and results (gradual underflow, no
flush to zero), overflow to +-Inf, Inf * 0 = NaN, Inf * x = +-Inf, exact signed zeros (the sign
of a zero or underflowed product is sign(a) xor sign(b)). Any NaN result is the canonical quiet NaN
0x7FC00000 (NaN operands and Inf * 0 alike); IEEE leaves payloads open, x86 would give 0xFFC00000
for Inf * 0.

Pipeline (LATENCY = 4; every register loads only when `en` is high, there is no valid bit: the
user tracks which outputs are meaningful):
  1. operand register: the 24-bit significands (hidden bit made explicit, subnormals as they are),
     the exponent sum and the special-case class. Placed right before the multiplier so Yosys can
     pack it into the DSP48E1s' A/B input registers.
  2. product register: the raw 48-bit product of the significands (the DSP48E1 P register; the
     `*` is left to Yosys, which splits 24 x 24 over two DSP48E1s). No normalisation of subnormal
     operands before the multiply: one leading-zero count on the product handles them. Beside the
     DSPs, which leave the LUTs idle in this stage, the normalisation is planned from the
     exponent alone (fp_formats.shift_plan: the cap on the left shift, the right shift).
  3. normalise register: leading-zero count of the product, then a left shift to normalise or a
     right shift into the subnormal range; fraction, guard and sticky bits, exponent field.
  4. output register: round to nearest even, overflow, specials.
"""
from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fp_formats import INF, QNAN, capped_leading_zeros, place, round_pack, shift_plan


class Fp32Multiplier(wiring.Component):
    BLOCK = "fp32_mul"
    SUMMARY = "IEEE 754 binary32 multiplier, RNE, subnormals, 4-stage pipeline"
    PARAMS = ()
    LATENCY = 4

    def __init__(self):
        self.params = {}
        super().__init__({"a": In(32), "b": In(32), "en": In(1), "result": Out(32)})

    def elaborate(self, platform):
        m = Module()
        en = self.en

        # -- stage 1: decode -------------------------------------------------------------------
        def decode(x):
            e, f = x[23:31], x[0:23]
            return e, f, e != 0

        ea, fa, norm_a = decode(self.a)
        eb, fb, norm_b = decode(self.b)
        a_nan = (ea == 0xFF) & (fa != 0)
        b_nan = (eb == 0xFF) & (fb != 0)
        a_inf = (ea == 0xFF) & (fa == 0)
        b_inf = (eb == 0xFF) & (fb == 0)
        a_zero = (ea == 0) & (fa == 0)
        b_zero = (eb == 0) & (fb == 0)

        s1_sig_a = Signal(24)
        s1_sig_b = Signal(24)
        s1_e0 = Signal(signed(10))     # biased exponent of the product's bit 47: ea + eb - 126
        s1_sign = Signal()
        s1_nan = Signal()
        s1_inf = Signal()
        with m.If(en):
            m.d.sync += [
                s1_sig_a.eq(Cat(fa, norm_a)),
                s1_sig_b.eq(Cat(fb, norm_b)),
                # a subnormal's exponent is 1 (its significand has no hidden one)
                s1_e0.eq(Mux(norm_a, ea, 1) + Mux(norm_b, eb, 1) - 126),
                s1_sign.eq(self.a[31] ^ self.b[31]),
                s1_nan.eq(a_nan | b_nan | (a_inf & b_zero) | (b_inf & a_zero)),
                s1_inf.eq(a_inf | b_inf),
            ]

        # -- stage 2: multiply; plan the normalisation from the exponent meanwhile -------------
        # value = prod * 2**(ea + eb - 300): the product's bit 47 has biased exponent e0
        marker, right = shift_plan(m, s1_e0, 48, prefix="mul_plan")
        s2_prod = Signal(48)
        s2_e0 = Signal(signed(10))
        s2_marker = Signal(48)
        s2_right = Signal.like(right)
        s2_sign = Signal()
        s2_nan = Signal()
        s2_inf = Signal()
        with m.If(en):
            m.d.sync += [
                s2_prod.eq(s1_sig_a * s1_sig_b),
                s2_e0.eq(s1_e0), s2_marker.eq(marker), s2_right.eq(right),
                s2_sign.eq(s1_sign), s2_nan.eq(s1_nan), s2_inf.eq(s1_inf),
            ]

        # -- stage 3: normalise ----------------------------------------------------------------
        lz = Signal(range(49))
        m.d.comb += lz.eq(capped_leading_zeros(s2_prod, s2_marker))
        nrm = place(m, s2_prod, s2_e0, lz, s2_right, prefix="mul_place")
        s3 = nrm.registered(m, en, "s3")
        s3_sign = Signal()
        s3_nan = Signal()
        s3_inf = Signal()
        with m.If(en):
            m.d.sync += [s3_sign.eq(s2_sign), s3_nan.eq(s2_nan), s3_inf.eq(s2_inf)]

        # -- stage 4: round and pack -----------------------------------------------------------
        mag = round_pack(m, s3, prefix="mul_round")
        with m.If(en):
            m.d.sync += self.result.eq(
                Mux(s3_nan, QNAN, Cat(Mux(s3_inf, INF, mag), s3_sign)))
        return m
