"""Every llama.cpp weight format the project knows, as data and one dispatch: its block, bytes,
bits per weight and the activation format its dot product takes (llama.cpp's `vec_dot_type`),
and the quantizers and golden dot products of golden/bfp.py, golden/q4q5.py and
golden/kquants.py behind one name.

    format  values/block  bytes  bits/weight  activations
    q8_0         32         34      8.5        q8_0      (golden/bfp.py)
    mxint8       32         33      8.25       mxint8    (OCP MX; golden/bfp.py)
    q4_0         32         18      4.5        q8_0      (golden/q4q5.py)
    q4_1         32         20      5.0        q8_1
    q5_0         32         22      5.5        q8_0
    q5_1         32         24      6.0        q8_1
    q2_K        256         84      2.625      q8_K      (golden/kquants.py)
    q3_K        256        110      3.4375     q8_K
    q4_K        256        144      4.5        q8_K
    q5_K        256        176      5.5        q8_K
    q6_K        256        210      6.5625     q8_K
"""
from dataclasses import dataclass

import numpy as np

from . import bfp, kquants, q4q5


@dataclass(frozen=True)
class Format:
    name: str
    block: int          # values per block
    bytes: int          # bytes per block, as llama.cpp stores it
    activation: str     # the activation format its dot product takes

    @property
    def bits_per_weight(self) -> float:
        return 8 * self.bytes / self.block


FORMATS = {f.name: f for f in (
    Format("q8_0", 32, 34, "q8_0"), Format("mxint8", 32, 33, "mxint8"),
    Format("q4_0", 32, 18, "q8_0"), Format("q4_1", 32, 20, "q8_1"),
    Format("q5_0", 32, 22, "q8_0"), Format("q5_1", 32, 24, "q8_1"),
    Format("q2_K", 256, 84, "q8_K"), Format("q3_K", 256, 110, "q8_K"),
    Format("q4_K", 256, 144, "q8_K"), Format("q5_K", 256, 176, "q8_K"),
    Format("q6_K", 256, 210, "q8_K"))}


def get(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return FORMATS[fmt]


def from_gguf_type(name: str) -> str:
    """A gguf tensor type name (Q4_1, Q8_0, Q4_K, ...) -> ours (q4_1, q8_0, q4_K)."""
    fmt = name[:-1].lower() + "K" if name.endswith("_K") else name.lower()
    if fmt not in FORMATS or fmt == "mxint8":
        raise ValueError(f"the tensor type {name} is not one the BFP engine's formats cover "
                         f"({', '.join(f for f in FORMATS if f != 'mxint8')})")
    return fmt


def quantize_weights(w: np.ndarray, fmt: str) -> np.ndarray:
    """float32 [N, K] -> llama.cpp rows uint8 [N, K / block * bytes] (K-quants: our quantizer)."""
    get(fmt)
    if fmt == "q8_0":
        return bfp.quantize_q8_0(w)
    if fmt == "mxint8":
        return bfp.quantize_mxint8(w)
    if fmt in q4q5.WEIGHT_FORMATS:
        return q4q5.quantize(w, fmt)
    return kquants.quantize(w, fmt)


def quantize_activations(x: np.ndarray, fmt: str) -> np.ndarray:
    """float32 [M, K] -> the activation rows `fmt`'s dot product takes (Q8_0, Q8_1, Q8_K, MXINT8),
    as llama.cpp's quantize_row_<activation>_ref."""
    act = get(fmt).activation
    if act == "q8_0":
        return bfp.quantize_q8_0(x)
    if act == "q8_1":
        return q4q5.quantize_q8_1(x)
    if act == "q8_K":
        return kquants.quantize_q8_k(x)
    return bfp.quantize_mxint8(x)


def matmul(w_raw: np.ndarray, x_raw: np.ndarray, fmt: str) -> np.ndarray:
    """Golden Y [M, N] = the reference dot product of every activation row with every weight row."""
    get(fmt)
    if fmt == "q8_0":
        return bfp.matmul_q8_0(w_raw, x_raw)
    if fmt == "mxint8":
        return bfp.matmul_mxint8(w_raw, x_raw)
    if fmt in q4q5.WEIGHT_FORMATS:
        return q4q5.matmul(w_raw, x_raw, fmt)
    return kquants.matmul(w_raw, x_raw, fmt)
