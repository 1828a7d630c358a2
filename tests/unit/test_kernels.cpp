// test_kernels.cpp — the reference kernels against a naive computation from unpacked weights, and
// every other kernel table of this build (those this CPU runs) against the reference, bit for bit, at
// awkward sizes and edge cases (tests/unit/kernel_checks.h).
#include <cstdio>

#include "kernel_checks.h"

int main() {
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
