"""Checks of constraints/build_bd.tcl without Vivado (which is not available here).

1. Syntax: tclsh reads the whole script and `info complete` must accept it (balanced braces,
   brackets and quotes), and so must the XDC.
2. Sequence: tclsh sources the script with every Vivado command it uses replaced by a Tcl proc
   that records its call (any other unknown command is an error, so the stub list stays complete),
   and the test asserts the essential steps in order: the project for the XC7Z020 part, the
   module reference of the given top, the AXI DMA without scatter-gather, the PS ports, the
   connections, address assignment, validation, wrapper, bitstream and the .bit/.hwh export.

This proves neither that Vivado accepts every option nor anything about synthesis or timing.
Needs tclsh (Debian package `tcl`); skipped with a reason when it is missing.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "constraints" / "build_bd.tcl"
XDC = REPO / "constraints" / "pynq_z1.xdc"
TCLSH = shutil.which("tclsh")

pytestmark = pytest.mark.skipif(
    TCLSH is None, reason="tclsh not found: install Debian package 'tcl' (apt-get install tcl)")

# Every Vivado command build_bd.tcl calls; `file`, `glob`, `puts`... are plain Tcl and run for real.
VIVADO_COMMANDS = """
    create_project set_property get_board_parts current_project add_files get_files
    update_compile_order create_bd_design create_bd_cell apply_bd_automation get_bd_pins
    get_bd_intf_pins get_bd_cells connect_bd_net connect_bd_intf_net assign_bd_address
    get_bd_addr_segs get_bd_addr_spaces get_property validate_bd_design save_bd_design
    generate_target make_wrapper current_fileset launch_runs wait_on_run get_runs open_run
    report_timing_summary report_utilization get_timing_paths current_design
