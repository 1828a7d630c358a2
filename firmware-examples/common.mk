# common.mk — how every firmware example builds, reports its sizes, and runs under QEMU. An example's
# Makefile sets EXAMPLE, EXAMPLE_SRCS (its C files) and EXAMPLE_CONFIG (extra NAME=VALUE lines for its
# config.h), gives CTX a default, and includes this file.
#
#   make -C firmware-examples/<name> BOARD=<board> MODEL=<file.blm> [all|run|report|clean|help]
#
# Steps: libbitlm.a for the board's CPU (the top-level `make TARGET=<cpu>`, in build/firmware/lib with
# -fstack-usage/-fcallgraph-info=su added: same code, plus stack data) -> arena bytes for MODEL at
# context CTX from the host's `bitlm_run info` -> config.h -> compile -> link with the board's linker
# script (real memory sizes: an over-budget model fails here, "region `FLASH' overflowed by N bytes")
# -> size and stack report -> (run) QEMU with -icount shift=0, so SysTick counts instructions.
# Outputs: build/firmware/<example>/<board>/ (FW_OUT=... to change).

.DEFAULT_GOAL := all
SHELL := /bin/bash
.SUFFIXES:

FW_TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
CM_DIR := $(FW_TOP)/platform/cortex_m
SCRIPTS := $(FW_TOP)/firmware-examples/scripts

# Our command-line variables (BOARD, MODEL, ...) must not leak into the top-level make we call.
MAKEOVERRIDES :=

