// PoT-4 weight x signed activation processing element: a barrel shift and a conditional negate, no multiplier
// (the paper's LUT-core lane). Weight code (rmsmp/quant.h): nibble = s<<3 | e, value = e == 0 ? 0 :
// (s ? -1 : 1) * 2^(e-1), so |w| * x == x << (e-1).
module pot4_pe #(
    parameter ACT_BITS = 4                       // signed activation width (4: the paper's W4A4; 8: the engine's int8)
) (
    input  wire [3:0]                 code,
    input  wire signed [ACT_BITS-1:0] x,
    output wire signed [ACT_BITS+7:0] p          // |x| * 64 needs ACT_BITS + 6 bits, plus sign headroom
);
  wire [2:0] e = code[2:0];
  wire signed [ACT_BITS+7:0] xe = x;             // sign-extend
  wire signed [ACT_BITS+7:0] shifted = (e == 3'd0) ? {(ACT_BITS+8){1'b0}} : (xe <<< (e - 3'd1));
  assign p = code[3] ? -shifted : shifted;
endmodule
