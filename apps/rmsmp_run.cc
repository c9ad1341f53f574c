// rmsmp-run: subcommand dispatch, help texts, embed and tokenize.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "hf_checkpoint.h"
#include "rmsmp/devices.h"
#include "rmsmp/model.h"
#include "rmsmp/tokenizer/sentencepiece.h"
#include "rmsmp/tokenizer/wordpiece.h"
#include "run_commands.h"

namespace rmsmp::run {

namespace {
const char* kHelp = R"(rmsmp-run: run and evaluate .rmsmp models.

usage: rmsmp-run COMMAND [options]

commands:
  embed     --model M.rmsmp (--text S | --input FILE|-) [--format jsonl|f32] [--skip-empty] [--progress]
            [--device D]
            one JSON line per input: {"index" (0-based line number), "tokens", "truncated", "embedding":
            [...]}; --format f32: raw little-endian float32 rows instead (embedding_size per text, input
            order; redirect stdout). Streams: 256 lines at a time are read, embedded and written, so
            memory stays one chunk whatever the input's size. --input - reads standard input.
            --skip-empty: leave out blank lines (counted on stderr) instead of refusing them.
            --progress: texts, texts/s, and for a regular file the share read and an ETA, on stderr
            every second
  tokenize  (--model M.rmsmp | --tokenizer T) [--raw] (--text S | --input FILE)
            one line of space-separated token ids per input: the ids the model sees ([CLS]/[SEP]
            included, truncated to max_seq_length); with --raw the piece ids alone (no special tokens, no
            truncation), e.g. identical to `spm_encode --output_format=id` for a SentencePiece model.
            T: a SentencePiece .model file (used as is, no lowercasing), a vocab.txt (uncased BERT
            defaults), or a Hugging Face checkpoint folder (vocab.txt / tokenizer.json / spiece.model
            with its tokenizer_config.json)
  fit-head  --model FP32.rmsmp --train TSV --out HEAD.json [--task T [--pairs cross|bi]] [--l2 X] [--limit N]
            [--device D]
            deterministic head on pooled embeddings: logistic regression (ridge regression for stsb);
            TSV header sentence<TAB>label, or with --task a GLUE train.tsv (or its folder) of task T;
            without --l2, the L2 strength is chosen from {0.1, 1, ..., 1e5} by accuracy (Pearson r for
            stsb) on the last 20% of the training rows
  eval      --model M.rmsmp --head HEAD.json --data TSV [--reference FP32.rmsmp] [--device D]
            one JSON object: accuracy, n, avg_weight_bits, model_bytes, seconds (+ reference_accuracy,
            cosine_mean, cosine_min with --reference)
  glue      --task T --data DIR|FILE --model M.rmsmp (--head HEAD.json | --cv K) [--reference FP32.rmsmp]
            [--split dev|test|train] [--pairs cross|bi] [--predictions OUT.tsv] [--device D]
            T: cola sst2 mrpc stsb qqp mnli mnli-mm qnli rte wnli. Reads GLUE's own files (DIR/dev.tsv,
            MNLI's dev_matched.tsv / dev_mismatched.tsv, test layouts without labels); pairs are encoded as
            [CLS] a [SEP] b [SEP] with token types. One JSON object: the task's metrics (accuracy, f1,
            matthews, pearson, spearman), n, the protocol, and with --reference the reference's metrics and
            the embedding cosine to it. --cv K: K folds over the file (row index mod K), each example scored
            once by a head fitted on the other folds, on the reference's embeddings when given (the same
            heads then score both models). --pairs bi: embed a and b separately and use [u*v, |u-v|]
            (suits sentence-embedding models). --predictions: GLUE submission TSV (index, prediction)
  glue-table --models DIR [--data DIR] [--cv K] [--pairs bi|cross] [--tasks T,T,..] [--out DIR] [--device D]
            every GLUE dev set found under --data (GLUE folder names such as SST-2/, STS-B/, MNLI/, or
            lowercase task names; default: the repo's data/) for every .rmsmp in DIR against DIR/fp32.rmsmp:
            K-fold (default 5) heads fitted once per task on the fp32 features and reused for every model;
            pairs default to bi. Writes OUT/results.json and OUT/results.md (default out/glue)
  devices   lists the backends of this build (which run here) and the OpenCL devices (as --device names)
  classify  --model M.rmsmp [--top K] [--labels NAMES] [--json] IMAGE...
            vision models: the top-K classes of each image (.jpg/.png; the model's own eval transform) with
            softmax probabilities and names (stored in the model by rmsmp-convert --labels, or --labels
            NAMES, one per line). --json: one object per image {image, classes, probabilities, names}
  imagenet  --model M.rmsmp --data DIR [--labels FILE] [--class-names NAMES] [--limit N] [--out F]
            top-1/top-5 over an ImageNet-style validation folder: class-named subfolders (a folder's class is
            its line in the model's names, or --class-names; without names, its rank in sorted order), or a
            flat folder with --labels FILE ("file class_index" lines, a header line allowed). One JSON
            object: top1, top5, n, seconds, images_per_second (decoding included), model
  mnist     --model M.rmsmp [--data DIR] [--images F --labels F] [--limit N] [--out F] [--logits F]
            top-1/top-5 over IDX files (default: Debian's Fashion-MNIST test set in
            /usr/share/datasets/fashion-mnist); one JSON object as for imagenet. --logits F: also every
            image's logits, raw little-endian float32 (images x classes, file order)
  agree     --model M.rmsmp --reference FP32.rmsmp --data DIR [--limit N] [--out F] [--per-image TSV]
            fidelity without labels over the photos under DIR (.jpg/.png, recursive; e.g. the eval/ folder
            of scripts/photos.sh): top1_agreement (% of photos whose top-1 equals the reference's),
            reference_top1_in_top5, kl_mean and kl_max (KL(p_reference || p_model), nats). --per-image:
            image, reference_top1, model_top1, kl per photo
  fmnist-table [--pth P] [--data DIR] [--out DIR] [--calib-n N] [--limit N] [--rounding gptq|nearest]
            the vision accuracy table: the Fashion-MNIST ResNet-20 (default: the committed
            tests/data/fmnist/resnet20_fmnist.pth) as fp32, rmsmp, fixed8, fixed4, pot4, layerwise and random,
            at 8-bit and 4-bit activations, calibrated on the first N (default 256) training images, rounded
            with gptq (default, as rmsmp-convert with calibration) or nearest for every scheme, top-1 on the
            test set; writes OUT/results.json and OUT/results.md (default out/fmnist)
  demo      [--checkpoint DIR] [--data DIR] [--out DIR] [--train-n N] [--calib-n N] [--device D]
            converts all-MiniLM-L6-v2 to fp32, rmsmp and every baseline, fits a head on SST-2 train,
            evaluates on SST-2 dev, prints the table and writes it as JSON and Markdown

--device D (or --backend D) on every command that runs a model: cpu (default: the best ISA here) or another
backend of this build (`rmsmp-run devices` says what each is and which run here):
  {BACKENDS}.

Inputs: --input files hold one text per line (UTF-8; empty lines are errors unless --skip-empty). Texts longer than the model's
max_seq_length are truncated and reported on stderr and in the output.
Exit status: 0 success, 1 runtime error (bad file, bad text), 2 usage error.
)";

// A tokenizer from a SentencePiece .model file, a vocab.txt, or a Hugging Face checkpoint folder
// (vocab.txt / tokenizer.json / spiece.model with its tokenizer_config.json).
std::unique_ptr<tok::Tokenizer> load_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  RMSMP_CHECK(fs::exists(path), ErrorCode::NotFound, path << ": no such file or folder");
  std::vector<std::string> notes;
  if (fs::is_directory(path)) return hf_load_tokenizer(path, notes);
  try {
    if (fs::path(path).filename() == "vocab.txt")
      return std::make_unique<tok::WordPieceTokenizer>(tok::WordPieceTokenizer::read_vocab_file(path), tok::WordPieceConfig{});
    return std::make_unique<tok::SentencePieceTokenizer>(tok::SentencePieceTokenizer::read_model_file(path),
                                                         tok::SentencePieceConfig{}, path);
  } catch (const tok::TokenizerError& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, e.what());
  }
}

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
  cli::Args a(argc, argv, 2, {"model", "text", "input", "backend", "device", "format"}, {"skip-empty", "progress"});
  auto m = Model::load(a.require("model"), cli::load_options(a));
  auto text = a.get("text"), input = a.get("input");
  RMSMP_CHECK(text.has_value() != input.has_value(), ErrorCode::InvalidArgument, "give exactly one of --text or --input");
  const std::string format = a.get_or("format", "jsonl");
  RMSMP_CHECK(format == "jsonl" || format == "f32", ErrorCode::InvalidArgument,
              "--format must be jsonl or f32, not '" << format << "'");
  const bool binary = format == "f32", progress = a.flag("progress");
  RMSMP_CHECK(!binary || !isatty(STDOUT_FILENO), ErrorCode::InvalidArgument,
              "--format f32 writes binary floats: redirect standard output to a file");
  // Streams: chunks of 256 lines are read, embedded and written (flushed) in turn, so a 100 MB input starts
  // answering at once and memory stays one chunk. "index" is the text's 0-based line number in the input.
  std::optional<cli::LineReader> reader;
  if (input)
    reader.emplace(*input, a.flag("skip-empty") ? cli::LineReader::Empty::Skip : cli::LineReader::Empty::Refuse);
  std::vector<std::string> chunk;
  std::vector<size_t> lines;
  size_t done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto last_report = t0;
  for (;;) {
    if (!text && !reader->next(256, chunk, &lines)) break;
    if (text) chunk = {*text}, lines = {1};
    const std::string where = text ? std::string("--text")
                                   : *input + " (lines " + std::to_string(lines.front()) + "-" +
                                         std::to_string(lines.back()) + ")";
    std::vector<Tokenized> toks;
    const std::vector<std::vector<float>> emb = cli::embed_texts(*m, chunk, where, "", &toks);
    std::ostringstream os;
    os << std::setprecision(9);
    for (size_t i = 0; i < chunk.size(); ++i) {
      const Tokenized& t = toks[i];
      // Neither JSON nor a float file should carry NaN: a model with non-finite weights is reported instead.
      for (float v : emb[i])
        RMSMP_CHECK(std::isfinite(v), ErrorCode::InvalidFile,
                    where << ": line " << lines[i] << ": the model computed a non-finite value (NaN or Inf weights in "
                          << a.require("model") << "?)");
      if (binary) {  // little-endian float32 rows (x86-64), embedding_size per text, in input order
        os.write(reinterpret_cast<const char*>(emb[i].data()), std::streamsize(emb[i].size() * sizeof(float)));
        continue;
      }
      os << "{\"index\":" << lines[i] - 1 << ",\"tokens\":" << t.ids.size()
         << ",\"truncated\":" << (t.truncated ? "true" : "false") << ",\"embedding\":[";
      for (size_t j = 0; j < emb[i].size(); ++j) os << (j ? "," : "") << emb[i][j];
      os << "]}\n";
    }
    std::cout << os.str() << std::flush;
    done += chunk.size();
    const auto now = std::chrono::steady_clock::now();
    if (progress && reader && now - last_report >= std::chrono::seconds(1)) {
      last_report = now;
      const double secs = std::chrono::duration<double>(now - t0).count(), rate = double(done) / secs;
      std::cerr << "embed: " << done << " texts, " << std::fixed << std::setprecision(1) << rate << " texts/s";
      if (reader->total_bytes() > 0) {  // ETA from the bytes left at the bytes-per-second so far
        const double frac = double(reader->bytes_read()) / double(reader->total_bytes());
        std::cerr << ", " << std::setprecision(1) << 100.0 * frac << "% of " << *input << ", ETA "
                  << std::setprecision(0) << secs * (1.0 - frac) / std::max(frac, 1e-9) << " s";
      }
      std::cerr << std::defaultfloat << "\n";
    }
    if (text) break;
  }
  if (reader && reader->skipped() > 0)
    std::cerr << "embed: skipped " << reader->skipped() << " empty line(s) of " << *input << "\n";
  if (progress && reader)
    std::cerr << "embed: " << done << " texts in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
  return 0;
}

