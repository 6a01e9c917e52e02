"""`make formal`: every proof of testbench/formal_cases.py (the full core's included), one line
each: proven / bounded (depth) / failed (with its counterexample's VCD), and whether that is what
the case expects (a mutant must fail). Writes reports/formal.md; exit status 1 if any case is
not as expected.

    .venv/bin/python -m llmaccel.flows.formal [-o reports] [--only NAME ...]
"""
import argparse
import sys
from pathlib import Path

from llmaccel.testbench import formal
from llmaccel.testbench.formal_cases import BY_NAME, CASES, run_case


def verdict(result: formal.FormalResult) -> str:
    if result.status == "proven":
        return f"proven (k-induction, depth {result.depth})"
    if result.status == "bounded":
        return f"bounded (no counterexample to depth {result.depth})"
    return f"failed (counterexample: {result.vcd.relative_to(formal.runner.ROOT)})" \
        if result.vcd else "failed"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m llmaccel.flows.formal", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", default="reports", help="folder of formal.md")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(BY_NAME),
                    help="run these cases only")
    args = ap.parse_args(argv)
    cases = [BY_NAME[n] for n in args.only] if args.only else CASES
    lines = ["| case | properties | design | result | expected | seconds |",
             "|---|---|---|---|---|---|"]
    bad = 0
    for case in cases:
        try:
            result = run_case(case)
        except formal.FormalToolError as e:
            print(f"{case.name}: error: {e}", file=sys.stderr)
            bad += 1
            lines.append(f"| {case.name} | {case.properties} | {case.design} | tool error | "
                         f"{case.expect} | |")
            continue
        ok = result.status == case.expect
        bad += not ok
        print(f"{case.name}: {verdict(result)}{'' if ok else '  <-- expected ' + case.expect}"
              f" ({result.seconds:.0f} s)", flush=True)
        lines.append(f"| {case.name} | {case.properties} | {case.design} | {verdict(result)} | "
                     f"{case.expect}{'' if ok else ' (NOT MET)'} | {result.seconds:.0f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "formal.md").write_text("# Formal proofs (`make formal`)\n\n" + "\n".join(lines)
                                   + "\n\nSymbiYosys (yowasp-sby) with smtbmc and boolector; "
                                   "testbench/formal_cases.py lists the cases.\n")
    print(f"wrote {out / 'formal.md'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
