// Linear layers on BLAS (OpenBLAS, OpenMP build), with a plain triple-loop reference.
#include <cblas.h>
#include <string.h>

#include "kernels/kernels.h"

// C (M, N) = op(A) op(B) + beta C, row-major, on OpenBLAS's own threads.  OpenBLAS splits
// the work by the number of threads, so results repeat exactly for a given thread count but
// may differ in the last bits between thread counts.  (Cutting C into fixed tiles, one
// single-threaded call each, would make them thread-count independent, at a measured 20%
// cost per training step: every tile packs its panels again.)
static void sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

// dbias (OC) += column sums of dout (N, OC).  Parallel over column blocks so that every
// column is summed over rows in the same order whatever the thread count.
static void colsum_accumulate(float *dbias, const float *dout, int N, int OC) {
    enum { BLK = 64 };
    int nblk = (OC + BLK - 1) / BLK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * BLK, c1 = c0 + BLK < OC ? c0 + BLK : OC;
        float acc[BLK] = {0};
        for (int r = 0; r < N; r++) {
            const float *row = dout + (size_t)r * OC;
            for (int c = c0; c < c1; c++) acc[c - c0] += row[c];
        }
        for (int c = c0; c < c1; c++) dbias[c] += acc[c - c0];
    }
}

void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N, int IC, int OC,
                    wlayout_t layout) {
    if (layout == W_OUT_IN)
        sgemm(CblasNoTrans, CblasTrans, N, OC, IC, inp, IC, w, IC, 0.0f, out, OC);
    else
        sgemm(CblasNoTrans, CblasNoTrans, N, OC, IC, inp, IC, w, OC, 0.0f, out, OC);
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int r = 0; r < N; r++) {
            float *row = out + (size_t)r * OC;
            for (int c = 0; c < OC; c++) row[c] += bias[c];
        }
    }
}

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                     int N, int IC, int OC, wlayout_t layout) {
    if (layout == W_OUT_IN) {
        if (dinp)
            sgemm(CblasNoTrans, CblasNoTrans, N, IC, OC, dout, OC, w, IC, 0.0f, dinp, IC);
        if (dw)
            sgemm(CblasTrans, CblasNoTrans, OC, IC, N, dout, OC, inp, IC, 1.0f, dw, IC);
    } else {
        if (dinp)
            sgemm(CblasNoTrans, CblasTrans, N, IC, OC, dout, OC, w, OC, 0.0f, dinp, IC);
        if (dw)
            sgemm(CblasTrans, CblasNoTrans, IC, OC, N, inp, IC, dout, OC, 1.0f, dw, OC);
    }
    if (dbias) colsum_accumulate(dbias, dout, N, OC);
}

// W[o][i] in either layout.
static inline float wat(const float *w, int o, int i, int IC, int OC, wlayout_t layout) {
    return layout == W_OUT_IN ? w[(size_t)o * IC + i] : w[(size_t)i * OC + o];
}

void matmul_forward_ref(float *out, const float *inp, const float *w, const float *bias, int N, int IC, int OC,
                        wlayout_t layout) {
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int i = 0; i < IC; i++) s += (double)inp[(size_t)r * IC + i] * wat(w, o, i, IC, OC, layout);
            out[(size_t)r * OC + o] = (float)s;
        }
}

void matmul_backward_ref(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                         const float *w, int N, int IC, int OC, wlayout_t layout) {
    for (int r = 0; r < N; r++) {
        const float *d = dout + (size_t)r * OC;
        if (dinp)
            for (int i = 0; i < IC; i++) {
                double s = 0;
                for (int o = 0; o < OC; o++) s += (double)d[o] * wat(w, o, i, IC, OC, layout);
                dinp[(size_t)r * IC + i] = (float)s;
            }
        for (int o = 0; o < OC; o++) {
            if (dbias) dbias[o] += d[o];
            if (dw)
                for (int i = 0; i < IC; i++) {
                    size_t k = layout == W_OUT_IN ? (size_t)o * IC + i : (size_t)i * OC + o;
                    dw[k] += d[o] * inp[(size_t)r * IC + i];
                }
        }
    }
}
