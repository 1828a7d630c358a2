// args.cpp — the host tools' flag parser (see args.h).
#include "common/args.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

namespace bitlm {
namespace tools {

bool parse_u64(const std::string &text, uint64_t *out) {
    if (text.empty() || text.size() > 20) return false;
    uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        const uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool parse_f64(const std::string &text, double *out) {
    if (text.empty() || text.size() > 64) return false;
    const char first = text[0];
    if (!((first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.')) return false;
    errno = 0;
    char *end = nullptr;
    const double v = strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || errno == ERANGE || !isfinite(v)) return false;
    *out = v;
    return true;
}

Args::Args() { flag("-h,--help"); }

Args &Args::add(const char *names, bool takes_value) {
    Spec s;
    s.takes_value = takes_value;
    std::string all = names, cur;
    for (size_t i = 0; i <= all.size(); i++) {
        if (i == all.size() || all[i] == ',') {
            if (!cur.empty()) s.names.push_back(cur);
            cur.clear();
        } else {
            cur += all[i];
        }
    }
    const std::string &last = s.names.back();
    s.key = last.substr(last.find_first_not_of('-'));
    specs_.push_back(s);
    return *this;
}

Args &Args::option(const char *names) { return add(names, true); }
Args &Args::flag(const char *names) { return add(names, false); }

const Args::Spec *Args::find(const std::string &name) const {
    for (const Spec &s : specs_)
        for (const std::string &n : s.names)
            if (n == name) return &s;
    return nullptr;
}

bool Args::parse(int argc, char **argv, int first) {
    bool flags_done = false;
    for (int i = first; i < argc; i++) {
        const std::string arg = argv[i];
        if (flags_done || arg.size() < 2 || arg[0] != '-' || (arg[1] >= '0' && arg[1] <= '9')) {
            positional_.push_back(arg);
            continue;
        }
        if (arg == "--") {
            flags_done = true;
            continue;
        }
        std::string name = arg, value;
        bool inline_value = false;
        const size_t eq = arg.find('=');
        if (arg.compare(0, 2, "--") == 0 && eq != std::string::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
            inline_value = true;
        }
        const Spec *s = find(name);
        if (!s) {
            fail("unknown flag '" + name + "' (see --help)");
            return false;
        }
        if (!s->takes_value) {
            if (inline_value) {
                fail(name + " takes no value");
                return false;
            }
            values_.push_back({s->key, name, "1"});
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= argc) {
                fail(name + " needs a value");
                return false;
            }
            value = argv[++i];
        }
        values_.push_back({s->key, name, value});
    }
    return true;
}

const Args::Value *Args::find_value(const char *key) const {
    for (size_t i = values_.size(); i-- > 0;)
        if (values_[i].key == key) return &values_[i];
    return nullptr;
}

bool Args::has(const char *key) const { return find_value(key) != nullptr; }

std::string Args::get(const char *key, const std::string &def) const {
    const Value *v = find_value(key);
    return v ? v->value : def;
}

namespace {

// "a positive integer", "a non-negative integer", "an integer between 2 and 9"; when the value
// is too large, the bound is added ("a positive integer of at most 4096").
std::string describe_int_range(uint64_t lo, uint64_t hi, uint64_t type_max, bool too_large) {
    std::string what;
    if (lo == 0) what = "a non-negative integer";
    else if (lo == 1) what = "a positive integer";
    else if (hi >= type_max) return "an integer >= " + std::to_string(lo);
    else return "an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
    if (too_large && hi < type_max) what += " of at most " + std::to_string(hi);
    return what;
}

std::string number_text(double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace

uint64_t Args::get_u64(const char *key, uint64_t def, uint64_t lo, uint64_t hi) {
    const Value *v = find_value(key);
    if (!v) return def;
    uint64_t x = 0;
    const bool parsed = parse_u64(v->value, &x);
    if (!parsed || x < lo || x > hi) {
        // Too large: a number above the bound, or digits only that overflow 64 bits.
        const bool digits = !v->value.empty() && v->value.find_first_not_of("0123456789") == std::string::npos;
        const bool too_large = parsed ? x > hi : digits;
        fail(v->spelled + " expects " + describe_int_range(lo, hi, UINT64_MAX, too_large) + ", got '" + v->value + "'");
        return def;
    }
    return x;
}

uint32_t Args::get_u32(const char *key, uint32_t def, uint32_t lo, uint32_t hi) {
    const Value *v = find_value(key);
    if (!v) return def;
    uint64_t x = 0;
    const bool parsed = parse_u64(v->value, &x);
    if (!parsed || x < lo || x > hi) {
        // Too large: a number above the bound, or digits only that overflow 64 bits.
        const bool digits = !v->value.empty() && v->value.find_first_not_of("0123456789") == std::string::npos;
        const bool too_large = parsed ? x > hi : digits;
        fail(v->spelled + " expects " + describe_int_range(lo, hi, UINT32_MAX, too_large) + ", got '" + v->value + "'");
        return def;
    }
    return (uint32_t)x;
}

double Args::get_f64(const char *key, double def, double lo, double hi) {
    const Value *v = find_value(key);
    if (!v) return def;
    double x = 0;
    if (!parse_f64(v->value, &x) || x < lo || x > hi) {
        fail(v->spelled + " expects a number between " + number_text(lo) + " and " + number_text(hi) + ", got '" +
             v->value + "'");
        return def;
    }
    return x;
}

int Args::get_choice(const char *key, const char *choices, int def) {
    const Value *v = find_value(key);
    if (!v) return def;
    std::string all = choices, cur;
    int index = 0;
    for (size_t i = 0; i <= all.size(); i++) {
        if (i == all.size() || all[i] == ',') {
            if (cur == v->value) return index;
            cur.clear();
            index++;
        } else {
            cur += all[i];
        }
    }
    std::string list = all;
    for (char &c : list)
        if (c == ',') c = '|';
    fail(v->spelled + " expects one of " + list + ", got '" + v->value + "'");
    return def;
}

std::vector<int64_t> Args::get_int_list(const char *key) {
    std::vector<int64_t> out;
    const Value *v = find_value(key);
    if (!v) return out;
    std::string cur;
    const std::string &text = v->value;
    for (size_t i = 0; i <= text.size(); i++) {
        if (i == text.size() || text[i] == ',') {
            uint64_t x = 0;
            if (!parse_u64(cur, &x) || x > (uint64_t)INT32_MAX) {
                fail(v->spelled + " expects comma-separated non-negative integers, got '" + text + "'");
                return {};
            }
            out.push_back((int64_t)x);
            cur.clear();
        } else if (text[i] != ' ') {
            cur += text[i];
        }
    }
    return out;
}

}  // namespace tools
}  // namespace bitlm
