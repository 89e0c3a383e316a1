#include "sync/refusals.h"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "sync/projector.h"

namespace noxsync {
namespace json = boost::json;

std::string RefusedEventId(std::string_view payload) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(payload.data(), payload.size()), ec);
  const json::object* o = ec ? nullptr : v.if_object();
  if (o == nullptr) return "";
  std::string id;
  if (const json::value* field = o->if_contains("event_id"); field != nullptr && field->is_string()) {
    id = field->get_string();
  } else if (const json::value* text = o->if_contains("text"); text != nullptr && text->is_string()) {
    json::value event = json::parse(text->get_string(), ec);
    const json::object* e = ec ? nullptr : event.if_object();
    const json::value* in_text = e == nullptr ? nullptr : e->if_contains("event_id");
    if (in_text != nullptr && in_text->is_string()) id = in_text->get_string();
  }
  return RefusableEventId(id) ? id : "";
}

Status FindRefusals(const EventLog& log, std::string_view event_id, uint64_t from, size_t limit,
                    std::vector<uint64_t>* seqs, uint64_t* next, bool* read_log) {
  seqs->clear();
  *next = 0;
  if (read_log != nullptr) *read_log = false;
  if (limit == 0 || !RefusableEventId(event_id)) return Status::Ok();
  // Each source's first limit + 1 seqs hold the first limit + 1 of both: the
  // page, and the seq the next one starts at.
  std::vector<uint64_t> indexed;
  uint64_t unused_next = 0;  // the merge below finds where the next page starts
  if (Status s = log.RefusalSeqs(event_id, from, limit + 1, &indexed, &unused_next); !s.ok()) return s;
  std::vector<std::pair<uint64_t, uint64_t>> unindexed;
  if (Status s = log.UnindexedRefusalRanges(&unindexed); !s.ok()) return s;
  std::vector<uint64_t> scanned;
  from = std::max<uint64_t>(from, 1);  // seqs start at 1
  for (const auto& [first, last] : unindexed) {
    if (last < from || scanned.size() > limit) continue;
    if (read_log != nullptr) *read_log = true;
    Status s = log.ScanLog(
        std::max(first, from), [](std::string_view type) { return type == record_type::kEventRejected; },
        [&](const LogRecord& r) {
          if (r.seq > last) return false;
          if (r.type == record_type::kEventRejected && RefusedEventId(r.payload) == event_id) scanned.push_back(r.seq);
          return scanned.size() <= limit;
        });
    if (!s.ok()) return s;
  }
  // The ranges are in order, so these are the first of them; an index row
  // may name a seq in a range too (written before a rollback was noted).
  std::vector<uint64_t> all;
  std::merge(indexed.begin(), indexed.end(), scanned.begin(), scanned.end(), std::back_inserter(all));
  all.erase(std::unique(all.begin(), all.end()), all.end());
  if (all.size() > limit) {
    *next = all[limit];
    all.resize(limit);
  }
  *seqs = std::move(all);
  return Status::Ok();
}

Status ReadRefusal(const EventLog& log, std::string_view event_id, uint64_t seq, LogRecord* record) {
  Status s = log.ReadRecord(seq, record);
  if (s.IsNotFound()) {
    return Status::Corruption("the refusal index names seq " + std::to_string(seq) +
                              " but the log has no such record; `noxsync replay --rebuild` rewrites the index");
  }
  if (!s.ok()) return s;
  if (record->type != record_type::kEventRejected || RefusedEventId(record->payload) != event_id) {
    return Status::Corruption("the refusal index names seq " + std::to_string(seq) +
                              " as a refusal of that event id, but the log's record there is " +
                              (record->type == record_type::kEventRejected ? std::string("a refusal of another id")
                                                                           : "of type " + record->type) +
                              "; `noxsync replay --rebuild` rewrites the index");
  }
  return Status::Ok();
}

}  // namespace noxsync
