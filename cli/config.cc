#include "cli/config.h"

#include <algorithm>

#include <cstdio>
#include <set>

#include <boost/json.hpp>

#include "cli/logging.h"

namespace noxsync::cli {

std::vector<std::string> NoxsyncConfig::BackendNames() const {
  std::vector<std::string> names;
  if (jira) names.push_back("jira");
  if (servicenow) names.push_back("servicenow");
  return names;
}

ServiceConfig ReadServiceConfig(ConfigSection* s) {
  ServiceConfig c;
  std::string listen = s->Str("listen", c.host + ":" + std::to_string(c.port));
  size_t colon = listen.rfind(':');
  bool port_ok = colon != std::string::npos && colon + 1 < listen.size() && listen.size() - colon <= 6 &&
                 std::all_of(listen.begin() + colon + 1, listen.end(), ::isdigit);
  if (!port_ok || std::stoi(listen.substr(colon + 1)) > 65535) {
    s->Error("listen", "\"" + listen + "\": use HOST:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080");
  } else {
    c.host = listen.substr(0, colon);
    if (c.host.size() > 2 && c.host.front() == '[' && c.host.back() == ']') c.host = c.host.substr(1, c.host.size() - 2);
    c.port = std::stoi(listen.substr(colon + 1));
  }
  c.webhook_secret = s->RequiredSecret("webhook_secret");
  if (!c.webhook_secret.empty() && c.webhook_secret.reveal().size() < 16) {
    s->Error("webhook_secret", "is shorter than 16 characters; use a long random value (openssl rand -hex 32)");
  }
  c.webhook_previous_secret = s->OptionalSecret("webhook_previous_secret");
  if (!c.webhook_previous_secret.empty()) {
    if (c.webhook_previous_secret.reveal().size() < 16) {
      s->Error("webhook_previous_secret", "is shorter than 16 characters; it must be the secret senders used until now");
    } else if (c.webhook_previous_secret.reveal() == c.webhook_secret.reveal()) {
      s->Error("webhook_previous_secret", "is the same as webhook_secret; set webhook_secret to the new secret");
    }
  }
  std::set<std::string> names;
  for (auto& t : s->SectionList("tokens")) {
    ApiToken tok;
    tok.name = t.RequiredStr("name");
    tok.token = t.RequiredSecret("token");
    std::string role = t.RequiredStr("role");
    if (role == "ingest") {
      tok.role = Role::kIngest;
    } else if (role == "read") {
      tok.role = Role::kRead;
    } else if (role == "operate") {
      tok.role = Role::kOperate;
    } else if (!role.empty()) {
      t.Error("role", "\"" + role + "\": use ingest, read or operate");
    }
    if (!tok.token.empty() && tok.token.reveal().size() < 16) {
      t.Error("token", "is shorter than 16 characters; use a long random value (openssl rand -hex 32)");
    }
    if (!tok.name.empty() && !names.insert(tok.name).second) t.Error("name", "\"" + tok.name + "\" is used twice");
    // One token for two entries gives it one of their roles, and the other
    // entry's client is refused (or let in) by the order of the list.
    // The signature proves a webhook came from who holds the secret, beside
    // the token; one value for both would make it prove nothing more.
    if (!tok.token.empty() && (tok.token.reveal() == c.webhook_secret.reveal() ||
                               tok.token.reveal() == c.webhook_previous_secret.reveal())) {
      t.Error("token", "is the same as the webhook secret; use different random values for the two");
    }
    for (const ApiToken& earlier : c.tokens) {
      if (!tok.token.empty() && earlier.token.reveal() == tok.token.reveal()) {
        t.Error("token", "is the same as the token of \"" + earlier.name + "\"; give each client its own token");
        break;
      }
    }
    t.Finish();
    c.tokens.push_back(std::move(tok));
  }
  if (c.tokens.empty()) s->Error("tokens", "no API token: add at least one (an ingest token for Noxys)");
  if (!c.tokens.empty() &&
      std::none_of(c.tokens.begin(), c.tokens.end(), [](const ApiToken& t) { return t.role == Role::kIngest; })) {
    // A store served for reading only is a fair use; more often the Noxys
    // token was forgotten, and every webhook would get 403.
    s->Warn("tokens", "no token has the ingest role: POST /v1/events refuses every webhook until one does");
  }
  c.open_metrics = s->Bool("open_metrics", c.open_metrics);
  c.max_body_bytes = s->Int("max_body_bytes", c.max_body_bytes, 1024, 64ll << 20);
  c.max_events_per_request = s->Int("max_events_per_request", c.max_events_per_request, 1, 1'000'000);
  c.max_connections = s->Int("max_connections", c.max_connections, 1, 100000);
  c.header_timeout_ms = s->Int("header_timeout_seconds", c.header_timeout_ms / 1000, 1, 3600) * 1000;
  c.body_timeout_ms = s->Int("body_timeout_seconds", c.body_timeout_ms / 1000, 1, 3600) * 1000;
  c.idle_timeout_ms = s->Int("idle_timeout_seconds", c.idle_timeout_ms / 1000, 1, 3600) * 1000;
  c.signature_max_age_s = s->Int("signature_max_age_seconds", c.signature_max_age_s, 10, 3600);
  c.drain_seconds = s->Int("drain_seconds", c.drain_seconds, 1, 600);
  c.threads = static_cast<int>(s->Int("threads", c.threads, 1, 64));
  c.max_scan_rows = s->Int("max_scan_rows", c.max_scan_rows, 1, 100'000'000);
  c.max_page_bytes = s->Int("max_page_bytes", c.max_page_bytes, 64 << 10, 1ll << 30);
  c.max_pages_in_flight_bytes = s->Int("max_pages_in_flight_bytes", c.max_pages_in_flight_bytes, 64 << 10, 64ll << 30);
  if (c.max_pages_in_flight_bytes < c.max_page_bytes) {
    s->Error("max_pages_in_flight_bytes", "is below max_page_bytes (" + std::to_string(c.max_page_bytes) +
                                              "): one page would never fit; raise it or lower max_page_bytes");
  }
  s->Finish();
  return c;
}

NoxsyncConfig LoadConfig(const std::string& path, ConfigProblems* problems) {
  NoxsyncConfig config;
  auto doc = LoadConfigFile(path);
  if (!doc.ok()) {
    problems->errors.push_back(doc.status().message());
    return config;
  }
  const boost::json::object& root = (*doc)->get_object();
  ConfigSection top(root, "", problems);
  if (auto backends = top.Section("backends")) {
    if (auto jira = backends->Section("jira")) config.jira = jira::ReadJiraConfig(&*jira);
    if (auto sn = backends->Section("servicenow")) config.servicenow = servicenow::ReadServiceNowConfig(&*sn);
    backends->Finish();
  }
  std::set<std::string> names;
  for (auto& section : top.SectionList("notifications")) {
    config.notifications.push_back(notify::ReadWebhookConfig(&section));
    const auto& c = config.notifications.back();
    if (!c.name.empty() && !names.insert(c.name).second) {
      section.Error("name", "\"" + c.name + "\" is used by another channel; names must be unique");
    }
  }
  ReadSyncConfig(&top, config.BackendNames(), &config.sync);
  if (auto sv = top.Section("service")) config.service = ReadServiceConfig(&*sv);
  top.Finish();
  return config;
}

void PrintProblems(const std::string& path, const ConfigProblems& problems) {
  // Through the log too: a service's warnings (a secret written in the
  // file) belong where its operators read.
  for (const auto& w : problems.warnings) Announce(Say::kWarning, path + ": " + w);
  for (const auto& e : problems.errors) {
    // LoadConfigFile's own messages already name the file.
    Announce(Say::kError, e.rfind(path, 0) == 0 ? e : path + ": " + e);
  }
}

}  // namespace noxsync::cli
