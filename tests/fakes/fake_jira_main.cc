// noxsync-fake-jira: the fake Jira as a program, for the demo and for trying
// noxsync by hand without a Jira instance. Listens on 127.0.0.1 only.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fakes/fake_jira.h"
#include "tests/fakes/fake_program.h"

namespace {

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
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "noxsync-fake-jira: %s needs a value\n\n%s", a.c_str(), kUsage);
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--port") {
      port = noxsync::fakes::ParsePortOrExit(v.c_str(), kUsage);
    } else if (a == "--api-version" && (v == "2" || v == "3")) {
      options.api_version = std::stoi(v);
    } else if (a == "--project") {
      options.project = v;
    } else if (a == "--time-zone") {
      options.time_zone = v;
    } else {
      std::fprintf(stderr, "noxsync-fake-jira: bad option %s %s\n\n%s", a.c_str(), v.c_str(), kUsage);
      return 2;
    }
  }
  if (port < 0) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (const char* v = std::getenv("FAKE_JIRA_API_TOKEN")) options.api_token = v;
  if (const char* v = std::getenv("FAKE_JIRA_PASSWORD")) options.password = v;
  if (const char* v = std::getenv("FAKE_JIRA_PAT")) options.personal_access_token = v;
  noxsync::SystemClock clock;
  noxsync::fakes::FakeJira jira(clock, options);
  std::string banner = "fake Jira (REST v" + std::to_string(options.api_version) + ", project " + options.project + ")";
  return noxsync::fakes::ServeUntilSignal(
      port, [&](const noxsync::fakes::FakeRequest& r) { return jira.Handle(r); }, banner,
      [&](const std::string& url) { jira.set_base_url(url); });
}
