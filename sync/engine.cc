#include "sync/engine.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <set>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "sync/json_fields.h"
#include "sync/json_text.h"
#include "sync/noxys_event.h"
#include "sync/notification_dispatcher.h"
#include "sync/timestamp.h"

namespace noxsync {

namespace json = boost::json;
namespace rt = record_type;

std::string PollCursorKey(const std::string& backend) { return "poll_cursor/" + backend; }

// One outbox row: an external action and its retry state.
struct SyncEngine::Action {
  std::string kind;  // create, transition, comment, priority
  std::string incident;
  std::string backend;
  std::string to;       // transition: the Noxys status
  std::string text;     // comment: the text; create: the event
  std::string comment_kind;
  std::string priority, rule, assignee, assignment_group;  // create; priority: the new one
  int64_t attempts = 0;
  int64_t next_us = 0;

  std::string ToJson() const {
    std::string out;
    JsonText(&out)
        .Str("kind", kind)
        .Str("incident", incident)
        .Str("backend", backend)
        .Str("to", to)
        .Str("text", text)
        .Str("comment_kind", comment_kind)
        .Str("priority", priority)
        .Str("rule", rule)
        .Str("assignee", assignee)
        .Str("assignment_group", assignment_group)
        .Int("attempts", attempts)
        .Int("next_us", next_us)
        .End();
    return out;
  }
  static bool FromJson(std::string_view text, Action* a) {
    json::error_code ec;
    json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec || !v.is_object()) return false;
    const json::object& o = v.get_object();
    auto str = [&](const char* k) { return StrField(o, k); };
    auto num = [&](const char* k) { return IntField(o, k); };
    a->kind = str("kind");
    a->incident = str("incident");
    a->backend = str("backend");
    a->to = str("to");
    a->text = str("text");
    a->comment_kind = str("comment_kind");
    a->priority = str("priority");
    a->rule = str("rule");
    a->assignee = str("assignee");
    a->assignment_group = str("assignment_group");
    a->attempts = num("attempts");
    a->next_us = num("next_us");
    return !a->kind.empty() && !a->incident.empty() && !a->backend.empty();
  }
};

namespace {

// Payload of a record about a ticket: the facts the fold needs to know the
// version noxsync has seen.
void TicketFacts(JsonText& j, const Ticket& t) {
  j.Str("key", t.key)
      .Str("id", t.id)
      .Str("url", t.url)
      .Str("raw_status", t.raw_status)
      .Str("ticket_status", IncidentStatusName(t.status))
      .Int("updated_us", t.updated_us)
      .Str("version", t.version);
}

Severity NextSeverity(Severity s) {
  switch (s) {
    case Severity::kLow: return Severity::kMedium;
    case Severity::kMedium: return Severity::kHigh;
    case Severity::kHigh:
    case Severity::kCritical: break;
  }
  return Severity::kCritical;
}

bool Permanent(const Status& s) {
  return s.code() == Status::Code::kInvalidArgument || s.code() == Status::Code::kFailedPrecondition ||
         s.code() == Status::Code::kNotFound;
}

}  // namespace

SyncEngine::SyncEngine(EventLog* log, std::map<std::string, Backend*> backends, const Clock* clock, SyncConfig config,
                       NotificationDispatcher* notify)
    : log_(log),
      backends_(std::move(backends)),
      clock_(clock),
      config_(std::move(config)),
      notify_(notify),
      state_(log),
      projector_(&state_) {
  for (const auto& [name, _] : backends_) backend_names_.push_back(name);
}

SyncEngine::GateScope::GateScope(SyncEngine* engine) : engine_(engine) {
  if (engine_->gate_) {
    engine_->gate_->lock();
    // Rows an ingest queued must be on disk before they are read here.
    if (Status s = engine_->log_->Flush(); !s.ok()) {
      spdlog::error("sync: the store failed under a queued ingest: {}", s.message());
    }
  }
  engine_->projector_.ForgetAll();
  engine_->wrote_ = false;
}

SyncEngine::GateScope::~GateScope() {
  if (!engine_->gate_) return;
  // Only a write makes the Ingestor's caches stale.
  if (engine_->wrote_) {
    engine_->gate_->unlock_after_write();
  } else {
    engine_->gate_->unlock();
  }
}

Status SyncEngine::Record(Step* step, const std::string& type, const std::string& incident,
                          const std::string& payload) {
  int64_t now = clock_->NowMicros();
  step->records.push_back({now, type, incident, payload});
  return projector_.OnSyncRecord(now, type, incident, payload);
}

Status SyncEngine::Commit(Step step) {
  std::vector<Mutation> derived = state_.TakeDirty();
  step.mutations.insert(step.mutations.end(), derived.begin(), derived.end());
  if (step.records.empty() && step.mutations.empty()) return Status::Ok();
  // On a nearly full disk the step is dropped, as a crash just before it
  // would have dropped it: what it was for is still owed (the outbox keeps
  // the action, a ticket made meanwhile is found by its incident before any
  // create, a poll's changes are read again), and every cached row goes,
  // so the engine reads the store again. A write the store refused instead
  // would fail the log for good.
  if (Status room = log_->CheckRoom(StepBytes(step)); !room.ok()) {
    projector_.ForgetAll();
    return room;
  }
  wrote_ = true;
  Status s = log_->Append(std::move(step));
  if (s.ok()) projector_.ForgetDurable();
  return s;
}

