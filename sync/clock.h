// Clock: where noxsync logic reads the time. Injected everywhere so tests and
// the demo can run SLA clocks forward without sleeping. Implementations must
// be safe to call from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace noxsync {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch, UTC.
  virtual int64_t NowMicros() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMicros() const override;
};

// A clock that moves only when told to; for tests and the accelerated demo.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_us) : now_(start_us) {}
  int64_t NowMicros() const override { return now_.load(); }
  void Set(int64_t us) { now_.store(us); }
  void Advance(int64_t us) { now_.fetch_add(us); }

 private:
  std::atomic<int64_t> now_;
};

// Sleeper: how code that must wait (retry backoff, Retry-After) waits. Tests
// pass one that records the wait and moves a ManualClock instead.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepFor(int64_t micros) = 0;
};

class SystemSleeper final : public Sleeper {
 public:
  void SleepFor(int64_t micros) override;
};

}  // namespace noxsync
