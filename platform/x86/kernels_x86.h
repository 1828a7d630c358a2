// kernels_x86.h — the x86 kernel tables (AVX2; AVX-512 with VNNI) and the CPU feature test that
// select_kernels.cpp uses to list only the tables this CPU can run.
#pragma once
#include "kernels.h"

namespace bitlm {
namespace x86 {

// Each defined in its own file, compiled with that file's ISA flags (flags.mk). Calling a table's
// functions on a CPU without the ISA is an illegal instruction: check cpu_has_* first.
const bitlm_kernels *avx2_kernels();
const bitlm_kernels *avx512_kernels();

bool cpu_has_avx2();    // AVX2 (+ OS support for YMM state)
bool cpu_has_avx512();  // AVX-512 F, BW, VL, VNNI (+ OS support for ZMM and opmask state)

}  // namespace x86
}  // namespace bitlm
