// CPU load-time weight layouts (Backend::prepare): the AVX-512 VNNI kernel's panel order, made once at load so
// that a forward neither unpacks rows nor transposes them, with rows in their original order so that a tile's
// outputs are written where they belong: no gather through the scheme permutation (a per-output gather was the
// costliest part of a narrow conv's epilogue, e.g. 32 outputs per pixel for 900 MACs).
//
// Main rows: the layer's rows 0 .. rows-1 in original order, cut into blocks of 16. Each block is k_padded / 4
// "quads" of 16 rows x 4 consecutive k values; output byte i of a quad is row i / 4, k = 4 q + i % 4, as
// w + 128 (uint8), which is exactly the VNNI panel of gemm_s8.h. A block is stored in one of two forms:
//   nibbles (the layer has 4-bit rows): each quad is 32 bytes, byte m holding output byte m's code in its low
//            nibble and output byte m + 32's in its high nibble (8 * k_padded bytes). Rows of different 4-bit
//            schemes may share a block: block.luts[0] decodes every byte, then each further (lut, mask) pair
//            re-decodes the bytes of its rows (bit i of mask: output byte i of every quad), one masked vpshufb
//            each. luts[] maps code -> q + 128 (from the scheme table's reference unpack, so any code a file
//            holds decodes exactly as the reference decodes it). Rows that are not 4-bit are holes here: the
//            zero code of luts[0], so they compute 0.
//   bytes (a layer without 4-bit rows): the expanded quads themselves (16 * k_padded bytes), read in place;
//            fp32 rows are holes (w = 0).
// Side rows (a layer of more than kSideMinRows rows with both 4-bit and 8-bit rows): its 8-bit rows in stored
// order, in byte blocks of 16 after the main blocks; their outputs overwrite their holes' (orig maps them). A
// smaller layer keeps its 8-bit rows in place instead, and any block holding one is stored as bytes (a side
// block of its own would cost up to as much work as the layer). fp32 rows stay holes and are computed by the
// fp32 path. Rows past the end of either part are w = 0. A call that expands the nibble blocks into byte panels
// (many tokens) copies each side row's bytes into its hole of the expanded panel (hole_side) and computes it
// there, with row_steps, instead of running the side blocks: no side tiles, no overwrite pass.
// Resident memory stays near the packed size: 4-bit rows at half a byte (holes included), 8-bit rows at a
// byte, and the file's pages of the codes are released after preparation. Unless expanded at load
// (cpu_prepare_vnni's keep_nibbles false): then every block is bytes, a byte per weight.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/isa.h"
#include "core/aligned.h"
#include "quant/row_mixed.h"

