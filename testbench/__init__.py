"""cocotb benches, their pytest runners, and the unit tests of golden/ and generators/."""
