#include "sync/incident.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "sync/json_text.h"

namespace noxsync {
namespace json = boost::json;

const char* IncidentStatusName(IncidentStatus s) {
  switch (s) {
    case IncidentStatus::kOpen: return "Open";
    case IncidentStatus::kInProgress: return "In Progress";
    case IncidentStatus::kResolved: return "Resolved";
    case IncidentStatus::kClosed: return "Closed";
  }
  return "?";
}

bool ParseIncidentStatus(std::string_view text, IncidentStatus* out) {
  std::string t;
  for (char c : text) {
    if (c == ' ' || c == '-' || c == '_') continue;
    t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (t == "open") *out = IncidentStatus::kOpen;
  else if (t == "inprogress") *out = IncidentStatus::kInProgress;
  else if (t == "resolved") *out = IncidentStatus::kResolved;
  else if (t == "closed") *out = IncidentStatus::kClosed;
  else return false;
  return true;
}

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kLow: return "Low";
    case Severity::kMedium: return "Medium";
    case Severity::kHigh: return "High";
    case Severity::kCritical: return "Critical";
  }
  return "?";
}

bool ParseSeverity(std::string_view text, Severity* out) {
  for (Severity s : {Severity::kLow, Severity::kMedium, Severity::kHigh, Severity::kCritical}) {
    std::string_view name = SeverityName(s);
    if (name.size() == text.size() &&
        std::equal(name.begin(), name.end(), text.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      *out = s;
      return true;
    }
  }
  return false;
}

Severity SeverityForRisk(int64_t ppm) {
  if (ppm >= 900000) return Severity::kCritical;
  if (ppm >= 700000) return Severity::kHigh;
  if (ppm >= 500000) return Severity::kMedium;
  return Severity::kLow;
}

std::vector<std::string> ClassificationTypes(const NoxysEvent& e) {
  std::vector<std::string> types;
  types.reserve(e.classifications.size());
  for (const auto& c : e.classifications) types.push_back(c.type);
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  return types;
}

std::string Fingerprint(const NoxysEvent& e, const FingerprintFields& f) {
  std::string fp;
  fp.reserve(96);
  if (f.user) fp += e.user_email;
  fp += '|';
  if (f.platform) fp += e.platform_id;
  fp += '|';
  if (f.classification_types) {
    bool first = true;
    for (const auto& t : ClassificationTypes(e)) {
      if (!first) fp += ',';
      fp += t;
      first = false;
    }
  }
  fp += '|';
  if (f.action) fp += PolicyActionName(e.action);
  return fp;
}

std::string IncidentId(uint64_t number) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "inc_%08llu", static_cast<unsigned long long>(number));
  return buf;
}

bool IncidentNumber(std::string_view id, uint64_t* number) {
  if (id.size() < 5 || id.size() > 22 || id.substr(0, 4) != "inc_") return false;
  uint64_t n = 0;
  for (char c : id.substr(4)) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  *number = n;
  return true;
}

std::string IncidentToJson(const Incident& inc) {
  std::string out;
  out.reserve(512);
  JsonText(&out)
      .Str("id", inc.id)
      .Str("status", IncidentStatusName(inc.status))
      .Str("severity", SeverityName(inc.severity))
      .Str("fingerprint", inc.fingerprint)
      .Str("user_email", inc.user_email)
      .Str("platform_id", inc.platform_id)
      .Str("platform_name", inc.platform_name)
      .Str("action", PolicyActionName(inc.action))
      .StrArray("classification_types", inc.classification_types)
      .Int("max_risk_ppm", inc.max_risk_ppm)
      .Int("first_seen_us", inc.first_seen_us)
      .Int("last_seen_us", inc.last_seen_us)
      .Uint("occurrences", inc.occurrences)
      .Str("first_event_id", inc.first_event_id)
      .Str("last_event_id", inc.last_event_id)
      .Int("opened_at_us", inc.opened_at_us)
      .Int("updated_at_us", inc.updated_at_us)
      .End();
  return out;
}

Status IncidentFromJson(std::string_view text, Incident* inc) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) return Status::Corruption("incident projection is not a JSON object");
  try {
    const json::object& o = v.get_object();
    auto str = [&](const char* k) { return std::string(o.at(k).as_string()); };
    inc->id = str("id");
    if (!ParseIncidentStatus(str("status"), &inc->status)) {
      return Status::Corruption("incident " + inc->id + ": unknown status");
    }
    if (!ParseSeverity(str("severity"), &inc->severity)) {
      return Status::Corruption("incident " + inc->id + ": unknown severity");
    }
    inc->fingerprint = str("fingerprint");
    inc->user_email = str("user_email");
    inc->platform_id = str("platform_id");
    inc->platform_name = str("platform_name");
    if (!ParsePolicyAction(str("action"), &inc->action)) {
      return Status::Corruption("incident " + inc->id + ": unknown policy action");
    }
    inc->classification_types.clear();
    for (const auto& t : o.at("classification_types").as_array()) {
      inc->classification_types.emplace_back(t.as_string());
    }
    inc->max_risk_ppm = o.at("max_risk_ppm").as_int64();
    inc->first_seen_us = o.at("first_seen_us").as_int64();
    inc->last_seen_us = o.at("last_seen_us").as_int64();
    inc->occurrences = o.at("occurrences").to_number<uint64_t>();
    inc->first_event_id = str("first_event_id");
    inc->last_event_id = str("last_event_id");
    inc->opened_at_us = o.at("opened_at_us").as_int64();
    inc->updated_at_us = o.at("updated_at_us").as_int64();
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("incident projection malformed: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace noxsync
