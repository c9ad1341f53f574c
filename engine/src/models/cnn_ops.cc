// Plain-loop CNN ops (see cnn_ops.h). Parallel over output pixels; each output is computed by one thread in a
// fixed order, so results are identical for any thread count.
#include "models/cnn_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace rmsmp {

void cnn_im2col(const float* x, const CnnValue& in, const CnnNode& n, int64_t oh, int64_t ow, float* cols) {
  const int64_t C = in.c, K = n.kh * n.kw * C;
#pragma omp parallel for schedule(static) if (oh * ow * K > 65536)
  for (int64_t p = 0; p < oh * ow; ++p) {
    const int64_t oy = p / ow, ox = p % ow;
    float* dst = cols + p * K;
    for (int64_t ky = 0; ky < n.kh; ++ky) {
      const int64_t iy = oy * n.sh - n.pt + ky;
      for (int64_t kx = 0; kx < n.kw; ++kx, dst += C) {
        const int64_t ix = ox * n.sw - n.pl + kx;
        if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) {
          std::memset(dst, 0, size_t(C) * sizeof(float));
        } else {
          std::memcpy(dst, x + (iy * in.w + ix) * C, size_t(C) * sizeof(float));
        }
      }
    }
  }
}

void cnn_conv_grouped(const Backend& be, const CnnGraph::Unpacked& u, const RowMixedLinear& L, const ActQuant& act,
                      const float* x, const CnnValue& in, const CnnNode& n, const CnnValue& out, float* y) {
  const int64_t C = in.c, Co = out.c, cin_g = C / n.groups, cout_g = Co / n.groups, K = L.cols;
  const bool depthwise = cin_g == 1 && cout_g == 1;
  // Integer path: the whole input quantized once with the layer's (static) step.
  thread_local std::vector<int8_t> q;  // grows to the largest input seen, then stays (no zeroing per call)
  float xstep = 0.f;
  if (u.integer) {
    if (q.size() < size_t(in.size())) q.resize(size_t(in.size()));
    xstep = be.quantize_activations(x, in.size(), act, q.data());
  }
  // NB: inside the parallel region below, `q` would name each worker's own (empty) thread_local; use qd.
  const int8_t* qd = q.data();
  // Depthwise weights transposed to [ky][kx][c] so the inner loop runs over channels.
  std::vector<int8_t> wq_t;
  std::vector<float> wf_t;
  if (depthwise) {
    const int64_t taps = n.kh * n.kw;
    if (u.integer) wq_t.resize(size_t(taps * Co));
    else wf_t.resize(size_t(taps * Co));
    for (int64_t c = 0; c < Co; ++c)
      for (int64_t t = 0; t < taps; ++t) {
        if (u.integer) wq_t[size_t(t * Co + c)] = u.q[size_t(c * K + t)];
        else wf_t[size_t(t * Co + c)] = u.f[size_t(c * K + t)];
      }
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
          if (depthwise && u.integer) {
            const int8_t* xq = qd + pix;
            const int8_t* wr = wq_t.data() + tap * Co;
            for (int64_t c = 0; c < Co; ++c) acc[size_t(c)] += int32_t(xq[c]) * int32_t(wr[c]);
          } else if (depthwise) {
            const float* xf = x + pix;
            const float* wr = wf_t.data() + tap * Co;
            for (int64_t c = 0; c < Co; ++c) facc[size_t(c)] += xf[c] * wr[c];
          } else {
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
      }
      float* yp = y + p * Co;
      for (int64_t co = 0; co < Co; ++co) {
        const float b = L.bias ? L.bias[co] : 0.f;
        yp[co] = u.integer ? rowq_epilogue(acc[size_t(co)], xstep, u.step[size_t(co)], b) : facc[size_t(co)] + b;
      }
    }
  }
}

void cnn_residual_act(float* y, const float* residual, int64_t n, CnnAct act) {
  if (!residual && act == CnnAct::None) return;
  // Element-wise, so any split gives the same values; chunks of 16 Ki elements.
  constexpr int64_t kChunk = 16384;
#pragma omp parallel for schedule(static) if (n > 4 * kChunk)
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const int64_t i1 = std::min(n, i0 + kChunk);
    if (residual)
      for (int64_t i = i0; i < i1; ++i) y[i] += residual[i];
    if (act == CnnAct::Relu) {
      for (int64_t i = i0; i < i1; ++i) y[i] = y[i] > 0.f ? y[i] : 0.f;  // NaN -> 0 (PyTorch keeps NaN)
    } else if (act == CnnAct::Relu6) {
      for (int64_t i = i0; i < i1; ++i) y[i] = y[i] > 0.f ? (y[i] < 6.f ? y[i] : 6.f) : 0.f;
    }
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

void cnn_maxpool(const float* x, const CnnValue& in, const CnnNode& n, const CnnValue& out, float* y) {
  const int64_t C = in.c;
#pragma omp parallel for schedule(static) if (out.size() > 65536)
  for (int64_t p = 0; p < out.h * out.w; ++p) {
    float* yp = y + p * C;
    for (int64_t c = 0; c < C; ++c) yp[c] = -std::numeric_limits<float>::infinity();  // padding never wins
    for_window(x, in, n, p / out.w, p % out.w, [&](const float* xp) {
      for (int64_t c = 0; c < C; ++c) yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];
    });
  }
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

namespace {
// Max |x| bit pattern of one chunk; a plain loop GCC vectorises (integer max, no fast-math needed). The AVX2
// clone is picked at load time where the CPU has it (baseline x86-64 has no packed 32-bit max).
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))
#endif
uint32_t abs_max_bits(const float* x, int64_t n) {
  auto bits = [](const float* p) {
    uint32_t u;
    std::memcpy(&u, p, 4);
    u &= 0x7fffffffu;
    return u > 0x7f800000u ? 0u : u;
  };
  uint32_t lane[8] = {};  // 8 independent maxima: a fixed-width body the vectoriser takes at -O2
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      const uint32_t u = bits(x + i + j);
      lane[j] = u > lane[j] ? u : lane[j];
    }
  uint32_t r = 0;
  for (uint32_t l : lane) r = l > r ? l : r;
  for (; i < n; ++i) {
    const uint32_t u = bits(x + i);
    r = u > r ? u : r;
  }
  return r;
}
}  // namespace

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
