// reference_forward.h — an independent, plain double-precision forward of the model family for tests:
// weights unpacked from the artifact's views, activations int8-quantized with the lib's quantizer (the
// quantization is part of the model's function), everything else in double with <cmath>.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "artifact/reader.h"
#include "core/fp16.h"
#include "quant/quantize.h"
#include "tensor/binary_pack.h"
#include "tensor/ternary_pack.h"

namespace reftest {

using namespace bitlm;

// Dequantized weight matrix (rows x cols) in double.
inline std::vector<double> dequantize(const WeightView &w) {
    std::vector<double> out((size_t)w.rows * w.cols);
    std::vector<int8_t> vals(w.cols);
    for (uint32_t r = 0; r < w.rows; r++) {
        const uint8_t *row = w.data + (size_t)r * w.row_bytes;
        for (uint32_t i = 0; i < w.cols; i++) {
            double v;
            if (w.dtype == DType::F16) v = f16_to_f32(((const uint16_t *)row)[i]);
            else if (w.dtype == DType::F32) v = ((const float *)row)[i];
            else {
                if (i == 0) {
                    if (w.dtype == DType::Ternary) ternary_unpack_row(row, w.cols, vals.data());
                    else if (w.dtype == DType::Binary) binary_unpack_row(row, w.cols, vals.data());
                    else for (uint32_t k = 0; k < w.cols; k++) vals[k] = ((const int8_t *)row)[k];
                }
                const uint32_t g = w.scale_kind == ScaleKind::Group ? i / w.group_size : 0;
                v = (double)vals[i] * f16_to_f32(w.scales[scale_index(w, r, g)]);
            }
            out[(size_t)r * w.cols + i] = v;
        }
    }
    return out;
}

struct RefModel {
    bitlm_config c;
    std::vector<double> emb, head, final_norm;
    bool head_is_f16 = false;
    struct Layer {
        std::vector<double> attn_norm, wq, wk, wv, attn_sub, wo, ffn_norm, wg, wu, ffn_sub, wd;
    };
    std::vector<Layer> layers;
};

inline std::vector<double> vec(const float *p, uint32_t n) { return p ? std::vector<double>(p, p + n) : std::vector<double>(); }

inline RefModel load(const ArtifactInfo &info) {
    RefModel m;
    m.c = info.config;
    WeightView emb, head;
    const float *fn;
    bind_globals(info, &emb, &fn, &head);
    m.emb = dequantize(emb);
    m.final_norm = vec(fn, m.c.dim);
    if (head.rows) {
        m.head = dequantize(head);
        m.head_is_f16 = head.dtype == DType::F16;
    } else {
        m.head = m.emb;
        m.head_is_f16 = emb.dtype == DType::F16;
    }
    const uint32_t q_dim = m.c.n_heads * m.c.head_dim;
    for (uint32_t l = 0; l < m.c.n_layers; l++) {
        LayerWeights L;
        bind_layer(info, l, &L);
        RefModel::Layer R;
        R.attn_norm = vec(L.attn_norm, m.c.dim);
        R.wq = dequantize(L.wq);
        R.wk = dequantize(L.wk);
        R.wv = dequantize(L.wv);
        R.attn_sub = vec(L.attn_subnorm, q_dim);
        R.wo = dequantize(L.wo);
        R.ffn_norm = vec(L.ffn_norm, m.c.dim);
        if (L.w_gate.rows) R.wg = dequantize(L.w_gate);
        R.wu = dequantize(L.w_up);
        R.ffn_sub = vec(L.ffn_subnorm, m.c.ffn_dim);
        R.wd = dequantize(L.w_down);
        m.layers.push_back(R);
    }
    return m;
}

inline std::vector<double> rmsnorm(const std::vector<double> &x, const std::vector<double> &g, double eps) {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double r = 1.0 / std::sqrt(ss / x.size() + eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); i++) y[i] = x[i] * r * g[i];
    return y;
}

