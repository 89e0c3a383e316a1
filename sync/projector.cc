#include "sync/projector.h"

#include <cassert>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>

#include "sync/json_fields.h"
#include "sync/json_text.h"
#include "sync/refusals.h"

namespace noxsync {
namespace json = boost::json;

const std::string& StagedState::Slot(Cf cf, std::string_view key) {
  probe_.clear();
  probe_.push_back(static_cast<char>(cf));
  probe_.append(key);
  return probe_;
}

Status StagedState::Get(Cf cf, std::string_view key, std::string* value, bool* found) {
  const std::string& slot = Slot(cf, key);
  const Row* row = nullptr;
  if (auto it = rows_.find(slot); it != rows_.end()) {
    row = &it->second;
  } else if (has_sealed_) {
    if (auto st = sealed_.find(slot); st != sealed_.end()) row = &st->second;
  }
  if (row != nullptr) {
    *found = !row->erased;
    if (*found) *value = row->value;
    return Status::Ok();
  }
  Status s = log_->Get(cf, key, value);
  *found = s.ok();
  return s.IsNotFound() ? Status::Ok() : s;
}

StagedState::Row& StagedState::Stage(Cf cf, std::string_view key, std::string value) {
  cleared_.Step();
  if (rows_.empty()) rows_.reserve(reserve_);
  auto [it, inserted] = rows_.try_emplace(Slot(cf, key));
  Row& row = it->second;
  row.value = std::move(value);
  row.erased = false;
  if (!row.dirty) {
    row.dirty = true;
    dirty_.push_back(&*it);  // a node's address survives rehashing
  }
  return row;
}

void StagedState::Put(Cf cf, std::string_view key, std::string value) { Stage(cf, key, std::move(value)); }

void StagedState::Erase(Cf cf, std::string_view key) { Stage(cf, key, "").erased = true; }

std::vector<Mutation> StagedState::TakeDirty() {
  std::vector<Mutation> out;
  out.reserve(dirty_.size());
  for (Rows::value_type* node : dirty_) {
    const std::string& slot = node->first;
    Row& row = node->second;
    row.dirty = false;
    out.push_back({static_cast<Cf>(slot[0]), slot.substr(1), row.value, row.erased});
  }
  dirty_.clear();
  return out;
}

void StagedState::Clear() {
  cleared_.Take(&rows_);
  DropSealed();
  dirty_.clear();
}

void StagedState::Seal(uint64_t ticket) {
  assert(!has_sealed_ && dirty_.empty());
  sealed_ = std::move(rows_);
  rows_ = {};
  has_sealed_ = true;
  sealed_ticket_ = ticket;
}

void StagedState::DropSealed() {
  if (!has_sealed_) return;
  cleared_.Take(&sealed_);
  has_sealed_ = false;
  sealed_ticket_ = 0;
}

std::string EncodeFingerprintLatest(const FingerprintLatest& f) {
  return f.incident + ' ' + std::to_string(f.first_seen_us) + ' ' + std::to_string(f.last_seen_us) + ' ' +
         (f.active ? '1' : '0');
}

bool DecodeFingerprintLatest(std::string_view text, FingerprintLatest* f) {
  size_t a = text.find(' ');
  size_t b = a == std::string_view::npos ? a : text.find(' ', a + 1);
  size_t c = b == std::string_view::npos ? b : text.find(' ', b + 1);
  if (c == std::string_view::npos || c + 2 != text.size()) return false;
  f->incident.assign(text.substr(0, a));
  auto num = [&](size_t from, size_t to, int64_t* out) {
    return std::from_chars(text.data() + from, text.data() + to, *out).ptr == text.data() + to;
  };
  if (!num(a + 1, b, &f->first_seen_us) || !num(b + 1, c, &f->last_seen_us)) return false;
  f->active = text[c + 1] == '1';
  return true;
}

std::string OpenedPayload(const OpenedFacts& f) {
  std::string out;
  out.reserve(320);
  JsonText(&out)
      .Str("event_id", f.event_id)
      .Str("fingerprint", f.fingerprint)
      .Str("user_email", f.user_email)
      .Str("platform_id", f.platform_id)
      .Str("platform_name", f.platform_name)
      .Str("action", PolicyActionName(f.action))
      .StrArray("classification_types", f.classification_types)
      .Int("risk_ppm", f.risk_ppm)
      .Int("event_time_us", f.event_time_us)
      .End();
  return out;
}

std::string RecurredPayload(const RecurredFacts& f) {
  std::string out;
  out.reserve(128);
  JsonText(&out)
      .Str("event_id", f.event_id)
      .Int("risk_ppm", f.risk_ppm)
      .Int("event_time_us", f.event_time_us)
      .Uint("occurrences", f.occurrences)
      .End();
  return out;
}

void Projector::ResetForRebuild() {
  state_->Erase(Cf::kMeta, kMetaIncidentCount);
  incidents_.Clear();
  fingerprints_.Clear();
}

// by_event: "<incident id> <digest>", or the bare incident id in rows written
// before digests were kept (incident ids hold no space).
Status Projector::OnEventReceived(std::string_view incident, std::string_view event_id, std::string_view digest) {
  std::string value;
  value.reserve(incident.size() + 1 + digest.size());
  value.append(incident);
  if (!digest.empty()) value.append(1, ' ').append(digest);
  state_->Put(Cf::kByEvent, event_id, std::move(value));
  return Status::Ok();
}

Status Projector::OnIncidentOpened(int64_t time_us, std::string_view id, const OpenedFacts& f) {
  Incident inc;
  inc.id = std::string(id);
  inc.status = IncidentStatus::kOpen;
  inc.severity = SeverityForRisk(f.risk_ppm);
  inc.fingerprint = f.fingerprint;
  inc.user_email = f.user_email;
  inc.platform_id = f.platform_id;
  inc.platform_name = f.platform_name;
  inc.action = f.action;
  inc.classification_types = f.classification_types;
  inc.max_risk_ppm = f.risk_ppm;
  inc.first_seen_us = inc.last_seen_us = f.event_time_us;
  inc.occurrences = 1;
  inc.first_event_id = inc.last_event_id = f.event_id;
  inc.opened_at_us = inc.updated_at_us = time_us;
  PutFingerprint(inc);
  PutIncident(std::move(inc));
  uint64_t count = 0;
  if (Status s = IncidentCount(&count); !s.ok()) return s;
  state_->Put(Cf::kMeta, kMetaIncidentCount, std::to_string(count + 1));
  return Status::Ok();
}

Status Projector::OnIncidentRecurred(int64_t time_us, std::string_view id, const RecurredFacts& f) {
  Incident inc;
  bool found = false;
  if (Status s = FindIncident(id, &inc, &found); !s.ok()) return s;
  if (!found) return Status::Corruption("incident.recurred for unknown incident " + std::string(id));
  return OnIncidentRecurred(time_us, std::move(inc), f);
}

Status Projector::OnIncidentRecurred(int64_t time_us, Incident inc, const RecurredFacts& f) {
  inc.occurrences = f.occurrences;
  inc.last_event_id = f.event_id;
  inc.first_seen_us = std::min(inc.first_seen_us, f.event_time_us);
  inc.last_seen_us = std::max(inc.last_seen_us, f.event_time_us);
  if (f.risk_ppm > inc.max_risk_ppm) {
    inc.max_risk_ppm = f.risk_ppm;
    inc.severity = std::max(inc.severity, SeverityForRisk(f.risk_ppm));
  }
  inc.updated_at_us = time_us;
  PutFingerprint(inc);
  PutIncident(std::move(inc));
  return Status::Ok();
}

Status Projector::Apply(const LogRecord& r) {
  if (r.type == record_type::kEventRejected) {
    // The row the writer put beside it (NewRecord::refused_event_id), from
    // the same function the Ingestor took the id from.
    if (std::string id = RefusedEventId(r.payload); !id.empty()) state_->Put(Cf::kByEvent, RefusalKey(id, r.seq), "");
    return Status::Ok();
  }
  if (r.type == record_type::kEventReceived) {
    // The raw event as it was accepted: parsed again for its digest. One that
    // no longer parses (a rule of a later version) keeps its id, no digest.
    NoxysEvent ev;
    std::string error;
    if (ParseNoxysEvent(r.payload, &ev, &error)) return OnEventReceived(r.incident, ev.event_id, EventDigest(ev));
  }
  json::error_code ec;
  json::value v = json::parse(json::string_view(r.payload.data(), r.payload.size()), ec);
  if (ec || !v.is_object()) {
    return Status::Corruption("seq " + std::to_string(r.seq) + " (" + r.type + "): payload is not a JSON object");
  }
  const json::object& o = v.get_object();
  try {
    auto str = [&](const char* k) { return std::string(o.at(k).as_string()); };
    if (r.type == record_type::kEventReceived) {
      return OnEventReceived(r.incident, str("event_id"), "");
    }
    if (r.type == record_type::kIncidentOpened) {
      OpenedFacts f;
      f.event_id = str("event_id");
      f.fingerprint = str("fingerprint");
      f.user_email = str("user_email");
      f.platform_id = str("platform_id");
      f.platform_name = str("platform_name");
      if (!ParsePolicyAction(str("action"), &f.action)) {
        return Status::Corruption("seq " + std::to_string(r.seq) + " (" + r.type + "): unknown policy action");
      }
      for (const auto& t : o.at("classification_types").as_array()) {
        f.classification_types.emplace_back(t.as_string());
      }
      f.risk_ppm = o.at("risk_ppm").as_int64();
      f.event_time_us = o.at("event_time_us").as_int64();
      return OnIncidentOpened(r.time_us, r.incident, f);
    }
    if (r.type == record_type::kIncidentRecurred) {
      RecurredFacts f;
      f.event_id = str("event_id");
      f.risk_ppm = o.at("risk_ppm").as_int64();
      f.event_time_us = o.at("event_time_us").as_int64();
      f.occurrences = o.at("occurrences").to_number<uint64_t>();
      return OnIncidentRecurred(r.time_us, r.incident, f);
    }
  } catch (const std::exception& e) {
    return Status::Corruption("seq " + std::to_string(r.seq) + " (" + r.type + "): " + e.what());
  }
  return OnSyncRecord(r.time_us, r.type, r.incident, r.payload);
}

std::string TicketRowKey(std::string_view incident, std::string_view backend) {
  std::string k(incident);
  k.push_back('\0');
  k.append(backend);
  return k;
}

std::string TicketKeyKey(std::string_view backend, std::string_view ticket_key) {
  std::string k(backend);
  k.push_back('\0');
  k.append(ticket_key);
  return k;
}

std::string TicketRowToJson(const TicketRow& r) {
  std::string out;
  JsonText(&out)
      .Str("state", r.state)
      .Str("key", r.key)
      .Str("id", r.id)
      .Str("url", r.url)
      .Str("raw_status", r.raw_status)
      .Str("status", IncidentStatusName(r.status))
      .Int("updated_us", r.updated_us)
      .Str("version", r.version)
      .Str("priority", r.priority)
      .Str("rule", r.rule)
      .Str("error", r.error)
      .Int("last_recurrence_comment_us", r.last_recurrence_comment_us)
      .End();
  return out;
}

Status TicketRowFromJson(std::string_view text, TicketRow* r) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) return Status::Corruption("ticket row is not a JSON object");
  try {
    const json::object& o = v.get_object();
    auto str = [&](const char* k) { return std::string(o.at(k).as_string()); };
    r->state = str("state");
    r->key = str("key");
    r->id = str("id");
    r->url = str("url");
    r->raw_status = str("raw_status");
    if (!ParseIncidentStatus(str("status"), &r->status)) return Status::Corruption("ticket row: bad status");
    r->updated_us = o.at("updated_us").as_int64();
    r->version = str("version");
    r->priority = str("priority");
    r->rule = str("rule");
    r->error = str("error");
    r->last_recurrence_comment_us = o.at("last_recurrence_comment_us").as_int64();
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("ticket row: ") + e.what());
  }
  return Status::Ok();
}

