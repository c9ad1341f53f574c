// GLUE task table and TSV reader. Column names follow the files GLUE distributes:
//   CoLA  train/dev: no header [source, label, original_label, sentence]; test: index sentence
//   SST-2 sentence label; test: index sentence
//   MRPC  Quality #1 ID #2 ID #1 String #2 String; test: index #1 ID #2 ID #1 String #2 String
//   STS-B index genre filename year old_index source1 source2 sentence1 sentence2 score; test lacks score
//   QQP   id qid1 qid2 question1 question2 is_duplicate; test: id question1 question2
//   MNLI  index promptID pairID genre sentence{1,2}_binary_parse sentence{1,2}_parse sentence1 sentence2
//         label1 [label2..label5] gold_label; test_matched/test_mismatched lack the labels
//   QNLI  index question sentence label;  RTE/WNLI index sentence1 sentence2 label
#include "glue/tasks.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "common/cli.h"
#include "rmsmp/error.h"

namespace rmsmp::glue {

const std::vector<Task>& all_tasks() {
  static const std::vector<Task> kTasks = [] {
    std::vector<Task> t;
    const std::vector<std::string> bin = {"0", "1"}, ent = {"entailment", "not_entailment"},
                                   nli = {"contradiction", "entailment", "neutral"};
    t.push_back({"cola", "dev.tsv", "test.tsv", "train.tsv", "sentence", "", "", "index", true, bin, {"matthews"}, 2});
    t.push_back({"sst2", "dev.tsv", "test.tsv", "train.tsv", "sentence", "", "label", "index", false, bin, {"accuracy"}, 2});
    t.push_back({"mrpc", "dev.tsv", "test.tsv", "train.tsv", "#1 String", "#2 String", "Quality", "index", false, bin,
                 {"f1", "accuracy"}, 5});
    t.push_back({"stsb", "dev.tsv", "test.tsv", "train.tsv", "sentence1", "sentence2", "score", "index", false, {},
                 {"pearson", "spearman"}, 9});
    t.push_back({"qqp", "dev.tsv", "test.tsv", "train.tsv", "question1", "question2", "is_duplicate", "id", false, bin,
                 {"accuracy", "f1"}, 3});
    t.push_back({"mnli", "dev_matched.tsv", "test_matched.tsv", "train.tsv", "sentence1", "sentence2", "gold_label",
                 "index", false, nli, {"accuracy"}, 10});
    t.push_back({"mnli-mm", "dev_mismatched.tsv", "test_mismatched.tsv", "train.tsv", "sentence1", "sentence2",
                 "gold_label", "index", false, nli, {"accuracy"}, 10});
    t.push_back({"qnli", "dev.tsv", "test.tsv", "train.tsv", "question", "sentence", "label", "index", false, ent,
                 {"accuracy"}, 3});
    t.push_back({"rte", "dev.tsv", "test.tsv", "train.tsv", "sentence1", "sentence2", "label", "index", false, ent,
                 {"accuracy"}, 3});
    t.push_back({"wnli", "dev.tsv", "test.tsv", "train.tsv", "sentence1", "sentence2", "label", "index", false, bin,
                 {"accuracy"}, 3});
    return t;
  }();
  return kTasks;
}

const Task& task(const std::string& name) {
  std::string known;
  for (const Task& t : all_tasks()) {
    if (t.name == name) return t;
    known += (known.empty() ? "" : "|") + t.name;
  }
  RMSMP_FAIL(ErrorCode::InvalidArgument, "unknown GLUE task '" << name << "' (known: " << known << ")");
}

std::string split_path(const Task& t, const std::string& data, const std::string& split) {
  namespace fs = std::filesystem;
  RMSMP_CHECK(split == "train" || split == "dev" || split == "test", ErrorCode::InvalidArgument,
              "--split must be train, dev or test");
  RMSMP_CHECK(fs::exists(data), ErrorCode::NotFound, data << ": no such file or folder");
  if (!fs::is_directory(data)) return data;
  const std::string f = split == "train" ? t.train_file : split == "dev" ? t.dev_file : t.test_file;
  const fs::path p = fs::path(data) / f;
  RMSMP_CHECK(fs::exists(p), ErrorCode::NotFound, p.string() << ": no such file (the " << t.name << " " << split
                                                             << " split; GLUE names it " << f << ")");
  return p.string();
}

namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> f;
  size_t s = 0;
  for (size_t i = 0; i <= line.size(); ++i)
    if (i == line.size() || line[i] == '\t') f.push_back(line.substr(s, i - s)), s = i + 1;
  return f;
}

