"""The host driver of the llmaccel core (generators/top.py): one API for both engines, over any back
end that can read and write a 32-bit register and move one stream transfer.

    acc = Accelerator(backend)
    y = acc.matmul_q8_0(w_raw, x_raw)     # llama.cpp Q8_0 rows -> float32 [M, N], bit-exact
    y = acc.matmul_ternary(w, x)          # trits int8 [N, K], int8 [M, K] -> int32 [M, N]
    acc.read("status"); acc.write("engine", 1)

It also drives the `bfp` block alone (its map is the core's without the ternary registers):
the ID register tells which, and `matmul_ternary` is then refused.

A back end provides `read32(offset) -> int`, `write32(offset, value)` and
`stream(inputs: list[bytes], out_bytes: int) -> bytes` (send each input stream's words, one bytes
object per input stream of the core (STREAMS; the `bfp` block has one), all at once; return the
output packet as whole 64-bit words). The driver spreads a run's input over the streams as
golden/bfp_layout.input_streams (BFP: weight rows interleaved) and
golden/top_layout.ternary_input_streams (ternary: words round robin) define.
host/sim_backend.py drives the simulated core through cocotb, host/fast_backend.py through a
Verilated model; host/pynq_backend.py drives the board through PYNQ's MMIO and AXI DMAs.

Shapes beyond the core's buffers are split here, exactly: rows of X in groups of M_MAX (rows are
independent), N in groups (columns are independent), and K in parts: the BFP engine continues
each part's float32 sums through SUM_IN (the same additions in the same order as one pass), the
ternary engine's int32 partial sums are added here (integer addition is exact). Q3_K..Q6_K's K
cannot be split (their reference keeps nine sums per row): K above K_MAX is refused for them.
"""
from dataclasses import dataclass

import numpy as np

from llmaccel.golden import formats
from llmaccel.golden.bfp_layout import (ACTIVATION, BLOCK_BYTES, input_streams, k_refusal,
                                        output_words, pack_weights, unpack_output)
from llmaccel.golden.register_maps import BFP_ID_VALUE, ENGINES, ERROR_BITS, FORMATS
from llmaccel.golden.register_maps import CORE_ID_VALUE as ID_VALUE, CORE_REGISTERS as REGISTERS
from llmaccel.golden.top_layout import (ternary_input_streams, ternary_output,
                                        ternary_result_values, ternary_weights)

OFFSETS = {r.name: r.offset for r in REGISTERS}
STATUS_BUSY, STATUS_DONE, STATUS_ERROR = 1, 2, 4
BFP_N_MAX = 65535
DONE_POLLS = 100


class AcceleratorError(RuntimeError):
    """The core refused a start, is not an llmaccel core, or did not finish."""


@dataclass
class Run:
    """One start of the core: what ran and the CYCLES register after it."""
    engine: str
    m: int
    n: int
    k: int
    cycles: int


