// The engine's commands end to end: the noxsync binary against the fake Jira
// and ServiceNow (served from this test process).
#include <fcntl.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/fakes/fake_jira.h"
#include "tests/fakes/fake_servicenow.h"
#include "tests/fakes/fake_webhooks.h"
#include "tests/run_command.h"
#include "tests/temp_dir.h"

namespace noxsync {
namespace {

using testing::RunNoxsync;

class SyncCommands : public ::testing::Test {
 protected:
  SyncCommands() {
    jira_ = std::make_unique<fakes::FakeJira>(clock_, fakes::FakeJiraOptions{});
    sn_ = std::make_unique<fakes::FakeServiceNow>(clock_, fakes::FakeServiceNowOptions{});
    std::string error;
    EXPECT_TRUE(jira_server_.Start(0, [this](const fakes::FakeRequest& r) { return jira_->Handle(r); }, &error));
    EXPECT_TRUE(sn_server_.Start(0, [this](const fakes::FakeRequest& r) { return sn_->Handle(r); }, &error));
    jira_->set_base_url(jira_server_.base_url());
    ::setenv("NOXSYNC_TEST_JIRA_TOKEN", "fake-jira-api-token", 1);
    ::setenv("NOXSYNC_TEST_SN_PASSWORD", "fake-servicenow-password", 1);
  }
  ~SyncCommands() override {
    ::unsetenv("NOXSYNC_TEST_JIRA_TOKEN");
    ::unsetenv("NOXSYNC_TEST_SN_PASSWORD");
  }
  std::string Config(bool with_servicenow, const std::string& extra = "") {
    std::string path = dir_.Sub(with_servicenow ? "both.json" : "jira.json");
    std::ofstream f(path);
    f << R"({"backends":{"jira":{"base_url":")" << jira_server_.base_url()
      << R"(","email":"noxsync@acme.example","api_token":"${NOXSYNC_TEST_JIRA_TOKEN}","project":"SEC","issue_type":"Security"})";
    if (with_servicenow) {
      f << R"(,"servicenow":{"instance_url":")" << sn_server_.base_url()
        << R"(","username":"svc_noxsync","password":"${NOXSYNC_TEST_SN_PASSWORD}"})";
    }
    f << "}" << extra << "}";
    return path;
  }
  testing::CommandResult Run(const std::string& args) {
    return RunNoxsync(args + " --db " + dir_.Sub("store"), dir_.path());
  }

  pid_t StartSync(const std::string& config, const std::string& out) {
    return testing::StartSyncLoop(config, dir_.Sub("store"), out);
  }

  testing::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<fakes::FakeJira> jira_;
  std::unique_ptr<fakes::FakeServiceNow> sn_;
  fakes::FakeHttpServer jira_server_, sn_server_;
};

TEST_F(SyncCommands, TicketsStatusesBothWaysAndAReplayThatCreatesNoDuplicate) {
  ASSERT_EQ(Run(std::string("ingest ") + NOXSYNC_SAMPLES + " --quiet").exit_code, 0);
  // First with Jira only: ServiceNow tickets are "missed".
  auto sync = Run("sync --once --config " + Config(false));
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_NE(sync.out.find("tickets created 96"), std::string::npos) << sync.out;
  EXPECT_EQ(jira_->Issues().size(), 96u);

  // A person moves SEC-1; the next pass brings it in.
  std::string error;
  ASSERT_TRUE(jira_->Move("SEC-1", "In Progress", &error));
  sync = Run("sync --once --config " + Config(false));
  EXPECT_NE(sync.out.find("changes from tickets 1"), std::string::npos) << sync.out;
  auto history = Run("history SEC-1");
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_NE(history.out.find("Open -> In Progress in jira SEC-1"), std::string::npos) << history.out;

  // ServiceNow is added: replay creates what is missing, once.
  std::string both = Config(true);
  auto dry = Run("replay --since 2026-03-01 --dry-run --config " + both);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("96 missing ticket(s) (dry run: nothing written)"), std::string::npos) << dry.out;
  EXPECT_TRUE(sn_->Records().empty());
  auto replay = Run("replay --since 2026-03-01 --config " + both);
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(sn_->Records().size(), 96u);
  auto again = Run("replay --since 2026-03-01 --config " + both);
  EXPECT_NE(again.out.find("0 missing ticket(s)"), std::string::npos) << again.out;
  EXPECT_EQ(sn_->Records().size(), 96u);
  EXPECT_EQ(jira_->Issues().size(), 96u);

  // A Noxys-side change reaches both tickets now.
  auto set = Run("incident set-status inc_00000001 Resolved --note \"handled with Alice\" --config " + both);
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_NE(set.out.find("inc_00000001 is now Resolved"), std::string::npos);
  auto same = Run("incident set-status inc_00000001 Resolved --note again --config " + both);
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("inc_00000001 is already Resolved: nothing recorded (a note is kept with a change of status "
                          "only)"),
            std::string::npos)
      << same.out;
  EXPECT_EQ(jira_->Issue("SEC-1")->status, 2);
  EXPECT_EQ(sn_->Record("INC0000001")->fields.at("state"), "6");

  auto verify = Run("verify");
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  auto sla = Run("sla --json");
  EXPECT_EQ(sla.exit_code, 0) << sla.err;
  EXPECT_EQ(sla.out.find("\"inc_00000001\""), std::string::npos);  // resolved: not at risk
}

