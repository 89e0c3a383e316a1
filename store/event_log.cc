#include "store/event_log.h"
#include "store/rocks_log_file.h"
#include "store/utf8.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

namespace noxsync {
namespace fs = std::filesystem;

namespace {

int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr const char* kCfNames[kCfCount] = {
    "log", "by_incident", "by_event", "by_ticket", "incidents", "by_fingerprint", "outbox", "meta", "tickets"};
// The first CF RocksDB insists on; noxsync keeps nothing in it.
constexpr const char* kDefaultCf = "default";
constexpr const char* kMetaChainHead = "chain_head";
constexpr const char* kMetaSchema = "schema_version";
// UnindexedRefusalRanges. Through: the last seq a version with the refusal
// index wrote, decimal, updated with every group. Each range it did not
// write: <first seq, u64 BE> -> last seq, decimal.
constexpr const char* kMetaRefusalsThrough = "refusals_indexed_through";
constexpr const char* kMetaRefusalsGapPrefix = "refusals_unindexed/";
constexpr const char* kSchemaVersion = "1";
constexpr const char* kLockFile = "noxsync.lock";

// The time index: for each bucket of kTimeBucket seqs (bucket b holds seqs
// b*kTimeBucket+1 .. (b+1)*kTimeBucket), the latest record time in it,
// written with the bucket's last record. Times may step back (two writers,
// a clock set back), so a bucket's maximum, not its first time, is what
// says every record in it is older than a given time.
constexpr const char* kMetaTimeMaxPrefix = "time_max/";
constexpr uint64_t kTimeBucket = 4096;

std::string TimeMaxKey(uint64_t bucket) { return kMetaTimeMaxPrefix + SeqKey(bucket); }

// Folds one record's time into its bucket's maximum; at the bucket's last
// record, puts the bucket's row in `batch` and starts the next bucket.
void NoteRecordTime(uint64_t seq, int64_t time_us, int64_t* bucket_max, rocksdb::WriteBatch* batch,
                    rocksdb::ColumnFamilyHandle* meta) {
  *bucket_max = std::max(*bucket_max, time_us);
  if (seq % kTimeBucket != 0) return;
  batch->Put(meta, TimeMaxKey(seq / kTimeBucket - 1), std::to_string(*bucket_max));
  *bucket_max = INT64_MIN;
}

std::string EncodeHead(const ChainHead& h) {
  std::string v = SeqKey(h.seq);
  v.append(reinterpret_cast<const char*>(h.hash.data()), h.hash.size());
  return v;
}

bool DecodeHead(std::string_view v, ChainHead* h) {
  if (v.size() != 40) return false;
  h->seq = SeqFromKey(v.substr(0, 8));
  std::memcpy(h->hash.data(), v.data() + 8, 32);
  return true;
}

rocksdb::ColumnFamilyOptions CfOptions(Cf cf, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  // Point lookups dominate the index CFs (is this event new? which incident
  // holds this fingerprint?), and most answers are "absent": a bloom filter
  // turns those into no disk read at all. The log and the timeline index
  // are only ever scanned, where a whole-key filter is never asked.
  const bool point_lookups = cf != Cf::kLog && cf != Cf::kByIncident;
  if (point_lookups) t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  // The same for rows still in the memtable: a miss costs a bloom probe
  // instead of a skip-list walk (measured: the largest cost of ingest). Not
  // for `incidents`, read by ids that exist (the bloom would only add a
  // cache miss to each of its inserts), nor for the scanned families.
  if (point_lookups && cf != Cf::kIncidents) {
    o.memtable_whole_key_filtering = true;
    o.memtable_prefix_bloom_size_ratio = 0.1;
  }
  // Each memtable keeps where its last insert went in (one hint for all
  // keys: an empty prefix), and the next insert climbs from there only as
  // far as it must. Without a hint, RocksDB's skip list reuses that place
  // only when the next key falls right beside it, and otherwise searches
  // from the top: every random key (event ids, fingerprints, recurring
  // incidents) did. The writer puts a group's rows in key order, so each
  // search starts near its key. Measured (callgrind, `noxsync ingest` of
  // 20k events): skip-list inserts 552M -> 451M instructions; serve under
  // the webhook load, `nox-writer` 30.8 against 32.8 µs per request (means
  // of eight pairs, docs/performance.md).
  // Ignored by concurrent memtable writes, which the single writer never makes.
  o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));
  o.write_buffer_size = cf == Cf::kLog ? (32u << 20) : (8u << 20);
  o.max_write_buffer_number = 3;
  // Only the log is compressed: it is most of the bytes and is read in order.
  // Index rows are small and read one at a time on every event, where
  // decompressing a block per lookup cost more than the disk it saves.
  o.compression = rocksdb::kNoCompression;
  if (cf == Cf::kLog) {
    for (auto c : rocksdb::GetSupportedCompressions()) {
      if (c == rocksdb::kLZ4Compression) o.compression = rocksdb::kLZ4Compression;
    }
  }
  return o;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(what + ": not found");
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  std::string msg = what + ": " + s.ToString();
  if (s.ToString().find("No space left") != std::string::npos) {
    msg += " (the disk is full: free space, then run the command again; "
           "everything acknowledged before this is safe)";
  }
  return Status::IOError(msg);
}

}  // namespace

const char* CfName(Cf cf) { return kCfNames[static_cast<int>(cf)]; }

std::vector<Cf> DerivedCfs() {
  return {Cf::kByIncident, Cf::kByEvent, Cf::kByTicket, Cf::kIncidents, Cf::kByFingerprint, Cf::kTickets};
}

namespace {
bool ParseDecimal(std::string_view v, uint64_t* out) {
  if (v.empty() || v.size() > 19 || !std::all_of(v.begin(), v.end(), ::isdigit)) return false;
  *out = std::stoull(std::string(v));
  return true;
}
}  // namespace

bool RefusableEventId(std::string_view event_id) {
  return !event_id.empty() && event_id.size() <= kMaxRefusalIdBytes && event_id.find('\0') == std::string_view::npos;
}

std::string RefusalKey(std::string_view event_id, uint64_t seq) {
  std::string k;
  k.reserve(event_id.size() + 10);
  k.push_back('\0');
  k.append(event_id);
  k.push_back('\0');
  k.append(SeqKey(seq));
  return k;
}

std::string IncidentSeqKey(std::string_view incident, uint64_t seq) {
  std::string k(incident);
  k.push_back('\0');
  k += SeqKey(seq);
  return k;
}

