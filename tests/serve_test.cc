// noxsync serve end to end: the binary on a real socket, called as Noxys, a
// dashboard and an operator would call it, with the fake Jira behind it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "adapters/http/http_client.h"
#include "cli/commands.h"
#include "store/event_log.h"
#include "sync/timestamp.h"
#include "tests/fakes/fake_jira.h"
#include "tests/fakes/test_support.h"
#include "tests/loopback.h"
#include "tests/run_command.h"
#include "tests/temp_dir.h"

namespace noxsync {
namespace {

constexpr const char* kSecret = "whsec-test-0123456789abcdef";
constexpr const char* kIngest = "tok-ingest-0123456789abcdef";
constexpr const char* kRead = "tok-read-0123456789abcdef";
constexpr const char* kOperate = "tok-operate-0123456789abcdef";

std::string Event(const std::string& id, const std::string& user = "alice@acme.fr", double risk = 0.95) {
  return R"({"event_id":")" + id +
         R"(","timestamp":"2026-03-20T14:32:00Z","platform_id":"chatgpt","platform_name":"ChatGPT","user_email":")" +
         user + R"(","risk_score":)" + std::to_string(risk) +
         R"(,"classifications":[{"type":"EMAIL","value":"x","confidence":0.9}],"policy_decisions":{"action":"BLOCK","policy_id":"p","policy_name":"n"}})";
}

class Serve : public ::testing::Test {
 protected:
  Serve() {
    jira_ = std::make_unique<fakes::FakeJira>(clock_, fakes::FakeJiraOptions{});
    std::string error;
    EXPECT_TRUE(jira_server_.Start(
        0,
        [this](const fakes::FakeRequest& r) {
          // A backend that hangs once, when a test asks for it.
          if (int ms = jira_stall_ms_.exchange(0); ms > 0) {
            jira_stalled_ = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
          }
          if (int ms = jira_delay_ms_.load(); ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
          return jira_->Handle(r);
        },
        &error));
    jira_->set_base_url(jira_server_.base_url());
  }
  ~Serve() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Starts `noxsync serve`; extra service keys after the required ones,
  // --log-file when log_file is given, and the fake Jira as its backend
  // unless `jira` is false.
  // The configuration Start uses, in serve.json; its path.
  std::string WriteConfig(const std::string& extra_service = "", bool jira = true) {
    std::string config = dir_.Sub("serve.json");
    std::ofstream(config) << "{"
                          << (jira ? R"("backends":{"jira":{"base_url":")" + jira_server_.base_url() +
                                         R"(","email":"noxsync@acme.example","api_token":"fake-jira-api-token","project":"SEC","issue_type":"Security"}},)"
                                   : std::string())
                          << R"("service":{"listen":")" << listen_ << R"(","webhook_secret":")" << kSecret << R"(","tokens":[)"
                          << R"({"name":"noxys","token":")" << kIngest << R"(","role":"ingest"},)"
                          << R"({"name":"dashboard","token":")" << kRead << R"(","role":"read"},)"
                          << R"({"name":"soc","token":")" << kOperate << R"(","role":"operate"}])" << extra_service
                          << "}}";
    return config;
  }

  void Start(const std::string& extra_service = "", const std::string& log_file = "", bool jira = true) {
    std::string config = WriteConfig(extra_service, jira);
    out_ = dir_.Sub("serve.out");
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      if (listen_fd_ >= 0) {  // as systemd passes noxsync.socket's socket
        int passed = ::dup(listen_fd_);  // a copy without close-on-exec
        if (passed != 3) {
          ::dup2(passed, 3);
          ::close(passed);
        }
        ::setenv("LISTEN_FDS", "1", 1);
        ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
      }
      std::string db = dir_.Sub("store");
      std::vector<std::string> args = {NOXSYNC_BIN, "serve", "--config", config, "--db", db};
      if (!log_file.empty()) args.insert(args.end(), {"--log-file", log_file});
      args.insert(args.end(), extra_args_.begin(), extra_args_.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(NOXSYNC_BIN, argv.data());
      ::_exit(127);
    }
    std::smatch m;
    std::regex listening("listening on 127\\.0\\.0\\.1:(\\d+)");
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::string text = testing::ReadFile(out_);
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_NE(port_, 0) << testing::ReadFile(out_);
  }

  // Fills the store, before Start, with `n` events of as many users: `n`
  // incidents, each wanting a ticket (inc_00000001 onwards).
  bool IngestDistinctIncidents(size_t n) {
    std::string file = dir_.Sub("distinct.jsonl");
    {
      std::ofstream out(file);
      for (size_t i = 0; i < n; ++i) out << Event("evt_d" + std::to_string(i), "u" + std::to_string(i) + "@acme.fr") << "\n";
    }
    return testing::RunNoxsync("ingest " + file + " --db " + dir_.Sub("store"), dir_.path()).exit_code == 0;
  }

  // SIGTERM and the exit code.
  int Stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // A plain socket to the server, to send bytes no client library would,
  // with reads that give up after 5 s; -1 when it cannot connect.
  // `receive_buffer` (bytes, before connecting) makes a client that reads slowly.
  int RawConnection(int receive_buffer = 0) const { return testing::ConnectLoopback(port_, receive_buffer, 5); }

  // Sends `bytes` on a new raw connection and returns all the server wrote
  // until it closed the connection (or 5 s passed without a byte).
  std::string ExchangeUntilClosed(const std::string& bytes) const {
    int fd = RawConnection();
    EXPECT_GE(fd, 0);
    if (fd < 0) return "";
    EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    std::string wire;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) wire.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return wire;
  }

  // The header of a signed webhook of `body`, as Noxys would send it on a
  // raw connection; `extra` is more header lines, each ending in \r\n.
  static std::string SignedHeader(const std::string& body, const std::string& extra = "") {
    const std::string ts = std::to_string(SystemClock().NowMicros() / 1'000'000);
    return "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kIngest) +
           "\r\nContent-Type: application/json\r\nX-Noxsync-Timestamp: " + ts +
           "\r\nX-Noxsync-Signature: sha256=" + cli::WebhookSignature(kSecret, ts, body) + "\r\n" + extra +
           "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  }

  std::unique_ptr<http::HttpClient> Client() {
    http::ClientOptions o;
    o.proxy = http::ProxyOptions{};
    o.retry.max_attempts = 1;
    o.request_timeout_us = 20'000'000;
    return std::move(http::HttpClient::Create(o, clock_, sleeper_)).value();
  }

  http::Response Call(http::HttpClient& c, const std::string& method, const std::string& path, const char* token,
                      const std::string& body = "", std::vector<http::Header> headers = {}) {
    http::Request r;
    r.method = method;
    r.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    r.body = body;
    r.headers = std::move(headers);
    if (token) r.headers.push_back({"Authorization", std::string("Bearer ") + token});
    http::Outcome out = c.Send(r);
    EXPECT_TRUE(out.ok()) << out.error;
    return out.response;
  }

  // A webhook as Noxys sends it: signed over the timestamp and the body.
  http::Response Post(http::HttpClient& c, const std::string& body, int64_t skew_s = 0,
                      const std::string& type = "application/x-ndjson", const char* token = kIngest,
                      const char* secret = kSecret) {
    std::string ts = std::to_string(SystemClock().NowMicros() / 1'000'000 + skew_s);
    return Call(c, "POST", "/v1/events", token, body,
                {{"Content-Type", type},
                 {"X-Noxsync-Timestamp", ts},
                 {"X-Noxsync-Signature", "sha256=" + cli::WebhookSignature(secret, ts, body)}});
  }

  testing::TempDir dir_;
  SystemClock clock_;
  SystemSleeper sleeper_;
  std::unique_ptr<fakes::FakeJira> jira_;
  std::atomic<int> jira_stall_ms_{0};  // the next Jira request waits this long
  std::atomic<bool> jira_stalled_{false};
  std::atomic<int> jira_delay_ms_{0};  // every Jira request waits this long (a slow backend)
  fakes::FakeHttpServer jira_server_;
  pid_t pid_ = 0;
  int port_ = 0;
  std::string out_;
  std::string listen_ = "127.0.0.1:0";  // service.listen
  int listen_fd_ = -1;                  // a listening socket Start passes as systemd would; -1: none
  std::vector<std::string> extra_args_;  // more arguments Start passes to serve
};

TEST_F(Serve, EveryRouteChecksTheTokenAndItsRole) {
  Start();
  auto c = Client();
  ASSERT_EQ(Post(*c, Event("evt_a")).status, 202);
  struct Case {
    const char* method;
    std::string path;
    std::string body;
    const char* wrong_role;  // a token whose role may not call it
    const char* right;
    int ok_status;
  };
  std::vector<Case> cases = {
      {"GET", "/v1/incidents", "", kIngest, kRead, 200},
      {"GET", "/v1/incidents/inc_00000001", "", kIngest, kRead, 200},
      {"GET", "/v1/incidents/inc_00000001/history", "", kIngest, kOperate, 200},
      {"GET", "/v1/audit", "", kIngest, kRead, 200},
      {"GET", "/v1/audit/head", "", kIngest, kRead, 200},
      {"GET", "/v1/reports/summary", "", kIngest, kRead, 200},
      {"GET", "/v1/reports/by_platform?since=2026-01-01", "", kIngest, kOperate, 200},
      {"GET", "/v1/tickets/jira/SEC-404", "", kIngest, kRead, 404},
      {"GET", "/v1/events/evt_a", "", kIngest, kRead, 200},
      {"POST", "/v1/incidents/inc_00000001/status", R"({"status":"In Progress"})", kRead, kOperate, 200},
  };
  for (const auto& k : cases) {
    EXPECT_EQ(Call(*c, k.method, k.path, nullptr, k.body).status, 401) << k.path;
    EXPECT_EQ(Call(*c, k.method, k.path, "not-a-token-at-all-000000", k.body).status, 401) << k.path;
    auto wrong = Call(*c, k.method, k.path, k.wrong_role, k.body);
    EXPECT_EQ(wrong.status, 403) << k.path;
    EXPECT_NE(wrong.body.find("this route needs"), std::string::npos) << wrong.body;
    EXPECT_EQ(Call(*c, k.method, k.path, k.right, k.body).status, k.ok_status) << k.path;
  }
  auto report = Call(*c, "GET", "/v1/reports/summary", kRead);
  EXPECT_NE(report.body.find(R"("summary":{"incidents":1,)"), std::string::npos) << report.body;
  auto view = Call(*c, "GET", "/v1/reports/by_platform", kRead);
  EXPECT_NE(view.body.find(R"("by_platform":{"ChatGPT":1})"), std::string::npos) << view.body;
  // A view over a range with no incident is there, empty, not missing.
  auto empty = Call(*c, "GET", "/v1/reports/by_platform?since=2030-01-01", kRead);
  EXPECT_EQ(empty.status, 200) << empty.body;
  EXPECT_NE(empty.body.find(R"("by_platform":{})"), std::string::npos) << empty.body;
  // A range that ends before it starts was swapped by mistake: refused on
  // every route that takes one, rather than answered empty.
  for (const char* path : {"/v1/reports/summary", "/v1/incidents", "/v1/audit"}) {
    auto swapped = Call(*c, "GET", std::string(path) + "?since=2026-03-22&until=2026-03-01", kRead);
    EXPECT_EQ(swapped.status, 400) << path;
    EXPECT_NE(swapped.body.find("since=2026-03-22T00:00:00Z is after until=2026-03-01T23:59:59.999Z: nothing can be in "
                                "that range (were they swapped?)"),
              std::string::npos)
        << path << ": " << swapped.body;
  }
  auto zoneless = Call(*c, "GET", "/v1/audit?since=2026-03-20%2014:00:00", kRead);
  EXPECT_EQ(zoneless.status, 400);
  EXPECT_NE(zoneless.body.find("(a time needs its zone: Z for UTC, or an offset such as +02:00)"), std::string::npos)
      << zoneless.body;
  auto nope = Call(*c, "GET", "/v1/reports/nope", kRead);
  EXPECT_EQ(nope.status, 404);
  EXPECT_NE(nope.body.find("use summary (the whole report), tickets_created, "), std::string::npos) << nope.body;
  EXPECT_NE(nope.body.find(", trend, sla_breaches\""), std::string::npos) << nope.body;
  // The scheme's name is case-insensitive; the token is not.
  EXPECT_EQ(Call(*c, "GET", "/v1/audit/head", nullptr, "", {{"Authorization", std::string("bearer ") + kRead}}).status,
            200);
  EXPECT_EQ(Call(*c, "GET", "/v1/audit/head", nullptr, "", {{"Authorization", std::string("BEARER ") + kRead}}).status,
            200);
  std::string upper(kRead);
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  ASSERT_NE(upper, kRead);
  EXPECT_EQ(Call(*c, "GET", "/v1/audit/head", nullptr, "", {{"Authorization", "Bearer " + upper}}).status, 401);
  EXPECT_EQ(Call(*c, "GET", "/v1/audit/head", nullptr, "", {{"Authorization", std::string("Basic ") + kRead}}).status,
            401);
  // The webhook wants the ingest role, even from an operator.
  EXPECT_EQ(Post(*c, Event("evt_b"), 0, "application/x-ndjson", kOperate).status, 403);
  EXPECT_EQ(Post(*c, Event("evt_b"), 0, "application/x-ndjson", nullptr).status, 401);
  // Health and metrics are open.
  EXPECT_EQ(Call(*c, "GET", "/healthz", nullptr).status, 200);
  EXPECT_EQ(Call(*c, "GET", "/metrics", nullptr).status, 200);
  auto ready = Call(*c, "GET", "/readyz", nullptr);
  EXPECT_EQ(ready.status, 200) << ready.body;
  // No secret is in what serve printed.
  std::string log = testing::ReadFile(out_);
  for (const char* secret : {kSecret, kIngest, kRead, kOperate, "fake-jira-api-token"}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret;
  }
  EXPECT_EQ(Stop(), 0);
}

