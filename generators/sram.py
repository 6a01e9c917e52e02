"""SRAM controller: banked block RAM with a loader write port, engine read ports, ping-pong bank sets,
optional SECDED ECC and per-bank enables for clock gating.

Ports (all streams are `amaranth.lib.stream`: a beat moves on a rising edge where valid & ready):
- `write`       in,  payload {addr, data, be[, inject]}: the loader. `be` has one bit per
                `granularity` bits of data (a byte by default; an engine that always writes whole
                64-bit beats uses 64: the block RAM's byte enables are then driven in groups).
                With `ecc=1`, `inject` (one bit per stored bit) is XORed into the stored word: a
                fault-injection hook for tests, tie it to zero in use.
- `read_req[p]` in,  payload addr: one per read port (the engines).
- `read_resp[p]` out, payload {data[, corrected, uncorrectable]}: in request order. With the response
                sink ready, a response is valid READ_LATENCY = 2 cycles after its request was
                accepted; each port sustains one read per cycle.
- `swap_fill`, `swap_drain` (`pingpong=1`): valid/ready handshakes. The loader raises swap_fill when
                the fill set is complete, the engines raise swap_drain when done with the compute set;
                the sets swap at the end of the cycle in which both are valid (both see ready then).
- `compute_set` (`pingpong=1`): which bank set the read ports read (the other one is filled).
- `bank_en`     one bit per physical bank (set-major: bank b of set s is bit s * banks + b): the
                bank's block RAM is enabled in this cycle. A clock-gating cell or the RAM's CE can
                use it; the controller itself never needs a disabled bank's clock.
- `gated_bank_cycles` (48 bits, wraps): disabled banks summed over cycles, a power proxy.
- `ecc_corrected`, `ecc_uncorrectable` (`ecc=1`, 32 bits, saturating): decodes that corrected one
                bit or flagged an uncorrectable word, read-modify-write reads included.

Semantics, bit for bit as golden/sram.py defines them: interleaved banks (the low address bits pick
the bank); a write accepted in cycle t is seen by reads accepted from t + 1 on, and a read accepted
in the same cycle as a write to the same word returns the old word (read-first, as the block RAM's
READ_FIRST mode). Read ports that want the same bank in the same cycle are served round-robin (one
read per bank and cycle: the block RAM's second port is the loader's write port). With `ecc=1` a
write with some lane enables clear is a read-modify-write: it takes the bank's read port in its
accept cycle (ahead of the engines), writes at the end of the next cycle, and the write port is not
ready in that next cycle. While the reset is high no stream moves (every ready and valid is low);
reset clears pipelines, ping-pong state and counters, never the stored words.
"""
from amaranth import Module, Signal, Cat, Const, Mux, ResetSignal
from amaranth.lib import wiring, stream, data
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import Param, ParamError, resolve
from .secded import SecdedEncoder, SecdedDecoder, hamming_layout

Handshake = wiring.Signature({"valid": Out(1), "ready": In(1)})


