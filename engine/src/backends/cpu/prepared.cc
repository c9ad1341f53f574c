// cpu_prepare_vnni: the file's packed rows -> the prepared VNNI layout (prepared.h). Plain code: it runs once
// per layer at load, and its only job is to move codes; decoding stays the scheme table's.
#include "backends/cpu/prepared.h"

#include <algorithm>
#include <cstring>
#include <new>

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
  const RowGroup* g;  // null: an fp32 row
  int64_t j;
  int32_t orig;       // its original row index
};

}  // namespace

std::shared_ptr<const CpuPreparedLinear> cpu_prepare_vnni(const RowMixedLinear& w, bool keep_nibbles, bool amx) {
  auto p = std::make_shared<CpuPreparedLinear>();
  p->isa = Isa::Avx512Vnni;
  const int64_t K = w.cols, Kp = gemm_k_padded(K, true, amx), kq = Kp / 4;
  p->k_padded = Kp;
  // Every original row's group and index in it (null group: fp32).
  std::vector<RowRef> by_orig(size_t(w.rows), RowRef{nullptr, 0, -1});
  std::vector<RowRef> side;  // 8-bit rows beside 4-bit ones, stored order
  std::vector<QuantKind> lut_kind;  // luts[i] decodes lut_kind[i]
  std::vector<uint8_t> zero_code;   // per lut: a code that decodes to 0 (holes and padding in nibble blocks)
  bool any_integer = false, has4 = false;
  for (const RowGroup& g : w.groups)
    if (quant_is_integer(g.kind)) {
      const QuantScheme& s = quant_scheme(g.kind);
      RMSMP_CHECK(s.values_per_byte == 1 || s.values_per_byte == 2, ErrorCode::Unsupported,
                  w.name << ": no prepared CPU layout for scheme " << s.name);
      any_integer = any_integer || g.rows > 0;
      has4 = has4 || (s.values_per_byte == 2 && g.rows > 0);
    }
  if (!any_integer) return nullptr;
  // Side rows pay a 16-row block of their own per layer: a quarter more work for a 64-row conv, double for a
  // 16-row one. Small layers (which are small in memory too) keep their 8-bit rows in place instead, in byte
  // blocks (any block holding one); large ones (every encoder layer) keep the half-byte layout.
  // Expanded at load (keep_nibbles false), every block is bytes: 8-bit rows stay in place, no side rows.
  const bool use_side = keep_nibbles && has4 && w.rows > CpuPreparedLinear::kSideMinRows;
  int64_t stored = 0;
  for (const RowGroup& g : w.groups) {
    const bool four = quant_is_integer(g.kind) && quant_scheme(g.kind).values_per_byte == 2;
    for (int64_t j = 0; j < g.rows; ++j) {
      const int32_t o = w.perm[stored + j];
      RMSMP_CHECK(o >= 0 && o < w.rows, ErrorCode::InvalidFile, w.name << ": row permutation out of range");
      if (quant_is_integer(g.kind)) by_orig[size_t(o)] = RowRef{&g, j, o};
      if (use_side && quant_is_integer(g.kind) && !four) side.push_back(RowRef{&g, j, o});
    }
    if (four && g.rows > 0 && std::find(lut_kind.begin(), lut_kind.end(), g.kind) == lut_kind.end()) {
      const QuantScheme& s = quant_scheme(g.kind);
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
    stored += g.rows;
  }
  // Main rows: 4-bit rows when the layer has side rows (the rest are holes), else every integer row.
  auto in_main = [&](const RowRef& r) {
    return r.g && (!use_side || quant_scheme(r.g->kind).values_per_byte == 2);
  };
  auto four_bit = [&](const RowRef& r) { return r.g && quant_scheme(r.g->kind).values_per_byte == 2; };
  p->rows = w.rows;
  p->side_rows = int64_t(side.size());
  for (int64_t r = 0; r < w.rows; ++r) {
    const RowRef& rr = by_orig[size_t(r)];
    p->orig.push_back(in_main(rr) ? int32_t(r) : -1);
    p->steps.push_back(in_main(rr) ? rr.g->steps[rr.j] : 0.f);
  }
  p->hole_side.assign(size_t(w.rows), -1);
  for (const RowRef& rr : side) {
    p->hole_side[size_t(rr.orig)] = int32_t(p->orig.size() - size_t(w.rows));
    p->orig.push_back(rr.orig);
    p->steps.push_back(rr.g->steps[rr.j]);
  }
  for (int64_t r = 0; r < w.rows; ++r) {
    const RowRef& rr = by_orig[size_t(r)];
    p->row_steps.push_back(rr.g ? rr.g->steps[rr.j] : 0.f);
  }
  const int64_t nb_main = p->main_blocks(), nb_side = (p->side_rows + 15) / 16;
  // Block forms first (sizes), then one allocation.
  p->blocks.resize(size_t(nb_main + nb_side));
  size_t bytes = 0;
  for (int64_t b = 0; b < nb_main + nb_side; ++b) {
    CpuPreparedLinear::Block& blk = p->blocks[size_t(b)];
    blk.offset = int64_t(bytes);
    bool nibbles = keep_nibbles && b < nb_main && has4;  // unless a main row of the block is 8-bit (small layers)
    for (int64_t r = b * 16; nibbles && r < std::min(p->rows, b * 16 + 16); ++r)
      nibbles = !in_main(by_orig[size_t(r)]) || four_bit(by_orig[size_t(r)]);
    if (nibbles) {
      // luts[lut[0]]: the first 4-bit row's scheme (holes and padding decode through it); one more per scheme.
      std::vector<int> met;
      for (int64_t r = b * 16; r < std::min(p->rows, b * 16 + 16); ++r) {
        const RowRef& rr = by_orig[size_t(r)];
        if (!in_main(rr)) continue;
        const int li = int(std::find(lut_kind.begin(), lut_kind.end(), rr.g->kind) - lut_kind.begin());
        if (std::find(met.begin(), met.end(), li) == met.end()) met.push_back(li);
      }
      if (met.empty()) met.push_back(0);
      RMSMP_CHECK(int(met.size()) <= CpuPreparedLinear::kMaxBlockLuts, ErrorCode::Unsupported,
                  w.name << ": more than " << CpuPreparedLinear::kMaxBlockLuts << " 4-bit schemes in 16 rows");
      blk.n_luts = int(met.size());
      for (size_t i = 0; i < met.size(); ++i) blk.lut[i] = met[i];
      for (int64_t r = b * 16; r < std::min(p->rows, b * 16 + 16); ++r) {
        const RowRef& rr = by_orig[size_t(r)];
        if (!in_main(rr)) continue;
        const int li = int(std::find(lut_kind.begin(), lut_kind.end(), rr.g->kind) - lut_kind.begin());
        for (int i = 1; i < blk.n_luts; ++i)  // row r % 16 is output bytes 4 (r % 16) .. + 3 of every quad
          if (blk.lut[i] == li) blk.mask[i] |= uint64_t(0xF) << (4 * (r % 16));
      }
      blk.mask[0] = ~uint64_t(0);
    }
    bytes += size_t(blk.n_luts > 0 ? 8 * Kp : 16 * Kp);  // multiples of 32 (Kp is a multiple of 4)
  }
  try {
    p->data = make_aligned_array<uint8_t>((bytes + 63) / 64 * 64);
  } catch (const std::bad_alloc&) {
    RMSMP_FAIL(ErrorCode::Internal, w.name << ": cannot allocate " << bytes << " bytes of prepared weights");
  }
  p->bytes = bytes;
  std::vector<int8_t> decoded(static_cast<size_t>(K));
  for (int64_t b = 0; b < nb_main + nb_side; ++b) {
    const CpuPreparedLinear::Block& blk = p->blocks[size_t(b)];
    uint8_t* dst = p->data.get() + blk.offset;
    const bool nib = blk.n_luts > 0;
    const uint8_t pad = nib ? zero_code[size_t(blk.lut[0])] : uint8_t(128);
    // The block's rows: codes for nibble blocks, decoded values (+128) for byte blocks; holes and padding: pad.
    std::vector<std::vector<uint8_t>> vals(16);
    for (int64_t i = 0; i < 16; ++i) {
      auto& v = vals[size_t(i)];
      const RowRef* rr = nullptr;
      if (b < nb_main) {
        const int64_t r = b * 16 + i;
        if (r < p->rows && in_main(by_orig[size_t(r)])) rr = &by_orig[size_t(r)];
      } else {
        const int64_t s = (b - nb_main) * 16 + i;
        if (s < p->side_rows) rr = &side[size_t(s)];
      }
      if (!rr) {
        v.assign(size_t(K), pad);
        continue;
      }
      const RowGroup& g = *rr->g;
      const uint8_t* row = g.codes + size_t(rr->j) * quant_row_bytes(g.kind, K);
      v.resize(size_t(K));
      if (nib) {
        for (int64_t k = 0; k < K; ++k) v[size_t(k)] = nibble_at(row, k);
      } else {
        quant_scheme(g.kind).unpack_row(row, K, decoded.data());
        for (int64_t k = 0; k < K; ++k) v[size_t(k)] = uint8_t(decoded[size_t(k)] + 128);
      }
    }
    for (int64_t q = 0; q < kq; ++q) {
      uint8_t quad[64];
      for (int i = 0; i < 64; ++i) {
        const int64_t k = 4 * q + i % 4;
        quad[i] = k < K ? vals[size_t(i / 4)][size_t(k)] : pad;
      }
      if (nib) {
        for (int m = 0; m < 32; ++m) *dst++ = uint8_t(quad[m] | (quad[m + 32] << 4));
      } else {
        std::memcpy(dst, quad, 64);
        dst += 64;
      }
    }
  }
  return p;
}

std::shared_ptr<const CpuPreparedDepthwise> cpu_prepare_depthwise_vnni(const int8_t* w, int64_t kh, int64_t kw,
                                                                       int64_t channels) {
  auto p = std::make_shared<CpuPreparedDepthwise>();
  const int64_t taps = kh * kw;
  p->taps = taps;
  p->kh = kh;
  p->kw = kw;
  p->vquads = (kh + 3) / 4;
  p->channels = channels;
  p->quads = (taps + 3) / 4;
  p->blocks = (channels + 63) / 64;
  p->w.assign(size_t(p->blocks * p->quads * 256), 0);
  p->comp.assign(size_t(p->blocks * 64), 0);
  auto at = [&](int64_t t, int64_t c) -> int8_t { return t < taps && c < channels ? w[t * channels + c] : 0; };
  for (int64_t b = 0; b < p->blocks; ++b)
    for (int64_t k = 0; k < 4; ++k)
      for (int64_t l = 0; l < 4; ++l)
        for (int64_t j = 0; j < 4; ++j) {
          const int64_t c = 64 * b + 16 * l + 4 * k + j, lane = 16 * k + 4 * l + j;  // dword index in the block
          int32_t sum = 0;
          for (int64_t q = 0; q < p->quads; ++q)
            for (int64_t i = 0; i < 4; ++i) {
              const int8_t v = at(4 * q + i, c);
              p->w[size_t((b * p->quads + q) * 256 + 4 * lane + i)] = v;
              sum += v;
            }
          p->comp[size_t(b * 64 + lane)] = -128 * sum;
        }
  // The column quads (prepared.h): the same dword of the same lane, taps (4 g + i, kx).
  p->wcol.assign(size_t(p->blocks * kw * p->vquads * 256), 0);
  for (int64_t b = 0; b < p->blocks; ++b)
    for (int64_t k = 0; k < 4; ++k)
      for (int64_t l = 0; l < 4; ++l)
        for (int64_t j = 0; j < 4; ++j) {
          const int64_t c = 64 * b + 16 * l + 4 * k + j, lane = 16 * k + 4 * l + j;
          for (int64_t kx = 0; kx < kw; ++kx)
            for (int64_t g = 0; g < p->vquads; ++g)
              for (int64_t i = 0; i < 4; ++i) {
                const int64_t ky = 4 * g + i;
                p->wcol[size_t(((b * kw + kx) * p->vquads + g) * 256 + 4 * lane + i)] = ky < kh ? at(ky * kw + kx, c) : 0;
              }
        }
  return p;
}

}  // namespace rmsmp
