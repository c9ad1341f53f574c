// SentencePiece: id parity with `spm_encode --output_format=id` goldens (tests/data/sentencepiece, made with
// Debian sentencepiece 0.1.97, not by this code) for ALBERT's unigram and Llama 2's BPE models; the BERT
// template on ALBERT's [CLS]/[SEP]; case folding; bad input; a converted checkpoint that embeds the model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "convert.h"
#include "hf_checkpoint.h"
#include "rmsmp/model.h"
#include "rmsmp/tokenizer/sentencepiece.h"
#include "util/test_env.h"

namespace rmsmp::tok {
namespace {

std::string model_path(const std::string& name) { return test::data_dir() + "/sentencepiece/" + name + ".model"; }

SentencePieceTokenizer load(const std::string& name, SentencePieceConfig c = {}) {
  return SentencePieceTokenizer(SentencePieceTokenizer::read_model_file(model_path(name)), c, name);
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::istringstream is(s);
  std::vector<int32_t> v;
  for (int32_t x; is >> x;) v.push_back(x);
  return v;
}

class SentencePieceGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(SentencePieceGolden, EverySentenceMatchesSpmEncode) {
  const SentencePieceTokenizer t = load(GetParam());
  std::ifstream in(test::data_dir() + "/sentencepiece/" + GetParam() + ".golden.tsv", std::ios::binary);
  ASSERT_TRUE(in) << "golden file missing";
  size_t n = 0, same = 0;
  for (std::string line; std::getline(in, line);) {
    const size_t tab = line.rfind('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    const std::string text = line.substr(0, tab);
    const std::vector<int32_t> want = parse_ids(line.substr(tab + 1)), got = t.encode_raw(text);
    ++n;
    same += got == want;
    EXPECT_EQ(got, want) << GetParam() << ": '" << text << "'";
  }
  EXPECT_EQ(n, 33u);
  EXPECT_EQ(same, n);
}

INSTANTIATE_TEST_SUITE_P(Models, SentencePieceGolden, ::testing::Values("albert_30k_clean", "llama2_32k_bpe"));

TEST(SentencePiece, KnownIdsFromTheDataReadme) {
  EXPECT_EQ(load("albert_30k_clean").encode_raw("the movie was surprisingly good!"),
            (std::vector<int32_t>{14, 1308, 23, 11701, 254, 187}));
  EXPECT_EQ(load("llama2_32k_bpe").encode_raw("Hello world"), (std::vector<int32_t>{15043, 3186}));
  EXPECT_EQ(load("albert_30k_clean").vocab_size(), 30000u);
  EXPECT_EQ(load("llama2_32k_bpe").vocab_size(), 32000u);
}

TEST(SentencePiece, AlbertTemplateUsesItsClsAndSepPieces) {
  const SentencePieceTokenizer t = load("albert_30k_clean");
  EXPECT_EQ(t.cls_id(), 2);
  EXPECT_EQ(t.sep_id(), 3);
  EXPECT_EQ(t.token_id("[MASK]"), 4);
  EXPECT_EQ(t.token_id("no-such-piece-here"), -1);
  EXPECT_EQ(t.piece(1308), "\xE2\x96\x81movie");
  const Encoding e = t.encode("the movie", std::string_view("was good!"), 64);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 14, 1308, 3, 23, 254, 187, 3}));
  EXPECT_EQ(e.type_ids, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1}));
  const Encoding cut = t.encode("the movie was surprisingly good!", std::nullopt, 5);
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(cut.untruncated_length, 8u);
  EXPECT_EQ(cut.ids, (std::vector<int32_t>{2, 14, 1308, 23, 3}));
}

TEST(SentencePiece, LlamaHasNoBertTemplateButRawIdsWork) {
  const SentencePieceTokenizer t = load("llama2_32k_bpe");
  EXPECT_EQ(t.cls_id(), -1);
  EXPECT_THROW(t.encode("hi", std::nullopt, 16), TokenizerError);
  EXPECT_FALSE(t.encode_raw("hi").empty());
}

