"""Reusable cocotb testbench parts for valid/ready streams (amaranth.lib.stream ports as Yosys emits
them: `<name>__valid`, `<name>__ready`, `<name>__payload`).

One coroutine, `ClockedLoop`, steps every agent once a cycle: agents drive their outputs after the
rising edge, then sample handshakes in the ReadOnly phase, when every combinational ready/valid has
settled (a beat moves at the next edge where valid & ready was seen). One loop for all agents keeps
Python's per-cycle work, which sets the simulation speed, to two awaits a cycle however many
streams a bench has.

Pause generators (the cocotbext-axi idea) are iterators of booleans: True holds a source's next
beat back, or a sink's ready low, for one cycle.
"""
import random
from collections import deque
from itertools import repeat

from cocotb.triggers import ReadOnly, RisingEdge


class ProtocolError(AssertionError):
    """The design broke the stream rules (valid dropped or payload changed before ready)."""


class ScoreboardError(AssertionError):
    """The design produced a value the golden model did not expect."""


def random_pause(rng: random.Random, probability: float):
    """Pause with the given probability each cycle (0 gives no pause at all)."""
    if probability <= 0:
        return repeat(False)
    return iter(lambda: rng.random() < probability, None)


class StreamPort:
    """The signals of one stream port of the DUT. `payload` is None for a bare handshake."""

    def __init__(self, dut, name: str):
        self.name = name
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload", None)


class Agent:
    def drive(self, cycle: int):
        """Called after the rising edge: set this agent's outputs for the cycle."""

    def sample(self, cycle: int):
        """Called in the ReadOnly phase: observe what happens at the next edge."""


class StreamMonitor(Agent):
    """Passive: records each beat that moves; `fired` is this cycle's payload (or None)."""

    def __init__(self, port: StreamPort, on_beat=None):
        self.port = port
        self.on_beat = on_beat
        self.fired = None
        self.beats = 0

    def sample(self, cycle):
        self.fired = None
        if self.port.valid.value == 1 and self.port.ready.value == 1:
            self.fired = int(self.port.payload.value) if self.port.payload is not None else 0
            self.beats += 1
            if self.on_beat:
                self.on_beat(cycle, self.fired)


class StreamSource(StreamMonitor):
    """Drives queued payloads with valid; keeps a beat (valid and payload) until it moves."""

    def __init__(self, port: StreamPort, pause=None, on_beat=None):
        super().__init__(port, on_beat)
        self.queue = deque()
        self.pause = pause if pause is not None else repeat(False)
        self.presenting = False
        self._valid_out = None

    def send(self, payload: int = 0):
        self.queue.append(payload)

    def idle(self) -> bool:
        return not self.queue and not self.presenting

    def clear(self):
        self.queue.clear()
        self.presenting = False

    def drive(self, cycle):
        if not self.presenting and self.queue and not next(self.pause):
            self.presenting = True
            if self.port.payload is not None:
                self.port.payload.value = self.queue[0]
        if self._valid_out != self.presenting:
            self.port.valid.value = int(self.presenting)
            self._valid_out = self.presenting

    def sample(self, cycle):
        super().sample(cycle)
        if self.fired is not None:
            self.queue.popleft()
            self.presenting = False


class StreamSink(StreamMonitor):
    """Drives ready from its pause generator and checks the DUT keeps valid and payload stable
    while a beat waits for ready."""

    def __init__(self, port: StreamPort, pause=None, on_beat=None):
        super().__init__(port, on_beat)
        self.pause = pause if pause is not None else repeat(False)
        self.enabled = True
        self._waiting = None  # payload of a beat offered but not taken last cycle
        self._ready_out = None

    def drive(self, cycle):
        ready = self.enabled and not next(self.pause)
        if self._ready_out != ready:
            self.port.ready.value = int(ready)
            self._ready_out = ready

    def sample(self, cycle):
        super().sample(cycle)
        valid = self.port.valid.value == 1
        if self._waiting is not None:
            if not valid:
                raise ProtocolError(f"{self.port.name}: valid dropped at cycle {cycle} before ready")
            if self.port.payload is not None and int(self.port.payload.value) != self._waiting:
                raise ProtocolError(f"{self.port.name}: payload changed at cycle {cycle} before ready")
        self._waiting = None
        if valid and self.fired is None:
            self._waiting = int(self.port.payload.value) if self.port.payload is not None else 0

    def forget(self):
        """Forget a beat in flight (after a reset, the DUT may legally withdraw it)."""
        self._waiting = None


class InOrderScoreboard:
    """Expected items in order; each observed item must equal the oldest expected one."""

    def __init__(self, name: str, describe=repr):
        self.name = name
        self.expected = deque()
        self.matched = 0
        self.describe = describe

    def expect(self, item):
        self.expected.append(item)

    def observe(self, cycle: int, item):
        if not self.expected:
            raise ScoreboardError(f"{self.name}: unexpected {self.describe(item)} at cycle {cycle}")
        want = self.expected.popleft()
        if item != want:
            raise ScoreboardError(f"{self.name}: at cycle {cycle} got {self.describe(item)}, "
                                  f"expected {self.describe(want)}")
        self.matched += 1

    def clear(self):
        self.expected.clear()

    def done(self) -> bool:
        return not self.expected


class ClockedLoop:
    """Steps agents once per clock cycle (see the module docstring)."""

    def __init__(self, clk, agents=()):
        self.clk = clk
        self.agents = list(agents)
        self.cycle = 0

    def add(self, *agents):
        self.agents.extend(agents)

    async def step(self):
        for agent in self.agents:
            agent.drive(self.cycle)
        await ReadOnly()
        for agent in self.agents:
            agent.sample(self.cycle)
        await RisingEdge(self.clk)
        self.cycle += 1

    async def run_until(self, done, max_cycles: int):
        start = self.cycle
        while not done():
            if self.cycle - start >= max_cycles:
                raise AssertionError(f"no progress: still busy after {max_cycles} cycles")
            await self.step()
