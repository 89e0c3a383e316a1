// The sync engine end to end: the event log, the rules, the outbox and the
// poller against the fake Jira and the fake ServiceNow, on an injected clock.
#include "sync/engine.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "adapters/jira/jira_backend.h"
#include "adapters/servicenow/servicenow_backend.h"
#include "sync/ingestor.h"
#include "sync/notification_dispatcher.h"
#include "sync/timestamp.h"
#include "tests/fakes/fake_jira.h"
#include "tests/fakes/fake_jira_config.h"
#include "tests/fakes/fake_servicenow.h"
#include "tests/fakes/test_support.h"
#include "tests/temp_dir.h"

namespace noxsync {
namespace {

constexpr const char* kGuideEvent =
    R"({"event_id":"evt_abc123def456","timestamp":"2026-03-20T14:32:00Z","platform_id":"chatgpt","platform_name":"ChatGPT","user_email":"alice@acme.fr","risk_score":0.95,"classifications":[{"type":"EMAIL","value":"alice@acme.fr","confidence":0.98}],"policy_decisions":{"action":"BLOCK","policy_id":"pol_block_pii","policy_name":"Block PII on ChatGPT"}})";

std::string Event(const std::string& id, const std::string& user, double risk, const std::string& action,
                  const std::string& type = "EMAIL", const std::string& time = "2026-03-20T15:00:00Z") {
  return R"({"event_id":")" + id + R"(","timestamp":")" + time +
         R"(","platform_id":"claude","platform_name":"Claude","user_email":")" + user +
         R"(","risk_score":)" + std::to_string(risk) + R"(,"classifications":[{"type":")" + type +
         R"(","value":"x","confidence":0.9}],"policy_decisions":{"action":")" + action +
         R"(","policy_id":"p","policy_name":"n"}})";
}

int64_t At(const char* t) {
  int64_t us = 0;
  EXPECT_TRUE(ParseTimestamp(t, &us));
  return us;
}

class SyncEngineTest : public ::testing::Test {
 protected:
  SyncEngineTest() {
    auto log = EventLog::OpenForWrite(dir_.Sub("store"));
    EXPECT_TRUE(log.ok()) << log.status().message();
    log_ = std::move(log).value();
    jira_fake_ = std::make_unique<fakes::FakeJira>(clock_, fakes::FakeJiraOptions{});
    sn_fake_ = std::make_unique<fakes::FakeServiceNow>(clock_, fakes::FakeServiceNowOptions{});
    std::string error;
    EXPECT_TRUE(jira_server_.Start(0, [this](const fakes::FakeRequest& r) { return jira_fake_->Handle(r); }, &error));
    EXPECT_TRUE(sn_server_.Start(0, [this](const fakes::FakeRequest& r) { return sn_fake_->Handle(r); }, &error));
    jira_fake_->set_base_url(jira_server_.base_url());
    jira_ = std::move(jira::MakeJiraBackend(fakes::FakeJiraConfig(jira_server_.base_url()), clock_, sleeper_)).value();
    servicenow::ServiceNowConfig sc;
    sc.instance_url = sn_server_.base_url();
    sc.username = "svc_noxsync";
    sc.password = Secret("fake-servicenow-password");
    sc.http.proxy = http::ProxyOptions{};
    sc.http.retry.max_attempts = 1;
    sn_ = std::move(servicenow::MakeServiceNowBackend(sc, clock_, sleeper_)).value();
  }
  ~SyncEngineTest() override {
    engine_.reset();
    jira_server_.Stop();
    sn_server_.Stop();
  }

  SyncEngine& Engine(SyncConfig config = SyncConfig::Defaults(), NotificationDispatcher* notify = nullptr) {
    engine_ = std::make_unique<SyncEngine>(log_.get(), std::map<std::string, Backend*>{{"jira", jira_.get()},
                                                                                        {"servicenow", sn_.get()}},
                                           &clock_, std::move(config), notify);
    return *engine_;
  }

