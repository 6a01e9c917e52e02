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

ID_VALUE = 0x4C4D4201   # "LMB" + interface version 1: a driver checks it before anything else

REGISTERS = (
    Register("ctrl", 0x00, "pulse", 1, "write 1: start a matmul with M, K, N and FORMAT "
             "(ignored while busy)"),
    Register("status", 0x04, "ro", 3, "bit 0 busy; bit 1 done (the last matmul delivered its "
             "last result; cleared by a start); bit 2 error (the last start was refused)"),
    Register("error", 0x08, "ro", 4, "why the last start was refused: bit 0 M is 0 or above "
             "M_MAX; bit 1 K is not a positive multiple of 32 or above K_MAX; bit 2 N is 0 or "
             "above 65535; bit 3 FORMAT is not 0 or 1"),
    Register("format", 0x0C, "rw", 32, "0 Q8_0 (fp16 scale), 1 MXINT8 (E8M0 scale)"),
    Register("m", 0x10, "rw", 32, "M: rows of X (1 .. M_MAX)"),
    Register("k", 0x14, "rw", 32, "K: the dot-product length, a multiple of 32 (32 .. K_MAX)"),
    Register("n", 0x18, "rw", 32, "N: rows of W (1 .. 65535)"),
    Register("cycles", 0x1C, "ro", 32, "clock cycles of the last matmul from its start to its "
             "last result word accepted (counts while busy; wraps)"),
    Register("id", 0x20, "ro", 32, f"0x{ID_VALUE:08X}: llmaccel BFP accelerator, interface 1"),
    Register("params", 0x24, "ro", 32, "bits 7..0 mac_lanes, 15..8 out_lanes, 23..16 M_MAX"),
    Register("k_max", 0x28, "ro", 32, "K_MAX: the largest K"),
    Register("sum_in", 0x2C, "rw", 1, "1: each tile of OUT_LANES rows of W is preceded in the "
             "input stream by its M * OUT_LANES starting sums (float32, one per word), so a K "
             "above K_MAX runs in parts, each continuing the last one's Y bit for bit; 0: sums "
             "start at +0"),
)


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
        errors = Signal(4)
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

