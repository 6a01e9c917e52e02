"""BFP matmul core: Y[M, N] = X[M, K] . W[N, K]^T on llama.cpp Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (x Q8_0
or Q8_1 activations) or OCP MXINT8 blocks, bit-exact with the golden models (golden/bfp.py,
golden/q4q5.py: llama.cpp's scalar ggml_vec_dot_*_generic).

The stream layout (64-bit words in and out) and the FORMAT codes are golden/bfp_layout.py's. Per
matmul:
- X (M rows) is loaded whole into the activation buffers (SRAM controllers: qs, and scales).
- W is loaded in tiles of `out_lanes` rows into ping-pong weight buffers (qs and scales, each lane
  owning a byte slice of a wide word), so the next tile loads while the current one computes. A
  word of 4- or 5-bit weights is stored as it came (one stream word per cycle in every format);
  for 5-bit weights the loader stores beside it, in a 16-bit side buffer, bit 4 of its 16 values
  from the qh word of its pair of blocks. After the buffers each lane unpacks the values of its
  compute word (the low nibbles of a word, then the high ones, bit 4, minus the format's offset)
  into int8, so the MAC lanes see int8 weights. The activations of these formats arrive in the
  same order (golden/bfp_layout.py).
- Compute walks, per tile, block b, then row m of X, then the `32 / mac_lanes` words of the block:
  every cycle each output lane multiplies `mac_lanes` int8 pairs (its weight row against the same
  activations: output reuse) and sums them; after a block's last word the lane holds the exact
  int32 block dot product sumi.
- Then per lane, in binary32 (generators/fp32_*.py, round-to-nearest-even, one rounding each;
  one chain of units serves min(out_lanes, 32 / mac_lanes) lanes in turn, as a lane finishes a
  block at most every 32 / mac_lanes cycles), three stages and the accumulating adder:
    stage 1:  scale = fp32(d_w) * fp32(d_x);  mins = fp32(m_w) * fp32(s_x);  fsumi = fp32(sumi)
              (MXINT8: fsumi = sumi * 2**(e_w + e_x - 266) rounded once, NaN if an E8M0 byte is
              0xFF: no float multiplier, an exponent shift)
    stage 2:  prod = fsumi * scale                    (Q4_0: fsumi * fp32(d_w); MXINT8: fsumi)
    stage 3:  Q4_0: prod * fp32(d_x);  Q4_1, Q5_1: prod + mins;  the others: prod
    sumf[m] = sumf[m] + value
  sumf[m] starts at +0 and takes the blocks in order, exactly the reference loop. After the last
  block the lanes' sums go out.
- K beyond the buffers: with `sum_in`, each tile's sums start from float32 values streamed before
  the tile's rows instead of +0, so a host splits K into parts and passes each part's Y to the
  next: the same additions in the same order, bit for bit the unsplit result.
The order (block outside, rows of X inside) keeps M accumulators per lane in flight, so the
pipelined adder's loop latency is hidden when M * 32 / mac_lanes covers it; otherwise the join
holds block results apart (`gap`) so an accumulator is never read before its last sum is back.

Everything after the buffers is one lock-step pipeline that advances unless a finished result
vector finds the output FIFO full.
"""
from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .fp32_add import Fp32Adder
from .fp32_from_int import Fp32FromInt
from .fp_formats import fp16_to_fp32
from .fp32_mul import Fp32Multiplier
from .params import Param, resolve
from .sram import SramController
from llmaccel.golden.bfp_layout import FORMATS

QK = 32
WORD_BYTES = 8
SUMI_BITS = 21          # |sumi| <= 32 * 128 * 128 = 2**19
NAN = 0x7FC00000
MX_BIAS = 254 + 12      # two E8M0 biases and the two implicit 2**-6 element scales


def _pow2_at_least(n: int, minimum: int = 1) -> int:
    size = minimum
    while size < n:
        size *= 2
    return size


def _log2(n: int) -> int:
    return n.bit_length() - 1


def delay(m, sig, cycles: int, en, name: str):
    """`sig` through `cycles` registers that load when `en` is high."""
    cur = sig
    for i in range(cycles):
        reg = Signal(sig.shape(), name=f"{name}_d{i}")
        with m.If(en):
            m.d.sync += reg.eq(cur)
        cur = reg
    return cur


def tree_sum(values):
    """A balanced adder tree (log2 depth rather than a chain)."""
    while len(values) > 1:
        values = [values[i] + values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]


