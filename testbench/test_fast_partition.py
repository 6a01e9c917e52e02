"""The fast co-simulation's partitioner (testbench/fast_partition.py) on the emitted default core:
the engines leave the top module, their connections become the glue's ports, each engine gets a
wrapper; and its errors on Verilog it cannot read. (That the partitioned core computes what the
whole one does is test_fast_backend.py's comparison with the cocotb back end.)"""
import re

import pytest

from llmaccel.generators.emit import emit_block_once
from llmaccel.testbench.fast_partition import PartitionError, input_streams, parts_header, split


@pytest.fixture(scope="module")
def top():
    return emit_block_once("top", None)


def test_engines_become_ports_of_the_glue(top):
    module, verilog = top
    text, parts = split(verilog, module)
    assert [p.instance for p in parts] == ["bfp", "ternary"]
    glue = text[text.index(f"module {module}("):]
    glue = glue[:glue.index("\nendmodule")]
    for part in parts:
        assert f"  {part.instance} (" not in glue            # the instance is gone ...
        assert f"module {part.wrapper}(" in text               # ... and wrapped on its own
        for p in part.ports:
            direction = "output" if p.direction == "input" else "input"
            assert re.search(rf"^  {direction} (\[\d+:0\] )?{part.glue_port(p)};$", glue, re.M)
    bfp = parts[0]
    ports = {p.name: (p.direction, p.width) for p in bfp.ports}
    assert ports["data_in__0__payload"] == ("input", 64) and ports["busy"] == ("output", 1)
    assert "clk" not in ports
    header = parts_header(parts)
    assert "struct Part_bfp" in header and "struct Part_ternary" in header
    assert "#define FASTSIM_PARTS(X) X(Part_bfp) X(Part_ternary)" in header
    # the core's input streams, from its ports (the default has 3)
    assert input_streams(verilog, module) == 3
    header = parts_header(parts, streams=3)
    assert "#define FASTSIM_STREAMS 3" in header
    assert ("#define FASTSIM_INPUTS(g) {{&(g)->s_axis0_tvalid, &(g)->s_axis0_tready, "
            "&(g)->s_axis0_tlast, &(g)->s_axis0_tdata}, {&(g)->s_axis1_tvalid, ") in header
    with pytest.raises(PartitionError, match="module nothing has no input stream s_axis0"):
        input_streams("module nothing(a, b);\nendmodule\n", "nothing")


def test_unreadable_verilog_is_refused(top):
    module, verilog = top
    with pytest.raises(PartitionError, match="no module nothing"):
        split(verilog, "nothing")
    with pytest.raises(PartitionError, match="no instance dsp in module"):
        split(verilog, module, instances=("dsp",))
    gated = verilog.replace("  bfp (\n    .blocks", "  bfp (\n    .blocks", 1)
    start = gated.index("  bfp (\n")
    clk = gated.index(".clk(clk)", start)
    gated = gated[:clk] + ".clk(gclk)" + gated[clk + len(".clk(clk)"):]
    with pytest.raises(PartitionError, match="bfp is clocked by 'gclk', not the core's clock"):
        split(gated, module)
    clash = verilog.replace(f"module {module}(", f"module {module}(bfp_busy, ", 1)
    with pytest.raises(PartitionError, match="the glue port name bfp_busy is already used"):
        split(clash, module)
