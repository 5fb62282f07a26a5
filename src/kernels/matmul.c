// Linear layers on BLAS (OpenBLAS, OpenMP build), with a plain triple-loop reference.
#include <cblas.h>
#include <string.h>

#include "kernels/kernels.h"

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
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, w, IC, 0.0f, out, OC);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, IC, 1.0f, inp, IC, w, OC, 0.0f, out, OC);
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
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, 0.0f, dinp, IC);
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    } else {
        if (dinp)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, IC, OC, 1.0f, dout, OC, w, OC, 0.0f, dinp, IC);
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, IC, OC, N, 1.0f, inp, IC, dout, OC, 1.0f, dw, OC);
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
