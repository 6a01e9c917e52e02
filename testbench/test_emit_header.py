"""`llmaccel emit BLOCK --header`: the AXI4-Lite register map as a C header for a host driver,
from the same map the hardware is built from; it compiles and names every register."""
import re
import shutil
import subprocess

import pytest

from llmaccel.cli import main
from llmaccel.generators import bfp, top

BLOCKS = {"bfp": bfp.REGISTERS, "top": top.REGISTERS}


@pytest.mark.parametrize("block", BLOCKS)
def test_header(block, tmp_path, capsys):
    assert main(["emit", block, "--header", "-o", str(tmp_path)]) == 0
    path = tmp_path / f"llmaccel_{block}_regs.h"
    assert capsys.readouterr().out.strip() == str(path)
    text = path.read_text()
    prefix = f"LLMACCEL_{block.upper()}"
    for r in BLOCKS[block]:
        assert f"#define {prefix}_{r.name.upper()}_OFFSET" in text
    assert re.search(rf"#define {prefix}_CYCLES_OFFSET +0x001C\n", text)
    # the FORMAT codes (golden/bfp_layout.py), and the top's ENGINE codes
    assert f"#define {prefix}_FORMAT_Q4_1 3\n" in text
    assert f"#define {prefix}_FORMAT_Q8_0 0\n" in text
    assert (f"#define {prefix}_ENGINE_TERNARY 1\n" in text) == (block == "top")
    assert main(["emit", block, "--header", "-o", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / path.name).read_text() == text      # reproducible


@pytest.mark.skipif(not shutil.which("cc"), reason="no C compiler")
@pytest.mark.parametrize("block,check", [("bfp", "BFP_ID_OFFSET == 0x20"),
                                         ("top", "TOP_ENGINE_OFFSET == 0x30"),
                                         ("top", "TOP_FORMAT_Q5_0 == 4")])
def test_header_compiles(block, check, tmp_path):
    assert main(["emit", block, "--header", "-o", str(tmp_path)]) == 0
    src = tmp_path / "use.c"
    src.write_text(f'#include "llmaccel_{block}_regs.h"\n'
                   f"int main(void) {{ return LLMACCEL_{check} ? 0 : 1; }}\n")
    run = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-I", str(tmp_path), str(src),
                          "-o", str(tmp_path / "use")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert subprocess.run([str(tmp_path / "use")]).returncode == 0


def test_header_of_a_block_without_registers(capsys):
    assert main(["emit", "sram", "--header", "-o", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--header: sram has no AXI4-Lite registers; blocks with registers: bfp, top" in err


def test_values_must_name_a_register():
    from llmaccel.generators.axi_lite import RegisterMapError, c_header
    with pytest.raises(RegisterMapError, match="^values for registers the map does not have: "
                                                 "mode$"):
        c_header(top.REGISTERS, "x", values={"mode": {"a": 1}})