// The signature a sender computes with the documented scheme, from outside
// noxsync: printf '%s' '1764412800.{"event_id":"evt_1"}' |
//   openssl dgst -sha256 -hmac whsec-test
TEST(WebhookSignature, IsTheHmacSha256OfTimestampDotBody) {
  const char* want = "3f3e43a956b2deed875cb502b6a9a772701c48b18823d67d86e18178926838cd";
  EXPECT_EQ(cli::WebhookSignature("whsec-test", "1764412800", R"({"event_id":"evt_1"})"), want);
  // One keyed signer gives the same answer every time and from any thread.
  cli::WebhookSigner signer("whsec-test");
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got) {
    threads.emplace_back([&signer, &g] {
      for (int i = 0; i < 200; ++i) g = signer.Sign("1764412800", R"({"event_id":"evt_1"})");
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
  EXPECT_NE(signer.Sign("1764412801", R"({"event_id":"evt_1"})"), want);
}

// Rotating the webhook secret: the new one and the previous one are both
// accepted, any other refused, and a counter says when senders have moved.
TEST_F(Serve, DuringARotationThePreviousWebhookSecretIsAcceptedToo) {
  const char* kOld = "the-old-webhook-secret-0123456789";
  Start(std::string(R"(,"webhook_previous_secret":")") + kOld + "\"");
  auto c = Client();
  EXPECT_EQ(Post(*c, Event("evt_new")).status, 202);
  EXPECT_EQ(Post(*c, Event("evt_old", "bob@acme.fr"), 0, "application/x-ndjson", kIngest, kOld).status, 202);
  auto other = Post(*c, Event("evt_other"), 0, "application/x-ndjson", kIngest, "a-third-secret-0123456789");
  EXPECT_EQ(other.status, 401);
  EXPECT_NE(other.body.find("bad signature"), std::string::npos) << other.body;
  auto m = Call(*c, "GET", "/metrics", nullptr);
  EXPECT_NE(m.body.find("noxsync_webhook_previous_secret_requests_total 1\n"), std::string::npos) << m.body;
  EXPECT_EQ(Stop(), 0);
  // A previous secret equal to the current one is a mistake, said as such.
  std::string config = WriteConfig(std::string(R"(,"webhook_previous_secret":")") + kSecret + "\"");
  auto same = testing::RunNoxsync("config check --config " + config, dir_.path());
  EXPECT_NE(same.exit_code, 0);
  EXPECT_NE(same.err.find("service.webhook_previous_secret: is the same as webhook_secret"), std::string::npos)
      << same.err;
}

// One token under two names would carry one of their roles, chosen by the
// order of the list: a mistake, refused at start with neither token shown.
TEST_F(Serve, ATokenGivenToTwoClientsIsAConfigurationError) {
  std::string config = dir_.Sub("twice.json");
  std::ofstream(config) << R"({"service":{"listen":"127.0.0.1:0","webhook_secret":")" << kSecret
                        << R"(","tokens":[{"name":"noxys","token":")" << kIngest
                        << R"(","role":"ingest"},{"name":"soc","token":")" << kRead
                        << R"(","role":"read"},{"name":"dashboard","token":")" << kIngest
                        << R"(","role":"operate"}]}})";
  for (const std::string& command : {"config check --config " + config,
                                     "serve --config " + config + " --db " + dir_.Sub("store")}) {
    auto r = testing::RunNoxsync(command, dir_.path());
    EXPECT_EQ(r.exit_code, 2) << command << r.err;
    EXPECT_NE(r.err.find("service.tokens[2].token: is the same as the token of \"noxys\"; give each client its own "
                         "token"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find(kIngest), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("tokens[1].token: is the same"), std::string::npos) << r.err;
  }
  // Nor may a token be the webhook secret, which would then prove nothing more.
  std::ofstream(config) << R"({"service":{"listen":"127.0.0.1:0","webhook_secret":")" << kSecret
                        << R"(","tokens":[{"name":"noxys","token":")" << kSecret << R"(","role":"ingest"}]}})";
  auto r = testing::RunNoxsync("config check --config " + config, dir_.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("service.tokens[0].token: is the same as the webhook secret; use different random values for "
                       "the two"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find(kSecret), std::string::npos) << r.err;

  // No token for Noxys: a warning, since a store may be served for reading
  // only; config check passes and says it.
  std::ofstream(config) << R"({"service":{"listen":"127.0.0.1:0","webhook_secret":")" << kSecret
                        << R"(","tokens":[{"name":"soc","token":")" << kRead << R"(","role":"read"}]}})";
  r = testing::RunNoxsync("config check --config " + config, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: " + config + ": service.tokens: no token has the ingest role: POST /v1/events "
                       "refuses every webhook until one does"),
            std::string::npos)
      << r.err;
}

// What the bind says is passed on with what to do about it.
TEST_F(Serve, AnAddressItCannotListenOnIsNamedWithWhatToDo) {
  Start();
  const std::string taken = "127.0.0.1:" + std::to_string(port_);
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): no host is given it.
  for (const auto& [listen, advice] : {std::pair<std::string, std::string>{taken, "another process has the port"},
                                       {"192.0.2.1:0", "no network interface of this host has that address"}}) {
    listen_ = listen;
    std::string config = WriteConfig();
    // A timeout, should the bind succeed after all: a test that fails, not one that hangs.
    std::string cmd = "timeout 30 " NOXSYNC_BIN " serve --config " + config + " --db " + dir_.Sub("other-store") +
                      " >" + dir_.Sub("bind.out") + " 2>&1 </dev/null";
    int status = std::system(cmd.c_str());
    std::string out = testing::ReadFile(dir_.Sub("bind.out"));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << listen << ": " << status << " " << out;
    EXPECT_NE(out.find("cannot listen on " + listen + ": "), std::string::npos) << out;
    EXPECT_NE(out.find(advice), std::string::npos) << out;
    // Told before the store is opened: none is made for a serve that never ran.
    EXPECT_FALSE(std::filesystem::exists(dir_.Sub("other-store"))) << listen;
  }
  EXPECT_EQ(Stop(), 0);
}

TEST_F(Serve, TheWebhookSignatureIsCheckedAndAStaleOneRefused) {
  Start();
  auto c = Client();
  EXPECT_EQ(Post(*c, Event("evt_good")).status, 202);
  auto bad = Post(*c, Event("evt_bad"), 0, "application/x-ndjson", kIngest, "another-secret-0123456789");
  EXPECT_EQ(bad.status, 401);
  EXPECT_NE(bad.body.find("bad signature"), std::string::npos) << bad.body;
  auto stale = Post(*c, Event("evt_stale"), -400);
  EXPECT_EQ(stale.status, 401);
  EXPECT_NE(stale.body.find(" s old; requests signed over 300 s ago are refused (replay protection)"),
            std::string::npos)
      << stale.body;
  // Signed ahead of this host's clock: said as such, not as a negative age.
  auto future = Post(*c, Event("evt_future"), 400);
  EXPECT_EQ(future.status, 401);
  EXPECT_NE(future.body.find(" s ahead of this host's clock; over 300 s either way is refused"),
            std::string::npos)
      << future.body;
  // The hex of the signature is read in either case.
  {
    std::string ts = std::to_string(SystemClock().NowMicros() / 1'000'000);
    std::string upper = cli::WebhookSignature(kSecret, ts, Event("evt_upper"));
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    ASSERT_NE(upper, cli::WebhookSignature(kSecret, ts, Event("evt_upper")));  // it has letters to change
    EXPECT_EQ(Call(*c, "POST", "/v1/events", kIngest, Event("evt_upper"),
                   {{"Content-Type", "application/json"}, {"X-Noxsync-Timestamp", ts}, {"X-Noxsync-Signature", "sha256=" + upper}})
                  .status,
              202);
  }
  auto unsigned_ = Call(*c, "POST", "/v1/events", kIngest, Event("evt_unsigned"), {{"Content-Type", "application/json"}});
  EXPECT_EQ(unsigned_.status, 401);
  EXPECT_NE(unsigned_.body.find("not signed"), std::string::npos);
  // A body changed after signing fails too.
  std::string ts = std::to_string(SystemClock().NowMicros() / 1'000'000);
  auto tampered = Call(*c, "POST", "/v1/events", kIngest, Event("evt_x", "mallory@acme.fr"),
                       {{"Content-Type", "application/json"},
                        {"X-Noxsync-Timestamp", ts},
                        {"X-Noxsync-Signature", "sha256=" + cli::WebhookSignature(kSecret, ts, Event("evt_x"))}});
  EXPECT_EQ(tampered.status, 401);
  EXPECT_EQ(Stop(), 0);
  // Only the good event is in the log.
  auto history = testing::RunNoxsync("incidents --db " + dir_.Sub("store"), dir_.path());
  EXPECT_NE(history.out.find("alice@acme.fr"), std::string::npos) << history.out;
  EXPECT_EQ(history.out.find("mallory"), std::string::npos);
}

