"""`llmaccel bench`: per simulator, the build time and the simulated cycles per second of each
block's random-traffic regression (default configuration, stall probability 0.3), written to
reports/bench/<block>.json and .md. Python drives every cycle, so cycles/s measures the bench as a
whole (simulator + cocotb + golden model), which is what a user waits for."""
import json
from pathlib import Path

from llmaccel.flows.smoke import SMOKE_TESTS
from llmaccel.testbench import runner

SEED = 1
STALL = 0.3


def bench_one(block: str, sim: str, transactions: int) -> dict:
    module, test = SMOKE_TESTS[block]
    b = runner.build(block, {}, sim, force=True)
    result = runner.run(b, module, test, seed=SEED, params={}, tag="bench",
                        env={"LLMACCEL_TXNS": str(transactions), "LLMACCEL_STALL": str(STALL)})
    if not result.ok:
        raise RuntimeError(f"{block} regression failed under {sim}: see {result.log}")
    rec = result.results[0]
    return {"block": block, "module": b.module, "simulator": sim, "seed": SEED, "stall": STALL,
            "build_seconds": round(b.seconds, 2), "transactions": rec["transactions"],
            "cycles": rec["cycles"], "test_seconds": rec["wall_seconds"],
            "process_seconds": round(result.seconds, 2),
            "cycles_per_second": round(rec["cycles"] / rec["wall_seconds"]),
            "transactions_per_cycle": round(rec["transactions"] / rec["cycles"], 3)}


def format_rows(rows: list[dict]) -> str:
    head = ("| block | simulator | build s | transactions | cycles | test s | cycles/s "
            "| transactions/cycle |")
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['block']} | {r['simulator']} | {r['build_seconds']} | {r['transactions']}"
                     f" | {r['cycles']} | {r['test_seconds']} | {r['cycles_per_second']}"
                     f" | {r['transactions_per_cycle']} |")
    return "\n".join(lines) + "\n"


def run_bench(blocks: list[str], sims: list[str], out: Path, transactions: int,
              summary_dir: Path = Path("reports")) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for block in blocks:
        if block == "top":  # the core: model vs simulation, tokens/s, plots, reports/bench.md,
            from llmaccel.flows.bench_streams import run_stream_bench   # and its stream counts
            from llmaccel.flows.bench_top import run_top_bench
            run_top_bench(summary_dir)
            run_stream_bench(out)
            continue
        if block == "ternary":  # its own benchmark: cycles and area over g and lanes
            from llmaccel.flows.bench_ternary import run_ternary_bench
            run_ternary_bench(out)
            continue
        if block == "bfp":  # its own benchmark: cycles, MAC/cycle and area over the lanes
            from llmaccel.flows.bench_bfp import run_bfp_bench
            run_bfp_bench(out)
            continue
        rows = [bench_one(block, sim, transactions) for sim in sims]
        table = format_rows(rows)
        note = (f"\nSeed {SEED}, stall probability {STALL} on every stream, default configuration; "
                "build = compile of the emitted Verilog from scratch; cycles/s = simulated clock cycles per second "
                "of the test's own loop (Python sets the pace).\n")
        (out / f"{block}.json").write_text(json.dumps(rows, indent=2) + "\n")
        (out / f"{block}.md").write_text(f"# {block} simulation benchmark\n\n{table}{note}")
        print(table + note, end="")
    return 0
