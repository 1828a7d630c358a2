// random_model.cpp — random-weight artifacts and artifact size breakdowns (see random_model.h).
#include "common/random_model.h"
#include <mutex>
#include <random>
#include "core/detmath.h"
#include "core/fp16.h"
#include "host/file_io.h"
#include "host/thread_pool.h"
#include "quant/quantize.h"
#include "tensor/binary_pack.h"
#include "tensor/ternary_pack.h"
#include "tensor/weights.h"

namespace bitlm {
namespace tools {

// ---- roles and sizes ----------------------------------------------------------------------------

bool role_is_attention(TensorRole r) {
    return r == TensorRole::Wq || r == TensorRole::Wk || r == TensorRole::Wv || r == TensorRole::Wo;
}
bool role_is_linear(TensorRole r) {
    return role_is_attention(r) || r == TensorRole::WGate || r == TensorRole::WUp || r == TensorRole::WDown;
}
bool role_is_norm(TensorRole r) {
    return r == TensorRole::FinalNorm || r == TensorRole::AttnNorm || r == TensorRole::AttnSubNorm ||
           r == TensorRole::FfnNorm || r == TensorRole::FfnSubNorm;
}

double SizeBreakdown::bits_per_weight() const {
    return linear_weights ? 8.0 * (double)linear_payload_bytes / (double)linear_weights : 0.0;
}
double SizeBreakdown::bits_per_weight_with_scales() const {
    return linear_weights ? 8.0 * (double)(linear_payload_bytes + linear_scale_bytes) / (double)linear_weights : 0.0;
}

SizeBreakdown size_breakdown(const std::vector<TensorSize> &tensors, uint64_t total_bytes) {
    SizeBreakdown b;
    for (const TensorSize &t : tensors) {
        const uint64_t scale_bytes = t.scale_count * 2;
        b.scales += scale_bytes;
        if (role_is_linear(t.role)) {
            (role_is_attention(t.role) ? b.attention : b.ffn) += t.data_bytes;
            b.linear_weights += (uint64_t)t.rows * t.cols;
            b.linear_payload_bytes += t.data_bytes;
            b.linear_scale_bytes += scale_bytes;
        } else if (role_is_norm(t.role)) {
            b.norms += t.data_bytes;
        } else {
            b.embeddings += t.data_bytes;
            b.embedding_weights += (uint64_t)t.rows * t.cols;
        }
    }
    b.total = total_bytes;
    const uint64_t parts = b.embeddings + b.attention + b.ffn + b.norms + b.scales;
    b.overhead = total_bytes > parts ? total_bytes - parts : 0;
    return b;
}

void print_size_breakdown(FILE *out, const SizeBreakdown &b) {
    const double total = b.total ? (double)b.total : 1.0;
    struct Part {
        const char *key;
        uint64_t bytes;
    } parts[] = {{"embeddings_bytes", b.embeddings}, {"attention_bytes", b.attention}, {"ffn_bytes", b.ffn},
                 {"norms_bytes", b.norms},           {"scales_bytes", b.scales},       {"overhead_bytes", b.overhead}};
    for (const Part &p : parts)
        fprintf(out, "%s: %llu (%.2f%%)\n", p.key, (unsigned long long)p.bytes,
                100.0 * (double)p.bytes / total);
    fprintf(out, "artifact_bytes: %llu\n", (unsigned long long)b.total);
    fprintf(out, "linear_params: %llu\n", (unsigned long long)b.linear_weights);
    fprintf(out, "embedding_params: %llu\n", (unsigned long long)b.embedding_weights);
    fprintf(out, "bits_per_weight: %.6f\n", b.bits_per_weight());
    fprintf(out, "bits_per_weight_with_scales: %.6f\n", b.bits_per_weight_with_scales());
}

// ---- planning -----------------------------------------------------------------------------------

namespace {

// File order of the tensors: embedding, then per layer, then final norm and head.
const TensorRole kGlobalRolesFirst[] = {TensorRole::TokEmbedding};
const TensorRole kLayerRoles[] = {TensorRole::AttnNorm, TensorRole::Wq,    TensorRole::Wk,
                                  TensorRole::Wv,       TensorRole::AttnSubNorm, TensorRole::Wo,
                                  TensorRole::FfnNorm,  TensorRole::WGate, TensorRole::WUp,
                                  TensorRole::FfnSubNorm, TensorRole::WDown};
const TensorRole kGlobalRolesLast[] = {TensorRole::FinalNorm, TensorRole::Head};

bool storage_for(const bitlm_config &config, const StorageRecipe &s, TensorRole role, DType *dtype,
                 ScaleKind *kind, uint32_t *group, std::string *err) {
    *group = 0;
    if (role_is_norm(role)) {
        *dtype = DType::F32;
        *kind = ScaleKind::None;
        return true;
    }
    if (role == TensorRole::TokEmbedding) {
        *dtype = s.embedding_dtype;
        if (s.embedding_dtype == DType::Int8) {
            *kind = ScaleKind::Row;
        } else if (s.embedding_dtype == DType::F16) {
            *kind = ScaleKind::None;
        } else {
            *err = std::string("the embedding must be int8 or f16, not ") + dtype_name(s.embedding_dtype);
            return false;
        }
        return true;
    }
    const bool head = role == TensorRole::Head;
    const DType d = head ? s.head_dtype : s.linear_dtype;
    *dtype = d;
    switch (d) {
        case DType::Ternary:
            *kind = s.linear_scale;
            if (*kind == ScaleKind::Group) *group = s.group_size;
            break;
        case DType::Binary:
            if (head) {
                *kind = s.linear_scale == ScaleKind::Tensor ? ScaleKind::Tensor : ScaleKind::Row;
            } else {
                if (s.linear_scale == ScaleKind::Group) {
                    *err = "binary weights take a per-tensor or per-row scale, not per-group";
                    return false;
                }
                *kind = s.linear_scale;
            }
            break;
        case DType::Int8:
            if (!head) {
                *err = "the BitLinear weights must be ternary or binary";
                return false;
            }
            *kind = ScaleKind::Row;
            break;
        case DType::F16:
            if (!head) {
                *err = "the BitLinear weights must be ternary or binary";
                return false;
            }
            *kind = ScaleKind::None;
            break;
        default:
            *err = std::string(head ? "the head" : "BitLinear weights") + " cannot be stored as " + dtype_name(d);
            return false;
    }
    if (*kind == ScaleKind::Group && (*group == 0 || *group % kGroupMultiple != 0)) {
        *err = "group size must be a positive multiple of " + std::to_string(kGroupMultiple) + ", got " +
               std::to_string(*group);
        return false;
    }
    if (!scale_kind_allowed(d, *kind)) {
        *err = std::string(dtype_name(d)) + " weights do not allow " + scale_kind_name(*kind) + " scales";
        return false;
    }
    return true;
}

bool add_role(const bitlm_config &config, const StorageRecipe &storage, TensorRole role, uint16_t layer,
              std::vector<TensorSize> *out, std::string *err) {
    if (!config_needs_role(config, role)) return true;
    TensorSize t;
    t.role = role;
    t.layer = layer;
    if (!storage_for(config, storage, role, &t.dtype, &t.scale_kind, &t.group_size, err)) return false;
    expected_shape(config, role, &t.rows, &t.cols);
    t.data_bytes = (uint64_t)t.rows * dtype_row_bytes(t.dtype, t.cols);
    t.scale_count = scale_count_for(t.scale_kind, t.rows, t.cols, t.group_size);
    out->push_back(t);
    return true;
}

}  // namespace

std::string plan_tensors(const bitlm_config &config, const StorageRecipe &storage, std::vector<TensorSize> *out) {
    out->clear();
    std::string err;
    for (TensorRole r : kGlobalRolesFirst)
        if (!add_role(config, storage, r, 0, out, &err)) return err;
    for (uint32_t l = 0; l < config.n_layers; l++)
        for (TensorRole r : kLayerRoles)
            if (!add_role(config, storage, r, (uint16_t)l, out, &err)) return err;
    for (TensorRole r : kGlobalRolesLast)
        if (!add_role(config, storage, r, 0, out, &err)) return err;
    return "";
}

std::vector<TensorSize> artifact_tensors(const ArtifactInfo &info) {
    std::vector<TensorSize> out;
    for (uint32_t i = 0; i < info.tensor_count; i++) {
        const TensorEntry e = tensor_entry(info, i);
        out.push_back({e.role, e.layer, e.dtype, e.scale_kind, e.rows, e.cols, e.group_size, e.data_bytes,
                       e.scale_count});
    }
    return out;
}

TokenizerSpec byte_tokenizer_spec() {
    TokenizerSpec t;
    t.kind = BITLM_TOKENIZER_BYTES;
    t.bos_id = kNoToken;
    t.eos_id = kNoToken;
    t.data = nullptr;
    t.data_bytes = 0;
    return t;
}

std::string check_random_spec(const RandomModelSpec &spec) {
    const bitlm_config &c = spec.config;
    if (c.vocab_size < 256) return "vocab " + std::to_string(c.vocab_size) + " is too small for the byte tokenizer (>= 256)";
    if (c.dim == 0) return "dim must be positive";
    if (c.n_layers == 0) return "layers must be positive";
    if (c.n_heads == 0 || c.n_kv_heads == 0) return "heads and kv-heads must be positive";
    if (c.n_heads % c.n_kv_heads != 0)
        return "kv-heads (" + std::to_string(c.n_kv_heads) + ") must divide heads (" + std::to_string(c.n_heads) + ")";
    if (c.head_dim == 0 || c.head_dim % 2 != 0)
        return "head-dim must be a positive even number (RoPE rotates pairs), got " + std::to_string(c.head_dim);
    if (c.ffn_dim == 0) return "ffn must be positive";
    if (c.max_seq_len == 0) return "ctx must be positive";
    const bitlm_status st = validate_config(c);
    if (st != BITLM_OK) return std::string("invalid configuration: ") + bitlm_status_message(st);
    std::vector<TensorSize> plan;
    return plan_tensors(c, spec.storage, &plan);
}

// ---- sizing -------------------------------------------------------------------------------------

namespace {

std::vector<TensorSpec> specs_for(const std::vector<TensorSize> &plan) {
    // No payload pointers: artifact_size only computes the layout.
    std::vector<TensorSpec> specs;
    for (const TensorSize &t : plan) {
        TensorSpec s;
        s.role = t.role;
        s.layer = t.layer;
        s.dtype = t.dtype;
        s.scale_kind = t.scale_kind;
        s.rows = t.rows;
        s.cols = t.cols;
        s.group_size = t.group_size;
        s.data = nullptr;
        s.scales = nullptr;
        specs.push_back(s);
    }
    return specs;
}

std::string status_text(const char *what, bitlm_status st) { return std::string(what) + ": " + bitlm_status_message(st); }

}  // namespace

std::string random_model_size(const RandomModelSpec &spec, SizeBreakdown *out) {
    std::string err = check_random_spec(spec);
    if (!err.empty()) return err;
    std::vector<TensorSize> plan;
    err = plan_tensors(spec.config, spec.storage, &plan);
    if (!err.empty()) return err;
    const std::vector<TensorSpec> specs = specs_for(plan);
    uint64_t total = 0;
    const bitlm_status st =
        artifact_size(spec.config, byte_tokenizer_spec(), specs.data(), (uint32_t)specs.size(), &total);
    if (st != BITLM_OK) return status_text("cannot lay out the artifact", st);
    if (out) *out = size_breakdown(plan, total);
    return "";
}

// ---- generation ---------------------------------------------------------------------------------

namespace {

uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// Standard normals from mt19937_64 by Box-Muller in float with the library's deterministic math.
class Gaussian {
public:
    explicit Gaussian(uint64_t seed) : rng_(seed) {}
    float next() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const uint64_t bits = rng_();
        const float u1 = (float)((bits >> 40) + 1) * (1.0f / 16777216.0f);         // (0, 1]
        const float u2 = (float)((bits >> 16) & 0xffffffu) * (1.0f / 16777216.0f);  // [0, 1)
        const float r = det_sqrtf(-2.0f * det_logf(u1));
        float s, c;
        det_sincosf(6.2831853071795864f * u2, &s, &c);
        spare_ = r * s;
        has_spare_ = true;
        return r * c;
    }

private:
    std::mt19937_64 rng_;
    float spare_ = 0.0f;
    bool has_spare_ = false;
};

struct PackedTensor {
    TensorSize size;
    std::vector<uint8_t> data;
    std::vector<uint16_t> scales;
};

float init_std(const RandomModelSpec &spec, const TensorSize &t) {
    if (role_is_linear(t.role) || t.role == TensorRole::Head) return 1.0f / det_sqrtf((float)t.cols);
    if (t.role == TensorRole::TokEmbedding)
        return spec.config.head_kind == BITLM_HEAD_TIED ? 1.0f / det_sqrtf((float)spec.config.dim) : 1.0f;
    return 1.0f;
}

// The random source: every tensor has its own PRNG stream, so tensors can be generated in any order.
std::string random_weights(const RandomModelSpec &spec, const TensorSize &t, std::vector<float> *out) {
    const uint64_t n = (uint64_t)t.rows * t.cols;
    Gaussian g(splitmix64(spec.seed ^ splitmix64(((uint64_t)t.role << 16) | t.layer)));
    std::vector<float> &w = *out;
    w.resize(n);
    if (role_is_norm(t.role)) {
        for (uint64_t i = 0; i < n; i++) w[i] = 1.0f + spec.norm_jitter * g.next();
    } else {
        const float sigma = init_std(spec, t);
        for (uint64_t i = 0; i < n; i++) w[i] = sigma * g.next();
    }
    return "";
}

// Quantize float weights into the tensor's stored form (the library quantizers) and pack its rows.
std::string pack_tensor(const TensorSize &t, const std::vector<float> &w, PackedTensor *out) {
    out->size = t;
    const uint64_t n = (uint64_t)t.rows * t.cols;
    if (w.size() != n)
        return std::string("tensor ") + tensor_role_name(t.role) + " has " + std::to_string(w.size()) +
               " weights, expected " + std::to_string(n);
    out->data.assign(t.data_bytes, 0);
    out->scales.assign(t.scale_count, 0);
    const uint64_t row_bytes = dtype_row_bytes(t.dtype, t.cols);
    bitlm_status st = BITLM_OK;
    switch (t.dtype) {
        case DType::Ternary:
        case DType::Binary: {
            std::vector<int8_t> q(n);
            st = t.dtype == DType::Ternary
                     ? quantize_ternary_absmean(w.data(), t.rows, t.cols, t.scale_kind, t.group_size, q.data(),
                                                out->scales.data())
                     : quantize_binary_sign(w.data(), t.rows, t.cols, t.scale_kind, q.data(), out->scales.data());
            if (st != BITLM_OK) break;
            for (uint32_t r = 0; r < t.rows; r++) {
                const int8_t *src = q.data() + (uint64_t)r * t.cols;
                uint8_t *dst = out->data.data() + (uint64_t)r * row_bytes;
                if (t.dtype == DType::Ternary)
                    ternary_pack_row(src, t.cols, dst);
                else
                    binary_pack_row(src, t.cols, dst);
            }
            break;
        }
        case DType::Int8:
            st = quantize_int8_rows(w.data(), t.rows, t.cols, reinterpret_cast<int8_t *>(out->data.data()),
                                    out->scales.data());
            break;
        case DType::F16:
            for (uint64_t i = 0; i < n; i++) {
                const uint16_t h = f32_to_f16(w[i]);
                out->data[2 * i] = (uint8_t)h;
                out->data[2 * i + 1] = (uint8_t)(h >> 8);
            }
            break;
        case DType::F32:
            for (uint64_t i = 0; i < n; i++) {
                const uint32_t b = float_bits(w[i]);
                for (int k = 0; k < 4; k++) out->data[4 * i + k] = (uint8_t)(b >> (8 * k));
            }
            break;
        case DType::Ternary2:  // in RAM only (bitlm_repack), never written to an artifact
            return std::string("tensor ") + tensor_role_name(t.role) + ": ternary2 is not an artifact dtype";
    }
    if (st != BITLM_OK)
        return std::string("quantizing ") + tensor_role_name(t.role) + ": " + bitlm_status_message(st);
    return "";
}

std::string generate_all(const ModelSource &spec, std::vector<PackedTensor> *tensors, SizeBreakdown *out,
                         uint64_t *total, ProgressFn progress, void *user) {
    std::vector<TensorSize> plan;
    std::string err = plan_tensors(spec.config, spec.storage, &plan);
    if (!err.empty()) return err;
    tensors->clear();
    tensors->resize(plan.size());
    // Tensors are independent, so producing them in parallel gives the same bytes.
    struct Shared {
        const ModelSource *spec;
        const std::vector<TensorSize> *plan;
        std::vector<PackedTensor> *tensors;
        std::vector<std::string> errors;
        std::mutex mutex;
        uint32_t done = 0;
        ProgressFn progress;
        void *user;
    } shared;
    shared.spec = &spec;
    shared.plan = &plan;
    shared.tensors = tensors;
    shared.errors.resize(plan.size());
    shared.progress = progress;
    shared.user = user;
    const bitlm_task_fn task = [](void *arg, uint32_t i) {
        Shared &s = *static_cast<Shared *>(arg);
        std::vector<float> w;
        const TensorSize &t = (*s.plan)[i];
        s.errors[i] = s.spec->weights(t, &w);
        if (s.errors[i].empty()) s.errors[i] = pack_tensor(t, w, &(*s.tensors)[i]);
        std::lock_guard<std::mutex> lock(s.mutex);
        s.done++;
        if (s.progress) s.progress(s.user, s.done, (uint32_t)s.plan->size());
    };
    {
        host::ThreadPool pool(spec.threads ? spec.threads : 1);
        pool.parallel_for(task, &shared, (uint32_t)plan.size());
    }
    for (const std::string &e : shared.errors)
        if (!e.empty()) return e;
    std::vector<TensorSpec> specs = specs_for(plan);
    for (size_t i = 0; i < plan.size(); i++) {
        specs[i].data = (*tensors)[i].data.data();
        specs[i].scales = plan[i].scale_count ? (*tensors)[i].scales.data() : nullptr;
    }
    const bitlm_status st = artifact_size(spec.config, byte_tokenizer_spec(), specs.data(), (uint32_t)specs.size(), total);
    if (st != BITLM_OK) return status_text("cannot lay out the artifact", st);
    if (out) *out = size_breakdown(plan, *total);
    return "";
}

std::vector<TensorSpec> specs_of(const std::vector<PackedTensor> &tensors) {
    std::vector<TensorSize> plan;
    for (const PackedTensor &t : tensors) plan.push_back(t.size);
    std::vector<TensorSpec> specs = specs_for(plan);
    for (size_t i = 0; i < tensors.size(); i++) {
        specs[i].data = tensors[i].data.data();
        specs[i].scales = tensors[i].scales.empty() ? nullptr : tensors[i].scales.data();
    }
    return specs;
}

struct FileSink {
    host::AtomicFileWriter *file;
    std::string error;
};

bitlm_status write_to_file(void *user, const void *bytes, size_t n) {
    FileSink *sink = static_cast<FileSink *>(user);
    std::string err = sink->file->write(bytes, n);
    if (!err.empty()) {
        sink->error = err;
        return BITLM_ERR_ABORTED;
    }
    return BITLM_OK;
}

bitlm_status write_to_vector(void *user, const void *bytes, size_t n) {
    std::vector<uint8_t> *v = static_cast<std::vector<uint8_t> *>(user);
    const uint8_t *p = static_cast<const uint8_t *>(bytes);
    v->insert(v->end(), p, p + n);
    return BITLM_OK;
}

}  // namespace

std::string write_model(const ModelSource &source, const std::string &path, SizeBreakdown *out, ProgressFn progress,
                        void *user) {
    host::AtomicFileWriter file;  // opened first: a bad path fails before minutes of work
    std::string err = file.open(path);
    if (!err.empty()) return err;
    std::vector<PackedTensor> tensors;
    uint64_t total = 0;
    err = generate_all(source, &tensors, out, &total, progress, user);
    if (!err.empty()) return err;
    const std::vector<TensorSpec> specs = specs_of(tensors);
    FileSink sink{&file, ""};
    const bitlm_status st = write_artifact(source.config, byte_tokenizer_spec(), specs.data(), (uint32_t)specs.size(),
                                           write_to_file, &sink);
    if (st != BITLM_OK) {
        file.abandon();
        return sink.error.empty() ? status_text("cannot write the artifact", st) : sink.error;
    }
    if (file.bytes_written() != total) {
        file.abandon();
        return "internal error: wrote " + std::to_string(file.bytes_written()) + " bytes, expected " +
               std::to_string(total);
    }
    return file.commit();
}

std::string build_model(const ModelSource &source, std::vector<uint8_t> *out_bytes, SizeBreakdown *out) {
    std::vector<PackedTensor> tensors;
    uint64_t total = 0;
    std::string err = generate_all(source, &tensors, out, &total, nullptr, nullptr);
    if (!err.empty()) return err;
    const std::vector<TensorSpec> specs = specs_of(tensors);
    out_bytes->clear();
    out_bytes->reserve(total);
    const bitlm_status st = write_artifact(source.config, byte_tokenizer_spec(), specs.data(), (uint32_t)specs.size(),
                                           write_to_vector, out_bytes);
    if (st != BITLM_OK) return status_text("cannot write the artifact", st);
    return "";
}

namespace {
ModelSource random_source(const RandomModelSpec &spec) {
    ModelSource src;
    src.config = spec.config;
    src.storage = spec.storage;
    src.threads = spec.threads;
    src.weights = [spec](const TensorSize &t, std::vector<float> *w) { return random_weights(spec, t, w); };
    return src;
}
}  // namespace

std::string write_random_model(const RandomModelSpec &spec, const std::string &path, SizeBreakdown *out,
                               ProgressFn progress, void *user) {
    const std::string err = check_random_spec(spec);
    if (!err.empty()) return err;
    return write_model(random_source(spec), path, out, progress, user);
}

std::string build_random_model(const RandomModelSpec &spec, std::vector<uint8_t> *out_bytes, SizeBreakdown *out) {
    const std::string err = check_random_spec(spec);
    if (!err.empty()) return err;
    return build_model(random_source(spec), out_bytes, out);
}

}  // namespace tools
}  // namespace bitlm
