// The audit commands: history, incidents, verify. They open the store as a
// reader, so they work while `ingest` or `serve` holds it for writing.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/timeline.h"
#include "store/event_log.h"
#include "sync/backend.h"
#include "sync/clock.h"
#include "sync/incident.h"
#include "sync/printable.h"
#include "sync/projector.h"
#include "sync/refusals.h"
#include "sync/report.h"
#include "sync/timestamp.h"

namespace noxsync::cli {
namespace {
namespace json = boost::json;

constexpr const char* kHistoryUsage = R"(usage: noxsync history ID [--db PATH] [--json]

Shows what happened to one incident, record by record, from the event log.
ID is an incident id (inc_00000042), a Noxys event id (evt_abc123def456), or
a ticket key (SEC-12, INC0000012). For the id of an event noxsync refused,
which is in no incident, it shows each refusal and its reason.

  --db PATH   the store (default: $NOXSYNC_DB, else ./noxsync-data)
  --json      {"incident": {...}, "records": [...]}, each record with its
              seq, time, type, payload, prev_hash and hash ("incident": null
              and "event_id" for a refused event)

Exit: 0 found, 1 no such incident or event (or the store failed), 2 usage.
)";

constexpr const char* kIncidentsUsage = R"(usage: noxsync incidents [--status S] [--severity S] [--platform P]
                         [--since T] [--until T] [--db PATH] [--json]

Lists incidents, oldest first.

  --status S    Open, "In Progress" (or in-progress), Resolved, Closed
  --severity S  Critical, High, Medium, Low (from the risk score)
  --platform P  platform id as Noxys sends it (chatgpt, claude, ...)
  --since T     only incidents whose first event is at or after T
  --until T     only incidents whose first event is at or before T
                (the incidents `noxsync report` counts over that range)
                T is RFC 3339 (2026-03-20T14:00:00Z) or a date (2026-03-20:
                its 00:00 UTC as --since, the whole day as --until)
  --db PATH     the store (default: $NOXSYNC_DB, else ./noxsync-data)
  --json        one JSON object per line

Exit: 0 ok, 1 the store failed, 2 usage.
)";

constexpr const char* kVerifyUsage = R"(usage: noxsync verify [--db PATH] [--json]

Recomputes the hash chain of the whole event log: every record's hash must be
SHA-256(prev_hash || record), seqs must run 1, 2, 3... without a gap, and the
last hash must be the chain head kept in the store.

Prints "chain intact: N records, head <hash>", or the first seq that fails and
why. Works while another process writes to the store, and on a backup.

  --db PATH   the store (default: $NOXSYNC_DB, else ./noxsync-data)
  --json      {"intact": true, "records": N, "head_seq": N, "head": "<hash>"}

Exit: 0 intact, 1 broken (or the store failed), 2 usage.
)";

Result<std::unique_ptr<EventLog>> OpenReader(const Args& args) {
  return EventLog::OpenForRead(StorePath(args));
}