struct EventLog::Impl {
  std::string path;
  bool writable = false;
  EventLogOptions options;
  int lock_fd = -1;
  std::string secondary_dir;  // readers' scratch space, removed on close
  std::shared_ptr<rocksdb::Cache> cache;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // index = Cf, last = default
  std::vector<rocksdb::ColumnFamilyHandle*> owned_handles;  // what RocksDB gave us, to destroy

  // Group commit state, guarded by mu.
  std::mutex mu;
  std::condition_variable queued_cv;   // writer waits for work
  // Submitters wait on the shard of their ticket, so a group commit wakes the
  // threads it made durable rather than every waiter (measured: with 32
  // threads, a shared condition variable spent a fifth of the CPU in wakeups).
  static constexpr size_t kWaitShards = 64;
  std::condition_variable durable_cv[kWaitShards];
  std::deque<Step> queue;
  uint64_t next_ticket = 1;       // ticket of the next Submit
  uint64_t durable_ticket = 0;    // every ticket <= this is on disk
  uint64_t processed_ticket = 0;  // every ticket <= this is written or failed
  uint64_t failed_ticket = 0;     // first ticket that will never be written; 0: none
  Status failure;
  bool stopping = false;
  ChainHead head;                 // as of durable_ticket
  int64_t bucket_max = INT64_MIN;  // of the time index's open bucket; writer only
  std::atomic<uint64_t> free_reserve{0};
  // The free bytes last read (by the writer before each group, or by
  // CheckRoom), and when (steady clock, µs), for CheckRoom.
  mutable std::atomic<uint64_t> free_seen{std::numeric_limits<uint64_t>::max()};
  mutable std::atomic<int64_t> free_seen_us{0};
  void SawFree(uint64_t bytes) const {
    free_seen = bytes;
    free_seen_us = SteadyMicros();
  }
  // Free bytes of the store's file system, read now.
  uint64_t ReadFree() const;
  // The bytes of the Steps in `queue` (under mu), and of those plus the
  // group being written (for CheckRoom, without the lock).
  uint64_t queued_bytes = 0;
  std::atomic<uint64_t> pending_bytes{0};
  std::thread writer;

  rocksdb::ColumnFamilyHandle* H(Cf cf) const { return handles[static_cast<int>(cf)]; }

  void WriterLoop();
  // `bytes`: the group's StepBytes, counted as its Steps were submitted.
  Status WriteGroup(std::deque<Step>* group, uint64_t bytes, ChainHead* head);

  ~Impl() {
    if (writer.joinable()) {
      {
        std::lock_guard<std::mutex> lk(mu);
        stopping = true;
      }
      queued_cv.notify_all();
      writer.join();
      if (db && failure.ok()) {
        // On a clean close the memtables go to table files, so the next open
        // and every reader (a secondary instance replays the WAL on open:
        // 0.7 s of a report over 1M events) start from files. If this fails
        // (a full disk) nothing is lost: the WAL still holds it.
        rocksdb::FlushOptions fo;
        fo.wait = true;
        std::vector<rocksdb::ColumnFamilyHandle*> all(handles.begin(), handles.end());
        db->Flush(fo, all).PermitUncheckedError();
      }
    }
    if (db) {
      for (auto* h : owned_handles) {
        if (h != nullptr) db->DestroyColumnFamilyHandle(h);
      }
      db->Close();
      db.reset();
    }
    if (lock_fd >= 0) ::close(lock_fd);
    if (!secondary_dir.empty()) {
      std::error_code ec;
      fs::remove_all(secondary_dir, ec);
    }
  }
};

