#include "adapters/jira/jira_backend.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "adapters/http/http_client.h"
#include "sync/change_cursor.h"
#include "sync/timestamp.h"
#include "tests/fakes/fake_jira.h"
#include "tests/fakes/test_support.h"

namespace noxsync::jira {
namespace {

namespace json = boost::json;
using fakes::FakeFault;
using fakes::FakeJira;
using fakes::FakeJiraOptions;
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
  t.summary = "[Noxys] BLOCK on ChatGPT: EMAIL, IBAN by alice@acme.example";
  t.description = "Alice pasted customer data into ChatGPT.\n\nThe policy blocked it.";
  t.facts = {{"Platform", "ChatGPT"}, {"User", "alice@acme.example"}, {"Risk", "92%"}};
  t.classifications = {"EMAIL (0.95)", "IBAN (0.88)"};
  t.event_id = "evt_9f2c";
  t.platform = "ChatGPT";
  t.severity = Severity::kCritical;
  return t;
}

class JiraBackendTest : public ::testing::Test {
 protected:
  explicit JiraBackendTest(int api_version = 3) {
    FakeJiraOptions o;
    o.api_version = api_version;
    Start(o);
  }

  void Start(const FakeJiraOptions& o) {
    server_.reset();
    fake_ = std::make_unique<FakeJira>(clock_, o);
    server_ = std::make_unique<fakes::FakeHttpServer>();
    std::string error;
    ASSERT_TRUE(server_->Start(0, [this](const fakes::FakeRequest& r) { return fake_->Handle(r); }, &error)) << error;
    fake_->set_base_url(server_->base_url());
  }

  JiraConfig Config() {
    JiraConfig c;
    c.base_url = server_->base_url();
    c.api_version = fake_->options().api_version;
    if (c.api_version == 3) {
      c.auth = AuthKind::kApiToken;
      c.user = fake_->options().me.email;
      c.secret = Secret(fake_->options().api_token);
    } else {
      c.auth = AuthKind::kAccessToken;
      c.secret = Secret(fake_->options().personal_access_token);
    }
    c.project = "SEC";
    c.issue_type = "Security";
    c.components = {"Noxys"};
    c.http.name = "jira";
    c.http.proxy = http::ProxyOptions{};
    c.http.request_timeout_us = 2'000'000;
    c.http.jitter_seed = 7;
    return c;
  }

  std::unique_ptr<Backend> Make(JiraConfig c) {
    auto b = MakeJiraBackend(std::move(c), clock_, sleeper_);
    EXPECT_TRUE(b.ok()) << b.status().message();
    return std::move(b).value();
  }
  std::unique_ptr<Backend> Make() { return Make(Config()); }

  ManualClock clock_{At("2026-11-29T08:00:00Z")};
  RecordingSleeper sleeper_{&clock_};
  std::unique_ptr<FakeJira> fake_;
  std::unique_ptr<fakes::FakeHttpServer> server_;  // stops before fake_ goes
};

class JiraV2Test : public JiraBackendTest {
 protected:
  JiraV2Test() : JiraBackendTest(2) {}
};

// --- test connection ------------------------------------------------------

TEST_F(JiraBackendTest, TestConnectionReportsUserProjectAndIssueType) {
  auto report = Make()->TestConnection();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->user, "noxsync@acme.example");
  EXPECT_EQ(report->summary, "project SEC, issue type Security");
  EXPECT_TRUE(report->warnings.empty());
}

TEST_F(JiraBackendTest, TestConnectionNamesBadCredentialsWithoutEchoingThem) {
  LogCapture log;
  JiraConfig c = Config();
  c.secret = Secret("wrong-token-XYZ");
  auto report = Make(c)->TestConnection();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Status::Code::kUnauthenticated);
  EXPECT_NE(report.status().message().find("Jira rejected the credentials of noxsync@acme.example (HTTP 401)"),
            std::string::npos)
      << report.status().message();
  EXPECT_EQ(report.status().message().find("wrong-token-XYZ"), std::string::npos);
  EXPECT_EQ(log.text().find("wrong-token-XYZ"), std::string::npos);
}

