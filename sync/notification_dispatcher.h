// NotificationDispatcher: delivers notifications in the background, one
// worker thread and queue per channel, so a slow or failing channel holds up
// neither ticket sync nor the other channels.
//
// Post() never blocks: it queues for each channel that takes that kind of
// notification, or, when a channel's queue is full, drops the oldest and
// says so in the log. Each channel sends at most max_per_minute messages
// (a token bucket with a burst of the same size), waiting through the
// injected Sleeper. Failures are logged and reported to the result callback
// (the engine records notification.sent or backend.error from it); they are
// never retried beyond what the notifier itself retries.
//
// Thread-safe. Stop() (and the destructor) delivers what is queued until a
// deadline, then drops the rest with a log line naming how many.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sync/clock.h"
#include "sync/notifier.h"

namespace noxsync {

struct ChannelOptions {
  int max_per_minute = 20;
  size_t max_queued = 1000;
  std::set<Notification::Kind> kinds = {Notification::Kind::kTicketCreated, Notification::Kind::kSlaBreached,
                                        Notification::Kind::kEscalated, Notification::Kind::kTest};
};

class NotificationDispatcher {
 public:
  using ResultCallback = std::function<void(const Notification&, const std::string& channel, const Status&)>;

  // `clock` and `sleeper` must outlive the dispatcher.
  NotificationDispatcher(const Clock& clock, Sleeper& sleeper, ResultCallback on_result = {});
  ~NotificationDispatcher();

  // Before the first Post(). Starts the channel's worker.
  void AddChannel(std::unique_ptr<Notifier> notifier, ChannelOptions options);

  void Post(const Notification& n);

  // Stops taking notifications, delivers the queued ones until `deadline_us`
  // of the clock has passed, then returns. Idempotent.
  void Stop(int64_t drain_us = 5'000'000);

  struct Counts {
    uint64_t sent = 0, failed = 0, dropped = 0;
  };
  Counts counts() const;

 private:
  struct Channel;
  void Run(Channel* c);

  const Clock& clock_;
  Sleeper& sleeper_;
  ResultCallback on_result_;
  std::vector<std::unique_ptr<Channel>> channels_;
  mutable std::mutex counts_mu_;
  Counts counts_;
};

}  // namespace noxsync
