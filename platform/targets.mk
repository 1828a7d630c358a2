# targets.mk — compilers and flags of the cross targets (make TARGET=<name>); lib/ only.
# Cortex-M flags follow ../shared/EMULATION.md; no libc, no libstdc++, no libm is linked.
CM_COMMON := -mthumb -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections -nostdlib

ifeq ($(TARGET),cortex-m0plus)
  CXX := arm-none-eabi-g++
  AR := arm-none-eabi-ar
  TARGET_FLAGS := $(CM_COMMON) -mcpu=cortex-m0plus -mfloat-abi=soft
else ifeq ($(TARGET),cortex-m4)
  CXX := arm-none-eabi-g++
  AR := arm-none-eabi-ar
  TARGET_FLAGS := $(CM_COMMON) -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard
else ifeq ($(TARGET),cortex-m7)
  CXX := arm-none-eabi-g++
  AR := arm-none-eabi-ar
  TARGET_FLAGS := $(CM_COMMON) -mcpu=cortex-m7 -mfpu=fpv5-d16 -mfloat-abi=hard
else ifeq ($(TARGET),cortex-m33)
  CXX := arm-none-eabi-g++
  AR := arm-none-eabi-ar
  TARGET_FLAGS := $(CM_COMMON) -mcpu=cortex-m33 -mfpu=fpv5-sp-d16 -mfloat-abi=hard
else ifeq ($(TARGET),cortex-m55)
  CXX := arm-none-eabi-g++
  AR := arm-none-eabi-ar
  TARGET_FLAGS := $(CM_COMMON) -mcpu=cortex-m55 -mfloat-abi=hard
else ifeq ($(TARGET),aarch64)
  CXX := aarch64-linux-gnu-g++
  AR := aarch64-linux-gnu-ar
  TARGET_FLAGS := -march=armv8-a
else ifeq ($(TARGET),armv7)
  CXX := arm-linux-gnueabihf-g++
  AR := arm-linux-gnueabihf-ar
  TARGET_FLAGS := -march=armv7-a -mfpu=neon -mfloat-abi=hard
else
  $(error unknown TARGET '$(TARGET)': use host, cortex-m0plus, cortex-m4, cortex-m7, cortex-m33, cortex-m55, aarch64 or armv7)
endif
