// test_artifact.cpp — the .blm writer and reader: round trips of small models, every prefix,
// and one crafted artifact per error the reader reports (each with its own status code).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "artifact/format.h"
#include "artifact/reader.h"
#include "artifact/writer.h"
#include "core/bytes.h"
#include "artifact_fixture.h"
#include "check.h"

using namespace bitlm;
using fixture::Model;
using fixture::base_config;
using fixture::touch_all;

namespace {

// ---- an independent bitwise CRC-32 (to check the writer's and reader's checksums) ------------
uint32_t ref_crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

// ---- a 64-byte aligned byte buffer -----------------------------------------------------------
struct alignas(64) Block {
    uint8_t b[64];
};
struct Aligned {
    std::vector<Block> store;
    size_t n = 0;
    explicit Aligned(size_t size = 0) : store(size / 64 + 2), n(size) { std::memset(data(), 0, store.size() * 64); }
    Aligned(const uint8_t *p, size_t size) : Aligned(size) { if (size) std::memcpy(data(), p, size); }
    uint8_t *data() { return store[0].b; }
    const uint8_t *data() const { return store[0].b; }
    size_t size() const { return n; }
};

// Model A: SwiGLU, SubLN, tied head, int8 embedding, a mix of ternary/binary layouts.
Model model_a() {
    Model m;
    m.cfg = base_config();
    m.tok.bos_id = 1;
    m.tok.eos_id = 2;
    m.add(TensorRole::TokEmbedding, 0, DType::Int8, ScaleKind::Row);
    m.add(TensorRole::FinalNorm, 0, DType::F32, ScaleKind::None);
    for (uint16_t l = 0; l < 2; l++) {
        m.add(TensorRole::AttnNorm, l, DType::F32, ScaleKind::None);
        m.add(TensorRole::Wq, l, DType::Ternary, ScaleKind::Row);
        m.add(TensorRole::Wk, l, DType::Ternary, ScaleKind::Group, 32);
        m.add(TensorRole::Wv, l, DType::Binary, ScaleKind::Tensor);
        m.add(TensorRole::AttnSubNorm, l, DType::F32, ScaleKind::None);
        m.add(TensorRole::Wo, l, DType::Ternary, ScaleKind::Tensor);
        m.add(TensorRole::FfnNorm, l, DType::F32, ScaleKind::None);
        m.add(TensorRole::WGate, l, DType::Ternary, ScaleKind::Group, 32);
        m.add(TensorRole::WUp, l, DType::Binary, ScaleKind::Row);
        m.add(TensorRole::FfnSubNorm, l, DType::F32, ScaleKind::None);
        m.add(TensorRole::WDown, l, DType::Ternary, ScaleKind::Group, 32);
    }
    return m;
}

// Model B: ReLU², PRE norms, separate head, f16 embedding, int8 linears; tensors listed in a
// scrambled order (layer 2 first, globals last) to show the reader does not rely on order.
Model model_b() {
    Model m;
    m.cfg = base_config();
    m.cfg.n_layers = 3;
    m.cfg.ffn_kind = BITLM_FFN_RELU2;
    m.cfg.norm_placement = BITLM_NORM_PLACE_PRE;
    m.cfg.head_kind = BITLM_HEAD_SEPARATE;
    m.cfg.n_kv_heads = 4;
    m.cfg.vocab_size = 259;  // bytes + three specials
    m.tok.eos_id = 258;
    for (int l = 2; l >= 0; l--) {
        m.add(TensorRole::WDown, (uint16_t)l, DType::Int8, ScaleKind::Row);
        m.add(TensorRole::WUp, (uint16_t)l, DType::Ternary, ScaleKind::Group, 64);
        m.add(TensorRole::FfnNorm, (uint16_t)l, DType::F32, ScaleKind::None);
        m.add(TensorRole::Wo, (uint16_t)l, DType::Binary, ScaleKind::Row);
        m.add(TensorRole::Wv, (uint16_t)l, DType::Ternary, ScaleKind::Tensor);
        m.add(TensorRole::Wk, (uint16_t)l, DType::Int8, ScaleKind::Row);
        m.add(TensorRole::Wq, (uint16_t)l, DType::Ternary, ScaleKind::Row);
        m.add(TensorRole::AttnNorm, (uint16_t)l, DType::F32, ScaleKind::None);
    }
    m.add(TensorRole::Head, 0, DType::Ternary, ScaleKind::Row);
    m.add(TensorRole::FinalNorm, 0, DType::F32, ScaleKind::None);
    m.add(TensorRole::TokEmbedding, 0, DType::F16, ScaleKind::None);
    return m;
}

Aligned write(const Model &m, bitlm_status *st_out = nullptr) {
    const std::vector<TensorSpec> specs = m.list();
    uint64_t need = 0;
    bitlm_status st = artifact_size(m.cfg, m.tok, specs.data(), (uint32_t)specs.size(), &need);
    if (st_out) *st_out = st;
    if (st != BITLM_OK) return Aligned();
    Aligned buf((size_t)need);
    size_t written = 0;
    st = write_artifact_to_buffer(m.cfg, m.tok, specs.data(), (uint32_t)specs.size(), buf.data(), buf.size(),
                                  &written);
    if (st_out) *st_out = st;
    CHECK(st == BITLM_OK);
    CHECK(written == need);
    return buf;
}

bitlm_status read(const Aligned &a, bool skip = false, ArtifactInfo *info_out = nullptr) {
    ArtifactInfo info;
    bitlm_status st = read_artifact(a.data(), a.size(), skip, &info);
    if (info_out) *info_out = info;
    return st;
}

// Entry i of the table, for patching.
uint8_t *entry_ptr(Aligned &a, uint32_t i) { return a.data() + load_u32(a.data() + kHdrTableOffset) + i * 48u; }
uint32_t find_entry(const Aligned &a, TensorRole role, uint16_t layer) {
    const uint32_t table = load_u32(a.data() + kHdrTableOffset), n = load_u32(a.data() + kHdrTensorCount);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = a.data() + table + i * 48u;
        if (load_u16(e + kTenRole) == (uint16_t)role && load_u16(e + kTenLayer) == layer) return i;
    }
    return 0xffffffffu;
}

