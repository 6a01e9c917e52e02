// The fast co-simulation back end of the llmaccel core: the Verilated `top` core (class Vcore, from
// `verilator --prefix Vcore`) driven cycle by cycle by a C++ transactor, reached from Python through
// ctypes (host/fast_backend.py). No Python runs per cycle.
//
// The transactor's bus models behave, cycle for cycle, as the cocotb back end's (host/sim_backend.py:
// cocotbext-axi's AxiLiteMaster, AxiStreamSource and AxiStreamSink), so both back ends give the same
// CYCLES for the same calls (testbench/test_fast_backend.py checks it):
// - every model decides at a rising edge from the values sampled just before it, and drives its
//   new outputs right after it;
// - AXI4-Lite: a call queues its AW + W (or AR) beat; the channel drives it at the next edge and
//   holds it until the edge at which READY was high; BREADY / RREADY are high from the first edge
//   after reset; the call returns at the edge that took the response;
// - AXI4-Stream in: a call queues one packet (the bytes in 64-bit little-endian words, the last
//   one padded with zeros, TLAST on it); it is offered at the next edge. Words the core has not
//   taken when the call returns stay queued and keep being offered, as cocotbext-axi's source does;
// - AXI4-Stream out: TREADY high unless the sink stalls; bytes whose TKEEP bit is 0 are dropped;
//   the call returns at the edge that took the word with TLAST;
// - stalls: two seeded splitmix64 streams (source, sink), one draw per clock edge each; a draw
//   below `threshold` pauses that cycle (host/sim_backend.py's generators draw the same numbers).
#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "Vcore.h"
#include "Vcore___024root.h"
#include "verilated.h"

// The model's evaluation itself (Vcore::eval() is this plus the end-of-evaluation bookkeeping
// for $display messages and deferred deletions, which this core has none of).
void Vcore___024root___eval(Vcore___024root *vlSelf);

namespace {

struct SplitMix64 {
    uint64_t state = 0;
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
};

// One pause value per clock edge; `history` keeps the last few so a model can read the value a
// given number of edges back (cocotbext-axi's models read it with a lag of their own).
struct Pauses {
    SplitMix64 rng;
    uint64_t threshold = 0;
    bool history[4] = {false, false, false, false};
    void start(uint64_t seed, uint64_t thr) {
        rng.state = seed;
        threshold = thr;
        for (bool &h : history) h = false;
        history[0] = draw();
    }
    bool draw() { return threshold != 0 && rng.next() < threshold; }
    void step() {
        for (int i = 3; i > 0; --i) history[i] = history[i - 1];
        history[0] = draw();
    }
    bool lag(int edges) const { return history[edges]; }
};

struct LiteBeat {
    uint32_t addr, data;
    uint8_t strb;
};

enum Status : int64_t {
    FS_OK = 0,
    FS_TIMEOUT = -1,        // the cycle limit passed before the call finished
    FS_OVERFLOW = -2,       // the core sent more result bytes than the caller expected
};

}  // namespace

struct FastSim {
    VerilatedContext *context;
    Vcore *top;
    uint64_t cycle = 0;                 // rising edges since creation
    uint64_t limit = 0;                 // edges a call may take (0: no limit)
    Pauses source_pause, sink_pause;
    // cocotbext-axi's source reads the pause drawn at this edge; its sink drives TREADY from the
    // one drawn at the edge before (its sample precedes its wait for the edge)
    static constexpr int source_lag = 0, sink_lag = 1;
    bool in_reset = false;
    std::deque<LiteBeat> aw_queue, w_queue, ar_queue;
    std::deque<std::vector<uint64_t>> in_frames;
    std::vector<uint64_t> frame;        // the packet being sent
    size_t frame_pos = 0;
    bool has_frame = false;
    int b_count = 0, r_count = 0;
    uint32_t last_resp = 0, last_rdata = 0;
    std::vector<uint8_t> out_bytes;
    int out_packets = 0;

    explicit FastSim() {
        context = new VerilatedContext;
        context->randReset(0);
        top = new Vcore{context};
        top->clk = 0;
        top->rst = 0;
        clear_inputs();
        top->eval();
    }
    ~FastSim() {
        top->final();
        delete top;
        delete context;
    }

