// The per-device context of the GPU operations (see gpu_context.h). Like
// gpu.cc's streams, the contexts and the pinned pool are process-wide and
// leaked on purpose: CUDA objects must not be destroyed from static
// destructors, when the driver may already be shutting down.
#include "gpu_context.h"

#if defined(RAZER_WITH_CUDA)
#include <string>
#include <vector>

namespace razer::binding::gpu {

namespace {

// Blocks of 2^c bytes, c >= 6.
constexpr int kMinClass = 6;
constexpr int kClasses = 64;

struct PinnedPool {
  std::mutex mu;
  std::vector<void*> free[kClasses];
};

PinnedPool& Pool() {
  static auto* pool = new PinnedPool();  // leaked on purpose, see above
  return *pool;
}

int SizeClass(size_t bytes) {
  int c = kMinClass;
  while (c < kClasses - 1 && (size_t{1} << c) < bytes) c++;
  return c;
}

DeviceContext& ContextFor(int device) {
  static std::mutex mu;
  static auto* contexts = new std::vector<std::unique_ptr<DeviceContext>>();  // leaked on purpose
  std::lock_guard<std::mutex> lock(mu);
  if (contexts->size() <= static_cast<size_t>(device)) contexts->resize(device + 1);
  std::unique_ptr<DeviceContext>& c = (*contexts)[device];
  if (!c) {
    auto fresh = std::make_unique<DeviceContext>();
    fresh->device = device;
    fresh->stream = Stream(device);
    c = std::move(fresh);
  }
  return *c;
}

DeviceContext& CheckedContext(int device, const char* argument) {
  CheckDevice(device, argument);
  return ContextFor(device);
}

}  // namespace

std::shared_ptr<PinnedBlock> LeasePinned(size_t bytes, int device) {
  const int c = SizeClass(bytes == 0 ? 1 : bytes);
  const size_t size = size_t{1} << c;
  PinnedPool& pool = Pool();
  void* data = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    if (!pool.free[c].empty()) {
      data = pool.free[c].back();
      pool.free[c].pop_back();
    }
  }
  if (data == nullptr) {
    // Portable: pinned for every device's context, whichever is current.
    Check(cudaSetDevice(device), "cudaSetDevice", device);
    Check(cudaHostAlloc(&data, size, cudaHostAllocPortable), "cudaHostAlloc (pinned staging)", device);
  }
  return std::shared_ptr<PinnedBlock>(new PinnedBlock(data, size), [c](PinnedBlock* block) {
    PinnedPool& p = Pool();
    {
      std::lock_guard<std::mutex> lock(p.mu);
      p.free[c].push_back(block->data());
    }
    delete block;
  });
}

void* GrowableBuffer::Ensure(size_t bytes, int device, cudaStream_t stream, const char* what) {
  if (bytes == 0) return nullptr;
  if (buffer_ && buffer_->bytes() >= bytes) return buffer_->data();
  size_t want = bytes;
  if (buffer_ && want < 2 * buffer_->bytes()) want = 2 * buffer_->bytes();  // amortize growth
  want = (want + 255) / 256 * 256;
  if (buffer_) {
    // Kernels queued earlier on this stream may still use the old buffer.
    Check(cudaStreamSynchronize(stream), what, device);
    buffer_.reset();
  }
  // Zero-filled on the stream (DeviceBuffer::Allocate), before any use.
  buffer_ = DeviceBuffer::Allocate(device, want, what);
  return buffer_->data();
}

DeviceContext::Slots DeviceContext::QuantizeSlots() {
  if (!slots_) slots_ = DeviceBuffer::Allocate(device, 256, "quantizeOnDevice (status words)");
  auto* base = static_cast<char*>(slots_->data());
  return {reinterpret_cast<unsigned long long*>(base), reinterpret_cast<float*>(base + 16)};
}

ContextLock::ContextLock(int device, const char* argument)
    : ctx_(CheckedContext(device, argument)), lock_(ctx_.mu) {
  Check(cudaSetDevice(device), "cudaSetDevice", device);
}

Completion::~Completion() {
  if (event_ != nullptr && cudaEventDestroy(event_) != cudaSuccess) cudaGetLastError();
}

void Completion::Record(cudaStream_t stream, int device) {
  device_ = device;
  if (event_ == nullptr) {
    Check(cudaEventCreateWithFlags(&event_, cudaEventBlockingSync | cudaEventDisableTiming), "cudaEventCreate",
          device);
  }
  Check(cudaEventRecord(event_, stream), "cudaEventRecord", device);
}

void Completion::Wait(const char* what) {
  if (event_ == nullptr) return;
  Check(cudaEventSynchronize(event_), what, device_);
}

}  // namespace razer::binding::gpu
#endif  // RAZER_WITH_CUDA
