// QAT plans (converters/qat_plan.h): a plan exported by a conversion packs back into the same model, and a plan
// whose values leave their rows' grids is refused with the tensor and row named.
#include <gtest/gtest.h>

#include <fstream>

#include "qat_plan.h"
#include "rmsmp/error.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

std::string tiny() { return std::string(RMSMP_TEST_DATA_DIR) + "/tiny_classifier"; }

std::string export_plan(const std::string& dir) {
  {
    std::ofstream calib(dir + "/calib.txt");
    calib << "the movie was very good !\nit is not fun , the plot was dull .\na great play\nbad\n";
    std::ofstream text(dir + "/text.txt");
    text << "the movie was good\nnot a great plot , dull\nfun play !\n";
  }
  const std::string cmd = "cd '" + dir + "' && " + test::bin_dir() +
                          "/rmsmp-convert --quiet --in '" + tiny() + "' --out ptq.rmsmp --calib calib.txt --export-plan ptq.plan";
  std::string log;
  EXPECT_EQ(test::run_cmd(cmd, &log), 0) << cmd << "\n" << log;
  return dir + "/ptq.plan";
}

TEST(QatPlan, ExportedPlanPacksBackIntoTheSameModel) {
  const std::string dir = test::temp_dir();
  export_plan(dir);
  const std::string bin = test::bin_dir(), cd = "cd '" + dir + "' && ";
  std::string log, a, b;
  ASSERT_EQ(test::run_cmd(cd + bin + "/rmsmp-convert --quiet --in '" + tiny() + "' --out plan.rmsmp --plan ptq.plan", &log), 0) << log;
  ASSERT_EQ(test::run_cmd(cd + bin + "/rmsmp-run embed --model ptq.rmsmp --input text.txt", &a), 0) << a;
  ASSERT_EQ(test::run_cmd(cd + bin + "/rmsmp-run embed --model plan.rmsmp --input text.txt", &b), 0) << b;
  EXPECT_NE(a.find("\"embedding\""), std::string::npos) << a;
  EXPECT_EQ(a, b) << "the model packed from the exported plan computes differently";
}

TEST(QatPlan, ValuesOffTheirGridAreRefusedNamingTensorAndRow) {
  const std::string dir = test::temp_dir();
  const std::string path = export_plan(dir);
  QatPlan plan = read_qat_plan(path);
  ASSERT_TRUE(plan.quantized.count("encoder.1.ffn_in.weight"));
  QuantizedRows& qr = plan.quantized.at("encoder.1.ffn_in.weight");
  const int64_t cols = plan.rows_cols.at("encoder.1.ffn_in.weight").second;
  qr.w[size_t(5 * cols + 3)] += 0.3f * qr.steps[5];  // between two levels of row 5
  write_qat_plan(dir + "/bad.plan", plan);
  try {
    read_qat_plan(dir + "/bad.plan");
    FAIL() << "an off-grid value was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidFile);
    EXPECT_NE(std::string(e.what()).find("encoder.1.ffn_in.weight.rmsmp_dequant row 5 column 3"), std::string::npos) << e.what();
  }
  // A plan without the format tag (an ordinary checkpoint) is refused as such.
  write_safetensors_f32(dir + "/plain.safetensors", {{"x", {{1}, {1.f}}}});
  EXPECT_THROW(read_qat_plan(dir + "/plain.safetensors"), Error);
}

// Vision plans (converters/vision_plan.h): a plan of another checkpoint, a missing activation quantizer and
// options that the plan fixes are refused, naming the plan and the tensor; the round trip itself (exported plan ->
// identical logits) is checked by tests/converters/qat_cnn_parity.sh.
TEST(QatPlan, VisionPlansOfAnotherCheckpointOrIncompleteAreRefused) {
  const std::string dir = test::temp_dir(), bin = test::bin_dir();
  const std::string conv = bin + "/rmsmp-convert --quiet --in '" + test::fmnist_pth() + "' ";
  std::string log;
  ASSERT_EQ(test::run_cmd(conv + "--out '" + dir + "/ptq.rmsmp' --calib-images '" + test::fmnist_dir() +
                              "/train-images-idx3-ubyte.gz' --calib-n 16 --export-plan '" + dir + "/ptq.plan'", &log), 0)
      << log;
  const QatPlan plan = read_qat_plan(dir + "/ptq.plan");
  ASSERT_TRUE(plan.fp32.count("layer2.1.conv1.rmsmp_act") && plan.fp32.count("fc.bias.rmsmp_quant")) << "vision plan tensors";
  auto refused = [&](const QatPlan& p, const std::string& want) {
    write_qat_plan(dir + "/bad.plan", p);
    std::string out;
    EXPECT_EQ(test::run_cmd(conv + "--out '" + dir + "/bad.rmsmp' --plan '" + dir + "/bad.plan' 2>&1", &out), 1) << out;
    EXPECT_NE(out.find(want), std::string::npos) << out;
    EXPECT_FALSE(std::ifstream(dir + "/bad.rmsmp").good()) << "a refused plan left an output file";
  };
  QatPlan other = plan;
  other.fp32.at("layer2.1.conv1.weight").second[7] += 1e-3f;  // a teacher that is not this checkpoint's
  refused(other, "layer2.1.conv1.weight differs from the checkpoint's folded weight at 7");
  QatPlan no_act = plan;
  no_act.fp32.erase("fc.rmsmp_act");
  refused(no_act, "fc.rmsmp_act is missing");
  QatPlan bad_act = plan;
  bad_act.fp32.at("fc.rmsmp_act").second = {6.f, 1.f, 0.f};
  refused(bad_act, "fc.rmsmp_act = [6, 1, 0]");
  std::string out;
  EXPECT_EQ(test::run_cmd(conv + "--out '" + dir + "/x.rmsmp' --plan '" + dir + "/ptq.plan' --calib-images '" +
                              test::fmnist_dir() + "/train-images-idx3-ubyte.gz' 2>&1", &out), 2) << out;
  EXPECT_NE(out.find("--plan fixes every row, bias and activation clip"), std::string::npos) << out;
}

}  // namespace
}  // namespace rmsmp
