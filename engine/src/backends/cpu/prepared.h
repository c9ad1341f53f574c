// CPU load-time weight layouts (Backend::prepare): the AVX-512 VNNI kernel's panel order, made once at load so
// that a forward neither unpacks rows nor transposes them (before, every call gathered each 4-bit panel into
// VNNI order). 4-bit groups stay 4-bit (same bytes per weight as the file, plus padding), so resident weight
// memory does not grow once the file's own pages are released.
//
// Layout of one prepared group (integer groups only; k_padded = cols rounded up to kGemmKAlign):
//   blocks of 16 stored rows (the last block padded with zero weights), each k_padded / 4 "quads" of
//   16 rows x 4 consecutive k values; output byte i of a quad is row i / 4, k = 4 q + i % 4, as q + 128 (uint8),
//   which is exactly the VNNI panel of gemm_s8.h.
//   8-bit schemes: each quad is those 64 bytes (block_bytes = 16 * k_padded), read by the kernel in place.
//   4-bit schemes: each quad is 32 bytes: byte m holds output byte m's code in its low nibble and output byte
//     m + 32's in its high nibble (block_bytes = 8 * k_padded); lut[code] = q + 128 from the scheme table's
//     reference unpack, so any code a file holds decodes exactly as the reference decodes it.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "backends/cpu/isa.h"
#include "quant/row_mixed.h"

namespace rmsmp {

struct CpuPreparedLinear : PreparedLinear {
  struct Group {
    std::unique_ptr<uint8_t[], decltype(&std::free)> data{nullptr, &std::free};  // 64-byte aligned
    int64_t block_bytes = 0;
    bool nibbles = false;
    alignas(64) uint8_t lut[64] = {};  // lut[c] for c < 16, repeated in each 16-byte lane (vpshufb)
  };
  Isa isa = Isa::Generic;
  int64_t k_padded = 0;
  std::vector<Group> groups;  // parallel to RowMixedLinear::groups (fp32 groups stay empty)
};

// The VNNI layout above for every integer group of w.
std::shared_ptr<const CpuPreparedLinear> cpu_prepare_vnni(const RowMixedLinear& w);

}  // namespace rmsmp
