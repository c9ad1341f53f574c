// Vision conversion: state dict -> graph with folded BN (vision_arch) -> calibration on images through the
// engine's own fp32 forward (when the scheme needs H or static clips) -> row assignment per conv (layer_plan)
// -> packed file, written atomically.
#include "vision_convert.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include <Eigen/Core>

#include "backends/backend.h"
#include "calibration.h"
#include "core/hash.h"
#include "io/model_format.h"
#include "layer_plan.h"
#include "models/cnn.h"
#include "rmsmp/error.h"
#include "vision_io/dataset.h"
#include "vision_arch.h"
#include "vision_plan.h"

namespace rmsmp {

namespace fs = std::filesystem;

bool is_vision_checkpoint(const std::string& path) {
  if (!fs::is_regular_file(path)) return false;
  const std::string e = fs::path(path).extension().string();
  return e == ".pth" || e == ".pt" || e == ".safetensors";
}

namespace {

constexpr size_t kMaxAbsSample = 1 << 18;  // per layer

VisionInfo info_of(const CnnModelSpec& s) {
  VisionInfo vi;
  vi.path = "(calibration)";
  vi.channels = s.pre.channels, vi.height = s.pre.height, vi.width = s.pre.width;
  vi.resize = s.pre.resize, vi.crop = s.pre.crop, vi.mean = s.pre.mean, vi.std = s.pre.std;
  return vi;
}

// Calibration inputs, already transformed for the model (NHWC).
std::vector<std::vector<float>> calibration_images(const CnnModelSpec& spec, const std::string& src, int64_t n) {
  const VisionInfo vi = info_of(spec);
  std::vector<std::vector<float>> out;
  if (fs::is_directory(src)) {
    const auto files = vision::list_images(src);
    RMSMP_CHECK(!files.empty(), ErrorCode::InvalidArgument, src << ": no .jpg/.png images for calibration");
    for (size_t i = 0; i < files.size() && int64_t(out.size()) < n; ++i)
      out.push_back(vision::model_input(vi, vision::load_image(files[i])));
  } else {
    const vision::IdxImages im = vision::read_idx_images(src);
    for (int64_t i = 0; i < im.n && i < n; ++i)
      out.push_back(vision::model_input_gray(vi, im.pixels.data() + i * im.h * im.w, im.h, im.w));
  }
  return out;
}

// Adds one conv's input patches to per-group column sums (groups x cols). Rows are (pixel, group): row r
// belongs to group r % groups (cnn.cc's calibration hook).
void add_column_sums(const ConvLayerSpec& c, const float* x, int64_t n, std::vector<double>& sums) {
  const int64_t K = c.cols(), G = c.groups;
  for (int64_t r = 0; r < n; ++r) {
    double* s = sums.data() + (r % G) * K;
    for (int64_t k = 0; k < K; ++k) s[k] += double(x[r * K + k]);
  }
}

// b - (W_q - W) E[x] per output channel, E[x] its group's mean input patch (sums over n_rows patch rows).
std::vector<float> corrected_bias(const ConvLayerSpec& c, const QuantizedRows& qr, const std::vector<double>& sums,
                                  int64_t n_rows) {
  const int64_t K = c.cols(), per_group = c.cout / c.groups;
  const double n = double(n_rows / c.groups);
  std::vector<float> b = c.bias;
  for (int64_t o = 0; o < c.cout; ++o) {
    const double* s = sums.data() + (o / per_group) * K;
    double d = 0;
    for (int64_t k = 0; k < K; ++k) d += (double(qr.w[size_t(o * K + k)]) - double(c.w[size_t(o * K + k)])) * s[k];
    b[size_t(o)] = float(double(b[size_t(o)]) - d / n);
  }
  return b;
}

ActQuant act_of(const ConvLayerSpec& c, const LayerPlan* p, const VisionConvertOptions& opt,
                const std::vector<LayerCalibration>* cal, size_t i) {
  ActQuant act;
  act.nonneg = c.input_nonneg;
  act.per_tensor = true;  // 8 bits: one step per input tensor, from its max
  act.bits = (p && p->pinned) ? 8 : opt.base.act_bits;
  if (p && act.bits == 4 && opt.base.scheme != "fp32") {
    act.per_tensor = false;
    act.dynamic = false;
    act.clip = activation_clip_mse((*cal)[i].abs_sample, 4, act.nonneg);
  } else if (p && opt.static_act8 && opt.base.scheme != "fp32" && (*cal)[i].abs_max > 0.f) {
    // --act-range static: one step per layer from the largest input seen in calibration, so a producer can
    // hand its output over already quantized (cnn.cc's int8 handoff) instead of each reader finding the max.
    act.per_tensor = false;
    act.dynamic = false;
    act.clip = (*cal)[i].abs_max;
  }
  if (!p || opt.base.scheme == "fp32") act.bits = 8;
  return act;
}

std::vector<ActQuant> acts_of(const CnnModelSpec& spec, const VisionConvertOptions& opt,
                              const std::vector<LayerPlan>* plans, const std::vector<LayerCalibration>* cal) {
  std::vector<ActQuant> a;
  for (size_t i = 0; i < spec.convs.size(); ++i) a.push_back(act_of(spec.convs[i], plans ? &(*plans)[i] : nullptr, opt, cal, i));
  return a;
}

// Rows [begin, end) of a layer's scores.
RowScores slice_scores(const RowScores& s, int64_t begin, int64_t end) {
  auto cut = [&](const auto& v) { return std::decay_t<decltype(v)>(v.begin() + begin, v.begin() + end); };
  RowScores o;
  o.sens_fixed4 = cut(s.sens_fixed4), o.sens_pot4 = cut(s.sens_pot4), o.variance = cut(s.variance);
  o.step_fixed4 = cut(s.step_fixed4), o.step_pot4 = cut(s.step_pot4);
  return o;
}

// Scores of a grouped conv's rows, each group's rows against its own H (LayerCalibration::group_H).
RowScores score_grouped(const ConvLayerSpec& c, const LayerCalibration& lc, ClipMode clip) {
  const int64_t per = c.cout / c.groups, K = c.cols();
  RowScores all;
  for (int64_t g = 0; g < c.groups; ++g) {
    const RowScores s = score_rows(c.w.data() + g * per * K, per, K, lc.group_H[size_t(g)], clip);
    auto add = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
    add(all.sens_fixed4, s.sens_fixed4), add(all.sens_pot4, s.sens_pot4), add(all.variance, s.variance);
    add(all.step_fixed4, s.step_fixed4), add(all.step_pot4, s.step_pot4);
  }
  return all;
}

// Every conv's rows quantized per its plan (fp32 rows when plans is null), GPTQ-rounded where asked.
std::vector<QuantizedRows> quantize_layers(const CnnModelSpec& spec, const VisionConvertOptions& opt,
                                           const std::vector<LayerPlan>* plans,
                                           const std::vector<LayerCalibration>* cal) {
  std::vector<QuantizedRows> out;
  for (size_t i = 0; i < spec.convs.size(); ++i) {
    const ConvLayerSpec& c = spec.convs[i];
    const LayerPlan* p = plans ? &(*plans)[i] : nullptr;
    const bool gptq = p && opt.base.gptq && opt.base.scheme != "fp32";
    if (gptq && !(*cal)[i].group_H.empty()) {  // each group's rows through its own H
      const int64_t per = c.cout / c.groups, K = c.cols();
      QuantizedRows all;
      for (int64_t g = 0; g < c.groups; ++g) {
        const std::vector<float> w(c.w.begin() + g * per * K, c.w.begin() + (g + 1) * per * K);
        const std::vector<QuantKind> a(p->assign.begin() + g * per, p->assign.begin() + (g + 1) * per);
        const RowScores s = p->has_scores ? slice_scores(p->scores, g * per, (g + 1) * per) : RowScores{};
        const QuantizedRows q = quantize_rows(w, per, K, a, opt.base.clip, p->has_scores ? &s : nullptr,
                                              &(*cal)[i].group_H[size_t(g)]);
        all.kinds.insert(all.kinds.end(), q.kinds.begin(), q.kinds.end());
        all.steps.insert(all.steps.end(), q.steps.begin(), q.steps.end());
        all.w.insert(all.w.end(), q.w.begin(), q.w.end());
      }
      out.push_back(std::move(all));
      continue;
    }
    out.push_back(quantize_rows(c.w, c.cout, c.cols(), p ? p->assign : std::vector<QuantKind>(size_t(c.cout), QuantKind::F32),
                                opt.base.clip, p && p->has_scores ? &p->scores : nullptr,
                                gptq ? &(*cal)[i].H : nullptr));
  }
  return out;
}

// Writes the model: every conv's rows `qrs[i]` with bias `biases[i]`, the graph, quantization and provenance;
// to `path`, or (bytes non-null) into *bytes: the file's bytes for ModelFile::from_bytes, no file written.
nlohmann::json write_model(const std::string& path, const CnnModelSpec& spec, const VisionConvertOptions& opt,
                           const std::vector<LayerPlan>* plans, const std::vector<ActQuant>& acts,
                           const std::vector<QuantizedRows>& qrs, const std::vector<std::vector<float>>& biases,
                           const nlohmann::json& q, const nlohmann::json& prov, double* avg_bits,
                           std::vector<uint8_t>* bytes = nullptr) {
  ModelWriter mw;
  nlohmann::json linears = nlohmann::json::object(), rep = nlohmann::json::array();
  double code_bits = 0, n_weights = 0;
  for (size_t i = 0; i < spec.convs.size(); ++i) {
    const ConvLayerSpec& c = spec.convs[i];
    const LayerPlan* p = plans ? &(*plans)[i] : nullptr;
    nlohmann::json rl;
    pack_linear_rows(mw, {c.name, &qrs[i], &biases[i], c.cout, c.cols(), acts[i],
                          p && p->has_scores ? &p->scores : nullptr},
                     linears, rl);
    code_bits += rl["bits_per_weight"].get<double>() * double(c.cout * c.cols());
    n_weights += double(c.cout * c.cols());
    rl["pinned"] = p && p->pinned.has_value();
    rl["bias_corrected"] = biases[i] != c.bias;
    rep.push_back(rl);
  }
  *avg_bits = code_bits / n_weights;
  nlohmann::json& h = mw.header();
  h["architecture"] = spec.to_json(opt.labels);
  nlohmann::json qq = q;
  qq["avg_weight_bits"] = *avg_bits;
  h["quantization"] = qq;
  h["provenance"] = prov;
  h["linears"] = linears;
  if (bytes) *bytes = mw.bytes();
  else mw.write(path);
  return rep;
}

// The engine's forward over the images on the model in `file`, on cpu-exact (the same statistics on every
// CPU, see calibration.cc), calling `hook` with every conv's input patches.
void forward_images(const ModelFile& file, const std::vector<std::vector<float>>& imgs, const CnnLayerHook& hook,
                    const std::function<void(size_t)>& progress) {
  CnnGraph g = cnn_bind(file);
  const auto be = make_backend("cpu-exact");
  cnn_prepare(g, *be, file);
  for (size_t i = 0; i < imgs.size(); ++i) {
    cnn_forward(g, *be, imgs[i].data(), &hook);
    if (progress) progress(i + 1);
  }
}

// --plan: every row, bias and activation clip from a QAT plan (vision_plan.h); nothing to calibrate, assign or
// round, so the packed model computes exactly what the trainer's fake-quantized forward did.
nlohmann::json convert_from_plan(const CnnModelSpec& spec, const VisionConvertOptions& opt, const ConvertNeeds& needs,
                                 const nlohmann::json& prov, std::chrono::steady_clock::time_point t0,
                                 const std::function<void(const std::string&)>& say) {
  const ConvertOptions& o = opt.base;
  say("reading the plan " + o.plan_path);
  const VisionPlanLayers pl = read_vision_plan(o.plan_path, spec);
  std::vector<LayerPlan> plans(spec.convs.size());
  for (size_t i = 0; i < plans.size(); ++i)
    plans[i].name = spec.convs[i].name, plans[i].rows = spec.convs[i].cout, plans[i].cols = spec.convs[i].cols();
  const auto it = pl.metadata.find("act");
  const std::string act = "from the plan" + (it != pl.metadata.end() ? ": " + it->second : std::string());
  nlohmann::json q = quantization_json(o, needs, "", act, act, nullptr);
  int act_bits = 8;
  for (const ActQuant& a : pl.acts) act_bits = std::min(act_bits, a.bits);
  q["act_bits"] = act_bits;
  q["plan"] = {{"source", o.plan_path}, {"metadata", pl.metadata}};
  q["bias_correction"] = "from the plan";
  q["rounding"] = "from the plan (every value on its row's grid)";
  say("packing " + std::to_string(plans.size()) + " layers; writing " + o.out_path);
  double avg_bits = 32;
  const nlohmann::json rep_layers =
      write_model(o.out_path, spec, opt, &plans, pl.acts, pl.rows, pl.biases, q, prov, &avg_bits);
  q["avg_weight_bits"] = avg_bits;
  return conversion_report(o, avg_bits, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                           q, prov, rep_layers, {{"architecture", spec.arch}});
}

}  // namespace

nlohmann::json convert_vision_checkpoint(const VisionConvertOptions& opt_in,
                                         const std::function<void(const std::string&)>& log) {
  const auto t0 = std::chrono::steady_clock::now();
  auto say = [&](const std::string& m) { if (log) log(m); };
  check_convert_options(opt_in.base);  // option errors before the checkpoint is read
  say("loading " + opt_in.base.in_dir);
  const auto sd = StateDict::open(opt_in.base.in_dir);
  const CnnModelSpec spec = build_cnn(*sd, opt_in.arch);
  say("architecture " + spec.arch + ": " + std::to_string(spec.convs.size()) + " conv/fc layers, " +
      std::to_string(spec.num_classes) + " classes");
  VisionConvertOptions opt = opt_in;
  if (opt.calib_images.empty() && !opt.default_calib_images.empty() && spec.pre.channels == 3 &&
      opt.base.scheme != "fp32" && opt.base.plan_path.empty()) {  // photos suit RGB models only (not, say, Fashion-MNIST's grayscale)
    opt.calib_images = opt.default_calib_images;
    if (!opt.rounding_explicit) opt.base.gptq = true;
    say("no --calib-images: calibrating on the default photos in " + opt.calib_images);
  }
  const ConvertOptions& o = opt.base;
  const ConvertNeeds needs = check_convert_options(o);
  const bool need_h = needs.need_h, use_gptq = needs.use_gptq;
  RMSMP_CHECK(!needs.need_calib || !opt.calib_images.empty(), ErrorCode::InvalidArgument,
              "--scheme " << o.scheme << (o.act_bits == 4 ? " with --act-bits 4" : "")
                          << (use_gptq ? " with --rounding gptq" : "")
                          << " needs calibration images: pass --calib-images DIR|IDX_FILE"
                          << (spec.pre.channels == 3 ? " (or run scripts/photos.sh once: its calib/ photos are then "
                                                       "the default)"
                                                     : ""));

  // Bias correction calibrates whenever images are given (also for schemes that would not need them).
  const bool correct = opt.bias_correction && !needs.is_fp32 && !opt.calib_images.empty();
  opt.static_act8 = !needs.is_fp32 && o.act_bits == 8 &&
                    (opt.act_range == "static" || (opt.act_range.empty() && !opt.calib_images.empty()));
  const bool need_calib = needs.need_calib || correct || opt.static_act8;
  RMSMP_CHECK(!opt.static_act8 || needs.is_fp32 || !opt.calib_images.empty(), ErrorCode::InvalidArgument,
              "--act-range static needs calibration images: pass --calib-images DIR|IDX_FILE");
  RMSMP_CHECK(opt.labels.empty() || int64_t(opt.labels.size()) == spec.num_classes, ErrorCode::InvalidArgument,
              opt.labels_source << ": " << opt.labels.size() << " labels, the model has " << spec.num_classes
                                << " classes");

  nlohmann::json prov = {{"source", o.in_dir},
                         {"source_sha256", sha256_file_hex(o.in_dir)},
                         {"converter", "rmsmp-convert"},
                         {"converter_version", kConverterVersion},
                         {"options", o.command_line},
                         {"architecture", spec.arch},
                         {"notes", spec.notes}};
  if (!opt.labels_source.empty()) prov["labels"] = opt.labels_source;
  if (!o.ratio_provenance.is_null()) prov["ratio_derivation"] = o.ratio_provenance;
  if (!o.plan_path.empty()) return convert_from_plan(spec, opt, needs, prov, t0, say);

  // Calibration: the engine's fp32 forward over the images, collecting each conv's input patches.
  std::vector<LayerCalibration> cal(spec.convs.size());
  std::vector<std::vector<float>> imgs;
  std::vector<std::vector<float>> folded_biases;
  for (const ConvLayerSpec& c : spec.convs) folded_biases.push_back(c.bias);
  if (need_calib) {
    imgs = calibration_images(spec, opt.calib_images, opt.calib_n);
    say("calibrating on " + std::to_string(imgs.size()) + " images from " + opt.calib_images);
    // The fp32 model the calibration forwards run on, in memory (no temporary file).
    double unused;
    std::vector<uint8_t> fp32_bytes;
    write_model("", spec, opt, nullptr, acts_of(spec, opt, nullptr, nullptr), quantize_layers(spec, opt, nullptr, nullptr),
                folded_biases,
                {{"scheme", "fp32"}}, prov, &unused, &fp32_bytes);
    const auto fp32_model = ModelFile::from_bytes(o.in_dir + " (fp32, for calibration)", fp32_bytes);
    fp32_bytes = {};
    for (size_t i = 0; i < cal.size(); ++i) {
      RMSMP_CHECK(spec.convs[i].cols() <= 32768, ErrorCode::Unsupported,
                  o.in_dir << ": layer " << spec.convs[i].name << " has " << spec.convs[i].cols()
                           << " inputs per row; its Hessian would not fit (at most 32768)");
      const int64_t K = spec.convs[i].cols();
      if (spec.convs[i].groups > 1)  // each group against its own H; no pooled one (nothing would read it)
        cal[i].group_H.assign(size_t(spec.convs[i].groups), Eigen::MatrixXf::Zero(K, K));
      else
        cal[i].H = Eigen::MatrixXf::Zero(K, K);
      if (opt.bias_correction) cal[i].x_sum.assign(size_t(spec.convs[i].groups * K), 0.0);
    }
    const CnnLayerHook hook = [&](int layer, const float* x, int64_t n) {
      LayerCalibration& lc = cal[size_t(layer)];
      const int64_t K = spec.convs[size_t(layer)].cols();
      if (lc.H.size() > 0) {
        Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> P(x, n, K);
        lc.H.selfadjointView<Eigen::Lower>().rankUpdate(P.transpose());
      }
      lc.n_tokens += n;
      if (!lc.x_sum.empty()) add_column_sums(spec.convs[size_t(layer)], x, n, lc.x_sum);
      const int64_t G = int64_t(lc.group_H.size());
      for (int64_t g = 0; g < G; ++g) {  // rows are (pixel, group): group g's rows are g, g + G, ...
        Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::OuterStride<>>
            Pg(x + g * K, n / G, K, Eigen::OuterStride<>(G * K));
        lc.group_H[size_t(g)].selfadjointView<Eigen::Lower>().rankUpdate(Pg.transpose());
      }
      const int64_t total = n * K, stride = std::max<int64_t>(1, total / 4096);
      for (int64_t j = 0; j < total; ++j) lc.abs_max = std::max(lc.abs_max, std::fabs(x[j]));  // NaN never wins
      for (int64_t j = 0; j < total && lc.abs_sample.size() < kMaxAbsSample; j += stride)
        lc.abs_sample.push_back(std::fabs(x[j]));
    };
    forward_images(*fp32_model, imgs, hook, [&](size_t done) {
      if (done % 16 == 0 || done == imgs.size())
        say("calibration " + std::to_string(done) + "/" + std::to_string(imgs.size()) + " images");
    });
    for (auto& lc : cal) {
      lc.H.triangularView<Eigen::StrictlyUpper>() = lc.H.transpose();
      for (auto& h : lc.group_H) h.triangularView<Eigen::StrictlyUpper>() = h.transpose();
    }
    // Convs that read the same value share one static clip (the largest |x| any of them saw: a stride-2 1x1
    // sees only some pixels), so that its producer can hand it over as int8 to all of them (cnn.cc).
    // The k-th conv node is spec.convs[k] (both in graph order).
    std::map<int64_t, float> value_max;
    size_t k = 0;
    for (const CnnNode& nd : spec.nodes)
      if (nd.op == CnnNode::Op::Conv) {
        float& m = value_max[nd.in];
        m = std::max(m, cal[k++].abs_max);
      }
    k = 0;
    for (const CnnNode& nd : spec.nodes)
      if (nd.op == CnnNode::Op::Conv) cal[k++].abs_max = value_max[nd.in];
    prov["calibration"] = {{"source", opt.calib_images}, {"images", imgs.size()}};
  }

  std::vector<LayerPlan> plans;
  for (size_t i = 0; i < spec.convs.size(); ++i) {
    LayerPlan p;
    p.name = spec.convs[i].name;
    p.rows = spec.convs[i].cout;
    p.cols = spec.convs[i].cols();
    if (opt.pin && (i == 0 || i + 1 == spec.convs.size())) p.pinned = *opt.pin;
    if (need_h && !cal[i].group_H.empty()) {
      p.scores = score_grouped(spec.convs[i], cal[i], o.clip);
      p.has_scores = true;
    }
    plans.push_back(std::move(p));
  }
  if (need_h) say("scoring rows (Hessian and variance)");
  const nlohmann::json layerwise_info = plan_layers(
      plans, o, [&](const LayerPlan& p) -> const std::vector<float>& { return spec.convs[size_t(&p - plans.data())].w; },
      [&](const LayerPlan& p) -> const Eigen::MatrixXf& { return cal[size_t(&p - plans.data())].H; });

  nlohmann::json q = quantization_json(o, needs, " over the conv's input patches",
                                       opt.static_act8 ? "static per-layer int8 (max |x| over the calibration images; "
                                                         "unsigned grid after ReLU)"
                                                       : "dynamic per-tensor int8 (unsigned grid after ReLU)",
                                       "static per-layer int4 (MSE clip; 0..15 after ReLU)", layerwise_info);
  q["pinned_layers"] = opt.pin ? std::string("first conv and classifier: ") + quant_scheme(*opt.pin).name +
                                     " weights, 8-bit activations"
                               : "none";
  q["avg_weight_bits_note"] = "code bits of all conv/fc rows; per-row fp32 steps not counted";
  const std::vector<QuantizedRows> qrs = quantize_layers(spec, opt, &plans, &cal);
  std::vector<std::vector<float>> biases = folded_biases;
  // Bias correction from the fp32 network's mean inputs. Tried and not kept: further passes that measure the
  // quantized network's own mean inputs. Correcting every layer against them at once double-counts the upstream
  // shifts (each upstream layer fixes its own shift too) and diverged (EfficientNet-Lite0 top-1 agreement 57% ->
  // 5% after one pass); correcting only each layer's own weight error on those inputs changed nothing measurable
  // (57-61%, within one photo in KL). A sequential pass per layer would be exact but costs a forward per layer.
  if (correct)
    for (size_t i = 0; i < cal.size(); ++i) biases[i] = corrected_bias(spec.convs[i], qrs[i], cal[i].x_sum, cal[i].n_tokens);
  q["bias_correction"] = correct ? "b -= (W_q - W) E[x], E[x] the fp32 network's mean input patch over the calibration images"
                                 : "off";
  say("packing " + std::to_string(plans.size()) + " layers; writing " + o.out_path);
  double avg_bits = 32;
  const std::vector<ActQuant> acts = acts_of(spec, opt, &plans, &cal);
  const nlohmann::json rep_layers = write_model(o.out_path, spec, opt, &plans, acts, qrs, biases, q, prov, &avg_bits);
  q["avg_weight_bits"] = avg_bits;
  if (!o.export_plan_path.empty()) {
    say("writing the plan " + o.export_plan_path);
    write_vision_plan(o.export_plan_path, spec,
                      {qrs, biases, acts,
                       {{"architecture", spec.to_json(opt.labels).dump()},
                        {"act", q["act_mode"].get<std::string>()},
                        {"source", o.in_dir},
                        {"history", "rmsmp-convert " + std::string(kConverterVersion) + ": " + o.command_line}}});
  }

  return conversion_report(o, avg_bits, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                           q, prov, rep_layers, {{"architecture", spec.arch}});
}

}  // namespace rmsmp
