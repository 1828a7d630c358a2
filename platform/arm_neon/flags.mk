# flags.mk — per-file ISA flags of platform/arm_neon (used for TARGET=aarch64 and TARGET=armv7).
# Only the sdot table gets ARMv8.2 dot-product code; everything else stays at the target's baseline
# (armv8-a / armv7-a+neon), and select_kernels.cpp picks the sdot table only when the CPU has it.
ifeq ($(TARGET),aarch64)
  ISA_FLAGS_kernels_neon_dot := -march=armv8.2-a+dotprod
endif
