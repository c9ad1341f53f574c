// Checkpoint element types shared by the safetensors and .pth readers: the size of a dtype name and the
// 16-bit float formats widened to float32 (exactly: every half and bfloat16 value is a float).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace rmsmp {

// Bytes per element of a dtype name ("F32", "BF16", "I64", "BOOL", ...); 0 if unknown.
inline size_t dtype_name_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL") return 1;
  return 0;
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
  float v;
  if (exp == 0) v = std::ldexp(float(man), -24);
  else if (exp == 31) v = man ? NAN : INFINITY;
  else v = std::ldexp(float(man | 0x400), int(exp) - 25);
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits |= sign;
  std::memcpy(&v, &bits, 4);
  return v;
}

inline float bf16_to_float(uint16_t h) {
  const uint32_t b = uint32_t(h) << 16;
  float v;
  std::memcpy(&v, &b, 4);
  return v;
}

}  // namespace rmsmp
