// The scheme table and its reference (`*_ref`) quantize / pack / unpack / dot functions: the spec, in code.
// Never tuned: fast kernels elsewhere are tested bit-exactly against these.
#include <cmath>
#include <cstring>
#include <string_view>

#include "rmsmp/error.h"
#include "rmsmp/quant.h"

namespace rmsmp {
namespace {

// Round half away from zero (std::lround's rule), stated here because kernels must match it.
inline int round_half_away(float v) { return static_cast<int>(std::lround(v)); }

// ---- fixed-point -------------------------------------------------------------------------------
template <int kMax>
void fixed_quantize_row_ref(const float* src, int64_t n, float step, int8_t* dst) {
  if (step <= 0.f) {
    std::memset(dst, 0, static_cast<size_t>(n));
    return;
  }
  const float inv = 1.f / step;
  for (int64_t i = 0; i < n; ++i) {
    int q = round_half_away(src[i] * inv);
    dst[i] = static_cast<int8_t>(q > kMax ? kMax : (q < -kMax ? -kMax : q));
  }
}

void fixed8_pack_row_ref(const int8_t* src, int64_t n, uint8_t* dst) { std::memcpy(dst, src, static_cast<size_t>(n)); }
void fixed8_unpack_row_ref(const uint8_t* src, int64_t n, int8_t* dst) { std::memcpy(dst, src, static_cast<size_t>(n)); }

int32_t int8_dot_ref(const int8_t* a, const int8_t* b, int64_t n) {
  int32_t acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
  return acc;
}
int32_t fixed8_dot_row_ref(const uint8_t* packed, const int8_t* x, int64_t n) {
  return int8_dot_ref(reinterpret_cast<const int8_t*>(packed), x, n);
}

// ---- nibble access shared by the two 4-bit schemes --------------------------------------------
inline uint8_t nibble_at(const uint8_t* src, int64_t i) { return (src[i / 2] >> ((i & 1) * 4)) & 0xF; }

// fixed4: nibble is the 4-bit two's complement of q.
inline int8_t fixed4_decode(uint8_t nib) { return static_cast<int8_t>(nib & 0x8 ? int(nib) - 16 : int(nib)); }
void fixed4_pack_row_ref(const int8_t* src, int64_t n, uint8_t* dst) {
  for (int64_t i = 0; i < n; i += 2) {
    uint8_t lo = static_cast<uint8_t>(src[i]) & 0xF;
    uint8_t hi = (i + 1 < n) ? (static_cast<uint8_t>(src[i + 1]) & 0xF) : 0;
    dst[i / 2] = static_cast<uint8_t>(lo | (hi << 4));
  }
}
void fixed4_unpack_row_ref(const uint8_t* src, int64_t n, int8_t* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fixed4_decode(nibble_at(src, i));
}

// pot4: q in {0, +-2^0 .. +-2^6}; nibble = sign<<3 | e, |q| = 2^(e-1) for e >= 1.
inline int8_t pot4_decode(uint8_t nib) {
  int e = nib & 7;
  int mag = e == 0 ? 0 : (1 << (e - 1));
  return static_cast<int8_t>(nib & 8 ? -mag : mag);
}
inline uint8_t pot4_encode(int8_t q) {
  if (q == 0) return 0;
  int mag = q < 0 ? -q : q;
  int e = 1;
  while ((1 << (e - 1)) < mag) ++e;  // q is a power of two by construction
  return static_cast<uint8_t>((q < 0 ? 8 : 0) | e);
}

// Nearest level in the linear domain (not round(log2)): levels 0,1,2,4,...,64 in units of step.
// Decision thresholds are the midpoints 0.5, 1.5, 3, 6, 12, 24, 48; a value exactly on a midpoint goes to
// the larger magnitude (half away from zero, like the fixed-point schemes).
void pot4_quantize_row_ref(const float* src, int64_t n, float step, int8_t* dst) {
  if (step <= 0.f) {
    std::memset(dst, 0, static_cast<size_t>(n));
    return;
  }
  static constexpr float kMid[7] = {0.5f, 1.5f, 3.f, 6.f, 12.f, 24.f, 48.f};
  const float inv = 1.f / step;
  for (int64_t i = 0; i < n; ++i) {
    float a = std::fabs(src[i] * inv);
    int mag = 0;
    for (int l = 0; l < 7; ++l)
      if (a >= kMid[l]) mag = 1 << l;
    dst[i] = static_cast<int8_t>(src[i] < 0 ? -mag : mag);
  }
}
void pot4_pack_row_ref(const int8_t* src, int64_t n, uint8_t* dst) {
  for (int64_t i = 0; i < n; i += 2) {
    uint8_t lo = pot4_encode(src[i]), hi = (i + 1 < n) ? pot4_encode(src[i + 1]) : 0;
    dst[i / 2] = static_cast<uint8_t>(lo | (hi << 4));
  }
}
void pot4_unpack_row_ref(const uint8_t* src, int64_t n, int8_t* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = pot4_decode(nibble_at(src, i));
}

// 4-bit dots decode one value at a time: clarity over speed (this is the oracle).
int32_t fixed4_dot_row_ref(const uint8_t* packed, const int8_t* x, int64_t n) {
  int32_t acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += int32_t(fixed4_decode(nibble_at(packed, i))) * x[i];
  return acc;
}
// The PoT dot uses shifts only, as the FPGA's LUT core does: |q| * x == x << (e-1).
int32_t pot4_dot_row_ref(const uint8_t* packed, const int8_t* x, int64_t n) {
  int32_t acc = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint8_t nib = nibble_at(packed, i);
    int e = nib & 7;
    if (e == 0) continue;
    int32_t t = int32_t(x[i]) * (1 << (e - 1));  // == x << (e-1) without UB for negative x
    acc += (nib & 8) ? -t : t;
  }
  return acc;
}

// ---- fp32 passthrough (packed bytes are the floats; integer functions are not used) ------------
void f32_no_quantize(const float*, int64_t, float, int8_t*) {}
void f32_no_pack(const int8_t*, int64_t, uint8_t*) {}
void f32_no_unpack(const uint8_t*, int64_t, int8_t*) {}
int32_t f32_no_dot(const uint8_t*, const int8_t*, int64_t) { return 0; }

}  // namespace

