"""The binary32 units' emitted Verilog under Verilator and Icarus (cocotb test in cocotb_fp32.py,
8 instances per build through testbench/fp32_harness.py), bit-exact against NumPy float32 and
golden.fp32: 50,000 operations per unit in `make test` (the 32-bit converter under Icarus, about
3x slower per cycle: 20,000); `make regress` runs 10**6 per unit (FP32_OPS=1000000). SEED=N reproduces a
run; FP32_OPS=N overrides the operation counts (all configs).
Each test prints its operations, cycles, wall time and operations per second.
"""
import os

import pytest

from llmaccel.testbench import runner
from llmaccel.testbench.fp32_harness import Fp32Harness

COPIES = 8
CONFIGS = {
    "mul": {"unit": "mul"},
    "add": {"unit": "add"},
    "from_int": {"unit": "from_int"},                               # width 21, exp_bits 10
    "from_int_w32": {"unit": "from_int", "width": 32, "exp_bits": 12},  # rounding ints > 2**24
}
OPS = {
    "verilator": {"mul": 50_000, "add": 50_000, "from_int": 50_000, "from_int_w32": 50_000},
    "icarus": {"mul": 50_000, "add": 50_000, "from_int": 50_000, "from_int_w32": 20_000},
}


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,config", [
    # the int-to-float converters under Verilator (most of it their build) in `make regress`;
    # make test runs them under Icarus
    pytest.param(sim, config, marks=[pytest.mark.xdist_group(f"fp32-{sim}-{config}")]
                 + ([pytest.mark.slow] if sim == "verilator" and config.startswith("from_int")
                    else []))
    for sim in runner.SIMULATORS for config in CONFIGS])
def test_fp32_unit(sim, config):
    params = {**CONFIGS[config], "copies": COPIES}
    name = f"fp32_ops[{sim}-{config}]"
    seed = runner.seed_for(name)
    ops = int(os.environ.get("FP32_OPS", OPS[sim][config]))
    print(f"{name}: seed={seed} (SEED={seed} reproduces it) ops={ops}")
    harness = Fp32Harness(**params)
    build = runner.build_component(harness.module_name(), harness, sim)
    print(f"build: {build.seconds:.1f} s" if build.seconds else "build: reused")
    result = runner.run(build, "llmaccel.testbench.cocotb_fp32", "fp32_ops", seed=seed, params=params,
                        env={"LLMACCEL_OPS": str(ops)}, tag="fp32_ops")
    for record in result.results:
        print(f"{config} under {sim}: {record['ops']:,} ops in {record['cycles']:,} cycles, "
              f"simulated in {record['sim_seconds']} s ({record['ops_per_s']:,} ops/s, "
              f"{record['cycles_per_s']:,} cycles/s), {record['total_seconds']} s with "
              f"operand generation and checking; run {result.seconds:.1f} s")
        print(record)
    assert result.ok, (f"{name} failed with seed={seed}; log {result.log}\n"
                       + runner.failure_excerpt(result))
    assert result.results and result.results[0]["ops"] >= ops
