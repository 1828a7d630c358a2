// bitlm_train.cpp — train a model of the family on a text file or token shards, on the CPU backend
// or a CUDA GPU (--device cuda, cuda/ when the build found nvcc): deterministic batches, checkpoints written atomically, exact resume, a JSON-lines log with an SVG
// plot next to it, periodic validation bits per byte and text samples, --time-limit.
//
// The training forward is the inference function (lib/train computes what the packed artifact
// computes), and validation uses the evaluation procedure of `bitlm_run eval` (tools/common/eval.h),
// so the final `val_bpb:` and `bitlm_run eval` of the packed checkpoint agree (on the CPU to the
// printed digits; the GPU's attention and softmax differ in the last bits, so closely).
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <string>
#include <thread>
#include <vector>
#include "common/args.h"
#include "common/eval.h"
#include "common/random_model.h"
#include "common/shape_args.h"
#include "host/clock.h"
#include "host/file_io.h"
#include "host/thread_pool.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/model_meta.h"
#include "train/train_log.h"
#include "train_cpu/cpu_backend.h"
#include "train/optim.h"
#include "train/schedule.h"
#include "train/train_model.h"
#include "train/device_trainer.h"
#ifdef BITLM_HAVE_CUDA
#include "cuda/trainer.h"
#endif

using namespace bitlm;
using namespace bitlm::tools;

namespace {

// ---- presets ------------------------------------------------------------------------------------
// Training defaults per model preset (the shapes are in lib/model/presets.cpp). Any flag overrides.
struct TrainDefaults {
    const char *preset;
    uint32_t batch;
    uint64_t steps;        // 0 = fit the schedule to --time-limit
    double time_limit;     // seconds, 0 = none
    const char *optimizer;
    float lr, adam_lr, weight_decay;
    uint64_t warmup;
    uint64_t eval_every, eval_tokens;
};

const TrainDefaults kDefaults[] = {
    {"tiny", 8, 60, 0, "adamw", 4e-3f, 4e-3f, 0.1f, 6, 30, 4096},
    {"demo", 16, 0, 280, "adamw", 3e-3f, 3e-3f, 0.1f, 30, 250, 16384},
    {"golf-16mb", 8, 2000, 0, "muon", 0.02f, 0.008f, 0.0f, 100, 250, 65536},
    {"s1", 8, 200, 0, "adamw", 2e-3f, 2e-3f, 0.1f, 20, 100, 16384},
    {"s2", 8, 200, 0, "adamw", 2e-3f, 2e-3f, 0.1f, 20, 100, 16384},
};
const TrainDefaults kOtherDefaults = {"", 8, 500, 0, "adamw", 2e-3f, 2e-3f, 0.1f, 50, 100, 16384};

const TrainDefaults &defaults_for(const std::string &preset) {
    for (const TrainDefaults &d : kDefaults)
        if (preset == d.preset) return d;
    return kOtherDefaults;
}

const char *kHelp =
    "usage: bitlm_train --data FILE --out DIR [--preset NAME] [options]\n"
    "\n"
    "Trains a ternary (or binary, or fp32) model on FILE: any text file (one token per byte) or an\n"
    "llm.c-style uint16 token shard. Writes DIR/checkpoint.bin (atomically), DIR/log.jsonl (one JSON\n"
    "object per line) and DIR/loss.svg. If DIR already holds a checkpoint, training resumes from it\n"
    "exactly (the same flags continue the same run, to the bit). Ends with `val_bpb: X`.\n"
    "Pack the result with `bitlm_pack DIR -o MODEL.blm`.\n"
    "\n"
    "data:\n"
    "  --data FILE            training data (text or token shard)\n"
    "  --val FILE             validation data (default: the last --val-fraction of --data)\n"
    "  --val-fraction F       share of --data held out for validation (default 0.1)\n"
    "  --out DIR              checkpoint, log and plot (created if missing)\n"
    "\n"
    "model:\n"
    "  --preset NAME          model shape and training defaults: tiny, demo, golf-16mb, s1, s2, ... (default demo)\n"
    "  --fp32                 train the same shape without quantization (for comparison)\n"
    "  --init-std X           std of the initial weights (default 0.02)\n"
    "  --seed S               initialization and batch order (default 1)\n"
    "\n"
    "optimization:\n"
    "  --steps N              optimizer steps (0 = as many as --time-limit allows, fixed after a few steps)\n"
    "  --batch N              sequences per step (each --ctx tokens)\n"
    "  --optimizer adamw|sgd|muon\n"
    "  --lr X                 peak learning rate (muon: of the matrices)\n"
    "  --adam-lr X            muon: peak learning rate of embeddings and gains\n"
    "  --beta1 X --beta2 X --eps X   Adam moments (defaults 0.9, 0.95, 1e-8)\n"
    "  --weight-decay X       decoupled weight decay (matrices and embeddings only)\n"
    "  --momentum X           SGD and Muon momentum (default 0.95)\n"
    "  --no-nesterov          plain momentum for SGD and Muon\n"
    "  --ns-steps N           Muon Newton-Schulz iterations (default 5)\n"
    "  --grad-clip X          clip the global gradient norm (default 1; 0 = off)\n"
    "  --schedule cosine|warmdown|bitnet   lr (and wd) schedule (default cosine)\n"
    "  --warmup N             warmup steps\n"
    "  --warmdown N           warmdown: steps of the final linear decay (default 30% of the steps)\n"
    "  --min-lr-frac X        lr at the end as a fraction of the peak (default 0.1)\n"
    "\n"
    "run:\n"
    "  --time-limit SECONDS   stop (checkpoint, final validation) when this much time has passed\n"
    "  --eval-every N         validation every N steps (on the first --eval-tokens of the val set)\n"
    "  --eval-tokens N        tokens of the periodic validation (the final one uses the whole set)\n"
    "  --final-eval-tokens N  limit the final validation too (default: all)\n"
    "  --sample-every N       print a text sample every N steps (default: with validation; 0 = never)\n"
    "  --sample-len N         sample length in tokens (default 200)\n"
    "  --checkpoint-every N   also checkpoint every N steps (default: with validation)\n"
    "  --log-every N          progress line every N steps (default: about every 2 seconds)\n"
    "  --max-bytes N          refuse to start if the packed model would be over N bytes\n"
    "  --threads N            CPU threads (default: all cores)\n"
    "  --gemm NAME            CPU GEMM kernel: portable, avx2, avx512 (default: the fastest available)\n"
    "  --device cpu|cuda      training backend (default cpu)\n"
    "  --micro-batch N        cuda: sequences per GPU pass, dividing --batch (default: the most that fit)\n"
    "  --gpu-precision fp32|tf32|bf16   cuda: operand rounding of the float GEMMs (default bf16; the\n"
    "                         integer BitLinear forward is exact in every mode)\n"
    "  -h, --help             this help\n"
    "\n"
    "%s"
    "\n"
    "exit status: 0 done, 1 failure (one line on stderr), 2 bad usage, 130 interrupted (checkpoint saved).\n";

int usage_error(const std::string &msg) {
    fprintf(stderr, "bitlm_train: %s\n", msg.c_str());
    return 2;
}
int failure(const std::string &msg) {
    fprintf(stderr, "bitlm_train: %s\n", msg.c_str());
    return 1;
}

std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal = sig; }

