// Hashes against published test vectors (FIPS 180-4 examples; FNV-1a reference values).
#include <gtest/gtest.h>

#include <string>

#include "core/hash.h"

namespace rmsmp {

TEST(Hash, Sha256KnownVectors) {
  auto h = [](const std::string& s) {
    Sha256 x;
    x.update(s.data(), s.size());
    return x.hex_digest();
  };
  EXPECT_EQ(h(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(h("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(h("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(h(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Hash, Sha256StreamingEqualsOneShot) {
  std::string s(1000, 'x');
  for (size_t i = 0; i < s.size(); ++i) s[i] = char(i * 7);
  Sha256 a, b;
  a.update(s.data(), s.size());
  for (size_t i = 0; i < s.size(); i += 37) b.update(s.data() + i, std::min<size_t>(37, s.size() - i));
  EXPECT_EQ(a.hex_digest(), b.hex_digest());
}

TEST(Hash, Fnv1a64KnownVectors) {
  EXPECT_EQ(fnv1a64("", 0), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar", 6), 0x85944171f73967e8ull);
  EXPECT_EQ(fnv1a64("bar", 3, fnv1a64("foo", 3)), 0x85944171f73967e8ull);
}

}  // namespace rmsmp