    void clear_inputs() {
        top->s_axil_awvalid = 0; top->s_axil_awaddr = 0; top->s_axil_awprot = 0;
        top->s_axil_wvalid = 0; top->s_axil_wdata = 0; top->s_axil_wstrb = 0;
        top->s_axil_bready = 0;
        top->s_axil_arvalid = 0; top->s_axil_araddr = 0; top->s_axil_arprot = 0;
        top->s_axil_rready = 0;
        top->s_axis_tvalid = 0; top->s_axis_tdata = 0; top->s_axis_tlast = 0;
        top->m_axis_tready = 0;
    }

    // One clock cycle: sample, rising edge, the models' new outputs, falling edge.
    void edge() {
        const bool aw_fire = top->s_axil_awvalid && top->s_axil_awready;
        const bool w_fire = top->s_axil_wvalid && top->s_axil_wready;
        const bool b_fire = top->s_axil_bvalid && top->s_axil_bready;
        const bool ar_fire = top->s_axil_arvalid && top->s_axil_arready;
        const bool r_fire = top->s_axil_rvalid && top->s_axil_rready;
        const bool s_fire = top->s_axis_tvalid && top->s_axis_tready;
        const bool m_fire = top->m_axis_tvalid && top->m_axis_tready;
        const uint32_t bresp = top->s_axil_bresp, rresp = top->s_axil_rresp;
        const uint32_t rdata = top->s_axil_rdata;
        const uint64_t mdata = top->m_axis_tdata;
        const uint32_t mkeep = top->m_axis_tkeep, mlast = top->m_axis_tlast;
        const bool s_valid = top->s_axis_tvalid;

        top->clk = 1;
        Vcore___024root___eval(top->rootp);   // the model was initialised by eval() at creation
        ++cycle;
        source_pause.step();
        sink_pause.step();

        if (!in_reset) {
            // AXI4-Lite channels (sources: AW, W, AR; sinks: B, R)
            if (aw_fire || !top->s_axil_awvalid) {
                if (!aw_queue.empty()) {
                    top->s_axil_awaddr = aw_queue.front().addr;
                    top->s_axil_awvalid = 1;
                    aw_queue.pop_front();
                } else {
                    top->s_axil_awvalid = 0;
                }
            }
            if (w_fire || !top->s_axil_wvalid) {
                if (!w_queue.empty()) {
                    top->s_axil_wdata = w_queue.front().data;
                    top->s_axil_wstrb = w_queue.front().strb;
                    top->s_axil_wvalid = 1;
                    w_queue.pop_front();
                } else {
                    top->s_axil_wvalid = 0;
                }
            }
            if (ar_fire || !top->s_axil_arvalid) {
                if (!ar_queue.empty()) {
                    top->s_axil_araddr = ar_queue.front().addr;
                    top->s_axil_arvalid = 1;
                    ar_queue.pop_front();
                } else {
                    top->s_axil_arvalid = 0;
                }
            }
            if (b_fire) { ++b_count; last_resp = bresp; }
            if (r_fire) { ++r_count; last_resp = rresp; last_rdata = rdata; }

            // AXI4-Stream in
            if (s_fire || !s_valid) {
                if (!has_frame && !in_frames.empty()) {
                    frame = std::move(in_frames.front());
                    in_frames.pop_front();
                    frame_pos = 0;
                    has_frame = true;
                }
                if (has_frame && !source_pause.lag(source_lag)) {
                    top->s_axis_tdata = frame[frame_pos++];
                    top->s_axis_tvalid = 1;
                    top->s_axis_tlast = frame_pos == frame.size();
                    if (frame_pos == frame.size()) has_frame = false;
                } else {
                    top->s_axis_tvalid = 0;
                    top->s_axis_tlast = 0;
                }
            }
            // AXI4-Stream out
            if (m_fire) {
                for (int lane = 0; lane < 8; ++lane)
                    if (mkeep >> lane & 1) out_bytes.push_back(uint8_t(mdata >> (8 * lane)));
                if (mlast) ++out_packets;
            }
            top->m_axis_tready = !sink_pause.lag(sink_lag);
            top->s_axil_bready = 1;
            top->s_axil_rready = 1;
        }
        // The falling edge without an evaluation: nothing in the core is sensitive to it, and no
        // output depends combinationally on an input but `rst` (fs_reset evaluates after
        // changing it), so the outputs sampled at the next edge are already settled. Verilator
        // finds a rising edge by comparing clk with its value at the last evaluation: tell it
        // clk was low. The inputs set above are evaluated at the start of the next eval(),
        // before the flip-flops take them, as at a real edge. One eval() per cycle, not two.
        top->clk = 0;
        top->rootp->__Vtrigprevexpr___TOP__clk__0 = 0;
    }

