# mps3-an547.mk — Arm MPS3 FPGA image AN547: Cortex-M55 with Helium (MVE), under qemu-system-arm
# -M mps3-an547 (stands in for Alif Ensemble and other M55/M85 parts). Memory map: mps3-an547.ld.
# Variables: see mps2-an386.mk. SysTick: QEMU models a 32 MHz clock (31.25 instructions per tick).
BOARD_CPU := cortex-m55
BOARD_QEMU_MACHINE := mps3-an547
BOARD_SYSTICK_HZ := 32000000
BOARD_STACK_SIZE := 8192
BOARD_CONSOLES := semihosting
BOARD_DEFINES :=
