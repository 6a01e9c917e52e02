"""Beats of `count` 32-bit values in, densely packed 64-bit AXI4-Stream words out: the gearbox from
the ternary engine's result beats (ROWS int32 values each) to the AXI4-Stream.

Values leave in order, two per word (the first in bits 0..31), across beat boundaries: a matmul's
results are one dense run of int32, so an AXI DMA's S2MM channel, which wants `tkeep` all ones
except in a packet's final word, can take them. The final word (after a beat marked `last`) has
`last` set and, when it holds one value, `keep` = 0x0F.

At most count + 1 values are held; a beat is taken when at most one value would remain after
this cycle's word, so the stream runs at the output's rate of two values a cycle. While the reset
is high neither stream moves (its first cycle included: the valid is a register it clears).
"""
from amaranth import Module, Mux, ResetSignal, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

WORD_BITS = 64
VALUE_BITS = 32


class ValuePacker(wiring.Component):
    def __init__(self, count: int):
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"Values per beat must be a positive integer, not {count!r}")
        self.count = count
        super().__init__({
            "beats_in": In(stream.Signature(data.StructLayout({
                "data": count * VALUE_BITS, "last": 1}))),
            "words_out": Out(stream.Signature(data.StructLayout({
                "data": WORD_BITS, "keep": WORD_BITS // 8, "last": 1}))),
        })

    def elaborate(self, platform):
        m = Module()
        cap = self.count + 1
        buf = Signal(cap * VALUE_BITS)
        held = Signal(range(cap + 1))
        flushing = Signal()         # the last beat is in: whatever is held is the tail
        out = self.words_out
        rst = ResetSignal()
        m.d.comb += [
            out.valid.eq(((held >= 2) | ((held == 1) & flushing)) & ~rst),
            out.payload.data.eq(Mux(held >= 2, buf[:WORD_BITS], buf[:VALUE_BITS])),
            out.payload.keep.eq(Mux(held >= 2, 0xFF, 0x0F)),
            out.payload.last.eq(flushing & (held <= 2)),
        ]
        give = out.valid & out.ready
        after = Signal(range(cap + 1))     # values held once this cycle's word has left
        m.d.comb += after.eq(Mux(give, Mux(held >= 2, held - 2, 0), held))
        m.d.comb += self.beats_in.ready.eq(~flushing & (after <= 1) & ~rst)
        take = self.beats_in.valid & self.beats_in.ready
        shifted = Mux(give, buf >> WORD_BITS, buf)
        beat = self.beats_in.payload.data
        with m.If(take):
            m.d.sync += [buf.eq(Mux(after == 0, beat, shifted[:VALUE_BITS] | (beat << VALUE_BITS))),
                         held.eq(after + self.count),
                         flushing.eq(self.beats_in.payload.last)]
        with m.Else():
            m.d.sync += [buf.eq(shifted), held.eq(after)]
            with m.If(give & out.payload.last):
                m.d.sync += flushing.eq(0)
        return m
