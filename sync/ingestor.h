// Ingestor: turns Noxys events into log records, idempotently.
//
// Each call takes a batch of input lines (a file chunk, a webhook body) and
// makes it one Step: for a valid new event `event.received` plus
// `incident.opened` or `incident.recurred`; for a repeated event_id nothing
// (a duplicate); for a bad line `event.rejected` with the reason. The batch is
// durable when Submit's ticket is (EventLog::WaitFor).
//
// Thread-safe: parsing runs in the caller's thread, decisions under one mutex
// so seq order is decision order, and the fsync is shared by every caller
// waiting at the same time (group commit). The EventLog must outlive it.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/event_log.h"
#include "sync/clock.h"
#include "sync/incident.h"
#include "sync/projector.h"
#include "sync/writer_gate.h"

namespace noxsync {

struct IngestOptions {
  // A later event with the same fingerprint within this time of an open
  // incident's events recurs it instead of opening a new one.
  int64_t recurrence_window_us = 24LL * 3600 * 1000000;
  FingerprintFields fingerprint;
  // Staged rows kept in memory before they are sealed, to be dropped once
  // durable; at most two such generations are held, which bounds memory on
  // large ingests.
  size_t max_staged_rows = 25000;
  // An event timed further than this after the host's clock is refused
  // (kept as event.rejected): a reporter whose clock is wrong (a laptop at
  // 2099, a default of 9999-12-31) would otherwise leave an incident that
  // later events recur into for ever, that never auto-resolves, and a report
  // trend that runs to that year. Earlier times are taken as they come:
  // old events are replayed and backfilled on purpose.
  int64_t max_future_us = 24LL * 3600 * 1000000;
  // How much of a rejected line the log keeps as evidence.
  size_t max_rejected_text = 4096;
};

struct IngestLine {
  std::string text;
  uint64_t line = 0;  // 1-based line number in its source; 0 when not from a file
  // Set by a reader that already knows the line cannot be an event (too
  // long): it is rejected with this reason without being parsed.
  std::string error;
};

struct IngestResult {
  enum class Kind { kAccepted, kDuplicate, kRejected };
  Kind kind = Kind::kRejected;
  uint64_t line = 0;
  std::string event_id;  // empty when the line had none readable
  std::string incident;  // for accepted and duplicate
  bool opened = false;   // accepted: opened a new incident (else recurred)
  std::string error;     // rejected: "field risk_score: expected ..."
};

class Ingestor {
 public:
  Ingestor(EventLog* log, const Clock* clock, IngestOptions options = {});

  // Parses, decides and queues the batch as one Step; *ticket is what to wait
  // for (0 when there is nothing to wait for). results[i] answers lines[i].
  // Unavailable, with nothing decided, while the store's disk is nearly full
  // (EventLog::CheckRoom): the same batch may be submitted again later. Any
  // other failure leaves the Ingestor refusing every later batch.
  Status Submit(const std::vector<IngestLine>& lines, std::string_view source,
                std::vector<IngestResult>* results, uint64_t* ticket);

  // Submit, then wait until the batch is durable.
  Status Ingest(const std::vector<IngestLine>& lines, std::string_view source,
                std::vector<IngestResult>* results);

  // Shares the store with a SyncEngine in the same process (sync/writer_gate.h);
  // set before the first Submit, must outlive the Ingestor.
  void set_gate(WriterGate* gate) { gate_ = gate; }

 private:
  Status Decide(const NoxysEvent& ev, std::string_view text, Step* step, IngestResult* result);

  EventLog* log_;
  const Clock* clock_;
  IngestOptions options_;

  std::mutex mu_;
  StagedState staged_;
  Projector projector_;
  uint64_t last_ticket_ = 0;
  WriterGate* gate_ = nullptr;
  uint64_t seen_generation_ = 0;
  // Set when a decision failed half-way through a batch: rows staged for the
  // lines before it were never submitted, so answering from them could call
  // an event that is not stored a duplicate. Every later call returns this.
  Status broken_;
};

}  // namespace noxsync
