// test_schedule.cpp — the lr / weight-decay multipliers of schedule.h at their key points (warmup start
// and end, midpoint, end), monotonicity where promised, BitNet's zero weight decay, and edge cases.
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.h"
#include "train/schedule.h"

using namespace bitlm;

static bool near(float a, double b, double tol = 1e-6) { return std::fabs((double)a - b) <= tol; }

static ScheduleConfig make(ScheduleKind kind, uint64_t total, uint64_t warmup, uint64_t warmdown = 0,
                           float min_frac = 0.1f) {
    ScheduleConfig s;
    s.kind = kind;
    s.total_steps = total;
    s.warmup_steps = warmup;
    s.warmdown_steps = warmdown;
    s.min_lr_frac = min_frac;
    return s;
}

// Non-increasing over [from, to].
static bool non_increasing(const ScheduleConfig &s, uint64_t from, uint64_t to, bool wd = false) {
    float prev = wd ? schedule_wd(s, from) : schedule_lr(s, from);
    for (uint64_t t = from + 1; t <= to; t++) {
        const float v = wd ? schedule_wd(s, t) : schedule_lr(s, t);
        if (v > prev) return false;
        prev = v;
    }
    return true;
}

static void test_warmup_common() {
    const ScheduleKind kinds[] = {ScheduleKind::Cosine, ScheduleKind::Warmdown, ScheduleKind::BitNet};
    for (ScheduleKind k : kinds) {
        const ScheduleConfig s = make(k, 1000, 100, 200);
        CHECK(near(schedule_lr(s, 1), 0.01));  // 1/warmup at step 1
        CHECK(near(schedule_lr(s, 50), 0.5));
        CHECK(schedule_lr(s, 100) == 1.0f);  // exactly 1 at warmup_steps
        for (uint64_t t = 1; t < 100; t++) CHECK(schedule_lr(s, t) < schedule_lr(s, t + 1));
        CHECK(schedule_wd(s, 1) == 1.0f && schedule_wd(s, 100) == 1.0f);
    }
}

static void test_cosine() {
    const ScheduleConfig s = make(ScheduleKind::Cosine, 1000, 100, 0, 0.1f);
    CHECK(near(schedule_lr(s, 550), 0.55));  // halfway through the cosine: (1 + min) / 2
    CHECK(near(schedule_lr(s, 1000), 0.1));
    CHECK(near(schedule_lr(s, 325), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.25))));
    CHECK(non_increasing(s, 100, 1000));
    CHECK(schedule_lr(s, 5000) == schedule_lr(s, 1000));  // beyond the end: the end
    for (uint64_t t = 1; t <= 1000; t += 37) CHECK(schedule_wd(s, t) == 1.0f);
    const ScheduleConfig z = make(ScheduleKind::Cosine, 1000, 0, 0, 0.0f);
    CHECK(schedule_lr(z, 1) > 0.99999f);  // no warmup: starts at (almost) 1
    CHECK(near(schedule_lr(z, 1000), 0.0));
}

static void test_warmdown() {
    const ScheduleConfig s = make(ScheduleKind::Warmdown, 1000, 100, 300, 0.0f);
    for (uint64_t t = 100; t <= 700; t++) CHECK(schedule_lr(s, t) == 1.0f);  // flat until the last 300
    CHECK(near(schedule_lr(s, 850), 0.5));
    CHECK(near(schedule_lr(s, 1000), 0.0));
    CHECK(non_increasing(s, 100, 1000));
    const ScheduleConfig f = make(ScheduleKind::Warmdown, 1000, 10, 300, 0.2f);
    CHECK(near(schedule_lr(f, 850), 0.6));
    CHECK(near(schedule_lr(f, 1000), 0.2));
    // warmdown_steps 0: no warmdown at all.
    const ScheduleConfig none = make(ScheduleKind::Warmdown, 1000, 10, 0, 0.2f);
    CHECK(schedule_lr(none, 1000) == 1.0f);
    // Overlapping warmup and warmdown: the smaller of the two.
    const ScheduleConfig o = make(ScheduleKind::Warmdown, 100, 80, 50, 0.0f);
    CHECK(near(schedule_lr(o, 40), 0.5));   // warmup 0.5 < warmdown 1
    CHECK(near(schedule_lr(o, 75), 0.5));   // warmdown (100-75)/50 = 0.5 < warmup 0.9375
    CHECK(near(schedule_lr(o, 100), 0.0));
    // warmdown longer than the run: the whole run.
    const ScheduleConfig l = make(ScheduleKind::Warmdown, 100, 0, 1000, 0.0f);
    CHECK(near(schedule_lr(l, 50), 0.5));
}

