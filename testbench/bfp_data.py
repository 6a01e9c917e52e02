"""Random llama.cpp rows for the BFP tests (Amaranth-simulator and cocotb tiers): every row format
the engine streams (golden/bfp_layout.py: Q8_0, MXINT8, Q8_1, Q4_0, Q4_1, Q5_0, Q5_1), random or
extreme values, scales with a share drawn from every class."""
import numpy as np

from llmaccel.golden.bfp_layout import ACTIVATION, BLOCK_BYTES

F16_CLASSES = {
    "zero": [0x0000, 0x8000], "subnormal": [0x0001, 0x03FF, 0x8200], "normal": None,
    "max": [0x7BFF, 0xFBFF], "inf": [0x7C00, 0xFC00], "nan": [0x7E00, 0x7C01, 0xFE00],
}
_F16_POOL = np.array([v for vs in F16_CLASSES.values() if vs for v in vs], np.uint16)


def _f16(rng, shape, specials, sigma=0.02):
    """Random binary16 scales as bytes [..., 2], a fraction `specials` from the special classes."""
    d = (rng.standard_normal(shape) * sigma).astype(np.float16).view(np.uint16)
    special = rng.random(shape) < specials
    d = np.where(special, rng.choice(_F16_POOL, shape), d).astype("<u2")
    return d.view(np.uint8).reshape(*shape, 2)


def random_rows(rng: np.random.Generator, rows: int, blocks: int, fmt: str, extremes=False,
                specials=0.0) -> np.ndarray:
    """Raw llama.cpp rows of row format `fmt` with random values (or only the extreme ones when
    `extremes`: int8 -128/-127/127/0, 4-bit 0/15 with qh all 0 or all 1) and random scales, a
    fraction `specials` of them drawn from every class."""
    shape = (rows, blocks)
    if fmt in ("q8_0", "q8_1", "mxint8"):
        if extremes:
            qs = rng.choice(np.array([-128, -127, 127, 0], np.int8), (*shape, 32))
        else:
            qs = rng.integers(-128, 128, (*shape, 32)).astype(np.int8)
        qs = qs.view(np.uint8)
        if fmt == "mxint8":
            e = rng.integers(110, 140, shape)
            special = rng.random(shape) < specials
            e = np.where(special, rng.choice(np.array([0, 1, 126, 127, 253, 254, 255]), shape), e)
            head = [e.astype(np.uint8).reshape(*shape, 1)]
        elif fmt == "q8_0":
            head = [_f16(rng, shape, specials)]
        else:                                   # d, then s: any value, as llama.cpp uses it stored
            head = [_f16(rng, shape, specials), _f16(rng, shape, specials, sigma=2.0)]
        parts = head + [qs]
    elif fmt in ("q4_0", "q4_1", "q5_0", "q5_1"):
        if extremes:
            qs = rng.choice(np.array([0x00, 0xFF, 0x0F, 0xF0], np.uint8), (*shape, 16))
            qh = rng.choice(np.array([0x00, 0xFF], np.uint8), (*shape, 1)).repeat(4, axis=2)
        else:
            qs = rng.integers(0, 256, (*shape, 16)).astype(np.uint8)
            qh = rng.integers(0, 256, (*shape, 4)).astype(np.uint8)
        parts = [_f16(rng, shape, specials)]
        if fmt in ("q4_1", "q5_1"):
            parts.append(_f16(rng, shape, specials, sigma=0.3))
        if fmt in ("q5_0", "q5_1"):
            parts.append(qh)
        parts.append(qs)
    else:
        raise ValueError(f"no random rows for format {fmt!r}")
    out = np.concatenate(parts, axis=2).reshape(rows, -1)
    assert out.shape[1] == blocks * BLOCK_BYTES[fmt]
    return out


def random_matmul(rng: np.random.Generator, m: int, n: int, blocks: int, fmt: str,
                  extremes=False, specials=0.0) -> tuple[np.ndarray, np.ndarray]:
    """(W [N] rows of `fmt`, X [M] rows of its activation format) with `blocks` blocks each."""
    w = random_rows(rng, n, blocks, fmt, extremes, specials)
    x = random_rows(rng, m, blocks, ACTIVATION[fmt], extremes, specials)
    return w, x
