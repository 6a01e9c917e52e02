"""What the AXI-attached blocks (`bfp`, `top`) share: their ports (the AXI4-Lite slave of an
AxiLiteRegisters block and 64-bit AXI4-Streams in and out, flat, with the names Vivado's IP
integrator infers interfaces from) and the run bookkeeping behind their CTRL, STATUS, ERROR and
CYCLES registers."""
from amaranth import Cat, Signal
from amaranth.lib.wiring import In, Out

STREAM_PORTS = {
    "s_axis_tdata": In(64), "s_axis_tvalid": In(1), "s_axis_tready": Out(1), "s_axis_tlast": In(1),
    "m_axis_tdata": Out(64), "m_axis_tkeep": Out(8), "m_axis_tvalid": Out(1),
    "m_axis_tready": In(1), "m_axis_tlast": Out(1),
}


def input_stream_ports(streams: int) -> dict:
    """`streams` 64-bit AXI4-Stream inputs s_axis0 .. (the core's; the `bfp` block has one,
    s_axis)."""
    return {f"s_axis{i}_{name[7:]}": member for i in range(streams)
            for name, member in STREAM_PORTS.items() if name.startswith("s_axis_")}


def shell_ports(regs, streams: int | None = None) -> dict:
    """The block's signature members: the register block's AXI4-Lite ports and the streams (one
    input s_axis, or with `streams` the inputs s_axis0 ..), the output m_axis."""
    axil = {name: member for name, member in regs.signature.members.items()
            if name.startswith("s_axil_")}
    if streams is None:
        return {**axil, **STREAM_PORTS}
    out = {name: member for name, member in STREAM_PORTS.items() if name.startswith("m_axis_")}
    return {**axil, **input_stream_ports(streams), **out}


def connect_registers(m, block, regs) -> None:
    """The block's AXI4-Lite ports straight to its register block's."""
    for name, member in regs.signature.members.items():
        if name.startswith("s_axil_"):
            ours, theirs = getattr(block, name), getattr(regs, name)
            m.d.comb += (theirs.eq(ours) if member.flow == In else ours.eq(theirs))


def run_control(m, regs, busy, checks):
    """A write of 1 to CTRL while not `busy` is a start (`go`); it is refused when any of `checks`
    (one-bit Values, ERROR's bits in order) holds: ERROR keeps which, STATUS.error is set. An
    accepted start (`start`) zeroes CYCLES, which then counts while `busy`; STATUS.done rises
    when `busy` falls. Drives STATUS, ERROR and CYCLES; returns (go, start)."""
    bits = Cat(*checks)
    bad = bits.any()
    go = regs.ctrl_strobe & regs.ctrl[0] & ~busy
    errors, error, done, cycles = Signal(len(bits)), Signal(), Signal(), Signal(32)
    with m.If(go):
        m.d.sync += [errors.eq(bits), error.eq(bad), done.eq(0)]
        with m.If(~bad):
            m.d.sync += cycles.eq(0)
    was_busy = Signal()
    m.d.sync += was_busy.eq(busy)
    with m.If(busy):
        m.d.sync += cycles.eq(cycles + 1)
    with m.If(was_busy & ~busy):
        m.d.sync += done.eq(1)
    m.d.comb += [regs.status.eq(Cat(busy, done, error)), regs.error.eq(errors),
                 regs.cycles.eq(cycles)]
    return go, go & ~bad
