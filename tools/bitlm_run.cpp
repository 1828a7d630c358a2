// bitlm_run.cpp — run a .blm artifact on the host: generate text, evaluate bits per byte, benchmark
// prefill/decode speed, and describe an artifact. Every failure is one line "bitlm_run: <reason>"
// on stderr and a non-zero exit (1 failure, 2 bad usage).
#include <stdio.h>
#include <string.h>
#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include "artifact/format.h"
#include "artifact/reader.h"
#include "bitlm.h"
#include "common/args.h"
#include "common/eval.h"
#include "common/random_model.h"
#include "host/clock.h"
#include "host/file_io.h"
#include "host/thread_pool.h"
#include "kernels.h"

using namespace bitlm;
using namespace bitlm::tools;

namespace {

// ---- help ---------------------------------------------------------------------------------------

const char *kHelp =
    "usage: bitlm_run <command> MODEL.blm [options]\n"
    "\n"
    "commands:\n"
    "  generate MODEL.blm --prompt TEXT -n N   print the prompt and N generated tokens, then\n"
    "                                          'logits-checksum: <16 hex digits>'\n"
    "  eval MODEL.blm FILE                     bits per byte of a text file ('bpb: X')\n"
    "  bench MODEL.blm                         prefill and decode tokens/s, memory\n"
    "  info MODEL.blm                          configuration, tensors, sizes, bits per weight\n"
    "\n"
    "'bitlm_run <command> --help' describes each command's options. Host commands take\n"
    "--threads N (default: all cores) and --kernels NAME (default: the fastest this CPU runs; the\n"
    "names: 'bitlm_run bench --kernels list'). Exit status: 0 ok, 1 failure, 2 bad usage.\n";

const char *kGenerateHelp =
    "usage: bitlm_run generate MODEL.blm --prompt TEXT -n N [options]\n"
    "\n"
    "Feeds the prompt, then samples N tokens, printing the prompt and each token as it comes, then a\n"
    "newline and 'logits-checksum: <16 hex digits>': FNV-1a 64 over the logits every sampled token was\n"
    "drawn from (the same line the firmware examples print, so targets can be compared bit for bit).\n"
    "Stops early when the context is full.\n"
    "\n"
    "  --prompt TEXT          the prompt (encoded with the model's tokenizer)\n"
    "  --prompt-ids 1,2,3     raw token ids instead of --prompt\n"
    "  -n N                   tokens to generate (default 32)\n"
    "  --temperature T        0 = greedy, argmax (default 0)\n"
    "  --top-k K              keep the K most likely tokens (default 0 = off)\n"
    "  --top-p P              nucleus sampling mass in (0, 1] (default 1 = off)\n"
    "  --seed S               sampling seed (default 0)\n"
    "  --ctx L                context length (default: the model's max_seq_len)\n"
    "  --threads N            threads (default: all cores)\n"
    "  --kernels NAME         kernel table (default: the fastest this CPU runs; 'list' names them)\n"
    "  --no-repack            keep reading the artifact's base-3 weights (default: a 2-bit in-RAM copy\n"
    "                         where the kernel table reads it faster, i.e. AVX2: bitlm_repack)\n"
    "  --arena-bytes N        give the model exactly N arena bytes (tests the too-small error)\n";

const char *kEvalHelp =
    "usage: bitlm_run eval MODEL.blm FILE [options]\n"
    "\n"
    "Bits per byte of FILE under the model. Windows of L = --ctx tokens advance by L-1, so every\n"
    "token but the first is predicted exactly once from its prefix within its window; each window\n"
    "starts from an empty cache; bits = -log2 softmax(logits)[next] in double (tools/common/eval.h).\n"
    "Ends with 'bpb: X'.\n"
    "\n"
    "  --ctx L                window length (default: the model's max_seq_len)\n"
    "  --max-bytes N          evaluate only the first N bytes of FILE (after --skip-bytes)\n"
    "  --skip-bytes N         start at byte N of FILE (e.g. the validation split bitlm_train reports)\n"
    "  --threads N            threads (default: all cores)\n"
    "  --kernels NAME         kernel table (default: the fastest this CPU runs; 'list' names them)\n"
    "  --no-repack            keep reading the artifact's base-3 weights (default: a 2-bit in-RAM copy\n"
    "                         where the kernel table reads it faster, i.e. AVX2: bitlm_repack)\n";

const char *kBenchHelp =
    "usage: bitlm_run bench MODEL.blm [options]\n"
    "\n"
    "Prefill: one bitlm_feed of --prompt-len tokens (max_batch = prompt length). Decode: --decode\n"
    "tokens one at a time (greedy sample, feed). Median over --repeat runs, each from an empty cache.\n"
    "Prints prefill_tok_s, decode_tok_s, arena_bytes, repack_bytes, artifact_bytes, threads, kernels.\n"
    "\n"
    "  --prompt-len N         prefill tokens (default 128)\n"
    "  --decode N             decode tokens (default 64)\n"
    "  --repeat N             runs; the median is reported (default 3)\n"
    "  --ctx L                context length (default: the model's max_seq_len)\n"
    "  --threads N            threads (default: all cores)\n"
    "  --kernels NAME         kernel table (default: the fastest this CPU runs; 'list' names them)\n"
    "  --no-repack            keep reading the artifact's base-3 weights (default: a 2-bit in-RAM copy\n"
    "                         where the kernel table reads it faster, i.e. AVX2: bitlm_repack)\n";

const char *kInfoHelp =
    "usage: bitlm_run info MODEL.blm [--ctx L]\n"
    "\n"
    "Validates the artifact and prints its configuration and tokenizer as 'key: value' lines, a table\n"
    "of tensors (role, layer, dtype, shape, scale kind, scale count, bytes), the size breakdown,\n"
    "linear_params, bits_per_weight (BitLinear payload bits per weight), bits_per_weight_with_scales,\n"
    "artifact_bytes, and arena_bytes needed to open it with context --ctx (default max_seq_len) and\n"
    "one token per forward (arena_bytes_greedy: the same with BITLM_OPEN_GREEDY_ONLY). The figures\n"
    "are the same on every target, so firmware can size its static arena from them.\n";

// ---- errors -------------------------------------------------------------------------------------

struct Failure {
    int code;
    std::string message;
};

int report(const Failure &f) {
    fprintf(stderr, "bitlm_run: %s\n", f.message.c_str());
    return f.code;
}

Failure usage(const std::string &m) { return {2, m}; }
Failure failed(const std::string &m) { return {1, m}; }

// ---- loading ------------------------------------------------------------------------------------

unsigned default_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n ? n : 1;
}

