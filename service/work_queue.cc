#include "service/work_queue.h"

#include <pthread.h>

namespace noxsync::service {

WorkQueue::WorkQueue(std::string thread_name, size_t max_waiting)
    : name_(std::move(thread_name)), max_waiting_(max_waiting), thread_([this] { Run(); }) {}

WorkQueue::~WorkQueue() { Stop(); }

bool WorkQueue::TryPost(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || waiting_.size() >= max_waiting_) return false;
    waiting_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

size_t WorkQueue::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

void WorkQueue::Stop() {
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    dropped.swap(waiting_);
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  for (auto& job : dropped) job(false);
}

void WorkQueue::Run() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return;
    Job job = std::move(waiting_.front());
    waiting_.pop_front();
    lock.unlock();
    job(true);
    lock.lock();
  }
}

}  // namespace noxsync::service
