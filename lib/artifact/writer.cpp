// writer.cpp — lay out a .blm artifact and stream it through a callback in file order.
// Two passes over the same emitter: the first feeds the bytes to CRC-32, the second to the caller
// with the checksum filled in. No buffer of the whole file is ever needed.
#include "artifact/writer.h"
#include "core/bytes.h"
#include "core/crc32.h"

namespace bitlm {

namespace {

constexpr uint8_t kZeros[kPayloadAlign] = {};  // padding source (every gap is < 64 bytes)

// Offsets of the sections; tensors are placed by walking place_tensor from payload_offset.
struct Layout {
    uint32_t config_offset, tok_offset, tok_bytes, table_offset, payload_offset;
    uint64_t file_bytes;
};

struct Placement {
    uint64_t data_offset, data_bytes, scale_offset, scale_count, end;
};

// Storage of one tensor on its own: what the reader's per-entry checks need that does not depend
// on the configuration (layer range, shape, dtype-for-role and the tensor set are checked by the
// reader only, so tests and tools can write deliberately inconsistent artifacts).
bitlm_status check_spec(const TensorSpec &t, bool need_payload, uint64_t *data_bytes, uint64_t *scale_count) {
    const uint16_t role = (uint16_t)t.role;
    if (role > (uint16_t)TensorRole::Head && !tensor_role_is_per_layer(t.role)) return BITLM_ERR_BAD_TENSOR;
    if ((uint32_t)t.dtype >= kDTypeCount || (uint32_t)t.scale_kind >= kScaleKindCount) return BITLM_ERR_BAD_TENSOR;
    if (!scale_kind_allowed(t.dtype, t.scale_kind)) return BITLM_ERR_BAD_TENSOR;
    if (t.scale_kind == ScaleKind::Group) {
        if (t.group_size == 0 || t.group_size % kGroupMultiple != 0) return BITLM_ERR_BAD_TENSOR;
    } else if (t.group_size != 0) {
        return BITLM_ERR_BAD_TENSOR;
    }
    if (t.rows == 0 || t.cols == 0) return BITLM_ERR_BAD_TENSOR;
    if (mul_overflows(t.rows, dtype_row_bytes(t.dtype, t.cols), data_bytes)) return BITLM_ERR_SIZE_OVERFLOW;
    if (*data_bytes > (uint64_t)(size_t)-1) return BITLM_ERR_SIZE_OVERFLOW;  // must be addressable
    *scale_count = scale_count_for(t.scale_kind, t.rows, t.cols, t.group_size);
    if (*scale_count > 0xffffffffu) return BITLM_ERR_SIZE_OVERFLOW;  // u32 field
    if (need_payload && !t.data) return BITLM_ERR_NULL_ARGUMENT;
    if (need_payload && *scale_count != 0 && !t.scales) return BITLM_ERR_NULL_ARGUMENT;
    return BITLM_OK;
}

// Data at the next 64-aligned offset, then its scales at the next 4-aligned offset.
bitlm_status place_tensor(uint64_t cursor, const TensorSpec &t, bool need_payload, Placement *p) {
    bitlm_status st = check_spec(t, need_payload, &p->data_bytes, &p->scale_count);
    if (st != BITLM_OK) return st;
    if (cursor > ~(uint64_t)0 - kPayloadAlign) return BITLM_ERR_SIZE_OVERFLOW;
    p->data_offset = align_up(cursor, kPayloadAlign);
    uint64_t end = 0;
    if (add_overflows(p->data_offset, p->data_bytes, &end)) return BITLM_ERR_SIZE_OVERFLOW;
    p->scale_offset = 0;
    if (p->scale_count != 0) {
        if (end > ~(uint64_t)0 - kScaleAlign) return BITLM_ERR_SIZE_OVERFLOW;
        p->scale_offset = align_up(end, kScaleAlign);
        if (add_overflows(p->scale_offset, p->scale_count * 2u, &end)) return BITLM_ERR_SIZE_OVERFLOW;
    }
    p->end = end;
    return BITLM_OK;
}

bitlm_status compute_layout(const TokenizerSpec &tok, const TensorSpec *tensors, uint32_t n_tensors, bool need_payload,
                            Layout *out) {
    if (n_tensors != 0 && !tensors) return BITLM_ERR_NULL_ARGUMENT;
    if (tok.data_bytes != 0 && !tok.data) return BITLM_ERR_NULL_ARGUMENT;
    if (tok.data_bytes > 0xffffffffu - kTokenizerFixedBytes) return BITLM_ERR_SIZE_OVERFLOW;
    const uint64_t config_offset = kHeaderBytes;
    const uint64_t tok_offset = align_up(config_offset + kConfigBytes, 4);
    const uint64_t tok_bytes = (uint64_t)kTokenizerFixedBytes + tok.data_bytes;
    const uint64_t table_offset = align_up(tok_offset + tok_bytes, 4);
    const uint64_t payload_offset =
        align_up(table_offset + (uint64_t)n_tensors * kTensorEntryBytes, kPayloadAlign);  // < 2^39
    if (payload_offset > 0xffffffffu) return BITLM_ERR_SIZE_OVERFLOW;  // header offsets are u32
    uint64_t cursor = payload_offset;
    for (uint32_t i = 0; i < n_tensors; i++) {
        Placement p;
        bitlm_status st = place_tensor(cursor, tensors[i], need_payload, &p);
        if (st != BITLM_OK) return st;
        cursor = p.end;
    }
    out->config_offset = (uint32_t)config_offset;
    out->tok_offset = (uint32_t)tok_offset;
    out->tok_bytes = (uint32_t)tok_bytes;
    out->table_offset = (uint32_t)table_offset;
    out->payload_offset = (uint32_t)payload_offset;
    out->file_bytes = cursor;
    return BITLM_OK;
}

// ---- emitting ---------------------------------------------------------------------------------
struct Emitter {
    WriteFn write;
    void *user;
    uint64_t pos;  // bytes emitted so far

