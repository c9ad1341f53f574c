// AMX int8 GEMM over the VNNI panel layout (gemm_s8.h): the prepared byte blocks are already AMX's B-tile
// format. A block's quad q is 64 bytes, byte 4n + i = row n's weight + 128 at k = 4q + i, and a B tile is
// K/4 rows of 16 columns x 4 consecutive k: sixteen consecutive quads are one 16 x 64-byte B tile, read in place
// with a 64-byte stride. The activations (signed, k contiguous per token) are the A tile as they are, so
// TDPBSUD (signed A x unsigned B, int32 sums, no saturation) gives sum x (w + 128) per token and row: the VNNI
// kernel's sums, compensated and finished by the same emit_half. Exact: every product and partial sum is an
// integer that int32 holds (|x| <= 127, w + 128 <= 255, K < 2^16).
//
// Per call (one tile of up to 32 rows, every token): tokens in pairs of 16-token blocks (a last partial block
// from a zero-padded copy), K in steps of 64 on the tiles. K must be a multiple of 64 (the driver pads it so,
// gemm_k_padded with amx); other calls go to the VNNI kernel.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cpuid.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa/epilogue_avx512.h"

namespace rmsmp {

namespace {
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
}  // namespace

bool amx_usable() {
  static const bool ok = [] {
    const char* e = std::getenv("RMSMP_CPU_AMX");
    if (e && std::string(e) == "0") return false;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const bool tile = d & (1u << 24), int8 = d & (1u << 25);
    if (!tile || !int8) return false;
    // Linux gives a process the AMX register state only on request (arch_prctl ARCH_REQ_XCOMP_PERM for
    // XFEATURE_XTILEDATA); it applies to every thread of the process. Refused (an old kernel, a sandbox): no AMX.
    constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return ok;
}

namespace {
// Blocks of NB x 16 tokens (NB = 1 or 2) over the 64-byte k steps: tiles 0..3 are C[block][half], 4 and 5 A of
// each block, 6 and 7 B of each half, so each B tile loaded serves NB blocks. Then emit_half.
template <int NB>
void token_blocks(const GemmS8Args& a, const int8_t* const* xp, const int64_t* nt, int64_t t, bool two,
                  const uint8_t* w0, const uint8_t* w1, __mmask16 m0, __mmask16 m1) {
  const int64_t Kp = a.k_padded, full = Kp / 64;
  _tile_zero(0);
  _tile_zero(1);
  if (NB == 2) {
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t kc = 0; kc < full; ++kc) {
    _tile_loadd(6, w0 + kc * 1024, 64);
    _tile_loadd(4, xp[0] + kc * 64, Kp);
    _tile_dpbsud(0, 4, 6);
    if (NB == 2) {
      _tile_loadd(5, xp[1] + kc * 64, Kp);
      _tile_dpbsud(2, 5, 6);
    }
    if (two) {
      _tile_loadd(7, w1 + kc * 1024, 64);
      _tile_dpbsud(1, 4, 7);
      if (NB == 2) _tile_dpbsud(3, 5, 7);
    }
  }
  alignas(64) int32_t cbuf[2][2][16][16];  // [block][half][token][row]
  _tile_stored(0, cbuf[0][0], 64);
  if (two) _tile_stored(1, cbuf[0][1], 64);
  if (NB == 2) {
    _tile_stored(2, cbuf[1][0], 64);
    if (two) _tile_stored(3, cbuf[1][1], 64);
  }
  for (int b = 0; b < NB; ++b)
    for (int h = 0; h < (two ? 2 : 1); ++h) {
      __m512i c[16];
      for (int i = 0; i < nt[b]; ++i) c[i] = _mm512_load_si512(cbuf[b][h][i]);
      emit_half(a, 16 * h, t + 16 * b, int(nt[b]), c, h ? m1 : m0);
    }
}
}  // namespace

void gemm_s8_amx(const GemmS8Args& a) {
  const int64_t Kp = a.k_padded, T = a.n_tokens;
  // K under 64 stays on vpdpbusd: tiles configured K bytes wide made EfficientNet-Lite0's 16-40-channel 1x1
  // convs and its stem 10-27% slower (per-node minima, one thread).
  if (T < 16 || Kp % 64 != 0 || a.nib[0] || a.nib[1]) return gemm_s8_avx512vnni(a);
  const bool two = a.n_rows > 16;
  const uint8_t* w0 = reinterpret_cast<const uint8_t*>(a.w);
  const uint8_t* w1 = two ? (a.w_hi ? reinterpret_cast<const uint8_t*>(a.w_hi) : w0 + 16 * Kp) : w0;
  TileConfig cfg;
  for (int i = 0; i < 8; ++i) cfg.rows[i] = 16, cfg.colsb[i] = 64;
  _tile_loadconfig(&cfg);
  thread_local std::vector<int8_t> pad;  // the last block's tokens, zero padded to 16 rows
  const __mmask16 m0 = __mmask16((1u << std::min<int64_t>(16, a.n_rows)) - 1);
  const __mmask16 m1 = two ? __mmask16((1u << std::min<int64_t>(16, a.n_rows - 16)) - 1) : 0;
  for (int64_t t = 0; t < T; t += 32) {
    const int nb = T - t > 16 ? 2 : 1;
    const int8_t* xp[2];
    int64_t nt[2] = {0, 0};
    for (int b = 0; b < nb; ++b) {
      nt[b] = std::min<int64_t>(16, T - t - 16 * b);
      xp[b] = a.x + (t + 16 * b) * Kp;
      if (nt[b] < 16) {
        pad.assign(size_t(16 * Kp), 0);
        std::memcpy(pad.data(), xp[b], size_t(nt[b] * Kp));
        xp[b] = pad.data();
      }
    }
    if (nb == 2) token_blocks<2>(a, xp, nt, t, two, w0, w1, m0, m1);
    else token_blocks<1>(a, xp, nt, t, two, w0, w1, m0, m1);
  }
}

}  // namespace rmsmp
