"""Unit tests of golden/sram.py (cycle-level SRAM controller model), written against its docstring.

The random-traffic tests compare the model with small independent references written here (a dict
per bank set, with an explicit per-cycle order: reads see the start-of-cycle state, then the commits,
then the swap).

Assumption (the docstring does not spell it out): bit i of the bank-enable mask is physical bank
i = set * banks + bank, and set 0 is the compute set after reset. Tests that only need the structure
(which banks, how many) are written without it; the exact-mask checks use `phys()` below.
"""
import random

import pytest

from llmaccel.golden import secded
from llmaccel.golden.sram import ReadResult, SramModel, Write

MAX32 = (1 << 32) - 1


def full_be(width: int) -> int:
    return (1 << (width // 8)) - 1


def merge_bytes(old: int, new: int, be: int, width: int) -> int:
    """Byte-wise merge, written independently of the model (via bytes objects)."""
    nb = width // 8
    o, n = old.to_bytes(nb, "little"), new.to_bytes(nb, "little")
    return int.from_bytes(bytes(n[i] if be >> i & 1 else o[i] for i in range(nb)), "little")


def phys(set_: int, addr: int, banks: int) -> int:
    return set_ * banks + addr % banks


def popcount(x: int) -> int:
    return bin(x).count("1")


def clean(data: int) -> ReadResult:
    return ReadResult(data, False, False)


# --- address interleaving ---------------------------------------------------------------------------
@pytest.mark.parametrize("banks", [1, 2, 4, 8])
def test_address_interleaving(banks):
    depth = 8
    m = SramModel(width=32, depth=depth, banks=banks, read_ports=1, pingpong=0, ecc=0)
    for addr in range(banks * depth):
        _, en = m.cycle(write=Write(addr, 0x1000 + addr, 0xF))
        assert en == 1 << (addr % banks), "bank = low bits of the address"
    for addr in range(banks * depth):  # every address is a distinct word: no aliasing
        (r,), en = m.cycle(reads=[addr])
        assert en == 1 << (addr % banks)
        assert r == clean(0x1000 + addr)


def test_interleaving_pingpong_structure():
    banks = 4
    m = SramModel(width=32, depth=4, banks=banks, read_ports=1, pingpong=1, ecc=0)
    read_bits = [m.cycle(reads=[a])[1] for a in range(2 * banks)]
    write_bits = [m.cycle(write=Write(a, 0, 0xF))[1] for a in range(2 * banks)]
    for a in range(2 * banks):
        assert popcount(read_bits[a]) == 1 and popcount(write_bits[a]) == 1
        assert read_bits[a] == read_bits[a % banks] and write_bits[a] == write_bits[a % banks]
    assert len(set(read_bits[:banks])) == banks and len(set(write_bits[:banks])) == banks
    assert not (set(read_bits) & set(write_bits)), "fill and compute sets are different banks"
    m.cycle(swap=True)
    assert [m.cycle(reads=[a])[1] for a in range(banks)] == write_bits[:banks]
    assert [m.cycle(write=Write(a, 0, 0xF))[1] for a in range(banks)] == read_bits[:banks]
    # the assumed layout
    assert read_bits[:banks] == [1 << phys(0, a, banks) for a in range(banks)]
    assert write_bits[:banks] == [1 << phys(1, a, banks) for a in range(banks)]


# --- read-first, byte enables ----------------------------------------------------------------------
@pytest.mark.parametrize("ecc", [0, 1])
def test_read_first(ecc):
    m = SramModel(width=64, depth=8, banks=4, read_ports=2, pingpong=0, ecc=ecc)
    a = 6
    m.cycle(write=Write(a, 0x1111, 0xFF))
    res, en = m.cycle(write=Write(a, 0x2222, 0xFF), reads=[a, a])
    assert res == [clean(0x1111), clean(0x1111)], "same-cycle read returns the old word"
    assert en == 1 << (a % 4)
    res, _ = m.cycle(reads=[a, None])
    assert res == [clean(0x2222), None], "next-cycle read returns the new word"
    assert m.cycle()[0] == []


def test_write_visible_next_cycle_first_write():
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=0, ecc=0)
    assert m.cycle(write=Write(3, 0xABCD, 0xFF), reads=[3])[0] == [clean(0)]
    assert m.cycle(reads=[3])[0] == [clean(0xABCD)]


def test_byte_enables_merge():
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=0, ecc=0)
    a = 9
    m.cycle(write=Write(a, 0x1122334455667788, 0xFF))
    # bytes 0, 2, 5, 7 from the new data (worked out by hand)
    res, _ = m.cycle(write=Write(a, 0xAABBCCDDEEFF0011, 0b10100101), reads=[a])
    assert res == [clean(0x1122334455667788)]
    assert m.cycle(reads=[a])[0] == [clean(0xAA22CC4455FF7711)]
    _, en = m.cycle(write=Write(a, 0xFFFFFFFFFFFFFFFF, 0))  # no byte enabled: nothing changes
    assert en == 0  # ... and the bank's RAM is not even enabled
    assert m.cycle(reads=[a])[0] == [clean(0xAA22CC4455FF7711)]
    m.cycle(write=Write(a, 0x00000000000000EE, 0b00000001))
    assert m.cycle(reads=[a])[0] == [clean(0xAA22CC4455FF77EE)]