    bitlm_status bytes(const void *p, uint64_t n) {
        if (n == 0) return BITLM_OK;
        pos += n;
        return write(user, p, (size_t)n);  // n <= SIZE_MAX (check_spec)
    }
    bitlm_status pad_to(uint64_t offset) {  // zero bytes up to `offset` (gaps are < 64 bytes)
        if (offset < pos || offset - pos > sizeof kZeros) return BITLM_ERR_SIZE_OVERFLOW;  // cannot happen
        return bytes(kZeros, offset - pos);
    }
};

bitlm_status emit_file(const bitlm_config &c, const TokenizerSpec &tok, const TensorSpec *tensors,
                       uint32_t n_tensors, const Layout &l, uint32_t checksum, Emitter *out) {
    bitlm_status st;
    uint8_t header[kHeaderBytes];
    zero_bytes(header, sizeof header);
    copy_bytes(header + kHdrMagic, kMagic, 8);
    store_u32(header + kHdrVersion, kFormatVersion);
    store_u32(header + kHdrHeaderBytes, kHeaderBytes);
    store_u64(header + kHdrFileBytes, l.file_bytes);
    store_u32(header + kHdrChecksum, checksum);
    store_u32(header + kHdrConfigOffset, l.config_offset);
    store_u32(header + kHdrConfigBytes, kConfigBytes);
    store_u32(header + kHdrTokenizerOffset, l.tok_offset);
    store_u32(header + kHdrTokenizerBytes, l.tok_bytes);
    store_u32(header + kHdrTableOffset, l.table_offset);
    store_u32(header + kHdrTensorCount, n_tensors);
    store_u32(header + kHdrPayloadOffset, l.payload_offset);
    if ((st = out->bytes(header, sizeof header)) != BITLM_OK) return st;

    const uint32_t fields[kConfigFieldCount] = {
        c.vocab_size, c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_dim, c.max_seq_len,
        c.ffn_kind, c.norm_kind, c.norm_placement, c.attn_kind, c.pos_kind, c.act_kind, c.head_kind,
        float_bits(c.rope_theta), float_bits(c.norm_eps)};
    uint8_t config[kConfigBytes];
    for (uint32_t i = 0; i < kConfigFieldCount; i++) store_u32(config + 4 * i, fields[i]);
    if ((st = out->pad_to(l.config_offset)) != BITLM_OK) return st;
    if ((st = out->bytes(config, sizeof config)) != BITLM_OK) return st;

    uint8_t tok_fixed[kTokenizerFixedBytes];
    store_u32(tok_fixed + 0, tok.kind);
    store_u32(tok_fixed + 4, c.vocab_size);
    store_u32(tok_fixed + 8, tok.bos_id);
    store_u32(tok_fixed + 12, tok.eos_id);
    store_u32(tok_fixed + 16, tok.data_bytes);
    if ((st = out->pad_to(l.tok_offset)) != BITLM_OK) return st;
    if ((st = out->bytes(tok_fixed, sizeof tok_fixed)) != BITLM_OK) return st;
    if ((st = out->bytes(tok.data, tok.data_bytes)) != BITLM_OK) return st;

    if ((st = out->pad_to(l.table_offset)) != BITLM_OK) return st;
    uint64_t cursor = l.payload_offset;
    for (uint32_t i = 0; i < n_tensors; i++) {
        const TensorSpec &t = tensors[i];
        Placement p;
        if ((st = place_tensor(cursor, t, true, &p)) != BITLM_OK) return st;
        cursor = p.end;
        uint8_t e[kTensorEntryBytes];
        zero_bytes(e, sizeof e);
        store_u16(e + kTenRole, (uint16_t)t.role);
        store_u16(e + kTenLayer, t.layer);
        e[kTenDType] = (uint8_t)t.dtype;
        e[kTenScaleKind] = (uint8_t)t.scale_kind;
        store_u32(e + kTenRows, t.rows);
        store_u32(e + kTenCols, t.cols);
        store_u32(e + kTenGroupSize, t.group_size);
        store_u32(e + kTenScaleCount, (uint32_t)p.scale_count);
        store_u64(e + kTenDataOffset, p.data_offset);
        store_u64(e + kTenDataBytes, p.data_bytes);
        store_u64(e + kTenScaleOffset, p.scale_offset);
        if ((st = out->bytes(e, sizeof e)) != BITLM_OK) return st;
    }

    if ((st = out->pad_to(l.payload_offset)) != BITLM_OK) return st;
    cursor = l.payload_offset;
    for (uint32_t i = 0; i < n_tensors; i++) {
        const TensorSpec &t = tensors[i];
        Placement p;
        if ((st = place_tensor(cursor, t, true, &p)) != BITLM_OK) return st;
        cursor = p.end;
        if ((st = out->pad_to(p.data_offset)) != BITLM_OK) return st;
        if ((st = out->bytes(t.data, p.data_bytes)) != BITLM_OK) return st;
        if (p.scale_count != 0) {
            // fp16 scales are stored little-endian, which is the in-memory order on every target.
            if ((st = out->pad_to(p.scale_offset)) != BITLM_OK) return st;
            if ((st = out->bytes(t.scales, p.scale_count * 2u)) != BITLM_OK) return st;
        }
    }
    return out->pos == l.file_bytes ? BITLM_OK : BITLM_ERR_SIZE_OVERFLOW;  // cannot happen
}

bitlm_status crc_sink(void *user, const void *bytes, size_t n) {
    uint32_t *crc = static_cast<uint32_t *>(user);
    *crc = crc32_update(*crc, bytes, n);
    return BITLM_OK;
}

struct BufferSink {
    uint8_t *buffer;
    size_t capacity, pos;
};

bitlm_status buffer_sink(void *user, const void *bytes, size_t n) {
    BufferSink *s = static_cast<BufferSink *>(user);
    if (n > s->capacity - s->pos) return BITLM_ERR_BUFFER_TOO_SMALL;
    copy_bytes(s->buffer + s->pos, bytes, n);
    s->pos += n;
    return BITLM_OK;
}

}  // namespace

// ---- public -----------------------------------------------------------------------------------
bitlm_status artifact_size(const bitlm_config &config, const TokenizerSpec &tok, const TensorSpec *tensors,
                           uint32_t n_tensors, uint64_t *out_bytes) {
    (void)config;  // the configuration has a fixed size; its values are the reader's business
    if (!out_bytes) return BITLM_ERR_NULL_ARGUMENT;
    *out_bytes = 0;
    Layout l;
    bitlm_status st = compute_layout(tok, tensors, n_tensors, /*need_payload=*/false, &l);
    if (st != BITLM_OK) return st;
    *out_bytes = l.file_bytes;
    return BITLM_OK;
}

bitlm_status write_artifact(const bitlm_config &config, const TokenizerSpec &tok, const TensorSpec *tensors,
                            uint32_t n_tensors, WriteFn write, void *user) {
    if (!write) return BITLM_ERR_NULL_ARGUMENT;
    Layout l;
    bitlm_status st = compute_layout(tok, tensors, n_tensors, /*need_payload=*/true, &l);
    if (st != BITLM_OK) return st;
    // Pass 1: the CRC of exactly the bytes pass 2 will emit, with the checksum field as zero.
    uint32_t crc = 0;
    Emitter crc_pass{crc_sink, &crc, 0};
    if ((st = emit_file(config, tok, tensors, n_tensors, l, 0, &crc_pass)) != BITLM_OK) return st;
    // Pass 2: the file.
    Emitter file_pass{write, user, 0};
    return emit_file(config, tok, tensors, n_tensors, l, crc, &file_pass);
}

bitlm_status write_artifact_to_buffer(const bitlm_config &config, const TokenizerSpec &tok,
                                      const TensorSpec *tensors, uint32_t n_tensors, uint8_t *buffer,
                                      size_t capacity, size_t *out_bytes) {
    if (out_bytes) *out_bytes = 0;
    uint64_t need = 0;
    bitlm_status st = artifact_size(config, tok, tensors, n_tensors, &need);
    if (st != BITLM_OK) return st;
    if (need > (uint64_t)capacity) {
        if (out_bytes) *out_bytes = need > (uint64_t)(size_t)-1 ? (size_t)-1 : (size_t)need;  // bytes needed
        return BITLM_ERR_BUFFER_TOO_SMALL;
    }
    if (!buffer) return BITLM_ERR_NULL_ARGUMENT;
    BufferSink sink{buffer, capacity, 0};
    st = write_artifact(config, tok, tensors, n_tensors, buffer_sink, &sink);
    if (st != BITLM_OK) return st;
    if (out_bytes) *out_bytes = sink.pos;
    return BITLM_OK;
}

// CRC-32 of the first min(size, file_bytes) bytes (file_bytes from the header when it is
// plausible), with the checksum field [24, 28) taken as zero.
uint32_t artifact_compute_checksum(const uint8_t *bytes, size_t size) {
    if (!bytes) return 0;
    size_t n = size;
    if (size >= kHeaderBytes) {
        const uint64_t file_bytes = load_u64(bytes + kHdrFileBytes);
        if (file_bytes >= kHeaderBytes && file_bytes < (uint64_t)size) n = (size_t)file_bytes;
    }
    constexpr size_t ck = kHdrChecksum;  // the 4 checksum bytes [ck, ck + 4)
    uint32_t crc = crc32_update(0, bytes, n < ck ? n : ck);
    if (n > ck) crc = crc32_update(crc, kZeros, n - ck < 4 ? n - ck : 4);
    if (n > ck + 4) crc = crc32_update(crc, bytes + ck + 4, n - (ck + 4));
    return crc;
}

void artifact_fix_checksum(uint8_t *bytes, size_t size) {
    if (!bytes || size < kHdrChecksum + 4) return;
    store_u32(bytes + kHdrChecksum, artifact_compute_checksum(bytes, size));
}

}  // namespace bitlm
