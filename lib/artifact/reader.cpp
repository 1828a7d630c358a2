// reader.cpp — validate a .blm artifact in place and bind its tensors as read-in-place views.
// Every byte is untrusted: all offsets are checked against the file before use, all size
// arithmetic is done in 64 bits with overflow checks, and nothing is ever read outside [bytes, size).
#include "artifact/reader.h"
#include "artifact/writer.h"  // artifact_compute_checksum
#include "core/bytes.h"

namespace bitlm {

namespace {

// ---- limits ---------------------------------------------------------------------------------
constexpr uint32_t kMaxDim = 1u << 20;       // any width, vocabulary or context length
constexpr uint32_t kMaxLayers = 4096;

// Keys for the "every needed tensor exactly once" check: whole-model roles 0..2 are keys 0..2,
// per-layer role r of layer l is key 3 + l * 11 + (r - 16).
constexpr uint32_t kGlobalRoleCount = 3;
constexpr uint32_t kLayerRoleFirst = (uint32_t)TensorRole::AttnNorm;
constexpr uint32_t kLayerRoleCount = (uint32_t)TensorRole::WDown - kLayerRoleFirst + 1;
constexpr uint32_t kPresenceWindowBits = 2048;  // 256 bytes of stack per pass

struct Range {
    uint64_t begin, end;  // [begin, end)
};

bool ranges_overlap(Range a, Range b) {
    if (a.begin == a.end || b.begin == b.end) return false;
    return a.begin < b.end && b.begin < a.end;
}

bool bits_finite(uint32_t b) { return (b & 0x7f800000u) != 0x7f800000u; }

bool role_known(TensorRole role) {
    return (uint16_t)role < kGlobalRoleCount || tensor_role_is_per_layer(role);
}

bool role_is_norm(TensorRole role) {
    return role == TensorRole::FinalNorm || role == TensorRole::AttnNorm || role == TensorRole::AttnSubNorm ||
           role == TensorRole::FfnNorm || role == TensorRole::FfnSubNorm;
}

// The storage types each role may use.
bool dtype_allowed_for_role(TensorRole role, DType dtype) {
    if (role == TensorRole::TokEmbedding) return dtype == DType::Int8 || dtype == DType::F16;
    if (role_is_norm(role)) return dtype == DType::F32;
    if (role == TensorRole::Head)
        return dtype == DType::Ternary || dtype == DType::Binary || dtype == DType::Int8 || dtype == DType::F16;
    return dtype == DType::Ternary || dtype == DType::Binary || dtype == DType::Int8;  // BitLinear layers
}

void decode_config(const uint8_t *p, bitlm_config *c) {
    c->vocab_size = load_u32(p + 0);
    c->dim = load_u32(p + 4);
    c->n_layers = load_u32(p + 8);
    c->n_heads = load_u32(p + 12);
    c->n_kv_heads = load_u32(p + 16);
    c->head_dim = load_u32(p + 20);
    c->ffn_dim = load_u32(p + 24);
    c->max_seq_len = load_u32(p + 28);
    c->ffn_kind = load_u32(p + 32);
    c->norm_kind = load_u32(p + 36);
    c->norm_placement = load_u32(p + 40);
    c->attn_kind = load_u32(p + 44);
    c->pos_kind = load_u32(p + 48);
    c->act_kind = load_u32(p + 52);
    c->head_kind = load_u32(p + 56);
    c->rope_theta = bits_float(load_u32(p + 60));
    c->norm_eps = bits_float(load_u32(p + 64));
}
static_assert(kConfigBytes == 68, "config section is the 17 fields of bitlm_config");

// Raw table entry, decoded without trusting any field.
struct RawEntry {
    TensorEntry e;
    uint8_t dtype_raw, scale_kind_raw;
    uint16_t reserved;
};

RawEntry decode_entry(const uint8_t *p) {
    RawEntry r;
    r.e.role = (TensorRole)load_u16(p + kTenRole);
    r.e.layer = load_u16(p + kTenLayer);
    r.dtype_raw = p[kTenDType];
    r.scale_kind_raw = p[kTenScaleKind];
    r.e.dtype = (DType)r.dtype_raw;
    r.e.scale_kind = (ScaleKind)r.scale_kind_raw;
    r.reserved = load_u16(p + kTenReserved);
    r.e.rows = load_u32(p + kTenRows);
    r.e.cols = load_u32(p + kTenCols);
    r.e.group_size = load_u32(p + kTenGroupSize);
    r.e.scale_count = load_u32(p + kTenScaleCount);
    r.e.data_offset = load_u64(p + kTenDataOffset);
    r.e.data_bytes = load_u64(p + kTenDataBytes);
    r.e.scale_offset = load_u64(p + kTenScaleOffset);
    return r;
}

// [offset, offset + bytes) inside [lo, hi), with no overflowing arithmetic.
bool range_inside(uint64_t offset, uint64_t bytes, uint64_t lo, uint64_t hi) {
    return offset >= lo && offset <= hi && bytes <= hi - offset;
}

// Payload ranges of a validated entry (scales empty when there are none).
Range data_range(const TensorEntry &e) { return Range{e.data_offset, e.data_offset + e.data_bytes}; }
Range scale_range(const TensorEntry &e) {
    return Range{e.scale_offset, e.scale_offset + (uint64_t)e.scale_count * 2u};
}

// One table entry on its own, in the documented order (see docs/blm-format.md).
bitlm_status check_entry(const RawEntry &r, const bitlm_config &cfg, uint64_t payload_offset,
                         uint64_t file_bytes) {
    const TensorEntry &e = r.e;
    if (!role_known(e.role)) return BITLM_ERR_BAD_TENSOR;
    if (tensor_role_is_per_layer(e.role) ? e.layer >= cfg.n_layers : e.layer != 0) return BITLM_ERR_BAD_TENSOR;
    if (r.dtype_raw >= kDTypeCount || r.scale_kind_raw >= kScaleKindCount) return BITLM_ERR_BAD_TENSOR;
    if (!scale_kind_allowed(e.dtype, e.scale_kind)) return BITLM_ERR_BAD_TENSOR;
    if (r.reserved != 0) return BITLM_ERR_BAD_TENSOR;
    if (e.scale_kind == ScaleKind::Group) {
        if (e.group_size == 0 || e.group_size % kGroupMultiple != 0) return BITLM_ERR_BAD_TENSOR;
    } else if (e.group_size != 0) {
        return BITLM_ERR_BAD_TENSOR;
    }

    uint64_t data_bytes = 0;
    if (mul_overflows(e.rows, dtype_row_bytes(e.dtype, e.cols), &data_bytes)) return BITLM_ERR_SIZE_OVERFLOW;
    if (data_bytes != e.data_bytes) return BITLM_ERR_BAD_TENSOR;
    if (scale_count_for(e.scale_kind, e.rows, e.cols, e.group_size) != (uint64_t)e.scale_count)
        return BITLM_ERR_BAD_TENSOR;
    if (e.scale_count == 0 && e.scale_offset != 0) return BITLM_ERR_BAD_TENSOR;

    if (e.data_offset % kPayloadAlign != 0 || e.scale_offset % kScaleAlign != 0) return BITLM_ERR_BAD_TENSOR;
    if (!range_inside(e.data_offset, e.data_bytes, payload_offset, file_bytes))
        return BITLM_ERR_TENSOR_OUT_OF_BOUNDS;
    if (e.scale_count != 0 &&
        !range_inside(e.scale_offset, (uint64_t)e.scale_count * 2u, payload_offset, file_bytes))
        return BITLM_ERR_TENSOR_OUT_OF_BOUNDS;

    uint32_t rows = 0, cols = 0;
    expected_shape(cfg, e.role, &rows, &cols);
    if (e.rows != rows || e.cols != cols) return BITLM_ERR_SHAPE_MISMATCH;
    if (!dtype_allowed_for_role(e.role, e.dtype)) return BITLM_ERR_BAD_TENSOR;
    return BITLM_OK;
}

// No two payload ranges (data or scales, of the same or different tensors) share a byte.
// Fast path: the writer emits payloads in table order, so each range starts at or after the end
// of the previous one and a single pass proves disjointness. Otherwise fall back to comparing
// every pair (no heap, so no sorting buffer); the tensor count is already bounded by the config.
bool payloads_disjoint(const uint8_t *table, uint32_t count) {
    bool in_order = true;
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < count && in_order; i++) {
        const TensorEntry e = decode_entry(table + (uint64_t)i * kTensorEntryBytes).e;
        const Range d = data_range(e);
        if (d.begin < prev_end) in_order = false;
        prev_end = d.end;
        if (e.scale_count != 0) {
            const Range s = scale_range(e);
            if (s.begin < prev_end) in_order = false;
            prev_end = s.end;
        }
    }
    if (in_order) return true;

