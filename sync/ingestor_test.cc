#include "sync/ingestor.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "store/utf8.h"
#include "sync/refusals.h"
#include "sync/timestamp.h"
#include "tests/temp_dir.h"

namespace noxsync {
namespace {

using noxsync::testing::TempDir;
namespace json = boost::json;

std::string EventJson(const std::string& id, const std::string& ts, const std::string& user = "alice@acme.fr",
                      const std::string& type = "EMAIL", const std::string& action = "BLOCK",
                      const std::string& risk = "0.95") {
  return R"({"event_id":")" + id + R"(","timestamp":")" + ts +
         R"(","platform_id":"chatgpt","platform_name":"ChatGPT","user_email":")" + user +
         R"(","risk_score":)" + risk + R"(,"classifications":[{"type":")" + type +
         R"(","value":"x","confidence":0.9}],"policy_decisions":{"action":")" + action +
         R"(","policy_id":"p1","policy_name":"Policy 1"}})";
}

class IngestorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = EventLog::OpenForWrite(dir_.path());
    ASSERT_TRUE(log.ok()) << log.status().message();
    log_ = std::move(log).value();
    ingestor_ = std::make_unique<Ingestor>(log_.get(), &clock_, options_);
  }

  std::vector<IngestResult> Ingest(std::vector<std::string> texts) {
    std::vector<IngestLine> lines;
    for (size_t i = 0; i < texts.size(); ++i) lines.push_back({texts[i], i + 1});
    std::vector<IngestResult> results;
    Status s = ingestor_->Ingest(lines, "test.jsonl", &results);
    EXPECT_TRUE(s.ok()) << s.message();
    return results;
  }

  std::vector<LogRecord> Records() {
    std::vector<LogRecord> out;
    EXPECT_TRUE(log_->ScanLog(1, [&](const LogRecord& r) {
                      out.push_back(r);
                      return true;
                    }).ok());
    return out;
  }

  Incident Find(const std::string& id) {
    std::string v;
    EXPECT_TRUE(log_->Get(Cf::kIncidents, id, &v).ok()) << id;
    Incident inc;
    EXPECT_TRUE(IncidentFromJson(v, &inc).ok());
    return inc;
  }

  TempDir dir_;
  ManualClock clock_{1774017120LL * 1000000};
  IngestOptions options_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<Ingestor> ingestor_;
};

TEST_F(IngestorTest, NewEventOpensAnIncidentWithTwoRecords) {
  auto res = Ingest({EventJson("evt_1", "2026-03-20T14:32:00Z")});
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kAccepted);
  EXPECT_TRUE(res[0].opened);
  EXPECT_EQ(res[0].incident, "inc_00000001");
  auto recs = Records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].type, "event.received");
  EXPECT_EQ(recs[0].payload, EventJson("evt_1", "2026-03-20T14:32:00Z"));  // kept as Noxys sent it
  EXPECT_EQ(recs[1].type, "incident.opened");
  EXPECT_EQ(recs[1].incident, "inc_00000001");
  Incident inc = Find("inc_00000001");
  EXPECT_EQ(inc.status, IncidentStatus::kOpen);
  EXPECT_EQ(inc.severity, Severity::kCritical);
  EXPECT_EQ(inc.occurrences, 1u);
  EXPECT_EQ(inc.opened_at_us, clock_.NowMicros());
}

TEST_F(IngestorTest, RepeatedEventIdIsADuplicateAndWritesNothing) {
  Ingest({EventJson("evt_1", "2026-03-20T14:32:00Z")});
  // A resend however its JSON is spaced or ordered, with a field noxsync
  // does not read: the same facts, so a duplicate.
  std::string respaced = R"({ "timestamp" : "2026-03-20T14:32:00.000Z", "event_id":"evt_1", "note":"retry 2",
    "platform_id":"chatgpt","platform_name":"ChatGPT","user_email":"alice@acme.fr","risk_score":0.950,
    "classifications":[{"confidence":0.90,"type":"EMAIL","value":"x"}],
    "policy_decisions":{"policy_name":"Policy 1","action":"BLOCK","policy_id":"p1"}})";
  auto res = Ingest({EventJson("evt_1", "2026-03-20T14:32:00Z"), respaced});
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kDuplicate);
  EXPECT_EQ(res[1].kind, IngestResult::Kind::kDuplicate) << res[1].error;
  EXPECT_EQ(res[0].incident, "inc_00000001");
  EXPECT_EQ(res[1].incident, "inc_00000001");
  EXPECT_EQ(Records().size(), 2u);
  // Classifications listed in another order: the same event.
  std::string two = R"({"event_id":"evt_2","timestamp":"2026-03-20T14:40:00Z","platform_id":"chatgpt",)"
                    R"("platform_name":"ChatGPT","user_email":"bob@acme.fr","risk_score":0.5,"classifications":[)"
                    R"({"type":"EMAIL","value":"b","confidence":0.9},{"type":"IBAN","value":"FR76","confidence":0.8}],)"
                    R"("policy_decisions":{"action":"COACH","policy_id":"p1","policy_name":"Policy 1"}})";
  const std::string in_order = R"({"type":"EMAIL","value":"b","confidence":0.9},{"type":"IBAN","value":"FR76","confidence":0.8})";
  std::string swapped = two;
  swapped.replace(swapped.find(in_order), in_order.size(),
                  R"({"type":"IBAN","value":"FR76","confidence":0.8},{"type":"EMAIL","value":"b","confidence":0.9})");
  ASSERT_NE(swapped, two);
  auto pair = Ingest({two, swapped});
  EXPECT_EQ(pair[0].kind, IngestResult::Kind::kAccepted) << pair[0].error;
  EXPECT_EQ(pair[1].kind, IngestResult::Kind::kDuplicate) << pair[1].error << "\n" << swapped;
}

