// noxsync serve: the sync engine and the HTTP API in one long-lived process
// (docs/service.md). The engine runs on its own thread; the HTTP server on
// its own; the Ingestor is shared by every webhook request, so concurrent
// requests share one fsync (group commit); a waiter thread answers each
// webhook once its events are durable.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <spdlog/spdlog.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/engine_setup.h"
#include "cli/logging.h"
#include "cli/timeline.h"
#include "service/http_server.h"
#include "service/work_queue.h"
#include "store/utf8.h"
#include "sync/backend.h"
#include "sync/engine.h"
#include "sync/ingestor.h"
#include "sync/noxys_event.h"
#include "sync/printable.h"
#include "sync/refusals.h"
#include "sync/json_text.h"
#include "sync/report.h"
#include "sync/timestamp.h"

namespace noxsync::cli {
namespace {

namespace json = boost::json;
using service::HttpRequest;
using service::HttpResponse;
using service::Responder;

constexpr const char* kUsage = R"(usage: noxsync serve --config FILE [--db PATH]

Runs the whole engine of `noxsync sync` (outbox, pollers, SLA checks,
auto-resolve) and the HTTP API of docs/service.md in one process: the Noxys
webhook (POST /v1/events, HMAC-signed), incidents, history, status changes,
the audit stream, /healthz, /readyz and /metrics. The configuration's
`service` section says where it listens, the webhook secret and the API
tokens (docs/configuration.md).

SIGTERM or SIGINT: stop accepting, finish the requests and the engine step
in flight, flush, exit 0. Every event acknowledged with 202 is in the store.

  --config FILE  the configuration (required)
  --db PATH      the store (default: $NOXSYNC_DB or ./noxsync-data)

Exit: 0 stopped cleanly, 1 failure, 2 usage or configuration error.
)";

// --- small helpers ----------------------------------------------------------

HttpResponse JsonResponse(int status, json::value body) {
  HttpResponse r;
  r.status = status;
  r.body = json::serialize(body);
  r.body.push_back('\n');
  return r;
}

HttpResponse ErrorResponse(int status, const std::string& message) {
  // Messages quote what a client sent (a query name, a header, a path), in
  // any bytes: the answer is JSON, so UTF-8 whatever they were.
  return JsonResponse(status, json::object{{"error", ValidUtf8(message)}});
}

// 503 with Retry-After: for a refusal that passes (shutting down, a full queue).
HttpResponse RetryLater(const std::string& message) {
  HttpResponse r = ErrorResponse(503, message);
  r.headers.emplace_back("Retry-After", "5");
  return r;
}

std::string Hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = d[p[i] >> 4];
    out[2 * i + 1] = d[p[i] & 15];
  }
  return out;
}

}  // namespace

// HMAC-SHA256 of "<timestamp>.<body>" under `secret`, lower-case hex: the
// value of X-Noxsync-Signature after "sha256=". Shared with the tests and
// the benchmark, which sign as Noxys would.
std::string WebhookSignature(const std::string& secret, std::string_view timestamp, std::string_view body) {
  return WebhookSigner(secret).Sign(timestamp, body);
}

WebhookSigner::WebhookSigner(std::string_view secret) {
  static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  keyed_ = hmac ? EVP_MAC_CTX_new(hmac) : nullptr;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
  if (keyed_ == nullptr ||
      !EVP_MAC_init(keyed_, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params)) {
    std::abort();  // an OpenSSL without HMAC-SHA256 cannot check a webhook at all
  }
}

WebhookSigner::~WebhookSigner() { EVP_MAC_CTX_free(keyed_); }

std::string WebhookSigner::Sign(std::string_view timestamp, std::string_view body) const {
  // A copy of the keyed context starts from the padded key already hashed.
  EVP_MAC_CTX* c = EVP_MAC_CTX_dup(keyed_);
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t len = 0;
  bool ok = c != nullptr && EVP_MAC_update(c, reinterpret_cast<const unsigned char*>(timestamp.data()), timestamp.size()) &&
            EVP_MAC_update(c, reinterpret_cast<const unsigned char*>("."), 1) &&
            EVP_MAC_update(c, reinterpret_cast<const unsigned char*>(body.data()), body.size()) &&
            EVP_MAC_final(c, mac, &len, sizeof mac);
  EVP_MAC_CTX_free(c);
  if (!ok) std::abort();
  return Hex(mac, len);
}

namespace {

// --- metrics ----------------------------------------------------------------

struct Histogram {
  static constexpr double kBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  std::array<uint64_t, std::size(kBounds)> buckets{};
  uint64_t count = 0;
  double sum = 0;
  void Observe(double v) {
    for (size_t i = 0; i < std::size(kBounds); ++i) {
      if (v <= kBounds[i]) ++buckets[i];
    }
    ++count;
    sum += v;
  }
};

// The outbox as /metrics and /readyz show it: how many actions wait, since
// when, and how many are overdue. Both routes are open, and the outbox grows
// while a backend is down (an action per new incident), so one scan a second
// serves every caller: no client can make noxsync read it more often than
// the engine does itself.
class OutboxSummary {
 public:
  struct Figures {
    uint64_t depth = 0;
    int64_t oldest_us = 0;  // when the oldest waiting action was made; 0 when none
    uint64_t overdue = 0;   // actions due 15 minutes ago or more
  };

  OutboxSummary(const EventLog* log, const Clock* clock) : log_(log), clock_(clock) {}

  Figures Get() {
    std::lock_guard lock(mu_);
    int64_t now = clock_->NowMicros();
    if (scanned_us_ != 0 && now - scanned_us_ < 1'000'000 && now >= scanned_us_) return figures_;
    Figures f;
    log_->Scan(Cf::kOutbox, "", [&](std::string_view k, std::string_view v) {
      ++f.depth;
      // <incident>/<backend>/<16 hex: time><8 hex>/<kind>
      size_t end = k.rfind('/');
      if (end != std::string_view::npos && end >= 24) {
        int64_t t = static_cast<int64_t>(std::strtoull(std::string(k.substr(end - 24, 16)).c_str(), nullptr, 16));
        if (f.oldest_us == 0 || t < f.oldest_us) f.oldest_us = t;
      }
      json::error_code ec;
      json::value a = json::parse(v, ec);
      const json::value* next = !ec && a.is_object() ? a.get_object().if_contains("next_us") : nullptr;
      if (next && next->is_int64() && next->get_int64() > 0 && now - next->get_int64() > 900'000'000) ++f.overdue;
      return true;
    });
    figures_ = f;
    scanned_us_ = now;
    return f;
  }

 private:
  const EventLog* log_;
  const Clock* clock_;
  std::mutex mu_;
  int64_t scanned_us_ = 0;
  Figures figures_;
};

class Metrics {
 public:
  explicit Metrics(EventLog* log) : log_(log), log_cursor_(log->Head().seq + 1) {}

  std::atomic<uint64_t> events_accepted{0}, events_duplicate{0}, events_rejected{0};
  // Webhook requests whose signature matched only webhook_previous_secret.
  std::atomic<uint64_t> previous_secret_requests{0};
  // Bytes of read answers not yet downloaded (Api::Held); shared with
  // the answers' holds, which may be dropped after the Metrics are gone.
  std::shared_ptr<std::atomic<int64_t>> read_answers_held = std::make_shared<std::atomic<int64_t>>(0);

  void ObserveHttp(const std::string& route, int code, double seconds) {
    std::lock_guard lock(mu_);
    ++http_requests_[{route, code}];
    latency_[route].Observe(seconds);
  }
  void ObservePoll(const std::string& backend, double seconds, bool ok, int64_t now_us) {
    std::lock_guard lock(mu_);
    poll_seconds_[backend].Observe(seconds);
    if (ok) last_poll_ok_us_[backend] = now_us;
    if (!ok) ++poll_failures_[backend];
  }
  int64_t LastPollOk(const std::string& backend) const {
    std::lock_guard lock(mu_);
    auto it = last_poll_ok_us_.find(backend);
    return it == last_poll_ok_us_.end() ? 0 : it->second;
  }

