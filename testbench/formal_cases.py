"""The formal property sets and the designs they are proven on: each case builds the files of one
proof (testbench/formal.py runs it). Used by testbench/test_formal.py and `make formal`
(llmaccel/flows/formal.py).

- "axi_lite": axi_lite_checker (testbench/formal/axi_lite_checker.sv) on the AXI4-Lite slave:
  on the loopback register map (testbench/axi_lite_loopback.py, small: in `make test`) and on the
  full default core (generators/top.py as emitted: `make formal`).
- "axis_out": axis_source_checker (AXI4-Stream source: no TVALID in reset, TVALID held until
  TREADY with TDATA, TKEEP, TLAST stable) on the core's result stream, with the AXI4-Lite checker
  beside it: bounded (its k-induction needs invariants inside the engines, such as "a result word
  is valid only while the engine is busy", which these port-level checkers cannot state yet).
- "value_packer": the ternary results' ValuePacker (generators/value_packer.py) alone, with
  axis_source_checker and value_packer_checker (no word without its values, none lost, the last
  word carrying exactly the rest): bounded, for the same reason (the checker's count of open
  values is the packer's internal `held`).
- Mutants: the same checkers with the design's outputs broken on their way to them
  (formal.axi_lite_wrapper's and formal.value_packer_wrapper's `mutant`); each must fail (a
  bounded search finds the counterexample).
"""
from dataclasses import dataclass, field
from typing import Callable

from llmaccel.generators.emit import emit_block_once, to_verilog
from llmaccel.generators.value_packer import ValuePacker
from llmaccel.testbench import formal
from llmaccel.testbench.axi_lite_loopback import ADDR_BITS, MODULE, AxiLiteLoopback

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


PACKER_ROWS = 3           # the core's ternary results: ROWS int32 a beat
PACKER_MODULE = "llmaccel_value_packer"


def _packer(mutant: str = ""):
    def build():
        verilog = to_verilog(ValuePacker(PACKER_ROWS), PACKER_MODULE)
        return {f"{PACKER_MODULE}.sv": verilog,
                "formal_top.sv": formal.value_packer_wrapper(verilog, PACKER_MODULE,
                                                             PACKER_ROWS, mutant)}
    return build


MUTANTS = {"drop_b": "a write response withdrawn while stalled",
           "change_r": "read data changed while stalled",
           "extra_b": "a write response without a write"}
PACKER_MUTANTS = {"drop_last": "the last word lost",
                  "change_data": "a data bit changed while stalled",
                  "extra_word": "a word out of nowhere"}
STREAM_CHECKERS = ("axis_source_checker", "value_packer_checker")

CASES = [
    ProofCase("axi_lite_loopback", "AXI4-Lite slave", "the loopback register map", _loopback()),
    ProofCase("axi_lite_core", "AXI4-Lite slave", "the default core (llmaccel_top)", _core(),
              slow=True),
    *(ProofCase(f"axi_lite_mutant_{m}", "AXI4-Lite slave", f"mutant: {why}", _loopback(m),
                mode="bmc", depth=12, expect="failed") for m, why in MUTANTS.items()),
    ProofCase("axis_out_core", "AXI4-Stream source (+ AXI4-Lite)",
              "the default core's result stream", _core("m_axis_"), mode="bmc", depth=8,
              expect="bounded", slow=True, checkers=("axi_lite_checker", "axis_source_checker")),
    ProofCase("value_packer", "AXI4-Stream source, packing counts",
              f"ValuePacker({PACKER_ROWS})", _packer(), mode="bmc", depth=32, expect="bounded",
              checkers=STREAM_CHECKERS),
    *(ProofCase(f"value_packer_mutant_{m}", "AXI4-Stream source, packing counts",
                f"mutant: {why}", _packer(m), mode="bmc", depth=12, expect="failed",
                checkers=STREAM_CHECKERS) for m, why in PACKER_MUTANTS.items()),
]
BY_NAME = {c.name: c for c in CASES}


def run_case(case: ProofCase) -> formal.FormalResult:
    return formal.prove(case.name, "formal_top", case.build(), list(case.checkers),
                        mode=case.mode, depth=case.depth)
