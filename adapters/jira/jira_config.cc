#include "adapters/jira/jira_config.h"

#include <cctype>

#include "sync/config_reader.h"

namespace noxsync::jira {

std::string JiraConfig::Who() const {
  return user.empty() ? std::string("the personal access token's user") : user;
}

JiraConfig ReadJiraConfig(ConfigSection* s) {
  JiraConfig c;
  c.base_url = s->RequiredStr("base_url");
  while (!c.base_url.empty() && c.base_url.back() == '/') c.base_url.pop_back();
  if (!c.base_url.empty() && c.base_url.rfind("https://", 0) != 0 && c.base_url.rfind("http://", 0) != 0) {
    s->Error("base_url", "must start with https:// (e.g. https://acme.atlassian.net)");
  }
  c.api_version = static_cast<int>(s->Int("api_version", 3, 2, 3));
  bool has_email = s->Has("email"), has_token = s->Has("api_token"), has_user = s->Has("username"),
       has_password = s->Has("password"), has_pat = s->Has("personal_access_token");
  if (c.api_version == 3) {
    if (has_user || has_password || has_pat) {
      s->Error(has_pat ? "personal_access_token" : (has_user ? "username" : "password"),
               "Jira Cloud (api_version 3) takes email and api_token; username/password and personal access "
               "tokens are for Data Center (api_version 2)");
    }
    c.auth = AuthKind::kApiToken;
    c.user = s->RequiredStr("email");
    c.secret = s->RequiredSecret("api_token");
  } else if (has_pat) {
    if (has_user || has_password || has_email || has_token) {
      s->Error("personal_access_token", "give either personal_access_token or username and password, not both");
    }
    c.auth = AuthKind::kAccessToken;
    c.secret = s->RequiredSecret("personal_access_token");
  } else {
    if (has_email || has_token) {
      s->Error(has_email ? "email" : "api_token",
               "Data Center (api_version 2) takes username and password, or personal_access_token");
    }
    c.auth = AuthKind::kPassword;
    c.user = s->RequiredStr("username");
    c.secret = s->RequiredSecret("password");
  }
  c.project = s->RequiredStr("project");
  bool key_ok = !c.project.empty() && std::isupper(static_cast<unsigned char>(c.project[0]));
  for (char ch : c.project) key_ok = key_ok && (std::isupper(static_cast<unsigned char>(ch)) || std::isdigit(static_cast<unsigned char>(ch)) || ch == '_');
  if (!c.project.empty() && !key_ok) s->Error("project", "a project key is upper-case letters and digits (SEC), not the project's name");
  c.issue_type = s->RequiredStr("issue_type");
  for (const auto& [name, jira] : s->StrMap("statuses")) {
    IncidentStatus st;
    if (!ParseIncidentStatus(name, &st)) {
      s->Error("statuses." + name, "not a Noxys status; use Open, In Progress, Resolved, Closed");
      continue;
    }
    c.statuses[st] = jira;
  }
  c.resolution = s->Str("resolution", c.resolution);
  for (const auto& [name, jira] : s->StrMap("priorities")) {
    Severity sev;
    if (!ParseSeverity(name, &sev)) {
      s->Error("priorities." + name, "not a Noxys priority; use Critical, High, Medium, Low");
      continue;
    }
    c.priorities[sev] = jira;
  }
  c.labels = s->StrList("labels");
  for (const auto& l : c.labels) {
    if (l.empty() || l.find(' ') != std::string::npos) s->Error("labels", "\"" + l + "\": Jira labels cannot be empty or hold spaces");
  }
  c.components = s->StrList("components");
  c.poll_overlap_minutes = static_cast<int>(s->Int("poll_overlap_minutes", c.poll_overlap_minutes, 1, 60));
  c.page_size = static_cast<int>(s->Int("page_size", c.page_size, 1, 100));
  c.http.name = "jira";
  if (auto h = s->Section("http")) {
    http::ReadClientOptions(&*h, &c.http);
    h->Finish();
  }
  s->Finish();
  return c;
}

}  // namespace noxsync::jira
