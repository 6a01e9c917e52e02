"""Random llama.cpp Q8_0 / MXINT8 rows for the BFP tests (Amaranth-simulator and cocotb tiers):
random or extreme int8 values, scales with a share drawn from every class."""
import numpy as np

F16_CLASSES = {
    "zero": [0x0000, 0x8000], "subnormal": [0x0001, 0x03FF, 0x8200], "normal": None,
    "max": [0x7BFF, 0xFBFF], "inf": [0x7C00, 0xFC00], "nan": [0x7E00, 0x7C01, 0xFE00],
}


def random_rows(rng: np.random.Generator, rows: int, blocks: int, fmt: str, extremes=False,
                specials=0.0) -> np.ndarray:
    """Raw llama.cpp rows with random int8 values (or only -128/127/0 when `extremes`) and
    random scales, a fraction `specials` of them drawn from every class."""
    if extremes:
        qs = rng.choice(np.array([-128, -127, 127, 0], np.int8), (rows, blocks, 32))
    else:
        qs = rng.integers(-128, 128, (rows, blocks, 32)).astype(np.int8)
    if fmt == "q8_0":
        d = (rng.standard_normal((rows, blocks)) * 0.02).astype(np.float16).view(np.uint16)
        special = rng.random((rows, blocks)) < specials
        pool = np.array([v for vs in F16_CLASSES.values() if vs for v in vs], np.uint16)
        d = np.where(special, rng.choice(pool, d.shape), d).astype("<u2")
        head = d.view(np.uint8).reshape(rows, blocks, 2)
    else:
        e = rng.integers(110, 140, (rows, blocks))
        special = rng.random((rows, blocks)) < specials
        e = np.where(special, rng.choice(np.array([0, 1, 126, 127, 253, 254, 255]), e.shape), e)
        head = e.astype(np.uint8).reshape(rows, blocks, 1)
    return np.concatenate([head, qs.view(np.uint8)], axis=2).reshape(rows, -1)