  void Ingest(const std::vector<std::string>& lines) {
    Ingestor ingestor(log_.get(), &clock_);
    std::vector<IngestLine> in;
    for (const auto& l : lines) in.push_back({l, 0, ""});
    std::vector<IngestResult> results;
    ASSERT_TRUE(ingestor.Ingest(in, "test", &results).ok());
  }

  std::vector<std::string> Types(const std::string& incident) {
    std::vector<LogRecord> records;
    EXPECT_TRUE(log_->IncidentRecords(incident, &records).ok());
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r.type);
    return out;
  }
  int Count(const std::string& incident, const std::string& type) {
    auto t = Types(incident);
    return static_cast<int>(std::count(t.begin(), t.end(), type));
  }
  IncidentStatus StatusOf(const std::string& incident) {
    std::string v;
    EXPECT_TRUE(log_->Get(Cf::kIncidents, incident, &v).ok());
    Incident inc;
    EXPECT_TRUE(IncidentFromJson(v, &inc).ok());
    return inc.status;
  }
  int Requests(const std::vector<fakes::FakeRecord>& records, const std::string& method, const std::string& path_part) {
    int n = 0;
    for (const auto& r : records) n += r.method == method && r.path.find(path_part) != std::string::npos;
    return n;
  }

  testing::TempDir dir_;
  ManualClock clock_{At("2026-03-20T15:00:00Z")};
  testing::RecordingSleeper sleeper_{&clock_};
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<fakes::FakeJira> jira_fake_;
  std::unique_ptr<fakes::FakeServiceNow> sn_fake_;
  fakes::FakeHttpServer jira_server_, sn_server_;
  std::unique_ptr<Backend> jira_, sn_;
  std::unique_ptr<SyncEngine> engine_;
};

TEST_F(SyncEngineTest, TheGuidesEventYieldsAJiraIssueAndAServiceNowIncident) {
  Ingest({kGuideEvent});
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.RunOnce().ok());
  auto issue = jira_fake_->Issue("SEC-1");
  ASSERT_TRUE(issue.has_value());
  EXPECT_EQ(issue->summary, "BLOCK: chatgpt - EMAIL");
  EXPECT_EQ(issue->priority, "Highest");  // Critical
  EXPECT_EQ(issue->labels, (std::vector<std::string>{"noxys", "chatgpt", "noxys-inc-inc_00000001", "ai-security"}));
  for (const char* fact : {"Platform: ", "ChatGPT", "Risk Score: ", "0.95", "User: ", "alice@acme.fr",
                           "Classifications: ", "EMAIL (0.98)", "Policy Action: ", "BLOCK", "Timestamp: ",
                           "2026-03-20T14:32:00Z", "evt_abc123def456"}) {
    EXPECT_NE(issue->description.find(fact), std::string::npos) << fact;
  }
  // The guide's custom fields, found by name on the site, typed as it wants.
  EXPECT_EQ(issue->custom.at("customfield_10042"), "9.5E-1");                 // Risk Score (number)
  EXPECT_EQ(issue->custom.at("customfield_10043"), "\"ChatGPT\"");            // Platform
  EXPECT_EQ(issue->custom.at("customfield_10044"), "\"alice@acme.fr\"");      // User
  EXPECT_EQ(issue->custom.at("customfield_10045"), R"(["EMAIL"])");           // Classifications
  EXPECT_EQ(issue->custom.at("customfield_10046"), R"({"value":"BLOCK"})");   // Policy Action
  EXPECT_EQ(issue->custom.at("customfield_10047"), "\"evt_abc123def456\"");   // Noxys Event ID
  auto rec = sn_fake_->Record("INC0000001");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->fields.at("short_description"), "BLOCK: chatgpt - EMAIL");
  EXPECT_EQ(rec->fields.at("correlation_id"), "inc_00000001");
  EXPECT_EQ(rec->fields.at("urgency"), "1");  // risk 0.95
  EXPECT_EQ(rec->fields.at("impact"), "2");   // EMAIL
  EXPECT_EQ(rec->fields.at("priority"), "2");
  EXPECT_EQ(rec->fields.at("assignment_group"), "CISO");
  EXPECT_EQ(rec->fields.at("u_noxys_event_id"), "evt_abc123def456");
  EXPECT_EQ(rec->fields.at("u_risk_score"), "0.95");
  EXPECT_EQ(rec->fields.at("u_platform_name"), "ChatGPT");
  EXPECT_EQ(Count("inc_00000001", "ticket.create_requested"), 2);
  EXPECT_EQ(Count("inc_00000001", "ticket.created"), 2);
  std::string incident;
  ASSERT_TRUE(log_->Get(Cf::kByTicket, TicketKeyKey("jira", "SEC-1"), &incident).ok());
  EXPECT_EQ(incident, "inc_00000001");
}

