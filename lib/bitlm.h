/* bitlm.h — the public, C-compatible API of libbitlm (usable from C99 and C++).
 * Open a .blm artifact from bytes (RAM or memory-mapped flash) with a caller arena, feed tokens,
 * read logits, sample, generate. No heap, no exceptions: every call returns a bitlm_status. */
#ifndef BITLM_H
#define BITLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------------------------ */
typedef enum bitlm_status {
    BITLM_OK = 0,
    BITLM_ERR_NULL_ARGUMENT,       /* a required pointer was NULL */
    BITLM_ERR_TRUNCATED,           /* artifact shorter than its header or sections claim */
    BITLM_ERR_BAD_MAGIC,           /* not a .blm artifact */
    BITLM_ERR_NEWER_VERSION,       /* format version newer than this library */
    BITLM_ERR_BAD_HEADER,          /* header fields inconsistent (sizes, reserved fields) */
    BITLM_ERR_BAD_CHECKSUM,        /* CRC-32 mismatch: corrupted artifact */
    BITLM_ERR_BAD_CONFIG,          /* configuration values invalid or inconsistent */
    BITLM_ERR_UNSUPPORTED_MODE,    /* a planned (not yet implemented) mode, e.g. ALiBi */
    BITLM_ERR_BAD_TOKENIZER,       /* tokenizer section invalid */
    BITLM_ERR_BAD_TENSOR,          /* tensor entry invalid (kind, scale layout, alignment) */
    BITLM_ERR_TENSOR_OUT_OF_BOUNDS,/* tensor payload outside the file */
    BITLM_ERR_TENSOR_OVERLAP,      /* two tensor payloads overlap */
    BITLM_ERR_SHAPE_MISMATCH,      /* tensor shape disagrees with the configuration */
    BITLM_ERR_MISSING_TENSOR,      /* a tensor the configuration needs is absent (or duplicated) */
    BITLM_ERR_SIZE_OVERFLOW,       /* size arithmetic would overflow */
    BITLM_ERR_ARENA_TOO_SMALL,     /* the arena is smaller than bitlm_arena_bytes() */
    BITLM_ERR_BAD_ALIGNMENT,       /* artifact or arena pointer not suitably aligned */
    BITLM_ERR_TOKEN_OUT_OF_RANGE,  /* token id < 0 or >= vocab size */
    BITLM_ERR_CONTEXT_FULL,        /* feeding these tokens would exceed the context length */
    BITLM_ERR_BAD_ARGUMENT,        /* an argument value out of range (temperature < 0, ...) */
    BITLM_ERR_BUFFER_TOO_SMALL,    /* output buffer too small (writer) */
    BITLM_ERR_ABORTED,             /* a callback asked to stop */
    BITLM_ERR_DEVICE,              /* a training device (GPU) call failed */
    BITLM_STATUS_COUNT
} bitlm_status;

/* A one-line, human-readable message for a status (never NULL). */
const char *bitlm_status_message(bitlm_status status);

/* ---- model configuration (as stored in the artifact) -------------------------------------- */
/* Every "mode" is an enum field, not a boolean, so planned modes fit without a format change. */
typedef enum { BITLM_FFN_RELU2 = 0, BITLM_FFN_SWIGLU = 1 } bitlm_ffn_kind;
typedef enum { BITLM_NORM_RMSNORM = 0, BITLM_NORM_NONE = 1 /* planned */ } bitlm_norm_kind;
/* PRE: norm before attention and before FFN. SUBLN: additionally a norm in front of the attention
 * output projection and the FFN down projection, so every BitLinear input is normalized (BitNet b1.58). */
typedef enum { BITLM_NORM_PLACE_PRE = 0, BITLM_NORM_PLACE_SUBLN = 1 } bitlm_norm_placement;
typedef enum {
    BITLM_ATTN_SOFTMAX = 0,
    BITLM_ATTN_GUMBEL_HARDMAX = 1,   /* planned */
    BITLM_ATTN_SOFT_POINTER = 2      /* planned */
} bitlm_attn_kind;
typedef enum { BITLM_POS_ROPE = 0, BITLM_POS_ALIBI = 1 /* planned */ } bitlm_pos_kind;
typedef enum { BITLM_ACT_INT8 = 0, BITLM_ACT_BINARY = 1 /* planned */ } bitlm_act_kind;
typedef enum { BITLM_HEAD_TIED = 0, BITLM_HEAD_SEPARATE = 1 } bitlm_head_kind;
typedef enum { BITLM_TOKENIZER_BYTES = 0, BITLM_TOKENIZER_BPE = 1 /* planned */ } bitlm_tokenizer_kind;

