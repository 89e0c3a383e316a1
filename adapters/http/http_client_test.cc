#include "adapters/http/http_client.h"

#include <atomic>
#include <mutex>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "tests/fakes/http_server.h"
#include "tests/fakes/test_support.h"
#include "tests/temp_dir.h"

namespace noxsync::http {
namespace {

using fakes::FakeHttpServer;
using fakes::FakeRequest;
using fakes::FakeResponse;
using testing::LogCapture;
using testing::RecordingSleeper;

constexpr int64_t kStart = 1'795'000'000'000'000;  // 2026-11-18, arbitrary

class HttpClientTest : public ::testing::Test {
 protected:
  ManualClock clock_{kStart};
  RecordingSleeper sleeper_{&clock_};

  ClientOptions Options() {
    ClientOptions o;
    o.name = "test";
    o.proxy = ProxyOptions{};  // never the environment's
    o.connect_timeout_us = 2'000'000;
    o.request_timeout_us = 2'000'000;
    o.jitter_seed = 42;
    return o;
  }
  std::unique_ptr<HttpClient> Client(ClientOptions o) {
    auto c = HttpClient::Create(std::move(o), clock_, sleeper_);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(c).value();
  }
  void Serve(FakeHttpServer* server, fakes::Handler h, const fakes::TlsFiles* tls = nullptr) {
    std::string error;
    ASSERT_TRUE(server->Start(0, std::move(h), &error, tls)) << error;
  }
};

Request Get(const std::string& url) {
  Request r;
  r.url = url;
  return r;
}

// --- TLS ---------------------------------------------------------------

class HttpClientTlsTest : public HttpClientTest {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    ASSERT_TRUE(testing::MakeTestCertificates(dir_->path())) << "openssl failed";
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    fakes::TlsFiles files{dir_->Sub("server.pem"), dir_->Sub("server.key")};
    Serve(&server_, [](const FakeRequest&) { return FakeResponse{200, {}, R"({"ok":true})"}; }, &files);
  }
  std::string LocalhostUrl() { return "https://localhost:" + std::to_string(server_.port()) + "/x"; }
  static testing::TempDir* dir_;
  FakeHttpServer server_;
};
testing::TempDir* HttpClientTlsTest::dir_ = nullptr;

TEST_F(HttpClientTlsTest, SelfSignedCaIsRefusedWithoutCaFile) {
  auto client = Client(Options());
  Outcome out = client->Send(Get(LocalhostUrl()));
  EXPECT_EQ(out.failure, Failure::kTls);
  EXPECT_NE(out.error.find("is not trusted"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("ca_file"), std::string::npos) << out.error;
  EXPECT_EQ(out.attempts, 1);  // a certificate problem does not pass by retrying
}

TEST_F(HttpClientTlsTest, SelfSignedCaIsTrustedWithCaFile) {
  ClientOptions o = Options();
  o.tls.ca_file = dir_->Sub("ca.pem");
  auto client = Client(o);
  Outcome out = client->Send(Get(LocalhostUrl()));
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.response.status, 200);
  EXPECT_EQ(out.response.body, R"({"ok":true})");
}

TEST_F(HttpClientTlsTest, WrongHostNameIsRefusedEvenWithCaFile) {
  ClientOptions o = Options();
  o.tls.ca_file = dir_->Sub("ca.pem");
  auto client = Client(o);
  Outcome out = client->Send(Get("https://127.0.0.1:" + std::to_string(server_.port()) + "/x"));
  EXPECT_EQ(out.failure, Failure::kTls);
  EXPECT_NE(out.error.find("is not valid for the name \"127.0.0.1\""), std::string::npos) << out.error;
}

TEST_F(HttpClientTlsTest, SkippingVerificationNeedsTheFlagAndWarns) {
  LogCapture log;
  ClientOptions o = Options();
  o.tls.insecure_skip_verify = true;
  auto client = Client(o);
  EXPECT_NE(log.text().find("TLS certificate verification is OFF"), std::string::npos);
  Outcome out = client->Send(Get("https://127.0.0.1:" + std::to_string(server_.port()) + "/x"));
  ASSERT_TRUE(out.ok()) << out.error;
}

TEST_F(HttpClientTlsTest, UnreadableCaFileIsAConfigError) {
  ClientOptions o = Options();
  o.tls.ca_file = dir_->Sub("missing.pem");
  auto c = HttpClient::Create(o, clock_, sleeper_);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("cannot load http.ca_file"), std::string::npos);
}

