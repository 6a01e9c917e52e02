"""Signed integer times a power of two -> IEEE 754 binary32, rounded once, pipelined.

result = binary32(value * 2**exp): the exact real value rounded once to nearest, ties to even;
into the subnormal range when small (gradual underflow, down to a signed zero: -1 * 2**-200 is
-0), +-Inf on overflow, value 0 -> +0. This is llama.cpp's MXINT8 `ldexpf((float)sumi, e)` for
|value| < 2**24 (where (float)sumi is exact) and, with exp = 0, an int -> float conversion
(correctly rounded also beyond 2**24). No NaN can come out (the canonical quiet NaN 0x7FC00000 of
the other binary32 units has no source here: an MXINT8 NaN scale must be handled by the caller).

Pipeline (LATENCY = 2; both registers load only when `en` is high; no valid bit):
  1. normalise register: magnitude, leading-zero count, one shift (left to normalise, right into
     the subnormal range) with guard and sticky bits, the exponent field and overflow.
  2. output register: round to nearest even and pack.
"""
from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fp_formats import fp16_to_fp32, normalise, round_pack  # noqa: F401 (fp16_to_fp32: re-export)
from .params import Param, resolve


class Fp32FromInt(wiring.Component):
    BLOCK = "fp32_from_int"
    SUMMARY = "signed integer * 2**exp -> IEEE 754 binary32, rounded once (RNE), 2-stage pipeline"
    PARAMS = (
        Param("width", 21, "signed integer width of `value`", 2, 32),
        Param("exp_bits", 10, "signed width of the power-of-two exponent `exp`", 2, 16),
    )
    LATENCY = 2

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
        w = self.width
        sign = self.value[w - 1]
        # |value| fits w unsigned bits (|-2**(w-1)| = 2**(w-1))
        mag = Signal(w)
        m.d.comb += mag.eq(Mux(sign, -self.value, self.value))
        # at least 26 bits for the normaliser (24 + guard + sticky): pad below, which scales
        # nothing since e0 names the top bit
        mant = Cat(Const(0, 26 - w), mag) if w < 26 else mag
        # the top bit of `value` has weight 2**(w - 1 + exp): biased exponent exp + 127 + w - 1
        e0 = Signal(signed(max(self.exp_bits, 9) + 2))
        m.d.comb += e0.eq(self.exp + (127 + w - 1))
        nrm = normalise(m, mant, e0, prefix="cvt_norm")
        s1 = [Signal.like(v, name=f"s1_{v.name.removeprefix('cvt_norm_')}") for v in nrm.fields()]
        s1_sign = Signal()
        with m.If(self.en):
            m.d.sync += [r.eq(v) for r, v in zip(s1, nrm.fields())]
            m.d.sync += s1_sign.eq(sign)
        mag_out = round_pack(m, type(nrm)(*s1), prefix="cvt_round")
        with m.If(self.en):
            m.d.sync += self.result.eq(Cat(mag_out, s1_sign))
        return m