def test_byte_enables_random():
    seed = 11
    print(f"seed={seed}")
    rng = random.Random(seed)
    m = SramModel(width=32, depth=4, banks=2, read_ports=1, pingpong=0, ecc=0)
    cur = 0
    for _ in range(300):
        d, be = rng.getrandbits(32), rng.getrandbits(4)
        m.cycle(write=Write(5, d, be))
        cur = merge_bytes(cur, d, be, 32)
        assert m.cycle(reads=[5])[0] == [clean(cur)]


def test_write_lanes_wider_than_a_byte():
    """granularity=64 in a 256-bit word: `be` has 4 bits, one per 64-bit lane (worked by hand)."""
    m = SramModel(width=256, depth=4, banks=1, read_ports=1, pingpong=0, ecc=0, granularity=64)
    assert m.lanes == 4
    lanes = [0x1111111111111111, 0x2222222222222222, 0x3333333333333333, 0x4444444444444444]
    m.cycle(write=Write(1, sum(v << 64 * i for i, v in enumerate(lanes)), 0b1111))
    m.cycle(write=Write(1, (0xAAAAAAAAAAAAAAAA << 64 * 2) | 0xBB, 0b0100))  # lane 2 only
    expect = lanes[0] | lanes[1] << 64 | 0xAAAAAAAAAAAAAAAA << 128 | lanes[3] << 192
    assert m.cycle(reads=[1])[0] == [clean(expect)]
    # with ECC, anything but all four lanes is a read-modify-write
    e = SramModel(width=64, depth=4, banks=1, read_ports=1, pingpong=0, ecc=1, granularity=16)
    assert e.partial(Write(0, 0, 0b0111)) and not e.partial(Write(0, 0, 0b1111))


# --- ping-pong --------------------------------------------------------------------------------------
def test_pingpong_sets_and_swap():
    banks = 4
    m = SramModel(width=64, depth=8, banks=banks, read_ports=2, pingpong=1, ecc=0)
    a, b = 5, 6
    m.cycle(write=Write(a, 0xA1, 0xFF))           # goes to the fill set
    res, _ = m.cycle(reads=[a, None])
    assert res == [clean(0), None], "reads use the compute set, which was not written"
    # swap cycle: a read and a write accepted in it still use the old sets
    res, en = m.cycle(write=Write(b, 0xB1, 0xFF), reads=[a, b], swap=True)
    assert res == [clean(0), clean(0)]
    assert en == 1 << phys(0, a, banks) | 1 << phys(0, b, banks) | 1 << phys(1, b, banks)
    # after the swap the former fill set is read: both writes (before and in the swap cycle) are there
    res, en = m.cycle(reads=[a, b])
    assert res == [clean(0xA1), clean(0xB1)]
    assert en == 1 << phys(1, a, banks) | 1 << phys(1, b, banks)
    # writes now go to the other set (the former compute set) and are invisible to reads
    m.cycle(write=Write(a, 0xA2, 0xFF))
    assert m.cycle(reads=[a, b])[0] == [clean(0xA1), clean(0xB1)]
    m.cycle(swap=True)
    assert m.cycle(reads=[a, b])[0] == [clean(0xA2), clean(0)]
    m.cycle(swap=True)
    assert m.cycle(reads=[a, b])[0] == [clean(0xA1), clean(0xB1)]


