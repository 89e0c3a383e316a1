#include "sync/printable.h"

#include <gtest/gtest.h>

namespace noxsync {
namespace {

TEST(PrintableText, EscapesEveryControlCharacterAndKeepsTheRest) {
  EXPECT_EQ(PrintableText("alice@acme.fr on ChatGPT"), "alice@acme.fr on ChatGPT");
  EXPECT_EQ(PrintableText("Chat\x1b[31mRED\x1b]0;pwned\x07"), "Chat\\x1b[31mRED\\x1b]0;pwned\\x07");
  EXPECT_EQ(PrintableText("a\nFAKE LINE\r\tb"), "a\\nFAKE LINE\\r\\tb");
  EXPECT_EQ(PrintableText(std::string_view("nul\0del\x7f", 8)), "nul\\x00del\\x7f");
  // Every C0 control and DEL, and nothing printable, is escaped.
  for (int c = 0; c < 0x80; ++c) {
    std::string one(1, static_cast<char>(c));
    bool control = c < 0x20 || c == 0x7F;
    EXPECT_EQ(PrintableText(one) != one, control) << c;
  }
  // C1 controls (U+009B is CSI on some terminals), but not the letters beside them.
  EXPECT_EQ(PrintableText("x\xC2\x9B" "2J"), "x\\u009b2J");
  EXPECT_EQ(PrintableText("\xC2\x80\xC2\x9F"), "\\u0080\\u009f");
  EXPECT_EQ(PrintableText("caf\xC3\xA9 \xC2\xA0 \xC2\xA9"), "caf\xC3\xA9 \xC2\xA0 \xC2\xA9");
  // Bidirectional overrides and isolates, which reorder a line on screen.
  EXPECT_EQ(PrintableText("evil\xE2\x80\xAEgpj.exe"), "evil\\u202egpj.exe");
  EXPECT_EQ(PrintableText("\xE2\x80\xAA\xE2\x81\xA6\xE2\x81\xA9"), "\\u202a\\u2066\\u2069");
  EXPECT_EQ(PrintableText("\xE2\x80\x94 \xE2\x82\xAC \xE2\x80\xA9"), "\xE2\x80\x94 \xE2\x82\xAC \xE2\x80\xA9");
  // A sequence cut short at the end is kept as it is.
  EXPECT_EQ(PrintableText("\xE2\x80"), "\xE2\x80");
  EXPECT_EQ(PrintableText("\xC2"), "\xC2");
  EXPECT_EQ(PrintableText("C:\\temp"), "C:\\temp");
}

TEST(DisplayWidth, CountsTerminalColumnsNotBytes) {
  EXPECT_EQ(DisplayWidth("alice@acme.fr"), 13u);
  EXPECT_EQ(DisplayWidth("jos\xC3\xA9@acme.fr"), 12u);         // é: two bytes, one column
  EXPECT_EQ(DisplayWidth("jose\xCC\x81"), 4u);                 // e + combining acute: one column
  EXPECT_EQ(DisplayWidth("\xE7\x94\xB0\xE4\xB8\xAD"), 4u);  // 田中: two wide characters
  EXPECT_EQ(DisplayWidth("\xF0\x9F\x94\x92"), 2u);            // 🔒, an emoji
  EXPECT_EQ(DisplayWidth("\xE2\x82\xAC"), 1u);                // €
  // Not UTF-8: a byte a column, never a read past the end.
  EXPECT_EQ(DisplayWidth("\xFF\xFE"), 2u);
  EXPECT_EQ(DisplayWidth("ab\xE2\x82"), 4u);
  EXPECT_EQ(DisplayWidth(""), 0u);
}

TEST(PadToColumns, FillsToTheColumnAndKeepsWiderTextWhole) {
  EXPECT_EQ(PadToColumns("jos\xC3\xA9", 6), "jos\xC3\xA9  ");
  EXPECT_EQ(PadToColumns("alice", 6), "alice ");
  EXPECT_EQ(PadToColumns("\xE7\x94\xB0\xE4\xB8\xAD", 6), "\xE7\x94\xB0\xE4\xB8\xAD  ");
  EXPECT_EQ(PadToColumns("a-long-address@acme.fr", 6), "a-long-address@acme.fr");
}

}  // namespace
}  // namespace noxsync
