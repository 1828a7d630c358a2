// dsp_kernels.cpp — the Cortex-M55 build also has the DSP-extension table of platform/cortex_m_dsp
// (the M55 has the DSP extension): the Helium table hands it group-scaled ternary weights, and tests
// compare both against the reference. One source of truth: this file compiles that one.
#include "cortex_m_dsp/kernels_dsp.cpp"
