#include "adapters/http/http_client.h"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include "store/utf8.h"
#include "sync/config_reader.h"

namespace noxsync::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

const char* FailureName(Failure f) {
  switch (f) {
    case Failure::kNone: return "none";
    case Failure::kBadUrl: return "bad URL";
    case Failure::kNameNotResolved: return "name not resolved";
    case Failure::kConnect: return "connection failed";
    case Failure::kTls: return "TLS failure";
    case Failure::kTimeout: return "timeout";
    case Failure::kConnectionLost: return "connection lost";
    case Failure::kProxy: return "proxy failure";
    case Failure::kProtocol: return "protocol error";
  }
  return "?";
}

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct Url {
  bool tls = false;
  std::string host;  // without brackets
  std::string port;
  std::string target;  // /path?query
  std::string user, password;  // proxies only

  std::string HostPort() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return h + ":" + port;
  }
  std::string HostHeader() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    bool default_port = (tls && port == "443") || (!tls && port == "80");
    return default_port ? h : h + ":" + port;
  }
};

// scheme://[user:pass@]host[:port][/target]; a proxy may omit the scheme.
bool ParseUrl(std::string_view s, bool proxy, Url* u) {
  size_t scheme_end = s.find("://");
  std::string scheme = scheme_end == std::string_view::npos ? "" : Lower(s.substr(0, scheme_end));
  if (scheme.empty() && !proxy) return false;
  if (scheme == "https") {
    if (proxy) return false;  // a TLS connection to the proxy itself is not supported
    u->tls = true;
  } else if (!scheme.empty() && scheme != "http") {
    return false;
  }
  std::string_view rest = scheme_end == std::string_view::npos ? s : s.substr(scheme_end + 3);
  size_t path = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path);
  u->target = path == std::string_view::npos ? "/" : std::string(rest.substr(path));
  if (!u->target.empty() && u->target[0] == '?') u->target = "/" + u->target;
  if (size_t hash = u->target.find('#'); hash != std::string::npos) u->target.resize(hash);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    size_t colon = userinfo.find(':');
    u->user = std::string(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) u->password = std::string(userinfo.substr(colon + 1));
    authority = authority.substr(at + 1);
  }
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    u->host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return false;
      port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    u->host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u->host.empty()) return false;
  if (port.empty()) {
    u->port = u->tls ? "443" : (proxy ? "3128" : "80");
  } else {
    if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) || port.size() > 5) {
      return false;
    }
    u->port = std::string(port);
  }
  u->host = Lower(u->host);
  return true;
}

