#include "cli/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "sync/noxys_event.h"

namespace noxsync::cli {

bool LineReader::Fill() {
  if (eof_) return false;
  pos_ = end_ = 0;
  for (;;) {
    ssize_t n = ::read(fd_, buf_.data(), buf_.size());
    if (n < 0 && errno == EINTR) {
      if (stop_ != nullptr && stop_->load()) {
        eof_ = true;
        return false;
      }
      continue;
    }
    if (n < 0) {
      error_ = std::strerror(errno);
      eof_ = true;
      return false;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    end_ = static_cast<size_t>(n);
    bytes_read_ += end_;
    return true;
  }
}

// A file saved "as UTF-8" by some Windows editors and exporters starts with
// a byte order mark.
void LineReader::Finish(std::string* line) {
  ++line_number_;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  if (line_number_ == 1 && line->starts_with(kUtf8ByteOrderMark)) line->erase(0, kUtf8ByteOrderMark.size());
}

bool LineReader::Next(std::string* line, bool* too_long) {
  line->clear();
  *too_long = false;
  bool any = false;
  for (;;) {
    if (pos_ == end_ && !Fill()) break;
    any = true;
    const char* start = buf_.data() + pos_;
    const void* nl = std::memchr(start, '\n', end_ - pos_);
    size_t n = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : end_ - pos_;
    size_t room = max_line_ > line->size() ? max_line_ - line->size() : 0;
    if (n > room) *too_long = true;
    line->append(start, std::min(n, room));
    pos_ += n;
    if (nl) {
      ++pos_;
      Finish(line);
      return true;
    }
  }
  if (!any || (line->empty() && !*too_long)) return false;
  Finish(line);  // last line without a trailing newline
  return true;
}

}  // namespace noxsync::cli
