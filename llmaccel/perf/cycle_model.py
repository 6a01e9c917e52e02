"""Analytical cycle models of the two matmul engines: pure Python, no simulation.

`bfp_cycles` models the `bfp` block (generators/bfp_core.py behind generators/bfp.py) as the
CYCLES register counts it (from the start to the last result word accepted) with unstalled
streams driven as testbench/cocotb_bfp.py drives them. `ternary_cycles` models the `ternary`
block (generators/ternary.py, generators/ternary_engine.py) as testbench/cocotb_ternary.py counts
it (first input beat to last result beat, inclusive), dense weights (no zero K-slice skipped).

Both walk the same phases as the hardware, tile by tile, and take at each step the bound that
holds there (input stream, compute, table build, output); only the small fixed latencies (pipeline
fill and drain, the testbench's start-up) are constants fitted to simulation. The measured cycles
they are checked against are in testbench/test_perf_model.py.
"""
from __future__ import annotations

from llmaccel.golden.bfp_layout import ACTIVATION, check_format, k_multiple, row_words


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# ---- BFP ----------------------------------------------------------------------------------------
QK = 32                  # values per block
ADDER_LOOP = 3 + 1       # Fp32Adder.LATENCY + 1: an accumulator is re-read this many cycles later
# From CTRL's start to the last result word accepted, minus everything below that scales: the
# testbench's status read before the first input word, the SRAM read latency, the MAC stages
# (products, word sums, K-quant scale products, block sum), the binary32 chain (multiplier 4 +
# multiplier 4 + adder 3), the result FIFO and the output register. Fitted: the same on 33
# simulated shapes, 5 configs; 28 since the chain's third stage (a multiplier's 4 cycles: Q4_0's
# d_x, Q4_1/Q5_1's min term), 29 since the K-quants' scale products follow the MACs.
BFP_FIXED = 29
# The result FIFO: 4 vectors deep; a vector leaves it when its last value is out.
RESULT_FIFO = 4


# Binary32 steps per lane and (super-)block before a row's end (generators/bfp_core.py: the mins'
# step, then Q2_K's one product, or Q3_K..Q6_K's eight by position); those with eight position
# sums add them into sumf after the row's last super-block, in rounds of max(lanes per chain,
# ADDER_LOOP) cycles.
BFP_STEPS = {"q2_K": 2, "q3_K": 8, "q4_K": 9, "q5_K": 9, "q6_K": 8}
ROW_END_ROUNDS = {"q3_K": 8, "q4_K": 8, "q5_K": 8, "q6_K": 8}


