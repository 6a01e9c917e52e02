"""Random llama.cpp rows for the BFP tests (Amaranth-simulator and cocotb tiers): every row format
the engine streams (golden/bfp_layout.py: Q8_0, MXINT8, Q8_1, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K,
Q8_K), random or extreme values, scales with a share drawn from every class. `blocks` counts the
format's own blocks (K-quants: super-blocks of 256 values)."""
import numpy as np

from llmaccel.golden.bfp_layout import (ACTIVATION, BLOCK_BYTES, FORMATS, K_PARTS, SPLIT_FORMATS,
                                        k_multiple, k_refusal)

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
    elif fmt in K_PARTS and fmt != "q8_K":
        nbytes = BLOCK_BYTES[fmt]
        if extremes:
            raw = rng.choice(np.array([0x00, 0xFF, 0x55, 0xAA], np.uint8), (*shape, nbytes))
        else:
            raw = rng.integers(0, 256, (*shape, nbytes)).astype(np.uint8)
        lo, hi = K_PARTS[fmt]["slot"]               # d (and dmin), binary16
        raw[..., lo:lo + 2] = _f16(rng, shape, specials)
        if hi - lo == 4:
            raw[..., lo + 2:hi] = _f16(rng, shape, specials, sigma=0.01)
        parts = [raw]
    elif fmt == "q8_K":
        if extremes:
            qs = rng.choice(np.array([-128, -127, 127, 0], np.int8), (*shape, 256))
        else:
            qs = rng.integers(-128, 128, (*shape, 256)).astype(np.int8)
        bsums = qs.astype(np.int64).reshape(*shape, 16, 16).sum(axis=-1)
        if extremes:                                # as stored: any int16 (the reference reads them)
            bsums = rng.choice(np.array([-32768, 32767, 0, -2048], np.int64), bsums.shape)
        d = (rng.standard_normal(shape) * 0.01).astype("<f4")
        special = rng.random(shape) < specials
        pool = np.array([0.0, -0.0, 1e-40, -1e-45, 3.4e38, np.inf, -np.inf, np.nan], "<f4")
        d = np.where(special, rng.choice(pool, shape), d).astype("<f4")
        parts = [d.view(np.uint8).reshape(*shape, 4), qs.view(np.uint8),
                 bsums.astype("<i2").view(np.uint8).reshape(*shape, 32)]
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


def driver_call(rng: np.random.Generator, bp: dict, i: int, seed: int,
                last: bool) -> tuple[str, int, int, int]:
    """Call i of a core-tier driver test on an engine of geometry `bp` (the driver's Accelerator.bfp):
    (format, M, N, K). The formats in turn, among those whose block fits K_MAX (a K-quant needs
    K_MAX >= 256); M and N beyond the buffers; the last call's K beyond K_MAX (the driver runs it
    in parts continued through SUM_IN), in a format whose K splits."""
    fits = [f for f in FORMATS if k_refusal(f, k_multiple(f), bp["k_max"]) is None]
    if last:
        fits = [f for f in fits if f in SPLIT_FORMATS]
    fmt = fits[(i + seed) % len(fits)]
    qk = k_multiple(fmt)
    m = int(rng.integers(1, bp["m_max"] + 2))
    n = int(rng.integers(1, 3 * bp["out_lanes"] + 2))
    k = qk * int(rng.integers(1, max(1, min(bp["k_max"], 192) // qk) + 1))
    if last:
        k = bp["k_max"] + qk
    return fmt, m, n, k
