// End-to-end tests of the noxsync binary: what a user types, what they see,
// and the exit codes they script against.

#include <boost/json.hpp>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <fstream>
#include <sstream>
#include <thread>

#include "cli/logging.h"
#include "store/event_log.h"
#include "sync/printable.h"
#include "tests/run_command.h"
#include "tests/temp_dir.h"

namespace noxsync {
namespace {

using noxsync::testing::CommandResult;
using noxsync::testing::RunNoxsync;
using noxsync::testing::TempDir;

bool Contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

class CliTest : public ::testing::Test {
 protected:
  CommandResult Run(const std::string& args) { return RunNoxsync(args, dir_.path()); }
  std::string Db() const { return " --db " + dir_.Sub("store"); }
  TempDir dir_;
};

TEST_F(CliTest, IngestSamplesThenQueryThem) {
  CommandResult r = Run("ingest " NOXSYNC_SAMPLES + Db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "accepted 201, duplicates 0, rejected 0\n");

  r = Run("ingest " NOXSYNC_SAMPLES + Db());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "accepted 0, duplicates 201, rejected 0\n");

  r = Run("incidents" + Db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "inc_00000001   Open         Critical  chatgpt     alice@acme.fr")) << r.out;

  r = Run("incidents --platform chatgpt --severity CRITICAL --status open" + Db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "inc_00000001")) << r.out;
  EXPECT_FALSE(Contains(r.out, " High ")) << r.out;
  EXPECT_FALSE(Contains(r.out, " gemini ")) << r.out;

  r = Run("incidents --platform chatgpt --status open --json" + Db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    EXPECT_TRUE(Contains(line, "\"platform_id\":\"chatgpt\"")) << line;
  }
  EXPECT_GT(n, 0);

  r = Run("history evt_abc123def456" + Db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "Incident inc_00000001  Open  Critical")) << r.out;
  EXPECT_TRUE(Contains(r.out, "event.received               evt_abc123def456 at 2026-03-20T14:32:00Z: alice@acme.fr on ChatGPT, BLOCK EMAIL, risk 0.95")) << r.out;

  r = Run("history inc_00000001 --json" + Db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "\"records\":[{\"seq\":1,")) << r.out;
  EXPECT_TRUE(Contains(r.out, "\"prev_hash\":\"0000000000000000")) << r.out;

  r = Run("verify" + Db());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.rfind("chain intact: 402 records, head ", 0) == 0) << r.out;

  r = Run("replay --rebuild" + Db());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "byte for byte what they were")) << r.out;
}

TEST_F(CliTest, BadInputFileStoresEveryValidLineAndOneRejectionPerBrokenLine) {
  std::ifstream samples(NOXSYNC_SAMPLES);
  std::vector<std::string> good;
  std::string line;
  while (std::getline(samples, line) && good.size() < 20) good.push_back(line);
  const std::vector<std::string> broken = {
      "not json at all",
      R"({"event_id":"evt_bad_action","timestamp":"2026-03-20T14:32:00Z","platform_id":"chatgpt","platform_name":"ChatGPT","user_email":"a@b.c","risk_score":0.5,"classifications":[],"policy_decisions":{"action":"DENY","policy_id":"p","policy_name":"n"}})",
      R"({"event_id":"evt_bad_risk","timestamp":"2026-03-20T14:32:00Z","platform_id":"chatgpt","platform_name":"ChatGPT","user_email":"a@b.c","risk_score":7,"classifications":[],"policy_decisions":{"action":"BLOCK","policy_id":"p","policy_name":"n"}})",
      R"({"timestamp":"2026-03-20T14:32:00Z"})",
      "[]",
  };
  std::string file = dir_.Sub("mixed.jsonl");
  std::ofstream out(file);
  // Bad lines at the start, the middle and the end; a blank line is skipped.
  out << broken[0] << "\n";
  for (size_t i = 0; i < good.size(); ++i) {
    out << good[i] << "\n";
    if (i == 5) out << broken[1] << "\n\n";
    if (i == 10) out << broken[2] << "\n" << broken[3] << "\n";
  }
  out << broken[4] << "\n";
  out << std::string(2u << 20, 'x');  // 2 MiB, no trailing newline
  out.close();

  CommandResult r = Run("ingest " + file + Db());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "accepted 20, duplicates 0, rejected 6\n");
  EXPECT_TRUE(Contains(r.err, "line 1: not valid JSON")) << r.err;
  EXPECT_TRUE(Contains(r.err, "line 8: field policy_decisions.action: expected one of BLOCK, COACH, ALLOW, got \"DENY\"")) << r.err;
  EXPECT_TRUE(Contains(r.err, "line 15: field risk_score: expected a number in [0, 1], got 7")) << r.err;
  EXPECT_TRUE(Contains(r.err, "line 16: field event_id: missing")) << r.err;
  EXPECT_TRUE(Contains(r.err, "line 26: expected a JSON object, got an array")) << r.err;
  EXPECT_TRUE(Contains(r.err, "line 27: line longer than 1 MiB; not parsed")) << r.err;

  auto log = EventLog::OpenForRead(dir_.Sub("store"));
  ASSERT_TRUE(log.ok());
  int received = 0, rejected = 0;
  ASSERT_TRUE((*log)->ScanLog(1, [&](const LogRecord& rec) {
                       received += rec.type == "event.received";
                       rejected += rec.type == "event.rejected";
                       return true;
                     }).ok());
  EXPECT_EQ(received, 20);
  EXPECT_EQ(rejected, 6);
}

