// HttpClient: the one HTTP/1.1 client every adapter and notifier uses.
//
// HTTPS verifies the certificate chain (system store, plus an optional CA
// file) and the host name, with SNI; turning that off takes an explicit
// insecure_skip_verify and warns every time a client is made. Connections are
// kept alive and reused per host. HTTPS_PROXY / HTTP_PROXY / NO_PROXY are
// honoured (HTTPS through CONNECT). Failures that may pass (connection
// errors, timeouts, 502/503/504 on idempotent requests, 429 and 503 with
// Retry-After on any) are retried with exponential backoff and full jitter,
// within a bound on attempts and on total time.
//
// What is logged: the client's name, the request's `what` (never its URL:
// a Slack webhook's path is a secret), the host, the attempt and the reason.
// Headers and bodies are never logged.
//
// Beast and Asio stay in http_client.cc; this header is light on purpose.
// Thread-safe: concurrent Send() calls use separate connections. The Clock
// and Sleeper must outlive the client.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"
#include "sync/clock.h"
#include "sync/secret.h"

namespace noxsync {
class ConfigSection;
}

namespace noxsync::http {

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string method = "GET";
  std::string url;  // absolute: https://host[:port]/path?query
  std::vector<Header> headers;
  std::string body;
  // What this request does, for logs and errors: "GET /rest/api/3/myself".
  // Defaults to the method; never the URL (it may hold a secret).
  std::string what;
  // Whether sending it twice is harmless; defaults from the method (GET,
  // HEAD, PUT, DELETE, OPTIONS are; POST and PATCH are not).
  std::optional<bool> idempotent;
};

struct Response {
  int status = 0;
  std::vector<Header> headers;
  std::string body;
  // The first header of that name, case-insensitive; "" if none.
  std::string Get(std::string_view name) const;
};

// Why no response came back.
enum class Failure {
  kNone,
  kBadUrl,
  kNameNotResolved,
  kConnect,         // refused, unreachable
  kTls,             // handshake or certificate verification
  kTimeout,
  kConnectionLost,  // reset or closed mid-exchange
  kProxy,           // the proxy refused or failed the CONNECT
  kProtocol,        // not HTTP, or a reply larger than the limit
};
const char* FailureName(Failure f);

struct Outcome {
  Failure failure = Failure::kNone;
  std::string error;   // for people; names the host and the step
  Response response;   // when failure == kNone; any status, 4xx and 5xx too
  int attempts = 0;
  bool ok() const { return failure == Failure::kNone; }
};

struct TlsOptions {
  std::string ca_file;  // PEM bundle trusted in addition to the system store
  bool insecure_skip_verify = false;
};

struct ProxyOptions {
  std::string http_proxy;   // for http:// URLs
  std::string https_proxy;  // for https:// URLs, through CONNECT
  std::string no_proxy;     // "localhost,.corp.example,10.0.0.1"
  // From HTTPS_PROXY / HTTP_PROXY / NO_PROXY (lower case wins, as curl does).
  static ProxyOptions FromEnvironment();
};

struct RetryPolicy {
  int max_attempts = 5;
  int64_t base_delay_us = 500'000;
  int64_t max_delay_us = 30'000'000;
  int64_t max_total_us = 120'000'000;  // no retry starts after this
};

struct ClientOptions {
  std::string name = "http";  // "jira": starts every log line
  TlsOptions tls;
  ProxyOptions proxy = ProxyOptions::FromEnvironment();
  RetryPolicy retry;
  int64_t connect_timeout_us = 10'000'000;  // resolve + connect + proxy + TLS
  int64_t request_timeout_us = 30'000'000;  // write the request, read the reply
  int64_t idle_timeout_us = 30'000'000;     // pooled connections older are closed
  size_t max_response_bytes = 16 << 20;
  std::string user_agent = "noxsync";
  uint64_t jitter_seed = 0;  // 0: from std::random_device
};

// Reads the "http" section of a backend's config into *options: ca_file,
// insecure_skip_verify, connect_timeout_ms, request_timeout_ms, max_attempts,
// max_retry_seconds. Problems go to the section.
void ReadClientOptions(ConfigSection* section, ClientOptions* options);

class HttpClient {
 public:
  // Fails when the TLS setup fails (an unreadable ca_file).
  static Result<std::unique_ptr<HttpClient>> Create(ClientOptions options, const Clock& clock,
                                                    Sleeper& sleeper);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends, retrying per the policy. A response of any status is a success
  // of the transport; the caller decides what a 4xx means.
  Outcome Send(const Request& request);

  // Connections opened so far (for tests of keep-alive reuse).
  uint64_t connections_opened() const;

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "Basic base64(user:secret)" for an Authorization header.
std::string BasicAuth(std::string_view user, const Secret& secret);

// Percent-encodes a query parameter value (RFC 3986 unreserved kept).
std::string UrlEncode(std::string_view s);

// Seconds to wait from a Retry-After value: delta-seconds or an HTTP date,
// relative to now_us. nullopt when it cannot be read.
std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_us);

}  // namespace noxsync::http
