"""SRAM controller and SECDED parameter checks: every message pinned."""
import re

import pytest

from generators.blocks import module_name
from generators.params import ParamError
from generators.secded import SecdedDecoder, SecdedEncoder
from generators.sram import SramController


@pytest.mark.parametrize("params,message", [
    ({"width": 12}, "width must be a multiple of 8 from 8 to 2048, not 12"),
    ({"width": 2056}, "width must be a multiple of 8 from 8 to 2048, not 2056"),
    ({"depth": 100}, "depth must be a power of two from 16 to 65536, not 100"),
    ({"depth": 8}, "depth must be a power of two from 16 to 65536, not 8"),
    ({"banks": 3}, "banks must be a power of two from 1 to 16, not 3"),
    ({"banks": 32}, "banks must be a power of two from 1 to 16, not 32"),
    ({"read_ports": 0}, "read_ports must be an integer from 1 to 4, not 0"),
    ({"read_ports": 5}, "read_ports must be an integer from 1 to 4, not 5"),
    ({"pingpong": 2}, "pingpong must be 0 or 1, not 2"),
    ({"ecc": -1}, "ecc must be 0 or 1, not -1"),
    ({"width": "64"}, "width must be a multiple of 8 from 8 to 2048, not '64'"),
    ({"ecc": True}, "ecc must be 0 or 1, not True"),
    ({"size": 1}, "unknown parameter 'size'; allowed: width, depth, banks, read_ports, pingpong, ecc"),
])
def test_sram_parameter_messages(params, message):
    with pytest.raises(ParamError, match=re.escape(message)):
        SramController(**params)


@pytest.mark.parametrize("cls", [SecdedEncoder, SecdedDecoder])
@pytest.mark.parametrize("width", [0, "x", True])
def test_secded_width_message(cls, width):
    with pytest.raises(ParamError, match=re.escape(f"width must be a positive integer, not {width!r}")):
        cls(width)


def test_module_names():
    assert module_name("sram") == "llmaccel_sram"
    assert module_name("sram", {"width": 64}) == "llmaccel_sram"
    assert module_name("sram", {"ecc": 1, "width": 32}) == "llmaccel_sram_width32_ecc1"


def test_derived_sizes():
    s = SramController(ecc=1)
    assert s.stored_width == 72 and s.physical_banks == 8 and s.addr_bits == 11
    assert SramController(pingpong=0, banks=1).physical_banks == 1
