#include "service/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <vector>

namespace noxsync::service {
namespace {

TEST(WorkQueue, RunsJobsInOrderOffTheCallersThread) {
  WorkQueue q("test-work", 4);
  std::vector<int> order;
  std::promise<std::thread::id> ran_on;
  std::promise<void> done;
  ASSERT_TRUE(q.TryPost([&](bool run) {
    EXPECT_TRUE(run);
    ran_on.set_value(std::this_thread::get_id());
    order.push_back(1);
  }));
  ASSERT_TRUE(q.TryPost([&](bool run) {
    EXPECT_TRUE(run);
    order.push_back(2);
    done.set_value();
  }));
  done.get_future().wait();
  EXPECT_NE(ran_on.get_future().get(), std::this_thread::get_id());
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(WorkQueue, RefusesAJobWhenFullAndCancelsWaitingJobsOnStop) {
  WorkQueue q("test-work", 2);
  std::promise<void> started, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran{0}, cancelled{0};
  // The first job holds the thread, so the next two wait.
  ASSERT_TRUE(q.TryPost([&](bool run) {
    EXPECT_TRUE(run);
    started.set_value();
    released.wait();
    ++ran;
  }));
  started.get_future().wait();
  auto count = [&](bool run) { ++(run ? ran : cancelled); };
  EXPECT_TRUE(q.TryPost(count));
  EXPECT_TRUE(q.TryPost(count));
  EXPECT_FALSE(q.TryPost(count)) << "a third waiting job is over max_waiting = 2";

  // Stop lets the running job finish and answers the waiting ones.
  std::thread stopper([&] { q.Stop(); });
  while (q.waiting() > 0) std::this_thread::yield();  // Stop has taken the waiting jobs
  release.set_value();
  stopper.join();
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(cancelled, 2);
  EXPECT_FALSE(q.TryPost(count)) << "nothing is taken after Stop";
  q.Stop();  // idempotent
}

}  // namespace
}  // namespace noxsync::service
