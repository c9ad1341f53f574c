// Evaluation shared by `rmsmp-run eval` and `rmsmp-run demo`.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "heads/head.h"
#include "rmsmp/model.h"

namespace rmsmp::run {

// Regularisation strengths fit-head and the demo choose from (on held-out training rows).
inline const std::vector<double> kL2Grid = {0.1, 1, 10, 100, 1e3, 1e4, 1e5};

double cosine(const std::vector<float>& a, const std::vector<float>& b);

// Accuracy of `head` on `data` with model m; with a reference (model or precomputed embeddings) also the
// reference's accuracy and the embedding cosine to it. Optionally returns m's embeddings.
nlohmann::json evaluate(const Model& m, const cli::LinearHead& head, const cli::LabeledText& data,
                        const std::string& where, const Model* reference,
                        const std::vector<std::vector<float>>* reference_emb, std::vector<std::vector<float>>* emb_out);

}  // namespace rmsmp::run
