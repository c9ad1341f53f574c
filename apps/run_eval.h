// Evaluation shared by `rmsmp-run eval` and `rmsmp-run demo`.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "common/head.h"
#include "rmsmp/model.h"

namespace rmsmp::run {

double cosine(const std::vector<float>& a, const std::vector<float>& b);

// Accuracy of `head` on `data` with model m; with a reference (model or precomputed embeddings) also the
// reference's accuracy and the embedding cosine to it. Optionally returns m's embeddings.
nlohmann::json evaluate(const Model& m, const cli::LinearHead& head, const cli::LabeledText& data,
                        const std::string& where, const Model* reference,
                        const std::vector<std::vector<float>>* reference_emb, std::vector<std::vector<float>>* emb_out);

}  // namespace rmsmp::run