namespace {

// Free bytes on the file system of `path`; UINT64_MAX when it cannot tell
// (the write will say).
uint64_t FreeBytes(const std::string& path) {
  struct statvfs st{};
  if (::statvfs(path.c_str(), &st) != 0) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

std::string AlmostFull(const std::string& path, uint64_t free_bytes, uint64_t reserve) {
  return "the disk of store " + path + " is almost full: " + std::to_string(free_bytes >> 20) +
         " MiB free, and noxsync keeps at least " + std::to_string(reserve >> 20) +
         " MiB free so the store can flush and compact. Nothing of this batch was stored; everything "
         "acknowledged before it is safe. Free space (or move the store with --db) and ";
}

// Refuses to write `incoming` bytes when that would leave less than the
// configured reserve of the `free_bytes` on the store's file system.
Status CheckFreeSpace(const std::string& path, uint64_t free_bytes, uint64_t reserve, uint64_t incoming) {
  if (free_bytes >= reserve + incoming) return Status::Ok();
  return Status::IOError(AlmostFull(path, free_bytes, reserve) + "run the command again");
}

// EventLog::CheckRoom turns a batch away while the free space is within
// this of the reserve, so the writer's own check, a moment later, does not
// refuse what was let through: a group of webhooks takes a few hundred KiB.
// The Steps queued and not yet written count as taken (pending_bytes), so
// many bodies of the largest size at once do not pass it together; what the
// margin covers is a caller racing another between its check and its
// Submit (the engine and the Ingestor), and other writers to the disk.
constexpr uint64_t kRoomMargin = 32ull << 20;
// How long a reading of the free space serves CheckRoom: to fill the margin
// in that time, something else would have to write 640 MB/s.
constexpr int64_t kFreshFreeUs = 50'000;

}  // namespace

// A record is sealed with its fields and hash, and indexed by its incident.
uint64_t StepBytes(const Step& step) {
  uint64_t bytes = 0;
  for (const NewRecord& nr : step.records) {
    bytes += 2 * (nr.type.size() + nr.incident.size() + nr.payload.size()) + 160 + nr.refused_event_id.size();
  }
  for (const Mutation& m : step.mutations) bytes += m.key.size() + m.value.size() + 16;
  return bytes;
}

uint64_t EventLog::Impl::ReadFree() const {
  return options.free_space_probe ? options.free_space_probe(path) : FreeBytes(path);
}

namespace {

Status OpenDb(EventLog::Impl* impl, bool for_write) {
  rocksdb::DBOptions dbo;
  dbo.info_log = std::make_shared<RocksLogFile>(for_write ? (fs::path(impl->path) / "LOG").string() : "");
  dbo.create_if_missing = for_write;
  dbo.create_missing_column_families = for_write;
  dbo.max_background_jobs = 2;
  // No recycle_log_file_num: RocksDB 7.8 sets it back to 0 under the default
  // point-in-time WAL recovery (the OPTIONS file says so), and the only mode
  // that keeps it skips corrupt records anywhere in the log. So each WAL
  // grows as it is written, and every group commit's fdatasync also writes
  // the file's inode: three I/Os (data, inode, cache flush), measured with
  // the block:block_rq_issue tracepoint. docs/performance.md has the numbers.
  // Bound memtables across all CFs so a large ingest keeps a small RSS.
  dbo.db_write_buffer_size = 64u << 20;
  // Write table files out 1 MB at a time as flushes and compactions produce
  // them. Left to the page cache, a table file reached the disk in one burst
  // at its closing fdatasync, and every group commit's WAL fdatasync queued
  // behind it: 20-400 ms stalls for every webhook waiting (`perf trace
  // --duration 20`). Three runs each of serve_bench at 200k events: group
  // writes over 30 ms 9-11 -> 2-4, p99.9 71-97 -> 35-40 ms, p99 22.2-24.1 ->
  // 19.8-21.9 ms, bulk ingest unchanged.
  dbo.bytes_per_sync = 1u << 20;
  impl->cache = rocksdb::NewLRUCache(32u << 20);

  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (int i = 0; i < kCfCount; ++i) {
    descs.emplace_back(kCfNames[i], CfOptions(static_cast<Cf>(i), impl->cache));
  }
  descs.emplace_back(kDefaultCf, rocksdb::ColumnFamilyOptions());

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (for_write) {
    s = rocksdb::DB::Open(dbo, impl->path, descs, &impl->handles, &raw);
    if (s.ok()) impl->owned_handles = impl->handles;
  } else {
    // A secondary instance reads the live files of a store that a writer
    // holds, and tolerates the writer flushing and compacting underneath.
    dbo.max_open_files = -1;
    std::error_code tmp_ec;
    std::string tmpl = (fs::temp_directory_path(tmp_ec) / "noxsync-reader-XXXXXX").string();
    if (tmp_ec || ::mkdtemp(tmpl.data()) == nullptr) {
      return Status::IOError("cannot create a scratch folder in " + tmpl +
                             " for reading the store (set TMPDIR to a writable folder): " +
                             std::string(std::strerror(errno)));
    }
    impl->secondary_dir = tmpl;
    // RocksDB creates column families one at a time after the database
    // itself; a writer stopped in between leaves some missing. Nothing was
    // written yet then (rows come only after every family exists), so a
    // reader sees the missing ones as empty: the never-written default.
    std::vector<std::string> present;
    rocksdb::DB::ListColumnFamilies(dbo, impl->path, &present);
    std::vector<rocksdb::ColumnFamilyDescriptor> found;
    std::vector<int> slot;
    for (int i = 0; i <= kCfCount; ++i) {
      if (std::find(present.begin(), present.end(), descs[i].name) != present.end()) {
        found.push_back(descs[i]);
        slot.push_back(i);
      }
    }
    std::vector<rocksdb::ColumnFamilyHandle*> got;
    s = rocksdb::DB::OpenAsSecondary(dbo, impl->path, impl->secondary_dir, found, &got, &raw);
    if (s.ok()) {
      impl->owned_handles = got;
      rocksdb::ColumnFamilyHandle* empty = got[slot.size() - 1];  // default is always last and present
      impl->handles.assign(kCfCount + 1, empty);
      for (size_t j = 0; j < got.size(); ++j) impl->handles[slot[j]] = got[j];
    }
  }
  if (!s.ok()) {
    std::string msg = s.ToString();
    if (!for_write && (msg.find("does not exist") != std::string::npos ||
                       msg.find("No such file") != std::string::npos ||
                       msg.find("NotFound") != std::string::npos)) {
      return Status::NotFound("no noxsync store at " + impl->path +
                              " (pass --db PATH or set NOXSYNC_DB; `noxsync ingest` creates one)");
    }
    if (msg.find("Invalid argument: Column family not found") != std::string::npos ||
        msg.find("column families") != std::string::npos) {
      return Status::Corruption(impl->path + " is a RocksDB database but not a noxsync store (" +
                                msg + ")");
    }
    return FromRocks(s, "opening store " + impl->path);
  }
  impl->db.reset(raw);
  return Status::Ok();
}

Status AcquireLock(EventLog::Impl* impl) {
  std::string lock_path = impl->path + "/" + kLockFile;
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IOError("cannot open lock file " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buf[512] = {};
    ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    ::close(fd);
    // "pid N (holder)", then the holder's note on a line of its own.
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "another process";
    std::string note;
    if (size_t nl = holder.find('\n'); nl != std::string::npos) {
      note = holder.substr(nl + 1);
      holder.resize(nl);
    }
    while (!note.empty() && (note.back() == '\n' || note.back() == ' ')) note.pop_back();
    while (!holder.empty() && holder.back() == ' ') holder.pop_back();
    if (err == EWOULDBLOCK) {
      return Status::Busy("store " + impl->path + " is open for writing by " + holder +
                          "; only one writer at a time (read commands such as history, "
                          "incidents and verify work meanwhile)" + (note.empty() ? "" : "; " + note));
    }
    return Status::IOError("cannot lock " + lock_path + ": " + std::strerror(err));
  }
  std::string who = "pid " + std::to_string(::getpid()) + " (" + impl->options.holder + ")\n";
  if (!impl->options.holder_note.empty()) who += impl->options.holder_note + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, who.data(), who.size(), 0) < 0) {
    ::close(fd);
    return Status::IOError("cannot write lock file " + lock_path + ": " + std::strerror(errno));
  }
  impl->lock_fd = fd;
  return Status::Ok();
}

}  // namespace

EventLog::EventLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventLog::~EventLog() = default;

