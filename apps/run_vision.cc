// rmsmp-run's vision commands: classify (top-K per image), imagenet (top-1/top-5 over a validation folder),
// mnist (top-1 over IDX files, e.g. Fashion-MNIST's test set), agree (fidelity to a reference model without
// labels: top-1 agreement and KL divergence over a folder of photos).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "rmsmp/vision.h"
#include "run_commands.h"
#include "vision_io/dataset.h"
#include "vision_io/image.h"

namespace rmsmp::run {

namespace {

// log-softmax in double.
std::vector<double> log_softmax(const std::vector<float>& logits) {
  const double mx = *std::max_element(logits.begin(), logits.end());
  double s = 0;
  for (float v : logits) s += std::exp(double(v) - mx);
  const double lse = mx + std::log(s);
  std::vector<double> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = double(logits[i]) - lse;
  return out;
}

// Softmax in double (logits of any scale), then the top k indices, highest probability first (ties: lower index).
std::vector<std::pair<int64_t, double>> top_k(const std::vector<float>& logits, int64_t k) {
  const float mx = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double s = 0;
  for (size_t i = 0; i < logits.size(); ++i) s += p[i] = std::exp(double(logits[i]) - double(mx));
  std::vector<int64_t> idx(logits.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min<int64_t>(k, int64_t(idx.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) {
    return p[size_t(a)] != p[size_t(b)] ? p[size_t(a)] > p[size_t(b)] : a < b;
  });
  std::vector<std::pair<int64_t, double>> out;
  for (int64_t i = 0; i < k; ++i) out.emplace_back(idx[size_t(i)], p[size_t(idx[size_t(i)])] / s);
  return out;
}

std::vector<std::string> labels_for(const VisionModel& m, const cli::Args& a) {
  if (auto l = a.get("labels")) {
    auto v = cli::read_lines(*l);
    RMSMP_CHECK(int64_t(v.size()) == m.info().num_classes, ErrorCode::InvalidArgument,
                *l << ": " << v.size() << " names, the model has " << m.info().num_classes << " classes");
    return v;
  }
  return m.info().labels;
}

nlohmann::json model_json(const VisionModel& m) {
  const VisionInfo& i = m.info();
  return {{"path", i.path}, {"architecture", i.name}, {"scheme", i.scheme}, {"avg_weight_bits", i.avg_weight_bits},
          {"act_bits", i.act_bits}, {"file_bytes", i.file_bytes}, {"backend", i.backend}, {"gmacs", i.gmacs}};
}

struct Tally {
  int64_t n = 0, top1 = 0, top5 = 0;
  double seconds = 0;
  void add(const std::vector<float>& logits, int64_t label) {
    const auto t = top_k(logits, 5);
    ++n;
    top1 += t[0].first == label;
    for (const auto& e : t) top5 += e.first == label;
  }
  nlohmann::json json() const {
    return {{"n", n}, {"top1", 100.0 * double(top1) / double(n)}, {"top5", 100.0 * double(top5) / double(n)},
            {"seconds", seconds}, {"images_per_second", double(n) / seconds}};
  }
};

}  // namespace

// Decoded and preprocessed; every failure names the file (a resize or allocation failure would not).
static std::vector<float> input_of(const VisionModel& m, const std::string& path) {
  try {
    return vision::model_input(m.info(), vision::load_image(path));
  } catch (const Error& e) {
    if (std::string(e.what()).find(path) != std::string::npos) throw;
    // A preprocessing refusal (an extreme aspect ratio) is a property of this file, not a usage error.
    throw Error(e.code() == ErrorCode::InvalidArgument ? ErrorCode::InvalidFile : e.code(), path + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::InvalidFile, path + ": out of memory while decoding or resizing the image");
  }
}

int cmd_classify(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"model", "top", "labels", "backend", "device"}, {"json"});
  RMSMP_CHECK(!a.positional().empty(), ErrorCode::InvalidArgument, "classify needs at least one IMAGE");
  auto m = VisionModel::load(a.require("model"), cli::load_options(a));
  const int64_t k = cli::parse_int(a.get_or("top", "5"), "--top");
  RMSMP_CHECK(k >= 1, ErrorCode::InvalidArgument, "--top must be >= 1");
  const auto labels = labels_for(*m, a);
  const bool json = a.flag("json");
  std::ostringstream os;
  for (const std::string& path : a.positional()) {
    const std::vector<float> x = input_of(*m, path);
    const auto top = top_k(m->logits(x.data(), int64_t(x.size())), k);
    if (json) {
      nlohmann::json j = {{"image", path}, {"classes", nlohmann::json::array()}, {"probabilities", nlohmann::json::array()}};
      if (!labels.empty()) j["names"] = nlohmann::json::array();
      for (const auto& [c, p] : top) {
        j["classes"].push_back(c);
        j["probabilities"].push_back(p);
        if (!labels.empty()) j["names"].push_back(labels[size_t(c)]);
      }
      os << j.dump() << "\n";
    } else {
      os << path << "\n";
      for (const auto& [c, p] : top)
        os << "  " << std::setw(5) << c << "  " << std::fixed << std::setprecision(4) << p << "  "
           << (labels.empty() ? "" : labels[size_t(c)]) << "\n";
    }
  }
  std::cout << os.str();
  return 0;
}