int column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return int(i);
  return -1;
}

double parse_score(const std::string& s, const std::string& where) {
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  RMSMP_CHECK(!s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(v),
              ErrorCode::InvalidFile, where << ": score '" << s << "' is not a number");
  return v;
}

}  // namespace

Examples read(const Task& t, const std::string& path) {
  std::vector<std::string> lines = cli::read_lines(path, true);  // checks UTF-8, names file:line
  if (!lines.empty() && lines[0].rfind("\xEF\xBB\xBF", 0) == 0) lines[0].erase(0, 3);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  RMSMP_CHECK(!lines.empty(), ErrorCode::InvalidFile, path << ": empty file");
  const std::vector<std::string> first = split_tabs(lines[0]);
  // Column indices, and whether line 1 is a header.
  int ca = column(first, t.a), cb = t.b.empty() ? -1 : column(first, t.b), cl = column(first, t.label),
      cid = column(first, t.id);
  size_t start = 1;
  if (t.headerless_labeled && ca < 0) {  // CoLA train/dev: fixed columns, no header
    ca = 3, cl = 1, cid = -1, start = 0;
  } else {
    RMSMP_CHECK(ca >= 0 && (t.b.empty() || cb >= 0), ErrorCode::InvalidFile,
                path << ":1: header lacks the " << t.name << " text column(s) '" << t.a
                     << (t.b.empty() ? "" : "', '" + t.b) << "' (is this a " << t.name << " file?)");
  }
  const size_t nfields = start == 0 ? 4 : first.size();
  RMSMP_CHECK(cl >= 0 || nfields == t.test_fields, ErrorCode::InvalidFile,
              path << ":1: header has no '" << t.label << "' label column and " << nfields << " columns, not the "
                   << t.test_fields << " of a " << t.name << " test file (is this a " << t.name << " file?)");
  Examples ex;
  ex.labeled = cl >= 0;
  for (size_t i = start; i < lines.size(); ++i) {
    const std::string where = path + ":" + std::to_string(i + 1);
    const std::vector<std::string> f = split_tabs(lines[i]);
    RMSMP_CHECK(f.size() == nfields, ErrorCode::InvalidFile,
                where << ": " << f.size() << " tab-separated fields, expected " << nfields);
    RMSMP_CHECK(f[size_t(ca)].find_first_not_of(' ') != std::string::npos &&
                    (cb < 0 || f[size_t(cb)].find_first_not_of(' ') != std::string::npos),
                ErrorCode::InvalidText, where << ": empty text");
    ex.a.push_back(f[size_t(ca)]);
    if (cb >= 0) ex.b.push_back(f[size_t(cb)]);
    if (cid >= 0) ex.ids.push_back(f[size_t(cid)]);
    if (!ex.labeled) continue;
    const std::string& lab = f[size_t(cl)];
    if (t.regression()) {
      ex.scores.push_back(parse_score(lab, where));
      continue;
    }
    int k = -1;
    for (size_t j = 0; j < t.labels.size(); ++j)
      if (t.labels[j] == lab) k = int(j);
    if (k < 0) {
      std::ostringstream known;
      for (const auto& l : t.labels) known << (known.tellp() ? ", " : "") << l;
      RMSMP_FAIL(ErrorCode::InvalidFile, where << ": label '" << lab << "' is not a " << t.name << " label (" << known.str() << ")");
    }
    ex.labels.push_back(k);
  }
  RMSMP_CHECK(ex.size() > 0, ErrorCode::InvalidFile, path << ": no examples");
  return ex;
}

}  // namespace rmsmp::glue
