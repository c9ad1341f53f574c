// Backend::prepare_grouped's default: a grouped conv's packed row groups unpacked once at load to int8 codes
// with per-row steps (or fp32 values) in original row order, depthwise layers transposed to tap-major [tap][c],
// and the backend's own depthwise layout made from that (prepare_depthwise).
#include "backends/backend.h"
#include "rmsmp/error.h"

namespace rmsmp {

PreparedGrouped Backend::prepare_grouped(const RowMixedLinear& L, int64_t depthwise_kh, const std::string& where) const {
  PreparedGrouped u;
  bool any_int = false, any_f32 = false;
  for (const RowGroup& g : L.groups) (quant_is_integer(g.kind) ? any_int : any_f32) = true;
  RMSMP_CHECK(!(any_int && any_f32), ErrorCode::Unsupported, where << ": a grouped conv mixes fp32 and integer rows");
  u.integer = !any_f32;
  const int64_t K = L.cols;
  if (u.integer) u.q.resize(size_t(L.rows * K)), u.step.resize(size_t(L.rows));
  else u.f.resize(size_t(L.rows * K));
  int64_t off = 0;
  for (const RowGroup& g : L.groups) {
    const size_t rb = quant_row_bytes(g.kind, K);
    for (int64_t j = 0; j < g.rows; ++j) {
      const int64_t r = L.perm[off + j];
      const uint8_t* row = g.codes + size_t(j) * rb;
      if (u.integer) {
        quant_scheme(g.kind).unpack_row(row, K, u.q.data() + r * K);
        u.step[size_t(r)] = g.steps[j];
      } else {
        const float* wr = reinterpret_cast<const float*>(row);
        std::copy(wr, wr + K, u.f.begin() + r * K);
      }
    }
    off += g.rows;
  }
  if (depthwise_kh <= 0 || K > kMaxDepthwiseTaps || K % depthwise_kh != 0) return u;
  const int64_t taps = K, C = L.rows;  // [c][tap] -> [tap][c]
  std::vector<int8_t> qt(u.q.size());
  std::vector<float> ft(u.f.size());
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < taps; ++t) {
      if (u.integer) qt[size_t(t * C + c)] = u.q[size_t(c * taps + t)];
      else ft[size_t(t * C + c)] = u.f[size_t(c * taps + t)];
    }
  u.q.swap(qt);
  u.f.swap(ft);
  u.tap_major = true;
  if (u.integer) u.prepared = prepare_depthwise(u.q.data(), depthwise_kh, taps / depthwise_kh, C);
  return u;
}

}  // namespace rmsmp