struct Loaded {
    std::string path;
    host::AlignedBuffer file;
    host::AlignedBuffer arena;
    ArtifactInfo info;  // validated by read_model_file
    std::unique_ptr<host::ThreadPool> pool;
    const bitlm_kernels *kernels = nullptr;  // nullptr: the build's default
    bool repack = true;                      // make the 2-bit copy where the table prefers it
    host::AlignedBuffer repacked;            // that copy (bitlm_repack)
    bitlm_model *model = nullptr;
    size_t arena_bytes = 0;
    unsigned threads = 1;
};

// Reads and validates the artifact (no arena yet).
bool read_model_file(const std::string &path, Loaded *out, Failure *f) {
    out->path = path;
    std::string err = host::read_file(path, &out->file);
    if (!err.empty()) {
        *f = failed(err);
        return false;
    }
    const bitlm_status st = read_artifact(out->file.data(), out->file.size(), false, &out->info);
    if (st != BITLM_OK) {
        *f = failed("'" + path + "' is not a usable model: " + bitlm_status_message(st));
        return false;
    }
    return true;
}

// The context to open with: --ctx or the model's max_seq_len.
bool pick_context(Args &args, const bitlm_config &c, uint32_t *ctx, Failure *f) {
    *ctx = args.get_u32("ctx", c.max_seq_len, 1, UINT32_MAX);
    if (!args.ok()) {
        *f = usage(args.error());
        return false;
    }
    if (*ctx > c.max_seq_len) {
        *f = usage("--ctx " + std::to_string(*ctx) + " is longer than the model's max_seq_len of " +
                   std::to_string(c.max_seq_len));
        return false;
    }
    return true;
}

