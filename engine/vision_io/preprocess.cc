// Exact re-implementation of Pillow's bilinear resampling and torchvision's eval transform (preprocess.h).
#include "vision_io/preprocess.h"

#include <algorithm>
#include <cmath>

#include "rmsmp/error.h"

namespace rmsmp::vision {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images

struct Coeffs {
  int64_t ksize = 0;
  std::vector<int64_t> bounds;  // per output: xmin, count
  std::vector<int32_t> k;       // per output: ksize fixed-point weights
};

// Pillow precompute_coeffs (BILINEAR: triangle filter, support 1) + normalize_coeffs_8bpc.
Coeffs precompute(int64_t in_size, int64_t out_size) {
  const double scale = double(float(in_size) - 0.f) / double(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;
  Coeffs c;
  c.ksize = int64_t(std::ceil(support)) * 2 + 1;
  c.bounds.resize(size_t(out_size * 2));
  c.k.assign(size_t(out_size * c.ksize), 0);
  std::vector<double> w(size_t(c.ksize));
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = 0.0 + (double(xx) + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int64_t xmin = int64_t(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int64_t xmax = int64_t(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      double t = (double(x + xmin) - center + 0.5) * ss;
      if (t < 0.0) t = -t;
      const double v = t < 1.0 ? 1.0 - t : 0.0;
      w[size_t(x)] = v;
      ww += v;
    }
    for (int64_t x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[size_t(x)] / ww : w[size_t(x)];
      c.k[size_t(xx * c.ksize + x)] =
          v < 0 ? int32_t(-0.5 + v * (1 << kPrecisionBits)) : int32_t(0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[size_t(2 * xx)] = xmin;
    c.bounds[size_t(2 * xx + 1)] = xmax;
  }
  return c;
}

inline uint8_t clip8(int64_t v) {
  const int64_t s = v >> kPrecisionBits;  // arithmetic shift, as Pillow's clip8 lookup
  return uint8_t(s < 0 ? 0 : (s > 255 ? 255 : s));
}

}  // namespace

ImageRgb8 resize_bilinear_pil(const ImageRgb8& in, int64_t out_w, int64_t out_h) {
  RMSMP_CHECK(out_w > 0 && out_h > 0 && in.width > 0 && in.height > 0, ErrorCode::InvalidArgument,
              "resize: empty image or size");
  const Coeffs ch = precompute(in.width, out_w), cv = precompute(in.height, out_h);
  const bool need_h = out_w != in.width, need_v = out_h != in.height;
  // Rows of the source the vertical pass reads; the horizontal pass produces only those.
  const int64_t y_first = cv.bounds[0], y_last = cv.bounds[size_t(2 * out_h - 2)] + cv.bounds[size_t(2 * out_h - 1)];
  ImageRgb8 tmp;
  const ImageRgb8* src = &in;
  int64_t row_off = 0;
  if (need_h) {
    tmp.width = out_w, tmp.height = y_last - y_first;
    tmp.pixels.resize(size_t(tmp.width * tmp.height * 3));
    for (int64_t yy = 0; yy < tmp.height; ++yy) {
      const uint8_t* row = in.pixels.data() + (yy + y_first) * in.width * 3;
      for (int64_t xx = 0; xx < out_w; ++xx) {
        const int64_t xmin = ch.bounds[size_t(2 * xx)], xmax = ch.bounds[size_t(2 * xx + 1)];
        const int32_t* k = ch.k.data() + xx * ch.ksize;
        int64_t s0 = int64_t(1) << (kPrecisionBits - 1), s1 = s0, s2 = s0;
        for (int64_t x = 0; x < xmax; ++x) {
          const uint8_t* p = row + (x + xmin) * 3;
          s0 += int64_t(p[0]) * k[x], s1 += int64_t(p[1]) * k[x], s2 += int64_t(p[2]) * k[x];
        }
        uint8_t* o = tmp.pixels.data() + (yy * out_w + xx) * 3;
        o[0] = clip8(s0), o[1] = clip8(s1), o[2] = clip8(s2);
      }
    }
    src = &tmp;
    row_off = y_first;
  }
  if (!need_v) {
    if (src == &tmp) return tmp;
    return in;
  }
  ImageRgb8 out;
  out.width = src->width, out.height = out_h;
  out.pixels.resize(size_t(out.width * out_h * 3));
  for (int64_t yy = 0; yy < out_h; ++yy) {
    const int64_t ymin = cv.bounds[size_t(2 * yy)] - row_off, ymax = cv.bounds[size_t(2 * yy + 1)];
    const int32_t* k = cv.k.data() + yy * cv.ksize;
    for (int64_t xx = 0; xx < out.width; ++xx) {
      int64_t s0 = int64_t(1) << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int64_t y = 0; y < ymax; ++y) {
        const uint8_t* p = src->pixels.data() + ((y + ymin) * src->width + xx) * 3;
        s0 += int64_t(p[0]) * k[y], s1 += int64_t(p[1]) * k[y], s2 += int64_t(p[2]) * k[y];
      }
      uint8_t* o = out.pixels.data() + (yy * out.width + xx) * 3;
      o[0] = clip8(s0), o[1] = clip8(s1), o[2] = clip8(s2);
    }
  }
  return out;
}

void resize_shorter_side(int64_t w, int64_t h, int64_t size, int64_t* out_w, int64_t* out_h) {
  RMSMP_CHECK(w > 0 && h > 0 && size > 0, ErrorCode::InvalidArgument, "resize: empty image or size");
  // Aspect-ratio amplification: a 1x40,000 PNG of 238 bytes resized to a shorter side of 256 would need
  // 256 x 10,240,000 pixels (8 GB). The result is capped at 2^25 pixels (96 MiB as RGB8).
  constexpr double kMaxResizedPixels = double(int64_t(1) << 25);
  const double longer = double(size) * double(std::max(w, h)) / double(std::min(w, h));
  RMSMP_CHECK(double(size) * longer <= kMaxResizedPixels, ErrorCode::InvalidArgument,
              "resize: a " << w << "x" << h << " image resized to a shorter side of " << size << " would need "
                           << size << "x" << int64_t(longer) << " pixels (aspect ratio too extreme; limit "
                           << int64_t(kMaxResizedPixels) << " pixels)");
  if (w <= h) *out_w = size, *out_h = int64_t(double(size) * double(h) / double(w));
  else *out_h = size, *out_w = int64_t(double(size) * double(w) / double(h));
}

ImageRgb8 center_crop(const ImageRgb8& in, int64_t cw, int64_t chh) {
  RMSMP_CHECK(cw > 0 && chh > 0 && cw <= in.width && chh <= in.height, ErrorCode::InvalidArgument,
              "center crop " << cw << "x" << chh << " does not fit a " << in.width << "x" << in.height << " image");
  // Python's round() of (size - crop) / 2: halves go to the even neighbour.
  auto off = [](int64_t size, int64_t crop) {
    const double v = double(size - crop) / 2.0;
    return int64_t(std::nearbyint(v));  // default rounding mode: to nearest, ties to even
  };
  const int64_t top = off(in.height, chh), left = off(in.width, cw);
  ImageRgb8 out;
  out.width = cw, out.height = chh;
  out.pixels.resize(size_t(cw * chh * 3));
  for (int64_t y = 0; y < chh; ++y)
    std::copy_n(in.pixels.data() + ((y + top) * in.width + left) * 3, cw * 3, out.pixels.data() + y * cw * 3);
  return out;
}

std::vector<float> to_normalized_chw(const ImageRgb8& in, const Normalization& n) {
  const int64_t hw = in.width * in.height;
  std::vector<float> out(size_t(3 * hw));
  for (int64_t i = 0; i < hw; ++i)
    for (int c = 0; c < 3; ++c) {
      const float x = float(in.pixels[size_t(i * 3 + c)]) / 255.f;
      out[size_t(c * hw + i)] = (x - n.mean[size_t(c)]) / n.std[size_t(c)];
    }
  return out;
}

std::vector<float> imagenet_eval_transform(const ImageRgb8& in, int64_t resize, int64_t crop, const Normalization& n) {
  int64_t w = 0, h = 0;
  resize_shorter_side(in.width, in.height, resize, &w, &h);
  return to_normalized_chw(center_crop(resize_bilinear_pil(in, w, h), crop, crop), n);
}

}  // namespace rmsmp::vision
