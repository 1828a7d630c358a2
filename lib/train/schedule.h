// schedule.h — learning-rate and weight-decay schedules as multipliers of the configured peaks.
// Every kind starts with the same linear warmup: lr = step / warmup_steps up to warmup_steps (so
// 1/warmup at step 1 and exactly 1 at warmup_steps; no warmup when warmup_steps is 0). After it:
//   Cosine:    lr follows a half cosine from 1 to min_lr_frac at total_steps. wd = 1.
//   Warmdown:  lr = 1, then falls linearly to min_lr_frac over the last warmdown_steps (the 16 MB
//              challenge's "linear warmdown"; 0 = no warmdown). Where warmup and warmdown overlap the
//              smaller of the two applies. wd = 1.
//   BitNet:    the BitNet b1.58 two-stage schedule ("The Era of 1-bit LLMs: Training Tips, Code and
//              FAQ"; the b1.58 2B4T report). The steps after warmup split in half at
//              mid = warmup + (total - warmup) / 2.
//                stage one  (warmup, mid]: lr falls linearly from 1 to stage1_end_frac (0.55);
//                                          wd follows a half cosine from 1 to 0;
//                stage two  (mid, total]:  lr drops at once to stage2_peak_frac (0.35) and follows a
//                                          half cosine down to stage2_peak_frac * min_lr_frac; wd = 0.
//              wd = 1 during warmup. The default fractions are roughly the proportions cited for the
//              2B4T run (peak 1.5e-3 decaying to 8e-4, then 5e-4 decaying toward 0).
// Edge cases: step 0 behaves like step 1 and step > total_steps like total_steps. warmup_steps >=
// total_steps means the whole run is warmup (lr reaches 1 at total_steps). total_steps = 0 means an
// open-ended run: warmup, then 1 (no decay; BitNet keeps stage one's starting point, wd = 1).
// Fractions outside [0, 1] (or NaN) are clamped (NaN -> 0); every result is finite and in [0, 1].
#pragma once
#include <stdint.h>

namespace bitlm {

enum class ScheduleKind : uint32_t { Cosine = 0, Warmdown = 1, BitNet = 2 };

struct ScheduleConfig {
    ScheduleKind kind = ScheduleKind::Cosine;
    uint64_t total_steps = 1000;
    uint64_t warmup_steps = 100;
    uint64_t warmdown_steps = 0;    // Warmdown only
    float min_lr_frac = 0.1f;       // floor of the lr multiplier at the end (BitNet: of stage two's peak)
    float stage1_end_frac = 0.55f;   // BitNet only: lr multiplier at the end of stage one
    float stage2_peak_frac = 0.35f;  // BitNet only: lr multiplier right after the mid-run drop
};

// Multipliers at `step` (1-based; step > total_steps behaves like total_steps).
float schedule_lr(const ScheduleConfig &s, uint64_t step);
float schedule_wd(const ScheduleConfig &s, uint64_t step);

}  // namespace bitlm
