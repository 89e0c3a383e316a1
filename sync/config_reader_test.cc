#include "sync/config_reader.h"

#include <cstdlib>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace noxsync {
namespace {

TEST(ConfigSection, ExpandsEnvironmentAndReportsUnknownKeys) {
  ::setenv("NOXSYNC_TEST_TOKEN", "s3cr3t-value", 1);
  auto v = boost::json::parse(R"({"url":"https://${NOXSYNC_TEST_HOST_UNSET}x","token":"${NOXSYNC_TEST_TOKEN}",
                                   "n":5,"projct":"SEC","list":["a","${NOXSYNC_TEST_TOKEN}"]})");
  ConfigProblems problems;
  ConfigSection s(v.as_object(), "backends.jira", &problems);
  EXPECT_EQ(s.Str("url"), "");
  EXPECT_EQ(s.RequiredSecret("token").reveal(), "s3cr3t-value");
  EXPECT_EQ(s.Int("n", 0, 1, 3), 0);
  EXPECT_EQ(s.StrList("list").size(), 2u);
  s.Finish();
  ASSERT_EQ(problems.errors.size(), 3u) << problems.Text();
  EXPECT_EQ(problems.errors[0],
            "backends.jira.url: environment variable NOXSYNC_TEST_HOST_UNSET is not set; export it before "
            "starting noxsync");
  EXPECT_EQ(problems.errors[1], "backends.jira.n: must be between 1 and 3, got 5");
  EXPECT_EQ(problems.errors[2], "backends.jira.projct: unknown key (misspelt? see docs/configuration.md)");
  EXPECT_EQ(problems.Text().find("s3cr3t-value"), std::string::npos);
  EXPECT_TRUE(problems.warnings.empty());
}

TEST(ConfigSection, LiteralSecretIsWarnedOfButNeverEchoed) {
  auto v = boost::json::parse(R"({"api_token":"literal-token-123","n":"x"})");
  ConfigProblems problems;
  ConfigSection s(v.as_object(), "jira", &problems);
  EXPECT_EQ(s.RequiredSecret("api_token").reveal(), "literal-token-123");
  s.Int("n", 1, 0, 10);
  s.Finish();
  ASSERT_EQ(problems.warnings.size(), 1u);
  EXPECT_NE(problems.warnings[0].find("jira.api_token"), std::string::npos);
  EXPECT_EQ(problems.warnings[0].find("literal-token-123"), std::string::npos);
  ASSERT_EQ(problems.errors.size(), 1u);
  EXPECT_EQ(problems.errors[0], "jira.n: expected an integer");
}

TEST(ConfigSection, MissingRequiredKeysAreNamed) {
  auto v = boost::json::parse(R"({"inner":{"a":1}})");
  ConfigProblems problems;
  ConfigSection s(v.as_object(), "", &problems);
  s.RequiredStr("project");
  s.RequiredSecret("api_token");
  auto inner = s.Section("inner");
  ASSERT_TRUE(inner.has_value());
  inner->Finish();
  s.Finish();
  ASSERT_EQ(problems.errors.size(), 3u);
  EXPECT_EQ(problems.errors[0], "project: missing (required)");
  EXPECT_NE(problems.errors[1].find("api_token: missing"), std::string::npos);
  EXPECT_EQ(problems.errors[2], "inner.a: unknown key (misspelt? see docs/configuration.md)");
}

}  // namespace
}  // namespace noxsync
