"""`llmaccel run bfp`: bad files get exit status 2 and one line; good jobs are bit-exact, rows of X
beyond m_max run in several passes."""
import numpy as np
import pytest

from llmaccel.cli import main
from llmaccel.golden import bfp, formats, kquants, q4q5

SMALL = ["-p", "mac_lanes=32", "-p", "out_lanes=2", "-p", "k_max=256", "-p", "m_max=3"]


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(7)
    paths = {}

    def put(name, array):
        paths[name] = str(tmp_path / f"{name}.npy")
        np.save(paths[name], array)

    put("w", bfp.quantize_q8_0(rng.standard_normal((5, 64)).astype(np.float32)))
    put("x", bfp.quantize_q8_0(rng.standard_normal((5, 64)).astype(np.float32)))
    put("w_mx", bfp.quantize_mxint8(rng.standard_normal((3, 96)).astype(np.float32)))
    put("x_mx", bfp.quantize_mxint8(rng.standard_normal((2, 96)).astype(np.float32)))
    put("w_float", rng.random((5, 68)))
    put("w_partial", np.zeros((5, 100), np.uint8))
    put("w_1d", np.zeros(68, np.uint8))
    put("x_k96", bfp.quantize_q8_0(rng.standard_normal((2, 96)).astype(np.float32)))
    put("x_k320", bfp.quantize_q8_0(rng.standard_normal((2, 320)).astype(np.float32)))
    put("w_k320", bfp.quantize_q8_0(rng.standard_normal((2, 320)).astype(np.float32)))
    put("w_q4_1", q4q5.quantize(rng.standard_normal((5, 96)).astype(np.float32), "q4_1"))
    put("x_q8_1", q4q5.quantize_q8_1(rng.standard_normal((2, 96)).astype(np.float32)))
    put("w_q5_0", q4q5.quantize(rng.standard_normal((3, 64)).astype(np.float32), "q5_0"))
    put("w_q4_K", kquants.quantize(rng.standard_normal((3, 256)).astype(np.float32), "q4_K"))
    put("x_q8_K", kquants.quantize_q8_k(rng.standard_normal((5, 256)).astype(np.float32)))
    put("w_q3_K_512", kquants.quantize(rng.standard_normal((2, 512)).astype(np.float32), "q3_K"))
    put("x_q8_K_512", kquants.quantize_q8_k(rng.standard_normal((1, 512)).astype(np.float32)))
    paths["npz"] = str(tmp_path / "two.npz")
    np.savez(paths["npz"], a=np.zeros(3), b=np.zeros(3))
    paths["text"] = str(tmp_path / "text.npy")
    (tmp_path / "text.npy").write_text("not an array")
    paths["out"] = str(tmp_path / "y.npy")
    return paths


@pytest.mark.parametrize("w,x,extra,message", [
    ("w_float", "x", [], "weights must be raw q8_0 blocks as uint8, not float64"),
    ("w_partial", "x", [], "weights: rows of 100 bytes are not whole q8_0 blocks (34 bytes per "
                           "32 values, so K must be a multiple of 32)"),
    ("w_1d", "x", [], "weights must be a non-empty 2-D array [rows, bytes], not shape (68,)"),
    ("w", "x_k96", [], "K disagrees: weights have 64 values per row, acts 96"),
    ("w", "x", ["--format", "mxint8"], "weights: rows of 68 bytes are not whole mxint8 blocks"),
    ("w_q4_1", "x", ["--format", "q4_1"], "acts: rows of 68 bytes are not whole q8_1 blocks"),
    ("w_q4_1", "x_q8_1", ["--format", "q5_1"], "weights: rows of 60 bytes are not whole q5_1"),
    ("w_q4_K", "x", ["--format", "q4_K"], "acts: rows of 68 bytes are not whole q8_K blocks "
                                          "(292 bytes per 256 values, so K must be a multiple of 256)"),
    ("w_q3_K_512", "x_q8_K_512", ["--format", "q3_K"] + SMALL,
     "K = 512 is above the engine's K_MAX = 256, and q3_K's K cannot be split"),
    ("text", "x", [], "is not a NumPy .npy array"),
    ("npz", "x", [], "holds several arrays; give one .npy array"),
    ("missing", "x", [], "not found"),
])
def test_bad_files(files, capsys, w, x, extra, message):
    code = main(["run", "bfp", "--weights", files.get(w, "/nonexistent/missing.npy"),
                 "--acts", files[x], "--out", files["out"], *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err, err


def test_format_is_for_bfp(files, capsys):
    assert main(["run", "ternary", "--weights", files["w"], "--acts", files["x"],
                 "--out", files["out"], "--format", "q8_0"]) == 2
    assert "--format is for the bfp block" in capsys.readouterr().err


def test_bad_format_name(files, capsys):
    assert main(["run", "bfp", "--weights", files["w"], "--acts", files["x"],
                 "--out", files["out"], "--format", "q7_K"]) == 2
    assert "invalid choice: 'q7_K'" in capsys.readouterr().err


@pytest.mark.cocotb
@pytest.mark.xdist_group("b-icarus-wide")
@pytest.mark.parametrize("fmt,w,x,runs", [("q8_0", "w", "x", 2), ("mxint8", "w_mx", "x_mx", 1),
                                         ("q8_0", "w_k320", "x_k320", 2),
                                         ("q4_1", "w_q4_1", "x_q8_1", 1),
                                         ("q5_0", "w_q5_0", "x", 2),
                                         ("q4_K", "w_q4_K", "x_q8_K", 2)])
def test_good_jobs_are_bit_exact(files, capsys, fmt, w, x, runs):
    """Q8_0 with M = 5 > m_max = 3 (two runs), MXINT8, K = 320 > k_max = 256 (two parts), Q4_1
    rows against Q8_1 activations, Q5_0 against Q8_0 with M = 5, Q4_K against Q8_K with M = 5."""
    assert main(["run", "bfp", "--weights", files[w], "--acts", files[x], "--out", files["out"],
                 "--format", fmt, "--sim", "icarus", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "bit-exact" in out, out
    if runs > 1:
        assert f"in {runs} runs (M > m_max or K > k_max)" in out, out
    y = np.load(files["out"])
    want = formats.matmul(np.load(files[w]), np.load(files[x]), fmt)
    assert y.dtype == np.float32 and np.array_equal(y.view(np.uint32), want.view(np.uint32))