TEST_F(IngestorTest, AnEventIdResentWithOtherContentIsRefusedAndKept) {
  Ingest({EventJson("evt_1", "2026-03-20T14:32:00Z")});
  // Each differs from the first in one fact noxsync reads.
  std::vector<std::string> changed = {
      EventJson("evt_1", "2026-03-20T15:00:00Z"),
      EventJson("evt_1", "2026-03-20T14:32:00Z", "mallory@acme.fr"),
      EventJson("evt_1", "2026-03-20T14:32:00Z", "alice@acme.fr", "IBAN"),
      EventJson("evt_1", "2026-03-20T14:32:00Z", "alice@acme.fr", "EMAIL", "COACH"),
      EventJson("evt_1", "2026-03-20T14:32:00Z", "alice@acme.fr", "EMAIL", "BLOCK", "0.5"),
  };
  auto res = Ingest(changed);
  for (size_t i = 0; i < changed.size(); ++i) {
    EXPECT_EQ(res[i].kind, IngestResult::Kind::kRejected) << i;
    EXPECT_EQ(res[i].event_id, "evt_1");
    EXPECT_EQ(res[i].incident, "");
    EXPECT_NE(res[i].error.find("evt_1 was received before with other content (incident inc_00000001)"),
              std::string::npos)
        << res[i].error;
  }
  // The first stands; each refused one is in the log with its text.
  auto recs = Records();
  ASSERT_EQ(recs.size(), 2u + changed.size());
  for (size_t i = 0; i < changed.size(); ++i) {
    EXPECT_EQ(recs[2 + i].type, "event.rejected");
    EXPECT_NE(recs[2 + i].payload.find("other content"), std::string::npos) << recs[2 + i].payload;
    EXPECT_EQ(recs[2 + i].incident, "inc_00000001");  // in the first event's incident's history
  }
  std::vector<LogRecord> timeline;
  ASSERT_TRUE(log_->IncidentRecords("inc_00000001", &timeline).ok());
  EXPECT_EQ(timeline.size(), 2u + changed.size());
  EXPECT_NE(recs[3].payload.find("mallory@acme.fr"), std::string::npos) << recs[3].payload;
  EXPECT_EQ(Find("inc_00000001").occurrences, 1u);
  EXPECT_EQ(Find("inc_00000001").user_email, "alice@acme.fr");
}

TEST_F(IngestorTest, AnEventRowWithoutADigestAnswersDuplicate) {
  // Rows written before digests were kept name only the incident: nothing
  // to compare, so any resend of the id is a duplicate, as it was then.
  Ingest({EventJson("evt_1", "2026-03-20T14:32:00Z")});
  Step legacy;
  legacy.mutations.push_back({Cf::kByEvent, "evt_1", "inc_00000001", false});
  ASSERT_TRUE(log_->Append(std::move(legacy)).ok());
  ingestor_ = std::make_unique<Ingestor>(log_.get(), &clock_, options_);  // no cached row
  auto res = Ingest({EventJson("evt_1", "2026-03-20T15:00:00Z")});
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kDuplicate);
  EXPECT_EQ(res[0].incident, "inc_00000001");
  std::string v;
  ASSERT_TRUE(log_->Get(Cf::kByEvent, "evt_1", &v).ok());
  EXPECT_EQ(v, "inc_00000001");
}

TEST_F(IngestorTest, DuplicateWithinOneBatchIsCaught) {
  auto res = Ingest({EventJson("evt_1", "2026-03-20T14:32:00Z"), EventJson("evt_1", "2026-03-20T14:32:00Z")});
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kAccepted);
  EXPECT_EQ(res[1].kind, IngestResult::Kind::kDuplicate);
  EXPECT_EQ(Records().size(), 2u);
}

