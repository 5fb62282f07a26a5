// Linear layers on BLAS (OpenBLAS, OpenMP build), with a plain triple-loop reference.
#include <cblas.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/vecmath.h"

// C (M, N) = op(A) op(B) + beta C, row-major, on OpenBLAS's own threads.  OpenBLAS splits
// the work by the number of threads, so results repeat exactly for a given thread count but
// may differ in the last bits between thread counts.  (Cutting C into fixed tiles, one
// single-threaded call each, would make them thread-count independent, at a measured 20%
// cost per training step: every tile packs its panels again.)
static void sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void matmul_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
                B, ldb, beta, C, ldc);
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

static inline float bf16_load(bf16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}
static inline float f32_load(float x) { return x; }

// Dot products of a float32 row with a weight row, 64 lanes at a time.  The portable versions
// keep 16 partial sums (vectorisable without reassociation); on AVX-512 CPUs hand-written ones
// with four 16-lane accumulators run instead (GCC vectorises the portable loop with 256-bit
// registers and, for bf16, does not reach the memory bandwidth).
static float dot_f32(const float *x, const float *w, int n) {
    float acc[VLANES] = {0}, s = 0;
    int i = 0;
    for (; i + VLANES <= n; i += VLANES)
        for (int k = 0; k < VLANES; k++) acc[k] += x[i + k] * w[i + k];
    for (; i < n; i++) s += x[i] * w[i];
    for (int k = 0; k < VLANES; k++) s += acc[k];
    return s;
}

static float dot_bf16(const float *x, const bf16_t *w, int n) {
    float acc[VLANES] = {0}, s = 0;
    int i = 0;
    for (; i + VLANES <= n; i += VLANES)
        for (int k = 0; k < VLANES; k++) acc[k] += x[i + k] * bf16_load(w[i + k]);
    for (; i < n; i++) s += x[i] * bf16_load(w[i]);
    for (int k = 0; k < VLANES; k++) s += acc[k];
    return s;
}

// Four weight rows (w, w + ldw, ...) against one x, into out[0..4).
static void dot4_f32(const float *x, const float *w, size_t ldw, int n, float *out) {
    for (int k = 0; k < 4; k++) out[k] = dot_f32(x, w + k * ldw, n);
}

static void dot4_bf16(const float *x, const bf16_t *w, size_t ldw, int n, float *out) {
    for (int k = 0; k < 4; k++) out[k] = dot_bf16(x, w + k * ldw, n);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_DOT 1
__attribute__((target("avx512f"))) static inline __m512 bf16x16(const bf16_t *w) {
    __m256i h = _mm256_loadu_si256((const __m256i *)w);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
static inline float f32_of_f32(float x) { return x; }
static inline float f32_of_bf16(bf16_t h) { return bf16_load(h); }
#define LOAD_F32X16(p) _mm512_loadu_ps(p)

// One row: four accumulators of 16 lanes.
#define DOT_AVX512(SUFFIX, WT, LOADW)                                                                      \
    __attribute__((target("avx512f"))) static float dot_##SUFFIX##_avx512(const float *x, const WT *w, int n) { \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                        \
        int i = 0;                                                                                         \
        for (; i + 64 <= n; i += 64) {                                                                     \
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), LOADW(w + i), a0);                                \
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), LOADW(w + i + 16), a1);                      \
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), LOADW(w + i + 32), a2);                      \
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), LOADW(w + i + 48), a3);                      \
        }                                                                                                  \
        for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), LOADW(w + i), a0);      \
        float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));       \
        for (; i < n; i++) s += x[i] * f32_of_##SUFFIX(w[i]);                                              \
        return s;                                                                                          \
    }
DOT_AVX512(f32, float, LOAD_F32X16)
DOT_AVX512(bf16, bf16_t, bf16x16)

