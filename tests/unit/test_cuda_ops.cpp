// test_cuda_ops.cpp — the GPU training backend (cuda/) against the CPU training code of lib/train:
// every kernel of cuda/ops.h on random data (fixed seed) at awkward sizes, then the whole-step trainer
// (cuda/trainer.h) against Tape + model_loss + backward + optim_step on the same batches.
//
// The CPU side (every reference) always runs. Without a usable GPU the test then prints
// "skipped: no GPU (<reason>)" and passes; built without CUDA (BITLM_HAVE_CUDA undefined) it names no
// CUDA header or library at all and prints "skipped: no GPU (built without CUDA)".
//
// What must hold (relative L2 errors ||out - ref|| / ||ref||; a NaN/inf where the reference is finite
// is an infinite error, so NaN never passes):
//   exact (value equality; +0/-0 differences are tallied in the table, not failed):
//     quantize_weights (values, row scales, untouched row_scale for group/f16, the error flag for
//     NaN/inf/fp16-overflow), quantize_act_rows, scale_output / scale_rows, gemm
//     Precision::Exact on integer operands (k up to 2304), embedding forward and backward (row-order
//     accumulation), add, sum_in_order, C's padding left alone by every gemm
//   < 1e-5: gemm Fp32 (against double; GEMM errors are measured against |A||B| + |beta C|), rmsnorm
//     (backward against the size of the terms it sums), rope, relu2, swiglu, attention
//     Precision::Fp32, cross_entropy (loss and fused gradient), AdamW / SGD / Muon kernels vs optim_step
//   < 1e-2: gemm Tf32 / Bf16;  < 2e-2: attention Precision::Bf16
//   trainer, fp32 GEMMs: logits < 1e-4; the fp32 model runs 3 free steps with loss < 1e-4 and weights
//     < 1e-4 after each; quantized models (not continuous: see test_trainer_case) start each step from
//     the CPU's weights, loss < 3e-4, and at most 5% of a matrix's weights may be off by more than lr/4.
// At the end a table lists the worst error each check measured (the tolerances actually achieved).
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "core/fp16.h"
#include "model/presets.h"
#include "quant/quantize.h"
#include "train/backend.h"
#include "train/device_trainer.h"
#include "train/op_kernels.h"
#include "train/ops.h"
#include "train/optim.h"
#include "train/param.h"
#include "train/tape.h"
#include "train/train_model.h"

#ifdef BITLM_HAVE_CUDA
#include <cuda_runtime.h>
// Relative to this file, so the include works with -Icuda (the unit-test command line) and with -I.
// (the Makefile) alike.
#include "../../cuda/ops.h"
#include "../../cuda/trainer.h"
#endif

using namespace bitlm;

namespace {

typedef std::vector<float> VecF;
typedef std::vector<double> VecD;
typedef std::vector<int32_t> VecI;

std::mt19937 g_rng(20250917);

VecF randn(size_t n, float scale = 1.0f) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    VecF v(n);
    for (auto &x : v) x = nd(g_rng) * scale;
    return v;
}
VecI rand_tokens(size_t n, uint32_t vocab) {
    VecI t(n);
    for (auto &x : t) x = (int32_t)(g_rng() % vocab);
    return t;
}

std::string fmt(const char *f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

uint32_t bits_of(float x) {
    uint32_t b;
    std::memcpy(&b, &x, 4);
    return b;
}

// ================================================================================================
// Comparisons and the table of worst errors
// ================================================================================================

bool same_nonfinite(float a, float b) { return (std::isnan(a) && std::isnan(b)) || (std::isinf(a) && a == b); }

// ||out - ref|| / ||ref|| in double. +inf if out is NaN/inf where ref is finite (NaN never passes a
// `err < tol` check), or if ref is non-finite and out is not the same non-finite value.
template <class R>
double rel_error(const float *out, const R *ref, size_t n) {
    double d = 0.0, r = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double rv = (double)ref[i];
        if (!std::isfinite(rv)) {
            if (same_nonfinite(out[i], (float)rv)) continue;
            return INFINITY;
        }
        if (!std::isfinite(out[i])) return INFINITY;
        const double diff = (double)out[i] - rv;
        d += diff * diff;
        r += rv * rv;
    }
    if (d == 0.0) return 0.0;
    return std::sqrt(d) / std::max(std::sqrt(r), 1e-30);
}
[[maybe_unused]] double rel_error(const VecF &out, const VecF &ref) {
    return out.size() == ref.size() ? rel_error(out.data(), ref.data(), ref.size()) : INFINITY;
}
[[maybe_unused]] double rel_error(const VecF &out, const VecD &ref) {
    return out.size() == ref.size() ? rel_error(out.data(), ref.data(), ref.size()) : INFINITY;
}
// For outputs that accumulate (+=): what was added, (out - base) against (ref - base), relative to
// ||ref - base|| or, where given, to ||scale|| (the size of the terms a cancelling sum adds up).
[[maybe_unused]] double rel_error_added(const VecF &out, const VecF &ref, const VecF &base,
                                        const VecD *scale = nullptr) {
    if (out.size() != ref.size() || ref.size() != base.size() || (scale && scale->size() != ref.size()))
        return INFINITY;
    VecD want(ref.size());
    for (size_t i = 0; i < ref.size(); i++) {
        if (!std::isfinite(out[i])) return INFINITY;
        want[i] = (double)ref[i] - (double)base[i];
    }
    double d = 0.0, r = 0.0;
    for (size_t i = 0; i < ref.size(); i++) {
        const double g = (double)out[i] - (double)base[i], diff = g - want[i];
        d += diff * diff;
        r += scale ? (*scale)[i] * (*scale)[i] : want[i] * want[i];
    }
    if (d == 0.0) return 0.0;
    return std::sqrt(d) / std::max(std::sqrt(r), 1e-30);
}

struct Stat {
    std::string name;
    double worst;  // relative error, or (exact checks) the most mismatching elements in one case
    double tol;
    int count;
    bool exact;
    long signed_zeros;  // exact checks: elements equal in value but +0 vs -0
};
std::vector<Stat> g_stats;

Stat &stat(const std::string &name, double tol, bool exact) {
    for (Stat &s : g_stats)
        if (s.name == name) return s;
    g_stats.push_back(Stat{name, 0.0, tol, 0, exact, 0});
    return g_stats.back();
}

[[maybe_unused]] void expect_rel(const std::string &name, double err, double tol, const std::string &ctx) {
    Stat &s = stat(name, tol, false);
    if (!(err <= s.worst)) s.worst = err;  // NaN sticks
    s.count++;
    CHECK_MSG(err < tol, "%s [%s]: relative error %.3g, tolerance %.1g", name.c_str(), ctx.c_str(), err, tol);
}

// Value equality element by element (NaN matches NaN; +0 matches -0 but is tallied).
void expect_exact(const std::string &name, const float *out, const float *ref, size_t n, const std::string &ctx) {
    size_t bad = 0, first = 0;
    long zeros = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == ref[i]) {
            if (std::signbit(out[i]) != std::signbit(ref[i])) zeros++;
            continue;
        }
        if (std::isnan(out[i]) && std::isnan(ref[i])) continue;
        if (bad++ == 0) first = i;
    }
    Stat &s = stat(name, 0.0, true);
    s.count++;
    s.signed_zeros += zeros;
    if ((double)bad > s.worst) s.worst = (double)bad;
    CHECK_MSG(bad == 0, "%s [%s]: %zu of %zu elements differ; first at %zu: got %.9g (0x%08x), want %.9g (0x%08x)",
              name.c_str(), ctx.c_str(), bad, n, first, bad ? out[first] : 0.0f, bad ? bits_of(out[first]) : 0u,
              bad ? ref[first] : 0.0f, bad ? bits_of(ref[first]) : 0u);
}
[[maybe_unused]] void expect_exact(const std::string &name, const VecF &out, const VecF &ref, const std::string &ctx) {
    CHECK_MSG(out.size() == ref.size(), "%s [%s]: size %zu, want %zu", name.c_str(), ctx.c_str(), out.size(),
              ref.size());
    if (out.size() == ref.size()) expect_exact(name, out.data(), ref.data(), ref.size(), ctx);
}

void print_stats() {
    std::printf("  worst measured error per check (cases, tolerance):\n");
    for (const Stat &s : g_stats) {
        if (s.exact) {
            std::printf("    %-54s exact: %s (%d cases)", s.name.c_str(),
                        s.worst == 0.0 ? "all equal" : fmt("up to %.0f elements differ", s.worst).c_str(), s.count);
            if (s.signed_zeros) std::printf(", %ld +0/-0 differences", s.signed_zeros);
            std::printf("\n");
        } else {
            std::printf("    %-54s %9.3g  (%d cases, tol %.1g)%s\n", s.name.c_str(), s.worst, s.count, s.tol,
                        s.worst == 0.0 ? "  bit-exact" : "");
        }
    }
}

// ================================================================================================
// The GPU context and device buffers (only with CUDA)
// ================================================================================================

#ifdef BITLM_HAVE_CUDA
struct Gpu {
    cudaStream_t stream = nullptr;
    cuda::Blas *blas = nullptr;
    bool dead = false;  // a sticky CUDA error: the rest of the GPU checks are skipped
};

// Synchronizes and reports any error of what was just launched. False (after a failed CHECK) on error.
bool gpu_done(Gpu *gpu, const std::string &what) {
    cudaError_t e = cudaStreamSynchronize(gpu->stream);
    if (e == cudaSuccess) e = cudaGetLastError();
    CHECK_MSG(e == cudaSuccess, "%s: CUDA error: %s", what.c_str(), cudaGetErrorString(e));
    if (e != cudaSuccess) {
        // Errors such as an illegal address poison the context; a second query tells them apart.
        if (cudaDeviceSynchronize() != cudaSuccess) {
            gpu->dead = true;
            std::printf("  the CUDA context is unusable after %s: remaining GPU checks skipped\n", what.c_str());
        }
    }
    return e == cudaSuccess;
}

[[noreturn]] void cuda_fatal(const char *what, cudaError_t e) {
    std::printf("  FAIL %s: %s\n", what, cudaGetErrorString(e));
    check::failures()++;
    std::exit(check::finish("test_cuda_ops"));
}

// A device array of n T: allocated (and by default filled with 0xff bytes, NaN for floats, so an
// output a kernel forgets to write shows up), uploaded from and downloaded to host vectors.
template <class T>
class DevBuf {
public:
    explicit DevBuf(size_t n, int fill_byte = 0xff) {
        alloc(n);
        fill(fill_byte);
    }
    explicit DevBuf(const std::vector<T> &h) {
        alloc(h.size());
        upload(h);
    }
    DevBuf(const DevBuf &) = delete;
    DevBuf &operator=(const DevBuf &) = delete;
    ~DevBuf() {
        if (p_) cudaFree(p_);
    }
    T *get() const { return p_; }
    size_t size() const { return n_; }
    void fill(int byte) {
        const cudaError_t e = cudaMemset(p_, byte, bytes());
        if (e != cudaSuccess) cuda_fatal("cudaMemset", e);
    }
    void upload(const std::vector<T> &h) { upload(h.data(), h.size()); }
    void upload(const T *h, size_t n) {
        if (n > n_) n = n_;
        if (n == 0) return;
        const cudaError_t e = cudaMemcpy(p_, h, n * sizeof(T), cudaMemcpyHostToDevice);
        if (e != cudaSuccess) cuda_fatal("cudaMemcpy to the device", e);
    }
    std::vector<T> download() const {
        std::vector<T> h(n_);
        if (n_ == 0) return h;
        cudaError_t e = cudaDeviceSynchronize();
        if (e == cudaSuccess) e = cudaMemcpy(h.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost);
        if (e != cudaSuccess) cuda_fatal("cudaMemcpy from the device", e);
        return h;
    }

private:
    size_t bytes() const { return (n_ ? n_ : 1) * sizeof(T); }
    void alloc(size_t n) {
        n_ = n;
        const cudaError_t e = cudaMalloc((void **)&p_, bytes());
        if (e != cudaSuccess) cuda_fatal(fmt("cudaMalloc of %zu bytes", bytes()).c_str(), e);
    }
    T *p_ = nullptr;
    size_t n_ = 0;
};
typedef DevBuf<float> DevF;

bool use_gpu(const Gpu *gpu) { return gpu && !gpu->dead; }
#else
struct Gpu {};
[[maybe_unused]] bool use_gpu(const Gpu *) { return false; }
#endif

