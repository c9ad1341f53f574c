// The GLUE tasks as distributed (GLUE's download script / the original zip files): which file holds each
// split, which columns hold the texts, the label and the example id, the label names in Hugging Face's order,
// and the task's metrics. One table (tasks.cc) drives the reader, the heads and the metrics.
#pragma once
#include <string>
#include <vector>

namespace rmsmp::glue {

struct Task {
  std::string name;                 // cola, sst2, mrpc, stsb, qqp, mnli, mnli-mm, qnli, rte, wnli
  std::string dev_file, test_file;  // file names inside the task folder
  std::string train_file = "train.tsv";
  // Columns by header name. b empty: single-sentence task. A labeled file has `label`; a test file `id`.
  std::string a, b, label, id;
  // CoLA's train/dev files have no header: fixed columns (source, label, original label, sentence).
  bool headerless_labeled = false;
  std::vector<std::string> labels;  // label strings in class-index order; empty: regression (STS-B)
  std::vector<std::string> metrics; // accuracy, f1, matthews, pearson, spearman; the first is the headline
  size_t test_fields = 0;           // columns of the test layout (a file without the label column)
  bool regression() const { return labels.empty(); }
};

const Task& task(const std::string& name);  // throws InvalidArgument naming the known tasks
const std::vector<Task>& all_tasks();

struct Examples {
  std::vector<std::string> a, b;  // b empty for single-sentence tasks
  std::vector<int> labels;        // class indices (classification, labeled files)
  std::vector<double> scores;     // STS-B scores (labeled files)
  std::vector<std::string> ids;   // the id column where the file has one
  bool labeled = false;
  size_t size() const { return a.size(); }
};

// Reads a GLUE TSV (train, dev or test layout, detected from the header). Quotes are literal text, a
// leading UTF-8 BOM is dropped, CRLF is accepted. Errors name the file and line: missing columns, wrong
// field count, unknown label, bad score, invalid UTF-8, empty text.
Examples read(const Task& t, const std::string& path);

// The file of `split` (train | dev | test) for task t: `data` itself when it is a file, else the task's file
// name inside the folder `data`.
std::string split_path(const Task& t, const std::string& data, const std::string& split);

}  // namespace rmsmp::glue
