"""Ternary matmul accelerator: Y[M, N] = X[M, K] (int8) x W[K, N] (ternary), int32-class results.

Composition: two SRAM controllers (generators/sram.py) and the LUT engine core
(generators/ternary_engine.py), with tiling over K (passes of `lanes * g` activations) and over
N (words of `rows` weight rows), and an accumulator memory over the passes.

- Activation buffer (SRAM, one set): the host's `acts` beats, one K-slice per beat, in the order
  (m, pass): address m * passes + pass.
- Weight buffer (SRAM, ping-pong): one tile = one pass's slice of every weight row, `words` beats
  of `rows` rows by `lanes` group codes. The loader fills one set while the engine reads the
  other; they swap when the tile is complete and the engine is done with the previous one, so the
  next tile loads while the current one computes. A tile is loaded once and serves all M rows.
- Per (pass, m): one activation slice goes to the engine (it builds its tables), then the tile's
  words stream past them; each `sums` beat adds into the accumulator memory at (m, word). The last
  pass sends the totals out instead of storing them.
- M = 1 (decode) uses every tile once: with `direct_fifo` > 0 the weight beats bypass the tile
  buffer and go to the engine as they arrive, through a FIFO of `direct_fifo` beats (it holds
  the beats that come while the first table builds), so no tile is filled before the engine
  starts and no pass waits for a swap. Activation slices are read as soon as they are written:
  the first tables build while the rest of X arrives.

Host protocol: one `cmd` beat {m, words, passes} (M; ceil(N / rows); ceil(K / (lanes * g)), each
at least 1 and at most the maxima), then the M * passes activation slices {x, skip} (x padded with
zeros past K; `skip` set when that pass's K-slice of W is zero for every row), and the weight beats
of the passes not skipped, words each (group codes, padded with the zero code (3**g - 1) // 2 past
N or K). Weights are accepted once every activation slice has arrived (the skip flags decide
which tiles come), so a host must not hold the activations back behind the weights.

Sparsity: a zero weight group reads a table entry holding 0, so it adds nothing (no accumulation
work). A pass whose whole K-slice of W is zero (pruned input channels) is skipped in time: its
tile is not sent or loaded, no table is built, no words stream, no sums are accumulated. The last
pass is never skipped (it sends the results out); the hardware ignores its flag. `results` carries Y row by row, `rows` values per beat (values past
N are 0), `last` on the final beat. The next `cmd` is accepted when the results are out.
golden/ternary_layout.py packs and unpacks all of it (see `pack_*` there).

Accumulators are ACC_BITS wide: any sum of k_max products of an int8 and a trit fits
(|sum| <= k_max * 128; golden.ternary.accumulator_bits), so no overflow is possible at k_max.
"""
from amaranth import Cat, Module, Signal, Mux, ResetSignal, signed, unsigned
from amaranth.lib import wiring, stream, data
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import Param, resolve
from .sram import SramController
from .ternary_engine import TernaryEngine


def _pow2_at_least(n: int, minimum: int = 16) -> int:
    size = minimum
    while size < n:
        size *= 2
    return size


