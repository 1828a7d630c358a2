// model.cu — the model family's training graph on the GPU: the forward pass of
// lib/train/train_model.cpp op for op, and its backward, on buffers laid out once (model.h).
#include "model.h"

namespace bitlm {
namespace cuda {
namespace {

LayerIndex layer_index(const TrainModelSpec &spec, uint32_t layer) {
    LayerIndex li;
    const uint32_t n = train_param_count(spec);
    for (uint32_t i = 0; i < n; i++) {
        const ParamInfo p = train_param_info(spec, i);
        if (p.layer != layer) continue;
        switch (p.role) {
            case TensorRole::AttnNorm: li.attn_norm = (int)i; break;
            case TensorRole::Wq: li.wq = (int)i; break;
            case TensorRole::Wk: li.wk = (int)i; break;
            case TensorRole::Wv: li.wv = (int)i; break;
            case TensorRole::AttnSubNorm: li.attn_sub = (int)i; break;
            case TensorRole::Wo: li.wo = (int)i; break;
            case TensorRole::FfnNorm: li.ffn_norm = (int)i; break;
            case TensorRole::WGate: li.wgate = (int)i; break;
            case TensorRole::WUp: li.wup = (int)i; break;
            case TensorRole::FfnSubNorm: li.ffn_sub = (int)i; break;
            case TensorRole::WDown: li.wdown = (int)i; break;
            default: break;
        }
    }
    return li;
}

int find_role(const TrainModelSpec &spec, TensorRole role) {
    const uint32_t n = train_param_count(spec);
    for (uint32_t i = 0; i < n; i++)
        if (train_param_info(spec, i).role == role) return (int)i;
    return -1;
}

bool subln(const Model &m) { return m.spec.config.norm_placement == BITLM_NORM_PLACE_SUBLN; }
bool swiglu(const Model &m) { return m.spec.config.ffn_kind == BITLM_FFN_SWIGLU; }
uint32_t max4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    const uint32_t x = a > b ? a : b, y = c > d ? c : d;
    return x > y ? x : y;
}

// Whether op_linear quantizes this layer's input to int8 (never for fp32 or fp16 weights).
bool int8_input(const LinearQuant &q) { return q.int8_input && q.weight != DType::F32 && q.weight != DType::F16; }

LinearIn place_input(DeviceArena &a, uint64_t rows, uint32_t cols, bool int8) {
    LinearIn in;
    in.x = a.floats(rows * cols);
    in.xs = int8 ? a.floats(rows) : nullptr;
    in.cols = cols;
    return in;
}

// The quantized weight the head reads: the embedding's when tied.
const QuantWeight &head_weight(const Model &m) { return m.quant[m.head >= 0 ? (uint32_t)m.head : 0]; }

// Stores `x` (n rows) as a linear input: int8 codes and scales, or a copy of the floats.
void set_input(Model &m, const float *x, uint32_t n, LinearIn &in) {
    if (in.xs) {
        quantize_act_rows(x, n, in.cols, in.x, in.xs, m.stream);
    } else if (x != in.x) {
        cudaMemcpyAsync(in.x, x, (uint64_t)n * in.cols * sizeof(float), cudaMemcpyDeviceToDevice, m.stream);
    }
}

// y[n x rows] = in . values^T, then op_linear's epilogue (acc * w_scale) * x_scale. Integer codes on
// both sides run on bf16 tensor cores exactly (fp32 accumulation of integers below 2^24).
bool linear_forward(Model &m, const LinearIn &in, const QuantWeight &w, uint32_t n, float *y) {
    const Param &p = m.params[w.param];
    // Integer codes on both sides: exact on bf16 tensor cores. Other quantized weights (fp16, or group
    // scales: code * fp16 scale) keep their 11-bit significands in fp32, as inference computes them;
    // only the unquantized --fp32 model uses the training precision.
    // Exact needs every partial sum below 2^24: |code| <= 1 (ternary, binary) or 127 (int8) times 127.
    const double bound = 127.0 * (w.q.weight == DType::Int8 ? 127.0 : 1.0) * (double)p.cols;
    const bool exact = w.integer && in.xs != nullptr && bound < 16777216.0;
    const Precision p_fwd = exact ? Precision::Exact : w.q.weight == DType::F32 ? m.precision : Precision::Fp32;
    if (!gemm(m.blas, p_fwd, false, true, n, p.rows, p.cols, in.x, in.cols, w.values,
              p.cols, 0.0f, y, p.rows))
        return false;
    if (w.integer || in.xs) scale_output(y, n, p.rows, w.integer ? w.row_scale : nullptr, in.xs, m.stream);
    return true;
}

// x_hat, the input the weight gradient sees (straight through the activation quantizer): codes * scale.
const float *input_hat(Model &m, const LinearIn &in, uint32_t n) {
    if (!in.xs) return in.x;
    scale_rows(in.x, n, in.cols, in.xs, m.xhat, m.stream);
    return m.xhat;
}

// dW += dY^T x_hat;  dX = beta dX + dY . W_deq (straight through the weight quantizer: the
// gradient reaches the latent weights; W_deq = codes * scale is what the forward multiplied by).
bool linear_backward(Model &m, const float *x_hat, const QuantWeight &w, const float *dy, uint32_t n, float *dx,
                     float beta) {
    const Param &p = m.params[w.param];
    if (!gemm(m.blas, m.precision, true, false, p.rows, p.cols, n, dy, p.rows, x_hat, p.cols, 1.0f, p.g, p.cols))
        return false;
    return gemm(m.blas, m.precision, false, false, n, p.cols, p.rows, dy, p.rows, w.deq, p.cols, beta, dx, p.cols);
}

const float *gain(const Model &m, int index) { return m.params[(uint32_t)index].w; }
float *gain_grad(const Model &m, int index) { return m.params[(uint32_t)index].g; }

// Backward through a SubLN norm (rows of `width`) whose output gradient is dy: returns its input
// gradient, in m.dsub.
float *subln_backward(Model &m, const float *x, int norm, const float *rinv, const float *dy, uint32_t n,
                      uint32_t width) {
    cudaMemsetAsync(m.dsub, 0, (uint64_t)n * width * sizeof(float), m.stream);
    rmsnorm_backward(x, gain(m, norm), rinv, dy, n, width, m.dsub, gain_grad(m, norm), m.norm_partials, m.stream);
    return m.dsub;
}

}  // namespace

bool layout_model(Model &m, DeviceArena &a) {
    const bitlm_config &c = m.spec.config;
    const uint64_t N = (uint64_t)m.micro * m.seq_len;
    const uint32_t D = c.dim, Q = c.n_heads * c.head_dim, KV = c.n_kv_heads * c.head_dim, F = c.ffn_dim;
    const uint32_t V = c.vocab_size, maxw = max4(D, Q, F, KV);

    // Quantized weights: every matrix and the embedding (a separate head too).
    m.quant.assign(m.params.size(), QuantWeight{});
    for (uint32_t i = 0; i < m.params.size(); i++) {
        const ParamInfo info = train_param_info(m.spec, i);
        if (info.kind == ParamKind::Vector) continue;
        QuantWeight &w = m.quant[i];
        w.param = i;
        w.q = train_linear_quant(m.spec, info.role);
        const Param &p = m.params[i];
        w.integer = (w.q.weight == DType::Ternary || w.q.weight == DType::Binary || w.q.weight == DType::Int8) &&
                    (w.q.scale_kind == ScaleKind::Tensor || w.q.scale_kind == ScaleKind::Row);
        w.values = w.q.weight == DType::F32 ? p.w : a.floats(p.count());
        w.row_scale = w.integer ? a.floats(p.rows) : nullptr;
        w.deq = w.integer ? a.floats(p.count()) : w.values;
    }
    m.index.clear();
    for (uint32_t l = 0; l < c.n_layers; l++) m.index.push_back(layer_index(m.spec, l));
    m.final_norm = find_role(m.spec, TensorRole::FinalNorm);
    m.head = find_role(m.spec, TensorRole::Head);
    m.rope_cs = a.floats((uint64_t)m.seq_len * c.head_dim);
    m.tokens = a.take<int32_t>(N);
    m.targets = a.take<int32_t>(N);
    m.error_flag = a.take<uint32_t>(1);

    auto int8_for = [&](TensorRole role) { return int8_input(train_linear_quant(m.spec, role)); };
    const bool qkv8 = int8_for(TensorRole::Wq), o8 = int8_for(TensorRole::Wo), up8 = int8_for(TensorRole::WUp);
    const bool down8 = int8_for(TensorRole::WDown), head8 = int8_for(TensorRole::Head);
    m.layers.assign(c.n_layers, LayerActs{});
    for (LayerActs &L : m.layers) {
        L.x_in = a.floats(N * D);
        L.rinv1 = a.floats(N);
        L.h1 = place_input(a, N, D, qkv8);
        L.q = a.floats(N * Q);
        L.k = a.floats(N * KV);
        L.v = a.floats(N * KV);
        L.probs = a.floats((uint64_t)m.micro * c.n_heads * m.seq_len * m.seq_len);
        L.o = a.floats(N * Q);
        L.rinv_asub = subln(m) ? a.floats(N) : nullptr;
        L.a = place_input(a, N, Q, o8);
        L.x_mid = a.floats(N * D);
        L.rinv2 = a.floats(N);
        L.h2 = place_input(a, N, D, up8);
        L.gate = swiglu(m) ? a.floats(N * F) : nullptr;
        L.up = a.floats(N * F);
        L.f = subln(m) ? a.floats(N * F) : nullptr;
        L.rinv_fsub = subln(m) ? a.floats(N) : nullptr;
        L.fin = place_input(a, N, F, down8);
    }
    m.x_out = a.floats(N * D);
    m.rinv_f = a.floats(N);
    m.head_in = place_input(a, N, D, head8);
    m.logits = a.floats(N * V);

    m.dx = a.floats(N * D);
    m.dh = a.floats(N * maxw);
    m.dq = a.floats(N * Q);
    m.dk = a.floats(N * KV);
    m.dv = a.floats(N * KV);
    m.dattn = a.floats(N * Q);
    m.dsub = subln(m) ? a.floats(N * (Q > F ? Q : F)) : nullptr;
    m.dup = a.floats(N * F);
    m.dgate = swiglu(m) ? a.floats(N * F) : nullptr;
    m.dact = a.floats(N * F);
    m.xhat = a.floats(N * maxw);
    m.ds = a.floats((uint64_t)m.micro * c.n_heads * m.seq_len * m.seq_len);
    m.norm_partials = a.floats(rmsnorm_partial_floats((uint32_t)N, maxw));
    return a.ok;
}

bool quantize_weights_for_step(Model &m) {
    for (const QuantWeight &w : m.quant) {
        if (!w.values || w.q.weight == DType::F32) continue;
        const Param &p = m.params[w.param];
        quantize_weights(p.w, p.rows, p.cols, w.q, w.values, w.row_scale, m.error_flag, m.stream);
        if (w.integer) scale_rows(w.values, p.rows, p.cols, w.row_scale, w.deq, m.stream);
    }
    return cudaPeekAtLastError() == cudaSuccess;
}

bool forward(Model &m, uint32_t n_seq, uint32_t len, float dlogit_scale, float *row_loss) {
    const bitlm_config &c = m.spec.config;
    m.trained_seqs = 0;  // a backward needs a complete training forward of full sequences
    if (n_seq == 0 || n_seq > m.micro || len == 0 || len > m.seq_len) return false;
    const uint32_t N = n_seq * len, D = c.dim, Q = c.n_heads * c.head_dim, F = c.ffn_dim, V = c.vocab_size;
    const float eps = c.norm_eps;
    const AttnDims dims = {n_seq, len, c.n_heads, c.n_kv_heads, c.head_dim};
    float *normed = m.dh, *lin_out = m.dx;  // backward scratch doubles as forward temporaries

    const QuantWeight &table = m.quant[0];
    embedding_forward(table.values, table.integer ? table.row_scale : nullptr, m.tokens, N, D, m.layers[0].x_in,
                      m.stream);
    for (uint32_t l = 0; l < c.n_layers; l++) {
        LayerActs &L = m.layers[l];
        const LayerIndex &li = m.index[l];
        float *x_next = l + 1 < c.n_layers ? m.layers[l + 1].x_in : m.x_out;

        rmsnorm_forward(L.x_in, gain(m, li.attn_norm), N, D, eps, normed, L.rinv1, m.stream);
        set_input(m, normed, N, L.h1);
        if (!linear_forward(m, L.h1, m.quant[li.wq], N, L.q) || !linear_forward(m, L.h1, m.quant[li.wk], N, L.k) ||
            !linear_forward(m, L.h1, m.quant[li.wv], N, L.v))
            return false;
        rope_forward(L.q, m.rope_cs, N, Q, c.head_dim, len, m.stream);
        rope_forward(L.k, m.rope_cs, N, c.n_kv_heads * c.head_dim, c.head_dim, len, m.stream);
        if (!attention_forward(m.blas, m.precision, dims, L.q, L.k, L.v, L.probs, L.o, m.stream)) return false;
        if (subln(m)) {
            rmsnorm_forward(L.o, gain(m, li.attn_sub), N, Q, eps, normed, L.rinv_asub, m.stream);
            set_input(m, normed, N, L.a);
        } else {
            set_input(m, L.o, N, L.a);
        }
        if (!linear_forward(m, L.a, m.quant[li.wo], N, lin_out)) return false;
        add(L.x_in, lin_out, (uint64_t)N * D, L.x_mid, m.stream);

        rmsnorm_forward(L.x_mid, gain(m, li.ffn_norm), N, D, eps, normed, L.rinv2, m.stream);
        set_input(m, normed, N, L.h2);
        float *act = subln(m) ? L.f : normed;  // normed is free again once h2 is stored
        if (swiglu(m)) {
            if (!linear_forward(m, L.h2, m.quant[li.wgate], N, L.gate) ||
                !linear_forward(m, L.h2, m.quant[li.wup], N, L.up))
                return false;
            swiglu_forward(L.gate, L.up, (uint64_t)N * F, act, m.stream);
        } else {
            if (!linear_forward(m, L.h2, m.quant[li.wup], N, L.up)) return false;
            relu2_forward(L.up, (uint64_t)N * F, act, m.stream);
        }
        if (subln(m)) {
            rmsnorm_forward(L.f, gain(m, li.ffn_sub), N, F, eps, normed, L.rinv_fsub, m.stream);
            set_input(m, normed, N, L.fin);
        } else {
            set_input(m, act, N, L.fin);
        }
        if (!linear_forward(m, L.fin, m.quant[li.wdown], N, lin_out)) return false;
        add(L.x_mid, lin_out, (uint64_t)N * D, x_next, m.stream);
    }
    rmsnorm_forward(m.x_out, gain(m, m.final_norm), N, D, eps, normed, m.rinv_f, m.stream);
    set_input(m, normed, N, m.head_in);
    if (!linear_forward(m, m.head_in, head_weight(m), N, m.logits)) return false;
    if (dlogit_scale != 0.0f) cross_entropy(m.logits, m.targets, N, V, dlogit_scale, row_loss, m.error_flag, m.stream);
    if (cudaPeekAtLastError() != cudaSuccess) return false;
    if (dlogit_scale != 0.0f && len == m.seq_len) m.trained_seqs = n_seq;
    return true;
}

bool backward(Model &m, uint32_t n_seq) {
    const bitlm_config &c = m.spec.config;
    if (n_seq == 0 || n_seq != m.trained_seqs) return false;
    m.trained_seqs = 0;
    const uint32_t T = m.seq_len, N = n_seq * T, D = c.dim, Q = c.n_heads * c.head_dim, F = c.ffn_dim;
    const AttnDims dims = {n_seq, T, c.n_heads, c.n_kv_heads, c.head_dim};
    cudaStream_t s = m.stream;

    // Head and final norm: m.logits already holds d loss / d logits.
    const int final_norm = m.final_norm;
    if (!linear_backward(m, input_hat(m, m.head_in, N), head_weight(m), m.logits, N, m.dh, 0.0f)) return false;
    cudaMemsetAsync(m.dx, 0, (uint64_t)N * D * sizeof(float), s);
    rmsnorm_backward(m.x_out, gain(m, final_norm), m.rinv_f, m.dh, N, D, m.dx, gain_grad(m, final_norm),
                     m.norm_partials, s);

    for (uint32_t l = c.n_layers; l-- > 0;) {
        LayerActs &L = m.layers[l];
        const LayerIndex &li = m.index[l];
        // FFN: x_next = x_mid + W_down(fin): dx passes to x_mid unchanged, plus the FFN branch.
        if (!linear_backward(m, input_hat(m, L.fin, N), m.quant[li.wdown], m.dx, N, m.dact, 0.0f)) return false;
        const float *dact = subln(m) ? subln_backward(m, L.f, li.ffn_sub, L.rinv_fsub, m.dact, N, F) : m.dact;
        const float *h2_hat;
        if (swiglu(m)) {
            swiglu_backward(L.gate, L.up, dact, (uint64_t)N * F, m.dgate, m.dup, s);
            h2_hat = input_hat(m, L.h2, N);
            if (!linear_backward(m, h2_hat, m.quant[li.wgate], m.dgate, N, m.dh, 0.0f) ||
                !linear_backward(m, h2_hat, m.quant[li.wup], m.dup, N, m.dh, 1.0f))
                return false;
        } else {
            relu2_backward(L.up, dact, (uint64_t)N * F, m.dup, s);
            h2_hat = input_hat(m, L.h2, N);
            if (!linear_backward(m, h2_hat, m.quant[li.wup], m.dup, N, m.dh, 0.0f)) return false;
        }
        rmsnorm_backward(L.x_mid, gain(m, li.ffn_norm), L.rinv2, m.dh, N, D, m.dx, gain_grad(m, li.ffn_norm),
                         m.norm_partials, s);

        // Attention: x_mid = x_in + W_o(a).
        if (!linear_backward(m, input_hat(m, L.a, N), m.quant[li.wo], m.dx, N, m.dattn, 0.0f)) return false;
        const float *dout = subln(m) ? subln_backward(m, L.o, li.attn_sub, L.rinv_asub, m.dattn, N, Q) : m.dattn;
        if (!attention_backward(m.blas, m.precision, dims, L.q, L.k, L.v, L.probs, dout, m.dq, m.dk, m.dv, m.ds, s))
            return false;
        rope_backward(m.dq, m.rope_cs, N, Q, c.head_dim, T, s);
        rope_backward(m.dk, m.rope_cs, N, c.n_kv_heads * c.head_dim, c.head_dim, T, s);
        const float *h1_hat = input_hat(m, L.h1, N);
        if (!linear_backward(m, h1_hat, m.quant[li.wq], m.dq, N, m.dh, 0.0f) ||
            !linear_backward(m, h1_hat, m.quant[li.wk], m.dk, N, m.dh, 1.0f) ||
            !linear_backward(m, h1_hat, m.quant[li.wv], m.dv, N, m.dh, 1.0f))
            return false;
        rmsnorm_backward(L.x_in, gain(m, li.attn_norm), L.rinv1, m.dh, N, D, m.dx, gain_grad(m, li.attn_norm),
                         m.norm_partials, s);
    }
    embedding_backward(m.dx, m.tokens, N, c.vocab_size, D, m.params[0].g, s);
    return cudaPeekAtLastError() == cudaSuccess;
}

}  // namespace cuda
}  // namespace bitlm
