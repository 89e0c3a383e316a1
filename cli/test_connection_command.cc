// `noxsync test-connection jira|servicenow --config FILE`: checks the
// credentials, the target and the rights noxsync needs, and says in one line
// what works or the one thing that does not.

#include <algorithm>
#include <cstdio>

#include <boost/json.hpp>

#include "adapters/jira/jira_backend.h"
#include "adapters/notify/webhook_notifier.h"
#include "adapters/servicenow/servicenow_backend.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "sync/backend.h"
#include "sync/printable.h"

namespace noxsync::cli {
namespace {

constexpr const char* kUsage = R"(usage: noxsync test-connection jira|servicenow|notifications --config FILE [--json]

Connects to the backend with the configuration's credentials and checks what
noxsync needs there; nothing is created.

  jira        the credentials and the API user's time zone (/myself), the
              project, the issue type, the rights to browse, create,
              transition and comment
  servicenow  the credentials (and the OAuth token), reading the table, and
              the role that lets the user create and update its records
  notifications
              posts a message marked as a test to every Slack and Teams
              channel of the configuration (a webhook cannot be checked
              without posting)

Prints

  ✓ Successfully connected to Jira (user ..., project SEC, issue type Security)
  ✓ Successfully connected to ServiceNow (user svc_noxsync, table incident)

or the one reason it cannot work (bad credentials, project or table not
found, issue type missing, no permission, TLS failure, name not resolved,
timeout) and what to change.

  --config FILE  the configuration (docs/configuration.md, docs/jira.md,
                 docs/servicenow.md)
  --json         {"backend":"jira","ok":true,"user":...,"detail":...,"warnings":[...]}

Exit: 0 connected, 1 the check failed, 2 usage or configuration error.
)";

// Posts a test message to every channel; one line per channel.
int TestNotifications(const NoxsyncConfig& config, const std::string& path, bool json_out) {
  if (config.notifications.empty()) return Fail(kExitUsage, path + ": no notifications to test");
  SystemClock clock;
  SystemSleeper sleeper;
  Notification n;
  n.kind = Notification::Kind::kTest;
  n.incident_id = "inc_test";
  n.title = "noxsync can post here (no incident)";
  n.platform = "ChatGPT";
  n.risk_ppm = 950000;
  n.severity = "Critical";
  n.user = "test@noxsync.invalid";
  n.classifications = {"EMAIL (0.95)"};
  n.detail = "This is a test message from noxsync test-connection notifications.";
  bool all_ok = true;
  boost::json::array results;
  for (auto channel : config.notifications) {
    channel.http.retry.max_attempts = std::min(channel.http.retry.max_attempts, 2);
    channel.http.retry.max_total_us = std::min<int64_t>(channel.http.retry.max_total_us, 10'000'000);
    auto notifier = notify::MakeWebhookNotifier(channel, clock, sleeper);
    Status s = notifier.ok() ? (*notifier)->Send(n) : notifier.status();
    std::string name = std::string(channel.kind == notify::WebhookKind::kSlack ? "slack:" : "teams:") + channel.name;
    all_ok = all_ok && s.ok();
    if (json_out) {
      boost::json::object o{{"channel", name}, {"ok", s.ok()}};
      if (!s.ok()) o["error"] = s.message();
      results.push_back(std::move(o));
    } else if (s.ok()) {
      std::printf("✓ %s: test message delivered\n", name.c_str());
    } else {
      std::fprintf(stderr, "✗ %s: %s\n", name.c_str(), PrintableText(s.message()).c_str());
    }
  }
  if (json_out) std::printf("%s\n", boost::json::serialize(results).c_str());
  return all_ok ? kExitOk : kExitFailure;
}

}  // namespace

int RunTestConnection(const Argv& argv) {
  Args args({"--json"}, {"--config"});
  std::string error;
  if (!args.Parse(argv, &error)) return Fail(kExitUsage, error + "\n\n" + kUsage);
  if (args.help()) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (args.positional().size() != 1) {
    return Fail(kExitUsage, std::string("name one backend: jira or servicenow\n\n") + kUsage);
  }
  const std::string& backend_name = args.positional()[0];
  if (!IsBackendName(backend_name) && backend_name != "notifications") {
    return Fail(kExitUsage, "unknown backend \"" + backend_name + "\"; use jira, servicenow or notifications");
  }
  if (!args.Given("--config")) return Fail(kExitUsage, std::string("--config FILE is required\n\n") + kUsage);
  std::string path = args.Get("--config");

  ConfigProblems problems;
  NoxsyncConfig config = LoadConfig(path, &problems);
  PrintProblems(path, problems);
  if (!problems.ok()) return kExitUsage;
  if (backend_name == "notifications") return TestNotifications(config, path, args.Has("--json"));
  bool is_jira = backend_name == "jira";
  if (is_jira ? !config.jira : !config.servicenow) {
    return Fail(kExitUsage, path + ": no backends." + backend_name + " section to test");
  }
  // A person is waiting: two attempts within ten seconds, not the sync
  // engine's patient retry budget.
  http::ClientOptions& http = is_jira ? config.jira->http : config.servicenow->http;
  http.retry.max_attempts = std::min(http.retry.max_attempts, 2);
  http.retry.max_total_us = std::min<int64_t>(http.retry.max_total_us, 10'000'000);
  SystemClock clock;
  SystemSleeper sleeper;
  auto backend = is_jira ? jira::MakeJiraBackend(*config.jira, clock, sleeper)
                         : servicenow::MakeServiceNowBackend(*config.servicenow, clock, sleeper);
  if (!backend.ok()) return Fail(kExitUsage, backend.status().message());
  auto report = (*backend)->TestConnection();
  const char* display = is_jira ? "Jira" : "ServiceNow";

  if (args.Has("--json")) {
    boost::json::object o{{"backend", backend_name}, {"ok", report.ok()}};
    if (report.ok()) {
      o["user"] = report->user;
      o["detail"] = report->summary;
      boost::json::array w;
      for (const auto& s : report->warnings) w.push_back(boost::json::string(s));
      o["warnings"] = std::move(w);
    } else {
      o["error"] = report.status().message();
    }
    std::printf("%s\n", boost::json::serialize(o).c_str());
    return report.ok() ? kExitOk : kExitFailure;
  }
  if (!report.ok()) {
    std::fprintf(stderr, "✗ Cannot use %s: %s\n", display, PrintableText(report.status().message()).c_str());
    return kExitFailure;
  }
  // The user's name and the summary come from the backend's answers.
  std::printf("✓ Successfully connected to %s (user %s, %s)\n", display, PrintableText(report->user).c_str(),
              PrintableText(report->summary).c_str());
  for (const auto& w : report->warnings) std::printf("  ! %s\n", PrintableText(w).c_str());
  return kExitOk;
}

}  // namespace noxsync::cli