// NO_PROXY: comma-separated hosts; a leading dot or none both match
// sub-domains; "*" matches everything; an entry may carry a :port.
bool Bypasses(const std::string& no_proxy, const Url& url) {
  size_t i = 0;
  while (i <= no_proxy.size()) {
    size_t comma = no_proxy.find(',', i);
    std::string entry = Lower(no_proxy.substr(i, comma == std::string::npos ? std::string::npos : comma - i));
    i = comma == std::string::npos ? no_proxy.size() + 1 : comma + 1;
    entry.erase(std::remove_if(entry.begin(), entry.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }),
                entry.end());
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (size_t colon = entry.rfind(':'); colon != std::string::npos && entry.find(']') == std::string::npos &&
                                         entry.find(':') == colon) {
      if (entry.substr(colon + 1) != url.port) continue;
      entry.resize(colon);
    }
    if (entry[0] == '.') entry.erase(0, 1);
    if (url.host == entry) return true;
    if (url.host.size() > entry.size() && url.host.compare(url.host.size() - entry.size(), entry.size(), entry) == 0 &&
        url.host[url.host.size() - entry.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

std::string Seconds(int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", static_cast<double>(us) / 1e6);
  return buf;
}

// One kept-alive connection, with its own io_context so that concurrent
// Send() calls never share one. Operations run asynchronously under a
// deadline (tcp_stream::expires_after) and are waited for with run().
struct Connection {
  asio::io_context ioc;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  int64_t last_used_us = 0;

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // A pooled connection the server has closed (or sent anything on while
  // idle) is readable; it must not be reused.
  bool LooksAlive() {
    if (!tcp().socket().is_open()) return false;
    pollfd p{tcp().socket().native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
};

template <class Start>
beast::error_code RunOp(Connection& c, Start&& start) {
  beast::error_code result = asio::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  c.ioc.restart();
  c.ioc.run();
  return result;
}

bool IsTimeout(const beast::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::timed_out;
}

bool DefaultIdempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS";
}

}  // namespace

std::string Response::Get(std::string_view name) const {
  for (const auto& h : headers) {
    if (IEquals(h.name, name)) return h.value;
  }
  return "";
}

ProxyOptions ProxyOptions::FromEnvironment() {
  auto env = [](const char* lower, const char* upper) {
    const char* v = std::getenv(lower);
    if (v == nullptr || *v == '\0') v = std::getenv(upper);
    return std::string(v ? v : "");
  };
  ProxyOptions p;
  p.http_proxy = env("http_proxy", "HTTP_PROXY");
  p.https_proxy = env("https_proxy", "HTTPS_PROXY");
  p.no_proxy = env("no_proxy", "NO_PROXY");
  return p;
}

void ReadClientOptions(ConfigSection* s, ClientOptions* o) {
  o->tls.ca_file = s->Str("ca_file", o->tls.ca_file);
  o->tls.insecure_skip_verify = s->Bool("insecure_skip_verify", o->tls.insecure_skip_verify);
  o->connect_timeout_us = s->Int("connect_timeout_ms", o->connect_timeout_us / 1000, 100, 600'000) * 1000;
  o->request_timeout_us = s->Int("request_timeout_ms", o->request_timeout_us / 1000, 100, 3'600'000) * 1000;
  o->retry.max_attempts = static_cast<int>(s->Int("max_attempts", o->retry.max_attempts, 1, 100));
  o->retry.max_total_us = s->Int("max_retry_seconds", o->retry.max_total_us / 1'000'000, 0, 86'400) * 1'000'000;
}

std::string BasicAuth(std::string_view user, const Secret& secret) {
  std::string plain = std::string(user) + ":" + secret.reveal();
  std::string out = "Basic " + Base64(plain);
  std::fill(plain.begin(), plain.end(), '\0');
  return out;
}

std::string UrlEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::optional<int64_t> ParseRetryAfter(std::string_view v, int64_t now_us) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) return std::nullopt;
    return std::stoll(std::string(v));
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char mon[4] = {};
  int d, y, h, mi, s;
  char tz[4] = {};
  std::string text(v);
  if (std::sscanf(text.c_str(), "%*3s, %2d %3s %4d %2d:%2d:%2d %3s", &d, mon, &y, &h, &mi, &s, tz) != 7 ||
      std::string(tz) != "GMT") {
    return std::nullopt;
  }
  int m = 0;
  while (m < 12 && std::string(months[m]) != mon) ++m;
  if (m == 12) return std::nullopt;
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(m + 1)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  int64_t at = sys_days(ymd).time_since_epoch().count() * 86400 + h * 3600 + mi * 60 + s;
  int64_t wait = at - now_us / 1'000'000;
  return std::max<int64_t>(wait, 0);
}

struct HttpClient::Impl {
  ClientOptions options;
  const Clock& clock;
  Sleeper& sleeper;
  ssl::context tls_ctx{ssl::context::tls_client};
  std::mutex mu;  // guards pool, rng, opened
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> pool;
  std::mt19937_64 rng;
  uint64_t opened = 0;

  Impl(ClientOptions o, const Clock& c, Sleeper& s) : options(std::move(o)), clock(c), sleeper(s) {}

  // One exchange, no retries. *sent tells whether any of the request may
  // have reached the server (then only an idempotent request may be resent).
  Outcome Once(const Request& req, const Url& url, bool idempotent, bool* sent);
  std::unique_ptr<Connection> Connect(const Url& url, Outcome* out);
  std::string PoolKey(const Url& url) const { return (url.tls ? "https://" : "http://") + url.HostPort(); }
  const Url* ProxyFor(const Url& url, Url* storage, Outcome* out) const;
};

const Url* HttpClient::Impl::ProxyFor(const Url& url, Url* storage, Outcome* out) const {
  const std::string& proxy = url.tls ? options.proxy.https_proxy : options.proxy.http_proxy;
  if (proxy.empty() || Bypasses(options.proxy.no_proxy, url)) return nullptr;
  if (!ParseUrl(proxy, true, storage)) {
    out->failure = Failure::kProxy;
    out->error = std::string(url.tls ? "HTTPS_PROXY" : "HTTP_PROXY") +
                 " is not a proxy URL of the form http://host:port; fix or unset it";
    return nullptr;
  }
  return storage;
}

std::unique_ptr<Connection> HttpClient::Impl::Connect(const Url& url, Outcome* out) {
  Url proxy_storage;
  const Url* proxy = ProxyFor(url, &proxy_storage, out);
  if (out->failure != Failure::kNone) return nullptr;
  const Url& first_hop = proxy ? *proxy : url;
  auto c = std::make_unique<Connection>();
  auto deadline = std::chrono::microseconds(options.connect_timeout_us);

  tcp::resolver resolver(c->ioc);
  beast::error_code ec = asio::error::would_block;
  tcp::resolver::results_type endpoints;
  resolver.async_resolve(first_hop.host, first_hop.port,
                         [&](beast::error_code e, tcp::resolver::results_type r) {
                           ec = e;
                           endpoints = std::move(r);
                         });
  c->ioc.run_for(deadline);
  if (ec == asio::error::would_block) {
    resolver.cancel();
    c->ioc.restart();
    c->ioc.run();
    out->failure = Failure::kTimeout;
    out->error = "resolving " + first_hop.host + " timed out after " + Seconds(options.connect_timeout_us);
    return nullptr;
  }
  if (ec) {
    out->failure = Failure::kNameNotResolved;
    out->error = "cannot resolve host name " + first_hop.host + (proxy ? " (the proxy)" : "") + ": " +
                 ec.message() + "; check the URL and DNS";
    return nullptr;
  }
  {
    std::lock_guard lock(mu);
    ++opened;
  }
  if (url.tls) {
    c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(c->ioc, tls_ctx);
  } else {
    c->plain = std::make_unique<beast::tcp_stream>(c->ioc);
  }
  c->tcp().expires_after(deadline);
  ec = RunOp(*c, [&](auto handler) { c->tcp().async_connect(endpoints, std::move(handler)); });
  if (ec) {
    out->failure = IsTimeout(ec) ? Failure::kTimeout : Failure::kConnect;
    out->error = (IsTimeout(ec) ? "connecting to " + first_hop.HostPort() + " timed out after " +
                                      Seconds(options.connect_timeout_us)
                                : "cannot connect to " + first_hop.HostPort() + ": " + ec.message()) +
                 (proxy ? " (the proxy from " + std::string(url.tls ? "HTTPS_PROXY" : "HTTP_PROXY") + ")" : "");
    return nullptr;
  }
  if (proxy && url.tls) {
    bhttp::request<bhttp::empty_body> connect{bhttp::verb::connect, url.HostPort(), 11};
    connect.set(bhttp::field::host, url.HostPort());
    connect.set(bhttp::field::user_agent, options.user_agent);
    if (!proxy->user.empty()) {
      connect.set(bhttp::field::proxy_authorization, BasicAuth(proxy->user, Secret(proxy->password)));
    }
    ec = RunOp(*c, [&](auto handler) { bhttp::async_write(c->tcp(), connect, std::move(handler)); });
    bhttp::response_parser<bhttp::empty_body> parser;
    parser.skip(true);  // a CONNECT reply has no body; the tunnel follows
    if (!ec) {
      ec = RunOp(*c, [&](auto handler) { bhttp::async_read_header(c->tcp(), c->buffer, parser, std::move(handler)); });
    }
    if (ec) {
      out->failure = IsTimeout(ec) ? Failure::kTimeout : Failure::kProxy;
      out->error = "the proxy " + proxy->HostPort() + " failed to open a tunnel to " + url.HostPort() + ": " +
                   ec.message();
      return nullptr;
    }
    int status = parser.get().result_int();
    if (status != 200) {
      out->failure = Failure::kProxy;
      out->error = "the proxy " + proxy->HostPort() + " refused the tunnel to " + url.HostPort() + " (HTTP " +
                   std::to_string(status) + (status == 407 ? ": proxy credentials needed in HTTPS_PROXY" : "") +
                   ")";
      return nullptr;
    }
  }
  if (url.tls) {
    SSL* native = c->tls->native_handle();
    bool is_ip = false;
    {
      beast::error_code ip_ec;
      asio::ip::make_address(url.host, ip_ec);
      is_ip = !ip_ec;
    }
    if (!is_ip) SSL_set_tlsext_host_name(native, url.host.c_str());
    if (!options.tls.insecure_skip_verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(native);
      if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
      } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
      }
    }
    ec = RunOp(*c, [&](auto handler) { c->tls->async_handshake(ssl::stream_base::client, std::move(handler)); });
    if (ec) {
      long verify = SSL_get_verify_result(native);
      if (IsTimeout(ec)) {
        out->failure = Failure::kTimeout;
        out->error = "TLS handshake with " + url.HostPort() + " timed out after " + Seconds(options.connect_timeout_us);
      } else if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        out->failure = Failure::kTls;
        out->error = "TLS: the certificate of " + url.HostPort() +
                     " is not valid for the name \"" + url.host + "\"; check the host in the URL";
      } else if (verify != X509_V_OK) {
        out->failure = Failure::kTls;
        out->error = "TLS: the certificate of " + url.HostPort() + " is not trusted (" +
                     X509_verify_cert_error_string(verify) +
                     "); if your network uses its own CA, set http.ca_file to its PEM bundle";
      } else {
        out->failure = Failure::kTls;
        out->error = "TLS handshake with " + url.HostPort() + " failed: " + ec.message();
        // The first bytes back were not TLS: a plain-HTTP server (or port).
        if (ec.category() == boost::asio::error::get_ssl_category() &&
            ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_WRONG_VERSION_NUMBER) {
          out->error += "; the server answered without TLS: check the port, or use http:// if it serves plain HTTP";
        }
      }
      return nullptr;
    }
  }
  return c;
}

