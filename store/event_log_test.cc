#include "store/event_log.h"

#include <gtest/gtest.h>

#include <fstream>
#include <rocksdb/db.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "tests/temp_dir.h"

namespace noxsync {
namespace {

using noxsync::testing::TempDir;

Step OneRecord(const std::string& type, const std::string& incident, const std::string& payload) {
  Step s;
  s.records.push_back({1000, type, incident, payload});
  return s;
}

std::unique_ptr<EventLog> OpenWriter(const std::string& path) {
  auto log = EventLog::OpenForWrite(path);
  EXPECT_TRUE(log.ok()) << log.status().message();
  return std::move(log).value();
}

std::vector<LogRecord> AllRecords(const EventLog& log) {
  std::vector<LogRecord> recs;
  EXPECT_TRUE(log.ScanLog(1, [&](const LogRecord& r) {
                   recs.push_back(r);
                   return true;
                 }).ok());
  return recs;
}

std::vector<uint64_t> AllSeqs(const EventLog& log) {
  std::vector<uint64_t> seqs;
  EXPECT_TRUE(log.ScanLog(1, [&](const LogRecord& r) {
                   seqs.push_back(r.seq);
                   return true;
                 }).ok());
  return seqs;
}

TEST(EventLog, AppendAssignsDenseSeqsAndChainsHashes) {
  TempDir dir;
  auto log = OpenWriter(dir.path());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(log->Append(OneRecord("event.received", "inc_1", "{\"i\":" + std::to_string(i) + "}")).ok());
  }
  std::vector<LogRecord> recs = AllRecords(*log);
  ASSERT_EQ(recs.size(), 5u);
  Hash prev{};
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].seq, i + 1);
    EXPECT_EQ(recs[i].prev_hash, prev);
    EXPECT_EQ(recs[i].hash, ComputeHash(recs[i]));
    prev = recs[i].hash;
  }
  EXPECT_EQ(log->Head().seq, 5u);
  EXPECT_EQ(log->Head().hash, prev);
}

TEST(EventLog, APayloadThatIsNotUtf8IsStoredAsUtf8) {
  TempDir dir;
  auto log = OpenWriter(dir.path());
  // A backend's error in Latin-1, and a quote cut inside "é".
  ASSERT_TRUE(log->Append(OneRecord("ticket.create_failed", "inc_1", "{\"error\":\"indisponible \xE0 \xE9t\xE9\"}")).ok());
  ASSERT_TRUE(log->Append(OneRecord("event.rejected", "", "{\"reason\":\"got \\\"jos\xC3\"}")).ok());
  std::vector<LogRecord> recs = AllRecords(*log);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].payload, "{\"error\":\"indisponible \xEF\xBF\xBD \xEF\xBF\xBDt\xEF\xBF\xBD\"}");
  EXPECT_EQ(recs[1].payload, "{\"reason\":\"got \\\"jos\xEF\xBF\xBD\"}");
  // The hash covers what is stored.
  for (const auto& r : recs) EXPECT_EQ(r.hash, ComputeHash(r));
}

TEST(EventLog, IndexesRecordsByIncident) {
  TempDir dir;
  auto log = OpenWriter(dir.path());
  ASSERT_TRUE(log->Append(OneRecord("a", "inc_1", "{}")).ok());
  ASSERT_TRUE(log->Append(OneRecord("b", "inc_2", "{}")).ok());
  ASSERT_TRUE(log->Append(OneRecord("c", "inc_1", "{}")).ok());
  ASSERT_TRUE(log->Append(OneRecord("d", "", "{}")).ok());
  std::vector<LogRecord> recs;
  ASSERT_TRUE(log->IncidentRecords("inc_1", &recs).ok());
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].type, "a");
  EXPECT_EQ(recs[1].type, "c");
  // "inc_1" must not match "inc_10": the key ends the id with a NUL.
  ASSERT_TRUE(log->Append(OneRecord("e", "inc_10", "{}")).ok());
  ASSERT_TRUE(log->IncidentRecords("inc_1", &recs).ok());
  EXPECT_EQ(recs.size(), 2u);
}

Step Refusal(const std::string& event_id) {
  Step s;
  s.records.push_back({1000, "event.rejected", "", "{}", event_id});
  return s;
}

std::vector<uint64_t> RefusalsOf(const EventLog& log, const std::string& id) {
  std::vector<uint64_t> seqs;
  uint64_t next = 1;
  EXPECT_TRUE(log.RefusalSeqs(id, 0, 1000, &seqs, &next).ok());
  EXPECT_EQ(next, 0u);
  return seqs;
}