// ---- options ------------------------------------------------------------------------------------
struct Options {
    std::string data, val, out, preset;
    double val_fraction = 0.1;
    TrainModelSpec spec;
    float init_std = 0.02f;
    uint64_t seed = 1;
    uint32_t batch = 8;
    uint64_t steps = 0;
    OptimConfig optim;
    ScheduleConfig schedule;
    double time_limit = 0;
    uint64_t eval_every = 100, eval_tokens = 16384, final_eval_tokens = 0;
    uint64_t sample_every = 0, sample_len = 200, checkpoint_every = 0, log_every = 0;
    uint64_t max_bytes = 0;
    unsigned threads = 1;
    std::string gemm;
    bool warmdown_given = false;
    bool cuda = false;           // --device cuda
    uint32_t micro_batch = 0;    // 0 = the most that fit
    uint32_t gpu_precision = 2;  // fp32, tf32, bf16
};

// Fields that must be equal for a resumed run to continue the same run (written to the checkpoint).
void training_meta(const Options &o, MetaLines *out) {
    auto f = [](double v) {
        char b[40];
        snprintf(b, sizeof b, "%.9g", v);
        return std::string(b);
    };
    out->push_back({"train.seed", std::to_string(o.seed)});
    out->push_back({"train.batch", std::to_string(o.batch)});
    out->push_back({"train.init_std", f(o.init_std)});
    out->push_back({"train.optimizer", std::to_string((uint32_t)o.optim.kind)});
    out->push_back({"train.lr", f(o.optim.lr)});
    out->push_back({"train.adam_lr", f(o.optim.adam_lr)});
    out->push_back({"train.beta1", f(o.optim.beta1)});
    out->push_back({"train.beta2", f(o.optim.beta2)});
    out->push_back({"train.eps", f(o.optim.eps)});
    out->push_back({"train.weight_decay", f(o.optim.weight_decay)});
    out->push_back({"train.momentum", f(o.optim.momentum)});
    out->push_back({"train.nesterov", std::to_string(o.optim.nesterov)});
    out->push_back({"train.ns_steps", std::to_string(o.optim.ns_steps)});
    out->push_back({"train.grad_clip", f(o.optim.grad_clip)});
    out->push_back({"train.schedule", std::to_string((uint32_t)o.schedule.kind)});
    out->push_back({"train.warmup", std::to_string(o.schedule.warmup_steps)});
    out->push_back({"train.min_lr_frac", f(o.schedule.min_lr_frac)});
}

