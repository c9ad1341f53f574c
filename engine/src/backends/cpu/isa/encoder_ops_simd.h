// GELU and one attention head written once over a lane-width traits class V (simd_f32.h), instantiated by each
// ISA's TU (encoder_ops_avx2.cc: 8 lanes, encoder_ops_avx512.cc: 16). Every lane does the scalar reference's
// operations in its order (core/portable_math.h's pm_expf / pm_erff, ReferenceBackend's attention), so results
// are bit-identical to the reference at every width: see encoder_ops.h.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/portable_math.h"

namespace rmsmp::simd {

// pm_expf on N independent vectors in lockstep (N = 4 fills the out-of-order window: each vector is a ~20-deep
// chain of dependent operations).
template <class V, int N>
inline void expf_n(const typename V::F* x, typename V::F* out) {
  using F = typename V::F;
  using I = typename V::I;
  typename V::M isnan[N], big[N], small[N];
  F p[N], r[N];
  I k[N];
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    isnan[i] = V::unord(x[i]);
    big[i] = V::gt(x[i], V::set(88.7228394f));
    small[i] = V::lt(x[i], V::set(-103.972084f));
    const F fk = V::mul(x[i], V::set(1.44269504f));
    const F half = V::blend(V::set(-0.5f), V::set(0.5f), V::ge(fk, V::zero()));
    k[i] = V::cvtt(V::add(fk, half));  // (int) truncates, as in C
  }
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    const F kf = V::cvt(k[i]);
    r[i] = V::sub(V::sub(x[i], V::mul(kf, V::set(0.693145752f))), V::mul(kf, V::set(1.42860677e-6f)));
    p[i] = V::set(1.98412698e-4f);
  }
  for (float c : {1.38888889e-3f, 8.33333333e-3f, 4.16666667e-2f, 1.66666667e-1f, 0.5f, 1.f, 1.f})
#pragma GCC unroll 4
    for (int i = 0; i < N; ++i) p[i] = V::fma(p[i], r[i], V::set(c));  // PM_FMA
  // The two rescaling steps run only when some lane needs them: computed for every lane, p * 2^-126 would
  // make subnormals (a slow microcode assist per instruction) for lanes whose result the blend then drops.
  // Lanes the final blends replace (NaN, overflow, underflow to 0: the scalar returns early) get k = 0 so
  // they never ask for a rescale: softmax's far-below-max scores would otherwise take the slow path.
  typename V::IM any = V::inone();
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    k[i] = V::zero_where(k[i], V::mor(V::mor(isnan[i], big[i]), small[i]));
    any = V::imor(any, V::imor(V::igt(k[i], V::iset(127)), V::igt(V::iset(-126), k[i])));
  }
  if (V::any(any)) {  // rare: per vector, each step only where its lanes need it
    for (int i = 0; i < N; ++i) {
      const typename V::IM hi = V::igt(k[i], V::iset(127));
      if (V::any(hi)) {
        p[i] = V::blend_i(p[i], V::mul(p[i], V::bits(0x7f000000)), hi);
        k[i] = V::isub_where(k[i], hi, 127);
      }
      const typename V::IM lo = V::igt(V::iset(-126), k[i]);
      if (V::any(lo)) {
        p[i] = V::blend_i(p[i], V::mul(p[i], V::bits(0x00800000)), lo);
        k[i] = V::iadd_where(k[i], lo, 126);
      }
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    F res = V::mul(p[i], V::pow2(V::iadd(k[i], V::iset(127))));
    res = V::blend(res, V::zero(), small[i]);
    res = V::blend(res, V::bits(0x7f800000), big[i]);
    out[i] = V::blend(res, x[i], isnan[i]);
  }
}

// pm_erff on N vectors in lockstep.
template <class V, int N>
inline void erff_n(const typename V::F* x, typename V::F* out) {
  using F = typename V::F;
  typename V::M isneg[N];
  F t[N], p[N], arg[N];
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    isneg[i] = V::lt(x[i], V::zero());
    const F z = V::blend(x[i], V::neg(x[i]), isneg[i]);
    t[i] = V::div(V::set(1.f), V::add(V::set(1.f), V::mul(V::set(0.5f), z)));
    p[i] = V::set(0.17087277f);
    arg[i] = V::mul(V::neg(z), z);  // -z * z
  }
  for (float c : {-0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f, 0.37409196f,
                  1.00002368f, -1.26551223f})
#pragma GCC unroll 4
    for (int i = 0; i < N; ++i) p[i] = V::fma(p[i], t[i], V::set(c));  // PM_FMA
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) arg[i] = V::add(arg[i], p[i]);
  F ex[N];
  expf_n<V, N>(arg, ex);
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    const F e = V::sub(V::set(1.f), V::mul(t[i], ex[i]));
    const F res = V::blend(e, V::neg(e), isneg[i]);
    out[i] = V::blend(res, x[i], V::unord(x[i]));
  }
}

