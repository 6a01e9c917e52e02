"""The AXI4-Lite register block (generators/axi_lite.py) in Amaranth's own simulator: the fast tier
of the cocotb bench (testbench/cocotb_axi_lite.py), no Verilog. Also the map's validation messages,
the C header and the Markdown table.

`Master` is a small cycle-by-cycle AXI4-Lite master: per channel a queue of beats, each with an
idle delay before its valid rises; a valid once raised is held (with its payload) until accepted;
payloads read as junk while valid is low; bready/rready drop at random with a stall probability.
Every cycle it checks the slave's side of the protocol: no ready and (one cycle on) no valid
while reset is high, bvalid/rvalid held with a stable payload until accepted, no write response
before both its address and data were accepted, no read response without an address, a pulse
register's value 0 outside its strobe, and each strobe in the cycle its write response appears.
Seeds are printed (pytest -s) and in the assertion messages.
"""
import random
import re
from collections import deque

import pytest
from amaranth import ClockDomain, Module
from amaranth.sim import Simulator

from llmaccel.generators.axi_lite import (AxiLiteRegisters, Register, RegisterMapError, c_header,
                                          check_registers, markdown_table)

OKAY, SLVERR = 0, 2
ADDR_BITS = 6
MAP = (
    Register("ctrl", 0x00, "rw", doc="control word"),
    Register("scale", 0x04, "rw", 12, init=0x123),
    Register("flag", 0x08, "rw", 1, init=1),
    Register("status", 0x10, "ro", doc="hardware status"),
    Register("count", 0x14, "ro", 9),
    Register("start", 0x18, "pulse", 8),
    Register("go", 0x1C, "pulse"),
)
BY_WORD = {r.offset >> 2: r for r in MAP}
WORDS = 1 << (ADDR_BITS - 2)


def byte_mask(strb: int) -> int:
    return sum(0xFF << 8 * i for i in range(4) if strb >> i & 1)


class Model:
    """What the map says: rw values, ro inputs (set by the test), expected responses."""

    def __init__(self):
        self.reset()
        self.ro = {r.name: 0 for r in MAP if r.access == "ro"}

    def reset(self):
        self.rw = {r.name: r.init for r in MAP if r.access == "rw"}

    def write(self, addr, data, strb):
        """(bresp, (pulse name, value) or None)."""
        r = BY_WORD.get(addr >> 2 & (WORDS - 1))
        if r is None or r.access == "ro":
            return SLVERR, None
        keep = byte_mask(strb) & ((1 << r.width) - 1)
        if r.access == "rw":
            self.rw[r.name] = (self.rw[r.name] & ~keep) | (data & keep)
            return OKAY, None
        return OKAY, (r.name, data & keep)

    def read(self, addr):
        r = BY_WORD.get(addr >> 2 & (WORDS - 1))
        if r is None:
            return 0, SLVERR
        if r.access == "rw":
            return self.rw[r.name], OKAY
        if r.access == "ro":
            return self.ro[r.name], OKAY
        return 0, OKAY


class Beat:
    def __init__(self, payload, delay=0):
        self.payload, self.delay = payload, delay