def bfp_row_words(k: int, fmt: str = "q8_0") -> int:
    """64-bit input words of one weight row of `fmt` (golden/bfp_layout.py; Q8_0: ceil(B / 4)
    scale + 4 B qs words)."""
    return row_words(k // QK, check_format(fmt))


def bfp_phases(m: int, n: int, k: int, mac_lanes: int = 8, out_lanes: int = 4,
               fmt: str = "q8_0", streams: int = 1) -> dict:
    """The model's terms (cycles) for one matmul on `fmt` weights; `bfp_cycles` is their sum
    (key "total"). With several input streams a tile's rows load `streams` at a time (X on
    stream 0 alone)."""
    qk = k_multiple(fmt)                      # 256 for the K-quants' super-blocks
    if k <= 0 or k % qk or m <= 0 or n <= 0:
        raise ValueError(f"need M, N >= 1 and K a positive multiple of {qk}: {m=} {n=} {k=}")
    b = k // qk                               # blocks (K-quants: super-blocks) per row
    rw = bfp_row_words(k, fmt)                # a weight row
    xw = row_words(k // QK, ACTIVATION[fmt])   # a row of X
    # one binary32 chain serves these in turn (a power of two dividing out_lanes)
    lanes_per_chain = min(out_lanes & -out_lanes, QK // mac_lanes)
    p = qk // mac_lanes                       # cycles (words) per block per lane
    # The join spaces block results so no accumulator is re-read before its sum is back:
    # gap = ceil(ADDER_LOOP / M) (1 once M >= 4); and so that a K-quant super-block's binary32
    # steps (`feed` cycles, more after a row's last super-block) are done before the next's.
    # A block of all M rows takes max(p, gap) each (K-quants: max(p, feed)).
    gap = _ceil_div(ADDER_LOOP, m)
    steps = BFP_STEPS.get(fmt, 1)
    feed = steps * lanes_per_chain
    round_ = max(lanes_per_chain, ADDER_LOOP)    # a row-end round: every lane of a chain, or the
    feed_last = feed + ROW_END_ROUNDS.get(fmt, 0) * round_   # adder's loop (the longer)
    if fmt in BFP_STEPS:
        per, per_last = max(p, feed), max(p, feed_last)
    else:
        per = per_last = max(p, gap)
        feed_last = lanes_per_chain
    compute = (b - 1) * m * per + m * per_last   # one tile: B blocks x M rows
    tiles = _ceil_div(n, out_lanes)
    rows = [min(out_lanes, n - t * out_lanes) for t in range(tiles)]
    rounds = [_ceil_div(r, streams) for r in rows]   # a tile's rows, `streams` side by side
    x_load = m * xw                           # X first, over stream 0 alone
    first_tile = rounds[0] * rw + 1           # tile 0 loads alone (nothing to overlap), + swap
    steady = 0
    bound = {"stream": 0, "compute": 0, "output": 0}
    for t in range(1, tiles):
        # Tile t loads while tile t-1 computes; the swap waits for both (+1 cycle for it). The
        # output of tile t-1 (M x rows results, one per cycle) overlaps too, but its M vectors
        # come out of the last block every `per` cycles: once the result FIFO is full each
        # waits for the one RESULT_FIFO earlier to leave (rows cycles each), holding the
        # pipeline (and the compute behind it).
        stalls = max(0, rows[t - 1] * (m - RESULT_FIFO) - per_last * (m - 1) + 2)
        terms = {"stream": rounds[t] * rw, "compute": compute + stalls,
                 "output": m * rows[t - 1]}
        which = max(terms, key=terms.get)
        bound[which] += 1
        # (The swap's cycle is hidden when compute-bound with the join waiting rather than
        # taking a word a cycle: out the row-end steps of the tile's last super-block (a longer
        # last block), or on the adder's loop, `gap` > words per block.)
        hidden = which == "compute" and (per_last > per or per > p)
        steady += terms[which] + (0 if hidden else 1)
    # The last tile's compute is not overlapped: its last block result is accepted at
    # (B M - 1) per + p - 1, then the pipeline drains: fixed latency, the chain's lanes fed one a
    # cycle, the last vector's results one a cycle, and a backlog when M vectors finish faster
    # (every `per` cycles) than the output takes them (rows each).
    last = rows[-1]
    last_compute = compute - per_last + p
    # (the last row-end round ends with its chain's last lane, not the round's last cycle)
    drain = BFP_FIXED + (feed_last - 1) + last - (
        round_ - lanes_per_chain if fmt in ROW_END_ROUNDS else 0)
    backlog = (m - 1) * max(0, last - per_last)
    total = x_load + first_tile + steady + last_compute + drain + backlog
    return {"x_load": x_load, "first_tile": first_tile, "steady": steady,
            "last_compute": last_compute, "drain": drain, "output_backlog": backlog,
            "tiles": tiles, "tile_compute": compute,
            "tile_stream": _ceil_div(out_lanes, streams) * rw,
            "steady_bound": bound, "input_words": m * xw + n * rw, "total": total}


def bfp_cycles(m: int, n: int, k: int, mac_lanes: int = 8, out_lanes: int = 4,
               fmt: str = "q8_0", streams: int = 1) -> int:
    """Cycles of one Y[M, N] = X[M, K] . W[N, K]^T on `fmt` weights on the `bfp` block
    (K <= k_max, M <= m_max, SUM_IN = 0, unstalled streams), as its CYCLES register counts them;
    `streams`: the BFP engine behind the core's input streams."""
    return bfp_phases(m, n, k, mac_lanes, out_lanes, fmt, streams)["total"]


# ---- ternary ------------------------------------------------------------------------------------
# Fitted fixed latency: the last weight word into the engine, its LATENCY (table read, adder
# tree, output register), the accumulator stage and the result beat: TERNARY_TAIL at 16 lanes,
# one more per level of the adder tree beyond its 4 (generators/ternary_engine.py: LATENCY). The
# other step costs are structural: 1 cycle per pass boundary (the tile swap's bubble in the
# weight requests).
TERNARY_TAIL = 10
TERNARY_PASS_BUBBLE = 1
# M = 1 through the direct FIFO (generators/ternary.py): a weight beat reaches the engine this
# many cycles after the stream cycle that completes it, counted in the units of the tile path's
# read requests (which reach the engine READ_LATENCY = 2 cycles later); and the cycles from the
# last result word of such a run (_packed_last_pass), less the engine's latency, to the end the
# tile path's units count.
# Fitted: exact on 20 runs of the block and 93 of the four STREAM_CONFIGS cores
# (testbench/test_perf_model.py).
DIRECT_ARRIVAL = -3
DIRECT_LAST = 3


def ternary_phases(m: int, n: int, k: int, g: int = 3, lanes: int = 16, rows: int = 3,
                   double_buffer: int = 1, lanes_per_builder: int = 4, act_cycles: int = 1,
                   weight_cycles: int = 1, packed_results: bool = False,
                   streams: int = 1, direct_fifo: int = 64, gearbox: int = 0) -> dict:
    """The model's structure for one matmul, walked unit by unit (a unit = one row of X against
    one pass's tile): returns the total (key "total") and which bound held how often.

    `act_cycles` / `weight_cycles`: cycles an activation / weight beat takes to arrive (1 on the
    `ternary` block's own wide streams; its words per beat behind the top core's 64-bit stream).
    `packed_results`: the results leave two int32 per cycle (the top core's ValuePacker), so a
    unit of the last pass lasts rows / 2 cycles per word when rows > 2. `streams`: the top
    core's input streams, side by side: a cycle brings `streams` words (act_cycles and
    weight_cycles are then words per beat), so a tile's beats arrive at the pace of the
    words; a tile that loads right after the last one continues its flow, one that waited for
    the engine starts afresh. `direct_fifo`: the engine's M = 1 FIFO (0: none); with one, a run
    at M = 1 takes each weight beat as it arrives (no tile to fill, no swap). Its depth is not
    modelled: the model holds while a full FIFO never delays the engine (the beats it holds back
    are there when a table is built; 64 beats on every STREAM_CONFIGS core), not for a FIFO so
    shallow that the first table's wait stalls the stream. `gearbox`: the
    cycle a beat spends in the top core's StreamUpsizer before the block sees it (1 there).

    A table builds once its slice is in (slices are read as soon as they are written), the
    previous build is over and a table buffer is free."""
    if m <= 0 or n <= 0 or k <= 0:
        raise ValueError(f"need M, N, K >= 1: {m=} {n=} {k=}")
    passes = _ceil_div(k, lanes * g)          # K-slices of lanes x g activations
    words = _ceil_div(n, rows)                # weight beats per tile (rows rows each)
    build = 3 ** g * min(lanes_per_builder, lanes) if g > 1 else 1
    two_tables = bool(double_buffer) and g > 1
    # cmd beat, then the M x passes activation slices one a cycle; weights only after them.
    acts_done = 1 + _ceil_div(m * passes * act_cycles, streams)

    def steps(beats):                         # cycles of the stream that carry `beats` beats
        return _ceil_div(beats * weight_cycles, streams)

    tile_words = words * weight_cycles

    def flow(held):
        """A tile's load from a gearbox holding `held` words (stream words arrive `streams` a
        cycle, a beat leaves each cycle it is whole): the cycle of its last beat after the first
        one could leave, and the words held then (those of the next tile)."""
        t = max(0, _ceil_div(tile_words - held, streams))
        return t, held + streams * (t + 1) - tile_words
    tile_full = acts_done + steps(words)      # tile 0 loads alone
    held = flow(0)[1]
    want = acts_done                          # the engine asks for a tile

    def slice_in(j, i):
        """The first cycle a table of slice (pass j, row i of X) can build: the slices are read
        as soon as they are written, in the order (row, pass) they arrive."""
        return 1 + gearbox + _ceil_div((i * passes + j + 1) * act_cycles, streams)
    build_start = slice_in(0, 0)
    direct = m == 1 and direct_fifo > 0
    arrival = DIRECT_ARRIVAL + gearbox
    ends = []
    prev_end = None
    bound = {"build": 0, "words": 0, "tile_load": 0}
    for j in range(passes):
        swap = max(tile_full, want)           # ping-pong swap: tile full and previous one done
        # The next tile loads while this one computes. Right after the last (the engine waits
        # for it), its words kept coming into the gearbox except in the swap's one cycle
        # without a beat taken, when the gearbox stops once it holds a whole beat; after a wait
        # for the engine the tile loads as if afresh.
        if swap == tile_full:
            held += streams if held < weight_cycles else 0
            t, held = flow(held)
            tile_full = swap + 2 + t
        else:
            tile_full = swap + steps(words)
            held = flow(0)[1]
        # The last pass sends results: at two int32 a cycle, `rows` per word can be slower.
        unit = (max(words, _ceil_div(words * rows, 2)) if packed_results and j == passes - 1
                else words)
        for i in range(m):
            built = build_start + build
            cands = {"build": built}
            if direct:
                # The pass's first beat as it arrives (the weights follow X on the stream).
                cands["tile_load"] = acts_done + steps(j * words + 1) + arrival
            elif i == 0:
                cands["tile_load"] = swap
            if prev_end is not None:
                cands["words"] = prev_end + (TERNARY_PASS_BUBBLE if i == 0 and not direct
                                             else 0)
            which = max(cands, key=cands.get)
            bound[which] += 1
            start = cands[which]
            prev_end = start + unit           # the tile's words stream past the table
            if direct and unit > words:       # the last pass, paced by the results' packer
                latency = (lanes - 1).bit_length() + 2
                prev_end = _packed_last_pass(
                    start, [acts_done + steps(j * words + b + 1) + arrival
                            for b in range(words)], rows, latency) - latency - DIRECT_LAST
            elif direct:                      # (a pass that started late catches up)
                prev_end = max(prev_end, acts_done + steps((j + 1) * words)
                               + arrival + 1)
            ends.append(prev_end)
            # The next table builds once this build is over, its slice is in and a table buffer
            # is free (double buffered: the one read before this unit, a cycle after its last
            # word; single: this unit's own, a cycle after its last word for a built table, at
            # once for g = 1's activation register).
            if two_tables:
                free = ends[-2] + 1 if len(ends) >= 2 else 0
            else:
                free = ends[-1] + (1 if g > 1 else 0)
            build_start = max(built + 1, free,
                              slice_in(j + (i + 1) // m, (i + 1) % m) if j + 1 < passes or
                              i + 1 < m else 0)
        want = prev_end
    total = prev_end + TERNARY_TAIL + (lanes - 1).bit_length() - 4
    return {"passes": passes, "words": words, "units": m * passes, "build": build,
            "acts": m * passes, "bound": bound, "total": total}


def _packed_last_pass(start: int, arrive: list[int], rows: int, latency: int) -> int:
    """The last pass of a direct (M = 1) run whose results leave two int32 a cycle: the engine
    takes beat b at the earliest at max(start, arrive[b]) (a cycle each), its pipeline of
    `latency` registers and the accumulator stage all hold while the ValuePacker
    (generators/value_packer.py, `rows` values a beat) cannot take the front beat. Walked
    cycle by cycle; returns the cycle after the last result word, in the units of `start`."""
    pipe = [False] * latency                  # beats in the engine's registers (front last)
    s1 = False                                # the accumulator stage holds a beat
    held = flushing = 0
    taken = sent = 0
    t = start
    while True:
        give = held >= 2 or (held == 1 and flushing)
        after = (held - 2 if held >= 2 else 0) if give else held
        if give and flushing and held <= 2:
            return t + 1
        ready = not flushing and after <= 1
        s1_advance = not s1 or ready
        advance = not (pipe[-1] and not s1_advance)
        if s1 and ready:
            sent += 1
            held, flushing = after + rows, int(sent == len(arrive))
        else:
            held = after
        if s1_advance:
            s1 = pipe[-1]
        if advance:
            take = taken < len(arrive) and arrive[taken] <= t
            taken += take
            pipe = [take] + pipe[:-1]
        t += 1


def ternary_cycles(m: int, n: int, k: int, g: int = 3, lanes: int = 16, rows: int = 3,
                   double_buffer: int = 1, lanes_per_builder: int = 4,
                   direct_fifo: int = 64) -> int:
    """Cycles of one Y = X[M, K] x W[N, K]^T on the `ternary` block (K <= k_max, N <= n_max,
    M <= m_max, dense weights: no K-slice skipped), first input beat to last result beat."""
    return ternary_phases(m, n, k, g, lanes, rows, double_buffer, lanes_per_builder,
                          direct_fifo=direct_fifo)["total"]


# ---- reporting ----------------------------------------------------------------------------------
def model_error_table(measured) -> str:
    """Markdown table (shape, simulated, model, error %) of measured runs against the model.

    `measured`: iterable of dicts with "block" ("bfp" or "ternary"), "m", "n", "k", "cycles" and
    optionally "params" (keyword arguments of the model: mac_lanes/out_lanes, or g/lanes/...)."""
    lines = ["| block | params | M | K | N | simulated | model | error % |",
             "|---|---|---|---|---|---|---|---|"]
    for r in measured:
        params = dict(r.get("params") or {})
        fn = bfp_cycles if r["block"] == "bfp" else ternary_cycles
        model = fn(r["m"], r["n"], r["k"], **params)
        err = 100.0 * (model - r["cycles"]) / r["cycles"]
        ptxt = ", ".join(f"{key}={v}" for key, v in params.items()) or "default"
        lines.append(f"| {r['block']} | {ptxt} | {r['m']} | {r['k']} | {r['n']} | "
                     f"{r['cycles']:,} | {model:,} | {err:+.2f} |")
    return "\n".join(lines) + "\n"


# ---- the top-level core (generators/top.py) through the host driver (host/driver.py) -----------
# From CTRL's start to the ternary engine's first activation beat: the command's register and
# handshake, and the driver's STATUS read before it streams (the BFP engine's is in BFP_FIXED).
TOP_TERNARY_START = 5
# The default core's parameters (generators/top.py's, without their bfp_/tern_ prefixes; a test
# checks they agree), per engine, each with the core's input streams.
TOP_DEFAULTS = {"bfp": {"streams": 3, "mac_lanes": 16, "out_lanes": 6, "k_max": 8192,
                        "m_max": 8},
                "ternary": {"streams": 3, "g": 3, "lanes": 16, "rows": 3, "k_max": 1536,
                            "n_max": 1536, "m_max": 8, "lanes_per_builder": 2,
                            "direct_fifo": 64}}
BFP_N_MAX = 65535
# The cores `make bench` and the projections compare, one per stream count (generators/top.py's
# parameters; what is not given is the default core's, which has 3). The BFP engine gets 2 output
# lanes per stream of 16 int8 MACs, so that a tile computes faster than its rows stream in every
# format (one stream: the earlier default core, 4 lanes of 8 and K_MAX 4096). The ternary
# engine builds its tables two lanes per builder from 2 streams on (a pass of SmolLM2's k, v
# streams in 85 cycles at 3 streams, under the 108 of a 4-lane build), and with 4 streams it gets
# 32 lanes (at 16, one 4-word weight beat a cycle is all it takes: exactly the stream rate).
STREAM_CONFIGS = {
    1: {"streams": 1, "bfp_mac_lanes": 8, "bfp_out_lanes": 4, "bfp_k_max": 4096,
        "tern_lanes_per_builder": 4},
    2: {"streams": 2, "bfp_mac_lanes": 16, "bfp_out_lanes": 4},
    3: {"streams": 3},                                   # the default core
    4: {"streams": 4, "bfp_mac_lanes": 16, "bfp_out_lanes": 8, "tern_lanes": 32},
}
_PREFIX = {"bfp": "bfp_", "ternary": "tern_"}


def model_params(engine: str, top: dict) -> dict:
    """top_cycles' parameters for `engine` of the core with the top's parameters `top`
    (generators/top.py's names, the default core's where not given)."""
    prefix = _PREFIX[engine]
    out = dict(TOP_DEFAULTS[engine])
    out.update({name[len(prefix):]: v for name, v in top.items() if name.startswith(prefix)})
    if "streams" in top:
        out["streams"] = top["streams"]
    return out


def _parts(total: int, step: int) -> list[int]:
    return [min(step, total - i) for i in range(0, total, step)]


def top_ternary_run_cycles(m: int, n: int, k: int, g: int = 3, lanes: int = 16,
                           rows: int = 3, streams: int = 1, lanes_per_builder: int = 4,
                           direct_fifo: int = 64) -> int:
    """One run of the ternary engine behind the top core's 64-bit input streams (within its
    maxima)."""
    act_bits = _ceil_div(lanes * g * 8 + 1, 8) * 8
    weight_bits = _ceil_div(rows * lanes * ((3 ** g - 1).bit_length()), 8) * 8
    return TOP_TERNARY_START + ternary_phases(
        m, n, k, g, lanes, rows, lanes_per_builder=lanes_per_builder,
        act_cycles=_ceil_div(act_bits, 64), weight_cycles=_ceil_div(weight_bits, 64),
        packed_results=True, streams=streams, direct_fifo=direct_fifo, gearbox=1)["total"]


def top_cycles(engine: str, m: int, n: int, k: int, params: dict | None = None,
               fmt: str = "q8_0") -> int:
    """Cycles of the top core for Y[M, N] = X[M, K] . W[N, K]^T as the host driver runs it: the
    sum of the CYCLES of its runs (M, N and K split beyond the maxima as host/driver.py splits
    them; BFP K parts also stream M x out_lanes / streams starting sums per tile and stream,
    counted as stream words). `params`: the engine's parameters as in TOP_DEFAULTS (the top's
    without their prefix) where they differ. Host time between runs (register writes, packing)
    is not in it."""
    if engine not in TOP_DEFAULTS:
        raise ValueError(f"engine must be 'bfp' or 'ternary', not {engine!r}")
    p = {**TOP_DEFAULTS[engine], **(params or {})}
    total = 0
    if engine == "bfp":
        for mp in _parts(m, p["m_max"]):
            for np_ in _parts(n, BFP_N_MAX):
                for i, kp in enumerate(_parts(k, p["k_max"])):
                    total += bfp_cycles(mp, np_, kp, p["mac_lanes"], p["out_lanes"], fmt,
                                        p["streams"])
                    if i:
                        total += (mp * (p["out_lanes"] // p["streams"])
                                  * _ceil_div(np_, p["out_lanes"]))
        return total
    for mp in _parts(m, p["m_max"]):
        for np_ in _parts(n, p["n_max"]):
            for kp in _parts(k, p["k_max"]):
                total += top_ternary_run_cycles(mp, np_, kp, p["g"], p["lanes"], p["rows"],
                                                p["streams"], p["lanes_per_builder"],
                                                p["direct_fifo"])
    return total