// Four rows share each load of x; one accumulator per row keeps four FMA chains in flight.
#define DOT4_AVX512(SUFFIX, WT, LOADW)                                                                      \
    __attribute__((target("avx512f"))) static void dot4_##SUFFIX##_avx512(const float *x, const WT *w,       \
                                                                          size_t ldw, int n, float *out) { \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                         \
        int i = 0;                                                                                          \
        for (; i + 16 <= n; i += 16) {                                                                      \
            __m512 xv = _mm512_loadu_ps(x + i);                                                             \
            _mm_prefetch((const char *)(w + 4 * ldw + i), _MM_HINT_T0);                                     \
            _mm_prefetch((const char *)(w + 5 * ldw + i), _MM_HINT_T0);                                     \
            _mm_prefetch((const char *)(w + 6 * ldw + i), _MM_HINT_T0);                                     \
            _mm_prefetch((const char *)(w + 7 * ldw + i), _MM_HINT_T0);                                     \
            a0 = _mm512_fmadd_ps(xv, LOADW(w + i), a0);                                                     \
            a1 = _mm512_fmadd_ps(xv, LOADW(w + ldw + i), a1);                                               \
            a2 = _mm512_fmadd_ps(xv, LOADW(w + 2 * ldw + i), a2);                                           \
            a3 = _mm512_fmadd_ps(xv, LOADW(w + 3 * ldw + i), a3);                                           \
        }                                                                                                   \
        out[0] = _mm512_reduce_add_ps(a0), out[1] = _mm512_reduce_add_ps(a1);                               \
        out[2] = _mm512_reduce_add_ps(a2), out[3] = _mm512_reduce_add_ps(a3);                               \
        for (; i < n; i++)                                                                                  \
            for (int k = 0; k < 4; k++) out[k] += x[i] * f32_of_##SUFFIX(w[k * ldw + i]);                   \
    }
DOT4_AVX512(f32, float, LOAD_F32X16)
DOT4_AVX512(bf16, bf16_t, bf16x16)
#endif

// Streaming products for N <= MATMUL_SKINNY rows: every weight row is read once from memory
// and used for all N rows while it is in L1.  OUT_IN: output rows split among threads, one dot
// product per (row, output); IN_OUT: blocks of 256 output columns, weight rows streamed.  Each
// output is summed in a fixed order, so results do not depend on the thread count.
#define SKINNY_KERNELS(SUFFIX, WT, LOAD)                                                                         \
    static void skinny_oi_##SUFFIX(float *out, const float *inp, const WT *w, int N, int IC, int OC) {          \
        float (*dot)(const float *, const WT *, int) = dot_##SUFFIX;                                           \
        void (*dot4)(const float *, const WT *, size_t, int, float *) = dot4_##SUFFIX;                         \
        SKINNY_AVX512(SUFFIX)                                                                                  \
        int groups = OC / 4;                                                                                   \
        _Pragma("omp parallel for schedule(static) if ((size_t)OC * IC >= PARALLEL_MIN)")                      \
        for (int g = 0; g <= groups; g++) {                                                                    \
            for (int r = 0; r < N; r++) {                                                                      \
                const float *x = inp + (size_t)r * IC;                                                         \
                float *y = out + (size_t)r * OC;                                                               \
                if (g < groups) {                                                                              \
                    float o4[4];                                                                               \
                    dot4(x, w + (size_t)4 * g * IC, (size_t)IC, IC, o4);                                       \
                    memcpy(y + 4 * g, o4, sizeof o4);                                                          \
                } else {                                                                                       \
                    for (int o = 4 * groups; o < OC; o++) y[o] = dot(x, w + (size_t)o * IC, IC);               \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
    static KERNEL_CLONES void skinny_io_##SUFFIX(float *out, const float *inp, const WT *w, int N, int IC,      \
                                                 int OC) {                                                     \
        enum { BLK = 256 };                                                                                    \
        int nblk = (OC + BLK - 1) / BLK;                                                                       \
        _Pragma("omp parallel for schedule(static)") for (int b = 0; b < nblk; b++) {                          \
            int o0 = b * BLK, m = OC - o0 < BLK ? OC - o0 : BLK;                                               \
            float acc[MATMUL_SKINNY][BLK];                                                                     \
            for (int r = 0; r < N; r++) memset(acc[r], 0, sizeof acc[r]);                                      \
            for (int i = 0; i < IC; i++) {                                                                     \
                const WT *wr = w + (size_t)i * OC + o0;                                                        \
                for (int r = 0; r < N; r++) {                                                                  \
                    float a = inp[(size_t)r * IC + i];                                                         \
                    for (int k = 0; k < m; k++) acc[r][k] += a * LOAD(wr[k]);                                  \
                }                                                                                              \
            }                                                                                                  \
            for (int r = 0; r < N; r++) memcpy(out + (size_t)r * OC + o0, acc[r], (size_t)m * sizeof(float));  \
        }                                                                                                      \
    }
#ifdef HAVE_AVX512_DOT
#define SKINNY_AVX512(SUFFIX)                                         \
    if (__builtin_cpu_supports("avx512f")) {                          \
        dot = dot_##SUFFIX##_avx512;                                  \
        dot4 = dot4_##SUFFIX##_avx512;                                \
    }
#else
#define SKINNY_AVX512(SUFFIX)
#endif
SKINNY_KERNELS(f32, float, f32_load)
SKINNY_KERNELS(bf16, bf16_t, bf16_load)

static void add_bias(float *out, const float *bias, int N, int OC) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        float *row = out + (size_t)r * OC;
        for (int c = 0; c < OC; c++) row[c] += bias[c];
    }
}

