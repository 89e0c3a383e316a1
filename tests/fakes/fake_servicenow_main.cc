// noxsync-fake-servicenow: the fake ServiceNow as a program, for the demo and
// for trying noxsync by hand without an instance. Listens on 127.0.0.1 only.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fakes/fake_program.h"
#include "tests/fakes/fake_servicenow.h"

namespace {

constexpr const char* kUsage = R"(usage: noxsync-fake-servicenow --port N [--table NAME]

A stateful fake of ServiceNow's Table API and OAuth token endpoint on
127.0.0.1, for demos and manual tries.

Options:
  --port N        port to listen on (0: any free port; printed)
  --table NAME    the task table (default incident)

Credentials: user svc_noxsync, OAuth client fake-oauth-client; the password
and client secret are read from FAKE_SERVICENOW_PASSWORD and
FAKE_SERVICENOW_CLIENT_SECRET (defaults in tests/fakes/fake_servicenow.h).

Control API (no auth): GET /_fake/records, GET /_fake/requests,
POST /_fake/records/INC0000001/state {"state":"6"}, .../work_note {"text":"..."},
.../assign {"assigned_to":"..."}, POST /_fake/expire_tokens,
POST /_fake/faults {"endpoint":"POST /api/now/table/incident","status":429,
"retry_after":"5","times":2} (kind: reset|truncated|malformed).
)";

}  // namespace

int main(int argc, char** argv) {
  noxsync::fakes::FakeServiceNowOptions options;
  int port = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "noxsync-fake-servicenow: %s needs a value\n\n%s", a.c_str(), kUsage);
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--port") {
      port = noxsync::fakes::ParsePortOrExit(v.c_str(), kUsage);
    } else if (a == "--table") {
      options.table = v;
    } else {
      std::fprintf(stderr, "noxsync-fake-servicenow: unknown option %s\n\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (port < 0) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (const char* v = std::getenv("FAKE_SERVICENOW_PASSWORD")) options.password = v;
  if (const char* v = std::getenv("FAKE_SERVICENOW_CLIENT_SECRET")) options.client_secret = v;
  noxsync::SystemClock clock;
  noxsync::fakes::FakeServiceNow servicenow(clock, options);
  return noxsync::fakes::ServeUntilSignal(
      port, [&](const noxsync::fakes::FakeRequest& r) { return servicenow.Handle(r); },
      "fake ServiceNow (table " + options.table + ")");
}