TEST_F(CliTest, SecondWriterIsToldWhoHoldsTheStoreWhileReadersWork) {
  ASSERT_EQ(Run("ingest " NOXSYNC_SAMPLES + Db()).exit_code, 0);
  auto holder = EventLog::OpenForWrite(dir_.Sub("store"), EventLogOptions{"noxsync serve (test)"});
  ASSERT_TRUE(holder.ok());
  CommandResult r = Run("ingest " NOXSYNC_SAMPLES + Db());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "is open for writing by pid " + std::to_string(::getpid()) + " (noxsync serve (test))")) << r.err;
  EXPECT_TRUE(Contains(r.err, dir_.Sub("store"))) << r.err;
  EXPECT_EQ(Run("verify" + Db()).exit_code, 0);
  EXPECT_EQ(Run("incidents" + Db()).exit_code, 0);
  EXPECT_EQ(Run("history inc_00000002" + Db()).exit_code, 0);
}

// A range means the same to `incidents` as to `report`: the incidents whose
// first event is in it. One that began the evening before and recurred
// after midnight is in neither; `incidents` listed it while the report did
// not count it.
TEST_F(CliTest, IncidentsInARangeAreThoseTheReportCounts) {
  const std::string rest = R"("platform_id":"chatgpt","platform_name":"ChatGPT","risk_score":0.5,)"
                           R"("classifications":[{"type":"EMAIL","value":"x","confidence":0.9}],)"
                           R"("policy_decisions":{"action":"BLOCK","policy_id":"p","policy_name":"n"}})";
  std::string file = dir_.Sub("range.jsonl");
  std::ofstream(file) << R"({"event_id":"evt_a1","timestamp":"2026-03-14T22:00:00Z","user_email":"a@acme.fr",)" << rest
                      << "\n"
                      << R"({"event_id":"evt_a2","timestamp":"2026-03-15T01:00:00Z","user_email":"a@acme.fr",)" << rest
                      << "\n"
                      << R"({"event_id":"evt_b1","timestamp":"2026-03-20T11:00:00Z","user_email":"b@acme.fr",)" << rest
                      << "\n";
  ASSERT_EQ(Run("ingest " + file + Db()).exit_code, 0);
  const std::string range = " --since 2026-03-15 --until 2026-03-31";
  CommandResult listed = Run("incidents --json" + range + Db());
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '\n'), 1) << listed.out;
  EXPECT_TRUE(Contains(listed.out, "\"id\":\"inc_00000002\"")) << listed.out;
  CommandResult report = Run("report --format json" + range + Db());
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(boost::json::parse(report.out).at("summary").at("incidents").to_number<int>(), 1) << report.out;
  // From the evening before, both, each by its first event.
  listed = Run("incidents --json --since 2026-03-14 --until 2026-03-31" + Db());
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '\n'), 2) << listed.out;
}

// The listing's columns line up for names with accents or in other
// scripts: printf padded by bytes, so "josé" pushed every column after it
// one to the left.
TEST_F(CliTest, IncidentsLineUpWhateverTheScriptOfTheNames) {
  const std::string rest = R"("timestamp":"2026-03-20T11:00:00Z","platform_id":"chatgpt","platform_name":"ChatGPT",)"
                           R"("risk_score":0.5,"classifications":[{"type":"EMAIL","value":"x","confidence":0.9}],)"
                           R"("policy_decisions":{"action":"BLOCK","policy_id":"p","policy_name":"n"}})";
  std::string file = dir_.Sub("names.jsonl");
  std::ofstream(file) << R"({"event_id":"evt_1","user_email":"jose@acme.fr",)" << rest << "\n"
                      << R"({"event_id":"evt_2","user_email":"jos\u00e9@acme.fr",)" << rest << "\n"
                      << R"({"event_id":"evt_3","user_email":"\u7530\u4e2d@acme.jp",)" << rest << "\n";
  ASSERT_EQ(Run("ingest " + file + Db()).exit_code, 0);
  CommandResult r = Run("incidents" + Db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> rows;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("inc_")) rows.push_back(line);
  }
  ASSERT_EQ(rows.size(), 3u) << r.out;
  EXPECT_TRUE(Contains(rows[1], "jos\xC3\xA9@acme.fr")) << r.out;
  // The ACTION column starts at the same terminal column on every row.
  for (const auto& row : rows) {
    EXPECT_EQ(DisplayWidth(row.substr(0, row.find("BLOCK"))), DisplayWidth(rows[0].substr(0, rows[0].find("BLOCK"))))
        << r.out;
  }
}

