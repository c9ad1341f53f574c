// Fuzzes the data-file readers: labelled TSV (sentence<TAB>label), text lines, and vocab.txt.
#include "common/cli.h"
#include "fuzz/fuzz_util.h"
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
  return 0;
}
