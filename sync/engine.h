// SyncEngine: the hub between Noxys incidents and their tickets.
//
// It follows the event log: a new incident is matched against the rules and,
// for each backend the winning rule names, a ticket is requested (a
// `ticket.create_requested` record and an outbox row, in one step). The
// outbox is drained in order: before creating, the backend is asked for a
// ticket carrying the incident id, so a crash between "created" and
// "logged" heals instead of duplicating; failures are retried with backoff
// and end in `ticket.create_failed` after a bound. Each backend is polled
// for tickets changed since its cursor; a change people made moves the
// incident and is pushed to the incident's other tickets, while a change
// noxsync made itself (its version is the one noxsync recorded) is not
// echoed. When both sides changed, the conflict policy decides and
// `sync.conflict` keeps both values. The cursor moves in the same step as
// the changes it produced.
//
// The engine writes the store: the EventLog must be open for writing and
// must outlive it, as must the backends and the clock. It rereads the store
// at the start of each call, so an Ingestor on the same log may write
// between calls, not during one. Not thread-safe: one thread drives it
// (RunOnce, or the calls one by one).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "store/event_log.h"
#include "sync/backend.h"
#include "sync/change_cursor.h"
#include "sync/clock.h"
#include "sync/notifier.h"
#include "sync/projector.h"
#include "sync/sync_config.h"
#include "sync/writer_gate.h"

namespace noxsync {

class NotificationDispatcher;

struct EngineStats {
  uint64_t tickets_requested = 0;
  uint64_t tickets_created = 0;
  uint64_t tickets_found_existing = 0;  // a create healed by find-by-incident
  uint64_t create_failures = 0;         // gave up (ticket.create_failed)
  uint64_t transitions_applied = 0;
  uint64_t comments_added = 0;
  uint64_t priorities_changed = 0;
  uint64_t status_changes_from_tickets = 0;
  uint64_t echoes_ignored = 0;
  uint64_t conflicts = 0;
  uint64_t no_rule = 0;
  uint64_t sla_breaches = 0;
  uint64_t auto_resolved = 0;
};

// Where an incident stands against its SLA (for `noxsync sla`).
struct SlaStanding {
  std::string incident;
  Severity priority = Severity::kLow;
  std::string deadline;  // "response" or "resolution"
  int64_t due_us = 0;
  bool breached = false;  // recorded as sla.breached
};
// Incidents with tickets whose deadline is not met yet (or was missed), by
// due time. Reads only.
Status SlaStandings(const EventLog& log, const SyncConfig& config, std::vector<SlaStanding>* out);

class SyncEngine {
 public:
  // `backends` by name ("jira", "servicenow"); `notify` may be null.
  SyncEngine(EventLog* log, std::map<std::string, Backend*> backends, const Clock* clock, SyncConfig config,
             NotificationDispatcher* notify = nullptr);

  // Reads the new log records since the engine's cursor and requests the
  // tickets the rules ask for (and recurrence comments).
  Status PlanNewRecords();

  // Executes due outbox actions in order. A backend that is down delays its
  // own actions only. *done counts the actions completed or given up.
  Status DrainOutbox(int* done = nullptr);

  // Reads the backend's changed tickets and reconciles them.
  Status Poll(const std::string& backend);

  // A status change made in Noxys (or by noxsync itself: "rule"): recorded,
  // then pushed to every ticket of the incident through the outbox. To the
  // status the incident already has, nothing is recorded, the note neither:
  // *changed (when given) says which it was.
  Status SetStatus(const std::string& incident, IncidentStatus to, const std::string& source,
                   const std::string& note, bool* changed = nullptr);

  // Records each SLA deadline passed (once per incident and deadline),
  // notifies and escalates (a comment on the tickets, a priority raised).
  Status CheckSla();

  // Resolves COACH incidents with no event for auto_resolve_after, in Noxys
  // and in their tickets.
  Status AutoResolve();

  // Re-runs the rules over the incidents whose first event is in [since,
  // until] and requests the tickets that are missing (never for a backend
  // where the incident has a ticket or one is on its way). With dry_run
  // nothing is written; *planned lists what would be (or was) requested.
  struct Planned {
    std::string incident;
    std::string backend;
    std::string rule;
    std::string priority;
  };
  Status Replay(int64_t since_us, int64_t until_us, bool dry_run, std::vector<Planned>* planned);