static void test_bitnet() {
    // warmup 100, mid = 100 + 900/2 = 550, total 1000.
    ScheduleConfig s = make(ScheduleKind::BitNet, 1000, 100, 0, 0.1f);
    const double end1 = s.stage1_end_frac, peak2 = s.stage2_peak_frac;
    CHECK(end1 > peak2 && peak2 > 0.0 && end1 < 1.0);  // a sharp drop at mid, to a lower peak
    CHECK(schedule_lr(s, 100) == 1.0f);
    CHECK(near(schedule_lr(s, 325), 1.0 + (end1 - 1.0) * 0.5));  // stage one, linear
    CHECK(near(schedule_lr(s, 550), end1));                      // end of stage one
    CHECK(near(schedule_lr(s, 551), peak2, 1e-4));               // the drop
    CHECK(schedule_lr(s, 550) - schedule_lr(s, 551) > 0.1f);
    CHECK(near(schedule_lr(s, 775), peak2 * (0.1 + 0.9 * 0.5)));  // stage two, cosine midpoint
    CHECK(near(schedule_lr(s, 1000), peak2 * 0.1));
    CHECK(non_increasing(s, 100, 1000));
    // Weight decay: 1 in warmup, cosine 1 -> 0 over stage one, exactly 0 in stage two.
    CHECK(schedule_wd(s, 50) == 1.0f);
    CHECK(schedule_wd(s, 100) == 1.0f);
    CHECK(near(schedule_wd(s, 325), 0.5));
    CHECK(near(schedule_wd(s, 550), 0.0));
    CHECK(non_increasing(s, 1, 1000, true));
    for (uint64_t t = 551; t <= 1200; t++) CHECK(schedule_wd(s, t) == 0.0f);
    // The fractions are configurable.
    s.stage1_end_frac = 0.6f;
    s.stage2_peak_frac = 0.25f;
    CHECK(near(schedule_lr(s, 550), 0.6));
    CHECK(near(schedule_lr(s, 551), 0.25, 1e-4));
    CHECK(near(schedule_lr(s, 1000), 0.025));
    // Tiny runs: stage one may be empty (mid == warmup), stage two never is.
    const ScheduleConfig t = make(ScheduleKind::BitNet, 11, 10, 0, 0.0f);
    CHECK(schedule_lr(t, 10) == 1.0f);
    CHECK(near(schedule_lr(t, 11), 0.0));
    CHECK(schedule_wd(t, 11) == 0.0f);
}

static void test_edge_cases() {
    const ScheduleKind kinds[] = {ScheduleKind::Cosine, ScheduleKind::Warmdown, ScheduleKind::BitNet};
    const uint64_t totals[] = {0, 1, 2, 3, 10, 1000};
    const uint64_t warmups[] = {0, 1, 5, 10, 999, 1000, 5000};
    const uint64_t warmdowns[] = {0, 1, 10, 5000};
    const float fracs[] = {0.0f, 0.1f, 1.0f, -3.0f, 7.0f, NAN, INFINITY};
    const uint64_t steps[] = {0, 1, 2, 3, 5, 9, 10, 11, 500, 999, 1000, 1001, 5000, UINT64_MAX};
    int bad = 0;
    for (ScheduleKind k : kinds)
        for (uint64_t total : totals)
            for (uint64_t warmup : warmups)
                for (uint64_t wdn : warmdowns)
                    for (float frac : fracs) {
                        ScheduleConfig s = make(k, total, warmup, wdn, frac);
                        s.stage1_end_frac = frac;
                        s.stage2_peak_frac = frac;
                        for (uint64_t step : steps) {
                            const float lr = schedule_lr(s, step), wd = schedule_wd(s, step);
                            if (!(lr >= 0.0f && lr <= 1.0f) || !(wd >= 0.0f && wd <= 1.0f)) bad++;
                        }
                    }
    CHECK_MSG(bad == 0, "%d multipliers non-finite or outside [0, 1]", bad);

    // step 0 behaves like step 1; warmup >= total: the whole run is warmup, reaching 1 at the end.
    const ScheduleConfig s = make(ScheduleKind::Cosine, 1000, 100);
    CHECK(schedule_lr(s, 0) == schedule_lr(s, 1));
    const ScheduleConfig w = make(ScheduleKind::Cosine, 50, 100);
    CHECK(near(schedule_lr(w, 25), 0.5));
    CHECK(schedule_lr(w, 50) == 1.0f && schedule_lr(w, 80) == 1.0f);
    // total 0: open-ended, warmup then 1.
    const ScheduleKind kinds2[] = {ScheduleKind::Cosine, ScheduleKind::Warmdown, ScheduleKind::BitNet};
    for (ScheduleKind k : kinds2) {
        const ScheduleConfig o = make(k, 0, 10, 5);
        CHECK(near(schedule_lr(o, 5), 0.5));
        CHECK(schedule_lr(o, 10) == 1.0f && schedule_lr(o, 1000000) == 1.0f);
        CHECK(schedule_wd(o, 1000000) == 1.0f);
    }
    // Out-of-range fractions clamp: min_lr_frac 7 -> 1 (flat), NaN -> 0.
    const ScheduleConfig hi = make(ScheduleKind::Cosine, 100, 0, 0, 7.0f);
    CHECK(schedule_lr(hi, 100) == 1.0f);
    const ScheduleConfig nan = make(ScheduleKind::Cosine, 100, 0, 0, NAN);
    CHECK(near(schedule_lr(nan, 100), 0.0));
}

int main() {
    test_warmup_common();
    test_cosine();
    test_warmdown();
    test_bitnet();
    test_edge_cases();
    return check::finish("test_schedule");
}
