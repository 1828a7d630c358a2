// status.cpp — one-line messages for bitlm_status codes, and the library version.
#include "bitlm.h"

extern "C" const char *bitlm_status_message(bitlm_status status) {
    switch (status) {
        case BITLM_OK: return "ok";
        case BITLM_ERR_NULL_ARGUMENT: return "a required pointer argument is NULL";
        case BITLM_ERR_TRUNCATED: return "artifact is truncated (shorter than its header or sections say)";
        case BITLM_ERR_BAD_MAGIC: return "not a bitlm artifact (bad magic bytes)";
        case BITLM_ERR_NEWER_VERSION: return "artifact format version is newer than this library supports";
        case BITLM_ERR_BAD_HEADER: return "artifact header is inconsistent";
        case BITLM_ERR_BAD_CHECKSUM: return "artifact checksum mismatch (file corrupted)";
        case BITLM_ERR_BAD_CONFIG: return "model configuration is invalid";
        case BITLM_ERR_UNSUPPORTED_MODE: return "model uses a mode this library does not implement yet";
        case BITLM_ERR_BAD_TOKENIZER: return "tokenizer section is invalid";
        case BITLM_ERR_BAD_TENSOR: return "tensor table entry is invalid";
        case BITLM_ERR_TENSOR_OUT_OF_BOUNDS: return "tensor payload lies outside the artifact";
        case BITLM_ERR_TENSOR_OVERLAP: return "tensor payloads overlap";
        case BITLM_ERR_SHAPE_MISMATCH: return "tensor shape does not match the model configuration";
        case BITLM_ERR_MISSING_TENSOR: return "a tensor the configuration needs is missing or duplicated";
        case BITLM_ERR_SIZE_OVERFLOW: return "size arithmetic overflows";
        case BITLM_ERR_ARENA_TOO_SMALL: return "arena is too small for this model and context length";
        case BITLM_ERR_BAD_ALIGNMENT: return "artifact or arena pointer is not 4-byte aligned";
        case BITLM_ERR_TOKEN_OUT_OF_RANGE: return "token id out of range for the vocabulary";
        case BITLM_ERR_CONTEXT_FULL: return "tokens do not fit in the remaining context";
        case BITLM_ERR_BAD_ARGUMENT: return "argument value out of range";
        case BITLM_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
        case BITLM_ERR_ABORTED: return "stopped by a callback";
        case BITLM_ERR_DEVICE: return "a training device (GPU) call failed";
        case BITLM_STATUS_COUNT: break;
    }
    return "unknown status code";
}

extern "C" const char *bitlm_version(void) { return "bitlm 0.1.0 (format 1)"; }
