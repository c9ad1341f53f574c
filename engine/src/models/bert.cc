// BERT encoder forward: embeddings + LayerNorm, N x (self-attention, add&norm, FFN with erf GELU, add&norm),
// then sentence-transformers' pooling modes (the Dense modules and normalisation: sentence_head.cc).
#include "models/bert.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rmsmp {

std::string bert_linear_name(int64_t layer, const char* which) {
  return "encoder." + std::to_string(layer) + "." + which;
}

int64_t relative_position_bucket(int64_t relative_position, int64_t num_buckets, int64_t max_distance) {
  const int64_t half = num_buckets / 2, max_exact = half / 2;
  int64_t n = -relative_position, ret = n < 0 ? half : 0;
  n = n < 0 ? -n : n;
  if (n < max_exact) return ret + n;
  const float v = std::log(float(n) / float(max_exact)) / float(std::log(double(max_distance) / double(max_exact))) *
                  float(half - max_exact);
  return ret + std::min(max_exact + int64_t(v), half - 1);
}

void BertWorkspace::reserve(int64_t tokens, int64_t hidden, int64_t ffn) {
  const size_t n = size_t(tokens * hidden);
  for (auto* b : {&h, &q, &k, &v, &ctx, &tmp})
    if (b->size() < n) b->resize(n);
  if (ff.size() < size_t(tokens * ffn)) ff.resize(size_t(tokens * ffn));
}

