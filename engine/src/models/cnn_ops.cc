// Plain-loop CNN ops (see cnn_ops.h). Parallel over output pixels; each output is computed by one thread in a
// fixed order, so results are identical for any thread count.
#include "models/cnn_ops.h"

#include "core/target_clones.h"
#include "rmsmp/error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace rmsmp {

namespace {
// Patch rows of output pixels [p0, p0 + np), row i at cols + i * stride (K = kh * kw * C values).
template <class T>
void im2col_rows(const T* x, const CnnValue& in, const CnnNode& n, int64_t ow, int64_t p0, int64_t np, T* cols,
                 int64_t stride) {
  const int64_t C = in.c;
  for (int64_t p = p0; p < p0 + np; ++p) {
    const int64_t oy = p / ow, ox = p % ow;
    T* dst = cols + (p - p0) * stride;
    const int64_t ix0 = ox * n.sw - n.pl;
    const bool row_inside = ix0 >= 0 && ix0 + n.kw <= in.w;
    for (int64_t ky = 0; ky < n.kh; ++ky) {
      const int64_t iy = oy * n.sh - n.pt + ky;
      if (row_inside && iy >= 0 && iy < in.h) {  // the window's row is kw * C contiguous values (NHWC)
        const T* src = x + (iy * in.w + ix0) * C;
        const size_t nb = size_t(n.kw * C) * sizeof(T);
        if (nb >= 8 && nb <= 32) {
          // A stem's window row (7 x 3 int8: 21 bytes; 3 x 3: 9): two overlapping fixed-size copies, first and
          // last bytes, instead of a byte loop or a call. Nothing outside [dst, dst + nb) is written.
          auto* d = reinterpret_cast<unsigned char*>(dst);
          const auto* sp = reinterpret_cast<const unsigned char*>(src);
          if (nb >= 16) {
            std::memcpy(d, sp, 16);
            std::memcpy(d + nb - 16, sp + nb - 16, 16);
          } else {
            std::memcpy(d, sp, 8);
            std::memcpy(d + nb - 8, sp + nb - 8, 8);
          }
        } else if (n.kw * C <= 32) {
          for (int64_t i = 0; i < n.kw * C; ++i) dst[i] = src[i];
        } else {
          std::memcpy(dst, src, size_t(n.kw * C) * sizeof(T));
        }
        dst += n.kw * C;
        continue;
      }
      for (int64_t kx = 0; kx < n.kw; ++kx, dst += C) {
        const int64_t ix = ox * n.sw - n.pl + kx;
        if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) {
          std::memset(dst, 0, size_t(C) * sizeof(T));
        } else {
          std::memcpy(dst, x + (iy * in.w + ix) * C, size_t(C) * sizeof(T));
        }
      }
    }
  }
}

template <class T>
void im2col(const T* x, const CnnValue& in, const CnnNode& n, int64_t oh, int64_t ow, T* cols) {
  const int64_t K = n.kh * n.kw * in.c;
#pragma omp parallel for schedule(static) if (oh * ow * K > 65536)
  for (int64_t p = 0; p < oh * ow; ++p) im2col_rows(x, in, n, ow, p, 1, cols + p * K, K);
}
}  // namespace

void cnn_im2col_rows(const int8_t* x, const CnnValue& in, const CnnNode& n, int64_t ow, int64_t p0, int64_t np,
                     int8_t* cols, int64_t stride) {
  im2col_rows(x, in, n, ow, p0, np, cols, stride);
}

void cnn_im2col(const float* x, const CnnValue& in, const CnnNode& n, int64_t oh, int64_t ow, float* cols) {
  im2col(x, in, n, oh, ow, cols);
}

