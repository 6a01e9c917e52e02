"""cocotb tests of the SRAM controller's emitted Verilog against golden/sram.py.

Run through testbench/runner.py (pytest: testbench/test_sram_cocotb.py). Every cycle the bench feeds
what moved on every port (writes, read requests, swaps) into the cycle-level golden model, checks the
bank enables of the cycle, and queues the model's read results on an in-order scoreboard per port;
at the end it checks the counters. Environment: LLMACCEL_PARAMS (block parameters, JSON),
LLMACCEL_STALL (stall probability of every stream), LLMACCEL_TXNS (transactions), LLMACCEL_RESULT.
"""
import json
import os
import random
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from llmaccel.generators.sram import SramController
from llmaccel.golden.sram import SramModel, Write, ReadResult
from llmaccel.testbench.streams import (ClockedLoop, InOrderScoreboard, StreamPort, StreamSink,
                                        StreamSource, random_pause, Agent)


def _fields(layout):
    return {name: (field.offset, field.width) for name, field in layout}


class SramBench(Agent):
    def __init__(self, dut, params: dict, rng: random.Random, stall: float):
        self.dut = dut
        self.rng = rng
        self.hw = SramController(**params)      # only for its port layouts
        self.model = shared_model(self.hw.params)
        self.wf = _fields(self.hw.write_layout)
        self.rf = _fields(self.hw.resp_layout)
        pause = lambda: random_pause(rng, stall)  # noqa: E731
        self.write = StreamSource(StreamPort(dut, "write"), pause())
        self.reqs = [StreamSource(StreamPort(dut, f"read_req__{p}"), pause())
                     for p in range(self.hw.read_ports)]
        self.resps = [StreamSink(StreamPort(dut, f"read_resp__{p}"), pause(),
                                 on_beat=self._make_checker(p))
                      for p in range(self.hw.read_ports)]
        self.boards = [InOrderScoreboard(f"read port {p}", self.describe)
                       for p in range(self.hw.read_ports)]
        self.swaps = []
        if self.hw.pingpong:
            self.swaps = [StreamSource(StreamPort(dut, "swap_fill"), pause()),
                          StreamSource(StreamPort(dut, "swap_drain"), pause())]
        self.loop = ClockedLoop(dut.clk, [self.write, *self.reqs, *self.swaps, *self.resps, self])
        self.cycles = 0
        self.same_address_hits = 0
        self.counts = {"writes": 0, "reads": 0, "swaps": 0}

    # -- payloads ------------------------------------------------------------------------------
    def pack_write(self, w: Write) -> int:
        value = 0
        for name, v in (("addr", w.addr), ("data", w.data), ("be", w.be), ("inject", w.inject)):
            if name in self.wf:
                off, width = self.wf[name]
                assert 0 <= v < 1 << width, (name, v)
                value |= v << off
        return value

    def unpack_write(self, value: int) -> Write:
        get = lambda n: value >> self.wf[n][0] & ((1 << self.wf[n][1]) - 1) if n in self.wf else 0  # noqa: E731
        return Write(get("addr"), get("data"), get("be"), get("inject"))

    def unpack_resp(self, value: int) -> ReadResult:
        data = value & ((1 << self.hw.width) - 1)
        if self.hw.ecc:
            return ReadResult(data, bool(value >> self.rf["corrected"][0] & 1),
                              bool(value >> self.rf["uncorrectable"][0] & 1))
        return ReadResult(data)

    @staticmethod
    def describe(r: ReadResult) -> str:
        flags = "".join(f for f, on in ((" corrected", r.corrected),
                                        (" UNCORRECTABLE", r.uncorrectable)) if on)
        return f"{r.data:#x}{flags}"

    def _make_checker(self, port):
        def check(cycle, payload):
            self.boards[port].observe(cycle, self.unpack_resp(payload))
        return check

    # -- the golden model, stepped with what moved in this cycle -------------------------------
    def sample(self, cycle):
        write = self.unpack_write(self.write.fired) if self.write.fired is not None else None
        reads = [r.fired for r in self.reqs]
        swap = bool(self.swaps) and self.swaps[0].fired is not None
        if self.swaps and (self.swaps[1].fired is not None) != swap:
            raise AssertionError(f"cycle {cycle}: swap_fill and swap_drain moved separately")
        results, enabled = self.model.cycle(write, reads, swap)
        for p, res in enumerate(results):
            if res is not None:
                self.boards[p].expect(res)
        hw_en = int(self.dut.bank_en.value)
        if hw_en != enabled:
            raise AssertionError(f"cycle {cycle}: bank_en {hw_en:#x}, model {enabled:#x}")
        self.counts["writes"] += write is not None
        self.counts["reads"] += sum(r is not None for r in reads)
        self.counts["swaps"] += swap
        if write is not None and write.addr in reads:
            self.same_address_hits += 1
        self.cycles += 1

    # -- stimulus ------------------------------------------------------------------------------
    def random_write(self, addr_limit=None, partial_rate=0.3, inject_bits=0) -> Write:
        hw = self.hw
        addr = self.rng.randrange(addr_limit or hw.banks * hw.depth)
        full = (1 << hw.lanes) - 1
        be = full if self.rng.random() >= partial_rate else self.rng.randrange(full + 1)
        inject = 0
        for bit in self.rng.sample(range(hw.stored_width), inject_bits):
            inject |= 1 << bit
        return Write(addr, self.rng.getrandbits(hw.width), be, inject)

    def queue_traffic(self, transactions: int, addr_limit=None, swap_rate=0.01):
        hw = self.hw
        for _ in range(transactions):
            kind = self.rng.random()
            if kind < 0.4:
                self.write.send(self.pack_write(self.random_write(addr_limit)))
            else:
                port = self.rng.randrange(hw.read_ports)
                self.reqs[port].send(self.rng.randrange(addr_limit or hw.banks * hw.depth))
            if self.swaps and self.rng.random() < swap_rate:
                self.swaps[0].send()
                self.swaps[1].send()

    def idle(self) -> bool:
        return (all(s.idle() for s in [self.write, *self.reqs, *self.swaps])
                and all(b.done() for b in self.boards))

    async def drain(self, max_cycles=200_000):
        await self.loop.run_until(self.idle, max_cycles)
        for _ in range(4):  # let counters settle
            await self.loop.step()

    async def check_counters(self):
        await ReadOnly()  # registers as they are after the last edge
        got = int(self.dut.gated_bank_cycles.value)
        if got != self.model.gated_bank_cycles:
            raise AssertionError(f"gated_bank_cycles {got}, model {self.model.gated_bank_cycles}")
        if self.hw.ecc:
            for sig, want in ((self.dut.ecc_corrected, self.model.corrected_count),
                              (self.dut.ecc_uncorrectable, self.model.uncorrectable_count)):
                if int(sig.value) != want:
                    raise AssertionError(f"{sig._name} {int(sig.value)}, model {want}")
        await RisingEdge(self.dut.clk)
        self.loop.cycle += 1
        self.model.cycle()  # the cycle just stepped, idle

    async def reset(self, cycles=3):
        """Reset mid-traffic: sources drop what they hold, expected responses are void."""
        self.dut.rst.value = 1
        for src in [self.write, *self.reqs, *self.swaps]:
            src.clear()
            src.port.valid.value = 0
            src._valid_out = False
        for sink in self.resps:
            sink.forget()
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
            self.model.reset()
        self.dut.rst.value = 0
        for board in self.boards:
            board.clear()
        self.loop.cycle += cycles


