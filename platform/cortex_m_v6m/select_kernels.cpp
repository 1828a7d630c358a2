// select_kernels.cpp — the kernel tables of an ARMv6-M build (cortex-m0plus; replaces
// platform/generic/default_kernels.cpp): the reference, then the ARMv6-M table, the default.
#include "kernels.h"

namespace bitlm {
namespace v6m {
const bitlm_kernels *v6m_kernels();
}
}  // namespace bitlm

extern "C" uint32_t bitlm_kernel_table_count(void) { return 2; }

extern "C" const bitlm_kernels *bitlm_kernel_table(uint32_t index) {
    switch (index) {
        case 0: return bitlm_reference_kernels();
        case 1: return bitlm::v6m::v6m_kernels();
        default: return nullptr;
    }
}

extern "C" const bitlm_kernels *bitlm_default_kernels(void) { return bitlm::v6m::v6m_kernels(); }
