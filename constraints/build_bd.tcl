# Vivado batch script: an llmaccel AXI core beside its AXI DMAs on a PYNQ-Z1 (XC7Z020-1CLG400C),
# from the emitted Verilog to a PYNQ overlay (.bit + .hwh).
#
#   vivado -mode batch -source constraints/build_bd.tcl \
#          -tclargs [TOP [VERILOG [OUT_DIR]]]
#
# TOP defaults to llmaccel_top (the core: BFP and ternary engines), VERILOG to hdl/llmaccel_top.sv,
# OUT_DIR to build/pynq_z1 (relative paths are taken from the current directory; the defaults from
# the repository root). TOP must have the core's ports: clk, rst (synchronous, active high),
# s_axil_* (AXI4-Lite slave), its input streams s_axis0_*, s_axis1_*, ... (AXI4-Stream in; the
# `bfp` block's single s_axis_* too) and m_axis_* (AXI4-Stream out). The number of input streams
# S (1 to 4, the Zynq's four HP ports) is read from TOP's ports in the Verilog.
#
# The block design:
#   processing_system7 (FCLK_CLK0 = 100 MHz for everything)
#     M_AXI_GP0 -> smartconnect ctrl -> every AXI DMA's s_axi_lite, core s_axil
#     AXI DMA i (dma0 .. dma<S-1>): M_AXIS_MM2S -> core input stream i; its M_AXI_MM2S ->
#       smartconnect mem<i> -> S_AXI_HP<i> (64-bit) -> DDR: each input stream on its own HP port
#     core m_axis -> dma0 S_AXIS_S2MM; dma0 M_AXI_S2MM -> mem0 (beside its MM2S) -> S_AXI_HP0
#     the DMAs' mm2s_introut (and dma0's s2mm_introut) -> xlconcat -> IRQ_F2P
#     proc_sys_reset: peripheral_aresetn -> DMAs and interconnects, peripheral_reset -> core rst
# An HP port moves 64 bits a cycle at up to 150 MHz; here each carries one 64-bit stream at
# 100 MHz (0.8 GB/s), so S streams offer S x 0.8 GB/s against the DDR's 2.1 GB/s.
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

# The core's input streams: the s_axis<i>_tdata ports of TOP (or the one s_axis_tdata).
set fh [open $verilog]; set text [read $fh]; close $fh
set pattern "module [regsub -all {\W} $top {\\&}]\\s*\\((\[^;\]*)\\);"
if {![regexp $pattern $text -> ports]} {
    error "module $top not found in $verilog"
}
set inputs {}
while {[regexp "\\ms_axis[llength $inputs]_tdata\\M" $ports]} { lappend inputs s_axis[llength $inputs] }
if {[llength $inputs] == 0 && [regexp {\ms_axis_tdata\M} $ports]} { set inputs {s_axis} }
set streams [llength $inputs]
if {$streams == 0} { error "$top has no AXI4-Stream input (s_axis0_tdata or s_axis_tdata)" }
if {$streams > 4} { error "$top has $streams input streams: the PYNQ-Z1 has 4 HP ports" }

set part   xc7z020clg400-1
set xdc    [file join $repo constraints pynq_z1.xdc]
set bd     system
set jobs   4
puts "build_bd: top $top ($streams input streams), Verilog $verilog, part $part, output $out_dir"

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

# processing system: FCLK_CLK0 at 100 MHz, M_AXI_GP0 (control), S_AXI_HP0 .. HP<S-1> 64-bit
# (data), IRQ_F2P. With PYNQ the boot image configures DDR and MIO; the overlay only uses these.
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
set ps_config [list CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ 100 \
                    CONFIG.PCW_USE_M_AXI_GP0 1 \
                    CONFIG.PCW_USE_FABRIC_INTERRUPT 1 \
                    CONFIG.PCW_IRQ_F2P_INTR 1]
