// Model's private state, shared by model.cc and context.cc (Context runs the same forward pass with its own
// workspace and options).
#pragma once
#include <memory>
#include <vector>

#include "backends/backend.h"
#include "io/model_format.h"
#include "models/bert.h"
#include "rmsmp/model.h"
#include "rmsmp/tokenizer/tokenizer.h"

namespace rmsmp {

struct Model::Impl {
  std::shared_ptr<const ModelFile> file;
  BertWeights weights;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  std::unique_ptr<Backend> backend;
  ModelInfo info;
};

// Validates a batch against the config (ids, type ids, lengths) and returns the encoder's views of it.
std::vector<SequenceInput> checked_inputs(const BertConfig& c, const std::vector<Tokenized>& batch);
// Embeddings (normalize: -1 as configured, 0/1 override) and, when the model has a head, logits.
std::vector<std::vector<float>> run_embed(const Model::Impl& m, const std::vector<Tokenized>& batch, int normalize,
                                          BertWorkspace* ws);
std::vector<std::vector<float>> run_classify(const Model::Impl& m, const std::vector<Tokenized>& batch,
                                             BertWorkspace* ws);

}  // namespace rmsmp
