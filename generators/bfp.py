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
from amaranth import Module
from amaranth.lib import wiring

from llmaccel.golden.register_maps import BFP_ID_VALUE as ID_VALUE, BFP_REGISTERS as REGISTERS
from llmaccel.golden.register_maps import FORMATS

from .axi_lite import AxiLiteRegisters
from .axi_shell import connect_registers, run_control, shell_ports
from .bfp_core import BfpCore, refused_format, refused_k
from .params import resolve

class BfpAccelerator(wiring.Component):
    BLOCK = "bfp"
    SUMMARY = ("llama.cpp Q8_0, Q4_x, Q5_x, Q2_K..Q6_K and MXINT8 matmul, bit-exact with llama.cpp's "
               "scalar reference, AXI4-Lite + AXI4-Stream")
    PARAMS = tuple(p for p in BfpCore.PARAMS if p.name != "streams")   # one AXI4-Stream in
    REGISTERS = REGISTERS
    REGISTER_VALUES = {"format": FORMATS}                      # codes for the C header

    def __init__(self, **params):
        self.params = resolve(self.PARAMS, params)
        self.core = BfpCore(**self.params)
        self.regs = AxiLiteRegisters(REGISTERS)
        super().__init__(shell_ports(self.regs))

    def elaborate(self, platform):
        m = Module()
        core, regs = self.core, self.regs
        m.submodules.core = core
        m.submodules.regs = regs
        connect_registers(m, self, regs)

        p = self.params
        _, start = run_control(m, regs, core.busy, [
            (regs.m == 0) | (regs.m > p["m_max"]),                              # M
            refused_k(regs.k, regs.format, p["k_max"]),                         # K
            (regs.n == 0) | (regs.n >= 1 << BfpCore.N_BITS),                    # N
            refused_format(regs.format, regs.sum_in),                           # FORMAT
        ])
        m.d.comb += [
            core.start.eq(start),
            core.m.eq(regs.m), core.blocks.eq(regs.k >> 5), core.n.eq(regs.n),
            core.fmt.eq(regs.format[:4]), core.sum_in.eq(regs.sum_in),
            regs.id.eq(ID_VALUE),
            regs.params.eq(p["mac_lanes"] | p["out_lanes"] << 8 | p["m_max"] << 16),
            regs.k_max.eq(p["k_max"]),
            # AXI4-Stream in and out
            core.data_in[0].valid.eq(self.s_axis_tvalid),
            core.data_in[0].payload.eq(self.s_axis_tdata),
            self.s_axis_tready.eq(core.data_in[0].ready),
            self.m_axis_tvalid.eq(core.results.valid),
            self.m_axis_tdata.eq(core.results.payload.data),
            self.m_axis_tkeep.eq(core.results.payload.keep),
            self.m_axis_tlast.eq(core.results.payload.last),
            core.results.ready.eq(self.m_axis_tready),
        ]
        return m