// The GEMM precisions of cuda/ops.h, named here too so the CPU side builds without CUDA.
enum class Prec : uint32_t { Fp32 = 0, Tf32 = 1, Bf16 = 2, Exact = 3 };
const char *prec_name(Prec p) {
    switch (p) {
        case Prec::Fp32: return "fp32";
        case Prec::Tf32: return "tf32";
        case Prec::Bf16: return "bf16";
        case Prec::Exact: return "exact";
    }
    return "?";
}
#ifdef BITLM_HAVE_CUDA
static_assert((uint32_t)cuda::Precision::Fp32 == (uint32_t)Prec::Fp32 &&
                  (uint32_t)cuda::Precision::Tf32 == (uint32_t)Prec::Tf32 &&
                  (uint32_t)cuda::Precision::Bf16 == (uint32_t)Prec::Bf16 &&
                  (uint32_t)cuda::Precision::Exact == (uint32_t)Prec::Exact,
              "Prec mirrors cuda::Precision");
cuda::Precision to_cuda(Prec p) { return (cuda::Precision)(uint32_t)p; }
#endif

const uint32_t kRows[] = {1, 5, 37, 255};
const uint32_t kCols[] = {1, 7, 64, 100, 1000};

// ================================================================================================
// 1. quantize_weights: values, row scales and the error flag, exactly the CPU's
// ================================================================================================

struct QuantCase {
    const char *name;
    LinearQuant q;
};
const QuantCase kQuantCases[] = {
    {"ternary tensor", {DType::Ternary, ScaleKind::Tensor, 0, true}},
    {"ternary row", {DType::Ternary, ScaleKind::Row, 0, true}},
    {"ternary group32", {DType::Ternary, ScaleKind::Group, kGroupMultiple, true}},
    {"ternary group64", {DType::Ternary, ScaleKind::Group, 2 * kGroupMultiple, true}},
    {"binary tensor", {DType::Binary, ScaleKind::Tensor, 0, true}},
    {"binary row", {DType::Binary, ScaleKind::Row, 0, true}},
    {"int8 row", {DType::Int8, ScaleKind::Row, 0, true}},
    {"f16", {DType::F16, ScaleKind::None, 0, false}},
};

bool integer_path(const LinearQuant &q) {
    return (q.weight == DType::Ternary || q.weight == DType::Binary || q.weight == DType::Int8) &&
           (q.scale_kind == ScaleKind::Tensor || q.scale_kind == ScaleKind::Row);
}

// lib/train/op_linear.cpp's quantize_weights: integer path -> codes as floats and each row's fp16
// scale as a float; Group -> code * group scale; F16 -> fp16-rounded weights.
bitlm_status cpu_quantize_weights(const VecF &w, uint32_t rows, uint32_t cols, const LinearQuant &q, VecF *values,
                                  VecF *row_scale) {
    const size_t n = (size_t)rows * cols;
    values->assign(n, 0.0f);
    row_scale->assign(rows, 0.0f);
    if (q.weight == DType::F16) {
        for (size_t i = 0; i < n; i++) (*values)[i] = round_to_f16(w[i]);
        return BITLM_OK;
    }
    std::vector<int8_t> codes(n + 1);
    const uint64_t n_scales =
        q.weight == DType::Int8 ? rows : scale_count_for(q.scale_kind, rows, cols, q.group_size);
    std::vector<uint16_t> scales(n_scales + 1);
    bitlm_status st;
    if (q.weight == DType::Ternary)
        st = quantize_ternary_absmean(w.data(), rows, cols, q.scale_kind, q.group_size, codes.data(), scales.data());
    else if (q.weight == DType::Binary)
        st = quantize_binary_sign(w.data(), rows, cols, q.scale_kind, codes.data(), scales.data());
    else
        st = quantize_int8_rows(w.data(), rows, cols, codes.data(), scales.data());
    if (st != BITLM_OK) return st;
    if (integer_path(q)) {
        for (size_t i = 0; i < n; i++) (*values)[i] = (float)codes[i];
        for (uint32_t r = 0; r < rows; r++)
            (*row_scale)[r] = f16_to_f32(scales[q.scale_kind == ScaleKind::Tensor ? 0 : r]);
    } else {
        const uint64_t per_row = (cols + q.group_size - 1) / q.group_size;
        for (uint32_t r = 0; r < rows; r++)
            for (uint32_t c = 0; c < cols; c++) {
                const size_t i = (size_t)r * cols + c;
                (*values)[i] = (float)codes[i] * f16_to_f32(scales[r * per_row + c / q.group_size]);
            }
    }
    return BITLM_OK;
}

// Weights with rows of very different magnitudes: zero rows (with -0 entries), rows whose fp16 scale
// is subnormal or underflows to 0, large rows, and (rows >= 5) a row whose codes land on rne ties.
VecF quant_test_weights(uint32_t rows, uint32_t cols) {
    static const float kRowScale[] = {1.0f, 0.0f, 1e-5f, 1e-30f, 100.0f, 1.0f, 3e-3f};
    VecF w = randn((size_t)rows * cols, 0.05f);
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t c = 0; c < cols; c++) w[(size_t)r * cols + c] *= kRowScale[r % 7];
    if (cols > 2) {
        w[1] = -0.0f;
        w[2] = 0.0f;
    }
    if (rows >= 5) {
        // |w| pairs (0.5, 1.5): every span (row, group of 32/64, a short last group ending in 1.0)
        // has mean |w| = 1 exactly, so w/s hits +-0.5 (rounds to even: 0) and +-1.5 (clamps).
        float *row = &w[(size_t)(rows - 1) * cols];
        for (uint32_t c = 0; c < cols; c++) {
            const float mag = (c + 1 == cols && cols % 2) ? 1.0f : (c % 2 == 0 ? 0.5f : 1.5f);
            row[c] = (c % 4 == 1 || c % 4 == 2) ? -mag : mag;
        }
    }
    return w;
}

void test_quantize_weights(Gpu *gpu) {
    [[maybe_unused]] const float kSentinel = 12345.0f;
    for (const QuantCase &qc : kQuantCases)
        for (uint32_t rows : kRows)
            for (uint32_t cols : kCols) {
                const std::string ctx = fmt("%s %ux%u", qc.name, rows, cols);
                const VecF w = quant_test_weights(rows, cols);
                VecF values, row_scale;
                const bitlm_status st = cpu_quantize_weights(w, rows, cols, qc.q, &values, &row_scale);
                CHECK_MSG(st == BITLM_OK, "CPU quantizer refused %s: status %d", ctx.c_str(), (int)st);
                if (st != BITLM_OK) continue;
                const bool integer = integer_path(qc.q);
#ifdef BITLM_HAVE_CUDA
                if (!use_gpu(gpu)) continue;
                DevF dw(w), dv(w.size()), ds(VecF(rows, kSentinel));
                DevBuf<uint32_t> flag(1, 0);
                cuda::quantize_weights(dw.get(), rows, cols, qc.q, dv.get(), ds.get(), flag.get(), gpu->stream);
                if (!gpu_done(gpu, "quantize_weights " + ctx)) continue;
                expect_exact("quantize_weights values", dv.download(), values, ctx);
                if (integer)
                    expect_exact("quantize_weights row_scale", ds.download(), row_scale, ctx);
                else
                    expect_exact("quantize_weights row_scale untouched (group, f16)", ds.download(),
                                 VecF(rows, kSentinel), ctx);
                CHECK_MSG(flag.download()[0] == 0, "quantize_weights set the error flag on good weights (%s)",
                          ctx.c_str());
#else
                (void)integer;
#endif
            }

    // Weights the CPU refuses: NaN, inf, a scale beyond fp16. F16 has no refusal on the CPU (it
    // rounds; a NaN turns the loss NaN, which optim_step refuses): its flag is only reported.
    for (const QuantCase &qc : kQuantCases)
        for (int kind = 0; kind < 3; kind++) {
            const uint32_t rows = 37, cols = 100;
            const char *what = kind == 0 ? "NaN weight" : kind == 1 ? "+inf weight" : "scale beyond fp16";
            const std::string ctx = fmt("%s, %s", qc.name, what);
            VecF w = quant_test_weights(rows, cols);
            if (kind == 0) w[(size_t)20 * cols + 33] = NAN;
            if (kind == 1) w[(size_t)36 * cols + 99] = INFINITY;
            if (kind == 2)  // mean |w| = 7e4 > 65504; int8: absmax / 127 = 78740 > 65504
                for (float &x : w) x = qc.q.weight == DType::Int8 ? 1e7f : 7e4f;
            VecF values, row_scale;
            const bitlm_status st = cpu_quantize_weights(w, rows, cols, qc.q, &values, &row_scale);
            const bool f16 = qc.q.weight == DType::F16;
            if (!f16) CHECK_MSG(st == BITLM_ERR_BAD_ARGUMENT, "CPU quantizer accepted %s", ctx.c_str());
#ifdef BITLM_HAVE_CUDA
            if (!use_gpu(gpu)) continue;
            DevF dw(w), dv(w.size()), ds(rows);
            DevBuf<uint32_t> flag(1, 0);
            cuda::quantize_weights(dw.get(), rows, cols, qc.q, dv.get(), ds.get(), flag.get(), gpu->stream);
            if (!gpu_done(gpu, "quantize_weights " + ctx)) continue;
            const uint32_t f = flag.download()[0];
            if (f16) {
                if (kind == 0) std::printf("  note: quantize_weights f16 with a NaN weight: error flag %u\n", f);
            } else {
                CHECK_MSG(f == 1, "quantize_weights did not set the error flag for %s (flag %u)", ctx.c_str(), f);
            }
#else
            (void)st;
            (void)f16;
#endif
        }
}

// ================================================================================================
// 2. quantize_act_rows: quantize_act_int8_ref bit for bit
// ================================================================================================

void test_quantize_act(Gpu *gpu) {
    // Row magnitudes: normal, all zero, amax so small that 127/amax overflows (subnormal), huge, ...
    static const float kRowScale[] = {1.0f, 0.0f, 1e-38f, 1e-42f, 1e30f, 3e37f, 5.0f, 1e-20f};
    for (uint32_t rows : kRows)
        for (uint32_t cols : kCols) {
            const std::string ctx = fmt("%ux%u", rows, cols);
            VecF x = randn((size_t)rows * cols);
            for (uint32_t r = 0; r < rows; r++) {
                float *xr = &x[(size_t)r * cols];
                const uint32_t kind = r % 11;
                if (kind < 8) {
                    for (uint32_t c = 0; c < cols; c++) xr[c] *= kRowScale[kind];
                } else if (kind == 8) {  // rne ties: amax 127 -> mult 1, x + 0.5 lands between codes
                    for (uint32_t c = 0; c < cols; c++)
                        xr[c] = c == 0 ? 127.0f : (float)((int)(c % 127) - 63) + 0.5f;
                } else if (kind == 9) {
                    xr[cols / 2] = NAN;
                } else {
                    xr[cols - 1] = -INFINITY;
                }
            }
            VecF codes((size_t)rows * cols), scale(rows);
            std::vector<int8_t> q(cols + 4);
            for (uint32_t r = 0; r < rows; r++) {
                scale[r] = quantize_act_int8_ref(&x[(size_t)r * cols], cols, q.data());
                for (uint32_t c = 0; c < cols; c++) codes[(size_t)r * cols + c] = (float)q[c];
            }
#ifdef BITLM_HAVE_CUDA
            if (!use_gpu(gpu)) continue;
            DevF dx(x), dc(codes.size()), ds(rows);
            cuda::quantize_act_rows(dx.get(), rows, cols, dc.get(), ds.get(), gpu->stream);
            if (!gpu_done(gpu, "quantize_act_rows " + ctx)) continue;
            expect_exact("quantize_act_rows codes", dc.download(), codes, ctx);
            const VecF got = ds.download();
            size_t bad = 0;
            for (uint32_t r = 0; r < rows; r++)
                if (!(bits_of(got[r]) == bits_of(scale[r]) || (std::isnan(got[r]) && std::isnan(scale[r])))) bad++;
            CHECK_MSG(bad == 0, "quantize_act_rows scales differ in %zu rows (%s)", bad, ctx.c_str());
            expect_exact("quantize_act_rows scale", got, scale, ctx);
#endif
        }
}

// ================================================================================================
// 3. The BitLinear epilogues: the same float operations as the CPU, so the same bits
// ================================================================================================

