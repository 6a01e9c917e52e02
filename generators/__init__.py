"""Amaranth generators of llmaccel's hardware blocks (llmaccel.generators): hardware only, one block
per module, and its emission as Verilog (emit.py)."""
