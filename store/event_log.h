// EventLog: the append-only, hash-chained log of everything noxsync did, with
// the indexes and projections derived from it, in one RocksDB database.
//
// One process opens a store for writing (OpenForWrite takes an exclusive lock
// file naming the holder); any number may read it meanwhile (OpenForRead, a
// RocksDB secondary instance that sees what the writer has made durable).
//
// Writes come as Steps. A Step is one logical change: log records plus the
// index and projection rows derived from them. A single writer thread assigns
// dense sequence numbers, chains the hashes, and writes every Step that is
// waiting as one synced WriteBatch (group commit): a crash keeps all of a Step
// or none of it, and durability costs one fsync per group, not per event.
//
// Thread-safety: all methods may be called from any thread. RocksDB headers
// stay in event_log.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/record.h"
#include "store/status.h"

namespace noxsync {

// Column families; see docs/event-log.md for keys and values.
enum class Cf : int {
  kLog = 0,         // seq (u64 BE) -> record; never updated or deleted
  kByIncident,      // incident id \0 seq -> ""      (derived, by the store)
  kByEvent,         // Noxys event id -> incident id (derived); and
                    // \0 event id \0 seq -> "" for each refusal of that id
  kByTicket,        // backend \0 ticket key -> incident id (derived)
  kIncidents,       // incident id -> projection JSON (derived)
  kByFingerprint,   // fingerprint -> latest incident id (derived)
  kOutbox,          // seq -> pending external action
  kMeta,            // name -> value: chain head, counters, cursors
  kTickets,         // incident id \0 backend -> ticket row JSON (derived)
};
inline constexpr int kCfCount = 9;
const char* CfName(Cf cf);

// The derived column families `RebuildDerived` recreates from the log.
std::vector<Cf> DerivedCfs();

struct NewRecord {
  int64_t time_us = 0;
  std::string type;
  std::string incident;
  std::string payload;
  // The Noxys event id a refusal (event.rejected) names, or "": the writer
  // indexes the record under RefusalKey(id, its seq), as it does by_incident.
  // Not part of the sealed record; a rebuild derives the same row from the
  // payload.
  std::string refused_event_id;
};

struct Mutation {
  Cf cf;
  std::string key;
  std::string value;
  bool erase = false;
};

struct Step {
  std::vector<NewRecord> records;
  std::vector<Mutation> mutations;
};

// About what a Step adds to the store's write batch, and so to its WAL:
// what EventLog::CheckRoom counts a submitted Step as until it is written.
uint64_t StepBytes(const Step& step);

struct ChainHead {
  uint64_t seq = 0;  // 0: empty log
  Hash hash{};
};

struct VerifyReport {
  uint64_t records = 0;
  ChainHead head;
  uint64_t first_bad_seq = 0;  // 0 when the chain is intact
  std::string problem;         // what is wrong at first_bad_seq
  // The time index disagrees with the records it covers (it would make a
  // `since` query skip records); "" when it agrees. The chain is unaffected:
  // `replay --rebuild` rewrites the index.
  std::string index_problem;
};

struct EventLogOptions {
  // Who holds the write lock, shown to a second writer ("noxsync ingest x").
  std::string holder = "noxsync";
  // What a second writer can do instead while this one holds the store,
  // added to its refusal (noxsync serve names its API); one line, short.
  std::string holder_note;
  // fsync each group; false only for benchmarks of the non-durable ceiling.
  bool sync = true;
  // Free space the store's file system must keep. A group that would leave
  // less is refused with a clear message instead of being written: RocksDB
  // needs room to flush and compact, and running it out of disk mid-write
  // (ENOSPC) ends in an assertion in Debian's build rather than an error.
  uint64_t min_free_bytes = 128ull << 20;
  // Reads the free bytes of the file system holding `path`; empty: statvfs.
  // Tests give their own, to put the disk at an exact fill.
  std::function<uint64_t(const std::string& path)> free_space_probe;
  // Tests of upgrades: write as a version before the refusal index did (no
  // refusal rows, no note of what is indexed).
  bool without_refusal_index = false;
};

class EventLog {
 public:
  static Result<std::unique_ptr<EventLog>> OpenForWrite(const std::string& path,
                                                        const EventLogOptions& options = {});
  static Result<std::unique_ptr<EventLog>> OpenForRead(const std::string& path);

  // Waits for queued Steps to be written, then closes.
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  const std::string& path() const;
  bool writable() const;

  // Queues a Step and returns a ticket for WaitFor. Tickets grow by one per
  // Step, in the order Submit was called; seqs follow the same order.
  uint64_t Submit(Step step);
  // Blocks until the Step with this ticket is durable, or returns why not.
  // After a failed write the log refuses every later Step: what the caller
  // holds in memory no longer matches the disk, so it must reopen.
  Status WaitFor(uint64_t ticket);
  // True when WaitFor(ticket) would return at once: the Step is durable or
  // the log has failed (WaitFor then says why). Does not block.
  bool Settled(uint64_t ticket) const;
  Status Append(Step step) { return WaitFor(Submit(std::move(step))); }
  // Unavailable, and nothing changed, when a Step of about `incoming` bytes
  // could take the store's disk near EventLogOptions::min_free_bytes; OK
  // otherwise. A caller asks before it builds a Step: the writer refuses one
  // that would pass the reserve too, but a refused Step fails the log for
  // good (see WaitFor), while a caller turned away here sends again once
  // space is freed. Uses the free space the writer last read, reading it
  // again only when that is short; refuses with a margin above the writer's
  // own check, so a Step let through here is not refused there unless
  // something else fills the disk meanwhile. Steps submitted and not yet
  // written count as taken: a burst let through on one reading would
  // otherwise pass the margin together.
  Status CheckRoom(uint64_t incoming) const;
  // Blocks until every Step submitted so far is durable.
  Status Flush();

