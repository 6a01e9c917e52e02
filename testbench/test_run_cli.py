"""`llmaccel run ternary`: bad files get exit status 2 and one line; a good job is bit-exact."""
import numpy as np
import pytest

from llmaccel.cli import main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(5)
    paths = {}

    def put(name, array):
        paths[name] = str(tmp_path / f"{name}.npy")
        np.save(paths[name], array)

    put("w", rng.integers(-1, 2, (10, 40)).astype(np.int8))
    put("x", rng.integers(-128, 128, (2, 40)).astype(np.int8))
    put("w_float", rng.random((10, 40)))
    put("w_two", np.full((10, 40), 2, np.int8))
    put("w_1d", np.zeros(40, np.int8))
    put("x_short", np.zeros((2, 39), np.int8))
    put("x_tall", np.zeros((9, 40), np.int8))
    paths["text"] = str(tmp_path / "text.npy")
    (tmp_path / "text.npy").write_text("not an array")
    paths["out"] = str(tmp_path / "y.npy")
    return paths


@pytest.mark.parametrize("w,x,message", [
    ("w_float", "x", "weights must be int8, not float64"),
    ("w_two", "x", "weights must be trits in {-1, 0, 1}: W[0, 0] = 2"),
    ("w_1d", "x", "weights must be a non-empty 2-D array, not shape (40,)"),
    ("w", "x_short", "K disagrees: weights [N, K] = [10, 40], acts [M, K] = [2, 39]"),
    ("w", "x", "acts must fit act_bits = 4 (-8 .. 7): X[0, 0] ="),
    ("text", "x", "is not a NumPy .npy array"),
    ("missing", "x", "not found"),
])
def test_bad_files(files, capsys, w, x, message):
    extra = ["-p", "act_bits=4"] if "act_bits" in message else []
    code = main(["run", "ternary", "--weights", files.get(w, "/nonexistent/missing.npy"),
                 "--acts", files[x], "--out", files["out"], *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err, err


def test_only_ternary_runs(files, capsys):
    assert main(["run", "sram", "--weights", files["w"], "--acts", files["x"],
                 "--out", files["out"]]) == 2
    assert "run takes the block ternary or bfp" in capsys.readouterr().err


@pytest.mark.cocotb
@pytest.mark.xdist_group("t-verilator-default")
def test_good_job_is_bit_exact(files, capsys):
    assert main(["run", "ternary", "--weights", files["w"], "--acts", files["x"],
                 "--out", files["out"]]) == 0
    y = np.load(files["out"])
    x, w = np.load(files["x"]).astype(np.int64), np.load(files["w"]).astype(np.int64)
    assert y.dtype == np.int32 and np.array_equal(y, x @ w.T)
    assert "bit-exact" in capsys.readouterr().out


@pytest.mark.cocotb
@pytest.mark.xdist_group("t-verilator-small")
def test_shapes_beyond_the_buffers_are_tiled(files, capsys):
    """M = 9 > m_max, N = 10 > n_max, K = 40 > k_max: tiled on the host, still exact."""
    rng = np.random.default_rng(9)
    x = rng.integers(-128, 128, (9, 40)).astype(np.int8)
    np.save(files["x"], x)
    params = ["-p", "m_max=4", "-p", "n_max=6", "-p", "k_max=16", "-p", "lanes=4"]
    assert main(["run", "ternary", "--weights", files["w"], "--acts", files["x"],
                 "--out", files["out"], *params]) == 0
    out = capsys.readouterr().out
    assert "in 18 tiles" in out and "bit-exact" in out, out
    w = np.load(files["w"]).astype(np.int64)
    assert np.array_equal(np.load(files["out"]), x.astype(np.int64) @ w.T)
