#include "store/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace noxsync {
namespace {

constexpr size_t npos = std::string_view::npos;

TEST(DecodeUtf8, GivesEachSequencesLengthAndCodePoint) {
  char32_t cp = 0;
  EXPECT_EQ(DecodeUtf8("a", 0, &cp), 1u);
  EXPECT_EQ(cp, U'a');
  EXPECT_EQ(DecodeUtf8("x\xC3\xA9", 1, &cp), 2u);
  EXPECT_EQ(cp, U'\u00E9');
  EXPECT_EQ(DecodeUtf8("\xE2\x82\xAC", 0, &cp), 3u);
  EXPECT_EQ(cp, U'\u20AC');
  EXPECT_EQ(DecodeUtf8("\xF0\x9F\x94\x92", 0, &cp), 4u);
  EXPECT_EQ(cp, U'\U0001F512');
  EXPECT_EQ(DecodeUtf8("\xE2\x82", 0, &cp), 0u);  // cut short
  EXPECT_EQ(DecodeUtf8("\xC0\xAF", 0, &cp), 0u);  // overlong
  EXPECT_EQ(DecodeUtf8("\x80", 0, &cp), 0u);      // a continuation byte alone
}

TEST(InvalidUtf8At, AcceptsUtf8OfEveryLength) {
  EXPECT_EQ(InvalidUtf8At(""), npos);
  EXPECT_EQ(InvalidUtf8At("plain ascii, longer than eight bytes"), npos);
  EXPECT_EQ(InvalidUtf8At("jos\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x92 \xE6\x97\xA5\xE6\x9C\xAC"), npos);  // é € 🔒 日本
  EXPECT_EQ(InvalidUtf8At("\xF4\x8F\xBF\xBF"), npos);  // U+10FFFF, the last code point
}

TEST(InvalidUtf8At, NamesTheFirstByteThatIsNot) {
  EXPECT_EQ(InvalidUtf8At("jos\xE9@acme.fr"), 3u);           // Latin-1 é
  EXPECT_EQ(InvalidUtf8At("abcdefghij\x80"), 10u);           // a stray continuation byte, past the 8-byte stride
  EXPECT_EQ(InvalidUtf8At("ab\xC3"), 2u);                    // cut short at the end
  EXPECT_EQ(InvalidUtf8At("ab\xE2\x82x"), 2u);               // cut short inside
  EXPECT_EQ(InvalidUtf8At("\xC0\xAF"), 0u);                  // overlong '/'
  EXPECT_EQ(InvalidUtf8At("\xE0\x80\xAF"), 0u);              // overlong, three bytes
  EXPECT_EQ(InvalidUtf8At("\xED\xA0\x80"), 0u);              // a surrogate, U+D800
  EXPECT_EQ(InvalidUtf8At("\xF4\x90\x80\x80"), 0u);          // past U+10FFFF
  EXPECT_EQ(InvalidUtf8At("\xFF"), 0u);
}

TEST(ValidUtf8, ReplacesEachBadByteAndKeepsTheRest) {
  EXPECT_EQ(ValidUtf8("jos\xC3\xA9"), "jos\xC3\xA9");
  EXPECT_EQ(ValidUtf8("jos\xE9@acme.fr"), "jos\xEF\xBF\xBD@acme.fr");
  EXPECT_EQ(ValidUtf8("\xC3"), "\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8("a\xFF\xFE" "b"), "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
  // In a JSON document the structure stays: the bad bytes are inside strings.
  EXPECT_EQ(ValidUtf8("{\"text\":\"caf\xE9\"}"), "{\"text\":\"caf\xEF\xBF\xBD\"}");
  EXPECT_EQ(InvalidUtf8At(ValidUtf8("\x80\x80\xC0\xAF\xED\xA0\x80")), npos);
}

TEST(Utf8Prefix, CutsBetweenCharactersOnly) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x94\x92";  // a é € 🔒: 1 + 2 + 3 + 4 bytes
  EXPECT_EQ(Utf8Prefix(s, 100), s);
  EXPECT_EQ(Utf8Prefix(s, 10), s);
  EXPECT_EQ(Utf8Prefix(s, 9), "a\xC3\xA9\xE2\x82\xAC");  // 🔒 would not fit whole
  EXPECT_EQ(Utf8Prefix(s, 7), "a\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(Utf8Prefix(s, 5), "a\xC3\xA9");
  EXPECT_EQ(Utf8Prefix(s, 2), "a");
  EXPECT_EQ(Utf8Prefix(s, 1), "a");
  EXPECT_EQ(Utf8Prefix(s, 0), "");
  for (size_t n = 0; n <= s.size(); ++n) EXPECT_EQ(InvalidUtf8At(Utf8Prefix(s, n)), npos) << n;
  // Not UTF-8 to begin with: a run of continuation bytes is cut where asked.
  EXPECT_EQ(Utf8Prefix("\x80\x80\x80\x80\x80\x80", 5).size(), 5u);
}

TEST(Base64, MatchesTheVectorsOfRfc4648) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64(std::string("jos\xE9\x00\xFF", 6)), "am9z6QD/");
}

}  // namespace
}  // namespace noxsync
