"""The `llmaccel` command line: exit codes, one-line errors, outputs."""
import pytest

from llmaccel.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv,message", [
    (["emit", "sram", "-p", "width=12"], "width must be a multiple of 8 from 8 to 4096, not 12"),
    (["emit", "sram", "-p", "depth=100"], "depth must be a power of two from 16 to 65536, not 100"),
    (["emit", "sram", "-p", "banks=abc"], "banks must be a power of two from 1 to 16, not 'abc'"),
    (["emit", "sram", "-p", "read_ports=9"], "read_ports must be an integer from 1 to 4, not 9"),
    (["emit", "sram", "-p", "ecc=2"], "ecc must be 0 or 1, not 2"),
    (["emit", "sram", "-p", "speed=3"],
     "unknown parameter 'speed' for sram; allowed: width, depth, banks, read_ports, pingpong, ecc"),
    (["emit", "sram", "-p", "width"], "parameters are NAME=VALUE, not 'width'"),
    (["emit", "dram"], "unknown block 'dram'; blocks: sram, ternary, bfp, top"),
    (["synth", "dram"], "unknown block 'dram'; blocks: sram, ternary, bfp, top"),
    (["emit"], "name a block (sram, ternary, bfp, top) or use --all"),
    (["emit", "sram", "--all"], "give a BLOCK or --all, not both"),
    (["sim", "--sim", "modelsim"], "argument --sim: invalid choice: 'modelsim'"),
    (["sim", "--transactions", "0"], "--transactions must be a positive integer, not 0"),
    (["bench", "--sims", "xcelium"], "--sims takes verilator and/or icarus, not 'xcelium'"),
    (["frobnicate"], "argument command: invalid choice: 'frobnicate'"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("llmaccel: error: "), err
    assert message in err
    assert "Traceback" not in err


def test_list_shows_parameters_defaults_and_ranges(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert "sram:" in out
    assert "depth             default 512    a power of two from 16 to 65536" in out
    assert "ecc               default 0      0 or 1" in out
    assert "lanes_per_builder default 4      a power of two from 1 to 16" in out


def test_emit_writes_module_named_after_non_default_params(capsys, tmp_path):
    code, out, _ = run(capsys, "emit", "sram", "-p", "width=32", "-p", "ecc=1", "-o", str(tmp_path))
    assert code == 0
    path = tmp_path / "llmaccel_sram_width32_ecc1.sv"
    assert out.strip() == str(path)
    text = path.read_text()
    assert "module llmaccel_sram_width32_ecc1(" in text
    assert "ecc_corrected" in text


@pytest.mark.xdist_group("hdl")      # test_hdl.py's emissions serve it on that worker
def test_emit_all_writes_every_default(capsys, tmp_path):
    code, out, _ = run(capsys, "emit", "--all", "-o", str(tmp_path))
    assert code == 0
    assert (tmp_path / "llmaccel_sram.sv").exists()


def test_closed_pipe_is_quiet():
    """`llmaccel list | head -0`: the reader has gone before the first write; the command stops
    with status 1, no traceback and no message (before the fix: 'llmaccel: BrokenPipeError')."""
    import os
    import subprocess
    import sys
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        run = subprocess.run([sys.executable, "-m", "llmaccel.cli", "list"], stdout=write_end,
                             stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert run.stderr == ""
    assert run.returncode == 1
