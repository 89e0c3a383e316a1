#include "adapters/servicenow/servicenow_backend.h"

#include <gtest/gtest.h>

#include "adapters/http/http_client.h"
#include "sync/change_cursor.h"
#include "sync/timestamp.h"
#include "tests/fakes/fake_servicenow.h"
#include "tests/fakes/test_support.h"

namespace noxsync::servicenow {
namespace {

using fakes::FakeFault;
using fakes::FakeServiceNow;
using fakes::FakeServiceNowOptions;
using testing::LogCapture;
using testing::RecordingSleeper;

int64_t At(const char* rfc3339) {
  int64_t us = 0;
  EXPECT_TRUE(ParseTimestamp(rfc3339, &us)) << rfc3339;
  return us;
}

NewTicket SampleTicket(const std::string& incident = "inc_00000001") {
  NewTicket t;
  t.incident_id = incident;
  t.summary = "[Noxys] BLOCK on ChatGPT: IBAN by alice@acme.example";
  t.description = "Alice pasted an IBAN into ChatGPT.";
  t.facts = {{"Platform", "ChatGPT"}, {"Risk", "95%"}};
  t.classifications = {"IBAN (0.97)"};
  t.classification_types = {"IBAN"};
  t.event_id = "evt_9f2c";
  t.platform = "ChatGPT";
  t.risk_ppm = 950000;
  t.severity = Severity::kCritical;
  return t;
}

class ServiceNowBackendTest : public ::testing::Test {
 protected:
  ServiceNowBackendTest() { Start({}); }

  void Start(const FakeServiceNowOptions& o) {
    server_.reset();
    fake_ = std::make_unique<FakeServiceNow>(clock_, o);
    server_ = std::make_unique<fakes::FakeHttpServer>();
    std::string error;
    ASSERT_TRUE(server_->Start(0, [this](const fakes::FakeRequest& r) { return fake_->Handle(r); }, &error)) << error;
  }

  ServiceNowConfig Config(AuthKind auth = AuthKind::kBasic) {
    ServiceNowConfig c;
    c.instance_url = server_->base_url();
    c.auth = auth;
    c.username = auth == AuthKind::kOAuthClientCredentials ? "" : fake_->options().username;
    c.password = Secret(fake_->options().password);
    if (auth != AuthKind::kBasic) {
      c.client_id = fake_->options().client_id;
      c.client_secret = Secret(fake_->options().client_secret);
    }
    c.assignment_group = "SOC";
    c.http.name = "servicenow";
    c.http.proxy = http::ProxyOptions{};
    c.http.request_timeout_us = 2'000'000;
    c.http.jitter_seed = 3;
    return c;
  }

  std::unique_ptr<Backend> Make(ServiceNowConfig c) {
    auto b = MakeServiceNowBackend(std::move(c), clock_, sleeper_);
    EXPECT_TRUE(b.ok()) << b.status().message();
    return std::move(b).value();
  }
  std::unique_ptr<Backend> Make() { return Make(Config()); }

  int CountRequests(const std::string& method, const std::string& path_prefix) {
    int n = 0;
    for (const auto& r : fake_->requests()) n += r.method == method && r.path.rfind(path_prefix, 0) == 0;
    return n;
  }

  ManualClock clock_{At("2026-11-29T08:00:00Z")};
  RecordingSleeper sleeper_{&clock_};
  std::unique_ptr<FakeServiceNow> fake_;
  std::unique_ptr<fakes::FakeHttpServer> server_;  // stops before fake_ goes
};

// --- test connection ------------------------------------------------------

TEST_F(ServiceNowBackendTest, TestConnectionReportsUserAndTable) {
  auto report = Make()->TestConnection();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->user, "svc_noxsync");
  EXPECT_EQ(report->summary, "table incident");
  EXPECT_TRUE(report->warnings.empty());
}

TEST_F(ServiceNowBackendTest, TestConnectionNamesBadCredentialsWithoutEchoingThem) {
  LogCapture log;
  ServiceNowConfig c = Config();
  c.password = Secret("wrong-password-XYZ");
  auto report = Make(c)->TestConnection();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Status::Code::kUnauthenticated);
  EXPECT_NE(report.status().message().find("ServiceNow rejected the credentials of svc_noxsync (HTTP 401)"),
            std::string::npos)
      << report.status().message();
  EXPECT_NE(report.status().message().find("User Not Authenticated"), std::string::npos);
  EXPECT_EQ((report.status().message() + log.text()).find("wrong-password-XYZ"), std::string::npos);
}

