"""Cut the emitted core into partitions for the fast co-simulation: the glue (register file,
gearboxes, result packer, the top's own logic) and one partition per engine instance, each
Verilated as its own model, so that the transactor (host/fastsim.cpp) can leave an engine
unevaluated while it provably cannot change (an idle engine is most of the core: the ternary
engine alone costs about half of every cycle of a BFP run).

Nothing of the design changes: the engine instances are taken out of the top module and their
connections become ports of the glue (an engine input becomes a glue output driven by the same
expression; an engine output becomes a glue input assigned to the same wires). Each engine gets a
small wrapper module with plain port names as its Verilator top. The transactor connects the
models port to port every cycle and settles the combinational paths between them before each
clock edge (see fastsim.cpp), so the partitioned core computes exactly what the whole one does;
testbench/test_fast_backend.py compares it with the cocotb back end cycle for cycle.

The C++ that copies the ports (fastsim_parts.h) is generated here from the same port lists.
"""
import re
from dataclasses import dataclass, field

CLOCK = "clk"


class PartitionError(RuntimeError):
    """The emitted Verilog does not have the shape the partitioner expects."""


@dataclass(frozen=True)
class Port:
    name: str           # as in the engine module (may be an escaped identifier, without "\\")
    escaped: bool
    direction: str      # "input" or "output" of the engine
    width: int
    expr: str           # what the top module connected to it

    @property
    def plain(self) -> str:
        """A C++-safe name: Verilator rewrites runs of underscores ("__" becomes "___05F")."""
        return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", self.name)).strip("_")

    @property
    def verilog_name(self) -> str:
        return f"\\{self.name} " if self.escaped else self.name


@dataclass
class Partition:
    instance: str       # instance name in the top module ("bfp", "ternary")
    module: str         # its module (escaped name without "\\")
    prefix: str         # the Verilator --prefix of its model ("Vbfp")
    ports: list = field(default_factory=list)

    @property
    def wrapper(self) -> str:
        return f"fastsim_{self.instance}"

    def glue_port(self, port: Port) -> str:
        return f"{self.instance}_{port.plain}"


_PLAIN = r"[A-Za-z_][A-Za-z0-9_$]*"
_IDENT = r"(?:\\\S+ |" + _PLAIN + ")"


def _module_span(verilog: str, name: str) -> tuple[int, int]:
    """(start, end) of `module <name> ... endmodule` in the text (Yosys escapes the submodules'
    dotted names: `module \\top.bfp (`)."""
    ident = re.escape(name) if re.fullmatch(_PLAIN, name) else re.escape("\\" + name) + " "
    head = re.compile(r"^module " + ident + r"\s*\(", re.M)
    m = head.search(verilog)
    if not m:
        raise PartitionError(f"no module {name} in the emitted Verilog")
    end = verilog.find("\nendmodule", m.start())
    if end < 0:
        raise PartitionError(f"module {name} has no endmodule")
    return m.start(), end + len("\nendmodule")


def _port_decls(body: str) -> dict:
    """name -> (escaped, direction, width) from a module's input/output declarations."""
    decls = {}
    for m in re.finditer(r"^\s*(input|output)\s*(?:\[(\d+):(\d+)\])?\s*(" + _IDENT + r")\s*;",
                         body, re.M):
        direction, msb, lsb, ident = m.groups()
        escaped = ident.startswith("\\")
        name = ident[1:].rstrip() if escaped else ident
        width = int(msb) - int(lsb) + 1 if msb is not None else 1
        decls[name] = (escaped, direction, width)
    return decls


