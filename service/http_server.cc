#include "service/http_server.h"

#include <pthread.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "store/utf8.h"
#include "sync/json_text.h"

namespace noxsync::service {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;
// Each connection lives on one io_context for its life, so its socket and
// stream name that executor's type rather than the type-erased
// any_io_executor, which Asio copies, moves and destroys several times per
// asynchronous operation.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Stream = beast::basic_stream<tcp, Executor, beast::unlimited_rate_policy>;

std::string UrlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10); };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

namespace {


std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// A client's X-Request-Id is kept if it is short and plain, so it can go in
// log lines as it is.
std::string SafeRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return NewRequestId();
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return NewRequestId();
  }
  return std::string(id);
}

// True for a TCP socket (IPv4 or IPv6) that is listening; *family is its
// address family.
bool ListeningTcpSocket(int fd, int* family) {
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return false;
  len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) return false;
  sockaddr_storage addr{};
  socklen_t addr_len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) return false;
  *family = addr.ss_family;
  return *family == AF_INET || *family == AF_INET6;
}

}  // namespace

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

std::string HttpRequest::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return "";
}

bool HttpRequest::HasQuery(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return true;
  }
  return false;
}

class Session;

// One io_context per thread, each connection on one of them for its whole
// life: a connection's handlers never run on two threads at once without a
// strand, and the threads share no scheduler, timer queue or reactor lock.
// With the threads sharing one io_context, waking each other and contending
// for its locks cost about one futex call per request (perf trace).
struct Loop {
  asio::io_context ioc{1};
  // Keeps the thread running while every connection waits on a handler
  // (a webhook waiting for the disk) and the acceptor is closed.
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
};

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  std::vector<std::unique_ptr<Loop>> loops;  // one per thread; loops[0] also accepts
  size_t next_loop = 0;                      // round robin; touched by the acceptor only
  std::unique_ptr<tcp::acceptor> acceptor;
  ServerOptions options;
  Handler handler;
  Observer observer;
  HeaderCheck header_check;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> open{0};
  std::atomic<size_t> in_flight{0};
  std::atomic<uint64_t> refused{0};
  std::mutex mu;  // guards sessions
  std::set<std::shared_ptr<Session>> sessions;
  bool shut_down = false;

  void Accept();
  // Listen's work: the loops, and the acceptor bound (or handed over).
  Status Bind(const ServerOptions& options);
};