# ---- board ------------------------------------------------------------------------------------------
BOARD ?= mps2-an386
BOARDS := $(sort $(basename $(notdir $(wildcard $(CM_DIR)/boards/*.mk))))
BOARD_MK := $(CM_DIR)/boards/$(BOARD).mk
ifeq ($(wildcard $(BOARD_MK)),)
  $(error unknown BOARD '$(BOARD)'; boards: $(BOARDS))
endif
include $(BOARD_MK)
BOARD_LD := $(CM_DIR)/boards/$(BOARD).ld

# The compiler and flags libbitlm.a is built with for this CPU (platform/targets.mk).
TARGET := $(BOARD_CPU)
include $(FW_TOP)/platform/targets.mk
CROSS := $(patsubst %g++,%,$(CXX))
FW_CC := $(CROSS)gcc
FW_SIZE := $(CROSS)size
FW_NM := $(CROSS)nm

# ---- knobs --------------------------------------------------------------------------------------------
MODEL ?=
CTX ?= 64                     # KV-cache length the firmware opens the model with
ARENA_BYTES ?=                # empty: bitlm_run info MODEL --ctx CTX decides (arena_bytes_greedy: the examples are greedy)
STACK_SIZE ?= $(BOARD_STACK_SIZE)
CONSOLE ?= semihosting        # semihosting (every board) or uart (the MPS2 boards' UART0)
FAULT_TEST ?= 0               # 1: the firmware executes an undefined instruction (tests the fault path)
QEMU_TIMEOUT ?= 300           # seconds before `make run` gives up on a firmware that does not exit
QEMU_EXTRA ?=                 # more QEMU flags, e.g. -plugin .../libinsncount.so,out=insns.txt
FW_OUT ?= $(FW_TOP)/build/firmware/$(EXAMPLE)/$(BOARD)
FW_OPT ?= -O2
override CTX := $(strip $(CTX))
override CONSOLE := $(strip $(CONSOLE))
override FAULT_TEST := $(strip $(FAULT_TEST))
override QEMU_TIMEOUT := $(strip $(QEMU_TIMEOUT))
override ARENA_BYTES := $(strip $(ARENA_BYTES))

ifeq ($(filter $(CONSOLE),$(BOARD_CONSOLES)),)
  $(error CONSOLE=$(CONSOLE) is not available on $(BOARD) (it has: $(BOARD_CONSOLES)))
endif

# MODEL may be given relative to where make was started (PWD) or to this example's folder.
MODEL_PATH := $(firstword $(wildcard $(if $(filter /%,$(MODEL)),$(MODEL),$(PWD)/$(MODEL) $(CURDIR)/$(MODEL))))

# ---- what gets built ----------------------------------------------------------------------------------
LIB_BUILD := $(FW_TOP)/build/firmware/lib
LIB := $(LIB_BUILD)/$(BOARD_CPU)/libbitlm.a
LIB_OPT := -O2 -fstack-usage -fcallgraph-info=su
# The host tool that sizes the arena (any host build gives the same figure: NO_SIMD=1's works too).
BITLM_RUN ?= $(FW_TOP)/build/bitlm_run
HOST_RUN := $(if $(filter /%,$(BITLM_RUN)),$(BITLM_RUN),$(abspath $(PWD)/$(BITLM_RUN)))
ELF := $(FW_OUT)/$(EXAMPLE).elf
CONFIG_H := $(FW_OUT)/config.h
MODEL_COPY := $(FW_OUT)/model.blm

CONSOLE_SRC_semihosting := console_semihosting.c
CONSOLE_SRC_uart := console_uart_mps2.c
PLATFORM_SRCS := startup.c faults.c exit.c semihosting.c console_format.c $(CONSOLE_SRC_$(CONSOLE)) \
                 memory.c stack_watermark.c systick_counter.c cache_m7.c
OBJS := $(patsubst %.c,$(FW_OUT)/obj/%.o,$(EXAMPLE_SRCS)) \
        $(patsubst %.c,$(FW_OUT)/obj/platform/%.o,$(PLATFORM_SRCS)) \
        $(FW_OUT)/obj/platform/model_blob.o

FP := $(if $(filter -mfloat-abi=soft,$(TARGET_FLAGS)),0,1)
# C for the firmware glue (gnu11: designated range initialisers in the vector table). The numerics
# flags match the library's; -fcallgraph-info=su feeds the static stack report.
FW_CFLAGS := -std=gnu11 $(FW_OPT) $(TARGET_FLAGS) -ffreestanding -ffp-contract=off -fno-fast-math \
             -Wall -Wextra -fstack-usage -fcallgraph-info=su \
             -I$(FW_TOP)/lib -I$(CM_DIR) -I$(FW_OUT) $(BOARD_DEFINES)
FW_LDFLAGS := $(TARGET_FLAGS) -nostartfiles -nostdlib -Wl,--gc-sections -L$(CM_DIR) -T $(BOARD_LD) \
              -Wl,--defsym=__stack_size=$(STACK_SIZE) -Wl,--print-memory-usage -Wl,-Map=$(FW_OUT)/$(EXAMPLE).map

.PHONY: all run report clean help FORCE
FORCE:

all: $(ELF)

# ---- the library and the host tool ---------------------------------------------------------------------
$(LIB): FORCE
	@$(MAKE) -s --no-print-directory -C $(FW_TOP) TARGET=$(BOARD_CPU) BUILD=$(LIB_BUILD) OPT="$(LIB_OPT)" lib

# Built if missing (the top-level `make` normally has built it already).
$(HOST_RUN):
	@$(MAKE) -s --no-print-directory -C $(FW_TOP) tools

# ---- model and configuration ---------------------------------------------------------------------------
$(MODEL_COPY): FORCE
	@if [ -z "$(MODEL)" ]; then \
	    echo "error: give MODEL=<file.blm>, e.g. build/bitlm_pack --random --preset mcu-260k -o mcu.blm" >&2; exit 1; fi
	@if [ -z "$(MODEL_PATH)" ]; then echo "error: MODEL=$(MODEL): no such file" >&2; exit 1; fi
	@mkdir -p $(@D)
	@cmp -s "$(MODEL_PATH)" $@ || cp -f "$(MODEL_PATH)" $@

# The arena is sized by the library's own bitlm_arena_bytes, asked on the host at build time; the
# firmware asks again at start and refuses to run if its static arena is smaller.
$(CONFIG_H): $(MODEL_COPY) FORCE | $(HOST_RUN)
	@arena="$(ARENA_BYTES)"; \
	if [ -z "$$arena" ]; then \
	    arena=$$($(HOST_RUN) info $(MODEL_COPY) --ctx $(CTX) | awk '$$1 == "arena_bytes_greedy:" {print $$2}'); \
	    [ -n "$$arena" ] || { echo "error: bitlm_run info $(MODEL) --ctx $(CTX) gave no arena_bytes (see its message above)" >&2; exit 1; }; \
	fi; \
	$(SCRIPTS)/config_header.sh $@ FW_BOARD:str=$(BOARD) FW_SYSTICK_HZ=$(BOARD_SYSTICK_HZ)u \
	    FW_ON_QEMU=$(if $(BOARD_QEMU_MACHINE),1,0) \
	    FW_CONTEXT_LEN=$(CTX)u FW_ARENA_BYTES=$${arena}u FW_FAULT_TEST=$(FAULT_TEST) $(EXAMPLE_CONFIG)

# ---- compile and link ------------------------------------------------------------------------------------
$(FW_OUT)/obj/%.o: %.c $(CONFIG_H)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(FW_CC) $(FW_CFLAGS) -MMD -MP -c $< -o $@

$(FW_OUT)/obj/platform/%.o: $(CM_DIR)/%.c $(CONFIG_H)
	@mkdir -p $(@D)
	@echo "  CC      platform/cortex_m/$*.c"
	@$(FW_CC) $(FW_CFLAGS) $(if $(filter memory,$*),-fno-tree-loop-distribute-patterns) -MMD -MP -c $< -o $@

$(FW_OUT)/obj/platform/model_blob.o: $(CM_DIR)/model_blob.S $(MODEL_COPY)
	@mkdir -p $(@D)
	@echo "  AS      platform/cortex_m/model_blob.S  (.incbin $(MODEL))"
	@$(FW_CC) $(TARGET_FLAGS) -Wa,-I$(FW_OUT) -c $< -o $@

# GNU ld names the region and the overshoot ("region `FLASH' overflowed by N bytes"); the summary
# line after it says the same in the example's terms.
$(ELF): $(OBJS) $(LIB) $(BOARD_LD) $(CM_DIR)/sections.ld
	@echo "  LD      $(patsubst $(FW_TOP)/%,%,$@)  (board $(BOARD), $(BOARD_CPU), linker script $(patsubst $(FW_TOP)/%,%,$(BOARD_LD)))"
	@if ! $(FW_CC) $(FW_LDFLAGS) $(OBJS) $(LIB) -lgcc -o $@ >$(FW_OUT)/link.log 2>&1; then \
	    cat $(FW_OUT)/link.log >&2; rm -f $@; \
	    grep -o "region \`[A-Za-z0-9_]*' overflowed by [0-9]* bytes" $(FW_OUT)/link.log | sort -u | while read -r line; do \
	        echo "error: $(EXAMPLE) does not fit $(BOARD): $$line (model $$(stat -c %s $(MODEL_COPY)) bytes, arena $$(awk '/FW_ARENA_BYTES/ {print $$3+0}' $(CONFIG_H)) bytes, stack $(STACK_SIZE) bytes)" >&2; \
	    done; exit 1; fi
	@{ echo "== $(EXAMPLE) on $(BOARD) ($(BOARD_CPU)): model $(MODEL) at context $(CTX)"; \
	   grep -A20 '^Memory region' $(FW_OUT)/link.log; \
	   $(SCRIPTS)/size_report.sh $@ $(FW_SIZE) $(FW_NM); \
	   $(SCRIPTS)/stack_report.sh $@ $(FW_NM) $(STACK_SIZE) $(FP) \
	       $(FW_OUT)/obj/*.ci $(FW_OUT)/obj/platform/*.ci $$(find $(LIB_BUILD)/$(BOARD_CPU)/obj -name '*.ci'); \
	 } >$(FW_OUT)/report.txt 2>&1 || { cat $(FW_OUT)/report.txt; rm -f $@; exit 1; }
	@cat $(FW_OUT)/report.txt

report: $(ELF)
	@cat $(FW_OUT)/report.txt

-include $(shell find $(FW_OUT)/obj -name '*.d' 2>/dev/null)

# ---- run under QEMU ----------------------------------------------------------------------------------------
# Semihosting output is routed to stdout (a chardev), UART0 output too; the firmware's exit status
# becomes QEMU's (SYS_EXIT_EXTENDED) and so this target's.
ifeq ($(CONSOLE),uart)
  QEMU_IO := -display none -monitor none -serial stdio -semihosting-config enable=on,target=native
else
  QEMU_IO := -display none -monitor none -serial none -chardev stdio,id=fwcon \
             -semihosting-config enable=on,target=native,chardev=fwcon
endif
QEMU_CMD := qemu-system-arm -M $(BOARD_QEMU_MACHINE) $(QEMU_IO) -icount shift=0 $(QEMU_EXTRA) -kernel $(ELF)

run: all
	@if [ -z "$(BOARD_QEMU_MACHINE)" ]; then \
	    echo "error: $(BOARD) is a real part: QEMU has no model of it; flash $(ELF) with a debug probe" >&2; exit 1; fi
	@status=0; timeout $(QEMU_TIMEOUT) $(QEMU_CMD) </dev/null || status=$$?; \
	if [ $$status = 124 ]; then echo "error: the firmware did not exit within $(QEMU_TIMEOUT) s (QEMU_TIMEOUT)" >&2; \
	elif [ $$status != 0 ]; then echo "firmware exited with status $$status" >&2; fi; \
	exit $$status

clean:
	rm -rf $(FW_OUT)

help:
	@echo "make -C firmware-examples/$(EXAMPLE) BOARD=<board> MODEL=<file.blm> [all|run|report|clean]"
	@echo "  boards: $(BOARDS)"
	@echo "  knobs: CTX (context, default $(CTX)), ARENA_BYTES, STACK_SIZE, CONSOLE=semihosting|uart,"
	@echo "         FAULT_TEST=1, QEMU_TIMEOUT, QEMU_EXTRA, FW_OUT, BITLM_RUN $(EXAMPLE_HELP)"