  std::string Render(int64_t now_us, const std::vector<std::string>& backends, size_t open_connections,
                     const OutboxSummary::Figures& outbox) {
    // The slow parts first, without the lock every request's observer takes.
    CountNewRecords();
    uint64_t bytes = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(log_->path(), ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code sec;
      if (it->is_regular_file(sec)) bytes += it->file_size(sec);
    }
    std::lock_guard count_lock(count_mu_);
    std::lock_guard lock(mu_);
    std::string out;
    auto head = [&](const char* name, const char* type, const char* help) {
      out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    auto line = [&](const std::string& name, const std::string& labels, double v) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v);
      out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + buf + "\n";
    };
    head("noxsync_events_total", "counter", "Webhook events by result since start.");
    line("noxsync_events_total", "result=\"accepted\"", static_cast<double>(events_accepted));
    line("noxsync_events_total", "result=\"duplicate\"", static_cast<double>(events_duplicate));
    line("noxsync_events_total", "result=\"rejected\"", static_cast<double>(events_rejected));
    head("noxsync_webhook_previous_secret_requests_total", "counter",
         "Webhook requests signed with webhook_previous_secret since start; 0 for a while: the rotation can end.");
    line("noxsync_webhook_previous_secret_requests_total", "", static_cast<double>(previous_secret_requests));
    head("noxsync_tickets_created_total", "counter", "Tickets created per backend since start.");
    for (const auto& b : backends) line("noxsync_tickets_created_total", "backend=\"" + b + "\"", Get(tickets_created_, b));
    head("noxsync_tickets_failed_total", "counter", "Ticket creations given up per backend since start.");
    for (const auto& b : backends) line("noxsync_tickets_failed_total", "backend=\"" + b + "\"", Get(tickets_failed_, b));
    head("noxsync_status_changes_total", "counter", "Incident status changes by source since start.");
    for (const char* src : {"noxys", "jira", "servicenow", "rule"}) {
      line("noxsync_status_changes_total", std::string("source=\"") + src + "\"", Get(status_changes_, src));
    }
    head("noxsync_conflicts_total", "counter", "Status conflicts settled by the policy since start.");
    line("noxsync_conflicts_total", "", static_cast<double>(conflicts_));
    head("noxsync_sla_breaches_total", "counter", "SLA breaches recorded since start.");
    line("noxsync_sla_breaches_total", "", static_cast<double>(sla_breaches_));

    head("noxsync_outbox_depth", "gauge", "Actions waiting in the outbox.");
    line("noxsync_outbox_depth", "", static_cast<double>(outbox.depth));
    head("noxsync_outbox_oldest_age_seconds", "gauge", "Age of the oldest waiting action (0 when none).");
    line("noxsync_outbox_oldest_age_seconds", "",
         outbox.oldest_us ? std::max<double>(0, (now_us - outbox.oldest_us) / 1e6) : 0);

    head("noxsync_poll_duration_seconds", "histogram", "Duration of one poll of a backend.");
    for (const auto& b : backends) RenderHistogram(&out, "noxsync_poll_duration_seconds", "backend=\"" + b + "\"", poll_seconds_[b]);
    head("noxsync_poll_failures_total", "counter", "Polls that failed, per backend, since start.");
    for (const auto& b : backends) line("noxsync_poll_failures_total", "backend=\"" + b + "\"", Get(poll_failures_, b));
    head("noxsync_poll_last_success_timestamp_seconds", "gauge", "Unix time of the last successful poll (0: none yet).");
    for (const auto& b : backends) {
      auto it = last_poll_ok_us_.find(b);
      line("noxsync_poll_last_success_timestamp_seconds", "backend=\"" + b + "\"",
           it == last_poll_ok_us_.end() ? 0 : it->second / 1e6);
    }

    head("noxsync_http_requests_total", "counter", "HTTP requests by route and status code.");
    for (const auto& [key, n] : http_requests_) {
      line("noxsync_http_requests_total", "route=\"" + key.first + "\",code=\"" + std::to_string(key.second) + "\"",
           static_cast<double>(n));
    }
    head("noxsync_http_request_duration_seconds", "histogram", "HTTP request latency by route.");
    for (const auto& [route, h] : latency_) {
      RenderHistogram(&out, "noxsync_http_request_duration_seconds", "route=\"" + route + "\"", h);
    }
    head("noxsync_http_open_connections", "gauge", "Open HTTP connections.");
    line("noxsync_http_open_connections", "", static_cast<double>(open_connections));
    head("noxsync_http_read_answers_held_bytes", "gauge",
         "Bytes of read answers clients are still downloading; reads get 503 at service.max_pages_in_flight_bytes.");
    line("noxsync_http_read_answers_held_bytes", "", static_cast<double>(read_answers_held->load()));

    head("noxsync_store_size_bytes", "gauge", "Bytes the store takes on disk.");
    line("noxsync_store_size_bytes", "", static_cast<double>(bytes));
    head("noxsync_log_head_seq", "gauge", "Sequence number of the last log record.");
    line("noxsync_log_head_seq", "", static_cast<double>(log_->Head().seq));
    return out;
  }

  // Counts the log records appended since the last call (the log is the one
  // place every outcome is written, whichever thread wrote it). The engine
  // calls it every second, so a scrape finds a second's worth at most; it
  // has its own lock, so no request's observer waits for it.
  void CountNewRecords() {
    std::lock_guard lock(count_mu_);
    const uint64_t from = log_cursor_;
    uint64_t visited = 0;  // the log's seqs have no gaps: from + visited is the next one
    auto want = [&visited](std::string_view type) {
      ++visited;
      return type == "ticket.created" || type == "ticket.create_failed" || type == "ticket.status_changed" ||
             type == "sync.conflict" || type == "sla.breached";
    };
    log_->ScanLog(from, want, [&](const LogRecord& r) {
      bool created = r.type == "ticket.created", failed = r.type == "ticket.create_failed",
           changed = r.type == "ticket.status_changed";
      if (r.type == "sync.conflict") ++conflicts_;
      if (r.type == "sla.breached") ++sla_breaches_;
      if (!created && !failed && !changed) return true;
      json::error_code ec;
      json::value v = json::parse(r.payload, ec);
      if (ec || !v.is_object()) return true;
      auto str = [&](const char* k) {
        const json::value* x = v.get_object().if_contains(k);
        return x && x->is_string() ? std::string(x->get_string()) : std::string();
      };
      if (created) ++tickets_created_[str("backend")];
      if (failed) ++tickets_failed_[str("backend")];
      if (changed) ++status_changes_[str("source")];
      return true;
    });
    log_cursor_ = from + visited;
  }

 private:
  template <class M>
  static double Get(const M& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? 0 : static_cast<double>(it->second);
  }
  static void RenderHistogram(std::string* out, const std::string& name, const std::string& labels, const Histogram& h) {
    char buf[64];
    for (size_t i = 0; i < std::size(Histogram::kBounds); ++i) {
      std::snprintf(buf, sizeof buf, "%g", Histogram::kBounds[i]);
      *out += name + "_bucket{" + labels + ",le=\"" + buf + "\"} " + std::to_string(h.buckets[i]) + "\n";
    }
    *out += name + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    std::snprintf(buf, sizeof buf, "%.17g", h.sum);
    *out += name + "_sum{" + labels + "} " + buf + "\n";
    *out += name + "_count{" + labels + "} " + std::to_string(h.count) + "\n";
  }

  EventLog* log_;
  mutable std::mutex mu_;  // the observers' maps below
  std::map<std::string, uint64_t> poll_failures_;
  // What CountNewRecords finds in the log, under its own lock.
  std::mutex count_mu_;
  uint64_t log_cursor_;
  std::map<std::string, uint64_t> tickets_created_, tickets_failed_, status_changes_;
  uint64_t conflicts_ = 0, sla_breaches_ = 0;
  std::map<std::string, Histogram> poll_seconds_;
  std::map<std::string, int64_t> last_poll_ok_us_;
  std::map<std::pair<std::string, int>, uint64_t> http_requests_;
  std::map<std::string, Histogram> latency_;
};

// --- durability waiter ------------------------------------------------------

// Answers each webhook once its batch is durable. One thread; tickets come in
// nearly in order and each WaitFor returns at once for those already written.
class DurableWaiter {
 public:
  explicit DurableWaiter(EventLog* log) : log_(log), thread_([this] { Run(); }) {}
  ~DurableWaiter() { Stop(); }

  void Add(uint64_t ticket, std::function<void(const Status&)> done) {
    {
      std::lock_guard lock(mu_);
      queue_.emplace_back(ticket, std::move(done));
    }
    cv_.notify_one();
  }
  // Answers everything queued, then stops.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    pthread_setname_np(pthread_self(), "nox-acks");
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto [ticket, done] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      done(ticket == 0 ? Status::Ok() : log_->WaitFor(ticket));
      lock.lock();
    }
  }

  EventLog* log_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, std::function<void(const Status&)>>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// --- the API ----------------------------------------------------------------

// Report requests waiting behind the one being computed; more get 503.
constexpr size_t kMaxWaitingReports = 4;
// Status changes waiting behind the one the engine is taking; more get 503.
constexpr size_t kMaxWaitingStatusChanges = 16;
// API reads waiting behind the one being answered; more get 503.
constexpr size_t kMaxWaitingReads = 64;