// A CONNECT proxy: records what it was asked, then pipes bytes both ways.
class ConnectProxy {
 public:
  ConnectProxy() : acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ConnectProxy() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  using tcp = boost::asio::ip::tcp;
  void Run() {
    boost::system::error_code ec;
    tcp::socket client(ioc_);
    acceptor_.accept(client, ec);
    if (ec) return;
    boost::asio::streambuf head;
    boost::asio::read_until(client, head, "\r\n\r\n", ec);
    std::string text{boost::asio::buffers_begin(head.data()), boost::asio::buffers_end(head.data())};
    std::string line = text.substr(0, text.find("\r\n"));
    {
      std::lock_guard lock(mu_);
      requests_.push_back(line);
    }
    // "CONNECT localhost:PORT HTTP/1.1"
    std::string authority = line.substr(8, line.rfind(' ') - 8);
    std::string port = authority.substr(authority.rfind(':') + 1);
    tcp::socket upstream(ioc_);
    upstream.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(std::stoi(port))}, ec);
    boost::asio::write(client, boost::asio::buffer(std::string("HTTP/1.1 200 Connection established\r\n\r\n")), ec);
    std::thread up([&] { Pipe(client, upstream); });
    Pipe(upstream, client);
    up.join();
  }
  static void Pipe(tcp::socket& from, tcp::socket& to) {
    char buf[8192];
    boost::system::error_code ec;
    for (;;) {
      size_t n = from.read_some(boost::asio::buffer(buf), ec);
      if (ec) break;
      boost::asio::write(to, boost::asio::buffer(buf, n), ec);
      if (ec) break;
    }
    to.shutdown(tcp::socket::shutdown_send, ec);
  }
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

TEST_F(HttpClientTlsTest, HttpsGoesThroughTheProxyWithConnect) {
  ConnectProxy proxy;
  ClientOptions o = Options();
  o.tls.ca_file = dir_->Sub("ca.pem");
  o.proxy.https_proxy = "http://127.0.0.1:" + std::to_string(proxy.port());
  auto client = Client(o);
  Outcome out = client->Send(Get(LocalhostUrl()));
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.response.status, 200);
  ASSERT_EQ(proxy.requests().size(), 1u);
  EXPECT_EQ(proxy.requests()[0], "CONNECT localhost:" + std::to_string(server_.port()) + " HTTP/1.1");
}

TEST_F(HttpClientTlsTest, NoProxyListBypassesTheProxy) {
  ClientOptions o = Options();
  o.tls.ca_file = dir_->Sub("ca.pem");
  o.proxy.https_proxy = "http://127.0.0.1:1";  // nothing listens there
  o.proxy.no_proxy = "example.com, .localhost,localhost";
  auto client = Client(o);
  Outcome out = client->Send(Get(LocalhostUrl()));
  ASSERT_TRUE(out.ok()) << out.error;
}

// https:// to a server that speaks plain HTTP, which answers the TLS hello
// with an HTTP error: named as such, not as a bare OpenSSL reason.
TEST_F(HttpClientTest, HttpsToAPlainHttpServerSaysSo) {
  using tcp = boost::asio::ip::tcp;
  boost::asio::io_context ioc;
  tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  std::thread server([&] {
    boost::system::error_code ec;
    tcp::socket s(ioc);
    acceptor.accept(s, ec);
    if (ec) return;
    char hello[512];
    s.read_some(boost::asio::buffer(hello), ec);
    std::string answer = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(answer), ec);
    s.shutdown(tcp::socket::shutdown_both, ec);
  });
  auto client = Client(Options());
  Outcome out = client->Send(Get("https://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/x"));
  server.join();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.failure, Failure::kTls) << out.error;
  EXPECT_NE(out.error.find("the server answered without TLS: check the port, or use http:// if it serves plain HTTP"),
            std::string::npos)
      << out.error;
}

TEST_F(HttpClientTest, PlainHttpThroughAProxyUsesTheAbsoluteUrl) {
  FakeHttpServer proxy;
  std::string seen_target, seen_host;
  Serve(&proxy, [&](const FakeRequest& r) {
    seen_target = r.target;
    seen_host = r.Header("host");
    return FakeResponse{200, {}, "{}"};
  });
  ClientOptions o = Options();
  o.proxy.http_proxy = proxy.base_url();
  auto client = Client(o);
  Outcome out = client->Send(Get("http://backend.example:8080/rest/api/3/myself?x=1"));
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(seen_target, "http://backend.example:8080/rest/api/3/myself?x=1");
  EXPECT_EQ(seen_host, "backend.example:8080");
}

