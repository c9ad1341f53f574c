// Implementation of the shared CLI helpers.
#include "common/cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>

#include "rmsmp/devices.h"
#include "rmsmp/quant.h"
#include "rmsmp/tokenizer/wordpiece.h"

namespace rmsmp::cli {

// Parsed by CLI11 (Debian libcli11-dev): every tool's options are declared here from the sets its command
// gives, so CLI11 checks names, values and switches; its exceptions become InvalidArgument (exit status 2,
// "see --help"), naming the option.
Args::Args(int argc, char** argv, int first, const std::set<std::string>& options, const std::set<std::string>& flags) {
  CLI::App app;
  app.set_help_flag();  // each tool prints its own help text
  app.allow_windows_style_options(false);
  std::map<std::string, std::string> got;
  std::map<std::string, bool> on;
  for (const std::string& o : options)
    app.add_option("--" + o, got[o])->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  for (const std::string& f : flags) {
    on[f] = false;
    app.add_flag("--" + f, on[f])->disable_flag_override()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  app.add_option("positional", positional_);
  std::vector<std::string> args;
  for (int i = argc - 1; i >= first; --i) {  // CLI11 takes them reversed
    const std::string a = argv[i];
    // "--key=" (CLI11 would take the next argument as its value); "--key ''" stays an empty value.
    RMSMP_CHECK(!(a.rfind("--", 0) == 0 && a.size() > 3 && a.back() == '=' && a.find('=') == a.size() - 1),
                ErrorCode::InvalidArgument, "option " << a << " needs a value");
    args.push_back(a);
  }
  try {
    app.parse(args);
  } catch (const CLI::ExtrasError& e) {
    std::string unknown;
    for (const std::string& x : app.remaining())
      if (x.rfind("--", 0) == 0) unknown += (unknown.empty() ? "" : ", ") + x.substr(0, x.find('='));
    RMSMP_FAIL(ErrorCode::InvalidArgument, (unknown.empty() ? std::string(e.what()) : "unknown option " + unknown)
                                               << " (see --help)");
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    for (const std::string& f : flags)  // CLI11: "raw was given a disallowed flag override": say it plainly
      if (what.rfind(f + " was given a disallowed flag override", 0) == 0)
        RMSMP_FAIL(ErrorCode::InvalidArgument, "--" << f << " is a switch and takes no value");
    RMSMP_FAIL(ErrorCode::InvalidArgument, what << " (see --help)");
  }
  for (const std::string& o : options)
    if (app.count("--" + o) > 0) values_[o] = got[o];
  for (const std::string& f : flags)
    if (on[f]) flags_.insert(f);
}

std::optional<std::string> Args::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}
std::string Args::require(const std::string& key) const {
  auto v = get(key);
  RMSMP_CHECK(v, ErrorCode::InvalidArgument, "missing required option --" << key << " (see --help)");
  return *v;
}
std::string Args::get_or(const std::string& key, const std::string& dflt) const { return get(key).value_or(dflt); }

int64_t parse_int(const std::string& s, const std::string& what) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  RMSMP_CHECK(used > 0 && used == s.size(), ErrorCode::InvalidArgument, what << ": '" << s << "' is not an integer");
  return v;
}

double parse_double(const std::string& s, const std::string& what) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  RMSMP_CHECK(used > 0 && used == s.size(), ErrorCode::InvalidArgument, what << ": '" << s << "' is not a number");
  return v;
}

LoadOptions load_options(const Args& a) {
  RMSMP_CHECK(!(a.get("device") && a.get("backend")), ErrorCode::InvalidArgument,
              "--device and --backend are synonyms: give one");
  LoadOptions lo;
  lo.backend = a.get("device") ? *a.get("device") : a.get_or("backend", "cpu");
  return lo;
}

namespace {
// Each `key` in `text` replaced by `names` (items separated by `sep`), wrapped at 110 columns with continuation
// lines indented as the placeholder's line.
std::string replace_wrapped(const std::string& text, const std::string& key, const std::string& names,
                            const std::string& sep) {
  std::string out = text;
  for (size_t at; (at = out.find(key)) != std::string::npos;) {
    const size_t nl = out.rfind('\n', at), line_start = nl == std::string::npos ? 0 : nl + 1;
    size_t col = at - line_start, indent = 0;
    while (line_start + indent < at && out[line_start + indent] == ' ') ++indent;
    std::string wrapped;
    for (size_t i = 0; i < names.size();) {  // break lines after a separator
      const size_t e = names.find(sep, i);
      const std::string word = names.substr(i, e == std::string::npos ? std::string::npos : e - i + sep.size());
      if (col + word.size() > 110) {
        while (!wrapped.empty() && wrapped.back() == ' ') wrapped.pop_back();
        wrapped.push_back('\n');
        wrapped.append(indent, ' ');
        col = indent;
      }
      wrapped += word, col += word.size();
      i = e == std::string::npos ? names.size() : e + sep.size();
    }
    out.replace(at, key.size(), wrapped);
  }
  return out;
}
}  // namespace

