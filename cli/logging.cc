#include "cli/logging.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "store/utf8.h"
#include "sync/json_text.h"
#include "sync/printable.h"

namespace noxsync::cli {

namespace {

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool WordStart(std::string_view m, size_t i) { return i == 0 || !std::isalnum(static_cast<unsigned char>(m[i - 1])); }

// The first incident id (inc_00000042) in the message.
std::string FindIncident(std::string_view m) {
  for (size_t i = m.find("inc_"); i != std::string_view::npos; i = m.find("inc_", i + 1)) {
    size_t j = i + 4;
    while (j < m.size() && IsDigit(m[j])) ++j;
    if (j - i >= 12 && WordStart(m, i)) return std::string(m.substr(i, j - i));
  }
  return "";
}

// The first ticket key: a Jira key (SEC-12: a project key, a dash, a
// number) or a ServiceNow number (INC0010001).
std::string FindTicket(std::string_view m) {
  auto word_end = [&](size_t k) { return k == m.size() || !std::isalnum(static_cast<unsigned char>(m[k])); };
  for (size_t i = 0; i < m.size(); ++i) {
    if (!IsUpper(m[i]) || !WordStart(m, i)) continue;
    size_t j = i;
    while (j < m.size() && (IsUpper(m[j]) || (j > i && IsDigit(m[j])))) ++j;
    if (j - i >= 2 && j + 1 < m.size() && m[j] == '-' && IsDigit(m[j + 1])) {
      size_t k = j + 1;
      while (k < m.size() && IsDigit(m[k])) ++k;
      if (word_end(k)) return std::string(m.substr(i, k - i));
    }
    if (m.substr(i, 3) == "INC" && j - i >= 10 && word_end(j)) return std::string(m.substr(i, j - i));
  }
  return "";
}

// "request 4a5a287cfbb0a9e5:" as serve writes it.
std::string FindRequest(std::string_view m) {
  size_t i = m.find("request ");
  if (i == std::string_view::npos) return "";
  size_t j = i + 8, k = j;
  while (k < m.size() && (std::isalnum(static_cast<unsigned char>(m[k])) || m[k] == '-' || m[k] == '_' || m[k] == '.')) ++k;
  return k > j && k < m.size() && m[k] == ':' ? std::string(m.substr(j, k - j)) : "";
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    time_.format(msg, stamp_);
    auto lv = spdlog::level::to_string_view(msg.level);
    std::string_view level(lv.data(), lv.size());
    std::string line = JsonLogLine(std::string_view(stamp_.data(), stamp_.size()), level,
                                   std::string_view(msg.payload.data(), msg.payload.size()));
    stamp_.clear();
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }

 private:
  spdlog::pattern_formatter time_{"%Y-%m-%dT%H:%M:%S.%eZ", spdlog::pattern_time_type::utc, ""};
  spdlog::memory_buf_t stamp_;
};

// Human-readable lines: time, level, message. A message names what came
// from outside (an event's fields, a backend's answer, a client's request
// id), so it is written escaped: a value cannot start a line that looks like
// noxsync's own, or drive the terminal the log is read on.
class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    prefix_.format(msg, dest);
    std::string text = PrintableText(std::string_view(msg.payload.data(), msg.payload.size()));
    text.push_back('\n');
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<TextFormatter>(); }

 private:
  spdlog::pattern_formatter prefix_{"%Y-%m-%dT%H:%M:%S.%eZ %l ", spdlog::pattern_time_type::utc, ""};
};

int OpenLogFile(const std::string& path, std::string* error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    *error = "cannot open the log file " + path + ": " + std::strerror(errno) +
             "; check that its directory exists and that noxsync may write there";
  }
  return fd;
}

// Appends each line with one write(2) on an O_APPEND descriptor, so lines
// stay whole whoever else appends; Reopen swaps the descriptor under the
// sink's lock, so no line is split between the old file and the new one.
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ReopenableFileSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~ReopenableFileSink() override { ::close(fd_); }

  const std::string& path() const { return path_; }

  std::string Reopen() {
    std::string error;
    int fd = OpenLogFile(path_, &error);
    if (fd < 0) return error;
    std::lock_guard<std::mutex> lock(mutex_);
    ::close(fd_);
    fd_ = fd;
    return "";
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    const char* p = buf.data();
    size_t left = buf.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a full disk: the line is lost, the service goes on
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  void flush_() override {}

 private:
  std::string path_;
  int fd_;
};

std::shared_ptr<ReopenableFileSink> g_file_sink;
bool g_json = false;

}  // namespace

std::string JsonLogLine(std::string_view time, std::string_view level, std::string_view message) {
  std::string out;
  JsonText j(&out);
  // A message may quote a backend's answer or a client's bytes in any
  // encoding; a log shipper reads the line as JSON, so UTF-8.
  std::string valid;
  if (InvalidUtf8At(message) != std::string_view::npos) message = valid = ValidUtf8(message);
  j.Str("time", time).Str("level", level).Str("msg", message);
  if (std::string v = FindIncident(message); !v.empty()) j.Str("incident", v);
  if (std::string v = FindTicket(message); !v.empty()) j.Str("ticket", v);
  if (std::string v = FindRequest(message); !v.empty()) j.Str("request_id", v);
  j.End();
  return out;
}

std::string SetUpLogging(const std::string& format, const std::string& file) {
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = spdlog::stderr_logger_mt("noxsync");
  } else {
    std::string error;
    int fd = OpenLogFile(file, &error);
    if (fd < 0) return error;
    g_file_sink = std::make_shared<ReopenableFileSink>(file, fd);
    logger = std::make_shared<spdlog::logger>("noxsync", g_file_sink);
  }
  g_json = format == "json";
  if (g_json) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(std::make_unique<TextFormatter>());
  }
  spdlog::level::level_enum level = spdlog::level::info;
  if (const char* env = std::getenv("NOXSYNC_LOG_LEVEL")) level = spdlog::level::from_str(env);
  logger->set_level(level);
  spdlog::set_default_logger(logger);
  return "";
}

bool LogIsForMachines() { return g_json || g_file_sink != nullptr; }

void Announce(Say level, const std::string& message) {
  if (LogIsForMachines()) {
    switch (level) {
      case Say::kInfo: spdlog::info("{}", message); break;
      case Say::kWarning: spdlog::warn("{}", message); break;
      case Say::kError: spdlog::error("{}", message); break;
    }
    if (g_json && g_file_sink == nullptr) return;  // stderr is the JSON stream
  }
  std::fprintf(stderr, "noxsync: %s%s\n", level == Say::kWarning ? "warning: " : "", message.c_str());
}

std::string ReopenLogFile(std::string* path) {
  path->clear();
  if (!g_file_sink) return "";
  *path = g_file_sink->path();
  return g_file_sink->Reopen();
}

}  // namespace noxsync::cli
