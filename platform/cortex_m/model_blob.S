/* model_blob.S — links a .blm artifact into flash as the symbols bitlm_model_blob .. _end, so the
 * library reads the weights in place (execute-in-place flash; nothing is copied to RAM). The build
 * copies the chosen artifact to model.blm in the firmware's build folder and passes that folder to
 * the assembler with -I, which is where .incbin looks. Section .bitlm_model is placed in FLASH by
 * sections.ld, 64-byte aligned so SIMD kernels may load payloads directly. */
    .section .bitlm_model, "a", %progbits
    .balign 64
    .global bitlm_model_blob
    .type bitlm_model_blob, %object
bitlm_model_blob:
    .incbin "model.blm"
    .global bitlm_model_blob_end
bitlm_model_blob_end:
    .size bitlm_model_blob, bitlm_model_blob_end - bitlm_model_blob
