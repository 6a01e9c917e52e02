"""SECDED encoder/decoder components in Amaranth's simulator against golden/secded.py."""
import random

import pytest
from amaranth import Elaboratable
from amaranth.sim import Simulator

from generators.secded import SecdedDecoder, SecdedEncoder
from golden import secded


@pytest.mark.parametrize("k", [8, 13, 32, 64])
def test_encoder_and_decoder_match_golden(k):
    seed = 4242 + k
    print(f"seed={seed}")
    rng = random.Random(seed)
    enc, dec = SecdedEncoder(k), SecdedDecoder(k)
    n = secded.code_width(k)
    words = [0, (1 << k) - 1] + [rng.getrandbits(k) for _ in range(6)]
    checked = []

    async def bench(ctx):
        for data in words:
            ctx.set(enc.data, data)
            code = ctx.get(enc.code)
            assert code == secded.encode(data, k), (hex(data), hex(code))
            flips = [[]] + [[i] for i in range(n)]
            flips += [rng.sample(range(n), 2) for _ in range(12)]
            flips += [rng.sample(range(n), 3) for _ in range(4)]
            for bits in flips:
                word = code
                for b in bits:
                    word ^= 1 << b
                ctx.set(dec.code, word)
                got = (ctx.get(dec.data), bool(ctx.get(dec.corrected)),
                       bool(ctx.get(dec.uncorrectable)))
                assert got == secded.decode(word, k), (hex(data), bits, got)
                if len(bits) == 1:
                    assert got == (data, True, False)
                if len(bits) == 2:
                    assert got[2]
                checked.append(bits)

    sim = Simulator(_Pair(enc, dec))
    sim.add_testbench(bench)
    sim.run()
    assert len(checked) == len(words) * (1 + n + 16)


class _Pair(Elaboratable):
    """Both components in one simulation."""

    def __init__(self, enc, dec):
        self.enc, self.dec = enc, dec

    def elaborate(self, platform):
        from amaranth import Module
        m = Module()
        m.submodules.enc = self.enc
        m.submodules.dec = self.dec
        return m
