// Fuzzes the data-file readers: labelled TSV (sentence<TAB>label), text lines, vocab.txt, and the GLUE reader
// under every task's layout rules (all ten tasks read the same bytes).
#include "common/cli.h"
#include "fuzz/fuzz_util.h"
#include "glue/tasks.h"
#include "rmsmp/tokenizer/wordpiece.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string p = rmsmp::fuzz::input_file(data, size, ".tsv");
  try {
    rmsmp::cli::read_labeled_tsv(p);
  } catch (const rmsmp::Error&) {
  }
  try {
    rmsmp::cli::read_lines(p);
  } catch (const rmsmp::Error&) {
  }
  try {
    rmsmp::tok::WordPieceTokenizer t(rmsmp::tok::WordPieceTokenizer::read_vocab_file(p), {});
    t.encode_raw("the unaffable movies");
  } catch (const rmsmp::tok::TokenizerError&) {
  }
  for (const auto& t : rmsmp::glue::all_tasks()) {
    try {
      const auto ex = rmsmp::glue::read(t, p);
      if (ex.labeled && !t.regression() && ex.labels.size() != ex.size()) __builtin_trap();
      if (!ex.b.empty() && ex.b.size() != ex.size()) __builtin_trap();
    } catch (const rmsmp::Error&) {
    }
  }
  return 0;
}