def test_pingpong_same_address_read_and_write_independent():
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=1, ecc=0)
    m.cycle(write=Write(1, 0x77, 0xFF), swap=True)
    m.cycle(write=Write(1, 0x88, 0xFF))          # fill set now the other one
    for _ in range(3):
        assert m.cycle(reads=[1])[0] == [clean(0x77)]
    m.cycle(swap=True)
    assert m.cycle(reads=[1])[0] == [clean(0x88)]


def test_no_pingpong_single_set():
    banks = 4
    m = SramModel(width=64, depth=8, banks=banks, read_ports=1, pingpong=0, ecc=0)
    assert m.physical_banks == banks
    m.cycle(write=Write(2, 0x55, 0xFF))
    assert m.cycle(reads=[2])[0] == [clean(0x55)], "one set shared by reads and writes"
    m.cycle(swap=True)                             # no second set: nothing moves
    assert m.cycle(reads=[2])[0] == [clean(0x55)]
    _, en = m.cycle(write=Write(2, 0x66, 0xFF), reads=[2])
    assert en == 1 << 2, "read and write of the same address use the same physical bank"
    before = m.gated_bank_cycles
    _, en = m.cycle()
    assert en == 0 and m.gated_bank_cycles - before == banks


# --- ECC off ----------------------------------------------------------------------------------------
def test_ecc_off_inject_ignored():
    # The docstring puts `inject` under "ECC": the word is stored as its SECDED codeword XOR inject.
    # Without ECC there is no codeword, so the mask has nothing to act on (and no flags exist).
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=0, ecc=0)
    m.cycle(write=Write(3, 0x0123456789ABCDEF, 0xFF, inject=0b11))
    assert m.cycle(reads=[3])[0] == [clean(0x0123456789ABCDEF)]
    m.cycle(write=Write(3, 0xFF, 0x01, inject=1 << 5))
    assert m.cycle(reads=[3])[0] == [clean(0x01234567_89ABCDFF)]
    assert m.corrected_count == 0 and m.uncorrectable_count == 0


def test_ecc_off_partial_write_is_single_cycle():
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=1, ecc=0)
    w = Write(3, 0xAB, 0x01)
    assert m.swap_allowed(w), "no read-modify-write without ECC"
    m.cycle(write=w, swap=True)
    assert m.write_allowed()
    assert m.cycle(reads=[3])[0] == [clean(0xAB)]


# --- ECC on: full writes ----------------------------------------------------------------------------
@pytest.mark.parametrize("width", [32, 64])
def test_ecc_single_bit_inject_corrected(width):
    seed = 100 + width
    print(f"seed={seed}")
    rng = random.Random(seed)
    n = secded.code_width(width)
    m = SramModel(width=width, depth=8, banks=4, read_ports=2, pingpong=0, ecc=1)
    expected = 0
    for bit in range(n):  # data, check and parity bits
        d = rng.getrandbits(width)
        a = rng.randrange(32)
        m.cycle(write=Write(a, d, full_be(width), inject=1 << bit))
        res, _ = m.cycle(reads=[a, None])
        assert res == [ReadResult(d, True, False), None], bit
        expected += 1
        assert m.corrected_count == expected and m.uncorrectable_count == 0
    # reads do not scrub: reading the same word on both ports counts twice
    res, _ = m.cycle(reads=[a, a])
    assert res == [ReadResult(d, True, False)] * 2
    assert m.corrected_count == expected + 2


