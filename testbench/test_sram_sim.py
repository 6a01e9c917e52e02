"""The SRAM controller in Amaranth's simulator, cycle by cycle against golden/sram.py: random
traffic with valid/ready stalls on every stream, bank enables every cycle, counters at the end;
and the read latency, read-first and swap rules."""
import random
from collections import deque

import pytest
from amaranth import ClockDomain, Elaboratable, Module
from amaranth.sim import Simulator

from generators.sram import SramController
from golden.sram import ReadResult, SramModel, Write


def simulate(params, cycles, seed, stall, program=None):
    """Random traffic (or `program(cycle) -> dict` of what to offer) for `cycles` cycles.
    Returns a log of (cycle, port, ReadResult) responses and the DUT/model for further checks."""
    dut = SramController(**params)
    model = SramModel(**dut.params)
    rng = random.Random(seed)
    log = []
    expected = [deque() for _ in range(dut.read_ports)]
    full = (1 << dut.width // 8) - 1

    def random_write():
        be = full if rng.random() < 0.6 else rng.randrange(full + 1)
        inject = 0
        if dut.ecc and rng.random() < 0.2:
            for b in rng.sample(range(dut.stored_width), rng.choice([1, 2])):
                inject |= 1 << b
        return Write(rng.randrange(dut.banks * dut.depth), rng.getrandbits(dut.width), be, inject)

    async def bench(ctx):
        held_w = None
        held_r = [None] * dut.read_ports
        held_swap = False
        for cycle in range(cycles):
            offer = program(cycle) if program else None
            if offer is None:
                if held_w is None and rng.random() >= stall:
                    held_w = random_write()
                for p in range(dut.read_ports):
                    if held_r[p] is None and rng.random() >= stall:
                        held_r[p] = rng.randrange(dut.banks * dut.depth)
                if dut.pingpong and not held_swap and rng.random() < 0.02:
                    held_swap = True
                readies = [rng.random() >= stall for _ in range(dut.read_ports)]
            else:
                held_w, held_r, held_swap = offer.get("write"), list(offer.get("reads", held_r)), \
                    offer.get("swap", False)
                readies = [True] * dut.read_ports
            ctx.set(dut.write.valid, held_w is not None)
            if held_w is not None:
                payload = {"addr": held_w.addr, "data": held_w.data, "be": held_w.be}
                if dut.ecc:
                    payload["inject"] = held_w.inject
                ctx.set(dut.write.payload, payload)
            for p in range(dut.read_ports):
                ctx.set(dut.read_req[p].valid, held_r[p] is not None)
                ctx.set(dut.read_req[p].payload, held_r[p] or 0)
                ctx.set(dut.read_resp[p].ready, readies[p])
            if dut.pingpong:
                ctx.set(dut.swap_fill.valid, held_swap)
                ctx.set(dut.swap_drain.valid, held_swap)
            # What moves at the coming edge:
            w = held_w if held_w is not None and ctx.get(dut.write.ready) else None
            reads = [held_r[p] if held_r[p] is not None and ctx.get(dut.read_req[p].ready) else None
                     for p in range(dut.read_ports)]
            swap = bool(dut.pingpong and held_swap and ctx.get(dut.swap_fill.ready))
            if dut.pingpong:
                assert ctx.get(dut.swap_fill.ready) == ctx.get(dut.swap_drain.ready)
            for p in range(dut.read_ports):
                if ctx.get(dut.read_resp[p].valid) and readies[p]:
                    pl = ctx.get(dut.read_resp[p].payload)
                    got = ReadResult(pl.data, bool(pl.corrected), bool(pl.uncorrectable)) \
                        if dut.ecc else ReadResult(pl.data)
                    assert expected[p], f"cycle {cycle}: unexpected response on port {p}"
                    want = expected[p].popleft()
                    assert got == want, f"cycle {cycle} port {p}: got {got}, want {want}"
                    log.append((cycle, p, got))
            results, enabled = model.cycle(w, reads, swap)
            assert ctx.get(dut.bank_en) == enabled, f"cycle {cycle}: bank_en"
            for p, res in enumerate(results):
                if res is not None:
                    expected[p].append(res)
            if w is not None:
                held_w = None
            held_r = [None if reads[p] is not None else held_r[p] for p in range(dut.read_ports)]
            if swap:
                held_swap = False
            await ctx.tick()
        assert ctx.get(dut.gated_bank_cycles) == model.gated_bank_cycles
        if dut.ecc:
            # The hardware counts a decode one cycle after the model: compare after draining.
            assert ctx.get(dut.ecc_corrected) >= model.corrected_count - dut.read_ports - 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return log, dut, model


CONFIGS = [
    {},
    {"width": 16, "depth": 16, "banks": 2, "read_ports": 3, "pingpong": 1, "ecc": 1},
    {"width": 8, "depth": 16, "banks": 1, "read_ports": 1, "pingpong": 0, "ecc": 1},
]


@pytest.mark.parametrize("stall", [0.0, 0.3, 0.7])
@pytest.mark.parametrize("params", CONFIGS, ids=["default", "ecc3ports", "shared"])
def test_random_traffic_matches_model(params, stall):
    seed = 77 + CONFIGS.index(params) * 10 + int(stall * 10)
    print(f"seed={seed}")
    log, _, _ = simulate(params, 400, seed, stall)
    assert len(log) > 50


def test_read_latency_is_two_cycles_and_full_rate():
    """Requests accepted in cycles 0..9 on both ports (different banks) come back in cycles
    2..11."""
    def program(cycle):
        if cycle < 10:
            return {"reads": [4 * cycle, 4 * cycle + 1]}  # different banks: no contention
        return {"reads": [None, None]}
    log, dut, _ = simulate({}, 20, 1, 0.0, program)
    assert dut.READ_LATENCY == 2
    assert sorted({c for c, p, _ in log}) == list(range(2, 12))
    assert len(log) == 20


def test_same_cycle_read_write_returns_old_word():
    def program(cycle):
        if cycle == 0:
            return {"write": Write(5, 0xAB, 1), "reads": [None]}
        if cycle == 1:
            return {"write": Write(5, 0xCD, 1), "reads": [5]}
        if cycle == 2:
            return {"reads": [5]}
        return {"reads": [None]}
    params = {"width": 8, "depth": 16, "banks": 1, "read_ports": 1, "pingpong": 0}
    log, _, _ = simulate(params, 8, 1, 0.0, program)
    assert [r.data for _, _, r in log] == [0xAB, 0xCD]


def test_swap_needs_both_sides():
    dut = SramController(width=8, depth=16, banks=1, read_ports=1)

    async def bench(ctx):
        ctx.set(dut.swap_fill.valid, 1)
        assert not ctx.get(dut.swap_fill.ready)  # waits for the drain side
        await ctx.tick()
        assert ctx.get(dut.compute_set) == 0
        ctx.set(dut.swap_drain.valid, 1)
        assert ctx.get(dut.swap_fill.ready) and ctx.get(dut.swap_drain.ready)
        await ctx.tick()
        assert ctx.get(dut.compute_set) == 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


class WithReset(Elaboratable):
    """The DUT in an explicit sync domain whose reset the testbench can drive."""

    def __init__(self, dut):
        self.dut = dut
        self.domain = ClockDomain("sync")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.domain
        m.submodules.dut = self.dut
        return m


def test_nothing_moves_in_reset_and_idle_banks_are_gated():
    dut = SramController(width=8, depth=16, banks=2, read_ports=2, ecc=1)
    top = WithReset(dut)

    async def bench(ctx):
        ctx.set(dut.write.valid, 1)
        ctx.set(dut.read_req[0].valid, 1)
        ctx.set(dut.swap_fill.valid, 1)
        ctx.set(dut.swap_drain.valid, 1)
        ctx.set(top.domain.rst, 1)
        for sig in (dut.write.ready, dut.read_req[0].ready, dut.swap_fill.ready,
                    dut.read_resp[0].valid):
            assert ctx.get(sig) == 0
        await ctx.tick()
        ctx.set(top.domain.rst, 0)
        for s in (dut.write.valid, dut.read_req[0].valid, dut.swap_fill.valid,
                  dut.swap_drain.valid):
            ctx.set(s, 0)
        start = ctx.get(dut.gated_bank_cycles)
        for _ in range(5):
            assert ctx.get(dut.bank_en) == 0
            await ctx.tick()
        assert ctx.get(dut.gated_bank_cycles) - start == 5 * dut.physical_banks

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
