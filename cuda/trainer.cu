// trainer.cu — the GPU backend's DeviceTrainer: one device arena for parameters, gradients, optimizer
// state, activations and scratch; the training step (micro-batched forward and backward, then the
// optimizer of lib/train/optim.cpp on the device) and forward-only logits for validation.
#include <stdio.h>
#include <string.h>
#include <string>
#include <vector>
#include "model.h"
#include "trainer.h"

namespace bitlm {
namespace cuda {
namespace {

constexpr uint64_t kChunk = kOptimChunk;
uint64_t chunks_of(uint64_t count) { return (count + kChunk - 1) / kChunk; }

Precision precision_of(uint32_t p) { return p == 0 ? Precision::Fp32 : p == 1 ? Precision::Tf32 : Precision::Bf16; }

struct CudaTrainer {
    DeviceTrainerConfig cfg{};
    cudaStream_t stream = nullptr;
    Blas *blas = nullptr;
    void *block = nullptr;  // the one device allocation
    Model model;
    std::vector<uint64_t> state_floats, chunk_offset;
    float *grads = nullptr;  // every param's gradient in one block, so a step zeroes them with one memset
    uint64_t grad_floats = 0;
    uint64_t total_chunks = 0;
    double *partials = nullptr, *sumsq = nullptr, *muon_sumsq = nullptr;
    float *row_loss = nullptr, *loss = nullptr;
    float *ns_x = nullptr, *ns_a = nullptr, *ns_b = nullptr, *ns_t = nullptr;  // Muon Newton-Schulz buffers
    bool quantized = false;  // m.quant holds the current weights' quantization
    std::string error, name;

