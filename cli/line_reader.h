// LineReader: streams lines from a file descriptor with a fixed buffer, so a
// multi-gigabyte file never sits in memory. A line longer than the limit is
// reported as too long (its text cut) and reading goes on at the next line.
// Not thread-safe; owns nothing but its buffer (the fd stays the caller's).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace noxsync::cli {

class LineReader {
 public:
  // `stop`, when given, ends reading at a read() interrupted by a signal
  // once it is set (Ctrl-C on a terminal or a pipe that is not closing).
  LineReader(int fd, const std::atomic<bool>* stop = nullptr, size_t max_line = 1u << 20)
      : fd_(fd), max_line_(max_line), stop_(stop), buf_(1u << 20) {}

  // Next line without its "\n" / "\r\n", and the first without a UTF-8 byte
  // order mark. False at end of input or on a read error (then error() is
  // non-empty). *too_long: the line was cut.
  bool Next(std::string* line, bool* too_long);
  uint64_t line_number() const { return line_number_; }
  uint64_t bytes_read() const { return bytes_read_; }
  const std::string& error() const { return error_; }

 private:
  bool Fill();
  void Finish(std::string* line);
  int fd_;
  size_t max_line_;
  const std::atomic<bool>* stop_;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t line_number_ = 0;
  uint64_t bytes_read_ = 0;
  std::string error_;
};

}  // namespace noxsync::cli
