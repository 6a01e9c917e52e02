"""The top core's two gearboxes in Amaranth's simulator (the fast tier; the cocotb suite
testbench/test_top_cocotb.py runs them inside the core): StreamUpsizer (64-bit words -> wide beats)
and ValuePacker (beats of int32 values -> dense 64-bit words with keep/last), with random
valid/ready stalls, against what their docstrings define. Seeds are printed (pytest -s)."""
import random
import re

import pytest
from amaranth.sim import Simulator

from llmaccel.generators.stream_upsizer import StreamUpsizer
from llmaccel.generators.value_packer import ValuePacker
from llmaccel.testbench.runner import seed_for


def drive(dut, source, sink, items, expected_outputs, rng, stall, read):
    """Push `items` into `source` and collect `expected_outputs` items from `sink` (read(payload)
    turns a payload into a Python value), stalling both sides at random; returns the outputs and
    the number of cycles."""
    got = []

    async def bench(ctx):
        i = 0
        for cycle in range(50 * (len(items) + expected_outputs) + 100):
            send = i < len(items) and rng.random() >= stall
            ctx.set(source.valid, send)
            if send:
                ctx.set(source.payload, items[i])
            take = rng.random() >= stall
            ctx.set(sink.ready, take)
            _, _, in_ok, out_ok, out = await ctx.tick().sample(source.ready, sink.valid,
                                                                sink.payload)
            if send and in_ok:
                i += 1
            if take and out_ok:
                got.append(read(out))
                if len(got) == expected_outputs:
                    break
        # nothing more may come out
        ctx.set(source.valid, 0)
        ctx.set(sink.ready, 1)
        for _ in range(8):
            _, _, out_ok = await ctx.tick().sample(sink.valid)
            assert not out_ok, "an output beyond the expected ones"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("width", [1, 64, 65, 240, 392])
@pytest.mark.parametrize("stall", [0.0, 0.5])
def test_upsizer(width, stall):
    seed = seed_for(f"upsizer-{width}-{stall}")
    print(f"seed={seed}")
    rng = random.Random(seed)
    dut = StreamUpsizer(width)
    beats = [rng.getrandbits(width) for _ in range(20)]
    words = []
    for b in beats:
        # bits past the width are junk the gearbox must drop
        padded = b | rng.getrandbits(dut.words * 64 - width) << width
        words += [padded >> (64 * j) & (2 ** 64 - 1) for j in range(dut.words)]
    got = drive(dut, dut.words_in, dut.beats_out, words, len(beats), rng, stall, int)
    assert got == beats, f"seed={seed}"


@pytest.mark.parametrize("width,words_in", [(130, 2), (130, 3), (240, 3), (240, 4), (392, 2),
                                            (392, 3), (392, 4)])
@pytest.mark.parametrize("stall", [0.0, 0.5])
def test_upsizer_several_words_in(width, words_in, stall):
    """words_in words per transfer (the core's input streams side by side): beats start inside
    transfers; the junk words that pad the last transfer never make a beat."""
    seed = seed_for(f"upsizer-{width}-{words_in}-{stall}")
    print(f"seed={seed}")
    rng = random.Random(seed)
    dut = StreamUpsizer(width, words_in)
    beats = [rng.getrandbits(width) for _ in range(rng.randint(1, 20))]
    words = []
    for b in beats:
        padded = b | rng.getrandbits(dut.words * 64 - width) << width
        words += [padded >> (64 * j) & (2 ** 64 - 1) for j in range(dut.words)]
    words += [rng.getrandbits(64) for _ in range(-len(words) % words_in)]
    groups = [sum(w << (64 * j) for j, w in enumerate(words[i:i + words_in]))
              for i in range(0, len(words), words_in)]
    got = drive(dut, dut.words_in, dut.beats_out, groups, len(beats), rng, stall, int)
    assert got == beats, f"seed={seed}"


def test_upsizer_full_rate():
    """Unstalled, a word a cycle: N beats of w words take about N * w cycles."""
    dut = StreamUpsizer(130)
    beats = list(range(1, 31))
    words = [w for b in beats for w in (b, 0, 0)]
    cycles = []

    async def bench(ctx):
        ctx.set(dut.beats_out.ready, 1)
        ctx.set(dut.words_in.valid, 1)
        n = 0
        for cycle, word in enumerate(words):
            ctx.set(dut.words_in.payload, word)
            _, _, ok, out_ok = await ctx.tick().sample(dut.words_in.ready, dut.beats_out.valid)
            assert ok, f"the upsizer stalled a word at cycle {cycle}"
            n += out_ok
        cycles.append(n)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert cycles[0] >= len(beats) - 1


@pytest.mark.parametrize("count", [1, 2, 3, 5])
@pytest.mark.parametrize("stall", [0.0, 0.5])
def test_value_packer(count, stall):
    seed = seed_for(f"packer-{count}-{stall}")
    print(f"seed={seed}")
    rng = random.Random(seed)
    dut = ValuePacker(count)
    for run in range(3):     # several packets: the flush after `last` must re-arm
        n_beats = rng.randint(1, 9)
        values = [rng.getrandbits(32) for _ in range(n_beats * count)]
        beats = []
        for b in range(n_beats):
            data = sum(v << 32 * i for i, v in enumerate(values[b * count:(b + 1) * count]))
            beats.append({"data": data, "last": int(b == n_beats - 1)})
        n_words = -(-len(values) // 2)
        got = drive(dut, dut.beats_in, dut.words_out, beats, n_words, rng, stall,
                    lambda p: (int(p.data), int(p.keep), int(p.last)))
        flat = []
        for i, (data, keep, last) in enumerate(got):
            final = i == n_words - 1
            assert last == final, f"seed={seed} run {run}: last on word {i} of {n_words}"
            odd_tail = final and len(values) % 2
            assert keep == (0x0F if odd_tail else 0xFF), f"seed={seed}: keep {keep:#x} word {i}"
            flat += [data & 0xFFFFFFFF] + ([] if odd_tail else [data >> 32])
            if odd_tail:
                assert data >> 32 == 0
        assert flat == values, f"seed={seed} run {run}"


@pytest.mark.parametrize("cls,value,message", [
    (StreamUpsizer, 0, "Beat width must be a positive integer, not 0"),
    (StreamUpsizer, True, "Beat width must be a positive integer, not True"),
    (lambda v: StreamUpsizer(240, v), 5,
     "words_in must be an integer from 1 to the beat's 4 words, not 5"),
    (lambda v: StreamUpsizer(240, v), 0,
     "words_in must be an integer from 1 to the beat's 4 words, not 0"),
    (ValuePacker, 0, "Values per beat must be a positive integer, not 0"),
    (ValuePacker, 2.0, "Values per beat must be a positive integer, not 2.0"),
])
def test_parameter_messages(cls, value, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        cls(value)