    bitlm_status fail(const std::string &what) {
        const cudaError_t e = cudaGetLastError();
        const char *blas_error = blas_last_error(blas);
        error = what + (e != cudaSuccess ? std::string(": ") + cudaGetErrorString(e) : std::string()) +
                (blas_error ? std::string(" (cuBLAS: ") + blas_error + ")" : std::string());
        return BITLM_ERR_DEVICE;
    }
};

// Places everything in `arena` (a counting arena when its base is null): parameters in the host
// layout (so upload/download are plain copies per param), optimizer state, reductions, the graph.
bool place_all(CudaTrainer &t, DeviceArena &a) {
    const TrainModelSpec &spec = t.cfg.spec;
    const uint32_t n = train_param_count(spec);
    Model &m = t.model;
    m.params.assign(n, Param{});
    t.state_floats.assign(n, 0);
    t.chunk_offset.assign(n, 0);
    t.total_chunks = 0;
    uint64_t max_pq = 0, max_pp = 0;
    std::vector<uint64_t> grad_offset(n);
    t.grad_floats = 0;
    for (uint32_t i = 0; i < n; i++) {  // each gradient starts on 64 floats, as the arena aligns buffers
        const ParamInfo info = train_param_info(spec, i);
        grad_offset[i] = t.grad_floats;
        t.grad_floats += ((uint64_t)info.rows * info.cols + 63) / 64 * 64;
    }
    t.grads = a.floats(t.grad_floats);
    for (uint32_t i = 0; i < n; i++) {
        const ParamInfo info = train_param_info(spec, i);
        Param &p = m.params[i];
        p.name = nullptr;
        p.kind = info.kind;
        p.rows = info.rows;
        p.cols = info.cols;
        p.w = a.floats(p.count());
        p.g = t.grads + grad_offset[i];
        t.state_floats[i] = optimizer_state_floats(t.cfg.optim, p);
        p.state = a.floats(t.state_floats[i]);
        t.chunk_offset[i] = t.total_chunks;
        t.total_chunks += chunks_of(p.count());
        if (t.cfg.optim.kind == OptimKind::Muon && p.kind == ParamKind::Matrix) {
            const uint64_t pd = p.rows < p.cols ? p.rows : p.cols, qd = p.rows < p.cols ? p.cols : p.rows;
            if (pd * qd > max_pq) max_pq = pd * qd;
            if (pd * pd > max_pp) max_pp = pd * pd;
        }
    }
    t.partials = a.take<double>(t.total_chunks + 1);
    t.sumsq = a.take<double>(1);
    t.muon_sumsq = a.take<double>(1);
    t.loss = a.floats(1);
    t.row_loss = a.floats((uint64_t)t.cfg.batch * t.cfg.seq_len);
    if (max_pq) {
        t.ns_x = a.floats(max_pq);
        t.ns_a = a.floats(max_pp);
        t.ns_b = a.floats(max_pp);
        t.ns_t = a.floats(max_pq);
    }
    return layout_model(m, a) && a.ok;
}

bool tokens_valid(const int32_t *tokens, uint64_t n, uint32_t vocab) {
    for (uint64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= vocab) return false;
    return true;
}

bool copy_in(CudaTrainer &t, void *dst, const void *src, uint64_t bytes) {
    return cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, t.stream) == cudaSuccess;
}

bitlm_status quantize_checked(CudaTrainer &t) {
    if (t.quantized) return BITLM_OK;
    cudaMemsetAsync(t.model.error_flag, 0, sizeof(uint32_t), t.stream);
    if (!quantize_weights_for_step(t.model)) return t.fail("quantizing the weights");
    uint32_t flag = 0;
    if (cudaMemcpyAsync(&flag, t.model.error_flag, sizeof flag, cudaMemcpyDeviceToHost, t.stream) != cudaSuccess ||
        cudaStreamSynchronize(t.stream) != cudaSuccess)
        return t.fail("quantizing the weights");
    if (flag) {  // non-finite weights or a scale beyond fp16, as the CPU refuses
        t.error = "the quantizers refused the weights (not finite, or a scale beyond fp16)";
        return BITLM_ERR_BAD_ARGUMENT;
    }
    t.quantized = true;
    return BITLM_OK;
}

// ---- DeviceTrainer entry points ----------------------------------------------------------------------

bitlm_status upload(void *ctx, const Param *params, uint32_t n) {
    CudaTrainer &t = *static_cast<CudaTrainer *>(ctx);
    if (n != t.model.params.size()) return BITLM_ERR_BAD_ARGUMENT;
    t.quantized = false;  // before any write: a failed upload leaves nothing marked current
    for (uint32_t i = 0; i < n; i++) {
        const Param &d = t.model.params[i];
        if (params[i].count() != d.count()) return BITLM_ERR_SHAPE_MISMATCH;
        if (!copy_in(t, d.w, params[i].w, d.count() * sizeof(float)) ||
            !copy_in(t, d.state, params[i].state, t.state_floats[i] * sizeof(float)))
            return t.fail("uploading parameters");
    }
    return cudaStreamSynchronize(t.stream) == cudaSuccess ? BITLM_OK : t.fail("uploading parameters");
}

bitlm_status download(void *ctx, Param *params, uint32_t n) {
    CudaTrainer &t = *static_cast<CudaTrainer *>(ctx);
    if (n != t.model.params.size()) return BITLM_ERR_BAD_ARGUMENT;
    for (uint32_t i = 0; i < n; i++) {
        const Param &d = t.model.params[i];
        if (params[i].count() != d.count()) return BITLM_ERR_SHAPE_MISMATCH;
        if (cudaMemcpyAsync(params[i].w, d.w, d.count() * sizeof(float), cudaMemcpyDeviceToHost, t.stream) !=
                cudaSuccess ||
            cudaMemcpyAsync(params[i].state, d.state, t.state_floats[i] * sizeof(float), cudaMemcpyDeviceToHost,
                            t.stream) != cudaSuccess)
            return t.fail("downloading parameters");
    }
    return cudaStreamSynchronize(t.stream) == cudaSuccess ? BITLM_OK : t.fail("downloading parameters");
}

bitlm_status forward_backward(void *ctx, const int32_t *inputs, const int32_t *targets, float *loss) {
    CudaTrainer &t = *static_cast<CudaTrainer *>(ctx);
    Model &m = t.model;
    const uint32_t T = t.cfg.seq_len, mb = m.micro, V = t.cfg.spec.config.vocab_size;
    const uint64_t n = (uint64_t)t.cfg.batch * T;
    if (!tokens_valid(inputs, n, V) || !tokens_valid(targets, n, V)) return BITLM_ERR_TOKEN_OUT_OF_RANGE;
    const bitlm_status st = quantize_checked(t);
    if (st != BITLM_OK) return st;
    cudaMemsetAsync(t.grads, 0, t.grad_floats * sizeof(float), t.stream);
    const float dlogit = 1.0f / (float)n;  // d mean / d row loss, as the CPU's op_cross_entropy
    for (uint32_t first = 0; first < t.cfg.batch; first += mb) {
        const uint64_t at = (uint64_t)first * T, rows = (uint64_t)mb * T;
        if (!copy_in(t, m.tokens, inputs + at, rows * sizeof(int32_t)) ||
            !copy_in(t, m.targets, targets + at, rows * sizeof(int32_t)))
            return t.fail("copying a batch");
        if (!forward(m, mb, T, dlogit, t.row_loss + at)) return t.fail("forward pass");
        if (!backward(m, mb)) return t.fail("backward pass");
    }
    sum_in_order(t.row_loss, (uint32_t)n, t.loss, t.stream);
    float total = 0;
    if (cudaMemcpyAsync(&total, t.loss, sizeof total, cudaMemcpyDeviceToHost, t.stream) != cudaSuccess ||
        cudaStreamSynchronize(t.stream) != cudaSuccess)
        return t.fail("training step");
    *loss = total / (float)n;
    return BITLM_OK;
}

// Muon for one Matrix param (lib/train/optim.cpp's muon_matrix, on the device).
bool muon_matrix(CudaTrainer &t, const OptimHyper &h, const Param &p) {
    const uint32_t rows = p.rows, cols = p.cols;
    const bool tall = rows > cols;
    const uint32_t pd = tall ? cols : rows, qd = tall ? rows : cols;
    const uint64_t pq = (uint64_t)pd * qd, pp = (uint64_t)pd * pd;
    Blas *b = t.blas;
    const Precision prec = t.model.precision;
    muon_momentum(h, p.g, p.state, rows, cols, tall, t.ns_x, t.partials, t.stream);
    sum_doubles_in_order(t.partials, chunks_of(p.count()), t.muon_sumsq, t.stream);
    muon_normalize(t.ns_x, pq, t.muon_sumsq, t.stream);
    for (uint32_t s = 0; s < t.cfg.optim.ns_steps; s++) {
        if (!gemm(b, prec, false, true, pd, pd, qd, t.ns_x, qd, t.ns_x, qd, 0.0f, t.ns_a, pd) ||
            !gemm(b, prec, false, false, pd, pd, pd, t.ns_a, pd, t.ns_a, pd, 0.0f, t.ns_b, pd))
            return false;
        muon_combine(t.ns_a, t.ns_b, pp, kNsB, kNsC, t.stream);
        if (!gemm(b, prec, false, false, pd, qd, pd, t.ns_b, pd, t.ns_x, qd, 0.0f, t.ns_t, qd)) return false;
        muon_step_x(t.ns_x, t.ns_t, pq, kNsA, t.stream);
    }
    muon_apply(p.w, t.ns_x, rows, cols, tall, 1.0f - h.lr * h.wd, muon_lr_eff(h, rows, cols), t.stream);
    return true;
}

bitlm_status optimize(void *ctx, uint64_t step, float lr_mult, float wd_mult, float *grad_norm) {
    CudaTrainer &t = *static_cast<CudaTrainer *>(ctx);
    const OptimConfig &oc = t.cfg.optim;
    if (!optim_args_valid(oc, step, lr_mult, wd_mult)) return BITLM_ERR_BAD_ARGUMENT;
    std::vector<Param> &params = t.model.params;
    // The global norm as the CPU structures it: double sums over 16384-weight chunks (a tree within a
    // chunk here, so the last bits may differ from the CPU's), the chunks added in list order.
    for (uint32_t i = 0; i < params.size(); i++)
        grad_sumsq_chunks(params[i].g, params[i].count(), t.partials + t.chunk_offset[i], t.stream);
    sum_doubles_in_order(t.partials, t.total_chunks, t.sumsq, t.stream);
    double sumsq = 0;
    if (cudaMemcpyAsync(&sumsq, t.sumsq, sizeof sumsq, cudaMemcpyDeviceToHost, t.stream) != cudaSuccess ||
        cudaStreamSynchronize(t.stream) != cudaSuccess)
        return t.fail("gradient norm");
    if (!(sumsq - sumsq == 0.0)) {  // NaN or inf: nothing is updated
        *grad_norm = (float)sumsq;
        return BITLM_ERR_BAD_ARGUMENT;
    }
    const double norm = optim_sqrt(sumsq);
    *grad_norm = (float)norm;
    const OptimHyper h = optim_hyper(oc, step, lr_mult, wd_mult, norm);
    t.quantized = false;  // weights change from here on, even if a later call fails
    const bool muon = oc.kind == OptimKind::Muon;
    for (uint32_t i = 0; i < params.size(); i++) {
        const Param &p = params[i];
        if (p.count() == 0) continue;
        const bool decays = p.kind == ParamKind::Matrix || p.kind == ParamKind::Embedding;
        if (muon && p.kind == ParamKind::Matrix) {
            if (!muon_matrix(t, h, p)) return t.fail("Muon step");
        } else if (oc.kind == OptimKind::SGD) {
            sgd_update(h, decays, p.w, p.g, p.state, p.count(), t.stream);
        } else {
            adamw_update(h, decays, p.w, p.g, p.state, p.state + p.count(), p.count(), t.stream);
        }
    }
    if (cudaPeekAtLastError() != cudaSuccess || cudaStreamSynchronize(t.stream) != cudaSuccess)
        return t.fail("optimizer step");
    return BITLM_OK;
}

bitlm_status logits(void *ctx, const int32_t *tokens, uint32_t n_seq, uint32_t len, float *out) {
    CudaTrainer &t = *static_cast<CudaTrainer *>(ctx);
    Model &m = t.model;
    const uint32_t V = t.cfg.spec.config.vocab_size;
    if (len == 0 || len > t.cfg.seq_len) return BITLM_ERR_BAD_ARGUMENT;
    if (!tokens_valid(tokens, (uint64_t)n_seq * len, V)) return BITLM_ERR_TOKEN_OUT_OF_RANGE;
    const bitlm_status st = quantize_checked(t);
    if (st != BITLM_OK) return st;
    // Validation in fp32 whatever the training precision (integer products stay exact), so it comes as
    // close as GEMMs allow to what the packed model computes.
    struct KeepPrecision {
        Model &m;
        Precision saved;
        ~KeepPrecision() { m.precision = saved; }
    } keep{m, m.precision};
    m.precision = Precision::Fp32;
    for (uint32_t first = 0; first < n_seq; first += m.micro) {
        const uint32_t count = n_seq - first < m.micro ? n_seq - first : m.micro;
        const uint64_t at = (uint64_t)first * len, rows = (uint64_t)count * len;
        if (!copy_in(t, m.tokens, tokens + at, rows * sizeof(int32_t))) return t.fail("copying tokens");
        if (!forward(m, count, len, 0.0f, nullptr)) return t.fail("forward pass");
        if (cudaMemcpyAsync(out + at * V, m.logits, rows * V * sizeof(float), cudaMemcpyDeviceToHost, t.stream) !=
            cudaSuccess)
            return t.fail("copying logits");
    }
    return cudaStreamSynchronize(t.stream) == cudaSuccess ? BITLM_OK : t.fail("forward pass");
}

const char *last_error(void *ctx) { return static_cast<CudaTrainer *>(ctx)->error.c_str(); }

void destroy(void *ctx) {
    CudaTrainer *t = static_cast<CudaTrainer *>(ctx);
    if (!t) return;
    if (t->blas) blas_destroy(t->blas);
    if (t->block) cudaFree(t->block);
    if (t->stream) cudaStreamDestroy(t->stream);
    delete t;
}

void put(char *dst, uint32_t size, const std::string &s) {
    if (dst && size) snprintf(dst, size, "%s", s.c_str());
}

std::string gib(uint64_t bytes) {
    char b[32];
    snprintf(b, sizeof b, "%.2f GiB", (double)bytes / (1024.0 * 1024.0 * 1024.0));
    return b;
}

}  // namespace

bool device_available(char *why, uint32_t why_size) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        put(why, why_size, std::string("no GPU: ") + cudaGetErrorString(e));
        cudaGetLastError();  // clear it
        return false;
    }
    if (count == 0) {
        put(why, why_size, "no GPU: no CUDA device found");
        return false;
    }
    return true;
}

