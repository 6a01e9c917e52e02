"""BFP matmul core: Y[M, N] = X[M, K] . W[N, K]^T on llama.cpp Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (x Q8_0
or Q8_1 activations), Q2_K..Q6_K (x Q8_K) or OCP MXINT8 blocks, bit-exact with the golden models
(golden/bfp.py, golden/q4q5.py, golden/kquants.py: llama.cpp's scalar ggml_vec_dot_*_generic).

The stream layout (64-bit words in and out) and the FORMAT codes are golden/bfp_layout.py's. Per
matmul:
- X (M rows) is loaded whole into the activation buffers (SRAM controllers: qs, and scales).
- With several input streams (`streams`), X comes on stream 0 and weight row n on stream
  n % streams: a tile's rows load `streams` at a time, side by side (the loader below).
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
  int32 block dot product sumi. Two output lanes share each activation, so one DSP48E1 makes
  both lanes' products of a position: (w_a * 2**16 + w_b) * x.
- Then per lane, in binary32 (generators/fp32_*.py, round-to-nearest-even, one rounding each;
  one chain of units serves in turn the largest power of two of lanes that divides out_lanes
  and is at most 32 / mac_lanes, as a lane finishes a
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
K-quants (super-blocks of 256 values; the walk's block is then a super-block):
- The loader decodes each super-block's sub-block scales (and mins) as their mid words arrive
  into one entry of 16 signed 8-bit scales and 16 mins per 16 values (a 32-value sub-block's
  twice), in a small ping-pong buffer beside the weights; the activations' bsums go into a buffer
  of their own. Low words (2- or 4-bit fields) are stored as they come; their high bits (Q3_K's
  hmask, Q5_K's and Q6_K's qh, whose words come first) go beside them in the side buffer.
- After the buffers each lane unpacks its values into int8 for the MACs; then per 16-value
  sub-block the products at positions l and l + 8 (l = e % 8) are added and that sum multiplied
  by the sub-block scale (Q2_K: the sub-block's sum times its scale), 8 scale products per lane
  and sub-block of a compute word rather than one per value; the lanes keep, per lane, eight
  int sums by position (aux32[l]; Q2_K: one sum) over the super-block, and beside them the
  integer sum of bsums[j] * min_j. Integer sums: any order gives llama.cpp's values.
- The binary32 chain then takes several steps per lane and super-block, one a cycle: Q3_K..Q6_K
  sums[l] = sums[l] + (d_w * d_x) * float(aux32[l]) for l = 0..7, Q4_K/Q5_K first
  sumf = sumf - (dmin_w * d_x) * float(sum of mins), Q2_K sumf + ((d_w * d_x) * float(isum) -
  (dmin_w * d_x) * float(summs)); the nine sums of a (row, lane) live in the accumulator RAM and
  after a row's last super-block sumf = sumf + sums[0] + ... + sums[7], in that order. The join
  spaces super-blocks so that their steps never overlap (at M = 1 the stream is slower anyway).
- K splits through `sum_in` only for Q2_K, whose reference keeps one sum (the others keep nine).

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
from .params import Param, ParamError, resolve
from .sram import SramController
from llmaccel.golden.bfp_layout import FORMATS, K_FORMATS, SPLIT_FORMATS

QK = 32
QK_K = 256
WORD_BYTES = 8
SUMI_BITS = 26          # |sumi| <= 2**19; K-quants |aux32| <= 32 * 4096 * 128 = 2**24, and the
                        # sum of 16 bsums (int16 as stored) times 6-bit mins < 2**25
NAN = 0x7FC00000
MX_BIAS = 254 + 12      # two E8M0 biases and the two implicit 2**-6 element scales


def refused_k(k, fmt, k_max: int):
    """The start's K is bad for the FORMAT register's value `fmt`: not a positive multiple of 32
    (of 256 for the K-quants) or above k_max."""
    kquant = Cat(fmt == FORMATS[f] for f in K_FORMATS).any()
    return (k == 0) | (k[:5] != 0) | (kquant & (k[:8] != 0)) | (k > k_max)


def refused_format(fmt, sum_in):
    """FORMAT is not a code, or SUM_IN asks to split a format whose K cannot be split."""
    unsplittable = Cat(fmt == FORMATS[f] for f in FORMATS if f not in SPLIT_FORMATS).any()
    return (fmt >= len(FORMATS)) | (sum_in & unsplittable)


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
        Param("out_lanes", 4, "weight rows reduced in parallel against the same activations "
              "(a power of two times streams)", 1, 16),
        Param("k_max", 4096, "largest K (activation and weight buffer depth)", 32, 16384,
              multiple_of=32),
        Param("m_max", 8, "largest M (rows of X held on chip)", 1, 64),
        Param("streams", 1, "64-bit input streams (weight row n on stream n % streams)", 1, 4),
    )
    N_BITS = 16

    def __init__(self, **params):
        p = resolve(self.PARAMS, params)
        self.params = p
        self.ml, self.ol = p["mac_lanes"], p["out_lanes"]
        self.k_max, self.m_max = p["k_max"], p["m_max"]
        self.streams = S = p["streams"]
        self.ols = self.ol // S                 # lanes each stream loads
        if self.ol % S or self.ols & (self.ols - 1):
            raise ParamError(f"out_lanes must be a power of two from 1 to 16, not {self.ol}"
                             if S == 1 else f"out_lanes must be streams ({S}) times a power of "
                             f"two, at most 16, not {self.ol}")
        self.P = QK // self.ml                  # words of a block per lane
        self.bmax = self.k_max // QK
        self.beats_per_word = self.ml // WORD_BYTES
        super().__init__({
            "start": In(1),
            "m": In(range(self.m_max + 1)),
            "blocks": In(range(self.bmax + 1)),
            "n": In(self.N_BITS),
            "fmt": In(4),                       # golden/bfp_layout.py's FORMAT codes
            "sum_in": In(1),                    # each tile's sums start from streamed values
            "busy": Out(1),
            "data_in": In(stream.Signature(64)).array(S),
            "results": Out(stream.Signature(data.StructLayout({"data": 64, "keep": 8, "last": 1}))),
        })

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.ml * self.ol

    def elaborate(self, platform):
        m = Module()
        ML, OL, P = self.ml, self.ol, self.P
        BPW = self.beats_per_word
        PK = QK_K // ML                                   # compute words of a super-block
        MP = max(1, ML // 16)                             # bsum * min products per compute word
        MJ = 16 // MP                                     # compute words that carry them
        bk = _pow2_at_least(max(1, self.bmax // 8))       # super-blocks per row, at most
        mrows = _pow2_at_least(self.m_max)
        xrow = _pow2_at_least(self.bmax * P)             # qs words per row in a buffer
        srow = _pow2_at_least(-(-self.bmax // 2))        # scale words per row (2 or 4 slots)
        m.submodules.x_qs = x_qs = SramController(
            width=ML * 8, depth=max(16, xrow * mrows), banks=1, read_ports=1, pingpong=0, ecc=0,
            granularity=64)
        m.submodules.x_scales = x_sc = SramController(
            width=64, depth=max(16, srow * mrows), banks=1, read_ports=1, pingpong=0, ecc=0,
            granularity=64)
        # Q8_K's bsums: 4 words per super-block and row of X.
        m.submodules.x_bsums = x_bs = SramController(
            width=64, depth=max(16, 4 * bk * mrows), banks=1, read_ports=1, pingpong=0, ecc=0,
            granularity=64)
        m.submodules.w_qs = w_qs = SramController(
            width=OL * ML * 8, depth=max(16, xrow), banks=1, read_ports=1, pingpong=1, ecc=0,
            granularity=64)
        # High bits beside each 8-byte weight word, at its address: Q5_0/Q5_1's bit 4 (16 bits),
        # Q3_K's hmask bits (32), Q5_K's qh bits (16), Q6_K's 2-bit qh (32).
        m.submodules.w_qh = w_qh = SramController(
            width=OL * ML * 4, depth=max(16, xrow), banks=1, read_ports=1, pingpong=1, ecc=0,
            granularity=32)
        m.submodules.w_scales = w_sc = SramController(
            width=OL * 64, depth=max(16, srow), banks=1, read_ports=1, pingpong=1, ecc=0,
            granularity=64)
        # K-quants: each super-block's decoded sub-block scales and mins (16 + 16 bytes a lane).
        m.submodules.w_subscales = w_sub = SramController(
            width=OL * 256, depth=max(16, bk), banks=1, read_ports=1, pingpong=1, ecc=0,
            granularity=256)
        # Starting sums of a tile (sum_in): one float32 per (m, lane), swapped with the tile.
        m.submodules.w_sums = w_su = SramController(
            width=OL * 32, depth=max(16, mrows), banks=1, read_ports=1, pingpong=1, ecc=0,
            granularity=32)
        srams = (x_qs, w_qs, x_sc, w_sc, w_su, w_qh, x_bs, w_sub)
        tile_srams = (w_qs, w_sc, w_su, w_qh, w_sub)

        # ---- command ------------------------------------------------------------------------
        busy = Signal()
        M = Signal.like(self.m)
        B = Signal.like(self.blocks)                      # blocks (K-quants: super-blocks)
        sum_in = Signal()
        # The format, decoded once at the start (golden/bfp_layout.py's table).
        fmt_mx = Signal()         # MXINT8: E8M0 scales, no float multiplier
        fmt_nib = Signal()        # Q4_x, Q5_x: a weight word unpacks into 16 values
        fmt_qh = Signal()         # Q5_x: a qh word before each pair of blocks
        fmt_madd = Signal()       # Q4_1, Q5_1: + m_w * s_x
        fmt_q4_0 = Signal()       # (sumi * d_w) * d_x
        offset = Signal(8)        # subtracted from the unpacked values
        kq = Signal()             # a K-quant (x Q8_K: float32 d_x in 32-bit slots)
        kf = {f: Signal(name=f"fmt_{f}") for f in K_FORMATS}
        kpos = Signal()           # Q3_K..Q6_K: eight sums by position, added at the row's end
        kmin = Signal()           # Q4_K, Q5_K: sumf - dmin * sum of mins, per super-block
        w_wide = Signal()         # 32-bit weight scale slots: d, m or d, dmin
        x_wide = Signal()         # 32-bit activation scale slots: Q8_1's d, s; Q8_K's d
        lw16 = Signal()           # 16 low words per super-block (Q4_K, Q5_K, Q6_K), else 8
        sub16b = Signal()         # 16 bytes of sub-block scales (Q2_K, Q6_K), else 12
        nm = Signal(range(10))    # binary32 steps per lane and block before the row's end
        start = self.start & ~busy
        m.d.comb += self.busy.eq(busy)
        code = {name: Const(c, 4) for name, c in FORMATS.items()}
        is_ = {name: self.fmt == code[name] for name in FORMATS}
        any_k = Cat(is_[f] for f in K_FORMATS).any()
        with m.If(start):
            m.d.sync += [busy.eq(1), M.eq(self.m), sum_in.eq(self.sum_in),
                         B.eq(Mux(any_k, self.blocks >> 3, self.blocks)),
                         fmt_mx.eq(is_["mxint8"]),
                         fmt_nib.eq(is_["q4_0"] | is_["q4_1"] | is_["q5_0"] | is_["q5_1"]),
                         fmt_qh.eq(is_["q5_0"] | is_["q5_1"]),
                         fmt_madd.eq(is_["q4_1"] | is_["q5_1"]),
                         fmt_q4_0.eq(is_["q4_0"]),
                         offset.eq(Mux(is_["q4_0"], 8, Mux(is_["q5_0"], 16, Mux(
                             is_["q3_K"], 4, Mux(is_["q6_K"], 32, 0))))),
                         kq.eq(any_k),
                         kpos.eq(is_["q3_K"] | is_["q4_K"] | is_["q5_K"] | is_["q6_K"]),
                         kmin.eq(is_["q4_K"] | is_["q5_K"]),
                         w_wide.eq(is_["q4_1"] | is_["q5_1"] | is_["q2_K"] | is_["q4_K"]
                                   | is_["q5_K"]),
                         x_wide.eq(is_["q4_1"] | is_["q5_1"] | any_k),
                         lw16.eq(is_["q4_K"] | is_["q5_K"] | is_["q6_K"]),
                         sub16b.eq(is_["q2_K"] | is_["q6_K"]),
                         nm.eq(Mux(is_["q2_K"], 2, Mux(is_["q3_K"] | is_["q6_K"], 8,
                                                      Mux(is_["q4_K"] | is_["q5_K"], 9, 1))))]
            m.d.sync += [kf[f].eq(is_[f]) for f in K_FORMATS]

        # ---- loader: X rows, then W rows tile by tile ------------------------------------------
        # Several input streams load a tile side by side: in a round, stream s's word goes to
        # lane lane0 + s (weight row n comes on stream n % streams), all in lock step: a word is
        # taken from every stream of the round at once (golden/bfp_layout.input_streams). X's
        # rows come on stream 0 alone; each stream brings its own lanes' starting sums.
        NS, OLS = self.streams, self.ols
        q = Signal(range(self.bmax + 4))                  # scale word within the row
        u = Signal(range(4 * bk + 2))                     # mid word within the row
        u3 = Signal(range(3))                             # u mod 3
        sbw = Signal(range(bk + 1))                       # super-block of the next scales entry
        sprev = [Signal(64, name=f"sprev{i}") for i in range(NS)]   # the previous mid word
        sub = Signal(range(4 * self.bmax + 1))            # low (qs) word within the row
        hi_left = Signal(range(9))                        # high words still due in this unit
        hreg = [Signal(8 * 64, name=f"hreg{i}") for i in range(NS)]  # the unit's high words
        xm = Signal(range(self.m_max + 1))
        x_loaded = Signal()
        lane0 = Signal(range(max(OL, 2)))                 # the round's first lane in its tile
        rows_to_load = Signal(self.N_BITS)                # W rows not yet loaded
        tile_full = Signal()
        sums_done = Signal()                              # the tile's starting sums are in
        si = Signal(range(self.m_max * OLS + 1))          # (m, lane of the stream) of a sum
        # High words per unit of a weight row (Q5_x: 1 per pair of blocks; K: per super-block).
        hw = Signal(range(9))
        m.d.comb += hw.eq(Mux(fmt_qh, 1, Mux(kf["q3_K"] | kf["q5_K"], 4, Mux(kf["q6_K"], 8, 0))))
        with m.If(start):
            m.d.sync += [q.eq(0), u.eq(0), u3.eq(0), sbw.eq(0), sub.eq(0), hi_left.eq(0),
                         xm.eq(0), x_loaded.eq(0), lane0.eq(0),
                         rows_to_load.eq(self.n), tile_full.eq(0), sums_done.eq(~self.sum_in),
                         si.eq(0)]
        words = [self.data_in[i].payload for i in range(NS)]
        word = words[0]
        # The layout of the row being loaded: scale words, mid words, then high and low words.
        SB = Signal(range(self.bmax + 4))
        MW = Signal(range(4 * bk + 2))
        QW = Signal(range(4 * self.bmax + 1))
        m.d.comb += [
            SB.eq(Mux(Mux(x_loaded, w_wide, x_wide), (B + 1) >> 1, (B + 3) >> 2)),
            MW.eq(Mux(~kq, 0, Mux(~x_loaded, B << 2, Mux(sub16b, B << 1, (B * 3 + 1) >> 1)))),
            QW.eq(Mux(kq, Mux(~x_loaded, B << 5, Mux(lw16, B << 4, B << 3)),
                      Mux(x_loaded & fmt_nib, B << 1, B << 2))),
        ]
        is_scale = q < SB
        is_mid = ~is_scale & (u < MW)
        is_qh = ~is_scale & ~is_mid & x_loaded & (hi_left != 0)
        qs_beat = ~is_scale & ~is_mid & ~is_qh
        # The high bits of each low word's values, stored beside it (golden/bfp_layout.py).
        h = sub[0]
        wl = sub[:4]                                      # low word within its super-block
        sides, entries = [], []
        for i in range(NS):
            qh_word = hreg[i][:64]
            qh32 = qh_word.word_select(sub[1], 32)
            qh16 = Mux(h, Cat(qh32[8:16], qh32[24:32]), Cat(qh32[0:8], qh32[16:24]))
            hwords = [hreg[i][64 * w:64 * w + 64] for w in range(8)]
            side3 = Signal(32, name=f"side3_{i}")  # Q3_K: bit 8f + b = hmask word wl%4, byte b,
            side5 = Signal(16, name=f"side5_{i}")  #   bit 4(wl//4) + f; Q5_K: bit 8n + b = qh word
            side6 = Signal(32, name=f"side6_{i}")  #   wl%4, byte b, bit 2(wl//4) + n; Q6_K: bits
            hsel = Signal(64, name=f"hsel{i}")     #   16n + 2b = qh word 4(wl//8) + wl%4, byte b,
            h6 = Signal(64, name=f"h6_{i}")        #   bits 2((wl%8)//4 + 2n)
            m.d.comb += [hsel.eq(Cat(hwords).word_select(wl[:2], 64)),
                         h6.eq(Cat(hwords).word_select(Cat(wl[:2], wl[3]), 64))]
            for b in range(8):
                for f in range(4):
                    m.d.comb += side3[8 * f + b].eq(Mux(wl[2], hsel[8 * b + 4 + f],
                                                        hsel[8 * b + f]))
                for n in range(2):
                    m.d.comb += side5[8 * n + b].eq(hsel.bit_select(8 * b + n + wl[2:4] * 2, 1))
                    m.d.comb += side6[16 * n + 2 * b:16 * n + 2 * b + 2].eq(
                        h6.bit_select(8 * b + 4 * n + wl[2] * 2, 2))
            sides.append(Mux(fmt_qh, Cat(qh16, Const(0, 16)),
                             Mux(kf["q3_K"], side3,
                                 Mux(kf["q5_K"], Cat(side5, Const(0, 16)), side6))))
            # Sub-block scales: a super-block's 16 (Q2_K, Q6_K) or 12 bytes complete with this
            # mid word.
            raw16 = Signal(128, name=f"raw16_{i}")
            m.d.comb += raw16.eq(Mux(sub16b, Cat(sprev[i], words[i]),
                                     Mux(u3 == 1, Cat(sprev[i], words[i][:32], Const(0, 32)),
                                         Cat(sprev[i][32:], words[i], Const(0, 32)))))
            entries.append(self._decode_subscales(m, raw16, kf))
        sub_done = Signal()
        m.d.comb += sub_done.eq(Mux(sub16b, u[0], u3 != 0))
        xsub = sub[:_log2(BPW)] if BPW > 1 else Const(0, 1)
        loading_x = busy & ~x_loaded
        loading_w = busy & x_loaded & ~tile_full & (rows_to_load != 0)
        loading_sums = loading_w & ~sums_done
        loading_rows = loading_w & sums_done
        # The streams of this transfer: X on stream 0; the sums on all; a round of rows on those
        # with a row left (a last tile may have fewer rows than streams).
        active = Signal(NS)
        for i in range(NS):
            m.d.comb += active[i].eq(Mux(loading_x, i == 0,
                                         loading_sums | (rows_to_load > i)))
        all_valid_in = Cat(~active[i] | self.data_in[i].valid for i in range(NS)).all()
        si_m = si >> _log2(OLS)
        # The lanes written: those of the round's streams (sums: the stream's lane si % OLS).
        lanes_hit = Signal(OL)
        m.d.comb += lanes_hit.eq(Mux(loading_sums,
                                     Const((1 << NS) - 1, NS) << ((si & (OLS - 1)) * NS),
                                     active << lane0))

        def per_lane(values, slots=1):
            """Each lane's slots from the word of the stream that loads the lane (lane % NS)."""
            return Cat(values[r % NS] for r in range(OL) for _ in range(slots))

        def lane_enables(slots=1, at=Const(0, 1)):
            return Cat(Mux(lanes_hit[r], (Const(1, slots) << at)[:slots], 0) for r in range(OL))
        valid_in = all_valid_in
        m.d.comb += [
            x_qs.write.payload.addr.eq(Cat((sub >> _log2(BPW))[:_log2(xrow)], xm)) if mrows > 1
            else x_qs.write.payload.addr.eq(sub >> _log2(BPW)),
            x_qs.write.payload.data.eq(Cat(word for _ in range(BPW))),
            x_qs.write.payload.be.eq(Const(1, BPW) << xsub),
            x_qs.write.valid.eq(valid_in & loading_x & qs_beat),
            x_sc.write.payload.addr.eq(Cat(q[:_log2(srow)], xm) if mrows > 1 else q),
            x_sc.write.payload.data.eq(word),
            x_sc.write.payload.be.eq(1),
            x_sc.write.valid.eq(valid_in & loading_x & is_scale),
            x_bs.write.payload.addr.eq(Cat(u[:_log2(4 * bk)], xm) if mrows > 1 else u),
            x_bs.write.payload.data.eq(word),
            x_bs.write.payload.be.eq(1),
            x_bs.write.valid.eq(valid_in & loading_x & is_mid),
            w_qs.write.payload.addr.eq(sub >> _log2(BPW)),
            w_qs.write.payload.data.eq(per_lane(words, BPW)),
            w_qs.write.payload.be.eq(lane_enables(BPW, xsub)),
            w_qs.write.valid.eq(valid_in & loading_rows & qs_beat),
            w_qh.write.payload.addr.eq(sub >> _log2(BPW)),
            w_qh.write.payload.data.eq(per_lane(sides, BPW)),
            w_qh.write.payload.be.eq(lane_enables(BPW, xsub)),
            w_qh.write.valid.eq(valid_in & loading_rows & qs_beat),
            w_sc.write.payload.addr.eq(q),
            w_sc.write.payload.data.eq(per_lane(words)),
            w_sc.write.payload.be.eq(lanes_hit),
            w_sc.write.valid.eq(valid_in & loading_rows & is_scale),
            w_sub.write.payload.addr.eq(sbw),
            w_sub.write.payload.data.eq(per_lane(entries)),
            w_sub.write.payload.be.eq(lanes_hit),
            w_sub.write.valid.eq(valid_in & loading_rows & is_mid & sub_done),
            w_su.write.payload.addr.eq(si_m),
            w_su.write.payload.data.eq(per_lane([w[:32] for w in words])),
            w_su.write.payload.be.eq(lanes_hit),
            w_su.write.valid.eq(valid_in & loading_sums),
        ]
        target_ready = Mux(x_loaded,
                           Mux(~sums_done, w_su.write.ready,
                               Mux(is_scale, w_sc.write.ready,
                                   Mux(is_mid, w_sub.write.ready | ~sub_done,
                                       Mux(is_qh, 1, w_qs.write.ready & w_qh.write.ready)))),
                           Mux(is_scale, x_sc.write.ready,
                               Mux(is_mid, x_bs.write.ready, x_qs.write.ready)))
        # A transfer: every stream of the round has its word (AXI4-Stream lets TREADY wait for
        # TVALID), so the streams stay in lock step.
        fire = Signal()
        m.d.comb += fire.eq((loading_x | loading_w) & target_ready & all_valid_in)
        for i in range(NS):
            m.d.comb += self.data_in[i].ready.eq(fire & active[i])
        row_end = qs_beat & (sub + 1 == QW)
        # The next low word starts a unit (Q5_x: a pair of blocks; K: a super-block).
        unit_end = Mux(kq, Mux(lw16, (sub + 1)[:4] == 0, (sub + 1)[:3] == 0),
                       (sub + 1)[:2] == 0)
        with m.If(fire & loading_sums):
            m.d.sync += si.eq(si + 1)
            with m.If(si_m + 1 == M):
                with m.If((si & (OLS - 1)) == OLS - 1):
                    m.d.sync += [si.eq(0), sums_done.eq(1)]
        with m.If(fire & ~loading_sums):
            with m.If(is_scale):
                m.d.sync += q.eq(q + 1)
                with m.If(q + 1 == SB):                   # the first unit's high words
                    m.d.sync += hi_left.eq(hw)
            with m.Elif(is_mid):
                m.d.sync += [u.eq(u + 1), u3.eq(Mux(u3 == 2, 0, u3 + 1))]
                m.d.sync += [sprev[i].eq(words[i]) for i in range(NS)]
                with m.If(sub_done):
                    m.d.sync += sbw.eq(sbw + 1)
            with m.Elif(is_qh):
                m.d.sync += [hreg[i].word_select((hw - hi_left)[:3], 64).eq(words[i])
                             for i in range(NS)]
                m.d.sync += hi_left.eq(hi_left - 1)
            with m.Else():
                m.d.sync += sub.eq(sub + 1)
                with m.If(unit_end):
                    m.d.sync += hi_left.eq(hw)
            with m.If(row_end):
                m.d.sync += [q.eq(0), sub.eq(0), u.eq(0), u3.eq(0), sbw.eq(0), hi_left.eq(0)]
                with m.If(~x_loaded):
                    m.d.sync += xm.eq(xm + 1)
                    with m.If(xm + 1 == M):
                        m.d.sync += x_loaded.eq(1)
                with m.Else():
                    m.d.sync += [lane0.eq(lane0 + NS),
                                 rows_to_load.eq(Mux(rows_to_load > NS, rows_to_load - NS, 0))]
                    with m.If((lane0 + NS == OL) | (rows_to_load <= NS)):
                        m.d.sync += [tile_full.eq(1), lane0.eq(0)]
        for sram in tile_srams:
            m.d.comb += sram.swap_fill.valid.eq(tile_full)
        swapped = w_qs.swap_fill.valid & w_qs.swap_fill.ready
        with m.If(swapped):
            m.d.sync += [tile_full.eq(0), sums_done.eq(~sum_in)]

        # ---- read requests: (tile, block, m, word), one request to each buffer ----------------
        ib = Signal(range(self.bmax + 1))
        im = Signal(range(self.m_max + 1))
        ij = Signal(range(max(PK, 2)))
        rows_to_issue = Signal(self.N_BITS)
        have_tile = Signal()
        words_end = Mux(kq, PK - 1, P - 1)                # the block's last compute word
        with m.If(start):
            m.d.sync += [ib.eq(0), im.eq(0), ij.eq(0), rows_to_issue.eq(self.n), have_tile.eq(0)]
        want_tile = busy & x_loaded & ~have_tile & (rows_to_issue != 0)
        for sram in tile_srams:
            m.d.comb += sram.swap_drain.valid.eq(want_tile)
        with m.If(swapped):
            m.d.sync += have_tile.eq(1)
        wofs = Signal(range(xrow))
        m.d.comb += wofs.eq(Mux(kq, Cat(ij[:_log2(PK)], ib),
                                Cat(ij[:_log2(P)], ib) if P > 1 else ib))
        sword_x = Signal(range(max(srow, 2)))             # the block's scale word
        sword_w = Signal(range(max(srow, 2)))
        m.d.comb += [sword_x.eq(Mux(x_wide, ib >> 1, ib >> 2)),
                     sword_w.eq(Mux(w_wide, ib >> 1, ib >> 2))]
        # 4-bit weights: block b's words 2b, 2b + 1 hold its 32 values; compute word ij takes
        # word ij >> 1 (mac_lanes 8: one nibble of each byte), word ij (16), both (32).
        wpart = Signal(range(2 * self.bmax + 2))
        m.d.comb += wpart.eq(Cat(ij[1] if ML == 8 else (ij[0] if ML == 16 else Const(0, 1)), ib))
        # K-quants: the values 8g .. 8g + 7 of a super-block (g = ij * words per compute word)
        # are one field of low word kword(g) (golden/bfp_layout.py, golden/kquants.py).
        g0 = Cat(Const(0, _log2(BPW)), ij)[:5] if BPW > 1 else ij[:5]
        kword = Signal(4)
        m.d.comb += kword.eq(Mux(kf["q2_K"] | kf["q3_K"], Cat(g0[:2], g0[4]),
                                 Mux(kf["q6_K"], Cat(g0[:3], g0[4]), Cat(g0[:2], g0[3:5]))))
        kaddr = Mux(lw16, Cat(kword, ib), Cat(kword[:3], ib)) >> _log2(BPW)
        waddr = Signal(range(xrow))
        m.d.comb += waddr.eq(Mux(kq, kaddr, Mux(fmt_nib, wpart >> _log2(BPW), wofs)))
        bsword = (ij * MP) >> 2                           # the bsums of this compute word
        addrs = (
            Cat(wofs, im) if mrows > 1 else wofs,
            waddr,
            Cat(sword_x[:_log2(srow)], im) if mrows > 1 else sword_x,
            sword_w,
            im,
            waddr,
            Cat(bsword[:2], ib[:_log2(bk)], im) if mrows > 1 else Cat(bsword[:2], ib[:_log2(bk)]),
            ib,
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
            with m.If(ij == words_end):
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
        jj = Signal(range(max(PK, 2)))
        with m.If(start):
            m.d.sync += [jb.eq(0), jm.eq(0), jj.eq(0)]
        completes = jj == words_end
        # The adder's loop: the same accumulator is read again M block results later; those must
        # be at least LATENCY + 1 advancing cycles apart, so block results are spaced by `gap`.
        # K-quants: a super-block's binary32 steps take `need` cycles; the next waits for them.
        Lc = min(OL & -OL, P)                    # lanes per chain (a power of two dividing OL)
        chains = OL // Lc
        La = Fp32Adder.LATENCY
        S = max(Lc, La + 1)                      # cycles per round of the row-end additions
        loop = La + 1
        most = max(loop, 9 * Lc + 8 * S)
        gap = Signal(range(loop + 1))
        m.d.comb += gap.eq(1)
        for k in range(1, loop):
            with m.If(M * k < loop):
                m.d.comb += gap.eq(k + 1)
        need = Signal(range(most + 1))
        since = Signal(range(most + 1), init=most)
        all_valid = Cat(s.read_resp[0].valid for s in srams).all()
        accept = Signal()
        m.d.comb += accept.eq(busy & all_valid & adv
                              & (~completes | ((since >= gap) & (since >= need))))
        for s in srams:
            m.d.comb += s.read_resp[0].ready.eq(accept)
        with m.If(adv):
            m.d.sync += since.eq(Mux(since < most, since + 1, since))
            with m.If(accept & completes):
                m.d.sync += [since.eq(1),
                             need.eq(Mux(kq, nm * Lc + Mux(kpos & (jb + 1 == B), 8 * S, 0), 0))]
        with m.If(start):
            m.d.sync += [since.eq(most), need.eq(0)]
        with m.If(accept):
            m.d.sync += jj.eq(jj + 1)
            with m.If(completes):
                m.d.sync += [jj.eq(0), jm.eq(jm + 1)]
                with m.If(jm + 1 == M):
                    m.d.sync += [jm.eq(0), jb.eq(jb + 1)]
                    with m.If(jb + 1 == B):
                        m.d.sync += jb.eq(0)

        Tag = data.StructLayout({"m": range(self.m_max + 1), "first": 1, "last": 1, "fin": 1})
        NSB = max(1, ML // 16)              # 16-value sub-blocks in a compute word (K-quants)
        NPAIR = OL // 2                     # output lanes paired on one DSP48E1 per MAC position
        # S0: the joined words, the block's scales picked from their slots, the weights unpacked.
        v0 = Signal()
        t0 = Signal(Tag)
        xq0 = Signal(data.ArrayLayout(signed(8), ML))
        wq0 = Signal(data.ArrayLayout(data.ArrayLayout(signed(8), ML), OL))
        ksc0 = Signal(data.ArrayLayout(data.ArrayLayout(signed(8), NSB), OL))
        bsum0 = Signal(data.ArrayLayout(signed(16), MP))
        min0 = Signal(data.ArrayLayout(data.ArrayLayout(signed(8), MP), OL))
        dx0 = Signal(32)                                   # d (and s: Q8_1; Q8_K: float32 d)
        dw0 = Signal(data.ArrayLayout(32, OL))             # d and m (Q4_1, Q5_1) or dmin
        init0 = Signal(data.ArrayLayout(32, OL))

        def scale_slot(word64, wide):
            return Mux(wide, word64.word_select(jb[0], 32),
                       Cat(word64.word_select(jb[:2], 16), Const(0, 16)))

        wdata = w_qs.read_resp[0].payload.data
        hdata = w_qh.read_resp[0].payload.data
        subdata = w_sub.read_resp[0].payload.data
        bsdata = x_bs.read_resp[0].payload.data

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
                    part, bits = raw.word_select(at, 64), qh.word_select(at, 32)
                    for half in (0, 1):
                        for i in range(8):
                            values.append((part[8 * i + 4 * half:8 * i + 4 * half + 4],
                                           bits[8 * half + i]))
            return Cat(*[(Cat(v, b & fmt_qh, Const(0, 3)) - offset)[:8] for v, b in values])

        # K-quants: the field of this compute word in its low words, as kword chose them.
        g = Cat(Const(0, _log2(BPW)), jj)[:5] if BPW > 1 else jj[:5]
        sel2 = g[2:4]                                     # Q2_K, Q3_K: 2-bit field
        sel1 = Mux(kf["q6_K"], g[3], g[2])                # Q4_K..Q6_K: nibble

        def unpack_k(raw, side):
            """A lane's ML values of compute word jj of a K-quant super-block, as signed 8-bit
            weights (their sub-block scales are applied after the MACs)."""
            out = []
            for t in range(BPW):
                low, hi = raw.word_select(t, 64), side.word_select(t, 32)
                for i in range(8):
                    byte = low[8 * i:8 * i + 8]
                    f2 = byte.word_select(sel2, 2)
                    nib = byte.word_select(sel1, 4)
                    u6 = Mux(kf["q2_K"], f2,
                             Mux(kf["q3_K"], Cat(f2, hi.bit_select(Cat(Const(i, 3), sel2), 1)),
                                 Mux(kf["q4_K"], nib,
                                     Mux(kf["q5_K"], Cat(nib, hi.bit_select(Cat(Const(i, 3), sel1), 1)),
                                         Cat(nib, hi.bit_select(Cat(Const(0, 1), Const(i, 3), sel1), 2))))))
                    out.append((Cat(u6, Const(0, 2)) - offset)[:8])
            return Cat(*out)

        with m.If(adv):
            m.d.sync += [
                v0.eq(accept),
                t0.m.eq(jm), t0.first.eq(jb == 0), t0.last.eq(jb + 1 == B), t0.fin.eq(completes),
                xq0.eq(x_qs.read_resp[0].payload.data),
                dx0.eq(scale_slot(x_sc.read_resp[0].payload.data, x_wide)),
                init0.eq(w_su.read_resp[0].payload.data),
            ]
            for t in range(MP):
                m.d.sync += bsum0[t].eq(bsdata.word_select(((jj * MP) + t)[:2], 16).as_signed())
            for r in range(OL):
                lane_w = wdata.word_select(r, ML * 8)
                lane_h = hdata.word_select(r, ML * 4)
                lane_e = subdata.word_select(r, 256)
                legacy = Mux(fmt_nib, unpack(lane_w, lane_h), lane_w)
                m.d.sync += dw0[r].eq(scale_slot(w_sc.read_resp[0].payload.data.word_select(r, 64),
                                                 w_wide))
                m.d.sync += wq0[r].eq(Mux(kq, unpack_k(lane_w, lane_h), legacy))
                for s in range(NSB):          # the sub-block scale of values 16s .. 16s + 15
                    m.d.sync += ksc0[r][s].eq(lane_e.word_select((g + 2 * s)[1:5], 8))
                for t in range(MP):
                    j = (jj * MP + t)[:4]
                    with_min = (kmin | kf["q2_K"]) & (jj < MJ)
                    m.d.sync += min0[r][t].eq(Mux(with_min,
                                                  lane_e[128:256].word_select(j, 8)[:6], 0))
        # S1: the int8 products. Two output lanes share each activation, so one DSP48E1
        # (25 x 18 bits, its M register) makes both: (w_a * 2**16 + w_b) * x = w_a * x * 2**16 +
        # w_b * x, and |w_b * x| <= 2**14 leaves w_b * x in the low 16 bits (signed) and
        # w_a * x, less their sign bit's borrow, above them.
        v1, t1 = delay(m, v0, 1, adv, "v1"), delay(m, t0, 1, adv, "t1")
        dx1, dw1 = delay(m, dx0, 1, adv, "dx1"), delay(m, dw0, 1, adv, "dw1")
        init4 = delay(m, init0, 4, adv, "init")
        packed = Signal(data.ArrayLayout(data.ArrayLayout(signed(33), ML), NPAIR))
        alone = Signal(data.ArrayLayout(signed(16), ML))   # an odd out_lanes' last lane
        mprods = Signal(data.ArrayLayout(data.ArrayLayout(signed(23), MP), OL))
        with m.If(adv):
            for i in range(ML):
                for p in range(NPAIR):
                    pair_w = (wq0[2 * p][i] << 16) + wq0[2 * p + 1][i]
                    m.d.sync += packed[p][i].eq(pair_w * xq0[i])
                if OL % 2:
                    m.d.sync += alone[i].eq(wq0[OL - 1][i] * xq0[i])
            for r in range(OL):
                for t in range(MP):
                    m.d.sync += mprods[r][t].eq(bsum0[t] * min0[r][t])
        prods = Signal(data.ArrayLayout(data.ArrayLayout(signed(16), ML), OL))
        for i in range(ML):
            for p in range(NPAIR):
                both = packed[p][i]
                m.d.comb += [prods[2 * p][i].eq(both[16:].as_signed() + both[15]),
                             prods[2 * p + 1][i].eq(both[:16].as_signed())]
            if OL % 2:
                m.d.comb += prods[OL - 1][i].eq(alone[i])
        # S2: each lane's word sum (sumi's part); K-quants: the sums of the word's positions
        # l and l + 8 of each 16-value sub-block (Q2_K: the sub-block's sum), and the mins' sum.
        v2, t2 = delay(m, v1, 1, adv, "v2"), delay(m, t1, 1, adv, "t2")
        dx2, dw2 = delay(m, dx1, 1, adv, "dx2"), delay(m, dw1, 1, adv, "dw2")
        ksc2 = delay(m, ksc0, 2, adv, "ksc")
        partial = Signal(data.ArrayLayout(signed(SUMI_BITS), OL))
        kin = Signal(data.ArrayLayout(data.ArrayLayout(data.ArrayLayout(signed(21), 8), NSB), OL))
        msum = Signal(data.ArrayLayout(signed(SUMI_BITS), OL))
        with m.If(adv):
            for r in range(OL):
                # one adder tree per sub-block serves both sumi's part and Q2_K's sub-block sums
                subs = [[prods[r][i] for i in range(16 * s, min(ML, 16 * s + 16))]
                        for s in range(NSB)]
                sub_sums = [tree_sum(sub) for sub in subs]
                m.d.sync += partial[r].eq(tree_sum(sub_sums))
                for s, sub in enumerate(subs):
                    for l in range(8):
                        m.d.sync += kin[r][s][l].eq(Mux(kf["q2_K"] & (l == 0), sub_sums[s],
                                                        tree_sum(sub[l::8])))
                m.d.sync += msum[r].eq(tree_sum([mprods[r][t] for t in range(MP)]))
        # S2b: K-quants: those sums times their sub-block scale (a DSP48E1 each, its M
        # register): llama.cpp's aux32[l] terms (Q2_K: isum's), exact integers.
        v2b, t2b = delay(m, v2, 1, adv, "v2b"), delay(m, t2, 1, adv, "t2b")
        dx2b, dw2b = delay(m, dx2, 1, adv, "dx2b"), delay(m, dw2, 1, adv, "dw2b")
        partial2b = delay(m, partial, 1, adv, "partial2b")
        msum2b = delay(m, msum, 1, adv, "msum2b")
        scaled = Signal(data.ArrayLayout(data.ArrayLayout(data.ArrayLayout(signed(SUMI_BITS), 8),
                                                          NSB), OL))
        with m.If(adv):
            for r in range(OL):
                for s in range(NSB):
                    for l in range(8):
                        m.d.sync += scaled[r][s][l].eq(kin[r][s][l] * ksc2[r][s])
        # S3: the block's words summed: sumi (K-quants: aux32[l] (Q2_K: isum in l = 0), and the
        # mins' sum), exact.
        v3, t3 = delay(m, v2b, 1, adv, "v3"), delay(m, t2b, 1, adv, "t3")
        dx3, dw3 = delay(m, dx2b, 1, adv, "dx3"), delay(m, dw2b, 1, adv, "dw3")
        aux = Signal(data.ArrayLayout(data.ArrayLayout(signed(SUMI_BITS), 8), OL))
        mins_i = Signal(data.ArrayLayout(signed(SUMI_BITS), OL))
        word_first = Signal()      # the next word starts a block
        with m.If(adv & v2b):
            m.d.sync += word_first.eq(t2b.fin)
            for r in range(OL):
                by_pos = [tree_sum([scaled[r][s][l] for s in range(NSB)]) for l in range(8)]
                m.d.sync += [
                    aux[r][0].eq(Mux(word_first, 0, aux[r][0])
                                 + Mux(kq, by_pos[0], partial2b[r])),
                    mins_i[r].eq(Mux(word_first, 0, mins_i[r]) + msum2b[r]),
                ]
                for l in range(1, 8):
                    m.d.sync += aux[r][l].eq(Mux(word_first, 0, aux[r][l]) + by_pos[l])
        with m.If(start):
            m.d.sync += word_first.eq(1)
        fin3 = v3 & t3.fin

        # ---- binary32, shared: each lane finishes a block every 32 / mac_lanes cycles at most, so
        # one binary32 chain serves `per_chain` lanes in turn (all of them when out_lanes <=
        # 32 / mac_lanes): a block's sums are held and fed to the chains one lane a cycle.
        # K-quants feed `nm` steps per lane (the mins' step first), then after a row's last
        # super-block (Q3_K..Q6_K) eight rounds of S cycles that add sums[l] into sumf.
        Lm, Lf = Fp32Multiplier.LATENCY, Fp32FromInt.LATENCY
        T1 = max(Lm, Lf)
        T2 = T1 + Lm
        T3 = T2 + Lm                             # the third stage: Q4_0's d_x, Q4_1/Q5_1's min
        h_aux = Signal(data.ArrayLayout(data.ArrayLayout(signed(SUMI_BITS), 8), OL))
        h_min = Signal(data.ArrayLayout(signed(SUMI_BITS), OL))
        h_dw = Signal(data.ArrayLayout(32, OL))
        h_init = Signal(data.ArrayLayout(32, OL))
        h_dx = Signal(32)
        h_tag = Signal(Tag)
        k = Signal(range(max(S, 2)))             # the lane (within its chain) fed this cycle
        op = Signal(range(18))                   # the step: nm per block, then 8 row-end rounds
        feeding = Signal()
        reducing = op >= nm
        last_op = nm - 1 + Mux(kpos & h_tag.last, 8, 0)
        with m.If(adv):
            with m.If(feeding):
                m.d.sync += k.eq(k + 1)
                with m.If(k == Mux(reducing, S - 1, Lc - 1)):
                    m.d.sync += [k.eq(0), op.eq(op + 1)]
                    with m.If(op == last_op):
                        m.d.sync += [feeding.eq(0), op.eq(0)]
            with m.If(fin3):      # the next block is >= 32 / mac_lanes cycles behind: no overlap
                m.d.sync += [h_aux.eq(aux), h_min.eq(mins_i), h_dw.eq(dw3), h_init.eq(init4),
                             h_dx.eq(dx3), h_tag.eq(t3), feeding.eq(1), k.eq(0), op.eq(0)]
        with m.If(start):
            m.d.sync += [feeding.eq(0), k.eq(0), op.eq(0)]

        # The step: its accumulator slot (0..7 sums[l], 8 sumf), its integer, its kind.
        min_step = (kmin | kf["q2_K"]) & (op == 0)
        pos = Signal(4)
        m.d.comb += pos.eq(Mux(reducing, op - nm, op - kmin))
        ChainTag = data.StructLayout({"m": range(self.m_max + 1), "first": 1, "last": 1,
                                      "k": range(max(S, 2)), "slot": 4, "rslot": 4,
                                      "reduce": 1, "neg": 1, "madd": 1})
        tag_in = Signal(ChainTag)
        feed_valid = feeding & (k < Lc) & ~(kf["q2_K"] & (op == 0))
        m.d.comb += [
            tag_in.m.eq(h_tag.m), tag_in.k.eq(k),
            tag_in.first.eq(Mux(reducing, (pos == 0) & ~kmin, h_tag.first)),
            tag_in.last.eq(h_tag.last & Mux(kpos, reducing & (pos == 7), op == nm - 1)),
            tag_in.slot.eq(Mux(kpos & ~reducing & ~min_step, pos, 8)),
            tag_in.rslot.eq(pos),
            tag_in.reduce.eq(reducing),
            tag_in.neg.eq(kmin & min_step),
            tag_in.madd.eq(fmt_madd | (kf["q2_K"] & (op == 1))),
        ]
        va, ta = delay(m, feed_valid, T3, adv, "va"), delay(m, tag_in, T3, adv, "ta")
        ve, te = delay(m, va, La, adv, "ve"), delay(m, ta, La, adv, "te")
        ex = h_dx[:8]
        dxf = Signal(32)
        m.d.comb += dxf.eq(Mux(kq, h_dx, fp16_to_fp32(m, h_dx[:16])))
        sxf = fp16_to_fp32(m, h_dx[16:])
        results = []
        kbits = _log2(Lc)
        for c in range(chains):
            lane = c * Lc + k[:kbits] if Lc > 1 else c
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
            dminf = fp16_to_fp32(m, dw[16:])
            exp = Signal(signed(10), name=f"mx_exp{c}")
            m.d.comb += exp.eq(Mux(fmt_mx, ew + ex - MX_BIAS, 0))
            nan = Signal(name=f"mx_nan{c}")
            m.d.comb += nan.eq(fmt_mx & ((ew == 0xFF) | (ex == 0xFF)))
            ivalue = Signal(signed(SUMI_BITS), name=f"int{c}")
            m.d.comb += ivalue.eq(Mux(min_step, h_min[lane], h_aux[lane][Mux(kpos, pos[:3], 0)]))
            # Stage 1: scale = d_w * d_x (K-quants' mins step: dmin_w * d_x), mins = m_w * s_x,
            # fsumi = float32(the integer) (MXINT8: sumi * 2**exp, rounded once).
            m.d.comb += [
                smul.en.eq(adv), smul.a.eq(Mux(min_step, dminf, dwf)), smul.b.eq(dxf),
                mmul.en.eq(adv), mmul.a.eq(dminf), mmul.b.eq(sxf),
                conv.en.eq(adv), conv.value.eq(ivalue), conv.exp.eq(exp),
            ]
            scale = delay(m, smul.result, T1 - Lm, adv, f"scale{c}")
            mins = delay(m, mmul.result, T1, adv, f"mins{c}")
            fsumi = delay(m, conv.result, T1 - Lf, adv, f"fsumi{c}")
            dw_a = delay(m, dwf, T1, adv, f"dw_a{c}")
            # Stage 2: prod = fsumi * scale (Q4_0: fsumi * d_w).
            m.d.comb += [pmul.en.eq(adv), pmul.a.eq(fsumi), pmul.b.eq(Mux(fmt_q4_0, dw_a, scale))]
            # Stage 3: Q4_0 prod * d_x; Q4_1, Q5_1 prod + mins; Q2_K prod - the mins' product
            # of the step before (Lc cycles earlier); K-quants' mins step -prod; the others prod.
            dx_a = delay(m, dxf, T2, adv, f"dx_a{c}")
            prev = delay(m, pmul.result, Lc, adv, f"q2_min{c}")
            m.d.comb += [dmul.en.eq(adv), dmul.a.eq(pmul.result), dmul.b.eq(dx_a),
                         madd.en.eq(adv), madd.a.eq(pmul.result),
                         madd.b.eq(Mux(kq, prev ^ (1 << 31), mins))]
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
            m.d.comb += value.eq(Mux(fmt_q4_0, dmul.result,
                                     Mux(ta.madd, with_min, two_c ^ Cat(Const(0, 31), ta.neg))))
            # The accumulators of this chain's lanes, in distributed RAM: sumf[m] (slot 8; and
            # the K-quants' sums[l], slots 0..7); the first block adds to +0 (or to the streamed
            # starting sum); a row-end round adds sums[l] into sumf.
            acc = Memory(shape=32, depth=max(2, self.m_max * Lc * 16), init=[])
            m.submodules[f"sumf{c}"] = acc
            rd = acc.read_port(domain="comb")
            rd2 = acc.read_port(domain="comb")
            wr = acc.write_port()

            def acc_addr(tag, slot):
                return Cat(tag.k[:kbits], slot, tag.m) if Lc > 1 else Cat(slot, tag.m)
            m.d.comb += [
                rd.addr.eq(acc_addr(ta, ta.slot)),
                rd2.addr.eq(acc_addr(ta, ta.rslot)),
                add.en.eq(adv),
                add.a.eq(Mux(ta.first, Mux(sum_in & ~ta.reduce, init_a, 0), rd.data)),
                add.b.eq(Mux(ta.reduce, rd2.data, value)),
                wr.addr.eq(acc_addr(te, te.slot)),
                wr.data.eq(add.result), wr.en.eq(ve),
            ]
            results.append(add.result)

        # Finished rows of Y: one vector of out_lanes results per (tile, m), gathered as the
        # chains deliver their lanes.
        gathered = Signal(data.ArrayLayout(32, OL))
        with m.If(ve & te.last):
            for c in range(chains):
                m.d.sync += gathered[c * Lc + te.k[:kbits] if Lc > 1 else c].eq(results[c])
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

    @staticmethod
    def _decode_subscales(m, raw16, kf):
        """A K-quant super-block's sub-block scale bytes (16, or 12 in the low bytes) -> one entry:
        16 signed 8-bit scales (bits 0..127), then 16 mins (bits 128..255), one per 16 values
        (a 32-value sub-block's scale and min twice); golden/kquants.py has the formats."""
        R = [raw16[8 * i:8 * i + 8] for i in range(16)]
        sc = {f: [None] * 16 for f in K_FORMATS}
        mn = {f: [Const(0, 8)] * 16 for f in K_FORMATS}
        for j in range(16):
            sc["q2_K"][j] = Cat(R[j][:4], Const(0, 4))
            mn["q2_K"][j] = Cat(R[j][4:], Const(0, 4))
            low = R[j % 8].word_select(j // 8, 4)
            high = R[8 + j % 4].word_select(j // 4, 2)
            sc["q3_K"][j] = (Cat(low, high, Const(0, 2)) - 32)[:8]
            sc["q6_K"][j] = R[j]
        for j in range(8):
            if j < 4:
                s6, m6 = R[j][:6], R[j + 4][:6]
            else:
                s6, m6 = Cat(R[j + 4][:4], R[j - 4][6:]), Cat(R[j + 4][4:], R[j][6:])
            for f in ("q4_K", "q5_K"):
                sc[f][2 * j] = sc[f][2 * j + 1] = Cat(s6, Const(0, 2))
                mn[f][2 * j] = mn[f][2 * j + 1] = Cat(m6, Const(0, 2))
        entry = Signal(256)

        def pick(table):
            value = Cat(table["q6_K"])
            for f in ("q2_K", "q3_K", "q4_K", "q5_K"):
                value = Mux(kf[f], Cat(table[f]), value)
            return value
        m.d.comb += entry.eq(Cat(pick(sc), pick(mn)))
        return entry
