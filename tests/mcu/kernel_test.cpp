// kernel_test.cpp — on-target kernel test firmware: every kernel table this Cortex-M build has
// (bitlm_kernel_table) must equal the portable reference (bitlm_reference_kernels) bit for bit.
// Built and run under qemu-system-arm by tests/cross/mcu_kernels.sh (make -C tests/mcu BOARD=...).
//
// With a fixed PRNG it builds random weight matrices at awkward sizes — cols 1, 5, 8, 31, 32, 33, 159,
// 160, 161, 255, 320, 1000 (and 1500, 2600: rows longer than the DSP kernels' column window), rows
// 1, 3, 17, tensor / row / group scales (32, 64, 96, and 288, whose lcm with 160 exceeds the window),
// 1..3 tokens, row sub-ranges, padded row strides, random bytes in the ternary padding digits — and
// compares every output word, including the slots a kernel must leave alone. Also: the activation
// quantizer (random spans, ties, zero, subnormal, NaN/inf inputs), the f16 matmul, and (where the
// build has it) the FPU fp16 scale conversion over all 65536 inputs, and the float lanes of the
// softmax exp and SwiGLU against their scalar functions. Prints one line per table and a
// summary; exits 0 when everything matched, 1 otherwise (faults exit 3, see platform/cortex_m/exit.h).
#include <stddef.h>
#include <stdint.h>

#include "console.h"
#include "core/bytes.h"
#include "core/detmath.h"
#include "core/fp16.h"
#include "exit.h"
#include "kernels.h"
#include "quant/quantize.h"
#include "tensor/binary_pack.h"
#include "tensor/ternary_pack.h"
#include "tensor/weights.h"

// The DSP folder's scale conversion, when this build has it (weak: absent on ARMv6-M).
namespace bitlm {
namespace cm {
float scale_to_f32(uint16_t h) __attribute__((weak));
}
}  // namespace bitlm

extern "C" int main(void);

namespace {

using namespace bitlm;

// ---- memory: a static pool, reset per case ---------------------------------------------------------------
#ifndef TEST_POOL_BYTES
#define TEST_POOL_BYTES (160 * 1024)
#endif
alignas(16) uint8_t g_pool[TEST_POOL_BYTES];
size_t g_used;

void *take(size_t n) {
    const size_t at = (g_used + 15) & ~(size_t)15;
    if (at > sizeof g_pool || n > sizeof g_pool - at) return nullptr;
    g_used = at + n;
    return g_pool + at;
}

// ---- PRNG (xorshift32) ---------------------------------------------------------------------------------
uint32_t g_rng = 0x9e3779b9u;
uint32_t rnd() {
    uint32_t x = g_rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return g_rng = x;
}
uint32_t rnd_below(uint32_t n) { return (uint32_t)(((uint64_t)rnd() * n) >> 32); }
float rnd_float(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() >> 8) * (1.0f / 16777216.0f); }

// ---- bookkeeping ---------------------------------------------------------------------------------------
constexpr uint32_t kMaxTables = 8;
struct TableStats {
    uint32_t checks, failures;
};
TableStats g_stats[kMaxTables];
uint32_t g_skipped, g_printed;

void puts_(const char *s) { console_puts(s); }
void put_dec(uint32_t v) { console_put_dec(v); }

void report_failure(uint32_t table, const char *what, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    g_stats[table].failures++;
    if (g_printed++ >= 12) return;
    puts_("MISMATCH ");
    puts_(bitlm_kernel_table(table)->name);
    puts_(": ");
    puts_(what);
    puts_(" [");
    put_dec(a);
    puts_(" ");
    put_dec(b);
    puts_(" ");
    put_dec(c);
    puts_(" ");
    put_dec(d);
    puts_("]\n");
}

const char *dtype_str(DType d) { return d == DType::Ternary ? "ternary" : d == DType::Binary ? "binary" : "int8"; }

// ---- q8 matmul cases --------------------------------------------------------------------------------------
struct Case {
    DType dtype;
    ScaleKind kind;
    uint32_t group, rows, cols, n_tok;
    uint32_t row_begin, row_end;  // the rows computed
    uint32_t stride_pad;          // extra bytes between rows
    bool extreme;                 // activations all +-127 / weights all +-1 (largest sums)
    uint32_t act_style;           // 0: uniform, 1: mostly small (sum |x| of a few thousand), 2: sum |x| of
                                  // exactly 8191 / 8192 (kernels that pack two rows' sums into one word)
};

