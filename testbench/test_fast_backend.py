"""The fast back end (host/fast_backend.py: the Verilated core with C++ bus models) against the
cocotb back end (host/sim_backend.py: cocotbext-axi) on the same seeded driver calls: the same
results, the same CYCLES of every run and the same clock cycles per call, with and without
stalls, on the default core and on small buffers where the driver splits M, N and K; the same
again with every engine evaluated at every edge (no idle engine skipped). And its errors: a
missing or broken library, a core that never finishes, a wrong ID."""
import pytest

from llmaccel.host.driver import Accelerator, AcceleratorError
from llmaccel.host.fast_backend import FastBackend, FastSimError
from llmaccel.testbench import runner
from llmaccel.testbench.backend_calls import run_calls
from llmaccel.testbench.fast_build import build_fast, open_fast
from llmaccel.testbench.test_top_cocotb import CONFIGS

CASES = 2     # per engine: a random call, then one split beyond the buffers


def cocotb_records(config: str, stall: float, seed: int) -> list[dict]:
    build = runner.build("top", CONFIGS[config], "verilator")
    result = runner.run(build, "llmaccel.testbench.cocotb_top", "backend_calls", seed=seed,
                        params=CONFIGS[config], tag=f"backend_calls-{stall}",
                        env={"LLMACCEL_STALL": str(stall), "LLMACCEL_CASES": str(CASES)})
    assert result.ok, runner.failure_excerpt(result)
    return result.results


@pytest.mark.cocotb
@pytest.mark.parametrize("config,stall", [
    # the default core's calls already split K and N; make test runs them with stalls (the
    # unstalled CYCLES are also pinned by test_bench_shapes_give_the_pinned_cycles); unstalled,
    # and the small buffers (a second fast build) that split M too: `make regress`
    pytest.param(c, s, marks=[pytest.mark.xdist_group(f"top-verilator-{c}")]
                 + ([pytest.mark.slow] if c != "default" or s == 0.0 else []))
    for c in CONFIGS for s in (0.0, 0.5)])
def test_same_as_cocotb(config, stall):
    seed = runner.seed_for(f"fast-backend-{config}-{stall}")
    print(f"seed={seed} (SEED={seed} reproduces it)")
    want = cocotb_records(config, stall, seed)
    backend = open_fast(CONFIGS[config], stall, seed)
    acc = Accelerator(backend)
    got = run_calls(acc, lambda: backend.cycle, seed, CASES)
    for g, w in zip(got, want):
        print(g["call"], g["cycles"], g["clock_cycles"])
        assert g == w, f"fast {g} != cocotb {w}"
    assert len(got) == len(want) == 2 * CASES


def test_missing_library(tmp_path):
    with pytest.raises(FastSimError, match="no fast co-simulation library at .*build it first"):
        FastBackend(tmp_path / "libnothing.so")


def test_broken_library(tmp_path):
    bad = tmp_path / "libbroken.so"
    bad.write_bytes(b"not an ELF file")
    with pytest.raises(FastSimError, match="is not a loadable fast co-simulation library"):
        FastBackend(bad)


@pytest.mark.cocotb
@pytest.mark.xdist_group("fast-default")
def test_never_finishing_core_is_an_error():
    """A BFP start, then half its input: the core waits for the rest; the call ends at its cycle
    limit with an error, not a hang."""
    backend = open_fast()
    acc = Accelerator(backend)
    acc.write("engine", 0)
    for name, value in (("m", 1), ("k", 64), ("n", 4), ("format", 0), ("sum_in", 0)):
        acc.write(name, value)
    acc.write("ctrl", 1)
    start = backend.cycle
    with pytest.raises(FastSimError, match="did not finish within its cycle limit"):
        backend.stream([bytes(64)] + [b""] * (backend.streams - 1), 16)
    assert backend.cycle - start < 250_000


@pytest.mark.cocotb
@pytest.mark.xdist_group("fast-default")
def test_wrong_id_is_an_error():
    """A driver pointed 4 bytes off (the wrong base address) reads another register as ID."""
    backend = open_fast()

    class Shifted:
        def read32(self, offset):
            return backend.read32(offset + 4)

        def write32(self, offset, value):
            backend.write32(offset + 4, value)

        def stream(self, data, out_bytes):
            return backend.stream(data, out_bytes)

    with pytest.raises(AcceleratorError, match="not an llmaccel core"):
        Accelerator(Shifted())


@pytest.mark.cocotb
@pytest.mark.xdist_group("fast-default")
def test_build_is_reused():
    first = build_fast()
    again = build_fast()
    assert again.library == first.library and again.seconds == 0.0


@pytest.mark.cocotb
@pytest.mark.xdist_group("fast-default")
def test_bench_shapes_give_the_pinned_cycles():
    """The bench's shape runs on the fast back end give the CYCLES pinned in test_perf_model.py
    for the default core (SmolLM2's q projection on both engines at M = 1 and M = 8, and a
    ternary shape the driver splits)."""
    from llmaccel.testbench.backend_calls import shape_runs
    from llmaccel.testbench.test_perf_model import TOP
    shapes = [("bfp", 1, 576, 576), ("ternary", 1, 576, 576), ("bfp", 8, 576, 576),
              ("ternary", 1, 2048, 1536)]
    records = shape_runs(Accelerator(open_fast()), shapes)
    assert [r["cycles"] for r in records] == [
        TOP[(e, "q8_0" if e == "bfp" else "", m, n, k)] for e, m, n, k in shapes]


@pytest.mark.cocotb
@pytest.mark.xdist_group("fast-default")
def test_skipping_idle_engines_changes_nothing():
    """The same calls (both engines, stalls) with idle engines skipped and with every model
    evaluated at every edge: identical records; and skipping did happen."""
    seed = runner.seed_for("fast-backend-skipping")
    print(f"seed={seed} (SEED={seed} reproduces it)")
    records, edges = [], []
    for skipping in (True, False):
        backend = open_fast({}, 0.3, seed)
        backend.set_skipping(skipping)
        records.append(run_calls(Accelerator(backend), lambda: backend.cycle, seed, CASES))
        edges.append(backend.engine_edges())
    print(edges)
    assert records[0] == records[1]
    assert set(edges[0]) == {"bfp", "ternary"}
    assert all(skipped > 0 for _, skipped in edges[0].values())
    assert all(skipped == 0 for _, skipped in edges[1].values())


@pytest.mark.cocotb
@pytest.mark.xdist_group("fast-default")
@pytest.mark.parametrize("engine,idle", [("bfp", "ternary"), ("ternary", "bfp")])
def test_the_idle_engine_is_not_evaluated(engine, idle):
    """While one engine runs a SmolLM2 projection, the other is left unevaluated for all but a
    few edges (it wakes when the run's registers are written, then proves itself idle again)."""
    from llmaccel.testbench.backend_calls import shape_runs
    backend = open_fast()
    acc = Accelerator(backend)
    shape_runs(acc, [(engine, 1, 64, 576)])            # both engines have run once
    before = backend.engine_edges()
    shape_runs(acc, [(engine, 1, 576, 576)])
    after = backend.engine_edges()
    edges = after[idle][0] - before[idle][0]
    skipped = after[idle][1] - before[idle][1]
    busy = after[engine][1] - before[engine][1]
    print(f"{engine} run: {edges} edges, {idle} skipped at {skipped}, {engine} at {busy}")
    assert edges > 2_000 and skipped > 0.99 * edges      # 3,430 edges for ternary at 3 streams
    assert busy < 0.05 * edges
