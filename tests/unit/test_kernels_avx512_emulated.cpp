// test_kernels_avx512_emulated.cpp — the AVX-512 kernels against the reference on any x86-64 CPU: the
// same source, platform/x86/kernels_avx512.cpp, compiled here through SIMDe's portable versions of the
// intrinsics (header-only, Debian libsimde-dev). On AVX-512 CPUs test_kernels also checks the native
// build. Skipped without SIMDe or off x86-64.
#include <cstdio>

#if defined(__x86_64__) && __has_include(<simde/x86/avx512.h>)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <cstdint>
#include <cstring>
// What SIMDe 0.7.4 lacks, written plainly from the Intel definitions (masked lanes: zero on load,
// untouched on store, never dereferenced).
#ifndef __mmask16
typedef simde__mmask16 bitlm_mmask16;
typedef simde__mmask32 bitlm_mmask32;
typedef simde__mmask64 bitlm_mmask64;
#define __mmask16 bitlm_mmask16
#define __mmask32 bitlm_mmask32
#define __mmask64 bitlm_mmask64
#endif
#ifndef _MM_FROUND_NO_EXC
#define _MM_FROUND_NO_EXC SIMDE_MM_FROUND_NO_EXC
#endif
#ifndef _MM_FROUND_TO_NEAREST_INT
#define _MM_FROUND_TO_NEAREST_INT SIMDE_MM_FROUND_TO_NEAREST_INT
#endif
namespace emu {
template <class V, int N, class E, class M>
V maskz_load(M k, const void *p) {
    E lanes[N] = {};
    for (int i = 0; i < N; i++)
        if ((k >> i) & 1) std::memcpy(&lanes[i], (const E *)p + i, sizeof(E));
    V v;
    std::memcpy(&v, lanes, sizeof v);
    return v;
}
// f on each of the N lanes of a (elements In), giving a vector Out of N elements EOut.
template <class Out, class EOut, class EIn, int N, class V, class F>
__attribute__((always_inline)) inline Out map_lanes(V a, F f) {  // inlined: no 64-byte vector crosses a call
    EIn in[N];
    EOut out[sizeof(Out) / sizeof(EOut)] = {};
    std::memcpy(in, &a, sizeof in);
    for (int i = 0; i < N; i++) out[i] = f(in[i]);
    Out v;
    std::memcpy(&v, out, sizeof v);
    return v;
}
// The lanes of a (N elements E) whose bit is set in k, stored to p; the others untouched.
template <class E, int N, class V>
void mask_store(void *p, uint64_t k, V a) {
    E lanes[N];
    std::memcpy(lanes, &a, sizeof lanes);
    for (int i = 0; i < N; i++)
        if ((k >> i) & 1) std::memcpy((E *)p + i, &lanes[i], sizeof(E));
}
}  // namespace emu
#ifndef _mm512_maskz_loadu_epi8
#define _mm512_maskz_loadu_epi8(k, p) emu::maskz_load<simde__m512i, 64, int8_t>((uint64_t)(k), (p))
#endif
#ifndef _mm256_maskz_loadu_epi8
#define _mm256_maskz_loadu_epi8(k, p) emu::maskz_load<simde__m256i, 32, int8_t>((uint32_t)(k), (p))
#endif
#ifndef _mm512_maskz_loadu_epi32
#define _mm512_maskz_loadu_epi32(k, p) emu::maskz_load<simde__m512i, 16, int32_t>((uint32_t)(k), (p))
#endif
#ifndef _mm512_maskz_loadu_ps
#define _mm512_maskz_loadu_ps(k, p) emu::maskz_load<simde__m512, 16, float>((uint32_t)(k), (p))
#endif
#ifndef _mm512_cvttps_epi32  // NaN and out of range: the "integer indefinite" 0x80000000
#define _mm512_cvttps_epi32(a)                                                                      \
    emu::map_lanes<simde__m512i, int32_t, float, 16>((a), [](float f) {                            \
        return f >= -2147483648.0f && f < 2147483648.0f ? (int32_t)f : INT32_MIN;                   \
    })
#endif
#ifndef _mm512_cvtepi32_epi8
#define _mm512_cvtepi32_epi8(a) \
    emu::map_lanes<simde__m128i, int8_t, int32_t, 16>((a), [](int32_t d) { return (int8_t)(uint8_t)(uint32_t)d; })
#endif
#ifndef _mm512_cvtepi32_ps  // round to nearest, as cvtdq2ps under the default MXCSR
#define _mm512_cvtepi32_ps(a) emu::map_lanes<simde__m512, float, int32_t, 16>((a), [](int32_t d) { return (float)d; })
#endif
#ifndef _mm512_cvtph_ps  // exact, NaNs made quiet: what fp16.h's conversion does (checked against F16C)
#define _mm512_cvtph_ps(a) emu::map_lanes<simde__m512, float, uint16_t, 16>((a), [](uint16_t h) { return bitlm::f16_to_f32(h); })
#endif
#ifndef _mm_mask_storeu_epi8
#define _mm_mask_storeu_epi8(p, k, a) emu::mask_store<int8_t, 16>((p), (uint64_t)(k), (a))
#endif
#ifndef _mm512_mask_storeu_ps
#define _mm512_mask_storeu_ps(p, k, a) emu::mask_store<float, 16>((p), (uint64_t)(k), (a))
#endif
// Byte adds wrap mod 256 in hardware; SIMDe's portable version adds as signed char, which UBSan
// reports (check-sanitize). The kernels rely on the wrap (t*3 mod 256), so emulate it in unsigned.
template <class V>
V bitlm_emu_add_epi8(V a, V b) {
    uint8_t x[sizeof(V)], y[sizeof(V)];
    std::memcpy(x, &a, sizeof x);
    std::memcpy(y, &b, sizeof y);
    for (size_t i = 0; i < sizeof(V); i++) x[i] = (uint8_t)(x[i] + y[i]);
    std::memcpy(&a, x, sizeof a);
    return a;
}
#undef _mm512_add_epi8
#define _mm512_add_epi8(a, b) bitlm_emu_add_epi8<simde__m512i>((a), (b))
#undef _mm256_add_epi8
#define _mm256_add_epi8(a, b) bitlm_emu_add_epi8<simde__m256i>((a), (b))
#define BITLM_X86_INTRINSICS_INCLUDED
#define avx512_kernels avx512_kernels_emulated  // not the native table of libbitlm.a
#include "x86/kernels_avx512.cpp"
#undef avx512_kernels

#include "kernel_checks.h"

int main() {
    const bitlm_kernels *k = bitlm::x86::avx512_kernels_emulated();
    kernel_checks::check_kernel_table(k, /*against_naive=*/false);
    std::printf("kernels tested: %s (SIMDe emulation)\n", k->name);
    return check::finish("kernels_avx512_emulated");
}
#else
int main() {
    std::printf("skipped: SIMDe not installed (apt-get install libsimde-dev) or not x86-64\n");
    return 0;
}
#endif
