"""What every pytest file of cocotb suites shares: one test case on a block configuration's build
(built once per configuration and simulator, reused by every case), its seed printed, its records
printed, a failure reported with the end of the simulation log; and the parametrisation that
keeps one configuration's cases on one pytest-xdist worker, so its build is made once."""
import pytest

from llmaccel.testbench import runner


def run_case(block: str, test_module: str, params: dict, sim: str, config: str, testcase: str,
             stall: float, env: dict | None = None) -> runner.RunResult:
    name = f"{testcase}[{sim}-{config}-{stall}]"
    seed = runner.seed_for(name)
    print(f"{name}: seed={seed} (SEED={seed} reproduces it)")
    build = runner.build(block, params, sim)
    result = runner.run(build, test_module, testcase, seed=seed, params=params,
                        env={"LLMACCEL_STALL": str(stall), **(env or {})},
                        tag=f"{testcase}-{stall}")
    for record in result.results:
        print(record)
    assert result.ok, (f"{name} failed with seed={seed}; log {result.log}\n"
                       + runner.failure_excerpt(result))
    return result


def grouped(group_prefix: str, *sets):
    """pytest params (sim, config, *rest) for every simulator, one xdist group per build."""
    return [pytest.param(sim, config, *rest,
                         marks=pytest.mark.xdist_group(f"{group_prefix}{sim}-{config}"))
            for sim in runner.SIMULATORS for config, *rest in sets]
