// ChangeCursor: where a poller resumes reading a backend's changed tickets,
// and which versions it has already handled at that instant.
//
// Backends' change clocks are coarse (Jira's JQL is minute-granular and read
// in the API user's time zone; ServiceNow's sys_updated_on is to the second),
// so adapters query with an overlap and the same ticket version comes back on
// the next poll. The cursor keeps the (key, version) pairs seen at its own
// instant, so a ticket is handled once per version and none is skipped.
// Not thread-safe; one per backend poller.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "sync/backend.h"

namespace noxsync {

class ChangeCursor {
 public:
  explicit ChangeCursor(int64_t since_us = 0) : since_us_(since_us) {}

  // Where the next poll starts: ChangedSince(since_us(), ...).
  int64_t since_us() const { return since_us_; }

  // True the first time this version of the ticket is seen; false for a
  // repeat (overlap, or a ticket that moved between pages).
  bool Accept(const Ticket& ticket);

  // After every page of a poll was handled: move the cursor to the latest
  // update seen. A poll that failed midway is not committed, and its tickets
  // come back next time (handling a ticket version must be idempotent).
  void Commit();

  // After a poll that started at time P, the cursor may move to P minus a
  // margin for clock skew and search-index lag even when nothing changed:
  // otherwise a burst of changes at the cursor is read again by every poll
  // while the backend is quiet. Only moves forward. Versions seen at the old
  // instant are forgotten; seeing one again is harmless (the engine compares
  // versions with what it recorded).
  void AdvanceTo(int64_t us) {
    if (us > since_us_) {
      since_us_ = us;
      at_since_.clear();
    }
  }

  // One line, for the meta column family: "<since_us> <key>\x1f<version>...".
  std::string Encode() const;
  static bool Decode(std::string_view text, ChangeCursor* out);

 private:
  using Seen = std::set<std::pair<std::string, std::string>>;
  int64_t since_us_;
  Seen at_since_;          // versions whose update time == since_us_
  Seen pending_;           // accepted in this poll
  int64_t pending_max_us_ = INT64_MIN;
  Seen pending_at_max_;
};

}  // namespace noxsync
