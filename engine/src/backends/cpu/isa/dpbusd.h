// c += vpdpbusd(u8, s8) with the accumulator updated in place: the one vpdpbusd every AVX-512 VNNI kernel uses.
//
// Why not the intrinsic alone: with _mm512_dpbusd_epi32 GCC 12 (Debian 12's compiler) kept the 32 x 8 tile's 16
// accumulators in one set of zmm registers across the k loop, computed each vpdpbusd into another and copied
// back: 32 vmovdqa and 2 stack stores per 16 vpdpbusd in the loop (objdump of gemm_s8_avx512vnni), so the front
// end, not the multiplier, set the pace. The asm ties the accumulator to its register ("+v"), leaving the loop
// the weight loads, the broadcasts and the vpdpbusd. Same instruction, same bits; other compilers get the
// intrinsic. Include only in translation units compiled for AVX-512 VNNI.
#pragma once
#include <immintrin.h>

namespace rmsmp {

// By value, as _mm512_dpbusd_epi32 (a reference operand made GCC keep accumulator arrays in memory).
inline __attribute__((always_inline)) __m512i dpbusd(__m512i c, __m512i u8, __m512i s8) {
#if defined(__GNUC__) && !defined(__clang__)
  asm("vpdpbusd %2, %1, %0" : "+v"(c) : "v"(u8), "v"(s8));  // AT&T order: c += u8 (unsigned) . s8 (signed)
  return c;
#else
  return _mm512_dpbusd_epi32(c, u8, s8);
#endif
}

}  // namespace rmsmp
