#include "sync/ingestor.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "store/utf8.h"
#include "sync/noxys_event.h"
#include "sync/refusals.h"
#include "sync/timestamp.h"

namespace noxsync {
namespace json = boost::json;

Ingestor::Ingestor(EventLog* log, const Clock* clock, IngestOptions options)
    : log_(log), clock_(clock), options_(options), staged_(log), projector_(&staged_) {
  staged_.set_expected_rows(options_.max_staged_rows);
}

Status Ingestor::Submit(const std::vector<IngestLine>& lines, std::string_view source,
                        std::vector<IngestResult>* results, uint64_t* ticket) {
  results->assign(lines.size(), IngestResult{});
  std::vector<NoxysEvent> events(lines.size());
  std::vector<bool> valid(lines.size());
  const int64_t latest_time = clock_->NowMicros() + options_.max_future_us;
  for (size_t i = 0; i < lines.size(); ++i) {
    (*results)[i].line = lines[i].line;
    if (!lines[i].error.empty()) {
      (*results)[i].error = lines[i].error;
      continue;
    }
    valid[i] = ParseNoxysEvent(lines[i].text, &events[i], &(*results)[i].error);
    // The log keeps the event's text as sent: text that JSON readers read
    // two ways would show an auditor other facts than noxsync acted on.
    if (std::string key; valid[i] && FindDuplicateKey(lines[i].text, &key)) {
      valid[i] = false;
      (*results)[i].error = "key \"" + key + "\" is given twice in one object, which JSON readers take in "
                            "different ways (the first or the last): send each key once";
      if (key == "event_id") events[i].event_id.clear();  // which of the two is not for noxsync to pick
    }
    if (valid[i] && events[i].time_us > latest_time) {
      valid[i] = false;
      (*results)[i].error = "field timestamp: " + std::string(Utf8Prefix(events[i].timestamp, 64)) + " is more than " +
                            std::to_string(options_.max_future_us / 3'600'000'000) +
                            " hours after this host's clock (" +
                            FormatTimestamp(latest_time - options_.max_future_us) +
                            "); the clock of whatever reported it, or this host's, is wrong: correct it, "
                            "then send the event again";
    }
    if (!valid[i]) (*results)[i].event_id = events[i].event_id;
  }

  // The records and index rows a batch makes come to a few times its text.
  uint64_t bytes = 0;
  for (const auto& line : lines) bytes += line.text.size() + 256;

  std::lock_guard<std::mutex> lk(mu_);
  if (!broken_.ok()) return broken_;
  // Turned away while nothing is decided or staged: the batch can come
  // again once space is freed. Asked under the lock, so the Steps of the
  // batches before it are submitted and counted.
  if (Status s = log_->CheckRoom(4 * bytes); !s.ok()) return s;
  std::unique_lock<WriterGate> gate;
  if (gate_) {
    gate = std::unique_lock<WriterGate>(*gate_);
    if (gate_->generation() != seen_generation_) {
      // The engine wrote rows this ingestor may hold stale copies of. Its
      // own queued rows reach the disk first, then every cache goes.
      if (Status s = log_->WaitFor(last_ticket_); !s.ok()) return s;
      projector_.ForgetAll();
      seen_generation_ = gate_->generation();
    }
  }
  Step step;
  step.records.reserve(lines.size() * 2);
  for (size_t i = 0; i < lines.size(); ++i) {
    IngestResult& res = (*results)[i];
    if (valid[i]) {
      if (Status s = Decide(events[i], lines[i].text, &step, &res); !s.ok()) {
        broken_ = Status(s.code(), s.message() + " (nothing of this batch was stored; restart to retry)");
        return broken_;
      }
      if (res.kind != IngestResult::Kind::kRejected) continue;  // else: an id resent with other content
    }
    res.kind = IngestResult::Kind::kRejected;
    json::object o;
    o["source"] = ValidUtf8(source);  // a file's name need not be UTF-8
    o["line"] = lines[i].line;
    o["reason"] = res.error;
    // So `noxsync history ID` finds the refusal of an event that has no
    // incident to show it in; an id too long to be one is left to the text.
    if (!res.event_id.empty() && res.event_id.size() <= kMaxEventIdLength) o["event_id"] = res.event_id;
    const std::string& text = lines[i].text;
    if (InvalidUtf8At(text) == std::string_view::npos) {
      o["text"] = Utf8Prefix(text, options_.max_rejected_text);
    } else {
      // A record is JSON, so UTF-8: the text as readable as it goes, and the
      // bytes as they came, so the audit trail still holds what was sent.
      std::string_view kept = std::string_view(text).substr(0, options_.max_rejected_text);
      o["text"] = ValidUtf8(kept);
      o["text_base64"] = Base64(kept);
    }
    if (text.size() > options_.max_rejected_text) o["text_bytes"] = text.size();
    std::string payload = json::serialize(o);
    // Indexed by the id (kByEvent), so `history ID` and GET /v1/events/ID
    // find the refusal without reading the log. Read back from the payload,
    // as a rebuild reads it: the two write the same row.
    std::string refused = RefusedEventId(payload);
    // An id resent with other content names the incident of the first one,
    // so the refusal shows in that incident's history; results carry an
    // incident only for accepted and duplicate lines.
    step.records.push_back({clock_->NowMicros(), record_type::kEventRejected, std::move(res.incident),
                            std::move(payload), std::move(refused)});
    res.incident.clear();
  }
  if (step.records.empty()) {
    // Only duplicates: they are durable once whatever made them known is.
    *ticket = last_ticket_;
    return Status::Ok();
  }
  step.mutations = staged_.TakeDirty();
  last_ticket_ = *ticket = log_->Submit(std::move(step));

  // Staged rows are in submitted Steps; once those are on disk the store
  // answers the same reads, so the memory can go. They are sealed and kept
  // readable until then, so no caller waits for the disk under the lock
  // (that wait held every webhook behind it, once a second at 7,000/s);
  // only a second seal before the first is durable waits.
  if (staged_.has_sealed() && log_->Settled(staged_.sealed_ticket())) {
    if (Status s = log_->WaitFor(staged_.sealed_ticket()); !s.ok()) return s;  // settled: at once
    staged_.DropSealed();
  }
  if (staged_.size() > options_.max_staged_rows) {
    if (staged_.has_sealed()) {
      if (Status s = log_->WaitFor(staged_.sealed_ticket()); !s.ok()) return s;
      staged_.DropSealed();
    }
    staged_.Seal(last_ticket_);
  }
  return Status::Ok();
}

Status Ingestor::Ingest(const std::vector<IngestLine>& lines, std::string_view source,
                        std::vector<IngestResult>* results) {
  uint64_t ticket = 0;
  if (Status s = Submit(lines, source, results, &ticket); !s.ok()) return s;
  return ticket == 0 ? Status::Ok() : log_->WaitFor(ticket);
}

Status Ingestor::Decide(const NoxysEvent& ev, std::string_view text, Step* step, IngestResult* res) {
  res->event_id = ev.event_id;
  bool found = false;
  std::string seen_digest;
  if (Status s = projector_.IncidentForEvent(ev.event_id, &res->incident, &found, &seen_digest); !s.ok()) return s;
  const std::string digest = EventDigest(ev);
  if (found) {
    if (!seen_digest.empty() && seen_digest != digest) {
      // Not a resend: the same id with other facts. Answering "duplicate"
      // would drop them unseen; they are refused and kept in the log.
      res->kind = IngestResult::Kind::kRejected;
      res->error = "event_id " + ev.event_id + " was received before with other content (incident " + res->incident +
                   "); the first one stands and this one is kept as event.rejected: send new facts under a new event_id";
      return Status::Ok();  // res->incident names the incident for the record; Submit clears it
    }
    res->kind = IngestResult::Kind::kDuplicate;
    return Status::Ok();
  }

  const int64_t now = clock_->NowMicros();
  const int64_t risk = RiskPpm(ev.risk_score);
  std::string fp = Fingerprint(ev, options_.fingerprint);
  std::string incident_id;
  Incident inc;
  bool recur = false;
  FingerprintLatest latest;
  if (Status s = projector_.LatestForFingerprint(fp, &latest, &found); !s.ok()) return s;
  const int64_t w = options_.recurrence_window_us;
  if (found && latest.active && ev.time_us >= latest.first_seen_us - w && ev.time_us <= latest.last_seen_us + w) {
    incident_id = latest.incident;
    bool have = false;
    if (Status s = projector_.FindIncident(incident_id, &inc, &have); !s.ok()) return s;
    if (!have) return Status::Corruption("by_fingerprint names " + incident_id + ", which has no projection; run `noxsync replay --rebuild`");
    recur = true;
  }

  res->kind = IngestResult::Kind::kAccepted;
  if (recur) {
    RecurredFacts f{ev.event_id, risk, ev.time_us, inc.occurrences + 1};
    step->records.push_back({now, record_type::kEventReceived, incident_id, std::string(text)});
    step->records.push_back({now, record_type::kIncidentRecurred, incident_id, RecurredPayload(f)});
    if (Status s = projector_.OnEventReceived(incident_id, ev.event_id, digest); !s.ok()) return s;
    if (Status s = projector_.OnIncidentRecurred(now, std::move(inc), f); !s.ok()) return s;
    res->incident = std::move(incident_id);
    res->opened = false;
    return Status::Ok();
  }

  uint64_t count = 0;
  if (Status s = projector_.IncidentCount(&count); !s.ok()) return s;
  incident_id = IncidentId(count + 1);
  OpenedFacts f;
  f.event_id = ev.event_id;
  f.fingerprint = std::move(fp);
  f.user_email = ev.user_email;
  f.platform_id = ev.platform_id;
  f.platform_name = ev.platform_name;
  f.action = ev.action;
  f.classification_types = ClassificationTypes(ev);
  f.risk_ppm = risk;
  f.event_time_us = ev.time_us;
  step->records.push_back({now, record_type::kEventReceived, incident_id, std::string(text)});
  step->records.push_back({now, record_type::kIncidentOpened, incident_id, OpenedPayload(f)});
  if (Status s = projector_.OnEventReceived(incident_id, ev.event_id, digest); !s.ok()) return s;
  if (Status s = projector_.OnIncidentOpened(now, incident_id, f); !s.ok()) return s;
  res->incident = std::move(incident_id);
  res->opened = true;
  return Status::Ok();
}

}  // namespace noxsync