TEST(SentencePiece, LowercaseAndAccentStrippingRunBeforeTheModel) {
  SentencePieceConfig c;
  c.lowercase = true;
  c.strip_accents = true;
  const SentencePieceTokenizer folded = load("albert_30k_clean", c), plain = load("albert_30k_clean");
  EXPECT_EQ(folded.encode_raw("The MOVIE was Surprisingly good!"), plain.encode_raw("the movie was surprisingly good!"));
  EXPECT_EQ(folded.encode_raw("naïveté"), plain.encode_raw("naivete"));
  EXPECT_NE(plain.encode_raw("The"), plain.encode_raw("the"));  // the golden behaviour: no folding by default
}

TEST(SentencePiece, BadInputIsRefusedWithAClearError) {
  const SentencePieceTokenizer t = load("albert_30k_clean");
  try {
    t.encode_raw("ok \xC3\x28 bad");
    FAIL() << "invalid UTF-8 accepted";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid UTF-8 at byte 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SentencePieceTokenizer("", {}, "empty.model"), TokenizerError);
  std::string bytes = SentencePieceTokenizer::read_model_file(model_path("albert_30k_clean"));
  try {
    SentencePieceTokenizer(bytes.substr(0, bytes.size() / 2), {}, "half.model");
    FAIL() << "truncated model accepted";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("half.model"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SentencePieceTokenizer(std::string(1000, '\x7f'), {}, "garbage.model"), TokenizerError);
  try {
    SentencePieceTokenizer::read_model_file("/nonexistent/spiece.model");
    FAIL();
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/spiece.model"), std::string::npos);
  }
}

// A BERT checkpoint folder that ships spiece.model (ALBERT-style tokenizer_config.json) converts into a file
// that embeds the model and tokenizes exactly as ALBERT's lowercasing tokenizer does.
TEST(SentencePiece, ConverterEmbedsTheModelAndTheEngineUsesIt) {
  test::TinyOptions to;
  to.spiece_model = model_path("albert_30k_clean");
  to.spiece_vocab = 30000;
  ConvertOptions o;
  o.in_dir = test::make_tiny_checkpoint("tiny_spm", 3, to);
  o.out_path = test::temp_dir() + "/tiny_spm.rmsmp";
  o.scheme = "fixed8";
  convert_checkpoint(o);
  auto m = Model::load(o.out_path);
  const Tokenized t = m->tokenize("The Movie was SURPRISINGLY good!");
  EXPECT_EQ(t.ids, (std::vector<int32_t>{2, 14, 1308, 23, 11701, 254, 187, 3}));
  // AlbertTokenizer's `` and '' -> " (ids from transformers 4.46.3's AlbertTokenizer), kept in the file.
  EXPECT_EQ(m->tokenize("`` The Movie '' was good!").ids, (std::vector<int32_t>{2, 13, 7, 14, 1308, 13, 7, 23, 254, 187, 3}));
  const Tokenized p = m->tokenize("the movie", std::string_view("was good!"));
  EXPECT_EQ(p.type_ids, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1}));
  const auto emb = m->embed({t, p});
  ASSERT_EQ(emb.size(), 2u);
  EXPECT_EQ(emb[0].size(), 32u);
  EXPECT_THROW(m->tokenize("bad \xFF"), Error);
}

// A Unigram tokenizer.json alone is rebuilt into a SentencePiece model (XlmRoberta.TokenizerJsonAlone* checks a
// real one); one without the Metaspace pre-tokenizer is refused naming what is missing. With the .model beside
// it, the .model is read.
TEST(SentencePiece, UnigramTokenizerJsonWithoutMetaspaceIsRefusedAndAModelFileWins) {
  const std::string dir = test::temp_dir() + "/unigram_json";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer.json") << R"({"model": {"type": "Unigram", "unk_id": 1, "vocab": [["<pad>", 0.0]]}})";
  std::vector<std::string> notes;
  try {
    hf_load_tokenizer(dir, notes);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_NE(std::string(e.what()).find("Metaspace pre-tokenizer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir + "/tokenizer.json"), std::string::npos) << e.what();
  }
  std::filesystem::copy_file(model_path("albert_30k_clean"), dir + "/spiece.model");
  auto t = hf_load_tokenizer(dir, notes);
  EXPECT_EQ(t->type(), "sentencepiece");
  EXPECT_EQ(t->encode_raw("the movie was surprisingly good!"), (std::vector<int32_t>{14, 1308, 23, 11701, 254, 187}));
}

}  // namespace
}  // namespace rmsmp::tok
