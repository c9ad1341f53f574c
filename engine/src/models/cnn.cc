// CNN forward pass: walks the graph's nodes in order, one image at a time (see cnn.h).
#include "models/cnn.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <vector>

#include "models/cnn_ops.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {

struct FloatBuf {
  std::unique_ptr<float[]> p;  // uninitialised: every value is written before it is read
  size_t cap = 0;
};

// RMSMP_VERBOSE=profile: one line per node and forward pass on stderr (op, shapes, microseconds), to find
// where a CNN's time goes without a profiler.
bool profile_nodes() {
  static const bool v = [] {
    const char* e = std::getenv("RMSMP_VERBOSE");
    return e && std::strstr(e, "profile") != nullptr;
  }();
  return v;
}

constexpr uint32_t kMaxUnknown = 0xffffffffu;  // no abs_max_bits pattern is this (they are <= 0x7f800000)

// The layer's activation quantizer for this input: "dynamic_tensor" becomes a static clip of max|x| over the
// whole input tensor, so every backend sees one step for all pixels. x_max: the input's abs_max_bits when its
// producer reported it (LinearPost::abs_max), else kMaxUnknown and it is computed here.
ActQuant resolve_act(const RowMixedLinear& L, const float* x, int64_t n, uint32_t x_max) {
  ActQuant a = L.act;
  if (a.per_tensor && L.has_integer_groups()) {  // fp32 layers quantize nothing
    a.per_tensor = false;
    a.dynamic = false;
    a.clip = x_max != kMaxUnknown ? float_of_bits(x_max) : cnn_abs_max(x, n);
  }
  return a;
}

// Runs conv node n. y_max: where to store the output's abs_max_bits, which the integer paths report as they
// write (left at kMaxUnknown by the others).
void run_conv(const CnnGraph& g, const Backend& be, const CnnNode& n, const float* x, uint32_t x_max,
              const float* residual, float* y, uint32_t* y_max, const CnnLayerHook* hook) {
  const CnnValue &in = g.values[size_t(n.in)], &out = g.values[size_t(n.out)];
  const RowMixedLinear& L = g.layers[size_t(n.layer)];
  const ActQuant act = resolve_act(L, x, in.size(), x_max);
  LinearPost post{residual, cnn_post_act(n.act)};
  post.abs_max = y_max;
  const int64_t P = out.h * out.w;
  if (n.groups > 1) {
    if (hook) {  // each group's patch as its own row: pixels * groups rows of cols values
      const int64_t cin_g = in.c / n.groups;
      std::vector<float> cols(size_t(P * n.kh * n.kw * in.c)), gp(size_t(P * n.groups * L.cols));
      cnn_im2col(x, in, n, out.h, out.w, cols.data());
      for (int64_t p = 0; p < P; ++p)
        for (int64_t gi = 0; gi < n.groups; ++gi)
          for (int64_t t = 0; t < n.kh * n.kw; ++t)
            for (int64_t ci = 0; ci < cin_g; ++ci)
              gp[size_t(((p * n.groups + gi) * n.kh * n.kw + t) * cin_g + ci)] =
                  cols[size_t((p * n.kh * n.kw + t) * in.c + gi * cin_g + ci)];
      (*hook)(n.layer, gp.data(), P * n.groups);
    }
    cnn_conv_grouped(be, g.unpacked[size_t(n.layer)], L, act, x, in, n, out, post, y);
    return;
  }
  const bool direct = n.kh == 1 && n.kw == 1 && n.sh == 1 && n.sw == 1 && n.pt == 0 && n.pl == 0 && n.pb == 0 &&
                      n.pr == 0;
  if (!hook && !act.dynamic && L.all_integer_groups() && direct) {  // 1x1: the backend quantizes as it goes
    be.linear_static(L, act, x, P, post, y);
    return;
  }
  if (!hook && !act.dynamic && L.all_integer_groups()) {
    // Quantize the input tensor once (one static step), then expand the patches in int8: a quarter of the
    // fp32 patches' bytes and 1 / (kh * kw) of the quantization work. The residual and the activation run in
    // the GEMM's epilogue. Same q as quantizing each fp32 patch (padding quantizes to 0).
    thread_local std::vector<int8_t> q;  // grows to the largest seen, then stays
    if (q.size() < size_t(in.size())) q.resize(size_t(in.size()));
    const float xstep = be.quantize_activations(x, in.size(), act, q.data());
    // The backend asks for blocks of patches as it multiplies them (no stored im2col matrix).
    struct Im2col : PatchSource {
      const int8_t* q;
      const CnnValue* in;
      const CnnNode* n;
      int64_t ow;
      void rows(int64_t t0, int64_t np, int8_t* dst, int64_t stride) const override {
        cnn_im2col_rows(q, *in, *n, ow, t0, np, dst, stride);
      }
    } src;
    src.cols = L.cols, src.q = q.data(), src.in = &in, src.n = &n, src.ow = out.w;
    be.linear_patches(L, act, src, xstep, P, post, y);
    return;
  }
  *y_max = kMaxUnknown;  // the float path does not report it
  thread_local std::vector<float> cols;  // grows to the largest patch matrix seen, then stays
  const float* patches = x;
  if (!direct) {
    if (cols.size() < size_t(P * L.cols)) cols.resize(size_t(P * L.cols));
    cnn_im2col(x, in, n, out.h, out.w, cols.data());
    patches = cols.data();
  }
  if (hook) (*hook)(n.layer, patches, P);
  RowMixedLinear Lq = L;  // a view with the resolved activation quantizer (no weight copy)
  Lq.act = act;
  be.linear(Lq, patches, P, y);
  cnn_residual_act(y, residual, out.size(), n.act);
}

}  // namespace

