// rmsmp-convert's vision path: torchvision-style state dict (.pth/.safetensors) -> .rmsmp CNN model with
// BatchNorm folded and RMSMP (or baseline) row assignment per conv, exactly as for Linear layers.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convert.h"

namespace rmsmp {

struct VisionConvertOptions {
  // in_dir is the checkpoint file; scheme, ratios, clip, rule, act_bits, gptq, seed, ratio_provenance and
  // command_line mean what they mean for BERT. act_bits 8: per-tensor dynamic int8 activations; 4: static
  // per-layer clip (MSE) from the calibration images, unsigned after ReLU.
  ConvertOptions base;
  std::string arch;          // empty: inferred (vision_arch.h)
  std::string calib_images;  // a folder of images (recursive, sorted) or an IDX image file (.gz ok)
  int64_t calib_n = 64;      // images used for calibration
  std::vector<std::string> labels;  // class names in logit order (optional)
  std::string labels_source;
  // The stem conv and the classifier keep this scheme's weights (default Fixed-8) and 8-bit activations whatever
  // the scheme (the usual practice for low-bit CNNs); nullopt applies the scheme to them too.
  std::optional<QuantKind> pin = QuantKind::Fixed8;
  // Bias correction (Nagel et al., "Data-Free Quantization", sec. 4.2, with calibration statistics): each
  // quantized conv's bias absorbs the mean shift its weight error causes, b -= (W_q - W) E[x], with E[x] the
  // mean of its input patches over the calibration images (per group for grouped convs). Applied when the
  // conversion calibrates; false leaves the biases as folded.
  bool bias_correction = true;
  // 8-bit activations: "static" (one clip per layer, the largest |x| its input reached over the calibration
  // images: the engine then hands int8 from conv to conv), "dynamic" (each tensor's own max at run time), or
  // empty: static whenever the conversion calibrates on images (given or the default photos), else dynamic.
  std::string act_range;
  bool static_act8 = false;  // set by convert_vision_checkpoint from act_range
  // Used as calib_images for RGB models when that is empty and the scheme is quantized (rmsmp-convert passes
  // $RMSMP_DEFAULT_CALIB_IMAGES, else scripts/photos.sh's calib/ folder when it exists). Grayscale models get no
  // default. rounding_explicit: --rounding was given (else a default calibration also turns GPTQ on).
  std::string default_calib_images;
  bool rounding_explicit = false;
};

// True when `path` names a vision checkpoint (a .pth/.pt/.safetensors file rather than an HF folder).
bool is_vision_checkpoint(const std::string& path);

nlohmann::json convert_vision_checkpoint(const VisionConvertOptions& opt,
                                         const std::function<void(const std::string&)>& log = {});

}  // namespace rmsmp
