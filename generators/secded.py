"""SECDED (extended Hamming) encoder and decoder, combinational, for the SRAM controller's `ecc` option.

The code and the stored layout are defined in golden/secded.py (data in bits [0, k), check bits
c0..c(r-1) above them, overall parity on top). The masks are derived again here, independently of
the golden model, so that the tests compare two derivations instead of one with itself.
"""
from amaranth import Module, Signal, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import ParamError


def hamming_layout(k: int) -> tuple[int, list[int]]:
    """(r, positions): r check bits, and the 1-based Hamming position of each of the k data bits."""
    r = 0
    while (1 << r) < k + r + 1:
        r += 1
    positions = [p for p in range(1, k + r + 1) if p & (p - 1)]
    return r, positions


def _check_width(k):
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ParamError(f"width must be a positive integer, not {k!r}")


class SecdedEncoder(wiring.Component):
    """data (k bits) -> codeword (k + r + 1 bits)."""

    def __init__(self, width: int):
        _check_width(width)
        self.k = width
        self.r, self.positions = hamming_layout(width)
        super().__init__({"data": In(width), "code": Out(width + self.r + 1)})

    def elaborate(self, platform):
        m = Module()
        checks = [
            _xor([self.data[i] for i, p in enumerate(self.positions) if p >> j & 1])
            for j in range(self.r)
        ]
        word = Cat(self.data, *checks)
        m.d.comb += self.code.eq(Cat(word, word.xor()))
        return m


class SecdedDecoder(wiring.Component):
    """codeword -> data (corrected when one bit flipped) + corrected / uncorrectable flags."""

    def __init__(self, width: int):
        _check_width(width)
        self.k = width
        self.r, self.positions = hamming_layout(width)
        super().__init__({
            "code": In(width + self.r + 1),
            "data": Out(width),
            "corrected": Out(1),
            "uncorrectable": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        k, r = self.k, self.r
        raw = self.code[:k]
        syndrome = Signal(r)
        m.d.comb += syndrome.eq(Cat(
            _xor([raw[i] for i, p in enumerate(self.positions) if p >> j & 1] + [self.code[k + j]])
            for j in range(r)
        ))
        odd = Signal()  # overall parity of the stored word: 1 means an odd number of flips
        m.d.comb += odd.eq(self.code.xor())
        # Positions 1 .. k + r are all bits of the word; a larger syndrome names no bit of this
        # (shortened) code, so an odd number of flips with such a syndrome is not correctable.
        in_word = Signal()
        m.d.comb += in_word.eq(syndrome <= k + r)
        m.d.comb += [
            self.corrected.eq(odd & in_word),
            self.uncorrectable.eq((~odd & (syndrome != 0)) | (odd & ~in_word)),
            self.data.eq(raw ^ Cat((odd & (syndrome == p)) for p in self.positions)),
        ]
        return m


def _xor(bits):
    bits = list(bits)
    return Cat(*bits).xor() if bits else 0
