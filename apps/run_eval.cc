// rmsmp-run fit-head and eval; also the evaluation routine the demo reuses.
#include <chrono>
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "heads/head.h"
#include "glue/metrics.h"
#include "glue/tasks.h"
#include "run_commands.h"
#include "run_eval.h"
#include "run_glue.h"

namespace rmsmp::run {

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) d += double(a[i]) * b[i], na += double(a[i]) * a[i], nb += double(b[i]) * b[i];
  return d / std::sqrt(std::max(na * nb, 1e-30));
}

nlohmann::json evaluate(const Model& m, const cli::LinearHead& head, const cli::LabeledText& data, const std::string& where,
                        const Model* reference, const std::vector<std::vector<float>>* reference_emb,
                        std::vector<std::vector<float>>* emb_out) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<float>> emb = cli::embed_texts(m, data.sentences, where, "eval " + m.info().scheme);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t correct = 0;
  for (size_t i = 0; i < emb.size(); ++i) correct += head.predict(emb[i]) == data.labels[i];
  nlohmann::json r = {{"model", m.info().path},
                      {"scheme", m.info().scheme},
                      {"accuracy", double(correct) / double(emb.size())},
                      {"n", emb.size()},
                      {"avg_weight_bits", m.info().avg_weight_bits},
                      {"model_bytes", m.info().file_bytes},
                      {"seconds", secs},
                      {"backend", m.info().backend}};
  std::vector<std::vector<float>> ref_local;
  if (reference && !reference_emb) {
    ref_local = cli::embed_texts(*reference, data.sentences, where, "eval reference");
    reference_emb = &ref_local;
  }
  if (reference_emb) {
    size_t rc = 0;
    double cmean = 0, cmin = 1;
    for (size_t i = 0; i < emb.size(); ++i) {
      rc += head.predict((*reference_emb)[i]) == data.labels[i];
      const double c = cosine(emb[i], (*reference_emb)[i]);
      cmean += c, cmin = std::min(cmin, c);
    }
    r["reference_accuracy"] = double(rc) / double(emb.size());
    r["cosine_mean"] = cmean / double(emb.size());
    r["cosine_min"] = cmin;
    if (reference) r["reference"] = reference->info().path;
  }
  if (emb_out) *emb_out = std::move(emb);
  return r;
}

int cmd_fit_head(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"model", "train", "out", "l2", "limit", "task", "pairs", "backend", "device"}, {});
  auto m = Model::load(a.require("model"), cli::load_options(a));
  const std::string out = a.require("out");
  std::string train = a.require("train");
  // Either the plain "sentence<TAB>label" TSV, or with --task a GLUE train file (pairs, label names, scores).
  const std::string pairs = a.get_or("pairs", "cross");
  RMSMP_CHECK(pairs == "cross" || pairs == "bi", ErrorCode::InvalidArgument, "--pairs must be cross or bi");
  std::vector<std::string> ta, tb;
  std::vector<int> labels;
  std::vector<double> scores;
  bool regression = false;
  if (auto task = a.get("task")) {
    const glue::Task& t = glue::task(*task);
    train = glue::split_path(t, train, "train");
    glue::Examples ex = glue::read(t, train);
    RMSMP_CHECK(ex.labeled, ErrorCode::InvalidFile, train << ": has no labels to fit a head on");
    ta = std::move(ex.a), tb = std::move(ex.b), labels = std::move(ex.labels), scores = std::move(ex.scores);
    regression = t.regression();
  } else {
    cli::LabeledText d = cli::read_labeled_tsv(train);
    ta = std::move(d.sentences), labels = std::move(d.labels);
  }
  if (auto n = a.get("limit")) {
    const size_t lim = std::stoul(*n);
    if (ta.size() > lim) {  // first N rows
      ta.resize(lim);
      if (!tb.empty()) tb.resize(lim);
      if (!labels.empty()) labels.resize(lim);
      if (!scores.empty()) scores.resize(lim);
    }
  }
  glue::Examples in;
  in.a = std::move(ta), in.b = std::move(tb);
  size_t truncated = 0;
  auto emb = glue_features(*m, in, pairs == "bi", train, "fit-head", &truncated);
  // --l2 X fixes the regularisation; without it, l2 is chosen on the last 20% of the training rows.
  const auto l2 = a.get("l2");
  cli::LinearHead h = regression ? (l2 ? cli::LinearHead::fit_ridge(emb, scores, std::stod(*l2))
                                       : cli::LinearHead::fit_ridge_select(emb, scores, kL2Grid))
                                 : (l2 ? cli::LinearHead::fit(emb, labels, std::stod(*l2))
                                       : cli::LinearHead::fit_select(emb, labels, kL2Grid));
  h.trained_on = train + " (" + std::to_string(in.size()) + " examples, --pairs " + pairs + ") with " + m->info().path;
  h.save(out);
  nlohmann::json r = {{"head", out}, {"n", emb.size()}, {"classes", h.classes}, {"l2", h.l2}};
  if (regression) {
    std::vector<double> p;
    for (const auto& e : emb) p.push_back(h.predict_value(e));
    r["train_pearson"] = glue::pearson(p, scores);
  } else {
    size_t correct = 0;
    for (size_t i = 0; i < emb.size(); ++i) correct += h.predict(emb[i]) == labels[i];
    r["train_accuracy"] = double(correct) / double(emb.size());
  }
  std::cout << r.dump() << "\n";
  return 0;
}

int cmd_eval(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"model", "head", "data", "reference", "backend", "device"}, {});
  const LoadOptions lo = cli::load_options(a);
  auto m = Model::load(a.require("model"), lo);
  cli::LinearHead h = cli::LinearHead::load(a.require("head"));
  const std::string data = a.require("data");
  cli::LabeledText d = cli::read_labeled_tsv(data);
  std::shared_ptr<const Model> ref;
  if (auto r = a.get("reference")) ref = Model::load(*r, lo);
  std::cout << evaluate(*m, h, d, data, ref.get(), nullptr, nullptr).dump() << "\n";
  return 0;
}

}  // namespace rmsmp::run
