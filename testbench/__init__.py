"""cocotb benches, bus models, the cocotb runner, and the tests of every layer (llmaccel.testbench)."""

import warnings

# The benches build components only to read their layouts and parameters, never to elaborate them.
warnings.filterwarnings("ignore", message=".*created but never used")
