// bitlm_pack.cpp — write .blm artifacts: random-weight models of any shape today; trained
// checkpoints once bitlm_train lands. Prints the size breakdown and bits per weight, and refuses
// to write past a --max-bytes budget.
#include <stdio.h>
#include <string.h>
#include <exception>
#include <string>
#include <thread>
#include "common/args.h"
#include "common/random_model.h"
#include "host/clock.h"
#include "model/presets.h"

using namespace bitlm;
using namespace bitlm::tools;

namespace {

const char *kHelp =
    "usage: bitlm_pack --random --preset NAME -o MODEL.blm [options]\n"
    "       bitlm_pack CHECKPOINT -o MODEL.blm [--max-bytes N]   (comes with bitlm_train)\n"
    "       bitlm_pack --list-presets\n"
    "\n"
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
    "shape overrides (any shape; defaults come from the preset):\n"
    "  --vocab N              vocabulary size (byte tokenizer: >= 256)\n"
    "  --dim N                residual width\n"
    "  --layers N             transformer blocks\n"
    "  --heads N              attention heads\n"
    "  --kv-heads N           key/value heads (must divide --heads)\n"
    "  --head-dim N           per-head width (even); default dim / heads\n"
    "  --ffn N                FFN hidden width\n"
    "  --ffn-kind relu2|swiglu\n"
    "  --ctx N                max_seq_len, the longest context\n"
    "  --norm-placement pre|subln   subln adds a norm before the attention output and FFN down projections\n"
    "  --head tied|separate   output head tied to the embedding, or its own matrix\n"
    "  --rope-theta X         RoPE base (default 10000)\n"
    "  --norm-eps X           RMSNorm epsilon (default 1e-5)\n"
    "\n"
    "storage overrides:\n"
    "  --weights ternary|binary      BitLinear weights: ternary 1.6 bits (base 3), binary 1 bit\n"
    "  --scale tensor|row|group      scale layout of the BitLinear weights (binary: tensor or row)\n"
    "  --group-size N                weights per scale for --scale group (multiple of 32; default 64;\n"
    "                                giving it implies --scale group)\n"
    "  --embedding int8|f16          token embedding rows\n"
    "  --head-dtype ternary|binary|int8|f16   the separate head's storage\n"
    "  --norm-jitter X               random norm gains 1 + X*N(0,1) (default 0.1; 0 = all ones)\n"
    "\n"
    "exit status: 0 written, 1 failure (one line on stderr), 2 bad usage.\n";

int usage_error(const std::string &msg) {
    fprintf(stderr, "bitlm_pack: %s\n", msg.c_str());
    return 2;
}

int failure(const std::string &msg) {
    fprintf(stderr, "bitlm_pack: %s\n", msg.c_str());
    return 1;
}

const char *ffn_name(uint32_t k) { return k == BITLM_FFN_SWIGLU ? "swiglu" : k == BITLM_FFN_RELU2 ? "relu2" : "?"; }
const char *placement_name(uint32_t k) {
    return k == BITLM_NORM_PLACE_SUBLN ? "subln" : k == BITLM_NORM_PLACE_PRE ? "pre" : "?";
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
                heads, c.ffn_dim, ffn_name(c.ffn_kind), c.max_seq_len, placement_name(c.norm_placement),
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

int run(int argc, char **argv) {
    Args args;
    args.option("-o,--output").flag("--random").option("--preset").option("--seed").option("--max-bytes");
    args.flag("--list-presets");
    args.option("--vocab").option("--dim").option("--layers").option("--heads").option("--kv-heads");
    args.option("--head-dim").option("--ffn").option("--ffn-kind").option("--ctx").option("--norm-placement");
    args.option("--head").option("--weights").option("--scale").option("--group-size").option("--embedding");
    args.option("--head-dtype").option("--rope-theta").option("--norm-eps").option("--norm-jitter");
    args.option("--threads");
    if (!args.parse(argc, argv, 1)) return usage_error(args.error());
    if (args.has("help")) {
        fputs(kHelp, stdout);
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
        fprintf(stderr,
                "bitlm_pack: packing a checkpoint ('%s') comes with bitlm_train, which is not built yet; "
                "use --random --preset NAME for a random-weight artifact\n",
                args.positional()[0].c_str());
        return 2;
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
    const uint32_t kMax = 1u << 24;
    spec.seed = args.get_u64("seed", 1);
    const uint64_t max_bytes = args.get_u64("max-bytes", 0, 1);
    c.vocab_size = args.get_u32("vocab", c.vocab_size, 256, kMax);
    c.dim = args.get_u32("dim", c.dim, 1, kMax);
    c.n_layers = args.get_u32("layers", c.n_layers, 1, 65535);
    c.n_heads = args.get_u32("heads", c.n_heads, 1, 65535);
    // Without --kv-heads, keep the preset's grouping when it still divides the heads, else one kv per head.
    const uint32_t kv_default = c.n_heads % c.n_kv_heads == 0 ? c.n_kv_heads : c.n_heads;
    c.n_kv_heads = args.get_u32("kv-heads", kv_default, 1, 65535);
    c.ffn_dim = args.get_u32("ffn", c.ffn_dim, 1, kMax);
    c.max_seq_len = args.get_u32("ctx", c.max_seq_len, 1, kMax);
    const int ffn_kind = args.get_choice("ffn-kind", "relu2,swiglu", -1);
    const int placement = args.get_choice("norm-placement", "pre,subln", -1);
    const int head = args.get_choice("head", "tied,separate", -1);
    const int weights = args.get_choice("weights", "ternary,binary", -1);
    const int scale = args.get_choice("scale", "tensor,row,group", -1);
    const int embedding = args.get_choice("embedding", "int8,f16", -1);
    const int head_dtype = args.get_choice("head-dtype", "ternary,binary,int8,f16", -1);
    const uint32_t group_size = args.get_u32("group-size", 64, 32, kMax);
    c.rope_theta = (float)args.get_f64("rope-theta", c.rope_theta, 1.0, 1e9);
    c.norm_eps = (float)args.get_f64("norm-eps", c.norm_eps, 1e-12, 1.0);
    spec.norm_jitter = (float)args.get_f64("norm-jitter", spec.norm_jitter, 0.0, 10.0);
    const unsigned hw = std::thread::hardware_concurrency();
    spec.threads = args.get_u32("threads", hw ? hw : 1, 1, 4096);
    if (!args.ok()) return usage_error(args.error());

    if (args.has("head-dim")) {
        c.head_dim = args.get_u32("head-dim", c.head_dim, 2, kMax);
        if (!args.ok()) return usage_error(args.error());
    } else if (args.has("dim") || args.has("heads")) {
        if (c.dim % c.n_heads != 0)
            return usage_error("dim " + std::to_string(c.dim) + " is not divisible by heads " +
                               std::to_string(c.n_heads) + "; give --head-dim");
        c.head_dim = c.dim / c.n_heads;
    }
    if (ffn_kind >= 0) c.ffn_kind = ffn_kind == 0 ? BITLM_FFN_RELU2 : BITLM_FFN_SWIGLU;
    if (placement >= 0) c.norm_placement = placement == 0 ? BITLM_NORM_PLACE_PRE : BITLM_NORM_PLACE_SUBLN;
    if (head >= 0) c.head_kind = head == 0 ? BITLM_HEAD_TIED : BITLM_HEAD_SEPARATE;
    if (weights >= 0) s.linear_dtype = weights == 0 ? DType::Ternary : DType::Binary;
    if (scale >= 0) s.linear_scale = scale == 0 ? ScaleKind::Tensor : scale == 1 ? ScaleKind::Row : ScaleKind::Group;
    if (args.has("group-size")) {
        if (scale >= 0 && scale != 2) return usage_error("--group-size goes with --scale group");
        s.linear_scale = ScaleKind::Group;
    }
    if (s.linear_scale == ScaleKind::Group) {
        if (group_size % kGroupMultiple != 0)
            return usage_error("--group-size must be a multiple of " + std::to_string(kGroupMultiple) + ", got " +
                               std::to_string(group_size));
        s.group_size = s.group_size && !args.has("group-size") ? s.group_size : group_size;
    }
    if (embedding >= 0) s.embedding_dtype = embedding == 0 ? DType::Int8 : DType::F16;
    if (head_dtype >= 0) {
        const DType d[] = {DType::Ternary, DType::Binary, DType::Int8, DType::F16};
        s.head_dtype = d[head_dtype];
        if (c.head_kind != BITLM_HEAD_SEPARATE)
            return usage_error("--head-dtype applies to a separate head; add --head separate");
    }

    SizeBreakdown size;
    std::string err = random_model_size(spec, &size);
    if (!err.empty()) return failure(err);
    if (max_bytes && size.total > max_bytes) {
        fprintf(stderr, "bitlm_pack: artifact would be %llu bytes, over the budget of %llu bytes by %llu\n",
                (unsigned long long)size.total, (unsigned long long)max_bytes,
                (unsigned long long)(size.total - max_bytes));
        return 1;
    }

    printf("preset: %s\n", preset->name);
    printf("shape: vocab %u, dim %u, layers %u, heads %u/%u, head_dim %u, ffn %u %s, ctx %u, norm %s, head %s\n",
           c.vocab_size, c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_dim, ffn_name(c.ffn_kind),
           c.max_seq_len, placement_name(c.norm_placement), c.head_kind == BITLM_HEAD_SEPARATE ? "separate" : "tied");
    printf("storage: %s weights, %s scales", dtype_name(s.linear_dtype), scale_kind_name(s.linear_scale));
    if (s.linear_scale == ScaleKind::Group) printf(" (group %u)", s.group_size);
    printf(", %s embedding", dtype_name(s.embedding_dtype));
    if (c.head_kind == BITLM_HEAD_SEPARATE) printf(", %s head", dtype_name(s.head_dtype));
    printf("\nseed: %llu\n", (unsigned long long)spec.seed);
    fflush(stdout);

    Progress progress{host::seconds(), host::seconds()};
    err = write_random_model(spec, out_path, &size, report_progress, &progress);
    if (!err.empty()) return failure(err);
    print_size_breakdown(stdout, size);
    if (max_bytes)
        printf("budget_bytes: %llu (%llu to spare)\n", (unsigned long long)max_bytes,
               (unsigned long long)(max_bytes - size.total));
    printf("wrote: %s\n", out_path.c_str());
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
