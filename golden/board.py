"""The PYNQ-Z1 overlay as data: the cells constraints/build_bd.tcl creates and their addresses
(golden/pynq_z1_map.txt, read by build_bd.tcl too), and the AXI DMA's registers in simple
(direct register) mode as Xilinx's AXI DMA product guide (PG021, v7.1) gives them, for the PYNQ
back end (host/pynq_backend.py) and its tests (testbench/pynq_standin.py,
testbench/axi_dma_model.py). No Amaranth, no pynq: plain data."""
from dataclasses import dataclass
from pathlib import Path

MAP_FILE = Path(__file__).with_name("pynq_z1_map.txt")
MAX_STREAMS = 4                # the Zynq-7000's four S_AXI_HP ports: one AXI DMA on each


@dataclass(frozen=True)
class Cell:
    name: str
    interface: str             # the slave interface the address is assigned to
    offset: int
    range: int


def address_map(path: Path = MAP_FILE) -> dict[str, Cell]:
    """{cell name: Cell} from the map file: one cell a line (name, interface, offset, range;
    numbers in any Python integer notation), `#` starts a comment."""
    cells = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 4:
            raise ValueError(f"{path}:{number}: need 'cell interface offset range', not {line!r}")
        name, interface, offset, size = fields
        cells[name] = Cell(name, interface, int(offset, 0), int(size, 0))
    return cells


def dma_names(streams: int) -> list[str]:
    """The AXI DMAs of a core with `streams` input streams: dma0 .. dma<streams - 1>."""
    if not 1 <= streams <= MAX_STREAMS:
        raise ValueError(f"streams must be 1 to {MAX_STREAMS} (the PYNQ-Z1's HP ports), "
                         f"not {streams}")
    return [f"dma{i}" for i in range(streams)]


# ---- AXI DMA v7.1, simple mode (PG021, "Register Space", direct register mode) -----------------
# Each channel's registers from its base: MM2S (memory to stream) at 0x00, S2MM at 0x30.
MM2S, S2MM = 0x00, 0x30
DMACR, DMASR = 0x00, 0x04              # control, status
ADDRESS, ADDRESS_MSB = 0x18, 0x1C      # MM2S_SA / S2MM_DA and their upper 32 bits
LENGTH = 0x28                          # MM2S_LENGTH / S2MM_LENGTH: writing a non-zero value
                                       # starts the transfer; S2MM's reads back the bytes received
# DMACR bits
CR_RS = 1 << 0                         # run (1) / stop (0)
CR_RESET = 1 << 2                      # soft reset of the whole DMA (reads 1 while in progress)
CR_IOC_IRQ_EN = 1 << 12
CR_ERR_IRQ_EN = 1 << 14
# DMASR bits
SR_HALTED = 1 << 0                     # 1 after reset and once stopped (RS = 0) or after an error
SR_IDLE = 1 << 1                       # direct register mode: the last transfer has completed
                                       # (0 before the first transfer and while halted)
SR_SG_INCLUDED = 1 << 3
SR_INT_ERR = 1 << 4                    # S2MM: a packet longer than LENGTH (MM2S: never)
SR_SLV_ERR = 1 << 5                    # the memory answered SLVERR
SR_DEC_ERR = 1 << 6                    # the address decodes to no memory
SR_IOC_IRQ = 1 << 12                   # a transfer completed (write 1 to clear)
SR_ERR_IRQ = 1 << 14                   # an error halted the channel (write 1 to clear)
SR_ERRORS = SR_INT_ERR | SR_SLV_ERR | SR_DEC_ERR
LENGTH_BITS = 26                       # build_bd.tcl's c_sg_length_width: up to 64 MiB - 1
DATA_BYTES = 8                         # 64-bit memory maps and streams, no data realignment
                                       # engine: buffers must start on an 8-byte boundary

ERROR_NAMES = {SR_INT_ERR: "DMA internal error", SR_SLV_ERR: "DMA slave error",
               SR_DEC_ERR: "DMA decode error"}
