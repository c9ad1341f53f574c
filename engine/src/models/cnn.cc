// CNN forward pass: walks the graph's nodes in order, one image at a time (see cnn.h).
#include "models/cnn.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "core/aligned.h"
#include "io/model_format.h"
#include "models/cnn_ops.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {

template <class T>
struct Buf {
  AlignedArray<T> p;  // uninitialised (every value is written before it is read); cache-line aligned
  size_t cap = 0;
};
using FloatBuf = Buf<float>;

// Value buffers from a per-thread pool of uninitialised arrays, returned after their last use: fresh vectors
// cost a zeroing pass and, at these sizes, mmap page faults on every forward pass.
template <class T>
Buf<T> take_buf(std::vector<Buf<T>>& pool, int64_t n) {
  size_t best = pool.size();
  for (size_t i = 0; i < pool.size(); ++i)  // the smallest spare that fits
    if (pool[i].cap >= size_t(n) && (best == pool.size() || pool[i].cap < pool[best].cap)) best = i;
  Buf<T> b;
  if (best == pool.size()) {
    b.p = make_aligned_array<T>(size_t(n));
    b.cap = size_t(n);
  } else {
    b = std::move(pool[best]);
    pool.erase(pool.begin() + std::ptrdiff_t(best));
  }
  return b;
}

// The int8 handoff: a conv output that every reader takes as the input of an integer conv with one and the same
// static clip is also written quantized by its producer (LinearPost::q_out, while in cache), and the readers
// skip their own quantization pass over it. The values are the ones quantize_activations would give, so the
// results are the same with it on or off (RMSMP_CNN_INT8_HANDOFF=0, for A/B runs). Dynamic clips (per-tensor
// max, the 8-bit default) cannot be handed off: the step is known only once the whole output is written.
// q_only: nothing reads the float output (no residual use), so the producer may skip storing it.
struct Handoff {
  bool on = false;
  bool q_only = false;
  float step = 0.f, inv = 0.f;
  int max_q = 127;
};

std::vector<Handoff> plan_handoff(const CnnGraph& g) {
  static const bool off = [] {
    const char* e = std::getenv("RMSMP_CNN_INT8_HANDOFF");
    return e && std::string(e) == "0";
  }();
  std::vector<Handoff> h(g.values.size());
  if (off) return h;
  std::vector<char> produced(g.values.size(), 0), ok(g.values.size(), 1), seen(g.values.size(), 0),
      residual(g.values.size(), 0);
  std::vector<ActQuant> act(g.values.size());
  for (const CnnNode& n : g.nodes) {
    if (n.op == CnnNode::Op::Conv) produced[size_t(n.out)] = 1;
    if (n.residual >= 0) residual[size_t(n.residual)] = 1;
    const size_t v = size_t(n.in);
    if (n.op != CnnNode::Op::Conv) {
      ok[v] = 0;
      continue;
    }
    const RowMixedLinear& L = g.layers[size_t(n.layer)];
    const ActQuant& a = L.act;
    const bool integer = L.all_integer_groups();  // a grouped conv's rows are all integer or all fp32 (prepare_grouped)
    if (!integer || a.dynamic || a.per_tensor || !(a.clip > 0.f)) {
      ok[v] = 0;
      continue;
    }
    if (seen[v] && (a.bits != act[v].bits || a.nonneg != act[v].nonneg || a.clip != act[v].clip)) ok[v] = 0;
    seen[v] = 1;
    act[v] = a;
  }
  for (size_t v = 0; v < h.size(); ++v) {
    if (!produced[v] || !seen[v] || !ok[v] || int(v) == g.output) continue;
    h[v].on = true;
    h[v].q_only = !residual[v];
    h[v].max_q = act_max_q(act[v]);
    h[v].step = act[v].clip / float(h[v].max_q);  // as act_quantize_row computes them
    h[v].inv = 1.f / h[v].step;
  }
  return h;
}

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
// xq (null: none): the input already quantized by its producer with step xq_step (the int8 handoff). q_out:
// where to store the output quantized for its readers (null: none; yq its step's inverse and max_q).
void run_conv(const CnnGraph& g, const Backend& be, const CnnNode& n, const float* x, uint32_t x_max,
              const float* residual, float* y, uint32_t* y_max, const CnnLayerHook* hook, const int8_t* xq,
              float xq_step, int8_t* q_out, const Handoff& yq) {
  const CnnValue &in = g.values[size_t(n.in)], &out = g.values[size_t(n.out)];
  const RowMixedLinear& L = g.layers[size_t(n.layer)];
  const ActQuant act = resolve_act(L, x, in.size(), x_max);
  LinearPost post{residual, cnn_post_act(n.act)};
  post.abs_max = yq.on ? nullptr : y_max;  // handed off: every reader has a static clip and needs no max
  post.q_out = q_out;
  post.q_inv = yq.inv;
  post.q_max = yq.max_q;
  post.q_only = q_out && yq.q_only;
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
    const CnnGraph::Unpacked& u = g.unpacked[size_t(n.layer)];
    RMSMP_CHECK(!u.q.empty() || !u.f.empty(), ErrorCode::Internal,
                "cnn_forward: grouped layer " << n.layer << " was not prepared (cnn_prepare first)");
    cnn_conv_grouped(be, u, L, act, x, in, n, out, post, y, xq, xq_step);
    return;
  }
  const bool direct = n.kh == 1 && n.kw == 1 && n.sh == 1 && n.sw == 1 && n.pt == 0 && n.pl == 0 && n.pb == 0 &&
                      n.pr == 0;
  if (!hook && !act.dynamic && L.all_integer_groups() && direct) {  // 1x1: the backend quantizes as it goes
    if (xq) be.linear_s8(L, act, xq, xq_step, P, post, y);
    else be.linear_static(L, act, x, P, post, y);
    return;
  }
  if (!hook && !act.dynamic && L.all_integer_groups()) {
    // Quantize the input tensor once (one static step), then expand the patches in int8: a quarter of the
    // fp32 patches' bytes and 1 / (kh * kw) of the quantization work. The residual and the activation run in
    // the GEMM's epilogue. Same q as quantizing each fp32 patch (padding quantizes to 0).
    thread_local std::vector<int8_t> q;  // grows to the largest seen, then stays
    float xstep = xq_step;
    if (!xq) {
      if (q.size() < size_t(in.size())) q.resize(size_t(in.size()));
      xstep = be.quantize_activations(x, in.size(), act, q.data());
    }
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
    src.cols = L.cols, src.q = xq ? xq : q.data(), src.in = &in, src.n = &n, src.ow = out.w;
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
  store_q_out(post, y, out.size(), 0);
}

}  // namespace

