"""The formal property sets and the designs they are proven on: each case builds the files of one
proof (testbench/formal.py runs it). Used by testbench/test_formal.py and `make formal`
(llmaccel/flows/formal.py).

- "axi_lite": axi_lite_checker (testbench/formal/axi_lite_checker.sv) on the AXI4-Lite slave:
  on the loopback register map (testbench/axi_lite_loopback.py, small: in `make test`) and on the
  full default core (generators/top.py as emitted: `make formal`).
- "registers": the register semantics (formal.register_checker, generated from the map) with
  the AXI4-Lite checker, on AxiLiteRegisters blocks of the loopback's map and of the core's map.
- "value_packer": the ternary results' ValuePacker (generators/value_packer.py) with
  axis_source_checker and value_packer_checker (no word without its values, none lost, the last
  word carrying exactly the rest).
- "upsizer": the core's two input gearboxes (StreamUpsizer, formal.upsizer_checker).
- "sram": the SRAM controller (formal.sram_checker): responses, handshakes, ping-pong sets by
  induction on the default block; the request order bounded, on small banks.
- "axis_out": axis_source_checker on the full core's result stream, with the AXI4-Lite checker
  beside it: bounded (its k-induction needs invariants inside the engines).
Where k-induction needs a block's own state, the block is emitted with probes
(formal.probed_verilog) and the checkers assert the invariants tying their counts to it.
- Mutants: the same checkers with the design's inputs or outputs broken on their way (the
  wrappers' `mutant`); each must fail (a bounded search finds the counterexample).
"""
from dataclasses import dataclass, field
from typing import Callable

from llmaccel.generators.axi_lite import AxiLiteRegisters
from llmaccel.generators.emit import emit_block_once, to_verilog
from llmaccel.generators.bfp_core import BfpCore
from llmaccel.generators.sram import SramController
from llmaccel.generators.ternary import TernaryAccelerator
from llmaccel.generators.stream_upsizer import StreamUpsizer
from llmaccel.generators.value_packer import ValuePacker
from llmaccel.golden.register_maps import CORE_REGISTERS
from llmaccel.testbench import formal
from llmaccel.testbench.axi_lite_loopback import ADDR_BITS, MAP, MODULE, AxiLiteLoopback

CORE_ADDR_BITS = 12       # the core's AXI4-Lite address width (generators/axi_lite.py default)


@dataclass(frozen=True)
class ProofCase:
    name: str
    properties: str                     # the property set
    design: str                         # what it is proven on
    build: Callable[[], dict]           # -> files of the proof (name -> Verilog text)
    mode: str = "prove"                 # "prove": k-induction; "bmc": bounded search
    depth: int = 4
    expect: str = "proven"              # "failed" for a mutant
    slow: bool = False                  # make formal only
    checkers: tuple = field(default=("axi_lite_checker",))


def _loopback(mutant: str = ""):
    def build():
        verilog = to_verilog(AxiLiteLoopback(), MODULE)
        return {f"{MODULE}.sv": verilog,
                "formal_top.sv": formal.axi_lite_wrapper(verilog, MODULE, ADDR_BITS, mutant)}
    return build


def _core(stream_out: str = ""):
    def build():
        module, verilog = emit_block_once("top")
        return {f"{module}.sv": verilog,
                "formal_top.sv": formal.axi_lite_wrapper(verilog, module, CORE_ADDR_BITS,
                                                         stream_out=stream_out)}
    return build


REGS_MODULE = "llmaccel_axil_regs"


def _registers(registers=MAP, addr_bits=ADDR_BITS, mutant: str = ""):
    """An AxiLiteRegisters block of `registers` alone, with its state probed: every register
    port visible."""
    def build():
        verilog = formal.probed_verilog(AxiLiteRegisters(registers, addr_bits), REGS_MODULE,
                                        formal.REGISTER_PROBES)
        wrapper, checker = formal.register_wrapper(verilog, REGS_MODULE, registers, addr_bits,
                                                   mutant)
        return {f"{REGS_MODULE}.sv": verilog, "formal_top.sv": wrapper,
                "formal_register_checker.sv": checker}
    return build


PACKER_ROWS = 3           # the core's ternary results: ROWS int32 a beat
PACKER_MODULE = "llmaccel_value_packer"


def _packer(mutant: str = ""):
    def build():
        verilog = formal.probed_verilog(ValuePacker(PACKER_ROWS), PACKER_MODULE,
                                        ["held", "flushing"])
        return {f"{PACKER_MODULE}.sv": verilog,
                "formal_top.sv": formal.value_packer_wrapper(verilog, PACKER_MODULE,
                                                             PACKER_ROWS, mutant)}
    return build


