"""A whole model's matrix products on the accelerator: the `project(key, x)` callback of
golden/smollm2.forward, over the driver (host/driver.py) and any of its back ends.

- engine "bfp": every layer's weights in the format the weight mix gives it (golden/quant_mix.py:
  "q8_0" requantizes the file's Q4_1 layers to Q8_0 once, at load; "q4_k_m" and the others follow
  llama.cpp's mixes with our quantizers), or, with `shipped`, the file's own rows as shipped
  (Q4_1); the LM head is the file's own Q8_0 `token_embd.weight` rows, as shipped. The rows are
  packed into the core's stream words once, at load (Accelerator.pack_bfp). Per call the
  activations are quantized into the format's activation format (Q8_0, Q8_1 or Q8_K, as llama.cpp's
  quantize_row_*_ref), then `acc.matmul(packed rows, x, format)`.
- engine "ternary": every layer's weights absmean-ternarized once (BitNet b1.58) and packed into
  the engine's beats once (Accelerator.pack_ternary); per call int8 absmax activations,
  `acc.matmul_ternary`, then float32 scaling. The LM head stays on the BFP engine in Q8_0, as
  BitNet keeps its head at higher precision.

Matrices that share an input and a format (q, k, v; gate, up: golden/smollm2.SHARED_INPUTS) are
stacked row-wise at load and run as one matmul (golden/smollm2.forward calls `shared` with all of
them): one activation row and one pipeline drain per stack instead of per matrix; each row's
result is the same as alone, bit for bit.

With `check`, every product is also computed by the golden models (host/reference.py) on the
same quantized inputs and compared bit for bit (float32 bits, NaN as NaN; int32 exactly); each
matmul is recorded (key (layer, "q,k,v") for a stack) with its cycles (the CYCLES register of
every run the driver made for it).
"""
import numpy as np

from llmaccel.golden import formats, ternary
from llmaccel.golden.bfp_layout import canonical_nan
from llmaccel.golden.quant_mix import tensor_format
from llmaccel.golden.smollm2 import HEAD, stacks


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype == np.float32:
        return np.array_equal(canonical_nan(a).view(np.uint32), canonical_nan(b).view(np.uint32))
    return a.dtype == b.dtype and np.array_equal(a, b)


class ModelProjections:
    def __init__(self, acc, engine: str, weights: dict, head_q8_0: np.ndarray, check: bool = True,
                 mix: str = "q8_0", shipped: dict | None = None):
        """`weights`: {(layer, projection): float32 W [N, K]}; `shipped`: {(layer, projection):
        (format, raw rows)} as the file stores them, used instead of `mix` when given. The
        matrices that share an input and a format (`stacks`) are stacked row-wise at load, as a
        fused QKV is: one run of the core each, the results split per matrix after it."""
        if engine not in ("bfp", "ternary"):
            raise ValueError(f"engine must be bfp or ternary, not {engine!r}")
        self.acc, self.engine, self.check = acc, engine, check
        self.records = []
        # The core's driver packs BFP rows into its stream words once, here (pack_bfp); the
        # golden models take the raw rows.
        pack = getattr(acc, "pack_bfp", lambda raw, fmt: raw)
        self.head = {"keys": [HEAD], "name": HEAD, "fmt": "q8_0", "raw": head_q8_0,
                     "packed": pack(head_q8_0, "q8_0"), "sizes": [head_q8_0.shape[0]]}
        if engine == "bfp" and shipped is not None:
            prepared = dict(shipped)
        elif engine == "bfp":
            layers = 1 + max(layer for layer, _ in weights)
            prepared = {}
            for (layer, name), w in weights.items():
                fmt = tensor_format(mix, name, layer, layers, w.shape[1])
                prepared[(layer, name)] = (fmt, formats.quantize_weights(w, fmt))
        else:
            prepared = {key: ("ternary", ternary.absmean_ternarize(w))
                        for key, w in weights.items()}
        self.matrices = {}
        for keys in stacks({key: fmt for key, (fmt, _) in prepared.items()}):
            fmt = prepared[keys[0]][0]
            parts = [prepared[key][1] for key in keys]
            name = (keys[0][0], ",".join(n for _, n in keys))
            if fmt == "ternary":
                trits = np.concatenate([t for t, _ in parts])
                matrix = {"raw": trits, "scales": [s for _, s in parts],
                          "packed": acc.pack_ternary(trits),
                          "sizes": [t.shape[0] for t, _ in parts]}
            else:
                raw = np.concatenate(parts)
                matrix = {"raw": raw, "packed": pack(raw, fmt),
                          "sizes": [r.shape[0] for r in parts]}
            matrix.update(keys=keys, name=name, fmt=fmt)
            for key in keys:
                self.matrices[key] = matrix

    def __call__(self, key, x: np.ndarray) -> np.ndarray:
        """The product of `x` with `key`'s weights (a member of a stack runs the whole stack:
        golden/smollm2.forward calls `shared` with every member instead)."""
        return self.shared([key], x)[0]

    def shared(self, keys: list, x: np.ndarray) -> list[np.ndarray]:
        """The products of one input `x` with every key's weights, one run per stack."""
        ys = {}
        for key in keys:
            if key not in ys:
                matrix = self.head if key == HEAD else self.matrices[key]
                ys.update(zip(matrix["keys"], self._run(matrix, x)))
        return [ys[key] for key in keys]

    def _run(self, matrix: dict, x: np.ndarray) -> list[np.ndarray]:
        runs = getattr(self.acc, "runs", None)
        first = len(runs) if runs is not None else 0
        fmt, w, packed = matrix["fmt"], matrix["raw"], matrix["packed"]
        cuts = np.cumsum(matrix["sizes"])[:-1]
        if fmt != "ternary":
            xq = formats.quantize_activations(x, fmt)
            raw = self.acc.matmul(packed, xq, fmt)
            ys = np.split(raw, cuts, axis=1)
            want = formats.matmul(w, xq, fmt) if self.check else None
        else:
            xq, x_scale = ternary.quantize_acts_absmax(x)
            raw = self.acc.matmul_ternary(packed, xq)
            ys = [ternary.dequantize(part, x_scale, scale)
                  for part, scale in zip(np.split(raw, cuts, axis=1), matrix["scales"])]
            want = ternary.matmul(xq, w) if self.check else None
        mine = runs[first:] if runs is not None else []
        self.records.append({"key": matrix["name"], "engine": "ternary" if fmt == "ternary"
                             else "bfp", "m": x.shape[0], "n": raw.shape[1],
                             "k": x.shape[1], "format": fmt,
                             "matrices": len(matrix["keys"]),
                             "weight_bytes": int(w.nbytes) if fmt != "ternary" else None,
                             "cycles": sum(r.cycles for r in mine),
                             "runs": len(mine),
                             "bit_exact": None if want is None else _same_bits(raw, want)})
        return ys
