// Peak measurement driver (see peak.h): every thread runs the same register-only loop; wall time of the
// parallel region, median over repeats.
#include "harness/peak.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace rmsmp::bench {

namespace {
template <class Loop>
double run_gmacs(Loop loop, int threads, int repeats) {
  int64_t iters = 1 << 16;
  // Calibrate on one thread to ~0.1 s per run.
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    loop(iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0.05) {
      iters = std::max<int64_t>(1, int64_t(double(iters) * 0.1 / s));
      break;
    }
    iters *= 4;
  }
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    int64_t macs = 0;
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : macs)
    macs += loop(iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(double(macs) / s * 1e-9);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}
}  // namespace

Peak measure_int8_peak(Isa isa, int threads, int repeats) {
  int32_t sink = 0;
  if (isa == Isa::Avx512Vnni && isa_supported(isa))
    return {run_gmacs([&](int64_t n) { return peak_int8_avx512vnni(n, &sink); }, threads, repeats), "vpdpbusd zmm"};
  if (isa != Isa::Generic && isa_supported(Isa::Avx2))
    return {run_gmacs([&](int64_t n) { return peak_int8_avx2(n, &sink); }, threads, repeats), "vpmaddubsw+vpmaddwd ymm"};
  return {0, "none (generic build)"};
}

Peak measure_fp32_peak(Isa isa, int threads, int repeats) {
  float sink = 0;
  if (isa == Isa::Avx512Vnni && isa_supported(isa))
    return {run_gmacs([&](int64_t n) { return peak_fp32_avx512(n, &sink); }, threads, repeats), "vfmadd231ps zmm"};
  if (isa_supported(Isa::Avx2))
    return {run_gmacs([&](int64_t n) { return peak_fp32_avx2(n, &sink); }, threads, repeats), "vfmadd231ps ymm"};
  return {0, "none (generic build)"};
}

}  // namespace rmsmp::bench
