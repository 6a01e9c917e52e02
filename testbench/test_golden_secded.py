"""Unit tests of golden/secded.py (SECDED extended Hamming code), written against its docstring.

The tests check properties of the code (width, systematic layout, even parity, minimum distance,
single-error correction, double-error detection) and a few hand-computed codewords, rather than
re-deriving the implementation's own check-bit formulas.
"""
import itertools
import random

import pytest

from llmaccel.golden import secded

KS = [8, 16, 32, 64, 128, 512]

# n = k + r + 1 with r the smallest integer such that 2**r >= k + r + 1 (worked out by hand).
EXPECTED_WIDTH = {8: 13, 16: 22, 32: 39, 64: 72, 128: 137, 512: 523}
EXPECTED_CHECK_BITS = {8: 4, 16: 5, 32: 6, 64: 7, 128: 8, 512: 10}


def popcount(x: int) -> int:
    return bin(x).count("1")


def random_words(rng: random.Random, k: int, count: int) -> list[int]:
    """Random k-bit words plus the corner cases all-zeros, all-ones, and single set bits at the ends."""
    corners = [0, (1 << k) - 1, 1, 1 << (k - 1)]
    return corners + [rng.getrandbits(k) for _ in range(count)]


# --- geometry -------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", KS)
def test_code_width(k):
    assert secded.code_width(k) == EXPECTED_WIDTH[k]
    assert secded.check_bits(k) == EXPECTED_CHECK_BITS[k]
    assert secded.code_width(k) == k + secded.check_bits(k) + 1


def test_code_width_named_cases():
    assert secded.code_width(64) == 72  # fits a RAMB36 as 512 x 72
    assert secded.code_width(32) == 39
    assert secded.code_width(8) == 13
    assert secded.code_width(128) == 137


# k where 2**r == k + r + 1 exactly (a perfect Hamming code plus parity): the `>=` boundary of r.
BOUNDARY = {1: 4, 4: 8, 11: 16, 26: 32, 57: 64, 120: 128}


@pytest.mark.parametrize("k", sorted(BOUNDARY))
def test_code_width_boundary(k):
    assert secded.code_width(k) == BOUNDARY[k]


@pytest.mark.parametrize("k", [4, 11, 57])
def test_boundary_single_and_double_flips(k):
    seed = 500 + k
    print(f"seed={seed}")
    rng = random.Random(seed)
    n = secded.code_width(k)
    for d in random_words(rng, k, 5):
        w = secded.encode(d, k)
        assert w & ((1 << k) - 1) == d and popcount(w) % 2 == 0
        for a in range(n):
            assert secded.decode(w ^ 1 << a, k) == (d, True, False), (d, a)
            for b in range(a + 1, n):
                bad = w ^ 1 << a ^ 1 << b
                assert secded.decode(bad, k) == (bad & ((1 << k) - 1), False, True), (d, a, b)


@pytest.mark.parametrize("k", KS)
def test_zero_word_is_codeword(k):
    assert secded.encode(0, k) == 0
    assert secded.decode(0, k) == (0, False, False)


@pytest.mark.parametrize("k", KS)
def test_systematic_layout_and_even_parity(k):
    seed = 1000 + k
    print(f"seed={seed}")
    rng = random.Random(seed)
    n = secded.code_width(k)
    for d in random_words(rng, k, 200):
        w = secded.encode(d, k)
        assert 0 <= w < (1 << n), "codeword wider than n bits"
        assert w & ((1 << k) - 1) == d, "data bits [0, k) must be the data unchanged"
        assert popcount(w) % 2 == 0, "every codeword has even parity"
        assert secded.decode(w, k) == (d, False, False)


def test_hand_computed_codewords_k8():
    # k = 8: Hamming positions 1..12, check bits at 1, 2, 4, 8, data bits d0..d7 at 3,5,6,7,9,10,11,12.
    # d0 (position 3 = 0b0011) is covered by c0 and c1; 3 ones -> overall parity 1 (bit 12).
    assert secded.encode(0x01, 8) == 0x01 | 0b0011 << 8 | 1 << 12
    # d7 (position 12 = 0b1100) is covered by c2 and c3.
    assert secded.encode(0x80, 8) == 0x80 | 0b1100 << 8 | 1 << 12
    # all ones: c0 covers 3,5,7,9,11 (odd), c1 covers 3,6,7,10,11 (odd), c2 covers 5,6,7,12 (even),
    # c3 covers 9,10,11,12 (even); 8 + 2 ones -> overall parity 0.
    assert secded.encode(0xFF, 8) == 0xFF | 0b0011 << 8