// Room for one typical request (header and one event) per read; at the
// default cap of 512 connections that is 2 MiB.
constexpr size_t kReadBufferBytes = 4096;
// After an early answer, what a client may still send beyond max_body_bytes
// (a body larger than announced, the next pipelined request) before the
// connection is closed on it.
constexpr size_t kLingerBytes = 64 << 20;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket socket, std::shared_ptr<HttpServer::Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)) {
    boost::system::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
    // Beast reads into whatever room the buffer has, at least 512 bytes, and
    // the buffer grows only when it is full; an empty one never grew past
    // 512, so a typical webhook (~650 bytes) took two recvmsg calls.
    buffer_.reserve(kReadBufferBytes);
  }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // From Shutdown: an idle connection closes now, a busy one after its answer.
  void CloseIfIdle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->Close();
    });
  }

 private:
  void ReadHeader() {
    if (server_->stopping) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    // The first request gets the header deadline; later ones may idle first.
    stream_.expires_after(std::chrono::milliseconds(requests_ == 0 ? server_->options.header_timeout_ms
                                                                   : server_->options.idle_timeout_ms));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return Refuse(ec);
    busy_ = true;
    ++server_->in_flight;
    started_ = std::chrono::steady_clock::now();
    stream_.expires_after(std::chrono::milliseconds(server_->options.body_timeout_ms));
    const auto& head = parser_->get();
    // No content coding is decoded here: a compressed body would reach the
    // handler as bytes (a webhook's lines refused one by one and logged as
    // garbage). Refused before it is read, whatever the route.
    if (beast::string_view coding = head[bhttp::field::content_encoding];
        !coding.empty() && !beast::iequals(coding, "identity")) {
      std::string name(Utf8Prefix(std::string_view(coding.data(), coding.size()), 64));
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return Reject(415, "content encoding \"" + name +
                             "\" is not accepted: send the body uncompressed (no Content-Encoding header)");
    }
    // A body still to come is waited for only if the handler would take the
    // request (a valid token): a client it would refuse cannot make the
    // server hold up to max_body_bytes on each connection. A body that came
    // with the header, as a webhook's does, is left to the handler.
    if (server_->header_check && !parser_->is_done()) {
      auto length = parser_->content_length();  // boost::optional, unset when chunked
      if (!length || buffer_.size() < *length) {
        HttpRequest req = RequestOf(head);
        if (std::optional<HttpResponse> refused = server_->header_check(req)) {
          request_ = std::make_shared<HttpRequest>();
          request_->method = std::move(req.method);
          request_->path = std::move(req.path);
          request_->remote = std::move(req.remote);
          request_->request_id = std::move(req.request_id);
          return Answer(std::move(*refused), /*keep_alive=*/false);
        }
      }
    }
    // A client that sent "Expect: 100-continue" (.NET's HttpWebRequest and
    // PowerShell by default, curl above 1 MiB) holds its body back until it
    // is told to go on, or for a second or so. A body over the limit was
    // refused with the header; any other gets the go-ahead at once.
    if (!parser_->is_done() && head.version() >= 11 &&
        beast::iequals(head[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                               [self = shared_from_this()](beast::error_code e, size_t) {
                                 if (e) return self->OnBody(e);
                                 self->ReadBody();
                               });
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code e, size_t) { self->OnBody(e); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return Reject(413, BodyLimitMessage());
    if (ec) {
      --server_->in_flight;
      busy_ = false;
      return Close();
    }
    auto& msg = parser_->get();
    HttpRequest req = RequestOf(msg);
    req.body = std::move(msg.body());
    keep_alive_ = msg.keep_alive();
    // Kept for the answer and the observer; the body and headers move on.
    request_ = std::make_shared<HttpRequest>();
    request_->method = req.method;
    request_->path = req.path;
    request_->remote = req.remote;
    request_->request_id = req.request_id;
    stream_.expires_never();  // the handler may take its time (durable writes)
    auto self = shared_from_this();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    server_->handler(std::move(req), [self, answered](HttpResponse res) {
      if (answered->exchange(true)) return;
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->Answer(std::move(res), self->keep_alive_); });
    });
  }

  // Everything of a request but its body.
  HttpRequest RequestOf(const bhttp::request_parser<bhttp::string_body>::value_type& msg) const {
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    std::string_view target = msg.target();
    size_t q = target.find('?');
    req.path = UrlDecode(target.substr(0, q), false);
    if (q != std::string_view::npos) {
      std::string_view rest = target.substr(q + 1);
      while (!rest.empty()) {
        size_t amp = rest.find('&');
        std::string_view part = rest.substr(0, amp);
        size_t eq = part.find('=');
        req.query.emplace_back(UrlDecode(part.substr(0, eq), true),
                               eq == std::string_view::npos ? "" : UrlDecode(part.substr(eq + 1), true));
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
      }
    }
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.remote = remote_;
    req.request_id = SafeRequestId(req.Header("x-request-id"));
    return req;
  }

  // The header could not be read: a timeout or a closed connection ends it
  // quietly; input over a limit or malformed gets its answer.
  void Refuse(beast::error_code ec) {
    // A Content-Length over the limit is seen with the header.
    if (ec == bhttp::error::body_limit) return Reject(413, BodyLimitMessage());
    if (ec == bhttp::error::header_limit) {
      return Reject(431, "the request header is over " + std::to_string(server_->options.max_header_bytes) + " bytes");
    }
    if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      return Close();
    }
    Reject(400, "unreadable HTTP request: " + ec.message());
  }

  // Answers and closes; in flight until written, like any request.
  void Reject(int status, const std::string& message) {
    if (!busy_) {
      busy_ = true;
      ++server_->in_flight;
      started_ = std::chrono::steady_clock::now();
    }
    Answer(Error(status, message), /*keep_alive=*/false);
  }

  std::string BodyLimitMessage() const {
    return "the body is over the limit of " + std::to_string(server_->options.max_body_bytes) + " bytes";
  }

  // The message may carry Beast's or the system's wording: escaped, so the
  // answer stays JSON whatever it says.
  static HttpResponse Error(int status, const std::string& message) {
    HttpResponse r;
    r.status = status;
    JsonText(&r.body).Str("error", ValidUtf8(message)).End();  // it may quote what was sent
    return r;
  }

  void Answer(HttpResponse res, bool keep_alive) {
    bool again = keep_alive && !server_->stopping;
    // Written out by hand into one buffer: Beast's response serializer cost
    // a few µs per answer (a field list allocated per header, then walked
    // through buffer-sequence iterators), and every answer here is a string.
    // The body is sent from where the handler left it, beside the header:
    // an audit page of 60 MB is not copied once more to be sent.
    struct Out {
      std::string head, body;
      std::shared_ptr<void> hold;  // the handler's, released with the body
    };
    auto out = std::make_shared<Out>();
    std::string* head = &out->head;
    head->reserve(160 + res.content_type.size());
    *head += "HTTP/1.1 ";
    *head += std::to_string(res.status);
    *head += ' ';
    *head += bhttp::obsolete_reason(static_cast<bhttp::status>(res.status));
    *head += "\r\nServer: noxsync\r\nContent-Type: ";
    *head += res.content_type;
    if (request_) {
      *head += "\r\nX-Request-Id: ";
      *head += request_->request_id;
    }
    for (const auto& [k, v] : res.headers) {
      // Handlers set fixed names and values; one carrying a line break
      // would split the response, so it is dropped rather than sent.
      if (k.find_first_of("\r\n") != std::string::npos || v.find_first_of("\r\n") != std::string::npos) continue;
      *head += "\r\n";
      *head += k;
      *head += ": ";
      *head += v;
    }
    *head += "\r\nContent-Length: ";
    *head += std::to_string(res.body.size());
    if (!again) *head += "\r\nConnection: close";
    *head += "\r\n\r\n";
    // A HEAD answer has the GET's headers and no body: bytes after them
    // would be read as the start of the next answer on the connection.
    if (!request_ || request_->method != "HEAD") out->body = std::move(res.body);
    out->hold = std::move(res.hold);
    int status = res.status;
    stream_.expires_after(std::chrono::milliseconds(server_->options.body_timeout_ms));
    std::array<asio::const_buffer, 2> buffers{asio::buffer(out->head), asio::buffer(out->body)};
    asio::async_write(stream_, buffers, [self = shared_from_this(), out, again, status](beast::error_code ec, size_t) {
      self->Done(status);
      if (ec) return self->Close();
      if (!again) return self->InputLeft() ? self->Linger() : self->Close();
      self->ReadHeader();
    });
  }

  // Whether the request being answered was not read to its end: answered on
  // its header, or refused part way through.
  bool InputLeft() const { return parser_ && !parser_->is_done(); }

  // After an answer given before the request was read to its end (401 on
  // the header, 413, 415, 431, 400): a client that writes its whole body
  // before reading, as most libraries do, would have it cut off by the reset
  // a close with unread input sends, and see "broken pipe" instead of the
  // answer. So the answer is followed by a FIN, and what the client still
  // sends is read and dropped (into the read buffer's spare room, nothing
  // kept) until it closes, body_timeout passes, or kLingerBytes have come.
  void Linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    stream_.expires_after(std::chrono::milliseconds(server_->options.body_timeout_ms));
    Discard();
  }

  void Discard() {
    stream_.async_read_some(buffer_.prepare(kReadBufferBytes), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->discarded_ += n;
      if (ec || self->discarded_ > kLingerBytes + self->server_->options.max_body_bytes) return self->Close();
      self->Discard();
    });
  }

  void Done(int status) {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    if (server_->observer) {
      HttpRequest fallback;
      server_->observer(request_ ? *request_ : fallback, status, seconds);
    }
    request_.reset();
    ++requests_;
    busy_ = false;
    --server_->in_flight;
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    --server_->open;
    std::lock_guard lock(server_->mu);
    server_->sessions.erase(shared_from_this());
  }

  Stream stream_;
  std::shared_ptr<HttpServer::Impl> server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<HttpRequest> request_;
  std::string remote_;
  std::chrono::steady_clock::time_point started_;
  uint64_t requests_ = 0;
  bool keep_alive_ = false;
  size_t discarded_ = 0;       // bytes read and dropped since (Linger)
  bool busy_ = false;
  bool closed_ = false;
};

