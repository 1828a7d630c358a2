// select_kernels.cpp — the kernel tables of a Cortex-M4/M7/M33 build (replaces
// platform/generic/default_kernels.cpp): the reference, then the DSP-extension table, which is the
// default. The CPU is fixed at build time (-mcpu), so there is nothing to detect at run time.
#include "cortex_m_dsp/kernels_dsp.h"

extern "C" uint32_t bitlm_kernel_table_count(void) { return 2; }

extern "C" const bitlm_kernels *bitlm_kernel_table(uint32_t index) {
    switch (index) {
        case 0: return bitlm_reference_kernels();
        case 1: return bitlm::cm::dsp_kernels();
        default: return nullptr;
    }
}

extern "C" const bitlm_kernels *bitlm_default_kernels(void) { return bitlm::cm::dsp_kernels(); }