TEST_F(IngestorTest, SameFingerprintWithinWindowRecurs) {
  auto res = Ingest({EventJson("evt_1", "2026-03-20T10:00:00Z"), EventJson("evt_2", "2026-03-21T09:59:59Z"),
                     EventJson("evt_3", "2026-03-20T09:00:00Z", "alice@acme.fr", "EMAIL", "BLOCK", "0.5")});
  EXPECT_TRUE(res[0].opened);
  EXPECT_FALSE(res[1].opened);
  EXPECT_EQ(res[1].incident, res[0].incident);
  EXPECT_EQ(res[2].incident, res[0].incident);  // earlier event, still within the window
  Incident inc = Find(res[0].incident);
  EXPECT_EQ(inc.occurrences, 3u);
  EXPECT_EQ(inc.last_event_id, "evt_3");
  int64_t first;
  ParseTimestamp("2026-03-20T09:00:00Z", &first);
  EXPECT_EQ(inc.first_seen_us, first);
  EXPECT_EQ(inc.max_risk_ppm, 950000);
  EXPECT_EQ(Records()[3].type, "incident.recurred");
}

TEST_F(IngestorTest, BeyondTheWindowOpensANewIncident) {
  auto res = Ingest({EventJson("evt_1", "2026-03-20T10:00:00Z"), EventJson("evt_2", "2026-03-21T10:00:01Z")});
  EXPECT_TRUE(res[1].opened);
  EXPECT_NE(res[1].incident, res[0].incident);
}

TEST_F(IngestorTest, OtherFingerprintOpensAnotherIncident) {
  auto res = Ingest({EventJson("evt_1", "2026-03-20T10:00:00Z"),
                     EventJson("evt_2", "2026-03-20T10:00:00Z", "bob@acme.fr"),
                     EventJson("evt_3", "2026-03-20T10:00:00Z", "alice@acme.fr", "IBAN"),
                     EventJson("evt_4", "2026-03-20T10:00:00Z", "alice@acme.fr", "EMAIL", "COACH")});
  std::set<std::string> ids;
  for (auto& r : res) ids.insert(r.incident);
  EXPECT_EQ(ids.size(), 4u);
}

TEST_F(IngestorTest, RecurrenceRaisesSeverityWithRisk) {
  auto res = Ingest({EventJson("evt_1", "2026-03-20T10:00:00Z", "a@b.c", "EMAIL", "BLOCK", "0.6"),
                     EventJson("evt_2", "2026-03-20T10:05:00Z", "a@b.c", "EMAIL", "BLOCK", "0.91")});
  Incident inc = Find(res[0].incident);
  EXPECT_EQ(inc.severity, Severity::kCritical);
  EXPECT_EQ(inc.max_risk_ppm, 910000);
}

TEST_F(IngestorTest, BadLinesAreRejectedAndKeptValidNeighboursStored) {
  auto res = Ingest({EventJson("evt_1", "2026-03-20T10:00:00Z"), "not json",
                     EventJson("evt_2", "2026-03-20T10:00:00Z", "a@b.c", "EMAIL", "DENY"),
                     EventJson("evt_3", "2026-03-20T10:00:00Z", "bob@acme.fr")});
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kAccepted);
  EXPECT_EQ(res[1].kind, IngestResult::Kind::kRejected);
  EXPECT_EQ(res[1].line, 2u);
  EXPECT_EQ(res[2].kind, IngestResult::Kind::kRejected);
  EXPECT_EQ(res[2].error, R"(field policy_decisions.action: expected one of BLOCK, COACH, ALLOW, got "DENY")");
  EXPECT_EQ(res[3].kind, IngestResult::Kind::kAccepted);
  int rejected = 0;
  for (const auto& r : Records()) {
    if (r.type != "event.rejected") continue;
    ++rejected;
    EXPECT_NE(r.payload.find("\"source\":\"test.jsonl\""), std::string::npos) << r.payload;
    EXPECT_NE(r.payload.find("\"reason\":"), std::string::npos);
    EXPECT_TRUE(r.incident.empty());
  }
  EXPECT_EQ(rejected, 2);
  // A rejected event_id is not remembered: a corrected resend is accepted.
  res = Ingest({EventJson("evt_2", "2026-03-20T10:00:00Z", "a@b.c", "EMAIL", "BLOCK")});
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kAccepted);
}

// {"event_id":"evt_a",...,"event_id":"evt_b"} is evt_b to Boost.JSON and
// evt_a to readers that keep the first: the log's copy would tell an
// auditor's tool another story than the incident noxsync made. Refused and
// kept, with no event id of its own; the key given once is taken.
TEST_F(IngestorTest, AnEventWithAKeyGivenTwiceIsRefusedAndKept) {
  std::string event = EventJson("evt_a", "2026-03-20T10:00:00Z");
  std::string twice_id = event.substr(0, event.size() - 1) + R"(,"event_id":"evt_b"})";
  std::string twice_nested = EventJson("evt_c", "2026-03-20T10:00:00Z");
  twice_nested.replace(twice_nested.find(R"("action":"BLOCK")"), 16, R"("action":"ALLOW","action":"BLOCK")");
  auto res = Ingest({twice_id, twice_nested, EventJson("evt_d", "2026-03-20T10:00:00Z")});
  ASSERT_EQ(res.size(), 3u);
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kRejected);
  EXPECT_EQ(res[0].error, "key \"event_id\" is given twice in one object, which JSON readers take in different "
                          "ways (the first or the last): send each key once");
  EXPECT_TRUE(res[0].event_id.empty()) << res[0].event_id;
  EXPECT_EQ(res[1].kind, IngestResult::Kind::kRejected);
  EXPECT_NE(res[1].error.find("key \"action\" is given twice"), std::string::npos) << res[1].error;
  EXPECT_EQ(res[1].event_id, "evt_c");
  EXPECT_EQ(res[2].kind, IngestResult::Kind::kAccepted);
  int rejected = 0, opened = 0;
  for (const auto& r : Records()) {
    if (r.type == "incident.opened") ++opened;
    if (r.type != "event.rejected") continue;
    ++rejected;
    EXPECT_NE(r.payload.find("is given twice"), std::string::npos) << r.payload;
  }
  EXPECT_EQ(rejected, 2);
  EXPECT_EQ(opened, 1);
}