TEST_F(JiraBackendTest, TestConnectionNamesAMissingProject) {
  JiraConfig c = Config();
  c.project = "NOPE";
  auto report = Make(c)->TestConnection();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Status::Code::kNotFound);
  EXPECT_NE(report.status().message().find("Jira project NOPE not found"), std::string::npos);
}

TEST_F(JiraBackendTest, TestConnectionNamesAMissingIssueTypeAndListsTheProjects) {
  JiraConfig c = Config();
  c.issue_type = "Incident";
  auto report = Make(c)->TestConnection();
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("issue type \"Incident\" is not in Jira project SEC; the project has: "
                                           "Task, Security"),
            std::string::npos)
      << report.status().message();
}

TEST_F(JiraBackendTest, TestConnectionNamesAMissingPermission) {
  FakeJiraOptions o;
  o.permissions.erase("CREATE_ISSUES");
  Start(o);
  auto report = Make()->TestConnection();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(report.status().message().find("may not create issues in Jira project SEC (CREATE_ISSUES)"),
            std::string::npos)
      << report.status().message();
}

TEST_F(JiraBackendTest, TestConnectionWarnsOfAnUnknownPriority) {
  JiraConfig c = Config();
  c.priorities[Severity::kCritical] = "Blocker";
  auto report = Make(c)->TestConnection();
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->warnings.size(), 1u);
  EXPECT_NE(report->warnings[0].find("priority \"Blocker\" (for Critical)"), std::string::npos);
}

TEST_F(JiraBackendTest, TestConnectionNamesAnUnknownTimeZone) {
  FakeJiraOptions o;
  o.time_zone = "Mars/Olympus_Mons";
  Start(o);
  auto report = Make()->TestConnection();
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("has time zone \"Mars/Olympus_Mons\""), std::string::npos);
}

// --- create ---------------------------------------------------------------

