"""Signed integer times a power of two -> IEEE 754 binary32, rounded once, pipelined.

result = binary32(value * 2**exp): the exact real value rounded once to nearest, ties to even;
into the subnormal range when small (gradual underflow, down to a signed zero: -1 * 2**-200 is
-0), +-Inf on overflow, value 0 -> +0. This is llama.cpp's MXINT8 `ldexpf((float)sumi, e)` for
|value| < 2**24 (where (float)sumi is exact) and, with exp = 0, an int -> float conversion
(correctly rounded also beyond 2**24). No NaN can come out (the canonical quiet NaN 0x7FC00000 of
the other binary32 units has no source here: an MXINT8 NaN scale must be handled by the caller).

Pipeline (LATENCY = 3; every register loads only when `en` is high; no valid bit). Three short
stages rather than two long ones: the converter is not in a loop, and in the BFP engine its
result waits for the 4-stage scale multiplier anyway.
  1. magnitude register: |value| (a carry chain), and beside it the normalisation planned from the
     exponent alone (fp_formats.shift_plan: the cap on the left shift, the right shift).
  2. normalise register: leading-zero count, then a left shift to normalise or a right shift into
     the subnormal range; fraction, guard and sticky bits, exponent field, overflow.
  3. output register: round to nearest even and pack.
"""
from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fp_formats import capped_leading_zeros, place, round_pack, shift_plan
from .params import Param, resolve


class Fp32FromInt(wiring.Component):
    BLOCK = "fp32_from_int"
    SUMMARY = "signed integer * 2**exp -> IEEE 754 binary32, rounded once (RNE), 3-stage pipeline"
    PARAMS = (
        Param("width", 21, "signed integer width of `value`", 2, 32),
        Param("exp_bits", 10, "signed width of the power-of-two exponent `exp`", 2, 16),
    )
    LATENCY = 3

    def __init__(self, width: int = 21, exp_bits: int = 10):
        p = resolve(self.PARAMS, {"width": width, "exp_bits": exp_bits})
        self.params = p
        self.width, self.exp_bits = p["width"], p["exp_bits"]
        super().__init__({
            "value": In(signed(self.width)),
            "exp": In(signed(self.exp_bits)),
            "en": In(1),
            "result": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        w, en = self.width, self.en
        n = max(w, 26)      # the normaliser needs 24 + guard + sticky bits: pad below if narrower

        # -- stage 1: magnitude; the normalisation planned from the exponent -------------------
        sign = self.value[w - 1]
        # the top bit of `value` has weight 2**(w - 1 + exp): biased exponent exp + 127 + w - 1
        e0 = Signal(signed(max(self.exp_bits, 9) + 2))
        m.d.comb += e0.eq(self.exp + (127 + w - 1))
        marker, right = shift_plan(m, e0, n, prefix="cvt_plan")
        s1_mag = Signal(w)              # |value| fits w unsigned bits (|-2**(w-1)| = 2**(w-1))
        s1_e0 = Signal.like(e0)
        s1_marker = Signal.like(marker)
        s1_right = Signal.like(right)
        s1_sign = Signal()
        with m.If(en):
            m.d.sync += [
                s1_mag.eq(Mux(sign, -self.value, self.value)),
                s1_e0.eq(e0), s1_marker.eq(marker), s1_right.eq(right), s1_sign.eq(sign),
            ]

        # -- stage 2: normalise ----------------------------------------------------------------
        mant = Cat(Const(0, n - w), s1_mag)      # padding below scales nothing: e0 names the top
        lz = Signal(range(n + 1))
        m.d.comb += lz.eq(capped_leading_zeros(mant, s1_marker))
        s2 = place(m, mant, s1_e0, lz, s1_right, prefix="cvt_place").registered(m, en, "s2")
        s2_sign = Signal()
        with m.If(en):
            m.d.sync += s2_sign.eq(s1_sign)

        # -- stage 3: round and pack -----------------------------------------------------------
        mag = round_pack(m, s2, prefix="cvt_round")
        with m.If(en):
            m.d.sync += self.result.eq(Cat(mag, s2_sign))
        return m