std::string parse_options(Args &args, Options *o) {
    o->preset = args.get("preset", "demo");
    const Preset *preset = find_preset(o->preset.c_str());
    if (!preset) return "unknown preset '" + o->preset + "' (see bitlm_pack --list-presets)";
    const TrainDefaults &d = defaults_for(o->preset);
    o->spec.config = preset->config;
    o->spec.storage = preset->storage;
    o->spec.fp32 = args.has("fp32");
    std::string err = apply_shape_options(args, &o->spec.config, &o->spec.storage);
    if (!err.empty()) return err;

    o->data = args.get("data");
    o->val = args.get("val");
    o->out = args.get("out");
    if (o->data.empty()) return "no training data: give --data FILE";
    if (o->out.empty()) return "no output directory: give --out DIR";
    o->val_fraction = args.get_f64("val-fraction", 0.1, 0.0, 0.9);
    o->init_std = (float)args.get_f64("init-std", 0.02, 1e-6, 10.0);
    o->seed = args.get_u64("seed", 1);
    o->batch = args.get_u32("batch", d.batch, 1, 1u << 16);
    o->steps = args.get_u64("steps", d.steps, 0, 1ull << 40);
    o->time_limit = args.get_f64("time-limit", d.time_limit, 0.0, 1e9);
    const int opt = args.get_choice("optimizer", "adamw,sgd,muon",
                                    strcmp(d.optimizer, "muon") == 0 ? 2 : strcmp(d.optimizer, "sgd") == 0 ? 1 : 0);
    o->optim.kind = (OptimKind)opt;
    o->optim.lr = (float)args.get_f64("lr", d.lr, 0.0, 1e30);
    o->optim.adam_lr = (float)args.get_f64("adam-lr", args.has("lr") && opt != 2 ? o->optim.lr : d.adam_lr, 0.0, 1e30);
    o->optim.beta1 = (float)args.get_f64("beta1", 0.9, 0.0, 0.999999);
    o->optim.beta2 = (float)args.get_f64("beta2", 0.95, 0.0, 0.999999);
    o->optim.eps = (float)args.get_f64("eps", 1e-8, 1e-30, 1.0);
    o->optim.weight_decay = (float)args.get_f64("weight-decay", d.weight_decay, 0.0, 10.0);
    o->optim.momentum = (float)args.get_f64("momentum", 0.95, 0.0, 0.999999);
    o->optim.nesterov = !args.has("no-nesterov");
    o->optim.ns_steps = args.get_u32("ns-steps", 5, 1, 100);
    o->optim.grad_clip = (float)args.get_f64("grad-clip", 1.0, 0.0, 1e9);
    const int sched = args.get_choice("schedule", "cosine,warmdown,bitnet", 0);
    o->schedule.kind = (ScheduleKind)sched;
    o->schedule.warmup_steps = args.get_u64("warmup", d.warmup, 0, 1ull << 40);
    o->warmdown_given = args.has("warmdown");
    o->schedule.warmdown_steps = args.get_u64("warmdown", 0, 0, 1ull << 40);
    o->schedule.min_lr_frac = (float)args.get_f64("min-lr-frac", 0.1, 0.0, 1.0);
    o->eval_every = args.get_u64("eval-every", d.eval_every, 0, 1ull << 40);
    o->eval_tokens = args.get_u64("eval-tokens", d.eval_tokens, 2, 1ull << 40);
    o->final_eval_tokens = args.get_u64("final-eval-tokens", 0, 2, 1ull << 40);
    o->sample_every = args.get_u64("sample-every", o->eval_every, 0, 1ull << 40);
    o->sample_len = args.get_u64("sample-len", 200, 1, 1u << 20);
    o->checkpoint_every = args.get_u64("checkpoint-every", o->eval_every, 0, 1ull << 40);
    o->log_every = args.get_u64("log-every", 0, 0, 1ull << 40);
    o->max_bytes = args.get_u64("max-bytes", 0, 1);
    const unsigned hw = std::thread::hardware_concurrency();
    o->threads = args.get_u32("threads", hw ? hw : 1, 1, 4096);
    o->gemm = args.get("gemm");
    o->cuda = args.get_choice("device", "cpu,cuda", 0) == 1;
    o->micro_batch = args.get_u32("micro-batch", 0, 1, 1u << 16);
    o->gpu_precision = (uint32_t)args.get_choice("gpu-precision", "fp32,tf32,bf16", 2);
    if (!args.ok()) return args.error();
#ifndef BITLM_HAVE_CUDA
    if (o->cuda)
        return "--device cuda: this build has no CUDA backend (nvcc was not found when it was built); use --device cpu";
#endif
    if (o->micro_batch && o->batch % o->micro_batch)
        return "--micro-batch " + std::to_string(o->micro_batch) + " does not divide --batch " + std::to_string(o->batch);
    if (o->steps == 0 && o->time_limit <= 0) return "--steps 0 needs a --time-limit to size the run";
    if (o->spec.storage.linear_scale == ScaleKind::Group && o->spec.storage.linear_dtype == DType::Binary)
        return "binary weights take a per-tensor or per-row scale, not per-group";
    return "";
}

// ---- output directory ---------------------------------------------------------------------------
std::string make_dir(const std::string &dir) {
    struct stat st;
    if (stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return "'" + dir + "' exists and is not a directory";
    } else if (mkdir(dir.c_str(), 0777) != 0) {
        return "cannot create '" + dir + "': " + strerror(errno);
    }
    // Fail now, not after an hour of training, if nothing can be written there.
    const std::string probe = dir + "/.write-test";
    FILE *f = fopen(probe.c_str(), "w");
    if (!f) return "cannot write to '" + dir + "': " + strerror(errno);
    fclose(f);
    unlink(probe.c_str());
    return "";
}

bool file_exists(const std::string &path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

// ---- JSON lines ---------------------------------------------------------------------------------
std::string json_string(const std::string &s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            char b[8];
            snprintf(b, sizeof b, "\\u%04x", c);
            out += b;
        } else {
            out += (char)c;
        }
    }
    return out + "\"";
}

class JsonLog {
public:
    std::string open(const std::string &path) {
        f_ = fopen(path.c_str(), "a");
        return f_ ? "" : "cannot open '" + path + "': " + strerror(errno);
    }
    ~JsonLog() {
        if (f_) fclose(f_);
    }
    void line(const std::string &body) {
        fprintf(f_, "{%s}\n", body.c_str());
        fflush(f_);
    }

private:
    FILE *f_ = nullptr;
};

std::string num(double v) {
    char b[40];
    snprintf(b, sizeof b, std::isfinite(v) ? "%.6g" : "null", v);
    return b;
}

std::string duration(double s) {
    char b[32];
    const long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(b, sizeof b, "%lds", t);
    return b;
}

// ---- the trainer --------------------------------------------------------------------------------
class Trainer {
public:
    Trainer(const Options &o, const TrainBackend *backend) : o_(o), backend_(backend) {}
    ~Trainer() {
        if (device_.destroy) device_.destroy(device_.ctx);
    }

    std::string setup(const TokenData &train, const TokenData &val, const DataSplit &split);
    std::string resume(const Checkpoint &ckpt);
    int run();

private:
    std::string eval_bpb(uint64_t max_tokens, EvalResult *out);
    std::string sample(std::string *text);
    std::string save_checkpoint();
    void write_plot();
    std::string pack_in_memory(std::vector<uint8_t> *bytes);
    std::string open_device();
    std::string to_device();
    std::string from_device();

    const Options &o_;
    const TrainBackend *backend_;
    DeviceTrainer device_{};  // --device cuda: parameters, state and the step live on the GPU
    bool host_current_ = true;  // the host copy equals the GPU's (a checkpoint and a sample share a download)
    const TokenData *train_ = nullptr, *val_ = nullptr;
    DataSplit split_{};
    std::vector<int32_t> val_tokens_;