TEST_F(CliTest, HistoryJsonCanBeCheckedIndependentlyAsDocumented) {
  if (std::system("command -v python3 >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not installed";
  ASSERT_EQ(Run("ingest " NOXSYNC_SAMPLES + Db()).exit_code, 0);
  std::string out = dir_.Sub("check.out");
  std::string cmd = std::string(NOXSYNC_BIN) + " history inc_00000003 --json" + Db() + " | python3 " +
                    NOXSYNC_SOURCE_DIR "/scripts/check-chain.py > " + out;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << noxsync::testing::ReadFile(out);
  EXPECT_TRUE(Contains(noxsync::testing::ReadFile(out), "6 of 6 records match their hash"))
      << noxsync::testing::ReadFile(out);
}

// An event noxsync refused is in no incident; `history` with its id shows
// the refusal rather than say there is no such event, as it did. Refusals
// are found through the store's index; one recorded in a store written
// before the index (and before the records named the id) is found by
// reading that older part of the log for the id in its text.
TEST_F(CliTest, HistoryOfARefusedEventShowsWhyItWasRefused) {
  {
    EventLogOptions legacy;  // as a version before the index wrote it
    legacy.without_refusal_index = true;
    auto log = EventLog::OpenForWrite(dir_.Sub("store"), legacy);
    ASSERT_TRUE(log.ok()) << log.status().message();
    Step old;
    old.records.push_back({1000, "event.rejected", "",
                           R"({"source":"old.jsonl","line":3,"reason":"field risk_score: expected a number in [0, 1], )"
                           R"(got 7","text":"{\"event_id\":\"evt_old\",\"risk_score\":7}"})"});
    ASSERT_TRUE((*log)->Append(std::move(old)).ok());
  }
  CommandResult r = Run("history evt_old" + Db());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "old.jsonl line 3: field risk_score")) << r.out;

  std::string file = dir_.Sub("bad.jsonl");
  std::ofstream(file) << R"({"event_id":"evt_late","timestamp":"2026-03-20 14:32"})" << "\n"
                      << R"({"event_id":"evt_late","timestamp":"yesterday"})" << "\n";
  ASSERT_EQ(Run("ingest " + file + Db()).exit_code, 1);
  r = Run("history evt_late" + Db());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "Event evt_late  refused, in no incident\n  refused 2 times")) << r.out;
  EXPECT_TRUE(Contains(r.out, "line 1: field timestamp: expected an RFC 3339 time")) << r.out;
  EXPECT_TRUE(Contains(r.out, "line 2: field timestamp:")) << r.out;
  r = Run("history evt_late --json" + Db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::system::error_code ec;
  auto doc = boost::json::parse(r.out, ec);
  ASSERT_FALSE(ec) << r.out;
  EXPECT_EQ(doc.at("event_id").as_string(), "evt_late");
  EXPECT_TRUE(doc.at("incident").is_null());
  ASSERT_EQ(doc.at("records").as_array().size(), 2u);
  EXPECT_EQ(doc.at("records").at(0).at("seq").to_number<int>(), 2);
  EXPECT_EQ(doc.at("records").at(1).at("seq").to_number<int>(), 3);

  r = Run("history evt_old" + Db());  // unindexed, after this version's writer noted so
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "old.jsonl line 3: field risk_score")) << r.out;
  EXPECT_TRUE(Contains(r.out, "refused 1 time;")) << r.out;
  r = Run("history evt_never" + Db());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "no incident, event or ticket with id \"evt_never\"")) << r.err;
  EXPECT_TRUE(Contains(r.err, "and no event refused with that id")) << r.err;
  r = Run("history inc_00000099" + Db());  // an incident's id: the log is not read for it
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "no incident, event or ticket with id \"inc_00000099\" in ")) << r.err;
  EXPECT_FALSE(Contains(r.err, "refused")) << r.err;
}

