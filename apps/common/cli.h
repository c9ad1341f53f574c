// Shared CLI plumbing for the apps: option parsing, validated text/TSV readers, atomic text output, progress.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <fstream>
#include <string>
#include <vector>

#include "rmsmp/model.h"

namespace rmsmp::cli {

// "--key value" (or "--key=value") options and "--flag" switches after the subcommand; anything else is
// positional. An option given twice keeps its last value (scripts append overrides to their defaults).
class Args {
 public:
  Args(int argc, char** argv, int first, const std::set<std::string>& options, const std::set<std::string>& flags);
  std::optional<std::string> get(const std::string& key) const;
  std::string require(const std::string& key) const;
  std::string get_or(const std::string& key, const std::string& dflt) const;
  bool flag(const std::string& key) const { return flags_.count(key) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

// A whole decimal integer (no trailing text); InvalidArgument naming `what` (e.g. "--threads") otherwise.
int64_t parse_int(const std::string& s, const std::string& what);
// A whole decimal number, likewise.
double parse_double(const std::string& s, const std::string& what);

// --device / --backend (synonyms; give at most one): a name of the backend table (devices.h list_backends),
// default cpu.
LoadOptions load_options(const Args& a);

// The FPGA part of rmsmp-convert --ratios auto and rmsmp-fpga: --fpga-part NAME, or --device NAME, its older
// name there (--device means a compute backend in the other tools); at most one of them.
std::optional<std::string> fpga_part(const Args& a);

// Lines of a UTF-8 text file (LF or CRLF). Errors name the file and line: missing file, invalid UTF-8,
// empty lines (when !allow_empty).
std::vector<std::string> read_lines(const std::string& path, bool allow_empty = false);

// Refuses (InvalidArgument) an output path that names an input (`rmsmp-convert --in x.pth --out x.pth` would
// replace the checkpoint with the model) or another output; for an input folder, its files named in
// `folder_files` count as inputs (a checkpoint's config.json, model.safetensors, ...). Paths are compared after
// weakly_canonical, so ./a, a and dir/../a are the same file.
void check_outputs_distinct(const std::vector<std::pair<std::string, std::string>>& inputs,
                            const std::vector<std::pair<std::string, std::string>>& outputs,
                            const std::set<std::string>& folder_files = {});

// The same reading and checks in chunks, for commands that stream (rmsmp-run embed on a 100 MB file): memory
// stays one chunk whatever the file's size.
// Lines of a text file, or of standard input for path "-" (a pipe or FIFO is fine: it is read as a stream).
class LineReader {
 public:
  // Lines holding only spaces and tabs: an error naming the line (Refuse), returned (Keep) or left out (Skip).
  enum class Empty { Refuse, Keep, Skip };
  explicit LineReader(const std::string& path, Empty empty = Empty::Refuse);
  // Replaces `out` with up to max_lines next lines; false at the end of the file (out empty).
  // `line_numbers` (if given) gets each returned line's 1-based number in the file.
  bool next(size_t max_lines, std::vector<std::string>& out, std::vector<size_t>* line_numbers = nullptr);
  size_t skipped() const { return skipped_; }  // empty lines left out (Skip)
  size_t lines_read() const { return n_; }
  // For progress: bytes consumed so far, and the file's size (0 when unknown: stdin, a pipe).
  uint64_t bytes_read() const { return bytes_; }
  uint64_t total_bytes() const { return total_; }

 private:
  std::string path_;
  Empty empty_;
  size_t skipped_ = 0;
  std::ifstream file_;
  std::istream* in_ = nullptr;
  size_t n_ = 0;
  uint64_t bytes_ = 0, total_ = 0;
};

struct LabeledText {
  std::vector<std::string> sentences;
  std::vector<int> labels;
};
// TSV with header "sentence<TAB>label"; each line split on its last tab; integer labels >= 0.
LabeledText read_labeled_tsv(const std::string& path);

// Writes text to path via a temp file + rename, so a failure leaves no partial file.
void write_file_atomic(const std::string& path, const std::string& content);

// Tokenizes all texts (errors name `where` and the 1-based item) and embeds them in batches.
// Reports truncation of over-long inputs on stderr. `progress_label` non-empty: progress on stderr.
// `tokens_out`, if given, receives the tokenized inputs.
std::vector<std::vector<float>> embed_texts(const Model& m, const std::vector<std::string>& texts,
                                            const std::string& where, const std::string& progress_label = "",
                                            std::vector<Tokenized>* tokens_out = nullptr);

// Tokenizes texts (pairs when b is given), with the same checks and truncation reports as embed_texts.
std::vector<Tokenized> tokenize_pairs(const Model& m, const std::vector<std::string>& a,
                                      const std::vector<std::string>* b, const std::string& where,
                                      size_t* truncated_out = nullptr);
// The same for sentence pairs when b is given ([CLS] a [SEP] b [SEP] with token types); `truncated_out`
// receives how many inputs were truncated.
std::vector<std::vector<float>> embed_pairs(const Model& m, const std::vector<std::string>& a,
                                            const std::vector<std::string>* b, const std::string& where,
                                            const std::string& progress_label = "",
                                            std::vector<Tokenized>* tokens_out = nullptr,
                                            size_t* truncated_out = nullptr);

void progress(const std::string& label, size_t done, size_t total);

// `help` with each "{BACKENDS}" replaced by the backend table's names (backend_names()) and each "{SCHEMES}" by
// the scheme table's (fp32 | fixed8 | ...), wrapped at 110 columns with continuation lines indented as the
// placeholder's line.
std::string with_table_names(const std::string& help);

// --version as any argument: prints "TOOL VERSION" (the project's version) and returns true.
bool version_requested(int argc, char** argv, const char* tool);

}  // namespace rmsmp::cli