    uint32_t n_params_ = 0;
    std::vector<Param> params_;
    std::vector<std::string> names_;
    std::vector<float> weights_, grads_, state_, scratch_;
    std::vector<float> rope_cs_;
    TrainModel model_{};
    std::vector<uint8_t> arena_;
    uint64_t step_ = 0, total_steps_ = 0;
    uint64_t step_bytes_ = 0;  // arena a training step needs
    bool steps_fixed_ = false;  // a --time-limit run has settled its step count

public:
    uint64_t weight_count() const { return weights_.size(); }
    uint64_t step() const { return step_; }
    uint64_t step_bytes() const { return step_bytes_; }
    const char *backend_name() const { return device_.ctx ? device_.name : backend_->name; }
    uint32_t micro_batch() const { return device_.ctx ? device_.micro_batch : o_.batch; }

private:
    double elapsed_before_ = 0;  // seconds of earlier sessions of this run
    double session_start_ = 0;
    double elapsed() const { return elapsed_before_ + (host::seconds() - session_start_); }
    uint64_t last_good_step_ = 0;
    JsonLog log_;
};

std::string Trainer::setup(const TokenData &train, const TokenData &val, const DataSplit &split) {
    train_ = &train;
    val_ = &val;
    split_ = split;
    for (size_t i = split.val_begin; i < split.val_end; i++) val_tokens_.push_back(val.tokens[i]);

    const TrainModelSpec &spec = o_.spec;
    n_params_ = train_param_count(spec);
    uint64_t total = 0, state_total = 0;
    std::vector<ParamInfo> infos;
    for (uint32_t i = 0; i < n_params_; i++) {
        infos.push_back(train_param_info(spec, i));
        names_.push_back(param_name(infos.back()));
        total += (uint64_t)infos.back().rows * infos.back().cols;
    }
    weights_.assign(total, 0.0f);
    grads_.assign(o_.cuda ? 0 : total, 0.0f);  // on the GPU, gradients live on the device only
    params_.resize(n_params_);
    uint64_t off = 0;
    for (uint32_t i = 0; i < n_params_; i++) {
        Param &p = params_[i];
        p.name = names_[i].c_str();
        p.kind = infos[i].kind;
        p.rows = infos[i].rows;
        p.cols = infos[i].cols;
        p.w = weights_.data() + off;
        p.g = o_.cuda ? nullptr : grads_.data() + off;
        off += p.count();
        state_total += optimizer_state_floats(o_.optim, p);
    }
    state_.assign(state_total, 0.0f);
    off = 0;
    for (Param &p : params_) {
        p.state = state_.data() + off;
        off += optimizer_state_floats(o_.optim, p);
    }
    if (!o_.cuda) scratch_.assign(optimizer_scratch_floats(o_.optim, params_.data(), n_params_) + 1, 0.0f);
    init_params(spec, params_.data(), o_.seed, o_.init_std);

    const uint32_t T = spec.config.max_seq_len;
    rope_cs_.assign((uint64_t)T * spec.config.head_dim, 0.0f);
    rope_table(spec.config.rope_theta, spec.config.head_dim, T, rope_cs_.data());
    model_ = TrainModel{spec, params_.data(), rope_cs_.data(), T};
    total_steps_ = o_.steps;
    if (o_.cuda) {
        const std::string err = open_device();
        if (!err.empty()) return err;
        step_bytes_ = device_.device_bytes;
        return to_device();
    }

    // Size the arena with measuring passes: a training step and an evaluation batch.
    std::vector<uint8_t> meta(64u << 20);
    std::vector<int32_t> dummy((uint64_t)o_.batch * T, 0);
    uint64_t need = 0;
    for (int pass = 0; pass < 2; pass++) {
        Tape m(meta.data(), meta.size(), backend_, true);
        m.grad_enabled = pass == 0;
        Tensor *r = pass == 0 ? model_loss(m, model_, dummy.data(), dummy.data(), o_.batch)
                              : model_logits(m, model_, dummy.data(), o_.batch);
        if (!r || m.status() != BITLM_OK)
            return std::string("cannot lay out a training step: ") + bitlm_status_message(m.status());
        need = std::max(need, m.used_bytes());
    }
    arena_.assign(need + 4096, 0);
    step_bytes_ = need;
    return "";
}

std::string Trainer::open_device() {
#ifdef BITLM_HAVE_CUDA
    DeviceTrainerConfig c = {};
    c.spec = o_.spec;
    c.optim = o_.optim;
    c.batch = o_.batch;
    c.micro_batch = o_.micro_batch;
    c.seq_len = model_.seq_len;
    c.precision = o_.gpu_precision;
    char why[512];
    if (cuda::open_trainer(c, &device_, why, sizeof why) != BITLM_OK) return std::string("--device cuda: ") + why;
    return "";
#else
    return "--device cuda: this build has no CUDA backend";
#endif
}

// Weights and optimizer state host -> GPU (after initialization or a resume) and back (before a
// checkpoint, a sample or packing: the host copy is what those read).
std::string Trainer::to_device() {
    if (!device_.ctx) return "";
    const bitlm_status st = device_.upload(device_.ctx, params_.data(), n_params_);
    return st == BITLM_OK ? "" : std::string("--device cuda: ") + device_.last_error(device_.ctx);
}
std::string Trainer::from_device() {
    if (!device_.ctx || host_current_) return "";
    const bitlm_status st = device_.download(device_.ctx, params_.data(), n_params_);
    if (st != BITLM_OK) return std::string("--device cuda: ") + device_.last_error(device_.ctx);
    host_current_ = true;
    return "";
}

