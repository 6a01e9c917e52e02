// The fast co-simulation back end of the llmaccel core: the Verilated `top` core driven cycle by
// cycle by a C++ transactor, reached from Python through ctypes (host/fast_backend.py). No Python
// runs per cycle.
//
// The core is Verilated in partitions (testbench/fast_partition.py): the glue (class Vcore: the
// register file, the gearboxes, the result packer and the top's own logic, with the core's ports)
// and one model per engine (Vbfp, Vternary), connected here port to port by fastsim_parts.h,
// which is generated from the same Verilog. Each cycle:
//   1. settle: copy the engines' outputs to the glue and the glue's outputs to the engines, and
//      evaluate the combinational logic of whichever model's inputs changed, until nothing
//      changes (what a single model does at the start of its evaluation);
//   2. the bus models sample the settled core outputs;
//   3. the rising edge: every engine that may change, then the glue, each with the inputs it had
//      before the edge;
//   4. the bus models drive their new inputs.
// An engine is left unevaluated while it provably cannot change: its inputs have not changed
// since two consecutive edges left its whole state (every flip-flop and memory word of the
// model) identical, so it is at a fixed point for those inputs. The first changed input wakes
// it before the next edge. Skipping is therefore exact, never an approximation: the partitioned
// core computes what the whole one does, and testbench/test_fast_backend.py checks it against
// the cocotb back end cycle for cycle.
//
// The transactor's bus models behave, cycle for cycle, as the cocotb back end's (host/sim_backend.py:
// cocotbext-axi's AxiLiteMaster, AxiStreamSource and AxiStreamSink), so both back ends give the same
// CYCLES for the same calls (testbench/test_fast_backend.py checks it):
// - every model decides at a rising edge from the values sampled just before it, and drives its
//   new outputs right after it;
// - AXI4-Lite: a call queues its AW + W (or AR) beat; the channel drives it at the next edge and
//   holds it until the edge at which READY was high; BREADY / RREADY are high from the first edge
//   after reset; the call returns at the edge that took the response;
// - AXI4-Stream in (FASTSIM_STREAMS of them, s_axis0 ..; each its own source): a call queues one
//   packet on each stream that has bytes (the bytes in 64-bit little-endian words, the last one
//   padded with zeros, TLAST on it); it is offered at the next edge. Words the core has not taken
//   when the call returns stay queued and keep being offered, as cocotbext-axi's source does;
// - AXI4-Stream out: TREADY high unless the sink stalls; bytes whose TKEEP bit is 0 are dropped;
//   the call returns at the edge that took the word with TLAST;
// - stalls: seeded splitmix64 streams (one per source, one for the sink), one draw per clock edge
//   each; a draw below `threshold` pauses that cycle (host/sim_backend.py's generators draw the
//   same numbers).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "Vcore.h"
#include "Vcore___024root.h"
#include "fastsim_parts.h"
#include "verilated.h"

// fastsim_parts.h declares each model's evaluation itself (`<model>::eval()` is that plus the
// end-of-evaluation bookkeeping for $display messages and deferred deletions, which this core has
// none of) and `<prefix>_rise`, its rising-edge phases alone.

namespace {

// Verilator finds a rising edge by comparing clk with its value at the last evaluation. The
// falling edge is never evaluated (nothing in the core is sensitive to it): clk is set low and
// the model told it was low, so the next evaluation with clk high is a rising edge.
template <class Model>
void clock_low(Model *m) {
    m->clk = 0;
    m->rootp->__Vtrigprevexpr___TOP__clk__0 = 0;
}

// Edges with unchanged inputs before the first fixed-point check, and the most edges between
// two checks (each check copies and compares the engine's state once).
constexpr uint64_t FIRST_CHECK = 4;
constexpr uint64_t MAX_CHECK_INTERVAL = 256;

template <class P>
struct Engine {
    typename P::Model *model = nullptr;
    std::vector<unsigned char> snapshot;  // the model's state after the last edge checked
    bool have_snapshot = false;
    bool idle = false;                     // proven at a fixed point for its current inputs
    bool evaluated = false;                // evaluated at the current edge
    bool may_skip = true;                  // fs_set_skipping
    uint64_t stable = 0;                   // edges since its inputs last changed
    uint64_t next_check = FIRST_CHECK, interval = FIRST_CHECK;
    uint64_t edges = 0, skipped = 0;

