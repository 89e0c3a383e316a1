// noxsync ingest FILE|-: streams Noxys events (JSON lines) into the store.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string_view>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/line_reader.h"
#include "store/event_log.h"
#include "sync/clock.h"
#include "sync/ingestor.h"
#include "sync/noxys_event.h"
#include "sync/printable.h"

namespace noxsync::cli {
namespace {

// A compressed file read as lines would be refused line by line, each kept
// in the log as event.rejected: garbage in the audit trail for a file that
// only needed unpacking. Its first bytes say which tool unpacks it.
const char* CompressedBy(std::string_view head) {
  auto starts = [&](std::initializer_list<unsigned char> magic) {
    return head.size() >= magic.size() &&
           std::equal(magic.begin(), magic.end(), head.begin(), [](unsigned char m, char c) {
             return m == static_cast<unsigned char>(c);
           });
  };
  if (starts({0x1F, 0x8B})) return "zcat";                            // gzip
  if (starts({0x28, 0xB5, 0x2F, 0xFD})) return "zstdcat";             // zstd
  if (starts({'B', 'Z', 'h'})) return "bzcat";                        // bzip2
  if (starts({0xFD, '7', 'z', 'X', 'Z', 0x00})) return "xzcat";       // xz
  if (starts({'P', 'K', 0x03, 0x04})) return "unzip -p";              // zip
  return nullptr;
}

constexpr const char* kUsage = R"(usage: noxsync ingest FILE|- [--db PATH] [--quiet]

Reads Noxys events, one JSON object per line, from FILE (or standard input for
-) and stores each one durably in the event log. A repeated event_id is a
duplicate and changes nothing; a bad line is kept in the log as event.rejected
with its reason and reported as "line N: field ...". Valid lines around a bad
one are stored. Compressed input is refused whole: unpack it into the pipe
(zcat FILE.gz | noxsync ingest -).