  // One pass: plan, drain, poll every backend, SLA, auto-resolve, drain again.
  Status RunOnce();

  // Shares the store with an Ingestor in the same process (noxsync serve);
  // must outlive the engine. Not thread-safe itself: one caller at a time.
  void set_gate(WriterGate* gate) { gate_ = gate; }
  // Set from another thread when the process stops (noxsync serve's SIGTERM):
  // DrainOutbox returns before its next action, leaving the rest in the
  // outbox for the next start, instead of working through a backlog of
  // thousands of backend calls first; Poll stops fetching pages and commits
  // nothing, so the next start reads them again. Must outlive the engine.
  void set_stop(const std::atomic<bool>* stop) { stop_ = stop; }
  // Bounds one DrainOutbox call to about `micros` of work (0, the default: no
  // bound), so that the backlog an outage leaves (thousands of tickets, a
  // backend call each) is worked through a slice at a time, with polls and
  // status changes in between, not in one step that holds them all off.
  // drain_cut_short() says whether the last call stopped with actions due.
  void set_drain_budget(int64_t micros) { drain_budget_us_ = micros; }
  bool drain_cut_short() const { return drain_cut_short_; }

  const EngineStats& stats() const { return stats_; }
  // Outbox actions waiting (due or not).
  Status PendingActions(uint64_t* count) const;

 private:
  struct Action;
  // Holds the writer gate (if any) for one local phase, the caches forgotten.
  class GateScope {
   public:
    explicit GateScope(SyncEngine* engine);
    ~GateScope();
    GateScope(const GateScope&) = delete;
    GateScope& operator=(const GateScope&) = delete;

   private:
    SyncEngine* engine_;
  };
  Status PlanIncident(const LogRecord& opened, const std::string& event_text, Step* step,
                      std::vector<Planned>* planned = nullptr, bool dry_run = false);
  Status PlanRecurrence(const LogRecord& recurred, Step* step);
  Status Execute(const std::string& outbox_key, Action& action, bool* finished);
  Status ExecuteCreate(const std::string& outbox_key, Action& action, bool* finished);
  Status ExecuteTransition(const std::string& outbox_key, Action& action, bool* finished);
  Status ExecuteComment(const std::string& outbox_key, Action& action, bool* finished);
  Status ExecutePriority(const std::string& outbox_key, Action& action, bool* finished);
  Status Retry(const std::string& outbox_key, Action& action, const Status& why, bool* finished);
  // The ticket a move or comment acts on: *ready when it exists; a ticket
  // still being created makes the action wait, one never to exist drops it.
  Status TicketFor(const std::string& outbox_key, const Action& action, TicketRow* row, bool* ready, bool* finished);
  // Records the action's result and drops its outbox row, in one step.
  Status Complete(const std::string& outbox_key, const Action& action, const char* type, const std::string& payload,
                  uint64_t* counter, bool* finished);
  // Appends a record to `step` and folds it into the staged projections.
  Status Record(Step* step, const std::string& type, const std::string& incident, const std::string& payload);
  // Queues transitions of the incident's tickets (except `except_backend`)
  // to `to`, as records and outbox rows in `step`.
  Status PushStatus(Step* step, const std::string& incident, IncidentStatus to, const std::string& except_backend);
  std::string OutboxKey(const std::string& incident, const std::string& backend, const char* kind);
  Status Commit(Step step);
  NewTicket BuildTicket(const std::string& incident, const NoxysEvent& e, const RuleOutcome& rule,
                        const std::string& backend) const;

  EventLog* log_;
  std::map<std::string, Backend*> backends_;
  std::vector<std::string> backend_names_;
  const Clock* clock_;
  SyncConfig config_;
  NotificationDispatcher* notify_;
  StagedState state_;
  Projector projector_;
  WriterGate* gate_ = nullptr;
  const std::atomic<bool>* stop_ = nullptr;
  int64_t drain_budget_us_ = 0;
  bool drain_cut_short_ = false;
  bool wrote_ = false;  // a Commit since the GateScope began
  uint64_t outbox_counter_ = 0;
  std::map<std::string, int64_t> backend_down_until_;  // backend -> time its actions wait until
  EngineStats stats_;
};

// The meta key of the engine's log cursor and of each backend's poll cursor.
inline constexpr const char* kMetaEngineSeq = "engine_seq";
std::string PollCursorKey(const std::string& backend);

}  // namespace noxsync
