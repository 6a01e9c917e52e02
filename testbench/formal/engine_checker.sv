// An engine's stream handshakes inside the core (generators/bfp_core.py's BfpCore,
// generators/ternary.py's TernaryAccelerator), from their documented behaviour and the
// amaranth.lib.stream rules (a beat moves on an edge where valid & ready): asserted outside reset.
// IN: the engine's input streams' valid and ready bits (several streams side by side).
// IDLE: also assert that no result is offered while the engine is idle (its k-induction needs the
// engine's pipeline invariants: a bounded search only, see testbench/formal_cases.py).
module engine_checker #(parameter IN = 1, parameter OUT_BITS = 64, parameter IDLE = 1) (
  input clk, input rst,
  input start, input busy,
  input [IN-1:0] in_valid, input [IN-1:0] in_ready,
  input out_valid, input out_ready, input [OUT_BITS-1:0] out_payload, input out_last
);
  reg past = 0;
  always @(posedge clk) past <= 1;
  always @(*) if (!past) assume (rst);
  always @(*) if (past && !rst) begin
    if (IDLE && out_valid) assert (busy);          // nothing produced while idle
    assert ((in_ready & ~{IN{busy}}) == 0);        // nothing taken while idle
  end
  always @(posedge clk) if (past && !$past(rst) && !rst) begin
    // a result beat offered stays offered, its payload unchanged, until taken
    if ($past(out_valid && !out_ready)) assert (out_valid && out_payload == $past(out_payload));
    // a run ends with its last result beat taken, and begins only with a start
    if ($past(busy) && !busy) assert ($past(out_valid && out_ready && out_last));
    if (!$past(busy) && busy) assert ($past(start));
  end
endmodule
