"""AXI4-Lite slave register block, driven by a register map declared in one place.

The same list of `Register`s gives the hardware (`AxiLiteRegisters`), the C header for a host
driver (`c_header`) and the documentation table (`markdown_table`), so the three cannot drift
apart. The block is meant for control and status: one transaction in flight per direction, two
cycles per access, no bursts (AXI4-Lite has none).

Register kinds:
  rw     the host writes (byte by byte, as wstrb says) and reads back; the hardware sees the value
         on an output port of the register's name. Reset returns it to `init`.
  ro     the hardware drives an input port of the register's name; the host reads it (the value
         at the cycle the read address is accepted). Host writes are ignored with SLVERR.
  pulse  the host writes; the hardware sees the written value on `<name>` together with
         `<name>_strobe` high for exactly one cycle, the cycle after the write is performed
         (the same cycle in which the write response becomes valid). Outside that cycle `<name>`
         is 0. Bytes whose wstrb bit is clear are 0; a write with wstrb = 0 still strobes.
         Reads return 0 (OKAY).
Reads of an unmapped word return 0 with SLVERR; writes to an unmapped word are ignored with
SLVERR. Addresses are decoded by word: the two low address bits are ignored (byte lanes are fixed
by wstrb). awprot/arprot are accepted and ignored.

Timing (all registered, no combinational path from any valid to any ready): AW and W are each
held in a one-entry buffer (awready = the buffer is empty), in either order or together; the cycle
after both are held and no write response is pending, the write is performed and bvalid rises;
bvalid stays until bready. A read address is accepted while no read response is pending
(arready = not rvalid); rdata/rresp are registered at that edge and held until rready.
While `rst` is high every ready and valid output is low; reset returns rw registers to their init
values and drops the pulse strobes and any half-received transaction.
"""
import re

from amaranth import Cat, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from llmaccel.golden.register_maps import Register

ACCESS_KINDS = ("rw", "ro", "pulse")
DEFAULT_ADDR_BITS = 12     # 4 KiB: the smallest range Vivado's address editor assigns
MIN_ADDR_BITS, MAX_ADDR_BITS = 3, 32
DATA_BITS = 32
RESP_OKAY, RESP_SLVERR = 0b00, 0b10
PREFIX = "s_axil_"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Verilog/SystemVerilog keywords a register might plausibly be called: Yosys would write them as
# escaped identifiers (`\\reg `), which cocotb and most tools handle badly.
_HDL_KEYWORDS = frozenset("""
    always and assign begin bit buf byte case config const default disable do edge else end
    endcase endfunction endmodule endtask enum event final for force forever fork function generate
    genvar if initial inout input int integer logic longint module nand negedge nor not or output
    parameter posedge real reg repeat return shortint signed specify string struct supply0 supply1
    table task time tri type union unsigned var void wait while wire xnor xor
""".split())