TEST_F(ServiceNowBackendTest, TestConnectionNamesAMissingTable) {
  ServiceNowConfig c = Config();
  c.table = "u_noxys_incident";
  auto report = Make(c)->TestConnection();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Status::Code::kNotFound);
  EXPECT_NE(report.status().message().find("ServiceNow has no table \"u_noxys_incident\""), std::string::npos)
      << report.status().message();
}

TEST_F(ServiceNowBackendTest, TestConnectionNamesAMissingRole) {
  FakeServiceNowOptions o;
  o.roles = {"snc_internal"};
  Start(o);
  auto report = Make()->TestConnection();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(report.status().message().find("svc_noxsync lacks the role itil, needed to create and update incident"),
            std::string::npos)
      << report.status().message();
}

TEST_F(ServiceNowBackendTest, TestConnectionWarnsWhenRolesCannotBeRead) {
  FakeServiceNowOptions o;
  o.roles_readable = false;
  Start(o);
  auto report = Make()->TestConnection();
  ASSERT_TRUE(report.ok()) << report.status().message();
  ASSERT_EQ(report->warnings.size(), 1u);
  EXPECT_NE(report->warnings[0].find("may not read sys_user_has_role"), std::string::npos);
}

// --- OAuth ----------------------------------------------------------------

TEST_F(ServiceNowBackendTest, OAuthPasswordGrantTokenIsReusedAndRefreshedBeforeExpiry) {
  auto sn = Make(Config(AuthKind::kOAuthPassword));
  ASSERT_TRUE(sn->TestConnection().ok());
  ASSERT_TRUE(sn->Create(SampleTicket()).ok());
  EXPECT_EQ(fake_->tokens_issued(), 1);
  // 30 minutes of validity; a refresh is due within the last 3 minutes.
  clock_.Advance(26 * 60'000'000LL);
  ASSERT_TRUE(sn->Get("INC0000001").ok());
  EXPECT_EQ(fake_->tokens_issued(), 1);
  clock_.Advance(2 * 60'000'000LL);
  ASSERT_TRUE(sn->Get("INC0000001").ok());
  EXPECT_EQ(fake_->tokens_issued(), 2);
  bool refreshed = false;
  for (const auto& r : fake_->requests()) {
    refreshed |= r.path == "/oauth_token.do" && r.body.find("grant_type=refresh_token") != std::string::npos;
  }
  EXPECT_TRUE(refreshed);
}

TEST_F(ServiceNowBackendTest, RevokedTokenIsReplacedOnceOnA401) {
  auto sn = Make(Config(AuthKind::kOAuthClientCredentials));
  ASSERT_TRUE(sn->Create(SampleTicket()).ok());
  fake_->ExpireTokens();
  auto t = sn->Get("INC0000001");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(fake_->tokens_issued(), 2);
}

TEST_F(ServiceNowBackendTest, BadOAuthClientIsNamed) {
  ServiceNowConfig c = Config(AuthKind::kOAuthClientCredentials);
  c.client_secret = Secret("not-the-secret-999");
  LogCapture log;
  auto report = Make(c)->TestConnection();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Status::Code::kUnauthenticated);
  EXPECT_NE(report.status().message().find("ServiceNow refused the OAuth token request of client fake-oauth-client "
                                           "(HTTP 401, server_error: access_denied)"),
            std::string::npos)
      << report.status().message();
  EXPECT_EQ((report.status().message() + log.text()).find("not-the-secret-999"), std::string::npos);
}

// --- create ---------------------------------------------------------------

