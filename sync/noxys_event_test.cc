#include "sync/noxys_event.h"

#include <gtest/gtest.h>

namespace noxsync {
namespace {

constexpr const char* kGuideEvent =
    R"({"event_id":"evt_abc123def456","timestamp":"2026-03-20T14:32:00Z","platform_id":"chatgpt",)"
    R"("platform_name":"ChatGPT","user_email":"alice@acme.fr","risk_score":0.95,)"
    R"("classifications":[{"type":"EMAIL","value":"alice@acme.fr","confidence":0.98}],)"
    R"("policy_decisions":{"action":"BLOCK","policy_id":"pol_block_pii","policy_name":"Block PII on ChatGPT"}})";

TEST(NoxysEvent, ParsesTheGuideExample) {
  NoxysEvent ev;
  std::string err;
  ASSERT_TRUE(ParseNoxysEvent(kGuideEvent, &ev, &err)) << err;
  EXPECT_EQ(ev.event_id, "evt_abc123def456");
  EXPECT_EQ(ev.time_us, 1774017120LL * 1000000);
  EXPECT_EQ(ev.platform_id, "chatgpt");
  EXPECT_EQ(ev.platform_name, "ChatGPT");
  EXPECT_EQ(ev.user_email, "alice@acme.fr");
  EXPECT_DOUBLE_EQ(ev.risk_score, 0.95);
  ASSERT_EQ(ev.classifications.size(), 1u);
  EXPECT_EQ(ev.classifications[0].type, "EMAIL");
  EXPECT_DOUBLE_EQ(ev.classifications[0].confidence, 0.98);
  EXPECT_EQ(ev.action, PolicyAction::kBlock);
  EXPECT_EQ(ev.policy_id, "pol_block_pii");
  EXPECT_EQ(RiskPpm(ev.risk_score), 950000);
}

TEST(NoxysEvent, ToleratesFieldsNoxysMayAddLater) {
  std::string text = kGuideEvent;
  text.insert(1, R"("tenant":"acme","extra":{"a":[1,2]},)");
  NoxysEvent ev;
  std::string err;
  EXPECT_TRUE(ParseNoxysEvent(text, &ev, &err)) << err;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  s.replace(pos, from.size(), to);
  return s;
}

struct BadCase {
  std::string from, to, message;
};

TEST(NoxysEvent, EachBrokenFieldIsNamedWithWhatWasExpected) {
  const std::vector<BadCase> cases = {
      {R"("action":"BLOCK")", R"("action":"DENY")",
       R"(field policy_decisions.action: expected one of BLOCK, COACH, ALLOW, got "DENY")"},
      {R"("risk_score":0.95)", R"("risk_score":1.5)", "field risk_score: expected a number in [0, 1], got 1.5"},
      {R"("risk_score":0.95)", R"("risk_score":-0.1)", "field risk_score: expected a number in [0, 1], got -0.1"},
      {R"("risk_score":0.95)", R"("risk_score":"high")", "field risk_score: expected a number, got a string"},
      {R"("event_id":"evt_abc123def456",)", "", "field event_id: missing"},
      {R"("event_id":"evt_abc123def456")", R"("event_id":"")", "field event_id: must not be empty"},
      {R"("event_id":"evt_abc123def456")", R"("event_id":42)", "field event_id: expected a string, got a number"},
      {R"("timestamp":"2026-03-20T14:32:00Z")", R"("timestamp":"yesterday")",
       R"(field timestamp: expected an RFC 3339 time such as 2026-03-20T14:32:00Z, got "yesterday")"},
      {R"("timestamp":"2026-03-20T14:32:00Z")", R"("timestamp":"2026-02-30T14:32:00Z")",
       "field timestamp: expected an RFC 3339 time"},
      {R"("user_email":"alice@acme.fr")", R"("user_email":"alice")",
       R"(field user_email: expected an e-mail address, got "alice")"},
      {R"("platform_id":"chatgpt",)", "", "field platform_id: missing"},
      {R"("confidence":0.98)", R"("confidence":2)",
       "field classifications[0].confidence: expected a number in [0, 1], got 2"},
      {R"({"type":"EMAIL",)", R"({)", "field classifications[0].type: missing"},
      {R"("classifications":[)", R"("classifications":[7,)", "field classifications[0]: expected an object, got a number"},
      {R"("policy_decisions":{)", R"("policy_decisions":null,"x":{)", "field policy_decisions: expected an object, got null"},
  };
  for (const auto& c : cases) {
    NoxysEvent ev;
    std::string err;
    EXPECT_FALSE(ParseNoxysEvent(Replace(kGuideEvent, c.from, c.to), &ev, &err)) << c.to;
    EXPECT_EQ(err.rfind(c.message, 0), 0u) << "got: " << err << "\nwant prefix: " << c.message;
  }
}

TEST(NoxysEvent, NotJsonOrNotAnObject) {
  NoxysEvent ev;
  std::string err;
  EXPECT_FALSE(ParseNoxysEvent("{\"event_id\":", &ev, &err));
  EXPECT_EQ(err.rfind("not valid JSON", 0), 0u) << err;
  EXPECT_FALSE(ParseNoxysEvent("[1,2]", &ev, &err));
  EXPECT_EQ(err, "expected a JSON object, got an array");
  EXPECT_FALSE(ParseNoxysEvent("", &ev, &err));
}

TEST(FindDuplicateKey, FindsAKeyGivenTwiceInOneObjectAtAnyDepth) {
  std::string key;
  EXPECT_FALSE(FindDuplicateKey(R"({"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]})", &key));  // each object once
  EXPECT_TRUE(FindDuplicateKey(R"({"a":1,"b":2,"a":3})", &key));
  EXPECT_EQ(key, "a");
  EXPECT_TRUE(FindDuplicateKey(R"({"x":{"p":1,"q":[1,{"r":2}],"p":2}})", &key));
  EXPECT_EQ(key, "p");
  EXPECT_TRUE(FindDuplicateKey(R"({"c":[{"t":1},{"t":2,"t":3}]})", &key));
  EXPECT_EQ(key, "t");
  // Written with an escape, the same key: JSON readers unescape before they compare.
  EXPECT_TRUE(FindDuplicateKey(R"({"event_id":"e1","\u0065vent_id":"e2"})", &key));
  EXPECT_EQ(key, "event_id");
  // Values that look like keys, quotes and braces inside strings, are values.
  EXPECT_FALSE(FindDuplicateKey(R"({"a":"a","b":"\"a\":{","c":["a","a"],"d":"}"})", &key));
  EXPECT_FALSE(FindDuplicateKey(R"({"a\"":1,"a":2})", &key));
  EXPECT_FALSE(FindDuplicateKey(R"([1,2,{"k":1}])", &key));
  EXPECT_FALSE(FindDuplicateKey("", &key));
}

TEST(NoxysEvent, AcceptsAllThreeActionsAndBoundaryRisks) {
  for (auto [action, want] : {std::pair{"COACH", PolicyAction::kCoach}, {"ALLOW", PolicyAction::kAllow}}) {
    NoxysEvent ev;
    std::string err;
    ASSERT_TRUE(ParseNoxysEvent(Replace(kGuideEvent, "\"BLOCK\"", std::string("\"") + action + "\""), &ev, &err)) << err;
    EXPECT_EQ(ev.action, want);
  }
  for (const char* risk : {"0", "1", "0.0", "1.0"}) {
    NoxysEvent ev;
    std::string err;
    EXPECT_TRUE(ParseNoxysEvent(Replace(kGuideEvent, "0.95", risk), &ev, &err)) << risk << ": " << err;
  }
}

}  // namespace
}  // namespace noxsync
