#include "cpu_dispatch.h"

#include <cstdlib>
#include <cstring>

namespace razer {

CpuIsa cpu_isa() {
  static const CpuIsa isa = [] {
    CpuIsa best = CpuIsa::portable;
#if RZ_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = CpuIsa::avx2;
    if (best == CpuIsa::avx2 && __builtin_cpu_supports("avx512f")) best = CpuIsa::avx512;
#endif
    const char* cap = std::getenv("RAZER_CPU_ISA");
    if (cap != nullptr) {
      CpuIsa want = best;
      if (std::strcmp(cap, "portable") == 0) want = CpuIsa::portable;
      else if (std::strcmp(cap, "avx2") == 0) want = CpuIsa::avx2;
      if (int(want) < int(best)) best = want;
    }
    return best;
  }();
  return isa;
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::avx512: return "AVX-512F";
    case CpuIsa::avx2: return "AVX2+FMA";
    default: return "portable";
  }
}

}  // namespace razer
