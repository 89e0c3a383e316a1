#include "sync/notification_dispatcher.h"

#include <pthread.h>

#include <algorithm>

#include <spdlog/spdlog.h>

namespace noxsync {

const char* NotificationKindName(Notification::Kind kind) {
  switch (kind) {
    case Notification::Kind::kTicketCreated: return "ticket_created";
    case Notification::Kind::kSlaBreached: return "sla_breached";
    case Notification::Kind::kEscalated: return "escalated";
    case Notification::Kind::kTest: return "test";
  }
  return "?";
}

struct NotificationDispatcher::Channel {
  std::unique_ptr<Notifier> notifier;
  ChannelOptions options;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Notification> queue;
  bool stopping = false;
  int64_t stop_deadline_us = 0;
  double tokens = 0;
  int64_t refilled_us = 0;
  std::thread worker;
};

NotificationDispatcher::NotificationDispatcher(const Clock& clock, Sleeper& sleeper, ResultCallback on_result)
    : clock_(clock), sleeper_(sleeper), on_result_(std::move(on_result)) {}

NotificationDispatcher::~NotificationDispatcher() { Stop(); }

void NotificationDispatcher::AddChannel(std::unique_ptr<Notifier> notifier, ChannelOptions options) {
  auto c = std::make_unique<Channel>();
  c->notifier = std::move(notifier);
  c->options = options;
  c->options.max_per_minute = std::max(1, c->options.max_per_minute);
  c->tokens = c->options.max_per_minute;
  c->refilled_us = clock_.NowMicros();
  Channel* raw = c.get();
  channels_.push_back(std::move(c));
  raw->worker = std::thread([this, raw] {
    pthread_setname_np(pthread_self(), "nox-notify");
    Run(raw);
  });
}

void NotificationDispatcher::Post(const Notification& n) {
  for (auto& c : channels_) {
    if (!c->options.kinds.count(n.kind)) continue;
    std::lock_guard lock(c->mu);
    if (c->stopping) continue;
    if (c->queue.size() >= c->options.max_queued) {
      const Notification& old = c->queue.front();
      spdlog::error("notify {}: queue full ({} waiting); dropped the {} notification of incident {}",
                    c->notifier->channel(), c->queue.size(), NotificationKindName(old.kind), old.incident_id);
      c->queue.pop_front();
      std::lock_guard cl(counts_mu_);
      ++counts_.dropped;
    }
    c->queue.push_back(n);
    c->cv.notify_one();
  }
}

void NotificationDispatcher::Run(Channel* c) {
  const double per_us = c->options.max_per_minute / 60e6;
  for (;;) {
    Notification n;
    {
      std::unique_lock lock(c->mu);
      c->cv.wait(lock, [&] { return c->stopping || !c->queue.empty(); });
      if (c->queue.empty()) return;
      if (c->stopping && clock_.NowMicros() > c->stop_deadline_us) {
        spdlog::error("notify {}: stopping; {} notification(s) not delivered", c->notifier->channel(),
                      c->queue.size());
        std::lock_guard cl(counts_mu_);
        counts_.dropped += c->queue.size();
        c->queue.clear();
        return;
      }
      n = std::move(c->queue.front());
      c->queue.pop_front();
    }
    // Token bucket: refill by elapsed time, wait for one token.
    int64_t now = clock_.NowMicros();
    c->tokens = std::min<double>(c->options.max_per_minute, c->tokens + (now - c->refilled_us) * per_us);
    c->refilled_us = now;
    if (c->tokens < 1) {
      int64_t wait = static_cast<int64_t>((1 - c->tokens) / per_us) + 1;
      sleeper_.SleepFor(wait);
      int64_t after = clock_.NowMicros();
      c->tokens = std::min<double>(c->options.max_per_minute, c->tokens + (after - c->refilled_us) * per_us);
      c->refilled_us = after;
    }
    c->tokens -= 1;
    Status s = c->notifier->Send(n);
    {
      std::lock_guard cl(counts_mu_);
      ++(s.ok() ? counts_.sent : counts_.failed);
    }
    if (!s.ok()) {
      spdlog::error("notify {}: the {} notification of incident {} was not delivered: {}", c->notifier->channel(),
                    NotificationKindName(n.kind), n.incident_id, s.message());
    }
    if (on_result_) on_result_(n, c->notifier->channel(), s);
  }
}

void NotificationDispatcher::Stop(int64_t drain_us) {
  int64_t deadline = clock_.NowMicros() + drain_us;
  for (auto& c : channels_) {
    std::lock_guard lock(c->mu);
    if (!c->stopping) {
      c->stopping = true;
      c->stop_deadline_us = deadline;
    }
    c->cv.notify_one();
  }
  for (auto& c : channels_) {
    if (c->worker.joinable()) c->worker.join();
  }
}

NotificationDispatcher::Counts NotificationDispatcher::counts() const {
  std::lock_guard cl(counts_mu_);
  return counts_;
}

}  // namespace noxsync
