// The fake backends as programs: they start on a free port, serve the API
// and the control API, and stop on SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "adapters/http/http_client.h"
#include "tests/run_command.h"
#include "tests/temp_dir.h"

namespace noxsync {
namespace {

TEST(FakeJiraProgram, ServesTheApiAndTheControlApiAndStopsOnSigterm) {
  testing::TempDir dir;
  std::string out = dir.Sub("fake.out");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::execl(NOXSYNC_FAKE_JIRA, NOXSYNC_FAKE_JIRA, "--port", "0", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::string url;
  for (int i = 0; i < 100 && url.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::string text = testing::ReadFile(out);
    size_t at = text.find("listening on ");
    if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
      url = text.substr(at + 13, text.find('\n', at) - at - 13);
    }
  }
  ASSERT_FALSE(url.empty()) << testing::ReadFile(out);

  SystemClock clock;
  SystemSleeper sleeper;
  http::ClientOptions o;
  o.proxy = http::ProxyOptions{};
  auto client = std::move(http::HttpClient::Create(o, clock, sleeper)).value();
  auto send = [&](const std::string& method, const std::string& path, const std::string& body, bool auth) {
    http::Request r;
    r.method = method;
    r.url = url + path;
    r.body = body;
    if (auth) r.headers.push_back({"Authorization", http::BasicAuth("noxsync@acme.example", Secret("fake-jira-api-token"))});
    return client->Send(r);
  };
  auto created = send("POST", "/rest/api/3/issue",
                      R"({"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Task"},"summary":"hello"}})", true);
  ASSERT_TRUE(created.ok()) << created.error;
  EXPECT_EQ(created.response.status, 201) << created.response.body;
  EXPECT_EQ(send("GET", "/rest/api/3/myself", "", false).response.status, 401);
  auto moved = send("POST", "/_fake/issues/SEC-1/move", R"({"status":"In Progress"})", false);
  EXPECT_EQ(moved.response.status, 200) << moved.response.body;
  auto issues = send("GET", "/_fake/issues", "", false);
  EXPECT_NE(issues.response.body.find(R"("status":"In Progress")"), std::string::npos) << issues.response.body;

  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(FakeServiceNowProgram, StartsAndStopsOnSigterm) {
  testing::TempDir dir;
  std::string out = dir.Sub("fake.out");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::execl(NOXSYNC_FAKE_SERVICENOW, NOXSYNC_FAKE_SERVICENOW, "--port", "0", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::string url;
  for (int i = 0; i < 100 && url.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::string text = testing::ReadFile(out);
    size_t at = text.find("listening on ");
    if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
      url = text.substr(at + 13, text.find('\n', at) - at - 13);
    }
  }
  ASSERT_FALSE(url.empty()) << testing::ReadFile(out);
  SystemClock clock;
  SystemSleeper sleeper;
  http::ClientOptions o;
  o.proxy = http::ProxyOptions{};
  auto client = std::move(http::HttpClient::Create(o, clock, sleeper)).value();
  http::Request r;
  r.method = "POST";
  r.url = url + "/api/now/table/incident";
  r.body = R"({"short_description":"hello","correlation_id":"inc_1","correlation_display":"Noxys"})";
  r.headers.push_back({"Authorization", http::BasicAuth("svc_noxsync", Secret("fake-servicenow-password"))});
  auto created = client->Send(r);
  ASSERT_TRUE(created.ok()) << created.error;
  EXPECT_EQ(created.response.status, 201) << created.response.body;
  EXPECT_NE(created.response.body.find(R"("number":"INC0000001")"), std::string::npos);
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace noxsync
