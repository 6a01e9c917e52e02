"""`llmaccel generate`: SmolLM2-135M token by token with every matrix product on the simulated core
(fast back end), bit-exact against the golden models and identical to the reference back end; the
tokenizer against ids read from the GGUF file itself; bad arguments."""
import json
import os

import pytest

from llmaccel.cli import main
from llmaccel.flows.generate import run_generate
from llmaccel.golden.smollm2 import SENTENCE, SmolLM2, build_tokenizer, project_shared, stacks


@pytest.fixture(scope="module")
def model():
    return SmolLM2()


def test_stacks_join_what_shares_an_input_and_a_format():
    fmts = {(0, n): "q5_0" for n in ("q", "k", "o", "gate", "up", "down")}
    fmts[(0, "v")] = "q8_0"
    fmts.update({(1, n): "q4_1" for n in ("q", "k", "v", "o", "gate", "up", "down")})
    fmts[(1, "k")] = "q8_0"                  # q and v share the format, not a run of it
    assert stacks(fmts) == [[(0, "q"), (0, "k")], [(0, "v")], [(0, "o")],
                            [(0, "gate"), (0, "up")], [(0, "down")], [(1, "q")], [(1, "k")], [(1, "v")],
                            [(1, "o")], [(1, "gate"), (1, "up")], [(1, "down")]]


@pytest.mark.parametrize("engine", ["bfp", "ternary"])
def test_stacked_runs_give_each_matrix_its_own_product(engine):
    """One run for q, k, v (and for gate, up) returns, bit for bit, what three (two) runs give,
    each ternary matrix with its own scale; one record per run, with its matrices."""
    import numpy as np
    from llmaccel.host.model import ModelProjections
    from llmaccel.host.reference import ReferenceAccelerator
    rng = np.random.default_rng(7)
    print("seed 7")
    shapes = {"q": (96, 256), "k": (32, 256), "v": (32, 256), "gate": (64, 256), "up": (64, 256)}
    weights = {(0, n): (rng.standard_normal(s) * (i + 1)).astype(np.float32)
               for i, (n, s) in enumerate(shapes.items())}
    from llmaccel.golden import formats
    head = formats.quantize_weights(rng.standard_normal((8, 256)).astype(np.float32), "q8_0")
    proj = ModelProjections(ReferenceAccelerator(), engine, weights, head, check=True)
    x = rng.standard_normal((1, 256)).astype(np.float32)
    keys = [(0, "q"), (0, "k"), (0, "v")]
    stacked = project_shared(proj, keys, x)
    alone = [proj(key, x) for key in keys]      # each runs its whole stack, returns its part
    assert [y.shape for y in stacked] == [(1, 96), (1, 32), (1, 32)]
    assert all(np.array_equal(a.view(np.uint32), b.view(np.uint32))
               for a, b in zip(stacked, alone))
    gate, up = project_shared(proj, [(0, "gate"), (0, "up")], x)
    w_up = weights[(0, "up")]
    if engine == "ternary":
        from llmaccel.golden import ternary
        trits, scale = ternary.absmean_ternarize(w_up)
        xq, xs = ternary.quantize_acts_absmax(x)
        want = ternary.dequantize(ternary.matmul(xq, trits), xs, scale)
    else:
        want = formats.matmul(formats.quantize_weights(w_up, "q8_0"),
                              formats.quantize_activations(x, "q8_0"), "q8_0")
    assert np.array_equal(up.view(np.uint32), want.view(np.uint32))
    assert [(r["key"], r["matrices"], r["n"]) for r in proj.records] == \
        [((0, "q,k,v"), 3, 160)] * 4 + [((0, "gate,up"), 2, 128)]


def test_tokenizer_gives_the_files_own_ids(model):
    tok = build_tokenizer(model)
    text = "The quick brown fox jumps over the lazy dog"
    assert tok.encode(text).ids == model.token_ids(SENTENCE)       # the vocabulary's own entries
    ids = tok.encode(" in 2024").ids                                # digits one by one ("smollm")
    assert [tok.id_to_token(i) for i in ids] == ["Ġin", "Ġ", "2", "0", "2", "4"]
    assert tok.encode("<|im_start|>user").ids[0] == model.vocab["<|im_start|>"]
    for sample in (text, "Émile's café: 3.14 € — ok?\n\n  done", "日本語"):
        assert tok.decode(tok.encode(sample).ids) == sample


