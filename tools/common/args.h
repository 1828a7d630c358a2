// args.h — a small command-line parser for the host tools.
//   --name value, --name=value, boolean flags (--name), short names (-o value), positional
//   arguments, "--" ends the flags. Typed getters check ranges; the first problem is kept as a
//   one-line message (without the tool name: the tool prints "tool: <message>").
//
//   Args args;
//   args.option("-o,--output").option("--threads").flag("--random");
//   if (!args.parse(argc, argv, 1)) die(args.error());
//   uint32_t threads = args.get_u32("threads", hw, 1, 4096);   // key = last name without dashes
//   if (!args.ok()) die(args.error());
#pragma once
#include <stdint.h>
#include <string>
#include <vector>

namespace bitlm {
namespace tools {

class Args {
public:
    Args();  // --help / -h is always known (flag "help")

    // names: comma-separated spellings, e.g. "-n,--new-tokens"; the key is the last one, dashes removed.
    Args &option(const char *names);  // takes a value
    Args &flag(const char *names);    // boolean, no value

    // Parses argv[first..argc). Returns false (see error()) on an unknown flag or a missing value.
    bool parse(int argc, char **argv, int first);

    bool has(const char *key) const;
    std::string get(const char *key, const std::string &def = "") const;
    const std::vector<std::string> &positional() const { return positional_; }

    // Typed getters: return `def` when absent; on a bad value record the error and return def.
    uint64_t get_u64(const char *key, uint64_t def, uint64_t lo = 0, uint64_t hi = UINT64_MAX);
    uint32_t get_u32(const char *key, uint32_t def, uint32_t lo = 0, uint32_t hi = UINT32_MAX);
    double get_f64(const char *key, double def, double lo, double hi);
    // One of `choices` (comma-separated, e.g. "relu2,swiglu"); returns its index, or def.
    int get_choice(const char *key, const char *choices, int def);
    // Comma-separated non-negative integers ("1,2,3").
    std::vector<int64_t> get_int_list(const char *key);

    bool ok() const { return error_.empty(); }
    const std::string &error() const { return error_; }
    void fail(const std::string &message) {  // records a message unless one is already kept
        if (error_.empty()) error_ = message;
    }

private:
    struct Spec {
        std::vector<std::string> names;
        std::string key;
        bool takes_value;
    };
    struct Value {
        std::string key, spelled, value;
    };
    const Spec *find(const std::string &name) const;
    const Value *find_value(const char *key) const;
    Args &add(const char *names, bool takes_value);

    std::vector<Spec> specs_;
    std::vector<Value> values_;  // in command-line order; the last one of a key wins
    std::vector<std::string> positional_;
    std::string error_;
};

// Strict number parsing (whole string, base 10, no sign for unsigned); false if malformed/overflow.
bool parse_u64(const std::string &text, uint64_t *out);
bool parse_f64(const std::string &text, double *out);  // finite numbers only

}  // namespace tools
}  // namespace bitlm
