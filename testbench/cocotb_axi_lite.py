"""cocotb tests of the AXI4-Lite register block's emitted Verilog, through the loopback harness
(testbench/axi_lite_loopback.py), driven by cocotbext-axi's AxiLiteMaster against LoopbackModel.

Run through testbench/runner.py (pytest: testbench/test_axi_lite_cocotb.py). Environment:
LLMACCEL_SEED, LLMACCEL_STALL (probability of a pause per cycle on each of the master's five
channels: delayed AW/W/AR valids, dropped bready/rready), TXNS (transactions per random run),
LLMACCEL_RESULT (JSON lines: counts per test).

A monitor checks every cycle, on the signals as they were before the edge: no ready while reset
is high and no response valid in the cycle after; bvalid/rvalid held with stable payloads until
accepted; no write response before its address and data were both accepted, no read response
without an address; the rw ports equal the model whenever the bus is idle (checked by the tests);
and `start` nonzero only with its strobe, the strobe never two cycles in a row.
"""
import json
import logging
import os
import random
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from llmaccel.testbench.axi_lite_loopback import (ADDR_BITS, BY_WORD, DEPENDS, MAP, SLVERR,
                                                  LoopbackModel)

SPACE = 1 << ADDR_BITS
TXNS = int(os.environ.get("TXNS", "1500"))
# Simulated-time limits, so that a slave that loses a transaction fails instead of hanging the
# master: about 10x the time a run needs at stall 0.5.
TIMEOUT_US = 100 + TXNS // 2
WRITABLE = [w for w, r in BY_WORD.items() if r.access != "ro"]


def pauses(rng, p):
    while True:
        yield rng.random() < p


class Monitor:
    """The per-cycle protocol checks above; counts handshakes."""

    def __init__(self, dut):
        self.dut = dut
        names = ("awvalid", "awready", "wvalid", "wready", "bvalid", "bready", "bresp",
                 "arvalid", "arready", "rvalid", "rready", "rdata", "rresp")
        self.h = {n: getattr(dut, "s_axil_" + n) for n in names}
        self.errors = []
        self.cycles = 0
        self.fired = dict.fromkeys(("aw", "w", "b", "ar", "r"), 0)
        self.strobes = 0

    def fail(self, message):
        if len(self.errors) < 10:
            self.errors.append(f"cycle {self.cycles}: {message}")

    async def run(self):
        dut, h = self.dut, self.h
        prev, rst_prev, strobe_prev = None, True, 0
        while True:
            await RisingEdge(dut.clk)   # values read now are the ones before this edge
            self.cycles += 1
            now = {n: int(s.value) for n, s in h.items()}
            rst = int(dut.rst.value)
            strobe, start = int(dut.start_strobe.value), int(dut.start.value)
            if rst:
                if now["awready"] or now["wready"] or now["arready"]:
                    self.fail("a ready is high during reset")
                if now["bvalid"] or now["rvalid"]:   # also in reset's first cycle (AXI A3.1.2)
                    self.fail("a response is valid during reset")
                if rst_prev and strobe:
                    self.fail("a strobe is high during reset")
            elif rst_prev and (now["bvalid"] or now["rvalid"]):
                self.fail("a response is valid right after reset")
            if prev is not None and not rst_prev and not rst:
                for ch, payload in (("b", ("bresp",)), ("r", ("rdata", "rresp"))):
                    if prev[ch + "valid"] and not prev[ch + "ready"]:
                        if not now[ch + "valid"]:
                            self.fail(f"{ch}valid dropped before {ch}ready")
                        for f in payload:
                            if now[f] != prev[f]:
                                self.fail(f"{f} changed {prev[f]:#x} -> {now[f]:#x} while stalled")
            if not rst:
                if now["bvalid"] and min(self.fired["aw"], self.fired["w"]) <= self.fired["b"]:
                    self.fail(f"bvalid without a complete write ({self.fired})")
                if now["rvalid"] and self.fired["ar"] <= self.fired["r"]:
                    self.fail(f"rvalid without a read address ({self.fired})")
            if start and not strobe:
                self.fail(f"start = {start:#x} without its strobe")
            if strobe and strobe_prev:
                self.fail("start_strobe high two cycles in a row")
            self.strobes += strobe and not rst
            if rst:
                self.fired = dict.fromkeys(self.fired, 0)
            else:
                for ch in self.fired:
                    self.fired[ch] += now[ch + "valid"] & now[ch + "ready"]
            prev, rst_prev, strobe_prev = now, rst, strobe

    def check(self):
        assert not self.errors, "protocol: " + "; ".join(self.errors)