// Keys group an incident's actions per backend, oldest first: the drain keeps
// their order, and a new move finds the owed ones with one prefix scan.
std::string SyncEngine::OutboxKey(const std::string& incident, const std::string& backend, const char* kind) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(clock_->NowMicros()),
                static_cast<unsigned long long>(++outbox_counter_ & 0xffffffffu));
  return incident + "/" + backend + "/" + buf + "/" + kind;
}

NewTicket SyncEngine::BuildTicket(const std::string& incident, const NoxysEvent& e, const RuleOutcome& rule,
                                  const std::string& backend) const {
  TemplateContext ctx{&e, incident, rule.priority};
  NewTicket t;
  t.incident_id = incident;
  t.summary = config_.summary.Render(ctx);
  t.description = config_.description.Render(ctx);
  for (const auto& [name, tmpl] : config_.facts) t.facts.emplace_back(name, tmpl.Render(ctx));
  for (const auto& c : e.classifications) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " (%.2f)", c.confidence);
    t.classifications.push_back(c.type + buf);
  }
  t.classification_types = ClassificationTypes(e);
  for (const auto& l : config_.labels) {
    std::string label = l.Render(ctx);
    if (!label.empty()) t.labels.push_back(label);
  }
  t.event_id = e.event_id;
  t.platform = e.platform_name;
  t.severity = rule.priority;
  t.risk_ppm = RiskPpm(e.risk_score);
  t.assignee = rule.assignee;
  t.assignment_group = rule.assignment_group;
  if (auto it = config_.field_mapping.find(backend); it != config_.field_mapping.end()) {
    for (const auto& [field, tmpl] : it->second) {
      std::string value;
      AppendJsonString(&value, tmpl.Render(ctx));
      t.extra_fields[field] = value;
    }
  }
  return t;
}

// --- planning -------------------------------------------------------------

Status SyncEngine::PlanIncident(const LogRecord& opened, const std::string& event_text, Step* step,
                                std::vector<Planned>* planned, bool dry_run) {
  NoxysEvent e;
  std::string error;
  if (event_text.empty() || !ParseNoxysEvent(event_text, &e, &error)) {
    return Status::Corruption("incident " + opened.incident + " at seq " + std::to_string(opened.seq) +
                              ": its event.received is missing or unreadable");
  }
  RuleOutcome rule = config_.Decide(e, backend_names_);
  if (!rule.matched || rule.backends.empty()) {
    if (planned) return Status::Ok();  // a replay: the first pass said so already
    ++stats_.no_rule;
    std::string payload;
    JsonText(&payload)
        .Str("event_id", e.event_id)
        .Str("reason", rule.matched ? "the matching rule names no configured backend" : "no rule matched")
        .End();
    return Record(step, rt::kRuleNoMatch, opened.incident, payload);
  }
  for (const auto& backend : rule.backends) {
    TicketRow row;
    bool found = false;
    if (Status s = projector_.FindTicket(opened.incident, backend, &row, &found); !s.ok()) return s;
    if (found && row.state != "failed") continue;  // requested or created already
    if (planned) planned->push_back({opened.incident, backend, rule.rule, SeverityName(rule.priority)});
    if (dry_run) continue;
    std::string payload;
    JsonText(&payload)
        .Str("backend", backend)
        .Str("rule", rule.rule)
        .Str("priority", SeverityName(rule.priority))
        .Str("event_id", e.event_id)
        .End();
    if (Status s = Record(step, rt::kTicketCreateRequested, opened.incident, payload); !s.ok()) return s;
    Action a;
    a.kind = "create";
    a.incident = opened.incident;
    a.backend = backend;
    a.text = event_text;
    a.priority = SeverityName(rule.priority);
    a.rule = rule.rule;
    a.assignee = rule.assignee;
    a.assignment_group = rule.assignment_group;
    step->mutations.push_back({Cf::kOutbox, OutboxKey(opened.incident, backend, "create"), a.ToJson()});
    ++stats_.tickets_requested;
  }
  return Status::Ok();
}

Status SyncEngine::PlanRecurrence(const LogRecord& recurred, Step* step) {
  if (config_.recurrence_comment_interval_us <= 0) return Status::Ok();
  // The incident (a read and a JSON parse) only once a comment is due: most
  // recurrences fall inside the interval, or have no ticket yet.
  Incident inc;
  bool read = false, found = false;
  for (const auto& backend : backend_names_) {
    TicketRow row;
    bool have = false;
    if (Status s = projector_.FindTicket(recurred.incident, backend, &row, &have); !s.ok()) return s;
    if (!have || row.state != "created") continue;
    if (recurred.time_us - row.last_recurrence_comment_us < config_.recurrence_comment_interval_us) continue;
    if (!read) {
      read = true;
      if (Status s = projector_.FindIncident(recurred.incident, &inc, &found); !s.ok()) return Status::Ok();
    }
    if (!found) return Status::Ok();
    std::string text = "The incident recurred: " + std::to_string(inc.occurrences) + " events so far, the latest " +
                       inc.last_event_id + " at " + FormatTimestamp(inc.last_seen_us) + ".";
    std::string payload;
    JsonText(&payload).Str("backend", backend).Str("kind", "recurrence").Str("text", text).End();
    if (Status s = Record(step, rt::kTicketCommentRequested, recurred.incident, payload); !s.ok()) return s;
    Action a;
    a.kind = "comment";
    a.incident = recurred.incident;
    a.backend = backend;
    a.text = text;
    a.comment_kind = "recurrence";
    step->mutations.push_back({Cf::kOutbox, OutboxKey(recurred.incident, backend, "comment"), a.ToJson()});
  }
  return Status::Ok();
}

