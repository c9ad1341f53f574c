// The converter and engine on a tiny random BERT: assignment counts and ordering, baselines, provenance,
// reference vs CPU backends (bit-identical for integer models), batching without padding, act-bits 4.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "convert.h"
#include "hf_checkpoint.h"
#include "models/bert.h"
#include "io/model_format.h"
#include "rmsmp/model.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

std::string convert(const std::string& key, ConvertOptions o) {
  o.in_dir = test::make_tiny_checkpoint("tiny_bert");
  o.out_path = test::temp_dir() + "/tiny_" + key + ".rmsmp";
  o.calib_sentences = {"the movie was very good !", "it is not fun , the plot was dull .", "a great play", "bad"};
  o.calib_source = "inline";
  convert_checkpoint(o);
  return o.out_path;
}

std::vector<std::vector<float>> embed(const std::string& path, const std::string& backend,
                                      const std::vector<std::string>& texts) {
  LoadOptions lo;
  lo.backend = backend;
  auto m = Model::load(path, lo);
  std::vector<Tokenized> b;
  for (const auto& t : texts) b.push_back(m->tokenize(t));
  return m->embed(b);
}

const std::vector<std::string> kTexts = {"the movie was good", "not fun !", "a very dull plot , it is bad .", "great"};

}  // namespace

TEST(TinyBert, RmsmpRowCountsFollowTheRatioInEveryLayer) {
  ConvertOptions o;
  const std::string p = convert("rmsmp", o);
  auto mf = ModelFile::open(p);
  for (const auto& [name, l] : mf->header()["linears"].items()) {
    const int64_t rows = l["rows"];
    std::map<std::string, int64_t> n;
    std::vector<std::string> order;
    for (const auto& g : l["groups"]) n[g["scheme"]] = g["rows"], order.push_back(g["scheme"]);
    EXPECT_EQ(n["fixed8"], std::llround(0.05 * double(rows))) << name;
    EXPECT_EQ(n["fixed4"], std::llround(0.30 * double(rows))) << name;
    EXPECT_EQ(n["fixed8"] + n["fixed4"] + n["pot4"], rows) << name;
    EXPECT_EQ(order.front(), n["fixed8"] ? "fixed8" : "fixed4") << "groups are stored fixed8, fixed4, pot4";
    EXPECT_EQ(order.back(), "pot4");
  }
}

TEST(TinyBert, CustomRatiosAndUniformBaselines) {
  ConvertOptions o;
  o.ratios = {0.5, 0.25, 0.25};
  auto mf = ModelFile::open(convert("ratio", o));
  EXPECT_NEAR(mf->header()["quantization"]["avg_weight_bits"].get<double>(), 5.0, 0.1);
  for (const char* s : {"fixed8", "fixed4", "pot4"}) {
    ConvertOptions u;
    u.scheme = s;
    auto f = ModelFile::open(convert(s, u));
    for (const auto& [name, l] : f->header()["linears"].items()) {
      ASSERT_EQ(l["groups"].size(), 1u) << name;
      EXPECT_EQ(l["groups"][0]["scheme"], s);
    }
  }
}

TEST(TinyBert, HighestHessianRowsGetEightBits) {
  // Rebuild the scores the converter used from its report and check the split is by score.
  ConvertOptions o;
  const std::string p = convert("rmsmp_report", o);
  o.out_path = p;
  o.in_dir = test::make_tiny_checkpoint("tiny_bert");
  o.calib_sentences = {"the movie was very good !", "it is not fun , the plot was dull .", "a great play", "bad"};
  nlohmann::json rep = convert_checkpoint(o);
  for (const auto& l : rep["layers"]) {
    const auto& g = l["groups"];
    if (!g.contains("fixed8")) continue;
    const double min8 = g["fixed8"]["hessian_score"]["min"];
    for (const char* other : {"fixed4", "pot4"}) {
      if (g.contains(other)) {
        EXPECT_GE(min8, g[other]["hessian_score"]["max"].get<double>()) << l["name"];
      }
    }
    // Variance rule: Fixed-4 rows are the flatter ones.
    if (g.contains("fixed4") && g.contains("pot4")) {
      EXPECT_GE(g["fixed4"]["normalized_variance"]["min"].get<double>(), g["pot4"]["normalized_variance"]["max"].get<double>());
    }
  }
}