Result<std::unique_ptr<EventLog>> EventLog::OpenForWrite(const std::string& path,
                                                         const EventLogOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  impl->writable = true;
  std::error_code ec;
  if (fs::exists(path, ec) && !fs::is_directory(path, ec)) {
    return Status::IOError(path + " is a file, not a store folder: name a folder (a new one is created)");
  }
  fs::create_directories(path, ec);
  if (ec) return Status::IOError("cannot create store folder " + path + ": " + ec.message());
  if (Status s = AcquireLock(impl.get()); !s.ok()) return s;
  const uint64_t free_bytes = impl->ReadFree();
  impl->SawFree(free_bytes);
  if (Status s = CheckFreeSpace(path, free_bytes, options.min_free_bytes, 0); !s.ok()) return s;
  if (Status s = OpenDb(impl.get(), true); !s.ok()) return s;

  // The head in meta and the last log record are written in one batch; if they
  // disagree something outside noxsync changed the store, and appending would
  // bury the damage under new records.
  std::string v;
  rocksdb::Status rs = impl->db->Get(rocksdb::ReadOptions(), impl->H(Cf::kMeta), kMetaChainHead, &v);
  std::unique_ptr<rocksdb::Iterator> it(
      impl->db->NewIterator(rocksdb::ReadOptions(), impl->H(Cf::kLog)));
  it->SeekToLast();
  uint64_t last_seq = it->Valid() ? SeqFromKey(it->key().ToStringView()) : 0;
  if (rs.ok()) {
    if (!DecodeHead(v, &impl->head)) {
      return Status::Corruption("store " + path + ": chain head in meta is malformed; run `noxsync verify`");
    }
  } else if (!rs.IsNotFound()) {
    return FromRocks(rs, "reading chain head of " + path);
  }
  if (impl->head.seq != last_seq) {
    return Status::Corruption("store " + path + ": chain head says seq " +
                              std::to_string(impl->head.seq) + " but the log ends at seq " +
                              std::to_string(last_seq) + "; run `noxsync verify` and restore from backup");
  }
  // The time index's open bucket: the records after the last full one.
  for (it->Seek(SeqKey(impl->head.seq / kTimeBucket * kTimeBucket + 1)); it->Valid(); it->Next()) {
    LogRecord r;
    if (Status s = DecodeRecord(it->value().ToStringView(), &r); !s.ok()) {
      return Status::Corruption("store " + path + ": log record " + std::to_string(SeqFromKey(it->key().ToStringView())) +
                                " is unreadable (" + s.message() + "); run `noxsync verify`");
    }
    impl->bucket_max = std::max(impl->bucket_max, r.time_us);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading the log of " + path);
  it.reset();
  std::string schema;
  rs = impl->db->Get(rocksdb::ReadOptions(), impl->H(Cf::kMeta), kMetaSchema, &schema);
  if (rs.IsNotFound()) {
    rs = impl->db->Put(rocksdb::WriteOptions(), impl->H(Cf::kMeta), kMetaSchema, kSchemaVersion);
    if (!rs.ok()) return FromRocks(rs, "writing schema version to " + path);
  } else if (!rs.ok()) {
    return FromRocks(rs, "reading schema version of " + path);
  } else if (schema != kSchemaVersion) {
    return Status::InvalidArgument("store " + path + " has schema version " + schema +
                                   ", this noxsync reads version " + kSchemaVersion);
  }
  // Refusals from here on are indexed. What a version without the index
  // wrote (all of a store it made, or what it added while it ran in this
  // one's place) is noted as a range to read the log for.
  if (!options.without_refusal_index) {
    rs = impl->db->Get(rocksdb::ReadOptions(), impl->H(Cf::kMeta), kMetaRefusalsThrough, &v);
    if (!rs.ok() && !rs.IsNotFound()) return FromRocks(rs, "reading the refusal index's extent in " + path);
    uint64_t through = 0;
    if (rs.ok() && !ParseDecimal(v, &through)) {
      return Status::Corruption("store " + path + ": meta " + kMetaRefusalsThrough + " is malformed (\"" +
                                ValidUtf8(v) + "\"); run `noxsync replay --rebuild`");
    }
    if (rs.IsNotFound() || through != impl->head.seq) {
      rocksdb::WriteBatch note;
      if (through < impl->head.seq) {
        note.Put(impl->H(Cf::kMeta), kMetaRefusalsGapPrefix + SeqKey(through + 1), std::to_string(impl->head.seq));
      }
      note.Put(impl->H(Cf::kMeta), kMetaRefusalsThrough, std::to_string(impl->head.seq));
      rocksdb::WriteOptions wo;
      wo.sync = true;
      rs = impl->db->Write(wo, &note);
      if (!rs.ok()) return FromRocks(rs, "noting the refusal index's extent in " + path);
    }
  }
  impl->free_reserve = options.min_free_bytes;
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] {
    pthread_setname_np(pthread_self(), "nox-writer");  // for top -H and perf
    raw->WriterLoop();
  });
  return std::unique_ptr<EventLog>(new EventLog(std::move(impl)));
}

Result<std::unique_ptr<EventLog>> EventLog::OpenForRead(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  if (!fs::exists(path + "/CURRENT")) {
    return Status::NotFound("no noxsync store at " + path +
                            " (pass --db PATH or set NOXSYNC_DB; `noxsync ingest` creates one)");
  }
  if (Status s = OpenDb(impl.get(), false); !s.ok()) return s;
  std::unique_ptr<EventLog> log(new EventLog(std::move(impl)));
  return log;
}

const std::string& EventLog::path() const { return impl_->path; }
bool EventLog::writable() const { return impl_->writable; }

uint64_t EventLog::Submit(Step step) {
  // Every payload is JSON, which is UTF-8: bytes that are not (a backend's
  // answer in Latin-1, a quote cut inside a character) would make the
  // record unreadable to every reader, `history` and an auditor's tools
  // included. The writers keep their text valid; this is the last check.
  for (NewRecord& r : step.records) {
    if (InvalidUtf8At(r.payload) != std::string_view::npos) r.payload = ValidUtf8(r.payload);
  }
  const uint64_t bytes = StepBytes(step);
  std::lock_guard<std::mutex> lk(impl_->mu);
  assert(impl_->writable && "Submit on a store opened for reading");
  impl_->queued_bytes += bytes;
  impl_->pending_bytes += bytes;
  impl_->queue.push_back(std::move(step));
  uint64_t t = impl_->next_ticket++;
  impl_->queued_cv.notify_one();
  return t;
}

Status EventLog::WaitFor(uint64_t ticket) {
  std::unique_lock<std::mutex> lk(impl_->mu);
  impl_->durable_cv[ticket % Impl::kWaitShards].wait(lk, [&] {
    return impl_->durable_ticket >= ticket ||
           (impl_->failed_ticket != 0 && ticket >= impl_->failed_ticket);
  });
  if (impl_->durable_ticket >= ticket) return Status::Ok();
  return impl_->failure;
}

Status EventLog::CheckRoom(uint64_t incoming) const {
  const uint64_t reserve = impl_->free_reserve.load();
  const uint64_t need = reserve + incoming + impl_->pending_bytes.load() + kRoomMargin;
  // A reading a busy writer took a moment ago serves; an older one (the
  // disk may have filled from elsewhere while the store was idle), or one
  // that is short (space may have been freed since), is taken again.
  if (impl_->free_seen.load() >= need && SteadyMicros() - impl_->free_seen_us.load() < kFreshFreeUs) {
    return Status::Ok();
  }
  const uint64_t now_free = impl_->ReadFree();
  impl_->SawFree(now_free);
  if (now_free >= need) return Status::Ok();
  // What is accepted and not yet written is as good as taken.
  const uint64_t pending = impl_->pending_bytes.load();
  return Status::Unavailable(AlmostFull(impl_->path, now_free > pending ? now_free - pending : 0,
                                        reserve + kRoomMargin) +
                             "try again");
}

