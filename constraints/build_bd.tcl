# Vivado batch script: an llmaccel AXI core beside an AXI DMA on a PYNQ-Z1 (XC7Z020-1CLG400C),
# from the emitted Verilog to a PYNQ overlay (.bit + .hwh).
#
#   vivado -mode batch -source constraints/build_bd.tcl \
#          -tclargs [TOP [VERILOG [OUT_DIR]]]
#
# TOP defaults to llmaccel_top (the core: BFP and ternary engines), VERILOG to hdl/llmaccel_top.sv,
# OUT_DIR to build/pynq_z1 (relative paths are taken from the current directory; the defaults from
# the repository root). TOP must have the core's ports: clk, rst (synchronous, active high),
# s_axil_* (AXI4-Lite slave), s_axis_* (AXI4-Stream in), m_axis_* (AXI4-Stream out).
#
# The block design:
#   processing_system7 (FCLK_CLK0 = 100 MHz for everything)
#     M_AXI_GP0 -> smartconnect ctrl -> AXI DMA s_axi_lite, core s_axil
#     AXI DMA M_AXI_MM2S, M_AXI_S2MM -> smartconnect mem -> S_AXI_HP0 (64-bit) -> DDR
#     AXI DMA M_AXIS_MM2S -> core s_axis;  core m_axis -> AXI DMA S_AXIS_S2MM
#     AXI DMA mm2s_introut, s2mm_introut -> xlconcat -> IRQ_F2P
#     proc_sys_reset: peripheral_aresetn -> DMA and interconnects, peripheral_reset -> core rst
#
# Written without Vivado at hand: testbench/test_constraints.py checks its Tcl syntax and, with
# every Vivado command stubbed, the sequence of steps. It has not been run through Vivado.

# ---------------------------------------------------------------- arguments
set repo [file dirname [file dirname [file normalize [info script]]]]
set top     llmaccel_top
set verilog [file join $repo hdl llmaccel_top.sv]
set out_dir [file join $repo build pynq_z1]
if {[llength $argv] > 0} { set top     [lindex $argv 0] }
if {[llength $argv] > 1} { set verilog [file normalize [lindex $argv 1]] }
if {[llength $argv] > 2} { set out_dir [file normalize [lindex $argv 2]] }
if {[llength $argv] > 3} { error "usage: -tclargs \[TOP \[VERILOG \[OUT_DIR\]\]\]" }
if {![file exists $verilog]} { error "Verilog file not found: $verilog" }

set part   xc7z020clg400-1
set xdc    [file join $repo constraints pynq_z1.xdc]
set bd     system
set jobs   4
puts "build_bd: top $top, Verilog $verilog, part $part, output $out_dir"

# ---------------------------------------------------------------- project and sources
# A project in OUT_DIR/vivado (recreated with -force), Verilog as the wrapper's language.
file mkdir $out_dir
create_project -force llmaccel [file join $out_dir vivado] -part $part
set_property target_language Verilog [current_project]
# Digilent's PYNQ-Z1 board files, when installed, give the PS its DDR and MIO presets; without them
# the PS7 falls back to the manual settings below (see "processing system").
set board [lindex [get_board_parts -quiet -latest_file_version *pynq-z1*] 0]
if {$board ne ""} { set_property board_part $board [current_project] }

# The emitted file is plain Verilog-2005 (Amaranth through Yosys' write_verilog) despite its .sv
# name. A module reference's top must be Verilog or VHDL, so read it as Verilog.
add_files -norecurse $verilog
set_property file_type Verilog [get_files $verilog]
add_files -fileset constrs_1 -norecurse $xdc
update_compile_order -fileset sources_1

# ---------------------------------------------------------------- block design
create_bd_design $bd

# processing system: FCLK_CLK0 at 100 MHz, M_AXI_GP0 (control), S_AXI_HP0 64-bit (data), IRQ_F2P.
# With PYNQ the boot image configures DDR and MIO; the overlay only uses these four.
set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7 ps7]
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config [list make_external {FIXED_IO, DDR} apply_board_preset [expr {$board ne "" ? 1 : 0}] \
                  Master Disable Slave Disable] $ps
