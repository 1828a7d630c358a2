// select_kernels.cpp — the kernel tables of a Cortex-M55 build (replaces
// platform/generic/default_kernels.cpp): the reference, the DSP-extension table, and the Helium
// (MVE) table, which is the default (fewest instructions per token; see kernels_mve.cpp). The CPU is
// fixed at build time (-mcpu=cortex-m55), so there is nothing to detect at run time.
#include "cortex_m_dsp/kernels_dsp.h"

namespace bitlm {
namespace cm {
const bitlm_kernels *mve_kernels();
}
}  // namespace bitlm

extern "C" uint32_t bitlm_kernel_table_count(void) { return 3; }

extern "C" const bitlm_kernels *bitlm_kernel_table(uint32_t index) {
    switch (index) {
        case 0: return bitlm_reference_kernels();
        case 1: return bitlm::cm::dsp_kernels();
        case 2: return bitlm::cm::mve_kernels();
        default: return nullptr;
    }
}

extern "C" const bitlm_kernels *bitlm_default_kernels(void) { return bitlm::cm::mve_kernels(); }