Status SyncEngine::PlanNewRecords() {
  for (;;) {
    // No writer gate: planning reads durable log records and writes ticket
    // rows, outbox rows and records, none of which the Ingestor caches, and
    // it changes no incident. The caches go: an ingest may have written.
    projector_.ForgetAll();
    std::string v;
    uint64_t cursor = 0;
    if (log_->Get(Cf::kMeta, kMetaEngineSeq, &v).ok()) {
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), cursor);
      if (ec != std::errc() || p != v.data() + v.size()) {
        return Status::Corruption("meta engine_seq of " + log_->path() + " is not a number: \"" + v + "\"");
      }
    }
    Step step;
    uint64_t last = cursor;
    // The text of each event until the incident record that follows it: only
    // an opening needs it, and each is dropped once its record has come, so
    // this holds an entry or two, not every event of the chunk.
    std::map<std::string, std::string> event_text;
    Status inner;
    bool more = false;
    Status s = log_->ScanLog(cursor + 1, [&](const LogRecord& r) {
      if (r.type == rt::kEventReceived) {
        event_text[r.incident] = r.payload;
      } else if (r.type == rt::kIncidentOpened) {
        auto text = event_text.extract(r.incident);  // empty: PlanIncident says the event is missing
        inner = PlanIncident(r, text ? text.mapped() : std::string(), &step);
      } else if (r.type == rt::kIncidentRecurred) {
        event_text.erase(r.incident);
        inner = PlanRecurrence(r, &step);
      }
      if (!inner.ok()) return false;
      last = r.seq;
      // Commit in chunks: a large ingest does not become one huge batch. A
      // chunk ends after an incident's records, never between them.
      if (step.records.size() >= 512 && r.type != rt::kEventReceived) {
        more = true;
        return false;
      }
      return true;
    });
    if (!s.ok()) return s;
    if (!inner.ok()) return inner;
    if (last == cursor) return Status::Ok();
    step.mutations.push_back({Cf::kMeta, kMetaEngineSeq, std::to_string(last)});
    if (Status c = Commit(std::move(step)); !c.ok()) return c;
    if (!more) return Status::Ok();
  }
}

// --- the outbox -----------------------------------------------------------

Status SyncEngine::Retry(const std::string& key, Action& a, const Status& why, bool* finished) {
  ++a.attempts;
  Step step;
  if (Permanent(why) || a.attempts >= config_.outbox_max_attempts) {
    std::string payload;
    JsonText j(&payload);
    j.Str("backend", a.backend).Str("action", a.kind).Str("reason", why.message()).Int("attempts", a.attempts);
    if (a.kind == "transition") j.Str("to", a.to);
    j.End();
    if (Status s = Record(&step, a.kind == "create" ? rt::kTicketCreateFailed : rt::kBackendError, a.incident, payload);
        !s.ok()) {
      return s;
    }
    step.mutations.push_back({Cf::kOutbox, key, "", true});
    if (a.kind == "create") ++stats_.create_failures;
    spdlog::error("sync: {} of {} on {} gave up after {} attempt(s): {}", a.kind, a.incident, a.backend, a.attempts,
                  why.message());
    *finished = true;
    return Commit(std::move(step));
  }
  int64_t delay = config_.outbox_base_delay_us;
  for (int64_t i = 1; i < a.attempts && delay < config_.outbox_max_delay_us; ++i) delay *= 2;
  delay = std::min(delay, config_.outbox_max_delay_us);
  a.next_us = clock_->NowMicros() + delay;
  if (why.code() == Status::Code::kUnavailable || why.code() == Status::Code::kUnauthenticated) {
    backend_down_until_[a.backend] = a.next_us;
  }
  spdlog::warn("sync: {} of {} on {} failed (attempt {}/{}), next try in {} s: {}", a.kind, a.incident, a.backend,
               a.attempts, config_.outbox_max_attempts, delay / 1'000'000, why.message());
  step.mutations.push_back({Cf::kOutbox, key, a.ToJson()});
  *finished = false;
  return Commit(std::move(step));
}

