// The FPGA cost model (converters/fpga_model.h): the derived ratio balances the two cores, layer lists match
// the architectures' published MAC counts, predictions follow the equations, and the CLI / converter wiring
// (rmsmp-fpga --json, rmsmp-convert --ratios auto --fpga-part) records what it used.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "fpga_model.h"
#include "io/model_format.h"
#include "rmsmp/vision.h"
#include "synthetic.h"
#include "rmsmp/error.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

int64_t total_macs(const std::vector<FpgaLayer>& layers) {
  int64_t m = 0;
  for (const auto& l : layers) m += l.act_act ? l.positions : l.rows * l.cols * l.positions;
  return m;
}

TEST(FpgaModel, DerivedRatioMakesBothCoresFinishTogether) {
  for (const auto& d : fpga_devices()) {
    FpgaAssumptions a;
    const RatioDerivation r = derive_ratio(d, a);
    const double p = r.pot4_exact, f8 = a.fixed8_share, f4 = 1 - p - f8;
    const double lut_time = p / double(r.cores.pot4_lanes), dsp_time = f4 / r.cores.f4_rate + f8 / r.cores.f8_rate;
    EXPECT_NEAR(lut_time, dsp_time, 1e-12 * lut_time) << d.name;
    EXPECT_NEAR(r.ratios[QuantKind::Pow2x4] + r.ratios[QuantKind::Fixed4] + r.ratios[QuantKind::Fixed8], 1.0, 1e-12);
    EXPECT_DOUBLE_EQ(r.ratios[QuantKind::Fixed8], 0.05);
    EXPECT_NEAR(r.ratios[QuantKind::Pow2x4], p, 0.005 + 1e-12);
    // More LUTs for the PoT core -> more PoT rows.
    a.lut_budget = 0.8;
    EXPECT_GT(derive_ratio(d, a).pot4_exact, p) << d.name;
  }
  // XC7Z020 by hand: N = floor(0.6 * 53200 / 64.1) = 497 lanes, D = floor(0.9 * 220) = 198 DSP, k4 = 2, k8 = 1.
  const RatioDerivation r = derive_ratio(fpga_device("xc7z020"), FpgaAssumptions{});
  EXPECT_EQ(r.cores.pot4_lanes, 497);
  EXPECT_EQ(r.cores.dsps, 198);
  EXPECT_NEAR(r.pot4_exact, (0.95 / 396 + 0.05 / 198) / (1.0 / 497 + 1.0 / 396), 1e-12);
}

TEST(FpgaModel, ArchitecturesHaveTheirPublishedMacCounts) {
  // torchvision's ResNet-18 / ResNet-50 at 224x224: 1.814 / 4.089 GMACs (conv + fc; pooling and adds excluded).
  EXPECT_NEAR(double(total_macs(fpga_arch_layers("resnet18", 0 + 1))), 1.814e9, 0.002e9);
  EXPECT_NEAR(double(total_macs(fpga_arch_layers("resnet50", 1))), 4.089e9, 0.004e9);
  // BERT-base at 128 tokens: 12 x 128 x (4 x 768^2 + 2 x 768 x 3072) linear MACs + 12 x 2 x 128^2 x 768 attention.
  const int64_t lin = 12LL * 128 * (4 * 768 * 768 + 2 * 768 * 3072), att = 12LL * 2 * 128 * 128 * 768;
  EXPECT_EQ(total_macs(fpga_arch_layers("bert-base", 128)), lin + att);
  EXPECT_EQ(fpga_arch_layers("resnet18", 1).size(), 21u);  // 1 + 16 convs + 3 downsamples + fc
  EXPECT_THROW(fpga_arch_layers("vgg16", 1), Error);
  EXPECT_THROW(fpga_device("xc9999"), Error);
}

TEST(FpgaModel, PredictionFollowsTheEquations) {
  const FpgaDevice& d = fpga_device("xczu9eg");
  FpgaAssumptions a;
  const FpgaCores c = fpga_cores(d, a);
  // One compute-bound layer that fits on chip: 100 rows x 1000 cols at 50 positions.
  const std::vector<FpgaLayer> L = {{"l", 100, 1000, 50, false, 1000 * 50, 100 * 50}};
  const Ratios r(0.6, 0.35, 0.05);
  const FpgaPrediction p = fpga_predict(d, a, r, L);
  ASSERT_EQ(p.layers.size(), 1u);
  const auto& l = p.layers[0];
  EXPECT_EQ(l.pot4_rows + l.fixed4_rows + l.fixed8_rows, 100);
  EXPECT_EQ(l.fixed8_rows, 5);
  EXPECT_EQ(l.lut_cycles, int64_t(std::ceil(60.0 * 50000 / double(c.pot4_lanes))));
  EXPECT_EQ(l.dsp_cycles, int64_t(std::ceil(35.0 * 50000 / c.f4_rate) + std::ceil(5.0 * 50000 / c.f8_rate)));
  EXPECT_EQ(l.baseline_cycles, int64_t(std::ceil(100.0 * 50000 / c.f4_rate)));
  EXPECT_TRUE(p.weights_on_chip);
  EXPECT_EQ(l.mem_cycles, 0);
  EXPECT_EQ(p.cycles, std::max(l.lut_cycles, l.dsp_cycles));
  EXPECT_NEAR(p.latency_ms, double(p.cycles) / (d.clock_mhz * 1e3), 1e-12);
  EXPECT_NEAR(p.speedup, double(p.baseline_cycles) / double(p.cycles), 1e-12);
  // Everything on the DSP core (no PoT rows) cannot beat the DSP-only baseline.
  EXPECT_LE(fpga_predict(d, a, Ratios(0, 0.95, 0.05), L).speedup, 1.0);
}

