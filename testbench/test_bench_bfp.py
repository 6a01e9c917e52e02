"""The BFP benchmark's arithmetic and report formatting on a fake row (no simulation, no synthesis),
so that `make bench`'s bfp script cannot rot unnoticed between full runs."""
import json

import numpy as np
import pytest

from llmaccel.flows import bench_bfp as bb
from llmaccel.golden.bfp import quantize_q8_0
from llmaccel.golden.bfp_layout import pack_input


def test_input_words_match_the_stream_layout():
    rng = np.random.default_rng(0)
    for m, n, k in [(1, 3, 32), (2, 5, 160), (8, 4, 576)]:
        w = quantize_q8_0(rng.standard_normal((n, k)).astype(np.float32))
        x = quantize_q8_0(rng.standard_normal((m, k)).astype(np.float32))
        assert bb.input_words(m, n, k) * 8 == len(pack_input(w, x, "q8_0"))


def test_stream_bound_formula():
    # K = 576: B = 18 blocks, a row is ceil(18 / 4) + 4 * 18 = 77 words.
    assert bb.input_words(1, 576, 576) == 577 * 77
    assert bb.stream_bound(1, 576, 576) == pytest.approx(576 * 576 / (577 * 77))
    # K = 1536: B = 48, 12 + 192 = 204 words a row.
    assert bb.input_words(8, 576, 1536) == 584 * 204
    # M = 1 tends to 8 bytes/cycle of 34-byte blocks of 32 weights: 8 * 32 / 34 MAC/cycle.
    assert bb.stream_bound(1, 10**6, 4096) == pytest.approx(8 * 32 / 34, rel=1e-3)
    assert bb.stream_bound(8, 576, 576) > 7 * bb.stream_bound(1, 576, 576)


def test_shape_figures():
    f = bb.shape_figures(1, 576, 576, cycles=50000, peak=32)
    assert f["macs"] == 576 * 576
    assert f["mac_per_cycle"] == round(576 * 576 / 50000, 2)
    assert f["pct_of_peak"] == round(100 * 576 * 576 / 50000 / 32, 1)
    assert f["roofline"] == f["stream_bound"] < 32
    assert f["pct_of_roofline"] == f["pct_of_stream_bound"]
    assert f["excess_cycles"] == 50000 - 577 * 77
    g = bb.shape_figures(8, 576, 1536, cycles=10**6, peak=8)
    assert g["roofline"] == 8 and g["excess_cycles"] == 10**6 - 8 * 576 * 1536 // 8


def fake_row(area=True):
    row = {"params": bb.params_of(8, 4), "mac_lanes": 8, "out_lanes": 4, "peak_mac_per_cycle": 32,
           "runs": [bb.shape_figures(m, n, k, 100000 * m, 32) for k, n in bb.SHAPES for m in bb.MS]}
    if area:
        row.update(lut=12345, lut_pct=23.2, ff=6789, ff_pct=6.38, dsp=32, dsp_pct=14.55,
                   bram36=20.5, bram_pct=14.64, lut_per_peak_mac=385.8, dsp_per_peak_mac=1.0)
    else:
        row.update({k: "n/a" for k in ("lut", "lut_pct", "ff", "ff_pct", "dsp", "dsp_pct",
                                       "bram36", "bram_pct", "lut_per_peak_mac",
                                       "dsp_per_peak_mac")})
    return row


def test_format_rows():
    text = bb.format_rows([fake_row(), fake_row(area=False)])
    lines = text.splitlines()
    tables = [block.splitlines() for block in text.strip().split("\n\n")]
    assert len(tables) == 2
    perf, area = tables
    assert len(perf) == 2 + 2 * len(bb.SHAPES) * len(bb.MS)
    assert len(area) == 2 + 2
    for table in tables:  # every line has as many cells as the header
        cells = table[0].count("|")
        assert all(ln.count("|") == cells for ln in table)
    assert "| 8 | 4 | 32 | 576 x 576 | 1 | 100000 |" in perf[2]
    assert "12345 (23.2%)" in area[2] and "20.5 (14.64%)" in area[2]
    assert area[3].count("n/a") == 6
    assert not any("/work" in ln or "/tmp" in ln for ln in lines)
    json.dumps(fake_row())  # the row goes to bfp.json as it is


def test_note_is_reproducible():
    assert "/work" not in bb.NOTE and "/tmp" not in bb.NOTE
    assert "M N K / input words" in bb.NOTE


def test_sweep_is_valid():
    from llmaccel.generators.bfp import BfpAccelerator
    for ml, ol in bb.SWEEP:
        BfpAccelerator(**bb.params_of(ml, ol))  # parameters accepted (no elaboration)
    assert (8, 4) in bb.SWEEP
    assert bb.K_MAX >= max(k for k, _ in bb.SHAPES) and bb.M_MAX >= max(bb.MS)


def test_format_table():
    runs = [{"format": "q4_0", "bits_per_weight": 4.5, "k": 576, "n": 576, "m": 1,
             "cycles": 24000, "input_words": 23657, "mac_per_cycle": 13.82, "stream_bound": 14.22,
             "pct_of_stream_bound": 97.2}]
    lines = bb.format_table(runs).splitlines()
    assert len(lines) == 3 and all(ln.count("|") == lines[0].count("|") for ln in lines)
    assert lines[2] == "| q4_0 | 4.5 | 576 x 576 | 24,000 | 23,657 | 13.82 | 14.22 | 97.2 |"
    assert "/work" not in bb.FORMAT_NOTE and "64 / bits" in bb.FORMAT_NOTE
    assert [k % 32 for k, _ in bb.FORMAT_SHAPES] == [0] * len(bb.FORMAT_SHAPES)
