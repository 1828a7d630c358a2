// clock.h — a monotonic wall clock for host tools (timings, progress). Host only.
#pragma once
#include <chrono>

namespace bitlm {
namespace host {

// Seconds since an arbitrary fixed point; only differences mean anything. Never goes backwards.
inline double seconds() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

}  // namespace host
}  // namespace bitlm