TEST(EventLog, IndexesRefusalsByTheEventIdTheyName) {
  TempDir dir;
  auto log = OpenWriter(dir.path());
  ASSERT_TRUE(log->Append(Refusal("evt_1")).ok());
  ASSERT_TRUE(log->Append(OneRecord("event.received", "inc_1", "{}")).ok());
  ASSERT_TRUE(log->Append(Refusal("evt_10")).ok());  // "evt_1" must not match it
  ASSERT_TRUE(log->Append(Refusal("evt_1")).ok());
  ASSERT_TRUE(log->Append(Refusal("")).ok());                      // no id: no row
  ASSERT_TRUE(log->Append(Refusal(std::string("evt\0x", 5))).ok());  // would blur the key: no row
  ASSERT_TRUE(log->Append(Refusal(std::string(kMaxRefusalIdBytes + 1, 'e'))).ok());
  ASSERT_TRUE(log->Append(Refusal(std::string(kMaxRefusalIdBytes, 'e'))).ok());
  EXPECT_EQ(RefusalsOf(*log, "evt_1"), (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(RefusalsOf(*log, "evt_10"), (std::vector<uint64_t>{3}));
  EXPECT_EQ(RefusalsOf(*log, "evt_"), (std::vector<uint64_t>{}));
  EXPECT_EQ(RefusalsOf(*log, ""), (std::vector<uint64_t>{}));
  EXPECT_EQ(RefusalsOf(*log, std::string(kMaxRefusalIdBytes, 'e')), (std::vector<uint64_t>{8}));
  uint64_t rows = 0;
  Hash unused;
  ASSERT_TRUE(log->Digest(Cf::kByEvent, &unused, &rows).ok());
  EXPECT_EQ(rows, 4u);
  // In pages: from a seq, at most `limit`, and where the next page starts.
  std::vector<uint64_t> seqs;
  uint64_t next = 0;
  ASSERT_TRUE(log->RefusalSeqs("evt_1", 0, 1, &seqs, &next).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1}));
  EXPECT_EQ(next, 4u);
  ASSERT_TRUE(log->RefusalSeqs("evt_1", next, 1, &seqs, &next).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{4}));
  EXPECT_EQ(next, 0u);
  std::vector<std::pair<uint64_t, uint64_t>> unindexed;
  ASSERT_TRUE(log->UnindexedRefusalRanges(&unindexed).ok());
  EXPECT_TRUE(unindexed.empty());  // a store this version created: all of it is indexed
}

// What a version without the refusal index wrote is noted as a range to
// read the log for: all of a store it made, and what it added while it ran
// in this one's place (a rollback), which a reader sees at once.
TEST(EventLog, WhatAVersionWithoutTheRefusalIndexWroteIsNotedAsUnindexed) {
  using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;
  TempDir dir;
  EventLogOptions legacy;
  legacy.without_refusal_index = true;
  auto append = [&](const EventLogOptions& options) {
    auto log = EventLog::OpenForWrite(dir.path(), options);
    ASSERT_TRUE(log.ok()) << log.status().message();
    ASSERT_TRUE((*log)->Append(Refusal("evt_1")).ok());
  };
  append(legacy);  // seq 1
  append(legacy);  // seq 2
  auto reader = EventLog::OpenForRead(dir.path());
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  Ranges ranges;
  ASSERT_TRUE((*reader)->UnindexedRefusalRanges(&ranges).ok());
  EXPECT_EQ(ranges, (Ranges{{1, 2}}));
  EXPECT_EQ(RefusalsOf(**reader, "evt_1"), (std::vector<uint64_t>{}));
  append({});      // seq 3, by this version
  append(legacy);  // seq 4: rolled back
  ASSERT_TRUE((*reader)->Refresh().ok());
  ASSERT_TRUE((*reader)->UnindexedRefusalRanges(&ranges).ok());
  EXPECT_EQ(ranges, (Ranges{{1, 2}, {4, 4}}));  // before this version writes again
  append({});  // seq 5
  append({});  // seq 6: no new range
  ASSERT_TRUE((*reader)->Refresh().ok());
  ASSERT_TRUE((*reader)->UnindexedRefusalRanges(&ranges).ok());
  EXPECT_EQ(ranges, (Ranges{{1, 2}, {4, 4}}));
  EXPECT_EQ(RefusalsOf(**reader, "evt_1"), (std::vector<uint64_t>{3, 5, 6}));
}