    for (uint32_t i = 0; i < count; i++) {
        const TensorEntry a = decode_entry(table + (uint64_t)i * kTensorEntryBytes).e;
        const Range ad = data_range(a), as = scale_range(a);
        if (ranges_overlap(ad, as)) return false;
        for (uint32_t j = i + 1; j < count; j++) {
            const TensorEntry b = decode_entry(table + (uint64_t)j * kTensorEntryBytes).e;
            const Range bd = data_range(b), bs = scale_range(b);
            if (ranges_overlap(ad, bd) || ranges_overlap(ad, bs) || ranges_overlap(as, bd) ||
                ranges_overlap(as, bs))
                return false;
        }
    }
    return true;
}

uint32_t needed_per_layer(const bitlm_config &cfg) {
    uint32_t n = 0;
    for (uint32_t r = 0; r < kLayerRoleCount; r++)
        if (config_needs_role(cfg, (TensorRole)(kLayerRoleFirst + r))) n++;
    return n;
}

uint32_t needed_globals(const bitlm_config &cfg) {
    uint32_t n = 0;
    for (uint32_t r = 0; r < kGlobalRoleCount; r++)
        if (config_needs_role(cfg, (TensorRole)r)) n++;
    return n;
}

uint32_t presence_key(const TensorEntry &e) {
    if (!tensor_role_is_per_layer(e.role)) return (uint32_t)e.role;
    return kGlobalRoleCount + (uint32_t)e.layer * kLayerRoleCount + ((uint32_t)e.role - kLayerRoleFirst);
}

TensorRole role_of_key(uint32_t key) {
    if (key < kGlobalRoleCount) return (TensorRole)key;
    return (TensorRole)(kLayerRoleFirst + (key - kGlobalRoleCount) % kLayerRoleCount);
}

// Every role the configuration needs is present exactly once (per layer for layer roles), and no
// role it does not need is present. Duplicates and extras map to MISSING_TENSOR too ("missing or
// duplicated"). Entries were validated by check_entry, so roles are known and layers in range.
// Done in windows of kPresenceWindowBits keys so the stack cost stays fixed for any layer count.
bitlm_status check_tensor_set(const bitlm_config &cfg, const uint8_t *table, uint32_t count) {
    for (uint32_t i = 0; i < count; i++) {
        const TensorEntry e = decode_entry(table + (uint64_t)i * kTensorEntryBytes).e;
        if (!config_needs_role(cfg, e.role)) return BITLM_ERR_MISSING_TENSOR;
    }
    const uint32_t n_keys = kGlobalRoleCount + cfg.n_layers * kLayerRoleCount;  // <= 3 + 4096 * 11
    uint32_t seen[kPresenceWindowBits / 32];
    for (uint32_t base = 0; base < n_keys; base += kPresenceWindowBits) {
        zero_bytes(seen, sizeof seen);
        for (uint32_t i = 0; i < count; i++) {
            const uint32_t key = presence_key(decode_entry(table + (uint64_t)i * kTensorEntryBytes).e);
            if (key < base || key - base >= kPresenceWindowBits) continue;
            const uint32_t bit = key - base;
            if (seen[bit / 32] & (1u << (bit % 32))) return BITLM_ERR_MISSING_TENSOR;  // duplicate
            seen[bit / 32] |= 1u << (bit % 32);
        }
        for (uint32_t key = base; key < n_keys && key - base < kPresenceWindowBits; key++) {
            const uint32_t bit = key - base;
            const bool present = (seen[bit / 32] >> (bit % 32)) & 1u;
            if (config_needs_role(cfg, role_of_key(key)) && !present) return BITLM_ERR_MISSING_TENSOR;
        }
    }
    return BITLM_OK;
}

bitlm_status check_tokenizer(const uint8_t *p, uint32_t section_bytes, const bitlm_config &cfg,
                             TokenizerInfo *out) {
    out->kind = load_u32(p + 0);
    out->vocab_size = load_u32(p + 4);
    out->bos_id = load_u32(p + 8);
    out->eos_id = load_u32(p + 12);
    out->data_bytes = load_u32(p + 16);
    out->data = p + kTokenizerFixedBytes;
    if (out->kind != BITLM_TOKENIZER_BYTES && out->kind != BITLM_TOKENIZER_BPE) return BITLM_ERR_BAD_TOKENIZER;
    if ((uint64_t)out->data_bytes + kTokenizerFixedBytes != section_bytes) return BITLM_ERR_BAD_TOKENIZER;
    if (out->kind == BITLM_TOKENIZER_BPE) return BITLM_ERR_UNSUPPORTED_MODE;
    // Byte tokenizer: ids 0..255 are the bytes, ids above are specials (bos/eos); no payload.
    if (out->vocab_size != cfg.vocab_size || out->vocab_size < 256) return BITLM_ERR_BAD_TOKENIZER;
    if (out->data_bytes != 0) return BITLM_ERR_BAD_TOKENIZER;
    if (out->bos_id != kNoToken && out->bos_id >= out->vocab_size) return BITLM_ERR_BAD_TOKENIZER;
    if (out->eos_id != kNoToken && out->eos_id >= out->vocab_size) return BITLM_ERR_BAD_TOKENIZER;
    return BITLM_OK;
}

}  // namespace

