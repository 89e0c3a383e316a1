// FakeHttpServer: a small HTTP/1.1 server for tests and the fake backends.
//
// It listens on 127.0.0.1 (port 0 picks a free one), optionally with TLS
// from a certificate and key file, and hands each request to a handler that
// returns a response, possibly with a fault to act out (close the connection
// without a reply, send half a body, wait before replying). Connections are
// kept alive. One thread accepts; each connection has its own thread; the
// handler may be called from several threads at once. Stop() (and the
// destructor) closes every connection and joins the threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace noxsync::fakes {

struct FakeRequest {
  std::string method;
  std::string target;  // as sent: /path?query (or absolute through a proxy)
  std::string path;    // decoded path without the query
  std::multimap<std::string, std::string> query;  // decoded
  std::map<std::string, std::string> headers;     // names lower-cased
  std::string body;

  std::string Header(const std::string& lower_name) const;
  std::string Query(const std::string& name) const;  // first value or ""
};

enum class Fault {
  kNone,
  kReset,      // close the connection without replying
  kTruncated,  // announce the full Content-Length, send half, close
};

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json;charset=UTF-8";
  Fault fault = Fault::kNone;
  int delay_ms = 0;  // wait this long before replying (a slow backend)
};

using Handler = std::function<FakeResponse(const FakeRequest&)>;

struct TlsFiles {
  std::string cert_file;  // PEM chain
  std::string key_file;
};

class FakeHttpServer {
 public:
  FakeHttpServer();
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  // False with *error set when the port cannot be bound or TLS files fail.
  bool Start(uint16_t port, Handler handler, std::string* error, const TlsFiles* tls = nullptr,
             const std::string& address = "127.0.0.1");
  void Stop();
  uint16_t port() const;
  std::string base_url() const;  // http(s)://127.0.0.1:PORT
  uint64_t connections_accepted() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace noxsync::fakes
