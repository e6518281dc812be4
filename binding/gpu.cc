// The CUDA layer (see gpu.h). Global state (per-device streams, cached device
// properties) is process-wide, created lazily behind one mutex, and leaked on
// purpose: CUDA objects must not be destroyed from static destructors, when
// the driver may already be shutting down.
#include "gpu.h"

#include "errors.h"

#include <sstream>

#if defined(RAZER_WITH_CUDA)
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "cuda_error_codes.h"
#include "gpu_cuda.h"
#include "probe.h"
#endif

namespace razer::binding::gpu {

#if !defined(RAZER_WITH_CUDA)

namespace {
[[noreturn]] void NoCuda(const char* what) {
  Fail("ERR_NO_GPU", std::string(what) +
                         ": this razer.node was built without CUDA (nvcc was not found, or "
                         "RAZER_CUDA_ARCHS=off, when it was compiled); only the CPU backend is available");
}
}  // namespace

std::vector<std::string> CompiledTargets() { return {}; }
int RuntimeVersion() { return 0; }
ProbeResult Probe() { return ProbeResult{}; }
std::vector<DeviceInfo> Devices() { NoCuda("devices()"); }
void SelfTest(int) { NoCuda("cudaSelfTest()"); }
void CheckDevice(int, const char* argument) { NoCuda(argument); }
std::shared_ptr<DeviceBuffer> DeviceBuffer::Allocate(int, size_t, const char* what) { NoCuda(what); }
DeviceBuffer::~DeviceBuffer() = default;
void DeviceBuffer::CopyFromHost(const void*, size_t) const { NoCuda("copy to device"); }
void DeviceBuffer::CopyToHost(void*, size_t) const { NoCuda("copy to host"); }

#else  // RAZER_WITH_CUDA

namespace {

struct CachedDevice {
  bool known = false;
  std::string name;
  int major = 0, minor = 0;
  cudaStream_t stream = nullptr;
};

struct State {
  std::mutex mu;
  bool counted = false;
  int count = 0;
  cudaError_t count_error = cudaSuccess;
  std::vector<CachedDevice> devices;
};

State& GlobalState() {
  static State* state = new State();  // leaked on purpose, see above
  return *state;
}

int DriverVersion() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) v = 0;
  return v;
}

// cudaGetDeviceCount once per process (it initializes the runtime; CUDA
// itself fixes the device set at that point, CUDA_VISIBLE_DEVICES included).
int DeviceCount(cudaError_t* error) {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.counted) {
    int n = 0;
    s.count_error = cudaGetDeviceCount(&n);
    if (s.count_error != cudaSuccess) {
      n = 0;
      cudaGetLastError();  // not sticky; keep later calls clean
    }
    s.count = n;
    s.devices.resize(n);
    s.counted = true;
  }
  if (error != nullptr) *error = s.count_error;
  return s.count;
}

// Name and compute capability, queried once (no context needed).
const CachedDevice& Describe(int device) {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  CachedDevice& d = s.devices.at(device);
  if (!d.known) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device) == cudaSuccess) {
      d.name = prop.name;
      d.major = prop.major;
      d.minor = prop.minor;
    } else {
      cudaGetLastError();
      d.name = "unknown device";
    }
    d.known = true;
  }
  return d;
}

std::string Context(int device) {
  std::ostringstream os;
  if (device >= 0 && device < DeviceCount(nullptr)) {
    const CachedDevice& d = Describe(device);
    os << "device " << device << ": " << d.name << ", compute capability " << d.major << "." << d.minor << "; ";
  }
  os << "CUDA driver " << CudaVersionString(DriverVersion()) << ", runtime " << CudaVersionString(RuntimeVersion());
  return os.str();
}


}  // namespace

// ThrowCuda, Check and Stream are shared with the GPU operations (gpu_cuda.h).
[[noreturn]] void ThrowCuda(const char* what, cudaError_t err, int device) {
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  std::ostringstream os;
  os << what << " failed: " << cudaGetErrorName(err) << " (" << cudaGetErrorString(err) << ") [" << Context(device)
     << "]";
  Fail(CudaErrorCode(err), os.str());
}

