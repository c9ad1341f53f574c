// RMSMP_CLONES: compile a plain loop function once per x86-64 level (AVX-512 "v4", AVX2, baseline) and pick
// the clone at load time by the CPU's features (GCC function multi-versioning). For integer loops and for
// element-wise float loops only: contraction is off everywhere (CMakeLists.txt), so every clone performs the
// same operations and gives the same bits; it is only wider.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RMSMP_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define RMSMP_CLONES
#endif
