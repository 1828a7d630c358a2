// eval.cpp — bits per byte under a model, the shared evaluation procedure (see eval.h).
#include "common/eval.h"
#include <math.h>
#include <stdio.h>
#include "host/clock.h"

namespace bitlm {
namespace tools {

double token_bits(const float *logits, uint32_t vocab, int32_t next) {
    double m = logits[0];
    for (uint32_t j = 1; j < vocab; j++)
        if (logits[j] > m) m = logits[j];
    double sum = 0.0;
    for (uint32_t j = 0; j < vocab; j++) sum += std::exp((double)logits[j] - m);
    return (m + std::log(sum) - (double)logits[next]) / M_LN2;
}

std::vector<EvalWindow> eval_windows(size_t n_tokens, uint32_t context) {
    std::vector<EvalWindow> windows;
    if (context < 2) return windows;
    for (size_t start = 0; start + 1 < n_tokens; start += context - 1) {
        const size_t left = n_tokens - start;
        windows.push_back({start, (uint32_t)(left < context ? left : context)});
    }
    return windows;
}

std::string eval_tokens_batched(const int32_t *tokens, size_t n_tokens, uint32_t context, uint32_t vocab,
                                uint32_t max_batch, const RunBatch &run_batch, const TokenBytes &token_bytes,
                                const EvalProgress &progress, EvalResult *out) {
    *out = EvalResult();
    out->tokens = n_tokens;
    if (context < 2) return "the context must hold at least 2 tokens to evaluate, got " + std::to_string(context);
    if (n_tokens < 2) return "the text must have at least 2 tokens to evaluate, got " + std::to_string(n_tokens);
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= vocab)
            return "token " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                   " is out of range for the vocabulary of " + std::to_string(vocab);
    if (max_batch == 0) max_batch = 1;
    const std::vector<EvalWindow> windows = eval_windows(n_tokens, context);
    const uint64_t total = n_tokens - 1;
    const double start_time = host::seconds();
    std::vector<int32_t> batch_tokens;
    for (size_t w0 = 0; w0 < windows.size();) {
        // Consecutive windows of one length (all full ones; the short last one alone), copied side by side.
        const uint32_t len = windows[w0].length;
        size_t w1 = w0 + 1;
        while (w1 < windows.size() && w1 - w0 < max_batch && windows[w1].length == len) w1++;
        const uint32_t n_win = (uint32_t)(w1 - w0);
        batch_tokens.assign(tokens + windows[w0].start, tokens + windows[w0].start + len);
        for (size_t w = w0 + 1; w < w1; w++)
            batch_tokens.insert(batch_tokens.end(), tokens + windows[w].start, tokens + windows[w].start + len);
        std::vector<uint32_t> expected(n_win, 0);  // next position whose logits each window needs
        std::vector<double> bits(n_win, 0.0);
        bool in_order = true;
        const BatchLogits each = [&](uint32_t w, uint32_t i, const float *logits) {
            if (w >= n_win || i != expected[w]) {
                in_order = false;
                return;
            }
            if (i + 1 < len) {
                bits[w] += token_bits(logits, vocab, batch_tokens[(size_t)w * len + i + 1]);
                expected[w]++;
            }
        };
        const std::string err = run_batch(batch_tokens.data(), n_win, len, each);
        if (!err.empty()) return err;
        for (uint32_t w = 0; w < n_win; w++) {
            if (!in_order || expected[w] != len - 1)
                return "internal error: the model reported logits for " + std::to_string(expected[w]) + " of " +
                       std::to_string(len - 1) + " positions of a window";
            // Window by window, in order: the same sum whatever the batch size.
            const int32_t *wt = batch_tokens.data() + (size_t)w * len;
            out->bits += bits[w];
            out->windows++;
            for (uint32_t i = 1; i < len; i++) out->predicted_bytes += token_bytes ? token_bytes(wt[i]) : 1;
            out->predicted_tokens += len - 1;
        }
        if (progress) progress(out->predicted_tokens, total);
        w0 = w1;
    }
    out->seconds = host::seconds() - start_time;
    if (out->predicted_bytes == 0) return "the predicted tokens decode to no bytes; bits per byte is undefined";
    return "";
}

std::string eval_tokens(const int32_t *tokens, size_t n_tokens, uint32_t context, uint32_t vocab,
                        const RunWindow &run_window, const TokenBytes &token_bytes, const EvalProgress &progress,
                        EvalResult *out) {
    const RunBatch one = [&](const int32_t *wt, uint32_t, uint32_t len, const BatchLogits &each) {
        return run_window(wt, len, [&](uint32_t i, const float *logits) { each(0, i, logits); });
    };
    return eval_tokens_batched(tokens, n_tokens, context, vocab, 1, one, token_bytes, progress, out);
}

namespace {

struct FeedUser {
    const EachLogits *each;
};

void feed_each(void *user, uint32_t index, const float *logits) { (*static_cast<FeedUser *>(user)->each)(index, logits); }

}  // namespace

std::string eval_text(bitlm_model *model, const uint8_t *text, size_t text_bytes, uint32_t context,
                      uint64_t max_bytes, bool progress, EvalResult *out) {
    *out = EvalResult();
    const uint32_t model_ctx = bitlm_context_len(model);
    if (context == 0) context = model_ctx;
    if (context > model_ctx)
        return "--ctx " + std::to_string(context) + " is longer than the opened context of " + std::to_string(model_ctx);
    if (max_bytes && text_bytes > max_bytes) text_bytes = (size_t)max_bytes;
    if (text_bytes > 0xffffffffull - 16) return "the text is too long to evaluate in one go (over 4 GB)";
    std::vector<int32_t> tokens(text_bytes + 16);
    uint32_t n = 0;
    bitlm_status st = bitlm_encode(model, reinterpret_cast<const char *>(text), text_bytes, tokens.data(),
                                   (uint32_t)tokens.size(), &n);
    if (st == BITLM_ERR_BUFFER_TOO_SMALL && n > tokens.size()) {
        tokens.resize(n);
        st = bitlm_encode(model, reinterpret_cast<const char *>(text), text_bytes, tokens.data(), n, &n);
    }
    if (st != BITLM_OK) return std::string("cannot tokenize the text: ") + bitlm_status_message(st);
    const uint32_t vocab = bitlm_model_config(model)->vocab_size;

    const RunWindow run = [&](const int32_t *wt, uint32_t len, const EachLogits &each) -> std::string {
        bitlm_reset(model);
        FeedUser user{&each};
        const bitlm_status s = bitlm_feed(model, wt, len, feed_each, &user);
        if (s != BITLM_OK) return std::string("evaluation failed: ") + bitlm_status_message(s);
        return "";
    };
    const TokenBytes bytes_of = [&](int32_t t) -> uint32_t {
        char buf[64];
        return bitlm_decode_token(model, t, buf, sizeof buf);
    };
    double last_report = host::seconds();
    const double start = last_report;
    const EvalProgress report = [&](uint64_t done, uint64_t total) {
        const double now = host::seconds();
        if (!progress || (now - last_report < 5.0 && done != total) || now - start < 5.0) return;
        last_report = now;
        fprintf(stderr, "eval: %llu/%llu tokens (%.0f%%), %.0f tok/s\n", (unsigned long long)done,
                (unsigned long long)total, 100.0 * (double)done / (double)total, (double)done / (now - start));
    };
    const std::string err = eval_tokens(tokens.data(), n, context, vocab, run, bytes_of, report, out);
    bitlm_reset(model);
    return err;
}

}  // namespace tools
}  // namespace bitlm