for {set i 0} {$i < $streams} {incr i} {
    lappend ps_config CONFIG.PCW_USE_S_AXI_HP$i 1 CONFIG.PCW_S_AXI_HP${i}_DATA_WIDTH 64
}
set_property -dict $ps_config $ps

# AXI DMAs, one per input stream: simple (direct register) mode, no scatter-gather; 64-bit memory
# maps and streams; 26-bit length registers (transfers up to 64 MB - 1). dma0 also has the
# receive (S2MM) channel for the core's results.
for {set i 0} {$i < $streams} {incr i} {
    set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma$i]
    set_property -dict [list CONFIG.c_include_sg 0 \
                             CONFIG.c_sg_include_stscntrl_strm 0 \
                             CONFIG.c_include_mm2s 1 \
                             CONFIG.c_include_s2mm [expr {$i == 0}] \
                             CONFIG.c_sg_length_width 26 \
                             CONFIG.c_m_axi_mm2s_data_width 64 \
                             CONFIG.c_m_axis_mm2s_tdata_width 64 \
                             CONFIG.c_m_axi_s2mm_data_width 64 \
                             CONFIG.c_s_axis_s2mm_tdata_width 64 \
                             CONFIG.c_mm2s_burst_size 16 \
                             CONFIG.c_s2mm_burst_size 16] $dma
}

# The core, as a module reference of TOP. IP integrator infers its interfaces from the port
# names: s_axil_* -> AXI4-Lite slave "s_axil", s_axis<i>_* -> AXI4-Stream slaves "s_axis<i>",
# m_axis_* -> AXI4-Stream master "m_axis"; clk -> clock, rst -> reset. The inference does not
# always tie the buses to the clock or get the reset polarity right, so it is stated here on the
# cell's pins (the parameters an X_INTERFACE_PARAMETER attribute would carry in the HDL, which we
# do not edit): clk drives every bus and rst, rst is active high.
set core [create_bd_cell -type module -reference $top core]
set_property -dict [list CONFIG.ASSOCIATED_BUSIF [join [list s_axil {*}$inputs m_axis] :] \
                         CONFIG.ASSOCIATED_RESET rst \
                         CONFIG.FREQ_HZ 100000000] [get_bd_pins core/clk]
set_property CONFIG.POLARITY ACTIVE_HIGH [get_bd_pins core/rst]

# Interconnects: GP0 (one master) to the DMAs' and the core's AXI4-Lite slaves; per HP port one
# smartconnect (AXI4 to the port's AXI3): dma0's two masters to HP0, dma<i>'s one to HP<i>.
set ctrl [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect ctrl_ic]
set_property -dict [list CONFIG.NUM_SI 1 CONFIG.NUM_MI [expr {$streams + 1}]] $ctrl
for {set i 0} {$i < $streams} {incr i} {
    set mem [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect mem_ic$i]
    set_property -dict [list CONFIG.NUM_SI [expr {$i == 0 ? 2 : 1}] CONFIG.NUM_MI 1] $mem
}

# Reset: proc_sys_reset synchronizes the PS's FCLK_RESET0_N to FCLK_CLK0.
set rstgen [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset rstgen]

# DMA interrupts to the PS (IRQ_F2P[0] = dma0 S2MM, [1 + i] = dma<i> MM2S).
set irq [create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat irq_concat]
set_property CONFIG.NUM_PORTS [expr {$streams + 1}] $irq

# ---------------------------------------------------------------- connections
# One clock for everything: FCLK_CLK0.
set clocks [list [get_bd_pins ps7/M_AXI_GP0_ACLK] [get_bd_pins ctrl_ic/aclk] \
                 [get_bd_pins rstgen/slowest_sync_clk] [get_bd_pins core/clk] \
                 [get_bd_pins dma0/m_axi_s2mm_aclk]]
