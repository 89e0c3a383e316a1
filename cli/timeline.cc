#include "cli/timeline.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>

#include "store/utf8.h"
#include "sync/printable.h"
#include "sync/projector.h"
#include "sync/timestamp.h"

namespace noxsync::cli {
namespace json = boost::json;

std::string RiskText(int64_t ppm) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6f", static_cast<double>(ppm) / 1e6);
  std::string s = buf;
  while (s.size() > 3 && s.back() == '0') s.pop_back();
  return s;
}

namespace {

std::string Str(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return "";
  return std::string(it->value().get_string());
}

int64_t Int(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_number()) return 0;
  return it->value().to_number<int64_t>();
}

std::string Describe(const LogRecord& r) {
  json::error_code ec;
  json::value v = json::parse(r.payload, ec);
  if (ec || !v.is_object()) return std::string(Utf8Prefix(r.payload, 120));
  const json::object& o = v.get_object();
  if (r.type == record_type::kEventReceived) {
    std::string types;
    if (auto it = o.find("classifications"); it != o.end() && it->value().is_array()) {
      for (const auto& c : it->value().get_array()) {
        if (c.is_object()) {
          if (!types.empty()) types += ",";
          types += Str(c.get_object(), "type");
        }
      }
    }
    std::string action, policy;
    if (auto it = o.find("policy_decisions"); it != o.end() && it->value().is_object()) {
      action = Str(it->value().get_object(), "action");
      policy = Str(it->value().get_object(), "policy_name");
    }
    double risk = 0;
    if (auto it = o.find("risk_score"); it != o.end() && it->value().is_number()) risk = it->value().to_number<double>();
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f", risk);
    return Str(o, "event_id") + " at " + Str(o, "timestamp") + ": " + Str(o, "user_email") + " on " +
           Str(o, "platform_name") + ", " + action + " " + types + ", risk " + buf +
           (policy.empty() ? "" : " (" + policy + ")");
  }
  if (r.type == record_type::kIncidentOpened) {
    std::string types;
    if (auto it = o.find("classification_types"); it != o.end() && it->value().is_array()) {
      for (const auto& t : it->value().get_array()) {
        if (!types.empty()) types += ",";
        if (t.is_string()) types += std::string(t.get_string());
      }
    }
    return std::string("opened, severity ") + SeverityName(SeverityForRisk(Int(o, "risk_ppm"))) + " (" +
           Str(o, "action") + " " + types + " by " + Str(o, "user_email") + " on " + Str(o, "platform_id") + ")";
  }
  if (r.type == record_type::kIncidentRecurred) {
    return "recurred (" + std::to_string(Int(o, "occurrences")) + " events), by " + Str(o, "event_id") +
           ", risk " + RiskText(Int(o, "risk_ppm"));
  }
  if (r.type == record_type::kEventRejected) {
    return Str(o, "source") + " line " + std::to_string(Int(o, "line")) + ": " + Str(o, "reason");
  }
  namespace rt = record_type;
  std::string b = Str(o, "backend");
  if (r.type == rt::kRuleNoMatch) return "no ticket: " + Str(o, "reason");
  if (r.type == rt::kTicketCreateRequested) {
    return b + " ticket requested by rule " + Str(o, "rule") + ", priority " + Str(o, "priority");
  }
  if (r.type == rt::kTicketCreated) {
    return b + " ticket " + Str(o, "key") + " " +
           (Str(o, "found_existing") == "yes" ? "found (made before a crash; not created again)" : "created") +
           ", " + Str(o, "raw_status") + " " + Str(o, "url");
  }
  if (r.type == rt::kTicketCreateFailed) {
    return b + " ticket not created after " + std::to_string(Int(o, "attempts")) + " attempt(s): " + Str(o, "reason");
  }
  if (r.type == rt::kTicketStatusChanged) {
    std::string by = Str(o, "source");
    std::string who = by == "noxys" ? "in Noxys" : by == "rule" ? "by noxsync" : "in " + by + " " + Str(o, "key");
    std::string note = Str(o, "note");
    return Str(o, "from") + " -> " + Str(o, "to") + " " + who + (note.empty() ? "" : " (" + note + ")");
  }
  if (r.type == rt::kTicketTransitionRequested) return b + " " + Str(o, "key") + " to be moved to " + Str(o, "to");
  if (r.type == rt::kTicketTransitionApplied) {
    return b + " " + Str(o, "key") + " moved to " + Str(o, "to") + " (" + Str(o, "raw_status") + ")";
  }
  if (r.type == rt::kTicketCommentRequested) return b + " comment requested: " + Str(o, "text");
  if (r.type == rt::kTicketCommentAdded) return b + " " + Str(o, "key") + " " + Str(o, "kind") + " comment added";
  if (r.type == rt::kTicketPriorityChanged) {
    return b + " " + Str(o, "key") + " priority raised to " + Str(o, "priority") + " (" + Str(o, "backend_priority") + ")";
  }
  if (r.type == rt::kSyncConflict) {
    return "conflict on " + b + " " + Str(o, "key") + ": Noxys " + Str(o, "noxys_status") + ", ticket " +
           Str(o, "ticket_status") + "; " + Str(o, "policy") + ": the " + Str(o, "winner") + " wins";
  }
  if (r.type == rt::kSlaBreached) {
    return Str(o, "priority") + " " + Str(o, "deadline") + " SLA breached (due " + FormatTimestamp(Int(o, "due_us")) + ")";
  }
  if (r.type == rt::kSlaEscalated) {
    if (Str(o, "action") == "raise_priority") return "escalated: priority " + Str(o, "from") + " -> " + Str(o, "to");
    return "escalated: " + Str(o, "action") + " on the tickets";
  }
  if (r.type == rt::kIncidentAutoResolved) return Str(o, "from") + " -> Resolved automatically: " + Str(o, "reason");
  if (r.type == rt::kNotificationSent) {
    return Str(o, "kind") + " notification sent to " + Str(o, "channel") +
           (Str(o, "ticket_key").empty() ? "" : " (" + Str(o, "ticket_key") + ")");
  }
  if (r.type == rt::kBackendError && Str(o, "action") == "notification") {
    return Str(o, "kind") + " notification to " + Str(o, "channel") + " failed: " + Str(o, "reason");
  }
  if (r.type == rt::kBackendError) {
    return b + " " + Str(o, "action") + " gave up after " + std::to_string(Int(o, "attempts")) + " attempt(s): " +
           Str(o, "reason");
  }
  return std::string(Utf8Prefix(json::serialize(v), 160));
}

}  // namespace

