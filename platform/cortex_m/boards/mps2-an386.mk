# mps2-an386.mk — Arm MPS2 FPGA image AN386: Cortex-M4F, under qemu-system-arm -M mps2-an386 (stands in
# for STM32F4/L4, nRF52). Memory map: mps2-an386.ld.
#   BOARD_CPU           the libbitlm.a target (platform/targets.mk): compiler flags and kernels
#   BOARD_QEMU_MACHINE  qemu-system-arm -M value; empty for a real part (build only)
#   BOARD_SYSTICK_HZ    the clock SysTick counts: QEMU's modelled system clock (25 MHz on MPS2, so
#                       one tick per 40 instructions under -icount shift=0, checked against the
#                       instruction-count plugin by tools/bench_mcu.sh); the CPU clock on a real part
#   BOARD_STACK_SIZE    bytes reserved for the stack (the build checks the static estimate fits)
#   BOARD_CONSOLES      console sinks this board has (CONSOLE=...)
#   BOARD_DEFINES       extra compiler flags for the board glue
BOARD_CPU := cortex-m4
BOARD_QEMU_MACHINE := mps2-an386
BOARD_SYSTICK_HZ := 25000000
BOARD_STACK_SIZE := 8192
BOARD_CONSOLES := semihosting uart
BOARD_DEFINES :=