bool EventLog::Settled(uint64_t ticket) const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  return impl_->durable_ticket >= ticket || (impl_->failed_ticket != 0 && ticket >= impl_->failed_ticket);
}

Status EventLog::CopyTo(const std::string& dest, uint64_t* records) const {
  std::error_code ec;
  if (dest.empty()) return Status::InvalidArgument("the backup folder's name is empty; name a new folder");
  // A copy inside the store goes with it when the store is moved aside to
  // restore, or lost with its disk: not a backup. Compared by the paths'
  // real locations, so a symbolic link does not hide it.
  {
    std::error_code e1, e2;
    const fs::path store = fs::weakly_canonical(impl_->path, e1), target = fs::weakly_canonical(dest, e2);
    if (!e1 && !e2) {
      auto [in_store, _] = std::mismatch(store.begin(), store.end(), target.begin(), target.end());
      if (in_store == store.end()) {
        return Status::InvalidArgument("backup folder " + dest + " is inside the store " + impl_->path +
                                       ", which it would be lost with; name a folder outside it (on another disk "
                                       "is best)");
      }
    }
  }
  if (fs::exists(dest, ec) && !fs::is_empty(dest, ec)) {
    return Status::InvalidArgument("backup folder " + dest + " is not empty; name a new folder");
  }
  const bool created = !fs::exists(dest, ec);
  auto out = std::make_unique<Impl>();
  out->path = dest;
  out->writable = true;
  fs::create_directories(dest, ec);
  if (ec) return Status::IOError("cannot create backup folder " + dest + ": " + ec.message());
  if (Status s = AcquireLock(out.get()); !s.ok()) return s;
  // From here the folder is ours. What was written is no backup if any step
  // fails: it goes, rather than keep the space a full disk needs and pass
  // for a copy later. The folder was new or empty, so all in it is ours.
  auto discard = [&](const Status& failed) {
    out.reset();
    std::error_code rm;
    if (created) {
      fs::remove_all(dest, rm);
    } else {
      for (const auto& entry : fs::directory_iterator(dest, rm)) fs::remove_all(entry.path(), rm);
    }
    return Status(failed.code(), failed.message() + (rm ? "; what was copied is still in " + dest + " (" +
                                                              rm.message() + "): delete it"
                                                        : "; nothing of the copy was kept"));
  };
  if (Status s = OpenDb(out.get(), true); !s.ok()) return discard(s);

  // The store is only read: a write that fails is the backup's disk.
  auto write_failed = [&dest](const rocksdb::Status& ws) {
    std::string msg = "writing the backup in " + dest + ": " + ws.ToString();
    if (ws.ToString().find("No space left") != std::string::npos) {
      msg += " (the disk of " + dest + " is full: free space there, or name a folder on another disk)";
    }
    return Status::IOError(msg);
  };
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  const rocksdb::Snapshot* snap = impl_->writable ? impl_->db->GetSnapshot() : nullptr;
  ro.snapshot = snap;
  Status result = Status::Ok();
  *records = 0;
  for (int i = 0; i < kCfCount && result.ok(); ++i) {
    Cf cf = static_cast<Cf>(i);
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->H(cf)));
    rocksdb::WriteBatch batch;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      batch.Put(out->H(cf), it->key(), it->value());
      if (cf == Cf::kLog) ++*records;
      if (batch.GetDataSize() > (4u << 20)) {
        rocksdb::Status ws = out->db->Write(rocksdb::WriteOptions(), &batch);
        if (!ws.ok()) {
          result = write_failed(ws);
          break;
        }
        batch.Clear();
      }
    }
    if (result.ok() && !it->status().ok()) result = FromRocks(it->status(), "reading " + impl_->path + " for a backup");
    if (result.ok() && batch.Count() > 0) {
      rocksdb::Status ws = out->db->Write(rocksdb::WriteOptions(), &batch);
      if (!ws.ok()) result = write_failed(ws);
    }
  }
  if (snap) impl_->db->ReleaseSnapshot(snap);
  if (result.ok()) {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    rocksdb::Status fs_ = out->db->Flush(fo, out->handles);
    if (fs_.ok()) fs_ = out->db->SyncWAL();
    if (!fs_.ok()) result = write_failed(fs_);
  }
  return result.ok() ? result : discard(result);
}

Status EventLog::Flush() {
  uint64_t last = 0;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    last = impl_->next_ticket - 1;
  }
  return last == 0 ? Status::Ok() : WaitFor(last);
}

void EventLog::Impl::WriterLoop() {
  std::unique_lock<std::mutex> lk(mu);
  for (;;) {
    queued_cv.wait(lk, [&] { return stopping || !queue.empty(); });
    if (queue.empty() && stopping) return;
    std::deque<Step> group;
    group.swap(queue);
    const uint64_t group_bytes = queued_bytes;
    queued_bytes = 0;
    uint64_t last_ticket = processed_ticket + group.size();
    ChainHead next = head;
    bool failed = failed_ticket != 0;
    lk.unlock();
    // Once a write failed, nothing more is written: the Steps queued after it
    // were built on state that never reached the disk.
    Status s = failed ? Status::Ok() : WriteGroup(&group, group_bytes, &next);
    group.clear();  // free the Steps before taking the lock back
    // The group's bytes now show in the disk's free space, or never will.
    // Until the next reading, CheckRoom counts them out of the last one;
    // that goes first, so at no moment does CheckRoom count them nowhere.
    if (!failed && s.ok()) {
      const uint64_t seen = free_seen.load();
      free_seen = seen > group_bytes ? seen - group_bytes : 0;
    }
    pending_bytes -= group_bytes;
    lk.lock();
    const uint64_t first_ticket = processed_ticket + 1;
    if (!failed && s.ok()) {
      durable_ticket = last_ticket;
      head = next;
    } else if (!failed) {
      failed_ticket = processed_ticket + 1;
      failure = s;
    }
    processed_ticket = last_ticket;
    if (!failed && !s.ok()) {
      for (auto& cv : durable_cv) cv.notify_all();  // every later ticket fails too
    } else {
      uint64_t n = std::min<uint64_t>(last_ticket - first_ticket + 1, kWaitShards);
      for (uint64_t t = first_ticket; t < first_ticket + n; ++t) durable_cv[t % kWaitShards].notify_all();
    }
  }
}