// Opens the model with this context and batch; arena_override > 0 gives exactly that many bytes.
bool open_model(Loaded *l, uint32_t ctx, uint32_t max_batch, unsigned threads, uint64_t arena_override, Failure *f) {
    l->threads = threads;
    if (threads > 1) l->pool.reset(new host::ThreadPool(threads));
    bitlm_open_options opt;
    memset(&opt, 0, sizeof opt);
    opt.context_len = ctx;
    opt.max_batch = max_batch;
    opt.flags = BITLM_OPEN_SKIP_CHECKSUM;  // read_model_file verified it
    opt.kernels = l->kernels;
    opt.parallel_for = l->pool ? host::ThreadPool::parallel_for_fn : nullptr;
    opt.runner = l->pool.get();
    size_t need = 0;
    bitlm_status st = bitlm_arena_bytes(l->file.data(), l->file.size(), &opt, &need);
    if (st != BITLM_OK) {
        *f = failed("cannot size the arena for '" + l->path + "' (context " + std::to_string(ctx) + ", batch " +
                    std::to_string(max_batch) + "): " + bitlm_status_message(st));
        return false;
    }
    const size_t give = arena_override ? (size_t)arena_override : need;
    if (!l->arena.allocate(give)) {
        *f = failed("out of memory allocating an arena of " + std::to_string(give) + " bytes");
        return false;
    }
    st = bitlm_open(l->file.data(), l->file.size(), l->arena.data(), give, &opt, &l->model);
    if (st == BITLM_ERR_ARENA_TOO_SMALL) {
        *f = failed("arena too small: the model needs " + std::to_string(need) + " bytes, given " + std::to_string(give));
        return false;
    }
    if (st != BITLM_OK) {
        *f = failed("cannot open '" + l->path + "': " + bitlm_status_message(st));
        return false;
    }
    l->arena_bytes = give;
    const size_t copy = l->repack ? bitlm_repack_bytes(l->model) : 0;
    if (copy) {
        if (!l->repacked.allocate(copy)) {
            *f = failed("out of memory allocating the 2-bit weight copy of " + std::to_string(copy) +
                        " bytes (--no-repack reads the artifact's weights directly)");
            return false;
        }
        st = bitlm_repack(l->model, l->repacked.data(), copy);
        if (st != BITLM_OK) {
            *f = failed("cannot repack '" + l->path + "': " + bitlm_status_message(st));
            return false;
        }
    }
    return true;
}

unsigned get_threads(Args &args) { return args.get_u32("threads", default_threads(), 1, 4096); }

// The names of this build's kernel tables that this CPU runs, e.g. "generic, avx2, avx512".
std::string kernel_names() {
    std::string names;
    for (uint32_t i = 0; i < bitlm_kernel_table_count(); i++) {
        const bitlm_kernels *k = bitlm_kernel_table(i);
        names += (names.empty() ? "" : ", ") + std::string(k && k->name ? k->name : "?");
    }
    return names;
}

// --kernels NAME: that table, or the default when absent. 'list' prints the names and stops (exit 0).
bool pick_kernels(Args &args, const bitlm_kernels **out, bool *listed, Failure *f) {
    *out = nullptr;
    *listed = false;
    if (!args.has("kernels")) return true;
    const std::string name = args.get("kernels");
    if (name == "list") {
        printf("kernels: %s\ndefault: %s\n", kernel_names().c_str(), bitlm_default_kernels()->name);
        *listed = true;
        return false;
    }
    for (uint32_t i = 0; i < bitlm_kernel_table_count(); i++) {
        const bitlm_kernels *k = bitlm_kernel_table(i);
        if (k && k->name && name == k->name) {
            *out = k;
            return true;
        }
    }
    *f = usage("unknown --kernels '" + name + "' (this build and CPU have: " + kernel_names() + ")");
    return false;
}

