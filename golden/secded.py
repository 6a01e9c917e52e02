"""SECDED (extended Hamming) code over one memory word: the bits the SRAM controller stores.

For k data bits, r check bits with 2**r >= k + r + 1, plus one overall parity bit: n = k + r + 1
(k = 64 gives the classic 72-bit word, which fits a RAMB36 as 512 x 72).

Hamming positions 1 .. k + r: the powers of two are the check bits, the data bits fill the other
positions in increasing order. Check bit j is the XOR of the data bits whose position has bit j set.
The overall parity bit is the XOR of all data and check bits, so every codeword has even parity.

Stored layout (an unsigned integer of n bits): bits [0, k) data, bits [k, k + r) check bits
c0 .. c(r-1), bit k + r overall parity. The zero word is a valid codeword (memory powers up clean).

Decoding, with syndrome s (stored check bits XOR check bits recomputed from stored data) and q (the
parity of all n stored bits):
  s == 0, q == 0: no error.
  q == 1: one bit flipped. s == 0: it was the parity bit; s a power of two: a check bit; s the
          position of a data bit: that data bit is flipped back. All three are `corrected`.
          Any other s points outside the word: `uncorrectable`.
  s != 0, q == 0: two bits flipped: `uncorrectable`.
When uncorrectable, the data returned is the stored data bits unchanged.
"""


def check_bits(k: int) -> int:
    """Number of Hamming check bits r for k data bits (the overall parity bit not included)."""
    r = 1
    while (1 << r) < k + r + 1:
        r += 1
    return r


def code_width(k: int) -> int:
    """Stored bits per word, n = k + r + 1."""
    return k + check_bits(k) + 1


def data_positions(k: int) -> list[int]:
    """Hamming position (1-based) of each data bit i."""
    positions, p = [], 1
    while len(positions) < k:
        if p & (p - 1):  # not a power of two
            positions.append(p)
        p += 1
    return positions


def check_masks(k: int) -> list[int]:
    """For each check bit j, the mask of the data bits it covers."""
    positions = data_positions(k)
    return [sum(1 << i for i, p in enumerate(positions) if p >> j & 1) for j in range(check_bits(k))]


def _parity(x: int) -> int:
    return x.bit_count() & 1


def encode(data: int, k: int) -> int:
    """Codeword of `data` (k bits)."""
    if not 0 <= data < (1 << k):
        raise ValueError(f"data must fit in {k} bits, not {data:#x}")
    r = check_bits(k)
    check = sum(_parity(data & mask) << j for j, mask in enumerate(check_masks(k)))
    word = data | check << k
    return word | _parity(word) << (k + r)


def decode(word: int, k: int) -> tuple[int, bool, bool]:
    """(data, corrected, uncorrectable) of a stored n-bit word."""
    r = check_bits(k)
    data = word & ((1 << k) - 1)
    stored_check = word >> k & ((1 << r) - 1)
    recomputed = sum(_parity(data & mask) << j for j, mask in enumerate(check_masks(k)))
    s = stored_check ^ recomputed
    q = _parity(word)
    if s == 0 and q == 0:
        return data, False, False
    if q == 0:
        return data, False, True
    if s == 0 or s & (s - 1) == 0:
        return data, True, False
    positions = data_positions(k)
    if s in positions:
        return data ^ (1 << positions.index(s)), True, False
    return data, False, True


# Written back when a read-modify-write merges into a word that was uncorrectable: two check bits
# flipped, so the word stays flagged instead of being silently "repaired" with garbage data.
def poison_mask(k: int) -> int:
    return 0b11 << k
