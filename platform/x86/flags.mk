# flags.mk — per-file ISA flags for platform/x86 (the Makefile compiles platform/x86/<name>.cpp with
# $(ISA_FLAGS_<name>)). Only the kernel files get vector ISAs; select_kernels.cpp stays baseline x86-64
# so that CPU detection runs on any CPU. No -mfma: integer SIMD needs none, and -ffp-contract=off
# stays in force for the float epilogues (they must round exactly like platform/generic).
ISA_FLAGS_kernels_avx2 := -mavx2
ISA_FLAGS_kernels_avx512 := -mavx2 -mavx512f -mavx512bw -mavx512vl -mavx512vnni