TEST(EventLog, IncidentRecordsComeInPagesThatResumeWhereTheLastStopped) {
  TempDir dir;
  auto log = OpenWriter(dir.path());
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(log->Append(OneRecord("r" + std::to_string(i), "inc_1", "{}")).ok());
    ASSERT_TRUE(log->Append(OneRecord("other", "inc_2", "{}")).ok());
  }
  ASSERT_TRUE(log->Append(OneRecord("neighbour", "inc_10", "{}")).ok());
  std::vector<std::string> types;
  std::vector<uint64_t> cursors;
  uint64_t from = 0, next = 0;
  do {
    std::vector<LogRecord> page;
    ASSERT_TRUE(log->IncidentRecords("inc_1", from, 3, &page, &next).ok());
    EXPECT_LE(page.size(), 3u);
    for (const auto& r : page) types.push_back(r.type);
    cursors.push_back(next);
    from = next;
  } while (next != 0 && cursors.size() < 10);
  EXPECT_EQ(types, (std::vector<std::string>{"r0", "r1", "r2", "r3", "r4", "r5", "r6"}));
  // 3 + 3 + 1: the cursors are the seqs of r3 and r6 (inc_1's records are the odd seqs), then the end.
  EXPECT_EQ(cursors, (std::vector<uint64_t>{7, 13, 0}));
  // A page that ends exactly at the last record says so.
  std::vector<LogRecord> all;
  ASSERT_TRUE(log->IncidentRecords("inc_1", 0, 7, &all, &next).ok());
  EXPECT_EQ(all.size(), 7u);
  EXPECT_EQ(next, 0u);
}

TEST(EventLog, AnIncidentRecordsVisitorEndsItsPageWhereItChooses) {
  TempDir dir;
  auto log = OpenWriter(dir.path());
  // 600 records of about 1 KB, more than the 256-record slices a page is read in.
  const std::string big = "{\"pad\":\"" + std::string(1000, 'x') + "\"}";
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(log->Append(OneRecord("r" + std::to_string(i), "inc_1", big)).ok());
  ASSERT_TRUE(log->Append(OneRecord("neighbour", "inc_10", big)).ok());
  // Pages of up to 300 KB of payload, as the API bounds its pages.
  std::vector<std::string> types;
  std::vector<size_t> sizes;
  uint64_t from = 0, next = 0;
  do {
    size_t bytes = 0, count = 0;
    uint64_t last_seq = 0;
    ASSERT_TRUE(log->IncidentRecords(
                       "inc_1", from, 10000,
                       [&](const LogRecord& r) {
                         if (bytes >= 300'000) return false;
                         bytes += r.payload.size();
                         types.push_back(r.type);
                         last_seq = r.seq;
                         ++count;
                         return true;
                       },
                       &next)
                    .ok());
    if (next != 0) {
      EXPECT_EQ(next, last_seq + 1);  // the record it refused is where the next page starts
    }
    sizes.push_back(count);
    from = next;
  } while (next != 0 && sizes.size() < 20);
  ASSERT_EQ(types.size(), 600u);  // each record once, in order, and nothing of inc_10
  for (int i = 0; i < 600; ++i) EXPECT_EQ(types[i], "r" + std::to_string(i));
  EXPECT_EQ(sizes, (std::vector<size_t>{298, 298, 4}));  // 298 payloads of 1,010 bytes pass 300,000
  // Refusing the first record ends the page at once, at that record.
  ASSERT_TRUE(log->IncidentRecords("inc_1", 0, 10000, [](const LogRecord&) { return false; }, &next).ok());
  EXPECT_EQ(next, 1u);
}

TEST(EventLog, ConcurrentAppendsAreDenseAndEachSeqAppearsOnce) {
  TempDir dir;
  auto log = OpenWriter(dir.path());
  constexpr int kThreads = 16, kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Step s = OneRecord("x", "", "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}");
        EXPECT_TRUE(log->Append(std::move(s)).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<uint64_t> seqs = AllSeqs(*log);
  ASSERT_EQ(seqs.size(), size_t{kThreads * kPerThread});
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
  std::set<std::string> payloads;
  ASSERT_TRUE(log->ScanLog(1, [&](const LogRecord& r) { return payloads.insert(r.payload).second; }).ok());
  EXPECT_EQ(payloads.size(), seqs.size());
  VerifyReport rep;
  ASSERT_TRUE(log->VerifyChain(&rep).ok());
  EXPECT_EQ(rep.first_bad_seq, 0u) << rep.problem;
}

TEST(EventLog, ReopenContinuesTheChain) {
  TempDir dir;
  Hash head;
  {
    auto log = OpenWriter(dir.path());
    ASSERT_TRUE(log->Append(OneRecord("a", "", "{}")).ok());
    ASSERT_TRUE(log->Append(OneRecord("b", "", "{}")).ok());
    head = log->Head().hash;
  }
  auto log = OpenWriter(dir.path());
  EXPECT_EQ(log->Head().seq, 2u);
  EXPECT_EQ(log->Head().hash, head);
  ASSERT_TRUE(log->Append(OneRecord("c", "", "{}")).ok());
  LogRecord r;
  ASSERT_TRUE(log->ReadRecord(3, &r).ok());
  EXPECT_EQ(r.prev_hash, head);
}

TEST(EventLog, SecondWriterIsRefusedWithPathAndHolder) {
  TempDir dir;
  EventLogOptions opts;
  opts.holder = "noxsync ingest big.jsonl";
  auto first = EventLog::OpenForWrite(dir.path(), opts);
  ASSERT_TRUE(first.ok());
  auto second = EventLog::OpenForWrite(dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kBusy);
  const std::string& msg = second.status().message();
  EXPECT_NE(msg.find(dir.path()), std::string::npos) << msg;
  EXPECT_NE(msg.find("pid " + std::to_string(::getpid())), std::string::npos) << msg;
  EXPECT_NE(msg.find("noxsync ingest big.jsonl"), std::string::npos) << msg;
}

TEST(EventLog, ReaderSeesWhatTheLiveWriterMadeDurable) {
  TempDir dir;
  auto writer = OpenWriter(dir.path());
  ASSERT_TRUE(writer->Append(OneRecord("a", "inc_1", "{}")).ok());
  auto reader = EventLog::OpenForRead(dir.path());
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  EXPECT_EQ(AllSeqs(**reader).size(), 1u);
  ASSERT_TRUE(writer->Append(OneRecord("b", "inc_1", "{}")).ok());
  ASSERT_TRUE((*reader)->Refresh().ok());
  EXPECT_EQ(AllSeqs(**reader).size(), 2u);
  VerifyReport rep;
  ASSERT_TRUE((*reader)->VerifyChain(&rep).ok());
  EXPECT_EQ(rep.first_bad_seq, 0u) << rep.problem;
  EXPECT_EQ(rep.records, 2u);
}

TEST(EventLog, StoreWhoseCreationWasInterruptedReadsAsEmptyAndWriterCompletesIt) {
  // What a writer killed between creating the database and its last column
  // family leaves behind (found by the crash test).
  TempDir dir;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.path(), &db).ok());
    rocksdb::ColumnFamilyHandle* h = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "log", &h).ok());
    db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  {
    auto reader = EventLog::OpenForRead(dir.path());
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    VerifyReport rep;
    ASSERT_TRUE((*reader)->VerifyChain(&rep).ok());
    EXPECT_EQ(rep.first_bad_seq, 0u) << rep.problem;
    EXPECT_EQ(rep.records, 0u);
    std::string v;
    EXPECT_TRUE((*reader)->Get(Cf::kIncidents, "inc_00000001", &v).IsNotFound());
  }
  auto writer = OpenWriter(dir.path());
  ASSERT_TRUE(writer->Append(OneRecord("a", "inc_1", "{}")).ok());
  std::vector<LogRecord> recs;
  EXPECT_TRUE(writer->IncidentRecords("inc_1", &recs).ok());
  EXPECT_EQ(recs.size(), 1u);
}