TEST_F(ServiceNowBackendTest, CreateSetsCorrelationUrgencyImpactAndCustomColumnsButNotPriority) {
  auto sn = Make();
  NewTicket t = SampleTicket();
  t.extra_fields["u_noxys_event_id"] = "\"evt_9f2c\"";
  t.extra_fields["u_risk_score"] = "\"95\"";
  auto created = sn->Create(t);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(created->key, "INC0000001");
  EXPECT_EQ(created->id.size(), 32u);
  EXPECT_EQ(created->status, IncidentStatus::kOpen);
  EXPECT_EQ(created->raw_status, "1");
  EXPECT_EQ(created->incident_id, "inc_00000001");
  EXPECT_EQ(created->version, "0");
  EXPECT_EQ(created->priority, "1");  // computed by ServiceNow from 1 x 1
  EXPECT_EQ(created->url, server_->base_url() + "/incident.do?sys_id=" + created->id);
  auto rec = fake_->Record("INC0000001");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->fields.at("correlation_id"), "inc_00000001");
  EXPECT_EQ(rec->fields.at("correlation_display"), "Noxys");
  EXPECT_EQ(rec->fields.at("urgency"), "1");
  EXPECT_EQ(rec->fields.at("impact"), "1");
  EXPECT_EQ(rec->fields.at("category"), "security");
  EXPECT_EQ(rec->fields.at("assignment_group"), "SOC");
  EXPECT_EQ(rec->fields.at("u_noxys_event_id"), "evt_9f2c");
  EXPECT_NE(rec->fields.at("description").find("Noxys event: evt_9f2c"), std::string::npos);
  for (const auto& r : fake_->requests()) {
    if (r.method == "POST") {
      EXPECT_EQ(r.body.find("\"priority\""), std::string::npos) << r.body;
    }
  }
}

TEST_F(ServiceNowBackendTest, LowRiskEmailIsLowUrgencyMediumImpact) {
  NewTicket t = SampleTicket();
  t.risk_ppm = 300000;
  t.classification_types = {"EMAIL", "NAME"};
  ASSERT_TRUE(Make()->Create(t).ok());
  auto rec = fake_->Record("INC0000001");
  EXPECT_EQ(rec->fields.at("urgency"), "3");
  EXPECT_EQ(rec->fields.at("impact"), "2");
  EXPECT_EQ(rec->fields.at("priority"), "4");
}

TEST_F(ServiceNowBackendTest, SetPriorityWritesUrgencyAndImpactNeverPriority) {
  NewTicket t = SampleTicket();
  t.risk_ppm = 300000;
  t.classification_types = {"EMAIL"};
  auto sn = Make();
  auto created = sn->Create(t);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->priority, "4");  // 3 x 2
  auto raised = sn->SetPriority(created->key, Severity::kHigh);
  ASSERT_TRUE(raised.ok()) << raised.status().message();
  EXPECT_EQ(raised->priority, "2");  // 1 x 2
  auto rec = fake_->Record("INC0000001");
  EXPECT_EQ(rec->fields.at("urgency"), "1");
  EXPECT_EQ(rec->fields.at("impact"), "2");
  auto top = sn->SetPriority(created->id, Severity::kCritical);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->priority, "1");
  for (const auto& r : fake_->requests()) {
    if (r.method == "PATCH") {
      EXPECT_EQ(r.body.find("\"priority\""), std::string::npos) << r.body;
    }
  }
}

TEST_F(ServiceNowBackendTest, AColumnTheTableLacksIsWarnedOf) {
  LogCapture log;
  NewTicket t = SampleTicket();
  t.extra_fields["u_missing_column"] = "\"x\"";
  auto created = Make()->Create(t);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_NE(log.text().find("table incident has no column u_missing_column"), std::string::npos) << log.text();
}

TEST_F(ServiceNowBackendTest, CreateRefusesToWritePriorityOrState) {
  for (const char* field : {"priority", "state", "sys_id", "Bad-Name"}) {
    NewTicket t = SampleTicket();
    t.extra_fields[field] = "\"1\"";
    auto created = Make()->Create(t);
    ASSERT_FALSE(created.ok()) << field;
    EXPECT_EQ(created.status().code(), Status::Code::kInvalidArgument);
  }
  EXPECT_TRUE(fake_->Records().empty());
}

// --- find, get, search ----------------------------------------------------

