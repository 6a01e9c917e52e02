"""The driver's fast back end: the Verilated core with its bus models in C++ (host/fastsim.cpp),
reached through ctypes. Same API as the cocotb back end (host/sim_backend.py), so `Accelerator`
runs on it unchanged, and the same cycle-level behaviour, so both give the same CYCLES:

    backend = FastBackend(library)           # built by llmaccel.testbench.fast_build.build_fast
    backend.reset()
    acc = Accelerator(backend)
    y = acc.matmul_q8_0(w, x)

No Python runs per clock cycle: a register access or a whole stream transfer is one C call.
The core runs as partitions (the glue and one model per engine); an engine that provably cannot
change is not evaluated (`engine_edges()` counts how often; `set_skipping(False)` turns it off).
A call that does not finish within its cycle limit (a core that never answers or never sends its
last result word) raises FastSimError instead of hanging.
"""
import ctypes
from pathlib import Path

from llmaccel.host.stalls import stream_seeds, stall_threshold

# Cycle limits: a register access, and a stream transfer per 64-bit word moved (stalls included).
ACCESS_CYCLE_LIMIT = 1_000
CYCLES_PER_WORD_LIMIT = 64
TIMEOUT_FLOOR = 200_000
RESP_NAMES = {0: "OKAY", 1: "EXOKAY", 2: "SLVERR", 3: "DECERR"}
_STATUS = {-1: "did not finish within its cycle limit",
           -2: "sent more result bytes than the driver expected",
           -3: "did not settle: the combinational paths between its partitions loop"}


class FastSimError(RuntimeError):
    """The fast co-simulation is missing or broken, or the core did not answer in time."""


def _load(path: Path) -> ctypes.CDLL:
    if not path.is_file():
        raise FastSimError(f"no fast co-simulation library at {path}: build it first "
                           "(llmaccel.testbench.fast_build.build_fast, which `llmaccel generate "
                           "--backend fast` runs)")
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        raise FastSimError(f"{path} is not a loadable fast co-simulation library: {e}") from None
    try:
        sigs = {"fs_create": ([], ctypes.c_void_p), "fs_destroy": ([ctypes.c_void_p], None),
                "fs_cycle": ([ctypes.c_void_p], ctypes.c_uint64),
                "fs_set_limit": ([ctypes.c_void_p, ctypes.c_uint64], None),
                "fs_streams": ([ctypes.c_void_p], ctypes.c_int),
                "fs_set_stall": ([ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64),
                                  ctypes.c_uint64, ctypes.c_uint64], None),
                "fs_reset": ([ctypes.c_void_p, ctypes.c_int], None),
                "fs_write32": ([ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32],
                               ctypes.c_int64),
                "fs_read32": ([ctypes.c_void_p, ctypes.c_uint32,
                               ctypes.POINTER(ctypes.c_uint32)], ctypes.c_int64),
                "fs_stream": ([ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                               ctypes.POINTER(ctypes.c_uint64), ctypes.c_void_p,
                               ctypes.c_uint64], ctypes.c_int64),
                "fs_idle": ([ctypes.c_void_p, ctypes.c_uint64], None),
                "fs_engine_edges": ([ctypes.c_void_p, ctypes.c_int, ctypes.c_int],
                                    ctypes.c_uint64),
                "fs_engine_name": ([ctypes.c_void_p, ctypes.c_int], ctypes.c_char_p),
                "fs_set_skipping": ([ctypes.c_void_p, ctypes.c_int], None)}
        for name, (args, res) in sigs.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, res
    except AttributeError as e:
        raise FastSimError(f"{path} is not a fast co-simulation library of this version "
                           f"({e}): rebuild it") from None
    return lib


class FastBackend:
    def __init__(self, library, stall: float = 0.0, seed: int = 1):
        self.library = Path(library)
        self._lib = _load(self.library)
        self._sim = self._lib.fs_create()
        self.streams = self._lib.fs_streams(self._sim)    # the core's input streams
        self.set_stall(stall, seed)

    def close(self) -> None:
        if getattr(self, "_sim", None):
            self._lib.fs_destroy(self._sim)
            self._sim = None

    def __del__(self):
        self.close()

    @property
    def cycle(self) -> int:
        """Clock cycles simulated since this back end was made."""
        return self._lib.fs_cycle(self._sim)

    def set_skipping(self, on: bool) -> None:
        """Leave an idle engine unevaluated while it provably cannot change (the default), or
        evaluate every engine at every edge: both give the same cycles and results."""
        self._lib.fs_set_skipping(self._sim, int(bool(on)))

    def engine_edges(self) -> dict:
        """{engine: (rising edges, edges it was left unevaluated at a proven fixed point)}."""
        out, i = {}, 0
        while (name := self._lib.fs_engine_name(self._sim, i)) is not None:
            out[name.decode()] = (self._lib.fs_engine_edges(self._sim, i, 0),
                                  self._lib.fs_engine_edges(self._sim, i, 1))
            i += 1
        return out

    def set_stall(self, probability: float, seed: int = 1) -> None:
        """Random pauses on every stream from now on, as CocotbBackend.set_stall."""
        sources, sink = stream_seeds(seed, self.streams)
        self._lib.fs_set_stall(self._sim, (ctypes.c_uint64 * self.streams)(*sources), sink,
                               stall_threshold(probability))

    def reset(self, cycles: int = 3) -> None:
        """`rst` high for `cycles` cycles, then 2 cycles low; anything queued is dropped."""
        self._lib.fs_reset(self._sim, cycles)

    def idle(self, cycles: int) -> None:
        self._lib.fs_idle(self._sim, cycles)

    def _check(self, status: int, what: str) -> int:
        if status < 0:
            raise FastSimError(f"the core {_STATUS.get(status, f'failed ({status})')} in {what} "
                               f"(cycle {self.cycle})")
        return status

    def read32(self, offset: int) -> int:
        value = ctypes.c_uint32()
        self._lib.fs_set_limit(self._sim, ACCESS_CYCLE_LIMIT)
        self._check(self._lib.fs_read32(self._sim, offset, ctypes.byref(value)),
                    f"a register read at {offset:#x}")
        return value.value

    def write32(self, offset: int, value: int) -> None:
        self._lib.fs_set_limit(self._sim, ACCESS_CYCLE_LIMIT)
        self._check(self._lib.fs_write32(self._sim, offset, value & 0xFFFFFFFF),
                    f"a register write at {offset:#x}")

    def stream(self, inputs: list[bytes], out_bytes: int) -> bytes:
        """Send each input stream's bytes as one packet on its stream (none for an empty one)
        and return the output packet padded to whole words."""
        inputs = [bytes(data) for data in inputs]
        if len(inputs) != self.streams:
            raise ValueError(f"{len(inputs)} input streams for a core with {self.streams}")
        words = (max(map(len, inputs)) + out_bytes) // 8
        self._lib.fs_set_limit(self._sim, max(TIMEOUT_FLOOR, words * CYCLES_PER_WORD_LIMIT))
        out = ctypes.create_string_buffer(out_bytes + 8)
        sizes = [len(data) for data in inputs]
        got = self._check(self._lib.fs_stream(
            self._sim, (ctypes.c_char_p * self.streams)(*inputs),
            (ctypes.c_uint64 * self.streams)(*sizes), out, out_bytes + 8),
            f"a stream transfer of {'+'.join(map(str, sizes))} bytes in, {out_bytes} out")
        result = out.raw[:got]
        result += bytes(-len(result) % 8)
        if len(result) != out_bytes:
            raise FastSimError(f"the core sent {len(result)} result bytes, the driver expected "
                               f"{out_bytes}")
        return result