    void create(VerilatedContext *context) {
        model = new typename P::Model{context, P::name};
        snapshot.resize(sizeof(typename P::Root));
    }
    void destroy() {
        model->final();
        delete model;
    }
    const unsigned char *state() const {
        return reinterpret_cast<const unsigned char *>(model->rootp);
    }
    void woken() {
        idle = have_snapshot = false;
        stable = 0;
        next_check = interval = FIRST_CHECK;
    }
    void rise() {
        ++edges;
        evaluated = !idle;
        if (idle) {
            ++skipped;
            return;
        }
        model->clk = 1;
        P::rise(model->rootp);
    }
    // After the edge: two consecutive edges with the same inputs that leave the same state
    // prove a fixed point (the next state is a function of the state and the inputs).
    void after_rise() {
        if (!evaluated) return;
        clock_low(model);
        ++stable;
        if (!may_skip || stable < next_check) return;
        if (have_snapshot && std::memcmp(snapshot.data(), state(), snapshot.size()) == 0) {
            idle = true;
            return;
        }
        if (!have_snapshot) {
            std::memcpy(snapshot.data(), state(), snapshot.size());
            have_snapshot = true;
            next_check = stable + 1;
        } else {   // still changing: look again later
            have_snapshot = false;
            interval = std::min(interval * 2, MAX_CHECK_INTERVAL);
            next_check = stable + interval;
        }
    }
};

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

// One AXI4-Stream input of the core (its ports in the glue model) and its source's state.
struct InputPorts {
    CData *tvalid, *tready, *tlast;
    QData *tdata;
};

struct Source {
    InputPorts port;
    Pauses pause;
    std::deque<std::vector<uint64_t>> frames;
    std::vector<uint64_t> frame;        // the packet being sent
    size_t pos = 0;
    bool has_frame = false;
    bool fire = false, valid = false;   // sampled before the edge

    void clear() {
        *port.tvalid = 0; *port.tdata = 0; *port.tlast = 0;
    }
    void drop() {
        frames.clear();
        has_frame = false;
    }
    void sample() {
        valid = *port.tvalid;
        fire = valid && *port.tready;
    }
    // After the edge: the next word, or nothing (no packet, or a pause).
    void drive(int lag) {
        if (!(fire || !valid)) return;
        if (!has_frame && !frames.empty()) {
            frame = std::move(frames.front());
            frames.pop_front();
            pos = 0;
            has_frame = true;
        }
        if (has_frame && !pause.lag(lag)) {
            *port.tdata = frame[pos++];
            *port.tvalid = 1;
            *port.tlast = pos == frame.size();
            if (pos == frame.size()) has_frame = false;
        } else {
            *port.tvalid = 0;
            *port.tlast = 0;
        }
    }
};

struct LiteBeat {
    uint32_t addr, data;
    uint8_t strb;
};

enum Status : int64_t {
    FS_OK = 0,
    FS_TIMEOUT = -1,        // the cycle limit passed before the call finished
    FS_OVERFLOW = -2,       // the core sent more result bytes than the caller expected
    FS_UNSETTLED = -3,      // the combinational paths between the partitions did not settle
};

}  // namespace

// The partitioned core: the glue and the engines, evaluated as one.
struct Core {
    Vcore *glue = nullptr;
#define FASTSIM_MEMBER(P) Engine<P> e_##P;
    FASTSIM_PARTS(FASTSIM_MEMBER)
#undef FASTSIM_MEMBER
    bool loop = false;   // the combinational paths between the models did not settle

