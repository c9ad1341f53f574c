// rmsmp-run glue-table: every GLUE dev set found under a data folder, scored for every model in a folder
// against its fp32.rmsmp with the same cross-validated heads (fitted once per task on the fp32 features),
// written as JSON and Markdown.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "convert.h"
#include "glue/tasks.h"
#include "run_commands.h"
#include "run_glue.h"

namespace rmsmp::run {

namespace fs = std::filesystem;

namespace {

// GLUE's own folder name for a task, then our lowercase one (the repo's data/ uses lowercase).
std::vector<std::string> folder_names(const std::string& task) {
  static const std::map<std::string, std::string> glue = {
      {"cola", "CoLA"}, {"sst2", "SST-2"}, {"mrpc", "MRPC"}, {"stsb", "STS-B"}, {"qqp", "QQP"},
      {"mnli", "MNLI"}, {"mnli-mm", "MNLI"}, {"qnli", "QNLI"}, {"rte", "RTE"}, {"wnli", "WNLI"}};
  return {glue.at(task), task == "mnli-mm" ? "mnli" : task};
}

// The demo's order first (fp32, the RMSMP steps, the baselines), then any other model alphabetically.
std::vector<fs::path> model_files(const fs::path& dir) {
  static const std::vector<std::string> order = [] {
    std::vector<std::string> v = {"fp32", "rmsmp_paper", "rmsmp_mse", "rmsmp", "rmsmp_hessian_rule", "rmsmp_var_inverted"};
    for (const std::string& s : uniform_baseline_schemes()) v.push_back(s);
    v.push_back("layerwise");
    v.push_back("random");
    return v;
  }();
  RMSMP_CHECK(fs::is_directory(dir), ErrorCode::NotFound, dir.string() << ": no such folder");
  std::vector<fs::path> f;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".rmsmp") f.push_back(e.path());
  auto rank = [&](const fs::path& p) {
    auto it = std::find(order.begin(), order.end(), p.stem().string());
    return std::make_pair(size_t(it - order.begin()), p.stem().string());
  };
  std::sort(f.begin(), f.end(), [&](const fs::path& a, const fs::path& b) { return rank(a) < rank(b); });
  RMSMP_CHECK(!f.empty() && f[0].stem() == "fp32", ErrorCode::NotFound,
              dir.string() << ": needs fp32.rmsmp (the reference the heads are fitted on)");
  return f;
}

std::string fmt(double v, int prec, bool sign = false) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << (sign && v >= 0 ? "+" : "") << v;
  return os.str();
}

}  // namespace

