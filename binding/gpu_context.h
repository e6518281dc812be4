// The per-device context of the GPU operations (quantizeOnDevice,
// gemmW4A16Gpu, GpuWeight, GemmGraph). CUDA-only: included by the binding's
// CUDA code inside #if defined(RAZER_WITH_CUDA).
//
// Stream order is call order. Every operation enqueues its kernels on the
// device's one stream (gpu.cc's Stream) on the JS thread, during the call;
// only the wait for completion (an event) happens off the JS thread. So work
// that a later call queues (a GEMM reading what a quantize wrote, a toHost()
// copy) runs after it, whether or not the caller awaited the first Promise.
//
// The kernels' workspaces exist once per stream (quantize.cuh and gemm.cuh:
// "one workspace per stream"), made at first use and zero-filled once (the
// kernels leave them zeroed after each call). A sequence that uses them (or
// the context's other scratch) is enqueued under the context's mutex, so two
// JS threads (worker_threads share the process's streams) never interleave
// theirs; work on one stream runs in order, so a workspace is never used by
// two kernels at once.
#pragma once
#if defined(RAZER_WITH_CUDA)
#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>

#include "errors.h"
#include "gpu.h"
#include "gpu_cuda.h"
#include "jobs.h"

namespace razer::binding::gpu {

// Page-locked host memory (cudaHostAlloc, portable to every device) for the
// small transfers of a call (a status word read back, a static global scale
// or a bias uploaded): cudaMemcpyAsync then never blocks the JS thread, as it
// may with pageable memory. Leased from a process-wide pool of power-of-two
// blocks and returned when the last owner lets go; the pool keeps the blocks
// (cudaFreeHost can synchronize), so it holds at most what the most calls in
// flight at once needed.
class PinnedBlock {
 public:
  PinnedBlock(void* data, size_t bytes) : data_(data), bytes_(bytes) {}
  PinnedBlock(const PinnedBlock&) = delete;
  PinnedBlock& operator=(const PinnedBlock&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_;
  size_t bytes_;
};
// At least `bytes` (>= 1); ERR_OOM when the host cannot pin more memory.
std::shared_ptr<PinnedBlock> LeasePinned(size_t bytes, int device);

// A device buffer that grows on demand and never shrinks: the GEMM's split-K
// workspace and the staging area of a host bias, one of each per stream.
class GrowableBuffer {
 public:
  // A pointer to at least `bytes` zero-filled-once bytes (nullptr for 0).
  // Growing waits for the stream first (work queued earlier may still use
  // the old buffer), then frees it and allocates and zero-fills the new one
  // on the stream. Call under the context's lock.
  void* Ensure(size_t bytes, int device, cudaStream_t stream, const char* what);

 private:
  std::shared_ptr<DeviceBuffer> buffer_;
};

struct DeviceContext {
  std::mutex mu;
  int device = 0;
  cudaStream_t stream = nullptr;
  GrowableBuffer quantize_workspace;  // quantize.cuh's, self-cleaning
  GrowableBuffer gemm_workspace;      // gemm.cuh's split-K counters and partials, self-cleaning
  GrowableBuffer bias;                // a host bias, uploaded for one GEMM

  // Device words a quantize call uses, made at first use: the status (the
  // first non-finite index; each call sets it to ~0 first) and the slot of a
  // static global scale (each call that has one uploads it first). Call
  // under the lock.
  struct Slots {
    unsigned long long* status;
    float* static_scale;
  };
  Slots QuantizeSlots();

 private:
  std::shared_ptr<DeviceBuffer> slots_;
};

// Holds the device's context locked, with the device current on this thread.
// Checks the ordinal first (ERR_NO_GPU / ERR_ARGUMENT naming `argument`).
class ContextLock {
 public:
  ContextLock(int device, const char* argument);
  DeviceContext& context() { return ctx_; }

 private:
  DeviceContext& ctx_;
  std::lock_guard<std::mutex> lock_;
};

// An event recorded after a call's work, waited for without spinning
// (cudaEventBlockingSync: the thread sleeps until the GPU is done).
class Completion {
 public:
  Completion() = default;
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;
  // A pending event is released by CUDA once the device reaches it.
  ~Completion();
  // Creates the event (on the current device) and records it on `stream`.
  void Record(cudaStream_t stream, int device);
  // Blocks this thread until the work before Record is done; ERR_CUDA
  // (with `what`) if it failed. Waits for nothing if never recorded.
  void Wait(const char* what);

 private:
  cudaEvent_t event_ = nullptr;
  int device_ = 0;
};

// A Job whose work is queued on a device's stream when it is made (on the JS
// thread) and whose Run() waits for that work: the AsyncWorker of the
// Promise form waits off the JS thread, the Sync form on it.
class StreamJob : public Job {
 protected:
  // Runs `body(context)` under the device's lock, then records the
  // completion. A Failure while queuing is kept and thrown by WaitForStream,
  // so the Promise rejects (argument errors are found before this, and
  // throw); the completion is recorded even then, so that whatever the body
  // did queue is done before the job (and the memory it holds) goes away.
  template <typename Body>
  void Enqueue(int device, const char* argument, Body&& body) {
    try {
      ContextLock lock(device, argument);
      try {
        body(lock.context());
      } catch (const Failure& f) {
        failure_ = f;
      }
      done_.Record(lock.context().stream, device);
    } catch (const Failure& f) {
      if (!failure_) failure_ = f;
    }
  }
  // In Run(): waits for the stream work, then rethrows a queuing failure.
  void WaitForStream(const char* what) {
    if (failure_) {
      try {
        done_.Wait(what);
      } catch (const Failure&) {
        // the queuing failure is the one to report
      }
      throw *failure_;
    }
    done_.Wait(what);
  }
  // For the destructors of subclasses (which hold the memory the work uses):
  // waits for the work, errors ignored. Instant once Run() has waited; only
  // a job cancelled at environment teardown (Run() never called) waits here.
  void Drain() noexcept {
    try {
      done_.Wait("teardown");
    } catch (...) {
    }
  }

 private:
  Completion done_;
  std::optional<Failure> failure_;
};

}  // namespace razer::binding::gpu
#endif
