"""A layer's projections on the accelerator: the glue between a float32 model (the `project`
callback of golden/smollm2.decode_layer) and the driver's integer/block API.

- `Q8_0Projections`: the weights requantized to llama.cpp Q8_0 once (from the GGUF file's own
  types); per call the activations quantized as llama.cpp's quantize_row_q8_0_ref does, then
  `acc.matmul_q8_0`: y = the float32 dot products, no further scaling.
- `TernaryProjections`: the weights absmean-ternarized once (BitNet b1.58: trits and one float32
  scale per matrix); per call the activations absmax-quantized to int8 per row, then
  `acc.matmul_ternary` (exact int32), then y = float32(y_int) * (x_scale * w_scale).
SmolLM2 was trained in float, not ternary: the ternary numbers show what the engine computes on
real shapes and activations, not a usable ternary SmolLM2.

Each call is recorded (name, engine, the float32 input, the engine's raw result, the result,
the core's cycles and runs) for the report and for checking the engine against the golden models.
"""
import numpy as np

from llmaccel.golden.bfp import quantize_q8_0
from llmaccel.golden.ternary import absmean_ternarize, dequantize, quantize_acts_absmax


class _Projections:
    engine = ""

    def __init__(self, weights: dict, acc, progress=None):
        self.acc = acc
        self.progress = progress
        self.records = []
        self.weights = {name: self.prepare(w) for name, w in weights.items()}

    def __call__(self, name: str, x: np.ndarray) -> np.ndarray:
        runs = getattr(self.acc, "runs", None)
        first = len(runs) if runs is not None else 0
        raw, y = self.compute(self.weights[name], x)
        mine = runs[first:] if runs is not None else []
        self.records.append({"name": name, "engine": self.engine, "x": x, "raw": raw, "y": y,
                             "cycles": sum(r.cycles for r in mine), "runs": len(mine)})
        if self.progress:
            self.progress(self.engine, name)
        return y


class Q8_0Projections(_Projections):
    engine = "bfp"

    def prepare(self, w):
        return quantize_q8_0(w)

    def compute(self, wq, x):
        y = self.acc.matmul_q8_0(wq, quantize_q8_0(x))
        return y, y


class TernaryProjections(_Projections):
    engine = "ternary"

    def prepare(self, w):
        return absmean_ternarize(w)

    def compute(self, prepared, x):
        trits, w_scale = prepared
        xq, x_scale = quantize_acts_absmax(x)
        y_int = self.acc.matmul_ternary(trits, xq)
        return y_int, dequantize(y_int, x_scale, w_scale)


ENGINES = {"bfp": Q8_0Projections, "ternary": TernaryProjections}
