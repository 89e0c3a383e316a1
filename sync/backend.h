// Backend: what the sync engine asks of a ticket system (Jira, ServiceNow).
//
// The engine sees only this interface; each adapter in adapters/<backend>/
// implements it over HTTP. No Beast, Asio or JSON type appears here, so the
// engine and its tests compile without them.
//
// Every call is blocking and returns a value or a Status whose message is
// written for an operator: it names the backend, the ticket or incident and
// what to do. Status codes tell the engine what to do next:
//   kUnavailable        backend down, slow, overloaded: retry later
//   kUnauthenticated    credentials rejected: stop and tell a person
//   kPermissionDenied   the integration user lacks a right
//   kInvalidArgument    the backend refused the content (a field, a value)
//   kNotFound           no such ticket
//   kFailedPrecondition the ticket's workflow does not allow the move
// Implementations are thread-safe: the outbox worker and the poller may call
// one backend from different threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"
#include "sync/incident.h"

namespace noxsync {

// The backends noxsync makes tickets in, by the names the configuration,
// the store's ticket rows and the API use.
inline constexpr std::string_view kBackendNames[] = {"jira", "servicenow"};
inline bool IsBackendName(std::string_view name) {
  for (std::string_view b : kBackendNames) {
    if (name == b) return true;
  }
  return false;
}

// A ticket as the engine sees it, whatever the backend.
struct Ticket {
  std::string key;          // SEC-42, INC0010001: what people call it
  std::string id;           // Jira issue id, ServiceNow sys_id: stable
  std::string url;          // where a person opens it
  std::string raw_status;   // the backend's own status name ("Done", "6")
  IncidentStatus status = IncidentStatus::kOpen;  // raw_status mapped
  int64_t updated_us = 0;   // the backend's last update time, UTC
  // Tells two versions of one ticket apart when update times tie: Jira's
  // `updated` text, ServiceNow's sys_mod_count.
  std::string version;
  std::string incident_id;  // the Noxys incident it carries, "" if none
  std::string priority;     // the backend's priority name or number
};

// One page of tickets changed since a time, oldest first.
struct TicketPage {
  std::vector<Ticket> tickets;
  std::string next_page;  // pass back to get the next page; "" on the last
};

// What a new ticket says. Each adapter renders it in its own format (Atlassian
// Document Format, wiki text, plain text); the words come from the engine.
struct NewTicket {
  std::string incident_id;  // inc_00000042; becomes a label / correlation_id
  std::string summary;      // one line
  std::string description;  // free text, paragraphs separated by blank lines
  // Facts shown as a list ("Platform" -> "ChatGPT"), in this order.
  std::vector<std::pair<std::string, std::string>> facts;
  std::vector<std::string> classifications;  // "EMAIL (0.95)", one per bullet
  std::vector<std::string> labels;  // rendered label templates; Jira only
  std::string event_id;        // shown as code
  std::string platform;        // platform name; a label on Jira
  Severity severity = Severity::kLow;  // mapped to the backend's priority
  int64_t risk_ppm = 0;        // ServiceNow urgency comes from the risk
  std::vector<std::string> classification_types;  // ServiceNow impact, e.g. IBAN
  std::string assignee;        // Jira account id or e-mail; ServiceNow user
  std::string assignment_group;
  // Backend fields set verbatim, value as JSON text: {"customfield_10042":
  // "\"0.92\""}, {"u_risk_score": "92"}. Adapters reject names they do not own.
  std::map<std::string, std::string> extra_fields;
};

// A comment or work note.
struct Comment {
  std::string text;  // paragraphs separated by blank lines
};

// What test-connection learned, for the line the user sees.
struct ConnectionReport {
  std::string user;     // who we are on the backend
  std::string summary;  // "project SEC, issue type Security"
  std::vector<std::string> warnings;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;  // "jira", "servicenow"

  // Checks credentials, the target (project, table) and the rights to create
  // and update; the first problem found is the Status.
  virtual Result<ConnectionReport> TestConnection() = 0;

  // The ticket that carries this incident, if one exists. Called before every
  // create, so a crash between "created" and "logged" never duplicates.
  virtual Result<std::optional<Ticket>> FindByIncident(std::string_view incident_id) = 0;

  virtual Result<Ticket> Create(const NewTicket& ticket) = 0;

  // `ref` names a ticket: its Ticket::id (stable; the engine keeps it) or its
  // Ticket::key (what people type).
  virtual Result<Ticket> Get(std::string_view ref) = 0;

  // Tickets of noxsync's incidents updated at or after since_us, oldest
  // first, page by page (page_token "" for the first). The adapter queries
  // with an overlap where the backend's clock is coarse, so a caller sees
  // some tickets again: de-duplicate with ChangeCursor.
  virtual Result<TicketPage> ChangedSince(int64_t since_us, std::string_view page_token) = 0;

  // Moves the ticket to the backend status mapped from `target`; a ticket
  // already there is returned unchanged.
  virtual Result<Ticket> MoveTo(std::string_view ref, IncidentStatus target) = 0;

  virtual Status AddComment(std::string_view ref, const Comment& comment) = 0;
  // Sets the ticket's priority to the backend's value for `severity` (an SLA
  // escalation). Jira: the priority mapped from it; ServiceNow: urgency and
  // impact whose matrix gives it. Returns the ticket as it now is.
  virtual Result<Ticket> SetPriority(std::string_view ref, Severity severity) = 0;
};

}  // namespace noxsync
