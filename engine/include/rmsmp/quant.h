// The RMSMP scheme table: every weight-row quantization scheme, its parameters and reference functions.
// This table is the single source of truth: packing, kernels, tests and benchmarks all loop over it.
//
// Integer convention (all integer schemes): a quantized row r is `w[r][k] ~= step_r * q[r][k]` with
// q an int8 value, so every integer scheme runs through the same int8 x int8 -> int32 dot product.
//   fixed8 : q in [-127, 127],                 step = alpha / 127          (8-bit fixed-point, DSP row)
//   fixed4 : q in [-7, 7],                     step = alpha / 7            (4-bit fixed-point, DSP row)
//   pot4   : q in {0, +-1, +-2, ..., +-64},    step = alpha / 64           (4-bit power-of-two, shift row)
// alpha is the row's clip value (max|w| by default, or an MSE-optimal clip).
//
// Packed row bytes (no per-row header; steps live in a separate float array):
//   fp32   : 4 bytes per value, IEEE float, little-endian.
//   fixed8 : 1 byte per value, two's complement.
//   fixed4 : 2 values per byte, element 2i in the low nibble, 2i+1 in the high nibble, 4-bit two's
//            complement (-7..7; -8 never produced). An odd row's last high nibble is 0.
//   pot4   : 2 values per byte, same nibble order; nibble = s<<3 | e, s = sign, e in 0..7,
//            value = e == 0 ? 0 : (s ? -1 : 1) * 2^(e-1). The code s=1,e=0 ("-0") is never produced.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rmsmp {

enum class QuantKind : uint8_t {
  F32 = 0,     // passthrough: float rows (the fp32 baseline)
  Fixed8 = 1,
  Fixed4 = 2,
  Pow2x4 = 3,
  Count
};

enum class SchemeFamily : uint8_t { Float, FixedPoint, PowerOfTwo };

// How a row's clip value alpha is chosen.
enum class ClipMode : uint8_t {
  MaxAbs,  // alpha = max|w_r| (paper-style default)
  Mse,     // alpha from a grid search minimising the row's squared quantization error
};

using QuantizeRowFn = void (*)(const float* src, int64_t n, float step, int8_t* dst_q);
using PackRowFn = void (*)(const int8_t* src_q, int64_t n, uint8_t* dst);
using UnpackRowFn = void (*)(const uint8_t* src, int64_t n, int8_t* dst_q);
using DotRowFn = int32_t (*)(const uint8_t* packed_row, const int8_t* x_q, int64_t n);

struct QuantScheme {
  const char* name;        // stable name used in files, CLIs and reports
  QuantKind kind;
  SchemeFamily family;
  int bits;                // storage bits per weight value
  int values_per_byte;     // 2 for 4-bit, 1 for 8-bit, 0 for fp32 (4 bytes per value)
  int max_q;               // largest |q|: alpha = max_q * step
  double nmse_tol;         // upper bound on NMSE of quantize->dequantize for N(0,1) rows (tests use it)
  QuantizeRowFn quantize_row;  // nearest representable q for each value, given the row's step
  PackRowFn pack_row;
  UnpackRowFn unpack_row;
  DotRowFn dot_row;        // reference int32 dot of a packed row with int8 activations
};

extern const QuantScheme kQuantSchemes[static_cast<size_t>(QuantKind::Count)];

inline const QuantScheme& quant_scheme(QuantKind kind) {
  return kQuantSchemes[static_cast<size_t>(kind)];
}
inline bool quant_is_integer(QuantKind kind) { return kind != QuantKind::F32; }

// Name lookup ("fixed8", "fixed4", "pot4", "fp32"); nullopt if unknown.
std::optional<QuantKind> quant_kind_from_name(std::string_view name);

// Bytes of one packed row of n values.
size_t quant_row_bytes(QuantKind kind, int64_t n);

// The row's step (alpha / max_q) for the given clip mode. Returns 0 for an all-zero row (all q = 0).
// Integer schemes only.
float quant_row_step(QuantKind kind, const float* w, int64_t n, ClipMode clip);

// Quantize + pack one row with the reference functions; returns the step. `dst` holds quant_row_bytes.
// For F32 the row is copied and the returned step is 1.
float quant_quantize_pack_row_ref(QuantKind kind, const float* w, int64_t n, ClipMode clip, uint8_t* dst);

// Quantize + pack one row with a step chosen by the caller (e.g. kept fixed during error compensation).
void quant_quantize_pack_row_with_step_ref(QuantKind kind, const float* w, int64_t n, float step, uint8_t* dst);

// Dequantize one packed row into floats (w ~= step * q); F32 copies.
void quant_dequantize_row_ref(QuantKind kind, const uint8_t* packed, int64_t n, float step, float* dst);

// Sum of squared errors of quantizing w with `step` (used by the MSE clip search and by the converter).
double quant_row_sq_error(QuantKind kind, const float* w, int64_t n, float step);

}  // namespace rmsmp
