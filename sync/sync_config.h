// SyncConfig: how incidents become tickets and how tickets stay in sync:
// the priority map, the rules, the templates and field mapping, and the
// engine's intervals and policies. Read from the configuration file
// ("priorities", "rules", "templates", "field_mapping", "sync"); the defaults
// reproduce the Noxys integration guide (docs/configuration.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sync/incident.h"
#include "sync/ticket_template.h"

namespace noxsync {
class ConfigSection;

struct PriorityLevel {
  int64_t min_risk_ppm = 0;  // this level from this risk up
  int64_t response_sla_us = 0;  // the incident must leave Open by then
  int64_t resolution_sla_us = 0;  // 0: no resolution deadline
};

// One rule: a conjunction of conditions, and what to do when all hold.
struct Rule {
  std::string name;
  // Conditions; an empty one always holds.
  std::vector<PolicyAction> actions;
  std::optional<std::pair<std::string, int64_t>> risk;  // op (>=, >, <=, <) and ppm
  std::vector<std::string> classifications;              // any of these types
  std::vector<std::string> platforms;                    // platform ids
  std::string user;                                      // glob over the e-mail (*@acme.fr)
  // Outcome.
  std::vector<std::string> backends;  // empty: every configured backend
  std::optional<Severity> priority;   // raises the priority from the risk
  std::string assignee;               // Jira user (e-mail or account id); ServiceNow assigned_to
  std::string assignment_group;       // ServiceNow assignment group
};

// What the rules decided for one incident.
struct RuleOutcome {
  bool matched = false;
  std::string rule;  // the winning rule's name
  Severity priority = Severity::kLow;
  std::vector<std::string> backends;
  std::string assignee;
  std::string assignment_group;
};

enum class ConflictPolicy { kTicketWins, kLatestWins };

struct SyncConfig {
  std::map<Severity, PriorityLevel> priorities;
  std::vector<Rule> rules;
  TicketTemplate summary;
  TicketTemplate description;
  std::vector<TicketTemplate> labels;
  std::vector<std::pair<std::string, TicketTemplate>> facts;  // shown in every ticket
  // backend -> field -> template (the value is sent as a JSON string).
  std::map<std::string, std::map<std::string, TicketTemplate>> field_mapping;
  int64_t poll_interval_us = 60'000'000;
  // After each poll the cursor moves to at least its start minus this
  // (clock skew between noxsync and the backend, search-index lag).
  int64_t poll_safety_us = 60'000'000;
  ConflictPolicy conflict_policy = ConflictPolicy::kTicketWins;
  int outbox_max_attempts = 8;
  int64_t outbox_base_delay_us = 5'000'000;
  int64_t outbox_max_delay_us = 600'000'000;
  int64_t recurrence_comment_interval_us = 3600'000'000;
  int64_t auto_resolve_after_us = 24 * 3600'000'000LL;  // COACH incidents; 0: never
  bool escalate_with_comment = true;  // an SLA breach comments on the tickets
  // An SLA breach raises the tickets' priority one step (Low -> Medium ->
  // High -> Critical); the SLA deadlines keep the priority the rules gave.
  bool escalate_raise_priority = false;

  // The guide's defaults.
  static SyncConfig Defaults();
  // The priority of a risk by the map.
  Severity PriorityForRisk(int64_t risk_ppm) const;
  // Evaluates the rules for an incident's first event: the highest priority
  // of the matching rules wins, ties to the earlier rule. `configured` are the
  // backends that exist; a rule naming none takes them all.
  RuleOutcome Decide(const NoxysEvent& event, const std::vector<std::string>& configured) const;
};

// Reads the sections of the top-level config object into *config, starting
// from the defaults; problems go to `root`.
void ReadSyncConfig(ConfigSection* root, const std::vector<std::string>& backends, SyncConfig* config);

}  // namespace noxsync
