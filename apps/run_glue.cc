// rmsmp-run glue: a GLUE task file through a model and a head (fixed, or k-fold cross-validated on the file
// itself), scored with the task's own metrics, optionally beside a reference (fp32) model; and the helpers
// the GLUE table shares.
#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "heads/head.h"
#include "glue/metrics.h"
#include "glue/tasks.h"
#include "run_commands.h"
#include "run_eval.h"
#include "run_glue.h"

namespace rmsmp::run {

// Features of each example. Single sentences and `cross` pairs: the pooled embedding of the (pair) input.
// `bi` pairs (sentence-transformers style): a and b embedded alone, features [u * v, |u - v|].
std::vector<std::vector<float>> glue_features(const Model& m, const glue::Examples& ex, bool bi, const std::string& where, const std::string& label,
                   size_t* truncated) {
  if (ex.b.empty() || !bi) return cli::embed_pairs(m, ex.a, ex.b.empty() ? nullptr : &ex.b, where, label, nullptr, truncated);
  size_t ta = 0, tb = 0;
  const auto u = cli::embed_pairs(m, ex.a, nullptr, where, label + " (a)", nullptr, &ta);
  const auto v = cli::embed_pairs(m, ex.b, nullptr, where, label + " (b)", nullptr, &tb);
  *truncated = ta + tb;
  std::vector<std::vector<float>> f(u.size());
  for (size_t i = 0; i < u.size(); ++i) {
    f[i].resize(2 * u[i].size());
    for (size_t j = 0; j < u[i].size(); ++j) {
      f[i][j] = u[i][j] * v[i][j];
      f[i][u[i].size() + j] = std::fabs(u[i][j] - v[i][j]);
    }
  }
  return f;
}


using Emb = std::vector<std::vector<float>>;

namespace {

void predict_into(const cli::LinearHead& h, const Emb& e, size_t i, Predictions& p) {
  if (h.regression()) p.scores[i] = h.predict_value(e[i]);
  else p.classes[i] = h.predict(e[i]);
}

Predictions sized(const glue::Task& t, size_t n) {
  Predictions p;
  if (t.regression()) p.scores.assign(n, 0.0);
  else p.classes.assign(n, 0);
  return p;
}

}  // namespace

nlohmann::json score(const glue::Task& t, const glue::Examples& ex, const Predictions& p) {
  nlohmann::json m = nlohmann::json::object();
  for (const std::string& k : t.metrics) {
    double v = 0;
    if (k == "accuracy") v = glue::accuracy(p.classes, ex.labels);
    else if (k == "f1") v = glue::f1_binary(p.classes, ex.labels, 1);
    else if (k == "matthews") v = glue::matthews(p.classes, ex.labels);
    else if (k == "pearson") v = glue::pearson(p.scores, ex.scores);
    else if (k == "spearman") v = glue::spearman(p.scores, ex.scores);
    m[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);  // NaN: a constant prediction
  }
  return m;
}

namespace {

cli::LinearHead fit_head(const glue::Task& t, const Emb& x, const glue::Examples& ex, const std::vector<size_t>& rows) {
  Emb xs;
  xs.reserve(rows.size());
  for (size_t i : rows) xs.push_back(x[i]);
  if (t.regression()) {
    std::vector<double> y;
    for (size_t i : rows) y.push_back(ex.scores[i]);
    return cli::LinearHead::fit_ridge_select(xs, y, kL2Grid);
  }
  std::vector<int> y;
  for (size_t i : rows) y.push_back(ex.labels[i]);
  return cli::LinearHead::fit_select(xs, y, kL2Grid);
}

}  // namespace

std::vector<cli::LinearHead> fit_cv_heads(const glue::Task& t, const glue::Examples& ex, const Emb& fit_on, int k) {
  RMSMP_CHECK(k >= 2 && size_t(k) * 5 <= ex.size(), ErrorCode::InvalidArgument,
              "--cv K needs 2 <= K and at least 5 examples per fold (" << ex.size() << " examples)");
  RMSMP_CHECK(ex.labeled, ErrorCode::InvalidArgument, "cross-validation needs a labeled file");
  std::vector<cli::LinearHead> heads;
  for (int f = 0; f < k; ++f) {
    std::vector<size_t> train;
    for (size_t i = 0; i < ex.size(); ++i)
      if (int(i % size_t(k)) != f) train.push_back(i);
    heads.push_back(fit_head(t, fit_on, ex, train));
    cli::progress("cv folds " + t.name, size_t(f + 1), size_t(k));
  }
  return heads;
}

Predictions predict_cv(const glue::Task& t, const std::vector<cli::LinearHead>& heads, const Emb& feats) {
  Predictions p = sized(t, feats.size());
  for (size_t i = 0; i < feats.size(); ++i) predict_into(heads[i % heads.size()], feats, i, p);
  return p;
}

nlohmann::json cv_protocol(const glue::Task& t, int k, const std::string& fitted_on) {
  return {{"type", "cross-validation"},
          {"folds", k},
          {"fold_of_example", "row index (0-based, file order) mod K; each example is scored once, by the head fitted "
                              "on the other folds"},
          {"head", std::string(t.regression() ? "ridge regression" : "logistic regression") +
                       " on standardised features; L2 chosen per fold from {0.1, 1, ..., 1e5} on the last 20% of the "
                       "fold's training rows"},
          {"head_fitted_on", fitted_on}};
}

std::pair<double, double> cosine_stats(const Emb& a, const Emb& b) {
  double cmean = 0, cmin = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    const double c = cosine(a[i], b[i]);
    cmean += c, cmin = std::min(cmin, c);
  }
  return {cmean / double(a.size()), cmin};
}