_MODEL = {}


def shared_model(params: dict) -> SramModel:
    """One model per simulation: the tests of one run share the DUT, whose stored words survive
    the reset between tests, so the model's words must survive too (a reset is applied instead)."""
    key = json.dumps(params, sort_keys=True)
    if key not in _MODEL:
        _MODEL[key] = SramModel(**params)
    _MODEL[key].reset()
    return _MODEL[key]


def setup_params():
    return json.loads(os.environ.get("LLMACCEL_PARAMS", "{}"))


async def start(dut, stall=None):
    seed = int(os.environ.get("LLMACCEL_SEED", "1"))
    stall = float(os.environ.get("LLMACCEL_STALL", "0.3")) if stall is None else stall
    dut._log.info(f"seed={seed} stall={stall} params={setup_params()}")
    rng = random.Random(seed)
    bench = SramBench(dut, setup_params(), rng, stall)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for src in [bench.write, *bench.reqs, *bench.swaps]:
        src.port.valid.value = 0
    for sink in bench.resps:
        sink.port.ready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    return bench, seed, stall


def report(bench, test, seed, stall, wall, **extra):
    path = os.environ.get("LLMACCEL_RESULT")
    record = {"test": test, "seed": seed, "stall": stall, "cycles": bench.cycles,
              "transactions": sum(bench.counts.values()), **bench.counts,
              "wall_seconds": round(wall, 3), **extra}
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