Status Projector::FindTicket(std::string_view incident, std::string_view backend, TicketRow* row, bool* found) {
  std::string v;
  if (Status s = state_->Get(Cf::kTickets, TicketRowKey(incident, backend), &v, found); !s.ok()) return s;
  if (!*found) return Status::Ok();
  return TicketRowFromJson(v, row);
}

std::string SlaBreachKey(std::string_view incident, std::string_view deadline) {
  return "sla_breached/" + std::string(incident) + "/" + std::string(deadline);
}

Status Projector::OnSyncRecord(int64_t time_us, std::string_view type, std::string_view incident,
                               std::string_view payload) {
  namespace rt = record_type;
  if (type == rt::kIncidentAutoResolved) {
    Incident inc;
    bool found = false;
    if (Status s = FindIncident(incident, &inc, &found); !s.ok()) return s;
    if (!found) return Status::Corruption("incident.auto_resolved for unknown incident " + std::string(incident));
    inc.status = IncidentStatus::kResolved;
    inc.updated_at_us = time_us;
    PutFingerprint(inc);
    PutIncident(std::move(inc));
    return Status::Ok();
  }
  if (type == rt::kSlaBreached) {
    json::error_code ec;
    json::value v = json::parse(json::string_view(payload.data(), payload.size()), ec);
    const json::value* d = !ec && v.is_object() ? v.get_object().if_contains("deadline") : nullptr;
    if (!d || !d->is_string()) return Status::Corruption("sla.breached of " + std::string(incident) + ": no deadline");
    state_->Put(Cf::kMeta, SlaBreachKey(incident, std::string(d->get_string())), std::to_string(time_us));
    return Status::Ok();
  }
  bool ticket_type = type == rt::kTicketCreateRequested || type == rt::kTicketCreated ||
                     type == rt::kTicketCreateFailed || type == rt::kTicketStatusChanged ||
                     type == rt::kTicketTransitionApplied || type == rt::kTicketCommentRequested;
  // Other types (written by a newer noxsync, or with nothing to fold) leave
  // the projections as they are rather than failing the rebuild.
  if (!ticket_type) return Status::Ok();
  json::error_code ec;
  json::value v = json::parse(json::string_view(payload.data(), payload.size()), ec);
  if (ec || !v.is_object()) return Status::Corruption(std::string(type) + " of " + std::string(incident) + ": payload is not JSON");
  const json::object& o = v.get_object();
  auto str = [&](const char* k) { return StrField(o, k); };
  auto num = [&](const char* k) { return IntField(o, k); };
  std::string backend = str("backend");
  TicketRow row;
  bool have_row = false;
  if (!backend.empty()) {
    if (Status s = FindTicket(incident, backend, &row, &have_row); !s.ok()) return s;
  }
  auto put_row = [&] { state_->Put(Cf::kTickets, TicketRowKey(incident, backend), TicketRowToJson(row)); };
  auto take_ticket_facts = [&] {
    row.raw_status = str("raw_status");
    ParseIncidentStatus(str("ticket_status"), &row.status);
    row.updated_us = num("updated_us");
    row.version = str("version");
  };
  if (type == rt::kTicketCreateRequested) {
    row = TicketRow{};
    row.state = "requested";
    row.priority = str("priority");
    row.rule = str("rule");
    put_row();
  } else if (type == rt::kTicketCreated) {
    row.state = "created";
    row.key = str("key");
    row.id = str("id");
    row.url = str("url");
    row.error.clear();
    take_ticket_facts();
    put_row();
    state_->Put(Cf::kByTicket, TicketKeyKey(backend, row.key), std::string(incident));
  } else if (type == rt::kTicketCreateFailed) {
    row.state = "failed";
    row.error = str("reason");
    put_row();
  } else if (type == rt::kTicketTransitionApplied) {
    take_ticket_facts();
    put_row();
  } else if (type == rt::kTicketCommentRequested) {
    if (str("kind") == "recurrence") {
      row.last_recurrence_comment_us = time_us;
      put_row();
    }
  } else if (type == rt::kTicketStatusChanged) {
    if (have_row) {
      take_ticket_facts();
      put_row();
    }
    IncidentStatus to;
    if (!ParseIncidentStatus(str("to"), &to)) {
      return Status::Corruption("ticket.status_changed of " + std::string(incident) + ": bad status");
    }
    Incident inc;
    bool found = false;
    if (Status s = FindIncident(incident, &inc, &found); !s.ok()) return s;
    if (!found) return Status::Corruption("ticket.status_changed for unknown incident " + std::string(incident));
    inc.status = to;
    inc.updated_at_us = time_us;
    PutFingerprint(inc);
    PutIncident(std::move(inc));
  }
  return Status::Ok();
}

