"""golden/top_layout.py: the ternary engine's beats as 64-bit words and its results back, against
the beat packers of golden/ternary_layout.py and hand-made cases."""
import numpy as np
import pytest

from llmaccel.golden.ternary import matmul
from llmaccel.golden.ternary_layout import pack_acts, pack_weights, zero_tiles
from llmaccel.golden.top_layout import (act_beat_bits, beat_words, beats_to_bytes, split_words,
                                        ternary_input, ternary_input_streams, ternary_output,
                                        ternary_result_values, weight_beat_bits)


def test_beat_sizes_of_the_default_engine():
    # 16 lanes x 3 trits: 384 activation bits + the skip flag -> 392 bits, 7 words;
    # 3 rows x 16 lanes x 5-bit codes = 240 bits -> 4 words
    assert act_beat_bits(3, 16) == 392 and beat_words(392) == 7
    assert weight_beat_bits(3, 16, 3) == 240 and beat_words(240) == 4


def test_beats_to_bytes_little_endian_and_padded():
    data = beats_to_bytes([0x0102, (1 << 64) | 5], 65)
    assert data == (0x0102).to_bytes(16, "little") + ((1 << 64) | 5).to_bytes(16, "little")
    with pytest.raises(ValueError, match="does not fit in 65 bits"):
        beats_to_bytes([1 << 65], 65)


def test_ternary_input_is_the_beats_as_words():
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (3, 100)).astype(np.int8)
    w = rng.integers(-1, 2, (7, 100)).astype(np.int8)
    w[:, 48:96] = 0                         # the second K-slice is all zero: skipped
    skip = zero_tiles(w, 3, 16)
    assert skip == [False, True, False]
    data = ternary_input(x, w, 3, 16, 3)
    acts, weights = pack_acts(x, 3, 16, 8, skip), pack_weights(w, 3, 16, 3, skip)
    assert len(acts) == 3 * 3 and len(weights) == 2 * 3    # 2 live passes x ceil(7 / 3) words
    assert len(data) == 8 * (7 * len(acts) + 4 * len(weights))
    words = np.frombuffer(data, "<u8")
    first = sum(int(v) << (64 * i) for i, v in enumerate(words[:7]))
    assert first == acts[0]
    last = sum(int(v) << (64 * i) for i, v in enumerate(words[-4:]))
    assert last == weights[-1]


def test_ternary_output_drops_the_padding_values():
    m, n, rows = 2, 4, 3                    # 2 beats per row of X: 6 values, 2 of them padding
    assert ternary_result_values(m, n, rows) == 12
    values = np.arange(12, dtype="<i4") - 6
    y = ternary_output(values.tobytes(), m, n, rows)
    assert y.dtype == np.int32
    assert y.tolist() == [[-6, -5, -4, -3], [0, 1, 2, 3]]


def test_ternary_output_odd_count_is_padded_to_a_word():
    y = ternary_output(np.array([7, -1, 5, 0], "<i4").tobytes(), 1, 3, 3)
    assert y.tolist() == [[7, -1, 5]]
    with pytest.raises(ValueError, match="expected 2 result words"):
        ternary_output(np.array([7, -1, 5], "<i4").tobytes(), 1, 3, 3)


def test_roundtrip_through_a_software_engine():
    """Unpack the stream as the engine reads it and compute with golden.ternary.matmul: the layout
    carries everything the result needs."""
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (2, 50)).astype(np.int8)
    w = rng.integers(-1, 2, (5, 50)).astype(np.int8)
    y = matmul(x, w)
    values = np.zeros((2, 6), np.int32)
    values[:, :5] = y
    assert np.array_equal(ternary_output(values.astype("<i4").tobytes(), 2, 5, 3), y)


def test_vectorized_packing_equals_the_reference():
    """ternary_input (NumPy bit fields) gives the same bytes as ternary_input_reference (beat by
    beat through golden/ternary_layout.py) for every g, lane and row count, with skipped
    K-slices, and with its weights packed once ahead (ternary_weights)."""
    from llmaccel.golden.top_layout import ternary_input_reference, ternary_weights
    from llmaccel.testbench.runner import seed_for
    seed = seed_for("vectorized_packing")
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    for _ in range(80):
        g, lanes, rows = int(rng.integers(1, 5)), int(rng.integers(1, 17)), int(rng.integers(1, 5))
        m, n, k = int(rng.integers(1, 5)), int(rng.integers(1, 30)), int(rng.integers(1, 200))
        x = rng.integers(-128, 128, (m, k)).astype(np.int8)
        w = rng.integers(-1, 2, (n, k)).astype(np.int8)
        w[rng.random(w.shape) < rng.random()] = 0
        if rng.random() < 0.5:
            w[:, :min(k, lanes * g)] = 0
        want = ternary_input_reference(x, w, g, lanes, rows)
        assert ternary_input(x, w, g, lanes, rows) == want, (g, lanes, rows, m, n, k)
        packed = ternary_weights(w, g, lanes, rows)
        assert ternary_input(x, w, g, lanes, rows, weights=packed) == want


def test_split_words_round_robin_padded():
    data = b"".join(i.to_bytes(8, "little") for i in range(1, 8))      # words 1..7
    out = split_words(data, 3)
    assert [list(np.frombuffer(o, "<u8")) for o in out] == [[1, 4, 7], [2, 5, 0], [3, 6, 0]]
    assert split_words(data, 1) == [data]
    with pytest.raises(ValueError, match="streams must be a positive integer, not 0"):
        split_words(data, 0)
    with pytest.raises(ValueError, match="12 bytes are not whole 64-bit words"):
        split_words(bytes(12), 2)


@pytest.mark.parametrize("streams", [1, 2, 3, 4])
def test_ternary_input_streams_split_each_part(streams):
    """Activations and weights are split apart, so the weights start on a step of their own;
    interleaving the streams back gives ternary_input's bytes and the padding."""
    rng = np.random.default_rng(streams)
    x = rng.integers(-128, 128, (2, 100)).astype(np.int8)
    w = rng.integers(-1, 2, (7, 100)).astype(np.int8)
    out = ternary_input_streams(x, w, 3, 16, 3, streams)
    assert len({len(o) for o in out}) == 1
    acts_words, weight_words = 2 * 3 * 7, 3 * 3 * 4       # 2 x 3 passes x 7; 3 passes x 3 x 4
    steps_a, steps_w = -(-acts_words // streams), -(-weight_words // streams)
    assert len(out[0]) == 8 * (steps_a + steps_w)
    merged = np.stack([np.frombuffer(o, "<u8") for o in out], axis=1).reshape(-1)
    want = np.frombuffer(ternary_input(x, w, 3, 16, 3), "<u8")
    assert np.array_equal(merged[:acts_words], want[:acts_words])
    assert not merged[acts_words:steps_a * streams].any()
    start = steps_a * streams
    assert np.array_equal(merged[start:start + weight_words], want[acts_words:])
    assert not merged[start + weight_words:].any()