TEST_F(Serve, BodyLimitContentTypeAndMixedLinesAreAnsweredPerLine) {
  Start(R"(,"max_body_bytes":4096)");
  auto c = Client();
  std::string big(5000, ' ');
  EXPECT_EQ(Post(*c, Event("evt_big") + big).status, 413);
  EXPECT_EQ(Post(*c, Event("evt_t"), 0, "text/plain").status, 415);
  // Events are UTF-8: a body said to be in another charset is refused whole.
  auto utf16 = Post(*c, Event("evt_t"), 0, "application/json; charset=UTF-16");
  EXPECT_EQ(utf16.status, 415);
  EXPECT_NE(utf16.body.find(R"(charset \"utf-16\" is not accepted: send the events in UTF-8)"), std::string::npos)
      << utf16.body;
  {
    // Compressed bodies are refused whole, not parsed into rejected lines.
    std::string ts = std::to_string(SystemClock().NowMicros() / 1'000'000);
    std::string body = "\x1f\x8b\x08\x00 not really gzip";
    auto gz = Call(*c, "POST", "/v1/events", kIngest, body,
                   {{"Content-Type", "application/json"},
                    {"Content-Encoding", "GZIP"},
                    {"X-Noxsync-Timestamp", ts},
                    {"X-Noxsync-Signature", "sha256=" + cli::WebhookSignature(kSecret, ts, body)}});
    EXPECT_EQ(gz.status, 415);
    EXPECT_NE(gz.body.find(R"(content encoding \"gzip\" is not accepted)"), std::string::npos) << gz.body;
    // Any route: the server decodes no content coding.
    auto status = Call(*c, "POST", "/v1/incidents/inc_00000001/status", kOperate, "\x1f\x8b",
                       {{"Content-Type", "application/json"}, {"Content-Encoding", "br"}});
    EXPECT_EQ(status.status, 415) << status.body;
  }
  EXPECT_EQ(Post(*c, "").status, 400);
  std::string mixed = Event("evt_1") + "\n{not json\n" + Event("evt_2", "bob@acme.fr") + "\n" +
                      R"({"event_id":"evt_3","risk_score":2})" + "\n";
  auto r = Post(*c, mixed);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_NE(r.body.find(R"("accepted":2,"duplicate":0,"rejected":2)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"line":2,"result":"rejected","error":)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("line":4,"event_id":"evt_3","result":"rejected")"), std::string::npos) << r.body;
  // The answer is written by hand: it must parse, every line in order with
  // its own fields (the escaping itself: JsonText's tests).
  boost::system::error_code ec;
  auto parsed = boost::json::parse(r.body, ec);
  ASSERT_FALSE(ec) << r.body;
  const auto& lines = parsed.at("results").as_array();
  ASSERT_EQ(lines.size(), 4u) << r.body;
  EXPECT_EQ(lines[0].at("line").to_number<int>(), 1);
  EXPECT_EQ(lines[0].at("result").as_string(), "accepted");
  EXPECT_EQ(lines[0].at("event_id").as_string(), "evt_1");
  EXPECT_EQ(lines[0].at("incident").as_string(), "inc_00000001");
  EXPECT_TRUE(lines[0].at("opened").as_bool());
  EXPECT_EQ(lines[1].at("result").as_string(), "rejected");
  EXPECT_FALSE(lines[1].as_object().contains("event_id"));
  EXPECT_NE(lines[1].at("error").as_string().find("JSON"), std::string::npos) << r.body;
  EXPECT_EQ(lines[2].at("incident").as_string(), "inc_00000002");
  EXPECT_EQ(lines[3].at("line").to_number<int>(), 4);
  EXPECT_EQ(lines[3].at("error").as_string(), "field timestamp: missing");
  // Sent again: duplicates, no second incident; the bad lines are kept again.
  auto again = Post(*c, mixed);
  EXPECT_NE(again.body.find(R"("accepted":0,"duplicate":2,"rejected":2)"), std::string::npos) << again.body;
  auto dup = boost::json::parse(again.body, ec);
  ASSERT_FALSE(ec) << again.body;
  EXPECT_EQ(dup.at("results").at(2).at("result").as_string(), "duplicate");
  EXPECT_EQ(dup.at("results").at(2).at("incident").as_string(), "inc_00000002");
  EXPECT_FALSE(dup.at("results").at(2).as_object().contains("opened"));
  // The same id with other content is no duplicate: refused, and kept.
  auto changed = Post(*c, Event("evt_2", "mallory@acme.fr"), 0, "application/json");
  EXPECT_EQ(changed.status, 400) << changed.body;
  EXPECT_NE(changed.body.find("evt_2 was received before with other content (incident inc_00000002)"),
            std::string::npos)
      << changed.body;
  auto list = Call(*c, "GET", "/v1/incidents", kRead);
  EXPECT_NE(list.body.find("inc_00000002"), std::string::npos);
  EXPECT_EQ(list.body.find("inc_00000003"), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find("mallory"), std::string::npos) << list.body;
  // Only bad lines: 400, each with its line and reason, still kept in the log.
  auto none = Post(*c, "{\"event_id\":\"evt_9\"}\n", 0);
  EXPECT_EQ(none.status, 400);
  EXPECT_NE(none.body.find("\"line\":1"), std::string::npos) << none.body;
  auto audit = Call(*c, "GET", "/v1/audit", kRead);
  size_t rejected = 0;
  for (size_t at = 0; (at = audit.body.find("\"type\":\"event.rejected\"", at)) != std::string::npos; ++at) ++rejected;
  EXPECT_EQ(rejected, 6u);  // none from the compressed body; one for evt_2's other content
  // "identity" is no encoding at all.
  std::string ts = std::to_string(SystemClock().NowMicros() / 1'000'000);
  auto plain = Call(*c, "POST", "/v1/events", kIngest, Event("evt_identity"),
                    {{"Content-Type", "application/json"},
                     {"Content-Encoding", "identity"},
                     {"X-Noxsync-Timestamp", ts},
                     {"X-Noxsync-Signature", "sha256=" + cli::WebhookSignature(kSecret, ts, Event("evt_identity"))}});
  EXPECT_EQ(plain.status, 202) << plain.body;
  // UTF-8 named in any case or spelling is accepted.
  EXPECT_EQ(Post(*c, Event("evt_u8", "u8@acme.fr"), 0, "Application/JSON; charset=\"utf-8\"").status, 202);
  EXPECT_EQ(Post(*c, Event("evt_u8b", "u8b@acme.fr"), 0, "application/x-ndjson;charset=UTF-8").status, 202);
  EXPECT_EQ(Stop(), 0);
}

// Every line of a body becomes a record and a result, a junk line too: a
// body may hold only so many, or one request of 2-byte lines would fill the
// log and the server's memory.
TEST_F(Serve, ABodyOfMoreLinesThanMaxEventsPerRequestIsRefusedWhole) {
  Start(R"(,"max_events_per_request":3)");
  auto c = Client();
  auto over = Post(*c, "x\n" + Event("evt_1") + "\nx\n\nx\n");
  EXPECT_EQ(over.status, 413) << over.body;
  EXPECT_NE(over.body.find("the body holds more than 3 lines (service.max_events_per_request); nothing of it was "
                           "stored: send the events in smaller batches"),
            std::string::npos)
      << over.body;
  auto head = Call(*c, "GET", "/v1/audit/head", kRead);
  EXPECT_NE(head.body.find(R"("seq":0)"), std::string::npos) << head.body;
  // Blank lines do not count; three lines with content are taken.
  auto at_limit = Post(*c, "x\n\n" + Event("evt_1") + "\n  \n" + Event("evt_2", "bob@acme.fr") + "\n");
  EXPECT_EQ(at_limit.status, 202) << at_limit.body;
  EXPECT_NE(at_limit.body.find(R"("accepted":2,"duplicate":0,"rejected":1)"), std::string::npos) << at_limit.body;
  EXPECT_EQ(Stop(), 0);
}

// What `noxsync ingest` forgives in a file, the webhook forgives in a body:
// a byte order mark before the first event, blank lines between events.
TEST_F(Serve, AByteOrderMarkOpeningABodyAndBlankLinesAreSkipped) {
  Start();
  auto c = Client();
  const std::string bom = "\xEF\xBB\xBF";
  auto r = Post(*c, bom + Event("evt_1") + "\n   \n\t\r\n" + Event("evt_2", "bob@acme.fr") + "\n");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_NE(r.body.find(R"("accepted":2,"duplicate":0,"rejected":0)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"line":4,"event_id":"evt_2","result":"accepted")"), std::string::npos) << r.body;
  auto one = Post(*c, bom + Event("evt_3", "carol@acme.fr"), 0, "application/json");
  EXPECT_EQ(one.status, 202) << one.body;
  // Anywhere else a mark is an error, and the answer says which byte it is.
  auto mid = Post(*c, Event("evt_4", "dan@acme.fr") + "\n" + bom + Event("evt_5", "erin@acme.fr") + "\n");
  ASSERT_EQ(mid.status, 202) << mid.body;
  EXPECT_NE(mid.body.find(R"x({"line":2,"result":"rejected","error":"not valid JSON: syntax error (the line starts )x"
                          R"x(with a UTF-8 byte order mark, U+FEFF: save the source as UTF-8 without one)"})x"),
            std::string::npos)
      << mid.body;
  // The events as sent, without the mark: the log's copy is the event's JSON.
  auto history = Call(*c, "GET", "/v1/incidents/inc_00000001/history", kRead);
  EXPECT_EQ(history.body.find("\xEF\xBB\xBF"), std::string::npos);
  EXPECT_NE(history.body.find("evt_1"), std::string::npos) << history.body;
  EXPECT_EQ(Stop(), 0);
}