struct ServeState {
  const ServiceConfig* service = nullptr;
  const NoxsyncConfig* config = nullptr;
  EventLog* log = nullptr;
  Ingestor* ingestor = nullptr;
  SyncEngine* engine = nullptr;
  std::mutex* engine_mu = nullptr;
  Metrics* metrics = nullptr;
  OutboxSummary* outbox = nullptr;
  DurableWaiter* waiter = nullptr;
  service::WorkQueue* reports = nullptr;
  service::WorkQueue* status_changes = nullptr;
  service::WorkQueue* reads = nullptr;
  service::HttpServer* server = nullptr;
  const Clock* clock = nullptr;
  std::atomic<bool> shutting_down{false};
  std::atomic<bool> store_failed{false};
  OncePerMinute disk_full_said;  // webhooks refused for a nearly full disk
  std::vector<Hash> token_digests;  // SHA-256 of each token, for constant-time compare
  const WebhookSigner* signer = nullptr;                     // keyed with the webhook secret
  const WebhookSigner* previous_signer = nullptr;            // webhook_previous_secret, if set
};

// "/v1/incidents/inc_1" -> {"v1", "incidents", "inc_1"}.
std::vector<std::string> PathParts(const std::string& path) {
  std::vector<std::string> parts;
  for (size_t i = 1; i <= path.size();) {
    size_t j = std::min(path.find('/', i), path.size());
    parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

// Which route a path is, for metrics labels: ids never become labels, nor
// methods no route takes (a client may send any token as one, and each would
// be a new series).
std::string RouteOf(const std::string& given_method, const std::string& path) {
  const std::string method =
      given_method == "GET" || given_method == "HEAD" || given_method == "POST" ? given_method : "OTHER";
  if (path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/v1/events" || path == "/v1/incidents" ||
      path == "/v1/audit" || path == "/v1/audit/head") {
    return method + " " + path;  // every webhook: no split
  }
  std::vector<std::string> parts = PathParts(path);
  std::string r;
  if (parts.size() == 3 && parts[0] == "v1" && parts[1] == "incidents") {
    r = "/v1/incidents/{id}";
  } else if (parts.size() == 4 && parts[0] == "v1" && parts[1] == "incidents") {
    r = "/v1/incidents/{id}/" + (parts[3] == "history" || parts[3] == "status" ? parts[3] : std::string("other"));
  } else if (parts.size() == 3 && parts[0] == "v1" && parts[1] == "reports") {
    r = "/v1/reports/{view}";
  } else if (parts.size() == 4 && parts[0] == "v1" && parts[1] == "tickets") {
    r = "/v1/tickets/{backend}/{key}";
  } else if (parts.size() >= 3 && parts[0] == "v1" && parts[1] == "events") {
    r = "/v1/events/{id}";
  } else {
    r = "other";
  }
  return method + " " + r;
}

class Api {
 public:
  explicit Api(ServeState* s) : s_(s), started_us_(s->clock->NowMicros()) {}

  // The role a request needs, if any: none for the open routes, nor for one
  // that will be refused whoever sends it (404, 405).
  std::optional<Role> NeededRole(const HttpRequest& req) const {
    const std::string& p = req.path;
    const bool read = req.method == "GET" || req.method == "HEAD";
    if (p == "/healthz" || p == "/readyz") return std::nullopt;
    if (p == "/metrics") return read && !s_->service->open_metrics ? std::optional(Role::kRead) : std::nullopt;
    if (p.rfind("/v1/", 0) != 0) return std::nullopt;
    if (p == "/v1/events") return req.method == "POST" ? std::optional(Role::kIngest) : std::nullopt;
    if (req.method == "POST") return Role::kOperate;
    if (read) return Role::kRead;
    return std::nullopt;
  }

  // From the HTTP session, before a body that has still to come is read: a
  // request without the token its route needs gets its 401 or 403 then.
  std::optional<HttpResponse> CheckToken(const HttpRequest& head) {
    std::optional<Role> need = NeededRole(head);
    return need ? Authorize(head, *need) : std::nullopt;
  }

  void Handle(HttpRequest req, Responder respond) {
    if (auto denied = CheckToken(req)) return respond(*denied);
    const std::string& p = req.path;
    // HEAD is answered as GET; the HTTP session leaves the body out.
    bool read = req.method == "GET" || req.method == "HEAD";
    if (p == "/healthz" || p == "/readyz" || p == "/metrics") {
      if (!read) return respond(MethodNotAllowed("GET, HEAD"));
      if (p == "/healthz") return respond(JsonResponse(200, json::object{{"status", "alive"}}));
      if (p == "/readyz") return respond(Ready());
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = s_->metrics->Render(s_->clock->NowMicros(), s_->config->BackendNames(), s_->server->open_connections(),
                                   s_->outbox->Get());
      return respond(r);
    }
    if (p.rfind("/v1/", 0) != 0) return respond(ErrorResponse(404, "no such route: " + p + " (see docs/service.md)"));
    if (p == "/v1/events") {
      if (req.method != "POST") return respond(MethodNotAllowed("POST"));
      return Events(std::move(req), std::move(respond));
    }
    bool write = req.method == "POST";
    if (!write && !read) return respond(MethodNotAllowed("GET, HEAD, POST"));
    std::vector<std::string> parts = PathParts(p);
    if (!write) {
      if (auto bad = CheckQuery(req, parts)) return respond(*bad);
    }
    if (!write && parts.size() == 3 && parts[1] == "reports") {
      // Reports read the whole range of the log: seconds at a million events.
      return OffThread(s_->reports, kMaxWaitingReports, "report", std::move(req),
                       [this, view = parts[2]](const HttpRequest& r) { return Held([&] { return Reports(r, view); }); },
                       std::move(respond));
    }
    if (write && parts.size() == 4 && parts[1] == "incidents" && parts[3] == "status") {
      // A status change waits for the engine step in flight, which may be a
      // poll of a backend that takes its time (minutes when it hangs, until
      // its timeouts and retries run out).
      return OffThread(s_->status_changes, kMaxWaitingStatusChanges, "status change", std::move(req),
                       [this, id = parts[2]](const HttpRequest& r) { return SetStatus(r, id); }, std::move(respond));
    }
    if (!write) {
      // A page of a listing examines up to max_scan_rows rows (100,000,
      // a tenth of a second and more), an audit page up to 100,000 records.
      // Pages count against the answers held; a single incident, a ticket's
      // incident or the chain head is a few hundred bytes, answered even
      // while pages are over their bound.
      const bool page = parts.size() == 2 || (parts.size() == 4 && parts[1] == "incidents" && parts[3] == "history") ||
                        parts[1] == "events";
      return OffThread(s_->reads, kMaxWaitingReads, "read", std::move(req),
                       [this, parts, page](const HttpRequest& r) {
                         return page ? Held([&] { return Route(r, parts); }) : Route(r, parts);
                       },
                       std::move(respond));
    }
    respond(Route(req, parts));
  }

 private:
  static HttpResponse MethodNotAllowed(const char* allow) {
    HttpResponse r = ErrorResponse(405, std::string("method not allowed; use ") + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
  }

  // Bearer token: 401 without a valid one, 403 when its role does not allow
  // the route. Every token is compared, in constant time, whatever matches.
  std::optional<HttpResponse> Authorize(const HttpRequest& req, Role need) {
    std::string auth = req.Header("authorization");
    const std::string_view prefix = "bearer ";  // the scheme's name is case-insensitive (RFC 9110, 11.1)
    std::optional<size_t> match;
    if (auth.size() > prefix.size() &&
        std::equal(prefix.begin(), prefix.end(), auth.begin(),
                   [](char want, char got) { return want == std::tolower(static_cast<unsigned char>(got)); })) {
      auto digest = Sha256(std::string_view(auth).substr(prefix.size()));
      for (size_t i = 0; i < s_->token_digests.size(); ++i) {
        if (CRYPTO_memcmp(digest.data(), s_->token_digests[i].data(), digest.size()) == 0) match = i;
      }
    }
    if (!match) {
      HttpResponse r = ErrorResponse(401, "a valid API token is required: Authorization: Bearer <token>");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"noxsync\"");
      return r;
    }
    const ApiToken& t = s_->service->tokens[*match];
    bool ok = t.role == need || (t.role == Role::kOperate && need == Role::kRead);
    if (!ok) {
      static const char* names[] = {"ingest", "read", "operate"};
      return ErrorResponse(403, "token \"" + t.name + "\" has the role " + names[static_cast<int>(t.role)] +
                                    "; this route needs " + names[static_cast<int>(need)]);
    }
    return std::nullopt;
  }

  // X-Noxsync-Timestamp (Unix seconds) and X-Noxsync-Signature
  // ("sha256=" + hex HMAC-SHA256 of "<timestamp>.<body>").
  std::optional<HttpResponse> CheckSignature(const HttpRequest& req) {
    std::string ts = req.Header("x-noxsync-timestamp");
    std::string sig = req.Header("x-noxsync-signature");
    if (ts.empty() || sig.empty()) {
      return ErrorResponse(401, "the request is not signed: send X-Noxsync-Timestamp and X-Noxsync-Signature "
                                "(docs/service.md#signing)");
    }
    if (ts.size() > 12 || !std::all_of(ts.begin(), ts.end(), ::isdigit)) {
      return ErrorResponse(401, "X-Noxsync-Timestamp must be Unix seconds");
    }
    int64_t age = s_->clock->NowMicros() / 1'000'000 - std::stoll(ts);
    if (age > s_->service->signature_max_age_s || age < -s_->service->signature_max_age_s) {
      const std::string limit = std::to_string(s_->service->signature_max_age_s);
      if (age > 0) {
        return ErrorResponse(401, "the signature's timestamp is " + std::to_string(age) +
                                      " s old; requests signed over " + limit +
                                      " s ago are refused (replay protection): check the sender's clock");
      }
      return ErrorResponse(401, "the signature's timestamp is " + std::to_string(-age) +
                                    " s ahead of this host's clock; over " + limit +
                                    " s either way is refused (replay protection): check the sender's clock, "
                                    "or this host's");
    }
    // Hex is hex in either case: an upper-case signature is the same HMAC.
    for (auto& c : sig) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto matches = [&](const WebhookSigner& signer) {
      std::string want = "sha256=" + signer.Sign(ts, req.body);
      return sig.size() == want.size() && CRYPTO_memcmp(sig.data(), want.data(), want.size()) == 0;
    };
    if (matches(*s_->signer)) return std::nullopt;
    if (s_->previous_signer != nullptr && matches(*s_->previous_signer)) {
      ++s_->metrics->previous_secret_requests;
      return std::nullopt;
    }
    return ErrorResponse(401, "bad signature: X-Noxsync-Signature does not match the body under the webhook "
                              "secret; sign the X-Noxsync-Timestamp value, a dot and the body bytes exactly as "
                              "sent (docs/service.md#signing)");
  }

  void Events(HttpRequest req, Responder respond) {
    if (s_->shutting_down) {
      return respond(RetryLater("noxsync is shutting down; send again to the next instance"));
    }
    if (auto bad = CheckSignature(req)) return respond(*bad);
    std::string type = req.Header("content-type");
    for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t semicolon = type.find(';');
    std::string params = semicolon == std::string::npos ? "" : type.substr(semicolon + 1);
    type = type.substr(0, semicolon);
    while (!type.empty() && type.back() == ' ') type.pop_back();
    bool ndjson = type == "application/x-ndjson" || type == "application/ndjson";
    if (!ndjson && type != "application/json") {
      return respond(ErrorResponse(415, "content type \"" + type +
                                            "\" is not accepted: use application/json for one event or "
                                            "application/x-ndjson for several"));
    }
    // Events are UTF-8 (JSON's own rule); a body said to be in another
    // charset would be refused line by line and kept as garbage.
    if (size_t at = params.find("charset="); at != std::string::npos) {
      std::string charset = params.substr(at + 8, params.find(';', at) - (at + 8));
      charset.erase(std::remove_if(charset.begin(), charset.end(), [](char c) { return c == ' ' || c == '"'; }),
                    charset.end());
      if (charset != "utf-8" && charset != "utf8" && charset != "us-ascii") {
        return respond(ErrorResponse(415, "charset \"" + std::string(Utf8Prefix(charset, 64)) +
                                              "\" is not accepted: send the events in UTF-8"));
      }
    }
    std::vector<IngestLine> lines;
    // A byte order mark may open a body, as it may a file.
    const size_t start = std::string_view(req.body).starts_with(kUtf8ByteOrderMark) ? kUtf8ByteOrderMark.size() : 0;
    if (ndjson) {
      const auto max_lines = static_cast<size_t>(s_->service->max_events_per_request);
      uint64_t n = 0;
      size_t i = start;
      while (i < req.body.size()) {
        size_t j = std::min(req.body.find('\n', i), req.body.size());
        ++n;
        std::string_view line(req.body.data() + i, j - i);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        // Blank lines are skipped, as `noxsync ingest` skips them.
        if (!IsBlankLine(line)) {
          if (lines.size() == max_lines) {
            return respond(ErrorResponse(413, "the body holds more than " + std::to_string(max_lines) +
                                                  " lines (service.max_events_per_request); nothing of it was "
                                                  "stored: send the events in smaller batches"));
          }
          lines.push_back({std::string(line), n, ""});
        }
        i = j + 1;
      }
    } else if (req.body.size() > start) {
      lines.push_back({start == 0 ? std::move(req.body) : req.body.substr(start), 1, ""});
    }
    if (lines.empty()) return respond(ErrorResponse(400, "the body holds no event"));
    auto results = std::make_shared<std::vector<IngestResult>>();
    uint64_t ticket = 0;
    Status s = s_->ingestor->Submit(lines, "webhook " + req.request_id, results.get(), &ticket);
    if (s.code() == Status::Code::kUnavailable) {
      // The disk is nearly full: nothing of the request was decided, and it
      // is taken once space is freed, without a restart. Said in the log
      // once a minute at most, not once per webhook onto that same disk.
      if (s_->disk_full_said.Due(s_->clock->NowMicros())) {
        spdlog::warn("serve: webhooks refused with 503 until space is freed: {}", s.message());
      }
      return respond(RetryLater(s.message()));
    }
    if (!s.ok()) {
      s_->store_failed = true;
      spdlog::error("serve: request {}: the store refused the events: {}", req.request_id, s.message());
      return respond(ErrorResponse(503, "the store cannot take events now (" + s.message() + "); send again later"));
    }
    s_->waiter->Add(ticket, [this, results, respond = std::move(respond), rid = req.request_id](const Status& durable) {
      if (!durable.ok()) {
        s_->store_failed = true;
        spdlog::error("serve: request {}: events not stored: {}", rid, durable.message());
        return respond(ErrorResponse(503, "the events were not stored (" + durable.message() + "); send again"));
      }
      // Written by hand: one answer per webhook, and a boost::json object
      // per result (a hash table each, then serialized) was over a third of
      // the thread that answers. tests/serve_test.cc parses it.
      uint64_t accepted = 0, duplicate = 0, rejected = 0;
      for (const auto& r : *results) {
        if (r.kind == IngestResult::Kind::kAccepted) ++accepted;
        if (r.kind == IngestResult::Kind::kDuplicate) ++duplicate;
        if (r.kind == IngestResult::Kind::kRejected) ++rejected;
      }
      HttpResponse res;
      res.status = accepted + duplicate == 0 ? 400 : 202;
      res.body.reserve(64 + 128 * results->size());
      JsonText top(&res.body);
      top.Uint("accepted", accepted).Uint("duplicate", duplicate).Uint("rejected", rejected);
      std::string* out = top.Raw("results");
      out->push_back('[');
      for (size_t i = 0; i < results->size(); ++i) {
        const IngestResult& r = (*results)[i];
        if (i) out->push_back(',');
        JsonText o(out);
        o.Uint("line", r.line);
        if (!r.event_id.empty()) o.Str("event_id", r.event_id);
        switch (r.kind) {
          case IngestResult::Kind::kAccepted:
            o.Str("result", "accepted").Str("incident", r.incident).Bool("opened", r.opened);
            break;
          case IngestResult::Kind::kDuplicate:
            o.Str("result", "duplicate").Str("incident", r.incident);
            break;
          case IngestResult::Kind::kRejected:
            o.Str("result", "rejected").Str("error", r.error);
            break;
        }
        o.End();
      }
      out->push_back(']');
      top.End();
      res.body.push_back('\n');
      s_->metrics->events_accepted += accepted;
      s_->metrics->events_duplicate += duplicate;
      s_->metrics->events_rejected += rejected;
      // Nothing readable at all is the client's error (400); the rejected
      // lines are still kept in the log (event.rejected).
      respond(std::move(res));
    });
  }

  HttpResponse Ready() {
    json::array problems;
    if (s_->store_failed) problems.push_back(json::string("store: a write failed; restart noxsync (see its log)"));
    if (Status room = s_->log->CheckRoom(0); !room.ok()) {
      problems.push_back(json::string("store: " + room.message()));
    }
    if (s_->shutting_down) problems.push_back(json::string("shutting down"));
    int64_t now = s_->clock->NowMicros();
    int64_t window = std::max<int64_t>(3 * s_->config->sync.poll_interval_us, 180'000'000);
    for (const auto& b : s_->config->BackendNames()) {
      int64_t last = s_->metrics->LastPollOk(b);
      if (last == 0 && now - started_us_ < window) continue;  // the first poll is on its way
      if (now - (last ? last : started_us_) > window) {
        problems.push_back(json::string(b + ": no successful poll in the last " + std::to_string(window / 60'000'000) +
                                        " min; check its credentials and reachability (noxsync test-connection " + b +
                                        ")"));
      }
    }
    // Stuck outbox: an action due for over 15 minutes.
    uint64_t stuck = s_->outbox->Get().overdue;
    if (stuck) problems.push_back(json::string("outbox: " + std::to_string(stuck) + " action(s) overdue by 15 min or more"));
    bool ok = problems.empty();
    return JsonResponse(ok ? 200 : 503, json::object{{"ready", ok}, {"problems", std::move(problems)}});
  }

  // A page's or a report's answer stays in memory until its client has
  // downloaded it. A client may ask for page after page on many connections
  // and read none: each answer counts against max_pages_in_flight_bytes
  // until it is written or its connection is gone, and a read asked for
  // while they are over it gets 503. Reads run one at a time, and reports
  // one at a time beside them, so the answers held pass the bound by a page
  // and a report at most.
  HttpResponse Held(const std::function<HttpResponse()>& read) {
    const std::shared_ptr<std::atomic<int64_t>>& pages_held = s_->metrics->read_answers_held;
    const int64_t held = *pages_held;
    if (held >= s_->service->max_pages_in_flight_bytes) {
      char text[200];
      std::snprintf(text, sizeof text,
                    "%.1f MiB of answers are still being downloaded by clients (the bound is "
                    "service.max_pages_in_flight_bytes, %.1f MiB); send again in a few seconds",
                    static_cast<double>(held) / (1 << 20),
                    static_cast<double>(s_->service->max_pages_in_flight_bytes) / (1 << 20));
      return RetryLater(text);
    }
    HttpResponse r = read();
    const int64_t size = static_cast<int64_t>(r.body.size());
    *pages_held += size;
    r.hold = std::shared_ptr<void>(nullptr, [pages_held, size](void*) { *pages_held -= size; });
    return r;
  }

  // A read route's query parameters: one it does not take, or one given
  // twice, is refused. Ignored, a misspelt filter (`?sevrity=Critical`)
  // would answer every incident as if it had filtered them, and a second
  // `status=` would be dropped unseen. A path no route takes is left to
  // its 404.
  static std::optional<HttpResponse> CheckQuery(const HttpRequest& req, const std::vector<std::string>& parts) {
    using Names = std::vector<std::string_view>;
    const Names* names = nullptr;
    static const Names kListing{"status", "platform", "severity", "since", "until", "cursor", "limit"};
    static const Names kHistory{"cursor", "limit"};
    static const Names kAudit{"since", "until", "cursor", "limit"};
    static const Names kReport{"since", "until"};
    static const Names kNone{};
    if (parts.size() == 2 && parts[1] == "incidents") names = &kListing;
    if (parts.size() == 3 && parts[1] == "incidents") names = &kNone;
    if (parts.size() == 4 && parts[1] == "incidents" && parts[3] == "history") names = &kHistory;
    if (parts.size() == 4 && parts[1] == "tickets") names = &kNone;
    if (parts.size() == 2 && parts[1] == "audit") names = &kAudit;
    if (parts.size() == 3 && parts[1] == "audit" && parts[2] == "head") names = &kNone;
    if (parts.size() == 3 && parts[1] == "reports") names = &kReport;
    if (parts.size() >= 3 && parts[1] == "events") names = &kHistory;
    if (names == nullptr) return std::nullopt;
    std::vector<std::string_view> seen;
    for (const auto& [name, value] : req.query) {
      if (name.empty() && value.empty()) continue;  // "?&limit=5", a trailing "&"
      const std::string shown = "\"" + std::string(Utf8Prefix(name, 64)) + "\"";
      if (std::find(names->begin(), names->end(), name) == names->end()) {
        std::string takes;
        for (std::string_view n : *names) takes += (takes.empty() ? "" : ", ") + std::string(n);
        return ErrorResponse(400, "unknown query parameter " + shown + ": " +
                                      (takes.empty() ? std::string("this route takes none")
                                                     : "this route takes " + takes) +
                                      " (see docs/service.md)");
      }
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        return ErrorResponse(400, "query parameter " + shown + " is given twice; give it once");
      }
      seen.push_back(name);
    }
    return std::nullopt;
  }

  HttpResponse Route(const HttpRequest& req, const std::vector<std::string>& parts) {
    bool get = req.method == "GET" || req.method == "HEAD";
    if (parts.size() == 2 && parts[1] == "incidents" && get) return ListIncidents(req);
    if (parts.size() == 3 && parts[1] == "incidents" && get) return OneIncident(parts[2]);
    if (parts.size() == 4 && parts[1] == "incidents" && parts[3] == "history" && get) return History(req, parts[2]);
    if (parts.size() == 4 && parts[1] == "tickets" && get) return TicketIncident(parts[2], parts[3]);
    // The id is the rest of the path: an event id may hold a "/" (sent as %2F).
    if (parts.size() >= 3 && parts[1] == "events" && get) return Event(req, req.path.substr(std::strlen("/v1/events/")));
    if (parts.size() == 2 && parts[1] == "audit" && get) return Audit(req);
    if (parts.size() == 3 && parts[1] == "audit" && parts[2] == "head" && get) {
      ChainHead h = s_->log->Head();
      return JsonResponse(200, json::object{{"seq", h.seq}, {"hash", HashHex(h.hash)}});
    }
    return ErrorResponse(404, "no such route: " + req.method + " " + req.path + " (see docs/service.md)");
  }

  // ?limit=N, 1 <= N <= max; `fallback` when absent.
  static bool LimitParam(const HttpRequest& req, uint64_t fallback, uint64_t max, uint64_t* out, std::string* error) {
    *out = fallback;
    std::string l = req.Query("limit");
    if (l.empty()) return true;
    if (l.size() > 9 || !std::all_of(l.begin(), l.end(), ::isdigit) || std::stoull(l) == 0 || std::stoull(l) > max) {
      *error = "limit must be 1 to " + std::to_string(max);
      return false;
    }
    *out = std::stoull(l);
    return true;
  }

  // ?cursor=<seq>; `fallback` when absent.
  static bool SeqCursorParam(const HttpRequest& req, uint64_t fallback, uint64_t* out, std::string* error) {
    *out = fallback;
    std::string c = req.Query("cursor");
    if (c.empty()) return true;
    if (c.size() > 19 || !std::all_of(c.begin(), c.end(), ::isdigit)) {
      *error = "cursor must be a seq";
      return false;
    }
    *out = std::stoull(c);
    return true;
  }

  // `end`: the parameter ends a range, where a date alone means the whole day.
  static bool TimeParam(const HttpRequest& req, const char* name, bool end, int64_t* out, std::string* error) {
    if (!req.HasQuery(name)) return true;
    if (!(end ? ParseRangeEnd(req.Query(name), out) : ParseTimestamp(req.Query(name), out))) {
      *error = std::string(name) + "=\"" + req.Query(name) + "\" is not a time: use 2026-03-20 or 2026-03-20T14:32:00Z" +
               TimestampHint(req.Query(name));
      return false;
    }
    return true;
  }
  static bool TimeRange(const HttpRequest& req, int64_t* since, int64_t* until, std::string* error) {
    return TimeParam(req, "since", false, since, error) && TimeParam(req, "until", true, until, error) &&
           CheckRangeOrder(*since, *until, "since=", "until=", error);
  }

  HttpResponse ListIncidents(const HttpRequest& req) {
    int64_t since = INT64_MIN, until = INT64_MAX;
    std::string error;
    if (!TimeRange(req, &since, &until, &error)) return ErrorResponse(400, error);
    std::optional<IncidentStatus> status;
    if (req.HasQuery("status")) {
      IncidentStatus st;
      if (!ParseIncidentStatus(req.Query("status"), &st)) {
        return ErrorResponse(400, "status=\"" + req.Query("status") + "\": use Open, In Progress, Resolved or Closed");
      }
      status = st;
    }
    std::optional<Severity> severity;
    if (req.HasQuery("severity")) {
      Severity sv;
      if (!ParseSeverity(req.Query("severity"), &sv)) {
        return ErrorResponse(400, "severity=\"" + req.Query("severity") + "\": use Critical, High, Medium or Low");
      }
      severity = sv;
    }
    std::string platform = req.Query("platform");
    uint64_t limit = 0;
    if (!LimitParam(req, 100, 1000, &limit, &error)) return ErrorResponse(400, error);
    // The page resumes after the cursor and stops at `limit` incidents or
    // after max_scan_rows rows, whichever comes first; next_cursor is the
    // last row examined, so a sparse filter pages on instead of scanning
    // every incident in one request.
    std::string cursor = req.Query("cursor");
    // The items' JSON, joined as it is written (max_page_bytes is passed by
    // the last one only), not parsed again into a document to be serialized.
    std::string items;
    uint64_t count = 0;
    std::string next, last_examined;
    int64_t examined = 0;
    const size_t max_bytes = static_cast<size_t>(s_->service->max_page_bytes);
    Status s = s_->log->ScanFrom(Cf::kIncidents, cursor, [&](std::string_view k, std::string_view v) {
      if (!cursor.empty() && k == cursor) return true;
      if (count == limit || examined == s_->service->max_scan_rows || items.size() >= max_bytes) {
        next = last_examined;
        return false;
      }
      ++examined;
      last_examined = k;
      Incident inc;
      if (!IncidentFromJson(v, &inc).ok()) return true;
      if (status && inc.status != *status) return true;
      if (severity && inc.severity != *severity) return true;
      if (!platform.empty() && inc.platform_id != platform && inc.platform_name != platform) return true;
      if (inc.first_seen_us < since || inc.first_seen_us > until) return true;
      if (count++) items.push_back(',');
      items += IncidentToDisplayJson(inc);
      return true;
    });
    if (!s.ok()) return StoreError(s);
    return PageResponse("incidents", items, next.empty() ? nullptr : &next, {});
  }

  // {<extra keys>,"<key>":[<items>],"next_cursor":"..."|null}, as a listing's
  // page is answered; `items` is already JSON, joined by commas.
  // `extra` fields come first; one without a value is null.
  static HttpResponse PageResponse(std::string_view key, const std::string& items, const std::string* next_cursor,
                                   const std::vector<std::pair<std::string_view, std::optional<std::string>>>& extra) {
    HttpResponse r;
    r.body.reserve(items.size() + 64);
    JsonText top(&r.body);
    for (const auto& [k, v] : extra) {
      if (v) {
        top.Str(k, *v);
      } else {
        *top.Raw(k) += "null";
      }
    }
    std::string* out = top.Raw(key);
    out->push_back('[');
    *out += items;
    out->push_back(']');
    out = top.Raw("next_cursor");
    if (next_cursor) {
      AppendJsonString(out, *next_cursor);
    } else {
      *out += "null";
    }
    top.End();
    r.body.push_back('\n');
    return r;
  }

  bool FindIncident(const std::string& id, Incident* inc) {
    std::string v;
    return s_->log->Get(Cf::kIncidents, id, &v).ok() && IncidentFromJson(v, inc).ok();
  }

  HttpResponse OneIncident(const std::string& id) {
    Incident inc;
    if (!FindIncident(id, &inc)) return ErrorResponse(404, "no incident " + id);
    json::value body = json::parse(IncidentToDisplayJson(inc));
    json::array tickets;
    std::string prefix = id + '\0';
    s_->log->Scan(Cf::kTickets, prefix, [&](std::string_view k, std::string_view v) {
      json::error_code ec;
      json::value row = json::parse(v, ec);
      if (!ec && row.is_object()) {
        json::object t{{"backend", std::string(k.substr(prefix.size()))}};
        for (const char* f : {"state", "key", "url", "raw_status", "priority", "rule", "error"}) {
          if (const json::value* x = row.get_object().if_contains(f); x && x->is_string() && !x->get_string().empty()) {
            t[f] = *x;
          }
        }
        tickets.push_back(std::move(t));
      }
      return true;
    });
    body.as_object()["tickets"] = std::move(tickets);
    return JsonResponse(200, std::move(body));
  }

  // A page of an incident's records, oldest first: `limit` (1,000 unless
  // asked, at most 10,000) from seq `cursor`. One that recurs for months has
  // them by the hundred thousand, too many for one answer built in memory.
  HttpResponse History(const HttpRequest& req, const std::string& id) {
    uint64_t from = 0, limit = 0;
    std::string error;
    if (!SeqCursorParam(req, 0, &from, &error) || !LimitParam(req, 1000, 10000, &limit, &error)) {
      return ErrorResponse(400, error);
    }
    Incident inc;
    if (!FindIncident(id, &inc)) return ErrorResponse(404, "no incident " + id);
    // At most `limit` records, and max_page_bytes passed by the last one
    // only: records carry their raw events.
    std::string records;
    const size_t max_bytes = static_cast<size_t>(s_->service->max_page_bytes);
    uint64_t next = 0;
    Status s = s_->log->IncidentRecords(
        id, from, limit,
        [&](const LogRecord& r) {
          if (records.size() >= max_bytes) return false;
          if (!records.empty()) records.push_back(',');
          records += RecordToJson(r);
          return true;
        },
        &next);
    if (!s.ok()) return StoreError(s);
    const std::string cursor = std::to_string(next);
    return PageResponse("records", records, next ? &cursor : nullptr, {{"incident", id}});
  }

  // What became of one Noxys event: the incident it is in, if it was
  // accepted, and every refusal that names it (refused outright, or resent
  // with other content), in pages of `limit`.
  HttpResponse Event(const HttpRequest& req, const std::string& id) {
    uint64_t from = 0, limit = 0;
    std::string error;
    if (!SeqCursorParam(req, 0, &from, &error) || !LimitParam(req, 100, 1000, &limit, &error)) {
      return ErrorResponse(400, error);
    }
    if (id.empty()) return ErrorResponse(404, "name an event: GET /v1/events/{event_id}");
    std::string incident;
    // Accepted ids are printable; a \0 would read the refusal index's rows.
    if (id.find('\0') == std::string::npos) {
      Status s = s_->log->Get(Cf::kByEvent, id, &incident);
      if (!s.ok() && !s.IsNotFound()) return StoreError(s);
      incident.resize(IncidentOfEventRow(incident).size());
    }
    std::vector<uint64_t> seqs;
    uint64_t next = 0;
    if (Status s = FindRefusals(*s_->log, id, from, limit, &seqs, &next); !s.ok()) return StoreError(s);
    if (incident.empty() && seqs.empty() && from == 0) {
      return ErrorResponse(404, "no event " + PrintableText(id) +
                                    ": none with that id was accepted or refused (event ids are case-sensitive)");
    }
    std::string records;
    const size_t max_bytes = static_cast<size_t>(s_->service->max_page_bytes);
    LogRecord r;
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (records.size() >= max_bytes) {
        next = seqs[i];
        break;
      }
      if (Status s = ReadRefusal(*s_->log, id, seqs[i], &r); !s.ok()) return StoreError(s);
      if (!records.empty()) records.push_back(',');
      records += RecordToJson(r);
    }
    const std::string cursor = std::to_string(next);
    return PageResponse("refusals", records, next ? &cursor : nullptr,
                        {{"event_id", ValidUtf8(id)},
                         {"incident", incident.empty() ? std::nullopt : std::optional<std::string>(incident)}});
  }

  HttpResponse SetStatus(const HttpRequest& req, const std::string& id) {
    static constexpr const char* kShape = "{\"status\": \"Open|In Progress|Resolved|Closed\", \"note\": \"...\"}";
    json::error_code ec;
    json::value body = json::parse(req.body, ec);
    if (ec || !body.is_object()) return ErrorResponse(400, std::string("the body must be ") + kShape);
    // A misspelt field ("notes") would drop what it carries unseen.
    for (const auto& field : body.get_object()) {
      if (field.key() != "status" && field.key() != "note") {
        return ErrorResponse(400, "unknown field " + json::serialize(json::value(field.key())) +
                                      " in the body; it takes status and note: " + kShape);
      }
    }
    const json::value* st = body.get_object().if_contains("status");
    if (st == nullptr) return ErrorResponse(400, std::string("\"status\" is missing; the body must be ") + kShape);
    IncidentStatus to;
    if (!st->is_string() || !ParseIncidentStatus(std::string(st->get_string()), &to)) {
      std::string given = json::serialize(*st);
      if (given.size() > 64) given = std::string(Utf8Prefix(given, 64)) + "...";
      return ErrorResponse(400, "\"status\": " + given + " is not one of Open, In Progress, Resolved, Closed");
    }
    std::string note;
    if (const json::value* n = body.get_object().if_contains("note"); n && !n->is_null()) {
      // Dropped silently, a note sent as a number or an object would be
      // missing from the history with nobody told.
      if (!n->is_string()) return ErrorResponse(400, "\"note\" must be a string");
      note = n->get_string();
    }
    Incident inc;
    if (!FindIncident(id, &inc)) return ErrorResponse(404, "no incident " + id);
    Status s;
    bool changed = false;
    {
      std::lock_guard lock(*s_->engine_mu);  // the engine is one caller at a time
      s = s_->engine->SetStatus(id, to, "noxys", note, &changed);
    }
    if (s.code() == Status::Code::kUnavailable) return RetryLater(s.message());  // the disk is nearly full
    if (!s.ok()) return ErrorResponse(s.code() == Status::Code::kNotFound ? 404 : 500, s.message());
    if (changed) spdlog::info("serve: request {}: incident {} set to {}", req.request_id, id, IncidentStatusName(to));
    // "changed": false when the incident already had that status: nothing
    // was recorded, the note neither, and the caller is told so.
    return JsonResponse(200, json::object{{"incident", id}, {"status", IncidentStatusName(to)}, {"changed", changed}});
  }

  HttpResponse TicketIncident(const std::string& backend, const std::string& key) {
    if (!IsBackendName(backend)) {
      return ErrorResponse(404, "no backend \"" + std::string(Utf8Prefix(backend, 64)) +
                                    "\": tickets are under jira or servicenow (/v1/tickets/jira/SEC-12)");
    }
    if (key.empty()) return ErrorResponse(400, "no ticket key: /v1/tickets/" + backend + "/KEY, e.g. SEC-12 or INC0010001");
    std::string incident;
    if (!s_->log->Get(Cf::kByTicket, TicketKeyKey(backend, key), &incident).ok()) {
      return ErrorResponse(404, "no " + backend + " ticket " + key + " made by noxsync");
    }
    return OneIncident(incident);
  }

  // Runs `work` on `queue`'s thread and answers with what it returns, so
  // work that may take a while (a report, a page of a listing, a status
  // change waiting for the engine) holds up no I/O thread and no webhook.
  // 503 with Retry-After when `max_waiting` already wait, and for those still
  // waiting when noxsync stops.
  void OffThread(service::WorkQueue* queue, size_t max_waiting, const char* what, HttpRequest req,
                 std::function<HttpResponse(const HttpRequest&)> work, Responder respond) {
    auto shared = std::make_shared<HttpRequest>(std::move(req));
    auto stopping = [what] { return RetryLater(std::string("noxsync is shutting down; send the ") + what + " again"); };
    bool queued = queue->TryPost([shared, work = std::move(work), respond, stopping](bool run) {
      respond(run ? work(*shared) : stopping());
    });
    if (!queued && s_->shutting_down) {  // the queue was stopped first
      respond(stopping());
    } else if (!queued) {
      respond(RetryLater(std::to_string(max_waiting) + " " + what +
                         "s are already waiting for their turn; send again in a few seconds"));
    }
  }

  // GET /v1/reports/summary: the whole report of docs/reports.md as JSON;
  // GET /v1/reports/<view>: one of its sections (by_platform, trend, ...).
  // Computed from the log on each call, like `noxsync report`.
  HttpResponse Reports(const HttpRequest& req, const std::string& view) {
    ReportRange range;
    std::string error;
    if (!TimeRange(req, &range.since_us, &range.until_us, &error)) return ErrorResponse(400, error);
    // Refused before the log is read: a report takes seconds.
    const auto& sections = ReportSections();
    if (view != "summary" && view != "sla_breaches" && std::find(sections.begin(), sections.end(), view) == sections.end()) {
      std::string views = "summary (the whole report)";
      for (const auto& section : sections) {
        if (section != "summary") views += ", " + section;
      }
      return ErrorResponse(404, "no report view \"" + view + "\"; use " + views + ", sla_breaches");
    }
    Report report;
    if (Status s = BuildReport(*s_->log, range, s_->clock->NowMicros(), &report); !s.ok()) {
      return ErrorResponse(500, s.message());
    }
    HttpResponse r;
    r.body = ReportJson(report);
    if (view == "summary") return r;
    json::value all = json::parse(r.body);
    json::object& o = all.as_object();
    json::object one{{"range", o.at("range")}, {"generated", o.at("generated")}, {view, o.at(view)}};
    if (view == "trend") one["trend_unit"] = o.at("trend_unit");
    return JsonResponse(200, std::move(one));
  }

  // NDJSON, one record per line with seq, prev_hash and hash; at most
  // `limit` records, the next cursor (a seq) in X-Next-Cursor.
  HttpResponse Audit(const HttpRequest& req) {
    int64_t since = INT64_MIN, until = INT64_MAX;
    std::string error;
    if (!TimeRange(req, &since, &until, &error)) return ErrorResponse(400, error);
    uint64_t from = 1, limit = 0;
    if (!SeqCursorParam(req, 1, &from, &error) || !LimitParam(req, 10000, 100000, &limit, &error)) {
      return ErrorResponse(400, error);
    }
    if (since != INT64_MIN) {
      // Records before this seq are all older than `since` (the store's time
      // index): the first page starts near the range instead of at seq 1.
      uint64_t start = 1;
      if (Status s = s_->log->SeqForTime(since, &start); !s.ok()) return StoreError(s);
      from = std::max(from, start);
    }
    HttpResponse r;
    r.content_type = "application/x-ndjson";
    // At most `limit` records, max_scan_rows examined and max_page_bytes
    // (passed by the last record only): times may step back, so a time
    // filter cannot stop the scan early, and a page bounds the work
    // instead. X-Next-Cursor is the next seq not examined.
    uint64_t n = 0, next = 0;
    int64_t examined = 0;
    const size_t max_bytes = static_cast<size_t>(s_->service->max_page_bytes);
    Status s = s_->log->ScanLog(from, [&](const LogRecord& rec) {
      if (n == limit || examined == s_->service->max_scan_rows || r.body.size() >= max_bytes) {
        next = rec.seq;
        return false;
      }
      ++examined;
      if (rec.time_us < since || rec.time_us > until) return true;
      r.body += RecordToJson(rec);
      r.body.push_back('\n');
      ++n;
      return true;
    });
    // A page cut short by a broken record would tell an auditor less than
    // the log holds without saying so: refuse it and name the record.
    if (!s.ok()) return StoreError(s);
    if (next) r.headers.emplace_back("X-Next-Cursor", std::to_string(next));
    return r;
  }

  HttpResponse StoreError(const Status& s) {
    spdlog::error("serve: reading the store failed: {}", s.message());
    return ErrorResponse(500, "reading the store failed: " + s.message() + "; run `noxsync verify`");
  }

  ServeState* s_;
  int64_t started_us_;
};