TEST(TinyBert, ReferenceAndCpuBackendsAgree) {
  for (const char* s : {"rmsmp", "fixed4", "pot4", "fixed8"}) {
    ConvertOptions o;
    o.scheme = s;
    const std::string p = convert(std::string("be_") + s, o);
    auto a = embed(p, "reference", kTexts), b = embed(p, "cpu", kTexts);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << s << ": integer models must be bit-identical";
  }
  ConvertOptions f;
  f.scheme = "fp32";
  const std::string p = convert("be_fp32", f);
  auto a = embed(p, "reference", kTexts), b = embed(p, "cpu", kTexts);
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].size(); ++j) EXPECT_NEAR(a[i][j], b[i][j], 1e-5);
}

TEST(TinyBert, BatchOfMixedLengthsEqualsOneByOne) {
  ConvertOptions o;
  const std::string p = convert("batch", o);
  auto batch = embed(p, "cpu", kTexts);
  for (size_t i = 0; i < kTexts.size(); ++i) EXPECT_EQ(embed(p, "cpu", {kTexts[i]})[0], batch[i]);
}

TEST(TinyBert, QuantizedModelsStayCloseToFp32AndFourBitActivationsWork) {
  ConvertOptions f;
  f.scheme = "fp32";
  auto ref = embed(convert("close_fp32", f), "cpu", kTexts);
  auto cos = [](const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0, na = 0, nb = 0;
    for (size_t i = 0; i < a.size(); ++i) d += a[i] * b[i], na += a[i] * a[i], nb += b[i] * b[i];
    return d / std::sqrt(na * nb);
  };
  ConvertOptions e8;
  e8.scheme = "fixed8";
  for (const auto& [key, o, min_cos] : std::vector<std::tuple<std::string, ConvertOptions, double>>{
           {"close_fixed8", e8, 0.99}, {"close_rmsmp", ConvertOptions{}, 0.8}}) {
    auto q = embed(convert(key, o), "cpu", kTexts);
    for (size_t i = 0; i < q.size(); ++i) EXPECT_GT(cos(q[i], ref[i]), min_cos) << key;
  }
  ConvertOptions a4;
  a4.act_bits = 4;
  const std::string p4 = convert("act4", a4);
  auto mf = ModelFile::open(p4);
  for (const auto& [name, l] : mf->header()["linears"].items()) {
    EXPECT_EQ(l["act"]["mode"], "static") << name;
    EXPECT_GT(l["act"]["clip"].get<double>(), 0.0) << name;
  }
  auto q4 = embed(p4, "reference", kTexts), q4c = embed(p4, "cpu", kTexts);
  EXPECT_EQ(q4, q4c);
}

TEST(TinyBert, ConverterRejectsBadOptions) {
  ConvertOptions o;
  o.ratios = {0.5, 0.5, 0.5};
  EXPECT_THROW(convert("bad_ratio", o), Error);
  ConvertOptions n;
  n.in_dir = test::make_tiny_checkpoint("tiny_bert");
  n.out_path = test::temp_dir() + "/nocalib.rmsmp";
  try {
    convert_checkpoint(n);  // rmsmp without calibration text
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--calib"), std::string::npos);
  }
}

TEST(TinyBert, RandomBaselineIsDeterministicAndLayerwiseSpendsTheSameBudget) {
  ConvertOptions r;
  r.scheme = "random";
  auto a = ModelFile::open(convert("rand_a", r)), b = ModelFile::open(convert("rand_b", r));
  EXPECT_EQ(a->header()["linears"], b->header()["linears"]);
  ConvertOptions l;
  l.scheme = "layerwise";
  l.ratios = {0.5, 0.3, 0.2};
  auto f = ModelFile::open(convert("layerwise", l));
  const double bits = f->header()["quantization"]["avg_weight_bits"];
  EXPECT_GT(bits, 4.0);
  EXPECT_LE(bits, 4.0 + 4 * 0.2 + 1e-9);
}


