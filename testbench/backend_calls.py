"""One seeded sequence of driver calls that any back end can run: both engines in turn on random
shapes (beyond the buffers too, so the driver splits M, N and K), every BFP format with special
scales, ternary with sparse and skipped K-slices. Each call leaves a record: its result's bytes
(hashed), the CYCLES of each of the core's runs, and the clock cycles the call took on the back
end. Two back ends that model the same hardware and the same bus timing give the same records
(testbench/test_fast_backend.py: the cocotb back end against the fast one)."""
import hashlib

import numpy as np

from llmaccel.golden.bfp_layout import k_multiple
from llmaccel.testbench.bfp_data import driver_call, random_matmul, random_rows


def random_ternary(rng, m, n, k, sparsity=0.3, zero_slices=0.0, slice_=48):
    """int8 X [M, K] and trits W [N, K]; a fraction of whole K-slices of W zeroed (the engine
    skips those passes)."""
    x = rng.integers(-128, 128, (m, k)).astype(np.int8)
    w = rng.integers(-1, 2, (n, k)).astype(np.int8)
    w[rng.random(w.shape) < sparsity] = 0
    for s in range(0, k, slice_):
        if rng.random() < zero_slices:
            w[:, s:s + slice_] = 0
    return x, w


def random_calls(acc, seed: int, cases: int):
    """(label, call, golden) triples: call() runs one matmul through the driver and returns its
    result, golden() what the golden models give for it."""
    from llmaccel.golden import formats
    from llmaccel.golden.ternary import matmul as ternary_matmul
    rng = np.random.default_rng(seed)
    bp, tp = acc.bfp, acc.ternary
    slice_ = tp["lanes"] * tp["g"]
    for i in range(cases):
        fmt, m, n, k = driver_call(rng, bp, i, seed, i == cases - 1)
        w, x = random_matmul(rng, m, n, k // k_multiple(fmt), fmt, specials=0.05)
        yield (f"bfp {fmt} M={m} N={n} K={k}",
               (lambda fmt=fmt, w=w, x=x: acc.matmul(w, x, fmt)),
               (lambda fmt=fmt, w=w, x=x: formats.matmul(w, x, fmt)))
        m = int(rng.integers(1, tp["m_max"] + 2))
        n = int(rng.integers(1, 3 * tp["rows"] + 4))
        k = int(rng.integers(1, min(tp["k_max"], 4 * slice_) + 1))
        if i == cases - 1:
            k, n = tp["k_max"] + int(rng.integers(1, slice_ + 1)), min(tp["n_max"] + 2, 64)
        x, w = random_ternary(rng, m, n, k, sparsity=float(rng.random()), zero_slices=0.3,
                              slice_=slice_)
        yield (f"ternary M={m} N={n} K={k}", (lambda w=w, x=x: acc.matmul_ternary(w, x)),
               (lambda w=w, x=x: ternary_matmul(x, w)))


def run_calls(acc, elapsed, seed: int, cases: int) -> list[dict]:
    """Run random_calls; `elapsed()` reads the back end's clock cycles so far."""
    records = []
    for label, call, _ in random_calls(acc, seed, cases):
        first, start = len(acc.runs), elapsed()
        y = call()
        records.append({"call": label, "result": hashlib.sha256(y.tobytes()).hexdigest()[:16],
                        "cycles": [r.cycles for r in acc.runs[first:]],
                        "clock_cycles": elapsed() - start})
    return records


def checked_calls(acc, seed: int, cases: int) -> int:
    """Run random_calls, each result against the golden models (BFP float32 bit for bit, NaN as
    the canonical NaN; ternary int32 exactly): AssertionError naming the first call that differs.
    Returns the number of calls."""
    from llmaccel.testbench.job import bit_exact
    count = 0
    for label, call, golden in random_calls(acc, seed, cases):
        y, want = call(), golden()
        same = bit_exact(y, want) if y.dtype == np.float32 else (
            y.dtype == want.dtype and np.array_equal(y, want))
        if not same:
            raise AssertionError(f"{label} (seed {seed}) differs from the golden models")
        count += 1
    return count


def shape_runs(acc, shapes, seed: int = 1, rng=None) -> list[dict]:
    """Benches: each [engine, M, N, K] on seeded random data (Q8_0 for the BFP engine) through
    the driver, each result checked against the golden model; one record per shape with the
    CYCLES summed over the core's runs. `rng` continues a generator instead of seeding one."""
    from llmaccel.golden.bfp import matmul_q8_0
    from llmaccel.golden.ternary import matmul
    from llmaccel.testbench.job import bit_exact
    rng = np.random.default_rng(seed) if rng is None else rng
    records = []
    for engine, m, n, k in shapes:
        first = len(acc.runs)
        if engine == "bfp":
            x, w = random_rows(rng, m, k // 32, "q8_0"), random_rows(rng, n, k // 32, "q8_0")
            if not bit_exact(acc.matmul_q8_0(w, x), matmul_q8_0(w, x)):
                raise AssertionError(f"bfp {m}x{n}x{k} differs from the golden model")
        else:
            x, w = random_ternary(rng, m, n, k, sparsity=0.3)
            if not np.array_equal(acc.matmul_ternary(w, x), matmul(x, w)):
                raise AssertionError(f"ternary {m}x{n}x{k} differs from the golden model")
        runs = acc.runs[first:]
        records.append({"engine": engine, "m": m, "n": n, "k": k, "runs": len(runs),
                        "cycles": sum(r.cycles for r in runs)})
    return records
