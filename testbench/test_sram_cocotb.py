"""The SRAM controller's emitted Verilog under Verilator and Icarus (cocotb tests in cocotb_sram.py).

Each configuration is built once per simulator and all its tests run on that build. Random traffic
runs at stall probabilities 0 and 0.3 on every stream (0.7 too in `make regress`); SEED=N
reproduces a run, TXNS=N sets the random transactions per run (default 1500: 10,500 per simulator
across the configurations in make test).
"""
import os

import pytest

from llmaccel.testbench.cocotb_cases import grouped, run_case

CONFIGS = {
    "default": {},
    # three read ports contending for two banks, SECDED with read-modify-write, ping-pong
    "ecc": {"width": 32, "depth": 64, "banks": 2, "read_ports": 3, "ecc": 1},
    # one shared set: reads and writes of the same words collide
    "shared": {"width": 16, "depth": 16, "banks": 1, "read_ports": 2, "pingpong": 0, "ecc": 1},
    # 64-bit write lanes in 256-bit words, as the BFP engine's weight buffers
    "lanes64": {"width": 256, "depth": 16, "banks": 2, "read_ports": 1, "granularity": 64},
}
TXNS = int(os.environ.get("TXNS", "1500"))


def _run(sim, config, testcase, stall=0.3, txns=TXNS):
    return run_case("sram", "llmaccel.testbench.cocotb_sram", CONFIGS[config], sim, config, testcase,
                    stall, env={"LLMACCEL_TXNS": str(txns)})


def _grouped(*sets):
    return grouped("", *sets)


# make test runs stall 0.3 (back-to-back bursts between the stalls), make regress 0 and 0.7 too,
# and the 256-bit lanes64 configuration (the Amaranth simulator's tests cover it in make test)
@pytest.mark.cocotb
@pytest.mark.parametrize("sim,config,stall", [
    pytest.param(*p.values, marks=[*p.marks, *([pytest.mark.slow] if p.values[2] != 0.3
                                               or p.values[1] == "lanes64" else [])])
    for p in _grouped(*[(c, s) for c in CONFIGS for s in (0.0, 0.3, 0.7)])])
def test_random_traffic(sim, config, stall):
    result = _run(sim, config, "random_traffic", stall)
    assert result.results and result.results[0]["transactions"] >= TXNS


DIRECTED = [(c, t) for c in CONFIGS for t in ("reset_mid_burst", "same_cycle_read_write")]
DIRECTED += [(c, "pingpong_under_load") for c, p in CONFIGS.items() if p.get("pingpong", 1)]
DIRECTED += [(c, t) for c, p in CONFIGS.items() if p.get("ecc")
             for t in ("ecc_single_bit_faults", "ecc_double_bit_faults")]


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,config,testcase", _grouped(*DIRECTED))
def test_directed(sim, config, testcase):
    _run(sim, config, testcase)
