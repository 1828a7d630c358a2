// default_kernels.cpp — kernel selection for builds without platform kernels: the reference only.
// A platform folder with select_kernels.cpp replaces this file (see the Makefile).
#include "kernels.h"

extern "C" const bitlm_kernels *bitlm_default_kernels(void) { return bitlm_reference_kernels(); }
extern "C" uint32_t bitlm_kernel_table_count(void) { return 1; }
extern "C" const bitlm_kernels *bitlm_kernel_table(uint32_t index) {
    return index == 0 ? bitlm_reference_kernels() : nullptr;
}
