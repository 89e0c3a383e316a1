// The service's benchmarks (issue 6), with the peer measured in the same run:
//   - webhook ingest: `noxsync serve` with 64 keep-alive clients, each
//     sending single signed events and waiting for the 202 (given only once
//     the event is durable): events/s, latency p50/p99, the server's peak RSS;
//     beside `noxsync ingest` of the same number of events from a file (bulk,
//     the same durability);
//   - `noxsync report --format json` over the bulk store.
// The clients are raw sockets with bodies signed before the clock starts,
// driven by one epoll thread (--client-threads: a blocking thread per
// connection instead), so the two cores go to the server, not to the load
// generator. Prints one table per run.
//
//   build/bench/serve_bench [--events=N] [--report-events=N] [--clients=64] [--threads=2]
//                           [--client-threads] [--runs=N] [--dir=PATH] [--bin=PATH] [--bin-b=PATH]
// (--threads: service.threads, the server's I/O threads). --runs repeats the
// webhook measurement, and --bin-b runs a second build in turn with the
// first, run for run; either way a summary line per build follows (each
// run's events/s, the median, how many met the target, ranges), since on
// shared cores one run says little. Exit status 1 when any answer was not
// the expected one or serve did not exit 0 after SIGTERM.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "tests/event_generator.h"
#include "tests/loopback.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kSecret = "bench-webhook-secret-0123456789";
constexpr const char* kToken = "bench-ingest-token-0123456789";

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

double Run(const std::string& cmd) {
  auto t0 = Clock::now();
  int rc = std::system(cmd.c_str());
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (rc != 0) {
    std::fprintf(stderr, "serve_bench: `%s` failed (%d)\n", cmd.c_str(), rc);
    std::exit(1);
  }
  return s;
}

// Runs commands whose peak RSS is measured. A process forked from this one
// starts with this one's pages mapped, and Linux carries that high-water
// mark into the child's peak RSS (wait4's ru_maxrss) across exec: after
// the webhook runs, with their signed requests held here, a report whose
// own peak was 102 MiB read as 243. So these commands are started by a
// helper forked at startup, while this process is still small, and the
// figure is the command's own.
class MeasuredRunner {
 public:
  // Call before this process grows or starts a thread.
  void Start() {
    int to[2], from[2];
    // Close-on-exec: serve and the other commands must not hold the helper's
    // pipe open (it ends when the bench's end closes).
    if (::pipe2(to, O_CLOEXEC) != 0 || ::pipe2(from, O_CLOEXEC) != 0) {
      std::perror("serve_bench: pipe");
      std::exit(1);
    }
    pid_ = ::fork();
    if (pid_ < 0) {
      std::perror("serve_bench: fork");
      std::exit(1);
    }
    if (pid_ == 0) {
      ::close(to[1]);
      ::close(from[0]);
      Serve(to[0], from[1]);
      ::_exit(0);
    }
    ::close(to[0]);
    ::close(from[1]);
    to_ = to[1];
    from_ = from[0];
  }

  ~MeasuredRunner() {
    if (pid_ <= 0) return;
    ::close(to_);  // the helper ends at end of file
    ::close(from_);
    ::waitpid(pid_, nullptr, 0);
  }

  // Runs `cmd` with sh; exits the bench if it fails. Seconds, and the
  // command's peak RSS in MiB.
  double Run(const std::string& cmd, double* peak_mib) {
    uint32_t n = static_cast<uint32_t>(cmd.size());
    Result r{};
    if (!WriteAll(to_, &n, sizeof n) || !WriteAll(to_, cmd.data(), n) || !ReadAll(from_, &r, sizeof r) ||
        !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
      std::fprintf(stderr, "serve_bench: `%s` failed\n", cmd.c_str());
      std::exit(1);
    }
    *peak_mib = static_cast<double>(r.maxrss_kib) / 1024.0;
    return r.seconds;
  }

 private:
  struct Result {
    int status;
    long maxrss_kib;
    double seconds;
  };