@cocotb.test()
async def random_traffic(dut):
    """Random writes (partial and whole), reads on every port and swaps, under random stalls."""
    bench, seed, stall = await start(dut)
    txns = int(os.environ.get("LLMACCEL_TXNS", "2000"))
    t0 = time.perf_counter()
    hw = bench.hw
    # Half the traffic over a narrow window, so that reads hit fresh writes and ports collide.
    bench.queue_traffic(txns // 2, addr_limit=min(hw.banks * hw.depth, 4 * hw.banks))
    bench.queue_traffic(txns - txns // 2)
    await bench.drain()
    await bench.check_counters()
    report(bench, "random_traffic", seed, stall, time.perf_counter() - t0)


@cocotb.test()
async def pingpong_under_load(dut):
    """Fill a set, swap, read it all back on every port while the next set fills; repeat."""
    bench, seed, stall = await start(dut)
    hw = bench.hw
    if not hw.pingpong:
        report(bench, "pingpong_under_load", seed, stall, 0.0, skipped="pingpong=0")
        return
    t0 = time.perf_counter()
    words = min(hw.banks * hw.depth, 256)
    addrs = bench.rng.sample(range(hw.banks * hw.depth), words)
    for rnd in range(4):
        for a in addrs:
            bench.write.send(bench.pack_write(Write(a, bench.rng.getrandbits(hw.width),
                                                    (1 << hw.lanes) - 1)))
        if rnd:  # read the set filled in the previous round while this one fills
            for i, a in enumerate(addrs):
                bench.reqs[i % hw.read_ports].send(a)
        await bench.loop.run_until(bench.idle, 100_000)
        bench.swaps[0].send()
        bench.swaps[1].send()
        await bench.loop.run_until(bench.idle, 1000)
    await bench.drain()
    await bench.check_counters()
    assert bench.counts["swaps"] == 4
    report(bench, "pingpong_under_load", seed, stall, time.perf_counter() - t0)


@cocotb.test()
async def reset_mid_burst(dut):
    """Reset while every stream is busy: no stale response after it, the next burst is correct,
    stored words survive."""
    bench, seed, stall = await start(dut)
    hw = bench.hw
    t0 = time.perf_counter()
    for trial in range(3):
        bench.queue_traffic(300, addr_limit=min(hw.banks * hw.depth, 8 * hw.banks))
        for _ in range(bench.rng.randrange(20, 120)):
            await bench.loop.step()
        await bench.reset(bench.rng.randrange(1, 4))
        # After reset: nothing may come out until asked (the scoreboards are empty, so any
        # response fails), then a fresh burst must be right.
        for _ in range(10):
            await bench.loop.step()
        bench.queue_traffic(200, addr_limit=min(hw.banks * hw.depth, 8 * hw.banks))
        await bench.drain()
    await bench.check_counters()
    report(bench, "reset_mid_burst", seed, stall, time.perf_counter() - t0)


@cocotb.test()
async def same_cycle_read_write(dut):
    """A read and a write of the same address in the same cycle: the read returns the word as it
    was before the write (read-first); with ping-pong the write goes to the fill set and the read
    sees the compute set's word."""
    bench, seed, _ = await start(dut, stall=0.0)
    hw = bench.hw
    t0 = time.perf_counter()
    full = (1 << hw.lanes) - 1
    trials = 50
    for _ in range(trials):
        a = bench.rng.randrange(hw.banks * hw.depth)
        bench.write.send(bench.pack_write(Write(a, bench.rng.getrandbits(hw.width), full)))
        await bench.loop.run_until(bench.idle, 100)
        bench.write.send(bench.pack_write(Write(a, bench.rng.getrandbits(hw.width), full)))
        bench.reqs[0].send(a)
        await bench.loop.run_until(bench.idle, 100)
    await bench.drain()
    await bench.check_counters()
    assert bench.same_address_hits >= trials, bench.same_address_hits
    report(bench, "same_cycle_read_write", seed, 0.0, time.perf_counter() - t0,
           same_address_hits=bench.same_address_hits)


async def _ecc_faults(dut, flips: int, name: str):
    bench, seed, stall = await start(dut)
    hw = bench.hw
    if not hw.ecc:
        report(bench, name, seed, stall, 0.0, skipped="ecc=0")
        return
    t0 = time.perf_counter()
    n = min(hw.banks * hw.depth, 512)
    addrs = bench.rng.sample(range(hw.banks * hw.depth), n)
    for a in addrs:
        w = bench.random_write(partial_rate=0.0, inject_bits=flips)
        bench.write.send(bench.pack_write(Write(a, w.data, w.be, w.inject)))
    await bench.loop.run_until(bench.idle, 100_000)
    if hw.pingpong:
        bench.swaps[0].send()
        bench.swaps[1].send()
        await bench.loop.run_until(bench.idle, 1000)
    seen = []
    for p in range(hw.read_ports):
        bench.resps[p].on_beat = (lambda p: lambda c, v: (
            seen.append(bench.unpack_resp(v)), bench.boards[p].observe(c, bench.unpack_resp(v))))(p)
    for i, a in enumerate(addrs):
        bench.reqs[i % hw.read_ports].send(a)
    await bench.drain()
    await bench.check_counters()
    assert len(seen) == n
    if flips == 1:
        assert all(r.corrected and not r.uncorrectable for r in seen)
        assert int(dut.ecc_corrected.value) == n
    else:
        assert all(r.uncorrectable for r in seen)
        assert int(dut.ecc_uncorrectable.value) == n
    report(bench, name, seed, stall, time.perf_counter() - t0, words=n)


@cocotb.test()
async def ecc_single_bit_faults(dut):
    """One random stored bit flipped in every word: every read corrected and counted."""
    await _ecc_faults(dut, 1, "ecc_single_bit_faults")


@cocotb.test()
async def ecc_double_bit_faults(dut):
    """Two random stored bits flipped in every word: every read flagged, none silently wrong."""
    await _ecc_faults(dut, 2, "ecc_double_bit_faults")