namespace rmsmp {

struct CpuPreparedLinear : PreparedLinear {
  static constexpr int kMaxBlockLuts = 4;  // 4-bit schemes that may meet in one block
  static constexpr int64_t kSideMinRows = 256;  // layers with more rows put 8-bit rows beside 4-bit ones
  struct Block {
    int64_t offset = 0;                    // into data
    int n_luts = 0;                        // 0: bytes; else nibbles decoded by luts[lut[0]], then lut[i] on mask[i]
    int lut[kMaxBlockLuts] = {};
    uint64_t mask[kMaxBlockLuts] = {};
  };
  Isa isa = Isa::Generic;
  int64_t k_padded = 0;
  int64_t rows = 0;                  // main rows: the layer's rows (blocks main_blocks() cover them, padded to 16)
  int64_t side_rows = 0;             // 8-bit rows of a layer that also has 4-bit rows, in stored order
  std::vector<int32_t> orig;         // rows + side_rows: original row index (main: itself; holes: -1)
  std::vector<float> steps;          // rows + side_rows: weight step (holes: 0)
  std::vector<float> row_steps;      // rows: every integer row's step in original order (fp32 rows: 0), for an
                                     // epilogue over sums whose holes were overwritten by their side rows' sums
  std::vector<int32_t> hole_side;    // rows: the side row (stored index) whose bytes fill row r's hole; -1: none
  std::vector<Block> blocks;         // main blocks, then side blocks
  std::vector<std::array<uint8_t, 64>> luts;  // per 4-bit scheme met: lut[c] for c < 16, repeated per 16-byte lane
  AlignedArray<uint8_t> data;  // cache-line aligned (core/aligned.h)
  size_t bytes = 0;
  int64_t main_blocks() const { return (rows + 15) / 16; }
};

// The layout above for the integer groups of w (null when w has none). keep_nibbles false: every block in the
// bytes form, 4-bit rows decoded at load and 8-bit rows in place (no side rows): twice the resident bytes of the
// 4-bit rows, for kernels that would otherwise expand nibbles on every call (AMX: cpu_backend.h). amx: K padded
// as the AMX driver pads it (gemm_k_padded).
std::shared_ptr<const CpuPreparedLinear> cpu_prepare_vnni(const RowMixedLinear& w, bool keep_nibbles = true,
                                                          bool amx = false);

// Depthwise weights for the AVX-512 VNNI kernel (depthwise_acc_s8_vnni, gemm_s8.h): taps in quads (4p .. 4p + 3;
// taps past the last have weight 0), channels in blocks of 64 (the last block zero padded). Per quad and block,
// 256 int8 = four zmm k = 0..3; dword j of 128-bit lane L of zmm k holds (w[4p][c], .., w[4p + 3][c]) for channel
// c = 64 b + 16 L + 4 k + j: the order in which two rounds of vpunpck{l,h} (bytes, then words) interleave four
// taps' 64 input bytes, so the kernel shuffles activations only within lanes and puts channels back in order
// once per pixel. Offset of (quad p, block b): (b * quads + p) * 256. The kernel feeds x + 128 (unsigned) to
// vpdpbusd; comp holds -128 * sum_t w[t][c] in the same dword order (per block, four zmm of 16 int32), the
// accumulators' starting values, so the sums come out as sum x w exactly.
//
// The row kernel (depthwise_row_vnni) reads a second copy, wcol, with quads made of columns instead: quad (kx, g)
// holds taps (4 g + i, kx) for i < 4 (rows past kh: weight 0), g < vquads = ceil(kh / 4), offset of (kx, g,
// block b): ((b * kw + kx) * vquads + g) * 256, same dword order. Interleaved that way, an input column's four
// rows serve every output pixel whose window covers the column: the kernel interleaves each input column once
// per output row instead of every tap of every pixel. comp is the same for both (a sum over all taps).
struct CpuPreparedDepthwise : PreparedDepthwise {
  int64_t quads = 0, blocks = 0;
  int64_t kh = 0, kw = 0, vquads = 0;
  AlignedVector<int8_t> w, wcol;  // cache-line aligned: the kernels load them 64 bytes at a time
  AlignedVector<int32_t> comp;
};
std::shared_ptr<const CpuPreparedDepthwise> cpu_prepare_depthwise_vnni(const int8_t* w, int64_t kh, int64_t kw,
                                                                       int64_t channels);

// Depthwise weights for the AVX2 kernel (depthwise_acc_s8_avx2, gemm_s8.h): taps in pairs (2p, 2p + 1; a
// missing last tap has weight 0), channels in blocks of 16; per pair and block, 32 int16 = (w[2p][c],
// w[2p + 1][c]) for c = 16 b .. 16 b + 15, the operand order of vpmaddwd on interleaved activations. Offset of
// (pair p, block b): (p * blocks + b) * 32. Channels past the last full block are read from w, tap-major.
struct CpuPreparedDepthwiseAvx2 : PreparedDepthwise {
  int64_t pairs = 0, blocks = 0;
  AlignedVector<int16_t> wpairs;
  std::vector<int8_t> w;  // [tap][channel], as given
};
std::shared_ptr<const CpuPreparedDepthwiseAvx2> cpu_prepare_depthwise_avx2(const int8_t* w, int64_t kh, int64_t kw,
                                                                            int64_t channels);

}  // namespace rmsmp
