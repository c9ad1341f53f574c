// Backend interface: the ops a BERT encoder needs. Inputs are validated by the model front-end before a
// backend sees them. The reference backend is the oracle; others override what they do faster.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "quant/row_mixed.h"

namespace rmsmp {

// What linear_s8 applies after each output's bias, in this order: v += residual[t, r] (when given), then the
// activation. post_value (per element) and apply_post (vectorised, same operations) are the definitions every
// backend uses, so they agree bit for bit.
struct LinearPost {
  enum class Act { None, Relu, Relu6 };
  const float* residual = nullptr;  // n_tokens x w.rows, row-major, original row order; may be null
  Act act = Act::None;
  bool empty() const { return !residual && act == Act::None; }
  // When set, the backend also stores here abs_max_bits over all its outputs (after the post ops): the next
  // layer's per-tensor activation range, found while the outputs are in cache instead of by another pass.
  uint32_t* abs_max = nullptr;
  // When set, the backend also stores every output (after the post ops) quantized for the next layer's static
  // clip: q_out[i] = act_round_sat(y[i] * q_inv, q_max), row-major like y. These are exactly the values
  // quantize_activations(y, that static act) returns, made while the outputs are in cache (a CNN's int8
  // handoff: the consumer then skips its own quantization pass). store_q_out is the definition.
  int8_t* q_out = nullptr;
  float q_inv = 0.f;
  int q_max = 127;
  // With q_out: the caller reads q_out only, so a backend may leave y unwritten (paths that fuse the
  // quantization skip the float stores; the others still write y, which must be a whole buffer).
  bool q_only = false;
};

inline float post_value(float v, const float* residual, LinearPost::Act act) {
  if (residual) v += *residual;
  if (act == LinearPost::Act::Relu) return v > 0.f ? v : 0.f;  // NaN -> 0 (PyTorch keeps NaN)
  if (act == LinearPost::Act::Relu6) return v > 0.f ? (v < 6.f ? v : 6.f) : 0.f;
  return v;
}

// max over i < n of the bit pattern of |x[i]|, NaN counted as 0. For non-negative floats the order of the IEEE
// bits (as integers) is the order of the values, and NaNs are the patterns above +Inf's 0x7f800000, so the max
// of the patterns is the pattern of max |x| (act_quantize_row's range: NaN never wins), in any order or split.
uint32_t abs_max_bits(const float* x, int64_t n);
inline float float_of_bits(uint32_t u) {
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

// y[i] = post_value(y[i], residual + i, act) for i < n, as branch-free loops the compiler vectorises (a
// per-element branch on the sign mispredicts half the time).
void apply_post(float* y, const float* residual, int64_t n, LinearPost::Act act);

// q[i] = act_round_sat(y[i] * inv, max_q) for i < n (post.q_out's definition), vectorised with the same bits.
void quantize_scaled(const float* y, int64_t n, float inv, int max_q, int8_t* q);
// The post's q_out for n outputs y that start at output index `at` (nothing when post.q_out is null).
inline void store_q_out(const LinearPost& post, const float* y, int64_t n, int64_t at) {
  if (post.q_out) quantize_scaled(y, n, post.q_inv, post.q_max, post.q_out + at);
}

// Integer outputs of tb tokens in one pass per element: rowq_epilogue's float(acc) * (x_step * w_step) + bias,
// then post_value (residual, activation), stored to dst, and (when want_max) the abs_max_bits reduction, which
// is returned (0 otherwise). acc rows are acc_stride apart; dst and residual rows `rows` apart; x_step[t] per
// token, w_step and bias (null: 0) per row. The same operations per element as the separate passes, so the same
// bits; used by the CPU linears' fused epilogue and the depthwise convolutions. q (null: none): the outputs also
// as quantize_scaled(dst, q_inv, q_max) gives them, rows `rows` apart (LinearPost::q_out); dst may then be null
// (LinearPost::q_only: the floats are not stored).
uint32_t epilogue_rows(const int32_t* acc, int64_t acc_stride, int64_t tb, int64_t rows, const float* x_step,
                       const float* w_step, const float* bias, const float* residual, LinearPost::Act act,
                       bool want_max, float* dst, int8_t* q = nullptr, float q_inv = 0.f, int q_max = 127);

// A backend's load-time layout of a depthwise convolution's integer weights (prepare_depthwise).
struct PreparedDepthwise {
  virtual ~PreparedDepthwise() = default;
  int64_t taps = 0, channels = 0;
};

// The most taps a depthwise window may have on the prepared path (CnnGraph::kMaxTapMajorTaps).
inline constexpr int64_t kMaxDepthwiseTaps = 64;

// A grouped convolution's weights as the CNN runner's grouped kernels (cnn_ops) read them, made once at load by
// Backend::prepare_grouped: int8 codes with per-row steps (or fp32 values), [rows][cols] in original row order;
// depthwise convs (one input and one output channel per group, at most kMaxDepthwiseTaps taps) keep them
// tap-major instead, [ky][kx][c], so the kernels' inner loops run over contiguous channels.
struct PreparedGrouped {
  std::vector<int8_t> q;
  std::vector<float> f, step;
  bool integer = true;
  bool tap_major = false;
  // Integer depthwise layers: the backend's own layout of q (prepare_depthwise); null: the shared kernel reads q.
  std::shared_ptr<const PreparedDepthwise> prepared;
};

// One output row of a depthwise convolution (Backend::depthwise_row_s8). x: the quantized NHWC input
// (in_h x in_w x channels); window kh x kw, strides sh/sw, top/left padding pt/pl; output row oy of width ow.
// zeros: `channels` zero bytes (the taps outside the input). wstep/bias (null: 0) per channel; residual (null:
// none) and y: the row's ow x channels floats.
struct DepthwiseRow {
  const int8_t* x;
  int64_t in_h, in_w;
  int64_t kh, kw, sh, sw, pt, pl;
  int64_t oy, ow;
  const int8_t* zeros;
  float xstep;
  const float* wstep;
  const float* bias;
  const float* residual;
  LinearPost::Act act;
  bool want_max;
  float* y;             // may be null when q is set (LinearPost::q_only)
  int8_t* q = nullptr;  // null, or the row's outputs quantized as LinearPost::q_out (q_inv, q_max)
  float q_inv = 0.f;
  int q_max = 127;
};

// The window of row r's output pixels: rowp[ky] = input row ky of the window (null outside the input), found
// once per row; then per pixel ox, xs[t] = the tap's input pixel (r.zeros outside) for every tap in (ky, kx)
// order, plus one more r.zeros (an odd tap count's last pair has a zero weight).
inline void depthwise_window_rows(const DepthwiseRow& r, int64_t C, const int8_t** rowp) {
  for (int64_t ky = 0; ky < r.kh; ++ky) {
    const int64_t iy = r.oy * r.sh - r.pt + ky;
    rowp[ky] = iy >= 0 && iy < r.in_h ? r.x + iy * r.in_w * C : nullptr;
  }
}
inline void depthwise_window(const DepthwiseRow& r, int64_t C, const int8_t* const* rowp, int64_t ox,
                             const int8_t** xs) {
  int nt = 0;
  const int64_t ix0 = ox * r.sw - r.pl;
  if (ix0 >= 0 && ix0 + r.kw <= r.in_w) {  // inside the input's width: no test per tap
    for (int64_t ky = 0; ky < r.kh; ++ky) {
      const int8_t* p = rowp[ky] ? rowp[ky] + ix0 * C : nullptr;
      for (int64_t kx = 0; kx < r.kw; ++kx) xs[nt++] = p ? p + kx * C : r.zeros;
    }
  } else {
    for (int64_t ky = 0; ky < r.kh; ++ky)
      for (int64_t kx = 0; kx < r.kw; ++kx) {
        const int64_t ix = ix0 + kx;
        xs[nt++] = rowp[ky] && ix >= 0 && ix < r.in_w ? rowp[ky] + ix * C : r.zeros;
      }
  }
  xs[nt] = r.zeros;
}

// A linear's quantized input rows made on demand instead of stored: a convolution's patches (im2col) from its
// int8 input, so a backend can build each block of rows where it multiplies it. rows(t0, n, dst, stride) writes
// rows t0 .. t0 + n - 1, `cols` values each, row i at dst + i * stride; dst's bytes past cols are left alone.
struct PatchSource {
  virtual ~PatchSource() = default;
  int64_t cols = 0;
  virtual void rows(int64_t t0, int64_t n, int8_t* dst, int64_t stride) const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Called once per layer at load, before any forward: the backend may repack w's groups into the layout its
  // kernels stream (the file format stays backend-neutral) and returns it for w.prepared; null keeps the
  // groups as they are (the default). Results must not depend on whether a layer was prepared. A non-null
  // layout replaces every integer group's codes (the backend no longer reads them), so the model may release
  // their pages (release_prepared_codes).
  virtual std::shared_ptr<const PreparedLinear> prepare(const RowMixedLinear& w) const {
    (void)w;
    return nullptr;
  }

  // Load time, asked for every layer a model will run on this backend before any forward (check_layers): empty
  // if this backend runs w, else why not, naming the scheme ("opencl-fpga has no kernel for scheme 'x' rows").
  // The default runs every scheme of the table (the reference's dot_row).
  virtual std::string unsupported(const RowMixedLinear& w) const {
    (void)w;
    return {};
  }
  // What runs w's rows of group g, for RMSMP_VERBOSE=dispatch at load (e.g. "gemm_s8_avx2 panels").
  virtual std::string kernel_name(const RowMixedLinear& w, const RowGroup& g) const;

  // A grouped conv's weights (w: rows = output channels, cols = kh * kw * Cin / groups) in the layout above, at
  // load; depthwise_kh > 0: a depthwise conv (one input and one output channel per group) of kernel height
  // depthwise_kh (its width is w.cols / depthwise_kh); 0: any other grouped conv. The default
  // (grouped_layout.cc) unpacks the file's row groups through the scheme table and, for integer depthwise
  // layers, asks prepare_depthwise for this backend's own layout. Throws Unsupported naming `where` for a layer
  // that mixes fp32 and integer rows.
  virtual PreparedGrouped prepare_grouped(const RowMixedLinear& w, int64_t depthwise_kh, const std::string& where) const;

  // Depthwise convolutions (one input and one output channel per group), integer weights w = [tap][c] int8
  // (prepare_grouped's tap-major form): the backend may keep them in the layout its depthwise_acc_s8 reads, made
  // once at load. Null (the default): the CNN runner's shared kernel (cnn_ops) runs them.
  // The window is kh x kw (taps = kh * kw, in (ky, kx) order).
  virtual std::shared_ptr<const PreparedDepthwise> prepare_depthwise(const int8_t* w, int64_t kh, int64_t kw,
                                                                     int64_t channels) const {
    (void)w, (void)kh, (void)kw, (void)channels;
    return nullptr;
  }
  // One output pixel's sums: acc[c] = sum over t < w.taps of xs[t][c] * w[t][c], c < w.channels, exact in int32
  // (any order gives the same integers). xs[t] is the tap's quantized input pixel, or a row of zeros where the
  // window leaves the input. Called only with a layout this backend's prepare_depthwise made.
  virtual void depthwise_acc_s8(const PreparedDepthwise& w, const int8_t* const* xs, int32_t* acc) const {
    (void)w, (void)xs, (void)acc;
  }
  // One output row of a depthwise convolution with its epilogue: for every pixel ox < r.ow, the sums of
  // depthwise_acc_s8 over its window, then y = post(float(acc) * (r.xstep * r.wstep[c]) + bias[c]) exactly as
  // epilogue_rows computes it (so the same bits), written to r.y; returns abs_max_bits over the row when
  // r.want_max (else 0). The default runs depthwise_acc_s8 and epilogue_rows pixel by pixel; a backend may fuse
  // them (its sums never leave registers). Called only with a layout this backend's prepare_depthwise made.
  virtual uint32_t depthwise_row_s8(const PreparedDepthwise& w, const DepthwiseRow& r) const;

  // y[t, r] = sum_k x[t, k] * W[r, k] + bias[r] for t < n_tokens, r < w.rows (row-major, original order).
  // Integer groups quantize x per w.act and accumulate in int32 (see rowq_epilogue).
  virtual void linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const = 0;
  // Several layers of the same input width applied to the same x (a BERT layer's q, k and v): ys[i] gets
  // ws[i]'s output. Same results as n calls of linear(); a backend may share the input's quantization and
  // schedule all layers' rows together. The default does the n calls.
  virtual void linear_multi(const RowMixedLinear* const* ws, size_t n, const float* x, int64_t n_tokens,
                            float* const* ys) const {
    for (size_t i = 0; i < n; ++i) linear(*ws[i], x, n_tokens, ys[i]);
  }
  // linear() followed by in-place exact-erf GELU on its output (a BERT FFN's first layer). The default does
  // exactly that; a backend may apply GELU in the linear's epilogue while the outputs are in cache.
  virtual void linear_gelu(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const {
    linear(w, x, n_tokens, y);
    gelu(y, n_tokens * w.rows);
  }
  // linear() on an input that is already quantized with one step for every token (a CNN's static-clip
  // activations, quantized once per tensor and then expanded by an int8 im2col): xq holds n_tokens rows of
  // w.cols values that act_quantize_row(x, act) gave with step xstep, act static (not dynamic). Every group of w
  // must be integer. Then post (residual, activation). Results equal linear(w with act, x) followed by post,
  // bit for bit. The default dequantizes (q * xstep requantizes to exactly q: the product is within a few ulps
  // of q / inv_step) and calls linear(); fast backends run their integer kernels on xq directly.
  virtual void linear_s8(const RowMixedLinear& w, const ActQuant& act, const int8_t* xq, float xstep,
                         int64_t n_tokens, const LinearPost& post, float* y) const;
  // linear_s8 on float input: x quantized with `act` (static: one step for every token) as quantize_activations
  // would, then the integer linear and post. The CNN runner's 1x1 convolutions. Same results as
  // quantize_activations + linear_s8 (the default does exactly that); a backend may quantize each block of
  // tokens where it multiplies it, instead of a pass over the whole tensor first.
  virtual void linear_static(const RowMixedLinear& w, const ActQuant& act, const float* x, int64_t n_tokens,
                             const LinearPost& post, float* y) const;
  // linear_s8 on rows made by src (src.cols == w.cols): the same results as linear_s8 on all n_tokens rows
  // stored. The default stores them, then calls linear_s8.
  virtual void linear_patches(const RowMixedLinear& w, const ActQuant& act, const PatchSource& src, float xstep,
                              int64_t n_tokens, const LinearPost& post, float* y) const;
  // act_quantize_row over n values with one step (aq static: the CNN path's per-tensor quantization); every
  // backend must return the same q and step as act_quantize_row. The default is that function.
  virtual float quantize_activations(const float* x, int64_t n, const ActQuant& aq, int8_t* q) const {
    return act_quantize_row(x, n, aq, q);
  }
  // y[t] = LayerNorm(x[t] + residual[t]) * gamma + beta; residual may be null. y may alias x.
  virtual void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, float eps,
                          int64_t n_tokens, int64_t dim, float* y) const = 0;
  // In place, exact erf GELU: 0.5 x (1 + erf(x / sqrt 2)).
  virtual void gelu(float* x, int64_t n) const = 0;
  // Self-attention over one sequence of `len` tokens: q/k/v/out rows have stride n_heads*head_dim.
  // rel_bias (MPNet's relative position bias; null: none): per head rel_bias_stride(len) floats, element
  // (i - j) + len - 1 added to the score of query i and key j after its scaling: s = (q.k) * scale + b.
  virtual void attention(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads,
                         int64_t head_dim, float* out, const float* rel_bias = nullptr) const = 0;
  // attention over a batch of packed sequences: sequence b is rows [offs[b], offs[b] + lens[b]) of q/k/v/out,
  // with rel_bias[b] (rel_bias itself, or its entries, may be null). The same results as one attention call per
  // sequence, which the default makes; a backend may spread every (sequence, head) pair over its threads at once.
  virtual void attention_batch(const float* q, const float* k, const float* v, const int64_t* offs,
                               const int64_t* lens, int64_t n_seqs, int64_t n_heads, int64_t head_dim, float* out,
                               const float* const* rel_bias) const;
};

// Floats per head of an attention rel_bias: the 2 len - 1 distances and room for 16-lane loads past them.
inline int64_t rel_bias_stride(int64_t len) { return 2 * len + 16; }

// A backend by name: any entry of the backend table (registry.h), e.g. "cpu", "cpu:avx2", "reference",
// "opencl:0:0". Unsupported when this machine or build lacks it; InvalidArgument (listing the names) if unknown.
std::unique_ptr<Backend> make_backend(const std::string& name);

class ModelFile;
// Load time, before any forward: every layer's unsupported() on `be`, all gaps reported at once (Unsupported,
// naming `model`, the backend, and each layer with its reason); with RMSMP_VERBOSE=dispatch, one line per layer
// and scheme on stderr saying which kernel runs it.
void check_layers(const Backend& be, const std::vector<const RowMixedLinear*>& layers, const std::string& model);
// Load time: w.prepared = be.prepare(w); where a layout was made, the file pages of w's integer codes are
// dropped from the resident set (ModelFile::release), so resident weight memory stays the packed size.
void prepare_linear(const Backend& be, const ModelFile& file, RowMixedLinear& w);

}  // namespace rmsmp
