"""Ternary LUT matmul engine core (Slim-Llama style, mapped for the 7-series FPGA).

One pass computes, for `rows` weight rows per beat, the dot product of one K-slice of
`lanes * g` signed activations with ternary weights:
    sum[r] = sum_{l < lanes} sum_{i < g} w[r, l*g + i] * x[l*g + i].

How (golden/ternary_layout.py defines the bits):
- Activations are stationary. An `acts` beat carries the slice; the table of lane l, the signed
  sums of its g activations for all 3**g trit patterns, is built once per pass and then serves
  every weight row of the pass (output reuse in time as well as across the `rows` of a beat).
- Weights arrive as base-3 group codes (c = sum_i (w_i + 1) * 3**i, packed offline): a lookup
  replaces g add/subtract/skip operations, and the engine spends no logic decoding trits.
- Tables live in distributed RAM: a RAM32M/RAM64M has one write and three read ports per 4 LUTs,
  so one table copy serves three rows per beat. Negative entries are stored, not computed, so the
  tree after the lookups only adds (one LUT per bit on the carry chain; an add/subtract would
  cost two in Yosys' mapping). With `double_buffer=1` the next pass's table is built while this
  one is read.
- Builders: one builder fills the tables of `lanes_per_builder` lanes in turn, one entry per
  cycle (3**g * lanes_per_builder cycles per pass); its activations come from a shift register,
  so sharing costs flip-flops, not multiplexers.
- Every tree level is registered.
- g = 1 is the naive engine from the same code: no table, each trit subtracts, skips or adds its
  activation (the negation made once per pass); its one-cycle build needs no second buffer, so
  `double_buffer` is ignored there.

Zero weights: a group whose trits are all zero reads an entry holding 0 and adds nothing to its
row. Skipping in time is the accelerator's job (generators/ternary.py skips whole zero K-slices),
since a beat of `rows` x `lanes` groups is practically never all zero.

Timing: `acts` is accepted when a table buffer is free and no build is running. `weights` beats
are accepted when the current table is built; the beat with `last` set ends the pass and frees its
table. `sums` come out in order, LATENCY cycles after their weights beat when not stalled; a
stalled `sums` sink holds the whole pipeline (nothing lost or reordered). While the reset is high
no stream moves.
"""
from amaranth import Module, Signal, Cat, Const, Mux, ResetSignal, signed, unsigned
from amaranth.lib import wiring, stream, data
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import Param, resolve