TEST(EventLog, ReaderOnMissingStoreSaysSo) {
  TempDir dir;
  auto reader = EventLog::OpenForRead(dir.Sub("nope"));
  ASSERT_FALSE(reader.ok());
  EXPECT_TRUE(reader.status().IsNotFound());
  EXPECT_NE(reader.status().message().find("no noxsync store at"), std::string::npos);
}

TEST(EventLog, AWriterGivenAFileForItsFolderSaysSo) {
  TempDir dir;
  std::ofstream(dir.Sub("events.jsonl")) << "{}\n";
  auto writer = EventLog::OpenForWrite(dir.Sub("events.jsonl"));
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().message(),
            dir.Sub("events.jsonl") + " is a file, not a store folder: name a folder (a new one is created)");
}

// Writes `value` at log key `seq` behind noxsync's back, as an attacker or a
// bad disk would.
void Overwrite(const std::string& path, uint64_t seq, const std::string& value, bool erase = false) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  for (auto& n : names) descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, descs, &handles, &db).ok());
  rocksdb::ColumnFamilyHandle* log_cf = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "log") log_cf = handles[i];
  }
  ASSERT_NE(log_cf, nullptr);
  if (erase) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), log_cf, SeqKey(seq)).ok());
  } else {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), log_cf, SeqKey(seq), value).ok());
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

std::string StoredValue(const std::string& path, uint64_t seq) {
  auto r = EventLog::OpenForRead(path);
  std::string v;
  EXPECT_TRUE((*r)->Get(Cf::kLog, SeqKey(seq), &v).ok());
  return v;
}

