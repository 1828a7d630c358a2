// train_log.cpp — a scanner for the trainer's flat JSON-lines log, its truncation on resume, and the
// loss / val_bpb SVG plot (hand-written SVG: axes, round ticks, two series, legend).

// Large-file interface on 32-bit hosts (armv7): stat() of a file with a 64-bit inode number fails without it.
#define _FILE_OFFSET_BITS 64
#include "train/train_log.h"

#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "host/file_io.h"

namespace bitlm {
namespace tools {

namespace {

// ---- the line scanner --------------------------------------------------------------------------

// What the log readers need from one line.
struct LineFields {
    bool has_step = false, has_loss = false, has_val_bpb = false;
    uint64_t step = 0;
    double loss = 0.0, val_bpb = 0.0;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool parse_step(const std::string &token, uint64_t *out) {
    if (token.empty() || token.size() > 20) return false;
    uint64_t v = 0;
    for (char c : token) {
        if (c < '0' || c > '9') return false;
        const uint64_t digit = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - digit) / 10) return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

// A number token (strtod also takes the NaN/Infinity spellings some writers use); null reads as NaN.
bool parse_value(const std::string &token, double *out) {
    if (token == "null") {
        *out = NAN;
        return true;
    }
    if (token.empty()) return false;
    char *end = nullptr;
    const double v = std::strtod(token.c_str(), &end);
    if (end != token.c_str() + token.size()) return false;
    *out = v;
    return true;
}

// Scans one line (without its newline) as a flat JSON object. False if it is not one: nested
// values, a missing brace (a torn write), junk after the object.
bool scan_line(const char *p, const char *end, LineFields *f) {
    *f = LineFields();
    auto skip_space = [&]() {
        while (p < end && is_space(*p)) p++;
    };
    // A JSON string starting at p; its raw contents (escapes kept as written) go to *text.
    auto scan_string = [&](std::string *text) {
        if (p >= end || *p != '"') return false;
        const char *start = ++p;
        while (p < end && *p != '"') p += (*p == '\\' && p + 1 < end) ? 2 : 1;
        if (p >= end) return false;
        if (text) text->assign(start, p);
        p++;
        return true;
    };
    skip_space();
    if (p >= end || *p != '{') return false;
    p++;
    skip_space();
    bool closed = false;
    if (p < end && *p == '}') {
        p++;
        closed = true;
    }
    while (!closed) {
        std::string key, token;
        skip_space();
        if (!scan_string(&key)) return false;
        skip_space();
        if (p >= end || *p != ':') return false;
        p++;
        skip_space();
        if (p >= end) return false;
        bool is_string = false;
        if (*p == '"') {
            if (!scan_string(nullptr)) return false;
            is_string = true;
        } else if (*p == '{' || *p == '[') {
            // A nested value is skipped whole (brackets balanced, strings respected): the trainer writes
            // flat lines, but one with, say, a config object still has its top-level step read.
            int depth = 0;
            do {
                if (*p == '"') {
                    if (!scan_string(nullptr)) return false;
                    continue;
                }
                if (*p == '{' || *p == '[') depth++;
                else if (*p == '}' || *p == ']') depth--;
                p++;
            } while (depth > 0 && p < end);
            if (depth > 0) return false;
            is_string = true;  // not a number either way
        } else {
            const char *start = p;
            while (p < end && *p != ',' && *p != '}' && !is_space(*p)) {
                if (*p == '{' || *p == '[' || *p == '"') return false;
                p++;
            }
            token.assign(start, p);
            if (token.empty()) return false;
        }
        if (!is_string) {
            if (key == "step") f->has_step = parse_step(token, &f->step);
            else if (key == "loss") f->has_loss = parse_value(token, &f->loss);
            else if (key == "val_bpb") f->has_val_bpb = parse_value(token, &f->val_bpb);
        }
        skip_space();
        if (p >= end) return false;
        if (*p == '}') closed = true;
        else if (*p != ',') return false;
        p++;
    }
    skip_space();
    return p == end;
}

// Reads the log's bytes; a missing file is reported through *missing (not an error here).
std::string read_log_text(const std::string &path, std::string *text, bool *missing) {
    text->clear();
    *missing = false;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        if (errno != ENOENT) return "cannot open '" + path + "': " + std::strerror(errno);
        *missing = true;
        return "";
    }
    if (S_ISREG(st.st_mode) && st.st_size == 0) return "";  // an empty log has no lines
    host::AlignedBuffer buf;
    std::string err = host::read_file(path, &buf);
    if (!err.empty()) return err;
    text->assign(reinterpret_cast<const char *>(buf.data()), buf.size());
    return "";
}

// Calls each(line_begin, line_end, terminated) for every line of text.
template <typename Each>
void for_each_line(const std::string &text, Each each) {
    size_t start = 0;
    while (start < text.size()) {
        const size_t nl = text.find('\n', start);
        const bool terminated = nl != std::string::npos;
        const size_t stop = terminated ? nl : text.size();
        each(text.data() + start, text.data() + stop, terminated);
        start = stop + 1;
    }
}

// ---- SVG helpers -------------------------------------------------------------------------------

std::string fmt(const char *format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

std::string px(double v) { return fmt("%.1f", v); }

std::string xml_escape(const std::string &s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default:
                // XML 1.0 forbids most control characters even escaped.
                out += ((unsigned char)c < 0x20 && c != '\t') ? ' ' : c;
        }
    }
    return out;
}

// 1, 2 or 5 times a power of ten, at least `raw`.
double nice_step(double raw) {
    if (!(raw > 0) || !std::isfinite(raw)) return 1.0;
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    const double f = raw / p;
    return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * p;
}

// An axis: [lo, hi] widened to whole multiples of a round step.
struct Axis {
    double lo, hi, step;
    int decimals;  // of the tick labels
    double frac(double v) const { return (v - lo) / (hi - lo); }
};

Axis make_axis(double lo, double hi, int target_ticks, double min_step) {
    Axis a;
    a.step = std::max(nice_step((hi - lo) / (target_ticks - 1)), min_step);
    a.lo = std::floor(lo / a.step) * a.step;
    a.hi = std::ceil(hi / a.step) * a.step;
    if (a.hi <= a.lo) a.hi = a.lo + a.step;
    a.decimals = a.step >= 1.0 ? 0 : (int)std::ceil(-std::log10(a.step) - 1e-9);
    return a;
}

std::string tick_label(const Axis &a, double v) {
    if (std::fabs(v) < a.step * 1e-9) v = 0.0;  // no "-0"
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", a.decimals, v);
    return buf;
}

// Finite points only; values clamped so that ranges and their differences stay finite.
std::vector<LogPoint> plottable(const std::vector<LogPoint> &in) {
    std::vector<LogPoint> out;
    for (const LogPoint &p : in)
        if (std::isfinite(p.value)) out.push_back({p.step, std::min(std::max(p.value, -1e150), 1e150)});
    return out;
}

}  // namespace

// ---- reading and truncating the log ------------------------------------------------------------

std::string read_log_points(const std::string &path, uint64_t max_step, std::vector<LogPoint> *train_loss,
                            std::vector<LogPoint> *val_bpb) {
    std::string text;
    bool missing;
    std::string err = read_log_text(path, &text, &missing);
    if (!err.empty()) return err;
    if (missing) return "cannot open '" + path + "': " + std::strerror(ENOENT);
    for_each_line(text, [&](const char *b, const char *e, bool) {
        LineFields f;
        if (!scan_line(b, e, &f) || !f.has_step || f.step > max_step) return;
        if (f.has_loss && train_loss) train_loss->push_back({f.step, f.loss});
        if (f.has_val_bpb && val_bpb) val_bpb->push_back({f.step, f.val_bpb});
    });
    return "";
}

std::string truncate_log(const std::string &path, uint64_t max_step) {
    std::string text;
    bool missing;
    std::string err = read_log_text(path, &text, &missing);
    if (!err.empty() || missing || text.empty()) return err;
    std::string kept;
    kept.reserve(text.size());
    for_each_line(text, [&](const char *b, const char *e, bool terminated) {
        LineFields f;
        const bool complete = scan_line(b, e, &f);
        if (!terminated && !complete) return;       // torn by a crash mid-write
        if (complete && f.has_step && f.step > max_step) return;
        kept.append(b, e);
        kept += '\n';
    });
    if (kept == text) return "";
    return host::write_file_atomic(path, kept.data(), kept.size());
}

// ---- the plot ----------------------------------------------------------------------------------

std::string write_loss_svg(const std::string &path, const std::vector<LogPoint> &train_loss,
                           const std::vector<LogPoint> &val_bpb, const std::string &title) {
    const double W = 800, H = 450;
    const double left = 72, right = W - 24, top = 48, bottom = H - 56;
    const char *train_color = "#1f77b4", *val_color = "#d62728";
    const std::vector<LogPoint> train = plottable(train_loss), val = plottable(val_bpb);

    // Data ranges over both series; defaults for no data, a width for a single value.
    bool any = false;
    double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
    for (const auto *series : {&train, &val})
        for (const LogPoint &p : *series) {
            const double x = (double)p.step;
            if (!any) {
                x_min = x_max = x;
                y_min = y_max = p.value;
                any = true;
            }
            x_min = std::min(x_min, x), x_max = std::max(x_max, x);
            y_min = std::min(y_min, p.value), y_max = std::max(y_max, p.value);
        }
    if (x_max <= x_min) {  // one step: put it in the middle
        x_max = x_min + 1;
        if (x_min >= 1) x_min -= 1;
    }
    if (y_max <= y_min) {
        const double pad = y_min != 0 ? std::fabs(y_min) * 0.1 : 1.0;
        y_min -= pad;
        y_max += pad;
    } else if (any) {  // a little air so the extremes do not sit on the frame (no negative axis for losses)
        const double pad = (y_max - y_min) * 0.04;
        y_min = (y_min >= 0 && y_min - pad < 0) ? 0.0 : y_min - pad;
        y_max += pad;
    }
    const Axis ax = make_axis(x_min, x_max, 8, 1.0);  // steps are integers: no fractional ticks
    const Axis ay = make_axis(y_min, y_max, 6, 0.0);
    auto sx = [&](double x) { return left + ax.frac(x) * (right - left); };
    auto sy = [&](double y) { return bottom - ay.frac(y) * (bottom - top); };

    std::string s;
    s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"450\" viewBox=\"0 0 800 450\" "
         "font-family=\"sans-serif\" font-size=\"12\">\n";
    s += "<rect x=\"0\" y=\"0\" width=\"800\" height=\"450\" fill=\"white\"/>\n";
    s += "<text x=\"" + px(W / 2) + "\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">" + xml_escape(title) +
         "</text>\n";

    // Grid and tick labels (at most ~a dozen ticks per axis by construction; the cap guards rounding).
    s += "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
    std::string labels;
    for (int i = 0; i <= 64; i++) {
        const double v = ax.lo + i * ax.step;
        if (v > ax.hi + ax.step * 1e-6) break;
        s += "<line x1=\"" + px(sx(v)) + "\" y1=\"" + px(top) + "\" x2=\"" + px(sx(v)) + "\" y2=\"" + px(bottom) + "\"/>\n";
        labels += "<text x=\"" + px(sx(v)) + "\" y=\"" + px(bottom + 18) + "\" text-anchor=\"middle\">" +
                  tick_label(ax, v) + "</text>\n";
    }
    for (int i = 0; i <= 64; i++) {
        const double v = ay.lo + i * ay.step;
        if (v > ay.hi + ay.step * 1e-6) break;
        s += "<line x1=\"" + px(left) + "\" y1=\"" + px(sy(v)) + "\" x2=\"" + px(right) + "\" y2=\"" + px(sy(v)) + "\"/>\n";
        labels += "<text x=\"" + px(left - 8) + "\" y=\"" + px(sy(v) + 4) + "\" text-anchor=\"end\">" +
                  tick_label(ay, v) + "</text>\n";
    }
    s += "</g>\n<g fill=\"#333\">\n" + labels + "</g>\n";
    s += "<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(right - left) + "\" height=\"" +
         px(bottom - top) + "\" fill=\"none\" stroke=\"#333\"/>\n";
    s += "<text x=\"" + px((left + right) / 2) + "\" y=\"" + px(H - 14) + "\" text-anchor=\"middle\">step</text>\n";
    s += "<text transform=\"translate(18," + px((top + bottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">train loss (nats) / val bpb (bits per byte)</text>\n";
    if (!any)
        s += "<text x=\"" + px((left + right) / 2) + "\" y=\"" + px((top + bottom) / 2) +
             "\" text-anchor=\"middle\" fill=\"#888\">no data yet</text>\n";

    // The series: a polyline needs two points; a lone point still shows as a marker.
    auto polyline = [&](const std::vector<LogPoint> &pts, const char *cls, const char *color) {
        if (pts.size() < 2) return;
        s += "<polyline class=\"" + std::string(cls) + "\" fill=\"none\" stroke=\"" + color +
             "\" stroke-width=\"1.5\" stroke-linejoin=\"round\" points=\"";
        for (size_t i = 0; i < pts.size(); i++)
            s += (i ? " " : "") + px(sx((double)pts[i].step)) + "," + px(sy(pts[i].value));
        s += "\"/>\n";
    };
    auto markers = [&](const std::vector<LogPoint> &pts, const char *color) {
        for (const LogPoint &p : pts)
            s += "<circle cx=\"" + px(sx((double)p.step)) + "\" cy=\"" + px(sy(p.value)) + "\" r=\"3\" fill=\"" +
                 color + "\"/>\n";
    };
    polyline(train, "train-loss", train_color);
    if (train.size() == 1) markers(train, train_color);
    polyline(val, "val-bpb", val_color);
    markers(val, val_color);

    // Legend, top right inside the plot.
    const double lx = right - 150, ly = top + 10;
    s += "<rect x=\"" + px(lx) + "\" y=\"" + px(ly) + "\" width=\"140\" height=\"46\" fill=\"white\" "
         "fill-opacity=\"0.85\" stroke=\"#999\"/>\n";
    s += "<line x1=\"" + px(lx + 8) + "\" y1=\"" + px(ly + 15) + "\" x2=\"" + px(lx + 32) + "\" y2=\"" + px(ly + 15) +
         "\" stroke=\"" + train_color + "\" stroke-width=\"2\"/>\n";
    s += "<text x=\"" + px(lx + 40) + "\" y=\"" + px(ly + 19) + "\">train loss</text>\n";
    s += "<line x1=\"" + px(lx + 8) + "\" y1=\"" + px(ly + 33) + "\" x2=\"" + px(lx + 32) + "\" y2=\"" + px(ly + 33) +
         "\" stroke=\"" + val_color + "\" stroke-width=\"2\"/>\n";
    s += "<circle cx=\"" + px(lx + 20) + "\" cy=\"" + px(ly + 33) + "\" r=\"3\" fill=\"" + val_color + "\"/>\n";
    s += "<text x=\"" + px(lx + 40) + "\" y=\"" + px(ly + 37) + "\">val bpb</text>\n";
    s += "</svg>\n";
    return host::write_file_atomic(path, s.data(), s.size());
}

}  // namespace tools
}  // namespace bitlm
