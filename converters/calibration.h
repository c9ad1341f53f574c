// Calibration: runs the engine's own fp32 forward on calibration text and collects, per linear layer,
// the layer-reconstruction Hessian H = sum_t x_t x_t^T and a sample of |x| for static activation clips.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "models/bert.h"
#include "rmsmp/tokenizer/tokenizer.h"

namespace rmsmp {

struct LayerCalibration {
  Eigen::MatrixXf H;             // cols x cols, symmetric, sum over tokens (not averaged)
  int64_t n_tokens = 0;
  std::vector<float> abs_sample; // strided sample of |x| (bounded size), for the 4-bit activation clip
  float abs_max = 0.f;            // max |x| over every input seen (vision: the static 8-bit clip)
  // Sum of each input column over the calibration, per group of a grouped conv (groups x cols; a group's rows
  // are n_tokens / groups). Vision only (bias correction); empty where not collected.
  std::vector<double> x_sum;
  // Grouped convs: one H per group over that group's own input patches (a depthwise row sees one channel; a
  // pooled H would mix every channel's statistics), and H stays empty. Vision only; empty for groups == 1.
  std::vector<Eigen::MatrixXf> group_H;
};

struct CalibrationResult {
  std::map<std::string, LayerCalibration> layers;  // q/k/v share one input: stored under q's name only
  int64_t n_sentences = 0, n_tokens = 0, n_truncated = 0;
  const LayerCalibration& for_layer(const std::string& linear_name) const;
};

CalibrationResult calibrate(const BertWeights& w, const tok::Tokenizer& tk,
                            const std::vector<std::string>& sentences,
                            const std::function<void(size_t done, size_t total)>& progress = {});

// MSE-optimal clip for `bits`-bit activations over the sample (grid over fractions of max); nonneg: the
// unsigned grid of an input that follows a ReLU (act_max_q).
float activation_clip_mse(const std::vector<float>& abs_sample, int bits, bool nonneg = false);

}  // namespace rmsmp