Status SyncEngine::ExecuteCreate(const std::string& key, Action& a, bool* finished) {
  TicketRow row;
  bool have = false;
  if (Status s = projector_.FindTicket(a.incident, a.backend, &row, &have); !s.ok()) return s;
  if (have && row.state == "created") {  // done by an earlier run
    Step step;
    step.mutations.push_back({Cf::kOutbox, key, "", true});
    *finished = true;
    return Commit(std::move(step));
  }
  Backend* b = backends_.at(a.backend);
  // Before creating, ask: a crash after the create and before its record
  // left a ticket that carries this incident.
  auto existing = b->FindByIncident(a.incident);
  if (!existing.ok()) return Retry(key, a, existing.status(), finished);
  Ticket ticket;
  bool found_existing = existing->has_value();
  if (found_existing) {
    ticket = **existing;
  } else {
    NoxysEvent e;
    std::string error;
    if (!ParseNoxysEvent(a.text, &e, &error)) return Retry(key, a, Status::Corruption("stored event: " + error), finished);
    RuleOutcome rule;
    rule.rule = a.rule;
    ParseSeverity(a.priority, &rule.priority);
    rule.assignee = a.assignee;
    rule.assignment_group = a.assignment_group;
    auto created = b->Create(BuildTicket(a.incident, e, rule, a.backend));
    if (!created.ok()) return Retry(key, a, created.status(), finished);
    ticket = std::move(created).value();
  }
  Step step;
  std::string payload;
  JsonText j(&payload);
  j.Str("backend", a.backend);
  TicketFacts(j, ticket);
  j.Str("found_existing", found_existing ? "yes" : "no").Int("attempts", a.attempts + 1).End();
  if (Status s = Record(&step, rt::kTicketCreated, a.incident, payload); !s.ok()) return s;
  step.mutations.push_back({Cf::kOutbox, key, "", true});
  // The incident may have moved while the ticket was being made.
  Incident inc;
  bool found = false;
  if (Status s = projector_.FindIncident(a.incident, &inc, &found); !s.ok()) return s;
  if (found && inc.status != ticket.status) {
    if (Status s = PushStatus(&step, a.incident, inc.status, ""); !s.ok()) return s;
  }
  if (Status s = Commit(std::move(step)); !s.ok()) return s;
  ++(found_existing ? stats_.tickets_found_existing : stats_.tickets_created);
  spdlog::info("sync: incident {} has {} ticket {}{}", a.incident, a.backend, ticket.key,
               found_existing ? " (found, not created again)" : "");
  if (notify_ && !found_existing && found) {
    Notification n;
    n.kind = Notification::Kind::kTicketCreated;
    n.incident_id = a.incident;
    n.platform = inc.platform_name;
    n.risk_ppm = inc.max_risk_ppm;
    n.severity = a.priority;
    n.user = inc.user_email;
    n.classifications = inc.classification_types;
    n.title = a.priority + " incident on " + inc.platform_name;
    n.ticket_key = ticket.key;
    n.ticket_url = ticket.url;
    notify_->Post(n);
  }
  *finished = true;
  return Status::Ok();
}

Status SyncEngine::TicketFor(const std::string& key, const Action& a, TicketRow* row, bool* ready, bool* finished) {
  *ready = false;
  bool have = false;
  if (Status s = projector_.FindTicket(a.incident, a.backend, row, &have); !s.ok()) return s;
  if (have && row->state == "requested") {  // the create comes first; it reconciles the status
    *finished = false;
    return Status::Ok();
  }
  if (!have || row->state != "created") {  // no ticket will ever exist: nothing to act on
    Step step;
    step.mutations.push_back({Cf::kOutbox, key, "", true});
    *finished = true;
    return Commit(std::move(step));
  }
  *ready = true;
  return Status::Ok();
}

Status SyncEngine::Complete(const std::string& key, const Action& a, const char* type, const std::string& payload,
                            uint64_t* counter, bool* finished) {
  Step step;
  if (Status s = Record(&step, type, a.incident, payload); !s.ok()) return s;
  step.mutations.push_back({Cf::kOutbox, key, "", true});
  if (Status s = Commit(std::move(step)); !s.ok()) return s;
  ++*counter;
  *finished = true;
  return Status::Ok();
}

Status SyncEngine::ExecuteTransition(const std::string& key, Action& a, bool* finished) {
  TicketRow row;
  bool ready = false;
  if (Status s = TicketFor(key, a, &row, &ready, finished); !s.ok() || !ready) return s;
  IncidentStatus to;
  ParseIncidentStatus(a.to, &to);
  auto moved = backends_.at(a.backend)->MoveTo(row.id, to);
  if (!moved.ok()) return Retry(key, a, moved.status(), finished);
  std::string payload;
  JsonText j(&payload);
  j.Str("backend", a.backend).Str("to", a.to);
  TicketFacts(j, *moved);
  j.End();
  return Complete(key, a, rt::kTicketTransitionApplied, payload, &stats_.transitions_applied, finished);
}

Status SyncEngine::ExecuteComment(const std::string& key, Action& a, bool* finished) {
  TicketRow row;
  bool ready = false;
  if (Status s = TicketFor(key, a, &row, &ready, finished); !s.ok() || !ready) return s;
  Status s = backends_.at(a.backend)->AddComment(row.id, Comment{a.text});
  if (!s.ok()) return Retry(key, a, s, finished);
  std::string payload;
  JsonText(&payload).Str("backend", a.backend).Str("key", row.key).Str("kind", a.comment_kind).End();
  return Complete(key, a, rt::kTicketCommentAdded, payload, &stats_.comments_added, finished);
}

Status SyncEngine::ExecutePriority(const std::string& key, Action& a, bool* finished) {
  TicketRow row;
  bool ready = false;
  if (Status s = TicketFor(key, a, &row, &ready, finished); !s.ok() || !ready) return s;
  Severity severity;
  if (!ParseSeverity(a.priority, &severity)) {
    return Retry(key, a, Status::InvalidArgument("outbox priority action with unknown priority \"" + a.priority + "\""),
                 finished);
  }
  auto changed = backends_.at(a.backend)->SetPriority(row.id, severity);
  if (!changed.ok()) return Retry(key, a, changed.status(), finished);
  // The ticket's version is not taken: a person's status change made
  // meanwhile must still be seen by the next poll.
  std::string payload;
  JsonText(&payload)
      .Str("backend", a.backend)
      .Str("key", row.key)
      .Str("priority", a.priority)
      .Str("backend_priority", changed->priority)
      .End();
  return Complete(key, a, rt::kTicketPriorityChanged, payload, &stats_.priorities_changed, finished);
}

