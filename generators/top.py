"""The llmaccel core for the PYNQ-Z1 (the `top` block): the BFP engine (generators/bfp_core.py)
and the ternary LUT engine (generators/ternary.py), each built on the SRAM controller
(generators/sram.py), behind one AXI shell: one AXI4-Lite register file (REGISTERS below: the one
register map the hardware, the C header, the docs and the host driver all come from), `streams`
64-bit AXI4-Stream inputs (s_axis0 ..; one AXI DMA each, each on its own HP port) and one output,
shared by both engines.

Use: write ENGINE (0 BFP, 1 ternary), M, K, N (and FORMAT, SUM_IN for BFP), write 1 to CTRL, then
stream the engine's input and take its results (host/ packs and unpacks both). The inputs are
taken in lock step (a step takes one word of every stream the step uses):
- BFP: golden/bfp_layout.py's words as the `bfp` block takes them, spread as input_streams
  spreads them: X on stream 0, weight row n on stream n % streams, so the engine loads `streams`
  rows of a tile side by side.
- Ternary: the engine's activation beats, then its weight beats (golden/ternary_layout.py), each
  beat as ceil(bits / 64) little-endian 64-bit words, each part's words round robin over the
  streams (golden/top_layout.ternary_input_streams), gathered into beats by
  generators/stream_upsizer.py. Results: the engine's int32 values in its order (row of X, then N
  padded to whole beats of ROWS), two per word (generators/value_packer.py), `tkeep` 0x0F on a
  final word holding one, `tlast` on it.
The core turns M, K, N into the ternary engine's command (passes = ceil(K / (lanes * g)),
words = ceil(N / rows)) with exact multiply-and-shift divisions by those constants.
A start with a bad shape, format or engine is refused: STATUS.error rises, ERROR says why, no
data is taken. `rst` is synchronous and active high (invert the Zynq's peripheral_aresetn).
"""
import dataclasses

import numpy as np
from amaranth import Cat, Const, Module, Mux, ResetInserter, ResetSignal, Signal
from amaranth.lib import wiring

from llmaccel.golden.register_maps import (CORE_ID_VALUE as ID_VALUE, CORE_REGISTERS as REGISTERS,
                                           ENGINES, FORMATS)

from .axi_lite import AxiLiteRegisters
from .axi_shell import connect_registers, run_control, shell_ports
from .bfp_core import BfpCore, refused_format, refused_k
from .params import Param, ParamError, resolve
from .stream_upsizer import StreamUpsizer, WORD_BITS
from .ternary import TernaryAccelerator
from .value_packer import ValuePacker

def _prefixed(params, prefix, skip=(), defaults=None):
    """The engine's parameters under the core's names (`prefix` + name), with the core's own
    `defaults` (by the engine's name) where they differ from the engine's."""
    defaults = defaults or {}
    return tuple(dataclasses.replace(p, name=prefix + p.name,
                                     default=defaults.get(p.name, p.default))
                 for p in params if p.name not in skip)


# The default core: 3 input streams (3 x 64 bits at 100 MHz = 2.4 GB/s, at least the PYNQ-Z1's
# 2.1 GB/s of DDR); the BFP engine's 6 output lanes (2 rows per stream and tile) of 16 int8 MACs
# each (96 MACs on 48 DSP48E1s, two lanes' products on each), whose tiles compute faster than
# their rows stream in every format, Q2_K's 2.6 bits a weight (73 weights a cycle at 3 streams)
# included; K_MAX 8192 for TinyLlama-1.1B's ffn_down (K = 5632) in Q3_K..Q6_K, whose K cannot be
# split; the ternary engine's table builders 2 lanes each, so a pass of SmolLM2's k and v
# projections (64 weight beats, 85 cycles at 3 streams) is not held up by its tables.
DEFAULT_STREAMS = 3
BFP_DEFAULTS = {"mac_lanes": 16, "out_lanes": 6, "k_max": 8192}
TERNARY_DEFAULTS = {"lanes_per_builder": 2}


