// The pool behind parallel_for. Workers are created on first use (as many as
// the largest thread count asked for so far, minus the caller) and live for
// the life of the process; the pool is deliberately never destroyed, so no
// static-destruction-order problem arises when the addon unloads at exit.
#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace razer {

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? int(hw) : 1;
}

namespace {

struct Job {
  const std::function<void(int64_t, int64_t)>* fn = nullptr;
  int64_t n = 0, grain = 1, chunks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int> running{0};  // workers still inside this job
  int wanted = 0;               // how many workers take part

  void run() {
    for (;;) {
      const int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      const int64_t b = c * grain;
      (*fn)(b, std::min(n, b + grain));
    }
  }
};

class Pool {
 public:
  void run(int64_t n, int64_t grain, int threads,
           const std::function<void(int64_t, int64_t)>& fn) {
    const int64_t chunks = (n + grain - 1) / grain;
    const int helpers = int(std::min<int64_t>(threads, chunks)) - 1;
    std::unique_lock<std::mutex> busy(call_mutex_, std::try_to_lock);
    if (helpers <= 0 || !busy.owns_lock()) {
      for (int64_t b = 0; b < n; b += grain) fn(b, std::min(n, b + grain));
      return;
    }
    grow(helpers);
    Job job;
    job.fn = &fn;
    job.n = n;
    job.grain = grain;
    job.chunks = chunks;
    job.wanted = helpers;
    job.running.store(helpers);
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
    job.run();
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, [&] { return job.running.load() == 0; });
    job_ = nullptr;
  }

 private:
  void grow(int helpers) {
    std::lock_guard<std::mutex> lk(m_);
    while (int(workers_.size()) < helpers) {
      const int index = int(workers_.size());
      workers_.emplace_back([this, index] { loop(index); });
    }
  }

  void loop(int index) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      wake_.wait(lk, [&] { return generation_ != seen; });
      seen = generation_;
      Job* job = job_;
      if (job == nullptr || index >= job->wanted) continue;
      lk.unlock();
      job->run();
      lk.lock();
      // Decrement under the lock so the caller cannot miss the notification.
      if (job->running.fetch_sub(1) == 1) done_.notify_one();
    }
  }

  std::mutex call_mutex_;  // one parallel_for at a time
  std::mutex m_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  uint64_t generation_ = 0;
  Job* job_ = nullptr;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed (see above)
  return *p;
}

}  // namespace

void parallel_for(int64_t n, int64_t grain, int threads,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  pool().run(n, grain, resolve_threads(threads), fn);
}

}  // namespace razer
