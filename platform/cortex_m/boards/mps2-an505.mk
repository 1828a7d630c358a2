# mps2-an505.mk — Arm MPS2 FPGA image AN505: Cortex-M33 (boots in secure state), under qemu-system-arm
# -M mps2-an505 (stands in for RP2350, nRF54, STM32U5). Memory map: mps2-an505.ld. Variables: see
# mps2-an386.mk. SysTick: QEMU models AN505's 20 MHz system clock (50 instructions per tick).
BOARD_CPU := cortex-m33
BOARD_QEMU_MACHINE := mps2-an505
BOARD_SYSTICK_HZ := 20000000
BOARD_STACK_SIZE := 8192
BOARD_CONSOLES := semihosting
BOARD_DEFINES :=
