"""`llmaccel run ternary|bfp`: a user's matrices (.npy files) through the RTL simulation of the
accelerator, checked against the golden model; bad files are a JobError (exit status 2, one line)."""
import numpy as np

from llmaccel.golden import formats
from llmaccel.generators.bfp_core import BfpCore
from llmaccel.generators.params import resolve
from llmaccel.golden.bfp_layout import ACTIVATION, BLOCK_BYTES, k_refusal, row_block
from llmaccel.golden.ternary import matmul
from llmaccel.testbench.job import bit_exact, simulate_bfp, simulate_ternary


class JobError(ValueError):
    """Bad input files: exit status 2, one line."""


def load_npy(path: str, what: str) -> np.ndarray:
    """One array from a .npy file, or a JobError saying why not."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise JobError(f"{what} file {path!r} not found") from None
    except (ValueError, OSError, EOFError):
        raise JobError(f"{what} file {path!r} is not a NumPy .npy array") from None
    if not isinstance(array, np.ndarray):
        raise JobError(f"{what} file {path!r} holds several arrays; give one .npy array")
    return array


def load_matrix(path: str, what: str) -> np.ndarray:
    array = load_npy(path, what)
    if array.dtype != np.int8:
        raise JobError(f"{what} must be int8, not {array.dtype} ({path})")
    if array.ndim != 2 or 0 in array.shape:
        raise JobError(f"{what} must be a non-empty 2-D array, not shape {array.shape} ({path})")
    return array


def check_ternary_job(w: np.ndarray, x: np.ndarray, params: dict):
    bad = np.argwhere((w < -1) | (w > 1))
    if len(bad):
        n, k = bad[0]
        raise JobError(f"weights must be trits in {{-1, 0, 1}}: W[{n}, {k}] = {w[n, k]}")
    if x.shape[1] != w.shape[1]:
        raise JobError(f"K disagrees: weights [N, K] = {list(w.shape)}, acts [M, K] = "
                       f"{list(x.shape)}")
    lo, hi = -(1 << (params["act_bits"] - 1)), (1 << (params["act_bits"] - 1)) - 1
    bad = np.argwhere((x < lo) | (x > hi))
    if len(bad):
        i, k = bad[0]
        raise JobError(f"acts must fit act_bits = {params['act_bits']} ({lo} .. {hi}): "
                       f"X[{i}, {k}] = {x[i, k]}")
    if x.shape[1] * (1 << (params["act_bits"] - 1)) >= 1 << 31:
        raise JobError(f"K = {x.shape[1]} could overflow the int32 result")


def run_ternary(weights: str, acts: str, out: str, sim: str, params: dict) -> str:
    w = load_matrix(weights, "weights")
    x = load_matrix(acts, "acts")
    check_ternary_job(w, x, params)
    y, rec, module = simulate_ternary(x, w, params, sim, "run")
    np.save(out, y)
    exact = np.array_equal(y, matmul(x, w))
    tiles = f" in {rec['tiles']} tiles" if rec.get("tiles", 1) > 1 else ""
    return (f"Y int32 {list(y.shape)} written to {out}: {rec.get('cycles', '?')} cycles{tiles} "
            f"on {module} ({sim}), "
            f"{'bit-exact with' if exact else 'DIFFERS FROM'} the golden model"), exact



# --- BFP: llama.cpp rows of any FORMATS format ---------------------------------------------------------------
def load_raw_rows(path: str, what: str, fmt: str) -> np.ndarray:
    """A .npy of raw llama.cpp rows: uint8 [rows, blocks * block bytes]."""
    array = load_npy(path, what)
    if array.dtype != np.uint8:
        raise JobError(f"{what} must be raw {fmt} blocks as uint8, not {array.dtype} ({path})")
    if array.ndim != 2 or 0 in array.shape:
        raise JobError(f"{what} must be a non-empty 2-D array [rows, bytes], not shape "
                       f"{array.shape} ({path})")
    bpb = BLOCK_BYTES[fmt]            # a row format: a weight format or its activation format
    qk = row_block(fmt)
    if array.shape[1] % bpb:
        raise JobError(f"{what}: rows of {array.shape[1]} bytes are not whole {fmt} blocks "
                       f"({bpb} bytes per {qk} values, so K must be a multiple of {qk}) ({path})")
    return array


def check_bfp_job(w: np.ndarray, x: np.ndarray, fmt: str, params: dict):
    qk = formats.get(fmt).block
    kw = w.shape[1] // BLOCK_BYTES[fmt] * qk
    kx = x.shape[1] // BLOCK_BYTES[ACTIVATION[fmt]] * qk
    if kw != kx:
        raise JobError(f"K disagrees: weights have {kw} values per row, acts {kx}")
    if w.shape[0] >= 1 << 16:
        raise JobError(f"N = {w.shape[0]} rows of weights: at most 65535 per run")
    refusal = k_refusal(fmt, kw, resolve(BfpCore.PARAMS, params)["k_max"])
    if refusal:
        raise JobError(refusal)


def run_bfp(weights: str, acts: str, out: str, fmt: str, sim: str, params: dict):
    w = load_raw_rows(weights, "weights", fmt)
    x = load_raw_rows(acts, "acts", ACTIVATION[fmt])
    check_bfp_job(w, x, fmt, params)
    y, rec, module = simulate_bfp(w, x, fmt, params, sim, "run")
    np.save(out, y)
    want = formats.matmul(w, x, fmt)
    exact = bit_exact(y, want)
    tiles = f" in {rec['tiles']} runs (M > m_max or K > k_max)" if rec.get("tiles", 1) > 1 else ""
    return (f"Y float32 {list(y.shape)} written to {out}: {rec.get('cycles', '?')} cycles{tiles} "
            f"on {module} ({sim}), {fmt}, "
            f"{'bit-exact with' if exact else 'DIFFERS FROM'} the golden model"), exact
