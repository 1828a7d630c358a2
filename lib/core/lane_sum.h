// lane_sum.h — long float sums (RMSNorm's sum of squares, softmax's denominator) in one fixed order
// that SIMD lanes can run: kSumLanes interleaved partial sums — lane l adds v[l], v[l+16], v[l+32], ...
// in index order, the last partial group going to lanes 0, 1, ... — then the lanes pairwise (lane l + 8
// into l, then l + 4, l + 2, l + 1). The inference forward (lib/model/forward.cpp) and the trainer's
// forward (lib/train/op_kernels.h) both sum this way, so they compute the same function.
//
// Why not one add chain in index order: it waits an add's latency per element. RMSNorm alone summed
// 5,376 elements a bench-180m layer serially on the main thread while the other threads waited;
// sixteen chains side by side took tg64 decode +5.8% at 2 threads (median of 25 paired runs). The
// order is the same on every target (GCC never reassociates without -ffast-math), so the bits are.
#pragma once
#include <stdint.h>

namespace bitlm {

constexpr uint32_t kSumLanes = 16;

// sum of v[i] (Square: of v[i] * v[i]) for i < n, in the order above.
template <class T, bool Square>
T lane_sum(const T *v, uint32_t n) {
    T acc[kSumLanes];
#pragma GCC unroll 16
    for (uint32_t l = 0; l < kSumLanes; l++) acc[l] = 0;
    const T *const end = v + n / kSumLanes * kSumLanes;
    for (; v < end; v += kSumLanes) {
#pragma GCC unroll 16
        for (uint32_t l = 0; l < kSumLanes; l++) acc[l] += Square ? v[l] * v[l] : v[l];
    }
    const uint32_t rest = n % kSumLanes;
#pragma GCC unroll 16
    for (uint32_t l = 0; l < kSumLanes; l++)
        if (l < rest) acc[l] += Square ? v[l] * v[l] : v[l];
#pragma GCC unroll 4
    for (uint32_t w = kSumLanes / 2; w > 0; w /= 2) {
#pragma GCC unroll 8
        for (uint32_t l = 0; l < w; l++) acc[l] += acc[l + w];
    }
    return acc[0];
}

}  // namespace bitlm