class TernaryAccelerator(wiring.Component):
    BLOCK = "ternary"
    SUMMARY = "ternary LUT matmul accelerator: SRAM buffers (ping-pong weights), engine, K/N tiling"
    PARAMS = (
        *(p for p in TernaryEngine.PARAMS if p.name in ("g", "rows")),
        Param("lanes", 16, "groups per pass (K-slice = lanes * g)", 1, 256, power_of_two=True),
        Param("k_max", 1536, "largest K", 1, 1 << 20),
        Param("n_max", 1536, "largest N", 1, 1 << 16),
        Param("m_max", 8, "largest M (rows of X)", 1, 256),
        Param("act_bits", 8, "signed activation width", 2, 8),
        *(p for p in TernaryEngine.PARAMS if p.name in ("double_buffer", "lanes_per_builder")),
        Param("direct_fifo", 64, "M = 1: weight beats pass the tile buffer by, into the engine "
              "through a FIFO of this many beats (0: always through the tile buffer)", 0, 512),
    )

    def __init__(self, **params):
        p = resolve(self.PARAMS, params)
        self.params = p
        self.g, self.lanes, self.rows = p["g"], p["lanes"], p["rows"]
        self.slice = self.lanes * self.g
        self.passes_max = -(-p["k_max"] // self.slice)
        self.words_max = -(-p["n_max"] // self.rows)
        self.m_max = p["m_max"]
        self.code_bits = (3 ** self.g - 1).bit_length()
        self.act_bits = p["act_bits"]
        self.ACC_BITS = (p["k_max"] << (self.act_bits - 1)).bit_length() + 1
        self.engine_params = {"g": self.g, "lanes": self.lanes, "rows": self.rows,
                              "act_bits": self.act_bits, "double_buffer": p["double_buffer"],
                              "lanes_per_builder": p["lanes_per_builder"]}
        beat_bits = self.rows * self.lanes * self.code_bits
        self.weight_word_bits = -(-beat_bits // 8) * 8
        # A slice and its pass's skip flag (the tile of that pass is all zero: no weights sent).
        self.act_word_bits = -(-(self.slice * self.act_bits + 1) // 8) * 8
        self.weight_depth = _pow2_at_least(self.words_max)
        self.act_depth = _pow2_at_least(self.m_max * self.passes_max)
        self.direct_fifo = p["direct_fifo"]
        self.cmd_layout = data.StructLayout({
            "m": range(self.m_max + 1), "words": range(self.words_max + 1),
            "passes": range(self.passes_max + 1)})
        super().__init__({
            "cmd": In(stream.Signature(self.cmd_layout)),
            "acts": In(stream.Signature(data.StructLayout({
                "x": data.ArrayLayout(signed(self.act_bits), self.slice), "skip": 1}))),
            "weights": In(stream.Signature(data.ArrayLayout(unsigned(self.code_bits),
                                                           self.rows * self.lanes))),
            "results": Out(stream.Signature(data.StructLayout({
                "y": data.ArrayLayout(signed(self.ACC_BITS), self.rows), "last": 1}))),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        rst = ResetSignal()
        R = self.rows
        m.submodules.engine = engine = TernaryEngine(**self.engine_params)
        m.submodules.weight_buffer = wbuf = SramController(
            width=self.weight_word_bits, depth=self.weight_depth, banks=1, read_ports=1,
            pingpong=1, ecc=0, granularity=self.weight_word_bits)   # whole words only
        m.submodules.act_buffer = abuf = SramController(
            width=self.act_word_bits, depth=self.act_depth, banks=1, read_ports=1,
            pingpong=0, ecc=0, granularity=self.act_word_bits)

        # ---- command ---------------------------------------------------------------------------
        busy = Signal()
        M = Signal.like(self.cmd.payload.m)
        W = Signal.like(self.cmd.payload.words)
        P = Signal.like(self.cmd.payload.passes)
        m.d.comb += [self.cmd.ready.eq(~busy & ~rst), self.busy.eq(busy)]
        start = self.cmd.valid & self.cmd.ready
        direct = Signal()   # this run's weight beats go straight to the engine (M = 1)
        with m.If(start):
            m.d.sync += [busy.eq(1), M.eq(self.cmd.payload.m), W.eq(self.cmd.payload.words),
                         P.eq(self.cmd.payload.passes),
                         direct.eq((self.cmd.payload.m == 1) if self.direct_fifo else 0)]

        # ---- activation loader: M * P slices into the activation buffer --------------------
        act_count = Signal(range(self.act_depth + 1))
        acts_total = Signal(range(self.act_depth + 1))
        m.d.comb += acts_total.eq(M * P)
        acts_loaded = Signal()
        load_p = Signal(range(self.passes_max + 1))   # pass of the slice being loaded
        first_row = Signal()                           # loading row 0 of X: record the flags
        live = Signal(range(self.passes_max + 1))      # passes whose tile is not all zero
        skip_flags = Memory(shape=1, depth=self.passes_max, init=[])
        m.submodules.skip_flags = skip_flags
        skip_w = skip_flags.write_port()
        with m.If(start):
            m.d.sync += [act_count.eq(0), acts_loaded.eq(0), load_p.eq(0), first_row.eq(1),
                         live.eq(0)]
        # The last pass is never skipped: it sends the results out.
        flag = self.acts.payload.skip & (load_p + 1 != P)
        m.d.comb += [skip_w.addr.eq(load_p), skip_w.data.eq(flag),
                     skip_w.en.eq(self.acts.valid & self.acts.ready & first_row)]
        m.d.comb += [
            abuf.write.valid.eq(self.acts.valid & busy & ~acts_loaded),
            abuf.write.payload.addr.eq(act_count),
            abuf.write.payload.data.eq(Cat(self.acts.payload.x.as_value(), flag)),
            abuf.write.payload.be.eq(-1),
            self.acts.ready.eq(abuf.write.ready & busy & ~acts_loaded),
        ]
        with m.If(self.acts.valid & self.acts.ready):
            m.d.sync += [act_count.eq(act_count + 1), load_p.eq(load_p + 1)]
            with m.If(first_row & ~flag):
                m.d.sync += live.eq(live + 1)
            with m.If(load_p + 1 == P):
                m.d.sync += [load_p.eq(0), first_row.eq(0)]
            with m.If(act_count + 1 == acts_total):
                m.d.sync += acts_loaded.eq(1)

        # ---- weight loader: tile after tile into the fill set, then swap ------------------------
        load_word = Signal(range(self.weight_depth + 1))
        load_tile = Signal(range(self.passes_max + 1))
        tile_full = Signal()
        with m.If(start):
            m.d.sync += [load_word.eq(0), load_tile.eq(0), tile_full.eq(0)]
        wanted = busy & acts_loaded & (load_tile < live)     # beats of live passes still to come
        loading = wanted & ~tile_full & ~direct
        m.d.comb += [
            wbuf.write.valid.eq(self.weights.valid & loading),
            wbuf.write.payload.addr.eq(load_word),
            wbuf.write.payload.data.eq(self.weights.payload.as_value()),
            wbuf.write.payload.be.eq(-1),
            wbuf.swap_fill.valid.eq(tile_full),
        ]
        # M = 1 uses each tile once: its beats go to the engine as they come, through a FIFO
        # (its ready is registered, and it takes the beats that arrive while the first table
        # builds), with no tile to fill first and no swap.
        if self.direct_fifo:
            m.submodules.direct_fifo = dfifo = SyncFIFO(
                width=len(self.weights.payload.as_value()), depth=self.direct_fifo)
            m.d.comb += [dfifo.w_data.eq(self.weights.payload.as_value()),
                         dfifo.w_en.eq(self.weights.valid & wanted & direct),
                         self.weights.ready.eq(Mux(direct, dfifo.w_rdy & wanted,
                                                   wbuf.write.ready & loading))]
        else:
            m.d.comb += self.weights.ready.eq(wbuf.write.ready & loading)
        with m.If(self.weights.valid & self.weights.ready):
            m.d.sync += load_word.eq(load_word + 1)
            with m.If(load_word + 1 == W):
                m.d.sync += load_word.eq(0)
                with m.If(direct):
                    m.d.sync += load_tile.eq(load_tile + 1)
                with m.Else():
                    m.d.sync += tile_full.eq(1)
        with m.If(wbuf.swap_fill.valid & wbuf.swap_fill.ready):
            m.d.sync += [tile_full.eq(0), load_tile.eq(load_tile + 1)]

        # ---- request generators -------------------------------------------------------------
        # Activation slices walk (pass, m) on their own, ahead of the weights: the engine builds
        # the next table while the current one is read, so the slice must be there early.
        act_pass = Signal(range(self.passes_max + 1))
        act_m = Signal(range(self.m_max + 1))
        act_addr = Signal(range(self.act_depth + 1))
        acts_issuing = Signal()
        with m.If(start):
            m.d.sync += [act_pass.eq(0), act_m.eq(0), act_addr.eq(0), acts_issuing.eq(1)]
        # A slice is read as soon as it is written (a write is seen by reads from the next
        # cycle on): the first tables build while the rest of X still arrives.
        m.d.comb += [abuf.read_req[0].valid.eq(busy & acts_issuing
                                               & (acts_loaded | (act_addr < act_count))),
                     abuf.read_req[0].payload.eq(act_addr)]
        with m.If(abuf.read_req[0].valid & abuf.read_req[0].ready):
            m.d.sync += [act_m.eq(act_m + 1), act_addr.eq(act_addr + P)]
            with m.If(act_m + 1 == M):
                m.d.sync += [act_m.eq(0), act_pass.eq(act_pass + 1), act_addr.eq(act_pass + 1)]
                with m.If(act_pass + 1 == P):
                    m.d.sync += acts_issuing.eq(0)

        # Weight words walk (pass, m, word) through the tile in the compute set.
        req_pass = Signal(range(self.passes_max + 1))
        req_m = Signal(range(self.m_max + 1))
        req_word = Signal(range(self.weight_depth + 1))
        have_tile = Signal()
        issuing = Signal()
        with m.If(start):
            m.d.sync += [req_pass.eq(0), req_m.eq(0), req_word.eq(0), have_tile.eq(0),
                         issuing.eq(1)]
        # Ask for a tile when none is held (the first, and after finishing one).
        skip_r = skip_flags.read_port(domain="comb")
        m.d.comb += skip_r.addr.eq(req_pass)
        skipping = busy & issuing & acts_loaded & skip_r.data
        with m.If(skipping):  # a zero tile: nothing to read, no swap, no sums
            m.d.sync += req_pass.eq(req_pass + 1)
        m.d.comb += wbuf.swap_drain.valid.eq(busy & issuing & acts_loaded & ~skip_r.data
                                             & ~have_tile & ~direct)
        with m.If(wbuf.swap_drain.valid & wbuf.swap_drain.ready):
            m.d.sync += have_tile.eq(1)
        m.d.comb += [wbuf.read_req[0].valid.eq(busy & issuing & have_tile & ~skip_r.data
                                               & ~direct),
                     wbuf.read_req[0].payload.eq(req_word)]
        with m.If(wbuf.read_req[0].valid & wbuf.read_req[0].ready):
            m.d.sync += req_word.eq(req_word + 1)
            with m.If(req_word + 1 == W):
                m.d.sync += [req_word.eq(0), req_m.eq(req_m + 1)]
                with m.If(req_m + 1 == M):
                    m.d.sync += [req_m.eq(0), req_pass.eq(req_pass + 1), have_tile.eq(0)]
                    with m.If(req_pass + 1 == P):
                        m.d.sync += issuing.eq(0)

        # ---- engine feeds: responses in request order ---------------------------------------
        resp_word = Signal(range(self.weight_depth + 1))
        act_skip = abuf.read_resp[0].payload.data[self.slice * self.act_bits]
        m.d.comb += [
            engine.acts.valid.eq(abuf.read_resp[0].valid & ~act_skip),
            engine.acts.payload.eq(abuf.read_resp[0].payload.data),
            abuf.read_resp[0].ready.eq(engine.acts.ready | act_skip),
            engine.weights.payload.last.eq(resp_word + 1 == W),
            wbuf.read_resp[0].ready.eq(engine.weights.ready),
        ]
        if self.direct_fifo:
            m.d.comb += [
                engine.weights.valid.eq(Mux(direct, dfifo.r_rdy, wbuf.read_resp[0].valid)),
                engine.weights.payload.code.eq(Mux(direct, dfifo.r_data,
                                                   wbuf.read_resp[0].payload.data)),
                dfifo.r_en.eq(direct & engine.weights.ready),
            ]
        else:
            m.d.comb += [engine.weights.valid.eq(wbuf.read_resp[0].valid),
                         engine.weights.payload.code.eq(wbuf.read_resp[0].payload.data)]
        with m.If(start):
            m.d.sync += resp_word.eq(0)
        with m.If(engine.weights.valid & engine.weights.ready):
            m.d.sync += resp_word.eq(Mux(resp_word + 1 == W, 0, resp_word + 1))

        # ---- accumulation over passes ---------------------------------------------------------
        acc_words = self.m_max * self.words_max
        acc = Memory(shape=data.ArrayLayout(signed(self.ACC_BITS), R), depth=acc_words, init=[])
        m.submodules.accumulators = acc
        acc_w = acc.write_port()
        acc_r = acc.read_port(transparent_for=(acc_w,))
        sum_pass = Signal(range(self.passes_max + 1))
        sum_m = Signal(range(self.m_max + 1))
        sum_word = Signal(range(self.weight_depth + 1))
        sum_addr = Signal(range(acc_words + 1))
        with m.If(start):
            m.d.sync += [sum_pass.eq(0), sum_m.eq(0), sum_word.eq(0), sum_addr.eq(0)]

        s1_valid = Signal()
        s1_sums = Signal(data.ArrayLayout(signed(engine.sum_bits), R))
        s1_addr = Signal.like(sum_addr)
        s1_first = Signal()
        s1_final = Signal()
        s1_last = Signal()
        s1_advance = Signal()
        m.d.comb += s1_advance.eq(~s1_valid | ~s1_final | self.results.ready)
        m.d.comb += engine.sums.ready.eq(s1_advance & ~rst)
        take = engine.sums.valid & engine.sums.ready
        m.d.comb += [acc_r.addr.eq(sum_addr), acc_r.en.eq(take)]
        with m.If(s1_advance):
            m.d.sync += s1_valid.eq(take)
        with m.If(take):
            final = sum_pass + 1 == live
            m.d.sync += [s1_sums.eq(engine.sums.payload.sum), s1_addr.eq(sum_addr),
                         s1_first.eq(sum_pass == 0), s1_final.eq(final),
                         s1_last.eq(final & (sum_m + 1 == M) & (sum_word + 1 == W))]
            m.d.sync += [sum_word.eq(sum_word + 1), sum_addr.eq(sum_addr + 1)]
            with m.If(sum_word + 1 == W):
                m.d.sync += [sum_word.eq(0), sum_m.eq(sum_m + 1)]
                with m.If(sum_m + 1 == M):
                    m.d.sync += [sum_m.eq(0), sum_pass.eq(sum_pass + 1), sum_addr.eq(0)]
        total = Signal(data.ArrayLayout(signed(self.ACC_BITS), R))
        for r in range(R):
            m.d.comb += total[r].eq(Mux(s1_first, 0, acc_r.data[r]) + s1_sums[r])
        m.d.comb += [
            acc_w.addr.eq(s1_addr), acc_w.data.eq(total),
            acc_w.en.eq(s1_valid & ~s1_final),
            self.results.valid.eq(s1_valid & s1_final & ~rst),
            self.results.payload.y.eq(total),
            self.results.payload.last.eq(s1_last),
        ]
        with m.If(self.results.valid & self.results.ready & s1_last):
            m.d.sync += busy.eq(0)
        return m