def test_ecc_clean_write_no_flags():
    m = SramModel(width=64, depth=16, banks=4, read_ports=1, pingpong=0, ecc=1)
    for a in range(32):
        m.cycle(write=Write(a, a * 0x0101010101010101, 0xFF))
    for a in range(32):
        assert m.cycle(reads=[a])[0] == [clean(a * 0x0101010101010101)]
    for a in range(32, 64):  # untouched memory decodes clean
        assert m.cycle(reads=[a])[0] == [clean(0)]
    assert m.corrected_count == 0 and m.uncorrectable_count == 0


@pytest.mark.parametrize("width", [32, 64])
def test_ecc_double_bit_inject_uncorrectable(width):
    seed = 200 + width
    print(f"seed={seed}")
    rng = random.Random(seed)
    n = secded.code_width(width)
    m = SramModel(width=width, depth=8, banks=4, read_ports=2, pingpong=0, ecc=1)
    pairs = [(0, 1), (0, width - 1), (0, width), (width, width + 1), (width, n - 1), (n - 2, n - 1)]
    pairs += [tuple(rng.sample(range(n), 2)) for _ in range(30)]
    for i, (p, q) in enumerate(pairs, 1):
        d = rng.getrandbits(width)
        inj = 1 << p | 1 << q
        m.cycle(write=Write(7, d, full_be(width), inject=inj))
        res, _ = m.cycle(reads=[7, None])
        # uncorrectable: the stored data bits come back unchanged
        assert res == [ReadResult(d ^ (inj & ((1 << width) - 1)), False, True), None], (p, q)
        assert m.uncorrectable_count == i and m.corrected_count == 0


# --- ECC on: partial writes (read-modify-write) ------------------------------------------------------
def test_rmw_timing_and_handshakes():
    banks = 4
    m = SramModel(width=64, depth=8, banks=banks, read_ports=2, pingpong=0, ecc=1)
    a, other = 5, 2
    old, new, be = 0x1122334455667788, 0xAABBCCDDEEFF0011, 0b00001111
    merged = 0x11223344EEFF0011  # bytes 0..3 new, 4..7 old
    assert merged == merge_bytes(old, new, be, 64)
    m.cycle(write=Write(a, old, 0xFF))
    assert m.write_allowed()
    assert m.swap_allowed(None) and m.swap_allowed(Write(a, 0, 0xFF))
    assert not m.swap_allowed(Write(a, 0, be)), "no swap in the cycle of a partial write"
    with pytest.raises(AssertionError):
        m.cycle(write=Write(a, new, be), swap=True)
    # cycle t: the read-modify-write reads the old word
    res, en = m.cycle(write=Write(a, new, be), reads=[a, None])
    assert res == [clean(old), None]
    assert en == 1 << phys(0, a, banks)
    assert not m.write_allowed(), "the write port accepts nothing in cycle t + 1"
    assert not m.swap_allowed(None) and not m.swap_allowed(Write(other, 0, 0xFF))
    with pytest.raises(AssertionError):
        m.cycle(write=Write(other, 1, 0xFF))
    with pytest.raises(AssertionError):
        m.cycle(swap=True)
    # cycle t + 1: the merged word is written at its end, reads still see the old word
    res, en = m.cycle(reads=[a, other])
    assert res == [clean(old), clean(0)]
    assert en == 1 << phys(0, a, banks) | 1 << phys(0, other, banks), "the commit enables its bank"
    assert m.write_allowed() and m.swap_allowed(None)
    # cycle t + 2
    res, en = m.cycle(reads=[a, None])
    assert res == [clean(merged), None]
    assert en == 1 << phys(0, a, banks)
    assert m.corrected_count == 0 and m.uncorrectable_count == 0


def test_rmw_full_be_is_not_rmw():
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=1, ecc=1)
    w = Write(1, 0x42, 0xFF)
    assert m.swap_allowed(w)
    m.cycle(write=w, swap=True)
    assert m.write_allowed() and m.swap_allowed(None)
    assert m.cycle(reads=[1])[0] == [clean(0x42)]