// An incident with more records than one page of the store (10,000): the
// history is printed a page at a time, every record once, in order.
TEST_F(CliTest, HistoryOfAnIncidentWithManyRecordsPrintsThemAll) {
  std::string file = dir_.Sub("recurring.jsonl");
  {
    std::ofstream out(file);
    for (int i = 0; i < 5001; ++i) {
      out << R"({"event_id":"evt_rec)" << i << R"(","timestamp":"2026-03-20T14:32:00Z","platform_id":"chatgpt",)"
          << R"("platform_name":"ChatGPT","user_email":"bot@acme.fr","risk_score":0.5,)"
          << R"("classifications":[{"type":"EMAIL","value":"x","confidence":0.9}],)"
          << R"("policy_decisions":{"action":"BLOCK","policy_id":"p","policy_name":"n"}})" << "\n";
    }
  }
  ASSERT_EQ(Run("ingest " + file + Db()).exit_code, 0);
  std::vector<LogRecord> stored;
  {
    auto log = EventLog::OpenForRead(dir_.Sub("store"));
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->IncidentRecords("inc_00000001", &stored).ok());
  }
  ASSERT_EQ(stored.size(), 10002u);  // received, then opened or recurred, for each event
  auto r = Run("history inc_00000001 --json" + Db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::system::error_code ec;
  auto doc = boost::json::parse(r.out, ec);
  ASSERT_FALSE(ec) << r.out.substr(0, 200);
  const auto& records = doc.at("records").as_array();
  ASSERT_EQ(records.size(), stored.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].at("seq").to_number<uint64_t>(), stored[i].seq) << i;
  }
  auto text = Run("history inc_00000001" + Db());
  EXPECT_EQ(std::count(text.out.begin(), text.out.end(), '\n'), 5 + 10002);  // 3 lines, a blank, the heads
}

TEST_F(CliTest, UsageErrorsExitTwoAndFailuresExitOne) {
  EXPECT_EQ(Run("").exit_code, 2);
  EXPECT_EQ(Run("frobnicate").exit_code, 2);
  EXPECT_EQ(Run("ingest").exit_code, 2);
  EXPECT_EQ(Run("ingest a b").exit_code, 2);
  EXPECT_EQ(Run("incidents --bogus" + Db()).exit_code, 2);
  EXPECT_EQ(Run("incidents --since yesterday" + Db()).exit_code, 2);
  for (const char* command : {"incidents", "report", "replay --config unread.json"}) {
    CommandResult zoneless = Run(std::string(command) + " --since '2026-03-20 14:00:00'" + Db());
    EXPECT_EQ(zoneless.exit_code, 2) << command;
    EXPECT_TRUE(Contains(zoneless.err, "(a time needs its zone: Z for UTC, or an offset such as +02:00)"))
        << command << ": " << zoneless.err;
  }
  EXPECT_EQ(Run("incidents --status done" + Db()).exit_code, 2);
  EXPECT_EQ(Run("incidents --severity urgent" + Db()).exit_code, 2);
  CommandResult twice = Run("incidents --status Open --status=Closed" + Db());
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_TRUE(Contains(twice.err, "option --status is given twice (Open, then Closed); give it once")) << twice.err;
  CommandResult r = Run("verify" + Db());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "no noxsync store at")) << r.err;
  r = Run("ingest /nonexistent/file.jsonl" + Db());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "cannot open /nonexistent/file.jsonl")) << r.err;
  ASSERT_EQ(Run("ingest " NOXSYNC_SAMPLES + Db()).exit_code, 0);
  r = Run("history inc_99999999" + Db());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "no incident, event or ticket with id")) << r.err;
  for (const char* command : {"report", "incidents", "replay --config unread.json"}) {
    r = Run(std::string(command) + " --since 2026-03-22 --until 2026-03-01" + Db());
    EXPECT_EQ(r.exit_code, 2) << command;
    EXPECT_TRUE(Contains(r.err, "--since 2026-03-22T00:00:00Z is after --until 2026-03-01T23:59:59.999Z: nothing can be "
                                "in that range (were they swapped?)"))
        << command << ": " << r.err;
  }
}

