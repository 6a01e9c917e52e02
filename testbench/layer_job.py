"""The `llmaccel decode` job on any back end: one decode step of a SmolLM2-135M layer through the
driver, its seven projections on the BFP engine (Q8_0), then on the ternary engine (absmean
trits). Run inside cocotb (cocotb_top.run_layer, through a bridge thread) or in-process on the fast
back end (llmaccel/flows/decode.py)."""
import os
import time

import numpy as np

from llmaccel.golden.smollm2 import PROJECTIONS, SmolLM2, decode_layer
from llmaccel.host.decode import ENGINES


def layer_job(acc, layer: int, progress_file: str | None = None) -> dict:
    """Every projection's record as arrays ({engine}_{i}_x, _raw, _y, _name, _cycles, _runs;
    {engine}_out); "done total engine projection seconds" written whole to `progress_file`
    after each projection (then renamed: a reader never sees half a line)."""
    model = SmolLM2()
    weights = {name: model.weight(f"blk.{layer}.{t}.weight") for name, t in PROJECTIONS.items()}
    total = len(ENGINES) * len(PROJECTIONS)
    t0, done = time.perf_counter(), []

    def progress(engine, name):
        done.append(name)
        if progress_file:
            with open(progress_file + ".tmp", "w") as f:
                f.write(f"{len(done)} {total} {engine} {name} {time.perf_counter() - t0:.1f}\n")
            os.replace(progress_file + ".tmp", progress_file)

    out = {}
    for engine, cls in ENGINES.items():
        proj = cls(weights, acc, progress)
        result = decode_layer(model, proj, layer)
        out[f"{engine}_out"] = result["out"]
        for i, r in enumerate(proj.records):
            for key in ("x", "raw", "y"):
                out[f"{engine}_{i}_{key}"] = r[key]
            out[f"{engine}_{i}_name"] = np.array(r["name"])
            out[f"{engine}_{i}_cycles"] = np.array(r["cycles"])
            out[f"{engine}_{i}_runs"] = np.array(r["runs"])
    return out