if {$board eq ""} {
    # No board files: the PYNQ-Z1's DDR3 (MT41K256M16 RE-125, 16-bit bus) and UART0 on MIO 14..15.
    set_property -dict [list CONFIG.PCW_UIPARAM_DDR_PARTNO {MT41K256M16 RE-125} \
                             CONFIG.PCW_UIPARAM_DDR_BUS_WIDTH {16 Bit} \
                             CONFIG.PCW_UART0_PERIPHERAL_ENABLE 1 \
                             CONFIG.PCW_UART0_UART0_IO {MIO 14 .. 15}] $ps
}
set_property -dict [list CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ 100 \
                         CONFIG.PCW_USE_M_AXI_GP0 1 \
                         CONFIG.PCW_USE_S_AXI_HP0 1 \
                         CONFIG.PCW_S_AXI_HP0_DATA_WIDTH 64 \
                         CONFIG.PCW_USE_FABRIC_INTERRUPT 1 \
                         CONFIG.PCW_IRQ_F2P_INTR 1] $ps

# AXI DMA: simple (direct register) mode, no scatter-gather; 64-bit memory maps and streams;
# 26-bit length register (transfers up to 64 MB - 1).
set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma]
set_property -dict [list CONFIG.c_include_sg 0 \
                         CONFIG.c_sg_include_stscntrl_strm 0 \
                         CONFIG.c_include_mm2s 1 \
                         CONFIG.c_include_s2mm 1 \
                         CONFIG.c_sg_length_width 26 \
                         CONFIG.c_m_axi_mm2s_data_width 64 \
                         CONFIG.c_m_axis_mm2s_tdata_width 64 \
                         CONFIG.c_m_axi_s2mm_data_width 64 \
                         CONFIG.c_s_axis_s2mm_tdata_width 64 \
                         CONFIG.c_mm2s_burst_size 16 \
                         CONFIG.c_s2mm_burst_size 16] $dma

# The core, as a module reference of TOP. IP integrator infers its interfaces from the port
# names: s_axil_* -> AXI4-Lite slave "s_axil", s_axis_* -> AXI4-Stream slave "s_axis",
# m_axis_* -> AXI4-Stream master "m_axis"; clk -> clock, rst -> reset. The inference does not
# always tie the buses to the clock or get the reset polarity right, so it is stated here on the
# cell's pins (the parameters an X_INTERFACE_PARAMETER attribute would carry in the HDL, which we
# do not edit): clk drives all three buses and rst, rst is active high.
set core [create_bd_cell -type module -reference $top core]
set_property -dict [list CONFIG.ASSOCIATED_BUSIF {s_axil:s_axis:m_axis} \
                         CONFIG.ASSOCIATED_RESET rst \
                         CONFIG.FREQ_HZ 100000000] [get_bd_pins core/clk]
set_property CONFIG.POLARITY ACTIVE_HIGH [get_bd_pins core/rst]

# Interconnects: GP0 (one master) to two AXI4-Lite slaves; two DMA masters to HP0.
set ctrl [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect ctrl_ic]
set_property -dict [list CONFIG.NUM_SI 1 CONFIG.NUM_MI 2] $ctrl
set mem [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect mem_ic]
set_property -dict [list CONFIG.NUM_SI 2 CONFIG.NUM_MI 1] $mem

# Reset: proc_sys_reset synchronizes the PS's FCLK_RESET0_N to FCLK_CLK0.
set rstgen [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset rstgen]

# DMA interrupts to the PS (IRQ_F2P[0] = MM2S, [1] = S2MM).
set irq [create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat irq_concat]
set_property CONFIG.NUM_PORTS 2 $irq

# ---------------------------------------------------------------- connections
# One clock for everything: FCLK_CLK0.
connect_bd_net [get_bd_pins ps7/FCLK_CLK0] \
    [get_bd_pins ps7/M_AXI_GP0_ACLK] [get_bd_pins ps7/S_AXI_HP0_ACLK] \
    [get_bd_pins dma/s_axi_lite_aclk] [get_bd_pins dma/m_axi_mm2s_aclk] \
    [get_bd_pins dma/m_axi_s2mm_aclk] \
    [get_bd_pins ctrl_ic/aclk] [get_bd_pins mem_ic/aclk] \
    [get_bd_pins rstgen/slowest_sync_clk] [get_bd_pins core/clk]