TEST_F(CliTest, EveryCommandHasHelp) {
  for (const char* cmd : {"ingest", "history", "incidents", "verify", "replay"}) {
    CommandResult r = Run(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_TRUE(Contains(r.out, std::string("usage: noxsync ") + cmd)) << r.out;
  }
  CommandResult r = Run("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(Contains(r.out, "Commands:"));
}

// An event's fields may carry terminal escapes or line breaks (JSON allows
// them in strings); what noxsync prints for people shows them escaped, so an
// event cannot clear an auditor's screen, retitle the terminal or fake a line.
TEST_F(CliTest, WhatAnEventCarriesIsPrintedEscaped) {
  const std::string bad = R"(\u001b[2J\u001b]0;pwned\u0007\nFAKE LINE\u009b31m\u202e)";
  std::string file = dir_.Sub("escapes.jsonl");
  std::ofstream(file) << R"({"event_id":"evt_esc","timestamp":"2026-03-20T14:32:00Z","platform_id":"chatgpt",)"
                      << R"("platform_name":"Chat)" << bad << R"(","user_email":"al)" << bad
                      << R"(@acme.fr","risk_score":0.95,"classifications":[{"type":"EMAIL)" << bad
                      << R"(","value":"x","confidence":0.9}],"policy_decisions":{"action":"BLOCK","policy_id":"p",)"
                      << R"("policy_name":"n)" << bad << R"("}})" << "\n"
                      << R"({"event_id":"evt_bad","timestamp":")" << bad << R"("})" << "\n";
  CommandResult ingest = Run("ingest " + file + Db());
  EXPECT_EQ(ingest.exit_code, 1) << ingest.err;
  EXPECT_TRUE(Contains(ingest.err, R"(got "\x1b[2J\x1b]0;pwned\x07\nFAKE LINE\u009b31m\u202e")")) << ingest.err;
  for (const std::string command : {"incidents", "history inc_00000001", "report", "history evt_esc"}) {
    CommandResult r = Run(command + Db());
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    EXPECT_TRUE(Contains(r.out, R"(\x1b[2J)")) << command << ": " << r.out;
    for (const std::string raw : {"\x1b", "\x07", "FAKE LINE\n", "\xC2\x9B", "\xE2\x80\xAE"}) {
      EXPECT_FALSE(Contains(r.out + ingest.err, raw)) << command << " printed a raw control: " << r.out;
    }
  }
  // --json keeps the exact text, escaped as JSON does.
  CommandResult json = Run("history inc_00000001 --json" + Db());
  EXPECT_TRUE(Contains(json.out, R"(\u001b[2J)")) << json.out;
}

// Windows editors and exporters save "UTF-8" with a byte order mark.
TEST_F(CliTest, IngestSkipsAByteOrderMarkOpeningTheFileAndNamesOneElsewhere) {
  std::ifstream samples(NOXSYNC_SAMPLES);
  std::string first, second;
  std::getline(samples, first);
  std::getline(samples, second);
  std::string file = dir_.Sub("bom.jsonl");
  std::ofstream(file) << "\xEF\xBB\xBF" << first << "\r\n\xEF\xBB\xBF" << second << "\r\n";
  CommandResult r = Run("ingest " + file + Db());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "accepted 1, duplicates 0, rejected 1\n");
  EXPECT_TRUE(Contains(r.err, "opened 1 new incident; see")) << r.err;
  EXPECT_TRUE(Contains(r.err, "line 2: not valid JSON: syntax error (the line starts with a UTF-8 byte order mark, "
                              "U+FEFF: save the source as UTF-8 without one)"))
      << r.err;
}

// Read as lines, a compressed export would be refused line by line, and
// each refusal kept in the log: it is turned away whole, with how to unpack it.
TEST_F(CliTest, IngestTurnsAwayACompressedFileAndSaysHowToUnpackIt) {
  std::string gz = dir_.Sub("events.jsonl.gz");
  ASSERT_EQ(std::system(("gzip -c " NOXSYNC_SAMPLES " > " + gz).c_str()), 0);
  CommandResult r = Run("ingest " + gz + Db());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, gz + " is compressed; ingest reads JSON lines as text: zcat " + gz +
                                  " | noxsync ingest -"))
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("store")));  // nothing stored, not even a store
  for (const auto& [magic, tool] : {std::pair<std::string, std::string>{"\x28\xB5\x2F\xFD", "zstdcat"},
                                    {"BZh9", "bzcat"},
                                    {std::string("\xFD" "7zXZ\0", 6), "xzcat"},
                                    {"PK\x03\x04", "unzip -p"}}) {
    std::string file = dir_.Sub("packed");
    std::ofstream(file, std::ios::binary) << magic << "rest of the archive";
    CommandResult packed = Run("ingest " + file + Db());
    EXPECT_EQ(packed.exit_code, 2) << tool;
    EXPECT_TRUE(Contains(packed.err, "is compressed; ingest reads JSON lines as text: " + tool + " ")) << packed.err;
  }
  // Through a pipe still compressed: the first line shows it, before anything is stored.
  std::string cmd = "cat " + gz + " | " NOXSYNC_BIN " ingest -" + Db() + " > " + dir_.Sub("o") + " 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
  EXPECT_TRUE(Contains(noxsync::testing::ReadFile(dir_.Sub("o")),
                       "standard input is compressed; ingest reads JSON lines as text: unpack it into the pipe "
                       "(zcat FILE | noxsync ingest -)"))
      << noxsync::testing::ReadFile(dir_.Sub("o"));
  // A pipe named as a file (bash's <(...), a FIFO): its first bytes cannot
  // be read where they lie, so its first line is looked at too.
  cmd = "bash -c '" NOXSYNC_BIN " ingest <(cat " + gz + ")" + Db() + "' > " + dir_.Sub("o") + " 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
  EXPECT_TRUE(Contains(noxsync::testing::ReadFile(dir_.Sub("o")),
                       " is compressed; ingest reads JSON lines as text: unpack it into the pipe"))
      << noxsync::testing::ReadFile(dir_.Sub("o"));
  // Unpacked into the pipe, the same events are taken.
  cmd = "zcat " + gz + " | " NOXSYNC_BIN " ingest -" + Db() + " > " + dir_.Sub("o") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << noxsync::testing::ReadFile(dir_.Sub("o"));
  EXPECT_TRUE(Contains(noxsync::testing::ReadFile(dir_.Sub("o")), "accepted 201, duplicates 0, rejected 0"));
  CommandResult verified = Run("verify" + Db());
  EXPECT_EQ(verified.exit_code, 0);
  // The refused inputs left no record: two per event, nothing else.
  EXPECT_TRUE(Contains(verified.out, "chain intact: 402 records")) << verified.out;
}