std::vector<float> cnn_forward(const CnnGraph& g, const Backend& be, const float* image_nhwc,
                               const CnnLayerHook* hook) {
  // Value buffers come from a per-thread pool of uninitialised arrays and go back to it after their last use:
  // fresh vectors cost a zeroing pass and, at these sizes, mmap page faults on every forward pass.
  thread_local std::vector<FloatBuf> pool;
  std::vector<FloatBuf> buf(g.values.size());
  std::vector<uint32_t> vmax(g.values.size(), kMaxUnknown);  // abs_max_bits of each value, where reported
  auto take = [&](int64_t n) {
    size_t best = pool.size();
    for (size_t i = 0; i < pool.size(); ++i)  // the smallest spare that fits
      if (pool[i].cap >= size_t(n) && (best == pool.size() || pool[i].cap < pool[best].cap)) best = i;
    FloatBuf b;
    if (best == pool.size()) {
      b.p.reset(new float[size_t(n)]);
      b.cap = size_t(n);
    } else {
      b = std::move(pool[best]);
      pool.erase(pool.begin() + std::ptrdiff_t(best));
    }
    return b;
  };
  buf[0] = take(g.values[0].size());
  std::copy(image_nhwc, image_nhwc + g.values[0].size(), buf[0].p.get());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const CnnNode& n = g.nodes[i];
    const CnnValue& out = g.values[size_t(n.out)];
    buf[size_t(n.out)] = take(out.size());
    const float* x = buf[size_t(n.in)].p.get();
    float* y = buf[size_t(n.out)].p.get();
    const auto t0 = std::chrono::steady_clock::now();
    switch (n.op) {
      case CnnNode::Op::Conv:
        run_conv(g, be, n, x, vmax[size_t(n.in)], n.residual >= 0 ? buf[size_t(n.residual)].p.get() : nullptr, y,
                 &vmax[size_t(n.out)], hook);
        break;
      case CnnNode::Op::MaxPool:
        cnn_maxpool(x, g.values[size_t(n.in)], n, out, y);
        break;
      case CnnNode::Op::AvgPool:
        cnn_avgpool(x, g.values[size_t(n.in)], n, out, y);
        break;
      case CnnNode::Op::GlobalAvgPool:
        cnn_global_avgpool(x, g.values[size_t(n.in)], y);
        break;
    }
    if (profile_nodes()) {
      const CnnValue& iv = g.values[size_t(n.in)];
      const char* op = n.op == CnnNode::Op::Conv ? (n.groups == 1 ? "conv" : "conv_grouped")
                       : n.op == CnnNode::Op::MaxPool ? "maxpool" : n.op == CnnNode::Op::AvgPool ? "avgpool" : "global_avgpool";
      std::cerr << "[rmsmp] profile node " << i << " " << op << " " << n.kh << "x" << n.kw << "/" << n.sh << " "
                << iv.h << "x" << iv.w << "x" << iv.c << " -> " << out.h << "x" << out.w << "x" << out.c
                << (n.residual >= 0 ? " +residual" : "") << " "
                << std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count()
                << " us\n";
    }
    for (size_t v = 0; v < buf.size(); ++v)  // return what no later node reads
      if (g.last_use[v] == int(i) && int(v) != g.output && buf[v].p) pool.push_back(std::move(buf[v]));
  }
  const float* o = buf[size_t(g.output)].p.get();
  std::vector<float> result(o, o + g.values[size_t(g.output)].size());
  for (auto& b : buf)
    if (b.p) pool.push_back(std::move(b));
  return result;
}

}  // namespace rmsmp