void test_scales(Gpu *gpu) {
    for (uint32_t n : kRows)
        for (uint32_t out : kCols) {
            const VecF y = randn((size_t)n * out, 50.0f), ws = randn(out, 0.01f), xs = randn(n, 0.03f);
            // scale_output, each scale present or null: y = (y * ws[o]) * xs[r]
            for (int mode = 0; mode < 4; mode++) {
                const bool use_w = mode & 1, use_x = mode & 2;
                const std::string ctx = fmt("%ux%u%s%s", n, out, use_w ? " w_scale" : "", use_x ? " x_scale" : "");
                VecF want = y;
                for (uint32_t r = 0; r < n; r++)
                    for (uint32_t o = 0; o < out; o++) {
                        float v = want[(size_t)r * out + o];
                        if (use_w) v = v * ws[o];
                        if (use_x) v = v * xs[r];
                        want[(size_t)r * out + o] = v;
                    }
#ifdef BITLM_HAVE_CUDA
                if (!use_gpu(gpu)) continue;
                DevF dy(y), dws(ws), dxs(xs);
                cuda::scale_output(dy.get(), n, out, use_w ? dws.get() : nullptr, use_x ? dxs.get() : nullptr,
                                   gpu->stream);
                if (gpu_done(gpu, "scale_output " + ctx)) expect_exact("scale_output", dy.download(), want, ctx);
#endif
            }
            const std::string ctx = fmt("%ux%u", n, out);
            VecF rows_want = y;
            for (uint32_t r = 0; r < n; r++)
                for (uint32_t o = 0; o < out; o++) rows_want[(size_t)r * out + o] = y[(size_t)r * out + o] * xs[r];
#ifdef BITLM_HAVE_CUDA
            if (!use_gpu(gpu)) continue;
            {
                DevF dm(y), dxs(xs), dout(y.size());
                cuda::scale_rows(dm.get(), n, out, dxs.get(), dout.get(), gpu->stream);
                if (gpu_done(gpu, "scale_rows " + ctx)) {
                    expect_exact("scale_rows (out of place)", dout.download(), rows_want, ctx);
                    expect_exact("scale_rows leaves its input", dm.download(), y, ctx);
                }
                cuda::scale_rows(dm.get(), n, out, dxs.get(), dm.get(), gpu->stream);
                if (gpu_done(gpu, "scale_rows in place " + ctx))
                    expect_exact("scale_rows (in place)", dm.download(), rows_want, ctx);
            }
#endif
        }
}

// ================================================================================================
// 4. gemm: every transposition, padded leading dimensions, beta 0 / 1, strided batches
// ================================================================================================

struct GemmCase {
    Prec prec;
    bool ta, tb;
    uint32_t m, n, k, lda, ldb, ldc, batch;
    uint64_t sa, sb, sc;
    float beta;
    VecF a, b, c;  // c: C before the call (NaN where written when beta == 0; 7777 in the padding)
    VecD ref;      // batch x m x n: beta C + op(A) op(B) in double (integers: exact)
    VecD scale;    // batch x m x n: |beta C| + |op(A)| |op(B)|, the size rounding errors scale with
    std::vector<uint8_t> in_c;  // which elements of c the product covers
    std::string ctx;
};

const float kPadSentinel = 7777.0f;

// int_kind (Exact only): 0 = ternary A x int8 B, 1 = int8 x int8.
GemmCase make_gemm(Prec prec, bool ta, bool tb, uint32_t m, uint32_t n, uint32_t k, uint32_t pad, uint32_t batch,
                   bool share_b, float beta, int int_kind) {
    GemmCase g;
    g.prec = prec, g.ta = ta, g.tb = tb, g.m = m, g.n = n, g.k = k, g.batch = batch, g.beta = beta;
    const uint32_t ra = ta ? k : m, ca = ta ? m : k, rb = tb ? n : k, cb = tb ? k : n;
    g.lda = ca + pad, g.ldb = cb + pad, g.ldc = n + pad;
    const uint64_t one_a = (uint64_t)ra * g.lda, one_b = (uint64_t)rb * g.ldb, one_c = (uint64_t)m * g.ldc;
    g.sa = batch > 1 ? one_a + 3 : 0;
    g.sb = batch > 1 && !share_b ? one_b + 5 : 0;
    g.sc = batch > 1 ? one_c + 2 : 0;
    const bool exact = prec == Prec::Exact;
    auto ternary = [] { return (float)((int)(g_rng() % 3) - 1); };
    auto int8 = [] { return (float)((int)(g_rng() % 255) - 127); };
    g.a.resize((batch - 1) * g.sa + one_a);
    g.b.resize((batch - 1) * g.sb + one_b);
    g.c.assign((batch - 1) * g.sc + one_c, kPadSentinel);
    g.in_c.assign(g.c.size(), 0);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (float &x : g.a) x = exact ? (int_kind == 0 ? ternary() : int8()) : nd(g_rng);
    for (float &x : g.b) x = exact ? int8() : nd(g_rng);
    for (uint32_t bi = 0; bi < batch; bi++)
        for (uint32_t i = 0; i < m; i++)
            for (uint32_t j = 0; j < n; j++) {
                const uint64_t at = bi * g.sc + (uint64_t)i * g.ldc + j;
                g.c[at] = beta == 0.0f ? NAN : exact ? (float)((int)(g_rng() % 2001) - 1000) : nd(g_rng);
                g.in_c[at] = 1;
            }
    g.ref.assign((size_t)batch * m * n, 0.0);
    g.scale.assign((size_t)batch * m * n, 0.0);
    for (uint32_t bi = 0; bi < batch; bi++) {
        const float *A = g.a.data() + bi * g.sa, *B = g.b.data() + bi * g.sb, *C = g.c.data() + bi * g.sc;
        for (uint32_t i = 0; i < m; i++)
            for (uint32_t j = 0; j < n; j++) {
                double s = beta != 0.0f ? (double)beta * C[(uint64_t)i * g.ldc + j] : 0.0, mag = std::fabs(s);
                for (uint32_t l = 0; l < k; l++) {
                    const double av = ta ? A[(uint64_t)l * g.lda + i] : A[(uint64_t)i * g.lda + l];
                    const double bv = tb ? B[(uint64_t)j * g.ldb + l] : B[(uint64_t)l * g.ldb + j];
                    s += av * bv;
                    mag += std::fabs(av * bv);
                }
                g.ref[((size_t)bi * m + i) * n + j] = s;
                g.scale[((size_t)bi * m + i) * n + j] = mag;
            }
    }
    g.ctx = fmt("%s m %u n %u k %u%s%s lda %u ldb %u ldc %u beta %g", prec_name(prec), m, n, k, ta ? " A^T" : "",
                tb ? " B^T" : "", g.lda, g.ldb, g.ldc, beta);
    if (batch > 1)
        g.ctx += fmt(" batch %u strides %llu/%llu/%llu", batch, (unsigned long long)g.sa, (unsigned long long)g.sb,
                     (unsigned long long)g.sc);
    if (exact) g.ctx += int_kind == 0 ? " ternary x int8" : " int8 x int8";
    return g;
}

[[maybe_unused]] double gemm_tol(Prec p) { return p == Prec::Fp32 ? 1e-5 : 1e-2; }

void run_gemm(Gpu *gpu, const GemmCase &g) {
#ifdef BITLM_HAVE_CUDA
    if (!use_gpu(gpu)) return;
    DevF da(g.a), db(g.b), dc(g.c);
    const bool ok = cuda::gemm(gpu->blas, to_cuda(g.prec), g.ta, g.tb, g.m, g.n, g.k, da.get(), g.lda, db.get(), g.ldb,
                               g.beta, dc.get(), g.ldc, g.batch, g.sa, g.sb, g.sc);
    CHECK_MSG(ok, "cuda::gemm returned false (%s)", g.ctx.c_str());
    if (!ok || !gpu_done(gpu, "gemm " + g.ctx)) return;
    const VecF c = dc.download();
    VecF out((size_t)g.batch * g.m * g.n), pad, pad_want;
    for (uint32_t bi = 0; bi < g.batch; bi++)
        for (uint32_t i = 0; i < g.m; i++)
            for (uint32_t j = 0; j < g.n; j++)
                out[((size_t)bi * g.m + i) * g.n + j] = c[bi * g.sc + (uint64_t)i * g.ldc + j];
    for (size_t i = 0; i < c.size(); i++)
        if (!g.in_c[i]) pad.push_back(c[i]), pad_want.push_back(g.c[i]);
    expect_exact("gemm leaves C's padding and gaps alone", pad, pad_want, g.ctx);
    const std::string name = std::string("gemm ") + prec_name(g.prec) + (g.batch > 1 ? " batched" : "");
    if (g.prec == Prec::Exact) {
        VecF want(g.ref.begin(), g.ref.end());
        expect_exact(name + " (integers)", out, want, g.ctx);
    } else {
        // ||out - ref|| / || |beta C| + |A||B| ||: the usual measure of a GEMM's rounding. Plain
        // ||out - ref|| / ||ref|| would blow up where beta C and A B cancel (1x1x1, beta 1, bf16 operands).
        double d = 0.0, r = 0.0;
        bool finite = true;
        for (size_t i = 0; i < out.size(); i++) {
            finite &= std::isfinite(out[i]);
            d += (out[i] - g.ref[i]) * (out[i] - g.ref[i]);
            r += g.scale[i] * g.scale[i];
        }
        const double err = !finite ? INFINITY : d == 0.0 ? 0.0 : std::sqrt(d) / std::max(std::sqrt(r), 1e-30);
        expect_rel(name + " vs double (error / |A||B|+|C|)", err, gemm_tol(g.prec), g.ctx);
    }
#endif
}

void test_gemm(Gpu *gpu) {
    struct Shape {
        uint32_t m, n, k;
    };
    const Shape shapes[] = {{1, 1, 1}, {5, 7, 64}, {37, 100, 1000}, {255, 64, 7}, {7, 1000, 100}, {100, 37, 255}};
    const Shape exact_shapes[] = {{1, 1, 1},      {5, 7, 64},   {37, 100, 2304},
                                  {255, 64, 7},   {7, 1000, 100}, {64, 37, 2304}};
    for (Prec prec : {Prec::Fp32, Prec::Tf32, Prec::Bf16, Prec::Exact})
        for (uint32_t si = 0; si < 6; si++)
            for (int t = 0; t < 4; t++)
                for (float beta : {0.0f, 1.0f}) {
                    const bool exact = prec == Prec::Exact;
                    const Shape s = exact ? exact_shapes[si] : shapes[si];
                    // int8 x int8 only where its sums stay below 2^24 (k <= 1000: 127*127*1000 < 2^24)
                    const int int_kind = exact && s.k <= 1000 && (si + t) % 2 ? 1 : 0;
                    const GemmCase g = make_gemm(prec, t & 1, t & 2, s.m, s.n, s.k, (si + t) % 3, 1, false, beta,
                                                 int_kind);
                    run_gemm(gpu, g);
                }
    // Strided batches (every transposition), and a batch sharing one B (stride 0).
    for (Prec prec : {Prec::Fp32, Prec::Tf32, Prec::Bf16, Prec::Exact}) {
        for (int t = 0; t < 4; t++)
            run_gemm(gpu, make_gemm(prec, t & 1, t & 2, 5, 7, 33, 1 + t % 2, 3, false, t < 2 ? 0.0f : 1.0f, 0));
        run_gemm(gpu, make_gemm(prec, false, true, 37, 100, 64, 0, 4, true, 0.0f, 0));
    }
    // k = 0: C = beta C (beta 0 overwrites the NaN C with zeros).
    for (float beta : {0.0f, 1.0f}) run_gemm(gpu, make_gemm(Prec::Fp32, false, false, 5, 7, 0, 1, 1, false, beta, 0));
}

// ================================================================================================
// 5. Embedding: forward (exact) and the row-order scatter-add backward (exact)
// ================================================================================================

void test_embedding(Gpu *gpu) {
    struct Case {
        uint32_t vocab, dim, n;
    };
    const Case cases[] = {{1, 7, 5}, {7, 64, 37}, {255, 100, 255}, {256, 1000, 37}, {5, 1, 1}, {3, 100, 1000}};
    for (const Case &cs : cases)
        for (int storage = 0; storage < 3; storage++) {  // int8 codes + scales, fp16 values, fp32 values
            const uint32_t vocab = cs.vocab, dim = cs.dim, n = cs.n;
            const char *sname = storage == 0 ? "int8" : storage == 1 ? "f16" : "f32";
            const std::string ctx = fmt("vocab %u dim %u tokens %u %s", vocab, dim, n, sname);
            const VecF table = randn((size_t)vocab * dim, 0.5f);
            VecF values, row_scale;
            if (storage == 0) {
                CHECK(cpu_quantize_weights(table, vocab, dim, LinearQuant{DType::Int8, ScaleKind::Row, 0, true},
                                           &values, &row_scale) == BITLM_OK);
            } else {
                values = table;
                if (storage == 1)
                    for (float &v : values) v = round_to_f16(v);
            }
            VecI tok = rand_tokens(n, vocab);
            tok[n - 1] = tok[0];
            if (n > 3) tok[n / 2] = tok[0];
            VecF y((size_t)n * dim);
            for (uint32_t r = 0; r < n; r++)
                for (uint32_t c = 0; c < dim; c++) {
                    const float v = values[(size_t)tok[r] * dim + c];
                    y[(size_t)r * dim + c] = storage == 0 ? v * row_scale[tok[r]] : v;
                }
            const VecF dy = randn((size_t)n * dim), pre = randn((size_t)vocab * dim, 0.1f);
            VecF dtable = pre;
            for (uint32_t r = 0; r < n; r++)
                for (uint32_t c = 0; c < dim; c++) dtable[(size_t)tok[r] * dim + c] += dy[(size_t)r * dim + c];
#ifdef BITLM_HAVE_CUDA
            if (!use_gpu(gpu)) continue;
            DevF dvals(values), dscale(storage == 0 ? row_scale : VecF(1, 0.0f)), dout(y.size()), ddy(dy), dtab(pre);
            DevBuf<int32_t> dtok(tok);
            cuda::embedding_forward(dvals.get(), storage == 0 ? dscale.get() : nullptr, dtok.get(), n, dim, dout.get(),
                                    gpu->stream);
            if (gpu_done(gpu, "embedding_forward " + ctx)) expect_exact("embedding_forward", dout.download(), y, ctx);
            cuda::embedding_backward(ddy.get(), dtok.get(), n, vocab, dim, dtab.get(), gpu->stream);
            if (gpu_done(gpu, "embedding_backward " + ctx))
                expect_exact("embedding_backward (row-order +=)", dtab.download(), dtable, ctx);
#endif
        }
}