// x = (0.5 x) (1 + erf(x / sqrt 2)), in place, as the reference.
template <class V>
void gelu(float* x, int64_t n) {
  using F = typename V::F;
  constexpr int W = V::W;
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {  // 4 vectors in lockstep
    F v[4], a[4], e[4];
    for (int j = 0; j < 4; ++j) v[j] = V::load(x + i + W * j), a[j] = V::mul(v[j], V::set(0.70710678118654752f));
    erff_n<V, 4>(a, e);
    for (int j = 0; j < 4; ++j) V::store(x + i + W * j, V::mul(V::mul(V::set(0.5f), v[j]), V::add(V::set(1.f), e[j])));
  }
  for (; i + W <= n; i += W) {
    const F v = V::load(x + i);
    F a = V::mul(v, V::set(0.70710678118654752f)), e;
    erff_n<V, 1>(&a, &e);
    V::store(x + i, V::mul(V::mul(V::set(0.5f), v), V::add(V::set(1.f), e)));
  }
  for (; i < n; ++i) x[i] = 0.5f * x[i] * (1.f + pm_erff(x[i] * 0.70710678118654752f));
}

// One head, W queries at a time with one query per lane. Every lane runs the reference's chain for its query:
//   scores  s_j = (sum_d q[d] k_j[d], d in order) * scale   8 keys' chains side by side (8 accumulators)
//   softmax mx = max_j s_j; p_j = exp(s_j - mx); sum = sum_j p_j in order; p_j /= sum
//   output  o[d] = sum_j p_j v_j[d], j in order              8 dims' chains side by side
// Lanes past the last query compute on zero queries and are never stored. Working per lane makes the serial
// softmax sum (one add chain per query) run W queries at once. Two blocks of W queries go together where there
// are that many (NB = 2): each broadcast key or value element then feeds two FMAs, 16 per 10 loads instead of
// 8 per 9 (the loop was load-bound). scratch: attention_scratch_floats (encoder_ops.h).
// rel_bias (or null): the head's distances; lane i of key j reads element i0 + i - j + len - 1, so a block's
// lanes are one unaligned load (rel_bias_stride leaves room for lanes past the last query).
template <class V, int NB>
void attention_queries(const float* q, const float* k, const float* v, int64_t len, int64_t stride, int64_t hd,
                       float* out, float* qt, float* p, float* ot, const float* rel_bias, int64_t i0) {
  using F = typename V::F;
  constexpr int W = V::W;
  const F scale = V::set(1.f / std::sqrt(float(hd)));
  // Block b's queries transposed at qt + b * hd * W, its scores at p + b * len * W, outputs at ot + b * hd * W.
  for (int bq = 0; bq < NB; ++bq) {
    const int64_t q0 = i0 + bq * W, nq = std::min<int64_t>(W, len - q0);
    float* qb = qt + bq * hd * W;
    for (int64_t d = 0; d < hd; ++d)
      for (int64_t i = 0; i < W; ++i) qb[d * W + i] = i < nq ? q[(q0 + i) * stride + d] : 0.f;
  }
  int64_t j = 0;
  for (; j + 8 <= len; j += 8) {
    F s[NB][8];
    for (auto& sb : s)
      for (auto& x : sb) x = V::zero();
    const float* kj = k + j * stride;
    for (int64_t d = 0; d < hd; ++d) {
      F qd[NB];
      for (int bq = 0; bq < NB; ++bq) qd[bq] = V::load(qt + bq * hd * W + d * W);
#pragma GCC unroll 8
      for (int u = 0; u < 8; ++u) {
        const F kb = V::set(kj[u * stride + d]);
        for (int bq = 0; bq < NB; ++bq) s[bq][u] = V::fma(qd[bq], kb, s[bq][u]);
      }
    }
    for (int bq = 0; bq < NB; ++bq)
      for (int u = 0; u < 8; ++u) V::store(p + bq * len * W + (j + u) * W, V::mul(s[bq][u], scale));
  }
  for (; j < len; ++j) {
    const float* kj = k + j * stride;
    for (int bq = 0; bq < NB; ++bq) {
      F s = V::zero();
      for (int64_t d = 0; d < hd; ++d) s = V::fma(V::load(qt + bq * hd * W + d * W), V::set(kj[d]), s);
      V::store(p + bq * len * W + j * W, V::mul(s, scale));
    }
  }
  for (int bq = 0; bq < NB; ++bq) {
    float* pb = p + bq * len * W;
    const int64_t q0 = i0 + bq * W;
    if (rel_bias)  // after the scaling, rounded separately, as the reference adds it
      for (j = 0; j < len; ++j) V::store(pb + j * W, V::add(V::load(pb + j * W), V::load(rel_bias + q0 - j + len - 1)));
    F mx = V::set(-INFINITY);  // max(p, m) keeps m where p is NaN, as fmax does; exact and order-free otherwise
    for (j = 0; j < len; ++j) mx = V::max(V::load(pb + j * W), mx);
    j = 0;
    for (; j + 4 <= len; j += 4) {
      F a[4], e[4];
      for (int u = 0; u < 4; ++u) a[u] = V::sub(V::load(pb + (j + u) * W), mx);
      expf_n<V, 4>(a, e);
      for (int u = 0; u < 4; ++u) V::store(pb + (j + u) * W, e[u]);
    }
    for (; j < len; ++j) {
      F a = V::sub(V::load(pb + j * W), mx), e;
      expf_n<V, 1>(&a, &e);
      V::store(pb + j * W, e);
    }
    F sum = V::zero();
    for (j = 0; j < len; ++j) sum = V::add(sum, V::load(pb + j * W));
    for (j = 0; j < len; ++j) V::store(pb + j * W, V::div(V::load(pb + j * W), sum));
  }
  int64_t d0 = 0;
  for (; d0 + 8 <= hd; d0 += 8) {
    F o[NB][8];
    for (auto& ob : o)
      for (auto& x : ob) x = V::zero();
    for (j = 0; j < len; ++j) {
      F pj[NB];
      for (int bq = 0; bq < NB; ++bq) pj[bq] = V::load(p + bq * len * W + j * W);
      const float* vj = v + j * stride + d0;
#pragma GCC unroll 8
      for (int u = 0; u < 8; ++u) {
        const F vb = V::set(vj[u]);
        for (int bq = 0; bq < NB; ++bq) o[bq][u] = V::fma(pj[bq], vb, o[bq][u]);
      }
    }
    for (int bq = 0; bq < NB; ++bq)
      for (int u = 0; u < 8; ++u) V::store(ot + bq * hd * W + (d0 + u) * W, o[bq][u]);
  }
  for (; d0 < hd; ++d0)
    for (int bq = 0; bq < NB; ++bq) {
      F o = V::zero();
      for (j = 0; j < len; ++j) o = V::fma(V::load(p + bq * len * W + j * W), V::set(v[j * stride + d0]), o);
      V::store(ot + bq * hd * W + d0 * W, o);
    }
  for (int bq = 0; bq < NB; ++bq) {
    const int64_t q0 = i0 + bq * W, nq = std::min<int64_t>(W, len - q0);
    for (int64_t i = 0; i < nq; ++i)
      for (int64_t d = 0; d < hd; ++d) out[(q0 + i) * stride + d] = ot[bq * hd * W + d * W + i];
  }
}