TEST_F(IngestorTest, TextThatIsNotUtf8IsRefusedAndKeptAsItCame) {
  // An event saved as Latin-1 (é is the one byte 0xE9), and one whose
  // quoted e-mail, 1 + 40 two-byte characters, is cut at 64 bytes: inside one.
  std::string latin1 = EventJson("evt_latin1", "2026-03-20T10:00:00Z", "jos\xE9@acme.fr");
  std::string long_name = "a";
  for (int i = 0; i < 40; ++i) long_name += "\xC3\xA9";
  auto res = Ingest({latin1, EventJson("evt_cut", "2026-03-20T10:00:00Z", long_name)});
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kRejected);
  const size_t at = latin1.find('\xE9') + 1;
  EXPECT_EQ(res[0].error, "not UTF-8: byte " + std::to_string(at) +
                              " of the line is 0xE9; send events in UTF-8 (a file saved as Latin-1 or "
                              "Windows-1252: iconv -f cp1252 -t utf-8)");
  EXPECT_EQ(res[0].event_id, "evt_latin1");  // read from the rest, for the sender and `history`
  EXPECT_EQ(res[1].kind, IngestResult::Kind::kRejected);
  EXPECT_EQ(InvalidUtf8At(res[1].error), std::string_view::npos) << res[1].error;
  EXPECT_NE(res[1].error.find("got \"a" + long_name.substr(1, 62) + "\""), std::string::npos) << res[1].error;

  std::vector<json::object> refusals;
  for (const auto& r : Records()) {
    if (r.type != "event.rejected") continue;
    // Every record reads as JSON, which is UTF-8.
    EXPECT_EQ(InvalidUtf8At(r.payload), std::string_view::npos) << r.payload;
    boost::system::error_code ec;
    json::value v = json::parse(r.payload, ec);
    ASSERT_FALSE(ec) << r.payload;
    refusals.push_back(v.get_object());
  }
  ASSERT_EQ(refusals.size(), 2u);
  auto str = [](const json::object& o, const char* key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string("(none)");
  };
  EXPECT_EQ(str(refusals[0], "event_id"), "evt_latin1");
  std::string readable = latin1;
  readable.replace(at - 1, 1, "\xEF\xBF\xBD");
  EXPECT_EQ(str(refusals[0], "text"), readable);
  EXPECT_EQ(str(refusals[0], "text_base64"), Base64(latin1));  // the bytes as sent
  EXPECT_EQ(str(refusals[1], "event_id"), "evt_cut");
  EXPECT_EQ(str(refusals[1], "text"), EventJson("evt_cut", "2026-03-20T10:00:00Z", long_name));
  EXPECT_FALSE(refusals[1].contains("text_base64"));
}

TEST_F(IngestorTest, AnEventTimedMoreThanADayAheadOfTheClockIsRefusedAndKept) {
  // The clock reads 2026-03-20T14:32:00Z; a day later is the last time taken.
  auto res = Ingest({EventJson("evt_1", "2026-03-21T14:32:00Z"), EventJson("evt_2", "2026-03-21T14:32:01Z"),
                     EventJson("evt_3", "9999-12-31T23:59:59Z", "bob@acme.fr"),
                     EventJson("evt_4", "2026-03-20T16:32:00+00:00", "carol@acme.fr"),
                     EventJson("evt_5", "2026-03-21T16:32:00+02:00", "dan@acme.fr"),
                     EventJson("evt_6", "1970-01-01T00:00:00Z", "erin@acme.fr")});
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kAccepted);
  EXPECT_EQ(res[1].kind, IngestResult::Kind::kRejected);
  EXPECT_EQ(res[1].error,
            "field timestamp: 2026-03-21T14:32:01Z is more than 24 hours after this host's clock "
            "(2026-03-20T14:32:00Z); the clock of whatever reported it, or this host's, is wrong: correct it, "
            "then send the event again");
  EXPECT_EQ(res[1].event_id, "evt_2");
  EXPECT_EQ(res[2].kind, IngestResult::Kind::kRejected);
  EXPECT_EQ(res[3].kind, IngestResult::Kind::kAccepted);
  EXPECT_EQ(res[4].kind, IngestResult::Kind::kAccepted) << "14:32:00Z once its offset is applied: the last time taken";
  EXPECT_EQ(res[5].kind, IngestResult::Kind::kAccepted) << "old events are backfilled on purpose";
  int rejected = 0;
  for (const auto& r : Records()) {
    if (r.type != "event.rejected") continue;
    ++rejected;
    EXPECT_NE(r.payload.find("more than 24 hours after"), std::string::npos) << r.payload;
  }
  EXPECT_EQ(rejected, 2);
  // Once the clocks agree the same event is taken, not called a duplicate.
  clock_.Advance(2LL * 3600 * 1000000);
  res = Ingest({EventJson("evt_2", "2026-03-21T14:32:01Z")});
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kAccepted);
}

