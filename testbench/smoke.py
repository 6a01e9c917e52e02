"""`llmaccel sim`: a short seeded simulation of a block's emitted Verilog against its golden model,
summarised in one line."""
from testbench import runner

# block -> (cocotb test module, its random-traffic test)
SMOKE_TESTS = {"sram": ("testbench.cocotb_sram", "random_traffic")}


def run_smoke(block: str, params: dict, sim: str, seed: int, transactions: int,
              stall: float = 0.3) -> tuple[str, bool]:
    module, test = SMOKE_TESTS[block]
    b = runner.build(block, params, sim)
    result = runner.run(b, module, test, seed=seed, params=params, tag="smoke",
                        env={"LLMACCEL_TXNS": str(transactions), "LLMACCEL_STALL": str(stall)})
    rec = result.results[0] if result.results else {}
    status = "PASS" if result.ok else f"FAIL (log: {result.log.relative_to(runner.ROOT)})"
    line = (f"{block:<7} {b.module:<32} {sim:<9} seed={seed} stall={stall} "
            f"transactions={rec.get('transactions', '-')} cycles={rec.get('cycles', '-')} {status}")
    return line, result.ok
