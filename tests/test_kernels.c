// Kernel checks against independent oracles: finite-difference gradients, plain reference
// implementations, closed forms, hand-computed optimizer steps, and the accumulate/overwrite
// and determinism conventions of kernels.h.
//
// Finite differences.  Every gradient check uses the scalar loss L = sum(out * R) for a fixed
// random R, so the backward pass gets dout = R.  L is summed in double; each coordinate x_i is
// perturbed by +-h in float32 (h = 1e-2) and the difference is divided by the float step
// (x+h) - (x-h) actually applied.  The kernels run in float32, so the finite difference carries
// a rounding error of ~6e-8 * |out| / h per output it moves (up to ~5e-5 absolute where the
// forward pass cancels, e.g. x - mean in a row with a large mean, or 1 + tanh in GELU's tail)
// plus a truncation error h^2/6 |f'''| ~ 1e-5 (h = 1e-3 is worse: rounding wins; 2e-2 too:
// truncation wins).  Each checked coordinate must satisfy
//     |fd - analytic| <= atol + rtol * max(|fd|, |analytic|)
// with rtol = 2e-3, atol = 1e-4 for the norms, attention, matmul and cross-entropy, and
// rtol = 1e-3, atol = 1e-5 (2e-5 for GELU) for the elementwise kernels (GELU, SwiGLU, RoPE,
// embeddings).  The worst coordinate uses at most 0.4x its tolerance (TK_VERBOSE=1 prints the
// ratios), while a wrong formula gives 10x-1000x: dropping a term, a sign, a factor of 3 or
// only nudging GELU's 0.044715 to 0.04 all fail.
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "test.h"

// ---- helpers --------------------------------------------------------------------------------

typedef struct {
    uint64_t s;
} trng_t;

static uint64_t trng_next(trng_t *r) {  // splitmix64
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float trng_unif(trng_t *r, float lo, float hi) {
    return lo + (hi - lo) * (float)((trng_next(r) >> 40) * (1.0 / 16777216.0));
}
static int trng_below(trng_t *r, int n) { return (int)(trng_next(r) % (uint64_t)n); }

static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) abort();
    return p;
}
static float *frand(trng_t *r, size_t n, float lo, float hi) {
    float *p = falloc(n);
    for (size_t i = 0; i < n; i++) p[i] = trng_unif(r, lo, hi);
    return p;
}
static float *fdup(const float *x, size_t n) {
    float *p = falloc(n);
    memcpy(p, x, n * sizeof(float));
    return p;
}
static void ffill(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}
static double dotd(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
static double maxabs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

typedef double (*loss_fn)(void *ctx);

// Central difference of loss(ctx) with respect to x[i].
static double fd_at(loss_fn loss, void *ctx, float *x, size_t i, float h) {
    float save = x[i], xp = save + h, xm = save - h;
    x[i] = xp;
    double lp = loss(ctx);
    x[i] = xm;
    double lm = loss(ctx);
    x[i] = save;
    return (lp - lm) / ((double)xp - (double)xm);
}

// Compares the analytic gradient an (same shape as x) with finite differences at coordinates
// idx[0..nidx) (all n coordinates if idx is NULL).  Reports the worst coordinate on failure.
static void gradcheck_(const char *file, int line, const char *what, loss_fn loss, void *ctx, float *x,
                       const float *an, size_t n, const size_t *idx, size_t nidx, float h, double rtol,
                       double atol) {
    size_t cnt = idx ? nidx : n, worst_i = 0;
    double worst = 0, worst_fd = 0, worst_an = 0;
    // The many small forward passes run on one thread: tiny parallel regions are slow on a
    // loaded machine, and the results do not depend on the thread count (tested below).
    int old_threads = omp_get_max_threads();
    omp_set_num_threads(1);
    for (size_t k = 0; k < cnt; k++) {
        size_t i = idx ? idx[k] : k;
        double fd = fd_at(loss, ctx, x, i, h), a = an[i];
        double mag = fabs(fd) > fabs(a) ? fabs(fd) : fabs(a);
        double ratio = fabs(fd - a) / (atol + rtol * mag);
        if (isnan(ratio)) ratio = INFINITY;
        if (ratio > worst) {
            worst = ratio;
            worst_i = i;
            worst_fd = fd;
            worst_an = a;
        }
    }
    omp_set_num_threads(old_threads);
    if (getenv("TK_VERBOSE"))
        printf("      %-40s worst err / tol = %.3g (analytic %.8g, fd %.8g)\n", what, worst, worst_an, worst_fd);
    if (!(worst <= 1.0))
        test_fail(file, line, "%s: d/dx[%zu] analytic %.8g vs finite difference %.8g (err/tol %.3g)", what,
                  worst_i, worst_an, worst_fd, worst);
}
#define GRADCHECK(what, loss, ctx, x, an, n, idx, nidx, h, rtol, atol) \
    gradcheck_(__FILE__, __LINE__, what, loss, ctx, x, an, n, idx, nidx, h, rtol, atol)

// Every element: |a - b| <= tol (reports the worst).
static void close_(const char *file, int line, const char *what, const float *a, const float *b, size_t n,
                   double tol) {
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (isnan(d)) d = INFINITY;
        if (d > worst) {
            worst = d;
            wi = i;
        }
    }
    if (getenv("TK_VERBOSE")) printf("      %-40s max |diff| = %.3g (tol %.3g)\n", what, worst, tol);
    if (!(worst <= tol))
        test_fail(file, line, "%s: [%zu] %.9g vs %.9g, |diff| %.3g > %.3g", what, wi, a[wi], b[wi], worst, tol);
}
#define CLOSE(what, a, b, n, tol) close_(__FILE__, __LINE__, what, a, b, n, tol)

static void same_bits_(const char *file, int line, const char *what, const float *a, const float *b, size_t n) {
    if (memcmp(a, b, n * sizeof(float)) == 0) return;
    size_t i = 0;
    while (i < n && memcmp(a + i, b + i, sizeof(float)) == 0) i++;
    test_fail(file, line, "%s: not bitwise identical, first at [%zu]: %.9g vs %.9g", what, i, a[i], b[i]);
}
#define SAME_BITS(what, a, b, n) same_bits_(__FILE__, __LINE__, what, a, b, n)

// Builds an expected "accumulated" buffer: base[i] + delta[i] in float, as the kernels do.
static float *plus(const float *base, const float *delta, size_t n) {
    float *p = falloc(n);
    for (size_t i = 0; i < n; i++) p[i] = base[i] + delta[i];
    return p;
}

// ---- layernorm / rmsnorm ----------------------------------------------------------------------

typedef struct {
    float *x, *w, *b, *out, *mean, *rstd, *R;
    int N, C, rms;
} norm_ctx;

static double norm_loss(void *p) {
    norm_ctx *c = p;
    if (c->rms) rmsnorm_forward(c->out, c->rstd, c->x, c->w, c->N, c->C, 1e-5f);
    else layernorm_forward(c->out, c->mean, c->rstd, c->x, c->w, c->b, c->N, c->C, 1e-5f);
    return dotd(c->out, c->R, (size_t)c->N * c->C);
}