TEST_F(JiraBackendTest, CreateSendsAdfLabelsPriorityAssigneeComponentsAndCustomFields) {
  auto jira = Make();
  NewTicket t = SampleTicket();
  t.assignee = "soc.lead@acme.example";
  t.extra_fields["customfield_10042"] = "\"0.92\"";
  auto created = jira->Create(t);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(created->key, "SEC-1");
  EXPECT_EQ(created->url, server_->base_url() + "/browse/SEC-1");
  EXPECT_EQ(created->raw_status, "To Do");
  EXPECT_EQ(created->status, IncidentStatus::kOpen);
  EXPECT_EQ(created->incident_id, "inc_00000001");
  EXPECT_EQ(created->priority, "Highest");
  EXPECT_EQ(created->updated_us, clock_.NowMicros() / 1000 * 1000);  // Jira keeps milliseconds

  auto issue = fake_->Issue("SEC-1");
  ASSERT_TRUE(issue.has_value());
  EXPECT_EQ(issue->labels, (std::vector<std::string>{"noxys", "chatgpt", "noxys-inc-inc_00000001"}));
  EXPECT_EQ(issue->priority, "Highest");
  EXPECT_EQ(issue->assignee, "712020:aa11");
  EXPECT_EQ(issue->components, (std::vector<std::string>{"Noxys"}));
  EXPECT_EQ(issue->custom.at("customfield_10042"), "9.2E-1");  // a number field gets a number
  json::value doc = json::parse(issue->description);
  EXPECT_EQ(doc.at("type"), "doc");
  std::string text = issue->description;
  EXPECT_NE(text.find(R"({"type":"text","text":"evt_9f2c","marks":[{"type":"code"}]})"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("type":"bulletList")"), std::string::npos);

  // The e-mail -> account id lookup is cached.
  ASSERT_TRUE(jira->Create(SampleTicket("inc_00000002")).ok());
  NewTicket again = SampleTicket("inc_00000003");
  again.assignee = "soc.lead@acme.example";
  ASSERT_TRUE(jira->Create(again).ok());
  int searches = 0;
  for (const auto& r : fake_->requests()) searches += r.path == "/rest/api/3/user/search";
  EXPECT_EQ(searches, 1);
}

TEST_F(JiraBackendTest, CustomFieldsAreMappedByNameAndTypedAsTheSiteDefinesThem) {
  auto jira = Make();
  NewTicket t = SampleTicket();
  t.extra_fields["Risk Score"] = "\"0.95\"";
  t.extra_fields["platform"] = "\"ChatGPT\"";                // names match without case
  t.extra_fields["Classifications"] = "\"EMAIL, IBAN\"";     // an array field
  t.extra_fields["Policy Action"] = "\"BLOCK\"";             // a select list
  t.extra_fields["Data Owner"] = "\"dpo@acme.example\"";     // not on this site: skipped
  auto created = jira->Create(t);
  ASSERT_TRUE(created.ok()) << created.status().message();
  auto issue = fake_->Issue(created->key);
  EXPECT_EQ(issue->custom.at("customfield_10042"), "9.5E-1");
  EXPECT_EQ(issue->custom.at("customfield_10043"), "\"ChatGPT\"");
  EXPECT_EQ(issue->custom.at("customfield_10045"), R"(["EMAIL","IBAN"])");
  EXPECT_EQ(issue->custom.at("customfield_10046"), R"({"value":"BLOCK"})");
  EXPECT_EQ(issue->custom.size(), 4u);
  // The field list is read once.
  ASSERT_TRUE(jira->Create(SampleTicket("inc_00000002")).ok());
  NewTicket again = SampleTicket("inc_00000003");
  again.extra_fields["Risk Score"] = "\"0.5\"";
  ASSERT_TRUE(jira->Create(again).ok());
  int lists = 0;
  for (const auto& r : fake_->requests()) lists += r.path == "/rest/api/3/field";
  EXPECT_EQ(lists, 1);
}

TEST_F(JiraBackendTest, ANumberFieldRefusesText) {
  NewTicket t = SampleTicket();
  t.extra_fields["Risk Score"] = "\"high\"";
  auto created = Make()->Create(t);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(created.status().message().find("\"Risk Score\" (customfield_10042) takes a number"), std::string::npos)
      << created.status().message();
  EXPECT_TRUE(fake_->Issues().empty());
}

TEST_F(JiraBackendTest, SetPriorityEditsTheIssue) {
  auto jira = Make();
  auto created = jira->Create(SampleTicket());
  ASSERT_TRUE(created.ok());
  auto raised = jira->SetPriority(created->key, Severity::kCritical);
  ASSERT_TRUE(raised.ok()) << raised.status().message();
  EXPECT_EQ(raised->priority, "Highest");
  auto low = jira->SetPriority(created->id, Severity::kLow);
  ASSERT_TRUE(low.ok()) << low.status().message();
  EXPECT_EQ(fake_->Issue(created->key)->priority, "Low");
}

TEST_F(JiraBackendTest, CreateRefusesFieldsThatAreNotCustomFields) {
  NewTicket t = SampleTicket();
  t.extra_fields["reporter"] = "\"x\"";
  auto created = Make()->Create(t);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(fake_->Issues().empty());
}

TEST_F(JiraBackendTest, CreateReportsJirasFieldErrors) {
  NewTicket t = SampleTicket();
  t.extra_fields["customfield_99999"] = "\"x\"";
  auto created = Make()->Create(t);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(created.status().message().find("HTTP 400): customfield_99999: Field 'customfield_99999' cannot be set"),
            std::string::npos)
      << created.status().message();
}

TEST_F(JiraBackendTest, CreateNamesAnUnknownAssignee) {
  NewTicket t = SampleTicket();
  t.assignee = "nobody@acme.example";
  auto created = Make()->Create(t);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.status().message().find("no Jira user with e-mail nobody@acme.example"), std::string::npos);
}

TEST_F(JiraBackendTest, ASummaryIsOneLineWhateverLineBreaksTheEventHeld) {
  NewTicket t = SampleTicket();
  t.summary = "BLOCK by a\r\nb\rc\nd";
  auto created = Make()->Create(t);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(fake_->Issue("SEC-1")->summary, "BLOCK by a  b c d");
}

TEST_F(JiraBackendTest, LongSummaryIsCutToJirasLimit) {
  NewTicket t = SampleTicket();
  t.summary = std::string(300, 'x') + "\nsecond line";
  auto created = Make()->Create(t);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(fake_->Issue("SEC-1")->summary.size(), 255u);
}

TEST_F(JiraV2Test, TestConnectionOnDataCenter) {
  auto report = Make()->TestConnection();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->summary, "project SEC, issue type Security");
  EXPECT_TRUE(report->warnings.empty());  // read from /rest/api/2/priority
  JiraConfig basic = Config();
  basic.auth = AuthKind::kPassword;
  basic.user = fake_->options().me.name;
  basic.secret = Secret(fake_->options().password);
  ASSERT_TRUE(Make(basic)->TestConnection().ok());
  basic.secret = Secret("wrong");
  EXPECT_EQ(Make(basic)->TestConnection().status().code(), Status::Code::kUnauthenticated);
}