Status SyncEngine::Execute(const std::string& key, Action& a, bool* finished) {
  if (!backends_.count(a.backend)) {
    return Retry(key, a, Status::InvalidArgument("backend " + a.backend + " is not configured"), finished);
  }
  if (a.kind == "create") return ExecuteCreate(key, a, finished);
  if (a.kind == "transition") return ExecuteTransition(key, a, finished);
  if (a.kind == "comment") return ExecuteComment(key, a, finished);
  if (a.kind == "priority") return ExecutePriority(key, a, finished);
  return Retry(key, a, Status::InvalidArgument("unknown outbox action " + a.kind), finished);
}

Status SyncEngine::DrainOutbox(int* done) {
  projector_.ForgetAll();
  std::vector<std::pair<std::string, std::string>> rows;
  Status s = log_->Scan(Cf::kOutbox, "", [&](std::string_view k, std::string_view v) {
    rows.emplace_back(std::string(k), std::string(v));
    return true;
  });
  if (!s.ok()) return s;
  int64_t now = clock_->NowMicros();
  std::set<std::string> blocked;  // incident/backend pairs with an unfinished earlier action
  int completed = 0;
  drain_cut_short_ = false;
  for (auto& [key, value] : rows) {
    if (stop_ && stop_->load()) break;  // the rest stays in the outbox
    if (drain_budget_us_ > 0 && clock_->NowMicros() - now >= drain_budget_us_) {
      drain_cut_short_ = true;  // so does the rest, for the next call
      break;
    }
    Action a;
    if (!Action::FromJson(value, &a)) {
      spdlog::error("sync: outbox row {} is unreadable; dropped", key);
      Step step;
      step.mutations.push_back({Cf::kOutbox, key, "", true});
      if (Status c = Commit(std::move(step)); !c.ok()) return c;
      continue;
    }
    std::string pair = a.incident + "/" + a.backend;
    if (blocked.count(pair)) continue;
    auto down = backend_down_until_.find(a.backend);
    if (a.next_us > now || (down != backend_down_until_.end() && down->second > now)) {
      blocked.insert(pair);
      continue;
    }
    bool finished = false;
    if (Status e = Execute(key, a, &finished); !e.ok()) return e;
    if (finished) {
      ++completed;
    } else {
      blocked.insert(pair);
    }
  }
  if (done) *done = completed;
  return Status::Ok();
}

Status SyncEngine::PendingActions(uint64_t* count) const {
  *count = 0;
  return log_->Scan(Cf::kOutbox, "", [&](std::string_view, std::string_view) {
    ++*count;
    return true;
  });
}

// --- status -----------------------------------------------------------------

Status SyncEngine::PushStatus(Step* step, const std::string& incident, IncidentStatus to,
                              const std::string& except_backend) {
  // The incident's tickets: on every configured backend, and on any backend
  // it has a ticket on (set-status may run without backends configured).
  std::set<std::string> candidates(backend_names_.begin(), backend_names_.end());
  std::string prefix = incident + '\0';
  Status scanned = log_->Scan(Cf::kTickets, prefix, [&](std::string_view k, std::string_view) {
    candidates.emplace(k.substr(prefix.size()));
    return true;
  });
  if (!scanned.ok()) return scanned;
  // Moves still owed to a ticket are superseded by this one: left in place,
  // an older target would land after the newer and win.
  std::vector<std::string> owed;
  Status listed = log_->Scan(Cf::kOutbox, incident + "/", [&](std::string_view k, std::string_view) {
    std::string_view suffix = "/transition";
    if (k.size() > suffix.size() && k.substr(k.size() - suffix.size()) == suffix) owed.emplace_back(k);
    return true;
  });
  if (!listed.ok()) return listed;
  for (const auto& backend : candidates) {
    if (backend == except_backend) continue;
    std::string head = incident + "/" + backend + "/";
    auto owed_here = [&](const std::string& k) {
      return k.rfind(head, 0) == 0 && k.size() > 11 && k.compare(k.size() - 11, 11, "/transition") == 0;
    };
    auto& m = step->mutations;
    m.erase(std::remove_if(m.begin(), m.end(),
                           [&](const Mutation& x) { return x.cf == Cf::kOutbox && !x.erase && owed_here(x.key); }),
            m.end());
    for (const auto& k : owed) {
      if (owed_here(k)) m.push_back({Cf::kOutbox, k, "", true});
    }
    TicketRow row;
    bool have = false;
    if (Status s = projector_.FindTicket(incident, backend, &row, &have); !s.ok()) return s;
    if (!have || row.state != "created" || row.status == to) continue;
    std::string payload;
    JsonText(&payload).Str("backend", backend).Str("key", row.key).Str("to", IncidentStatusName(to)).End();
    if (Status s = Record(step, rt::kTicketTransitionRequested, incident, payload); !s.ok()) return s;
    Action a;
    a.kind = "transition";
    a.incident = incident;
    a.backend = backend;
    a.to = IncidentStatusName(to);
    step->mutations.push_back({Cf::kOutbox, OutboxKey(incident, backend, "transition"), a.ToJson()});
  }
  return Status::Ok();
}

