"""The formal property sets and the designs they are proven on: each case builds the files of one
proof (testbench/formal.py runs it). Used by testbench/test_formal.py and `make formal`
(llmaccel/flows/formal.py).

- "axi_lite": axi_lite_checker (testbench/formal/axi_lite_checker.sv) on the AXI4-Lite slave:
  on the loopback register map (testbench/axi_lite_loopback.py, small: in `make test`) and on the
  full default core (generators/top.py as emitted: `make formal`).
- Mutants: the same checker on the loopback slave with its outputs broken on their way to the
  checker (formal.axi_lite_wrapper's `mutant`); each must fail (a bounded search finds the
  counterexample).
"""
from dataclasses import dataclass, field
from typing import Callable

from llmaccel.generators.emit import emit_block_once, to_verilog
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


def _core():
    module, verilog = emit_block_once("top")
    return {f"{module}.sv": verilog,
            "formal_top.sv": formal.axi_lite_wrapper(verilog, module, CORE_ADDR_BITS)}


MUTANTS = {"drop_b": "a write response withdrawn while stalled",
           "change_r": "read data changed while stalled",
           "extra_b": "a write response without a write"}

CASES = [
    ProofCase("axi_lite_loopback", "AXI4-Lite slave", "the loopback register map", _loopback()),
    ProofCase("axi_lite_core", "AXI4-Lite slave", "the default core (llmaccel_top)", _core,
              slow=True),
    *(ProofCase(f"axi_lite_mutant_{m}", "AXI4-Lite slave", f"mutant: {why}", _loopback(m),
                mode="bmc", depth=12, expect="failed") for m, why in MUTANTS.items()),
]
BY_NAME = {c.name: c for c in CASES}


def run_case(case: ProofCase) -> formal.FormalResult:
    return formal.prove(case.name, "formal_top", case.build(), list(case.checkers),
                        mode=case.mode, depth=case.depth)