SRAM_MODULE = "llmaccel_sram"


def _sram(order: bool = False, mutant: str = "", **params):
    def build():
        block = SramController(**params)
        verilog = formal.probed_verilog(block, SRAM_MODULE, formal.sram_probes(block))
        return {f"{SRAM_MODULE}.sv": verilog,
                "formal_top.sv": formal.sram_wrapper(verilog, SRAM_MODULE, block, mutant),
                "formal_sram_checker.sv": formal.sram_checker(block, order)}
    return build


# The order proof is a bounded search over the data: on 512-word banks of 64 bits one step takes
# minutes; the order is the read ports' logic (requests, arbitration, FIFOs), the same on small
# banks. Even there each step costs about 4x the one before (depth 9: 30 s, 10: 100 s, 11: 6 min).
SMALL_SRAM = {"width": 16, "depth": 16, "banks": 2}
_SMALL_SRAM_TEXT = ", ".join(f"{k}={v}" for k, v in SMALL_SRAM.items())

def _core_engine_params(prefix: str) -> dict:
    """The default core's parameters of one engine (generators/top.py's, prefix removed)."""
    from llmaccel.generators.top import LlmAccelerator
    d = {p.name: p.default for p in LlmAccelerator.PARAMS}
    out = {k[len(prefix):]: v for k, v in d.items() if k.startswith(prefix)}
    if prefix == "bfp_":
        out["streams"] = d["streams"]
    return out


def _engine(block_cls, prefix: str, name: str, inputs, start: str, last_bit):
    """A proof builder of one engine at the default core's parameters: inputs(block) -> its
    input stream prefixes, last_bit(block) -> its results' last bit."""
    def builder(mutant: str = "", idle: bool = False):
        def build():
            block = block_cls(**_core_engine_params(prefix))
            verilog = to_verilog(block, name)
            return {f"{name}.sv": verilog, "formal_top.sv": formal.engine_wrapper(
                verilog, name, inputs(block), start, "busy", "results__", last_bit(block),
                mutant, idle)}
        return build
    return builder


_bfp_engine = _engine(BfpCore, "bfp_", "llmaccel_bfp_core",
                      lambda b: [f"data_in__{i}__" for i in range(b.streams)], "start",
                      lambda b: 72)
_ternary_engine = _engine(TernaryAccelerator, "tern_", "llmaccel_ternary_engine",
                          lambda b: ["acts__", "weights__"], "(cmd__valid & cmd__ready)",
                          lambda b: b.rows * b.ACC_BITS)


UPSIZER_MODULE = "llmaccel_stream_upsizer"


def _upsizer(width: int, group: int, mutant: str = ""):
    def build():
        block = StreamUpsizer(width, group)
        verilog = formal.probed_verilog(block, UPSIZER_MODULE, ["count", "buf"])
        return {f"{UPSIZER_MODULE}.sv": verilog,
                "formal_top.sv": formal.upsizer_wrapper(verilog, UPSIZER_MODULE, width,
                                                        block.words, group, mutant),
                "formal_upsizer_checker.sv": formal.upsizer_checker(width, block.words, group)}
    return build


def _core_upsizers():
    """The default core's two gearboxes: (activation beat bits, weight beat bits, streams)."""
    from llmaccel.golden.top_layout import act_beat_bits, weight_beat_bits
    t = _core_engine_params("tern_")
    return (act_beat_bits(t["g"], t["lanes"]), weight_beat_bits(t["g"], t["lanes"], t["rows"]),
            _core_engine_params("bfp_")["streams"])


MUTANTS = {"drop_b": "a write response withdrawn while stalled",
           "change_r": "read data changed while stalled",
           "extra_b": "a write response without a write"}
PACKER_MUTANTS = {"drop_last": "the last word lost",
                  "change_data": "a data bit changed while stalled",
                  "extra_word": "a word out of nowhere"}
STREAM_CHECKERS = ("axis_source_checker", "value_packer_checker")

_ACT, _WEIGHT, _STREAMS = _core_upsizers()
# The BFP engine's induction does not close: a start clears its output register, which is
# harmless only because that register is never valid while idle, and that needs its pipeline's
# invariants (see README); its base case is checked to the depth.
_ENGINES = (("bfp", "BfpCore as the default core has it (16 x 6 MAC lanes, 3 streams, "
             "K_MAX 8192)", _bfp_engine, "bounded"),
            ("ternary", "TernaryAccelerator as the default core has it", _ternary_engine,
             "proven"))