int cmd_devices(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {}, {});
  const auto devs = list_opencl_devices();
  std::ostringstream os;
  os << cpu_backends_description() << "\n\nbackends of this build:\n";
  for (const auto& b : list_backends())
    os << "  " << b.name << std::string(b.name.size() < 18 ? 18 - b.name.size() : 1, ' ')
       << (b.available ? "yes  " : "no   ") << b.summary << "\n";
  os << "\n";
  if (!opencl_built()) os << "(built without OpenCL: -DRMSMP_WITH_OPENCL=OFF)\n";
  else if (devs.empty()) os << "(no OpenCL platform found: install an OpenCL driver, e.g. Debian's pocl-opencl-icd)\n";
  for (const auto& d : devs)
    os << d.backend << "   " << d.platform << " / " << d.name << " (" << d.type << ", " << d.version << ", "
       << std::fixed << std::setprecision(1) << double(d.memory_bytes) / double(1ull << 30) << " GiB"
       << (d.fp64 ? ", fp64" : "") << ")\n";
  std::cout << os.str();
  return 0;
}

int cmd_tokenize(int argc, char** argv) {
  cli::Args a(argc, argv, 2, {"model", "tokenizer", "text", "input"}, {"raw"});
  RMSMP_CHECK(a.get("model").has_value() != a.get("tokenizer").has_value(), ErrorCode::InvalidArgument,
              "give exactly one of --model or --tokenizer");
  const bool raw = a.flag("raw");
  // With --model the ids come through the public API; --tokenizer loads a tokenizer file or folder directly.
  std::shared_ptr<const Model> m;
  std::unique_ptr<tok::Tokenizer> tk;
  if (auto mp = a.get("model")) m = Model::load(*mp);
  else tk = load_tokenizer(*a.get("tokenizer"));
  std::string where;
  std::vector<std::string> texts = texts_from(a, where);
  std::ostringstream os;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int32_t> ids;
    try {
      if (m && raw) {
        ids = m->tokenize_raw(texts[i]);
      } else if (m) {
        Tokenized t = m->tokenize(texts[i]);
        if (t.truncated)
          std::cerr << "warning: " << where << ": item " << i + 1 << " truncated from "
                    << (t.untruncated_exact ? "" : "at least ") << t.untruncated_length
                    << " to " << t.ids.size() << " tokens\n";
        ids = std::move(t.ids);
      } else {
        ids = raw ? tk->encode_raw(texts[i]) : tk->encode(texts[i], std::nullopt, SIZE_MAX).ids;
      }
    } catch (const Error& e) {
      RMSMP_FAIL(e.code(), where << ": item " << i + 1 << ": " << e.what());
    } catch (const tok::TokenizerError& e) {
      RMSMP_FAIL(ErrorCode::InvalidText, where << ": item " << i + 1 << ": " << e.what());
    }
    for (size_t j = 0; j < ids.size(); ++j) os << (j ? " " : "") << ids[j];
    os << "\n";
  }
  std::cout << os.str();
  return 0;
}

}  // namespace rmsmp::run