std::string with_table_names(const std::string& help) {
  std::string schemes;
  for (const QuantScheme& s : kQuantSchemes) schemes += (schemes.empty() ? "" : " | ") + std::string(s.name);
  return replace_wrapped(replace_wrapped(help, "{BACKENDS}", backend_names(), ", "), "{SCHEMES}", schemes, " | ");
}

std::optional<std::string> fpga_part(const Args& a) {
  RMSMP_CHECK(!(a.get("fpga-part") && a.get("device")), ErrorCode::InvalidArgument,
              "--fpga-part and --device (its older name here) are synonyms: give one");
  return a.get("fpga-part") ? a.get("fpga-part") : a.get("device");
}

LineReader::LineReader(const std::string& path, Empty empty) : path_(path), empty_(empty) {
  if (path == "-") {
    path_ = "<stdin>";
    in_ = &std::cin;
    return;
  }
  std::error_code ec;
  RMSMP_CHECK(std::filesystem::exists(path, ec), ErrorCode::NotFound, path << ": cannot open: no such file");
  RMSMP_CHECK(!std::filesystem::is_directory(path, ec), ErrorCode::IoError, path << ": cannot open: is a directory");
  file_.open(path, std::ios::binary);
  RMSMP_CHECK(file_, ErrorCode::IoError, path << ": cannot open for reading");
  in_ = &file_;
  if (std::filesystem::is_regular_file(path, ec)) total_ = std::filesystem::file_size(path, ec);
}

bool LineReader::next(size_t max_lines, std::vector<std::string>& out, std::vector<size_t>* line_numbers) {
  out.clear();
  if (line_numbers) line_numbers->clear();
  std::string line;
  while (out.size() < max_lines && std::getline(*in_, line)) {
    ++n_;
    bytes_ += line.size() + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    try {
      tok::utf8_decode(line);
    } catch (const tok::TokenizerError& e) {
      RMSMP_FAIL(ErrorCode::InvalidText, path_ << ":" << n_ << ": " << e.what());
    }
    const bool blank = line.find_first_not_of(" \t") == std::string::npos;
    RMSMP_CHECK(empty_ != Empty::Refuse || !blank, ErrorCode::InvalidText,
                path_ << ":" << n_ << ": empty line (every line must hold a text; --skip-empty skips them)");
    if (blank && empty_ == Empty::Skip) {
      ++skipped_;
      continue;
    }
    out.push_back(std::move(line));
    if (line_numbers) line_numbers->push_back(n_);
  }
  RMSMP_CHECK(!in_->bad(), ErrorCode::IoError, path_ << ": read error after line " << n_);
  return !out.empty();
}

void check_outputs_distinct(const std::vector<std::pair<std::string, std::string>>& inputs,
                            const std::vector<std::pair<std::string, std::string>>& outputs,
                            const std::set<std::string>& folder_files) {
  namespace fs = std::filesystem;
  auto canon = [](const std::string& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(p, ec);
    return ec ? fs::absolute(p).lexically_normal() : c;
  };
  for (size_t i = 0; i < outputs.size(); ++i) {
    const fs::path o = canon(outputs[i].second);
    for (const auto& [flag, in] : inputs) {
      const fs::path c = canon(in);
      std::error_code ec;
      const bool inside = fs::is_directory(c, ec) && o.parent_path() == c && folder_files.count(o.filename().string());
      RMSMP_CHECK(o != c && !inside, ErrorCode::InvalidArgument,
                  outputs[i].first << " " << outputs[i].second << " would overwrite the input "
                                   << (inside ? "folder's file " + o.filename().string() + " of " : std::string())
                                   << flag << " " << in);
    }
    for (size_t j = 0; j < i; ++j)
      RMSMP_CHECK(o != canon(outputs[j].second), ErrorCode::InvalidArgument,
                  outputs[i].first << " and " << outputs[j].first << " name the same file (" << outputs[i].second << ")");
  }
}

std::vector<std::string> read_lines(const std::string& path, bool allow_empty) {
  LineReader r(path, allow_empty ? LineReader::Empty::Keep : LineReader::Empty::Refuse);
  std::vector<std::string> out, chunk;
  while (r.next(4096, chunk)) out.insert(out.end(), std::make_move_iterator(chunk.begin()), std::make_move_iterator(chunk.end()));
  return out;
}

