// The CUDA layer of the binding, behind an interface of plain types so that
// the rest of binding/ compiles the same with and without CUDA. Without
// RAZER_WITH_CUDA every function that would need a GPU throws ERR_NO_GPU.
// Nothing here touches JS; errors are Failures (ERR_CUDA, ERR_OOM, ...).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace razer::binding::gpu {

#if defined(RAZER_WITH_CUDA)
inline constexpr bool kCompiled = true;
#else
inline constexpr bool kCompiled = false;
#endif

// The SASS/PTX targets this build carries, e.g. {"sm_90a", "compute_120"}.
std::vector<std::string> CompiledTargets();
// cudaRuntimeGetVersion of the statically linked runtime (0 without CUDA).
int RuntimeVersion();

// What a cheap probe learns without creating a CUDA context.
struct ProbeResult {
  int driver_version = 0;   // 0: no libcuda.so.1 could be loaded
  int runtime_version = 0;
  int device_count = 0;
  std::string error;        // cudaGetDeviceCount's error name, when it failed
  std::string error_message;
  struct Device {
    int ordinal;
    std::string name;
    int major, minor;
    bool image_expected;    // a compiled target matches this compute capability
  };
  std::vector<Device> devices;
};
// Safe without a driver: the static runtime dlopens libcuda.so.1 and reports
// cudaErrorInsufficientDriver / cudaErrorNoDevice instead of crashing.
ProbeResult Probe();

struct DeviceInfo {
  int ordinal;
  std::string name;
  int major, minor;
  uint64_t total_memory, free_memory;
  bool kernels;             // cudaFuncGetAttributes found an image for this device
  std::string kernel_error; // why not, when !kernels
};
// Every visible device, with memory and kernel-image checks (creates contexts).
std::vector<DeviceInfo> Devices();

// Launches the probe kernel on `device` and waits; throws ERR_CUDA/ERR_ARCH.
void SelfTest(int device);

// Throws ERR_NO_GPU unless `device` is a visible device ordinal.
void CheckDevice(int device, const char* argument);

// Device memory, freed (cudaFree) when the last owner lets go: a tensor that
// is disposed while a copy is in flight keeps its memory until the copy ends.
class DeviceBuffer {
 public:
  // cudaMalloc + zero fill; ERR_OOM names the bytes asked and the device's free/total.
  static std::shared_ptr<DeviceBuffer> Allocate(int device, size_t bytes, const char* what);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  int device() const { return device_; }

  // Copies on the device's stream and waits for them (call off the JS thread
  // in async paths: copies from pageable memory block the caller).
  void CopyFromHost(const void* host, size_t bytes) const;
  void CopyToHost(void* host, size_t bytes) const;

 private:
  DeviceBuffer(int device, void* data, size_t bytes) : device_(device), data_(data), bytes_(bytes) {}
  int device_;
  void* data_;
  size_t bytes_;
};

}  // namespace razer::binding::gpu
