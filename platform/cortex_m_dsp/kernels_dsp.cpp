// kernels_dsp.cpp — Cortex-M kernels for the DSP extension (ARMv7E-M / ARMv8-M Mainline + DSP:
// Cortex-M4, M7, M33; the M55 build links them too): ternary and int8 weights read in place from
// flash times int8 activations with SMLAD, the activation quantizer and the float combination on the
// FPU. Table "cm-dsp"; every output equals platform/generic bit for bit (tests/mcu, on QEMU).
//
// ---- measured (QEMU instruction-count plugin, exact; `bash tools/bench_mcu.sh`, mcu-260k, M4) -----
// Instructions per generated token: portable reference kernels 5,964,056; this table 799,064, of
// which these kernels 376,878 and lib/ 422,176 (attention 185k, det_expf 137k, sqrt 27k, rmsnorm 23k,
// forward 18k, generate 11k, ...). Kernel split: ternary passes 299k (6-row packed 279k, 4-row 16k,
// 2-row 4k), int8 head 21k, float combination 19k, quantizer 14k, activation permutation 10k, call
// glue ~10k. The first working version (2 rows per pass, GCC around a 2-row asm loop, C quantizer
// and combination) measured 926,003 (with lib/'s attention of then, ~11k cheaper than today's).
// Ternary inner loop, instructions per weight byte and row (5 weights): C through GCC ~12 (it spreads
// the loads, no LDM); asm 2 rows 6.5; 3 rows 6.33 (+15 per group); 6 rows packed 6.17 (+23 per group
// of 6). Int8: 1.29 per weight. Float combination 5.75 per row; permutation ~10 per 4 weight bytes.
// lib/ splits every matmul into 64-row tasks (forward.cpp kRowsPerTask), so each call re-permutes its
// activations: one task per matrix measured 10k fewer instructions per token here.
// Cortex-M55 with this table: 779k (the Helium table of platform/cortex_m_mve: 530k).
//
// ---- the ternary matmul -------------------------------------------------------------------------
// At rest a 160-weight block is 32 bytes and digit k of byte j is weight 32k+j (ternary_pack.h), so
// the five trits of one byte meet five activations 32 apart. Per call and token the int8 activations
// are permuted once into "byte order" as int16 pairs, three words per weight byte:
//     A[3j+0] = (x[p0], x[p1])   A[3j+1] = (x[p2], x[p3])   A[3j+2] = (x[p4], 0)
// with p_k the weight index of digit k of byte j (the tail block at its stride B = ceil(r/5);
// positions past the row's end get 0, so padding digits never matter). A 256-entry flash table
// (bitlm_cm_trit_table, 8 KB) holds the same three words of trits for every byte value. A weight
// byte of one row is then
//     ldrb b ; add p, tab, b, lsl #5 ; ldm p, {t0-t2} ; smlad x3            (6 instructions)
// and the rows of a group share one LDM of activation words. Alternatives measured or counted:
// decoding digits arithmetically (no byte-lane multiply on v7E-M), a 2-byte table (1.3 MB), per-call
// lookup tables of all 243 partial sums per weight byte (T-MAC style: ~550 instructions to build per
// byte position, only pays off above ~130 rows per call; also 6-18 KB of RAM) — none beat 6 per byte.
// With 14 usable registers a group is 3 rows (3 activation + 3 trit words, 3 sums, 3 row pointers,
// activation pointer, table). Six rows fit when two rows share one accumulator: the table also holds
// every trit word times 2^14 (reached with LDMDB from the same address), so the pair's sum is
// s_a + 16384 s_b, split after the row with SBFX; exact while |s_a| < 2^13, i.e. rows of at most 64
// weights or activations with sum |x| < 8192 (checked per call with USADA8). Rows 1-2 (and 4-5) are
// addressed off rows 0 (and 3) with [Rn, stride] and [Rn, stride, LSL #1], so six rows need three
// pointer registers. The int32 sums are exact (SMLAD wraps like the reference's int32 adds).
// Group scales: a group is whole 32-weight planes of a block, but SMLAD adds planes 0+1 and 2+3, so
// grouped tensors sum the five planes apart (SMLABB/SMLATT, in C) and split the tail (whose planes
// are not 32 wide) weight by weight. Binary weights use the reference.
//
// ---- the int8 matmul (the tied embedding head) ---------------------------------------------------
// Four weights are one (unaligned) LDR; SXTB16 and SXTB16 ROR #8 give (w0,w2) and (w1,w3); the
// activations are stored once per call as the int16 pairs (x0,x2), (x1,x3); two SMLADs per four
// weights, six rows per activation load.
//
// ---- scratch -------------------------------------------------------------------------------------
// lib/ has no kernel-scratch hook, so the permuted activations live on the stack: a fixed
// kChunkCols-column window (2304 bytes; the M4 story firmware's static stack estimate goes from
// 1.5 KB to 3.9 KB). Longer rows are done chunk by chunk (whole blocks): int32 partial sums are added
// in the output slots y[] between chunks, and for group scales the float running sum (chunks end on
// group boundaries). Group sizes whose lcm with 160 exceeds the window (256, 288, ...) fall back to
// the reference when cols > kChunkCols. Reentrant: no static state.
//
// ---- the float part -------------------------------------------------------------------------------
// Exactly tensor/dequant.h, in its order, on the scalar FPU; fp16 scales convert with VCVTB/VCVTT
// (bit-identical to f16_to_f32 for all 65536 inputs, checked by tests/mcu). The quantizer rounds with
// VCVTR (round to nearest even under the default FPSCR, which the library never changes).
//
// ---- size ------------------------------------------------------------------------------------------
// ~28 KB of flash (8 KB table, unrolled passes); the M4 story firmware grows from 101.8 KB to 129.6 KB.
#include "cortex_m_dsp/kernels_dsp.h"

#include <arm_acle.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/fp16.h"
#include "quant/quantize.h"
#include "tensor/dequant.h"
#include "tensor/ternary_pack.h"
#include "tensor/weights.h"

#if !defined(__ARM_FEATURE_DSP)
#error "platform/cortex_m_dsp needs the DSP extension (SMLAD, SXTB16): build for cortex-m4/m7/m33/m55"
#endif

