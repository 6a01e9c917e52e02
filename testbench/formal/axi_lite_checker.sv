// AXI4-Lite slave properties, written from the AMBA AXI specification (IHI 0022, A3.1.2 reset,
// A3.2.1 handshake, A3.3.1 dependencies, B1 AXI4-Lite) and the slave's documented timing
// (generators/axi_lite.py). Immediate assertions for Yosys's read_verilog -formal.
// The master's side is assumed (valid held until ready, payload stable, valids low in reset);
// the slave's side is asserted. The outstanding counts are tied to the ports by asserted (and
// so proven) invariants, which k-induction needs.
module axi_lite_checker #(parameter ADDR_BITS = 12, parameter MAX_WAIT = 2) (
  input clk, input rst,
  input awvalid, input awready, input [ADDR_BITS-1:0] awaddr, input [2:0] awprot,
  input wvalid, input wready, input [31:0] wdata, input [3:0] wstrb,
  input bvalid, input bready, input [1:0] bresp,
  input arvalid, input arready, input [ADDR_BITS-1:0] araddr, input [2:0] arprot,
  input rvalid, input rready, input [31:0] rdata, input [1:0] rresp
);
  reg past = 0;                 // a previous cycle exists
  reg [1:0] aw_open = 0;        // write addresses accepted, their response not yet taken
  reg [1:0] w_open = 0;         // write data accepted, their response not yet taken
  reg [1:0] ar_open = 0;        // read addresses accepted, their data not yet taken
  reg [3:0] w_wait = 0;         // cycles an accepted write has waited for its response
  reg [3:0] r_wait = 0;
  wire aw = awvalid & awready, w = wvalid & wready, b = bvalid & bready;
  wire ar = arvalid & arready, r = rvalid & rready;

  always @(posedge clk) begin
    past <= 1;
    if (rst) begin
      aw_open <= 0; w_open <= 0; ar_open <= 0; w_wait <= 0; r_wait <= 0;
    end else begin
      aw_open <= aw_open + aw - b;
      w_open <= w_open + w - b;
      ar_open <= ar_open + ar - r;
      w_wait <= (aw_open != 0 && w_open != 0 && !bvalid) ? w_wait + 1 : 0;
      r_wait <= (ar_open != 0 && !rvalid) ? r_wait + 1 : 0;
    end
  end

  // ---- the master (assumed) ------------------------------------------------------------------
  always @(*) begin
    if (!past) assume (rst);
    if (rst) assume (!awvalid && !wvalid && !arvalid);
  end
  always @(posedge clk) if (past && !$past(rst) && !rst) begin
    if ($past(awvalid && !awready)) assume (awvalid && awaddr == $past(awaddr)
                                            && awprot == $past(awprot));
    if ($past(wvalid && !wready)) assume (wvalid && wdata == $past(wdata)
                                          && wstrb == $past(wstrb));
    if ($past(arvalid && !arready)) assume (arvalid && araddr == $past(araddr)
                                            && arprot == $past(arprot));
  end

  // ---- the slave (asserted) ------------------------------------------------------------------
  always @(*) begin
    // reset: every valid and ready low while rst is high
    if (rst) assert (!bvalid && !rvalid && !awready && !wready && !arready);
    // no response without its request, never more open than the slave holds
    if (!rst) begin
      if (bvalid) assert (aw_open != 0 && w_open != 0);
      if (rvalid) assert (ar_open != 0);
      // invariants: what is open is what the slave holds (its one-entry buffers, a response)
      assert (aw_open == !awready + bvalid);
      assert (w_open == !wready + bvalid);
      assert (ar_open == rvalid);
      assert (bresp == 2'b00 || bresp == 2'b10 || !bvalid);
      assert (rresp == 2'b00 || rresp == 2'b10 || !rvalid);
      // every accepted request gets its response, within MAX_WAIT cycles
      assert (w_wait <= MAX_WAIT && r_wait <= MAX_WAIT);
    end
  end
  always @(posedge clk) if (past && !$past(rst) && !rst) begin
    // a response is held until taken, its payload stable
    if ($past(bvalid && !bready)) assert (bvalid && bresp == $past(bresp));
    if ($past(rvalid && !rready)) assert (rvalid && rdata == $past(rdata) && rresp == $past(rresp));
  end
endmodule