void Fill(const std::string& path, int n) {
  auto log = OpenWriter(path);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(log->Append(OneRecord("event.received", "inc_" + std::to_string(i % 3),
                                      "{\"event_id\":\"evt_" + std::to_string(i) + "\"}"))
                    .ok());
  }
}

uint64_t FirstBadSeq(const std::string& path, std::string* problem = nullptr) {
  auto r = EventLog::OpenForRead(path);
  EXPECT_TRUE(r.ok());
  VerifyReport rep;
  EXPECT_TRUE((*r)->VerifyChain(&rep).ok());
  if (problem) *problem = rep.problem;
  return rep.first_bad_seq;
}

TEST(EventLogTamper, FlippingAnyByteOfAStoredRecordIsNamedByItsSeq) {
  TempDir dir;
  Fill(dir.path(), 20);
  ASSERT_EQ(FirstBadSeq(dir.path()), 0u);
  std::mt19937 rng(20261129);
  // Header, seq and length bytes, a stride through the payload, and bytes of
  // prev_hash and hash, then random records and positions.
  std::vector<std::pair<uint64_t, size_t>> cases;
  const size_t size = StoredValue(dir.path(), 11).size();
  for (size_t pos = 0; pos < size; pos += pos < 40 || pos >= size - 64 ? 3 : 11) cases.push_back({11, pos});
  cases.push_back({11, size - 1});
  for (int i = 0; i < 20; ++i) {
    uint64_t seq = 1 + rng() % 20;
    cases.push_back({seq, rng() % StoredValue(dir.path(), seq).size()});
  }
  for (auto [seq, pos] : cases) {
    std::string original = StoredValue(dir.path(), seq);
    std::string tampered = original;
    tampered[pos] = static_cast<char>(tampered[pos] ^ (1 + rng() % 255));
    Overwrite(dir.path(), seq, tampered);
    std::string problem;
    EXPECT_EQ(FirstBadSeq(dir.path(), &problem), seq) << "byte " << pos << " of seq " << seq;
    EXPECT_FALSE(problem.empty());
    Overwrite(dir.path(), seq, original);
  }
  EXPECT_EQ(FirstBadSeq(dir.path()), 0u);
}

TEST(EventLog, FilteredScanSkipsUnwantedTypesButStillNamesABrokenRecord) {
  TempDir dir;
  {
    auto log = OpenWriter(dir.path());
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(log->Append(OneRecord(i % 2 ? "incident.opened" : "event.received", "inc_1", "{}")).ok());
    }
  }
  auto want_opened = [](std::string_view type) { return type == "incident.opened"; };
  auto seqs_of = [&](const EventLog& log, Status* status) {
    std::vector<uint64_t> seqs;
    *status = log.ScanLog(1, want_opened, [&](const LogRecord& r) {
      EXPECT_EQ(r.type, "incident.opened");
      seqs.push_back(r.seq);
      return true;
    });
    return seqs;
  };
  Status s;
  {
    auto r = EventLog::OpenForRead(dir.path());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(seqs_of(**r, &s), (std::vector<uint64_t>{2, 4, 6}));
    EXPECT_TRUE(s.ok()) << s.message();
  }
  // A record cut short is not skipped as "another type": the scan stops there.
  Overwrite(dir.path(), 3, StoredValue(dir.path(), 3).substr(0, 30));
  auto r = EventLog::OpenForRead(dir.path());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(seqs_of(**r, &s), (std::vector<uint64_t>{2}));
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("seq 3"), std::string::npos) << s.message();
}

TEST(EventLogTamper, DeletedRecordIsNamed) {
  TempDir dir;
  Fill(dir.path(), 10);
  Overwrite(dir.path(), 4, "", /*erase=*/true);
  std::string problem;
  EXPECT_EQ(FirstBadSeq(dir.path(), &problem), 4u);
  EXPECT_NE(problem.find("missing"), std::string::npos) << problem;
}

TEST(EventLogTamper, TruncatedTailIsCaughtByTheChainHead) {
  TempDir dir;
  Fill(dir.path(), 10);
  Overwrite(dir.path(), 10, "", /*erase=*/true);
  std::string problem;
  EXPECT_EQ(FirstBadSeq(dir.path(), &problem), 10u);
  EXPECT_NE(problem.find("chain head"), std::string::npos) << problem;
  // And a writer refuses to append on top of it.
  auto w = EventLog::OpenForWrite(dir.path());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Status::Code::kCorruption);
}

TEST(EventLogTamper, RewrittenRecordWithRecomputedHashBreaksTheNextLink) {
  TempDir dir;
  Fill(dir.path(), 5);
  LogRecord r;
  ASSERT_TRUE(DecodeRecord(StoredValue(dir.path(), 3), &r).ok());
  r.payload = "{\"event_id\":\"forged\"}";
  r.hash = ComputeHash(r);
  Overwrite(dir.path(), 3, EncodeRecord(r));
  EXPECT_EQ(FirstBadSeq(dir.path()), 4u);
}