// ---- the trit table (flash) --------------------------------------------------------------------------
namespace bitlm {
namespace cm {
namespace {

// Entry b (32 bytes) at 32*b: the three trit words scaled by 2^14 (for the second row of a packed
// pair, see the top), then the three plain words, then padding. The assembly keeps E = table + 12 and
// reaches entry b's plain words with LDM (IA) from E + 32*b, its scaled words with LDMDB from there.
struct TritEntry {
    uint32_t scaled[3];  // (t0,t1) (t2,t3) (t4,0) as int16 pairs times 16384
    uint32_t plain[3];   // (t0,t1) (t2,t3) (t4,0) as int16 pairs, low half first
    uint32_t pad[2];
};
struct TritTable {
    TritEntry e[256];
};

constexpr int32_t table_trit(uint32_t q, uint32_t k) {
    uint32_t p = 1;
    for (uint32_t i = 0; i < k; i++) p *= 3;
    return (int32_t)((((q * p) & 0xffu) * 3u) >> 8) - 1;  // ternary_trit()
}
constexpr uint32_t table_pair(int32_t lo, int32_t hi) {
    return ((uint32_t)lo & 0xffffu) | (((uint32_t)hi & 0xffffu) << 16);
}
constexpr TritTable make_trit_table() {
    TritTable t{};
    for (uint32_t q = 0; q < 256; q++) {
        const int32_t d[5] = {table_trit(q, 0), table_trit(q, 1), table_trit(q, 2), table_trit(q, 3), table_trit(q, 4)};
        t.e[q].plain[0] = table_pair(d[0], d[1]);
        t.e[q].plain[1] = table_pair(d[2], d[3]);
        t.e[q].plain[2] = table_pair(d[4], 0);
        t.e[q].scaled[0] = table_pair(d[0] * 16384, d[1] * 16384);
        t.e[q].scaled[1] = table_pair(d[2] * 16384, d[3] * 16384);
        t.e[q].scaled[2] = table_pair(d[4] * 16384, 0);
    }
    return t;
}

}  // namespace
}  // namespace cm
}  // namespace bitlm

// Referenced by name from the assembly below.
extern "C" {
extern const bitlm::cm::TritTable bitlm_cm_trit_table;
alignas(32) const bitlm::cm::TritTable bitlm_cm_trit_table = bitlm::cm::make_trit_table();

// One call of an inner loop: `groups` groups of R rows (R = 1, 2, 3 by function), each row `units`
// units long (a weight byte for ternary, four weights for int8). Field offsets are used by the assembly,
// which writes w0, w1, w2 and out back as the next group's (so a remainder group can follow).
struct bitlm_cm_pass {
    const uint8_t *w0, *w1, *w2;  // 0, 4, 8: the first group's rows (unused ones may repeat)
    int32_t delta;                // 12: added to each row pointer after a group: R * row_bytes - row length
    int32_t *out_end;             // 16: out + R * groups
    const uint32_t *acts;         // 20: the permuted activations of one row
    const uint32_t *acts_end;     // 24: acts + units * (3 words ternary, 2 words int8)
    uint32_t units;               // 28: >= 1
    int32_t *out;                 // 32: R int32 sums per group, in row order
};
void bitlm_cm_tern_rows1(bitlm_cm_pass *p);
void bitlm_cm_tern_rows2(bitlm_cm_pass *p);
void bitlm_cm_tern_rows3(bitlm_cm_pass *p);
// Six ternary rows per group, two per accumulator: for rows whose |sum| stays below 2^13 (at most 64
// weights, or activations whose absolute values sum below 8192).
struct bitlm_cm_pass6 {
    const uint8_t *w0, *w3;     // 0, 4: rows 0 and 3 of the first group (rows 1, 2 and 4, 5 at +stride, +2 stride)
    uint32_t stride;            // 8: row_bytes
    int32_t delta;              // 12: 6 * row_bytes - the bytes of a row
    int32_t *out_end;           // 16: out + 6 * groups
    const uint32_t *acts;       // 20
    const uint32_t *acts_end;   // 24: acts + 3 * units
    uint32_t units;             // 28: >= 1 (<= 16 for the _short variant)
    int32_t *out;               // 32
};
void bitlm_cm_tern_rows6p(bitlm_cm_pass6 *p);
void bitlm_cm_tern_rows6p_short(bitlm_cm_pass6 *p);
// Four rows, two per accumulator (w3 = row 2, delta = 4 * row_bytes - units, out_end = out + 4 * groups).
void bitlm_cm_tern_rows4p(bitlm_cm_pass6 *p);
// Six int8 rows per group (units = groups of four weights; no packing).
void bitlm_cm_i8_rows6(bitlm_cm_pass6 *p);
void bitlm_cm_i8_rows6_short(bitlm_cm_pass6 *p);
void bitlm_cm_i8_rows1(bitlm_cm_pass *p);
void bitlm_cm_i8_rows2(bitlm_cm_pass *p);
void bitlm_cm_i8_rows3(bitlm_cm_pass *p);
// The ternary activation permutation of `bytes` weight bytes whose five (permute5) or first four
// (permute4; the fifth is 0) digit planes lie at x + k * stride, k = 0..4. Returns out's new end.
uint32_t *bitlm_cm_permute5(const int8_t *x, uint32_t stride, uint32_t bytes, uint32_t *out);
uint32_t *bitlm_cm_permute4(const int8_t *x, uint32_t stride, uint32_t bytes, uint32_t *out);
// sum of |x[i]| for i < 4 * quads (x may be unaligned)
uint32_t bitlm_cm_abs_sum(const int8_t *x, uint32_t quads);
}