// ================================================================================================
// 6. RMSNorm forward and backward vs opk:: in float (the CPU tape's math)
// ================================================================================================

void test_rmsnorm(Gpu *gpu) {
    const float eps = 1e-5f;
    for (uint32_t n : kRows)
        for (uint32_t dim : kCols) {
            const std::string ctx = fmt("%ux%u", n, dim);
            const VecF x = randn((size_t)n * dim, 2.0f), dy = randn((size_t)n * dim);
            VecF g = randn(dim, 0.2f);
            for (float &v : g) v += 1.0f;
            VecF y((size_t)n * dim), rinv(n);
            opk::rmsnorm_forward<FloatMath>(x.data(), g.data(), dim, eps, 0, n, y.data(), rinv.data());
            const VecF dx_pre = randn(x.size(), 0.1f), dg_pre = randn(dim, 0.1f);
            VecF dx = dx_pre, dg = dg_pre;
            opk::rmsnorm_backward_x<FloatMath>(x.data(), g.data(), rinv.data(), dy.data(), dim, 0, n, dx.data());
            opk::rmsnorm_backward_g<FloatMath>(x.data(), rinv.data(), dy.data(), dim, n, 0, dim, dg.data());
            // The sizes of the terms each gradient sums: dx = r g dy - (r^3 dot / n) x cancels almost exactly
            // at dim 1 (r^2 x^2 = 1 - eps / (x^2 + eps)), dgain = sum_r dy x r cancels over random signs, so
            // their errors are measured against these rather than against the (small) results.
            VecD dx_scale(x.size()), dg_scale(dim, 0.0);
            for (uint32_t r = 0; r < n; r++) {
                double dot = 0.0;
                for (uint32_t i = 0; i < dim; i++)
                    dot += (double)g[i] * dy[(size_t)r * dim + i] * x[(size_t)r * dim + i];
                const double ri = rinv[r], c = ri * ri * ri * dot / dim;
                for (uint32_t i = 0; i < dim; i++) {
                    const size_t at = (size_t)r * dim + i;
                    dx_scale[at] = std::fabs(ri * g[i] * dy[at]) + std::fabs(c * x[at]);
                    dg_scale[i] += std::fabs((double)dy[at] * x[at] * ri);
                }
            }
#ifdef BITLM_HAVE_CUDA
            if (!use_gpu(gpu)) continue;
            DevF dxd(x), dgd(g), dyd(y.size()), drinv(n), ddy(dy), ddx(dx_pre), ddg(dg_pre);
            DevF partials(std::max<uint64_t>(cuda::rmsnorm_partial_floats(n, dim), 1));
            cuda::rmsnorm_forward(dxd.get(), dgd.get(), n, dim, eps, dyd.get(), drinv.get(), gpu->stream);
            if (!gpu_done(gpu, "rmsnorm_forward " + ctx)) continue;
            expect_rel("rmsnorm_forward y", rel_error(dyd.download(), y), 1e-5, ctx);
            expect_rel("rmsnorm_forward rinv", rel_error(drinv.download(), rinv), 1e-5, ctx);
            // The backward reads the CPU's rinv, so it is checked on its own.
            drinv.upload(rinv);
            cuda::rmsnorm_backward(dxd.get(), dgd.get(), drinv.get(), ddy.get(), n, dim, ddx.get(), ddg.get(),
                                   partials.get(), gpu->stream);
            if (!gpu_done(gpu, "rmsnorm_backward " + ctx)) continue;
            expect_rel("rmsnorm_backward dx (+=; error / its terms)",
                       rel_error_added(ddx.download(), dx, dx_pre, &dx_scale), 1e-5, ctx);
            expect_rel("rmsnorm_backward dgain (+=; error / its terms)",
                       rel_error_added(ddg.download(), dg, dg_pre, &dg_scale), 1e-5, ctx);
#else
            (void)dx_scale;
            (void)dg_scale;
#endif
        }
}

// ================================================================================================
// 7. RoPE forward and backward (in place)
// ================================================================================================

void test_rope(Gpu *gpu) {
    struct Case {
        uint32_t head_dim, heads, seq_len, n_seq;
    };
    const Case cases[] = {{2, 1, 1, 1},  {16, 4, 7, 3},  {16, 2, 33, 2}, {64, 3, 5, 51},
                          {6, 5, 37, 1}, {16, 1, 1, 255}, {100, 1, 7, 5}};
    for (const Case &c : cases) {
        const uint32_t rows = c.seq_len * c.n_seq, width = c.head_dim * c.heads;
        const std::string ctx = fmt("head_dim %u heads %u seq_len %u rows %u", c.head_dim, c.heads, c.seq_len, rows);
        VecF cs((size_t)c.seq_len * c.head_dim);
        rope_table(10000.0f, c.head_dim, c.seq_len, cs.data());
        const VecF x = randn((size_t)rows * width), d = randn((size_t)rows * width);
        VecF y(x.size()), dx(x.size(), 0.0f);
        opk::rope_forward<FloatMath>(x.data(), cs.data(), width, c.head_dim, c.seq_len, 0, rows, y.data());
        opk::rope_backward<FloatMath>(d.data(), cs.data(), width, c.head_dim, c.seq_len, 0, rows, dx.data());
#ifdef BITLM_HAVE_CUDA
        if (!use_gpu(gpu)) continue;
        DevF dcs(cs), dxd(x), ddd(d);
        cuda::rope_forward(dxd.get(), dcs.get(), rows, width, c.head_dim, c.seq_len, gpu->stream);
        if (gpu_done(gpu, "rope_forward " + ctx)) expect_rel("rope_forward", rel_error(dxd.download(), y), 1e-5, ctx);
        cuda::rope_backward(ddd.get(), dcs.get(), rows, width, c.head_dim, c.seq_len, gpu->stream);
        if (gpu_done(gpu, "rope_backward " + ctx))
            expect_rel("rope_backward", rel_error(ddd.download(), dx), 1e-5, ctx);
#endif
    }
}

// ================================================================================================
// 8. Pointwise: relu^2, SwiGLU, add
// ================================================================================================

void test_pointwise(Gpu *gpu) {
    for (uint64_t count : {1ull, 7ull, 100ull, 1000ull, 37003ull}) {
        const std::string ctx = fmt("count %llu", (unsigned long long)count);
        VecF x = randn(count, 2.0f);
        if (count > 3) x[1] = 0.0f, x[2] = -0.0f;
        const VecF u = randn(count), dy = randn(count), b = randn(count);
        VecF relu_y(count), relu_dx(count, 0.0f), sw_y(count), sw_dg(count, 0.0f), sw_du(count, 0.0f), sum(count);
        opk::relu2_forward<FloatMath>(x.data(), 0, count, relu_y.data());
        opk::relu2_backward<FloatMath>(x.data(), dy.data(), 0, count, relu_dx.data());
        opk::swiglu_forward<FloatMath>(x.data(), u.data(), 0, count, sw_y.data());
        opk::swiglu_backward<FloatMath>(x.data(), u.data(), dy.data(), 0, count, sw_dg.data(), sw_du.data());
        for (uint64_t i = 0; i < count; i++) sum[i] = x[i] + b[i];
#ifdef BITLM_HAVE_CUDA
        if (!use_gpu(gpu)) continue;
        DevF dx(x), du(u), ddy(dy), db(b), o1(count), o2(count);
        cuda::relu2_forward(dx.get(), count, o1.get(), gpu->stream);
        if (gpu_done(gpu, "relu2_forward " + ctx))
            expect_rel("relu2_forward", rel_error(o1.download(), relu_y), 1e-5, ctx);
        o1.fill(0xff);
        cuda::relu2_backward(dx.get(), ddy.get(), count, o1.get(), gpu->stream);
        if (gpu_done(gpu, "relu2_backward " + ctx))
            expect_rel("relu2_backward (written)", rel_error(o1.download(), relu_dx), 1e-5, ctx);
        o1.fill(0xff);
        cuda::swiglu_forward(dx.get(), du.get(), count, o1.get(), gpu->stream);
        if (gpu_done(gpu, "swiglu_forward " + ctx))
            expect_rel("swiglu_forward", rel_error(o1.download(), sw_y), 1e-5, ctx);
        o1.fill(0xff);
        cuda::swiglu_backward(dx.get(), du.get(), ddy.get(), count, o1.get(), o2.get(), gpu->stream);
        if (gpu_done(gpu, "swiglu_backward " + ctx)) {
            expect_rel("swiglu_backward dgate (written)", rel_error(o1.download(), sw_dg), 1e-5, ctx);
            expect_rel("swiglu_backward dup (written)", rel_error(o2.download(), sw_du), 1e-5, ctx);
        }
        o1.fill(0xff);
        cuda::add(dx.get(), db.get(), count, o1.get(), gpu->stream);
        if (gpu_done(gpu, "add " + ctx)) expect_exact("add", o1.download(), sum, ctx);
        cuda::add(dx.get(), db.get(), count, dx.get(), gpu->stream);  // out aliasing a
        if (gpu_done(gpu, "add in place " + ctx)) expect_exact("add (out = a)", dx.download(), sum, ctx);
#endif
    }
}

// ================================================================================================
// 9. Attention (grouped-query, causal) forward and backward
// ================================================================================================

struct AttnCase {
    uint32_t n_seq, seq_len, n_heads, n_kv, head_dim;
    uint32_t rows() const { return n_seq * seq_len; }
    uint32_t qc() const { return n_heads * head_dim; }
    uint32_t kvc() const { return n_kv * head_dim; }
    opk::AttnShape shape(uint32_t h) const {
        return opk::AttnShape{seq_len, head_dim, qc(), kvc(), h * head_dim, (h / (n_heads / n_kv)) * head_dim};
    }
    std::string str() const {
        return fmt("n_seq %u seq_len %u heads %u/%u head_dim %u", n_seq, seq_len, n_heads, n_kv, head_dim);
    }
};

