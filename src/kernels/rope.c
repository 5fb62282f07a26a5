// Rotary position embedding in Hugging Face's rotate-half convention (LlamaRotaryEmbedding):
// the head vector is split in halves x1 = x[:HS/2], x2 = x[HS/2:], and pair (x1[i], x2[i])
// is rotated by angle t * theta^(-2i/HS).
#include <math.h>

#include "kernels/kernels.h"

void rope_table(float *cos_t, float *sin_t, int T, int HS, float theta) {
    int H2 = HS / 2;
    for (int i = 0; i < H2; i++) {
        // Computed as HF does in float32: inv_freq = 1 / theta^(2i/HS), angle = t * inv_freq.
        float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)HS);
        for (int t = 0; t < T; t++) {
            float a = (float)t * inv_freq;
            cos_t[(size_t)t * H2 + i] = cosf(a);
            sin_t[(size_t)t * H2 + i] = sinf(a);
        }
    }
}

// sign = +1 rotates forward, -1 applies the inverse rotation.
static void rotate(float *qkv, const float *cos_t, const float *sin_t, int B, int T, int NH, int NKV, int HS,
                   float sign) {
    int H2 = HS / 2, QKV = (NH + 2 * NKV) * HS, nrot = NH + NKV;  // q heads then k heads
#pragma omp parallel for schedule(static) if ((size_t)B * T * (NH + NKV) * HS >= PARALLEL_MIN)
    for (int bt = 0; bt < B * T; bt++) {
        int t = bt % T;
        const float *c = cos_t + (size_t)t * H2, *s = sin_t + (size_t)t * H2;
        float *row = qkv + (size_t)bt * QKV;
        for (int h = 0; h < nrot; h++) {
            float *x1 = row + (size_t)h * HS, *x2 = x1 + H2;
            for (int i = 0; i < H2; i++) {
                float a = x1[i], b = x2[i], si = sign * s[i];
                x1[i] = a * c[i] - b * si;
                x2[i] = b * c[i] + a * si;
            }
        }
    }
}

void rope_forward(float *qkv, const float *cos_t, const float *sin_t, int B, int T, int NH, int NKV, int HS) {
    rotate(qkv, cos_t, sin_t, B, T, NH, NKV, HS, 1.0f);
}

void rope_backward(float *dqkv, const float *cos_t, const float *sin_t, int B, int T, int NH, int NKV, int HS) {
    rotate(dqkv, cos_t, sin_t, B, T, NH, NKV, HS, -1.0f);
}