TEST_F(SyncCommands, EveryNotificationDeliveredOrFailedIsInTheLog) {
  fakes::FakeWebhookReceiver slack(fakes::FakeWebhookReceiver::Kind::kSlack);
  fakes::FakeWebhookReceiver teams(fakes::FakeWebhookReceiver::Kind::kTeams);
  fakes::FakeHttpServer slack_server, teams_server;
  std::string error;
  ASSERT_TRUE(slack_server.Start(0, [&](const fakes::FakeRequest& r) { return slack.Handle(r); }, &error));
  ASSERT_TRUE(teams_server.Start(0, [&](const fakes::FakeRequest& r) { return teams.Handle(r); }, &error));
  teams.InjectFault(fakes::FakeFault{"POST /", 404, "", 0, fakes::Fault::kNone, false, 1000});
  ::setenv("NOXSYNC_TEST_SLACK", (slack_server.base_url() + "/services/T0/B0/slack-secret-1").c_str(), 1);
  ::setenv("NOXSYNC_TEST_TEAMS", (teams_server.base_url() + "/webhookb2/teams-secret-2").c_str(), 1);
  std::string events = dir_.Sub("two.jsonl");
  std::ofstream(events)
      << R"({"event_id":"evt_n1","timestamp":"2026-03-20T14:32:00Z","platform_id":"chatgpt","platform_name":"ChatGPT","user_email":"alice@acme.fr","risk_score":0.95,"classifications":[{"type":"EMAIL","value":"a","confidence":0.9}],"policy_decisions":{"action":"BLOCK","policy_id":"p","policy_name":"n"}})"
      << "\n";
  ASSERT_EQ(Run("ingest " + events + " --quiet").exit_code, 0);
  auto sync = Run("sync --once --config " +
                  Config(false, R"(,"notifications":[{"type":"slack","name":"soc","webhook_url":"${NOXSYNC_TEST_SLACK}"},)"
                                R"({"type":"teams","name":"managers","webhook_url":"${NOXSYNC_TEST_TEAMS}"}])"));
  ::unsetenv("NOXSYNC_TEST_SLACK");
  ::unsetenv("NOXSYNC_TEST_TEAMS");
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  // Failed once under ctest -j2 without saying why (not reproduced since):
  // each check now shows what sync printed.
  EXPECT_EQ(slack.accepted().size(), 1u) << sync.out << sync.err;
  auto history = Run("history inc_00000001");
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_NE(history.out.find("ticket_created notification sent to slack:soc (SEC-1)"), std::string::npos)
      << history.out << sync.out << sync.err;
  EXPECT_NE(history.out.find("ticket_created notification to teams:managers failed: Teams webhook managers answered HTTP 404"),
            std::string::npos)
      << history.out << sync.out << sync.err;
  EXPECT_EQ((sync.out + sync.err + history.out).find("secret-"), std::string::npos);
  EXPECT_EQ(Run("verify").exit_code, 0);
}

TEST_F(SyncCommands, ConfigCheckReportsEveryProblemWithItsPath) {
  std::string path = Config(true, R"(,"rules":[{"name":"x","when":{"action":["DENY"]},"then":{"priority":"Urgent","backends":["zendesk"]}}],)"
                                  R"("templates":{"summary":"{platfrom} {action}"},"sync":{"conflict_policy":"noxys_wins"})");
  auto r = RunNoxsync("config check --config " + path, dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  for (const char* problem :
       {"rules[0].when.action: \"DENY\": use BLOCK, COACH, ALLOW",
        "rules[0].then.backends: \"zendesk\" is not a configured backend",
        "rules[0].then.priority: \"Urgent\": use Critical, High, Medium, Low",
        "templates.summary: unknown placeholder {platfrom}", "5 problem(s)"}) {
    EXPECT_NE(r.err.find(problem), std::string::npos) << problem << "\n" << r.err;
  }
  EXPECT_NE(r.err.find("sync.conflict_policy: \"noxys_wins\": use ticket_wins or latest_wins"), std::string::npos);
  auto ok = RunNoxsync("config check --config " + Config(true), dir_.path());
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("is valid: backends jira, servicenow; 3 rule(s)"), std::string::npos) << ok.out;
}