// What a record holds comes from outside (events, backends, notes): it is
// shown escaped, so it cannot drive the terminal or fake a line.
std::string DescribeRecord(const LogRecord& r) { return PrintableText(Describe(r)); }

std::string FormatTimelineHead(const Incident& inc) {
  std::string types;
  for (const auto& t : inc.classification_types) types += (types.empty() ? "" : ",") + t;
  std::string out;
  out += "Incident " + inc.id + "  " + IncidentStatusName(inc.status) + "  " + SeverityName(inc.severity) + "\n";
  out += "  " + PrintableText(inc.user_email) + " on " + PrintableText(inc.platform_name) + " (" +
         PrintableText(inc.platform_id) + "), " + PolicyActionName(inc.action) + " " +
         (types.empty() ? "-" : PrintableText(types)) + ", max risk " +
         RiskText(inc.max_risk_ppm) + "\n";
  out += "  " + std::to_string(inc.occurrences) + (inc.occurrences == 1 ? " event" : " events") +
         ", first " + FormatTimestamp(inc.first_seen_us) + ", last " + FormatTimestamp(inc.last_seen_us) + "\n\n";
  return out + FormatTimelineColumns();
}

std::string FormatTimelineColumns() {
  char line[128];
  std::snprintf(line, sizeof(line), "%8s  %-24s  %-27s  %s\n", "SEQ", "LOGGED (UTC)", "RECORD", "WHAT");
  return line;
}

std::string FormatTimelineRecord(const LogRecord& r) {
  char line[128];
  std::snprintf(line, sizeof(line), "%8llu  %-24s  %-27s  ", static_cast<unsigned long long>(r.seq),
                FormatTimestamp(r.time_us).c_str(), PrintableText(r.type).c_str());
  return line + DescribeRecord(r) + "\n";
}

std::string FormatTimeline(const Incident& inc, const std::vector<LogRecord>& records) {
  std::string out = FormatTimelineHead(inc);
  for (const LogRecord& r : records) out += FormatTimelineRecord(r);
  return out;
}

std::string RecordToJson(const LogRecord& r) {
  json::object o;
  o["seq"] = r.seq;
  o["time"] = FormatTimestamp(r.time_us);
  o["time_us"] = r.time_us;
  o["type"] = r.type;
  o["incident"] = r.incident;
  // The exact bytes the hash covers, so the record can be checked by hand.
  o["payload"] = r.payload;
  o["prev_hash"] = HashHex(r.prev_hash);
  o["hash"] = HashHex(r.hash);
  return json::serialize(o);
}

std::string IncidentToDisplayJson(const Incident& inc) {
  json::value v = json::parse(IncidentToJson(inc));
  json::object& o = v.as_object();
  o["max_risk"] = RiskText(inc.max_risk_ppm);
  o["first_seen"] = FormatTimestamp(inc.first_seen_us);
  o["last_seen"] = FormatTimestamp(inc.last_seen_us);
  o["opened_at"] = FormatTimestamp(inc.opened_at_us);
  o["updated_at"] = FormatTimestamp(inc.updated_at_us);
  return json::serialize(v);
}

}  // namespace noxsync::cli