class TernaryEngine(wiring.Component):
    BLOCK = "ternary_engine"
    SUMMARY = "ternary LUT dot-product engine core: signed tables in LUTRAM, adder tree"
    PARAMS = (
        Param("g", 3, "activations per table (1 = naive add/sub/skip engine)", 1, 4),
        Param("lanes", 32, "groups per beat (K-slice = lanes * g)", 1, 256, power_of_two=True),
        Param("rows", 3, "weight rows per beat (one table copy has 3 read ports)", 1, 3),
        Param("act_bits", 8, "signed activation width", 2, 16),
        Param("double_buffer", 1, "build the next table while reading this one", 0, 1),
        Param("lanes_per_builder", 4, "lanes whose tables one shared builder fills in turn",
              1, 16, power_of_two=True),
    )

    def __init__(self, **params):
        p = resolve(self.PARAMS, params)
        self.params = p
        self.g, self.lanes, self.rows = p["g"], p["lanes"], p["rows"]
        # g = 1 builds in one cycle: nothing to hide, so one buffer (a second would cost a
        # 2:1 mux per activation bit).
        self.act_bits = p["act_bits"]
        self.buffers = 2 if p["double_buffer"] and p["g"] > 1 else 1
        self.entries = 3 ** self.g
        self.index_bits = (self.entries - 1).bit_length()
        self.entry_bits = (self.g << (self.act_bits - 1)).bit_length() + 1
        self.sum_bits = ((self.lanes * self.g) << (self.act_bits - 1)).bit_length() + 1
        self.levels = (self.lanes - 1).bit_length()
        self.LATENCY = 1 + self.levels + 1  # table read, tree levels, output register
        self.per_builder = min(p["lanes_per_builder"], self.lanes)
        self.build_cycles = self.entries * self.per_builder if self.g > 1 else 1
        members = {
            "acts": In(stream.Signature(data.ArrayLayout(signed(self.act_bits),
                                                         self.lanes * self.g))),
            "weights": In(stream.Signature(data.StructLayout({
                "code": data.ArrayLayout(unsigned(self.index_bits), self.rows * self.lanes),
                "last": 1,
            }))),
            "sums": Out(stream.Signature(data.StructLayout({
                "sum": data.ArrayLayout(signed(self.sum_bits), self.rows),
                "last": 1,
            }))),
        }
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        rst = ResetSignal()
        g, L, R, B = self.g, self.lanes, self.rows, self.buffers

        # ---- pipeline control: a stalled output holds every stage -------------------------
        advance = Signal()
        out_valid = Signal()
        m.d.comb += advance.eq(~(out_valid & ~self.sums.ready))

        # ---- table buffers ------------------------------------------------------------------
        built = Signal(B)
        front = Signal(range(max(B, 2)))
        building = Signal()
        build_buf = Signal(range(max(B, 2)))
        build_j = Signal(range(max(self.entries, 2)))
        P = self.per_builder
        build_lane = Signal(range(max(P, 2)))
        acts = Signal(data.ArrayLayout(signed(self.act_bits), L * g))

        if B == 2:
            target = Mux(built.bit_select(front, 1), ~front, front)
            free = ~built.bit_select(target, 1)
        else:
            target = Const(0, 1)
            free = ~built[0]
        m.d.comb += self.acts.ready.eq(~rst & ~building & free)
        acts_fire = self.acts.valid & self.acts.ready
        w_fire = Signal()
        m.d.comb += [self.weights.ready.eq(~rst & advance & built.bit_select(front, 1)),
                     w_fire.eq(self.weights.valid & self.weights.ready)]

        slot_bits = (self.entries - 1).bit_length() if g > 1 else 0
        set_built = Signal(B)
        clear_built = Signal(B)
        with m.If(acts_fire):
            m.d.sync += [build_buf.eq(target), acts.eq(self.acts.payload)]
            if g > 1:
                m.d.sync += [building.eq(1), build_j.eq(0), build_lane.eq(0)]
            else:  # the "table" is the activation register itself: ready next cycle
                m.d.comb += set_built.eq(1 << target if B == 2 else 1)
        if g > 1:
            with m.If(building):
                m.d.sync += build_j.eq(build_j + 1)
                with m.If(build_j == self.entries - 1):
                    m.d.sync += [build_j.eq(0), build_lane.eq(build_lane + 1)]
                    # Each builder's slice shifts by one group: its next lane's activations
                    # come to the front (a shift register costs flip-flops, not LUTs).
                    for b0 in range(0, L, P):
                        for lane in range(b0, b0 + P - 1):
                            for i in range(g):
                                m.d.sync += acts[lane * g + i].eq(acts[(lane + 1) * g + i])
                    with m.If(build_lane == P - 1):
                        m.d.sync += building.eq(0)
                        for b in range(B):
                            with m.If(build_buf == b):
                                m.d.comb += set_built[b].eq(1)
        with m.If(w_fire & self.weights.payload.last):
            for b in range(B):
                with m.If(front == b):
                    m.d.comb += clear_built[b].eq(1)
            if B == 2:
                m.d.sync += front.eq(~front)
        m.d.sync += built.eq((built & ~clear_built) | set_built)

        # Signs of table entry j (shared by all lanes): the trits of code j.
        sign_en = Signal(g)
        sign_neg = Signal(g)
        if g > 1:
            with m.Switch(build_j):
                for j in range(self.entries):
                    c = j
                    trits = [(c // 3 ** i) % 3 - 1 for i in range(g)]
                    with m.Case(j):
                        m.d.comb += [sign_en.eq(Cat(Const(t != 0, 1) for t in trits)),
                                     sign_neg.eq(Cat(Const(t < 0, 1) for t in trits))]

        # ---- stage 1: table reads (one per row and lane) -----------------------------------
        leaves = []   # per row: the looked-up values, one per lane
        valid = Signal()
        last = Signal()
        with m.If(advance):
            m.d.sync += [valid.eq(w_fire), last.eq(self.weights.payload.last & w_fire)]
        for r in range(R):
            leaves.append([])
        if g == 1:  # negated activations, made once per pass for the naive engine's subtracts
            neg_x = [Signal(signed(self.entry_bits), name=f"neg_x{lane}") for lane in range(L)]
            with m.If(acts_fire):
                m.d.sync += [neg_x[lane].eq(-self.acts.payload[lane]) for lane in range(L)]
        entries = []  # per builder: the table entry it writes this cycle
        if g > 1:
            for b0 in range(0, L, P):
                entry = Signal(signed(self.entry_bits), name=f"entry{b0 // P}")
                m.d.comb += entry.eq(sum(
                    Mux(sign_en[i], Mux(sign_neg[i], -acts[b0 * g + i], acts[b0 * g + i]), 0)
                    for i in range(g)))
                entries.append(entry)
        for lane in range(L):
            group = [acts[lane * g + i] for i in range(g)]
            if g > 1:
                mem = Memory(shape=signed(self.entry_bits), depth=B << slot_bits, init=[])
                m.submodules[f"table{lane}"] = mem
                wp = mem.write_port()
                m.d.comb += [wp.addr.eq(Cat(build_j, build_buf) if B == 2 else build_j),
                             wp.data.eq(entries[lane // P]),
                             wp.en.eq(building & (build_lane == lane % P))]
            for r in range(R):
                k = r * L + lane
                code = self.weights.payload.code[k]
                value = Signal(signed(self.entry_bits), name=f"leaf{r}_{lane}")
                if g > 1:
                    rp = mem.read_port(domain="comb")
                    m.d.comb += rp.addr.eq(Cat(code, front) if B == 2 else code)
                    read = rp.data
                else:
                    # The naive engine: code 0 subtracts, 1 skips, 2 adds the activation.
                    read = Mux(code[1], group[0], Mux(code[0], 0, neg_x[lane]))
                with m.If(advance):
                    m.d.sync += value.eq(read)
                leaves[r].append(value)

        # ---- adder tree: plain adds (one LUT per bit on the carry chain) -----------------------
        stage_valid, stage_last = valid, last
        for level in range(self.levels):
            nv, nl = Signal(name=f"valid_l{level}"), Signal(name=f"last_l{level}")
            with m.If(advance):
                m.d.sync += [nv.eq(stage_valid), nl.eq(stage_last)]
            stage_valid, stage_last = nv, nl
            for r in range(R):
                nodes = []
                width = self.entry_bits + level + 1
                for a in range(0, len(leaves[r]), 2):
                    v = Signal(signed(width), name=f"node{r}_l{level}_{a // 2}")
                    with m.If(advance):
                        m.d.sync += v.eq(leaves[r][a] + leaves[r][a + 1])
                    nodes.append(v)
                leaves[r] = nodes

        # ---- output register ---------------------------------------------------------------
        out_last = Signal()
        sums = Signal(data.ArrayLayout(signed(self.sum_bits), R))
        with m.If(advance):
            m.d.sync += [out_valid.eq(stage_valid), out_last.eq(stage_last)]
            for r in range(R):
                m.d.sync += sums[r].eq(leaves[r][0])
        m.d.comb += [self.sums.valid.eq(out_valid & ~rst), self.sums.payload.sum.eq(sums),
                     self.sums.payload.last.eq(out_last)]
        return m
