// test_kernels.cpp — the reference kernels against a naive computation from unpacked weights, and
// every other kernel table of this build (those this CPU runs) against the reference, bit for bit, at
// awkward sizes and edge cases (tests/unit/kernel_checks.h).
//   test_kernels --bench   G weight-tokens/s of each table's ternary matmul, one thread, on the
//                          bench-180m matrix shapes: in cache (one matrix) and streamed (a stack of 64,
//                          30 MB: about the L3 of the machines we measure on; of 256: from DRAM)
#include <cstdio>

#include "best_time.h"
#include "kernel_checks.h"

namespace {

// Best time of at least 5 runs and ~0.5 s of `stack` row-scale ternary rows x cols matrices (random
// weights) times n_tok random activations, one kernel call per matrix.
double bench_matmul(const bitlm_kernels *k, uint32_t rows, uint32_t cols, uint32_t n_tok, uint32_t stack) {
    using namespace kernel_checks;
    std::mt19937 rng(5);
    std::vector<Matrix> mats;
    for (uint32_t i = 0; i < stack; i++) mats.push_back(make_matrix(DType::Ternary, ScaleKind::Row, rows, cols, 0, rng));
    std::vector<int8_t> x((size_t)n_tok * cols);
    std::uniform_int_distribution<int> xi(-127, 127);
    for (auto &v : x) v = (int8_t)xi(rng);
    std::vector<float> xs(n_tok, 0.01f), y((size_t)n_tok * rows);
    const double best = timing::best_seconds(
        [&] {
            for (const Matrix &m : mats) k->matmul_q8(&m.view, x.data(), xs.data(), n_tok, 0, rows, y.data(), rows);
        },
        5, 0.5);
    return (double)rows * cols * n_tok * stack / best * 1e-9;
}

void bench() {
    struct Case {
        const char *what;
        uint32_t rows, cols, n_tok, stack;
    };
    const Case cases[] = {
        {"GEMV 2304x1024 in cache", 2304, 1024, 1, 1},     {"GEMV 1024x2304 in cache", 1024, 2304, 1, 1},
        {"GEMV 2304x1024 x64 (30 MB)", 2304, 1024, 1, 64}, {"GEMV 1024x2304 x64 (30 MB)", 1024, 2304, 1, 64},
        {"GEMV 2304x1024 x256 (120 MB)", 2304, 1024, 1, 256}, {"GEMV 1024x2304 x256 (120 MB)", 1024, 2304, 1, 256},
        {"GEMM 2304x1024, 128 tok", 2304, 1024, 128, 1},   {"GEMM 1024x2304, 128 tok", 1024, 2304, 128, 1},
    };
    std::printf("G weight-tokens/s, one thread, best of >= 5 runs and ~0.5 s (ternary, row scales)\n%-28s", "case");
    for (uint32_t i = 1; i < bitlm_kernel_table_count(); i++) std::printf(" %10s", bitlm_kernel_table(i)->name);
    std::printf("\n");
    for (const Case &c : cases) {
        std::printf("%-28s", c.what);
        for (uint32_t i = 1; i < bitlm_kernel_table_count(); i++) {  // the reference (table 0) is ~100x slower
            std::printf(" %10.1f", bench_matmul(bitlm_kernel_table(i), c.rows, c.cols, c.n_tok, c.stack));
            std::fflush(stdout);
        }
        std::printf("\n");
    }
}

}  // namespace

int main(int argc, char **argv) {
    if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) {
        bench();
        return 0;
    }
    using namespace kernel_checks;
    check_kernel_table(bitlm_reference_kernels(), /*against_naive=*/true);
    std::printf("kernels tested: %s", bitlm_reference_kernels()->name);
    bool default_listed = false;
    for (uint32_t i = 0; i < bitlm_kernel_table_count(); i++) {
        const bitlm_kernels *k = bitlm_kernel_table(i);
        default_listed = default_listed || k == bitlm_default_kernels();
        if (k == bitlm_reference_kernels()) continue;
        check_kernel_table(k, /*against_naive=*/false);
        std::printf(", %s", k->name);
    }
    std::printf(" (default: %s)\n", bitlm_default_kernels()->name);
    CHECK(bitlm_kernel_table(0) == bitlm_reference_kernels() && default_listed);
    CHECK(bitlm_kernel_table(bitlm_kernel_table_count()) == nullptr);
    // Table names are unique (tools select a table by name).
    for (uint32_t i = 0; i < bitlm_kernel_table_count(); i++)
        for (uint32_t j = i + 1; j < bitlm_kernel_table_count(); j++)
            CHECK(std::strcmp(bitlm_kernel_table(i)->name, bitlm_kernel_table(j)->name) != 0);
    return check::finish("kernels");
}