void Check(cudaError_t err, const char* what, int device) {
  if (err != cudaSuccess) ThrowCuda(what, err, device);
}

// The device's stream, created at first use. Non-blocking: it does not
// synchronize with the legacy default stream other libraries may use.
cudaStream_t Stream(int device) {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  CachedDevice& d = s.devices.at(device);
  if (d.stream == nullptr) {
    Check(cudaSetDevice(device), "cudaSetDevice", -1);
    cudaStream_t stream = nullptr;
    Check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags", -1);
    d.stream = stream;
  }
  return d.stream;
}

namespace {

// Waits for the work enqueued on `stream` so far (and only that), yielding the
// CPU instead of spinning: this runs on a libuv pool thread.
void WaitFor(cudaStream_t stream, int device, const char* what) {
  cudaEvent_t event = nullptr;
  Check(cudaEventCreateWithFlags(&event, cudaEventBlockingSync | cudaEventDisableTiming), "cudaEventCreate", device);
  cudaError_t err = cudaEventRecord(event, stream);
  if (err == cudaSuccess) err = cudaEventSynchronize(event);
  cudaEventDestroy(event);
  Check(err, what, device);
}

// Which compiled targets can run on compute capability major.minor: an `a`
// cubin on exactly that one, a plain cubin on the same major with a minor at
// least its own, PTX on anything at least as new (JIT).
bool ImageExpected(int major, int minor) {
  const int cc = major * 10 + minor;
  for (const std::string& t : CompiledTargets()) {
    bool ptx = t.rfind("compute_", 0) == 0;
    std::string num = t.substr(ptx ? 8 : 3);
    bool specific = !num.empty() && num.back() == 'a';
    if (specific) num.pop_back();
    int target = std::atoi(num.c_str());
    if (ptx ? cc >= target : specific ? cc == target : (cc / 10 == target / 10 && cc >= target)) return true;
  }
  return false;
}

// Copies between the device and pageable memory (JS ArrayBuffers) above
// kStagedFrom bytes go through a pair of pinned chunks: the DMA then runs at
// pinned speed and overlaps the CPU's memcpy of the other chunk (the driver's
// own pageable path reached 0.8 GB/s device-to-host on an H100). Each copy
// leases a pair from its device's pool; pairs are made on demand (one per
// concurrent copy, at most the libuv pool size) and kept for the process.
constexpr size_t kChunk = size_t{8} << 20;
constexpr size_t kStagedFrom = size_t{1} << 20;

struct Staging {
  void* buffer[2] = {nullptr, nullptr};
  cudaEvent_t done[2] = {nullptr, nullptr};
};

struct StagingPool {
  std::mutex mu;
  std::vector<Staging*> free;
};

StagingPool& PoolFor(int device) {
  static std::mutex mu;
  static auto* pools = new std::vector<std::unique_ptr<StagingPool>>();  // leaked on purpose
  std::lock_guard<std::mutex> lock(mu);
  if (pools->size() <= static_cast<size_t>(device)) pools->resize(device + 1);
  auto& pool = (*pools)[device];
  if (!pool) pool = std::make_unique<StagingPool>();
  return *pool;
}

class StagingLease {
 public:
  explicit StagingLease(int device) : device_(device), pool_(PoolFor(device)) {
    {
      std::lock_guard<std::mutex> lock(pool_.mu);
      if (!pool_.free.empty()) {
        staging_ = pool_.free.back();
        pool_.free.pop_back();
        return;
      }
    }
    auto fresh = std::make_unique<Staging>();
    cudaError_t err = cudaSuccess;
    for (int k = 0; k < 2 && err == cudaSuccess; k++) {
      err = cudaMallocHost(&fresh->buffer[k], kChunk);
      if (err == cudaSuccess) {
        err = cudaEventCreateWithFlags(&fresh->done[k], cudaEventBlockingSync | cudaEventDisableTiming);
      }
    }
    if (err != cudaSuccess) {
      for (int k = 0; k < 2; k++) {
        if (fresh->buffer[k] != nullptr) cudaFreeHost(fresh->buffer[k]);
        if (fresh->done[k] != nullptr) cudaEventDestroy(fresh->done[k]);
      }
      ThrowCuda("pinned staging buffers (cudaMallocHost)", err, device_);
    }
    staging_ = fresh.release();
  }
  // Waits for the lease's copies (an error may have left one in flight) before
  // the buffers can serve another copy.
  ~StagingLease() {
    for (int k = 0; k < 2; k++) {
      if (cudaEventSynchronize(staging_->done[k]) != cudaSuccess) cudaGetLastError();
    }
    std::lock_guard<std::mutex> lock(pool_.mu);
    pool_.free.push_back(staging_);
  }
  StagingLease(const StagingLease&) = delete;
  StagingLease& operator=(const StagingLease&) = delete;
  Staging& get() { return *staging_; }