TEST(EventLog, RebuildDerivedRecreatesTheIncidentIndex) {
  TempDir dir;
  Fill(dir.path(), 9);
  auto log = OpenWriter(dir.path());
  Hash before{}, after{};
  uint64_t rows_before = 0, rows_after = 0;
  ASSERT_TRUE(log->Digest(Cf::kByIncident, &before, &rows_before).ok());
  ASSERT_TRUE(log->RebuildDerived([](const LogRecord&, std::vector<Mutation>*) { return Status::Ok(); },
                                  [] {})
                  .ok());
  ASSERT_TRUE(log->Digest(Cf::kByIncident, &after, &rows_after).ok());
  EXPECT_EQ(rows_before, 9u);
  EXPECT_EQ(rows_after, 9u);
  EXPECT_EQ(before, after);
}

TEST(EventLog, NearlyFullDiskRefusesTheWriteWithAClearMessageAndKeepsWhatWasStored) {
  TempDir dir;
  Fill(dir.path(), 3);
  EventLogOptions opts;
  opts.min_free_bytes = 1ull << 62;  // more than any disk has: as good as full
  auto full = EventLog::OpenForWrite(dir.path(), opts);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.status().message().find("is almost full"), std::string::npos) << full.status().message();
  // Space runs out while open: that group is refused with the message, and
  // so is every later one (what the caller holds no longer matches the disk).
  opts.min_free_bytes = 0;
  {
    auto log = EventLog::OpenForWrite(dir.path(), opts);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(OneRecord("ok", "", "{}")).ok());
    (*log)->SetFreeSpaceReserve(1ull << 62);
    Status s = (*log)->Append(OneRecord("refused", "", "{}"));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("Nothing of this batch was stored"), std::string::npos) << s.message();
    (*log)->SetFreeSpaceReserve(0);
    EXPECT_FALSE((*log)->Append(OneRecord("after", "", "{}")).ok());
  }
  EXPECT_EQ(FirstBadSeq(dir.path()), 0u);
  auto reader = EventLog::OpenForRead(dir.path());
  EXPECT_EQ(AllSeqs(**reader).size(), 4u);
}

// CheckRoom says so before a Step is built, and changes nothing: the log
// takes Steps again once there is room, unlike after a refused write.
TEST(EventLog, CheckRoomTurnsAwayWithoutFailingTheLog) {
  TempDir dir;
  auto log = EventLog::OpenForWrite(dir.path(), EventLogOptions{});
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE((*log)->CheckRoom(1000).ok());
  (*log)->SetFreeSpaceReserve(1ull << 62);
  Status s = (*log)->CheckRoom(1000);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.message();
  EXPECT_NE(s.message().find("the disk of store " + dir.path() + " is almost full"), std::string::npos) << s.message();
  (*log)->SetFreeSpaceReserve(0);
  EXPECT_TRUE((*log)->CheckRoom(1000).ok());  // read again at once, not when a write comes
  EXPECT_TRUE((*log)->Append(OneRecord("after", "", "{}")).ok());
}

// Steps submitted and not yet written count as taken: a burst let through on
// one reading of the disk cannot pass the margin together and reach the
// writer's own check, which would fail the log for good. The probe puts the
// disk at an exact fill and holds the writer inside its check, so the Steps
// stay unwritten for as long as the test asks.
TEST(EventLog, CheckRoomCountsWhatIsQueuedAndNotYetWritten) {
  constexpr uint64_t kMiB = 1ull << 20;
  constexpr uint64_t kFree = 4096 * kMiB;
  struct Probe {
    std::mutex mu;
    std::condition_variable cv;
    bool hold = true;
    bool writer_waiting = false;
    std::thread::id test_thread = std::this_thread::get_id();
  } probe;
  TempDir dir;
  EventLogOptions opts;
  opts.min_free_bytes = kFree - 42 * kMiB;  // room for 10 MiB above the 32 MiB margin
  opts.free_space_probe = [&probe](const std::string&) {
    std::unique_lock<std::mutex> lk(probe.mu);
    if (std::this_thread::get_id() != probe.test_thread && probe.hold) {
      probe.writer_waiting = true;
      probe.cv.notify_all();
      probe.cv.wait(lk, [&] { return !probe.hold; });
    }
    return kFree;
  };
  auto log = EventLog::OpenForWrite(dir.path(), opts);
  ASSERT_TRUE(log.ok()) << log.status().message();
  auto release = [&probe] {
    std::lock_guard<std::mutex> lk(probe.mu);
    probe.hold = false;
    probe.cv.notify_all();
  };
  // Declared after the log, so gone before it: a failed assertion must not
  // leave the writer held while the log's destructor waits for it.
  struct Release {
    std::function<void()> f;
    ~Release() { f(); }
  } released_at_exit{release};

  const std::string three_mib(3 * kMiB, 'x');  // about 6 MiB of batch, as the writer counts it
  ASSERT_TRUE((*log)->CheckRoom(kMiB).ok());
  const uint64_t first = (*log)->Submit(OneRecord("big", "", three_mib));
  {
    std::unique_lock<std::mutex> lk(probe.mu);
    probe.cv.wait(lk, [&] { return probe.writer_waiting; });
  }
  EXPECT_TRUE((*log)->CheckRoom(kMiB).ok());  // 6 + 1 of 10 MiB
  const uint64_t second = (*log)->Submit(OneRecord("big", "", three_mib));
  Status s = (*log)->CheckRoom(kMiB);  // 12 + 1
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.message();
  EXPECT_NE(s.message().find("is almost full"), std::string::npos) << s.message();
  EXPECT_FALSE((*log)->Settled(first));

  release();
  EXPECT_TRUE((*log)->WaitFor(second).ok());
  EXPECT_TRUE((*log)->CheckRoom(kMiB).ok());  // written: nothing pending, and the probe says the same
  EXPECT_TRUE((*log)->Append(OneRecord("after", "", "{}")).ok());
}

