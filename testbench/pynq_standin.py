"""A stand-in for the `pynq` package, for testing host/pynq_backend.py unchanged in a cocotb
simulation of the core (the real package needs a board). A test puts this module in place of
`pynq` (`sys.modules["pynq"]`) and attaches a simulated board to it (`SimulatedBoard`); then
`Overlay`, `MMIO`, `allocate` and the overlay's DMA drivers behave as PYNQ's do on a PYNQ-Z1,
against:
- the core's emitted Verilog: its AXI4-Lite slave through cocotbext-axi's master, its streams
  through testbench/axi_dma_model.py's AXI DMAs (one per input stream, dma0 with the results);
- a simulated DDR (cocotbext-axi's sparse memory region, 512 MB from address 0 as the HP ports
  see it), in which `allocate` hands out buffers with physical addresses, page-aligned, in a
  CMA window; a buffer's array is the CPU's cached view: `flush()` writes it to the DDR,
  `invalidate()` reads it back, so a back end that forgets either gets stale bytes, as on the
  board with cacheable buffers.
The overlay's cells and addresses come from golden/pynq_z1_map.txt, the file
constraints/build_bd.tcl assigns them from.

The DMA driver is our own, written to the behaviour of PYNQ's simple-mode DMA driver
(pynq.lib.dma, PYNQ 3.x: `sendchannel` / `recvchannel` with `transfer(array, start=0,
nbytes=0)`, `wait()`, `running`, `idle`, `error`, `transferred`, `start()`, `stop()`;
`transfer` refuses an unaligned buffer or one over the length register and writes the address
then LENGTH; `wait` polls DMASR and raises RuntimeError on an error bit; Idle is 0 before a
channel's first transfer) over the DMA's registers as PG021 gives them (golden/board.py).
"""
import numpy as np
from cocotb.task import resume
from cocotbext.axi import SparseMemoryRegion

from llmaccel.golden import board as B

PAGE = 4096
CMA_BASE = 0x1800_0000          # where the stand-in's CMA window starts in the DDR (any page)
CMA_BYTES = 128 * 2 ** 20       # PYNQ's default CMA size on the PYNQ-Z1

_board = None                   # the SimulatedBoard a test attached


def attach(board) -> None:
    global _board
    _board = board


def _the_board():
    if _board is None:
        raise RuntimeError("pynq stand-in: no simulated board attached (pynq_standin.attach)")
    return _board


