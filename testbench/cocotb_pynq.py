"""cocotb tests of the PYNQ back end (host/pynq_backend.py), unchanged, against the top core's
emitted Verilog: `pynq` is testbench/pynq_standin.py (Overlay, MMIO, allocate over a simulated
DDR), the AXI DMAs are testbench/axi_dma_model.py (PG021's registers, one per input stream, dma0
with the results), the core's AXI4-Lite slave is driven by cocotbext-axi's master as the PS's
GP0 port would. The driver (host/driver.py) runs in a cocotb bridge thread, exactly as on the
board. Every result is compared with the golden models.

Run through testbench/runner.py (pytest: testbench/test_pynq_backend.py). Environment:
LLMACCEL_SEED, LLMACCEL_CASES, LLMACCEL_RESULT (JSON lines).
"""
import json
import os
import sys

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import ClockCycles
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamSink,
                           AxiStreamSource)

from llmaccel.golden import bfp as golden_bfp, board as B
from llmaccel.golden.bfp_layout import input_streams, output_words
from llmaccel.golden.ternary import matmul as golden_ternary
from llmaccel.host.driver import Accelerator, AcceleratorError
from llmaccel.host.sim_backend import CLOCK_NS, input_prefixes
from llmaccel.testbench import pynq_standin
from llmaccel.testbench.axi_dma_model import AxiDmaModel
from llmaccel.testbench.backend_calls import checked_calls, random_ternary
from llmaccel.testbench.bfp_data import random_rows
from llmaccel.testbench.cocotb_bfp import exact
from llmaccel.testbench.cocotb_top import same_ints

sys.modules["pynq"] = pynq_standin          # what `from pynq import ...` in the back end gets
from llmaccel.host.pynq_backend import PynqBackend  # noqa: E402

TIMEOUT_S = 600.0        # wall seconds a stream call may take in simulation (about 7k cycles/s)


def report(record):
    path = os.environ.get("LLMACCEL_RESULT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


async def reset(dut, cycles: int = 3):
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)


async def start(dut):
    """Clock, reset, the simulated board (DDR, DMAs, the core's AXI4-Lite slave) and the PYNQ
    back end on it: (board, back end, driver, seed)."""
    seed = int(os.environ.get("LLMACCEL_SEED", "1"))
    dut._log.info(f"seed={seed} params={os.environ.get('LLMACCEL_PARAMS', '{}')}")
    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    cells = B.address_map()
    ddr = pynq_standin.SimulatedBoard.memory(cells["ddr"].range)
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
    sources = [AxiStreamSource(AxiStreamBus.from_prefix(dut, p), dut.clk, dut.rst)
               for p in input_prefixes(dut)]
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    for log in (axil.write_if.log, axil.read_if.log, sink.log, *(s.log for s in sources)):
        log.setLevel("WARNING")
    dmas = [AxiDmaModel(f"dma{i}", dut.clk, dut.rst, ddr, cells["ddr"].range, source,
                        sink if i == 0 else None) for i, source in enumerate(sources)]
    board = pynq_standin.SimulatedBoard(axil, dmas, ddr)
    pynq_standin.attach(board)
    await reset(dut)
    backend = await bridge(PynqBackend)("llmaccel.bit", timeout_s=TIMEOUT_S)
    acc = await bridge(Accelerator)(backend)
    return board, backend, acc, seed


@cocotb.test()
async def driver_calls(dut):
    """The seeded calls the other back ends' tests make (testbench/backend_calls.py: both
    engines in turn on random shapes, beyond the buffers too, so the driver splits M, N and K
    over several runs, the BFP formats in turn) through the PYNQ back end, each result exact
    against the golden models. The overlay has the map's cells, one DMA per stream."""
    board, backend, acc, seed = await start(dut)
    assert sorted(backend.overlay.ip_dict) == ["core", *(f"dma{i}" for i in range(acc.streams))]
    assert backend.overlay.ip_dict["core"]["phys_addr"] == B.address_map()["core"].offset
    cases = int(os.environ.get("LLMACCEL_CASES", "3"))
    calls = await bridge(checked_calls)(acc, seed, cases)
    report({"test": "driver_calls", "seed": seed, "matmuls": calls, "runs": len(acc.runs),
            "cycles": sum(r.cycles for r in acc.runs),
            "cma_bytes_handed_out": board.next_free - pynq_standin.CMA_BASE})