class Master:
    """The DUT in an explicit `sync` domain (so the test drives reset), the master and checks."""

    def __init__(self, seed, registers=MAP, addr_bits=ADDR_BITS, stall=0.0):
        self.dut = AxiLiteRegisters(registers, addr_bits)
        self.top = Module()
        self.domain = ClockDomain("sync")
        self.top.domains.sync = self.domain
        self.top.submodules.dut = self.dut
        self.seed = seed
        self.rng = random.Random(seed)
        self.stall = stall          # probability of a dropped ready / a delayed valid
        self.addr_bits = addr_bits
        self.pulses = [r for r in self.dut.registers if r.access == "pulse"]
        self.cycle = 0
        self.queues = {ch: deque() for ch in ("aw", "w", "ar")}
        self.offering = {ch: False for ch in ("aw", "w", "ar")}
        self.b, self.r = [], []                # responses: (cycle, bresp) / (cycle, rdata, rresp)
        self.strobes = []                      # (cycle, name, value)
        self.b_rise = []                       # cycles in which bvalid rose
        self.fired = {ch: 0 for ch in ("aw", "w", "ar", "b", "r")}
        self.prev = None                       # last cycle's samples, for the hold checks
        self.rst_prev = False

    def sig(self, name):
        return getattr(self.dut, "s_axil_" + name)

    def run(self, bench):
        sim = Simulator(self.top)
        sim.add_clock(1e-8, domain="sync")

        async def testbench(ctx):
            await bench(ctx, self)

        sim.add_testbench(testbench)
        sim.run()

    def fail(self, message):
        raise AssertionError(f"seed={self.seed} cycle {self.cycle}: {message}")

    # -- one clock cycle ------------------------------------------------------------------------
    def _offer(self, ch):
        """The head beat of channel `ch` if its valid is high this cycle (held once raised)."""
        q = self.queues[ch]
        if not q:
            return None
        if not self.offering[ch]:
            if q[0].delay > 0:
                q[0].delay -= 1
                return None
            if self.rng.random() < self.stall:
                return None
            self.offering[ch] = True
        return q[0]

    async def step(self, ctx, rst=False, bready=None, rready=None):
        s, rng = self.sig, self.rng
        ctx.set(self.domain.rst, rst)
        junk = lambda bits: rng.getrandbits(bits)  # noqa: E731
        aw, w, ar = (None, None, None) if rst else (self._offer("aw"), self._offer("w"),
                                                    self._offer("ar"))
        ctx.set(s("awvalid"), aw is not None)
        ctx.set(s("awaddr"), aw.payload if aw else junk(self.addr_bits))
        ctx.set(s("awprot"), junk(3))
        ctx.set(s("wvalid"), w is not None)
        ctx.set(s("wdata"), w.payload[0] if w else junk(32))
        ctx.set(s("wstrb"), w.payload[1] if w else junk(4))
        ctx.set(s("arvalid"), ar is not None)
        ctx.set(s("araddr"), ar.payload if ar else junk(self.addr_bits))
        ctx.set(s("arprot"), junk(3))
        bready = (rng.random() >= self.stall) if bready is None else bready
        rready = (rng.random() >= self.stall) if rready is None else rready
        ctx.set(s("bready"), bready)
        ctx.set(s("rready"), rready)

        now = {n: ctx.get(s(n)) for n in ("awready", "wready", "arready", "bvalid", "bresp",
                                          "rvalid", "rdata", "rresp")}
        now["bready"], now["rready"] = bready, rready
        if rst and (now["awready"] or now["wready"] or now["arready"]):
            self.fail(f"a ready is high during reset: {now}")
        if rst and (now["bvalid"] or now["rvalid"]):   # also in reset's first cycle (AXI A3.1.2)
            self.fail(f"a response is valid during reset: {now}")
        if self.rst_prev and (now["bvalid"] or now["rvalid"]):
            self.fail("a response is valid right after a reset cycle")
        p = self.prev
        if p is not None and not self.rst_prev and not rst:
            for ch, payload in (("b", ("bresp",)), ("r", ("rdata", "rresp"))):
                if p[ch + "valid"] and not p[ch + "ready"]:
                    if not now[ch + "valid"]:
                        self.fail(f"{ch}valid dropped before {ch}ready")
                    for f in payload:
                        if now[f] != p[f]:
                            self.fail(f"{f} changed from {p[f]:#x} to {now[f]:#x} while stalled")
        if now["bvalid"]:
            outstanding = min(self.fired["aw"], self.fired["w"]) - self.fired["b"]
            if outstanding < 1:
                self.fail(f"bvalid without a complete write (fired {self.fired})")
            if p is None or not p["bvalid"] or (p["bvalid"] and p["bready"]):
                self.b_rise.append(self.cycle)
        if now["rvalid"] and self.fired["ar"] - self.fired["r"] < 1:
            self.fail(f"rvalid without a read address (fired {self.fired})")
        for r in self.pulses:
            strobe, value = ctx.get(getattr(self.dut, r.name + "_strobe")), ctx.get(
                getattr(self.dut, r.name))
            if strobe:
                if self.rst_prev:
                    self.fail(f"{r.name}_strobe high right after reset")
                self.strobes.append((self.cycle, r.name, value))
            elif value:
                self.fail(f"{r.name} = {value:#x} while its strobe is low")

        fire = {"aw": aw is not None and now["awready"], "w": w is not None and now["wready"],
                "ar": ar is not None and now["arready"], "b": now["bvalid"] and bready,
                "r": now["rvalid"] and rready}
        await ctx.tick()
        self.cycle += 1
        self.prev, self.rst_prev = now, rst
        if rst:  # master and slave both drop everything in flight
            for q in self.queues.values():
                q.clear()
            self.offering = dict.fromkeys(self.offering, False)
            self.fired = dict.fromkeys(self.fired, 0)
            return
        for ch in ("aw", "w", "ar"):
            if fire[ch]:
                self.queues[ch].popleft()
                self.offering[ch] = False
        for ch, on in fire.items():
            self.fired[ch] += bool(on)
        if fire["b"]:
            self.b.append((self.cycle - 1, now["bresp"]))
        if fire["r"]:
            self.r.append((self.cycle - 1, now["rdata"], now["rresp"]))

    # -- transactions ---------------------------------------------------------------------------
    def queue_write(self, addr, data, strb=0xF, aw_delay=0, w_delay=0):
        self.queues["aw"].append(Beat(addr, aw_delay))
        self.queues["w"].append(Beat((data, strb), w_delay))

    def queue_read(self, addr, delay=0):
        self.queues["ar"].append(Beat(addr, delay))

    async def wait_responses(self, ctx, writes=0, reads=0, limit=200, **kw):
        """Step until `writes` more write responses and `reads` more read responses arrived."""
        nb, nr = len(self.b) + writes, len(self.r) + reads
        for _ in range(limit):
            if len(self.b) >= nb and len(self.r) >= nr:
                return
            await self.step(ctx, **kw)
        self.fail(f"no response within {limit} cycles (queues {self.queues}, fired {self.fired})")

    async def write(self, ctx, addr, data, strb=0xF, aw_delay=0, w_delay=0):
        """One write; returns (bresp, [(name, value) strobed], cycle its response rose)."""
        s0, r0 = len(self.strobes), len(self.b_rise)
        self.queue_write(addr, data, strb, aw_delay, w_delay)
        await self.wait_responses(ctx, writes=1)
        for _ in range(2):  # a late strobe would show here
            await self.step(ctx)
        strobes = self.strobes[s0:]
        if strobes and strobes[0][0] != self.b_rise[r0]:
            self.fail(f"strobe in cycle {strobes[0][0]}, write response in {self.b_rise[r0]}")
        return self.b[-1][1], [(n, v) for _, n, v in strobes], self.b_rise[r0]

    async def read(self, ctx, addr, delay=0):
        self.queue_read(addr, delay)
        await self.wait_responses(ctx, reads=1)
        return self.r[-1][1:]

    def check_rw(self, ctx, model):
        for name, value in model.rw.items():
            got = ctx.get(getattr(self.dut, name))
            if got != value:
                self.fail(f"rw port {name} = {got:#x}, model {value:#x}")

    def set_ro(self, ctx, model, rng):
        for r in self.dut.registers:
            if r.access == "ro":
                model.ro[r.name] = rng.getrandbits(r.width)
                ctx.set(getattr(self.dut, r.name), model.ro[r.name])