  // Writes a copy of every column family, as this handle sees the store at
  // one point, into a new store at `dest` (which must not exist or be
  // empty), synced. A reader's view (OpenForRead) does not move while it
  // copies, and a writer's copy reads one snapshot, so the copy is
  // consistent while another process keeps writing. *records: its log size.
  Status CopyTo(const std::string& dest, uint64_t* records) const;

  // Point read of any column family; NotFound when absent (its message is
  // bare: a miss is the common answer on the ingest path, callers add context).
  Status Get(Cf cf, std::string_view key, std::string* value) const;
  // Calls fn for each row whose key starts with prefix, in key order, until fn
  // returns false.
  Status Scan(Cf cf, std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& fn) const;
  // Calls fn for each row whose key is >= from, in key order, until fn
  // returns false (a page of a listing resumes here, without re-reading
  // the rows before its cursor).
  Status ScanFrom(Cf cf, std::string_view from,
                  const std::function<bool(std::string_view key, std::string_view value)>& fn) const;
  // Calls fn for each log record with seq >= from, in order, until it returns false.
  Status ScanLog(uint64_t from,
                 const std::function<bool(const LogRecord& record)>& fn) const;
  // The same, calling fn only for records whose type `want` accepts; the
  // others are skipped without being decoded (a report reads a tenth of the
  // log's bytes this way: event.received, half the records, is most of them).
  Status ScanLog(uint64_t from, const std::function<bool(std::string_view type)>& want,
                 const std::function<bool(const LogRecord& record)>& fn) const;
  // A seq to start from when looking for records timed at or after
  // `since_us`: every record before it is older, by the time index the store
  // keeps (the latest time in each block of 4,096 seqs). Where the index has
  // no row yet (the open block, or a store written before the index until
  // `replay --rebuild`), the answer is earlier, never later.
  Status SeqForTime(int64_t since_us, uint64_t* from) const;
  Status ReadRecord(uint64_t seq, LogRecord* record) const;
  // The records of one incident, in seq order (through kByIncident).
  Status IncidentRecords(std::string_view incident, std::vector<LogRecord>* out) const;
  // A page of them: at most `limit` records with seq >= `from`; *next is the
  // seq to resume at, or 0 when the page holds the last one. An incident
  // that recurs for months has records by the hundred thousand.
  Status IncidentRecords(std::string_view incident, uint64_t from, size_t limit, std::vector<LogRecord>* out,
                         uint64_t* next) const;
  // The same page, each record handed to `fn` in turn instead of kept; `fn`
  // returns false to end the page before the record it was given (*next is
  // then that record's seq), so a caller bounds a page by its own measure
  // of size: records carry their raw events, which may be large.
  Status IncidentRecords(std::string_view incident, uint64_t from, size_t limit,
                         const std::function<bool(const LogRecord& record)>& fn, uint64_t* next) const;

  // The seqs of the refusals indexed under this event id (RefusalKey), in
  // order: at most `limit` with seq >= `from`; *next is the seq to resume
  // at, or 0 when none is left.
  Status RefusalSeqs(std::string_view event_id, uint64_t from, size_t limit, std::vector<uint64_t>* seqs,
                     uint64_t* next) const;
  // The ranges of seqs [first, last] whose refusals are not in the index,
  // in order: records written by a version without it. A store it never
  // opened for writing: all of it. After each version without the index
  // wrote to the store (a rollback), the records it added. Empty for a store
  // this version created, or after `replay --rebuild`. Refusals in these
  // ranges are found only by reading the log.
  Status UnindexedRefusalRanges(std::vector<std::pair<uint64_t, uint64_t>>* ranges) const;

  // Head of the chain as written in kMeta, committed with the last Step.
  ChainHead Head() const;

  // Recomputes every hash from seq 1 and checks seqs are dense and the head
  // matches. Not a Status failure when the chain is broken: see report.
  Status VerifyChain(VerifyReport* report) const;

  // Drops every derived column family and refills it by calling `fold` on each
  // log record in order; fold returns the derived rows for that record
  // (kByIncident is the store's own and is rebuilt without asking). Rows are
  // written in chunks; `written` is called after each, so the caller may drop
  // what it staged. Needs a writable log with no Step in flight.
  Status RebuildDerived(const std::function<Status(const LogRecord&, std::vector<Mutation>*)>& fold,
                        const std::function<void()>& written);

  // SHA-256 over every key and value of a column family, to compare two states
  // of it byte for byte.
  Status Digest(Cf cf, Hash* digest, uint64_t* rows) const;

  // Changes EventLogOptions::min_free_bytes of an open log.
  void SetFreeSpaceReserve(uint64_t bytes);

  // For readers: pick up what the writer made durable since open.
  Status Refresh();

  struct Impl;

 private:
  explicit EventLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Key of kByIncident for (incident, seq).
std::string IncidentSeqKey(std::string_view incident, uint64_t seq);
// Key of kByEvent for a refusal naming `event_id` at `seq`: \0 id \0 seq.
// Accepted event ids are printable, so no accepted event's row starts with
// \0. Ids that are empty, hold a \0 or are longer than kMaxRefusalIdBytes
// are not indexed (RefusableEventId says which are).
std::string RefusalKey(std::string_view event_id, uint64_t seq);
inline constexpr size_t kMaxRefusalIdBytes = 256;
bool RefusableEventId(std::string_view event_id);

}  // namespace noxsync
