"""The driver's board back end: the core on a PYNQ-Z1 through PYNQ's MMIO (its AXI4-Lite registers)
and the AXI DMA beside it (its AXI4-Stream ports), as constraints/build_bd.tcl builds them (cells
`core` and `dma`, bitstream llmaccel.bit with llmaccel.hwh beside it).

NOT TESTED HERE: no board and no Vivado were available where this was written. It is kept thin so
that what it does can be read at a glance; the driver above it (host/driver.py) is the part the
simulation tests cover.

    from llmaccel.host.driver import Accelerator
    from llmaccel.host.pynq_backend import PynqBackend
    acc = Accelerator(PynqBackend("llmaccel.bit"))
    y = acc.matmul_q8_0(w_raw, x_raw)

Needs the `pynq` package (the board's image has it); the DMA's length register is 26 bits wide in
build_bd.tcl, so one transfer moves at most 64 MiB.
"""
import numpy as np


class PynqBackend:
    def __init__(self, bitfile: str = "llmaccel.bit", core: str = "core", dma: str = "dma"):
        from pynq import Overlay, allocate   # only on the board
        self._allocate = allocate
        self.overlay = Overlay(bitfile)
        self.mmio = getattr(self.overlay, core).mmio
        self.dma = getattr(self.overlay, dma)

    def read32(self, offset: int) -> int:
        return int(self.mmio.read(offset))

    def write32(self, offset: int, value: int) -> None:
        self.mmio.write(offset, value)

    def stream(self, data: bytes, out_bytes: int) -> bytes:
        """One DMA transfer each way: the receive channel is armed first so the core's results
        always have somewhere to go."""
        src = self._allocate(shape=(len(data),), dtype=np.uint8)
        dst = self._allocate(shape=(out_bytes,), dtype=np.uint8)
        try:
            src[:] = np.frombuffer(data, dtype=np.uint8)
            src.flush()
            self.dma.recvchannel.transfer(dst)
            self.dma.sendchannel.transfer(src)
            self.dma.sendchannel.wait()
            self.dma.recvchannel.wait()
            dst.invalidate()
            return bytes(dst)
        finally:
            src.freebuffer()
            dst.freebuffer()
