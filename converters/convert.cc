// Conversion: load checkpoint, calibrate (when the scheme needs H or static clips), assign rows per layer,
// pack with the engine's reference packer, write the file atomically, build the report.
#include "convert.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "calibration.h"
#include "core/hash.h"
#include "gptq.h"
#include "hf_checkpoint.h"
#include "io/model_format.h"
#include "layer_plan.h"
#include "qat_plan.h"
#include "models/encoder_tensors.h"
#include "models/tokenizer_config.h"
#include "rmsmp/error.h"

namespace rmsmp {

const std::vector<std::string>& convert_scheme_names() {
  // RMSMP, every scheme of the table as a uniform baseline (fp32, fixed8, fixed4, pot4, ...), and the two
  // assignment baselines.
  static const std::vector<std::string> k = [] {
    std::vector<std::string> v = {"rmsmp"};
    for (const QuantScheme& s : kQuantSchemes) v.push_back(s.name);
    v.push_back("layerwise");
    v.push_back("random");
    return v;
  }();
  return k;
}

const std::vector<std::string>& uniform_baseline_schemes() {
  static const std::vector<std::string> k = [] {
    std::vector<std::string> v;
    for (const QuantScheme& s : kQuantSchemes)
      if (quant_is_integer(s.kind)) v.push_back(s.name);
    return v;
  }();
  return k;
}

std::shared_ptr<const CalibrationResult> calibrate_checkpoint(const std::string& in_dir,
                                                              const std::vector<std::string>& sentences) {
  HfBertCheckpoint ck = load_hf_bert(in_dir);
  BertWeights fw = ck.fp32_weights();
  return std::make_shared<CalibrationResult>(calibrate(fw, *ck.tokenizer, sentences));
}

nlohmann::json convert_checkpoint(const ConvertOptions& opt, const std::function<void(const std::string&)>& log) {
  const auto t0 = std::chrono::steady_clock::now();
  auto say = [&](const std::string& m) { if (log) log(m); };
  const ConvertNeeds needs = check_convert_options(opt);
  const bool is_fp32 = needs.is_fp32, need_h = needs.need_h, use_gptq = needs.use_gptq, need_calib = needs.need_calib;
  RMSMP_CHECK(!need_calib || !opt.calib_sentences.empty(), ErrorCode::InvalidArgument,
              "--scheme " << opt.scheme << (opt.act_bits == 4 ? " with --act-bits 4" : "")
                          << (use_gptq ? " with --gptq" : "") << " needs calibration text: pass --calib TEXT_FILE");

  say("loading " + opt.in_dir);
  HfBertCheckpoint ck = load_hf_bert(opt.in_dir);
  if (opt.max_seq_length > 0) {
    RMSMP_CHECK(opt.max_seq_length >= 3 && opt.max_seq_length <= ck.cfg.max_position_embeddings,
                ErrorCode::InvalidArgument,
                "--max-seq-length " << opt.max_seq_length << " outside [3, " << ck.cfg.max_position_embeddings
                                    << "] (the checkpoint's max_position_embeddings)");
    ck.notes.push_back("max_seq_length " + std::to_string(ck.cfg.max_seq_length) + " overridden to " +
                       std::to_string(opt.max_seq_length) + " by --max-seq-length");
    ck.cfg.max_seq_length = opt.max_seq_length;
  }
  const BertConfig& c = ck.cfg;
  QatPlan plan;
  const bool from_plan = !opt.plan_path.empty();
  if (from_plan) {
    say("reading the plan " + opt.plan_path);
    plan = read_qat_plan(opt.plan_path);
    for (auto& [name, t] : plan.fp32) {
      auto it = ck.tensors.find(name);
      RMSMP_CHECK(it != ck.tensors.end() && it->second.size() == t.second.size(), ErrorCode::InvalidFile,
                  opt.plan_path << ": tensor " << name << (it == ck.tensors.end() ? " is not in the checkpoint"
                                                                                 : " differs in size from the checkpoint's"));
      it->second = t.second;
    }
  }
  std::shared_ptr<const CalibrationResult> cal_ptr = opt.calibration;
  if (need_calib && !cal_ptr) {
    BertWeights fw = ck.fp32_weights();
    cal_ptr = std::make_shared<CalibrationResult>(calibrate(fw, *ck.tokenizer, opt.calib_sentences, [&](size_t d, size_t n) {
      if (d == n || d % 128 == 0) say("calibration " + std::to_string(d) + "/" + std::to_string(n) + " sentences");
    }));
  }
  static const CalibrationResult kNoCalibration;
  const CalibrationResult& cal = cal_ptr ? *cal_ptr : kNoCalibration;

  // Per layer: scores (if H), assignment.
  std::vector<LayerPlan> plans;
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (const char* kind : kBertLinearKinds) {
      LayerPlan p;
      p.name = bert_linear_name(l, kind);
      p.rows = std::string(kind) == "ffn_in" ? c.intermediate_size : c.hidden_size;
      p.cols = std::string(kind) == "ffn_out" ? c.intermediate_size : c.hidden_size;
      plans.push_back(std::move(p));
    }
  if (need_h) say("scoring rows (Hessian and variance)");
  if (use_gptq) say("error-compensated rounding (gptq) in every layer");
  nlohmann::json layerwise_info;
  std::vector<QuantizedRows> rows_of(plans.size());
  if (from_plan) {
    for (size_t i = 0; i < plans.size(); ++i) {
      const std::string w = plans[i].name + ".weight";
      auto it = plan.quantized.find(w);
      RMSMP_CHECK(it != plan.quantized.end() && plan.rows_cols.at(w) == std::make_pair(plans[i].rows, plans[i].cols),
                  ErrorCode::InvalidFile, opt.plan_path << ": " << w << " is missing or has another shape");
      rows_of[i] = it->second;
      plans[i].assign = rows_of[i].kinds;
    }
  } else {
    layerwise_info = plan_layers(
        plans, opt, [&](const LayerPlan& p) -> const std::vector<float>& { return ck.tensor(p.name + ".weight"); },
        [&](const LayerPlan& p) -> const Eigen::MatrixXf& { return cal.for_layer(p.name).H; });
    for (size_t i = 0; i < plans.size(); ++i) {
      const LayerPlan& p = plans[i];
      rows_of[i] = quantize_rows(ck.tensor(p.name + ".weight"), p.rows, p.cols, p.assign, opt.clip,
                                 p.has_scores ? &p.scores : nullptr, use_gptq ? &cal.for_layer(p.name).H : nullptr,
                                 opt.clip_hessian);
    }
  }

  // Write.
  say("packing " + std::to_string(plans.size()) + " linear layers");
  ModelWriter mw;
  auto put = [&](const std::string& n, std::vector<int64_t> shape) { mw.add_tensor(n, DType::F32, shape, ck.tensor(n).data()); };
  std::string emb = opt.embeddings.empty() ? default_embeddings(opt.scheme) : opt.embeddings;
  const auto plan_table = plan.quantized.find(enc::kWord);
  if (from_plan) {  // the plan's table, or its fp32 one
    emb = "fp32";
    if (plan_table != plan.quantized.end()) {
      emb = quant_scheme(plan_table->second.kinds.at(0)).name;
      for (QuantKind k : plan_table->second.kinds)
        RMSMP_CHECK(k == plan_table->second.kinds[0] && quant_is_integer(k), ErrorCode::InvalidFile,
                    opt.plan_path << ": " << enc::kWord << " rows must share one integer scheme");
    }
  }
  const std::optional<QuantKind> emb_kind = quant_kind_from_name(emb);
  if (!emb_kind) {
    std::string names;
    for (const QuantScheme& q : kQuantSchemes) names += (names.empty() ? "" : ", ") + std::string(q.name);
    RMSMP_FAIL(ErrorCode::InvalidArgument, "--embeddings must be a scheme of the table: " << names << " (got '" << emb << "')");
  }
  RMSMP_CHECK(!is_fp32 || emb == "fp32", ErrorCode::InvalidArgument,
              "--scheme fp32 keeps fp32 embeddings (got --embeddings " << emb << ")");
  nlohmann::json tables = nlohmann::json::object(), emb_report;
  QuantizedRows table_rows;
  if (emb == "fp32") {
    put(enc::kWord, {c.vocab_size, c.hidden_size});
  } else {
    say("packing the word embeddings as " + emb + " rows");
    table_rows = from_plan ? plan_table->second
                           : quantize_table(ck.tensor(enc::kWord), c.vocab_size, c.hidden_size,
                                            *emb_kind, opt.clip);
    RMSMP_CHECK(table_rows.kinds.size() == size_t(c.vocab_size) && table_rows.w.size() == size_t(c.vocab_size * c.hidden_size),
                ErrorCode::InvalidFile, opt.plan_path << ": " << enc::kWord << " has another shape than the checkpoint's");
    pack_table_rows(mw, enc::kWord, table_rows, c.vocab_size, c.hidden_size, tables, emb_report);
  }
  for (const enc::Tensor& t : enc::fp32_tensors_before_linears(c)) put(t.name, t.shape);
  nlohmann::json linears = nlohmann::json::object(), rep_layers = nlohmann::json::array();
  double code_bits = 0, n_weights = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    const LayerPlan& p = plans[i];
    ActQuant act;
    act.bits = is_fp32 ? 8 : opt.act_bits;
    if (act.bits == 4) {
      act.dynamic = false;
      act.clip = activation_clip_mse(cal.for_layer(p.name).abs_sample, 4);
    }
    nlohmann::json rl;
    pack_linear_rows(mw, {p.name, &rows_of[i], &ck.tensor(p.name + ".bias"), p.rows, p.cols, act,
                          p.has_scores ? &p.scores : nullptr},
                     linears, rl);
    code_bits += rl["bits_per_weight"].get<double>() * double(p.rows * p.cols);
    n_weights += double(p.rows * p.cols);
    rep_layers.push_back(rl);
  }
  // The layer norms, the Dense modules and the classification head: small, kept fp32.
  for (const enc::Tensor& t : enc::fp32_tensors_after_linears(c, ck.num_labels)) put(t.name, t.shape);
  if (ck.num_labels > 0) {
    mw.header()["head"] = {{"type", "sequence_classification"},
                           {"num_labels", ck.num_labels},
                           {"labels", ck.labels},
                           {"problem_type", ck.regression ? "regression" : "single_label_classification"},
                           {"pooler", ck.head_activation + "(W [CLS] + b)"},
                           {"pooler_activation", ck.head_activation}};
  }
  const double avg_bits = code_bits / n_weights;
  nlohmann::json& h = mw.header();
  h["architecture"] = c.to_json();
  h["tokenizer"] = tokenizer_to_json(*ck.tokenizer, mw);
  nlohmann::json q = quantization_json(opt, needs, "", "dynamic per-token int8", "static per-layer int4 (MSE clip)",
                                       layerwise_info);
  q["avg_weight_bits"] = avg_bits;
  q["avg_weight_bits_note"] = "code bits of the row-quantized linear layers; per-row fp32 steps not counted";
  q["embeddings"] = emb;
  if (from_plan) {
    q["rounding"] = "from the plan (every value on its row's grid)";
    q["plan"] = {{"source", opt.plan_path}, {"metadata", plan.metadata}};
  }
  h["quantization"] = q;
  nlohmann::json prov = {{"source", opt.in_dir},
                         {"source_weights", ck.weights_path},
                         {"source_sha256", ck.weights_sha256},
                         {"converter", "rmsmp-convert"},
                         {"converter_version", kConverterVersion},
                         {"options", opt.command_line},
                         {"notes", ck.notes}};
  if (!opt.ratio_provenance.is_null()) prov["ratio_derivation"] = opt.ratio_provenance;
  if (need_calib) {
    Sha256 cs;
    for (const auto& s : opt.calib_sentences) cs.update(s.data(), s.size()), cs.update("\n", 1);
    prov["calibration"] = {{"source", opt.calib_source}, {"sentences", cal.n_sentences}, {"tokens", cal.n_tokens},
                           {"truncated", cal.n_truncated}, {"sha256_of_lines", cs.hex_digest()}};
  }
  h["provenance"] = prov;
  h["linears"] = linears;
  if (!tables.empty()) h["tables"] = tables;
  say("writing " + opt.out_path);
  mw.write(opt.out_path);
  if (!opt.export_plan_path.empty()) {
    say("writing the plan " + opt.export_plan_path);
    QatPlan out;
    for (const auto& [name, v] : ck.tensors) out.fp32[name] = {{int64_t(v.size())}, v};
    auto shape = [&](const std::string& name, std::vector<int64_t> s) { out.fp32.at(name).first = std::move(s); };
    shape(enc::kWord, {c.vocab_size, c.hidden_size});
    for (const auto& list : {enc::fp32_tensors_before_linears(c), enc::fp32_tensors_after_linears(c, ck.num_labels)})
      for (const enc::Tensor& t : list) shape(t.name, t.shape);
    for (size_t i = 0; i < plans.size(); ++i) {
      const std::string w = plans[i].name + ".weight";
      shape(w, {plans[i].rows, plans[i].cols});
      out.quantized[w] = rows_of[i];
      out.rows_cols[w] = {plans[i].rows, plans[i].cols};
    }
    if (!table_rows.kinds.empty()) {
      out.quantized[enc::kWord] = table_rows;
      out.rows_cols[enc::kWord] = {c.vocab_size, c.hidden_size};
    }
    out.metadata = {{"architecture", c.to_json().dump()},
                    {"act", is_fp32 ? "fp32" : opt.act_bits == 8 ? "dynamic per-token int8" : "static per-layer int4"},
                    {"source", opt.in_dir},
                    {"history", "rmsmp-convert " + std::string(kConverterVersion) + ": " + opt.command_line}};
    write_qat_plan(opt.export_plan_path, out);
  }

  return conversion_report(opt, avg_bits,
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), q, prov,
                           rep_layers, emb_report.is_null() ? nlohmann::json::object()
                                                            : nlohmann::json{{"embeddings", emb_report}});
}

}  // namespace rmsmp