class BfpCore(wiring.Component):
    PARAMS = (
        Param("mac_lanes", 8, "int8 MACs per output lane (a block takes 32 / mac_lanes cycles)",
              8, 32, power_of_two=True),
        Param("out_lanes", 4, "weight rows reduced in parallel against the same activations",
              1, 16, power_of_two=True),
        Param("k_max", 4096, "largest K (activation and weight buffer depth)", 32, 16384,
              multiple_of=32),
        Param("m_max", 8, "largest M (rows of X held on chip)", 1, 64),
    )
    N_BITS = 16

    def __init__(self, **params):
        p = resolve(self.PARAMS, params)
        self.params = p
        self.ml, self.ol = p["mac_lanes"], p["out_lanes"]
        self.k_max, self.m_max = p["k_max"], p["m_max"]
        self.P = QK // self.ml                  # words of a block per lane
        self.bmax = self.k_max // QK
        self.beats_per_word = self.ml // WORD_BYTES
        super().__init__({
            "start": In(1),
            "m": In(range(self.m_max + 1)),
            "blocks": In(range(self.bmax + 1)),
            "n": In(self.N_BITS),
            "fmt": In(3),                       # golden/bfp_layout.py's FORMAT codes
            "sum_in": In(1),                    # each tile's sums start from streamed values
            "busy": Out(1),
            "data_in": In(stream.Signature(64)),
            "results": Out(stream.Signature(data.StructLayout({"data": 64, "keep": 8, "last": 1}))),
        })

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.ml * self.ol

    def elaborate(self, platform):
        m = Module()
        ML, OL, P = self.ml, self.ol, self.P
        BPW = self.beats_per_word
        mrows = _pow2_at_least(self.m_max)
        xrow = _pow2_at_least(self.bmax * P)             # qs words per row in a buffer
        srow = _pow2_at_least(-(-self.bmax // 2))        # scale words per row (2 or 4 slots)
        m.submodules.x_qs = x_qs = SramController(
            width=ML * 8, depth=max(16, xrow * mrows), banks=1, read_ports=1, pingpong=0, ecc=0,
            granularity=64)
        m.submodules.x_scales = x_sc = SramController(
            width=64, depth=max(16, srow * mrows), banks=1, read_ports=1, pingpong=0, ecc=0,
            granularity=64)
        m.submodules.w_qs = w_qs = SramController(
            width=OL * ML * 8, depth=max(16, xrow), banks=1, read_ports=1, pingpong=1, ecc=0,
            granularity=64)
        # Bit 4 of 5-bit weights: 16 bits beside each 8-byte weight word, at its address.
        m.submodules.w_qh = w_qh = SramController(
            width=OL * ML * 2, depth=max(16, xrow), banks=1, read_ports=1, pingpong=1, ecc=0,
            granularity=16)
        m.submodules.w_scales = w_sc = SramController(
            width=OL * 64, depth=max(16, srow), banks=1, read_ports=1, pingpong=1, ecc=0,
            granularity=64)
        # Starting sums of a tile (sum_in): one float32 per (m, lane), swapped with the tile.
        m.submodules.w_sums = w_su = SramController(
            width=OL * 32, depth=max(16, mrows), banks=1, read_ports=1, pingpong=1, ecc=0,
            granularity=32)
        srams = (x_qs, w_qs, x_sc, w_sc, w_su, w_qh)
        tile_srams = (w_qs, w_sc, w_su, w_qh)

        # ---- command ------------------------------------------------------------------------
        busy = Signal()
        M = Signal.like(self.m)
        B = Signal.like(self.blocks)
        sum_in = Signal()
        # The format, decoded once at the start (golden/bfp_layout.py's table).
        fmt_mx = Signal()         # MXINT8: E8M0 scales, no float multiplier
        fmt_nib = Signal()        # 4- or 5-bit weights: a weight word unpacks into 16 values
        fmt_qh = Signal()         # 5-bit weights: a qh word before each pair of blocks
        fmt_wide = Signal()       # 32-bit scale slots: d and m (weights), d and s (Q8_1)
        fmt_q4_0 = Signal()       # (sumi * d_w) * d_x
        offset = Signal(8)        # subtracted from the unpacked 4- or 5-bit values
        start = self.start & ~busy
        m.d.comb += self.busy.eq(busy)
        code = {name: Const(c, 3) for name, c in FORMATS.items()}
        with m.If(start):
            m.d.sync += [busy.eq(1), M.eq(self.m), B.eq(self.blocks), sum_in.eq(self.sum_in),
                         fmt_mx.eq(self.fmt == code["mxint8"]),
                         fmt_nib.eq(Cat(self.fmt == code[f] for f in
                                        ("q4_0", "q4_1", "q5_0", "q5_1")).any()),
                         fmt_qh.eq((self.fmt == code["q5_0"]) | (self.fmt == code["q5_1"])),
                         fmt_wide.eq((self.fmt == code["q4_1"]) | (self.fmt == code["q5_1"])),
                         fmt_q4_0.eq(self.fmt == code["q4_0"]),
                         offset.eq(Mux(self.fmt == code["q4_0"], 8,
                                       Mux(self.fmt == code["q5_0"], 16, 0)))]
        SB = Signal(range(self.bmax + 4))                 # scale words per row
        QW = Signal(range(4 * self.bmax + 1))             # 8-byte qs parts per row
        m.d.comb += SB.eq(Mux(fmt_wide, (B + 1) >> 1, (B + 3) >> 2))

        # ---- loader: X rows, then W rows tile by tile ------------------------------------------
        q = Signal(range(self.bmax + 4))                  # scale word within the row
        sub = Signal(range(4 * self.bmax + 1))            # qs word (8 bytes) within the row
        qh_due = Signal(init=1)                           # a 5-bit row's next word is qh
        qh_word = Signal(64)                              # the qh of the current pair of blocks
        xm = Signal(range(self.m_max + 1))
        x_loaded = Signal()
        lane = Signal(range(max(OL, 2)))                          # W row within its tile
        rows_to_load = Signal(self.N_BITS)                # W rows not yet loaded
        tile_full = Signal()
        sums_done = Signal()                              # the tile's starting sums are in
        si = Signal(range(self.m_max * OL + 1))
        with m.If(start):
            m.d.sync += [q.eq(0), sub.eq(0), qh_due.eq(1), xm.eq(0), x_loaded.eq(0), lane.eq(0),
                         rows_to_load.eq(self.n), tile_full.eq(0), sums_done.eq(~self.sum_in),
                         si.eq(0)]
        word = self.data_in.payload
        is_scale = q < SB
        nib = x_loaded & fmt_nib                          # this row's qs words are 4-bit
        QW = Mux(nib, B << 1, B << 2)                     # qs words of this row
        is_qh = ~is_scale & x_loaded & fmt_qh & qh_due
        # A 4- or 5-bit weight word h of its block (qs[8h .. 8h+7]) is stored as it came; beside
        # it the 16 qh bits of its values, the low nibbles' (values 8h ..) then the high ones'
        # (16+8h ..): the engine unpacks them after the buffer (golden/bfp_layout.py).
        h = sub[0]
        qh32 = qh_word.word_select(sub[1], 32)
        qh16 = Mux(h, Cat(qh32[8:16], qh32[24:32]), Cat(qh32[0:8], qh32[16:24]))
        xsub = sub[:_log2(BPW)] if BPW > 1 else Const(0, 1)
        loading_x = busy & ~x_loaded
        loading_w = busy & x_loaded & ~tile_full & (rows_to_load != 0)
        loading_sums = loading_w & ~sums_done
        loading_rows = loading_w & sums_done
        si_m = si >> _log2(OL)
        qs_beat = ~is_scale & ~is_qh
        m.d.comb += [
            x_qs.write.payload.addr.eq(Cat((sub >> _log2(BPW))[:_log2(xrow)], xm)) if mrows > 1
            else x_qs.write.payload.addr.eq(sub >> _log2(BPW)),
            x_qs.write.payload.data.eq(Cat(word for _ in range(BPW))),
            x_qs.write.payload.be.eq(Const(1, BPW) << xsub),
            x_qs.write.valid.eq(self.data_in.valid & loading_x & qs_beat),
            x_sc.write.payload.addr.eq(Cat(q[:_log2(srow)], xm) if mrows > 1 else q),
            x_sc.write.payload.data.eq(word),
            x_sc.write.payload.be.eq(1),
            x_sc.write.valid.eq(self.data_in.valid & loading_x & is_scale),
            w_qs.write.payload.addr.eq(sub >> _log2(BPW)),
            w_qs.write.payload.data.eq(Cat(word for _ in range(OL * BPW))),
            w_qs.write.payload.be.eq(Const(1, OL * BPW) << (lane * BPW + xsub)),
            w_qs.write.valid.eq(self.data_in.valid & loading_rows & qs_beat),
            w_qh.write.payload.addr.eq(sub >> _log2(BPW)),
            w_qh.write.payload.data.eq(Cat(qh16 for _ in range(OL * BPW))),
            w_qh.write.payload.be.eq(Const(1, OL * BPW) << (lane * BPW + xsub)),
            w_qh.write.valid.eq(self.data_in.valid & loading_rows & qs_beat),
            w_sc.write.payload.addr.eq(q),
            w_sc.write.payload.data.eq(Cat(word for _ in range(OL))),
            w_sc.write.payload.be.eq(Const(1, OL) << lane),
            w_sc.write.valid.eq(self.data_in.valid & loading_rows & is_scale),
            w_su.write.payload.addr.eq(si_m),
            w_su.write.payload.data.eq(Cat(word[:32] for _ in range(OL))),
            w_su.write.payload.be.eq(Const(1, OL) << (si & (OL - 1))),
            w_su.write.valid.eq(self.data_in.valid & loading_sums),
        ]
        target_ready = Mux(x_loaded,
                           Mux(~sums_done, w_su.write.ready,
                               Mux(is_scale, w_sc.write.ready,
                                   Mux(is_qh, 1, w_qs.write.ready & w_qh.write.ready))),
                           Mux(is_scale, x_sc.write.ready, x_qs.write.ready))
        m.d.comb += self.data_in.ready.eq((loading_x | loading_w) & target_ready)
        row_end = qs_beat & (sub + 1 == QW)
        with m.If(self.data_in.valid & self.data_in.ready & loading_sums):
            m.d.sync += si.eq(si + 1)
            with m.If(si_m + 1 == M):
                with m.If((si & (OL - 1)) == OL - 1):
                    m.d.sync += [si.eq(0), sums_done.eq(1)]
        with m.If(self.data_in.valid & self.data_in.ready & ~loading_sums):
            with m.If(is_scale):
                m.d.sync += q.eq(q + 1)
            with m.Elif(is_qh):
                m.d.sync += [qh_word.eq(word), qh_due.eq(0)]
            with m.Else():
                m.d.sync += sub.eq(sub + 1)
                with m.If(((sub + 1) & 3) == 0):          # the next pair of 4-bit blocks: its qh
                    m.d.sync += qh_due.eq(1)
            with m.If(row_end):
                m.d.sync += [q.eq(0), sub.eq(0), qh_due.eq(1)]
                with m.If(~x_loaded):
                    m.d.sync += xm.eq(xm + 1)
                    with m.If(xm + 1 == M):
                        m.d.sync += x_loaded.eq(1)
                with m.Else():
                    m.d.sync += [lane.eq(lane + 1), rows_to_load.eq(rows_to_load - 1)]
                    with m.If((lane == OL - 1) | (rows_to_load == 1)):
                        m.d.sync += [tile_full.eq(1), lane.eq(0)]
        for sram in tile_srams:
            m.d.comb += sram.swap_fill.valid.eq(tile_full)
        swapped = w_qs.swap_fill.valid & w_qs.swap_fill.ready
        with m.If(swapped):
            m.d.sync += [tile_full.eq(0), sums_done.eq(~sum_in)]

        # ---- read requests: (tile, block, m, word), one request to each of the four buffers --
        ib = Signal(range(self.bmax + 1))
        im = Signal(range(self.m_max + 1))
        ij = Signal(range(max(P, 2)))
        rows_to_issue = Signal(self.N_BITS)
        have_tile = Signal()
        with m.If(start):
            m.d.sync += [ib.eq(0), im.eq(0), ij.eq(0), rows_to_issue.eq(self.n), have_tile.eq(0)]
        want_tile = busy & x_loaded & ~have_tile & (rows_to_issue != 0)
        for sram in tile_srams:
            m.d.comb += sram.swap_drain.valid.eq(want_tile)
        with m.If(swapped):
            m.d.sync += have_tile.eq(1)
        wofs = Signal(range(xrow))
        m.d.comb += wofs.eq(Cat(ij, ib) if P > 1 else ib)
        sword = Signal(range(max(srow, 2)))               # the block's scale word
        m.d.comb += sword.eq(Mux(fmt_wide, ib >> 1, ib >> 2))
        # 4-bit weights: block b's words 2b, 2b + 1 hold its 32 values; compute word ij takes
        # word ij >> 1 (mac_lanes 8: one nibble of each byte), word ij (16), both (32).
        wpart = Signal(range(2 * self.bmax + 2))
        m.d.comb += wpart.eq(Cat(ij[1] if ML == 8 else (ij[0] if ML == 16 else Const(0, 1)), ib))
        waddr = Signal(range(xrow))
        m.d.comb += waddr.eq(Mux(fmt_nib, wpart >> _log2(BPW), wofs))
        addrs = (
            Cat(wofs, im) if mrows > 1 else wofs,
            waddr,
            Cat(sword[:_log2(srow)], im) if mrows > 1 else sword,
            sword,
            im,
            waddr,
        )
        # A fork: each buffer takes the request when it can; the walk advances once all have.
        taken = Signal(len(srams))
        fires = []
        for i, (sram, addr) in enumerate(zip(srams, addrs)):
            req = sram.read_req[0]
            m.d.comb += [req.valid.eq(busy & have_tile & ~taken[i]), req.payload.eq(addr)]
            fires.append(req.valid & req.ready)
        all_taken = Cat(taken[i] | fires[i] for i in range(len(srams))).all()
        with m.If(have_tile):
            m.d.sync += taken.eq(taken | Cat(fires))
        with m.If(have_tile & all_taken):
            m.d.sync += [taken.eq(0), ij.eq(ij + 1)]
            with m.If(ij == P - 1):
                m.d.sync += [ij.eq(0), im.eq(im + 1)]
                with m.If(im + 1 == M):
                    m.d.sync += [im.eq(0), ib.eq(ib + 1)]
                    with m.If(ib + 1 == B):
                        m.d.sync += [ib.eq(0), have_tile.eq(0),
                                     rows_to_issue.eq(Mux(rows_to_issue > OL,
                                                          rows_to_issue - OL, 0))]
        with m.If(start):
            m.d.sync += taken.eq(0)

        # ---- the lock-step pipeline -------------------------------------------------------------
        adv = Signal()
        # Join: one word of each buffer, walked by its own counters in the same order.
        jb = Signal(range(self.bmax + 1))
        jm = Signal(range(self.m_max + 1))
        jj = Signal(range(max(P, 2)))
        with m.If(start):
            m.d.sync += [jb.eq(0), jm.eq(0), jj.eq(0)]
        completes = jj == P - 1
        # The adder's loop: the same accumulator is read again M block results later; those must
        # be at least LATENCY + 1 advancing cycles apart, so block results are spaced by `gap`.
        loop = Fp32Adder.LATENCY + 1
        gap = Signal(range(loop + 1))
        m.d.comb += gap.eq(1)
        for k in range(1, loop):
            with m.If(M * k < loop):
                m.d.comb += gap.eq(k + 1)
        since = Signal(range(loop + 1), init=loop)
        all_valid = Cat(s.read_resp[0].valid for s in srams).all()
        accept = Signal()
        m.d.comb += accept.eq(busy & all_valid & adv & (~completes | (since >= gap)))
        for s in srams:
            m.d.comb += s.read_resp[0].ready.eq(accept)
        with m.If(adv):
            m.d.sync += since.eq(Mux(since < loop, since + 1, since))
            with m.If(accept & completes):
                m.d.sync += since.eq(1)
        with m.If(start):
            m.d.sync += since.eq(loop)
        with m.If(accept):
            m.d.sync += jj.eq(jj + 1)
            with m.If(completes):
                m.d.sync += [jj.eq(0), jm.eq(jm + 1)]
                with m.If(jm + 1 == M):
                    m.d.sync += [jm.eq(0), jb.eq(jb + 1)]
                    with m.If(jb + 1 == B):
                        m.d.sync += jb.eq(0)

        Tag = data.StructLayout({"m": range(self.m_max + 1), "first": 1, "last": 1, "fin": 1})
        # S0: the joined words, the block's scales picked from their 4-slot words.
        v0 = Signal()
        t0 = Signal(Tag)
        xq0 = Signal(data.ArrayLayout(signed(8), ML))
        wq0 = Signal(data.ArrayLayout(data.ArrayLayout(signed(8), ML), OL))
        dx0 = Signal(32)                                   # d (bits 0..15) and s (Q8_1)
        dw0 = Signal(data.ArrayLayout(32, OL))             # d and m (Q4_1, Q5_1)
        init0 = Signal(data.ArrayLayout(32, OL))

        def scale_slot(word64):
            return Mux(fmt_wide, word64.word_select(jb[0], 32),
                       Cat(word64.word_select(jb[:2], 16), Const(0, 16)))

        wdata = w_qs.read_resp[0].payload.data
        hdata = w_qh.read_resp[0].payload.data

        def unpack(raw, qh):
            """A lane's ML int8 weights of compute word jj from its stored 4- or 5-bit words: for
            each word it needs, the low nibbles then the high ones (mac_lanes 8: the half jj
            picks), bit 4 from qh (5-bit), minus the offset; in the activations' order."""
            values = []
            if ML == 8:
                half = jj[0]
                for i in range(8):
                    byte = raw[8 * i:8 * i + 8]
                    values.append((Mux(half, byte[4:8], byte[0:4]), Mux(half, qh[8 + i], qh[i])))
            else:
                words = ML // 16                            # stored words a compute word takes
                for k in range(words):
                    at = jj[0] if ML == 16 else Cat(Const(k, 1), jb[0])
                    part, bits = raw.word_select(at, 64), qh.word_select(at, 16)
                    for half in (0, 1):
                        for i in range(8):
                            values.append((part[8 * i + 4 * half:8 * i + 4 * half + 4],
                                           bits[8 * half + i]))
            return Cat(*[(Cat(v, b & fmt_qh, Const(0, 3)) - offset)[:8] for v, b in values])
        with m.If(adv):
            m.d.sync += [
                v0.eq(accept),
                t0.m.eq(jm), t0.first.eq(jb == 0), t0.last.eq(jb + 1 == B), t0.fin.eq(completes),
                xq0.eq(x_qs.read_resp[0].payload.data),
                dx0.eq(scale_slot(x_sc.read_resp[0].payload.data)),
                init0.eq(w_su.read_resp[0].payload.data),
            ]
            for r in range(OL):
                m.d.sync += [
                    dw0[r].eq(scale_slot(w_sc.read_resp[0].payload.data.word_select(r, 64))),
                    wq0[r].eq(Mux(fmt_nib, unpack(wdata.word_select(r, ML * 8),
                                                  hdata.word_select(r, ML * 2)),
                                  wdata.word_select(r, ML * 8))),
                ]
        # S1: the int8 products (a DSP48E1 each, its M register).
        v1, t1 = delay(m, v0, 1, adv, "v1"), delay(m, t0, 1, adv, "t1")
        dx1, dw1 = delay(m, dx0, 1, adv, "dx1"), delay(m, dw0, 1, adv, "dw1")
        init3 = delay(m, init0, 3, adv, "init")
        prods = Signal(data.ArrayLayout(data.ArrayLayout(signed(16), ML), OL))
        with m.If(adv):
            for r in range(OL):
                for i in range(ML):
                    m.d.sync += prods[r][i].eq(xq0[i] * wq0[r][i])
        # S2: each lane's word sum.
        v2, t2 = delay(m, v1, 1, adv, "v2"), delay(m, t1, 1, adv, "t2")
        dx2, dw2 = delay(m, dx1, 1, adv, "dx2"), delay(m, dw1, 1, adv, "dw2")
        partial = Signal(data.ArrayLayout(signed(SUMI_BITS), OL))
        with m.If(adv):
            for r in range(OL):
                m.d.sync += partial[r].eq(tree_sum([prods[r][i] for i in range(ML)]))
        # S3: the block's words summed: sumi, exact.
        v3, t3 = delay(m, v2, 1, adv, "v3"), delay(m, t2, 1, adv, "t3")
        dx3, dw3 = delay(m, dx2, 1, adv, "dx3"), delay(m, dw2, 1, adv, "dw3")
        sumi = Signal(data.ArrayLayout(signed(SUMI_BITS), OL))
        word_first = Signal()      # the next word starts a block
        with m.If(adv & v2):
            m.d.sync += word_first.eq(t2.fin)
            for r in range(OL):
                m.d.sync += sumi[r].eq(Mux(word_first, 0, sumi[r]) + partial[r])
        with m.If(start):
            m.d.sync += word_first.eq(1)
        fin3 = v3 & t3.fin

        # ---- binary32, shared: each lane finishes a block every 32 / mac_lanes cycles at most, so
        # one binary32 chain serves `per_chain` lanes in turn (all of them when out_lanes <=
        # 32 / mac_lanes): a block's sums are held and fed to the chains one lane a cycle.
        Lc = min(OL, P)                          # lanes per chain
        chains = OL // Lc
        Lm, Lf, La = Fp32Multiplier.LATENCY, Fp32FromInt.LATENCY, Fp32Adder.LATENCY
        T1 = max(Lm, Lf)
        T2 = T1 + Lm
        T3 = T2 + Lm                             # the third stage: Q4_0's d_x, Q4_1/Q5_1's min
        h_sumi = Signal(data.ArrayLayout(signed(SUMI_BITS), OL))
        h_dw = Signal(data.ArrayLayout(32, OL))
        h_init = Signal(data.ArrayLayout(32, OL))
        h_dx = Signal(32)
        h_tag = Signal(Tag)
        k = Signal(range(max(Lc, 2)))            # the lane (within its chain) fed this cycle
        feeding = Signal()
        with m.If(adv):
            with m.If(feeding):
                m.d.sync += k.eq(k + 1)
                with m.If(k == Lc - 1):
                    m.d.sync += [feeding.eq(0), k.eq(0)]
            with m.If(fin3):      # the next block is >= 32 / mac_lanes cycles behind: no overlap
                m.d.sync += [h_sumi.eq(sumi), h_dw.eq(dw3), h_init.eq(init3), h_dx.eq(dx3),
                             h_tag.eq(t3), feeding.eq(1), k.eq(0)]
        with m.If(start):
            m.d.sync += [feeding.eq(0), k.eq(0)]

        ChainTag = data.StructLayout({"m": range(self.m_max + 1), "first": 1, "last": 1,
                                      "k": range(max(Lc, 2))})
        tag_in = Signal(ChainTag)
        m.d.comb += [tag_in.m.eq(h_tag.m), tag_in.first.eq(h_tag.first),
                     tag_in.last.eq(h_tag.last), tag_in.k.eq(k)]
        va, ta = delay(m, feeding, T3, adv, "va"), delay(m, tag_in, T3, adv, "ta")
        ve, te = delay(m, va, La, adv, "ve"), delay(m, ta, La, adv, "te")
        ex = h_dx[:8]
        dxf = fp16_to_fp32(m, h_dx[:16])
        sxf = fp16_to_fp32(m, h_dx[16:])
        results = []
        for c in range(chains):
            lane = c * Lc + k if Lc > 1 else c
            smul = Fp32Multiplier()
            mmul = Fp32Multiplier()
            pmul = Fp32Multiplier()
            dmul = Fp32Multiplier()
            conv = Fp32FromInt(width=SUMI_BITS, exp_bits=10)
            madd = Fp32Adder()
            add = Fp32Adder()
            m.submodules[f"scale_mul{c}"] = smul
            m.submodules[f"min_mul{c}"] = mmul
            m.submodules[f"prod_mul{c}"] = pmul
            m.submodules[f"dx_mul{c}"] = dmul
            m.submodules[f"to_float{c}"] = conv
            m.submodules[f"min_add{c}"] = madd
            m.submodules[f"add{c}"] = add
            dw = Signal(32, name=f"dw{c}")
            m.d.comb += dw.eq(h_dw[lane])
            ew = dw[:8]
            dwf = fp16_to_fp32(m, dw[:16])
            exp = Signal(signed(10), name=f"mx_exp{c}")
            m.d.comb += exp.eq(Mux(fmt_mx, ew + ex - MX_BIAS, 0))
            nan = Signal(name=f"mx_nan{c}")
            m.d.comb += nan.eq(fmt_mx & ((ew == 0xFF) | (ex == 0xFF)))
            # Stage 1: scale = d_w * d_x, mins = m_w * s_x, fsumi = float32(sumi) (MXINT8:
            # sumi * 2**exp, rounded once).
            m.d.comb += [
                smul.en.eq(adv), smul.a.eq(dwf), smul.b.eq(dxf),
                mmul.en.eq(adv), mmul.a.eq(fp16_to_fp32(m, dw[16:])), mmul.b.eq(sxf),
                conv.en.eq(adv), conv.value.eq(h_sumi[lane]), conv.exp.eq(exp),
            ]
            scale = delay(m, smul.result, T1 - Lm, adv, f"scale{c}")
            mins = delay(m, mmul.result, T1, adv, f"mins{c}")
            fsumi = delay(m, conv.result, T1 - Lf, adv, f"fsumi{c}")
            dw_a = delay(m, dwf, T1, adv, f"dw_a{c}")
            # Stage 2: prod = fsumi * scale (Q4_0: fsumi * d_w).
            m.d.comb += [pmul.en.eq(adv), pmul.a.eq(fsumi), pmul.b.eq(Mux(fmt_q4_0, dw_a, scale))]
            # Stage 3: Q4_0 prod * d_x; Q4_1, Q5_1 prod + mins; the others prod as it is.
            dx_a = delay(m, dxf, T2, adv, f"dx_a{c}")
            m.d.comb += [dmul.en.eq(adv), dmul.a.eq(pmul.result), dmul.b.eq(dx_a),
                         madd.en.eq(adv), madd.a.eq(pmul.result), madd.b.eq(mins)]
            with_min = delay(m, madd.result, Lm - La, adv, f"with_min{c}")
            mx_value = delay(m, fsumi, Lm, adv, f"mx_value{c}")
            mx_nan = delay(m, nan, T2, adv, f"mx_nan{c}")
            two = Signal(32, name=f"two{c}")           # the value after stage 2
            m.d.comb += two.eq(Mux(fmt_mx, Mux(mx_nan, NAN, mx_value), pmul.result))
            two_c = delay(m, two, Lm, adv, f"two_c{c}")
            init = Signal(32, name=f"init{c}")
            m.d.comb += init.eq(h_init[lane])
            init_a = delay(m, init, T3, adv, f"init_a{c}")
            value = Signal(32, name=f"value{c}")
            m.d.comb += value.eq(Mux(fmt_q4_0, dmul.result, Mux(fmt_wide, with_min, two_c)))
            # The accumulators sumf[m] of this chain's lanes, in distributed RAM; the first block
            # adds to +0 (or to the streamed starting sum).
            acc = Memory(shape=32, depth=max(2, self.m_max * Lc), init=[])
            m.submodules[f"sumf{c}"] = acc
            rd = acc.read_port(domain="comb")
            wr = acc.write_port()
            m.d.comb += [
                rd.addr.eq(Cat(ta.k[:_log2(Lc)], ta.m) if Lc > 1 else ta.m),
                add.en.eq(adv),
                add.a.eq(Mux(ta.first, Mux(sum_in, init_a, 0), rd.data)), add.b.eq(value),
                wr.addr.eq(Cat(te.k[:_log2(Lc)], te.m) if Lc > 1 else te.m),
                wr.data.eq(add.result), wr.en.eq(ve),
            ]
            results.append(add.result)

        # Finished rows of Y: one vector of out_lanes results per (tile, m), gathered as the
        # chains deliver their lanes.
        gathered = Signal(data.ArrayLayout(32, OL))
        with m.If(ve & te.last):
            for c in range(chains):
                m.d.sync += gathered[c * Lc + te.k[:_log2(Lc)] if Lc > 1 else c].eq(results[c])
        vector = Cat(results[r // Lc] if r % Lc == Lc - 1 else gathered[r] for r in range(OL))
        fifo = SyncFIFOBuffered(width=32 * OL, depth=4)
        m.submodules.result_fifo = fifo
        complete = ve & te.last & (te.k == Lc - 1)
        m.d.comb += [fifo.w_data.eq(vector), fifo.w_en.eq(complete & adv)]
        m.d.comb += adv.eq(~complete | fifo.w_rdy)

        # ---- results: the valid lanes of each vector, two float32 per 64-bit word ----------------
        out_r = Signal(range(max(OL, 2)))
        out_m = Signal(range(self.m_max + 1))
        out_rows = Signal(self.N_BITS)                   # rows of W from this tile on
        half = Signal(32)
        half_valid = Signal()
        o_valid = Signal()
        o_data = Signal(64)
        o_keep = Signal(8)
        o_last = Signal()
        with m.If(start):
            m.d.sync += [out_r.eq(0), out_m.eq(0), out_rows.eq(self.n), half_valid.eq(0),
                         o_valid.eq(0)]
        m.d.comb += [self.results.valid.eq(o_valid), self.results.payload.data.eq(o_data),
                     self.results.payload.keep.eq(o_keep), self.results.payload.last.eq(o_last)]
        lanes_here = Mux(out_rows < OL, out_rows, OL)
        row_done = out_r + 1 == lanes_here
        final = row_done & (out_m + 1 == M) & (out_rows <= OL)
        f = fifo.r_data.word_select(out_r, 32)
        take = busy & fifo.r_rdy & (~o_valid | self.results.ready)
        with m.If(self.results.valid & self.results.ready):
            m.d.sync += o_valid.eq(0)
            with m.If(o_last):
                m.d.sync += busy.eq(0)
        m.d.comb += fifo.r_en.eq(take & row_done)
        with m.If(take):
            m.d.sync += out_r.eq(out_r + 1)
            with m.If(half_valid):
                m.d.sync += [o_valid.eq(1), o_data.eq(Cat(half, f)), o_keep.eq(0xFF),
                             o_last.eq(final), half_valid.eq(0)]
            with m.Elif(final):
                m.d.sync += [o_valid.eq(1), o_data.eq(Cat(f, Const(0, 32))), o_keep.eq(0x0F),
                             o_last.eq(1)]
            with m.Else():
                m.d.sync += [half.eq(f), half_valid.eq(1)]
            with m.If(row_done):
                m.d.sync += [out_r.eq(0), out_m.eq(out_m + 1)]
                with m.If(out_m + 1 == M):
                    m.d.sync += [out_m.eq(0), out_rows.eq(out_rows - OL)]
        return m