Status SyncEngine::SetStatus(const std::string& incident, IncidentStatus to, const std::string& source,
                             const std::string& note, bool* changed) {
  if (changed != nullptr) *changed = false;
  GateScope gate(this);
  Incident inc;
  bool found = false;
  if (Status s = projector_.FindIncident(incident, &inc, &found); !s.ok()) return s;
  if (!found) return Status::NotFound("no incident " + incident);
  if (inc.status == to) return Status::Ok();
  if (changed != nullptr) *changed = true;
  Step step;
  std::string payload;
  JsonText(&payload)
      .Str("source", source)
      .Str("from", IncidentStatusName(inc.status))
      .Str("to", IncidentStatusName(to))
      .Str("note", note)
      .End();
  if (Status s = Record(&step, rt::kTicketStatusChanged, incident, payload); !s.ok()) return s;
  if (Status s = PushStatus(&step, incident, to, ""); !s.ok()) return s;
  return Commit(std::move(step));
}

Status SyncEngine::Poll(const std::string& backend_name) {
  Backend* backend = backends_.at(backend_name);
  projector_.ForgetAll();
  const int64_t poll_start = clock_->NowMicros();
  ChangeCursor cursor;
  std::string v;
  if (log_->Get(Cf::kMeta, PollCursorKey(backend_name), &v).ok()) ChangeCursor::Decode(v, &cursor);
  // Read every page first: the decisions below hold the writer gate, which
  // must never wait on a backend.
  std::vector<Ticket> changed;
  std::string token;
  do {
    auto page = backend->ChangedSince(cursor.since_us(), token);
    if (!page.ok()) return page.status();  // nothing committed: the next poll sees it all again
    for (Ticket& t : page->tickets) {
      if (cursor.Accept(t)) changed.push_back(std::move(t));
    }
    token = page->next_page;
    // Stopping: nothing is committed yet, and the next start's poll reads
    // these pages again, so the rest need not be fetched now.
    if (stop_ && stop_->load() && !token.empty()) return Status::Ok();
  } while (!token.empty());

  GateScope gate(this);
  // Transitions noxsync still owes this backend: the other side of a conflict.
  std::map<std::string, std::vector<std::string>> pending;  // incident -> outbox keys
  Status s = log_->Scan(Cf::kOutbox, "", [&](std::string_view k, std::string_view val) {
    Action a;
    if (Action::FromJson(val, &a) && a.kind == "transition" && a.backend == backend_name) {
      pending[a.incident].emplace_back(k);
    }
    return true;
  });
  if (!s.ok()) return s;
  Step step;
  for (const Ticket& t : changed) {
    std::string incident;
    bool found = false;
    if (Status g = state_.Get(Cf::kByTicket, TicketKeyKey(backend_name, t.key), &incident, &found); !g.ok()) return g;
    if (!found) continue;  // not a ticket noxsync made
    TicketRow row;
    bool have = false;
    if (Status f = projector_.FindTicket(incident, backend_name, &row, &have); !f.ok()) return f;
    if (!have) continue;
    if (row.version == t.version || t.status == row.status) {
      ++stats_.echoes_ignored;  // noxsync's own change, or no status change
      continue;
    }
    Incident inc;
    bool inc_found = false;
    if (Status f = projector_.FindIncident(incident, &inc, &inc_found); !f.ok()) return f;
    if (!inc_found) continue;
    auto owed = pending.find(incident);
    bool conflict = owed != pending.end() && !owed->second.empty() && t.status != inc.status;
    bool ticket_wins = true;
    if (conflict) {
      ticket_wins = config_.conflict_policy == ConflictPolicy::kTicketWins || t.updated_us >= inc.updated_at_us;
      std::string payload;
      JsonText(&payload)
          .Str("backend", backend_name)
          .Str("key", t.key)
          .Str("noxys_status", IncidentStatusName(inc.status))
          .Str("ticket_status", IncidentStatusName(t.status))
          .Str("policy", config_.conflict_policy == ConflictPolicy::kTicketWins ? "ticket_wins" : "latest_wins")
          .Str("winner", ticket_wins ? "ticket" : "noxys")
          .End();
      if (Status r = Record(&step, rt::kSyncConflict, incident, payload); !r.ok()) return r;
      ++stats_.conflicts;
      if (!ticket_wins) continue;  // the owed transition will overwrite the ticket
      for (const auto& k : owed->second) step.mutations.push_back({Cf::kOutbox, k, "", true});
      owed->second.clear();
    }
    std::string payload;
    JsonText j(&payload);
    j.Str("source", backend_name)
        .Str("backend", backend_name)
        .Str("from", IncidentStatusName(inc.status))
        .Str("to", IncidentStatusName(t.status));
    TicketFacts(j, t);
    j.End();
    if (Status r = Record(&step, rt::kTicketStatusChanged, incident, payload); !r.ok()) return r;
    ++stats_.status_changes_from_tickets;
    if (inc.status != t.status) {
      if (Status p = PushStatus(&step, incident, t.status, backend_name); !p.ok()) return p;
    }
  }
  cursor.Commit();
  cursor.AdvanceTo(poll_start - config_.poll_safety_us);
  step.mutations.push_back({Cf::kMeta, PollCursorKey(backend_name), cursor.Encode()});
  return Commit(std::move(step));
}