 private:
  int device_;
  StagingPool& pool_;
  Staging* staging_ = nullptr;
};

}  // namespace

std::vector<std::string> CompiledTargets() {
  std::vector<std::string> out;
  std::stringstream ss(RAZER_CUDA_TARGETS);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int RuntimeVersion() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) v = 0;
  return v;
}

ProbeResult Probe() {
  ProbeResult r;
  r.runtime_version = RuntimeVersion();
  r.driver_version = DriverVersion();
  cudaError_t err = cudaSuccess;
  r.device_count = DeviceCount(&err);
  if (err != cudaSuccess) {
    r.error = cudaGetErrorName(err);
    r.error_message = cudaGetErrorString(err);
  }
  for (int i = 0; i < r.device_count; i++) {
    const CachedDevice& d = Describe(i);
    r.devices.push_back({i, d.name, d.major, d.minor, ImageExpected(d.major, d.minor)});
  }
  return r;
}

void CheckDevice(int device, const char* argument) {
  cudaError_t err = cudaSuccess;
  int n = DeviceCount(&err);
  if (n == 0) {
    std::ostringstream os;
    os << argument << ": no CUDA device is usable";
    if (err != cudaSuccess) os << " (" << cudaGetErrorName(err) << ": " << cudaGetErrorString(err) << ")";
    os << " [" << Context(-1) << "]";
    Fail("ERR_NO_GPU", os.str());
  }
  if (device < 0 || device >= n) {
    Fail("ERR_ARGUMENT", std::string(argument) + ": expected a device ordinal from 0 to " + std::to_string(n - 1) +
                             ", got " + std::to_string(device));
  }
}

std::vector<DeviceInfo> Devices() {
  CheckDevice(0, "devices()");
  std::vector<DeviceInfo> out;
  int n = DeviceCount(nullptr);
  for (int i = 0; i < n; i++) {
    const CachedDevice& d = Describe(i);
    DeviceInfo info{i, d.name, d.major, d.minor, 0, 0, false, ""};
    Check(cudaSetDevice(i), "cudaSetDevice", i);
    size_t free = 0, total = 0;
    Check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo", i);
    info.free_memory = free;
    info.total_memory = total;
    int version = 0;
    cudaError_t err = razer::cuda::probe_kernel_image(i, &version);
    info.kernels = err == cudaSuccess;
    if (!info.kernels) {
      info.kernel_error = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
      cudaGetLastError();
    }
    out.push_back(std::move(info));
  }
  return out;
}

void SelfTest(int device) {
  CheckDevice(device, "device");
  Check(razer::cuda::probe_launch(device, Stream(device)), "probe kernel launch", device);
}