void bert_forward(const BertWeights& w, const Backend& be, const std::vector<SequenceInput>& batch, float* pooled,
                  const BertRunOptions& opt) {
  const BertConfig& c = w.cfg;
  const int64_t H = c.hidden_size, F = c.intermediate_size, nh = c.num_heads, hd = H / nh;
  int64_t T = 0;
  for (const auto& s : batch) T += s.len;
  BertWorkspace local;
  BertWorkspace& ws = opt.workspace ? *opt.workspace : local;
  ws.reserve(T, H, F);
  // Views of the workspace (buffers may be larger than this batch needs).
  struct View {
    float* p;
    float* data() const { return p; }
    float& operator[](int64_t i) const { return p[i]; }
  };
  View h{ws.h.data()}, q{ws.q.data()}, k{ws.k.data()}, v{ws.v.data()}, ctx{ws.ctx.data()}, tmp{ws.tmp.data()},
      ff{ws.ff.data()};
  const LinearInputHook* hook = opt.hook;
  float* cls_out = opt.cls_out;

  // Embeddings: word + position + token type, then LayerNorm. A row-quantized word table is dequantized per
  // token into `row` (float(q) * step), on the host for every backend.
  if (!w.word_emb && ws.emb_row.size() < size_t(H)) ws.emb_row.resize(size_t(H)), ws.emb_q.resize(size_t(H));
  int64_t t = 0;
  for (const auto& s : batch)
    for (int64_t p = 0; p < s.len; ++p, ++t) {
      const float* we = ws.emb_row.data();
      if (w.word_emb) we = w.word_emb + int64_t(s.ids[p]) * H;
      else w.word_table.row(s.ids[p], ws.emb_q.data(), ws.emb_row.data());
      const float* pe = w.pos_emb + p * H;
      const float* te = w.type_emb + int64_t(s.type_ids[p]) * H;
      for (int64_t i = 0; i < H; ++i) h[t * H + i] = we[i] + pe[i] + te[i];
    }
  be.layer_norm(h.data(), nullptr, w.emb_ln_g, w.emb_ln_b, c.layer_norm_eps, T, H, h.data());

  auto run = [&](const RowMixedLinear& lin, const float* x, float* y) {
    if (hook) (*hook)(lin, x, T);
    be.linear(lin, x, T, y);
  };
  // MPNet: the relative position bias every layer adds, per sequence: head h, distance i - j at (i - j) + len - 1.
  std::vector<int64_t> rb_off;
  if (c.rel_buckets > 0) {
    int64_t need = 0;
    for (const auto& s : batch) rb_off.push_back(need), need += nh * rel_bias_stride(s.len);
    if (ws.rel_bias.size() < size_t(need)) ws.rel_bias.resize(size_t(need));
    for (size_t b = 0; b < batch.size(); ++b) {
      const int64_t len = batch[b].len, st = rel_bias_stride(len);
      float* dst = ws.rel_bias.data() + rb_off[b];
      for (int64_t m = 0; m < st; ++m) {
        const int64_t bucket = relative_position_bucket(len - 1 - m, c.rel_buckets, c.rel_max_distance);
        for (int64_t hh = 0; hh < nh; ++hh) dst[hh * st + m] = m < 2 * len - 1 ? w.rel_table[bucket * nh + hh] : 0.f;
      }
    }
  }
  // The batch's packed sequences for attention_batch: first row, length, relative bias (MPNet).
  std::vector<int64_t> seq_off, seq_len;
  std::vector<const float*> seq_rb;
  for (size_t b = 0, off = 0; b < batch.size(); off += size_t(batch[b].len), ++b) {
    seq_off.push_back(int64_t(off));
    seq_len.push_back(batch[b].len);
    seq_rb.push_back(rb_off.empty() ? nullptr : ws.rel_bias.data() + rb_off[b]);
  }
  for (const BertLayerWeights& L : w.layers) {
    if (hook)
      for (const RowMixedLinear* lin : {&L.q, &L.k, &L.v}) (*hook)(*lin, h.data(), T);
    const RowMixedLinear* qkv[3] = {&L.q, &L.k, &L.v};
    float* qkv_out[3] = {q.data(), k.data(), v.data()};
    be.linear_multi(qkv, 3, h.data(), T, qkv_out);
    be.attention_batch(q.data(), k.data(), v.data(), seq_off.data(), seq_len.data(), int64_t(batch.size()), nh, hd,
                       ctx.data(), rb_off.empty() ? nullptr : seq_rb.data());
    run(L.attn_out, ctx.data(), tmp.data());
    be.layer_norm(tmp.data(), h.data(), L.ln_attn_g, L.ln_attn_b, c.layer_norm_eps, T, H, h.data());
    if (hook) (*hook)(L.ffn_in, h.data(), T);
    be.linear_gelu(L.ffn_in, h.data(), T, ff.data());
    run(L.ffn_out, ff.data(), tmp.data());
    be.layer_norm(tmp.data(), h.data(), L.ln_ffn_g, L.ln_ffn_b, c.layer_norm_eps, T, H, h.data());
  }

  // Pooling as sentence-transformers does it, each mode over the sequence's tokens (all packed tokens are
  // attended), concatenated in PoolingMode order.
  const int64_t P = c.pooled_size();
  int64_t off = 0;
  for (size_t b = 0; b < batch.size(); ++b) {
    float* out = pooled + int64_t(b) * P;
    const float* x = h.p + off * H;
    const int64_t len = batch[b].len;
    if (cls_out) std::copy(x, x + H, cls_out + b * H);
    if (c.pooling & kPoolCls) out = std::copy(x, x + H, out);
    if (c.pooling & kPoolMax) {
      for (int64_t i = 0; i < H; ++i) {
        float m = x[i];
        for (int64_t p = 1; p < len; ++p) m = std::max(m, x[p * H + i]);
        out[i] = m;
      }
      out += H;
    }
    for (unsigned mode : {kPoolMean, kPoolMeanSqrtLen}) {
      if (!(c.pooling & mode)) continue;
      const double div = mode == kPoolMean ? double(len) : std::sqrt(double(len));
      for (int64_t i = 0; i < H; ++i) {
        double acc = 0;
        for (int64_t p = 0; p < len; ++p) acc += x[p * H + i];
        out[i] = float(acc / div);
      }
      out += H;
    }
    off += len;
  }
}

}  // namespace rmsmp
