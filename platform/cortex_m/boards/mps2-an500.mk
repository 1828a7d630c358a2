# mps2-an500.mk — Arm MPS2 FPGA image AN500: Cortex-M7, under qemu-system-arm -M mps2-an500 (stands in
# for STM32F7/H7, i.MX RT). Memory map: mps2-an500.ld. Variables: see mps2-an386.mk.
BOARD_CPU := cortex-m7
BOARD_QEMU_MACHINE := mps2-an500
BOARD_SYSTICK_HZ := 25000000
BOARD_STACK_SIZE := 8192
BOARD_CONSOLES := semihosting uart
# The M7's caches are off at reset; real parts need them on (QEMU treats the maintenance as no-ops).
BOARD_DEFINES := -DBOARD_M7_CACHES