class RegisterMapError(ValueError):
    """The register map (or the address width) cannot be built."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_registers(registers, addr_bits: int = DEFAULT_ADDR_BITS) -> tuple:
    """Validate a register map; return it as a tuple sorted by offset, or raise RegisterMapError
    with one message naming the register and what is wrong."""
    if not _is_int(addr_bits) or not MIN_ADDR_BITS <= addr_bits <= MAX_ADDR_BITS:
        raise RegisterMapError(f"addr_bits must be an integer from {MIN_ADDR_BITS} to "
                               f"{MAX_ADDR_BITS}, not {addr_bits!r}")
    registers = tuple(registers)
    if not registers:
        raise RegisterMapError("the register map is empty")
    names, offsets = {}, {}
    for r in registers:
        if not isinstance(r, Register):
            raise RegisterMapError(f"expected a Register, not {r!r}")
        if not isinstance(r.name, str) or not _IDENTIFIER.match(r.name):
            raise RegisterMapError(f"register name {r.name!r} is not a C/Verilog identifier "
                                   "(letters, digits, _; not starting with a digit)")
        if r.name.lower().startswith(PREFIX) or r.name.lower() in ("clk", "rst"):
            raise RegisterMapError(f"register name {r.name!r} is reserved for the bus or the "
                                   f"clock/reset (no 'clk', 'rst' or '{PREFIX}*')")
        if r.name in _HDL_KEYWORDS:
            raise RegisterMapError(f"register name {r.name!r} is a Verilog keyword")
        if r.name.startswith("_") or hasattr(AxiLiteRegisters, r.name) or r.name in (
                "registers", "addr_bits"):
            raise RegisterMapError(f"register name {r.name!r} is taken by an attribute of "
                                   "AxiLiteRegisters (or starts with '_')")
        if r.access not in ACCESS_KINDS:
            raise RegisterMapError(f"register {r.name!r}: access must be 'rw', 'ro' or 'pulse', "
                                   f"not {r.access!r}")
        if not _is_int(r.width) or not 1 <= r.width <= DATA_BITS:
            raise RegisterMapError(f"register {r.name!r}: width must be an integer from 1 to "
                                   f"{DATA_BITS}, not {r.width!r}")
        if not _is_int(r.offset) or r.offset < 0:
            raise RegisterMapError(f"register {r.name!r}: offset must be a non-negative integer, "
                                   f"not {r.offset!r}")
        if r.offset % 4:
            raise RegisterMapError(f"register {r.name!r}: offset {r.offset:#x} is not a "
                                   "multiple of 4")
        if r.offset >= 1 << addr_bits:
            raise RegisterMapError(f"register {r.name!r}: offset {r.offset:#x} is beyond the "
                                   f"{addr_bits}-bit address space (last word at "
                                   f"{(1 << addr_bits) - 4:#x})")
        if not _is_int(r.init) or not 0 <= r.init < 1 << r.width:
            raise RegisterMapError(f"register {r.name!r}: init {r.init!r} does not fit in "
                                   f"{r.width} bits")
        if r.init and r.access != "rw":
            raise RegisterMapError(f"register {r.name!r}: init applies to rw registers only, "
                                   f"not {r.access!r}")
        if not isinstance(r.doc, str):
            raise RegisterMapError(f"register {r.name!r}: doc must be a string")
        key = r.name.lower()    # C macros are upper-cased: 'ctrl' and 'CTRL' would collide
        if key in names:
            raise RegisterMapError(f"duplicate register name {r.name!r}"
                                   + ("" if names[key] == r.name else
                                      f" (same as {names[key]!r} in a C header)"))
        names[key] = r.name
        if r.offset in offsets:
            raise RegisterMapError(f"registers {offsets[r.offset]!r} and {r.name!r} share offset "
                                   f"{r.offset:#x}")
        offsets[r.offset] = r.name
    for r in registers:
        if r.access == "pulse" and f"{r.name}_strobe".lower() in names:
            raise RegisterMapError(f"register {names[f'{r.name}_strobe'.lower()]!r} clashes with "
                                   f"the strobe port of pulse register {r.name!r}")
    return tuple(sorted(registers, key=lambda r: r.offset))


def axi_lite_members(addr_bits: int) -> dict:
    """The slave side of an AXI4-Lite bus (32-bit data) as flat signature members named
    `s_axil_<signal>`, which cocotbext-axi's `AxiLiteBus.from_prefix(dut, "s_axil")` finds."""
    return {
        "s_axil_awaddr": In(addr_bits), "s_axil_awprot": In(3),
        "s_axil_awvalid": In(1), "s_axil_awready": Out(1),
        "s_axil_wdata": In(DATA_BITS), "s_axil_wstrb": In(DATA_BITS // 8),
        "s_axil_wvalid": In(1), "s_axil_wready": Out(1),
        "s_axil_bresp": Out(2), "s_axil_bvalid": Out(1), "s_axil_bready": In(1),
        "s_axil_araddr": In(addr_bits), "s_axil_arprot": In(3),
        "s_axil_arvalid": In(1), "s_axil_arready": Out(1),
        "s_axil_rdata": Out(DATA_BITS), "s_axil_rresp": Out(2),
        "s_axil_rvalid": Out(1), "s_axil_rready": In(1),
    }


class AxiLiteRegisters(wiring.Component):
    """AXI4-Lite slave exposing `registers` (see the module docstring for the semantics).

    Ports: the `s_axil_*` bus, and per register a port of its name: Out(width) for rw (the
    current value) and pulse (the written value during the strobe cycle), In(width) for ro; a
    pulse register also has Out(1) `<name>_strobe`."""

    def __init__(self, registers, addr_bits: int = DEFAULT_ADDR_BITS):
        self.registers = check_registers(registers, addr_bits)
        self.addr_bits = addr_bits
        members = axi_lite_members(addr_bits)
        for r in self.registers:
            if r.access == "ro":
                members[r.name] = In(r.width)
            else:
                members[r.name] = Out(r.width, init=r.init)
            if r.access == "pulse":
                members[f"{r.name}_strobe"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        p = lambda s: getattr(self, PREFIX + s)  # noqa: E731
        rst = ResetSignal("sync", allow_reset_less=True)

        # -- write: AW and W buffers, then one write per response ---------------------------
        aw_held = Signal()
        aw_word = Signal(self.addr_bits - 2)
        w_held = Signal()
        w_data = Signal(DATA_BITS)
        w_strb = Signal(DATA_BITS // 8)
        # The responses' valids are registers shown only outside reset: AXI wants them low
        # while reset is high, also in its first cycle, before the registers clear.
        b_valid = Signal()
        r_valid = Signal()
        m.d.comb += [p("awready").eq(~aw_held & ~rst), p("wready").eq(~w_held & ~rst),
                     p("bvalid").eq(b_valid & ~rst), p("rvalid").eq(r_valid & ~rst)]
        with m.If(p("awvalid") & p("awready")):
            m.d.sync += [aw_held.eq(1), aw_word.eq(p("awaddr")[2:])]
        with m.If(p("wvalid") & p("wready")):
            m.d.sync += [w_held.eq(1), w_data.eq(p("wdata")), w_strb.eq(p("wstrb"))]

        for r in self.registers:
            if r.access == "pulse":
                m.d.sync += [getattr(self, r.name).eq(0), getattr(self, f"{r.name}_strobe").eq(0)]
        # Byte lanes of w_data with their strobe bit clear are zero here (for pulse values).
        strobed = Signal(DATA_BITS)
        m.d.comb += strobed.eq(Cat(w_data[8 * i:8 * i + 8] & w_strb[i].replicate(8)
                                   for i in range(DATA_BITS // 8)))

        with m.If(aw_held & w_held & ~b_valid):
            m.d.sync += [aw_held.eq(0), w_held.eq(0), b_valid.eq(1),
                         p("bresp").eq(RESP_OKAY)]
            with m.Switch(aw_word):
                for r in self.registers:
                    with m.Case(r.offset >> 2):
                        reg = getattr(self, r.name)
                        if r.access == "rw":
                            for lane in range(DATA_BITS // 8):
                                lo, hi = 8 * lane, min(8 * lane + 8, r.width)
                                if lo < r.width:
                                    with m.If(w_strb[lane]):
                                        m.d.sync += reg[lo:hi].eq(w_data[lo:hi])
                        elif r.access == "pulse":
                            m.d.sync += [reg.eq(strobed[:r.width]),
                                         getattr(self, f"{r.name}_strobe").eq(1)]
                        else:
                            m.d.sync += p("bresp").eq(RESP_SLVERR)
                with m.Default():
                    m.d.sync += p("bresp").eq(RESP_SLVERR)
        with m.Elif(p("bvalid") & p("bready")):
            m.d.sync += b_valid.eq(0)

        # -- read: one address accepted per response ----------------------------------------
        m.d.comb += p("arready").eq(~r_valid & ~rst)
        with m.If(p("arvalid") & p("arready")):
            m.d.sync += [r_valid.eq(1), p("rdata").eq(0), p("rresp").eq(RESP_OKAY)]
            with m.Switch(p("araddr")[2:]):
                for r in self.registers:
                    with m.Case(r.offset >> 2):
                        if r.access in ("rw", "ro"):
                            m.d.sync += p("rdata").eq(getattr(self, r.name))
                with m.Default():
                    m.d.sync += p("rresp").eq(RESP_SLVERR)
        with m.Elif(p("rvalid") & p("rready")):
            m.d.sync += r_valid.eq(0)
        return m


# -- documentation and host-side views of the same map -------------------------------------------

def _one_line(text: str) -> str:
    return " ".join(text.split())


def _describe(r: Register) -> str:
    what = {"rw": "read/write", "ro": "read-only", "pulse": "write-only pulse"}[r.access]
    reset = f", reset {r.init:#x}" if r.access == "rw" else ""
    return f"{what}, {r.width} bit{'s' if r.width > 1 else ''}{reset}"


def c_header(registers, prefix: str, addr_bits: int = DEFAULT_ADDR_BITS,
             values: dict | None = None) -> str:
    """The map as a C header: `#define <PREFIX>_<NAME>_OFFSET 0x..` and `_MASK` (the bits the
    register uses) per register in offset order, each after a comment from its doc; an include
    guard `<PREFIX>_H`; nothing that changes between runs (no date, no path). `values`: {register
    name: {value name: code}}, the codes a register takes, as `#define <PREFIX>_<REG>_<VALUE>`."""
    regs = check_registers(registers, addr_bits)
    values = values or {}
    unknown = sorted(set(values) - {r.name for r in regs})
    if unknown:
        raise RegisterMapError(f"values for registers the map does not have: {', '.join(unknown)}")
    if not isinstance(prefix, str) or not _IDENTIFIER.match(prefix):
        raise RegisterMapError(f"prefix {prefix!r} is not a C identifier")
    pre = prefix.upper()
    guard = f"{pre}_H"
    name_width = max(len(f"{pre}_{r.name.upper()}_OFFSET") for r in regs)
    lines = [f"/* {pre} register map (AXI4-Lite, 32-bit words, {addr_bits}-bit addresses).",
             " * Generated by llmaccel from generators/axi_lite.py; do not edit. */",
             f"#ifndef {guard}", f"#define {guard}", "",
             f"#define {pre}_SPAN 0x{1 << addr_bits:X}u", ""]
    for r in regs:
        doc = _one_line(r.doc).replace("*/", "* /")
        lines.append(f"/* {r.name} ({_describe(r)})" + (f": {doc}" if doc else "") + " */")
        base = f"{pre}_{r.name.upper()}"
        lines.append(f"#define {base + '_OFFSET':<{name_width}} 0x{r.offset:04X}")
        lines.append(f"#define {base + '_MASK':<{name_width}} 0x{(1 << r.width) - 1:08X}u")
        for value, code in (values.get(r.name) or {}).items():
            lines.append(f"#define {base}_{value.upper()} {code}")
    lines += ["", f"#endif /* {guard} */", ""]
    return "\n".join(lines)


def markdown_table(registers, addr_bits: int = DEFAULT_ADDR_BITS) -> str:
    """The map as a Markdown table in offset order: offset, name, access, width, reset, doc."""
    regs = check_registers(registers, addr_bits)
    rows = ["| offset | name | access | width | reset | description |",
            "|---|---|---|---|---|---|"]
    for r in regs:
        reset = f"`{r.init:#x}`" if r.access == "rw" else ""
        doc = _one_line(r.doc).replace("|", "\\|")
        rows.append(f"| `0x{r.offset:04X}` | `{r.name}` | {r.access} | {r.width} | {reset} "
                    f"| {doc} |")
    return "\n".join(rows) + "\n"