@pytest.mark.parametrize("args, message", [
    (["--tokens", "0"], "--tokens must be a positive integer, not 0"),
    (["--prompt", ""], "the prompt is empty"),
    (["--tokens", "9000"], "exceed SmolLM2-135M's context of 8192 tokens"),
    (["--backend", "board"], "argument --backend: invalid choice: 'board'"),
    (["--engine", "fp16"], "argument --engine: invalid choice: 'fp16'"),
    (["--weights", "q9"], "--weights must be one of as-shipped, q8_0, q4_0, q4_1, q5_0, q5_1, "
                          "q4_k_m, q3_k_s, q2_k, q2_k_s"),
    (["--engine", "ternary", "--weights", "q8_0"], "--weights chooses the BFP engine's formats"),
    (["--engine", "ternary", "--weights", "q4_k_m", "--backend", "reference"],
     "--weights chooses the BFP engine's formats"),
])
def test_bad_arguments_are_one_line(capsys, tmp_path, args, message):
    assert main(["generate", *args, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_failed_build_is_one_message(monkeypatch, capsys, tmp_path):
    """A fast back end that cannot be built: exit status 1 and what failed, no traceback."""
    from llmaccel.testbench import fast_build

    def broken(*args, **kwargs):
        raise fast_build.FastBuildError("building the fast co-simulation of llmaccel_top failed "
                                        "(log build/fast/llmaccel_top/build.log)")
    monkeypatch.setattr(fast_build, "build_fast", broken)
    assert main(["generate", "--tokens", "1", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "llmaccel generate: building the fast co-simulation of llmaccel_top failed" in err
    assert "Traceback" not in err


def test_reference_backend_ternary(model, tmp_path):
    report = run_generate(tokens=2, engine="ternary", backend="reference", out_dir=tmp_path,
                          model=model)
    assert report["same_as_reference"] and len(report["tokens"]) == 2
    assert "not ternary-trained" in (tmp_path / "generate.md").read_text()


def test_reference_backend_runs_the_file_as_shipped(model, tmp_path):
    """The file's Q4_1 rows as Q4_1 x Q8_1 and its Q8_0 head, on the golden models: the same
    tokens as the float32 model here, and exactly the file's bytes read per token."""
    report = run_generate(tokens=1, backend="reference", out_dir=tmp_path, model=model,
                          weights_mix="as-shipped")
    assert report["formats"] == {"q4_1": 210, "q8_0": 1}
    # 30 layers of 576 * (2 * 576 + 2 * 192 + 3 * 1536) weights at 20 bytes per 32, and the
    # 49,152 x 576 head at 34 bytes per 32: the file's own tensor sizes
    assert report["weight_bytes_per_token"] == 30 * 576 * 6144 * 20 // 32 + 49152 * 576 * 34 // 32
    assert report["tokens"] == report["fp32_tokens"] == [7042]
    assert "the file's own Q4_1 layer rows, as shipped" in (tmp_path / "generate.md").read_text()


@pytest.mark.cocotb
@pytest.mark.xdist_group("fast-default")
def test_generate_on_the_rtl(model, tmp_path):
    """Two tokens of the default prompt through the RTL: every product bit-exact, the tokens and
    logits those of the golden models, the first token the float32 model's (" Paris")."""
    report = run_generate(tokens=2, engine="bfp", backend="fast", out_dir=tmp_path, model=model)
    assert report["bit_exact"] and report["products_checked"] == report["products"] == 2 * 121
    assert report["same_as_reference"] and report["same_logits"]
    assert report["tokens"] == report["reference_tokens"]
    assert report["text"].startswith(" Paris") and report["tokens"][0] == report["fp32_tokens"][0]
    steps = report["steps"]
    assert [s["step"] for s in steps] == ["prompt", "decode 1"]
    assert all(s["head"] > 0 and s["projections"] > 0 for s in steps)
    assert sum(s["cycles"] for s in steps) <= report["simulated_cycles"]
    saved = json.loads((tmp_path / "generate.json").read_text())
    assert saved["tokens"] == report["tokens"]
    print((tmp_path / "generate.md").read_text())


# No xdist group: the fast back end's build is shared (built once, under its lock), so this runs
# on whichever worker is free. `make regress` (a minute; make test keeps the shipped file's
# tokens through the RTL, and the K-quants on the bfp block and the core's cocotb tests).
@pytest.mark.cocotb
@pytest.mark.slow
def test_k_quant_mix_on_the_rtl(model, tmp_path):
    """llama.cpp's Q4_K_M mix through the RTL, one token of the default prompt: Q4_K and Q6_K
    where K = 1536 (ffn_down), llama.cpp's fallbacks Q5_0 and Q8_0 where K = 576; every product
    bit-exact, the token and the logits those of the golden models."""
    report = run_generate(tokens=1, engine="bfp", backend="fast", out_dir=tmp_path, model=model,
                          weights_mix="q4_k_m")
    assert {"q4_K", "q6_K", "q5_0", "q8_0"} <= set(report["formats"]), report["formats"]
    # 30 layers of o, gate+up stacked, and q, k, v stacked (16 layers) or q, k and v apart (14
    # layers where llama.cpp's mix gives v Q8_0 beside Q5_0), the down projection, and the head
    assert report["bit_exact"] and report["products_checked"] == report["products"] == 135
    assert report["same_as_reference"] and report["same_logits"]
    assert report["tokens"] == report["reference_tokens"]


@pytest.mark.cocotb
@pytest.mark.slow
@pytest.mark.xdist_group("top-verilator-default")
def test_generate_on_the_cocotb_backend(model, tmp_path):
    """`--backend cocotb` (make regress: one decode step of 18 M cycles at about 12,000 cycles/s,
    some 25 minutes): a one-token prompt and one new token through cocotbext-axi's bus models,
    every product bit-exact, the token and logits those of the golden models, and the CYCLES
    of every product those of the fast back end. Seed-independent: make regress runs it with
    its first seed only."""
    if os.environ.get("SEED", "1") != os.environ.get("LLMACCEL_FIRST_SEED", "1"):
        pytest.skip("no random data: run once, with the first seed")
    prompt = " Paris"
    cocotb = run_generate(prompt, tokens=1, engine="bfp", backend="cocotb", out_dir=tmp_path,
                          model=model)
    fast = run_generate(prompt, tokens=1, engine="bfp", backend="fast", out_dir=None,
                        model=model)
    assert len(cocotb["prompt_tokens"]) == 1
    assert cocotb["bit_exact"] and cocotb["products_checked"] == cocotb["products"] == 121
    assert cocotb["same_as_reference"] and cocotb["tokens"] == fast["tokens"]
    assert cocotb["steps"] == fast["steps"]
    assert "cocotb back end" in (tmp_path / "generate.md").read_text()