// ---- configuration --------------------------------------------------------------------------
bitlm_status validate_config(const bitlm_config &c) {
    // Sizes (BAD_CONFIG).
    const uint32_t dims[] = {c.vocab_size, c.dim, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_dim, c.max_seq_len};
    for (uint32_t d : dims)
        if (d < 1 || d > kMaxDim) return BITLM_ERR_BAD_CONFIG;
    if (c.n_layers < 1 || c.n_layers > kMaxLayers) return BITLM_ERR_BAD_CONFIG;
    if (c.n_heads % c.n_kv_heads != 0) return BITLM_ERR_BAD_CONFIG;
    if (c.head_dim % 2 != 0) return BITLM_ERR_BAD_CONFIG;
    if ((uint64_t)c.n_heads * c.head_dim > kMaxDim) return BITLM_ERR_BAD_CONFIG;
    const uint32_t theta = float_bits(c.rope_theta), eps = float_bits(c.norm_eps);
    // Positive floats order like their bit patterns: theta > 1 <=> sign clear and bits > bits(1.0f).
    if (!bits_finite(theta) || (theta >> 31) != 0 || theta <= 0x3f800000u) return BITLM_ERR_BAD_CONFIG;
    if (!bits_finite(eps) || ((eps >> 31) != 0 && (eps & 0x7fffffffu) != 0)) return BITLM_ERR_BAD_CONFIG;
    // Unknown enum values (BAD_CONFIG).
    if (c.ffn_kind > BITLM_FFN_SWIGLU || c.norm_kind > BITLM_NORM_NONE || c.norm_placement > BITLM_NORM_PLACE_SUBLN ||
        c.attn_kind > BITLM_ATTN_SOFT_POINTER || c.pos_kind > BITLM_POS_ALIBI || c.act_kind > BITLM_ACT_BINARY ||
        c.head_kind > BITLM_HEAD_SEPARATE)
        return BITLM_ERR_BAD_CONFIG;
    // Planned modes (UNSUPPORTED_MODE).
    if (c.norm_kind != BITLM_NORM_RMSNORM || c.attn_kind != BITLM_ATTN_SOFTMAX || c.pos_kind != BITLM_POS_ROPE ||
        c.act_kind != BITLM_ACT_INT8)
        return BITLM_ERR_UNSUPPORTED_MODE;
    return BITLM_OK;
}

