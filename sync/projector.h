// Projector: folds log records into the derived rows (indexes and incident
// projections). The live ingest path and `replay --rebuild` both go through
// it, which is what makes a rebuild come out byte for byte the same.
//
// StagedState is the view the Projector reads and writes: rows staged in
// memory (not yet durable) over the rows already in the store. Neither class
// is thread-safe; the Ingestor serializes access.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/event_log.h"
#include "sync/incident.h"
#include "sync/noxys_event.h"

namespace noxsync {

// kMeta: how many incidents have been opened, so the next is inc_<count + 1>.
inline constexpr const char* kMetaIncidentCount = "incident_count";

// Record types of the log; docs/event-log.md documents each payload.
namespace record_type {
inline constexpr const char* kEventReceived = "event.received";
inline constexpr const char* kEventRejected = "event.rejected";
inline constexpr const char* kIncidentOpened = "incident.opened";
inline constexpr const char* kIncidentRecurred = "incident.recurred";
// Written by the sync engine (sync/engine.h).
inline constexpr const char* kRuleNoMatch = "rule.no_match";
inline constexpr const char* kTicketCreateRequested = "ticket.create_requested";
inline constexpr const char* kTicketCreated = "ticket.created";
inline constexpr const char* kTicketCreateFailed = "ticket.create_failed";
inline constexpr const char* kTicketStatusChanged = "ticket.status_changed";
inline constexpr const char* kTicketTransitionRequested = "ticket.transition_requested";
inline constexpr const char* kTicketTransitionApplied = "ticket.transition_applied";
inline constexpr const char* kTicketCommentRequested = "ticket.comment_requested";
inline constexpr const char* kTicketCommentAdded = "ticket.comment_added";
inline constexpr const char* kTicketPriorityChanged = "ticket.priority_changed";
inline constexpr const char* kSyncConflict = "sync.conflict";
inline constexpr const char* kBackendError = "backend.error";
inline constexpr const char* kSlaBreached = "sla.breached";
inline constexpr const char* kSlaEscalated = "sla.escalated";
inline constexpr const char* kIncidentAutoResolved = "incident.auto_resolved";
inline constexpr const char* kNotificationSent = "notification.sent";
}  // namespace record_type

// kMeta key marking an SLA deadline of an incident as breached (derived from
// sla.breached, so a breach is recorded once per incident and deadline).
std::string SlaBreachKey(std::string_view incident, std::string_view deadline);

// A by_event row of an accepted event, "<incident id> <digest>" (or the bare
// incident id, from before digests): its incident id.
inline std::string_view IncidentOfEventRow(std::string_view row) { return row.substr(0, row.find(' ')); }

// One incident's ticket on one backend (the `tickets` column family), as the
// engine needs it: whether it exists yet, its key, and the last version
// noxsync knows, which is how the poller tells its own changes from people's.
struct TicketRow {
  std::string state;  // "requested", "created", "failed"
  std::string key;
  std::string id;
  std::string url;
  std::string raw_status;
  IncidentStatus status = IncidentStatus::kOpen;
  int64_t updated_us = 0;
  std::string version;
  std::string priority;  // the Noxys priority the rules gave
  std::string rule;
  std::string error;     // why it failed
  int64_t last_recurrence_comment_us = 0;
};
std::string TicketRowToJson(const TicketRow& row);
Status TicketRowFromJson(std::string_view json, TicketRow* row);
// Key of the tickets column family: incident \0 backend.
std::string TicketRowKey(std::string_view incident, std::string_view backend);
// Key of by_ticket: backend \0 ticket key.
std::string TicketKeyKey(std::string_view backend, std::string_view ticket_key);

// Frees a large map a few entries per Step, so that dropping tens of
// thousands of rows at once does not stall the caller: the Ingestor drops
// its caches while holding its lock, and freeing 25,000 incidents in one go
// held every webhook behind it for milliseconds (a p99 outlier each time).
template <class Map>
class GradualFree {
 public:
  // Takes m's entries (m is left empty); what an earlier Take left unfreed
  // goes now.
  void Take(Map* m) {
    dying_ = std::move(*m);
    *m = Map();
  }
  void Step() {
    for (int i = 0; i < 4 && !dying_.empty(); ++i) dying_.erase(dying_.begin());
  }
  size_t size() const { return dying_.size(); }