def test_rmw_pingpong_goes_to_fill_set_and_blocks_swap():
    banks = 4
    m = SramModel(width=64, depth=8, banks=banks, read_ports=1, pingpong=1, ecc=1)
    a = 3
    m.cycle(write=Write(a, 0x1111, 0xFF))          # fill set (1)
    _, en = m.cycle(write=Write(a, 0x22 << 8, 0b10), reads=[a])
    assert en == 1 << phys(0, a, banks) | 1 << phys(1, a, banks)
    assert not m.swap_allowed(None)
    _, en = m.cycle()
    assert en == 1 << phys(1, a, banks), "the commit writes the fill-set bank"
    assert m.cycle(reads=[a])[0] == [clean(0)], "compute set untouched"
    m.cycle(swap=True)
    assert m.cycle(reads=[a])[0] == [clean(0x2211)]


def test_back_to_back_rmw():
    m = SramModel(width=32, depth=4, banks=2, read_ports=1, pingpong=0, ecc=1)
    m.cycle(write=Write(0, 0x44332211, 0xF))
    m.cycle(write=Write(0, 0xAA, 0b0001))
    m.cycle()
    m.cycle(write=Write(0, 0xBB00, 0b0010))  # reads the first RMW's result (visible from t + 2)
    m.cycle()
    assert m.cycle(reads=[0])[0] == [clean(0x4433BBAA)]


def test_rmw_corrects_single_bit_error():
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=0, ecc=1)
    a = 4
    old, new, be = 0x0123456789ABCDEF, 0xFEDCBA9876543210, 0xF0
    m.cycle(write=Write(a, old, 0xFF, inject=1 << 3))   # flip data bit 3: in a byte that is kept
    m.cycle(write=Write(a, new, be))
    assert m.corrected_count == 1, "the read-modify-write's decode counts"
    m.cycle()
    res, _ = m.cycle(reads=[a])
    assert res == [clean(merge_bytes(old, new, be, 64))], "written back clean and corrected"
    m.cycle(reads=[a])
    assert m.corrected_count == 1 and m.uncorrectable_count == 0


@pytest.mark.parametrize("bit", [0, 10, 63, 64, 70, 71])
def test_rmw_corrects_single_bit_error_any_position(bit):
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=0, ecc=1)
    old, new, be = 0x0123456789ABCDEF, 0xFEDCBA9876543210, 0b01010101
    m.cycle(write=Write(0, old, 0xFF, inject=1 << bit))
    m.cycle(write=Write(0, new, be))
    m.cycle()
    assert m.cycle(reads=[0])[0] == [clean(merge_bytes(old, new, be, 64))]
    assert m.corrected_count == 1


def test_rmw_inject_applies_to_merged_word():
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=0, ecc=1)
    m.cycle(write=Write(0, 0x1234, 0xFF))
    m.cycle(write=Write(0, 0xAB << 56, 0x80, inject=1 << 20))
    m.cycle()
    assert m.cycle(reads=[0])[0] == [ReadResult(0xAB << 56 | 0x1234, True, False)]
    assert m.corrected_count == 1


def test_rmw_over_uncorrectable_writes_poison():
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=0, ecc=1)
    a = 4
    old, new, be = 0x0123456789ABCDEF, 0xFEDCBA9876543210, 0xF0
    inj = 1 << 3 | 1 << 40                               # bit 3 kept, bit 40 overwritten
    m.cycle(write=Write(a, old, 0xFF, inject=inj))
    m.cycle(write=Write(a, new, be))
    assert m.uncorrectable_count == 1 and m.corrected_count == 0
    m.cycle()
    (r,), _ = m.cycle(reads=[a])
    assert r.uncorrectable and not r.corrected, "poisoned: stays flagged"
    # "corrects the old word before merging": an uncorrectable old word decodes to its stored data bits
    assert r.data == merge_bytes(old ^ 1 << 3, new, be, 64)
    assert m.uncorrectable_count == 2
    # another partial write over the poisoned word keeps it poisoned
    m.cycle(write=Write(a, 0x99, 0x01))
    m.cycle()
    (r,), _ = m.cycle(reads=[a])
    assert r.uncorrectable and r.data == merge_bytes(merge_bytes(old ^ 1 << 3, new, be, 64), 0x99, 1, 64)
    assert m.uncorrectable_count == 4
    # a full write repairs it
    m.cycle(write=Write(a, 5, 0xFF))
    assert m.cycle(reads=[a])[0] == [clean(5)]
    assert m.uncorrectable_count == 4


