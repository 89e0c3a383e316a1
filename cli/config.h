// NoxsyncConfig: the configuration file as the commands use it. One JSON
// object; unknown keys and bad values are errors with their JSON path;
// ${ENV_VAR} expands (docs/configuration.md).
//
// Today it holds the backends; rules, templates and the service join it with
// the sync engine. Secrets stay in Secret values and are never printed.
#pragma once

#include <optional>
#include <string>

#include "adapters/jira/jira_config.h"
#include "adapters/notify/webhook_notifier.h"
#include "adapters/servicenow/servicenow_config.h"
#include "sync/config_reader.h"
#include "sync/sync_config.h"

namespace noxsync::cli {

// The `service` section: what `noxsync serve` listens on and who may call it.
enum class Role { kIngest, kRead, kOperate };
struct ApiToken {
  std::string name;  // for logs: which client
  Secret token;
  Role role = Role::kRead;
};
struct ServiceConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
  Secret webhook_secret;  // HMAC-SHA256 key of POST /v1/events
  // Also accepted while senders move to a new webhook_secret; empty: none.
  Secret webhook_previous_secret;
  std::vector<ApiToken> tokens;
  bool open_metrics = true;  // /metrics without a token
  int64_t max_body_bytes = 1 << 20;
  // Lines of one webhook body. Each becomes a log record, a rejected one
  // too (kept as evidence), and a result in the answer: without a bound, a
  // 1 MiB body of 2-byte junk lines made 524,278 records, a 39 MB answer
  // and a 452 MiB peak. A real event is some 400 bytes, so a body at
  // max_body_bytes holds about 2,600.
  int64_t max_events_per_request = 10'000;
  int64_t max_connections = 512;
  int64_t header_timeout_ms = 10'000;
  int64_t body_timeout_ms = 30'000;
  int64_t idle_timeout_ms = 60'000;
  int64_t signature_max_age_s = 300;
  int64_t drain_seconds = 20;
  int threads = 2;
  // Rows a listing (/v1/incidents, /v1/audit) examines for one page; a
  // filter that matches little answers a shorter page with a cursor instead
  // of holding an I/O thread over the whole store.
  int64_t max_scan_rows = 100'000;
  // The bytes one page of an API read (a listing, a history, an audit page)
  // may hold; it ends early with a cursor past that. Records carry the raw
  // Noxys event, which may be up to max_body_bytes.
  int64_t max_page_bytes = 8 << 20;
  // The bytes of read answers held while clients download them; a read
  // asked for beyond that gets 503, so clients that ask and never read
  // cannot take the server's memory.
  int64_t max_pages_in_flight_bytes = 64 << 20;
};

struct NoxsyncConfig {
  std::optional<jira::JiraConfig> jira;
  std::optional<servicenow::ServiceNowConfig> servicenow;
  std::vector<notify::WebhookConfig> notifications;
  SyncConfig sync = SyncConfig::Defaults();  // priorities, rules, templates, field mapping, sync
  std::optional<ServiceConfig> service;

  std::vector<std::string> BackendNames() const;
};

// Reads and checks `path`. Problems (errors and warnings) go to *problems;
// the result is meaningful only when problems->ok().
NoxsyncConfig LoadConfig(const std::string& path, ConfigProblems* problems);

// Prints warnings as "noxsync: warning: ..." and errors as
// "noxsync: PATH: ..." to stderr.
void PrintProblems(const std::string& path, const ConfigProblems& problems);

}  // namespace noxsync::cli
