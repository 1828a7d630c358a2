// train_log.h — the trainer's JSON-lines log (reading its loss / val_bpb points, cutting it back to a
// checkpoint's step on resume) and the self-contained SVG plot of those two curves.
//
// Log lines are flat JSON objects the trainer writes, one per line, each with an integer "step":
//   {"step":12,"loss":2.345,"lr":0.001,"tokens_per_s":1234.5}
//   {"step":100,"val_bpb":2.61,"val_loss":1.80}
// A minimal scanner reads them: string keys, values that are strings or bare tokens (numbers, true,
// false, null, NaN); a nested object or array is skipped whole. Lines it cannot read are ignored; a
// last line without its newline (a write torn by a crash) counts only if it is a complete object.
#pragma once
#include <stdint.h>
#include <string>
#include <vector>

namespace bitlm {
namespace tools {

struct LogPoint {
    uint64_t step;
    double value;
};

// Appends the "loss" and "val_bpb" values of lines with step <= max_step, in file order (either
// output may be nullptr). A missing or empty log is an error / no points respectively.
std::string read_log_points(const std::string &path, uint64_t max_step, std::vector<LogPoint> *train_loss,
                            std::vector<LogPoint> *val_bpb);

// Rewrites the log atomically keeping only lines with step <= max_step (lines without a step are
// kept; a torn last line is dropped, a complete one missing its newline gets it back), so a resumed
// run appends right after its checkpoint's step. A missing file is fine: nothing to do.
std::string truncate_log(const std::string &path, uint64_t max_step);

// Writes an 800x450 SVG (atomically): axes with round tick values (step on x), the train loss as a
// polyline, the validation bpb as a polyline with markers, a legend and the title. Non-finite values
// are skipped; empty series and single points are drawn sensibly.
std::string write_loss_svg(const std::string &path, const std::vector<LogPoint> &train_loss,
                           const std::vector<LogPoint> &val_bpb, const std::string &title);

}  // namespace tools
}  // namespace bitlm