# --- bank enables and gated_bank_cycles ---------------------------------------------------------------
def test_bank_enable_and_gated_cycles_pingpong():
    banks = 4
    m = SramModel(width=64, depth=8, banks=banks, read_ports=2, pingpong=1, ecc=0)
    assert m.physical_banks == 8
    steps = [
        (dict(), 0),
        (dict(reads=[0, 1]), 2),
        (dict(reads=[0, 4]), 1),                                # same bank twice
        (dict(reads=[2, None], write=Write(2, 1, 0xFF)), 2),    # different sets
        (dict(reads=[None, None], write=Write(7, 1, 0x1)), 1),
        (dict(reads=[0, 1], write=Write(3, 1, 0xFF), swap=True), 3),
        (dict(reads=[3, 3], write=Write(7, 1, 0xFF)), 2),
    ]
    total = 0
    for kwargs, n_enabled in steps:
        _, en = m.cycle(**kwargs)
        assert popcount(en) == n_enabled, kwargs
        assert en < 1 << m.physical_banks
        total += 8 - n_enabled
        assert m.gated_bank_cycles == total
    for _ in range(10):
        m.cycle()
    assert m.gated_bank_cycles == total + 80


def test_bank_enable_rmw_two_cycles():
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=0, ecc=1)
    m.cycle(write=Write(1, 0, 0x01))
    assert m.gated_bank_cycles == 3
    m.cycle(reads=[2])
    assert m.gated_bank_cycles == 3 + 2
    m.cycle()
    assert m.gated_bank_cycles == 3 + 2 + 4


# --- counters -----------------------------------------------------------------------------------------
def test_corrected_counter_saturates():
    m = SramModel(width=64, depth=8, banks=4, read_ports=2, pingpong=0, ecc=1)
    m.cycle(write=Write(0, 9, 0xFF, inject=1))
    m.corrected_count = MAX32 - 1
    m.cycle(reads=[0, 0])
    assert m.corrected_count == MAX32
    m.cycle(reads=[0, None])
    assert m.corrected_count == MAX32
    m.cycle(write=Write(0, 0, 0x1))  # the read-modify-write's count saturates too
    assert m.corrected_count == MAX32


def test_uncorrectable_counter_saturates():
    m = SramModel(width=64, depth=8, banks=4, read_ports=2, pingpong=0, ecc=1)
    m.cycle(write=Write(0, 9, 0xFF, inject=0b11))
    m.uncorrectable_count = MAX32 - 1
    m.cycle(reads=[0, 0])
    assert m.uncorrectable_count == MAX32
    m.cycle(reads=[0, 0])
    assert m.uncorrectable_count == MAX32
    m.cycle(write=Write(0, 0, 0x1))
    assert m.uncorrectable_count == MAX32
    assert m.corrected_count == 0


# --- reset --------------------------------------------------------------------------------------------
def test_reset():
    m = SramModel(width=64, depth=8, banks=4, read_ports=1, pingpong=1, ecc=1)
    a, x, y = 6, 0xDEADBEEF12345678, 0x00000000CAFEF00D
    m.cycle(write=Write(a, x, 0xFF, inject=1))          # set 1, single-bit error
    m.cycle(swap=True)                                  # compute set = 1
    assert m.cycle(reads=[a])[0] == [ReadResult(x, True, False)]
    m.cycle(write=Write(9, 0, 0xFF, inject=0b101))      # set 0
    m.cycle(swap=True)
    m.cycle(reads=[9])                                  # compute set 0: uncorrectable
    m.cycle(swap=True)                                  # compute set 1
    assert m.corrected_count == 1 and m.uncorrectable_count == 1 and m.gated_bank_cycles > 0
    m.cycle(write=Write(a, y, 0x0F))                    # RMW into set 0, in flight
    assert not m.write_allowed()
    m.reset()
    assert m.compute_set == 0
    assert m.corrected_count == 0 and m.uncorrectable_count == 0 and m.gated_bank_cycles == 0
    assert m.write_allowed() and m.swap_allowed(None), "nothing left in flight"
    # the in-flight read-modify-write was committed; compute set is 0 again
    res, en = m.cycle(reads=[a])
    assert res == [clean(y & 0xFFFFFFFF)]
    assert popcount(en) == 1 and m.gated_bank_cycles == 7, "no leftover commit after reset"
    # stored words survive: set 1 still holds x with its injected error
    m.cycle(swap=True)
    assert m.cycle(reads=[a])[0] == [ReadResult(x, True, False)]
    assert m.corrected_count == 1