TEST_F(ServiceNowBackendTest, FindByIncidentUsesTheCorrelationId) {
  auto sn = Make();
  ASSERT_TRUE(sn->Create(SampleTicket("inc_7")).ok());
  ASSERT_TRUE(sn->Create(SampleTicket("inc_8")).ok());
  auto found = sn->FindByIncident("inc_8");
  ASSERT_TRUE(found.ok()) << found.status().message();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->key, "INC0000002");
  auto none = sn->FindByIncident("inc_9");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(ServiceNowBackendTest, GetByNumberOrSysId) {
  auto sn = Make();
  auto created = sn->Create(SampleTicket());
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(sn->Get(created->id)->key, "INC0000001");
  EXPECT_EQ(sn->Get("INC0000001")->id, created->id);
  EXPECT_EQ(sn->Get("INC0000404").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(sn->Get(std::string(32, 'a')).status().code(), Status::Code::kNotFound);
}

TEST_F(ServiceNowBackendTest, ChangedSincePagesByTimeAndLosesNothingUpdatedMidway) {
  ServiceNowConfig c = Config();
  c.page_size = 4;
  auto sn = Make(c);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(sn->Create(SampleTicket("inc_" + std::to_string(i))).ok());
    if (i % 3 == 2) clock_.Advance(1'000'000);  // several records share a second
  }
  clock_.Advance(5'000'000);
  ChangeCursor cursor(At("2026-11-29T08:00:00Z"));
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = sn->ChangedSince(cursor.since_us(), token);
    ASSERT_TRUE(page.ok()) << page.status().message();
    for (const auto& t : page->tickets) {
      if (cursor.Accept(t)) seen.insert(t.key);
    }
    if (pages == 0) {
      // A person resolves the first record while we page: it moves to the end.
      std::string error;
      ASSERT_TRUE(fake_->SetState("INC0000001", "6", &error)) << error;
    }
    token = page->next_page;
    ++pages;
  } while (!token.empty() && pages < 20);
  cursor.Commit();
  EXPECT_EQ(seen.size(), 10u);
  // The query is the documented one, with the overlap (60 s before the cursor).
  bool saw = false;
  for (const auto& r : fake_->requests()) {
    saw |= r.query.find(http::UrlEncode("sys_updated_on>=2026-11-29 07:59:00^correlation_display=Noxys^"
                                        "ORDERBYsys_updated_on")) != std::string::npos;
  }
  EXPECT_TRUE(saw);
  // The resolved version came back once, with its new sys_mod_count.
  auto again = sn->ChangedSince(cursor.since_us(), "");
  ASSERT_TRUE(again.ok());
  int fresh = 0;
  for (const auto& t : again->tickets) fresh += cursor.Accept(t);
  EXPECT_EQ(fresh, 0);
}

TEST_F(ServiceNowBackendTest, TwoChangesInOneSecondAreTwoVersions) {
  auto sn = Make();
  ASSERT_TRUE(sn->Create(SampleTicket()).ok());
  clock_.Advance(10'000'000);
  ChangeCursor cursor(clock_.NowMicros());
  ASSERT_TRUE(fake_->Assign("INC0000001", "analyst"));
  auto first = sn->ChangedSince(cursor.since_us(), "");
  ASSERT_EQ(first->tickets.size(), 1u);
  EXPECT_TRUE(cursor.Accept(first->tickets[0]));
  cursor.Commit();
  std::string error;
  ASSERT_TRUE(fake_->SetState("INC0000001", "2", &error));  // same second, next sys_mod_count
  auto second = sn->ChangedSince(cursor.since_us(), "");
  ASSERT_EQ(second->tickets.size(), 1u);
  EXPECT_TRUE(cursor.Accept(second->tickets[0]));
  EXPECT_EQ(second->tickets[0].status, IncidentStatus::kInProgress);
}

// --- move and comment -----------------------------------------------------

TEST_F(ServiceNowBackendTest, ResolvingSendsCloseCodeAndNotes) {
  auto sn = Make();
  auto created = sn->Create(SampleTicket());
  ASSERT_TRUE(created.ok());
  auto wip = sn->MoveTo(created->id, IncidentStatus::kInProgress);
  ASSERT_TRUE(wip.ok()) << wip.status().message();
  EXPECT_EQ(wip->raw_status, "2");
  auto resolved = sn->MoveTo(created->key, IncidentStatus::kResolved);
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(resolved->raw_status, "6");
  EXPECT_EQ(resolved->status, IncidentStatus::kResolved);
  auto rec = fake_->Record("INC0000001");
  EXPECT_EQ(rec->fields.at("close_code"), "Resolved by caller");
  EXPECT_EQ(rec->fields.at("close_notes"), "Resolved in Noxys by noxsync.");
  fake_->ClearRequests();
  ASSERT_TRUE(sn->MoveTo(created->id, IncidentStatus::kResolved).ok());
  EXPECT_EQ(CountRequests("PATCH", "/api/now/table/incident"), 0);  // already there
}

