"""`llmaccel emit`: a block configuration's Verilog (<module>.sv) or its register map as a C header
(<module>_regs.h), written to a folder (`make verilog` refreshes hdl/ this way)."""
from pathlib import Path

from llmaccel.generators.emit import emit_block_once, header_text


def _write(out_dir: Path, filename: str, text: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / filename
    path.write_text(text)
    return path


def write_block(block: str, params: dict | None, out_dir: Path) -> Path:
    name, text = emit_block_once(block, params)     # once per process (the core: ~20 s)
    return _write(out_dir, f"{name}.sv", text)


def write_header(block: str, params: dict | None, out_dir: Path) -> Path:
    name, text = header_text(block, params)
    return _write(out_dir, f"{name}_regs.h", text)