 private:
  Map dying_;
};

class StagedState {
 public:
  // `log` must outlive this object.
  explicit StagedState(const EventLog* log) : log_(log) {}

  // Rows staged before a Seal or Clear; the table is sized for this many at
  // once, so it does not rehash (touching every row) as it fills.
  void set_expected_rows(size_t n) { reserve_ = n; }

  // Staged value if any, else the store's. *found false when neither has it.
  Status Get(Cf cf, std::string_view key, std::string* value, bool* found);
  void Put(Cf cf, std::string_view key, std::string value);
  void Erase(Cf cf, std::string_view key);
  // Rows changed since the last call, to write with the records that caused them.
  std::vector<Mutation> TakeDirty();
  size_t size() const { return rows_.size(); }
  // Forgets staged rows; only once every row taken is durable. They are
  // freed a few at a time by the Puts that follow.
  void Clear();

  // Sets every staged row aside as one sealed generation, still read but no
  // longer written, so a writer can go on while the Step holding them (and
  // every earlier one) reaches the disk; only rows already taken may be
  // sealed. One generation at most: seal again only after DropSealed.
  void Seal(uint64_t ticket);
  bool has_sealed() const { return has_sealed_; }
  uint64_t sealed_ticket() const { return sealed_ticket_; }
  // Forgets the sealed generation; only once its ticket is durable.
  void DropSealed();

 private:
  struct Row {
    std::string value;
    bool dirty = false;
    bool erased = false;
  };
  using Rows = std::unordered_map<std::string, Row>;
  // The table's key for (cf, key), built in probe_: no allocation per read.
  const std::string& Slot(Cf cf, std::string_view key);
  Row& Stage(Cf cf, std::string_view key, std::string value);

  const EventLog* log_;
  std::string probe_;
  size_t reserve_ = 0;
  Rows rows_;
  Rows sealed_;
  bool has_sealed_ = false;
  uint64_t sealed_ticket_ = 0;
  std::vector<Rows::value_type*> dirty_;  // rows of rows_, in the order first changed
  GradualFree<Rows> cleared_;
};

// The facts of incident.opened / incident.recurred payloads.
struct OpenedFacts {
  std::string event_id;
  std::string fingerprint;
  std::string user_email;
  std::string platform_id;
  std::string platform_name;
  PolicyAction action = PolicyAction::kBlock;
  std::vector<std::string> classification_types;
  int64_t risk_ppm = 0;
  int64_t event_time_us = 0;
};
struct RecurredFacts {
  std::string event_id;
  int64_t risk_ppm = 0;
  int64_t event_time_us = 0;
  uint64_t occurrences = 0;  // including this one
};

// The by_fingerprint row: the latest incident with a fingerprint and what
// deciding "recurrence or new incident" needs of it, so that decision reads
// one small row instead of the incident's projection. Stored as text:
// "<incident id> <first_seen_us> <last_seen_us> <1 if Open or In Progress, else 0>".
struct FingerprintLatest {
  std::string incident;
  int64_t first_seen_us = 0;
  int64_t last_seen_us = 0;
  bool active = true;
};
std::string EncodeFingerprintLatest(const FingerprintLatest& f);
bool DecodeFingerprintLatest(std::string_view text, FingerprintLatest* f);

std::string OpenedPayload(const OpenedFacts& f);
std::string RecurredPayload(const RecurredFacts& f);

class Projector {
 public:
  explicit Projector(StagedState* state) : state_(state) {}

  // Rebuild path: parses the record's payload and applies it.
  Status Apply(const LogRecord& r);

  // Forgets the derived rows of kMeta, so a rebuild counts from zero (the
  // store drops the derived column families itself).
  void ResetForRebuild();