void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N, int IC, int OC,
                    wlayout_t layout) {
    if (N <= MATMUL_SKINNY)
        (layout == W_OUT_IN ? skinny_oi_f32 : skinny_io_f32)(out, inp, w, N, IC, OC);
    else if (layout == W_OUT_IN)
        sgemm(CblasNoTrans, CblasTrans, N, OC, IC, inp, IC, w, IC, 0.0f, out, OC);
    else
        sgemm(CblasNoTrans, CblasNoTrans, N, OC, IC, inp, IC, w, OC, 0.0f, out, OC);
    if (bias) add_bias(out, bias, N, OC);
}

void bf16_from_f32(bf16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &src[i], sizeof b);
        if ((b & 0x7fffffffu) > 0x7f800000u) dst[i] = (bf16_t)((b >> 16) | 0x40);  // NaN: keep it quiet
        else dst[i] = (bf16_t)((b + 0x7fffu + ((b >> 16) & 1)) >> 16);          // round to nearest even
    }
}

void bf16_to_f32(float *dst, const bf16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bf16_load(src[i]);
}

// Converts rows [r0, r1) of a (rows, cols) bf16 matrix into dst, on all threads.
static void rows_to_f32(float *dst, const bf16_t *w, size_t r0, size_t r1, size_t cols) {
#pragma omp parallel for schedule(static)
    for (size_t r = r0; r < r1; r++) bf16_to_f32(dst + (r - r0) * cols, w + r * cols, cols);
}

void matmul_forward_bf16(float *out, const float *inp, const bf16_t *w, const float *bias, int N, int IC, int OC,
                         wlayout_t layout, float *scratch) {
    if (N <= MATMUL_SKINNY) {
        (layout == W_OUT_IN ? skinny_oi_bf16 : skinny_io_bf16)(out, inp, w, N, IC, OC);
    } else if (layout == W_OUT_IN) {  // blocks of output rows: out[:, o0:o1] = inp . Wblk^T
        int blk = BF16_SCRATCH / IC > 0 ? BF16_SCRATCH / IC : 1;
        for (int o0 = 0; o0 < OC; o0 += blk) {
            int m = OC - o0 < blk ? OC - o0 : blk;
            rows_to_f32(scratch, w, (size_t)o0, (size_t)o0 + m, (size_t)IC);
            sgemm(CblasNoTrans, CblasTrans, N, m, IC, inp, IC, scratch, IC, 0.0f, out + o0, OC);
        }
    } else {  // blocks of input rows: out += inp[:, i0:i1] . Wblk
        int blk = BF16_SCRATCH / OC > 0 ? BF16_SCRATCH / OC : 1;
        for (int i0 = 0; i0 < IC; i0 += blk) {
            int m = IC - i0 < blk ? IC - i0 : blk;
            rows_to_f32(scratch, w, (size_t)i0, (size_t)i0 + m, (size_t)OC);
            sgemm(CblasNoTrans, CblasNoTrans, N, OC, m, inp + i0, IC, scratch, OC, i0 ? 1.0f : 0.0f, out, OC);
        }
    }
    if (bias) add_bias(out, bias, N, OC);
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