void Projector::PutIncident(Incident inc) {
  state_->Put(Cf::kIncidents, inc.id, IncidentToJson(inc));
  std::string id = inc.id;  // not inc.id in the call: the order arguments are built in is unspecified
  incidents_.Put(std::move(id), std::move(inc));
}

void Projector::PutFingerprint(const Incident& inc) {
  FingerprintLatest f{inc.id, inc.first_seen_us, inc.last_seen_us,
                      inc.status == IncidentStatus::kOpen || inc.status == IncidentStatus::kInProgress};
  state_->Put(Cf::kByFingerprint, inc.fingerprint, EncodeFingerprintLatest(f));
  fingerprints_.Put(inc.fingerprint, std::move(f));
}

void Projector::ForgetDurable() { state_->Clear(); }

void Projector::ForgetAll() {
  state_->Clear();
  incidents_.Clear();
  fingerprints_.Clear();
}

// Cached copy if any, else the staged or stored row, decoded and cached.
template <class V, class Decode>
Status Projector::ReadThrough(RecentMap<V>* cache, Cf cf, std::string_view key, V* out, bool* found,
                              Decode decode) {
  if (const V* cached = cache->Find(key)) {
    *out = *cached;
    *found = true;
    return Status::Ok();
  }
  std::string v;
  if (Status s = state_->Get(cf, key, &v, found); !s.ok() || !*found) return s;
  if (Status s = decode(v, out); !s.ok()) return s;
  cache->Put(std::string(key), *out);
  return Status::Ok();
}

