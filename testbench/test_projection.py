"""The tokens/s projection (llmaccel/perf/projection.py): shapes, MACs and weight bytes against numbers
worked out by hand below, the min() of the two bounds, the plots' reproducibility, bad input.
Fake cycle functions only: no simulation, no dependence on the cycle model's current figures."""
import pytest

from llmaccel.perf import cycle_model as perf_model
from llmaccel.perf.projection import (ENGINES, MODELS, PUBLISHED, plot_projection_cycles,
                                      plot_roofline, projection_markdown, projections, run_projection,
                                      token_projection, weight_bytes)

# MACs of one decode token (N x K summed), worked out by hand:
# SmolLM2-135M, per layer: q, o 576*576 = 331,776 each; k, v 192*576 = 110,592 each;
#   gate, up, down 1536*576 = 884,736 each -> 663,552 + 221,184 + 2,654,208 = 3,538,944;
#   x 30 layers = 106,168,320; LM head 49152*576 = 28,311,552 -> 134,479,872.
# TinyLlama-1.1B, per layer: 2 * 2048*2048 + 2 * 256*2048 + 3 * 5632*2048
#   = 8,388,608 + 1,048,576 + 34,603,008 = 44,040,192; x 22 = 968,884,224;
#   LM head 32000*2048 = 65,536,000 -> 1,034,420,224.
# BitNet b1.58 2B4T, per layer: 2 * 2560*2560 + 2 * 640*2560 + 3 * 6912*2560
#   = 13,107,200 + 3,276,800 + 53,084,160 = 69,468,160; x 30 = 2,084,044,800;
#   LM head 128256*2560 = 328,335,360 -> 2,412,380,160.
MACS = {"SmolLM2-135M": (3_538_944, 28_311_552, 134_479_872),
        "TinyLlama-1.1B": (44_040_192, 65_536_000, 1_034_420_224),
        "BitNet-b1.58-2B4T": (69_468_160, 328_335_360, 2_412_380_160)}

# Weight bytes of SmolLM2-135M per token. Q8_0 rows: K = 576 -> B = 18 blocks, ceil(18/4) = 5
# scale words + 72 qs words = 77 words (616 bytes); K = 1536 -> B = 48, 12 + 192 = 204 words.
# bfp: per layer (576 + 192 + 192 + 576 + 1536 + 1536) = 4,608 rows of 77 words + 576 rows of
#   204 words = 472,320 words = 3,778,560 bytes; x 30 = 113,356,800; LM head 49152 * 616 =
#   30,277,632 -> 143,634,432.
# ternary: a beat = 3 rows x 16 lanes x 5-bit codes (g = 3) = 240 bits -> 4 words (32 bytes);
#   K = 576 -> 12 slices, K = 1536 -> 32; q, o: 12 * 192 = 2,304 beats, k, v: 12 * 64 = 768,
#   gate, up: 12 * 512 = 6,144, down: 32 * 192 = 6,144 -> 24,576 beats = 786,432 bytes;
#   x 30 = 23,592,960; + the Q8_0 LM head 30,277,632 -> 53,870,592.
SMOL_BYTES = {"bfp": 143_634_432, "ternary": 53_870_592}


def const_cycles(cycles):
    return lambda engine, m, n, k: cycles


def test_projection_shapes_smollm2():
    rows = {p["name"]: (p["n"], p["k"], p["count"]) for p in projections("SmolLM2-135M")}
    assert rows == {"q": (576, 576, 30), "k": (192, 576, 30), "v": (192, 576, 30),
                    "o": (576, 576, 30), "gate": (1536, 576, 30), "up": (1536, 576, 30),
                    "down": (576, 1536, 30), "lm_head": (49152, 576, 1)}


@pytest.mark.parametrize("name", list(MACS))
def test_macs_per_token(name):
    per_layer, head, total = MACS[name]
    rows = projections(name)
    assert sum(p["n"] * p["k"] for p in rows if p["name"] != "lm_head") == per_layer
    assert [p["n"] * p["k"] for p in rows if p["name"] == "lm_head"] == [head]
    assert token_projection(name, "bfp", const_cycles(1))["macs"] == total


def test_weight_bytes_known_shapes():
    assert weight_bytes("bfp", 576, 576) == 576 * 616            # 354,816
    assert weight_bytes("bfp", 576, 1536) == 576 * 204 * 8       # 940,032
    assert weight_bytes("ternary", 576, 576) == 73_728           # 12 * 192 beats * 32 bytes
    # Neither K nor N divides: ceil(5632 / 48) = 118 slices x ceil(2048 / 3) = 683 beats.
    assert weight_bytes("ternary", 2048, 5632) == 118 * 683 * 32  # 2,579,008
    # g = 4: 7-bit codes, 3 x 16 x 7 = 336 bits -> 6 words; K = 576 -> 9 slices of 64.
    assert weight_bytes("ternary", 576, 576, g=4) == 9 * 192 * 6 * 8  # 82,944


@pytest.mark.parametrize("engine", ENGINES)
def test_smollm2_bytes_per_token(engine):
    assert token_projection("SmolLM2-135M", engine, const_cycles(1))["weight_bytes"] == \
        SMOL_BYTES[engine]


