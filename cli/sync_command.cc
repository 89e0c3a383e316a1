// The engine's commands: `sync` (drain the outbox, poll the backends, in a
// loop until SIGTERM), `incident set-status` (a Noxys-side status change),
// and `config check`.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/engine_setup.h"
#include "cli/logging.h"
#include "store/event_log.h"
#include "sync/engine.h"
#include "sync/timestamp.h"

namespace noxsync::cli {
namespace {

constexpr const char* kSyncUsage = R"(usage: noxsync sync --config FILE [--once] [--db PATH]

Runs the sync engine: requests the tickets the rules ask for (new incidents
since the last run included), drains the outbox (creates, transitions,
comments, with retries), and polls each backend for changes people made,
moving the incidents and their other tickets. Loops every
sync.poll_interval_seconds until SIGTERM or Ctrl-C, which stop it after the
step in flight; --once makes one pass and prints what it did. While the
store's disk is nearly full the loop writes nothing and makes no ticket,
says so once a minute, and goes on by itself once space is freed (--once
exits 1 instead).

The store is opened for writing: run it where `ingest` does not run at the
same time (one writer per store).

Exit: 0 done or stopped, 1 the store failed, 2 usage or configuration error.
)";

constexpr const char* kIncidentUsage = R"(usage: noxsync incident set-status ID STATUS [--note TEXT] [--config FILE] [--db PATH]

Changes an incident's status in Noxys (Open, "In Progress", Resolved,
Closed), records it in the log with the note, and queues the change for
every ticket of the incident. With --config the tickets are updated now;
without, the next `noxsync sync` does it.

Exit: 0 done, 1 no such incident or the store failed, 2 usage error.
)";

constexpr const char* kConfigUsage = R"(usage: noxsync config check --config FILE

Reads the configuration and reports every problem (unknown keys, wrong
types, unknown template placeholders, unset environment variables), each
with its JSON path, then what it configures. Contacts nothing.

Exit: 0 valid, 2 invalid.
)";

std::atomic<bool> g_stop{false};
void OnStop(int) { g_stop = true; }

void InstallStopHandlers() {
  struct sigaction sa{};
  sa.sa_handler = OnStop;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

// Loads the config, printing its problems; false (and *code) when unusable.
bool Load(const std::string& path, NoxsyncConfig* config, int* code) {
  ConfigProblems problems;
  *config = LoadConfig(path, &problems);
  PrintProblems(path, problems);
  if (!problems.ok()) {
    *code = kExitUsage;
    return false;
  }
  return true;
}

// What each engine command holds while it runs: the backends from the
// config, the store open for writing, the engine over both.
struct EngineRun {
  SystemClock clock;
  SystemSleeper sleeper;
  EngineSetup setup;
  std::unique_ptr<EventLog> log;
  std::unique_ptr<SyncEngine> engine;
  // The dispatcher's workers record into the store: they stop first.
  ~EngineRun() {
    if (setup.notify) setup.notify->Stop();
    setup.record_to->store(nullptr);
  }
};

// kExitOk with *run ready, or the exit code after saying why not.
int OpenEngine(const NoxsyncConfig& config, const Args& args, const char* holder, EngineRun* run) {
  if (Status s = BuildEngineSetup(config, run->clock, run->sleeper, &run->setup); !s.ok()) {
    return Fail(kExitUsage, s.message());
  }
  EventLogOptions opts;
  opts.holder = holder;
  auto log = EventLog::OpenForWrite(StorePath(args), opts);
  if (!log.ok()) return Fail(kExitFailure, log.status().message());
  run->log = std::move(log).value();
  run->setup.record_to->store(run->log.get());
  run->engine = std::make_unique<SyncEngine>(run->log.get(), run->setup.backends, &run->clock, config.sync,
                                             run->setup.notify.get());
  return kExitOk;
}

void PrintStats(const EngineStats& s, uint64_t pending) {
  std::printf("tickets created %llu (found after a crash %llu, requested %llu, given up %llu); transitions %llu; "
              "comments %llu; priorities raised %llu; changes from tickets %llu; conflicts %llu; incidents without a rule %llu; "
              "actions waiting %llu\n",
              static_cast<unsigned long long>(s.tickets_created),
              static_cast<unsigned long long>(s.tickets_found_existing),
              static_cast<unsigned long long>(s.tickets_requested),
              static_cast<unsigned long long>(s.create_failures),
              static_cast<unsigned long long>(s.transitions_applied),
              static_cast<unsigned long long>(s.comments_added),
              static_cast<unsigned long long>(s.priorities_changed),
              static_cast<unsigned long long>(s.status_changes_from_tickets),
              static_cast<unsigned long long>(s.conflicts), static_cast<unsigned long long>(s.no_rule),
              static_cast<unsigned long long>(pending));
}

constexpr const char* kSlaUsage = R"(usage: noxsync sla [--config FILE] [--json] [--db PATH]

Lists the open incidents that have tickets, by SLA deadline: time left, or
how long overdue and whether the breach is recorded. Deadlines come from the
priority map (the configuration's, else the defaults: Critical 1 h, High 4 h,
Medium 1 d, Low 5 d to leave Open). Reads only.

Exit: 0 listed, 1 the store failed, 2 usage or configuration error.
)";

