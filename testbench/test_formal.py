"""Formal proofs of the emitted Verilog (testbench/formal_cases.py): each property set proven by
k-induction on its designs, and shown to catch broken variants (mutants). The full core's proofs
take minutes: `make formal` runs them (marked slow); `make test` runs the small ones."""
import pytest

from llmaccel.testbench.formal_cases import CASES, run_case


@pytest.mark.formal
@pytest.mark.xdist_group("formal")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.name,
                                               marks=[pytest.mark.slow] if c.slow else [])
                                  for c in CASES])
def test_proof(case):
    result = run_case(case)
    print(f"{case.name}: {result.status} ({result.mode}, depth {result.depth}) in "
          f"{result.seconds:.1f} s; log {result.log}")
    assert result.status == case.expect, (
        f"{case.name}: {result.status}, expected {case.expect}"
        + (f"; counterexample {result.vcd}" if result.vcd else f"; see {result.log}"))
    if case.expect == "failed":
        assert result.vcd is not None and result.vcd.exists(), "no counterexample trace"
