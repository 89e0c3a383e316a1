#include "store/rocks_log_file.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>

namespace noxsync {
namespace fs = std::filesystem;

RocksLogFile::RocksLogFile(std::string path, uint64_t max_bytes)
    : rocksdb::Logger(rocksdb::WARN_LEVEL), path_(std::move(path)), max_bytes_(max_bytes) {}

RocksLogFile::~RocksLogFile() {
  if (file_ != nullptr) std::fclose(file_);
}

void RocksLogFile::Logv(const char* format, va_list ap) { Logv(rocksdb::INFO_LEVEL, format, ap); }

void RocksLogFile::Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  if (path_.empty() || level < GetInfoLogLevel() || level == rocksdb::HEADER_LEVEL) return;
  char line[1024];
  const int n = std::vsnprintf(line, sizeof line, format, ap);
  size_t len = std::min<size_t>(n < 0 ? 0 : static_cast<size_t>(n), sizeof line - 1);
  while (len > 0 && line[len - 1] == '\n') --len;
  const std::time_t secs = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);

  std::lock_guard lock(mu_);
  if (file_ != nullptr && size_ > max_bytes_) {
    std::fclose(file_);
    file_ = nullptr;
  }
  if (file_ == nullptr) {
    std::error_code ec;
    size_ = fs::file_size(path_, ec);
    if (ec) size_ = 0;
    if (size_ > max_bytes_) {
      fs::rename(path_, path_ + ".old", ec);
      if (!ec) size_ = 0;
    }
    file_ = std::fopen(path_.c_str(), "a");
    if (file_ == nullptr) return;
  }
  const int written = std::fprintf(file_, "%s %s %.*s\n", stamp, level >= rocksdb::ERROR_LEVEL ? "error" : "warning",
                                   static_cast<int>(len), line);
  if (written > 0) size_ += static_cast<uint64_t>(written);
  std::fflush(file_);  // a full disk loses the line, not the process
}

}  // namespace noxsync
