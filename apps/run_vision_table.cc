// rmsmp-run fmnist-table: issue 5's accuracy table on Fashion-MNIST. Converts the committed ResNet-20
// (tests/data/fmnist/resnet20_fmnist.pth, trained by converters/train/fmnist_resnet20.py) with fp32, RMSMP and
// every baseline at 8-bit and 4-bit activations, calibrating on the first N training images, and evaluates
// each on the whole test set (or --limit). Writes OUT/results.json and OUT/results.md.
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "rmsmp/vision.h"
#include "run_commands.h"
#include "vision_io/dataset.h"
#include "vision_convert.h"

namespace rmsmp::run {

namespace fs = std::filesystem;

namespace {

std::string fmt(double v, int prec) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << v;
  return os.str();
}

double top1(const VisionModel& m, const vision::IdxImages& im, const std::vector<uint8_t>& lab, int64_t n,
            const std::string& label) {
  // Images in parallel, each on one thread (the ops' own parallel regions nest to one thread): small images
  // spend more in fork/join than in compute otherwise. Each image's logits do not depend on the thread count.
  int64_t ok = 0, done = 0;
#pragma omp parallel for schedule(dynamic, 16) reduction(+ : ok)
  for (int64_t i = 0; i < n; ++i) {
    const auto x = vision::model_input_gray(m.info(), im.pixels.data() + i * im.h * im.w, im.h, im.w);
    const auto l = m.logits(x.data(), int64_t(x.size()));
    ok += int64_t(std::max_element(l.begin(), l.end()) - l.begin()) == int64_t(lab[size_t(i)]);
#pragma omp critical
    cli::progress(label, size_t(++done), size_t(n));
  }
  return 100.0 * double(ok) / double(n);
}

}  // namespace

int cmd_fmnist_table(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"pth", "data", "out", "calib-n", "limit", "rounding", "backend", "device"}, {});
  const std::string rounding = a.get_or("rounding", "gptq");
  RMSMP_CHECK(rounding == "gptq" || rounding == "nearest", ErrorCode::InvalidArgument, "--rounding must be gptq or nearest");
  const std::string pth = a.get_or("pth", std::string(RMSMP_SOURCE_DIR) + "/tests/data/fmnist/resnet20_fmnist.pth");
  const std::string dir = a.get_or("data", "/usr/share/datasets/fashion-mnist");
  const std::string out = a.get_or("out", "out/fmnist");
  const int64_t calib_n = cli::parse_int(a.get_or("calib-n", "256"), "--calib-n");
  fs::create_directories(out + "/models");
  const vision::IdxImages im = vision::read_idx_images(dir + "/t10k-images-idx3-ubyte.gz");
  const std::vector<uint8_t> lab = vision::read_idx_labels(dir + "/t10k-labels-idx1-ubyte.gz");
  RMSMP_CHECK(int64_t(lab.size()) == im.n, ErrorCode::InvalidFile, dir << ": test labels and images differ in count");
  int64_t n = im.n;
  if (auto l = a.get("limit")) n = std::min<int64_t>(n, cli::parse_int(*l, "--limit"));
  const std::string calib = dir + "/train-images-idx3-ubyte.gz";
  std::vector<std::string> schemes = {"fp32", "rmsmp"};
  for (const std::string& s : uniform_baseline_schemes()) schemes.push_back(s);  // the table's, uniform
  schemes.push_back("layerwise");
  schemes.push_back("random");
  nlohmann::json rows = nlohmann::json::array();
  double fp32_acc = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& s : schemes)
    for (int bits : {8, 4}) {
      if (s == "fp32" && bits == 4) continue;
      VisionConvertOptions o;
      o.base.in_dir = pth;
      o.base.scheme = s;
      o.base.act_bits = bits;
      o.base.out_path = out + "/models/" + s + "-a" + std::to_string(bits) + ".rmsmp";
      o.base.command_line = "rmsmp-run fmnist-table";
      o.base.gptq = rounding == "gptq";  // the same rounding for every quantized row of every scheme
      if (s != "fp32") o.calib_images = calib, o.calib_n = calib_n;
      const nlohmann::json rep = convert_vision_checkpoint(o);
      auto m = VisionModel::load(o.base.out_path, cli::load_options(a));
      const double acc = top1(*m, im, lab, n, s + " A" + std::to_string(bits));
      if (s == "fp32") fp32_acc = acc;
      rows.push_back({{"scheme", s}, {"act_bits", s == "fp32" ? 32 : bits}, {"top1", acc},
                      {"avg_weight_bits", rep["model"]["avg_weight_bits"]}, {"file_bytes", rep["model"]["file_bytes"]}});
    }
  nlohmann::json res = {{"model", pth}, {"architecture", "resnet20"}, {"test_images", n}, {"calibration", calib},
                        {"calibration_images", calib_n}, {"rounding", rounding}, {"clip", "mse"},
                        {"pinned_layers", std::string("first conv and classifier: ") +
                                              quant_scheme(QuantKind::Fixed8).name + " weights, 8-bit activations"},
                        {"backend", VisionModel::load(out + "/models/fp32-a8.rmsmp", cli::load_options(a))->info().backend},
                        {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()},
                        {"rows", rows}};
  std::ostringstream md;
  md << "Fashion-MNIST test top-1 (" << n << " images), ResNet-20 (" << pth << "), calibration: first " << calib_n
     << " training images, " << rounding << " rounding, MSE clip; first conv and classifier pinned to Fixed-8.\n\n"
     << "| scheme | avg weight bits | top-1 A8 | vs fp32 | top-1 A4 | vs fp32 |\n|---|---:|---:|---:|---:|---:|\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const bool fp = r["scheme"] == "fp32";
    md << "| " << r["scheme"].get<std::string>() << " | " << fmt(r["avg_weight_bits"].get<double>(), 2) << " | "
       << fmt(r["top1"].get<double>(), 2) << " | " << (fp ? "" : fmt(r["top1"].get<double>() - fp32_acc, 2)) << " | ";
    if (!fp) {
      const auto& r4 = rows[++i];
      md << fmt(r4["top1"].get<double>(), 2) << " | " << fmt(r4["top1"].get<double>() - fp32_acc, 2) << " |\n";
    } else {
      md << " |  |\n";
    }
  }
  cli::write_file_atomic(out + "/results.json", res.dump(2) + "\n");
  cli::write_file_atomic(out + "/results.md", md.str());
  std::cout << md.str();
  return 0;
}

}  // namespace rmsmp::run
