# PYNQ-Z1 (XC7Z020-1CLG400C): constraints for an llmaccel core in a Zynq block design
# (constraints/build_bd.tcl), e.g. the llmaccel core (llmaccel_top) beside an AXI DMA.
#
# Clock: the core runs on the Zynq PS clock FCLK_CLK0, set to 100 MHz (10.000 ns) in the
# processing_system7 IP (CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ 100). The PS7 IP ships its own XDC,
# which already creates that clock (clk_fpga_0, period 10.000 ns) on the PS output pin, and every
# FPGA register on FCLK_CLK0 (core, DMA, interconnect, reset block) is timed against it. A second
# create_clock here would override the IP's clock, so there is none.
#
# Reset: the core's rst (synchronous, active high) comes from proc_sys_reset's peripheral_reset,
# a register on the same FCLK_CLK0: an ordinary synchronous path, timed as such; no false path.
#
# Pins: none. The core is an AXI peripheral of the PS (AXI4-Lite on M_AXI_GP0, AXI4-Stream through
# the AXI DMA to S_AXI_HP0); DDR and MIO are PS pins, placed by the PS7 IP. No PACKAGE_PIN or
# IOSTANDARD is needed.
#
# So the only thing this design adds is below: a compressed bitstream (smaller .bit, faster
# overlay download with PYNQ; no effect on the logic).
set_property BITSTREAM.GENERAL.COMPRESS TRUE [current_design]

# Out-of-context synthesis of the core alone (no PS, no block design) has no clock at all; for
# such a run, and only then, constrain its clock port to the same 100 MHz:
#   create_clock -name clk -period 10.000 [get_ports clk]
