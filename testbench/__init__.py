"""cocotb benches, their pytest runners, and the unit tests of golden/ and generators/."""

import warnings

# The benches build components only to read their layouts and parameters, never to elaborate them.
warnings.filterwarnings("ignore", message=".*created but never used")
