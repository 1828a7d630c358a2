# flags.mk — per-file ISA flags for platform/train_cpu (the Makefile compiles <name>.cpp with
# $(ISA_FLAGS_<name>) on x86-64 hosts). Only the kernel files get vector ISAs and FMA; cpu_backend.cpp
# (driver, CPU dispatch) stays baseline x86-64 so that it runs, and picks a kernel, on any CPU.
ISA_FLAGS_gemm_avx2 := -mavx2 -mfma
ISA_FLAGS_gemm_avx512 := -mavx512f -mavx2 -mfma
