// select_kernels.cpp — which kernel tables this x86-64 CPU can run, found with CPUID + XGETBV
// (no libgcc CPU-model constructor, no environment: tools pick a table by name, bitlm_kernel_table).
// Compiled with baseline x86-64 flags, so it runs on every CPU.
#include <cpuid.h>
#include <stdint.h>
#include "x86/kernels_x86.h"

namespace bitlm {
namespace x86 {
namespace {

struct Features {
    bool avx2 = false;
    bool avx512 = false;
};

uint64_t xgetbv0() {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

// Computed on every call: callers ask at open time and in tests, never in a hot loop, and there is
// no static state to initialise (or race on).
Features detect() {
    Features f;
    uint32_t a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return f;
    const uint64_t xcr0 = xgetbv0();
    const bool ymm_state = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
    const bool zmm_state = ymm_state && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
    if (__get_cpuid_max(0, nullptr) < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    const bool avx2 = (b >> 5) & 1;
    const bool avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    const bool avx512vnni = (c >> 11) & 1;
    f.avx2 = ymm_state && avx2;
    f.avx512 = f.avx2 && zmm_state && avx512f && avx512bw && avx512vl && avx512vnni;
    return f;
}

}  // namespace

bool cpu_has_avx2() { return detect().avx2; }
bool cpu_has_avx512() { return detect().avx512; }

}  // namespace x86
}  // namespace bitlm

// Tables in order reference, avx2, avx512 (those this CPU runs); the default is the last: the fastest.
extern "C" uint32_t bitlm_kernel_table_count(void) {
    const bitlm::x86::Features f = bitlm::x86::detect();
    return 1u + (f.avx2 ? 1u : 0u) + (f.avx512 ? 1u : 0u);
}

extern "C" const bitlm_kernels *bitlm_kernel_table(uint32_t index) {
    const bitlm::x86::Features f = bitlm::x86::detect();
    const bitlm_kernels *list[3];
    uint32_t n = 0;
    list[n++] = bitlm_reference_kernels();
    if (f.avx2) list[n++] = bitlm::x86::avx2_kernels();
    if (f.avx512) list[n++] = bitlm::x86::avx512_kernels();
    return index < n ? list[index] : nullptr;
}

extern "C" const bitlm_kernels *bitlm_default_kernels(void) {
    return bitlm_kernel_table(bitlm_kernel_table_count() - 1);
}