bool config_needs_role(const bitlm_config &c, TensorRole role) {
    switch (role) {
        case TensorRole::TokEmbedding:
        case TensorRole::FinalNorm:
        case TensorRole::AttnNorm:
        case TensorRole::Wq:
        case TensorRole::Wk:
        case TensorRole::Wv:
        case TensorRole::Wo:
        case TensorRole::FfnNorm:
        case TensorRole::WUp:
        case TensorRole::WDown: return true;
        case TensorRole::Head: return c.head_kind == BITLM_HEAD_SEPARATE;
        case TensorRole::AttnSubNorm:
        case TensorRole::FfnSubNorm: return c.norm_placement == BITLM_NORM_PLACE_SUBLN;
        case TensorRole::WGate: return c.ffn_kind == BITLM_FFN_SWIGLU;
    }
    return false;
}

void expected_shape(const bitlm_config &c, TensorRole role, uint32_t *rows, uint32_t *cols) {
    // Products saturate instead of wrapping (only reachable for configs validate_config rejects).
    const uint64_t q = (uint64_t)c.n_heads * c.head_dim, kv = (uint64_t)c.n_kv_heads * c.head_dim;
    const uint32_t q_dim = q > 0xffffffffu ? 0xffffffffu : (uint32_t)q;
    const uint32_t kv_dim = kv > 0xffffffffu ? 0xffffffffu : (uint32_t)kv;
    uint32_t r = 0, k = 0;
    switch (role) {
        case TensorRole::TokEmbedding:
        case TensorRole::Head: r = c.vocab_size; k = c.dim; break;
        case TensorRole::FinalNorm:
        case TensorRole::AttnNorm:
        case TensorRole::FfnNorm: r = 1; k = c.dim; break;
        case TensorRole::Wq: r = q_dim; k = c.dim; break;
        case TensorRole::Wk:
        case TensorRole::Wv: r = kv_dim; k = c.dim; break;
        case TensorRole::AttnSubNorm: r = 1; k = q_dim; break;
        case TensorRole::Wo: r = c.dim; k = q_dim; break;
        case TensorRole::WGate:
        case TensorRole::WUp: r = c.ffn_dim; k = c.dim; break;
        case TensorRole::FfnSubNorm: r = 1; k = c.ffn_dim; break;
        case TensorRole::WDown: r = c.dim; k = c.ffn_dim; break;
    }
    if (rows) *rows = r;
    if (cols) *cols = k;
}