bool one_model_arg(Args &args, const char *cmd, size_t n_positional, Failure *f) {
    const auto &pos = args.positional();
    if (pos.empty()) {
        *f = usage(std::string(cmd) + ": no model given (see 'bitlm_run " + cmd + " --help')");
        return false;
    }
    if (pos.size() < n_positional) {
        *f = usage(std::string(cmd) + ": missing argument (see 'bitlm_run " + cmd + " --help')");
        return false;
    }
    if (pos.size() > n_positional) {
        *f = usage(std::string(cmd) + ": unexpected argument '" + pos[n_positional] + "'");
        return false;
    }
    return true;
}

// ---- generate -----------------------------------------------------------------------------------

struct Streamer {
    bitlm_model *model;
    uint32_t generated = 0;
};

int on_token(void *user, int32_t token) {
    Streamer *s = static_cast<Streamer *>(user);
    char buf[64];
    const uint32_t n = bitlm_decode_token(s->model, token, buf, sizeof buf);
    if (n) fwrite(buf, 1, n, stdout);
    fflush(stdout);
    s->generated++;
    return 0;
}

int cmd_generate(int argc, char **argv) {
    Args args;
    args.option("--prompt").option("--prompt-ids").option("-n").option("--temperature").option("--top-k");
    args.option("--top-p").option("--seed").option("--ctx").option("--threads").option("--arena-bytes");
    args.option("--kernels");
    args.flag("--no-repack");
    if (!args.parse(argc, argv, 2)) return report(usage(args.error()));
    if (args.has("help")) return fputs(kGenerateHelp, stdout), 0;
    Failure f;
    const bitlm_kernels *kernels = nullptr;
    bool listed = false;
    if (!pick_kernels(args, &kernels, &listed, &f)) return listed ? 0 : report(f);
    if (!one_model_arg(args, "generate", 1, &f)) return report(f);
    const uint32_t n_new = args.get_u32("n", 32, 0, 1u << 30);
    bitlm_sampling sampling;
    memset(&sampling, 0, sizeof sampling);
    sampling.temperature = (float)args.get_f64("temperature", 0.0, 0.0, 1e6);
    sampling.top_k = args.get_u32("top-k", 0);
    sampling.top_p = (float)args.get_f64("top-p", 1.0, 0.0, 1.0);
    sampling.seed = args.get_u64("seed", 0);
    const unsigned threads = get_threads(args);
    const uint64_t arena_override = args.get_u64("arena-bytes", 0, 1);
    const std::vector<int64_t> ids = args.get_int_list("prompt-ids");
    if (!args.ok()) return report(usage(args.error()));
    if (args.has("prompt") && args.has("prompt-ids")) return report(usage("give --prompt or --prompt-ids, not both"));
    if (!args.has("prompt") && !args.has("prompt-ids")) return report(usage("generate: give --prompt TEXT"));

    Loaded l;
    if (!read_model_file(args.positional()[0], &l, &f)) return report(f);
    l.kernels = kernels;
    l.repack = !args.has("no-repack");
    const bitlm_config cfg = l.info.config;
    uint32_t ctx = 0;
    if (!pick_context(args, cfg, &ctx, &f)) return report(f);
    if (!open_model(&l, ctx, std::min<uint32_t>(ctx, 64), threads, arena_override, &f)) return report(f);

    std::vector<int32_t> prompt;
    if (args.has("prompt-ids")) {
        for (int64_t id : ids) {
            if (id >= (int64_t)cfg.vocab_size)
                return report(failed("token id " + std::to_string(id) + " in --prompt-ids is out of range (vocab " +
                                     std::to_string(cfg.vocab_size) + ")"));
            prompt.push_back((int32_t)id);
        }
    } else {
        const std::string text = args.get("prompt");
        prompt.resize(text.size() + 16);
        uint32_t n = 0;
        bitlm_status st = bitlm_encode(l.model, text.data(), text.size(), prompt.data(), (uint32_t)prompt.size(), &n);
        if (st == BITLM_ERR_BUFFER_TOO_SMALL && n > prompt.size()) {
            prompt.resize(n);
            st = bitlm_encode(l.model, text.data(), text.size(), prompt.data(), n, &n);
        }
        if (st != BITLM_OK) return report(failed(std::string("cannot tokenize the prompt: ") + bitlm_status_message(st)));
        prompt.resize(n);
    }
    if (prompt.empty()) return report(usage("the prompt is empty: generation needs at least one prompt token"));
    if (prompt.size() > ctx)
        return report(failed("prompt is " + std::to_string(prompt.size()) + " tokens but the context holds " +
                             std::to_string(ctx)));

    // The prompt as the model sees it, then each token as it is sampled.
    for (int32_t t : prompt) {
        char buf[64];
        const uint32_t n = bitlm_decode_token(l.model, t, buf, sizeof buf);
        if (n) fwrite(buf, 1, n, stdout);
    }
    fflush(stdout);
    Streamer streamer{l.model};
    uint64_t checksum = BITLM_CHECKSUM_INIT;
    const double start = host::seconds();
    const bitlm_status st = bitlm_generate(l.model, prompt.data(), (uint32_t)prompt.size(), n_new, &sampling, on_token,
                                           &streamer, &checksum);
    const double elapsed = host::seconds() - start;
    printf("\n");
    fflush(stdout);
    if (st != BITLM_OK) return report(failed(std::string("generation failed: ") + bitlm_status_message(st)));
    printf("logits-checksum: %016llx\n", (unsigned long long)checksum);
    fflush(stdout);
    if (streamer.generated < n_new)
        fprintf(stderr, "bitlm_run: note: the context (%u tokens) filled after %u generated tokens\n", ctx,
                streamer.generated);
    fprintf(stderr, "bitlm_run: %u prompt + %u generated tokens in %.3f s, %u thread%s\n", (unsigned)prompt.size(),
            streamer.generated, elapsed, l.threads, l.threads == 1 ? "" : "s");
    return 0;
}

