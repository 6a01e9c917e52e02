"""Bit-exact NumPy/Python reference models. Nothing here imports the hardware generators."""
