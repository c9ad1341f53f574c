// Accumulate-and-scale stage: adds one dot_lanes sum per cycle (valid) into an int32 accumulator; on `last`
// it outputs the accumulator and its integer requantization
//   y = (acc * M + 2^(S-1)) >>> S      (M: signed per-row multiplier, S: shift; round half up)
// the fixed-point form of the engine's epilogue acc * (x_step * w_step), as integer hardware computes it.
module acc_scale #(
    parameter S = 16
) (
    input  wire               clk,
    input  wire               rst,
    input  wire               valid,
    input  wire               last,
    input  wire signed [31:0] lane_sum,
    input  wire signed [31:0] m,
    output reg                done,
    output reg  signed [31:0] acc_out,
    output reg  signed [63:0] y
);
  reg signed [31:0] acc;
  wire signed [31:0] next = acc + lane_sum;
  always @(posedge clk) begin
    if (rst) begin
      acc <= 0;
      done <= 1'b0;
    end else begin
      done <= 1'b0;
      if (valid) begin
        if (last) begin
          acc_out <= next;
          y <= ($signed({{32{next[31]}}, next}) * $signed({{32{m[31]}}, m}) + (64'sd1 <<< (S - 1))) >>> S;
          done <= 1'b1;
          acc <= 0;
        end else begin
          acc <= next;
        end
      end
    end
  end
endmodule