TEST_F(ServiceNowBackendTest, DataPolicyRefusalIsExplained) {
  ServiceNowConfig c = Config();
  c.close_code = "";
  auto sn = Make(c);
  auto created = sn->Create(SampleTicket());
  auto resolved = sn->MoveTo(created->id, IncidentStatus::kResolved);
  ASSERT_FALSE(resolved.ok());
  EXPECT_NE(resolved.status().message().find("Resolution code is mandatory"), std::string::npos)
      << resolved.status().message();
  EXPECT_NE(resolved.status().message().find("close_code"), std::string::npos);
}

TEST_F(ServiceNowBackendTest, PeoplesStatesMapBack) {
  auto sn = Make();
  ASSERT_TRUE(sn->Create(SampleTicket()).ok());
  std::string error;
  for (auto [state, want] : std::vector<std::pair<std::string, IncidentStatus>>{
           {"3", IncidentStatus::kInProgress}, {"7", IncidentStatus::kClosed}, {"8", IncidentStatus::kClosed},
           {"1", IncidentStatus::kOpen}}) {
    ASSERT_TRUE(fake_->SetState("INC0000001", state, &error)) << error;
    EXPECT_EQ(sn->Get("INC0000001")->status, want) << state;
  }
}

TEST_F(ServiceNowBackendTest, CommentsAreWorkNotes) {
  auto sn = Make();
  auto created = sn->Create(SampleTicket());
  ASSERT_TRUE(sn->AddComment(created->key, Comment{"SLA breached; escalated."}).ok());
  EXPECT_EQ(fake_->Record("INC0000001")->work_notes, (std::vector<std::string>{"SLA breached; escalated."}));
}

TEST_F(ServiceNowBackendTest, AShortDescriptionIsOneLineWhateverLineBreaksTheEventHeld) {
  NewTicket t = SampleTicket();
  t.summary = "one\r\nline\rtwo\nthree";
  auto created = Make()->Create(t);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(fake_->Record(created->key)->fields.at("short_description"), "one  line two three");
}

// A user's prompt becomes a classification's value, and ServiceNow shows
// what a journal field holds between [code] tags as HTML by default: no
// text noxsync writes may carry the tags.
TEST_F(ServiceNowBackendTest, CodeTagsFromEventsAreBrokenInEveryFieldWritten) {
  EXPECT_EQ(BreakCodeTags("a [code]<img src=x>[/code] b [CoDe]x[/CODE]"), "a (code)<img src=x>(/code) b (CoDe)x(/CODE)");
  EXPECT_EQ(BreakCodeTags("[cod] [code [/cod] [ code] [//code] [code"), "[cod] [code [/cod] [ code] [//code] [code");
  EXPECT_EQ(BreakCodeTags("[[code]]"), "[(code)]");
  auto sn = Make();
  NewTicket t = SampleTicket();
  t.summary = "[Noxys] [code]<b>x</b>[/code]";
  t.classifications = {"NAME ([code]<iframe src=//evil>[/code])"};
  t.extra_fields["comments"] = "\"[code]<a href=//evil>click</a>[/code]\"";
  auto created = sn->Create(t);
  ASSERT_TRUE(created.ok()) << created.status().message();
  ASSERT_TRUE(sn->AddComment(created->key, Comment{"latest evt_[code]<b>[/code]"}).ok());
  auto rec = fake_->Record(created->key);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->fields.at("short_description"), "[Noxys] (code)<b>x</b>(/code)");
  EXPECT_NE(rec->fields.at("description").find("- NAME ((code)<iframe src=//evil>(/code))"), std::string::npos);
  EXPECT_EQ(rec->comments, (std::vector<std::string>{"(code)<a href=//evil>click</a>(/code)"}));
  EXPECT_EQ(rec->work_notes, (std::vector<std::string>{"latest evt_(code)<b>(/code)"}));
  for (const auto& r : fake_->requests()) {
    EXPECT_EQ(r.body.find("[code]"), std::string::npos) << r.body;
  }
}

// --- failures -------------------------------------------------------------

TEST_F(ServiceNowBackendTest, RateLimitedCreateWaitsForRetryAfter) {
  fake_->InjectFault(FakeFault{"POST /api/now/table/incident", 429, "3", 0, fakes::Fault::kNone, false, 1});
  auto created = Make()->Create(SampleTicket());
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(sleeper_.sleeps(), (std::vector<int64_t>{3'000'000}));
  EXPECT_EQ(fake_->Records().size(), 1u);
}