int cmd_imagenet(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"model", "data", "labels", "class-names", "limit", "out", "backend", "device"}, {});
  auto m = VisionModel::load(a.require("model"), cli::load_options(a));
  std::vector<std::string> names = m->info().labels;
  if (auto c = a.get("class-names")) names = cli::read_lines(*c);
  auto items = vision::imagenet_layout(a.require("data"), a.get_or("labels", ""), a.get("labels") ? std::vector<std::string>{} : names);
  if (auto l = a.get("limit")) items.resize(std::min<size_t>(items.size(), size_t(cli::parse_int(*l, "--limit"))));
  for (const auto& it : items)
    RMSMP_CHECK(it.label < m->info().num_classes, ErrorCode::InvalidArgument,
                it.path << ": class index " << it.label << " >= the model's " << m->info().num_classes << " classes");
  Tally t;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < items.size(); ++i) {
    const std::vector<float> x = input_of(*m, items[i].path);
    t.add(m->logits(x.data(), int64_t(x.size())), items[i].label);
    cli::progress("imagenet", i + 1, items.size());
  }
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json r = t.json();
  r["data"] = a.require("data");
  r["model"] = model_json(*m);
  r["seconds_note"] = "decoding and preprocessing included";
  const std::string out = r.dump() + "\n";
  if (auto o = a.get("out")) cli::write_file_atomic(*o, out);
  std::cout << out;
  return 0;
}

int cmd_mnist(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"model", "data", "images", "labels", "limit", "out", "logits", "backend", "device"}, {});
  auto m = VisionModel::load(a.require("model"), cli::load_options(a));
  const std::string dir = a.get_or("data", "/usr/share/datasets/fashion-mnist");
  const std::string ip = a.get_or("images", dir + "/t10k-images-idx3-ubyte.gz");
  const std::string lp = a.get_or("labels", dir + "/t10k-labels-idx1-ubyte.gz");
  const vision::IdxImages im = vision::read_idx_images(ip);
  const std::vector<uint8_t> lab = vision::read_idx_labels(lp);
  RMSMP_CHECK(int64_t(lab.size()) == im.n, ErrorCode::InvalidFile,
              lp << ": " << lab.size() << " labels for " << im.n << " images in " << ip);
  int64_t n = im.n;
  if (auto l = a.get("limit")) n = std::min<int64_t>(n, cli::parse_int(*l, "--limit"));
  Tally t;
  std::vector<float> logits;  // --logits: n x classes, image order
  const auto t0 = std::chrono::steady_clock::now();
  // Images in parallel, one thread each (see run_vision_table.cc); the tally is updated in image order-free sums.
  int64_t done = 0;
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    const auto x = vision::model_input_gray(m->info(), im.pixels.data() + i * im.h * im.w, im.h, im.w);
    const auto l = m->logits(x.data(), int64_t(x.size()));
#pragma omp critical
    {
      if (a.get("logits")) {
        if (logits.empty()) logits.resize(size_t(n) * l.size());
        std::copy(l.begin(), l.end(), logits.begin() + i * int64_t(l.size()));
      }
      t.add(l, int64_t(lab[size_t(i)]));
      cli::progress("mnist", size_t(++done), size_t(n));
    }
  }
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json r = t.json();
  r["images"] = ip;
  r["model"] = model_json(*m);
  if (auto f = a.get("logits"))
    cli::write_file_atomic(*f, std::string(reinterpret_cast<const char*>(logits.data()), logits.size() * sizeof(float)));
  const std::string out = r.dump() + "\n";
  if (auto o = a.get("out")) cli::write_file_atomic(*o, out);
  std::cout << out;
  return 0;
}

