"""llmaccel: generators of verified, synthesizable RTL for edge LLM accelerator kernels.

One import root over the project's folders (pyproject.toml maps them), in layers that import only
downward:
  llmaccel.golden      golden/      the numbers: reference models, formats, stream layouts,
                                    register maps as data (NumPy, no Amaranth)
  llmaccel.generators  generators/  Amaranth hardware only, one block per module
  llmaccel.host        host/        the driver of the core and its back ends (no Amaranth)
  llmaccel.testbench   testbench/   cocotb benches, bus models, the runner, and the tests
  llmaccel (this)      llmaccel/    the application: the `llmaccel` command (cli.py), the flows
                                    users run (flows/) and the cycle model and projections (perf/)
"""