// nmse_tol: measured NMSE of quantize->dequantize on N(0,1) rows of 4096 values with max-abs clip, with
// margin: fixed8 ~1e-4, fixed4 ~2.2e-2, pot4 ~4e-2 (PoT-4's levels are coarse near alpha/2).
const QuantScheme kQuantSchemes[] = {
    {"fp32", QuantKind::F32, SchemeFamily::Float, 32, 0, 0, 0.0, f32_no_quantize, f32_no_pack, f32_no_unpack, f32_no_dot},
    {"fixed8", QuantKind::Fixed8, SchemeFamily::FixedPoint, 8, 1, 127, 3e-4, fixed_quantize_row_ref<127>,
     fixed8_pack_row_ref, fixed8_unpack_row_ref, fixed8_dot_row_ref},
    {"fixed4", QuantKind::Fixed4, SchemeFamily::FixedPoint, 4, 2, 7, 4e-2, fixed_quantize_row_ref<7>,
     fixed4_pack_row_ref, fixed4_unpack_row_ref, fixed4_dot_row_ref},
    {"pot4", QuantKind::Pow2x4, SchemeFamily::PowerOfTwo, 4, 2, 64, 8e-2, pot4_quantize_row_ref,
     pot4_pack_row_ref, pot4_unpack_row_ref, pot4_dot_row_ref},
};
static_assert(sizeof(kQuantSchemes) / sizeof(kQuantSchemes[0]) == static_cast<size_t>(QuantKind::Count),
              "kQuantSchemes needs exactly one row per QuantKind");