std::set<int> g_statuses_seen;  // every status a crafted case produced

void expect(bitlm_status got, bitlm_status want, const char *what) {
    g_statuses_seen.insert((int)got);
    CHECK_MSG(got == want, "%s: got %d (%s), want %d (%s)", what, (int)got, bitlm_status_message(got), (int)want,
              bitlm_status_message(want));
}

// ---- round trips ------------------------------------------------------------------------------
void check_round_trip(const Model &m, const char *name) {
    Aligned a = write(m);
    ArtifactInfo info;
    bitlm_status st = read(a, false, &info);
    expect(st, BITLM_OK, name);
    if (st != BITLM_OK) return;
    CHECK(info.bytes == a.data());
    CHECK(info.size == a.size());
    CHECK(info.version == kFormatVersion);
    CHECK(std::memcmp(&info.config, &m.cfg, sizeof m.cfg) == 0);
    CHECK(info.tokenizer.kind == BITLM_TOKENIZER_BYTES);
    CHECK(info.tokenizer.vocab_size == m.cfg.vocab_size);
    CHECK(info.tokenizer.bos_id == m.tok.bos_id && info.tokenizer.eos_id == m.tok.eos_id);
    CHECK(info.tokenizer.data_bytes == 0);
    CHECK(info.tensor_count == m.specs.size());

    // The checksum the writer computed equals an independent CRC of the file with the field zeroed.
    Aligned z(a.data(), a.size());
    store_u32(z.data() + kHdrChecksum, 0);
    CHECK(info.checksum == ref_crc32(z.data(), z.size()));
    CHECK(artifact_compute_checksum(a.data(), a.size()) == info.checksum);

    // Header layout.
    CHECK(load_u32(a.data() + kHdrConfigOffset) == 64);
    CHECK(load_u32(a.data() + kHdrPayloadOffset) % 64 == 0);
    CHECK(load_u64(a.data() + kHdrFileBytes) == a.size());

    for (uint32_t i = 0; i < info.tensor_count; i++) {
        const TensorEntry e = tensor_entry(info, i);
        const TensorSpec &s = m.specs[i];
        CHECK(e.role == s.role && e.layer == s.layer && e.dtype == s.dtype && e.scale_kind == s.scale_kind);
        CHECK(e.rows == s.rows && e.cols == s.cols && e.group_size == s.group_size);
        CHECK(e.scale_count == m.scales[i].size());
        CHECK(e.data_bytes == m.data[i].size());
        CHECK(e.data_offset % 64 == 0);
        CHECK(e.scale_offset % 4 == 0);
        CHECK(e.data_offset >= load_u32(a.data() + kHdrPayloadOffset));
        const WeightView v = tensor_view(info, e);
        CHECK(((uintptr_t)v.data - (uintptr_t)a.data()) % 64 == 0);
        CHECK((uintptr_t)v.data % 64 == 0);  // buffer is 64-aligned
        CHECK(v.rows == s.rows && v.cols == s.cols && v.dtype == s.dtype && v.group_size == s.group_size);
        CHECK(v.row_bytes == dtype_row_bytes(s.dtype, s.cols));
        CHECK(std::memcmp(v.data, m.data[i].data(), m.data[i].size()) == 0);
        if (m.scales[i].empty()) {
            CHECK(v.scales == nullptr);
            CHECK(e.scale_offset == 0);
        } else {
            CHECK(v.scales != nullptr && std::memcmp(v.scales, m.scales[i].data(), m.scales[i].size() * 2) == 0);
        }
    }
    CHECK(tensor_entry(info, info.tensor_count).rows == 0);  // out of range: a zero entry

    // Bindings point at the right tensors.
    auto spec_index = [&](TensorRole r, uint16_t l) -> int {
        for (size_t i = 0; i < m.specs.size(); i++)
            if (m.specs[i].role == r && m.specs[i].layer == l) return (int)i;
        return -1;
    };
    auto same = [&](const void *p, TensorRole r, uint16_t l) {
        const int i = spec_index(r, l);
        if (i < 0) return p == nullptr;
        return p != nullptr && std::memcmp(p, m.data[i].data(), m.data[i].size()) == 0;
    };
    WeightView emb, head;
    const float *final_norm = nullptr;
    CHECK(bind_globals(info, &emb, &final_norm, &head) == BITLM_OK);
    CHECK(same(emb.data, TensorRole::TokEmbedding, 0) && emb.rows == m.cfg.vocab_size && emb.cols == m.cfg.dim);
    CHECK(same(final_norm, TensorRole::FinalNorm, 0));
    if (m.cfg.head_kind == BITLM_HEAD_SEPARATE) CHECK(same(head.data, TensorRole::Head, 0) && head.rows == m.cfg.vocab_size);
    else CHECK(head.rows == 0 && head.data == nullptr);
    for (uint16_t l = 0; l < m.cfg.n_layers; l++) {
        LayerWeights w;
        CHECK(bind_layer(info, l, &w) == BITLM_OK);
        CHECK(same(w.attn_norm, TensorRole::AttnNorm, l) && same(w.ffn_norm, TensorRole::FfnNorm, l));
        CHECK(same(w.wq.data, TensorRole::Wq, l) && same(w.wk.data, TensorRole::Wk, l));
        CHECK(same(w.wv.data, TensorRole::Wv, l) && same(w.wo.data, TensorRole::Wo, l));
        CHECK(same(w.w_up.data, TensorRole::WUp, l) && same(w.w_down.data, TensorRole::WDown, l));
        CHECK(same(w.w_gate.data, TensorRole::WGate, l));
        CHECK(same(w.attn_subnorm, TensorRole::AttnSubNorm, l) && same(w.ffn_subnorm, TensorRole::FfnSubNorm, l));
        if (m.cfg.ffn_kind != BITLM_FFN_SWIGLU) CHECK(w.w_gate.rows == 0);
        CHECK(w.wq.rows == m.cfg.n_heads * m.cfg.head_dim && w.wk.rows == m.cfg.n_kv_heads * m.cfg.head_dim);
        CHECK(w.wo.rows == m.cfg.dim && w.w_down.cols == m.cfg.ffn_dim);
    }
    LayerWeights w;
    CHECK(bind_layer(info, m.cfg.n_layers, &w) == BITLM_ERR_BAD_ARGUMENT);
    CHECK(bind_layer(info, 0, nullptr) == BITLM_ERR_NULL_ARGUMENT);
    CHECK(bind_globals(info, nullptr, &final_norm, &head) == BITLM_ERR_NULL_ARGUMENT);
    touch_all(info);

    // Streaming through the callback gives the same bytes as the buffer writer.
    const std::vector<TensorSpec> specs = m.list();
    std::vector<uint8_t> streamed;
    auto sink = [](void *user, const void *p, size_t n) -> bitlm_status {
        auto *v = static_cast<std::vector<uint8_t> *>(user);
        v->insert(v->end(), (const uint8_t *)p, (const uint8_t *)p + n);
        return BITLM_OK;
    };
    CHECK(write_artifact(m.cfg, m.tok, specs.data(), (uint32_t)specs.size(), sink, &streamed) == BITLM_OK);
    CHECK(streamed.size() == a.size() && std::memcmp(streamed.data(), a.data(), a.size()) == 0);

    // Every proper prefix is rejected as truncated (0..size-1), never read past.
    int bad = 0;
    for (size_t n = 0; n < a.size(); n++) {
        Aligned p(a.data(), n);  // exact-size copy so ASan catches any over-read
        ArtifactInfo pi;
        if (read_artifact(p.data(), n, false, &pi) != BITLM_ERR_TRUNCATED) bad++;
    }
    CHECK_MSG(bad == 0, "%s: %d prefixes not TRUNCATED", name, bad);
}

