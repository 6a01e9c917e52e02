"""golden/ternary_layout.py: the engine's tables and the accelerator's stream packers."""
import numpy as np
import pytest

from llmaccel.golden.ternary import build_table as table, matmul
from llmaccel.golden.ternary_layout import (code_bits, pack_acts, pack_weights, pass_sums, shape_plan,
                                            unpack_results, zero_tiles)


def test_table_by_hand():
    # g = 2, x = (5, -3): code c = (w0 + 1) + 3 (w1 + 1)
    t = table(np.array([5, -3], np.int8), 2)
    assert t[4] == 0                      # both trits zero
    assert t[0] == -5 + 3                 # (-1, -1)
    assert t[8] == 5 - 3                  # (+1, +1)
    assert t[2 + 3 * 0] == 5 + 3          # (+1, -1)
    assert [code_bits(g) for g in (1, 2, 3, 4)] == [2, 4, 5, 7]


@pytest.mark.parametrize("g", [1, 2, 3, 4])
def test_pass_sums_equal_matmul(g):
    seed = 31 + g
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, 8 * g).astype(np.int8)
    w = rng.integers(-1, 2, (5, 8 * g)).astype(np.int8)
    assert np.array_equal(pass_sums(x, w, g), matmul(x[None, :], w)[0])


def test_pack_acts_layout_and_flags():
    x = np.array([[1, -1, 2, -2, 3]], np.int8)
    beats = pack_acts(x, g=1, lanes=4, act_bits=4, skip=[True, False])
    # pass 0: 1, -1 (0xF), 2, -2 (0xE) as nibbles, then the skip flag at bit 16
    assert beats[0] == 0x1 | 0xF << 4 | 0x2 << 8 | 0xE << 12 | 1 << 16
    assert beats[1] == 0x3                 # padded with zeros, not skipped
    with pytest.raises(ValueError, match="fit 4 signed bits"):
        pack_acts(np.array([[8]], np.int8), 1, 4, act_bits=4)


def test_pack_weights_codes_and_skips():
    w = np.zeros((2, 6), np.int8)
    w[0, 3] = 1
    w[1, 4] = -1
    assert zero_tiles(w, g=1, lanes=3) == [True, False]   # the last pass is never skipped
    full = pack_weights(w, g=1, lanes=3, rows=2)
    skipped = pack_weights(w, g=1, lanes=3, rows=2, skip=zero_tiles(w, 1, 3))
    assert len(full) == 2 and skipped == full[1:]
    # pass 1: row 0 lanes (1, 0, 0) -> codes (2, 1, 1); row 1 (0, -1, 0) -> (1, 0, 1)
    codes = [full[1] >> (2 * i) & 3 for i in range(6)]
    assert codes == [2, 1, 1, 1, 0, 1]
    assert zero_tiles(np.zeros((2, 6), np.int8), 1, 3) == [True, False]


def test_plan_and_results():
    assert shape_plan(2, 7, 30, g=3, lanes=4, rows=3) == {"m": 2, "words": 3, "passes": 3}
    y = unpack_results([[1, 2, 3], [4, 0, 0], [5, 6, 7], [8, 0, 0]], m=2, n=4, rows=3)
    assert y.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]] and y.dtype == np.int32
    with pytest.raises(ValueError, match="expected 4 result beats"):
        unpack_results([[1, 2, 3]], m=2, n=4, rows=3)
