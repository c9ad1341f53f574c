// Fuzzes rmsmp-serve's request bodies (apps/serve/api.h): every route's parser on arbitrary bytes, and for a
// body that parses, the response writers on outputs of the parsed shape (embeddings of 8 values, 2 logits or
// 1), with the dimensions, normalisation and base64 paths. A parser may only refuse with an HttpError; any
// other exception, crash or sanitizer report is a finding. The route is picked by the first byte, so one
// corpus covers all of them.
#include <cstdint>
#include <string>
#include <vector>

#include "serve/api.h"

namespace {
using namespace rmsmp::serve;

std::vector<std::vector<float>> outputs(size_t n, size_t width) {
  std::vector<std::vector<float>> v(n, std::vector<float>(width));
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < width; ++k) v[i][k] = float(int(i * 7 + k * 3) % 11) - 5.f;
  return v;
}

void embed(const EmbedRequest& r) {
  auto e = outputs(r.size(), 8);
  if (r.dimensions) apply_dimensions(e, *r.dimensions, r.normalize.value_or(true));
  (void)embed_response(r, e, std::vector<bool>(r.size(), false), int64_t(3 * r.size()), "fuzz");
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr size_t kMaxInputs = 64;
  try {
    switch (data[0] % 6) {
      case 0: embed(parse_embed(body, kMaxInputs)); break;
      case 1: embed(parse_openai(body, kMaxInputs)); break;
      case 2: (void)parse_classify(body, kMaxInputs); break;
      case 3: {
        const PredictRequest r = parse_predict(body, kMaxInputs);
        (void)predict_response(r, outputs(r.inputs.size(), 2), {"neg", "pos"});
        (void)predict_response(r, outputs(r.inputs.size(), 1), {"score"});  // labels: one per output, as ModelInfo has
        break;
      }
      case 4: {
        const RerankRequest r = parse_rerank(body, kMaxInputs);
        (void)rerank_response(r, outputs(r.pairs.size(), 1));
        break;
      }
      default: (void)parse_tokenize(body, kMaxInputs); break;
    }
  } catch (const HttpError& e) {
    (void)error_body(e);
  }
  return 0;
}
