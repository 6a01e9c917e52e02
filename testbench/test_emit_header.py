"""`llmaccel emit BLOCK --header`: the AXI4-Lite register map as a C header for a host driver,
from the same map the hardware is built from; it compiles and names every register."""
import shutil
import subprocess

import pytest

from generators.bfp import REGISTERS
from generators.cli import main


def test_bfp_header(tmp_path, capsys):
    assert main(["emit", "bfp", "--header", "-o", str(tmp_path)]) == 0
    path = tmp_path / "llmaccel_bfp_regs.h"
    assert capsys.readouterr().out.strip() == str(path)
    text = path.read_text()
    for r in REGISTERS:
        assert f"#define LLMACCEL_BFP_{r.name.upper()}_OFFSET" in text
    assert "#define LLMACCEL_BFP_CYCLES_OFFSET 0x001C" in text.replace("  ", " ").replace("  ", " ")
    assert main(["emit", "bfp", "--header", "-o", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / path.name).read_text() == text      # reproducible


@pytest.mark.skipif(not shutil.which("cc"), reason="no C compiler")
def test_bfp_header_compiles(tmp_path):
    assert main(["emit", "bfp", "--header", "-o", str(tmp_path)]) == 0
    src = tmp_path / "use.c"
    src.write_text('#include "llmaccel_bfp_regs.h"\n'
                   "int main(void) { return LLMACCEL_BFP_ID_OFFSET == 0x20 ? 0 : 1; }\n")
    run = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-I", str(tmp_path), str(src),
                          "-o", str(tmp_path / "use")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert subprocess.run([str(tmp_path / "use")]).returncode == 0


def test_header_of_a_block_without_registers(capsys):
    assert main(["emit", "sram", "--header", "-o", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--header: sram has no AXI4-Lite registers; blocks with registers: bfp" in err
