// select_kernels.cpp — which NEON kernel table runs: on AArch64 the sdot table when the CPU reports the
// dot-product extension (Linux AT_HWCAP bit HWCAP_ASIMDDP), else the ARMv8.0 baseline; on ARMv7 the
// A32 NEON table (NEON is part of that target's -mfpu). Replaces platform/generic/default_kernels.cpp.
//
// Detection without a libc call: the library must not reference getauxval (tests/cross/
// freestanding_symbols.sh allows memcpy/memset/libgcc only), so on glibc we let the dynamic loader —
// or, in a static binary, the C runtime start-up — hand AT_HWCAP to a GNU IFUNC resolver, which is
// how glibc selects its own AArch64 routines. Elsewhere (musl, bare metal, other OSes) the baseline
// table is used unless the whole build already targets dotprod (__ARM_FEATURE_DOTPROD).
#include "kernels.h"

#if defined(__aarch64__) && defined(__linux__) && defined(__has_include)
#if __has_include(<features.h>)
#include <features.h>
#endif
#endif

namespace bitlm {
const bitlm_kernels *neon_kernels_baseline();
#if defined(__aarch64__)
const bitlm_kernels *neon_kernels_dot();
#endif
}  // namespace bitlm

namespace {

// (ARMv7 has no dot-product table: A32 SDOT needs ARMv8.2, not this target.)
#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
bool cpu_has_dotprod() { return true; }
#elif defined(__aarch64__) && defined(__linux__) && defined(__GLIBC__)
extern "C" {
typedef int (*bitlm_probe_fn)(void);
static int bitlm_dotprod_yes(void) { return 1; }
static int bitlm_dotprod_no(void) { return 0; }
// glibc calls AArch64 IFUNC resolvers with AT_HWCAP as the first argument; HWCAP_ASIMDDP is bit 20.
static bitlm_probe_fn bitlm_resolve_dotprod(uint64_t hwcap) {
    return (hwcap & (1ull << 20)) ? bitlm_dotprod_yes : bitlm_dotprod_no;
}
static int bitlm_has_dotprod(void) __attribute__((ifunc("bitlm_resolve_dotprod")));
}
bool cpu_has_dotprod() { return bitlm_has_dotprod() != 0; }
#elif defined(__aarch64__)
bool cpu_has_dotprod() { return false; }
#endif

}  // namespace

extern "C" const bitlm_kernels *bitlm_default_kernels(void) {
#if defined(__aarch64__)
    if (cpu_has_dotprod()) return bitlm::neon_kernels_dot();
#endif
    return bitlm::neon_kernels_baseline();
}

// Reference first, then the baseline NEON table, then (AArch64 with dotprod) the sdot table.
extern "C" uint32_t bitlm_kernel_table_count(void) {
#if defined(__aarch64__)
    if (cpu_has_dotprod()) return 3;
#endif
    return 2;
}

extern "C" const bitlm_kernels *bitlm_kernel_table(uint32_t index) {
    switch (index) {
        case 0: return bitlm_reference_kernels();
        case 1: return bitlm::neon_kernels_baseline();
#if defined(__aarch64__)
        case 2: return cpu_has_dotprod() ? bitlm::neon_kernels_dot() : nullptr;
#endif
        default: return nullptr;
    }
}