// ---- the inner loops (Thumb-2 assembly) ---------------------------------------------------------------
// Registers: r0-r2 row pointers, r3 activations, r4-r6 activation words, r7-r9 trit words (LDM wants
// ascending registers, hence fixed ones), r10-r12 the sums, lr the trit table. A "unit" (one weight
// byte, or four int8 weights, of every row of the group) has all its instructions forced to 32-bit
// encodings, so the remainder units % 16 is done by jumping into the 16-unit loop body at
// 16 - remainder (a computed entry, once per call).
__asm__(R"ASM(
        .syntax unified
        .thumb

        @ ternary: one weight byte of one row
        .macro  bitlm_tern_row wp, acc
        ldrb.w  r7, [\wp], #1
        add.w   r7, lr, r7, lsl #5
        ldm.w   r7, {r7, r8, r9}
        smlad   \acc, r7, r4, \acc
        smlad   \acc, r8, r5, \acc
        smlad   \acc, r9, r6, \acc
        .endm

        @ int8: four weights of one row against (x0,x2) in r4 and (x1,x3) in r5
        .macro  bitlm_i8_row wp, acc
        ldr.w   r6, [\wp], #4
        sxtb16  r7, r6
        sxtb16  r6, r6, ror #8
        smlad   \acc, r7, r4, \acc
        smlad   \acc, r6, r5, \acc
        .endm

        .macro  bitlm_unit kind, nrows
        .if \kind == 0
        ldm.w   r3!, {r4, r5, r6}
        bitlm_tern_row r0, r10
        .if \nrows >= 2
        bitlm_tern_row r1, r11
        .endif
        .if \nrows >= 3
        bitlm_tern_row r2, r12
        .endif
        .else
        ldm.w   r3!, {r4, r5}
        bitlm_i8_row r0, r10
        .if \nrows >= 2
        bitlm_i8_row r1, r11
        .endif
        .if \nrows >= 3
        bitlm_i8_row r2, r12
        .endif
        .endif
        .endm

        @ uint32_t bitlm_cm_abs_sum(const int8_t *x, uint32_t quads): sum of |x[i]|, i < 4 * quads, as
        @ USADA8 of (x ^ 0x80808080) against 0x80808080.
        .pushsection .text.bitlm_cm_abs_sum,"ax",%progbits
        .p2align 2
        .global bitlm_cm_abs_sum
        .type   bitlm_cm_abs_sum, %function
        .thumb_func
bitlm_cm_abs_sum:
        push    {r4-r7}
        mov     r12, #0x80808080
        movs    r2, #0
        lsrs    r3, r1, #2
        beq     2f
1:      ldr     r4, [r0], #4            @ LDR: x may be unaligned (LDM would fault)
        ldr     r5, [r0], #4
        ldr     r6, [r0], #4
        ldr     r7, [r0], #4
        eor     r4, r4, r12
        eor     r5, r5, r12
        eor     r6, r6, r12
        eor     r7, r7, r12
        usada8  r2, r4, r12, r2
        usada8  r2, r5, r12, r2
        usada8  r2, r6, r12, r2
        usada8  r2, r7, r12, r2
        subs    r3, r3, #1
        bne     1b
2:      ands    r1, r1, #3
        beq     4f
3:      ldr     r4, [r0], #4
        eor     r4, r4, r12
        usada8  r2, r4, r12, r2
        subs    r1, r1, #1
        bne     3b
4:      mov     r0, r2
        pop     {r4-r7}
        bx      lr
        .size   bitlm_cm_abs_sum, . - bitlm_cm_abs_sum
        .popsection

        @ The ternary activation permutation, four weight bytes per step: planes k = 0..4 (x + k*S) of
        @ bytes j..j+3 become the words (p0,p1) (p2,p3) (p4,0) of each byte; with4 = 0: plane 4 is 0.
        @ uint32_t *name(const int8_t *x, uint32_t S, uint32_t bytes, uint32_t *out): returns the end
        .macro  bitlm_permute_fn name, with4
        .pushsection .text.\name,"ax",%progbits
        .p2align 2
        .global \name
        .type   \name, %function
        .thumb_func
\name:
        push    {r4-r11, lr}
        and     r9, r2, #3              @ the last 1-3 bytes, one at a time (below)
        push    {r9}
        .if \with4 == 0
        mov     r8, #0
        .endif
        lsrs    r2, r2, #2
        beq     6f
1:      add     lr, r0, r1, lsl #1
        ldr     r5, [r0, r1]
        ldr     r4, [r0], #4
        ldr     r6, [lr]
        ldr     r7, [lr, r1]
        .if \with4
        ldr     r8, [lr, r1, lsl #1]
        .endif
        sxtb16  r9, r4
        sxtb16  r4, r4, ror #8
        sxtb16  r10, r5
        sxtb16  r5, r5, ror #8
        pkhbt   r11, r9, r10, lsl #16   @ byte 0: (p0,p1)
        pkhtb   r9, r10, r9, asr #16    @ byte 2: (p0,p1)
        pkhbt   r10, r4, r5, lsl #16    @ byte 1: (p0,p1)
        pkhtb   r4, r5, r4, asr #16     @ byte 3: (p0,p1)
        sxtb16  r5, r6
        sxtb16  r6, r6, ror #8
        sxtb16  r12, r7
        sxtb16  r7, r7, ror #8
        pkhbt   lr, r5, r12, lsl #16    @ byte 0: (p2,p3)
        strd    r11, lr, [r3]
        pkhtb   r5, r12, r5, asr #16    @ byte 2: (p2,p3)
        strd    r9, r5, [r3, #24]
        pkhbt   r12, r6, r7, lsl #16    @ byte 1: (p2,p3)
        strd    r10, r12, [r3, #12]
        pkhtb   r6, r7, r6, asr #16     @ byte 3: (p2,p3)
        strd    r4, r6, [r3, #36]
        .if \with4
        sxtb16  r9, r8
        sxtb16  r8, r8, ror #8
        uxth    r10, r9
        lsr     r9, r9, #16
        uxth    r11, r8
        lsr     r8, r8, #16
        str     r10, [r3, #8]
        str     r11, [r3, #20]
        str     r9, [r3, #32]
        str     r8, [r3, #44]
        .else
        str     r8, [r3, #8]
        str     r8, [r3, #20]
        str     r8, [r3, #32]
        str     r8, [r3, #44]
        .endif
        adds    r3, r3, #48
        subs    r2, r2, #1
        bne     1b
6:      pop     {r2}
        cbz     r2, 8f
7:      add     lr, r0, r1, lsl #1
        ldrsb   r5, [r0, r1]
        ldrsb   r4, [r0], #1
        ldrsb   r6, [lr]
        ldrsb   r7, [lr, r1]
        .if \with4
        ldrsb   r8, [lr, r1, lsl #1]
        uxth    r8, r8
        .endif
        pkhbt   r4, r4, r5, lsl #16
        pkhbt   r6, r6, r7, lsl #16
        str     r4, [r3], #4
        str     r6, [r3], #4
        str     r8, [r3], #4
        subs    r2, r2, #1
        bne     7b
8:      mov     r0, r3
        pop     {r4-r11, pc}
        .size   \name, . - \name
        .popsection
        .endm

        bitlm_permute_fn bitlm_cm_permute5, 1
        bitlm_permute_fn bitlm_cm_permute4, 0

        @ looped = 0: rows of at most `unroll` units (no loop-end test); unroll: units in the body (8 or 16)
        .macro  bitlm_rows_fn name, kind, nrows, unit_bytes, looped, unroll
        .pushsection .text.\name,"ax",%progbits
        .p2align 2
        .global \name
        .type   \name, %function
        .thumb_func
\name:
        push    {r4-r11, lr}
        mov     r11, r0
        ldm     r0, {r0-r2, r4-r9}      @ w0 w1 w2 | delta out_end acts acts_end units out
        and     r8, r8, #(\unroll - 1) @ entry: skip (unroll - units % unroll) % unroll units of the body
        rsb     r8, r8, #\unroll
        and     r8, r8, #(\unroll - 1)
        movs    r3, #\unit_bytes
        adr.w   r12, 5f
        mla     r8, r8, r3, r12
        orr     r8, r8, #1
        push    {r4-r9, r11}            @ frame: [0] delta [4] out end [8] acts [12] acts end [16] entry [20] out [24] pass
        .if \kind == 0
        movw    lr, #:lower16:bitlm_cm_trit_table + 12
        movt    lr, #:upper16:bitlm_cm_trit_table + 12
        .endif
1:      mov     r10, #0
        .if \nrows >= 2
        mov     r11, #0
        .endif
        .if \nrows >= 3
        mov     r12, #0
        .endif
        ldr     r3, [sp, #8]
        ldr     pc, [sp, #16]
        .p2align 2
5:      .rept   \unroll
        bitlm_unit \kind, \nrows
        .endr
        .if (. - 5b) != \unroll * \unit_bytes
        .error  "bitlm: an inner-loop unit is not unit_bytes long"
        .endif
        .if \looped
        ldr     r7, [sp, #12]
        cmp     r3, r7
        blo     5b
        .endif
        ldr     r7, [sp, #20]
        .if \nrows == 1
        str     r10, [r7], #4
        .elseif \nrows == 2
        strd    r10, r11, [r7], #8
        .else
        stmia   r7!, {r10, r11, r12}
        .endif
        str     r7, [sp, #20]
        ldr     r8, [sp, #4]
        cmp     r7, r8
        ldr     r7, [sp, #0]
        add     r0, r0, r7
        .if \nrows >= 2
        add     r1, r1, r7
        .endif
        .if \nrows >= 3
        add     r2, r2, r7
        .endif
        blo     1b
        ldr     r7, [sp, #24]           @ write back where the next group would start
        stmia   r7, {r0, r1, r2}
        ldr     r8, [sp, #20]
        str     r8, [r7, #32]
        add     sp, sp, #28
        pop     {r4-r11, pc}
        .size   \name, . - \name
        .popsection
        .endm

        @ ternary, six rows whose sums fit 14 bits (at most 64 weights a row): rows 0-2 at r0, r0 + r2,
        @ r0 + 2 r2, rows 3-5 likewise at r1; rows k and k+3 share an accumulator, row k+3 through the
        @ scaled trits (LDMDB): sum = s_k + 16384 s_(k+3), split after the row.
        .macro  bitlm_tern6_row ldr_row, acc, ldm_op
        \ldr_row
        add.w   r7, lr, r7, lsl #5
        \ldm_op r7, {r7, r8, r9}
        smlad   \acc, r7, r4, \acc
        smlad   \acc, r8, r5, \acc
        smlad   \acc, r9, r6, \acc
        .endm
        .macro  bitlm_tern6_unit nrows
        ldm.w   r3!, {r4, r5, r6}
        .if \nrows == 6
        bitlm_tern6_row "ldrb.w r7, [r0, r2]", r11, ldm.w
        bitlm_tern6_row "ldrb.w r7, [r0, r2, lsl #1]", r12, ldm.w
        bitlm_tern6_row "ldrb.w r7, [r0], #1", r10, ldm.w
        bitlm_tern6_row "ldrb.w r7, [r1, r2]", r11, ldmdb.w
        bitlm_tern6_row "ldrb.w r7, [r1, r2, lsl #1]", r12, ldmdb.w
        bitlm_tern6_row "ldrb.w r7, [r1], #1", r10, ldmdb.w
        .else
        bitlm_tern6_row "ldrb.w r7, [r0, r2]", r11, ldm.w
        bitlm_tern6_row "ldrb.w r7, [r0], #1", r10, ldm.w
        bitlm_tern6_row "ldrb.w r7, [r1, r2]", r11, ldmdb.w
        bitlm_tern6_row "ldrb.w r7, [r1], #1", r10, ldmdb.w
        .endif
        .endm

        @ void name(bitlm_cm_pass6 *p); nrows 6 (rows 0-2 at r0, 3-5 at r1) or 4 (rows 0-1 at r0, 2-3
        @ at r1, w3 then pointing at row 2); looped = 0: units <= 16
        .macro  bitlm_tern6_fn name, nrows, unit_bytes, looped
        .pushsection .text.\name,"ax",%progbits
        .p2align 2
        .global \name
        .type   \name, %function
        .thumb_func
\name:
        push    {r4-r11, lr}
        mov     r11, r0
        ldm     r0, {r0-r2, r4-r9}      @ w0 w3 stride | delta out_end acts acts_end units out
        and     r8, r8, #15             @ entry: skip (16 - units % 16) % 16 units of the body
        rsb     r8, r8, #16
        and     r8, r8, #15
        movs    r3, #\unit_bytes
        adr.w   r12, 5f
        mla     r8, r8, r3, r12
        orr     r8, r8, #1
        push    {r4-r9, r11}            @ frame: [0] delta [4] out end [8] acts [12] acts end [16] entry [20] out [24] pass
        movw    lr, #:lower16:bitlm_cm_trit_table + 12
        movt    lr, #:upper16:bitlm_cm_trit_table + 12
1:      mov     r10, #0
        mov     r11, #0
        mov     r12, #0
        ldr     r3, [sp, #8]
        ldr     pc, [sp, #16]
        .p2align 2
5:      .rept   16
        bitlm_tern6_unit \nrows
        .endr
        .if (. - 5b) != 16 * \unit_bytes
        .error  "bitlm: a packed ternary unit is not unit_bytes long"
        .endif
        .if \looped
        ldr     r7, [sp, #12]
        cmp     r3, r7
        blo     5b
        .endif
        .if \nrows == 6
        sbfx    r4, r10, #0, #14        @ row 0 = the low 14 bits, sign-extended; row 3 = the rest
        sub     r7, r10, r4
        asr     r7, r7, #14
        sbfx    r5, r11, #0, #14
        sub     r8, r11, r5
        asr     r8, r8, #14
        sbfx    r6, r12, #0, #14
        sub     r9, r12, r6
        asr     r9, r9, #14
        ldr     r10, [sp, #20]
        stmia   r10!, {r4-r9}
        .else
        sbfx    r4, r10, #0, #14        @ rows 0, 2 in r10; rows 1, 3 in r11
        sub     r6, r10, r4
        asr     r6, r6, #14
        sbfx    r5, r11, #0, #14
        sub     r7, r11, r5
        asr     r7, r7, #14
        ldr     r10, [sp, #20]
        stmia   r10!, {r4-r7}
        .endif
        str     r10, [sp, #20]
        ldr     r11, [sp, #4]
        cmp     r10, r11
        ldr     r7, [sp, #0]
        add     r0, r0, r7
        add     r1, r1, r7
        blo     1b
        ldr     r7, [sp, #24]           @ write back where the next group would start
        stmia   r7, {r0, r1}
        ldr     r8, [sp, #20]
        str     r8, [r7, #32]
        add     sp, sp, #28
        pop     {r4-r11, pc}
        .size   \name, . - \name
        .popsection
        .endm

        bitlm_tern6_fn bitlm_cm_tern_rows6p, 6, 148, 1
        bitlm_tern6_fn bitlm_cm_tern_rows6p_short, 6, 148, 0
        bitlm_tern6_fn bitlm_cm_tern_rows4p, 4, 100, 1

        @ int8, six rows: rows 0-2 at r0, r0 + r2, r0 + 2 r2; rows 3-5 at r1 likewise; sums r6-r11.
        .macro  bitlm_i8_6_row ldr_row, acc
        \ldr_row
        sxtb16  lr, r12
        sxtb16  r12, r12, ror #8
        smlad   \acc, lr, r4, \acc
        smlad   \acc, r12, r5, \acc
        .endm
        .macro  bitlm_i8_6_unit
        ldm.w   r3!, {r4, r5}
        bitlm_i8_6_row "ldr.w r12, [r0, r2]", r7
        bitlm_i8_6_row "ldr.w r12, [r0, r2, lsl #1]", r8
        bitlm_i8_6_row "ldr.w r12, [r0], #4", r6
        bitlm_i8_6_row "ldr.w r12, [r1, r2]", r10
        bitlm_i8_6_row "ldr.w r12, [r1, r2, lsl #1]", r11
        bitlm_i8_6_row "ldr.w r12, [r1], #4", r9
        .endm

        @ void name(bitlm_cm_pass6 *p) for int8 rows (units: groups of 4 weights)
        .macro  bitlm_i8_6_fn name, looped
        .pushsection .text.\name,"ax",%progbits
        .p2align 2
        .global \name
        .type   \name, %function
        .thumb_func
\name:
        push    {r4-r11, lr}
        mov     r11, r0
        ldm     r0, {r0-r2, r4-r9}      @ w0 w3 stride | delta out_end acts acts_end units out
        and     r8, r8, #15
        rsb     r8, r8, #16
        and     r8, r8, #15
        movs    r3, #124
        adr.w   r12, 5f
        mla     r8, r8, r3, r12
        orr     r8, r8, #1
        push    {r4-r9, r11}            @ frame: [0] delta [4] out end [8] acts [12] acts end [16] entry [20] out [24] pass
1:      mov     r6, #0
        mov     r7, #0
        umull   r8, r9, r6, r6
        umull   r10, r11, r6, r6
        ldr     r3, [sp, #8]
        ldr     pc, [sp, #16]
        .p2align 2
5:      .rept   16
        bitlm_i8_6_unit
        .endr
        .if (. - 5b) != 16 * 124
        .error  "bitlm: the six-row int8 unit is not 124 bytes"
        .endif
        .if \looped
        ldr     r12, [sp, #12]
        cmp     r3, r12
        blo     5b
        .endif
        ldr     r12, [sp, #20]
        stmia   r12!, {r6-r11}
        str     r12, [sp, #20]
        ldr     lr, [sp, #4]
        cmp     r12, lr
        ldr     r12, [sp, #0]
        add     r0, r0, r12
        add     r1, r1, r12
        blo     1b
        ldr     r7, [sp, #24]
        stmia   r7, {r0, r1}
        ldr     r8, [sp, #20]
        str     r8, [r7, #32]
        add     sp, sp, #28
        pop     {r4-r11, pc}
        .size   \name, . - \name
        .popsection
        .endm

        bitlm_i8_6_fn bitlm_cm_i8_rows6, 1
        bitlm_i8_6_fn bitlm_cm_i8_rows6_short, 0

        @ (one-row groups only finish a matrix: a smaller body)
        bitlm_rows_fn bitlm_cm_tern_rows1, 0, 1, 28, 1, 8
        bitlm_rows_fn bitlm_cm_tern_rows2, 0, 2, 52, 1, 16
        bitlm_rows_fn bitlm_cm_tern_rows3, 0, 3, 76, 1, 16
        bitlm_rows_fn bitlm_cm_i8_rows1, 1, 1, 24, 1, 8
        bitlm_rows_fn bitlm_cm_i8_rows2, 1, 2, 44, 1, 8
        bitlm_rows_fn bitlm_cm_i8_rows3, 1, 3, 64, 1, 16
)ASM");

// ---- the FPU loops (Thumb-2 assembly; hard-float builds) ------------------------------------------------
#if defined(__ARM_FP)
extern "C" {
// y[i] = ((float)(int32 bits of y[i]) * f16(scales[i])) * xs for i < n: the dequant.h order, four rows
// per step (VCVTB/VCVTT take the fp16 scales from the halves of two words).
void bitlm_cm_combine_rows_f16(float *y, const uint16_t *scales, uint32_t n, float xs);
// max over i < n of (bits of x[i]) << 1: the |x| bit pattern order of the reference, sign shifted out.
uint32_t bitlm_cm_absmax2(const float *x, uint32_t n);
// q[i] = vcvtr(x[i] * mult) (round to nearest even under the default FPSCR), truncated to 8 bits.
void bitlm_cm_quant_rne(const float *x, uint32_t n, int8_t *q, float mult);
}
__asm__(R"ASM(
        .syntax unified
        .thumb

        .pushsection .text.bitlm_cm_combine_rows_f16,"ax",%progbits
        .p2align 2
        .global bitlm_cm_combine_rows_f16
        .type   bitlm_cm_combine_rows_f16, %function
        .thumb_func
bitlm_cm_combine_rows_f16:
        subs    r2, r2, #4
        blt     2f
1:      ldr     r3, [r1], #4            @ four rows per step
        ldr     r12, [r1], #4
        vldmia  r0, {s2-s5}
        vmov    s6, s7, r3, r12
        vcvtt.f32.f16 s9, s7
        vcvtb.f32.f16 s8, s7
        vcvtt.f32.f16 s7, s6
        vcvtb.f32.f16 s6, s6
        vcvt.f32.s32 s2, s2
        vcvt.f32.s32 s3, s3
        vcvt.f32.s32 s4, s4
        vcvt.f32.s32 s5, s5
        vmul.f32 s2, s2, s6
        vmul.f32 s3, s3, s7
        vmul.f32 s4, s4, s8
        vmul.f32 s5, s5, s9
        vmul.f32 s2, s2, s0
        vmul.f32 s3, s3, s0
        vmul.f32 s4, s4, s0
        vmul.f32 s5, s5, s0
        vstmia  r0!, {s2-s5}
        subs    r2, r2, #4
        bge     1b
2:      adds    r2, r2, #4
        beq     4f
3:      ldrh    r12, [r1], #2           @ the last 1-3 rows
        vldr    s2, [r0]
        vmov    s4, r12
        vcvtb.f32.f16 s4, s4
        vcvt.f32.s32 s2, s2
        vmul.f32 s2, s2, s4
        vmul.f32 s2, s2, s0
        vstmia  r0!, {s2}
        subs    r2, r2, #1
        bne     3b
4:      bx      lr
        .size   bitlm_cm_combine_rows_f16, . - bitlm_cm_combine_rows_f16
        .popsection

        .macro  bitlm_amax_step reg
        cmp     r2, \reg, lsl #1
        it      lo
        lsllo   r2, \reg, #1
        .endm

        .pushsection .text.bitlm_cm_absmax2,"ax",%progbits
        .p2align 2
        .global bitlm_cm_absmax2
        .type   bitlm_cm_absmax2, %function
        .thumb_func
bitlm_cm_absmax2:
        push    {r4-r11}
        movs    r2, #0
        lsrs    r3, r1, #3
        beq     2f
1:      ldmia   r0!, {r4-r11}           @ x is float-aligned
        bitlm_amax_step r4
        bitlm_amax_step r5
        bitlm_amax_step r6
        bitlm_amax_step r7
        bitlm_amax_step r8
        bitlm_amax_step r9
        bitlm_amax_step r10
        bitlm_amax_step r11
        subs    r3, r3, #1
        bne     1b
2:      ands    r3, r1, #7
        beq     4f
3:      ldr     r4, [r0], #4
        bitlm_amax_step r4
        subs    r3, r3, #1
        bne     3b
4:      mov     r0, r2
        pop     {r4-r11}
        bx      lr
        .size   bitlm_cm_absmax2, . - bitlm_cm_absmax2
        .popsection

        .pushsection .text.bitlm_cm_quant_rne,"ax",%progbits
        .p2align 2
        .global bitlm_cm_quant_rne
        .type   bitlm_cm_quant_rne, %function
        .thumb_func
bitlm_cm_quant_rne:
        push    {r4-r9}
        lsrs    r3, r1, #3
        beq     2f
1:      vldmia  r0!, {s2-s9}
        vmul.f32 s2, s2, s0
        vmul.f32 s3, s3, s0
        vmul.f32 s4, s4, s0
        vmul.f32 s5, s5, s0
        vmul.f32 s6, s6, s0
        vmul.f32 s7, s7, s0
        vmul.f32 s8, s8, s0
        vmul.f32 s9, s9, s0
        vcvtr.s32.f32 s2, s2
        vcvtr.s32.f32 s3, s3
        vcvtr.s32.f32 s4, s4
        vcvtr.s32.f32 s5, s5
        vcvtr.s32.f32 s6, s6
        vcvtr.s32.f32 s7, s7
        vcvtr.s32.f32 s8, s8
        vcvtr.s32.f32 s9, s9
        vmov    r4, r5, s2, s3
        vmov    r6, r7, s4, s5
        bfi     r4, r5, #8, #8
        bfi     r4, r6, #16, #8
        bfi     r4, r7, #24, #8
        vmov    r6, r7, s6, s7
        vmov    r8, r9, s8, s9
        bfi     r6, r7, #8, #8
        bfi     r6, r8, #16, #8
        bfi     r6, r9, #24, #8
        str     r4, [r2], #4            @ q may be unaligned: STR, not STRD
        str     r6, [r2], #4
        subs    r3, r3, #1
        bne     1b
2:      ands    r3, r1, #7
        beq     4f
3:      vldmia  r0!, {s2}
        vmul.f32 s2, s2, s0
        vcvtr.s32.f32 s2, s2
        vmov    r4, s2
        strb    r4, [r2], #1
        subs    r3, r3, #1
        bne     3b
4:      pop     {r4-r9}
        bx      lr
        .size   bitlm_cm_quant_rne, . - bitlm_cm_quant_rne
        .popsection
)ASM");
#endif

namespace bitlm {
namespace cm {
namespace {

// ---- scratch window ------------------------------------------------------------------------------------
constexpr uint32_t kChunkCols = 960;                                  // 6 blocks; a multiple of 160 and of 4
constexpr uint32_t kChunkWords = kChunkCols / kTernaryBlockWeights * kTernaryBlockBytes * 3;  // 576 words
static_assert(kChunkCols / 2 <= kChunkWords, "the int8 window fits the ternary one");

// (lo, hi) as an int16 pair: one PKHBT (GCC spends two instructions on the shift-and-or).
inline uint32_t pair16(int32_t lo, int32_t hi) {
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}
inline uint32_t low_only(int32_t lo) { return (uint32_t)lo & 0xffffu; }
inline int32_t low16(uint32_t w) { return (int32_t)(int16_t)(w & 0xffffu); }
inline int32_t high16(uint32_t w) { return (int32_t)w >> 16; }

// Ternary activations in byte order (see the top): `blocks` whole blocks of x, then a tail of
// `tail` (< 160) weights at its stride. Returns the end of what it wrote.
__attribute__((noinline)) uint32_t *permute_ternary(const int8_t *x, uint32_t blocks, uint32_t tail, uint32_t *a) {
    for (uint32_t b = 0; b < blocks; b++, x += kTernaryBlockWeights)
        a = bitlm_cm_permute5(x, kTernaryBlockBytes, kTernaryBlockBytes, a);
    if (tail == 0) return a;
    const uint32_t stride = (tail + 4) / 5;
    if (tail >= 4 * stride) {  // planes 0-3 whole, plane 4 partly (every tail of 16 or more weights)
        const uint32_t n4 = tail - 4 * stride;  // bytes whose fifth digit is a weight
        if (n4) a = bitlm_cm_permute5(x, stride, n4, a);
        return bitlm_cm_permute4(x + n4, stride, stride - n4, a);
    }
    for (uint32_t j = 0; j < stride; j++, a += 3) {
        int32_t v[5];
        for (uint32_t k = 0; k < 5; k++) {
            const uint32_t e = stride * k + j;
            v[k] = e < tail ? x[e] : 0;
        }
        a[0] = pair16(v[0], v[1]);
        a[1] = pair16(v[2], v[3]);
        a[2] = low_only(v[4]);
    }
    return a;
}

// Int8 activations as (x0,x2),(x1,x3) per 4 columns: SXTB16 of the word and of the word ROR 8.
__attribute__((noinline)) uint32_t *permute_int8(const int8_t *x, uint32_t n4, uint32_t *a) {
    for (uint32_t i = 0; i < n4; i++, x += 4, a += 2) {
        uint32_t v;
        __builtin_memcpy(&v, x, 4);
        a[0] = (uint32_t)__sxtb16((int32_t)v);
        a[1] = (uint32_t)__sxtb16((int32_t)((v >> 8) | (v << 24)));
    }
    return a;
}

// The five plane sums of one whole block (group scales): plane k = weights 32k..32k+31.
void tern_planes(const uint8_t *w, const uint32_t *a, int32_t p[5]) {
    int32_t p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0;
    for (uint32_t j = 0; j < kTernaryBlockBytes; j++, a += 3) {
        const uint32_t *t = bitlm_cm_trit_table.e[w[j]].plain;
        p0 = __smlabb((int32_t)t[0], (int32_t)a[0], p0);
        p1 = __smlatt((int32_t)t[0], (int32_t)a[0], p1);
        p2 = __smlabb((int32_t)t[1], (int32_t)a[1], p2);
        p3 = __smlatt((int32_t)t[1], (int32_t)a[1], p3);
        p4 = __smlabb((int32_t)t[2], (int32_t)a[2], p4);
    }
    p[0] = p0, p[1] = p1, p[2] = p2, p[3] = p3, p[4] = p4;
}

inline int32_t trit_at(uint8_t q, uint32_t k) {
    const uint32_t w = bitlm_cm_trit_table.e[q].plain[k >> 1];
    return (k & 1) ? high16(w) : low16(w);
}

// int32 partial sums live in the float output slots until the float combination.
inline int32_t load_partial(const float *slot) { return (int32_t)float_bits(*slot); }
inline void store_partial(float *slot, int32_t v) { *slot = bits_float((uint32_t)v); }

// One scale group's running state in a row (group scales).
struct GroupSum {
    const WeightView *w;
    uint32_t row, group, next_boundary;
    int32_t acc;
    float sum;
    void flush() {
        sum = dequant_group_add(sum, acc, scale_to_f32(w->scales[scale_index(*w, row, group)]));
        acc = 0;
        group++;
        next_boundary += w->group_size;
    }
    void add(uint32_t index, int32_t v) {
        if (index >= next_boundary) flush();
        acc += v;
    }
};

}  // namespace

// y[r] (holding the int32 sum of row r) = ((float)sum * w_scale) * x_scale, the order of dequant.h.
void combine_rows(const WeightView *w, uint32_t r0, uint32_t r1, float xs, float *y) {
    uint32_t r = r0;
    if (w->scale_kind == ScaleKind::Tensor) {
        const float ws = scale_to_f32(w->scales[0]);
        for (; r < r1; r++) y[r] = dequant_dot(load_partial(&y[r]), ws, xs);
        return;
    }
#if defined(__ARM_FP)
    bitlm_cm_combine_rows_f16(y + r0, w->scales + r0, r1 - r0, xs);
#else
    for (; r < r1; r++) y[r] = dequant_dot(load_partial(&y[r]), scale_to_f32(w->scales[r]), xs);
#endif
}

namespace {

using PassFn = void (*)(bitlm_cm_pass *);
// groups of one, two, three rows
constexpr PassFn kTernPass[3] = {bitlm_cm_tern_rows1, bitlm_cm_tern_rows2, bitlm_cm_tern_rows3};
constexpr PassFn kInt8Pass[3] = {bitlm_cm_i8_rows1, bitlm_cm_i8_rows2, bitlm_cm_i8_rows3};

// The int32 sums of rows [0, n) (row 0 at w0, stride rb; `len` bytes each) into out[0..n): groups of
// three rows, then a group of one or two.
inline __attribute__((always_inline)) void run_rows(const PassFn fns[3], const uint8_t *w0, uint32_t rb, uint32_t n,
                                                    const uint32_t *acts, const uint32_t *acts_end, uint32_t units,
                                                    uint32_t len, int32_t *out) {
    bitlm_cm_pass p;
    p.w0 = w0, p.w1 = w0 + rb, p.w2 = w0 + 2 * rb;
    p.delta = (int32_t)(3 * rb - len);
    p.acts = acts, p.acts_end = acts_end, p.units = units;
    p.out = out;
    const uint32_t triples = n / 3, rest = n % 3;
    if (triples) {
        p.out_end = out + 3 * triples;
        fns[2](&p);  // leaves w0, w1 and out at the remainder
    }
    if (rest) {
        p.out_end = p.out + rest;
        fns[rest - 1](&p);
    }
}

// The same, added to out[0..n) (the column chunks after the first): through a small buffer.
void run_rows_add(const PassFn fns[3], const uint8_t *w0, uint32_t rb, uint32_t n, const uint32_t *acts,
                  const uint32_t *acts_end, uint32_t units, uint32_t len, int32_t *out) {
    int32_t tmp[48];
    for (uint32_t r = 0; r < n; r += 48) {
        const uint32_t m = n - r < 48 ? n - r : 48;
        run_rows(fns, w0 + r * rb, rb, m, acts, acts_end, units, len, tmp);
        for (uint32_t i = 0; i < m; i++) out[r + i] += tmp[i];
    }
}

// Columns [c0, c1) of one token for rows [r0, r1). c0 is a multiple of 160 (and of the group size),
// c1 is too unless it is cols; `a` .. `a_end` hold the permuted activations of those columns.
inline __attribute__((always_inline)) void ternary_chunk(const WeightView *w, const int8_t *x, const uint32_t *a,
                                             const uint32_t *a_end, uint32_t c0, uint32_t c1, float xs, uint32_t r0,
                                             uint32_t r1, float *y) {
    const bool first = c0 == 0, last = c1 == w->cols;
    const uint32_t blocks = (c1 - c0) / kTernaryBlockWeights;
    const uint32_t tail = (c1 - c0) % kTernaryBlockWeights;
    const uint32_t nb = blocks * kTernaryBlockBytes + (tail + 4) / 5;
    const uint8_t *base = w->data + c0 / 5;
    const uint32_t rb = w->row_bytes;
    if (w->scale_kind != ScaleKind::Group) {
        int32_t *sums = (int32_t *)(void *)(y + r0);
        if (first) run_rows(kTernPass, base + r0 * rb, rb, r1 - r0, a, a_end, nb, nb, sums);
        else run_rows_add(kTernPass, base + r0 * rb, rb, r1 - r0, a, a_end, nb, nb, sums);
        if (last) combine_rows(w, r0, r1, xs, y);
        return;
    }
    const uint32_t g = w->group_size;
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *row = base + r * rb;
        GroupSum gs = {w, r, c0 / g, c0 + g, 0, first ? 0.0f : y[r]};
        for (uint32_t b = 0; b < blocks; b++) {
            int32_t p[5];
            tern_planes(row + b * kTernaryBlockBytes, a + b * kTernaryBlockBytes * 3, p);
            for (uint32_t k = 0; k < 5; k++) gs.add(c0 + b * kTernaryBlockWeights + 32 * k, p[k]);
        }
        if (tail) {
            const uint8_t *tb = row + blocks * kTernaryBlockBytes;
            const uint32_t stride = (tail + 4) / 5, t0 = c0 + blocks * kTernaryBlockWeights;
            for (uint32_t k = 0; k < 5; k++)
                for (uint32_t j = 0; j < stride; j++) {
                    const uint32_t e = stride * k + j;
                    if (e < tail) gs.add(t0 + e, trit_at(tb[j], k) * x[t0 + e]);
                }
        }
        gs.flush();  // the chunk ends on a group boundary (or the row's end)
        y[r] = last ? dequant_group_end(gs.sum, xs) : gs.sum;
    }
}

inline __attribute__((always_inline)) void int8_chunk(const WeightView *w, const int8_t *x, const uint32_t *a,
                                          const uint32_t *a_end, uint32_t c0, uint32_t c1, float xs, uint32_t r0,
                                          uint32_t r1, float *y) {
    const bool first = c0 == 0, last = c1 == w->cols;
    const uint32_t n4 = (c1 - c0) / 4, rb = w->row_bytes;
    const uint8_t *base = w->data + c0 + r0 * rb;
    int32_t *sums = (int32_t *)(void *)(y + r0);
    if (n4 && first) {
        const uint8_t *wr = base;
        int32_t *out = sums;
        uint32_t n = r1 - r0;
        if (n >= 6) {
            bitlm_cm_pass6 p6 = {wr, wr + 3 * rb, rb, (int32_t)(6 * rb - 4 * n4), out + n / 6 * 6, a, a_end, n4, out};
            (n4 <= 16 ? bitlm_cm_i8_rows6_short : bitlm_cm_i8_rows6)(&p6);
            wr = p6.w0, out = p6.out, n %= 6;
        }
        run_rows(kInt8Pass, wr, rb, n, a, a_end, n4, 4 * n4, out);
    }
    else if (n4) run_rows_add(kInt8Pass, base, rb, r1 - r0, a, a_end, n4, 4 * n4, sums);
    if (c1 - c0 > 4 * n4) {  // the last 1-3 columns
        for (uint32_t r = 0; r < r1 - r0; r++) {
            const int8_t *row = (const int8_t *)(base + r * rb);
            int32_t s = n4 || !first ? load_partial(&y[r0 + r]) : 0;
            for (uint32_t i = 4 * n4; i < c1 - c0; i++) s += row[i] * x[c0 + i];
            store_partial(&y[r0 + r], s);
        }
    }
    if (last) combine_rows(w, r0, r1, xs, y);
}

uint32_t gcd_u32(uint32_t a, uint32_t b) {
    while (b) {
        const uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

// sum |x[i]| < limit?
inline bool abs_sum_below(const int8_t *x, uint32_t n, uint32_t limit) {
    uint32_t s = bitlm_cm_abs_sum(x, n / 4);
    for (uint32_t i = n & ~3u; i < n; i++) s += (uint32_t)(x[i] < 0 ? -x[i] : x[i]);
    return s < limit;
}

// Everything but the common case: column chunks, group scales, int8 weights; `a` is the caller's window.
__attribute__((noinline)) void matmul_q8_general(const WeightView *w, const int8_t *x, const float *x_scale,
                                                 uint32_t n_tok, uint32_t row_begin, uint32_t row_end, float *y,
                                                 uint32_t y_stride, uint32_t *a) {
    const bool ternary = w->dtype == DType::Ternary;
    const bool int8 = w->dtype == DType::Int8 && w->scale_kind != ScaleKind::Group;
    // Columns per chunk: the whole row if it fits the window, else whole blocks (and whole groups).
    uint32_t chunk = kChunkCols;
    if (w->cols <= kChunkCols) {
        chunk = w->cols;
    } else if (ternary && w->scale_kind == ScaleKind::Group) {
        const uint32_t g = w->group_size;
        const uint64_t l = (uint64_t)kTernaryBlockWeights / gcd_u32(kTernaryBlockWeights, g) * g;  // lcm
        chunk = l <= kChunkCols ? (uint32_t)(kChunkCols / l * l) : 0;
    }
    if ((!ternary && !int8) || chunk == 0 || w->cols == 0 || row_begin >= row_end) {
        bitlm_reference_kernels()->matmul_q8(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
        return;
    }
    for (uint32_t t = 0; t < n_tok; t++) {
        const int8_t *xt = x + (uint64_t)t * w->cols;
        float *yt = y + (uint64_t)t * y_stride;
        for (uint32_t c0 = 0; c0 < w->cols; c0 += chunk) {
            const uint32_t c1 = w->cols - c0 < chunk ? w->cols : c0 + chunk;
            if (ternary) {
                const uint32_t n = c1 - c0;
                const uint32_t *a_end = permute_ternary(xt + c0, n / kTernaryBlockWeights, n % kTernaryBlockWeights, a);
                ternary_chunk(w, xt, a, a_end, c0, c1, x_scale[t], row_begin, row_end, yt);
            } else {
                const uint32_t *a_end = permute_int8(xt + c0, (c1 - c0) / 4, a);
                int8_chunk(w, xt, a, a_end, c0, c1, x_scale[t], row_begin, row_end, yt);
            }
        }
    }
}

// The common case: ternary, tensor or row scale, the whole row in the window (every decode matmul of
// the mcu-260k shape). The general path below computes the same; this one has less set-up per call.
// The int32 sums of n ternary rows (row 0 at w0, stride rb, nb bytes) into out: six rows per group
// with two per accumulator where the sums fit 14 bits, then four, then groups of three, two, one.
__attribute__((noinline)) void ternary_sums(const uint8_t *w0, uint32_t rb, uint32_t nb, uint32_t n, bool packed,
                                            const uint32_t *a, const uint32_t *a_end, int32_t *out) {
    if (packed && n >= 4) {
        bitlm_cm_pass6 p = {w0, w0 + 3 * rb, rb, (int32_t)(6 * rb - nb), out + n / 6 * 6, a, a_end, nb, out};
        if (n >= 6) (nb <= 16 ? bitlm_cm_tern_rows6p_short : bitlm_cm_tern_rows6p)(&p);
        n %= 6;
        if (n >= 4) {  // four of the last five rows
            p.w3 = p.w0 + 2 * rb, p.delta = (int32_t)(4 * rb - nb), p.out_end = p.out + 4;
            bitlm_cm_tern_rows4p(&p);
            n -= 4;
        }
        w0 = p.w0, out = p.out;
    }
    if (n) run_rows(kTernPass, w0, rb, n, a, a_end, nb, nb, out);
}

// One token of the common case: the activation window, the sums, the float combination.
__attribute__((noinline)) void ternary_token(const WeightView *w, const int8_t *x, float xs, uint32_t r0,
                                             uint32_t r1, float *y, uint32_t *a) {
    const uint32_t cols = w->cols, rb = w->row_bytes;
    const uint32_t *a_end = permute_ternary(x, cols / kTernaryBlockWeights, cols % kTernaryBlockWeights, a);
    // |row sum| < 2^13 (at most 64 weights, or small activations): two rows per accumulator
    const bool packed = cols <= 64 || abs_sum_below(x, cols, 8192);
    ternary_sums(w->data + r0 * rb, rb, (uint32_t)(a_end - a) / 3, r1 - r0, packed, a, a_end,
                 (int32_t *)(void *)(y + r0));
#if defined(__ARM_FP)
    if (w->scale_kind == ScaleKind::Row) return bitlm_cm_combine_rows_f16(y + r0, w->scales + r0, r1 - r0, xs);
#endif
    combine_rows(w, r0, r1, xs, y);
}

void matmul_q8_dsp(const WeightView *w, const int8_t *x, const float *x_scale, uint32_t n_tok, uint32_t r0,
                   uint32_t r1, float *y, uint32_t y_stride) {
    uint32_t a[kChunkWords];  // the one activation window (the general path gets it too)
    if (w->dtype != DType::Ternary || w->scale_kind == ScaleKind::Group || w->cols - 1u >= kChunkCols || r0 >= r1)
        return matmul_q8_general(w, x, x_scale, n_tok, r0, r1, y, y_stride, a);
    for (uint32_t t = 0; t < n_tok; t++, x += w->cols, y += y_stride) ternary_token(w, x, x_scale[t], r0, r1, y, a);
}


void matmul_f16_reference(const WeightView *w, const float *x, uint32_t n_tok, uint32_t row_begin, uint32_t row_end,
                          float *y, uint32_t y_stride) {
    bitlm_reference_kernels()->matmul_f16(w, x, n_tok, row_begin, row_end, y, y_stride);
}

const bitlm_kernels kDsp = {"cm-dsp", quantize_act_int8_fpu, matmul_q8_dsp, matmul_f16_reference,
                            nullptr, nullptr, nullptr, 0};  // the optional float kernels: the portable ones

}  // namespace

float scale_to_f32(uint16_t h) {
#if defined(__ARM_FP)
    float f;
    __asm__("vmov %0, %1\n\tvcvtb.f32.f16 %0, %0" : "=&t"(f) : "r"((uint32_t)h));
    return f;
#else
    return f16_to_f32(h);
#endif
}

float quantize_act_int8_fpu(const float *x, uint32_t n, int8_t *q) {
#if defined(__ARM_FP)
    if (!x || !q) return 0.0f;
    const uint32_t amax_bits = bitlm_cm_absmax2(x, n) >> 1;
    // Zero, non-finite, or so small that 127/amax overflows: the reference's special cases.
    if (amax_bits < 0x04000000u || amax_bits >= 0x7f800000u) return quantize_act_int8_ref(x, n, q);
    const float amax = bits_float(amax_bits);
    const float mult = 127.0f / amax;
    // |x * mult| <= 127 * (1 + 2^-23)^2 < 127.5, so the rounded value needs no clamp.
    bitlm_cm_quant_rne(x, n, q, mult);
    return amax / 127.0f;
#else
    return quantize_act_int8_ref(x, n, q);
#endif
}

const bitlm_kernels *dsp_kernels() { return &kDsp; }

}  // namespace cm
}  // namespace bitlm
