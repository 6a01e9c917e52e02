"""Host side of llmaccel (llmaccel.host): the driver of the top-level core (host/driver.py) and its
back ends, the cocotb simulation (host/sim_backend.py) and PYNQ on the board (host/pynq_backend.py).
Imports golden/ only, never Amaranth, so it runs on the board's Python."""
