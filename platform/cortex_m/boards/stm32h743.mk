# stm32h743.mk — STM32H743xI (Cortex-M7 at up to 480 MHz; 2 MB flash, 1 MB SRAM in banks), a real part:
# build only (QEMU has no model of it; flash the .elf with an SWD probe). Memory map: stm32h743.ld
# (arena in the 512 KB AXI SRAM, stack and globals in DTCM). Variables: see mps2-an386.mk.
# The console is semihosting (works under a debug probe with semihosting enabled, e.g. OpenOCD's
# `arm semihosting enable`); for a UART, replace console_semihosting.c with a driver for USART1/3.
BOARD_CPU := cortex-m7
BOARD_QEMU_MACHINE :=
# SysTick counts CPU cycles on the real part (the reset clock is the 64 MHz HSI until you set up PLLs).
BOARD_SYSTICK_HZ := 64000000
BOARD_STACK_SIZE := 8192
BOARD_CONSOLES := semihosting
BOARD_DEFINES := -DBOARD_M7_CACHES
