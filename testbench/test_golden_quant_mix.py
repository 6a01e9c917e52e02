"""golden/quant_mix.py (llama.cpp's weight mixes and its fallback rule) and golden/formats.py (the
format table and the one dispatch), pinned on SmolLM2-135M's and TinyLlama-1.1B's shapes."""
import collections

import numpy as np
import pytest

from llmaccel.golden import bfp, formats, kquants, q4q5, quant_mix

SMOLLM2 = {"q": 576, "k": 576, "v": 576, "o": 576, "gate": 576, "up": 576, "down": 1536}
TINYLLAMA = {"q": 2048, "k": 2048, "v": 2048, "o": 2048, "gate": 2048, "up": 2048, "down": 5632}


def mix_counts(recipe, shapes, layers):
    return dict(collections.Counter(quant_mix.tensor_format(recipe, p, i, layers, k)
                                    for i in range(layers) for p, k in shapes.items()))


def test_use_more_bits_picks_llama_cpp_layers():
    assert [i for i in range(30) if quant_mix.use_more_bits(i, 30)] == \
        [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29]


@pytest.mark.parametrize("recipe, expect", [
    ("q8_0", {"q8_0": 210}),
    ("q4_0", {"q4_0": 210}), ("q4_1", {"q4_1": 210}), ("q5_0", {"q5_0": 210}),
    ("q5_1", {"q5_1": 210}),
    ("q4_k_m", {"q5_0": 166, "q8_0": 14, "q4_K": 16, "q6_K": 14}),   # K = 576 falls back
    ("q3_k_s", {"q4_0": 180, "q3_K": 30}),
    ("q2_k", {"q4_0": 180, "q3_K": 30}),                              # no Q2_K tensor left
    ("q2_k_s", {"q4_0": 180, "q4_K": 3, "q2_K": 27}),
])
def test_smollm2_mixes(recipe, expect):
    assert mix_counts(recipe, SMOLLM2, 30) == expect


def test_tinyllama_mixes_keep_their_k_quants():
    assert mix_counts("q4_k_m", TINYLLAMA, 22) == {"q4_K": 134, "q6_K": 20}
    assert mix_counts("q2_k", TINYLLAMA, 22) == {"q2_K": 88, "q3_K": 66}


def test_fallback_rule():
    assert [quant_mix.fallback(f, 576) for f in ("q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q4_1")] \
        == ["q4_0", "q4_0", "q5_0", "q5_1", "q8_0", "q4_1"]
    assert quant_mix.fallback("q4_K", 1536) == "q4_K"


def test_mix_errors():
    with pytest.raises(ValueError, match="the weight mix must be one of q8_0, q4_0, q4_1, q5_0, "
                                         "q5_1, q4_k_m, q3_k_s, q2_k, q2_k_s, not 'q4_k_s'"):
        quant_mix.tensor_format("q4_k_s", "q", 0, 30, 576)
    with pytest.raises(ValueError, match="projection must be one of q, k, v, o, gate, up, down, "
                                         "not 'qkv'"):
        quant_mix.tensor_format("q8_0", "qkv", 0, 30, 576)
    with pytest.raises(ValueError, match=r"layer 30 is outside 0..29"):
        quant_mix.tensor_format("q8_0", "q", 30, 30, 576)


def test_format_table():
    bits = {f: formats.get(f).bits_per_weight for f in formats.FORMATS}
    assert bits == {"q8_0": 8.5, "mxint8": 8.25, "q4_0": 4.5, "q4_1": 5.0, "q5_0": 5.5,
                    "q5_1": 6.0, "q2_K": 2.625, "q3_K": 3.4375, "q4_K": 4.5, "q5_K": 5.5,
                    "q6_K": 6.5625}
    for name, f in formats.FORMATS.items():
        mod = {"q8_0": None, "mxint8": None}.get(name, q4q5 if f.block == 32 else kquants)
        if mod is not None:
            assert mod.BLOCK_BYTES[name] == f.bytes
    assert formats.from_gguf_type("Q4_1") == "q4_1" and formats.from_gguf_type("Q6_K") == "q6_K"
    with pytest.raises(ValueError, match="the tensor type IQ2_XXS is not one"):
        formats.from_gguf_type("IQ2_XXS")
    with pytest.raises(ValueError, match="format must be one of q8_0, mxint8, q4_0"):
        formats.get("f16")


@pytest.mark.parametrize("fmt", list(formats.FORMATS))
def test_dispatch_is_the_formats_own_golden_model(fmt):
    rng = np.random.default_rng(11)
    print("seed", 11)
    w = rng.standard_normal((64, 512)).astype(np.float32)
    x = rng.standard_normal((16, 512)).astype(np.float32)
    wq, xq = formats.quantize_weights(w, fmt), formats.quantize_activations(x, fmt)
    f = formats.get(fmt)
    assert wq.shape == (64, 512 // f.block * f.bytes)
    y = formats.matmul(wq, xq, fmt)
    if fmt == "q8_0":
        want = bfp.matmul_q8_0(wq, xq)
    elif fmt == "mxint8":
        want = bfp.matmul_mxint8(wq, xq)
    elif f.block == 32:
        want = q4q5.matmul(wq, xq, fmt)
    else:
        want = kquants.matmul(wq, xq, fmt)
    assert np.array_equal(y.view(np.uint32), want.view(np.uint32))
    # and close to the float product: relative RMS error (bits per weight sets how close)
    ref = x @ w.T
    rel = np.sqrt(((y - ref) ** 2).sum() / (ref ** 2).sum())
    print(fmt, "relative RMS error of the product", rel)
    assert rel < {"q2_K": 0.45, "q3_K": 0.25}.get(fmt, 0.1), rel
