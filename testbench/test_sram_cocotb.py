"""The SRAM controller's emitted Verilog under Verilator and Icarus (cocotb tests in cocotb_sram.py).

Each configuration is built once per simulator and all its tests run on that build. Random traffic
runs at stall probabilities 0, 0.3 and 0.7 on every stream; SEED=N reproduces a run, TXNS=N sets the
random transactions per run (default 1500: over 10,000 per simulator across the configurations).
"""
import os

import pytest

from testbench import runner

CONFIGS = {
    "default": {},
    # three read ports contending for two banks, SECDED with read-modify-write, ping-pong
    "ecc": {"width": 32, "depth": 64, "banks": 2, "read_ports": 3, "ecc": 1},
    # one shared set: reads and writes of the same words collide
    "shared": {"width": 16, "depth": 16, "banks": 1, "read_ports": 2, "pingpong": 0, "ecc": 1},
}
TXNS = int(os.environ.get("TXNS", "1500"))


def _run(sim, config, testcase, stall=0.3, txns=TXNS):
    params = CONFIGS[config]
    name = f"{testcase}[{sim}-{config}-{stall}]"
    seed = runner.seed_for(name)
    print(f"{name}: seed={seed} (SEED={seed} reproduces it)")
    build = runner.build("sram", params, sim)
    result = runner.run(build, "testbench.cocotb_sram", testcase, seed=seed, params=params,
                        env={"LLMACCEL_STALL": str(stall), "LLMACCEL_TXNS": str(txns)},
                        tag=f"{testcase}-{stall}")
    for record in result.results:
        print(record)
    assert result.ok, (f"{name} failed with seed={seed}; log {result.log}\n"
                       + runner.failure_excerpt(result))
    return result


def _grouped(*sets):
    return [pytest.param(sim, config, *rest, marks=pytest.mark.xdist_group(f"{sim}-{config}"))
            for sim in runner.SIMULATORS for config, *rest in sets]


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,config,stall",
                         _grouped(*[(c, s) for c in CONFIGS for s in (0.0, 0.3, 0.7)]))
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