async def reset(ctx, m, cycles=2):
    for _ in range(cycles):
        await m.step(ctx, rst=True)


def run(seed, bench, **kw):
    print(f"seed={seed}")
    m = Master(seed, **kw)
    m.run(bench)
    return m


# -- ports ---------------------------------------------------------------------------------------

def test_ports():
    dut = AxiLiteRegisters(MAP, ADDR_BITS)
    members = dict(dut.signature.members.items())
    bus = {"awaddr": ("in", 6), "awprot": ("in", 3), "awvalid": ("in", 1), "awready": ("out", 1),
           "wdata": ("in", 32), "wstrb": ("in", 4), "wvalid": ("in", 1), "wready": ("out", 1),
           "bresp": ("out", 2), "bvalid": ("out", 1), "bready": ("in", 1),
           "araddr": ("in", 6), "arprot": ("in", 3), "arvalid": ("in", 1), "arready": ("out", 1),
           "rdata": ("out", 32), "rresp": ("out", 2), "rvalid": ("out", 1), "rready": ("in", 1)}
    regs = {"ctrl": ("out", 32), "scale": ("out", 12), "flag": ("out", 1), "status": ("in", 32),
            "count": ("in", 9), "start": ("out", 8), "start_strobe": ("out", 1),
            "go": ("out", 32), "go_strobe": ("out", 1)}
    want = {**{"s_axil_" + k: v for k, v in bus.items()}, **regs}
    got = {name: (member.flow.value.lower(), len(getattr(dut, name)))
           for name, member in members.items()}
    assert got == want
    assert [r.name for r in dut.registers] == [r.name for r in sorted(MAP, key=lambda r: r.offset)]
    assert AxiLiteRegisters([Register("a", 0, "rw")]).addr_bits == 12