std::string Duration(int64_t us) {
  int64_t m = (us < 0 ? -us : us) / 60'000'000;
  char buf[48];
  if (m >= 1440) {
    std::snprintf(buf, sizeof buf, "%lldd %02lldh", static_cast<long long>(m / 1440), static_cast<long long>(m % 1440 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(m / 60), static_cast<long long>(m % 60));
  }
  return buf;
}

}  // namespace

int RunSla(const Argv& argv) {
  Args args({"--json"}, {"--config", "--db"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kSlaUsage);
  if (args.help()) return std::fputs(kSlaUsage, stdout), kExitOk;
  NoxsyncConfig config;
  int code = kExitOk;
  if (args.Given("--config") && !Load(args.Get("--config"), &config, &code)) return code;
  auto log = EventLog::OpenForRead(StorePath(args));
  if (!log.ok()) return Fail(log.status().IsNotFound() ? kExitUsage : kExitFailure, log.status().message());
  std::vector<SlaStanding> standings;
  if (Status s = SlaStandings(**log, config.sync, &standings); !s.ok()) return Fail(kExitFailure, s.message());
  int64_t now = SystemClock().NowMicros();
  if (args.Has("--json")) {
    std::string out = "[";
    for (size_t i = 0; i < standings.size(); ++i) {
      const auto& st = standings[i];
      out += (i ? "," : "") + std::string("{\"incident\":\"") + st.incident + "\",\"priority\":\"" +
             SeverityName(st.priority) + "\",\"deadline\":\"" + st.deadline + "\",\"due\":\"" +
             FormatTimestamp(st.due_us) + "\",\"overdue\":" + (st.due_us < now ? "true" : "false") +
             ",\"breach_recorded\":" + (st.breached ? "true" : "false") + "}";
    }
    std::printf("%s]\n", out.c_str());
    return kExitOk;
  }
  std::printf("%-14s  %-8s  %-10s  %-24s  %s\n", "INCIDENT", "PRIORITY", "DEADLINE", "DUE (UTC)", "STANDING");
  for (const auto& st : standings) {
    std::string standing = st.due_us >= now ? Duration(st.due_us - now) + " left"
                                            : "overdue by " + Duration(now - st.due_us) +
                                                  (st.breached ? " (breach recorded)" : " (breach not yet recorded)");
    std::printf("%-14s  %-8s  %-10s  %-24s  %s\n", st.incident.c_str(), SeverityName(st.priority), st.deadline.c_str(),
                FormatTimestamp(st.due_us).c_str(), standing.c_str());
  }
  if (standings.empty()) std::printf("(no open incident with tickets)\n");
  return kExitOk;
}

int RunReplaySince(const Args& args) {
  if (!args.Given("--config")) return Fail(kExitUsage, "replay --since needs --config FILE (the rules and backends)");
  int64_t since = 0, until = INT64_MAX;
  if (std::string err; !ParseTimeRange(args, &since, &until, &err)) return Fail(kExitUsage, err);
  NoxsyncConfig config;
  int code = kExitOk;
  if (!Load(args.Get("--config"), &config, &code)) return code;
  EngineRun run;
  if (int rc = OpenEngine(config, args, "noxsync replay --since", &run); rc != kExitOk) return rc;
  SyncEngine& engine = *run.engine;
  bool dry = args.Has("--dry-run");
  std::vector<SyncEngine::Planned> planned;
  if (Status s = engine.Replay(since, until, dry, &planned); !s.ok()) return Fail(kExitFailure, s.message());
  for (const auto& p : planned) {
    std::printf("%s %s ticket for %s (rule %s, %s)\n", dry ? "would create" : "requested", p.backend.c_str(),
                p.incident.c_str(), p.rule.c_str(), p.priority.c_str());
  }
  if (!dry && !planned.empty()) {
    if (Status s = engine.DrainOutbox(); !s.ok()) return Fail(kExitFailure, s.message());
  }
  if (run.setup.notify) run.setup.notify->Stop();
  std::printf("%zu missing ticket(s)%s\n", planned.size(),
              dry ? " (dry run: nothing written)"
                  : ("; created " + std::to_string(engine.stats().tickets_created) + ", found existing " +
                     std::to_string(engine.stats().tickets_found_existing))
                        .c_str());
  return kExitOk;
}

int RunSync(const Argv& argv) {
  Args args({"--once"}, {"--config", "--db"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kSyncUsage);
  if (args.help()) return std::fputs(kSyncUsage, stdout), kExitOk;
  if (!args.Given("--config")) return Fail(kExitUsage, std::string("--config FILE is required\n") + kSyncUsage);
  NoxsyncConfig config;
  int code = kExitOk;
  if (!Load(args.Get("--config"), &config, &code)) return code;
  if (config.BackendNames().empty()) {
    return Fail(kExitUsage, args.Get("--config") + ": no backend configured (backends.jira, backends.servicenow)");
  }
  EngineRun run;
  if (int rc = OpenEngine(config, args, "noxsync sync", &run); rc != kExitOk) return rc;
  SyncEngine& engine = *run.engine;
  InstallStopHandlers();
  const int64_t interval = config.sync.poll_interval_us;
  OncePerMinute disk_full_said;
  for (;;) {
    Status s = engine.RunOnce();
    bool disk_short = false;
    if (s.code() == Status::Code::kUnavailable && !args.Has("--once") && !run.log->CheckRoom(0).ok()) {
      // Refused before anything was written (EventLog::CheckRoom): what the
      // pass was for is still owed, and the loop goes on by itself once
      // space is freed, as serve's engine does. Said once a minute at most.
      disk_short = true;
      if (disk_full_said.Due(run.clock.NowMicros())) {
        spdlog::warn("sync: waiting until space is freed, then going on: {}", s.message());
      }
    } else if (!s.ok()) {
      if (run.setup.notify) run.setup.notify->Stop();
      return Fail(kExitFailure, "sync stopped: " + s.message());
    } else if (disk_full_said.Clear()) {
      spdlog::info("sync: the store's disk has room again; going on");
    }
    if (args.Has("--once") || g_stop) break;
    const int64_t wait = disk_short ? std::min<int64_t>(interval, 5'000'000) : interval;
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(wait);
    while (!g_stop && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (g_stop) break;
  }
  if (run.setup.notify) run.setup.notify->Stop();
  uint64_t pending = 0;
  engine.PendingActions(&pending);
  PrintStats(engine.stats(), pending);
  if (g_stop) Announce(Say::kInfo, "stopped; nothing in flight was lost (waiting actions run next time)");
  return kExitOk;
}

int RunIncident(const Argv& argv) {
  Args args({}, {"--note", "--config", "--db"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kIncidentUsage);
  if (args.help()) return std::fputs(kIncidentUsage, stdout), kExitOk;
  const auto& pos = args.positional();
  if (pos.size() != 3 || pos[0] != "set-status") {
    return Fail(kExitUsage, std::string("expected: incident set-status ID STATUS\n") + kIncidentUsage);
  }
  IncidentStatus to;
  if (!ParseIncidentStatus(pos[2], &to)) {
    return Fail(kExitUsage, "\"" + pos[2] + "\" is not a status; use Open, \"In Progress\", Resolved, Closed");
  }
  NoxsyncConfig config;
  int code = kExitOk;
  if (args.Given("--config") && !Load(args.Get("--config"), &config, &code)) return code;
  EngineRun run;
  if (int rc = OpenEngine(config, args, "noxsync incident set-status", &run); rc != kExitOk) return rc;
  SyncEngine& engine = *run.engine;
  bool changed = false;
  Status s = engine.SetStatus(pos[1], to, "noxys", args.Get("--note"), &changed);
  if (!s.ok()) return Fail(kExitFailure, s.message());
  if (changed) {
    std::printf("%s is now %s\n", pos[1].c_str(), IncidentStatusName(to));
  } else {
    std::printf("%s is already %s: nothing recorded%s\n", pos[1].c_str(), IncidentStatusName(to),
                args.Given("--note") ? " (a note is kept with a change of status only)" : "");
  }
  if (!run.setup.backends.empty()) {
    if (Status d = engine.DrainOutbox(); !d.ok()) return Fail(kExitFailure, d.message());
    std::printf("tickets moved: %llu\n", static_cast<unsigned long long>(engine.stats().transitions_applied));
  }
  uint64_t pending = 0;
  engine.PendingActions(&pending);
  if (pending > 0) {
    std::printf("%llu ticket update(s) waiting; `noxsync sync` sends them\n", static_cast<unsigned long long>(pending));
  }
  if (run.setup.notify) run.setup.notify->Stop();
  return kExitOk;
}

int RunConfig(const Argv& argv) {
  Args args({}, {"--config"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kConfigUsage);
  if (args.help()) return std::fputs(kConfigUsage, stdout), kExitOk;
  if (args.positional().size() != 1 || args.positional()[0] != "check" || !args.Given("--config")) {
    return Fail(kExitUsage, std::string("expected: config check --config FILE\n") + kConfigUsage);
  }
  ConfigProblems problems;
  std::string path = args.Get("--config");
  NoxsyncConfig config = LoadConfig(path, &problems);
  PrintProblems(path, problems);
  if (!problems.ok()) {
    std::fprintf(stderr, "noxsync: %zu problem(s) in %s\n", problems.errors.size(), path.c_str());
    return kExitUsage;
  }
  std::string backends;
  for (const auto& b : config.BackendNames()) backends += (backends.empty() ? "" : ", ") + b;
  std::printf("%s is valid: backends %s; %zu rule(s); %zu notification channel(s); poll every %lld s\n", path.c_str(),
              backends.empty() ? "none" : backends.c_str(), config.sync.rules.size(), config.notifications.size(),
              static_cast<long long>(config.sync.poll_interval_us / 1'000'000));
  return kExitOk;
}

}  // namespace noxsync::cli