    bool over_limit(uint64_t start) const { return limit && cycle - start > limit; }
};

extern "C" {

FastSim *fs_create() { return new FastSim(); }

void fs_destroy(FastSim *s) { delete s; }

uint64_t fs_cycle(FastSim *s) { return s->cycle; }

void fs_set_limit(FastSim *s, uint64_t edges) { s->limit = edges; }

// Random pauses on both streams from now on: each edge, the source holds back and the sink
// refuses when its stream's draw is below `threshold` (0: never).
void fs_set_stall(FastSim *s, uint64_t source_seed, uint64_t sink_seed, uint64_t threshold) {
    s->source_pause.start(source_seed, threshold);
    s->sink_pause.start(sink_seed, threshold);
}

// `rst` high for `cycles` edges, then low for 2 (as the cocotb back end's reset()). Everything
// queued and half-received is dropped.
void fs_reset(FastSim *s, int cycles) {
    s->in_reset = true;
    s->aw_queue.clear(); s->w_queue.clear(); s->ar_queue.clear();
    s->in_frames.clear();
    s->has_frame = false;
    s->out_bytes.clear();
    s->out_packets = 0;
    s->top->rst = 1;
    s->clear_inputs();
    for (int i = 0; i < cycles; ++i) s->edge();
    s->top->rst = 0;
    s->in_reset = false;
    s->top->eval();   // the outputs after rst falls (the readies depend on it)
    for (int i = 0; i < 2; ++i) s->edge();
}

// One AXI4-Lite write; returns BRESP, or FS_TIMEOUT.
int64_t fs_write32(FastSim *s, uint32_t offset, uint32_t value) {
    s->aw_queue.push_back({offset, 0, 0});
    s->w_queue.push_back({offset, value, 0xF});
    const int want = s->b_count + 1;
    const uint64_t start = s->cycle;
    while (s->b_count < want) {
        if (s->over_limit(start)) return FS_TIMEOUT;
        s->edge();
    }
    return s->last_resp;
}

// One AXI4-Lite read into *value; returns RRESP, or FS_TIMEOUT.
int64_t fs_read32(FastSim *s, uint32_t offset, uint32_t *value) {
    s->ar_queue.push_back({offset, 0, 0});
    const int want = s->r_count + 1;
    const uint64_t start = s->cycle;
    while (s->r_count < want) {
        if (s->over_limit(start)) return FS_TIMEOUT;
        s->edge();
    }
    *value = s->last_rdata;
    return s->last_resp;
}

// Send `nbytes` as one packet and collect one result packet into `out` (at most `out_cap`
// bytes). Returns the number of result bytes, or a negative Status.
int64_t fs_stream(FastSim *s, const uint8_t *data, uint64_t nbytes, uint8_t *out,
                  uint64_t out_cap) {
    std::vector<uint64_t> words((nbytes + 7) / 8, 0);
    if (nbytes) std::memcpy(words.data(), data, nbytes);   // little-endian host (x86, ARM)
    if (!words.empty()) s->in_frames.push_back(std::move(words));
    s->out_bytes.clear();
    s->out_packets = 0;
    const uint64_t start = s->cycle;
    while (s->out_packets == 0) {
        if (s->over_limit(start)) return FS_TIMEOUT;
        if (s->out_bytes.size() > out_cap) return FS_OVERFLOW;
        s->edge();
    }
    if (s->out_bytes.size() > out_cap) return FS_OVERFLOW;
    std::memcpy(out, s->out_bytes.data(), s->out_bytes.size());
    const int64_t got = int64_t(s->out_bytes.size());
    s->out_bytes.clear();
    return got;
}

// Run `cycles` edges with nothing new queued (what was queued keeps moving).
void fs_idle(FastSim *s, uint64_t cycles) {
    for (uint64_t i = 0; i < cycles; ++i) s->edge();
}

}  // extern "C"