class Bench:
    def __init__(self, dut, seed, stall):
        self.dut, self.seed, self.stall = dut, seed, stall
        self.rng = random.Random(seed)
        self.model = LoopbackModel()
        self.master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst,
                                    reset_active_level=True)
        for side in (self.master.write_if, self.master.read_if):
            side.log.setLevel(logging.WARNING)   # a line per transaction otherwise
        if stall:
            w, r = self.master.write_if, self.master.read_if
            for i, ch in enumerate((w.aw_channel, w.w_channel, w.b_channel, r.ar_channel,
                                    r.r_channel)):
                ch.set_pause_generator(pauses(random.Random(seed * 7 + i), stall))
        self.monitor = Monitor(dut)
        self.counts = {"writes": 0, "reads": 0, "slverr": 0, "partial": 0, "resets": 0,
                       "concurrent": 0}

    async def reset(self, cycles):
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        self.model.reset()
        self.counts["resets"] += 1

    # -- random operations ------------------------------------------------------------------
    def random_write(self, words_taken):
        """(address, bytes, word address, word data, strb) of a random write to a word not in
        `words_taken` (pulse register `start` may repeat: its effects commute)."""
        rng = self.rng
        for _ in range(100):
            pick = rng.random()
            if pick < 0.6:
                word = rng.choice(WRITABLE)
            elif pick < 0.8:
                word = rng.choice(list(BY_WORD))
            else:
                word = rng.randrange(SPACE // 4)
            r = BY_WORD.get(word)
            if word not in words_taken or (r is not None and r.access == "pulse"):
                break
        else:
            return None
        offset, length = 0, 4
        if rng.random() < 0.3:
            offset = rng.randrange(4)
            length = rng.randrange(1, 5 - offset)
            self.counts["partial"] += 1
        data = bytes(rng.getrandbits(8) for _ in range(length))
        strb = ((1 << length) - 1) << offset
        value = int.from_bytes(data, "little") << 8 * offset
        return 4 * word + offset, data, 4 * word, value, strb

    def random_read(self, written_names):
        """(address, length) of a random read whose result the writes in flight cannot change."""
        rng = self.rng
        for _ in range(100):
            word = rng.choice(list(BY_WORD)) if rng.random() < 0.75 else rng.randrange(SPACE // 4)
            r = BY_WORD.get(word)
            if r is None or not ({r.name} | DEPENDS.get(r.name, set())) & written_names:
                break
        else:
            return None
        offset = rng.randrange(4) if rng.random() < 0.3 else 0
        return 4 * word + offset, rng.randrange(1, 5 - offset) if offset else 4

    async def batch(self, n_writes, n_reads):
        """Up to n_writes writes and n_reads reads in flight together; check every response."""
        writes, taken = [], set()
        for _ in range(n_writes):
            w = self.random_write(taken)
            if w:
                writes.append(w)
                taken.add(w[2] >> 2)
        names = {BY_WORD[w].name for w in taken if w in BY_WORD}
        reads = [r for r in (self.random_read(names) for _ in range(n_reads)) if r]
        events = [("w", w, self.master.init_write(w[0], w[1])) for w in writes]
        events += [("r", r, self.master.init_read(*r)) for r in reads]
        self.rng.shuffle(events)  # the order they complete in is not checked, only the results
        self.counts["concurrent"] += len(events) > 1
        expected_reads = {r: self.model.read(r[0]) for r in reads}
        for kind, op, event in events:
            await self.wait(event.wait())
        for kind, op, event in events:
            got = event.data
            if kind == "w":
                resp = self.model.write(op[2], op[3], op[4])
                self.counts["writes"] += 1
                assert got is not None and int(got.resp) == resp, \
                    f"write {op[0]:#x} {op[1].hex()}: resp {got and int(got.resp)}, model {resp}"
            else:
                word, resp = expected_reads[op]
                want = word.to_bytes(4, "little")[op[0] % 4:op[0] % 4 + op[1]]
                self.counts["reads"] += 1
                assert got is not None and (got.data, int(got.resp)) == (want, resp), \
                    (f"read {op[0]:#x} len {op[1]}: {got and (got.data.hex(), int(got.resp))}, "
                     f"model {(want.hex(), resp)}")
            self.counts["slverr"] += resp == SLVERR

    async def wait(self, awaitable):
        """`await awaitable`, failing with the monitor's findings if no answer comes in 20 us
        (2,000 cycles: a transaction the slave lost)."""
        try:
            return await with_timeout(awaitable, 20, "us")
        except SimTimeoutError:
            raise AssertionError("no response within 2,000 cycles; protocol: "
                                 + ("; ".join(self.monitor.errors) or "no error seen")) from None

    def check_ports(self):
        for name, value in self.model.rw.items():
            got = int(getattr(self.dut, name).value)
            assert got == value, f"rw port {name} = {got:#x}, model {value:#x}"

    async def traffic(self, count):
        done = 0
        while done < count:
            n_w, n_r = self.rng.randrange(4), self.rng.randrange(4)
            await self.batch(n_w, n_r)
            done += max(1, n_w + n_r)
            await RisingEdge(self.dut.clk)
            self.check_ports()
            self.monitor.check()


async def start(dut):
    seed = int(os.environ.get("LLMACCEL_SEED", "1"))
    stall = float(os.environ.get("LLMACCEL_STALL", "0.3"))
    dut._log.info(f"seed={seed} stall={stall}")
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    bench = Bench(dut, seed, stall)
    await RisingEdge(dut.clk)   # the monitor starts once reset has reached the design
    cocotb.start_soon(bench.monitor.run())
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    return bench


def report(bench, test, t0, **extra):
    path = os.environ.get("LLMACCEL_RESULT")
    record = {"test": test, "seed": bench.seed, "stall": bench.stall, **bench.counts,
              "strobes": bench.monitor.strobes, "cycles": bench.monitor.cycles,
              "wall_seconds": round(time.perf_counter() - t0, 3), **extra}
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


async def read_all(bench):
    """Read every register (whole words) and compare with the model."""
    for r in MAP:
        got = await bench.wait(bench.master.read(r.offset, 4))
        want = bench.model.read(r.offset)
        assert (int.from_bytes(got.data, "little"), int(got.resp)) == want, \
            f"{r.name}: {(int.from_bytes(got.data, 'little'), int(got.resp))}, model {want}"


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def random_traffic(dut):
    """Seeded random writes (whole words and byte ranges, any address) and reads, up to three of
    each in flight at once, against the model; pulse counts and sums read back through the
    harness; every rw port compared with the model after each batch."""
    t0 = time.perf_counter()
    bench = await start(dut)
    await read_all(bench)
    await bench.traffic(TXNS)
    await read_all(bench)
    bench.monitor.check()
    assert bench.monitor.strobes == bench.model.pulses
    report(bench, "random_traffic", t0)


@cocotb.test(timeout_time=200, timeout_unit="us")
async def map_sweep(dut):
    """Every word of the address space: a read, a write of all ones, a read; unmapped words and
    ro registers answer SLVERR (reads of unmapped words return 0) and nothing else changes."""
    t0 = time.perf_counter()
    bench = await start(dut)
    m = bench.master
    for word in range(SPACE // 4):
        addr = 4 * word
        for step in ("before", "write", "after"):
            if step == "write":
                got = await bench.wait(m.write(addr, b"\xff" * 4))
                want = bench.model.write(addr, 0xFFFFFFFF, 0xF)
                assert int(got.resp) == want, f"write {addr:#x}: {int(got.resp)}, model {want}"
                bench.counts["writes"] += 1
            else:
                got = await bench.wait(m.read(addr, 4))
                want = bench.model.read(addr)
                assert (int.from_bytes(got.data, "little"), int(got.resp)) == want, \
                    f"read {addr:#x} {step}: {got}, model {want}"
                bench.counts["reads"] += 1
            bench.counts["slverr"] += int(got.resp) == SLVERR
        bench.check_ports()
    unmapped = SPACE // 4 - len(MAP)
    ro = sum(r.access == "ro" for r in MAP)
    assert bench.counts["slverr"] == 3 * unmapped + ro, bench.counts
    await read_all(bench)
    bench.monitor.check()
    report(bench, "map_sweep", t0)


@cocotb.test(timeout_time=200, timeout_unit="us")
async def reset_mid_traffic(dut):
    """Batches cut by a reset at a random cycle (transactions in flight at every stage): after
    it every register reads its init value, the rw ports are back at init, no stale response
    comes out, and random traffic goes on right."""
    t0 = time.perf_counter()
    bench = await start(dut)
    rng = bench.rng
    for trial in range(4):
        await bench.traffic(20)
        # a batch in flight, cut short
        for _ in range(3):
            w = bench.random_write(set())
            bench.master.init_write(w[0], w[1])
            r = bench.random_read(set())
            bench.master.init_read(*r)
        for _ in range(rng.randrange(1, 12)):
            await RisingEdge(dut.clk)
        await bench.reset(rng.randrange(1, 4))
        await RisingEdge(dut.clk)
        bench.check_ports()
        await read_all(bench)
        await bench.traffic(20)
    await read_all(bench)
    bench.monitor.check()
    report(bench, "reset_mid_traffic", t0)
