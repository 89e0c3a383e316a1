#include "tests/fakes/http_server.h"

#include <sys/socket.h>

#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "service/http_server.h"

namespace noxsync::fakes {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

std::string FakeRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::string FakeRequest::Query(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? "" : it->second;
}

struct FakeHttpServer::Impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<ssl::context> tls;
  Handler handler;
  std::thread accept_thread;
  std::mutex mu;
  std::vector<std::thread> threads;
  std::set<int> open_fds;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> accepted{0};
  uint16_t port = 0;

  void AcceptLoop();
  template <class Stream>
  void Serve(Stream& stream);
};

namespace {

FakeRequest ToFakeRequest(const bhttp::request<bhttp::string_body>& req) {
  FakeRequest r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  std::string target = r.target;
  if (target.rfind("http://", 0) == 0) {  // absolute form, through a proxy
    size_t slash = target.find('/', 7);
    target = slash == std::string::npos ? "/" : target.substr(slash);
  }
  size_t q = target.find('?');
  r.path = service::UrlDecode(target.substr(0, q), false);
  if (q != std::string::npos) {
    std::string qs = target.substr(q + 1);
    size_t i = 0;
    while (i <= qs.size()) {
      size_t amp = qs.find('&', i);
      std::string pair = qs.substr(i, amp == std::string::npos ? std::string::npos : amp - i);
      i = amp == std::string::npos ? qs.size() + 1 : amp + 1;
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      r.query.emplace(service::UrlDecode(pair.substr(0, eq), true),
                      eq == std::string::npos ? "" : service::UrlDecode(pair.substr(eq + 1), true));
    }
  }
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  r.body = req.body();
  return r;
}

}  // namespace

template <class Stream>
void FakeHttpServer::Impl::Serve(Stream& stream) {
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    beast::error_code ec;
    bhttp::read(stream, buffer, parser, ec);
    if (ec) return;
    const auto& req = parser.get();
    FakeResponse fr = handler(ToFakeRequest(req));
    if (fr.delay_ms > 0) {
      for (int waited = 0; waited < fr.delay_ms && !stopping; waited += 10) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    if (fr.fault == Fault::kReset) return;
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(fr.status), req.version()};
    res.set(bhttp::field::server, "noxsync-fake");
    if (!fr.body.empty() || fr.status != 204) res.set(bhttp::field::content_type, fr.content_type);
    for (const auto& [k, v] : fr.headers) res.set(k, v);
    res.keep_alive(req.keep_alive());
    if (fr.fault == Fault::kTruncated) {
      std::string head = "HTTP/1.1 " + std::to_string(fr.status) + " OK\r\nContent-Type: " + fr.content_type +
                         "\r\nContent-Length: " + std::to_string(fr.body.size()) + "\r\n\r\n" +
                         fr.body.substr(0, fr.body.size() / 2);
      asio::write(stream, asio::buffer(head), ec);
      return;
    }
    res.body() = std::move(fr.body);
    res.prepare_payload();
    bhttp::write(stream, res, ec);
    if (ec || !res.keep_alive()) return;
  }
}

void FakeHttpServer::Impl::AcceptLoop() {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket(ioc);
    acceptor.accept(socket, ec);
    if (stopping) return;
    if (ec) continue;
    ++accepted;
    int fd = socket.native_handle();
    std::lock_guard lock(mu);
    open_fds.insert(fd);
    threads.emplace_back([this, fd, s = std::move(socket)]() mutable {
      if (tls) {
        beast::ssl_stream<tcp::socket> stream(std::move(s), *tls);
        beast::error_code hec;
        stream.handshake(ssl::stream_base::server, hec);
        if (!hec) Serve(stream);
        {
          std::lock_guard lock(mu);
          open_fds.erase(fd);
        }
        beast::get_lowest_layer(stream).close(hec);
      } else {
        Serve(s);
        {
          std::lock_guard lock(mu);
          open_fds.erase(fd);
        }
        beast::error_code cec;
        s.shutdown(tcp::socket::shutdown_both, cec);
        s.close(cec);
      }
    });
  }
}

FakeHttpServer::FakeHttpServer() : impl_(std::make_unique<Impl>()) {}
FakeHttpServer::~FakeHttpServer() { Stop(); }

bool FakeHttpServer::Start(uint16_t port, Handler handler, std::string* error, const TlsFiles* tls,
                           const std::string& address) {
  Impl& im = *impl_;
  im.handler = std::move(handler);
  beast::error_code ec;
  if (tls) {
    im.tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    im.tls->use_certificate_chain_file(tls->cert_file, ec);
    if (!ec) im.tls->use_private_key_file(tls->key_file, ssl::context::pem, ec);
    if (ec) {
      *error = "cannot load the TLS certificate or key: " + ec.message();
      return false;
    }
  }
  tcp::endpoint ep(asio::ip::make_address(address, ec), port);
  if (ec) {
    *error = "bad listen address " + address;
    return false;
  }
  im.acceptor.open(ep.protocol(), ec);
  if (!ec) im.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) im.acceptor.bind(ep, ec);
  if (!ec) im.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message();
    return false;
  }
  im.port = im.acceptor.local_endpoint().port();
  im.accept_thread = std::thread([&im] { im.AcceptLoop(); });
  return true;
}

void FakeHttpServer::Stop() {
  Impl& im = *impl_;
  if (!im.accept_thread.joinable()) return;
  im.stopping = true;
  ::shutdown(im.acceptor.native_handle(), SHUT_RDWR);
  im.accept_thread.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(im.mu);
    for (int fd : im.open_fds) ::shutdown(fd, SHUT_RDWR);
    threads.swap(im.threads);
  }
  for (auto& t : threads) t.join();
  beast::error_code ec;
  im.acceptor.close(ec);
}

uint16_t FakeHttpServer::port() const { return impl_->port; }
std::string FakeHttpServer::base_url() const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(impl_->port);
}
uint64_t FakeHttpServer::connections_accepted() const { return impl_->accepted; }

}  // namespace noxsync::fakes
