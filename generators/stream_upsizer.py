"""64-bit words in, wide beats out: the gearbox between the AXI4-Stream and an engine stream
whose beats are wider than a word (the ternary engine's activation and weight beats).

A beat of `width` bits is sent as ceil(width / 64) words, least significant word first; the
bits of the last word above `width` are ignored. One word is taken per cycle, also in the cycle
a full beat leaves, so the words arrive at the full stream rate.
"""
from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

WORD_BITS = 64


class StreamUpsizer(wiring.Component):
    def __init__(self, width: int):
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise ValueError(f"Beat width must be a positive integer, not {width!r}")
        self.width = width
        self.words = -(-width // WORD_BITS)
        super().__init__({
            "words_in": In(stream.Signature(WORD_BITS)),
            "beats_out": Out(stream.Signature(width)),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.words
        buf = Signal(n * WORD_BITS)
        count = Signal(range(n + 1))
        full = count == n
        m.d.comb += [
            self.beats_out.valid.eq(full),
            self.beats_out.payload.eq(buf[:self.width]),
            self.words_in.ready.eq(~full | self.beats_out.ready),
        ]
        take = self.words_in.valid & self.words_in.ready
        give = self.beats_out.valid & self.beats_out.ready
        # Words shift in from the top: after n of them the first one sits at the bottom.
        with m.If(take):
            m.d.sync += buf.eq(Cat(buf[WORD_BITS:], self.words_in.payload) if n > 1
                               else self.words_in.payload)
        with m.If(take & give):
            m.d.sync += count.eq(1)
        with m.Elif(give):
            m.d.sync += count.eq(0)
        with m.Elif(take):
            m.d.sync += count.eq(count + 1)
        return m