typedef struct bitlm_config {
    uint32_t vocab_size;      /* >= 1; a byte tokenizer needs >= 256 */
    uint32_t dim;             /* residual width */
    uint32_t n_layers;
    uint32_t n_heads;
    uint32_t n_kv_heads;      /* divides n_heads (grouped-query attention) */
    uint32_t head_dim;        /* even (RoPE rotates pairs) */
    uint32_t ffn_dim;
    uint32_t max_seq_len;     /* the longest context the model was built for */
    uint32_t ffn_kind;        /* bitlm_ffn_kind */
    uint32_t norm_kind;       /* bitlm_norm_kind */
    uint32_t norm_placement;  /* bitlm_norm_placement */
    uint32_t attn_kind;       /* bitlm_attn_kind */
    uint32_t pos_kind;        /* bitlm_pos_kind */
    uint32_t act_kind;        /* bitlm_act_kind */
    uint32_t head_kind;       /* bitlm_head_kind */
    float rope_theta;         /* RoPE base, e.g. 10000 */
    float norm_eps;           /* RMSNorm epsilon, e.g. 1e-5 */
} bitlm_config;

/* ---- opening a model ---------------------------------------------------------------------- */
typedef struct bitlm_model bitlm_model; /* opaque; lives inside the caller's arena */

/* Runs fn(arg, i) for every i in [0, n_tasks), possibly in parallel, and returns when all are done.
 * Tasks write disjoint outputs, so the result never depends on how they are scheduled. */
typedef void (*bitlm_task_fn)(void *arg, uint32_t task);
typedef void (*bitlm_parallel_for_fn)(void *runner, bitlm_task_fn fn, void *arg, uint32_t n_tasks);

struct bitlm_kernels; /* kernel table, see lib/kernels.h; NULL selects the build's default */

typedef struct bitlm_open_options {
    uint32_t context_len;      /* KV-cache length; 0 = the model's max_seq_len */
    uint32_t max_batch;        /* tokens processed together in one forward (prefill chunk); 0 = 1 */
    uint32_t flags;            /* BITLM_OPEN_* */
    const struct bitlm_kernels *kernels;   /* NULL = bitlm_default_kernels() */
    bitlm_parallel_for_fn parallel_for;    /* NULL = run tasks serially */
    void *runner;                          /* passed to parallel_for */
} bitlm_open_options;

#define BITLM_OPEN_SKIP_CHECKSUM 1u /* trust the payload (e.g. firmware that verified it once) */
#define BITLM_OPEN_GREEDY_ONLY 2u   /* no sampler scratch (saves vocab*8 arena bytes); sampling with
                                       temperature > 0 then returns BITLM_ERR_BAD_ARGUMENT */

/* The artifact must stay valid and unchanged while the model is open (weights are read in place).
 * It must be 4-byte aligned; 64-byte alignment lets SIMD kernels load payloads directly. */

/* Arena bytes needed to open this artifact with these options (validates the artifact). The figure
 * is the same on every target (64-bit host and 32-bit MCU alike), so a host tool can size a
 * firmware's static arena. */
bitlm_status bitlm_arena_bytes(const void *artifact, size_t artifact_bytes,
                               const bitlm_open_options *options, size_t *out_bytes);
/* Same from a configuration alone (for build-time sizing of a static arena). */
bitlm_status bitlm_arena_bytes_for_config(const bitlm_config *config,
                                          const bitlm_open_options *options, size_t *out_bytes);

bitlm_status bitlm_open(const void *artifact, size_t artifact_bytes, void *arena, size_t arena_bytes,
                        const bitlm_open_options *options, bitlm_model **out_model);

const bitlm_config *bitlm_model_config(const bitlm_model *model);
uint32_t bitlm_context_len(const bitlm_model *model);
uint32_t bitlm_position(const bitlm_model *model); /* tokens in the KV cache */
void bitlm_reset(bitlm_model *model);              /* empty the KV cache */