uint64_t trainer_device_bytes(const DeviceTrainerConfig &config, uint32_t micro_batch) {
    CudaTrainer t;
    t.cfg = config;
    t.model.spec = config.spec;
    t.model.seq_len = config.seq_len;
    t.model.micro = micro_batch;
    DeviceArena counting;
    place_all(t, counting);
    return counting.used + 4096;
}

bitlm_status open_trainer(const DeviceTrainerConfig &config, DeviceTrainer *out, char *err, uint32_t err_size) {
    char why[256];
    if (!device_available(why, sizeof why)) {
        put(err, err_size, why);
        return BITLM_ERR_DEVICE;
    }
    const DeviceTrainerConfig &c = config;
    if (check_train_spec(c.spec) != BITLM_OK || c.batch == 0 || c.seq_len == 0 || c.seq_len > c.spec.config.max_seq_len ||
        (c.micro_batch && c.batch % c.micro_batch) || c.precision > 2) {
        put(err, err_size, "the GPU trainer does not take this configuration (micro-batch must divide the batch)");
        return BITLM_ERR_BAD_ARGUMENT;
    }
    if (cudaSetDevice(0) != cudaSuccess) {
        put(err, err_size, std::string("cannot use GPU 0: ") + cudaGetErrorString(cudaGetLastError()));
        return BITLM_ERR_DEVICE;
    }
    CudaTrainer *t = new CudaTrainer();
    auto bail = [&](const std::string &what) {
        const cudaError_t e = cudaGetLastError();
        put(err, err_size, what + (e != cudaSuccess ? std::string(": ") + cudaGetErrorString(e) : std::string()));
        destroy(t);
        return BITLM_ERR_DEVICE;
    };
    // The stream and cuBLAS first, so the free memory measured below is what our arena can have.
    if (cudaStreamCreateWithFlags(&t->stream, cudaStreamNonBlocking) != cudaSuccess) return bail("cannot create a stream");
    t->blas = blas_create(t->stream);
    if (!t->blas) return bail("cannot start cuBLAS");
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    uint32_t mb = c.micro_batch;
    if (mb == 0) {  // the largest divisor of the batch whose buffers fit in 92% of the free memory
        for (uint32_t d = c.batch; d >= 1; d--)
            if (c.batch % d == 0 && trainer_device_bytes(c, d) <= (uint64_t)(0.92 * (double)free_bytes)) {
                mb = d;
                break;
            }
    }
    const uint64_t need = trainer_device_bytes(c, mb ? mb : 1);
    if (mb == 0 || need > (uint64_t)(0.97 * (double)free_bytes))
        return bail("the model does not fit in GPU memory: micro-batch " + std::to_string(mb ? mb : 1) + " needs " +
                    gib(need) + ", " + gib(free_bytes) + " free (lower --micro-batch or --ctx)");
    t->cfg = c;
    t->model.spec = c.spec;
    t->model.seq_len = c.seq_len;
    t->model.micro = mb;
    t->model.precision = precision_of(c.precision);
    if (cudaMalloc(&t->block, need) != cudaSuccess) return bail("cannot allocate " + gib(need) + " on the GPU");
    cudaMemsetAsync(t->block, 0, need, t->stream);
    DeviceArena arena;
    arena.base = static_cast<uint8_t *>(t->block);
    arena.capacity = need;
    if (!place_all(*t, arena)) return bail("device arena layout");
    t->model.stream = t->stream;
    t->model.blas = t->blas;

    std::vector<float> cs((uint64_t)c.seq_len * c.spec.config.head_dim);
    rope_table(c.spec.config.rope_theta, c.spec.config.head_dim, c.seq_len, cs.data());
    if (!copy_in(*t, t->model.rope_cs, cs.data(), cs.size() * sizeof(float)) ||
        cudaStreamSynchronize(t->stream) != cudaSuccess)
        return bail("cannot initialize the device arena");

    cudaDeviceProp prop;
    t->name = "cuda";
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) t->name += std::string(": ") + prop.name;
    out->name = t->name.c_str();
    out->ctx = t;
    out->micro_batch = mb;
    out->device_bytes = need;
    out->upload = upload;
    out->download = download;
    out->forward_backward = forward_backward;
    out->optimize = optimize;
    out->logits = logits;
    out->last_error = last_error;
    out->destroy = destroy;
    return BITLM_OK;
}

}  // namespace cuda
}  // namespace bitlm