void HttpServer::Impl::Accept() {
  asio::io_context& ioc = loops[next_loop++ % loops.size()]->ioc;
  acceptor->async_accept(ioc, [self = shared_from_this()](beast::error_code ec, Socket socket) {
    if (self->stopping) return;
    if (!ec) {
      if (self->open >= self->options.max_connections) {
        // Over the cap: a short answer, written at once, then closed.
        ++self->refused;
        const std::string body = "{\"error\":\"too many connections; try again later\"}";
        std::string busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
                           "Retry-After: 1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        beast::error_code wec;
        asio::write(socket, asio::buffer(busy), wec);
        socket.close(wec);
      } else {
        ++self->open;
        auto session = std::make_shared<Session>(std::move(socket), self);
        {
          std::lock_guard lock(self->mu);
          self->sessions.insert(session);
        }
        session->Start();
      }
    } else if (ec == asio::error::no_descriptors) {
      spdlog::error("serve: out of file descriptors accepting a connection; raise LimitNOFILE or lower "
                    "service.max_connections");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    self->Accept();
  });
}

HttpServer::HttpServer() : impl_(std::make_shared<Impl>()) {}

HttpServer::~HttpServer() { Shutdown(0); }

Status HttpServer::Start(const ServerOptions& options, Handler handler, Observer observer, HeaderCheck header_check) {
  if (Status s = Listen(options); !s.ok()) return s;
  return Start(std::move(handler), std::move(observer), std::move(header_check));
}

Status HttpServer::Listen(const ServerOptions& options) {
  if (impl_->acceptor) return Status::FailedPrecondition("the HTTP server is already listening");
  Status s = impl_->Bind(options);
  if (!s.ok()) {
    impl_->acceptor.reset();
    impl_->loops.clear();
  }
  return s;
}

Status HttpServer::Impl::Bind(const ServerOptions& options) {
  this->options = options;
  for (int i = 0; i < std::max(1, options.threads); ++i) loops.push_back(std::make_unique<Loop>());
  acceptor = std::make_unique<tcp::acceptor>(loops[0]->ioc);
  beast::error_code ec;
  if (options.listen_fd >= 0) {
    // A socket handed over (systemd): it must be a TCP socket already
    // listening; its own address stands, whatever host and port say.
    int family = 0;
    if (!ListeningTcpSocket(options.listen_fd, &family)) {
      return Status::InvalidArgument("the socket passed as file descriptor " + std::to_string(options.listen_fd) +
                                     " is not a listening TCP socket (check the ListenStream= of noxsync.socket)");
    }
    acceptor->assign(family == AF_INET ? tcp::v4() : tcp::v6(), options.listen_fd, ec);
    if (ec) return Status::Unavailable("cannot accept on the socket passed by systemd: " + ec.message());
  } else {
    auto address = asio::ip::make_address(options.host, ec);
    if (ec) return Status::InvalidArgument("service.listen: \"" + options.host + "\" is not an IP address");
    tcp::endpoint ep(address, static_cast<unsigned short>(options.port));
    std::string where = options.host + ":" + std::to_string(options.port);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      std::string advice;
      if (ec == asio::error::address_in_use) {
        advice = " (another process has the port; change service.listen)";
      } else if (ec == boost::system::errc::address_not_available) {
        advice = " (no network interface of this host has that address; listen on one it has, or on 0.0.0.0)";
      } else if (ec == asio::error::access_denied) {
        advice = " (ports under 1024 need privileges noxsync should not run with; listen on a port from 1024, "
                 "or let systemd pass the socket: noxsync.socket)";
      }
      return Status::Unavailable("cannot listen on " + where + ": " + ec.message() + advice);
    }
  }
  return Status::Ok();
}

