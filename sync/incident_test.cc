#include "sync/incident.h"

#include <gtest/gtest.h>

namespace noxsync {
namespace {

NoxysEvent Event(std::vector<std::string> types) {
  NoxysEvent e;
  e.user_email = "alice@acme.fr";
  e.platform_id = "chatgpt";
  e.action = PolicyAction::kBlock;
  for (auto& t : types) e.classifications.push_back({t, "v", 0.9});
  return e;
}

TEST(Fingerprint, IsUserPlatformSortedUniqueTypesAndAction) {
  EXPECT_EQ(Fingerprint(Event({"IBAN", "EMAIL", "IBAN"})), "alice@acme.fr|chatgpt|EMAIL,IBAN|BLOCK");
  EXPECT_EQ(Fingerprint(Event({"EMAIL", "IBAN"})), Fingerprint(Event({"IBAN", "EMAIL"})));
  EXPECT_NE(Fingerprint(Event({"EMAIL"})), Fingerprint(Event({"EMAIL", "IBAN"})));
  NoxysEvent coach = Event({"EMAIL"});
  coach.action = PolicyAction::kCoach;
  EXPECT_NE(Fingerprint(coach), Fingerprint(Event({"EMAIL"})));
  FingerprintFields no_user;
  no_user.user = false;
  NoxysEvent bob = Event({"EMAIL"});
  bob.user_email = "bob@acme.fr";
  EXPECT_EQ(Fingerprint(bob, no_user), Fingerprint(Event({"EMAIL"}), no_user));
}

TEST(Severity, FollowsTheNoxysPriorityMap) {
  EXPECT_EQ(SeverityForRisk(1000000), Severity::kCritical);
  EXPECT_EQ(SeverityForRisk(900000), Severity::kCritical);
  EXPECT_EQ(SeverityForRisk(899999), Severity::kHigh);
  EXPECT_EQ(SeverityForRisk(700000), Severity::kHigh);
  EXPECT_EQ(SeverityForRisk(699999), Severity::kMedium);
  EXPECT_EQ(SeverityForRisk(500000), Severity::kMedium);
  EXPECT_EQ(SeverityForRisk(499999), Severity::kLow);
  EXPECT_EQ(SeverityForRisk(0), Severity::kLow);
}

TEST(IncidentStatus, ParsesWhatPeopleType) {
  IncidentStatus s;
  ASSERT_TRUE(ParseIncidentStatus("in-progress", &s));
  EXPECT_EQ(s, IncidentStatus::kInProgress);
  ASSERT_TRUE(ParseIncidentStatus("In Progress", &s));
  ASSERT_TRUE(ParseIncidentStatus("CLOSED", &s));
  EXPECT_EQ(s, IncidentStatus::kClosed);
  EXPECT_FALSE(ParseIncidentStatus("done", &s));
}

TEST(IncidentId, ReadsBackTheNumberOfItsOwnFormOnly) {
  uint64_t n = 0;
  ASSERT_TRUE(IncidentNumber(IncidentId(42), &n));
  EXPECT_EQ(n, 42u);
  ASSERT_TRUE(IncidentNumber("inc_123456789012", &n));
  EXPECT_EQ(n, 123456789012u);
  for (const char* other : {"inc_", "inc_12a", "INC0000012", "evt_00000042", "inc_-1", "inc_0000000000000000001"}) {
    EXPECT_FALSE(IncidentNumber(other, &n)) << other;
  }
}

TEST(Incident, JsonRoundTripIsExactAndDeterministic) {
  Incident inc;
  inc.id = IncidentId(42);
  EXPECT_EQ(inc.id, "inc_00000042");
  inc.status = IncidentStatus::kInProgress;
  inc.severity = Severity::kHigh;
  inc.fingerprint = "a|b|C|BLOCK";
  inc.user_email = "a@b.c";
  inc.platform_id = "claude";
  inc.platform_name = "Claude \"AI\"";
  inc.action = PolicyAction::kCoach;
  inc.classification_types = {"EMAIL", "IBAN"};
  inc.max_risk_ppm = 812345;
  inc.first_seen_us = -5;
  inc.last_seen_us = 1774017120000000;
  inc.occurrences = 7;
  inc.first_event_id = "evt_1";
  inc.last_event_id = "evt_7";
  inc.opened_at_us = 11;
  inc.updated_at_us = 12;
  std::string json = IncidentToJson(inc);
  Incident back;
  ASSERT_TRUE(IncidentFromJson(json, &back).ok());
  EXPECT_EQ(IncidentToJson(back), json);
  EXPECT_EQ(back.status, IncidentStatus::kInProgress);
  EXPECT_EQ(back.severity, Severity::kHigh);
  EXPECT_EQ(back.action, PolicyAction::kCoach);
  EXPECT_EQ(back.classification_types, inc.classification_types);
  EXPECT_EQ(back.max_risk_ppm, 812345);
  EXPECT_EQ(back.first_seen_us, -5);
  EXPECT_FALSE(IncidentFromJson("{\"id\":1}", &back).ok());
}

}  // namespace
}  // namespace noxsync

#include "sync/projector.h"

namespace noxsync {
namespace {

TEST(FingerprintLatest, RoundTripsAndRejectsMalformedRows) {
  FingerprintLatest f{"inc_00000042", -5, 1774017120000000, false};
  std::string text = EncodeFingerprintLatest(f);
  EXPECT_EQ(text, "inc_00000042 -5 1774017120000000 0");
  FingerprintLatest back;
  ASSERT_TRUE(DecodeFingerprintLatest(text, &back));
  EXPECT_EQ(back.incident, f.incident);
  EXPECT_EQ(back.first_seen_us, -5);
  EXPECT_EQ(back.last_seen_us, 1774017120000000);
  EXPECT_FALSE(back.active);
  for (const char* bad : {"", "inc_1", "inc_1 1 2", "inc_1 x 2 1", "inc_1 1 2 1 extra", "inc_1 1 2 10"}) {
    EXPECT_FALSE(DecodeFingerprintLatest(bad, &back)) << bad;
  }
}

}  // namespace
}  // namespace noxsync