// --- Connections --------------------------------------------------------

TEST_F(HttpClientTest, KeepsConnectionsAliveAndReusesThem) {
  FakeHttpServer server;
  Serve(&server, [](const FakeRequest&) { return FakeResponse{200, {}, "{}"}; });
  auto client = Client(Options());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->Send(Get(server.base_url() + "/x")).ok());
  EXPECT_EQ(server.connections_accepted(), 1u);
  EXPECT_EQ(client->connections_opened(), 1u);
}

TEST_F(HttpClientTest, ConnectionsOlderThanTheIdleTimeoutAreNotReused) {
  FakeHttpServer server;
  Serve(&server, [](const FakeRequest&) { return FakeResponse{200, {}, "{}"}; });
  ClientOptions o = Options();
  o.idle_timeout_us = 1'000'000;
  auto client = Client(o);
  ASSERT_TRUE(client->Send(Get(server.base_url() + "/x")).ok());
  clock_.Advance(2'000'000);
  ASSERT_TRUE(client->Send(Get(server.base_url() + "/x")).ok());
  EXPECT_EQ(server.connections_accepted(), 2u);
}

TEST_F(HttpClientTest, ServerSideCloseOfAnIdleConnectionIsHealed) {
  FakeHttpServer server;
  Serve(&server, [](const FakeRequest&) { return FakeResponse{200, {}, "{}"}; });
  auto client = Client(Options());
  ASSERT_TRUE(client->Send(Get(server.base_url() + "/x")).ok());
  server.Stop();  // closes the kept-alive connection
  std::string error;
  FakeHttpServer again;
  ASSERT_TRUE(again.Start(server.port(), [](const FakeRequest&) { return FakeResponse{200, {}, "{}"}; }, &error))
      << error;
  Request post;
  post.method = "POST";
  post.url = server.base_url() + "/x";
  Outcome out = client->Send(post);
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.attempts, 1);
}

// --- Retries ------------------------------------------------------------

TEST_F(HttpClientTest, HonoursRetryAfterInSeconds) {
  FakeHttpServer server;
  std::atomic<int> calls{0};
  Serve(&server, [&](const FakeRequest&) {
    if (++calls <= 2) return FakeResponse{429, {{"Retry-After", "7"}}, R"({"errorMessages":["slow down"]})"};
    return FakeResponse{201, {}, "{}"};
  });
  auto client = Client(Options());
  Request post;
  post.method = "POST";  // 429 means "not processed": safe to resend any method
  post.url = server.base_url() + "/rest/api/3/issue";
  Outcome out = client->Send(post);
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.response.status, 201);
  EXPECT_EQ(out.attempts, 3);
  EXPECT_EQ(sleeper_.sleeps(), (std::vector<int64_t>{7'000'000, 7'000'000}));
}

TEST_F(HttpClientTest, HonoursRetryAfterAsAnHttpDate) {
  FakeHttpServer server;
  std::atomic<int> calls{0};
  // kStart is 2026-11-18T11:06:40Z; ask for 11:07:10 GMT: 30 s later.
  Serve(&server, [&](const FakeRequest&) {
    if (++calls == 1) return FakeResponse{503, {{"Retry-After", "Wed, 18 Nov 2026 11:07:10 GMT"}}, ""};
    return FakeResponse{200, {}, "{}"};
  });
  auto client = Client(Options());
  Outcome out = client->Send(Get(server.base_url() + "/x"));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(sleeper_.sleeps(), (std::vector<int64_t>{30'000'000}));
}

