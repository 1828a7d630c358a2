// schedule.cpp — the lr and weight-decay multipliers of schedule.h: linear warmup, then cosine, linear
// warmdown or BitNet's two stages. Step fractions are formed in double, cosines come from det_sincosf.
#include "train/schedule.h"

#include "core/detmath.h"

namespace bitlm {
namespace {

constexpr float kPi = 3.14159265358979f;

// Into [0, 1]; NaN -> 0 (both comparisons fail for NaN).
inline float clamp01(float x) { return x >= 0.0f ? (x <= 1.0f ? x : 1.0f) : 0.0f; }

// num / den in [0, 1] for 0 <= num <= den, den > 0.
inline float fraction(uint64_t num, uint64_t den) { return (float)((double)num / (double)den); }

// Half cosine from 1 (t = 0) down to 0 (t = 1).
inline float half_cosine(float t) {
    float s, c;
    det_sincosf(kPi * t, &s, &c);
    return clamp01(0.5f * (1.0f + c));
}

// The step the formulas see, and the warmup length they use (both resolved once, here, so no formula
// below can meet a zero denominator: every division is by a span that was checked to be non-empty).
struct Steps {
    uint64_t s;       // 1 <= s, and s <= total when total > 0
    uint64_t total;   // 0 = open-ended
    uint64_t warmup;  // <= total when total > 0
};

Steps resolve(const ScheduleConfig &c, uint64_t step) {
    Steps r;
    r.total = c.total_steps;
    r.s = step == 0 ? 1 : step;
    r.warmup = c.warmup_steps;
    if (r.total > 0) {
        if (r.s > r.total) r.s = r.total;
        if (r.warmup > r.total) r.warmup = r.total;
    }
    return r;
}

// Linear warmup: s / warmup up to warmup, then 1.
inline float warmup_mult(const Steps &st) { return st.s >= st.warmup ? 1.0f : fraction(st.s, st.warmup); }

// True once the run is past warmup and has steps left to shape (total known and beyond warmup).
inline bool shaped(const Steps &st) { return st.total > 0 && st.s > st.warmup; }

// BitNet's midpoint: the end of stage one.
inline uint64_t bitnet_mid(const Steps &st) { return st.warmup + (st.total - st.warmup) / 2; }

float cosine_lr(const ScheduleConfig &c, const Steps &st) {
    if (!shaped(st)) return warmup_mult(st);
    const float floor = clamp01(c.min_lr_frac);
    // s in (warmup, total], so total > warmup and the span is >= 1.
    const float t = fraction(st.s - st.warmup, st.total - st.warmup);
    return floor + (1.0f - floor) * half_cosine(t);
}

float warmdown_lr(const ScheduleConfig &c, const Steps &st) {
    const float up = warmup_mult(st);
    if (st.total == 0) return up;
    const uint64_t span = c.warmdown_steps < st.total ? c.warmdown_steps : st.total;
    const uint64_t start = st.total - span;  // warmdown covers (start, total]
    if (span == 0 || st.s <= start) return up;
    const float floor = clamp01(c.min_lr_frac);
    const float down = floor + (1.0f - floor) * fraction(st.total - st.s, span);
    return down < up ? down : up;
}

float bitnet_lr(const ScheduleConfig &c, const Steps &st) {
    if (!shaped(st)) return warmup_mult(st);
    const uint64_t mid = bitnet_mid(st);
    if (st.s <= mid) {
        // Stage one: s in (warmup, mid], so mid > warmup.
        const float end1 = clamp01(c.stage1_end_frac);
        return 1.0f + (end1 - 1.0f) * fraction(st.s - st.warmup, mid - st.warmup);
    }
    // Stage two: s in (mid, total], so total > mid.
    const float peak2 = clamp01(c.stage2_peak_frac);
    const float floor = clamp01(c.min_lr_frac);
    const float t = fraction(st.s - mid, st.total - mid);
    return peak2 * (floor + (1.0f - floor) * half_cosine(t));
}

float bitnet_wd(const Steps &st) {
    if (!shaped(st)) return 1.0f;
    const uint64_t mid = bitnet_mid(st);
    if (st.s > mid) return 0.0f;  // stage two: weight decay off, exactly
    return half_cosine(fraction(st.s - st.warmup, mid - st.warmup));
}

}  // namespace

float schedule_lr(const ScheduleConfig &s, uint64_t step) {
    const Steps st = resolve(s, step);
    float lr;
    switch (s.kind) {
        case ScheduleKind::Warmdown: lr = warmdown_lr(s, st); break;
        case ScheduleKind::BitNet: lr = bitnet_lr(s, st); break;
        case ScheduleKind::Cosine:
        default: lr = cosine_lr(s, st); break;
    }
    return clamp01(lr);
}

float schedule_wd(const ScheduleConfig &s, uint64_t step) {
    if (s.kind != ScheduleKind::BitNet) return 1.0f;
    return clamp01(bitnet_wd(resolve(s, step)));
}

}  // namespace bitlm
