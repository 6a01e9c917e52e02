"""The analytical cycle models (llmaccel/perf/cycle_model.py) against cycles measured in simulation.

No simulation here: the measured figures are pinned below with their sources, so a hardware change
that moves the cycle counts away from the model fails these tests (re-measure, then fix the model).
"""
import pytest

from llmaccel.perf.cycle_model import (STREAM_CONFIGS, WIDE_3, bfp_cycles, bfp_phases,
                                       model_error_table, model_params, ternary_cycles,
                                       ternary_phases, top_cycles)

# BFP (Q8_0, Verilator, unstalled streams, CYCLES register). Issue 12 added a third binary32
# stage to the chain (a multiplier, 4 cycles) and every BFP run got 4 cycles longer: BFP_SMALL
# and BFP_FORMATS were re-measured then (every BFP_SMALL figure exactly +4); the BFP_BENCH and
# TOP figures are the earlier measurements + 4 per run.
# Source "bench": reports/bench/bfp.json at commit 393b8c7 (make bench, K x N = 576 x 576 and
# 1536 x 576, seeded random Q8_0 rows); key (mac_lanes, out_lanes, M, K, N) -> cycles.
BFP_BENCH = {
    (8, 1, 1, 576, 576): 45106, (8, 1, 8, 576, 576): 333074,
    (8, 1, 1, 1536, 576): 118505, (8, 1, 8, 1536, 576): 887177,
    (8, 4, 1, 576, 576): 44680, (8, 4, 8, 576, 576): 84047,
    (8, 4, 1, 1536, 576): 118079, (8, 4, 8, 1536, 576): 223811,
    (16, 4, 1, 576, 576): 44676, (16, 4, 8, 576, 576): 45447,
    (16, 4, 1, 1536, 576): 118075, (16, 4, 8, 1536, 576): 120095,
    (32, 2, 1, 576, 576): 44816, (32, 2, 8, 576, 576): 45440,
    (32, 2, 1, 1536, 576): 118215, (32, 2, 8, 1536, 576): 119845,
    (32, 4, 1, 576, 576): 44674, (32, 4, 8, 576, 576): 45309,
    (32, 4, 1, 1536, 576): 118073, (32, 4, 8, 1536, 576): 119717,
}
# Source "small": measured for this model at commit 393b8c7 with testbench.job.simulate_bfp (llmaccel.testbench.job)
# (verilator, k_max 4096, m_max 8, seeded standard-normal rows through golden.bfp.quantize_q8_0):
# small M, N not a multiple of out_lanes, K short and long, gap-paced M < 4 with mac_lanes 32.
BFP_SMALL = {
    (8, 4, 1, 32, 1): 47, (8, 4, 2, 512, 7): 776, (8, 4, 3, 96, 10): 251,
    (8, 4, 8, 64, 9): 335, (8, 4, 5, 1024, 6): 2539, (8, 4, 1, 2048, 5): 1922,
    (8, 4, 8, 512, 5): 1874, (8, 4, 1, 512, 13): 1052,
    (32, 4, 1, 512, 6): 569, (32, 4, 2, 512, 6): 639, (32, 4, 3, 256, 5): 363,
    (32, 4, 8, 512, 9): 1387, (32, 4, 8, 32, 8): 154,
}
# The other formats, measured with the same bench on the BFP_SMALL shapes (seeded random rows of
# testbench/bfp_data.py); key (format, mac_lanes, out_lanes, M, K, N).
BFP_FORMATS = {
    ("q4_0", 8, 4, 1, 32, 1): 45, ("q4_0", 8, 4, 2, 512, 7): 572, ("q4_0", 8, 4, 8, 64, 9): 319,
    ("q4_0", 32, 4, 2, 512, 6): 447, ("q4_0", 32, 4, 8, 512, 9): 1141,
    ("q4_1", 8, 4, 1, 32, 1): 45, ("q4_1", 8, 4, 2, 512, 7): 596, ("q4_1", 8, 4, 8, 64, 9): 319,
    ("q4_1", 32, 4, 2, 512, 6): 479, ("q4_1", 32, 4, 8, 512, 9): 1195,
    ("q5_0", 8, 4, 1, 32, 1): 46, ("q5_0", 8, 4, 2, 512, 7): 608, ("q5_0", 8, 4, 8, 64, 9): 323,
    ("q5_0", 32, 4, 2, 512, 6): 495, ("q5_0", 32, 4, 8, 512, 9): 1195,
    ("q5_1", 8, 4, 1, 32, 1): 46, ("q5_1", 8, 4, 2, 512, 7): 644, ("q5_1", 8, 4, 8, 64, 9): 323,
    ("q5_1", 32, 4, 2, 512, 6): 527, ("q5_1", 32, 4, 8, 512, 9): 1259,
    ("mxint8", 8, 4, 1, 32, 1): 47, ("mxint8", 8, 4, 2, 512, 7): 776,
    ("mxint8", 8, 4, 8, 64, 9): 335, ("mxint8", 32, 4, 2, 512, 6): 639,
    ("mxint8", 32, 4, 8, 512, 9): 1387,
    # The K-quants (K a multiple of 256), the same bench on seeded random_rows; the M = 1 shapes
    # (SmolLM2's ffn_down row count cut to 16) are exact.
    ("q2_K", 8, 4, 1, 256, 1): 117, ("q2_K", 8, 4, 2, 512, 7): 526,
    ("q2_K", 8, 4, 8, 256, 9): 1147, ("q2_K", 8, 4, 1, 1536, 16): 1462,
    ("q2_K", 32, 4, 2, 512, 6): 337, ("q2_K", 16, 4, 3, 512, 5): 529,
    ("q3_K", 8, 4, 1, 256, 1): 177, ("q3_K", 8, 4, 2, 512, 7): 705,
    ("q3_K", 8, 4, 8, 256, 9): 1953, ("q3_K", 8, 4, 1, 1536, 16): 1838,
    ("q3_K", 32, 4, 2, 512, 6): 485, ("q3_K", 16, 4, 3, 512, 5): 758,
    ("q4_K", 8, 4, 1, 256, 1): 185, ("q4_K", 8, 4, 2, 512, 7): 769,
    ("q4_K", 8, 4, 8, 256, 9): 2065, ("q4_K", 8, 4, 1, 1536, 16): 2262,
    ("q4_K", 32, 4, 2, 512, 6): 525, ("q4_K", 16, 4, 3, 512, 5): 814,
    ("q5_K", 8, 4, 1, 256, 1): 189, ("q5_K", 8, 4, 2, 512, 7): 801,
    ("q5_K", 8, 4, 8, 256, 9): 2081, ("q5_K", 8, 4, 1, 1536, 16): 2646,
    ("q5_K", 32, 4, 2, 512, 6): 557, ("q5_K", 16, 4, 3, 512, 5): 846,
    ("q6_K", 8, 4, 1, 256, 1): 189, ("q6_K", 8, 4, 2, 512, 7): 805,
    ("q6_K", 8, 4, 8, 256, 9): 2001, ("q6_K", 8, 4, 1, 1536, 16): 3038,
    ("q6_K", 32, 4, 2, 512, 6): 596, ("q6_K", 16, 4, 3, 512, 5): 858,
}
# Ternary (Verilator, first input beat to last result beat, dense random trits).
# Source "small"/"bench shape": measured for this model at commit 393b8c7 with
# testbench.job.simulate_ternary (seeded random int8 X and trits W); key (params, M, K, N).
G1 = (("g", 1), ("lanes", 16))
G4 = (("g", 4), ("lanes", 16), ("double_buffer", 0), ("lanes_per_builder", 2))
TERNARY_MEASURED = {
    ((), 1, 1536, 576): 6410, ((), 8, 1536, 576): 49642,
    ((), 1, 48, 1): 121, ((), 2, 100, 10): 674, ((), 3, 512, 301): 3741,
    ((), 8, 96, 700): 4006, ((), 5, 1536, 64): 17632, ((), 1, 1000, 400): 3000,
    (G1, 1, 1536, 576): 18826, (G1, 2, 256, 50): 635, (G1, 3, 100, 7): 118,
    (G4, 2, 256, 100): 1594, (G4, 1, 1536, 576): 8584,
}
# Source "README": the README's SmolLM2 blk.0.ffn_down figures (real activations, K 1536, N 576,
# default g 3, lanes 16, rows 3), measured before this model on an earlier commit: they sit one
# cycle per pass below today's random-data runs above (6378 vs 6410), so a looser bound.
TERNARY_README = {((), 1, 1536, 576): 6378, ((), 8, 1536, 576): 49558}


