// Ingest, query and rebuild benchmarks for the event log (issue 2), with the
// peers measured in the same run:
//   - durable bulk ingest end to end from a JSON file (`noxsync ingest`),
//     beside raw RocksDB synced WriteBatches (the ceiling) and SQLite in WAL
//     mode with synchronous=FULL (the store a user would otherwise pick),
//     both storing the same rows, already parsed;
//   - 32 threads appending single events durably (group commit), beside one
//     fsync per event;
//   - history lookup p50/p99 on the big store, replay --rebuild rate, and the
//     peak RSS of ingest.
// Prints Google Benchmark's report, then one table with the targets.
//
//   build/bench/ingest_bench [--events=N] [--dir=PATH] [benchmark flags]

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "store/event_log.h"
#include "sync/clock.h"
#include "sync/incident.h"
#include "sync/ingestor.h"
#include "sync/noxys_event.h"
#include "sync/projector.h"
#include "tests/event_generator.h"

namespace noxsync {
namespace {

namespace fs = std::filesystem;
using Seconds = std::chrono::duration<double>;
using SteadyClock = std::chrono::steady_clock;

struct Config {
  uint64_t events = 1000000;
  std::string dir;
  int concurrent_threads = 32;
  int concurrent_per_thread = 1000;
  int single_fsync_events = 1000;
};
Config g_config;

// Figures collected by the benchmarks for the final table.
std::map<std::string, double> g_fig;

std::string EventsFile() { return g_config.dir + "/events.jsonl"; }
std::string BulkStore() { return g_config.dir + "/bulk-store"; }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

// ---------------------------------------------------------------------------
// Durable bulk ingest, end to end: the real binary on the real file.

void BM_NoxsyncBulkIngest(benchmark::State& state) {
  for (auto _ : state) {
    fs::remove_all(BulkStore());
    auto t0 = SteadyClock::now();
    pid_t pid = ::fork();
    if (pid == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      ::execl(NOXSYNC_BIN, NOXSYNC_BIN, "ingest", EventsFile().c_str(), "--db", BulkStore().c_str(), "--quiet",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int status = 0;
    struct rusage ru{};
    ::wait4(pid, &status, 0, &ru);
    double secs = Seconds(SteadyClock::now() - t0).count();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError("noxsync ingest failed");
      return;
    }
    state.SetIterationTime(secs);
    g_fig["bulk_events_per_s"] = g_config.events / secs;
    g_fig["ingest_peak_rss_mib"] = ru.ru_maxrss / 1024.0;
  }
  state.counters["events/s"] = g_fig["bulk_events_per_s"];
  state.counters["peak_rss_MiB"] = g_fig["ingest_peak_rss_mib"];
}

// ---------------------------------------------------------------------------
// Peers: the same rows, already parsed, stored by raw RocksDB and by SQLite.

struct Rows {
  std::vector<std::pair<std::string, std::string>> log;        // seq -> record
  std::vector<std::pair<std::string, std::string>> by_event;   // event id -> incident and digest
  std::vector<std::pair<std::string, std::string>> incidents;  // id -> projection
};

// Builds, for a batch of lines, the rows noxsync writes for them (each event
// opening an incident: the heavier case). Not timed.
class RowMaker {
 public:
  void Make(const std::vector<std::string>& lines, Rows* rows) {
    rows->log.clear();
    rows->by_event.clear();
    rows->incidents.clear();
    for (const std::string& line : lines) {
      NoxysEvent ev;
      std::string err;
      if (!ParseNoxysEvent(line, &ev, &err)) continue;
      std::string id = IncidentId(++incidents_);
      LogRecord r;
      r.time_us = ev.time_us;
      r.type = record_type::kEventReceived;
      r.incident = id;
      r.payload = line;
      r.seq = ++seq_;
      rows->log.emplace_back(SeqKey(r.seq), EncodeRecord(r));
      OpenedFacts f{ev.event_id, Fingerprint(ev), ev.user_email, ev.platform_id, ev.platform_name,
                    ev.action, ClassificationTypes(ev), RiskPpm(ev.risk_score), ev.time_us};
      r.type = record_type::kIncidentOpened;
      r.payload = OpenedPayload(f);
      r.seq = ++seq_;
      rows->log.emplace_back(SeqKey(r.seq), EncodeRecord(r));
      rows->by_event.emplace_back(ev.event_id, id + ' ' + EventDigest(ev));  // as noxsync keeps it
      Incident inc;
      inc.id = id;
      inc.fingerprint = f.fingerprint;
      inc.user_email = ev.user_email;
      inc.platform_id = ev.platform_id;
      inc.platform_name = ev.platform_name;
      inc.classification_types = f.classification_types;
      rows->incidents.emplace_back(id, IncidentToJson(inc));
    }
  }

 private:
  uint64_t seq_ = 0;
  uint64_t incidents_ = 0;
};

constexpr size_t kPeerBatch = 1024;

template <class WriteFn>
double RunPeer(WriteFn write) {
  std::ifstream in(EventsFile());
  std::string line;
  std::vector<std::string> lines;
  RowMaker maker;
  Rows rows;
  double timed = 0;
  auto flush = [&] {
    maker.Make(lines, &rows);
    auto t0 = SteadyClock::now();
    write(rows);
    timed += Seconds(SteadyClock::now() - t0).count();
    lines.clear();
  };
  while (std::getline(in, line)) {
    lines.push_back(std::move(line));
    if (lines.size() == kPeerBatch) flush();
  }
  if (!lines.empty()) flush();
  return timed;
}

void BM_PeerRawRocksDbSyncedBatches(benchmark::State& state) {
  for (auto _ : state) {
    std::string path = g_config.dir + "/peer-rocksdb";
    fs::remove_all(path);
    rocksdb::Options o;
    o.create_if_missing = true;
    o.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descs = {
        {"default", {}}, {"log", {}}, {"by_event", {}}, {"incidents", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> h;
    rocksdb::DB* db = nullptr;
    if (!rocksdb::DB::Open(o, path, descs, &h, &db).ok()) {
      state.SkipWithError("cannot open RocksDB");
      return;
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    double secs = RunPeer([&](const Rows& rows) {
      rocksdb::WriteBatch b;
      for (auto& [k, v] : rows.log) b.Put(h[1], k, v);
      for (auto& [k, v] : rows.by_event) b.Put(h[2], k, v);
      for (auto& [k, v] : rows.incidents) b.Put(h[3], k, v);
      db->Write(wo, &b);
    });
    for (auto* x : h) db->DestroyColumnFamilyHandle(x);
    delete db;
    state.SetIterationTime(secs);
    g_fig["rocksdb_events_per_s"] = g_config.events / secs;
  }
  state.counters["events/s"] = g_fig["rocksdb_events_per_s"];
}

void BM_PeerSqliteWalFullBatched(benchmark::State& state) {
  for (auto _ : state) {
    std::string path = g_config.dir + "/peer.sqlite";
    fs::remove(path);
    fs::remove(path + "-wal");
    fs::remove(path + "-shm");
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE log(seq INTEGER PRIMARY KEY, record BLOB NOT NULL);"
                 "CREATE TABLE by_event(event_id TEXT PRIMARY KEY, incident TEXT NOT NULL) WITHOUT ROWID;"
                 "CREATE TABLE incidents(id TEXT PRIMARY KEY, projection TEXT NOT NULL) WITHOUT ROWID;",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt *ins_log, *ins_ev, *ins_inc;
    sqlite3_prepare_v2(db, "INSERT INTO log VALUES(?,?)", -1, &ins_log, nullptr);
    sqlite3_prepare_v2(db, "INSERT INTO by_event VALUES(?,?)", -1, &ins_ev, nullptr);
    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO incidents VALUES(?,?)", -1, &ins_inc, nullptr);
    auto put = [](sqlite3_stmt* st, const std::string& k, const std::string& v, bool int_key) {
      if (int_key) {
        sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(SeqFromKey(k)));
      } else {
        sqlite3_bind_text(st, 1, k.data(), static_cast<int>(k.size()), SQLITE_STATIC);
      }
      sqlite3_bind_blob(st, 2, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
      sqlite3_step(st);
      sqlite3_reset(st);
    };
    double secs = RunPeer([&](const Rows& rows) {
      sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
      for (auto& [k, v] : rows.log) put(ins_log, k, v, true);
      for (auto& [k, v] : rows.by_event) put(ins_ev, k, v, false);
      for (auto& [k, v] : rows.incidents) put(ins_inc, k, v, false);
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    });
    sqlite3_finalize(ins_log);
    sqlite3_finalize(ins_ev);
    sqlite3_finalize(ins_inc);
    sqlite3_close(db);
    state.SetIterationTime(secs);
    g_fig["sqlite_events_per_s"] = g_config.events / secs;
  }
  state.counters["events/s"] = g_fig["sqlite_events_per_s"];
}

// ---------------------------------------------------------------------------
// Concurrent single-event durable appends.

// Each of `threads` threads ingests `per_thread` events one at a time and
// waits for each to be durable. Returns acks/s; fills latencies (ms).
double SingleEventAppends(const std::string& path, int threads, int per_thread, std::vector<double>* lat_ms) {
  fs::remove_all(path);
  auto log = EventLog::OpenForWrite(path);
  if (!log.ok()) return 0;
  SystemClock clock;
  Ingestor ingestor(log->get(), &clock);
  std::vector<std::vector<std::string>> inputs(threads);
  testing::EventGenerator gen(99);
  for (auto& in : inputs) {
    for (int i = 0; i < per_thread; ++i) in.push_back(gen.Next());
  }
  std::vector<std::vector<double>> lats(threads);
  std::atomic<bool> failed{false};
  auto t0 = SteadyClock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<IngestResult> res;
      for (int i = 0; i < per_thread; ++i) {
        auto s0 = SteadyClock::now();
        if (!ingestor.Ingest({{inputs[t][i], 0}}, "bench", &res).ok()) failed = true;
        lats[t].push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - s0).count());
      }
    });
  }
  for (auto& th : pool) th.join();
  double secs = Seconds(SteadyClock::now() - t0).count();
  for (auto& l : lats) lat_ms->insert(lat_ms->end(), l.begin(), l.end());
  return failed ? 0 : threads * per_thread / secs;
}

void BM_ConcurrentSingleEventAppends(benchmark::State& state) {
  for (auto _ : state) {
    std::vector<double> lat;
    auto t0 = SteadyClock::now();
    double acks = SingleEventAppends(g_config.dir + "/concurrent", g_config.concurrent_threads,
                                     g_config.concurrent_per_thread, &lat);
    state.SetIterationTime(Seconds(SteadyClock::now() - t0).count());
    g_fig["concurrent_acks_per_s"] = acks;
    g_fig["concurrent_p50_ms"] = Percentile(lat, 0.50);
    g_fig["concurrent_p99_ms"] = Percentile(lat, 0.99);
  }
  state.counters["acks/s"] = g_fig["concurrent_acks_per_s"];
  state.counters["p50_ms"] = g_fig["concurrent_p50_ms"];
  state.counters["p99_ms"] = g_fig["concurrent_p99_ms"];
}

void BM_PeerOneFsyncPerEvent(benchmark::State& state) {
  for (auto _ : state) {
    std::vector<double> lat;
    auto t0 = SteadyClock::now();
    double acks = SingleEventAppends(g_config.dir + "/one-fsync", 1, g_config.single_fsync_events, &lat);
    state.SetIterationTime(Seconds(SteadyClock::now() - t0).count());
    g_fig["one_fsync_acks_per_s"] = acks;
    g_fig["one_fsync_p50_ms"] = Percentile(lat, 0.50);
  }
  state.counters["acks/s"] = g_fig["one_fsync_acks_per_s"];
}

// ---------------------------------------------------------------------------
// Reads on the bulk store: history lookups and rebuild.

void BM_HistoryLookup(benchmark::State& state) {
  auto log = EventLog::OpenForRead(BulkStore());
  if (!log.ok()) {
    state.SkipWithError("run BM_NoxsyncBulkIngest first");
    return;
  }
  StagedState staged(log->get());
  Projector view(&staged);
  uint64_t incidents = 0;
  view.IncidentCount(&incidents);
  std::mt19937_64 rng(5);
  std::vector<double> lat;
  for (auto _ : state) {
    std::string id = IncidentId(1 + rng() % incidents);
    auto t0 = SteadyClock::now();
    Incident inc;
    bool found = false;
    std::vector<LogRecord> records;
    view.FindIncident(id, &inc, &found);
    (*log)->IncidentRecords(id, &records);
    double us = std::chrono::duration<double, std::micro>(SteadyClock::now() - t0).count();
    lat.push_back(us);
    state.SetIterationTime(us / 1e6);
    if (!found || records.empty()) state.SkipWithError("incident missing");
  }
  g_fig["history_p50_us"] = Percentile(lat, 0.50);
  g_fig["history_p99_us"] = Percentile(lat, 0.99);
  state.counters["p50_us"] = g_fig["history_p50_us"];
  state.counters["p99_us"] = g_fig["history_p99_us"];
}

void BM_ReplayRebuild(benchmark::State& state) {
  for (auto _ : state) {
    auto log = EventLog::OpenForWrite(BulkStore());
    if (!log.ok()) {
      state.SkipWithError(log.status().message().c_str());
      return;
    }
    uint64_t records = 0;
    auto t0 = SteadyClock::now();
    Status s = RebuildProjections(log->get(), &records);
    double secs = Seconds(SteadyClock::now() - t0).count();
    if (!s.ok()) state.SkipWithError(s.message().c_str());
    state.SetIterationTime(secs);
    g_fig["rebuild_events_per_s"] = g_config.events / secs;
    g_fig["rebuild_records_per_s"] = records / secs;
  }
  state.counters["events/s"] = g_fig["rebuild_events_per_s"];
}

void PrintTable() {
  auto f = [](const char* k) { return g_fig.count(k) ? g_fig[k] : 0.0; };
  // A row whose benchmarks --benchmark_filter left out says so, rather than
  // judging zeros.
  auto verdict = [](std::initializer_list<const char*> figures, bool ok, double ratio) {
    for (const char* k : figures) {
      if (!g_fig.count(k)) return std::string("not run");
    }
    char buf[64];
    std::snprintf(buf, sizeof(buf), ok ? "met (%.2fx of target)" : "MISSED (%.2fx of target)", ratio);
    return std::string(buf);
  };
  double bulk = f("bulk_events_per_s"), sqlite = f("sqlite_events_per_s"), rocks = f("rocksdb_events_per_s");
  double acks = f("concurrent_acks_per_s"), one = f("one_fsync_acks_per_s");
  std::printf("\nnoxsync event log, %llu generated events, %u cores\n",
              static_cast<unsigned long long>(g_config.events), std::thread::hardware_concurrency());
  std::printf("| measure | noxsync | peer | target | result |\n|---|---|---|---|---|\n");
  std::printf("| durable bulk ingest, end to end (events/s) | %.0f | SQLite WAL FULL: %.0f | >= 2x SQLite = %.0f | %s |\n",
              bulk, sqlite, 2 * sqlite, verdict({"bulk_events_per_s", "sqlite_events_per_s"}, bulk >= 2 * sqlite, bulk / (2 * sqlite)).c_str());
  std::printf("| durable bulk ingest vs raw RocksDB (events/s) | %.0f | RocksDB synced batches: %.0f | >= 1/3 = %.0f | %s |\n",
              bulk, rocks, rocks / 3, verdict({"bulk_events_per_s", "rocksdb_events_per_s"}, bulk >= rocks / 3, bulk / (rocks / 3)).c_str());
  std::printf("| %d threads, single-event durable appends (acks/s) | %.0f (p50 %.2f ms, p99 %.2f ms) | one fsync per event: %.0f | >= 10x = %.0f | %s |\n",
              g_config.concurrent_threads, acks, f("concurrent_p50_ms"), f("concurrent_p99_ms"), one, 10 * one,
              verdict({"concurrent_acks_per_s", "one_fsync_acks_per_s"}, acks >= 10 * one, acks / (10 * one)).c_str());
  std::printf("| history lookup on the bulk store | p50 %.0f us, p99 %.0f us | | p99 <= 1000 us | %s |\n",
              f("history_p50_us"), f("history_p99_us"),
              verdict({"history_p99_us"}, f("history_p99_us") <= 1000, 1000 / std::max(1.0, f("history_p99_us"))).c_str());
  std::printf("| replay --rebuild (events/s) | %.0f (%.0f records/s) | | | |\n", f("rebuild_events_per_s"),
              f("rebuild_records_per_s"));
  std::printf("| peak RSS of ingest (MiB) | %.0f | | <= 256 | %s |\n", f("ingest_peak_rss_mib"),
              verdict({"ingest_peak_rss_mib"}, f("ingest_peak_rss_mib") <= 256, 256 / std::max(1.0, f("ingest_peak_rss_mib"))).c_str());
}

}  // namespace
}  // namespace noxsync

