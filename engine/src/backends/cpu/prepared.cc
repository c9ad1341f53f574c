// cpu_prepare_vnni: the file's packed rows -> the prepared VNNI layout (prepared.h). Plain code: it runs once
// per layer at load, and its only job is to move codes; decoding stays the scheme table's.
#include "backends/cpu/prepared.h"

#include <algorithm>
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

// One integer row as the layout sees it: its group and its index in the group.
struct RowRef {
  const RowGroup* g;
  int64_t j;
};

}  // namespace

std::shared_ptr<const CpuPreparedLinear> cpu_prepare_vnni(const RowMixedLinear& w) {
  auto p = std::make_shared<CpuPreparedLinear>();
  p->isa = Isa::Avx512Vnni;
  const int64_t K = w.cols, Kp = gemm_k_padded(K, true), kq = Kp / 4;
  p->k_padded = Kp;
  std::vector<RowRef> rows;
  std::vector<QuantKind> lut_kind;  // luts[i] decodes lut_kind[i]
  std::vector<uint8_t> zero_code;   // per lut: a code that decodes to 0 (padding in nibble blocks)
  int64_t stored = 0;
  for (const RowGroup& g : w.groups) {
    if (quant_is_integer(g.kind)) {
      const QuantScheme& s = quant_scheme(g.kind);
      RMSMP_CHECK(s.values_per_byte == 1 || s.values_per_byte == 2, ErrorCode::Unsupported,
                  w.name << ": no prepared CPU layout for scheme " << s.name);
      for (int64_t j = 0; j < g.rows; ++j) {
        rows.push_back({&g, j});
        p->orig.push_back(w.perm[stored + j]);
        p->steps.push_back(g.steps[j]);
      }
      if (s.values_per_byte == 2 && std::find(lut_kind.begin(), lut_kind.end(), g.kind) == lut_kind.end()) {
        std::array<uint8_t, 64> lut{};
        int zc = -1;
        for (int c = 0; c < 16; ++c) {
          const uint8_t packed = uint8_t(c);
          int8_t q = 0;
          s.unpack_row(&packed, 1, &q);  // low nibble = element 0
          for (int lane = 0; lane < 4; ++lane) lut[size_t(16 * lane + c)] = uint8_t(q + 128);
          if (q == 0 && zc < 0) zc = c;
        }
        RMSMP_CHECK(zc >= 0, ErrorCode::Unsupported, s.name << ": no 4-bit code decodes to zero");
        lut_kind.push_back(g.kind);
        zero_code.push_back(uint8_t(zc));
        p->luts.push_back(lut);
      }
    }
    stored += g.rows;
  }
  if (rows.empty()) return nullptr;
  p->rows = int64_t(rows.size());
  const int64_t nb = (p->rows + 15) / 16;
  // Block forms first (sizes), then one allocation.
  p->blocks.resize(size_t(nb));
  size_t bytes = 0;
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t r0 = b * 16, r1 = std::min(p->rows, r0 + 16);
    const QuantKind k0 = rows[size_t(r0)].g->kind;
    bool same = true;
    for (int64_t r = r0; r < r1; ++r) same = same && rows[size_t(r)].g->kind == k0;
    CpuPreparedLinear::Block& blk = p->blocks[size_t(b)];
    blk.offset = int64_t(bytes);
    if (same && quant_scheme(k0).values_per_byte == 2)
      blk.lut = int(std::find(lut_kind.begin(), lut_kind.end(), k0) - lut_kind.begin());
    bytes += size_t(blk.lut >= 0 ? 8 * Kp : 16 * Kp);  // multiples of 32 (Kp is a multiple of 4)
  }
  p->data.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  RMSMP_CHECK(p->data, ErrorCode::Internal, w.name << ": cannot allocate " << bytes << " bytes of prepared weights");
  p->bytes = bytes;
  std::vector<int8_t> decoded(static_cast<size_t>(K));
  for (int64_t b = 0; b < nb; ++b) {
    const CpuPreparedLinear::Block& blk = p->blocks[size_t(b)];
    uint8_t* dst = p->data.get() + blk.offset;
    // The block's rows: codes for nibble blocks, decoded values (+128) for byte blocks.
    std::vector<std::vector<uint8_t>> vals(16);
    for (int64_t i = 0; i < 16; ++i) {
      const int64_t r = b * 16 + i;
      auto& v = vals[size_t(i)];
      if (r >= p->rows) {
        v.assign(size_t(K), blk.lut >= 0 ? zero_code[size_t(blk.lut)] : uint8_t(128));
        continue;
      }
      const RowGroup& g = *rows[size_t(r)].g;
      const uint8_t* row = g.codes + size_t(rows[size_t(r)].j) * quant_row_bytes(g.kind, K);
      v.resize(size_t(K));
      if (blk.lut >= 0) {
        for (int64_t k = 0; k < K; ++k) v[size_t(k)] = nibble_at(row, k);
      } else {
        quant_scheme(g.kind).unpack_row(row, K, decoded.data());
        for (int64_t k = 0; k < K; ++k) v[size_t(k)] = uint8_t(decoded[size_t(k)] + 128);
      }
    }
    const uint8_t pad = blk.lut >= 0 ? zero_code[size_t(blk.lut)] : uint8_t(128);
    for (int64_t q = 0; q < kq; ++q) {
      uint8_t quad[64];
      for (int i = 0; i < 64; ++i) {
        const int64_t k = 4 * q + i % 4;
        quad[i] = k < K ? vals[size_t(i / 4)][size_t(k)] : pad;
      }
      if (blk.lut >= 0) {
        for (int m = 0; m < 32; ++m) *dst++ = uint8_t(quad[m] | (quad[m + 32] << 4));
      } else {
        std::memcpy(dst, quad, 64);
        dst += 64;
      }
    }
  }
  return p;
}

std::shared_ptr<const CpuPreparedDepthwise> cpu_prepare_depthwise_vnni(const int8_t* w, int64_t taps,
                                                                       int64_t channels) {
  auto p = std::make_shared<CpuPreparedDepthwise>();
  p->taps = taps;
  p->channels = channels;
  p->pairs = (taps + 1) / 2;
  p->blocks = (channels + 31) / 32;
  p->w.assign(size_t(p->blocks * p->pairs * 64), 0);
  auto at = [&](int64_t t, int64_t c) -> int16_t { return t < taps && c < channels ? w[t * channels + c] : 0; };
  for (int64_t b = 0; b < p->blocks; ++b)
    for (int64_t q = 0; q < p->pairs; ++q) {
      int16_t* dst = p->w.data() + (b * p->pairs + q) * 64;
      for (int half = 0; half < 2; ++half)
        for (int64_t i = 0; i < 16; ++i) {
          const int64_t c = b * 32 + (i < 8 ? i : i + 8) + 8 * half;
          dst[32 * half + 2 * i] = at(2 * q, c);
          dst[32 * half + 2 * i + 1] = at(2 * q + 1, c);
        }
    }
  return p;
}

}  // namespace rmsmp
