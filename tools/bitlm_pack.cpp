// bitlm_pack.cpp — write .blm artifacts: a bitlm_train checkpoint's weights quantized and packed
// exactly as the trainer's forward pass used them, or random weights of any shape (tests, benchmarks).
// Prints the size breakdown and bits per weight, and refuses to write past a --max-bytes budget.
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <exception>
#include <string>
#include <thread>
#include "common/args.h"
#include "common/random_model.h"
#include "common/shape_args.h"
#include "train/checkpoint.h"
#include "train/model_meta.h"
#include "host/clock.h"
#include "model/presets.h"

using namespace bitlm;
using namespace bitlm::tools;

namespace {

const char *kHelp =
    "usage: bitlm_pack --random --preset NAME -o MODEL.blm [options]\n"
    "       bitlm_pack CHECKPOINT -o MODEL.blm [--max-bytes N]\n"
    "       bitlm_pack --list-presets\n"
    "\n"
    "CHECKPOINT is a bitlm_train checkpoint file (OUT/checkpoint.bin) or its directory.\n"
    "Writes a .blm artifact and prints its size breakdown: bytes per part (embeddings, attention,\n"
    "ffn, norms, scales, overhead), the total, and bits per BitLinear weight with and without scales.\n"
    "The file is written atomically (a temporary file renamed into place).\n"
    "\n"
    "  -o, --output FILE      the artifact to write\n"
    "  --random               random weights (deterministic for a seed), for tests and benchmarks\n"
    "  --preset NAME          model shape to start from (see --list-presets)\n"
    "  --seed S               PRNG seed for --random (default 1)\n"
    "  --max-bytes N          refuse (exit 1, nothing written) if the artifact would be over N bytes\n"
    "                         (the 16 MB class is --max-bytes 16000000)\n"
    "  --threads N            threads generating tensors (default: all cores; same bytes for any N)\n"
    "  --list-presets         print the preset table and exit\n"
    "  -h, --help             this help\n"
    "\n"
    "%s"
    "  --norm-jitter X               random norm gains 1 + X*N(0,1) (default 0.1; 0 = all ones)\n"
    "\n"
    "exit status: 0 written, 1 failure (one line on stderr), 2 bad usage.\n";

bool is_directory(const std::string &path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

int usage_error(const std::string &msg) {
    fprintf(stderr, "bitlm_pack: %s\n", msg.c_str());
    return 2;
}

int failure(const std::string &msg) {
    fprintf(stderr, "bitlm_pack: %s\n", msg.c_str());
    return 1;
}

void list_presets(FILE *out) {
    fprintf(out, "%-11s %5s %6s %5s %8s %5s %6s %6s %5s %13s  %s\n", "preset", "vocab", "dim", "layers",
            "heads/kv", "ffn", "kind", "ctx", "norm", "linear_params", "summary");
    for (uint32_t i = 0; i < preset_count(); i++) {
        const Preset *p = preset_at(i);
        const bitlm_config &c = p->config;
        char heads[32];
        snprintf(heads, sizeof heads, "%u/%u", c.n_heads, c.n_kv_heads);
        fprintf(out, "%-11s %5u %6u %6u %8s %5u %6s %6u %5s %13llu  %s\n", p->name, c.vocab_size, c.dim, c.n_layers,
                heads, c.ffn_dim, ffn_kind_name(c.ffn_kind), c.max_seq_len, norm_placement_name(c.norm_placement),
                (unsigned long long)linear_param_count(c), p->summary);
    }
}

struct Progress {
    double start, last;
};

void report_progress(void *user, uint32_t done, uint32_t total) {
    Progress *p = static_cast<Progress *>(user);
    const double now = host::seconds();
    if (now - p->last < 2.0 && done != total) return;
    if (now - p->start < 2.0) return;  // small models finish silently
    p->last = now;
    fprintf(stderr, "bitlm_pack: generated %u/%u tensors (%.1f s)\n", done, total, now - p->start);
}

bool over_budget(const SizeBreakdown &size, uint64_t max_bytes) {
    if (!max_bytes || size.total <= max_bytes) return false;
    fprintf(stderr, "bitlm_pack: artifact would be %llu bytes, over the budget of %llu bytes by %llu\n",
            (unsigned long long)size.total, (unsigned long long)max_bytes, (unsigned long long)(size.total - max_bytes));
    return true;
}

void print_written(const SizeBreakdown &size, uint64_t max_bytes, const std::string &path) {
    print_size_breakdown(stdout, size);
    if (max_bytes)
        printf("budget_bytes: %llu (%llu to spare)\n", (unsigned long long)max_bytes,
               (unsigned long long)(max_bytes - size.total));
    printf("wrote: %s\n", path.c_str());
}

// bitlm_pack CHECKPOINT -o MODEL.blm: the trained latent weights through the same quantizers the
// trainer's forward pass used (the library's), packed as the checkpoint's storage recipe says.
int pack_checkpoint(Args &args) {
    for (const char *flag : {"preset", "seed", "norm-jitter", "vocab", "dim", "layers", "heads", "kv-heads", "head-dim",
                             "ffn", "ffn-kind", "ctx", "norm-placement", "head", "weights", "scale", "group-size",
                             "embedding", "head-dtype", "rope-theta", "norm-eps"})
        if (args.has(flag))
            return usage_error(std::string("--") + flag + " does not apply to a checkpoint (its shape is fixed by training)");
    if (!args.has("output")) return usage_error("no output file: give -o MODEL.blm");
    const std::string out_path = args.get("output");
    const uint64_t max_bytes = args.get_u64("max-bytes", 0, 1);
    const unsigned hw = std::thread::hardware_concurrency();
    const unsigned threads = args.get_u32("threads", hw ? hw : 1, 1, 4096);
    if (!args.ok()) return usage_error(args.error());

    std::string path = args.positional()[0];
    if (is_directory(path)) path += "/checkpoint.bin";
    Checkpoint ckpt;
    std::string err = read_checkpoint(path, &ckpt);
    if (!err.empty()) return failure(err);
    TrainModelSpec spec;
    err = spec_from_meta(ckpt, &spec);
    if (!err.empty()) return failure("'" + path + "': " + err);
    if (check_train_spec(spec) != BITLM_OK) return failure("'" + path + "': the checkpoint's model configuration is invalid");

    RandomModelSpec sizing;  // only the shape and storage, for the size before packing
    sizing.config = spec.config;
    sizing.storage = spec.storage;
    SizeBreakdown size;
    err = random_model_size(sizing, &size);
    if (!err.empty()) return failure(err);
    if (over_budget(size, max_bytes)) return 1;

    // Every parameter must be there, at its size, before anything is packed.
    std::vector<const std::vector<float> *> weights;
    for (uint32_t i = 0; i < train_param_count(spec); i++) {
        const ParamInfo info = train_param_info(spec, i);
        const std::string name = "w." + param_name(info);
        const std::vector<float> *w = ckpt.find_array(name);
        if (!w || w->size() != (uint64_t)info.rows * info.cols)
            return failure("'" + path + "': parameter " + name + (w ? " has the wrong size" : " is missing"));
        weights.push_back(w);
    }
    const std::string *step = ckpt.find_meta("train.step");
    printf("checkpoint: %s (step %s)\n", path.c_str(), step ? step->c_str() : "?");
    printf("shape: %s\n", describe_shape(spec.config).c_str());
    printf("storage: %s\n", describe_storage(spec.config, spec.storage).c_str());
    if (spec.fp32) printf("note: trained in fp32 (no quantization); packing quantizes it after the fact\n");
    fflush(stdout);

    const ModelSource source = params_source(spec, threads, [&](uint32_t i) { return weights[i]->data(); });
    err = write_model(source, out_path, &size);
    if (!err.empty()) return failure(err);
    print_written(size, max_bytes, out_path);
    return 0;
}

int run(int argc, char **argv) {
    Args args;
    args.option("-o,--output").flag("--random").option("--preset").option("--seed").option("--max-bytes");
    args.flag("--list-presets");
    add_shape_options(args);
    args.option("--norm-jitter").option("--threads");
    if (!args.parse(argc, argv, 1)) return usage_error(args.error());
    if (args.has("help")) {
        printf(kHelp, kShapeHelp);
        return 0;
    }
    if (args.has("list-presets")) {
        list_presets(stdout);
        return 0;
    }

    if (!args.has("random")) {
        if (args.positional().empty())
            return usage_error("nothing to pack: give --random --preset NAME, or a checkpoint (see --help)");
        if (args.positional().size() > 1)
            return usage_error("one checkpoint at a time, got '" + args.positional()[1] + "' as well");
        return pack_checkpoint(args);
    }
    if (!args.positional().empty())
        return usage_error("unexpected argument '" + args.positional()[0] + "' with --random");
    if (!args.has("preset")) return usage_error("--random needs --preset NAME (see --list-presets)");
    const Preset *preset = find_preset(args.get("preset").c_str());
    if (!preset) return usage_error("unknown preset '" + args.get("preset") + "' (see --list-presets)");
    if (!args.has("output")) return usage_error("no output file: give -o MODEL.blm");
    const std::string out_path = args.get("output");

    RandomModelSpec spec;
    spec.config = preset->config;
    spec.storage = preset->storage;
    bitlm_config &c = spec.config;
    StorageRecipe &s = spec.storage;
    spec.seed = args.get_u64("seed", 1);
    const uint64_t max_bytes = args.get_u64("max-bytes", 0, 1);
    spec.norm_jitter = (float)args.get_f64("norm-jitter", spec.norm_jitter, 0.0, 10.0);
    const unsigned hw = std::thread::hardware_concurrency();
    spec.threads = args.get_u32("threads", hw ? hw : 1, 1, 4096);
    if (!args.ok()) return usage_error(args.error());
    const std::string shape_err = apply_shape_options(args, &c, &s);
    if (!shape_err.empty()) return usage_error(shape_err);

    SizeBreakdown size;
    std::string err = random_model_size(spec, &size);
    if (!err.empty()) return failure(err);
    if (over_budget(size, max_bytes)) return 1;

    printf("preset: %s\n", preset->name);
    printf("shape: %s\n", describe_shape(c).c_str());
    printf("storage: %s\n", describe_storage(c, s).c_str());
    printf("seed: %llu\n", (unsigned long long)spec.seed);
    fflush(stdout);

    Progress progress{host::seconds(), host::seconds()};
    err = write_random_model(spec, out_path, &size, report_progress, &progress);
    if (!err.empty()) return failure(err);
    print_written(size, max_bytes, out_path);
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    try {
        return run(argc, argv);
    } catch (const std::bad_alloc &) {
        fprintf(stderr, "bitlm_pack: out of memory\n");
    } catch (const std::exception &e) {
        fprintf(stderr, "bitlm_pack: %s\n", e.what());
    }
    return 1;
}
