// check.h — the tiny test harness: CHECK records a failure and goes on; main() returns non-zero
// if anything failed. Each tests/unit/test_*.cpp is one binary run by tests/run_all.sh.
#pragma once
#include <cstdio>
#include <cstdlib>

namespace check {
inline int &failures() { static int n = 0; return n; }
inline int &checks() { static int n = 0; return n; }
inline int finish(const char *name) {
    std::printf("%s: %d checks, %d failed\n", name, checks(), failures());
    return failures() ? 1 : 0;
}
}  // namespace check

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        check::checks()++;                                                                  \
        if (!(cond)) {                                                                      \
            check::failures()++;                                                            \
            if (check::failures() <= 20) std::printf("  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                                   \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                \
    do {                                                                                    \
        check::checks()++;                                                                  \
        if (!(cond)) {                                                                      \
            check::failures()++;                                                            \
            if (check::failures() <= 20) {                                                  \
                std::printf("  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);               \
                std::printf(__VA_ARGS__);                                                   \
                std::printf("\n");                                                          \
            }                                                                               \
        }                                                                                   \
    } while (0)