TEST_F(HttpClientTest, BacksOffExponentiallyWithFullJitterUpToTheAttemptBound) {
  FakeHttpServer server;
  std::atomic<int> calls{0};
  Serve(&server, [&](const FakeRequest&) {
    ++calls;
    return FakeResponse{503, {}, "down"};
  });
  ClientOptions o = Options();
  o.retry.max_attempts = 6;
  o.retry.base_delay_us = 1'000'000;
  o.retry.max_delay_us = 8'000'000;
  auto client = Client(o);
  Outcome out = client->Send(Get(server.base_url() + "/x"));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.response.status, 503);  // the last reply, for the caller to judge
  EXPECT_EQ(out.attempts, 6);
  EXPECT_EQ(calls, 6);
  auto sleeps = sleeper_.sleeps();
  ASSERT_EQ(sleeps.size(), 5u);
  int64_t caps[] = {1'000'000, 2'000'000, 4'000'000, 8'000'000, 8'000'000};
  bool all_equal = true;
  for (size_t i = 0; i < sleeps.size(); ++i) {
    EXPECT_GE(sleeps[i], 0);
    EXPECT_LE(sleeps[i], caps[i]) << "retry " << i;
    all_equal = all_equal && sleeps[i] == caps[i];
  }
  EXPECT_FALSE(all_equal) << "full jitter draws below the cap";
}

TEST_F(HttpClientTest, DoesNotResendAPostAfterA502) {
  FakeHttpServer server;
  std::atomic<int> calls{0};
  Serve(&server, [&](const FakeRequest&) {
    ++calls;
    return FakeResponse{502, {}, "bad gateway"};
  });
  auto client = Client(Options());
  Request post;
  post.method = "POST";
  post.url = server.base_url() + "/x";
  Outcome out = client->Send(post);
  EXPECT_EQ(out.response.status, 502);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(sleeper_.sleeps().empty());
}

TEST_F(HttpClientTest, GivesUpWhenRetryAfterPassesTheTimeBudget) {
  FakeHttpServer server;
  Serve(&server, [&](const FakeRequest&) { return FakeResponse{429, {{"Retry-After", "600"}}, ""}; });
  ClientOptions o = Options();
  o.retry.max_total_us = 120'000'000;
  auto client = Client(o);
  LogCapture log;
  Outcome out = client->Send(Get(server.base_url() + "/x"));
  EXPECT_EQ(out.response.status, 429);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_TRUE(sleeper_.sleeps().empty());
  EXPECT_NE(log.text().find("would pass the retry budget"), std::string::npos) << log.text();
}

TEST_F(HttpClientTest, RetriesAreLoggedWithoutSecretsOrUrls) {
  FakeHttpServer server;
  std::atomic<int> calls{0};
  Serve(&server, [&](const FakeRequest&) {
    return ++calls == 1 ? FakeResponse{503, {{"Retry-After", "1"}}, ""} : FakeResponse{200, {}, "{}"};
  });
  auto client = Client(Options());
  LogCapture log;
  Request r = Get(server.base_url() + "/services/T000/B000/webhook-secret-path?token=query-secret");
  r.headers.push_back({"Authorization", "Bearer super-secret-token"});
  r.what = "Slack webhook";
  ASSERT_TRUE(client->Send(r).ok());
  std::string text = log.text();
  EXPECT_NE(text.find("test: Slack webhook to 127.0.0.1 attempt 1/5 failed: HTTP 503; retrying in 1000 ms"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("super-secret-token"), std::string::npos);
  EXPECT_EQ(text.find("webhook-secret-path"), std::string::npos);
  EXPECT_EQ(text.find("query-secret"), std::string::npos);
}

// --- Failures -----------------------------------------------------------

TEST_F(HttpClientTest, SlowReplyTimesOutAndIdempotentRequestIsRetried) {
  FakeHttpServer server;
  std::atomic<int> calls{0};
  Serve(&server, [&](const FakeRequest&) {
    FakeResponse r{200, {}, "{}"};
    if (++calls == 1) r.delay_ms = 1500;
    return r;
  });
  ClientOptions o = Options();
  o.request_timeout_us = 200'000;
  auto client = Client(o);
  Outcome out = client->Send(Get(server.base_url() + "/x"));
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.attempts, 2);
}

TEST_F(HttpClientTest, SlowReplyToAPostIsATimeoutNotARetry) {
  FakeHttpServer server;
  Serve(&server, [&](const FakeRequest&) {
    FakeResponse r{201, {}, "{}"};
    r.delay_ms = 1500;
    return r;
  });
  ClientOptions o = Options();
  o.request_timeout_us = 200'000;
  auto client = Client(o);
  Request post;
  post.method = "POST";
  post.url = server.base_url() + "/x";
  Outcome out = client->Send(post);
  EXPECT_EQ(out.failure, Failure::kTimeout);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_NE(out.error.find("no complete reply from 127.0.0.1:"), std::string::npos) << out.error;
}