class SimulatedBoard:
    """The core's simulation as the PS sees it: the DDR, the core's AXI4-Lite slave and the
    DMAs, each at its address of the map. `core_axil`: cocotbext-axi's AxiLiteMaster on the
    core; `dmas`: testbench/axi_dma_model.AxiDmaModel, dma0 first."""

    def __init__(self, core_axil, dmas, ddr):
        self.cells = B.address_map()
        self.ddr_size = self.cells["ddr"].range
        self.ddr = ddr
        self.slaves = {"core": core_axil, **{f"dma{i}": dma for i, dma in enumerate(dmas)}}
        self.next_free = CMA_BASE
        self.align = PAGE             # a test may break it to get unaligned buffers
        self.skew = 0

    @staticmethod
    def memory(size: int):
        return SparseMemoryRegion(size)

    def cell_at(self, address: int):
        for name, cell in self.cells.items():
            if name in self.slaves and cell.offset <= address < cell.offset + cell.range:
                return name, cell
        raise RuntimeError(f"pynq stand-in: no IP at address 0x{address:08X}")

    def read32(self, name: str, offset: int) -> int:
        slave = self.slaves[name]
        if name == "core":
            data = resume(slave.read)(offset, 4).data
            return int.from_bytes(data, "little")
        return resume(slave.read)(offset)

    def write32(self, name: str, offset: int, value: int) -> None:
        slave = self.slaves[name]
        if name == "core":
            resume(slave.write)(offset, int(value & 0xFFFFFFFF).to_bytes(4, "little"))
        else:
            resume(slave.write)(offset, value)

    def allocate(self, nbytes: int) -> int:
        address = -(-self.next_free // self.align) * self.align + self.skew
        if address + nbytes > CMA_BASE + CMA_BYTES:
            raise RuntimeError(f"pynq stand-in: out of CMA memory for {nbytes} bytes")
        self.next_free = address + max(nbytes, 1)
        return address


# ---- pynq.allocate -------------------------------------------------------------------------------
class PynqBuffer(np.ndarray):
    """A contiguous buffer in the simulated DDR (pynq.buffer.PynqBuffer's interface)."""

    def __array_finalize__(self, obj):
        self.physical_address = getattr(obj, "physical_address", None)
        self.device_address = self.physical_address
        self.freed = getattr(obj, "freed", False)

    def flush(self) -> None:
        """The CPU's cache to the DDR (what the DMA reads)."""
        _the_board().ddr.mem.write(self.physical_address, self.tobytes())

    def invalidate(self) -> None:
        """The DDR (what the DMA wrote) into the CPU's view."""
        data = _the_board().ddr.mem.read(self.physical_address, self.nbytes)
        self.view(np.uint8).reshape(-1)[:] = np.frombuffer(data, dtype=np.uint8)

    def freebuffer(self) -> None:
        self.freed = True

    close = freebuffer


def allocate(shape, dtype="u4", target=None, **kwargs) -> PynqBuffer:
    board = _the_board()
    array = np.zeros(shape, dtype=dtype)
    buffer = array.view(PynqBuffer)
    buffer.physical_address = buffer.device_address = board.allocate(array.nbytes)
    buffer.freed = False
    return buffer


# ---- pynq.MMIO -----------------------------------------------------------------------------------
class MMIO:
    def __init__(self, base_addr: int, length: int = 4, **kwargs):
        self.base_addr, self.length = base_addr, length
        self.cell, cell = _the_board().cell_at(base_addr)
        self._offset = base_addr - cell.offset

    def _check(self, offset: int) -> int:
        if offset < 0:
            raise ValueError("Offset cannot be negative.")
        if offset % 4:
            raise MemoryError("Unaligned read: offset must be multiple of 4.")
        if offset + 4 > self.length:
            raise IndexError(f"offset 0x{offset:X} is outside the {self.length}-byte window")
        return self._offset + offset

    def read(self, offset: int = 0, length: int = 4, word_order="little") -> int:
        if length != 4:
            raise ValueError("pynq stand-in: only 4-byte reads")
        return _the_board().read32(self.cell, self._check(offset))

    def write(self, offset: int, data) -> None:
        if not isinstance(data, (int, np.integer)):
            raise ValueError("pynq stand-in: only integer writes")
        _the_board().write32(self.cell, self._check(offset), int(data))


# ---- pynq.Overlay and its IP ---------------------------------------------------------------------
class DefaultIP:
    def __init__(self, description: dict):
        self.description = description
        self.mmio = MMIO(description["phys_addr"], description["addr_range"])


class _SimpleDmaChannel:
    """One channel of an AXI DMA in simple mode, driven through its registers."""

    def __init__(self, mmio: MMIO, base: int, max_size: int, to_stream: bool):
        self._mmio, self._base, self._max_size = mmio, base, max_size
        self._to_stream = to_stream          # MM2S: flush before; S2MM: invalidate after
        self._active = None
        self._first_transfer = True
        self.transferred = 0
        self.start()

    def _status(self) -> int:
        return self._mmio.read(self._base + B.DMASR)

    @property
    def running(self) -> bool:
        return not self._status() & B.SR_HALTED

    @property
    def idle(self) -> bool:
        return bool(self._status() & B.SR_IDLE)

    @property
    def error(self) -> bool:
        return bool(self._status() & B.SR_ERRORS)

    def start(self) -> None:
        self._mmio.write(self._base + B.DMACR, B.CR_RS)
        while not self.running:
            pass
        self._first_transfer = True

    def stop(self) -> None:
        self._mmio.write(self._base + B.DMACR, 0)
        while self.running:
            pass

    def transfer(self, array, start: int = 0, nbytes: int = 0) -> None:
        if not self.running:
            raise RuntimeError("DMA channel not started")
        if not self.idle and not self._first_transfer:
            raise RuntimeError("DMA channel not idle")
        if nbytes == 0:
            nbytes = array.nbytes - start
        if nbytes > self._max_size:
            raise ValueError(f"Transfer size is {nbytes} bytes, which exceeds the maximum DMA "
                             f"buffer size {self._max_size}.")
        address = array.physical_address + start
        if address % B.DATA_BYTES:
            raise RuntimeError("DMA does not support unaligned transfers; Starting address "
                               f"must be aligned to {B.DATA_BYTES} bytes.")
        if self._to_stream:
            array.flush()
        self.transferred = 0
        self._mmio.write(self._base + B.ADDRESS, address & 0xFFFFFFFF)
        self._mmio.write(self._base + B.ADDRESS_MSB, address >> 32)
        self._mmio.write(self._base + B.LENGTH, nbytes)
        self._active = array
        self._first_transfer = False

    def wait(self) -> None:
        if not self.running and not self.error:
            raise RuntimeError("DMA channel not started")
        while True:
            status = self._status()
            for bit, name in B.ERROR_NAMES.items():
                if status & bit:
                    raise RuntimeError(f"{name} (DMASR 0x{status:08X})")
            if status & B.SR_IDLE:
                break
        if not self._to_stream:
            self._active.invalidate()
        self.transferred = self._mmio.read(self._base + B.LENGTH)


class DMA(DefaultIP):
    """An AXI DMA of the overlay: `sendchannel` (MM2S), `recvchannel` (S2MM, None where the DMA
    has no receive channel: build_bd.tcl gives one to dma0 alone)."""

    def __init__(self, description: dict):
        super().__init__(description)
        params = description["parameters"]
        self.buffer_max_size = (1 << int(params["c_sg_length_width"])) - 1
        self.sendchannel = _SimpleDmaChannel(self.mmio, B.MM2S, self.buffer_max_size, True)
        self.recvchannel = (_SimpleDmaChannel(self.mmio, B.S2MM, self.buffer_max_size, False)
                            if params["c_include_s2mm"] == "1" else None)


class Overlay:
    """The overlay build_bd.tcl makes, as the simulated board has it: `core` (its AXI4-Lite
    registers) and `dma0` .. one per input stream; `ip_dict` as PYNQ's (from the map)."""

    def __init__(self, bitfile_name: str, download: bool = True, **kwargs):
        board = _the_board()
        self.bitfile_name = bitfile_name
        self.ip_dict = {}
        for name in board.slaves:
            cell = board.cells[name]
            entry = {"fullpath": name, "phys_addr": cell.offset, "addr_range": cell.range,
                     "type": "xilinx.com:module_ref:llmaccel:1.0" if name == "core"
                     else "xilinx.com:ip:axi_dma:7.1", "parameters": {}}
            if name != "core":
                entry["parameters"] = {"c_include_sg": "0", "c_sg_length_width": str(
                    B.LENGTH_BITS), "c_include_s2mm": "1" if name == "dma0" else "0"}
            self.ip_dict[name] = entry
        for name, entry in self.ip_dict.items():
            setattr(self, name, DefaultIP(entry) if name == "core" else DMA(entry))