Status Projector::FindIncident(std::string_view id, Incident* inc, bool* found) {
  return ReadThrough(&incidents_, Cf::kIncidents, id, inc, found, IncidentFromJson);
}

Status Projector::IncidentForEvent(std::string_view event_id, std::string* incident, bool* found,
                                   std::string* digest) {
  if (Status s = state_->Get(Cf::kByEvent, event_id, incident, found); !s.ok() || !*found) return s;
  const size_t kept = IncidentOfEventRow(*incident).size();
  if (digest != nullptr) digest->assign(kept < incident->size() ? incident->substr(kept + 1) : std::string());
  incident->resize(kept);
  return Status::Ok();
}

Status Projector::LatestForFingerprint(std::string_view fp, FingerprintLatest* latest, bool* found) {
  return ReadThrough(&fingerprints_, Cf::kByFingerprint, fp, latest, found,
                     [&](std::string_view v, FingerprintLatest* out) {
                       if (DecodeFingerprintLatest(v, out)) return Status::Ok();
                       return Status::Corruption("by_fingerprint row of \"" + std::string(fp) +
                                                 "\" is malformed; run `noxsync replay --rebuild`");
                     });
}

Status Projector::IncidentCount(uint64_t* count) {
  std::string v;
  bool found = false;
  if (Status s = state_->Get(Cf::kMeta, kMetaIncidentCount, &v, &found); !s.ok()) return s;
  *count = 0;
  if (found) std::from_chars(v.data(), v.data() + v.size(), *count);
  return Status::Ok();
}

Status RebuildProjections(EventLog* log, uint64_t* records) {
  StagedState state(log);
  Projector projector(&state);
  projector.ResetForRebuild();
  *records = 0;
  return log->RebuildDerived(
      [&](const LogRecord& r, std::vector<Mutation>* rows) {
        ++*records;
        if (Status s = projector.Apply(r); !s.ok()) return s;
        *rows = state.TakeDirty();
        return Status::Ok();
      },
      // Written rows are readable from the store now; staged copies can go.
      [&] { projector.ForgetDurable(); });
}

}  // namespace noxsync