int main(int argc, char** argv) {
  using namespace noxsync;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--events=", 0) == 0) {
      g_config.events = std::stoull(a.substr(9));
    } else if (a.rfind("--dir=", 0) == 0) {
      g_config.dir = a.substr(6);
    } else {
      rest.push_back(argv[i]);
    }
  }
  bool own_dir = g_config.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/noxsync-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::fprintf(stderr, "ingest_bench: cannot create a scratch folder in /tmp: %s (or pass --dir=PATH)\n",
                   std::strerror(errno));
      return 1;
    }
    g_config.dir = tmpl;
  } else if (std::error_code ec; !fs::create_directories(g_config.dir, ec) && ec) {
    std::fprintf(stderr, "ingest_bench: cannot create --dir %s: %s\n", g_config.dir.c_str(), ec.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "generating %llu events in %s ...\n", static_cast<unsigned long long>(g_config.events),
               g_config.dir.c_str());
  // Without the file every benchmark would fail with only "noxsync ingest failed".
  if (noxsync::testing::WriteEventsFile(EventsFile(), g_config.events, 1) == 0 && g_config.events > 0) {
    std::fprintf(stderr, "ingest_bench: cannot write %s: %s\n", EventsFile().c_str(), std::strerror(errno));
    return 1;
  }

  auto reg = [](const char* name, void (*fn)(benchmark::State&)) {
    return benchmark::RegisterBenchmark(name, fn)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  };
  reg("ingest/noxsync_bulk_durable", BM_NoxsyncBulkIngest);
  reg("ingest/peer_rocksdb_synced_batches", BM_PeerRawRocksDbSyncedBatches);
  reg("ingest/peer_sqlite_wal_full", BM_PeerSqliteWalFullBatched);
  reg("append/noxsync_32_threads_group_commit", BM_ConcurrentSingleEventAppends);
  reg("append/peer_one_fsync_per_event", BM_PeerOneFsyncPerEvent);
  benchmark::RegisterBenchmark("query/history_lookup", BM_HistoryLookup)
      ->Iterations(20000)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  reg("rebuild/replay_rebuild", BM_ReplayRebuild);

  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  PrintTable();
  if (own_dir) fs::remove_all(g_config.dir);
  return 0;
}