int cmd_glue_table(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"models", "data", "cv", "pairs", "out", "tasks", "backend", "device"}, {});
  const auto t_start = std::chrono::steady_clock::now();
  const std::vector<fs::path> models = model_files(a.require("models"));
  const fs::path data = a.get_or("data", std::string(RMSMP_SOURCE_DIR) + "/data");
  const fs::path out = a.get_or("out", "out/glue");
  const int k = std::stoi(a.get_or("cv", "5"));
  const std::string pairs = a.get_or("pairs", "bi");
  RMSMP_CHECK(pairs == "cross" || pairs == "bi", ErrorCode::InvalidArgument, "--pairs must be cross or bi");
  std::vector<std::string> only;
  if (auto t = a.get("tasks")) {
    std::istringstream is(*t);
    for (std::string s; std::getline(is, s, ',');) only.push_back(glue::task(s).name);
  }

  // Tasks whose dev file is present.
  std::vector<std::pair<const glue::Task*, std::string>> tasks;
  for (const glue::Task& t : glue::all_tasks()) {
    if (!only.empty() && std::find(only.begin(), only.end(), t.name) == only.end()) continue;
    for (const std::string& f : folder_names(t.name))
      if (fs::exists(data / f / t.dev_file)) {
        tasks.emplace_back(&t, (data / f / t.dev_file).string());
        break;
      }
  }
  RMSMP_CHECK(!tasks.empty(), ErrorCode::NotFound, data.string() << ": no GLUE dev files found (expected e.g. SST-2/dev.tsv or sst2/dev.tsv)");

  std::vector<std::shared_ptr<const Model>> loaded;
  const LoadOptions lo = cli::load_options(a);
  for (const auto& p : models) loaded.push_back(Model::load(p.string(), lo));
  nlohmann::json results = nlohmann::json::array();
  for (const auto& [t, path] : tasks) {
    const glue::Examples ex = glue::read(*t, path);
    std::cerr << "[glue-table] " << t->name << ": " << ex.size() << " examples from " << path << "\n";
    size_t trunc = 0;
    const auto ref = glue_features(*loaded[0], ex, pairs == "bi", path, t->name + " fp32", &trunc);
    const std::vector<cli::LinearHead> heads = fit_cv_heads(*t, ex, ref, k);
    nlohmann::json rows = nlohmann::json::array();
    for (size_t mi = 0; mi < loaded.size(); ++mi) {
      const Model& m = *loaded[mi];
      const auto t0 = std::chrono::steady_clock::now();
      size_t tr = 0;
      const auto feats = mi == 0 ? ref : glue_features(m, ex, pairs == "bi", path, t->name + " " + models[mi].stem().string(), &tr);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const auto [cmean, cmin] = cosine_stats(feats, ref);
      rows.push_back({{"model", models[mi].stem().string()},
                      {"path", models[mi].string()},
                      {"scheme", m.info().scheme},
                      {"avg_weight_bits", m.info().avg_weight_bits},
                      {"metrics", score(*t, ex, predict_cv(*t, heads, feats))},
                      {"cosine_mean", cmean},
                      {"cosine_min", cmin},
                      {"seconds", secs}});
    }
    nlohmann::json protocol = cv_protocol(*t, k, models[0].string());
    protocol["pairs"] = ex.b.empty() ? "single sentence" : pairs == "bi" ? "bi: [u * v, |u - v|]" : "cross: [CLS] a [SEP] b [SEP]";
    results.push_back({{"task", t->name}, {"data", path}, {"n", ex.size()}, {"truncated_inputs", trunc},
                       {"headline", t->metrics[0]}, {"protocol", protocol}, {"rows", rows}});
  }

  // Markdown: one row per model; per task its metrics (x100) with the difference to fp32.
  std::ostringstream md;
  md << "| model | avg weight bits |";
  std::string sep = "|---|---|";
  for (const auto& r : results)
    for (const auto& [name, v] : r["rows"][0]["metrics"].items()) {
      md << " " << r["task"].get<std::string>() << " " << name << " (n=" << r["n"].get<size_t>() << ") |";
      sep += "---|";
    }
  md << " cosine to fp32 (mean, per task) |\n" << sep << "---|\n";
  for (size_t mi = 0; mi < models.size(); ++mi) {
    md << "| " << models[mi].stem().string() << " | " << fmt(loaded[mi]->info().avg_weight_bits, 3) << " |";
    std::string cos;
    for (const auto& r : results) {
      const auto& row = r["rows"][mi];
      for (const auto& [name, v] : row["metrics"].items()) {
        const auto& base = r["rows"][0]["metrics"][name];
        if (v.is_null()) { md << " n/a |"; continue; }
        md << " " << fmt(100 * v.get<double>(), 2);
        if (mi > 0 && !base.is_null()) md << " (" << fmt(100 * (v.get<double>() - base.get<double>()), 2, true) << ")";
        md << " |";
      }
      cos += (cos.empty() ? "" : ", ") + fmt(row["cosine_mean"].get<double>(), 4);
    }
    md << " " << cos << " |\n";
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  fs::create_directories(out);
  nlohmann::json doc = {{"models", a.require("models")}, {"folds", k}, {"pairs", pairs}, {"tasks", results},
                        {"total_seconds", total}};
  cli::write_file_atomic((out / "results.json").string(), doc.dump(2) + "\n");
  cli::write_file_atomic((out / "results.md").string(), md.str());
  std::cout << md.str() << "\nwritten: " << (out / "results.json").string() << ", " << (out / "results.md").string()
            << " (" << fmt(total, 0) << " s)\n";
  return 0;
}

}  // namespace rmsmp::run
