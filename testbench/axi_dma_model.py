"""A model of Xilinx's AXI DMA v7.1 in simple (direct register) mode, as constraints/build_bd.tcl
configures it (no scatter-gather, 64-bit memory maps and streams, no data realignment engine,
26-bit length registers; dma0 with both channels, the others memory-to-stream only), between a
simulated DDR and the core's AXI4-Stream ports in a cocotb simulation. Written from the register
descriptions of the AXI DMA product guide (PG021, "Register Space"); the constants are in
golden/board.py. For the PYNQ back end's tests (testbench/pynq_standin.py drives it through its
registers, as PYNQ's DMA driver drives the real one).

Per channel: DMACR (RS, Reset, interrupt enables), DMASR (Halted, Idle, the error and interrupt
bits, write 1 to clear the interrupts), the address (and its upper word) and LENGTH. What the
model does, as the guide says the hardware does:
- After reset a channel is halted (Halted = 1, Idle = 0). Setting RS runs it (Halted = 0); Idle
  stays 0 until the first transfer completes. Writing LENGTH while halted has no effect.
- Writing a non-zero LENGTH while running starts a transfer (Idle = 0); a zero LENGTH starts
  nothing. At its end Idle = 1 and IOC_Irq = 1.
- MM2S reads LENGTH bytes of DDR from the address and sends them as one packet, TLAST on its last
  beat (TKEEP on a partial last beat where the stream has TKEEP; the core's inputs do not).
- S2MM holds TREADY low until armed by LENGTH, then writes the packet's bytes (those whose TKEEP
  bit is 1) from the address; LENGTH then reads the bytes received. A packet longer than LENGTH
  is DMAIntErr: the first LENGTH bytes are written, RS clears and the channel halts.
- An address range outside the DDR is DMADecErr (the interconnect decodes no slave): nothing is
  moved, RS clears, the channel halts. Errors and halts stay until a reset.
- DMACR.Reset on either channel resets the whole DMA (its registers, both channels, any transfer
  in flight); so does the fabric reset (`rst`, as proc_sys_reset drives the DMAs' axi_resetn).
- Unaligned addresses: without the realignment engine the guide leaves them undefined; this
  model moves the bytes from the address as given (PYNQ's driver refuses them before writing).
Not modelled: the HP ports' and the DDR's timing (memory answers at once; a stream moves a word
a cycle when the core takes it), interrupts as signals, keyhole and cyclic modes.
"""
import cocotb
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamFrame

from llmaccel.golden import board as B

REGISTER_CYCLES = 2        # an AXI4-Lite access from the PS to a DMA register, roughly
LENGTH_MASK = (1 << B.LENGTH_BITS) - 1


class _Channel:
    def __init__(self, name: str):
        self.name = name
        self.reset()

    def reset(self):
        self.cr = 0
        self.sr = B.SR_HALTED
        self.address = self.address_msb = self.length = 0
        self.task = None

    @property
    def running(self) -> bool:
        return not self.sr & B.SR_HALTED