constexpr uint32_t kSentinel = 0x7fc0beefu;  // a NaN no kernel computes

uint16_t random_scale() {
    const uint32_t r = rnd_below(64);
    if (r == 0) return 0x0000;  // zero
    if (r == 1) return 0x8000;  // -0
    if (r == 2) return 0x0001;  // the smallest subnormal
    if (r == 3) return 0xfbff;  // -65504
    return f32_to_f16(rnd_float(-2.0f, 2.0f));
}

void fill_weights(const Case &c, uint8_t *data, uint32_t row_bytes, int8_t *vals) {
    const uint32_t used = (uint32_t)dtype_row_bytes(c.dtype, c.cols);
    for (uint32_t r = 0; r < c.rows; r++) {
        uint8_t *row = data + (size_t)r * row_bytes;
        const uint32_t style = rnd_below(3);
        if (c.dtype == DType::Ternary && style == 0 && !c.extreme) {
            // any byte is a valid code, padding digits included: random bytes
            for (uint32_t i = 0; i < used; i++) row[i] = (uint8_t)rnd();
        } else {
            for (uint32_t i = 0; i < c.cols; i++) {
                if (c.dtype == DType::Int8)
                    vals[i] = c.extreme ? (int8_t)((r & 1) ? -127 : 127) : (int8_t)((int32_t)rnd_below(255) - 127);
                else if (c.dtype == DType::Ternary)
                    vals[i] = c.extreme ? (int8_t)((r & 1) ? -1 : 1) : (int8_t)((int32_t)rnd_below(3) - 1);
                else
                    vals[i] = c.extreme ? (int8_t)((r & 1) ? -1 : 1) : (rnd() & 1) ? (int8_t)1 : (int8_t)-1;
            }
            if (c.dtype == DType::Ternary) ternary_pack_row(vals, c.cols, row);
            else if (c.dtype == DType::Binary) binary_pack_row(vals, c.cols, row);
            else for (uint32_t i = 0; i < c.cols; i++) row[i] = (uint8_t)vals[i];
        }
        for (uint32_t i = used; i < row_bytes; i++) row[i] = (uint8_t)rnd();
    }
}

// Returns false when the case does not fit the pool (counted as skipped).
bool run_case(const Case &c) {
    g_used = 0;
    const uint32_t row_bytes = (uint32_t)dtype_row_bytes(c.dtype, c.cols) + c.stride_pad;
    const uint32_t n_scales = (uint32_t)scale_count_for(c.kind, c.rows, c.cols, c.group);
    const uint32_t y_stride = c.rows + 3;
    const size_t y_words = (size_t)c.n_tok * y_stride;
    uint8_t *data = (uint8_t *)take((size_t)c.rows * row_bytes + 4);
    uint16_t *scales = (uint16_t *)take(n_scales * 2u);
    float *xf = (float *)take((size_t)c.cols * 4);
    int8_t *xq = (int8_t *)take((size_t)c.n_tok * c.cols);
    float *xs = (float *)take(c.n_tok * 4u);
    float *y_ref = (float *)take(y_words * 4);
    float *y = (float *)take(y_words * 4);
    int8_t *vals = (int8_t *)take(c.cols);
    if (!data || !scales || !xf || !xq || !xs || !y_ref || !y || !vals) {
        g_skipped++;
        return false;
    }
    fill_weights(c, data, row_bytes, vals);
    data[(size_t)c.rows * row_bytes] = 0xAA;
    for (uint32_t i = 0; i < n_scales; i++) scales[i] = random_scale();
    // Activations: quantized random floats (the usual case) or extremes.
    for (uint32_t t = 0; t < c.n_tok; t++) {
        int8_t *q = xq + (size_t)t * c.cols;
        if (c.act_style == 2) {
            uint32_t left = (t & 1) ? 8192 : 8191;
            for (uint32_t i = 0; i < c.cols; i++) {
                const uint32_t v = left < 127 ? left : 127;
                q[i] = (int8_t)((t & 2) ? -(int32_t)v : (int32_t)v);
                left -= v;
            }
            xs[t] = 0.0123f;
        } else if (c.extreme) {
            for (uint32_t i = 0; i < c.cols; i++) q[i] = (int8_t)((t & 1) ? -127 : 127);
            xs[t] = 0.0123f;
        } else if (c.act_style == 1) {
            const float mag = rnd_float(0.01f, 100.0f);
            for (uint32_t i = 0; i < c.cols; i++) {
                const float u = rnd_float(-1.0f, 1.0f);
                xf[i] = mag * u * u * u * u * u;  // heavy tail: most |q| small
            }
            xs[t] = quantize_act_int8_ref(xf, c.cols, q);
        } else {
            const float mag = rnd_float(0.01f, 100.0f);
            for (uint32_t i = 0; i < c.cols; i++) xf[i] = rnd_float(-mag, mag);
            xs[t] = quantize_act_int8_ref(xf, c.cols, q);
        }
    }
    const WeightView w = {c.dtype, c.kind, c.rows, c.cols, c.group, row_bytes, data, scales};
    for (size_t i = 0; i < y_words; i++) y_ref[i] = bits_float(kSentinel);
    bitlm_reference_kernels()->matmul_q8(&w, xq, xs, c.n_tok, c.row_begin, c.row_end, y_ref, y_stride);
    for (uint32_t ti = 0; ti < bitlm_kernel_table_count() && ti < kMaxTables; ti++) {
        const bitlm_kernels *k = bitlm_kernel_table(ti);
        for (size_t i = 0; i < y_words; i++) y[i] = bits_float(kSentinel);
        k->matmul_q8(&w, xq, xs, c.n_tok, c.row_begin, c.row_end, y, y_stride);
        g_stats[ti].checks++;
        for (size_t i = 0; i < y_words; i++) {
            if (float_bits(y[i]) != float_bits(y_ref[i])) {
                // numbers: rows, cols, 1000*scale kind + group size, first differing output word
                report_failure(ti, dtype_str(c.dtype), c.rows, c.cols, (uint32_t)c.kind * 1000 + c.group,
                               (uint32_t)i);
                break;
            }
        }
    }
    return true;
}