class Accelerator:
    def __init__(self, backend):
        self.backend = backend
        ident = self.read("id")
        if ident not in (ID_VALUE, BFP_ID_VALUE):
            raise AcceleratorError(f"ID register reads {ident:#010x}, not {ID_VALUE:#010x} (the "
                                   f"core) or {BFP_ID_VALUE:#010x} (the bfp block alone): not an "
                                   "llmaccel core (or the wrong address)")
        params = self.read("params")
        self.bfp = {"mac_lanes": params & 0xFF, "out_lanes": params >> 8 & 0xFF,
                    "m_max": params >> 16 & 0xFF, "k_max": self.read("k_max")}
        self.runs: list[Run] = []
        self.ternary = None          # the bfp block alone has no ternary engine (nor ENGINE)
        self.streams = 1             # ... and one input stream
        if ident == BFP_ID_VALUE:
            return
        self.streams = self.read("streams")
        if not 1 <= self.streams <= 16:
            raise AcceleratorError(f"STREAMS reads {self.streams}: not a core this driver knows")
        geometry = self.read("tern_geometry")
        self.ternary = {"g": geometry & 0xF, "rows": geometry >> 4 & 0xF,
                        "lanes": geometry >> 8 & 0x1FF, "m_max": self.read("tern_m_max"),
                        "k_max": self.read("tern_k_max"), "n_max": self.read("tern_n_max")}

    # ---- registers -----------------------------------------------------------------------------
    def read(self, name: str) -> int:
        return self.backend.read32(self._offset(name))

    def write(self, name: str, value: int) -> None:
        self.backend.write32(self._offset(name), int(value) & 0xFFFFFFFF)

    @staticmethod
    def _offset(name: str) -> int:
        try:
            return OFFSETS[name]
        except KeyError:
            raise ValueError(f"no register {name!r}; registers: {', '.join(OFFSETS)}") from None

    def _start(self, engine: str, m: int, k: int, n: int, **extra) -> None:
        engine_reg = (("engine", ENGINES[engine]),) if self.ternary is not None else ()
        for name, value in (*engine_reg, ("m", m), ("k", k), ("n", n), *extra.items()):
            self.write(name, value)
        self.write("ctrl", 1)
        if self.read("status") & STATUS_ERROR:
            error = self.read("error")
            why = [name for name, bit in ERROR_BITS.items() if error >> bit & 1]
            raise AcceleratorError(f"the core refused {engine} M={m} K={k} N={n}: bad "
                                   f"{', '.join(why)} (ERROR = {error:#x})")

    def _finish(self, engine: str, m: int, n: int, k: int) -> int:
        for _ in range(DONE_POLLS):
            status = self.read("status")
            if status & STATUS_DONE and not status & STATUS_BUSY:
                cycles = self.read("cycles")
                self.runs.append(Run(engine, m, n, k, cycles))
                return cycles
        raise AcceleratorError(f"the core is still busy after its results (STATUS = {status:#x})")

    # ---- BFP -----------------------------------------------------------------------------------
    def matmul_q8_0(self, w_raw: np.ndarray, x_raw: np.ndarray) -> np.ndarray:
        """Y = X . W^T on llama.cpp Q8_0 rows (uint8 [rows, K / 32 * 34]): float32 [M, N], bit for
        bit llama.cpp's ggml_vec_dot_q8_0_q8_0 (golden.bfp.matmul_q8_0)."""
        return self.matmul(w_raw, x_raw, "q8_0")

    def matmul_mxint8(self, w_raw: np.ndarray, x_raw: np.ndarray) -> np.ndarray:
        """Y = X . W^T on OCP MXINT8 rows (uint8 [rows, K / 32 * 33]): float32 [M, N]."""
        return self.matmul(w_raw, x_raw, "mxint8")

    def matmul(self, w_raw, x_raw: np.ndarray, fmt: str) -> np.ndarray:
        """Y = X . W^T on raw llama.cpp rows of `fmt` (golden/formats.py), weights in `fmt` (or
        packed once by pack_bfp), the activations in its activation format (ACTIVATION: Q8_0 for
        Q4_0/Q5_0, Q8_1 for Q4_1/Q5_1, Q8_K for Q2_K..Q6_K): bit for bit golden.formats.matmul.
        The core's BFP engine takes the formats of FORMATS; K beyond its K_MAX runs in parts
        (SUM_IN) for the formats of SPLIT_FORMATS."""
        packed = w_raw if isinstance(w_raw, PackedBfp) else self.pack_bfp(w_raw, fmt)
        if packed.fmt != fmt:
            raise ValueError(f"these weights were packed as {packed.fmt}, not {fmt}")
        if packed.geometry != self.bfp:
            raise ValueError("these weights were packed for another BFP engine geometry")
        xb = _check_rows(x_raw, "activations", ACTIVATION[fmt])
        n_all, blocks = packed.shape
        qk = formats.get(fmt).block
        if blocks != x_raw.shape[1] // xb:
            raise ValueError(f"K disagrees: weights have {blocks * qk} values per row, "
                             f"activations {x_raw.shape[1] // xb * qk}")
        p = self.bfp
        y = np.empty((x_raw.shape[0], n_all), dtype=np.float32)
        step = p["k_max"] // qk                      # blocks per part
        for m0 in range(0, x_raw.shape[0], p["m_max"]):
            x = x_raw[m0:m0 + p["m_max"]]
            for n0 in range(0, n_all, BFP_N_MAX):
                n = min(BFP_N_MAX, n_all - n0)
                part = None
                for b0 in range(0, blocks, step):
                    part = self._run_bfp(packed.parts[(n0, b0)], n, x[:, b0 * xb:(b0 + step) * xb],
                                         fmt, part)
                y[m0:m0 + x.shape[0], n0:n0 + n] = part
        return y

    def pack_bfp(self, w_raw: np.ndarray, fmt: str) -> "PackedBfp":
        """llama.cpp weight rows of `fmt` packed once into the engine's stream words
        (golden/bfp_layout.py), for every part the driver splits them into: pass the result to
        matmul in place of the rows, so a model's weights are packed when it is loaded, not per
        call."""
        formats.get(fmt)                             # an unknown name: a clear error
        wb = _check_rows(w_raw, "weights", fmt)
        qk = formats.get(fmt).block
        blocks, step = w_raw.shape[1] // wb, self.bfp["k_max"] // qk
        refusal = k_refusal(fmt, blocks * qk, self.bfp["k_max"])
        if refusal:
            raise ValueError(refusal)
        parts = {(n0, b0): pack_weights(w_raw[n0:n0 + BFP_N_MAX, b0 * wb:(b0 + step) * wb], fmt)
                 for n0 in range(0, w_raw.shape[0], BFP_N_MAX) for b0 in range(0, blocks, step)}
        return PackedBfp((w_raw.shape[0], blocks), fmt, dict(self.bfp), parts)

    def _run_bfp(self, rows, n, x, fmt, sums):
        m, k = x.shape[0], x.shape[1] // BLOCK_BYTES[ACTIVATION[fmt]] * formats.get(fmt).block
        self._start("bfp", m, k, n, format=FORMATS[fmt], sum_in=int(sums is not None))
        data = input_streams(None, x, fmt, self.streams, sums, self.bfp["out_lanes"],
                             packed_weights=rows)
        out = self.backend.stream(data, output_words(m, n) * 8)
        self._finish("bfp", m, n, k)
        return unpack_output(out, m, n, self.bfp["out_lanes"])

    # ---- ternary -------------------------------------------------------------------------------
    def pack_ternary(self, w: np.ndarray) -> "PackedTernary":
        """Trits W int8 [N, K] packed once into the engine's weight beats, for every part the
        driver splits it into: pass the result to matmul_ternary in place of W, so a model's
        weights are packed when it is loaded, not per call."""
        if self.ternary is None:
            raise AcceleratorError("this is the bfp block alone: it has no ternary engine")
        if not isinstance(w, np.ndarray) or w.dtype != np.int8 or w.ndim != 2 or not w.size:
            raise ValueError("weights must be a non-empty 2-D int8 array of trits")
        if ((w < -1) | (w > 1)).any():
            n, k = np.argwhere((w < -1) | (w > 1))[0]
            raise ValueError(f"weights must be trits in {{-1, 0, +1}}: W[{n}, {k}] = {w[n, k]}")
        p = self.ternary
        parts = {(n0, k0): ternary_weights(w[n0:n0 + p["n_max"], k0:k0 + p["k_max"]], p["g"],
                                           p["lanes"], p["rows"])
                 for n0 in range(0, w.shape[0], p["n_max"])
                 for k0 in range(0, w.shape[1], p["k_max"])}
        return PackedTernary(w.shape, dict(p), parts)

    def matmul_ternary(self, w, x: np.ndarray) -> np.ndarray:
        """Y = X . W^T with trits W int8 [N, K] in {-1, 0, +1} (or W packed by pack_ternary) and
        X int8 [M, K]: int32 [M, N], exact (golden.ternary.matmul)."""
        packed = w if isinstance(w, PackedTernary) else self.pack_ternary(w)
        if packed.geometry != self.ternary:
            raise ValueError("these weights were packed for another ternary engine geometry")
        if not isinstance(x, np.ndarray) or x.dtype != np.int8 or x.ndim != 2 or not x.size:
            raise ValueError("activations must be a non-empty 2-D int8 array")
        n_all, k_all = packed.shape
        if k_all != x.shape[1]:
            raise ValueError(f"K disagrees: weights [N, K] = {list(packed.shape)}, activations "
                             f"[M, K] = {list(x.shape)}")
        p = self.ternary
        acc = np.zeros((x.shape[0], n_all), dtype=np.int64)
        for m0 in range(0, x.shape[0], p["m_max"]):
            for n0 in range(0, n_all, p["n_max"]):
                n = min(p["n_max"], n_all - n0)
                for k0 in range(0, k_all, p["k_max"]):
                    xs = x[m0:m0 + p["m_max"], k0:k0 + p["k_max"]]
                    acc[m0:m0 + xs.shape[0], n0:n0 + n] += self._run_ternary(
                        packed.parts[(n0, k0)], xs, n)
        if acc.size and (acc.min() < -(1 << 31) or acc.max() >= 1 << 31):
            raise ValueError("the result overflows int32 (K too long for int8 activations)")
        return acc.astype(np.int32)

    def _run_ternary(self, weights, x, n):
        p = self.ternary
        m, k = x.shape
        self._start("ternary", m, k, n)
        data = ternary_input_streams(x, None, p["g"], p["lanes"], p["rows"], self.streams,
                                     weights=weights)
        out = self.backend.stream(data, -(-ternary_result_values(m, n, p["rows"]) // 2) * 8)
        self._finish("ternary", m, n, k)
        return ternary_output(out, m, n, p["rows"])


def _check_rows(raw, name: str, fmt: str) -> int:
    """Raw llama.cpp rows of row format `fmt` (a clear error otherwise): its bytes per block."""
    bpb = BLOCK_BYTES[fmt]
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8 or raw.ndim != 2 or not raw.size:
        raise ValueError(f"{name} must be raw {fmt} rows: a non-empty 2-D uint8 array")
    if raw.shape[1] % bpb:
        raise ValueError(f"{name}: {raw.shape[1]} bytes per row is not a whole number of "
                         f"{bpb}-byte {fmt} blocks")
    return bpb


@dataclass(frozen=True)
class PackedBfp:
    """BFP weights packed by Accelerator.pack_bfp: (N, blocks per row), the format, the engine
    geometry they were packed for, and per part (n0, b0) of the driver's split its stream rows
    (uint8 [rows, words * 8])."""
    shape: tuple
    fmt: str
    geometry: dict
    parts: dict


@dataclass(frozen=True)
class PackedTernary:
    """Ternary weights packed by Accelerator.pack_ternary: W's shape, the engine geometry they
    were packed for, and per part (n0, k0) of the driver's split its stream bytes and skipped
    passes."""
    shape: tuple
    geometry: dict
    parts: dict
