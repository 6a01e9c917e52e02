"""The top-level core's emitted Verilog under Verilator and Icarus, driven through the host driver
(cocotb tests in cocotb_top.py), every result exact against the golden models. SEED=N reproduces
a run."""
import pytest

from llmaccel.testbench.cocotb_cases import grouped, run_case

CONFIGS = {
    "default": {},
    # one input stream and small buffers, so the driver splits M (BFP), N and K; a 2-trit
    # ternary engine whose activation beats take two words and whose weight beats take one (its
    # M_MAX stays the default: with it the module's name grows past what Verilator takes)
    "small": {"streams": 1, "bfp_k_max": 64, "bfp_m_max": 2, "bfp_out_lanes": 2, "tern_g": 2,
              "tern_lanes": 4, "tern_rows": 2, "tern_k_max": 100, "tern_n_max": 10},
    # three input streams in lock step: BFP rows interleaved (6 lanes, 2 loaded per stream, 3
    # binary32 chains), ternary words round robin into the gearboxes; small buffers
    "streams": {"streams": 3, "bfp_k_max": 512, "bfp_m_max": 2, "bfp_out_lanes": 6,
                "tern_k_max": 200, "tern_n_max": 20, "tern_m_max": 2},
}


def _run(sim, config, testcase, stall):
    run_case("top", "llmaccel.testbench.cocotb_top", CONFIGS[config], sim, config, testcase, stall)


def _in_regress_only(sim, config, stall):
    """make test runs the random matmuls with stalls on the default core under Verilator and the
    1-stream small core under both simulators; `make regress` adds the unstalled runs, the
    default core under Icarus (about 10 minutes) and the 3-stream small core (every one of its
    tests: make test runs the 3-stream default's directed cases on both). The default core's
    unstalled runs are in make test on the fast back end, cycle for cycle the same Verilated
    core (test_fast_backend.py)."""
    return stall == 0.0 or (sim, config) in (("icarus", "default"), ("icarus", "streams"),
                                             ("verilator", "streams"))


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,config,stall", [
    pytest.param(*case.values, marks=[*case.marks, *([pytest.mark.slow]
                                                     if _in_regress_only(*case.values) else [])])
    for case in grouped("top-", *[(c, s) for c in CONFIGS for s in (0.0, 0.5)])])
def test_random_matmuls(sim, config, stall):
    _run(sim, config, "random_matmuls", stall)


# Every configuration on both simulators; the 3-stream small core in `make regress` (make test
# runs the 3-stream default's directed cases under both simulators).
@pytest.mark.cocotb
@pytest.mark.parametrize("sim,config,testcase", [
    pytest.param(*case.values, marks=[*case.marks, *([pytest.mark.slow] if case.values[1] ==
                                                     "streams" else [])])
    for case in grouped("top-", *[(c, t) for c in CONFIGS
                                  for t in ("registers", "reset_mid_matmul", "extra_words")])])
def test_directed(sim, config, testcase):
    _run(sim, config, testcase, 0.3)