# Resets: active low to Xilinx IP, active high (synchronous) to the core.
connect_bd_net [get_bd_pins ps7/FCLK_RESET0_N] [get_bd_pins rstgen/ext_reset_in]
connect_bd_net [get_bd_pins rstgen/peripheral_aresetn] \
    [get_bd_pins dma/axi_resetn] [get_bd_pins ctrl_ic/aresetn] [get_bd_pins mem_ic/aresetn]
connect_bd_net [get_bd_pins rstgen/peripheral_reset] [get_bd_pins core/rst]
# Control path.
connect_bd_intf_net [get_bd_intf_pins ps7/M_AXI_GP0] [get_bd_intf_pins ctrl_ic/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins ctrl_ic/M00_AXI] [get_bd_intf_pins dma/S_AXI_LITE]
connect_bd_intf_net [get_bd_intf_pins ctrl_ic/M01_AXI] [get_bd_intf_pins core/s_axil]
# Memory path.
connect_bd_intf_net [get_bd_intf_pins dma/M_AXI_MM2S] [get_bd_intf_pins mem_ic/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins dma/M_AXI_S2MM] [get_bd_intf_pins mem_ic/S01_AXI]
connect_bd_intf_net [get_bd_intf_pins mem_ic/M00_AXI] [get_bd_intf_pins ps7/S_AXI_HP0]
# Streams (the core's s_axis has no tkeep: it takes whole 64-bit words).
connect_bd_intf_net [get_bd_intf_pins dma/M_AXIS_MM2S] [get_bd_intf_pins core/s_axis]
connect_bd_intf_net [get_bd_intf_pins core/m_axis] [get_bd_intf_pins dma/S_AXIS_S2MM]
# Interrupts.
connect_bd_net [get_bd_pins dma/mm2s_introut] [get_bd_pins irq_concat/In0]
connect_bd_net [get_bd_pins dma/s2mm_introut] [get_bd_pins irq_concat/In1]
connect_bd_net [get_bd_pins irq_concat/dout] [get_bd_pins ps7/IRQ_F2P]

# ---------------------------------------------------------------- addresses, checks, wrapper
# Automatic assignment in the GP0 window (0x4000_0000..) for the DMA and the core (4 KB each:
# the core decodes 12 address bits), and all of DDR for the DMA masters through HP0.
assign_bd_address
foreach seg [get_bd_addr_segs -quiet -of_objects [get_bd_addr_spaces ps7/Data]] {
    puts "build_bd: address [get_property OFFSET $seg] range [get_property RANGE $seg] $seg"
}
validate_bd_design
save_bd_design
set bd_file [get_files $bd.bd]
generate_target all $bd_file
set wrapper [make_wrapper -files $bd_file -top]
add_files -norecurse $wrapper
set_property top ${bd}_wrapper [current_fileset]
update_compile_order -fileset sources_1

# ---------------------------------------------------------------- synthesis .. bitstream
launch_runs synth_1 -jobs $jobs
wait_on_run synth_1
if {[get_property PROGRESS [get_runs synth_1]] ne "100%"} { error "synthesis failed" }
launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} { error "implementation failed" }

# Reports: timing (WNS < 0 means 100 MHz is not met: the bitstream exists but is not safe to use)
# and utilization.
open_run impl_1
report_timing_summary -file [file join $out_dir timing_summary.rpt]
report_utilization -file [file join $out_dir utilization.rpt]
set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]
puts "build_bd: worst setup slack at 100 MHz: $wns ns"
if {$wns ne "" && $wns < 0} { puts "build_bd: WARNING: timing not met (WNS $wns ns)" }

# ---------------------------------------------------------------- export for PYNQ
# PYNQ's Overlay("llmaccel.bit") wants the .hwh next to the .bit under the same base name.
set bit [lindex [glob -nocomplain [file join [get_property DIRECTORY [get_runs impl_1]] *.bit]] 0]
if {$bit eq ""} { error "no bitstream in the impl_1 run directory" }
set hwh [lindex [get_files -all -of_objects $bd_file *.hwh] 0]
if {$hwh eq ""} { error "no .hwh hardware handoff for $bd" }
file copy -force $bit [file join $out_dir llmaccel.bit]
file copy -force $hwh [file join $out_dir llmaccel.hwh]
puts "build_bd: wrote [file join $out_dir llmaccel.bit] and [file join $out_dir llmaccel.hwh]"