TEST_F(SyncEngineTest, RunningAgainCreatesNothingMore) {
  Ingest({kGuideEvent, Event("evt_2", "bob@acme.fr", 0.85, "BLOCK")});
  ASSERT_TRUE(Engine().RunOnce().ok());
  ASSERT_TRUE(Engine().RunOnce().ok());  // a new engine, as after a restart
  EXPECT_EQ(jira_fake_->Issues().size(), 2u);
  EXPECT_EQ(sn_fake_->Records().size(), 2u);
  EXPECT_EQ(Count("inc_00000002", "ticket.create_requested"), 2);
  uint64_t pending = 1;
  ASSERT_TRUE(engine_->PendingActions(&pending).ok());
  EXPECT_EQ(pending, 0u);
}

TEST_F(SyncEngineTest, AnIncidentNoRuleMatchesGetsNoTicketAndTheLogSaysSo) {
  Ingest({Event("evt_low", "carol@acme.fr", 0.2, "COACH")});
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_TRUE(jira_fake_->Issues().empty());
  EXPECT_EQ(Count("inc_00000001", "rule.no_match"), 1);
  EXPECT_EQ(engine.stats().no_rule, 1u);
}

TEST_F(SyncEngineTest, ATicketCreatedJustBeforeACrashIsFoundNotCreatedTwice) {
  Ingest({kGuideEvent});
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.PlanNewRecords().ok());
  // The crash: Jira got the create, the log never heard of it.
  NewTicket t;
  t.incident_id = "inc_00000001";
  t.summary = "created before the crash";
  ASSERT_TRUE(jira_->Create(t).ok());
  ASSERT_TRUE(engine.DrainOutbox().ok());
  EXPECT_EQ(jira_fake_->Issues().size(), 1u);
  EXPECT_EQ(engine.stats().tickets_found_existing, 1u);
  std::vector<LogRecord> records;
  ASSERT_TRUE(log_->IncidentRecords("inc_00000001", &records).ok());
  bool healed = false;
  for (const auto& r : records) {
    healed |= r.type == "ticket.created" && r.payload.find(R"("found_existing":"yes")") != std::string::npos;
  }
  EXPECT_TRUE(healed);
}

// A disk that fills up between a ticket's create and its record: the step
// is dropped before the store sees it, as a crash would drop it, and the log
// stays writable. Once space is freed the drain finds the tickets made and
// records them, none made twice.
TEST_F(SyncEngineTest, ANearlyFullDiskDropsTheStepAndTheNextDrainFindsTheTicketsMade) {
  Ingest({kGuideEvent});
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.PlanNewRecords().ok());
  log_->SetFreeSpaceReserve(1ull << 62);  // more than any disk has: as good as full
  Status s = engine.DrainOutbox();
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.message();
  EXPECT_NE(s.message().find("is almost full"), std::string::npos) << s.message();
  const size_t made = jira_fake_->Issues().size() + sn_fake_->Records().size();
  EXPECT_GE(made, 1u) << "the create reached a backend before its record was refused";
  EXPECT_EQ(Count("inc_00000001", "ticket.created"), 0);

  log_->SetFreeSpaceReserve(0);
  ASSERT_TRUE(engine.DrainOutbox().ok());
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(jira_fake_->Issues().size(), 1u);
  EXPECT_EQ(sn_fake_->Records().size(), 1u);
  EXPECT_EQ(Count("inc_00000001", "ticket.created"), 2);
  EXPECT_GE(engine.stats().tickets_found_existing, 1u);
}