void test_attention(Gpu *gpu) {
    std::vector<AttnCase> cases;
    for (uint32_t kv : {2u, 4u})
        for (uint32_t seq : {1u, 7u, 33u}) cases.push_back(AttnCase{seq == 1 ? 3u : 2u, seq, 4, kv, 16});
    cases.push_back(AttnCase{1, 33, 2, 1, 64});
    cases.push_back(AttnCase{2, 7, 3, 1, 6});
    cases.push_back(AttnCase{1, 100, 4, 2, 16});
    for (const AttnCase &c : cases) {
        const uint32_t L = c.seq_len, rows = c.rows(), group = c.n_heads / c.n_kv;
        const VecF q = randn((size_t)rows * c.qc()), k = randn((size_t)rows * c.kvc());
        const VecF v = randn((size_t)rows * c.kvc());
        const VecF dout = randn((size_t)rows * c.qc());
        VecF p((size_t)c.n_seq * c.n_heads * L * L, 0.0f), o((size_t)rows * c.qc());
        VecF dq(q.size(), 0.0f), dk(k.size(), 0.0f), dv(v.size(), 0.0f), scratch(L);
        for (uint32_t s = 0; s < c.n_seq; s++) {
            const uint64_t row = (uint64_t)s * L;
            for (uint32_t h = 0; h < c.n_heads; h++)
                opk::attention_forward<FloatMath>(c.shape(h), q.data() + row * c.qc(), k.data() + row * c.kvc(),
                                                  v.data() + row * c.kvc(),
                                                  p.data() + ((uint64_t)s * c.n_heads + h) * L * L,
                                                  o.data() + row * c.qc());
            for (uint32_t kvh = 0; kvh < c.n_kv; kvh++)
                for (uint32_t h = kvh * group; h < (kvh + 1) * group; h++)
                    opk::attention_backward<FloatMath>(
                        c.shape(h), q.data() + row * c.qc(), k.data() + row * c.kvc(), v.data() + row * c.kvc(),
                        p.data() + ((uint64_t)s * c.n_heads + h) * L * L, dout.data() + row * c.qc(),
                        dq.data() + row * c.qc(), dk.data() + row * c.kvc(), dv.data() + row * c.kvc(), scratch.data());
        }
#ifdef BITLM_HAVE_CUDA
        if (!use_gpu(gpu)) continue;
        for (Prec prec : {Prec::Fp32, Prec::Bf16}) {
            const std::string ctx = c.str() + " " + prec_name(prec);
            const double tol = prec == Prec::Fp32 ? 1e-5 : 2e-2;
            const std::string tag = std::string(" ") + prec_name(prec);
            DevF dqd(q), dkd(k), dvd(v), ddo(dout), dp(p.size()), dod(o.size()), gq(q.size()), gk(k.size()),
                gv(v.size()), ds(p.size());
            const cuda::AttnDims d = {c.n_seq, c.seq_len, c.n_heads, c.n_kv, c.head_dim};
            bool ok = cuda::attention_forward(gpu->blas, to_cuda(prec), d, dqd.get(), dkd.get(), dvd.get(), dp.get(),
                                              dod.get(), gpu->stream);
            CHECK_MSG(ok, "attention_forward returned false (%s)", ctx.c_str());
            if (!ok || !gpu_done(gpu, "attention_forward " + ctx)) continue;
            expect_rel("attention_forward out" + tag, rel_error(dod.download(), o), tol, ctx);
            expect_rel("attention_forward probs" + tag, rel_error(dp.download(), p), tol, ctx);
            ok = cuda::attention_backward(gpu->blas, to_cuda(prec), d, dqd.get(), dkd.get(), dvd.get(), dp.get(),
                                          ddo.get(), gq.get(), gk.get(), gv.get(), ds.get(), gpu->stream);
            CHECK_MSG(ok, "attention_backward returned false (%s)", ctx.c_str());
            if (!ok || !gpu_done(gpu, "attention_backward " + ctx)) continue;
            expect_rel("attention_backward dq" + tag, rel_error(gq.download(), dq), tol, ctx);
            expect_rel("attention_backward dk" + tag, rel_error(gk.download(), dk), tol, ctx);
            expect_rel("attention_backward dv" + tag, rel_error(gv.download(), dv), tol, ctx);
        }
#endif
    }
}

// ================================================================================================
// 10. Cross-entropy fused with its gradient; sum_in_order
// ================================================================================================

void test_cross_entropy(Gpu *gpu) {
    for (uint32_t rows : kRows)
        for (uint32_t vocab : {1u, 7u, 100u, 256u, 1000u}) {
            const float logit_scale = rows == 37 && vocab == 1000 ? 30.0f : 2.0f;  // one saturated softmax
            const float dscale = (rows == 5 && vocab == 7) ? 0.0f : 1.0f / (float)rows;  // 0: no gradient
            const std::string ctx = fmt("rows %u vocab %u logit scale %g dlogit_scale %g", rows, vocab, logit_scale,
                                        dscale);
            const VecF l = randn((size_t)rows * vocab, logit_scale);
            const VecI tg = rand_tokens(rows, vocab);
            VecF loss(rows), mx(rows), sm(rows), dl(l.size(), 0.0f);
            opk::xent_forward<FloatMath>(l.data(), tg.data(), vocab, 0, rows, loss.data(), mx.data(), sm.data());
            if (dscale != 0.0f)
                opk::xent_backward<FloatMath>(l.data(), tg.data(), vocab, mx.data(), sm.data(), dscale, 0, rows,
                                              dl.data());
            else
                dl = l;  // untouched
#ifdef BITLM_HAVE_CUDA
            if (!use_gpu(gpu)) continue;
            DevF dlog(l), drow(rows);
            DevBuf<int32_t> dtg(tg);
            DevBuf<uint32_t> flag(1, 0);
            cuda::cross_entropy(dlog.get(), dtg.get(), rows, vocab, dscale, drow.get(), flag.get(), gpu->stream);
            if (!gpu_done(gpu, "cross_entropy " + ctx)) continue;
            expect_rel("cross_entropy row_loss", rel_error(drow.download(), loss), 1e-5, ctx);
            if (dscale != 0.0f)
                expect_rel("cross_entropy fused dlogits", rel_error(dlog.download(), dl), 1e-5, ctx);
            else
                expect_exact("cross_entropy leaves logits when dlogit_scale = 0", dlog.download(), dl, ctx);
            CHECK_MSG(flag.download()[0] == 0, "cross_entropy set the error flag on good targets (%s)", ctx.c_str());
#endif
        }
    {  // Targets out of range: the flag, and NaN loss in exactly those rows.
        const uint32_t rows = 5, vocab = 7;
        const VecF l = randn((size_t)rows * vocab, 2.0f);
        VecI tg = rand_tokens(rows, vocab);
        tg[2] = (int32_t)vocab;
        tg[4] = -1;
        VecI good = tg;
        good[2] = good[4] = 0;
        VecF loss(rows), mx(rows), sm(rows);
        opk::xent_forward<FloatMath>(l.data(), good.data(), vocab, 0, rows, loss.data(), mx.data(), sm.data());
        loss[2] = loss[4] = NAN;
#ifdef BITLM_HAVE_CUDA
        if (use_gpu(gpu)) {
            DevF dlog(l), drow(rows);
            DevBuf<int32_t> dtg(tg);
            DevBuf<uint32_t> flag(1, 0);
            cuda::cross_entropy(dlog.get(), dtg.get(), rows, vocab, 1.0f / rows, drow.get(), flag.get(), gpu->stream);
            if (gpu_done(gpu, "cross_entropy with bad targets")) {
                CHECK_MSG(flag.download()[0] == 1, "cross_entropy: a target outside [0, vocab) did not set the flag");
                const VecF got = drow.download();
                CHECK_MSG(std::isnan(got[2]) && std::isnan(got[4]),
                          "cross_entropy: a bad target's row loss is not NaN");
                expect_rel("cross_entropy row_loss (bad targets elsewhere)", rel_error(got, loss), 1e-5,
                           "rows 5 vocab 7");
            }
        }
#endif
    }
    for (uint32_t n : {1u, 7u, 1000u, 100000u}) {
        const std::string ctx = fmt("n %u", n);
        const VecF x = randn(n, 3.0f);
        float s = 0.0f;
        for (float v : x) s += v;
        const VecF want(1, s);
#ifdef BITLM_HAVE_CUDA
        if (!use_gpu(gpu)) continue;
        DevF dx(x), out(1);
        cuda::sum_in_order(dx.get(), n, out.get(), gpu->stream);
        if (gpu_done(gpu, "sum_in_order " + ctx)) expect_exact("sum_in_order (index order)", out.download(), want, ctx);
#else
        (void)want;
#endif
    }
}

// ================================================================================================
// 11. Optimizer kernels vs optim_step (AdamW, SGD, Muon with its Newton-Schulz GEMMs in fp32)
// ================================================================================================

struct Shape {
    ParamKind kind;
    uint32_t rows, cols;
};

// Params with their own memory (weights, gradients, optimizer state as optimizer_state_floats). The
// Params point into the vectors: change their contents (fill_from), never the vectors themselves.
struct HostParams {
    std::vector<Param> p;
    std::vector<VecF> w, g, s;
    HostParams(const std::vector<Shape> &shapes, const OptimConfig &oc) {
        const size_t n = shapes.size();
        p.resize(n), w.resize(n), g.resize(n), s.resize(n);
        for (size_t i = 0; i < n; i++) {
            const Shape &sh = shapes[i];
            p[i] = Param{"param", sh.kind, sh.rows, sh.cols, nullptr, nullptr, nullptr};
            w[i].assign(p[i].count(), 0.0f);
            g[i].assign(p[i].count(), 0.0f);
            s[i].assign(optimizer_state_floats(oc, p[i]), 0.0f);
            p[i].w = w[i].data(), p[i].g = g[i].data(), p[i].state = s[i].data();
        }
    }
    HostParams(const HostParams &) = delete;
    HostParams &operator=(const HostParams &) = delete;
    uint32_t size() const { return (uint32_t)p.size(); }
};

void fill_from(VecF &dst, const VecF &src) {
    CHECK(dst.size() == src.size());
    std::copy(src.begin(), src.begin() + std::min(dst.size(), src.size()), dst.begin());
}

[[maybe_unused]] bool decays(ParamKind k) { return k == ParamKind::Matrix || k == ParamKind::Embedding; }
[[maybe_unused]] uint64_t chunks_of(uint64_t count) { return (count + kOptimChunk - 1) / kOptimChunk; }

// optim_step's gradient sum of squares: double sums over 16384-element chunks, added in list order.
double host_sumsq(const HostParams &hp) {
    double total = 0.0;
    for (const Param &p : hp.p)
        for (uint64_t b = 0; b < p.count(); b += kOptimChunk) {
            double s = 0.0;
            const uint64_t e = std::min<uint64_t>(p.count(), b + kOptimChunk);
            for (uint64_t i = b; i < e; i++) s += (double)p.g[i] * (double)p.g[i];
            total += s;
        }
    return total;
}

#ifdef BITLM_HAVE_CUDA
// The device copy of a HostParams and the kernels of one optimizer step, in optim_step's order.
struct DevParams {
    std::vector<DevF *> w, g, s;
    explicit DevParams(const HostParams &hp) {
        for (uint32_t i = 0; i < hp.size(); i++) {
            w.push_back(new DevF(hp.w[i]));
            g.push_back(new DevF(hp.g[i]));
            s.push_back(new DevF(hp.s[i]));
        }
    }
    ~DevParams() {
        for (size_t i = 0; i < w.size(); i++) delete w[i], delete g[i], delete s[i];
    }
};

// Returns the device's sum of squares (the host computes the hyperparameters from it, as trainer.cu must).
bool device_optim_step(Gpu *gpu, const OptimConfig &oc, const HostParams &shape, DevParams &dp, uint64_t step,
                       float lr_mult, float wd_mult, double *sumsq_out, const std::string &ctx) {
    const uint32_t n = shape.size();
    uint64_t total_chunks = 0, max_chunks = 1, max_pq = 1, max_pp = 1;
    for (const Param &p : shape.p) {
        total_chunks += chunks_of(p.count());
        max_chunks = std::max(max_chunks, chunks_of(p.count()));
        const uint64_t pd = std::min(p.rows, p.cols), qd = std::max(p.rows, p.cols);
        max_pq = std::max(max_pq, pd * qd), max_pp = std::max(max_pp, pd * pd);
    }
    DevBuf<double> partials(total_chunks), sumsq(1);
    uint64_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        cuda::grad_sumsq_chunks(dp.g[i]->get(), shape.p[i].count(), partials.get() + off, gpu->stream);
        off += chunks_of(shape.p[i].count());
    }
    cuda::sum_doubles_in_order(partials.get(), total_chunks, sumsq.get(), gpu->stream);
    if (!gpu_done(gpu, "grad_sumsq_chunks / sum_doubles_in_order " + ctx)) return false;
    const double ss = sumsq.download()[0];
    *sumsq_out = ss;
    if (!std::isfinite(ss)) return false;
    const OptimHyper h = optim_hyper(oc, step, lr_mult, wd_mult, optim_sqrt(ss));
    const bool muon = oc.kind == OptimKind::Muon;
    DevBuf<double> mpart(max_chunks), msum(1);
    DevF X(max_pq), A(max_pp), B(max_pp), T(max_pq);
    for (uint32_t i = 0; i < n; i++) {
        const Param &p = shape.p[i];
        float *w = dp.w[i]->get(), *g = dp.g[i]->get(), *st = dp.s[i]->get();
        if (muon && p.kind == ParamKind::Matrix) {
            const bool tall = p.rows > p.cols;
            const uint32_t pd = tall ? p.cols : p.rows, qd = tall ? p.rows : p.cols;
            const uint64_t pq = (uint64_t)pd * qd, pp = (uint64_t)pd * pd;
            cuda::muon_momentum(h, g, st, p.rows, p.cols, tall, X.get(), mpart.get(), gpu->stream);
            cuda::sum_doubles_in_order(mpart.get(), chunks_of(p.count()), msum.get(), gpu->stream);
            cuda::muon_normalize(X.get(), pq, msum.get(), gpu->stream);
            bool ok = true;
            for (uint32_t s = 0; s < oc.ns_steps; s++) {
                ok &= cuda::gemm(gpu->blas, cuda::Precision::Fp32, false, true, pd, pd, qd, X.get(), qd, X.get(), qd,
                                 0.0f, A.get(), pd);
                ok &= cuda::gemm(gpu->blas, cuda::Precision::Fp32, false, false, pd, pd, pd, A.get(), pd, A.get(), pd,
                                 0.0f, B.get(), pd);
                cuda::muon_combine(A.get(), B.get(), pp, kNsB, kNsC, gpu->stream);
                ok &= cuda::gemm(gpu->blas, cuda::Precision::Fp32, false, false, pd, qd, pd, B.get(), pd, X.get(), qd,
                                 0.0f, T.get(), qd);
                cuda::muon_step_x(X.get(), T.get(), pq, kNsA, gpu->stream);
            }
            CHECK_MSG(ok, "Newton-Schulz gemm failed (%s)", ctx.c_str());
            cuda::muon_apply(w, X.get(), p.rows, p.cols, tall, 1.0f - h.lr * h.wd, muon_lr_eff(h, p.rows, p.cols),
                             gpu->stream);
        } else if (oc.kind == OptimKind::SGD) {
            cuda::sgd_update(h, decays(p.kind), w, g, st, p.count(), gpu->stream);
        } else {
            cuda::adamw_update(h, decays(p.kind), w, g, st, st + p.count(), p.count(), gpu->stream);
        }
    }
    return gpu_done(gpu, "optimizer kernels " + ctx);
}
#endif

