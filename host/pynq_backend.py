"""The driver's board back end: the core on a PYNQ-Z1 through PYNQ's MMIO (its AXI4-Lite registers)
and the AXI DMAs beside it (one per AXI4-Stream input, each on its own HP port; the first one's
receive channel takes the results), as constraints/build_bd.tcl builds them (cells `core` and
`dma0`, `dma1`, ..., at the addresses of golden/pynq_z1_map.txt; bitstream llmaccel.bit with
llmaccel.hwh beside it).

    from llmaccel.host.driver import Accelerator
    from llmaccel.host.pynq_backend import PynqBackend
    acc = Accelerator(PynqBackend("llmaccel.bit"))
    y = acc.matmul_q8_0(w_raw, x_raw)

Needs the `pynq` package (the board's image has it). Tested in simulation, not on a board: under
cocotb against the core's emitted Verilog, with a stand-in for `pynq` (testbench/pynq_standin.py:
Overlay, MMIO, allocate over a simulated DDR, and a model of the AXI DMA's registers and data
movement after Xilinx's PG021, testbench/axi_dma_model.py); testbench/test_pynq_backend.py.

A transfer the DMA refuses or fails (an unaligned buffer, a length over the 26-bit length
register, a packet longer than the receive buffer, an address outside the DDR) raises
AcceleratorError naming the DMA, the channel and the error; the DMAs are then reset and
restarted, so the next call can run (the core itself may still hold the failed run: reset the
fabric, e.g. by loading the overlay again).
"""
import time

import numpy as np

from llmaccel.golden import board as B
from llmaccel.host.driver import AcceleratorError

RESET_POLLS = 1000          # DMACR reads before a DMA's soft reset counts as stuck


class PynqBackend:
    def __init__(self, bitfile: str = "llmaccel.bit", core: str = "core", dma: str = "dma",
                 timeout_s: float = 10.0):
        """`timeout_s`: how long one stream call may take before it is given up (wall time; a
        whole SmolLM2 LM head is 13 ms of the core at 100 MHz)."""
        from pynq import Overlay, allocate   # only on the board
        self._allocate = allocate
        self.timeout_s = timeout_s
        self.overlay = Overlay(bitfile)
        self.mmio = getattr(self.overlay, core).mmio
        self.dmas = []
        while hasattr(self.overlay, f"{dma}{len(self.dmas)}"):
            self.dmas.append(getattr(self.overlay, f"{dma}{len(self.dmas)}"))
        if not self.dmas:
            raise RuntimeError(f"the overlay {bitfile} has no AXI DMA {dma}0 (build_bd.tcl's)")
        if self.dmas[0].recvchannel is None:
            raise RuntimeError(f"the overlay's {dma}0 has no receive channel for the results")
        self._names = [f"{dma}{i}" for i in range(len(self.dmas))]

    def read32(self, offset: int) -> int:
        return int(self.mmio.read(offset))

    def write32(self, offset: int, value: int) -> None:
        self.mmio.write(offset, value)

    def stream(self, inputs: list[bytes], out_bytes: int) -> bytes:
        """One DMA transfer per input stream that has bytes, and the results through the first
        DMA's receive channel, armed first so the core's results always have somewhere to go.
        Returns `out_bytes` bytes: the results as the DMA wrote them (it writes only the bytes
        whose TKEEP bit is 1: a last word holding one float32 brings 4 bytes, the rest of the
        word is zero)."""
        if len(inputs) != len(self.dmas):
            raise ValueError(f"{len(inputs)} input streams for an overlay with {len(self.dmas)} "
                             "DMAs")
        if out_bytes <= 0 or out_bytes % 8:
            raise ValueError(f"the result length must be a positive number of 64-bit words, "
                             f"not {out_bytes} bytes")
        srcs = [self._allocate(shape=(len(data),), dtype=np.uint8) if data else None
                for data in inputs]
        dst = self._allocate(shape=(out_bytes,), dtype=np.uint8)
        receive = self.dmas[0].recvchannel
        try:
            for src, data in zip(srcs, inputs):
                if src is not None:
                    src[:] = np.frombuffer(data, dtype=np.uint8)
            channels = [(receive, f"{self._names[0]} S2MM")] + [
                (dma.sendchannel, f"{name} MM2S")
                for dma, name, src in zip(self.dmas, self._names, srcs) if src is not None]
            for channel, _ in channels:         # halted after a fabric reset or an error
                if not channel.running:
                    channel.start()
            dst[:] = 0
            dst.flush()
            self._transfer(receive, dst, channels[0][1])
            for (channel, name), src in zip(channels[1:], [s for s in srcs if s is not None]):
                self._transfer(channel, src, name)
            deadline = time.monotonic() + self.timeout_s
            for channel, name in channels[1:] + channels[:1]:
                self._wait(channel, name, deadline)
            got = receive.transferred
            if not out_bytes - 8 < got <= out_bytes:
                raise AcceleratorError(f"{self._names[0]} S2MM received {got} result bytes, the "
                                       f"driver expected {out_bytes}")
            return bytes(dst)
        finally:
            for src in srcs:
                if src is not None:
                    src.freebuffer()
            dst.freebuffer()

    def _transfer(self, channel, buffer, name: str) -> None:
        try:
            channel.transfer(buffer)
        except (RuntimeError, ValueError) as e:
            self._recover()
            raise AcceleratorError(f"{name} refused a transfer of {buffer.nbytes} bytes at "
                                   f"0x{buffer.physical_address:08X}: {e}") from None

    def _wait(self, channel, name: str, deadline: float) -> None:
        """channel.wait() once the channel is idle or has an error (PYNQ's wait spins without
        a limit): an error or the deadline becomes AcceleratorError, the DMAs reset."""
        while not (channel.idle or channel.error):
            if time.monotonic() > deadline:
                self._recover()
                raise AcceleratorError(f"{name} did not finish within {self.timeout_s} s (the "
                                       "core took or gave fewer words than the transfer's length)")
        try:
            channel.wait()
        except RuntimeError as e:
            self._recover()
            raise AcceleratorError(f"{name} failed: {e}"
                                   + (": the core sent more result bytes than the driver expected"
                                      if "internal" in str(e).lower() and "S2MM" in name
                                      else "")) from None

    def _recover(self) -> None:
        """Soft-reset every DMA (DMACR.Reset: the whole DMA, both channels) and run its
        channels again."""
        for dma, name in zip(self.dmas, self._names):
            dma.mmio.write(B.MM2S + B.DMACR, B.CR_RESET)
            for _ in range(RESET_POLLS):
                if not dma.mmio.read(B.MM2S + B.DMACR) & B.CR_RESET:
                    break
            else:
                raise AcceleratorError(f"{name} did not come out of its soft reset")
            for channel in (dma.sendchannel, dma.recvchannel):
                if channel is not None:
                    channel.start()
