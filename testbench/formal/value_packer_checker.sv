// The ValuePacker's counting properties (generators/value_packer.py: beats of COUNT int32 in,
// packed 64-bit words out, `last` on the word after the last beat): no word without its values,
// none lost, the final word carrying exactly the rest and marked last, a half word only there.
// `open` = values taken in and not yet sent; a run ends with the last word. `held` and
// `flushing` are the packer's own state (probes): the invariants tying the checker's counts to
// them are asserted like the rest, so k-induction can close.
module value_packer_checker #(parameter COUNT = 3) (
  input clk, input rst,
  input in_valid, input in_ready, input in_last,
  input out_valid, input out_ready, input [7:0] out_keep, input out_last,
  input [7:0] held, input flushing
);
  reg past = 0;
  reg [7:0] open = 0;
  reg last_in = 0;              // the run's last beat is in
  wire in_fire = in_valid & in_ready, out_fire = out_valid & out_ready;
  wire [1:0] n_out = out_keep == 8'hFF ? 2'd2 : 2'd1;
  always @(posedge clk) begin
    past <= 1;
    if (rst) begin
      open <= 0; last_in <= 0;
    end else begin
      open <= open + (in_fire ? COUNT : 0) - (out_fire ? n_out : 0);
      if (in_fire && in_last) last_in <= 1;
      if (out_fire && out_last) last_in <= 0;
    end
  end
  always @(*) if (!past) assume (rst);
  always @(*) if (!rst) begin
    assert (open <= COUNT + 1);                       // what the packer holds at most
    if (out_valid) assert (out_keep == 8'hFF || out_keep == 8'h0F);
    if (out_valid) assert (open >= n_out);            // no word without its values
    if (out_valid && out_keep == 8'h0F) assert (out_last);   // a half word ends the run
    if (out_valid && out_last) assert (last_in && open == n_out);   // the rest, all of it
    if (last_in) assert (!in_ready);                  // nothing taken after the last beat
    if (last_in && open != 0) assert (out_valid);     // the tail is offered, never lost
    if (!last_in && open >= 2) assert (out_valid);    // a whole word is offered at once
    assert (open == held && last_in == flushing);   // invariant: the packer's own state
  end
endmodule
