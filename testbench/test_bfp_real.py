"""Real data through the BFP accelerator's RTL: SmolLM2-135M (golden/smollm2.py).

- LM head: SmolLM2 ties its output projection to `token_embd.weight`, whose rows are real Q8_0
  blocks as llama.cpp stores them; they are sent untouched, against the Q8_0-quantized RMSNorm'd
  embeddings of an English sentence.
- `blk.0.attn_q.weight` (Q4_1 in the file), dequantized and requantized to Q8_0, times the real
  input of layer 0's attention (RMSNorm with attn_norm), quantized to Q8_0 as llama.cpp does.
Both are bit-exact against golden.bfp; the error against the float32 product of the unquantized
operands is printed (it is the quantization's, not the hardware's).
"""
import numpy as np
import pytest

from llmaccel.golden import bfp
from llmaccel.golden.smollm2 import SmolLM2
from llmaccel.testbench.job import bit_exact, simulate_bfp


@pytest.fixture(scope="module")
def model():
    return SmolLM2()


def error_line(y, exact):
    rel = float(np.linalg.norm(y - exact) / np.linalg.norm(exact))
    cos = float((y * exact).sum() / (np.linalg.norm(y) * np.linalg.norm(exact)))
    return rel, cos


def run(w_raw, x_raw, sim, tag):
    y, rec, _ = simulate_bfp(w_raw, x_raw, "q8_0", {}, sim, tag)
    assert bit_exact(y, bfp.matmul_q8_0(w_raw, x_raw)), "RTL differs from the golden model"
    return y, rec["cycles"]


@pytest.mark.cocotb
@pytest.mark.parametrize("sim,rows", [
    pytest.param("verilator", 8, marks=pytest.mark.xdist_group("b-verilator-default")),
    # Icarus takes about 2 minutes on one row: `make regress`
    pytest.param("icarus", 1, marks=[pytest.mark.xdist_group("b-icarus-default"),
                                     pytest.mark.slow]),
])
def test_attn_q_bit_exact(model, sim, rows):
    w = model.weight("blk.0.attn_q.weight")                  # [576, 576] float32
    a = model.attn_inputs()[:rows]                           # [rows, 576]
    w_raw, x_raw = bfp.quantize_q8_0(w), bfp.quantize_q8_0(a)
    y, cycles = run(w_raw, x_raw, sim, f"real-attn-q-{rows}")
    rel, cos = error_line(y, a @ w.T)
    macs = rows * 576 * 576
    print(f"{sim}: blk.0.attn_q M={rows} K=576 N=576 bit-exact; {cycles} cycles, "
          f"{macs / cycles:.1f} MAC/cycle; Q8_0 vs fp32: relative error {rel:.2e}, cosine {cos:.6f}")
    assert cos > 0.999, "Q8_0 of a real layer is within 0.1% in angle: a broken pipeline is not"


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", [
    pytest.param("verilator", marks=pytest.mark.xdist_group("b-verilator-default")),
])
def test_lm_head_real_q8_0_rows(model, sim):
    w_raw, kind = model.raw_rows("token_embd.weight")
    assert kind == "Q8_0"
    ids = model.token_ids()
    vocab = w_raw[:256]                                      # 256 rows of the LM head, untouched
    a = model.attn_inputs()[:4]                              # normalised embeddings, 4 tokens
    x_raw = bfp.quantize_q8_0(a)
    y, cycles = run(vocab, x_raw, sim, "real-lm-head")
    rel, cos = error_line(y, a @ bfp.dequantize_q8_0(vocab).T)
    print(f"{sim}: token_embd rows 0..255 (real Q8_0 blocks) x 4 tokens {ids[:4]} bit-exact; "
          f"{cycles} cycles; vs fp32 activations: relative error {rel:.2e}, cosine {cos:.6f}")
    assert cos > 0.999