TEST_F(CliTest, IngestReadsStandardInputAndHonoursNoxsyncDb) {
  std::string cmd = "NOXSYNC_DB=" + dir_.Sub("envstore") + " " NOXSYNC_BIN " ingest - < " NOXSYNC_SAMPLES " > " +
                    dir_.Sub("o") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << noxsync::testing::ReadFile(dir_.Sub("o"));
  EXPECT_TRUE(Contains(noxsync::testing::ReadFile(dir_.Sub("o")), "accepted 201, duplicates 0, rejected 0\n"));
  EXPECT_EQ(Run("verify --db " + dir_.Sub("envstore")).exit_code, 0);
}

// A copy inside the store goes with it when it is moved aside to restore:
// refused, however the folder is named.
TEST_F(CliTest, ABackupInsideTheStoreOrWithoutANameIsRefused) {
  ASSERT_EQ(Run("ingest " NOXSYNC_SAMPLES + Db()).exit_code, 0);
  CommandResult r = Run("backup " + dir_.Sub("store/copy") + Db());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "backup folder " + dir_.Sub("store/copy") + " is inside the store " + dir_.Sub("store") +
                                  ", which it would be lost with; name a folder outside it"))
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("store/copy")));
  // Through a symbolic link to the store, and as the store's own name.
  std::filesystem::create_directory_symlink(dir_.Sub("store"), dir_.Sub("link"));
  EXPECT_EQ(Run("backup " + dir_.Sub("link/copy") + Db()).exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("store/copy")));
  r = Run("backup " + dir_.Sub("store") + Db());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "is inside the store")) << r.err;
  r = Run("backup ''" + Db());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "the backup folder's name is empty")) << r.err;
  // Beside the store is fine.
  r = Run("backup " + dir_.Sub("copy") + Db());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "chain verified")) << r.out;
}

// A backup whose disk fills up or refuses a write says so, exits 1, and
// leaves nothing that could pass for a copy. A full disk used to end it with
// SIGABRT (RocksDB's LOG writer asserts after a failed write).
TEST_F(CliTest, ABackupThatCannotBeWrittenFailsCleanlyAndKeepsNothing) {
  ASSERT_EQ(Run("ingest " NOXSYNC_SAMPLES + Db()).exit_code, 0);
  // Files over 64 KiB refused (EFBIG), as any user can arrange.
  const std::string dest = dir_.Sub("copy");
  const std::string cmd = "trap '' XFSZ; ulimit -f 64; exec " + std::string(NOXSYNC_BIN) + " backup " + dest + Db() +
                          " >" + dir_.Sub("out") + " 2>" + dir_.Sub("err");
  int status = std::system(("sh -c \"" + cmd + "\"").c_str());
  ASSERT_TRUE(WIFEXITED(status)) << "ended by a signal: " << testing::ReadFile(dir_.Sub("err"));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  std::string err = testing::ReadFile(dir_.Sub("err"));
  EXPECT_TRUE(Contains(err, "noxsync: backup failed: writing the backup in " + dest)) << err;
  EXPECT_TRUE(Contains(err, "; nothing of the copy was kept")) << err;
  EXPECT_FALSE(std::filesystem::exists(dest));
  // An empty folder given stays, empty.
  std::filesystem::create_directory(dest);
  status = std::system(("sh -c \"" + cmd + "\"").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_TRUE(std::filesystem::is_empty(dest));

  // A disk that is really full: a 1 MiB tmpfs, where this test may mount one.
  const std::string small = dir_.Sub("small");
  testing::SmallDisk disk(small, "1m");
  if (!disk.ok()) GTEST_SKIP() << disk.why() << ": the full-disk case was not run, only the refused write above";
  {
    // 768 KiB of the 1 MiB: room for the copy to start, not to finish.
    std::ofstream fill(small + "/fill");
    std::string block(768 << 10, 'x');
    fill.write(block.data(), block.size());
  }
  CommandResult r = Run("backup " + small + "/copy" + Db());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(Contains(r.err, "is full: free space there, or name a folder on another disk); nothing of the copy was "
                              "kept"))
      << r.err;
}

TEST_F(CliTest, VerifyNamesTheTamperedSeqAndExitsOne) {
  ASSERT_EQ(Run("ingest " NOXSYNC_SAMPLES + Db()).exit_code, 0);
  {
    // Edit one byte of record 100 behind noxsync's back.
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_.Sub("store"), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (auto& n : names) descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir_.Sub("store"), descs, &handles, &db).ok());
    size_t log_cf = std::find(names.begin(), names.end(), "log") - names.begin();
    std::string v;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), handles[log_cf], SeqKey(100), &v).ok());
    v[v.size() / 2] ^= 0x20;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[log_cf], SeqKey(100), v).ok());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  CommandResult r = Run("verify" + Db());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.rfind("chain broken at seq 100: ", 0), 0u) << r.out;
  r = Run("verify --json" + Db());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.out, "\"intact\":false")) << r.out;
  EXPECT_TRUE(Contains(r.out, "\"first_bad_seq\":100")) << r.out;
}

}  // namespace
}  // namespace noxsync