void matmul_cases() {
    static const uint32_t kCols[] = {1, 5, 8, 31, 32, 33, 64, 159, 160, 161, 172, 255, 320, 1000, 1500, 2600};
    static const uint32_t kRows[] = {1, 3, 17};
    struct Kind {
        DType dtype;
        ScaleKind kind;
        uint32_t group;
    };
    static const Kind kKinds[] = {
        {DType::Ternary, ScaleKind::Tensor, 0}, {DType::Ternary, ScaleKind::Row, 0},
        {DType::Ternary, ScaleKind::Group, 32}, {DType::Ternary, ScaleKind::Group, 64},
        {DType::Ternary, ScaleKind::Group, 96}, {DType::Ternary, ScaleKind::Group, 288},
        {DType::Int8, ScaleKind::Row, 0},       {DType::Binary, ScaleKind::Tensor, 0},
        {DType::Binary, ScaleKind::Row, 0},
    };
    uint32_t n = 0;
    for (const Kind &kd : kKinds)
        for (uint32_t cols : kCols)
            for (uint32_t rows : kRows) {
                if (cols > 1000 && rows > 3) continue;  // long rows: a few rows are enough
                Case c = {kd.dtype, kd.kind, kd.group, rows, cols, 1 + n % 3, 0, rows, 0, false, n % 2};
                // every fourth case: a row sub-range; every fifth: padded row stride
                if (n % 4 == 3 && rows > 2) c.row_begin = 1, c.row_end = rows - 1;
                if (n % 5 == 4) c.stride_pad = 3;
                run_case(c);
                n++;
            }
    // Largest sums: every weight and activation at its extreme.
    static const uint32_t kExtremeCols[] = {33, 64, 65, 161, 1000, 2600};
    for (const Kind &kd : kKinds)
        for (uint32_t cols : kExtremeCols) {
            Case c = {kd.dtype, kd.kind, kd.group, 7, cols, 2, 0, 7, 0, true, 0};
            run_case(c);
        }
    // Row sums of exactly +-8191 and +-8192 (all weights +1 or -1, sum |x| = 8191 / 8192).
    static const uint32_t kBoundaryCols[] = {65, 172, 255, 1000};
    for (const Kind &kd : kKinds)
        for (uint32_t cols : kBoundaryCols) {
            Case c = {kd.dtype, kd.kind, kd.group, 13, cols, 4, 0, 13, 0, true, 2};
            run_case(c);
        }
}