static void norm_forward_oracle(norm_ctx *c, const char *nm, const char *note) {
    int N = c->N, C = c->C;
    float *ref = falloc((size_t)N * C);
    norm_loss(c);
    for (int row = 0; row < N; row++) {
        const float *x = c->x + (size_t)row * C;
        double m = 0, v = 0;
        for (int i = 0; i < C; i++) m += x[i];
        m = c->rms ? 0 : m / C;
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        double s = 1 / sqrt(v / C + 1e-5);
        for (int i = 0; i < C; i++)
            ref[(size_t)row * C + i] = (float)((x[i] - m) * s * c->w[i] + (c->rms ? 0 : c->b[i]));
        CHECK_NEAR(c->rstd[row], s, 1e-5 * s);
        if (!c->rms) CHECK_NEAR(c->mean[row], m, 1e-5);
    }
    char what[64];
    snprintf(what, sizeof what, "%s forward%s", nm, note);
    CLOSE(what, c->out, ref, (size_t)N * C, 1e-5);
    free(ref);
}

static void norm_gradcheck(int rms) {
    trng_t r = {rms ? 11u : 12u};
    int N = 4, C = 70;  // C > 64: two column blocks in the weight-gradient reduction
    size_t NC = (size_t)N * C;
    norm_ctx c = {.N = N, .C = C, .rms = rms};
    c.x = frand(&r, NC, -2, 2);
    for (int i = 0; i < C; i++) c.x[C + i] += 1.5f;  // a row with a large mean
    c.w = frand(&r, C, 0.5f, 1.5f);
    c.b = frand(&r, C, -0.5f, 0.5f);
    c.R = frand(&r, NC, -1, 1);
    c.out = falloc(NC);
    c.mean = falloc(N);
    c.rstd = falloc(N);
    float *dx = falloc(NC), *dw = falloc(C), *db = falloc(C);
    norm_loss(&c);
    if (rms) rmsnorm_backward(dx, dw, c.R, c.x, c.w, c.rstd, N, C);
    else layernorm_backward(dx, dw, db, c.R, c.x, c.w, c.mean, c.rstd, N, C);
    const char *nm = rms ? "rmsnorm" : "layernorm";
    char what[64];
    snprintf(what, sizeof what, "%s dinp", nm);
    GRADCHECK(what, norm_loss, &c, c.x, dx, NC, NULL, 0, 1e-2f, 2e-3, 1e-4);
    snprintf(what, sizeof what, "%s dw", nm);
    GRADCHECK(what, norm_loss, &c, c.w, dw, C, NULL, 0, 1e-2f, 2e-3, 1e-4);
    if (!rms) GRADCHECK("layernorm dbias", norm_loss, &c, c.b, db, C, NULL, 0, 1e-2f, 2e-3, 1e-4);
    // Forward against a double-precision oracle; again with a row of tiny values (x ~ 1e-3),
    // where eps = 1e-5 dominates the variance.
    norm_forward_oracle(&c, nm, "");
    for (int i = 0; i < C; i++) c.x[2 * C + i] *= 1e-3f;
    norm_forward_oracle(&c, nm, " (tiny row)");
    free(c.x), free(c.w), free(c.b), free(c.R), free(c.out), free(c.mean), free(c.rstd), free(dx), free(dw), free(db);
}

TEST(kernels_layernorm_gradcheck) { norm_gradcheck(0); }
TEST(kernels_rmsnorm_gradcheck) { norm_gradcheck(1); }

// The norms accumulate into dinp, dw and db.
TEST(kernels_norm_backward_accumulates) {
    trng_t r = {21};
    int N = 5, C = 70;
    size_t NC = (size_t)N * C;
    float *x = frand(&r, NC, -2, 2), *w = frand(&r, C, 0.5f, 1.5f), *b = frand(&r, C, -1, 1);
    float *dy = frand(&r, NC, -1, 1), *out = falloc(NC), *mean = falloc(N), *rstd = falloc(N);
    float *pre_x = frand(&r, NC, -3, 3), *pre_w = frand(&r, C, -3, 3), *pre_b = frand(&r, C, -3, 3);
    for (int rms = 0; rms < 2; rms++) {
        float *dx0 = falloc(NC), *dw0 = falloc(C), *db0 = falloc(C);
        float *dx1 = fdup(pre_x, NC), *dw1 = fdup(pre_w, C), *db1 = fdup(pre_b, C);
        if (rms) {
            rmsnorm_forward(out, rstd, x, w, N, C, 1e-5f);
            rmsnorm_backward(dx0, dw0, dy, x, w, rstd, N, C);
            rmsnorm_backward(dx1, dw1, dy, x, w, rstd, N, C);
        } else {
            layernorm_forward(out, mean, rstd, x, w, b, N, C, 1e-5f);
            layernorm_backward(dx0, dw0, db0, dy, x, w, mean, rstd, N, C);
            layernorm_backward(dx1, dw1, db1, dy, x, w, mean, rstd, N, C);
        }
        float *ex = plus(pre_x, dx0, NC), *ew = plus(pre_w, dw0, C), *eb = plus(pre_b, db0, C);
        CLOSE(rms ? "rmsnorm dinp accumulates" : "layernorm dinp accumulates", dx1, ex, NC, 1e-6);
        CLOSE(rms ? "rmsnorm dw accumulates" : "layernorm dw accumulates", dw1, ew, C, 1e-6);
        if (!rms) CLOSE("layernorm db accumulates", db1, eb, C, 1e-6);
        free(dx0), free(dw0), free(db0), free(dx1), free(dw1), free(db1), free(ex), free(ew), free(eb);
    }
    free(x), free(w), free(b), free(dy), free(out), free(mean), free(rstd), free(pre_x), free(pre_w), free(pre_b);
}

// ---- activations ------------------------------------------------------------------------------

typedef struct {
    float *x, *out, *R;
    int N, F, swi;
    size_t nin, nout;
} act_ctx;

static double act_loss(void *p) {
    act_ctx *c = p;
    if (c->swi) swiglu_forward(c->out, c->x, c->N, c->F);
    else gelu_forward(c->out, c->x, c->nin);
    return dotd(c->out, c->R, c->nout);
}

TEST(kernels_gelu_gradcheck) {
    trng_t r = {31};
    act_ctx c = {.nin = 600, .nout = 600};
    c.x = frand(&r, c.nin, -4, 4);
    c.R = frand(&r, c.nout, -1, 1);
    c.out = falloc(c.nout);
    float *dx = falloc(c.nin);
    ffill(dx, c.nin, 123.0f);  // overwritten, not accumulated
    gelu_backward(dx, c.x, c.R, c.nin);
    GRADCHECK("gelu dinp", act_loss, &c, c.x, dx, c.nin, NULL, 0, 1e-2f, 1e-3, 2e-5);
    // Forward against the closed form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) in double.
    act_loss(&c);
    float *ref = falloc(c.nin);
    for (size_t i = 0; i < c.nin; i++) {
        double x = c.x[i];
        ref[i] = (float)(0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))));
    }
    CLOSE("gelu forward", c.out, ref, c.nin, 2e-6);
    free(c.x), free(c.R), free(c.out), free(dx), free(ref);
}

TEST(kernels_swiglu_gradcheck) {
    trng_t r = {32};
    act_ctx c = {.N = 3, .F = 20, .swi = 1};
    c.nin = (size_t)c.N * 2 * c.F;
    c.nout = (size_t)c.N * c.F;
    c.x = frand(&r, c.nin, -4, 4);
    c.R = frand(&r, c.nout, -1, 1);
    c.out = falloc(c.nout);
    float *dx = falloc(c.nin);
    ffill(dx, c.nin, 123.0f);  // overwritten, not accumulated
    swiglu_backward(dx, c.x, c.R, c.N, c.F);
    GRADCHECK("swiglu dinp", act_loss, &c, c.x, dx, c.nin, NULL, 0, 1e-2f, 1e-3, 1e-5);
    act_loss(&c);
    float *ref = falloc(c.nout);
    for (int row = 0; row < c.N; row++)
        for (int i = 0; i < c.F; i++) {
            double g = c.x[(size_t)row * 2 * c.F + i], u = c.x[(size_t)row * 2 * c.F + c.F + i];
            ref[(size_t)row * c.F + i] = (float)(g / (1 + exp(-g)) * u);
        }
    CLOSE("swiglu forward", c.out, ref, c.nout, 5e-6);
    free(c.x), free(c.R), free(c.out), free(dx), free(ref);
}

