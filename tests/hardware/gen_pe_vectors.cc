// Writes the vector file tb_row.v reads: rows quantized and packed by the engine's scheme table, activations
// of ACT_BITS, and the expected accumulator from the scheme's reference dot product (quant_schemes.cc), plus
// the requantized output y = (acc * m + 2^15) >> 16. Random rows and edge rows (all extremes, all zeros).
// Usage: gen_pe_vectors SCHEME(pot4|fixed4|fixed8) ACT_BITS OUT.hex
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "rmsmp/quant.h"

using namespace rmsmp;

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const auto kind = quant_kind_from_name(argv[1]);
  const int act_bits = std::atoi(argv[2]);
  if (!kind || (act_bits != 4 && act_bits != 8)) return 2;
  const QuantScheme& s = quant_scheme(*kind);
  const int lanes = 16, chunks = 6, K = lanes * chunks, max_x = (1 << (act_bits - 1)) - 1;
  const int cw = s.bits, code_words = lanes * cw / 32, x_words = lanes * act_bits / 32;
  std::mt19937_64 rng(7);
  std::normal_distribution<float> nd;
  std::uniform_int_distribution<int> ux(-max_x, max_x);
  std::uniform_int_distribution<int32_t> um(-(1 << 20), 1 << 20);
  std::vector<uint32_t> out;
  const int n_cases = 300;
  out.push_back(uint32_t(n_cases));
  out.push_back(uint32_t(chunks));
  for (int c = 0; c < n_cases; ++c) {
    std::vector<float> w(K);
    std::vector<int8_t> x(K);
    for (int k = 0; k < K; ++k) {
      w[size_t(k)] = nd(rng);
      x[size_t(k)] = int8_t(ux(rng));
    }
    // Edges: the largest positive and negative sums (every weight at its extreme code, x at +max or -max),
    // all-zero activations, all-zero weights, and extremes with mixed signs.
    if (c < 5) {
      for (int k = 0; k < K; ++k) {
        w[size_t(k)] = c == 3 ? 0.f : (c == 4 && k % 3 == 0 ? -1.f : 1.f);
        x[size_t(k)] = int8_t(c == 2 ? 0 : (c == 1 || (c == 4 && k % 2 == 0) ? -max_x : max_x));
      }
    }
    std::vector<uint8_t> row(quant_row_bytes(*kind, K));
    quant_quantize_pack_row_ref(*kind, w.data(), K, ClipMode::MaxAbs, row.data());
    const int32_t acc = s.dot_row(row.data(), x.data(), K);
    const int32_t m = c < 5 ? (1 << 16) : um(rng);
    const int64_t y = (int64_t(acc) * m + (int64_t(1) << 15)) >> 16;  // arithmetic shift (floor)
    out.push_back(uint32_t(m));
    out.push_back(uint32_t(acc));
    out.push_back(uint32_t(uint64_t(y)));
    out.push_back(uint32_t(uint64_t(y) >> 32));
    for (int ch = 0; ch < chunks; ++ch) {
      const uint8_t* b = row.data() + size_t(ch) * size_t(lanes * cw / 8);
      for (int wd = 0; wd < code_words; ++wd)
        out.push_back(uint32_t(b[4 * wd]) | uint32_t(b[4 * wd + 1]) << 8 | uint32_t(b[4 * wd + 2]) << 16 |
                      uint32_t(b[4 * wd + 3]) << 24);
      for (int wd = 0; wd < x_words; ++wd) {
        uint32_t v = 0;
        const int per = 32 / act_bits;
        for (int l = 0; l < per; ++l)
          v |= (uint32_t(x[size_t(ch * lanes + wd * per + l)]) & ((1u << act_bits) - 1)) << (l * act_bits);
        out.push_back(v);
      }
    }
  }
  FILE* f = std::fopen(argv[3], "w");
  if (!f) return 1;
  for (uint32_t v : out) std::fprintf(f, "%08x\n", v);
  std::fclose(f);
  return 0;
}
