// The fake Jira as a Jira backend's configuration names it: the account,
// token, project and issue type FakeJiraOptions' defaults expect, no proxy,
// one attempt per request. Tests adjust what they need on the copy.
#pragma once

#include <string>

#include "adapters/jira/jira_config.h"

namespace noxsync::fakes {

inline jira::JiraConfig FakeJiraConfig(const std::string& base_url) {
  jira::JiraConfig jc;
  jc.base_url = base_url;
  jc.user = "noxsync@acme.example";
  jc.secret = Secret("fake-jira-api-token");
  jc.project = "SEC";
  jc.issue_type = "Security";
  jc.http.proxy = http::ProxyOptions{};
  jc.http.retry.max_attempts = 1;
  return jc;
}

}  // namespace noxsync::fakes
