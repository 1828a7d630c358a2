// fuzz_reader.cpp — libFuzzer target for the .blm reader: any input must give a status, never a
// crash, an out-of-bounds read or undefined behaviour; a valid artifact must bind cleanly.
// Built and run by tests/fuzz/run_fuzz.sh (clang, -fsanitize=fuzzer,address,undefined).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/artifact_fixture.h"

using namespace bitlm;

namespace {

volatile uint32_t g_sink;

// Bind everything a runtime would bind and read every byte of it; a valid artifact must bind.
void touch_all(const ArtifactInfo &info) {
    bool bound = false;
    g_sink = fixture::touch_all(info, &bound);
    if (!bound) __builtin_trap();
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