// ---- the whole artifact ---------------------------------------------------------------------
// Validation order (each problem has its own status; docs/blm-format.md lists them):
//   pointer (NULL_ARGUMENT, BAD_ALIGNMENT) -> header (TRUNCATED, BAD_MAGIC, NEWER_VERSION,
//   BAD_HEADER) -> checksum -> config -> tokenizer -> tensor count -> each entry -> overlap -> set.
// Bytes after file_bytes are accepted and ignored (an artifact may sit in a larger flash partition
// or a page-padded file); they are not covered by the checksum and info->size is file_bytes.
bitlm_status read_artifact(const void *bytes, size_t size, bool skip_checksum, ArtifactInfo *info) {
    if (!info) return BITLM_ERR_NULL_ARGUMENT;
    zero_bytes(info, sizeof *info);
    if (!bytes) return BITLM_ERR_NULL_ARGUMENT;
    if ((uintptr_t)bytes % 4 != 0) return BITLM_ERR_BAD_ALIGNMENT;  // F32 norms, fp16 scales read in place
    const uint8_t *b = (const uint8_t *)bytes;

    // Header.
    if (size < kHeaderBytes) return BITLM_ERR_TRUNCATED;
    for (uint32_t i = 0; i < 8; i++)
        if (b[kHdrMagic + i] != kMagic[i]) return BITLM_ERR_BAD_MAGIC;
    const uint32_t version = load_u32(b + kHdrVersion);
    if (version == 0) return BITLM_ERR_BAD_HEADER;
    if (version > kFormatVersion) return BITLM_ERR_NEWER_VERSION;
    if (load_u32(b + kHdrHeaderBytes) != kHeaderBytes) return BITLM_ERR_BAD_HEADER;
    const uint64_t file_bytes = load_u64(b + kHdrFileBytes);
    if (file_bytes > (uint64_t)size) return BITLM_ERR_TRUNCATED;
    if (file_bytes < kHeaderBytes) return BITLM_ERR_BAD_HEADER;
    if (load_u32(b + kHdrFlags) != 0 || load_u32(b + kHdrReserved) != 0) return BITLM_ERR_BAD_HEADER;

    // Sections: config, tokenizer, table lie in [header end, payload_offset), 4-aligned, disjoint;
    // the payload region [payload_offset, file_bytes) starts 64-aligned. A section that does not
    // fit is an inconsistent header (BAD_HEADER): the file itself is as long as the header says.
    const uint32_t config_offset = load_u32(b + kHdrConfigOffset);
    const uint32_t config_bytes = load_u32(b + kHdrConfigBytes);
    const uint32_t tok_offset = load_u32(b + kHdrTokenizerOffset);
    const uint32_t tok_bytes = load_u32(b + kHdrTokenizerBytes);
    const uint32_t table_offset = load_u32(b + kHdrTableOffset);
    const uint32_t tensor_count = load_u32(b + kHdrTensorCount);
    const uint32_t payload_offset = load_u32(b + kHdrPayloadOffset);
    if (config_bytes != kConfigBytes || tok_bytes < kTokenizerFixedBytes) return BITLM_ERR_BAD_HEADER;
    if (config_offset % 4 != 0 || tok_offset % 4 != 0 || table_offset % 4 != 0 ||
        payload_offset % kPayloadAlign != 0)
        return BITLM_ERR_BAD_HEADER;
    if (payload_offset > file_bytes) return BITLM_ERR_BAD_HEADER;
    const Range sections[3] = {
        {config_offset, (uint64_t)config_offset + config_bytes},
        {tok_offset, (uint64_t)tok_offset + tok_bytes},
        {table_offset, (uint64_t)table_offset + (uint64_t)tensor_count * kTensorEntryBytes},
    };
    for (const Range &s : sections)
        if (s.begin < kHeaderBytes || s.end > payload_offset) return BITLM_ERR_BAD_HEADER;
    if (ranges_overlap(sections[0], sections[1]) || ranges_overlap(sections[0], sections[2]) ||
        ranges_overlap(sections[1], sections[2]))
        return BITLM_ERR_BAD_HEADER;

    // Checksum over the file_bytes bytes the header claims (the checksum field taken as zero).
    const uint32_t checksum = load_u32(b + kHdrChecksum);
    if (!skip_checksum && artifact_compute_checksum(b, (size_t)file_bytes) != checksum)
        return BITLM_ERR_BAD_CHECKSUM;

    // Configuration and tokenizer.
    bitlm_config cfg;
    decode_config(b + config_offset, &cfg);
    bitlm_status st = validate_config(cfg);
    if (st != BITLM_OK) return st;
    TokenizerInfo tok;
    st = check_tokenizer(b + tok_offset, tok_bytes, cfg, &tok);
    if (st != BITLM_OK) return st;

    // Tensors. The count must be exactly what the configuration needs (this also bounds the
    // pairwise overlap check below); then every entry on its own; then the set as a whole.
    const uint8_t *table = b + table_offset;
    const uint64_t needed = needed_globals(cfg) + (uint64_t)cfg.n_layers * needed_per_layer(cfg);
    if (tensor_count != needed) return BITLM_ERR_MISSING_TENSOR;
    for (uint32_t i = 0; i < tensor_count; i++) {
        st = check_entry(decode_entry(table + (uint64_t)i * kTensorEntryBytes), cfg, payload_offset, file_bytes);
        if (st != BITLM_OK) return st;
    }
    if (!payloads_disjoint(table, tensor_count)) return BITLM_ERR_TENSOR_OVERLAP;
    st = check_tensor_set(cfg, table, tensor_count);
    if (st != BITLM_OK) return st;

    info->bytes = b;
    info->size = file_bytes;
    info->version = version;
    info->checksum = checksum;
    info->config = cfg;
    info->tokenizer = tok;
    info->tensor_count = tensor_count;
    info->table = table;
    return BITLM_OK;
}

