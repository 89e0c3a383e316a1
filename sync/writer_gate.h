// WriterGate: lets the ingest path and the sync engine write one store from
// one process (noxsync serve) without either working from stale rows.
//
// Both keep caches of the derived rows (incidents, fingerprints) they read
// and write. The engine takes the gate only around the steps that change an
// incident (a poll's decisions, a status change, an auto-resolve; never
// around a call to a backend, nor for planning tickets or SLA checks, which
// touch no row the Ingestor reads); the Ingestor takes it around each
// batch's decisions, which are short. Holding it, the engine first waits
// until every queued ingest batch is durable and forgets its caches; when it
// lets go, the generation moves on and the Ingestor forgets its own caches
// before its next decision. Without a gate (the one-shot commands, which hold
// the store alone) neither waits.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace noxsync {

class WriterGate {
 public:
  void lock() { mu_.lock(); }
  // Called by the engine when it lets go after writing.
  void unlock_after_write() {
    generation_.fetch_add(1, std::memory_order_release);
    mu_.unlock();
  }
  void unlock() { mu_.unlock(); }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  std::mutex mu_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace noxsync