class AxiDmaModel:
    def __init__(self, name: str, clk, rst, ddr, ddr_size: int, source=None, sink=None):
        """`ddr`: a cocotbext-axi memory region (the board's DDR as the HP ports see it, from
        address 0, `ddr_size` bytes); `source`: an AxiStreamSource on the core's input stream
        (MM2S), `sink`: an AxiStreamSink on the core's output (S2MM), None where the DMA has no
        such channel."""
        self.name, self.clk, self.ddr, self.ddr_size = name, clk, ddr, ddr_size
        self.source, self.sink = source, sink
        self.channels = {B.MM2S: _Channel(f"{name} MM2S"), B.S2MM: _Channel(f"{name} S2MM")}
        self.armed = False              # S2MM: a transfer is waiting for the core's packet
        if sink is not None:
            sink.set_pause_generator(self._s2mm_pauses())
        cocotb.start_soon(self._watch_reset(rst))

    # ---- the AXI4-Lite register port -------------------------------------------------------------
    async def read(self, offset: int) -> int:
        await ClockCycles(self.clk, REGISTER_CYCLES)
        ch, reg = self._decode(offset)
        if ch is None:
            return 0
        return {B.DMACR: ch.cr, B.DMASR: ch.sr, B.ADDRESS: ch.address,
                B.ADDRESS_MSB: ch.address_msb, B.LENGTH: ch.length}.get(reg, 0)

    async def write(self, offset: int, value: int) -> None:
        await ClockCycles(self.clk, REGISTER_CYCLES)
        ch, reg = self._decode(offset)
        if ch is None:
            return
        value &= 0xFFFFFFFF
        if reg == B.DMACR:
            if value & B.CR_RESET:
                self.reset()
                return
            was = ch.cr & B.CR_RS
            ch.cr = value & ~B.CR_RESET
            if value & B.CR_RS and not was and not ch.sr & B.SR_ERRORS:
                ch.sr &= ~B.SR_HALTED
            elif not value & B.CR_RS and was:
                self._stop(ch)
        elif reg == B.DMASR:
            ch.sr &= ~(value & (B.SR_IOC_IRQ | B.SR_ERR_IRQ))
        elif reg == B.ADDRESS:
            ch.address = value
        elif reg == B.ADDRESS_MSB:
            ch.address_msb = value
        elif reg == B.LENGTH:
            if not ch.running or not value & LENGTH_MASK:
                return                   # halted: no effect; zero: nothing to start
            ch.length = value & LENGTH_MASK
            ch.sr &= ~B.SR_IDLE
            run = self._mm2s if ch is self.channels[B.MM2S] else self._s2mm
            ch.task = cocotb.start_soon(run(ch))

    def _decode(self, offset: int):
        base = B.S2MM if offset >= B.S2MM else B.MM2S
        present = self.source if base == B.MM2S else self.sink
        return (self.channels[base] if present is not None else None), offset - base

    # ---- reset, stop, errors ---------------------------------------------------------------------
    def reset(self) -> None:
        for ch in self.channels.values():
            if ch.task is not None and not ch.task.done():
                ch.task.cancel()
            ch.reset()
        self.armed = False
        if self.source is not None:
            self.source.clear()

    async def _watch_reset(self, rst) -> None:
        while True:
            await RisingEdge(self.clk)
            if rst.value == 1:
                self.reset()

    def _stop(self, ch: _Channel) -> None:
        if ch.task is not None and not ch.task.done():
            ch.task.cancel()
        ch.task = None
        if ch is self.channels[B.S2MM]:
            self.armed = False
        ch.sr = (ch.sr | B.SR_HALTED) & ~B.SR_IDLE

    def _fail(self, ch: _Channel, bit: int) -> None:
        ch.cr &= ~B.CR_RS
        ch.sr = (ch.sr | bit | B.SR_ERR_IRQ | B.SR_HALTED) & ~B.SR_IDLE
        if ch is self.channels[B.S2MM]:
            self.armed = False

    def _decodes(self, ch: _Channel, address: int, length: int) -> bool:
        if address + length > self.ddr_size:
            self._fail(ch, B.SR_DEC_ERR)
            return False
        return True

    def _done(self, ch: _Channel) -> None:
        ch.sr |= B.SR_IDLE | B.SR_IOC_IRQ
        ch.task = None

    # ---- the two channels ------------------------------------------------------------------------
    async def _mm2s(self, ch: _Channel) -> None:
        address = ch.address_msb << 32 | ch.address
        if not self._decodes(ch, address, ch.length):
            return
        data = await self.ddr.read(address, ch.length)
        await self.source.send(AxiStreamFrame(data))
        await self.source.wait()
        self._done(ch)

    def _s2mm_pauses(self):
        while True:                     # TREADY low while no transfer is armed
            yield not self.armed

    async def _s2mm(self, ch: _Channel) -> None:
        address = ch.address_msb << 32 | ch.address
        if not self._decodes(ch, address, ch.length):
            return
        self.armed = True
        frame = await self.sink.recv()
        self.armed = False
        data = bytes(frame.tdata)
        if len(data) > ch.length:
            await self.ddr.write(address, data[:ch.length])
            self._fail(ch, B.SR_INT_ERR)
            return
        await self.ddr.write(address, data)
        ch.length = len(data)
        self._done(ch)