Outcome HttpClient::Impl::Once(const Request& req, const Url& url, bool idempotent, bool* sent) {
  Outcome out;
  *sent = false;
  std::string key = PoolKey(url);
  std::unique_ptr<Connection> conn;
  bool reused = false;
  {
    std::lock_guard lock(mu);
    auto& idle = pool[key];
    int64_t now = clock.NowMicros();
    while (!idle.empty() && !conn) {
      std::unique_ptr<Connection> c = std::move(idle.back());
      idle.pop_back();
      if (now - c->last_used_us <= options.idle_timeout_us && c->LooksAlive()) conn = std::move(c);
    }
  }
  reused = conn != nullptr;
  if (!conn) {
    conn = Connect(url, &out);
    if (!conn) return out;
  }

  Url proxy_storage;
  Outcome ignored;
  const Url* proxy = url.tls ? nullptr : ProxyFor(url, &proxy_storage, &ignored);
  // Through a plain-HTTP proxy the request line carries the absolute URL.
  std::string target = proxy ? "http://" + url.HostHeader() + url.target : url.target;
  bhttp::request<bhttp::string_body> msg;
  msg.version(11);
  msg.method_string(req.method);
  msg.target(target);
  msg.set(bhttp::field::host, url.HostHeader());
  msg.set(bhttp::field::user_agent, options.user_agent);
  for (const auto& h : req.headers) msg.set(h.name, h.value);
  if (proxy && !proxy->user.empty()) {
    msg.set(bhttp::field::proxy_authorization, BasicAuth(proxy->user, Secret(proxy->password)));
  }
  msg.body() = req.body;
  msg.prepare_payload();
  if (req.body.empty() && (req.method == "GET" || req.method == "HEAD" || req.method == "DELETE")) {
    msg.erase(bhttp::field::content_length);
  }

  conn->tcp().expires_after(std::chrono::microseconds(options.request_timeout_us));
  auto write = [&](auto handler) {
    if (conn->tls) {
      bhttp::async_write(*conn->tls, msg, std::move(handler));
    } else {
      bhttp::async_write(*conn->plain, msg, std::move(handler));
    }
  };
  beast::error_code ec = RunOp(*conn, write);
  *sent = !ec || !reused;  // a fresh connection may have taken part of it
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(options.max_response_bytes);
  parser.header_limit(64 * 1024);
  if (!ec) {
    *sent = true;
    auto read = [&](auto handler) {
      if (conn->tls) {
        bhttp::async_read(*conn->tls, conn->buffer, parser, std::move(handler));
      } else {
        bhttp::async_read(*conn->plain, conn->buffer, parser, std::move(handler));
      }
    };
    ec = RunOp(*conn, read);
  }
  if (ec) {
    bool nothing_back = !parser.got_some();
    if (IsTimeout(ec)) {
      out.failure = Failure::kTimeout;
      out.error = "no complete reply from " + url.HostPort() + " within " + Seconds(options.request_timeout_us);
    } else if (ec == bhttp::error::body_limit) {
      out.failure = Failure::kProtocol;
      out.error = "the reply from " + url.HostPort() + " is larger than " +
                  std::to_string(options.max_response_bytes >> 20) + " MiB";
    } else if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
               ec == asio::error::broken_pipe || ec == bhttp::error::partial_message ||
               ec == ssl::error::stream_truncated) {
      out.failure = Failure::kConnectionLost;
      out.error = "the connection to " + url.HostPort() + " was closed " +
                  (nothing_back ? "before a reply" : "in the middle of the reply") + " (" + ec.message() + ")";
    } else {
      out.failure = Failure::kProtocol;
      out.error = "the reply from " + url.HostPort() + " is not valid HTTP (" + ec.message() + ")";
    }
    // A kept-alive connection the server closed just as we reused it (the
    // readability check before reuse catches most): try once on a new
    // connection, but resend a non-idempotent request only if it was
    // certainly not written.
    if (reused && nothing_back && out.failure == Failure::kConnectionLost && (idempotent || !*sent)) {
      bool retry_sent = false;
      Outcome again = Once(req, url, idempotent, &retry_sent);
      *sent = retry_sent;
      return again;
    }
    return out;
  }
  auto& res = parser.get();
  out.response.status = res.result_int();
  for (const auto& f : res) out.response.headers.push_back({std::string(f.name_string()), std::string(f.value())});
  out.response.body = std::move(res.body());
  if (res.keep_alive()) {
    conn->last_used_us = clock.NowMicros();
    std::lock_guard lock(mu);
    auto& idle = pool[key];
    if (idle.size() < 4) idle.push_back(std::move(conn));
  }
  return out;
}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(ClientOptions options, const Clock& clock,
                                                        Sleeper& sleeper) {
  auto impl = std::make_unique<Impl>(std::move(options), clock, sleeper);
  auto& o = impl->options;
  beast::error_code ec;
  impl->tls_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  impl->tls_ctx.set_default_verify_paths(ec);
  if (!o.tls.ca_file.empty()) {
    impl->tls_ctx.load_verify_file(o.tls.ca_file, ec);
    if (ec) {
      return Status::InvalidArgument(o.name + ": cannot load http.ca_file " + o.tls.ca_file + " (" + ec.message() +
                                     "); it must be a readable PEM file of CA certificates");
    }
  }
  if (o.tls.insecure_skip_verify) {
    impl->tls_ctx.set_verify_mode(ssl::verify_none);
    spdlog::warn("{}: TLS certificate verification is OFF (insecure_skip_verify: true); anyone on the path can read "
                 "and change this traffic, credentials included. Use http.ca_file instead.",
                 o.name);
  } else {
    impl->tls_ctx.set_verify_mode(ssl::verify_peer);
  }
  impl->rng.seed(o.jitter_seed != 0 ? o.jitter_seed : std::random_device{}());
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

uint64_t HttpClient::connections_opened() const {
  std::lock_guard lock(impl_->mu);
  return impl_->opened;
}

Outcome HttpClient::Send(const Request& req) {
  Impl& im = *impl_;
  const RetryPolicy& policy = im.options.retry;
  Url url;
  Outcome out;
  std::string what = req.what;
  if (!ParseUrl(req.url, false, &url)) {
    out.failure = Failure::kBadUrl;
    out.error = "\"" + req.url.substr(0, req.url.find('?')) + "\" is not an http:// or https:// URL";
    return out;
  }
  if (what.empty()) what = req.method;
  bool idempotent = req.idempotent.value_or(DefaultIdempotent(req.method));
  int64_t start = im.clock.NowMicros();
  for (int attempt = 1;; ++attempt) {
    bool sent = false;
    out = im.Once(req, url, idempotent, &sent);
    out.attempts = attempt;
    bool retry = false;
    std::optional<int64_t> retry_after_s;
    std::string reason;
    if (!out.ok()) {
      bool transient = out.failure == Failure::kConnect || out.failure == Failure::kTimeout ||
                       out.failure == Failure::kConnectionLost;
      retry = transient && (idempotent || !sent);
      reason = out.error;
    } else {
      int s = out.response.status;
      std::string ra = out.response.Get("Retry-After");
      if (!ra.empty()) retry_after_s = ParseRetryAfter(ra, im.clock.NowMicros());
      retry = s == 429 || (s == 503 && (idempotent || retry_after_s)) || ((s == 502 || s == 504) && idempotent);
      reason = "HTTP " + std::to_string(s);
    }
    if (!retry) return out;
    auto give_up = [&](const std::string& why) {
      spdlog::error("{}: {} to {} failed after {} attempt(s): {}; {}", im.options.name, what, url.host, attempt,
                    reason, why);
      if (!out.ok()) out.error += " (" + std::to_string(attempt) + " attempts)";
      return out;
    };
    if (attempt >= policy.max_attempts) return give_up("no attempts left");
    int64_t delay;
    if (retry_after_s) {
      delay = *retry_after_s * 1'000'000;
    } else {
      int64_t cap = policy.base_delay_us;
      for (int i = 1; i < attempt && cap < policy.max_delay_us; ++i) cap *= 2;
      cap = std::min(cap, policy.max_delay_us);
      std::lock_guard lock(im.mu);
      delay = std::uniform_int_distribution<int64_t>(0, cap)(im.rng);  // full jitter
    }
    int64_t elapsed = im.clock.NowMicros() - start;
    if (elapsed + delay > policy.max_total_us) {
      return give_up("waiting " + Seconds(delay) + " more would pass the retry budget of " +
                     Seconds(policy.max_total_us));
    }
    spdlog::warn("{}: {} to {} attempt {}/{} failed: {}; retrying in {} ms{}", im.options.name, what, url.host,
                 attempt, policy.max_attempts, reason, delay / 1000, retry_after_s ? " (Retry-After)" : "");
    im.sleeper.SleepFor(delay);
  }
}

}  // namespace noxsync::http