  --db PATH   the store (default: $NOXSYNC_DB, else ./noxsync-data)
  --quiet     no per-line rejection messages and no progress bar

Ends with "accepted N, duplicates N, rejected N".
Ctrl-C (or SIGTERM) stops reading, stores what was read, and reports.

Exit: 0 all lines stored, 1 some lines rejected, interrupted, or the store
failed, 2 usage.
)";

constexpr size_t kBatchLines = 1024;

// Ctrl-C or SIGTERM: stop reading, make what was read durable, report, exit.
// A second signal kills at once (the store is crash-safe either way).
std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int sig) {
  if (g_stop.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}
// Steps queued ahead of the disk; bounds memory when parsing outruns fsync.
constexpr uint64_t kMaxTicketsInFlight = 4;

class Progress {
 public:
  Progress(bool enabled, uint64_t total_bytes) : enabled_(enabled), total_(total_bytes) {}
  void Update(uint64_t lines, uint64_t bytes, bool final = false) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0 ? lines / secs : 0;
    if (total_ > 0) {
      int pct = static_cast<int>(100.0 * bytes / total_);
      int filled = pct * 30 / 100;
      std::fprintf(stderr, "\r[%.*s%.*s] %3d%%  %llu lines  %.0f lines/s ", filled,
                   "##############################", 30 - filled, "------------------------------",
                   pct, static_cast<unsigned long long>(lines), rate);
    } else {
      std::fprintf(stderr, "\r%llu lines  %.0f lines/s ", static_cast<unsigned long long>(lines), rate);
    }
    if (final) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  uint64_t total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

int RunIngest(const Argv& argv) {
  Args args({"--quiet"}, {"--db"});
  std::string err;
  if (!args.Parse(argv, &err)) return Fail(kExitUsage, err + "\n" + kUsage);
  if (args.help()) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (args.positional().size() != 1) return Fail(kExitUsage, std::string("ingest takes one FILE or -\n") + kUsage);

  const std::string source = args.positional()[0];
  int fd = 0;
  uint64_t total_bytes = 0;
  // Whether the first bytes were read where they lie: for a pipe (standard
  // input, a named pipe, bash's <(...)) the first line is looked at instead.
  bool head_checked = false;
  if (source != "-") {
    fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail(kExitFailure, "cannot open " + source + ": " + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        return Fail(kExitUsage, source + " is a folder; ingest takes a file of JSON lines");
      }
      if (S_ISREG(st.st_mode)) total_bytes = static_cast<uint64_t>(st.st_size);
    }
    char head[6];
    const ssize_t n = ::pread(fd, head, sizeof head, 0);  // a pipe or a terminal: the first line tells below
    head_checked = n >= 0;
    if (const char* unpack = CompressedBy(std::string_view(head, n > 0 ? static_cast<size_t>(n) : 0))) {
      ::close(fd);
      return Fail(kExitUsage, source + " is compressed; ingest reads JSON lines as text: " + unpack + " " + source +
                                  " | noxsync ingest -");
    }
  }

  EventLogOptions opts;
  opts.holder = "noxsync ingest " + source;
  auto log = EventLog::OpenForWrite(StorePath(args), opts);
  if (!log.ok()) {
    if (fd > 0) ::close(fd);
    return Fail(kExitFailure, log.status().message());
  }
  SystemClock clock;
  Ingestor ingestor(log->get(), &clock);

  const bool quiet = args.Has("--quiet");
  const bool tty = !quiet && ::isatty(2);
  Progress progress(tty, total_bytes);
  LineReader reader(fd, &g_stop);
  uint64_t accepted = 0, duplicates = 0, rejected = 0, opened = 0, lines_seen = 0;
  uint64_t last_ticket = 0;
  std::vector<IngestLine> batch;
  std::vector<IngestResult> results;
  Status failure;

  auto flush = [&]() -> bool {
    if (batch.empty()) return true;
    uint64_t ticket = 0;
    Status s = ingestor.Submit(batch, source, &results, &ticket);
    if (!s.ok()) {
      failure = s;
      return false;
    }
    for (const IngestResult& r : results) {
      switch (r.kind) {
        case IngestResult::Kind::kAccepted:
          ++accepted;
          opened += r.opened ? 1 : 0;
          break;
        case IngestResult::Kind::kDuplicate:
          ++duplicates;
          break;
        case IngestResult::Kind::kRejected:
          ++rejected;
          if (!quiet) {
            std::fprintf(stderr, "%sline %llu: %s\n", tty ? "\r\033[K" : "",
                         static_cast<unsigned long long>(r.line), PrintableText(r.error).c_str());
          }
          break;
      }
    }
    if (ticket != 0) last_ticket = ticket;
    if (last_ticket > kMaxTicketsInFlight) {
      s = (*log)->WaitFor(last_ticket - kMaxTicketsInFlight);
      if (!s.ok()) {
        failure = s;
        return false;
      }
    }
    batch.clear();
    return true;
  };

  // No SA_RESTART: a read() waiting on a terminal or pipe returns EINTR.
  struct sigaction sa{};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  std::string text;
  bool too_long = false;
  bool ok = true;
  while (ok && !g_stop && reader.Next(&text, &too_long)) {
    ++lines_seen;
    if (lines_seen == 1 && !head_checked) {
      if (const char* unpack = CompressedBy(text)) {
        return Fail(kExitUsage, (source == "-" ? std::string("standard input") : source) +
                                    " is compressed; ingest reads JSON lines as text: unpack it into the pipe (" +
                                    unpack + " FILE | noxsync ingest -)");
      }
    }
    if (IsBlankLine(text) && !too_long) continue;
    // An over-long line cannot be an event; its first MiB is kept as evidence.
    batch.push_back({std::move(text), reader.line_number(),
                     too_long ? "line longer than 1 MiB; not parsed" : ""});
    if (batch.size() >= kBatchLines) {
      ok = flush();
      progress.Update(lines_seen, reader.bytes_read());
    }
  }
  if (ok) ok = flush();
  if (ok && last_ticket != 0) {
    failure = (*log)->WaitFor(last_ticket);
    ok = failure.ok();
  }
  progress.Update(lines_seen, reader.bytes_read(), true);
  if (fd > 0) ::close(fd);

  if (!reader.error().empty()) {
    std::printf("accepted %llu, duplicates %llu, rejected %llu\n", static_cast<unsigned long long>(accepted),
                static_cast<unsigned long long>(duplicates), static_cast<unsigned long long>(rejected));
    return Fail(kExitFailure, "reading " + source + " stopped at line " +
                                  std::to_string(reader.line_number()) + ": " + reader.error() +
                                  "; the lines before it are stored");
  }
  if (!ok) {
    return Fail(kExitFailure, failure.message() +
                                  "\nrun the same command again once this is fixed: events already stored "
                                  "count as duplicates");
  }
  std::printf("accepted %llu, duplicates %llu, rejected %llu\n", static_cast<unsigned long long>(accepted),
              static_cast<unsigned long long>(duplicates), static_cast<unsigned long long>(rejected));
  std::fflush(stdout);  // the summary first, then any advice on stderr
  if (g_stop) {
    return Fail(kExitFailure, "interrupted after line " + std::to_string(reader.line_number()) + " of " + source +
                                  "; every line up to it is stored. Run the same command again to finish: "
                                  "stored events count as duplicates");
  }
  if (!quiet && opened > 0) {
    std::fprintf(stderr, "opened %llu new incident%s; see `noxsync incidents`\n",
                 static_cast<unsigned long long>(opened), opened == 1 ? "" : "s");
  }
  return rejected > 0 ? kExitFailure : kExitOk;
}

}  // namespace noxsync::cli
