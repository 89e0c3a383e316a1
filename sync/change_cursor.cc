#include "sync/change_cursor.h"

#include <charconv>

namespace noxsync {

bool ChangeCursor::Accept(const Ticket& t) {
  std::pair<std::string, std::string> id{t.key, t.version};
  if (t.updated_us < since_us_) return false;  // before the cursor: handled by an earlier poll
  if (t.updated_us == since_us_ && at_since_.count(id)) return false;
  if (!pending_.insert(id).second) return false;
  if (t.updated_us > pending_max_us_) {
    pending_max_us_ = t.updated_us;
    pending_at_max_.clear();
  }
  if (t.updated_us == pending_max_us_) pending_at_max_.insert(std::move(id));
  return true;
}

void ChangeCursor::Commit() {
  if (pending_max_us_ > since_us_) {
    since_us_ = pending_max_us_;
    at_since_ = std::move(pending_at_max_);
  } else if (pending_max_us_ == since_us_) {
    at_since_.merge(pending_at_max_);
  }
  pending_.clear();
  pending_at_max_.clear();
  pending_max_us_ = INT64_MIN;
}

std::string ChangeCursor::Encode() const {
  std::string out = std::to_string(since_us_);
  for (const auto& [key, version] : at_since_) {
    out += ' ';
    out += key;
    out += '\x1f';
    out += version;
  }
  return out;
}

bool ChangeCursor::Decode(std::string_view text, ChangeCursor* out) {
  size_t sp = text.find(' ');
  std::string_view num = text.substr(0, sp);
  int64_t since = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), since);
  if (ec != std::errc() || p != num.data() + num.size()) return false;
  ChangeCursor c(since);
  while (sp != std::string_view::npos) {
    size_t next = text.find(' ', sp + 1);
    std::string_view item = text.substr(sp + 1, next == std::string_view::npos ? next : next - sp - 1);
    size_t us = item.find('\x1f');
    if (us == std::string_view::npos) return false;
    c.at_since_.emplace(std::string(item.substr(0, us)), std::string(item.substr(us + 1)));
    sp = next;
  }
  *out = std::move(c);
  return true;
}

}  // namespace noxsync