// ---- rope -------------------------------------------------------------------------------------

typedef struct {
    float *x, *work, *R, *cos_t, *sin_t;
    int B, T, NH, NKV, HS;
    size_t n;
} rope_ctx;

static double rope_loss(void *p) {
    rope_ctx *c = p;
    memcpy(c->work, c->x, c->n * sizeof(float));
    rope_forward(c->work, c->cos_t, c->sin_t, c->B, c->T, c->NH, c->NKV, c->HS);
    return dotd(c->work, c->R, c->n);
}

TEST(kernels_rope_gradcheck) {
    trng_t r = {41};
    rope_ctx c = {.B = 2, .T = 6, .NH = 4, .NKV = 2, .HS = 8};
    int QKV = (c.NH + 2 * c.NKV) * c.HS;
    c.n = (size_t)c.B * c.T * QKV;
    c.x = frand(&r, c.n, -1, 1);
    c.R = frand(&r, c.n, -1, 1);
    c.work = falloc(c.n);
    c.cos_t = falloc((size_t)c.T * c.HS / 2);
    c.sin_t = falloc((size_t)c.T * c.HS / 2);
    rope_table(c.cos_t, c.sin_t, c.T, c.HS, 10.0f);  // small theta: every pair rotates noticeably
    float *g = fdup(c.R, c.n);
    rope_backward(g, c.cos_t, c.sin_t, c.B, c.T, c.NH, c.NKV, c.HS);
    GRADCHECK("rope backward", rope_loss, &c, c.x, g, c.n, NULL, 0, 1e-2f, 1e-3, 1e-5);
    // v heads untouched by both directions.
    rope_loss(&c);
    int v0 = (c.NH + c.NKV) * c.HS;
    for (int bt = 0; bt < c.B * c.T; bt++) {
        size_t o = (size_t)bt * QKV + v0, nv = (size_t)c.NKV * c.HS;
        SAME_BITS("rope_forward leaves v alone", c.work + o, c.x + o, nv);
        SAME_BITS("rope_backward leaves dv alone", g + o, c.R + o, nv);
    }
    free(c.x), free(c.R), free(c.work), free(c.cos_t), free(c.sin_t), free(g);
}

TEST(kernels_rope_table_and_rotation) {
    int T = 50, HS = 16, H2 = HS / 2;
    float theta = 10000.0f;
    float *ct = falloc((size_t)T * H2), *st = falloc((size_t)T * H2);
    rope_table(ct, st, T, HS, theta);
    // Closed form: angle(t, i) = t / theta^(2i/HS).  The table is built in float32 as Hugging
    // Face does, so the angle carries a relative error ~1e-7: allow 2e-6 * (1 + angle).
    double worst = 0;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < H2; i++) {
            double a = t / pow(theta, 2.0 * i / HS), tol = 2e-6 * (1 + a);
            double ec = fabs(ct[t * H2 + i] - cos(a)) / tol, es = fabs(st[t * H2 + i] - sin(a)) / tol;
            worst = ec > worst ? ec : worst;
            worst = es > worst ? es : worst;
            if (!(ec <= 1 && es <= 1)) {
                CHECK_MSG(0, "rope_table t=%d i=%d: cos %.8g sin %.8g, expected %.8g %.8g", t, i, ct[t * H2 + i],
                          st[t * H2 + i], cos(a), sin(a));
                t = T;
                break;
            }
        }
    // Rotation on qkv: norms of every head vector preserved, backward inverts forward, and
    // the rotation of pair (x[i], x[i + HS/2]) matches the closed form.
    trng_t r = {42};
    int B = 2, NH = 4, NKV = 1, QKV = (NH + 2 * NKV) * HS;
    size_t n = (size_t)B * T * QKV;
    float *x = frand(&r, n, -1, 1), *y = fdup(x, n);
    rope_forward(y, ct, st, B, T, NH, NKV, HS);
    double worst_norm = 0, worst_rot = 0;
    for (int bt = 0; bt < B * T; bt++) {
        int t = bt % T;
        for (int h = 0; h < NH + 2 * NKV; h++) {
            const float *a = x + (size_t)bt * QKV + h * HS, *b = y + (size_t)bt * QKV + h * HS;
            double na = 0, nb = 0;
            for (int d = 0; d < HS; d++) na += (double)a[d] * a[d], nb += (double)b[d] * b[d];
            double e = fabs(sqrt(na) - sqrt(nb)) / sqrt(na);
            worst_norm = e > worst_norm ? e : worst_norm;
            for (int i = 0; i < H2 && h < NH + NKV; i++) {
                double ang = t / pow(theta, 2.0 * i / HS);
                double e1 = a[i] * cos(ang) - a[i + H2] * sin(ang), e2 = a[i + H2] * cos(ang) + a[i] * sin(ang);
                double er = fmax(fabs(b[i] - e1), fabs(b[i + H2] - e2)) / (1 + ang);
                worst_rot = er > worst_rot ? er : worst_rot;
            }
        }
    }
    CHECK_MSG(worst_norm < 1e-6, "rope changes a head vector's norm by %.3g (relative)", worst_norm);
    CHECK_MSG(worst_rot < 5e-6, "rope rotation differs from the closed form by %.3g", worst_rot);
    rope_backward(y, ct, st, B, T, NH, NKV, HS);
    CLOSE("rope_backward(rope_forward(x)) == x", y, x, n, 1e-6);
    free(ct), free(st), free(x), free(y);
}

// ---- attention ---------------------------------------------------------------------------------

typedef struct {
    float *qkv, *out, *att, *R;
    int B, T, NH, NKV, HS, fast;
} attn_ctx;

static double attn_loss(void *p) {
    attn_ctx *c = p;
    if (c->fast) attention_forward(c->out, c->att, c->qkv, c->B, c->T, c->NH, c->NKV, c->HS);
    else attention_forward_ref(c->out, c->att, c->qkv, c->B, c->T, c->NH, c->NKV, c->HS);
    return dotd(c->out, c->R, (size_t)c->B * c->T * c->NH * c->HS);
}

