"""Generator parameter validation: every message of SramController, SecdedEncoder/Decoder and
generators.params.resolve pinned exactly, and the module names generators.blocks derives."""
import re

import pytest

from llmaccel.generators.blocks import module_name
from llmaccel.generators.params import ParamError
from llmaccel.generators.secded import SecdedDecoder, SecdedEncoder
from llmaccel.generators.sram import SramController

ALLOWED = "width, depth, banks, read_ports, pingpong, ecc, granularity"


def exact(message: str) -> str:
    """A `match` pattern for the whole message, literally."""
    return f"^{re.escape(message)}$"


@pytest.mark.parametrize("params,message", [
    # width: a multiple of 8 from 8 to 4096 (README's parameter table says 8..4096 too)
    ({"width": 12}, "width must be a multiple of 8 from 8 to 4096, not 12"),
    ({"width": 0}, "width must be a multiple of 8 from 8 to 4096, not 0"),
    ({"width": 4104}, "width must be a multiple of 8 from 8 to 4096, not 4104"),
    ({"width": -8}, "width must be a multiple of 8 from 8 to 4096, not -8"),
    # depth: a power of two from 16 to 65536
    ({"depth": 100}, "depth must be a power of two from 16 to 65536, not 100"),
    ({"depth": 8}, "depth must be a power of two from 16 to 65536, not 8"),
    ({"depth": 131072}, "depth must be a power of two from 16 to 65536, not 131072"),
    # banks: a power of two from 1 to 16
    ({"banks": 3}, "banks must be a power of two from 1 to 16, not 3"),
    ({"banks": 32}, "banks must be a power of two from 1 to 16, not 32"),
    ({"banks": 0}, "banks must be a power of two from 1 to 16, not 0"),
    # read_ports: an integer from 1 to 4
    ({"read_ports": 0}, "read_ports must be an integer from 1 to 4, not 0"),
    ({"read_ports": 5}, "read_ports must be an integer from 1 to 4, not 5"),
    # the two flags: 0 or 1
    ({"pingpong": 2}, "pingpong must be 0 or 1, not 2"),
    ({"ecc": -1}, "ecc must be 0 or 1, not -1"),
    # granularity: a multiple of 8 that divides the width
    ({"granularity": 12}, "granularity must be a multiple of 8 from 8 to 4096, not 12"),
    ({"granularity": 0}, "granularity must be a multiple of 8 from 8 to 4096, not 0"),
    ({"width": 64, "granularity": 24}, "granularity must divide width (64), not 24"),
    ({"width": 64, "granularity": 128}, "granularity must divide width (64), not 128"),
    # wrong types: the repr of the value is in the message
    ({"width": "64"}, "width must be a multiple of 8 from 8 to 4096, not '64'"),
    ({"depth": 512.0}, "depth must be a power of two from 16 to 65536, not 512.0"),
    ({"banks": None}, "banks must be a power of two from 1 to 16, not None"),
    # bool is an int subclass, but rejected even where its value would be in range
    ({"ecc": True}, "ecc must be 0 or 1, not True"),
    ({"pingpong": False}, "pingpong must be 0 or 1, not False"),
    ({"read_ports": True}, "read_ports must be an integer from 1 to 4, not True"),
    # unknown names (generators.params.resolve)
    ({"size": 1}, f"unknown parameter 'size'; allowed: {ALLOWED}"),
    ({"Width": 64}, f"unknown parameter 'Width'; allowed: {ALLOWED}"),
])
def test_sram_parameter_messages(params, message):
    with pytest.raises(ParamError, match=exact(message)):
        SramController(**params)


def test_param_error_is_a_value_error():
    assert issubclass(ParamError, ValueError)
    with pytest.raises(ValueError):
        SramController(width=12)


def test_unknown_name_is_reported_before_bad_values():
    """resolve() checks names first: a bad value next to an unknown name does not hide it."""
    with pytest.raises(ParamError, match=exact("unknown parameter 'x'; allowed: " + ALLOWED)):
        SramController(width=12, x=1)


@pytest.mark.parametrize("params", [
    {},
    {"width": 8, "depth": 16, "banks": 1, "read_ports": 1, "pingpong": 0, "ecc": 0},
    {"width": 2048, "depth": 65536, "banks": 16, "read_ports": 4, "pingpong": 1, "ecc": 1},
])
def test_range_limits_are_accepted(params):
    dut = SramController(**params)
    for name, value in params.items():
        assert dut.params[name] == value


@pytest.mark.parametrize("cls", [SecdedEncoder, SecdedDecoder])
@pytest.mark.parametrize("width,message", [
    (0, "width must be a positive integer, not 0"),
    (-3, "width must be a positive integer, not -3"),
    ("x", "width must be a positive integer, not 'x'"),
    (8.0, "width must be a positive integer, not 8.0"),
    (True, "width must be a positive integer, not True"),
])
def test_secded_width_messages(cls, width, message):
    with pytest.raises(ParamError, match=exact(message)):
        cls(width)


def test_secded_sizes():
    assert len(SecdedEncoder(64).code) == 72
    assert len(SecdedDecoder(8).code) == 13
    assert len(SecdedEncoder(1).code) == 4


def test_module_names():
    assert module_name("sram") == "llmaccel_sram"
    assert module_name("sram", {}) == "llmaccel_sram"
    assert module_name("sram", {"width": 64, "ecc": 0}) == "llmaccel_sram"  # defaults given
    assert module_name("sram", {"width": 32, "ecc": 1}) == "llmaccel_sram_width32_ecc1"
    # declaration order, not the order given
    assert module_name("sram", {"ecc": 1, "width": 32}) == "llmaccel_sram_width32_ecc1"
    assert (module_name("sram", {"pingpong": 0, "read_ports": 1, "banks": 1, "depth": 16})
            == "llmaccel_sram_depth16_banks1_read_ports1_pingpong0")


def test_module_name_checks_parameters():
    with pytest.raises(ParamError, match=exact("width must be a multiple of 8 from 8 to 4096, not 12")):
        module_name("sram", {"width": 12})
    with pytest.raises(ParamError, match=exact("unknown parameter 'size'; allowed: " + ALLOWED)):
        module_name("sram", {"size": 1})