Status EventLog::Impl::WriteGroup(std::deque<Step>* group, uint64_t bytes, ChainHead* head_out) {
  // Size the batch up front: growing it copies every byte again.
  rocksdb::WriteBatch batch(64 + bytes);
  ChainHead h = *head_out;
  int64_t bmax = bucket_max;  // kept only if the group is written
  LogRecord r;
  std::vector<const Mutation*> rows;
  for (Step& step : *group) {
    for (const Mutation& m : step.mutations) rows.push_back(&m);
    for (NewRecord& nr : step.records) {
      r.seq = h.seq + 1;
      r.time_us = nr.time_us;
      r.type = std::move(nr.type);
      r.incident = std::move(nr.incident);
      r.payload = std::move(nr.payload);
      r.prev_hash = h.hash;
      batch.Put(H(Cf::kLog), SeqKey(r.seq), SealRecord(&r));
      if (!r.incident.empty()) batch.Put(H(Cf::kByIncident), IncidentSeqKey(r.incident, r.seq), "");
      if (!options.without_refusal_index && RefusableEventId(nr.refused_event_id)) {
        batch.Put(H(Cf::kByEvent), RefusalKey(nr.refused_event_id, r.seq), "");
      }
      NoteRecordTime(r.seq, r.time_us, &bmax, &batch, H(Cf::kMeta));
      h.seq = r.seq;
      h.hash = r.hash;
    }
  }
  // The derived rows go in key order: each memtable starts an insert from
  // where the last one went in (CfOptions: the insert hint), so ordered keys
  // spare part of the search that random ones (event ids, fingerprints)
  // cost. Stable, so of a row several Steps of the group change, the last
  // change comes last, and only it is written: the batch is applied whole or
  // not at all, so the earlier values could never be read, and each would
  // cost one more skip-list insert (the incident counter changes with every
  // new incident).
  auto same_row = [](const Mutation* a, const Mutation* b) { return a->cf == b->cf && a->key == b->key; };
  std::stable_sort(rows.begin(), rows.end(), [](const Mutation* a, const Mutation* b) {
    return a->cf != b->cf ? a->cf < b->cf : a->key < b->key;
  });
  for (size_t i = 0; i < rows.size(); ++i) {
    const Mutation* m = rows[i];
    if (i + 1 < rows.size() && same_row(m, rows[i + 1])) continue;
    if (m->erase) {
      batch.Delete(H(m->cf), m->key);
    } else {
      batch.Put(H(m->cf), m->key, m->value);
    }
  }
  batch.Put(H(Cf::kMeta), kMetaChainHead, EncodeHead(h));
  if (!options.without_refusal_index) batch.Put(H(Cf::kMeta), kMetaRefusalsThrough, std::to_string(h.seq));
  const uint64_t seen = ReadFree();
  SawFree(seen);
  if (Status fs = CheckFreeSpace(path, seen, free_reserve.load(), batch.GetDataSize()); !fs.ok()) return fs;
  rocksdb::WriteOptions wo;
  wo.sync = options.sync;
  rocksdb::Status s = db->Write(wo, &batch);
  if (!s.ok()) return FromRocks(s, "writing to store " + path);
  *head_out = h;
  bucket_max = bmax;
  return Status::Ok();
}


Status EventLog::SeqForTime(int64_t since_us, uint64_t* from) const {
  uint64_t bucket = 0;  // the first bucket not known to be older than since_us
  Status s = Scan(Cf::kMeta, kMetaTimeMaxPrefix, [&](std::string_view k, std::string_view v) {
    k.remove_prefix(std::strlen(kMetaTimeMaxPrefix));
    if (k.size() != 8 || SeqFromKey(k) != bucket) return false;  // a gap: not known
    int64_t max_us = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), max_us);
    if (ec != std::errc() || end != v.data() + v.size() || max_us >= since_us) return false;
    ++bucket;
    return true;
  });
  *from = bucket * kTimeBucket + 1;
  return s;
}

Status EventLog::Get(Cf cf, std::string_view key, std::string* value) const {
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->H(cf),
                                     rocksdb::Slice(key.data(), key.size()), value);
  if (s.IsNotFound()) return Status::NotFound("not found");
  return FromRocks(s, std::string("reading ") + CfName(cf) + " of " + impl_->path);
}

Status EventLog::Scan(Cf cf, std::string_view prefix,
                      const std::function<bool(std::string_view, std::string_view)>& fn) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->H(cf)));
  rocksdb::Slice p(prefix.data(), prefix.size());
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
    if (!fn(it->key().ToStringView(), it->value().ToStringView())) break;
  }
  return FromRocks(it->status(), std::string("scanning ") + CfName(cf) + " of " + impl_->path);
}

Status EventLog::ScanFrom(Cf cf, std::string_view from,
                          const std::function<bool(std::string_view, std::string_view)>& fn) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->H(cf)));
  for (it->Seek(rocksdb::Slice(from.data(), from.size())); it->Valid(); it->Next()) {
    if (!fn(it->key().ToStringView(), it->value().ToStringView())) break;
  }
  return FromRocks(it->status(), std::string("scanning ") + CfName(cf) + " of " + impl_->path);
}

Status EventLog::ScanLog(uint64_t from, const std::function<bool(const LogRecord&)>& fn) const {
  return ScanLog(from, nullptr, fn);
}

Status EventLog::ScanLog(uint64_t from, const std::function<bool(std::string_view type)>& want,
                         const std::function<bool(const LogRecord&)>& fn) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = 2u << 20;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->H(Cf::kLog)));
  LogRecord r;
  for (it->Seek(SeqKey(from)); it->Valid(); it->Next()) {
    if (want) {
      std::string_view type = PeekRecordType(it->value().ToStringView());
      if (!type.empty() && !want(type)) continue;  // a malformed one is decoded, to say why
    }
    Status s = DecodeRecord(it->value().ToStringView(), &r);
    if (!s.ok()) {
      return Status::Corruption("log record at seq " + std::to_string(SeqFromKey(it->key().ToStringView())) +
                                ": " + s.message() + "; run `noxsync verify`");
    }
    if (!fn(r)) break;
  }
  return FromRocks(it->status(), "scanning log of " + impl_->path);
}

Status EventLog::ReadRecord(uint64_t seq, LogRecord* record) const {
  std::string v;
  Status s = Get(Cf::kLog, SeqKey(seq), &v);
  if (s.IsNotFound()) return Status::NotFound("no log record with seq " + std::to_string(seq));
  if (!s.ok()) return s;
  s = DecodeRecord(v, record);
  if (!s.ok()) return Status::Corruption("log record at seq " + std::to_string(seq) + ": " + s.message());
  return Status::Ok();
}