static void attn_gradcheck(int fast, int T, int NKV) {
    trng_t r = {(uint64_t)(51 + 1000 * fast + 10 * T + NKV)};
    attn_ctx c = {.B = 2, .T = T, .NH = 4, .NKV = NKV, .HS = 8, .fast = fast};
    int QKV = (c.NH + 2 * NKV) * c.HS;
    size_t nqkv = (size_t)c.B * T * QKV, nout = (size_t)c.B * T * c.NH * c.HS;
    c.qkv = frand(&r, nqkv, -1.5f, 1.5f);
    c.R = frand(&r, nout, -1, 1);
    c.out = falloc(nout);
    c.att = falloc((size_t)c.B * c.NH * T * T);
    float *dqkv = falloc(nqkv), *scratch = falloc(attention_scratch_floats(T));
    ffill(dqkv, nqkv, 7.0f);  // overwritten, not accumulated
    attn_loss(&c);
    if (fast) attention_backward(dqkv, scratch, c.R, c.att, c.qkv, c.B, T, c.NH, NKV, c.HS);
    else attention_backward_ref(dqkv, c.R, c.att, c.qkv, c.B, T, c.NH, NKV, c.HS);
    // Coordinates: all of them for short sequences; otherwise every head slot (q, k and v of
    // every head) at rows 0, 1, 62, 63, 64, 65, T-1 and two random rows, in a random batch.
    size_t *idx = malloc(sizeof(size_t) * (nqkv + 1)), nidx = 0;
    if (!idx) abort();
    if (T <= 8) {
        for (size_t i = 0; i < nqkv; i++) idx[nidx++] = i;
    } else {
        int rows[] = {0, 1, 62, 63, 64, 65, T - 1, trng_below(&r, T), trng_below(&r, T)};
        for (int k = 0; k < (int)(sizeof rows / sizeof rows[0]); k++) {
            if (rows[k] >= T) continue;
            for (int slot = 0; slot < c.NH + 2 * NKV; slot++) {
                int b = trng_below(&r, c.B), d = trng_below(&r, c.HS);
                idx[nidx++] = ((size_t)b * T + rows[k]) * QKV + (size_t)slot * c.HS + d;
            }
        }
    }
    char what[96];
    snprintf(what, sizeof what, "attention%s T=%d NH=4 NKV=%d", fast ? "" : "_ref", T, NKV);
    GRADCHECK(what, attn_loss, &c, c.qkv, dqkv, nqkv, idx, nidx, 1e-2f, 2e-3, 1e-4);
    // The saved probabilities: rows sum to 1, exactly zero above the diagonal.
    attn_loss(&c);
    double worst_sum = 0;
    int above = 0;
    for (int bh = 0; bh < c.B * c.NH; bh++)
        for (int i = 0; i < T; i++) {
            const float *row = c.att + ((size_t)bh * T + i) * T;
            double s = 0;
            for (int j = 0; j < T; j++) {
                s += row[j];
                if (j > i && row[j] != 0.0f) above++;
            }
            worst_sum = fmax(worst_sum, fabs(s - 1));
        }
    CHECK_MSG(worst_sum < 1e-5 && above == 0, "%s: att rows sum to 1 within %.3g, %d non-zeros above diagonal",
              what, worst_sum, above);
    free(c.qkv), free(c.R), free(c.out), free(c.att), free(dqkv), free(scratch), free(idx);
}

TEST(kernels_attention_gradcheck) {
    for (int fast = 0; fast < 2; fast++)
        for (int nkv = 4; nkv >= 1; nkv /= 2) {
            attn_gradcheck(fast, 70, nkv);
            attn_gradcheck(fast, 5, nkv);
        }
}

static void attn_compare(int B, int T, int NH, int NKV, int HS, trng_t *r) {
    int QKV = (NH + 2 * NKV) * HS;
    size_t nqkv = (size_t)B * T * QKV, nout = (size_t)B * T * NH * HS, natt = (size_t)B * NH * T * T;
    float *qkv = frand(r, nqkv, -2, 2), *dout = frand(r, nout, -1, 1);
    float *o1 = falloc(nout), *o2 = falloc(nout), *a1 = falloc(natt), *a2 = falloc(natt);
    float *d1 = falloc(nqkv), *d2 = falloc(nqkv), *scratch = falloc(attention_scratch_floats(T));
    ffill(a1, natt, 5.0f);  // every att entry must be written, including above the diagonal
    ffill(d1, nqkv, 5.0f);
    attention_forward(o1, a1, qkv, B, T, NH, NKV, HS);
    attention_forward_ref(o2, a2, qkv, B, T, NH, NKV, HS);
    attention_backward(d1, scratch, dout, a1, qkv, B, T, NH, NKV, HS);
    attention_backward_ref(d2, dout, a2, qkv, B, T, NH, NKV, HS);
    // Tolerance relative to the magnitude: float32 sums of up to T terms.
    char what[96];
    snprintf(what, sizeof what, "attention out B=%d T=%d NH=%d NKV=%d HS=%d", B, T, NH, NKV, HS);
    CLOSE(what, o1, o2, nout, 1e-5 * (1 + maxabs(o2, nout)));
    snprintf(what, sizeof what, "attention att B=%d T=%d NH=%d NKV=%d HS=%d", B, T, NH, NKV, HS);
    CLOSE(what, a1, a2, natt, 1e-6);
    snprintf(what, sizeof what, "attention dqkv B=%d T=%d NH=%d NKV=%d HS=%d", B, T, NH, NKV, HS);
    CLOSE(what, d1, d2, nqkv, 1e-5 * (1 + maxabs(d2, nqkv)));
    free(qkv), free(dout), free(o1), free(o2), free(a1), free(a2), free(d1), free(d2), free(scratch);
}

TEST(kernels_attention_fast_vs_ref) {
    trng_t r = {61};
    int Ts[] = {1, 63, 64, 65, 130};
    for (int ti = 0; ti < 5; ti++)
        for (int nkv = 1; nkv <= 4; nkv *= 2)
            for (int hs = 8; hs <= 16; hs *= 2) attn_compare(2, Ts[ti], 4, nkv, hs, &r);
}

// ---- matmul ------------------------------------------------------------------------------------

typedef struct {
    float *inp, *w, *bias, *out, *R;
    int N, IC, OC, ref;
    wlayout_t layout;
} mm_ctx;

static double mm_loss(void *p) {
    mm_ctx *c = p;
    if (c->ref) matmul_forward_ref(c->out, c->inp, c->w, c->bias, c->N, c->IC, c->OC, c->layout);
    else matmul_forward(c->out, c->inp, c->w, c->bias, c->N, c->IC, c->OC, c->layout);
    return dotd(c->out, c->R, (size_t)c->N * c->OC);
}

static void mm_backward(int ref, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                        const float *w, int N, int IC, int OC, wlayout_t layout) {
    if (ref) matmul_backward_ref(dinp, dw, dbias, dout, inp, w, N, IC, OC, layout);
    else matmul_backward(dinp, dw, dbias, dout, inp, w, N, IC, OC, layout);
}

TEST(kernels_matmul_gradcheck) {
    trng_t r = {71};
    int N = 5, IC = 7, OC = 6;
    for (int ref = 0; ref < 2; ref++)
        for (int lay = 0; lay < 2; lay++)
            for (int hasb = 0; hasb < 2; hasb++) {
                mm_ctx c = {.N = N, .IC = IC, .OC = OC, .ref = ref, .layout = (wlayout_t)lay};
                c.inp = frand(&r, (size_t)N * IC, -1, 1);
                c.w = frand(&r, (size_t)IC * OC, -1, 1);
                float *bias = frand(&r, OC, -1, 1);
                c.bias = hasb ? bias : NULL;
                c.R = frand(&r, (size_t)N * OC, -1, 1);
                c.out = falloc((size_t)N * OC);
                float *dinp = falloc((size_t)N * IC), *dw = falloc((size_t)IC * OC), *db = falloc(OC);
                ffill(dinp, (size_t)N * IC, 9.0f);  // overwritten
                mm_loss(&c);
                mm_backward(ref, dinp, dw, hasb ? db : NULL, c.R, c.inp, c.w, N, IC, OC, c.layout);
                char what[96];
                const char *nm = ref ? "matmul_ref" : "matmul";
                const char *ln = lay ? "W_IN_OUT" : "W_OUT_IN";
                snprintf(what, sizeof what, "%s %s bias=%d dinp", nm, ln, hasb);
                GRADCHECK(what, mm_loss, &c, c.inp, dinp, (size_t)N * IC, NULL, 0, 1e-2f, 2e-3, 1e-4);
                snprintf(what, sizeof what, "%s %s bias=%d dw", nm, ln, hasb);
                GRADCHECK(what, mm_loss, &c, c.w, dw, (size_t)IC * OC, NULL, 0, 1e-2f, 2e-3, 1e-4);
                if (hasb) {
                    snprintf(what, sizeof what, "%s %s dbias", nm, ln);
                    GRADCHECK(what, mm_loss, &c, bias, db, OC, NULL, 0, 1e-2f, 2e-3, 1e-4);
                }
                // NULL gradients: the others are unaffected (and nothing is written through NULL).
                float *dinp2 = falloc((size_t)N * IC), *dw2 = falloc((size_t)IC * OC), *db2 = falloc(OC);
                mm_backward(ref, NULL, dw2, db2, c.R, c.inp, c.w, N, IC, OC, c.layout);
                snprintf(what, sizeof what, "%s %s dinp=NULL: dw", nm, ln);
                CLOSE(what, dw2, dw, (size_t)IC * OC, 1e-6);
                if (hasb) CLOSE("matmul dinp=NULL: dbias", db2, db, OC, 1e-6);
                mm_backward(ref, dinp2, NULL, NULL, c.R, c.inp, c.w, N, IC, OC, c.layout);
                snprintf(what, sizeof what, "%s %s dw=dbias=NULL: dinp", nm, ln);
                CLOSE(what, dinp2, dinp, (size_t)N * IC, 1e-6);
                free(c.inp), free(c.w), free(bias), free(c.R), free(c.out), free(dinp), free(dw), free(db);
                free(dinp2), free(dw2), free(db2);
            }
}

