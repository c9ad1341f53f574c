// A conversion with calibration (Hessians, GPTQ rounding, static clips) gives the same model bytes whichever
// CPU ISA runs it: the calibration forward uses the cpu-exact backend, whose fp32 rows sum in the reference's
// order on every ISA (oneDNN's sgemm made the AVX2 and AVX-512 conversions of MiniLM differ in 9,293 bytes).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "backends/cpu/isa.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// On the real MiniLM (a tiny checkpoint's GEMMs are too small for oneDNN's ISAs to round differently).
TEST(MiniLM, CalibratedConversionIsByteIdenticalOnEveryCpuIsa) {
  const std::string ck = test::checkpoint_dir();
  const std::string dir = test::temp_dir();
  {
    std::ofstream calib(dir + "/calib.txt");
    calib << "the movie was very good !\nit is not fun , the plot was dull .\na great play\nbad\n"
          << "an honest , moving film about two brothers who never speak\nthe service was slow and the food cold\n";
  }
  std::string first, first_isa;
  for (Isa isa : isa_all()) {
    if (!isa_supported(isa)) continue;  // generic always; AVX2 / AVX-512 where this CPU has them
    const std::string sub = dir + "/" + isa_name(isa);
    // Same relative --out in each folder: the header's provenance records the command line.
    // oneDNN dispatches on its own: cap it too, as a machine without that ISA would (its sgemm made the AVX2
    // and AVX-512 conversions differ before the calibration used cpu-exact).
    const char* dnnl = isa == Isa::Generic ? "SSE41" : isa == Isa::Avx2 ? "AVX2" : "ALL";
    const std::string cmd = "mkdir -p '" + sub + "' && cd '" + sub + "' && RMSMP_CPU_ISA=" + isa_name(isa) +
                            " ONEDNN_MAX_CPU_ISA=" + dnnl + " DNNL_MAX_CPU_ISA=" + dnnl + " " +
                            test::bin_dir() + "/rmsmp-convert --quiet --in '" + ck + "' --out m.rmsmp --calib ../calib.txt" +
                            " --act-bits 4 --embeddings fp32";
    std::string log;
    ASSERT_EQ(test::run_cmd(cmd, &log), 0) << cmd << "\n" << log;
    const std::string bytes = slurp(sub + "/m.rmsmp");
    ASSERT_GT(bytes.size(), 1000u);
    if (first.empty()) {
      first = bytes, first_isa = isa_name(isa);
      continue;
    }
    EXPECT_TRUE(bytes == first) << "the " << isa_name(isa) << " conversion differs from the " << first_isa << " one";
  }
}

}  // namespace
}  // namespace rmsmp