  // All n bytes through read(2) or write(2), across short transfers.
  template <class Io, class Byte>
  static bool All(Io io, int fd, Byte* p, size_t n) {
    while (n > 0) {
      ssize_t k = io(fd, p, n);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) return false;
      p += k;
      n -= static_cast<size_t>(k);
    }
    return true;
  }
  static bool ReadAll(int fd, void* p, size_t n) { return All(::read, fd, static_cast<char*>(p), n); }
  static bool WriteAll(int fd, const void* p, size_t n) { return All(::write, fd, static_cast<const char*>(p), n); }

  static void Serve(int in, int out) {
    for (;;) {
      uint32_t n = 0;
      if (!ReadAll(in, &n, sizeof n)) return;
      std::string cmd(n, '\0');
      if (!ReadAll(in, cmd.data(), n)) return;
      Result r{-1, 0, 0};
      auto t0 = Clock::now();
      pid_t pid = ::fork();
      if (pid == 0) {
        ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
      }
      rusage usage{};
      // wait4's figure for the shell covers the processes it waited for.
      if (pid > 0 && ::wait4(pid, &r.status, 0, &usage) == pid) r.maxrss_kib = usage.ru_maxrss;
      r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      if (!WriteAll(out, &r, sizeof r)) return;
    }
  }

  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

MeasuredRunner g_measured;
// Where the running serve's stdout and stderr go, named when it stops answering.
std::string g_serve_out;

// One keep-alive connection; Post sends a request and reads the whole answer.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = noxsync::testing::ConnectLoopback(port);
    if (fd_ < 0) {
      std::perror("connect");
      std::exit(1);
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Conn() { ::close(fd_); }

  int fd() const { return fd_; }

  bool Send(const std::string& request) {
    for (size_t off = 0; off < request.size();) {
      ssize_t n = ::write(fd_, request.data() + off, request.size() - off);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  int Post(const std::string& request) {
    if (!Send(request)) return -1;
    buf_.clear();
    size_t header_end = std::string::npos;
    size_t want = 0;
    char chunk[8192];
    for (;;) {
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) return -1;
      buf_.append(chunk, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = buf_.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        size_t cl = buf_.find("Content-Length: ");
        want = header_end + 4 + (cl == std::string::npos ? 0 : std::strtoul(buf_.c_str() + cl + 16, nullptr, 10));
      }
      if (buf_.size() >= want) break;
    }
    return std::atoi(buf_.c_str() + 9);  // "HTTP/1.1 202"
  }

 private:
  int fd_;
  std::string buf_;
};

// The load: each connection sends its next event as soon as the last is
// answered (a closed loop, like a blocking client per connection), latency
// from the first byte sent to the last byte of the answer.
struct Load {
  uint64_t ok = 0, bad = 0;
  std::vector<double> lat_ms;
};

// One thread per connection, blocking sockets.
Load ThreadClients(int port, int clients, const std::vector<std::string>& requests, int expect) {
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> ok{0}, bad{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Conn conn(port);
      auto& lat = latencies[static_cast<size_t>(c)];
      for (size_t i; (i = next++) < requests.size();) {
        auto s = Clock::now();
        int status = conn.Post(requests[i]);
        lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        (status == expect ? ok : bad)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  Load load;
  load.ok = ok;
  load.bad = bad;
  for (auto& l : latencies) load.lat_ms.insert(load.lat_ms.end(), l.begin(), l.end());
  return load;
}

// The same closed loop on every connection, driven by one thread with epoll:
// 64 client threads cost the two shared cores about 30 µs of context
// switches per request, which the server then does not get.
Load EpollClients(int port, int clients, const std::vector<std::string>& requests, int expect) {
  struct Client {
    std::unique_ptr<Conn> conn;
    std::string in;
    size_t want = 0;  // 0 until the header is read
    Clock::time_point start;
  };
  int ep = ::epoll_create1(0);
  std::vector<Client> cs(static_cast<size_t>(clients));
  size_t next = 0, outstanding = 0;
  Load load;
  load.lat_ms.reserve(requests.size());
  auto send_next = [&](Client& c) {
    if (next == requests.size()) return;
    c.in.clear();
    c.want = 0;
    c.start = Clock::now();
    if (!c.conn->Send(requests[next++])) {
      std::fprintf(stderr, "serve_bench: sending a request failed: %s (did noxsync serve stop? its output: %s)\n",
                   std::strerror(errno), g_serve_out.c_str());
      std::exit(1);
    }
    ++outstanding;
  };
  for (size_t i = 0; i < cs.size(); ++i) {
    cs[i].conn = std::make_unique<Conn>(port);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].conn->fd(), &ev);
  }
  for (auto& c : cs) send_next(c);
  std::vector<epoll_event> events(cs.size());
  char chunk[16384];
  while (outstanding > 0) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 30000);
    if (n <= 0) {
      std::fprintf(stderr, "serve_bench: no answer for 30 s\n");
      std::exit(1);
    }
    for (int e = 0; e < n; ++e) {
      Client& c = cs[events[static_cast<size_t>(e)].data.u64];
      ssize_t got = ::read(c.conn->fd(), chunk, sizeof chunk);
      if (got <= 0) {
        std::fprintf(stderr, "serve_bench: the server closed a connection (its output: %s)\n", g_serve_out.c_str());
        std::exit(1);
      }
      c.in.append(chunk, static_cast<size_t>(got));
      if (c.want == 0) {
        size_t header_end = c.in.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        size_t cl = c.in.find("Content-Length: ");
        c.want = header_end + 4 + (cl == std::string::npos ? 0 : std::strtoul(c.in.c_str() + cl + 16, nullptr, 10));
      }
      if (c.in.size() < c.want) continue;
      load.lat_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - c.start).count());
      (std::atoi(c.in.c_str() + 9) == expect ? load.ok : load.bad)++;
      --outstanding;
      send_next(c);
    }
  }
  ::close(ep);
  return load;
}