// matmul backward: dw and dbias accumulate, dinp is overwritten; both versions.
TEST(kernels_matmul_backward_conventions) {
    trng_t r = {72};
    int N = 9, IC = 13, OC = 70;
    float *inp = frand(&r, (size_t)N * IC, -1, 1), *w = frand(&r, (size_t)IC * OC, -1, 1);
    float *dout = frand(&r, (size_t)N * OC, -1, 1);
    float *pre_w = frand(&r, (size_t)IC * OC, -3, 3), *pre_b = frand(&r, OC, -3, 3);
    for (int ref = 0; ref < 2; ref++)
        for (int lay = 0; lay < 2; lay++) {
            float *dx0 = falloc((size_t)N * IC), *dw0 = falloc((size_t)IC * OC), *db0 = falloc(OC);
            float *dx1 = falloc((size_t)N * IC), *dw1 = fdup(pre_w, (size_t)IC * OC), *db1 = fdup(pre_b, OC);
            ffill(dx1, (size_t)N * IC, -4.0f);
            mm_backward(ref, dx0, dw0, db0, dout, inp, w, N, IC, OC, (wlayout_t)lay);
            mm_backward(ref, dx1, dw1, db1, dout, inp, w, N, IC, OC, (wlayout_t)lay);
            float *ew = plus(pre_w, dw0, (size_t)IC * OC), *eb = plus(pre_b, db0, OC);
            char what[96];
            snprintf(what, sizeof what, "matmul%s layout %d: dinp overwritten", ref ? "_ref" : "", lay);
            CLOSE(what, dx1, dx0, (size_t)N * IC, 1e-6);
            snprintf(what, sizeof what, "matmul%s layout %d: dw accumulates", ref ? "_ref" : "", lay);
            CLOSE(what, dw1, ew, (size_t)IC * OC, 2e-6);
            snprintf(what, sizeof what, "matmul%s layout %d: dbias accumulates", ref ? "_ref" : "", lay);
            CLOSE(what, db1, eb, OC, 2e-6);
            free(dx0), free(dw0), free(db0), free(dx1), free(dw1), free(db1), free(ew), free(eb);
        }
    free(inp), free(w), free(dout), free(pre_w), free(pre_b);
}

TEST(kernels_matmul_fast_vs_ref) {
    trng_t r = {73};
    // N <= MATMUL_SKINNY streams the weights (with 64-, 16-lane and scalar tails); more go to BLAS
    int shapes[][3] = {{1, 1, 1}, {1, 17, 5}, {7, 3, 70}, {8, 200, 37}, {3, 129, 300}, {9, 64, 33},
                       {64, 33, 65}, {130, 64, 96}, {150, 140, 300}};
    for (int s = 0; s < 9; s++)
        for (int lay = 0; lay < 2; lay++)
            for (int hasb = 0; hasb < 2; hasb++) {
                int N = shapes[s][0], IC = shapes[s][1], OC = shapes[s][2];
                size_t ni = (size_t)N * IC, nw = (size_t)IC * OC, no = (size_t)N * OC;
                float *inp = frand(&r, ni, -1, 1), *w = frand(&r, nw, -1, 1), *b = frand(&r, OC, -1, 1);
                float *dout = frand(&r, no, -1, 1), *o1 = falloc(no), *o2 = falloc(no);
                float *dx1 = falloc(ni), *dx2 = falloc(ni), *dw1 = falloc(nw), *dw2 = falloc(nw);
                float *db1 = falloc(OC), *db2 = falloc(OC);
                wlayout_t L = (wlayout_t)lay;
                matmul_forward(o1, inp, w, hasb ? b : NULL, N, IC, OC, L);
                matmul_forward_ref(o2, inp, w, hasb ? b : NULL, N, IC, OC, L);
                matmul_backward(dx1, dw1, hasb ? db1 : NULL, dout, inp, w, N, IC, OC, L);
                matmul_backward_ref(dx2, dw2, hasb ? db2 : NULL, dout, inp, w, N, IC, OC, L);
                // float32 sums of up to 130 terms, relative to the result's magnitude.
                char what[96];
                snprintf(what, sizeof what, "matmul out %dx%dx%d layout %d bias %d", N, IC, OC, lay, hasb);
                CLOSE(what, o1, o2, no, 1e-5 * (1 + maxabs(o2, no)));
                snprintf(what, sizeof what, "matmul dinp %dx%dx%d layout %d", N, IC, OC, lay);
                CLOSE(what, dx1, dx2, ni, 1e-5 * (1 + maxabs(dx2, ni)));
                snprintf(what, sizeof what, "matmul dw %dx%dx%d layout %d", N, IC, OC, lay);
                CLOSE(what, dw1, dw2, nw, 1e-5 * (1 + maxabs(dw2, nw)));
                snprintf(what, sizeof what, "matmul dbias %dx%dx%d layout %d", N, IC, OC, lay);
                CLOSE(what, db1, db2, OC, 1e-5 * (1 + maxabs(db2, OC)));
                free(inp), free(w), free(b), free(dout), free(o1), free(o2), free(dx1), free(dx2), free(dw1);
                free(dw2), free(db1), free(db2);
            }
}