// ---- binding ----------------------------------------------------------------------------------
TensorEntry tensor_entry(const ArtifactInfo &info, uint32_t i) {
    if (!info.table || i >= info.tensor_count) {
        TensorEntry none;
        zero_bytes(&none, sizeof none);
        return none;
    }
    return decode_entry(info.table + (uint64_t)i * kTensorEntryBytes).e;
}

WeightView tensor_view(const ArtifactInfo &info, const TensorEntry &e) {
    WeightView v;
    zero_bytes(&v, sizeof v);
    if (!info.bytes) return v;
    v.dtype = e.dtype;
    v.scale_kind = e.scale_kind;
    v.rows = e.rows;
    v.cols = e.cols;
    v.group_size = e.group_size;
    v.row_bytes = (uint32_t)dtype_row_bytes(e.dtype, e.cols);  // cols <= 2^20 in a valid artifact
    v.data = info.bytes + e.data_offset;
    v.scales = e.scale_count ? reinterpret_cast<const uint16_t *>(info.bytes + e.scale_offset) : nullptr;
    return v;
}

namespace {
const float *norm_pointer(const ArtifactInfo &info, const TensorEntry &e) {
    return reinterpret_cast<const float *>(info.bytes + e.data_offset);  // 64-aligned in a 4-aligned image
}
}  // namespace