int main(int argc, char** argv) {
  if (rmsmp::cli::version_requested(argc, argv, "rmsmp-run")) return 0;
  using namespace rmsmp;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::cout << cli::with_table_names(run::kHelp);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    for (int i = 2; i < argc; ++i)
      if (!std::strcmp(argv[i], "--help")) {
        std::cout << cli::with_table_names(run::kHelp);
        return 0;
      }
    if (cmd == "embed") return run::cmd_embed(argc, argv);
    if (cmd == "tokenize") return run::cmd_tokenize(argc, argv);
    if (cmd == "fit-head") return run::cmd_fit_head(argc, argv);
    if (cmd == "eval") return run::cmd_eval(argc, argv);
    if (cmd == "demo") return run::cmd_demo(argc, argv);
    if (cmd == "glue") return run::cmd_glue(argc, argv);
    if (cmd == "devices") return run::cmd_devices(argc, argv);
    if (cmd == "glue-table") return run::cmd_glue_table(argc, argv);
    if (cmd == "classify") return run::cmd_classify(argc, argv);
    if (cmd == "imagenet") return run::cmd_imagenet(argc, argv);
    if (cmd == "mnist") return run::cmd_mnist(argc, argv);
    if (cmd == "agree") return run::cmd_agree(argc, argv);
    if (cmd == "fmnist-table") return run::cmd_fmnist_table(argc, argv);
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