def split(verilog: str, top: str, instances=("bfp", "ternary")) -> tuple[str, list]:
    """(the partitioned Verilog: the glue top, every original submodule and one wrapper per
    engine; the partitions)."""
    t0, t1 = _module_span(verilog, top)
    top_text = verilog[t0:t1]
    parts = []
    for inst in instances:
        block = re.compile(r"^  \\(\S+)  " + re.escape(inst) + r" \(\n(.*?)\n  \);\n",
                           re.M | re.S)
        found = block.search(top_text)
        if not found:
            raise PartitionError(f"no instance {inst} in module {top}")
        module, conns = found.group(1), found.group(2)
        m0, m1 = _module_span(verilog, module)
        decls = _port_decls(verilog[m0:m1])
        part = Partition(inst, module, f"V{inst}")
        for line in conns.splitlines():
            c = re.fullmatch(r"\s*\.(" + _IDENT + r")\((.*)\),?", line)
            if not c:
                raise PartitionError(f"cannot read the connection {line.strip()!r} of {inst}")
            ident, expr = c.groups()
            name = ident[1:].rstrip() if ident.startswith("\\") else ident
            if name not in decls:
                raise PartitionError(f"{inst}: port {name} is not declared in {module}")
            escaped, direction, width = decls[name]
            if name == CLOCK:
                if expr.strip() != CLOCK:
                    raise PartitionError(f"{inst} is clocked by {expr!r}, not the core's clock")
                continue
            # a trailing space ends an escaped identifier (and is harmless after anything else)
            part.ports.append(Port(name, escaped, direction, width, expr.strip() + " "))
        plain = [p.plain for p in part.ports]
        if len(set(plain)) != len(plain) or CLOCK in plain:
            raise PartitionError(f"{inst}: port names collide once made plain: {plain}")
        missing = set(decls) - {p.name for p in part.ports} - {CLOCK}
        if missing:
            raise PartitionError(f"{inst}: ports {sorted(missing)} are not connected")
        top_text = top_text[:found.start()] + top_text[found.end():]
        parts.append(part)

    # The glue: the engines' connections become its ports.
    header = re.compile(r"^module " + re.escape(top) + r"\(", re.M)
    if not header.search(top_text):
        raise PartitionError(f"module {top} has no port list")
    names, decls, assigns = [], [], []
    for part in parts:
        for p in part.ports:
            g = part.glue_port(p)
            if re.search(r"(?<![\w$\\])" + re.escape(g) + r"(?![\w$])", top_text):
                raise PartitionError(f"the glue port name {g} is already used in {top}")
            rng = f"[{p.width - 1}:0] " if p.width > 1 else ""
            names.append(g)
            if p.direction == "input":      # the glue drives the engine's input
                decls.append(f"  output {rng}{g};\n  wire {rng}{g};\n")
                assigns.append(f"  assign {g} = {p.expr};\n")
            elif p.expr.strip():            # the engine drives these wires of the glue
                decls.append(f"  input {rng}{g};\n  wire {rng}{g};\n")
                assigns.append(f"  assign {p.expr} = {g};\n")
            else:
                decls.append(f"  input {rng}{g};\n  wire {rng}{g};\n")
    top_text = header.sub(f"module {top}(" + ", ".join(names) + ", ", top_text, count=1)
    semi = top_text.index(";\n") + 2
    top_text = top_text[:semi] + "".join(decls) + top_text[semi:]
    end = top_text.rindex("\nendmodule")
    top_text = top_text[:end] + "\n" + "".join(assigns).rstrip("\n") + top_text[end:]

    wrappers = []
    for part in parts:
        lines = [f"module {part.wrapper}({CLOCK}, " + ", ".join(p.plain for p in part.ports)
                 + ");", f"  input {CLOCK};"]
        for p in part.ports:
            rng = f"[{p.width - 1}:0] " if p.width > 1 else ""
            lines.append(f"  {p.direction} {rng}{p.plain};")
        conns = [f"    .{CLOCK}({CLOCK})"] + [f"    .{p.verilog_name}({p.plain})"
                                               for p in part.ports]
        lines += [f"  \\{part.module}  engine (", ",\n".join(conns), "  );", "endmodule"]
        wrappers.append("\n".join(lines) + "\n")
    return verilog[:t0] + top_text + verilog[t1:] + "\n" + "".join(wrappers), parts