TEST_F(JiraV2Test, DataCenterGetsWikiTextAUsernameAndABearerToken) {
  auto jira = Make();
  NewTicket t = SampleTicket();
  t.assignee = "analyst@acme.example";
  auto created = jira->Create(t);
  ASSERT_TRUE(created.ok()) << created.status().message();
  auto issue = fake_->Issue("SEC-1");
  EXPECT_EQ(issue->assignee, "analyst");
  EXPECT_NE(issue->description.find("h2. Noxys incident inc_00000001"), std::string::npos) << issue->description;
  EXPECT_NE(issue->description.find("{{evt_9f2c}}"), std::string::npos);
  ASSERT_TRUE(jira->AddComment("SEC-1", Comment{"SLA breached"}).ok());
  EXPECT_EQ(fake_->Issue("SEC-1")->comments.back().body, "SLA breached");
}

// --- the fake is as strict as Jira ---------------------------------------

class FakeJiraStrictness : public JiraBackendTest {
 protected:
  http::Outcome Send(const std::string& method, const std::string& path, const std::string& body = "") {
    http::ClientOptions o;
    o.proxy = http::ProxyOptions{};
    o.retry.max_attempts = 1;
    auto client = http::HttpClient::Create(o, clock_, sleeper_);
    http::Request r;
    r.method = method;
    r.url = server_->base_url() + path;
    r.body = body;
    r.headers.push_back({"Authorization", http::BasicAuth(fake_->options().me.email, Secret(fake_->options().api_token))});
    r.headers.push_back({"Content-Type", "application/json"});
    return client.value()->Send(r);
  }
};

TEST_F(FakeJiraStrictness, PlainStringDescriptionOnV3IsA400) {
  auto out = Send("POST", "/rest/api/3/issue",
                  R"({"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Task"},"summary":"s","description":"text"}})");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.response.status, 400);
  EXPECT_NE(out.response.body.find("Operation value must be an Atlassian Document"), std::string::npos);
}

TEST_F(FakeJiraStrictness, MalformedAdfIsA400) {
  auto out = Send("POST", "/rest/api/3/issue",
                  R"({"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Task"},"summary":"s",)"
                  R"("description":{"type":"doc","version":1,"content":[{"type":"text","text":"bare"}]}}})");
  EXPECT_EQ(out.response.status, 400);
}

TEST_F(FakeJiraStrictness, JqlOutsideTheSubsetIsA400InJirasShape) {
  for (const char* jql : {"project = SEC OR labels = noxys", "status = Done", "project = SEC AND updated >= \"29/11/2026\"",
                          "project = SEC ORDER BY priority"}) {
    auto out = Send("GET", "/rest/api/3/search/jql?jql=" + http::UrlEncode(jql) + "&fields=status");
    EXPECT_EQ(out.response.status, 400) << jql;
    json::value v = json::parse(out.response.body);
    EXPECT_TRUE(v.at("errorMessages").is_array()) << jql;
    EXPECT_TRUE(v.at("errors").is_object()) << jql;
  }
  auto removed = Send("GET", "/rest/api/3/search?jql=project%20%3D%20SEC");
  EXPECT_EQ(removed.response.status, 410);
}

// --- find, get, search ----------------------------------------------------

TEST_F(JiraBackendTest, FindByIncidentUsesTheIncidentLabel) {
  auto jira = Make();
  ASSERT_TRUE(jira->Create(SampleTicket("inc_00000007")).ok());
  ASSERT_TRUE(jira->Create(SampleTicket("inc_00000008")).ok());
  auto found = jira->FindByIncident("inc_00000008");
  ASSERT_TRUE(found.ok()) << found.status().message();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->key, "SEC-2");
  auto none = jira->FindByIncident("inc_00000009");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  bool saw_label_jql = false;
  for (const auto& r : fake_->requests()) {
    saw_label_jql |= r.query.find(http::UrlEncode("labels = \"noxys-inc-inc_00000008\"")) != std::string::npos;
  }
  EXPECT_TRUE(saw_label_jql);
}