// Fidelity without labels: for each photo, does the model's top-1 equal the reference's, is the reference's top-1
// in the model's top-5, and KL(p_ref || p_model) in nats. The photos decode once and both models see the same
// input (the reference's eval transform; the two models must share it).
int cmd_agree(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"model", "reference", "data", "limit", "out", "per-image", "backend", "device"}, {});
  auto m = VisionModel::load(a.require("model"), cli::load_options(a));
  auto r = VisionModel::load(a.require("reference"), cli::load_options(a));
  const VisionInfo &mi = m->info(), &ri = r->info();
  RMSMP_CHECK(mi.num_classes == ri.num_classes && mi.channels == ri.channels && mi.height == ri.height &&
                  mi.width == ri.width && mi.resize == ri.resize && mi.crop == ri.crop && mi.mean == ri.mean &&
                  mi.std == ri.std,
              ErrorCode::InvalidArgument,
              a.require("model") << " and " << a.require("reference")
                                 << " differ in classes or eval transform; agree compares two versions of one network");
  std::vector<std::string> files = vision::list_images(a.require("data"));
  if (auto l = a.get("limit")) files.resize(std::min<size_t>(files.size(), size_t(cli::parse_int(*l, "--limit"))));
  RMSMP_CHECK(!files.empty(), ErrorCode::InvalidArgument, a.require("data") << ": no .jpg/.png images");
  struct Row { int64_t ref1 = 0, top1 = 0; bool in5 = false; double kl = 0; };
  std::vector<Row> rows(files.size());
  const auto t0 = std::chrono::steady_clock::now();
  size_t done = 0;
  std::string failure;
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < files.size(); ++i) {
    try {
      const std::vector<float> x = input_of(*r, files[i]);
      const auto lr = log_softmax(r->logits(x.data(), int64_t(x.size())));
      const std::vector<float> lm_f = m->logits(x.data(), int64_t(x.size()));
      const auto lm = log_softmax(lm_f);
      Row& row = rows[i];
      row.ref1 = std::max_element(lr.begin(), lr.end()) - lr.begin();
      const auto t5 = top_k(lm_f, 5);
      row.top1 = t5[0].first;
      for (const auto& e : t5) row.in5 = row.in5 || e.first == row.ref1;
      for (size_t c = 0; c < lr.size(); ++c) row.kl += std::exp(lr[c]) * (lr[c] - lm[c]);
    } catch (const std::exception& e) {
#pragma omp critical
      if (failure.empty()) failure = e.what();
    }
#pragma omp critical
    cli::progress("agree", ++done, files.size());
  }
  RMSMP_CHECK(failure.empty(), ErrorCode::InvalidFile, failure);
  int64_t agree = 0, in5 = 0;
  double kl = 0, kl_max = 0;
  std::ostringstream per;
  per << "image\treference_top1\tmodel_top1\tkl\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    agree += rows[i].top1 == rows[i].ref1;
    in5 += rows[i].in5;
    kl += rows[i].kl;
    kl_max = std::max(kl_max, rows[i].kl);
    per << files[i] << "\t" << rows[i].ref1 << "\t" << rows[i].top1 << "\t" << rows[i].kl << "\n";
  }
  const double n = double(rows.size());
  nlohmann::json j = {{"n", rows.size()},
                      {"top1_agreement", 100.0 * double(agree) / n},
                      {"reference_top1_in_top5", 100.0 * double(in5) / n},
                      {"kl_mean", kl / n},
                      {"kl_max", kl_max},
                      {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()},
                      {"data", a.require("data")},
                      {"model", model_json(*m)},
                      {"reference", model_json(*r)}};
  if (auto p = a.get("per-image")) cli::write_file_atomic(*p, per.str());
  const std::string out = j.dump() + "\n";
  if (auto o = a.get("out")) cli::write_file_atomic(*o, out);
  std::cout << out;
  return 0;
}

}  // namespace rmsmp::run
