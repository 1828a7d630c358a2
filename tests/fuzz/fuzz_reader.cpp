// fuzz_reader.cpp — libFuzzer target for the .blm reader: any input must give a status, never a
// crash, an out-of-bounds read or undefined behaviour; a valid artifact must bind cleanly.
// Built and run by tests/fuzz/run_fuzz.sh (clang, -fsanitize=fuzzer,address,undefined).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/reader.h"
#include "artifact/writer.h"

using namespace bitlm;

namespace {

volatile uint32_t g_sink;

uint32_t touch(const WeightView &v) {
    uint32_t s = 0;
    if (!v.data) return s;
    for (uint64_t i = 0; i < (uint64_t)v.rows * v.row_bytes; i++) s += v.data[i];
    const uint64_t ns = scale_count_for(v.scale_kind, v.rows, v.cols, v.group_size);
    for (uint64_t i = 0; v.scales && i < ns; i++) s += v.scales[i];
    return s;
}

uint32_t touch_floats(const float *p, uint32_t n) {
    uint32_t s = 0;
    for (uint32_t i = 0; p && i < n; i++) {
        uint32_t u;
        memcpy(&u, &p[i], 4);
        s += u;
    }
    return s;
}

// Bind everything a runtime would bind and read every byte of it.
void touch_all(const ArtifactInfo &info) {
    const bitlm_config &c = info.config;
    uint32_t s = 0;
    WeightView emb, head;
    const float *final_norm = nullptr;
    if (bind_globals(info, &emb, &final_norm, &head) != BITLM_OK) __builtin_trap();
    s += touch(emb) + touch(head) + touch_floats(final_norm, c.dim);
    for (uint32_t l = 0; l < c.n_layers; l++) {
        LayerWeights w;
        if (bind_layer(info, l, &w) != BITLM_OK) __builtin_trap();
        s += touch(w.wq) + touch(w.wk) + touch(w.wv) + touch(w.wo) + touch(w.w_gate) + touch(w.w_up) + touch(w.w_down);
        s += touch_floats(w.attn_norm, c.dim) + touch_floats(w.ffn_norm, c.dim);
        s += touch_floats(w.attn_subnorm, w.attn_subnorm ? c.n_heads * c.head_dim : 0);
        s += touch_floats(w.ffn_subnorm, w.ffn_subnorm ? c.ffn_dim : 0);
    }
    for (uint32_t i = 0; i < info.tensor_count; i++) s += touch(tensor_view(info, tensor_entry(info, i)));
    s += touch_floats(reinterpret_cast<const float *>(info.tokenizer.data), 0) + info.tokenizer.data_bytes;
    g_sink = s;
}

// An exact-size, 64-byte aligned copy (so ASan flags a read one byte past the input).
uint8_t *aligned_copy(const uint8_t *data, size_t size, size_t offset) {
    void *p = nullptr;
    if (posix_memalign(&p, 64, size + offset + 1) != 0) abort();
    memcpy((uint8_t *)p + offset, data, size);
    return (uint8_t *)p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = aligned_copy(data, size, 0);
    ArtifactInfo info;

    const bitlm_status checked = read_artifact(buf, size, false, &info);
    if (checked == BITLM_OK) touch_all(info);
    const bitlm_status skipped = read_artifact(buf, size, true, &info);
    if (skipped == BITLM_OK) touch_all(info);
    if (checked == BITLM_OK && skipped != BITLM_OK) __builtin_trap();  // skipping a check never adds errors

    // With the checksum made right, checking it must agree with skipping it.
    artifact_fix_checksum(buf, size);
    if (read_artifact(buf, size, false, &info) != skipped) __builtin_trap();
    free(buf);

    // A misaligned copy is always refused before any byte is read.
    uint8_t *off = aligned_copy(data, size, 2);
    if (read_artifact(off + 2, size, false, &info) != BITLM_ERR_BAD_ALIGNMENT) __builtin_trap();
    free(off);
    return 0;
}