// --- signals ----------------------------------------------------------------

// The listening socket systemd passes when noxsync.socket is active
// (sd_listen_fds(3): LISTEN_PID names this process, LISTEN_FDS counts them
// from descriptor 3): -1 when none was passed. The socket stays open in
// systemd while noxsync restarts, so a webhook sent meanwhile waits in its
// queue for the next instance instead of being refused.
int SystemdListenFd(std::string* error) {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (!pid || !fds || std::to_string(::getpid()) != pid) return -1;
  const std::string count = fds;
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (count != "1") {
    *error = "systemd passed " + count + " sockets (LISTEN_FDS); noxsync serves one: give noxsync.socket a single ListenStream=";
    return -2;
  }
  constexpr int kFirstPassedFd = 3;
  ::fcntl(kFirstPassedFd, F_SETFD, FD_CLOEXEC);
  return kFirstPassedFd;
}

sigset_t ServeSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

int RunServe(const Argv& argv) {
  Args args({}, {"--config", "--db"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kUsage);
  if (args.help()) return std::fputs(kUsage, stdout), kExitOk;
  if (args.Get("--config").empty()) return Fail(kExitUsage, std::string("serve needs --config FILE\n") + kUsage);
  ConfigProblems problems;
  NoxsyncConfig config = LoadConfig(args.Get("--config"), &problems);
  PrintProblems(args.Get("--config"), problems);
  if (!problems.ok()) return kExitUsage;
  if (!config.service) {
    return Fail(kExitUsage, args.Get("--config") + ": no \"service\" section; serve needs at least listen, "
                                                   "webhook_secret and tokens (docs/configuration.md#service)");
  }
  const ServiceConfig& sc = *config.service;
  std::string socket_error;
  const int listen_fd = SystemdListenFd(&socket_error);
  if (listen_fd == -2) return Fail(kExitUsage, socket_error);

  // Signals are taken by sigwait below: block them before any thread starts.
  sigset_t signals = ServeSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  SystemClock clock;
  SystemSleeper sleeper;
  EngineSetup setup;
  if (Status s = BuildEngineSetup(config, clock, sleeper, &setup); !s.ok()) return Fail(kExitUsage, s.message());

  // The address is taken before the store is opened: a port in use or an
  // address this host lacks is told at once, without a store created (or
  // a large one opened) for nothing. Connections wait in the backlog until
  // the server starts below.
  service::ServerOptions so;
  so.host = sc.host;
  so.port = sc.port;
  so.listen_fd = listen_fd;
  so.threads = sc.threads;
  so.max_connections = static_cast<size_t>(sc.max_connections);
  so.max_body_bytes = static_cast<size_t>(sc.max_body_bytes);
  so.header_timeout_ms = sc.header_timeout_ms;
  so.body_timeout_ms = sc.body_timeout_ms;
  so.idle_timeout_ms = sc.idle_timeout_ms;
  service::HttpServer server;
  if (Status s = server.Listen(so); !s.ok()) return Fail(kExitFailure, s.message());

  EventLogOptions opts;
  opts.holder = "noxsync serve";
  opts.holder_note = "while it runs, send events to its POST /v1/events and status changes to "
                     "POST /v1/incidents/ID/status (docs/service.md)";
  auto opened = EventLog::OpenForWrite(StorePath(args), opts);
  if (!opened.ok()) return Fail(kExitFailure, opened.status().message());
  std::unique_ptr<EventLog> log = std::move(opened).value();
  setup.record_to->store(log.get());

  WriterGate gate;
  Ingestor ingestor(log.get(), &clock);
  ingestor.set_gate(&gate);
  std::atomic<bool> stop{false};  // SIGTERM: the engine ends its step early, then its loop
  SyncEngine engine(log.get(), setup.backends, &clock, config.sync, setup.notify.get());
  engine.set_gate(&gate);
  engine.set_stop(&stop);
  // After an outage the outbox may hold thousands of tickets to make: a
  // second of them at a time, so polls, SLA checks and status changes go on.
  engine.set_drain_budget(1'000'000);
  std::mutex engine_mu;
  Metrics metrics(log.get());
  OutboxSummary outbox(log.get(), &clock);
  DurableWaiter waiter(log.get());

  ServeState state;
  state.service = &sc;
  state.config = &config;
  state.log = log.get();
  state.ingestor = &ingestor;
  state.engine = &engine;
  state.engine_mu = &engine_mu;
  state.metrics = &metrics;
  state.outbox = &outbox;
  state.waiter = &waiter;
  state.server = &server;
  state.clock = &clock;
  for (const auto& t : sc.tokens) state.token_digests.push_back(Sha256(t.token.reveal()));
  WebhookSigner signer(sc.webhook_secret.reveal());
  state.signer = &signer;
  std::optional<WebhookSigner> previous_signer;
  if (!sc.webhook_previous_secret.empty()) {
    previous_signer.emplace(sc.webhook_previous_secret.reveal());
    state.previous_signer = &*previous_signer;
  }
  Api api(&state);
  // Reports read the whole log, seconds at a million events; on their own
  // thread they leave the I/O threads to the webhook. Declared after the
  // Api its jobs call, so it stops first.
  service::WorkQueue reports("nox-reports", kMaxWaitingReports);
  state.reports = &reports;
  // Status changes wait for the engine's lock, held through a whole poll;
  // waiting here, they hold up no I/O thread.
  service::WorkQueue status_changes("nox-status", kMaxWaitingStatusChanges);
  state.status_changes = &status_changes;
  // Reads of the API (listings, audit pages, histories) on a thread of their
  // own too: an I/O thread only reads requests, decides webhooks and writes
  // answers, so no dashboard's paging holds up Noxys.
  service::WorkQueue reads("nox-reads", kMaxWaitingReads);
  state.reads = &reads;

  Status started = server.Start(
      [&api](HttpRequest req, Responder respond) { api.Handle(std::move(req), std::move(respond)); },
      [&metrics](const HttpRequest& req, int status, double seconds) {
        metrics.ObserveHttp(RouteOf(req.method, req.path), status, seconds);
        spdlog::debug("serve: {} {} {} {} {:.1f} ms", req.request_id, req.method, req.path, status, seconds * 1e3);
      },
      [&api](const HttpRequest& head) { return api.CheckToken(head); });
  if (!started.ok()) return Fail(kExitFailure, started.message());
  if (listen_fd >= 0 && server.address() != sc.host + ":" + std::to_string(sc.port)) {
    spdlog::warn("serve: service.listen is {}:{}, but systemd passed a socket on {}, which is used; make them the same "
                 "(ListenStream= in noxsync.socket)",
                 sc.host, sc.port, server.address());
  }
  std::printf("noxsync serve: listening on %s%s, store %s\n", server.address().c_str(),
              listen_fd >= 0 ? " (socket from systemd)" : "", log->path().c_str());
  std::fflush(stdout);
  if (LogIsForMachines()) {
    spdlog::info("serve: listening on {}{}, store {}", server.address(), listen_fd >= 0 ? " (socket from systemd)" : "",
                 log->path());
  }

  // The engine: plan and drain every second (new incidents get tickets
  // promptly); poll, check SLAs and auto-resolve every poll interval.
  std::mutex wake_mu;
  std::condition_variable wake;
  std::thread engine_thread([&] {
    pthread_setname_np(pthread_self(), "nox-engine");
    int64_t next_poll = 0;
    OncePerMinute disk_full_said;
    while (!stop) {
      Status s;
      {
        std::lock_guard lock(engine_mu);
        // While the disk is nearly full the engine waits: what it would
        // do at a backend (a ticket made) could not be recorded. It goes on
        // by itself once space is freed.
        s = log->CheckRoom(0);
        if (s.ok()) s = engine.PlanNewRecords();
        if (s.ok()) s = engine.DrainOutbox();
        if (s.ok() && clock.NowMicros() >= next_poll) {
          for (const auto& b : config.BackendNames()) {
            if (stop) break;
            auto t0 = std::chrono::steady_clock::now();
            Status p = engine.Poll(b);
            metrics.ObservePoll(b, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), p.ok(),
                                clock.NowMicros());
            if (p.code() == Status::Code::kIOError || p.code() == Status::Code::kCorruption) {
              s = p;
              break;
            }
            if (!p.ok()) spdlog::warn("serve: polling {} failed; the next poll reads the same changes: {}", b, p.message());
          }
          if (s.ok()) s = engine.CheckSla();
          if (s.ok()) s = engine.AutoResolve();
          if (s.ok()) s = engine.DrainOutbox();
          next_poll = clock.NowMicros() + config.sync.poll_interval_us;
        }
      }
      if (s.code() == Status::Code::kUnavailable && !log->CheckRoom(0).ok()) {
        // Refused before anything was written (EventLog::CheckRoom); said
        // once a minute at most. A store that failed a write is not waited
        // on, full disk or not: it stays failed.
        if (disk_full_said.Due(clock.NowMicros())) {
          spdlog::warn("serve: the engine waits until space is freed: {}", s.message());
        }
      } else if (!s.ok()) {
        state.store_failed = true;
        spdlog::error("serve: the engine stopped: {}; /readyz reports it. Restart noxsync once the cause is fixed",
                      s.message());
        return;
      } else {
        disk_full_said.Clear();
      }
      // Keeps the metrics' count of log records up to date, a second's worth
      // at a time, so no scrape has to read more.
      metrics.CountNewRecords();
      // A drain cut short goes on at once, after a pause long enough for a
      // status change waiting on the engine's lock to take it.
      std::unique_lock lock(wake_mu);
      wake.wait_for(lock, engine.drain_cut_short() ? std::chrono::milliseconds(10) : std::chrono::milliseconds(1000),
                    [&] { return stop.load(); });
    }
  });

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      std::string path;
      std::string error = ReopenLogFile(&path);
      if (!error.empty()) {
        spdlog::error("serve: SIGHUP: {}; log lines keep going to the file open before", error);
      } else if (path.empty()) {
        spdlog::info("serve: SIGHUP: logs go to stderr, nothing to reopen (use --log-file to log to a file)");
      } else {
        spdlog::info("serve: SIGHUP: reopened the log file {}", path);
      }
      continue;
    }
    spdlog::info("serve: {} received; draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  state.shutting_down = true;
  // The engine first: a drain of a long backlog ends before its next
  // backend call, and the engine's lock is free for a status change in
  // flight to finish.
  stop = true;
  wake.notify_all();
  reports.Stop();  // waiting reports get 503; the one running finishes
  status_changes.Stop();  // the same for status changes
  reads.Stop();           // and for reads
  server.Shutdown(sc.drain_seconds * 1000);
  waiter.Stop();  // answers are given; every 202 was durable before it was sent
  engine_thread.join();
  if (setup.notify) setup.notify->Stop();
  setup.record_to->store(nullptr);
  Status flushed = log->Flush();
  if (!flushed.ok()) return Fail(kExitFailure, "the store failed while stopping: " + flushed.message());
  Announce(Say::kInfo, "serve: stopped cleanly (log head " + std::to_string(log->Head().seq) + ")");
  return kExitOk;
}

}  // namespace noxsync::cli
