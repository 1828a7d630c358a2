// reference_backend.cpp — the plain training backend: a naive GEMM and serial tasks.
#include "train/backend.h"

namespace bitlm {
namespace {

void reference_gemm(void *, bool trans_a, bool trans_b, uint32_t m, uint32_t n, uint32_t k, const float *a,
                    uint32_t lda, const float *b, uint32_t ldb, float beta, float *c, uint32_t ldc) {
    for (uint32_t i = 0; i < m; i++) {
        for (uint32_t j = 0; j < n; j++) {
            float sum = 0.0f;
            for (uint32_t p = 0; p < k; p++) {
                const float av = trans_a ? a[(uint64_t)p * lda + i] : a[(uint64_t)i * lda + p];
                const float bv = trans_b ? b[(uint64_t)j * ldb + p] : b[(uint64_t)p * ldb + j];
                sum += av * bv;
            }
            float *cij = &c[(uint64_t)i * ldc + j];
            *cij = beta == 0.0f ? sum : beta * *cij + sum;
        }
    }
}

const TrainBackend kReference = {"reference", nullptr, reference_gemm, nullptr, nullptr};

}  // namespace

const TrainBackend *reference_train_backend() { return &kReference; }

}  // namespace bitlm