namespace {
typedef int8_t I8x32 __attribute__((vector_size(32)));  // GCC vector extensions: zmm-wide ops per clone
typedef int8_t I8x16 __attribute__((vector_size(16)));
typedef int16_t I16x8 __attribute__((vector_size(16)));
typedef int32_t I32x8 __attribute__((vector_size(32)));
typedef int16_t I16x32 __attribute__((vector_size(64)));
typedef int16_t I16x16 __attribute__((vector_size(32)));
typedef int32_t I32x16 __attribute__((vector_size(64)));
typedef float F32x16 __attribute__((vector_size(64)));
typedef float F32x8 __attribute__((vector_size(32)));

// 16 channels' epilogue from their int32 sums (rowq_epilogue lane by lane: float(acc) * (x_step * w_step) + bias).
inline void dw_epilogue16(const I32x16& a, float xstep, const float* wstep, const float* bias, float* y) {
  F32x16 ws, b = {};
  std::memcpy(&ws, wstep, 64);
  if (bias) std::memcpy(&b, bias, 64);
  const F32x16 v = __builtin_convertvector(a, F32x16) * (xstep * ws) + b;
  std::memcpy(y, &v, 64);
}

// One depthwise output pixel: acc[c] = sum over its n valid taps of x[t][c] * w[t][c] (exact in int32, so the
// vectorised order gives the reference's integers), then the epilogue and the post ops into y. Blocks of 32
// channels keep their sums in registers across the taps; int8 x int8 products fit int16 (|q| <= 128).
RMSMP_CLONES void dw_pixel_s8(const int8_t* const* xs, const int8_t* const* wt, int n, int64_t C, int32_t* acc,
                              float xstep, const float* wstep, const float* bias, const float* residual,
                              LinearPost::Act act, float* y) {
  int64_t c0 = 0;
  for (; c0 + 32 <= C; c0 += 32) {
    // ymm-sized vectors (16 channels per product): with 64-byte ones the AVX2 clone split every operation in
    // two and spilled; each clone still does the same integer arithmetic.
    I32x8 a[4] = {};
    for (int t = 0; t < n; ++t) {
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        I8x16 xv, wv;
        std::memcpy(&xv, xs[t] + c0 + 16 * h, 16);
        std::memcpy(&wv, wt[t] + c0 + 16 * h, 16);
        const I16x16 p = __builtin_convertvector(xv, I16x16) * __builtin_convertvector(wv, I16x16);
        const I16x8 p0 = __builtin_shufflevector(p, p, 0, 1, 2, 3, 4, 5, 6, 7);
        const I16x8 p1 = __builtin_shufflevector(p, p, 8, 9, 10, 11, 12, 13, 14, 15);
        a[2 * h] += __builtin_convertvector(p0, I32x8);
        a[2 * h + 1] += __builtin_convertvector(p1, I32x8);
      }
    }
    I32x16 lo, hi;
    std::memcpy(&lo, &a[0], 64);
    std::memcpy(&hi, &a[2], 64);
    dw_epilogue16(lo, xstep, wstep + c0, bias ? bias + c0 : nullptr, y + c0);
    dw_epilogue16(hi, xstep, wstep + c0 + 16, bias ? bias + c0 + 16 : nullptr, y + c0 + 16);
  }
  for (int64_t c = c0; c < C; ++c) acc[c] = 0;
  for (int t = 0; t < n; ++t)
    for (int64_t c = c0; c < C; ++c) acc[c] += int32_t(xs[t][c]) * int32_t(wt[t][c]);
  for (int64_t c = c0; c < C; ++c) y[c] = rowq_epilogue(acc[c], xstep, wstep[c], bias ? bias[c] : 0.f);
  apply_post(y, residual, C, act);
}

// The fp32 version: each channel sums its taps in (ky, kx) order, as the reference loop does.
RMSMP_CLONES void dw_pixel_f32(const float* const* xs, const float* const* wt, int n, int64_t C, float* acc,
                               const float* bias, const float* residual, LinearPost::Act act, float* y) {
  for (int64_t c = 0; c < C; ++c) acc[c] = 0.f;
  for (int t = 0; t < n; ++t) {
    const float* __restrict x = xs[t];
    const float* __restrict w = wt[t];
    for (int64_t c = 0; c < C; ++c) acc[c] += x[c] * w[c];
  }
  for (int64_t c = 0; c < C; ++c) y[c] = acc[c] + (bias ? bias[c] : 0.f);
  apply_post(y, residual, C, act);
}
}  // namespace

