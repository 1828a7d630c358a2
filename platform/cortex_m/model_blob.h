/* model_blob.h — the .blm artifact linked into flash by model_blob.S. */
#ifndef BITLM_MODEL_BLOB_H
#define BITLM_MODEL_BLOB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

extern const uint8_t bitlm_model_blob[];     /* 64-byte aligned, in flash */
extern const uint8_t bitlm_model_blob_end[];

static inline size_t bitlm_model_blob_size(void) { return (size_t)(bitlm_model_blob_end - bitlm_model_blob); }

#ifdef __cplusplus
}
#endif
#endif /* BITLM_MODEL_BLOB_H */
