// Softmax cross-entropy over the vocabulary, fused so that the (N, V) logits buffer is
// turned into its own gradient in place.
#include <math.h>

#include "kernels/kernels.h"
#include "kernels/vecmath.h"

// log sum_i exp(z_i), max-shifted.
KERNEL_CLONES static float row_logsumexp(const float *z, int V) {
    float mx = max_of(z, V);
    return mx + logf(sum_exp(NULL, z, V, mx));
}

KERNEL_CLONES static void row_softmax_scaled(float *z, int V, float lse, float d) {
    for (int i = 0; i < V; i++) z[i] = exp_approx(z[i] - lse) * d;
}

void xent_forward(float *losses, float *lse, const float *logits, const int32_t *targets, int N, int V) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *z = logits + (size_t)r * V;
        float l = row_logsumexp(z, V);
        lse[r] = l;
        if (losses) losses[r] = l - z[targets[r]];
    }
}

void xent_backward(float *logits, const float *lse, const int32_t *targets, const float *dloss, int N, int V) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        float *z = logits + (size_t)r * V;
        row_softmax_scaled(z, V, lse[r], dloss[r]);
        z[targets[r]] -= dloss[r];
    }
}