void test_optimizers(Gpu *gpu) {
    const std::vector<Shape> shapes = {
        {ParamKind::Matrix, 37, 100},     {ParamKind::Matrix, 255, 100}, {ParamKind::Matrix, 1, 7},
        {ParamKind::Matrix, 64, 64},      {ParamKind::Matrix, 100, 1},   {ParamKind::Embedding, 37, 1000},
        {ParamKind::Vector, 1, 7},        {ParamKind::Vector, 1, 1000},
    };
    struct Case {
        const char *name;
        OptimConfig oc;
    };
    std::vector<Case> cases;
    {
        OptimConfig a;
        a.kind = OptimKind::AdamW, a.lr = 1e-2f, a.weight_decay = 0.1f, a.grad_clip = 1.0f;
        cases.push_back({"adamw", a});
        OptimConfig s;
        s.kind = OptimKind::SGD, s.lr = 0.1f, s.momentum = 0.9f, s.nesterov = true, s.weight_decay = 0.1f;
        cases.push_back({"sgd nesterov", s});
        s.nesterov = false, s.grad_clip = 0.0f;
        cases.push_back({"sgd no clip", s});
        OptimConfig m;
        m.kind = OptimKind::Muon, m.lr = 0.02f, m.adam_lr = 0.008f, m.momentum = 0.95f, m.nesterov = true;
        m.ns_steps = 5, m.weight_decay = 0.1f, m.grad_clip = 1.0f;
        cases.push_back({"muon", m});
        m.nesterov = false;
        cases.push_back({"muon no nesterov", m});
    }
    const float grad_scale[3] = {0.1f, 1e-3f, 0.05f};  // step 1 and 3 clip (norm > 1), step 2 does not
    const float lr_mult[3] = {1.0f, 0.5f, 1.0f}, wd_mult[3] = {1.0f, 0.25f, 1.0f};
    for (const Case &cs : cases) {
        HostParams cpu(shapes, cs.oc);
        for (uint32_t i = 0; i < cpu.size(); i++) {
            fill_from(cpu.w[i], randn(cpu.p[i].count(), 0.05f));
            if (cpu.p[i].kind == ParamKind::Vector)
                for (float &v : cpu.w[i]) v += 1.0f;
        }
        VecF scratch(optimizer_scratch_floats(cs.oc, cpu.p.data(), cpu.size()) + 1);
#ifdef BITLM_HAVE_CUDA
        DevParams *dev = use_gpu(gpu) ? new DevParams(cpu) : nullptr;
#endif
        for (int step = 1; step <= 3; step++) {
            const std::string ctx = fmt("%s step %d", cs.name, step);
            std::vector<VecF> w_before = cpu.w;
            for (uint32_t i = 0; i < cpu.size(); i++)
                fill_from(cpu.g[i], randn(cpu.p[i].count(), grad_scale[step - 1]));
            const std::vector<VecF> grads = cpu.g;
            const double sumsq = host_sumsq(cpu);
            float gn = 0.0f;
            const bitlm_status st = optim_step(cs.oc, cpu.p.data(), cpu.size(), step, lr_mult[step - 1],
                                               wd_mult[step - 1], reference_train_backend(), scratch.data(), &gn);
            CHECK_MSG(st == BITLM_OK, "optim_step failed (%s): %d", ctx.c_str(), (int)st);
#ifdef BITLM_HAVE_CUDA
            if (!dev || !use_gpu(gpu)) continue;
            for (uint32_t i = 0; i < cpu.size(); i++) dev->g[i]->upload(grads[i]);
            double dev_sumsq = NAN;
            if (!device_optim_step(gpu, cs.oc, cpu, *dev, step, lr_mult[step - 1], wd_mult[step - 1], &dev_sumsq, ctx))
                continue;
            expect_rel("grad_sumsq_chunks + sum_doubles_in_order", std::fabs(dev_sumsq - sumsq) / sumsq, 1e-12, ctx);
            const float dev_gn = (float)optim_sqrt(dev_sumsq);
            expect_rel("global grad norm vs optim_step's", std::fabs((double)dev_gn - gn) / gn, 1e-6, ctx);
            const std::string opt = cs.oc.kind == OptimKind::AdamW ? "adamw_update"
                                    : cs.oc.kind == OptimKind::SGD ? "sgd_update"
                                                                   : "muon";
            for (uint32_t i = 0; i < cpu.size(); i++) {
                const Param &p = cpu.p[i];
                const bool muon_matrix = cs.oc.kind == OptimKind::Muon && p.kind == ParamKind::Matrix;
                const std::string name = muon_matrix                       ? "muon (matrix)"
                                         : cs.oc.kind == OptimKind::Muon ? "muon (adamw part)"
                                                                          : opt;
                const std::string pctx = ctx + fmt(" param %u (%ux%u)", i, p.rows, p.cols);
                const VecF w = dev->w[i]->download(), g = dev->g[i]->download(), s = dev->s[i]->download();
                expect_rel(name + " weights", rel_error(w, cpu.w[i]), 1e-5, pctx);
                expect_rel(name + " gradient after (clipped in place)", rel_error(g, cpu.g[i]), 1e-5, pctx);
                expect_rel(name + " state", rel_error(s, cpu.s[i]), 1e-5, pctx);
                if (muon_matrix)  // the update itself (lr_eff X): Newton-Schulz in fp32 on both sides
                    expect_rel("muon (matrix) update w_after - w_before", rel_error_added(w, cpu.w[i], w_before[i]),
                               1e-3, pctx);
            }
#else
            (void)gn;
            (void)sumsq;
            (void)grads;
#endif
        }
#ifdef BITLM_HAVE_CUDA
        delete dev;
#endif
    }
}

// ================================================================================================
// 12. The whole trainer: cuda::open_trainer vs Tape + model_loss + backward + optim_step
// ================================================================================================

std::vector<uint8_t> g_arena(64u << 20);

TrainModelSpec preset_spec(const char *name) {
    TrainModelSpec s;
    std::memset(&s, 0, sizeof s);
    const Preset *p = find_preset(name);
    CHECK_MSG(p != nullptr, "no preset %s", name);
    if (p) s.config = p->config, s.storage = p->storage;
    s.fp32 = false;
    return s;
}

// vocab 256, dim 64, 2 layers, 4/2 heads of 16, ffn 128, context 32.
TrainModelSpec hand_spec(uint32_t ffn_kind, uint32_t placement, uint32_t head_kind, const StorageRecipe &storage,
                         bool fp32) {
    TrainModelSpec s;
    std::memset(&s, 0, sizeof s);
    bitlm_config &c = s.config;
    c.vocab_size = 256, c.dim = 64, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 16, c.ffn_dim = 128;
    c.max_seq_len = 32;
    c.ffn_kind = ffn_kind;
    c.norm_kind = BITLM_NORM_RMSNORM;
    c.norm_placement = placement;
    c.attn_kind = BITLM_ATTN_SOFTMAX;
    c.pos_kind = BITLM_POS_ROPE;
    c.act_kind = BITLM_ACT_INT8;
    c.head_kind = head_kind;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    s.storage = storage;
    s.fp32 = fp32;
    return s;
}

std::vector<Shape> model_shapes(const TrainModelSpec &spec) {
    std::vector<Shape> v;
    for (uint32_t i = 0; i < train_param_count(spec); i++) {
        const ParamInfo info = train_param_info(spec, i);
        v.push_back(Shape{info.kind, info.rows, info.cols});
    }
    return v;
}

// One CPU training step on the reference backend (the trainer's math on the host).
bitlm_status host_step(HostParams &hp, const TrainModelSpec &spec, const OptimConfig &oc, uint32_t seq_len,
                       const int32_t *in, const int32_t *tg, uint32_t batch, uint64_t step, float lr_mult,
                       float wd_mult, float *loss, float *grad_norm) {
    for (VecF &g : hp.g) std::fill(g.begin(), g.end(), 0.0f);
    VecF cs((size_t)seq_len * spec.config.head_dim);
    rope_table(spec.config.rope_theta, spec.config.head_dim, seq_len, cs.data());
    const TrainModel m = {spec, hp.p.data(), cs.data(), seq_len};
    Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
    Tensor *l = model_loss(t, m, in, tg, batch);
    if (!l || t.status() != BITLM_OK) return t.status() != BITLM_OK ? t.status() : BITLM_ERR_BAD_ARGUMENT;
    const bitlm_status st = t.backward(l);
    if (st != BITLM_OK) return st;
    *loss = l->data[0];
    VecF scratch(optimizer_scratch_floats(oc, hp.p.data(), hp.size()) + 1);
    return optim_step(oc, hp.p.data(), hp.size(), step, lr_mult, wd_mult, reference_train_backend(), scratch.data(),
                      grad_norm);
}

VecF host_logits(HostParams &hp, const TrainModelSpec &spec, const int32_t *tok, uint32_t n_seq, uint32_t len) {
    VecF cs((size_t)len * spec.config.head_dim);
    rope_table(spec.config.rope_theta, spec.config.head_dim, len, cs.data());
    const TrainModel m = {spec, hp.p.data(), cs.data(), len};
    Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
    t.grad_enabled = false;
    Tensor *l = model_logits(t, m, tok, n_seq);
    CHECK_MSG(l && t.status() == BITLM_OK, "CPU model_logits failed: %d", (int)t.status());
    return l ? VecF(l->data, l->data + l->count()) : VecF();
}

struct TrainerCase {
    const char *tag;  // short, for the table of errors
    const char *name;
    TrainModelSpec spec;
    OptimConfig optim;
    uint32_t batch, micro_batch, seq_len, precision;
    bool error_tests;
};

// Logits against the CPU's. Quantized models: an int8 activation code can round the other way on the
// GPU when an input differs from the CPU's in its last bit (rmsnorm and attention sum in other orders;
// x * 127/amax within ~1e-5 of a .5 tie), which moves that row's logits by ~1/(|code| sqrt(dim)), a few
// 1e-3. So up to max(1, rows/32) rows may be off by < 1e-2; the rest must meet `tol` together. fp32
// models have no such steps: every row counts.
[[maybe_unused]] void expect_logits(const std::string &name, const VecF &out, const VecF &ref, uint32_t vocab,
                                    bool fp32_model, double tol, const std::string &ctx) {
    if (out.size() != ref.size() || vocab == 0 || ref.size() % vocab) {
        expect_rel(name, INFINITY, tol, ctx + " (size)");
        return;
    }
    if (fp32_model) {
        expect_rel(name, rel_error(out, ref), tol, ctx);
        return;
    }
    const size_t rows = ref.size() / vocab, allowed = std::max<size_t>(1, rows / 32);
    std::vector<std::pair<double, size_t>> row_err;
    for (size_t r = 0; r < rows; r++) {
        const double e = rel_error(&out[r * vocab], &ref[r * vocab], vocab);
        row_err.push_back({std::isnan(e) ? INFINITY : e, r});
    }
    typedef std::pair<double, size_t> RowErr;
    std::sort(row_err.begin(), row_err.end(), [](const RowErr &a, const RowErr &b) { return a.first > b.first; });
    size_t outliers = 0;
    while (outliers < allowed && outliers < rows && !(row_err[outliers].first < tol) && row_err[outliers].first < 1e-2)
        outliers++;
    std::vector<uint8_t> skip(rows, 0);
    for (size_t i = 0; i < outliers; i++) skip[row_err[i].second] = 1;
    double d = 0.0, n = 0.0;
    bool finite = true;
    for (size_t r = 0; r < rows; r++) {
        if (skip[r]) continue;
        for (size_t j = 0; j < vocab; j++) {
            const double o = out[r * vocab + j], w = ref[r * vocab + j];
            finite &= std::isfinite(o);
            d += (o - w) * (o - w);
            n += w * w;
        }
    }
    const double err = !finite ? INFINITY : d == 0.0 ? 0.0 : std::sqrt(d) / std::max(std::sqrt(n), 1e-30);
    expect_rel(name, err, tol, ctx + fmt(" (%zu of %zu rows set aside, worst row %.3g)", outliers, rows,
                                         rows ? row_err[0].first : 0.0));
    if (outliers)
        std::printf("  note: %s [%s]: %zu row(s) off by up to %.3g (an int8 activation code rounded the other way)\n",
                    name.c_str(), ctx.c_str(), outliers, row_err[0].first);
}