namespace {

// The incident's priority: the highest the rules gave its tickets, else its risk's.
Severity IncidentPriority(const EventLog& log, const SyncConfig& config, const Incident& inc, bool* has_tickets) {
  Severity p = config.PriorityForRisk(inc.max_risk_ppm);
  *has_tickets = false;
  log.Scan(Cf::kTickets, inc.id + '\0', [&](std::string_view, std::string_view v) {
    TicketRow row;
    if (TicketRowFromJson(v, &row).ok() && row.state != "failed") {
      *has_tickets = true;
      Severity rp;
      if (ParseSeverity(row.priority, &rp)) p = std::max(p, rp);
    }
    return true;
  });
  return p;
}

}  // namespace

Status SlaStandings(const EventLog& log, const SyncConfig& config, std::vector<SlaStanding>* out) {
  std::vector<Incident> open;
  Status s = log.Scan(Cf::kIncidents, "", [&](std::string_view, std::string_view v) {
    Incident inc;
    if (IncidentFromJson(v, &inc).ok() &&
        (inc.status == IncidentStatus::kOpen || inc.status == IncidentStatus::kInProgress)) {
      open.push_back(std::move(inc));
    }
    return true;
  });
  if (!s.ok()) return s;
  for (const Incident& inc : open) {
    bool has_tickets = false;
    Severity p = IncidentPriority(log, config, inc, &has_tickets);
    if (!has_tickets) continue;
    auto level = config.priorities.find(p);
    if (level == config.priorities.end()) continue;
    auto add = [&](const char* deadline, int64_t sla) {
      SlaStanding st;
      st.incident = inc.id;
      st.priority = p;
      st.deadline = deadline;
      st.due_us = inc.opened_at_us + sla;
      std::string v;
      st.breached = log.Get(Cf::kMeta, SlaBreachKey(inc.id, deadline), &v).ok();
      out->push_back(st);
    };
    if (inc.status == IncidentStatus::kOpen && level->second.response_sla_us > 0) add("response", level->second.response_sla_us);
    if (level->second.resolution_sla_us > 0) add("resolution", level->second.resolution_sla_us);
  }
  std::sort(out->begin(), out->end(), [](const SlaStanding& a, const SlaStanding& b) { return a.due_us < b.due_us; });
  return Status::Ok();
}

Status SyncEngine::CheckSla() {
  // No writer gate: a breach writes only its record, the breach marker and
  // outbox rows, none of which the Ingestor reads; and it changes no
  // incident. The scan of every open incident would hold the webhook up.
  projector_.ForgetAll();
  std::vector<SlaStanding> standings;
  if (Status s = SlaStandings(*log_, config_, &standings); !s.ok()) return s;
  int64_t now = clock_->NowMicros();
  for (const SlaStanding& st : standings) {
    if (st.breached || st.due_us > now) continue;
    Step step;
    std::string payload;
    JsonText(&payload)
        .Str("deadline", st.deadline)
        .Str("priority", SeverityName(st.priority))
        .Int("due_us", st.due_us)
        .End();
    if (Status s = Record(&step, rt::kSlaBreached, st.incident, payload); !s.ok()) return s;
    std::string text = "SLA breached: the " + std::string(SeverityName(st.priority)) + " " + st.deadline +
                       " deadline passed at " + FormatTimestamp(st.due_us) + ".";
    // Escalation: an outbox action per ticket, and one sla.escalated record
    // per kind of action, all in the breach's step. `escalations` says what
    // was done, for the escalated notification.
    std::vector<std::string> escalations;
    auto escalate = [&](const char* kind, const char* action, auto&& fill) -> Status {
      bool any = false;
      for (const auto& backend : backend_names_) {
        TicketRow row;
        bool have = false;
        if (Status s = projector_.FindTicket(st.incident, backend, &row, &have); !s.ok()) return s;
        if (!have || row.state != "created") continue;
        Action a;
        a.kind = kind;
        a.incident = st.incident;
        a.backend = backend;
        fill(a);
        step.mutations.push_back({Cf::kOutbox, OutboxKey(st.incident, backend, kind), a.ToJson()});
        any = true;
      }
      if (!any) return Status::Ok();
      std::string esc;
      JsonText j(&esc);
      j.Str("deadline", st.deadline).Str("action", action);
      if (std::string_view(kind) == "comment") j.Str("text", text);
      if (std::string_view(kind) == "priority") {
        j.Str("from", SeverityName(st.priority)).Str("to", SeverityName(NextSeverity(st.priority)));
        escalations.push_back("priority raised from " + std::string(SeverityName(st.priority)) + " to " +
                              SeverityName(NextSeverity(st.priority)));
      } else {
        escalations.push_back("a comment added to the ticket");
      }
      j.End();
      return Record(&step, rt::kSlaEscalated, st.incident, esc);
    };
    if (config_.escalate_with_comment) {
      Status s = escalate("comment", "comment", [&](Action& a) {
        a.text = text;
        a.comment_kind = "sla";
      });
      if (!s.ok()) return s;
    }
    if (config_.escalate_raise_priority && st.priority != Severity::kCritical) {
      Status s = escalate("priority", "raise_priority",
                          [&](Action& a) { a.priority = SeverityName(NextSeverity(st.priority)); });
      if (!s.ok()) return s;
    }
    if (Status s = Commit(std::move(step)); !s.ok()) return s;
    ++stats_.sla_breaches;
    spdlog::warn("sync: incident {} breached its {} {} SLA (due {})", st.incident, SeverityName(st.priority),
                 st.deadline, FormatTimestamp(st.due_us));
    if (notify_) {
      Incident inc;
      bool found = false;
      projector_.FindIncident(st.incident, &inc, &found);
      Notification n;
      n.kind = Notification::Kind::kSlaBreached;
      n.incident_id = st.incident;
      n.title = std::string(SeverityName(st.priority)) + " incident on " + inc.platform_name;
      n.platform = inc.platform_name;
      n.risk_ppm = inc.max_risk_ppm;
      n.severity = SeverityName(st.priority);
      n.user = inc.user_email;
      n.classifications = inc.classification_types;
      n.detail = text;
      for (const auto& backend : backend_names_) {
        TicketRow row;
        bool have = false;
        if (projector_.FindTicket(st.incident, backend, &row, &have).ok() && have && row.state == "created") {
          n.ticket_key = row.key;
          n.ticket_url = row.url;
          break;
        }
      }
      notify_->Post(n);
      if (!escalations.empty()) {
        n.kind = Notification::Kind::kEscalated;
        n.detail = text + " Escalated: ";
        for (size_t i = 0; i < escalations.size(); ++i) n.detail += (i ? "; " : "") + escalations[i];
        n.detail += ".";
        notify_->Post(n);
      }
    }
  }
  return Status::Ok();
}