def rel_err(model, measured):
    return abs(model - measured) / measured


def bound_for(k, cycles):
    """Allowed relative error by shape class: long K within 1%, short K (fixed latency and the
    residual pipeline interactions weigh more) within 3% or 12 cycles."""
    if k >= 512:
        return 0.01
    return max(0.03, 12 / cycles)


@pytest.mark.parametrize("key", sorted({**BFP_BENCH, **BFP_SMALL}))
def test_bfp_model(key):
    ml, ol, m, k, n = key
    measured = {**BFP_BENCH, **BFP_SMALL}[key]
    model = bfp_cycles(m, n, k, mac_lanes=ml, out_lanes=ol)
    assert rel_err(model, measured) <= bound_for(k, measured), (key, model, measured)


@pytest.mark.parametrize("key", sorted(TERNARY_MEASURED, key=repr))
def test_ternary_model(key):
    params, m, k, n = key
    measured = TERNARY_MEASURED[key]
    model = ternary_cycles(m, n, k, **dict(params))
    assert rel_err(model, measured) <= bound_for(k, measured), (key, model, measured)


@pytest.mark.parametrize("key", sorted(TERNARY_README, key=repr))
def test_ternary_model_readme(key):
    params, m, k, n = key
    assert rel_err(ternary_cycles(m, n, k, **dict(params)), TERNARY_README[key]) <= 0.01


