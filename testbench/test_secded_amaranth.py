"""The SECDED encoder and decoder components (generators/secded.py) in Amaranth's own simulator,
compared with golden/secded.py: encodings of random data, every single-bit flip of several codewords,
random double flips (always flagged) and a few triple flips (whatever golden says).

Combinational only: one testbench per width, no clock; ctx.set then ctx.get (the simulator settles
the combinational logic in between). Seeds are printed (pytest -s) and in the assertion messages.
"""
import random

import pytest
from amaranth import Module
from amaranth.sim import Simulator

from llmaccel.generators.secded import SecdedDecoder, SecdedEncoder
from llmaccel.golden import secded

WIDTHS = (8, 13, 32, 64)


def run_combinational(components, bench):
    """Simulate `components` side by side with the testbench `bench(ctx)`; no clock."""
    top = Module()
    for i, c in enumerate(components):
        top.submodules[f"c{i}"] = c
    sim = Simulator(top)
    sim.add_testbench(bench)
    sim.run()


def flip(word: int, bits) -> int:
    for b in bits:
        word ^= 1 << b
    return word


@pytest.mark.parametrize("k", WIDTHS)
def test_encoder_decoder_match_golden(k):
    seed = 0x5EC0 + k
    print(f"k={k} seed={seed}")
    rng = random.Random(seed)
    enc, dec = SecdedEncoder(k), SecdedDecoder(k)
    n = secded.code_width(k)
    assert len(enc.code) == n and len(dec.code) == n and len(dec.data) == k

    # Random data plus the corners; the first few words also get every single-bit flip.
    if k <= 8:  # exhaustive
        encode_words = list(range(1 << k))
    else:
        encode_words = [0, (1 << k) - 1, 1, 1 << (k - 1)] + [rng.getrandbits(k) for _ in range(200)]
    flip_words = [0, (1 << k) - 1] + [rng.getrandbits(k) for _ in range(10)]
    doubles, triples = 40, 12
    stats = {"encoded": 0, "clean": 0, "single": 0, "double": 0, "triple": 0,
             "triple_corrected": 0, "triple_flagged": 0}

    async def bench(ctx):
        def decode(word):
            ctx.set(dec.code, word)
            return (ctx.get(dec.data), bool(ctx.get(dec.corrected)),
                    bool(ctx.get(dec.uncorrectable)))

        for data in encode_words:
            ctx.set(enc.data, data)
            code = ctx.get(enc.code)
            want = secded.encode(data, k)
            assert code == want, f"seed={seed} k={k} encode({data:#x}) = {code:#x}, golden {want:#x}"
            stats["encoded"] += 1
            # A clean codeword decodes to its data, no flag.
            assert decode(code) == (data, False, False), f"seed={seed} k={k} clean {code:#x}"
            stats["clean"] += 1

        for index, data in enumerate(flip_words):
            code = secded.encode(data, k)
            for b in range(n):
                word = flip(code, [b])
                got = decode(word)
                assert got == secded.decode(word, k), \
                    f"seed={seed} k={k} data={data:#x} flip {b}: hw {got}, golden {secded.decode(word, k)}"
                assert got == (data, True, False), f"seed={seed} k={k} data={data:#x} flip {b}: {got}"
                stats["single"] += 1
            pairs = [rng.sample(range(n), 2) for _ in range(doubles)]
            if index == len(flip_words) - 1:  # one word gets every pair
                pairs = [[a, b] for a in range(n) for b in range(a + 1, n)]
            for bits in pairs:
                word = flip(code, bits)
                got = decode(word)
                want = secded.decode(word, k)
                assert got == want, f"seed={seed} k={k} data={data:#x} flips {bits}: hw {got}, golden {want}"
                # Flagged; the data returned is the stored data bits unchanged.
                assert got == (word & ((1 << k) - 1), False, True), \
                    f"seed={seed} k={k} data={data:#x} flips {bits}: {got}"
                stats["double"] += 1
            for _ in range(triples):
                bits = rng.sample(range(n), 3)
                word = flip(code, bits)
                got = decode(word)
                want = secded.decode(word, k)
                assert got == want, f"seed={seed} k={k} data={data:#x} flips {bits}: hw {got}, golden {want}"
                stats["triple"] += 1
                stats["triple_corrected"] += got[1]
                stats["triple_flagged"] += got[2]

    run_combinational([enc, dec], bench)
    print(stats)
    assert stats["encoded"] == len(encode_words)
    assert stats["single"] == len(flip_words) * n
    assert stats["double"] == (len(flip_words) - 1) * doubles + n * (n - 1) // 2
    assert stats["triple"] == len(flip_words) * triples


@pytest.mark.parametrize("k", WIDTHS)
def test_decoder_flags_syndromes_outside_the_word(k):
    """Odd parity with a syndrome that names no bit of the shortened code is uncorrectable, as
    golden says; this needs a word that no 1- or 3-flip sample is sure to reach, so build it:
    take the check bits of a syndrome beyond k + r and set the overall parity odd."""
    r = secded.check_bits(k)
    n = secded.code_width(k)
    outside = [s for s in range(k + r + 1, 1 << r)]
    if not outside:
        pytest.skip(f"k={k}: every syndrome names a bit")
    dec = SecdedDecoder(k)
    words = []
    for s in outside[:8]:
        word = s << k  # data 0, stored check bits = s: the syndrome is s
        if bin(word).count("1") % 2 == 0:
            word |= 1 << (n - 1)  # make the overall parity odd
        words.append(word)

    async def bench(ctx):
        for word in words:
            ctx.set(dec.code, word)
            got = (ctx.get(dec.data), bool(ctx.get(dec.corrected)), bool(ctx.get(dec.uncorrectable)))
            assert got == secded.decode(word, k) == (0, False, True), (k, hex(word), got)

    run_combinational([dec], bench)