namespace noxsync {
namespace {

TEST(ReportCommand, WritesEachFormatAndRefusesAnUnknownOne) {
  testing::TempDir dir;
  std::string db = " --db " + dir.Sub("store");
  ASSERT_EQ(testing::RunNoxsync(std::string("ingest ") + NOXSYNC_SAMPLES + " --quiet" + db, dir.path()).exit_code, 0);
  auto text = testing::RunNoxsync("report" + db, dir.path());
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("  incidents                    192\n"), std::string::npos) << text.out;
  auto csv = testing::RunNoxsync("report --format csv --since 2026-03-21" + db, dir.path());
  EXPECT_EQ(csv.out.rfind("section,key,value,unit\n", 0), 0u);
  auto html = testing::RunNoxsync("report --format html --out " + dir.Sub("r.html") + db, dir.path());
  EXPECT_EQ(html.exit_code, 0) << html.err;
  EXPECT_NE(testing::ReadFile(dir.Sub("r.html")).find("<svg"), std::string::npos);
  // Without --format, the file's ending chooses; --format wins over it.
  auto by_name = testing::RunNoxsync("report --out " + dir.Sub("r.CSV") + db, dir.path());
  EXPECT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_NE(by_name.err.find("report (csv) written to " + dir.Sub("r.CSV")), std::string::npos) << by_name.err;
  EXPECT_EQ(testing::ReadFile(dir.Sub("r.CSV")).rfind("section,key,value,unit\n", 0), 0u);
  ASSERT_EQ(testing::RunNoxsync("report --out " + dir.Sub("r.json") + db, dir.path()).exit_code, 0);
  EXPECT_EQ(boost::json::parse(testing::ReadFile(dir.Sub("r.json"))).at("summary").at("incidents").to_number<int64_t>(),
            192);
  ASSERT_EQ(testing::RunNoxsync("report --out " + dir.Sub("r.htm") + db, dir.path()).exit_code, 0);
  EXPECT_EQ(testing::ReadFile(dir.Sub("r.htm")).rfind("<!DOCTYPE html>", 0), 0u);
  ASSERT_EQ(testing::RunNoxsync("report --format text --out " + dir.Sub("t.csv") + db, dir.path()).exit_code, 0);
  EXPECT_EQ(testing::ReadFile(dir.Sub("t.csv")).rfind("noxsync report:", 0), 0u);
  ASSERT_EQ(testing::RunNoxsync("report --out " + dir.Sub("r.txt") + db, dir.path()).exit_code, 0);
  EXPECT_EQ(testing::ReadFile(dir.Sub("r.txt")).rfind("noxsync report:", 0), 0u);
  // A folder, or a file in a folder that does not exist, is said before the
  // report is built, and leaves nothing behind.
  std::filesystem::create_directory(dir.Sub("taken.json"));
  auto taken = testing::RunNoxsync("report --out " + dir.Sub("taken.json") + db, dir.path());
  EXPECT_EQ(taken.exit_code, 2);
  EXPECT_NE(taken.err.find("--out " + dir.Sub("taken.json") + " is a folder; name a file, such as " +
                           dir.Sub("taken.json") + "/report.json"),
            std::string::npos)
      << taken.err;
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("taken.json.tmp")));
  // A disk that fills while the report is written (a file size limit here):
  // exit 1, and neither the report nor its temporary file is left.
  const std::string big = dir.Sub("big.html");
  int status = std::system(("sh -c \"trap '' XFSZ; ulimit -f 8; exec " + std::string(NOXSYNC_BIN) +
                            " report --out " + big + db + " 2>" + dir.Sub("big.err") + "\"")
                               .c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(testing::ReadFile(dir.Sub("big.err")).find("cannot write the report to " + big + ": File too large"),
            std::string::npos)
      << testing::ReadFile(dir.Sub("big.err"));
  EXPECT_FALSE(std::filesystem::exists(big));
  EXPECT_FALSE(std::filesystem::exists(big + ".tmp"));
  auto nowhere = testing::RunNoxsync("report --out " + dir.Sub("no/such/r.html") + db, dir.path());
  EXPECT_EQ(nowhere.exit_code, 1);
  EXPECT_NE(nowhere.err.find("cannot write the report to " + dir.Sub("no/such/r.html") + ": No such file or directory"),
            std::string::npos)
      << nowhere.err;
  auto bad = testing::RunNoxsync("report --format xml" + db, dir.path());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("use text, json, csv or html"), std::string::npos);
  auto bad_time = testing::RunNoxsync("report --since yesterday" + db, dir.path());
  EXPECT_EQ(bad_time.exit_code, 2);
  // A date as --until takes in its whole day: the samples' two days, each
  // asked for as `--since D --until D`, are every incident.
  auto incidents = [&](const std::string& range) {
    auto r = testing::RunNoxsync("report --format json " + range + db, dir.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return boost::json::parse(r.out).at("summary").at("incidents").to_number<int64_t>();
  };
  const int64_t first = incidents("--since 2026-03-20 --until 2026-03-20");
  const int64_t second = incidents("--since 2026-03-21 --until 2026-03-21");
  EXPECT_GT(first, 0);
  EXPECT_GT(second, 0);
  EXPECT_EQ(first + second, 192);
  EXPECT_EQ(incidents("--until 2026-03-20"), first);
}

}  // namespace
}  // namespace noxsync

