#include "adapters/servicenow/servicenow_config.h"

#include <cctype>

#include "sync/config_reader.h"

namespace noxsync::servicenow {

std::string ServiceNowConfig::Who() const {
  if (!username.empty()) return username;
  return "the OAuth client " + client_id;
}

int PriorityFor(int urgency, int impact) {
  // The out-of-box table: 1/1 -> 1; 1/2, 2/1 -> 2; 1/3, 2/2, 3/1 -> 3;
  // 2/3, 3/2 -> 4; 3/3 -> 5. That is urgency + impact - 1.
  return urgency + impact - 1;
}

ServiceNowConfig ReadServiceNowConfig(ConfigSection* s) {
  ServiceNowConfig c;
  c.instance_url = s->RequiredStr("instance_url");
  while (!c.instance_url.empty() && c.instance_url.back() == '/') c.instance_url.pop_back();
  if (!c.instance_url.empty() && c.instance_url.rfind("https://", 0) != 0 && c.instance_url.rfind("http://", 0) != 0) {
    s->Error("instance_url", "must start with https:// (e.g. https://acme.service-now.com)");
  }
  c.table = s->Str("table", c.table);
  for (char ch : c.table) {
    if (!(std::islower(static_cast<unsigned char>(ch)) || std::isdigit(static_cast<unsigned char>(ch)) || ch == '_')) {
      s->Error("table", "a table name is lower-case letters, digits and _ (incident, u_noxys_incident)");
      break;
    }
  }
  std::string auth = s->Str("auth", "basic");
  if (auth == "basic") {
    c.auth = AuthKind::kBasic;
    c.username = s->RequiredStr("username");
    c.password = s->RequiredSecret("password");
  } else if (auth == "oauth_password") {
    c.auth = AuthKind::kOAuthPassword;
    c.client_id = s->RequiredStr("client_id");
    c.client_secret = s->RequiredSecret("client_secret");
    c.username = s->RequiredStr("username");
    c.password = s->RequiredSecret("password");
  } else if (auth == "oauth_client_credentials") {
    c.auth = AuthKind::kOAuthClientCredentials;
    c.client_id = s->RequiredStr("client_id");
    c.client_secret = s->RequiredSecret("client_secret");
    c.username = s->Str("username");  // the OAuth application user, for the rights check
  } else {
    s->Error("auth", "\"" + auth + "\": use basic, oauth_password or oauth_client_credentials");
  }
  c.category = s->Str("category", c.category);
  c.subcategory = s->Str("subcategory", c.subcategory);
  c.assignment_group = s->Str("assignment_group");
  c.assigned_to = s->Str("assigned_to");
  c.caller = s->Str("caller");
  for (const auto& [name, value] : s->StrMap("states")) {
    IncidentStatus st;
    if (!ParseIncidentStatus(name, &st)) {
      s->Error("states." + name, "not a Noxys status; use Open, In Progress, Resolved, Closed");
      continue;
    }
    c.states[st] = value;
  }
  for (const auto& [value, name] : s->StrMap("incoming_states")) {
    IncidentStatus st;
    if (!ParseIncidentStatus(name, &st)) {
      s->Error("incoming_states." + value, "\"" + name + "\" is not a Noxys status");
      continue;
    }
    c.incoming_states[value] = st;
  }
  c.close_code = s->Str("close_code", c.close_code);
  c.close_notes = s->Str("close_notes", c.close_notes);
  if (s->Has("impact_by_classification")) {
    c.impact_by_classification.clear();
    for (const auto& [type, impact] : s->IntMap("impact_by_classification", 1, 3)) {
      c.impact_by_classification[type] = static_cast<int>(impact);
    }
  }
  c.default_impact = static_cast<int>(s->Int("default_impact", c.default_impact, 1, 3));
  if (s->Has("required_roles")) c.required_roles = s->StrList("required_roles");
  c.poll_overlap_seconds = static_cast<int>(s->Int("poll_overlap_seconds", c.poll_overlap_seconds, 1, 3600));
  c.page_size = static_cast<int>(s->Int("page_size", c.page_size, 1, 1000));
  c.http.name = "servicenow";
  if (auto h = s->Section("http")) {
    http::ReadClientOptions(&*h, &c.http);
    h->Finish();
  }
  s->Finish();
  return c;
}

}  // namespace noxsync::servicenow