TEST_F(JiraBackendTest, GetOfAnUnknownIssueIsNotFound) {
  auto t = Make()->Get("SEC-404");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Status::Code::kNotFound);
}

TEST_F(JiraBackendTest, ChangedSinceQueriesInTheUsersZoneWithOverlapAndPages) {
  JiraConfig c = Config();
  c.page_size = 40;
  auto jira = Make(c);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(jira->Create(SampleTicket("inc_" + std::to_string(i))).ok());
    clock_.Advance(1'000'000);
  }
  // 08:00:00Z + 50 s: the cursor. Paris is UTC+1 in November; the overlap is
  // two minutes, so JQL asks from 08:58 local.
  int64_t since = At("2026-11-29T08:00:50Z");
  std::vector<Ticket> got;
  std::string token;
  int pages = 0;
  do {
    auto page = jira->ChangedSince(since, token);
    ASSERT_TRUE(page.ok()) << page.status().message();
    got.insert(got.end(), page->tickets.begin(), page->tickets.end());
    token = page->next_page;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(got.size(), 50u);
  EXPECT_EQ(got.front().incident_id, "inc_50");
  EXPECT_EQ(got.back().incident_id, "inc_99");
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LE(got[i - 1].updated_us, got[i].updated_us);
  std::string jql = "project = SEC AND labels = noxys AND updated >= \"2026-11-29 08:58\" ORDER BY updated ASC";
  bool saw = false;
  for (const auto& r : fake_->requests()) saw |= r.query.find(http::UrlEncode(jql)) != std::string::npos;
  EXPECT_TRUE(saw) << "expected the JQL: " << jql;
}

TEST_F(JiraBackendTest, PeopleChangesComeBackOnceThroughAChangeCursor) {
  auto jira = Make();
  ASSERT_TRUE(jira->Create(SampleTicket("inc_1")).ok());
  ASSERT_TRUE(jira->Create(SampleTicket("inc_2")).ok());
  clock_.Advance(1'000'000);
  ChangeCursor cursor(clock_.NowMicros());  // after both were created
  clock_.Advance(30'000'000);
  std::string error;
  ASSERT_TRUE(fake_->Move("SEC-2", "Done", &error)) << error;
  auto poll = [&] {
    std::vector<Ticket> fresh;
    auto page = jira->ChangedSince(cursor.since_us(), "");
    EXPECT_TRUE(page.ok()) << page.status().message();
    for (const auto& t : page->tickets) {
      if (cursor.Accept(t)) fresh.push_back(t);
    }
    cursor.Commit();
    return fresh;
  };
  auto first = poll();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].key, "SEC-2");
  EXPECT_EQ(first[0].status, IncidentStatus::kResolved);
  EXPECT_EQ(first[0].raw_status, "Done");
  EXPECT_TRUE(poll().empty());  // the overlap brings it back; the cursor drops it
  clock_.Advance(1'000'000);
  ASSERT_TRUE(fake_->SetPriority("SEC-2", "Low"));
  auto third = poll();
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].priority, "Low");
}

TEST_F(JiraV2Test, ChangedSinceOnDataCenterPagesWithStartAt) {
  JiraConfig c = Config();
  c.page_size = 3;
  auto jira = Make(c);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(jira->Create(SampleTicket("inc_" + std::to_string(i))).ok());
  std::vector<std::string> tokens;
  size_t total = 0;
  std::string token;
  do {
    auto page = jira->ChangedSince(0, token);
    ASSERT_TRUE(page.ok()) << page.status().message();
    total += page->tickets.size();
    token = page->next_page;
    tokens.push_back(token);
  } while (!token.empty());
  EXPECT_EQ(total, 7u);
  EXPECT_EQ(tokens, (std::vector<std::string>{"3", "6", ""}));
}

// --- transitions ----------------------------------------------------------

