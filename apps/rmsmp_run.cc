// rmsmp-run: subcommand dispatch, help texts, embed and tokenize.
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "rmsmp/model.h"
#include "run_commands.h"

namespace rmsmp::run {

namespace {
const char* kHelp = R"(rmsmp-run: run and evaluate .rmsmp models.

usage: rmsmp-run COMMAND [options]

commands:
  embed     --model M.rmsmp (--text S | --input FILE) [--backend cpu|reference]
            one JSON line per input: {"index", "tokens", "truncated", "embedding": [...]}
  tokenize  --model M.rmsmp (--text S | --input FILE)
            one line of space-separated token ids per input ([CLS]/[SEP] included; the ids the model sees)
  fit-head  --model FP32.rmsmp --train TSV --out HEAD.json [--l2 X] [--limit N]
            deterministic logistic-regression head on pooled embeddings (TSV header: sentence<TAB>label);
            without --l2, the L2 strength is chosen from {0.1, 1, ..., 1e5} by accuracy on the last 20%
            of the training rows
  eval      --model M.rmsmp --head HEAD.json --data TSV [--reference FP32.rmsmp] [--backend cpu|reference]
            one JSON object: accuracy, n, avg_weight_bits, model_bytes, seconds (+ reference_accuracy,
            cosine_mean, cosine_min with --reference)
  demo      [--checkpoint DIR] [--data DIR] [--out DIR] [--train-n N] [--calib-n N]
            converts all-MiniLM-L6-v2 to fp32, rmsmp and every baseline, fits a head on SST-2 train,
            evaluates on SST-2 dev, prints the table and writes it as JSON and Markdown

Inputs: --input files hold one text per line (UTF-8; empty lines are errors). Texts longer than the model's
max_seq_length are truncated and reported on stderr and in the output.
Exit status: 0 success, 1 runtime error (bad file, bad text), 2 usage error.
)";

std::vector<std::string> texts_from(const cli::Args& a, std::string& where) {
  auto text = a.get("text"), input = a.get("input");
  RMSMP_CHECK(text.has_value() != input.has_value(), ErrorCode::InvalidArgument, "give exactly one of --text or --input");
  if (text) {
    where = "--text";
    return {*text};
  }
  where = *input;
  return cli::read_lines(*input);
}
}  // namespace

int cmd_embed(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"model", "text", "input", "backend"}, {});
  LoadOptions lo;
  lo.backend = a.get_or("backend", "cpu");
  auto m = Model::load(a.require("model"), lo);
  std::string where;
  std::vector<std::string> texts = texts_from(a, where);
  std::vector<Tokenized> toks;
  std::vector<std::vector<float>> emb = cli::embed_texts(*m, texts, where, "", &toks);
  std::ostringstream os;
  os << std::setprecision(9);
  for (size_t i = 0; i < texts.size(); ++i) {
    const Tokenized& t = toks[i];
    os << "{\"index\":" << i << ",\"tokens\":" << t.ids.size() << ",\"truncated\":" << (t.truncated ? "true" : "false")
       << ",\"embedding\":[";
    for (size_t j = 0; j < emb[i].size(); ++j) os << (j ? "," : "") << emb[i][j];
    os << "]}\n";
  }
  std::cout << os.str();
  return 0;
}

int cmd_tokenize(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"model", "text", "input"}, {});
  auto m = Model::load(a.require("model"));
  std::string where;
  std::vector<std::string> texts = texts_from(a, where);
  std::ostringstream os;
  for (size_t i = 0; i < texts.size(); ++i) {
    Tokenized t;
    try {
      t = m->tokenize(texts[i]);
    } catch (const Error& e) {
      RMSMP_FAIL(e.code(), where << ": item " << i + 1 << ": " << e.what());
    }
    if (t.truncated)
      std::cerr << "warning: " << where << ": item " << i + 1 << " truncated from " << t.untruncated_length << " to "
                << t.ids.size() << " tokens\n";
    for (size_t j = 0; j < t.ids.size(); ++j) os << (j ? " " : "") << t.ids[j];
    os << "\n";
  }
  std::cout << os.str();
  return 0;
}

}  // namespace rmsmp::run

int main(int argc, char** argv) {
  using namespace rmsmp;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::cout << run::kHelp;
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    for (int i = 2; i < argc; ++i)
      if (!std::strcmp(argv[i], "--help")) {
        std::cout << run::kHelp;
        return 0;
      }
    if (cmd == "embed") return run::cmd_embed(argc, argv);
    if (cmd == "tokenize") return run::cmd_tokenize(argc, argv);
    if (cmd == "fit-head") return run::cmd_fit_head(argc, argv);
    if (cmd == "eval") return run::cmd_eval(argc, argv);
    if (cmd == "demo") return run::cmd_demo(argc, argv);
    std::cerr << "rmsmp-run: unknown command '" << cmd << "' (see rmsmp-run --help)\n";
    return 2;
  } catch (const Error& e) {
    std::cerr << "rmsmp-run " << cmd << ": error: " << e.what() << "\n";
    return e.code() == ErrorCode::InvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "rmsmp-run " << cmd << ": error: " << e.what() << "\n";
    return 1;
  }
}
