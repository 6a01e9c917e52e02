"""cocotb test of the binary32 units' emitted Verilog (through testbench/fp32_harness.py: `copies`
instances side by side), against NumPy float32 and golden.fp32 (testbench/fp32_vectors.py).

Run through testbench/runner.py (pytest: testbench/test_fp32_cocotb.py). Environment:
LLMACCEL_PARAMS (harness parameters, JSON: unit, copies, and the unit's own), LLMACCEL_SEED,
LLMACCEL_OPS (operations to check), LLMACCEL_EN_LOW (share of cycles with `en` low),
LLMACCEL_RESULT (one JSON line: ops, cycles, seconds, ops/s, coverage).

Speed: Python sets the pace, so everything but the cycle loop is vectorised. Operands and the
`en` pattern are made up front and packed into one int per port and cycle (NumPy .tobytes ->
int.from_bytes); each cycle is two or three signal writes, one read and one await. Inputs are
written and the output read at the falling edge (the DUT samples at the rising edge), which
needs no assumption about when a simulator shows a register's new value. Results are unpacked
and compared in bulk afterwards: on every cycle whose output register should hold operation k
(k = en-high rising edges so far - LATENCY), including the cycles with `en` low, where garbage is
on the inputs and the output must hold.
"""
import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from llmaccel.testbench import fp32_vectors as V
from llmaccel.testbench.fp32_harness import Fp32Harness


def report(record):
    path = os.environ.get("LLMACCEL_RESULT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


def pack(rows: np.ndarray) -> list[int]:
    """One little-endian int per row of a 2-D array (lane 0 in the low bits)."""
    rows = np.ascontiguousarray(rows)
    raw, step = rows.tobytes(), rows.shape[1] * rows.itemsize
    return [int.from_bytes(raw[i:i + step], "little") for i in range(0, len(raw), step)]


def make_operands(unit, rng, n, params):
    """(ports: name -> 1-D array in port lane type, want: uint32 results)."""
    if unit == "from_int":
        width, exp_bits = params.get("width", 21), params.get("exp_bits", 10)
        value, exp = V.from_int_operands(rng, n, width, exp_bits)
        ops = {"value": value.astype(np.int32), "exp": exp.astype(np.int16)}
        return ops, V.from_int_reference(value, exp), {"value": value, "exp": exp}
    a, b = V.binary_operands(unit, rng, n)
    return {"a": a, "b": b}, V.reference(unit, a, b), {"a": a, "b": b}


@cocotb.test()
async def fp32_ops(dut):
    """LLMACCEL_OPS operations (all special pairs, random bit patterns, corners) with `en` low on
    random cycles, every result checked."""
    t_start = time.perf_counter()
    params = json.loads(os.environ.get("LLMACCEL_PARAMS", "{}"))
    seed = int(os.environ.get("LLMACCEL_SEED", "1"))
    n_ops = int(os.environ.get("LLMACCEL_OPS", "10000"))
    en_low = float(os.environ.get("LLMACCEL_EN_LOW", "0.1"))
    hw = Fp32Harness(**params)
    unit, copies, lat = hw.unit, hw.copies, hw.LATENCY
    rng = np.random.default_rng(seed)

    rows = -(-n_ops // copies)
    n = rows * copies
    ops, want, raw_ops = make_operands(unit, rng, n, hw.unit_params)
    want = want.reshape(rows, copies)

    # en: some rows are preceded by 1..3 cycles with en low; LATENCY flush cycles at the end
    lows = np.where(rng.random(rows) < en_low, rng.integers(1, 4, rows), 0)
    high_at = np.cumsum(lows + 1) - 1
    cycles = int(high_at[-1]) + 1 + lat
    en = np.zeros(cycles, dtype=np.int8)
    en[high_at] = 1
    en[-lat:] = 1
    packed = {}
    for port, values in ops.items():
        info = np.iinfo(values.dtype)
        lanes = rng.integers(info.min, info.max, (cycles, copies), dtype=values.dtype,
                             endpoint=True)    # garbage where en is low
        lanes[high_at] = values.reshape(rows, copies)
        packed[port] = pack(lanes)
    en_list = en.tolist()
    t_prepared = time.perf_counter()

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 0
    dut.en.value = 0
    handles = [(getattr(dut, port), values) for port, values in packed.items()]
    (h0, v0), (h1, v1) = handles
    en_handle, result = dut.en, dut.result
    falling = FallingEdge(dut.clk)
    out = [None] * cycles
    await falling
    previous = 0
    for i in range(cycles):
        h0.value = v0[i]
        h1.value = v1[i]
        if en_list[i] != previous:
            previous = en_list[i]
            en_handle.value = previous
        await falling
        out[i] = result.value      # the output register after rising edge i
    t_simulated = time.perf_counter()

    # which operation row each cycle's output should hold
    row_of_cycle = np.cumsum(en) - lat
    checked = np.flatnonzero((row_of_cycle >= 0) & (row_of_cycle < rows))
    got = np.frombuffer(b"".join(int(str(out[i]), 2).to_bytes(4 * copies, "little")
                                 for i in checked), dtype=np.uint32).reshape(len(checked), copies)
    expect = want[row_of_cycle[checked]]
    flat_got, flat_want = got.ravel(), expect.ravel()
    bad = V.mismatches(flat_got, flat_want)
    held_cycles = int((en[checked] == 0).sum())
    if len(bad):
        k = int(bad[0])
        cycle, lane = divmod(k, copies)
        op = int(row_of_cycle[checked[cycle]]) * copies + lane
        raise AssertionError(
            f"seed={seed}: {len(bad)} of {flat_got.size} checked outputs wrong; first at cycle "
            f"{int(checked[cycle])} lane {lane} (operation {op}, en={int(en[checked[cycle]])}): "
            + V.describe(unit, {name: v[op:op + 1] for name, v in raw_ops.items()},
                         flat_got[k:k + 1], flat_want[k:k + 1], 0))
    t_end = time.perf_counter()
    sim_seconds = t_simulated - t_prepared
    record = {"test": "fp32_ops", "unit": unit, "params": hw.unit_params, "copies": copies,
              "sim": os.environ.get("LLMACCEL_SIM", "?"), "seed": seed, "ops": n,
              "cycles": cycles, "en_low_cycles": int((en == 0).sum()),
              "held_cycles_checked": held_cycles,
              "sim_seconds": round(sim_seconds, 2), "total_seconds": round(t_end - t_start, 2),
              "ops_per_s": round(n / sim_seconds), "cycles_per_s": round(cycles / sim_seconds),
              "coverage": V.coverage(unit, raw_ops, want.ravel())}
    dut._log.info(f"{unit}: {n} ops in {cycles} cycles, {sim_seconds:.1f} s simulated "
                  f"({n / sim_seconds:,.0f} ops/s), {t_end - t_start:.1f} s in all")
    report(record)