Status HttpServer::Start(Handler handler, Observer observer, HeaderCheck header_check) {
  if (!impl_->acceptor || !impl_->threads.empty()) {
    return Status::FailedPrecondition("the HTTP server must listen, once, before it starts");
  }
  impl_->handler = std::move(handler);
  impl_->observer = std::move(observer);
  impl_->header_check = std::move(header_check);
  impl_->Accept();
  for (auto& loop : impl_->loops) {
    impl_->threads.emplace_back([impl = impl_, ioc = &loop->ioc] {
      pthread_setname_np(pthread_self(), "nox-http");
      ioc->run();
    });
  }
  return Status::Ok();
}

int HttpServer::port() const {
  beast::error_code ec;
  if (!impl_->acceptor) return 0;
  auto ep = impl_->acceptor->local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void HttpServer::Shutdown(int64_t drain_ms) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->shut_down) return;
    impl_->shut_down = true;
  }
  impl_->stopping = true;
  if (impl_->loops.empty()) return;  // never started
  asio::post(impl_->loops[0]->ioc, [impl = impl_] {
    beast::error_code ec;
    impl->acceptor->close(ec);
  });
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(impl_->mu);
    sessions.assign(impl_->sessions.begin(), impl_->sessions.end());
  }
  for (auto& s : sessions) s->CloseIfIdle();
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_ms);
  while (impl_->in_flight > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (impl_->in_flight > 0) {
    spdlog::warn("serve: {} request(s) still in flight after {} ms; closing", impl_->in_flight.load(), drain_ms);
  }
  for (auto& loop : impl_->loops) {
    loop->work.reset();
    loop->ioc.stop();
  }
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  std::lock_guard lock(impl_->mu);
  impl_->sessions.clear();
}

std::string HttpServer::address() const {
  beast::error_code ec;
  if (!impl_->acceptor) return "";
  auto ep = impl_->acceptor->local_endpoint(ec);
  if (ec) return "";
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

size_t HttpServer::open_connections() const { return impl_->open; }
uint64_t HttpServer::refused_connections() const { return impl_->refused; }

}  // namespace noxsync::service