// ---- the activation quantizer ----------------------------------------------------------------------------
void quantizer_case(const float *x, uint32_t n) {
    int8_t *q_ref = (int8_t *)take(n + 1), *q = (int8_t *)take(n + 1);
    if (!q_ref || !q) {
        g_skipped++;
        return;
    }
    for (uint32_t i = 0; i <= n; i++) q_ref[i] = 0x55;
    const float s_ref = quantize_act_int8_ref(x, n, q_ref);
    for (uint32_t ti = 0; ti < bitlm_kernel_table_count() && ti < kMaxTables; ti++) {
        for (uint32_t i = 0; i <= n; i++) q[i] = 0x55;
        const float s = bitlm_kernel_table(ti)->quantize_act_int8(x, n, q);
        g_stats[ti].checks++;
        bool same = float_bits(s) == float_bits(s_ref);
        uint32_t at = 0;
        for (uint32_t i = 0; i <= n && same; i++)
            if (q[i] != q_ref[i]) same = false, at = i;
        if (!same) report_failure(ti, "quantize_act_int8", n, at, float_bits(s), float_bits(s_ref));
    }
}

void quantizer_cases() {
    static const uint32_t kN[] = {0, 1, 5, 8, 31, 33, 64, 172, 255, 1000};
    for (uint32_t round = 0; round < 14; round++)
        for (uint32_t n : kN) {
            g_used = 0;
            float *x = (float *)take((size_t)n * 4 + 4);
            if (!x) {
                g_skipped++;
                continue;
            }
            // magnitudes from subnormal to huge
            static const float kMags[] = {1.0f, 1e-3f, 1e3f, 3e38f, 1e-38f, 1e-41f, 1e-30f, 7.0f};  // rounds 0-7
            const float mag = kMags[round % 8];
            for (uint32_t i = 0; i < n; i++) x[i] = rnd_float(-mag, mag);
            if (n > 4) {
                switch (round) {
                    case 8:  // exact ties: amax 127 gives mult 1
                        x[0] = 127.0f, x[1] = 0.5f, x[2] = -1.5f, x[3] = 2.5f, x[4] = -0.5f;
                        break;
                    case 9: x[n / 2] = bits_float(0x7fc00001u); break;  // NaN
                    case 10: x[n - 1] = bits_float(0xff800000u); break; // -inf
                    case 11:
                        for (uint32_t i = 0; i < n; i++) x[i] = (i & 1) ? -0.0f : 0.0f;
                        break;
                    case 12:  // amax 2^-119 (the FPU path's smallest), subnormal x near 2^-126: q of 0 or +-1
                        for (uint32_t i = 0; i < n; i++)
                            x[i] = bits_float(0x00400000u + rnd_below(0x00400000u)) * ((i & 1) ? -1.0f : 1.0f);
                        x[0] = bits_float(0x04000000u);
                        break;
                    case 13:  // amax 1e-30 with subnormal and tiny normal x
                        for (uint32_t i = 0; i < n; i++)
                            x[i] = (i & 1) ? bits_float(rnd_below(0x00800000u)) : -rnd_float(0.0f, 1e-32f);
                        x[n / 3] = 1e-30f;
                        break;
                }
            }
            quantizer_case(x, n);
        }
}

// ---- the f16 matmul and the scale conversion ----------------------------------------------------------------
void f16_cases() {
    static const uint32_t kCols[] = {1, 8, 33, 161};
    for (uint32_t cols : kCols) {
        g_used = 0;
        const uint32_t rows = 5, n_tok = 2;
        uint16_t *wd = (uint16_t *)take((size_t)rows * cols * 2);
        float *x = (float *)take((size_t)n_tok * cols * 4);
        float *y_ref = (float *)take(n_tok * rows * 4), *y = (float *)take(n_tok * rows * 4);
        if (!wd || !x || !y_ref || !y) {
            g_skipped++;
            continue;
        }
        for (uint32_t i = 0; i < rows * cols; i++) wd[i] = f32_to_f16(rnd_float(-1.0f, 1.0f));
        for (uint32_t i = 0; i < n_tok * cols; i++) x[i] = rnd_float(-3.0f, 3.0f);
        const WeightView w = {DType::F16, ScaleKind::None, rows, cols, 0, cols * 2, (const uint8_t *)wd, nullptr};
        bitlm_reference_kernels()->matmul_f16(&w, x, n_tok, 0, rows, y_ref, rows);
        for (uint32_t ti = 0; ti < bitlm_kernel_table_count() && ti < kMaxTables; ti++) {
            for (uint32_t i = 0; i < n_tok * rows; i++) y[i] = bits_float(kSentinel);
            bitlm_kernel_table(ti)->matmul_f16(&w, x, n_tok, 0, rows, y, rows);
            g_stats[ti].checks++;
            for (uint32_t i = 0; i < n_tok * rows; i++)
                if (float_bits(y[i]) != float_bits(y_ref[i])) {
                    report_failure(ti, "matmul_f16", rows, cols, i, 0);
                    break;
                }
        }
    }
}

