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

TEST(JsonText, EmptyObject) {
  std::string out;
  JsonText(&out).End();
  EXPECT_EQ(out, "{}");
}

}  // namespace
}  // namespace noxsync