std::optional<QuantKind> quant_kind_from_name(std::string_view name) {
  for (const auto& s : kQuantSchemes)
    if (name == s.name) return s.kind;
  return std::nullopt;
}

size_t quant_row_bytes(QuantKind kind, int64_t n) {
  const QuantScheme& s = quant_scheme(kind);
  if (s.values_per_byte == 0) return static_cast<size_t>(n) * 4;
  return static_cast<size_t>((n + s.values_per_byte - 1) / s.values_per_byte);
}

double quant_row_sq_error(QuantKind kind, const float* w, int64_t n, float step) {
  const QuantScheme& s = quant_scheme(kind);
  double err = 0;
  int8_t q[256];
  for (int64_t i0 = 0; i0 < n; i0 += 256) {
    int64_t m = n - i0 < 256 ? n - i0 : 256;
    s.quantize_row(w + i0, m, step, q);
    for (int64_t i = 0; i < m; ++i) {
      double d = double(w[i0 + i]) - double(step) * q[i];
      err += d * d;
    }
  }
  return err;
}

float quant_row_step(QuantKind kind, const float* w, int64_t n, ClipMode clip) {
  const QuantScheme& s = quant_scheme(kind);
  RMSMP_CHECK(quant_is_integer(kind), ErrorCode::InvalidArgument, "quant_row_step: scheme " << s.name << " has no step");
  float amax = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    RMSMP_CHECK(std::isfinite(w[i]), ErrorCode::InvalidArgument, "row holds a NaN or Inf value at column " << i);
    amax = std::fmax(amax, std::fabs(w[i]));
  }
  if (amax == 0.f) return 0.f;
  float best = amax / float(s.max_q);
  if (clip == ClipMode::MaxAbs) return best;
  // Grid search alpha = amax * f, f = 1.00, 0.99, ..., 0.30: deterministic and cheap (rows are short).
  double best_err = quant_row_sq_error(kind, w, n, best);
  for (int i = 1; i <= 70; ++i) {
    float step = amax * (1.f - 0.01f * float(i)) / float(s.max_q);
    double err = quant_row_sq_error(kind, w, n, step);
    if (err < best_err) best_err = err, best = step;
  }
  return best;
}

float quant_quantize_pack_row_ref(QuantKind kind, const float* w, int64_t n, ClipMode clip, uint8_t* dst) {
  if (kind == QuantKind::F32) {
    std::memcpy(dst, w, static_cast<size_t>(n) * 4);
    return 1.f;
  }
  const float step = quant_row_step(kind, w, n, clip);
  quant_quantize_pack_row_with_step_ref(kind, w, n, step, dst);
  return step;
}

void quant_quantize_pack_row_with_step_ref(QuantKind kind, const float* w, int64_t n, float step, uint8_t* dst) {
  if (kind == QuantKind::F32) {
    std::memcpy(dst, w, static_cast<size_t>(n) * 4);
    return;
  }
  const QuantScheme& s = quant_scheme(kind);
  int8_t q[256];
  // Pack in chunks of 256 (even, so nibble pairs never straddle chunks).
  for (int64_t i0 = 0; i0 < n; i0 += 256) {
    int64_t m = n - i0 < 256 ? n - i0 : 256;
    s.quantize_row(w + i0, m, step, q);
    s.pack_row(q, m, dst + quant_row_bytes(kind, i0));
  }
}

void quant_dequantize_row_ref(QuantKind kind, const uint8_t* packed, int64_t n, float step, float* dst) {
  if (kind == QuantKind::F32) {
    std::memcpy(dst, packed, static_cast<size_t>(n) * 4);
    return;
  }
  const QuantScheme& s = quant_scheme(kind);
  int8_t q[256];
  for (int64_t i0 = 0; i0 < n; i0 += 256) {
    int64_t m = n - i0 < 256 ? n - i0 : 256;
    s.unpack_row(packed + quant_row_bytes(kind, i0), m, q);
    for (int64_t i = 0; i < m; ++i) dst[i0 + i] = step * float(q[i]);
  }
}

}  // namespace rmsmp