/* Desktop: a faster in-RAM copy of the ternary weights, 2 bits each, for kernel tables that read that
 * layout faster than the artifact's base 3 (today the AVX2 table: decode ~1.3-2x). Bytes it needs, 0
 * when the model's kernel table gains nothing from it (AVX-512, NEON, Cortex-M) or it is done. */
size_t bitlm_repack_bytes(const bitlm_model *model);
/* Makes that copy in `buffer` (64-byte aligned, >= bitlm_repack_bytes(); it must stay valid and
 * unchanged while the model is open) and computes from it from now on; the logits stay bit for bit
 * the same. BITLM_OK without touching the buffer when bitlm_repack_bytes() is 0. Not while another
 * call on this model runs. */
bitlm_status bitlm_repack(bitlm_model *model, void *buffer, size_t buffer_bytes);

/* ---- running the model -------------------------------------------------------------------- */
/* Called once per fed position with that position's logits (vocab_size floats) when requested. */
typedef void (*bitlm_logits_fn)(void *user, uint32_t index, const float *logits);

/* Feed n tokens after the ones already in the cache. Logits of the last token are always computed
 * and available from bitlm_logits(); if each_logits is non-NULL it is called for every fed position
 * (index 0..n-1) in order. Errors leave the cache as it was before the call. */
bitlm_status bitlm_feed(bitlm_model *model, const int32_t *tokens, uint32_t n,
                        bitlm_logits_fn each_logits, void *user);
/* Logits of the last fed token (vocab_size floats), or NULL before any token was fed. */
const float *bitlm_logits(const bitlm_model *model);

/* ---- sampling ----------------------------------------------------------------------------- */
typedef struct bitlm_sampling {
    float temperature;  /* 0 = greedy (argmax, lowest id on ties) */
    uint32_t top_k;     /* 0 = off */
    float top_p;        /* 1 (or 0) = off; else keep the smallest set with mass >= top_p */
    uint64_t seed;      /* PRNG seed (state advanced by each sample) */
} bitlm_sampling;

typedef struct bitlm_rng { uint64_t state; } bitlm_rng;
void bitlm_rng_seed(bitlm_rng *rng, uint64_t seed);
uint32_t bitlm_rng_next_u32(bitlm_rng *rng);

/* Sample from the last logits. Uses scratch space inside the model's arena. */
bitlm_status bitlm_sample(bitlm_model *model, const bitlm_sampling *sampling, bitlm_rng *rng,
                          int32_t *out_token);

/* ---- logits checksum: FNV-1a 64 over the little-endian bit patterns of floats -------------- */
#define BITLM_CHECKSUM_INIT 0xcbf29ce484222325ull
uint64_t bitlm_checksum_floats(uint64_t hash, const float *values, uint32_t n);

/* ---- generation --------------------------------------------------------------------------- */
/* Called with each generated token; return non-zero to stop early. */
typedef int (*bitlm_token_fn)(void *user, int32_t token);

/* Feed the prompt (appended to whatever is in the cache), then generate up to n_new tokens.
 * logits_checksum (may be NULL) is updated (start from BITLM_CHECKSUM_INIT) with the logits every
 * sampled token was drawn from, in order: the contract behind "logits-checksum:" lines.
 * Stops early (BITLM_OK) when the context is full. */
bitlm_status bitlm_generate(bitlm_model *model, const int32_t *prompt, uint32_t n_prompt,
                            uint32_t n_new, const bitlm_sampling *sampling,
                            bitlm_token_fn on_token, void *user, uint64_t *logits_checksum);

/* ---- tokenizer ---------------------------------------------------------------------------- */
/* Encode UTF-8/bytes text into token ids (byte tokenizer: one token per byte). Returns the number
 * of tokens written, or BITLM_ERR_BUFFER_TOO_SMALL if max_tokens is too small. */
bitlm_status bitlm_encode(const bitlm_model *model, const char *text, size_t text_bytes,
                          int32_t *tokens, uint32_t max_tokens, uint32_t *out_n);
/* Bytes of one token (byte tokenizer: 1 byte; specials: 0). Writes at most max_bytes. */
uint32_t bitlm_decode_token(const bitlm_model *model, int32_t token, char *out, uint32_t max_bytes);

/* ---- version ------------------------------------------------------------------------------ */
#define BITLM_FORMAT_VERSION 1u
const char *bitlm_version(void);

#ifdef __cplusplus
}
#endif
#endif /* BITLM_H */