namespace noxsync {
namespace {

// A warning repeated while a condition lasts is said at once, then once a
// minute; once cleared, the next time the condition begins is said at once.
TEST(OncePerMinute, SaysAtOnceThenOnceAMinuteAndAgainAfterClear) {
  cli::OncePerMinute said;
  constexpr int64_t kStart = 1'000'000'000;
  EXPECT_TRUE(said.Due(kStart));
  EXPECT_FALSE(said.Due(kStart + 59'999'999));
  EXPECT_TRUE(said.Due(kStart + 60'000'000));
  EXPECT_FALSE(said.Due(kStart + 60'000'001));
  EXPECT_TRUE(said.Clear());
  EXPECT_FALSE(said.Clear());  // nothing said since
  EXPECT_TRUE(said.Due(kStart + 60'000'002));
}

TEST(JsonLogs, OneObjectPerLineWithTheIdsTheMessageNames) {
  std::string line = cli::JsonLogLine("2026-11-29T10:00:00.000Z", "info",
                                      "serve: request 4a5a287c: incident inc_00000042 set to \"Resolved\" on SEC-12");
  auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v.at("level"), "info");
  EXPECT_EQ(v.at("msg"), "serve: request 4a5a287c: incident inc_00000042 set to \"Resolved\" on SEC-12");
  EXPECT_EQ(v.at("incident"), "inc_00000042");
  EXPECT_EQ(v.at("ticket"), "SEC-12");
  EXPECT_EQ(v.at("request_id"), "4a5a287c");
  auto sn = boost::json::parse(cli::JsonLogLine("t", "warn", "servicenow: moved INC0010001 to Resolved")).as_object();
  EXPECT_EQ(sn.at("ticket"), "INC0010001");
  EXPECT_FALSE(sn.contains("incident"));
  auto none = boost::json::parse(cli::JsonLogLine("t", "info", "sync: 3 tickets created")).as_object();
  EXPECT_FALSE(none.contains("ticket"));
  EXPECT_FALSE(none.contains("request_id"));
  // A backend that answered in Latin-1: the line is still JSON, so UTF-8.
  std::string latin1 = cli::JsonLogLine("t", "warn", "jira: HTTP 503: indisponible \xE0 pr\xE9sent");
  boost::system::error_code ec;
  auto fixed = boost::json::parse(latin1, ec);
  ASSERT_FALSE(ec) << latin1;
  EXPECT_EQ(fixed.as_object().at("msg"), "jira: HTTP 503: indisponible \xEF\xBF\xBD pr\xEF\xBF\xBDsent");
}

TEST(LogFile, ALogFileThatCannotBeOpenedEndsTheCommandBeforeItDoesAnything) {
  testing::TempDir dir;
  std::string db = " --db " + dir.Sub("store");
  auto r = testing::RunNoxsync("ingest " NOXSYNC_SAMPLES " --log-file " + dir.Sub("no/such/dir/noxsync.log") + db,
                               dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot open the log file " + dir.Sub("no/such/dir/noxsync.log")), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("store")));  // nothing was ingested
  auto missing = testing::RunNoxsync("ingest " NOXSYNC_SAMPLES " --log-file", dir.path());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--log-file needs a value"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace noxsync
