// tokenizer.cpp — text <-> token ids. The byte tokenizer maps byte b to id b; ids >= 256 are
// specials (BOS/EOS) and decode to nothing. BPE (stored in the artifact) is planned.
#include "model/model_state.h"

extern "C" bitlm_status bitlm_encode(const bitlm_model *m, const char *text, size_t text_bytes, int32_t *tokens,
                                    uint32_t max_tokens, uint32_t *out_n) {
    if (!m || !out_n || (!text && text_bytes) || (!tokens && max_tokens)) return BITLM_ERR_NULL_ARGUMENT;
    if (text_bytes > 0xffffffffu) return BITLM_ERR_SIZE_OVERFLOW;
    *out_n = (uint32_t)text_bytes;
    if (text_bytes > max_tokens) return BITLM_ERR_BUFFER_TOO_SMALL;
    for (size_t i = 0; i < text_bytes; i++) tokens[i] = (int32_t)(uint8_t)text[i];
    return BITLM_OK;
}

extern "C" uint32_t bitlm_decode_token(const bitlm_model *m, int32_t token, char *out, uint32_t max_bytes) {
    if (!m || !out || max_bytes == 0 || token < 0 || token > 255) return 0;
    out[0] = (char)token;
    return 1;
}