def _spec_encode(data: int, k: int) -> int:
    """Independent encoder written from the docstring: build the Hamming array position by position."""
    r = EXPECTED_CHECK_BITS[k]
    bits = {}  # Hamming position -> bit
    pos, i = 1, 0
    while i < k:
        if bin(pos).count("1") != 1:
            bits[pos] = data >> i & 1
            i += 1
        pos += 1
    word = data
    for j in range(r):
        c = 0
        for p, b in bits.items():
            if p & (1 << j):
                c ^= b
        word |= c << (k + j)
    word |= (popcount(word) & 1) << (k + r)
    return word


@pytest.mark.parametrize("k", KS)
def test_matches_spec_encoder(k):
    seed = 2000 + k
    print(f"seed={seed}")
    rng = random.Random(seed)
    for d in random_words(rng, k, 20 if k >= 128 else 100):
        assert secded.encode(d, k) == _spec_encode(d, k)


@pytest.mark.parametrize("k", KS)
def test_linear(k):
    seed = 3000 + k
    print(f"seed={seed}")
    rng = random.Random(seed)
    for _ in range(100):
        a, b = rng.getrandbits(k), rng.getrandbits(k)
        assert secded.encode(a ^ b, k) == secded.encode(a, k) ^ secded.encode(b, k)


# --- distance -------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", KS)
def test_min_distance_random_pairs(k):
    seed = 4000 + k
    print(f"seed={seed}")
    rng = random.Random(seed)
    for _ in range(2000):
        a = rng.getrandbits(k)
        # Half the pairs are close in data space (1 or 2 data bits apart), which is where a weak code
        # would fail; the other half are unrelated words.
        if rng.random() < 0.5:
            b = a
            for bit in rng.sample(range(k), rng.choice([1, 2])):
                b ^= 1 << bit
        else:
            b = rng.getrandbits(k)
        if a == b:
            continue
        assert popcount(secded.encode(a, k) ^ secded.encode(b, k)) >= 4, (hex(a), hex(b))


