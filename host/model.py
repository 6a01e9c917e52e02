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

With `check`, every product is also computed by the golden models (host/reference.py) on the
same quantized inputs and compared bit for bit (float32 bits, NaN as NaN; int32 exactly); each
call is recorded with its cycles (the CYCLES register of every run the driver made for it).
"""
import numpy as np

from llmaccel.golden import formats, ternary
from llmaccel.golden.bfp_layout import canonical_nan
from llmaccel.golden.quant_mix import tensor_format
from llmaccel.golden.smollm2 import HEAD


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype == np.float32:
        return np.array_equal(canonical_nan(a).view(np.uint32), canonical_nan(b).view(np.uint32))
    return a.dtype == b.dtype and np.array_equal(a, b)


class ModelProjections:
    def __init__(self, acc, engine: str, weights: dict, head_q8_0: np.ndarray, check: bool = True,
                 mix: str = "q8_0", shipped: dict | None = None):
        """`weights`: {(layer, projection): float32 W [N, K]}; `shipped`: {(layer, projection):
        (format, raw rows)} as the file stores them, used instead of `mix` when given."""
        if engine not in ("bfp", "ternary"):
            raise ValueError(f"engine must be bfp or ternary, not {engine!r}")
        self.acc, self.engine, self.check = acc, engine, check
        self.records = []
        # The core's driver packs BFP rows into its stream words once, here (pack_bfp); the
        # golden models take the raw rows.
        pack = getattr(acc, "pack_bfp", lambda raw, fmt: raw)
        self.head = (head_q8_0, pack(head_q8_0, "q8_0"))
        if engine == "bfp" and shipped is not None:
            self.weights = {key: (fmt, raw, pack(raw, fmt)) for key, (fmt, raw) in shipped.items()}
        elif engine == "bfp":
            layers = 1 + max(layer for layer, _ in weights)
            self.weights = {}
            for (layer, name), w in weights.items():
                fmt = tensor_format(mix, name, layer, layers, w.shape[1])
                raw = formats.quantize_weights(w, fmt)
                self.weights[(layer, name)] = (fmt, raw, pack(raw, fmt))
        else:
            self.weights = {}
            for key, w in weights.items():
                trits, scale = ternary.absmean_ternarize(w)
                self.weights[key] = (trits, scale, acc.pack_ternary(trits))

    def __call__(self, key, x: np.ndarray) -> np.ndarray:
        runs = getattr(self.acc, "runs", None)
        first = len(runs) if runs is not None else 0
        if key == HEAD or self.engine == "bfp":
            fmt, w, packed = ("q8_0", *self.head) if key == HEAD else self.weights[key]
            xq = formats.quantize_activations(x, fmt)
            y = raw = self.acc.matmul(packed, xq, fmt)
            engine = "bfp"
            want = formats.matmul(w, xq, fmt) if self.check else None
        else:
            trits, w_scale, packed = self.weights[key]
            xq, x_scale = ternary.quantize_acts_absmax(x)
            raw = self.acc.matmul_ternary(packed, xq)
            y = ternary.dequantize(raw, x_scale, w_scale)
            engine = "ternary"
            fmt, w = "ternary", None
            want = ternary.matmul(xq, trits) if self.check else None
        mine = runs[first:] if runs is not None else []
        self.records.append({"key": key, "engine": engine, "m": x.shape[0], "n": y.shape[1],
                             "k": x.shape[1], "format": fmt,
                             "weight_bytes": int(w.nbytes) if fmt != "ternary" else None,
                             "cycles": sum(r.cycles for r in mine),
                             "runs": len(mine),
                             "bit_exact": None if want is None else _same_bits(raw, want)})
        return y
