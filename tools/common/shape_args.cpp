// shape_args.cpp — shared shape and storage flags over a preset (shape_args.h).
#include "common/shape_args.h"

namespace bitlm {
namespace tools {

const char *const kShapeHelp =
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
    "  --head-dtype ternary|binary|int8|f16   the separate head's storage\n";

void add_shape_options(Args &args) {
    args.option("--vocab").option("--dim").option("--layers").option("--heads").option("--kv-heads");
    args.option("--head-dim").option("--ffn").option("--ffn-kind").option("--ctx").option("--norm-placement");
    args.option("--head").option("--weights").option("--scale").option("--group-size").option("--embedding");
    args.option("--head-dtype").option("--rope-theta").option("--norm-eps");
}

std::string apply_shape_options(Args &args, bitlm_config *config, StorageRecipe *storage) {
    bitlm_config &c = *config;
    StorageRecipe &s = *storage;
    const uint32_t kMax = 1u << 24;
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
    if (!args.ok()) return args.error();

    if (args.has("head-dim")) {
        c.head_dim = args.get_u32("head-dim", c.head_dim, 2, kMax);
        if (!args.ok()) return args.error();
    } else if (args.has("dim") || args.has("heads")) {
        if (c.dim % c.n_heads != 0)
            return "dim " + std::to_string(c.dim) + " is not divisible by heads " + std::to_string(c.n_heads) +
                   "; give --head-dim";
        c.head_dim = c.dim / c.n_heads;
    }
    if (ffn_kind >= 0) c.ffn_kind = ffn_kind == 0 ? BITLM_FFN_RELU2 : BITLM_FFN_SWIGLU;
    if (placement >= 0) c.norm_placement = placement == 0 ? BITLM_NORM_PLACE_PRE : BITLM_NORM_PLACE_SUBLN;
    if (head >= 0) c.head_kind = head == 0 ? BITLM_HEAD_TIED : BITLM_HEAD_SEPARATE;
    if (weights >= 0) s.linear_dtype = weights == 0 ? DType::Ternary : DType::Binary;
    if (scale >= 0) s.linear_scale = scale == 0 ? ScaleKind::Tensor : scale == 1 ? ScaleKind::Row : ScaleKind::Group;
    if (args.has("group-size")) {
        if (scale >= 0 && scale != 2) return "--group-size goes with --scale group";
        s.linear_scale = ScaleKind::Group;
    }
    if (s.linear_scale == ScaleKind::Group) {
        if (group_size % kGroupMultiple != 0)
            return "--group-size must be a multiple of " + std::to_string(kGroupMultiple) + ", got " +
                   std::to_string(group_size);
        s.group_size = s.group_size && !args.has("group-size") ? s.group_size : group_size;
    }
    if (embedding >= 0) s.embedding_dtype = embedding == 0 ? DType::Int8 : DType::F16;
    if (head_dtype >= 0) {
        const DType d[] = {DType::Ternary, DType::Binary, DType::Int8, DType::F16};
        s.head_dtype = d[head_dtype];
        if (c.head_kind != BITLM_HEAD_SEPARATE) return "--head-dtype applies to a separate head; add --head separate";
    }
    return "";
}

const char *ffn_kind_name(uint32_t k) { return k == BITLM_FFN_SWIGLU ? "swiglu" : k == BITLM_FFN_RELU2 ? "relu2" : "?"; }
const char *norm_placement_name(uint32_t k) {
    return k == BITLM_NORM_PLACE_SUBLN ? "subln" : k == BITLM_NORM_PLACE_PRE ? "pre" : "?";
}

std::string describe_shape(const bitlm_config &c) {
    char buf[256];
    snprintf(buf, sizeof buf, "vocab %u, dim %u, layers %u, heads %u/%u, head_dim %u, ffn %u %s, ctx %u, norm %s, head %s",
             c.vocab_size, c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_dim, ffn_kind_name(c.ffn_kind),
             c.max_seq_len, norm_placement_name(c.norm_placement),
             c.head_kind == BITLM_HEAD_SEPARATE ? "separate" : "tied");
    return buf;
}

std::string describe_storage(const bitlm_config &c, const StorageRecipe &s) {
    std::string out = std::string(dtype_name(s.linear_dtype)) + " weights, " + scale_kind_name(s.linear_scale) + " scales";
    if (s.linear_scale == ScaleKind::Group) out += " (group " + std::to_string(s.group_size) + ")";
    out += std::string(", ") + dtype_name(s.embedding_dtype) + " embedding";
    if (c.head_kind == BITLM_HEAD_SEPARATE) out += std::string(", ") + dtype_name(s.head_dtype) + " head";
    return out;
}

}  // namespace tools
}  // namespace bitlm