// ---- crafted bad artifacts ------------------------------------------------------------------
void check_errors() {
    const Model m = model_a();
    const Aligned good = write(m);
    ArtifactInfo info;
    CHECK(read(good, false, &info) == BITLM_OK);
    const uint64_t file_bytes = good.size();
    const uint32_t good_checksum = info.checksum;
    auto copy = [&]() { return Aligned(good.data(), good.size()); };

    // Arguments and alignment.
    expect(read_artifact(nullptr, 100, false, &info), BITLM_ERR_NULL_ARGUMENT, "null bytes");
    CHECK(read_artifact(good.data(), good.size(), false, nullptr) == BITLM_ERR_NULL_ARGUMENT);
    for (size_t off = 1; off < 8; off++) {
        Aligned s(good.size() + 8);
        std::memcpy(s.data() + off, good.data(), good.size());
        const bitlm_status st = read_artifact(s.data() + off, good.size(), false, &info);
        if (off % 4 == 0) expect(st, BITLM_OK, "4-aligned (not 64) buffer");
        else expect(st, BITLM_ERR_BAD_ALIGNMENT, "misaligned buffer");
    }

    // Trailing bytes after file_bytes are accepted and ignored.
    {
        Aligned t(good.size() + 100);
        std::memcpy(t.data(), good.data(), good.size());
        std::memset(t.data() + good.size(), 0xab, 100);
        ArtifactInfo ti;
        expect(read(t, false, &ti), BITLM_OK, "trailing bytes");
        CHECK(ti.size == file_bytes);
        artifact_fix_checksum(t.data(), t.size());  // uses file_bytes, not the buffer size
        CHECK(load_u32(t.data() + kHdrChecksum) == good_checksum);
    }

    // Header.
    { Aligned a = copy(); a.data()[3] ^= 0x20; expect(read(a), BITLM_ERR_BAD_MAGIC, "bad magic"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrVersion, kFormatVersion + 1); artifact_fix_checksum(a.data(), a.size());
      expect(read(a), BITLM_ERR_NEWER_VERSION, "newer version"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrVersion, 0); artifact_fix_checksum(a.data(), a.size());
      expect(read(a), BITLM_ERR_BAD_HEADER, "version 0"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrHeaderBytes, 128); expect(read(a), BITLM_ERR_BAD_HEADER, "header_bytes"); }
    { Aligned a = copy(); store_u64(a.data() + kHdrFileBytes, file_bytes + 1); expect(read(a), BITLM_ERR_TRUNCATED, "file_bytes > size"); }
    { Aligned a = copy(); store_u64(a.data() + kHdrFileBytes, 32); expect(read(a), BITLM_ERR_BAD_HEADER, "file_bytes < header"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrFlags, 1); artifact_fix_checksum(a.data(), a.size());
      expect(read(a), BITLM_ERR_BAD_HEADER, "flags"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrReserved, 1); artifact_fix_checksum(a.data(), a.size());
      expect(read(a), BITLM_ERR_BAD_HEADER, "reserved"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrConfigBytes, 64); expect(read(a), BITLM_ERR_BAD_HEADER, "config_bytes"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrConfigOffset, 0); expect(read(a), BITLM_ERR_BAD_HEADER, "config in header"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrTokenizerOffset, 64); expect(read(a), BITLM_ERR_BAD_HEADER, "sections overlap"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrTableOffset, 0xfffffff0u); expect(read(a), BITLM_ERR_BAD_HEADER, "table outside"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrTensorCount, 0x7fffffffu); expect(read(a), BITLM_ERR_BAD_HEADER, "huge tensor count"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrPayloadOffset, (uint32_t)(file_bytes + 64)); expect(read(a), BITLM_ERR_BAD_HEADER, "payload past end"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrPayloadOffset, load_u32(a.data() + kHdrPayloadOffset) + 4); expect(read(a), BITLM_ERR_BAD_HEADER, "payload misaligned"); }
    { Aligned a = copy(); store_u32(a.data() + kHdrTokenizerBytes, 8); expect(read(a), BITLM_ERR_BAD_HEADER, "tokenizer too short"); }

    // Checksum.
    {
        Aligned a = copy();
        a.data()[a.size() - 3] ^= 0x01;  // a payload byte
        expect(read(a), BITLM_ERR_BAD_CHECKSUM, "flipped payload byte");
        CHECK(read(a, true) == BITLM_OK);  // skip_checksum trusts the payload
        store_u32(a.data() + kHdrChecksum, load_u32(good.data() + kHdrChecksum) ^ 1);
        a.data()[a.size() - 3] ^= 0x01;
        expect(read(a), BITLM_ERR_BAD_CHECKSUM, "flipped checksum");
    }

    // Configuration (written directly: the writer does not judge the configuration).
    auto write_cfg = [&](void (*edit)(bitlm_config &)) {
        Model mm = model_a();
        edit(mm.cfg);
        return write(mm);
    };
    expect(read(write_cfg([](bitlm_config &c) { c.n_kv_heads = 3; })), BITLM_ERR_BAD_CONFIG, "kv heads not dividing");
    expect(read(write_cfg([](bitlm_config &c) { c.ffn_kind = 7; })), BITLM_ERR_BAD_CONFIG, "unknown ffn kind");
    expect(read(write_cfg([](bitlm_config &c) { c.pos_kind = BITLM_POS_ALIBI; })), BITLM_ERR_UNSUPPORTED_MODE, "alibi");
    expect(read(write_cfg([](bitlm_config &c) { c.attn_kind = BITLM_ATTN_GUMBEL_HARDMAX; })), BITLM_ERR_UNSUPPORTED_MODE, "gumbel");
    expect(read(write_cfg([](bitlm_config &c) { c.act_kind = BITLM_ACT_BINARY; })), BITLM_ERR_UNSUPPORTED_MODE, "binary act");
    expect(read(write_cfg([](bitlm_config &c) { c.norm_kind = BITLM_NORM_NONE; })), BITLM_ERR_UNSUPPORTED_MODE, "no norm");

    // Tokenizer.
    {
        Aligned a = copy();
        const uint32_t t = load_u32(a.data() + kHdrTokenizerOffset);
        store_u32(a.data() + t + 4, 300);
        artifact_fix_checksum(a.data(), a.size());
        expect(read(a), BITLM_ERR_BAD_TOKENIZER, "tokenizer vocab != config vocab");
        a = copy();
        store_u32(a.data() + t + 8, 256);  // bos outside the vocabulary
        artifact_fix_checksum(a.data(), a.size());
        expect(read(a), BITLM_ERR_BAD_TOKENIZER, "bos out of range");
        a = copy();
        store_u32(a.data() + t + 16, 4);  // data_bytes past the section
        artifact_fix_checksum(a.data(), a.size());
        expect(read(a), BITLM_ERR_BAD_TOKENIZER, "tokenizer data past section");
        a = copy();
        store_u32(a.data() + t, 9);
        artifact_fix_checksum(a.data(), a.size());
        expect(read(a), BITLM_ERR_BAD_TOKENIZER, "unknown tokenizer kind");
        a = copy();
        store_u32(a.data() + t, BITLM_TOKENIZER_BPE);
        artifact_fix_checksum(a.data(), a.size());
        expect(read(a), BITLM_ERR_UNSUPPORTED_MODE, "bpe tokenizer");
        Model small = model_a();
        small.cfg.vocab_size = 200;  // a byte tokenizer needs all 256 bytes
        small.tok.bos_id = small.tok.eos_id = kNoToken;
        expect(read(write(small)), BITLM_ERR_BAD_TOKENIZER, "byte vocab < 256");
    }

    // Tensor entries: patch, fix the checksum, read.
    auto patched = [&](TensorRole role, uint16_t layer, void (*edit)(uint8_t *e, const Aligned &a)) {
        Aligned a = copy();
        const uint32_t i = find_entry(a, role, layer);
        CHECK(i != 0xffffffffu);
        edit(entry_ptr(a, i), a);
        artifact_fix_checksum(a.data(), a.size());
        return read(a);
    };
    expect(patched(TensorRole::Wq, 0, [](uint8_t *e, const Aligned &) { store_u16(e + kTenRole, 99); }),
           BITLM_ERR_BAD_TENSOR, "unknown role");
    expect(patched(TensorRole::Wq, 1, [](uint8_t *e, const Aligned &) { store_u16(e + kTenLayer, 2); }),
           BITLM_ERR_BAD_TENSOR, "layer out of range");
    expect(patched(TensorRole::FinalNorm, 0, [](uint8_t *e, const Aligned &) { store_u16(e + kTenLayer, 1); }),
           BITLM_ERR_BAD_TENSOR, "global tensor with a layer");
    expect(patched(TensorRole::Wq, 0, [](uint8_t *e, const Aligned &) { e[kTenDType] = 9; }), BITLM_ERR_BAD_TENSOR, "unknown dtype");
    expect(patched(TensorRole::Wq, 0, [](uint8_t *e, const Aligned &) { e[kTenDType] = (uint8_t)DType::Ternary2; }),
           BITLM_ERR_BAD_TENSOR, "the in-RAM-only 2-bit dtype");
    expect(patched(TensorRole::Wq, 0, [](uint8_t *e, const Aligned &) { e[kTenScaleKind] = 0; }), BITLM_ERR_BAD_TENSOR, "ternary without scale");
    expect(patched(TensorRole::Wq, 0, [](uint8_t *e, const Aligned &) { store_u16(e + kTenReserved, 1); }), BITLM_ERR_BAD_TENSOR, "entry reserved");
    expect(patched(TensorRole::Wk, 0, [](uint8_t *e, const Aligned &) { store_u32(e + kTenGroupSize, 48); }), BITLM_ERR_BAD_TENSOR, "group size 48");
    expect(patched(TensorRole::Wq, 0, [](uint8_t *e, const Aligned &) { store_u32(e + kTenGroupSize, 32); }), BITLM_ERR_BAD_TENSOR, "group size without groups");
    expect(patched(TensorRole::Wq, 0, [](uint8_t *e, const Aligned &) { store_u32(e + kTenScaleCount, 1); }), BITLM_ERR_BAD_TENSOR, "scale count");
    expect(patched(TensorRole::Wq, 0, [](uint8_t *e, const Aligned &) { store_u64(e + kTenDataBytes, load_u64(e + kTenDataBytes) + 1); }),
           BITLM_ERR_BAD_TENSOR, "data bytes");
    expect(patched(TensorRole::Wq, 0, [](uint8_t *e, const Aligned &) { store_u64(e + kTenDataOffset, load_u64(e + kTenDataOffset) + 4); }),
           BITLM_ERR_BAD_TENSOR, "data offset not 64-aligned");
    expect(patched(TensorRole::Wq, 0, [](uint8_t *e, const Aligned &) { store_u64(e + kTenScaleOffset, load_u64(e + kTenScaleOffset) + 2); }),
           BITLM_ERR_BAD_TENSOR, "scale offset not 4-aligned");
    expect(patched(TensorRole::FinalNorm, 0, [](uint8_t *e, const Aligned &) { store_u64(e + kTenScaleOffset, 64); }),
           BITLM_ERR_BAD_TENSOR, "scale offset without scales");
    expect(patched(TensorRole::FinalNorm, 0, [](uint8_t *e, const Aligned &) {
               store_u32(e + kTenRows, 0xffffffffu);
               store_u32(e + kTenCols, 0xffffffffu);
           }),
           BITLM_ERR_SIZE_OVERFLOW, "rows*cols overflow");
    expect(patched(TensorRole::WDown, 1, [](uint8_t *e, const Aligned &a) { store_u64(e + kTenDataOffset, align_up(a.size(), 64) + 64); }),
           BITLM_ERR_TENSOR_OUT_OF_BOUNDS, "data past end");
    expect(patched(TensorRole::WDown, 1, [](uint8_t *e, const Aligned &) { store_u64(e + kTenDataOffset, 0xffffffffffffffc0ull); }),
           BITLM_ERR_TENSOR_OUT_OF_BOUNDS, "data offset near 2^64");
    expect(patched(TensorRole::Wq, 0, [](uint8_t *e, const Aligned &) { store_u64(e + kTenDataOffset, 64); }),
           BITLM_ERR_TENSOR_OUT_OF_BOUNDS, "data before payload region");
    expect(patched(TensorRole::WDown, 1, [](uint8_t *e, const Aligned &a) { store_u64(e + kTenScaleOffset, (a.size() - 4) & ~(uint64_t)3); }),
           BITLM_ERR_TENSOR_OUT_OF_BOUNDS, "scales past end");
    expect(patched(TensorRole::Wo, 0, [](uint8_t *e, const Aligned &) {
               store_u32(e + kTenRows, 31);
               store_u64(e + kTenDataBytes, 31 * dtype_row_bytes(DType::Ternary, 32));
           }),
           BITLM_ERR_SHAPE_MISMATCH, "shape mismatch");
    expect(patched(TensorRole::AttnNorm, 0, [](uint8_t *e, const Aligned &) {
               e[kTenDType] = (uint8_t)DType::F16;
               store_u64(e + kTenDataBytes, 64);
           }),
           BITLM_ERR_BAD_TENSOR, "norm stored as f16");
    {
        Model mm = model_a();
        mm.specs[0].dtype = DType::Ternary;  // embedding must be int8 or f16
        mm.specs[0].scale_kind = ScaleKind::Row;
        mm.data[0].resize(mm.specs[0].rows * dtype_row_bytes(DType::Ternary, mm.specs[0].cols));
        expect(read(write(mm)), BITLM_ERR_BAD_TENSOR, "ternary embedding");
    }

    // Overlaps (both tensors stay in bounds).
    {
        Aligned a = copy();
        const uint32_t k = find_entry(a, TensorRole::Wk, 0), v = find_entry(a, TensorRole::Wv, 0);
        store_u64(entry_ptr(a, v) + kTenDataOffset, load_u64(entry_ptr(a, k) + kTenDataOffset));
        artifact_fix_checksum(a.data(), a.size());
        expect(read(a), BITLM_ERR_TENSOR_OVERLAP, "two tensors at one offset");
        a = copy();
        const uint32_t q = find_entry(a, TensorRole::Wq, 1);  // its scales inside layer 0's wk data
        store_u64(entry_ptr(a, q) + kTenScaleOffset, load_u64(entry_ptr(a, k) + kTenDataOffset) + 8);
        artifact_fix_checksum(a.data(), a.size());
        expect(read(a), BITLM_ERR_TENSOR_OVERLAP, "scales inside another tensor");
        a = copy();
        const uint32_t q0 = find_entry(a, TensorRole::Wq, 0);  // own scales inside own data
        store_u64(entry_ptr(a, q0) + kTenScaleOffset, load_u64(entry_ptr(a, q0) + kTenDataOffset) + 4);
        artifact_fix_checksum(a.data(), a.size());
        expect(read(a), BITLM_ERR_TENSOR_OVERLAP, "scales inside own data");
    }
    // Payloads out of table order but disjoint are fine (the pairwise path): swap two norms.
    {
        Aligned a = copy();
        const uint32_t n0 = find_entry(a, TensorRole::AttnNorm, 0), n1 = find_entry(a, TensorRole::AttnNorm, 1);
        const uint64_t o0 = load_u64(entry_ptr(a, n0) + kTenDataOffset), o1 = load_u64(entry_ptr(a, n1) + kTenDataOffset);
        store_u64(entry_ptr(a, n0) + kTenDataOffset, o1);
        store_u64(entry_ptr(a, n1) + kTenDataOffset, o0);
        artifact_fix_checksum(a.data(), a.size());
        ArtifactInfo si;
        expect(read(a, false, &si), BITLM_OK, "swapped payloads");
        LayerWeights w;
        CHECK(bind_layer(si, 0, &w) == BITLM_OK && w.attn_norm == (const float *)(a.data() + o1));
    }

    // The tensor set.
    {
        Model mm = model_a();
        mm.specs.erase(mm.specs.begin() + 5);  // drop a tensor: the writer writes it, the reader refuses
        mm.data.erase(mm.data.begin() + 5);
        mm.scales.erase(mm.scales.begin() + 5);
        bitlm_status wst;
        Aligned a = write(mm, &wst);
        CHECK(wst == BITLM_OK);
        expect(read(a), BITLM_ERR_MISSING_TENSOR, "missing tensor");
    }
    {
        Model mm = model_a();
        mm.specs.push_back(mm.specs[3]);  // an extra copy
        mm.data.push_back(mm.data[3]);
        mm.scales.push_back(mm.scales[3]);
        expect(read(write(mm)), BITLM_ERR_MISSING_TENSOR, "duplicated tensor (count)");
    }
    expect(patched(TensorRole::Wq, 1, [](uint8_t *e, const Aligned &) { store_u16(e + kTenLayer, 0); }),
           BITLM_ERR_MISSING_TENSOR, "duplicated tensor (same count)");
    expect(patched(TensorRole::TokEmbedding, 0, [](uint8_t *e, const Aligned &) { store_u16(e + kTenRole, (uint16_t)TensorRole::Head); }),
           BITLM_ERR_MISSING_TENSOR, "head in a tied model");

    // Every status a crafted case produced has its own message.
    std::set<std::string> msgs;
    for (int s : g_statuses_seen) msgs.insert(bitlm_status_message((bitlm_status)s));
    CHECK(msgs.size() == g_statuses_seen.size());
    CHECK(g_statuses_seen.size() >= 15);
    for (int s = 0; s < BITLM_STATUS_COUNT; s++)
        for (int t = s + 1; t < BITLM_STATUS_COUNT; t++)
            CHECK(std::strcmp(bitlm_status_message((bitlm_status)s), bitlm_status_message((bitlm_status)t)) != 0);
}

