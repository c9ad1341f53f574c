// Testbench: streams rows through dot_lanes + acc_scale and compares every accumulator and scaled output
// with the vectors the engine's reference dot product produced (tests/hardware/gen_pe_vectors.cc).
// Vector file (hex words, $readmemh): n_cases, n_chunks, then per case: m, acc, y_lo, y_hi, and per chunk the
// code words (lane 0 in the low bits) followed by the activation words. Prints "PASS <cases>" or the first
// mismatches and "FAIL".
`timescale 1ns / 1ps
module tb_row;
  parameter SCHEME = 0;
  parameter ACT_BITS = 4;
  parameter LANES = 16;
  localparam CW = (SCHEME == 2) ? 8 : 4;
  localparam CODE_WORDS = LANES * CW / 32;
  localparam X_WORDS = LANES * ACT_BITS / 32;

  reg [31:0] mem[0:1 << 20];
  reg clk = 0, rst = 1, valid = 0, last = 0;
  reg [LANES*CW-1:0] codes;
  reg [LANES*ACT_BITS-1:0] xs;
  reg signed [31:0] m;
  wire signed [31:0] lane_sum, acc_out;
  wire signed [63:0] y;
  wire done;

  dot_lanes #(.LANES(LANES), .SCHEME(SCHEME), .ACT_BITS(ACT_BITS)) dot (.codes(codes), .xs(xs), .sum(lane_sum));
  acc_scale #(.S(16)) acc (.clk(clk), .rst(rst), .valid(valid), .last(last), .lane_sum(lane_sum), .m(m),
                           .done(done), .acc_out(acc_out), .y(y));
  always #5 clk = ~clk;

  integer n_cases, n_chunks, c, k, w, p, errors;
  reg [1023:0] file;
  reg signed [31:0] want_acc;
  reg signed [63:0] want_y;
  initial begin
    if (!$value$plusargs("vectors=%s", file)) begin
      $display("FAIL: no +vectors=FILE");
      $finish;
    end
    $readmemh(file, mem);
    n_cases = mem[0];
    n_chunks = mem[1];
    p = 2;
    errors = 0;
    @(posedge clk);
    #1 rst = 0;
    for (c = 0; c < n_cases; c = c + 1) begin
      m = mem[p];
      want_acc = mem[p + 1];
      want_y = {mem[p + 3], mem[p + 2]};
      p = p + 4;
      for (k = 0; k < n_chunks; k = k + 1) begin
        for (w = 0; w < CODE_WORDS; w = w + 1) codes[w*32 +: 32] = mem[p + w];
        p = p + CODE_WORDS;
        for (w = 0; w < X_WORDS; w = w + 1) xs[w*32 +: 32] = mem[p + w];
        p = p + X_WORDS;
        valid = 1;
        last = (k == n_chunks - 1);
        @(posedge clk);
        #1;
      end
      valid = 0;
      last = 0;
      if (!done) @(posedge done);
      if (acc_out !== want_acc || y !== want_y) begin
        errors = errors + 1;
        if (errors <= 5)
          $display("mismatch case %0d: acc %0d (want %0d), y %0d (want %0d)", c, acc_out, want_acc, y, want_y);
      end
    end
    if (errors == 0) $display("PASS %0d", n_cases);
    else $display("FAIL %0d of %0d", errors, n_cases);
    $finish;
  end
endmodule