std::string Trainer::resume(const Checkpoint &ckpt) {
    TrainModelSpec saved;
    std::string err = spec_from_meta(ckpt, &saved);
    if (!err.empty()) return "checkpoint: " + err;
    const std::string diff = spec_difference(saved, o_.spec);
    if (!diff.empty())
        return "the checkpoint in '" + o_.out + "' is for another model shape (" + diff +
               "); use a new --out, or the flags it was trained with";
    MetaLines mine;
    training_meta(o_, &mine);
    for (const auto &kv : mine) {
        const std::string *v = ckpt.find_meta(kv.first);
        if (!v) return "the checkpoint has no " + kv.first;
        if (*v != kv.second)
            return "the checkpoint was trained with " + kv.first + " = " + *v + ", not " + kv.second +
                   " (an exact resume needs the same training flags; use a new --out to start over)";
    }
    for (uint32_t i = 0; i < n_params_; i++) {
        const std::vector<float> *w = ckpt.find_array("w." + names_[i]);
        const std::vector<float> *s = ckpt.find_array("s." + names_[i]);
        const uint64_t ns = optimizer_state_floats(o_.optim, params_[i]);
        if (!w || w->size() != params_[i].count() || !s || s->size() != ns)
            return "the checkpoint's " + names_[i] + " is missing or has the wrong size";
        std::copy(w->begin(), w->end(), params_[i].w);
        std::copy(s->begin(), s->end(), params_[i].state);
    }
    uint64_t step = 0, total = 0;
    double elapsed = 0;
    const std::string *s1 = ckpt.find_meta("train.step"), *s2 = ckpt.find_meta("train.total_steps"),
                      *s3 = ckpt.find_meta("train.elapsed_s");
    if (!s1 || !parse_u64(*s1, &step) || !s2 || !parse_u64(*s2, &total) || !s3 || !parse_f64(*s3, &elapsed))
        return "the checkpoint has no valid train.step / train.total_steps / train.elapsed_s";
    err = to_device();
    if (!err.empty()) return err;
    step_ = last_good_step_ = step;
    elapsed_before_ = elapsed;
    // A run sized by --time-limit keeps the step count it settled on; explicit --steps may extend it.
    total_steps_ = o_.steps ? o_.steps : total;
    steps_fixed_ = total_steps_ != 0;
    fprintf(stderr, "bitlm_train: resuming from step %llu of %llu\n", (unsigned long long)step,
            (unsigned long long)total_steps_);
    return "";
}

std::string Trainer::save_checkpoint() {
    // Only weights that pack are worth keeping: a diverging run must not overwrite the last good
    // checkpoint with weights the quantizers refuse (non-finite, or scales beyond fp16).
    std::string err = from_device();
    if (!err.empty()) return err;
    std::vector<uint8_t> packed;
    if (!pack_in_memory(&packed).empty()) return "diverged";
    MetaLines meta;
    meta.push_back({"format", "bitlm-train-checkpoint"});
    spec_to_meta(o_.spec, &meta);
    training_meta(o_, &meta);
    meta.push_back({"train.preset", o_.preset});
    meta.push_back({"train.step", std::to_string(step_)});
    meta.push_back({"train.total_steps", std::to_string(total_steps_)});
    meta.push_back({"train.elapsed_s", num(elapsed())});
    meta.push_back({"train.gemm", backend_name()});
    std::vector<CheckpointArrayRef> arrays;
    for (uint32_t i = 0; i < n_params_; i++) {
        arrays.push_back({"w." + names_[i], params_[i].w, params_[i].count()});
        arrays.push_back({"s." + names_[i], params_[i].state, optimizer_state_floats(o_.optim, params_[i])});
    }
    err = write_checkpoint(o_.out + "/checkpoint.bin", meta, arrays);
    if (err.empty()) last_good_step_ = step_;
    return err;
}

void Trainer::write_plot() {
    std::vector<LogPoint> loss, val;
    if (read_log_points(o_.out + "/log.jsonl", UINT64_MAX, &loss, &val).empty())
        write_loss_svg(o_.out + "/loss.svg", loss, val, "bitlm_train " + o_.preset + (o_.spec.fp32 ? " (fp32)" : ""));
}

// Validation with the trainer's own forward through the evaluation procedure of tools/common/eval.h
// (full windows batched o_.batch at a time). Shards have no bytes per token here: bits per token.
std::string Trainer::eval_bpb(uint64_t max_tokens, EvalResult *out) {
    const uint32_t V = o_.spec.config.vocab_size;
    const size_t n = std::min<uint64_t>(val_tokens_.size(), max_tokens ? max_tokens : UINT64_MAX);
    const RunBatch run = [&](const int32_t *tokens, uint32_t n_windows, uint32_t len,
                             const BatchLogits &each) -> std::string {
        // The logits of every window: from the GPU into host memory, or the tape's forward on the CPU.
        std::vector<float> device_logits;
        const float *logits;
        if (device_.ctx) {
            device_logits.resize((uint64_t)n_windows * len * V);
            if (device_.logits(device_.ctx, tokens, n_windows, len, device_logits.data()) != BITLM_OK)
                return std::string("validation forward failed: ") + device_.last_error(device_.ctx);
            logits = device_logits.data();
        } else {
            TrainModel m = model_;
            m.seq_len = len;
            Tape t(arena_.data(), arena_.size(), backend_);
            t.grad_enabled = false;
            Tensor *out = model_logits(t, m, tokens, n_windows);
            if (!out) return std::string("validation forward failed: ") + bitlm_status_message(t.status());
            logits = out->data;  // the arena outlives the tape object: valid until the next forward
        }
        for (uint32_t w = 0; w < n_windows; w++)
            for (uint32_t i = 0; i < len; i++) each(w, i, logits + ((uint64_t)w * len + i) * V);
        return "";
    };
    return eval_tokens_batched(val_tokens_.data(), n, model_.seq_len, V, o_.batch, run, nullptr, nullptr, out);
}

std::string Trainer::pack_in_memory(std::vector<uint8_t> *bytes) {
    return build_model(params_source(o_.spec, 1, [&](uint32_t i) { return (const float *)params_[i].w; }), bytes);
}