def test_bfp_structure():
    # M = 1 decode is bound by the input stream: within a few hundred cycles of its words.
    ph = bfp_phases(1, 576, 576)
    assert ph["steady_bound"]["stream"] == ph["tiles"] - 1
    assert 0 < ph["total"] - ph["input_words"] < 400
    # M = 8 on the default is compute-bound: B M (32 / mac_lanes) cycles a tile.
    ph = bfp_phases(8, 576, 576)
    assert ph["steady_bound"]["compute"] == ph["tiles"] - 1
    assert ph["tile_compute"] == 18 * 8 * 4
    # Small M with wide MAC lanes: the adder loop (gap), not the MACs, paces the blocks.
    assert bfp_phases(1, 8, 512, 32, 4)["tile_compute"] == 16 * 4
    assert bfp_phases(2, 8, 512, 32, 4)["tile_compute"] == 16 * 2 * 2
    with pytest.raises(ValueError):
        bfp_cycles(1, 1, 100)


def test_ternary_structure():
    ph = ternary_phases(8, 576, 1536)
    assert (ph["passes"], ph["words"], ph["build"]) == (32, 192, 108)
    assert ph["bound"]["words"] > ph["bound"]["build"]         # words hide the table builds
    ph = ternary_phases(5, 64, 1536)
    assert ph["bound"]["build"] >= ph["units"] - 1              # 22 words < 108-cycle builds


def test_error_table():
    table = model_error_table([
        {"block": "bfp", "m": 8, "k": 576, "n": 576, "cycles": 84047},
        {"block": "ternary", "m": 1, "k": 48, "n": 1, "cycles": 121, "params": {"g": 3}},
        {"block": "bfp", "m": 1, "k": 576, "n": 576, "cycles": 44816,
         "params": {"mac_lanes": 32, "out_lanes": 2}},
    ])
    lines = table.strip().splitlines()
    assert lines[0].startswith("| block |") and len(lines) == 5
    assert "| 84,047 | 84,047 | +0.00 |" in lines[2]
    assert "mac_lanes=32, out_lanes=2" in lines[4]


