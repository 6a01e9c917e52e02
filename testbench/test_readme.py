"""The README's register tables are the maps the hardware is built from (generators/top.py and
generators/bfp.py), verbatim: `markdown_table` renders them; edit the map, then paste."""
from pathlib import Path

import pytest

from llmaccel.generators import bfp, top
from llmaccel.generators.axi_lite import markdown_table

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("module", [top, bfp], ids=["top", "bfp"])
def test_register_table_is_current(module):
    table = markdown_table(module.REGISTERS)
    assert table.strip() in README, (f"README's {module.__name__} register table is stale: paste "
                                     f"llmaccel.generators.axi_lite.markdown_table({module.__name__}"
                                     ".REGISTERS)")
