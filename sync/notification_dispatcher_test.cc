#include "sync/notification_dispatcher.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

namespace noxsync {
namespace {

// A notifier that records, can fail, and can be held to act slow.
class FakeNotifier final : public Notifier {
 public:
  explicit FakeNotifier(std::string channel) : channel_(std::move(channel)) {}
  const std::string& channel() const override { return channel_; }
  Status Send(const Notification& n) override {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !held_; });
    sent_.push_back(n.incident_id);
    cv_.notify_all();
    return fail_ ? Status::Unavailable("webhook down") : Status::Ok();
  }
  void Hold(bool held) {
    std::lock_guard lock(mu_);
    held_ = held;
    cv_.notify_all();
  }
  void Fail(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }
  bool WaitEntered(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_ >= n; });
  }
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return sent_.size() >= n; });
  }
  std::vector<std::string> sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  std::string channel_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool fail_ = false;
  size_t entered_ = 0;
  std::vector<std::string> sent_;
};

// Advances a ManualClock instead of sleeping; thread-safe.
class ClockSleeper final : public Sleeper {
 public:
  explicit ClockSleeper(ManualClock* clock) : clock_(clock) {}
  void SleepFor(int64_t us) override {
    std::lock_guard lock(mu_);
    sleeps_.push_back(us);
    clock_->Advance(us);
  }
  std::vector<int64_t> sleeps() {
    std::lock_guard lock(mu_);
    return sleeps_;
  }

 private:
  ManualClock* clock_;
  std::mutex mu_;
  std::vector<int64_t> sleeps_;
};

Notification N(std::string id, Notification::Kind kind = Notification::Kind::kTicketCreated) {
  Notification n;
  n.kind = kind;
  n.incident_id = std::move(id);
  return n;
}

TEST(NotificationDispatcher, PostNeverWaitsForASlowChannelAndOthersKeepGoing) {
  ManualClock clock(0);
  ClockSleeper sleeper(&clock);
  NotificationDispatcher d(clock, sleeper);
  auto* slow = new FakeNotifier("slack:slow");
  auto* fast = new FakeNotifier("teams:fast");
  slow->Hold(true);
  d.AddChannel(std::unique_ptr<Notifier>(slow), {});
  d.AddChannel(std::unique_ptr<Notifier>(fast), {});
  auto posted = std::async(std::launch::async, [&] {
    for (int i = 0; i < 5; ++i) d.Post(N("inc_" + std::to_string(i)));
  });
  ASSERT_EQ(posted.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  ASSERT_TRUE(fast->WaitFor(5));
  EXPECT_TRUE(slow->sent().empty());
  slow->Hold(false);
  ASSERT_TRUE(slow->WaitFor(5));
  EXPECT_EQ(slow->sent(), fast->sent());  // in order
}

TEST(NotificationDispatcher, EachChannelKeepsToItsRate) {
  ManualClock clock(0);
  ClockSleeper sleeper(&clock);
  NotificationDispatcher d(clock, sleeper);
  auto* slack = new FakeNotifier("slack:soc");
  ChannelOptions o;
  o.max_per_minute = 2;
  d.AddChannel(std::unique_ptr<Notifier>(slack), o);
  for (int i = 0; i < 4; ++i) d.Post(N("inc_" + std::to_string(i)));
  ASSERT_TRUE(slack->WaitFor(4));
  // A burst of two, then one every 30 s.
  auto sleeps = sleeper.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  for (int64_t s : sleeps) {
    EXPECT_GE(s, 29'900'000);
    EXPECT_LE(s, 30'100'000);
  }
}

TEST(NotificationDispatcher, FailuresAreReportedAndCountedNotRetriedForever) {
  ManualClock clock(0);
  ClockSleeper sleeper(&clock);
  std::mutex mu;
  std::vector<std::string> results;
  NotificationDispatcher d(clock, sleeper, [&](const Notification& n, const std::string& channel, const Status& s) {
    std::lock_guard lock(mu);
    results.push_back(channel + " " + n.incident_id + " " + (s.ok() ? "ok" : s.message()));
  });
  auto* slack = new FakeNotifier("slack:soc");
  slack->Fail(true);
  d.AddChannel(std::unique_ptr<Notifier>(slack), {});
  d.Post(N("inc_1"));
  ASSERT_TRUE(slack->WaitFor(1));
  d.Stop();
  EXPECT_EQ(d.counts().failed, 1u);
  std::lock_guard lock(mu);
  EXPECT_EQ(results, (std::vector<std::string>{"slack:soc inc_1 webhook down"}));
}

TEST(NotificationDispatcher, FullQueueDropsTheOldestAndSaysSo) {
  ManualClock clock(0);
  ClockSleeper sleeper(&clock);
  NotificationDispatcher d(clock, sleeper);
  auto* slack = new FakeNotifier("slack:soc");
  slack->Hold(true);
  ChannelOptions o;
  o.max_queued = 3;
  d.AddChannel(std::unique_ptr<Notifier>(slack), o);
  d.Post(N("inc_0"));
  ASSERT_TRUE(slack->WaitEntered(1));  // the worker holds inc_0
  for (int i = 1; i <= 5; ++i) d.Post(N("inc_" + std::to_string(i)));
  slack->Hold(false);
  ASSERT_TRUE(slack->WaitFor(4));
  d.Stop();
  EXPECT_EQ(slack->sent(), (std::vector<std::string>{"inc_0", "inc_3", "inc_4", "inc_5"}));
  EXPECT_EQ(d.counts().dropped, 2u);
}

TEST(NotificationDispatcher, ChannelsTakeOnlyTheirKindsAndStopDrains) {
  ManualClock clock(0);
  ClockSleeper sleeper(&clock);
  NotificationDispatcher d(clock, sleeper);
  auto* sla_only = new FakeNotifier("teams:managers");
  ChannelOptions o;
  o.kinds = {Notification::Kind::kSlaBreached};
  d.AddChannel(std::unique_ptr<Notifier>(sla_only), o);
  d.Post(N("inc_1", Notification::Kind::kTicketCreated));
  d.Post(N("inc_2", Notification::Kind::kSlaBreached));
  d.Stop();
  EXPECT_EQ(sla_only->sent(), (std::vector<std::string>{"inc_2"}));
  d.Post(N("inc_3", Notification::Kind::kSlaBreached));  // after Stop: ignored
  EXPECT_EQ(d.counts().sent, 1u);
}

}  // namespace
}  // namespace noxsync