bool scale_conversion_ok() {
    if (!&bitlm::cm::scale_to_f32) return true;
    uint32_t bad = 0;
    for (uint32_t h = 0; h < 65536; h++)
        if (float_bits(bitlm::cm::scale_to_f32((uint16_t)h)) != float_bits(f16_to_f32((uint16_t)h))) {
            if (bad++ < 4) {
                puts_("MISMATCH fp16 scale conversion at 0x");
                console_put_hex(h, 4);
                puts_("\n");
            }
        }
    puts_("fp16 scale conversion (vcvtb) vs f16_to_f32, all 65536 inputs: ");
    puts_(bad ? "MISMATCH\n" : "ok\n");
    return bad == 0;
}

// The float lanes (det_expf_shifted / det_silu_mul: vectors where the build has IEEE float SIMD, e.g.
// Helium on the M55) against the scalar det_expf / det_silu: every 4099th float bit pattern, and every
// 61st in [-104, -87], where results are subnormal (the lanes build those with a multiply, so they need
// the FPU not to flush). Chunks of 61 values, so the lane loops' tails run too.
bool float_lanes_ok() {
    static float in[61], got[61];
    uint32_t bad = 0, n = 0;
    const auto check_chunk = [&](uint32_t k) {
        for (uint32_t i = 0; i < k; i++) got[i] = in[i];
        det_expf_shifted(got, k, 0.0f);
        for (uint32_t i = 0; i < k; i++) bad += float_bits(got[i]) != float_bits(det_expf(in[i]));
        for (uint32_t i = 0; i < k; i++) got[i] = 0.75f;
        det_silu_mul(in, got, k);
        for (uint32_t i = 0; i < k; i++) bad += float_bits(got[i]) != float_bits(det_silu(in[i]) * 0.75f);
        n += k;
    };
    uint32_t k = 0;
    for (uint64_t b = 0; b <= 0xffffffffull; b += 4099) {
        in[k++] = bits_float((uint32_t)b);
        if (k == 61) check_chunk(k), k = 0;
    }
    for (uint32_t b = 0xc2ae0000u; b <= 0xc2d00000u; b += 61) {
        in[k++] = bits_float(b);
        if (k == 61) check_chunk(k), k = 0;
    }
    if (k) check_chunk(k);
    puts_("float lanes (det_expf_shifted, det_silu_mul) vs det_expf, det_silu: ");
    put_dec(n);
    puts_(bad ? " inputs, MISMATCH\n" : " inputs, ok\n");
    return bad == 0;
}

}  // namespace

int main(void) {
    const uint32_t n_tables = bitlm_kernel_table_count();
    puts_("bitlm kernel test: ");
    put_dec(n_tables);
    puts_(" tables:");
    for (uint32_t i = 0; i < n_tables; i++) {
        puts_(" ");
        puts_(bitlm_kernel_table(i)->name);
    }
    puts_("; default ");
    puts_(bitlm_default_kernels()->name);
    puts_("\n");
    bool ok = n_tables >= 1 && n_tables <= kMaxTables && bitlm_kernel_table(0) == bitlm_reference_kernels() &&
              bitlm_kernel_table(n_tables) == nullptr;
    if (!ok) puts_("FAIL: bad table list (the reference must come first, NULL past the end)\n");
    bool default_listed = false;
    for (uint32_t i = 0; i < n_tables; i++) default_listed |= bitlm_kernel_table(i) == bitlm_default_kernels();
    if (!default_listed) puts_("FAIL: the default table is not in the list\n"), ok = false;

    matmul_cases();
    quantizer_cases();
    f16_cases();
    ok = scale_conversion_ok() && ok;
    ok = float_lanes_ok() && ok;

    for (uint32_t i = 0; i < n_tables && i < kMaxTables; i++) {
        puts_("table ");
        puts_(bitlm_kernel_table(i)->name);
        puts_(": ");
        put_dec(g_stats[i].checks);
        puts_(" checks, ");
        put_dec(g_stats[i].failures);
        puts_(" mismatches\n");
        ok = ok && g_stats[i].failures == 0;
    }
    if (g_skipped) {
        puts_("(");
        put_dec(g_skipped);
        puts_(" cases did not fit this board's test pool and were skipped)\n");
    }
    puts_(ok ? "kernel test: PASS\n" : "kernel test: FAIL\n");
    return ok ? FW_EXIT_OK : FW_EXIT_LIBRARY_ERROR;
}
