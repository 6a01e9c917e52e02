"""The AXI4-Lite register block's emitted Verilog under Verilator and Icarus, through the loopback
harness (testbench/axi_lite_loopback.py) and cocotbext-axi's AxiLiteMaster (cocotb tests in
cocotb_axi_lite.py). SEED=N reproduces a run, TXNS=N sets the random transactions per run."""
import pytest

from llmaccel.testbench import runner
from llmaccel.testbench.axi_lite_loopback import MODULE, AxiLiteLoopback

CASES = [("random_traffic", 0.0), ("random_traffic", 0.5), ("map_sweep", 0.3),
         ("reset_mid_traffic", 0.3)]


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,testcase,stall", [
    pytest.param(sim, testcase, stall, marks=pytest.mark.xdist_group(f"axil-{sim}"))
    for sim in runner.SIMULATORS for testcase, stall in CASES])
def test_axi_lite(sim, testcase, stall):
    name = f"{testcase}[{sim}-{stall}]"
    seed = runner.seed_for(name)
    print(f"{name}: seed={seed} (SEED={seed} reproduces it)")
    build = runner.build_component(MODULE, AxiLiteLoopback(), sim)
    result = runner.run(build, "llmaccel.testbench.cocotb_axi_lite", testcase, seed=seed,
                        env={"LLMACCEL_STALL": str(stall)}, tag=f"{testcase}-{stall}")
    for record in result.results:
        print(record)
    assert result.ok, (f"{name} failed with seed={seed}; log {result.log}\n"
                       + runner.failure_excerpt(result))