TEST_F(SyncCommands, SigtermStopsTheLoopCleanly) {
  ASSERT_EQ(Run(std::string("ingest ") + NOXSYNC_SAMPLES + " --quiet").exit_code, 0);
  std::string config = Config(true);
  std::string out = dir_.Sub("sync.out");
  pid_t pid = StartSync(config, out);
  // Wait for the first pass (every ticket created), then stop it.
  for (int i = 0; i < 200 && jira_->Issues().size() < 96; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(jira_->Issues().size(), 96u);
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::string text = testing::ReadFile(out);
  EXPECT_NE(text.find("tickets created 192"), std::string::npos) << text;
  EXPECT_NE(text.find("noxsync: stopped; nothing in flight was lost"), std::string::npos) << text;
  EXPECT_EQ(Run("verify").exit_code, 0);
}

// On a nearly full disk `sync --once` says so and exits 1, and the loop
// makes no ticket and writes nothing, says why, and goes on by itself once
// space is freed, without a ticket made twice. Needs a small tmpfs, which only
// root may mount: skipped elsewhere (SyncEngineTest covers the engine's
// refusal through the reserve).
TEST_F(SyncCommands, ANearlyFullDiskMakesTheLoopWaitUntilSpaceIsFreed) {
  const std::string store = dir_.Sub("store");
  testing::SmallDisk disk(store, "320m");
  if (!disk.ok()) GTEST_SKIP() << disk.why();
  ASSERT_EQ(Run(std::string("ingest ") + NOXSYNC_SAMPLES + " --quiet").exit_code, 0);
  {
    // Leave 144 MiB: the store opens (it keeps 128 MiB free), but nothing
    // more is written (a write needs 32 MiB more than that).
    struct statvfs st{};
    ASSERT_EQ(::statvfs(store.c_str(), &st), 0);
    const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    ASSERT_GT(free_bytes, 144ull << 20);
    std::ofstream fill(store + "/fill");
    std::string block(1 << 20, 'x');
    for (uint64_t left = free_bytes - (144ull << 20); left > 0 && fill;) {
      const size_t n = std::min<uint64_t>(left, block.size());
      fill.write(block.data(), n);
      left -= n;
    }
    ASSERT_TRUE(fill.good());
  }
  const std::string config = Config(true, R"(,"sync":{"poll_interval_seconds":1})");
  auto once = Run("sync --once --config " + config);
  EXPECT_EQ(once.exit_code, 1) << once.err;
  EXPECT_NE(once.err.find("is almost full"), std::string::npos) << once.err;
  EXPECT_NE(once.err.find("and try again"), std::string::npos) << once.err;

  std::string out = dir_.Sub("sync.out");
  pid_t pid = StartSync(config, out);
  for (int i = 0; i < 100 && testing::ReadFile(out).find("waiting until space is freed") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(testing::ReadFile(out).find("waiting until space is freed"), std::string::npos) << testing::ReadFile(out);
  EXPECT_TRUE(jira_->Issues().empty());
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "sync ended instead of waiting: " << testing::ReadFile(out);

  std::filesystem::remove(store + "/fill");
  for (int i = 0; i < 300 && jira_->Issues().size() < 96; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(jira_->Issues().size(), 96u);
  ::kill(pid, SIGTERM);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << testing::ReadFile(out);
  const std::string text = testing::ReadFile(out);
  EXPECT_NE(text.find("has room again; going on"), std::string::npos) << text;
  EXPECT_NE(text.find("tickets created 192"), std::string::npos) << text;
  EXPECT_EQ(Run("verify").exit_code, 0);
}

TEST(DemoCommand, RunsTheWholeJobAndEveryCheckHolds) {
  testing::TempDir dir;
  auto r = testing::RunNoxsync("demo --db " + dir.Sub("demo"), dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* line : {"201 events, 192 incidents", "Open -> In Progress in jira SEC-1",
                           "✓ ServiceNow INC0000001 is In Progress", "SLA breaches recorded",
                           "incidents auto-resolved", "ticket.create_failed",
                           "first replay: 1 missing ticket(s) created; second replay: 0",
                           "✓ no incident has two tickets on one backend", "✓ verify: the hash chain is intact"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("✗"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace noxsync