// CPU statuses of the failures a trainer must report like the CPU: a target = vocab, a NaN in a
// quantized weight (the quantizer refuses it), a NaN norm gain (a non-finite gradient).
struct CpuFailures {
    bitlm_status bad_target, nan_matrix, nan_gain;
    uint32_t matrix, gain;  // the params poisoned
};

CpuFailures cpu_failures(const TrainerCase &tc, const std::vector<Shape> &shapes, const std::vector<VecF> &w,
                         const VecI &in, const VecI &tg) {
    CpuFailures f = {BITLM_OK, BITLM_OK, BITLM_OK, 0, 0};
    while (f.matrix < shapes.size() && shapes[f.matrix].kind != ParamKind::Matrix) f.matrix++;
    while (f.gain < shapes.size() && shapes[f.gain].kind != ParamKind::Vector) f.gain++;
    float loss = 0.0f, gn = 0.0f;
    for (int which = 0; which < 3; which++) {
        HostParams hp(shapes, tc.optim);
        for (uint32_t i = 0; i < hp.size(); i++) std::copy(w[i].begin(), w[i].end(), hp.w[i].begin());
        VecI t = tg;
        if (which == 0) t[5] = (int32_t)tc.spec.config.vocab_size;
        if (which == 1 && f.matrix < hp.size()) hp.w[f.matrix][5] = NAN;
        if (which == 2 && f.gain < hp.size()) hp.w[f.gain][3] = NAN;
        const bitlm_status st = host_step(hp, tc.spec, tc.optim, tc.seq_len, in.data(), t.data(), tc.batch, 4, 1.0f,
                                          1.0f, &loss, &gn);
        (which == 0 ? f.bad_target : which == 1 ? f.nan_matrix : f.nan_gain) = st;
    }
    CHECK_MSG(f.bad_target == BITLM_ERR_TOKEN_OUT_OF_RANGE, "CPU: a bad target gave %d", (int)f.bad_target);
    CHECK_MSG(f.nan_matrix == BITLM_ERR_BAD_ARGUMENT, "CPU: a NaN weight gave %d", (int)f.nan_matrix);
    CHECK_MSG(f.nan_gain == BITLM_ERR_BAD_ARGUMENT, "CPU: a NaN gain gave %d", (int)f.nan_gain);
    return f;
}

void test_trainer_case(Gpu *gpu, const TrainerCase &tc) {
    const TrainModelSpec &spec = tc.spec;
    const uint32_t V = spec.config.vocab_size, T = tc.seq_len, B = tc.batch;
    const bool fp32_gemms = tc.precision == 0;
    CHECK_MSG(check_train_spec(spec) == BITLM_OK, "spec rejected (%s)", tc.name);
    const std::vector<Shape> shapes = model_shapes(spec);
    HostParams cpu(shapes, tc.optim);
    init_params(spec, cpu.p.data(), 1, 0.02f);
    const std::vector<VecF> w0 = cpu.w;

    // Logits of the initial weights (grad disabled), for full and short sequences.
    struct LogitsCase {
        uint32_t n_seq, len;
        VecI tok;
        VecF ref;
    };
    std::vector<LogitsCase> lcs = {{3, T, {}, {}}, {1, 7, {}, {}}};
    for (LogitsCase &lc : lcs) {
        lc.tok = rand_tokens((size_t)lc.n_seq * lc.len, V);
        lc.ref = host_logits(cpu, spec, lc.tok.data(), lc.n_seq, lc.len);
    }

    const VecI after_tok = rand_tokens((size_t)2 * T, V);  // logits after the device's steps (below)

    // Three steps on the CPU.
    const float lr_mult[3] = {1.0f, 0.5f, 1.0f}, wd_mult[3] = {1.0f, 1.0f, 0.5f};
    VecI in[3], tg[3];
    float loss[3] = {0, 0, 0}, gn[3] = {0, 0, 0};
    std::vector<VecF> w_after[3], s_after[3];
    for (int s = 0; s < 3; s++) {
        in[s] = rand_tokens((size_t)B * T, V);
        tg[s] = rand_tokens((size_t)B * T, V);
        const bitlm_status st = host_step(cpu, spec, tc.optim, T, in[s].data(), tg[s].data(), B, s + 1, lr_mult[s],
                                          wd_mult[s], &loss[s], &gn[s]);
        CHECK_MSG(st == BITLM_OK, "CPU step %d failed (%s): %d", s + 1, tc.name, (int)st);
        w_after[s] = cpu.w;
        s_after[s] = cpu.s;
    }
    std::printf("  trainer %s: CPU losses %.5f %.5f %.5f, grad norms %.4g %.4g %.4g\n", tc.name, loss[0], loss[1],
                loss[2], gn[0], gn[1], gn[2]);
    const CpuFailures fails = tc.error_tests ? cpu_failures(tc, shapes, cpu.w, in[0], tg[0]) : CpuFailures{};

#ifdef BITLM_HAVE_CUDA
    if (!use_gpu(gpu)) return;
    const std::string ptag = std::string(" [") + tc.tag + "]";
    DeviceTrainerConfig cfg{};
    cfg.spec = spec;
    cfg.optim = tc.optim;
    cfg.batch = B, cfg.micro_batch = tc.micro_batch, cfg.seq_len = T, cfg.precision = tc.precision;
    DeviceTrainer tr{};
    char err[512] = "";
    bitlm_status st = cuda::open_trainer(cfg, &tr, err, sizeof err);
    CHECK_MSG(st == BITLM_OK, "open_trainer (%s): status %d: %s", tc.name, (int)st, err);
    if (st != BITLM_OK) return;
    const uint64_t predicted = cuda::trainer_device_bytes(cfg, tr.micro_batch);
    std::printf("  trainer %s on %s: micro_batch %u, device memory %.2f MB (trainer_device_bytes says %.2f MB)\n",
                tc.name, tr.name ? tr.name : "?", tr.micro_batch, tr.device_bytes / 1e6, predicted / 1e6);
    CHECK_MSG(tr.micro_batch >= 1 && B % tr.micro_batch == 0 &&
                  (tc.micro_batch == 0 || tr.micro_batch == tc.micro_batch),
              "micro_batch %u for batch %u, asked %u (%s)", tr.micro_batch, B, tc.micro_batch, tc.name);
    auto last_error = [&]() -> std::string {
        const char *e = tr.last_error ? tr.last_error(tr.ctx) : nullptr;
        return e ? e : "(none)";
    };
    // One step as the CPU trainer runs it: forward_backward, then (only if that succeeded) optimize.
    auto dev_step = [&](const int32_t *inputs, const int32_t *targets, uint64_t step, float lr, float wd, float *l,
                        float *g) {
        const bitlm_status s = tr.forward_backward(tr.ctx, inputs, targets, l);
        return s != BITLM_OK ? s : tr.optimize(tr.ctx, step, lr, wd, g);
    };

    HostParams dev(shapes, tc.optim);  // host side of uploads
    for (uint32_t i = 0; i < dev.size(); i++) std::copy(w0[i].begin(), w0[i].end(), dev.w[i].begin());
    st = tr.upload(tr.ctx, dev.p.data(), dev.size());
    CHECK_MSG(st == BITLM_OK, "upload (%s): %d %s", tc.name, (int)st, last_error().c_str());

    HostParams back(shapes, tc.optim);  // host side of downloads (NaN first: what is not written shows)
    auto download = [&](const std::string &what) {
        for (uint32_t i = 0; i < back.size(); i++) {
            std::fill(back.w[i].begin(), back.w[i].end(), NAN);
            std::fill(back.s[i].begin(), back.s[i].end(), NAN);
        }
        const bitlm_status s = tr.download(tr.ctx, back.p.data(), back.size());
        CHECK_MSG(s == BITLM_OK, "download %s (%s): %d %s", what.c_str(), tc.name, (int)s, last_error().c_str());
        return s == BITLM_OK;
    };
    if (download("after upload"))
        for (uint32_t i = 0; i < back.size(); i++) {
            const std::string pctx = fmt("%s param %u", tc.name, i);
            expect_exact("trainer upload/download round trip weights", back.w[i], w0[i], pctx);
            expect_exact("trainer upload/download round trip state", back.s[i], dev.s[i], pctx);
        }

    for (const LogitsCase &lc : lcs) {
        VecF out((size_t)lc.n_seq * lc.len * V, NAN);
        st = tr.logits(tr.ctx, lc.tok.data(), lc.n_seq, lc.len, out.data());
        const std::string ctx = fmt("%s n_seq %u len %u", tc.name, lc.n_seq, lc.len);
        CHECK_MSG(st == BITLM_OK, "logits (%s): %d %s", ctx.c_str(), (int)st, last_error().c_str());
        if (st == BITLM_OK)
            expect_logits("trainer logits vs model_logits" + ptag, out, lc.ref, V, spec.fp32, fp32_gemms ? 1e-4 : 2e-2,
                          ctx);
    }

    // A quantized model is not continuous in its weights or activations. Two correct implementations
    // (the CPU and the GPU; measured just as well between the CPU's own AVX and reference GEMMs with
    // this test's data) sum in other orders, so now and then an int8 activation code rounds the other
    // way. That shifts the gradient of a weight column, and AdamW's first steps move a weight by about
    // lr * sign(g): where that column's gradients are small they change sign, and those weights end up
    // 2 lr apart (measured: up to 80 of 16384 weights, 1.7e-2 relative error of a matrix, in step 1 from
    // identical weights). Once weights differ, a ternary code can flip in the next forward and free
    // runs drift apart (5e-3 after 3 steps). So quantized models start every step from the CPU's
    // weights and optimizer state (uploaded again: steps 2 and 3 still exercise bias correction and
    // momentum), and the check there is that at most 5% of the weights of a matrix are off by more than
    // lr/4 (a wrong update moves nearly all of them), with relative error < 0.1 (norm gains, which
    // sit near 1: < 1e-3). The fp32 model has no such steps: it runs free for all 3 steps and must match
    // to 1e-4 (tighter than 1e-3, so that weight decay, lr * wd = 4e-4 of a weight per step, cannot go
    // missing unseen).
    // The flipped activation codes also move the loss of a quantized model (measured up to 3.7e-5 between
    // the CPU's backends; the GPU differs from the CPU in more sums): < 3e-4 there, 1e-4 for fp32.
    // tf32/bf16 GEMMs: loss within 2e-2; the weights are only checked for garbage.
    const bool resync = !spec.fp32;
    const double w_tol = !fp32_gemms ? 1.0 : spec.fp32 ? 1e-4 : 1e-1;
    const double s_tol = !fp32_gemms ? 10.0 : spec.fp32 ? 1e-3 : 1e-1;
    const double gn_tol = !fp32_gemms ? 1e-1 : spec.fp32 ? 1e-4 : 2e-3;
    const double loss_tol = !fp32_gemms ? 2e-2 : spec.fp32 ? 1e-4 : 3e-4;  // quantized: measured up to 3.7e-5
    for (int s = 0; s < 3; s++) {
        const std::string ctx = fmt("%s step %d", tc.name, s + 1);
        if (resync && s > 0) {
            for (uint32_t i = 0; i < dev.size(); i++) {
                std::copy(w_after[s - 1][i].begin(), w_after[s - 1][i].end(), dev.w[i].begin());
                std::copy(s_after[s - 1][i].begin(), s_after[s - 1][i].end(), dev.s[i].begin());
            }
            st = tr.upload(tr.ctx, dev.p.data(), dev.size());
            CHECK_MSG(st == BITLM_OK, "upload before %s: %d %s", ctx.c_str(), (int)st, last_error().c_str());
        }
        float dl = NAN, dg = NAN;
        st = dev_step(in[s].data(), tg[s].data(), s + 1, lr_mult[s], wd_mult[s], &dl, &dg);
        CHECK_MSG(st == BITLM_OK, "step (%s): %d %s", ctx.c_str(), (int)st, last_error().c_str());
        if (st != BITLM_OK) break;
        expect_rel("trainer loss" + ptag, std::fabs((double)dl - loss[s]) / std::fabs((double)loss[s]), loss_tol, ctx);
        expect_rel("trainer grad norm" + ptag, std::fabs((double)dg - gn[s]) / std::fabs((double)gn[s]), gn_tol, ctx);
        if (!download(ctx)) break;
        for (uint32_t i = 0; i < back.size(); i++) {
            const std::string pctx = ctx + fmt(" param %u (%ux%u)", i, back.p[i].rows, back.p[i].cols);
            const VecF &got = back.w[i], &want = w_after[s][i];
            const double werr = rel_error(got, want);
            // Norm gains (~1, 64-160 of them) are never near a sign flip's scale: 1e-3 holds for them.
            const bool gain = back.p[i].kind == ParamKind::Vector;
            expect_rel("trainer weights" + ptag + (gain ? " gains" : ""), werr,
                       gain && fp32_gemms && !spec.fp32 ? 1e-3 : w_tol, pctx);
            size_t worst = 0, over = 0;  // what kind of difference: a few columns, or every weight
            const float lr = tc.optim.kind == OptimKind::Muon && back.p[i].kind != ParamKind::Matrix
                                 ? tc.optim.adam_lr
                                 : tc.optim.lr;
            for (size_t j = 0; j < got.size(); j++) {
                const float d = std::fabs(got[j] - want[j]);
                if (!(d <= std::fabs(got[worst] - want[worst]))) worst = j;
                over += !(d <= 0.25f * lr);
            }
            if (fp32_gemms && !spec.fp32 && back.p[i].kind != ParamKind::Vector)
                expect_rel("trainer weights off by > lr/4 (fraction)" + ptag, (double)over / got.size(), 0.05,
                           pctx);
            if (fp32_gemms && !(werr < (spec.fp32 ? 1e-5 : 1e-2)))
                std::printf("  note: %s: relative error %.3g; %zu of %zu weights off by more than lr/4; worst "
                            "[%zu] %.6g vs %.6g\n",
                            pctx.c_str(), werr, over, got.size(), worst, got[worst], want[worst]);
            expect_rel("trainer optimizer state" + ptag, rel_error(back.s[i], s_after[s][i]), s_tol, pctx);
        }
    }
    // logits() after the device's own last step (its quantized weights must be the new ones) against the
    // CPU's logits from the weights the device holds: the same weights, so the tolerances of the first
    // logits check hold (comparing with the CPU's own step-3 weights would add the drift above).
    if (download("after the steps")) {
        HostParams mine(shapes, tc.optim);
        for (uint32_t i = 0; i < mine.size(); i++) std::copy(back.w[i].begin(), back.w[i].end(), mine.w[i].begin());
        const VecF ref = host_logits(mine, spec, after_tok.data(), 2, T);
        VecF out((size_t)2 * T * V, NAN);
        st = tr.logits(tr.ctx, after_tok.data(), 2, T, out.data());
        CHECK_MSG(st == BITLM_OK, "logits after steps (%s): %d %s", tc.name, (int)st, last_error().c_str());
        if (st == BITLM_OK)
            expect_logits("trainer logits after 3 steps (CPU on the device's weights)" + ptag, out, ref, V, spec.fp32,
                          fp32_gemms ? 1e-4 : 2e-2, tc.name);
    }

    if (tc.error_tests && download("before the failing steps")) {
        // Failures read as on the CPU, and change no weight and no optimizer state.
        for (uint32_t i = 0; i < dev.size(); i++) {
            std::copy(back.w[i].begin(), back.w[i].end(), dev.w[i].begin());
            std::copy(back.s[i].begin(), back.s[i].end(), dev.s[i].begin());
        }
        auto unchanged = [&](const std::string &what) {
            if (!download(what)) return;
            for (uint32_t i = 0; i < back.size(); i++) {
                expect_exact("trainer: a failed step changes no weight", back.w[i], dev.w[i], what);
                expect_exact("trainer: a failed step changes no optimizer state", back.s[i], dev.s[i], what);
            }
        };
        float dl = 0.0f, dg = 0.0f;
        VecI bad = tg[0];
        bad[5] = (int32_t)V;
        st = dev_step(in[0].data(), bad.data(), 4, 1.0f, 1.0f, &dl, &dg);
        CHECK_MSG(st == fails.bad_target, "a target = vocab: status %d, the CPU's %d (%s)", (int)st,
                  (int)fails.bad_target, last_error().c_str());
        unchanged("after a bad target");
        bad = in[0];
        bad[3] = -1;
        st = dev_step(bad.data(), tg[0].data(), 4, 1.0f, 1.0f, &dl, &dg);
        CHECK_MSG(st == BITLM_ERR_TOKEN_OUT_OF_RANGE, "an input token -1: status %d, want TOKEN_OUT_OF_RANGE (%s)",
                  (int)st, last_error().c_str());
        unchanged("after a bad input token");
        bad[3] = (int32_t)V;
        st = dev_step(bad.data(), tg[0].data(), 4, 1.0f, 1.0f, &dl, &dg);
        CHECK_MSG(st == BITLM_ERR_TOKEN_OUT_OF_RANGE, "an input token = vocab: status %d, want TOKEN_OUT_OF_RANGE (%s)",
                  (int)st, last_error().c_str());
        unchanged("after an input token = vocab");
        for (int poison = 0; poison < 2; poison++) {  // a NaN in a quantized weight, then in a norm gain
            const uint32_t pi = poison == 0 ? fails.matrix : fails.gain;
            if (pi >= dev.size()) continue;
            const float keep = dev.w[pi][poison == 0 ? 5 : 3];
            dev.w[pi][poison == 0 ? 5 : 3] = NAN;
            st = tr.upload(tr.ctx, dev.p.data(), dev.size());
            CHECK_MSG(st == BITLM_OK, "upload with a NaN weight: %d", (int)st);
            dg = 0.0f;
            st = dev_step(in[0].data(), tg[0].data(), 4, 1.0f, 1.0f, &dl, &dg);
            const bitlm_status want = poison == 0 ? fails.nan_matrix : fails.nan_gain;
            const char *what = poison == 0 ? "a NaN in a quantized weight" : "a NaN norm gain";
            CHECK_MSG(st == want, "%s: status %d, the CPU's %d (%s)", what, (int)st, (int)want, last_error().c_str());
            if (poison == 1)
                CHECK_MSG(!std::isfinite(dg), "%s: grad_norm %g, want non-finite (as optim_step reports it)", what, dg);
            unchanged(std::string("after ") + what);
            dev.w[pi][poison == 0 ? 5 : 3] = keep;
        }
        // The trainer goes on once the weights are good again.
        st = tr.upload(tr.ctx, dev.p.data(), dev.size());
        CHECK(st == BITLM_OK);
        st = dev_step(in[0].data(), tg[0].data(), 4, 1.0f, 1.0f, &dl, &dg);
        CHECK_MSG(st == BITLM_OK && std::isfinite(dl) && std::isfinite(dg),
                  "a good step after the failures: status %d loss %g (%s)", (int)st, dl, last_error().c_str());
    }
    tr.destroy(tr.ctx);
#else
    (void)fp32_gemms;
    (void)after_tok;
    (void)fails;
#endif
}

