// CPU instruction-set levels the int8 kernels are built for, run-time detection, and RMSMP_CPU_ISA pinning.
#pragma once
#include <string>
#include <vector>

namespace rmsmp {

enum class Isa { Generic = 0, Avx2 = 1, Avx512Vnni = 2 };

const char* isa_name(Isa isa);                 // "generic", "avx2", "avx512"
bool isa_parse(const std::string& s, Isa* out);
bool isa_supported(Isa isa);                   // by this CPU (cpuid) and this build
Isa isa_best();                                // highest supported
// The ISA the cpu backend uses: RMSMP_CPU_ISA if set (error if unknown or unsupported here), else the best.
Isa isa_selected();
std::vector<Isa> isa_all();

}  // namespace rmsmp