TEST_F(IngestorTest, LineTheReaderAlreadyRejectedIsKeptWithItsReason) {
  std::vector<IngestResult> res;
  ASSERT_TRUE(ingestor_->Ingest({{std::string(5000, 'x'), 7, "line longer than 1 MiB; not parsed"},
                                 {EventJson("evt_1", "2026-03-20T10:00:00Z"), 8}},
                                "big.jsonl", &res)
                  .ok());
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kRejected);
  EXPECT_EQ(res[0].error, "line longer than 1 MiB; not parsed");
  EXPECT_EQ(res[1].kind, IngestResult::Kind::kAccepted);
  auto recs = Records();
  ASSERT_EQ(recs[0].type, "event.rejected");
  EXPECT_NE(recs[0].payload.find("\"text_bytes\":5000"), std::string::npos) << recs[0].payload.substr(0, 200);
}

TEST_F(IngestorTest, AFailedDecisionStopsTheIngestorRatherThanTrustHalfStagedRows) {
  Step damage;
  damage.mutations.push_back({Cf::kByFingerprint, "alice@acme.fr|chatgpt|EMAIL|BLOCK", "garbage", false});
  ASSERT_TRUE(log_->Append(std::move(damage)).ok());

  std::vector<IngestResult> res;
  Status s = ingestor_->Ingest({{EventJson("evt_ok", "2026-03-20T10:00:00Z", "bob@acme.fr"), 1},
                                {EventJson("evt_bad", "2026-03-20T10:00:00Z"), 2}},
                               "t", &res);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("malformed"), std::string::npos) << s.message();
  // evt_ok was staged but never stored: it must not come back as a duplicate.
  EXPECT_FALSE(ingestor_->Ingest({{EventJson("evt_ok", "2026-03-20T10:00:00Z", "bob@acme.fr"), 1}}, "t", &res).ok());
  Ingestor fresh(log_.get(), &clock_, options_);
  ASSERT_TRUE(fresh.Ingest({{EventJson("evt_ok", "2026-03-20T10:00:00Z", "bob@acme.fr"), 1}}, "t", &res).ok());
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kAccepted);
}

// A nearly full disk turns a batch away before anything is decided, so the
// same batch is taken once space is freed, by the same Ingestor, with the
// ids it would have had.
TEST_F(IngestorTest, ANearlyFullDiskTurnsTheBatchAwayAndTakesItOnceSpaceIsFreed) {
  auto first = Ingest({EventJson("evt_1", "2026-03-20T14:32:00Z")});
  ASSERT_EQ(first[0].incident, "inc_00000001");
  const std::vector<IngestLine> batch{{EventJson("evt_2", "2026-03-20T14:33:00Z", "bob@acme.fr"), 1},
                                      {EventJson("evt_1", "2026-03-20T14:32:00Z"), 2}};
  log_->SetFreeSpaceReserve(1ull << 62);  // more than any disk has: as good as full
  std::vector<IngestResult> res;
  uint64_t ticket = 0;
  Status s = ingestor_->Submit(batch, "t", &res, &ticket);
  ASSERT_EQ(s.code(), Status::Code::kUnavailable) << s.message();
  EXPECT_NE(s.message().find("is almost full"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("and try again"), std::string::npos) << s.message();
  EXPECT_EQ(Records().size(), 2u);

  log_->SetFreeSpaceReserve(0);
  ASSERT_TRUE(ingestor_->Ingest(batch, "t", &res).ok());
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[0].kind, IngestResult::Kind::kAccepted);
  EXPECT_EQ(res[0].incident, "inc_00000002");  // no id was spent on the refusal
  EXPECT_EQ(res[1].kind, IngestResult::Kind::kDuplicate);
  EXPECT_EQ(Records().size(), 4u);
}