namespace {

// Maps the checkpoint head's outputs onto the task's labels: by name when every name is a task label
// (case-insensitive), else by index when the counts agree.
std::vector<int> checkpoint_label_map(const glue::Task& t, const Model& m) {
  const ModelInfo& mi = m.info();
  if (t.regression()) {
    RMSMP_CHECK(mi.num_labels == 1, ErrorCode::InvalidArgument,
                mi.path << ": its head has " << mi.num_labels << " outputs; " << t.name << " needs one score");
    return {0};
  }
  auto lower = [](std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::vector<int> map;
  for (const std::string& l : mi.labels) {
    for (size_t j = 0; j < t.labels.size(); ++j)
      if (lower(l) == t.labels[j]) map.push_back(int(j));
  }
  if (map.size() == mi.labels.size()) return map;
  RMSMP_CHECK(size_t(mi.num_labels) == t.labels.size(), ErrorCode::InvalidArgument,
              mi.path << ": its head has " << mi.num_labels << " labels, " << t.name << " has " << t.labels.size());
  map.resize(t.labels.size());
  for (size_t j = 0; j < map.size(); ++j) map[j] = int(j);
  return map;
}

Emb checkpoint_logits(const Model& m, const glue::Examples& ex, const std::string& where, const std::string& label,
                      size_t* truncated) {
  const std::vector<Tokenized> toks = cli::tokenize_pairs(m, ex.a, ex.b.empty() ? nullptr : &ex.b, where, truncated);
  Emb out;
  for (size_t i0 = 0; i0 < toks.size(); i0 += 64) {
    std::vector<Tokenized> b(toks.begin() + long(i0), toks.begin() + long(std::min(toks.size(), i0 + 64)));
    for (auto& l : m.classify(b)) out.push_back(std::move(l));
    cli::progress(label, out.size(), toks.size());
  }
  return out;
}

Predictions from_logits(const glue::Task& t, const Emb& logits, const std::vector<int>& to_task) {
  Predictions p = sized(t, logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    if (t.regression()) {
      p.scores[i] = logits[i][0];
      continue;
    }
    size_t best = 0;
    for (size_t j = 1; j < logits[i].size(); ++j)
      if (logits[i][j] > logits[i][best]) best = j;
    p.classes[i] = to_task[best];
  }
  return p;
}

std::string predictions_tsv(const glue::Task& t, const glue::Examples& ex, const Predictions& p) {
  std::ostringstream os;
  os.precision(6);
  os << "index\tprediction\n";
  for (size_t i = 0; i < ex.size(); ++i) {
    os << (ex.ids.empty() ? std::to_string(i) : ex.ids[i]) << "\t";
    if (t.regression()) os << std::fixed << p.scores[i] << std::defaultfloat << "\n";
    else os << t.labels[size_t(p.classes[i])] << "\n";
  }
  return os.str();
}

}  // namespace

int cmd_glue(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"task", "data", "model", "reference", "head", "cv", "split", "predictions", "backend", "device", "pairs"}, {});
  const glue::Task& t = glue::task(a.require("task"));
  const std::string split = a.get_or("split", "dev");
  const std::string path = glue::split_path(t, a.require("data"), split);
  RMSMP_CHECK(!(a.get("head") && a.get("cv")), ErrorCode::InvalidArgument, "give --head HEAD.json or --cv K, not both");
  const LoadOptions lo = cli::load_options(a);
  auto m = Model::load(a.require("model"), lo);
  std::shared_ptr<const Model> ref;
  if (auto r = a.get("reference")) ref = Model::load(*r, lo);
  const std::string pairs = a.get_or("pairs", "cross");
  RMSMP_CHECK(pairs == "cross" || pairs == "bi", ErrorCode::InvalidArgument, "--pairs must be cross or bi");
  const bool bi = pairs == "bi";
  const glue::Examples ex = glue::read(t, path);
  RMSMP_CHECK(!a.get("cv") || ex.labeled, ErrorCode::InvalidArgument,
              path << ": has no labels (a test file), so --cv cannot fit heads on it; give --head");
  // Without --head/--cv the model's own classification head (kept from a BertForSequenceClassification
  // checkpoint) scores the task; its outputs are then the "features" compared with the reference.
  const bool own_head = !a.get("head") && !a.get("cv");
  RMSMP_CHECK(!own_head || m->info().num_labels > 0, ErrorCode::InvalidArgument,
              m->info().path << " has no classification head: give --head HEAD.json or --cv K");
  RMSMP_CHECK(!own_head || !bi, ErrorCode::InvalidArgument, "--pairs bi needs --head or --cv (a checkpoint head reads pairs encoded together)");
  std::vector<int> to_task;
  if (own_head) to_task = checkpoint_label_map(t, *m);
  if (own_head && ref) checkpoint_label_map(t, *ref);

  const auto t0 = std::chrono::steady_clock::now();
  size_t truncated = 0, truncated_ref = 0;
  const Emb em = own_head ? checkpoint_logits(*m, ex, path, t.name + " " + m->info().scheme, &truncated)
                          : glue_features(*m, ex, bi, path, t.name + " " + m->info().scheme, &truncated);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Emb er;
  if (ref) er = own_head ? checkpoint_logits(*ref, ex, path, t.name + " reference", &truncated_ref)
                         : glue_features(*ref, ex, bi, path, t.name + " reference", &truncated_ref);

  Predictions pm = sized(t, ex.size()), pr = sized(t, ex.size());
  nlohmann::json protocol;
  protocol["input"] = ex.b.empty() ? "[CLS] sentence [SEP]"
                      : bi     ? "[CLS] a [SEP] and [CLS] b [SEP] embedded separately (--pairs bi)"
                               : "[CLS] a [SEP] b [SEP] with token types 0/1 (--pairs cross)";
  protocol["features"] = ex.b.empty() || !bi ? "the model's pooled embedding" : "[u * v, |u - v|] of the two pooled embeddings";
  if (own_head) {
    pm = from_logits(t, em, to_task);
    if (ref) pr = from_logits(t, er, to_task);
    protocol["type"] = "checkpoint head";
    protocol["features"] = "the logits of the model's own pooler + classifier";
    protocol["labels"] = m->info().labels;
    protocol["label_mapping"] = t.regression() ? "one output read as the score" : "label names, else logit index order";
  } else if (auto hp = a.get("head")) {
    const cli::LinearHead h = cli::LinearHead::load(*hp);
    RMSMP_CHECK(h.regression() == t.regression() && (t.regression() || h.classes == int(t.labels.size())),
                ErrorCode::InvalidArgument,
                *hp << ": a " << (h.regression() ? "regression" : std::to_string(h.classes) + "-class")
                    << " head does not fit " << t.name << " ("
                    << (t.regression() ? "regression" : std::to_string(t.labels.size()) + " classes") << ")");
    for (size_t i = 0; i < ex.size(); ++i) {
      predict_into(h, em, i, pm);
      if (ref) predict_into(h, er, i, pr);
    }
    protocol["type"] = "fixed head";
    protocol["head"] = *hp;
    protocol["head_trained_on"] = h.trained_on;
  } else {
    const int k = std::stoi(*a.get("cv"));
    // The heads are fitted on the reference's (fp32) features when given, and reused unchanged for the
    // model under test, so both are scored by the same heads.
    const std::vector<cli::LinearHead> heads = fit_cv_heads(t, ex, ref ? er : em, k);
    pm = predict_cv(t, heads, em);
    if (ref) pr = predict_cv(t, heads, er);
    const nlohmann::json input = protocol["input"], features = protocol["features"];
    protocol = cv_protocol(t, k, ref ? ref->info().path + " (reference)" : m->info().path);
    protocol["input"] = input, protocol["features"] = features;
  }

  nlohmann::json r = {{"task", t.name},
                      {"split", split},
                      {"data", path},
                      {"n", ex.size()},
                      {"model", m->info().path},
                      {"scheme", m->info().scheme},
                      {"avg_weight_bits", m->info().avg_weight_bits},
                      {"model_bytes", m->info().file_bytes},
                      {"backend", m->info().backend},
                      {"truncated", truncated},
                      {"seconds", secs},
                      {"protocol", protocol}};
  if (ex.labeled) r["metrics"] = score(t, ex, pm);
  if (ref) {
    r["reference"] = {{"model", ref->info().path}, {"scheme", ref->info().scheme}};
    if (ex.labeled) r["reference"]["metrics"] = score(t, ex, pr);
    const auto [cmean, cmin] = cosine_stats(em, er);  // between the two models' features
    r["cosine_mean"] = cmean;
    r["cosine_min"] = cmin;
  }
  if (auto out = a.get("predictions")) {
    cli::write_file_atomic(*out, predictions_tsv(t, ex, pm));
    r["predictions"] = *out;
  }
  std::cout << r.dump() << "\n";
  return 0;
}

}  // namespace rmsmp::run
