"""`make sim`'s job (llmaccel/flows/decode.py): the SmolLM2-135M layer-0 decode step through the
simulated core (fast back end: Verilator + C++ bus models), both engines; every projection must be bit-exact against the
golden models and the report must say so. Also the float32 reference layer's pieces."""
import json

import numpy as np
import pytest

from llmaccel.cli import main
from llmaccel.flows.decode import run_layer_sim
from llmaccel.golden.smollm2 import PROJECTIONS, SmolLM2, decode_layer, fp32_project, rope


def test_rope_rotates_pairs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 8)).astype(np.float32)
    out = rope(x, np.array([0, 1, 7]), 10000.0)
    assert np.array_equal(out[0], x[0])                    # position 0: no rotation
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1),
                               rtol=1e-6)                  # a rotation keeps lengths
    # pair 0 of position 1 turns by exactly 1 radian
    a, b = x[1, 0, 0], x[1, 0, 1]
    np.testing.assert_allclose(out[1, 0, :2], [a * np.cos(1) - b * np.sin(1),
                                               a * np.sin(1) + b * np.cos(1)], rtol=1e-6)


def test_decode_layer_calls_every_projection_once_in_order():
    model = SmolLM2()
    w = {name: model.weight(f"blk.0.{t}.weight") for name, t in PROJECTIONS.items()}
    calls = []
    fp32 = fp32_project(w)

    def project(name, x):
        calls.append((name, x.shape))
        return fp32(name, x)

    result = decode_layer(model, project)
    assert calls == [("q", (1, 576)), ("k", (1, 576)), ("v", (1, 576)), ("o", (1, 576)),
                     ("gate", (1, 576)), ("up", (1, 576)), ("down", (1, 1536))]
    assert result["out"].shape == (1, 576) and result["out"].dtype == np.float32
    assert np.isfinite(result["out"]).all()


@pytest.mark.cocotb
@pytest.mark.xdist_group("fast-default")
def test_layer_decode_is_bit_exact(tmp_path, capsys):
    # on the fast back end: its results and CYCLES are the cocotb back end's (test_fast_backend)
    report, exact = run_layer_sim(0, "fast", tmp_path)
    assert exact
    rows = report["projections"]
    assert [(r["engine"], r["projection"]) for r in rows] == [
        (e, p) for e in ("bfp", "ternary") for p in PROJECTIONS]
    assert all(r["bit_exact"] for r in rows)
    # the BFP engine's Q8_0 results are close to float32; the model predicts every cycle count
    assert all(r["rel_error"] < 0.05 for r in rows if r["engine"] == "bfp")
    assert all(r["model_cycles"] == r["cycles"] for r in rows)
    text = (tmp_path / "sim.md").read_text()
    assert "every projection is bit-exact against the golden model" in text
    assert json.loads((tmp_path / "sim.json").read_text())["bit_exact"] is True
    print(text)


def test_decode_cli_rejects_a_bad_layer(capsys):
    assert main(["decode", "--layer", "30"]) == 2
    assert "--layer must be 0 .. 29" in capsys.readouterr().err
