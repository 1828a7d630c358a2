/* main.c — the smallest useful bitlm firmware, the one to copy: open the model that sits in flash
 * with a static arena, generate 32 tokens greedily from a prompt, print them and the logits checksum
 * (the same two lines `bitlm_run generate MODEL --prompt "Once upon a time" -n 32 --temperature 0`
 * prints on a PC). Only bitlm.h is the library; the three other headers are this repo's board glue:
 * swap console_write for your UART and bitlm_model_blob for wherever your model lives. */
#include "bitlm.h"
#include "config.h"     /* from the build: FW_ARENA_BYTES (bitlm_run info MODEL --ctx N), FW_CONTEXT_LEN */
#include "console.h"    /* console_write / console_puts / console_put_hex */
#include "model_blob.h" /* bitlm_model_blob[]: the .blm artifact, linked into flash, read in place */

/* All the RAM the library gets: fixed at link time, no heap. */
static uint8_t arena[FW_ARENA_BYTES] __attribute__((aligned(64)));

static int print_token(void *user, int32_t token) {
    char bytes[16];
    console_write(bytes, bitlm_decode_token((const bitlm_model *)user, token, bytes, sizeof bytes));
    return 0; /* non-zero stops the generation */
}

int main(void) {
    static const char prompt[] = "Once upon a time";
    int32_t tokens[sizeof prompt]; /* byte tokenizer: at most one token per byte */
    uint32_t n_tokens = 0;
    uint64_t checksum = BITLM_CHECKSUM_INIT;
    bitlm_model *model = NULL;
    bitlm_open_options options = {0};
    options.flags = BITLM_OPEN_GREEDY_ONLY; /* greedy decoding: no sampler scratch in the arena */
    options.context_len = FW_CONTEXT_LEN; /* KV-cache length: what the arena was sized for */

    bitlm_status st = bitlm_open(bitlm_model_blob, bitlm_model_blob_size(), arena, sizeof arena, &options, &model);
    if (st == BITLM_OK) st = bitlm_encode(model, prompt, sizeof prompt - 1, tokens, sizeof prompt, &n_tokens);
    if (st == BITLM_OK) {
        bitlm_sampling greedy = {0}; /* temperature 0: always the most likely token */
        console_puts(prompt);
        st = bitlm_generate(model, tokens, n_tokens, 32, &greedy, print_token, model, &checksum);
        console_puts("\n");
    }
    if (st != BITLM_OK) {
        console_puts("bitlm error: ");
        console_puts(bitlm_status_message(st));
        console_puts("\n");
        return 1; /* the exit status under QEMU */
    }
    console_puts("logits-checksum: ");
    console_put_hex(checksum, 16);
    console_puts("\n");
    return 0;
}
