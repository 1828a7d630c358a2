# bitlm — build libbitlm.a, the host tools and the tests.
#   make                      host library + tools in build/
#   make test                 every test CI runs (host unit tests, tool tests, cross-target checks)
#   make check-sanitize       the host tests under ASan+UBSan (build/sanitize)
#   make check-fuzz           a short libFuzzer run of the artifact reader
#   make TARGET=cortex-m4     cross-build lib only, into build/cortex-m4/libbitlm.a
#                             (also cortex-m0plus, cortex-m7, cortex-m33, cortex-m55, aarch64, armv7)
#   make NO_SIMD=1            build with the portable reference kernels only (into build/nosimd)
#   make bench                benchmark table (random bench-180m artifact)
#   make demo                 the main job: train the demo model on tinyshakespeare, pack, eval, generate, MCU

TARGET ?= host
ifeq ($(NO_SIMD),1)
  BUILD ?= build/nosimd
endif
BUILD ?= build
OPT ?= -O2

# Determinism: no FMA contraction, no fast-math, anywhere on the inference path.
NUMERICS := -ffp-contract=off -fno-fast-math
WARN := -Wall -Wextra -Wno-unused-parameter
INCLUDES := -Ilib -Iplatform
# The freestanding rule for lib/ and platform kernels.
FREESTANDING := -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit

# Platform kernels: each target may have a folder of kernels (platform/<isa>/). If that folder has
# select_kernels.cpp (defining bitlm_default_kernels), it replaces platform/generic/default_kernels.cpp.
# A folder's flags.mk may give per-file ISA flags: ISA_FLAGS_<file basename> := -mavx2 ...
KERNEL_DIR_host := platform/x86
KERNEL_DIR_aarch64 := platform/arm_neon
KERNEL_DIR_armv7 := platform/arm_neon
KERNEL_DIR_cortex-m0plus := platform/cortex_m_v6m
KERNEL_DIR_cortex-m4 := platform/cortex_m_dsp
KERNEL_DIR_cortex-m7 := platform/cortex_m_dsp
KERNEL_DIR_cortex-m33 := platform/cortex_m_dsp
KERNEL_DIR_cortex-m55 := platform/cortex_m_mve
KERNEL_DIR := $(KERNEL_DIR_$(TARGET))
ifeq ($(NO_SIMD),1)
  KERNEL_DIR :=