def input_streams(verilog: str, module: str) -> int:
    """The core's AXI4-Stream inputs s_axis0, s_axis1, ... (ports of its top module)."""
    head = re.search(rf"module {re.escape(module)}\s*\((.*?)\);", verilog, re.S)
    if head is None:
        raise PartitionError(f"no module {module} in the Verilog")
    count = len(set(re.findall(r"\bs_axis(\d+)_tdata\b", head.group(1))))
    if not count:
        raise PartitionError(f"module {module} has no input stream s_axis0")
    return count


def parts_header(parts, glue_prefix: str = "Vcore", streams: int = 1) -> str:
    """fastsim_parts.h: the engine models and the functions that copy their ports from and to
    the glue (each returns whether any value changed), and the core's `streams` input streams
    (FASTSIM_STREAMS; FASTSIM_INPUT(g, i) is stream i's ports)."""
    out = ["// Generated by llmaccel.testbench.fast_partition: the engine partitions of the core.",
           "#pragma once", "#include <cstring>", ""]
    for prefix in [glue_prefix] + [part.prefix for part in parts]:
        r = f"{prefix}___024root"
        # Verilator 5.048's evaluation phases (the Makefile pins that version): eval() runs the
        # input-combinational phase, then the active and NBA phases until they settle. At a
        # rising edge the first is redundant: the settle before it ran it with these inputs.
        out += [f'#include "{prefix}.h"', f'#include "{r}.h"',
                f"void {r}___eval({r} *);", f"bool {r}___eval_phase__act({r} *);",
                f"bool {r}___eval_phase__nba({r} *);",
                f"inline void {prefix}_rise({r} *r) {{",
                f"    do {{ while ({r}___eval_phase__act(r)) {{}} }} "
                f"while ({r}___eval_phase__nba(r));", "}", ""]
    for part in parts:
        p_ = part.prefix
        load, store = [], []
        for p in part.ports:
            g, e = f"g->{part.glue_port(p)}", f"e->{p.plain}"
            dst, src = (e, g) if p.direction == "input" else (g, e)
            if p.width > 64:
                line = (f"        if (std::memcmp(&{dst}, &{src}, sizeof {dst})) "
                        f"{{ std::memcpy(&{dst}, &{src}, sizeof {dst}); changed = true; }}")
            else:
                line = f"        if ({dst} != {src}) {{ {dst} = {src}; changed = true; }}"
            (load if p.direction == "input" else store).append(line)
        out += [f"struct Part_{part.instance} {{",
                f"    using Model = {p_};",
                f"    using Root = {p_}___024root;",
                f'    static constexpr const char *name = "{part.instance}";',
                f"    static void eval(Root *r) {{ {p_}___024root___eval(r); }}",
                f"    static void rise(Root *r) {{ {p_}_rise(r); }}",
                "    // glue outputs -> engine inputs",
                f"    static bool load(const {glue_prefix} *g, {p_} *e) {{",
                "        bool changed = false;", *load, "        return changed;", "    }",
                "    // engine outputs -> glue inputs",
                f"    static bool store(const {p_} *e, {glue_prefix} *g) {{",
                "        bool changed = false;", *store, "        return changed;", "    }",
                "};", ""]
    out.append("#define FASTSIM_PARTS(X) " + " ".join(f"X(Part_{p.instance})" for p in parts))
    out.append(f"#define FASTSIM_STREAMS {streams}")
    ports = ", ".join(f"{{&(g)->s_axis{i}_tvalid, &(g)->s_axis{i}_tready, &(g)->s_axis{i}_tlast, "
                      f"&(g)->s_axis{i}_tdata}}" for i in range(streams))
    out.append(f"#define FASTSIM_INPUTS(g) {{{ports}}}")
    return "\n".join(out) + "\n"