void cnn_conv_grouped(const Backend& be, const CnnGraph::Unpacked& u, const RowMixedLinear& L, const ActQuant& act,
                      const float* x, const CnnValue& in, const CnnNode& n, const CnnValue& out,
                      const LinearPost& post, float* y, const int8_t* xq, float xq_step) {
  const int64_t C = in.c, Co = out.c, cin_g = C / n.groups, cout_g = Co / n.groups, K = L.cols;
  // Integer path: the whole input quantized once with the layer's (static) step, unless the producer handed
  // it over already quantized (xq, xq_step: the same values, cnn.cc).
  thread_local std::vector<int8_t> q;  // grows to the largest input seen, then stays (no zeroing per call)
  float xstep = 0.f;
  if (u.integer && !xq) {
    if (q.size() < size_t(in.size())) q.resize(size_t(in.size()));
    xstep = be.quantize_activations(x, in.size(), act, q.data());
  }
  if (u.integer && xq) xstep = xq_step;
  // NB: inside the parallel region below, `q` would name each worker's own (empty) thread_local; use qd.
  const int8_t* qd = xq ? xq : q.data();
  if (u.tap_major && u.integer && u.prepared) {  // depthwise on the backend's kernel: every tap, zeros outside
    const PreparedDepthwise& pd = *u.prepared;
    RMSMP_CHECK(pd.channels == Co && pd.taps == n.kh * n.kw, ErrorCode::Internal,
                L.name << ": prepared depthwise layout of another shape");
    uint32_t amax = 0;
#pragma omp parallel
    {
      uint32_t mx = 0;
      std::vector<int8_t> zeros(static_cast<size_t>(C), 0);
      DepthwiseRow r{qd,    in.h,  in.w,  n.kh,     n.kw,          n.sh,          n.sw,
                     n.pt,  n.pl,  0,     out.w,    zeros.data(),  xstep,         u.step.data(),
                     L.bias, nullptr, post.act, post.abs_max != nullptr, nullptr, nullptr, post.q_inv, post.q_max};
      // Whole output rows per thread: the backend runs a row's pixels and their epilogue in one call.
#pragma omp for schedule(static)
      for (int64_t oy = 0; oy < out.h; ++oy) {
        r.oy = oy;
        r.residual = post.residual ? post.residual + oy * out.w * Co : nullptr;
        r.y = post.q_only && post.q_out ? nullptr : y + oy * out.w * Co;
        r.q = post.q_out ? post.q_out + oy * out.w * Co : nullptr;
        mx = std::max(mx, be.depthwise_row_s8(pd, r));
      }
#pragma omp critical(rmsmp_dw_amax)
      amax = std::max(amax, mx);
    }
    if (post.abs_max) *post.abs_max = amax;
    return;
  }
  if (u.tap_major) {  // depthwise: weights [tap][c] (cnn_loader), the inner loops run over channels
    uint32_t amax = 0;
#pragma omp parallel
    {
      uint32_t mx = 0;
      std::vector<int32_t> acc(static_cast<size_t>(Co));
      std::vector<float> facc(static_cast<size_t>(Co));
      const int8_t* xq[CnnGraph::kMaxTapMajorTaps];
      const int8_t* wq[CnnGraph::kMaxTapMajorTaps];
      const float* xf[CnnGraph::kMaxTapMajorTaps];
      const float* wf[CnnGraph::kMaxTapMajorTaps];
#pragma omp for schedule(static)
      for (int64_t p = 0; p < out.h * out.w; ++p) {
        int nt = 0;
        for (int64_t ky = 0; ky < n.kh; ++ky) {
          const int64_t iy = p / out.w * n.sh - n.pt + ky;
          if (iy < 0 || iy >= in.h) continue;
          for (int64_t kx = 0; kx < n.kw; ++kx) {
            const int64_t ix = p % out.w * n.sw - n.pl + kx;
            if (ix < 0 || ix >= in.w) continue;
            const int64_t tap = ky * n.kw + kx, pix = (iy * in.w + ix) * C;
            if (u.integer) xq[nt] = qd + pix, wq[nt] = u.q.data() + tap * Co;
            else xf[nt] = x + pix, wf[nt] = u.f.data() + tap * Co;
            ++nt;
          }
        }
        const float* res = post.residual ? post.residual + p * Co : nullptr;
        if (u.integer)
          dw_pixel_s8(xq, wq, nt, Co, acc.data(), xstep, u.step.data(), L.bias, res, post.act, y + p * Co);
        else
          dw_pixel_f32(xf, wf, nt, Co, facc.data(), L.bias, res, post.act, y + p * Co);
        if (post.abs_max) mx = std::max(mx, abs_max_bits(y + p * Co, Co));  // the pixel is in L1
        store_q_out(post, y + p * Co, Co, p * Co);
      }
#pragma omp critical(rmsmp_dw_amax)
      amax = std::max(amax, mx);
    }
    if (post.abs_max) *post.abs_max = amax;
    return;
  }
#pragma omp parallel
  {
    std::vector<int32_t> acc(static_cast<size_t>(Co));
    std::vector<float> facc(static_cast<size_t>(Co));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < out.h * out.w; ++p) {
      const int64_t oy = p / out.w, ox = p % out.w;
      std::fill(acc.begin(), acc.end(), 0);
      std::fill(facc.begin(), facc.end(), 0.f);
      for (int64_t ky = 0; ky < n.kh; ++ky) {
        const int64_t iy = oy * n.sh - n.pt + ky;
        if (iy < 0 || iy >= in.h) continue;
        for (int64_t kx = 0; kx < n.kw; ++kx) {
          const int64_t ix = ox * n.sw - n.pl + kx;
          if (ix < 0 || ix >= in.w) continue;
          const int64_t tap = ky * n.kw + kx, pix = (iy * in.w + ix) * C;
          for (int64_t co = 0; co < Co; ++co) {
            const int64_t g = co / cout_g, wo = co * K + tap * cin_g, xo = pix + g * cin_g;
            if (u.integer) {
              int32_t a = 0;
              for (int64_t ci = 0; ci < cin_g; ++ci) a += int32_t(qd[xo + ci]) * int32_t(u.q[size_t(wo + ci)]);
              acc[size_t(co)] += a;
            } else {
              float a = facc[size_t(co)];
              for (int64_t ci = 0; ci < cin_g; ++ci) a += x[xo + ci] * u.f[size_t(wo + ci)];
              facc[size_t(co)] = a;
            }
          }
        }
      }
      float* yp = y + p * Co;
      const float* res = post.residual ? post.residual + p * Co : nullptr;
      for (int64_t co = 0; co < Co; ++co) {
        const float b = L.bias ? L.bias[co] : 0.f;
        const float v = u.integer ? rowq_epilogue(acc[size_t(co)], xstep, u.step[size_t(co)], b) : facc[size_t(co)] + b;
        yp[co] = post_value(v, res ? res + co : nullptr, post.act);
      }
      store_q_out(post, yp, Co, p * Co);
    }
  }
  if (post.abs_max) *post.abs_max = abs_max_bits(y, out.size());
}

