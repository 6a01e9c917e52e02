"""The driver's simulation back end: the emitted Verilog of the core under cocotb (Verilator or
Icarus), its AXI4-Lite port driven by cocotbext-axi's master, each AXI4-Stream input (s_axis0 ..
of the core, s_axis of the `bfp` block) by a source and its output by a sink, optionally with
random stalls on every stream.

The driver (host/driver.py) is ordinary blocking code; cocotb runs it in a thread started with
`cocotb.task.bridge`, and each call here blocks that thread until the simulated transaction is
over (`cocotb.task.resume`), so the same driver code runs on the board and in simulation:

    from cocotb.task import bridge
    backend = CocotbBackend(dut)
    await backend.reset()
    y = await bridge(lambda: Accelerator(backend).matmul_q8_0(w, x))()
"""
import struct

from cocotb.clock import Clock
from cocotb.task import resume
from cocotb.triggers import ClockCycles, with_timeout
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame,
                           AxiStreamSink, AxiStreamSource)

from llmaccel.host.stalls import pauses, stream_seeds

CLOCK_NS = 10
# A stream transfer may take at most this many cycles per word moved (stalls included).
CYCLES_PER_WORD_LIMIT = 64
TIMEOUT_FLOOR = 200_000


def input_prefixes(dut) -> list[str]:
    """The design's AXI4-Stream inputs: s_axis (the `bfp` block) or s_axis0, s_axis1, ..."""
    if hasattr(dut, "s_axis_tdata"):
        return ["s_axis"]
    count = 0
    while hasattr(dut, f"s_axis{count}_tdata"):
        count += 1
    if not count:
        raise ValueError("the design has no AXI4-Stream input (s_axis or s_axis0)")
    return [f"s_axis{i}" for i in range(count)]


class CocotbBackend:
    def __init__(self, dut, stall: float = 0.0, seed: int = 1):
        self.dut = dut
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        self.sources = [AxiStreamSource(AxiStreamBus.from_prefix(dut, prefix), dut.clk, dut.rst)
                        for prefix in input_prefixes(dut)]
        self.source = self.sources[0]
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        for log in (self.axil.write_if.log, self.axil.read_if.log, self.sink.log,
                    *(source.log for source in self.sources)):
            log.setLevel("WARNING")
        self.set_stall(stall, seed)

    def set_stall(self, probability: float, seed: int = 1) -> None:
        """Random pauses on every stream: each cycle each source holds back and the sink refuses
        with this probability (host/stalls.py: the same draws as the fast back end's)."""
        source_seeds, sink_seed = stream_seeds(seed, len(self.sources))
        for source, source_seed in zip(self.sources, source_seeds):
            source.set_pause_generator(pauses(source_seed, probability))
        self.sink.set_pause_generator(pauses(sink_seed, probability))

    async def reset(self, cycles: int = 3) -> None:
        """Start the clock (once) and hold `rst` high for `cycles` cycles."""
        if not getattr(self, "_clock", None):
            self._clock = Clock(self.dut.clk, CLOCK_NS, unit="ns")
            self._clock.start()
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    @resume
    async def read32(self, offset: int) -> int:
        resp = await self.axil.read(offset, 4)
        return struct.unpack("<I", resp.data)[0]

    @resume
    async def write32(self, offset: int, value: int) -> None:
        await self.axil.write(offset, struct.pack("<I", value & 0xFFFFFFFF))

    @resume
    async def stream(self, inputs: list[bytes], out_bytes: int) -> bytes:
        """Send each input stream's bytes as one packet on its stream (none for an empty one)
        and return the output packet padded to whole words (as an AXI DMA writes it:
        cocotbext-axi's sink drops the bytes whose tkeep bit is 0)."""
        if len(inputs) != len(self.sources):
            raise ValueError(f"{len(inputs)} input streams for a design with "
                             f"{len(self.sources)}")
        for source, data in zip(self.sources, inputs):
            if data:
                await source.send(AxiStreamFrame(data))
        words = (max(map(len, inputs)) + out_bytes) // 8
        limit = max(TIMEOUT_FLOOR, words * CYCLES_PER_WORD_LIMIT)
        frame = await with_timeout(self.sink.recv(), limit * CLOCK_NS, "ns")
        got = bytes(frame.tdata)
        got += bytes(-len(got) % 8)
        if len(got) != out_bytes:
            raise RuntimeError(f"the core sent {len(got)} result bytes, the driver expected "
                               f"{out_bytes}")
        if not self.sink.empty():
            raise RuntimeError("the core sent more than one result packet")
        return got
