// int8 x int8 -> int32 panel GEMMs and row unpackers, one file per ISA (isa/gemm_s8_<isa>.cc, compiled with that
// ISA's flags only). Every kernel computes exactly the integers of the reference dot_row.
//
// The cpu backend keeps no unpacked copy of the weights: for each tile of kRowTile stored rows it unpacks the
// packed codes (or, on AVX-512, expands its load-time nibble layout, prepared.h) into a small panel
// (L1/L2-resident, zero padded to k_padded) and multiplies it by every token.
//
// Operands:
//   x:     n_tokens rows of k_padded int8 activations (q in [-127, 127]), zero padded
//   xu:    the same values + 128 as uint8 (padding 128; the padded weights are 0, so it adds nothing)
//   w:     panel, n_rows rows of k_padded int8 weights; w_sum: per-row sums of w
//   max_w: the scheme's largest |q|. AVX2 feeds xu straight to vpmaddubsw when 2 * 255 * max_w <= 32767
//          (PoT-4: 64, Fixed-4: 7), so the int16 pair sums cannot saturate; Fixed-8 rows take the sign path.
//   x_sum: per-token sums of x (over k_padded; the VNNI kernel's compensation)
//   acc:   n_tokens x n_rows int32, row stride acc_stride
// Panel layouts: row-major (generic: row r at w + r * k_padded); AVX2: blocks of 16 rows, each k_padded / 4
// quads of 16 rows x 4 consecutive k values (byte 4 i + j of quad g: row i, k = 4 g + j), signed, rows past the
// panel's end w = 0 with sum 0; VNNI (AVX-512): the same quads, each block of 16 rows, stored as w + 128 in
// uint8 (rows past the panel's end are w = 0). The ISA's unpack function writes the layout its kernel reads.
// Sums are exact in int32: |q| <= 127 and k_padded < 2^16.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backends/backend.h"
#include "rmsmp/quant.h"

