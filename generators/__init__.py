"""Amaranth generators of llmaccel's hardware blocks, and the `llmaccel` command line."""