// `history ID` for an id that is no incident, event or ticket: an event
// noxsync refused is in no incident, yet "no such event" would tell the
// auditor it never came. Its refusals are found through the store's index
// (and, in a store written before the index, by reading that older part).
int RejectedEventHistory(const EventLog& log, const std::string& id, bool as_json) {
  const std::string none = "no incident, event or ticket with id \"" + PrintableText(id) + "\" in " + log.path();
  // An incident id that is not there (mistyped) is no event.
  if (uint64_t number = 0; IncidentNumber(id, &number)) return Fail(kExitFailure, none + " (see `noxsync incidents`)");
  std::vector<std::pair<uint64_t, uint64_t>> unindexed;
  if (Status s = log.UnindexedRefusalRanges(&unindexed); !s.ok()) return Fail(kExitFailure, s.message());
  uint64_t unindexed_records = 0;
  for (const auto& [first, last] : unindexed) unindexed_records += last - first + 1;
  if (unindexed_records > 4'000'000) {
    std::fprintf(stderr,
                 "noxsync: %s; reading the refusals among the %llu records written by a version without the "
                 "refusal index (`noxsync replay --rebuild` indexes them)...\n",
                 none.c_str(), static_cast<unsigned long long>(unindexed_records));
  }
  std::vector<uint64_t> seqs, page;
  uint64_t from = 0, next = 0;
  do {
    if (Status s = FindRefusals(log, id, from, 100'000, &page, &next); !s.ok()) return Fail(kExitFailure, s.message());
    seqs.insert(seqs.end(), page.begin(), page.end());
    from = next;
  } while (next != 0);
  if (seqs.empty()) return Fail(kExitFailure, none + ", and no event refused with that id (see `noxsync incidents`)");
  std::string out;
  if (as_json) {
    out = "{\"event_id\":" + json::serialize(json::value(id)) + ",\"incident\":null,\"records\":[";
  } else {
    out = "Event " + PrintableText(id) + "  refused, in no incident\n  refused " + std::to_string(seqs.size()) +
          (seqs.size() == 1 ? " time" : " times") +
          "; nothing of it was taken. Fix what the reason names and send it again\n\n";
    out += FormatTimelineColumns();
  }
  // Printed as read: an id a sender kept resending is refused as often.
  LogRecord r;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (Status s = ReadRefusal(log, id, seqs[i], &r); !s.ok()) return Fail(kExitFailure, s.message());
    out += as_json ? (i ? "," : "") + RecordToJson(r) : FormatTimelineRecord(r);
    if (out.size() >= (1 << 20)) {
      std::fputs(out.c_str(), stdout);
      out.clear();
    }
  }
  if (as_json) out += "]}\n";
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

}  // namespace

int RunHistory(const Argv& argv) {
  Args args({"--json"}, {"--db"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kHistoryUsage);
  if (args.help()) return std::fputs(kHistoryUsage, stdout), kExitOk;
  if (args.positional().size() != 1) return Fail(kExitUsage, std::string("history takes one ID\n") + kHistoryUsage);
  const std::string id = args.positional()[0];

  auto log = OpenReader(args);
  if (!log.ok()) return Fail(log.status().IsNotFound() ? kExitUsage : kExitFailure, log.status().message());
  StagedState state(log->get());
  Projector view(&state);

  Incident inc;
  bool found = false;
  Status s = view.FindIncident(id, &inc, &found);
  if (s.ok() && !found) {
    std::string incident_id;
    s = view.IncidentForEvent(id, &incident_id, &found);
    if (s.ok() && found) s = view.FindIncident(incident_id, &inc, &found);
  }
  // A ticket key: SEC-12, INC0000012.
  for (std::string_view backend : kBackendNames) {
    if (!s.ok() || found) break;
    std::string incident_id;
    Status g = (*log)->Get(Cf::kByTicket, TicketKeyKey(backend, id), &incident_id);
    if (g.ok()) {
      s = view.FindIncident(incident_id, &inc, &found);
    } else if (!g.IsNotFound()) {
      s = g;
    }
  }
  if (!s.ok()) return Fail(kExitFailure, s.message());
  if (!found) return RejectedEventHistory(**log, id, args.Has("--json"));
  // Printed as it is read, a MiB at a time: an incident that recurs for
  // months has records by the hundred thousand, more than to hold in memory.
  const bool as_json = args.Has("--json");
  std::string out = as_json ? "{\"incident\":" + IncidentToDisplayJson(inc) + ",\"records\":[" : FormatTimelineHead(inc);
  std::fputs(out.c_str(), stdout);
  out.clear();
  uint64_t from = 0, next = 0;
  bool first = true;
  do {
    s = (*log)->IncidentRecords(
        inc.id, from, 10000,
        [&](const LogRecord& r) {
          if (as_json && !first) out += ',';
          out += as_json ? RecordToJson(r) : FormatTimelineRecord(r);
          first = false;
          if (out.size() >= (1 << 20)) {  // records carry their raw events, which may be large
            std::fputs(out.c_str(), stdout);
            out.clear();
          }
          return true;
        },
        &next);
    std::fputs(out.c_str(), stdout);
    out.clear();
    if (!s.ok()) {
      std::fflush(stdout);
      return Fail(kExitFailure, s.message());
    }
    from = next;
  } while (next != 0);
  if (as_json) std::fputs("]}\n", stdout);
  return kExitOk;
}

int RunIncidents(const Argv& argv) {
  Args args({"--json"}, {"--db", "--status", "--severity", "--platform", "--since", "--until"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kIncidentsUsage);
  if (args.help()) return std::fputs(kIncidentsUsage, stdout), kExitOk;
  if (!args.positional().empty()) return Fail(kExitUsage, std::string("incidents takes no ID; try `noxsync history ID`\n") + kIncidentsUsage);
  IncidentStatus status{};
  if (args.Given("--status") && !ParseIncidentStatus(args.Get("--status"), &status)) {
    return Fail(kExitUsage, "--status: expected Open, \"In Progress\", Resolved or Closed, got \"" +
                                args.Get("--status") + "\"");
  }
  Severity severity{};
  if (args.Given("--severity") && !ParseSeverity(args.Get("--severity"), &severity)) {
    return Fail(kExitUsage, "--severity: expected Critical, High, Medium or Low, got \"" + args.Get("--severity") + "\"");
  }
  int64_t since = INT64_MIN, until = INT64_MAX;
  if (!ParseTimeRange(args, &since, &until, &err)) return Fail(kExitUsage, err);
  const std::string platform = args.Get("--platform");
  const bool as_json = args.Has("--json");

  auto log = OpenReader(args);
  if (!log.ok()) return Fail(log.status().IsNotFound() ? kExitUsage : kExitFailure, log.status().message());

  if (!as_json) {
    std::printf("%-13s  %-11s  %-8s  %-10s  %-24s  %-6s  %-22s  %6s  %s\n", "INCIDENT", "STATUS", "SEVERITY",
                "PLATFORM", "USER", "ACTION", "CLASSIFICATIONS", "EVENTS", "LAST SEEN (UTC)");
  }
  uint64_t shown = 0;
  Status bad;
  Status s = (*log)->Scan(Cf::kIncidents, "", [&](std::string_view, std::string_view value) {
    Incident inc;
    if (bad = IncidentFromJson(value, &inc); !bad.ok()) return false;
    if (args.Given("--status") && inc.status != status) return true;
    if (args.Given("--severity") && inc.severity != severity) return true;
    if (!platform.empty() && inc.platform_id != platform) return true;
    // By the first event, as `report` and the API count an incident in a
    // range: the same range lists what the report counts.
    if (inc.first_seen_us < since || inc.first_seen_us > until) return true;
    ++shown;
    if (as_json) {
      std::printf("%s\n", IncidentToDisplayJson(inc).c_str());
      return true;
    }
    std::string types;
    for (const auto& t : inc.classification_types) types += (types.empty() ? "" : ",") + t;
    // Text from events padded by terminal columns: printf pads by bytes.
    std::printf("%-13s  %-11s  %-8s  %s  %s  %-6s  %s  %6llu  %s\n", inc.id.c_str(), IncidentStatusName(inc.status),
                SeverityName(inc.severity), PadToColumns(PrintableText(inc.platform_id), 10).c_str(),
                PadToColumns(PrintableText(inc.user_email), 24).c_str(), PolicyActionName(inc.action),
                PadToColumns(PrintableText(types), 22).c_str(), static_cast<unsigned long long>(inc.occurrences),
                FormatTimestamp(inc.last_seen_us).c_str());
    return true;
  });
  if (!s.ok()) return Fail(kExitFailure, s.message());
  if (!bad.ok()) return Fail(kExitFailure, bad.message() + "; run `noxsync replay --rebuild`");
  if (!as_json) std::printf("%llu incidents\n", static_cast<unsigned long long>(shown));
  return kExitOk;
}

int RunVerify(const Argv& argv) {
  Args args({"--json"}, {"--db"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kVerifyUsage);
  if (args.help()) return std::fputs(kVerifyUsage, stdout), kExitOk;
  if (!args.positional().empty()) return Fail(kExitUsage, std::string("verify takes no argument\n") + kVerifyUsage);

  auto log = OpenReader(args);
  if (!log.ok()) return Fail(log.status().IsNotFound() ? kExitUsage : kExitFailure, log.status().message());
  VerifyReport report;
  if (Status s = (*log)->VerifyChain(&report); !s.ok()) return Fail(kExitFailure, s.message());
  const bool intact = report.first_bad_seq == 0;
  const bool index_ok = report.index_problem.empty();
  if (args.Has("--json")) {
    std::printf("{\"intact\":%s,\"records\":%llu,\"head_seq\":%llu,\"head\":\"%s\"", intact ? "true" : "false",
                static_cast<unsigned long long>(report.records),
                static_cast<unsigned long long>(report.head.seq), HashHex(report.head.hash).c_str());
    if (!intact) {
      std::string problem = report.problem;
      for (auto& c : problem) if (c == '"' || c == '\\') c = '\'';
      std::printf(",\"first_bad_seq\":%llu,\"problem\":\"%s\"", static_cast<unsigned long long>(report.first_bad_seq),
                  problem.c_str());
    }
    if (!index_ok) {
      std::string problem = report.index_problem;
      for (auto& c : problem) if (c == '"' || c == '\\') c = '\'';
      std::printf(",\"index_problem\":\"%s\"", problem.c_str());
    }
    std::printf("}\n");
  } else if (intact) {
    std::printf("chain intact: %llu records, head %s\n", static_cast<unsigned long long>(report.records),
                HashHex(report.head.hash).c_str());
  } else {
    std::printf("chain broken at seq %llu: %s\n", static_cast<unsigned long long>(report.first_bad_seq),
                report.problem.c_str());
    std::printf("records 1..%llu are intact; restore the store from a backup that verifies\n",
                static_cast<unsigned long long>(report.first_bad_seq - 1));
  }
  if (!index_ok && !args.Has("--json")) {
    // The chain may be intact, but an audit query by time would skip records.
    std::printf("%s; run `noxsync replay --rebuild` to rewrite it\n", report.index_problem.c_str());
  }
  return intact && index_ok ? kExitOk : kExitFailure;
}

namespace {

constexpr const char* kBackupUsage = R"(usage: noxsync backup DIR [--db PATH]

Writes a consistent copy of the store into DIR (a new or empty folder outside
the store), then checks the copy's hash chain. Safe while `noxsync serve` or
`sync` runs: it reads the store as one point in time, like the other read
commands. Restore: stop noxsync, move the old store aside, and put DIR in
its place (or pass --db DIR). See docs/operations.md.

Exit: 0 the copy is written and verifies, 1 it failed, 2 usage.
)";

}  // namespace

int RunBackup(const Argv& argv) {
  Args args({}, {"--db"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kBackupUsage);
  if (args.help()) return std::fputs(kBackupUsage, stdout), kExitOk;
  if (args.positional().size() != 1) return Fail(kExitUsage, std::string("backup takes one folder\n") + kBackupUsage);
  const std::string dest = args.positional()[0];
  auto log = OpenReader(args);
  if (!log.ok()) return Fail(log.status().IsNotFound() ? kExitUsage : kExitFailure, log.status().message());
  uint64_t records = 0;
  if (Status s = (*log)->CopyTo(dest, &records); !s.ok()) {
    return Fail(s.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailure, "backup failed: " + s.message());
  }
  auto copy = EventLog::OpenForRead(dest);
  if (!copy.ok()) return Fail(kExitFailure, "the backup in " + dest + " cannot be opened: " + copy.status().message());
  VerifyReport report;
  if (Status s = (*copy)->VerifyChain(&report); !s.ok() || report.first_bad_seq != 0) {
    return Fail(kExitFailure, "the backup in " + dest + " does not verify: " + (s.ok() ? report.problem : s.message()));
  }
  std::printf("backup in %s: %llu records, head seq %llu %s; chain verified\n", dest.c_str(),
              static_cast<unsigned long long>(records), static_cast<unsigned long long>(report.head.seq),
              HashHex(report.head.hash).c_str());
  return kExitOk;
}

namespace {

constexpr const char* kReportUsage = R"(usage: noxsync report [--since T] [--until T] [--format text|json|csv|html]
                      [--out FILE] [--db PATH]

The Noxys guide's reports, computed from the event log alone: incidents and
tickets per backend, resolved and closed %, mean and median time to
resolution, MTTR per severity, time to assignment, counts by platform,
severity, policy action and classification type, SLA compliance per severity
and the breaches, and a trend per day (per week past a month, per month
past two years, per year past twenty). See
docs/reports.md for how each figure is counted.

  --since T, --until T  incidents whose first event is in [T, T]
                        (RFC 3339 or a date: 00:00 UTC of it as --since,
                        the whole day as --until)
  --format F            text (default), json, csv, or html (one file with
                        inline SVG charts, nothing fetched from the network)
  --out FILE            write there instead of standard output; without
                        --format, FILE's ending (.json, .csv, .html)
                        chooses the format

Exit: 0 written, 1 the store or the file failed, 2 usage.
)";

}  // namespace

int RunReport(const Argv& argv) {
  Args args({}, {"--db", "--since", "--until", "--format", "--out"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kReportUsage);
  if (args.help()) return std::fputs(kReportUsage, stdout), kExitOk;
  if (!args.positional().empty()) return Fail(kExitUsage, std::string("report takes no argument\n") + kReportUsage);
  ReportRange range;
  if (!ParseTimeRange(args, &range.since_us, &range.until_us, &err)) return Fail(kExitUsage, err);
  // Without --format, a file named *.json, *.csv or *.html gets that format:
  // text in a file called report.csv would open as one broken column.
  std::string format = "text";
  if (args.Given("--format")) {
    format = args.Get("--format");
  } else if (args.Given("--out")) {
    std::string ext = std::filesystem::path(args.Get("--out")).extension().string();
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == ".json" || ext == ".csv" || ext == ".html") format = ext.substr(1);
    if (ext == ".htm") format = "html";
  }
  std::string (*render)(const Report&) = format == "text"   ? ReportText
                                         : format == "json" ? ReportJson
                                         : format == "csv"  ? ReportCsv
                                         : format == "html" ? ReportHtml
                                                            : nullptr;
  if (render == nullptr) return Fail(kExitUsage, "--format: \"" + format + "\"; use text, json, csv or html");
  auto log = OpenReader(args);
  if (!log.ok()) return Fail(log.status().IsNotFound() ? kExitUsage : kExitFailure, log.status().message());
  // The file is opened before the report is built, which takes seconds
  // over millions of events: a folder that does not exist is said at once.
  // Written beside it, then renamed, so a report is never half there.
  const std::string path = args.Get("--out");
  const std::string tmp = path + ".tmp";
  std::ofstream f;
  if (args.Given("--out")) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      return Fail(kExitUsage, "--out " + path + " is a folder; name a file, such as " +
                                  (std::filesystem::path(path) / ("report." + format)).string());
    }
    f.open(tmp, std::ios::binary | std::ios::trunc);
    if (!f) {
      return Fail(kExitFailure, "cannot write the report to " + path + ": " + std::strerror(errno) +
                                    " (noxsync writes " + tmp + " first, then renames it)");
    }
  }
  Report report;
  if (Status s = BuildReport(**log, range, SystemClock().NowMicros(), &report); !s.ok()) {
    if (f.is_open()) {
      f.close();
      std::remove(tmp.c_str());
    }
    return Fail(kExitFailure, s.message());
  }
  std::string text = render(report);
  if (!args.Given("--out")) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.close();  // flushes: a full disk shows here
  if (!f) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return Fail(kExitFailure, "cannot write the report to " + path + ": " + why);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return Fail(kExitFailure, "cannot write " + path + ": " + why);
  }
  std::fprintf(stderr, "report (%s) written to %s\n", format.c_str(), path.c_str());
  return kExitOk;
}

}  // namespace noxsync::cli