TEST_F(JiraBackendTest, MoveToFollowsTheWorkflowAndFillsTheResolution) {
  auto jira = Make();
  ASSERT_TRUE(jira->Create(SampleTicket()).ok());
  auto wip = jira->MoveTo("SEC-1", IncidentStatus::kInProgress);
  ASSERT_TRUE(wip.ok()) << wip.status().message();
  EXPECT_EQ(wip->raw_status, "In Progress");
  auto done = jira->MoveTo("SEC-1", IncidentStatus::kResolved);
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(done->raw_status, "Done");
  EXPECT_EQ(fake_->Issue("SEC-1")->resolution, "Done");
  // Closed shares Jira's one "done" status: nothing to do, nothing sent.
  fake_->ClearRequests();
  auto closed = jira->MoveTo("SEC-1", IncidentStatus::kClosed);
  ASSERT_TRUE(closed.ok()) << closed.status().message();
  for (const auto& r : fake_->requests()) EXPECT_NE(r.method, "POST");
  auto reopened = jira->MoveTo("SEC-1", IncidentStatus::kOpen);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->raw_status, "To Do");
  EXPECT_EQ(fake_->Issue("SEC-1")->resolution, "");
}

TEST_F(JiraBackendTest, MoveToNamesTheOfferedTransitionsWhenNoneFits) {
  JiraConfig c = Config();
  c.statuses[IncidentStatus::kResolved] = "Resolved";  // not in this workflow
  auto jira = Make(c);
  ASSERT_TRUE(jira->Create(SampleTicket()).ok());
  auto moved = jira->MoveTo("SEC-1", IncidentStatus::kResolved);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(moved.status().message().find("Jira issue SEC-1 (now \"To Do\") cannot move to Resolved: no transition "
                                          "leads to status \"Resolved\"; transitions offered: \"In Progress\" -> In "
                                          "Progress, \"Done\" -> Done"),
            std::string::npos)
      << moved.status().message();
}

TEST_F(JiraBackendTest, MoveToNamesTheOfferedResolutions) {
  JiraConfig c = Config();
  c.resolution = "Fixed";
  auto jira = Make(c);
  ASSERT_TRUE(jira->Create(SampleTicket()).ok());
  auto moved = jira->MoveTo("SEC-1", IncidentStatus::kResolved);
  ASSERT_FALSE(moved.ok());
  EXPECT_NE(moved.status().message().find("resolution \"Fixed\" is not offered by transition \"Done\" of SEC-1 "
                                          "(offered: Done, Won't Do, Duplicate)"),
            std::string::npos)
      << moved.status().message();
}

TEST_F(JiraBackendTest, MoveToByConfiguredStatusName) {
  JiraConfig c = Config();
  c.statuses[IncidentStatus::kInProgress] = "in progress";  // names compare without case
  auto jira = Make(c);
  ASSERT_TRUE(jira->Create(SampleTicket()).ok());
  auto moved = jira->MoveTo("SEC-1", IncidentStatus::kInProgress);
  ASSERT_TRUE(moved.ok()) << moved.status().message();
  EXPECT_EQ(moved->status, IncidentStatus::kInProgress);
}

TEST_F(JiraBackendTest, CommentsAreAdf) {
  auto jira = Make();
  ASSERT_TRUE(jira->Create(SampleTicket()).ok());
  ASSERT_TRUE(jira->AddComment("SEC-1", Comment{"SLA breached at 09:00.\n\nEscalated to the SOC lead."}).ok());
  std::string body = fake_->Issue("SEC-1")->comments.back().body;
  EXPECT_EQ(body,
            R"({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"SLA breached at 09:00."}]},)"
            R"({"type":"paragraph","content":[{"type":"text","text":"Escalated to the SOC lead."}]}]})");
  EXPECT_EQ(jira->AddComment("SEC-9", Comment{"x"}).code(), Status::Code::kNotFound);
}

// --- failures -------------------------------------------------------------

TEST_F(JiraBackendTest, RateLimitedCreateWaitsForRetryAfterAndSucceedsOnce) {
  fake_->InjectFault(FakeFault{"POST /rest/api/3/issue", 429, "12", 0, fakes::Fault::kNone, false, 2});
  auto created = Make()->Create(SampleTicket());
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(sleeper_.sleeps(), (std::vector<int64_t>{12'000'000, 12'000'000}));
  EXPECT_EQ(fake_->Issues().size(), 1u);
}