TEST(EventLog, MutationsAreWrittenWithTheirRecords) {
  TempDir dir;
  auto log = OpenWriter(dir.path());
  Step s = OneRecord("event.received", "inc_1", "{}");
  s.mutations.push_back({Cf::kByEvent, "evt_1", "inc_1", false});
  ASSERT_TRUE(log->Append(std::move(s)).ok());
  std::string v;
  ASSERT_TRUE(log->Get(Cf::kByEvent, "evt_1", &v).ok());
  EXPECT_EQ(v, "inc_1");
  Step del;
  del.mutations.push_back({Cf::kByEvent, "evt_1", "", true});
  ASSERT_TRUE(log->Append(std::move(del)).ok());
  EXPECT_TRUE(log->Get(Cf::kByEvent, "evt_1", &v).IsNotFound());
}

// Steps submitted back to back share a group, whose rows the writer puts in
// key order and writes once each; a row several of them change must keep the
// last Step's value, an erase included.
TEST(EventLog, ARowChangedByManyStepsOfOneGroupKeepsTheLastChange) {
  TempDir dir;
  auto log = OpenWriter(dir.path());
  constexpr int kSteps = 2000;
  for (int i = 0; i < kSteps; ++i) {
    Step s = OneRecord("event.received", "inc_1", "{}");
    s.mutations.push_back({Cf::kByEvent, "evt_" + std::to_string(i), "inc_1", false});
    s.mutations.push_back({Cf::kIncidents, "inc_shared", "v" + std::to_string(i), false});
    s.mutations.push_back({Cf::kByFingerprint, "fp_" + std::to_string(i % 7), std::to_string(i), false});
    s.mutations.push_back({Cf::kMeta, "toggle", "on", i % 2 != 0});  // erased by odd steps
    log->Submit(std::move(s));
  }
  ASSERT_TRUE(log->Flush().ok());
  std::string v;
  ASSERT_TRUE(log->Get(Cf::kIncidents, "inc_shared", &v).ok());
  EXPECT_EQ(v, "v" + std::to_string(kSteps - 1));
  for (int k = 0; k < 7; ++k) {
    int last = (kSteps - 1) - ((kSteps - 1 - k) % 7);
    ASSERT_TRUE(log->Get(Cf::kByFingerprint, "fp_" + std::to_string(k), &v).ok());
    EXPECT_EQ(v, std::to_string(last)) << "fp_" << k;
  }
  EXPECT_TRUE(log->Get(Cf::kMeta, "toggle", &v).IsNotFound());
  for (int i = 0; i < kSteps; i += 97) EXPECT_TRUE(log->Get(Cf::kByEvent, "evt_" + std::to_string(i), &v).ok());
  EXPECT_EQ(log->Head().seq, static_cast<uint64_t>(kSteps));
}