template <class V>
void attention_head(const float* q, const float* k, const float* v, int64_t len, int64_t stride, int64_t hd,
                    float* out, float* scratch, const float* rel_bias) {
  constexpr int W = V::W;
  // 64-byte aligned (the scratch's W spare floats): every row below is whole vectors that never split a line.
  const uintptr_t mis = reinterpret_cast<uintptr_t>(scratch) / 4 % 16;
  float* qt = scratch + (mis ? 16 - mis : 0);  // 2 x hd x W: two blocks' queries transposed
  float* p = qt + 2 * hd * W;                  // 2 x len x W: scores, then probabilities
  float* ot = p + 2 * len * W;                 // 2 x hd x W: outputs, transposed
  int64_t i0 = 0;
  for (; i0 + W < len; i0 += 2 * W) attention_queries<V, 2>(q, k, v, len, stride, hd, out, qt, p, ot, rel_bias, i0);
  if (i0 < len) attention_queries<V, 1>(q, k, v, len, stride, hd, out, qt, p, ot, rel_bias, i0);
}

// y[t * y_stride + r] = sum_k x[t][k] * w[r][k] for t < T, r < N, as the reference's fp32 rows: one chain per
// output from 0.f, k in order, a rounded multiply then a rounded add. One token per lane (W tokens side by side,
// their x transposed into xt), 8 rows' chains at once; the same bits at every width and thread count.
// xt: at least K * W + 16 floats.
template <class V>
void linear_f32_exact(const float* x, int64_t T, int64_t K, const float* w, int64_t N, float* y, int64_t y_stride,
                      float* xt) {
  using F = typename V::F;
  constexpr int W = V::W;
  for (int64_t t0 = 0; t0 < T; t0 += W) {
    const int64_t nt = std::min<int64_t>(W, T - t0);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < W; ++i) xt[k * W + i] = i < nt ? x[(t0 + i) * K + k] : 0.f;
    alignas(64) float lanes[W];
    int64_t r0 = 0;
    for (; r0 + 8 <= N; r0 += 8) {
      F acc[8];
      for (auto& a : acc) a = V::zero();
      const float* wr = w + r0 * K;
      for (int64_t k = 0; k < K; ++k) {
        const F xv = V::load(xt + k * W);
#pragma GCC unroll 8
        for (int u = 0; u < 8; ++u) acc[u] = V::add(acc[u], V::mul(xv, V::set(wr[u * K + k])));
      }
      for (int u = 0; u < 8; ++u) {
        V::store(lanes, acc[u]);
        for (int64_t i = 0; i < nt; ++i) y[(t0 + i) * y_stride + r0 + u] = lanes[i];
      }
    }
    for (; r0 < N; ++r0) {
      F acc = V::zero();
      for (int64_t k = 0; k < K; ++k) acc = V::add(acc, V::mul(V::load(xt + k * W), V::set(w[r0 * K + k])));
      V::store(lanes, acc);
      for (int64_t i = 0; i < nt; ++i) y[(t0 + i) * y_stride + r0] = lanes[i];
    }
  }
}

}  // namespace rmsmp::simd