// ---- eval ---------------------------------------------------------------------------------------

int cmd_eval(int argc, char **argv) {
    Args args;
    args.option("--ctx").option("--max-bytes").option("--skip-bytes").option("--threads").option("--kernels");
    args.flag("--no-repack");
    if (!args.parse(argc, argv, 2)) return report(usage(args.error()));
    if (args.has("help")) return fputs(kEvalHelp, stdout), 0;
    Failure f;
    const bitlm_kernels *kernels = nullptr;
    bool listed = false;
    if (!pick_kernels(args, &kernels, &listed, &f)) return listed ? 0 : report(f);
    if (!one_model_arg(args, "eval", 2, &f)) return report(f);
    const unsigned threads = get_threads(args);
    const uint64_t max_bytes = args.get_u64("max-bytes", 0, 1);
    const uint64_t skip_bytes = args.get_u64("skip-bytes", 0);
    if (!args.ok()) return report(usage(args.error()));

    Loaded l;
    if (!read_model_file(args.positional()[0], &l, &f)) return report(f);
    l.kernels = kernels;
    l.repack = !args.has("no-repack");
    host::AlignedBuffer text;
    const std::string err = host::read_file(args.positional()[1], &text);
    if (!err.empty()) return report(failed(err));
    const bitlm_config cfg = l.info.config;
    uint32_t ctx = 0;
    if (!pick_context(args, cfg, &ctx, &f)) return report(f);
    if (ctx < 2) return report(usage("--ctx must be at least 2 to evaluate"));
    if (!open_model(&l, ctx, std::min<uint32_t>(ctx, 128), threads, 0, &f)) return report(f);

    EvalResult r;
    if (skip_bytes >= text.size())
        return report(usage("--skip-bytes " + std::to_string(skip_bytes) + " leaves nothing of the " +
                            std::to_string(text.size()) + "-byte text"));
    const std::string e =
        eval_text(l.model, text.data() + skip_bytes, text.size() - skip_bytes, ctx, max_bytes, true, &r);
    if (!e.empty()) return report(failed(e));
    printf("model: %s\n", l.path.c_str());
    printf("text: %s\n", args.positional()[1].c_str());
    printf("context: %u\n", ctx);
    printf("tokens: %llu\n", (unsigned long long)r.tokens);
    printf("predicted_bytes: %llu\n", (unsigned long long)r.predicted_bytes);
    printf("windows: %llu\n", (unsigned long long)r.windows);
    printf("threads: %u\n", l.threads);
    printf("seconds: %.3f\n", r.seconds);
    printf("tok_s: %.1f\n", r.tokens_per_second());
    printf("bits: %.6f\n", r.bits);
    printf("bpb: %.6f\n", r.bpb());
    return 0;
}