Status SyncEngine::AutoResolve() {
  if (config_.auto_resolve_after_us <= 0) return Status::Ok();
  projector_.ForgetAll();
  int64_t now = clock_->NowMicros();
  // Quiet since the last event, or since noxsync opened it (old events
  // replayed today are not "quiet for a day").
  auto quiet = [&](const Incident& inc) {
    bool active = inc.status == IncidentStatus::kOpen || inc.status == IncidentStatus::kInProgress;
    int64_t last = std::max(inc.last_seen_us, inc.opened_at_us);
    return active && inc.action == PolicyAction::kCoach && now - last >= config_.auto_resolve_after_us;
  };
  // The scan reads every incident: done without the writer gate, so the
  // webhook is not held up; each candidate is read again under it.
  std::vector<std::string> candidates;
  Status s = log_->Scan(Cf::kIncidents, "", [&](std::string_view, std::string_view v) {
    Incident inc;
    if (IncidentFromJson(v, &inc).ok() && quiet(inc)) candidates.push_back(inc.id);
    return true;
  });
  if (!s.ok() || candidates.empty()) return s;
  GateScope gate(this);
  for (const std::string& id : candidates) {
    Incident inc;
    bool found = false;
    if (Status f = projector_.FindIncident(id, &inc, &found); !f.ok()) return f;
    if (!found || !quiet(inc)) continue;  // an event came meanwhile
    Step step;
    std::string payload;
    JsonText(&payload)
        .Str("from", IncidentStatusName(inc.status))
        .Str("reason", "COACH incident with no event for " + std::to_string(config_.auto_resolve_after_us / 3600'000'000LL) + " h")
        .Int("last_event_us", inc.last_seen_us)
        .End();
    if (Status r = Record(&step, rt::kIncidentAutoResolved, inc.id, payload); !r.ok()) return r;
    if (Status p = PushStatus(&step, inc.id, IncidentStatus::kResolved, ""); !p.ok()) return p;
    if (Status c = Commit(std::move(step)); !c.ok()) return c;
    ++stats_.auto_resolved;
  }
  return Status::Ok();
}

Status SyncEngine::Replay(int64_t since_us, int64_t until_us, bool dry_run, std::vector<Planned>* planned) {
  projector_.ForgetAll();  // no writer gate, as for planning: no incident row changes
  Step step;
  std::map<std::string, std::string> event_text;
  Status inner;
  Status s = log_->ScanLog(1, [&](const LogRecord& r) {
    if (r.type == rt::kEventReceived) {
      event_text[r.incident] = r.payload;
    } else if (r.type == rt::kIncidentOpened) {
      json::error_code ec;
      json::value v = json::parse(r.payload, ec);
      const json::value* t = !ec && v.is_object() ? v.get_object().if_contains("event_time_us") : nullptr;
      int64_t when = t && t->is_int64() ? t->get_int64() : 0;
      if (when >= since_us && when <= until_us) {
        inner = PlanIncident(r, event_text[r.incident], &step, planned, dry_run);
        if (inner.ok() && step.records.size() >= 512) {
          inner = Commit(std::move(step));
          step = Step{};
        }
      }
      event_text.erase(r.incident);
    }
    return inner.ok();
  });
  if (!s.ok()) return s;
  if (!inner.ok()) return inner;
  return dry_run ? Status::Ok() : Commit(std::move(step));
}

Status SyncEngine::RunOnce() {
  if (Status s = PlanNewRecords(); !s.ok()) return s;
  if (Status s = DrainOutbox(); !s.ok()) return s;
  for (const auto& name : backend_names_) {
    Status s = Poll(name);
    if (s.code() == Status::Code::kIOError || s.code() == Status::Code::kCorruption) return s;
    if (!s.ok()) spdlog::warn("sync: polling {} failed; the next poll reads the same changes again: {}", name, s.message());
  }
  if (Status s = CheckSla(); !s.ok()) return s;
  if (Status s = AutoResolve(); !s.ok()) return s;
  return DrainOutbox();
}

}  // namespace noxsync
