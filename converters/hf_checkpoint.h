// A Hugging Face BERT checkpoint folder read into memory: config, fp32 weights, tokenizer, provenance.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/bert.h"
#include "rmsmp/tokenizer/tokenizer.h"
#include "rmsmp/tokenizer/wordpiece.h"

namespace rmsmp {

struct HfBertCheckpoint {
  std::string dir;
  std::string weights_path, weights_sha256;
  BertConfig cfg;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  // Weights by our canonical name ("embeddings.word", "encoder.3.ffn_in.weight", ...), fp32, row-major.
  std::map<std::string, std::vector<float>> tensors;
  std::vector<std::string> notes;  // defaults taken where the folder was silent, for the report
  // BertForSequenceClassification: pooler (tensors "head.pooler.weight/bias") + classifier
  // ("head.classifier.weight/bias", num_labels rows), label names from config.json's id2label.
  int num_labels = 0;              // 0: no classification head in the checkpoint
  std::vector<std::string> labels;
  bool regression = false;         // num_labels == 1 or problem_type "regression"
  // The pooler's activation: "tanh" (BERT's pooler) or "relu" (DistilBERT's pre_classifier).
  std::string head_activation = "tanh";

  // An fp32 BertWeights whose linears are single fp32 groups pointing into `tensors` (for calibration).
  BertWeights fp32_weights() const;
  const std::vector<float>& tensor(const std::string& name) const;

 private:
  std::vector<int32_t> identity_perm_;  // shared perm for the fp32 views; filled on load
  friend HfBertCheckpoint load_hf_bert(const std::string& dir);
};

// A JSON file of the checkpoint folder; NotFound / InvalidFile errors name the file.
nlohmann::json hf_read_json(const std::string& path);

// The parts of load_hf_bert that read JSON, exposed for tests and fuzzing. Errors name the file.
BertConfig hf_read_config(const std::string& dir, std::vector<std::string>& notes);  // config.json + s-t files
tok::WordPieceConfig hf_tokenizer_settings(const std::string& dir, std::vector<std::string>& notes);
std::vector<std::string> hf_vocab_from_tokenizer_json(const std::string& path);
// Label names (config.json id2label, else LABEL_i) and whether the head is a regression.
void hf_read_labels(const std::string& dir, int num_labels, std::vector<std::string>& labels, bool& regression);
// WordPiece from vocab.txt / a WordPiece tokenizer.json, SentencePiece from spiece.model, tokenizer.model or
// sentencepiece.bpe.model (settings from tokenizer_config.json), else byte-level BPE from a BPE tokenizer.json
// or vocab.json + merges.txt. Errors name the file.
// family: config.json's model_type ("xlm-roberta" reads a SentencePiece model with fairseq's ids).
std::unique_ptr<tok::Tokenizer> hf_load_tokenizer(const std::string& dir, std::vector<std::string>& notes,
                                                  const std::string& family = "");
// Byte-level BPE (RoBERTa): a BPE tokenizer.json with the ByteLevel pre-tokenizer and RobertaProcessing, else
// vocab.json + merges.txt (hf_bpe_tokenizer.cc). Errors name the file and the setting it cannot run.
// The SentencePiece ModelProto a Unigram tokenizer.json was exported from, rebuilt (hf_unigram.cc): its pieces,
// scores and ids, the Precompiled charsmap, whitespace collapsing and the Metaspace dummy prefix.
std::string hf_unigram_model_from_tokenizer_json(const std::string& path);
std::unique_ptr<tok::Tokenizer> hf_load_byte_level_bpe(const std::string& dir, std::vector<std::string>& notes);

// Reads config.json, model.safetensors, vocab.txt / tokenizer.json, tokenizer_config.json and the
// sentence-transformers files (sentence_bert_config.json, 1_Pooling/config.json, modules.json).
HfBertCheckpoint load_hf_bert(const std::string& dir);

}  // namespace rmsmp
