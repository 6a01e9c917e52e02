"""Bit-exact NumPy/Python reference models, formats, stream layouts and register maps
(llmaccel.golden): the lowest layer; nothing here imports another layer or Amaranth."""
