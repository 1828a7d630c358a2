// default_kernels.cpp — the kernel table of builds that have no faster platform kernels yet.
#include "kernels.h"

extern "C" const bitlm_kernels *bitlm_default_kernels(void) { return bitlm_reference_kernels(); }
