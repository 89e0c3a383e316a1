// JiraBackend: the Backend interface over Jira's REST API, v3 for Jira Cloud
// and v2 for Jira Data Center / Server (JiraConfig::api_version).
//
// What it sends and reads follows Atlassian's REST reference; docs/jira.md
// lists every call. Each ticket carries the labels `noxys`, the platform and
// `noxys-inc-<incident id>`; the last one is how FindByIncident finds it.
// The API user's time zone (from /myself) is fetched once and cached: JQL
// reads dates in it. Thread-safe (caches are guarded; the HTTP client is).
#pragma once

#include <memory>

#include "adapters/jira/jira_config.h"
#include "sync/backend.h"
#include "sync/clock.h"

namespace noxsync::jira {

// Fails when the HTTP client cannot be set up (an unreadable ca_file).
// `clock` and `sleeper` must outlive the backend.
Result<std::unique_ptr<Backend>> MakeJiraBackend(JiraConfig config, const Clock& clock, Sleeper& sleeper);

// "2026-11-29T10:00:00.000+0100", as Jira writes times -> UTC microseconds.
bool ParseJiraTime(std::string_view text, int64_t* micros);

// A JQL string literal: "value" with " and \ escaped.
std::string JqlQuote(std::string_view value);

}  // namespace noxsync::jira