// A text sample from the current weights, packed in memory and run by the inference library.
std::string Trainer::sample(std::string *text) {
    std::vector<uint8_t> bytes;
    std::string err = from_device();
    if (err.empty()) err = pack_in_memory(&bytes);
    if (!err.empty()) return err;
    host::AlignedBuffer blob;
    if (!blob.allocate(bytes.size())) return "out of memory";
    memcpy(blob.data(), bytes.data(), bytes.size());
    bitlm_open_options opt = {};
    size_t need = 0;
    bitlm_status st = bitlm_arena_bytes(blob.data(), bytes.size(), &opt, &need);
    host::AlignedBuffer arena;
    if (st == BITLM_OK && !arena.allocate(need)) return "out of memory";
    bitlm_model *model = nullptr;
    if (st == BITLM_OK) st = bitlm_open(blob.data(), bytes.size(), arena.data(), need, &opt, &model);
    if (st != BITLM_OK) return std::string("sample: ") + bitlm_status_message(st);
    const int32_t prompt = '\n';
    bitlm_sampling s = {0.8f, 40, 1.0f, 1234};
    const uint32_t n = (uint32_t)std::min<uint64_t>(o_.sample_len, bitlm_context_len(model) - 1);
    struct Collect {
        std::string *text;
    } c{text};
    text->clear();
    st = bitlm_generate(model, &prompt, 1, n, &s,
                        [](void *u, int32_t tok) {
                            ((Collect *)u)->text->push_back((char)tok);
                            return 0;
                        },
                        &c, nullptr);
    return st == BITLM_OK ? "" : std::string("sample: ") + bitlm_status_message(st);
}