TEST_F(ServiceNowBackendTest, ServerErrorsAndMalformedRepliesAreUnavailable) {
  auto sn = Make();
  fake_->InjectFault(FakeFault{"POST /api/now/table/incident", 500, "", 0, fakes::Fault::kNone, false, 1});
  auto failed = sn->Create(SampleTicket());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(failed.status().message().find("HTTP 500 after 1 attempt(s): Internal server error"), std::string::npos)
      << failed.status().message();
  fake_->InjectFault(FakeFault{"GET /api/now/table/incident", 0, "", 0, fakes::Fault::kNone, true, 1});
  auto malformed = sn->FindByIncident("inc_1");
  ASSERT_FALSE(malformed.ok());
  EXPECT_NE(malformed.status().message().find("not valid JSON"), std::string::npos);
  fake_->InjectFault(FakeFault{"GET /api/now/table/incident", 0, "", 0, fakes::Fault::kReset, false, 1});
  EXPECT_TRUE(sn->FindByIncident("inc_1").ok());  // a GET is retried after a reset
}

TEST_F(ServiceNowBackendTest, FakeRefusesQueriesOutsideTheSubset) {
  http::ClientOptions o;
  o.proxy = http::ProxyOptions{};
  auto client = std::move(http::HttpClient::Create(o, clock_, sleeper_)).value();
  http::Request r;
  r.url = server_->base_url() + "/api/now/table/incident?sysparm_query=" + http::UrlEncode("short_descriptionLIKEx");
  r.headers.push_back({"Authorization", http::BasicAuth("svc_noxsync", Secret(fake_->options().password))});
  auto out = client->Send(r);
  EXPECT_EQ(out.response.status, 400);
  EXPECT_NE(out.response.body.find(R"("status":"failure")"), std::string::npos);
}

TEST_F(ServiceNowBackendTest, NoSecretInAnyLogLineOrError) {
  LogCapture log;
  auto sn = Make(Config(AuthKind::kOAuthPassword));
  fake_->InjectFault(FakeFault{"POST /oauth_token.do", 503, "1", 0, fakes::Fault::kNone, false, 1});
  ASSERT_TRUE(sn->TestConnection().ok());
  fake_->InjectFault(FakeFault{"POST /api/now/table/incident", 500, "", 0, fakes::Fault::kNone, false, 1});
  auto failed = sn->Create(SampleTicket());
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(log.text().find("retrying"), std::string::npos);
  for (const std::string& secret : {fake_->options().password, fake_->options().client_secret,
                                    std::string("fake-access-1"), std::string("fake-refresh-1")}) {
    EXPECT_EQ(log.text().find(secret), std::string::npos) << secret;
    EXPECT_EQ(failed.status().message().find(secret), std::string::npos) << secret;
  }
}

// --- helpers --------------------------------------------------------------

TEST(ServiceNowHelpers, PriorityMatrixIsTheOutOfBoxLookup) {
  int expected[3][3] = {{1, 2, 3}, {2, 3, 4}, {3, 4, 5}};
  for (int u = 1; u <= 3; ++u) {
    for (int i = 1; i <= 3; ++i) EXPECT_EQ(PriorityFor(u, i), expected[u - 1][i - 1]) << u << "x" << i;
  }
}

TEST(ServiceNowHelpers, UrgencyAndImpact) {
  ServiceNowConfig c;
  EXPECT_EQ(UrgencyFor(c, 900000), 1);
  EXPECT_EQ(UrgencyFor(c, 899999), 2);
  EXPECT_EQ(UrgencyFor(c, 500000), 2);
  EXPECT_EQ(UrgencyFor(c, 100000), 3);
  EXPECT_EQ(ImpactFor(c, {"EMAIL", "IBAN"}), 1);
  EXPECT_EQ(ImpactFor(c, {"EMAIL"}), 2);
  EXPECT_EQ(ImpactFor(c, {"UNKNOWN_TYPE"}), 3);
  EXPECT_EQ(ImpactFor(c, {}), 3);
}

TEST(ServiceNowHelpers, Times) {
  int64_t us = 0;
  ASSERT_TRUE(ParseServiceNowTime("2026-11-29 07:58:00", &us));
  EXPECT_EQ(us, At("2026-11-29T07:58:00Z"));
  EXPECT_EQ(FormatServiceNowTime(us + 999'999), "2026-11-29 07:58:00");
  EXPECT_FALSE(ParseServiceNowTime("2026-11-29T07:58:00Z", &us));
}

}  // namespace
}  // namespace noxsync::servicenow