TEST_F(SyncEngineTest, APersonsJiraChangeMovesTheIncidentThenServiceNowWithoutPingPong) {
  Ingest({kGuideEvent});
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.RunOnce().ok());
  clock_.Advance(120'000'000);
  std::string error;
  ASSERT_TRUE(jira_fake_->Move("SEC-1", "In Progress", &error)) << error;
  clock_.Advance(60'000'000);
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(StatusOf("inc_00000001"), IncidentStatus::kInProgress);
  EXPECT_EQ(sn_fake_->Record("INC0000001")->fields.at("state"), "2");
  EXPECT_EQ(Count("inc_00000001", "ticket.status_changed"), 1);
  // Quiet from here: no transition goes back to Jira, none again to ServiceNow.
  jira_fake_->ClearRequests();
  sn_fake_->ClearRequests();
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(60'000'000);
    ASSERT_TRUE(engine.RunOnce().ok());
  }
  EXPECT_EQ(Requests(jira_fake_->requests(), "POST", "/transitions"), 0);
  EXPECT_EQ(Requests(sn_fake_->requests(), "PATCH", "/api/now/table/incident"), 0);
  EXPECT_EQ(Count("inc_00000001", "ticket.status_changed"), 1);
  EXPECT_GE(engine.stats().echoes_ignored, 1u);
}

// Stopping (serve's SIGTERM) in the middle of a poll's pages: the poll ends
// without fetching the rest and commits nothing, and the next one reads every
// change again.
TEST_F(SyncEngineTest, APollStoppedBetweenPagesCommitsNothingAndTheNextReadsItAll) {
  Ingest({Event("evt_p1", "a@acme.fr", 0.95, "BLOCK"), Event("evt_p2", "b@acme.fr", 0.95, "BLOCK"),
          Event("evt_p3", "c@acme.fr", 0.95, "BLOCK")});
  jira::JiraConfig jc = fakes::FakeJiraConfig(jira_server_.base_url());
  jc.page_size = 1;  // a page per changed ticket
  auto paged = std::move(jira::MakeJiraBackend(jc, clock_, sleeper_)).value();
  SyncEngine engine(log_.get(), {{"jira", paged.get()}}, &clock_, SyncConfig::Defaults());
  std::atomic<bool> stop{false};
  engine.set_stop(&stop);
  ASSERT_TRUE(engine.RunOnce().ok());
  ASSERT_EQ(jira_fake_->Issues().size(), 3u);
  clock_.Advance(120'000'000);
  std::string error;
  for (const char* key : {"SEC-1", "SEC-2", "SEC-3"}) ASSERT_TRUE(jira_fake_->Move(key, "In Progress", &error)) << error;
  clock_.Advance(60'000'000);

  stop = true;
  jira_fake_->ClearRequests();
  ASSERT_TRUE(engine.Poll("jira").ok());
  EXPECT_EQ(Requests(jira_fake_->requests(), "GET", "/search") + Requests(jira_fake_->requests(), "POST", "/search"), 1);
  for (const char* inc : {"inc_00000001", "inc_00000002", "inc_00000003"}) {
    EXPECT_EQ(StatusOf(inc), IncidentStatus::kOpen) << inc;
    EXPECT_EQ(Count(inc, "ticket.status_changed"), 0) << inc;
  }

  stop = false;
  ASSERT_TRUE(engine.Poll("jira").ok());
  for (const char* inc : {"inc_00000001", "inc_00000002", "inc_00000003"}) {
    EXPECT_EQ(StatusOf(inc), IncidentStatus::kInProgress) << inc;
    EXPECT_EQ(Count(inc, "ticket.status_changed"), 1) << inc;
  }
}

