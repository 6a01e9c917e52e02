"""hdl/ holds the emitted Verilog of every block's default configuration: it must be current
(`make verilog` refreshes it) and reproducible (no absolute paths, timestamps or machine names)."""
import os
import platform
import re
from pathlib import Path

import pytest

from llmaccel.generators.blocks import BLOCKS
from llmaccel.generators.emit import emit_block

HDL = Path(__file__).resolve().parent.parent / "hdl"


@pytest.mark.parametrize("block", list(BLOCKS))
def test_hdl_is_current(block):
    name, text = emit_block(block)
    committed = HDL / f"{name}.sv"
    assert committed.exists(), f"{committed} is missing: run `make verilog`"
    assert committed.read_text() == text, f"{committed} is stale: run `make verilog`"


@pytest.mark.parametrize("block", list(BLOCKS))
def test_emission_is_reproducible(block):
    name, first = emit_block(block)
    _, second = emit_block(block)
    assert first == second
    for leak in (str(Path.cwd()), str(HDL.parent), os.path.expanduser("~"), platform.node()):
        assert leak not in first, f"emitted Verilog contains {leak!r}"
    assert not re.search(r"/(home|root|tmp|work|usr)/", first)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", first)


def test_no_stray_files_in_hdl():
    expected = {f"{emit_block(b)[0]}.sv" for b in BLOCKS}
    assert {p.name for p in HDL.glob("*.sv")} == expected
