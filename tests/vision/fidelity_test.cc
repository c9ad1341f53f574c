// Vision fidelity tools: bias correction (rmsmp-convert --bias-correction) against the fp32 model's outputs, and
// rmsmp-run agree against top-1 and KL computed here from the two models' own logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "rmsmp/vision.h"
#include "util/test_env.h"
#include "vision_io/dataset.h"
#include "vision_io/image.h"

namespace rmsmp {
namespace {

std::string fmnist(const std::string& key, const std::vector<std::string>& args) {
  return test::converted_model("fmnist-" + key, test::fmnist_pth(), args);
}

// Mean over classes of |mean over test images of (quantized logit - fp32 logit)|: the systematic shift that bias
// correction is meant to remove (weight rounding errors that do not average out over the inputs).
double mean_logit_shift(const std::string& quantized) {
  const auto fp = VisionModel::load(fmnist("fp32", {"--scheme fp32"})), q = VisionModel::load(quantized);
  const vision::IdxImages im = vision::read_idx_images(test::fmnist_dir() + "/t10k-images-idx3-ubyte.gz");
  const int64_t n = 300, C = fp->info().num_classes;
  std::vector<double> shift(size_t(C), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const auto x = vision::model_input_gray(fp->info(), im.pixels.data() + i * im.h * im.w, im.h, im.w);
    const auto a = fp->logits(x.data(), int64_t(x.size())), b = q->logits(x.data(), int64_t(x.size()));
    for (int64_t c = 0; c < C; ++c) shift[size_t(c)] += double(b[size_t(c)]) - double(a[size_t(c)]);
  }
  double s = 0;
  for (double v : shift) s += std::fabs(v / double(n));
  return s / double(C);
}

TEST(BiasCorrection, ShrinksTheQuantizedModelsMeanLogitShift) {
  const std::string idx = test::fmnist_dir() + "/train-images-idx3-ubyte.gz";
  // Nearest rounding: the plain per-row 4-bit errors, whose mean effect the correction targets.
  const std::vector<std::string> base = {"--scheme fixed4", "--rounding nearest", "--calib-images", idx, "--calib-n 64",
                                         "--pin-first-last none"};
  auto with = base, without = base;
  with.push_back("--bias-correction on");
  without.push_back("--bias-correction off");
  const std::string on = fmnist("fixed4-bc-on", with), off = fmnist("fixed4-bc-off", without);
  const double s_on = mean_logit_shift(on), s_off = mean_logit_shift(off);
  std::cout << "mean |logit shift| vs fp32 over 300 test images: bias correction on " << s_on << ", off " << s_off << "\n";
  EXPECT_LT(s_on, 0.7 * s_off);
  const auto q = nlohmann::json::parse(VisionModel::load(on)->header_json())["quantization"];
  EXPECT_NE(q["bias_correction"].get<std::string>().find("b -= (W_q - W) E[x]"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(VisionModel::load(off)->header_json())["quantization"]["bias_correction"], "off");
}

// log-softmax in double, as the command computes it.
std::vector<double> log_softmax(const std::vector<float>& l) {
  const double mx = *std::max_element(l.begin(), l.end());
  double s = 0;
  for (float v : l) s += std::exp(double(v) - mx);
  std::vector<double> out;
  for (float v : l) out.push_back(double(v) - mx - std::log(s));
  return out;
}

TEST(AgreeCommand, MatchesTop1AndKlFromTheModelsLogits) {
  const std::string images = test::data_dir() + "/../../data/images";
  const std::string fp = test::converted_model("effnet-fp32", test::effnet_pth(), {"--scheme fp32"});
  // A deliberately coarse model (uniform PoT-4, nearest rounding, nothing pinned) so that KL is clearly > 0.
  const std::string q = test::converted_model("effnet-pot4-nearest", test::effnet_pth(),
                                              {"--scheme pot4", "--rounding nearest", "--pin-first-last none",
                                               "--bias-correction off"});
  std::string out;
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-run agree --model " + fp + " --reference " + fp + " --data " + images, &out), 0) << out;
  auto j = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["n"], 2);
  EXPECT_EQ(j["top1_agreement"].get<double>(), 100.0);
  EXPECT_EQ(j["kl_mean"].get<double>(), 0.0);

  const std::string per = test::temp_dir() + "/agree_per_image.tsv";
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-run agree --model " + q + " --reference " + fp + " --data " + images +
                              " --per-image " + per, &out), 0) << out;
  j = nlohmann::json::parse(out.substr(out.find('{')));
  const auto mf = VisionModel::load(fp), mq = VisionModel::load(q);
  double kl = 0;
  int agree = 0;
  for (const std::string name : {"chelsea.png", "coffee.png"}) {
    const auto x = vision::model_input(mf->info(), vision::load_image(images + "/" + name));
    const auto lf = mf->logits(x.data(), int64_t(x.size())), lq = mq->logits(x.data(), int64_t(x.size()));
    agree += std::max_element(lf.begin(), lf.end()) - lf.begin() == std::max_element(lq.begin(), lq.end()) - lq.begin();
    const auto a = log_softmax(lf), b = log_softmax(lq);
    for (size_t c = 0; c < a.size(); ++c) kl += std::exp(a[c]) * (a[c] - b[c]);
  }
  EXPECT_EQ(j["top1_agreement"].get<double>(), 50.0 * agree);
  EXPECT_NEAR(j["kl_mean"].get<double>(), kl / 2, 1e-9);
  EXPECT_GT(kl, 0.0);
  std::ifstream f(per);
  std::string line;
  int lines = 0;
  while (std::getline(f, line)) ++lines;
  EXPECT_EQ(lines, 3);  // header + one row per photo
}