// ---- writer-side validation ---------------------------------------------------------------------
void check_writer_errors() {
    Model m = model_a();
    std::vector<TensorSpec> specs = m.list();
    uint64_t need = 0;
    CHECK(artifact_size(m.cfg, m.tok, specs.data(), (uint32_t)specs.size(), &need) == BITLM_OK);

    auto size_with = [&](void (*edit)(TensorSpec &)) {
        std::vector<TensorSpec> s = specs;
        for (TensorSpec &t : s) edit(t);
        uint64_t n = 0;
        return artifact_size(m.cfg, m.tok, s.data(), (uint32_t)s.size(), &n);
    };
    // Sizing needs only the layout; writing needs the payloads.
    auto write_with = [&](void (*edit)(TensorSpec &)) {
        std::vector<TensorSpec> s = specs;
        for (TensorSpec &t : s) edit(t);
        std::vector<uint8_t> buf(need);
        size_t n = 0;
        return write_artifact_to_buffer(m.cfg, m.tok, s.data(), (uint32_t)s.size(), buf.data(), buf.size(), &n);
    };
    CHECK(size_with([](TensorSpec &t) { t.data = nullptr; t.scales = nullptr; }) == BITLM_OK);
    CHECK(write_with([](TensorSpec &t) { if (t.role == TensorRole::Wq) t.scales = nullptr; }) == BITLM_ERR_NULL_ARGUMENT);
    CHECK(write_with([](TensorSpec &t) { t.data = nullptr; }) == BITLM_ERR_NULL_ARGUMENT);
    CHECK(size_with([](TensorSpec &t) { if (t.role == TensorRole::Wq) t.scale_kind = ScaleKind::None; }) == BITLM_ERR_BAD_TENSOR);
    CHECK(size_with([](TensorSpec &t) { if (t.role == TensorRole::Wq) { t.scale_kind = ScaleKind::Group; t.group_size = 48; } }) == BITLM_ERR_BAD_TENSOR);
    CHECK(size_with([](TensorSpec &t) { if (t.role == TensorRole::Wq) t.group_size = 32; }) == BITLM_ERR_BAD_TENSOR);
    CHECK(size_with([](TensorSpec &t) { if (t.role == TensorRole::Wq) t.dtype = (DType)7; }) == BITLM_ERR_BAD_TENSOR);
    CHECK(size_with([](TensorSpec &t) { if (t.role == TensorRole::Wq) t.rows = 0; }) == BITLM_ERR_BAD_TENSOR);
    CHECK(size_with([](TensorSpec &t) { if (t.role == TensorRole::Wq) t.role = (TensorRole)99; }) == BITLM_ERR_BAD_TENSOR);
    CHECK(size_with([](TensorSpec &t) {
              if (t.role == TensorRole::AttnNorm) { t.rows = 0xffffffffu; t.cols = 0xffffffffu; }
          }) == BITLM_ERR_SIZE_OVERFLOW);
    CHECK(artifact_size(m.cfg, m.tok, nullptr, 3, &need) == BITLM_ERR_NULL_ARGUMENT);
    CHECK(artifact_size(m.cfg, m.tok, specs.data(), (uint32_t)specs.size(), nullptr) == BITLM_ERR_NULL_ARGUMENT);

    // Buffer too small: reports the size needed and writes nothing past capacity.
    CHECK(artifact_size(m.cfg, m.tok, specs.data(), (uint32_t)specs.size(), &need) == BITLM_OK);
    std::vector<uint8_t> small((size_t)need - 1);
    size_t out = 0;
    CHECK(write_artifact_to_buffer(m.cfg, m.tok, specs.data(), (uint32_t)specs.size(), small.data(), small.size(), &out) ==
          BITLM_ERR_BUFFER_TOO_SMALL);
    CHECK(out == need);

    // A callback error stops the write and is returned as is.
    int calls = 0;
    auto abort_after_3 = [](void *user, const void *, size_t) -> bitlm_status {
        return ++*static_cast<int *>(user) >= 3 ? BITLM_ERR_ABORTED : BITLM_OK;
    };
    CHECK(write_artifact(m.cfg, m.tok, specs.data(), (uint32_t)specs.size(), abort_after_3, &calls) == BITLM_ERR_ABORTED);
    CHECK(calls == 3);
    CHECK(write_artifact(m.cfg, m.tok, specs.data(), (uint32_t)specs.size(), nullptr, nullptr) == BITLM_ERR_NULL_ARGUMENT);

    // Checksum helpers on odd sizes never read past the end.
    uint8_t tiny[30] = {};
    CHECK(artifact_compute_checksum(tiny, 10) == ref_crc32(tiny, 10));
    CHECK(artifact_compute_checksum(tiny, 26) == ref_crc32(tiny, 26));
    artifact_fix_checksum(tiny, 20);  // too short to hold the field: a no-op
    CHECK(artifact_compute_checksum(nullptr, 10) == 0);
}