// bf16: round to nearest even, NaN kept; products with bf16 weights equal the float32 product
// with the same (rounded) weights, streamed or blocked through the scratch, on any thread count.
TEST(kernels_bf16) {
    uint32_t in[] = {0x3f800000u, 0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu, 0x7fc00001u, 0x80000001u};
    uint16_t want[] = {0x3f80, 0x3f80, 0x3f82, 0x3f81, 0x7f80, 0x7fc0, 0x8000};
    for (int i = 0; i < 7; i++) {
        float f;
        memcpy(&f, &in[i], sizeof f);
        bf16_t h;
        bf16_from_f32(&h, &f, 1);
        CHECK_MSG(h == want[i], "bf16 of 0x%08x: 0x%04x, want 0x%04x", in[i], h, want[i]);
    }
    float nan;
    uint32_t nb = 0x7f800001u;  // a NaN whose payload sits in the low bits only must stay NaN
    memcpy(&nan, &nb, sizeof nan);
    bf16_t hn;
    bf16_from_f32(&hn, &nan, 1);
    float back;
    bf16_to_f32(&back, &hn, 1);
    CHECK(back != back);

    trng_t r = {91};
    int shapes[][3] = {{1, 70, 33}, {5, 129, 300}, {8, 64, 17}, {9, 300, 2000}, {40, 65, 96}};
    float *scratch = falloc(BF16_SCRATCH + 4096);
    for (int s = 0; s < 5; s++)
        for (int lay = 0; lay < 2; lay++) {
            int N = shapes[s][0], IC = shapes[s][1], OC = shapes[s][2];
            size_t ni = (size_t)N * IC, nw = (size_t)IC * OC, no = (size_t)N * OC;
            float *inp = frand(&r, ni, -1, 1), *w = frand(&r, nw, -1, 1), *b = frand(&r, OC, -1, 1);
            float *o1 = falloc(no), *o2 = falloc(no), *o3 = falloc(no);
            bf16_t *wh = malloc(nw * sizeof *wh);
            bf16_from_f32(wh, w, nw);
            bf16_to_f32(w, wh, nw);  // w is now exactly the bf16 weights
            wlayout_t L = (wlayout_t)lay;
            matmul_forward_bf16(o1, inp, wh, b, N, IC, OC, L, scratch);
            matmul_forward_ref(o2, inp, w, b, N, IC, OC, L);
            char what[96];
            snprintf(what, sizeof what, "bf16 matmul %dx%dx%d layout %d", N, IC, OC, lay);
            CLOSE(what, o1, o2, no, 1e-5 * (1 + maxabs(o2, no)));
            int threads = omp_get_max_threads();
            omp_set_num_threads(1);
            matmul_forward_bf16(o3, inp, wh, b, N, IC, OC, L, scratch);
            omp_set_num_threads(threads);
            if (N <= MATMUL_SKINNY)  // the streamed products sum in a fixed order
                CHECK_MSG(memcmp(o1, o3, no * sizeof(float)) == 0, "%s differs between thread counts", what);
            free(inp), free(w), free(b), free(o1), free(o2), free(o3), free(wh);
        }
    free(scratch);
}

// ---- cross-entropy -----------------------------------------------------------------------------

typedef struct {
    float *logits, *losses, *lse, *dloss;
    int32_t *tgt;
    int N, V;
} xent_ctx;

static double xent_loss(void *p) {
    xent_ctx *c = p;
    xent_forward(c->losses, c->lse, c->logits, c->tgt, c->N, c->V);
    return dotd(c->losses, c->dloss, c->N);
}

TEST(kernels_xent) {
    trng_t r = {81};
    xent_ctx c = {.N = 5, .V = 23};
    size_t NV = (size_t)c.N * c.V;
    c.logits = frand(&r, NV, -3, 3);
    c.losses = falloc(c.N);
    c.lse = falloc(c.N);
    c.dloss = frand(&r, c.N, 0.1f, 2.0f);  // per-row weights, not all 1
    c.dloss[2] = 0.0f;
    int32_t tgt[5] = {0, 22, 7, 7, 13};
    c.tgt = tgt;
    // Forward against log-sum-exp in double.
    xent_loss(&c);
    for (int row = 0; row < c.N; row++) {
        const float *z = c.logits + (size_t)row * c.V;
        double mx = z[0], s = 0;
        for (int i = 1; i < c.V; i++) mx = fmax(mx, z[i]);
        for (int i = 0; i < c.V; i++) s += exp(z[i] - mx);
        double lse = mx + log(s);
        CHECK_NEAR(c.lse[row], lse, 1e-6 * fabs(lse) + 1e-6);
        CHECK_NEAR(c.losses[row], lse - z[tgt[row]], 1e-5 * fabs(lse) + 1e-6);
    }
    float *lse2 = falloc(c.N);
    xent_forward(NULL, lse2, c.logits, tgt, c.N, c.V);  // losses may be NULL
    SAME_BITS("xent lse with losses=NULL", lse2, c.lse, c.N);
    // Backward (in place) against finite differences of sum(dloss * losses).
    float *g = fdup(c.logits, NV);
    xent_backward(g, c.lse, tgt, c.dloss, c.N, c.V);
    GRADCHECK("xent dlogits", xent_loss, &c, c.logits, g, NV, NULL, 0, 1e-2f, 2e-3, 1e-4);
    // Rows of dlogits sum to 0 (softmax sums to 1), scaled by dloss.
    for (int row = 0; row < c.N; row++) {
        double s = 0;
        for (int i = 0; i < c.V; i++) s += g[(size_t)row * c.V + i];
        CHECK_NEAR(s, 0.0, 1e-6);
    }
    // Shift invariance with large logits (expf(90) overflows float32 without the max shift):
    // losses and dlogits of logits + 90 match those of logits, up to float32 resolution at 90.
    float *big = fdup(c.logits, NV), *losses2 = falloc(c.N);
    for (size_t i = 0; i < NV; i++) big[i] += 90.0f;
    xent_forward(losses2, lse2, big, tgt, c.N, c.V);
    xent_backward(big, lse2, tgt, c.dloss, c.N, c.V);
    xent_loss(&c);
    CLOSE("xent losses of logits + 90", losses2, c.losses, c.N, 3e-5);
    CLOSE("xent dlogits of logits + 90", big, g, NV, 3e-5);
    free(c.logits), free(c.losses), free(c.lse), free(c.dloss), free(lse2), free(g), free(big), free(losses2);
}

// ---- embeddings ---------------------------------------------------------------------------------

typedef struct {
    float *wte, *wpe, *out, *R;
    const int32_t *tok;
    int B, T, C;
} emb_ctx;

static double emb_loss(void *p) {
    emb_ctx *c = p;
    embed_forward(c->out, c->tok, c->wte, c->wpe, c->B, c->T, c->C);
    return dotd(c->out, c->R, (size_t)c->B * c->T * c->C);
}

TEST(kernels_embed) {
    trng_t r = {91};
    enum { B = 2, T = 5, C = 6, V = 7 };
    static const int32_t tok[B * T] = {1, 3, 1, 1, 6, 3, 3, 0, 1, 6};  // repeats; token 2, 4, 5 unused
    for (int haspe = 0; haspe < 2; haspe++) {
        emb_ctx c = {.tok = tok, .B = B, .T = T, .C = C};
        c.wte = frand(&r, V * C, -1, 1);
        float *wpe = frand(&r, T * C, -1, 1);
        c.wpe = haspe ? wpe : NULL;
        c.out = falloc(B * T * C);
        c.R = frand(&r, B * T * C, -1, 1);
        emb_loss(&c);
        float *ref = falloc(B * T * C);
        for (int bt = 0; bt < B * T; bt++)
            for (int i = 0; i < C; i++)
                ref[bt * C + i] = c.wte[tok[bt] * C + i] + (haspe ? wpe[(bt % T) * C + i] : 0.0f);
        SAME_BITS(haspe ? "embed forward with wpe" : "embed forward without wpe", c.out, ref, B * T * C);
        // Accumulates: pre-filled gradients plus the gradient.
        float *pre_te = frand(&r, V * C, -3, 3), *pre_pe = frand(&r, T * C, -3, 3);
        float *dte0 = falloc(V * C), *dpe0 = falloc(T * C), *dte1 = fdup(pre_te, V * C), *dpe1 = fdup(pre_pe, T * C);
        embed_backward(dte0, haspe ? dpe0 : NULL, c.R, tok, B, T, C);
        embed_backward(dte1, haspe ? dpe1 : NULL, c.R, tok, B, T, C);
        GRADCHECK(haspe ? "embed dwte (wpe)" : "embed dwte (no wpe)", emb_loss, &c, c.wte, dte0, V * C, NULL, 0, 1e-2f,
                  1e-3, 1e-5);
        if (haspe) GRADCHECK("embed dwpe", emb_loss, &c, wpe, dpe0, T * C, NULL, 0, 1e-2f, 1e-3, 1e-5);
        float *ete = plus(pre_te, dte0, V * C), *epe = plus(pre_pe, dpe0, T * C);
        CLOSE("embed dwte accumulates", dte1, ete, V * C, 1e-6);
        if (haspe) CLOSE("embed dwpe accumulates", dpe1, epe, T * C, 1e-6);
        else SAME_BITS("embed dwpe untouched", dpe0, (float[T * C]){0}, T * C);
        // dwte also works with dwte = NULL (only positions).
        if (haspe) {
            float *dpe2 = falloc(T * C);
            embed_backward(NULL, dpe2, c.R, tok, B, T, C);
            CLOSE("embed dwte=NULL: dwpe", dpe2, dpe0, T * C, 1e-6);
            free(dpe2);
        }
        free(c.wte), free(wpe), free(c.out), free(c.R), free(ref), free(pre_te), free(pre_pe);
        free(dte0), free(dpe0), free(dte1), free(dpe1), free(ete), free(epe);
    }
}

