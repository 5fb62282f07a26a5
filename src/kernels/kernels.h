// kernels: the numerical building blocks of the transformer, each a forward/backward pair.
//
// Conventions shared by every kernel here:
//   - Argument order: outputs, saved activations, inputs, weights, then dimensions.
//   - Backward functions ACCUMULATE parameter gradients (dw += ...).  Input gradients are
//     OVERWRITTEN (dinp = ...) unless the comment says "accumulates into dinp"; the norms
//     accumulate so that the residual stream's gradient can flow through one buffer.
//   - Shapes in comments use: N rows (= B*T), B batch, T time, C channels, IC/OC in/out
//     features, V vocabulary, NH query heads, NKV key/value heads, HS head size, F MLP width.
//   - Results are bit-reproducible for a given seed and thread count.  manabi's own reductions
//     over rows run in a fixed order whatever the thread count; the matrix products of
//     matmul_* are OpenBLAS's, whose last bits depend on the thread count (see matmul.c).
//   - Where a plain reference and a fast version exist (matmul, attention), the reference is
//     named *_ref and the tests check one against the other.
#ifndef MANABI_KERNELS_KERNELS_H
#define MANABI_KERNELS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// ---- matmul: a linear layer ------------------------------------------------------------
// Weight layouts: Hugging Face's nn.Linear stores W as (OC, IC) and computes x W^T;
// GPT-2's Conv1D stores W as (IC, OC) and computes x W.  Both are read in place (BLAS
// transposes for free), so checkpoints map 1:1 to the Hugging Face tensors.
typedef enum { W_OUT_IN = 0, W_IN_OUT = 1 } wlayout_t;

// Elementwise and per-row loops smaller than this many values run on the calling thread:
// waking the other threads costs more than it saves (one generated token's rows).
enum { PARALLEL_MIN = 1 << 15 };

// out (N, OC) = inp (N, IC) . W + bias (OC, may be NULL)
void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N, int IC, int OC,
                    wlayout_t layout);
// dinp (N, IC) = dout . W^T (skipped if dinp is NULL); dw += inp^T . dout; dbias += colsum(dout)
// (dw, dbias skipped if NULL: frozen weights).
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                     int N, int IC, int OC, wlayout_t layout);
// C (M, N) = alpha op(A) op(B) + beta C, row-major, op = transpose when ta / tb is set; the
// general product behind the small ones of adapters (LoRA).
void matmul_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc);

// Rows of the input up to which matmul_forward streams the weights itself (a matrix-vector
// product bound by memory bandwidth, as in generation) instead of calling BLAS.
enum { MATMUL_SKINNY = 8 };

// bfloat16: the upper 16 bits of a float32.  Inference can keep its weights in bf16, which
// halves the bytes read per generated token.
typedef uint16_t bf16_t;
// Round to nearest even (NaN stays NaN).
void bf16_from_f32(bf16_t *dst, const float *src, size_t n);
void bf16_to_f32(float *dst, const bf16_t *src, size_t n);
// matmul_forward with bf16 weights (bias in float32).  N <= MATMUL_SKINNY rows stream the
// weights; more convert them in blocks into scratch (max(BF16_SCRATCH, IC, OC) floats) and
// use BLAS.
enum { BF16_SCRATCH = 1 << 18 };
void matmul_forward_bf16(float *out, const float *inp, const bf16_t *w, const float *bias, int N, int IC, int OC,
                         wlayout_t layout, float *scratch);
void matmul_forward_ref(float *out, const float *inp, const float *w, const float *bias, int N, int IC, int OC,
                        wlayout_t layout);
void matmul_backward_ref(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                         const float *w, int N, int IC, int OC, wlayout_t layout);

// ---- embeddings ------------------------------------------------------------------------
// out (B, T, C) = wte[tokens] + wpe[t] (wpe may be NULL: no learned positions)
void embed_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe, int B, int T, int C);
// dwte += scatter(dout), dwpe += sum over B (either may be NULL)
void embed_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens, int B, int T, int C);

