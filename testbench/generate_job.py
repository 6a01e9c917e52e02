"""The `llmaccel generate` job on the cocotb back end: SmolLM2-135M greedy through the driver inside
the cocotb simulation (cocotb_top.run_generate, through a bridge thread), every product checked
against the golden models. The fast and reference back ends run the same model in-process
(llmaccel/flows/generate.py); this is the slow, cycle-true path through cocotbext-axi."""
import json
import os
import time

import numpy as np

from llmaccel.golden.smollm2 import SmolLM2, greedy, layer_weights, shipped_rows
from llmaccel.host.model import ModelProjections


def generate_job(acc, prompt_ids: list[int], tokens: int, engine: str, out: str,
                 progress_file: str | None = None, weights_mix: str | None = None) -> dict:
    """Writes `out` (.npz: tokens, logits) and `out`.json (the products' records); after each
    token "done total token seconds" to `progress_file` (written whole, then renamed).
    `weights_mix`: as llmaccel generate's --weights ("as-shipped": the file's own rows)."""
    model = SmolLM2()
    head_raw, _ = model.raw_rows("token_embd.weight")
    shipped = shipped_rows(model) if weights_mix == "as-shipped" else None
    proj = ModelProjections(acc, engine, layer_weights(model), head_raw, check=True,
                            mix=weights_mix or "q8_0", shipped=shipped)
    t0 = time.perf_counter()

    def on_token(i, token):
        if progress_file:
            with open(progress_file + ".tmp", "w") as f:
                f.write(f"{i + 1} {tokens} {token} {time.perf_counter() - t0:.1f}\n")
            os.replace(progress_file + ".tmp", progress_file)

    result = greedy(model, prompt_ids, tokens, proj, on_token=on_token)
    np.savez(out, tokens=np.array(result["tokens"]), logits=result["logits"])
    with open(out + ".json", "w") as f:
        json.dump(proj.records, f)
    return {"tokens": result["tokens"], "products": len(proj.records),
            "seconds": round(time.perf_counter() - t0, 1)}
