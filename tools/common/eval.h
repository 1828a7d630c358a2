// eval.h — bits per byte of a token stream under a model: the one evaluation procedure that
// `bitlm_run eval` and bitlm_train's validation share, so their numbers can be compared.
//
// The procedure (fixed; change it only together with every caller):
//   1. Text -> tokens with the model's tokenizer (bitlm_encode; byte tokenizer: one token per byte).
//      --max-bytes N keeps the first N bytes of the text before encoding.
//   2. Windows of L = context tokens. Window k covers tokens [k(L-1), k(L-1) + L) (the last one may
//      be shorter; a window of one token predicts nothing and is not run). Consecutive windows
//      overlap by one token, so every token except the text's first is predicted exactly once,
//      from its prefix inside its window. Each window starts from an empty KV cache.
//   3. In a window of n tokens, the logits at position i (0..n-2) predict token i+1:
//        bits(i) = (m + ln(sum_j exp(l_j - m)) - l[next]) / ln 2,   m = max_j l_j,
//      evaluated in double on the host (std::exp/std::log: host-side scoring, not inference).
//   4. bpb = total bits / bytes of the predicted tokens (byte tokenizer: tokens - 1).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <functional>
#include <string>
#include <vector>
#include "bitlm.h"

namespace bitlm {
namespace tools {

struct EvalResult {
    double bits = 0.0;              // total -log2 p over predicted tokens
    uint64_t tokens = 0;            // tokens in the (limited) text
    uint64_t predicted_tokens = 0;  // tokens - 1
    uint64_t predicted_bytes = 0;   // bytes those tokens decode to
    uint64_t windows = 0;
    double seconds = 0.0;
    double bpb() const { return predicted_bytes ? bits / (double)predicted_bytes : 0.0; }
    double tokens_per_second() const { return seconds > 0 ? (double)predicted_tokens / seconds : 0.0; }
};

// -log2 softmax(logits)[next], in double, as in step 3.
double token_bits(const float *logits, uint32_t vocab, int32_t next);

struct EvalWindow {
    size_t start;
    uint32_t length;
};
// The windows of step 2 for n tokens and context L (>= 2).
std::vector<EvalWindow> eval_windows(size_t n_tokens, uint32_t context);

// Model-independent driver. `run_window` must start from an empty cache, run tokens[0..n) and call
// `each(i, logits)` for every position i in order (at least 0..n-2); it returns "" or an error.
typedef std::function<void(uint32_t index, const float *logits)> EachLogits;
typedef std::function<std::string(const int32_t *tokens, uint32_t n, const EachLogits &each)> RunWindow;
// token_bytes(t): bytes token t stands for (nullptr: one byte per token).
typedef std::function<uint32_t(int32_t token)> TokenBytes;
// Progress: called after each window with tokens predicted so far and the total.
typedef std::function<void(uint64_t done, uint64_t total)> EvalProgress;

std::string eval_tokens(const int32_t *tokens, size_t n_tokens, uint32_t context, uint32_t vocab,
                        const RunWindow &run_window, const TokenBytes &token_bytes, const EvalProgress &progress,
                        EvalResult *out);

// The same procedure for a model that runs several windows at once (the trainer's batched forward):
// `run_batch` gets n_windows windows of `length` tokens side by side (consecutive windows of equal
// length, at most max_batch) and calls each(window, i, logits) for every position of every window, in
// position order within a window. Bits are summed window by window in order, so the result does not
// depend on max_batch.
typedef std::function<void(uint32_t window, uint32_t index, const float *logits)> BatchLogits;
typedef std::function<std::string(const int32_t *tokens, uint32_t n_windows, uint32_t length, const BatchLogits &each)>
    RunBatch;
std::string eval_tokens_batched(const int32_t *tokens, size_t n_tokens, uint32_t context, uint32_t vocab,
                                uint32_t max_batch, const RunBatch &run_batch, const TokenBytes &token_bytes,
                                const EvalProgress &progress, EvalResult *out);

// The procedure on an open model. context 0 = bitlm_context_len(model); max_bytes 0 = whole text.
// progress: print "eval: N/M tokens ..." lines to stderr about every few seconds.
std::string eval_text(bitlm_model *model, const uint8_t *text, size_t text_bytes, uint32_t context,
                      uint64_t max_bytes, bool progress, EvalResult *out);

}  // namespace tools
}  // namespace bitlm