int Trainer::run() {
    std::string err = log_.open(o_.out + "/log.jsonl");
    if (!err.empty()) return failure(err);
    const uint32_t T = model_.seq_len, B = o_.batch;
    const uint64_t tokens_per_step = (uint64_t)B * T;
    std::vector<int32_t> batch((uint64_t)B * (T + 1)), inputs((uint64_t)B * T), targets((uint64_t)B * T);
    const double session_start = session_start_ = host::seconds();
    double last_progress = session_start, window_start = session_start;
    uint64_t window_steps = 0;
    double timing_start = session_start;
    uint64_t timing_step = step_;  // steps counted from this session's start (a resume may begin past step 2)
    if (step_ == 0)
        log_.line("\"event\":\"start\",\"preset\":" + json_string(o_.preset) + ",\"params\":" +
                  std::to_string(weights_.size()) + ",\"tokens_per_step\":" + std::to_string(tokens_per_step));

    bool stopped_by_time = false;
    while (total_steps_ == 0 || step_ < total_steps_) {
        if (g_signal) {
            err = save_checkpoint();
            fprintf(stderr, "bitlm_train: interrupted at step %llu; %s\n", (unsigned long long)step_,
                    err.empty() ? "checkpoint saved" : ("checkpoint NOT saved: " + err).c_str());
            return 130;
        }
        if (o_.time_limit > 0 && elapsed() >= o_.time_limit) {
            stopped_by_time = true;
            break;
        }
        const uint64_t step = step_ + 1;
        draw_batch(train_->tokens.data(), split_.train_begin, split_.train_end, o_.seed, step, B, T, batch.data());
        for (uint32_t b = 0; b < B; b++)
            for (uint32_t i = 0; i < T; i++) {
                inputs[(uint64_t)b * T + i] = batch[(uint64_t)b * (T + 1) + i];
                targets[(uint64_t)b * T + i] = batch[(uint64_t)b * (T + 1) + i + 1];
            }
        float loss_value = 0;
        bitlm_status st;
        if (device_.ctx) {
            st = device_.forward_backward(device_.ctx, inputs.data(), targets.data(), &loss_value);
        } else {
            std::fill(grads_.begin(), grads_.end(), 0.0f);
            Tape t(arena_.data(), arena_.size(), backend_);
            Tensor *loss = model_loss(t, model_, inputs.data(), targets.data(), B);
            st = loss ? t.backward(loss) : t.status();
            if (loss) loss_value = loss->data[0];
        }
        const std::string kept = last_good_step_ ? "; the last good checkpoint (step " + std::to_string(last_good_step_) +
                                                       ") is kept in '" + o_.out + "'"
                                                 : std::string("; no checkpoint had been written yet");
        // The quantizers refuse non-finite weights and scales beyond fp16: the run has diverged.
        if (st == BITLM_ERR_BAD_ARGUMENT)
            return failure("training diverged at step " + std::to_string(step) +
                           ": weights are not finite or too large to quantize (learning rate too high?)" + kept);
        if (st == BITLM_ERR_DEVICE) return failure(std::string("training step failed: ") + device_.last_error(device_.ctx));
        if (st != BITLM_OK) return failure(std::string("training step failed: ") + bitlm_status_message(st));
        if (!std::isfinite(loss_value))
            return failure("loss is " + std::string(std::isnan(loss_value) ? "NaN" : "infinite") + " at step " +
                           std::to_string(step) + " (learning rate too high?)" + kept);
        ScheduleConfig sched = o_.schedule;
        sched.total_steps = total_steps_ ? total_steps_ : 1000000;
        if (sched.kind == ScheduleKind::Warmdown && !o_.warmdown_given) sched.warmdown_steps = sched.total_steps * 3 / 10;
        const float lr_mult = schedule_lr(sched, step), wd_mult = schedule_wd(sched, step);
        float grad_norm = 0;
        st = device_.ctx ? device_.optimize(device_.ctx, step, lr_mult, wd_mult, &grad_norm)
                         : optim_step(o_.optim, params_.data(), n_params_, step, lr_mult, wd_mult, backend_,
                                      scratch_.data(), &grad_norm);
        host_current_ = !device_.ctx;  // the GPU's weights moved on (or may have, on an error)
        if (st == BITLM_ERR_DEVICE) return failure(std::string("optimizer step failed: ") + device_.last_error(device_.ctx));
        if (st != BITLM_OK) return failure("gradient is not finite at step " + std::to_string(step) + kept);
        step_ = step;
        window_steps++;

        // A run sized by time: a first step count from steps 3..8 (the first steps also pay for
        // first-touch page faults), then the final one from the steps up to a fifth of the budget,
        // validation and samples included (the lr is still near its peak there, so the schedule's
        // small change is harmless). The count is saved in the checkpoint, so a resume is exact.
        if (o_.steps == 0 && o_.time_limit > 0 && !steps_fixed_) {
            if (step_ == 2) timing_start = host::seconds(), timing_step = 2;
            const double spent = elapsed_before_ + host::seconds() - session_start;
            if (step_ == 8 || (step_ > 8 && spent >= 0.2 * o_.time_limit)) {
                const double per_step = (host::seconds() - timing_start) / (double)(step_ - timing_step);
                const double reserve = std::min(30.0, 0.1 * o_.time_limit);  // final validation and packing
                const double left = o_.time_limit - reserve - spent;
                total_steps_ = step_ + std::max<uint64_t>(1, (uint64_t)(left / per_step));
                steps_fixed_ = step_ > 8;
                fprintf(stderr, "bitlm_train: %.3f s/step, so %llu steps fit in --time-limit %.0f s\n", per_step,
                        (unsigned long long)total_steps_, o_.time_limit);
            }
        }

        const double now = host::seconds();
        const double tok_s = (double)(window_steps * tokens_per_step) / std::max(1e-9, now - window_start);
        log_.line("\"step\":" + std::to_string(step_) + ",\"loss\":" + num(loss_value) + ",\"lr\":" +
                  num(o_.optim.lr * lr_mult) + ",\"grad_norm\":" + num(grad_norm) + ",\"tokens_per_s\":" + num(tok_s) +
                  ",\"elapsed_s\":" + num(elapsed()));
        const bool log_now = o_.log_every ? step_ % o_.log_every == 0 : now - last_progress >= 2.0;
        if (log_now || step_ == 1 || step_ == total_steps_) {
            const double eta = total_steps_ ? (double)(total_steps_ - step_) * (now - window_start) / window_steps : 0;
            const std::string of = total_steps_ ? std::to_string(total_steps_) : "?";
            fprintf(stderr, "step %llu/%s | loss %.4f | lr %.2e | %.0f tok/s | elapsed %s | eta %s\n",
                    (unsigned long long)step_, of.c_str(), loss_value, o_.optim.lr * lr_mult, tok_s,
                    duration(elapsed()).c_str(), total_steps_ ? duration(eta).c_str() : "?");
            last_progress = now;
            if (window_steps >= 20) window_start = now, window_steps = 0;
        }
        if (o_.eval_every && step_ % o_.eval_every == 0 && step_ != total_steps_) {
            EvalResult r;
            err = eval_bpb(o_.eval_tokens, &r);
            if (!err.empty()) return failure(err);
            log_.line("\"step\":" + std::to_string(step_) + ",\"val_bpb\":" + num(r.bpb()) + ",\"val_loss\":" +
                      num(r.bpb() * std::log(2.0)) + ",\"val_tokens\":" + std::to_string(r.predicted_tokens));
            fprintf(stderr, "step %llu | val_bpb %.4f (%llu tokens)\n", (unsigned long long)step_, r.bpb(),
                    (unsigned long long)r.predicted_tokens);
        }
        if (o_.sample_every && step_ % o_.sample_every == 0 && val_->bytes && o_.spec.config.vocab_size >= 256) {
            std::string text;
            err = sample(&text);
            if (err.empty()) {
                fprintf(stderr, "--- sample at step %llu ---\n%s\n---\n", (unsigned long long)step_, text.c_str());
                log_.line("\"step\":" + std::to_string(step_) + ",\"sample\":" + json_string(text));
            }
        }
        if (o_.checkpoint_every && step_ % o_.checkpoint_every == 0) {
            const uint64_t kept_step = last_good_step_;
            err = save_checkpoint();
            if (err == "diverged")
                return failure("training diverged at step " + std::to_string(step_) +
                               ": weights are not finite or too large to quantize (learning rate too high?)" +
                               (kept_step ? "; the last good checkpoint (step " + std::to_string(kept_step) +
                                                ") is kept in '" + o_.out + "'"
                                          : std::string("; no checkpoint had been written yet")));
            if (!err.empty()) return failure("cannot write the checkpoint: " + err);
            write_plot();
        }
    }
    if (stopped_by_time) fprintf(stderr, "bitlm_train: --time-limit reached at step %llu\n", (unsigned long long)step_);
    const double train_seconds = elapsed();

    EvalResult r;
    err = eval_bpb(o_.final_eval_tokens, &r);
    if (!err.empty()) return failure(err);
    log_.line("\"step\":" + std::to_string(step_) + ",\"val_bpb\":" + num(r.bpb()) + ",\"val_loss\":" +
              num(r.bpb() * std::log(2.0)) + ",\"val_tokens\":" + std::to_string(r.predicted_tokens) + ",\"final\":true");
    err = save_checkpoint();
    if (!err.empty()) return failure("cannot write the checkpoint: " + err);
    write_plot();
    printf("steps: %llu\n", (unsigned long long)step_);
    printf("train_seconds: %.1f\n", train_seconds);
    printf("tokens_seen: %llu\n", (unsigned long long)(step_ * tokens_per_step));
    printf("val_tokens: %llu\n", (unsigned long long)r.predicted_tokens);
    printf("checkpoint: %s/checkpoint.bin\n", o_.out.c_str());
    printf("log: %s/log.jsonl\n", o_.out.c_str());
    printf("plot: %s/loss.svg\n", o_.out.c_str());
    printf("%s: %.6f\n", val_->bytes ? "val_bpb" : "val_bits_per_token", r.bpb());
    return 0;
}

