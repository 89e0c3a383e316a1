// `noxsync demo`: the whole job on the embedded sample events, against the
// fake Jira and fake ServiceNow started in this process, on an accelerated
// clock, narrated as a timeline. Needs no network, no account, no config.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <spdlog/spdlog.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/engine_setup.h"
#include "cli/timeline.h"
#include "store/event_log.h"
#include "store/utf8.h"
#include "sync/engine.h"
#include "sync/ingestor.h"
#include "sync/timestamp.h"
#include "tests/fakes/fake_jira.h"
#include "tests/fakes/fake_servicenow.h"

namespace noxsync::cli {

extern const char* const kSampleEvents;  // generated from samples/events.jsonl

namespace {

constexpr const char* kUsage = R"(usage: noxsync demo [--db PATH] [--events FILE]

Runs noxsync's whole job with nothing to set up: starts a fake Jira and a
fake ServiceNow in this process, writes a configuration for them, ingests
the sample Noxys events (or --events FILE), and narrates what happens on an
accelerated clock: tickets created by rule, a person moving a Jira ticket and
ServiceNow following, a resolve in Noxys reaching both, an SLA breach and its
escalation, an auto-resolve, an outage of ServiceNow and a replay that
recovers the missed ticket without duplicates. Ends with a summary and the
chain check. Under a minute. The clock runs ahead (a day passes in the
demo), so the demo store's log times do too.

  --db PATH      where to keep the demo store (default: a new temporary folder)
  --events FILE  Noxys events as JSON lines (default: the embedded samples)

Exit: 0 the demo ran and every check held, 1 otherwise.
)";

// Advances the demo's clock instead of sleeping: retries and rate limits
// pass in no real time.
class ClockSleeper final : public Sleeper {
 public:
  explicit ClockSleeper(ManualClock* clock) : clock_(clock) {}
  void SleepFor(int64_t us) override { clock_->Advance(us); }

 private:
  ManualClock* clock_;
};

bool g_tty = ::isatty(1);

void Step(const std::string& title) {
  std::printf("\n%s== %s%s\n", g_tty ? "\033[1m" : "", title.c_str(), g_tty ? "\033[0m" : "");
}

// The records of an incident from `from_seq` on, as timeline lines.
void ShowRecords(const EventLog& log, const std::string& incident, uint64_t from_seq, size_t max = 12) {
  std::vector<LogRecord> records;
  log.IncidentRecords(incident, &records);
  size_t shown = 0;
  for (const auto& r : records) {
    if (r.seq < from_seq || shown >= max) continue;
    std::string what = DescribeRecord(r);
    if (what.size() > 150) what = std::string(Utf8Prefix(what, 147)) + "...";
    std::printf("  %6llu  %-27s  %s\n", static_cast<unsigned long long>(r.seq), r.type.c_str(), what.c_str());
    ++shown;
  }
}

uint64_t HeadSeq(const EventLog& log) { return log.Head().seq; }

bool Check(bool ok, const std::string& what, int* failures) {
  std::printf("  %s %s\n", ok ? "✓" : "✗", what.c_str());
  if (!ok) ++*failures;
  return ok;
}

}  // namespace