// BitLinear: quantize the input to int8 with the lib's quantizer, then exact products in double.
inline std::vector<double> linear(const std::vector<double> &W, uint32_t rows, const std::vector<double> &x, bool quantize) {
    const size_t cols = x.size();
    std::vector<double> xin(x);
    if (quantize) {
        std::vector<float> xf(x.begin(), x.end());
        std::vector<int8_t> q(cols);
        const double s = quantize_act_int8_ref(xf.data(), (uint32_t)cols, q.data());
        for (size_t i = 0; i < cols; i++) xin[i] = q[i] * s;
    }
    std::vector<double> y(rows);
    for (uint32_t r = 0; r < rows; r++) {
        double acc = 0;
        for (size_t i = 0; i < cols; i++) acc += W[r * cols + i] * xin[i];
        y[r] = acc;
    }
    return y;
}

// Logits at every position of `tokens`, fed from an empty cache.
inline std::vector<std::vector<double>> forward(const RefModel &m, const std::vector<int32_t> &tokens) {
    const bitlm_config &c = m.c;
    const uint32_t hd = c.head_dim, q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd;
    const size_t T = tokens.size();
    std::vector<std::vector<double>> x(T), keys(T), values(T), out(T);
    for (size_t t = 0; t < T; t++) x[t].assign(m.emb.begin() + (size_t)tokens[t] * c.dim, m.emb.begin() + (size_t)(tokens[t] + 1) * c.dim);
    auto rope = [&](std::vector<double> &v, uint32_t heads, size_t pos) {
        for (uint32_t h = 0; h < heads; h++)
            for (uint32_t i = 0; i < hd / 2; i++) {
                const double ang = pos * std::pow((double)c.rope_theta, -(2.0 * i) / hd);
                const double a = v[h * hd + 2 * i], b = v[h * hd + 2 * i + 1];
                v[h * hd + 2 * i] = a * std::cos(ang) - b * std::sin(ang);
                v[h * hd + 2 * i + 1] = a * std::sin(ang) + b * std::cos(ang);
            }
    };
    for (const auto &L : m.layers) {
        for (size_t t = 0; t < T; t++) {  // causal: position t only uses keys/values 0..t
            auto xn = rmsnorm(x[t], L.attn_norm, c.norm_eps);
            auto q = linear(L.wq, q_dim, xn, true);
            keys[t] = linear(L.wk, kv_dim, xn, true);
            values[t] = linear(L.wv, kv_dim, xn, true);
            rope(q, c.n_heads, t);
            rope(keys[t], c.n_kv_heads, t);
            std::vector<double> att(q_dim, 0.0);
            for (uint32_t h = 0; h < c.n_heads; h++) {
                const uint32_t kvh = h / (c.n_heads / c.n_kv_heads);
                std::vector<double> s(t + 1);
                double mx = -1e300, sum = 0;
                for (size_t p = 0; p <= t; p++) {
                    double d = 0;
                    for (uint32_t i = 0; i < hd; i++) d += q[h * hd + i] * keys[p][kvh * hd + i];
                    s[p] = d / std::sqrt((double)hd);
                    mx = std::max(mx, s[p]);
                }
                for (auto &v : s) sum += (v = std::exp(v - mx));
                for (size_t p = 0; p <= t; p++)
                    for (uint32_t i = 0; i < hd; i++) att[h * hd + i] += s[p] / sum * values[p][kvh * hd + i];
            }
            if (!L.attn_sub.empty()) att = rmsnorm(att, L.attn_sub, c.norm_eps);
            auto o = linear(L.wo, c.dim, att, true);
            for (uint32_t i = 0; i < c.dim; i++) x[t][i] += o[i];

            xn = rmsnorm(x[t], L.ffn_norm, c.norm_eps);
            auto u = linear(L.wu, c.ffn_dim, xn, true);
            if (!L.wg.empty()) {
                auto g = linear(L.wg, c.ffn_dim, xn, true);
                for (uint32_t i = 0; i < c.ffn_dim; i++) u[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
            } else {
                for (auto &v : u) v = v > 0 ? v * v : 0.0;
            }
            if (!L.ffn_sub.empty()) u = rmsnorm(u, L.ffn_sub, c.norm_eps);
            auto d = linear(L.wd, c.dim, u, true);
            for (uint32_t i = 0; i < c.dim; i++) x[t][i] += d[i];
        }
    }
    for (size_t t = 0; t < T; t++) out[t] = linear(m.head, c.vocab_size, rmsnorm(x[t], m.final_norm, c.norm_eps), !m.head_is_f16);
    return out;
}

}  // namespace reftest