TEST_F(IngestorTest, ConcurrentIngestFromManyThreadsLosesAndRepeatsNothing) {
  constexpr int kThreads = 32, kPerThread = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Every thread also sends one shared event: exactly one accept overall.
        std::string id = i == 0 ? "evt_shared" : "evt_" + std::to_string(t) + "_" + std::to_string(i);
        std::vector<IngestResult> res;
        ASSERT_TRUE(ingestor_->Ingest({{EventJson(id, "2026-03-20T10:00:00Z", "u" + std::to_string(t) + "@x.y"), 1}},
                                      "t", &res)
                        .ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::map<std::string, int> received;
  uint64_t expect_seq = 1;
  for (const auto& r : Records()) {
    EXPECT_EQ(r.seq, expect_seq++);
    if (r.type == "event.received") {
      auto pos = r.payload.find("evt_");
      received[r.payload.substr(pos, r.payload.find('"', pos) - pos)]++;
    }
  }
  EXPECT_EQ(received.size(), size_t{kThreads * (kPerThread - 1) + 1});
  for (auto& [id, n] : received) EXPECT_EQ(n, 1) << id;
}

TEST_F(IngestorTest, RebuildReproducesEveryDerivedRowByteForByte) {
  std::vector<std::string> batch;
  for (int i = 0; i < 3000; ++i) {
    int user = i % 37, type = i % 5;
    char ts[32];
    std::snprintf(ts, sizeof(ts), "2026-03-%02dT%02d:%02d:00Z", 1 + (i / 500), (i / 60) % 24, i % 60);
    batch.push_back(EventJson("evt_" + std::to_string(i % 2900), ts, "u" + std::to_string(user) + "@acme.fr",
                              std::vector<std::string>{"EMAIL", "IBAN", "PHONE", "CREDIT_CARD", "API_KEY"}[type],
                              i % 3 ? "BLOCK" : "COACH", "0." + std::to_string(10 + (i * 7) % 90)));
    if (i % 7 == 0) batch.push_back("{\"broken\":" + std::to_string(i));
    // Refusals that name their event: indexed by its id (kByEvent).
    if (i % 11 == 0) batch.push_back(R"({"event_id":"evt_bad)" + std::to_string(i % 50) + R"(","timestamp":"soon"})");
    if (batch.size() >= 256) {
      clock_.Advance(1000);
      Ingest(batch);
      batch.clear();
    }
  }
  Ingest(batch);

  auto digests = [&] {
    std::vector<std::pair<Hash, uint64_t>> out;
    std::vector<Cf> cfs = DerivedCfs();
    cfs.push_back(Cf::kMeta);
    for (Cf cf : cfs) {
      Hash h;
      uint64_t rows;
      EXPECT_TRUE(log_->Digest(cf, &h, &rows).ok());
      out.push_back({h, rows});
    }
    return out;
  };
  auto before = digests();
  ingestor_.reset();
  uint64_t records = 0;
  ASSERT_TRUE(RebuildProjections(log_.get(), &records).ok());
  EXPECT_EQ(records, log_->Head().seq);
  auto after = digests();
  EXPECT_EQ(before, after);
  EXPECT_GT(before[3].second, 100u);  // incidents: a real test, not an empty one
}

// A refusal is found by the event id it names, through the index the
// writer keeps: an id refused again, an id refused and then accepted (a
// resend with other content is refused too), and one never sent.
TEST_F(IngestorTest, RefusalsAreFoundByTheirEventIdWithoutReadingTheLog) {
  Ingest({R"({"event_id":"evt_a","timestamp":"soon"})", EventJson("evt_b", "2026-03-20T14:32:00Z"),
          "{\"broken\":1"});
  Ingest({R"({"event_id":"evt_a","timestamp":"later"})", EventJson("evt_b", "2026-03-20T14:33:00Z")});
  std::vector<uint64_t> seqs;
  uint64_t next = 1;
  bool read_log = true;
  ASSERT_TRUE(FindRefusals(*log_, "evt_a", 0, 10, &seqs, &next, &read_log).ok());
  EXPECT_FALSE(read_log);
  EXPECT_EQ(next, 0u);
  ASSERT_EQ(seqs.size(), 2u);
  LogRecord r;
  ASSERT_TRUE(log_->ReadRecord(seqs[1], &r).ok());
  EXPECT_EQ(r.type, "event.rejected");
  EXPECT_NE(r.payload.find("later"), std::string::npos) << r.payload;
  ASSERT_TRUE(FindRefusals(*log_, "evt_b", 0, 10, &seqs, &next, &read_log).ok());
  ASSERT_EQ(seqs.size(), 1u);
  ASSERT_TRUE(log_->ReadRecord(seqs[0], &r).ok());
  EXPECT_NE(r.payload.find("other content"), std::string::npos) << r.payload;
  ASSERT_TRUE(FindRefusals(*log_, "evt_c", 0, 10, &seqs, &next, &read_log).ok());
  EXPECT_TRUE(seqs.empty());
  ASSERT_TRUE(FindRefusals(*log_, "evt_a", 0, 1, &seqs, &next, &read_log).ok());
  ASSERT_EQ(seqs.size(), 1u);
  EXPECT_GT(next, seqs[0]);
}

// An index row the log does not bear out (a store changed outside noxsync)
// is named as such, never shown as a refusal.
TEST_F(IngestorTest, ARefusalIndexRowTheLogDoesNotBearOutIsNamed) {
  Ingest({R"({"event_id":"evt_a","timestamp":"soon"})", R"({"event_id":"evt_b","timestamp":"soon"})",
          EventJson("evt_c", "2026-03-20T14:32:00Z")});
  LogRecord r;
  ASSERT_TRUE(ReadRefusal(*log_, "evt_a", 1, &r).ok());
  Step lie;
  lie.mutations.push_back({Cf::kByEvent, RefusalKey("evt_a", 2), ""});   // evt_b's refusal
  lie.mutations.push_back({Cf::kByEvent, RefusalKey("evt_a", 3), ""});   // an accepted event
  lie.mutations.push_back({Cf::kByEvent, RefusalKey("evt_a", 99), ""});  // past the log
  ASSERT_TRUE(log_->Append(std::move(lie)).ok());
  Status s = ReadRefusal(*log_, "evt_a", 2, &r);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("names seq 2 as a refusal of that event id, but the log's record there is a refusal "
                             "of another id; `noxsync replay --rebuild` rewrites the index"),
            std::string::npos)
      << s.message();
  s = ReadRefusal(*log_, "evt_a", 3, &r);
  EXPECT_NE(s.message().find("the log's record there is of type event.received"), std::string::npos) << s.message();
  s = ReadRefusal(*log_, "evt_a", 99, &r);
  EXPECT_NE(s.message().find("names seq 99 but the log has no such record"), std::string::npos) << s.message();
}

