// Fixed-point weight x signed activation processing element: one signed multiply (the paper's DSP-core lane).
// W_BITS = 4: a 4-bit two's complement nibble (-7..7); W_BITS = 8: an int8 code (-127..127).
module fixed_pe #(
    parameter W_BITS   = 4,
    parameter ACT_BITS = 4
) (
    input  wire signed [W_BITS-1:0]          w,
    input  wire signed [ACT_BITS-1:0]        x,
    output wire signed [W_BITS+ACT_BITS-1:0] p
);
  assign p = w * x;
endmodule