bitlm_status bind_layer(const ArtifactInfo &info, uint32_t layer, LayerWeights *out) {
    if (!out) return BITLM_ERR_NULL_ARGUMENT;
    zero_bytes(out, sizeof *out);
    if (!info.bytes || !info.table) return BITLM_ERR_NULL_ARGUMENT;
    if (layer >= info.config.n_layers) return BITLM_ERR_BAD_ARGUMENT;
    for (uint32_t i = 0; i < info.tensor_count; i++) {
        const TensorEntry e = tensor_entry(info, i);
        if (!tensor_role_is_per_layer(e.role) || e.layer != layer) continue;
        switch (e.role) {
            case TensorRole::AttnNorm: out->attn_norm = norm_pointer(info, e); break;
            case TensorRole::Wq: out->wq = tensor_view(info, e); break;
            case TensorRole::Wk: out->wk = tensor_view(info, e); break;
            case TensorRole::Wv: out->wv = tensor_view(info, e); break;
            case TensorRole::AttnSubNorm: out->attn_subnorm = norm_pointer(info, e); break;
            case TensorRole::Wo: out->wo = tensor_view(info, e); break;
            case TensorRole::FfnNorm: out->ffn_norm = norm_pointer(info, e); break;
            case TensorRole::WGate: out->w_gate = tensor_view(info, e); break;
            case TensorRole::WUp: out->w_up = tensor_view(info, e); break;
            case TensorRole::FfnSubNorm: out->ffn_subnorm = norm_pointer(info, e); break;
            case TensorRole::WDown: out->w_down = tensor_view(info, e); break;
            default: break;
        }
    }
    const bitlm_config &c = info.config;
    const bool subln = c.norm_placement == BITLM_NORM_PLACE_SUBLN;
    if (!out->attn_norm || !out->ffn_norm || !out->wq.data || !out->wk.data || !out->wv.data || !out->wo.data ||
        !out->w_up.data || !out->w_down.data || (c.ffn_kind == BITLM_FFN_SWIGLU && !out->w_gate.data) ||
        (subln && (!out->attn_subnorm || !out->ffn_subnorm)))
        return BITLM_ERR_MISSING_TENSOR;
    return BITLM_OK;
}

bitlm_status bind_globals(const ArtifactInfo &info, WeightView *embedding, const float **final_norm,
                          WeightView *head) {
    if (!embedding || !final_norm || !head) return BITLM_ERR_NULL_ARGUMENT;
    zero_bytes(embedding, sizeof *embedding);
    zero_bytes(head, sizeof *head);
    *final_norm = nullptr;
    if (!info.bytes || !info.table) return BITLM_ERR_NULL_ARGUMENT;
    for (uint32_t i = 0; i < info.tensor_count; i++) {
        const TensorEntry e = tensor_entry(info, i);
        switch (e.role) {
            case TensorRole::TokEmbedding: *embedding = tensor_view(info, e); break;
            case TensorRole::FinalNorm: *final_norm = norm_pointer(info, e); break;
            case TensorRole::Head: *head = tensor_view(info, e); break;
            default: break;
        }
    }
    if (!embedding->data || !*final_norm ||
        (info.config.head_kind == BITLM_HEAD_SEPARATE && !head->data))
        return BITLM_ERR_MISSING_TENSOR;
    return BITLM_OK;
}

}  // namespace bitlm