_IDLE_DEPTH = 8

CASES = [
    ProofCase("axi_lite_loopback", "AXI4-Lite slave", "the loopback register map", _loopback()),
    ProofCase("axi_lite_core", "AXI4-Lite slave", "the default core (llmaccel_top)", _core(),
              slow=True),
    *(ProofCase(f"axi_lite_mutant_{m}", "AXI4-Lite slave", f"mutant: {why}", _loopback(m),
                mode="bmc", depth=12, expect="failed") for m, why in MUTANTS.items()),
    ProofCase("registers_loopback", "register semantics (+ AXI4-Lite)",
              "the loopback's map on AxiLiteRegisters", _registers()),
    ProofCase("registers_core", "register semantics (+ AXI4-Lite)",
              "the default core's register block (its map, 12 address bits)",
              _registers(CORE_REGISTERS, CORE_ADDR_BITS)),
    *(ProofCase(f"registers_mutant_{m}", "register semantics (+ AXI4-Lite)", f"mutant: {why}",
                _registers(mutant=m), mode="bmc", depth=8, expect="failed")
      for m, why in formal.REGISTER_MUTANTS.items()),
    *(ProofCase(f"upsizer_{what}", "gearbox: words in order into beats",
                f"StreamUpsizer({bits}, {streams}), the default core's {what} gearbox",
                _upsizer(bits, streams), checkers=())
      for what, bits, streams in (("activation", _ACT, _STREAMS), ("weight", _WEIGHT, _STREAMS))),
    *(ProofCase(f"upsizer_mutant_{m}", "gearbox: words in order into beats", f"mutant: {why}",
                _upsizer(_WEIGHT, _STREAMS, m), mode="bmc", depth=10, expect="failed",
                checkers=()) for m, why in formal.UPSIZER_MUTANTS.items()),
    ProofCase("sram", "SRAM controller: responses, handshakes, ping-pong sets",
              "SramController() (the sram block's default: 4 banks x 2 sets, 2 read ports)",
              _sram(), checkers=()),
    ProofCase("sram_order", "SRAM controller: responses in request order",
              f"SramController({_SMALL_SRAM_TEXT})", _sram(order=True, **SMALL_SRAM),
              mode="bmc", depth=10, expect="bounded", slow=True, checkers=()),
    *(ProofCase(f"sram_mutant_{m}", "SRAM controller" + (": order" if m == "crossed_ports"
                                                          else ""), f"mutant: {why}",
                _sram(order=m == "crossed_ports", mutant=m, **SMALL_SRAM), mode="bmc",
                depth=8, expect="failed", checkers=()) for m, why in formal.SRAM_MUTANTS.items()),
    *(ProofCase(f"engine_{e}", "engine handshakes: results held, inputs only while busy, "
                "runs end on their last beat", what, build(), checkers=("engine_checker",),
                expect=expect, slow=True) for e, what, build, expect in _ENGINES),
    *(ProofCase(f"engine_{e}_idle", "engine: no result while idle", what, build(idle=True),
                mode="bmc", depth=_IDLE_DEPTH, expect="bounded", checkers=("engine_checker",),
                slow=True) for e, what, build, _ in _ENGINES),
    *(ProofCase(f"engine_mutant_{m}", "engine handshakes", f"mutant: {why}",
                _ternary_engine(m, idle=m == "result_while_idle"), mode="bmc", depth=6,
                expect="failed", checkers=("engine_checker",), slow=True)
      for m, why in formal.ENGINE_MUTANTS.items() if m == "result_while_idle"),
    ProofCase("axis_out_core", "AXI4-Stream source (+ AXI4-Lite)",
              "the default core's result stream", _core("m_axis_"), mode="bmc", depth=8,
              expect="bounded", slow=True, checkers=("axi_lite_checker", "axis_source_checker")),
    ProofCase("value_packer", "AXI4-Stream source, packing counts",
              f"ValuePacker({PACKER_ROWS}), as the default core has it", _packer(), depth=4,
              checkers=STREAM_CHECKERS),
    *(ProofCase(f"value_packer_mutant_{m}", "AXI4-Stream source, packing counts",
                f"mutant: {why}", _packer(m), mode="bmc", depth=12, expect="failed",
                checkers=STREAM_CHECKERS) for m, why in PACKER_MUTANTS.items()),
]
BY_NAME = {c.name: c for c in CASES}


def run_case(case: ProofCase) -> formal.FormalResult:
    return formal.prove(case.name, "formal_top", case.build(), list(case.checkers),
                        mode=case.mode, depth=case.depth)