// ---- configuration rules -----------------------------------------------------------------------
void check_config_rules() {
    const bitlm_config ok = base_config();
    CHECK(validate_config(ok) == BITLM_OK);
    struct Case {
        void (*edit)(bitlm_config &);
        bitlm_status want;
    };
    const Case cases[] = {
        {[](bitlm_config &c) { c.vocab_size = 0; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.dim = 0; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.dim = (1u << 20) + 1; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.n_layers = 0; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.n_layers = 4097; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.n_heads = 0; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.n_kv_heads = 0; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.n_kv_heads = 8; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.head_dim = 7; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.head_dim = 0; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.n_heads = 1u << 12; c.n_kv_heads = 1; c.head_dim = 1u << 10; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.ffn_dim = 0; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.max_seq_len = 0; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.rope_theta = 1.0f; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.rope_theta = -10000.0f; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.rope_theta = __builtin_inff(); }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.rope_theta = __builtin_nanf(""); }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.norm_eps = -1e-5f; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.norm_eps = __builtin_nanf(""); }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.norm_eps = 0.0f; }, BITLM_OK},
        {[](bitlm_config &c) { c.norm_eps = -0.0f; }, BITLM_OK},
        {[](bitlm_config &c) { c.n_kv_heads = 1; }, BITLM_OK},
        {[](bitlm_config &c) { c.ffn_kind = 2; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.norm_kind = 2; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.norm_placement = 2; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.attn_kind = 3; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.pos_kind = 2; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.act_kind = 2; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.head_kind = 2; }, BITLM_ERR_BAD_CONFIG},
        {[](bitlm_config &c) { c.attn_kind = BITLM_ATTN_SOFT_POINTER; }, BITLM_ERR_UNSUPPORTED_MODE},
        {[](bitlm_config &c) { c.pos_kind = BITLM_POS_ALIBI; }, BITLM_ERR_UNSUPPORTED_MODE},
    };
    int i = 0;
    for (const Case &k : cases) {
        bitlm_config c = ok;
        k.edit(c);
        const bitlm_status st = validate_config(c);
        CHECK_MSG(st == k.want, "config case %d: got %d want %d", i, (int)st, (int)k.want);
        i++;
    }

    // Roles the configuration needs, and shapes.
    bitlm_config c = ok;
    CHECK(config_needs_role(c, TensorRole::WGate) && config_needs_role(c, TensorRole::AttnSubNorm));
    CHECK(!config_needs_role(c, TensorRole::Head));
    CHECK(!config_needs_role(c, (TensorRole)99));
    c.ffn_kind = BITLM_FFN_RELU2;
    c.norm_placement = BITLM_NORM_PLACE_PRE;
    c.head_kind = BITLM_HEAD_SEPARATE;
    CHECK(!config_needs_role(c, TensorRole::WGate) && !config_needs_role(c, TensorRole::FfnSubNorm));
    CHECK(config_needs_role(c, TensorRole::Head) && config_needs_role(c, TensorRole::WDown));
    uint32_t r = 0, k = 0;
    expected_shape(ok, TensorRole::Wq, &r, &k);
    CHECK(r == 32 && k == 32);
    expected_shape(ok, TensorRole::Wk, &r, &k);
    CHECK(r == 16 && k == 32);
    expected_shape(ok, TensorRole::Wo, &r, &k);
    CHECK(r == 32 && k == 32);
    expected_shape(ok, TensorRole::AttnSubNorm, &r, &k);
    CHECK(r == 1 && k == 32);
    expected_shape(ok, TensorRole::FfnSubNorm, &r, &k);
    CHECK(r == 1 && k == 48);
    expected_shape(ok, TensorRole::WDown, &r, &k);
    CHECK(r == 32 && k == 48);
    expected_shape(ok, TensorRole::WGate, &r, &k);
    CHECK(r == 48 && k == 32);
    expected_shape(ok, TensorRole::TokEmbedding, &r, &k);
    CHECK(r == 256 && k == 32);
    expected_shape(ok, (TensorRole)99, &r, &k);
    CHECK(r == 0 && k == 0);

    // Role names and classes.
    CHECK(std::strcmp(tensor_role_name(TensorRole::TokEmbedding), "tok_embedding") == 0);
    CHECK(std::strcmp(tensor_role_name(TensorRole::Wq), "wq") == 0);
    CHECK(std::strcmp(tensor_role_name(TensorRole::WDown), "w_down") == 0);
    CHECK(std::strcmp(tensor_role_name((TensorRole)3), "?") == 0);
    CHECK(!tensor_role_is_per_layer(TensorRole::Head) && tensor_role_is_per_layer(TensorRole::AttnNorm));
    CHECK(tensor_role_is_per_layer(TensorRole::WDown) && !tensor_role_is_per_layer((TensorRole)27));
    std::set<std::string> names;
    for (uint16_t v = 0; v < 40; v++) names.insert(tensor_role_name((TensorRole)v));
    CHECK(names.size() == 14 + 1);  // 14 roles + "?"
}