// ---- bench --------------------------------------------------------------------------------------

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int cmd_bench(int argc, char **argv) {
    Args args;
    args.option("--threads").option("--prompt-len").option("--decode").option("--repeat").option("--ctx");
    args.option("--kernels");
    args.flag("--no-repack");
    if (!args.parse(argc, argv, 2)) return report(usage(args.error()));
    if (args.has("help")) return fputs(kBenchHelp, stdout), 0;
    Failure f;
    const bitlm_kernels *kernels = nullptr;
    bool listed = false;
    if (!pick_kernels(args, &kernels, &listed, &f)) return listed ? 0 : report(f);
    if (!one_model_arg(args, "bench", 1, &f)) return report(f);
    const unsigned threads = get_threads(args);
    const uint32_t prompt_len = args.get_u32("prompt-len", 128, 1, 1u << 20);
    const uint32_t n_decode = args.get_u32("decode", 64, 0, 1u << 20);
    const uint32_t repeat = args.get_u32("repeat", 3, 1, 1000);
    if (!args.ok()) return report(usage(args.error()));

    Loaded l;
    if (!read_model_file(args.positional()[0], &l, &f)) return report(f);
    l.kernels = kernels;
    l.repack = !args.has("no-repack");
    const bitlm_config cfg = l.info.config;
    uint32_t ctx = 0;
    if (!pick_context(args, cfg, &ctx, &f)) return report(f);
    if ((uint64_t)prompt_len + n_decode > ctx)
        return report(usage("--prompt-len " + std::to_string(prompt_len) + " + --decode " + std::to_string(n_decode) +
                            " tokens do not fit in the context of " + std::to_string(ctx)));
    if (!open_model(&l, ctx, prompt_len, threads, 0, &f)) return report(f);

    // A fixed pseudo-random prompt (the model's speed does not depend on the text).
    std::vector<int32_t> prompt(prompt_len);
    bitlm_rng rng;
    bitlm_rng_seed(&rng, 12345);
    const uint32_t ids = cfg.vocab_size < 256 ? cfg.vocab_size : 256;
    for (uint32_t i = 0; i < prompt_len; i++) prompt[i] = (int32_t)(bitlm_rng_next_u32(&rng) % ids);
    bitlm_sampling greedy;
    memset(&greedy, 0, sizeof greedy);

    std::vector<double> prefill_s, decode_s;
    for (uint32_t r = 0; r < repeat; r++) {
        bitlm_reset(l.model);
        double t0 = host::seconds();
        bitlm_status st = bitlm_feed(l.model, prompt.data(), prompt_len, nullptr, nullptr);
        const double t1 = host::seconds();
        if (st != BITLM_OK) return report(failed(std::string("prefill failed: ") + bitlm_status_message(st)));
        prefill_s.push_back(t1 - t0);
        t0 = host::seconds();
        for (uint32_t i = 0; i < n_decode; i++) {
            int32_t tok = 0;
            st = bitlm_sample(l.model, &greedy, &rng, &tok);
            if (st == BITLM_OK) st = bitlm_feed(l.model, &tok, 1, nullptr, nullptr);
            if (st != BITLM_OK) return report(failed(std::string("decode failed: ") + bitlm_status_message(st)));
        }
        decode_s.push_back(host::seconds() - t0);
        fprintf(stderr, "bitlm_run: bench run %u/%u: prefill %.1f tok/s, decode %.1f tok/s\n", r + 1, repeat,
                prompt_len / prefill_s.back(), n_decode ? n_decode / decode_s.back() : 0.0);
    }
    const double pre = median(prefill_s), dec = median(decode_s);
    const bitlm_kernels *k = l.kernels ? l.kernels : bitlm_default_kernels();
    printf("model: %s\n", l.path.c_str());
    printf("prompt_len: %u\n", prompt_len);
    printf("decode_tokens: %u\n", n_decode);
    printf("repeat: %u\n", repeat);
    printf("context: %u\n", ctx);
    printf("prefill_ms: %.3f\n", pre * 1e3);
    printf("prefill_tok_s: %.1f\n", pre > 0 ? prompt_len / pre : 0.0);
    printf("decode_ms_per_tok: %.3f\n", n_decode ? dec * 1e3 / n_decode : 0.0);
    printf("decode_tok_s: %.1f\n", n_decode && dec > 0 ? n_decode / dec : 0.0);
    printf("arena_bytes: %zu\n", l.arena_bytes);
    printf("repack_bytes: %zu\n", l.repacked.size());  // the 2-bit weight copy; 0: the artifact's base 3
    printf("artifact_bytes: %zu\n", l.file.size());
    printf("threads: %u\n", l.threads);
    printf("kernels: %s\n", k && k->name ? k->name : "?");
    return 0;
}