TEST(TinyBert, WordEmbeddingTablesAreQuantizedPerRow) {
  // Defaults: fixed4 tables for the mix, fixed8 for the fixed8 baseline, fp32 for fp32 (no "tables" section).
  for (const auto& [scheme, want] : std::vector<std::pair<std::string, std::string>>{
           {"rmsmp", "fixed4"}, {"fixed8", "fixed8"}, {"fp32", "fp32"}}) {
    ConvertOptions o;
    o.scheme = scheme;
    auto f = ModelFile::open(convert("emb_default_" + scheme, o));
    EXPECT_EQ(f->header()["quantization"]["embeddings"], want) << scheme;
    EXPECT_EQ(f->header().contains("tables"), want != "fp32") << scheme;
  }
  // Every dequantized row is float(q) * step of the reference quantizer applied to the checkpoint's row.
  HfBertCheckpoint ck = load_hf_bert(test::make_tiny_checkpoint("tiny_bert"));
  const std::vector<float>& src = ck.tensor("embeddings.word");
  const int64_t V = ck.cfg.vocab_size, H = ck.cfg.hidden_size;
  for (const QuantScheme& table_scheme : kQuantSchemes) {  // every integer scheme of the table can pack a table
    if (!quant_is_integer(table_scheme.kind)) continue;
    const std::string name = table_scheme.name;
    const QuantKind kind = table_scheme.kind;
    ConvertOptions o;
    o.scheme = "fixed8";
    o.embeddings = name;
    auto f = ModelFile::open(convert("emb_" + name, o));
    const BertWeights w = bert_bind(*f);
    ASSERT_EQ(w.word_emb, nullptr);
    ASSERT_FALSE(w.word_table.empty());
    const QuantScheme& s = quant_scheme(kind);
    std::vector<uint8_t> packed(quant_row_bytes(kind, H));
    std::vector<int8_t> q(static_cast<size_t>(H)), scratch(q.size());
    std::vector<float> got(static_cast<size_t>(H));
    for (int64_t r = 0; r < V; ++r) {
      const float* row = src.data() + r * H;
      const float step = quant_row_step(kind, row, H, ClipMode::Mse);
      quant_quantize_pack_row_with_step_ref(kind, row, H, step, packed.data());
      s.unpack_row(packed.data(), H, q.data());
      w.word_table.row(r, scratch.data(), got.data());
      for (int64_t i = 0; i < H; ++i) ASSERT_EQ(got[size_t(i)], float(q[size_t(i)]) * step) << name << " row " << r;
    }
  }
  // Whole models: the same linears with fp32, fixed8 and fixed4 tables stay close.
  ConvertOptions e32, e8, e4;
  e32.scheme = e8.scheme = e4.scheme = "fixed8";
  e32.embeddings = "fp32", e8.embeddings = "fixed8", e4.embeddings = "fixed4";
  auto a = embed(convert("emb_m32", e32), "cpu", kTexts), b = embed(convert("emb_m8", e8), "cpu", kTexts),
       c = embed(convert("emb_m4", e4), "reference", kTexts), c_cpu = embed(convert("emb_m4", e4), "cpu", kTexts);
  auto cos = [](const std::vector<float>& x, const std::vector<float>& y) {
    double d = 0, nx = 0, ny = 0;
    for (size_t i = 0; i < x.size(); ++i) d += x[i] * y[i], nx += x[i] * x[i], ny += y[i] * y[i];
    return d / std::sqrt(nx * ny);
  };
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_GT(cos(a[i], b[i]), 0.999);
    EXPECT_GT(cos(a[i], c[i]), 0.98);
    EXPECT_EQ(c[i], c_cpu[i]) << "the table lookup is the same on every backend";
  }
  // Bad values are refused, naming the option.
  ConvertOptions bad;
  bad.scheme = "fixed8";
  bad.embeddings = "int3";
  try {
    convert("emb_bad", bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--embeddings"), std::string::npos);
  }
  ConvertOptions f32;
  f32.scheme = "fp32";
  f32.embeddings = "fixed4";
  EXPECT_THROW(convert("emb_bad32", f32), Error);
}

}  // namespace rmsmp
