"""Cycle-level reference model of the SRAM controller (generators/sram.py): what every read returns,
which banks are enabled in each cycle, and the counters.

Semantics (the hardware must match them bit for bit):
- Address: the low log2(banks) bits pick the bank (interleaved), the rest the word in the bank.
- Ping-pong (`pingpong=1`): two bank sets. The loader writes the fill set, the read ports read the
  compute set. A swap exchanges them at the end of the cycle in which it fires; reads and writes
  accepted in that cycle still use the old sets. Without ping-pong there is one set shared by both.
- A write's `be` has one bit per `granularity` bits of data (a byte by default).
- A write accepted in cycle t is visible to reads accepted in cycle t + 1 and later; a read accepted
  in the same cycle as a write to the same word returns the old word (read-first). With `ecc=1` a
  partial write (not every lane enable set) is a read-modify-write: it reads the old word in cycle t,
  writes the merged word at the end of cycle t + 1 (visible from t + 2), and the write port accepts
  nothing in cycle t + 1. A swap does not fire while such a write is in flight.
- ECC (golden/secded.py): each word is stored as its SECDED codeword XOR the write's `inject` mask
  (a test hook for fault injection; tie it to zero in use). Reads return the decoded data with
  `corrected` / `uncorrectable` flags. A read-modify-write corrects the old word before merging; if
  the old word was uncorrectable, the merged word is written poisoned (two check bits flipped) so it
  stays flagged. Every decode that corrects or flags, the read-modify-write's included, counts.
- Bank enables: a physical bank is enabled in a cycle when it is read (by a read port or a
  read-modify-write) or written (without ECC, a write with no lane enable set does not touch the
  RAM); bit s * banks + b is bank b of set s (set 0 is the compute set after reset).
  `gated_bank_cycles` adds the number of disabled banks every cycle and wraps at 2**48; the ECC
  counters saturate at 2**32 - 1.
- Without ECC, `inject` is ignored.
- Reset clears the read pipelines, the ping-pong state and the counters, not the stored words; a
  read-modify-write whose old word was already read still writes its merged word.
"""
from dataclasses import dataclass

from . import secded


@dataclass(frozen=True)
class Write:
    addr: int
    data: int
    be: int
    inject: int = 0


@dataclass(frozen=True)
class ReadResult:
    data: int
    corrected: bool = False
    uncorrectable: bool = False


class SramModel:
    COUNTER_MAX = (1 << 32) - 1
    GATED_BITS = 48

    def __init__(self, width=64, depth=512, banks=4, read_ports=2, pingpong=1, ecc=0,
                 granularity=8):
        for name, value, ok in (("width", width, width > 0 and width % 8 == 0),
                                ("granularity", granularity, granularity > 0
                                 and granularity % 8 == 0 and width % granularity == 0),
                                ("depth", depth, depth > 0 and depth & (depth - 1) == 0),
                                ("banks", banks, banks > 0 and banks & (banks - 1) == 0),
                                ("read_ports", read_ports, read_ports > 0),
                                ("pingpong", pingpong, pingpong in (0, 1)),
                                ("ecc", ecc, ecc in (0, 1))):
            if not isinstance(value, int) or not ok:
                raise ValueError(f"SramModel: bad {name} {value!r}")
        self.width, self.depth, self.banks = width, depth, banks
        self.read_ports, self.pingpong, self.ecc = read_ports, pingpong, ecc
        self.granularity = granularity
        self.lanes = width // granularity   # bits of a write's `be`
        self.sets = 2 if pingpong else 1
        self.bank_bits = banks.bit_length() - 1
        self.words = [[0] * depth for _ in range(self.sets * banks)]
        self.pending = None  # (physical bank, word, stored word) committing at the end of this cycle
        self.reset()

    def reset(self):
        """Synchronous reset: storage survives; a read-modify-write already in flight commits (the
        memory's write port is not reset)."""
        if self.pending is not None:
            pb, word, stored = self.pending
            self.words[pb][word] = stored
            self.pending = None
        self.compute_set = 0
        self.corrected_count = 0
        self.uncorrectable_count = 0
        self.gated_bank_cycles = 0

    # --- helpers -------------------------------------------------------------------------------
    @property
    def physical_banks(self) -> int:
        return self.sets * self.banks

    def _locate(self, addr: int, for_write: bool) -> tuple[int, int]:
        bank, word = addr & (self.banks - 1), addr >> self.bank_bits
        if not 0 <= word < self.depth:
            raise ValueError(f"address {addr} is outside {self.banks * self.depth} words")
        s = (1 - self.compute_set if for_write else self.compute_set) if self.pingpong else 0
        return s * self.banks + bank, word

    def _decode(self, stored: int) -> ReadResult:
        if not self.ecc:
            return ReadResult(stored)
        data, corrected, uncorrectable = secded.decode(stored, self.width)
        if corrected:
            self.corrected_count = min(self.corrected_count + 1, self.COUNTER_MAX)
        if uncorrectable:
            self.uncorrectable_count = min(self.uncorrectable_count + 1, self.COUNTER_MAX)
        return ReadResult(data, corrected, uncorrectable)

    def _merge(self, old: int, w: Write) -> int:
        lane = (1 << self.granularity) - 1
        mask = sum(lane << self.granularity * i for i in range(self.lanes) if w.be >> i & 1)
        return (old & ~mask) | (w.data & mask)

    def partial(self, w: Write) -> bool:
        return bool(self.ecc) and w.be != (1 << self.lanes) - 1

    # --- one clock cycle -------------------------------------------------------------------------
    def swap_allowed(self, write: Write | None) -> bool:
        return self.pending is None and not (write is not None and self.partial(write))

    def write_allowed(self) -> bool:
        return self.pending is None

    def cycle(self, write: Write | None = None, reads=(), swap: bool = False):
        """Advance one cycle. `reads` holds an address (or None) per read port, for the requests
        accepted this cycle; returns their results (None where no read). Returns also the bank-enable
        mask of the cycle, as (results, bank_enable)."""
        if write is not None and not self.write_allowed():
            raise AssertionError("write accepted while a read-modify-write is committing")
        if swap and not self.swap_allowed(write):
            raise AssertionError("swap fired with a write in flight")
        enabled = 0
        results = []
        for addr in reads:  # reads see the words as they were at the start of the cycle
            if addr is None:
                results.append(None)
                continue
            pb, word = self._locate(addr, for_write=False)
            enabled |= 1 << pb
            results.append(self._decode(self.words[pb][word]))
        commits = []
        if self.pending is not None:
            pb, word, stored = self.pending
            enabled |= 1 << pb
            commits.append((pb, word, stored))
            self.pending = None
        if write is not None:
            pb, word = self._locate(write.addr, for_write=True)
            if self.ecc or write.be:  # without ECC, no lane enabled means no RAM access
                enabled |= 1 << pb
            if self.partial(write):
                old = self._decode(self.words[pb][word])
                stored = secded.encode(self._merge(old.data, write), self.width)
                if old.uncorrectable:
                    stored ^= secded.poison_mask(self.width)
                self.pending = (pb, word, stored ^ write.inject)
            else:
                if self.ecc:
                    stored = secded.encode(write.data, self.width) ^ write.inject
                else:
                    stored = self._merge(self.words[pb][word], write)
                commits.append((pb, word, stored))
        for pb, word, stored in commits:
            self.words[pb][word] = stored
        if swap:
            self.compute_set ^= 1
        gated = self.physical_banks - enabled.bit_count()
        self.gated_bank_cycles = (self.gated_bank_cycles + gated) % (1 << self.GATED_BITS)
        return results, enabled

