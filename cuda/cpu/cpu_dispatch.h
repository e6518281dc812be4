// Runtime ISA dispatch for the host kernels. The addon must load on any
// x86-64 CPU, so every translation unit is compiled for the baseline ISA
// (plain x86-64, SSE2) and the hot loops are compiled again with
// __attribute__((target(...))) for AVX2 (+FMA in the GEMMs) and AVX-512F,
// picked at run time with __builtin_cpu_supports (which also checks that the
// OS saves the wider registers). Other architectures (arm64, MSVC builds) get
// only the portable path, which is plain C++ the compiler vectorizes
// (-DRZ_NO_X86_DISPATCH builds that configuration on x86 too).
#pragma once

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(RZ_NO_X86_DISPATCH)
#define RZ_X86_DISPATCH 1
#define RZ_TARGET_AVX2 __attribute__((target("avx2")))
#define RZ_TARGET_AVX2_FMA __attribute__((target("avx2,fma")))
#define RZ_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
// For auto-vectorized AVX-512 loops: GCC otherwise prefers 256-bit vectors.
#if defined(__clang__)
#define RZ_TARGET_AVX512_WIDE __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#else
#define RZ_TARGET_AVX512_WIDE \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,prefer-vector-width=512")))
#endif
#else
#define RZ_X86_DISPATCH 0
#endif

#if defined(_MSC_VER)
#define RZ_NOINLINE __declspec(noinline)
#else
#define RZ_NOINLINE __attribute__((noinline))
#endif

namespace razer {

enum class CpuIsa : int { portable = 0, avx2 = 1, avx512 = 2 };

// The best kernel set this CPU runs (checked once). RAZER_CPU_ISA=portable,
// avx2 or avx512 in the environment caps it (to test the other paths).
CpuIsa cpu_isa();
const char* cpu_isa_name(CpuIsa isa);

}  // namespace razer