void cnn_residual_act(float* y, const float* residual, int64_t n, CnnAct act) {
  if (!residual && act == CnnAct::None) return;
  // Element-wise, so any split gives the same values; chunks of 16 Ki elements.
  constexpr int64_t kChunk = 16384;
#pragma omp parallel for schedule(static) if (n > 4 * kChunk)
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const int64_t i1 = std::min(n, i0 + kChunk);
    apply_post(y + i0, residual ? residual + i0 : nullptr, i1 - i0, cnn_post_act(act));
  }
}

namespace {
// Calls f(pointer to the C input channels of the tap) for every tap of output pixel (oy, ox)'s window that
// lies inside the input (padding taps are skipped).
template <class F>
inline void for_window(const float* x, const CnnValue& in, const CnnNode& n, int64_t oy, int64_t ox, F&& f) {
  for (int64_t ky = 0; ky < n.kh; ++ky) {
    const int64_t iy = oy * n.sh - n.pt + ky;
    if (iy < 0 || iy >= in.h) continue;
    for (int64_t kx = 0; kx < n.kw; ++kx) {
      const int64_t ix = ox * n.sw - n.pl + kx;
      if (ix >= 0 && ix < in.w) f(x + (iy * in.w + ix) * in.c);
    }
  }
}
}  // namespace

