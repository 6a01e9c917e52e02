"""The PYNQ back end (host/pynq_backend.py) as written, under cocotb against the top core's emitted
Verilog, with our `pynq` stand-in and AXI DMA model (testbench/pynq_standin.py,
testbench/axi_dma_model.py; the cocotb tests in cocotb_pynq.py): the driver's calls on both
engines with split shapes, a fabric reset mid-run, the DMAs' errors as clear errors. Verilator,
on the builds the core's cocotb tests use (the default core, 3 streams; the small 1-stream core
whose buffers make the driver split every shape). SEED=N reproduces a run."""
import pytest

from llmaccel.testbench import runner
from llmaccel.testbench.cocotb_cases import run_case
from llmaccel.testbench.test_top_cocotb import CONFIGS


@pytest.mark.cocotb
@pytest.mark.parametrize("config,testcase", [
    pytest.param(config, testcase, marks=pytest.mark.xdist_group(f"top-verilator-{config}"))
    for config in ("default", "small") for testcase in ("driver_calls", "reset_mid_matmul",
                                                        "dma_errors")])
def test_pynq_backend(config, testcase):
    run_case("top", "llmaccel.testbench.cocotb_pynq", CONFIGS[config], "verilator", config,
             testcase, 0.0)


def test_address_map_is_the_one_build_bd_reads():
    from llmaccel.golden.board import address_map, dma_names
    cells = address_map()
    assert list(cells) == ["core", "dma0", "dma1", "dma2", "dma3", "ddr"]
    assert cells["core"].range == 1 << 12           # the core decodes 12 address bits
    assert all(cells[d].interface == "S_AXI_LITE" for d in dma_names(4))
    spans = sorted((c.offset, c.offset + c.range) for n, c in cells.items() if n != "ddr")
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "overlapping cells"
    assert cells["ddr"].offset == 0 and cells["ddr"].range == 512 * 2 ** 20
    with pytest.raises(ValueError, match="streams must be 1 to 4 .*, not 5"):
        dma_names(5)


def test_address_map_errors_name_the_line(tmp_path):
    from llmaccel.golden.board import address_map
    bad = tmp_path / "map.txt"
    bad.write_text("# cell interface offset range\ncore s_axil 0x43C00000\n")
    with pytest.raises(ValueError, match=r"map.txt:2: need 'cell interface offset range'"):
        address_map(bad)