void cnn_prepare(CnnGraph& g, const Backend& be, const ModelFile& f) {
  std::vector<const RowMixedLinear*> on_backend;  // groups == 1 convs run on backend linears (the rest: cnn_ops)
  for (size_t i = 0; i < g.layers.size(); ++i)
    if (!g.grouped[i]) on_backend.push_back(&g.layers[i]);
  check_layers(be, on_backend, f.path());
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const CnnNode& n = g.nodes[k];
    if (n.op != CnnNode::Op::Conv) continue;
    const size_t i = size_t(n.layer);
    if (!g.grouped[i]) {
      prepare_linear(be, f, g.layers[i]);
      continue;
    }
    const bool depthwise = n.groups == g.values[size_t(n.in)].c && n.groups == g.values[size_t(n.out)].c;
    g.unpacked[i] = be.prepare_grouped(g.layers[i], depthwise ? n.kh : 0, f.path() + ": node " + std::to_string(k) + " (conv)");
  }
}

int cnn_int8_handoffs(const CnnGraph& g) {
  int n = 0;
  for (const Handoff& h : plan_handoff(g)) n += h.on;
  return n;
}

std::vector<float> cnn_forward(const CnnGraph& g, const Backend& be, const float* image_nhwc,
                               const CnnLayerHook* hook) {
  thread_local std::vector<FloatBuf> pool;
  thread_local std::vector<Buf<int8_t>> qpool;
  std::vector<FloatBuf> buf(g.values.size());
  std::vector<Buf<int8_t>> qbuf(g.values.size());  // the handed-off values' int8 copies
  std::vector<uint32_t> vmax(g.values.size(), kMaxUnknown);  // abs_max_bits of each value, where reported
  const std::vector<Handoff> handoff = hook ? std::vector<Handoff>(g.values.size()) : plan_handoff(g);
  auto take = [&](int64_t n) { return take_buf(pool, n); };
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
      case CnnNode::Op::Conv: {
        const Handoff& hi = handoff[size_t(n.in)];
        const Handoff& ho = handoff[size_t(n.out)];
        if (ho.on) qbuf[size_t(n.out)] = take_buf(qpool, out.size());
        run_conv(g, be, n, x, vmax[size_t(n.in)], n.residual >= 0 ? buf[size_t(n.residual)].p.get() : nullptr, y,
                 &vmax[size_t(n.out)], hook, hi.on ? qbuf[size_t(n.in)].p.get() : nullptr, hi.step,
                 ho.on ? qbuf[size_t(n.out)].p.get() : nullptr, ho);
        break;
      }
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
    for (size_t v = 0; v < buf.size(); ++v) {  // return what no later node reads
      if (g.last_use[v] != int(i) || int(v) == g.output) continue;
      if (buf[v].p) pool.push_back(std::move(buf[v]));
      if (qbuf[v].p) qpool.push_back(std::move(qbuf[v]));
    }
  }
  const float* o = buf[size_t(g.output)].p.get();
  std::vector<float> result(o, o + g.values[size_t(g.output)].size());
  for (auto& b : buf)
    if (b.p) pool.push_back(std::move(b));
  for (auto& b : qbuf)
    if (b.p) qpool.push_back(std::move(b));
  return result;
}

}  // namespace rmsmp
