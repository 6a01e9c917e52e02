"""64-bit words in, wide beats out: the gearbox between the AXI4-Stream inputs and an engine
stream whose beats are wider than a word (the ternary engine's activation and weight beats).

A beat of `width` bits is sent as ceil(width / 64) words, least significant word first; the
bits of the last word above `width` are ignored. `words_in` words arrive per transfer (the core's
input streams side by side, stream s's word as word s), at most a beat's words; they are taken
every cycle, also in the cycle a full beat leaves, so the words arrive at the full stream rate.
With several words per transfer a beat may start inside a transfer: the words after a beat wait
for the next one in the buffer (a beat's words plus words_in - 1 at most).
"""
from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

WORD_BITS = 64


class StreamUpsizer(wiring.Component):
    def __init__(self, width: int, words_in: int = 1):
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise ValueError(f"Beat width must be a positive integer, not {width!r}")
        self.width = width
        self.words = -(-width // WORD_BITS)
        if (not isinstance(words_in, int) or isinstance(words_in, bool)
                or not 1 <= words_in <= self.words):
            raise ValueError(f"words_in must be an integer from 1 to the beat's {self.words} "
                             f"words, not {words_in!r}")
        self.group = words_in
        super().__init__({
            "words_in": In(stream.Signature(words_in * WORD_BITS)),
            "beats_out": Out(stream.Signature(width)),
        })

    def elaborate(self, platform):
        m = Module()
        n, s = self.words, self.group
        cap = n + s - 1                      # words held at most
        buf = Signal(cap * WORD_BITS)
        count = Signal(range(cap + 1))
        full = count >= n
        m.d.comb += [
            self.beats_out.valid.eq(full),
            self.beats_out.payload.eq(buf[:self.width]),
            self.words_in.ready.eq(~full | self.beats_out.ready),
        ]
        take = self.words_in.valid & self.words_in.ready
        give = self.beats_out.valid & self.beats_out.ready
        if s == 1:
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
        # A beat leaving drops the bottom n words; the words taken go right above those kept.
        kept = Signal(range(cap + 1))
        m.d.comb += kept.eq(count - Mux(give, n, 0))

        def word(value, i):
            return value.word_select(i, WORD_BITS) if i < len(value) // WORD_BITS \
                else Const(0, WORD_BITS)
        for i in range(cap):
            value = Mux(give, word(buf, i + n), word(buf, i))
            for a in range(max(0, i - s + 1), min(i, cap - s) + 1):
                value = Mux(take & (kept == a), word(self.words_in.payload, i - a), value)
            m.d.sync += buf.word_select(i, WORD_BITS).eq(value)
        m.d.sync += count.eq(kept + Mux(take, s, 0))
        return m