# -- each kind, wstrb, order, back-pressure ------------------------------------------------------

def test_each_kind():
    model = Model()

    async def bench(ctx, m):
        await reset(ctx, m)
        m.check_rw(ctx, model)
        rng = random.Random(m.seed)
        m.set_ro(ctx, model, rng)
        for r in MAP:  # read every register at its reset value
            assert await m.read(ctx, r.offset) == model.read(r.offset), r.name
        for r in MAP:
            data = rng.getrandbits(32)
            resp, strobes, _ = await m.write(ctx, r.offset, data)
            want, pulse = model.write(r.offset, data, 0xF)
            assert resp == want, (r.name, resp)
            assert strobes == ([pulse] if pulse else []), (r.name, strobes)
            m.check_rw(ctx, model)
            got = await m.read(ctx, r.offset)
            assert got == model.read(r.offset), (r.name, got)
        # narrow rw registers keep only their bits; pulses read back 0 whatever was written
        assert model.rw["scale"] < 1 << 12 and model.rw["flag"] < 2
        assert await m.read(ctx, 0x18) == (0, OKAY)
        # ro follows its input at the cycle the address is accepted
        for value in (0, 0xFFFFFFFF, 0x12345678):
            ctx.set(m.dut.status, value)
            assert await m.read(ctx, 0x10) == (value, OKAY)

    run(1, bench)


def test_wstrb():
    model = Model()

    async def bench(ctx, m):
        await reset(ctx, m)
        rng = random.Random(m.seed)
        for strb in list(range(16)) * 2:
            r = rng.choice([r for r in MAP if r.access != "ro"])
            data = rng.getrandbits(32)
            resp, strobes, _ = await m.write(ctx, r.offset, data, strb)
            want, pulse = model.write(r.offset, data, strb)
            assert resp == want and strobes == ([pulse] if pulse else []), (r.name, strb)
            m.check_rw(ctx, model)
            assert await m.read(ctx, r.offset) == model.read(r.offset), (r.name, strb)
        # byte writes at unaligned addresses: the low address bits are ignored, wstrb decides
        for lane in range(4):
            resp, _, _ = await m.write(ctx, 0x00 + lane, 0xA5 << 8 * lane, 1 << lane)
            model.write(0x00, 0xA5 << 8 * lane, 1 << lane)
            assert resp == OKAY
        assert model.rw["ctrl"] == 0xA5A5A5A5
        assert await m.read(ctx, 0x03) == (0xA5A5A5A5, OKAY)

    run(2, bench)


@pytest.mark.parametrize("aw_delay,w_delay", [(0, 0), (0, 3), (3, 0), (1, 7), (7, 1)])
def test_address_data_order(aw_delay, w_delay):
    """Address before data, data before address, or together: the write happens once both are
    in, its response comes after both, the strobe with it."""
    model = Model()

    async def bench(ctx, m):
        await reset(ctx, m)
        for r, data in ((MAP[0], 0xDEADBEEF), (MAP[5], 0x5A), (MAP[3], 1), (MAP[1], 0xFFF)):
            start = m.cycle
            resp, strobes, rise = await m.write(ctx, r.offset, data, 0xF, aw_delay, w_delay)
            want, pulse = model.write(r.offset, data, 0xF)
            assert resp == want and strobes == ([pulse] if pulse else [])
            # the later of AW and W moves at the end of cycle start + max(delay); the write
            # is performed one cycle later and its response is valid the cycle after that
            assert rise == start + max(aw_delay, w_delay) + 2, (rise, start)
            m.check_rw(ctx, model)
        assert await m.read(ctx, 0x00) == (0xDEADBEEF, OKAY)

    run(3, bench)


