"""The stream-count bench's arithmetic (llmaccel/flows/bench_streams.py), without simulation: the
input-stream bound of a run worked out by hand, the layer sums and the table."""
import pytest

from llmaccel.flows import bench_streams as B
from llmaccel.perf.cycle_model import STREAM_CONFIGS


def test_bounds_by_hand():
    # Q8_0, K = 576: 18 blocks, 5 scale words + 72 qs words = 77 words a row; N = 576 rows and
    # X's row: 577 * 77 = 44,429 words; 3 streams: 576 * 576 * 3 / 44,429 = 22.40 MAC/cycle.
    # The format alone: 3 * 64 / 8.5 = 22.59.
    stream, own = B.bounds("bfp", "q8_0", 576, 576, STREAM_CONFIGS[3])
    assert B.input_words("bfp", "q8_0", 576, 576, {}) == 577 * 77
    assert stream == pytest.approx(576 * 576 * 3 / 44_429) and own == pytest.approx(3 * 64 / 8.5)
    # Ternary, 16 lanes x 3 trits: K = 576 is 12 passes; a pass: 7 activation words and
    # 192 weight beats of 4 words -> 12 * (7 + 768) = 9,300 words; one stream: 35.67 MAC/cycle,
    # against 64 / (5 / 3) = 38.4 for densely packed 5-bit codes of 3 trits.
    stream, own = B.bounds("ternary", "ternary", 576, 576, STREAM_CONFIGS[1])
    assert B.input_words("ternary", "ternary", 576, 576, STREAM_CONFIGS[1]) == 9_300
    assert stream == pytest.approx(576 * 576 / 9_300) and own == pytest.approx(38.4)


def test_runnable():
    assert B.runnable("q8_0", 576) and not B.runnable("q4_K", 576)
    assert B.runnable("q3_K", 5632, 8192) and not B.runnable("q3_K", 5632, 4096)
    assert B.runnable("q2_K", 5632, 4096)          # Q2_K's K splits


def _record(s, fmt, n, k, cycles):
    stream, _ = B.bounds("ternary" if fmt == "ternary" else "bfp", fmt, n, k, STREAM_CONFIGS[s])
    return {"streams": s, "format": fmt, "n": n, "k": k, "cycles": cycles,
            "mac_per_cycle": round(n * k / cycles, 2), "stream_bound": stream,
            "pct_of_stream_bound": round(100 * n * k / cycles / stream, 1)}


def test_model_shapes_are_the_runs_of_a_token():
    """q, k, v stacked into one run and gate, up into one, as host/model.py runs a layer."""
    assert B.MODEL_SHAPES["SmolLM2-135M"] == [("q, k, v", 960, 576), ("o", 576, 576),
                                              ("gate, up", 3072, 576), ("down", 576, 1536)]
    assert B.MODEL_SHAPES["TinyLlama-1.1B"] == [("q, k, v", 2560, 2048), ("o", 2048, 2048),
                                                ("gate, up", 11264, 2048), ("down", 2048, 5632)]
    assert B.ALONE_SHAPES == {"SmolLM2-135M": [("k, v alone", 192, 576)],
                              "TinyLlama-1.1B": [("k, v alone", 256, 2048)]}


def test_layer_figures_and_table():
    shapes = {"SmolLM2-135M": B.MODEL_SHAPES["SmolLM2-135M"]}
    alone = {"SmolLM2-135M": B.ALONE_SHAPES["SmolLM2-135M"]}
    recs = [_record(3, "q8_0", n, k, 1000 * (i + 1)) for i, (_, n, k) in enumerate(shapes[
        "SmolLM2-135M"])]
    layers = B.layer_figures(recs, shapes)
    # the layer's four runs, once each
    macs = sum(r["n"] * r["k"] for r in recs)
    cycles = sum(r["cycles"] for r in recs)
    assert layers == [{"streams": 3, "format": "q8_0", "model": "SmolLM2-135M",
                       "mac_per_cycle": round(macs / cycles, 2),
                       "pct_of_stream_bound": round(100 * sum(
                           r["n"] * r["k"] / r["stream_bound"] for r in recs) / cycles, 1)}]
    low = min(r["pct_of_stream_bound"] for r in recs)
    kv = _record(3, "q8_0", 192, 576, 5)        # alone: far below, and not in the lowest
    text = B.table(recs + [kv], layers, shapes, alone)
    assert text.splitlines()[0].startswith("| streams | format | stream bound")
    assert text.splitlines()[0].endswith("| lowest | SmolLM2 k, v alone 192 x 576 |")
    row = text.splitlines()[2]
    assert row.startswith("| 3 | q8_0 | ") and row.endswith(
        f"| {low}% | {kv['mac_per_cycle']} ({kv['pct_of_stream_bound']}%) |")
