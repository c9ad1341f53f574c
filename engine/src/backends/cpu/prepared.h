// CPU load-time weight layouts (Backend::prepare): the AVX-512 VNNI kernel's panel order, made once at load so
// that a forward neither unpacks rows nor transposes them, in blocks that span scheme groups so that small
// groups do not leave the kernel's 16-row lanes empty (a 64-channel conv split 42/19/3 over three schemes
// padded to 96 rows when each group had blocks of its own; now 64).
//
// The layer's integer rows, in stored order (groups in file order, fp32 groups skipped), are cut into blocks
// of 16. Each block is k_padded / 4 "quads" of 16 rows x 4 consecutive k values; output byte i of a quad is
// row i / 4, k = 4 q + i % 4, as w + 128 (uint8), which is exactly the VNNI panel of gemm_s8.h. A block is
// stored in one of two forms:
//   nibbles: every valid row of the block has the same 4-bit scheme; each quad is 32 bytes, byte m holding output
//            byte m's code in its low nibble and output byte m + 32's in its high nibble (8 * k_padded bytes);
//            luts[lut] maps code -> q + 128 (from the scheme table's reference unpack, so any code a file holds
//            decodes exactly as the reference decodes it), expanded at run time by one vpshufb per 64 bytes;
//   bytes:   anything else (8-bit rows, or a block where two schemes meet): the expanded quads themselves
//            (16 * k_padded bytes), read by the kernel in place.
// Rows past the last valid one are w = 0. Resident memory stays near the packed size: only blocks where 4-bit
// schemes meet are stored at a byte per weight (at most one per group boundary), and the file's pages of the
// codes are released after preparation.
#pragma once
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/isa.h"
#include "quant/row_mixed.h"

namespace rmsmp {

struct CpuPreparedLinear : PreparedLinear {
  struct Block {
    int64_t offset = 0;  // into data
    int lut = -1;        // index into luts: nibbles; -1: bytes
  };
  Isa isa = Isa::Generic;
  int64_t k_padded = 0;
  int64_t rows = 0;                  // integer rows (a multiple of 16 after padding: blocks.size() * 16)
  std::vector<int32_t> orig;         // per integer row: its original row index (through perm)
  std::vector<float> steps;          // per integer row: its weight step
  std::vector<Block> blocks;
  std::vector<std::array<uint8_t, 64>> luts;  // per 4-bit scheme met: lut[c] for c < 16, repeated per 16-byte lane
  std::unique_ptr<uint8_t[], decltype(&std::free)> data{nullptr, &std::free};  // 64-byte aligned
  size_t bytes = 0;
};

// The layout above for the integer groups of w (null when w has none).
std::shared_ptr<const CpuPreparedLinear> cpu_prepare_vnni(const RowMixedLinear& w);

// Depthwise weights for the AVX-512 VNNI kernel (depthwise_acc_s8_vnni, gemm_s8.h): taps in pairs (2p, 2p + 1;
// an odd last tap pairs with a zero weight), channels in blocks of 32 (the last block zero padded). Per pair and
// block, 64 int16 = two zmm, "lo" then "hi"; dword lane i of lo holds (w[2p][c], w[2p + 1][c]) for channel
// c = c0 + i (i < 8) or c0 + 8 + i (i >= 8), of hi c = c0 + 8 + i (i < 8) or c0 + 16 + i (i >= 8): the order in
// which vpunpck{l,h}bw + vpmovsxbw interleave two taps' 32 input bytes, so the kernel shuffles activations only
// within 128-bit lanes and puts the channels back in order once per pixel. Offset of (pair p, block b):
// (b * pairs + p) * 64 int16.
struct CpuPreparedDepthwise : PreparedDepthwise {
  int64_t pairs = 0, blocks = 0;
  std::vector<int16_t> w;
};
std::shared_ptr<const CpuPreparedDepthwise> cpu_prepare_depthwise_vnni(const int8_t* w, int64_t taps, int64_t channels);

}  // namespace rmsmp