// What a version without the index wrote (a store from before it, records
// added during a rollback) is read for the id; after `replay --rebuild` the
// index holds it all, and no refusal shows twice.
TEST_F(IngestorTest, RefusalsAVersionWithoutTheIndexWroteAreFoundInTheLogThenIndexedByARebuild) {
  ingestor_.reset();
  log_.reset();
  EventLogOptions legacy;
  legacy.without_refusal_index = true;
  auto append_as_before_the_index = [&](std::vector<std::string> payloads) {
    auto old = EventLog::OpenForWrite(dir_.path(), legacy);
    ASSERT_TRUE(old.ok()) << old.status().message();
    Step step;
    for (auto& p : payloads) step.records.push_back({1000, "event.rejected", "", std::move(p)});
    ASSERT_TRUE((*old)->Append(std::move(step)).ok());
  };
  // A refusal from before records named the id (read from the text), and one after.
  append_as_before_the_index({R"({"source":"old.jsonl","line":1,"reason":"r","text":"{\"event_id\":\"evt_a\"}"})",
                              R"({"source":"old.jsonl","line":2,"reason":"r","event_id":"evt_a"})"});
  auto reopen = [&] {
    auto log = EventLog::OpenForWrite(dir_.path());
    ASSERT_TRUE(log.ok()) << log.status().message();
    log_ = std::move(log).value();
    ingestor_ = std::make_unique<Ingestor>(log_.get(), &clock_, options_);
  };
  reopen();
  Ingest({R"({"event_id":"evt_a","timestamp":"soon"})"});  // seq 3, indexed
  ingestor_.reset();
  log_.reset();
  append_as_before_the_index({R"({"source":"rollback.jsonl","line":1,"reason":"r","event_id":"evt_a"})"});  // seq 4
  reopen();
  Ingest({R"({"event_id":"evt_a","timestamp":"later"})"});  // seq 5

  std::vector<uint64_t> seqs;
  uint64_t next = 1;
  bool read_log = false;
  ASSERT_TRUE(FindRefusals(*log_, "evt_a", 0, 10, &seqs, &next, &read_log).ok());
  EXPECT_TRUE(read_log);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  // Pages across the indexed and unindexed parts.
  std::vector<uint64_t> paged;
  uint64_t from = 0;
  for (int pages = 0; pages < 10; ++pages) {
    ASSERT_TRUE(FindRefusals(*log_, "evt_a", from, 2, &seqs, &next, &read_log).ok());
    EXPECT_LE(seqs.size(), 2u);
    paged.insert(paged.end(), seqs.begin(), seqs.end());
    if (next == 0) break;
    from = next;
  }
  EXPECT_EQ(paged, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  ASSERT_TRUE(FindRefusals(*log_, "evt_a", 5, 2, &seqs, &next, &read_log).ok());
  EXPECT_FALSE(read_log);  // nothing unindexed left from there on
  EXPECT_EQ(seqs, (std::vector<uint64_t>{5}));

  ingestor_.reset();
  uint64_t records = 0;
  ASSERT_TRUE(RebuildProjections(log_.get(), &records).ok());
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  ASSERT_TRUE(log_->UnindexedRefusalRanges(&ranges).ok());
  EXPECT_TRUE(ranges.empty());
  ASSERT_TRUE(FindRefusals(*log_, "evt_a", 0, 10, &seqs, &next, &read_log).ok());
  EXPECT_FALSE(read_log);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

class SmallStagingTest : public IngestorTest {
 protected:
  void SetUp() override {
    options_.max_staged_rows = 10;
    IngestorTest::SetUp();
  }
};

TEST_F(SmallStagingTest, DroppingStagedRowsKeepsDuplicatesAndRecurrencesRight) {
  for (int round = 0; round < 3; ++round) {
    std::vector<std::string> batch;
    for (int i = 0; i < 40; ++i) batch.push_back(EventJson("evt_" + std::to_string(i), "2026-03-20T10:00:00Z",
                                                           "u" + std::to_string(i % 4) + "@x.y"));
    auto res = Ingest(batch);
    for (int i = 0; i < 40; ++i) {
      EXPECT_EQ(res[i].kind, round == 0 ? IngestResult::Kind::kAccepted : IngestResult::Kind::kDuplicate);
    }
  }
  EXPECT_EQ(Find("inc_00000001").occurrences, 10u);
  std::string v;
  EXPECT_TRUE(log_->Get(Cf::kIncidents, "inc_00000005", &v).IsNotFound());
}

// Submits without waiting between batches, as the webhook does: staged rows
// are sealed while their Step may still be on its way to the disk, and must
// keep answering "duplicate" and "recurrence" until it is there.
TEST_F(SmallStagingTest, SealedRowsAnswerUntilDurableWhenNobodyWaits) {
  std::vector<std::vector<IngestResult>> results;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 60; ++i) {
      std::vector<IngestLine> lines = {{EventJson("evt_" + std::to_string(i), "2026-03-20T10:00:00Z",
                                                  "u" + std::to_string(i % 4) + "@x.y"),
                                        1, ""}};
      results.emplace_back();
      uint64_t ticket = 0;
      ASSERT_TRUE(ingestor_->Submit(lines, "test", &results.back(), &ticket).ok());
    }
  }
  ASSERT_TRUE(log_->Flush().ok());
  for (size_t k = 0; k < results.size(); ++k) {
    ASSERT_EQ(results[k].size(), 1u);
    EXPECT_EQ(results[k][0].kind, k < 60 ? IngestResult::Kind::kAccepted : IngestResult::Kind::kDuplicate) << k;
  }
  EXPECT_EQ(Find("inc_00000001").occurrences, 15u);
  std::string v;
  EXPECT_TRUE(log_->Get(Cf::kIncidents, "inc_00000005", &v).IsNotFound());
}

