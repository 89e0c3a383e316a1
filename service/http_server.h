// HttpServer: the HTTP/1.1 server of `noxsync serve`, on Boost.Beast.
//
// Asynchronous: a few threads serve every connection, and a handler may
// answer later from any thread (the webhook answers once its events are
// durable). Limits keep one client from starving the rest: a cap on open
// connections (the one over it gets 503 and is closed), a deadline to send
// the header, another for the body, an idle deadline between keep-alive
// requests, and caps on header and body size (431, 413).
//
// No Beast type appears here, so handlers compile without Beast.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/status.h"

namespace noxsync::service {

// Percent-decodes a request path or query part; "+" is a space only in a
// query (plus_is_space). A "%" not followed by two hex digits stays as is.
std::string UrlDecode(std::string_view s, bool plus_is_space);

struct HttpRequest {
  std::string method;
  std::string target;  // path and query, as sent
  std::string path;    // decoded path, no query
  std::vector<std::pair<std::string, std::string>> query;    // decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string remote;      // peer address
  std::string request_id;  // X-Request-Id if sent (sanitised), else generated

  std::string Header(std::string_view lower_name) const;  // "" if absent
  std::string Query(std::string_view name) const;         // "" if absent
  bool HasQuery(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Kept by the server until the answer is written or its connection is
  // gone, then dropped: a handler that counts the memory its answers hold
  // releases it in this object's deleter.
  std::shared_ptr<void> hold;
};

// Called exactly once per request, from any thread.
using Responder = std::function<void(HttpResponse)>;
using Handler = std::function<void(HttpRequest, Responder)>;
// Called with a request's header (no body yet) when its body has still to
// come: an answer refuses it before the body is read, and the connection is
// closed. So a client the handler would refuse anyway (no valid token)
// cannot make the server wait for, and hold, a body on every connection.
using HeaderCheck = std::function<std::optional<HttpResponse>(const HttpRequest& head)>;
// After each answered request: status and seconds taken, with the request's
// method, path, remote and request_id (its body and headers went to the handler).
using Observer = std::function<void(const HttpRequest&, int status, double seconds)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see HttpServer::port)
  // A listening TCP socket to accept on instead of binding host:port (one
  // passed by systemd's socket activation); -1: none. The server closes its
  // copy on Shutdown; whoever passed it may keep it listening.
  int listen_fd = -1;
  int threads = 2;
  size_t max_connections = 512;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1 << 20;
  int64_t header_timeout_ms = 10'000;
  int64_t body_timeout_ms = 30'000;
  int64_t idle_timeout_ms = 60'000;
};

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (or takes options.listen_fd) without accepting yet, so
  // a caller learns the address is unusable before it opens anything else;
  // connections wait in the backlog until Start. Fails with the address named.
  Status Listen(const ServerOptions& options);
  // Starts accepting and the threads, on the address Listen took.
  Status Start(Handler handler, Observer observer = {}, HeaderCheck header_check = {});
  // Listen, then Start.
  Status Start(const ServerOptions& options, Handler handler, Observer observer = {}, HeaderCheck header_check = {});
  int port() const;
  std::string address() const;  // the address accepted on, "host:port"

  // Shutdown, in order: stop accepting; wait (up to `drain_ms`) until no
  // request is in flight (idle keep-alive connections are closed at once,
  // busy ones after their answer); then stop the threads. Idempotent.
  void Shutdown(int64_t drain_ms);

  size_t open_connections() const;
  uint64_t refused_connections() const;  // over max_connections

  struct Impl;  // internal; public so the connection class can name it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace noxsync::service
