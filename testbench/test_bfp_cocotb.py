"""The BFP accelerator's emitted Verilog under Verilator and Icarus through its AXI interfaces
(cocotb tests in cocotb_bfp.py), every result bit-exact against golden.bfp. SEED=N reproduces a
run."""
import pytest

from llmaccel.testbench.cocotb_cases import grouped, run_case

CONFIGS = {
    "default": {},
    # one block word per cycle (the adder loop is paced by `gap` at M < 4), two lanes
    "wide": {"mac_lanes": 32, "out_lanes": 2, "k_max": 256, "m_max": 3},
    # two words per block: two binary32 chains, each serving two lanes in turn; M up to 2
    "narrow": {"mac_lanes": 16, "out_lanes": 4, "k_max": 512, "m_max": 2},
}


def _run(sim, config, testcase, stall):
    run_case("bfp", "llmaccel.testbench.cocotb_bfp", CONFIGS[config], sim, config, testcase, stall)


def _grouped(*sets):
    return grouped("b-", *sets)


def _random():
    """Every configuration on both simulators; make test runs the default one under Verilator
    with stalls (0.3: bursts and gaps; under Icarus and for the narrow and wide ones it runs the
    directed cases), `make regress` also those, unstalled and at 0.7 (the default core's
    unstalled runs are in make test through the fast back end: test_fast_backend.py,
    test_perf_model's pins)."""
    cases = []
    for case in _grouped(*[(c, s) for c in CONFIGS for s in (0.0, 0.3, 0.7)]):
        if case.values[2] != 0.3 or case.values[0] == "icarus" or case.values[1] != "default":
            case = pytest.param(*case.values, marks=[*case.marks, pytest.mark.slow])
        cases.append(case)
    return cases


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,config,stall", _random())
def test_random_matmuls(sim, config, stall):
    _run(sim, config, "random_matmuls", stall)


def _directed():
    """Every directed case on every configuration and simulator; Icarus's scale classes and K
    splits (the longest Icarus runs: every class pair of every format, every splitting format in
    three parts) and the wide configuration's scale classes (70 s) only in `make regress`
    (Verilator runs them on the default and narrow configurations in `make test`)."""
    cases = []
    for case in _grouped(*[(c, t) for c in CONFIGS
                           for t in ("scale_classes", "registers", "reset_mid_matmul", "k_split")]):
        sim, config, testcase = case.values
        if (sim == "icarus" and testcase in ("scale_classes", "k_split")) or (
                config == "wide" and testcase == "scale_classes"):
            case = pytest.param(*case.values, marks=[*case.marks, pytest.mark.slow])
        cases.append(case)
    return cases


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,config,testcase", _directed())
def test_directed(sim, config, testcase):
    _run(sim, config, testcase, 0.3)
