"""`llmaccel sim`: a short seeded simulation of a block's emitted Verilog against its golden model,
summarised in one line."""
from llmaccel.testbench import runner

# block -> (cocotb test module, its random-traffic test)
SMOKE_TESTS = {"sram": ("llmaccel.testbench.cocotb_sram", "random_traffic"),
               "ternary": ("llmaccel.testbench.cocotb_ternary", "random_matmuls"),
               "bfp": ("llmaccel.testbench.cocotb_bfp", "random_matmuls")}


def run_smoke(block: str, params: dict, sim: str, seed: int, transactions: int,
              stall: float = 0.3) -> tuple[str, bool]:
    module, test = SMOKE_TESTS[block]
    b = runner.build(block, params, sim)
    result = runner.run(b, module, test, seed=seed, params=params, tag="smoke",
                        env={"LLMACCEL_TXNS": str(transactions), "LLMACCEL_STALL": str(stall)})
    records = result.results
    status = "PASS" if result.ok else f"FAIL (log: {result.log.relative_to(runner.ROOT)})"
    if records and "transactions" in records[0]:
        work = f"transactions={records[0]['transactions']}"
    else:  # one record per matmul
        work = f"matmuls={len(records)}"
    cycles = sum(r.get("cycles", 0) for r in records) or "-"
    line = (f"{block:<7} {b.module:<32} {sim:<9} seed={seed} stall={stall} "
            f"{work} cycles={cycles} {status}")
    return line, result.ok
