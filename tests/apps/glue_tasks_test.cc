// The GLUE reader on small files in each task's distributed layout (train/dev with labels, test without),
// and its errors. The layouts are typed in here from GLUE's files, independently of tasks.cc's table.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "glue/tasks.h"
#include "rmsmp/error.h"
#include "util/test_env.h"

namespace rmsmp::glue {
namespace {

std::string write(const std::string& name, const std::string& content) {
  const std::string p = test::temp_dir() + "/" + name;
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

void expect_error(const Task& t, const std::string& path, const std::string& needle) {
  try {
    read(t, path);
    FAIL() << "accepted " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(GlueTasks, EveryTaskDevLayoutReadsTextsAndLabels) {
  struct Case {
    std::string task, file, a0, b0;
    std::vector<int> labels;
  };
  const std::vector<Case> cases = {
      {"cola", "gj04\t1\t\tOur friends won't buy this analysis.\ngj04\t0\t*\tThey drank the pub.\n",
       "Our friends won't buy this analysis.", "", {1, 0}},
      {"sst2", "sentence\tlabel\nit 's a charming journey . \t1\nbleak \t0\n", "it 's a charming journey . ", "", {1, 0}},
      {"mrpc", "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t1355540\t1355592\tHe said \"so\".\tHe "
               "said so.\r\n0\t2029631\t2029565\tA b.\tC d.\r\n",
       "He said \"so\".", "He said so.", {1, 0}},
      {"qqp", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n201359\t303345\t303346\tWhy?\tHow?\t0\n7\t8\t9\tA?\tB?\t1\n",
       "Why?", "How?", {0, 1}},
      {"mnli", "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
               "sentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
               "0\t63735\t63735n\tslate\t(x)\t(y)\t(X)\t(Y)\tThe new rights are nice.\tEveryone likes them.\tneutral\t"
               "entailment\tneutral\tneutral\tneutral\tneutral\n"
               "1\t1\t1n\tslate\t(x)\t(y)\t(X)\t(Y)\tA.\tB.\tcontradiction\tcontradiction\tcontradiction\tcontradiction\t"
               "contradiction\tcontradiction\n",
       "The new rights are nice.", "Everyone likes them.", {2, 0}},
      {"qnli", "index\tquestion\tsentence\tlabel\n0\tWhat?\tThis.\tentailment\n1\tWho?\tNo one.\tnot_entailment\n", "What?",
       "This.", {0, 1}},
      {"rte", "index\tsentence1\tsentence2\tlabel\n0\tDana died.\tDana is dead.\tentailment\n1\tA.\tB.\tnot_entailment\n",
       "Dana died.", "Dana is dead.", {0, 1}},
      {"wnli", "index\tsentence1\tsentence2\tlabel\n0\tI stuck a pin.\tThe pin had a hole.\t1\n1\tA.\tB.\t0\n",
       "I stuck a pin.", "The pin had a hole.", {1, 0}},
  };
  for (const Case& c : cases) {
    const Examples ex = read(task(c.task), write(c.task + "_dev.tsv", c.file));
    EXPECT_TRUE(ex.labeled) << c.task;
    ASSERT_EQ(ex.size(), 2u) << c.task;
    EXPECT_EQ(ex.a[0], c.a0) << c.task;
    if (c.b0.empty()) EXPECT_TRUE(ex.b.empty()) << c.task;
    else EXPECT_EQ(ex.b[0], c.b0) << c.task;
    EXPECT_EQ(ex.labels, c.labels) << c.task;
  }
}

TEST(GlueTasks, StsbScoresAndTestLayoutsWithoutLabels) {
  const std::string h = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2";
  Examples ex = read(task("stsb"), write("stsb_dev.tsv", h + "\tscore\n0\tmain-captions\tMSRvid\t2012test\t0000\tnone\t"
                                                                "none\tA man.\tA person.\t5.000\n1\tg\tf\ty\t1\tn\tn\tX.\tY.\t0.25\n"));
  EXPECT_EQ(ex.scores, (std::vector<double>{5.0, 0.25}));
  EXPECT_EQ(ex.ids, (std::vector<std::string>{"0", "1"}));
  ex = read(task("stsb"), write("stsb_test.tsv", h + "\n0\tg\tf\ty\t1\tn\tn\tX.\tY.\n"));
  EXPECT_FALSE(ex.labeled);
  EXPECT_EQ(ex.b[0], "Y.");
  ex = read(task("cola"), write("cola_test.tsv", "index\tsentence\n0\tBill whistled.\n"));
  EXPECT_FALSE(ex.labeled);
  EXPECT_EQ(ex.a[0], "Bill whistled.");
  ex = read(task("mrpc"), write("mrpc_test.tsv", "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1\t2\tA.\tB.\n"));
  EXPECT_FALSE(ex.labeled);
  EXPECT_EQ(ex.ids[0], "0");
  ex = read(task("qqp"), write("qqp_test.tsv", "id\tquestion1\tquestion2\n0\tA?\tB?\n"));
  EXPECT_EQ(ex.b[0], "B?");
}

TEST(GlueTasks, SplitFilesFollowGlueNames) {
  const std::string dir = test::temp_dir() + "/MNLI";
  std::filesystem::create_directories(dir);
  write("MNLI/dev_mismatched.tsv", "x");
  EXPECT_EQ(split_path(task("mnli-mm"), dir, "dev"), dir + "/dev_mismatched.tsv");
  try {
    split_path(task("mnli"), dir, "dev");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dev_matched.tsv"), std::string::npos) << e.what();
  }
  EXPECT_THROW(task("squad"), Error);
}

TEST(GlueTasks, BadFilesNameTheFileAndLine) {
  const Task& rte = task("rte");
  expect_error(rte, write("bad_label.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tmaybe\n"),
               ":2: label 'maybe' is not a rte label");
  expect_error(rte, write("bad_fields.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\n"),
               ":2: 3 tab-separated fields, expected 4");
  expect_error(rte, write("wrong_task.tsv", "sentence\tlabel\nok\t1\n"), "header lacks the rte text column");
  expect_error(rte, write("empty_text.tsv", "index\tsentence1\tsentence2\tlabel\n0\t \tB.\tentailment\n"), "empty text");
  expect_error(rte, write("bad_utf8.tsv", "index\tsentence1\tsentence2\tlabel\n0\t\xC3\x28\tB.\tentailment\n"),
               "invalid UTF-8");
  expect_error(rte, write("only_header.tsv", "index\tsentence1\tsentence2\tlabel\n"), "no examples");
  expect_error(task("stsb"), write("bad_score.tsv", "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\t"
                                                   "sentence1\tsentence2\tscore\n0\tg\tf\ty\t1\tn\tn\tA.\tB.\t4.x\n"),
               "score '4.x' is not a number");
}

}  // namespace rmsmp::glue