def divide_by_constant(value, divisor: int, max_value: int):
    """floor(value / divisor) for 0 <= value <= max_value as one multiply and shift, the
    constants checked here for every value in range (an exact division, no divider)."""
    values = np.arange(max_value + 1, dtype=np.int64)
    for shift in range(64):
        mult = -(-(1 << shift) // divisor)
        if max_value * mult < 1 << 62 and np.array_equal((values * mult) >> shift,
                                                        values // divisor):
            return (value * mult) >> shift
    raise ValueError(f"no exact multiply-and-shift for division by {divisor} up to {max_value}")


class LlmAccelerator(wiring.Component):
    BLOCK = "top"
    SUMMARY = "the PYNQ-Z1 core: BFP and ternary engines behind one AXI4-Lite + AXI4-Stream shell"
    PARAMS = ((Param("streams", DEFAULT_STREAMS, "64-bit AXI4-Stream inputs, one AXI DMA each "
                     "(both engines use all)", 1, 4),)
              + _prefixed(BfpCore.PARAMS, "bfp_", skip=("streams",), defaults=BFP_DEFAULTS)
              + _prefixed(TernaryAccelerator.PARAMS, "tern_", skip=("act_bits",),
                          defaults=TERNARY_DEFAULTS))
    REGISTERS = REGISTERS
    REGISTER_VALUES = {"format": FORMATS, "engine": ENGINES}   # codes for the C header

    def __init__(self, **params):
        self.params = p = resolve(self.PARAMS, params)
        self.streams = S = p["streams"]
        try:
            self.bfp = BfpCore(streams=S, **{k[4:]: v for k, v in p.items()
                                             if k.startswith("bfp_")})
        except ParamError as e:
            raise ParamError(f"bfp_{e}") from None
        self.tern = TernaryAccelerator(**{k[5:]: v for k, v in p.items()
                                          if k.startswith("tern_")})
        self.regs = AxiLiteRegisters(REGISTERS)
        self.act_words = -(-self.tern.act_word_bits // WORD_BITS)
        weight_words = -(-self.tern.weight_word_bits // WORD_BITS)
        if S > min(self.act_words, weight_words):
            # A part padded to whole steps would then hold a whole beat of padding.
            raise ParamError(f"streams must be at most the words of the ternary engine's beats "
                             f"({weight_words} per weight beat, {self.act_words} per activation "
                             f"beat), not {S}")
        super().__init__(shell_ports(self.regs, S))

    def elaborate(self, platform):
        m = Module()
        p, regs, bfp, tern = self.params, self.regs, self.bfp, self.tern
        m.submodules.regs = regs
        m.submodules.bfp = bfp
        m.submodules.ternary = tern
        # A start empties the input gearboxes: words a host sent beyond the last run's input
        # (and that the run took in) must not become the start of the next run's beats.
        fresh = Signal()
        S = self.streams
        m.submodules.acts_in = acts_in = ResetInserter(fresh)(
            StreamUpsizer(tern.act_word_bits, S))
        m.submodules.weights_in = weights_in = ResetInserter(fresh)(
            StreamUpsizer(tern.weight_word_bits, S))
        m.submodules.results_out = results_out = ValuePacker(tern.rows)
        connect_registers(m, self, regs)

        # ---- start: check the shape for the chosen engine -------------------------------------
        use_tern = regs.engine == ENGINES["ternary"]
        m_max = Mux(use_tern, p["tern_m_max"], p["bfp_m_max"])
        tern_cmd = Signal()          # the ternary command waits for the engine to take it
        act_words_left = Signal(range(tern.m_max * tern.passes_max * self.act_words + 1))
        tern_busy = tern_cmd | tern.busy | results_out.words_out.valid
        go, start = run_control(m, regs, bfp.busy | tern_busy, [
            (regs.m == 0) | (regs.m > m_max),                                   # M
            (regs.k == 0) | Mux(use_tern, regs.k > p["tern_k_max"],             # K
                                refused_k(regs.k, regs.format, p["bfp_k_max"])),
            (regs.n == 0) | Mux(use_tern, regs.n > p["tern_n_max"],             # N
                                regs.n >= 1 << BfpCore.N_BITS),
            ~use_tern & refused_format(regs.format, regs.sum_in),               # FORMAT
            regs.engine > 1,                                                     # ENGINE
        ])
        m.d.comb += fresh.eq(go)
        active_tern = Signal()       # the engine the stream belongs to, latched at the start
        with m.If(start):
            m.d.sync += active_tern.eq(use_tern)

        # ---- BFP engine ------------------------------------------------------------------------
        m.d.comb += [
            bfp.start.eq(start & ~use_tern),
            bfp.m.eq(regs.m), bfp.blocks.eq(regs.k >> 5), bfp.n.eq(regs.n),
            bfp.fmt.eq(regs.format[:4]), bfp.sum_in.eq(regs.sum_in),
        ]

        # ---- ternary engine: the command from M, K, N ------------------------------------------
        slice_ = tern.slice
        passes = divide_by_constant(regs.k[:len(Const(p["tern_k_max"]))] + (slice_ - 1),
                                    slice_, p["tern_k_max"] + slice_ - 1)
        words = divide_by_constant(regs.n[:len(Const(p["tern_n_max"]))] + (tern.rows - 1),
                                   tern.rows, p["tern_n_max"] + tern.rows - 1)
        cmd = tern.cmd.payload
        with m.If(start & use_tern):
            m.d.sync += [tern_cmd.eq(1), cmd.m.eq(regs.m), cmd.passes.eq(passes),
                         cmd.words.eq(words)]
        m.d.comb += tern.cmd.valid.eq(tern_cmd)
        with m.If(tern.cmd.valid & tern.cmd.ready):
            # The first M * passes beats of the stream are activations, the rest weights.
            m.d.sync += [tern_cmd.eq(0),
                         act_words_left.eq(cmd.m * cmd.passes * self.act_words)]
        to_acts = act_words_left != 0
        tern_in = Signal()
        m.d.comb += tern_in.eq(active_tern & tern.busy)
        # The input streams side by side: a step takes one word of each (stream i's as word i),
        # when all have one.
        tvalid = [getattr(self, f"s_axis{i}_tvalid") for i in range(S)]
        tdata = Cat(getattr(self, f"s_axis{i}_tdata") for i in range(S))
        all_valid = Cat(tvalid).all()
        m.d.comb += [
            acts_in.words_in.valid.eq(all_valid & tern_in & to_acts),
            acts_in.words_in.payload.eq(tdata),
            weights_in.words_in.valid.eq(all_valid & tern_in & ~to_acts),
            weights_in.words_in.payload.eq(tdata),
            tern.acts.valid.eq(acts_in.beats_out.valid),
            tern.acts.payload.eq(acts_in.beats_out.payload),
            acts_in.beats_out.ready.eq(tern.acts.ready),
            tern.weights.valid.eq(weights_in.beats_out.valid),
            tern.weights.payload.eq(weights_in.beats_out.payload),
            weights_in.beats_out.ready.eq(tern.weights.ready),
        ]
        with m.If(acts_in.words_in.valid & acts_in.words_in.ready):
            # the activations' last step may be padded (golden/top_layout.split_words)
            m.d.sync += act_words_left.eq(Mux(act_words_left > S, act_words_left - S, 0))
        # Results: ROWS int32 values per beat (sign-extended from the accumulator width).
        m.d.comb += [
            results_out.beats_in.valid.eq(tern.results.valid),
            results_out.beats_in.payload.data.eq(
                Cat(*(_sext32(tern.results.payload.y[r]) for r in range(tern.rows)))),
            results_out.beats_in.payload.last.eq(tern.results.payload.last),
            tern.results.ready.eq(results_out.beats_in.ready),
        ]

        # ---- the shared AXI4-Streams -----------------------------------------------------------
        tern_step = all_valid & Mux(to_acts, acts_in.words_in.ready,
                                    weights_in.words_in.ready) & tern_in
        out = results_out.words_out.payload
        for i in range(S):
            m.d.comb += [
                bfp.data_in[i].valid.eq(tvalid[i] & ~active_tern),
                # Operand isolation: the BFP engine's data input holds still while the streams
                # belong to the ternary engine (no toggling in the idle engine; the fast
                # co-simulation can then leave it unevaluated).
                bfp.data_in[i].payload.eq(Mux(active_tern, 0, getattr(self, f"s_axis{i}_tdata"))),
                getattr(self, f"s_axis{i}_tready").eq(Mux(active_tern, tern_step,
                                                          bfp.data_in[i].ready)),
            ]
        m.d.comb += [
            # (low while the reset is high, its first cycle included: AXI4-Stream 2.7.2)
            self.m_axis_tvalid.eq(Mux(active_tern, results_out.words_out.valid,
                                      bfp.results.valid) & ~ResetSignal()),
            self.m_axis_tdata.eq(Mux(active_tern, out.data, bfp.results.payload.data)),
            self.m_axis_tkeep.eq(Mux(active_tern, out.keep, bfp.results.payload.keep)),
            self.m_axis_tlast.eq(Mux(active_tern, out.last, bfp.results.payload.last)),
            results_out.words_out.ready.eq(active_tern & self.m_axis_tready),
            bfp.results.ready.eq(~active_tern & self.m_axis_tready),
        ]

        # ---- registers -------------------------------------------------------------------------
        m.d.comb += [
            regs.id.eq(ID_VALUE),
            regs.params.eq(p["bfp_mac_lanes"] | p["bfp_out_lanes"] << 8 | p["bfp_m_max"] << 16),
            regs.k_max.eq(p["bfp_k_max"]),
            regs.tern_geometry.eq(tern.g | tern.rows << 4 | tern.lanes << 8),
            regs.tern_m_max.eq(tern.m_max),
            regs.tern_k_max.eq(p["tern_k_max"]),
            regs.tern_n_max.eq(p["tern_n_max"]),
            regs.streams.eq(S),
        ]
        return m


def _sext32(value):
    """A signed accumulator (at most 32 bits: generators/ternary.py sizes it) as 32 bits."""
    bits = value.as_unsigned()
    return Cat(bits, bits[-1].replicate(32 - len(bits)))