# The top core through the host driver (unstalled streams, the CYCLES registers of the driver's
# runs summed; seeded random data). Key (engine, format, M, N, K) -> cycles, per core of
# llmaccel.perf.cycle_model.STREAM_CONFIGS (by its input streams); shapes beyond the maxima
# (ternary N > 1536 or K > 1536, BFP K > K_MAX or M > 8) are split by the driver into runs.
# One stream (the earlier default core): source "layer" = `llmaccel decode` (SmolLM2-135M layer 0,
# M = 1), source "shapes" = testbench/cocotb_top.py run_shapes (Verilator), at commit c776c64.
TOP_1 = {
    ("bfp", 1, 576, 576): 44680, ("bfp", 1, 192, 576): 15016, ("bfp", 1, 1536, 576): 118840,
    ("bfp", 1, 576, 1536): 118079, ("bfp", 1, 576, 4096): 314579, ("bfp", 1, 576, 8192): 629734,
    ("bfp", 9, 64, 256): 6848, ("bfp", 8, 576, 576): 84047,
    ("ternary", 1, 576, 576): 9604, ("ternary", 1, 192, 576): 3268,
    ("ternary", 1, 1536, 576): 25444, ("ternary", 1, 576, 1536): 25104,
    ("ternary", 2, 576, 576): 9976, ("ternary", 4, 576, 576): 10731,
    ("ternary", 8, 576, 576): 20667, ("ternary", 8, 1536, 576): 53947,
    ("ternary", 1, 10, 50): 253, ("ternary", 3, 100, 1000): 7374,
    ("ternary", 8, 576, 1536): 52527, ("ternary", 1, 2048, 1536): 88929,
    ("ternary", 1, 576, 2048): 33933,
}
# Three streams with the wide BFP lanes (WIDE_3: 16 x 6 MAC lanes): the fast back end
# (host/fast_backend.py, which gives the cocotb back end's cycles, testbench/test_fast_backend.py),
# random rows of golden/formats.py's quantizers, every result checked; measured for issue 13
# (K <= 4096, so K_MAX does not matter).
TOP_3_WIDE = {
    ("bfp", "q8_0", 1, 576, 576): 15062, ("bfp", "q8_0", 1, 192, 576): 5142,
    ("bfp", "q4_0", 1, 1536, 576): 21430, ("bfp", "q4_1", 1, 576, 1536): 23577,
    ("bfp", "mxint8", 1, 576, 576): 15062, ("bfp", "q5_0", 1, 192, 576): 3414,
    ("bfp", "q5_1", 1, 576, 576): 10650, ("bfp", "q2_K", 1, 576, 1536): 12544,
    ("bfp", "q3_K", 1, 256, 2048): 10000, ("bfp", "q4_K", 1, 576, 1536): 21238,
    ("bfp", "q5_K", 1, 256, 2048): 15692, ("bfp", "q6_K", 1, 576, 1536): 30826,
    ("bfp", "q8_0", 8, 576, 576): 29717, ("bfp", "q4_0", 3, 100, 576): 2203,
    ("bfp", "q8_0", 1, 576, 4096): 105633, ("bfp", "q8_0", 1, 13, 576): 565,
    ("ternary", "", 1, 576, 576): 3404, ("ternary", "", 1, 192, 576): 1172,
    ("ternary", "", 1, 1536, 576): 9012, ("ternary", "", 1, 576, 1536): 8571,
    ("ternary", "", 8, 576, 576): 19707, ("ternary", "", 2, 100, 300): 869,
    ("ternary", "", 1, 2048, 1536): 30370, ("ternary", "", 1, 1536, 48): 1470,
    ("ternary", "", 1, 1536, 96): 2156, ("ternary", "", 1, 1536, 144): 2841,
    ("ternary", "", 1, 1536, 1536): 22726, ("ternary", "", 1, 512, 1536): 7644,
    ("ternary", "", 1, 1535, 96): 2156, ("ternary", "", 1, 1534, 96): 2156,
    ("ternary", "", 2, 1536, 96): 3270, ("ternary", "", 1, 513, 96): 734,
    ("ternary", "", 1, 768, 96): 1089, ("ternary", "", 1, 1200, 96): 1689,
}
# Two and four streams (STREAM_CONFIGS[2], [4]): the same bench on the same shapes.
TOP_2 = {
    ("bfp", "q8_0", 1, 576, 576): 22500, ("bfp", "q8_0", 1, 192, 576): 7620,
    ("bfp", "q4_0", 1, 1536, 576): 32052, ("bfp", "q4_1", 1, 576, 1536): 35143,
    ("bfp", "mxint8", 1, 576, 576): 22500, ("bfp", "q5_0", 1, 192, 576): 5028,
    ("bfp", "q5_1", 1, 576, 576): 15880, ("bfp", "q2_K", 1, 576, 1536): 18638,
    ("bfp", "q3_K", 1, 256, 2048): 14641, ("bfp", "q4_K", 1, 576, 1536): 31652,
    ("bfp", "q5_K", 1, 256, 2048): 23105, ("bfp", "q6_K", 1, 576, 1536): 46040,
    ("bfp", "q8_0", 8, 576, 576): 43005, ("bfp", "q4_0", 3, 100, 576): 3075,
    ("bfp", "q8_0", 1, 576, 4096): 157903, ("bfp", "q8_0", 1, 13, 576): 720,
    ("ternary", "", 1, 576, 576): 4954, ("ternary", "", 1, 192, 576): 1690,
    ("ternary", "", 1, 1536, 576): 13114, ("ternary", "", 1, 576, 1536): 12704,
    ("ternary", "", 8, 576, 576): 19947, ("ternary", "", 2, 100, 300): 885,
    ("ternary", "", 1, 2048, 1536): 44993, ("ternary", "", 1, 1536, 96): 2839,
}
TOP_4 = {
    ("bfp", "q8_0", 1, 576, 576): 11344, ("bfp", "q8_0", 1, 192, 576): 3904,
    ("bfp", "q4_0", 1, 1536, 576): 16120, ("bfp", "q4_1", 1, 576, 1536): 17795,
    ("bfp", "mxint8", 1, 576, 576): 11344, ("bfp", "q5_0", 1, 192, 576): 2608,
    ("bfp", "q5_1", 1, 576, 576): 8036, ("bfp", "q2_K", 1, 576, 1536): 9498,
    ("bfp", "q3_K", 1, 256, 2048): 7573, ("bfp", "q4_K", 1, 576, 1536): 16032,
    ("bfp", "q5_K", 1, 256, 2048): 11813, ("bfp", "q6_K", 1, 576, 1536): 23220,
    ("bfp", "q8_0", 8, 576, 576): 23077, ("bfp", "q4_0", 3, 100, 576): 1767,
    ("bfp", "q8_0", 1, 576, 4096): 79499, ("bfp", "q8_0", 1, 13, 576): 491,
    ("ternary", "", 1, 576, 576): 2629, ("ternary", "", 1, 192, 576): 901,
    ("ternary", "", 1, 1536, 576): 6949, ("ternary", "", 1, 576, 1536): 6501,
    ("ternary", "", 8, 576, 576): 10546, ("ternary", "", 1, 2048, 1536): 23019,
    ("ternary", "", 1, 1536, 96): 1813,
}
# Measured with them, and not exact: a K-quant at M > 1 (the per-row-end steps of M rows
# interleave; within 0.3%), and one ternary shape at M = 2 on the 32-lane engine (by 1 cycle).
TOP_NEAR = {(2, "bfp", "q4_K", 5, 100, 512): 8983, (3, "bfp", "q4_K", 5, 100, 512): 7469,
            (4, "bfp", "q4_K", 5, 100, 512): 4903, (4, "ternary", "", 2, 100, 300): 534}