// CPU seconds (user + system) from a /proc/.../stat file: a process's, or
// one thread's under /proc/PID/task; with its command name in *comm.
double StatCpuSeconds(const std::string& path, std::string* comm = nullptr) {
  std::string stat = ReadFile(path);
  size_t open = stat.find('('), close = stat.rfind(')');  // the name may hold spaces
  if (open == std::string::npos || close == std::string::npos) return 0;
  if (comm) *comm = stat.substr(open + 1, close - open - 1);
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double CpuSeconds(pid_t pid) { return StatCpuSeconds("/proc/" + std::to_string(pid) + "/stat"); }

// CPU seconds by thread name (noxsync names its threads: nox-http,
// nox-writer, ...; RocksDB's are rocksdb:high and rocksdb:low), summed over
// the threads that share a name.
std::map<std::string, double> ThreadCpuSeconds(pid_t pid) {
  std::map<std::string, double> by_name;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::string comm;
    double s = StatCpuSeconds(task.path().string() + "/stat", &comm);
    if (!comm.empty()) by_name[comm] += s;
  }
  return by_name;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// What one run of one build measured.
struct Figures {
  double events_s = 0, bulk_events_s = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // ms
  double server_cpu_us = 0, client_cpu_us = 0;
  std::string by_thread;
  double floor_rate = 0, floor_cpu_us = 0;
  double rss_mib = 0;
  uint64_t bad = 0;
  int exit_status = -1;
};

struct Setup {
  std::string dir;
  uint64_t events = 0;
  int clients = 64, io_threads = 2;
  bool epoll_clients = true;
  const std::vector<std::string>* bodies = nullptr;
};

// One run of `bin`: the bulk peer, then `noxsync serve` under the webhook
// load and the HTTP floor, each on a new store. False (said on stderr) when
// serve does not start.
bool MeasureOnce(const Setup& setup, const std::string& bin, Figures* f) {
  const std::string& dir = setup.dir;
  fs::remove_all(dir + "/bulk");
  fs::remove_all(dir + "/served");
  double bulk_s = Run(bin + " ingest " + dir + "/peer.jsonl --quiet --db " + dir + "/bulk >/dev/null");
  f->bulk_events_s = static_cast<double>(setup.events) / bulk_s;

  // The service.
  std::ofstream(dir + "/serve.json") << R"({"service":{"listen":"127.0.0.1:0","webhook_secret":")" << kSecret
                                     << R"(","tokens":[{"name":"noxys","token":")" << kToken
                                     << R"(","role":"ingest"}],"max_connections":1024,"threads":)" << setup.io_threads
                                     << "}}";
  std::string out = dir + "/serve.out";
  g_serve_out = out;
  fs::remove(out);  // the last run's "listening on" must not be read as this one's
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::string conf = dir + "/serve.json", db = dir + "/served";
    ::execl(bin.c_str(), bin.c_str(), "serve", "--config", conf.c_str(), "--db", db.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int port = 0;
  std::regex listening("listening on 127\\.0\\.0\\.1:(\\d+)");
  for (int i = 0; i < 400 && port == 0; ++i) {
    std::smatch m;
    std::string text = ReadFile(out);
    if (std::regex_search(text, m, listening)) port = std::stoi(m[1]);
    else std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  if (port == 0) {
    std::fprintf(stderr, "serve_bench: %s serve did not start:\n%s\n", bin.c_str(), ReadFile(out).c_str());
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return false;
  }
  // Signed before the clock starts, for each run: the timestamp stays valid
  // for 5 minutes, less than a series of runs takes.
  std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch()).count());
  std::vector<std::string> requests;
  requests.reserve(setup.bodies->size());
  for (const auto& b : *setup.bodies) {
    requests.push_back("POST /v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer " + std::string(kToken) +
                       "\r\nContent-Type: application/json\r\nX-Noxsync-Timestamp: " + ts +
                       "\r\nX-Noxsync-Signature: sha256=" + noxsync::cli::WebhookSignature(kSecret, ts, b) +
                       "\r\nContent-Length: " + std::to_string(b.size()) + "\r\n\r\n" + b);
  }
  const int clients = setup.clients;
  const double cpu0 = CpuSeconds(pid), client_cpu0 = CpuSeconds(::getpid());
  const std::map<std::string, double> threads0 = ThreadCpuSeconds(pid);
  auto t0 = Clock::now();
  Load load = setup.epoll_clients ? EpollClients(port, clients, requests, 202) : ThreadClients(port, clients, requests, 202);
  double serve_s = std::chrono::duration<double>(Clock::now() - t0).count();
  // What each request costs the server and the client, whatever the disk
  // does: steadier from run to run than events/s on these shared cores.
  f->server_cpu_us = (CpuSeconds(pid) - cpu0) * 1e6 / static_cast<double>(requests.size());
  f->client_cpu_us = (CpuSeconds(::getpid()) - client_cpu0) * 1e6 / static_cast<double>(requests.size());
  // Where the server's CPU went, by thread; a thread that ended during the
  // load (none should) would be missing here.
  for (const auto& [name, secs] : ThreadCpuSeconds(pid)) {
    auto before = threads0.find(name);
    double us = (secs - (before == threads0.end() ? 0 : before->second)) * 1e6 / static_cast<double>(requests.size());
    if (us >= 0.5) f->by_thread += (f->by_thread.empty() ? "" : ", ") + name + " " + std::to_string(std::lround(us));
  }
  // The floor under it: the same clients asking `GET /healthz`, which reads
  // no body, checks no signature and writes nothing. What Beast, Asio and
  // the loopback cost per request on these cores, whatever noxsync does.
  {
    std::vector<std::string> probes(std::max<size_t>(requests.size() / 4, 1000),
                                    "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n");
    const double f_cpu0 = CpuSeconds(pid);
    auto f0 = Clock::now();
    Load fl = setup.epoll_clients ? EpollClients(port, clients, probes, 200) : ThreadClients(port, clients, probes, 200);
    f->floor_rate = static_cast<double>(fl.ok) / std::chrono::duration<double>(Clock::now() - f0).count();
    f->floor_cpu_us = (CpuSeconds(pid) - f_cpu0) * 1e6 / static_cast<double>(probes.size());
    f->bad += fl.bad;
  }
  {
    std::ifstream st("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(st, line)) {
      if (line.rfind("VmHWM:", 0) == 0) f->rss_mib = std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    }
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  f->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  f->events_s = static_cast<double>(load.ok) / serve_s;
  f->bad += load.bad;
  const std::vector<double>& all = load.lat_ms;
  f->p50 = Percentile(all, 0.50);
  f->p99 = Percentile(all, 0.99);
  f->p999 = Percentile(all, 0.999);
  f->max = Percentile(all, 1.0);
  return true;
}

