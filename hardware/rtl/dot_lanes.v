// LANES weight x activation products of one row group, summed: one step of a row's dot product.
// SCHEME 0: PoT-4 (pot4_pe), 1: Fixed-4, 2: Fixed-8 (fixed_pe). Codes are packed lane 0 first (low bits),
// as the engine packs a row (element 2i in the low nibble of byte i for 4-bit schemes).
module dot_lanes #(
    parameter LANES    = 16,
    parameter SCHEME   = 0,
    parameter ACT_BITS = 4
) (
    input  wire [LANES*(SCHEME == 2 ? 8 : 4)-1:0] codes,
    input  wire [LANES*ACT_BITS-1:0]               xs,
    output reg  signed [31:0]                      sum
);
  localparam CW = (SCHEME == 2) ? 8 : 4;
  wire signed [31:0] prod[0:LANES-1];
  genvar i;
  generate
    for (i = 0; i < LANES; i = i + 1) begin : lane
      wire signed [ACT_BITS-1:0] x = xs[i*ACT_BITS +: ACT_BITS];
      if (SCHEME == 0) begin : pot
        wire signed [ACT_BITS+7:0] p;
        pot4_pe #(.ACT_BITS(ACT_BITS)) pe (.code(codes[i*CW +: 4]), .x(x), .p(p));
        assign prod[i] = p;
      end else begin : fix
        wire signed [CW+ACT_BITS-1:0] p;
        fixed_pe #(.W_BITS(CW), .ACT_BITS(ACT_BITS)) pe (.w(codes[i*CW +: CW]), .x(x), .p(p));
        assign prod[i] = p;
      end
    end
  endgenerate
  integer k;
  always @* begin
    sum = 0;
    for (k = 0; k < LANES; k = k + 1) sum = sum + prod[k];
  end
endmodule