TEST_F(SyncEngineTest, ANoxysSideResolveReachesBothTickets) {
  Ingest({kGuideEvent});
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.RunOnce().ok());
  clock_.Advance(60'000'000);
  ASSERT_TRUE(engine.SetStatus("inc_00000001", IncidentStatus::kResolved, "noxys", "false positive").ok());
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(jira_fake_->Issue("SEC-1")->status, 2);  // Done
  EXPECT_EQ(jira_fake_->Issue("SEC-1")->resolution, "Done");
  EXPECT_EQ(sn_fake_->Record("INC0000001")->fields.at("state"), "6");
  EXPECT_EQ(Count("inc_00000001", "ticket.transition_applied"), 2);
  clock_.Advance(60'000'000);
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(Count("inc_00000001", "ticket.status_changed"), 1);  // only Noxys's own
  EXPECT_EQ(StatusOf("inc_00000001"), IncidentStatus::kResolved);
}

TEST_F(SyncEngineTest, WhenBothSidesChangedTheTicketWinsAndTheConflictIsKept) {
  Ingest({kGuideEvent});
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.RunOnce().ok());
  clock_.Advance(60'000'000);
  ASSERT_TRUE(engine.SetStatus("inc_00000001", IncidentStatus::kResolved, "noxys", "").ok());
  std::string error;
  ASSERT_TRUE(jira_fake_->Move("SEC-1", "In Progress", &error));  // before noxsync pushed
  clock_.Advance(60'000'000);
  ASSERT_TRUE(engine.Poll("jira").ok());
  ASSERT_TRUE(engine.DrainOutbox().ok());
  EXPECT_EQ(engine.stats().conflicts, 1u);
  EXPECT_EQ(StatusOf("inc_00000001"), IncidentStatus::kInProgress);
  EXPECT_EQ(jira_fake_->Issue("SEC-1")->status, 1);  // left as the person set it
  EXPECT_EQ(sn_fake_->Record("INC0000001")->fields.at("state"), "2");
  std::vector<LogRecord> records;
  ASSERT_TRUE(log_->IncidentRecords("inc_00000001", &records).ok());
  bool kept = false;
  for (const auto& r : records) {
    kept |= r.type == "sync.conflict" && r.payload.find(R"("noxys_status":"Resolved")") != std::string::npos &&
            r.payload.find(R"("ticket_status":"In Progress")") != std::string::npos;
  }
  EXPECT_TRUE(kept);
}

TEST_F(SyncEngineTest, WithLatestWinsTheLaterNoxysChangeWinsAndIsKept) {
  Ingest({kGuideEvent});
  SyncConfig config = SyncConfig::Defaults();
  config.conflict_policy = ConflictPolicy::kLatestWins;
  SyncEngine& engine = Engine(config);
  ASSERT_TRUE(engine.RunOnce().ok());
  clock_.Advance(60'000'000);
  std::string error;
  ASSERT_TRUE(jira_fake_->Move("SEC-1", "In Progress", &error));  // the person first
  clock_.Advance(60'000'000);
  ASSERT_TRUE(engine.SetStatus("inc_00000001", IncidentStatus::kResolved, "noxys", "").ok());  // Noxys later
  clock_.Advance(60'000'000);
  ASSERT_TRUE(engine.Poll("jira").ok());
  ASSERT_TRUE(engine.DrainOutbox().ok());
  EXPECT_EQ(engine.stats().conflicts, 1u);
  EXPECT_EQ(StatusOf("inc_00000001"), IncidentStatus::kResolved);
  EXPECT_EQ(jira_fake_->Issue("SEC-1")->status, 2);  // the owed move overwrote the person's
  std::vector<LogRecord> records;
  ASSERT_TRUE(log_->IncidentRecords("inc_00000001", &records).ok());
  bool kept = false;
  for (const auto& r : records) kept |= r.type == "sync.conflict" && r.payload.find(R"("winner":"noxys")") != std::string::npos;
  EXPECT_TRUE(kept);
}

