"""The driver's board back end: the core on a PYNQ-Z1 through PYNQ's MMIO (its AXI4-Lite registers)
and the AXI DMAs beside it (one per AXI4-Stream input, each on its own HP port; the first one's
receive channel takes the results), as constraints/build_bd.tcl builds them (cells `core` and
`dma0`, `dma1`, ..., bitstream llmaccel.bit with llmaccel.hwh beside it).

NOT TESTED HERE: no board and no Vivado were available where this was written. It is kept thin so
that what it does can be read at a glance; the driver above it (host/driver.py) is the part the
simulation tests cover.

    from llmaccel.host.driver import Accelerator
    from llmaccel.host.pynq_backend import PynqBackend
    acc = Accelerator(PynqBackend("llmaccel.bit"))
    y = acc.matmul_q8_0(w_raw, x_raw)

Needs the `pynq` package (the board's image has it); the DMAs' length registers are 26 bits wide
in build_bd.tcl, so one transfer moves at most 64 MiB per stream.
"""
import numpy as np


class PynqBackend:
    def __init__(self, bitfile: str = "llmaccel.bit", core: str = "core", dma: str = "dma"):
        from pynq import Overlay, allocate   # only on the board
        self._allocate = allocate
        self.overlay = Overlay(bitfile)
        self.mmio = getattr(self.overlay, core).mmio
        self.dmas = []
        while hasattr(self.overlay, f"{dma}{len(self.dmas)}"):
            self.dmas.append(getattr(self.overlay, f"{dma}{len(self.dmas)}"))
        if not self.dmas:
            raise RuntimeError(f"the overlay {bitfile} has no AXI DMA {dma}0 (build_bd.tcl's)")

    def read32(self, offset: int) -> int:
        return int(self.mmio.read(offset))

    def write32(self, offset: int, value: int) -> None:
        self.mmio.write(offset, value)

    def stream(self, inputs: list[bytes], out_bytes: int) -> bytes:
        """One DMA transfer per input stream that has bytes, and the results through the first
        DMA's receive channel, armed first so the core's results always have somewhere to go."""
        if len(inputs) != len(self.dmas):
            raise ValueError(f"{len(inputs)} input streams for an overlay with {len(self.dmas)} "
                             "DMAs")
        srcs = [self._allocate(shape=(len(data),), dtype=np.uint8) if data else None
                for data in inputs]
        dst = self._allocate(shape=(out_bytes,), dtype=np.uint8)
        try:
            for src, data in zip(srcs, inputs):
                if src is not None:
                    src[:] = np.frombuffer(data, dtype=np.uint8)
                    src.flush()
            self.dmas[0].recvchannel.transfer(dst)
            for dma, src in zip(self.dmas, srcs):
                if src is not None:
                    dma.sendchannel.transfer(src)
            for dma, src in zip(self.dmas, srcs):
                if src is not None:
                    dma.sendchannel.wait()
            self.dmas[0].recvchannel.wait()
            dst.invalidate()
            return bytes(dst)
        finally:
            for src in srcs:
                if src is not None:
                    src.freebuffer()
            dst.freebuffer()