std::shared_ptr<DeviceBuffer> DeviceBuffer::Allocate(int device, size_t bytes, const char* what) {
  CheckDevice(device, what);
  cudaStream_t stream = Stream(device);
  Check(cudaSetDevice(device), "cudaSetDevice", device);
  void* data = nullptr;
  cudaError_t err = cudaMalloc(&data, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    std::ostringstream os;
    os << what << ": out of device memory: asked for " << bytes << " bytes, " << free << " of " << total
       << " bytes free [" << Context(device) << "]";
    Fail("ERR_OOM", os.str());
  }
  Check(err, "cudaMalloc", device);
  std::shared_ptr<DeviceBuffer> buffer(new DeviceBuffer(device, data, bytes));
  // Zero fill, ordered before every later use of the buffer on this stream.
  Check(cudaMemsetAsync(data, 0, bytes, stream), "cudaMemsetAsync", device);
  return buffer;
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ == nullptr) return;
  // Errors here cannot be reported (this runs from dispose, finalizers and
  // teardown); a failed free of a sticky-error context is moot anyway.
  if (cudaSetDevice(device_) == cudaSuccess) cudaFree(data_);
  cudaGetLastError();
}

void DeviceBuffer::CopyFromHost(const void* host, size_t bytes) const {
  cudaStream_t stream = Stream(device_);
  Check(cudaSetDevice(device_), "cudaSetDevice", device_);
  const auto* src = static_cast<const uint8_t*>(host);
  auto* dst = static_cast<uint8_t*>(data_);
  if (bytes < kStagedFrom) {
    Check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (host to device)",
          device_);
    WaitFor(stream, device_, "copy to device");
    return;
  }
  StagingLease lease(device_);
  Staging& st = lease.get();
  const size_t chunks = (bytes + kChunk - 1) / kChunk;
  for (size_t i = 0; i < chunks; i++) {
    const size_t k = i & 1, offset = i * kChunk, n = std::min(kChunk, bytes - offset);
    // Chunk i - 2 used this buffer: its DMA must have read it.
    if (i >= 2) Check(cudaEventSynchronize(st.done[k]), "copy to device (staging)", device_);
    std::memcpy(st.buffer[k], src + offset, n);
    Check(cudaMemcpyAsync(dst + offset, st.buffer[k], n, cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync (host to device)", device_);
    Check(cudaEventRecord(st.done[k], stream), "cudaEventRecord", device_);
  }
  Check(cudaEventSynchronize(st.done[(chunks - 1) & 1]), "copy to device", device_);
}

void DeviceBuffer::CopyToHost(void* host, size_t bytes) const {
  cudaStream_t stream = Stream(device_);
  Check(cudaSetDevice(device_), "cudaSetDevice", device_);
  const auto* src = static_cast<const uint8_t*>(data_);
  auto* dst = static_cast<uint8_t*>(host);
  if (bytes < kStagedFrom) {
    Check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync (device to host)",
          device_);
    WaitFor(stream, device_, "copy to host");
    return;
  }
  StagingLease lease(device_);
  Staging& st = lease.get();
  const size_t chunks = (bytes + kChunk - 1) / kChunk;
  auto drain = [&](size_t i) {
    const size_t k = i & 1, offset = i * kChunk, n = std::min(kChunk, bytes - offset);
    Check(cudaEventSynchronize(st.done[k]), "copy to host", device_);
    std::memcpy(dst + offset, st.buffer[k], n);
  };
  for (size_t i = 0; i < chunks; i++) {
    const size_t k = i & 1, offset = i * kChunk, n = std::min(kChunk, bytes - offset);
    // This buffer held chunk i - 2, drained in the previous iteration.
    Check(cudaMemcpyAsync(st.buffer[k], src + offset, n, cudaMemcpyDeviceToHost, stream),
          "cudaMemcpyAsync (device to host)", device_);
    Check(cudaEventRecord(st.done[k], stream), "cudaEventRecord", device_);
    if (i >= 1) drain(i - 1);  // overlaps the DMA of chunk i
  }
  drain(chunks - 1);
}

#endif  // RAZER_WITH_CUDA

}  // namespace razer::binding::gpu