// The time index, through what it promises: for any time T, every record
// before SeqForTime(T) is timed before T. Times here step back now and then,
// as they do with two writers or a clock set back.
class TimeIndexTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kBucket = 4096;

  // Appends n records, in Steps of up to 500, timed from `times_`.
  void AppendTimed(EventLog* log, uint64_t n) {
    while (n > 0) {
      Step step;
      for (uint64_t k = 0; k < std::min<uint64_t>(n, 500); ++k) {
        size_t i = times_.size();
        int64_t t = 1'000'000 * static_cast<int64_t>(i) + (i % 97 == 0 ? -5'000'000 : 0);
        if (auto it = overrides_.find(i); it != overrides_.end()) t = it->second;
        times_.push_back(t);
        step.records.push_back({t, "event.received", "", "{}"});
      }
      n -= step.records.size();
      ASSERT_TRUE(log->Append(std::move(step)).ok());
    }
  }

  // Checks the promise for times around each record's, and returns the
  // start for `since`.
  uint64_t CheckedStart(const EventLog& log, int64_t since) const {
    uint64_t from = 0;
    EXPECT_TRUE(log.SeqForTime(since, &from).ok());
    EXPECT_GE(from, 1u);
    for (uint64_t seq = 1; seq < from && seq <= times_.size(); ++seq) {
      EXPECT_LT(times_[seq - 1], since) << "seq " << seq << " would be skipped";
    }
    return from;
  }

  static std::string RowKey(uint64_t bucket) { return "time_max/" + SeqKey(bucket); }

  std::vector<int64_t> times_;  // times_[seq - 1]
  std::map<size_t, int64_t> overrides_;  // seq - 1 -> time, instead of the pattern
};

TEST_F(TimeIndexTest, SinceSkipsOnlyBlocksWhoseRecordsAreAllOlder) {
  TempDir dir;
  auto log = OpenWriter(dir.path());
  AppendTimed(log.get(), 3 * kBucket + 100);
  for (int64_t since : {int64_t{0}, int64_t{1'000'000}, int64_t{4'000'000'000}, int64_t{4'096'000'000},
                        int64_t{9'000'000'000}, int64_t{12'300'000'000}, INT64_MAX}) {
    CheckedStart(*log, since);
  }
  EXPECT_EQ(CheckedStart(*log, 0), 1u);
  // Past the first block's times: its 4,096 records are skipped.
  EXPECT_EQ(CheckedStart(*log, 4'100'000'000), kBucket + 1);
  // Later than every record: the start is the open block (seq 12,289).
  EXPECT_EQ(CheckedStart(*log, INT64_MAX), 3 * kBucket + 1);
}

TEST_F(TimeIndexTest, ReopeningCarriesTheOpenBlockOver) {
  TempDir dir;
  // The second block's latest record is written before the reopen: its row,
  // written after it, must still hold that time, or a query would skip the
  // block.
  overrides_[kBucket + 10] = 99'000'000'000;
  {
    auto log = OpenWriter(dir.path());
    AppendTimed(log.get(), kBucket + 1000);
  }
  auto log = OpenWriter(dir.path());
  AppendTimed(log.get(), kBucket);
  std::string row;
  ASSERT_TRUE(log->Get(Cf::kMeta, RowKey(1), &row).ok());
  EXPECT_EQ(row, "99000000000");
  EXPECT_EQ(CheckedStart(*log, 50'000'000'000), kBucket + 1);
}

TEST_F(TimeIndexTest, RebuildWritesTheIndexOfAStoreThatHadNoneAndVerifyCatchesALyingRow) {
  TempDir dir;
  auto log = OpenWriter(dir.path());
  AppendTimed(log.get(), 2 * kBucket + 10);
  // A store from before the index: no rows. The start falls back to seq 1.
  Step drop;
  for (uint64_t b = 0; b < 2; ++b) drop.mutations.push_back({Cf::kMeta, RowKey(b), "", true});
  ASSERT_TRUE(log->Append(std::move(drop)).ok());
  EXPECT_EQ(CheckedStart(*log, INT64_MAX), 1u);
  VerifyReport report;
  ASSERT_TRUE(log->VerifyChain(&report).ok());
  EXPECT_EQ(report.first_bad_seq, 0u);
  EXPECT_EQ(report.index_problem, "");  // missing rows only cost time

  ASSERT_TRUE(log->RebuildDerived([](const LogRecord&, std::vector<Mutation>*) { return Status::Ok(); }, [] {}).ok());
  EXPECT_EQ(CheckedStart(*log, INT64_MAX), 2 * kBucket + 1);

  // A row claiming the first block is older than it is would hide records
  // from a `since` query: verify names it, the chain itself still intact.
  Step lie;
  lie.mutations.push_back({Cf::kMeta, RowKey(0), "0", false});
  ASSERT_TRUE(log->Append(std::move(lie)).ok());
  ASSERT_TRUE(log->VerifyChain(&report).ok());
  EXPECT_EQ(report.first_bad_seq, 0u);
  EXPECT_NE(report.index_problem.find("seqs 1..4096"), std::string::npos) << report.index_problem;
}

}  // namespace
}  // namespace noxsync
