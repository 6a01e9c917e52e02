// AXI4-Stream source properties (AMBA AXI4-Stream specification, IHI 0051: 2.2.1 handshake,
// 2.7.2 reset): asserted of the design's output stream. Immediate assertions for Yosys's
// read_verilog -formal. The sink's TREADY is free.
module axis_source_checker #(parameter DATA_BITS = 64) (
  input clk, input rst,
  input tvalid, input tready, input [DATA_BITS-1:0] tdata, input [DATA_BITS/8-1:0] tkeep,
  input tlast
);
  reg past = 0;
  always @(posedge clk) past <= 1;
  always @(*) if (!past) assume (rst);
  // no transfer offered while reset is high
  always @(*) if (rst) assert (!tvalid);
  // once offered, TVALID stays until TREADY, TDATA, TKEEP and TLAST unchanged meanwhile
  always @(posedge clk) if (past && !$past(rst) && !rst && $past(tvalid && !tready))
    assert (tvalid && tdata == $past(tdata) && tkeep == $past(tkeep) && tlast == $past(tlast));
endmodule
