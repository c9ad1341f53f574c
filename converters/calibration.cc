// Calibration pass: batches of sentences through bert_forward with a hook on every linear input.
#include "calibration.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "backends/backend.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {
constexpr size_t kMaxAbsSample = 1 << 18;  // per layer
// q, k and v read the same input; their statistics live under the q name.
std::string stats_key(const std::string& linear_name) {
  if (linear_name.ends_with(".k") || linear_name.ends_with(".v"))
    return linear_name.substr(0, linear_name.size() - 1) + "q";
  return linear_name;
}
}  // namespace

const LayerCalibration& CalibrationResult::for_layer(const std::string& linear_name) const {
  auto it = layers.find(stats_key(linear_name));
  RMSMP_CHECK(it != layers.end(), ErrorCode::Internal, "no calibration statistics for layer " << linear_name);
  return it->second;
}

CalibrationResult calibrate(const BertWeights& w, const tok::Tokenizer& tk,
                            const std::vector<std::string>& sentences,
                            const std::function<void(size_t, size_t)>& progress) {
  RMSMP_CHECK(!sentences.empty(), ErrorCode::InvalidArgument, "calibration needs at least one sentence");
  CalibrationResult res;
  // cpu-exact: fp32 rows summed in the reference's order, so the statistics (and the model bytes) are the same on
  // every CPU; oneDNN's sgemm rounds differently per ISA.
  auto be = make_backend("cpu-exact");
  LinearInputHook hook = [&](const RowMixedLinear& lin, const float* x, int64_t T) {
    if (lin.name.ends_with(".k") || lin.name.ends_with(".v")) return;
    LayerCalibration& lc = res.layers[lin.name];
    const int64_t K = lin.cols;
    if (lc.H.size() == 0) lc.H = Eigen::MatrixXf::Zero(K, K);
    // x is row-major [T, K] == column-major [K, T]: H += X^T X as a symmetric rank-T update.
    Eigen::Map<const Eigen::MatrixXf> Xt(x, K, T);
    lc.H.selfadjointView<Eigen::Lower>().rankUpdate(Xt);
    lc.n_tokens += T;
    const int64_t n = T * K;
    const int64_t stride = std::max<int64_t>(1, n / 4096);  // ~4096 values per call, bounded in total
    for (int64_t i = 0; i < n && lc.abs_sample.size() < kMaxAbsSample; i += stride) lc.abs_sample.push_back(std::fabs(x[i]));
  };
  const size_t kBatch = 32;
  std::vector<float> pooled;
  for (size_t i0 = 0; i0 < sentences.size(); i0 += kBatch) {
    std::vector<tok::Encoding> enc;
    std::vector<SequenceInput> seqs;
    for (size_t i = i0; i < std::min(sentences.size(), i0 + kBatch); ++i) {
      enc.push_back(tk.encode(sentences[i], std::nullopt, size_t(w.cfg.max_seq_length)));
      res.n_truncated += enc.back().truncated;
    }
    for (const auto& e : enc) {
      seqs.push_back({e.ids.data(), e.type_ids.data(), int64_t(e.ids.size())});
      res.n_tokens += int64_t(e.ids.size());
    }
    pooled.resize(seqs.size() * size_t(w.cfg.hidden_size));
    BertRunOptions ro;
    ro.hook = &hook;
    bert_forward(w, *be, seqs, pooled.data(), ro);
    res.n_sentences += int64_t(seqs.size());
    if (progress) progress(std::min(sentences.size(), i0 + kBatch), sentences.size());
  }
  for (auto& [name, lc] : res.layers) lc.H.triangularView<Eigen::StrictlyUpper>() = lc.H.transpose();
  return res;
}

float activation_clip_mse(const std::vector<float>& abs_sample, int bits, bool nonneg) {
  RMSMP_CHECK(!abs_sample.empty(), ErrorCode::InvalidArgument, "no activation samples for the clip search");
  const float amax = *std::max_element(abs_sample.begin(), abs_sample.end());
  if (!(amax > 0.f)) return 1.f;
  ActQuant aq;
  aq.bits = bits;
  aq.nonneg = nonneg;
  const int max_q = act_max_q(aq);
  float best = amax;
  double best_err = INFINITY;
  for (int i = 0; i < 100; ++i) {
    const float clip = amax * (1.f - 0.0099f * float(i));
    const float step = clip / float(max_q);
    double err = 0;
    for (float a : abs_sample) {
      const float q = std::min(std::round(a / step), float(max_q)) * step;
      err += double(a - q) * double(a - q);
    }
    if (err < best_err) best_err = err, best = clip;
  }
  return best;
}

}  // namespace rmsmp