void test_trainer(Gpu *gpu) {
    OptimConfig adamw;  // the tiny preset's defaults
    adamw.kind = OptimKind::AdamW, adamw.lr = 4e-3f, adamw.adam_lr = 4e-3f, adamw.weight_decay = 0.1f;
    // eps 1e-6 rather than 1e-8: the first AdamW steps move every weight by about lr * sign(g), so with a
    // tiny eps a gradient within float noise of 0 (CPU and GPU sum in other orders) could step either
    // way by 2 lr; with 1e-6 such a weight moves by ~lr * g / eps, far below the 1e-3 tolerance.
    adamw.eps = 1e-6f;
    OptimConfig muon;
    muon.kind = OptimKind::Muon, muon.lr = 0.02f, muon.adam_lr = 0.008f, muon.weight_decay = 0.1f, muon.eps = 1e-6f;
    const StorageRecipe ternary_rows = {DType::Ternary, ScaleKind::Row, 0, DType::Int8, DType::Int8};
    const StorageRecipe group_f16 = {DType::Ternary, ScaleKind::Group, 2 * kGroupMultiple, DType::F16, DType::Int8};
    const StorageRecipe binary_tensor = {DType::Binary, ScaleKind::Tensor, 0, DType::Int8, DType::Ternary};
    const TrainModelSpec tiny = preset_spec("tiny");
    const TrainModelSpec relu2_pre =
        hand_spec(BITLM_FFN_RELU2, BITLM_NORM_PLACE_PRE, BITLM_HEAD_TIED, ternary_rows, false);
    const TrainerCase cases[] = {
        {"tiny/adamw", "tiny (swiglu, subln, ternary rows, int8 tied head) adamw", tiny, adamw, 4, 2, 32, 0, true},
        {"relu2-pre/adamw", "relu2 pre ternary rows adamw", relu2_pre, adamw, 3, 0, 32, 0, false},
        {"fp32-model/adamw", "relu2 pre fp32 model adamw",
         hand_spec(BITLM_FFN_RELU2, BITLM_NORM_PLACE_PRE, BITLM_HEAD_TIED, ternary_rows, true), adamw, 2, 1, 32, 0,
         false},
        {"group64-f16emb-int8head/adamw", "relu2 subln ternary group64, f16 embedding, int8 separate head adamw",
         hand_spec(BITLM_FFN_RELU2, BITLM_NORM_PLACE_SUBLN, BITLM_HEAD_SEPARATE, group_f16, false), adamw, 2, 2, 32, 0,
         false},
        {"binary-ternaryhead/adamw", "swiglu pre binary tensor, ternary separate head adamw",
         hand_spec(BITLM_FFN_SWIGLU, BITLM_NORM_PLACE_PRE, BITLM_HEAD_SEPARATE, binary_tensor, false), adamw, 2, 1, 32,
         0, false},
        {"tiny/muon", "tiny muon", tiny, muon, 4, 2, 32, 0, false},
        {"relu2-pre/muon", "relu2 pre muon", relu2_pre, muon, 2, 2, 32, 0, false},
        {"fp32-model/muon", "swiglu subln fp32 model muon",
         hand_spec(BITLM_FFN_SWIGLU, BITLM_NORM_PLACE_SUBLN, BITLM_HEAD_TIED, ternary_rows, true), muon, 4, 2, 32, 0,
         false},
        {"tiny/adamw/tf32", "tiny adamw tf32", tiny, adamw, 4, 2, 32, 1, false},
        {"tiny/adamw/bf16", "tiny adamw bf16", tiny, adamw, 4, 2, 32, 2, false},
    };
    for (const TrainerCase &tc : cases) test_trainer_case(gpu, tc);
}

}  // namespace

int main() {
    Gpu *gpu = nullptr;
    std::string skip;
#ifdef BITLM_HAVE_CUDA
    Gpu gpu_ctx;
    char why[256] = "";
    if (cuda::device_available(why, sizeof why)) {
        cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
            std::printf("  device: %s (sm_%d%d, %.1f GB)\n", prop.name, prop.major, prop.minor,
                        prop.totalGlobalMem / 1e9);
        const cudaError_t e = cudaStreamCreate(&gpu_ctx.stream);
        CHECK_MSG(e == cudaSuccess, "cudaStreamCreate: %s", cudaGetErrorString(e));
        if (e == cudaSuccess) {
            gpu_ctx.blas = cuda::blas_create(gpu_ctx.stream);
            CHECK_MSG(gpu_ctx.blas != nullptr, "blas_create failed on a usable device");
            if (gpu_ctx.blas) gpu = &gpu_ctx;
        }
    } else {
        skip = std::string("skipped: no GPU (") + (why[0] ? why : "device_available said no") + ")";
    }
#else
    skip = "skipped: no GPU (built without CUDA)";
#endif

    test_quantize_weights(gpu);
    test_quantize_act(gpu);
    test_scales(gpu);
    test_gemm(gpu);
    test_embedding(gpu);
    test_rmsnorm(gpu);
    test_rope(gpu);
    test_pointwise(gpu);
    test_attention(gpu);
    test_cross_entropy(gpu);
    test_optimizers(gpu);
    test_trainer(gpu);

#ifdef BITLM_HAVE_CUDA
    if (gpu_ctx.blas) cuda::blas_destroy(gpu_ctx.blas);
    if (gpu_ctx.stream) cudaStreamDestroy(gpu_ctx.stream);
#endif
    if (gpu) {
        print_stats();
    } else if (!skip.empty()) {
        std::printf("  CPU references built (%d CPU-side checks)\n", check::checks());
        std::printf("%s\n", skip.c_str());
    }
    return check::finish("test_cuda_ops");
}
