// test_model.cpp — the forward pass against the independent double-precision reference, bit-exact
// equality of batched / chunked / threaded / token-by-token feeding, the sampler, and the model's
// errors (arena too small, token out of range, context full) leaving the cache untouched.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "bitlm.h"
#include "kernels.h"
#include "check.h"
#include "common/random_model.h"
#include "reference_forward.h"

using namespace bitlm;

namespace {

struct Variant {
    const char *name;
    bitlm_config c;
    DType linear;
    ScaleKind scale;
    uint32_t group;
    DType emb, head;
};

bitlm_config base_config() {
    bitlm_config c = {};
    c.vocab_size = 256; c.dim = 48; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2; c.head_dim = 12;
    c.ffn_dim = 72; c.max_seq_len = 40; c.ffn_kind = BITLM_FFN_SWIGLU; c.norm_kind = BITLM_NORM_RMSNORM;
    c.norm_placement = BITLM_NORM_PLACE_SUBLN; c.attn_kind = BITLM_ATTN_SOFTMAX; c.pos_kind = BITLM_POS_ROPE;
    c.act_kind = BITLM_ACT_INT8; c.head_kind = BITLM_HEAD_TIED; c.rope_theta = 10000.0f; c.norm_eps = 1e-5f;
    return c;
}

// Random latent weights quantized with the lib quantizers (tools/common/random_model).
std::vector<uint8_t> build(const Variant &v, uint64_t seed) {
    tools::RandomModelSpec spec;
    spec.config = v.c;
    spec.storage = {v.linear, v.scale, v.group, v.emb, v.head};
    spec.seed = seed;
    std::vector<uint8_t> bytes;
    const std::string err = tools::build_random_model(spec, &bytes);
    CHECK_MSG(err.empty(), "%s: %s", v.name, err.c_str());
    return bytes;
}

struct Opened {
    std::vector<uint8_t> arena;
    bitlm_model *model = nullptr;
};

bitlm_status open_model(const std::vector<uint8_t> &art, const bitlm_open_options &opt, Opened *o) {
    size_t need = 0;
    bitlm_status s = bitlm_arena_bytes(art.data(), art.size(), &opt, &need);
    if (s != BITLM_OK) return s;
    o->arena.assign(need, 0);
    return bitlm_open(art.data(), art.size(), o->arena.data(), need, &opt, &o->model);
}

struct Collected {
    std::vector<std::vector<float>> logits;
    uint32_t vocab;
};
void collect(void *user, uint32_t index, const float *logits) {
    auto *c = (Collected *)user;
    if (c->logits.size() <= index) c->logits.resize(index + 1);
    c->logits[index].assign(logits, logits + c->vocab);
}

// Runs tasks in reverse order: results must not depend on scheduling.
void reverse_runner(void *, bitlm_task_fn fn, void *arg, uint32_t n) {
    for (uint32_t i = n; i-- > 0;) fn(arg, i);
}

bool same_bits(const std::vector<float> &a, const std::vector<float> &b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

void test_variant(const Variant &v) {
    const std::vector<uint8_t> art = build(v, 7);
    std::vector<int32_t> tokens;
    std::mt19937 rng(3);
    for (int i = 0; i < 23; i++) tokens.push_back((int32_t)(rng() % v.c.vocab_size));

    // 1. All positions in one batch, compared to the double-precision reference.
    bitlm_open_options opt = {};
    opt.max_batch = (uint32_t)tokens.size();
    Opened a;
    CHECK_MSG(open_model(art, opt, &a) == BITLM_OK, "%s: open", v.name);
    if (!a.model) return;
    Collected batch{{}, v.c.vocab_size};
    CHECK(bitlm_feed(a.model, tokens.data(), (uint32_t)tokens.size(), collect, &batch) == BITLM_OK);
    ArtifactInfo info;
    CHECK(read_artifact(art.data(), art.size(), false, &info) == BITLM_OK);
    const auto ref = reftest::forward(reftest::load(info), tokens);
    double worst = 0;
    for (size_t t = 0; t < tokens.size(); t++) {
        double num = 0, den = 0;
        for (uint32_t i = 0; i < v.c.vocab_size; i++) {
            const double d = batch.logits[t][i] - ref[t][i];
            num += d * d;
            den += ref[t][i] * ref[t][i];
        }
        worst = std::max(worst, std::sqrt(num / den));
    }
    std::printf("  %-28s max relative logits error vs double reference: %.2e\n", v.name, worst);
    CHECK_MSG(worst < 1e-3, "%s: relative error %g", v.name, worst);

    // 2. Token by token (decode path), chunks of 5, and a scrambled task order: the same bits.
    Opened one, chunked, threaded;
    bitlm_open_options o1 = {}, o5 = {}, ot = {};
    o5.max_batch = 5;
    ot.max_batch = 4;
    ot.parallel_for = reverse_runner;
    CHECK(open_model(art, o1, &one) == BITLM_OK && open_model(art, o5, &chunked) == BITLM_OK &&
          open_model(art, ot, &threaded) == BITLM_OK);
    Collected c1{{}, v.c.vocab_size}, c5{{}, v.c.vocab_size}, ct{{}, v.c.vocab_size};
    for (size_t t = 0; t < tokens.size(); t++) {
        CHECK(bitlm_feed(one.model, &tokens[t], 1, nullptr, nullptr) == BITLM_OK);
        const float *l = bitlm_logits(one.model);
        c1.logits.emplace_back(l, l + v.c.vocab_size);
    }
    CHECK(bitlm_feed(chunked.model, tokens.data(), (uint32_t)tokens.size(), collect, &c5) == BITLM_OK);
    CHECK(bitlm_feed(threaded.model, tokens.data(), (uint32_t)tokens.size(), collect, &ct) == BITLM_OK);
    bool same = c1.logits.size() == tokens.size() && c5.logits.size() == tokens.size() && ct.logits.size() == tokens.size();
    for (size_t t = 0; same && t < tokens.size(); t++)
        same = same_bits(c1.logits[t], batch.logits[t]) && same_bits(c5.logits[t], batch.logits[t]) &&
               same_bits(ct.logits[t], batch.logits[t]);
    CHECK_MSG(same, "%s: batched, chunked, threaded and token-by-token logits differ", v.name);

    // 4. The 2-bit in-RAM copy (bitlm_repack) with every table that prefers it: batched (GEMM) and token
    //    by token (GEMV), the same bits. Other tables need none (0 bytes, and repack is a no-op).
    const bool repackable = v.linear == DType::Ternary && v.scale != ScaleKind::Group;
    for (uint32_t i = 0; const bitlm_kernels *k = bitlm_kernel_table(i); i++) {
        bitlm_open_options ok = {};
        ok.kernels = k;
        ok.max_batch = (uint32_t)tokens.size();
        Opened rb, r1;
        CHECK(open_model(art, ok, &rb) == BITLM_OK);
        ok.max_batch = 1;
        CHECK(open_model(art, ok, &r1) == BITLM_OK);
        const size_t bytes = bitlm_repack_bytes(rb.model);
        CHECK_MSG((bytes > 0) == (repackable && k->prefers_ternary2 != 0), "%s %s: repack bytes %zu", v.name, k->name, bytes);
        if (!bytes) {
            CHECK(bitlm_repack(rb.model, nullptr, 0) == BITLM_OK);
            continue;
        }
        std::vector<uint64_t> buf_b(bytes / 8 + 8), buf_1(bytes / 8 + 8);  // 8-byte units; 64-aligned below
        auto aligned = [](std::vector<uint64_t> &b) { return (void *)(((uintptr_t)b.data() + 63) & ~(uintptr_t)63); };
        CHECK(bitlm_repack(rb.model, aligned(buf_b), bytes) == BITLM_OK);
        CHECK(bitlm_repack(r1.model, aligned(buf_1), bytes) == BITLM_OK);
        CHECK(bitlm_repack_bytes(rb.model) == 0 && bitlm_repack(rb.model, nullptr, 0) == BITLM_OK);  // done once
        Collected cb{{}, v.c.vocab_size};
        CHECK(bitlm_feed(rb.model, tokens.data(), (uint32_t)tokens.size(), collect, &cb) == BITLM_OK);
        bool same2 = cb.logits.size() == tokens.size();
        for (size_t t = 0; same2 && t < tokens.size(); t++) {
            CHECK(bitlm_feed(r1.model, &tokens[t], 1, nullptr, nullptr) == BITLM_OK);
            same2 = same_bits(cb.logits[t], batch.logits[t]) &&
                    same_bits(std::vector<float>(bitlm_logits(r1.model), bitlm_logits(r1.model) + v.c.vocab_size), batch.logits[t]);
        }
        CHECK_MSG(same2, "%s %s: logits after bitlm_repack differ", v.name, k->name);
    }

    // 3. Reset and refeed gives the same last logits.
    bitlm_reset(one.model);
    CHECK(bitlm_position(one.model) == 0 && bitlm_logits(one.model) == nullptr);
    CHECK(bitlm_feed(one.model, tokens.data(), (uint32_t)tokens.size(), nullptr, nullptr) == BITLM_OK);
    CHECK(same_bits(std::vector<float>(bitlm_logits(one.model), bitlm_logits(one.model) + v.c.vocab_size), batch.logits.back()));
}

// bitlm_repack's errors: no model, no or misaligned buffer, too small; nothing changes on error.
void test_repack_errors() {
    const bitlm_kernels *k2 = nullptr;
    for (uint32_t i = 0; const bitlm_kernels *k = bitlm_kernel_table(i); i++)
        if (k->prefers_ternary2) k2 = k;
    CHECK(bitlm_repack_bytes(nullptr) == 0 && bitlm_repack(nullptr, nullptr, 0) == BITLM_ERR_NULL_ARGUMENT);
    if (!k2) {
        std::printf("  repack errors: skipped (no kernel table here prefers the 2-bit copy)\n");
        return;
    }
    const Variant v = {"repack", base_config(), DType::Ternary, ScaleKind::Row, 0, DType::Int8, DType::Int8};
    const std::vector<uint8_t> art = build(v, 9);
    bitlm_open_options opt = {};
    opt.kernels = k2;
    Opened o;
    CHECK(open_model(art, opt, &o) == BITLM_OK);
    const size_t bytes = bitlm_repack_bytes(o.model);
    CHECK(bytes > 0 && bytes % 64 == 0);
    std::vector<uint64_t> buf(bytes / 8 + 16);
    uint8_t *p = (uint8_t *)(((uintptr_t)buf.data() + 63) & ~(uintptr_t)63);
    CHECK(bitlm_repack(o.model, nullptr, bytes) == BITLM_ERR_NULL_ARGUMENT);
    CHECK(bitlm_repack(o.model, p + 8, bytes) == BITLM_ERR_BAD_ALIGNMENT);
    CHECK(bitlm_repack(o.model, p, bytes - 1) == BITLM_ERR_BUFFER_TOO_SMALL);
    CHECK(bitlm_repack_bytes(o.model) == bytes);  // still base 3
    CHECK(bitlm_repack(o.model, p, bytes) == BITLM_OK && bitlm_repack_bytes(o.model) == 0);
}

void test_errors_and_sampling() {
    Variant v = {"errors", base_config(), DType::Ternary, ScaleKind::Row, 0, DType::Int8, DType::Int8};
    const std::vector<uint8_t> art = build(v, 11);
    bitlm_open_options opt = {};
    opt.context_len = 16;
    size_t need = 0;
    CHECK(bitlm_arena_bytes(art.data(), art.size(), &opt, &need) == BITLM_OK);
    size_t from_config = 0;
    CHECK(bitlm_arena_bytes_for_config(&v.c, &opt, &from_config) == BITLM_OK && from_config == need);
    std::vector<uint8_t> arena(need);
    bitlm_model *m = nullptr;
    CHECK(bitlm_open(art.data(), art.size(), arena.data(), need - 1, &opt, &m) == BITLM_ERR_ARENA_TOO_SMALL && !m);
    CHECK(bitlm_open(art.data(), art.size(), arena.data(), need, &opt, &m) == BITLM_OK && m);
    if (!m) return;
    CHECK(bitlm_context_len(m) == 16);
    opt.context_len = v.c.max_seq_len + 1;
    CHECK(bitlm_arena_bytes(art.data(), art.size(), &opt, &need) == BITLM_ERR_BAD_ARGUMENT);

    const int32_t good[3] = {1, 2, 3}, bad_hi[2] = {4, 256}, bad_neg[1] = {-1};
    CHECK(bitlm_feed(m, good, 3, nullptr, nullptr) == BITLM_OK && bitlm_position(m) == 3);
    CHECK(bitlm_feed(m, bad_hi, 2, nullptr, nullptr) == BITLM_ERR_TOKEN_OUT_OF_RANGE && bitlm_position(m) == 3);
    CHECK(bitlm_feed(m, bad_neg, 1, nullptr, nullptr) == BITLM_ERR_TOKEN_OUT_OF_RANGE && bitlm_position(m) == 3);
    std::vector<int32_t> many(14, 65);
    CHECK(bitlm_feed(m, many.data(), 14, nullptr, nullptr) == BITLM_ERR_CONTEXT_FULL && bitlm_position(m) == 3);
    CHECK(bitlm_feed(m, many.data(), 13, nullptr, nullptr) == BITLM_OK && bitlm_position(m) == 16);
    CHECK(bitlm_feed(m, good, 1, nullptr, nullptr) == BITLM_ERR_CONTEXT_FULL);

    // Sampler on crafted logits.
    float *logits = const_cast<float *>(bitlm_logits(m));
    for (uint32_t i = 0; i < 256; i++) logits[i] = -10.0f;
    logits[7] = 2.0f; logits[9] = 2.0f; logits[42] = 1.0f; logits[100] = 0.0f;
    bitlm_rng rng;
    bitlm_rng_seed(&rng, 5);
    int32_t tok = -1;
    bitlm_sampling greedy = {0.0f, 0, 1.0f, 0};
    CHECK(bitlm_sample(m, &greedy, &rng, &tok) == BITLM_OK && tok == 7);  // ties: lowest id
    bitlm_sampling bad = {-1.0f, 0, 1.0f, 0};
    CHECK(bitlm_sample(m, &bad, &rng, &tok) == BITLM_ERR_BAD_ARGUMENT);
    bad = {1.0f, 0, 1.5f, 0};
    CHECK(bitlm_sample(m, &bad, &rng, &tok) == BITLM_ERR_BAD_ARGUMENT);
    bitlm_sampling top2 = {1.0f, 2, 1.0f, 0};
    bool only_top2 = true;
    for (int i = 0; i < 200; i++) {
        CHECK(bitlm_sample(m, &top2, &rng, &tok) == BITLM_OK);
        only_top2 = only_top2 && (tok == 7 || tok == 9);
    }
    CHECK(only_top2);
    // top-p 0.5: 7 and 9 hold ~0.42 each of the mass, so the nucleus is {7, 9}.
    bitlm_sampling nucleus = {1.0f, 0, 0.5f, 0};
    bool only_nucleus = true;
    for (int i = 0; i < 200; i++) {
        CHECK(bitlm_sample(m, &nucleus, &rng, &tok) == BITLM_OK);
        only_nucleus = only_nucleus && (tok == 7 || tok == 9);
    }
    CHECK(only_nucleus);
    // Full distribution at T=1: frequencies follow softmax (7, 9: ~0.42 each; 42: ~0.155; 100: ~0.057).
    bitlm_sampling full = {1.0f, 0, 1.0f, 0};
    std::vector<int> counts(256, 0);
    for (int i = 0; i < 20000; i++) {
        CHECK(bitlm_sample(m, &full, &rng, &tok) == BITLM_OK);
        counts[tok]++;
    }
    double z = 2 * std::exp(2.0) + std::exp(1.0) + 1.0 + 252 * std::exp(-10.0);
    CHECK_MSG(std::fabs(counts[42] / 20000.0 - std::exp(1.0) / z) < 0.015, "freq(42)=%g", counts[42] / 20000.0);
    CHECK_MSG(std::fabs(counts[7] / 20000.0 - std::exp(2.0) / z) < 0.015, "freq(7)=%g", counts[7] / 20000.0);
    // Same seed, same sequence.
    std::vector<int32_t> s1, s2;
    for (int rep = 0; rep < 2; rep++) {
        bitlm_rng_seed(&rng, 99);
        for (int i = 0; i < 50; i++) {
            CHECK(bitlm_sample(m, &full, &rng, &tok) == BITLM_OK);
            (rep ? s2 : s1).push_back(tok);
        }
    }
    CHECK(s1 == s2);

    // Greedy-only models reserve no sampler scratch and refuse temperature sampling.
    bitlm_open_options greedy_opt = opt;
    greedy_opt.context_len = 16;
    greedy_opt.flags = BITLM_OPEN_GREEDY_ONLY;
    size_t greedy_need = 0;
    CHECK(bitlm_arena_bytes(art.data(), art.size(), &greedy_opt, &greedy_need) == BITLM_OK);
    CHECK(greedy_need + 256 * 8 <= need + 64);
    std::vector<uint8_t> greedy_arena(greedy_need);
    bitlm_model *gm = nullptr;
    CHECK(bitlm_open(art.data(), art.size(), greedy_arena.data(), greedy_need, &greedy_opt, &gm) == BITLM_OK);
    if (gm) {
        CHECK(bitlm_feed(gm, good, 3, nullptr, nullptr) == BITLM_OK);
        CHECK(bitlm_sample(gm, &greedy, &rng, &tok) == BITLM_OK);
        CHECK(bitlm_sample(gm, &full, &rng, &tok) == BITLM_ERR_BAD_ARGUMENT);
    }

    // Generation: greedy is repeatable and the checksum covers every sampled step.
    uint64_t h1 = BITLM_CHECKSUM_INIT, h2 = BITLM_CHECKSUM_INIT;
    std::vector<int32_t> g1, g2;
    auto on_token = [](void *user, int32_t t) { ((std::vector<int32_t> *)user)->push_back(t); return 0; };
    bitlm_reset(m);
    CHECK(bitlm_generate(m, good, 3, 8, &greedy, on_token, &g1, &h1) == BITLM_OK);
    bitlm_reset(m);
    CHECK(bitlm_generate(m, good, 3, 8, &greedy, on_token, &g2, &h2) == BITLM_OK);
    CHECK(g1.size() == 8 && g1 == g2 && h1 == h2 && h1 != BITLM_CHECKSUM_INIT);
    CHECK(bitlm_position(m) == 3 + 7);  // the last generated token is not fed
    // Generation stops cleanly at a full context.
    bitlm_reset(m);
    g1.clear();
    CHECK(bitlm_generate(m, good, 3, 100, &greedy, on_token, &g1, nullptr) == BITLM_OK);
    CHECK_MSG(g1.size() == 14, "generated %zu tokens in a 16-token context after a 3-token prompt", g1.size());
    // Encoding.
    int32_t ids[4];
    uint32_t n = 0;
    CHECK(bitlm_encode(m, "abc", 3, ids, 4, &n) == BITLM_OK && n == 3 && ids[0] == 'a');
    CHECK(bitlm_encode(m, "abcde", 5, ids, 4, &n) == BITLM_ERR_BUFFER_TOO_SMALL && n == 5);
    char byte;
    CHECK(bitlm_decode_token(m, 'x', &byte, 1) == 1 && byte == 'x');
}

}  // namespace

int main() {
    std::vector<Variant> variants;
    bitlm_config c = base_config();
    variants.push_back({"swiglu/subln/tied-int8/row", c, DType::Ternary, ScaleKind::Row, 0, DType::Int8, DType::Int8});
    variants.push_back({"swiglu/subln/group32", c, DType::Ternary, ScaleKind::Group, 32, DType::Int8, DType::Int8});
    bitlm_config r = c;
    r.ffn_kind = BITLM_FFN_RELU2; r.norm_placement = BITLM_NORM_PLACE_PRE; r.head_kind = BITLM_HEAD_SEPARATE;
    r.n_kv_heads = 4; r.dim = 40; r.head_dim = 8; r.ffn_dim = 163;
    variants.push_back({"relu2/pre/f16-emb/f16-head", r, DType::Ternary, ScaleKind::Tensor, 0, DType::F16, DType::F16});
    variants.push_back({"relu2/pre/binary/ternary-head", r, DType::Binary, ScaleKind::Row, 0, DType::Int8, DType::Ternary});
    bitlm_config big = c;
    big.dim = 320; big.ffn_dim = 170; big.n_heads = 5; big.n_kv_heads = 1; big.head_dim = 64; big.n_layers = 1;
    variants.push_back({"160-blocks/gqa-5:1", big, DType::Ternary, ScaleKind::Group, 64, DType::Int8, DType::Int8});
    for (const auto &v : variants) test_variant(v);
    test_errors_and_sampling();
    test_repack_errors();
    return check::finish("model");
}
