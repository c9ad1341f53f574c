// WordPiece unit behaviour on a small hand-written vocabulary: each expectation worked out from the BERT
// tokenizer's rules (HF BertNormalizer / BertPreTokenizer / WordPiece), independent of the goldens.
#include <gtest/gtest.h>

#include <algorithm>

#include "rmsmp/tokenizer/wordpiece.h"

namespace rmsmp::tok {
namespace {

WordPieceTokenizer make(WordPieceConfig c = {}) {
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "runn",
                                "##ing", "!", "cafe", "猫", "a", "hello", ",", "the", "##s", "i"};
  return WordPieceTokenizer(v, c);
}
std::vector<int32_t> ids(const WordPieceTokenizer& t, const std::string& s) { return t.encode_raw(s); }

}  // namespace

TEST(WordPiece, GreedyLongestMatchWithContinuationPrefix) {
  auto t = make();
  EXPECT_EQ(ids(t, "unaffable"), (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(ids(t, "running!"), (std::vector<int32_t>{8, 9, 10}));
  EXPECT_EQ(ids(t, "unaffablex"), (std::vector<int32_t>{1}));  // any unmatched remainder -> whole word [UNK]
}

TEST(WordPiece, LowercasesAndStripsAccentsThroughNfd) {
  auto t = make();
  EXPECT_EQ(ids(t, "CAFÉ"), (std::vector<int32_t>{11}));
  EXPECT_EQ(ids(t, "Cafe\u0301"), (std::vector<int32_t>{11}));  // combining acute accent (Mn) dropped
  EXPECT_EQ(ids(t, "\u0130"), (std::vector<int32_t>{18}));       // İ -> "i" + U+0307 (dropped: no accent left)
  WordPieceConfig cased;
  cased.lowercase = false;
  EXPECT_EQ(ids(make(cased), "CAFE"), (std::vector<int32_t>{1}));
}

TEST(WordPiece, SplitsPunctuationCjkAndWhitespace) {
  auto t = make();
  EXPECT_EQ(ids(t, "hello,the猫a"), (std::vector<int32_t>{14, 15, 16, 12, 13}));
  EXPECT_EQ(ids(t, "\u3000hello\u00a0the\t\n"), (std::vector<int32_t>{14, 16}));  // Zs / NBSP / tabs
}

TEST(WordPiece, CleanTextDropsControlCharacters) {
  auto t = make();
  EXPECT_EQ(ids(t, std::string("hel\x01lo\u200b") + "\uFFFD"), (std::vector<int32_t>{14}));  // Cc, Cf, U+FFFD
  EXPECT_TRUE(ids(t, "").empty());
}

TEST(WordPiece, OverlongWordsBecomeUnk) {
  auto t = make();
  EXPECT_EQ(ids(t, std::string(101, 'a')), (std::vector<int32_t>{1}));
}

TEST(WordPiece, InvalidUtf8IsAnErrorWithTheByteOffset) {
  auto t = make();
  for (const std::string& bad : {std::string("ab\xff"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                                std::string("abc\xe2\x82")}) {
    try {
      t.encode_raw(bad);
      FAIL() << "must reject invalid UTF-8";
    } catch (const TokenizerError& e) {
      EXPECT_NE(std::string(e.what()).find("invalid UTF-8 at byte"), std::string::npos);
    }
  }
}

TEST(WordPiece, SpecialTokensTypeIdsAndTruncation) {
  auto t = make();
  Encoding e = t.encode("hello the", std::string_view("a"), 64);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 14, 16, 3, 13, 3}));
  EXPECT_EQ(e.type_ids, (std::vector<int32_t>{0, 0, 0, 0, 1, 1}));
  EXPECT_FALSE(e.truncated);
  Encoding tr = t.encode("a a a a a a", std::nullopt, 5);
  EXPECT_EQ(tr.ids, (std::vector<int32_t>{2, 13, 13, 13, 3}));
  EXPECT_TRUE(tr.truncated);
  // Tokenization stops once the text passes the 3 tokens it can keep: a lower bound, flagged as such.
  EXPECT_EQ(tr.untruncated_length, 6u);
  EXPECT_FALSE(tr.untruncated_exact);
  Encoding whole = t.encode("a a a a a a", std::nullopt, 64);
  EXPECT_EQ(whole.untruncated_length, 8u);
  EXPECT_TRUE(whole.untruncated_exact);
  // Longest-first: "a a a a" (4) vs "the" (1) to 6 tokens: trim the first sequence down to 2.
  Encoding p = t.encode("a a a a", std::string_view("the"), 6);
  EXPECT_EQ(p.ids, (std::vector<int32_t>{2, 13, 13, 3, 16, 3}));
}