TEST_F(JiraBackendTest, ServerErrorOnCreateIsNotRetriedAndIsUnavailable) {
  fake_->InjectFault(FakeFault{"POST /rest/api/3/issue", 500, "", 0, fakes::Fault::kNone, false, 1});
  auto created = Make()->Create(SampleTicket());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(created.status().message().find("HTTP 500 after 1 attempt(s)"), std::string::npos)
      << created.status().message();
}

TEST_F(JiraBackendTest, UnavailableSearchIsRetried) {
  fake_->InjectFault(FakeFault{"GET /rest/api/3/search/jql", 503, "", 0, fakes::Fault::kNone, false, 2});
  auto page = Make()->ChangedSince(0, "");
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(sleeper_.sleeps().size(), 2u);
}

TEST_F(JiraBackendTest, MalformedTruncatedAndResetRepliesAreUnavailable) {
  auto jira = Make();
  ASSERT_TRUE(jira->Create(SampleTicket()).ok());
  fake_->InjectFault(FakeFault{"GET /rest/api/3/issue/SEC-1", 0, "", 0, fakes::Fault::kNone, true, 1});
  auto malformed = jira->Get("SEC-1");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(malformed.status().message().find("is not valid JSON"), std::string::npos) << malformed.status().message();

  fake_->InjectFault(FakeFault{"GET /rest/api/3/issue/SEC-1", 0, "", 0, fakes::Fault::kTruncated, false, 5});
  auto truncated = jira->Get("SEC-1");
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("connection lost"), std::string::npos) << truncated.status().message();
  fake_->ClearFaults();

  fake_->InjectFault(FakeFault{"GET /rest/api/3/issue/SEC-1", 0, "", 0, fakes::Fault::kReset, false, 1});
  auto healed = jira->Get("SEC-1");  // a GET is retried after a reset
  ASSERT_TRUE(healed.ok()) << healed.status().message();
}

TEST_F(JiraBackendTest, SlowJiraIsATimeout) {
  JiraConfig c = Config();
  c.http.request_timeout_us = 150'000;
  c.http.retry.max_attempts = 1;
  auto jira = Make(c);
  fake_->InjectFault(FakeFault{"GET /rest/api/3/myself", 0, "", 1000, fakes::Fault::kNone, false, 1});
  auto report = jira->TestConnection();
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("(timeout)"), std::string::npos) << report.status().message();
}

TEST_F(JiraBackendTest, NoSecretInAnyLogLineOrError) {
  LogCapture log;
  auto jira = Make();
  fake_->InjectFault(FakeFault{"GET /rest/api/3/myself", 503, "1", 0, fakes::Fault::kNone, false, 1});
  ASSERT_TRUE(jira->TestConnection().ok());
  fake_->InjectFault(FakeFault{"POST /rest/api/3/issue", 500, "", 0, fakes::Fault::kNone, false, 1});
  auto failed = jira->Create(SampleTicket());
  ASSERT_FALSE(failed.ok());
  const std::string& token = fake_->options().api_token;
  std::string basic = http::BasicAuth(fake_->options().me.email, Secret(token));
  EXPECT_NE(log.text().find("retrying"), std::string::npos);
  for (const std::string& secret : {token, basic.substr(6)}) {
    EXPECT_EQ(log.text().find(secret), std::string::npos);
    EXPECT_EQ(failed.status().message().find(secret), std::string::npos);
  }
}

// --- helpers --------------------------------------------------------------

TEST(JiraHelpers, ParsesJiraTimes) {
  int64_t us = 0;
  ASSERT_TRUE(ParseJiraTime("2026-11-29T10:00:00.123+0100", &us));
  EXPECT_EQ(us, At("2026-11-29T09:00:00.123Z"));
  ASSERT_TRUE(ParseJiraTime("2026-11-29T10:00:00.000-0530", &us));
  EXPECT_EQ(us, At("2026-11-29T15:30:00Z"));
  EXPECT_FALSE(ParseJiraTime("2026-11-29 10:00", &us));
}

TEST(JiraHelpers, QuotesJql) { EXPECT_EQ(JqlQuote(R"(a "b" \c)"), R"("a \"b\" \\c")"); }

}  // namespace
}  // namespace noxsync::jira
