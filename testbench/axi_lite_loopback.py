"""A test harness for the AXI4-Lite register block: an example map whose read-only registers are
computed from its read/write and pulse registers, so that host reads check real values through
the hardware, and the Python model of that map.

Used by the cocotb bench (testbench/cocotb_axi_lite.py, built by test_axi_lite_cocotb.py). The
harness's ports are the `s_axil_*` bus (passed through unchanged) and, for the bench to watch,
the rw values and the pulse register `start` with its strobe.
"""
from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from llmaccel.generators.axi_lite import AxiLiteRegisters, Register, axi_lite_members

MODULE = "llmaccel_axil_loopback"
ADDR_BITS = 8
ID = 0x11ACCE55
OKAY, SLVERR = 0, 2

MAP = (
    Register("ctrl", 0x00, "rw", doc="control word; `sum` reads it plus one", init=0x1),
    Register("scale", 0x04, "rw", 12, doc="`scaled` reads three times it", init=0x123),
    Register("mode", 0x08, "rw", 3, doc="three mode bits", init=0x5),
    Register("sum", 0x10, "ro", doc="ctrl + 1, modulo 2**32"),
    Register("scaled", 0x14, "ro", 14, doc="3 * scale"),
    Register("mixed", 0x18, "ro", 15, doc="mode in bits 14:12, scale in bits 11:0"),
    Register("start", 0x20, "pulse", 8, doc="each write counts in `pulses` and adds to `psum`"),
    Register("pulses", 0x28, "ro", 16, doc="strobes of `start` since reset (wraps)"),
    Register("psum", 0x2C, "ro", doc="sum of the values `start` was written with (wraps)"),
    Register("leak", 0x30, "ro", 1, doc="sticky: `start` was nonzero without its strobe, or the "
                                        "strobe was high two cycles in a row"),
    Register("id", 0x3C, "ro", doc=f"constant {ID:#x}"),
)
# Which registers a read of each computed register depends on.
DEPENDS = {"sum": {"ctrl"}, "scaled": {"scale"}, "mixed": {"mode", "scale"},
           "pulses": {"start"}, "psum": {"start"}}
BY_WORD = {r.offset >> 2: r for r in MAP}


class AxiLiteLoopback(wiring.Component):
    """AxiLiteRegisters(MAP) with its ro registers computed from the rw and pulse ones."""

    def __init__(self):
        members = axi_lite_members(ADDR_BITS)
        for r in MAP:
            if r.access != "ro":
                members[r.name] = Out(r.width)
            if r.access == "pulse":
                members[r.name + "_strobe"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = AxiLiteRegisters(MAP, ADDR_BITS)
        for name, member in axi_lite_members(ADDR_BITS).items():
            if member.flow == wiring.In:
                m.d.comb += getattr(regs, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(regs, name))
        for r in MAP:
            if r.access != "ro":
                m.d.comb += getattr(self, r.name).eq(getattr(regs, r.name))
        m.d.comb += self.start_strobe.eq(regs.start_strobe)

        pulses, psum, leak, strobe_prev = Signal(16), Signal(32), Signal(), Signal()
        m.d.sync += strobe_prev.eq(regs.start_strobe)
        with m.If(regs.start_strobe):
            m.d.sync += [pulses.eq(pulses + 1), psum.eq(psum + regs.start)]
        with m.If((~regs.start_strobe & (regs.start != 0)) | (regs.start_strobe & strobe_prev)):
            m.d.sync += leak.eq(1)
        m.d.comb += [
            regs.sum.eq(regs.ctrl + 1),
            regs.scaled.eq(regs.scale * 3),
            regs.mixed.eq(Cat(regs.scale, regs.mode)),
            regs.pulses.eq(pulses),
            regs.psum.eq(psum),
            regs.leak.eq(leak),
            regs.id.eq(ID),
        ]
        return m


def byte_mask(strb: int) -> int:
    return sum(0xFF << 8 * i for i in range(4) if strb >> i & 1)


class LoopbackModel:
    """The map as the host sees it: what each write does, what each read returns."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.rw = {r.name: r.init for r in MAP if r.access == "rw"}
        self.pulses = self.psum = 0

    def register(self, addr):
        return BY_WORD.get(addr >> 2 & ((1 << ADDR_BITS - 2) - 1))

    def write(self, addr, data, strb) -> int:
        """Apply a write of `data` with byte strobes `strb`; return the expected bresp."""
        r = self.register(addr)
        if r is None or r.access == "ro":
            return SLVERR
        keep = byte_mask(strb) & ((1 << r.width) - 1)
        if r.access == "rw":
            self.rw[r.name] = (self.rw[r.name] & ~keep) | (data & keep)
        else:
            self.pulses = (self.pulses + 1) & 0xFFFF
            self.psum = (self.psum + (data & keep)) & 0xFFFFFFFF
        return OKAY

    def value(self, name):
        rw = self.rw
        return {"sum": (rw.get("ctrl", 0) + 1) & 0xFFFFFFFF, "scaled": 3 * rw.get("scale", 0),
                "mixed": rw.get("mode", 0) << 12 | rw.get("scale", 0), "pulses": self.pulses,
                "psum": self.psum, "leak": 0, "id": ID, "start": 0}.get(name, rw.get(name))

    def read(self, addr) -> tuple[int, int]:
        """(rdata, rresp) of a read of the word at `addr`."""
        r = self.register(addr)
        if r is None:
            return 0, SLVERR
        return self.value(r.name), OKAY
