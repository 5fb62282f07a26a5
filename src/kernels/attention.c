// Causal multi-head self-attention with grouped-query heads.
//
// The fast version runs one (batch, head) pair per thread and does the three products
// (Q K^T, P V and their backward counterparts) with single-threaded BLAS calls on row
// blocks, skipping the blocks above the diagonal that the causal mask zeroes anyway.
// OpenBLAS's OpenMP build runs single-threaded inside a parallel region, so nothing nests.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/vecmath.h"

enum { RB = 64 };  // row block for the causal skipping

size_t attention_scratch_floats(int T) { return (size_t)omp_get_max_threads() * T * T; }

// Softmax of row[0..n) in place.
KERNEL_CLONES static void softmax_row(float *row, int n) {
    float inv = 1.0f / sum_exp(row, row, n, max_of(row, n));
    for (int j = 0; j < n; j++) row[j] *= inv;
}

// Masked softmax of rows [r0, r1) of S (T, T), in place; entries above the diagonal become 0.
static void causal_softmax_rows(float *S, int r0, int r1, int T) {
    for (int i = r0; i < r1; i++) {
        float *row = S + (size_t)i * T;
        softmax_row(row, i + 1);
        for (int j = i + 1; j < T; j++) row[j] = 0;
    }
}

void attention_forward(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV, int HS) {
    int QKV = (NH + 2 * NKV) * HS, C = NH * HS, G = NH / NKV;
    float scale = 1.0f / sqrtf((float)HS);
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH, kvh = h / G;
        const float *Q = qkv + (size_t)b * T * QKV + (size_t)h * HS;
        const float *K = qkv + (size_t)b * T * QKV + (size_t)(NH + kvh) * HS;
        const float *Vv = qkv + (size_t)b * T * QKV + (size_t)(NH + NKV + kvh) * HS;
        float *S = att + (size_t)bh * T * T;
        float *Y = out + (size_t)b * T * C + (size_t)h * HS;
        for (int r0 = 0; r0 < T; r0 += RB) {
            int r1 = r0 + RB < T ? r0 + RB : T, m = r1 - r0;
            // S[r0:r1, 0:r1] = scale * Q[r0:r1] K[0:r1]^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, r1, HS, scale, Q + (size_t)r0 * QKV, QKV, K, QKV,
                        0.0f, S + (size_t)r0 * T, T);
            causal_softmax_rows(S, r0, r1, T);
            // Y[r0:r1] = P[r0:r1, 0:r1] V[0:r1]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, HS, r1, 1.0f, S + (size_t)r0 * T, T, Vv, QKV,
                        0.0f, Y + (size_t)r0 * C, C);
        }
    }
}

void attention_backward(float *dqkv, float *scratch, const float *dout, const float *att, const float *qkv, int B,
                        int T, int NH, int NKV, int HS) {
    int QKV = (NH + 2 * NKV) * HS, C = NH * HS, G = NH / NKV;
    float scale = 1.0f / sqrtf((float)HS);
    // One task per (batch, kv head): the G query heads that share a key/value head are
    // processed by the same thread, so dK and dV accumulate without races.
#pragma omp parallel for schedule(dynamic, 1)
    for (int bk = 0; bk < B * NKV; bk++) {
        int b = bk / NKV, kvh = bk % NKV;
        float *dS = scratch + (size_t)omp_get_thread_num() * T * T;
        const float *base = qkv + (size_t)b * T * QKV;
        float *dbase = dqkv + (size_t)b * T * QKV;
        const float *K = base + (size_t)(NH + kvh) * HS, *Vv = base + (size_t)(NH + NKV + kvh) * HS;
        float *dK = dbase + (size_t)(NH + kvh) * HS, *dV = dbase + (size_t)(NH + NKV + kvh) * HS;
        for (int t = 0; t < T; t++) {
            memset(dK + (size_t)t * QKV, 0, sizeof(float) * HS);
            memset(dV + (size_t)t * QKV, 0, sizeof(float) * HS);
        }
        for (int h = kvh * G; h < (kvh + 1) * G; h++) {
            const float *Q = base + (size_t)h * HS;
            float *dQ = dbase + (size_t)h * HS;
            const float *P = att + ((size_t)b * NH + h) * T * T;
            const float *dY = dout + (size_t)b * T * C + (size_t)h * HS;
            for (int r0 = 0; r0 < T; r0 += RB) {
                int r1 = r0 + RB < T ? r0 + RB : T, m = r1 - r0;
                // dP[r0:r1, 0:r1] = dY[r0:r1] V[0:r1]^T
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, r1, HS, 1.0f, dY + (size_t)r0 * C, C, Vv,
                            QKV, 0.0f, dS + (size_t)r0 * T, T);
                // Softmax backward: dS = P * (dP - sum_j P dP), with the 1/sqrt(HS) scale folded in.
                for (int i = r0; i < r1; i++) {
                    const float *p = P + (size_t)i * T;
                    float *d = dS + (size_t)i * T;
                    float dot = 0;
                    for (int j = 0; j <= i; j++) dot += p[j] * d[j];
                    for (int j = 0; j <= i; j++) d[j] = p[j] * (d[j] - dot) * scale;
                    for (int j = i + 1; j < r1; j++) d[j] = 0;
                }
                // dQ[r0:r1] = dS[r0:r1, 0:r1] K[0:r1]
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, HS, r1, 1.0f, dS + (size_t)r0 * T, T, K, QKV,
                            0.0f, dQ + (size_t)r0 * QKV, QKV);
            }
            // Column blocks of P and dS: rows i >= c0 are the only non-zero ones.
            for (int c0 = 0; c0 < T; c0 += RB) {
                int c1 = c0 + RB < T ? c0 + RB : T, n = c1 - c0;
                // dV[c0:c1] += P[c0:T, c0:c1]^T dY[c0:T]
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, HS, T - c0, 1.0f, P + (size_t)c0 * T + c0, T,
                            dY + (size_t)c0 * C, C, 1.0f, dV + (size_t)c0 * QKV, QKV);
                // dK[c0:c1] += dS[c0:T, c0:c1]^T Q[c0:T]
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, HS, T - c0, 1.0f, dS + (size_t)c0 * T + c0, T,
                            Q + (size_t)c0 * QKV, QKV, 1.0f, dK + (size_t)c0 * QKV, QKV);
            }
        }
    }
}

void attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV, int HS) {
    int QKV = (NH + 2 * NKV) * HS, C = NH * HS, G = NH / NKV;
    float scale = 1.0f / sqrtf((float)HS);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int kvh = h / G;
            float *S = att + ((size_t)b * NH + h) * T * T;
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((size_t)b * T + i) * QKV + (size_t)h * HS;
                for (int j = 0; j < T; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * QKV + (size_t)(NH + kvh) * HS;
                    float s = 0;
                    for (int d = 0; d < HS; d++) s += q[d] * k[d];
                    S[(size_t)i * T + j] = s * scale;
                }
            }
            causal_softmax_rows(S, 0, T, T);
            for (int i = 0; i < T; i++) {
                float *y = out + ((size_t)b * T + i) * C + (size_t)h * HS;
                for (int d = 0; d < HS; d++) {
                    float s = 0;
                    for (int j = 0; j <= i; j++)
                        s += S[(size_t)i * T + j] * qkv[((size_t)b * T + j) * QKV + (size_t)(NH + NKV + kvh) * HS + d];
                    y[d] = s;
                }
            }
        }
}

void attention_backward_ref(float *dqkv, const float *dout, const float *att, const float *qkv, int B, int T,
                            int NH, int NKV, int HS) {
    int QKV = (NH + 2 * NKV) * HS, C = NH * HS, G = NH / NKV;
    float scale = 1.0f / sqrtf((float)HS);
    memset(dqkv, 0, sizeof(float) * (size_t)B * T * QKV);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int kvh = h / G;
            const float *P = att + ((size_t)b * NH + h) * T * T;
            for (int i = 0; i < T; i++) {
                const float *dy = dout + ((size_t)b * T + i) * C + (size_t)h * HS;
                const float *q = qkv + ((size_t)b * T + i) * QKV + (size_t)h * HS;
                float *dq = dqkv + ((size_t)b * T + i) * QKV + (size_t)h * HS;
                // dP_j = dy . v_j ; dS_j = P_j (dP_j - sum_k P_k dP_k)
                float dP[T > 0 ? T : 1], dot = 0;
                for (int j = 0; j <= i; j++) {
                    const float *v = qkv + ((size_t)b * T + j) * QKV + (size_t)(NH + NKV + kvh) * HS;
                    float s = 0;
                    for (int d = 0; d < HS; d++) s += dy[d] * v[d];
                    dP[j] = s;
                    dot += P[(size_t)i * T + j] * s;
                }
                for (int j = 0; j <= i; j++) {
                    float p = P[(size_t)i * T + j], ds = p * (dP[j] - dot) * scale;
                    const float *k = qkv + ((size_t)b * T + j) * QKV + (size_t)(NH + kvh) * HS;
                    float *dk = dqkv + ((size_t)b * T + j) * QKV + (size_t)(NH + kvh) * HS;
                    float *dv = dqkv + ((size_t)b * T + j) * QKV + (size_t)(NH + NKV + kvh) * HS;
                    for (int d = 0; d < HS; d++) {
                        dq[d] += ds * k[d];
                        dk[d] += ds * q[d];
                        dv[d] += p * dy[d];
                    }
                }
            }
        }
}

void attention_cached_forward(float *out, int ldo, float *scores, const float *q, int ldq, const float *K,
                              const float *V, int ldk, const int *last, int n, int HS) {
    float scale = 1.0f / sqrtf((float)HS);
    int span = 0;
    for (int i = 0; i < n; i++) span = last[i] + 1 > span ? last[i] + 1 : span;
    if (n >= 4) {  // S = scale Q K^T, masked softmax by rows, O = P V
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, span, HS, scale, q, ldq, K, ldk, 0.0f, scores, span);
        for (int i = 0; i < n; i++) {
            float *row = scores + (size_t)i * span;
            softmax_row(row, last[i] + 1);
            for (int t = last[i] + 1; t < span; t++) row[t] = 0;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, HS, span, 1.0f, scores, span, V, ldk, 0.0f, out, ldo);
        return;
    }
    for (int i = 0; i < n; i++) {
        const float *qi = q + (size_t)i * ldq;
        float *s = scores + (size_t)i * span, *o = out + (size_t)i * ldo;
        for (int t = 0; t <= last[i]; t++) {
            const float *k = K + (size_t)t * ldk;
            float dot = 0;
#pragma omp simd reduction(+ : dot)
            for (int j = 0; j < HS; j++) dot += qi[j] * k[j];
            s[t] = dot * scale;
        }
        softmax_row(s, last[i] + 1);
        memset(o, 0, (size_t)HS * sizeof(float));
        for (int t = 0; t <= last[i]; t++) {
            const float *v = V + (size_t)t * ldk;
            float p = s[t];
#pragma omp simd
            for (int j = 0; j < HS; j++) o[j] += p * v[j];
        }
    }
}