TEST(WordPiece, RejectsVocabWithoutSpecialTokens) {
  EXPECT_THROW(WordPieceTokenizer({"a", "b"}, WordPieceConfig{}), TokenizerError);
}

}  // namespace rmsmp::tok

namespace rmsmp::tok {

// Hostile lengths (issue 22). A crafted max_input_chars_per_word lets a 4,000-character word reach the
// longest-match search, which tried every end position from the word's end (O(n^2) lookups of O(n) pieces:
// 38 s); candidates are now bounded by the longest vocabulary entry, with the same pieces.
TEST(WordPiece, LongWordsCostTheVocabularyNotTheWord) {
  WordPieceConfig c;
  c.max_input_chars_per_word = 1 << 20;
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "##a", "##aa", "b"};
  const WordPieceTokenizer t(v, c);
  const std::vector<int32_t> got = t.encode_raw(std::string(4001, 'a'));
  std::vector<int32_t> want = {4};  // a, then the longest match first: ##aa x 2000
  want.insert(want.end(), 2000, 6);
  EXPECT_EQ(got, want);
  EXPECT_EQ(t.encode_raw(std::string(4000, 'a') + "b"), std::vector<int32_t>{1});  // no "##b": the word is [UNK]
}

// Special tokens typed in a text are matched before normalisation, as Hugging Face's added tokens are ("[SEP]"
// is the [SEP] id, "[sep]" is not); spans cover them. A text of 200,000 of them is linear work (searching every
// special again after each match was quadratic: minutes for 1 MB).
TEST(WordPiece, SpecialTokensInTheTextAreMatchedFirstInLinearTime) {
  const std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "[", "]", "sep"};
  const WordPieceTokenizer t(v, WordPieceConfig{});
  EXPECT_EQ(t.encode_raw("a [SEP]a[sep] [MASK]"), (std::vector<int32_t>{5, 3, 5, 6, 8, 7, 4}));
  std::vector<int32_t> ids;
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  ASSERT_TRUE(t.encode_raw_spans("a [SEP]a", ids, spans));
  EXPECT_EQ(spans, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 1}, {2, 7}, {7, 8}}));
  std::string many;
  for (int i = 0; i < 200000; ++i) many += "[SEP]a";
  const std::vector<int32_t> got = t.encode_raw(many);
  ASSERT_EQ(got.size(), 400000u);
  EXPECT_EQ(got[399998], 3);
  EXPECT_EQ(got[399999], 5);
}

// A huge text is tokenized only as far as truncation can keep: 1 MB of words gives the 254 ids
// of a 256-token input, flagged as a lower bound, and the same ids as the whole text's first ones.
TEST(WordPiece, TruncatedTextsStopOnceTheRestCannotBeKept) {
  const WordPieceTokenizer t = make();
  std::string word;
  for (int i = 0; i < 50; ++i) word += "a";  // no "##a" in this vocabulary: each such word is one [UNK]
  std::string text;
  while (text.size() < (1u << 20)) text += "the " + word + " ";
  const Encoding e = t.encode(text, std::nullopt, 256);
  EXPECT_TRUE(e.truncated);
  EXPECT_FALSE(e.untruncated_exact);
  EXPECT_LT(e.untruncated_length, 300u);
  ASSERT_EQ(e.ids.size(), 256u);
  const std::vector<int32_t> all = t.encode_raw(text.substr(0, 16384));  // the exact path on a prefix
  ASSERT_GE(all.size(), 254u);
  EXPECT_TRUE(std::equal(e.ids.begin() + 1, e.ids.end() - 1, all.begin()));
}

}  // namespace rmsmp::tok