# --- addresses ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("pingpong", [0, 1])
def test_out_of_range_address(pingpong):
    m = SramModel(width=64, depth=8, banks=4, read_ports=2, pingpong=pingpong, ecc=0)
    m.cycle(write=Write(31, 1, 0xFF), reads=[31, 0])  # last address is fine
    for bad in (32, 33, 1000, -1):
        with pytest.raises(ValueError):
            m.cycle(reads=[bad])
        with pytest.raises(ValueError):
            m.cycle(reads=[0, bad])
        with pytest.raises(ValueError):
            m.cycle(write=Write(bad, 0, 0xFF))


# --- random traffic against independent references ----------------------------------------------------
class RefSram:
    """Independent reference: a dict per bank set, explicit per-cycle order."""

    def __init__(self, width, depth, banks, pingpong, ecc):
        self.width, self.depth, self.banks, self.pingpong, self.ecc = width, depth, banks, pingpong, ecc
        self.n = secded.code_width(width)
        self.mem = {}        # (set, addr) -> (data a read returns, kind) ; kind in clean/single/double
        self.compute = 0
        self.pending = None  # (set, addr, entry) written at the end of the next cycle
        self.corrected = self.uncorrectable = self.gated = 0

    def fill(self):
        return 1 - self.compute if self.pingpong else 0

    def comp(self):
        return self.compute if self.pingpong else 0

    def is_rmw(self, w):
        return bool(self.ecc) and w.be != full_be(self.width)

    def _count(self, kind):
        if kind == "single":
            self.corrected += 1
        elif kind == "double":
            self.uncorrectable += 1

    def step(self, write, reads, swap):
        entry = lambda s, a: self.mem.get((s, a), (0, "clean"))
        enabled = set()
        # 1. reads accepted this cycle see the start-of-cycle contents of the compute set
        results = []
        for a in reads:
            if a is None:
                results.append(None)
                continue
            data, kind = entry(self.comp(), a)
            self._count(kind)
            enabled.add((self.comp(), a % self.banks))
            results.append(ReadResult(data, kind == "single", kind == "double"))
        # 2. writes at the end of the cycle: the pending read-modify-write first, then this write
        commits = []
        if self.pending is not None:
            s, a, e = self.pending
            commits.append((s, a, e))
            enabled.add((s, a % self.banks))
            self.pending = None
        if write is not None:
            s = self.fill()
            if self.ecc or write.be:  # without ECC a write with no byte enabled skips the RAM
                enabled.add((s, write.addr % self.banks))
            if self.is_rmw(write):
                data, kind = entry(s, write.addr)
                self._count(kind)
                merged = merge_bytes(data, write.data, write.be, self.width)
                assert write.inject == 0  # (kept simple: no injection on RMW in random traffic)
                self.pending = (s, write.addr, (merged, "double" if kind == "double" else "clean"))
            elif self.ecc:
                k = popcount(write.inject)
                if k == 0:
                    e = (write.data, "clean")
                elif k == 1:
                    e = (write.data, "single")
                else:
                    assert k == 2
                    e = (write.data ^ (write.inject & ((1 << self.width) - 1)), "double")
                commits.append((s, write.addr, e))
            else:
                old = entry(s, write.addr)[0]
                commits.append((s, write.addr, (merge_bytes(old, write.data, write.be, self.width), "clean")))
        for s, a, e in commits:
            self.mem[(s, a)] = e
        # 3. swap at the very end
        if swap and self.pingpong:
            self.compute ^= 1
        mask = sum(1 << (s * self.banks + b) for s, b in enabled)
        self.gated += (2 if self.pingpong else 1) * self.banks - len(enabled)
        return results, mask