# Three streams, the default core (8 x 6 MAC lanes): the same bench; its ternary engine is the
# wide core's.
TOP_3 = {
    ("bfp", "q8_0", 1, 576, 576): 15064, ("bfp", "q8_0", 1, 192, 576): 5144,
    ("bfp", "q4_0", 1, 1536, 576): 21432, ("bfp", "q4_1", 1, 576, 1536): 23579,
    ("bfp", "mxint8", 1, 576, 576): 15064, ("bfp", "q5_0", 1, 192, 576): 3416,
    ("bfp", "q5_1", 1, 576, 576): 10652, ("bfp", "q2_K", 1, 576, 1536): 18910,
    ("bfp", "q2_K", 1, 256, 2048): 11546, ("bfp", "q3_K", 1, 256, 2048): 12270,
    ("bfp", "q3_K", 1, 576, 1536): 20417, ("bfp", "q3_K", 1, 13, 256): 270,
    ("bfp", "q3_K", 1, 12, 512): 353, ("bfp", "q4_K", 1, 576, 1536): 21324,
    ("bfp", "q5_K", 1, 256, 2048): 15806, ("bfp", "q6_K", 1, 576, 1536): 30922,
    ("bfp", "q8_0", 8, 576, 576): 56211, ("bfp", "q4_0", 3, 100, 576): 4035,
    ("bfp", "q8_0", 1, 576, 4096): 105635, ("bfp", "q8_0", 1, 13, 576): 567,
    ("bfp", "q8_0", 1, 576, 8192): 211139, ("bfp", "q8_0", 1, 576, 9024): 232989,
    ("bfp", "q8_0", 9, 64, 256): 4058,
    **{key: c for key, c in TOP_3_WIDE.items() if key[0] == "ternary"},
}
TOP_BY_CONFIG = {1: {(e, "q8_0" if e == "bfp" else "", m, n, k): c
                     for (e, m, n, k), c in TOP_1.items()},
                 2: TOP_2, 3: TOP_3, "3-wide": TOP_3_WIDE, 4: TOP_4}