@pytest.mark.parametrize("k", KS)
def test_min_distance_low_weight_data(k):
    # For a linear code the minimum distance is the minimum weight of a nonzero codeword; the
    # lightest codewords come from data of weight 1 or 2 (data weight >= 4 trivially gives >= 4).
    for i in range(k):
        assert popcount(secded.encode(1 << i, k)) >= 4, i
    # all pairs up to k = 64, an evenly strided subset (about 1500) above; triples always strided
    # (about 1500) so that k = 512 stays fast.
    npairs, ntriples = k * (k - 1) // 2, k * (k - 1) * (k - 2) // 6
    pair_step = 1 if k <= 64 else npairs // 1500
    for i, j in itertools.islice(itertools.combinations(range(k), 2), 0, None, pair_step):
        assert popcount(secded.encode(1 << i | 1 << j, k)) >= 4, (i, j)
    for i, j, l in itertools.islice(itertools.combinations(range(k), 3), 0, None, max(1, ntriples // 1500)):
        assert popcount(secded.encode(1 << i | 1 << j | 1 << l, k)) >= 4, (i, j, l)


def test_min_distance_exhaustive_k8():
    words = [secded.encode(d, 8) for d in range(256)]
    assert len(set(words)) == 256
    dmin = min(popcount(a ^ b) for a, b in itertools.combinations(words, 2))
    assert dmin == 4  # exactly 4: a SECDED code, not more


# --- single-bit errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("k", KS)
def test_every_single_bit_flip_is_corrected(k):
    seed = 5000 + k
    print(f"seed={seed}")
    rng = random.Random(seed)
    n = secded.code_width(k)
    for d in random_words(rng, k, 2 if k >= 512 else 8 if k >= 128 else 40):
        w = secded.encode(d, k)
        for bit in range(n):
            got = secded.decode(w ^ (1 << bit), k)
            assert got == (d, True, False), (hex(d), bit, got)


# --- double-bit errors ----------------------------------------------------------------------------
def _check_double(k, w, a, b):
    bad = w ^ (1 << a) ^ (1 << b)
    data, corrected, uncorrectable = secded.decode(bad, k)
    assert uncorrectable is True, (hex(w), a, b)
    assert corrected is False, (hex(w), a, b)
    assert data == bad & ((1 << k) - 1), "uncorrectable: the stored data bits come back unchanged"


@pytest.mark.parametrize("k", [8, 16])
def test_all_double_bit_flips_detected_small(k):
    seed = 6000 + k
    print(f"seed={seed}")
    rng = random.Random(seed)
    n = secded.code_width(k)
    for d in random_words(rng, k, 20):
        w = secded.encode(d, k)
        for a, b in itertools.combinations(range(n), 2):
            _check_double(k, w, a, b)


@pytest.mark.parametrize("k", [32, 64, 128, 512])
def test_many_double_bit_flips_detected(k):
    seed = 7000 + k
    print(f"seed={seed}")
    rng = random.Random(seed)
    n = secded.code_width(k)
    for d in random_words(rng, k, 4 if k >= 512 else 20):
        w = secded.encode(d, k)
        for _ in range(200):
            a, b = rng.sample(range(n), 2)
            _check_double(k, w, a, b)
        # and every pair among the check and parity bits, and each of them with the first/last data bit
        tail = list(range(k, n))
        for a, b in itertools.combinations(tail + [0, k - 1], 2):
            _check_double(k, w, a, b)


def test_all_double_bit_flips_detected_k64_one_word():
    seed = 64064
    print(f"seed={seed}")
    rng = random.Random(seed)
    w = secded.encode(rng.getrandbits(64), 64)
    for a, b in itertools.combinations(range(72), 2):
        _check_double(64, w, a, b)


# --- syndromes pointing outside the word ---------------------------------------------------------
@pytest.mark.parametrize("k", KS)
def test_odd_parity_syndrome_outside_word_is_uncorrectable(k):
    """q == 1 with a syndrome that is not a position 1 .. k + r: uncorrectable (a triple error)."""
    seed = 8000 + k
    print(f"seed={seed}")
    rng = random.Random(seed)
    r = EXPECTED_CHECK_BITS[k]
    n = k + r + 1
    outside = list(range(k + r + 1, 1 << r))
    assert outside, "every tested k leaves syndromes outside the word"
    for s in rng.sample(outside, min(10, len(outside))) + [outside[0], outside[-1]]:
        d = rng.getrandbits(k)
        w = secded.encode(d, k)
        flips = s << k  # flipping check bit j toggles syndrome bit j
        if popcount(s) % 2 == 0:
            flips |= 1 << (n - 1)  # make the number of flipped bits odd (q == 1)
        data, corrected, uncorrectable = secded.decode(w ^ flips, k)
        assert (data, corrected, uncorrectable) == (d, False, True), (s, data, corrected)


# --- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", KS)
def test_encode_out_of_range_raises(k):
    with pytest.raises(ValueError):
        secded.encode(1 << k, k)
    with pytest.raises(ValueError):
        secded.encode(-1, k)
    with pytest.raises(ValueError):
        secded.encode((1 << (k + 5)) | 1, k)
    secded.encode((1 << k) - 1, k)  # the largest value is fine


# --- poison ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", KS)
def test_poison_mask_decodes_uncorrectable(k):
    seed = 9000 + k
    print(f"seed={seed}")
    rng = random.Random(seed)
    n = secded.code_width(k)
    p = secded.poison_mask(k)
    assert popcount(p) == 2, "poison flips two check bits"
    assert p >> k << k == p and p < (1 << (n - 1)), "only check bits, neither data nor parity"
    for d in random_words(rng, k, 50):
        data, corrected, uncorrectable = secded.decode(secded.encode(d, k) ^ p, k)
        assert (data, corrected, uncorrectable) == (d, False, True)