// ---- every single-byte corruption: a status, never a crash ---------------------------------------
void check_byte_flips(const Model &m) {
    const Aligned good = write(m);
    int ok = 0, mismatched = 0;
    const size_t payload = load_u32(good.data() + kHdrPayloadOffset);
    for (size_t i = 0; i < good.size(); i += i < payload ? 1 : 13) {  // all metadata, some payload
        for (uint8_t x : {0x01, 0x80, 0xff}) {
            Aligned a(good.data(), good.size());
            a.data()[i] ^= x;
            ArtifactInfo info;
            const bitlm_status skip = read_artifact(a.data(), a.size(), true, &info);
            if (skip == BITLM_OK) {
                ok++;
                touch_all(info);
            }
            // With the checksum fixed, checking it gives the same answer as skipping it.
            artifact_fix_checksum(a.data(), a.size());
            if (read_artifact(a.data(), a.size(), false, &info) != skip) mismatched++;
            else if (skip == BITLM_OK) CHECK(read(a) == BITLM_OK);
            // Without the fix, a change anywhere but in the checksum field itself is caught.
        }
    }
    CHECK(mismatched == 0);
    CHECK(ok > 0);  // payload bytes are opaque, so most of those flips still read
}

}  // namespace

int main() {
    check_round_trip(model_a(), "model A (swiglu, subln, tied)");
    check_round_trip(model_b(), "model B (relu2, pre, separate head)");
    check_errors();
    check_writer_errors();
    check_config_rules();
    check_byte_flips(model_a());
    return check::finish("artifact");
}