@pytest.mark.parametrize("stall", [0.5, 0.9])
def test_back_pressure(stall):
    """bready/rready dropped at random (and valids delayed): responses are held, stable, in
    order; writes queued back to back each get their own response."""
    model = Model()

    async def bench(ctx, m):
        await reset(ctx, m)
        rng = random.Random(m.seed)
        m.set_ro(ctx, model, rng)
        for _ in range(4):
            ops = [(rng.choice(MAP).offset, rng.getrandbits(32), rng.getrandbits(4))
                   for _ in range(6)]
            s0 = len(m.strobes)
            for addr, data, strb in ops:
                m.queue_write(addr, data, strb, rng.randrange(3), rng.randrange(3))
            await m.wait_responses(ctx, writes=len(ops), limit=400)
            await m.step(ctx)
            want = [model.write(*op) for op in ops]
            assert [b for _, b in m.b[-len(ops):]] == [w[0] for w in want]
            assert [(n, v) for _, n, v in m.strobes[s0:]] == [w[1] for w in want if w[1]]
            m.check_rw(ctx, model)
            addrs = [rng.randrange(1 << ADDR_BITS) for _ in range(6)]
            for a in addrs:
                m.queue_read(a, rng.randrange(3))
            await m.wait_responses(ctx, reads=len(addrs), limit=400)
            assert [(d, rr) for _, d, rr in m.r[-len(addrs):]] == [model.read(a) for a in addrs]

    m = run(4, bench, stall=stall)
    assert len(m.b) == 24 and len(m.r) == 24


def test_errors():
    """Every word of the address space: unmapped reads 0 with SLVERR, unmapped and ro writes are
    ignored with SLVERR, nothing else changes."""
    model = Model()

    async def bench(ctx, m):
        await reset(ctx, m)
        rng = random.Random(m.seed)
        m.set_ro(ctx, model, rng)
        for word in range(WORDS):
            addr = 4 * word
            assert await m.read(ctx, addr) == model.read(addr), hex(addr)
            before = dict(model.rw)
            resp, strobes, _ = await m.write(ctx, addr, 0xFFFFFFFF)
            want, pulse = model.write(addr, 0xFFFFFFFF, 0xF)
            assert resp == want and strobes == ([pulse] if pulse else []), hex(addr)
            if word not in BY_WORD or BY_WORD[word].access == "ro":
                assert resp == SLVERR and model.rw == before
            m.check_rw(ctx, model)
            assert await m.read(ctx, addr) == model.read(addr), hex(addr)
        assert sum(1 for w in range(WORDS) if w not in BY_WORD) == WORDS - len(MAP)

    run(5, bench)


def test_reset():
    """Reset returns rw registers to init and drops every valid and half-received write."""
    model = Model()

    async def bench(ctx, m):
        await reset(ctx, m)
        for r in MAP:
            if r.access == "rw":
                await m.write(ctx, r.offset, 0xFFFFFFFF)
                model.write(r.offset, 0xFFFFFFFF, 0xF)
        m.check_rw(ctx, model)
        # a pending write response and a pending read response, both stalled, then reset
        m.queue_write(0x00, 1)
        m.queue_read(0x04)
        for _ in range(6):
            await m.step(ctx, bready=False, rready=False)
        assert m.prev["bvalid"] and m.prev["rvalid"]
        await reset(ctx, m, 1)
        model.reset()
        await m.step(ctx)          # the checks: nothing valid after a reset cycle
        m.check_rw(ctx, model)
        # half a write (address only), reset: the address is forgotten
        m.queue_write(0x00, 0, aw_delay=0, w_delay=50)
        for _ in range(3):
            await m.step(ctx)
        assert m.fired["aw"] == 1 and m.fired["w"] == 0
        await reset(ctx, m, 3)
        m.queue_write(0x00, 0x77, aw_delay=20, w_delay=0)   # data now, address much later
        for _ in range(15):
            await m.step(ctx)
        assert m.fired["w"] == 1 and not m.prev["bvalid"], "wrote with a forgotten address"
        await m.wait_responses(ctx, writes=1)
        model.write(0x00, 0x77, 0xF)
        m.check_rw(ctx, model)
        for r in MAP:
            assert await m.read(ctx, r.offset) == model.read(r.offset), r.name

    run(6, bench)


