"""Synthesis of the SRAM controller for the XC7Z020: storage must land in block RAM."""
import pytest

from llmaccel.flows.synth import synthesize
from llmaccel.generators.emit import emit_block


@pytest.mark.synth
def test_default_storage_maps_to_block_ram(tmp_path):
    name, verilog = emit_block("sram")
    report = synthesize(verilog, name, tmp_path)
    print(report)
    # 2 sets x 4 banks of 512 x 64 bits: one RAMB36E1 (512 x 72) each.
    assert report["ramb36"] + report["ramb18"] / 2 == 8
    # 256 Kbit in flip-flops or LUTs would need thousands of them: only control and the small
    # response FIFOs (3 x 64 bits per read port: 11 RAM32M = 44 LUTs each) may remain there.
    assert report["ff"] < 400
    assert report["lutram"] <= 2 * 48
    assert report["dsp"] == 0


@pytest.mark.synth
@pytest.mark.slow        # a second synthesis of the SRAM controller: make regress
def test_ecc_words_fit_72_bit_block_ram(tmp_path):
    name, verilog = emit_block("sram", {"ecc": 1})
    report = synthesize(verilog, name, tmp_path)
    assert report["ramb36"] + report["ramb18"] / 2 == 8  # 64 data + 8 check bits per 512 x 72