def _random_traffic(seed, width, depth, banks, ports, pingpong, ecc, cycles):
    print(f"seed={seed}")
    rng = random.Random(seed)
    m = SramModel(width=width, depth=depth, banks=banks, read_ports=ports, pingpong=pingpong, ecc=ecc)
    ref = RefSram(width, depth, banks, pingpong, ecc)
    nwords = depth * banks
    hot = rng.sample(range(nwords), 6)
    addr = lambda: rng.choice(hot) if rng.random() < 0.6 else rng.randrange(nwords)
    n = secded.code_width(width)
    stats = dict(rmw=0, swaps=0)
    for cyc in range(cycles):
        assert m.write_allowed() == (ref.pending is None), cyc
        write = None
        if ref.pending is None and rng.random() < 0.6:
            r = rng.random()
            be = full_be(width) if r < 0.4 else 0 if r < 0.45 else rng.getrandbits(width // 8)
            inject = 0
            if ecc and be == full_be(width) and rng.random() < 0.3:
                inject = sum(1 << b for b in rng.sample(range(n), rng.choice([1, 2])))
            write = Write(addr(), rng.getrandbits(width), be, inject)
            stats["rmw"] += ref.is_rmw(write)
        reads = [addr() if rng.random() < 0.7 else None for _ in range(ports)]
        swap = False
        if rng.random() < 0.1:
            allowed = ref.pending is None and not (write is not None and ref.is_rmw(write))
            assert m.swap_allowed(write) == allowed, cyc
            swap = allowed
            stats["swaps"] += swap
        got = m.cycle(write=write, reads=reads, swap=swap)
        want = ref.step(write, reads, swap)
        assert got == want, (cyc, write, reads, swap)
        assert (m.corrected_count, m.uncorrectable_count) == (ref.corrected, ref.uncorrectable), cyc
        assert m.gated_bank_cycles == ref.gated, cyc
    # final sweep: every word of every set
    for _ in range(2 if pingpong else 1):
        m.cycle(), ref.step(None, [], False)  # let a pending write land
        for a in range(nwords):
            assert m.cycle(reads=[a] + [None] * (ports - 1)) == ref.step(None, [a] + [None] * (ports - 1), False)
        m.cycle(swap=True), ref.step(None, [], True)
    assert m.gated_bank_cycles == ref.gated
    return stats


@pytest.mark.parametrize("pingpong", [0, 1])
def test_random_traffic_ecc_off(pingpong):
    _random_traffic(seed=20240 + pingpong, width=64, depth=8, banks=4, ports=2, pingpong=pingpong,
                    ecc=0, cycles=2000)


@pytest.mark.parametrize("pingpong", [0, 1])
@pytest.mark.parametrize("width", [32, 64])
def test_random_traffic_ecc_on(pingpong, width):
    stats = _random_traffic(seed=31337 + pingpong + width, width=width, depth=4, banks=2, ports=2,
                            pingpong=pingpong, ecc=1, cycles=2000)
    assert stats["rmw"] > 100 and (stats["swaps"] > 20 or not pingpong)


def test_random_traffic_one_bank_three_ports():
    _random_traffic(seed=777, width=16, depth=16, banks=1, ports=3, pingpong=1, ecc=0, cycles=1000)


@pytest.mark.parametrize("kwargs", [{"banks": 3}, {"depth": 100}, {"width": 12}, {"read_ports": 0},
                                    {"pingpong": 2}, {"ecc": -1}, {"granularity": 12},
                                    {"width": 64, "granularity": 24}, {"granularity": 0}])
def test_model_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError, match="SramModel: bad"):
        SramModel(**kwargs)
