#include "sync/ticket_template.h"

#include <gtest/gtest.h>

#include "sync/sync_config.h"

namespace noxsync {
namespace {

NoxysEvent GuideEvent() {
  NoxysEvent e;
  std::string error;
  EXPECT_TRUE(ParseNoxysEvent(
      R"({"event_id":"evt_abc123def456","timestamp":"2026-03-20T14:32:00Z","platform_id":"chatgpt","platform_name":"ChatGPT","user_email":"alice@acme.fr","risk_score":0.95,"classifications":[{"type":"EMAIL","value":"alice@acme.fr","confidence":0.98}],"policy_decisions":{"action":"BLOCK","policy_id":"pol_block_pii","policy_name":"Block PII on ChatGPT"}})",
      &e, &error))
      << error;
  return e;
}

TEST(TicketTemplate, RendersFieldsPathsAndDerivedPlaceholders) {
  TicketTemplate t;
  std::string error;
  ASSERT_TRUE(TicketTemplate::Parse("{action}: {platform_id} - {classification_type} ({risk_pct}%, {priority}, "
                                    "{policy_decisions.policy_name}, {incident_id}) {{literal}}",
                                    &t, &error))
      << error;
  NoxysEvent e = GuideEvent();
  EXPECT_EQ(t.Render({&e, "inc_00000001", Severity::kCritical}),
            "BLOCK: chatgpt - EMAIL (95%, Critical, Block PII on ChatGPT, inc_00000001) {literal}");
}

TEST(TicketTemplate, UnknownPlaceholdersAreErrorsNotBlanks) {
  TicketTemplate t;
  std::string error;
  EXPECT_FALSE(TicketTemplate::Parse("{platfrom_id}", &t, &error));
  EXPECT_NE(error.find("unknown placeholder {platfrom_id}; known: event_id"), std::string::npos) << error;
  EXPECT_FALSE(TicketTemplate::Parse("{action", &t, &error));
  EXPECT_FALSE(TicketTemplate::Parse("a } b", &t, &error));
}

TEST(SyncConfig, TheGuidesRulesDecide) {
  SyncConfig c = SyncConfig::Defaults();
  NoxysEvent e = GuideEvent();  // BLOCK, 0.95, EMAIL
  RuleOutcome o = c.Decide(e, {"jira", "servicenow"});
  ASSERT_TRUE(o.matched);
  EXPECT_EQ(o.rule, "critical-risk");  // Critical beats the first rule's High
  EXPECT_EQ(o.priority, Severity::kCritical);
  EXPECT_EQ(o.assignment_group, "CISO");
  EXPECT_EQ(o.backends, (std::vector<std::string>{"jira", "servicenow"}));
  e.risk_score = 0.85;
  o = c.Decide(e, {"jira"});
  EXPECT_EQ(o.rule, "block-high-risk");
  EXPECT_EQ(o.priority, Severity::kHigh);
  e.action = PolicyAction::kCoach;
  e.risk_score = 0.3;
  EXPECT_FALSE(c.Decide(e, {"jira"}).matched);
  e.classifications = {{"IBAN", "FR76...", 0.9}};
  o = c.Decide(e, {"jira"});
  EXPECT_EQ(o.rule, "financial-data");
  EXPECT_EQ(o.priority, Severity::kCritical);
}

TEST(SyncConfig, TiesGoToTheEarlierRuleAndRisksPickTheirLevel) {
  SyncConfig c = SyncConfig::Defaults();
  EXPECT_EQ(c.PriorityForRisk(950000), Severity::kCritical);
  EXPECT_EQ(c.PriorityForRisk(899999), Severity::kHigh);
  EXPECT_EQ(c.PriorityForRisk(500000), Severity::kMedium);
  EXPECT_EQ(c.PriorityForRisk(0), Severity::kLow);
  Rule a, b;
  a.name = "a";
  a.priority = Severity::kHigh;
  b.name = "b";
  b.priority = Severity::kHigh;
  b.user = "*@acme.fr";
  c.rules = {a, b};
  NoxysEvent e = GuideEvent();
  e.risk_score = 0.1;
  EXPECT_EQ(c.Decide(e, {"jira"}).rule, "a");
}

}  // namespace
}  // namespace noxsync
