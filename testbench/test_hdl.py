"""hdl/ holds the emitted Verilog of every block's default configuration: it must be current
(`make verilog` refreshes it) and reproducible (no absolute paths, timestamps or machine names)."""
import os
import platform
import re
from pathlib import Path

import pytest

from llmaccel.generators.blocks import BLOCKS
from llmaccel.generators.emit import emit_block, emit_block_once

HDL = Path(__file__).resolve().parent.parent / "hdl"
# One emission per block serves the tests below (they share an xdist group, so one worker) and
# the simulation builds of that worker; the reproducibility test makes a second, independent one
# to compare with it.
emitted = emit_block_once
pytestmark = pytest.mark.xdist_group("hdl")


@pytest.mark.parametrize("block", list(BLOCKS))
def test_hdl_is_current(block):
    name, text = emitted(block)
    committed = HDL / f"{name}.sv"
    assert committed.exists(), f"{committed} is missing: run `make verilog`"
    assert committed.read_text() == text, f"{committed} is stale: run `make verilog`"


@pytest.mark.parametrize("block", list(BLOCKS))
def test_emission_is_reproducible(block):
    name, first = emitted(block)
    _, second = emit_block(block)
    assert first == second
    for leak in (str(Path.cwd()), str(HDL.parent), os.path.expanduser("~"), platform.node()):
        assert leak not in first, f"emitted Verilog contains {leak!r}"
    assert not re.search(r"/(home|root|tmp|work|usr)/", first)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", first)


def test_no_stray_files_in_hdl():
    expected = {f"{emitted(b)[0]}.sv" for b in BLOCKS}
    assert {p.name for p in HDL.glob("*.sv")} == expected