def test_random_against_model():
    """Seeded random mix: any address, random data and wstrb, random orders and delays, a read
    running alongside a write (to a different word), random stalls, ro inputs changing."""
    model = Model()

    async def bench(ctx, m):
        await reset(ctx, m)
        rng = random.Random(m.seed)
        for i in range(150):
            m.stall = rng.choice((0.0, 0.3, 0.7))
            m.set_ro(ctx, model, rng)
            waddr = rng.randrange(1 << ADDR_BITS)
            raddr = rng.choice([a for a in range(0, 1 << ADDR_BITS, 4) if a >> 2 != waddr >> 2])
            raddr |= rng.randrange(4)
            data, strb = rng.getrandbits(32), rng.getrandbits(4)
            kind = rng.randrange(3)
            if kind != 1:
                m.queue_write(waddr, data, strb, rng.randrange(4), rng.randrange(4))
            if kind != 0:
                m.queue_read(raddr, rng.randrange(4))
            s0 = len(m.strobes)
            await m.wait_responses(ctx, writes=kind != 1, reads=kind != 0)
            await m.step(ctx)
            if kind != 1:
                resp, pulse = model.write(waddr, data, strb)
                assert m.b[-1][1] == resp, (i, hex(waddr))
                assert [(n, v) for _, n, v in m.strobes[s0:]] == ([pulse] if pulse else []), i
            if kind != 0:
                assert m.r[-1][1:] == model.read(raddr), (i, hex(raddr))
            m.check_rw(ctx, model)

    run(7, bench)


# -- validation ----------------------------------------------------------------------------------

R = Register
BAD_MAPS = [
    ([], 12, "the register map is empty"),
    ([R("a", 0, "rw"), R("a", 4, "ro")], 12, "duplicate register name 'a'"),
    ([R("ab", 0, "rw"), R("AB", 4, "ro")], 12,
     "duplicate register name 'AB' (same as 'ab' in a C header)"),
    ([R("a", 8, "rw"), R("b", 8, "ro")], 12, "registers 'a' and 'b' share offset 0x8"),
    ([R("a", 6, "rw")], 12, "register 'a': offset 0x6 is not a multiple of 4"),
    ([R("a", 0x1000, "rw")], 12,
     "register 'a': offset 0x1000 is beyond the 12-bit address space (last word at 0xffc)"),
    ([R("a", 8, "rw")], 3,
     "register 'a': offset 0x8 is beyond the 3-bit address space (last word at 0x4)"),
    ([R("a", -4, "rw")], 12, "register 'a': offset must be a non-negative integer, not -4"),
    ([R("a", 0, "wo")], 12, "register 'a': access must be 'rw', 'ro' or 'pulse', not 'wo'"),
    ([R("a", 0, "rw", 0)], 12, "register 'a': width must be an integer from 1 to 32, not 0"),
    ([R("a", 0, "rw", 33)], 12, "register 'a': width must be an integer from 1 to 32, not 33"),
    ([R("a", 0, "rw", 8, init=256)], 12, "register 'a': init 256 does not fit in 8 bits"),
    ([R("a", 0, "ro", init=1)], 12, "register 'a': init applies to rw registers only, not 'ro'"),
    ([R("2a", 0, "rw")], 12, "register name '2a' is not a C/Verilog identifier (letters, "
                             "digits, _; not starting with a digit)"),
    ([R("s_axil_x", 0, "rw")], 12, "register name 's_axil_x' is reserved for the bus or the "
                                   "clock/reset (no 'clk', 'rst' or 's_axil_*')"),
    ([R("rst", 0, "rw")], 12, "register name 'rst' is reserved for the bus or the clock/reset "
                              "(no 'clk', 'rst' or 's_axil_*')"),
    ([R("reg", 0, "rw")], 12, "register name 'reg' is a Verilog keyword"),
    ([R("signature", 0, "rw")], 12, "register name 'signature' is taken by an attribute of "
                                    "AxiLiteRegisters (or starts with '_')"),
    ([R("go", 0, "pulse"), R("go_strobe", 4, "rw")], 12,
     "register 'go_strobe' clashes with the strobe port of pulse register 'go'"),
    (["ctrl"], 12, "expected a Register, not 'ctrl'"),
    ([R("a", 0, "rw")], 2, "addr_bits must be an integer from 3 to 32, not 2"),
    ([R("a", 0, "rw")], 33, "addr_bits must be an integer from 3 to 32, not 33"),
]


@pytest.mark.parametrize("regs,addr_bits,message", BAD_MAPS, ids=[m for *_, m in BAD_MAPS])
def test_validation_messages(regs, addr_bits, message):
    with pytest.raises(RegisterMapError, match=f"^{re.escape(message)}$"):
        AxiLiteRegisters(regs, addr_bits)
    with pytest.raises(RegisterMapError, match=f"^{re.escape(message)}$"):
        c_header(regs, "x", addr_bits=addr_bits)


