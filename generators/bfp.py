"""BFP matmul accelerator behind AXI (the `bfp` block): the core (generators/bfp_core.py), an
AXI4-Lite register file (generators/axi_lite.py) and 64-bit AXI4-Stream data in and out, so it drops
into a Zynq block design beside an AXI DMA, as SECDA-LLM's accelerator does.

Use: write M, K, N and FORMAT, write 1 to CTRL (start), then stream X's rows and W's rows in
(golden/bfp_layout.py's layout) and take the results from the output stream (`tlast` on the final
word, `tkeep` = 0x0F when it carries one result). A start with a bad shape or format is refused:
STATUS.error rises, ERROR says why, no data is taken. The input's `tlast` is not needed (the
registers say how many words come) and is ignored. `rst` is synchronous and active high (invert
the Zynq's peripheral_aresetn).
"""
from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .axi_lite import AxiLiteRegisters, Register
from .bfp_core import BfpCore
from .params import resolve
from .top import REGISTERS as CORE_REGISTERS

ID_VALUE = 0x4C4D4201   # "LMB" + interface version 1: a driver checks it before anything else

# The standalone block's map is the core's (generators/top.py, the one map) without the ternary
# engine's registers, under its own ID.
REGISTERS = tuple(r for r in CORE_REGISTERS if r.name in (
    "ctrl", "status", "error", "format", "m", "k", "n", "cycles", "params", "k_max", "sum_in")
) + (Register("id", 0x20, "ro", 32, f"0x{ID_VALUE:08X}: llmaccel BFP accelerator, interface 1"),)


class BfpAccelerator(wiring.Component):
    BLOCK = "bfp"
    SUMMARY = "Q8_0/MXINT8 block-floating-point matmul, bit-exact with llama.cpp, AXI4-Lite + AXI4-Stream"
    PARAMS = BfpCore.PARAMS
    REGISTERS = REGISTERS

    def __init__(self, **params):
        self.params = resolve(self.PARAMS, params)
        self.core = BfpCore(**self.params)
        self.regs = AxiLiteRegisters(REGISTERS)
        axil = {name: member for name, member in self.regs.signature.members.items()
                if name.startswith("s_axil_")}
        super().__init__({
            **axil,
            "s_axis_tdata": In(64), "s_axis_tvalid": In(1), "s_axis_tready": Out(1),
            "s_axis_tlast": In(1),
            "m_axis_tdata": Out(64), "m_axis_tkeep": Out(8), "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1), "m_axis_tlast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        core, regs = self.core, self.regs
        m.submodules.core = core
        m.submodules.regs = regs
        for name, member in regs.signature.members.items():
            if name.startswith("s_axil_"):
                ours, theirs = getattr(self, name), getattr(regs, name)
                m.d.comb += (theirs.eq(ours) if member.flow == In else ours.eq(theirs))

        p = self.params
        bad_m = (regs.m == 0) | (regs.m > p["m_max"])
        bad_k = (regs.k == 0) | (regs.k[:5] != 0) | (regs.k > p["k_max"])
        bad_n = (regs.n == 0) | (regs.n >= 1 << BfpCore.N_BITS)
        bad_fmt = regs.format > 1
        errors = Signal(5)
        done = Signal()
        error = Signal()
        cycles = Signal(32)
        go = regs.ctrl_strobe & regs.ctrl[0] & ~core.busy
        bad = bad_m | bad_k | bad_n | bad_fmt
        with m.If(go):
            m.d.sync += [errors.eq(Cat(bad_m, bad_k, bad_n, bad_fmt)), error.eq(bad), done.eq(0)]
            with m.If(~bad):
                m.d.sync += cycles.eq(0)
        was_busy = Signal()
        m.d.sync += was_busy.eq(core.busy)
        with m.If(core.busy):
            m.d.sync += cycles.eq(cycles + 1)
        with m.If(was_busy & ~core.busy):
            m.d.sync += done.eq(1)
        m.d.comb += [
            core.start.eq(go & ~bad),
            core.m.eq(regs.m), core.blocks.eq(regs.k >> 5), core.n.eq(regs.n),
            core.fmt.eq(regs.format[0]), core.sum_in.eq(regs.sum_in),
            regs.status.eq(Cat(core.busy, done, error)),
            regs.error.eq(errors),
            regs.cycles.eq(cycles),
            regs.id.eq(ID_VALUE),
            regs.params.eq(p["mac_lanes"] | p["out_lanes"] << 8 | p["m_max"] << 16),
            regs.k_max.eq(p["k_max"]),
            # AXI4-Stream in and out
            core.data_in.valid.eq(self.s_axis_tvalid),
            core.data_in.payload.eq(self.s_axis_tdata),
            self.s_axis_tready.eq(core.data_in.ready),
            self.m_axis_tvalid.eq(core.results.valid),
            self.m_axis_tdata.eq(core.results.payload.data),
            self.m_axis_tkeep.eq(core.results.payload.keep),
            self.m_axis_tlast.eq(core.results.payload.last),
            core.results.ready.eq(self.m_axis_tready),
        ]
        return m