TEST_F(SyncEngineTest, AnOutageDelaysOneBackendOnlyAndGivesUpAfterTheBound) {
  sn_fake_->InjectFault(fakes::FakeFault{"GET /api/now/table/incident", 503, "", 0, fakes::Fault::kNone, false, 1000});
  Ingest({kGuideEvent});
  SyncConfig config = SyncConfig::Defaults();
  config.outbox_max_attempts = 3;
  SyncEngine& engine = Engine(config);
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(jira_fake_->Issues().size(), 1u);
  EXPECT_TRUE(sn_fake_->Records().empty());
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(600'000'000);
    ASSERT_TRUE(engine.DrainOutbox().ok());
  }
  EXPECT_EQ(Count("inc_00000001", "ticket.create_failed"), 1);
  EXPECT_EQ(engine.stats().create_failures, 1u);
}

TEST_F(SyncEngineTest, AnOutageThatEndsInTimeHeals) {
  sn_fake_->InjectFault(fakes::FakeFault{"GET /api/now/table/incident", 503, "", 0, fakes::Fault::kNone, false, 2});
  Ingest({kGuideEvent});
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_TRUE(sn_fake_->Records().empty());
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(60'000'000);
    ASSERT_TRUE(engine.DrainOutbox().ok());
  }
  EXPECT_EQ(sn_fake_->Records().size(), 1u);
  EXPECT_EQ(Count("inc_00000001", "ticket.created"), 2);
}

TEST_F(SyncEngineTest, RecurrencesAddOneCommentAnHourAtMost) {
  Ingest({Event("evt_1", "dan@acme.fr", 0.85, "BLOCK", "EMAIL", "2026-03-20T15:00:00Z")});
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.RunOnce().ok());
  clock_.Advance(60'000'000);
  Ingest({Event("evt_2", "dan@acme.fr", 0.85, "BLOCK", "EMAIL", "2026-03-20T15:01:00Z"),
          Event("evt_3", "dan@acme.fr", 0.85, "BLOCK", "EMAIL", "2026-03-20T15:02:00Z")});
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(jira_fake_->Issue("SEC-1")->comments.size(), 1u);
  EXPECT_NE(jira_fake_->Issue("SEC-1")->comments[0].body.find("3 events so far"), std::string::npos)
      << jira_fake_->Issue("SEC-1")->comments[0].body;
  EXPECT_EQ(sn_fake_->Record("INC0000001")->work_notes.size(), 1u);
  clock_.Advance(2 * 3600'000'000LL);
  Ingest({Event("evt_4", "dan@acme.fr", 0.85, "BLOCK", "EMAIL", "2026-03-20T17:00:00Z")});
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(jira_fake_->Issue("SEC-1")->comments.size(), 2u);
}

// Collects what the dispatcher delivers.
class CollectingNotifier final : public Notifier {
 public:
  const std::string& channel() const override { return name_; }
  Status Send(const Notification& n) override {
    std::lock_guard lock(mu_);
    got_.push_back(n);
    return Status::Ok();
  }
  std::vector<Notification> got() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  std::string name_ = "test:collector";
  std::mutex mu_;
  std::vector<Notification> got_;
};

