// A small process-wide thread pool with one primitive, parallel_for: chunks of
// an index range run on up to `threads` threads (the caller is one of them).
// Work is handed out chunk by chunk from an atomic counter; callers make the
// result of each chunk independent of which thread ran it, so outputs do not
// depend on the thread count.
#pragma once

#include <cstdint>
#include <functional>

namespace razer {

// threads <= 0: std::thread::hardware_concurrency() (at least 1).
int resolve_threads(int threads);

// Calls fn(begin, end) for consecutive chunks [begin, end) of [0, n), each
// `grain` long (the last one shorter), on up to `threads` threads, and
// returns when all are done. fn must not throw. If the pool is already busy
// (a call from another thread, or from inside fn), the chunks run on the
// calling thread.
void parallel_for(int64_t n, int64_t grain, int threads,
                  const std::function<void(int64_t, int64_t)>& fn);

}  // namespace razer
