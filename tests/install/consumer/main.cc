// A minimal service-side use of the installed C++ API: load once, one Context per thread, classify a few
// inputs (a sentence pair included) and print the logits as JSON lines, embed and print the dimension.
// Usage: consumer MODEL.rmsmp
#include <cstdio>
#include <thread>
#include <vector>

#include <rmsmp/context.h>
#include <rmsmp/vision.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  try {
    auto model = rmsmp::Model::load(argv[1]);  // shared, read-only
    std::vector<std::vector<float>> logits;
    std::thread worker([&] {
      rmsmp::Context ctx(model);  // per thread
      logits = ctx.classify({ctx.tokenize("the movie was good !"), ctx.tokenize("the movie", "it was very bad .")});
    });
    worker.join();
    for (const auto& l : logits) std::printf("[%.7f, %.7f, %.7f]\n", l[0], l[1], l[2]);
    // The README's snippet: designated options, a raw (unnormalised) pair embedding.
    rmsmp::Context ctx(model, {.threads = 1, .truncation = rmsmp::Truncation::Error});
    auto raw = ctx.embed({ctx.tokenize("the movie", "it was bad")}, {.normalize = false});
    std::printf("dim %zu\n", ctx.embed_texts({"great"})[0].size() + raw[0].size() - raw[0].size());
    // The installed vision header and VisionModel link: a text model is refused with InvalidFile.
    try {
      rmsmp::VisionModel::load(argv[1]);
      std::printf("vision: loaded a text model\n");
    } catch (const rmsmp::Error& e) {
      std::printf("vision: %s\n", rmsmp::error_code_name(e.code()));
    }
  } catch (const rmsmp::Error& e) {
    std::fprintf(stderr, "error (%s): %s\n", rmsmp::error_code_name(e.code()), e.what());
    return 1;
  }
  return 0;
}
