// The engine's commands: `sync` (drain the outbox, poll the backends, in a
// loop until SIGTERM), `incident set-status` (a Noxys-side status change),
// and `config check`.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/engine_setup.h"
#include "store/event_log.h"
#include "sync/engine.h"

namespace noxsync::cli {
namespace {

constexpr const char* kSyncUsage = R"(usage: noxsync sync --config FILE [--once] [--db PATH]

Runs the sync engine: requests the tickets the rules ask for (new incidents
since the last run included), drains the outbox (creates, transitions,
comments, with retries), and polls each backend for changes people made,
moving the incidents and their other tickets. Loops every
sync.poll_interval_seconds until SIGTERM or Ctrl-C, which stop it after the
step in flight; --once makes one pass and prints what it did.

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

void PrintStats(const EngineStats& s, uint64_t pending) {
  std::printf("tickets created %llu (found after a crash %llu, requested %llu, given up %llu); transitions %llu; "
              "comments %llu; changes from tickets %llu; conflicts %llu; incidents without a rule %llu; "
              "actions waiting %llu\n",
              static_cast<unsigned long long>(s.tickets_created),
              static_cast<unsigned long long>(s.tickets_found_existing),
              static_cast<unsigned long long>(s.tickets_requested),
              static_cast<unsigned long long>(s.create_failures),
              static_cast<unsigned long long>(s.transitions_applied),
              static_cast<unsigned long long>(s.comments_added),
              static_cast<unsigned long long>(s.status_changes_from_tickets),
              static_cast<unsigned long long>(s.conflicts), static_cast<unsigned long long>(s.no_rule),
              static_cast<unsigned long long>(pending));
}

}  // namespace

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
  SystemClock clock;
  SystemSleeper sleeper;
  EngineSetup setup;
  if (Status s = BuildEngineSetup(config, clock, sleeper, &setup); !s.ok()) return Fail(kExitUsage, s.message());
  EventLogOptions opts;
  opts.holder = "noxsync sync";
  auto log = EventLog::OpenForWrite(StorePath(args), opts);
  if (!log.ok()) return Fail(kExitFailure, log.status().message());
  SyncEngine engine(log->get(), setup.backends, &clock, config.sync, setup.notify.get());
  InstallStopHandlers();
  int64_t interval = config.sync.poll_interval_us;
  for (;;) {
    Status s = engine.RunOnce();
    if (!s.ok()) {
      if (setup.notify) setup.notify->Stop();
      return Fail(kExitFailure, "sync stopped: " + s.message());
    }
    if (args.Has("--once") || g_stop) break;
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(interval);
    while (!g_stop && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (g_stop) break;
  }
  if (setup.notify) setup.notify->Stop();
  uint64_t pending = 0;
  engine.PendingActions(&pending);
  PrintStats(engine.stats(), pending);
  if (g_stop) std::fprintf(stderr, "noxsync: stopped; nothing in flight was lost (waiting actions run next time)\n");
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
  SystemClock clock;
  SystemSleeper sleeper;
  EngineSetup setup;
  if (Status s = BuildEngineSetup(config, clock, sleeper, &setup); !s.ok()) return Fail(kExitUsage, s.message());
  EventLogOptions opts;
  opts.holder = "noxsync incident set-status";
  auto log = EventLog::OpenForWrite(StorePath(args), opts);
  if (!log.ok()) return Fail(kExitFailure, log.status().message());
  SyncEngine engine(log->get(), setup.backends, &clock, config.sync, setup.notify.get());
  Status s = engine.SetStatus(pos[1], to, "noxys", args.Get("--note"));
  if (!s.ok()) return Fail(kExitFailure, s.message());
  std::printf("%s is now %s\n", pos[1].c_str(), IncidentStatusName(to));
  if (!setup.backends.empty()) {
    if (Status d = engine.DrainOutbox(); !d.ok()) return Fail(kExitFailure, d.message());
    std::printf("tickets moved: %llu\n", static_cast<unsigned long long>(engine.stats().transitions_applied));
  }
  uint64_t pending = 0;
  engine.PendingActions(&pending);
  if (pending > 0) {
    std::printf("%llu ticket update(s) waiting; `noxsync sync` sends them\n", static_cast<unsigned long long>(pending));
  }
  if (setup.notify) setup.notify->Stop();
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
