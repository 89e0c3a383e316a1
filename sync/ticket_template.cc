#include "sync/ticket_template.h"

#include <algorithm>
#include <cstdio>

namespace noxsync {

const std::vector<std::string>& TemplatePlaceholders() {
  static const std::vector<std::string> names = {
      "event_id",      "timestamp",       "platform_id",          "platform_name",
      "user_email",    "risk_score",      "action",               "policy_decisions.action",
      "policy_decisions.policy_id",       "policy_decisions.policy_name",
      "classification_type",              "classifications",      "risk_pct",
      "priority",      "incident_id"};
  return names;
}

bool TicketTemplate::Parse(std::string_view text, TicketTemplate* out, std::string* error) {
  TicketTemplate t;
  t.text_ = std::string(text);
  std::string literal;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal.push_back(c);
      ++i;
      continue;
    }
    if (c == '}') {
      *error = "a lone } at position " + std::to_string(i) + " (write }} for a brace)";
      return false;
    }
    if (c != '{') {
      literal.push_back(c);
      continue;
    }
    size_t end = text.find('}', i + 1);
    if (end == std::string_view::npos) {
      *error = "an unclosed { at position " + std::to_string(i);
      return false;
    }
    std::string name(text.substr(i + 1, end - i - 1));
    const auto& known = TemplatePlaceholders();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      *error = "unknown placeholder {" + name + "}; known: " + list;
      return false;
    }
    if (!literal.empty()) t.pieces_.push_back({false, std::move(literal)});
    literal.clear();
    t.pieces_.push_back({true, name});
    i = end;
  }
  if (!literal.empty()) t.pieces_.push_back({false, std::move(literal)});
  *out = std::move(t);
  return true;
}

std::string TicketTemplate::Render(const TemplateContext& ctx) const {
  const NoxysEvent& e = *ctx.event;
  std::string out;
  for (const auto& p : pieces_) {
    if (!p.placeholder) {
      out += p.text;
      continue;
    }
    const std::string& n = p.text;
    char buf[32];
    if (n == "event_id") out += e.event_id;
    else if (n == "timestamp") out += e.timestamp;
    else if (n == "platform_id") out += e.platform_id;
    else if (n == "platform_name") out += e.platform_name;
    else if (n == "user_email") out += e.user_email;
    else if (n == "risk_score") {
      std::snprintf(buf, sizeof buf, "%.2f", e.risk_score);
      out += buf;
    } else if (n == "action" || n == "policy_decisions.action") out += PolicyActionName(e.action);
    else if (n == "policy_decisions.policy_id") out += e.policy_id;
    else if (n == "policy_decisions.policy_name") out += e.policy_name;
    else if (n == "classification_type") {
      std::string types;
      for (const auto& t : ClassificationTypes(e)) types += (types.empty() ? "" : ", ") + t;
      out += types;
    } else if (n == "classifications") {
      std::string list;
      for (const auto& c : e.classifications) {
        std::snprintf(buf, sizeof buf, " (%.2f)", c.confidence);
        list += (list.empty() ? "" : ", ") + c.type + buf;
      }
      out += list;
    } else if (n == "risk_pct") {
      out += std::to_string(static_cast<int>((RiskPpm(e.risk_score) + 5000) / 10000));
    } else if (n == "priority") out += SeverityName(ctx.priority);
    else if (n == "incident_id") out += ctx.incident_id;
  }
  return out;
}

}  // namespace noxsync