LabeledText read_labeled_tsv(const std::string& path) {
  std::vector<std::string> lines = read_lines(path, true);
  RMSMP_CHECK(!lines.empty(), ErrorCode::InvalidFile, path << ": empty file (expected a 'sentence<TAB>label' header)");
  RMSMP_CHECK(lines[0] == "sentence\tlabel", ErrorCode::InvalidFile,
              path << ":1: header must be 'sentence<TAB>label'");
  LabeledText t;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.empty() && i + 1 == lines.size()) break;
    const size_t tab = l.rfind('\t');
    RMSMP_CHECK(tab != std::string::npos, ErrorCode::InvalidFile, path << ":" << i + 1 << ": no tab separator");
    const std::string lab = l.substr(tab + 1);
    RMSMP_CHECK(!lab.empty() && lab.find_first_not_of("0123456789") == std::string::npos && lab.size() < 6,
                ErrorCode::InvalidFile, path << ":" << i + 1 << ": label '" << lab << "' is not a non-negative integer");
    RMSMP_CHECK(tab > 0, ErrorCode::InvalidText, path << ":" << i + 1 << ": empty sentence");
    t.sentences.push_back(l.substr(0, tab));
    t.labels.push_back(std::stoi(lab));
  }
  RMSMP_CHECK(!t.sentences.empty(), ErrorCode::InvalidFile, path << ": no data rows after the header");
  return t;
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  RMSMP_CHECK(f, ErrorCode::IoError, path << ": cannot write: " << std::strerror(errno));
  bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    RMSMP_FAIL(ErrorCode::IoError, path << ": write failed: " << std::strerror(e));
  }
}

void progress(const std::string& label, size_t done, size_t total) {
  const bool tty = ::isatty(2);
  if (!tty && done != total && done % 256 != 0) return;
  std::cerr << (tty ? "\r" : "") << "[" << label << "] " << done << "/" << total << (tty && done != total ? "" : "\n")
            << std::flush;
}

std::vector<Tokenized> tokenize_pairs(const Model& m, const std::vector<std::string>& a,
                                      const std::vector<std::string>* b, const std::string& where,
                                      size_t* truncated_out) {
  RMSMP_CHECK(!b || b->size() == a.size(), ErrorCode::Internal, "tokenize_pairs: a and b differ in length");
  std::vector<Tokenized> toks;
  toks.reserve(a.size());
  size_t n_trunc = 0;
  auto nonempty = [&](const std::string& s, size_t i) {
    RMSMP_CHECK(s.find_first_not_of(" \t\r\n") != std::string::npos, ErrorCode::InvalidText,
                where << ": item " << i + 1 << ": empty text");
  };
  for (size_t i = 0; i < a.size(); ++i) {
    nonempty(a[i], i);
    if (b) nonempty((*b)[i], i);
    try {
      toks.push_back(b ? m.tokenize(a[i], std::string_view((*b)[i])) : m.tokenize(a[i]));
    } catch (const Error& e) {
      RMSMP_FAIL(e.code(), where << ": item " << i + 1 << ": " << e.what());
    }
    if (toks.back().truncated && n_trunc++ < 5)
      std::cerr << "warning: " << where << ": item " << i + 1 << " truncated from "
                << (toks.back().untruncated_exact ? "" : "at least ") << toks.back().untruncated_length
                << " to " << toks.back().ids.size() << " tokens (max_seq_length)\n";
  }
  if (n_trunc > 5) std::cerr << "warning: " << where << ": " << n_trunc << " items truncated in total\n";
  if (truncated_out) *truncated_out = n_trunc;
  return toks;
}

std::vector<std::vector<float>> embed_pairs(const Model& m, const std::vector<std::string>& a,
                                            const std::vector<std::string>* b, const std::string& where,
                                            const std::string& progress_label, std::vector<Tokenized>* tokens_out,
                                            size_t* truncated_out) {
  std::vector<Tokenized> toks = tokenize_pairs(m, a, b, where, truncated_out);
  std::vector<std::vector<float>> out;
  const size_t kBatch = 64;
  for (size_t i0 = 0; i0 < toks.size(); i0 += kBatch) {
    std::vector<Tokenized> batch(toks.begin() + long(i0), toks.begin() + std::min(toks.size(), i0 + kBatch));
    for (auto& e : m.embed(batch)) out.push_back(std::move(e));
    if (!progress_label.empty()) progress(progress_label, out.size(), toks.size());
  }
  if (tokens_out) *tokens_out = std::move(toks);
  return out;
}

std::vector<std::vector<float>> embed_texts(const Model& m, const std::vector<std::string>& texts,
                                            const std::string& where, const std::string& progress_label,
                                            std::vector<Tokenized>* tokens_out) {
  return embed_pairs(m, texts, nullptr, where, progress_label, tokens_out, nullptr);
}

bool version_requested(int argc, char** argv, const char* tool) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--version") {
      std::cout << tool << " " << RMSMP_VERSION << "\n";
      return true;
    }
  return false;
}

}  // namespace rmsmp::cli