TEST_F(SyncEngineTest, AnSlaBreachIsRecordedOnceNotifiedAndEscalated) {
  Ingest({kGuideEvent});  // Critical: respond within 1 h
  NotificationDispatcher notify(clock_, sleeper_);
  auto* collector = new CollectingNotifier();
  notify.AddChannel(std::unique_ptr<Notifier>(collector), {});
  SyncEngine& engine = Engine(SyncConfig::Defaults(), &notify);
  ASSERT_TRUE(engine.RunOnce().ok());
  clock_.Advance(59 * 60'000'000LL);
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(Count("inc_00000001", "sla.breached"), 0);
  std::vector<SlaStanding> standings;
  ASSERT_TRUE(SlaStandings(*log_, SyncConfig::Defaults(), &standings).ok());
  ASSERT_EQ(standings.size(), 1u);
  EXPECT_EQ(standings[0].deadline, "response");
  EXPECT_EQ(standings[0].due_us, At("2026-03-20T16:00:00Z"));
  clock_.Advance(2 * 60'000'000LL);
  ASSERT_TRUE(engine.RunOnce().ok());
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(Count("inc_00000001", "sla.breached"), 1);
  EXPECT_EQ(Count("inc_00000001", "sla.escalated"), 1);
  ASSERT_EQ(jira_fake_->Issue("SEC-1")->comments.size(), 1u);
  EXPECT_NE(jira_fake_->Issue("SEC-1")->comments[0].body.find("SLA breached: the Critical response deadline"),
            std::string::npos);
  EXPECT_EQ(sn_fake_->Record("INC0000001")->work_notes.size(), 1u);
  notify.Stop();
  auto got = collector->got();
  ASSERT_EQ(got.size(), 4u);  // two tickets created, one breach, its escalation
  EXPECT_EQ(got[0].kind, Notification::Kind::kTicketCreated);
  EXPECT_EQ(got[2].kind, Notification::Kind::kSlaBreached);
  EXPECT_EQ(got[2].ticket_key, "SEC-1");
  EXPECT_NE(got[2].detail.find("SLA breached"), std::string::npos);
  EXPECT_EQ(got[3].kind, Notification::Kind::kEscalated);
  EXPECT_EQ(got[3].incident_id, "inc_00000001");
  EXPECT_NE(got[3].detail.find("Escalated: a comment added to the ticket."), std::string::npos) << got[3].detail;
  engine_.reset();
}

TEST_F(SyncEngineTest, AnSlaBreachCanRaiseTheTicketsPriorityWithoutHidingAPersonsMove) {
  Ingest({Event("evt_h", "hugo@acme.fr", 0.85, "BLOCK")});  // block-high-risk: High, respond within 4 h
  SyncConfig config = SyncConfig::Defaults();
  config.escalate_raise_priority = true;
  NotificationDispatcher notify(clock_, sleeper_);
  auto* collector = new CollectingNotifier();
  notify.AddChannel(std::unique_ptr<Notifier>(collector), {});
  SyncEngine& engine = Engine(config, &notify);
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(jira_fake_->Issue("SEC-1")->priority, "High");
  EXPECT_EQ(sn_fake_->Record("INC0000001")->fields.at("priority"), "3");  // urgency 2 (risk 0.85) x impact 2 (EMAIL)
  clock_.Advance(4 * 3600'000'000LL + 60'000'000);
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(Count("inc_00000001", "sla.breached"), 1);
  EXPECT_EQ(Count("inc_00000001", "sla.escalated"), 2);  // a comment, a priority
  EXPECT_EQ(Count("inc_00000001", "ticket.priority_changed"), 2);
  EXPECT_EQ(jira_fake_->Issue("SEC-1")->priority, "Highest");
  auto rec = sn_fake_->Record("INC0000001");
  EXPECT_EQ(rec->fields.at("urgency"), "1");
  EXPECT_EQ(rec->fields.at("impact"), "1");
  EXPECT_EQ(rec->fields.at("priority"), "1");
  notify.Stop();
  auto got = collector->got();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().kind, Notification::Kind::kEscalated);
  EXPECT_NE(got.back().detail.find("Escalated: a comment added to the ticket; priority raised from High to Critical."),
            std::string::npos)
      << got.back().detail;
  // The edit changed the ticket's version; a person's move right after is
  // still seen, and the edit itself is not taken for a status change.
  std::string error;
  ASSERT_TRUE(jira_fake_->Move("SEC-1", "In Progress", &error)) << error;
  clock_.Advance(60'000'000);
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(StatusOf("inc_00000001"), IncidentStatus::kInProgress);
  EXPECT_EQ(sn_fake_->Record("INC0000001")->fields.at("state"), "2");
  EXPECT_EQ(Count("inc_00000001", "ticket.status_changed"), 1);
  // The SLA deadlines keep the rules' priority: no second breach at once.
  clock_.Advance(3600'000'000LL);
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(Count("inc_00000001", "sla.breached"), 1);
  engine_.reset();
}