void PrintRun(const Figures& f) {
  std::printf("| Measure | Result | Target |\n|---|---|---|\n");
  std::printf("| webhook ingest, acknowledged durable | %.0f events/s | >= 20,000 events/s |\n", f.events_s);
  std::printf("| peer: `noxsync ingest` bulk from a file | %.0f events/s | (peer) |\n", f.bulk_events_s);
  std::printf("| webhook latency p50 | %.2f ms | |\n", f.p50);
  std::printf("| webhook latency p99 | %.2f ms | <= 25 ms |\n", f.p99);
  // The tail past p99: a stall of the whole pipeline (a disk sync queued
  // behind a table file, say) shows here first.
  std::printf("| webhook latency p99.9 / max | %.2f / %.2f ms | |\n", f.p999, f.max);
  std::printf("| server CPU per request (user + system) | %.0f µs | |\n", f.server_cpu_us);
  std::printf("| server CPU per request, by thread (µs) | %s | |\n", f.by_thread.c_str());
  std::printf("| client CPU per request | %.0f µs | |\n", f.client_cpu_us);
  std::printf("| peer: `GET /healthz`, same clients (the HTTP floor) | %.0f requests/s, server CPU %.0f µs each | (peer) |\n",
              f.floor_rate, f.floor_cpu_us);
  std::printf("| serve peak RSS | %.0f MiB | <= 256 MiB |\n", f.rss_mib);
  std::printf("| answers other than 202 (200 for /healthz) | %llu | 0 |\n", static_cast<unsigned long long>(f.bad));
  std::printf("| serve exit after SIGTERM | %d | 0 |\n", f.exit_status);
}