    void create(VerilatedContext *context) {
        glue = new Vcore{context, "core"};
#define FASTSIM_CREATE(P) e_##P.create(context);
        FASTSIM_PARTS(FASTSIM_CREATE)
#undef FASTSIM_CREATE
    }
    void destroy() {
#define FASTSIM_DESTROY(P) e_##P.destroy();
        FASTSIM_PARTS(FASTSIM_DESTROY)
#undef FASTSIM_DESTROY
        glue->final();
        delete glue;
    }
    // Full evaluation of every model (at creation), then settle.
    void initial() {
        glue->eval();
#define FASTSIM_INITIAL(P) e_##P.model->eval();
        FASTSIM_PARTS(FASTSIM_INITIAL)
#undef FASTSIM_INITIAL
        settle();
    }
    // Combinational settling across the models, with the clock low: the glue once (its inputs
    // from the bus models may have changed), then each model whose inputs changed, until none.
    void settle() {
        for (int round = 0; round < 16; ++round) {
            bool glue_changed = round == 0;
#define FASTSIM_STORE(P) glue_changed |= P::store(e_##P.model, glue);
            FASTSIM_PARTS(FASTSIM_STORE)
#undef FASTSIM_STORE
            if (glue_changed) Vcore___024root___eval(glue->rootp);
            bool engines_changed = false;
#define FASTSIM_LOAD(P)                              \
    if (P::load(glue, e_##P.model)) {                \
        e_##P.woken();                               \
        P::eval(e_##P.model->rootp);                 \
        engines_changed = true;                      \
    }
            FASTSIM_PARTS(FASTSIM_LOAD)
#undef FASTSIM_LOAD
            if (!engines_changed) return;
        }
        loop = true;
    }
    // The rising edge: each model takes the inputs it had before the edge.
    void rise() {
#define FASTSIM_RISE(P) e_##P.rise();
        FASTSIM_PARTS(FASTSIM_RISE)
#undef FASTSIM_RISE
        glue->clk = 1;
        Vcore_rise(glue->rootp);
    }
    void after_rise() {
        clock_low(glue);
#define FASTSIM_AFTER(P) e_##P.after_rise();
        FASTSIM_PARTS(FASTSIM_AFTER)
#undef FASTSIM_AFTER
    }
};

struct FastSim {
    VerilatedContext *context;
    Core core;
    Vcore *top;                         // the glue: the core's ports
    uint64_t cycle = 0;                 // rising edges since creation
    uint64_t limit = 0;                 // edges a call may take (0: no limit)
    Source sources[FASTSIM_STREAMS];
    Pauses sink_pause;
    // cocotbext-axi's source reads the pause drawn at this edge; its sink drives TREADY from the
    // one drawn at the edge before (its sample precedes its wait for the edge)
    static constexpr int source_lag = 0, sink_lag = 1;
    bool in_reset = false;
    std::deque<LiteBeat> aw_queue, w_queue, ar_queue;
    int b_count = 0, r_count = 0;
    uint32_t last_resp = 0, last_rdata = 0;
    std::vector<uint8_t> out_bytes;
    int out_packets = 0;

    explicit FastSim() {
        context = new VerilatedContext;
        context->randReset(0);
        core.create(context);
        top = core.glue;
        const InputPorts ports[FASTSIM_STREAMS] = FASTSIM_INPUTS(top);
        for (int i = 0; i < FASTSIM_STREAMS; ++i) sources[i].port = ports[i];
        top->clk = 0;
        top->rst = 0;
        clear_inputs();
        core.initial();
    }
    ~FastSim() {
        core.destroy();
        delete context;
    }

    void clear_inputs() {
        top->s_axil_awvalid = 0; top->s_axil_awaddr = 0; top->s_axil_awprot = 0;
        top->s_axil_wvalid = 0; top->s_axil_wdata = 0; top->s_axil_wstrb = 0;
        top->s_axil_bready = 0;
        top->s_axil_arvalid = 0; top->s_axil_araddr = 0; top->s_axil_arprot = 0;
        top->s_axil_rready = 0;
        for (Source &src : sources) src.clear();
        top->m_axis_tready = 0;
    }

    // One clock cycle: settle, sample, rising edge, the bus models' new inputs.
    void edge() {
        core.settle();
        const bool aw_fire = top->s_axil_awvalid && top->s_axil_awready;
        const bool w_fire = top->s_axil_wvalid && top->s_axil_wready;
        const bool b_fire = top->s_axil_bvalid && top->s_axil_bready;
        const bool ar_fire = top->s_axil_arvalid && top->s_axil_arready;
        const bool r_fire = top->s_axil_rvalid && top->s_axil_rready;
        for (Source &src : sources) src.sample();
        const bool m_fire = top->m_axis_tvalid && top->m_axis_tready;
        const uint32_t bresp = top->s_axil_bresp, rresp = top->s_axil_rresp;
        const uint32_t rdata = top->s_axil_rdata;
        const uint64_t mdata = top->m_axis_tdata;
        const uint32_t mkeep = top->m_axis_tkeep, mlast = top->m_axis_tlast;

        core.rise();
        ++cycle;
        for (Source &src : sources) src.pause.step();
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
            for (Source &src : sources) src.drive(source_lag);
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
        // No falling-edge evaluation (clock_low); the inputs set above are settled at the start
        // of the next cycle, before the flip-flops take them, as at a real edge.
        core.after_rise();
    }

    bool over_limit(uint64_t start) const { return limit && cycle - start > limit; }
};

extern "C" {

FastSim *fs_create() { return new FastSim(); }

void fs_destroy(FastSim *s) { delete s; }

uint64_t fs_cycle(FastSim *s) { return s->cycle; }

// Rising edges at which an engine partition was left unevaluated (at a proven fixed point), and
// all of its edges; `which` counts the engines in fastsim_parts.h's order. 0 for no such engine.
uint64_t fs_engine_edges(FastSim *s, int which, int skipped) {
    int i = 0;
#define FASTSIM_STATS(P)                                                          \
    if (i++ == which) return skipped ? s->core.e_##P.skipped : s->core.e_##P.edges;
    FASTSIM_PARTS(FASTSIM_STATS)
#undef FASTSIM_STATS
    return 0;
}

// Whether idle engines may be left unevaluated (the default); off, every model is evaluated at
// every edge (a test compares both).
void fs_set_skipping(FastSim *s, int on) {
#define FASTSIM_SKIPPING(P)             \
    s->core.e_##P.may_skip = on != 0;   \
    if (!on) s->core.e_##P.woken();
    FASTSIM_PARTS(FASTSIM_SKIPPING)
#undef FASTSIM_SKIPPING
}

// The name of engine partition `which`, or null past the last one.
const char *fs_engine_name(FastSim *, int which) {
    int i = 0;
#define FASTSIM_NAME(P) \
    if (i++ == which) return P::name;
    FASTSIM_PARTS(FASTSIM_NAME)
#undef FASTSIM_NAME
    return nullptr;
}

void fs_set_limit(FastSim *s, uint64_t edges) { s->limit = edges; }

// The core's input streams.
int fs_streams(FastSim *) { return FASTSIM_STREAMS; }

// Random pauses on every stream from now on: each edge, each source holds back and the sink
// refuses when its stream's draw is below `threshold` (0: never); one seed per input stream.
void fs_set_stall(FastSim *s, const uint64_t *source_seeds, uint64_t sink_seed,
                  uint64_t threshold) {
    for (int i = 0; i < FASTSIM_STREAMS; ++i) s->sources[i].pause.start(source_seeds[i], threshold);
    s->sink_pause.start(sink_seed, threshold);
}

// `rst` high for `cycles` edges, then low for 2 (as the cocotb back end's reset()). Everything
// queued and half-received is dropped.
void fs_reset(FastSim *s, int cycles) {
    s->in_reset = true;
    s->aw_queue.clear(); s->w_queue.clear(); s->ar_queue.clear();
    for (Source &src : s->sources) src.drop();
    s->out_bytes.clear();
    s->out_packets = 0;
    s->top->rst = 1;
    s->clear_inputs();
    for (int i = 0; i < cycles; ++i) s->edge();
    s->top->rst = 0;
    s->in_reset = false;
    for (int i = 0; i < 2; ++i) s->edge();   // each edge settles first (the readies follow rst)
}

// One AXI4-Lite write; returns BRESP, or FS_TIMEOUT.
int64_t fs_write32(FastSim *s, uint32_t offset, uint32_t value) {
    s->aw_queue.push_back({offset, 0, 0});
    s->w_queue.push_back({offset, value, 0xF});
    const int want = s->b_count + 1;
    const uint64_t start = s->cycle;
    while (s->b_count < want) {
        if (s->over_limit(start)) return FS_TIMEOUT;
        if (s->core.loop) return FS_UNSETTLED;
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
        if (s->core.loop) return FS_UNSETTLED;
        s->edge();
    }
    *value = s->last_rdata;
    return s->last_resp;
}

// Send `nbytes[i]` of `data[i]` as one packet on input stream i (none when 0), for every input
// stream, and collect one result packet into `out` (at most `out_cap` bytes). Returns the number
// of result bytes, or a negative Status.
int64_t fs_stream(FastSim *s, const uint8_t *const *data, const uint64_t *nbytes, uint8_t *out,
                  uint64_t out_cap) {
    for (int i = 0; i < FASTSIM_STREAMS; ++i) {
        const size_t n = nbytes[i];
        if (n == 0) continue;
        std::vector<uint64_t> words(n / 8 + (n % 8 != 0), 0);
        std::memcpy(words.data(), data[i], n);   // little-endian host (x86, ARM)
        s->sources[i].frames.push_back(std::move(words));
    }
    s->out_bytes.clear();
    s->out_packets = 0;
    const uint64_t start = s->cycle;
    while (s->out_packets == 0) {
        if (s->over_limit(start)) return FS_TIMEOUT;
        if (s->core.loop) return FS_UNSETTLED;
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