def test_valid_edges():
    """The edges of what is allowed: the last word, widths 1 and 32, init at the top."""
    regs = [R("a", 0x7FC, "rw", 32, init=0xFFFFFFFF), R("b", 0, "ro", 1), R("c", 4, "pulse", 1)]
    assert [r.name for r in check_registers(regs, 11)] == ["b", "c", "a"]
    AxiLiteRegisters(regs, 11)


# -- C header and Markdown table -----------------------------------------------------------------

HEADER = """\
/* DEMO register map (AXI4-Lite, 32-bit words, 6-bit addresses).
 * Generated by llmaccel from generators/axi_lite.py; do not edit. */
#ifndef DEMO_H
#define DEMO_H

#define DEMO_SPAN 0x40u

/* ctrl (read/write, 32 bits, reset 0x0): control word */
#define DEMO_CTRL_OFFSET   0x0000
#define DEMO_CTRL_MASK     0xFFFFFFFFu
/* scale (read/write, 12 bits, reset 0x123) */
#define DEMO_SCALE_OFFSET  0x0004
#define DEMO_SCALE_MASK    0x00000FFFu
/* flag (read/write, 1 bit, reset 0x1) */
#define DEMO_FLAG_OFFSET   0x0008
#define DEMO_FLAG_MASK     0x00000001u
/* status (read-only, 32 bits): hardware status */
#define DEMO_STATUS_OFFSET 0x0010
#define DEMO_STATUS_MASK   0xFFFFFFFFu
/* count (read-only, 9 bits) */
#define DEMO_COUNT_OFFSET  0x0014
#define DEMO_COUNT_MASK    0x000001FFu
/* start (write-only pulse, 8 bits) */
#define DEMO_START_OFFSET  0x0018
#define DEMO_START_MASK    0x000000FFu
/* go (write-only pulse, 32 bits) */
#define DEMO_GO_OFFSET     0x001C
#define DEMO_GO_MASK       0xFFFFFFFFu

#endif /* DEMO_H */
"""

TABLE = """\
| offset | name | access | width | reset | description |
|---|---|---|---|---|---|
| `0x0000` | `ctrl` | rw | 32 | `0x0` | control word |
| `0x0004` | `scale` | rw | 12 | `0x123` |  |
| `0x0008` | `flag` | rw | 1 | `0x1` |  |
| `0x0010` | `status` | ro | 32 |  | hardware status |
| `0x0014` | `count` | ro | 9 |  |  |
| `0x0018` | `start` | pulse | 8 |  |  |
| `0x001C` | `go` | pulse | 32 |  |  |
"""


def test_c_header():
    text = c_header(MAP, "demo", addr_bits=ADDR_BITS)
    assert text == HEADER
    # deterministic, independent of the order the map is declared in
    assert c_header(list(reversed(MAP)), "demo", addr_bits=ADDR_BITS) == text
    # docs are one line and cannot close the comment early
    odd = [R("x", 0, "rw", doc="two\n  lines */ here")]
    assert "/* x (read/write, 32 bits, reset 0x0): two lines * / here */" in c_header(odd, "p")
    with pytest.raises(RegisterMapError, match="^prefix '1x' is not a C identifier$"):
        c_header(MAP, "1x")


def test_c_header_compiles(tmp_path):
    """The header is valid C and its values are the map's (needs a C compiler: g++ is present
    for Verilator)."""
    import shutil
    import subprocess
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("g++")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "demo.h").write_text(c_header(MAP, "demo", addr_bits=ADDR_BITS))
    checks = "".join(f"_Static_assert(DEMO_{r.name.upper()}_OFFSET == {r.offset}, \"o\");\n"
                     f"_Static_assert(DEMO_{r.name.upper()}_MASK == {(1 << r.width) - 1}u, "
                     "\"m\");\n" for r in MAP)
    (tmp_path / "t.c").write_text('#include "demo.h"\n#include "demo.h"\n' + checks)
    lang = ["-x", "c"] if cc.endswith("g++") else []
    run = subprocess.run([cc, *lang, "-std=c11", "-Wall", "-Werror", "-fsyntax-only",
                          str(tmp_path / "t.c")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_markdown_table():
    assert markdown_table(MAP, addr_bits=ADDR_BITS) == TABLE
    assert markdown_table(list(reversed(MAP)), addr_bits=ADDR_BITS) == TABLE
    assert "a \\| b" in markdown_table([R("x", 0, "ro", doc="a | b")])
