// ISA detection via GCC's cpuid builtins (no -march flags in this file).
#include "backends/cpu/isa.h"

#include <cstdlib>

#include "rmsmp/error.h"

namespace rmsmp {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Generic: return "generic";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512Vnni: return "avx512";
  }
  return "?";
}

bool isa_parse(const std::string& s, Isa* out) {
  for (Isa i : isa_all())
    if (s == isa_name(i)) return *out = i, true;
  return false;
}

std::vector<Isa> isa_all() { return {Isa::Generic, Isa::Avx2, Isa::Avx512Vnni}; }

bool isa_supported(Isa isa) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::Generic: return true;
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");  // attention fuses
    case Isa::Avx512Vnni:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }
  return false;
#else
  return isa == Isa::Generic;
#endif
}

Isa isa_best() {
  Isa best = Isa::Generic;
  for (Isa i : isa_all())
    if (isa_supported(i)) best = i;
  return best;
}

Isa isa_selected() {
  const char* env = std::getenv("RMSMP_CPU_ISA");
  if (!env || !*env) return isa_best();
  Isa isa;
  RMSMP_CHECK(isa_parse(env, &isa), ErrorCode::InvalidArgument,
              "RMSMP_CPU_ISA='" << env << "' is not one of generic, avx2, avx512");
  RMSMP_CHECK(isa_supported(isa), ErrorCode::Unsupported,
              "RMSMP_CPU_ISA=" << env << " but this CPU does not support it (best here: " << isa_name(isa_best()) << ")");
  return isa;
}

}  // namespace rmsmp
