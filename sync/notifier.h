// Notifier: where noxsync tells people about an incident (Slack, Microsoft
// Teams). The engine decides when (a ticket created, an SLA breached, an
// escalation); a NotificationDispatcher delivers, so that a slow or failing
// channel never holds up ticket sync. No HTTP type appears here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace noxsync {

struct Notification {
  enum class Kind { kTicketCreated, kSlaBreached, kEscalated, kTest };
  Kind kind = Kind::kTicketCreated;
  std::string incident_id;
  std::string title;     // one line: "Critical incident on ChatGPT: EMAIL, IBAN"
  std::string platform;  // "ChatGPT"
  int64_t risk_ppm = 0;
  std::string severity;  // "Critical"
  std::string user;      // "alice@acme.fr"
  std::vector<std::string> classifications;  // "EMAIL (0.95)"
  std::string detail;      // optional: "SLA of 1 h passed at 10:32 UTC"
  std::string ticket_key;  // "SEC-42", "INC0010001"
  std::string ticket_url;  // the button's target
};

const char* NotificationKindName(Notification::Kind kind);  // "ticket_created", ...

class Notifier {
 public:
  virtual ~Notifier() = default;
  // "slack:soc": the kind and the configured name, for logs and the log.
  virtual const std::string& channel() const = 0;
  // Delivers one message, retrying what may pass; blocking. The Status says
  // why it was not delivered, without the webhook URL (it is a secret).
  virtual Status Send(const Notification& n) = 0;
};

}  // namespace noxsync