TEST_F(SyncEngineTest, LeavingOpenInTimeMeetsTheResponseSla) {
  Ingest({kGuideEvent});
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.RunOnce().ok());
  clock_.Advance(10 * 60'000'000LL);
  std::string error;
  ASSERT_TRUE(jira_fake_->Move("SEC-1", "In Progress", &error));
  clock_.Advance(20 * 60'000'000LL);
  ASSERT_TRUE(engine.RunOnce().ok());
  clock_.Advance(2 * 3600'000'000LL);
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(Count("inc_00000001", "sla.breached"), 0);
}

TEST_F(SyncEngineTest, AQuietCoachIncidentIsResolvedEverywhere) {
  Ingest({Event("evt_c", "erin@acme.fr", 0.6, "COACH", "IBAN")});  // the financial-data rule
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.RunOnce().ok());
  ASSERT_EQ(jira_fake_->Issues().size(), 1u);
  clock_.Advance(23 * 3600'000'000LL);
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(StatusOf("inc_00000001"), IncidentStatus::kOpen);
  clock_.Advance(2 * 3600'000'000LL);
  ASSERT_TRUE(engine.RunOnce().ok());
  EXPECT_EQ(StatusOf("inc_00000001"), IncidentStatus::kResolved);
  EXPECT_EQ(Count("inc_00000001", "incident.auto_resolved"), 1);
  EXPECT_EQ(jira_fake_->Issue("SEC-1")->status, 2);
  EXPECT_EQ(sn_fake_->Record("INC0000001")->fields.at("state"), "6");
}

TEST_F(SyncEngineTest, ProjectionsRebuildByteForByteAfterSync) {
  Ingest({kGuideEvent, Event("evt_2", "bob@acme.fr", 0.85, "BLOCK")});
  SyncEngine& engine = Engine();
  ASSERT_TRUE(engine.RunOnce().ok());
  std::string error;
  ASSERT_TRUE(jira_fake_->Move("SEC-2", "Done", &error));
  clock_.Advance(60'000'000);
  ASSERT_TRUE(engine.RunOnce().ok());
  engine_.reset();
  auto digest = [&](Cf cf) {
    Hash h;
    uint64_t rows = 0;
    EXPECT_TRUE(log_->Digest(cf, &h, &rows).ok());
    return std::make_pair(rows, std::string(reinterpret_cast<const char*>(h.data()), h.size()));
  };
  auto tickets = digest(Cf::kTickets), incidents = digest(Cf::kIncidents), by_ticket = digest(Cf::kByTicket);
  EXPECT_EQ(tickets.first, 4u);
  uint64_t records = 0;
  ASSERT_TRUE(RebuildProjections(log_.get(), &records).ok());
  EXPECT_EQ(digest(Cf::kTickets), tickets);
  EXPECT_EQ(digest(Cf::kIncidents), incidents);
  EXPECT_EQ(digest(Cf::kByTicket), by_ticket);
  VerifyReport report;
  ASSERT_TRUE(log_->VerifyChain(&report).ok());
  EXPECT_EQ(report.first_bad_seq, 0u);
}

}  // namespace
}  // namespace noxsync
