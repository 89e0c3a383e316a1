// WorkQueue: one thread for requests that take seconds (a report over a
// million events), so they run off the HTTP server's I/O threads and the
// webhook keeps being answered while they compute. Bounded: a job offered
// when `max_waiting` jobs already wait is refused, and the caller answers
// 503 with Retry-After instead of letting a queue of reports grow.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace noxsync::service {

class WorkQueue {
 public:
  // A job runs once: run(true) on the queue's thread, or run(false) from
  // Stop() when it was still waiting, so it can answer "shutting down".
  using Job = std::function<void(bool run)>;

  // `thread_name` (at most 15 characters) shows in top -H and perf.
  WorkQueue(std::string thread_name, size_t max_waiting);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // False, without taking the job, when the queue is full or stopping.
  bool TryPost(Job job);

  // Jobs waiting, not counting the one running.
  size_t waiting() const;

  // Lets the job in progress finish, calls every waiting job with false,
  // and joins the thread. Idempotent.
  void Stop();

 private:
  void Run();

  const std::string name_;
  const size_t max_waiting_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> waiting_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace noxsync::service
