"""Matrices through the cocotb benches of the `ternary` and `bfp` blocks: a job file in, Y out.
Used by `llmaccel run` (llmaccel/flows/run.py), the benches and the real-weight tests."""
import tempfile
from pathlib import Path

import numpy as np

from llmaccel.golden.bfp_layout import canonical_nan
from llmaccel.testbench import runner


def simulate_ternary(x: np.ndarray, w: np.ndarray, params: dict, sim: str, tag: str):
    """x int8 [M, K] times trits w [N, K] through the RTL (cocotb test `run_job`, which tiles
    shapes beyond the buffers): (Y int32 [M, N], the test's record with cycles and tiles)."""
    b = runner.build("ternary", params, sim)
    with tempfile.TemporaryDirectory() as tmp:
        job, y_path = Path(tmp) / "job.npz", Path(tmp) / "y.npy"
        np.savez(job, x=x, w=w)
        result = runner.run(b, "llmaccel.testbench.cocotb_ternary", "run_job", seed=1, params=params,
                            tag=tag, env={"LLMACCEL_JOB": str(job), "LLMACCEL_OUT": str(y_path)})
        if not result.ok or not y_path.exists():
            raise RuntimeError(f"simulation failed: see {result.log}\n"
                               + runner.failure_excerpt(result))
        y = np.load(y_path)
    return y, (result.results[0] if result.results else {}), b.module


def simulate_bfp(w: np.ndarray, x: np.ndarray, fmt: str, params: dict, sim: str, tag: str,
                 stall: float = 0.0):
    """Raw rows through the RTL (cocotb test `run_job` of cocotb_bfp.py, which runs M beyond
    m_max in groups of rows and K beyond k_max in parts that continue each other's sums):
    (Y float32 [M, N], the test's record with cycles and runs, the module name)."""
    b = runner.build("bfp", params, sim)
    with tempfile.TemporaryDirectory() as tmp:
        job, y_path = Path(tmp) / "job.npz", Path(tmp) / "y.npy"
        np.savez(job, w=w, x=x, fmt=np.array(fmt))
        result = runner.run(b, "llmaccel.testbench.cocotb_bfp", "run_job", seed=1, params=params, tag=tag,
                            env={"LLMACCEL_JOB": str(job), "LLMACCEL_OUT": str(y_path),
                                 "LLMACCEL_STALL": str(stall)})
        if not result.ok or not y_path.exists():
            raise RuntimeError(f"simulation failed: see {result.log}\n"
                               + runner.failure_excerpt(result))
        y = np.load(y_path)
    return y, (result.results[0] if result.results else {}), b.module


def bit_exact(y: np.ndarray, want: np.ndarray) -> bool:
    return np.array_equal(canonical_nan(y).view(np.uint32), canonical_nan(want).view(np.uint32))