// ---- main ---------------------------------------------------------------------------------------
int run(int argc, char **argv) {
    Args args;
    args.option("--data").option("--val").option("--val-fraction").option("--out").option("--preset").flag("--fp32");
    args.option("--init-std").option("--seed").option("--steps").option("--batch").option("--optimizer");
    args.option("--lr").option("--adam-lr").option("--beta1").option("--beta2").option("--eps");
    args.option("--weight-decay").option("--momentum").flag("--no-nesterov").option("--ns-steps");
    args.option("--grad-clip").option("--schedule").option("--warmup").option("--warmdown").option("--min-lr-frac");
    args.option("--time-limit").option("--eval-every").option("--eval-tokens").option("--final-eval-tokens");
    args.option("--sample-every").option("--sample-len").option("--checkpoint-every").option("--log-every");
    args.option("--max-bytes").option("--threads").option("--gemm").option("--device").option("--micro-batch");
    args.option("--gpu-precision");
    add_shape_options(args);
    if (!args.parse(argc, argv, 1)) return usage_error(args.error());
    if (args.has("help")) {
        printf(kHelp, kShapeHelp);
        return 0;
    }
    if (!args.positional().empty()) return usage_error("unexpected argument '" + args.positional()[0] + "'");
    Options o;
    std::string err = parse_options(args, &o);
    if (!err.empty()) return usage_error(err);
    const bitlm_status spec_st = check_train_spec(o.spec);
    if (spec_st != BITLM_OK) return usage_error(std::string("model: ") + bitlm_status_message(spec_st));
    RandomModelSpec sizing;
    sizing.config = o.spec.config;
    sizing.storage = o.spec.storage;
    SizeBreakdown size;
    err = random_model_size(sizing, &size);
    if (!err.empty()) return usage_error(err);
    if (o.max_bytes && size.total > o.max_bytes)
        return failure("the packed model would be " + std::to_string(size.total) + " bytes, over --max-bytes " +
                       std::to_string(o.max_bytes) + " by " + std::to_string(size.total - o.max_bytes));

    // Data.
    TokenData train, val_file;
    err = load_tokens(o.data, &train);
    if (!err.empty()) return failure(err);
    const TokenData *val = &train;
    DataSplit split;
    if (!o.val.empty()) {
        err = load_tokens(o.val, &val_file);
        if (!err.empty()) return failure(err);
        val = &val_file;
        split = DataSplit{0, train.tokens.size(), 0, val_file.tokens.size()};
    } else {
        split = split_train_val(train.tokens.size(), o.val_fraction);
        if (split.val_end - split.val_begin < 2)
            return failure("no validation data: give --val FILE or a --val-fraction that leaves at least 2 tokens");
    }
    const uint32_t T = o.spec.config.max_seq_len, V = o.spec.config.vocab_size;
    err = check_data_fits(train, split.train_begin, split.train_end, T, V, "training");
    if (!err.empty()) return failure(err);
    err = check_data_fits(*val, split.val_begin, split.val_end, 1, V, "validation");
    if (!err.empty()) return failure(err);

    err = make_dir(o.out);
    if (!err.empty()) return failure(err);

    host::ThreadPool pool(o.threads);
    host::CpuTrainBackend cpu(o.threads > 1 ? &pool : nullptr, o.gemm.empty() ? nullptr : o.gemm.c_str());
    if (!cpu.ok()) return usage_error(cpu.error());

    Trainer trainer(o, cpu.backend());
    err = trainer.setup(train, *val, split);
    if (!err.empty()) return failure(err);
    const std::string ckpt_path = o.out + "/checkpoint.bin";
    if (file_exists(ckpt_path)) {
        Checkpoint ckpt;
        err = read_checkpoint(ckpt_path, &ckpt);
        if (!err.empty()) return failure(err);
        err = trainer.resume(ckpt);
        if (!err.empty()) return failure(err);
        err = truncate_log(o.out + "/log.jsonl", trainer.step());  // the log continues exactly at the checkpoint
        if (!err.empty()) return failure(err);
    } else if (file_exists(o.out + "/log.jsonl")) {
        err = truncate_log(o.out + "/log.jsonl", 0);
        if (!err.empty()) return failure(err);
    }
    printf("preset: %s%s\n", o.preset.c_str(), o.spec.fp32 ? " (fp32)" : "");
    printf("shape: %s\n", describe_shape(o.spec.config).c_str());
    printf("storage: %s\n", describe_storage(o.spec.config, o.spec.storage).c_str());
    printf("data: %s (%zu %s; train %zu, val %zu)\n", o.data.c_str(), train.tokens.size(),
           train.bytes ? "bytes" : "tokens", split.train_end - split.train_begin, split.val_end - split.val_begin);
    if (o.val.empty())  // `bitlm_run eval MODEL FILE --skip-bytes START` scores the same text
        printf("val_split: bytes %zu..%zu of %s\n", split.val_begin, split.val_end, o.data.c_str());
    if (o.cuda)
        printf("backend: %s, micro-batch %u, %s GEMMs\n", trainer.backend_name(), trainer.micro_batch(),
               o.gpu_precision == 0 ? "fp32" : o.gpu_precision == 1 ? "tf32" : "bf16");
    else
        printf("backend: %s, %u threads\n", cpu.backend()->name, o.threads);
    printf("weights: %llu in %u tensors\n", (unsigned long long)trainer.weight_count(), train_param_count(o.spec));
    printf("step_memory_bytes: %llu\n", (unsigned long long)trainer.step_bytes());
    printf("packed_bytes: %llu\n", (unsigned long long)size.total);
    fflush(stdout);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    return trainer.run();
}

}  // namespace

int main(int argc, char **argv) {
    try {
        return run(argc, argv);
    } catch (const std::bad_alloc &) {
        fprintf(stderr, "bitlm_train: out of memory\n");
    } catch (const std::exception &e) {
        fprintf(stderr, "bitlm_train: %s\n", e.what());
    }
    return 1;
}
