// Shared by every kernel file (prepended by the host when it builds the program).
// Contraction off: a*b+c stays two correctly rounded operations, as in the C++ reference, so the integer
// paths' epilogues are bit-identical to it.
#pragma OPENCL FP_CONTRACT OFF

// Packed-row nibble i (element 2i in the low nibble), see rmsmp/quant.h.
inline uint nibble_at(__global const uchar* row, int i) { return (row[i >> 1] >> ((i & 1) << 2)) & 0xFu; }
// fixed4: 4-bit two's complement.
inline int fixed4_decode(uint nib) { return (int)(nib ^ 8u) - 8; }
// y = float(acc) * (x_step * w_step) + bias  (rowq_epilogue)
inline float rowq_epilogue(int acc, float xs, float ws, float b) { return (float)acc * (xs * ws) + b; }
