"""The driver's API computed by the golden models instead of the hardware: what the core must
return, bit for bit, for the same calls (golden/bfp.py, golden/ternary.py). A host program can
run its model on it to get the expected numbers, then on the core, and compare. `matmul` covers
every llama.cpp format of golden/formats.py, the ones the core does not take yet too."""
import numpy as np

from llmaccel.golden import bfp, formats, ternary


class ReferenceAccelerator:
    def matmul_q8_0(self, w_raw: np.ndarray, x_raw: np.ndarray) -> np.ndarray:
        return bfp.matmul_q8_0(w_raw, x_raw)

    def matmul_mxint8(self, w_raw: np.ndarray, x_raw: np.ndarray) -> np.ndarray:
        return bfp.matmul_mxint8(w_raw, x_raw)

    def matmul(self, w_raw: np.ndarray, x_raw: np.ndarray, fmt: str) -> np.ndarray:
        """Any format of golden/formats.py, including those the core does not take yet."""
        return formats.matmul(w_raw, x_raw, fmt)

    def pack_ternary(self, w: np.ndarray) -> np.ndarray:
        """Nothing to pack for the golden model: the trits themselves."""
        return w

    def matmul_ternary(self, w: np.ndarray, x: np.ndarray) -> np.ndarray:
        return ternary.matmul(x, w)