// ---- info ---------------------------------------------------------------------------------------

const char *enum_name(uint32_t v, std::initializer_list<const char *> names) {
    return v < names.size() ? names.begin()[v] : "unknown";
}

std::string token_id_text(uint32_t id) { return id == kNoToken ? "none" : std::to_string(id); }

int cmd_info(int argc, char **argv) {
    Args args;
    args.option("--ctx");
    if (!args.parse(argc, argv, 2)) return report(usage(args.error()));
    if (args.has("help")) return fputs(kInfoHelp, stdout), 0;
    Failure f;
    if (!one_model_arg(args, "info", 1, &f)) return report(f);

    Loaded l;
    if (!read_model_file(args.positional()[0], &l, &f)) return report(f);
    const ArtifactInfo &info = l.info;
    const bitlm_config &c = info.config;
    uint32_t ctx = 0;
    if (!pick_context(args, c, &ctx, &f)) return report(f);

    printf("model: %s\n", l.path.c_str());
    printf("format_version: %u\n", info.version);
    printf("checksum: %08x\n", info.checksum);
    printf("vocab_size: %u\n", c.vocab_size);
    printf("dim: %u\n", c.dim);
    printf("n_layers: %u\n", c.n_layers);
    printf("n_heads: %u\n", c.n_heads);
    printf("n_kv_heads: %u\n", c.n_kv_heads);
    printf("head_dim: %u\n", c.head_dim);
    printf("ffn_dim: %u\n", c.ffn_dim);
    printf("max_seq_len: %u\n", c.max_seq_len);
    printf("ffn_kind: %s\n", enum_name(c.ffn_kind, {"relu2", "swiglu"}));
    printf("norm_kind: %s\n", enum_name(c.norm_kind, {"rmsnorm", "none"}));
    printf("norm_placement: %s\n", enum_name(c.norm_placement, {"pre", "subln"}));
    printf("attn_kind: %s\n", enum_name(c.attn_kind, {"softmax", "gumbel-hardmax", "soft-pointer"}));
    printf("pos_kind: %s\n", enum_name(c.pos_kind, {"rope", "alibi"}));
    printf("act_kind: %s\n", enum_name(c.act_kind, {"int8", "binary"}));
    printf("head_kind: %s\n", enum_name(c.head_kind, {"tied", "separate"}));
    printf("rope_theta: %g\n", (double)c.rope_theta);
    printf("norm_eps: %g\n", (double)c.norm_eps);
    printf("tokenizer: %s\n", enum_name(info.tokenizer.kind, {"bytes", "bpe"}));
    printf("tokenizer_vocab: %u\n", info.tokenizer.vocab_size);
    printf("bos_id: %s\n", token_id_text(info.tokenizer.bos_id).c_str());
    printf("eos_id: %s\n", token_id_text(info.tokenizer.eos_id).c_str());
    printf("tokenizer_bytes: %u\n", info.tokenizer.data_bytes);
    printf("tensors: %u\n", info.tensor_count);

    const std::vector<TensorSize> tensors = artifact_tensors(info);
    printf("\n  %-14s %5s %-8s %13s %-7s %8s %12s\n", "role", "layer", "dtype", "shape", "scale", "scales", "bytes");
    for (uint32_t i = 0; i < info.tensor_count; i++) {
        const TensorEntry e = tensor_entry(info, i);
        char shape[40];
        snprintf(shape, sizeof shape, "%ux%u", e.rows, e.cols);
        char scale[24];
        if (e.scale_kind == ScaleKind::Group)
            snprintf(scale, sizeof scale, "group%u", e.group_size);
        else
            snprintf(scale, sizeof scale, "%s", scale_kind_name(e.scale_kind));
        char layer[16];
        if (tensor_role_is_per_layer(e.role))
            snprintf(layer, sizeof layer, "%u", e.layer);
        else
            snprintf(layer, sizeof layer, "-");
        printf("  %-14s %5s %-8s %13s %-7s %8u %12llu\n", tensor_role_name(e.role), layer, dtype_name(e.dtype), shape,
               scale, e.scale_count, (unsigned long long)(e.data_bytes + 2ull * e.scale_count));
    }
    printf("\n");
    print_size_breakdown(stdout, size_breakdown(tensors, info.size));

    bitlm_open_options opt;
    memset(&opt, 0, sizeof opt);
    opt.context_len = ctx;
    opt.max_batch = 1;
    size_t arena = 0;
    const bitlm_status st = bitlm_arena_bytes_for_config(&c, &opt, &arena);
    printf("context_len: %u\n", ctx);
    if (st == BITLM_OK) {
        printf("arena_bytes: %zu\n", arena);
        opt.flags = BITLM_OPEN_GREEDY_ONLY;  // what a greedy-only firmware needs (no sampler scratch)
        if (bitlm_arena_bytes_for_config(&c, &opt, &arena) == BITLM_OK) printf("arena_bytes_greedy: %zu\n", arena);
    } else {
        printf("arena_bytes: unavailable (%s)\n", bitlm_status_message(st));
    }
    return 0;
}

int run(int argc, char **argv) {
    if (argc < 2) return report(usage("no command given (commands: generate, eval, bench, info; see --help)"));
    const std::string cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") return fputs(kHelp, stdout), 0;
    if (cmd == "--version") return printf("%s\n", bitlm_version()), 0;
    if (cmd == "generate") return cmd_generate(argc, argv);
    if (cmd == "eval") return cmd_eval(argc, argv);
    if (cmd == "bench") return cmd_bench(argc, argv);
    if (cmd == "info") return cmd_info(argc, argv);
    return report(usage("unknown command '" + cmd + "' (commands: generate, eval, bench, info; see --help)"));
}

}  // namespace

int main(int argc, char **argv) {
    try {
        return run(argc, argv);
    } catch (const std::bad_alloc &) {
        fprintf(stderr, "bitlm_run: out of memory\n");
    } catch (const std::exception &e) {
        fprintf(stderr, "bitlm_run: %s\n", e.what());
    }
    return 1;
}