class SramController(wiring.Component):
    BLOCK = "sram"
    SUMMARY = "banked block-RAM buffers: loader write port, engine read ports, ping-pong, SECDED"
    PARAMS = (
        Param("width", 64, "data bits per word", 8, 4096, multiple_of=8),
        Param("depth", 512, "words per bank", 16, 65536, power_of_two=True),
        Param("banks", 4, "banks per bank set", 1, 16, power_of_two=True),
        Param("read_ports", 2, "engine read ports", 1, 4),
        Param("pingpong", 1, "two bank sets swapped by handshake", 0, 1),
        Param("ecc", 0, "SECDED per word (single-bit correct, double-bit detect)", 0, 1),
        Param("granularity", 8, "data bits per write enable (must divide width)", 8, 4096,
              multiple_of=8),
    )
    READ_LATENCY = 2
    RESPONSE_FIFO_DEPTH = 3  # latency + 1: full rate without a ready-to-ready path
    GATED_BITS = 48
    COUNTER_BITS = 32

    def __init__(self, **params):
        p = resolve(self.PARAMS, params)
        self.params = p
        self.width, self.depth, self.banks = p["width"], p["depth"], p["banks"]
        self.read_ports, self.pingpong, self.ecc = p["read_ports"], p["pingpong"], p["ecc"]
        self.granularity = p["granularity"]
        if self.width % self.granularity:
            raise ParamError(f"granularity must divide width ({self.width}), not "
                             f"{self.granularity}")
        self.lanes = self.width // self.granularity
        self.sets = 2 if self.pingpong else 1
        self.physical_banks = self.sets * self.banks
        self.bank_bits = self.banks.bit_length() - 1
        self.word_bits = self.depth.bit_length() - 1
        self.addr_bits = self.bank_bits + self.word_bits
        self.stored_width = self.width + (hamming_layout(self.width)[0] + 1 if self.ecc else 0)

        write_fields = {"addr": self.addr_bits, "data": self.width, "be": self.lanes}
        resp_fields = {"data": self.width}
        if self.ecc:
            write_fields["inject"] = self.stored_width
            resp_fields.update(corrected=1, uncorrectable=1)
        self.write_layout = data.StructLayout(write_fields)
        self.resp_layout = data.StructLayout(resp_fields)

        members = {
            "write": In(stream.Signature(self.write_layout)),
            "read_req": In(stream.Signature(self.addr_bits)).array(self.read_ports),
            "read_resp": Out(stream.Signature(self.resp_layout)).array(self.read_ports),
            "bank_en": Out(self.physical_banks),
            "gated_bank_cycles": Out(self.GATED_BITS),
        }
        if self.pingpong:
            members.update(swap_fill=In(Handshake), swap_drain=In(Handshake), compute_set=Out(1))
        if self.ecc:
            members.update(ecc_corrected=Out(self.COUNTER_BITS),
                           ecc_uncorrectable=Out(self.COUNTER_BITS))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        rst = ResetSignal()
        nb, npb, P = self.banks, self.physical_banks, self.read_ports
        full_be = (1 << self.lanes) - 1
        pb_range = range(max(npb, 2))  # a bank index never zero bits wide (Verilog has no [-1:0])

        # Storage: one simple-dual-port block RAM per physical bank.
        read_ports, write_ports = [], []
        for pb in range(npb):
            mem = Memory(shape=self.stored_width, depth=self.depth, init=[])
            m.submodules[f"bank{pb}"] = mem
            # Lanes map to the RAM's byte-wide write enables (in groups when granularity > 8);
            # an ECC word is written whole.
            write_ports.append(mem.write_port(granularity=None if self.ecc else self.granularity))
            read_ports.append(mem.read_port())  # not transparent: read-first
        rd_en = Signal(npb)
        wr_en = Signal(npb)

        compute_set = Signal()
        fill_set = Signal()
        if self.pingpong:
            m.d.comb += [self.compute_set.eq(compute_set), fill_set.eq(~compute_set)]

        # ---- loader write port -------------------------------------------------------------
        w = self.write
        w_fire = Signal()
        w_bank = w.payload.addr[:self.bank_bits]
        w_word = w.payload.addr[self.bank_bits:]
        w_pb = Signal(pb_range)
        m.d.comb += w_pb.eq(w_bank + fill_set * nb if self.pingpong else w_bank)

        rmw_start = Signal()      # a partial ECC write accepted now: its old word is read now
        rmw_valid = Signal()      # ... and merged and written in this cycle
        if self.ecc:
            rmw_pb = Signal(pb_range)
            rmw_word = Signal(self.word_bits)
            rmw_data = Signal(self.width)
            rmw_be = Signal(self.lanes)
            rmw_inject = Signal(self.stored_width)
            m.d.comb += [
                w.ready.eq(~rst & ~rmw_valid),
                w_fire.eq(w.valid & w.ready),
                rmw_start.eq(w_fire & (w.payload.be != full_be)),
            ]
            m.d.sync += rmw_valid.eq(rmw_start)
            with m.If(rmw_start):
                m.d.sync += [rmw_pb.eq(w_pb), rmw_word.eq(w_word), rmw_data.eq(w.payload.data),
                             rmw_be.eq(w.payload.be), rmw_inject.eq(w.payload.inject)]

            # Merge: the old word (corrected) under the lane enables, encoded again.
            m.submodules.rmw_decoder = rmw_dec = SecdedDecoder(self.width)
            m.d.comb += rmw_dec.code.eq(Cat(read_ports[i].data for i in range(npb)).word_select(
                rmw_pb, self.stored_width))
            g = self.granularity
            merged = Cat(Mux(rmw_be[i], rmw_data.word_select(i, g), rmw_dec.data.word_select(i, g))
                         for i in range(self.lanes))
            m.submodules.rmw_encoder = rmw_enc = SecdedEncoder(self.width)
            m.submodules.write_encoder = w_enc = SecdedEncoder(self.width)
            m.d.comb += [rmw_enc.data.eq(merged), w_enc.data.eq(w.payload.data)]
            # An uncorrectable old word stays flagged: two check bits flipped ("poison").
            poison = Mux(rmw_dec.uncorrectable, Const(0b11 << self.width, self.stored_width), 0)
            for pb in range(npb):
                wp = write_ports[pb]
                with m.If(rmw_valid):
                    m.d.comb += [wp.addr.eq(rmw_word),
                                 wp.data.eq(rmw_enc.code ^ poison ^ rmw_inject),
                                 wp.en.eq(rmw_pb == pb)]
                with m.Else():
                    m.d.comb += [wp.addr.eq(w_word),
                                 wp.data.eq(w_enc.code ^ w.payload.inject),
                                 wp.en.eq(w_fire & ~rmw_start & (w_pb == pb))]
                m.d.comb += wr_en[pb].eq(wp.en)
        else:
            m.d.comb += [w.ready.eq(~rst), w_fire.eq(w.valid & w.ready)]
            for pb in range(npb):
                wp = write_ports[pb]
                m.d.comb += [wp.addr.eq(w_word), wp.data.eq(w.payload.data),
                             wp.en.eq(Mux(w_fire & (w_pb == pb), w.payload.be, 0)),
                             wr_en[pb].eq(wp.en.any())]

        # ---- engine read ports: credit check, then per-bank round-robin arbitration ----------
        wants, req_pb, grants = [], [], []
        fifos, decoders = [], []
        for p in range(P):
            req = self.read_req[p]
            fifo = SyncFIFO(width=self.resp_layout.size, depth=self.RESPONSE_FIFO_DEPTH)
            m.submodules[f"resp_fifo{p}"] = fifo
            fifos.append(fifo)
            inflight = Signal(name=f"inflight{p}")
            inflight_pb = Signal(pb_range, name=f"inflight_pb{p}")
            want = Signal(name=f"want{p}")
            pbsig = Signal(pb_range, name=f"req_pb{p}")
            bank = req.payload[:self.bank_bits]
            m.d.comb += [
                # Room in the FIFO for this response, counting the one still in the RAM.
                want.eq(~rst & req.valid & (fifo.level + inflight < self.RESPONSE_FIFO_DEPTH)),
                pbsig.eq(bank + compute_set * nb if self.pingpong else bank),
            ]
            grant = Signal(name=f"grant{p}")
            m.d.comb += req.ready.eq(grant)
            m.d.sync += [inflight.eq(req.valid & req.ready), inflight_pb.eq(pbsig)]
            wants.append(want)
            req_pb.append(pbsig)
            grants.append(grant)

            # One cycle later the word is on the RAM's output: decode it into the FIFO.
            raw = Cat(read_ports[i].data for i in range(npb)).word_select(inflight_pb,
                                                                       self.stored_width)
            resp = Signal(self.resp_layout, name=f"resp{p}")
            if self.ecc:
                dec = SecdedDecoder(self.width)
                m.submodules[f"read_decoder{p}"] = dec
                decoders.append(dec)
                m.d.comb += [dec.code.eq(raw), resp.data.eq(dec.data),
                             resp.corrected.eq(dec.corrected),
                             resp.uncorrectable.eq(dec.uncorrectable)]
            else:
                m.d.comb += resp.data.eq(raw)
            m.d.comb += [fifo.w_data.eq(resp), fifo.w_en.eq(inflight)]
            out = self.read_resp[p]
            m.d.comb += [out.valid.eq(fifo.r_rdy & ~rst), out.payload.eq(fifo.r_data),
                         fifo.r_en.eq(out.ready & ~rst)]

        for pb in range(npb):
            rp = read_ports[pb]
            requests = Cat(wants[p] & (req_pb[p] == pb) for p in range(P))
            rmw_here = rmw_start & (w_pb == pb) if self.ecc else Const(0)
            # Round-robin: the port after the last one served has the highest priority.
            last = Signal(range(max(P, 2)), name=f"rr{pb}")
            winner = Signal(range(max(P, 2)), name=f"winner{pb}")
            any_req = requests.any() & ~rmw_here
            with m.Switch(last):
                for start in range(P):
                    with m.Case(start):
                        order = [(start + 1 + i) % P for i in range(P)]
                        for q in reversed(order):  # the first in `order` wins
                            with m.If(requests[q]):
                                m.d.comb += winner.eq(q)
            for p in range(P):
                with m.If(any_req & (winner == p) & (req_pb[p] == pb)):
                    m.d.comb += grants[p].eq(1)
            with m.If(any_req):
                m.d.sync += last.eq(winner)
            m.d.comb += [
                rp.en.eq(any_req | rmw_here),
                rp.addr.eq(Mux(rmw_here, w_word,
                               Cat(self.read_req[p].payload[self.bank_bits:] for p in range(P))
                               .word_select(winner, self.word_bits))),
                rd_en[pb].eq(rp.en),
            ]

        # ---- ping-pong swap ------------------------------------------------------------------
        if self.pingpong:
            # No swap while a read-modify-write is accepted or committing: after a swap, every
            # write accepted before it is visible to the engines.
            swap_ok = ~rst & ~rmw_start & ~rmw_valid
            m.d.comb += [self.swap_fill.ready.eq(swap_ok & self.swap_drain.valid),
                         self.swap_drain.ready.eq(swap_ok & self.swap_fill.valid)]
            with m.If(self.swap_fill.valid & self.swap_fill.ready):
                m.d.sync += compute_set.eq(~compute_set)

        # ---- bank enables and counters ---------------------------------------------------------
        m.d.comb += self.bank_en.eq(rd_en | wr_en)
        gated = Signal(range(npb + 1))
        m.d.comb += gated.eq(sum((~self.bank_en[i]).as_unsigned() for i in range(npb)))
        gated_count = Signal(self.GATED_BITS)
        m.d.sync += gated_count.eq(gated_count + gated)
        m.d.comb += self.gated_bank_cycles.eq(gated_count)

        if self.ecc:
            events = [(d.corrected, d.uncorrectable, fifos[p].w_en) for p, d in enumerate(decoders)]
            events.append((rmw_dec.corrected, rmw_dec.uncorrectable, rmw_valid))
            limit = (1 << self.COUNTER_BITS) - 1
            for out, idx in ((self.ecc_corrected, 0), (self.ecc_uncorrectable, 1)):
                count = Signal(self.COUNTER_BITS, name=out.name + "_count")
                inc = sum((ev[idx] & ev[2]).as_unsigned() for ev in events)
                m.d.sync += count.eq(Mux(count + inc > limit, limit, count + inc))
                m.d.comb += out.eq(count)
        return m