Status EventLog::IncidentRecords(std::string_view incident, std::vector<LogRecord>* out) const {
  uint64_t next = 0;
  return IncidentRecords(incident, 0, std::numeric_limits<size_t>::max(), out, &next);
}

Status EventLog::IncidentRecords(std::string_view incident, uint64_t from, size_t limit, std::vector<LogRecord>* out,
                                 uint64_t* next) const {
  out->clear();
  return IncidentRecords(
      incident, from, limit,
      [out](const LogRecord& r) {
        out->push_back(r);
        return true;
      },
      next);
}

Status EventLog::IncidentRecords(std::string_view incident, uint64_t from, size_t limit,
                                 const std::function<bool(const LogRecord& record)>& fn, uint64_t* next) const {
  *next = 0;
  std::vector<std::string> keys;
  std::string prefix(incident);
  prefix.push_back('\0');
  Status s = ScanFrom(Cf::kByIncident, prefix + SeqKey(from), [&](std::string_view k, std::string_view) {
    if (k.substr(0, prefix.size()) != prefix) return false;
    if (keys.size() == limit) {
      *next = SeqFromKey(k.substr(prefix.size()));
      return false;
    }
    keys.emplace_back(k.substr(prefix.size()));
    return true;
  });
  if (!s.ok()) return s;
  // Read in slices, so a page `fn` ends early has not read (and pinned) the
  // rest of its records.
  constexpr size_t kSlice = 256;
  LogRecord record;
  for (size_t begin = 0; begin < keys.size(); begin += kSlice) {
    const size_t n = std::min(kSlice, keys.size() - begin);
    std::vector<rocksdb::Slice> slices(keys.begin() + begin, keys.begin() + begin + n);
    std::vector<rocksdb::PinnableSlice> values(n);
    std::vector<rocksdb::Status> statuses(n);
    impl_->db->MultiGet(rocksdb::ReadOptions(), impl_->H(Cf::kLog), n, slices.data(), values.data(),
                        statuses.data());
    for (size_t i = 0; i < n; ++i) {
      uint64_t seq = SeqFromKey(keys[begin + i]);
      if (!statuses[i].ok()) {
        return Status::Corruption("index by_incident names seq " + std::to_string(seq) + " of " +
                                  std::string(incident) + " but the log has no such record (" +
                                  statuses[i].ToString() + "); run `noxsync replay --rebuild`");
      }
      s = DecodeRecord(values[i].ToStringView(), &record);
      if (!s.ok()) return Status::Corruption("log record at seq " + std::to_string(seq) + ": " + s.message());
      if (!fn(record)) {
        *next = seq;
        return Status::Ok();
      }
    }
  }
  return Status::Ok();
}

Status EventLog::RefusalSeqs(std::string_view event_id, uint64_t from, size_t limit, std::vector<uint64_t>* seqs,
                             uint64_t* next) const {
  seqs->clear();
  *next = 0;
  if (!RefusableEventId(event_id)) return Status::Ok();
  const std::string start = RefusalKey(event_id, from);
  const std::string_view prefix(start.data(), start.size() - 8);
  return ScanFrom(Cf::kByEvent, start, [&](std::string_view k, std::string_view) {
    // The exact length too: the prefix of a longer id never matches (ids
    // hold no \0), but a row that is not this index's is no seq of it.
    if (!k.starts_with(prefix) || k.size() != start.size()) return false;
    const uint64_t seq = SeqFromKey(k.substr(prefix.size()));
    if (seqs->size() == limit) {
      *next = seq;
      return false;
    }
    seqs->push_back(seq);
    return true;
  });
}

Status EventLog::UnindexedRefusalRanges(std::vector<std::pair<uint64_t, uint64_t>>* ranges) const {
  ranges->clear();
  const uint64_t head = Head().seq;
  std::string v;
  Status s = Get(Cf::kMeta, kMetaRefusalsThrough, &v);
  if (s.IsNotFound()) {
    if (head > 0) ranges->emplace_back(1, head);  // never written by a version with the index
    return Status::Ok();
  }
  if (!s.ok()) return s;
  uint64_t through = 0;
  if (!ParseDecimal(v, &through)) {
    return Status::Corruption("store " + impl_->path + ": meta " + kMetaRefusalsThrough + " is malformed (\"" +
                              ValidUtf8(v) + "\"); run `noxsync replay --rebuild`");
  }
  Status bad;
  s = Scan(Cf::kMeta, kMetaRefusalsGapPrefix, [&](std::string_view k, std::string_view last) {
    k.remove_prefix(std::strlen(kMetaRefusalsGapPrefix));
    uint64_t to = 0;
    if (k.size() != 8 || !ParseDecimal(last, &to)) {
      bad = Status::Corruption("store " + impl_->path + ": a meta " + kMetaRefusalsGapPrefix +
                               " row is malformed; run `noxsync replay --rebuild`");
      return false;
    }
    ranges->emplace_back(SeqFromKey(k), to);
    return true;
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  // A version without the index writing now (a rollback running): what it
  // added since this version's last group.
  if (through < head) ranges->emplace_back(through + 1, head);
  return Status::Ok();
}

ChainHead EventLog::Head() const {
  if (impl_->writable) {
    std::lock_guard<std::mutex> lk(impl_->mu);
    return impl_->head;
  }
  ChainHead h;
  std::string v;
  if (Get(Cf::kMeta, kMetaChainHead, &v).ok()) DecodeHead(v, &h);
  return h;
}

Status EventLog::VerifyChain(VerifyReport* report) const {
  *report = VerifyReport{};
  // Head first: on a live store the writer may append while we scan, and
  // every record up to this head is already durable.
  ChainHead claimed = Head();
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = 2u << 20;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->H(Cf::kLog)));
  Hash prev{};
  uint64_t expect = 1;
  int64_t bucket_max = INT64_MIN;  // of the time index's current bucket
  LogRecord r;
  auto bad = [&](uint64_t seq, std::string why) {
    report->first_bad_seq = seq;
    report->problem = std::move(why);
  };
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expect) {
    uint64_t seq = SeqFromKey(it->key().ToStringView());
    if (it->key().size() != 8) {
      bad(expect, "log key of " + std::to_string(it->key().size()) + " bytes where a seq was expected");
      return Status::Ok();
    }
    if (seq != expect) {
      bad(expect, seq > expect ? "record missing (next record is seq " + std::to_string(seq) + ")"
                               : "unexpected seq " + std::to_string(seq));
      return Status::Ok();
    }
    Status s = DecodeRecord(it->value().ToStringView(), &r);
    if (!s.ok()) {
      bad(seq, "record unreadable: " + s.message());
      return Status::Ok();
    }
    if (r.seq != seq) {
      bad(seq, "record says seq " + std::to_string(r.seq) + " but is stored at seq " + std::to_string(seq));
      return Status::Ok();
    }
    if (r.prev_hash != prev) {
      bad(seq, "prev_hash " + HashHex(r.prev_hash) + " does not match the hash of seq " +
                   std::to_string(seq - 1) + " (" + HashHex(prev) + ")");
      return Status::Ok();
    }
    Hash h = ComputeHash(r);
    if (h != r.hash) {
      bad(seq, "content does not match its hash (stored " + HashHex(r.hash) + ", computed " + HashHex(h) + ")");
      return Status::Ok();
    }
    prev = h;
    report->records = seq;
    report->head = {seq, h};
    bucket_max = std::max(bucket_max, r.time_us);
    if (seq % kTimeBucket == 0) {
      if (report->index_problem.empty()) {
        std::string row;
        uint64_t bucket = seq / kTimeBucket - 1;
        if (Get(Cf::kMeta, TimeMaxKey(bucket), &row).ok() && row != std::to_string(bucket_max)) {
          report->index_problem = "the time index says the latest record of seqs " +
                                  std::to_string(bucket * kTimeBucket + 1) + ".." + std::to_string(seq) +
                                  " is timed " + row + " µs, the records say " + std::to_string(bucket_max);
        }
      }
      bucket_max = INT64_MIN;
    }
    if (impl_->writable && seq == claimed.seq) break;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading log of " + impl_->path);
  if (report->records < claimed.seq) {
    bad(report->records + 1, "log ends at seq " + std::to_string(report->records) +
                                 " but the chain head in meta says seq " + std::to_string(claimed.seq));
  } else if (report->records == claimed.seq && claimed.hash != report->head.hash) {
    bad(claimed.seq, "chain head in meta (" + HashHex(claimed.hash) + ") does not match the hash of seq " +
                         std::to_string(claimed.seq));
  } else if (report->records > claimed.seq) {
    // The head and the records are written in one batch, so a reader sees
    // both or neither: records past the head were put there by something else.
    bad(claimed.seq + 1, "record beyond the chain head in meta (seq " + std::to_string(claimed.seq) +
                             "): appended outside noxsync");
  }
  return Status::Ok();
}