// ---- sumsq ---------------------------------------------------------------------------------------

TEST(kernels_sumsq) {
    trng_t r = {101};
    size_t n = 9 * 65536 + 1234;  // ten chunks, the last one partial
    float *x = falloc(n);
    for (size_t i = 0; i < n; i++) x[i] = trng_unif(&r, -1, 1) * powf(10.0f, trng_unif(&r, -3, 3));
    double ref = 0;
    for (size_t i = 0; i < n; i++) ref += (double)x[i] * x[i];
    int old = omp_get_max_threads();
    omp_set_num_threads(1);
    double s1 = sumsq(x, n);
    omp_set_num_threads(2);
    double s2 = sumsq(x, n);
    omp_set_num_threads(old);
    CHECK_NEAR(s1, ref, 1e-12 * ref);
    CHECK_MSG(memcmp(&s1, &s2, sizeof s1) == 0, "sumsq 1 thread %.17g != 2 threads %.17g", s1, s2);
    CHECK(sumsq(x, 0) == 0.0);
    CHECK(sumsq(x, 3) == (double)x[0] * x[0] + (double)x[1] * x[1] + (double)x[2] * x[2]);
    free(x);
}

// ---- adamw ---------------------------------------------------------------------------------------

TEST(kernels_adamw_hand_computed) {
    // lr 0.1, b1 0.9, b2 0.999, eps 0.01, wd 0.1, gscale 0.5; g is halved before use.
    // Step 1 (bc1 = 0.1, bc2 = 0.001):
    //   p0 =  1.0, g = 0.4 -> 0.2: m = 0.02, v = 4e-5, m/bc1 = 0.2, v/bc2 = 0.04,
    //        update 0.2 / (0.2 + 0.01) = 0.952380952; p = 1 - 0.1 (0.952380952 + 0.1 * 1) = 0.894761905
    //   p1 = -0.5, g = 0: m = v = 0, update 0 / (0 + 0.01) = 0; p = -0.5 - 0.1 (0.1 * -0.5) = -0.495
    //   p2 =  2.0, g = -2 -> -1: m = -0.1, v = 0.001, m/bc1 = -1, v/bc2 = 1,
    //        update -1 / 1.01 = -0.990099010; p = 2 - 0.1 (-0.990099010 + 0.2) = 2.079009901
    // Step 2 (bc1 = 0.19, bc2 = 0.001999):
    //   p0: g = -0.2 -> -0.1: m = 0.018 - 0.01 = 0.008, v = 3.996e-5 + 1e-5 = 4.996e-5,
    //       m/bc1 = 0.0421052632, v/bc2 = 0.0249924962, sqrt = 0.158090152,
    //       update 0.0421052632 / 0.168090152 = 0.250492147; p = 0.894761905 - 0.1 (0.250492147 + 0.0894761905)
    //       = 0.860765071
    //   p1: g = 0.6 -> 0.3: m = 0.03, v = 9e-5, m/bc1 = 0.157894737, v/bc2 = 0.0450225113, sqrt = 0.212185083,
    //       update 0.157894737 / 0.222185083 = 0.710645070; p = -0.495 - 0.1 (0.710645070 - 0.0495) = -0.561114507
    //   p2: g = -1 -> -0.5: m = -0.09 - 0.05 = -0.14, v = 0.000999 + 0.00025 = 0.001249,
    //       m/bc1 = -0.736842105, v/bc2 = 0.624812406, sqrt = 0.790450762,
    //       update -0.736842105 / 0.800450762 = -0.920533955; p = 2.079009901 - 0.1 (-0.920533955 + 0.207900990)
    //       = 2.150273197
    float p[3] = {1.0f, -0.5f, 2.0f}, m[3] = {0}, v[3] = {0};
    float g1[3] = {0.4f, 0.0f, -2.0f}, g2[3] = {-0.2f, 0.6f, -1.0f};
    const float lr = 0.1f, b1 = 0.9f, b2 = 0.999f, eps = 0.01f, wd = 0.1f, gs = 0.5f;
    adamw_step(p, g1, m, v, 3, lr, b1, b2, eps, wd, 1.0f - b1, 1.0f - b2, gs);
    CHECK_NEAR(p[0], 0.894761905, 1e-6);
    CHECK_NEAR(p[1], -0.495, 1e-6);
    CHECK_NEAR(p[2], 2.079009901, 1e-6);
    CHECK_NEAR(m[0], 0.02, 1e-8);
    CHECK_NEAR(m[1], 0.0, 0.0);
    CHECK_NEAR(m[2], -0.1, 1e-7);
    // 1 - 0.999f is 0.00099998713 in float32: v carries a 1.3e-5 relative error.
    CHECK_NEAR(v[0], 4e-5, 4e-5 * 3e-5);
    CHECK_NEAR(v[1], 0.0, 0.0);
    CHECK_NEAR(v[2], 0.001, 0.001 * 3e-5);
    adamw_step(p, g2, m, v, 3, lr, b1, b2, eps, wd, 1.0f - b1 * b1, 1.0f - b2 * b2, gs);
    CHECK_NEAR(m[0], 0.008, 1e-8);
    CHECK_NEAR(m[1], 0.03, 1e-8);
    CHECK_NEAR(m[2], -0.14, 1e-7);
    CHECK_NEAR(v[0], 4.996e-5, 4.996e-5 * 3e-5);
    CHECK_NEAR(v[1], 9e-5, 9e-5 * 3e-5);
    CHECK_NEAR(v[2], 0.001249, 0.001249 * 3e-5);
    // bc2 = 1 - 0.999^2 in float32 carries ~1e-5 relative error, hence 2e-6 on p.
    CHECK_NEAR(p[0], 0.860765071, 2e-6);
    CHECK_NEAR(p[1], -0.561114507, 2e-6);
    CHECK_NEAR(p[2], 2.150273197, 2e-6);
}

// ---- thread-count independence ----------------------------------------------------------------