@cocotb.test()
async def reset_mid_matmul(dut):
    """The fabric reset (as proc_sys_reset gives the core and the DMAs) in the middle of a run's
    input: the DMAs come out of it halted, the back end runs them again, the next matmuls on
    both engines are exact."""
    board, backend, acc, seed = await start(dut)
    rng = np.random.default_rng(seed)
    blocks = min(3, acc.bfp["k_max"] // 32)
    x, w = random_rows(rng, 1, blocks, "q8_0"), random_rows(rng, 7, blocks, "q8_0")
    await bridge(acc._start)("bfp", 1, 32 * blocks, 7, format=0, sum_in=0)
    data = input_streams(w, x, "q8_0", acc.streams)
    half = [part[:len(part) // 2 // 8 * 8] for part in data]
    for dma, part in zip(backend.dmas, half):     # half of each stream's words, by the DMAs
        if part:
            buf = await bridge(pynq_standin.allocate)(shape=(len(part),), dtype=np.uint8)
            buf[:] = np.frombuffer(part, dtype=np.uint8)
            await bridge(dma.sendchannel.transfer)(buf)
    await ClockCycles(dut.clk, 200)
    assert await bridge(acc.read)("status") & 1, "not busy mid-matmul"
    await reset(dut)
    assert await bridge(acc.read)("status") == 0, "STATUS after reset"
    assert not await bridge(lambda: backend.dmas[0].sendchannel.running)(), \
        "dma0 MM2S runs after the fabric reset"
    x, w = random_ternary(rng, 3, 8, 100)
    same_ints(await bridge(acc.matmul_ternary)(w, x), golden_ternary(x, w),
              "ternary after a reset")
    x, w = random_rows(rng, 2, 2, "q8_0"), random_rows(rng, 5, 2, "q8_0")
    exact(await bridge(acc.matmul_q8_0)(w, x), golden_bfp.matmul_q8_0(w, x), "bfp after a reset")
    report({"test": "reset_mid_matmul", "seed": seed})


async def expect_error(call, *words):
    """`call` (run in the bridge thread) raises AcceleratorError with every word in its text."""
    try:
        await bridge(call)()
    except AcceleratorError as e:
        text = str(e)
        assert all(w in text for w in words), f"{text!r} lacks {words}"
        return text
    raise AssertionError(f"no AcceleratorError with {words}")


@cocotb.test()
async def dma_errors(dut):
    """What the DMAs refuse or fail becomes one clear AcceleratorError, and the next call runs:
    a result buffer shorter than the core's packet (S2MM's DMA internal error), an unaligned
    buffer (refused before the DMA is touched, no realignment engine), and a result that
    arrives short (fewer bytes received than expected)."""
    board, backend, acc, seed = await start(dut)
    rng = np.random.default_rng(seed)
    texts = []

    def bfp_run(m, n, blocks, out_words_less=0):
        x, w = random_rows(rng, m, blocks, "q8_0"), random_rows(rng, n, blocks, "q8_0")
        acc._start("bfp", m, 32 * blocks, n, format=0, sum_in=0)
        data = input_streams(w, x, "q8_0", acc.streams)
        words = output_words(m, n)
        return lambda: backend.stream(data, (words - out_words_less) * 8)

    # 1. the core sends 5 words (M = 2, N = 5: 10 float32), the receive buffer holds 4
    call = await bridge(bfp_run)(2, 5, 2, out_words_less=1)
    texts.append(await expect_error(call, "dma0 S2MM failed", "DMA internal error",
                                    "more result bytes than the driver expected"))
    await reset(dut)                                # the core still holds the failed run
    x, w = random_rows(rng, 2, 2, "q8_0"), random_rows(rng, 5, 2, "q8_0")
    exact(await bridge(acc.matmul_q8_0)(w, x), golden_bfp.matmul_q8_0(w, x), "after S2MM error")

    # 2. buffers 4 bytes off their page: PYNQ's driver refuses them (no realignment engine)
    board.skew = 4
    x, w = random_rows(rng, 1, 2, "q8_0"), random_rows(rng, 3, 2, "q8_0")
    texts.append(await expect_error(lambda: acc.matmul_q8_0(w, x), "dma0 S2MM refused",
                                    "unaligned"))
    board.skew = 0
    await reset(dut)                                # the run was started, its data never sent
    exact(await bridge(acc.matmul_q8_0)(w, x), golden_bfp.matmul_q8_0(w, x), "after unaligned")

    # 3. the driver expects more words than the run gives: the packet ends early (TLAST),
    #    S2MM completes with fewer bytes than expected
    call = await bridge(bfp_run)(1, 4, 2, out_words_less=-1)
    texts.append(await expect_error(call, "dma0 S2MM received 16 result bytes",
                                    "the driver expected 24"))
    exact(await bridge(acc.matmul_q8_0)(w, x), golden_bfp.matmul_q8_0(w, x), "after short")
    for text in texts:
        dut._log.info(f"clear error: {text}")
    report({"test": "dma_errors", "seed": seed, "errors": texts})