// ---- normalisation ---------------------------------------------------------------------
// LayerNorm: out = (x - mean) * rstd * w + b; saves mean (N), rstd (N).
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C, float eps);
// Accumulates into dinp; dw, db += ... (each skipped when NULL: frozen)
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C);
// RMSNorm: out = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps); saves rstd (N).
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C, float eps);
// Accumulates into dinp; dw += ... (skipped when NULL: frozen)
void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                      const float *rstd, int N, int C);

// ---- activations -----------------------------------------------------------------------
// GELU, tanh approximation (GPT-2's "gelu_new"): out (N) = gelu(inp (N))
void gelu_forward(float *out, const float *inp, size_t n);
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
// SwiGLU: inp (N, 2F) holds [gate | up] per row; out (N, F) = silu(gate) * up
void swiglu_forward(float *out, const float *inp, int N, int F);
void swiglu_backward(float *dinp, const float *inp, const float *dout, int N, int F);

// ---- rotary position embedding (Hugging Face rotate-half convention) -------------------
// cos, sin (T, HS/2): angle(t, i) = t / theta^(2i/HS).
void rope_table(float *cos_t, float *sin_t, int T, int HS, float theta);
// Rotates the q and k heads of qkv (B, T, (NH + 2 NKV) HS) in place; v is untouched.
void rope_forward(float *qkv, const float *cos_t, const float *sin_t, int B, int T, int NH, int NKV, int HS);
// The inverse rotation applied to dqkv in place (the rotation is orthogonal).
void rope_backward(float *dqkv, const float *cos_t, const float *sin_t, int B, int T, int NH, int NKV, int HS);

// ---- causal self-attention -------------------------------------------------------------
// qkv (B, T, (NH + 2 NKV) HS): per row, NH query heads, then NKV key heads, then NKV value
// heads.  Query head h attends with key/value head h / (NH / NKV) (grouped-query attention).
// att (B, NH, T, T) saves the softmax probabilities (zero above the diagonal);
// out (B, T, NH HS).  Scale 1/sqrt(HS).
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV, int HS);
// dqkv (B, T, (NH + 2 NKV) HS) = ...; scratch needs attention_scratch_floats(T) floats.
void attention_backward(float *dqkv, float *scratch, const float *dout, const float *att, const float *qkv, int B,
                        int T, int NH, int NKV, int HS);
size_t attention_scratch_floats(int T);
// One head's attention for n query rows over cached keys and values (generation through a KV
// cache): row i attends to positions 0 .. last[i] of K and V.  q (n, ldq), K and V (T, ldk)
// and out (n, ldo) hold rows of HS floats; scores is scratch of n * (max last + 1) floats.
// Four rows or more go through BLAS (single-threaded inside a parallel region: run heads in
// parallel); fewer are dot products.  Scaled by 1 / sqrt(HS).
void attention_cached_forward(float *out, int ldo, float *scores, const float *q, int ldq, const float *K,
                              const float *V, int ldk, const int *last, int n, int HS);
void attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV, int HS);
void attention_backward_ref(float *dqkv, const float *dout, const float *att, const float *qkv, int B, int T,
                            int NH, int NKV, int HS);

// ---- softmax cross-entropy -------------------------------------------------------------
// losses (N) = -log softmax(logits (N, V))[targets]; lse (N) saves the log-sum-exp.
void xent_forward(float *losses, float *lse, const float *logits, const int32_t *targets, int N, int V);
// In place: logits (N, V) becomes dlogits = (softmax - onehot(targets)) * dloss (N).
void xent_backward(float *logits, const float *lse, const int32_t *targets, const float *dloss, int N, int V);

// ---- residual and reductions -------------------------------------------------------------
// out = a + b (out may alias a)
void residual_forward(float *out, const float *a, const float *b, size_t n);
// Sum of squares of x, computed in double in a fixed order (thread-count independent).
double sumsq(const float *x, size_t n);

// ---- optimizer -----------------------------------------------------------------------------
// One AdamW step (Loshchilov & Hutter, decoupled weight decay) over n parameters:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr * (m / bc1 / (sqrt(v / bc2) + eps) + wd * p),  bc1 = 1 - b1^t, bc2 = 1 - b2^t
// g is multiplied by gscale first (gradient clipping).
void adamw_step(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2, float eps,
                float wd, float bc1, float bc2, float gscale);

#endif