TEST(StagedState, ASealedGenerationIsReadUnderNewerRowsUntilDropped) {
  testing::TempDir dir;
  auto log = EventLog::OpenForWrite(dir.path());
  ASSERT_TRUE(log.ok()) << log.status().message();
  StagedState s(log->get());
  s.Put(Cf::kMeta, "a", "old-a");
  s.Put(Cf::kMeta, "b", "old-b");
  s.Erase(Cf::kMeta, "gone");
  s.TakeDirty();
  s.Seal(7);
  EXPECT_TRUE(s.has_sealed());
  EXPECT_EQ(s.sealed_ticket(), 7u);
  EXPECT_EQ(s.size(), 0u);
  s.Put(Cf::kMeta, "a", "new-a");
  std::string v;
  bool found = false;
  ASSERT_TRUE(s.Get(Cf::kMeta, "a", &v, &found).ok());
  EXPECT_TRUE(found);
  EXPECT_EQ(v, "new-a");  // the newer generation first
  ASSERT_TRUE(s.Get(Cf::kMeta, "b", &v, &found).ok());
  EXPECT_TRUE(found);
  EXPECT_EQ(v, "old-b");  // then the sealed one
  ASSERT_TRUE(s.Get(Cf::kMeta, "gone", &v, &found).ok());
  EXPECT_FALSE(found);    // an erase is remembered while sealed
  s.DropSealed();
  EXPECT_FALSE(s.has_sealed());
  ASSERT_TRUE(s.Get(Cf::kMeta, "b", &v, &found).ok());
  EXPECT_FALSE(found);    // the store does not have it: this test never wrote it
  ASSERT_TRUE(s.Get(Cf::kMeta, "a", &v, &found).ok());
  EXPECT_EQ(v, "new-a");
}

TEST(GradualFree, FreesAFewEntriesPerStepAndAllOfAnEarlierTakeOnTheNext) {
  std::unordered_map<int, std::string> m;
  for (int i = 0; i < 10; ++i) m[i] = std::string(100, 'x');
  GradualFree<std::unordered_map<int, std::string>> g;
  g.Take(&m);
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(g.size(), 10u);
  g.Step();
  EXPECT_EQ(g.size(), 6u);
  for (int i = 0; i < 3; ++i) m[i] = "y";
  g.Take(&m);  // the 6 left of the first go now
  EXPECT_EQ(g.size(), 3u);
  g.Step();
  g.Step();
  EXPECT_EQ(g.size(), 0u);
}

}  // namespace
}  // namespace noxsync
