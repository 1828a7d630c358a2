/* link_stub.c — a firmware-shaped C99 program over the public API, for tests/cross/freestanding_symbols.sh.
 * Linked for each Cortex-M target with -nostdlib -nostartfiles --gc-sections and libgcc only, it proves
 * that libbitlm.a needs no C library beyond memcpy, memmove and memset; compiled as strict C99 it proves
 * that bitlm.h is usable from C. It is linked, never run.
 *
 * Why these three: GCC's freestanding contract ("GCC requires the freestanding environment provide
 * memcpy, memmove, memset and memcmp") lets the compiler emit calls to them for struct copies, array
 * initialisation and loops it recognises, even in code that never names them. memmove is on the list
 * because GCC's loop-distribution pass emits it for overlapping copy loops; every firmware C library
 * (newlib, picolibc, the vendor ones) provides all three. memcmp is left out: the compiler only calls
 * it where the source asks for it, and lib/ brings its own comparisons. */
#include "bitlm.h"

/* ---- the only C-library functions the firmware provides ---------------------------------------- */
/* Byte loops; the test script compiles this file with -fno-tree-loop-distribute-patterns so GCC does
 * not turn them back into calls to themselves. */
void *memcpy(void *dst, const void *src, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        d += n; s += n;
        while (n--) *--d = *--s;
    }
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}

/* ---- the model in flash, the arena in RAM -------------------------------------------------------- */
/* Unions give the alignment bitlm.h asks for without C11 _Alignas. The bytes are not a valid model:
 * this program is linked, not run, and the calls below only have to exist. */
static const union { uint64_t align; unsigned char bytes[64]; } model_blob = { 0 };
static union { uint64_t align; unsigned char bytes[32768]; } arena;

/* Results go somewhere the compiler cannot see through, so no call is optimised away. */
static volatile uint64_t sink;

static int on_token(void *user, int32_t token) {
    (void)user;
    sink += (uint64_t)(uint32_t)token;
    return 0;
}

static void on_logits(void *user, uint32_t index, const float *logits) {
    (void)user;
    sink += index + (logits != NULL ? 1u : 0u);
}

static void note(bitlm_status status) { sink += (uint64_t)bitlm_status_message(status)[0]; }

static void set_options(bitlm_open_options *o) {
    o->context_len = 0;
    o->max_batch = 4;
    o->flags = 0;
    o->kernels = NULL;
    o->parallel_for = NULL;
    o->runner = NULL;
}

/* ---- what a firmware main does -------------------------------------------------------------------- */
static int run(void) {
    bitlm_open_options options;
    bitlm_config config;
    bitlm_sampling sampling;
    bitlm_rng rng;
    bitlm_model *model = NULL;
    size_t need = 0;
    int32_t tokens[16];
    uint32_t n_tokens = 0;
    uint64_t checksum = BITLM_CHECKSUM_INIT;
    int32_t next = 0;
    char text[4];
    const float *logits;
    const bitlm_config *cfg;
    bitlm_status s;

    set_options(&options);
    sink += (uint64_t)bitlm_version()[0];

    /* size a static arena from a configuration alone */
    config.vocab_size = 256; config.dim = 64; config.n_layers = 2; config.n_heads = 4;
    config.n_kv_heads = 2; config.head_dim = 16; config.ffn_dim = 256; config.max_seq_len = 64;
    config.ffn_kind = BITLM_FFN_RELU2; config.norm_kind = BITLM_NORM_RMSNORM;
    config.norm_placement = BITLM_NORM_PLACE_SUBLN; config.attn_kind = BITLM_ATTN_SOFTMAX;
    config.pos_kind = BITLM_POS_ROPE; config.act_kind = BITLM_ACT_INT8; config.head_kind = BITLM_HEAD_TIED;
    config.rope_theta = 10000.0f; config.norm_eps = 1e-5f;
    note(bitlm_arena_bytes_for_config(&config, &options, &need));

    /* open the artifact in place */
    s = bitlm_arena_bytes(model_blob.bytes, sizeof model_blob.bytes, &options, &need);
    note(s);
    if (s != BITLM_OK || need > sizeof arena.bytes) return 1;
    s = bitlm_open(model_blob.bytes, sizeof model_blob.bytes, arena.bytes, sizeof arena.bytes, &options,
                   &model);
    note(s);
    if (s != BITLM_OK) return 1;
    cfg = bitlm_model_config(model);
    sink += cfg->vocab_size + bitlm_context_len(model);

    /* prompt, feed, logits, sample */
    note(bitlm_encode(model, "Once", 4, tokens, 16, &n_tokens));
    note(bitlm_feed(model, tokens, n_tokens, on_logits, NULL));
    logits = bitlm_logits(model);
    if (logits != NULL) checksum = bitlm_checksum_floats(checksum, logits, cfg->vocab_size);
    sampling.temperature = 0.8f; sampling.top_k = 40; sampling.top_p = 0.9f; sampling.seed = 42;
    bitlm_rng_seed(&rng, sampling.seed);
    sink += bitlm_rng_next_u32(&rng);
    note(bitlm_sample(model, &sampling, &rng, &next));
    sink += bitlm_decode_token(model, next, text, sizeof text) + bitlm_position(model);

    /* generate from a fresh cache */
    bitlm_reset(model);
    sampling.temperature = 0.0f;
    note(bitlm_generate(model, tokens, n_tokens, 32, &sampling, on_token, NULL, &checksum));
    sink += checksum;
    return 0;
}

/* The entry point (ENTRY in the test's linker script). A real firmware would also set up the stack,
 * .data and .bss, and enable the FPU, before this. */
void Reset_Handler(void);
void Reset_Handler(void) {
    sink += (uint64_t)run();
    for (;;) {
    }
}
