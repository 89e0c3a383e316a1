// JiraConfig: what the Jira adapter needs to know, read from the
// "backends.jira" section of the configuration (docs/jira.md lists every key).
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

namespace noxsync::jira {

enum class AuthKind {
  kApiToken,     // Cloud: Basic email:api_token
  kPassword,     // Data Center: Basic username:password
  kAccessToken,  // Data Center: personal access token as Bearer
};

struct JiraConfig {
  std::string base_url;  // https://acme.atlassian.net, no trailing slash
  int api_version = 3;   // 3: Cloud; 2: Data Center / Server
  AuthKind auth = AuthKind::kApiToken;
  std::string user;  // e-mail (Cloud) or username (Data Center); "" for a PAT
  Secret secret;     // API token, password or personal access token
  std::string project;     // key: SEC
  std::string issue_type;  // name: Security
  // Noxys status -> Jira status name. Unset ones go by status category
  // (Open: To Do, In Progress: In Progress, Resolved/Closed: Done).
  std::map<IncidentStatus, std::string> statuses;
  std::string resolution = "Done";  // set when a transition screen requires it
  std::map<Severity, std::string> priorities = {{Severity::kCritical, "Highest"},
                                                {Severity::kHigh, "High"},
                                                {Severity::kMedium, "Medium"},
                                                {Severity::kLow, "Low"}};
  std::vector<std::string> labels;      // added to every ticket
  std::vector<std::string> components;  // names
  int poll_overlap_minutes = 2;
  int page_size = 100;
  http::ClientOptions http;

  std::string Who() const;  // the user, for messages: never the secret
};

// Reads `section` (problems go to it). The section's Finish() is called.
JiraConfig ReadJiraConfig(ConfigSection* section);

}  // namespace noxsync::jira