namespace {
// Output pixels [p0, p1) of a max pool: per channel y = x > y ? x : y over the window in window order, from
// -inf (padding never wins, nor does NaN). 16 channels at a time kept in a register across the window, per
// x86-64 level (RMSMP_CLONES): the baseline's loop over y in memory took 250 us for ResNet's 112 x 112 x 64 pool.
RMSMP_CLONES void max_pixels(const float* x, const CnnValue& in, const CnnNode& n, int64_t ow, int64_t p0, int64_t p1,
                             float* y) {
  const int64_t C = in.c;
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t p = p0; p < p1; ++p) {
    float* yp = y + p * C;
    int64_t c = 0;
    // Two 8-lane halves, not one 16-lane vector: the AVX2 clone compiled the 16-lane select lane by lane
    // (7% of ResNet-18's samples on AVX2).
    for (; c + 16 <= C; c += 16) {
      F32x8 m0 = F32x8{} + ninf, m1 = m0;
      for_window(x, in, n, p / ow, p % ow, [&](const float* xp) {
        F32x8 v0, v1;
        std::memcpy(&v0, xp + c, 32);
        std::memcpy(&v1, xp + c + 8, 32);
        m0 = v0 > m0 ? v0 : m0;
        m1 = v1 > m1 ? v1 : m1;
      });
      std::memcpy(yp + c, &m0, 32);
      std::memcpy(yp + c + 8, &m1, 32);
    }
    for (; c < C; ++c) {
      float m = ninf;
      for_window(x, in, n, p / ow, p % ow, [&](const float* xp) { m = xp[c] > m ? xp[c] : m; });
      yp[c] = m;
    }
  }
}
}  // namespace

void cnn_maxpool(const float* x, const CnnValue& in, const CnnNode& n, const CnnValue& out, float* y) {
  const int64_t P = out.h * out.w, chunk = 64;
#pragma omp parallel for schedule(static) if (out.size() > 65536)
  for (int64_t p = 0; p < P; p += chunk) max_pixels(x, in, n, out.w, p, std::min(P, p + chunk), y);
}

void cnn_avgpool(const float* x, const CnnValue& in, const CnnNode& n, const CnnValue& out, float* y) {
  const int64_t C = in.c;
  const float inv = 1.f / float(n.kh * n.kw);
#pragma omp parallel for schedule(static) if (out.size() > 65536)
  for (int64_t p = 0; p < out.h * out.w; ++p) {
    float* yp = y + p * C;
    for (int64_t c = 0; c < C; ++c) yp[c] = 0.f;
    for_window(x, in, n, p / out.w, p % out.w, [&](const float* xp) {
      for (int64_t c = 0; c < C; ++c) yp[c] += xp[c];
    });
    for (int64_t c = 0; c < C; ++c) yp[c] *= inv;
  }
}

void cnn_global_avgpool(const float* x, const CnnValue& in, float* y) {
  const int64_t P = in.h * in.w, C = in.c;
  std::vector<double> s(size_t(C), 0.0);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t c = 0; c < C; ++c) s[size_t(c)] += x[p * C + c];
  for (int64_t c = 0; c < C; ++c) y[c] = float(s[size_t(c)] / double(P));
}

float cnn_abs_max(const float* x, int64_t n) {
  // On the bit patterns: for non-negative floats the order of the IEEE bits (as integers) is the order of the
  // values, and NaNs are the patterns above +Inf's 0x7f800000, so they are mapped to 0 and never win, as in
  // act_quantize_row. The result is the exact max |x|, whatever the chunking.
  constexpr int64_t kChunk = 16384;
  uint32_t r = 0;
#pragma omp parallel for reduction(max : r) schedule(static) if (n > 4 * kChunk)
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const uint32_t c = abs_max_bits(x + i0, std::min(kChunk, n - i0));
    r = c > r ? c : r;
  }
  float f;
  std::memcpy(&f, &r, 4);
  return f;
}

}  // namespace rmsmp
