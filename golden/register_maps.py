"""The AXI4-Lite register maps of the llmaccel core (`top`) and of the `bfp` block alone, as plain
data: the hardware (generators/top.py, generators/bfp.py through generators/axi_lite.py), the C
header (`llmaccel emit --header`), the README's tables and the host driver (host/driver.py) all come
from these, so they cannot drift apart. No Amaranth here: the driver runs on the board without it.

Register kinds (their hardware behaviour is in generators/axi_lite.py):
  rw     the host writes and reads back; reset returns it to `init`
  ro     the hardware drives it; host writes are ignored with SLVERR
  pulse  a write strobes the hardware for one cycle; reads return 0
"""
from dataclasses import dataclass

from .bfp_layout import FORMATS   # the FORMAT register's codes (golden/bfp_layout.py's table)


@dataclass(frozen=True)
class Register:
    """One 32-bit word of the map. `width` bits are used (LSB first); the rest read as 0."""
    name: str
    offset: int
    access: str
    width: int = 32
    doc: str = ""
    init: int = 0


CORE_ID_VALUE = 0x4C4D5401   # "LMT" + interface version 1: a driver checks it before anything else
ENGINES = {"bfp": 0, "ternary": 1}
ERROR_BITS = {"m": 0, "k": 1, "n": 2, "format": 3, "engine": 4}

CORE_REGISTERS = (
    Register("ctrl", 0x00, "pulse", 1, "write 1: start a matmul on ENGINE with M, K, N (and "
             "FORMAT, SUM_IN for BFP); ignored while busy"),
    Register("status", 0x04, "ro", 3, "bit 0 busy; bit 1 done (the last matmul delivered its "
             "last result word; cleared by a start); bit 2 error (the last start was refused)"),
    Register("error", 0x08, "ro", 5, "why the last start was refused: bit 0 M is 0 or above the "
             "engine's M_MAX; bit 1 K is bad (BFP: not a positive multiple of 32, of 256 for the "
             "K-quants, or above K_MAX; "
             "ternary: 0 or above TERN_K_MAX); bit 2 N is bad (BFP: 0 or above 65535; ternary: 0 "
             "or above TERN_N_MAX); bit 3 FORMAT is not one of the codes of FORMAT, or SUM_IN is 1 with "
             "Q3_K..Q6_K, whose K cannot be split (BFP); bit 4 ENGINE is not 0 or 1"),
    Register("format", 0x0C, "rw", 32, "BFP: the weight format (activations in the format it "
             "pairs with): " + ", ".join(f"{c} {f.upper()}" for f, c in FORMATS.items()) +
             " (x Q8_0: Q4_0, Q5_0; x Q8_1: Q4_1, Q5_1; x Q8_K: Q2_K..Q6_K)"),
    Register("m", 0x10, "rw", 32, "M: rows of X"),
    Register("k", 0x14, "rw", 32, "K: the dot-product length (BFP: a multiple of 32; of 256 for "
             "the K-quants)"),
    Register("n", 0x18, "rw", 32, "N: rows of W (outputs per row of X)"),
    Register("cycles", 0x1C, "ro", 32, "clock cycles of the last matmul from its start to its "
             "last result word accepted (counts while busy; wraps)"),
    Register("id", 0x20, "ro", 32, f"0x{CORE_ID_VALUE:08X}: llmaccel core (BFP + ternary), "
             "interface 1"),
    Register("params", 0x24, "ro", 32, "BFP: bits 7..0 mac_lanes, 15..8 out_lanes, 23..16 "
             "M_MAX"),
    Register("k_max", 0x28, "ro", 32, "BFP: K_MAX, the largest K"),
    Register("sum_in", 0x2C, "rw", 1, "BFP: 1: each tile of OUT_LANES rows of W is preceded in "
             "the input stream by its M * OUT_LANES starting sums (float32, one per word), so a "
             "K above K_MAX runs in parts, each continuing the last one's Y bit for bit (every format "
             "but Q3_K..Q6_K); 0: sums start at +0"),
    Register("engine", 0x30, "rw", 32, "0 BFP (llama.cpp / MX blocks), 1 ternary (int8 x "
             "{-1, 0, +1})"),
    Register("tern_geometry", 0x34, "ro", 32, "ternary: bits 3..0 g (trits per table), 7..4 "
             "ROWS (weight rows per beat, int32 results per result beat), 16..8 LANES (groups "
             "per beat; a pass covers LANES * g values of K)"),
    Register("tern_m_max", 0x38, "ro", 32, "ternary: M_MAX, the largest M"),
    Register("tern_k_max", 0x3C, "ro", 32, "ternary: K_MAX, the largest K"),
    Register("tern_n_max", 0x40, "ro", 32, "ternary: N_MAX, the largest N"),
    Register("streams", 0x44, "ro", 32, "input streams (AXI4-Stream s_axis0 ..), taken in lock "
             "step. BFP: X's rows on stream 0 alone, then weight row n on stream n % STREAMS "
             "(with its lanes' starting sums); ternary: the activation words, then the weight "
             "words, round robin, each part padded to whole steps")
)

BFP_ID_VALUE = 0x4C4D4201   # "LMB" + interface version 1: a driver checks it before anything else

# The `bfp` block alone: the core's map without the ternary engine's registers, under its own ID.
BFP_REGISTERS = tuple(r for r in CORE_REGISTERS if r.name in (
    "ctrl", "status", "error", "format", "m", "k", "n", "cycles", "params", "k_max", "sum_in")
) + (Register("id", 0x20, "ro", 32, f"0x{BFP_ID_VALUE:08X}: llmaccel BFP accelerator, interface 1"),)
