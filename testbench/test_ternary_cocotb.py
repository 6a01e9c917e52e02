"""The ternary accelerator's emitted Verilog under Verilator and Icarus (cocotb tests in
cocotb_ternary.py), bit-exact against golden.ternary.matmul. SEED=N reproduces a run."""
import pytest

from llmaccel.testbench.cocotb_cases import grouped, run_case

CONFIGS = {
    "default": {},
    # the naive add/sub/skip engine, two rows per beat
    # (M = 1 through the tile buffer: no direct FIFO)
    "naive": {"g": 1, "lanes": 8, "rows": 2, "k_max": 256, "n_max": 64, "m_max": 4,
              "direct_fifo": 0},
    # g = 4, single-buffered tables, one row per beat, small builders, 6-bit activations, an
    # M = 1 FIFO of 2 beats (full while a table builds)
    "g4": {"g": 4, "lanes": 4, "rows": 1, "k_max": 200, "n_max": 40, "m_max": 3,
           "double_buffer": 0, "lanes_per_builder": 2, "act_bits": 6, "direct_fifo": 2},
}


def _run(sim, config, testcase, stall):
    run_case("ternary", "llmaccel.testbench.cocotb_ternary", CONFIGS[config], sim, config, testcase, stall)


def _grouped(*sets):
    return grouped("t-", *sets)


# make test runs stall 0.3, make regress 0 and 0.7 too
@pytest.mark.cocotb
@pytest.mark.parametrize("sim,config,stall", [
    pytest.param(*p.values, marks=[*p.marks, *([pytest.mark.slow] if p.values[2] != 0.3 else [])])
    for p in _grouped(*[(c, s) for c in CONFIGS for s in (0.0, 0.3, 0.7)])])
def test_random_matmuls(sim, config, stall):
    _run(sim, config, "random_matmuls", stall)


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,config,testcase",
                         _grouped(*[(c, t) for c in CONFIGS
                                    for t in ("special_weights", "pruned_slices",
                                              "reset_mid_matmul")]))
def test_directed(sim, config, testcase):
    _run(sim, config, testcase, 0.3)
