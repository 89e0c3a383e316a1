// RocksLogFile: RocksDB's own warnings and errors (write stalls, background
// I/O errors), appended to LOG in the store's folder as RocksDB's file logger
// did. That logger ends the process (an assertion Debian's build of RocksDB
// keeps) on the first line written after one failed, so a disk that filled
// up turned `noxsync backup`'s "disk full" into SIGABRT; this one loses the
// line. What a failure means reaches the user through the Status of the call
// that failed, so nothing here goes to the console. An empty path keeps
// nothing (readers: their instance lives in a scratch folder removed at
// close). The file is kept to about max_bytes; the one before is LOG.old.
#pragma once

#include <rocksdb/env.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace noxsync {

class RocksLogFile : public rocksdb::Logger {
 public:
  explicit RocksLogFile(std::string path, uint64_t max_bytes = 16u << 20);
  ~RocksLogFile() override;
  RocksLogFile(const RocksLogFile&) = delete;
  RocksLogFile& operator=(const RocksLogFile&) = delete;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override;

 private:
  const std::string path_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  std::FILE* file_ = nullptr;
  uint64_t size_ = 0;  // of the file open, as far as this process wrote it
};

}  // namespace noxsync
