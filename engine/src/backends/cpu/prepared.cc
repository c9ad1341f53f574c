// cpu_prepare_vnni: the file's packed rows -> the prepared VNNI layout (prepared.h). Plain code: it runs once
// per layer at load, and its only job is to move codes; decoding stays the scheme table's.
#include "backends/cpu/prepared.h"

#include <cstring>

#include "backends/cpu/gemm_s8.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {

// The code of element k of a packed 4-bit row (quant.h: element 2i in the low nibble of byte i).
inline uint8_t nibble_at(const uint8_t* row, int64_t k) {
  const uint8_t b = row[k >> 1];
  return (k & 1) ? uint8_t(b >> 4) : uint8_t(b & 0x0F);
}

}  // namespace

std::shared_ptr<const CpuPreparedLinear> cpu_prepare_vnni(const RowMixedLinear& w) {
  auto p = std::make_shared<CpuPreparedLinear>();
  p->isa = Isa::Avx512Vnni;
  const int64_t K = w.cols, Kp = (K + kGemmKAlign - 1) / kGemmKAlign * kGemmKAlign, kq = Kp / 4;
  p->k_padded = Kp;
  p->groups.resize(w.groups.size());
  for (size_t gi = 0; gi < w.groups.size(); ++gi) {
    const RowGroup& g = w.groups[gi];
    if (!quant_is_integer(g.kind) || g.rows == 0) continue;
    const QuantScheme& s = quant_scheme(g.kind);
    CpuPreparedLinear::Group& pg = p->groups[gi];
    RMSMP_CHECK(s.values_per_byte == 1 || s.values_per_byte == 2, ErrorCode::Unsupported,
                w.name << ": no prepared CPU layout for scheme " << s.name);
    pg.nibbles = s.values_per_byte == 2;
    pg.block_bytes = pg.nibbles ? 8 * Kp : 16 * Kp;
    const int64_t blocks = (g.rows + 15) / 16;
    const size_t bytes = size_t(blocks * pg.block_bytes);  // a multiple of 64 (Kp is)
    pg.data.reset(static_cast<uint8_t*>(std::aligned_alloc(64, bytes)));
    RMSMP_CHECK(pg.data, ErrorCode::Internal, w.name << ": cannot allocate " << bytes << " bytes of prepared weights");
    const size_t rb = quant_row_bytes(g.kind, K);
    uint8_t zero_code = 128;  // the byte that decodes to w = 0 in this layout
    if (pg.nibbles) {
      zero_code = 0xFF;
      for (int c = 0; c < 16; ++c) {
        const uint8_t packed = uint8_t(c);
        int8_t q = 0;
        s.unpack_row(&packed, 1, &q);  // low nibble = element 0
        for (int lane = 0; lane < 4; ++lane) pg.lut[16 * lane + c] = uint8_t(q + 128);
        if (q == 0 && zero_code == 0xFF) zero_code = uint8_t(c);
      }
      RMSMP_CHECK(zero_code != 0xFF, ErrorCode::Unsupported, s.name << ": no 4-bit code decodes to zero");
    }
    uint8_t* dst = pg.data.get();
    for (int64_t b = 0; b < blocks; ++b)
      for (int64_t q = 0; q < kq; ++q) {
        uint8_t quad[64];
        for (int i = 0; i < 64; ++i) {
          const int64_t r = b * 16 + i / 4, k = 4 * q + i % 4;
          if (r >= g.rows || k >= K) {
            quad[i] = zero_code;
            continue;
          }
          const uint8_t* row = g.codes + size_t(r) * rb;
          quad[i] = pg.nibbles ? nibble_at(row, k) : uint8_t(int8_t(row[k]) + 128);
        }
        if (pg.nibbles) {
          for (int m = 0; m < 32; ++m) *dst++ = uint8_t(quad[m] | (quad[m + 32] << 4));
        } else {
          std::memcpy(dst, quad, 64);
          dst += 64;
        }
      }
  }
  return p;
}

}  // namespace rmsmp