int RunDemo(const Argv& argv) {
  Args args({}, {"--db", "--events"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kUsage);
  if (args.help()) return std::fputs(kUsage, stdout), kExitOk;

  std::string events_text = kSampleEvents;
  if (args.Given("--events")) {
    std::ifstream in(args.Get("--events"));
    if (!in) return Fail(kExitUsage, "cannot read " + args.Get("--events"));
    std::stringstream buf;
    buf << in.rdbuf();
    events_text = buf.str();
  }
  std::string db = args.Get("--db");
  if (db.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "noxsync-demo-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return Fail(kExitFailure, "cannot create a temporary folder");
    db = tmpl + "/store";
  } else {
    std::error_code ec;
    std::filesystem::remove_all(db, ec);
  }

  // The narration says what happens; retries during the staged outage would
  // only repeat it. NOXSYNC_LOG_LEVEL brings the log lines back.
  if (std::getenv("NOXSYNC_LOG_LEVEL") == nullptr) spdlog::set_level(spdlog::level::off);
  SystemClock wall;
  ManualClock clock(wall.NowMicros());
  ClockSleeper sleeper(&clock);
  fakes::FakeJira jira(clock, {});
  fakes::FakeServiceNow servicenow(clock, {});
  fakes::FakeHttpServer jira_server, sn_server;
  std::string error;
  if (!jira_server.Start(0, [&](const fakes::FakeRequest& r) { return jira.Handle(r); }, &error) ||
      !sn_server.Start(0, [&](const fakes::FakeRequest& r) { return servicenow.Handle(r); }, &error)) {
    return Fail(kExitFailure, "cannot start the fake backends: " + error);
  }
  jira.set_base_url(jira_server.base_url());

  // The configuration a user would write, secrets in the environment.
  std::filesystem::create_directories(std::filesystem::path(db).parent_path().empty()
                                          ? std::filesystem::path(".")
                                          : std::filesystem::path(db).parent_path());
  std::string config_path = db + ".config.json";
  std::ofstream(config_path) << "{\n  \"backends\": {\n    \"jira\": {\"base_url\": \"" << jira_server.base_url()
                             << "\", \"email\": \"noxsync@acme.example\", \"api_token\": \"${DEMO_JIRA_TOKEN}\",\n"
                                "             \"project\": \"SEC\", \"issue_type\": \"Security\"},\n"
                                "    \"servicenow\": {\"instance_url\": \""
                             << sn_server.base_url()
                             << "\", \"username\": \"svc_noxsync\",\n"
                                "                   \"password\": \"${DEMO_SERVICENOW_PASSWORD}\", \"http\": {\"max_attempts\": 2}}\n"
                                "  },\n  \"sync\": {\"poll_interval_seconds\": 60, \"max_attempts\": 2, "
                                "\"sla_escalation_raise_priority\": true}\n}\n";
  ::setenv("DEMO_JIRA_TOKEN", "fake-jira-api-token", 1);
  ::setenv("DEMO_SERVICENOW_PASSWORD", "fake-servicenow-password", 1);
  ConfigProblems problems;
  NoxsyncConfig config = LoadConfig(config_path, &problems);
  if (!problems.ok()) {
    PrintProblems(config_path, problems);
    return kExitFailure;
  }
  EngineSetup setup;
  if (Status s = BuildEngineSetup(config, clock, sleeper, &setup); !s.ok()) return Fail(kExitFailure, s.message());
  EventLogOptions opts;
  opts.holder = "noxsync demo";
  auto log_result = EventLog::OpenForWrite(db, opts);
  if (!log_result.ok()) return Fail(kExitFailure, log_result.status().message());
  EventLog& log = **log_result;
  SyncEngine engine(&log, setup.backends, &clock, config.sync);
  int failures = 0;
  auto run = [&]() {
    Status s = engine.RunOnce();
    if (!s.ok()) {
      std::printf("  ✗ %s\n", s.message().c_str());
      ++failures;
    }
  };

  std::printf("noxsync demo: fake Jira at %s, fake ServiceNow at %s\nconfiguration: %s\nstore: %s\n",
              jira_server.base_url().c_str(), sn_server.base_url().c_str(), config_path.c_str(), db.c_str());

  Step("Ingest the sample Noxys events");
  {
    Ingestor ingestor(&log, &clock);
    std::vector<IngestLine> lines;
    std::istringstream in(events_text);
    std::string line;
    uint64_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty()) lines.push_back({line, n, ""});
    }
    std::vector<IngestResult> results;
    if (Status s = ingestor.Ingest(lines, "samples", &results); !s.ok()) return Fail(kExitFailure, s.message());
    int opened = 0;
    for (const auto& r : results) opened += r.kind == IngestResult::Kind::kAccepted && r.opened;
    std::printf("  %zu events, %d incidents\n", lines.size(), opened);
  }

  Step("Sync: the rules turn incidents into Jira issues and ServiceNow incidents");
  run();
  const EngineStats& st = engine.stats();
  std::printf("  %llu tickets created; %llu incidents matched no rule (the log says so)\n",
              static_cast<unsigned long long>(st.tickets_created), static_cast<unsigned long long>(st.no_rule));
  ShowRecords(log, "inc_00000001", 3, 4);

  Step("A person moves SEC-1 to In Progress in Jira; the next poll brings it in, ServiceNow follows");
  clock.Advance(60'000'000);
  uint64_t mark = HeadSeq(log) + 1;
  jira.Move("SEC-1", "In Progress", &error);
  clock.Advance(60'000'000);
  run();
  ShowRecords(log, "inc_00000001", mark);
  auto sn1 = servicenow.Record("INC0000001");
  Check(sn1 && sn1->fields.at("state") == "2", "ServiceNow INC0000001 is In Progress (state 2)", &failures);

  Step("Resolved in Noxys (noxsync incident set-status): both tickets follow");
  mark = HeadSeq(log) + 1;
  engine.SetStatus("inc_00000002", IncidentStatus::kResolved, "noxys", "user coached; prompt deleted");
  run();
  ShowRecords(log, "inc_00000002", mark);

  Step("An hour passes: open Critical incidents breach their 1 h SLA; noxsync escalates");
  mark = HeadSeq(log) + 1;
  clock.Advance(61 * 60'000'000LL);
  run();
  std::printf("  %llu SLA breaches recorded (once each), with a comment or work note on every ticket\n",
              static_cast<unsigned long long>(engine.stats().sla_breaches));
  ShowRecords(log, "inc_00000006", mark, 4);

  Step("Three more hours: open High incidents breach their 4 h SLA; their tickets are raised to Critical");
  mark = HeadSeq(log) + 1;
  clock.Advance(3 * 3600'000'000LL);
  run();
  {
    std::string raised_incident, raised_key;
    log.ScanLog(mark, [&](const LogRecord& r) {
      if (r.type == record_type::kTicketPriorityChanged && r.payload.find("\"backend\":\"jira\"") != std::string::npos) {
        raised_incident = r.incident;
        return false;
      }
      return true;
    });
    Check(!raised_incident.empty(), "a High incident's tickets were raised to Critical", &failures);
    if (!raised_incident.empty()) {
      ShowRecords(log, raised_incident, mark, 6);
      for (const auto& issue : jira.Issues()) {
        for (const auto& l : issue.labels) {
          if (l == "noxys-inc-" + raised_incident) raised_key = issue.key + " is now " + issue.priority;
        }
      }
      Check(raised_key.find("Highest") != std::string::npos, "Jira " + raised_key, &failures);
    }
  }

  Step("A day passes: COACH incidents with no new event are resolved, in Noxys and in their tickets");
  clock.Advance(24 * 3600'000'000LL);
  run();
  std::printf("  %llu incidents auto-resolved\n", static_cast<unsigned long long>(engine.stats().auto_resolved));

  Step("ServiceNow goes down while a new event arrives: Jira's ticket is not held up; ServiceNow's is given up");
  servicenow.InjectFault(fakes::FakeFault{"GET /api/now/table/incident", 503, "", 0, fakes::Fault::kNone, false, 1000});
  std::string incident;
  {
    Ingestor ingestor(&log, &clock);
    std::vector<IngestResult> results;
    ingestor.Ingest({{R"({"event_id":"evt_demo_outage","timestamp":"2026-03-21T09:00:00Z","platform_id":"gemini","platform_name":"Gemini","user_email":"zoe@acme.fr","risk_score":0.97,"classifications":[{"type":"IBAN","value":"FR76 ****","confidence":0.93}],"policy_decisions":{"action":"BLOCK","policy_id":"pol_block_pii","policy_name":"Block PII"}})",
                      0, ""}},
                    "demo", &results);
    incident = results.empty() ? "" : results[0].incident;
  }
  mark = HeadSeq(log) + 1;
  for (int i = 0; i < 3; ++i) {
    run();
    clock.Advance(10 * 60'000'000LL);
  }
  ShowRecords(log, incident, mark, 6);

  Step("ServiceNow is back: replay --since creates the missing ticket; a second replay creates nothing");
  servicenow.ClearFaults();
  std::vector<SyncEngine::Planned> planned, again;
  int64_t since = 0;
  ParseTimestamp("2026-03-21", &since);
  engine.Replay(since, INT64_MAX, false, &planned);
  engine.DrainOutbox();
  engine.Replay(since, INT64_MAX, false, &again);
  std::printf("  first replay: %zu missing ticket(s) created; second replay: %zu\n", planned.size(), again.size());
  ShowRecords(log, incident, HeadSeq(log) - 1, 2);

  Step("Summary");
  std::map<std::string, int> per_incident_jira, per_incident_sn;
  for (const auto& issue : jira.Issues()) {
    for (const auto& l : issue.labels) {
      if (l.rfind("noxys-inc-", 0) == 0) ++per_incident_jira[l.substr(10)];
    }
  }
  for (const auto& rec : servicenow.Records()) ++per_incident_sn[rec.fields.at("correlation_id")];
  bool no_dup = true;
  for (const auto& [_, n] : per_incident_jira) no_dup = no_dup && n == 1;
  for (const auto& [_, n] : per_incident_sn) no_dup = no_dup && n == 1;
  std::printf("  %zu Jira issues, %zu ServiceNow incidents, %llu log records\n", jira.Issues().size(),
              servicenow.Records().size(), static_cast<unsigned long long>(HeadSeq(log)));
  Check(no_dup, "no incident has two tickets on one backend", &failures);
  Check(again.empty(), "replaying twice created nothing the second time", &failures);
  uint64_t pending = 0;
  engine.PendingActions(&pending);
  Check(pending == 0, "nothing left in the outbox", &failures);
  VerifyReport report;
  bool intact = log.VerifyChain(&report).ok() && report.first_bad_seq == 0;
  Check(intact, "verify: the hash chain is intact (" + std::to_string(report.records) + " records)", &failures);
  std::printf("\nExplore it: noxsync history SEC-1 --db %s; noxsync incidents --db %s\n", db.c_str(), db.c_str());
  return failures == 0 ? kExitOk : kExitFailure;
}

}  // namespace noxsync::cli
