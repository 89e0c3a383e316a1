// Crash test of the sync engine: `noxsync sync` is killed with SIGKILL at
// random moments while it creates tickets and moves them (Noxys-side status
// changes are queued between kills). The fake backends live in this process,
// so they survive every kill. Afterwards: no incident has two tickets on one
// backend, no ticket is missing, every queued move arrived, and the chain
// verifies.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "store/event_log.h"
#include "tests/event_generator.h"
#include "tests/fakes/fake_jira.h"
#include "tests/fakes/fake_servicenow.h"
#include "tests/run_command.h"
#include "tests/temp_dir.h"

namespace noxsync {
namespace {

TEST(SyncCrashTest, KilledSyncNeverDuplicatesOrLosesATicketOrAMove) {
  testing::TempDir dir;
  SystemClock clock;
  fakes::FakeJira jira(clock, {});
  fakes::FakeServiceNow sn(clock, {});
  fakes::FakeHttpServer jira_server, sn_server;
  std::string error;
  ASSERT_TRUE(jira_server.Start(0, [&](const fakes::FakeRequest& r) { return jira.Handle(r); }, &error));
  ASSERT_TRUE(sn_server.Start(0, [&](const fakes::FakeRequest& r) { return sn.Handle(r); }, &error));
  jira.set_base_url(jira_server.base_url());
  // Every reply a little slow, so kills land between a request and its record.
  jira.InjectFault(fakes::FakeFault{"", 0, "", 2, fakes::Fault::kNone, false, 1 << 30});
  sn.InjectFault(fakes::FakeFault{"", 0, "", 2, fakes::Fault::kNone, false, 1 << 30});
  std::string config = dir.Sub("noxsync.json");
  std::ofstream(config) << R"({"backends":{"jira":{"base_url":")" << jira_server.base_url()
                        << R"(","email":"noxsync@acme.example","api_token":"fake-jira-api-token","project":"SEC","issue_type":"Security"},)"
                        << R"("servicenow":{"instance_url":")" << sn_server.base_url()
                        << R"(","username":"svc_noxsync","password":"fake-servicenow-password"}},)"
                        << R"("rules":[{"name":"all","then":{"priority":"High"}}],"sync":{"poll_interval_seconds":1,"auto_resolve_coach_after_hours":0}})";
  std::string db = dir.Sub("store");
  std::string events = dir.Sub("events.jsonl");
  {
    testing::EventGenerator gen(7);
    std::ofstream f(events);
    for (int i = 0; i < 150; ++i) f << gen.Next() << "\n";
  }
  auto ingest = testing::RunNoxsync("ingest " + events + " --quiet --db " + db, dir.path());
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;

  std::mt19937 rng(20261129);
  std::set<std::string> resolved;  // incidents moved to Resolved in Noxys
  int kills = 0;
  for (int round = 0; round < 24; ++round) {
    pid_t pid = testing::StartSyncLoop(config, db, "/dev/null");
    std::this_thread::sleep_for(std::chrono::milliseconds(40 + rng() % 400));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    kills += WIFSIGNALED(status);
    // Between kills, a Noxys-side change to push to both tickets.
    char id[16];
    std::snprintf(id, sizeof id, "inc_%08d", 1 + static_cast<int>(rng() % 60));
    auto set = testing::RunNoxsync(std::string("incident set-status ") + id + " Resolved --db " + db, dir.path());
    if (set.exit_code == 0) resolved.insert(id);
  }
  EXPECT_GE(kills, 20);
  // Quiescence: a few clean passes.
  for (int i = 0; i < 3; ++i) {
    auto once = testing::RunNoxsync("sync --once --config " + config + " --db " + db, dir.path());
    ASSERT_EQ(once.exit_code, 0) << once.err;
  }

  auto log = EventLog::OpenForRead(db);
  ASSERT_TRUE(log.ok());
  uint64_t incidents = 0;
  (*log)->Scan(Cf::kIncidents, "", [&](std::string_view, std::string_view) {
    ++incidents;
    return true;
  });
  std::map<std::string, int> jira_per_incident, sn_per_incident;
  for (const auto& issue : jira.Issues()) {
    for (const auto& l : issue.labels) {
      if (l.rfind("noxys-inc-", 0) == 0) ++jira_per_incident[l.substr(10)];
    }
  }
  for (const auto& rec : sn.Records()) ++sn_per_incident[rec.fields.at("correlation_id")];
  EXPECT_EQ(jira_per_incident.size(), incidents);
  EXPECT_EQ(sn_per_incident.size(), incidents);
  for (const auto& [incident, n] : jira_per_incident) EXPECT_EQ(n, 1) << "Jira tickets of " << incident;
  for (const auto& [incident, n] : sn_per_incident) EXPECT_EQ(n, 1) << "ServiceNow records of " << incident;
  for (const auto& incident : resolved) {
    for (const auto& issue : jira.Issues()) {
      if (std::find(issue.labels.begin(), issue.labels.end(), "noxys-inc-" + incident) != issue.labels.end()) {
        EXPECT_EQ(issue.status, 2) << incident << " " << issue.key << " did not reach Done";
      }
    }
    for (const auto& rec : sn.Records()) {
      if (rec.fields.at("correlation_id") == incident) {
        EXPECT_EQ(rec.fields.at("state"), "6") << incident << " did not reach Resolved in ServiceNow";
      }
    }
  }
  uint64_t pending = 0;
  (*log)->Scan(Cf::kOutbox, "", [&](std::string_view, std::string_view) {
    ++pending;
    return true;
  });
  EXPECT_EQ(pending, 0u);
  int healed = 0;
  (*log)->ScanLog(1, [&](const LogRecord& r) {
    healed += r.type == "ticket.created" && r.payload.find(R"("found_existing":"yes")") != std::string::npos;
    return true;
  });
  VerifyReport report;
  ASSERT_TRUE((*log)->VerifyChain(&report).ok());
  EXPECT_EQ(report.first_bad_seq, 0u) << report.problem;
  std::printf("%d kills, %d creates healed by find-before-create, %zu incidents moved in Noxys, %llu incidents, "
              "%zu Jira issues, %zu ServiceNow records\n",
              kills, healed, resolved.size(), static_cast<unsigned long long>(incidents), jira.Issues().size(),
              sn.Records().size());
}

}  // namespace
}  // namespace noxsync
