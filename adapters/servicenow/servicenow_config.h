// ServiceNowConfig: what the ServiceNow adapter needs, read from the
// "backends.servicenow" section (docs/servicenow.md lists every key).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "adapters/http/http_client.h"
#include "sync/incident.h"
#include "sync/secret.h"

namespace noxsync {
class ConfigSection;
}

namespace noxsync::servicenow {

enum class AuthKind {
  kBasic,                   // user:password
  kOAuthPassword,           // OAuth 2.0 password grant
  kOAuthClientCredentials,  // OAuth 2.0 client-credentials grant
};

struct ServiceNowConfig {
  std::string instance_url;  // https://acme.service-now.com
  std::string table = "incident";
  AuthKind auth = AuthKind::kBasic;
  std::string username;  // Basic and password grant; the rights check
  Secret password;
  std::string client_id;  // OAuth
  Secret client_secret;
  // The record's fields.
  std::string category = "security";
  std::string subcategory;
  std::string assignment_group;  // sys_id or name
  std::string assigned_to;
  std::string caller;  // caller_id
  // Noxys status -> ServiceNow state value.
  std::map<IncidentStatus, std::string> states = {{IncidentStatus::kOpen, "1"},
                                                  {IncidentStatus::kInProgress, "2"},
                                                  {IncidentStatus::kResolved, "6"},
                                                  {IncidentStatus::kClosed, "7"}};
  // ServiceNow state value -> Noxys status, for states noxsync does not set
  // (3 On Hold, 8 Canceled); the inverse of `states` covers the rest.
  std::map<std::string, IncidentStatus> incoming_states = {{"3", IncidentStatus::kInProgress},
                                                           {"8", IncidentStatus::kClosed}};
  std::string close_code = "Resolved by caller";
  std::string close_notes = "Resolved in Noxys by noxsync.";
  // Urgency from the risk score: >= high -> 1, >= medium -> 2, else 3.
  double urgency_high_risk = 0.9;
  double urgency_medium_risk = 0.5;
  // Impact from the classification types: the highest impact of any type
  // present (1 highest); types not listed get default_impact.
  std::map<std::string, int> impact_by_classification = {
      {"CREDIT_CARD", 1}, {"IBAN", 1}, {"SSN", 1}, {"API_KEY", 1}, {"PASSWORD", 1}, {"SECRET", 1},
      {"HEALTH", 1},      {"EMAIL", 2}, {"PHONE", 2}, {"NAME", 3},   {"ADDRESS", 2}};
  int default_impact = 3;
  std::vector<std::string> required_roles = {"itil"};  // checked by test-connection
  int poll_overlap_seconds = 60;
  int page_size = 100;
  http::ClientOptions http;

  std::string Who() const;
};

// Reads `section` (problems go to it). The section's Finish() is called.
ServiceNowConfig ReadServiceNowConfig(ConfigSection* section);

// ServiceNow's default priority lookup (Incident priority data lookup):
// urgency x impact, each 1..3 -> priority 1 Critical .. 5 Planning.
int PriorityFor(int urgency, int impact);

}  // namespace noxsync::servicenow
