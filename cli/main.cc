// noxsync: the command-line entry point; dispatches to sub-commands.

#include <cstdio>
#include <cstring>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/logging.h"

namespace {

constexpr const char* kUsage = R"(noxsync: Noxys incidents -> Jira / ServiceNow tickets, with a tamper-evident audit log

usage: noxsync COMMAND [options]     (noxsync COMMAND --help for each)

Commands:
  ingest FILE|-   store Noxys events (JSON lines) in the event log
  incidents       list incidents (--status, --platform, --since, --until)
  history ID      what happened to an incident (or the incident of an event)
  verify          recompute the hash chain of the event log
  replay          --rebuild: recreate indexes and projections from the log;
                  --since T: create the tickets missing since T
  sync --config FILE [--once]
                  create tickets by the rules, keep statuses in sync both ways
  incident set-status ID STATUS [--note TEXT]
                  change an incident's status in Noxys and push it to its tickets
  serve --config FILE
                  the sync engine plus the HTTP API: Noxys webhook, incidents,
                  audit stream, health and Prometheus metrics (docs/service.md)
  report          the guide's reports from the log: text, json, csv or html
  backup DIR      a consistent copy of the store, verified (safe while serve runs)
  sla             open incidents by SLA deadline: time left or overdue
  demo            the whole job on sample events against fake Jira and ServiceNow
  config check --config FILE
                  report every problem of a configuration file
  test-connection jira|servicenow --config FILE
                  check credentials, target and rights on a backend

Common options:
  --db PATH       the store (default: $NOXSYNC_DB, else ./noxsync-data)
  --json          machine-readable output, where a person might pipe it
  --log-format F  log lines on stderr as text (default) or json, one object
                  per line with incident, ticket and request id fields
  --log-file PATH log lines to PATH (appended) instead of stderr; serve
                  reopens it on SIGHUP, for logrotate

Exit codes: 0 ok, 1 failure, 2 usage or configuration error.
Docs: docs/cli.md, docs/event-log.md, docs/jira.md, docs/servicenow.md,
      docs/configuration.md
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace noxsync::cli;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  std::string cmd = argv[1];
  Argv rest(argv + 2, argv + argc);
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    if (cmd == "help" && !rest.empty()) {
      cmd = rest[0];
      rest = {"--help"};
    } else {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
  }
  if (cmd == "--version" || cmd == "version") {
    std::printf("noxsync %s\n", NOXSYNC_VERSION);
    return kExitOk;
  }
  // --log-format text|json and --log-file PATH, anywhere after the command.
  std::string log_format = "text", log_file;
  for (size_t i = 0; i < rest.size();) {
    if (rest[i] != "--log-format" && rest[i] != "--log-file") {
      ++i;
      continue;
    }
    if (i + 1 == rest.size() || rest[i + 1].empty()) {
      std::fprintf(stderr, "noxsync: %s needs a value\n", rest[i].c_str());
      return kExitUsage;
    }
    if (rest[i] == "--log-file") {
      log_file = rest[i + 1];
    } else if (rest[i + 1] != "text" && rest[i + 1] != "json") {
      std::fprintf(stderr, "noxsync: --log-format takes text or json\n");
      return kExitUsage;
    } else {
      log_format = rest[i + 1];
    }
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i), rest.begin() + static_cast<std::ptrdiff_t>(i) + 2);
  }
  if (std::string error = SetUpLogging(log_format, log_file); !error.empty()) {
    std::fprintf(stderr, "noxsync: %s\n", error.c_str());
    return kExitUsage;
  }
  if (cmd == "ingest") return RunIngest(rest);
  if (cmd == "history") return RunHistory(rest);
  if (cmd == "incidents") return RunIncidents(rest);
  if (cmd == "verify") return RunVerify(rest);
  if (cmd == "replay") return RunReplay(rest);
  if (cmd == "test-connection") return RunTestConnection(rest);
  if (cmd == "sync") return RunSync(rest);
  if (cmd == "serve") return RunServe(rest);
  if (cmd == "backup") return RunBackup(rest);
  if (cmd == "report") return RunReport(rest);
  if (cmd == "incident") return RunIncident(rest);
  if (cmd == "config") return RunConfig(rest);
  if (cmd == "sla") return RunSla(rest);
  if (cmd == "demo") return RunDemo(rest);
  std::fprintf(stderr, "noxsync: unknown command \"%s\"\n\n%s", cmd.c_str(), kUsage);
  return kExitUsage;
}