CONFIGS = {**STREAM_CONFIGS, "3-wide": WIDE_3}
TOP = TOP_3                   # the default core's


def top_model(config, engine, fmt, m, n, k):
    params = model_params(engine, CONFIGS[config])
    return top_cycles(engine, m, n, k, params, fmt or "q8_0")


@pytest.mark.parametrize("key", sorted(BFP_FORMATS))
def test_bfp_model_formats(key):
    fmt, ml, ol, m, k, n = key
    model = bfp_cycles(m, n, k, mac_lanes=ml, out_lanes=ol, fmt=fmt)
    assert rel_err(model, BFP_FORMATS[key]) <= bound_for(k, BFP_FORMATS[key]), (model, key)


@pytest.mark.parametrize("config,key", [(c, key) for c, pins in TOP_BY_CONFIG.items()
                                        for key in pins])
def test_top_model(config, key):
    """Exact to the cycle on every pinned shape of every stream count."""
    assert top_model(config, *key) == TOP_BY_CONFIG[config][key]


@pytest.mark.parametrize("key", list(TOP_NEAR))
def test_top_model_near(key):
    streams, *shape = key
    assert rel_err(top_model(streams, *shape), TOP_NEAR[key]) <= 0.003


def test_top_model_defaults_to_the_default_core():
    assert top_cycles("bfp", 1, 576, 576) == TOP[("bfp", "q8_0", 1, 576, 576)]
    assert top_cycles("ternary", 1, 576, 576) == TOP[("ternary", "", 1, 576, 576)]


def test_top_model_rejects_unknown_engine():
    with pytest.raises(ValueError, match="engine must be 'bfp' or 'ternary', not 'fp8'"):
        top_cycles("fp8", 1, 1, 32)


# A whole SmolLM2-135M decode token (M = 1) in each K-quant mix on the one-stream core, measured by
# `llmaccel generate --weights MIX` on the fast back end (the Verilated core; every product bit-exact): every layer's
# projections in the formats golden/quant_mix.py gives them, and the Q8_0 LM head.
SMOLLM2_TOKEN = {"q4_k_m": 13_138_756, "q3_k_s": 10_986_436, "q2_k": 10_986_436,
                 "q2_k_s": 10_717_156}


@pytest.mark.parametrize("mix", list(SMOLLM2_TOKEN))
def test_top_model_of_a_k_quant_token(mix):
    from llmaccel.golden.quant_mix import tensor_format
    from llmaccel.perf.projection import projections
    total = 0
    for p in projections("SmolLM2-135M"):
        if p["name"] == "lm_head":
            total += top_model(1, "bfp", "q8_0", 1, p["n"], p["k"])
            continue
        for layer in range(p["count"]):
            fmt = tensor_format(mix, p["name"], layer, p["count"], p["k"])
            total += top_model(1, "bfp", fmt, 1, p["n"], p["k"])
    assert total == SMOLLM2_TOKEN[mix]


def test_top_defaults_are_the_generators():
    """TOP_DEFAULTS is the default core's parameters (generators/top.py), engine by engine."""
    from llmaccel.generators.top import LlmAccelerator
    from llmaccel.perf.cycle_model import TOP_DEFAULTS
    params = {p.name: p.default for p in LlmAccelerator.PARAMS}
    for engine, prefix in (("bfp", "bfp_"), ("ternary", "tern_")):
        mine = {name[len(prefix):]: v for name, v in params.items() if name.startswith(prefix)}
        mine["streams"] = params["streams"]
        assert {k: mine[k] for k in TOP_DEFAULTS[engine]} == TOP_DEFAULTS[engine]
