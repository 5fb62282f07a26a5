// Softmax cross-entropy over the vocabulary, fused so that the (N, V) logits buffer is
// turned into its own gradient in place.
#include <math.h>

#include "kernels/kernels.h"

void xent_forward(float *losses, float *lse, const float *logits, const int32_t *targets, int N, int V) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *z = logits + (size_t)r * V;
        float mx = -INFINITY;
        for (int i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
        float s = 0;
        for (int i = 0; i < V; i++) s += expf(z[i] - mx);
        float l = mx + logf(s);
        lse[r] = l;
        if (losses) losses[r] = l - z[targets[r]];
    }
}

void xent_backward(float *logits, const float *lse, const int32_t *targets, const float *dloss, int N, int V) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        float *z = logits + (size_t)r * V;
        float l = lse[r], d = dloss[r];
        for (int i = 0; i < V; i++) z[i] = expf(z[i] - l) * d;
        z[targets[r]] -= d;
    }
}