namespace rmsmp {

// Rows of x and w are zero padded to a multiple of this. The generic kernel reads 32-byte steps (64: two per
// iteration); the VNNI kernel reads 4 bytes per step, so its K is padded only to 4 (a CNN's 1x1 conv with 16 or
// 24 input channels padded to 64 did 2.7-4x the MACs it needed).
inline constexpr int64_t kGemmKAlign = 64;
inline constexpr int64_t kGemmKAlignVnni = 4;
// amx (with vnni): K of 64 or more is padded to a multiple of 64, the tiles' K step, so that no rest of K is
// left for vpdpbusd: that rest ran one broadcast and one vpdpbusd per token and quad, up to 12 quads x 16 tokens
// per 16 x 16 block where a tile step takes 16 cycles (EfficientNet-Lite0's 1x1 convs have K = 80 .. 672, most
// with a rest of 16-48). Narrower K stays on vpdpbusd (gemm_s8_amx).
// avx2: the outer-product kernel reads 4 bytes per token and step, two steps per iteration, so K is padded to 8
// (the panel's last quads past a multiple of 8 are transposed one by one). At 32, EfficientNet-Lite0's 1x1 convs
// over 16, 24 and 40 channels did 1.25-2x the MACs they needed (at 64: 2-4x).
inline constexpr int64_t kGemmKAlignAvx2 = 8;
inline int64_t gemm_k_padded(int64_t k, bool vnni, bool amx = false, bool avx2 = false) {
  const int64_t a = vnni ? (amx && k >= 64 ? 64 : kGemmKAlignVnni) : avx2 ? kGemmKAlignAvx2 : kGemmKAlign;
  return (k + a - 1) / a * a;
}

// The VNNI kernels' optional in-register epilogue (GemmS8Args::epi): instead of storing token t's sum of row j
// (t < n_tokens, j < n_rows of the call), they finish it as epilogue_rows does (isa/epilogue_avx512.h, the same
// bits) into dst[t * stride + j] (null: not stored) and q[t * stride + j] (null: none). For a layer whose rows
// the call covers in original order (prepared, no side rows): a narrow conv's int32 sums never reach memory.
struct GemmEpilogue {
  const float* x_step;    // per token of the call
  const float* w_step;    // per row of the call
  const float* bias;      // per row (null: 0)
  const float* residual;  // [t * stride + j] (null: none)
  int64_t stride;
  LinearPost::Act act;
  float* dst;
  int8_t* q;
  float q_inv;
  int q_max;
  // Every token of the call has the same x_step (a statically quantized input): the kernel may multiply it by
  // w_step once per call instead of per token (the same product).
  bool x_uniform = false;
};

struct GemmS8Args {
  const int8_t* x;
  const uint8_t* xu;
  int64_t n_tokens;
  const int8_t* w;
  const int32_t* w_sum;
  const int32_t* x_sum;
  int64_t n_rows;
  int64_t k_padded;
  int max_w;
  int32_t* acc;
  int64_t acc_stride;
  // VNNI layout only, n_rows <= 32: the second block of 16 rows, where it is not w + 16 * k_padded (a tile of
  // two prepared blocks, one read in place and one expanded into the panel). Null: contiguous.
  const int8_t* w_hi = nullptr;
  // Optional: bytes to bring into the cache while this call computes (the next tile's weights, two runs). The
  // VNNI kernel spreads the prefetches over its first token block; the others ignore them.
  const uint8_t* prefetch[2] = {nullptr, nullptr};
  int64_t prefetch_bytes[2] = {0, 0};
  // VNNI layout with AVX-512 VBMI only (has_vbmi()): half h (rows 16 h .. 16 h + 15) given as a prepared 4-bit
  // block (prepared.h's nibbles) and decoded in registers, with no panel: nib[h] its quads (32 bytes each), then
  // as expand_panel_vnni4 takes them: nib_n[h] tables nib_luts[h][i] (64 bytes, code -> q + 128 per 16-byte
  // lane) and their row masks nib_mask[h][i]. Null nib[h]: that half is bytes (w or w_hi above).
  const uint8_t* nib[2] = {nullptr, nullptr};
  const uint8_t* nib_luts[2][4] = {};
  uint64_t nib_mask[2][4] = {};
  int nib_n[2] = {0, 0};
  // AVX-512 VNNI kernels only: finish the sums in registers instead of storing them to acc (null: store).
  const GemmEpilogue* epi = nullptr;
};

using GemmS8Fn = void (*)(const GemmS8Args&);

void gemm_s8_generic(const GemmS8Args& a);
void gemm_s8_avx2(const GemmS8Args& a);        // 16 rows x 4 (Fixed-4: 2) tokens, outer products: vpmaddubsw
                                               // of broadcast xu by w, or of |x| by sign(w, x)
void gemm_s8_avx512vnni(const GemmS8Args& a);  // 32 rows x 8 tokens, outer products: vpdpbusd(w + 128, x)
// The same with nibble halves (GemmS8Args::nib) decoded in registers: per quad one 32-byte broadcast load, a
// shift, (several tables: an and-or of the table offsets) and one vpermb, instead of a panel written and read
// back. Pays where a tile runs over few tokens (each block of 16 tokens decodes the weights again): at most
// kNibbleFusedTokens tokens. Needs AVX-512 VBMI.
inline constexpr int64_t kNibbleFusedTokens = 16;
void gemm_s8_avx512vbmi_nib(const GemmS8Args& a);
// The same sums with AMX tiles (isa/gemm_s8_amx.cc): the VNNI byte panels are AMX's B-tile format, 16 tokens x
// 16 rows x 64 k per TDPBSUD. Calls with fewer than 16 tokens, K under 64 or nibble halves go to
// gemm_s8_avx512vnni. Only where amx_usable(): the CPU has AMX-TILE and AMX-INT8 and the kernel granted this
// process the tile state (RMSMP_CPU_AMX=0: never).
bool amx_usable();
void gemm_s8_amx(const GemmS8Args& a);

// Unpacks `rows` packed rows (row_bytes apart) of `kind` into panel rows of k_padded int8 (zero padded) and
// their sums. The AVX2 version expands 4-bit codes with a 16-entry vpshufb table and writes its quad layout
// (above; the panel must hold ceil(rows / 16) * 16 * k_padded bytes and w_sum that many sums).
using UnpackPanelFn = void (*)(QuantKind kind, const uint8_t* codes, size_t row_bytes, int64_t rows, int64_t k,
                               int64_t k_padded, int8_t* panel, int32_t* w_sum);
void unpack_panel_generic(QuantKind kind, const uint8_t* codes, size_t row_bytes, int64_t rows, int64_t k,
                          int64_t k_padded, int8_t* panel, int32_t* w_sum);
void unpack_panel_avx2(QuantKind kind, const uint8_t* codes, size_t row_bytes, int64_t rows, int64_t k,
                       int64_t k_padded, int8_t* panel, int32_t* w_sum);
// Row-major rows (any kind; 4-bit ones by the vpshufb table), as the generic unpack writes them: the AVX2 and
// VNNI unpacks start from these.
void unpack_rows_avx2(QuantKind kind, const uint8_t* codes, size_t row_bytes, int64_t rows, int64_t k,
                      int64_t k_padded, int8_t* out, int32_t* w_sum);
// VNNI layout (above); the panel must hold ceil(rows / 16) * 16 * k_padded bytes.
void unpack_panel_vnni(QuantKind kind, const uint8_t* codes, size_t row_bytes, int64_t rows, int64_t k,
                       int64_t k_padded, int8_t* panel, int32_t* w_sum);
// One prepared 4-bit VNNI block (backends/cpu/prepared.h) -> VNNI panel of 16 rows: per 64 output bytes one
// 32-byte load, a nibble split and one vpshufb through luts[0] (64 bytes: code -> q + 128 in each 16-byte lane),
// then one masked vpshufb through luts[i] for the bytes of masks[i], 0 < i < n_luts.
// With AVX-512 VBMI, blocks of several schemes decode with one vpermb over all tables; the _with form picks the
// path (use_vbmi only where has_vbmi()), so tests check both on one machine.
void expand_panel_vnni4(const uint8_t* src, int64_t k_padded, const uint8_t* const* luts, const uint64_t* masks,
                        int n_luts, uint8_t* panel);
void expand_panel_vnni4_with(const uint8_t* src, int64_t k_padded, const uint8_t* const* luts, const uint64_t* masks,
                             int n_luts, uint8_t* panel, bool use_vbmi);
bool has_vbmi();
// sum[t] = sum of the K int8 values of row t (rows K apart), t < tb: the VNNI kernel's x_sum, 64 bytes per
// vpdpbusd with a vector of ones (exact in int32 for K < 2^24).
void row_sums_vnni(const int8_t* q, int64_t K, int64_t tb, int32_t* sum);

// The side rows (prepared.h) of a layer whose main tiles finished in registers (GemmEpilogue) over tb tokens:
// token t's n_side sums at acc + t * acc_stride, their original rows orig[s] and steps w_step[s]; each output
// finished as emit_half does (the same bits; no residual: such layers keep the pass, linear_driver.cc) and
// written over its hole at y/q + t * rows + orig[s] (y, q, bias may be null).
void side_rows_finish_avx512(const int32_t* acc, int64_t acc_stride, int64_t tb, int64_t n_side, const int32_t* orig,
                             const float* w_step, const float* bias, LinearPost::Act act, float* y, int8_t* q,
                             float q_inv, int q_max, int64_t rows, const float* x_step);

// epilogue_rows (backends/backend.h), the same bits, for AVX-512 hosts (isa/epilogue_rows_avx512.cc).
uint32_t epilogue_rows_avx512(const int32_t* acc, int64_t acc_stride, int64_t tb, int64_t rows, const float* x_step,
                              const float* w_step, const float* bias, const float* residual, LinearPost::Act act,
                              bool want_max, float* dst, int8_t* q = nullptr, float q_inv = 0.f, int q_max = 127);

// Depthwise convolution, one output pixel: acc[c] = sum over taps of xs[t][c] * w[t][c] for c < channels, with
// the weights in CpuPreparedDepthwise's layout (prepared.h); xs has p.taps pointers. vpdpbusd on four taps'
// bytes at a time (x + 128 against the signed weights, compensated), exact.
struct CpuPreparedDepthwise;
void depthwise_acc_s8_vnni(const CpuPreparedDepthwise& p, const int8_t* const* xs, int32_t* acc);
// The same sums on AVX2 from CpuPreparedDepthwiseAvx2 (tap pairs by vpmaddwd); xs has p.taps + 1 pointers (the
// last one zeros, as depthwise_window gives them).
struct CpuPreparedDepthwiseAvx2;
void depthwise_acc_s8_avx2(const CpuPreparedDepthwiseAvx2& p, const int8_t* const* xs, int32_t* acc);
// Backend::depthwise_row_s8 on that layout, the epilogue fused (the sums never leave registers).
struct DepthwiseRow;
uint32_t depthwise_row_vnni(const CpuPreparedDepthwise& p, const DepthwiseRow& r);

}  // namespace rmsmp
