// noxsync-fake-jira: the fake Jira as a program, for the demo and for trying
// noxsync by hand without a Jira instance. Listens on 127.0.0.1 only.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "tests/fakes/fake_jira.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

constexpr const char* kUsage = R"(usage: noxsync-fake-jira --port N [options]

A stateful fake of Jira's REST API on 127.0.0.1, for demos and manual tries.

Options:
  --port N            port to listen on (0: any free port; printed)
  --api-version 3|2   Jira Cloud (3, default) or Data Center (2)
  --project KEY       project key (default SEC)
  --time-zone ZONE    the API user's time zone (default Europe/Paris)

Credentials: the API user is noxsync@acme.example (v3) or noxsync (v2); the
token, password and personal access token are read from the environment
variables FAKE_JIRA_API_TOKEN, FAKE_JIRA_PASSWORD and FAKE_JIRA_PAT (defaults
in tests/fakes/fake_jira.h).

Control API (no auth): GET /_fake/issues, GET /_fake/requests,
POST /_fake/issues/KEY/move {"status":"Done"}, .../comment {"text":"..."},
.../priority {"name":"High"}, POST /_fake/faults {"endpoint":"POST /rest/api/3/issue",
"status":429,"retry_after":"5","times":2} (kind: reset|truncated|malformed).
)";

}  // namespace

int main(int argc, char** argv) {
  noxsync::fakes::FakeJiraOptions options;
  int port = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "noxsync-fake-jira: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port") {
      port = std::atoi(value().c_str());
    } else if (a == "--api-version") {
      options.api_version = std::atoi(value().c_str());
    } else if (a == "--project") {
      options.project = value();
    } else if (a == "--time-zone") {
      options.time_zone = value();
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "noxsync-fake-jira: unknown option %s\n\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (port < 0 || port > 65535 || (options.api_version != 2 && options.api_version != 3)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (const char* v = std::getenv("FAKE_JIRA_API_TOKEN")) options.api_token = v;
  if (const char* v = std::getenv("FAKE_JIRA_PASSWORD")) options.password = v;
  if (const char* v = std::getenv("FAKE_JIRA_PAT")) options.personal_access_token = v;
  noxsync::SystemClock clock;
  noxsync::fakes::FakeJira jira(clock, options);
  noxsync::fakes::FakeHttpServer server;
  std::string error;
  if (!server.Start(static_cast<uint16_t>(port),
                    [&](const noxsync::fakes::FakeRequest& r) { return jira.Handle(r); }, &error)) {
    std::fprintf(stderr, "noxsync-fake-jira: %s\n", error.c_str());
    return 1;
  }
  jira.set_base_url(server.base_url());
  std::printf("fake Jira (REST v%d, project %s) listening on %s\n", options.api_version, options.project.c_str(),
              server.base_url().c_str());
  std::fflush(stdout);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.Stop();
  return 0;
}