// "a–b" of a figure over runs, rounded as the table rounds it.
std::string Range(const std::vector<Figures>& runs, double Figures::*field, const char* format) {
  double lo = runs.front().*field, hi = lo;
  for (const Figures& f : runs) {
    lo = std::min(lo, f.*field);
    hi = std::max(hi, f.*field);
  }
  char a[32], b[32];
  std::snprintf(a, sizeof a, format, lo);
  std::snprintf(b, sizeof b, format, hi);
  return std::string(a) == b ? a : std::string(a) + "–" + b;
}

// One line per build over all its runs: what a table in docs/performance.md
// quotes, so it comes from this command rather than a shell loop.
void PrintSummary(const std::vector<std::string>& bins, const std::vector<std::vector<Figures>>& runs) {
  std::printf("\nSummary, %zu run(s) per build, in the order run:\n", runs.front().size());
  std::printf("| build | webhook events/s, each run | median | runs >= 20,000 | p99 ms | server CPU µs/request | "
              "HTTP floor µs | peak RSS MiB |\n|---|---|---|---|---|---|---|---|\n");
  for (size_t b = 0; b < bins.size(); ++b) {
    const std::vector<Figures>& r = runs[b];
    std::string each;
    std::vector<double> rates;
    int met = 0;
    for (const Figures& f : r) {
      each += (each.empty() ? "" : " / ") + std::to_string(std::lround(f.events_s));
      rates.push_back(f.events_s);
      met += f.events_s >= 20000 ? 1 : 0;
    }
    std::sort(rates.begin(), rates.end());
    size_t n = rates.size();
    double median = n % 2 ? rates[n / 2] : (rates[n / 2 - 1] + rates[n / 2]) / 2;
    std::printf("| %s | %s | %.0f | %d of %zu | %s | %s | %s | %s |\n", bins[b].c_str(), each.c_str(), median, met, n,
                Range(r, &Figures::p99, "%.1f").c_str(), Range(r, &Figures::server_cpu_us, "%.0f").c_str(),
                Range(r, &Figures::floor_cpu_us, "%.0f").c_str(), Range(r, &Figures::rss_mib, "%.0f").c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = 200000, report_events = 1000000;
  int clients = 64, io_threads = 2, runs = 1;
  bool epoll_clients = true;
  std::string dir = (fs::temp_directory_path() / "noxsync-serve-bench").string();
  std::string bin = NOXSYNC_BIN;  // --bin: another build of noxsync
  std::string bin_b;              // --bin-b: a second build, run in turn with the first
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--events=", 0) == 0) events = std::stoull(a.substr(9));
    else if (a.rfind("--report-events=", 0) == 0) report_events = std::stoull(a.substr(16));
    else if (a.rfind("--clients=", 0) == 0) clients = std::stoi(a.substr(10));
    else if (a.rfind("--dir=", 0) == 0) dir = a.substr(6);
    else if (a.rfind("--bin=", 0) == 0) bin = a.substr(6);
    else if (a.rfind("--bin-b=", 0) == 0) bin_b = a.substr(8);
    else if (a.rfind("--runs=", 0) == 0) runs = std::stoi(a.substr(7));
    else if (a.rfind("--threads=", 0) == 0) io_threads = std::stoi(a.substr(10));
    else if (a == "--client-threads") epoll_clients = false;
    else {
      std::fprintf(stderr, "usage: serve_bench [--events=N] [--report-events=N] [--clients=N] [--threads=N] [--client-threads] "
                   "[--runs=N] [--dir=PATH] [--bin=PATH] [--bin-b=PATH]\n");
      return 2;
    }
  }
  if (runs < 1 || events == 0 || clients < 1) {
    std::fprintf(stderr, "serve_bench: --runs, --events and --clients must be at least 1\n");
    return 2;
  }
  // A serve that dies mid-run must end the bench with a message naming the
  // failed send, not kill it silently with SIGPIPE on the next write.
  ::signal(SIGPIPE, SIG_IGN);
  if (report_events > 0) g_measured.Start();  // while this process is small
  // The scratch folder is emptied first and removed at the end, so only a
  // new or empty folder, or one an earlier run left (its marker inside), is
  // taken: a mistyped --dir must not wipe someone's files.
  // A folder it cannot look into is refused too, rather than taken as absent.
  const std::string marker = dir + "/.noxsync-serve-bench";
  std::error_code ec;
  auto cannot = [&](const char* what) {
    std::fprintf(stderr, "serve_bench: cannot %s %s (%s); pass --dir with a folder you can write\n", what,
                 dir.c_str(), ec.message().c_str());
    return 2;
  };
  const bool exists = fs::exists(dir, ec);
  if (ec) return cannot("look into");
  if (exists) {
    const bool empty = fs::is_empty(dir, ec);
    if (ec) return cannot("list");
    const bool ours = fs::exists(marker, ec);
    if (ec) return cannot("look into");
    if (!empty && !ours) {
      std::fprintf(stderr,
                   "serve_bench: %s holds files serve_bench did not make, and it would delete them; "
                   "pass --dir with a new or empty folder\n",
                   dir.c_str());
      return 2;
    }
  }
  fs::remove_all(dir, ec);
  if (ec) return cannot("empty");
  fs::create_directories(dir, ec);
  if (ec) return cannot("create");
  std::ofstream(marker) << "scratch folder of serve_bench; deleted at the end of each run\n";

  // The events, as Noxys would send them; the same ones for both paths.
  std::vector<std::string> bodies;
  bodies.reserve(events);
  {
    noxsync::testing::EventGenerator gen(42);
    std::ofstream f(dir + "/events.jsonl");
    for (uint64_t i = 0; i < std::max(events, report_events); ++i) {
      std::string e = gen.Next();
      if (i < events) bodies.push_back(e);
      f << e << '\n';
      if (i + 1 == events) f.flush();
    }
  }
  // The peer's input: the same events as a file, which each run ingests in bulk.
  Run("head -n " + std::to_string(events) + " " + dir + "/events.jsonl > " + dir + "/peer.jsonl");

  // The runs, one build after the other when there are two, so the host's
  // slow and fast spells fall on both.
  const Setup setup{dir, events, clients, io_threads, epoll_clients, &bodies};
  std::vector<std::string> bins{bin};
  if (!bin_b.empty()) bins.push_back(bin_b);
  std::vector<std::vector<Figures>> results(bins.size());
  uint64_t bad = 0;
  for (int r = 1; r <= runs; ++r) {
    for (size_t b = 0; b < bins.size(); ++b) {
      Figures f;
      if (!MeasureOnce(setup, bins[b], &f)) return 1;
      std::printf("\nnoxsync serve benchmark: %llu events, %d keep-alive clients (%s), %d server I/O threads, %u cores",
                  static_cast<unsigned long long>(events), clients,
                  epoll_clients ? "one epoll thread" : "a thread each", io_threads, std::thread::hardware_concurrency());
      if (runs > 1 || bins.size() > 1) std::printf("; run %d of %d, %s", r, runs, bins[b].c_str());
      std::printf("\n");
      PrintRun(f);
      std::fflush(stdout);
      bad += f.bad + (f.exit_status == 0 ? 0 : 1);
      results[b].push_back(std::move(f));
    }
  }
  if (runs > 1 || bins.size() > 1) PrintSummary(bins, results);

  // Report over the big store, once per build.
  if (report_events > 0) {
    Run("head -n " + std::to_string(report_events) + " " + dir + "/events.jsonl > " + dir + "/report.jsonl");
    if (runs > 1 || bins.size() > 1) std::printf("\n| Measure | Result | Target |\n|---|---|---|\n");
    for (const std::string& b : bins) {
      fs::remove_all(dir + "/reportstore");
      Run(b + " ingest " + dir + "/report.jsonl --quiet --db " + dir + "/reportstore >/dev/null");
      double report_mib = 0;
      double report_s =
          g_measured.Run(b + " report --format json --db " + dir + "/reportstore >" + dir + "/report.json", &report_mib);
      std::printf("| report (json) over %llu events%s%s | %.2f s, peak RSS %.0f MiB | <= 5 s |\n",
                  static_cast<unsigned long long>(report_events), bins.size() > 1 ? ", " : "",
                  bins.size() > 1 ? b.c_str() : "", report_s, report_mib);
    }
  }
  fs::remove_all(dir);
  return bad == 0 ? 0 : 1;
}
