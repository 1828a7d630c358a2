// test_train_log.cpp — the trainer's JSON-lines log: reading loss / val_bpb points (odd lines, a torn
// last line, step limits), truncating it for a resume, and the SVG plot of the two curves.

#include "temp_dir.h"  // first: it sets the large-file interface (see there)

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "train/train_log.h"

using namespace bitlm::tools;
using test::TempDir;
using test::read_bytes;
using test::write_bytes;
using test::read_text;
using test::write_text;

namespace {

bool contains(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

size_t count_of(const std::string &text, const std::string &part) {
    size_t n = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) n++;
    return n;
}

bool same_points(const std::vector<LogPoint> &got, const std::vector<LogPoint> &want) {
    if (got.size() != want.size()) return false;
    for (size_t i = 0; i < got.size(); i++) {
        if (got[i].step != want[i].step) return false;
        if (std::isnan(want[i].value) ? !std::isnan(got[i].value) : got[i].value != want[i].value) return false;
    }
    return true;
}

// A log with every kind of line the reader must take or skip.
const char *kLog =
    "{\"step\":0,\"loss\":5.5,\"lr\":0.0001,\"tokens_per_s\":1234.5}\n"
    "{\"event\":\"start\",\"config\":\"a,b}\"}\n"              // no step: ignored by the reader
    "{\"step\":10,\"loss\":4.25,\"note\":\"has \\\"quotes\\\" and , commas\"}\n"
    "\n"
    "not json at all\n"
    "{\"step\":20, \"loss\" : 3.0 , \"grad_norm\":0.5}\r\n"      // spaces and CRLF
    "{\"step\":20,\"val_bpb\":2.61,\"val_loss\":1.80}\n"
    "{\"step\":25,\"nested\":{\"loss\":[9,\"]}\"]},\"loss\":1}\n"  // a nested value is skipped
    "{\"step\":30,\"loss\":\"2.0\"}\n"                           // a string, not a number
    "{\"step\":30,\"val_loss\":7,\"loss\":2.5e0}\n"
    "{\"step\":\"35\",\"loss\":2.4}\n"                           // step as a string: no step
    "{\"step\":40,\"val_bpb\":2.2}\n"
    "{\"step\":50,\"loss\":null}\n"
    "{\"step\":60,\"loss\":1.9,\"lr\":0.001}\n"
    "{\"step\":70,\"loss\":1.";                                  // torn by a crash

void test_read(const TempDir &dir) {
    const std::string path = dir.file("log.jsonl");
    write_text(path, kLog);
    std::vector<LogPoint> loss, bpb;
    CHECK(read_log_points(path, UINT64_MAX, &loss, &bpb) == "");
    CHECK(same_points(loss, {{0, 5.5}, {10, 4.25}, {20, 3.0}, {25, 1}, {30, 2.5}, {50, NAN}, {60, 1.9}}));
    CHECK(same_points(bpb, {{20, 2.61}, {40, 2.2}}));

    loss.clear(), bpb.clear();
    CHECK(read_log_points(path, 20, &loss, &bpb) == "");
    CHECK(same_points(loss, {{0, 5.5}, {10, 4.25}, {20, 3.0}}));
    CHECK(same_points(bpb, {{20, 2.61}}));
    loss.clear();
    CHECK(read_log_points(path, 0, &loss, nullptr) == "");
    CHECK(same_points(loss, {{0, 5.5}}));

    // A complete last line without its newline still counts.
    write_text(path, "{\"step\":1,\"loss\":3}\n{\"step\":2,\"loss\":2.5}");
    loss.clear();
    CHECK(read_log_points(path, UINT64_MAX, &loss, nullptr) == "");
    CHECK(same_points(loss, {{1, 3}, {2, 2.5}}));
    // Huge steps, and one that overflows (no step).
    write_text(path, "{\"step\":18446744073709551615,\"loss\":1}\n{\"step\":18446744073709551616,\"loss\":2}\n");
    loss.clear();
    CHECK(read_log_points(path, UINT64_MAX, &loss, nullptr) == "");
    CHECK(loss.size() == 1 && loss[0].step == UINT64_MAX);

    // Empty log: no points; missing log: an error.
    write_text(path, "");
    loss.clear();
    CHECK(read_log_points(path, UINT64_MAX, &loss, &bpb) == "" && loss.empty());
    const std::string err = read_log_points(dir.file("missing.jsonl"), UINT64_MAX, &loss, &bpb);
    CHECK_MSG(err.find("cannot open '" + dir.file("missing.jsonl") + "'") == 0, "%s", err.c_str());
    unlink(path.c_str());
}

void test_truncate(const TempDir &dir) {
    const std::string path = dir.file("trunc.jsonl");
    // Missing: nothing to do, nothing created.
    CHECK(truncate_log(path, 10) == "");
    CHECK(dir.entries().empty());

    write_text(path, kLog);
    CHECK(truncate_log(path, 20) == "");
    const std::string expect =
        "{\"step\":0,\"loss\":5.5,\"lr\":0.0001,\"tokens_per_s\":1234.5}\n"
        "{\"event\":\"start\",\"config\":\"a,b}\"}\n"
        "{\"step\":10,\"loss\":4.25,\"note\":\"has \\\"quotes\\\" and , commas\"}\n"
        "\n"
        "not json at all\n"
        "{\"step\":20, \"loss\" : 3.0 , \"grad_norm\":0.5}\r\n"
        "{\"step\":20,\"val_bpb\":2.61,\"val_loss\":1.80}\n"
        "{\"step\":\"35\",\"loss\":2.4}\n";  // kept: it has no (numeric) step
    const std::string got = read_text(path);
    CHECK_MSG(got == expect, "got:\n%s", got.c_str());
    CHECK(dir.entries().size() == 1);  // no temporary left behind
    // Idempotent, and appending continues on a fresh line.
    CHECK(truncate_log(path, 20) == "");
    CHECK(read_text(path) == expect);
    std::vector<LogPoint> loss, bpb;
    CHECK(read_log_points(path, UINT64_MAX, &loss, &bpb) == "");
    CHECK(same_points(loss, {{0, 5.5}, {10, 4.25}, {20, 3.0}}));
    CHECK(same_points(bpb, {{20, 2.61}}));

    // Keeping everything still drops a torn last line; a complete one gets its newline back.
    write_text(path, "{\"step\":1,\"loss\":3}\n{\"step\":2,\"lo");
    CHECK(truncate_log(path, UINT64_MAX) == "");
    CHECK(read_text(path) == "{\"step\":1,\"loss\":3}\n");
    write_text(path, "{\"step\":1,\"loss\":3}\n{\"step\":2,\"loss\":2}");
    CHECK(truncate_log(path, UINT64_MAX) == "");
    CHECK(read_text(path) == "{\"step\":1,\"loss\":3}\n{\"step\":2,\"loss\":2}\n");
    CHECK(truncate_log(path, 0) == "");
    CHECK(read_text(path) == "");
    CHECK(truncate_log(path, 5) == "");  // an empty log stays empty
    CHECK(read_text(path) == "");
    unlink(path.c_str());
    CHECK(truncate_log(dir.path, 5) != "");  // a directory is not a log
}

// The points="..." list of the polyline with this class, as (x, y) pairs.
std::vector<std::pair<double, double>> polyline_points(const std::string &svg, const std::string &cls) {
    std::vector<std::pair<double, double>> out;
    const size_t at = svg.find("<polyline class=\"" + cls + "\"");
    if (at == std::string::npos) return out;
    const size_t p = svg.find("points=\"", at);
    const size_t e = svg.find('"', p + 8);
    const std::string list = svg.substr(p + 8, e - p - 8);
    size_t i = 0;
    while (i < list.size()) {
        double x, y;
        int used = 0;
        if (std::sscanf(list.c_str() + i, "%lf,%lf%n", &x, &y, &used) != 2) break;
        out.push_back({x, y});
        i += (size_t)used;
        while (i < list.size() && list[i] == ' ') i++;
    }
    return out;
}

void test_svg(const TempDir &dir) {
    const std::string path = dir.file("loss.svg");
    std::vector<LogPoint> loss, bpb;
    for (uint64_t s = 0; s <= 1000; s += 10) loss.push_back({s, 4.0 - 2.5 * (double)s / 1000});
    loss[5].value = NAN;
    loss[6].value = INFINITY;
    loss[7].value = -INFINITY;
    for (uint64_t s = 100; s <= 1000; s += 100) bpb.push_back({s, 3.0 - (double)s / 1000});
    bpb.push_back({1000, NAN});
    CHECK(write_loss_svg(path, loss, bpb, "run <a> & \"b\"") == "");
    std::string svg = read_text(path);
    CHECK(svg.find("<?xml") == 0);
    CHECK(contains(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"450\""));
    CHECK(svg.size() > 10 && svg.compare(svg.size() - 7, 7, "</svg>\n") == 0);
    CHECK(contains(svg, ">run &lt;a&gt; &amp; &quot;b&quot;</text>"));
    CHECK(!contains(svg, "nan") && !contains(svg, "inf"));
    const auto train = polyline_points(svg, "train-loss"), val = polyline_points(svg, "val-bpb");
    CHECK(train.size() == loss.size() - 3);  // the non-finite values are skipped
    CHECK(val.size() == 10);
    CHECK(count_of(svg, "<circle") == 10 + 1);  // val markers + the legend's
    bool inside = true, x_increases = true;
    for (const auto *pts : {&train, &val})
        for (size_t i = 0; i < pts->size(); i++) {
            const auto &p = (*pts)[i];
            inside &= p.first >= 0 && p.first <= 800 && p.second >= 0 && p.second <= 450;
            if (i) x_increases &= p.first > (*pts)[i - 1].first;
        }
    CHECK(inside);
    CHECK(x_increases);
    // The train loss falls, so its last point is drawn lower on the page (SVG y grows downwards).
    CHECK(!train.empty() && train.back().second > train.front().second);
    // Round ticks: steps 0..1000 by 200; values 1..5 by 1 (loss spans 1.5..4, bpb 2..2.9, plus 4% air).
    for (const char *label : {">0<", ">200<", ">400<", ">1000<", ">1<", ">3<", ">5<"})
        CHECK_MSG(contains(svg, label), "tick label %s", label);
    CHECK(contains(svg, "train loss") && contains(svg, "val bpb"));

    // Empty series: a valid plot saying there is no data.
    CHECK(write_loss_svg(path, {}, {}, "empty") == "");
    svg = read_text(path);
    CHECK(contains(svg, "no data yet") && !contains(svg, "<polyline") && contains(svg, "</svg>"));
    // Only non-finite values: the same.
    CHECK(write_loss_svg(path, {{1, NAN}, {2, INFINITY}}, {}, "") == "");
    svg = read_text(path);
    CHECK(contains(svg, "no data yet") && !contains(svg, "nan") && !contains(svg, "inf"));
    // One point each: markers, no polylines, finite coordinates.
    CHECK(write_loss_svg(path, {{5, 2.0}}, {{5, 2.0}}, "one") == "");
    svg = read_text(path);
    CHECK(!contains(svg, "<polyline") && count_of(svg, "<circle") == 3);
    CHECK(!contains(svg, "nan") && !contains(svg, "inf"));
    // Huge and tiny values stay finite on the page.
    CHECK(write_loss_svg(path, {{0, 1e300}, {1, -1e300}, {2, 1e-300}}, {}, "wild") == "");
    svg = read_text(path);
    CHECK(polyline_points(svg, "train-loss").size() == 3 && !contains(svg, "nan") && !contains(svg, "inf"));

    CHECK(write_loss_svg(dir.file("no/such/dir.svg"), loss, bpb, "x") != "");
    unlink(path.c_str());
    CHECK(dir.entries().empty());
}

}  // namespace

int main() {
    TempDir dir("train_log");
    CHECK(!dir.path.empty());
    if (dir.path.empty()) return check::finish("test_train_log");
    test_read(dir);
    test_truncate(dir);
    test_svg(dir);
    return check::finish("test_train_log");
}