TEST_F(HttpClientTest, ResetAndTruncatedRepliesAreConnectionLost) {
  FakeHttpServer server;
  Serve(&server, [&](const FakeRequest& r) {
    FakeResponse res{200, {}, R"({"issues":[1,2,3,4,5,6,7,8]})"};
    res.fault = r.path == "/reset" ? fakes::Fault::kReset : fakes::Fault::kTruncated;
    return res;
  });
  ClientOptions o = Options();
  o.retry.max_attempts = 2;
  auto client = Client(o);
  Outcome reset = client->Send(Get(server.base_url() + "/reset"));
  EXPECT_EQ(reset.failure, Failure::kConnectionLost);
  EXPECT_EQ(reset.attempts, 2);
  Outcome truncated = client->Send(Get(server.base_url() + "/truncated"));
  EXPECT_EQ(truncated.failure, Failure::kConnectionLost);
  EXPECT_NE(truncated.error.find("in the middle of the reply"), std::string::npos) << truncated.error;
}

TEST_F(HttpClientTest, RefusedConnectionIsRetriedEvenForAPost) {
  FakeHttpServer server;
  Serve(&server, [](const FakeRequest&) { return FakeResponse{}; });
  std::string url = server.base_url() + "/x";
  server.Stop();
  ClientOptions o = Options();
  o.retry.max_attempts = 3;
  auto client = Client(o);
  Request post;
  post.method = "POST";
  post.url = url;
  Outcome out = client->Send(post);  // nothing was sent, so resending is safe
  EXPECT_EQ(out.failure, Failure::kConnect);
  EXPECT_EQ(out.attempts, 3);
  EXPECT_NE(out.error.find("cannot connect to 127.0.0.1:"), std::string::npos) << out.error;
}

TEST_F(HttpClientTest, UnknownHostIsNamedAsSuch) {
  ClientOptions o = Options();
  o.connect_timeout_us = 30'000'000;
  auto client = Client(o);
  Outcome out = client->Send(Get("https://noxsync-test.invalid/rest/api/3/myself"));
  EXPECT_EQ(out.failure, Failure::kNameNotResolved) << out.error;
  EXPECT_NE(out.error.find("cannot resolve host name noxsync-test.invalid"), std::string::npos) << out.error;
}

TEST_F(HttpClientTest, OversizedReplyIsRefused) {
  FakeHttpServer server;
  Serve(&server, [](const FakeRequest&) { return FakeResponse{200, {}, std::string(2 << 20, 'x')}; });
  ClientOptions o = Options();
  o.max_response_bytes = 1 << 20;
  auto client = Client(o);
  Outcome out = client->Send(Get(server.base_url() + "/x"));
  EXPECT_EQ(out.failure, Failure::kProtocol);
  EXPECT_NE(out.error.find("larger than 1 MiB"), std::string::npos) << out.error;
}

TEST_F(HttpClientTest, BadUrlsAreRefusedBeforeAnyIo) {
  auto client = Client(Options());
  for (const char* bad : {"ftp://host/x", "acme.atlassian.net", "https://", "https://host:99999999/"}) {
    EXPECT_EQ(client->Send(Get(bad)).failure, Failure::kBadUrl) << bad;
  }
}

// --- Helpers ------------------------------------------------------------

TEST(HttpHelpers, ParseRetryAfter) {
  int64_t now = kStart;
  EXPECT_EQ(ParseRetryAfter("120", now), 120);
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), 0);
  EXPECT_EQ(ParseRetryAfter("Wed, 18 Nov 2026 11:07:40 GMT", now), 60);
  EXPECT_EQ(ParseRetryAfter("Wed, 18 Nov 2026 11:00:00 GMT", now), 0);  // in the past: now
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("-5", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("Wed, 18 Nov 2026 11:07:40 CET", now).has_value());
}

TEST(HttpHelpers, BasicAuthAndUrlEncoding) {
  EXPECT_EQ(BasicAuth("alice@acme.fr", Secret("tok")), "Basic YWxpY2VAYWNtZS5mcjp0b2s=");
  EXPECT_EQ(UrlEncode("labels = \"noxys\" AND x>=1"), "labels%20%3D%20%22noxys%22%20AND%20x%3E%3D1");
}

}  // namespace
}  // namespace noxsync::http
