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

// A fake backend program on a free port; stopped with SIGTERM by Stop().
class FakeProgram {
 public:
  explicit FakeProgram(const char* binary) : out_(dir_.Sub("fake.out")) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::execl(binary, binary, "--port", "0", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && url_.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::string text = testing::ReadFile(out_);
      size_t at = text.find("listening on ");
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        url_ = text.substr(at + 13, text.find('\n', at) - at - 13);
      }
    }
  }
  ~FakeProgram() {
    if (pid_ > 0) Stop();
  }
  const std::string& url() const { return url_; }
  std::string output() const { return testing::ReadFile(out_); }
  // SIGTERM; the exit code, or -1 if it did not exit normally.
  int Stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  testing::TempDir dir_;
  std::string out_;
  pid_t pid_ = -1;
  std::string url_;
};

http::Outcome Send(const std::string& method, const std::string& url, const std::string& body,
                   const std::string& authorization) {
  static SystemClock clock;
  static SystemSleeper sleeper;
  http::ClientOptions o;
  o.proxy = http::ProxyOptions{};
  auto client = std::move(http::HttpClient::Create(o, clock, sleeper)).value();
  http::Request r;
  r.method = method;
  r.url = url;
  r.body = body;
  if (!authorization.empty()) r.headers.push_back({"Authorization", authorization});
  return client->Send(r);
}

TEST(FakeJiraProgram, ServesTheApiAndTheControlApiAndStopsOnSigterm) {
  FakeProgram fake(NOXSYNC_FAKE_JIRA);
  ASSERT_FALSE(fake.url().empty()) << fake.output();
  std::string auth = http::BasicAuth("noxsync@acme.example", Secret("fake-jira-api-token"));
  auto created = Send("POST", fake.url() + "/rest/api/3/issue",
                      R"({"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Task"},"summary":"hello"}})", auth);
  ASSERT_TRUE(created.ok()) << created.error;
  EXPECT_EQ(created.response.status, 201) << created.response.body;
  EXPECT_EQ(Send("GET", fake.url() + "/rest/api/3/myself", "", "").response.status, 401);
  auto moved = Send("POST", fake.url() + "/_fake/issues/SEC-1/move", R"({"status":"In Progress"})", "");
  EXPECT_EQ(moved.response.status, 200) << moved.response.body;
  auto issues = Send("GET", fake.url() + "/_fake/issues", "", "");
  EXPECT_NE(issues.response.body.find(R"("status":"In Progress")"), std::string::npos) << issues.response.body;
  EXPECT_EQ(fake.Stop(), 0);
}

TEST(FakeServiceNowProgram, StartsAndStopsOnSigterm) {
  FakeProgram fake(NOXSYNC_FAKE_SERVICENOW);
  ASSERT_FALSE(fake.url().empty()) << fake.output();
  auto created = Send("POST", fake.url() + "/api/now/table/incident",
                      R"({"short_description":"hello","correlation_id":"inc_1","correlation_display":"Noxys"})",
                      http::BasicAuth("svc_noxsync", Secret("fake-servicenow-password")));
  ASSERT_TRUE(created.ok()) << created.error;
  EXPECT_EQ(created.response.status, 201) << created.response.body;
  EXPECT_NE(created.response.body.find(R"("number":"INC0000001")"), std::string::npos);
  EXPECT_EQ(fake.Stop(), 0);
}

}  // namespace
}  // namespace noxsync
