# mps2-an500-h7.mk — an STM32H7-class budget (2 MB flash, 1 MB contiguous RAM, like STM32H7A3/H7B3) on
# the emulated Cortex-M7 of qemu-system-arm -M mps2-an500: whatever links here fits such a part, and
# runs. Memory map: mps2-an500-h7.ld. Variables: see mps2-an386.mk.
BOARD_CPU := cortex-m7
BOARD_QEMU_MACHINE := mps2-an500
BOARD_SYSTICK_HZ := 25000000
BOARD_STACK_SIZE := 8192
BOARD_CONSOLES := semihosting uart
BOARD_DEFINES := -DBOARD_M7_CACHES