TEST(kernels_backward_deterministic_across_threads) {
    trng_t r = {111};
    int N = 300, C = 200, old = omp_get_max_threads();
    size_t NC = (size_t)N * C;
    float *x = frand(&r, NC, -2, 2), *w = frand(&r, C, 0.5f, 1.5f), *b = frand(&r, C, -1, 1);
    float *dy = frand(&r, NC, -1, 1), *out = falloc(NC), *mean = falloc(N), *rstd = falloc(N);
    float *dx[2], *dw[2], *db[2];
    // layernorm and rmsnorm
    for (int rms = 0; rms < 2; rms++) {
        for (int k = 0; k < 2; k++) {
            omp_set_num_threads(k + 1);
            dx[k] = falloc(NC), dw[k] = falloc(C), db[k] = falloc(C);
            if (rms) {
                rmsnorm_forward(out, rstd, x, w, N, C, 1e-5f);
                rmsnorm_backward(dx[k], dw[k], dy, x, w, rstd, N, C);
            } else {
                layernorm_forward(out, mean, rstd, x, w, b, N, C, 1e-5f);
                layernorm_backward(dx[k], dw[k], db[k], dy, x, w, mean, rstd, N, C);
            }
        }
        omp_set_num_threads(old);
        SAME_BITS(rms ? "rmsnorm dinp 1 vs 2 threads" : "layernorm dinp 1 vs 2 threads", dx[0], dx[1], NC);
        SAME_BITS(rms ? "rmsnorm dw 1 vs 2 threads" : "layernorm dw 1 vs 2 threads", dw[0], dw[1], C);
        if (!rms) SAME_BITS("layernorm db 1 vs 2 threads", db[0], db[1], C);
        for (int k = 0; k < 2; k++) free(dx[k]), free(dw[k]), free(db[k]);
    }
    // embed: many repeated tokens
    {
        int B = 4, T = 75, V = 9;
        int32_t *tok = malloc(sizeof(int32_t) * B * T);
        if (!tok) abort();
        for (int i = 0; i < B * T; i++) tok[i] = trng_below(&r, V);
        float *d = frand(&r, (size_t)B * T * C, -1, 1), *dte[2], *dpe[2];
        for (int k = 0; k < 2; k++) {
            omp_set_num_threads(k + 1);
            dte[k] = falloc((size_t)V * C), dpe[k] = falloc((size_t)T * C);
            embed_backward(dte[k], dpe[k], d, tok, B, T, C);
        }
        omp_set_num_threads(old);
        SAME_BITS("embed dwte 1 vs 2 threads", dte[0], dte[1], (size_t)V * C);
        SAME_BITS("embed dwpe 1 vs 2 threads", dpe[0], dpe[1], (size_t)T * C);
        for (int k = 0; k < 2; k++) free(dte[k]), free(dpe[k]);
        free(tok), free(d);
    }
    // matmul: dbias is summed by manabi in a fixed order (1 vs 2 threads); the products go to
    // OpenBLAS, whose threads split the work by the thread count, so they are only required to
    // repeat exactly for the same thread count.
    {
        int IC = 96, OC = 300;
        float *inp = frand(&r, (size_t)N * IC, -1, 1), *dout = frand(&r, (size_t)N * OC, -1, 1);
        float *wm = frand(&r, (size_t)IC * OC, -1, 1), *bm = frand(&r, OC, -1, 1);
        for (int lay = 0; lay < 2; lay++) {
            float *o[3], *dbs[3];
            for (int k = 0; k < 3; k++) {
                omp_set_num_threads(k == 0 ? 1 : 2);
                dw[k % 2] = falloc((size_t)IC * OC), dbs[k] = falloc(OC);
                dx[k % 2] = falloc((size_t)N * IC), o[k] = falloc((size_t)N * OC);
                matmul_backward(dx[k % 2], dw[k % 2], dbs[k], dout, inp, wm, N, IC, OC, (wlayout_t)lay);
                matmul_forward(o[k], inp, wm, bm, N, IC, OC, (wlayout_t)lay);
                if (k == 0) free(dw[0]), free(dx[0]);  // runs 1 and 2 (both 2 threads) are compared
            }
            omp_set_num_threads(old);
            SAME_BITS(lay ? "matmul dw (W_IN_OUT), two runs" : "matmul dw (W_OUT_IN), two runs", dw[1], dw[0],
                      (size_t)IC * OC);
            SAME_BITS("matmul dbias 1 vs 2 threads", dbs[0], dbs[1], OC);
            SAME_BITS("matmul dinp, two runs", dx[1], dx[0], (size_t)N * IC);
            SAME_BITS("matmul out, two runs", o[1], o[2], (size_t)N * OC);
            for (int k = 0; k < 3; k++) free(dbs[k]), free(o[k]);
            free(dw[0]), free(dw[1]), free(dx[0]), free(dx[1]);
        }
        free(inp), free(dout), free(wm), free(bm);
    }
    // attention (fast), GQA: forward and backward
    {
        int B = 2, T = 70, NH = 4, NKV = 2, HS = 8, QKV = (NH + 2 * NKV) * HS;
        size_t nqkv = (size_t)B * T * QKV, nout = (size_t)B * T * NH * HS, natt = (size_t)B * NH * T * T;
        float *qkv = frand(&r, nqkv, -2, 2), *d = frand(&r, nout, -1, 1), *o[2], *a[2], *dq[2];
        omp_set_num_threads(2);
        float *scratch = falloc(attention_scratch_floats(T));
        for (int k = 0; k < 2; k++) {
            omp_set_num_threads(k + 1);
            o[k] = falloc(nout), a[k] = falloc(natt), dq[k] = falloc(nqkv);
            attention_forward(o[k], a[k], qkv, B, T, NH, NKV, HS);
            attention_backward(dq[k], scratch, d, a[k], qkv, B, T, NH, NKV, HS);
        }
        omp_set_num_threads(old);
        SAME_BITS("attention out 1 vs 2 threads", o[0], o[1], nout);
        SAME_BITS("attention dqkv 1 vs 2 threads", dq[0], dq[1], nqkv);
        for (int k = 0; k < 2; k++) free(o[k]), free(a[k]), free(dq[k]);
        free(qkv), free(d), free(scratch);
    }
    CHECK(omp_get_max_threads() == old);
    free(x), free(w), free(b), free(dy), free(out), free(mean), free(rstd);
}

// residual_forward, including out aliasing a.
TEST(kernels_residual) {
    trng_t r = {121};
    size_t n = 1000;
    float *a = frand(&r, n, -1, 1), *b = frand(&r, n, -1, 1), *out = falloc(n), *ref = plus(a, b, n);
    residual_forward(out, a, b, n);
    SAME_BITS("residual", out, ref, n);
    residual_forward(a, a, b, n);
    SAME_BITS("residual in place", a, ref, n);
    free(a), free(b), free(out), free(ref);
}

#include "kernels/vecmath.h"

// exp_approx against exp in double over the range softmax and the activations use.
TEST(kernels_exp_approx_accuracy) {
    double worst = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
        double ref = exp((double)x), rel = fabs(exp_approx(x) - ref) / ref;
        worst = rel > worst ? rel : worst;
    }
    CHECK_MSG(worst < 3e-7, "exp_approx relative error %.3g", worst);
    CHECK(exp_approx(-1000.0f) < 2e-38f && exp_approx(-1000.0f) >= 0.0f);
    CHECK(isfinite(exp_approx(1000.0f)));
    float x[37];
    for (int i = 0; i < 37; i++) x[i] = 0.1f * (float)(i - 18);
    CHECK(max_of(x, 37) == x[36]);
    double s = 0;
    for (int i = 0; i < 37; i++) s += exp((double)x[i] - 1.0);
    CHECK_NEAR(sum_exp(NULL, x, 37, 1.0f), s, 1e-5 * s);
}