""".split()

SYNTAX_DRIVER = r"""
foreach path $argv {
    set fh [open $path]; set text [read $fh]; close $fh
    if {![info complete $text]} { puts "INCOMPLETE $path"; exit 1 }
}
puts OK
"""

STUB_DRIVER = r"""
lassign $argv log fake script board
set ::stub_board $board
set ::fake $fake
set ::log [open $log w]
proc record {name args} { puts $::log [concat [list $name] $args]; flush $::log }
proc stub_result {name args} {
    switch -- $name {
        create_bd_cell     { return "/[lindex $args end]" }
        get_board_parts    { return $::stub_board }
        get_files {
            if {[lsearch -glob $args *.hwh] >= 0} { return [file join $::fake system.hwh] }
            return [lindex $args end]
        }
        get_property {
            switch -- [lindex $args 0] {
                DIRECTORY { return [file join $::fake impl_1] }
                PROGRESS  { return 100% }
                SLACK     { return 0.123 }
                default   { return 0 }
            }
        }
        make_wrapper       { return [file join $::fake system_wrapper.v] }
        get_bd_addr_segs   {
            if {[lsearch -exact $args -of_objects] >= 0} { return "[lindex $args end]/SEG" }
            return {SEG_dma_Reg SEG_core_reg0}
        }
        current_project - current_fileset - current_design { return $name }
        get_runs - get_bd_pins - get_bd_intf_pins - get_bd_cells - get_bd_addr_spaces
                           { return [lindex $args end] }
        get_timing_paths   { return path }
        default            { return "" }
    }
}
foreach name {%COMMANDS%} {
    proc $name {args} [format {record %s {*}$args; return [stub_result %s {*}$args]} $name $name]
}
rename unknown tcl_unknown
proc unknown {args} { error "build_bd.tcl calls [lindex $args 0], which has no stub" }
set argv [lrange $argv 4 end]
set argc [llength $argv]
source $script
close $::log
"""


def _tclsh(driver: str, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "driver.tcl"
    path.write_text(driver)
    return subprocess.run([TCLSH, str(path), *args], capture_output=True, text=True, timeout=60)


def test_syntax_complete(tmp_path):
    res = _tclsh(SYNTAX_DRIVER, [str(SCRIPT), str(XDC)], tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == "OK", res.stdout + res.stderr


def _run_stubbed(tmp_path, tclargs, board="", script=SCRIPT):
    fake = tmp_path / "fake"
    (fake / "impl_1").mkdir(parents=True)
    (fake / "impl_1" / "system_wrapper.bit").write_text("bit")
    (fake / "system.hwh").write_text("hwh")
    log = tmp_path / "calls.log"
    driver = STUB_DRIVER.replace("%COMMANDS%", " ".join(VIVADO_COMMANDS))
    res = _tclsh(driver, [str(log), str(fake), str(script), board, *tclargs], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    return log.read_text().splitlines(), res.stdout


def _index(calls, *words):
    """Index of the first recorded call containing every word (in order of the log)."""
    for i, call in enumerate(calls):
        if all(w in call for w in words):
            return i
    raise AssertionError(f"no call with {words} in:\n" + "\n".join(calls))


def hex_(value: int) -> str:
    return f"0x{value:08X}"


def _check_sequence(calls, top, inputs):
    """The essential steps in order, for a core with the input streams `inputs`."""
    from llmaccel.golden.board import address_map
    cells = address_map()
    streams = len(inputs)
    ps = [f"PCW_USE_S_AXI_HP{i} 1" for i in range(streams)]
    ps += [f"PCW_S_AXI_HP{i}_DATA_WIDTH 64" for i in range(streams)]
    steps = [
        _index(calls, "create_project", "-part xc7z020clg400-1"),
        _index(calls, "add_files", "constraints/pynq_z1.xdc"),
        _index(calls, "create_bd_design"),
        _index(calls, "create_bd_cell", "xilinx.com:ip:processing_system7"),
        _index(calls, "set_property", "PCW_FPGA0_PERIPHERAL_FREQMHZ 100", "PCW_USE_M_AXI_GP0 1",
               *ps),
        _index(calls, "create_bd_cell", "xilinx.com:ip:axi_dma", "dma0"),
        _index(calls, "set_property", "c_include_sg 0", "c_include_s2mm 1",
               "c_m_axis_mm2s_tdata_width 64", "c_s_axis_s2mm_tdata_width 64", "/dma0"),
        *(_index(calls, "create_bd_cell", "xilinx.com:ip:axi_dma", f"dma{i}")
          for i in range(1, streams)),
        _index(calls, "create_bd_cell", "-type module", f"-reference {top} core"),
        _index(calls, "set_property", f"ASSOCIATED_BUSIF {':'.join(['s_axil', *inputs, 'm_axis'])}",
               "core/clk"),
        _index(calls, "set_property", "POLARITY ACTIVE_HIGH", "core/rst"),
        _index(calls, "create_bd_cell", "xilinx.com:ip:proc_sys_reset"),
        _index(calls, "connect_bd_net", "rstgen/peripheral_reset", "core/rst"),
        _index(calls, "connect_bd_intf_net", "ps7/M_AXI_GP0"),
        _index(calls, "connect_bd_intf_net", "core/s_axil"),
        *(_index(calls, "connect_bd_intf_net", f"mem_ic{i}/M00_AXI", f"ps7/S_AXI_HP{i}")
          for i in range(streams)),
        *(_index(calls, "connect_bd_intf_net", f"dma{i}/M_AXIS_MM2S", f"core/{name}")
          for i, name in enumerate(inputs)),
        _index(calls, "connect_bd_intf_net", "core/m_axis", "dma0/S_AXIS_S2MM"),
        _index(calls, "connect_bd_net", "ps7/IRQ_F2P"),
        # every GP0 slave at its address of golden/pynq_z1_map.txt, then the rest automatically
        *(_index(calls, "assign_bd_address", f"-offset {hex_(cells[c].offset)}",
                 f"-range {hex_(cells[c].range)}", f"{c}/{cells[c].interface}")
          for c in ["core", *(f"dma{i}" for i in range(streams))]),
        next(i for i, c in enumerate(calls) if c == "assign_bd_address"),
        _index(calls, "validate_bd_design"),
        _index(calls, "make_wrapper"),
        _index(calls, "launch_runs", "synth_1"),
        _index(calls, "launch_runs", "impl_1", "-to_step write_bitstream"),
        _index(calls, "report_timing_summary"),
    ]
    assert steps == sorted(steps), steps
    # Only dma0 has the receive channel; each DMA's memory master on its own HP port.
    for i in range(1, streams):
        _index(calls, "set_property", "c_include_s2mm 0", f"/dma{i}")
    assert not any(f"S_AXI_HP{streams}" in c for c in calls)
    assert not any(f"dma{streams}/" in c for c in calls if c.startswith("assign_bd_address"))
    _index(calls, "connect_bd_intf_net", "dma0/M_AXI_S2MM", "mem_ic0/S01_AXI")
    _index(calls, "set_property", f"NUM_PORTS {streams + 1}", "/irq_concat")
    # Every FPGA clock pin on FCLK_CLK0, in one net.
    clk = calls[_index(calls, "connect_bd_net", "ps7/FCLK_CLK0")]
    pins = ["core/clk", "dma0/m_axi_s2mm_aclk", "ps7/M_AXI_GP0_ACLK", "rstgen/slowest_sync_clk",
            "ctrl_ic/aclk"]
    for i in range(streams):
        pins += [f"dma{i}/s_axi_lite_aclk", f"dma{i}/m_axi_mm2s_aclk", f"ps7/S_AXI_HP{i}_ACLK",
                 f"mem_ic{i}/aclk"]
    for pin in pins:
        assert pin in clk, pin


def _fake_verilog(path: Path, module: str, inputs) -> Path:
    ports = ", ".join(["clk", "rst", "s_axil_awaddr", *(f"{i}_tdata" for i in inputs),
                       "m_axis_tdata"])
    path.write_text(f"module {module}({ports});\n  input clk;\nendmodule\n")
    return path


def test_stubbed_sequence_defaults(tmp_path):
    # The defaults are relative to the script's repository, and the default output directory is
    # build/pynq_z1 in it: run a copy in a scratch repository so the test writes nothing here.
    from llmaccel.generators.top import LlmAccelerator
    root = tmp_path / "repo"
    (root / "constraints").mkdir(parents=True)
    (root / "hdl").mkdir()
    (root / "golden").mkdir()
    shutil.copy(REPO / "golden" / "pynq_z1_map.txt", root / "golden")
    shutil.copy(SCRIPT, root / "constraints")
    shutil.copy(XDC, root / "constraints")
    shutil.copy(REPO / "hdl" / "llmaccel_top.sv", root / "hdl")
    calls, out = _run_stubbed(tmp_path, [], script=root / "constraints" / "build_bd.tcl")
    streams = LlmAccelerator().streams
    _check_sequence(calls, "llmaccel_top", [f"s_axis{i}" for i in range(streams)])
    assert f"llmaccel_top ({streams} input streams)" in out
    assert str(root / "hdl" / "llmaccel_top.sv") in calls[_index(calls, "add_files", ".sv")]
    # No board files: the manual DDR settings are applied.
    _index(calls, "set_property", "PCW_UIPARAM_DDR_PARTNO")
    assert "build_bd: wrote" in out
    assert (root / "build" / "pynq_z1" / "llmaccel.bit").read_text() == "bit"


@pytest.mark.parametrize("inputs", [["s_axis0", "s_axis1", "s_axis2"], ["s_axis"],
                                    ["s_axis0", "s_axis1", "s_axis2", "s_axis3"]])
def test_stubbed_sequence_args_and_board(tmp_path, inputs):
    """Any top with the core's ports: the DMAs follow its input streams (the `bfp` block's one
    s_axis too)."""
    out_dir = tmp_path / "out"
    verilog = _fake_verilog(tmp_path / "my_top.v", "my_top", inputs)
    calls, _ = _run_stubbed(tmp_path, ["my_top", str(verilog), str(out_dir)],
                            board="www.digilentinc.com:pynq-z1:part0:1.0")
    _check_sequence(calls, "my_top", inputs)
    _index(calls, "set_property", "board_part www.digilentinc.com:pynq-z1:part0:1.0")
    assert not any("PCW_UIPARAM_DDR_PARTNO" in c for c in calls)
    # The export copied the (fake) run outputs under one base name for PYNQ.
    assert (out_dir / "llmaccel.bit").read_text() == "bit"
    assert (out_dir / "llmaccel.hwh").read_text() == "hwh"


@pytest.mark.parametrize("module,inputs,message", [
    ("other", ["s_axis0"], "module my_top not found in"),
    ("my_top", [], "my_top has no AXI4-Stream input (s_axis0_tdata or s_axis_tdata)"),
    ("my_top", [f"s_axis{i}" for i in range(5)], "my_top has 5 input streams: the PYNQ-Z1 has 4 "
                                                 "HP ports"),
])
def test_bad_top_is_an_error(tmp_path, module, inputs, message):
    fake = tmp_path / "fake"
    fake.mkdir()
    verilog = _fake_verilog(tmp_path / "top.v", module, inputs)
    driver = STUB_DRIVER.replace("%COMMANDS%", " ".join(VIVADO_COMMANDS))
    res = _tclsh(driver, [str(tmp_path / "log"), str(fake), str(SCRIPT), "", "my_top",
                          str(verilog), str(tmp_path / "o")], tmp_path)
    assert res.returncode != 0 and message in res.stderr, res.stderr


def test_missing_verilog_is_an_error(tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    driver = STUB_DRIVER.replace("%COMMANDS%", " ".join(VIVADO_COMMANDS))
    res = _tclsh(driver, [str(tmp_path / "log"), str(fake), str(SCRIPT), "", "x",
                          str(tmp_path / "nope.sv"), str(tmp_path / "o")], tmp_path)
    assert res.returncode != 0 and "Verilog file not found" in res.stderr