set resets [list [get_bd_pins ctrl_ic/aresetn]]
for {set i 0} {$i < $streams} {incr i} {
    lappend clocks [get_bd_pins ps7/S_AXI_HP${i}_ACLK] [get_bd_pins mem_ic$i/aclk] \
        [get_bd_pins dma$i/s_axi_lite_aclk] [get_bd_pins dma$i/m_axi_mm2s_aclk]
    lappend resets [get_bd_pins dma$i/axi_resetn] [get_bd_pins mem_ic$i/aresetn]
}
connect_bd_net [get_bd_pins ps7/FCLK_CLK0] {*}$clocks
# Resets: active low to Xilinx IP, active high (synchronous) to the core.
connect_bd_net [get_bd_pins ps7/FCLK_RESET0_N] [get_bd_pins rstgen/ext_reset_in]
connect_bd_net [get_bd_pins rstgen/peripheral_aresetn] {*}$resets
connect_bd_net [get_bd_pins rstgen/peripheral_reset] [get_bd_pins core/rst]
# Control path: the core at M00, the DMAs after it.
connect_bd_intf_net [get_bd_intf_pins ps7/M_AXI_GP0] [get_bd_intf_pins ctrl_ic/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins ctrl_ic/M00_AXI] [get_bd_intf_pins core/s_axil]
for {set i 0} {$i < $streams} {incr i} {
    connect_bd_intf_net [get_bd_intf_pins ctrl_ic/M[format %02d [expr {$i + 1}]]_AXI] \
        [get_bd_intf_pins dma$i/S_AXI_LITE]
}
# Memory paths: each DMA on its own HP port; dma0's results beside its input stream on HP0.
for {set i 0} {$i < $streams} {incr i} {
    connect_bd_intf_net [get_bd_intf_pins dma$i/M_AXI_MM2S] [get_bd_intf_pins mem_ic$i/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins mem_ic$i/M00_AXI] [get_bd_intf_pins ps7/S_AXI_HP$i]
}
connect_bd_intf_net [get_bd_intf_pins dma0/M_AXI_S2MM] [get_bd_intf_pins mem_ic0/S01_AXI]
# Streams (the core's inputs have no tkeep: they take whole 64-bit words).
for {set i 0} {$i < $streams} {incr i} {
    connect_bd_intf_net [get_bd_intf_pins dma$i/M_AXIS_MM2S] \
        [get_bd_intf_pins core/[lindex $inputs $i]]
}
connect_bd_intf_net [get_bd_intf_pins core/m_axis] [get_bd_intf_pins dma0/S_AXIS_S2MM]
# Interrupts.
connect_bd_net [get_bd_pins dma0/s2mm_introut] [get_bd_pins irq_concat/In0]
for {set i 0} {$i < $streams} {incr i} {
    connect_bd_net [get_bd_pins dma$i/mm2s_introut] [get_bd_pins irq_concat/In[expr {$i + 1}]]
}
connect_bd_net [get_bd_pins irq_concat/dout] [get_bd_pins ps7/IRQ_F2P]

# ---------------------------------------------------------------- addresses, checks, wrapper
# The GP0 slaves at the addresses of golden/pynq_z1_map.txt, the one map the PYNQ back end's tests
# read too (the core: 4 KB, it decodes 12 address bits; each DMA: 64 KB); then automatic
# assignment for the rest: all of DDR for the DMA masters through their HP ports (the map's `ddr`
# line says what that gives on the PYNQ-Z1: 512 MB at 0).
set fh [open [file join $repo golden pynq_z1_map.txt]]; set map_text [read $fh]; close $fh
set assigned {}
foreach line [split $map_text "\n"] {
    set line [string trim [lindex [split $line #] 0]]
    if {$line eq ""} { continue }
    lassign $line cell intf offset range
    if {$cell eq "core" || [regexp {^dma(\d+)$} $cell -> i] && $i < $streams} {
        assign_bd_address -offset $offset -range $range \
            [get_bd_addr_segs -of_objects [get_bd_intf_pins $cell/$intf]]
        lappend assigned $cell
    }
}
if {[llength $assigned] != $streams + 1} {
    error "golden/pynq_z1_map.txt gives addresses for $assigned, not for core and $streams DMAs"
}
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