endif
KERNEL_SRCS := $(if $(KERNEL_DIR),$(wildcard $(KERNEL_DIR)/*.cpp))
-include $(if $(KERNEL_DIR),$(wildcard $(KERNEL_DIR)/flags.mk))
GENERIC_SRCS := $(wildcard platform/generic/*.cpp)
ifneq ($(filter %/select_kernels.cpp,$(KERNEL_SRCS)),)
  GENERIC_SRCS := $(filter-out platform/generic/default_kernels.cpp,$(GENERIC_SRCS))
endif
LIB_SRCS := $(wildcard lib/*.cpp lib/*/*.cpp) $(GENERIC_SRCS) $(KERNEL_SRCS)
# The forward pass's float loops over independent lanes (attention scores and values) pay for
# vectorizing (+15-25% tok/s on bench-180m, measured A/B). GCC never reassociates a float sum without
# -ffast-math and does not put float math on ARMv7 NEON (it flushes denormals) without unsafe-math,
# so the bits do not change; tests/cross compares every target's logits checksum.
ISA_FLAGS_forward := -ftree-loop-vectorize -fvect-cost-model=dynamic
# The training ops' float loops (softmax, norms, element-wise passes) vectorize the same way.
ISA_FLAGS_op_attention := -ftree-loop-vectorize -fvect-cost-model=dynamic
ISA_FLAGS_op_norm := -ftree-loop-vectorize -fvect-cost-model=dynamic
ISA_FLAGS_op_pointwise := -ftree-loop-vectorize -fvect-cost-model=dynamic

ifeq ($(TARGET),host)
  CXX ?= g++
  OUT := $(BUILD)
  ifeq ($(SANITIZE),1)
    SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
    OPT := -O1 -g
  endif
  LIB_CXXFLAGS := -std=c++17 $(OPT) $(NUMERICS) $(WARN) $(INCLUDES) $(FREESTANDING) $(SAN)
  HOST_CXXFLAGS := -std=c++17 $(OPT) $(NUMERICS) $(WARN) $(INCLUDES) -Itools $(SAN) -pthread
  AR ?= ar
else
  include platform/targets.mk
  OUT := $(BUILD)/$(TARGET)
  LIB_CXXFLAGS := -std=c++17 $(OPT) $(NUMERICS) $(WARN) $(INCLUDES) $(FREESTANDING) $(TARGET_FLAGS)
  # Linux ARM targets also build the tools and tests, static, to run under qemu-user.
  HOST_CXXFLAGS := -std=c++17 $(OPT) $(NUMERICS) $(WARN) $(INCLUDES) -Itools $(TARGET_FLAGS) -pthread -static
endif
LINUX_TARGETS := host aarch64 armv7

LIB_OBJS := $(patsubst %.cpp,$(OUT)/obj/%.o,$(LIB_SRCS))
LIB := $(OUT)/libbitlm.a

# Host-only code: threads and files (platform/host), the CPU training backend (platform/train_cpu,
# per-file ISA flags from its flags.mk on x86 hosts), and the tools' shared parts.
HOST_SRCS := $(wildcard platform/host/*.cpp platform/train_cpu/*.cpp tools/common/*.cpp tools/train/*.cpp)
ifeq ($(TARGET)$(NO_SIMD),host)
  -include platform/train_cpu/flags.mk
endif
HOST_OBJS := $(patsubst %.cpp,$(OUT)/obj/%.o,$(HOST_SRCS))
# The CUDA training backend (cuda/): built into $(OUT)/libbitlm_cuda.a when nvcc is found (host builds,
# not under the sanitizers); `make NVCC=` builds without it. No GPU is needed to build: the tools and
# tests find out at run time (and GPU tests say "skipped: no GPU"). Not in the NO_SIMD build either
# (it exists to test the portable CPU kernels).
ifeq ($(TARGET)$(SANITIZE)$(NO_SIMD),host)
  NVCC ?= $(realpath $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc)))
endif
# Where its headers and libraries are comes from nvcc itself (see tools/cuda_toolkit.sh): nvcc is often
# a wrapper or a link elsewhere than <toolkit>/bin. A toolkit without them is skipped with a warning.
ifneq ($(strip $(NVCC)),)
  CUDA_DIRS := $(shell bash tools/cuda_toolkit.sh $(NVCC) 2>/dev/null)
  ifneq ($(words $(CUDA_DIRS)),2)
    $(warning $(NVCC): no CUDA headers and cuBLAS/cudart libraries found; building without the CUDA backend)
    override NVCC :=
  endif
endif
ifneq ($(strip $(NVCC)),)
  CUDA_INCLUDE_DIR := $(word 1,$(CUDA_DIRS))
  CUDA_LIB_DIR := $(word 2,$(CUDA_DIRS))
  # SASS for Hopper (H100/H200), PTX from Ampere up for any other recent GPU (JIT-compiled at load).
  CUDA_ARCH ?= --generate-code arch=compute_90,code=sm_90 --generate-code arch=compute_80,code=compute_80
  # -fmad=false: no multiply-add contraction, as -ffp-contract=off on the host (the quantizers and the
  # BitLinear epilogue must equal the CPU's bits).
  NVCC_FLAGS := -std=c++17 -O2 -fmad=false -Xcompiler -Wall,-Wextra,-Wno-unused-parameter $(INCLUDES) -Icuda $(CUDA_ARCH)
  CUDA_SRCS := $(wildcard cuda/*.cu)
  CUDA_OBJS := $(patsubst %.cu,$(OUT)/obj/%.o,$(CUDA_SRCS))
  CUDA_LIB := $(OUT)/libbitlm_cuda.a
  CUDA_LDLIBS := -L$(CUDA_LIB_DIR) -Wl,-rpath,$(CUDA_LIB_DIR) -lcublas -lcudart
  HOST_CXXFLAGS += -DBITLM_HAVE_CUDA -I. -I$(CUDA_INCLUDE_DIR)
endif
TOOLS := $(OUT)/bitlm_run $(OUT)/bitlm_pack $(OUT)/bitlm_train
TEST_SRCS := $(wildcard tests/unit/test_*.cpp)
TEST_BINS := $(patsubst tests/unit/%.cpp,$(OUT)/tests/%,$(TEST_SRCS))

.PHONY: all lib tools tests test check-sanitize check-fuzz bench demo clean deps
ifneq ($(filter $(TARGET),$(LINUX_TARGETS)),)
all: lib tools tests
else
all: lib
endif

# Keep tool/test objects between runs (make would otherwise delete them as intermediates).
.SECONDARY:

lib: $(LIB)
tools: $(TOOLS)
tests: $(TEST_BINS)

# The archive also depends on the list of its objects, so a removed or added source rebuilds it.
$(OUT)/lib.objects: FORCE
	@mkdir -p $(dir $@)
	@echo "$(LIB_OBJS)" | cmp -s - $@ || echo "$(LIB_OBJS)" > $@

$(LIB): $(LIB_OBJS) $(OUT)/lib.objects
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

FORCE:

$(OUT)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(if $(filter $(LIB_SRCS),$<),$(LIB_CXXFLAGS),$(HOST_CXXFLAGS)) $(ISA_FLAGS_$(basename $(notdir $<))) -MMD -MP -c $< -o $@

$(OUT)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -MMD -MP -c $< -o $@

$(CUDA_LIB): $(CUDA_OBJS)
	rm -f $@
	$(AR) rcs $@ $(CUDA_OBJS)

# The CUDA library comes before libbitlm.a on the link line: it calls into the core.
$(OUT)/bitlm_%: $(OUT)/obj/tools/bitlm_%.o $(HOST_OBJS) $(CUDA_LIB) $(LIB)
	$(CXX) $(HOST_CXXFLAGS) $^ $(CUDA_LDLIBS) -o $@

$(OUT)/tests/%: $(OUT)/obj/tests/unit/%.o $(HOST_OBJS) $(CUDA_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(HOST_CXXFLAGS) $^ $(CUDA_LDLIBS) -o $@

-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)

# Everything CI runs. tests/run_all.sh prints "N passed, N failed".
test: all
	BUILD=$(BUILD) bash tests/run_all.sh

check-sanitize:
	$(MAKE) BUILD=build/sanitize SANITIZE=1 all
	BUILD=build/sanitize SANITIZE=1 bash tests/run_all.sh --host-only

check-fuzz:
	bash tests/fuzz/run_fuzz.sh

bench: all
	bash tools/bench.sh

demo:
	bash scripts/demo.sh

deps:
	bash scripts/install-deps.sh

clean:
	rm -rf build
