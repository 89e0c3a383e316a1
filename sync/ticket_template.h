// TicketTemplate: text with {placeholders} filled from a Noxys event, for
// ticket summaries, descriptions, labels and mapped fields.
//
// Placeholders are the event's fields (event_id, timestamp, platform_id,
// platform_name, user_email, risk_score), dotted paths into it
// (policy_decisions.action, policy_decisions.policy_name), and derived ones:
// action (= policy_decisions.action), classification_type (the types, comma
// separated), classifications ("EMAIL (0.98), IBAN (0.9)"), risk_pct,
// priority, incident_id. An unknown placeholder is an error when the
// template is parsed (start-up), never a blank in a ticket. "{{" and "}}"
// are literal braces. Immutable; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sync/incident.h"
#include "sync/noxys_event.h"

namespace noxsync {

// What a template can read: the event, and facts noxsync adds.
struct TemplateContext {
  const NoxysEvent* event = nullptr;
  std::string incident_id;
  Severity priority = Severity::kLow;
};

class TicketTemplate {
 public:
  TicketTemplate() = default;
  // False with *error ("unknown placeholder {platfrom}; known: ...") when
  // the text names something no event has.
  static bool Parse(std::string_view text, TicketTemplate* out, std::string* error);

  std::string Render(const TemplateContext& ctx) const;
  const std::string& text() const { return text_; }

 private:
  struct Piece {
    bool placeholder = false;
    std::string text;  // literal text, or the placeholder's name
  };
  std::string text_;
  std::vector<Piece> pieces_;
};

// Every placeholder name a template may use.
const std::vector<std::string>& TemplatePlaceholders();

}  // namespace noxsync
