"""Test harness for the binary32 units: `copies` parallel instances of one unit behind wide
concatenated ports, so that one simulated cycle checks `copies` operations and the Python work
per cycle (a few signal writes, one read, one await) is shared by all of them.

Ports (copy i owns slice i of each; all copies share `en`):
  mul, add:  a, b: In(32 * copies)            result: Out(32 * copies)
  from_int:  value: In(32 * copies), exp: In(16 * copies): copy i takes the low `width` / `exp_bits`
             bits of its 32-/16-bit lane (byte-aligned lanes pack straight from NumPy int32/int16)
  en: In(1)
LATENCY is the unit's.
"""
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from llmaccel.generators.fp32_add import Fp32Adder
from llmaccel.generators.fp32_from_int import Fp32FromInt
from llmaccel.generators.fp32_mul import Fp32Multiplier

UNITS = {"mul": Fp32Multiplier, "add": Fp32Adder, "from_int": Fp32FromInt}


class Fp32Harness(wiring.Component):
    def __init__(self, unit: str = "mul", copies: int = 8, **unit_params):
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
        self.unit, self.copies, self.unit_params = unit, copies, unit_params
        self.units = [UNITS[unit](**unit_params) for _ in range(copies)]
        self.LATENCY = UNITS[unit].LATENCY
        if unit == "from_int":
            ports = {"value": In(32 * copies), "exp": In(16 * copies)}
        else:
            ports = {"a": In(32 * copies), "b": In(32 * copies)}
        super().__init__({**ports, "en": In(1), "result": Out(32 * copies)})

    def module_name(self) -> str:
        extra = "".join(f"_{k}{v}" for k, v in sorted(self.unit_params.items()))
        return f"llmaccel_fp32_harness_{self.unit}_x{self.copies}{extra}"

    def elaborate(self, platform):
        m = Module()
        for i, u in enumerate(self.units):
            m.submodules[f"u{i}"] = u
            if self.unit == "from_int":
                m.d.comb += [u.value.eq(self.value[32 * i:32 * i + u.width]),
                             u.exp.eq(self.exp[16 * i:16 * i + u.exp_bits])]
            else:
                m.d.comb += [u.a.eq(self.a[32 * i:32 * (i + 1)]),
                             u.b.eq(self.b[32 * i:32 * (i + 1)])]
            m.d.comb += [u.en.eq(self.en), self.result[32 * i:32 * (i + 1)].eq(u.result)]
        return m