TEST(FpgaModel, CliAndConverterRecordTheDerivation) {
  std::string out;
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-fpga --fpga-part xc7z045 --arch resnet18 --json 2>/dev/null", &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  for (const char* k : {"device", "ratio", "cycles", "latency_ms", "baseline_latency_ms", "speedup", "layers", "derived_ratio"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["device"], "xc7z045");
  const RatioDerivation r = derive_ratio(fpga_device("xc7z045"), FpgaAssumptions{});
  EXPECT_DOUBLE_EQ(j["ratio"]["pot4"].get<double>(), r.ratios[QuantKind::Pow2x4]);
  EXPECT_GT(j["speedup"].get<double>(), 1.0);
  EXPECT_NE(test::run_cmd(test::bin_dir() + "/rmsmp-fpga --fpga-part nope --arch resnet18", &out), 0);
  EXPECT_NE(out.find("known: xc7z020"), std::string::npos) << out;

  // rmsmp-convert --ratios auto --fpga-part: the layers follow the derived ratio, the provenance says why.
  const std::string ck = test::make_tiny_checkpoint("tiny_fpga");
  const std::string model = test::temp_dir() + "/tiny_fpga.rmsmp", report = test::temp_dir() + "/tiny_fpga.json";
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-convert --quiet --scheme random --ratios auto --fpga-part xc7z045 --in " +
                              ck + " --out " + model + " --report " + report, &out), 0) << out;
  std::ifstream rf(report);
  const auto rep = nlohmann::json::parse(rf);
  EXPECT_EQ(rep["provenance"]["ratio_derivation"]["device"], "xc7z045");
  EXPECT_DOUBLE_EQ(rep["quantization"]["ratios"]["pot4"].get<double>(), r.ratios[QuantKind::Pow2x4]);
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-fpga --device xc7z045 --model " + model + " --seq 16 --json 2>/dev/null", &out), 0) << out;
  EXPECT_GT(nlohmann::json::parse(out)["layers"].size(), 0u);
  EXPECT_NE(test::run_cmd(test::bin_dir() + "/rmsmp-convert --ratios auto --in " + ck + " --out " + model, &out), 0);
  EXPECT_NE(out.find("--ratios auto needs --fpga-part"), std::string::npos) << out;
}


// A converted CNN's layers for the cost model: every conv at its output size; the MACs add up to the engine's
// own count (VisionInfo::gmacs), and the CLI takes the file.
TEST(FpgaModel, CnnModelFileGivesItsConvLayers) {
  const std::string p = test::converted_model("fmnist-fp32", test::fmnist_pth(), {"--scheme fp32"});
  const auto layers = fpga_model_layers(ModelFile::open(p)->header(), 128);
  ASSERT_EQ(layers.size(), 22u);  // ResNet-20: stem, 18 block convs, 2 downsamples, the classifier
  double macs = 0;
  for (const auto& l : layers) macs += double(l.rows) * double(l.cols) * double(l.positions);
  EXPECT_DOUBLE_EQ(macs / 1e9, VisionModel::load(p)->info().gmacs);
  EXPECT_EQ(layers.front().positions, 28 * 28);
  EXPECT_EQ(layers.back().positions, 1);
  std::string out;
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-fpga --fpga-part xc7z020 --json --model " + p, &out), 0) << out;
  EXPECT_NE(out.find("\"speedup\""), std::string::npos) << out;
  // The converter's ResNet-18 graph (random torchvision-shaped weights) and the cost model's own ResNet-18
  // table describe the same network: the same MACs and the same predicted cycles.
  const std::string st = test::temp_dir() + "/resnet18_random.safetensors";
  write_random_resnet_checkpoint(st, "resnet18", 1);
  const auto conv = fpga_model_layers(ModelFile::open(test::converted_model("resnet18-fp32", st, {"--scheme fp32"}))->header(), 0);
  const auto table = fpga_arch_layers("resnet18", 128);  // seq is for BERT archs only
  const FpgaDevice& d = fpga_device("xc7z020");
  const FpgaAssumptions as;
  const Ratios r = derive_ratio(d, as).ratios;
  const FpgaPrediction a = fpga_predict(d, as, r, conv), b = fpga_predict(d, as, r, table);
  EXPECT_EQ(a.macs, b.macs);
  EXPECT_EQ(a.cycles, b.cycles);
  EXPECT_EQ(a.baseline_cycles, b.baseline_cycles);
}

}  // namespace
}  // namespace rmsmp
