"""The registry of generated blocks: name -> component class. Each class declares BLOCK, SUMMARY and
PARAMS (generators/params.py); `module_name` encodes the parameters that differ from the defaults."""
from .params import ParamError, resolve
from .bfp import BfpAccelerator
from .sram import SramController
from .ternary import TernaryAccelerator
from .top import LlmAccelerator

BLOCKS = {cls.BLOCK: cls for cls in (SramController, TernaryAccelerator, BfpAccelerator,
                                          LlmAccelerator)}


def get_block(name: str):
    try:
        return BLOCKS[name]
    except KeyError:
        raise ParamError(f"unknown block {name!r}; blocks: {', '.join(BLOCKS)}") from None


def module_name(block: str, params: dict | None = None) -> str:
    """`llmaccel_<block>` plus `_<name><value>` for each parameter that differs from its default."""
    cls = get_block(block)
    full = resolve(cls.PARAMS, params or {})
    parts = [f"{p.name}{full[p.name]}" for p in cls.PARAMS if full[p.name] != p.default]
    return "_".join([f"llmaccel_{block}", *parts])


def build(block: str, params: dict | None = None):
    """The component for `block` with `params` (defaults for the rest)."""
    return get_block(block)(**(params or {}))