def test_ddr_bound_when_cycles_are_few():
    # 7 x 30 + 1 = 211 matmuls of 1,000 cycles: 211,000 cycles -> 473.9 tokens/s of compute;
    # DDR: 2.1e9 / 143,634,432 = 14.62 tokens/s.
    r = token_projection("SmolLM2-135M", "bfp", const_cycles(1000))
    assert r["cycles"] == 211_000
    assert r["compute_tokens_per_s"] == pytest.approx(100e6 / 211_000)
    assert r["ddr_tokens_per_s"] == pytest.approx(2.1e9 / 143_634_432)
    assert r["bound"] == "DDR"
    assert r["tokens_per_s"] == r["ddr_tokens_per_s"]
    assert r["s_per_token"] == pytest.approx(143_634_432 / 2.1e9)
    assert r["mac_per_s"] == pytest.approx(134_479_872 * 2.1e9 / 143_634_432)


def test_compute_bound_when_cycles_are_many():
    r = token_projection("SmolLM2-135M", "ternary", const_cycles(10_000_000), clock_hz=50e6)
    assert r["cycles"] == 2_110_000_000
    assert r["bound"] == "compute"
    assert r["tokens_per_s"] == pytest.approx(50e6 / 2_110_000_000)


def test_ternary_scenario_runs_lm_head_on_bfp():
    calls = []

    def record(engine, m, n, k):
        calls.append((engine, m, n, k))
        return 7

    r = token_projection("SmolLM2-135M", "ternary", record)
    assert calls[-1] == ("bfp", 1, 49152, 576)
    assert {c[0] for c in calls[:-1]} == {"ternary"} and {c[1] for c in calls} == {1}
    assert [p["cycles"] for p in r["projections"]] == [7 * 30] * 7 + [7]
    assert r["projections"][-1]["engine"] == "bfp"


def test_bad_input():
    with pytest.raises(ValueError, match="unknown model 'GPT-9'"):
        token_projection("GPT-9", "bfp", const_cycles(1))
    with pytest.raises(ValueError, match="unknown model 'GPT-9'"):
        projections("GPT-9")
    with pytest.raises(ValueError, match="unknown engine 'fp16': choose 'bfp' or 'ternary'"):
        token_projection("SmolLM2-135M", "fp16", const_cycles(1))
    with pytest.raises(ValueError, match="unknown engine 'int4'"):
        weight_bytes("int4", 8, 64)
    with pytest.raises(ValueError, match="Q8_0 needs K a multiple of 32, not 100"):
        weight_bytes("bfp", 8, 100)
    with pytest.raises(ValueError, match="need a positive int"):
        token_projection("SmolLM2-135M", "bfp", const_cycles(0))
    with pytest.raises(ValueError, match="unknown projection 'qkv'"):
        plot_projection_cycles([{"projection": "qkv", "engine": "bfp", "simulated": 1,
                                 "model": 1}], "unused.png")


def test_markdown_table():
    results = [token_projection(name, eng, const_cycles(1000)) for name in MODELS
               for eng in ENGINES]
    md = projection_markdown(results)
    assert "| SmolLM2-135M | bfp | 143.6 | 0.21 | 473.93 | 14.62 | 14.62 | 0.068 | DDR |" in md
    assert PUBLISHED[0]["citation"] in md and "| 0.59 | 1.7 | published |" in md
    assert "100 MHz" in md and "2.1 GB/s" in md and "Cortex-A9" in md
    assert len([ln for ln in md.splitlines() if ln.startswith("| ")]) == 1 + 6 + 1


def _png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert b"matplotlib" not in data.lower()     # no version stamp
    return data


def test_plots_are_reproducible(tmp_path):
    points = [{"label": "a", "intensity": 0.94, "mac_per_s": 7.5e8},
              {"label": "b", "intensity": 3.6, "mac_per_s": 6e9}]
    rows = [{"projection": p, "engine": e, "simulated": 1000 * (i + 1) * (j + 1),
             "model": 990 * (i + 1) * (j + 1)}
            for i, p in enumerate(("q", "k", "v", "o", "gate", "up", "down"))
            for j, e in enumerate(ENGINES)]
    runs = []
    for name in ("one", "two"):
        plot_roofline(points, tmp_path / name / "roofline.png")
        plot_projection_cycles(rows, tmp_path / name / "cycles.png")
        runs.append((_png(tmp_path / name / "roofline.png"), _png(tmp_path / name / "cycles.png")))
    assert runs[0] == runs[1]


def test_run_projection(tmp_path):
    out = run_projection(tmp_path, const_cycles(1000))
    assert [(r["model"], r["engine"]) for r in out["results"]] == \
        [(name, eng) for name in MODELS for eng in ENGINES]
    assert out["roofline"] == "roofline.png"
    _png(tmp_path / "roofline.png")
    assert "SECDA-LLM" in out["markdown"]


def test_default_cycles_fn_is_top_cycles():
    if not hasattr(perf_model, "top_cycles"):
        pytest.skip("llmaccel.perf.cycle_model.top_cycles is not there yet")
    r = token_projection("SmolLM2-135M", "bfp")
    assert r["cycles"] == sum(perf_model.top_cycles("bfp", 1, p["n"], p["k"]) * p["count"]
                              for p in projections("SmolLM2-135M"))