// No --calib-images: an RGB model calibrates on the default photos ($RMSMP_DEFAULT_CALIB_IMAGES here, standing
// in for scripts/photos.sh's calib/ folder) with GPTQ rounding, and says so in its provenance; with no default
// the error says how to get one.
TEST(DefaultCalibration, RgbModelsUseTheDefaultPhotosAndSaySo) {
  const std::string out = test::temp_dir() + "/effnet-default-calib.rmsmp";
  std::string log;
  ASSERT_EQ(test::run_cmd("RMSMP_DEFAULT_CALIB_IMAGES='" + test::calib_images_dir() + "' " + test::bin_dir() +
                              "/rmsmp-convert --quiet --in '" + test::effnet_pth() + "' --out '" + out + "'", &log), 0)
      << log;
  const auto h = nlohmann::json::parse(VisionModel::load(out)->header_json());
  EXPECT_EQ(h["provenance"]["calibration"]["source"], test::calib_images_dir());
  EXPECT_NE(h["quantization"]["rounding"].get<std::string>().find("gptq"), std::string::npos);
  EXPECT_NE(h["quantization"]["bias_correction"].get<std::string>().find("b -="), std::string::npos);
  EXPECT_NE(test::run_cmd("RMSMP_DEFAULT_CALIB_IMAGES= " + test::bin_dir() + "/rmsmp-convert --quiet --in '" +
                              test::effnet_pth() + "' --out '" + out + ".2'", &log), 0);
  EXPECT_NE(log.find("scripts/photos.sh"), std::string::npos) << log;
}

TEST(AgreeCommand, RefusesModelsOfDifferentNetworks) {
  const std::string fp = test::converted_model("effnet-fp32", test::effnet_pth(), {"--scheme fp32"});
  std::string out;
  EXPECT_NE(test::run_cmd(test::bin_dir() + "/rmsmp-run agree --model " + fmnist("fp32", {"--scheme fp32"}) +
                              " --reference " + fp + " --data " + test::data_dir() + "/../../data/images", &out), 0);
  EXPECT_NE(out.find("differ in classes or eval transform"), std::string::npos) << out;
}

}  // namespace
}  // namespace rmsmp