  // Live path: the same folds, from facts the caller already holds.
  // digest: EventDigest of the event, "" when unknown (kept with the row).
  Status OnEventReceived(std::string_view incident, std::string_view event_id, std::string_view digest);
  Status OnIncidentOpened(int64_t time_us, std::string_view incident, const OpenedFacts& f);
  Status OnIncidentRecurred(int64_t time_us, std::string_view incident, const RecurredFacts& f);
  // The same, for a caller that has just read the incident (FindIncident).
  Status OnIncidentRecurred(int64_t time_us, Incident inc, const RecurredFacts& f);
  // The sync engine's records: the same fold live and on rebuild. `payload`
  // is the record's JSON payload.
  Status OnSyncRecord(int64_t time_us, std::string_view type, std::string_view incident, std::string_view payload);

  Status FindTicket(std::string_view incident, std::string_view backend, TicketRow* row, bool* found);

  // Forgets staged rows and cached incidents; only once every row taken
  // from the state is durable (the store then answers the same reads).
  void ForgetDurable();
  // Also forgets the cached incidents and fingerprints: for a writer that
  // shares the store with another (the sync engine after an ingest), at a
  // point where nothing of its own is staged.
  void ForgetAll();

  // Reads through the staged state.
  Status FindIncident(std::string_view id, Incident* inc, bool* found);
  // The incident an event went to and, when the row has it, the event's
  // EventDigest ("" for rows written before digests were kept).
  Status IncidentForEvent(std::string_view event_id, std::string* incident, bool* found,
                          std::string* digest = nullptr);
  Status LatestForFingerprint(std::string_view fingerprint, FingerprintLatest* latest, bool* found);
  Status IncidentCount(uint64_t* count);

 private:
  void PutIncident(Incident inc);
  void PutFingerprint(const Incident& inc);

  // A bounded map that keeps what was used recently: two generations, the
  // older dropped when the newer fills up. O(1) per operation.
  template <class V>
  class RecentMap {
   public:
    explicit RecentMap(size_t capacity) : half_(capacity / 2) {}
    const V* Find(std::string_view key) {
      if (auto it = young_.find(key); it != young_.end()) return &it->second;
      auto it = old_.find(key);
      if (it == old_.end()) return nullptr;
      return &Put(it->first, std::move(it->second));
    }
    V& Put(std::string key, V value) {
      dropped_.Step();
      if (young_.size() >= half_) {
        dropped_.Take(&old_);
        old_ = std::move(young_);
        young_ = {};
      }
      if (young_.empty()) young_.reserve(half_);
      return young_.insert_or_assign(std::move(key), std::move(value)).first->second;
    }
    void Clear() {  // a full forget, rare: freed at once
      young_.clear();
      old_.clear();
    }

   private:
    // Looked up by string_view, without building a std::string per read.
    struct Hash {
      using is_transparent = void;
      size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
    };
    using Map = std::unordered_map<std::string, V, Hash, std::equal_to<>>;
    size_t half_;
    Map young_, old_;
    GradualFree<Map> dropped_;
  };

  template <class V, class Decode>
  Status ReadThrough(RecentMap<V>* cache, Cf cf, std::string_view key, V* out, bool* found, Decode decode);

  StagedState* state_;
  // This process is the store's only writer and every incident and
  // fingerprint row goes through here, so these copies are always current;
  // they outlive ForgetDurable and spare a store read and a JSON parse for
  // incidents that recur (measured: a quarter of ingest at 1M events).
  // 50,000 incidents is about 30 MB. Events of the benchmarks' shape recur
  // up to a day (~40,000 events) after the incident opened: 20,000 missed
  // most of them, and the miss is a RocksDB read on the webhook's path
  // (server CPU per request 188 -> 175 µs; `ingest` of 1M events peaks at
  // 228 MiB, 80,000 would be 241 MiB against the 256 MiB target).
  RecentMap<Incident> incidents_{50000};
  RecentMap<FingerprintLatest> fingerprints_{50000};
};

// Drops and recreates every derived row from the log alone (replay --rebuild).
// `log` must be open for writing with nothing in flight.
Status RebuildProjections(EventLog* log, uint64_t* records);

}  // namespace noxsync