Status EventLog::RebuildDerived(
    const std::function<Status(const LogRecord&, std::vector<Mutation>*)>& fold,
    const std::function<void()>& written) {
  if (!impl_->writable) return Status::InvalidArgument("rebuild needs the store opened for writing");
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    if (impl_->processed_ticket + 1 != impl_->next_ticket) {
      return Status::InvalidArgument("rebuild while Steps are in flight");
    }
  }
  for (Cf cf : DerivedCfs()) {
    auto*& h = impl_->handles[static_cast<int>(cf)];
    rocksdb::Status s = impl_->db->DropColumnFamily(h);
    if (s.ok()) {
      auto& owned = impl_->owned_handles[static_cast<int>(cf)];
      impl_->db->DestroyColumnFamilyHandle(h);
      h = owned = nullptr;
      s = impl_->db->CreateColumnFamily(CfOptions(cf, impl_->cache), CfName(cf), &h);
      owned = h;
    }
    if (!s.ok()) return FromRocks(s, std::string("recreating ") + CfName(cf) + " in " + impl_->path);
  }
  rocksdb::WriteBatch batch;
  std::vector<Mutation> rows;
  Status fold_status;
  // The time index is in kMeta, which is not dropped: its rows come out the
  // same as the live writer's, and a store older than the index gets them.
  int64_t bucket_max = INT64_MIN;
  Status s = ScanLog(1, [&](const LogRecord& r) {
    if (!r.incident.empty()) batch.Put(impl_->H(Cf::kByIncident), IncidentSeqKey(r.incident, r.seq), "");
    NoteRecordTime(r.seq, r.time_us, &bucket_max, &batch, impl_->H(Cf::kMeta));
    rows.clear();
    fold_status = fold(r, &rows);
    if (!fold_status.ok()) return false;
    for (const Mutation& m : rows) {
      if (m.erase) {
        batch.Delete(impl_->H(m.cf), m.key);
      } else {
        batch.Put(impl_->H(m.cf), m.key, m.value);
      }
    }
    if (batch.GetDataSize() > (8u << 20)) {
      rocksdb::Status ws = impl_->db->Write(rocksdb::WriteOptions(), &batch);
      if (!ws.ok()) {
        fold_status = FromRocks(ws, "writing rebuilt indexes to " + impl_->path);
        return false;
      }
      batch.Clear();
      written();
    }
    return true;
  });
  if (!s.ok()) return s;
  if (!fold_status.ok()) return fold_status;
  // The fold derived the refusals' rows of the whole log (the Projector
  // does, from each event.rejected payload): none is left to read the log for.
  if (!impl_->options.without_refusal_index) {
    Status gaps = Scan(Cf::kMeta, kMetaRefusalsGapPrefix, [&](std::string_view k, std::string_view) {
      batch.Delete(impl_->H(Cf::kMeta), rocksdb::Slice(k.data(), k.size()));
      return true;
    });
    if (!gaps.ok()) return gaps;
    batch.Put(impl_->H(Cf::kMeta), kMetaRefusalsThrough, std::to_string(Head().seq));
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status ws = impl_->db->Write(wo, &batch);
  if (!ws.ok()) return FromRocks(ws, "writing rebuilt indexes to " + impl_->path);
  return FromRocks(impl_->db->FlushWAL(true), "syncing " + impl_->path);
}

Status EventLog::Digest(Cf cf, Hash* digest, uint64_t* rows) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  *rows = 0;
  auto put_len = [&](size_t n) {
    uint8_t b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(n >> (56 - 8 * i));
    EVP_DigestUpdate(ctx, b, 8);
  };
  Status s = Scan(cf, "", [&](std::string_view k, std::string_view v) {
    put_len(k.size());
    EVP_DigestUpdate(ctx, k.data(), k.size());
    put_len(v.size());
    EVP_DigestUpdate(ctx, v.data(), v.size());
    ++*rows;
    return true;
  });
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest->data(), &len);
  EVP_MD_CTX_free(ctx);
  return s;
}

void EventLog::SetFreeSpaceReserve(uint64_t bytes) { impl_->free_reserve = bytes; }

Status EventLog::Refresh() {
  if (impl_->writable) return Status::Ok();
  return FromRocks(impl_->db->TryCatchUpWithPrimary(), "catching up with the writer of " + impl_->path);
}

}  // namespace noxsync