TEST_F(Serve, WhatIsNotUtf8IsNamedAndEveryAnswerAndRecordIsUtf8) {
  Start();
  auto c = Client();
  auto valid_json = [](const std::string& text) {
    boost::system::error_code ec;
    boost::json::parse(text, ec);
    return !ec;
  };
  // A line saved as Latin-1 beside a good one: the bad byte is named, the
  // event's id given back, and the answer is JSON.
  auto r = Post(*c, Event("evt_u1") + "\n" + Event("evt_u2", "jos\xE9@acme.fr") + "\n");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_TRUE(valid_json(r.body)) << r.body;
  EXPECT_NE(r.body.find(R"({"line":2,"event_id":"evt_u2","result":"rejected","error":"not UTF-8: byte )"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(" of the line is 0xE9; send events in UTF-8"), std::string::npos) << r.body;
  // A query parameter and a backend name in any bytes: the 400 and 404 are JSON.
  auto q = Call(*c, "GET", "/v1/incidents?s%E9verity=High", kRead);
  EXPECT_EQ(q.status, 400);
  EXPECT_TRUE(valid_json(q.body)) << q.body;
  auto t = Call(*c, "GET", "/v1/tickets/j%E9ra/SEC-1", kRead);
  EXPECT_EQ(t.status, 404);
  EXPECT_TRUE(valid_json(t.body)) << t.body;
  // The audit stream an auditor's tools read: every line JSON.
  auto audit = Call(*c, "GET", "/v1/audit", kRead);
  ASSERT_EQ(audit.status, 200);
  int lines = 0;
  for (size_t at = 0, end; at < audit.body.size(); at = end + 1) {
    end = audit.body.find('\n', at);
    if (end == std::string::npos) end = audit.body.size();
    EXPECT_TRUE(valid_json(audit.body.substr(at, end - at))) << audit.body.substr(at, end - at);
    ++lines;
  }
  EXPECT_EQ(lines, 3);  // event.received and incident.opened of evt_u1, event.rejected of evt_u2
  EXPECT_NE(audit.body.find("text_base64"), std::string::npos) << audit.body;
  EXPECT_EQ(Stop(), 0);
  // And `history` finds the refusal by the event's id.
  auto h = testing::RunNoxsync("history evt_u2 --db " + dir_.Sub("store"), dir_.path());
  EXPECT_EQ(h.exit_code, 0) << h.out << h.err;
  EXPECT_NE(h.out.find("refused, in no incident"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("not UTF-8: byte "), std::string::npos) << h.out;
}

TEST_F(Serve, FiftyConcurrentClientsAreAllStoredOnce) {
  Start();
  std::atomic<int> accepted{0}, other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 50; ++t) {
    clients.emplace_back([&, t] {
      auto c = Client();
      for (int i = 0; i < 10; ++i) {
        std::string id = "evt_c" + std::to_string(t) + "_" + std::to_string(i);
        auto r = Post(*c, Event(id, "user" + std::to_string(t) + "@acme.fr"), 0, "application/json");
        (r.status == 202 ? accepted : other)++;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(accepted, 500);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(Stop(), 0);
  auto log = EventLog::OpenForRead(dir_.Sub("store"));
  ASSERT_TRUE(log.ok());
  uint64_t received = 0;
  (*log)->ScanLog(1, [&](const LogRecord& r) {
    received += r.type == "event.received";
    return true;
  });
  EXPECT_EQ(received, 500u);
  EXPECT_EQ(testing::RunNoxsync("verify --db " + dir_.Sub("store"), dir_.path()).exit_code, 0);
}

TEST_F(Serve, ASlowClientDoesNotHoldUpTheOthers) {
  // Held up, the others would wait out its header deadline. They are all
  // answered while it is still open: the property itself, not a time
  // budget, which a disk loaded by the other tests once overran.
  Start(R"(,"header_timeout_seconds":6)");
  // Opens a connection and sends half a header, then nothing.
  int fd = RawConnection();
  ASSERT_GE(fd, 0);
  std::string partial = "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Le";
  ASSERT_EQ(::write(fd, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
  auto c = Client();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Post(*c, Event("evt_s" + std::to_string(i))).status, 202);
  pollfd slow{fd, POLLIN, 0};
  EXPECT_EQ(::poll(&slow, 1, 0), 0) << "the slow client was dropped before the others were all answered";
  // The slow one is dropped after its header deadline.
  EXPECT_EQ(::poll(&slow, 1, 15'000), 1) << "the slow client was never dropped";
  char buf[16];
  EXPECT_EQ(::read(fd, buf, sizeof buf), 0);  // closed by the server
  ::close(fd);
  EXPECT_EQ(Stop(), 0);
}

// The answers as bytes on the wire: a status line with its reason, the
// headers each route sets, a Content-Length that matches the body, three
// requests sent at once (one with a body) answered in order on one
// connection, and
// "Connection: close" (then the close) when the client asked for it.
TEST_F(Serve, AnswersOnTheWireAreWellFormedHttp) {
  Start();
  const std::string status_body = R"({"status":"Closed"})";
  std::string requests =
      "POST /v1/incidents/inc_00000001/status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " + std::to_string(status_body.size()) + "\r\n\r\n" + status_body +
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: first-1\r\n\r\n"
      "GET /v1/incidents HTTP/1.1\r\nHost: x\r\nX-Request-Id: second-2\r\nConnection: close\r\n\r\n";
  std::string wire = ExchangeUntilClosed(requests);  // the server closes after the last answer

  // Splits one answer off the front of `wire`, by its Content-Length.
  auto next = [&wire](std::string* head, std::string* body) {
    size_t end = wire.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    *head = wire.substr(0, end + 2);
    size_t cl = head->find("\r\nContent-Length: ");
    if (cl == std::string::npos) return false;
    size_t len = std::stoul(head->substr(cl + 18));
    if (wire.size() < end + 4 + len) return false;
    *body = wire.substr(end + 4, len);
    wire.erase(0, end + 4 + len);
    return true;
  };
  std::string head, body;
  // One header line, whole (not a prefix of a longer one).
  auto has = [&head](const std::string& line) { return head.find("\r\n" + line + "\r\n") != std::string::npos; };
  // A body sent in the same segment as the next request is read up to its
  // length, no further: the next request is answered on its own.
  ASSERT_TRUE(next(&head, &body)) << wire;
  EXPECT_EQ(head.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << head;
  ASSERT_TRUE(next(&head, &body)) << wire;
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_TRUE(has("Server: noxsync") && has("Content-Type: application/json") && has("X-Request-Id: first-1")) << head;
  EXPECT_EQ(head.find("Connection: close"), std::string::npos) << head;
  EXPECT_FALSE(body.empty());

  ASSERT_TRUE(next(&head, &body)) << wire;
  EXPECT_EQ(head.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << head;
  EXPECT_TRUE(has("WWW-Authenticate: Bearer realm=\"noxsync\"") && has("X-Request-Id: second-2") &&
              has("Connection: close"))
      << head;
  EXPECT_NE(body.find("\"error\""), std::string::npos) << body;
  EXPECT_EQ(wire, "");  // nothing after the last answer
  EXPECT_EQ(Stop(), 0);
}

// What Beast refuses before any handler runs (a malformed request line, a
// header over the limit) is answered by the session itself: still JSON whose
// error names the problem, and the connection closed.
TEST_F(Serve, RefusedRequestsAreAnsweredWithJsonNamingTheProblem) {
  Start();
  auto refusal = [this](const std::string& request, std::string* head) {
    std::string wire = ExchangeUntilClosed(request);
    size_t end = wire.find("\r\n\r\n");
    if (end == std::string::npos) return std::string();
    *head = wire.substr(0, end + 2);
    return wire.substr(end + 4);
  };
  std::string head;
  std::string body = refusal("G\"T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &head);
  EXPECT_EQ(head.rfind("HTTP/1.1 400 ", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nConnection: close\r\n"), std::string::npos) << head;
  boost::system::error_code ec;
  auto parsed = boost::json::parse(body, ec);
  ASSERT_FALSE(ec) << body;
  EXPECT_EQ(parsed.at("error").as_string(), "unreadable HTTP request: bad method") << body;

  body = refusal("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(20 * 1024, 'a') + "\r\n\r\n", &head);
  EXPECT_EQ(head.rfind("HTTP/1.1 431 ", 0), 0u) << head;
  parsed = boost::json::parse(body, ec);
  ASSERT_FALSE(ec) << body;
  EXPECT_EQ(parsed.at("error").as_string(), "the request header is over 16384 bytes") << body;
  EXPECT_EQ(Stop(), 0);
}

// An incident's history comes in pages that follow on from each other, so an
// incident with months of recurrences is not built into one answer.
TEST_F(Serve, AnIncidentsHistoryComesInPages) {
  Start();
  auto c = Client();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Post(*c, Event("evt_p" + std::to_string(i))).status, 202);  // one incident
  auto seqs_of = [](const boost::json::value& page) {
    std::vector<int64_t> seqs;
    for (const auto& r : page.at("records").as_array()) seqs.push_back(r.at("seq").to_number<int64_t>());
    return seqs;
  };
  auto whole = boost::json::parse(Call(*c, "GET", "/v1/incidents/inc_00000001/history?limit=10000", kRead).body);
  std::vector<int64_t> all = seqs_of(whole);
  ASSERT_GE(all.size(), 10u);  // five events: received and opened or recurred each
  EXPECT_TRUE(whole.at("next_cursor").is_null());
  std::vector<int64_t> paged;
  std::string cursor;
  for (int pages = 0; pages < 20; ++pages) {
    auto r = Call(*c, "GET", "/v1/incidents/inc_00000001/history?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor),
                  kRead);
    ASSERT_EQ(r.status, 200) << r.body;
    auto page = boost::json::parse(r.body);
    auto seqs = seqs_of(page);
    EXPECT_LE(seqs.size(), 3u);
    paged.insert(paged.end(), seqs.begin(), seqs.end());
    if (page.at("next_cursor").is_null()) break;
    cursor = std::string(page.at("next_cursor").as_string());
  }
  EXPECT_EQ(paged, all);
  EXPECT_EQ(Call(*c, "GET", "/v1/incidents/inc_00000001/history?limit=0", kRead).status, 400);
  EXPECT_EQ(Call(*c, "GET", "/v1/incidents/inc_00000001/history?cursor=x", kRead).status, 400);
  EXPECT_EQ(Stop(), 0);
}

// What became of one Noxys event, by its id: the incident it is in, and
// each refusal that names it, in pages; 404 for an id never received.
TEST_F(Serve, AnEventsFateIsFoundByItsId) {
  Start();
  auto c = Client();
  auto body = Post(*c, Event("evt_ok") + "\n" + R"({"event_id":"evt_bad","timestamp":"soon"})" + "\n" +
                           R"({"event_id":"evt_bad","timestamp":"later"})" + "\n" +
                           R"({"event_id":"evt/slash","timestamp":"soon"})" + "\n");
  ASSERT_EQ(body.status, 202) << body.body;
  // evt_ok again with other content: accepted once, refused once (a body
  // of refused lines only is answered 400, each line still kept).
  ASSERT_EQ(Post(*c, Event("evt_ok", "bob@acme.fr")).status, 400);

  auto ok = Call(*c, "GET", "/v1/events/evt_ok", kRead);
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto doc = boost::json::parse(ok.body);
  EXPECT_EQ(doc.at("event_id").as_string(), "evt_ok");
  EXPECT_EQ(doc.at("incident").as_string(), "inc_00000001");
  ASSERT_EQ(doc.at("refusals").as_array().size(), 1u) << ok.body;
  EXPECT_NE(doc.at("refusals").at(0).at("payload").as_string().find("received before with other content"),
            std::string::npos)
      << ok.body;
  EXPECT_TRUE(doc.at("next_cursor").is_null());

  auto bad = Call(*c, "GET", "/v1/events/evt_bad", kRead);
  ASSERT_EQ(bad.status, 200) << bad.body;
  doc = boost::json::parse(bad.body);
  EXPECT_TRUE(doc.at("incident").is_null());
  ASSERT_EQ(doc.at("refusals").as_array().size(), 2u) << bad.body;
  EXPECT_EQ(doc.at("refusals").at(0).at("type").as_string(), "event.rejected");
  EXPECT_NE(doc.at("refusals").at(1).at("payload").as_string().find("later"), std::string::npos) << bad.body;
  // In pages: the cursor resumes where the last page stopped.
  auto first = boost::json::parse(Call(*c, "GET", "/v1/events/evt_bad?limit=1", kRead).body);
  ASSERT_EQ(first.at("refusals").as_array().size(), 1u);
  ASSERT_TRUE(first.at("next_cursor").is_string());
  auto second = boost::json::parse(
      Call(*c, "GET", "/v1/events/evt_bad?limit=1&cursor=" + std::string(first.at("next_cursor").as_string()), kRead)
          .body);
  ASSERT_EQ(second.at("refusals").as_array().size(), 1u);
  EXPECT_EQ(second.at("refusals").at(0), doc.at("refusals").at(1));
  EXPECT_TRUE(second.at("next_cursor").is_null());

  auto slash = Call(*c, "GET", "/v1/events/evt%2Fslash", kRead);
  EXPECT_EQ(slash.status, 200) << slash.body;
  EXPECT_NE(slash.body.find(R"("event_id":"evt/slash")"), std::string::npos) << slash.body;

  auto never = Call(*c, "GET", "/v1/events/evt_never", kRead);
  EXPECT_EQ(never.status, 404);
  EXPECT_NE(never.body.find("no event evt_never: none with that id was accepted or refused"), std::string::npos)
      << never.body;
  EXPECT_EQ(Call(*c, "GET", "/v1/events/EVT_OK", kRead).status, 404);
  EXPECT_EQ(Call(*c, "GET", "/v1/events/evt_bad?limit=0", kRead).status, 400);
  EXPECT_EQ(Call(*c, "GET", "/v1/events/evt_bad?since=2026-01-01", kRead).status, 400);
  EXPECT_EQ(Call(*c, "GET", "/v1/events/evt_bad", kIngest).status, 403);
  EXPECT_EQ(Call(*c, "GET", "/v1/events/evt_bad", nullptr).status, 401);
  EXPECT_EQ(Call(*c, "POST", "/v1/events/evt_bad", kOperate, "{}").status, 404);
  auto metrics = Call(*c, "GET", "/metrics", kRead);
  EXPECT_NE(metrics.body.find(R"(route="GET /v1/events/{id}")"), std::string::npos);
  EXPECT_EQ(metrics.body.find("evt_bad"), std::string::npos);
  EXPECT_EQ(Stop(), 0);
}

// A misspelt filter or one given twice is refused, naming it: ignored, it
// would answer every incident as if they had been filtered.
TEST_F(Serve, AQueryParameterARouteDoesNotTakeOrOneGivenTwiceIsRefused) {
  Start();
  auto c = Client();
  std::string batch = Event("evt_q1", "alice@acme.fr", 0.95) + "\n" + Event("evt_q2", "bob@acme.fr", 0.3) + "\n";
  ASSERT_EQ(Post(*c, batch).status, 202);
  auto error = [&](const std::string& target) {
    auto r = Call(*c, "GET", target, kRead);
    EXPECT_EQ(r.status, 400) << target << ": " << r.body;
    boost::system::error_code ec;
    auto parsed = boost::json::parse(r.body, ec);
    return !ec && parsed.is_object() && parsed.as_object().contains("error")
               ? std::string(parsed.at("error").as_string())
               : r.body;
  };
  EXPECT_EQ(error("/v1/incidents?sevrity=Critical"),
            "unknown query parameter \"sevrity\": this route takes status, platform, severity, since, until, "
            "cursor, limit (see docs/service.md)");
  EXPECT_EQ(error("/v1/incidents?severity=Critical&severity=Low"),
            "query parameter \"severity\" is given twice; give it once");
  EXPECT_EQ(error("/v1/incidents/inc_00000001?status=Open"),
            "unknown query parameter \"status\": this route takes none (see docs/service.md)");
  EXPECT_EQ(error("/v1/incidents/inc_00000001/history?since=2026-01-01"),
            "unknown query parameter \"since\": this route takes cursor, limit (see docs/service.md)");
  EXPECT_EQ(error("/v1/audit?limit=1&cursor=1&cursor=2"), "query parameter \"cursor\" is given twice; give it once");
  EXPECT_EQ(error("/v1/audit/head?limit=1"),
            "unknown query parameter \"limit\": this route takes none (see docs/service.md)");
  EXPECT_EQ(error("/v1/reports/summary?platform=chatgpt"),
            "unknown query parameter \"platform\": this route takes since, until (see docs/service.md)");
  EXPECT_EQ(error("/v1/tickets/jira/SEC-1?x=1"),
            "unknown query parameter \"x\": this route takes none (see docs/service.md)");
  // HEAD is checked as GET is.
  std::string head = ExchangeUntilClosed("HEAD /v1/incidents?sevrity=Critical HTTP/1.1\r\nHost: x\r\n"
                                         "Authorization: Bearer " + std::string(kRead) + "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 400 ", 0), 0u) << head;

  // What each route takes still works, and an empty part ("?&", a trailing
  // "&") is nothing given.
  auto ok = Call(*c, "GET", "/v1/incidents?&severity=Critical&limit=10&", kRead);
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto listing = boost::json::parse(ok.body);
  const auto& items = listing.at("incidents").as_array();
  ASSERT_EQ(items.size(), 1u) << ok.body;
  EXPECT_EQ(items[0].at("user_email").as_string(), "alice@acme.fr");
  EXPECT_EQ(Call(*c, "GET", "/v1/audit?since=2020-01-01&until=2099-01-01&cursor=1&limit=5", kRead).status, 200);
  EXPECT_EQ(Call(*c, "GET", "/v1/reports/by_severity?since=2020-01-01&until=2099-01-01", kRead).status, 200);
  EXPECT_EQ(Stop(), 0);
}

// HEAD gets what GET would, headers only: a body after them would be read as
// the start of the next answer on a keep-alive connection. The open routes
// take GET and HEAD and nothing else.
TEST_F(Serve, HeadIsAnsweredWithTheHeadersOfGetAndNoBody) {
  Start();
  std::string wire = ExchangeUntilClosed(
      "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kRead) + "\r\n\r\n"
      "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
      "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  // Splits off one header block; a body follows only where `with_body`.
  auto next = [&wire](bool with_body, std::string* head, std::string* body) {
    size_t end = wire.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    *head = wire.substr(0, end + 2);
    size_t cl = head->find("\r\nContent-Length: ");
    if (cl == std::string::npos) return false;
    size_t len = with_body ? std::stoul(head->substr(cl + 18)) : 0;
    if (wire.size() < end + 4 + len) return false;
    *body = wire.substr(end + 4, len);
    wire.erase(0, end + 4 + len);
    return true;
  };
  std::string head, body;
  ASSERT_TRUE(next(false, &head, &body)) << wire;
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nContent-Length: 19\r\n"), std::string::npos) << head;  // {"status":"alive"}
  ASSERT_TRUE(next(false, &head, &body)) << wire;
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  ASSERT_TRUE(next(false, &head, &body)) << wire;
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << head;
  ASSERT_TRUE(next(true, &head, &body)) << wire;
  EXPECT_EQ(head.rfind("HTTP/1.1 405 ", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos) << head;
  ASSERT_TRUE(next(true, &head, &body)) << wire;
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_EQ(body, "{\"status\":\"alive\"}\n");
  EXPECT_EQ(wire, "");
  EXPECT_EQ(Stop(), 0);
}

// A client that asks "Expect: 100-continue" sends its body only once told to:
// the server says so right after the header, then answers the request.
TEST_F(Serve, AClientThatExpectsContinueIsToldToSendItsBody) {
  Start();
  const std::string body = Event("evt_expect");
  const std::string header = SignedHeader(body, "Expect: 100-continue\r\n");
  int fd = RawConnection();
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, header.data(), header.size()), static_cast<ssize_t>(header.size()));
  // The go-ahead comes before any body was sent (without it this read waits
  // out the connection's 5 s receive timeout and finds nothing).
  std::string interim;
  char buf[4096];
  while (interim.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    interim.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(::write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  std::string wire;
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) wire.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(wire.rfind("HTTP/1.1 202 Accepted\r\n", 0), 0u) << wire;
  EXPECT_NE(wire.find(R"("event_id":"evt_expect","result":"accepted")"), std::string::npos) << wire;

  // Over the body limit, the header alone is refused: no go-ahead, a 413.
  std::string big = "POST /v1/events HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                    std::to_string(2 << 20) + "\r\n\r\n";
  std::string refused = ExchangeUntilClosed(big);
  EXPECT_EQ(refused.rfind("HTTP/1.1 413 ", 0), 0u) << refused;
  EXPECT_EQ(refused.find("100 Continue"), std::string::npos) << refused;
  EXPECT_EQ(Stop(), 0);
}

// A body still to come is read only for a request whose token its route
// takes: without one, the answer comes right after the header, so a client
// with no token cannot make the server wait for, and hold, up to
// max_body_bytes on each of its connections. With one, the body is read as
// ever, however late it comes.
TEST_F(Serve, ABodyStillToComeIsNotWaitedForWithoutAValidToken) {
  Start();
  // Each header announces 500 KB and no byte of it is sent: the answer can
  // only come before the body (else the read waits out its 5 s and finds nothing).
  auto header = [](const std::string& request_line, const std::string& auth, const std::string& extra = "") {
    return request_line + " HTTP/1.1\r\nHost: x\r\n" + (auth.empty() ? "" : "Authorization: Bearer " + auth + "\r\n") +
           "Content-Type: application/x-ndjson\r\nX-Request-Id: early-1\r\n" + extra + "Content-Length: 500000\r\n\r\n";
  };
  std::string none = ExchangeUntilClosed(header("POST /v1/events", ""));
  EXPECT_EQ(none.rfind("HTTP/1.1 401 ", 0), 0u) << none;
  EXPECT_NE(none.find("a valid API token is required"), std::string::npos) << none;
  EXPECT_NE(none.find("X-Request-Id: early-1\r\n"), std::string::npos) << none;
  EXPECT_NE(none.find("Connection: close\r\n"), std::string::npos) << none;
  std::string unknown = ExchangeUntilClosed(header("POST /v1/events", "not-a-token-of-this-server"));
  EXPECT_EQ(unknown.rfind("HTTP/1.1 401 ", 0), 0u) << unknown;
  // The wrong role: a read token on the webhook, an ingest token on a status change.
  std::string read = ExchangeUntilClosed(header("POST /v1/events", kRead));
  EXPECT_EQ(read.rfind("HTTP/1.1 403 ", 0), 0u) << read;
  EXPECT_NE(read.find("this route needs ingest"), std::string::npos) << read;
  std::string ingest = ExchangeUntilClosed(header("POST /v1/incidents/inc_00000001/status", kIngest));
  EXPECT_EQ(ingest.rfind("HTTP/1.1 403 ", 0), 0u) << ingest;
  // A client expecting 100-continue is refused instead of told to go on.
  std::string expect = ExchangeUntilClosed(header("POST /v1/events", "", "Expect: 100-continue\r\n"));
  EXPECT_EQ(expect.rfind("HTTP/1.1 401 ", 0), 0u) << expect;
  EXPECT_EQ(expect.find("100 Continue"), std::string::npos) << expect;
  // Chunked, with no length to judge by: refused all the same.
  std::string chunked = ExchangeUntilClosed(
      "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(chunked.rfind("HTTP/1.1 401 ", 0), 0u) << chunked;

  // A client that writes its whole body before reading (as most libraries
  // do) still reads the answer: the server reads and drops what follows an
  // early answer instead of resetting the connection under it. The same for
  // a body over max_body_bytes, refused with 413 on its Content-Length.
  auto write_all_then_read = [&](const std::string& head, size_t body_bytes) {
    int fd = RawConnection();
    EXPECT_GE(fd, 0);
    if (fd < 0) return std::string();
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string bytes = head + std::string(body_bytes, 'x');
    size_t sent = 0;
    for (ssize_t n; sent < bytes.size() && (n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL)) > 0;) {
      sent += static_cast<size_t>(n);
    }
    EXPECT_EQ(sent, bytes.size()) << "the server stopped taking the body: " << std::strerror(errno);
    std::string wire;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) wire.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return wire;
  };
  auto length_header = [](size_t n) {
    return "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: " +
           std::to_string(n) + "\r\n\r\n";
  };
  std::string whole = write_all_then_read(length_header(900'000), 900'000);
  EXPECT_EQ(whole.rfind("HTTP/1.1 401 ", 0), 0u) << whole.substr(0, 200);
  std::string over = write_all_then_read(length_header(3'000'000), 3'000'000);
  EXPECT_EQ(over.rfind("HTTP/1.1 413 ", 0), 0u) << over.substr(0, 200);

  // With the right token the body is waited for: sent 300 ms after its header.
  const std::string body = Event("evt_late_body");
  const std::string signed_header = SignedHeader(body);
  int fd = RawConnection();
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, signed_header.data(), signed_header.size()), static_cast<ssize_t>(signed_header.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(::write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  std::string wire;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) wire.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(wire.rfind("HTTP/1.1 202 Accepted\r\n", 0), 0u) << wire;
  // The early refusals are counted under their route like any answer.
  auto c = Client();
  auto m = Call(*c, "GET", "/metrics", nullptr).body;
  EXPECT_NE(m.find("noxsync_http_requests_total{route=\"POST /v1/events\",code=\"401\"} 5\n"), std::string::npos) << m;
  EXPECT_NE(m.find("noxsync_http_requests_total{route=\"POST /v1/events\",code=\"403\"} 1\n"), std::string::npos) << m;
  EXPECT_EQ(Stop(), 0);
}

// With noxsync.socket, systemd holds the listening socket and passes it to
// each start of serve: a webhook sent while serve restarts is not refused,
// it waits in the socket's queue and the next serve answers it.
TEST_F(Serve, ASocketPassedBySystemdKeepsWebhooksWaitingAcrossARestart) {
  int sock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(sock, 128), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  listen_ = "127.0.0.1:" + std::to_string(port);
  listen_fd_ = sock;
  Start("", "", /*jira=*/false);
  EXPECT_EQ(port_, port);
  std::string said = testing::ReadFile(out_);
  EXPECT_NE(said.find("listening on 127.0.0.1:" + std::to_string(port) + " (socket from systemd)"), std::string::npos)
      << said;
  EXPECT_EQ(said.find("service.listen is"), std::string::npos) << said;  // the addresses agree: no warning
  auto c = Client();
  ASSERT_EQ(Post(*c, Event("evt_before_restart")).status, 202);
  ASSERT_EQ(Stop(), 0);

  // No serve runs now; the connection is taken by the socket's queue.
  const std::string body = Event("evt_during_restart", "bob@acme.fr");
  const std::string request = SignedHeader(body) + body;
  int fd = RawConnection();
  ASSERT_GE(fd, 0) << "the connection was refused while serve was down";
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  port_ = 0;
  Start("", "", /*jira=*/false);  // the next serve, on the same socket
  std::string wire;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) wire.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(wire.rfind("HTTP/1.1 202 Accepted\r\n", 0), 0u) << wire;
  EXPECT_NE(wire.find(R"("event_id":"evt_during_restart","result":"accepted")"), std::string::npos) << wire;
  ASSERT_EQ(Stop(), 0);
  ::close(sock);
  for (const char* id : {"evt_before_restart", "evt_during_restart"}) {
    EXPECT_EQ(testing::RunNoxsync(std::string("history ") + id + " --db " + dir_.Sub("store"), dir_.path()).exit_code, 0)
        << id;
  }

  // What systemd might pass wrongly is named: not a socket, or two of them.
  std::string config = WriteConfig("", false);
  auto passed = [&](const std::string& count, const std::string& fd3) {
    std::string out = dir_.Sub("passed.err");
    std::string cmd = "LISTEN_FDS=" + count + " sh -c 'LISTEN_PID=$$ exec " NOXSYNC_BIN " serve --config " + config +
                      " --db " + dir_.Sub("store") + " 3" + fd3 + "' >/dev/null 2>" + out;
    int status = std::system(cmd.c_str());
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, testing::ReadFile(out));
  };
  auto [file_exit, file_err] = passed("1", "</dev/null");
  EXPECT_NE(file_exit, 0);
  EXPECT_NE(file_err.find("is not a listening TCP socket"), std::string::npos) << file_err;
  auto [two_exit, two_err] = passed("2", "</dev/null");
  EXPECT_EQ(two_exit, 2);
  EXPECT_NE(two_err.find("systemd passed 2 sockets"), std::string::npos) << two_err;
}

// A status change waits for the engine step in flight, here a Jira call that
// hangs for 4 s; meanwhile the one I/O thread goes on answering everyone else.
TEST_F(Serve, AStatusChangeWaitingForTheEngineHoldsUpNoOtherRequest) {
  Start(R"(,"threads":1)");
  auto c = Client();
  ASSERT_EQ(Post(*c, Event("evt_st1")).status, 202);
  for (int i = 0; i < 100 && jira_->Issues().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(jira_->Issues().size(), 1u);
  // The next incident's ticket: the engine holds its lock through the hang.
  jira_stall_ms_ = 4000;
  ASSERT_EQ(Post(*c, Event("evt_st2", "bob@acme.fr")).status, 202);
  for (int i = 0; i < 100 && !jira_stalled_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(jira_stalled_);
  int status_code = 0;
  std::thread operator_([&] {
    auto oc = Client();
    status_code = Call(*oc, "POST", "/v1/incidents/inc_00000001/status", kOperate, R"({"status":"Resolved"})").status;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the change is in, waiting for the engine
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Call(*c, "GET", "/healthz", nullptr).status, 200);
  EXPECT_EQ(Post(*c, Event("evt_st3", "carol@acme.fr")).status, 202);
  EXPECT_EQ(Call(*c, "GET", "/v1/incidents/inc_00000001", kRead).status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));  // the hang has 3.7 s to go
  operator_.join();
  EXPECT_EQ(status_code, 200);
  auto one = Call(*c, "GET", "/v1/incidents/inc_00000001", kRead);
  EXPECT_NE(one.body.find(R"("status":"Resolved")"), std::string::npos) << one.body;
  EXPECT_EQ(Stop(), 0);
}

// A page of a listing that examines 100,000 incidents takes a fifth of a
// second here; listings run one at a time on the reads thread, so with a
// single I/O thread everything else is still answered meanwhile. Health
// checks need no disk: all of them before the first listing is done. A
// webhook waits for an fsync, which a loaded disk can stretch: before the
// last of five listings (a second of reads or more).
TEST_F(Serve, ASlowListingHoldsUpNoWebhook) {
  ASSERT_TRUE(IngestDistinctIncidents(100000));
  Start(R"(,"threads":1,"max_scan_rows":1000000)", "", /*jira=*/false);
  using Clock = std::chrono::steady_clock;
  constexpr int kListings = 5;
  std::vector<Clock::time_point> listed(kListings);
  std::vector<int> list_status(kListings, 0);
  std::vector<std::thread> dashboards;
  for (int d = 0; d < kListings; ++d) {
    dashboards.emplace_back([&, d] {
      auto dc = Client();
      list_status[d] = Call(*dc, "GET", "/v1/incidents?platform=none&limit=1000", kRead).status;  // matches nothing
      listed[d] = Clock::now();
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto c = Client();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Call(*c, "GET", "/healthz", nullptr).status, 200);
  Clock::time_point checked = Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Post(*c, Event("evt_during" + std::to_string(i), "bob@acme.fr")).status, 202);
  Clock::time_point posted = Clock::now();
  for (auto& t : dashboards) t.join();
  for (int d = 0; d < kListings; ++d) EXPECT_EQ(list_status[d], 200);
  EXPECT_LT(checked, *std::min_element(listed.begin(), listed.end())) << "the I/O thread waited for a listing";
  EXPECT_LT(posted, *std::max_element(listed.begin(), listed.end())) << "the webhooks waited for the listings";
  EXPECT_EQ(Stop(), 0);
}

// SIGTERM while the engine works through a backlog of tickets: it stops
// before its next backend call instead of making every ticket first, and the
// next start makes the rest, each once.
TEST_F(Serve, SigtermDuringATicketBacklogStopsBetweenTicketsAndTheNextStartMakesTheRestOnce) {
  constexpr size_t kIncidents = 600;
  ASSERT_TRUE(IngestDistinctIncidents(kIncidents));
  Start();
  for (int i = 0; i < 400 && jira_->Issues().size() < 20; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_GE(jira_->Issues().size(), 20u);
  EXPECT_EQ(Stop(), 0);
  size_t made = jira_->Issues().size();
  EXPECT_LT(made, kIncidents) << "the whole backlog was worked through before exiting";

  std::filesystem::remove(out_);
  port_ = 0;
  Start();
  for (int i = 0; i < 2400 && jira_->Issues().size() < kIncidents; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // time for a duplicate to show
  EXPECT_EQ(jira_->Issues().size(), kIncidents);
  EXPECT_EQ(Stop(), 0);
}

// After an outage the outbox holds a ticket per incident; the engine makes
// them a second's worth at a time, so an operator's status change is applied
// while the backlog is still being worked through, not after all of it.
TEST_F(Serve, ATicketBacklogIsWorkedThroughASliceAtATime) {
  constexpr size_t kIncidents = 400;
  ASSERT_TRUE(IngestDistinctIncidents(kIncidents));
  jira_delay_ms_ = 3;  // a ticket takes a few requests: several seconds for the backlog
  Start();
  for (int i = 0; i < 400 && jira_->Issues().size() < 20; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_GE(jira_->Issues().size(), 20u);
  auto c = Client();
  auto set = Call(*c, "POST", "/v1/incidents/inc_00000001/status", kOperate, R"({"status":"Resolved"})");
  size_t made = jira_->Issues().size();
  EXPECT_EQ(set.status, 200) << set.body;
  EXPECT_LT(made, kIncidents) << "the status change waited for the whole backlog";
  for (int i = 0; i < 2400 && jira_->Issues().size() < kIncidents; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(jira_->Issues().size(), kIncidents);  // each once
  EXPECT_EQ(Stop(), 0);
}

// While serve holds the store, a command that would write to it says where
// the same change goes instead.
TEST_F(Serve, ACommandThatWouldWriteWhileServeRunsIsPointedToTheApi) {
  Start();
  auto c = Client();
  ASSERT_EQ(Post(*c, Event("evt_held")).status, 202);
  auto r = testing::RunNoxsync("incident set-status inc_00000001 Resolved --config " + dir_.Sub("serve.json") +
                                   " --db " + dir_.Sub("store"),
                               dir_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("(noxsync serve)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("POST /v1/incidents/ID/status"), std::string::npos) << r.err;
  EXPECT_EQ(Stop(), 0);
  // Stopped, it holds the store no more.
  EXPECT_EQ(testing::RunNoxsync("incident set-status inc_00000001 Resolved --config " + dir_.Sub("serve.json") +
                                    " --db " + dir_.Sub("store"),
                                dir_.path())
                .exit_code,
            0);
}

// Reports run on their own thread with a bounded queue: many at once get an
// answer each (the report, or 503 with Retry-After once 4 wait), and the
// webhook keeps being answered meanwhile.
TEST_F(Serve, ManyReportsAtOnceAreEachAnsweredWhileWebhooksGoOn) {
  Start();
  {
    auto c = Client();
    for (int i = 0; i < 20; ++i) ASSERT_EQ(Post(*c, Event("evt_r" + std::to_string(i))).status, 202);
  }
  std::atomic<int> reports_ok{0}, reports_busy{0}, reports_other{0}, webhooks_ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&] {
      auto c = Client();
      for (int i = 0; i < 3; ++i) {
        auto r = Call(*c, "GET", "/v1/reports/summary", kRead);
        if (r.status == 200 && r.body.find("\"incidents\"") != std::string::npos) {
          ++reports_ok;
        } else if (r.status == 503 && !r.Get("Retry-After").empty() && r.body.find("send again") != std::string::npos) {
          ++reports_busy;
        } else {
          ++reports_other;
          ADD_FAILURE() << r.status << " " << r.body;
        }
      }
    });
  }
  threads.emplace_back([&] {
    auto c = Client();
    for (int i = 0; i < 20; ++i) webhooks_ok += Post(*c, Event("evt_w" + std::to_string(i))).status == 202;
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(reports_ok + reports_busy, 36);
  EXPECT_GT(reports_ok, 0);
  EXPECT_EQ(reports_other, 0);
  EXPECT_EQ(webhooks_ok, 20);
  EXPECT_EQ(Stop(), 0);
}

TEST_F(Serve, SigtermWhileRequestsAreInFlightLosesNoAcknowledgedEvent) {
  Start();
  std::mutex mu;
  std::set<std::string> acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      auto c = Client();
      for (int i = 0; !stop; ++i) {
        std::string id = "evt_t" + std::to_string(t) + "_" + std::to_string(i);
        http::Request r;
        std::string body = Event(id, "u" + std::to_string(t) + "@acme.fr");
        std::string ts = std::to_string(SystemClock().NowMicros() / 1'000'000);
        r.method = "POST";
        r.url = "http://127.0.0.1:" + std::to_string(port_) + "/v1/events";
        r.body = body;
        r.headers = {{"Authorization", std::string("Bearer ") + kIngest},
                     {"Content-Type", "application/json"},
                     {"X-Noxsync-Timestamp", ts},
                     {"X-Noxsync-Signature", "sha256=" + cli::WebhookSignature(kSecret, ts, body)}};
        http::Outcome out = c->Send(r);
        if (!out.ok()) break;  // the server is gone
        if (out.response.status == 202) {
          std::lock_guard lock(mu);
          acked.insert(id);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  int code = Stop();
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(code, 0) << testing::ReadFile(out_);
  ASSERT_GT(acked.size(), 10u);
  auto log = EventLog::OpenForRead(dir_.Sub("store"));
  ASSERT_TRUE(log.ok());
  for (const auto& id : acked) {
    std::string v;
    EXPECT_TRUE((*log)->Get(Cf::kByEvent, id, &v).ok()) << id << " was acknowledged but is not in the store";
  }
  EXPECT_NE(testing::ReadFile(out_).find("stopped cleanly"), std::string::npos);
}

TEST_F(Serve, ABackupTakenDuringIngestVerifiesAndRestores) {
  Start();
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::thread sender([&] {
    auto c = Client();
    for (int i = 0; !stop; ++i) acked += Post(*c, Event("evt_b" + std::to_string(i), "u" + std::to_string(i % 7) + "@acme.fr")).status == 202;
  });
  while (acked < 20) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto backup = testing::RunNoxsync("backup " + dir_.Sub("backup") + " --db " + dir_.Sub("store"), dir_.path());
  while (acked < 40) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  sender.join();
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_NE(backup.out.find("chain verified"), std::string::npos) << backup.out;
  EXPECT_EQ(Stop(), 0);
  auto verify = testing::RunNoxsync("verify --db " + dir_.Sub("backup"), dir_.path());
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  // Restored, it takes writes again, and the projections rebuild identically.
  std::string more = dir_.Sub("more.jsonl");
  std::ofstream(more) << Event("evt_after_restore", "zoe@acme.fr") << "\n";
  EXPECT_EQ(testing::RunNoxsync("ingest " + more + " --db " + dir_.Sub("backup"), dir_.path()).exit_code, 0);
  EXPECT_EQ(testing::RunNoxsync("replay --rebuild --db " + dir_.Sub("backup"), dir_.path()).exit_code, 0);
  EXPECT_EQ(testing::RunNoxsync("verify --db " + dir_.Sub("backup"), dir_.path()).exit_code, 0);
  // A second backup into the same folder is refused.
  auto again = testing::RunNoxsync("backup " + dir_.Sub("backup") + " --db " + dir_.Sub("store"), dir_.path());
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("is not empty"), std::string::npos);
}

// A disk that fills up while serve runs turns webhooks away with 503 and
// makes /readyz say why; once space is freed they are taken again, without a
// restart, and nothing acknowledged is lost. Needs a small tmpfs, which only
// root may mount: skipped elsewhere (the Ingestor's and the store's own tests
// cover the same refusal through the reserve).
TEST_F(Serve, ADiskThatFillsUpTurnsWebhooksAwayUntilSpaceIsFreed) {
  const std::string store = dir_.Sub("store");
  testing::SmallDisk disk(store, "320m");
  if (!disk.ok()) GTEST_SKIP() << disk.why();
  Start();
  auto c = Client();
  ASSERT_EQ(Post(*c, Event("evt_d1")).status, 202);
  {
    // Everything but a few MiB: under the 128 MiB noxsync keeps free.
    std::ofstream fill(store + "/fill");
    std::string block(1 << 20, 'x');
    while (fill.write(block.data(), block.size())) {
    }
  }
  auto refused = Post(*c, Event("evt_d2", "bob@acme.fr"));
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("is almost full"), std::string::npos) << refused.body;
  auto ready = Call(*c, "GET", "/readyz", nullptr);
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("is almost full"), std::string::npos) << ready.body;

  std::filesystem::remove(store + "/fill");
  auto taken = Post(*c, Event("evt_d2", "bob@acme.fr"));
  EXPECT_EQ(taken.status, 202) << taken.body;
  EXPECT_NE(taken.body.find(R"("incident":"inc_00000002")"), std::string::npos) << taken.body;
  EXPECT_EQ(Call(*c, "GET", "/readyz", nullptr).status, 200);
  EXPECT_EQ(Stop(), 0);
  auto verify = testing::RunNoxsync("verify --db " + store, dir_.path());
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("4 records"), std::string::npos) << verify.out;
}

TEST_F(Serve, TicketsAreMadeAndMetricsAreValidPrometheusText) {
  Start();
  auto c = Client();
  ASSERT_EQ(Post(*c, Event("evt_m")).status, 202);
  for (int i = 0; i < 100 && jira_->Issues().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(jira_->Issues().size(), 1u);
  // The issue exists in Jira a moment before noxsync records it: wait for the record.
  auto t = Call(*c, "GET", "/v1/tickets/jira/SEC-1", kRead);
  for (int i = 0; i < 100 && t.status == 404; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    t = Call(*c, "GET", "/v1/tickets/jira/SEC-1", kRead);
  }
  EXPECT_EQ(t.status, 200);
  EXPECT_NE(t.body.find("\"id\":\"inc_00000001\""), std::string::npos) << t.body;
  EXPECT_NE(t.body.find("\"key\":\"SEC-1\""), std::string::npos) << t.body;
  // A backend noxsync has none of, or no key: said as such, not "no ticket".
  t = Call(*c, "GET", "/v1/tickets/jirra/SEC-1", kRead);
  EXPECT_EQ(t.status, 404);
  EXPECT_NE(t.body.find(R"(no backend \"jirra\": tickets are under jira or servicenow)"), std::string::npos) << t.body;
  t = Call(*c, "GET", "/v1/tickets/jira/", kRead);
  EXPECT_EQ(t.status, 400);
  EXPECT_NE(t.body.find("no ticket key: /v1/tickets/jira/KEY"), std::string::npos) << t.body;
  // A misspelt field, a status that is none, or none at all: 400 naming it
  // (in the JSON answer, its quotes escaped), and nothing recorded.
  const std::pair<const char*, const char*> refused[] = {
      {R"({"status":"Resolved","notes":"coached"})", R"(unknown field \"notes\" in the body; it takes status and note)"},
      {R"({"status":"Done"})", R"(\"status\": \"Done\" is not one of Open, In Progress, Resolved, Closed)"},
      {R"({"status":3})", R"(\"status\": 3 is not one of)"},
      {R"({"note":"x"})", R"(\"status\" is missing)"},
      {R"(["Resolved"])", R"(the body must be {)"},
  };
  for (const auto& [body, why] : refused) {
    auto r = Call(*c, "POST", "/v1/incidents/inc_00000001/status", kOperate, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find(why), std::string::npos) << body << " -> " << r.body;
  }
  // A note that is not text is refused, not dropped from the history.
  auto bad_note = Call(*c, "POST", "/v1/incidents/inc_00000001/status", kOperate, R"({"status":"Resolved","note":5})");
  EXPECT_EQ(bad_note.status, 400);
  EXPECT_NE(bad_note.body.find("note"), std::string::npos) << bad_note.body;
  auto set = Call(*c, "POST", "/v1/incidents/inc_00000001/status", kOperate, R"({"status":"Resolved","note":"done"})");
  EXPECT_EQ(set.status, 200) << set.body;
  EXPECT_NE(set.body.find(R"("changed":true)"), std::string::npos) << set.body;
  // To the status it already has: nothing recorded, and the answer says so
  // rather than let the caller think its note is in the history.
  auto same = Call(*c, "POST", "/v1/incidents/inc_00000001/status", kOperate, R"({"status":"Resolved","note":"again"})");
  EXPECT_EQ(same.status, 200) << same.body;
  EXPECT_NE(same.body.find(R"("changed":false)"), std::string::npos) << same.body;
  auto history = Call(*c, "GET", "/v1/incidents/inc_00000001/history", kRead);
  EXPECT_NE(history.body.find(R"(\"note\":\"done\")"), std::string::npos) << history.body;
  EXPECT_EQ(history.body.find("again"), std::string::npos) << history.body;
  EXPECT_EQ(history.body.find("coached"), std::string::npos) << history.body;
  for (int i = 0; i < 100 && jira_->Issue("SEC-1")->status != 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(jira_->Issue("SEC-1")->status, 2);  // pushed to Jira by the engine
  // Methods no route takes are counted under one label, not one each.
  for (const char* method : {"FROB", "XYZZY"}) EXPECT_EQ(Call(*c, method, "/healthz", nullptr).status, 405);
  auto m = Call(*c, "GET", "/metrics", nullptr);
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("noxsync_http_requests_total{route=\"OTHER /healthz\",code=\"405\"} 2\n"), std::string::npos)
      << m.body;
  EXPECT_EQ(m.body.find("FROB"), std::string::npos);
  EXPECT_NE(m.body.find("noxsync_events_total{result=\"accepted\"} 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("noxsync_tickets_created_total{backend=\"jira\"} 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("noxsync_status_changes_total{source=\"noxys\"} 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("noxsync_http_requests_total{route=\"POST /v1/events\",code=\"202\"} 1\n"), std::string::npos);
  // The engine counts the log's new records every second and a scrape counts
  // the rest: a record is counted once, however often either runs.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto again = Call(*c, "GET", "/metrics", nullptr);
  EXPECT_NE(again.body.find("noxsync_tickets_created_total{backend=\"jira\"} 1\n"), std::string::npos) << again.body;
  EXPECT_NE(again.body.find("noxsync_status_changes_total{source=\"noxys\"} 1\n"), std::string::npos) << again.body;
  EXPECT_NE(again.body.find("noxsync_outbox_depth 0\n"), std::string::npos) << again.body;
  // Every sample line: a name, optional labels, a number; every family typed.
  std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? [-+0-9.eE]+(Inf)?$)");
  std::set<std::string> typed;
  std::istringstream in(m.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) typed.insert(line.substr(7, line.find(' ', 7) - 7));
    if (line.empty() || line[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    std::string name = line.substr(0, line.find_first_of("{ "));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() > std::strlen(suffix) && name.compare(name.size() - std::strlen(suffix), std::string::npos, suffix) == 0 &&
          !typed.count(name)) {
        name = name.substr(0, name.size() - std::strlen(suffix));
      }
    }
    EXPECT_TRUE(typed.count(name)) << "no # TYPE for " << name;
  }
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    std::string file = dir_.Sub("metrics.txt");
    std::ofstream(file) << m.body;
    EXPECT_EQ(std::system(("promtool check metrics < " + file).c_str()), 0);
  }
  EXPECT_EQ(Stop(), 0);
}

// /v1/audit?since= on a log of 10,000 records, with pages that may examine
// 1,000: the first page starts at the time index, near `since`, and holds
// records (from seq 1 it would be empty, with a cursor); the record before
// the first one returned is older than `since`, so none was skipped.
TEST_F(Serve, AuditSinceStartsAtTheTimeIndexWithoutSkippingARecord) {
  std::string events = dir_.Sub("events.jsonl");
  {
    std::ofstream f(events);
    for (int i = 0; i < 5000; ++i) f << Event("evt_t" + std::to_string(i), "user" + std::to_string(i % 7) + "@acme.fr") << "\n";
  }
  auto ingested = testing::RunNoxsync("ingest " + events + " --quiet --db " + dir_.Sub("store"), dir_.path());
  ASSERT_EQ(ingested.exit_code, 0) << ingested.err;
  Start(R"(,"max_scan_rows":1000)");
  auto c = Client();
  auto record = [&](const std::string& query) {
    auto r = Call(*c, "GET", "/v1/audit?" + query, kRead);
    EXPECT_EQ(r.status, 200) << r.body;
    return boost::json::parse(r.body.substr(0, r.body.find('\n'))).as_object();
  };
  // `since`: the time of seq 9,000, as the API prints it (to the millisecond).
  std::string since(record("cursor=9000&limit=1").at("time").as_string());
  int64_t since_us = 0;
  ASSERT_TRUE(ParseTimestamp(since, &since_us)) << since;

  auto page = Call(*c, "GET", "/v1/audit?since=" + since + "&limit=5", kRead);
  ASSERT_EQ(page.status, 200) << page.body;
  ASSERT_FALSE(page.body.empty()) << "the first page should start near seq 9,000";
  auto first = boost::json::parse(page.body.substr(0, page.body.find('\n'))).as_object();
  int64_t seq = first.at("seq").as_int64();
  EXPECT_GT(seq, 8192) << "two blocks of 4,096 records are older than since";
  EXPECT_LE(seq, 9000);
  EXPECT_GE(first.at("time_us").as_int64(), since_us);
  EXPECT_LT(record("cursor=" + std::to_string(seq - 1) + "&limit=1").at("time_us").as_int64(), since_us);
  EXPECT_EQ(Stop(), 0);
}

TEST_F(Serve, ListingsPageThroughASparseFilterWithBoundedWork) {
  Start(R"(,"max_scan_rows":4)");
  auto c = Client();
  std::string batch;
  for (int i = 0; i < 12; ++i) {
    batch += Event("evt_p" + std::to_string(i), "user" + std::to_string(i) + "@acme.fr", i % 3 == 0 ? 0.95 : 0.3) +
             "\n";
  }
  ASSERT_EQ(Post(*c, batch).status, 202);
  // Follows next_cursor to the end; each page examines at most 4 incidents.
  auto walk = [&](const std::string& query, size_t* pages, std::vector<std::string>* severities = nullptr) {
    std::vector<std::string> ids;
    std::string cursor;
    *pages = 0;
    do {
      auto r = Call(*c, "GET", "/v1/incidents?" + query + (cursor.empty() ? "" : "&cursor=" + cursor), kRead);
      EXPECT_EQ(r.status, 200) << r.body;
      auto body = boost::json::parse(r.body).as_object();
      auto& items = body.at("incidents").as_array();
      EXPECT_LE(items.size(), 4u);
      for (auto& item : items) {
        ids.emplace_back(item.at("id").as_string());
        if (severities) severities->emplace_back(item.at("severity").as_string());
      }
      cursor = body.at("next_cursor").is_null() ? "" : std::string(body.at("next_cursor").as_string());
      ++*pages;
    } while (!cursor.empty() && *pages < 50);
    return ids;
  };
  size_t pages = 0;
  std::vector<std::string> severities;
  auto all = walk("limit=1000", &pages, &severities);
  ASSERT_EQ(all.size(), 12u);
  EXPECT_EQ(all.front(), "inc_00000001");
  EXPECT_EQ(all.back(), "inc_00000012");
  EXPECT_EQ(pages, 3u);  // 4 + 4 + 4 rows
  std::vector<std::string> critical;
  for (size_t i = 0; i < all.size(); ++i) {
    if (severities[i] == "Critical") critical.push_back(all[i]);
  }
  ASSERT_EQ(critical.size(), 4u);
  // A sparse filter: short pages, every match once, in order.
  EXPECT_EQ(walk("severity=Critical", &pages), critical);
  EXPECT_EQ(pages, 3u);
  EXPECT_EQ(walk("severity=Critical&limit=1", &pages), critical);
  EXPECT_GE(pages, 4u);

  // The audit stream pages the same way: every seq once, up to the head.
  const std::string head_body = Call(*c, "GET", "/v1/audit/head", kRead).body;
  auto head = boost::json::parse(head_body).as_object();
  const uint64_t last = head.at("seq").to_number<uint64_t>();
  std::vector<uint64_t> seqs;
  std::string stream;  // the pages, concatenated as an auditor keeps them
  std::string cursor = "1";
  for (int page = 0; !cursor.empty() && page < 100; ++page) {
    auto r = Call(*c, "GET", "/v1/audit?limit=3&cursor=" + cursor, kRead);
    ASSERT_EQ(r.status, 200) << r.body;
    for (size_t at = 0; (at = r.body.find("{\"seq\":", at)) != std::string::npos; ++at) {
      seqs.push_back(std::stoull(r.body.substr(at + 7)));
    }
    stream += r.body;
    cursor = r.Get("X-Next-Cursor");
  }
  ASSERT_EQ(seqs.size(), last);
  for (uint64_t i = 0; i < last; ++i) EXPECT_EQ(seqs[i], i + 1);
  // The documented independent check: every hash, every link, the head.
  if (std::system("command -v python3 >/dev/null 2>&1") == 0) {
    auto check = [&](const std::string& ndjson, int* exit_code) {
      std::string in = dir_.Sub("audit.ndjson"), out = dir_.Sub("check.out");
      std::ofstream(in) << ndjson;
      std::string cmd = "python3 " NOXSYNC_SOURCE_DIR "/scripts/check-chain.py --quiet --head '" + head_body +
                        "' < " + in + " > " + out;
      int status = std::system(cmd.c_str());
      *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return testing::ReadFile(out);
    };
    int code = -1;
    std::string report = check(stream, &code);
    EXPECT_EQ(code, 0) << report;
    const std::string n = std::to_string(last);
    EXPECT_NE(report.find(n + " of " + n + " records match their hash"), std::string::npos) << report;
    EXPECT_NE(report.find(std::to_string(last - 1) + " of " + std::to_string(last - 1) + " links"), std::string::npos)
        << report;
    EXPECT_NE(report.find("head: seq " + n + " matches"), std::string::npos) << report;
    // One changed byte in a payload is named by its seq.
    std::string tampered = stream;
    size_t at = tampered.find("user3@acme.fr");
    ASSERT_NE(at, std::string::npos);
    tampered[at] = 'm';
    report = check(tampered, &code);
    EXPECT_EQ(code, 1) << report;
    EXPECT_NE(report.find("MISMATCH"), std::string::npos) << report;
  }
  // A time filter that matches nothing answers at once with where to go on.
  auto future = Call(*c, "GET", "/v1/audit?since=2099-01-01T00:00:00Z", kRead);
  EXPECT_EQ(future.status, 200);
  EXPECT_EQ(future.body, "");
  EXPECT_EQ(future.Get("X-Next-Cursor"), "5");
  EXPECT_EQ(Stop(), 0);
}

// Records carry their raw events, so a page is bounded by bytes as well as
// by count: each listing ends past max_page_bytes with a cursor, and paging
// on still returns every item once.
TEST_F(Serve, PagesStopAtMaxPageBytesAndPageOnToTheEnd) {
  ASSERT_TRUE(IngestDistinctIncidents(400));
  Start(R"(,"max_page_bytes":65536)", "", /*jira=*/false);
  auto c = Client();
  std::string batch;
  for (int i = 0; i < 250; ++i) batch += Event("evt_loop" + std::to_string(i), "loop@acme.fr") + "\n";
  ASSERT_EQ(Post(*c, batch).status, 202);
  // The largest item in these stores is well under 4 KiB: a page may pass
  // the bound by its last item only.
  constexpr size_t kBound = 65536 + 4096;

  const uint64_t last = boost::json::parse(Call(*c, "GET", "/v1/audit/head", kRead).body).at("seq").to_number<uint64_t>();
  std::vector<uint64_t> seqs;
  size_t loop_records = 0, pages = 0;
  for (std::string cursor = "1"; !cursor.empty() && pages < 100; ++pages) {
    auto r = Call(*c, "GET", "/v1/audit?limit=100000&cursor=" + cursor, kRead);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_LE(r.body.size(), kBound);
    for (size_t at = 0; (at = r.body.find("{\"seq\":", at)) != std::string::npos; ++at) {
      seqs.push_back(std::stoull(r.body.substr(at + 7)));
    }
    for (size_t at = 0; (at = r.body.find("\"incident\":\"inc_00000401\"", at)) != std::string::npos; ++at) {
      ++loop_records;
    }
    cursor = r.Get("X-Next-Cursor");
  }
  EXPECT_GE(pages, 3u);
  ASSERT_EQ(seqs.size(), last);
  for (uint64_t i = 0; i < last; ++i) EXPECT_EQ(seqs[i], i + 1);

  std::set<std::string> ids;
  pages = 0;
  for (std::string cursor = "start"; !cursor.empty() && pages < 100; ++pages) {
    auto r = Call(*c, "GET", "/v1/incidents?limit=1000" + (cursor == "start" ? "" : "&cursor=" + cursor), kRead);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_LE(r.body.size(), kBound);
    auto body = boost::json::parse(r.body).as_object();
    for (auto& item : body.at("incidents").as_array()) {
      EXPECT_TRUE(ids.insert(std::string(item.at("id").as_string())).second) << item;
    }
    cursor = body.at("next_cursor").is_null() ? "" : std::string(body.at("next_cursor").as_string());
  }
  EXPECT_GE(pages, 2u);
  EXPECT_EQ(ids.size(), 401u);

  std::vector<uint64_t> history;
  pages = 0;
  for (std::string cursor = "0"; !cursor.empty() && pages < 100; ++pages) {
    auto r = Call(*c, "GET", "/v1/incidents/inc_00000401/history?limit=10000&cursor=" + cursor, kRead);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_LE(r.body.size(), kBound);
    auto body = boost::json::parse(r.body).as_object();
    for (auto& rec : body.at("records").as_array()) history.push_back(rec.at("seq").to_number<uint64_t>());
    cursor = body.at("next_cursor").is_null() ? "" : std::string(body.at("next_cursor").as_string());
  }
  EXPECT_GE(pages, 2u);
  EXPECT_GE(history.size(), 250u);
  EXPECT_EQ(history.size(), loop_records);  // the same records the audit stream has for it
  EXPECT_TRUE(std::is_sorted(history.begin(), history.end()));
  EXPECT_EQ(std::set<uint64_t>(history.begin(), history.end()).size(), history.size());
  EXPECT_EQ(Stop(), 0);
}

// Answers wait in memory while their clients download them. Clients that ask
// for pages on many connections and read none would hold the server's
// memory for as long as they like: past max_pages_in_flight_bytes, reads get
// 503 until those answers are written or their connections are gone, while
// webhooks and health checks go on.
TEST_F(Serve, ClientsThatNeverReadTheirPagesCannotTakeTheServersMemory) {
  // A page larger than the kernel's socket buffers can take (the send
  // buffer grows up to tcp_wmem's last figure), so that its write waits for
  // the client to read.
  size_t wmem_max = 4 << 20;
  {
    std::ifstream wmem("/proc/sys/net/ipv4/tcp_wmem");
    size_t low = 0, def = 0, high = 0;
    if (wmem >> low >> def >> high) wmem_max = high;
  }
  const size_t page = std::max<size_t>(1 << 20, 2 * wmem_max);
  ASSERT_TRUE(IngestDistinctIncidents(page / 1000));  // two records of about 600 bytes an event
  Start(",\"max_page_bytes\":" + std::to_string(page) + ",\"max_pages_in_flight_bytes\":" + std::to_string(2 * page), "",
        /*jira=*/false);
  auto c = Client();
  const std::string page_request = std::string("GET /v1/audit?limit=100000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") +
                                   kRead + "\r\n\r\n";
  // A client that reads its pages is never refused: each answer's memory is
  // given back once it is written.
  for (int i = 0; i < 5; ++i) {
    auto r = Call(*c, "GET", "/v1/audit?limit=100000", kRead);
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
    EXPECT_GE(r.body.size(), page);
  }
  // Two that read the status line of a full page and no more, through a
  // 4 KiB receive buffer.
  std::vector<int> stalled;
  for (int i = 0; i < 2; ++i) {
    int fd = RawConnection(/*receive_buffer=*/4096);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, page_request.data(), page_request.size()), static_cast<ssize_t>(page_request.size()));
    char buf[12] = {};
    ASSERT_EQ(::read(fd, buf, sizeof buf), static_cast<ssize_t>(sizeof buf));
    EXPECT_EQ(std::string(buf, sizeof buf), "HTTP/1.1 200");
    stalled.push_back(fd);
  }
  auto refused = Call(*c, "GET", "/v1/audit?limit=100000", kRead);
  const std::string said = refused.body.substr(0, 300);
  EXPECT_EQ(refused.status, 503) << said;
  EXPECT_NE(refused.body.find("still being downloaded"), std::string::npos) << said;
  EXPECT_NE(refused.body.find("service.max_pages_in_flight_bytes"), std::string::npos) << said;
  EXPECT_EQ(refused.Get("Retry-After"), "5");
  // The chain head and one incident are a few hundred bytes: still answered.
  EXPECT_EQ(Call(*c, "GET", "/v1/audit/head", kRead).status, 200);
  EXPECT_EQ(Call(*c, "GET", "/v1/incidents/inc_00000001", kRead).status, 200);
  auto report = Call(*c, "GET", "/v1/reports/summary", kRead);  // reports count the same way
  EXPECT_EQ(report.status, 503) << report.body.substr(0, 300);
  EXPECT_NE(report.body.find("still being downloaded"), std::string::npos) << report.body.substr(0, 300);
  EXPECT_EQ(Call(*c, "GET", "/healthz", nullptr).status, 200);
  EXPECT_EQ(Post(*c, Event("evt_meanwhile", "meanwhile@acme.fr")).status, 202);
  // The metric shows the two pages held, at least the bound.
  auto held = [&] {
    std::string m = Call(*c, "GET", "/metrics", nullptr).body;
    size_t at = m.find("\nnoxsync_http_read_answers_held_bytes ");
    return at == std::string::npos ? -1.0 : std::stod(m.substr(at + 38));
  };
  EXPECT_GE(held(), 2.0 * static_cast<double>(page));
  // The stalled clients leave: their answers' memory comes back.
  for (int fd : stalled) ::close(fd);
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    status = Call(*c, "GET", "/v1/audit?limit=100000", kRead).status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 200);
  // Every answer written, nothing left counted (the last one's count is
  // dropped just after its last byte is handed to the kernel).
  double left = held();
  for (int i = 0; i < 40 && left != 0.0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    left = held();
  }
  EXPECT_EQ(left, 0.0);
  EXPECT_EQ(Stop(), 0);
  // A bound below one page is refused by config check.
  std::string config = WriteConfig(R"(,"max_page_bytes":1048576,"max_pages_in_flight_bytes":524288)", false);
  auto check = testing::RunNoxsync("config check --config " + config, dir_.path());
  EXPECT_NE(check.exit_code, 0);
  EXPECT_NE(check.err.find("service.max_pages_in_flight_bytes: is below max_page_bytes"), std::string::npos)
      << check.err;
}

// Waits until the file holds `what`; false after 5 s.
bool EventuallyHolds(const std::string& path, const std::string& what) {
  for (int i = 0; i < 200; ++i) {
    if (testing::ReadFile(path).find(what) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

TEST_F(Serve, SighupReopensTheLogFileForLogrotate) {
  std::string log = dir_.Sub("noxsync.log");
  ::setenv("NOXSYNC_LOG_LEVEL", "debug", 1);  // a line per request
  Start("", log);
  ::unsetenv("NOXSYNC_LOG_LEVEL");
  auto c = Client();
  EXPECT_EQ(Post(*c, Event("evt_before")).status, 202);
  ASSERT_TRUE(EventuallyHolds(log, "POST /v1/events")) << testing::ReadFile(out_);
  // logrotate's way: move the file, then signal. Until serve reopens the
  // name, lines go on to the moved file (the descriptor follows it).
  std::string rotated = dir_.Sub("noxsync.log.1");
  ASSERT_EQ(std::rename(log.c_str(), rotated.c_str()), 0);
  ::kill(pid_, SIGHUP);
  ASSERT_TRUE(EventuallyHolds(log, "reopened the log file " + log)) << testing::ReadFile(rotated);
  EXPECT_EQ(Post(*c, Event("evt_after")).status, 202);
  EXPECT_EQ(Stop(), 0);
  std::string before = testing::ReadFile(rotated), after = testing::ReadFile(log);
  EXPECT_NE(after.find("POST /v1/events"), std::string::npos) << after;
  EXPECT_NE(after.find("SIGTERM received"), std::string::npos) << after;
  EXPECT_EQ(before.find("reopened"), std::string::npos) << before;
  EXPECT_EQ(before.find("SIGTERM"), std::string::npos) << before;
  // Log lines went to the file only; stderr has the start-up report.
  EXPECT_EQ(testing::ReadFile(out_).find("POST /v1/events"), std::string::npos);
  // The file has the run's beginning and end too, as its operators read it:
  // the configuration's warnings (naming keys, never the secrets), where it
  // listened, and that it stopped cleanly.
  EXPECT_NE(before.find("serve.json: service.webhook_secret: the secret is written in the file"), std::string::npos)
      << before;
  EXPECT_NE(before.find("serve: listening on 127.0.0.1:" + std::to_string(port_)), std::string::npos) << before;
  EXPECT_NE(after.find("serve: stopped cleanly (log head "), std::string::npos) << after;
  for (const std::string& text : {before, after, testing::ReadFile(out_)}) {
    for (const char* secret : {kSecret, kIngest, kRead, kOperate, "fake-jira-api-token"}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << secret;
    }
  }
  // And the person at the terminal still sees them, plain.
  EXPECT_NE(testing::ReadFile(out_).find("noxsync: warning: "), std::string::npos) << testing::ReadFile(out_);
  EXPECT_NE(testing::ReadFile(out_).find("noxsync: serve: stopped cleanly"), std::string::npos);
}

// With --log-format json on stderr, every line there is one JSON object,
// the configuration's warnings and the last line included: a log pipeline
// reading it never meets a plain line. (The address serve listens on is
// its output, on stdout.)
TEST_F(Serve, JsonLogsOnStderrAreJsonFromTheFirstLineToTheLast) {
  extra_args_ = {"--log-format", "json"};
  Start();
  auto c = Client();
  EXPECT_EQ(Post(*c, Event("evt_json")).status, 202);
  EXPECT_EQ(Stop(), 0);
  std::string out = testing::ReadFile(out_);
  std::vector<std::string> levels;
  std::string last_msg;
  for (size_t at = 0, end; at < out.size(); at = end + 1) {
    end = out.find('\n', at);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(at, end - at);
    if (line.empty() || line.rfind("noxsync serve: listening on ", 0) == 0) continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    levels.emplace_back(v.at("level").as_string());
    last_msg = v.at("msg").as_string();
  }
  EXPECT_NE(std::find(levels.begin(), levels.end(), "warning"), levels.end()) << out;  // the secrets in the file
  EXPECT_EQ(last_msg.rfind("serve: stopped cleanly (log head ", 0), 0u) << out;
}

}  // namespace
}  // namespace noxsync
