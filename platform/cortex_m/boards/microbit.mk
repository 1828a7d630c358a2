# microbit.mk — BBC micro:bit v1 (nRF51822: Cortex-M0, 256 KB flash, 16 KB RAM), under
# qemu-system-arm -M microbit; built for ARMv6-M with soft float (-mcpu=cortex-m0plus, which runs on
# the M0: RP2040-class code). Memory map: microbit.ld. Variables: see mps2-an386.mk. SysTick: the
# nRF51's 16 MHz clock (62.5 instructions per tick under -icount shift=0).
BOARD_CPU := cortex-m0plus
BOARD_QEMU_MACHINE := microbit
BOARD_SYSTICK_HZ := 16000000
# The library's deepest path is about 1.4 KB here (Thumb-1 frames are larger than Thumb-2's);
# every byte not reserved for the stack is arena.
BOARD_STACK_SIZE := 1536
BOARD_CONSOLES := semihosting
BOARD_DEFINES :=
