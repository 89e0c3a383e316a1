// Incident: what noxsync tracks for a group of Noxys events that share a
// fingerprint, and its projection row (the `incidents` column family).
//
// A projection is derived from the log alone; its JSON bytes must come out the
// same whether built live or by `replay --rebuild`, so serialization has one
// deterministic form (fixed key order, integers where doubles would drift).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"
#include "sync/noxys_event.h"

namespace noxsync {

enum class IncidentStatus { kOpen, kInProgress, kResolved, kClosed };
const char* IncidentStatusName(IncidentStatus s);                     // "Open", "In Progress", ...
bool ParseIncidentStatus(std::string_view text, IncidentStatus* out);  // case-insensitive, '-'/'_' ok

enum class Severity { kLow, kMedium, kHigh, kCritical };
const char* SeverityName(Severity s);
bool ParseSeverity(std::string_view text, Severity* out);  // case-insensitive
// The Noxys guide's priority map: >= 0.9 Critical, >= 0.7 High, >= 0.5 Medium, else Low.
Severity SeverityForRisk(int64_t risk_ppm);

// Which facts of an event make two events "the same incident".
struct FingerprintFields {
  bool user = true;
  bool platform = true;
  bool classification_types = true;
  bool action = true;
};

// "alice@acme.fr|chatgpt|EMAIL,IBAN|BLOCK": readable, sorted, de-duplicated.
std::string Fingerprint(const NoxysEvent& e, const FingerprintFields& fields = {});
std::vector<std::string> ClassificationTypes(const NoxysEvent& e);  // sorted, unique

struct Incident {
  std::string id;  // inc_00000042
  IncidentStatus status = IncidentStatus::kOpen;
  Severity severity = Severity::kLow;
  std::string fingerprint;
  std::string user_email;
  std::string platform_id;
  std::string platform_name;
  PolicyAction action = PolicyAction::kBlock;
  std::vector<std::string> classification_types;
  int64_t max_risk_ppm = 0;
  int64_t first_seen_us = 0;  // earliest event timestamp
  int64_t last_seen_us = 0;   // latest event timestamp
  uint64_t occurrences = 0;
  std::string first_event_id;
  std::string last_event_id;
  int64_t opened_at_us = 0;   // log time of incident.opened
  int64_t updated_at_us = 0;  // log time of the last record that changed it
};

std::string IncidentId(uint64_t number);  // 42 -> "inc_00000042"
// The number of an id of IncidentId's form ("inc_" and up to 18 digits);
// false for any other id.
bool IncidentNumber(std::string_view id, uint64_t* number);

std::string IncidentToJson(const Incident& inc);
Status IncidentFromJson(std::string_view json, Incident* inc);

}  // namespace noxsync
