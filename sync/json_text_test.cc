#include "sync/json_text.h"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace noxsync {
namespace {

TEST(JsonText, WritesObjectsBoostJsonReadsBack) {
  std::string out;
  JsonText(&out)
      .Str("s", "quote \" backslash \\ newline \n tab \t bell \x07 é")
      .Int("i", -42)
      .Uint("u", 18446744073709551615ull)
      .StrArray("a", {"x", "y\"z"})
      .StrArray("empty", {})
      .End();
  auto v = boost::json::parse(out).as_object();
  EXPECT_EQ(v.at("s").as_string(), "quote \" backslash \\ newline \n tab \t bell \x07 é");
  EXPECT_EQ(v.at("i").as_int64(), -42);
  EXPECT_EQ(v.at("u").as_uint64(), 18446744073709551615ull);
  EXPECT_EQ(v.at("a").as_array().at(1).as_string(), "y\"z");
  EXPECT_TRUE(v.at("empty").as_array().empty());
  EXPECT_EQ(out.find('\x07'), std::string::npos);  // control characters escaped
}

TEST(JsonText, BoolsAndNestedValues) {
  std::string out;
  JsonText top(&out);
  top.Bool("yes", true).Bool("no", false);
  std::string* items = top.Raw("items");
  items->push_back('[');
  JsonText(items).Str("k", "v").End();
  items->push_back(',');
  JsonText(items).End();
  items->push_back(']');
  top.Uint("after", 1).End();
  EXPECT_EQ(out, R"({"yes":true,"no":false,"items":[{"k":"v"},{}],"after":1})");
  auto v = boost::json::parse(out).as_object();
  EXPECT_TRUE(v.at("yes").as_bool());
  EXPECT_EQ(v.at("items").as_array().size(), 2u);
}

// The escape as RFC 8259 spells it, a byte at a time: what the word-at-a-time
// scan must write, byte for byte.
std::string Reference(std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

TEST(AppendJsonString, EveryByteAtEveryPlaceOfAWordIsWrittenAsTheRfcSays) {
  // Each of the 256 byte values at each offset of a 19-byte string (two whole
  // words and a tail), between plain bytes, bytes just past each boundary
  // (0x1f / 0x20, '!' / '#' around '"', '[' / ']' around '\\') and UTF-8.
  for (const char filler : {'a', '\x20', '!', '#', '[', ']', '\x7f', '\xc3', '\xff'}) {
    for (int c = 0; c < 256; ++c) {
      for (size_t at = 0; at < 19; ++at) {
        std::string s(19, filler);
        s[at] = static_cast<char>(c);
        std::string out;
        AppendJsonString(&out, s);
        ASSERT_EQ(out, Reference(s)) << "byte " << c << " at " << at << " among " << static_cast<int>(filler);
      }
    }
  }
}

TEST(AppendJsonString, RunsOfEscapesAndPlainTextOfEveryLength) {
  std::string s;
  for (int i = 0; i < 300; ++i) {
    s += std::string(static_cast<size_t>(i % 13), 'x');
    s += "\"\\\n\x01\xc3\xa9"[i % 6];
    std::string out;
    AppendJsonString(&out, s);
    ASSERT_EQ(out, Reference(s)) << "length " << s.size();
  }
  std::string empty;
  AppendJsonString(&empty, "");
  EXPECT_EQ(empty, "\"\"");
}

TEST(JsonText, EmptyObject) {
  std::string out;
  JsonText(&out).End();
  EXPECT_EQ(out, "{}");
}

}  // namespace
}  // namespace noxsync
